"""ch5 backpropagation layers and the layered TwoLayerNet: scratch ↔ zerotorch ↔ built-ins."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from zerotorch import nn as znn
from zerotorch.crosscheck.pairs.ch3 import SOFTMAX_SHIFT_PROBE
from zerotorch.crosscheck.pairs.ch4 import CE_BOOK, NETWORK_LOSS
from zerotorch.crosscheck.registry import BOOK, Form, LayerPair, NetworkPair, Reference
from zerotorch.networks import two_layer_net as ztl

CONCEPTS: list = []  # this chapter group's concepts, in the book's order


def _x(rng: np.random.Generator) -> tuple:
    x = rng.standard_normal((5, 6))
    x[0, :2] = 0.0  # the kink of ReLU is exercised
    return (x,)


CONCEPTS.append(LayerPair(
    name="layers.Relu", chapter="5.5.1", title="ReLU layer",
    torch_cls=znn.Relu, inputs=_x,
    builtin=lambda p, x: F.relu(x), builtin_name="F.relu",
    references=(Reference(
        "book", BOOK, "Relu.backward writes zeros into the caller's dout (dout[self.mask] = 0); "
        "ours returns a new array", accepts=lambda r, ctx: r.failed_only("dout unchanged")),),
))
CONCEPTS.append(LayerPair(
    name="layers.Sigmoid", chapter="5.5.2", title="Sigmoid layer",
    torch_cls=znn.Sigmoid, inputs=_x,
    builtin=lambda p, x: torch.sigmoid(x), builtin_name="torch.sigmoid",
))
CONCEPTS.append(LayerPair(
    name="layers.Affine", chapter="5.6.2", title="Affine layer (4-D input)",
    torch_cls=znn.Affine,
    init=lambda rng: {"W": rng.standard_normal((12, 5)), "b": rng.standard_normal(5)},
    inputs=lambda rng: (rng.standard_normal((4, 3, 2, 2)),),  # (N, C, H, W) flattened to (N, 12)
    params=("W", "b"),
    builtin=lambda p, x: F.linear(x.reshape(x.shape[0], -1), p["W"].T, p["b"]),
    builtin_name="nn.Linear (weight = W.T)",
    # 5.6.2 prints the 2-D Affine; the 4-D flattening is common/layers.py's later addition
    forms=(Form("the 2-D form of 5.6.2 (input (N, 12))",
                {"inputs": lambda rng: (rng.standard_normal((4, 12)),)}),),
))


# --- computational-graph nodes, the loss layer and the layered network ------------------------

# The book's SoftmaxWithLoss puts 1e-7 inside the log; F.cross_entropy does not. Per sample the
# loss differs by log(y_t + 1e-7) − log(y_t) ≤ 1e-7 / y_t; with these inputs (logits of std 3 over
# 10 classes) y_t > 1e-3, so the forward values differ by less than this. Gradients are equal.
BOOK_CE_FORWARD_ATOL = 1e-4
_CE_NOTE = "forward: the book's 1e-7 inside the log (see test_book_ce_delta_*)"
# The PyTorch reference of the loss layer: no delta, so F.cross_entropy's value exactly.
_CE_PYTORCH = {"torch_cls": lambda: znn.SoftmaxWithLoss(delta=0.0), "builtin_forward_atol": None,
               "builtin_note": ""}
IGNORES_DOUT = ("SoftmaxWithLoss.backward(dout) ignores dout and returns (y − t)/N (ours "
                "multiplies by dout)")


def _ignores_dout(result, ctx) -> bool:
    """Only dx differs, by exactly the factor 1/dout: the book's backward ignoring dout."""
    ups = ctx.concept.scalar_upstream
    if ups in (None, 1.0) or not result.failed_only("dx"):
        return False
    s = result.first_failure()
    if s.actual is None or s.expected is None or np.shape(s.actual) != np.shape(s.expected):
        return False
    return bool(np.allclose(np.asarray(s.actual) * ups, s.expected, rtol=1e-9, atol=1e-15))


def _scores_labels(rng: np.random.Generator) -> tuple:
    return rng.standard_normal((5, 10)) * 3.0, rng.integers(0, 10, size=5)


def _scores_one_hot(rng: np.random.Generator) -> tuple:
    x, t = _scores_labels(rng)
    return x, np.eye(10)[t]


CONCEPTS.append(LayerPair(
    name="layers.MulLayer", chapter="5.4.1", title="multiplication node",
    torch_cls=znn.MulLayer, n_grad_inputs=2,
    inputs=lambda rng: (rng.standard_normal((3, 4)), rng.standard_normal((3, 4))),
    builtin=lambda p, x, y: torch.mul(x, y), builtin_name="torch.mul",
))
CONCEPTS.append(LayerPair(
    name="layers.AddLayer", chapter="5.4.2", title="addition node",
    torch_cls=znn.AddLayer, n_grad_inputs=2,
    inputs=lambda rng: (rng.standard_normal((3, 4)), rng.standard_normal((3, 4))),
    builtin=lambda p, x, y: torch.add(x, y), builtin_name="torch.add",
))
# 5.6.3 prints SoftmaxWithLoss for one-hot labels only: backward is (y − t)/N
ONE_HOT_ONLY = Form("one-hot labels only (the form printed in 5.6.3)",
                    {"inputs": _scores_one_hot})

CONCEPTS.append(LayerPair(
    name="layers.SoftmaxWithLoss", chapter="5.6.3", title="softmax + CE, integer labels",
    torch_cls=znn.SoftmaxWithLoss, inputs=_scores_labels, scalar_upstream=1.0,
    builtin=lambda p, x, t: F.cross_entropy(x, t), builtin_name="F.cross_entropy",
    builtin_forward_atol=BOOK_CE_FORWARD_ATOL, builtin_note=_CE_NOTE,
    probes=(SOFTMAX_SHIFT_PROBE,),
    ours=CE_BOOK, references=(Reference("pytorch", fields=_CE_PYTORCH),),
    forms=(ONE_HOT_ONLY,),
))
CONCEPTS.append(LayerPair(
    name="layers.SoftmaxWithLoss[onehot]", chapter="5.6.3", title="softmax + CE, one-hot labels",
    scratch_cls="layers.SoftmaxWithLoss", torch_cls=znn.SoftmaxWithLoss, inputs=_scores_one_hot,
    scalar_upstream=1.0,
    builtin=lambda p, x, t: F.cross_entropy(x, t), builtin_name="F.cross_entropy (probabilities)",
    builtin_forward_atol=BOOK_CE_FORWARD_ATOL, builtin_note=_CE_NOTE,
    probes=(SOFTMAX_SHIFT_PROBE,),
    ours=CE_BOOK, references=(Reference("pytorch", fields=_CE_PYTORCH),),
))
CONCEPTS.append(LayerPair(
    name="layers.SoftmaxWithLoss[dout]", chapter="5.6.3",
    title="softmax + CE, backward(dout = 0.37)", scratch_cls="layers.SoftmaxWithLoss",
    torch_cls=znn.SoftmaxWithLoss, inputs=_scores_labels, scalar_upstream=0.37,
    builtin=lambda p, x, t: F.cross_entropy(x, t), builtin_name="F.cross_entropy",
    builtin_forward_atol=BOOK_CE_FORWARD_ATOL, builtin_note=_CE_NOTE,
    probes=(SOFTMAX_SHIFT_PROBE,),
    ours=CE_BOOK,
    references=(Reference("pytorch", fields=_CE_PYTORCH),
                Reference("book", BOOK, f"{CE_BOOK.differs}; {IGNORES_DOUT}",
                          accepts=_ignores_dout),
                Reference("book 2016", BOOK, IGNORES_DOUT, fields=_CE_PYTORCH,
                          accepts=_ignores_dout)),
    forms=(ONE_HOT_ONLY,),
))
CONCEPTS.append(NetworkPair(
    name="networks.TwoLayerNet", chapter="5.7.2", title="ch5 layered TwoLayerNet (ReLU)",
    build=lambda cls, rng: cls(6, 5, 3, weight_init_std=0.5, rng=rng),
    torch_build=lambda net: ztl.TwoLayerNet(6, 5, 3, dtype=torch.float64).load_params(
        net.params),
    inputs=lambda rng: (rng.standard_normal((4, 1, 2, 3)), rng.integers(0, 3, size=4)),
    requires=("layers.Affine", "layers.Relu", "layers.SoftmaxWithLoss"),
    # a network built from the printed forms: the 2-D Affine of 5.6.2, the one-hot-only
    # SoftmaxWithLoss of 5.6.3 (ch05/train_neuralnet.py loads one_hot_label=True)
    forms=tuple(Form(label, {"inputs": inputs}) for label, inputs in (
        ("2-D input (the Affine printed in 5.6.2)",
         lambda rng: (rng.standard_normal((4, 6)), rng.integers(0, 3, size=4))),
        ("one-hot labels (as ch05/train_neuralnet.py loads them)",
         lambda rng: (rng.standard_normal((4, 1, 2, 3)), np.eye(3)[rng.integers(0, 3, 4)])),
        ("2-D input and one-hot labels (the forms printed in 5.6.2 and 5.6.3)",
         lambda rng: (rng.standard_normal((4, 6)), np.eye(3)[rng.integers(0, 3, 4)])))),
    **NETWORK_LOSS,
))

# SoftmaxWithLoss is built from the book's softmax and cross-entropy (an in-place softmax
# shows up here as the layer modifying its input): "fix that first" names them.
for _concept in CONCEPTS:
    if _concept.book_name == "layers.SoftmaxWithLoss":
        _concept.requires = ("functions.softmax", "functions.cross_entropy_error")
