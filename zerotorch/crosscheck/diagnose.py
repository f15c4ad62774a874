"""One-line diagnoses of common mistakes, the book's own known deviations, and extra probes.

Used by ``verdict.grade`` (for ``zerotorch crosscheck --impl``, ``impl/``) on a concept that
did not pass:

- ``diagnose(result, concept, seed)``: first the concept's own diagnoses (``Concept.diagnoses``,
  declared in its registration: BN's variance and eps, Pooling's tied maxima…), then generic
  patterns on the failing stages' arrays (the side under test vs the reference) and the
  replayed inputs: a transposed gradient, a missing division by the batch size, ``dout``
  written in place, softmax overflowing without the max subtracted, a flipped sign, a constant
  offset, float32…
- ``probe_stages``: the concept's probes (``Concept.probes``: logits shifted by 1000 for softmax,
  tied maxima for Pooling) run as extra stages, each marked with ``Stage.probe``.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass

import numpy as np

from zerotorch.crosscheck.compare import Stage
from zerotorch.crosscheck.registry import Concept

# A pattern "fits" when it explains the difference to this relative accuracy: loose, because
# a diagnosis names the mistake, it does not grade the code (the comparison did that).
FIT_RTOL = 1e-6
FIT_ATOL = 1e-9
# A constant factor this close to 1 (or to 0) is not reported as "scaled by c": an eps placed
# elsewhere gives c = 1 ± 1e-7 on some data, a dead gradient c ≈ 0; neither is a scale mistake.
MEANINGFUL_SCALE = 1e-3


@dataclass
class Context:
    """What a diagnosis may know about the run besides the stages: the replayed inputs."""

    concept: Concept
    name: str  # the book name
    seed: int = 0
    init: dict | None = None
    inputs: tuple | None = None

    @property
    def batch(self) -> int | None:
        if self.inputs and np.ndim(self.inputs[0]) >= 2:
            return int(np.shape(self.inputs[0])[0])
        return None


def replay(concept: Concept, seed: int) -> Context:
    """The constructor kwargs and inputs ``concept.run`` drew from ``default_rng(seed)``."""
    ctx = Context(concept, concept.scratch_name, seed)
    rng = np.random.default_rng(seed)
    try:
        if hasattr(concept, "init") and hasattr(concept, "torch_cls"):  # LayerPair order
            ctx.init = concept.init(rng)
            ctx.inputs = concept.inputs(rng)
        elif hasattr(concept, "torch_fn"):  # FunctionPair
            ctx.inputs = concept.inputs(rng)
    except Exception:  # noqa: BLE001  (a diagnosis never breaks the report)
        pass
    return ctx


# ------------------------------------------------------------------------------ array patterns


def _fits(actual: np.ndarray, expected: np.ndarray) -> bool:
    return actual.shape == expected.shape and bool(np.allclose(
        actual, expected, rtol=FIT_RTOL, atol=FIT_ATOL * max(1.0, float(np.abs(expected).max(
            initial=0.0)))))


def _arrays(stage: Stage) -> tuple[np.ndarray, np.ndarray] | None:
    if stage.actual is None or stage.expected is None:
        return None
    try:
        a = np.asarray(stage.actual, dtype=np.float64)
        e = np.asarray(stage.expected, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return a, e


def _ratio(a: np.ndarray, e: np.ndarray) -> float | None:
    """The scalar c with a ≈ c·e, if there is one (and e is not all zeros)."""
    if a.shape != e.shape or not np.isfinite(a).all() or not np.any(e):
        return None
    c = float(np.vdot(a, e) / np.vdot(e, e))
    return c if c != 0 and _fits(a, c * e) else None


def _near(x: float, y: float, rtol: float = 1e-6) -> bool:
    return abs(x - y) <= rtol * abs(y)


def _shape_patterns(stage: Stage, a: np.ndarray, e: np.ndarray, ctx: Context) -> str:
    n = stage.name
    if a.ndim == 2 and a.shape == e.shape[::-1] and _fits(a.T, e):
        return (f"{n} is transposed: you produced {a.shape}, expected {e.shape} "
                f"(e.g. dW = x.T @ dout, not dout.T @ x)")
    if a.ndim == e.ndim and a.ndim > 2 and sorted(a.shape) == sorted(e.shape):
        for perm in itertools.permutations(range(a.ndim)):
            if a.transpose(perm).shape == e.shape and _fits(a.transpose(perm), e):
                return (f"{n} has its axes in the wrong order: your array transposed by "
                        f"{perm} is the expected {e.shape} (check the transpose before the "
                        "reshape)")
    if a.size == e.size and _fits(a.reshape(e.shape), e):
        return (f"{n} has the right values but shape {a.shape}; reshape it to {e.shape} "
                "(e.g. dx back to the input's original shape)")
    if a.ndim == e.ndim + 1 and a.shape[1:] == e.shape and _fits(a.sum(axis=0), e):
        return f"{n} is not summed over the batch: sum it over axis 0 to get {e.shape}"
    return ""


def _ratio_message(stage: Stage, c: float, ctx: Context, size: int = 2) -> str:
    """Name the factor ``c`` (yours = c·expected); for one number (a loss) only the factors
    that mean something (−1, N, 1/N…), as any two numbers have a ratio."""
    n, N = stage.name, ctx.batch
    if _near(c, -1.0):
        return f"{n} has the sign flipped (yours = −expected)"
    if N and N > 1:
        if _near(c, N):
            return (f"{n} is N = {N} times too large: missing division by the batch size "
                    "(average over the batch)")
        if _near(c, 1.0 / N):
            return f"{n} is N = {N} times too small: divided by the batch size once too often"
        if _near(c, N / (N - 1)) or _near(c, (N - 1) / N):
            which = "unbiased" if c > 1 else "biased"
            return (f"{n} is off by N/(N−1) = {N}/{N - 1}: {which} variance where the book "
                    f"uses the {'biased' if c > 1 else 'unbiased'} one "
                    f"({'divide by N, np.var' if c > 1 else 'divide by N − 1'})")
        if _near(c, math.sqrt((N - 1) / N)) or _near(c, math.sqrt(N / (N - 1))):
            return (f"{n} is off by √((N−1)/N): the normalisation uses the unbiased variance "
                    "(divide by N − 1); the book divides by N (np.var)")
    if n.startswith("running") and (_near(c, 9.0) or _near(c, 1 / 9.0)):
        return (f"{n} is off by 9 = 0.9/0.1: the momentum convention is swapped; the book keeps "
                "momentum·running + (1 − momentum)·batch (PyTorch's momentum is the other part)")
    ups = getattr(ctx.concept, "scalar_upstream", None)
    if ups not in (None, 0, 1) and _near(c, 1.0 / ups):
        return f"{n} ignores dout = {ups}: multiply the local gradient by dout"
    if size < 2:
        return ""
    if _near(c, 2.0) or _near(c, 0.5):
        return (f"{n} is off by a factor {c:g} (a missing or extra ½ or 2, e.g. the derivative "
                "of ½·x²)")
    if abs(c - round(c)) < 1e-6 and abs(c) >= 2:
        return f"{n} is exactly {round(c)} times the expected value (a missing division?)"
    if abs(c - 1.0) < MEANINGFUL_SCALE or abs(c) < MEANINGFUL_SCALE:
        return ""  # a factor within 0.1 % of 1 (or near 0) names nothing: no diagnosis
    return f"{n} is the expected value scaled by {c:.6g}"


def _value_patterns(stage: Stage, a: np.ndarray, e: np.ndarray, ctx: Context) -> str:
    n = stage.name
    if a.shape != e.shape:
        return _shape_patterns(stage, a, e, ctx)
    if not np.isfinite(a).all() and np.isfinite(e).all():
        if "softmax" in ctx.name.lower() or "Softmax" in ctx.name:
            return (f"NaN/inf in {n}: softmax overflows for large inputs (exp(1000) = inf); "
                    "subtract the row max first: exp(x − x.max(axis=-1, keepdims=True))")
        if "cross_entropy" in ctx.name:
            return (f"NaN/inf in {n}: log(0) for a zero probability; the book adds "
                    "delta = 1e-7 inside the log")
        return f"NaN/inf in {n}: an overflow or a division by zero"
    if stage.actual is not None and np.asarray(stage.actual).dtype == np.float32:
        return (f"{n} was computed in float32 (relative error ~1e-7); keep float64 "
                "(no dtype=np.float32 / astype(np.float32))")
    if a.ndim == 2 and a.shape[0] == a.shape[1] > 1 and not _fits(e, e.T) and _fits(a.T, e):
        return f"{n} is transposed (yours ≈ expected.T; e.g. dW = x.T @ dout, not dout.T @ x)"
    if not np.any(a) and np.any(e):
        return f"{n} is all zeros: the gradient is not propagated (or not stored)"
    c = _ratio(a, e)
    if c is not None and not _near(c, 1.0, 1e-9):
        msg = _ratio_message(stage, c, ctx, a.size)
        if msg:
            return msg
    d = a - e
    if d.size > 1 and _fits(d, np.full_like(d, d.mean())) and abs(d.mean()) > 0:
        return f"{n} is off by the constant {d.mean():.6g} everywhere"
    if ctx.inputs is not None and n in ("dx", "forward"):
        x = np.asarray(ctx.inputs[0])
        if x.shape == a.shape:
            wrong = ~np.isclose(a, e, rtol=FIT_RTOL, atol=FIT_ATOL)
            if wrong.any() and np.all(x[wrong] == 0):
                return (f"{n} differs only where x = 0: at the kink the book's ReLU layer "
                        "passes no gradient (mask = x <= 0)")
    return ""


_ERROR_PATTERNS: list[tuple[str, str]] = [
    ("has no attribute 'int'", "np.int/np.float were removed in NumPy 1.24 (the book's own "
                               "code used np.int until 2024-11): use int/float"),
    ("KeyError: 0", "params indexed by position (params[0]): this book's params and grads are "
                    "dicts keyed 'W1', 'b1', … (lists are the second book's convention)"),
    ("dtype('<U", "params iterated as a list: this book's params and grads are dicts keyed "
                  "'W1', 'b1', … (lists are the second book's convention)"),
    ("got shape (", "your network's parameters have other shapes than the book's architecture "
                    "(another padding, filter count or hidden size?)"),
    ("abstract method", "a method the base class requires is not defined: a misspelt name "
                        "(backword for backward)?"),
    ("has no attribute 'float'", "np.int/np.float were removed in NumPy 1.24: use int/float"),
    ("not aligned", "matrix shapes don't line up: check W's (in, out) layout and the "
                    "transposes in forward/backward"),
    ("matmul: Input operand", "matrix shapes don't line up: check W's (in, out) layout and the "
                              "transposes in forward/backward"),
    ("could not be broadcast", "shapes don't match in an elementwise operation: compare your "
                               "array shapes with the book's"),
    ("unexpected keyword argument", "your constructor or method takes different arguments "
                                    "from the book's"),
    ("positional argument", "your function takes a different number of arguments from the "
                            "book's"),
    ("importing ", "the file fails to import: fix the error above first"),
]


def diagnose(result, concept: Concept, seed: int = 0, ctx: Context | None = None) -> str:
    """One line naming the mistake behind ``result`` (a FAIL/ERROR ``ConceptResult``), or ""."""
    if result.status == "ERROR":
        for needle, message in _ERROR_PATTERNS:
            if needle in result.error:
                return message
        return ""
    if result.status != "FAIL":
        return ""
    ctx = ctx or replay(concept, seed)
    for own in concept.diagnoses:
        msg = own(result, ctx)
        if msg:
            return msg
    failing = [s for s in result.stages if not s.ok]
    grads = [s for s in result.stages if s.name.startswith("d") and s.against == "zerotorch"]
    vs_ours = [s.name for s in failing if s.against == "zerotorch"]
    if vs_ours == ["loss"] and grads and all(s.ok for s in grads):  # numerical ones may fail
        return ("the loss differs but every gradient agrees: loss() adds or changes a term "
                "that gradient() leaves out (an L2 term? another output activation?)")
    for s in failing:
        arrs = _arrays(s)
        if arrs is not None and _returns_argmax(arrs[1], arrs[0]):
            return (f"{s.name} returns class indices (argmax), not the scores or "
                    "probabilities themselves")
    for s in failing:
        if s.name == "dout unchanged":
            return ("backward writes into dout in place (e.g. dout[mask] = 0): the caller's "
                    "array changes; compute a new array instead (np.where or dout.copy())")
        if s.name.endswith("unchanged"):
            arg = s.name.split()[0]
            return (f"{arg} was modified in place: the caller's array changes; work on a copy "
                    f"({arg}.copy()) or build a new array")
        if s.note.startswith("got ") and "not an array" in s.note:
            got = s.note.split()[1].rstrip(",")
            if s.name in ("forward", "loss") and got == "NoneType":
                return f"{s.name} returned None: a missing return statement?"
            if s.name.startswith("d") and got == "NoneType":
                if s.name in ("dx", "dy", "dz", "dw"):
                    return f"backward returned None for {s.name}: a missing return statement?"
                return f"backward did not set self.{s.name} (store the gradient on the layer)"
            return f"{s.name} is a {got}, not an array"
        arrs = _arrays(s)
        if arrs is None:
            continue
        msg = _value_patterns(s, *arrs, ctx)
        if msg:
            return f"{msg} ({_trajectory_hint(s.step)})" if s.step else msg
        if s.step:
            return _trajectory_hint(s.step)
    return ""


def _returns_argmax(expected, actual) -> bool:
    e, a = np.asarray(expected), np.asarray(actual)
    return (e.ndim >= 2 and a.shape == e.shape[:-1] and a.size > 0
            and np.array_equal(a, e.argmax(axis=-1)))


def _trajectory_hint(k: int) -> str:
    if k == 1:
        return ("wrong from the first update: check the update rule and the default "
                "hyperparameters")
    return (f"the first {k - 1} updates agree, update {k} differs: check the state carried "
            "between calls (velocity, h, m/v, the step counter)")


# ------------------------------------------------------------------------------ probes


def probe_stages(concept: Concept, impl, seed: int) -> list[Stage]:
    """The stages of the concept's probes (``Concept.probes``), each marked ``Stage.probe``."""
    stages: list[Stage] = []
    for probe in concept.probes:
        original = concept.inputs
        variant = dataclasses.replace(concept, inputs=lambda rng, f=original, p=probe:
                                      p.transform(f(rng)))
        with np.errstate(all="ignore"):
            for s in variant.run(impl, np.random.default_rng(seed)):
                if s.against != "self":
                    s.probe = probe.label
                    stages.append(s)
    return stages
