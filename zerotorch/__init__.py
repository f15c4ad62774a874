"""zerotorch: the concepts of *Deep Learning from Scratch* as idiomatic PyTorch.

Modules mirror ``scratch``: ``functional`` ↔ ``scratch.functions``, ``nn`` ↔ ``scratch.layers``,
``optim`` ↔ ``scratch.optimizer``, ``networks`` ↔ ``scratch.networks``; plus ``data``
(Lightning data module), ``lit`` (Lightning module), ``callbacks`` (its trainer callbacks),
``experiments`` (the book's experiments, ``zerotorch experiment``) and ``crosscheck`` (the
harness).
``zerotorch.check(Affine=Affine, …)`` grades a reader's own classes from a notebook.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "check":  # imported on first use: ``import zerotorch`` stays light
        from zerotorch.crosscheck.impl.notebook import check

        return check
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
