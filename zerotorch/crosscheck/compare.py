"""The one comparison routine: arrays → ``Stage`` records, and the checks built from it.

Convention: ``expected`` is the reference side (zerotorch against scratch, the torch built-in
against zerotorch, the numerical gradient against an analytic one); ``actual`` is the side under
test. Everything runs in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

DTYPE = np.float64
TORCH_DTYPE = torch.float64

# float64-tight defaults for two implementations of the same formula.
RTOL = 1e-10
ATOL = 1e-12
# Central differences with h = 1e-5 in float64 carry O(h²) truncation plus O(eps/h) rounding
# error: ~1e-9 relative on smooth functions, so the numerical check gets its own tolerance.
NUMERICAL_RTOL = 1e-5
NUMERICAL_ATOL = 1e-7
NUMERICAL_H = 1e-5


@dataclass
class Stage:
    """One compared quantity: forward output, dx, a parameter gradient, a running statistic…"""

    name: str
    against: str  # "zerotorch", "builtin", "numerical" or "self" (e.g. dout left unchanged)
    ok: bool
    max_abs: float = 0.0
    max_rel: float = 0.0
    shape_expected: tuple | None = None
    shape_actual: tuple | None = None
    note: str = ""
    expected: np.ndarray | None = field(default=None, repr=False, compare=False)
    actual: np.ndarray | None = field(default=None, repr=False, compare=False)
    step: int | None = None  # a trajectory's first failing step (1-based), else None
    probe: str = ""  # the probe (``Concept.probes``) whose inputs this stage ran on, if any

    @property
    def label(self) -> str:
        """The name with its probe, e.g. ``dx [tied maxima]``."""
        return f"{self.name} [{self.probe}]" if self.probe else self.name

    def describe(self) -> str:
        if self.shape_expected is not None and self.shape_actual != self.shape_expected:
            return (
                f"{self.label} (vs {self.against}): shape {self.shape_actual}, "
                f"expected {self.shape_expected}"
            )
        text = (
            f"{self.label} (vs {self.against}): max|Δ|={self.max_abs:.3g}, "
            f"max rel={self.max_rel:.3g}"
        )
        notes = [n for n in (self.note, f"step {self.step}" if self.step else "") if n]
        return f"{text}; {'; '.join(notes)}" if notes else text

    def to_json(self) -> dict:
        def num(v):
            return None if v is None or not math.isfinite(v) else float(v)

        return {
            "name": self.name,
            "against": self.against,
            "ok": self.ok,
            "max_abs": num(self.max_abs),
            "max_rel": num(self.max_rel),
            "shape_expected": list(self.shape_expected) if self.shape_expected else None,
            "shape_actual": list(self.shape_actual) if self.shape_actual else None,
            "note": self.note,
            "step": self.step,
            "probe": self.probe or None,
        }


class ComparisonError(AssertionError):
    """Raised by ``assert_stages``; the message names concept, stage and the differences."""


def to_numpy(value) -> np.ndarray:
    """A tensor, array or number as a NumPy array (detached, on the CPU)."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def compare(
    name: str,
    expected,
    actual,
    *,
    against: str = "zerotorch",
    rtol: float = RTOL,
    atol: float = ATOL,
    note: str = "",
) -> Stage:
    """Compare two arrays elementwise (|a − e| ≤ atol + rtol·|e|, NaN never equal)."""
    e = to_numpy(expected)
    try:
        a = to_numpy(actual)
        if a.dtype == object:
            raise TypeError
    except (TypeError, ValueError):
        return Stage(name, against, False, math.inf, math.inf, e.shape, None,
                     f"got {type(actual).__name__}, not an array", e, None)
    if a.shape != e.shape:
        # A scalar loss returned as shape () vs (1,) is the same number: accept size-1 pairs.
        if a.size == e.size == 1:
            a = a.reshape(e.shape)
        else:
            return Stage(name, against, False, math.inf, math.inf, e.shape, a.shape,
                         note, e, a)
    e64 = e.astype(np.float64)
    a64 = a.astype(np.float64)
    finite = np.isfinite(a64).all()
    if not finite and not np.array_equal(np.isnan(a64), np.isnan(e64)):
        return Stage(name, against, False, math.inf, math.inf, e.shape, a.shape,
                     (note + "; " if note else "") + "NaN/inf in result", e, a)
    with np.errstate(invalid="ignore"):
        diff = np.abs(a64 - e64)
        diff = np.where(np.isnan(diff) & np.isnan(a64) & np.isnan(e64), 0.0, diff)
        diff = np.where(np.isinf(e64) & (a64 == e64), 0.0, diff)
    max_abs = float(diff.max()) if diff.size else 0.0
    scale = np.abs(e64)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(scale > 0, diff / scale, np.where(diff > 0, np.inf, 0.0))
    max_rel = float(rel.max()) if rel.size else 0.0
    ok = bool(np.all(diff <= atol + rtol * scale))
    return Stage(name, against, ok, max_abs, max_rel, e.shape, a.shape, note, e, a)


def check_unchanged(name: str, before: np.ndarray, after) -> Stage:
    """A stage asserting an argument (``dout``, ``x``) was not written to."""
    same = np.array_equal(to_numpy(after), before, equal_nan=True)
    note = "" if same else f"{name.split()[0]} was modified in place"
    diff = 0.0 if same else float(np.nanmax(np.abs(to_numpy(after) - before)))
    return Stage(name, "self", same, diff, 0.0, before.shape, np.shape(after), note)


def assert_stages(concept: str, stages: list[Stage]) -> None:
    """Raise ``ComparisonError`` listing every failing stage of ``concept``."""
    bad = [s for s in stages if not s.ok]
    if bad:
        lines = "\n  ".join(s.describe() for s in bad)
        raise ComparisonError(f"{concept}: {len(bad)} stage(s) differ:\n  {lines}")


def tensor(x, requires_grad: bool = False) -> torch.Tensor:
    """A float64 leaf tensor copied from ``x`` (integer labels keep their dtype)."""
    a = np.asarray(x)
    t = torch.tensor(a) if a.dtype.kind in "iub" else torch.tensor(a, dtype=TORCH_DTYPE)
    return t.requires_grad_(requires_grad)


def numerical_grad(f, x: np.ndarray, h: float = NUMERICAL_H) -> np.ndarray:
    """Central-difference gradient of scalar ``f()`` w.r.t. array ``x`` (perturbed, restored).

    This is the harness's own independent estimate, so a user's ``numerical_gradient`` is never
    what grades their backward pass.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = f()
        x[i] = old - h
        fm = f()
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad
