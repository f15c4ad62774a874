"""``zerotorch.check(...)``: grade classes and functions defined in a notebook (or anywhere).

    import zerotorch
    zerotorch.check(Affine=Affine, SoftmaxWithLoss=SoftmaxWithLoss)   # by the book's names
    zerotorch.check(globals())                                         # whatever is defined

Objects are matched to concepts by the book's names (``Affine`` → ``layers.Affine``, ``softmax`` →
``functions.softmax``; exact case first, then a name differing only in case of the same kind:
``ReLU`` for ``Relu``), called through the same adapter for readers' names as ``--impl``
(``Affine(w, b)``, ``self.dw``) and graded exactly as ``--impl`` grades (references, printed
forms, diagnoses). Only the concepts found are checked unless ``only`` names others.

Unlike ``--impl`` this runs in the caller's own process (a notebook's classes cannot be sent to
another one): each concept is stopped after ``timeout`` seconds where the platform allows
(``SIGALRM`` in the main thread, as a Jupyter cell runs), but nothing else is isolated.

The result is a ``Report``: a list of ``ConceptResult`` whose text is the usual table and whose
HTML (``_repr_html_``) is what Jupyter shows.
"""

from __future__ import annotations

import contextlib
import html
import signal
import threading

from zerotorch.crosscheck.impl.adapter import adapt
from zerotorch.crosscheck.impl.check import check_concept
from zerotorch.crosscheck.impl.resolve import NAME_ALIASES, Impl
from zerotorch.crosscheck.pairs import concepts
from zerotorch.crosscheck.runner import (
    ERROR,
    FAIL,
    MISSING,
    PASS,
    TIMEOUT,
    ConceptResult,
    exit_status,
    format_table,
    verdict_counts,
)


class NamespaceImpl(Impl):
    """An implementation made of the objects given: ``{"Affine": Affine, …}``."""

    def __init__(self, objects: dict, name: str = "notebook"):
        super().__init__(name, {})
        self.objects = {k: v for k, v in objects.items() if not k.startswith("_")}
        self.found_in: dict[str, str] = {}

    def resolve(self, dotted: str, chapter: str | None = None):
        for name in (dotted, *NAME_ALIASES.get(dotted, ())):
            attr = name.partition(".")[2]
            if attr in self.objects:
                return self.objects[attr]
            is_class = attr[:1].isupper()
            same = [k for k, v in self.objects.items() if k.lower() == attr.lower()
                    and callable(v) and isinstance(v, type) == is_class]
            if len(same) == 1:
                self.found_in[attr] = same[0]
                return self.objects[same[0]]
        return None


class Expired(BaseException):
    """Raised into the code under test when its time is up (a ``BaseException``, so that
    neither the reader's ``except Exception`` nor the grading's catches it)."""


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    """Raise ``Expired`` in this thread after ``seconds`` (POSIX main thread only)."""
    usable = (seconds and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expired(signum, frame):
        raise Expired(f"no result within {seconds:g} s (an endless loop?)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


_COLOURS = {PASS: "#1a7f37", FAIL: "#cf222e", ERROR: "#cf222e", TIMEOUT: "#cf222e",
            MISSING: "#6e7781"}


class Report(list):
    """The checked concepts (``ConceptResult``s), printable and shown as HTML in Jupyter."""

    def __init__(self, results, name: str = "notebook"):
        super().__init__(results)
        self.name = name

    @property
    def counts(self) -> dict[str, int]:
        return verdict_counts(self)

    @property
    def exit_status(self) -> int:
        """What the CLI would exit with: 1 when anything failed, errored or timed out."""
        return exit_status(self)

    def __str__(self) -> str:
        return format_table(self, self.name, shapes=True)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = []
        for r in self:
            colour = _COLOURS.get(r.status, "#1a7f37")
            first = r.first_failure()
            notes = [r.form and f"graded in {r.form}", r.differs, r.error,
                     first.describe() if first is not None and not r.error else "",
                     r.diagnosis and f"diagnosis: {r.diagnosis}", *r.adapted]
            notes = "<br>".join(html.escape(n) for n in notes if n)
            rows.append(f"<tr><td><code>{html.escape(r.name)}</code></td>"
                        f"<td>{html.escape(r.chapter)}</td>"
                        f"<td style='color:{colour};font-weight:bold'>"
                        f"{html.escape(r.verdict)}</td><td>{notes}</td></tr>")
        summary = ", ".join(f"{n} {v}" for v, n in self.counts.items() if n)
        return ("<table><thead><tr><th>concept</th><th>section</th><th>verdict</th>"
                "<th>details</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
                f"<p>{html.escape(self.name)}: {len(self)} concepts: {html.escape(summary)}</p>")


def check(namespace: dict | None = None, /, *, only=None, seed: int = 0,
          timeout: float | None = 60.0, **objects) -> Report:
    """Grade the classes and functions given (see the module docstring).

    Args:
        namespace: a mapping of names to objects, e.g. ``globals()``; merged with ``objects``.
        only: concept names or groups to check (default: every concept found).
        seed: the inputs' seed (as ``--seed``).
        timeout: seconds allowed per concept (``None``: no limit).
        **objects: objects by the book's names, ``Affine=MyAffine``.
    """
    given = {**(namespace or {}), **objects}
    impl = adapt(NamespaceImpl(given))
    todo = concepts(only)
    if only is None:
        todo = [c for c in todo if impl.resolve(c.scratch_name) is not None]
        if not todo:
            raise ValueError("check(): none of the objects given has a book name (Affine, "
                             "softmax, SGD, TwoLayerNet, …); pass them as check(Affine=MyAffine)")
    results = []
    for concept in todo:
        try:
            with _time_limit(timeout):
                result = check_concept(concept, impl, seed)
        except Expired as exc:  # expired outside the reader's code
            result = ConceptResult(concept.name, concept.chapter, ERROR, error=f"Expired: {exc}",
                                   builtin_name=concept.builtin_name)
        if result.status == ERROR and result.error.startswith("Expired: "):
            result.status = TIMEOUT
            result.error = result.error.removeprefix("Expired: ")
        results.append(result)
    return Report(results)
