"""The experiment kinds: one class per ``kind:`` of a config, looked up in ``KINDS``.

- ``train`` (``Train``): one training run;
- ``compare`` (``Compare``): named variants on the same batches;
- ``batch_norm`` (``BatchNorm``): with vs without batch norm over weight scales;
- ``random_search`` (``RandomSearch``): trials of learning rate and weight decay.

``kind_of(settings)`` builds the kind of an experiment; the functions below ask it for the
variants, the headline, the figure title and the figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zerotorch.experiments.kinds.base import ExperimentKind
from zerotorch.experiments.kinds.batch_norm import BatchNorm
from zerotorch.experiments.kinds.compare import Compare
from zerotorch.experiments.kinds.random_search import RandomSearch
from zerotorch.experiments.kinds.train import Train
from zerotorch.experiments.settings import ExperimentError, ExperimentSettings

KINDS: dict[str, type[ExperimentKind]] = {
    kind.name: kind for kind in (Train, Compare, BatchNorm, RandomSearch)
}


def kind_of(exp: ExperimentSettings) -> ExperimentKind:
    """The kind object of an experiment; ``ExperimentError`` for an unknown ``kind``."""
    try:
        kind = KINDS[exp.kind]
    except KeyError:
        raise ExperimentError(
            f"experiment {exp.name}: unknown kind {exp.kind!r}; expected {tuple(KINDS)}"
        ) from None
    return kind(exp)


def variants_of(exp: ExperimentSettings) -> dict[str, dict[str, Any]]:
    """The variants an experiment runs: name → config overrides."""
    return kind_of(exp).variants()


def headline(
    exp: ExperimentSettings, records: list[dict], data: dict | None = None
) -> dict[str, Any]:
    """The one-line result of an experiment for the results table."""
    return kind_of(exp).headline(records, data)


def figure_title(exp: ExperimentSettings) -> str:
    """The config's title, plus what the run really had (the weight scales may be overridden)."""
    return kind_of(exp).figure_title()


def plot(exp: ExperimentSettings, records: list[dict], data: dict, path: Path) -> Path:
    """The book-style figure for the experiment; the title states the dataset."""
    return kind_of(exp).plot(records, data, path)


__all__ = [
    "KINDS",
    "ExperimentKind",
    "Train",
    "Compare",
    "BatchNorm",
    "RandomSearch",
    "kind_of",
    "variants_of",
    "headline",
    "figure_title",
    "plot",
]
