"""The Lightning callbacks of the experiment platform, and the trainer pieces they come with.

- ``History``: per-step training loss, per-epoch validation metrics and images/s of one run
  (kept in checkpoints, so a resumed run's curves start at step 1).
- ``FaithfulResume``: every RNG (Python, NumPy, torch, CUDA, and every ``torch.Generator`` /
  ``numpy.random.Generator`` held by the model, the data module or the training loader and its
  sampler) is saved in each checkpoint and restored at the first training epoch after a resume,
  so 2 epochs + resume for 2 more equals 4 uninterrupted epochs bitwise.
- ``StopOnNonFinite``: a NaN/inf training loss raises ``NonFiniteLossError`` naming the
  experiment and the step, before the bad update is applied.
- ``BatchFingerprint``: a digest of every training batch, to prove that compared variants saw
  the same batches.
- ``VariantProgressBar``: the progress bar names the variant, not Lightning's ``v_num``.
- ``AtomicCheckpointIO`` and ``check_checkpoint``: checkpoints written whole or not at all, and
  read back (``weights_only``) before a resume.

``platform_callbacks`` assembles the set every experiment run gets. The only private Lightning
attributes used here are read through ``zerotorch._lightning_private``.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback, ModelCheckpoint, TQDMProgressBar
from pytorch_lightning.plugins.io import TorchCheckpointIO
from pytorch_lightning.utilities import rank_zero_warn

from zerotorch._lightning_private import fit_loop_internals


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
        self.epochs = [
            r for r in self.epochs if (r["epoch"], r["step"]) != (row["epoch"], row["step"])
        ]
        self.epochs.append(row)

    def series(self, key: str) -> list[float]:
        return [row.get(key, math.nan) for row in self.epochs]

    def state_dict(self) -> dict[str, Any]:
        """Kept in every checkpoint, so a resumed run's curves start at step 1, not at the
        resume."""
        self._flush()
        seconds = self.seconds + (time.perf_counter() - self._t0 if self._t0 else 0.0)
        return {
            "step_loss": list(self.step_loss),
            "epochs": [dict(r) for r in self.epochs],
            "images": self.images,
            "seconds": seconds,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.step_loss = list(state_dict["step_loss"])
        self.epochs = [dict(r) for r in state_dict["epochs"]]
        self.images, self.seconds = state_dict["images"], state_dict["seconds"]


# ---------------------------------------------------------------------------- RNG state
GeneratorLike = (torch.Generator, np.random.Generator, random.Random)


def _scan(prefix: str, obj: Any, found: dict[str, Any], seen: set[int]) -> None:
    for attr, value in list(vars(obj).items()) if hasattr(obj, "__dict__") else []:
        if isinstance(value, GeneratorLike) and id(value) not in seen:
            seen.add(id(value))
            found[f"{prefix}.{attr}"] = value


def find_generators(trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
    """Every generator held by the model's modules, the data module and the training loaders.

    Keys are stable paths (``model.model.drop1.generator``, ``train_loader0.sampler.generator``)
    so a fresh process finds the same objects again.
    """
    found: dict[str, Any] = {}
    seen: set[int] = set()
    for name, module in pl_module.named_modules():
        _scan(f"model.{name}" if name else "model", module, found, seen)
    if trainer.datamodule is not None:
        _scan("datamodule", trainer.datamodule, found, seen)
        for attr, value in vars(trainer.datamodule).items():  # a wrapped data module
            if isinstance(value, pl.LightningDataModule):
                _scan(f"datamodule.{attr}", value, found, seen)
    for i, loader in enumerate(fit_loop_internals(trainer).train_loaders):
        _scan(f"train_loader{i}", loader, found, seen)
        for part in ("sampler", "batch_sampler", "dataset"):
            if getattr(loader, part, None) is not None:
                _scan(f"train_loader{i}.{part}", getattr(loader, part), found, seen)
        inner = getattr(getattr(loader, "batch_sampler", None), "sampler", None)
        if inner is not None:
            _scan(f"train_loader{i}.batch_sampler.sampler", inner, found, seen)
    return found


def _get_state(gen) -> Any:
    if isinstance(gen, torch.Generator):
        return gen.get_state()
    if isinstance(gen, np.random.Generator):
        return gen.bit_generator.state
    return _plain(gen.getstate())


def _set_state(gen, state) -> None:
    if isinstance(gen, torch.Generator):
        gen.set_state(state)
    elif isinstance(gen, np.random.Generator):
        gen.bit_generator.state = state
    else:
        gen.setstate(_tuples(state))


def _plain(value):
    """Tuples → lists, arrays → lists of ints: checkpoints load with ``weights_only=True``."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _tuples(value):
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def capture_rng(trainer: pl.Trainer, pl_module: pl.LightningModule) -> dict[str, Any]:
    """Global RNG states (Python, NumPy, torch, CUDA) and every generator ``find_generators`` finds.

    NumPy's legacy global state is saved because user code may still draw from it.
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    state = {
        "python": _plain(random.getstate()),
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "generators": {k: _get_state(g) for k, g in find_generators(trainer, pl_module).items()},
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any], trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
    """Put back what ``capture_rng`` saved; a saved generator not found now is warned about."""
    random.setstate(_tuples(state["python"]))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    legacy = (kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached)
    np.random.set_state(legacy)  # noqa: NPY002
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    current = find_generators(trainer, pl_module)
    missing = sorted(set(state["generators"]) - set(current))
    if missing:
        rank_zero_warn(
            f"FaithfulResume: generators {missing} saved in the checkpoint are not "
            f"present now (found {sorted(current)}); their streams restart"
        )
    for key, gen_state in state["generators"].items():
        if key in current:
            _set_state(current[key], gen_state)


class FaithfulResume(Callback):
    """Saves all RNG states in checkpoints; restores them when training resumes.

    Lightning restores the model, optimizer and loop counters, not the random streams: without
    this, a resumed run reshuffles and redraws dropout masks from fresh seeds. The states are
    captured when the checkpoint is written (after validation at the end of an epoch) and put
    back at the start of the next training epoch, after the sanity check and after the fit loop
    has built its data loader; the loader's iterator, created before that hook on resume, is then
    created again so that its first draw comes from the restored state, as in an uninterrupted run.
    Under DDP the states of rank 0 are saved (all ranks start from the same seed).
    """

    KEY = "zerotorch_rng_state"

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None

    def on_save_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        checkpoint[self.KEY] = capture_rng(trainer, pl_module)

    def on_load_checkpoint(self, trainer, pl_module, checkpoint) -> None:
        self._pending = checkpoint.get(self.KEY)
        if self._pending is None:
            rank_zero_warn(
                "FaithfulResume: the checkpoint holds no RNG state (written without "
                "this callback); the resumed run will not match an uninterrupted one"
            )

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if self._pending is None:
            return
        restore_rng(self._pending, trainer, pl_module)
        self._pending = None
        fetcher = fit_loop_internals(trainer).data_fetcher
        if fetcher is not None:
            iter(fetcher)  # re-create this epoch's iterator from the restored states


# ---------------------------------------------------------------------------- NaN stop
class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the message names the experiment and step."""

    def __init__(self, message: str, step: int, value: float):
        super().__init__(message)
        self.step = step
        self.value = value


class StopOnNonFinite(Callback):
    """Stops training at the first NaN/inf training loss, before that update is applied."""

    def __init__(self, experiment: str = "") -> None:
        self.experiment = experiment
        self._batch_idx = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self._batch_idx = batch_idx

    def on_before_backward(self, trainer, pl_module, loss) -> None:
        if bool(torch.isfinite(loss.detach()).all()):
            return
        hp = pl_module.hparams
        name = self.experiment or hp.get("experiment", "zerotorch")
        step = trainer.global_step + 1  # the update this loss would have produced (1-based)
        value = float(loss.detach().float().cpu())
        raise NonFiniteLossError(
            f"experiment {name!r}: training loss is {value} at step {step} (epoch "
            f"{trainer.current_epoch}, batch {self._batch_idx}); training stopped before that "
            f"update. Optimizer {hp.get('optimizer')} with lr={hp.get('lr')} diverged: lower the "
            "learning rate.",
            step=step,
            value=value,
        )


# ---------------------------------------------------------------------------- same batches
class BatchFingerprint(Callback):
    """A running digest of every training batch (labels and per-sample input sums), chained
    batch by batch so that it survives a resume (kept in the checkpoint)."""

    def __init__(self) -> None:
        self._digest = ""
        self.batches = 0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        x, t = batch
        h = hashlib.sha256(self._digest.encode())
        h.update(t.detach().cpu().numpy().tobytes())
        sums = x.detach().reshape(x.shape[0], -1).double().sum(dim=1)  # (N,)
        h.update(sums.cpu().numpy().tobytes())
        self._digest = h.hexdigest()
        self.batches += 1

    def state_dict(self) -> dict[str, Any]:
        return {"digest": self._digest, "batches": self.batches}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._digest, self.batches = state_dict["digest"], state_dict["batches"]

    @property
    def digest(self) -> str:
        return self._digest[:16]


# ---------------------------------------------------------------------------- checkpoints
class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written into a temp file beside the target, flushed to disk, then renamed
    onto it: a kill or a full disk leaves the previous checkpoint whole (Lightning's own
    write goes through the temp folder, which may be another filesystem)."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO takes no storage_options")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as fh:
                torch.save(checkpoint, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class CorruptCheckpointError(RuntimeError):
    """A checkpoint to resume from cannot be read; the message names it."""


def check_checkpoint(path: str | Path) -> None:
    """Raise ``CorruptCheckpointError`` unless ``path`` is a readable Lightning checkpoint.

    Read with ``weights_only=True``: a checkpoint is a file like any other, never trusted to run
    code; ours hold only tensors, numbers, strings and lists (``capture_rng``).
    """
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001  (any failure means: cannot resume from it)
        raise CorruptCheckpointError(
            f"{path}: the checkpoint cannot be read ({type(exc).__name__}: {exc}); delete it "
            "(or its folder) and run again, or run without --resume=true to start fresh"
        ) from None
    if not isinstance(state, dict) or "state_dict" not in state:
        raise CorruptCheckpointError(f"{path}: not a Lightning checkpoint (no state_dict)")


# ---------------------------------------------------------------------------- progress, assembly
class VariantProgressBar(TQDMProgressBar):
    """The progress bar names the variant and its place ("Momentum 2/5 epoch 3"), not
    Lightning's ``v_num``."""

    def __init__(self, variant: str, position: str = ""):
        super().__init__()
        self.label = f"{variant} {position}".strip()

    def on_train_epoch_start(self, trainer, *args) -> None:
        super().on_train_epoch_start(trainer, *args)
        self.train_progress_bar.set_description(f"{self.label} epoch {trainer.current_epoch}")

    def get_metrics(self, trainer, pl_module) -> dict:
        metrics = super().get_metrics(trainer, pl_module)
        metrics.pop("v_num", None)
        return metrics


def show_progress_bar() -> bool:
    """Progress bar only in a terminal (off in CI logs, pipes and files)."""
    return sys.stdout.isatty()


def platform_callbacks(
    experiment: str, checkpoint_dir: str | Path | None, monitor: str = "val_acc"
) -> list[Callback]:
    """FaithfulResume, StopOnNonFinite and (with a folder) checkpoints ``last.ckpt`` + best.

    ``last.ckpt`` comes from its own ``ModelCheckpoint(monitor=None)``, rewritten after every
    validation: ``save_last=True`` on the monitored one only writes it when the best improves.
    """
    callbacks: list[Callback] = [FaithfulResume(), StopOnNonFinite(experiment)]
    if checkpoint_dir is not None:
        callbacks.append(
            ModelCheckpoint(
                dirpath=checkpoint_dir,
                filename="last",
                monitor=None,
                save_top_k=1,
                enable_version_counter=False,
            )
        )
        callbacks.append(
            ModelCheckpoint(
                dirpath=checkpoint_dir,
                filename="best-{epoch}",
                monitor=monitor,
                mode="max",
                save_top_k=1,
                enable_version_counter=False,
            )
        )
    return callbacks


__all__ = [
    "History",
    "FaithfulResume",
    "StopOnNonFinite",
    "NonFiniteLossError",
    "BatchFingerprint",
    "VariantProgressBar",
    "AtomicCheckpointIO",
    "CorruptCheckpointError",
    "check_checkpoint",
    "capture_rng",
    "restore_rng",
    "find_generators",
    "platform_callbacks",
    "show_progress_bar",
]
