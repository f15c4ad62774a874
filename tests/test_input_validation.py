"""Bad input to a public layer or network gets our ValueError, worded the same on both sides.

Each case is run on the scratch side (NumPy) and the zerotorch side (torch) and the two messages
are compared character for character; each message must name what was given.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import scratch.functions as sf
import scratch.layers as sl
import scratch.networks as sn
import zerotorch.functional as zf
import zerotorch.networks as zn
import zerotorch.nn as zl

N, C = 4, 3
SCORES = np.random.default_rng(0).standard_normal((N, C))
PROBS = sf.softmax(SCORES)

BAD_LABELS = {  # labels → a fragment the message must contain
    "negative": (np.array([0, 1, -1, 2]), "label -1 at sample 2 is outside [0, 3)"),
    "too large": (np.array([0, 3, 1, 2]), "label 3 at sample 1 is outside [0, 3)"),
    "fractional": (np.array([0.0, 1.0, 2.0, 3.7]), "label 3.7 at sample 3 is not a whole number"),
    "nan": (np.array([np.nan, 1.0, 2.0, 0.0]), "label nan at sample 0 is not a whole number"),
    "too few": (np.array([1]), "scores have shape (4, 3), labels (1,)"),
    "too many": (np.arange(5) % 3, "scores have shape (4, 3), labels (5,)"),
    "bool": (np.array([True, False, True, False]), "labels have dtype bool"),
}


def messages(scratch_call, torch_call) -> tuple[str, str]:
    """The ValueError message of each side (both must raise one)."""
    got = []
    for call in (scratch_call, torch_call):
        with pytest.raises(ValueError) as info:
            call()
        got.append(str(info.value))
    return got[0], got[1]


def same_message(scratch_call, torch_call, fragment: str) -> None:
    s, z = messages(scratch_call, torch_call)
    assert s == z
    assert fragment in s


@pytest.mark.parametrize("case", sorted(BAD_LABELS))
def test_cross_entropy_error_refuses_bad_labels(case):
    t, fragment = BAD_LABELS[case]
    same_message(lambda: sf.cross_entropy_error(PROBS, t),
                 lambda: zf.cross_entropy_error(torch.tensor(PROBS), torch.tensor(t)),
                 "cross_entropy_error: " + fragment)


@pytest.mark.parametrize("case", sorted(BAD_LABELS))
def test_softmax_with_loss_refuses_bad_labels(case):
    t, fragment = BAD_LABELS[case]
    same_message(lambda: sl.SoftmaxWithLoss().forward(SCORES, t),
                 lambda: zl.SoftmaxWithLoss()(torch.tensor(SCORES), torch.tensor(t)),
                 "SoftmaxWithLoss: " + fragment)


def test_softmax_loss_grad_refuses_bad_labels():
    with pytest.raises(ValueError, match="label -1 at sample 2"):
        sl.softmax_loss_grad(PROBS, BAD_LABELS["negative"][0])


def test_good_labels_still_accepted_in_every_form():
    """Indices of any integer dtype, whole floats, (N, 1) columns and one-hot rows all work."""
    idx = np.array([0, 2, 1, 2])
    ref = sf.cross_entropy_error(PROBS, idx)
    for t in (idx.astype(np.int32), idx.astype(np.uint8), idx.astype(float), idx.reshape(N, 1),
              np.eye(C)[idx]):
        assert sf.cross_entropy_error(PROBS, t) == pytest.approx(ref, rel=1e-15)
        z = zf.cross_entropy_error(torch.tensor(PROBS), torch.tensor(t))
        assert float(z) == pytest.approx(ref, rel=1e-15)


def test_a_single_sample_takes_an_index_or_a_one_hot_row():
    y = PROBS[1]
    assert sf.cross_entropy_error(y, 2) == pytest.approx(sf.cross_entropy_error(y, np.eye(C)[2]))
    same_message(lambda: sf.cross_entropy_error(y, 5),
                 lambda: zf.cross_entropy_error(torch.tensor(y), torch.tensor(5)),
                 "label 5 at sample 0 is outside [0, 3)")


def test_empty_batch_in_the_loss():
    same_message(lambda: sf.cross_entropy_error(np.zeros((0, C)), np.zeros(0, dtype=int)),
                 lambda: zf.cross_entropy_error(torch.zeros(0, C), torch.zeros(0, dtype=int)),
                 "cross_entropy_error: empty batch: input has shape (0, 3)")


# --- networks: one row per network, both sides built alike ------------------------------------

def _nets():
    """(name, scratch net, zerotorch net, input x of 4 samples)."""
    rng = np.random.default_rng(0)
    x_flat = rng.standard_normal((N, 6))
    x_img = rng.standard_normal((N, 1, 10, 10))
    mln = dict(input_size=6, hidden_size_list=[5], output_size=C)
    conv = dict(input_dim=(1, 10, 10), output_size=C)
    return [
        ("SimpleNet", sn.SimpleNet(), zn.SimpleNet(), rng.standard_normal((N, 2))),
        ("TwoLayerNetCh4", sn.TwoLayerNetCh4(6, 5, C), zn.TwoLayerNetCh4(6, 5, C), x_flat),
        ("TwoLayerNet", sn.TwoLayerNet(6, 5, C), zn.TwoLayerNet(6, 5, C), x_flat),
        ("MultiLayerNet", sn.MultiLayerNet(**mln), zn.MultiLayerNet(**mln), x_flat),
        ("MultiLayerNetExtend", sn.MultiLayerNetExtend(**mln, use_batchnorm=True),
         zn.MultiLayerNetExtend(**mln, use_batchnorm=True), x_flat),
        ("SimpleConvNet", sn.SimpleConvNet(**conv), zn.SimpleConvNet(**conv), x_img),
        ("DeepConvNet", sn.DeepConvNet(**conv), zn.DeepConvNet(**conv), x_img),
    ]


NETS = _nets()


def _loss(net, x, t):
    return net.loss(x, t)


@pytest.mark.parametrize("case", ["negative", "fractional", "too few"])
@pytest.mark.parametrize("method", ["loss", "accuracy"])
@pytest.mark.parametrize("row", NETS, ids=[r[0] for r in NETS])
def test_networks_refuse_bad_labels(row, method, case):
    name, s_net, z_net, x = row
    t, fragment = BAD_LABELS[case]
    xt = torch.tensor(x, dtype=torch.get_default_dtype())
    same_message(lambda: getattr(s_net, method)(x, t),
                 lambda: getattr(z_net, method)(xt, torch.tensor(t)),
                 f"{name}.{method}: " + fragment)


def test_accuracy_with_one_label_for_two_samples_is_refused_not_zero():
    _, s_net, z_net, x = NETS[2]
    with pytest.raises(ValueError, match=r"scores have shape \(2, 3\), labels \(1,\)"):
        s_net.accuracy(x[:2], np.array([1]))
    with pytest.raises(ValueError, match=r"scores have shape \(2, 3\), labels \(1,\)"):
        z_net.accuracy(torch.tensor(x[:2], dtype=torch.float32), torch.tensor([1]))


@pytest.mark.parametrize("row", NETS, ids=[r[0] for r in NETS])
def test_networks_refuse_an_empty_batch(row):
    _, s_net, z_net, x = row
    x0 = x[:0]
    s, z = messages(lambda: s_net.loss(x0, np.zeros(0, dtype=int)),
                    lambda: z_net.loss(torch.tensor(x0, dtype=torch.get_default_dtype()),
                                       torch.zeros(0, dtype=torch.int64)))
    assert s == z
    assert "empty batch: input has shape (0, " in s


# --- layers: empty batches and dout shapes ----------------------------------------------------

def test_layers_refuse_an_empty_batch():
    W, b = np.ones((3, 2)), np.zeros(2)
    same_message(lambda: sl.Affine(W, b).forward(np.ones((0, 3))),
                 lambda: zl.Affine(W, b)(torch.ones(0, 3, dtype=torch.float64)),
                 "Affine: empty batch: input has shape (0, 3)")
    g, be = np.ones(3), np.zeros(3)
    same_message(lambda: sl.BatchNormalization(g, be).forward(np.ones((0, 3))),
                 lambda: zl.BatchNormalization(g, be)(torch.ones(0, 3, dtype=torch.float64)),
                 "BatchNormalization: empty batch: input has shape (0, 3)")
    Wc, bc = np.ones((2, 1, 3, 3)), np.zeros(2)
    same_message(lambda: sl.Convolution(Wc, bc).forward(np.ones((0, 1, 5, 5))),
                 lambda: zl.Convolution(Wc, bc)(torch.ones(0, 1, 5, 5, dtype=torch.float64)),
                 "empty batch: input has shape (0, 1, 5, 5)")
    same_message(lambda: sl.Pooling(2, 2, 2).forward(np.ones((0, 1, 4, 4))),
                 lambda: zl.Pooling(2, 2, 2)(torch.ones(0, 1, 4, 4)),
                 "empty batch: input has shape (0, 1, 4, 4)")


def _layer_cases():
    """(name, layer after a forward on an (N, ...) batch, the forward output's shape)."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, 3))
    img = rng.standard_normal((N, 1, 4, 4))
    cases = []

    def after(name, layer, *args, **kw):
        out = layer.forward(*args, **kw)
        cases.append((name, layer, np.shape(out)))

    after("Relu", sl.Relu(), x)
    after("Sigmoid", sl.Sigmoid(), x)
    after("Affine", sl.Affine(rng.standard_normal((3, 2)), np.zeros(2)), x)
    after("MulLayer", sl.MulLayer(), x, x)
    after("AddLayer", sl.AddLayer(), x, x)
    after("BatchNormalization", sl.BatchNormalization(np.ones(3), np.zeros(3)), x)
    after("BatchNormalization", sl.BatchNormalization(np.ones(3), np.zeros(3)), x,
          train_flg=False)
    after("Dropout", sl.Dropout(0.5, rng=np.random.default_rng(0)), x)
    after("Convolution", sl.Convolution(rng.standard_normal((2, 1, 3, 3)), np.zeros(2)), img)
    after("Pooling 2x2", sl.Pooling(2, 2, 2), img)
    after("SoftmaxWithLoss", sl.SoftmaxWithLoss(), x, np.array([0, 1, 2, 0]))
    return cases


LAYERS = _layer_cases()


@pytest.mark.parametrize("name, layer, out_shape", LAYERS,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(LAYERS)])
def test_backward_refuses_a_dout_of_another_shape(name, layer, out_shape):
    """(1, D) would broadcast silently; a transposed or scalar dout would give wrong gradients."""
    wrong = [(1,) + tuple(out_shape[1:]), tuple(out_shape[::-1]) + (1,), (N + 1,)]
    for shape in wrong:
        if shape == tuple(out_shape):
            continue
        with pytest.raises(ValueError) as info:
            layer.backward(np.ones(shape))
        assert str(info.value) == (f"{name}.backward: dout has shape {shape}, expected the "
                                   f"forward output's shape {tuple(out_shape)}")
    layer.backward(np.ones(out_shape) if out_shape else 1)  # the right shape still works


def test_autograd_refuses_a_dout_of_another_shape_on_the_torch_side():
    """The zerotorch layers have no ``backward``: torch's autograd checks ``dout`` itself."""
    x = torch.randn(N, 3, requires_grad=True)
    y = zl.Relu()(x)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        y.backward(torch.ones(1, 3))
