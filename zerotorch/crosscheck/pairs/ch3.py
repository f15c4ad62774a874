"""ch3 activation functions and the three-layer network: scratch ↔ zerotorch ↔ torch built-ins."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from zerotorch import functional as zF
from zerotorch.crosscheck.compare import compare, tensor
from zerotorch.crosscheck.registry import CustomPair, Form, FunctionPair, Probe
from zerotorch.networks import two_layer_net as ztl
from zerotorch.nn import linear_from_book

CONCEPTS: list = []  # this chapter group's concepts, in the book's order


def _x(rng: np.random.Generator) -> tuple:
    # (N, D) with a few exact zeros and large magnitudes: ties, kinks and overflow all appear.
    x = rng.standard_normal((4, 7)) * 3.0
    x[0, :3] = 0.0
    x[1, 0], x[1, 1] = 800.0, -800.0
    return (x,)


SOFTMAX_SHIFT = 1000.0  # exp(1000) overflows float64 (max ≈ exp(709.8))


def _shift_first(args: tuple) -> tuple:
    return (np.asarray(args[0], dtype=np.float64) + SOFTMAX_SHIFT, *args[1:])


# Every input shifted by 1000: a softmax without the row max subtracted overflows.
SOFTMAX_SHIFT_PROBE = Probe(f"x + {SOFTMAX_SHIFT:g}", _shift_first)


def _x1d(rng: np.random.Generator) -> tuple:
    x = rng.standard_normal(9) * 3.0
    x[0] = 1000.0  # the book's overflow example: exp(1010) without the max subtracted
    return (x,)


CONCEPTS.append(FunctionPair(
    name="functions.step_function", chapter="3.2.2", title="step function (step(0) = 0)",
    torch_fn=zF.step_function, inputs=_x, differentiable=False,
    builtin=lambda p, x: torch.heaviside(x, torch.zeros((), dtype=x.dtype)),
    builtin_name="torch.heaviside(x, 0)",
    # 3.2.2 prints `if x > 0: return 1 else: return 0` first, for one number
    forms=(Form("one number (the first form printed in 3.2.2)", {"inputs": lambda rng: (
        np.asarray(rng.choice([-1.5, -0.25, 0.0, 0.75, 2.0])),)}),),
))
CONCEPTS.append(FunctionPair(
    name="functions.identity_function", chapter="3.5.1", title="identity output",
    torch_fn=zF.identity_function, inputs=_x,
    builtin=lambda p, x: nn.Identity()(x), builtin_name="nn.Identity",
))
CONCEPTS.append(FunctionPair(
    name="functions.sigmoid", chapter="3.2.4", title="sigmoid",
    torch_fn=zF.sigmoid, inputs=_x,
    builtin=lambda p, x: torch.sigmoid(x), builtin_name="torch.sigmoid",
))
CONCEPTS.append(FunctionPair(
    name="functions.relu", chapter="3.2.7", title="ReLU",
    torch_fn=zF.relu, inputs=_x,
    builtin=lambda p, x: torch.relu(x), builtin_name="torch.relu",
))
CONCEPTS.append(FunctionPair(
    name="functions.softmax", chapter="3.5.2", title="softmax (batched)",
    torch_fn=zF.softmax, inputs=_x,
    builtin=lambda p, x: torch.softmax(x, dim=-1), builtin_name="torch.softmax",
    probes=(SOFTMAX_SHIFT_PROBE,),
))
CONCEPTS.append(FunctionPair(
    name="functions.softmax[1d]", chapter="3.5.2", title="softmax (1-D, overflow-safe)",
    scratch_fn="functions.softmax", torch_fn=zF.softmax, inputs=_x1d,
    builtin=lambda p, x: torch.softmax(x, dim=-1), builtin_name="torch.softmax",
    probes=(SOFTMAX_SHIFT_PROBE,),
))


def random_ch3_network(rng: np.random.Generator) -> dict:
    """A float64 784-50-100-10 params dict shaped like the book's ``sample_weight.pkl``."""
    sizes = (784, 50, 100, 10)
    net = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        net[f"W{i}"] = rng.standard_normal((n_in, n_out)) * 0.1
        net[f"b{i}"] = rng.standard_normal(n_out) * 0.1
    return net


def _ch3_builtin(network: dict) -> nn.Sequential:
    layers = []
    for i in (1, 2, 3):
        lin = linear_from_book(torch.as_tensor(network[f"W{i}"]),
                               torch.as_tensor(network[f"b{i}"]))  # weight = W.T
        layers += [lin, nn.Sigmoid()] if i < 3 else [lin, nn.Softmax(dim=-1)]
    return nn.Sequential(nn.Flatten(), *layers)


def _check_ch3_predict(concept, impl, rng):
    """The book's 2-3-2-2 example and a random 784-50-100-10 net: predict on both sides."""
    predict = concept.lookup(impl)
    stages = []
    examples = (("2-3-2-2", {k: np.asarray(v) for k, v in ztl.init_network().items()},
                 rng.standard_normal((5, 2))),
                # flatten=True, as 3.6.1 loads MNIST
                ("784-50-100-10", random_ch3_network(rng), rng.uniform(0, 1, (6, 784))))
    for label, network, x in examples:
        network = {k: np.asarray(v, dtype=np.float64) for k, v in network.items()}
        y_s = predict({k: v.copy() for k, v in network.items()}, x.copy())
        net_t = {k: tensor(v) for k, v in network.items()}
        x_t = tensor(x, requires_grad=True)
        y_t = ztl.predict(net_t, x_t)
        stages.append(compare("forward", y_t, y_s, note=label))
        y_b = _ch3_builtin(network)(x_t.detach())
        stages.append(compare("forward", y_b, y_t, against="builtin", note=label))
    return stages


CONCEPTS.append(CustomPair(
    name="networks.predict", chapter="3.6.1",
    title="ch3 three-layer net predict (sigmoid, sigmoid, softmax)",
    check=_check_ch3_predict,
    builtin_name="nn.Sequential(Linear, Sigmoid, Linear, Sigmoid, Linear, Softmax)",
    requires=("functions.sigmoid", "functions.softmax"),
))
