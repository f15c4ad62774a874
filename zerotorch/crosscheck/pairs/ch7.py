"""ch7–ch8 registry entries: im2col/col2im, Convolution, Pooling, SimpleConvNet, DeepConvNet.

- ``util.im2col`` / ``util.col2im``: scratch vs ``F.unfold``/``F.fold``, col2im proved to be the
  adjoint of im2col (⟨im2col(x), y⟩ = ⟨x, col2im(y)⟩) and the gradient of ``F.unfold``.
- ``layers.Convolution`` / ``layers.Pooling``: forward, dx, dW, db under random upstream
  gradients, vs ``F.conv2d`` / ``F.max_pool2d``, in several geometries (non-square kernels,
  stride 2, padding, overlapping pooling windows, ties).
- ``networks.SimpleConvNet`` / ``networks.DeepConvNet``: three gradient checks on small inputs
  (scratch backprop vs zerotorch autograd, vs central differences, zerotorch vs the network
  built from torch built-ins) and 50 Adam steps in float64 (dropout masks injected).
"""

from __future__ import annotations

import re

import numpy as np
import torch
import torch.nn.functional as F

from zerotorch import convolution as zconv
from zerotorch import optim as zoptim
from zerotorch.crosscheck.compare import Stage, check_unchanged, compare, tensor
from zerotorch.crosscheck.pairs.ch4 import NETWORK_LOSS
from zerotorch.crosscheck.pairs.dropout import (
    replay_scratch_masks,
    replayed_loss,
    same_masks_loss_and_grads,
)
from zerotorch.crosscheck.registry import (
    BOOK,
    CustomPair,
    Form,
    LayerPair,
    NetworkPair,
    Probe,
    Reference,
    book,
    require_dict_params,
)
from zerotorch.networks import convnet as zconvnet

CONCEPTS: list = []  # this chapter group's concepts, in the book's order

# (N, C, H, W, FH, FW, stride, pad): square, non-square, strided, padded, batch of one
IM2COL_CASES = (
    (2, 3, 7, 7, 3, 3, 1, 0),
    (1, 2, 6, 9, 2, 4, 2, 1),
    (3, 1, 8, 5, 3, 1, 3, 2),
)


# ---------------------------------------------------------------- im2col / col2im (ch7.4.3)

def _check_im2col(concept, impl, rng) -> list[Stage]:
    im2col = concept.lookup(impl, "util.im2col")
    stages = []
    for n, c, h, w, fh, fw, s, p in IM2COL_CASES:
        tag = f"{n}x{c}x{h}x{w} k{fh}x{fw} s{s} p{p}"
        x = rng.standard_normal((n, c, h, w))
        x_copy = x.copy()
        col_s = im2col(x, fh, fw, s, p)
        xt = tensor(x, requires_grad=True)
        col_t = zconv.im2col(xt, fh, fw, s, p)
        stages.append(compare("forward", col_t, col_s, note=tag))
        stages.append(check_unchanged("x unchanged", x_copy, x))
        # The built-in definition: F.unfold's columns, laid out as the book's rows.
        unfold = F.unfold(tensor(x), (fh, fw), padding=p, stride=s)  # (N, C·FH·FW, L)
        stages.append(compare("forward", unfold.transpose(1, 2).reshape(col_t.shape), col_t,
                              against="builtin", note=tag))
        # Autograd of im2col under a random upstream gradient is col2im of that gradient.
        y = rng.standard_normal(tuple(col_t.shape))
        col_t.backward(tensor(y))
        stages.append(compare("dx", xt.grad, concept.lookup(impl, "util.col2im")(
            y, x.shape, fh, fw, s, p), note=f"{tag}; autograd of F.unfold vs col2im"))
    return stages


def _check_col2im(concept, impl, rng) -> list[Stage]:
    im2col = concept.lookup(impl, "util.im2col")
    col2im = concept.lookup(impl, "util.col2im")
    stages = []
    for n, c, h, w, fh, fw, s, p in IM2COL_CASES:
        tag = f"{n}x{c}x{h}x{w} k{fh}x{fw} s{s} p{p}"
        x = rng.standard_normal((n, c, h, w))
        y = rng.standard_normal(im2col(x, fh, fw, s, p).shape)
        y_copy = y.copy()
        img_s = col2im(y, x.shape, fh, fw, s, p)
        stages.append(check_unchanged("col unchanged", y_copy, y))
        stages.append(compare("forward", zconv.col2im(tensor(y), x.shape, fh, fw, s, p), img_s,
                              note=tag))
        # Adjoint: <im2col(x), y> = <x, col2im(y)> (the identity that makes col2im backward).
        lhs = np.sum(im2col(x, fh, fw, s, p) * y)
        rhs = np.sum(x * img_s)
        stages.append(compare("adjoint", lhs, rhs, against="self",
                              note=f"{tag}; <im2col(x), y> = <x, col2im(y)>"))
    return stages


CONCEPTS.append(CustomPair(
    name="util.im2col", chapter="7.4.3", title="im2col (book layout (N·oh·ow, C·FH·FW))",
    builtin_name="F.unfold(...).transpose(1, 2).reshape(N·L, -1)", check=_check_im2col,
))
_CASE = re.compile(r"(\d+)x(\d+)x(\d+)x(\d+) k(\d+)x(\d+) s(\d+) p(\d+)")


def _col2im_overlaps(result, ctx) -> str:
    """Wrong only where windows overlap: overwritten or averaged instead of summed."""
    from scratch.util import col2im, im2col

    for s in (s for s in result.stages if not s.ok and s.name == "forward"):
        m = _CASE.search(s.note)
        if m is None or s.actual is None or np.shape(s.actual) != np.shape(s.expected):
            continue
        n, c, h, w, fh, fw, st, p = (int(g) for g in m.groups())
        shape = (n, c, h, w)
        count = col2im(np.ones(im2col(np.zeros(shape), fh, fw, st, p).shape), shape, fh, fw,
                       st, p)
        a, e = np.asarray(s.actual, dtype=np.float64), np.asarray(s.expected, dtype=np.float64)
        covered = count > 0
        with np.errstate(all="ignore"):
            if np.allclose(a[covered], e[covered] / count[covered]):
                return ("col2im divides by the number of overlapping windows: the adjoint of "
                        "im2col adds them (img[...] += col[...], no division)")
        wrong = ~np.isclose(a, e)
        if wrong.any() and np.all(count[wrong] > 1):
            return ("col2im is wrong only where windows overlap: overlapping columns must be "
                    "added (img[...] += col[...]), not assigned")
    return ""


CONCEPTS.append(CustomPair(
    name="util.col2im", chapter="7.4.3", title="col2im, the adjoint of im2col",
    builtin_name="F.fold", check=_check_col2im, diagnoses=(_col2im_overlaps,),
))


# ---------------------------------------------------------------- Convolution (ch7.4.3)

def _conv_init(fn, c, fh, fw, stride, pad):
    return lambda rng: {"W": rng.standard_normal((fn, c, fh, fw)), "b": rng.standard_normal(fn),
                        "stride": stride, "pad": pad}


def _conv_builtin(stride, pad):
    return lambda p, x: F.conv2d(x, p["W"], p["b"], stride=stride, padding=pad)


for _label, (_n, _c, _h, _w, _fn, _fh, _fw, _s, _p), _method in (
    ("", (2, 3, 7, 7, 4, 3, 3, 1, 0), "conv2d"),
    ("[k2x3,stride2,pad1]", (3, 2, 9, 8, 5, 2, 3, 2, 1), "conv2d"),
    ("[batch1,k5x1,stride3,pad2]", (1, 3, 10, 6, 2, 5, 1, 3, 2), "conv2d"),
    ("[im2col-method,k3x2,stride2,pad1]", (2, 2, 7, 6, 3, 3, 2, 2, 1), "im2col"),
):
    CONCEPTS.append(LayerPair(
        name=f"layers.Convolution{_label}", scratch_cls="layers.Convolution", chapter="7.4.3",
        title=f"Convolution {_fh}x{_fw} stride {_s} pad {_p} (zerotorch via {_method})",
        torch_cls=(lambda m: (lambda **kw: zconv.Convolution(**kw, method=m)))(_method),
        init=_conv_init(_fn, _c, _fh, _fw, _s, _p),
        inputs=(lambda shape: (lambda rng: (rng.standard_normal(shape),)))((_n, _c, _h, _w)),
        params=("W", "b"),
        builtin=_conv_builtin(_s, _p),
        builtin_name="F.conv2d (nn.Conv2d.weight = W)",
    ))


# ---------------------------------------------------------------- Pooling (ch7.4.4)

def _tied(shape):
    """Small integers: many equal values in each window, so first-maximum tie-breaking counts."""
    return lambda rng: (rng.integers(-2, 3, size=shape).astype(np.float64),)


def _ties(args: tuple) -> tuple:
    return (np.round(np.asarray(args[0], dtype=np.float64)), *args[1:])  # many tied maxima


TIES_PROBE = Probe("tied maxima", _ties)
ZERO_PADDING = ("pads with zeros (np.pad), F.max_pool2d(padding=p) with −inf: all-negative "
                "windows differ")
PAD_CRASH = "output size ignores pad (out_h = 1 + (H − pool_h)/stride): pad ≥ 1 fails to reshape"


def _pooling_ties(result, ctx) -> str:
    """Name a gradient that differs only on the tied-maxima probe."""
    plain = [s for s in result.stages if s.name == "dx" and not s.probe]
    tied = [s for s in result.stages if s.name == "dx" and s.probe and not s.ok]
    if not tied or (plain and not plain[0].ok):
        return ""
    s = tied[0]
    if s.actual is not None and s.expected is not None and s.actual.shape == s.expected.shape:
        if np.count_nonzero(s.actual) > np.count_nonzero(s.expected):
            return ("Pooling sends the gradient to every maximum of a window with ties; the "
                    "book (np.argmax) and PyTorch send it to the first maximum only")
    return ("Pooling's gradient differs only on windows with tied maxima: it must go to the "
            "first maximum only (np.argmax), as in the book and PyTorch")


for _label, (_shape, _ph, _pw, _s, _p), _method, _builtin in (
    ("", ((2, 3, 6, 6), 2, 2, 2, 0), "max_pool2d", True),
    ("[ties,3x3,stride1]", ((2, 2, 7, 6), 3, 3, 1, 0), "max_pool2d", True),
    ("[ties,2x3,stride2]", ((1, 3, 8, 9), 2, 3, 2, 0), "im2col", True),
    ("[pad1,zero-padding]", ((2, 2, 5, 5), 3, 3, 2, 1), "max_pool2d", False),
    ("[pad1,im2col-method]", ((2, 2, 6, 5), 2, 2, 2, 1), "im2col", False),
):
    CONCEPTS.append(LayerPair(
        name=f"layers.Pooling{_label}", scratch_cls="layers.Pooling", chapter="7.4.4",
        title=f"max Pooling {_ph}x{_pw} stride {_s} pad {_p} (zerotorch via {_method})",
        torch_cls=(lambda m: (lambda **kw: zconv.Pooling(**kw, method=m)))(_method),
        init=(lambda a: (lambda rng: {"pool_h": a[0], "pool_w": a[1], "stride": a[2],
                                      "pad": a[3]}))((_ph, _pw, _s, _p)),
        inputs=_tied(_shape) if "ties" in _label else
        (lambda shape: (lambda rng: (rng.standard_normal(shape),)))(_shape),
        builtin=((lambda ph, pw, s: (lambda p, x: F.max_pool2d(x, (ph, pw), s)))(_ph, _pw, _s)
                 if _builtin else
                 # zero padding written out, then the built-in without padding
                 (lambda ph, pw, s, pad: (lambda p, x: F.max_pool2d(
                     F.pad(x, (pad,) * 4), (ph, pw), s)))(_ph, _pw, _s, _p)),
        builtin_name="F.max_pool2d" if _builtin else "F.max_pool2d(F.pad(x, zeros))",
        probes=(TIES_PROBE,), diagnoses=(_pooling_ties,),
        **({} if _builtin else {
            "ours": book(ZERO_PADDING),
            "references": (Reference("book", BOOK, PAD_CRASH, accepts=lambda r, ctx: r.status
                                     == "ERROR" and "reshape" in r.error),)}),
    ))


# ---------------------------------------------------------------- networks (ch7.5, ch8.1)

SIMPLE_SMALL = {"input_dim": (1, 10, 10), "hidden_size": 6, "output_size": 4,
                "conv_param": {"filter_num": 3, "filter_size": 3, "pad": 0, "stride": 1}}
# The book's six 3×3 convolutions and paddings (conv 4: pad 2) with fewer filters, on 8×8.
DEEP_SMALL = {"input_dim": (1, 8, 8), "hidden_size": 5, "output_size": 3,
              **{f"conv_param_{i}": {"filter_num": fn, "filter_size": 3, "pad": pad, "stride": 1}
                 for i, (fn, pad) in enumerate(zip((2, 2, 3, 3, 4, 4), (1, 1, 1, 2, 1, 1),
                                                   strict=True), start=1)}}


def _with_random_biases(net, rng):
    """Non-zero biases: with the book's zero biases, a padded border whose receptive field is
    all zeros (after ReLU) sits exactly on ReLU's kink, where central differences are wrong."""
    require_dict_params(net)
    for k in net.params:
        if k.startswith("b"):
            # in place: a book-style network's layers hold references to these arrays
            net.params[k][...] = 0.1 * rng.standard_normal(net.params[k].shape)
    return net


def _small_inputs(input_dim, classes, n=4):
    return lambda rng: (rng.standard_normal((n, *input_dim)), rng.integers(0, classes, n))


def _torch_net(cls, kwargs):
    return lambda net: cls(dtype=torch.float64, **kwargs).load_params(net.params)


# The book's input size; a reader's convnet may hard-code it (ch08/deep_convnet.py's 64*4*4).
BOOK_SIZE = {"input_dim": (1, 28, 28), "output_size": 10}
BOOK_SIZE_FORM = "the book's size (1, 28, 28), default arguments"


def _book_size_form(cls_t, numerical_keys: tuple[str, ...]) -> Form:
    """The network at the book's size with its default arguments (two images; central
    differences only on ``numerical_keys``, the full-size weights would take minutes)."""
    return Form(f"{BOOK_SIZE_FORM}; central differences on {', '.join(numerical_keys)}", {
        "build": lambda cls, rng: _with_random_biases(cls(rng=rng, **BOOK_SIZE), rng),
        "torch_build": _torch_net(cls_t, BOOK_SIZE),
        "inputs": _small_inputs(BOOK_SIZE["input_dim"], BOOK_SIZE["output_size"], n=2),
        "numerical_keys": numerical_keys})


CONCEPTS.append(NetworkPair(
    name="networks.SimpleConvNet", chapter="7.5", title="SimpleConvNet (small input)",
    build=lambda cls, rng: _with_random_biases(cls(rng=rng, weight_init_std=0.3, **SIMPLE_SMALL),
                                               rng),
    torch_build=_torch_net(zconvnet.SimpleConvNet, SIMPLE_SMALL),
    # 5 samples for 4 classes: labels of the wrong form cannot broadcast silently
    inputs=_small_inputs(SIMPLE_SMALL["input_dim"], 4, n=5),
    forms=(Form("one-hot labels (a loss written for them only, as 5.6.3 prints it)", {
                "inputs": lambda rng: (lambda x, t: (x, np.eye(4)[t]))(
                    *_small_inputs(SIMPLE_SMALL["input_dim"], 4, n=5)(rng))}),
           _book_size_form(zconvnet.SimpleConvNet, ("b1", "b2", "b3"))),
    **NETWORK_LOSS,
))
CONCEPTS.append(NetworkPair(
    name="networks.DeepConvNet", chapter="8.1.1", title="DeepConvNet (small filters, dropout)",
    build=lambda cls, rng: _with_random_biases(cls(rng=rng, **DEEP_SMALL), rng),
    torch_build=_torch_net(zconvnet.DeepConvNet, DEEP_SMALL),
    inputs=_small_inputs(DEEP_SMALL["input_dim"], 3),
    scratch_loss_and_grads=same_masks_loss_and_grads,
    torch_loss=replayed_loss,
    numerical_keys=("W1", "b1", "W4", "b4", "W6", "W7", "b7", "W8", "b8"),
    # ch08/deep_convnet.py hard-codes 64*4*4 inputs to W7 (28×28 images)
    forms=(_book_size_form(zconvnet.DeepConvNet, ("b1", "b8")),),
    **NETWORK_LOSS,
))


def _config(kind: str, book_size: bool = False):
    """(constructor kwargs, zerotorch class) of ``kind`` ("SimpleConvNet"/"DeepConvNet"): the
    small test configuration, or the book's defaults at 28×28 (``book_size``)."""
    cls_t = zconvnet.SimpleConvNet if kind == "SimpleConvNet" else zconvnet.DeepConvNet
    if book_size:
        return BOOK_SIZE, cls_t
    return (SIMPLE_SMALL if kind == "SimpleConvNet" else DEEP_SMALL), cls_t



def _check_vs_builtin(kind, book_size: bool = False):
    """zerotorch network vs the same network from torch built-ins: logits and every gradient."""
    small, cls_t = _config(kind, book_size)

    def check(concept, impl, rng) -> list[Stage]:
        net_s = concept.lookup(impl, f"networks.{kind}")(rng=rng, **small)
        require_dict_params(net_s)
        net_t = cls_t(dtype=torch.float64, **small).load_params(net_s.params).eval()
        if kind == "DeepConvNet":
            net_t.set_dropout_convention("torch")  # nn.Dropout at eval: identity
        builtin = net_t.to_builtin().eval()
        x, t = _small_inputs(small["input_dim"], small["output_size"])(rng)
        xt = tensor(x)
        up = tensor(rng.standard_normal((x.shape[0], small["output_size"])))
        y_t, y_b = net_t(xt), builtin(xt)
        stages = [compare("forward", y_b, y_t, against="builtin")]
        y_t.backward(up)
        y_b.backward(up)
        # book key -> (built-in parameter, transposed?) in layer order: convs, then linears
        convs = [m for m in builtin if isinstance(m, torch.nn.Conv2d)]
        lins = [m for m in builtin if isinstance(m, torch.nn.Linear)]
        refs = [(m.weight, False) for m in convs] + [(m.weight, True) for m in lins]
        biases = [m.bias for m in convs + lins]
        for k, p in net_t.book_params().items():
            i = int(k[1:]) - 1
            if k[0] == "W":
                ref, transposed = refs[i]
                grad = ref.grad.T if transposed else ref.grad
            else:
                grad = biases[i].grad
            stages.append(compare(f"d{k}", grad, p.grad, against="builtin"))
        return stages

    return check


for _kind in ("SimpleConvNet", "DeepConvNet"):
    CONCEPTS.append(CustomPair(
        name=f"networks.{_kind}[vs-builtin]", chapter="7.5" if _kind[0] == "S" else "8.1.1",
        title=f"{_kind} vs nn.Conv2d/nn.MaxPool2d/nn.Linear (eval)",
        builtin_name="nn.Sequential(Conv2d, ReLU, MaxPool2d, …, Linear)",
        check=_check_vs_builtin(_kind),
        forms=(Form(BOOK_SIZE_FORM, {"check": _check_vs_builtin(_kind, book_size=True)}),),
    ))


# ---------------------------------------------------------------- Adam trajectories

ADAM_STEPS = 50


def _check_trajectory(kind, book_size: bool = False):
    """50 Adam steps (lr 0.01) from the same weights, float64, dropout masks injected (10 steps
    on 2 images at the book's size)."""
    small, cls_t = _config(kind, book_size)
    steps, n = (10, 2) if book_size else (ADAM_STEPS, 6)

    def check(concept, impl, rng) -> list[Stage]:
        net_s = concept.lookup(impl, f"networks.{kind}")(rng=rng, **small)
        require_dict_params(net_s)
        adam_s = concept.lookup(impl, "optimizer.Adam")(lr=0.01)
        net_t = cls_t(dtype=torch.float64, **small).load_params(net_s.params).train()
        adam_t = zoptim.Adam(net_t.parameters(), lr=0.01)
        x, t = _small_inputs(small["input_dim"], small["output_size"], n=n)(rng)
        xt, tt = tensor(x), torch.as_tensor(t)
        per_step = []
        for step in range(1, steps + 1):
            grads = net_s.gradient(x, t)
            adam_s.update(net_s.params, grads)
            if kind == "DeepConvNet":
                replay_scratch_masks(net_t, net_s)
            adam_t.zero_grad()
            loss = net_t.loss(xt, tt, train_flg=True)
            loss.backward()
            adam_t.step()
            book_t = net_t.book_params()  # same keys, compared key by key in one vector
            flat_s = np.concatenate([np.ravel(net_s.params[k]) for k in book_t])
            flat_t = np.concatenate([p.detach().numpy().ravel() for p in book_t.values()])
            stage = compare("params trajectory", flat_t, flat_s)
            stage.note = f"step {step}"
            per_step.append(stage)
            per_step.append(compare("loss trajectory", loss, net_s.last_layer.loss))
        failed = [s for s in per_step if not s.ok]
        worst = failed[:1] or [max(per_step, key=lambda s: s.max_abs)]
        worst[0].note = f"{worst[0].note}; worst of {steps} Adam steps"
        return worst

    return check


for _kind in ("SimpleConvNet", "DeepConvNet"):
    CONCEPTS.append(CustomPair(
        name=f"networks.{_kind}[adam-trajectory]",
        chapter="7.5" if _kind[0] == "S" else "8.1.1",
        title=f"{_kind}: {ADAM_STEPS} Adam steps, float64 (dropout masks injected)",
        check=_check_trajectory(_kind),
        forms=(Form(BOOK_SIZE_FORM, {"check": _check_trajectory(_kind, book_size=True)}),),
    ))


# What each concept's code is built from, for "fix that first" (a col2im that overwrites
# instead of adding breaks every dx that goes through it).
_BUILT_FROM = {"util.im2col": ("util.col2im",),
               "layers.Convolution": ("util.im2col", "util.col2im"),
               "layers.Pooling": ("util.im2col", "util.col2im"),
               "networks.SimpleConvNet": ("layers.Convolution", "layers.Pooling", "layers.Affine",
                                          "layers.Relu", "layers.SoftmaxWithLoss"),
               "networks.DeepConvNet": ("layers.Convolution", "layers.Pooling", "layers.Affine",
                                        "layers.Relu", "layers.Dropout", "layers.SoftmaxWithLoss")}
for _concept in CONCEPTS:
    _concept.requires = _concept.requires or _BUILT_FROM.get(_concept.book_name, ())
