"""The registry as a value: every concept pair, one module per book chapter group.

``ALL`` lists them in the book's order; ``REGISTRY`` maps each name to its concept.
"""

from zerotorch.crosscheck.pairs import ch3, ch4, ch5, ch6, ch7
from zerotorch.crosscheck.registry import build_registry

ALL = [*ch3.CONCEPTS, *ch4.CONCEPTS, *ch5.CONCEPTS, *ch6.CONCEPTS, *ch7.CONCEPTS]
REGISTRY = build_registry(ALL)
