"""The registry as a value: every concept pair, one module per book chapter group.

``ALL`` lists them in the book's order; ``REGISTRY`` maps each name to its concept;
``concepts(only)`` narrows them by names, groups or base names.
"""

from __future__ import annotations

from collections.abc import Sequence

from zerotorch.crosscheck.pairs import ch3, ch4, ch5, ch6, ch7
from zerotorch.crosscheck.registry import Concept, build_registry

ALL = [*ch3.CONCEPTS, *ch4.CONCEPTS, *ch5.CONCEPTS, *ch6.CONCEPTS, *ch7.CONCEPTS]
REGISTRY = build_registry(ALL)


def _selects(pattern: str, name: str) -> bool:
    """``layers`` selects ``layers.*``; ``layers.Affine`` selects it and its ``[variants]``."""
    p = pattern.rstrip(".")
    return name == p or name.startswith(p + ".") or name.startswith(p + "[")


def concepts(only: Sequence[str] | None = None) -> list[Concept]:
    """Registered concepts in registration order, narrowed by names, groups or base names."""
    items = list(ALL)
    if not only:
        return items
    picked = [c for c in items if any(_selects(o, c.name) for o in only)]
    unknown = [o for o in only if not any(_selects(o, c.name) for c in items)]
    if unknown:
        raise KeyError(f"unknown concept(s) {unknown}; known: {[c.name for c in items]}")
    return picked
