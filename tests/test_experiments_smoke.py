"""CI smoke test: EVERY experiment config runs for a few batches on CPU and writes its outputs.

Data, first found: the real MNIST test set (``ZEROTORCH_MNIST_DIR``, ``test_only``), Debian's
Fashion-MNIST, else ``SyntheticDataModule``; each summary and figure title says which.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from zerotorch.experiments import (
    BOOK_RESULTS,
    CONFIG_DIR,
    ExperimentSettings,
    ZeroCLI,
    collect_results,
    list_experiments,
    results_table,
    run_experiment,
    smooth_curve,
    variants_of,
)

FASHION = Path("/usr/share/datasets/fashion-mnist")
EXPERIMENTS = list_experiments()
FAST = ["--trainer.max_epochs=2", "--trainer.max_steps=-1", "--trainer.limit_train_batches=2",
        "--trainer.limit_val_batches=2", "--trainer.limit_test_batches=2",
        "--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
        "--experiment.trials=2", "--experiment.weight_scales_logspace=[0, -4, 2]",
        "--experiment.train_eval_size=50", "--data.init_args.batch_size=25"]


def _data_args(only: str | None = None) -> tuple[str, list[str]]:
    """The first available data source (or exactly ``only``) and its overrides."""
    mnist = os.environ.get("ZEROTORCH_MNIST_DIR")
    if only in (None, "mnist") and mnist and (Path(mnist) / "t10k-images-idx3-ubyte.gz").exists():
        return "mnist", ["--data.init_args.test_only=true", "--data.init_args.train_size=200",
                         "--data.init_args.val_size=100"]
    if only in (None, "fashion-mnist") and (FASHION / "train-images-idx3-ubyte.gz").exists():
        return "fashion-mnist", ["--data.init_args.dataset=fashion-mnist",
                                 f"--data.init_args.data_root={FASHION}",
                                 "--data.init_args.train_size=200",
                                 "--data.init_args.val_size=100"]
    return "synthetic", ["--data=zerotorch.experiments.SyntheticDataModule",
                         "--data.init_args.train_size=200", "--data.init_args.val_size=100"]


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("experiments")


def test_every_book_experiment_has_a_config():
    assert set(EXPERIMENTS) == set(BOOK_RESULTS)
    for name in EXPERIMENTS:
        text = (CONFIG_DIR / f"{name}.yaml").read_text()
        for required in ("seed_everything:", "deterministic: true", "accelerator: auto",
                         "# Run: zerotorch experiment run " + name):
            assert required in text, f"{name}.yaml lacks {required!r}"


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_experiment_runs_a_few_batches(name, out_dir):
    dataset, data_args = _data_args()
    summary = run_experiment(name, [*FAST, *data_args, f"--experiment.out_dir={out_dir}"])
    folder = out_dir / name
    assert json.loads((folder / "summary.json").read_text())["experiment"] == name
    png = folder / f"{name}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert summary["data"]["dataset"] == dataset and summary["limited"] is True
    assert summary["deterministic"] is True and summary["seed"] is not None
    assert summary["headline"]["text"]
    for record in summary["variants"]:
        if record["diverged"]:  # the book's batch_norm_test: W = 1 without BN overflows
            assert name == "batch_norm_test" and record["variant"].endswith("_plain")
            continue
        assert record["steps"] > 0
        assert len(record["val_acc"]) == 2  # one validation per epoch
    if summary["kind"] != "train":  # compared variants saw the very same batches
        assert summary["same_batches"] is True
    if summary["kind"] == "random_search":
        assert (folder / "ranking.md").read_text().count("| trial0") == 2
    settings = json.loads((folder / "summary.json").read_text())
    ckpts = sorted(p.name for p in (folder / "checkpoints").glob("*/*.ckpt")) \
        if (folder / "checkpoints").exists() else []
    if "checkpoints: false" not in (CONFIG_DIR / f"{name}.yaml").read_text():
        assert "last.ckpt" in ckpts and any(c.startswith("best-") for c in ckpts), ckpts
    for record in settings["variants"]:  # CSV logs always, one folder per variant
        assert (folder / "logs" / record["variant"] / "metrics.csv").stat().st_size > 0


@pytest.mark.parametrize("source", ["fashion-mnist", "synthetic"])
def test_other_data_sources_are_labelled_and_not_compared_to_the_book(source, tmp_path):
    dataset, data_args = _data_args(only=source)
    if dataset != source:
        pytest.skip(f"{source} is not installed here")
    summary = run_experiment("ch5_train_neuralnet", [*FAST, *data_args,
                                                     f"--experiment.out_dir={tmp_path}"])
    assert summary["data"]["dataset"] == source
    label = {"fashion-mnist": "Fashion-MNIST", "synthetic": "synthetic"}[source]
    assert summary["data"]["label"].startswith(label)
    row = results_table([summary]).splitlines()[2]
    assert label in row and "not comparable" in row


def test_results_table_lists_every_experiment_beside_the_book(out_dir):
    summaries = collect_results(out_dir)
    assert [s["experiment"] for s in summaries] == [n for n in BOOK_RESULTS if n in EXPERIMENTS]
    table = results_table(summaries)
    lines = table.strip().splitlines()
    assert len(lines) == 2 + len(EXPERIMENTS)
    assert "98.96 %" in table and "99.38 %" in table  # the book's ch7 / ch8 results
    assert all("SHORTENED" in line for line in lines[2:])
    if _data_args()[0] != "mnist":
        assert "not comparable" in table


def test_same_batches_check_fails_when_the_batches_differ(tmp_path):
    """The fingerprint is not vacuous: variants with different shuffling seeds are caught."""
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""
seed_everything: 1
experiment: {{name: differ, kind: compare, figure: loss, checkpoints: false, test: false,
  out_dir: {tmp_path}, variants: {{a: {{data.init_args.seed: 1}}, b: {{data.init_args.seed: 2}}}}}}
model:
  model:
    class_path: zerotorch.networks.MultiLayerNet
    init_args: {{input_size: 784, hidden_size_list: [8], output_size: 10}}
data:
  class_path: zerotorch.experiments.SyntheticDataModule
  init_args: {{flatten: true, train_size: 64, batch_size: 32}}
trainer: {{accelerator: cpu, max_epochs: 1, enable_progress_bar: false}}
""")
    assert run_experiment(str(cfg))["same_batches"] is False


def test_variant_generation_matches_the_book():
    bn = ExperimentSettings(kind="batch_norm", weight_scales_logspace=[0, -4, 16])
    assert len(variants_of(bn)) == 32 and bn.weight_scales[0] == 1.0
    assert bn.weight_scales[-1] == pytest.approx(1e-4)
    rs = variants_of(ExperimentSettings(kind="random_search", trials=100, search_seed=1))
    lrs = [v["model.lr"] for v in rs.values()]
    wds = [v["model.weight_decay"] for v in rs.values()]
    assert len(rs) == 100 and 1e-6 <= min(lrs) and max(lrs) <= 1e-2
    assert 1e-8 <= min(wds) and max(wds) <= 1e-4
    with pytest.raises(ValueError, match="unknown kind"):
        variants_of(ExperimentSettings(kind="nope"))


def test_smooth_curve_keeps_length_and_flattens_noise():
    noisy = np.array([1.0, 3.0] * 50)  # std 1.0
    smooth = smooth_curve(noisy)
    assert len(smooth) == 100 and noisy.std() == 1.0
    assert smooth[10:-10].std() < 0.2 and abs(smooth.mean() - 2.0) < 0.05


@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "terminal"])
def test_progress_bar_default_follows_the_terminal(monkeypatch, tty):
    """No config sets ``enable_progress_bar``: the CLI default is on only in a terminal."""
    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty, raising=False)
    for name in EXPERIMENTS:
        cli = ZeroCLI(["--config", str(CONFIG_DIR / f"{name}.yaml")])  # parses, builds nothing
        assert cli.config["trainer"]["enable_progress_bar"] is tty, name


def test_cli_lists_experiments_and_reports_config_errors(capsys, tmp_path):
    from zerotorch.cli import main

    assert main(["experiment", "list"]) == 0
    listed = capsys.readouterr().out.split()
    assert all(name in listed for name in EXPERIMENTS)
    assert main(["experiment", "run", "no_such_experiment"]) == 2
    assert "no experiment 'no_such_experiment'" in capsys.readouterr().out
    assert main(["experiment", "run", "ch5_train_neuralnet", "--data=zerotorch.experiments."
                 "SyntheticDataModule", "--data.init_args.val_size=0",
                 f"--experiment.out_dir={tmp_path}"]) == 2
    assert "val_size=0 leaves no validation split" in capsys.readouterr().out
    assert main(["experiment", "results", f"--root={tmp_path / 'empty'}"]) == 2


def test_config_callbacks_are_kept_beside_the_platform_ones(tmp_path):
    """A ``trainer.callbacks`` entry in a config survives; the platform adds its own (NaN stop,
    faithful resume, checkpoints last + best) and the CSV logger."""
    from pytorch_lightning.callbacks import LearningRateMonitor, ModelCheckpoint
    from pytorch_lightning.loggers import CSVLogger

    from zerotorch.callbacks import FaithfulResume, StopOnNonFinite

    cli = ZeroCLI(["--config", str(CONFIG_DIR / "ch5_train_neuralnet.yaml"),
                   "--data=zerotorch.experiments.SyntheticDataModule",
                   "--trainer.callbacks=pytorch_lightning.callbacks.LearningRateMonitor",
                   f"--experiment.out_dir={tmp_path}"], variant="main")
    kinds = [type(c) for c in cli.trainer.callbacks]
    assert {LearningRateMonitor, FaithfulResume, StopOnNonFinite} <= set(kinds)
    ckpts = [c for c in cli.trainer.callbacks if isinstance(c, ModelCheckpoint)]
    assert sorted((c.filename, c.monitor) for c in ckpts) == [("best-{epoch}", "val_acc"),
                                                              ("last", None)]
    assert any(isinstance(lg, CSVLogger) for lg in cli.trainer.loggers)
