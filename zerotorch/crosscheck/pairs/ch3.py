"""ch3 activation functions: scratch ↔ zerotorch.functional ↔ torch built-ins."""

from __future__ import annotations

import numpy as np
import torch

from zerotorch import functional as zF
from zerotorch.crosscheck.registry import FunctionPair, register


def _x(rng: np.random.Generator) -> tuple:
    # (N, D) with a few exact zeros and large magnitudes: ties, kinks and overflow all appear.
    x = rng.standard_normal((4, 7)) * 3.0
    x[0, :3] = 0.0
    x[1, 0], x[1, 1] = 800.0, -800.0
    return (x,)


register(FunctionPair(
    name="functions.sigmoid", chapter="3.2.4", title="sigmoid",
    torch_fn=zF.sigmoid, inputs=_x,
    builtin=lambda p, x: torch.sigmoid(x), builtin_name="torch.sigmoid",
))
register(FunctionPair(
    name="functions.relu", chapter="3.2.7", title="ReLU",
    torch_fn=zF.relu, inputs=_x,
    builtin=lambda p, x: torch.relu(x), builtin_name="torch.relu",
))
register(FunctionPair(
    name="functions.softmax", chapter="3.5.2", title="softmax (batched)",
    torch_fn=zF.softmax, inputs=_x,
    builtin=lambda p, x: torch.softmax(x, dim=-1), builtin_name="torch.softmax",
))
