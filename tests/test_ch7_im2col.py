"""ch7.4.3 im2col / col2im: the book's layout exactly, dtype and memory layout kept, adjoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.convnet import textbook_col2im as book_col2im
from benchmarks.convnet import textbook_im2col as book_im2col
from scratch.util import check_geometry, col2im, conv_output_size, im2col, is_channels_last
from zerotorch import convolution as zconv

# <im2col(x), y> and <x, col2im(y)> add the same products in different orders: they agree to
# float64 rounding of a sum of a few hundred O(1) terms, not bit for bit. That rounding is
# relative to the sum of the terms' magnitudes, not to the sum itself, which may cancel to
# almost nothing (seed 228: terms of size ~1 summing to −1.5e-4).
ADJOINT_RTOL = 1e-12


@st.composite
def geometry(draw):
    n, c = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    fh, fw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    h = draw(st.integers(max(1, fh - 2 * pad), 8))
    w = draw(st.integers(max(1, fw - 2 * pad), 8))
    return n, c, h, w, fh, fw, stride, pad


def test_layout_rows_are_receptive_fields_and_columns_are_c_fh_fw(rng):
    x = rng.standard_normal((2, 3, 5, 4))
    col = im2col(x, 2, 3, stride=1, pad=0)  # oh = 4, ow = 2
    assert col.shape == (2 * 4 * 2, 3 * 2 * 3)
    n, y, xx = 1, 2, 1
    row = col[n * 8 + y * 2 + xx]
    np.testing.assert_array_equal(row, x[n, :, y:y + 2, xx:xx + 3].reshape(-1))


@settings(max_examples=60, deadline=None)
@given(geometry(), st.integers(0, 2**32 - 1))
def test_im2col_col2im_equal_the_book_algorithm_exactly(geo, seed):
    n, c, h, w, fh, fw, s, p = geo
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, h, w))
    col = im2col(x, fh, fw, s, p)
    np.testing.assert_array_equal(col, book_im2col(x, fh, fw, s, p))
    y = rng.standard_normal(col.shape)
    np.testing.assert_array_equal(col2im(y, x.shape, fh, fw, s, p),
                                  book_col2im(y, x.shape, fh, fw, s, p))
    # zerotorch (F.unfold / F.fold) gives the same matrices, bit for bit: F.fold adds the kernel
    # offsets onto each pixel in the same (FH, FW) order as col2im
    np.testing.assert_array_equal(zconv.im2col(torch.from_numpy(x), fh, fw, s, p).numpy(), col)
    np.testing.assert_array_equal(
        zconv.col2im(torch.from_numpy(y), x.shape, fh, fw, s, p).numpy(),
        col2im(y, x.shape, fh, fw, s, p))
    # adjoint: <im2col(x), y> = <x, col2im(y)>
    scale = np.sum(np.abs(col * y))
    np.testing.assert_allclose(np.sum(col * y), np.sum(x * col2im(y, x.shape, fh, fw, s, p)),
                               rtol=0, atol=ADJOINT_RTOL * scale)


def test_dtype_is_kept_and_integers_become_float64(rng):
    x32 = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
    assert im2col(x32, 3, 3, 1, 1).dtype == np.float32
    assert col2im(im2col(x32, 3, 3), x32.shape, 3, 3).dtype == np.float32
    np.testing.assert_array_equal(im2col(x32, 3, 3, 1, 1), book_im2col(x32, 3, 3, 1, 1))
    xi = rng.integers(0, 255, (1, 1, 5, 5)).astype(np.uint8)
    assert im2col(xi, 2, 2).dtype == np.float64
    np.testing.assert_array_equal(im2col(xi, 2, 2), book_im2col(xi, 2, 2))


def test_channels_last_input_gives_identical_columns(rng):
    x = rng.standard_normal((3, 4, 7, 6))
    x_cl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    assert is_channels_last(x_cl) and not is_channels_last(x)
    np.testing.assert_array_equal(im2col(x_cl, 3, 2, 2, 1), im2col(x, 3, 2, 2, 1))


def test_inputs_are_not_modified(rng):
    x = rng.standard_normal((2, 2, 5, 5))
    col = im2col(x, 3, 3, 1, 1)
    x_copy, col_copy = x.copy(), col.copy()
    col2im(col, x.shape, 3, 3, 1, 1)
    im2col(x, 3, 3, 2, 2)
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(col, col_copy)


def test_unfold_autograd_is_col2im(rng):
    x = torch.tensor(rng.standard_normal((2, 3, 6, 5)), requires_grad=True)
    col = zconv.im2col(x, 3, 2, 2, 1)
    up = rng.standard_normal(tuple(col.shape))
    col.backward(torch.from_numpy(up))
    np.testing.assert_array_equal(x.grad.numpy(), col2im(up, x.shape, 3, 2, 2, 1))


def test_output_size_formula():
    assert conv_output_size(28, 5) == 24
    assert conv_output_size(14, 3, 1, 2) == 16  # DeepConvNet's conv 4
    assert conv_output_size(7, 3, 2, 1) == 4  # rounded down like the book's //
    assert check_geometry((1, 1, 7, 6), 3, 2, 2, 1) == (4, 4)


@pytest.mark.parametrize(("args", "message"), [
    (((2, 3, 4), 2, 2, 1, 0), r"expected a 4-D input \(N, C, H, W\), got shape \(2, 3, 4\)"),
    (((1, 1, 4, 4), 5, 2, 1, 0), r"window 5x2 is larger than the padded input 4x4"),
    (((1, 1, 4, 4), 2, 2, 0, 0), r"stride must be a positive integer, got stride=0"),
    (((1, 1, 4, 4), 2, 2, 1, -1), r"pad must be >= 0, got pad=-1"),
    (((1, 1, 4, 4), 2, 2, 1.5, 0), r"stride must be an integer, got stride=1.5"),
    (((1, 1, 4, 4), 2, 2, 1, 1.0), r"pad must be an integer, got pad=1.0"),
    (((1, 1, 4, 4), 2, True, 1, 0), r"filter_w must be an integer, got filter_w=True"),
])
def test_invalid_geometry_raises_the_same_valueerror_on_both_sides(args, message):
    shape, fh, fw, s, p = args
    with pytest.raises(ValueError, match=message) as e_s:
        im2col(np.zeros(shape), fh, fw, s, p)
    with pytest.raises(ValueError, match=message) as e_t:
        zconv.im2col(torch.zeros(shape), fh, fw, s, p)
    assert str(e_s.value) == str(e_t.value)


def test_col2im_rejects_a_col_of_the_wrong_shape():
    msg = r"col has shape \(5, 4\), expected \(4, 4\)"
    with pytest.raises(ValueError, match=msg) as e_s:
        col2im(np.zeros((5, 4)), (1, 1, 3, 3), 2, 2)
    with pytest.raises(ValueError, match=msg) as e_t:
        zconv.col2im(torch.zeros(5, 4), (1, 1, 3, 3), 2, 2)
    assert str(e_s.value) == str(e_t.value)
