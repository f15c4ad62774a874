"""ch3–ch5 networks as ``nn.Module``s with the book's class names and parameter names.

Mirrors ``scratch.two_layer_net``: ``init_network``/``forward``/``predict`` (ch3), ``SimpleNet``
(ch4.4.2), ``TwoLayerNetCh4`` (ch4.5, sigmoid; the book's ch4 ``TwoLayerNet``) and
``TwoLayerNet`` (ch5.7, ReLU). Parameters are attributes named like the book's ``params`` keys
(``W1``, ``b1``, …, W as (in, out)), so ``state_dict()`` keys are exactly the book's and a book
params dict loads with ``load_params``. ``forward(x)`` returns scores (logits); ``predict`` is the
book's ``predict`` (probabilities for the ch4 nets, scores for ch5); ``loss`` has the book's
value (1e-7 inside the log) and the book's gradient (see ``functional.softmax_cross_entropy``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from scratch.checks import check_batch
from zerotorch import functional as F_
from zerotorch.nn import linear_from_book


def _tensor(value, dtype=None) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().clone() if dtype is None else value.detach().to(dtype).clone()
    return torch.as_tensor(np.asarray(value), dtype=dtype).clone()


def _flat(x: torch.Tensor) -> torch.Tensor:
    return x.reshape(x.shape[0], -1) if x.dim() > 2 else x  # (N, D) from (N, C, H, W)


# --- ch3 --------------------------------------------------------------------------------------


def init_network(path=None, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """ch3.4.3 / ch3.6.1 the three-layer network's weights as tensors.

    Without ``path``: the book's 2-3-2-2 example (float64 unless ``dtype``). With ``path``: the
    book's ``sample_weight.pkl`` via the safe loader, keeping its float32 unless ``dtype``.
    """
    if path is None:
        from scratch.two_layer_net import CH3_EXAMPLE

        return {k: torch.tensor(v, dtype=dtype or torch.float64) for k, v in CH3_EXAMPLE.items()}
    from scratch.io import load_params

    return {k: _tensor(v, dtype) for k, v in load_params(path).items()}


def _three_layers(network: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    x = _flat(x)  # (N, 784)
    z1 = F_.sigmoid(x @ network["W1"] + network["b1"])
    z2 = F_.sigmoid(z1 @ network["W2"] + network["b2"])
    return z2 @ network["W3"] + network["b3"]


def forward(network: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """ch3.4.3 forward pass, sigmoid hidden layers, identity output."""
    return F_.identity_function(_three_layers(network, x))


def predict(network: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """ch3.6.1 forward pass, sigmoid hidden layers, softmax output."""
    return F_.softmax(_three_layers(network, x))


# --- the common network API -------------------------------------------------------------------


class BookNetwork(nn.Module):
    """ch4–ch6 base of the networks: book-named parameters, ``book_params``/``load_params``,
    the book's loss and accuracy."""

    # The loss's cross-entropy: the book's 1e-7 in the log and its backward (y − t)/N by default;
    # ``loss_delta = 0`` is F.cross_entropy, ``loss_grad = "autograd"`` differentiates the delta
    # too (see ``functional.softmax_cross_entropy``).
    loss_delta: float = F_.CROSS_ENTROPY_DELTA
    loss_grad: str = "book"

    def book_params(self) -> dict[str, nn.Parameter]:
        """The parameters keyed like the book's ``params`` dict (here: their attribute names)."""
        return dict(self.named_parameters())

    @torch.no_grad()
    def load_params(self, params: Mapping) -> BookNetwork:
        """Copy a book params dict (NumPy arrays or tensors) in, keeping this module's dtype."""
        own = self.book_params()
        missing = sorted(set(own) - set(params))
        unknown = sorted(set(params) - set(own))
        if missing or unknown:
            raise KeyError(f"{type(self).__name__}.load_params: missing {missing}, unknown "
                           f"{unknown}; expected keys {sorted(own)}")
        for k, p in own.items():
            value = _tensor(params[k])
            if tuple(value.shape) != tuple(p.shape):
                raise ValueError(f"{type(self).__name__}.load_params: {k} has shape "
                                 f"{tuple(value.shape)}, expected {tuple(p.shape)}")
            p.copy_(value)
        return self

    def loss(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The book's loss: softmax + cross-entropy with 1e-7 in the log, mean over the batch."""
        check_batch(f"{type(self).__name__}.loss", x)
        return F_.softmax_cross_entropy(self.forward(x), t, self.loss_delta, self.loss_grad,
                                        what=f"{type(self).__name__}.loss")

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, t: torch.Tensor) -> float:
        """Fraction of correct argmaxes of ``predict(x)`` over every sample (none dropped).

        Labels: (N,) indices or (N, C) one-hot. ``predict`` is the book's (test mode for the
        ch6 nets; probabilities for the ch4 nets, whose argmax is the scores').
        """
        check_batch(f"{type(self).__name__}.accuracy", x)
        scores = self.predict(x)
        scores = scores.reshape(-1, scores.shape[-1])  # (N, C); 1-D input is a batch of one
        t = F_.class_labels(f"{type(self).__name__}.accuracy", t, scores.shape)
        if t.dim() == 2:  # one-hot
            t = t.argmax(dim=1)
        return float((scores.argmax(dim=1) == t.to(scores.device)).sum().item() / scores.shape[0])


def _normal(shape, std, generator, dtype) -> nn.Parameter:
    return nn.Parameter(std * torch.randn(*shape, generator=generator, dtype=dtype))


def _zeros(n, dtype) -> nn.Parameter:
    return nn.Parameter(torch.zeros(n, dtype=dtype))


# --- ch4 --------------------------------------------------------------------------------------


class SimpleNet(BookNetwork):
    """ch4.4.2 ``simpleNet``: scores x·W with W (2, 3) ~ N(0, 1)."""

    def __init__(self, generator: torch.Generator | None = None,
                 dtype: torch.dtype | None = None):
        super().__init__()
        self.W = _normal((2, 3), 1.0, generator, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.W

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward(x)


class _TwoLayerParams(BookNetwork):
    """ch4.5.1 the two-layer nets' parameters W1 (in, hidden), b1, W2 (hidden, out), b2.

    Weights ~ N(0, weight_init_std²) drawn from ``generator`` (W1 first, like the scratch
    side); biases 0; ``dtype`` is the parameters' dtype (default: torch's).
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 weight_init_std: float = 0.01, generator: torch.Generator | None = None,
                 dtype: torch.dtype | None = None):
        super().__init__()
        self.W1 = _normal((input_size, hidden_size), weight_init_std, generator, dtype)
        self.b1 = _zeros(hidden_size, dtype)
        self.W2 = _normal((hidden_size, output_size), weight_init_std, generator, dtype)
        self.b2 = _zeros(output_size, dtype)


class TwoLayerNetCh4(_TwoLayerParams):
    """ch4.5.1 the book's ch4 ``TwoLayerNet``: Affine → sigmoid → Affine (→ softmax)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F_.sigmoid(_flat(x) @ self.W1 + self.b1) @ self.W2 + self.b2

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities, as the book's ch4 ``predict``."""
        return F_.softmax(self.forward(x))


# --- ch5 --------------------------------------------------------------------------------------


class TwoLayerNet(_TwoLayerParams):
    """ch5.7.2 two-layer net: Affine1 → Relu1 → Affine2, loss = SoftmaxWithLoss.

    The parameters sit directly on the module as ``W1``, ``b1``, ``W2``, ``b2`` (not inside
    ``Affine`` submodules), so ``state_dict()`` keys are the book's keys; ``to_builtin`` gives the
    same map as ``nn.Sequential(Flatten, Linear, ReLU, Linear)`` with ``weight = W.T``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F_.relu(_flat(x) @ self.W1 + self.b1) @ self.W2 + self.b2

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Scores before the softmax, as the book's ch5 ``predict``."""
        return self.forward(x)

    def to_builtin(self) -> nn.Sequential:
        """The built-in equivalent: ``nn.Linear`` layers holding ``W.T``."""
        return nn.Sequential(nn.Flatten(), linear_from_book(self.W1, self.b1), nn.ReLU(),
                             linear_from_book(self.W2, self.b2))
