"""Input checks shared by both sides, so one mistake gets one message whichever side made it.

The scratch side calls ``check_*`` with NumPy arrays. The zerotorch side computes the same facts
with torch ops (no copy to the host) and raises through the same ``*_error`` builders, so the
wording is identical. Every message names what was given and what was expected.

The convolution geometry has its own checker (``scratch.util.check_geometry``), shared the same way.
"""

from __future__ import annotations

import math

import numpy as np


def empty_batch_error(what: str, shape) -> ValueError:
    return ValueError(f"{what}: empty batch: input has shape {tuple(shape)}, expected at "
                      "least one sample")


def dout_error(what: str, got, expected) -> ValueError:
    return ValueError(f"{what}.backward: dout has shape {tuple(got)}, expected the forward "
                      f"output's shape {tuple(expected)}")


def label_count_error(what: str, labels_shape, scores_shape) -> ValueError:
    return ValueError(f"{what}: scores have shape {tuple(scores_shape)}, labels "
                      f"{tuple(labels_shape)}; expected one label per sample: (N,) class "
                      "indices or (N, C) one-hot")


def label_value_error(what: str, index: int, value, classes: int) -> ValueError:
    """The first bad label: not a whole number, or outside [0, classes)."""
    value = value.item() if hasattr(value, "item") else value  # a Python number on both sides
    if math.isfinite(value) and value == int(value):
        value = int(value)
        problem = f"is outside [0, {classes})"
    else:
        problem = "is not a whole number"
    return ValueError(f"{what}: label {value!r} at sample {index} {problem}; expected class "
                      f"indices 0..{classes - 1}")


def label_dtype_error(what: str, dtype) -> ValueError:
    name = str(dtype).removeprefix("torch.")  # "int64" on both sides
    return ValueError(f"{what}: labels have dtype {name}, expected integer class indices")


def check_batch(what: str, x) -> None:
    """``x`` must hold at least one sample (a mean over none is 0/0)."""
    shape = np.shape(x)
    if len(shape) == 0 or shape[0] == 0:
        raise empty_batch_error(what, shape)


def check_dout(what: str, dout, expected) -> None:
    """``dout`` must have the forward output's shape exactly (a smaller one would broadcast)."""
    if tuple(np.shape(dout)) != tuple(expected):
        raise dout_error(what, np.shape(dout), expected)


def class_labels(what: str, t, scores_shape) -> np.ndarray:
    """Labels checked against (N, C) scores; a 1-D ``scores_shape`` (C,) is a batch of one.

    Returns the (N, C) one-hot rows as given when ``t`` has as many entries as the scores (the
    book's rule), else the (N,) class indices as int64, each a whole number in [0, C).
    """
    t = np.asarray(t)
    n, classes = (1, scores_shape[0]) if len(scores_shape) == 1 else scores_shape[:2]
    if n == 0:
        raise empty_batch_error(what, scores_shape)
    if t.size == n * classes:
        return t.reshape(n, classes)
    if t.size != n:
        raise label_count_error(what, t.shape, scores_shape)
    t = t.reshape(n)
    if t.dtype.kind not in "iuf":
        raise label_dtype_error(what, t.dtype)
    bad = (t < 0) | (t >= classes)
    if t.dtype.kind == "f":
        bad |= t != np.floor(t)  # NaN is caught here too (NaN != NaN)
    if bad.any():
        i = int(np.argmax(bad))
        raise label_value_error(what, i, t[i], classes)
    return t.astype(np.int64)
