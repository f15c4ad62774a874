"""Planted bug: softmax without the row max subtracted (overflows for large inputs)."""

import numpy as np


def softmax(x):
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    if np.size(t) == y.size:
        t = t.argmax(axis=1)
    return -np.log(y[np.arange(len(y)), t] + 1e-7).sum() / len(y)
