"""Book values (NumPy arrays, lists, tensors) as torch tensors and parameters: the one place
every layer and network of ``zerotorch`` converts them."""

from __future__ import annotations

import torch
from torch import nn


def as_tensor(value, dtype: torch.dtype | None = None) -> torch.Tensor:
    """A detached copy of ``value`` as a tensor (``dtype``: keep the value's own when None; a
    list of Python floats gets torch's default dtype)."""
    return torch.as_tensor(value, dtype=dtype).detach().clone()


def as_parameter(value, dtype: torch.dtype | None = None) -> nn.Parameter:
    """ch5.6.2 a book parameter (NumPy array, list or tensor) as a copied ``nn.Parameter``."""
    return nn.Parameter(as_tensor(value, dtype))
