"""Run registry concepts against an implementation and render the report (table or JSON)."""

from __future__ import annotations

import json
import math
import traceback
from dataclasses import dataclass, field

import numpy as np

from zerotorch.crosscheck.compare import Stage, stage_base
from zerotorch.crosscheck.impl import Impl, scratch_impl
from zerotorch.crosscheck.registry import Concept, Missing, concepts

PASS, FAIL, MISSING, ERROR = "PASS", "FAIL", "MISSING", "ERROR"
TIMEOUT = "TIMEOUT"  # only from ``--impl`` runs (user.py): the reader's code ran out of time
FAILED = (FAIL, ERROR, TIMEOUT)  # statuses that make a report fail (MISSING: see each caller)


@dataclass
class ConceptResult:
    """The outcome of one concept: its stages, or the reason there are none."""

    name: str
    chapter: str
    status: str
    stages: list[Stage] = field(default_factory=list)
    builtin_name: str | None = None
    error: str = ""  # exception summary with the implementation's traceback line
    diagnosis: str = ""  # one line for a recognised mistake (see ``diagnose``)
    known_deviation: str | None = None

    def first_failure(self) -> Stage | None:
        return next((s for s in self.stages if not s.ok), None)

    def max_abs(self, against: str, names: tuple[str, ...] | None = None,
                exclude: tuple[str, ...] = ()) -> float | None:
        vals = [s.max_abs for s in self.stages if s.against == against
                and (names is None or stage_base(s.name) in names)
                and stage_base(s.name) not in exclude]
        return max(vals) if vals else None

    def to_json(self) -> dict:
        first = self.first_failure()
        return {
            "name": self.name,
            "chapter": self.chapter,
            "status": self.status,
            "builtin": self.builtin_name,
            "first_failure": first.name if first else None,
            "first_failure_against": first.against if first else None,
            "error": self.error or None,
            "diagnosis": self.diagnosis or None,
            "known_deviation": self.known_deviation,
            "stages": [s.to_json() for s in self.stages],
        }


def _user_frame(exc: BaseException) -> str:
    """The innermost traceback line outside zerotorch (the implementation's own code)."""
    if getattr(exc, "user_frame", None):  # the summary was made where the error arose
        return exc.user_frame
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if "/zerotorch/" not in f.filename.replace("\\", "/")]
    f = (mine or frames)[-1] if frames else None
    where = f" at {f.filename}:{f.lineno} ({f.line})" if f else ""
    return f"{type(exc).__name__}: {exc}{where}"


def run_concept(concept: Concept, impl: Impl, seed: int = 0) -> ConceptResult:
    """Run one concept with a fresh generator seeded by ``seed``; never raises for user errors."""
    res = ConceptResult(concept.name, concept.chapter, PASS, builtin_name=concept.builtin_name,
                        known_deviation=concept.known_deviation)
    rng = np.random.default_rng(seed)
    try:
        with np.errstate(all="ignore"):
            res.stages = concept.run(impl, rng)
    except Missing as exc:
        res.status = MISSING
        res.error = f"not implemented: {exc.args[0]}"
        return res
    except Exception as exc:  # the implementation under test raised: report, don't stop
        res.status = ERROR
        res.error = _user_frame(exc)
        return res
    if any(not s.ok for s in res.stages):
        res.status = FAIL
    return res


def run_all(impl: Impl | None = None, only=None, seed: int = 0) -> list[ConceptResult]:
    """Every registered concept (or those named in ``only``) against ``impl`` (default scratch)."""
    impl = impl or scratch_impl()
    return [run_concept(c, impl, seed) for c in concepts(only)]


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if not math.isfinite(v):
        return "inf"
    return "0" if v == 0 else f"{v:.1e}"


def format_table(results: list[ConceptResult], impl_name: str = "scratch",
                 shapes: bool = False) -> str:
    """The report: one row per concept, then one line per failure, then the summary line.

    ``shapes`` adds the shape each side produced under every failure (the ``--impl`` report).
    """
    head = ("concept", "ch", "forward", "dx", "param grads", "vs built-in", "status")
    rows = []
    for r in results:
        fwd = r.max_abs("zerotorch", ("forward", "loss"))
        dx = r.max_abs("zerotorch", ("dx", "dy"))
        params = r.max_abs("zerotorch", exclude=("forward", "loss", "dx", "dy"))
        builtin = r.max_abs("builtin")
        status = r.status + (" (book deviation)" if r.known_deviation and r.status in FAILED
                             else "")
        rows.append((r.name, r.chapter, _fmt(fwd), _fmt(dx), _fmt(params),
                     _fmt(builtin) if r.builtin_name else "-", status))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    details = []
    for r in results:
        if r.status in FAILED:
            first = r.first_failure()
            msg = r.error or (first.describe() if first else "")
            details.append(f"{r.name}: {r.status}: {msg}")
            if shapes and first is not None and not r.error:
                details.append(f"    shapes: yours {first.shape_actual}, expected "
                               f"{first.shape_expected}")
            if r.diagnosis:
                details.append(f"    diagnosis: {r.diagnosis}")
            if r.known_deviation:
                details.append(f"    known book deviation: {r.known_deviation}")
    if details:
        out += ["", *details]
    counts = {s: sum(r.status == s for r in results) for s in _statuses(results)}
    out += ["", f"{impl_name}: {len(results)} concepts: " + ", ".join(
        f"{n} {s.lower()}" for s, n in counts.items())]
    return "\n".join(out)


def _statuses(results: list[ConceptResult]) -> tuple[str, ...]:
    """The summary's statuses: TIMEOUT only appears when some concept timed out."""
    base = (PASS, FAIL, ERROR, MISSING)
    return base + (TIMEOUT,) if any(r.status == TIMEOUT for r in results) else base


def format_json(results: list[ConceptResult], impl_name: str = "scratch") -> str:
    counts = {s.lower(): sum(r.status == s for r in results) for s in _statuses(results)}
    return json.dumps({"impl": impl_name, "summary": counts,
                       "concepts": [r.to_json() for r in results]}, indent=2)
