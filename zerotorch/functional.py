"""ch3–ch4 functions in torch ops, mirroring ``scratch.functions`` formula by formula."""

from __future__ import annotations

import torch


def identity_function(x: torch.Tensor) -> torch.Tensor:
    """ch3.5.1 identity output function."""
    return x


def step_function(x: torch.Tensor) -> torch.Tensor:
    """ch3.2.2 step function; step(0) = 0 as in the book (no useful gradient)."""
    return (x > 0).to(torch.int64)


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """ch3.2.4 sigmoid written as the book's formula 1/(1+exp(-x)), overflow-safe."""
    # exp(-|x|) never overflows; -|x| is written as a where (not abs) so the gradient at 0 is kept.
    e = torch.exp(torch.where(x >= 0, -x, x))
    return torch.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def relu(x: torch.Tensor) -> torch.Tensor:
    """ch3.2.7 ReLU; gradient 0 at x = 0 like the book's Relu layer."""
    return torch.where(x > 0, x, torch.zeros_like(x))


def softmax(x: torch.Tensor) -> torch.Tensor:
    """ch3.5.2 softmax over the last dim with the row max subtracted first."""
    z = x - x.max(dim=-1, keepdim=True).values.detach()
    e = torch.exp(z)
    return e / e.sum(dim=-1, keepdim=True)
