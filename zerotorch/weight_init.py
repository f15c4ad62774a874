"""ch6.2 initial weight values in torch, same choices as ``scratch.weight_init``.

``init_weight(shape, weight_init_std, generator)`` draws std·N(0, 1) in the book's layout with
an explicit ``torch.Generator``. The relation to ``torch.nn.init`` (tested in
``tests/test_ch6_weight_init.py``): a number ↔ ``normal_(0, std)``; ``'he'``/``'relu'`` ↔
``kaiming_normal_(mode='fan_in', nonlinearity='relu')`` applied to the (out, in) layout of
``nn.Linear`` (torch reads fan_in from dim 1, which in the book's (in, out) layout is fan_out);
``'xavier'``/``'sigmoid'`` is √(1/fan_in), which ``xavier_normal_`` (Glorot,
√(2/(fan_in + fan_out))) matches only when fan_in = fan_out.
"""

from __future__ import annotations

import torch

from scratch.weight_init import HE_NAMES, XAVIER_NAMES, fan_in_of, init_std

__all__ = ["HE_NAMES", "XAVIER_NAMES", "fan_in_of", "init_std", "init_weight", "glorot_std"]


def init_weight(shape, weight_init_std, generator: torch.Generator | None = None,
                fan_in: int | None = None, dtype: torch.dtype | None = None,
                device: torch.device | str | None = None) -> torch.Tensor:
    """ch6.2 a weight tensor of ``shape`` (book layout) drawn from N(0, std²) with ``generator``."""
    std = init_std(weight_init_std, fan_in if fan_in is not None else fan_in_of(shape))
    if device is None and generator is not None:
        device = generator.device
    return std * torch.randn(tuple(shape), generator=generator, dtype=dtype, device=device)


def glorot_std(fan_in: int, fan_out: int) -> float:
    """ch6.2.2 Glorot & Bengio's normal std √(2/(fan_in + fan_out)) (``nn.init.xavier_normal_``)."""
    return (2.0 / (fan_in + fan_out)) ** 0.5
