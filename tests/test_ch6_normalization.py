"""ch6.3 Batch Normalization and ch6.4.3 Dropout: book semantics, the PyTorch flags, and every
difference from ``nn.BatchNorm1d``/``nn.BatchNorm2d``/``nn.Dropout`` measured.

The registry pairs (``layers.BatchNormalization[.eval]``, ``layers.Dropout[.eval]``) compare
scratch ↔ zerotorch forward, dx, dγ, dβ and the running statistics in both modes.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import scratch.normalization as sn
import zerotorch.normalization as zn
from scratch.masks import MaskStream
from zerotorch.crosscheck import REGISTRY, Impl, concepts, run_concept, scratch_impl
from zerotorch.crosscheck.compare import assert_stages
from zerotorch.crosscheck.gradcheck import as_function, numerical_layer_stages

concepts()  # fills REGISTRY
TIGHT = {"rtol": 1e-10, "atol": 1e-12}
N, D = 8, 4


def _x(rng, shape=(N, D)):
    return rng.standard_normal(shape) * 2.0 + 1.0


def _t(a):
    return torch.tensor(a, dtype=torch.float64)


# ------------------------------------------------------------------ Batch Normalization


def test_bn_book_defaults(rng):
    layer = sn.BatchNormalization(np.ones(D), np.zeros(D))
    assert layer.momentum == 0.9 and sn.BN_EPS == 1e-6 and zn.BN_EPS == 1e-6
    x = _x(rng)
    layer.forward(x)  # running statistics start at 0: one step leaves 0.1 × the batch's
    np.testing.assert_allclose(layer.running_mean, 0.1 * x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(layer.running_var, 0.1 * x.var(axis=0), rtol=1e-14)
    z = zn.BatchNormalization(np.ones(D), np.zeros(D))
    assert torch.equal(z.running_var, torch.zeros(D, dtype=torch.float64))
    assert z.momentum == 0.9 and z.eps == 1e-6 and not z.unbiased_running_var


def test_bn_pytorch_flags_equal_batchnorm1d_train_and_eval(rng):
    """All four flags on (``BatchNormalization.pytorch``) ⇒ nn.BatchNorm1d, step by step."""
    ours = zn.BatchNormalization.pytorch(D, dtype=torch.float64)
    ref = torch.nn.BatchNorm1d(D, dtype=torch.float64)
    with torch.no_grad():
        g, b = rng.uniform(0.5, 1.5, D), rng.standard_normal(D)
        for m_g, m_b in ((ours.gamma, ours.beta), (ref.weight, ref.bias)):
            m_g.copy_(_t(g))
            m_b.copy_(_t(b))
    for _ in range(20):
        x = _t(_x(rng)).requires_grad_()
        x2 = x.detach().clone().requires_grad_()
        y, y2 = ours(x), ref(x2)
        dout = _t(rng.standard_normal((N, D)))
        y.backward(dout)
        y2.backward(dout)
        torch.testing.assert_close(y, y2, **TIGHT)
        torch.testing.assert_close(x.grad, x2.grad, **TIGHT)
        torch.testing.assert_close(ours.gamma.grad, ref.weight.grad, **TIGHT)
    torch.testing.assert_close(ours.running_mean, ref.running_mean, **TIGHT)
    torch.testing.assert_close(ours.running_var, ref.running_var, **TIGHT)
    ours.eval()
    ref.eval()
    xe = _t(_x(rng))
    torch.testing.assert_close(ours(xe), ref(xe), **TIGHT)
    # and the conversion helper
    conv = zn.BatchNormalization.pytorch(D, dtype=torch.float64).to_builtin()
    assert conv.eps == 1e-5 and conv.momentum == pytest.approx(0.1)


def test_bn_to_batchnorm1d_converts_the_book_momentum(rng):
    book = zn.BatchNormalization(np.ones(D), np.zeros(D), unbiased_running_var=True)
    ref = book.to_builtin()
    assert ref.momentum == pytest.approx(0.1) and ref.eps == 1e-6
    for _ in range(5):
        x = _t(_x(rng))
        torch.testing.assert_close(book(x), ref(x), **TIGHT)
    torch.testing.assert_close(book.running_var, ref.running_var, **TIGHT)


def test_bn_eps_difference_measured(rng):
    """Training forward: book eps 1e-6 vs torch 1e-5. Relative change ≈ (1e-5 − 1e-6)/(2σ²):
    invisible for σ ~ 1, visible for nearly constant activations."""
    x = _x(rng)
    book = sn.BatchNormalization(np.ones(D), np.zeros(D)).forward(x)
    torch_default = F.batch_norm(_t(x), None, None, training=True).numpy()  # eps 1e-5
    gap = np.abs(book - torch_default).max()
    var = x.var(axis=0)
    predicted = np.max(np.abs((x - x.mean(0)) / np.sqrt(var + 1e-6) * (
        1 - np.sqrt((var + 1e-6) / (var + 1e-5)))))
    assert gap == pytest.approx(predicted, rel=1e-6) and 1e-7 < gap < 1e-5
    flat = x * 1e-3  # σ ~ 2e-3: σ² is comparable to eps
    book_f = sn.BatchNormalization(np.ones(D), np.zeros(D)).forward(flat)
    assert np.abs(book_f - F.batch_norm(_t(flat), None, None, training=True).numpy()).max() > 0.5


def test_bn_initial_running_var_difference_after_one_step(rng):
    """Book: running var starts at 0, so after one step it is 0.1·σ², and eval divides by
    √(0.1σ² + eps): activations come out ~3× too large. torch starts at 1."""
    x, xe = _x(rng), _x(rng)
    book = sn.BatchNormalization(np.ones(D), np.zeros(D))
    book.forward(x, train_flg=True)
    torch_like = zn.BatchNormalization(np.ones(D), np.zeros(D), initial_running_var=1.0)
    torch_like(_t(x))
    np.testing.assert_allclose(book.running_var, 0.1 * x.var(axis=0), rtol=1e-12)
    np.testing.assert_allclose(torch_like.running_var.numpy(), 0.9 + 0.1 * x.var(axis=0),
                               rtol=1e-12)
    torch_like.eval()
    gap = np.abs(book.forward(xe, train_flg=False) - torch_like(_t(xe)).detach().numpy()).max()
    # the cause, in closed form: the same centred input divided by two different std's
    centred, var = xe - 0.1 * x.mean(axis=0), x.var(axis=0)
    predicted = np.abs(centred / np.sqrt(0.1 * var + 1e-6)
                       - centred / np.sqrt(0.9 + 0.1 * var + 1e-6)).max()
    assert gap == pytest.approx(predicted, rel=1e-12)
    assert 1.0 < gap < 20.0  # measured 6.85 here (4.12 on other data)
    # the flag on our side reproduces the book exactly
    ours = zn.BatchNormalization(np.ones(D), np.zeros(D))
    ours(_t(x))
    ours.eval()
    np.testing.assert_allclose(ours(_t(xe)).detach().numpy(), book.forward(xe, False), **TIGHT)


def test_bn_biased_running_var_difference_after_200_steps(rng):
    """Book: running var from the biased batch variance (÷N); torch: unbiased (÷(N − 1)).
    Both starting at 0, the ratio is exactly (N − 1)/N at every step; eval differs by ~7 %."""
    book = sn.BatchNormalization(np.ones(D), np.zeros(D))
    unbiased = zn.BatchNormalization(np.ones(D), np.zeros(D), unbiased_running_var=True)
    for _ in range(200):
        x = _x(rng)
        book.forward(x, train_flg=True)
        unbiased(_t(x))
    np.testing.assert_allclose(book.running_var / unbiased.running_var.numpy(), (N - 1) / N,
                               rtol=1e-12)
    unbiased.eval()
    xe = _x(rng)
    gap = np.abs(book.forward(xe, False) - unbiased(_t(xe)).detach().numpy()).max()
    assert 0.01 < gap < 0.5  # measured 0.136 with N = 8 (0.024 on other data)


def test_bn_momentum_conventions_are_each_others_complement(rng):
    """Book momentum 0.9 = fraction kept = torch momentum 0.1 (fraction updated); passing the
    book's 0.9 to torch's convention would update 90 % per step."""
    a = zn.BatchNormalization(np.ones(D), np.zeros(D), momentum=0.9)
    b = zn.BatchNormalization(np.ones(D), np.zeros(D), momentum=0.1, momentum_style="torch")
    c = zn.BatchNormalization(np.ones(D), np.zeros(D), momentum=0.9, momentum_style="torch")
    x = _t(_x(rng))
    for m in (a, b, c):
        m(x)
    torch.testing.assert_close(a.running_mean, b.running_mean, **TIGHT)
    torch.testing.assert_close(c.running_mean, 0.9 * x.mean(0), **TIGHT)
    with pytest.raises(ValueError, match="momentum_style"):
        zn.BatchNormalization(np.ones(D), np.zeros(D), momentum_style="keras")


def test_bn_per_activation_differs_from_batchnorm2d(rng):
    """4-D input: the book normalises each of the C·H·W activations over N; BatchNorm2d each
    channel over N·H·W. Only the flattened BatchNorm1d form matches."""
    x = _x(rng, (N, 3, 2, 2))
    book = sn.BatchNormalization(np.ones(12), np.zeros(12)).forward(x)
    bn2d = torch.nn.BatchNorm2d(3, eps=1e-6, dtype=torch.float64)(_t(x)).detach().numpy()
    bn1d = torch.nn.BatchNorm1d(12, eps=1e-6, dtype=torch.float64)(
        _t(x).reshape(N, -1)).detach().numpy().reshape(x.shape)  # (N, C·H·W) → (N, C, H, W)
    np.testing.assert_allclose(book, bn1d, **TIGHT)
    assert 0.3 < np.abs(book - bn2d).max() < 3.0  # measured 0.78 (~1.25 on other data)


def test_bn_gradient_checks(rng):
    """Numerical (central differences) and torch.autograd.gradcheck on the scratch backward,
    in training and test mode."""
    g, b = rng.uniform(0.5, 1.5, 12), rng.standard_normal(12)
    for train in (True, False):
        layer = sn.BatchNormalization(g.copy(), b.copy(), running_mean=rng.standard_normal(12),
                                      running_var=rng.uniform(0.5, 2, 12))
        x = _x(rng, (5, 3, 2, 2))
        assert_stages("BatchNormalization", numerical_layer_stages(
            layer, x, ("gamma", "beta"), rng, {"train_flg": train}))
        f = as_function(layer, ("gamma", "beta"), {"train_flg": train})
        args = (_t(x).requires_grad_(), _t(g).requires_grad_(), _t(b).requires_grad_())
        assert torch.autograd.gradcheck(f, args)


class BNWithoutMeanTerm(sn.BatchNormalization):
    """Forgets that μ and σ depend on x: dx = γ·dout/σ."""

    def backward(self, dout):
        super().backward(dout)
        return (self.gamma * dout.reshape(dout.shape[0], -1) / self.std).reshape(dout.shape)


class BNUpdatingRunningVarWithStd(sn.BatchNormalization):
    def forward(self, x, train_flg=True):
        out = super().forward(x, train_flg)
        if train_flg:
            self.running_var = self.running_var - (1 - self.momentum) * (self.std ** 2 - 1e-6) \
                + (1 - self.momentum) * self.std
        return out


@pytest.mark.parametrize(("bug", "stage"), [(BNWithoutMeanTerm, "dx"),
                                            (BNUpdatingRunningVarWithStd, "running_var")])
def test_registry_catches_planted_bn_bugs(bug, stage):
    result = run_concept(REGISTRY["layers.BatchNormalization"],
                         Impl("planted", {"layers": type("m", (), {"BatchNormalization": bug})}))
    assert result.status == "FAIL" and result.first_failure().name == stage


def test_bn_batch_of_one_is_degenerate(rng):
    """N = 1: x − μ = 0, so the output is β whatever x is and dx = 0 (why gradient checks of
    BN nets use batches ≥ 2)."""
    layer = sn.BatchNormalization(rng.uniform(0.5, 1.5, D), rng.standard_normal(D))
    x = _x(rng, (1, D))
    np.testing.assert_array_equal(layer.forward(x), layer.beta.reshape(1, D))
    np.testing.assert_array_equal(layer.backward(rng.standard_normal((1, D))), 0.0)
    with pytest.raises(ValueError, match="more than 1 value"):
        torch.nn.BatchNorm1d(D, dtype=torch.float64)(_t(x))


def test_bn_shape_error_names_shapes(rng):
    with pytest.raises(ValueError, match=r"\(4,\).*\(2, 3\)"):
        sn.BatchNormalization(np.ones(4), np.zeros(4)).forward(rng.standard_normal((2, 3)))
    with pytest.raises(ValueError, match=r"\(4,\).*\(2, 3\)"):
        zn.BatchNormalization(np.ones(4), np.zeros(4))(torch.zeros(2, 3, dtype=torch.float64))


# ------------------------------------------------------------------ Dropout


def test_dropout_book_semantics(rng):
    layer = sn.Dropout(0.3, rng=np.random.default_rng(1))
    x = _x(rng, (200, 50))
    y = layer.forward(x, train_flg=True)
    np.testing.assert_array_equal(y, x * layer.mask)  # no rescaling
    assert abs(layer.mask.mean() - 0.7) < 0.01
    np.testing.assert_array_equal(layer.forward(x, train_flg=False), x * 0.7)
    dout = rng.standard_normal(x.shape)
    np.testing.assert_array_equal(layer.backward(dout), dout * 0.7)  # test-mode derivative


def test_dropout_inverted_flag_equals_nn_dropout_with_its_mask(rng):
    """``inverted=True`` + nn.Dropout's own mask ⇒ identical output and gradient; the book's
    (non-inverted) output is exactly (1 − p) × nn.Dropout's in training and in eval."""
    p = 0.4
    x = _t(rng.uniform(0.5, 2.0, (30, 20))).requires_grad_()  # nonzero: the mask is readable
    with torch.random.fork_rng():
        torch.manual_seed(0)
        ref_mod = torch.nn.Dropout(p)
        ref = ref_mod(x)
    mask = ref.detach() != 0
    dout = _t(rng.standard_normal(x.shape))
    (g_ref,) = torch.autograd.grad(ref, x, dout)
    ours = zn.Dropout(p, inverted=True, generator=MaskStream.replay([mask]))
    out = ours(x)
    (g_ours,) = torch.autograd.grad(out, x, dout)
    torch.testing.assert_close(out, ref, **TIGHT)
    torch.testing.assert_close(g_ours, g_ref, **TIGHT)
    book = zn.Dropout(p, generator=MaskStream.replay([mask]))(x)
    torch.testing.assert_close(book, (1 - p) * ref, **TIGHT)
    ref_mod.eval()
    book_eval = zn.Dropout(p).eval()
    torch.testing.assert_close(book_eval(x), (1 - p) * ref_mod(x), **TIGHT)
    assert torch.equal(zn.Dropout(p, inverted=True).eval()(x), x)
    # the size of the difference when the flag is off: p·|x| (here up to 0.4·2 = 0.8)
    gap = (book - ref).abs().max().item()
    assert gap == pytest.approx((p * (x * mask).abs()).max().item() / (1 - p), rel=1e-12)


def test_dropout_mask_sources_and_generators(rng):
    x = torch.ones(4, 5, dtype=torch.float64)
    mask = torch.tensor(rng.random((4, 5)) > 0.5)
    m = zn.Dropout(0.5, generator=MaskStream.replay([mask]))
    torch.testing.assert_close(m(x), mask.double())
    assert torch.equal(m.mask, mask)  # kept as .mask
    with pytest.raises(ValueError, match="every recorded mask has been used"):
        m(x)  # a replay is used once
    # one seeded stream on each side: the same masks, call for call
    s_layer = sn.Dropout(0.5, rng=MaskStream(4))
    z_layer = zn.Dropout(0.5, generator=MaskStream(4))
    for _ in range(3):
        np.testing.assert_array_equal(s_layer.forward(np.ones((4, 5))), z_layer(x).numpy())
    # the book's global np.random.rand draws the same stream inside as_global
    stream, twin = MaskStream(8), zn.Dropout(0.5, generator=MaskStream(8))
    state = np.random.get_state()  # noqa: NPY002
    with stream.as_global():
        book_mask = np.random.rand(4, 5) > 0.5  # noqa: NPY002 (as the book's Dropout draws)
    assert np.random.get_state()[1].tolist() == state[1].tolist()  # noqa: NPY002 (restored)
    np.testing.assert_array_equal(twin(x).numpy() != 0, book_mask)
    a = zn.Dropout(0.5, generator=torch.Generator().manual_seed(3))(x)
    b = zn.Dropout(0.5, generator=torch.Generator().manual_seed(3))(x)
    assert torch.equal(a, b)
    s1 = sn.Dropout(0.5, rng=np.random.default_rng(3)).forward(np.ones((4, 5)))
    s2 = sn.Dropout(0.5, rng=np.random.default_rng(3)).forward(np.ones((4, 5)))
    np.testing.assert_array_equal(s1, s2)
    with pytest.raises(ValueError, match=r"\(2, 2\).*\(4, 5\)"):
        zn.Dropout(0.5, generator=MaskStream.replay([torch.ones(2, 2, dtype=torch.bool)]))(x)
    with pytest.raises(ValueError, match="dropout_ratio"):
        sn.Dropout(1.0)


def test_dropout_gradient_checks(rng):
    for train in (True, False):
        # the same uniforms on every call: every central difference sees one mask
        layer = sn.Dropout(0.3, rng=MaskStream(5, fixed=True))
        assert_stages("Dropout", numerical_layer_stages(layer, rng.standard_normal((4, 6)),
                                                        (), rng, {"train_flg": train}))


def test_registry_catches_inverted_scratch_dropout():
    class InvertedDropout(sn.Dropout):
        def forward(self, x, train_flg=True):
            return super().forward(x, train_flg) / (1 - self.dropout_ratio)

    for name in ("layers.Dropout", "layers.Dropout[eval]"):
        assert run_concept(REGISTRY[name], scratch_impl()).status == "PASS"
        planted = Impl("planted", {"layers": type("m", (), {"Dropout": InvertedDropout})})
        assert run_concept(REGISTRY[name], planted).status == "FAIL"


@pytest.mark.gpu
def test_bn_and_dropout_on_cuda_match_cpu(rng):
    x = _x(rng, (N, 3, 2, 2))
    outs = []
    for device in ("cpu", "cuda"):
        bn = zn.BatchNormalization(np.ones(12), np.zeros(12)).to(device)
        y = bn(_t(x).to(device))
        drop = zn.Dropout(0.5, generator=torch.Generator(device).manual_seed(0)).to(device)
        y2 = drop(y)
        assert y2.device.type == device and drop.mask.device.type == device
        outs.append((y.cpu(), bn.running_var.cpu()))
    torch.testing.assert_close(outs[0][0], outs[1][0], **TIGHT)
    torch.testing.assert_close(outs[0][1], outs[1][1], **TIGHT)
