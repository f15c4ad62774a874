"""ch3–ch4: activation and loss functions (the book's ``common/functions.py``)."""

from __future__ import annotations

import numpy as np

from scratch.checks import class_labels


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


# The book adds this inside the log of the cross-entropy so log(0) never happens. It caps the loss
# of a confidently wrong answer at -log(1e-7) ≈ 16.118 and makes a perfect answer cost -1e-7.
CROSS_ENTROPY_DELTA = 1e-7


def sigmoid_grad(x):
    """ch5.5.2 derivative of the sigmoid, (1 − σ(x))·σ(x) (the book's helper for ch4)."""
    s = sigmoid(x)
    return (1.0 - s) * s


def relu_grad(x):
    """The book's ReLU derivative helper: 1 where x >= 0, so relu_grad(0) = 1.

    The ``Relu`` layer (ch5.5.1) passes 0 at x = 0 instead; both are valid subgradients.
    """
    x = np.asarray(x)
    return (x >= 0).astype(x.dtype if np.issubdtype(x.dtype, np.floating) else np.float64)


def sum_squared_error(y, t):
    """ch4.2.1 sum of squared errors 0.5·Σ(y − t)², summed over everything (no batch mean)."""
    return 0.5 * np.sum((np.asarray(y) - np.asarray(t)) ** 2)


def _as_batch(y, t, what="cross_entropy_error"):
    """``y`` as (N, C) (a 1-D ``y`` is a batch of one) and ``t`` as checked (N,) class indices."""
    y = np.asarray(y)
    if y.ndim not in (1, 2):
        raise ValueError(f"{what}: y has shape {y.shape}; expected (N, C) or (C,) scores")
    t = class_labels(what, t, y.shape)
    y = y.reshape(-1, y.shape[-1])  # (N, C)
    return y, (t.argmax(axis=1) if t.ndim == 2 else t)  # one-hot rows → indices, as the book


def cross_entropy_error(y, t, *, what="cross_entropy_error"):
    """ch4.2.2–4.2.4 mean cross-entropy −Σ log(y[t] + 1e-7) / N of probabilities ``y``.

    Args:
        y: (N, C) or (C,) probabilities (the softmax output).
        t: (N,) class indices or (N, C) one-hot labels (same size as ``y`` means one-hot).
        what: the name bad labels are reported under (a network's ``loss`` passes its own, so
            its labels are checked once).
    """
    y, t = _as_batch(y, t, what)
    n = y.shape[0]
    return -np.sum(np.log(y[np.arange(n), t] + CROSS_ENTROPY_DELTA)) / n
