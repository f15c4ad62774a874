"""ch4 losses, numerical differentiation and the ch4 networks: scratch ↔ zerotorch ↔ built-ins."""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from zerotorch import functional as zF
from zerotorch.crosscheck.compare import (
    NUMERICAL_ATOL,
    NUMERICAL_RTOL,
    check_unchanged,
    compare,
    tensor,
)
from zerotorch.crosscheck.registry import (
    BOOK,
    CustomPair,
    Form,
    FunctionPair,
    NetworkPair,
    Reference,
    book,
)
from zerotorch.networks import two_layer_net as ztl

CONCEPTS: list = []  # this chapter group's concepts, in the book's order

DELTA = zF.CROSS_ENTROPY_DELTA  # the book's 1e-7 inside the log, part of the built-in mapping
N_CLASSES = 10
# gradient_descent steps on f = x0² + x1² with the numerical gradient (h = 1e-4): central
# differences are exact on a quadratic up to rounding, eps·x²/h ≈ 2e-11 per step, so the whole
# trajectory stays within this of SGD with autograd.
DESCENT_ATOL = 1e-9


def _probabilities(rng: np.random.Generator, n: int = 5) -> np.ndarray:
    z = rng.standard_normal((n, N_CLASSES)) * 2.0
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)  # (N, C) rows summing to 1


def _one_hot(labels: np.ndarray) -> np.ndarray:
    return np.eye(N_CLASSES)[labels]  # (N, C)


def _labels(rng, n=5):
    return rng.integers(0, N_CLASSES, size=n)


def _nll_with_delta(y: torch.Tensor, t: torch.Tensor, delta: float = DELTA) -> torch.Tensor:
    """The built-in form of the book's loss: ``F.nll_loss(log(y + 1e-7), t)``."""
    y2 = y.reshape(-1, y.shape[-1])  # (N, C)
    t2 = t.reshape(y2.shape).argmax(dim=1) if t.numel() == y.numel() else t.reshape(-1).long()
    return F.nll_loss(torch.log(y2 + delta), t2)


CONCEPTS.append(FunctionPair(
    name="functions.sum_squared_error", chapter="4.2.1", title="sum of squared errors",
    torch_fn=zF.sum_squared_error,
    inputs=lambda rng: (_probabilities(rng), _one_hot(_labels(rng))),
    builtin=lambda p, y, t: 0.5 * F.mse_loss(y, t, reduction="sum"),
    builtin_name="0.5 · F.mse_loss(reduction='sum')",
))
_CE_BUILTIN = "F.nll_loss(log(y + 1e-7), t)"
# Today's book puts 1e-7 inside the log (since commit ea91786, 2017-12); before, and in
# PyTorch, there is none. Every concept with a cross-entropy declares both.
CE_DELTA = "+1e-7 in the log (F.cross_entropy, and the book before 2017-12, have none)"
CE_BOOK = book(CE_DELTA)


def _ce_pytorch(**fields) -> Reference:
    """The PyTorch reference of a cross-entropy concept: no delta (the book before 2017-12)."""
    return Reference("pytorch", fields=fields)


# A network's loss: ours with the book's delta, the PyTorch reference without (``loss_delta``).
NETWORK_LOSS = {"ours": CE_BOOK, "references": (_ce_pytorch(loss_delta=0.0),)}


def _label_taken_as_one_hot(result, ctx) -> str:
    """The label variants: does the code compute −Σ t·log(y + 1e-7) with the label as t?"""
    first = result.first_failure()
    if first is None or first.name != "forward" or ctx.inputs is None:
        return ""
    y, t = (np.asarray(a, dtype=np.float64) for a in ctx.inputs)
    y2 = y.reshape(-1, y.shape[-1])
    as_one_hot = -np.sum(t.reshape(-1, 1) * np.log(y2 + DELTA)) / y2.shape[0]
    if np.allclose(first.actual, as_one_hot, rtol=1e-9, atol=1e-12):
        return ("your cross-entropy takes one-hot labels only: a class index is used as t in "
                "−Σ t·log(y) (the first form printed in 4.2.4; the final one picks "
                "y[np.arange(N), t])")
    return ""


def _ce_functions() -> dict:
    """The references of the cross-entropy functions: ours (the book's delta) and PyTorch's."""
    return {"ours": CE_BOOK, "references": (_ce_pytorch(
        torch_fn=lambda y, t: zF.cross_entropy_error(y, t, delta=0.0),
        builtin=lambda p, y, t: _nll_with_delta(y, t, 0.0),
        builtin_name="F.nll_loss(log(y), t)"),)}

CONCEPTS.append(FunctionPair(
    name="functions.cross_entropy_error", chapter="4.2.4",
    title="cross-entropy, batch, integer labels",
    torch_fn=zF.cross_entropy_error,
    inputs=lambda rng: (_probabilities(rng), _labels(rng)),
    builtin=lambda p, y, t: _nll_with_delta(y, t), builtin_name=_CE_BUILTIN,
    forms=(Form("one-hot labels only (the first form printed in 4.2.4)",
                {"inputs": lambda rng: (_probabilities(rng), _one_hot(_labels(rng)))}),),
    **_ce_functions(),
))
CONCEPTS.append(FunctionPair(
    name="functions.cross_entropy_error[onehot]", chapter="4.2.4",
    title="cross-entropy, batch, one-hot labels", scratch_fn="functions.cross_entropy_error",
    torch_fn=zF.cross_entropy_error,
    inputs=lambda rng: (_probabilities(rng), _one_hot(_labels(rng))),
    builtin=lambda p, y, t: _nll_with_delta(y, t), builtin_name=_CE_BUILTIN,
    **_ce_functions(),
))
CONCEPTS.append(FunctionPair(
    name="functions.cross_entropy_error[1d]", chapter="4.2.2",
    title="cross-entropy, one sample (1-D), one-hot label",
    scratch_fn="functions.cross_entropy_error", torch_fn=zF.cross_entropy_error,
    inputs=lambda rng: (_probabilities(rng, 1)[0], _one_hot(_labels(rng, 1))[0]),
    builtin=lambda p, y, t: _nll_with_delta(y, t), builtin_name=_CE_BUILTIN,
    **_ce_functions(),
))
CONCEPTS.append(FunctionPair(
    name="functions.cross_entropy_error[1d,label]", chapter="4.2.4",
    title="cross-entropy, one sample (1-D), integer label",
    scratch_fn="functions.cross_entropy_error", torch_fn=zF.cross_entropy_error,
    inputs=lambda rng: (_probabilities(rng, 1)[0], np.int64(rng.integers(0, N_CLASSES))),
    builtin=lambda p, y, t: _nll_with_delta(y, t), builtin_name=_CE_BUILTIN,
    diagnoses=(_label_taken_as_one_hot,),
    **_ce_functions(),
))


def _sigmoid_grad_builtin(p, x):
    s = torch.sigmoid(x)
    return torch.autograd.grad(s, x, torch.ones_like(s), create_graph=True)[0]


CONCEPTS.append(FunctionPair(
    name="functions.sigmoid_grad", chapter="5.5.2", title="sigmoid derivative",
    torch_fn=zF.sigmoid_grad, inputs=lambda rng: (rng.standard_normal((4, 6)) * 3.0,),
    builtin=_sigmoid_grad_builtin, builtin_name="autograd of torch.sigmoid",
))
CONCEPTS.append(FunctionPair(
    name="functions.relu_grad", chapter="5.5.1", title="ReLU derivative (relu_grad(0) = 1)",
    torch_fn=zF.relu_grad, differentiable=False,
    inputs=lambda rng: (np.concatenate([rng.standard_normal(9), [0.0]]),),
    ours=book("relu_grad(0) = 1 (x >= 0), where autograd of relu and the Relu layer give 0",
              # test_relu_grad_* measures it
              ),
    references=(
        Reference("pytorch", fields={"torch_fn": lambda x: (x > 0).to(x.dtype)}),
        Reference("book 2016", BOOK, "grad = np.zeros(x) raises TypeError for an array (fixed "
                  "2019-10: np.zeros_like(x))", accepts=lambda r, ctx: r.status == "ERROR"
                  and "np.zeros(x)" in r.error),
    ),
))


# --- numerical differentiation vs autograd ----------------------------------------------------


def _check_numerical_diff(concept, impl, rng):
    """ch4.3.2 f(x) = 0.01x² + 0.1x at 5 and 10 (and a random point) vs autograd."""
    numerical_diff = concept.lookup(impl)
    xs = np.array([5.0, 10.0, rng.uniform(-10, 10)])
    got = np.array([numerical_diff(lambda x: 0.01 * x ** 2 + 0.1 * x, float(x)) for x in xs])
    x_t = tensor(xs, requires_grad=True)
    (0.01 * x_t ** 2 + 0.1 * x_t).sum().backward()
    return [compare("df/dx", x_t.grad, got, against="builtin", rtol=NUMERICAL_RTOL,
                    atol=NUMERICAL_ATOL, note="autograd vs central difference")]


def _check_numerical_gradient(concept, impl, rng, shape=(3, 4, 2)):
    """A smooth function of an array (3-D: common/gradient.py takes any ndim): f called with x,
    and f reading x through a closure."""
    numerical_gradient = concept.lookup(impl)
    x = rng.standard_normal(shape)
    a = rng.standard_normal(x.shape)
    before = x.copy()

    def f_np(z):
        return float(np.sum(np.sin(z) * a) + 0.5 * np.sum(z ** 2) * np.sum(z[0]))

    x_t = tensor(before, requires_grad=True)
    (torch.sum(torch.sin(x_t) * tensor(a)) + 0.5 * torch.sum(x_t ** 2) * torch.sum(x_t[0])
     ).backward()
    stages = []
    for style, f in (("f(x)", f_np), ("closure", lambda _z: f_np(x))):
        g = numerical_gradient(f, x)
        stages.append(compare("gradient", x_t.grad, g, against="builtin", rtol=NUMERICAL_RTOL,
                              atol=NUMERICAL_ATOL, note=f"autograd vs central difference, {style}"))
        stages.append(check_unchanged("x unchanged", before, x))
    return stages


def _check_gradient_descent(concept, impl, rng):
    """ch4.4.1 x0² + x1² from (−3, 4), lr 0.1, 100 steps vs torch.optim.SGD with autograd."""
    gradient_descent = concept.lookup(impl)
    stages = []
    for start in (np.array([-3.0, 4.0]), rng.standard_normal(2) * 3):
        init = start.copy()
        out = gradient_descent(lambda x: x[0] ** 2 + x[1] ** 2, init, lr=0.1, step_num=100)
        got = out[0] if isinstance(out, tuple) else out
        p = torch.nn.Parameter(tensor(start))
        opt = torch.optim.SGD([p], lr=0.1)
        for _ in range(100):
            opt.zero_grad()
            (p ** 2).sum().backward()
            opt.step()
        stages.append(compare("x after 100 steps", p, got, against="builtin", rtol=0.0,
                              atol=DESCENT_ATOL, note=f"from {start.round(3).tolist()}"))
    return stages


CONCEPTS.append(CustomPair(
    name="gradient.numerical_diff", chapter="4.3.2", title="central difference",
    check=_check_numerical_diff, builtin_name="torch.autograd",
))
CONCEPTS.append(CustomPair(
    name="gradient.numerical_gradient", chapter="4.4", title="numerical gradient (3-D input)",
    check=_check_numerical_gradient, builtin_name="torch.autograd",
    forms=(Form("a 2-D array (ch04/gradient_2d.py's form)", {"check": functools.partial(
                    _check_numerical_gradient, shape=(3, 4))}),
           Form("a 1-D array (the form printed in 4.4)", {"check": functools.partial(
                    _check_numerical_gradient, shape=(5,))})),
))
CONCEPTS.append(CustomPair(
    name="gradient.gradient_descent", chapter="4.4.1", title="gradient descent",
    check=_check_gradient_descent, builtin_name="torch.optim.SGD + autograd",
))


# --- networks ---------------------------------------------------------------------------------


CONCEPTS.append(NetworkPair(
    name="networks.SimpleNet", chapter="4.4.2", title="simpleNet (2×3, softmax, CE)",
    build=lambda cls, rng: cls(rng=rng),
    torch_build=lambda net: ztl.SimpleNet(dtype=torch.float64).load_params(net.params),
    inputs=lambda rng: (rng.standard_normal((4, 2)), np.eye(3)[rng.integers(0, 3, 4)]),
    requires=("functions.softmax", "functions.cross_entropy_error"),
    **NETWORK_LOSS,
))
CONCEPTS.append(NetworkPair(
    name="networks.TwoLayerNetCh4", chapter="4.5.1",
    title="ch4 TwoLayerNet (sigmoid; the book's ch4 TwoLayerNet)",
    build=lambda cls, rng: cls(6, 5, 3, weight_init_std=0.5, rng=rng),
    torch_build=lambda net: ztl.TwoLayerNetCh4(6, 5, 3, dtype=torch.float64).load_params(
        net.params),
    inputs=lambda rng: (rng.standard_normal((4, 6)), np.eye(3)[rng.integers(0, 3, 4)]),
    requires=("functions.sigmoid", "functions.softmax", "functions.cross_entropy_error"),
    **NETWORK_LOSS,
))
