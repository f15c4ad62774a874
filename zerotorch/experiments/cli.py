"""``ZeroCLI``: the ``LightningCLI`` that reads an experiment config and builds its trainer.

A config holds ``model`` (``LitClassifier`` with the injected network), ``data`` (a data
module), ``trainer`` and the ``experiment`` section; any value can be overridden on the command
line in LightningCLI syntax (``--trainer.max_epochs 1``). ``ZeroCLI`` parses and instantiates
only (no subcommands): the runner calls ``fit`` and ``test``. ``quiet_lightning`` silences
Lightning's banners while a run goes.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import warnings
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from pytorch_lightning.cli import LightningCLI
from pytorch_lightning.loggers import CSVLogger

from zerotorch.callbacks import (
    AtomicCheckpointIO,
    BatchFingerprint,
    History,
    VariantProgressBar,
    platform_callbacks,
    show_progress_bar,
)
from zerotorch.experiments.kinds import kind_of
from zerotorch.experiments.settings import ExperimentSettings
from zerotorch.lit import LitClassifier


class ZeroCLI(LightningCLI):
    """``LightningCLI`` for zerotorch experiments (parsing and instantiation only; no subcommands).

    Adds the ``experiment`` section, ``resume``; defaults ``accelerator: auto``,
    ``deterministic: true`` and a progress bar only on a terminal; the trainer gets the platform
    callbacks (faithful resume, NaN stop, checkpoints last + best) and CSV (+TensorBoard) logs.
    With ``variant=None`` it only parses (to read the experiment section) and seeds nothing: its
    ``seed_everything`` is set aside between parsing and instantiation, through public hooks
    only (no override of LightningCLI's private ``_set_seed``). ``overrides``
    (dotted key → Python value) are set on the parsed config before instantiation, keeping their
    types (a CLI string ``1.0`` would stay a string for an untyped argument).
    """

    def __init__(
        self,
        args: list[str],
        variant: str | None = None,
        overrides: dict[str, Any] | None = None,
        position: str = "",
    ):
        self.variant = variant
        self.position = position  # "2/5" of a compare experiment, for the progress bar
        self.overrides = dict(overrides or {})
        with warnings.catch_warnings():  # `args` is given on purpose while sys.argv is ours
            warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
            # auto_configure_optimizers=False: LightningCLI's own --optimizer would replace
            # LitClassifier's optimizer and with it the book's weight decay on weights only;
            # the optimizer is --model.optimizer (the book's six, or torch.<Name>).
            super().__init__(
                LitClassifier,
                pl.LightningDataModule,
                subclass_mode_data=True,
                run=False,
                args=args,
                save_config_kwargs={"overwrite": True},
                auto_configure_optimizers=False,
            )

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument(
            "--experiment",
            type=ExperimentSettings,
            default=ExperimentSettings(),
            help="what to run and plot",
        )
        parser.add_argument(
            "--resume",
            type=bool,
            default=False,
            help="continue each variant from its last.ckpt when present",
        )
        parser.set_defaults(
            {
                "trainer.accelerator": "auto",
                "trainer.deterministic": True,
                "trainer.enable_progress_bar": show_progress_bar(),
                "trainer.enable_model_summary": False,
            }
        )

    def parse_arguments(self, parser, args) -> None:
        super().parse_arguments(parser, args)
        if self.variant is None:  # only parsing: LightningCLI skips seeding for False
            self.parsed_seed = self.config["seed_everything"]
            self.config["seed_everything"] = False

    def before_instantiate_classes(self) -> None:
        if self.variant is None:  # the config's own seed again, for the runner to read
            self.config["seed_everything"] = self.parsed_seed
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
        callbacks = [*user, *platform_callbacks(f"{exp.name}/{self.variant}", ckpt), self.history]
        if self.config["trainer"].get("enable_progress_bar"):
            callbacks.append(VariantProgressBar(self.variant, self.position))
        if kind_of(exp).compares_variants:
            self.fingerprint = BatchFingerprint()
            callbacks.append(self.fingerprint)
        if not exp.checkpoints:  # no checkpoints at all: not even Lightning's default one
            kwargs["enable_checkpointing"] = False
        plugins = (self.config_init.get("trainer") or {}).get("plugins") or []
        plugins = plugins if isinstance(plugins, list) else [plugins]
        kwargs["plugins"] = [*plugins, AtomicCheckpointIO()]
        return super().instantiate_trainer(
            callbacks=callbacks, logger=platform_loggers(out, self.variant), **kwargs
        )

    @property
    def settings(self) -> ExperimentSettings:
        exp = self.config["experiment"]
        return exp if isinstance(exp, ExperimentSettings) else ExperimentSettings(**dict(exp))


# Lightning's messages that say nothing about this run (banners, tips, the interval warning for
# short runs, a deprecation inside Lightning itself); everything else still shows.
_NOISE = (
    r".*isinstance\(treespec, LeafSpec\)",
    r"The number of training batches .* is smaller "
    r"than the logging interval",
    r".*does not have many workers",
)


@contextlib.contextmanager
def quiet_lightning():
    """Lightning's INFO banners ("GPU available", "Seed set", tips) and known noise off for the
    run; warnings that matter (and our own log lines) stay."""
    loggers = [
        logging.getLogger(n)
        for n in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric", "lightning")
    ]
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


def platform_loggers(save_dir: str | Path, version: str) -> list:
    """CSV always; TensorBoard too when it is installed."""
    loggers = [CSVLogger(save_dir=str(save_dir), name="logs", version=version)]
    if (
        importlib.util.find_spec("tensorboard") is not None
        or importlib.util.find_spec("tensorboardX") is not None
    ):
        from pytorch_lightning.loggers import TensorBoardLogger

        loggers.append(
            TensorBoardLogger(save_dir=str(save_dir), name="tensorboard", version=version)
        )
    return loggers
