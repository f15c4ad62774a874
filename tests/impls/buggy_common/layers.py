"""Planted bugs, one per layer, imported the book's way."""

import numpy as np
from common.functions import *


class Relu:
    """Bug: writes into the caller's dout."""

    def forward(self, x):
        self.mask = x <= 0
        return np.where(self.mask, 0.0, x)

    def backward(self, dout):
        dout[self.mask] = 0
        return dout


class Affine:
    """Bug: dW computed as dout.T @ x, shape (out, in)."""

    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.shape = x.shape
        self.x = x.reshape(len(x), -1)
        return self.x @ self.W + self.b

    def backward(self, dout):
        self.dW = dout.T @ self.x
        self.db = dout.sum(axis=0)
        return (dout @ self.W.T).reshape(self.shape)


class SoftmaxWithLoss:
    """Bug: the gradient is not divided by the batch size."""

    def forward(self, x, t):
        z = x - x.max(axis=1, keepdims=True)
        self.y = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        self.t = t
        return cross_entropy_error(self.y, t)

    def backward(self, dout=1):
        target = self.t if self.t.size == self.y.size else np.eye(self.y.shape[1])[self.t]
        return dout * (self.y - target)
