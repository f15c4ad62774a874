"""Run registry concepts against an implementation and render the report (table or JSON)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field

import numpy as np

from zerotorch.crosscheck.compare import Stage
from zerotorch.crosscheck.impl import Impl, frames
from zerotorch.crosscheck.registry import BOOK, Concept, Missing

PASS, FAIL, MISSING, ERROR = "PASS", "FAIL", "MISSING", "ERROR"
TIMEOUT = "TIMEOUT"  # only from ``--impl`` runs (impl/): the reader's code ran out of time
# Only from ``--impl`` runs: the file holding the concept failed to import; that failure is one
# ERROR row of its own (``import layers.py``) and the concepts it hides are listed under it.
BLOCKED = "BLOCKED"
FAILED = (FAIL, ERROR, TIMEOUT)  # statuses that make a report fail (MISSING: see each caller)


@dataclass
class ConceptResult:
    """The outcome of one concept: its stages, or the reason there are none.

    A graded result (``verdict.grade``) also says which reference the code equals
    (``reference``, ``reference_kind``: PyTorch or a version of the book), how that reference
    differs from PyTorch (``differs``) and the measured ``distance`` to PyTorch (the largest
    difference to the PyTorch reference over every compared value); a FAIL names the
    ``closest`` reference, whose stages it carries.
    """

    name: str
    chapter: str
    status: str
    stages: list[Stage] = field(default_factory=list)
    builtin_name: str | None = None
    error: str = ""  # exception summary with the implementation's traceback line
    diagnosis: str = ""  # one line for a recognised mistake (see ``diagnose``)
    reference: str | None = None  # the label of the reference matched (PASS) or closest (FAIL)
    reference_kind: str | None = None  # registry.PYTORCH or registry.BOOK
    differs: str = ""  # how that reference differs from PyTorch (book versions)
    distance: float | None = None  # max |Δ| to the PyTorch reference (None: not measured)
    blocked_by: str = ""  # BLOCKED: the file whose import failed (its own row says why)
    source: str = ""  # where the reader's object came from (``ch05/two_layer_net.py``), if known
    adapted: list[str] = field(default_factory=list)  # their names read as ours (impl/adapter.py)
    form: str = ""  # the printed form graded, when not the concept's general one (``Form``)

    @property
    def verdict(self) -> str:
        """``PASS``, ``PASS (book)``, ``PASS (book 2016)``, ``FAIL``…"""
        if self.status == PASS and self.reference_kind == BOOK:
            return f"PASS ({self.reference})"
        return self.status

    def first_failure(self) -> Stage | None:
        return next((s for s in self.stages if not s.ok), None)

    def failed_only(self, *stage_names: str) -> bool:
        """True when the concept FAILed and every failing stage is one of ``stage_names``."""
        bad = {s.name for s in self.stages if not s.ok}
        return self.status == FAIL and bool(bad) and bad <= set(stage_names)

    def max_abs(self, against: str, names: tuple[str, ...] | None = None,
                exclude: tuple[str, ...] = ()) -> float | None:
        vals = [s.max_abs for s in self.stages if s.against == against
                and (names is None or s.name in names) and s.name not in exclude]
        return max(vals) if vals else None

    def to_json(self) -> dict:
        first = self.first_failure()
        return {
            "name": self.name,
            "chapter": self.chapter,
            "status": self.status,
            "verdict": self.verdict,
            "reference": self.reference,
            "reference_kind": self.reference_kind,
            "differs_from_pytorch": self.differs or None,
            "distance_to_pytorch": _finite(self.distance),
            "builtin": self.builtin_name,
            "first_failure": first.label if first else None,
            "first_failure_against": first.against if first else None,
            "error": self.error or None,
            "diagnosis": self.diagnosis or None,
            "form": self.form or None,
            "source": self.source or None,
            "stages": [s.to_json() for s in self.stages],
        }


def _finite(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def run_concept(concept: Concept, impl: Impl, seed: int = 0) -> ConceptResult:
    """Run one concept with a fresh generator seeded by ``seed``; never raises for user errors."""
    res = ConceptResult(concept.name, concept.chapter, PASS, builtin_name=concept.builtin_name)
    rng = np.random.default_rng(seed)
    try:
        with np.errstate(all="ignore"):
            res.stages = concept.run(impl, rng)
    except Missing as exc:
        res.status = MISSING
        res.error = f"not implemented: {exc.args[0]}"
        close = impl.suggestions(exc.args[0]) if hasattr(impl, "suggestions") else []
        if close:
            res.error += f" (did you mean {', '.join(close)}? --map names it)"
        return res
    except Exception as exc:  # the implementation under test raised: report, don't stop
        res.blocked_by = getattr(exc, "blocked_by", "")
        res.status = BLOCKED if res.blocked_by else ERROR
        res.error = frames.summary(exc, getattr(impl, "root", None))
        return res
    if any(not s.ok for s in res.stages):
        res.status = FAIL
    return res


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if not math.isfinite(v):
        return "inf"
    return "0" if v == 0 else f"{v:.1e}"


def format_table(results: list[ConceptResult], impl_name: str = "scratch",
                 shapes: bool = False) -> str:
    """The report: one row per concept, then one line per finding, then the summary line.

    Columns: the largest difference to the reference matched (or the closest one) in the
    forward pass, dx and the parameter gradients; that reference's zerotorch side vs the torch
    built-in; the distance to PyTorch; the verdict. ``shapes`` adds the shape each side produced
    under every failure (the ``--impl`` report).
    """
    head = ("concept", "ch", "forward", "dx", "param grads", "vs built-in", "to PyTorch",
            "verdict")
    sources = any(r.source for r in results)
    if sources:
        head += ("from",)
    rows = []
    for r in results:
        fwd = r.max_abs("zerotorch", ("forward", "loss"))
        dx = r.max_abs("zerotorch", ("dx", "dy"))
        params = r.max_abs("zerotorch", exclude=("forward", "loss", "dx", "dy"))
        builtin = r.max_abs("builtin")
        rows.append((r.name, r.chapter, _fmt(fwd), _fmt(dx), _fmt(params),
                     _fmt(builtin) if r.builtin_name else "-",
                     _fmt(r.distance) if r.status in (PASS, FAIL) else "-", r.verdict)
                    + ((r.source or "-",) if sources else ()))
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()
    out = [line, "-" * len(line)]
    out += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
            for row in rows]
    details = []
    for r in results:
        if r.form:
            details.append(f"{r.name}: graded in {r.form}")
        if r.adapted:
            details.append(f"{r.name}: your names: {'; '.join(r.adapted)}")
        if r.status == PASS and r.reference_kind == BOOK:
            dist = f" ({_fmt(r.distance)} here)" if r.distance else ""
            details.append(f"{r.name}: {r.verdict}: {r.differs}{dist}")
        elif r.status == PASS and r.reference not in (None, "pytorch"):
            details.append(f"{r.name}: PASS as {r.reference}")
        if r.status == MISSING and "did you mean" in r.error:
            details.append(f"{r.name}: MISSING: {r.error.removeprefix('not implemented: ')}")
        if r.status in FAILED:
            first = r.first_failure()
            msg = r.error or (first.describe() if first else "")
            details.append(f"{r.name}: {r.status}: {msg}")
            if r.status == FAIL and r.reference:
                # only the name: how that version differs from PyTorch is rarely why it fails
                details.append(f"    closest: {r.reference}")
            if shapes and first is not None and not r.error:
                details.append(f"    shapes: yours {first.shape_actual}, expected "
                               f"{first.shape_expected}")
            if r.diagnosis:
                details.append(f"    diagnosis: {r.diagnosis}")
    if details:
        out += ["", *details]
    counts = verdict_counts(results)
    n = sum(not r.name.startswith("import ") for r in results)  # not the files' import rows
    out += ["", f"{impl_name}: {n} concepts: " + ", ".join(
        f"{n} {v if v.startswith('PASS (') else v.lower()}" for v, n in counts.items())]
    return "\n".join(out)


def verdict_counts(results: list[ConceptResult]) -> dict[str, int]:
    """How many rows got each verdict: PASS, each ``PASS (book …)`` met, FAIL, ERROR, MISSING,
    and TIMEOUT / BLOCKED when some concept timed out / was hidden by a failed import."""
    book = sorted({r.verdict for r in results if r.verdict.startswith("PASS (")})
    order = [PASS, *book, FAIL, ERROR, MISSING]
    order += [s for s in (TIMEOUT, BLOCKED) if any(r.status == s for r in results)]
    return {v: sum(r.verdict == v for r in results) for v in order}


def exit_status(results: list[ConceptResult], strict: bool = False,
                missing_fails: bool = False) -> int:
    """1 when anything FAILed, ERRORed or TIMED OUT; with ``strict`` also when a concept equals
    only a version of the book (not PyTorch); with ``missing_fails`` also for MISSING."""
    bad = (*FAILED, MISSING) if missing_fails else FAILED
    if any(r.status in bad for r in results):
        return 1
    if strict and any(r.status == PASS and r.reference_kind == BOOK for r in results):
        return 1
    return 0


def format_json(results: list[ConceptResult], impl_name: str = "scratch") -> str:
    counts = {v.lower(): n for v, n in verdict_counts(results).items()}
    return json.dumps({"impl": impl_name, "summary": counts,
                       "concepts": [r.to_json() for r in results]}, indent=2)
