"""The book's published weights, evaluated on the MNIST test set by scratch and zerotorch.

``zerotorch reproduce`` (``main``) and the table after ``zerotorch crosscheck``
(``reproduce_if_available``). The package's parts:

- ``runner``: finds the weight files and MNIST, runs each file's evaluator (``ROWS``), prints
  the table;
- ``compare``: ``compare_predictions``, both sides' predictions on the same images compared;
- ``ch3``, ``convnet``: the evaluators, one per network family (ch3's three-layer net, ch7–ch8's
  ConvNets).
"""

from zerotorch.reproduce.compare import compare_predictions
from zerotorch.reproduce.runner import (
    ROWS,
    ReproductionUnavailable,
    format_table,
    main,
    reproduce_if_available,
    run,
)

__all__ = [
    "ROWS",
    "ReproductionUnavailable",
    "compare_predictions",
    "format_table",
    "main",
    "reproduce_if_available",
    "run",
]
