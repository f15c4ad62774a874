"""ch6 registry entries: optimizers, Batch Normalization, Dropout, the multi-layer nets.

Optimizers run whole trajectories (f(x, y) = x²/20 + y² from (−7, 2) and a random bowl) against
``zerotorch.optim`` and the torch built-in under the exact mapping; BN and Dropout are compared
in both modes (running statistics as buffers; Dropout's training mask injected from the scratch
side). The networks are registered at the bottom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from zerotorch import normalization as znorm
from zerotorch import optim as zoptim
from zerotorch.crosscheck.pairs.ch4 import NETWORK_LOSS
from zerotorch.crosscheck.pairs.dropout import replayed_loss, replaying, same_masks_loss_and_grads
from zerotorch.crosscheck.registry import (
    BOOK,
    LayerPair,
    NetworkPair,
    OptimizerPair,
    Reference,
    book,
)
from zerotorch.networks import multi_layer_net as zmln

CONCEPTS: list = []  # this chapter group's concepts, in the book's order

BOOK_EPS = zoptim.EPS  # the book's 1e-7 in AdaGrad/RMSprop/Adam

# ---------------------------------------------------------------- optimizers (ch6.1)

CONCEPTS.append(OptimizerPair(
    name="optimizer.SGD", chapter="6.1.2", title="SGD",
    scratch_kwargs={"lr": 0.05},
    torch_factory=lambda ps: zoptim.SGD(ps, lr=0.05),
    builtin_factory=lambda ps: torch.optim.SGD(ps, lr=0.05),
    builtin_name="torch.optim.SGD(lr)",
))
CONCEPTS.append(OptimizerPair(
    name="optimizer.Momentum", chapter="6.1.4", title="Momentum",
    scratch_kwargs={"lr": 0.05, "momentum": 0.9},
    torch_factory=lambda ps: zoptim.Momentum(ps, lr=0.05, momentum=0.9),
    builtin_factory=lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9),
    builtin_name="torch.optim.SGD(lr, momentum=0.9) (v = −lr·buf)",
))
CONCEPTS.append(OptimizerPair(
    name="optimizer.Nesterov", chapter="6.1", title="Nesterov's accelerated gradient",
    scratch_kwargs={"lr": 0.05, "momentum": 0.9},
    torch_factory=lambda ps: zoptim.Nesterov(ps, lr=0.05, momentum=0.9),
    builtin_factory=lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    builtin_name="torch.optim.SGD(lr, momentum=0.9, nesterov=True) (v = −lr·buf)",
    references=(Reference(
        "book 2016", BOOK,
        "the 2016 code updates v first and steps with the new v (W += m²·v_new; changed "
        "upstream in 2021), where SGD(nesterov=True) steps with the old v",
        fields={"torch_factory": lambda ps: zoptim.Nesterov(ps, lr=0.05, momentum=0.9,
                                                             variant="book-2016"),
                "builtin_factory": None, "builtin_name": None}),),
))
def _eps_placement(result, ctx) -> str:
    """A trajectory off by a small relative amount only: where the 1e-7 sits, not the rule
    (√(h + 1e-7) differs most where h is near 0: up to ~1e-4 on the quadratic bowl)."""
    bad = [s for s in result.stages if not s.ok]
    if bad and all(0 < s.max_rel < 1e-3 for s in bad):
        worst = max(s.max_rel for s in bad)
        return (f"off by a relative {worst:.1e} only: is the 1e-7 inside the square root? The "
                "book divides by (np.sqrt(h) + 1e-7), not np.sqrt(h + 1e-7)")
    return ""


CONCEPTS.append(OptimizerPair(
    name="optimizer.AdaGrad", chapter="6.1.5", title="AdaGrad",
    scratch_kwargs={"lr": 0.5},
    torch_factory=lambda ps: zoptim.AdaGrad(ps, lr=0.5),
    builtin_factory=lambda ps: torch.optim.Adagrad(ps, lr=0.5, eps=BOOK_EPS,
                                                   initial_accumulator_value=0.0),
    builtin_name="torch.optim.Adagrad(lr, eps=1e-7)",
    diagnoses=(_eps_placement,),
))
CONCEPTS.append(OptimizerPair(
    name="optimizer.RMSprop", chapter="6.1.5", title="RMSprop",
    scratch_kwargs={"lr": 0.05, "decay_rate": 0.9},
    torch_factory=lambda ps: zoptim.RMSprop(ps, lr=0.05, decay_rate=0.9),
    builtin_factory=lambda ps: torch.optim.RMSprop(ps, lr=0.05, alpha=0.9, eps=BOOK_EPS),
    builtin_name="torch.optim.RMSprop(lr, alpha=decay_rate, eps=1e-7)",
    diagnoses=(_eps_placement,),
))


def _adam_book_eps_hook(opt: torch.optim.Optimizer, step: int) -> None:
    for group in opt.param_groups:
        group["eps"] = zoptim.adam_book_eps(step, group["betas"][1])


CONCEPTS.append(OptimizerPair(
    name="optimizer.Adam", chapter="6.1.6", title="Adam",
    scratch_kwargs={"lr": 0.1, "beta1": 0.9, "beta2": 0.999},
    torch_factory=lambda ps: zoptim.Adam(ps, lr=0.1),
    builtin_factory=lambda ps: torch.optim.Adam(ps, lr=0.1, betas=(0.9, 0.999)),
    builtin_step_hook=_adam_book_eps_hook,
    # The book adds 1e-7 to the uncorrected √v: torch's Adam equals it with this eps schedule
    # (a fixed eps=1e-7 differs, see test_adam_eps_placement_*).
    builtin_name="torch.optim.Adam(betas) with eps = 1e-7/√(1 − beta2^t) at step t",
    diagnoses=(_eps_placement,),
))

# ---------------------------------------------------------------- Batch Normalization (ch6.3)


def _bn_init(rng: np.random.Generator) -> dict:
    d = 12  # (C, H, W) = (3, 2, 2) flattened: one statistic per activation, as the book
    return {"gamma": rng.uniform(0.5, 1.5, d), "beta": rng.standard_normal(d), "momentum": 0.9,
            "running_mean": rng.standard_normal(d), "running_var": rng.uniform(0.5, 2.0, d)}


def _bn_x(rng: np.random.Generator) -> tuple:
    return (rng.standard_normal((6, 3, 2, 2)) * 2.0 + 1.0,)  # (N, C, H, W)


def _bn_builtin(training: bool):
    def run(p, x):
        x2 = x.reshape(x.shape[0], -1)  # (N, C·H·W)
        rm = rv = None
        if not training:
            rm, rv = p["running_mean"], p["running_var"]
        return F.batch_norm(x2, rm, rv, p["gamma"], p["beta"], training=training,
                            eps=1e-6).reshape(x.shape)
    return run


def _bn_channel_init(rng: np.random.Generator) -> dict:
    c = 3  # one statistic per channel of the (N, 3, 2, 2) input, as nn.BatchNorm2d
    return {"gamma": rng.uniform(0.5, 1.5, c), "beta": rng.standard_normal(c), "momentum": 0.9,
            "running_mean": rng.standard_normal(c), "running_var": rng.uniform(0.5, 2.0, c)}


class _PerChannelBN(znorm.BatchNormalization):
    """Ours, per channel: (N, C, H, W) → (N·H·W, C), normalised per column, and back."""

    def forward(self, x):
        n, c, h, w = x.shape
        cols = x.permute(0, 2, 3, 1).reshape(-1, c)  # (N·H·W, C)
        return super().forward(cols).reshape(n, h, w, c).permute(0, 3, 1, 2)


def _bn_channel_builtin(training: bool):
    def run(p, x):
        rm, rv = (None, None) if training else (p["running_mean"], p["running_var"])
        return F.batch_norm(x, rm, rv, p["gamma"], p["beta"], training=training, eps=1e-6)
    return run


def _bn_forward_diagnosis(result, ctx) -> str:
    """Name a forward normalised with the wrong variance or eps: per activation (the book's
    layout) or per channel, with the batch's statistics (training) or the running ones."""
    s = result.first_failure()
    if s is None or s.name != "forward" or s.actual is None or not ctx.init or not ctx.inputs:
        return ""
    a = np.asarray(s.actual, dtype=np.float64)
    x = np.asarray(ctx.inputs[0], dtype=np.float64)
    gamma, beta = ctx.init["gamma"], ctx.init["beta"]
    if x.ndim == 4 and gamma.shape == (x.shape[1],):  # per channel: (N·H·W, C) columns
        cols = x.transpose(0, 2, 3, 1).reshape(-1, x.shape[1])
        back = lambda y: y.reshape(x.shape[0], x.shape[2], x.shape[3], -1).transpose(0, 3, 1, 2)
    elif gamma.shape == (int(np.prod(x.shape[1:])),):  # per activation, as the book
        cols = x.reshape(x.shape[0], -1)
        back = lambda y: y.reshape(x.shape)
    else:
        return ""
    training = getattr(ctx.concept, "train", True) is not False
    for ddof, eps, cause in ((1, 1e-6, "the unbiased variance (ddof = 1, ratio N/(N−1))"),
                             (0, 1e-5, "eps = 1e-5 (PyTorch's); the book's is 10e-7 = 1e-6"),
                             (0, 1e-7, "eps = 1e-7; the book's is 10e-7 = 1e-6"),
                             (0, 0.0, "no eps; the book adds 10e-7 = 1e-6 under the root")):
        if training:
            mean, var = cols.mean(axis=0), cols.var(axis=0, ddof=ddof)
        elif ddof:
            continue  # the running variance is given, not estimated
        else:
            mean, var = ctx.init["running_mean"], ctx.init["running_var"]
        out = back(gamma * (cols - mean) / np.sqrt(var + eps) + beta)
        if out.shape == a.shape and np.allclose(a, out, rtol=1e-9, atol=1e-12):
            return f"forward: BatchNormalization normalises with {cause}"
    return ""


BN_TEST_MODE_BACKWARD = (
    "backward after a test-mode forward fails (xn, std are kept only in training mode); "
    "forward compared")
BN_PER_CHANNEL = Reference(
    "per channel (BatchNorm2d)",
    fields={"init": _bn_channel_init, "torch_cls": _PerChannelBN,
            "builtin_name": "F.batch_norm(x, eps=1e-6) per channel (nn.BatchNorm2d)"})
BN_UNBIASED = Reference(
    "unbiased running variance (BatchNorm1d)",
    fields={"torch_cls": lambda **kw: znorm.BatchNormalization(**kw, unbiased_running_var=True)})

# Both modes: the book's form is per activation (nn.BatchNorm1d on the flattened input), eps 1e-6.
_BN = {"chapter": "6.3.1", "torch_cls": znorm.BatchNormalization, "init": _bn_init,
       "inputs": _bn_x, "params": ("gamma", "beta"), "buffers": ("running_mean", "running_var"),
       "diagnoses": (_bn_forward_diagnosis,)}
CONCEPTS.append(LayerPair(
    name="layers.BatchNormalization", title="Batch Normalization (train)", **_BN, train=True,
    builtin=_bn_builtin(True),
    builtin_name="F.batch_norm(x.reshape(N, -1), eps=1e-6, training=True)",
    references=(Reference(BN_PER_CHANNEL.label, fields={**BN_PER_CHANNEL.fields,
                                                        "builtin": _bn_channel_builtin(True)}),
                BN_UNBIASED),
))
CONCEPTS.append(LayerPair(
    name="layers.BatchNormalization[eval]", scratch_cls="layers.BatchNormalization",
    title="Batch Normalization (test mode: running statistics)", **_BN, train=False,
    builtin=_bn_builtin(False),
    builtin_name="F.batch_norm(x.reshape(N, -1), running stats, eps=1e-6, training=False)",
    references=(Reference(BN_PER_CHANNEL.label, fields={**BN_PER_CHANNEL.fields,
                                                        "builtin": _bn_channel_builtin(False)}),
                Reference("book", BOOK, BN_TEST_MODE_BACKWARD, fields={"backward": False}),
                Reference("book", BOOK, BN_TEST_MODE_BACKWARD,
                          fields={**BN_PER_CHANNEL.fields, "backward": False,
                                  "builtin": _bn_channel_builtin(False)})),
))

# ---------------------------------------------------------------- Dropout (ch6.4.3)


def _dropout_init(rng: np.random.Generator) -> dict:
    return {"dropout_ratio": 0.3, "rng": np.random.default_rng(int(rng.integers(2**32)))}


def _zt_dropout(dropout_ratio, rng=None):
    return znorm.Dropout(dropout_ratio)


NOT_INVERTED = ("not inverted: x·mask in training, x·(1 − p) in test mode (= nn.Dropout × (1 − p) "
                "in both modes)")
DROPOUT_TEST_MODE_BACKWARD = (
    "backward after a test-mode forward fails (the mask is set only in training mode); "
    "forward compared")


def _zt_inverted_dropout(dropout_ratio, rng=None):
    return znorm.Dropout(dropout_ratio, inverted=True)


CONCEPTS.append(LayerPair(
    name="layers.Dropout", chapter="6.4.3", title="Dropout (train, the scratch mask injected)",
    torch_cls=_zt_dropout, init=_dropout_init,
    inputs=lambda rng: (rng.standard_normal((8, 10)),), train=True,
    torch_call=lambda m, layer, x: replaying(m, layer.mask)(x),
    ours=book(NOT_INVERTED),
    references=(Reference("inverted (nn.Dropout)", fields={"torch_cls": _zt_inverted_dropout}),),
))
CONCEPTS.append(LayerPair(
    name="layers.Dropout[eval]", scratch_cls="layers.Dropout", chapter="6.4.3",
    title="Dropout (test mode: × (1 − ratio))",
    torch_cls=_zt_dropout, init=_dropout_init,
    inputs=lambda rng: (rng.standard_normal((8, 10)),), train=False,
    builtin=lambda p, x: (1 - 0.3) * F.dropout(x, 0.3, training=False),
    builtin_name="(1 − p)·nn.Dropout(p).eval()",
    ours=book(NOT_INVERTED),
    references=(
        Reference("inverted (nn.Dropout)", fields={
            "torch_cls": _zt_inverted_dropout, "builtin_name": "nn.Dropout(p).eval()",
            "builtin": lambda p, x: F.dropout(x, 0.3, training=False)}),
        Reference("book", BOOK, f"{NOT_INVERTED}; {DROPOUT_TEST_MODE_BACKWARD}",
                  fields={"backward": False}),
    ),
))

# ---------------------------------------------------------------- multi-layer nets (ch6.2–6.4)

NET_SHAPE = (6, [5, 4], 3)  # input, hidden sizes, classes: small enough for central differences


@dataclass(kw_only=True)
class _NetworkVariant(NetworkPair):
    """A ``NetworkPair`` whose scratch class is named separately (several configurations)."""

    scratch_cls: str

    def lookup(self, impl, dotted=None):
        return super().lookup(impl, dotted or self.scratch_cls)


def _net_inputs(rng: np.random.Generator) -> tuple:
    x = rng.standard_normal((5, NET_SHAPE[0]))  # batch 5: BN's statistics are not degenerate
    return x, rng.integers(0, NET_SHAPE[2], size=5)


def tame(net, rng: np.random.Generator, last_scale: float = 0.1):
    """Give b, γ, β random values (so mistakes on them show) and shrink the last W.

    The small last layer keeps every class probability near 1/C: the book's loss has 1e-7
    inside the log but its backward omits it, a relative 1e-7/y[t] gap that central differences
    would see at small y[t] (docs/BOOK-SEMANTICS.md, the loss).
    """
    for k, v in net.params.items():  # in place: book-style layers hold these very arrays
        if k.startswith("beta"):
            v[...] = rng.uniform(0.2, 0.6, v.shape)  # > 0: the ReLU after BN passes gradient
        elif k.startswith("b"):
            v[...] = 0.1 * rng.standard_normal(v.shape)
        elif k.startswith("gamma"):
            v[...] = rng.uniform(0.8, 1.2, v.shape)
    net.params[f"W{len(net.hidden_size_list) + 1}"] *= last_scale
    return net


def _torch_net(cls, **kw):
    def build(net):
        m = cls(*NET_SHAPE, dtype=torch.float64, **kw)
        m.load_params(net.params)
        return m
    return build


CONCEPTS.append(NetworkPair(
    name="networks.MultiLayerNet", chapter="6.4.1",
    title="MultiLayerNet (ReLU, He init, weight decay 0.1)",
    build=lambda cls, rng: tame(cls(*NET_SHAPE, activation="relu", weight_init_std="relu",
                                    weight_decay_lambda=0.1, rng=rng), rng),
    torch_build=_torch_net(zmln.MultiLayerNet, weight_decay_lambda=0.1),
    inputs=_net_inputs, **NETWORK_LOSS,
))
CONCEPTS.append(_NetworkVariant(
    name="networks.MultiLayerNet[sigmoid]", scratch_cls="networks.MultiLayerNet", chapter="6.2.3",
    title="MultiLayerNet (sigmoid, the book's Xavier init)",
    build=lambda cls, rng: tame(cls(*NET_SHAPE, activation="sigmoid", weight_init_std="xavier",
                                    rng=rng), rng),
    torch_build=_torch_net(zmln.MultiLayerNet, activation="sigmoid"),
    inputs=_net_inputs, **NETWORK_LOSS,
))
CONCEPTS.append(NetworkPair(
    name="networks.MultiLayerNetExtend", chapter="6.3.2",
    title="MultiLayerNetExtend (BN + weight decay 0.1, training mode)",
    build=lambda cls, rng: tame(cls(*NET_SHAPE, weight_decay_lambda=0.1, use_batchnorm=True,
                                    rng=rng), rng),
    torch_build=_torch_net(zmln.MultiLayerNetExtend, weight_decay_lambda=0.1,
                           use_batchnorm=True),
    inputs=_net_inputs,
    scratch_loss_and_grads=same_masks_loss_and_grads,
    torch_loss=replayed_loss, **NETWORK_LOSS,
))
CONCEPTS.append(_NetworkVariant(
    name="networks.MultiLayerNetExtend[dropout]", scratch_cls="networks.MultiLayerNetExtend",
    chapter="6.4.3",
    title="MultiLayerNetExtend (BN + dropout 0.3 + decay, the scratch masks injected)",
    build=lambda cls, rng: tame(cls(*NET_SHAPE, weight_decay_lambda=0.1, use_batchnorm=True,
                                    use_dropout=True, dropout_ratio=0.3, rng=rng), rng),
    torch_build=_torch_net(zmln.MultiLayerNetExtend, weight_decay_lambda=0.1,
                           use_batchnorm=True, use_dropout=True, dropout_ratio=0.3),
    inputs=_net_inputs,
    scratch_loss_and_grads=same_masks_loss_and_grads,
    torch_loss=replayed_loss, **NETWORK_LOSS,
))
