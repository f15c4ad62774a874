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
    """ch3.2.7 ReLU max(0, x); autograd gives 0 at x = 0 like the book's Relu layer."""
    return torch.relu(x)


def softmax(x: torch.Tensor) -> torch.Tensor:
    """ch3.5.2 softmax over the last dim with the row max subtracted first."""
    z = x - x.max(dim=-1, keepdim=True).values.detach()
    e = torch.exp(z)
    return e / e.sum(dim=-1, keepdim=True)


# The book's constant inside the log of the cross-entropy (scratch.functions.CROSS_ENTROPY_DELTA).
CROSS_ENTROPY_DELTA = 1e-7


def sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    """ch5.5.2 derivative of the sigmoid, (1 − σ(x))·σ(x)."""
    s = sigmoid(x)
    return (1.0 - s) * s


def relu_grad(x: torch.Tensor) -> torch.Tensor:
    """The book's ReLU derivative helper: 1 where x >= 0 (autograd of ``relu`` gives 0 at 0)."""
    return (x >= 0).to(x.dtype if x.is_floating_point() else torch.get_default_dtype())


def sum_squared_error(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """ch4.2.1 0.5·Σ(y − t)² over everything (= 0.5·``mse_loss(reduction='sum')``)."""
    return 0.5 * torch.sum((y - t) ** 2)


def _labels(y: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``y`` as (N, C) and ``t`` as (N,) class indices (one-hot detected by size, as the book)."""
    if y.dim() == 1:
        y = y.reshape(1, -1)  # (1, C)
        t = t.reshape(1, -1)  # (1, C) one-hot or (1, 1) index
    if t.numel() == y.numel():
        t = t.argmax(dim=1)
    t = t.reshape(-1).long()  # (N,)
    if y.dim() != 2 or t.shape[0] != y.shape[0]:
        raise ValueError(f"cross_entropy_error: y has shape {tuple(y.shape)}, labels "
                         f"{tuple(t.shape)}; expected y (N, C) with labels (N,) or one-hot (N, C)")
    return y, t


def cross_entropy_error(y: torch.Tensor, t: torch.Tensor,
                        delta: float = CROSS_ENTROPY_DELTA) -> torch.Tensor:
    """ch4.2.4 the book's mean cross-entropy −Σ log(y[t] + 1e-7) / N of *probabilities* ``y``.

    Equals ``F.nll_loss(torch.log(y + delta), t)``; autograd differentiates it including the
    delta. ``delta=0`` is the book's code before 2017-12 and ``F.nll_loss(torch.log(y), t)``.
    """
    y, t = _labels(y, t)
    picked = y[torch.arange(y.shape[0]), t]  # (N,)
    return -torch.log(picked + delta).sum() / y.shape[0]


def softmax_cross_entropy(x: torch.Tensor, t: torch.Tensor, delta: float = CROSS_ENTROPY_DELTA,
                          grad: str = "book") -> torch.Tensor:
    """ch5.6.3 the book's ``SoftmaxWithLoss`` on scores ``x``: its value *and* its gradient.

    The value is the book's ``cross_entropy_error(softmax(x), t, delta)`` (1e-7 by default;
    ``delta=0`` gives ``F.cross_entropy``'s value). With ``grad="book"`` the gradient is the
    book's backward, (y − t)/N, which is the exact gradient of the cross-entropy without the
    delta (= ``F.cross_entropy``'s): the delta enters only as a detached constant. With
    ``grad="autograd"`` it is the exact derivative of the value, delta included (what central
    differences of the book's loss measure).
    """
    if grad not in ("book", "autograd"):
        raise ValueError(f"softmax_cross_entropy: grad must be 'book' or 'autograd', got {grad!r}")
    if grad == "autograd":
        return cross_entropy_error(softmax(x), t, delta)
    y2, t_idx = _labels(x, t)
    n = y2.shape[0]
    log_p = torch.log_softmax(y2, dim=-1)
    if t.numel() == x.numel():  # one-hot: the exact CE with soft targets, like the book's (y − t)
        exact = -(t.reshape(log_p.shape).to(log_p.dtype) * log_p).sum() / n
    else:
        exact = -log_p[torch.arange(n), t_idx].sum() / n
    if delta == 0:
        return exact
    book = cross_entropy_error(softmax(x), t, delta)
    return exact + (book - exact).detach()
