"""The registry of concept pairs, and the pair kinds that know how to compare their two sides.

A concept is one entry: its book name (``layers.Affine``; looked up in an implementation, see
``impl/resolve.py``), the book section, how to build each side, the torch built-in and how
parameters map to it, inputs and tolerances, and everything the checker knows about it: the
**references** a reader's code may equal (PyTorch, today's book, earlier versions of the book,
PyTorch-convention variants), the probes that expose mistakes random inputs hide, and
concept-specific diagnoses.
``Concept.run(impl, rng)`` returns the list of compared ``Stage``s for the concept's own fields
(today's book, which ``scratch``/``zerotorch`` implement); ``verdict.grade`` runs the references.
The registry is a value: ``pairs.ALL`` (a list) and ``pairs.REGISTRY`` (by name).

Pair kinds:
- ``FunctionPair``: a stateless function (``functions.softmax``); forward vs zerotorch, and
  zerotorch vs the built-in in forward and autograd under a random upstream gradient.
- ``LayerPair``: a layer with ``forward``/``backward`` and book-named parameters; forward, dx
  (and every differentiable input), every parameter gradient, buffers, ``dout``/``x`` untouched,
  then zerotorch vs the built-in.
- ``NetworkPair``: a network with ``params``/``loss``/``gradient``; loss and every gradient vs
  autograd, analytic vs numerical.
- ``OptimizerPair``: ``update(params, grads)`` trajectories vs a ``torch.optim.Optimizer``.
- ``CustomPair``: anything else, as a function returning stages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from zerotorch.crosscheck.compare import (
    ATOL,
    NUMERICAL_ATOL,
    NUMERICAL_RTOL,
    RTOL,
    Stage,
    check_unchanged,
    compare,
    numerical_grad,
    tensor,
    to_numpy,
)
from zerotorch.crosscheck.impl import Impl
from zerotorch.functional import CROSS_ENTROPY_DELTA

PYTORCH = "pytorch"  # a reference equal to PyTorch (a built-in, or autograd of the formula)
BOOK = "book"  # a version of the book's code that differs from PyTorch


@dataclass(frozen=True)
class Reference:
    """One version of a concept that a reader's code may equal.

    ``fields`` replace the concept's own fields for this reference (another zerotorch side, e.g.
    ``delta=0`` in the cross-entropy, or other inputs); a reference with no ``fields`` is the
    concept's own run. ``accepts(result, ctx)`` accepts a failure of that run as this version's
    documented behaviour (the book's Relu writing into ``dout``). ``differs`` says how a
    ``BOOK`` reference differs from PyTorch; the report measures by how much.
    """

    label: str  # "pytorch", "book", "book 2016", "per channel (BatchNorm2d)", …
    kind: str = PYTORCH
    differs: str = ""
    fields: Mapping = field(default_factory=dict)
    accepts: Callable | None = None

    def __post_init__(self):
        if self.kind not in (PYTORCH, BOOK):
            raise ValueError(f"reference {self.label!r}: kind must be {PYTORCH!r} or {BOOK!r}")
        if self.kind == BOOK and not self.differs:
            raise ValueError(f"reference {self.label!r}: a book version says how it differs")


# The concept's own fields when today's book equals PyTorch.
SAME_AS_PYTORCH = Reference(PYTORCH)


def book(differs: str, **fields) -> Reference:
    """Today's book, where it differs from PyTorch (``differs``)."""
    return Reference("book", BOOK, differs, fields)


@dataclass(frozen=True)
class Probe:
    """Re-run a concept on special inputs; its stages are appended with ``Stage.probe = label``."""

    label: str
    transform: Callable[[tuple], tuple]  # original inputs -> probe inputs


@dataclass(frozen=True)
class Form:
    """Another printed form of a concept, graded when the reader's code raises on the general
    one (a 2-D-only Affine as printed in 5.6.2, a convnet hard-coded for 28×28): ``fields``
    replace the concept's, ``label`` says in the row which form was graded."""

    label: str
    fields: Mapping = field(default_factory=dict)


class Missing(LookupError):
    """The implementation does not provide the concept's scratch side."""


@dataclass(kw_only=True)
class Concept:
    """Base of all pair kinds."""

    name: str  # the book's module.attr, e.g. "layers.Affine"; a variant adds "[label]"
    chapter: str  # book section, e.g. "5.6.2"
    title: str = ""
    builtin_name: str | None = None  # e.g. "nn.Linear (weight = W.T)"
    rtol: float = RTOL
    atol: float = ATOL
    # What the concept's own fields are (today's book), and the other references (PyTorch
    # where the book differs, earlier versions of the book, PyTorch-convention variants).
    ours: Reference = SAME_AS_PYTORCH
    references: tuple[Reference, ...] = ()
    # Extra inputs that expose mistakes ordinary random inputs hide (``--impl`` reports).
    probes: tuple[Probe, ...] = ()
    # Concept-specific diagnoses: diagnosis(result, ctx) -> str names a mistake ("" = not this
    # one); diagnose.py's generic patterns run after them.
    diagnoses: tuple[Callable, ...] = ()
    # Other concepts the scratch side is built from (``layers.Affine`` for a network): when
    # one of them fails too, the ``--impl`` report says to fix that one first.
    requires: tuple[str, ...] = ()
    # Other printed forms, tried in order when the code raises on this one (``Form``).
    forms: tuple[Form, ...] = ()

    def versions(self) -> list[Reference]:
        """Every reference, PyTorch-equal ones first, then the book's versions."""
        refs = [self.ours, *self.references]
        return [r for r in refs if r.kind == PYTORCH] + [r for r in refs if r.kind == BOOK]

    @property
    def book_name(self) -> str:
        """``name`` without its ``[variant]``."""
        return self.name.split("[", 1)[0]

    @property
    def scratch_name(self) -> str:
        """The name looked up in an implementation: a pair kind's ``scratch_cls`` /
        ``scratch_fn`` when set (a variant checking another book name), else ``book_name``."""
        for attr in ("scratch_cls", "scratch_fn"):
            name = getattr(self, attr, None)
            if name:
                return name
        return self.book_name

    def lookup(self, impl: Impl, dotted: str | None = None):
        name = dotted or self.scratch_name
        obj = impl.resolve(name, chapter=self.chapter)
        if obj is None:
            raise Missing(name)
        return obj

    def run(self, impl: Impl, rng: np.random.Generator) -> list[Stage]:  # pragma: no cover
        raise NotImplementedError


def build_registry(concepts_: Sequence[Concept]) -> dict[str, Concept]:
    """The concepts by name; names are unique."""
    out: dict[str, Concept] = {}
    for c in concepts_:
        if c.name in out:
            raise ValueError(f"concept {c.name!r} is registered twice")
        out[c.name] = c
    return out


def _random_like(rng: np.random.Generator, shape) -> np.ndarray:
    return rng.standard_normal(shape) if shape != () else np.asarray(rng.standard_normal())


def _builtin_stages(
    builtin: Callable,
    zt_out: torch.Tensor,
    zt_leaves: dict[str, torch.Tensor],
    inputs: dict[str, torch.Tensor],
    upstream: np.ndarray,
    rtol: float,
    atol: float,
    forward_atol: float | None = None,
    note: str = "",
) -> list[Stage]:
    """Run ``builtin(leaves, *inputs)`` on fresh leaves copied from zerotorch and compare."""
    leaves = {k: v.detach().clone().requires_grad_(v.requires_grad) for k, v in zt_leaves.items()}
    args = [leaves[k] if k in leaves else v for k, v in inputs.items()]
    params = {k: v for k, v in leaves.items() if k not in inputs}
    out = builtin(params, *args)
    stages = [compare("forward", out, zt_out, against="builtin", rtol=rtol,
                      atol=forward_atol if forward_atol is not None else atol, note=note)]
    if out.requires_grad:
        out.backward(tensor(upstream))
        for k, leaf in leaves.items():
            if leaf.requires_grad:
                stages.append(compare(f"d{k}", leaf.grad, zt_leaves[k].grad, against="builtin",
                                      rtol=rtol, atol=atol))
    return stages


@dataclass(kw_only=True)
class FunctionPair(Concept):
    """A stateless function, e.g. ``functions.softmax`` ↔ ``zerotorch.functional.softmax``."""

    torch_fn: Callable
    inputs: Callable[[np.random.Generator], tuple]  # positional args; the first is x
    builtin: Callable | None = None  # builtin(params={}, *tensors) -> Tensor
    differentiable: bool = True
    builtin_forward_atol: float | None = None
    # The book name looked up when ``name`` is a variant (e.g. "functions.softmax[1d]" checks
    # "functions.softmax" on 1-D input); defaults to ``name``.
    scratch_fn: str | None = None

    def run(self, impl: Impl, rng: np.random.Generator) -> list[Stage]:
        fn = self.lookup(impl)
        args = self.inputs(rng)
        copies = [np.array(a, copy=True) for a in args]
        y_s = fn(*args)
        targs = {f"x{i}": tensor(a, requires_grad=(i == 0 and self.differentiable))
                 for i, a in enumerate(args)}
        y_t = self.torch_fn(*targs.values())
        stages = [compare("forward", y_t, y_s, rtol=self.rtol, atol=self.atol)]
        stages += [check_unchanged(f"x{i} unchanged" if i else "x unchanged", c, a)
                   for i, (c, a) in enumerate(zip(copies, args, strict=True))]
        if self.builtin is not None:
            upstream = _random_like(rng, tuple(y_t.shape))
            if self.differentiable:
                y_t.backward(tensor(upstream))
            leaves = {"x0": targs["x0"]} if self.differentiable else {}
            stages += [
                s if s.name != "dx0" else _rename(s, "dx")
                for s in _builtin_stages(self.builtin, y_t.detach() if not self.differentiable
                                         else y_t, leaves, targs, upstream, self.rtol, self.atol,
                                         self.builtin_forward_atol)
            ]
        return stages


def _worst(per_step: list[Stage], note: str) -> Stage:
    """The first failing step, else the step with the largest difference."""
    failed = [i for i, s in enumerate(per_step) if not s.ok]
    i = failed[0] if failed else max(range(len(per_step)), key=lambda j: per_step[j].max_abs)
    stage = per_step[i]
    stage.note = note
    stage.step = i + 1 if failed else None
    return stage


def _rename(stage: Stage, name: str) -> Stage:
    stage.name = name
    return stage


@dataclass(kw_only=True)
class LayerPair(Concept):
    """A layer with ``forward``/``backward`` on the scratch side and an ``nn.Module`` on ours.

    ``init(rng)`` gives constructor kwargs used on both sides (NumPy arrays for parameters).
    ``inputs(rng)`` gives the forward arguments; the first ``n_grad_inputs`` are differentiated.
    ``params`` are the book's parameter names: the scratch gradient is ``layer.d<name>``, ours is
    ``module.<name>.grad``. ``buffers`` (e.g. running statistics) are compared after the pass.
    ``train``: ``None`` for layers without modes, else passed as ``train_flg`` / ``module.train``.
    ``backward=False`` compares only what the forward pass produces (a version of the book whose
    backward needs a training-mode forward). ``torch_call(module, scratch_layer, *tensors)``
    overrides the zerotorch call (e.g. to inject the dropout mask the scratch side drew).
    ``builtin(params, *tensors)`` gets leaf tensors (parameters and buffers) in the book's
    layout, so the mapping to the built-in (``W.T`` …) lives in that one function.
    """

    scratch_cls: str | None = None  # defaults to ``name``
    torch_cls: Callable
    init: Callable[[np.random.Generator], dict] = lambda rng: {}
    inputs: Callable[[np.random.Generator], tuple]
    n_grad_inputs: int = 1
    params: tuple[str, ...] = ()
    buffers: tuple[str, ...] = ()
    train: bool | None = None
    scalar_upstream: float | None = None  # a loss layer's dout (the book's backward(dout=1))
    backward: bool = True  # False: forward, buffers and inputs only (a version without backward)
    torch_call: Callable | None = None
    builtin: Callable | None = None
    builtin_forward_atol: float | None = None
    builtin_note: str = ""

    def run(self, impl: Impl, rng: np.random.Generator) -> list[Stage]:
        cls = self.lookup(impl)
        kwargs = self.init(rng)
        layer = cls(**{k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                       for k, v in kwargs.items()})
        module = self.torch_cls(**kwargs)
        if self.train is not None:
            module.train(self.train)
        args = self.inputs(rng)
        copies = [np.array(a, copy=True) for a in args]
        fkw = {} if self.train is None else {"train_flg": self.train}
        y_s = layer.forward(*args, **fkw)

        targs = {f"x{i}": tensor(a, requires_grad=i < self.n_grad_inputs)
                 for i, a in enumerate(args)}
        call = self.torch_call or (lambda m, _layer, *xs: m(*xs))
        y_t = call(module, layer, *targs.values())
        stages = [compare("forward", y_t, y_s, rtol=self.rtol, atol=self.atol)]
        stages += [check_unchanged("x unchanged" if i == 0 else f"x{i} unchanged", c, a)
                   for i, (c, a) in enumerate(zip(copies, args, strict=True))]

        if not self.backward:
            return stages + [compare(buf, getattr(module, buf), getattr(layer, buf, None),
                                     rtol=self.rtol, atol=self.atol) for buf in self.buffers]
        if self.scalar_upstream is not None:
            upstream = np.asarray(self.scalar_upstream, dtype=np.float64)
            dout_arg = self.scalar_upstream
        else:
            upstream = _random_like(rng, tuple(y_t.shape))
            dout_arg = upstream.copy()
        grads_s = layer.backward(dout_arg)
        if self.scalar_upstream is None:
            stages.append(check_unchanged("dout unchanged", upstream, dout_arg))
        y_t.backward(tensor(upstream).reshape(y_t.shape))

        grads_s = grads_s if isinstance(grads_s, tuple) else (grads_s,)
        for i in range(self.n_grad_inputs):
            label = "dx" if self.n_grad_inputs == 1 else f"d{'xyzw'[i]}"
            got = grads_s[i] if i < len(grads_s) else None
            stages.append(compare(label, targs[f"x{i}"].grad, got, rtol=self.rtol,
                                  atol=self.atol))
        for p in self.params:
            stages.append(compare(f"d{p}", getattr(module, p).grad,
                                  getattr(layer, f"d{p}", None), rtol=self.rtol, atol=self.atol))
        for buf in self.buffers:
            stages.append(compare(buf, getattr(module, buf), getattr(layer, buf, None),
                                  rtol=self.rtol, atol=self.atol))

        if self.builtin is not None:
            # parameters (differentiated) and buffers (e.g. the running statistics an eval-mode
            # built-in needs), then the inputs
            leaves = {k: getattr(module, k) for k in (*self.params, *self.buffers)}
            leaves.update({k: v for k, v in targs.items()})
            stages += [
                _rename(s, "dx") if s.name == "dx0" and self.n_grad_inputs == 1 else s
                for s in _builtin_stages(self.builtin, y_t, leaves, targs, upstream, self.rtol,
                                         self.atol, self.builtin_forward_atol, self.builtin_note)
            ]
        return stages


def require_dict_params(net) -> None:
    """This book's networks keep ``params`` as a dict keyed W1, b1, …; say so plainly."""
    params = getattr(net, "params", None)
    if not isinstance(params, Mapping):
        kind = type(params).__name__
        raise TypeError(f"{type(net).__name__}.params is a {kind}: this book's networks keep a "
                        "dict keyed 'W1', 'b1', … (a list is the second book's convention)")


@dataclass(kw_only=True)
class NetworkPair(Concept):
    """A network: scratch ``loss``/``gradient`` vs zerotorch ``loss`` + autograd (+ numerical).

    ``build(cls, rng)`` constructs the scratch network from the implementation's class;
    ``torch_build(scratch_net)`` constructs ours and loads ``scratch_net.params`` into it.
    ``scratch_loss_and_grads(net, x, t)`` and ``torch_loss(net_t, net_s, x, t)`` override the
    defaults (``net.loss`` then ``net.gradient``; ``net_t.loss(x, t)``), e.g. for train mode or
    an injected dropout mask. ``numerical`` adds the analytic-vs-central-difference check on
    parameters listed in ``numerical_keys`` (all when ``None``).
    """

    build: Callable[[type, np.random.Generator], object]
    torch_build: Callable[[object], torch.nn.Module]
    inputs: Callable[[np.random.Generator], tuple]
    scratch_loss_and_grads: Callable | None = None
    torch_loss: Callable | None = None
    numerical: bool = True
    numerical_keys: tuple[str, ...] | None = None
    # The constant inside the loss's log on our side (``loss_delta`` of zerotorch's networks):
    # the book's 1e-7 by default, 0 for F.cross_entropy.
    loss_delta: float = CROSS_ENTROPY_DELTA

    def run(self, impl: Impl, rng: np.random.Generator) -> list[Stage]:
        cls = self.lookup(impl)
        net = self.build(cls, rng)
        require_dict_params(net)
        for k in list(net.params):
            net.params[k] = np.asarray(net.params[k], dtype=np.float64)
        net_t = self.torch_build(net)
        net_t.loss_delta = self.loss_delta
        x, t = self.inputs(rng)
        # 4.4.2's simpleNet has no gradient method: the book differentiates its loss numerically
        has_gradient = self.scratch_loss_and_grads is not None or callable(
            getattr(net, "gradient", None))
        if self.scratch_loss_and_grads is None:
            def loss_and_grads(n, x_, t_):
                return n.loss(x_, t_), (n.gradient(x_, t_) if has_gradient else {})
        else:
            loss_and_grads = self.scratch_loss_and_grads
        loss_s, grads_s = loss_and_grads(net, x, t)
        torch_loss = self.torch_loss or (lambda n_t, _n, x_, t_: n_t.loss(x_, t_))
        loss_t = torch_loss(net_t, net, tensor(x), tensor(t))
        stages = [compare("loss", loss_t, loss_s, rtol=self.rtol, atol=self.atol)]
        loss_t.backward()
        named = dict(net_t.named_parameters())
        book_params = net_t.book_params() if hasattr(net_t, "book_params") else named
        if not has_gradient:
            self._delta_bend(net_t, book_params, lambda: torch_loss(net_t, net, tensor(x),
                                                                     tensor(t)))
            for k in net.params:  # p.grad is now the exact derivative, delta included
                num = numerical_grad(lambda: float(loss_and_grads(net, x, t)[0]), net.params[k])
                p = book_params.get(k)
                stages.append(compare(f"d{k}", None if p is None else p.grad, num,
                                      rtol=NUMERICAL_RTOL, atol=NUMERICAL_ATOL,
                                      note="central differences of your loss (no gradient "
                                           "method, as 4.4.2's simpleNet) vs autograd"))
            return stages
        for k in net.params:
            p = book_params.get(k)
            stages.append(compare(f"d{k}", None if p is None else p.grad, grads_s.get(k),
                                  rtol=self.rtol, atol=self.atol))
        if self.numerical:
            bend = self._delta_bend(net_t, book_params, lambda: torch_loss(
                net_t, net, tensor(x), tensor(t)))
            for k in self.numerical_keys or tuple(net.params):
                arr = net.params[k]
                num = numerical_grad(lambda: float(loss_and_grads(net, x, t)[0]), arr)
                analytic = grads_s.get(k)
                if k in bend and np.shape(analytic) == bend[k].shape:
                    analytic = np.asarray(analytic, dtype=np.float64) + bend[k]
                stages.append(compare(f"d{k}", num, analytic, against="numerical",
                                      rtol=NUMERICAL_RTOL, atol=NUMERICAL_ATOL,
                                      note=DELTA_BEND_NOTE if k in bend else ""))
        return stages

    def _delta_bend(self, net_t, book_params: dict, loss_fn: Callable) -> dict:
        """What the loss's delta adds to the exact derivative: the analytic (book) gradient is
        that of the loss *without* the delta, so central differences of the loss with it
        differ by exactly this (autograd through log(y + delta) minus the book's backward)."""
        if not self.loss_delta:
            return {}
        book_grads = {k: to_numpy(p.grad).copy() for k, p in book_params.items()
                      if p.grad is not None}
        for p in book_params.values():
            p.grad = None
        net_t.loss_grad = "autograd"
        try:
            loss_fn().backward()
        finally:
            net_t.loss_grad = "book"
        return {k: to_numpy(book_params[k].grad) - g for k, g in book_grads.items()
                if book_params[k].grad is not None}


# The note on a network's numerical-gradient stage when the loss has the book's 1e-7.
DELTA_BEND_NOTE = "analytic + the 1e-7's own derivative (autograd) vs central differences"


@dataclass(kw_only=True)
class OptimizerPair(Concept):
    """``update(params, grads)`` vs a ``torch.optim.Optimizer`` over whole trajectories.

    Problems: the ch6 function f(x, y) = x²/20 + y² from (−7, 2) and a random quadratic bowl on
    a (3, 4) matrix and a (4,) vector (so per-element state and several params are exercised).
    ``scratch_kwargs`` build the scratch optimizer; ``torch_factory(params)`` ours;
    ``builtin_factory(params)`` the torch built-in (``builtin_step_hook(opt, step)`` runs before
    each built-in step, e.g. to set Adam's per-step eps).
    """

    scratch_kwargs: dict = field(default_factory=dict)
    torch_factory: Callable
    builtin_factory: Callable | None = None
    builtin_step_hook: Callable | None = None
    steps: int = 100

    @staticmethod
    def problems(rng: np.random.Generator):
        a = rng.uniform(0.5, 2.0, size=(3, 4))
        c = rng.standard_normal((3, 4))
        d = rng.uniform(0.5, 2.0, size=4)
        e = rng.standard_normal(4)
        return [
            ("f(x,y)", {"x": np.array([-7.0]), "y": np.array([2.0])},
             lambda p: {"x": p["x"] / 10.0, "y": 2.0 * p["y"]}),
            ("bowl", {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)},
             lambda p: {"W": a * (p["W"] - c), "b": d * (p["b"] - e) ** 3 + d * (p["b"] - e)}),
        ]

    def run(self, impl: Impl, rng: np.random.Generator) -> list[Stage]:
        cls = self.lookup(impl)
        stages = []
        for label, start, grad_fn in self.problems(rng):
            ps = {k: v.copy() for k, v in start.items()}
            opt_s = cls(**self.scratch_kwargs)
            pt = {k: torch.nn.Parameter(tensor(v)) for k, v in start.items()}
            opt_t = self.torch_factory(list(pt.values()))
            pb = {k: torch.nn.Parameter(tensor(v)) for k, v in start.items()}
            opt_b = self.builtin_factory(list(pb.values())) if self.builtin_factory else None
            per_step_t, per_step_b = [], []
            for step in range(1, self.steps + 1):
                opt_s.update(ps, grad_fn(ps))
                for side, opt in ((pt, opt_t), (pb, opt_b)):
                    if opt is None:
                        continue
                    g = grad_fn({k: v.detach().numpy() for k, v in side.items()})
                    for k, v in side.items():
                        v.grad = tensor(g[k])
                    if opt is opt_b and self.builtin_step_hook is not None:
                        self.builtin_step_hook(opt, step)
                    opt.step()
                flat_t = np.concatenate([to_numpy(pt[k]).ravel() for k in start])
                flat_s = np.concatenate([np.asarray(ps[k], dtype=float).ravel() for k in start])
                per_step_t.append(compare(f"{label} trajectory", flat_t, flat_s,
                                          rtol=self.rtol, atol=self.atol))
                if opt_b is not None:
                    flat_b = np.concatenate([to_numpy(pb[k]).ravel() for k in start])
                    per_step_b.append(compare(f"{label} trajectory", flat_b, flat_t,
                                              against="builtin", rtol=self.rtol, atol=self.atol))
            for per_step in (per_step_t, per_step_b):
                if per_step:
                    stages.append(_worst(per_step, f"worst of {self.steps} steps"))
        return stages


@dataclass(kw_only=True)
class CustomPair(Concept):
    """A concept whose comparison is a function ``check(concept, impl, rng) -> list[Stage]``."""

    check: Callable[[Concept, Impl, np.random.Generator], list[Stage]]

    def run(self, impl: Impl, rng: np.random.Generator) -> list[Stage]:
        return self.check(self, impl, rng)
