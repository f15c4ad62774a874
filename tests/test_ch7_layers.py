"""ch7.4 Convolution and Pooling: a property-based sweep against F.conv2d / F.max_pool2d.

Every case compares forward, dx, dW, db under a random upstream gradient, float64:
scratch vs zerotorch (both methods) vs the torch built-in.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import scratch.convolution as sconv
from scratch.convolution import Convolution, Pooling
from zerotorch import convolution as zconv
from zerotorch.crosscheck.compare import ATOL, RTOL


def close(actual, expected):
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=RTOL, atol=ATOL)


@st.composite
def conv_case(draw):
    n, c, fn = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    fh, fw = draw(st.integers(1, 4)), draw(st.integers(1, 4))  # non-square kernels included
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, fh - 2 * pad), 9))
    w = draw(st.integers(max(1, fw - 2 * pad), 9))
    return n, c, h, w, fn, fh, fw, stride, pad


@settings(max_examples=60, deadline=None)
@given(conv_case(), st.integers(0, 2**32 - 1))
def test_convolution_sweep_vs_conv2d(case, seed):
    n, c, h, w, fn, fh, fw, s, p = case
    rng = np.random.default_rng(seed)
    x, W, b = (rng.standard_normal((n, c, h, w)), rng.standard_normal((fn, c, fh, fw)),
               rng.standard_normal(fn))
    layer = Convolution(W.copy(), b.copy(), s, p)
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape)
    dout_copy, x_copy = dout.copy(), x.copy()
    dx = layer.backward(dout)
    np.testing.assert_array_equal(dout, dout_copy)
    np.testing.assert_array_equal(x, x_copy)

    xt = torch.tensor(x, requires_grad=True)
    Wt, bt = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    yt = F.conv2d(xt, Wt, bt, stride=s, padding=p)
    yt.backward(torch.from_numpy(dout))
    close(y, yt.detach())
    close(dx, xt.grad)
    close(layer.dW, Wt.grad)
    close(layer.db, bt.grad)
    for method in ("conv2d", "im2col"):
        module = zconv.Convolution(W, b, s, p, method=method)
        xz = torch.tensor(x, requires_grad=True)
        yz = module(xz)
        yz.backward(torch.from_numpy(dout))
        close(yz.detach(), y)
        close(xz.grad, dx)
        close(module.W.grad, layer.dW)
        close(module.b.grad, layer.db)


@st.composite
def pool_case(draw):
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph, pw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.integers(1, 3))
    h, w = draw(st.integers(ph, 8)), draw(st.integers(pw, 8))
    ties = draw(st.booleans())
    return n, c, h, w, ph, pw, stride, ties


@settings(max_examples=60, deadline=None)
@given(pool_case(), st.integers(0, 2**32 - 1))
def test_pooling_sweep_vs_max_pool2d_with_ties(case, seed):
    n, c, h, w, ph, pw, s, ties = case
    rng = np.random.default_rng(seed)
    x = (rng.integers(-1, 2, (n, c, h, w)).astype(np.float64) if ties
         else rng.standard_normal((n, c, h, w)))
    layer = Pooling(ph, pw, s)
    y = layer.forward(x)
    dout = rng.standard_normal(y.shape)
    dx = layer.backward(dout)
    xt = torch.tensor(x, requires_grad=True)
    yt = F.max_pool2d(xt, (ph, pw), s)
    yt.backward(torch.from_numpy(dout))
    close(y, yt.detach())
    close(dx, xt.grad)  # ties: both route the gradient to the first maximum
    for method in ("max_pool2d", "im2col"):
        xz = torch.tensor(x, requires_grad=True)
        yz = zconv.Pooling(ph, pw, s, method=method)(xz)
        yz.backward(torch.from_numpy(dout))
        close(yz.detach(), y)
        close(xz.grad, dx)


def test_pooling_tie_goes_to_the_first_maximum_like_the_book_argmax():
    x = np.array([[[[1.0, 3.0], [3.0, 3.0]]]])  # three equal maxima in one window
    layer = Pooling(2, 2, 2)
    layer.forward(x)
    assert layer.arg_max.item() == 1  # np.argmax([1, 3, 3, 3]) == 1
    dx = layer.backward(np.array([[[[5.0]]]]))
    np.testing.assert_array_equal(dx, [[[[0.0, 5.0], [0.0, 0.0]]]])
    xt = torch.tensor(x, requires_grad=True)
    F.max_pool2d(xt, 2).backward(torch.tensor([[[[5.0]]]], dtype=torch.float64))
    np.testing.assert_array_equal(xt.grad.numpy(), dx)
    xz = torch.tensor(x, requires_grad=True)
    zconv.Pooling(2, 2, 2, method="im2col")(xz).backward(torch.tensor([[[[5.0]]]],
                                                                       dtype=torch.float64))
    np.testing.assert_array_equal(xz.grad.numpy(), dx)


def test_pooling_pads_with_zeros_where_max_pool2d_pads_with_minus_infinity(rng):
    """The book pads with zeros; F.max_pool2d(padding=1) with −inf: an all-negative input
    shows it (border windows give 0 in the book, the largest negative value in torch)."""
    x = -rng.uniform(1.0, 2.0, size=(1, 1, 4, 4))
    book = Pooling(2, 2, stride=2, pad=1).forward(x)  # (1, 1, 3, 3)
    torch_default = F.max_pool2d(torch.from_numpy(x), 2, 2, padding=1).numpy()
    assert book.shape == torch_default.shape == (1, 1, 3, 3)
    differs = book != torch_default
    # the 8 border windows touch the padding; the centre one (rows 1-2, cols 1-2) holds only
    # real pixels, so it agrees
    assert differs.sum() == 8 and not differs[0, 0, 1, 1]
    np.testing.assert_array_equal(book[differs], 0.0)
    assert (torch_default < -1.0).all()
    ours = zconv.Pooling(2, 2, stride=2, pad=1)(torch.from_numpy(x)).numpy()
    np.testing.assert_array_equal(ours, book)
    # Non-negative inputs (e.g. after ReLU) cannot tell the two paddings apart.
    xp = np.abs(x)
    np.testing.assert_array_equal(Pooling(2, 2, 2, 1).forward(xp),
                                  F.max_pool2d(torch.from_numpy(xp), 2, 2, padding=1).numpy())


def test_pooling_output_size_counts_the_padding(rng):
    """The book computes out_h = 1 + (H − PH)/S, ignoring pad: with pad = 1 its im2col yields
    4×4 windows per channel but it reshapes them into 3×3, and NumPy refuses. Ours uses
    (H + 2P − PH)//S + 1 like F.max_pool2d (and zero padding, so the values differ there)."""
    from benchmarks.convnet import TextbookPooling  # the book's Pooling, written out

    x = rng.random((2, 3, 6, 6))  # non-negative: zero and −inf padding agree
    with pytest.raises(ValueError, match="cannot reshape"):
        TextbookPooling(2, 2, stride=2, pad=1).forward(x)
    ours = Pooling(2, 2, 2, pad=1).forward(x)
    assert ours.shape == (2, 3, 4, 4)
    np.testing.assert_array_equal(ours, F.max_pool2d(torch.from_numpy(x), 2, 2,
                                                     padding=1).numpy())
    # without padding the book's layer and ours agree exactly
    np.testing.assert_array_equal(TextbookPooling(2, 2, stride=2).forward(x),
                                  Pooling(2, 2, 2).forward(x))


@pytest.mark.parametrize("method", ["conv2d", "im2col"])
def test_convolution_invalid_geometry_same_valueerror_both_sides(method):
    W, b = np.zeros((2, 3, 3, 3)), np.zeros(2)
    cases = [
        (np.zeros((1, 2, 5, 5)), r"has 2 channels, the filter expects 3"),
        (np.zeros((1, 3, 2, 2)), r"window 3x3 is larger than the padded input 2x2"),
        (np.zeros((3, 5, 5)), r"expected a 4-D input \(N, C, H, W\), got shape \(3, 5, 5\)"),
    ]
    for x, msg in cases:
        with pytest.raises(ValueError, match=msg) as e_s:
            Convolution(W, b).forward(x)
        with pytest.raises(ValueError, match=msg) as e_t:
            zconv.Convolution(W, b, method=method)(torch.from_numpy(x))
        assert str(e_s.value) == str(e_t.value)
        assert "W of shape (2, 3, 3, 3)" in str(e_s.value)
    for kw, msg in (({"stride": 0}, "stride must be a positive integer"),
                    ({"pad": -1}, "pad must be >= 0, got pad=-1"),
                    ({"pad": 0.5}, "pad must be an integer, got pad=0.5")):
        with pytest.raises(ValueError, match=msg) as e_s:
            Convolution(W, b, **kw).forward(np.zeros((1, 3, 5, 5)))
        with pytest.raises(ValueError, match=msg) as e_t:
            zconv.Convolution(W, b, **kw, method=method)(torch.zeros(1, 3, 5, 5,
                                                                     dtype=torch.float64))
        assert str(e_s.value) == str(e_t.value)


@pytest.mark.parametrize("method", ["max_pool2d", "im2col"])
def test_pooling_invalid_geometry_same_valueerror_both_sides(method):
    for x, args, msg in [
        (np.zeros((1, 1, 2, 2)), (3, 3, 1, 0), r"window 3x3 is larger than the padded input 2x2"),
        (np.zeros((1, 4, 4)), (2, 2, 2, 0), r"expected a 4-D input"),
        (np.zeros((1, 1, 4, 4)), (2, 2, -1, 0), r"stride must be a positive integer"),
        (np.zeros((1, 1, 4, 4)), (2, 2, 1.5, 0), r"stride must be an integer, got stride=1.5"),
        (np.zeros((1, 1, 4, 4)), (2, 2, 2, -1), r"pad must be >= 0, got pad=-1"),
    ]:
        with pytest.raises(ValueError, match=msg) as e_s:
            Pooling(*args).forward(x)
        with pytest.raises(ValueError, match=msg) as e_t:
            zconv.Pooling(*args, method=method)(torch.from_numpy(x))
        assert str(e_s.value) == str(e_t.value)
        assert "Pooling" in str(e_s.value)


# float32 keeps 24 bits (eps 6e-8); a 27-term dot product of O(1) values, or a sum of ~80
# gradient terms, rounds to a few 1e-6 relative; 1e-5 is a float32 bound, float16 would miss it.
FLOAT32_TOL = 1e-5


def test_float32_stays_float32_and_matches_float64(rng):
    x = rng.standard_normal((4, 3, 9, 9)).astype(np.float32)
    W = (0.3 * rng.standard_normal((5, 3, 3, 3))).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    conv, pool = Convolution(W, b, 1, 1), Pooling(2, 2, 2)
    y = pool.forward(conv.forward(x))
    assert y.dtype == np.float32
    dout = rng.standard_normal(y.shape).astype(np.float32)
    dx = conv.backward(pool.backward(dout))
    assert dx.dtype == conv.dW.dtype == conv.db.dtype == np.float32
    c64 = Convolution(W.astype(np.float64), b.astype(np.float64), 1, 1)
    p64 = Pooling(2, 2, 2)
    y64 = p64.forward(c64.forward(x.astype(np.float64)))
    dx64 = c64.backward(p64.backward(dout.astype(np.float64)))
    for a, e in ((y, y64), (dx, dx64), (conv.dW, c64.dW), (conv.db, c64.db)):
        np.testing.assert_allclose(a, e, rtol=FLOAT32_TOL, atol=FLOAT32_TOL)


def test_blocked_convolution_equals_one_block(rng, monkeypatch):
    """The layer works on blocks of images (cache-sized); one block gives the same numbers."""
    x = rng.standard_normal((7, 2, 8, 8))
    W, b = rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    dout = rng.standard_normal((7, 3, 8, 8))
    results = []
    for block_bytes in (1, 1 << 30):  # one image per block, then the whole batch
        monkeypatch.setattr(sconv, "BLOCK_BYTES", block_bytes)
        layer = Convolution(W, b, 1, 1)
        results.append((layer.forward(x), layer.backward(dout), layer.dW, layer.db))
    for a, e in zip(*results, strict=True):
        close(a, e)


def test_layers_keep_channels_last_layout_through_a_network(rng):
    """Conv output is an (N, C, H, W) view of channels-last memory; pooling keeps it."""
    x = rng.standard_normal((2, 1, 8, 8))
    conv = Convolution(rng.standard_normal((4, 1, 3, 3)), np.zeros(4), 1, 1)
    y = conv.forward(x)
    assert y.transpose(0, 2, 3, 1).flags.c_contiguous
    p = Pooling(2, 2, 2)
    z = p.forward(y)
    assert z.transpose(0, 2, 3, 1).flags.c_contiguous
    close(z, F.max_pool2d(torch.from_numpy(np.ascontiguousarray(y)), 2).numpy())


def test_pooling_backward_routes_non_finite_gradients_only_to_the_maximum():
    x = np.array([[[[1.0, 2.0], [0.5, 0.0]]]])
    layer = Pooling(2, 2, 2)
    layer.forward(x)
    dx = layer.backward(np.array([[[[np.inf]]]]))
    np.testing.assert_array_equal(dx, [[[[0.0, np.inf], [0.0, 0.0]]]])
    overlapping = Pooling(2, 2, 1)
    overlapping.forward(np.arange(9.0).reshape(1, 1, 3, 3))
    dx = overlapping.backward(np.full((1, 1, 2, 2), np.inf))
    assert np.isinf(dx).sum() == 4 and not np.isnan(dx).any()


def test_torch_gradcheck_judges_the_scratch_backward(rng):
    """``torch.autograd.gradcheck`` on the scratch layers wrapped as autograd functions."""
    from zerotorch.crosscheck.gradcheck import as_function

    conv = Convolution(rng.standard_normal((2, 2, 3, 2)), rng.standard_normal(2), stride=2, pad=1)
    f = as_function(conv, ("W", "b"))
    args = (torch.tensor(rng.standard_normal((2, 2, 5, 4)), requires_grad=True),
            torch.tensor(conv.W, requires_grad=True), torch.tensor(conv.b, requires_grad=True))
    assert torch.autograd.gradcheck(f, args)
    pool = as_function(Pooling(2, 2, 1))
    x = torch.tensor(rng.standard_normal((2, 2, 4, 5)), requires_grad=True)  # no ties
    assert torch.autograd.gradcheck(pool, (x,))


def test_backward_rejects_a_dout_of_the_wrong_shape(rng):
    """A (N, C, 1, 1) dout would broadcast silently over the pooling windows: refused."""
    x = rng.standard_normal((2, 3, 6, 6))
    pool = Pooling(2, 2, 2)
    pool.forward(x)
    with pytest.raises(ValueError, match=r"Pooling 2x2.backward: dout has shape \(2, 3, 1, 1\), "
                                         r"expected the forward output's shape \(2, 3, 3, 3\)"):
        pool.backward(np.ones((2, 3, 1, 1)))
    conv = Convolution(rng.standard_normal((4, 3, 3, 3)), np.zeros(4), stride=1, pad=1)
    conv.forward(x)
    with pytest.raises(ValueError, match=r"Convolution.backward: dout has shape \(2, 4, 6\), "
                                         r"expected the forward output's shape \(2, 4, 6, 6\)"):
        conv.backward(np.ones((2, 4, 6)))
