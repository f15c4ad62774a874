"""One concept graded against a reader's code, in the calling process.

The sandbox's workers (``sandbox.py``, warmed by ``_server.py``) and ``zerotorch.check``
(``notebook.py``) call ``check_concept``; it never raises for what the reader's code does.
"""

from __future__ import annotations

import numpy as np

from zerotorch.crosscheck.impl import frames
from zerotorch.crosscheck.runner import ERROR, ConceptResult
from zerotorch.crosscheck.verdict import grade


def check_concept(concept, impl, seed: int = 0, keep_arrays: bool = False) -> ConceptResult:
    """One concept against the reader's code (in this process), graded against its references
    (``verdict.grade``: the probes and the diagnosis included). The sandbox's worker calls this;
    tests may too.

    Arrays are dropped from the stages unless ``keep_arrays`` (only numbers travel back).
    """
    # Code written like the book's draws initial weights and dropout masks from the global
    # np.random; seeding it for the duration of the check (state restored afterwards) makes
    # such a run reproducible like ours.
    used = getattr(impl, "used", None)
    if used is not None:
        used.clear()
    saved = np.random.get_state()  # noqa: NPY002
    np.random.seed(seed)  # noqa: NPY002
    try:
        result = _checked(concept, impl, seed)
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    if used:
        result.adapted = list(used)
    found = getattr(impl, "found_in", None) or {}
    result.source = found.get(concept.scratch_name.partition(".")[2], "")
    for s in result.stages:
        if not keep_arrays:
            s.expected = s.actual = None
        s.shape_actual = tuple(s.shape_actual) if s.shape_actual is not None else None
    return result


def _checked(concept, impl, seed: int) -> ConceptResult:
    try:
        return grade(concept, impl, seed)
    except BaseException as exc:  # SystemExit, KeyboardInterrupt raised by the reader's code
        result = ConceptResult(
            concept.name, concept.chapter, ERROR, builtin_name=concept.builtin_name
        )
        result.error = frames.summary(exc, getattr(impl, "root", None))
        return result
