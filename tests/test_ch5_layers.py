"""ch5 layers: the shopping examples, and the book-vs-ours differences, each measured.

Registry pairs (``layers.MulLayer``, ``layers.AddLayer``, ``layers.SoftmaxWithLoss*``…) prove
scratch = zerotorch = built-in. Here: the book's published numbers, and named tests for
``relu_grad(0)`` vs the Relu layer, the book's Relu writing into ``dout`` and the book's
``SoftmaxWithLoss.backward`` ignoring ``dout``, each against a small book-style layer.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from scratch import functions as sf
from scratch import layers as sl
from zerotorch import functional as zF
from zerotorch import nn as znn
from zerotorch.crosscheck import REGISTRY, Impl, run_concept
from zerotorch.crosscheck import pairs as _pairs  # noqa: F401  (fills REGISTRY)


def _shop(mul, add, backward):
    """ch5.4.1–5.4.2: 2 apples at 100, 3 oranges at 150, tax 1.1; returns price and grads."""
    apple, n_apple, orange, n_orange, tax = 100.0, 2.0, 150.0, 3.0, 1.1
    m_apple, m_orange, add_fruit, m_tax = mul(), mul(), add(), mul()
    apples = m_apple.forward(apple, n_apple)
    oranges = m_orange.forward(orange, n_orange)
    total = add_fruit.forward(apples, oranges)
    price = m_tax.forward(total, tax)
    return price, backward(m_apple, m_orange, add_fruit, m_tax, apples, oranges, total)


def test_shopping_example_scratch():
    def backward(m_apple, m_orange, add_fruit, m_tax, *_):
        dtotal, dtax = m_tax.backward(1.0)
        dapples, doranges = add_fruit.backward(dtotal)
        dorange, dn_orange = m_orange.backward(doranges)
        dapple, dn_apple = m_apple.backward(dapples)
        return dapple, dn_apple, dorange, dn_orange, dtax

    price, grads = _shop(sl.MulLayer, sl.AddLayer, backward)
    assert price == pytest.approx(715.0, rel=1e-15)
    np.testing.assert_allclose(grads, [2.2, 110.0, 3.3, 165.0, 650.0], rtol=1e-14)
    # ch5.4.1 apples only: price 220, dapple 2.2, dapple_num 110, dtax 200
    m1, m2 = sl.MulLayer(), sl.MulLayer()
    assert m2.forward(m1.forward(100.0, 2.0), 1.1) == pytest.approx(220.0, rel=1e-15)
    dsub, dtax = m2.backward(1.0)
    np.testing.assert_allclose([*m1.backward(dsub), dtax], [2.2, 110.0, 200.0], rtol=1e-14)


def test_shopping_example_zerotorch_autograd():
    leaves = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in
              dict(apple=100.0, n_apple=2.0, orange=150.0, n_orange=3.0, tax=1.1).items()}
    mul, add = znn.MulLayer(), znn.AddLayer()
    price = mul(add(mul(leaves["apple"], leaves["n_apple"]),
                    mul(leaves["orange"], leaves["n_orange"])), leaves["tax"])
    price.backward()
    assert price.item() == pytest.approx(715.0, rel=1e-15)
    got = [leaves[k].grad.item() for k in ("apple", "n_apple", "orange", "n_orange", "tax")]
    np.testing.assert_allclose(got, [2.2, 110.0, 3.3, 165.0, 650.0], rtol=1e-14)


def test_add_and_mul_backward_return_new_arrays(rng):
    dout = rng.standard_normal((2, 3))
    for layer in (sl.AddLayer(), sl.MulLayer()):
        layer.forward(rng.standard_normal((2, 3)), rng.standard_normal((2, 3)))
        dx, dy = layer.backward(dout)
        assert not np.shares_memory(dx, dout) and not np.shares_memory(dy, dout)


# --- relu_grad(0) vs the Relu layer -----------------------------------------------------------


def test_relu_grad_at_zero_differs_from_relu_layer():
    """relu_grad(0) = 1 (the book's helper); the Relu layer and autograd pass 0 at x = 0.

    Cause: the two use x >= 0 and x > 0; both are subgradients of max(0, x) at 0. Size: exactly
    1 at every x == 0 and nowhere else.
    """
    x = np.array([-2.0, -1e-300, 0.0, 1e-300, 3.0])
    helper = sf.relu_grad(x)
    layer = sl.Relu()
    layer.forward(x)
    from_layer = layer.backward(np.ones_like(x))
    x_t = torch.tensor(x, requires_grad=True)
    torch.relu(x_t).sum().backward()
    np.testing.assert_array_equal(helper, [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(from_layer, [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(x_t.grad.numpy(), from_layer)
    np.testing.assert_array_equal(helper - from_layer, (x == 0).astype(float))
    np.testing.assert_array_equal(zF.relu_grad(torch.tensor(x)).numpy(), helper)
    z = torch.tensor(x, requires_grad=True)
    zF.relu(z).sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), from_layer)


# --- the book's Relu writes into dout ---------------------------------------------------------


class BookStyleRelu:
    """A ReLU layer written the way the book's is: backward zeroes ``dout`` in place."""

    def forward(self, x):
        self.mask = x <= 0
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0  # in place: the caller's array changes
        return dout


def test_book_relu_modifies_dout_ours_does_not(rng):
    x = rng.standard_normal((4, 5))
    dout = rng.standard_normal((4, 5))
    n_masked = int((x <= 0).sum())
    book_dout, our_dout = dout.copy(), dout.copy()
    book, ours = BookStyleRelu(), sl.Relu()
    book.forward(x)
    ours.forward(x)
    dx_book = book.backward(book_dout)
    dx_ours = ours.backward(our_dout)
    np.testing.assert_array_equal(dx_book, dx_ours)  # same gradient
    np.testing.assert_array_equal(our_dout, dout)  # ours left dout alone
    changed = book_dout != dout
    assert changed.sum() == int(((x <= 0) & (dout != 0)).sum()) == n_masked > 0
    assert np.shares_memory(dx_book, book_dout)
    # the registry's "dout unchanged" stage is what reports it for a user's implementation
    result = run_concept(REGISTRY["layers.Relu"],
                         Impl("book-style", {"layers": types.SimpleNamespace(Relu=BookStyleRelu)}))
    assert result.status == "FAIL" and result.first_failure().name == "dout unchanged"


# --- SoftmaxWithLoss.backward and dout --------------------------------------------------------


class BookStyleSoftmaxWithLoss:
    """A loss layer written the way the book's is: backward returns (y − t)/N whatever dout is."""

    def forward(self, x, t):
        self.t, self.y = t, sf.softmax(x)
        return sf.cross_entropy_error(self.y, t)

    def backward(self, dout=1):
        n = self.y.shape[0]
        onehot = self.t if self.t.size == self.y.size else np.eye(self.y.shape[1])[self.t]
        return (self.y - onehot) / n


def test_book_softmax_with_loss_ignores_dout(rng):
    """With dout = 2.5 the book still returns (y − t)/N; ours returns 2.5·(y − t)/N = autograd.

    Size: the book's dx is off by (dout − 1)·(y − t)/N; for dout = 1 (the book's only use)
    both agree exactly.
    """
    x = rng.standard_normal((4, 10)) * 3
    t = rng.integers(0, 10, 4)
    book, ours = BookStyleSoftmaxWithLoss(), sl.SoftmaxWithLoss()
    assert book.forward(x, t) == ours.forward(x, t)
    np.testing.assert_allclose(ours.backward(1), book.backward(1), rtol=1e-15, atol=1e-17)
    dout = 2.5
    dx_book, dx_ours = book.backward(dout), ours.backward(dout)
    x_t = torch.tensor(x, requires_grad=True)
    (dout * F.cross_entropy(x_t, torch.tensor(t))).backward()
    np.testing.assert_allclose(dx_ours, x_t.grad.numpy(), rtol=1e-12, atol=1e-17)
    np.testing.assert_allclose(dx_ours - dx_book, (dout - 1) * book.backward(1), rtol=1e-12,
                               atol=1e-17)
    assert np.abs(dx_ours - dx_book).max() > 0.1
    x_z = torch.tensor(x, requires_grad=True)
    (dout * znn.SoftmaxWithLoss()(x_z, torch.tensor(t))).backward()
    np.testing.assert_allclose(x_z.grad.numpy(), dx_ours, rtol=1e-12, atol=1e-17)
    # graded, the book's layer is recognised as the book's backward (not a bug)
    impl = Impl("book-style", {"layers": types.SimpleNamespace(
        SoftmaxWithLoss=BookStyleSoftmaxWithLoss)})
    assert run_concept(REGISTRY["layers.SoftmaxWithLoss"], impl).status == "PASS"
    result = run_concept(REGISTRY["layers.SoftmaxWithLoss[dout]"], impl)
    assert result.status == "FAIL" and result.first_failure().name == "dx"
    from zerotorch.crosscheck.verdict import grade

    graded = grade(REGISTRY["layers.SoftmaxWithLoss[dout]"], impl)
    assert graded.verdict == "PASS (book)" and "ignores dout" in graded.differs


def test_softmax_with_loss_one_hot_and_1d(rng):
    x = rng.standard_normal((3, 5))
    t = rng.integers(0, 5, 3)
    a, b = sl.SoftmaxWithLoss(), sl.SoftmaxWithLoss()
    assert a.forward(x, t) == b.forward(x, np.eye(5)[t])
    np.testing.assert_array_equal(a.backward(), b.backward())
    c = sl.SoftmaxWithLoss()
    assert c.forward(x[0], t[0]) == pytest.approx(sl.SoftmaxWithLoss().forward(x[:1], t[:1]))
    assert c.backward().shape == (5,)


# --- the layered network and the built-ins ----------------------------------------------------


def test_two_layer_net_to_builtin_gives_same_logits(rng):
    from scratch.two_layer_net import TwoLayerNet as SNet
    from zerotorch.networks import TwoLayerNet as ZNet

    s = SNet(12, 6, 4, weight_init_std=0.5, rng=rng)
    z = ZNet(12, 6, 4, dtype=torch.float64).load_params(s.params)
    x = rng.standard_normal((5, 3, 2, 2))
    seq = z.to_builtin()
    assert isinstance(seq[1], torch.nn.Linear) and seq[1].weight.shape == (6, 12)
    out = seq(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(out, s.predict(x), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(z(torch.tensor(x)).detach().numpy(), out, rtol=1e-12, atol=1e-14)


def test_layered_net_follows_replaced_param_arrays(rng):
    """Replacing an array in ``params`` (not only updating in place) reaches the layers."""
    from scratch.two_layer_net import TwoLayerNet as SNet

    s = SNet(4, 3, 2, rng=rng)
    x = rng.standard_normal((2, 4))
    s.params["b2"] = s.params["b2"] + np.array([5.0, -5.0])
    np.testing.assert_array_equal(s.predict(x).argmax(axis=1), [0, 0])


def test_relu_backward_zeroes_masked_entries_even_for_non_finite_dout():
    """Masked entries get exactly 0 (as the book and torch's threshold_backward), never inf·0."""
    from scratch.layers import Relu

    layer = Relu()
    x = np.array([[-1.0, 0.0, 2.0, -3.0]])
    layer.forward(x)
    dx = layer.backward(np.array([[np.inf, np.nan, 5.0, -np.inf]]))
    np.testing.assert_array_equal(dx, [[0.0, 0.0, 5.0, 0.0]])
    xt = torch.tensor(x, requires_grad=True)
    torch.relu(xt).backward(torch.tensor([[np.inf, np.nan, 5.0, -np.inf]]))
    np.testing.assert_array_equal(xt.grad.numpy(), dx)


def test_affine_to_and_from_nn_linear(rng):
    """The book: Affine's W is (in, out), ``nn.Linear.weight`` is (out, in) = W.T; the
    conversion round-trips exactly and both give the same output and gradients."""
    W, b = rng.standard_normal((12, 5)), rng.standard_normal(5)
    affine = znn.Affine(W, b)
    lin = znn.to_linear(affine)
    assert lin.weight.shape == (5, 12) and lin.weight.dtype == torch.float64
    np.testing.assert_array_equal(lin.weight.detach().numpy(), W.T)
    back = znn.from_linear(lin)
    np.testing.assert_array_equal(back.W.detach().numpy(), W)
    np.testing.assert_array_equal(back.b.detach().numpy(), b)
    x = rng.standard_normal((4, 3, 2, 2))  # (N, C, H, W) → (N, 12) on both
    dout = torch.tensor(rng.standard_normal((4, 5)))
    y_a = affine(torch.tensor(x))
    y_l = lin(torch.tensor(x).reshape(4, -1))
    np.testing.assert_allclose(y_l.detach().numpy(), y_a.detach().numpy(), rtol=1e-14,
                               atol=1e-15)
    y_a.backward(dout)
    y_l.backward(dout)
    np.testing.assert_allclose(lin.weight.grad.numpy(), affine.W.grad.numpy().T, rtol=1e-14,
                               atol=1e-15)
    np.testing.assert_allclose(lin.bias.grad.numpy(), affine.b.grad.numpy(), rtol=1e-14)


def test_affine_shape_error_names_the_shapes(rng):
    W, b = rng.standard_normal((12, 5)), np.zeros(5)
    msg = r"\(4, 3, 2, 3\) flattens to \(4, 18\).*\(12, 5\).*12 features"
    with pytest.raises(ValueError, match=msg):
        sl.Affine(W, b).forward(rng.standard_normal((4, 3, 2, 3)))
    with pytest.raises(ValueError, match=msg):
        znn.Affine(W, b)(torch.tensor(rng.standard_normal((4, 3, 2, 3))))
