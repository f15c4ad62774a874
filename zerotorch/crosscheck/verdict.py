"""Verdicts: which reference a concept's code equals, and how far that is from PyTorch.

Every concept declares its references in its registration (``Concept.ours`` and
``Concept.references``): PyTorch (the built-in, or autograd of the formula), today's book where
it differs, the named earlier versions of the book, and PyTorch-convention variants a careful
reader writes. ``grade`` runs them, PyTorch-equal ones first, and returns the first that the
code equals:

- ``PASS``: equals a PyTorch reference;
- ``PASS (book)`` / ``PASS (book 2016)`` / …: equals that version of the book exactly; the row
  carries how it differs from PyTorch (``differs``) and by how much here (``distance``);
- ``FAIL`` (or ``ERROR``): equals none; the row carries the closest reference's stages and the
  diagnosis made on them.

Runs that the references share (a reference with no ``fields`` is the concept's own run) are
made once.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from zerotorch.crosscheck import diagnose
from zerotorch.crosscheck.impl import Impl, frames, scratch_impl
from zerotorch.crosscheck.pairs import concepts
from zerotorch.crosscheck.registry import PYTORCH, Concept, Reference
from zerotorch.crosscheck.runner import (
    BLOCKED,
    ERROR,
    FAIL,
    MISSING,
    PASS,
    ConceptResult,
)
from zerotorch.crosscheck.runner import run_concept as _run_concept


def _variant(concept: Concept, ref: Reference) -> Concept:
    return dataclasses.replace(concept, **ref.fields) if ref.fields else concept


def _checked_run(concept: Concept, impl: Impl, seed: int) -> ConceptResult:
    """The concept's stages and its probes' (``run_concept`` + ``diagnose.probe_stages``)."""
    result = _run_concept(concept, impl, seed)
    if result.status in (PASS, FAIL) and concept.probes:
        try:
            result.stages += diagnose.probe_stages(concept, impl, seed)
        except Exception as exc:  # the code under test raised on the probe inputs
            result.status = ERROR
            result.error = (frames.summary(exc, getattr(impl, "root", None))
                            + " (on the probe inputs)")
        if result.status == PASS and any(not s.ok for s in result.stages):
            result.status = FAIL
    return result


def _distance(result: ConceptResult) -> float | None:
    """The largest difference to the reference over the compared values (not ``self`` checks)."""
    vals = [s.max_abs for s in result.stages if s.against == "zerotorch"]
    return max(vals) if vals else None


def _failing(result: ConceptResult, ours: bool) -> tuple[int, int, float]:
    """Sort key of the closest reference: fewest failing stages, then the concept's own run
    (today's book, what the diagnoses know best), then the smallest worst relative difference."""
    bad = [s for s in result.stages if not s.ok]
    worst = max((s.max_rel for s in bad), default=0.0)
    return len(bad), 0 if ours else 1, worst if math.isfinite(worst) else math.inf


def grade(concept: Concept, impl: Impl, seed: int = 0) -> ConceptResult:
    """Run ``concept``'s references against ``impl`` and return the verdict (never raises for
    the code under test's errors). When the code raises on the concept's general form, its
    other printed forms (``Concept.forms``) are graded in turn; the row names the one used."""
    result = _grade(concept, impl, seed)
    if result.status != ERROR or not concept.forms:
        return result
    raised = result.error.split(" at ", 1)[0]  # where: in its own row's grading
    for form in concept.forms:
        other = _grade(dataclasses.replace(concept, **form.fields), impl, seed)
        if other.status != ERROR:
            other.form = f"{form.label} (on the general form: {raised})"
            return other
        result.error += f"; in {form.label} too: {other.error}"
    return result


def _grade(concept: Concept, impl: Impl, seed: int) -> ConceptResult:
    runs: dict[tuple, ConceptResult] = {}
    contexts: dict[tuple, diagnose.Context] = {}

    def key(ref: Reference) -> tuple:
        return tuple(sorted((k, id(v)) for k, v in ref.fields.items()))

    def run(ref: Reference) -> ConceptResult:
        k = key(ref)
        if k not in runs:
            variant = _variant(concept, ref)
            with np.errstate(all="ignore"):
                runs[k] = _checked_run(variant, impl, seed)
        return runs[k]

    def context(ref: Reference) -> diagnose.Context:
        k = key(ref)
        if k not in contexts:
            contexts[k] = diagnose.replay(_variant(concept, ref), seed)
        return contexts[k]

    def accepted(ref: Reference, result: ConceptResult) -> bool:
        if result.status == PASS:
            return True
        if ref.accepts is None or result.status not in (FAIL, ERROR):
            return False
        try:
            return bool(ref.accepts(result, context(ref)))
        except Exception:  # noqa: BLE001  (a predicate never breaks the report)
            return False

    versions = concept.versions()
    own = run(concept.ours)
    if own.status in (MISSING, BLOCKED):
        return own
    pytorch = next((r for r in versions if r.kind == PYTORCH), None)
    matched = next((r for r in versions if accepted(r, run(r))), None)
    distance = None
    if pytorch is not None and run(pytorch).status in (PASS, FAIL):
        distance = _distance(run(pytorch))

    if matched is not None:
        result = dataclasses.replace(run(matched), status=PASS, error="")
        result.reference, result.reference_kind = matched.label, matched.kind
        result.differs = matched.differs
        result.distance = 0.0 if matched.kind == PYTORCH else distance
        return result

    compared = [r for r in versions if run(r).status == FAIL]
    closest = (min(compared, key=lambda r: _failing(run(r), r is concept.ours)) if compared
               else concept.ours)
    result = dataclasses.replace(run(closest))
    result.reference, result.reference_kind = closest.label, closest.kind
    result.differs = closest.differs
    result.distance = distance
    if result.status in (FAIL, ERROR):
        with np.errstate(all="ignore"):
            try:
                result.diagnosis = diagnose.diagnose(result, _variant(concept, closest), seed,
                                                     context(closest))
            except Exception:  # noqa: BLE001  (a diagnosis never breaks the report)
                result.diagnosis = ""
    return result


def run_all(impl: Impl | None = None, only=None, seed: int = 0) -> list[ConceptResult]:
    """Every registered concept (or those named in ``only``) against ``impl`` (default scratch),
    graded against the concept's references (``verdict.grade``)."""
    impl = impl or scratch_impl()
    return [grade(c, impl, seed) for c in concepts(only)]
