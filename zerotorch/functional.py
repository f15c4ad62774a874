"""ch3–ch4 functions in torch ops, mirroring ``scratch.functions`` formula by formula."""

from __future__ import annotations

import torch

from scratch.checks import (
    empty_batch_error,
    label_count_error,
    label_dtype_error,
    label_value_error,
)


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


def class_labels(what: str, t, scores_shape) -> torch.Tensor:
    """``scratch.checks.class_labels`` in torch ops: the same checks and the same messages.

    Returns the (N, C) one-hot rows as given, or the (N,) class indices as int64. Costs one
    device sync (whether any label is bad).
    """
    t = torch.as_tensor(t)
    scores_shape = tuple(scores_shape)
    n, classes = (1, scores_shape[0]) if len(scores_shape) == 1 else scores_shape[:2]
    if n == 0:
        raise empty_batch_error(what, scores_shape)
    if t.numel() == n * classes:
        return t.reshape(n, classes)
    if t.numel() != n:
        raise label_count_error(what, tuple(t.shape), scores_shape)
    t = t.reshape(n)
    if t.dtype == torch.bool or t.is_complex():
        raise label_dtype_error(what, t.dtype)
    bad = (t < 0) | (t >= classes)
    if t.is_floating_point():
        bad |= t != torch.floor(t)  # NaN too
    if bad.any():
        i = int(bad.to(torch.uint8).argmax())
        raise label_value_error(what, i, t[i].item(), classes)
    return t.long()


def _labels(y: torch.Tensor, t, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``y`` as (N, C) (1-D is a batch of one) and ``t`` checked: (N, C) one-hot or (N,)."""
    if y.dim() not in (1, 2):
        raise ValueError(f"{what}: y has shape {tuple(y.shape)}; expected (N, C) or (C,) scores")
    t = class_labels(what, t, y.shape)
    return y.reshape(-1, y.shape[-1]), t


def cross_entropy_error(y: torch.Tensor, t: torch.Tensor,
                        delta: float = CROSS_ENTROPY_DELTA) -> torch.Tensor:
    """ch4.2.4 the book's mean cross-entropy −Σ log(y[t] + 1e-7) / N of *probabilities* ``y``.

    Equals ``F.nll_loss(torch.log(y + delta), t)``; autograd differentiates it including the
    delta. ``delta=0`` is the book's code before 2017-12 and ``F.nll_loss(torch.log(y), t)``.
    """
    return _cross_entropy(*_labels(y, t, "cross_entropy_error"), delta)


def _cross_entropy(y: torch.Tensor, t: torch.Tensor, delta: float) -> torch.Tensor:
    """The book's formula on (N, C) ``y`` and labels already checked by ``class_labels``."""
    if t.dim() == 2:  # one-hot rows → indices, as the book
        t = t.argmax(dim=1)
    picked = y[torch.arange(y.shape[0]), t]  # (N,)
    return -torch.log(picked + delta).sum() / y.shape[0]


def softmax_cross_entropy(x: torch.Tensor, t: torch.Tensor, delta: float = CROSS_ENTROPY_DELTA,
                          grad: str = "book", what: str = "SoftmaxWithLoss") -> torch.Tensor:
    """ch5.6.3 the book's ``SoftmaxWithLoss`` on scores ``x``: its value *and* its gradient.

    The value is the book's ``cross_entropy_error(softmax(x), t, delta)`` (1e-7 by default;
    ``delta=0`` gives ``F.cross_entropy``'s value). With ``grad="book"`` the gradient is the
    book's backward, (y − t)/N, which is the exact gradient of the cross-entropy without the
    delta (= ``F.cross_entropy``'s): the delta enters only as a detached constant. With
    ``grad="autograd"`` it is the exact derivative of the value, delta included (what central
    differences of the book's loss measure). The labels are checked once, in the name of
    ``what`` (a network passes its own: ``TwoLayerNet.loss``).
    """
    if grad not in ("book", "autograd"):
        raise ValueError(f"softmax_cross_entropy: grad must be 'book' or 'autograd', got {grad!r}")
    y2, t2 = _labels(x, t, what)
    if grad == "autograd":
        return _cross_entropy(softmax(y2), t2, delta)
    n = y2.shape[0]
    log_p = torch.log_softmax(y2, dim=-1)
    if t2.dim() == 2:  # one-hot: the exact CE with soft targets, like the book's (y − t)
        exact = -(t2.to(log_p.dtype) * log_p).sum() / n
    else:
        exact = -log_p[torch.arange(n), t2].sum() / n
    if delta == 0:
        return exact
    book = _cross_entropy(softmax(y2), t2, delta)
    return exact + (book - exact).detach()
