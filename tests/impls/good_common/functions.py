"""Correct activation and loss functions in the book's API (written for the tests)."""

import numpy as np


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def relu(x):
    return np.maximum(x, 0.0)


def softmax(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    if y.ndim == 1:
        y = y.reshape(1, -1)
        t = np.reshape(t, (1, -1)) if np.size(t) == y.size else np.reshape(t, 1)
    if np.size(t) == y.size:
        t = t.argmax(axis=1)
    rows = np.arange(y.shape[0])
    return -np.log(y[rows, t] + 1e-7).sum() / y.shape[0]
