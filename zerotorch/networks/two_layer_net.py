"""ch3–ch5 networks as ``nn.Module``s with the book's class names and parameter names.

Mirrors ``scratch.two_layer_net``: ``init_network``/``forward``/``predict`` (ch3), ``SimpleNet``
(ch4.4.2), ``TwoLayerNetCh4`` (ch4.5, sigmoid; the book's ch4 ``TwoLayerNet``) and
``TwoLayerNet`` (ch5.7, ReLU), all on ``zerotorch.networks.base.BookNetwork``: ``state_dict()``
keys are the book's (``W1``, ``b1``, …, W as (in, out)) and a book params dict loads with
``load_params``. ``forward(x)`` returns scores (logits); ``predict`` is the book's ``predict``
(probabilities for the ch4 nets, scores for ch5); ``loss`` has the book's value (1e-7 inside the
log) and the book's gradient (see ``functional.softmax_cross_entropy``).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from zerotorch import functional as F_
from zerotorch.networks.base import BookNetwork
from zerotorch.nn import Affine, Relu, linear_from_book
from zerotorch.tensors import as_tensor


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

    return {k: as_tensor(v, dtype) for k, v in load_params(path).items()}


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


def _normal(shape, std, generator, dtype) -> nn.Parameter:
    return nn.Parameter(std * torch.randn(*shape, generator=generator, dtype=dtype))


def _zeros(n, dtype) -> nn.Parameter:
    return nn.Parameter(torch.zeros(n, dtype=dtype))


def _two_layer_params(input_size, hidden_size, output_size, weight_init_std, generator,
                      dtype) -> dict[str, nn.Parameter]:
    """ch4.5.1 W1 (in, hidden), W2 (hidden, out) ~ N(0, std²) drawn from ``generator`` in that
    order (like the scratch side); biases 0."""
    return {"W1": _normal((input_size, hidden_size), weight_init_std, generator, dtype),
            "b1": _zeros(hidden_size, dtype),
            "W2": _normal((hidden_size, output_size), weight_init_std, generator, dtype),
            "b2": _zeros(output_size, dtype)}


def _own_parameters(net: BookNetwork, params: dict[str, nn.Parameter]) -> None:
    """Hold ``params`` on the network itself under their book keys (the hand-written nets)."""
    for key, p in params.items():
        setattr(net, key, p)
        net._book_names[key] = ("", key)


# --- ch4 --------------------------------------------------------------------------------------


class SimpleNet(BookNetwork):
    """ch4.4.2 ``simpleNet``: scores x·W with W (2, 3) ~ N(0, 1)."""

    def __init__(self, generator: torch.Generator | None = None,
                 dtype: torch.dtype | None = None):
        super().__init__()
        _own_parameters(self, {"W": _normal((2, 3), 1.0, generator, dtype)})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.W

    def to_builtin(self) -> nn.Linear:
        return linear_from_book(self.W, torch.zeros(self.W.shape[1], dtype=self.W.dtype))


class TwoLayerNetCh4(BookNetwork):
    """ch4.5.1 the book's ch4 ``TwoLayerNet``: Affine → sigmoid → Affine (→ softmax), written
    out by hand as the book does (so a 1-D ``x`` is one sample, as there).

    Weights ~ N(0, weight_init_std²) drawn from ``generator`` (W1 first, like the scratch
    side); biases 0; ``dtype`` is the parameters' dtype (default: torch's).
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 weight_init_std: float = 0.01, generator: torch.Generator | None = None,
                 dtype: torch.dtype | None = None):
        super().__init__()
        _own_parameters(self, _two_layer_params(input_size, hidden_size, output_size,
                                                weight_init_std, generator, dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F_.sigmoid(_flat(x) @ self.W1 + self.b1) @ self.W2 + self.b2

    def predict(self, x: torch.Tensor, train_flg: bool = False) -> torch.Tensor:
        """Probabilities, as the book's ch4 ``predict``."""
        return F_.softmax(self.forward(x))

    def to_builtin(self) -> nn.Sequential:
        return nn.Sequential(nn.Flatten(), linear_from_book(self.W1, self.b1), nn.Sigmoid(),
                             linear_from_book(self.W2, self.b2))


# --- ch5 --------------------------------------------------------------------------------------


class TwoLayerNet(BookNetwork):
    """ch5.7.2 two-layer net: Affine1 → Relu1 → Affine2, loss = SoftmaxWithLoss.

    The layers carry the scratch twin's names; ``state_dict()`` keys are the book's (``W1``,
    ``b1``, ``W2``, ``b2``); ``to_builtin`` gives ``nn.Sequential(Flatten, Linear, ReLU,
    Linear)`` with ``weight = W.T``.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 weight_init_std: float = 0.01, generator: torch.Generator | None = None,
                 dtype: torch.dtype | None = None):
        super().__init__()
        p = _two_layer_params(input_size, hidden_size, output_size, weight_init_std, generator,
                              dtype)
        self._add("Affine1", Affine(p["W1"], p["b1"]), W="W1", b="b1")
        self._add("Relu1", Relu())
        self._add("Affine2", Affine(p["W2"], p["b2"]), W="W2", b="b2")
