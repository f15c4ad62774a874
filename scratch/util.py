"""ch7.4.3 im2col / col2im and the convolution geometry shared by Convolution and Pooling.

Layout (the book's): ``im2col`` turns an (N, C, H, W) batch into a matrix of shape
(N·out_h·out_w, C·FH·FW) whose rows are the receptive fields in (n, y, x) order and whose
columns are ordered (C, FH, FW), so ``col @ W.reshape(FN, -1).T`` is the convolution.

Speed without changing a single number (each output element is a copy or a sum of the same
terms in the same order as the book's loop):
- the output is written directly in its final (N, oh, ow, C, FH, FW) memory order, one strided
  copy per kernel offset, instead of the book's (N, C, FH, FW, oh, ow) buffer plus a transpose;
- the input dtype is kept (the book's ``np.zeros`` buffer silently promotes float32 to float64);
- padding writes into one preallocated buffer instead of ``np.pad``;
- ``col2im`` accumulates into a channels-last buffer, so each kernel offset adds contiguous
  C-blocks, and returns an (N, C, H, W) *view* of it (values identical; memory channels-last).
"""

from __future__ import annotations

import numbers

import numpy as np

from scratch.checks import empty_batch_error


def conv_output_size(input_size: int, filter_size: int, stride: int = 1, pad: int = 0) -> int:
    """ch7.2.4 output size (H + 2P − FH) / S + 1, rounded down like the book's ``//``."""
    return (input_size + 2 * pad - filter_size) // stride + 1


def check_geometry(x_shape, filter_h: int, filter_w: int, stride: int, pad: int,
                   channels: int | None = None, what: str = "convolution") -> tuple[int, int]:
    """ch7.2.4 Validate an (N, C, H, W) input against a window; return (out_h, out_w).

    Raises ``ValueError`` with the same message on the scratch and zerotorch sides (zerotorch
    calls this function), naming the shapes it got and what it expected.
    """
    shape = tuple(int(s) for s in x_shape)
    if len(shape) != 4:
        raise ValueError(f"{what}: expected a 4-D input (N, C, H, W), got shape {shape}")
    for name, value in (("stride", stride), ("pad", pad), ("filter_h", filter_h),
                        ("filter_w", filter_w)):
        # slicing needs integers; F.conv2d would raise a different TypeError for 1.5
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ValueError(f"{what}: {name} must be an integer, got {name}={value!r}")
    if stride < 1:
        raise ValueError(f"{what}: stride must be a positive integer, got stride={stride}")
    if pad < 0:
        raise ValueError(f"{what}: pad must be >= 0, got pad={pad}")
    if filter_h < 1 or filter_w < 1:
        raise ValueError(f"{what}: window must be at least 1x1, got {filter_h}x{filter_w}")
    n, c, h, w = shape
    if n == 0:
        raise empty_batch_error(what, shape)
    if channels is not None and c != channels:
        raise ValueError(f"{what}: input shape {shape} has {c} channels, the filter expects "
                         f"{channels} (filter C)")
    if filter_h > h + 2 * pad or filter_w > w + 2 * pad:
        raise ValueError(f"{what}: window {filter_h}x{filter_w} is larger than the padded input "
                         f"{h + 2 * pad}x{w + 2 * pad} (input shape {shape}, pad={pad})")
    return conv_output_size(h, filter_h, stride, pad), conv_output_size(w, filter_w, stride, pad)


def float_dtype(x) -> np.dtype:
    """ch7.4.3 The dtype results take: a floating ``x`` keeps its own.

    Anything else computes in float64 (as the book's ``np.zeros`` buffers do).
    """
    dt = np.asarray(x).dtype
    return dt if dt.kind in "fc" else np.dtype(np.float64)


def is_channels_last(x: np.ndarray) -> bool:
    """ch7.4.3 Whether an (N, C, H, W) array is stored channels-last ((N, H, W, C) memory)."""
    return x.ndim == 4 and x.shape[1] > 1 and x.transpose(0, 2, 3, 1).flags.c_contiguous


def pad_input(x: np.ndarray, pad: int, value: float = 0.0) -> np.ndarray:
    """ch7.2.2 padding: (N, C, H, W) → (N, C, H + 2P, W + 2P) filled with ``value``.

    A new array (``x`` untouched), or ``x`` itself when ``pad == 0``. The padded array keeps
    the memory layout of ``x`` (channels-last stays channels-last).
    """
    if pad == 0:
        return x
    n, c, h, w = x.shape
    shape = (n, c, h + 2 * pad, w + 2 * pad)
    if is_channels_last(x):
        out = np.full((n, h + 2 * pad, w + 2 * pad, c), value,
                      dtype=float_dtype(x)).transpose(0, 3, 1, 2)  # (N, C, Hp, Wp) view
    else:
        out = np.full(shape, value, dtype=float_dtype(x))
    out[:, :, pad:pad + h, pad:pad + w] = x
    return out


def im2col(input_data: np.ndarray, filter_h: int, filter_w: int, stride: int = 1,
           pad: int = 0) -> np.ndarray:
    """ch7.4.3 im2col: (N, C, H, W) → (N·out_h·out_w, C·FH·FW), columns ordered (C, FH, FW).

    Keeps a floating input's dtype (integers become float64, as in the book).
    """
    out_h, out_w = check_geometry(input_data.shape, filter_h, filter_w, stride, pad,
                                  what="im2col")
    n, c = input_data.shape[:2]
    img = pad_input(input_data, pad)
    col = np.empty((n, out_h, out_w, c, filter_h, filter_w), dtype=float_dtype(input_data))
    src = img.transpose(0, 2, 3, 1)  # (N, Hp, Wp, C) view
    for i in range(filter_h):
        for j in range(filter_w):
            # (N, out_h, out_w, C): the pixels under kernel offset (i, j)
            col[:, :, :, :, i, j] = src[:, i:i + stride * out_h:stride,
                                        j:j + stride * out_w:stride, :]
    return col.reshape(n * out_h * out_w, c * filter_h * filter_w)  # contiguous: no copy


def check_col2im(col_shape, input_shape, filter_h: int, filter_w: int, stride: int,
                 pad: int) -> tuple[int, int, int, int, int, int]:
    """ch7.4.3 Validate col2im's arguments (both sides call this); return (N, C, H, W, oh, ow)."""
    out_h, out_w = check_geometry(input_shape, filter_h, filter_w, stride, pad, what="col2im")
    n, c, h, w = (int(s) for s in input_shape)
    expected = (n * out_h * out_w, c * filter_h * filter_w)
    if tuple(col_shape) != expected:
        raise ValueError(f"col2im: col has shape {tuple(col_shape)}, expected {expected} for "
                         f"input shape {(n, c, h, w)}, filter {filter_h}x{filter_w}, "
                         f"stride={stride}, pad={pad}")
    return n, c, h, w, out_h, out_w


def col2im(col: np.ndarray, input_shape, filter_h: int, filter_w: int, stride: int = 1,
           pad: int = 0) -> np.ndarray:
    """ch7.4.3 col2im, the adjoint of ``im2col``: sums each column entry back onto its pixel.

    ``col``: (N·out_h·out_w, C·FH·FW) → (N, C, H, W) (a channels-last view, same values).
    """
    n, c, h, w, out_h, out_w = check_col2im(col.shape, input_shape, filter_h, filter_w, stride,
                                            pad)
    col6 = col.reshape(n, out_h, out_w, c, filter_h, filter_w)
    img = np.zeros((n, h + 2 * pad, w + 2 * pad, c), dtype=float_dtype(col))  # (N, Hp, Wp, C)
    for i in range(filter_h):
        for j in range(filter_w):
            img[:, i:i + stride * out_h:stride, j:j + stride * out_w:stride, :] += \
                col6[:, :, :, :, i, j]
    return img[:, pad:pad + h, pad:pad + w, :].transpose(0, 3, 1, 2)  # (N, C, H, W) view
