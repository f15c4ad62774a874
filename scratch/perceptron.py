"""ch2: perceptron logic gates with the book's weights and biases, and XOR from three of them.

Each gate computes step(w1·x1 + w2·x2 + b) with the book's convention that a sum of exactly 0
gives 0. Inputs may be numbers (the book's use, returning a Python ``int``) or arrays of equal
shape (the whole truth table at once, returning an int array).
"""

from __future__ import annotations

import numpy as np

# (w1, w2, b) from ch2.3.3: each gate is the same perceptron with different parameters.
AND_PARAMS = (0.5, 0.5, -0.7)
NAND_PARAMS = (-0.5, -0.5, 0.7)
OR_PARAMS = (0.5, 0.5, -0.2)

TRUTH_TABLE_INPUTS = ((0, 0), (1, 0), (0, 1), (1, 1))


def perceptron(x1, x2, w1: float, w2: float, b: float):
    """ch2.3.2 one perceptron: 1 where w1·x1 + w2·x2 + b > 0, else 0."""
    x = np.array([x1, x2], dtype=np.float64)  # (2, ...)
    w = np.array([w1, w2], dtype=np.float64).reshape((2,) + (1,) * (x.ndim - 1))
    out = (np.sum(w * x, axis=0) + b > 0).astype(np.int64)
    return int(out) if out.ndim == 0 else out


def AND(x1, x2):
    """ch2.3.3 AND gate (w = 0.5, 0.5; b = −0.7)."""
    return perceptron(x1, x2, *AND_PARAMS)


def NAND(x1, x2):
    """ch2.3.3 NAND gate (w = −0.5, −0.5; b = 0.7)."""
    return perceptron(x1, x2, *NAND_PARAMS)


def OR(x1, x2):
    """ch2.3.3 OR gate (w = 0.5, 0.5; b = −0.2)."""
    return perceptron(x1, x2, *OR_PARAMS)


def XOR(x1, x2):
    """ch2.5.2 XOR as a two-layer perceptron: AND(NAND(x1, x2), OR(x1, x2))."""
    return AND(NAND(x1, x2), OR(x1, x2))
