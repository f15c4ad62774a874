"""The interface every experiment kind implements (``train``, ``compare``, ``batch_norm``, …).

A kind is built for one ``ExperimentSettings`` and owns everything that differs between kinds:
the variants it runs (name → config overrides), whether those are compared, the headline of
the results table, the figure and any extra output file. The runner asks the kind; it never
tests the kind's name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

from zerotorch.experiments.figures import save_figure
from zerotorch.experiments.settings import ExperimentSettings


class ExperimentKind(ABC):
    """One kind of experiment, for the settings it was built with.

    Class attributes:
        name: the ``kind:`` of a config.
        compares_variants: True when the variants are compared with each other: each run gets
            a ``BatchFingerprint`` (``same_batches`` in the summary) and a variant whose loss
            turns NaN is recorded as a result while the others go on. False: a NaN loss ends
            the experiment.
    """

    name: ClassVar[str]
    compares_variants: ClassVar[bool] = True

    def __init__(self, settings: ExperimentSettings):
        self.settings = settings

    @abstractmethod
    def variants(self) -> dict[str, dict[str, Any]]:
        """The variants to run, in order: name → {dotted config key: value}."""

    @abstractmethod
    def headline(self, records: list[dict], data: dict | None = None) -> dict[str, Any]:
        """The one-line result for the results table: ``{"metric", "value", "text"}``."""

    @abstractmethod
    def figure(self, records: list[dict], data: dict):
        """The book-style matplotlib figure of the records (its title states the dataset)."""

    def figure_title(self) -> str:
        """The config's title (the book's section), or the experiment's name."""
        return self.settings.title or self.settings.name

    def plot(self, records: list[dict], data: dict, path: Path) -> Path:
        """Draw ``figure`` and write it to ``path`` (PNG, atomically); returns ``path``."""
        return save_figure(self.figure(records, data), path)

    def extra_outputs(self, records: list[dict]) -> dict[str, str]:
        """Further files of the output folder: file name → text (none by default)."""
        return {}
