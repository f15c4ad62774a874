"""Experiments under faults: a kill -9, a full disk, a corrupt checkpoint, two runs at once, a
broken summary, settings that cannot run. Nothing is lost; every refusal says why (exit 2)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from zerotorch.callbacks import AtomicCheckpointIO
from zerotorch.experiments import main, run_experiment

ROOT = Path(__file__).resolve().parent.parent
CONFIG = """
seed_everything: 4
experiment: {name: demo, kind: compare, figure: accuracy, train_eval_size: 64,
  variants: {sgd: {model.optimizer: SGD}, adam: {model.optimizer: Adam, model.lr: 0.001}}}
model:
  model:
    class_path: zerotorch.networks.MultiLayerNetExtend
    init_args: {input_size: 784, hidden_size_list: [32], output_size: 10, use_dropout: true,
                dropout_ratio: 0.3}
  lr: 0.05
data:
  class_path: zerotorch.experiments.SyntheticDataModule
  init_args: {flatten: true, train_size: 256, val_size: 64, test_size: 64, batch_size: 16}
trainer: {accelerator: cpu, deterministic: true, enable_progress_bar: false}
"""


@pytest.fixture
def config(tmp_path) -> Path:
    path = tmp_path / "demo.yaml"
    path.write_text(CONFIG)
    return path


def _run(config: Path, out: Path, *args: str) -> int:
    return main(["run", str(config), f"--experiment.out_dir={out}", *args])


def _weights(ckpt: Path) -> dict:
    return torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]


def test_kill_9_then_resume_gives_the_uninterrupted_weights_and_summary(tmp_path, config):
    """The run is killed (SIGKILL) after its first checkpoint, mid-training; `--resume=true`
    then ends with the same weights, curves, batches and figure as a run never interrupted."""
    epochs = "--trainer.max_epochs=6"
    straight = run_experiment(str(config), [epochs, f"--experiment.out_dir={tmp_path / 'a'}"])
    out = tmp_path / "b"
    code = ("import sys; from zerotorch.experiments import main; "
            "sys.exit(main(['run', sys.argv[1], sys.argv[2], sys.argv[3]]))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(config), epochs,
                             f"--experiment.out_dir={out}"], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = out / "demo" / "checkpoints" / "sgd" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert (out / "demo" / ".lock").exists()  # a killed run leaves its lock behind …
    assert not (out / "demo" / "summary.json").exists()
    resumed = run_experiment(str(config), [epochs, "--resume=true",  # … which is taken over
                                           f"--experiment.out_dir={out}"])
    for a, b in zip(straight["variants"], resumed["variants"], strict=True):
        for key in ("epochs", "val_loss", "val_acc", "train_eval_acc", "step_loss", "steps",
                    "batch_digest", "test_acc"):
            assert b[key] == a[key], (b["variant"], key)
        wa = _weights(tmp_path / "a" / "demo" / "checkpoints" / a["variant"] / "last.ckpt")
        wb = _weights(out / "demo" / "checkpoints" / b["variant"] / "last.ckpt")
        assert wa.keys() == wb.keys() and all(torch.equal(wa[k], wb[k]) for k in wa)
    assert resumed["headline"] == straight["headline"] and "sgd" in resumed["resumed"]
    assert not (out / "demo" / ".lock").exists()
    assert not list(out.rglob("*.part"))  # no temp file survived


def test_resume_flag_continues_every_variant_bitwise(tmp_path, config):
    """`--resume=true` continues each variant from its last.ckpt: the resumed run's summary
    equals the uninterrupted one's, to the bit (dropout on, shuffled batches), from epoch 1: the
    curves' history travels in the checkpoint."""
    small = ["--data.init_args.train_size=128", "--data.init_args.batch_size=32"]
    straight = run_experiment(str(config), [*small, "--trainer.max_epochs=4",
                                            f"--experiment.out_dir={tmp_path / 'a'}"])
    run_experiment(str(config), [*small, "--trainer.max_epochs=2",
                                 f"--experiment.out_dir={tmp_path / 'b'}"])
    resumed = run_experiment(str(config), [*small, "--trainer.max_epochs=4", "--resume=true",
                                           f"--experiment.out_dir={tmp_path / 'b'}"])
    for a, b in zip(straight["variants"], resumed["variants"], strict=True):
        assert b["resumed_from"].endswith(f"{b['variant']}/last.ckpt")
        assert b["epochs"] == a["epochs"] == [1, 2, 3, 4]
        assert b["steps"] == a["steps"] == 16 and b["test_acc"] == a["test_acc"]
        for key in ("val_loss", "val_acc", "train_eval_acc", "step_loss", "batch_digest"):
            assert b[key] == a[key], key
    assert resumed["resumed"] == ["sgd", "adam"] and straight["resumed"] == []


def test_a_failed_checkpoint_write_leaves_the_previous_one_whole(tmp_path, monkeypatch):
    target = tmp_path / "last.ckpt"
    io = AtomicCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}}, target)
    before = target.read_bytes()

    def full_disk(obj, fh):
        fh.write(b"half a checkpoint")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch, "save", full_disk)
    with pytest.raises(OSError, match="No space left"):
        io.save_checkpoint({"state_dict": {"w": torch.zeros(3)}}, target)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.ckpt"]


def test_a_corrupt_checkpoint_is_named_and_the_run_refused(tmp_path, config, capsys):
    assert _run(config, tmp_path, "--trainer.max_epochs=1") == 0
    ckpt = tmp_path / "demo" / "checkpoints" / "adam" / "last.ckpt"
    ckpt.write_bytes(ckpt.read_bytes()[:100])  # truncated, as a kill during a plain write
    capsys.readouterr()
    assert _run(config, tmp_path, "--trainer.max_epochs=2", "--resume=true") == 2
    out = capsys.readouterr().out
    assert str(ckpt) in out and "cannot be read" in out and "--resume=true" in out


def test_resume_without_a_checkpoint_says_so(tmp_path, config, capsys):
    assert _run(config, tmp_path, "--trainer.max_epochs=1", "--resume=true") == 2
    assert "nothing to resume" in capsys.readouterr().out
    assert _run(config, tmp_path, "--trainer.max_epochs=1", "--resume=true",
                "--experiment.checkpoints=false") == 2
    assert "writes no checkpoints" in capsys.readouterr().out


def test_resuming_a_finished_run_keeps_its_results(tmp_path, config):
    first = run_experiment(str(config), ["--trainer.max_epochs=2",
                                         f"--experiment.out_dir={tmp_path}"])
    again = run_experiment(str(config), ["--trainer.max_epochs=2", "--resume=true",
                                         f"--experiment.out_dir={tmp_path}"])
    for a, b in zip(first["variants"], again["variants"], strict=True):
        assert b["epochs"] == a["epochs"] == [1, 2] and b["step_loss"] == a["step_loss"]
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text())
    assert summary["headline"] == first["headline"]


def test_a_second_run_into_the_same_folder_is_refused(tmp_path, config, capsys):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "demo").mkdir()
        (tmp_path / "demo" / ".lock").write_text(str(holder.pid))
        assert _run(config, tmp_path, "--trainer.max_epochs=1") == 2
        assert f"another run (pid {holder.pid}) is writing" in capsys.readouterr().out
        assert not (tmp_path / "demo" / "summary.json").exists()
    finally:
        holder.kill()
        holder.wait()
    assert _run(config, tmp_path, "--trainer.max_epochs=1") == 0  # stale lock: taken over
    assert not (tmp_path / "demo" / ".lock").exists()


def test_results_name_and_skip_a_broken_summary(tmp_path, config, capsys):
    assert _run(config, tmp_path, "--trainer.max_epochs=1") == 0
    broken = tmp_path / "cut_short" / "summary.json"
    broken.parent.mkdir()
    broken.write_text('{"experiment": "cut_short", "headl')
    capsys.readouterr()
    assert main(["results", f"--root={tmp_path}"]) == 0
    captured = capsys.readouterr()
    assert "| demo |" in captured.out and "cut_short" not in captured.out
    assert f"skipped {broken}: JSONDecodeError" in captured.err


@pytest.mark.parametrize(("override", "message"), [
    ("--data.init_args.train_size=0", "train_size must be >= 1 or None, got 0"),
    ("--data.init_args.dataset=bogus", "unknown dataset 'bogus'"),
    ("--model.optimizer=Bogus", "unknown optimizer 'Bogus'"),
])
def test_settings_that_cannot_run_exit_2_with_the_reason(tmp_path, capsys, override, message):
    """Values of the right type that cannot run: one line naming the setting, exit 2 (these
    fail before any data is read)."""
    assert main(["run", "ch5_train_neuralnet", override,
                 f"--experiment.out_dir={tmp_path}"]) == 2
    out = capsys.readouterr().out
    assert message in out and "Traceback" not in out and len(out.splitlines()) == 1


def test_the_synthetic_data_refuses_an_empty_training_set(tmp_path, config, capsys):
    assert _run(config, tmp_path, "--trainer.max_epochs=1", "--data.init_args.train_size=0") == 2
    assert "train_size must be >= 1, got 0" in capsys.readouterr().out


@pytest.mark.parametrize("target", ["demo.png", "summary.json"])
def test_the_figure_and_summary_are_written_atomically(tmp_path, config, monkeypatch, target):
    """A failure while an output is written (the rename of the finished temp file fails, as on a
    full disk) leaves the previous file whole and no temp file behind."""
    assert _run(config, tmp_path, "--trainer.max_epochs=1") == 0
    path = tmp_path / "demo" / target
    before = path.read_bytes()
    real_replace = os.replace

    def full_disk(src, dst):
        if Path(dst) == path:
            raise OSError(28, "No space left on device")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(OSError, match="No space left"):
        run_experiment(str(config), ["--trainer.max_epochs=2", "--experiment.checkpoints=false",
                                     f"--experiment.out_dir={tmp_path}"])
    assert path.read_bytes() == before
    assert not list(path.parent.glob(".*.part"))
    assert not (path.parent / ".lock").exists()
