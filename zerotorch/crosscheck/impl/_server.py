"""Imported once by the sandbox's fork server (``_forkserver.PRELOAD``), never by user code.

Torch imports parts of itself on first use (``torch._dynamo`` at the first optimizer step, sympy
at the first symbolic shape): about 2 s that every fresh worker would pay again. Checking our own
``scratch`` on the concepts that trigger them, here, makes every worker forked afterwards start
warm.
"""

from zerotorch.crosscheck.impl.check import check_concept
from zerotorch.crosscheck.impl.resolve import scratch_impl
from zerotorch.crosscheck.pairs import REGISTRY

WARM_UP = ("functions.identity_function", "gradient.gradient_descent", "optimizer.Adam")

for _name in WARM_UP:
    check_concept(REGISTRY[_name], scratch_impl())
