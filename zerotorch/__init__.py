"""zerotorch: the concepts of *Deep Learning from Scratch* as idiomatic PyTorch.

Modules mirror ``scratch``: ``functional`` ↔ ``scratch.functions``, ``nn`` ↔ ``scratch.layers``,
``optim`` ↔ ``scratch.optimizer``, ``networks`` ↔ ``scratch.networks``; plus ``data``
(Lightning data module), ``lit`` (Lightning module) and ``crosscheck`` (the harness).
"""

__version__ = "0.1.0"
