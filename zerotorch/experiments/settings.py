"""What an experiment is: the ``experiment:`` section of a config, and where the configs live.

Each experiment is one YAML file in ``zerotorch/experiments/configs/`` (package data, so found
from any folder after a normal install): a ``LightningCLI`` config (``model``, ``data``,
``trainer``) plus the ``experiment:`` section read into ``ExperimentSettings``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

CONFIG_DIR = Path(__file__).resolve().parent / "configs"  # package data: found from any folder


class ExperimentError(ValueError):
    """A config that cannot run as an experiment; the message says why."""


@dataclass
class ExperimentSettings:
    """The ``experiment:`` section of a config: what to run and what to plot.

    Args:
        name: experiment name (output folder, figure name, messages).
        kind: ``train``, ``compare``, ``batch_norm`` or ``random_search`` (the classes in
            ``zerotorch.experiments.kinds``).
        title: figure title (the book's section).
        chapter: the book's section, e.g. ``6.3.3`` (``experiment list``).
        description: one line for ``experiment list``.
        cpu_time: the wall time of the whole experiment on one CPU thread with full MNIST
            (``list``): measured with the MNIST test set as data (docs/EXPERIMENTS.md), the
            epoch-based convnet runs scaled to 55,000 training images.
        figure: ``accuracy`` (train/validation accuracy per epoch) or ``loss`` (training loss
            per step, smoothed like the book's ``smooth_curve``); for ``compare``.
        variants: name → {dotted config key: value}, e.g. ``{"model.optimizer": "Adam"}``.
        weight_scales: ``batch_norm``: the weight init std values.
        weight_scales_logspace: ``batch_norm``: ``[start, stop, num]`` for ``np.logspace``
            instead (the book: ``[0, -4, 16]``).
        trials: ``random_search``: number of draws.
        lr_log10: ``random_search``: log10 range of the learning rate.
        weight_decay_log10: ``random_search``: log10 range of the weight decay λ.
        search_seed: ``random_search``: seed of the draws.
        train_eval_size: training images evaluated in eval mode after every epoch (the book's
            "train acc"; no dropout, batch-norm running statistics); 0 turns it off.
        test: evaluate the test set after training.
        checkpoints: write ModelCheckpoint files (last + best by ``val_acc``).
        out_dir: where the ``<name>/`` output folder goes.
    """

    name: str = "experiment"
    kind: str = "train"
    title: str = ""
    chapter: str = ""
    description: str = ""
    cpu_time: str = ""
    figure: str = "accuracy"
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    weight_scales: list[float] = field(default_factory=list)
    weight_scales_logspace: list[float] = field(default_factory=list)
    trials: int = 0
    lr_log10: list[float] = field(default_factory=lambda: [-6.0, -2.0])
    weight_decay_log10: list[float] = field(default_factory=lambda: [-8.0, -4.0])
    search_seed: int = 0
    train_eval_size: int = 1000
    test: bool = True
    checkpoints: bool = True
    out_dir: str = "experiments/out"

    def __post_init__(self) -> None:
        if self.weight_scales_logspace and not self.weight_scales:
            start, stop, num = self.weight_scales_logspace
            self.weight_scales = [float(w) for w in np.logspace(start, stop, int(num))]


def config_path(name_or_path: str) -> Path:
    """``ch7_train_convnet`` → the packaged ``configs/ch7_train_convnet.yaml``; a path to a
    YAML file (your own config) is kept."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.exists():
            raise FileNotFoundError(f"no config {path}")
        return path
    candidate = CONFIG_DIR / f"{name_or_path}.yaml"
    if candidate.exists():
        return candidate
    raise FileNotFoundError(f"no experiment {name_or_path!r}: known {list_experiments()}")


def list_experiments() -> list[str]:
    """The names of the packaged experiments (``ch7_train_convnet``, …), sorted."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
