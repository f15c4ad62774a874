"""What a newcomer meets: the experiments from any folder, a quiet console with one line per
variant, no stray checkpoints, figures that say what was run, messages in command-line words."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import zerotorch
from scratch import dataset as ds
from zerotorch.experiments import CONFIG_DIR, ExperimentSettings, figure_title, list_experiments
from zerotorch.experiments.figures import epoch_axis

ROOT = Path(__file__).resolve().parent.parent
FAST = ["--trainer.max_epochs=1", "--trainer.max_steps=-1", "--trainer.limit_train_batches=2",
        "--trainer.limit_val_batches=2", "--trainer.limit_test_batches=2",
        "--experiment.train_eval_size=20", "--data=zerotorch.experiments.SyntheticDataModule",
        "--data.init_args.train_size=100", "--data.init_args.val_size=50",
        "--data.init_args.batch_size=25"]


def _cli(*args, cwd: Path, env: dict | None = None):
    return subprocess.run([sys.executable, "-m", "zerotorch", *args], capture_output=True,
                          text=True, cwd=cwd, env=env or dict(os.environ), timeout=600)


def test_configs_are_package_data_listed_from_any_folder(tmp_path):
    """The configs live inside the package (a wheel carries them), so `experiment list` works
    from an empty folder, with each experiment's section, description and CPU time."""
    assert CONFIG_DIR == Path(zerotorch.__file__).parent / "experiments" / "configs"
    out = _cli("experiment", "list", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:2] == ["section", "experiment"]
    for name in list_experiments():
        row = next(line for line in lines if f" {name} " in line)
        assert row.split()[0][0].isdigit() and "min" in row, row  # section … CPU time
    assert list(tmp_path.iterdir()) == []  # listing writes nothing


def test_compare_run_is_quiet_says_each_variant_and_writes_no_default_checkpoints(tmp_path):
    out = _cli("experiment", "run", "optimizer_compare_mnist", *FAST,
               f"--experiment.out_dir={tmp_path}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    console = out.stdout + out.stderr
    for k, name in enumerate(["SGD", "Momentum", "AdaGrad", "Adam", "RMSprop"], start=1):
        assert f"variant {k}/5: {name}" in console
    for noise in ("GPU available", "TPU available", "Tip:", "Total params", "LeafSpec",
                  "smaller than the logging interval"):
        assert noise not in console, noise
    assert list(tmp_path.rglob("*.ckpt")) == []  # the config says checkpoints: false


def test_a_rerun_replaces_its_checkpoints(tmp_path):
    """Two runs into one folder leave one last.ckpt and one best-….ckpt per variant, not -v1."""
    for _ in range(2):
        out = _cli("experiment", "run", "ch5_train_neuralnet", *FAST,
                   f"--experiment.out_dir={tmp_path}", cwd=tmp_path)
        assert out.returncode == 0, out.stderr[-3000:]
    names = sorted(p.name for p in (tmp_path / "ch5_train_neuralnet").rglob("*.ckpt"))
    assert len(names) == 2 and "last.ckpt" in names and names[0].startswith("best-"), names


def test_figure_title_counts_the_weight_scales_actually_run():
    exp = ExperimentSettings(name="batch_norm_test", kind="batch_norm",
                             title="ch6.3.3 batch_norm_test: with vs without BN",
                             weight_scales_logspace=[0, -4, 4])
    assert figure_title(exp).endswith("over 4 weight scales")
    assert "over" not in figure_title(ExperimentSettings(name="x", title="ch7.5"))


def test_epoch_ticks_are_whole_epochs():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2)
    a.plot([1], [0.4], "o")
    epoch_axis(a, [1])
    b.plot([1, 2], [0.4, 0.5])
    epoch_axis(b, [1, 2])
    fig.canvas.draw()
    assert list(a.get_xticks()) == [1] and list(b.get_xticks()) == [1, 2]
    plt.close(fig)


def test_missing_data_advice_names_the_command_line_way_first(tmp_path):
    message = ds._how_to_provide("mnist", "train", tmp_path)
    first = message.splitlines()[1]
    assert "`zerotorch download mnist`" in first and "--data.init_args.download=true" in first
    assert "--data.init_args.test_only=true" in message
    assert "`zerotorch download fashion-mnist`" in ds._how_to_provide("fashion-mnist", "test",
                                                                       None)


def test_help_names_every_command_without_markup(tmp_path):
    out = _cli("--help", cwd=tmp_path)
    assert out.returncode == 0
    for command in ("crosscheck", "reproduce", "download", "experiment"):
        assert command in out.stdout
    assert "``" not in out.stdout and "as they land" not in out.stdout
    rp = _cli("reproduce", "--help", cwd=tmp_path).stdout
    assert "ZEROTORCH_BOOK_WEIGHTS" in rp and "ZEROTORCH_MNIST_DIR" in rp
    assert "zerotorch download" in rp


def test_ch5_script_without_data_says_how_and_exits_2(monkeypatch, tmp_path, capsys):
    import importlib

    for var in ("ZEROTORCH_MNIST_DIR", "ZEROTORCH_DATA"):
        monkeypatch.delenv(var, raising=False)
    script = importlib.import_module("experiments.ch5_train_twolayer")
    assert script.main(["--dataset", "mnist", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "mnist train split not found" in err and "--download" in err
    assert "Traceback" not in err and list(tmp_path.iterdir()) == []


def test_lightningclis_own_optimizer_flag_is_refused(tmp_path):
    """LightningCLI's --optimizer would silently replace the book's weight decay on weights
    only; the optimizer is --model.optimizer, so the other flag is an error."""
    out = _cli("experiment", "run", "ch5_train_neuralnet", "--optimizer", "torch.optim.Adam",
               cwd=tmp_path)
    assert out.returncode == 2 and "unrecognized arguments: --optimizer" in out.stderr
