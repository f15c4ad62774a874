"""ch6.1 the book's six update rules as ``torch.optim.Optimizer`` subclasses.

Same class names, argument names and defaults as ``scratch.optimizer`` (eps 1e-7), with what any
PyTorch optimizer has: ``step(closure=None)``, ``zero_grad``, param groups (per-group
hyperparameters), ``state_dict``/``load_state_dict``, and tensors on any device (the state lives
next to each parameter). Each rule is written with the same operations, in the same order, as the
scratch side, so float64 trajectories agree to rounding (1e-12 over hundreds of steps).

Two additions the book does not have, both off by default:
- ``weight_decay`` (per group): adds ``weight_decay·p`` to the gradient before the rule, which is
  exactly the book's ``dW += λ·W``; ``book_param_groups`` puts it on weights only, as the book.
- per-parameter step counts in ``Adam`` (the book counts calls of ``update``; the two agree
  whenever every parameter has a gradient at every step, which the book assumes).

Mapping to the built-ins (proved in ``tests/test_ch6_optimizers.py``): Momentum ↔
``SGD(momentum=m)``, Nesterov ↔ ``SGD(momentum=m, nesterov=True)`` (the 2016 code's order,
``variant="book-2016"``, differs by m²·lr·g from the first step), AdaGrad ↔
``Adagrad(eps=1e-7)``, RMSprop ↔ ``RMSprop(alpha=decay_rate, eps=1e-7)``, Adam ↔
``Adam(betas=(beta1, beta2))`` with eps = 1e-7/√(1 − beta2^t) at step t (``adam_book_eps``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn

EPS = 1e-7  # the book's constant in AdaGrad/RMSprop/Adam denominators
NESTEROV_VARIANTS = ("book", "book-2016")  # today's official code (= torch); the 2016 code


def _check(name: str, value: float, low: float = 0.0, high: float | None = None) -> None:
    if value < low or (high is not None and value >= high):
        bound = f"[{low}, {high})" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bound}, got {value!r}")


def adam_book_eps(step: int, beta2: float = 0.999, eps: float = EPS) -> float:
    """ch6.1.6 the ``torch.optim.Adam`` eps at ``step`` (1-based) that reproduces the book's Adam.

    Torch divides by √v̂ + eps = √v/√(1 − beta2^t) + eps; the book by √v + 1e-7 after folding
    the correction into the learning rate. They are equal when eps = 1e-7/√(1 − beta2^t).
    """
    return eps / math.sqrt(1.0 - beta2 ** step)


def book_param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """ch6.4.1 the book's weight decay as param groups: weights decay, biases/γ/β do not.

    A parameter is a weight when it has 2 or more dimensions (Affine W (in, out), conv W
    (FN, C, FH, FW), ``nn.Linear``/``nn.Conv2d`` weights); biases, γ and β are 1-D. Pass the
    result to any optimizer with a ``weight_decay`` option (ours or ``torch.optim``'s): the
    gradient then gains λ·W on weights only, which equals the book's loss term 0.5·λ·ΣW².
    """
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return [g for g in groups if g["params"]]


def _zeros_state(state: dict, p: torch.Tensor, *names: str) -> None:
    """Create the named per-parameter state tensors (zeros like ``p``) on the first step."""
    for name in names:
        if name not in state:
            state[name] = torch.zeros_like(p, memory_format=torch.preserve_format)


class _BookOptimizer(torch.optim.Optimizer):
    """Shared ``step``: closure, gradient lookup, weight decay; subclasses define ``_update``.

    The constructor checks the hyperparameters every rule shares (``lr``, ``weight_decay`` and
    ``momentum`` ≥ 0; ``decay_rate``, ``beta1``, ``beta2`` in [0, 1)) and makes them defaults.
    """

    def __init__(self, params: Iterable, **defaults):
        for name, value in defaults.items():
            if name in ("lr", "weight_decay", "momentum"):
                _check(name, value)
            elif name in ("decay_rate", "beta1", "beta2"):
                _check(name, value, 0.0, 1.0)
        super().__init__(params, defaults)

    def _update(self, p: torch.Tensor, g: torch.Tensor, state: dict, group: dict) -> None:
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Callable[[], torch.Tensor] | None = None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
                g = p.grad
                if group.get("weight_decay", 0.0):
                    g = g + group["weight_decay"] * p
                self._update(p, g, self.state[p], group)
        return loss


class SGD(_BookOptimizer):
    """ch6.1.2 stochastic gradient descent: W ← W − lr·g."""

    def __init__(self, params: Iterable, lr: float = 0.01, weight_decay: float = 0.0):
        super().__init__(params, lr=lr, weight_decay=weight_decay)

    def _update(self, p, g, state, group):
        p.sub_(group["lr"] * g)


class Momentum(_BookOptimizer):
    """ch6.1.4 Momentum: v ← momentum·v − lr·g; W ← W + v (v starts at 0)."""

    def __init__(self, params: Iterable, lr: float = 0.01, momentum: float = 0.9,
                 weight_decay: float = 0.0):
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay)

    def _update(self, p, g, state, group):
        _zeros_state(state, p, "v")
        v = state["v"]
        v.copy_(group["momentum"] * v - group["lr"] * g)
        p.add_(v)


class Nesterov(_BookOptimizer):
    """ch6.1 Nesterov as the book's code today: W ← W + m²·v − (1 + m)·lr·g, then v ← m·v − lr·g.

    This is the paper's order and equals ``torch.optim.SGD(momentum=m, nesterov=True)`` with
    v = −lr·buf. ``variant="book-2016"`` is the book's first code (changed upstream in 2021):
    v is updated first and the step uses the new v.
    """

    def __init__(self, params: Iterable, lr: float = 0.01, momentum: float = 0.9,
                 weight_decay: float = 0.0, variant: str = "book"):
        if variant not in NESTEROV_VARIANTS:
            raise ValueError(f"Nesterov: variant must be one of {NESTEROV_VARIANTS}, "
                             f"got {variant!r}")
        super().__init__(params, lr=lr, momentum=momentum, weight_decay=weight_decay,
                         variant=variant)

    def _update(self, p, g, state, group):
        _zeros_state(state, p, "v")
        v, m, lr = state["v"], group["momentum"], group["lr"]
        if group["variant"] == "book-2016":
            v.copy_(m * v - lr * g)
        p.add_(m * m * v)
        p.sub_((1 + m) * lr * g)
        if group["variant"] == "book":
            v.copy_(m * v - lr * g)


class AdaGrad(_BookOptimizer):
    """ch6.1.5 AdaGrad: h ← h + g⊙g; W ← W − lr·g / (√h + 1e-7)."""

    def __init__(self, params: Iterable, lr: float = 0.01, weight_decay: float = 0.0,
                 eps: float = EPS):
        super().__init__(params, lr=lr, weight_decay=weight_decay, eps=eps)

    def _update(self, p, g, state, group):
        _zeros_state(state, p, "h")
        h = state["h"]
        h.add_(g * g)
        p.sub_(group["lr"] * g / (h.sqrt() + group["eps"]))


class RMSprop(_BookOptimizer):
    """ch6.1.5 RMSprop: h ← decay·h + (1 − decay)·g⊙g; W ← W − lr·g / (√h + 1e-7)."""

    def __init__(self, params: Iterable, lr: float = 0.01, decay_rate: float = 0.99,
                 weight_decay: float = 0.0, eps: float = EPS):
        super().__init__(params, lr=lr, decay_rate=decay_rate, weight_decay=weight_decay,
                         eps=eps)

    def _update(self, p, g, state, group):
        _zeros_state(state, p, "h")
        h, d = state["h"], group["decay_rate"]
        h.mul_(d)
        h.add_((1 - d) * g * g)
        p.sub_(group["lr"] * g / (h.sqrt() + group["eps"]))


class Adam(_BookOptimizer):
    """ch6.1.6 Adam, bias correction folded into the learning rate as in the book.

    t ← t + 1; lr_t = lr·√(1 − beta2^t)/(1 − beta1^t); m ← m + (1 − beta1)(g − m);
    v ← v + (1 − beta2)(g⊙g − v); W ← W − lr_t·m/(√v + 1e-7).
    """

    def __init__(self, params: Iterable, lr: float = 0.001, beta1: float = 0.9,
                 beta2: float = 0.999, weight_decay: float = 0.0, eps: float = EPS):
        super().__init__(params, lr=lr, beta1=beta1, beta2=beta2, weight_decay=weight_decay,
                         eps=eps)

    def _update(self, p, g, state, group):
        _zeros_state(state, p, "m", "v")
        state["step"] = state.get("step", 0) + 1
        t, b1, b2 = state["step"], group["beta1"], group["beta2"]
        lr_t = group["lr"] * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
        m, v = state["m"], state["v"]
        m.add_((1 - b1) * (g - m))
        v.add_((1 - b2) * (g * g - v))
        p.sub_(lr_t * m / (v.sqrt() + group["eps"]))


__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "EPS",
           "adam_book_eps", "book_param_groups"]
