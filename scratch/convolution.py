"""ch7.4 Convolution and Pooling layers (the book's ``common/layers.py``), NumPy only.

Both keep the input dtype (float32 stays float32) and never modify ``x`` or ``dout``.
"""

from __future__ import annotations

import numpy as np

from scratch.checks import check_dout
from scratch.util import (
    check_geometry,
    col2im,
    float_dtype,
    im2col,
    is_channels_last,
    pad_input,
)

# Images per im2col block: the block's columns stay near this many bytes, so im2col, the
# matrix product and col2im of a block run in cache instead of streaming a (N·oh·ow, C·FH·FW)
# matrix (45 MB for DeepConvNet's second layer at batch 100) through memory nine times.
BLOCK_BYTES = 4 << 20


class Convolution:
    """ch7.4.3 Convolution layer: cross-correlation through ``im2col``.

    Args:
        W: (FN, C, FH, FW) filters; b: (FN,) bias; stride, pad: integers (stride ≥ 1, pad ≥ 0).
    ``forward``: (N, C, H, W) → (N, FN, out_h, out_w). ``backward`` sets ``dW`` (FN, C, FH, FW)
    and ``db`` (FN,) and returns dx (N, C, H, W).

    Exactly the book's algorithm (``col = im2col(x)``; ``out = col @ W.reshape(FN, -1).T + b``;
    ``dW = col.T @ dout``; ``dx = col2im(dout @ W.reshape(FN, -1))``), applied to blocks of
    images (``BLOCK_BYTES``): the matrix products are split by rows, which changes no value
    beyond float rounding, and ``backward`` recomputes each block's columns instead of keeping
    the whole column matrix. Outputs are (N, C, H, W) views of channels-last arrays, which is
    the layout the next im2col, pooling and this backward read fastest.

    ``input_grad = False`` makes ``backward`` skip dx (returning ``None``): a network sets it
    on its first layer, whose dx nobody reads — as autograd skips inputs that need no gradient.
    """

    def __init__(self, W, b, stride: int = 1, pad: int = 0):
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad
        self.input_grad = True
        self.x = None
        self.dW = None
        self.db = None

    def _blocks(self, n: int, out_h: int, out_w: int):
        FN, C, FH, FW = self.W.shape
        per_image = out_h * out_w * C * FH * FW * 8
        step = max(1, BLOCK_BYTES // max(per_image, 1))
        return [slice(i, min(i + step, n)) for i in range(0, n, step)]

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        out_h, out_w = check_geometry(x.shape, FH, FW, self.stride, self.pad, channels=C,
                                      what=f"Convolution with W of shape {tuple(self.W.shape)}")
        N = x.shape[0]
        self.x = x
        col_W = self.W.reshape(FN, -1).T  # (C·FH·FW, FN)
        dtype = np.result_type(float_dtype(x), col_W, self.b)
        out = np.empty((N, out_h * out_w, FN), dtype=dtype)  # (N, oh·ow, FN)
        for blk in self._blocks(N, out_h, out_w):
            col = im2col(x[blk], FH, FW, self.stride, self.pad)  # (n·oh·ow, C·FH·FW)
            np.matmul(col, col_W, out=out[blk].reshape(-1, FN))
        out += self.b
        return out.reshape(N, out_h, out_w, FN).transpose(0, 3, 1, 2)  # (N, FN, oh, ow) view

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        N, _, H, W = self.x.shape
        out_h, out_w = check_geometry(self.x.shape, FH, FW, self.stride, self.pad)
        check_dout("Convolution", dout, (N, FN, out_h, out_w))
        d3 = dout.transpose(0, 2, 3, 1).reshape(N, out_h * out_w, FN)  # (N, oh·ow, FN)
        col_W = self.W.reshape(FN, -1).T  # (C·FH·FW, FN)
        dtype = np.result_type(d3, col_W)
        self.db = d3.sum(axis=(0, 1))  # (FN,)
        dW = np.zeros((C * FH * FW, FN), dtype=dtype)  # (C·FH·FW, FN)
        dx = np.empty((N, H, W, C), dtype=dtype) if self.input_grad else None  # channels-last
        for blk in self._blocks(N, out_h, out_w):
            xb = self.x[blk]
            col = im2col(xb, FH, FW, self.stride, self.pad)  # (n·oh·ow, C·FH·FW)
            db = d3[blk].reshape(-1, FN)  # (n·oh·ow, FN)
            dW += col.T @ db
            if dx is not None:
                dcol = db @ col_W.T  # (n·oh·ow, C·FH·FW)
                dx[blk] = col2im(dcol, xb.shape, FH, FW, self.stride,
                                 self.pad).transpose(0, 2, 3, 1)  # (n, H, W, C)
        self.dW = dW.T.reshape(FN, C, FH, FW)  # (FN, C, FH, FW)
        return None if dx is None else dx.transpose(0, 3, 1, 2)  # (N, C, H, W) view


class Pooling:
    """ch7.4.4 max Pooling layer with the book's semantics, computed without a full im2col.

    Padding is with **zeros** (the book's ``np.pad``; ``F.max_pool2d`` pads with −inf), the
    output size counts the padding ((H + 2P − PH) // S + 1; the book's formula ignores P and so
    fails for P > 0), and on ties the gradient goes to the first maximum in row-major window
    order (the book's ``np.argmax``). The forward pass is an elementwise maximum over the
    PH·PW strided views of the input (one per window offset); ``backward`` finds each window's
    first maximum from the saved input and output. Memory layout (NCHW or channels-last) is kept.
    """

    def __init__(self, pool_h: int, pool_w: int, stride: int = 2, pad: int = 0):
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        self.x_shape = None
        self.out_hw = None
        self.nhwc = False
        self.img = None  # the (padded) input, in its memory order
        self.out = None

    def _windows(self):
        """Yield ((i, j), view): the pixels under window offset (i, j), one per window.

        Views are of ``self.img``, stored in its memory order: (N, C, Hp, Wp), or (N, Hp, Wp, C)
        when the input was channels-last (``self.nhwc``), so every operation runs on
        contiguous inner dimensions.
        """
        s = self.stride
        out_h, out_w = self.out_hw
        for i in range(self.pool_h):
            for j in range(self.pool_w):
                rows, cols = slice(i, i + s * out_h, s), slice(j, j + s * out_w, s)
                yield (i, j), (self.img[:, rows, cols, :] if self.nhwc
                               else self.img[:, :, rows, cols])

    def forward(self, x):
        self.out_hw = check_geometry(x.shape, self.pool_h, self.pool_w, self.stride, self.pad,
                                     what=f"Pooling {self.pool_h}x{self.pool_w}")
        self.x_shape = x.shape
        img = pad_input(x, self.pad)
        self.nhwc = is_channels_last(img)
        self.img = img.transpose(0, 2, 3, 1) if self.nhwc else img  # (N, Hp, Wp, C) or NCHW
        out = None
        for _, v in self._windows():
            out = v.copy() if out is None else np.maximum(out, v, out=out)
        self.out = out
        return out.transpose(0, 3, 1, 2) if self.nhwc else out  # (N, C, oh, ow)

    @property
    def arg_max(self):
        """(N, C, oh, ow) row-major index of each window's first maximum (the book's argmax)."""
        arg = np.zeros(self.out.shape, dtype=np.intp)
        for k, (_, hit) in enumerate(self._first_max()):
            arg[hit] = k
        return arg.transpose(0, 3, 1, 2) if self.nhwc else arg

    def _first_max(self):
        """Yield ((i, j), mask): where offset (i, j) holds its window's first maximum."""
        taken = None
        for ij, v in self._windows():
            hit = v == self.out
            if taken is None:
                taken = hit
            else:
                hit &= ~taken  # an earlier offset already holds this window's maximum
                taken = taken | hit
            yield ij, hit

    def backward(self, dout):
        s, p = self.stride, self.pad
        out_h, out_w = self.out_hw
        check_dout(f"Pooling {self.pool_h}x{self.pool_w}", dout,
                    (*self.x_shape[:2], out_h, out_w))
        # in the memory order of self.img, contiguous, so each product below streams
        dout = np.ascontiguousarray(dout.transpose(0, 2, 3, 1) if self.nhwc else dout)
        dimg = np.zeros(self.img.shape, dtype=float_dtype(dout))
        tiled = s >= self.pool_h and s >= self.pool_w
        # dout·hit equals "dout where hit, else 0" for finite dout (inf·0 would be NaN)
        finite = bool(np.isfinite(dout).all())
        zero = np.zeros((), dtype=dimg.dtype)
        for (i, j), hit in self._first_max():
            rows, cols = slice(i, i + s * out_h, s), slice(j, j + s * out_w, s)
            target = dimg[:, rows, cols, :] if self.nhwc else dimg[:, :, rows, cols]
            if tiled and finite:  # windows never overlap: each pixel gets at most one term
                np.multiply(dout, hit, out=target)
                continue
            routed = dout * hit if finite else np.where(hit, dout, zero)
            if tiled:
                target[...] = routed
            else:
                target += routed
        if self.nhwc:
            dimg = dimg.transpose(0, 3, 1, 2)  # (N, C, Hp, Wp) view
        H, W = self.x_shape[2:]
        return dimg[:, :, p:p + H, p:p + W]  # (N, C, H, W)

