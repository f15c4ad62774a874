"""ch6.2 initial weight values: the book's ``weight_init_std`` choices, NumPy only.

``weight_init_std`` is either a number (the standard deviation itself) or a name:
``'relu'``/``'he'`` → √(2/fan_in) (He), ``'sigmoid'``/``'xavier'`` → √(1/fan_in) (the book's
"Xavier", which is *not* Glorot's √(2/(fan_in + fan_out)) unless fan_in = fan_out).
fan_in is the number of inputs to one unit: ``in`` for an Affine W (in, out), C·FH·FW for a
convolution W (FN, C, FH, FW). Biases start at 0.
"""

from __future__ import annotations

import numpy as np

HE_NAMES = ("relu", "he")
XAVIER_NAMES = ("sigmoid", "xavier")


def fan_in_of(shape) -> int:
    """ch6.2 inputs per unit: Affine W (in, out) → in; conv W (FN, C, FH, FW) → C·FH·FW."""
    shape = tuple(shape)
    if len(shape) == 2:
        return shape[0]
    if len(shape) == 4:
        return shape[1] * shape[2] * shape[3]
    raise ValueError(f"fan_in_of: expected an Affine (in, out) or conv (FN, C, FH, FW) shape, "
                     f"got {shape}")


def init_std(weight_init_std, fan_in: int) -> float:
    """ch6.2.2–6.2.3 the standard deviation the book uses for ``weight_init_std`` and fan_in."""
    if isinstance(weight_init_std, str):
        name = weight_init_std.lower()
        if name in HE_NAMES:
            return float(np.sqrt(2.0 / fan_in))
        if name in XAVIER_NAMES:
            return float(np.sqrt(1.0 / fan_in))
        raise ValueError(f"weight_init_std must be a number or one of "
                         f"{HE_NAMES + XAVIER_NAMES}, got {weight_init_std!r}")
    return float(weight_init_std)


def init_weight(shape, weight_init_std, rng: np.random.Generator, fan_in: int | None = None):
    """ch6.2 a weight array of ``shape`` drawn from N(0, std²), std from ``init_std``.

    Args:
        shape: (in, out) or (FN, C, FH, FW); ``fan_in`` defaults to ``fan_in_of(shape)``.
        rng: the ``numpy.random.Generator`` to draw from (explicit: nothing seeds globally).
    """
    std = init_std(weight_init_std, fan_in if fan_in is not None else fan_in_of(shape))
    return std * rng.standard_normal(tuple(shape))
