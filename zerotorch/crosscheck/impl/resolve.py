"""Where the scratch side of a pair comes from: an implementation laid out like ``common/``.

Concepts name their scratch side the book's way (``layers.Affine``, ``functions.softmax``,
``optimizer.Adam``, ``util.im2col``, ``networks.MultiLayerNet``). ``Impl.resolve`` finds that
object in an implementation; the default is this project's own ``scratch`` package.
"""

from __future__ import annotations

from types import ModuleType

from scratch import functions, gradient, layers, networks, optimizer, trainer, util

# Each dotted prefix may live in any of these module files (ours first, then the book's names).
MODULE_ALIASES: dict[str, tuple[str, ...]] = {
    "functions": ("functions",),
    "gradient": ("gradient",),
    "layers": ("layers",),
    "optimizer": ("optimizer", "optimizers", "optim"),
    "util": ("util", "utils"),
    "networks": (
        "networks",
        "two_layer_net",
        "multi_layer_net",
        "multi_layer_net_extend",
        "simple_convnet",
        "deep_convnet",
        "simple_net",
    ),
    "trainer": ("trainer",),
}


# The book's earlier names for a concept, tried when the current name is absent.
NAME_ALIASES: dict[str, tuple[str, ...]] = {
    "functions.sum_squared_error": ("functions.mean_squared_error",),  # renamed 2019-10
}


class Impl:
    """An implementation: a mapping from module stems (``layers``…) to loaded modules."""

    def __init__(self, name: str, modules: dict[str, ModuleType]):
        self.name = name
        self.modules = modules

    def resolve(self, dotted: str, chapter: str | None = None):
        """The object named ``module.attr`` (e.g. ``layers.Affine``), or ``None`` when absent;
        the book's earlier name (``NAME_ALIASES``) when only that one is defined. (``chapter``,
        the concept's section, matters only to a repository's chapter files: ``loader.py``.)"""
        for name in (dotted, *NAME_ALIASES.get(dotted, ())):
            prefix, _, attr = name.partition(".")
            for stem in MODULE_ALIASES.get(prefix, (prefix,)):
                mod = self.modules.get(stem)
                if mod is not None and hasattr(mod, attr):
                    return getattr(mod, attr)
        return None

    def __repr__(self) -> str:
        return f"Impl({self.name!r}, modules={sorted(self.modules)})"


def scratch_impl() -> Impl:
    """This project's own ``scratch`` package as an implementation."""
    modules = (functions, gradient, layers, optimizer, util, networks, trainer)
    return Impl("scratch", {m.__name__.rpartition(".")[2]: m for m in modules})
