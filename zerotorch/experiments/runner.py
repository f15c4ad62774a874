"""The book's experiments, ch4 to ch8, as one command each (``zerotorch experiment run NAME``).

Each experiment is one YAML file in ``zerotorch/experiments/configs/`` (package data, so found
from any folder after a normal install): a ``LightningCLI`` config (``model``: ``LitClassifier``
with the injected network, ``data``: a data module, ``trainer``) plus an ``experiment`` section
saying how to run it:

- ``kind: train`` — one training run (ch4/ch5 train_neuralnet, ch7 train_convnet, ch8 deepnet);
- ``kind: compare`` — named ``variants``, each a set of config overrides (optimizers, inits,
  weight decay, dropout); every variant starts from the same seed and sees the same batches,
  which ``BatchFingerprint`` proves (``same_batches`` in the summary);
- ``kind: batch_norm`` — with vs without batch norm over ``weight_scales``;
- ``kind: random_search`` — ``trials`` of lr and weight decay drawn log-uniformly.

Any config value can be overridden on the command line (``--trainer.max_epochs 1``,
``--trainer.devices 2 --trainer.strategy ddp``, ``--trainer.precision bf16-mixed``,
``--data.init_args.dataset fashion-mnist``). Outputs go to ``<out_dir>/<name>/``: the figure
``<name>.png``, ``summary.json``, CSV logs per variant and checkpoints (last + best), one run
per folder at a time (``run_lock``), every file written atomically.
``zerotorch experiment results`` collects every ``summary.json`` into one Markdown table beside
the book's published results.

This module runs the variants (``run_experiment``) and is the command (``main``); each kind's
variants, headline and figure are in ``zerotorch.experiments.kinds``, the Lightning module in
``zerotorch.lit`` and the callbacks in ``zerotorch.callbacks``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
import torch

from zerotorch.callbacks import CorruptCheckpointError, NonFiniteLossError, check_checkpoint
from zerotorch.experiments.cli import ZeroCLI, quiet_lightning
from zerotorch.experiments.data import WithTrainEval, describe_data
from zerotorch.experiments.kinds import ExperimentKind, kind_of
from zerotorch.experiments.results import results_main
from zerotorch.experiments.settings import (
    CONFIG_DIR,
    ExperimentError,
    ExperimentSettings,
    config_path,
    list_experiments,
)

log = logging.getLogger("zerotorch.experiments")


def _run_variant(
    base_args: list[str],
    kind: ExperimentKind,
    name: str,
    overrides: dict[str, Any],
    resume: bool,
    position: str = "",
) -> tuple[dict[str, Any], ZeroCLI]:
    """Fit (and test) one variant; its record (curves, metrics, digest) and its ``ZeroCLI``."""
    exp = kind.settings
    checkpoints = Path(exp.out_dir) / exp.name / "checkpoints" / name
    if not resume and checkpoints.is_dir():  # a fresh run replaces the last run's files
        shutil.rmtree(checkpoints)
    cli = ZeroCLI(base_args, variant=name, overrides=overrides, position=position)
    exp = cli.settings
    if (getattr(cli.datamodule, "hparams", None) or {}).get("val_size", 1) == 0:
        raise ExperimentError(
            f"experiment {exp.name}: val_size=0 leaves no validation split; "
            "the curves and the best checkpoint need one (e.g. val_size: 5000)"
        )
    cli.model.hparams["experiment"] = f"{exp.name}/{name}"
    data = WithTrainEval(cli.datamodule, exp.train_eval_size)
    cli.model.eval_names = ("train_eval", "val") if exp.train_eval_size > 0 else ("val",)
    trainer = cli.trainer
    last = Path(exp.out_dir) / exp.name / "checkpoints" / name / "last.ckpt"
    ckpt = str(last) if resume and last.exists() else None
    if ckpt is not None:
        check_checkpoint(ckpt)
    record: dict[str, Any] = {
        "variant": name,
        "overrides": overrides,
        "diverged": None,
        "resumed_from": ckpt,
    }
    logged: dict[str, float] = {}
    try:
        trainer.fit(cli.model, datamodule=data, ckpt_path=ckpt)
        logged.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    except NonFiniteLossError as exc:
        if not kind.compares_variants:
            raise
        record["diverged"] = str(exc)
        record["diverged_step"] = exc.step
    if exp.test and record["diverged"] is None:
        metrics = trainer.test(cli.model, datamodule=data, verbose=False)
        record.update({k: float(v) for k, v in (metrics[0] if metrics else {}).items()})
        logged.update({k: float(v) for k, v in trainer.callback_metrics.items()})
    h = cli.history
    record.update(
        {
            "epochs": [row["epoch"] for row in h.epochs],
            "train_eval_acc": h.series("train_eval_acc"),
            "val_acc": h.series("val_acc"),
            "val_loss": h.series("val_loss"),
            "step_loss": h.step_loss,
            "steps": trainer.global_step,
            "images": h.images,
            "seconds": round(h.seconds, 3),
            "images_per_s": round(h.images / h.seconds, 1) if h.seconds > 0 else None,
            "batch_digest": cli.fingerprint.digest if hasattr(cli, "fingerprint") else None,
        }
    )
    if trainer.world_size > 1:  # every rank writes what it logged (DDP check)
        ranks = Path(exp.out_dir) / exp.name / "ranks"
        ranks.mkdir(parents=True, exist_ok=True)
        (ranks / f"{name}-rank{trainer.global_rank}.json").write_text(
            json.dumps(
                {
                    "rank": trainer.global_rank,
                    "world_size": trainer.world_size,
                    "metrics": logged,
                    "steps": trainer.global_step,
                },
                indent=1,
                sort_keys=True,
            )
        )
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
    kind = kind_of(exp)
    variants = kind.variants()
    out = Path(exp.out_dir) / exp.name
    if resume:
        _check_resumable(exp, out, variants)
    with run_lock(out), quiet_lightning():
        for k, (name, overrides) in enumerate(variants.items(), start=1):
            position = f"{k}/{len(variants)}"
            if len(variants) > 1:
                log.info("%s: variant %s: %s", exp.name, position, name)
            record, last_cli = _run_variant(base_args, kind, name, overrides, resume, position)
            records.append(record)
        return _summarise(kind, path, args, seed, t0, records, last_cli)


def _first_reason(message: str) -> str:
    """jsonargparse wraps a constructor's ValueError in a page about Union subtypes: keep the
    constructor's own sentence ("train_size must be >= 1 …")."""
    reasons = [
        line.strip()[2:]
        for line in message.splitlines()
        if line.strip().startswith("- ") and "Expected a <class 'NoneType'>" not in line
    ]
    return reasons[0] if reasons else message


def _check_resumable(exp: ExperimentSettings, out: Path, variants: dict) -> None:
    """``--resume=true`` needs something to resume: say so instead of starting afresh."""
    if not exp.checkpoints:
        raise ExperimentError(
            f"experiment {exp.name} writes no checkpoints (checkpoints: false):"
            " there is nothing to resume; run it without --resume=true"
        )
    found = [n for n in variants if (out / "checkpoints" / n / "last.ckpt").exists()]
    if not found:
        raise ExperimentError(
            f"nothing to resume: no last.ckpt under {out / 'checkpoints'}; run "
            "without --resume=true to start fresh"
        )


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
                raise ExperimentError(
                    f"another run (pid {holder}) is writing {out}; wait for "
                    f"it, or give this one --experiment.out_dir"
                ) from None
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


def _summarise(
    kind: ExperimentKind, path, args, seed, t0, records, last_cli
) -> dict[str, Any] | None:
    """The figure, ``summary.json`` and the kind's extra outputs (a search's ``ranking.md``),
    each written atomically."""
    exp = kind.settings
    if not last_cli.trainer.is_global_zero:
        return None
    trainer = last_cli.trainer
    digests = {r["batch_digest"] for r in records if r["batch_digest"] and not r["diverged"]}
    out = Path(exp.out_dir) / exp.name
    out.mkdir(parents=True, exist_ok=True)
    data = describe_data(last_cli.datamodule)
    summary = {
        "experiment": exp.name,
        "kind": exp.kind,
        "title": exp.title,
        "config": str(path),
        "overrides": list(args or []),
        "seed": seed,
        "data": data,
        "device": str(trainer.strategy.root_device),
        "accelerator": type(trainer.accelerator).__name__,
        "devices": trainer.num_devices,
        "world_size": trainer.world_size,
        "precision": str(trainer.precision),
        "deterministic": bool(torch.are_deterministic_algorithms_enabled()),
        "limited": _limited(trainer, list(args or [])),
        "same_batches": len(digests) <= 1 if kind.compares_variants else None,
        "seconds": round(time.perf_counter() - t0, 2),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": {"torch": torch.__version__, "lightning": pl.__version__},
        "resumed": [r["variant"] for r in records if r.get("resumed_from")],
        "variants": records,
    }
    summary["headline"] = kind.headline(records, data)
    summary["figure"] = str(kind.plot(records, data, out / f"{exp.name}.png"))
    for name, text in kind.extra_outputs(records).items():
        _write_text(out / name, text)
    _write_text(out / "summary.json", json.dumps(summary, indent=1, default=str))
    return summary


SHORTENING = (
    "--trainer.max_",
    "--trainer.limit_",
    "--trainer.fast_dev_run",
    "--data.init_args.train_size",
    "--experiment.trials",
    "--experiment.weight_scales",
)


def _limited(trainer: pl.Trainer, args: list[str]) -> bool:
    """True when batch limits or overridden lengths make this a shortened run, not the book's."""
    return any(
        v not in (1.0, None)
        for v in (
            trainer.limit_train_batches,
            trainer.limit_val_batches,
            trainer.limit_test_batches,
        )
    ) or any(a.startswith(SHORTENING) for a in args)


def _section(chapter: str) -> tuple[int, ...]:
    """``"6.3.3"`` → ``(6, 3, 3)``: book sections sort as numbers."""
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
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    """``zerotorch experiment {run NAME [overrides], list, results}``."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="zerotorch experiment",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run one experiment (LightningCLI overrides may follow)")
    run.add_argument("name", help="experiment name (see `list`) or a YAML path")
    run.add_argument(
        "overrides",
        nargs=argparse.REMAINDER,
        help="e.g. --trainer.max_epochs=1 --trainer.devices=2",
    )
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
        print(
            "\nrun one: zerotorch experiment run NAME [--trainer.max_epochs N] "
            f"[--experiment.out_dir DIR] (outputs: {ExperimentSettings.out_dir}/NAME/)"
        )
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
        print(
            f"figure {summary['figure']}; summary "
            f"{Path(summary['figure']).with_name('summary.json')}"
        )
    return 0
