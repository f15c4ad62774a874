"""ch5: backpropagation layers (the book's ``common/layers.py``).

Every layer keeps ``forward`` next to ``backward``; no layer modifies its input or ``dout``.
"""

from __future__ import annotations

import numpy as np

from scratch.checks import check_batch, check_dout, class_labels
from scratch.convolution import Convolution, Pooling
from scratch.functions import cross_entropy_error, sigmoid, softmax
from scratch.normalization import BatchNormalization, Dropout

# The ch6/ch7 layers live in their own modules and are importable from here too, as from the
# book's common/layers.py.
__all__ = ["AddLayer", "Affine", "BatchNormalization", "Convolution", "Dropout", "MulLayer",
           "Pooling", "Relu", "Sigmoid", "SoftmaxWithLoss", "softmax_loss_grad"]


class Relu:
    """ch5.5.1 ReLU layer; passes gradient where x > 0 (so 0 at x = 0)."""

    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        return np.maximum(x, 0)  # a new array: x is left as it was (same values as x·(x > 0))

    def backward(self, dout):
        check_dout("Relu", dout, self.mask.shape)
        # A new array (the book writes into dout). Multiplying by the keep-mask is ~10× faster
        # than np.where; only a non-finite dout (inf·0 = NaN) needs the exact masked form.
        with np.errstate(invalid="ignore"):
            dx = dout * ~self.mask
        if not np.isfinite(dx).all():
            dx = np.where(self.mask, np.zeros((), dtype=dx.dtype), dout)
        return dx


class Sigmoid:
    """ch5.5.2 Sigmoid layer; dx = dout · y(1 − y)."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        check_dout("Sigmoid", dout, self.out.shape)
        return dout * (1.0 - self.out) * self.out


class Affine:
    """ch5.6.2 Affine layer y = x·W + b, W in the book's (in, out) layout.

    Args:
        W: (in, out) weights; b: (out,) bias.
    Input of any rank is flattened to (N, in) in C order; ``backward`` restores its shape.
    """

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        check_batch("Affine", x)
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)  # (N, in)
        if self.x.shape[1] != self.W.shape[0]:
            raise ValueError(f"Affine: input {x.shape} flattens to {self.x.shape}, but W is "
                             f"{self.W.shape}: expected {self.W.shape[0]} features per sample")
        return self.x @ self.W + self.b  # (N, out)

    def backward(self, dout):
        check_dout("Affine", dout, (self.x.shape[0], self.W.shape[1]))
        dx = dout @ self.W.T  # (N, in)
        self.dW = self.x.T @ dout  # (in, out)
        self.db = dout.sum(axis=0)  # (out,)
        return dx.reshape(self.original_x_shape)


class MulLayer:
    """ch5.4.1 multiplication node z = x·y; backward swaps the inputs: dx = dout·y, dy = dout·x."""

    def __init__(self):
        self.x = None
        self.y = None

    def forward(self, x, y):
        self.x = x
        self.y = y
        return x * y

    def backward(self, dout):
        check_dout("MulLayer", dout, np.broadcast_shapes(np.shape(self.x), np.shape(self.y)))
        return dout * self.y, dout * self.x


class AddLayer:
    """ch5.4.2 addition node z = x + y; backward passes dout to both inputs (as new arrays)."""

    def __init__(self):
        self.out_shape = None

    def forward(self, x, y):
        self.out_shape = np.broadcast_shapes(np.shape(x), np.shape(y))
        return x + y

    def backward(self, dout):
        check_dout("AddLayer", dout, self.out_shape)
        return dout * 1, dout * 1  # copies, so the caller's dout is never aliased


class SoftmaxWithLoss:
    """ch5.6.3 softmax followed by the cross-entropy loss (with the book's 1e-7 in the log).

    ``forward(x, t)``: x (N, C) scores, t (N,) class indices or (N, C) one-hot; returns the mean
    loss. ``backward(dout=1)`` returns dout·(y − t)/N. The book's layer ignores ``dout``; ours
    multiplies by it (identical for the book's dout = 1), so the layer also works inside a larger
    graph. (y − t)/N is the exact gradient of the cross-entropy *without* the 1e-7.
    """

    def __init__(self):
        self.loss = None
        self.y = None  # softmax output (N, C)
        self.t = None

    def forward(self, x, t, *, what="SoftmaxWithLoss"):
        """The mean loss; bad labels are reported under ``what`` (a network passes its name)."""
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t, what=what)  # checks t against y's shape
        return self.loss

    def backward(self, dout=1):
        check_dout("SoftmaxWithLoss", dout, ())  # the loss is a scalar
        y = self.y.reshape(-1, self.y.shape[-1])  # (N, C); a 1-D x is a batch of one
        return (dout * softmax_loss_grad(y, self.t)).reshape(self.y.shape)


def softmax_loss_grad(y, t):
    """ch5.6.3 (y − t)/N, the gradient of the mean cross-entropy w.r.t. the softmax's input.

    Args:
        y: (N, C) softmax probabilities.
        t: (N,) class indices or (N, C) one-hot labels (same size as ``y`` means one-hot).
    Returns a new (N, C) array; neither argument is modified.
    """
    n = y.shape[0]
    t = class_labels("SoftmaxWithLoss", t, y.shape)
    if t.ndim == 2:  # one-hot (or soft) targets
        return (y - t) / n
    dy = y.copy()
    dy[np.arange(n), t] -= 1
    return dy / n

