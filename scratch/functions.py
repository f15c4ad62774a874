"""ch3–ch4: activation and loss functions (the book's ``common/functions.py``)."""

from __future__ import annotations

import numpy as np


def identity_function(x):
    """ch3.5.1 identity output function."""
    return x


def step_function(x):
    """ch3.2.2 step function: 1 where x > 0, so step(0) = 0 as in the book."""
    return (np.asarray(x) > 0).astype(int)


def sigmoid(x):
    """ch3.2.4 sigmoid 1/(1+exp(-x)), computed without overflow for large |x|."""
    x = np.asarray(x)
    # exp(-|x|) never overflows; pick the algebraically equal branch per sign.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def relu(x):
    """ch3.2.7 ReLU max(0, x)."""
    return np.maximum(0, x)


def softmax(x):
    """ch3.5.2 softmax over the last axis, max subtracted first (1-D or batched)."""
    x = np.asarray(x)
    z = x - x.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)
