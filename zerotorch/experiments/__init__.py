"""The experiment platform: the book's ch4–ch8 experiments as Lightning runs, one config each.

The layout follows the path of a run (``zerotorch experiment run NAME``):

- ``settings``: the ``experiment:`` section of a config (``ExperimentSettings``), where the
  configs live (``CONFIG_DIR``, package data in ``configs/``) and their names;
- ``cli``: ``ZeroCLI``, the ``LightningCLI`` that parses a config and builds model, data and
  trainer (with the callbacks of ``zerotorch.callbacks``);
- ``data``: ``SyntheticDataModule``, ``WithTrainEval`` (the book's "train acc"), ``describe_data``;
- ``kinds``: one class per experiment kind (``KINDS``: train, compare, batch_norm,
  random_search), owning its variants, its headline and its figure;
- ``figures``: plotting helpers the kinds share;
- ``runner``: ``run_experiment`` (every variant, then figure and ``summary.json``), the run
  lock, and ``main`` (the ``zerotorch experiment`` command);
- ``results``: ``collect_results`` and the tables beside the book's published results.
"""

from zerotorch.experiments.cli import ZeroCLI, quiet_lightning
from zerotorch.experiments.data import SyntheticDataModule, WithTrainEval, describe_data
from zerotorch.experiments.figures import smooth_curve
from zerotorch.experiments.kinds import (
    KINDS,
    ExperimentKind,
    figure_title,
    headline,
    kind_of,
    plot,
    variants_of,
)
from zerotorch.experiments.results import (
    BOOK_RESULTS,
    collect_results,
    ranking_table,
    results_main,
    results_table,
)
from zerotorch.experiments.runner import experiments_table, main, run_experiment, run_lock
from zerotorch.experiments.settings import (
    CONFIG_DIR,
    ExperimentError,
    ExperimentSettings,
    config_path,
    list_experiments,
)

__all__ = [
    "BOOK_RESULTS",
    "CONFIG_DIR",
    "KINDS",
    "ExperimentError",
    "ExperimentKind",
    "ExperimentSettings",
    "SyntheticDataModule",
    "WithTrainEval",
    "ZeroCLI",
    "collect_results",
    "config_path",
    "describe_data",
    "experiments_table",
    "figure_title",
    "headline",
    "kind_of",
    "list_experiments",
    "main",
    "plot",
    "quiet_lightning",
    "ranking_table",
    "results_main",
    "results_table",
    "run_experiment",
    "run_lock",
    "smooth_curve",
    "variants_of",
]
