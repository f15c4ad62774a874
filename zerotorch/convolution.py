"""ch7.4 im2col / col2im, Convolution and Pooling in PyTorch, with the book's names and layouts.

``Convolution(W, b, stride, pad)`` holds ``W`` as (FN, C, FH, FW) — exactly ``nn.Conv2d.weight``
— and computes the book's cross-correlation with ``F.conv2d`` (``method="im2col"`` computes it
the book's way through ``F.unfold``; both are cross-checked). ``Pooling`` is max pooling with the
book's semantics: zero padding (not ``F.max_pool2d``'s −inf), output size counting the padding,
gradient to the first maximum on ties (what ``F.max_pool2d`` does too). Geometry is validated
by the same function as the scratch side, so invalid shapes raise the same ``ValueError``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from scratch.util import check_col2im, check_geometry
from zerotorch.tensors import as_parameter


def im2col(input_data: torch.Tensor, filter_h: int, filter_w: int, stride: int = 1,
           pad: int = 0) -> torch.Tensor:
    """ch7.4.3 im2col via ``F.unfold``: (N, C, H, W) → (N·out_h·out_w, C·FH·FW)."""
    check_geometry(input_data.shape, filter_h, filter_w, stride, pad, what="im2col")
    n = input_data.shape[0]
    cols = F.unfold(input_data, (filter_h, filter_w), padding=pad, stride=stride)  # (N, C·FH·FW, L)
    return cols.transpose(1, 2).reshape(n * cols.shape[2], cols.shape[1])  # (N·L, C·FH·FW)


def col2im(col: torch.Tensor, input_shape, filter_h: int, filter_w: int, stride: int = 1,
           pad: int = 0) -> torch.Tensor:
    """ch7.4.3 col2im via ``F.fold`` (sums overlapping entries): → (N, C, H, W)."""
    n, c, h, w, out_h, out_w = check_col2im(col.shape, input_shape, filter_h, filter_w, stride,
                                            pad)
    cols = col.reshape(n, out_h * out_w, -1).transpose(1, 2)  # (N, C·FH·FW, L)
    return F.fold(cols, (h, w), (filter_h, filter_w), padding=pad, stride=stride)


class Convolution(nn.Module):
    """ch7.4.3 Convolution layer; W: (FN, C, FH, FW) (= ``nn.Conv2d.weight``), b: (FN,).

    ``method="conv2d"`` (default) calls ``F.conv2d``, which is the book's cross-correlation;
    ``method="im2col"`` computes ``im2col(x) @ W.reshape(FN, -1).T + b`` like the book.
    """

    def __init__(self, W, b, stride: int = 1, pad: int = 0, method: str = "conv2d"):
        super().__init__()
        if method not in ("conv2d", "im2col"):
            raise ValueError(f"method must be 'conv2d' or 'im2col', got {method!r}")
        self.W = as_parameter(W)
        self.b = as_parameter(b)
        self.stride = stride
        self.pad = pad
        self.method = method

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        FN, C, FH, FW = self.W.shape
        out_h, out_w = check_geometry(x.shape, FH, FW, self.stride, self.pad, channels=C,
                                      what=f"Convolution with W of shape {tuple(self.W.shape)}")
        if self.method == "conv2d":
            return F.conv2d(x, self.W, self.b, stride=self.stride, padding=self.pad)
        col = im2col(x, FH, FW, self.stride, self.pad)  # (N·oh·ow, C·FH·FW)
        out = col @ self.W.reshape(FN, -1).T + self.b  # (N·oh·ow, FN)
        return out.reshape(x.shape[0], out_h, out_w, FN).permute(0, 3, 1, 2)  # (N, FN, oh, ow)

    def to_builtin(self) -> nn.Conv2d:
        """``nn.Conv2d`` holding this W and b (the same layout: no conversion)."""
        fn, c, fh, fw = self.W.shape
        conv = nn.Conv2d(c, fn, (fh, fw), stride=self.stride, padding=self.pad,
                         dtype=self.W.dtype, device=self.W.device)
        with torch.no_grad():
            conv.weight.copy_(self.W)
            conv.bias.copy_(self.b)
        return conv

    def extra_repr(self) -> str:
        return f"W={tuple(self.W.shape)}, stride={self.stride}, pad={self.pad}"


class Pooling(nn.Module):
    """ch7.4.4 max Pooling with the book's semantics (zero padding, first maximum on ties).

    ``method="max_pool2d"`` (default) zero-pads explicitly and calls ``F.max_pool2d`` without
    padding; ``method="im2col"`` takes the max over ``F.unfold`` columns like the book.
    """

    def __init__(self, pool_h: int, pool_w: int, stride: int = 2, pad: int = 0,
                 method: str = "max_pool2d"):
        super().__init__()
        if method not in ("max_pool2d", "im2col"):
            raise ValueError(f"method must be 'max_pool2d' or 'im2col', got {method!r}")
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        self.method = method

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out_h, out_w = check_geometry(x.shape, self.pool_h, self.pool_w, self.stride, self.pad,
                                      what=f"Pooling {self.pool_h}x{self.pool_w}")
        if self.method == "max_pool2d":
            if self.pad:
                x = F.pad(x, (self.pad,) * 4)  # zeros, like the book's np.pad
            return F.max_pool2d(x, (self.pool_h, self.pool_w), self.stride)
        n, c = x.shape[:2]
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)  # (N·oh·ow, C·PH·PW)
        col = col.reshape(-1, c, self.pool_h * self.pool_w)  # (N·oh·ow, C, PH·PW)
        # argmax returns the first maximum; gathering through it routes the gradient there.
        out = col.gather(2, col.argmax(dim=2, keepdim=True)).squeeze(2)  # (N·oh·ow, C)
        return out.reshape(n, out_h, out_w, c).permute(0, 3, 1, 2)  # (N, C, oh, ow)

    def to_builtin(self) -> nn.Module:
        """``nn.MaxPool2d``, after ``nn.ZeroPad2d`` when padded (the book pads with zeros,
        ``nn.MaxPool2d`` with −inf)."""
        pool = nn.MaxPool2d((self.pool_h, self.pool_w), self.stride)
        return nn.Sequential(nn.ZeroPad2d(self.pad), pool) if self.pad else pool

    def extra_repr(self) -> str:
        return f"{self.pool_h}x{self.pool_w}, stride={self.stride}, pad={self.pad}"
