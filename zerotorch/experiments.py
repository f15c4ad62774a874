"""The book's experiments, ch4 to ch8, as one command each (``zerotorch experiment run NAME``).

Each experiment is one YAML file in ``zerotorch/configs/`` (package data, so found from any
folder after a normal install): a ``LightningCLI`` config (``model``: ``LitClassifier`` with the
injected network, ``data``: a data module, ``trainer``) plus an
``experiment`` section saying how to run it:

- ``kind: train`` — one training run (ch4/ch5 train_neuralnet, ch7 train_convnet, ch8 deepnet);
- ``kind: compare`` — named ``variants``, each a set of config overrides (optimizers, inits,
  weight decay, dropout); every variant starts from the same seed and sees the same batches,
  which ``BatchFingerprint`` proves (``same_batches`` in the summary);
- ``kind: batch_norm`` — with vs without batch norm over ``weight_scales``;
- ``kind: random_search`` — ``trials`` of lr and weight decay drawn log-uniformly.

Any config value can be overridden on the command line (``--trainer.max_epochs 1``,
``--trainer.devices 2 --trainer.strategy ddp``, ``--trainer.precision bf16-mixed``,
``--data.init_args.dataset fashion-mnist``). Outputs go to ``<out_dir>/<name>/``: the figure
``<name>.png``, ``summary.json``, CSV logs per variant and checkpoints (last + best).
``zerotorch experiment results`` collects every ``summary.json`` into one Markdown table beside
the book's published results. The figures are drawn by ``experiment_figures.py``; the Lightning
module and the platform callbacks live in ``lit.py``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import shutil
import sys
import time
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from pytorch_lightning.cli import LightningCLI
from torch.utils.data import DataLoader, Subset, TensorDataset

from zerotorch.experiment_figures import last_finite, plot, smooth_curve
from zerotorch.lit import (
    AtomicCheckpointIO,
    BatchFingerprint,
    CorruptCheckpointError,
    LitClassifier,
    NonFiniteLossError,
    VariantProgressBar,
    check_checkpoint,
    platform_callbacks,
    platform_loggers,
    show_progress_bar,
)

log = logging.getLogger(__name__)

CONFIG_DIR = Path(__file__).resolve().parent / "configs"  # package data: found from any folder
KINDS = ("train", "compare", "batch_norm", "random_search")

# The book's published results (all on MNIST). value: a number the book prints, else None and the
# claim its figure makes.
BOOK_RESULTS: dict[str, dict[str, Any]] = {
    "ch4_train_neuralnet": {"metric": "test_acc", "value": None, "text":
                            "train and test accuracy rise together, no overfitting (fig. 4-12)"},
    "ch5_train_neuralnet": {"metric": "test_acc", "value": None, "text":
                            "same training with backpropagation; as fig. 4-12"},
    "optimizer_compare_mnist": {"metric": "final_loss", "value": None, "text":
                                "SGD slowest; Momentum, AdaGrad, Adam faster, AdaGrad slightly "
                                "fastest (fig. 6-9)"},
    "weight_init_compare": {"metric": "final_loss", "value": None, "text":
                            "std 0.01 does not learn; He and Xavier learn, He fastest (fig. 6-15)"},
    "batch_norm_test": {"metric": "train_acc", "value": None, "text":
                        "batch norm learns faster at almost every weight scale (fig. 6-19)"},
    "overfit_weight_decay": {"metric": "train-test gap", "value": None, "text":
                             "λ=0: train acc reaches 1.0, large gap to test; λ=0.1: gap smaller, "
                             "train acc below 1.0 (figs. 6-20, 6-21)"},
    "overfit_dropout": {"metric": "train-test gap", "value": None, "text":
                        "dropout narrows the train-test gap (fig. 6-23)"},
    "hyperparameter_optimization": {"metric": "best val_acc", "value": 0.83, "text":
                                    "best val acc 0.83 at lr 0.0092, weight decay 3.86e-07; good "
                                    "region lr 1e-3..1e-2, decay 1e-8..1e-6 (fig. 6-24)"},
    "ch7_train_convnet": {"metric": "test_acc", "value": 0.9896, "text":
                          "test accuracy 98.96 % (train 99.82 %) after 20 epochs (ch7.5)"},
    "ch8_train_deepnet": {"metric": "test_acc", "value": 0.9938, "text":
                          "test accuracy 99.38 % (ch8.1.1)"},
}


class ExperimentError(ValueError):
    """A config that cannot run as an experiment; the message says why."""


@dataclass
class ExperimentSettings:
    """The ``experiment:`` section of a config: what to run and what to plot.

    Args:
        name: experiment name (output folder, figure name, messages).
        kind: ``train``, ``compare``, ``batch_norm`` or ``random_search``.
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


# ---------------------------------------------------------------------------- data helpers
class SyntheticDataModule(pl.LightningDataModule):
    """A learnable stand-in for MNIST when no data is at hand (CI, smoke tests).

    Ten fixed random 28×28 prototypes plus Gaussian noise, clipped to [0, 1]; same interface as
    ``MNISTDataModule`` (seeded split, ``train_size``, ``flatten``, shuffling generator whose
    state goes into checkpoints).
    """

    def __init__(self, dataset: str = "synthetic", batch_size: int = 100, val_size: int = 200,
                 train_size: int | None = 1000, test_size: int = 200, seed: int = 0,
                 flatten: bool = False, noise: float = 0.35, num_workers: int = 0):
        super().__init__()
        sizes = (("batch_size", batch_size), ("test_size", test_size),
                 ("train_size", 1 if train_size is None else train_size))
        for name, n in sizes:
            if n < 1:
                raise ValueError(f"{name} must be >= 1, got {n}")
        if val_size < 0:
            raise ValueError(f"val_size must be >= 0, got {val_size}")
        self.save_hyperparameters()
        self.batch_size, self.flatten, self.seed = batch_size, flatten, seed
        self.train_generator = torch.Generator().manual_seed(seed)
        self.data_train = self.data_val = self.data_test = None

    def _make(self, n: int, g: torch.Generator) -> TensorDataset:
        protos = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(12345))
        t = torch.randint(0, 10, (n,), generator=g)
        x = (protos[t] + self.hparams.noise * torch.randn(n, 1, 28, 28, generator=g)).clamp(0, 1)
        return TensorDataset(x.flatten(1) if self.flatten else x, t)  # (N, 784) or (N, 1, 28, 28)

    def setup(self, stage: str | None = None) -> None:
        if self.data_train is None:
            g = torch.Generator().manual_seed(self.seed)
            self.data_train = self._make(self.hparams.train_size or 1000, g)
            self.data_val = self._make(self.hparams.val_size, g)
            self.data_test = self._make(self.hparams.test_size, g)

    def train_dataloader(self):
        return DataLoader(self.data_train, batch_size=self.batch_size, shuffle=True,
                          generator=self.train_generator)

    def val_dataloader(self):
        return DataLoader(self.data_val, batch_size=self.batch_size)

    def test_dataloader(self):
        return DataLoader(self.data_test, batch_size=self.batch_size)

    def state_dict(self) -> dict:
        return {"train_generator": self.train_generator.get_state()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.train_generator.set_state(state_dict["train_generator"])


class WithTrainEval(pl.LightningDataModule):
    """Wraps a data module: validation also evaluates ``size`` training images (eval mode).

    The book's "train acc" is measured with ``train_flg=False`` on training data after each epoch;
    Lightning's running training accuracy is taken in training mode (dropout on) while the
    weights move. Validation loaders: ``[train_eval, val]`` (named in ``LitClassifier.eval_names``).
    """

    def __init__(self, inner: pl.LightningDataModule, size: int):
        super().__init__()
        self.inner, self.size = inner, size

    def prepare_data(self) -> None:
        self.inner.prepare_data()

    def setup(self, stage: str | None = None) -> None:
        self.inner.trainer = self.trainer
        self.inner.setup(stage)

    def train_dataloader(self):
        return self.inner.train_dataloader()

    def val_dataloader(self):
        val = self.inner.val_dataloader()
        val = [val] if isinstance(val, DataLoader) else list(val)
        if self.size <= 0:
            return val
        train = self.inner.train_dataloader()
        data = Subset(train.dataset, range(min(self.size, len(train.dataset))))
        batch = max(train.batch_size or 100, 100)
        return [DataLoader(data, batch_size=batch), *val]

    def test_dataloader(self):
        return self.inner.test_dataloader()

    def state_dict(self) -> dict:
        return self.inner.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.inner.load_state_dict(state_dict)


def describe_data(dm: pl.LightningDataModule) -> dict[str, Any]:
    """What the run was trained on, for figures and summaries."""
    hp = dict(getattr(dm, "hparams", {}) or {})
    name = hp.get("dataset", type(dm).__name__)
    label = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}.get(name, name)
    if hp.get("test_only"):
        label += " test set only"  # train/val carved from the 10,000 test images
    if isinstance(dm, SyntheticDataModule):  # whatever `dataset` a config passed through
        name, label = "synthetic", "synthetic prototypes (no MNIST available)"
    train = getattr(dm, "data_train", None)
    return {"dataset": name, "label": label, "test_only": bool(hp.get("test_only", False)),
            "train_images": len(train) if train is not None else hp.get("train_size"),
            "batch_size": hp.get("batch_size")}


# ---------------------------------------------------------------------------- recording
class History(Callback):
    """Per-step training loss, per-epoch validation metrics, images/s."""

    def __init__(self) -> None:
        self.step_loss: list[float] = []
        self.epochs: list[dict[str, float]] = []
        self.images = 0
        self.seconds = 0.0
        self._t0 = 0.0
        self._pending: list[torch.Tensor] = []

    def on_train_start(self, trainer, pl_module) -> None:
        self._t0 = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        self.seconds += time.perf_counter() - self._t0
        self._t0 = 0.0
        self._flush()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        self._pending.append(loss.detach())  # no device sync per step; floats once per epoch
        self.images += int(batch[1].shape[0])  # images this process trained on

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._flush()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._flush()

    def _flush(self) -> None:
        if self._pending:
            self.step_loss.extend(torch.stack(self._pending).float().cpu().tolist())
            self._pending = []

    def on_validation_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        row = {"epoch": trainer.current_epoch + 1, "step": trainer.global_step}
        for key, value in trainer.callback_metrics.items():
            if key.startswith(("val_", "train_eval_")):
                row[key] = float(value)
        # a resumed run may validate its checkpoint's epoch again: the same point, not a new one
        self.epochs = [r for r in self.epochs if (r["epoch"], r["step"]) != (row["epoch"],
                                                                             row["step"])]
        self.epochs.append(row)

    def series(self, key: str) -> list[float]:
        return [row.get(key, math.nan) for row in self.epochs]

    def state_dict(self) -> dict[str, Any]:
        """Kept in every checkpoint, so a resumed run's curves start at step 1, not at the
        resume."""
        self._flush()
        seconds = self.seconds + (time.perf_counter() - self._t0 if self._t0 else 0.0)
        return {"step_loss": list(self.step_loss), "epochs": [dict(r) for r in self.epochs],
                "images": self.images, "seconds": seconds}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.step_loss = list(state_dict["step_loss"])
        self.epochs = [dict(r) for r in state_dict["epochs"]]
        self.images, self.seconds = state_dict["images"], state_dict["seconds"]


class ZeroCLI(LightningCLI):
    """``LightningCLI`` for zerotorch experiments (parsing and instantiation only; no subcommands).

    Adds the ``experiment`` section, ``resume``; defaults ``accelerator: auto``,
    ``deterministic: true`` and a progress bar only on a terminal; the trainer gets the platform
    callbacks (faithful resume, NaN stop, checkpoints last + best) and CSV (+TensorBoard) logs.
    With ``variant=None`` it only parses (to read the experiment section). ``overrides``
    (dotted key → Python value) are set on the parsed config before instantiation, keeping their
    types (a CLI string ``1.0`` would stay a string for an untyped argument).
    """

    def __init__(self, args: list[str], variant: str | None = None,
                 overrides: dict[str, Any] | None = None, position: str = ""):
        self.variant = variant
        self.position = position  # "2/5" of a compare experiment, for the progress bar
        self.overrides = dict(overrides or {})
        with warnings.catch_warnings():  # `args` is given on purpose while sys.argv is ours
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
            # auto_configure_optimizers=False: LightningCLI's own --optimizer would replace
            # LitClassifier's optimizer and with it the book's weight decay on weights only;
            # the optimizer is --model.optimizer (the book's six, or torch.<Name>).
            super().__init__(LitClassifier, pl.LightningDataModule, subclass_mode_data=True,
                             run=False, args=args, save_config_kwargs={"overwrite": True},
                             auto_configure_optimizers=False)

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument("--experiment", type=ExperimentSettings,
                            default=ExperimentSettings(), help="what to run and plot")
        parser.add_argument("--resume", type=bool, default=False,
                            help="continue each variant from its last.ckpt when present")
        parser.set_defaults({"trainer.accelerator": "auto", "trainer.deterministic": True,
                             "trainer.enable_progress_bar": show_progress_bar(),
                             "trainer.enable_model_summary": False})

    def _set_seed(self) -> None:
        if self.variant is not None:
            super()._set_seed()

    def before_instantiate_classes(self) -> None:
        for key, value in self.overrides.items():
            if key not in self.config:
                raise KeyError(f"variant {self.variant!r}: no config key {key!r}")
            self.config[key] = value

    def instantiate_classes(self) -> None:
        if self.variant is not None:
            super().instantiate_classes()

    def instantiate_trainer(self, **kwargs) -> pl.Trainer:
        exp = self.settings
        out = Path(exp.out_dir) / exp.name
        # the config's own trainer.callbacks: our ``callbacks=`` argument would replace them
        user = (self.config_init.get("trainer") or {}).get("callbacks") or []
        user = user if isinstance(user, list) else [user]
        ckpt = out / "checkpoints" / self.variant if exp.checkpoints else None
        self.history = History()
        callbacks = [*user, *platform_callbacks(f"{exp.name}/{self.variant}", ckpt),
                     self.history]
        if self.config["trainer"].get("enable_progress_bar"):
            callbacks.append(VariantProgressBar(self.variant, self.position))
        if exp.kind != "train":
            self.fingerprint = BatchFingerprint()
            callbacks.append(self.fingerprint)
        if not exp.checkpoints:  # no checkpoints at all: not even Lightning's default one
            kwargs["enable_checkpointing"] = False
        plugins = (self.config_init.get("trainer") or {}).get("plugins") or []
        plugins = plugins if isinstance(plugins, list) else [plugins]
        kwargs["plugins"] = [*plugins, AtomicCheckpointIO()]
        return super().instantiate_trainer(callbacks=callbacks,
                                           logger=platform_loggers(out, self.variant), **kwargs)

    @property
    def settings(self) -> ExperimentSettings:
        exp = self.config["experiment"]
        return exp if isinstance(exp, ExperimentSettings) else ExperimentSettings(**dict(exp))


# ---------------------------------------------------------------------------- running
# Lightning's messages that say nothing about this run (banners, tips, the interval warning for
# short runs, a deprecation inside Lightning itself); everything else still shows.
_NOISE = (r".*isinstance\(treespec, LeafSpec\)", r"The number of training batches .* is smaller "
          r"than the logging interval", r".*does not have many workers")


@contextlib.contextmanager
def quiet_lightning():
    """Lightning's INFO banners ("GPU available", "Seed set", tips) and known noise off for the
    run; warnings that matter (and our own log lines) stay."""
    loggers = [logging.getLogger(n) for n in ("pytorch_lightning", "lightning.pytorch",
                                              "lightning_fabric", "lightning")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            for pattern in _NOISE:
                warnings.filterwarnings("ignore", message=pattern)
            yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


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
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def _section(chapter: str) -> tuple[int, ...]:
    return tuple(int(part) for part in chapter.split(".") if part.isdigit())


def experiments_table() -> str:
    """``zerotorch experiment list``: name, book section, what it does, expected CPU time."""
    rows = []
    for name in list_experiments():
        exp = ZeroCLI(["--config", str(CONFIG_DIR / f"{name}.yaml")]).settings
        rows.append((exp.chapter, name, exp.description or exp.title, exp.cpu_time or "?"))
    rows.sort(key=lambda r: (_section(r[0]), r[1]))
    head = ("section", "experiment", "what it runs", "CPU time (1 thread)")
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)).rstrip()]
    lines.append("-" * len(lines[0]))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    return "\n".join(lines)


def variants_of(exp: ExperimentSettings) -> dict[str, dict[str, Any]]:
    """The variants an experiment runs: name → config overrides."""
    if exp.kind == "train":
        return {"main": {}}
    if exp.kind == "compare":
        if not exp.variants:
            raise ExperimentError(f"experiment {exp.name}: kind 'compare' needs variants")
        return dict(exp.variants)
    if exp.kind == "batch_norm":
        out = {}
        for i, w in enumerate(exp.weight_scales):
            for bn in (True, False):
                out[f"w{i:02d}_{'bn' if bn else 'plain'}"] = {
                    "model.model.init_args.weight_init_std": float(w),
                    "model.model.init_args.use_batchnorm": bn}
        return out
    if exp.kind == "random_search":
        rng = np.random.default_rng(exp.search_seed)
        out = {}
        for i in range(exp.trials):
            wd = 10 ** rng.uniform(*exp.weight_decay_log10)
            lr = 10 ** rng.uniform(*exp.lr_log10)
            out[f"trial{i:03d}"] = {"model.lr": float(lr), "model.weight_decay": float(wd)}
        return out
    raise ExperimentError(f"experiment {exp.name}: unknown kind {exp.kind!r}; expected {KINDS}")


def _run_variant(base_args: list[str], exp: ExperimentSettings, name: str,
                 overrides: dict[str, Any], resume: bool,
                 position: str = "") -> tuple[dict[str, Any], ZeroCLI]:
    checkpoints = Path(exp.out_dir) / exp.name / "checkpoints" / name
    if not resume and checkpoints.is_dir():  # a fresh run replaces the last run's files
        shutil.rmtree(checkpoints)
    cli = ZeroCLI(base_args, variant=name, overrides=overrides, position=position)
    exp = cli.settings
    if (getattr(cli.datamodule, "hparams", None) or {}).get("val_size", 1) == 0:
        raise ExperimentError(f"experiment {exp.name}: val_size=0 leaves no validation split; "
                              "the curves and the best checkpoint need one (e.g. val_size: 5000)")
    cli.model.hparams["experiment"] = f"{exp.name}/{name}"
    data = WithTrainEval(cli.datamodule, exp.train_eval_size)
    cli.model.eval_names = ("train_eval", "val") if exp.train_eval_size > 0 else ("val",)
    trainer = cli.trainer
    last = Path(exp.out_dir) / exp.name / "checkpoints" / name / "last.ckpt"
    ckpt = str(last) if resume and last.exists() else None
    if ckpt is not None:
        check_checkpoint(ckpt)
    record: dict[str, Any] = {"variant": name, "overrides": overrides, "diverged": None,
                              "resumed_from": ckpt}
    logged: dict[str, float] = {}
    try:
        trainer.fit(cli.model, datamodule=data, ckpt_path=ckpt)
        logged.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    except NonFiniteLossError as exc:
        if exp.kind == "train":
            raise
        record["diverged"] = str(exc)
        record["diverged_step"] = exc.step
    if exp.test and record["diverged"] is None:
        metrics = trainer.test(cli.model, datamodule=data, verbose=False)
        record.update({k: float(v) for k, v in (metrics[0] if metrics else {}).items()})
        logged.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    h = cli.history
    record.update({
        "epochs": [row["epoch"] for row in h.epochs],
        "train_eval_acc": h.series("train_eval_acc"), "val_acc": h.series("val_acc"),
        "val_loss": h.series("val_loss"), "step_loss": h.step_loss, "steps": trainer.global_step,
        "images": h.images, "seconds": round(h.seconds, 3),
        "images_per_s": round(h.images / h.seconds, 1) if h.seconds > 0 else None,
        "batch_digest": cli.fingerprint.digest if hasattr(cli, "fingerprint") else None,
    })
    if trainer.world_size > 1:  # every rank writes what it logged (DDP check)
        ranks = Path(exp.out_dir) / exp.name / "ranks"
        ranks.mkdir(parents=True, exist_ok=True)
        (ranks / f"{name}-rank{trainer.global_rank}.json").write_text(json.dumps(
            {"rank": trainer.global_rank, "world_size": trainer.world_size, "metrics": logged,
             "steps": trainer.global_step}, indent=1, sort_keys=True))
    return record, cli


def run_experiment(config: str, args: list[str] | None = None) -> dict[str, Any] | None:
    """Run every variant of the experiment in ``config``; write the figure and ``summary.json``.

    ``args`` are LightningCLI overrides (``--trainer.max_epochs=1``). Returns the summary (``None``
    on ranks other than 0 under DDP).
    """
    path = config_path(config)
    base_args = ["--config", str(path), *(args or [])]
    probe = ZeroCLI(base_args)
    exp, resume = probe.settings, bool(probe.config["resume"])
    seed = probe.config["seed_everything"]
    t0 = time.perf_counter()
    records, last_cli = [], None
    variants = variants_of(exp)
    out = Path(exp.out_dir) / exp.name
    if resume:
        _check_resumable(exp, out, variants)
    with run_lock(out), quiet_lightning():
        for k, (name, overrides) in enumerate(variants.items(), start=1):
            position = f"{k}/{len(variants)}"
            if len(variants) > 1:
                log.info("%s: variant %s: %s", exp.name, position, name)
            record, last_cli = _run_variant(base_args, exp, name, overrides, resume, position)
            records.append(record)
        return _summarise(exp, path, args, seed, t0, records, last_cli)


def _first_reason(message: str) -> str:
    """jsonargparse wraps a constructor's ValueError in a page about Union subtypes: keep the
    constructor's own sentence ("train_size must be >= 1 …")."""
    reasons = [line.strip()[2:] for line in message.splitlines()
               if line.strip().startswith("- ") and "Expected a <class 'NoneType'>" not in line]
    return reasons[0] if reasons else message


def _check_resumable(exp: ExperimentSettings, out: Path, variants: dict) -> None:
    """``--resume=true`` needs something to resume: say so instead of starting afresh."""
    if not exp.checkpoints:
        raise ExperimentError(f"experiment {exp.name} writes no checkpoints (checkpoints: false):"
                              " there is nothing to resume; run it without --resume=true")
    found = [n for n in variants if (out / "checkpoints" / n / "last.ckpt").exists()]
    if not found:
        raise ExperimentError(f"nothing to resume: no last.ckpt under {out / 'checkpoints'}; run "
                              "without --resume=true to start fresh")


@contextlib.contextmanager
def run_lock(out: Path):
    """One run per output folder: ``<out>/.lock`` holds the running process's pid. A second run
    is refused; a lock whose process is gone (a killed run) is taken over, with the temp files
    that run left. Under DDP only the launching process (local rank 0) locks."""
    if int(os.environ.get("LOCAL_RANK", "0") or 0) > 0:
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    lock = out / ".lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _lock_holder(lock)
            if holder is not None and holder != os.getpid() and _alive(holder):
                raise ExperimentError(f"another run (pid {holder}) is writing {out}; wait for "
                                      f"it, or give this one --experiment.out_dir") from None
            lock.unlink(missing_ok=True)  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as fh:
            fh.write(str(os.getpid()))
        for stale in out.rglob(".*.part"):  # the folder is ours: these are a killed run's
            stale.unlink(missing_ok=True)
        break
    else:  # pragma: no cover  (another process took the stale lock between our two tries)
        raise ExperimentError(f"could not lock {out} (another run started at the same time)")
    try:
        yield
    finally:
        if _lock_holder(lock) == os.getpid():
            lock.unlink(missing_ok=True)


def _lock_holder(lock: Path) -> int | None:
    try:
        return int(lock.read_text().strip() or 0) or None
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_text(path: Path, text: str) -> None:
    """Atomically: a reader sees the old file or the whole new one."""
    from scratch.io import atomic_target

    with atomic_target(path) as fh:
        fh.write(text.encode())


def _summarise(exp, path, args, seed, t0, records, last_cli) -> dict[str, Any] | None:
    """The figure, ``summary.json`` (and a search's ``ranking.md``), each written atomically."""
    if not last_cli.trainer.is_global_zero:
        return None
    trainer = last_cli.trainer
    digests = {r["batch_digest"] for r in records if r["batch_digest"] and not r["diverged"]}
    out = Path(exp.out_dir) / exp.name
    out.mkdir(parents=True, exist_ok=True)
    data = describe_data(last_cli.datamodule)
    summary = {
        "experiment": exp.name, "kind": exp.kind, "title": exp.title, "config": str(path),
        "overrides": list(args or []), "seed": seed, "data": data,
        "device": str(trainer.strategy.root_device), "accelerator":
            type(trainer.accelerator).__name__, "devices": trainer.num_devices,
        "world_size": trainer.world_size, "precision": str(trainer.precision),
        "deterministic": bool(torch.are_deterministic_algorithms_enabled()),
        "limited": _limited(trainer, list(args or [])),
        "same_batches": len(digests) <= 1 if exp.kind != "train" else None,
        "seconds": round(time.perf_counter() - t0, 2),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {"torch": torch.__version__, "lightning": pl.__version__},
        "resumed": [r["variant"] for r in records if r.get("resumed_from")],
        "variants": records,
    }
    summary["headline"] = headline(exp, records, data)
    summary["figure"] = str(plot(exp, records, data, out / f"{exp.name}.png"))
    if exp.kind == "random_search":
        _write_text(out / "ranking.md", ranking_table(records))
    _write_text(out / "summary.json", json.dumps(summary, indent=1, default=str))
    return summary


SHORTENING = ("--trainer.max_", "--trainer.limit_", "--trainer.fast_dev_run",
              "--data.init_args.train_size", "--experiment.trials", "--experiment.weight_scales")


def _limited(trainer: pl.Trainer, args: list[str]) -> bool:
    """True when batch limits or overridden lengths make this a shortened run, not the book's."""
    return any(v not in (1.0, None) for v in (trainer.limit_train_batches,
                                             trainer.limit_val_batches,
                                             trainer.limit_test_batches)) \
        or any(a.startswith(SHORTENING) for a in args)


def _mean_tail(values: list[float], n: int = 20) -> float | None:
    tail = [v for v in values[-n:] if math.isfinite(v)]
    return float(np.mean(tail)) if tail else None


def headline(exp: ExperimentSettings, records: list[dict],
             data: dict | None = None) -> dict[str, Any]:
    """The one-line result of an experiment for the results table."""
    if exp.kind == "train" and (data or {}).get("test_only"):
        r = records[0]  # the test set holds the training images: validation is the measure
        return {"metric": "val_acc", "value": last_finite(r["val_acc"]),
                "text": f"val acc {_fmt(last_finite(r['val_acc']))}, final train acc "
                        f"{_fmt(last_finite(r['train_eval_acc']))} (test acc not held out)"}
    if exp.kind == "train":
        r = records[0]
        return {"metric": "test_acc", "value": r.get("test_acc"),
                "text": f"test acc {_fmt(r.get('test_acc'))}, final train acc "
                        f"{_fmt(last_finite(r['train_eval_acc']))}, "
                        f"val acc {_fmt(last_finite(r['val_acc']))}"}
    if exp.kind == "compare" and exp.figure == "loss":
        parts = []
        for r in sorted(records, key=lambda r: _mean_tail(r["step_loss"]) or math.inf):
            tail = _mean_tail(r["step_loss"])
            parts.append(f"{r['variant']} {'diverged' if r['diverged'] else _fmt(tail)}")
        return {"metric": "final_loss", "value": None,
                "text": "mean loss of the last 20 steps: " + ", ".join(parts)}
    if exp.kind == "compare":
        parts = []
        for r in records:
            tr, te = last_finite(r["train_eval_acc"]), last_finite(r["val_acc"])
            gap = tr - te if tr is not None and te is not None else None
            parts.append(f"{r['variant']}: train {_fmt(tr)} val {_fmt(te)} gap {_fmt(gap)}")
        return {"metric": "train-val gap", "value": None, "text": "; ".join(parts)}
    if exp.kind == "batch_norm":
        wins = total = 0
        for bn in (r for r in records if r["variant"].endswith("_bn")):
            plain = next(r for r in records if r["variant"] == bn["variant"][:-3] + "_plain")
            a, b = last_finite(bn["train_eval_acc"]), last_finite(plain["train_eval_acc"])
            a = 0.0 if a is None and bn["diverged"] else a  # a diverged run learned nothing
            b = 0.0 if b is None and plain["diverged"] else b
            if a is not None and b is not None:
                total += 1
                wins += a > b
        return {"metric": "train_acc", "value": wins / total if total else None,
                "text": f"batch norm ahead at {wins} of {total} weight scales"}
    best = max(records, key=lambda r: last_finite(r["val_acc"]) or -1.0)
    return {"metric": "best val_acc", "value": last_finite(best["val_acc"]),
            "text": f"best val acc {_fmt(last_finite(best['val_acc']))} at lr "
                    f"{best['overrides']['model.lr']:.3g}, weight decay "
                    f"{best['overrides']['model.weight_decay']:.3g}"}


def _fmt(value) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:.4f}"


def ranking_table(records: list[dict]) -> str:
    """random search: trials ranked by final validation accuracy (the book prints Best-1..20)."""
    rows = sorted(records, key=lambda r: last_finite(r["val_acc"]) or -1.0, reverse=True)
    lines = ["| rank | val acc | lr | weight decay | trial |", "| --- | --- | --- | --- | --- |"]
    for i, r in enumerate(rows, 1):
        lines.append(f"| {i} | {_fmt(last_finite(r['val_acc']))} | "
                     f"{r['overrides']['model.lr']:.3g} | "
                     f"{r['overrides']['model.weight_decay']:.3g} | {r['variant']}"
                     f"{' (diverged)' if r['diverged'] else ''} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- results
def collect_results(root: str | Path = "experiments/out",
                    broken: list[str] | None = None) -> list[dict]:
    """Every readable ``summary.json`` under ``root``; the unreadable ones are appended to
    ``broken`` (as "path: reason") and skipped."""
    order = {name: i for i, name in enumerate(BOOK_RESULTS)}
    found = []
    for p in sorted(Path(root).glob("**/summary.json")):
        try:
            summary = json.loads(p.read_text())
            summary["experiment"], summary["headline"]["text"]  # noqa: B018  (required keys)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if broken is not None:
                broken.append(f"{p}: {type(exc).__name__}: {exc}")
            continue
        found.append(summary)
    return sorted(found, key=lambda s: (order.get(s["experiment"], len(order)), s["experiment"]))


def results_table(summaries: list[dict]) -> str:
    """One Markdown table: our result beside the book's (MNIST) result, dataset labelled."""
    lines = ["| experiment | dataset | ours | the book (MNIST) | run |",
             "| --- | --- | --- | --- | --- |"]
    for s in summaries:
        book = BOOK_RESULTS.get(s["experiment"], {"text": "—"})
        data = s["data"]
        ours = s["headline"]["text"]
        if data["dataset"] != "mnist" or data.get("test_only"):
            book_text = f"{book['text']} — not comparable: other data"
        else:
            book_text = book["text"]
        run = f"{s['device']}, {s['seconds']:.0f} s" + (", SHORTENED run"
                                                         if s.get("limited") else "")
        if s.get("same_batches") is not None:
            run += ", same batches" if s["same_batches"] else ", BATCHES DIFFER"
        lines.append(f"| {s['experiment']} | {data['label']} ({data['train_images']} train) | "
                     f"{ours} | {book_text} | {run} |")
    return "\n".join(lines) + "\n"


def results_main(root: str = "experiments/out", output: str | None = None) -> int:
    broken: list[str] = []
    summaries = collect_results(root, broken)
    for line in broken:
        print(f"zerotorch experiment results: skipped {line}", file=sys.stderr)
    if not summaries:
        print(f"zerotorch experiment results: no summary.json under {root}")
        return 2
    table = results_table(summaries)
    if output:
        Path(output).write_text(table)
    print(table, end="")
    return 0


def main(argv: list[str]) -> int:
    """``zerotorch experiment {run NAME [overrides], list, results}``."""
    import argparse

    parser = argparse.ArgumentParser(prog="zerotorch experiment", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run one experiment (LightningCLI overrides may follow)")
    run.add_argument("name", help="experiment name (see `list`) or a YAML path")
    run.add_argument("overrides", nargs=argparse.REMAINDER,
                     help="e.g. --trainer.max_epochs=1 --trainer.devices=2")
    sub.add_parser("list", help="the experiment configs")
    res = sub.add_parser("results", help="every summary.json as one Markdown table")
    res.add_argument("--root", default="experiments/out")
    res.add_argument("--output", help="also write the table to this file")
    args = parser.parse_args(argv)
    if not log.handlers:  # the command line shows the run's own lines ("variant 2/5: …")
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    if args.action == "list":
        print(experiments_table())
        print("\nrun one: zerotorch experiment run NAME [--trainer.max_epochs N] "
              f"[--experiment.out_dir DIR] (outputs: {ExperimentSettings.out_dir}/NAME/)")
        return 0
    if args.action == "results":
        return results_main(args.root, args.output)
    try:
        summary = run_experiment(args.name, args.overrides)
    except NonFiniteLossError as exc:
        print(f"zerotorch experiment: {exc}")
        return 3
    except (FileNotFoundError, ExperimentError, CorruptCheckpointError) as exc:
        print(f"zerotorch experiment: {exc}")
        return 2
    except (ValueError, KeyError) as exc:  # a setting the config accepts but cannot run with
        message = str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
        print(f"zerotorch experiment: {args.name}: {_first_reason(message)}")
        return 2
    if summary is not None:
        print(f"{summary['experiment']}: {summary['headline']['text']}")
        print(f"figure {summary['figure']}; summary "
              f"{Path(summary['figure']).with_name('summary.json')}")
    return 0


__all__ = ["ExperimentError", "ExperimentSettings", "ZeroCLI", "SyntheticDataModule",
           "WithTrainEval", "History", "run_experiment", "variants_of", "collect_results",
           "results_table", "BOOK_RESULTS", "plot", "smooth_curve", "main"]
