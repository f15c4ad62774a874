"""A single-file implementation whose layers misbehave (a correct softmax next to them)."""

import sys

import numpy as np


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


class Affine:
    """Loops forever in forward."""

    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        n = 0
        while n >= 0:  # planted endless loop
            n += 1
        return x


class Sigmoid:
    """Segfaults in forward (reads address 0)."""

    def forward(self, x):
        import ctypes

        return ctypes.string_at(0)  # planted crash


class Relu:
    """Exits the interpreter in backward."""

    def forward(self, x):
        return np.maximum(x, 0.0)

    def backward(self, dout):
        sys.exit(3)  # planted exit


class MulLayer:
    """Raises in forward."""

    def forward(self, x, y):
        raise ValueError("planted error in MulLayer.forward")
