"""ch7.5 SimpleConvNet and ch8.1 DeepConvNet: the book's API, shapes, init, dropout convention.

Gradients (three ways) and 50-step Adam trajectories are registry pairs (``networks.*`` in
``zerotorch/crosscheck/pairs/ch7.py``), run by ``tests/test_harness.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scratch.convnet import DeepConvNet, SimpleConvNet
from scratch.masks import MaskStream
from zerotorch.crosscheck.compare import ATOL, RTOL
from zerotorch.networks import convnet as zc

SMALL_DEEP = {"input_dim": (1, 8, 8), "hidden_size": 5, "output_size": 3,
              **{f"conv_param_{i}": {"filter_num": fn} for i, fn in
                 enumerate((2, 2, 3, 3, 4, 4), start=1)}}


# The book's numerical_gradient uses h = 1e-4: O(h²) ≈ 1e-8 truncation on curvature O(1),
# plus rounding eps/h ≈ 1e-12; ReLU kinks within h of a pre-activation would add O(1) errors,
# which the non-zero biases below keep away.
BOOK_H_RTOL = 1e-4
BOOK_H_ATOL = 1e-6


def n_params(params) -> int:
    return sum(int(np.prod(np.shape(v))) for v in params.values())


def test_book_shapes_and_parameter_counts():
    s = SimpleConvNet(rng=np.random.default_rng(0))
    assert {k: v.shape for k, v in s.params.items()} == {
        "W1": (30, 1, 5, 5), "b1": (30,), "W2": (4320, 100), "b2": (100,), "W3": (100, 10),
        "b3": (10,)}
    assert n_params(s.params) == 433_890
    d = DeepConvNet(rng=np.random.default_rng(0))
    assert n_params(d.params) == 123_552
    assert d.params["W7"].shape == (1024, 50) and d.params["W4"].shape == (32, 32, 3, 3)
    z = zc.DeepConvNet()
    assert {k: tuple(p.shape) for k, p in z.book_params().items()} == {
        k: v.shape for k, v in d.params.items()}
    assert sum(p.numel() for p in z.parameters()) == 123_552
    assert list(z.book_params()) == list(d.params)


def std_tolerance(n: int) -> float:
    """Relative tolerance for the sample std of n normal draws: 4 standard errors (1/√(2n))."""
    return 4.0 / np.sqrt(2.0 * n)


def test_init_std_he_for_deep_and_0_01_for_simple():
    d = DeepConvNet(rng=np.random.default_rng(1))
    fan_in = {"W1": 9, "W2": 144, "W3": 144, "W4": 288, "W5": 288, "W6": 576, "W7": 1024,
              "W8": 50}
    z = zc.DeepConvNet(generator=torch.Generator().manual_seed(1))
    zp = {k: p.detach().numpy() for k, p in z.book_params().items()}
    for k, fi in fan_in.items():
        he, tol = np.sqrt(2.0 / fi), std_tolerance(d.params[k].size)
        # He (√(2/fan_in)) and Xavier (√(1/fan_in)) are √2 apart: the tolerance tells them apart
        assert tol < 1 - np.sqrt(0.5), k
        for side, value in (("scratch", d.params[k]), ("zerotorch", zp[k])):
            assert value.std() == pytest.approx(he, rel=tol), (side, k)
    assert not any(zp[k].any() for k in zp if k.startswith("b"))
    assert not any(d.params[k].any() for k in d.params if k.startswith("b"))
    s = SimpleConvNet(rng=np.random.default_rng(1))
    assert s.params["W2"].std() == pytest.approx(0.01, rel=std_tolerance(s.params["W2"].size))
    assert not any(s.params[b].any() for b in ("b1", "b2", "b3"))


def test_explicit_generators_make_construction_reproducible():
    a = DeepConvNet(rng=np.random.default_rng(5))
    b = DeepConvNet(rng=np.random.default_rng(5))
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    za = zc.SimpleConvNet(generator=torch.Generator().manual_seed(3))
    zb = zc.SimpleConvNet(generator=torch.Generator().manual_seed(3))
    for (k, p), q in zip(za.book_params().items(), zb.book_params().values(), strict=True):
        assert torch.equal(p, q), k


def test_accuracy_counts_every_sample_not_only_full_batches(rng):
    net = SimpleConvNet(input_dim=(1, 10, 10), hidden_size=5, output_size=3, rng=rng,
                        conv_param={"filter_num": 2, "filter_size": 3})
    x = rng.standard_normal((7, 1, 10, 10))
    pred = net.predict(x).argmax(axis=1)
    t = pred.copy()
    t[-1] = (t[-1] + 1) % 3  # the last sample (in the partial batch) is wrong
    assert net.accuracy(x, t, batch_size=3) == pytest.approx(6 / 7)
    one_hot = np.eye(3)[t]
    assert net.accuracy(x, one_hot, batch_size=3) == pytest.approx(6 / 7)
    z = zc.SimpleConvNet(input_dim=(1, 10, 10), hidden_size=5, output_size=3,
                         conv_param={"filter_num": 2, "filter_size": 3},
                         dtype=torch.float64).load_params(net.params)
    assert z.accuracy(torch.from_numpy(x), torch.from_numpy(t), batch_size=3) == \
        pytest.approx(6 / 7)
    # the batched labels behind both accuracies: every sample, both sides, same classes
    np.testing.assert_array_equal(net.predict_labels(x, batch_size=3), pred)
    np.testing.assert_array_equal(z.predict_labels(torch.from_numpy(x), batch_size=3).numpy(),
                                  pred)


def test_book_test_time_dropout_vs_torch_convention(rng):
    """Book: dropout multiplies by (1 − p) at test time; nn.Dropout is the identity there."""
    s = DeepConvNet(rng=rng, **SMALL_DEEP)
    z = zc.DeepConvNet(dtype=torch.float64, **SMALL_DEEP).load_params(s.params).eval()
    x = rng.standard_normal((5, 1, 8, 8))
    y_book = s.predict(x, train_flg=False)
    np.testing.assert_allclose(z(torch.from_numpy(x)).detach().numpy(), y_book, rtol=RTOL,
                               atol=ATOL)
    z.set_dropout_convention("torch")
    y_torch = z(torch.from_numpy(x)).detach().numpy()
    # the last dropout scales the logits by 0.5; the first scales the hidden layer (not b8)
    h = s.layers["Relu7"].forward(s.layers["Affine1"].forward(
        _features(s, x)))
    np.testing.assert_allclose(y_torch, h @ s.params["W8"] + s.params["b8"], rtol=RTOL,
                               atol=ATOL)
    np.testing.assert_allclose(y_book, 0.5 * (0.5 * h @ s.params["W8"] + s.params["b8"]),
                               rtol=RTOL, atol=ATOL)
    assert not np.allclose(y_book, y_torch)  # the two conventions really differ
    builtin = z.to_builtin().eval()
    np.testing.assert_allclose(builtin(torch.from_numpy(x)).detach().numpy(), y_torch,
                               rtol=RTOL, atol=ATOL)
    with pytest.raises(ValueError, match="'book' or 'torch'"):
        z.set_dropout_convention("keras")


def _features(net, x):
    for name, layer in net.layers.items():
        if name == "Affine1":
            return x
        x = layer.forward(x)
    raise AssertionError("no Affine1")


def test_predict_train_flg_uses_dropout_and_restores_mode(rng):
    s = DeepConvNet(rng=rng, **SMALL_DEEP)
    x = rng.standard_normal((4, 1, 8, 8))
    s.predict(x, train_flg=True)
    masks = [d.mask.copy() for d in s.dropout_layers]
    z = zc.DeepConvNet(dtype=torch.float64, **SMALL_DEEP).load_params(s.params).eval()
    z.use_masks(MaskStream.replay(masks))
    y_t = z.predict(torch.from_numpy(x), train_flg=True)
    assert not z.training  # predict restores the mode
    s2 = DeepConvNet(rng=rng, **SMALL_DEEP)
    s2.load_params(s.params)
    s2.use_masks(MaskStream.replay(masks))
    np.testing.assert_allclose(y_t.detach().numpy(), s2.predict(x, train_flg=True),
                               rtol=RTOL, atol=ATOL)


def test_load_params_checks_keys_and_shapes(rng):
    s = SimpleConvNet(rng=rng)
    bad = dict(s.params)
    bad["W2"] = np.zeros((10, 100))
    shape = r"SimpleConvNet.load_params: W2 has shape \(10, 100\), expected \(4320, 100\)"
    with pytest.raises(ValueError, match=shape):
        SimpleConvNet(rng=rng).load_params(bad)
    with pytest.raises(ValueError, match=shape):
        zc.SimpleConvNet().load_params(bad)
    missing = {k: v for k, v in s.params.items() if k != "b3"}
    with pytest.raises(KeyError, match=r"missing \['b3'\]"):
        SimpleConvNet(rng=rng).load_params(missing)
    with pytest.raises(KeyError, match=r"missing \['b3'\]"):
        zc.SimpleConvNet().load_params(missing)


def test_float32_training_step_stays_float32(rng):
    net = SimpleConvNet(input_dim=(1, 12, 12), rng=rng, dtype=np.float32,
                        conv_param={"filter_num": 4, "filter_size": 3})
    x = rng.standard_normal((3, 1, 12, 12)).astype(np.float32)
    grads = net.gradient(x, np.array([1, 2, 3]))
    assert all(g.dtype == np.float32 for g in grads.values())
    assert net.predict(x).dtype == np.float32


def test_loss_defaults_to_test_mode_and_gradient_uses_training_mode(rng):
    s = DeepConvNet(rng=rng, **SMALL_DEEP)
    x, t = rng.standard_normal((4, 1, 8, 8)), np.array([0, 1, 2, 0])
    loss = s.loss(x, t)
    assert all(d.mask is None for d in s.dropout_layers)  # test mode: no mask drawn
    assert loss == s.loss(x, t, train_flg=False) == s.last_layer.forward(s.predict(x), t)
    s.gradient(x, t)
    masks = [d.mask for d in s.dropout_layers]
    assert all(m is not None and not m.all() for m in masks)  # training mode: units dropped
    assert s.last_layer.loss != loss  # the gradient's loss is the training-mode one


def test_numerical_gradient_method_agrees_with_backprop(rng):
    net = SimpleConvNet(input_dim=(1, 6, 6), hidden_size=3, output_size=2, rng=rng,
                        weight_init_std=0.5, conv_param={"filter_num": 2, "filter_size": 3})
    for k in net.params:
        if k.startswith("b"):
            net.params[k] = 0.1 * rng.standard_normal(net.params[k].shape)
    x, t = rng.standard_normal((3, 1, 6, 6)), np.array([0, 1, 1])
    num = net.numerical_gradient(x, t)
    grad = net.gradient(x, t)
    for k in net.params:
        np.testing.assert_allclose(grad[k], num[k], rtol=BOOK_H_RTOL, atol=BOOK_H_ATOL, err_msg=k)


def test_save_and_load_params_files_on_both_sides(tmp_path, rng):
    s = SimpleConvNet(input_dim=(1, 10, 10), hidden_size=4, output_size=3, rng=rng,
                      conv_param={"filter_num": 2, "filter_size": 3})
    path = s.save_params(tmp_path / "params.pkl")
    s2 = SimpleConvNet(input_dim=(1, 10, 10), hidden_size=4, output_size=3,
                       rng=np.random.default_rng(99),
                       conv_param={"filter_num": 2, "filter_size": 3}).load_params(str(path))
    x = rng.standard_normal((2, 1, 10, 10))
    np.testing.assert_array_equal(s2.predict(x), s.predict(x))
    s2.params["W1"] += 1.0  # a copy: the source network is untouched
    assert not np.array_equal(s2.params["W1"], s.params["W1"])
    z = zc.SimpleConvNet(input_dim=(1, 10, 10), hidden_size=4, output_size=3,
                         conv_param={"filter_num": 2, "filter_size": 3}, dtype=torch.float64)
    z.load_params(path)
    np.testing.assert_allclose(z(torch.from_numpy(x)).detach().numpy(), s.predict(x), rtol=RTOL,
                               atol=ATOL)
    zpath = z.save_params(tmp_path / "z.npz")
    np.testing.assert_array_equal(
        SimpleConvNet(input_dim=(1, 10, 10), hidden_size=4, output_size=3, rng=rng,
                      conv_param={"filter_num": 2, "filter_size": 3}).load_params(zpath)
        .params["W2"], s.params["W2"])
