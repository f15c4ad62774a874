"""ch2 perceptron gates in torch, with the book's weights (mirrors ``scratch.perceptron``).

``Perceptron(w1, w2, b)`` is an ``nn.Module`` over (N, 2) inputs; ``AND``/``NAND``/``OR``/``XOR``
take two numbers (returning an ``int``, as the book) or two tensors of equal shape.
"""

from __future__ import annotations

import torch
from torch import nn

from scratch.perceptron import AND_PARAMS, NAND_PARAMS, OR_PARAMS, TRUTH_TABLE_INPUTS

__all__ = ["AND", "NAND", "OR", "XOR", "Perceptron", "TRUTH_TABLE_INPUTS", "perceptron"]


class Perceptron(nn.Module):
    """ch2.3.2 step(x·w + b) with w = (w1, w2) as a buffer; step(0) = 0 as in the book."""

    def __init__(self, w1: float, w2: float, b: float, dtype: torch.dtype = torch.float64):
        super().__init__()
        self.register_buffer("w", torch.tensor([w1, w2], dtype=dtype))  # (2,)
        self.register_buffer("b", torch.tensor(b, dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (..., 2) → (...,) int64."""
        return ((x.to(self.w.dtype) * self.w).sum(dim=-1) + self.b > 0).to(torch.int64)


_GATES = {name: Perceptron(*p) for name, p in
          (("AND", AND_PARAMS), ("NAND", NAND_PARAMS), ("OR", OR_PARAMS))}


def _apply(module: Perceptron, x1, x2):
    """Run ``module`` on two numbers (→ ``int``) or two tensors of equal shape (→ int64)."""
    scalar = not isinstance(x1, torch.Tensor) and not isinstance(x2, torch.Tensor)
    x = torch.stack(torch.broadcast_tensors(torch.as_tensor(x1), torch.as_tensor(x2)), dim=-1)
    out = module(x)  # (...,)
    return int(out) if scalar else out


def perceptron(x1, x2, w1: float, w2: float, b: float):
    """ch2.3.2 one perceptron: 1 where w1·x1 + w2·x2 + b > 0, else 0 (``scratch.perceptron``)."""
    return _apply(Perceptron(w1, w2, b), x1, x2)


def _gate(name: str, x1, x2):
    return _apply(_GATES[name], x1, x2)


def AND(x1, x2):
    """ch2.3.3 AND gate (w = 0.5, 0.5; b = −0.7)."""
    return _gate("AND", x1, x2)


def NAND(x1, x2):
    """ch2.3.3 NAND gate (w = −0.5, −0.5; b = 0.7)."""
    return _gate("NAND", x1, x2)


def OR(x1, x2):
    """ch2.3.3 OR gate (w = 0.5, 0.5; b = −0.2)."""
    return _gate("OR", x1, x2)


def XOR(x1, x2):
    """ch2.5.2 XOR = AND(NAND, OR): a two-layer perceptron."""
    return AND(NAND(x1, x2), OR(x1, x2))
