"""ch5 backpropagation layers: scratch.layers ↔ zerotorch.nn ↔ torch built-ins."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from zerotorch import nn as znn
from zerotorch.crosscheck.registry import LayerPair, register


def _x(rng: np.random.Generator) -> tuple:
    x = rng.standard_normal((5, 6))
    x[0, :2] = 0.0  # the kink of ReLU is exercised
    return (x,)


register(LayerPair(
    name="layers.Relu", chapter="5.5.1", title="ReLU layer",
    torch_cls=znn.Relu, inputs=_x,
    builtin=lambda p, x: F.relu(x), builtin_name="F.relu",
))
register(LayerPair(
    name="layers.Sigmoid", chapter="5.5.2", title="Sigmoid layer",
    torch_cls=znn.Sigmoid, inputs=_x,
    builtin=lambda p, x: torch.sigmoid(x), builtin_name="torch.sigmoid",
))
register(LayerPair(
    name="layers.Affine", chapter="5.6.2", title="Affine layer (4-D input)",
    torch_cls=znn.Affine,
    init=lambda rng: {"W": rng.standard_normal((12, 5)), "b": rng.standard_normal(5)},
    inputs=lambda rng: (rng.standard_normal((4, 3, 2, 2)),),  # (N, C, H, W) flattened to (N, 12)
    params=("W", "b"),
    builtin=lambda p, x: F.linear(x.reshape(x.shape[0], -1), p["W"].T, p["b"]),
    builtin_name="nn.Linear (weight = W.T)",
))
