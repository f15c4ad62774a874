"""ch5 layers as ``nn.Module``s with the book's names, parameter names and layouts.

``Affine(W, b)`` holds ``W`` as (in, out) like the book, so a book params dict loads unchanged;
``to_linear`` / ``from_linear`` convert to and from ``nn.Linear`` (whose weight is ``W.T``).
Every layer's ``to_builtin()`` gives the torch built-in computing the same map (``nn.Linear``,
``nn.ReLU``, …), which is how a network's ``to_builtin()`` is assembled. The ch6/ch7 layers
(``BatchNormalization``, ``Dropout``, ``Convolution``, ``Pooling``) live in their own modules and
are importable from here too, as ``scratch.layers`` has them.
"""

from __future__ import annotations

import torch
from torch import nn

from scratch.checks import check_batch
from zerotorch import functional as F_
from zerotorch.convolution import Convolution, Pooling
from zerotorch.normalization import BatchNormalization, Dropout
from zerotorch.tensors import as_parameter

__all__ = ["AddLayer", "Affine", "BatchNormalization", "Convolution", "Dropout", "MulLayer",
           "Pooling", "Relu", "Sigmoid", "SoftmaxWithLoss", "from_linear", "linear_from_book",
           "to_linear"]


class Relu(nn.Module):
    """ch5.5.1 ReLU layer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F_.relu(x)

    def to_builtin(self) -> nn.ReLU:
        return nn.ReLU()


class Sigmoid(nn.Module):
    """ch5.5.2 Sigmoid layer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F_.sigmoid(x)

    def to_builtin(self) -> nn.Sigmoid:
        return nn.Sigmoid()


class Affine(nn.Module):
    """ch5.6.2 Affine layer y = x·W + b with W: (in, out), input flattened to (N, in)."""

    def __init__(self, W, b):
        super().__init__()
        self.W = as_parameter(W)
        self.b = as_parameter(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_batch("Affine", x)
        x2 = x.reshape(x.shape[0], -1)  # (N, in)
        if x2.shape[1] != self.W.shape[0]:
            raise ValueError(f"Affine: input {tuple(x.shape)} flattens to {tuple(x2.shape)}, "
                             f"but W is {tuple(self.W.shape)}: expected {self.W.shape[0]} "
                             "features per sample")
        return x2 @ self.W + self.b  # (N, out)

    def to_builtin(self) -> nn.Linear:
        """``nn.Linear`` with ``weight = W.T`` (it does not flatten: a network puts
        ``nn.Flatten`` in front)."""
        return linear_from_book(self.W, self.b)


def linear_from_book(W: torch.Tensor, b: torch.Tensor) -> nn.Linear:
    """ch5.6.2 an ``nn.Linear`` computing x·W + b for the book's W (in, out) and b (out,).

    The one place the layout is converted: ``weight = W.T`` (out, in); dtype and device follow W.
    """
    n_in, n_out = W.shape
    lin = nn.Linear(n_in, n_out, dtype=W.dtype, device=W.device)
    with torch.no_grad():
        lin.weight.copy_(W.T)  # (out, in)
        lin.bias.copy_(b)
    return lin


def to_linear(affine: Affine) -> nn.Linear:
    """ch5.6.2 an ``nn.Linear`` computing the same map as ``affine`` (weight = W.T)."""
    return affine.to_builtin()


def from_linear(linear: nn.Linear) -> Affine:
    """ch5.6.2 an ``Affine`` from an ``nn.Linear`` (W = weight.T)."""
    return Affine(linear.weight.detach().T, linear.bias.detach())


class MulLayer(nn.Module):
    """ch5.4.1 multiplication node z = x·y (autograd gives dx = dout·y, dy = dout·x)."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x * y


class AddLayer(nn.Module):
    """ch5.4.2 addition node z = x + y (autograd passes dout to both inputs)."""

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x + y


class SoftmaxWithLoss(nn.Module):
    """ch5.6.3 softmax + the book's cross-entropy; ``forward(x, t)`` returns the mean loss.

    Value: the book's (with 1e-7 inside the log). Gradient: dout·(y − t)/N, the book's backward
    and ``F.cross_entropy``'s gradient (see ``functional.softmax_cross_entropy``). ``delta=0``
    (keyword-only) is the book's code before 2017-12 and ``F.cross_entropy`` in value too.
    """

    def __init__(self, *, delta: float = F_.CROSS_ENTROPY_DELTA):
        super().__init__()
        self.delta = delta

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return F_.softmax_cross_entropy(x, t, self.delta)
