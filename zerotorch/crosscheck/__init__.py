"""The cross-check harness: a registry of concept pairs and one comparison routine.

``run_all()`` checks every registered pair (scratch vs zerotorch vs the torch built-in);
``zerotorch crosscheck`` prints the report. Three parts:

- the harness: ``registry`` (the pair kinds), ``pairs/`` (the concepts), ``compare`` and
  ``gradcheck`` (the stages), ``runner`` (run one concept, report), ``verdict`` (which
  reference a concept equals; ``run_all``);
- ``diagnose``: one-line diagnoses of a concept that did not pass, and extra probes;
- ``impl/``: a reader's own code loaded, sandboxed and graded (``--impl``, ``zerotorch.check``);
  only its light ``Impl`` / ``scratch_impl`` are imported here.
"""

from zerotorch.crosscheck.compare import (
    ATOL,
    RTOL,
    ComparisonError,
    Stage,
    assert_stages,
    compare,
)
from zerotorch.crosscheck.impl import Impl, scratch_impl
from zerotorch.crosscheck.pairs import ALL, REGISTRY, concepts
from zerotorch.crosscheck.registry import (
    BOOK,
    PYTORCH,
    Concept,
    CustomPair,
    FunctionPair,
    LayerPair,
    NetworkPair,
    OptimizerPair,
    Probe,
    Reference,
)
from zerotorch.crosscheck.runner import ConceptResult, format_json, format_table, run_concept
from zerotorch.crosscheck.verdict import run_all

__all__ = [
    "ALL", "ATOL", "BOOK", "PYTORCH", "RTOL", "REGISTRY", "ComparisonError", "Concept",
    "ConceptResult", "CustomPair", "FunctionPair", "Impl", "LayerPair", "NetworkPair",
    "OptimizerPair", "Probe", "Reference", "Stage", "assert_stages", "compare", "concepts",
    "format_json", "format_table", "run_all", "run_concept", "scratch_impl",
]
