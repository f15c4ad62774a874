"""ch5: backpropagation layers (the book's ``common/layers.py``).

Every layer keeps ``forward`` next to ``backward``; no layer modifies its input or ``dout``.
"""

from __future__ import annotations

import numpy as np

from scratch.functions import sigmoid


class Relu:
    """ch5.5.1 ReLU layer; passes gradient where x > 0 (so 0 at x = 0)."""

    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = x <= 0
        return np.where(self.mask, 0, x)  # a new array: x is left as it was

    def backward(self, dout):
        return np.where(self.mask, 0, dout)  # dout is never written to (the book's is)


class Sigmoid:
    """ch5.5.2 Sigmoid layer; dx = dout · y(1 − y)."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
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
        self.original_x_shape = x.shape
        self.x = x.reshape(x.shape[0], -1)  # (N, in)
        return self.x @ self.W + self.b  # (N, out)

    def backward(self, dout):
        dx = dout @ self.W.T  # (N, in)
        self.dW = self.x.T @ dout  # (in, out)
        self.db = dout.sum(axis=0)  # (out,)
        return dx.reshape(self.original_x_shape)
