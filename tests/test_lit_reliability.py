"""Reliability of the Lightning platform: faithful resume, bitwise repeatability, NaN stop, DDP."""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import Callback
from torch.utils.data import DataLoader, TensorDataset

from zerotorch._lightning_private import (
    CHECKED_ON,
    LightningInternalsChanged,
    fit_loop_internals,
)
from zerotorch.callbacks import (
    FaithfulResume,
    NonFiniteLossError,
    capture_rng,
    find_generators,
    platform_callbacks,
    restore_rng,
)
from zerotorch.experiments import SyntheticDataModule, run_experiment
from zerotorch.lit import LitClassifier
from zerotorch.networks import MultiLayerNet, MultiLayerNetExtend

REPO = Path(__file__).resolve().parent.parent


def _fit(folder: Path, epochs: int, ckpt: str | None = None, faithful: bool = True,
         own_generator: bool = False, seed: int = 7) -> dict[str, torch.Tensor]:
    """Momentum on a BN + dropout net, shuffled batches; returns parameters and buffers."""
    pl.seed_everything(seed, verbose=False)
    gen = torch.Generator().manual_seed(3) if own_generator else None  # dropout masks from it
    net = MultiLayerNetExtend(784, [32, 32], 10, use_dropout=True, dropout_ratio=0.3,
                              use_batchnorm=True, generator=gen)
    lit = LitClassifier(net, optimizer="Momentum", lr=0.05, experiment="resume-test")
    dm = SyntheticDataModule(train_size=160, val_size=40, test_size=40, batch_size=32,
                             flatten=True, seed=5)
    callbacks = platform_callbacks("resume-test", folder / "ckpt")
    if not faithful:
        callbacks = [c for c in callbacks if not isinstance(c, FaithfulResume)]
    trainer = pl.Trainer(max_epochs=epochs, callbacks=callbacks, logger=False,
                         accelerator="cpu", deterministic=True, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(lit, datamodule=dm, ckpt_path=ckpt)
    return {k: v.detach().clone() for k, v in lit.state_dict().items()}


def _differing(a: dict, b: dict) -> list[str]:
    return [k for k in a if not torch.equal(a[k], b[k])]


@pytest.mark.parametrize("own_generator", [False, True], ids=["global-rng", "own-generator"])
def test_resume_2_plus_2_epochs_equals_4_bitwise(tmp_path, own_generator):
    """Shuffling (the data module's generator) and dropout masks (global RNG or the network's
    own generator) continue after a resume exactly as in an uninterrupted run."""
    straight = _fit(tmp_path / "a", 4, own_generator=own_generator)
    _fit(tmp_path / "b", 2, own_generator=own_generator)
    resumed = _fit(tmp_path / "b", 4, ckpt=str(tmp_path / "b" / "ckpt" / "last.ckpt"),
                   own_generator=own_generator)
    assert _differing(straight, resumed) == []


def test_resume_without_the_callback_is_not_faithful(tmp_path):
    """The control: Lightning alone restores weights and optimizer, not the dropout stream."""
    straight = _fit(tmp_path / "a", 4, faithful=False)
    _fit(tmp_path / "b", 2, faithful=False)
    resumed = _fit(tmp_path / "b", 4, ckpt=str(tmp_path / "b" / "ckpt" / "last.ckpt"),
                   faithful=False)
    assert _differing(straight, resumed), "resume matched without FaithfulResume"


def test_same_seed_gives_bitwise_equal_weights_and_another_seed_does_not(tmp_path):
    a = _fit(tmp_path / "a", 2, seed=11)
    b = _fit(tmp_path / "b", 2, seed=11)
    c = _fit(tmp_path / "c", 2, seed=12)
    assert _differing(a, b) == []
    assert _differing(a, c)


def test_rng_capture_and_restore_cover_every_stream():
    """Python, NumPy, torch and the generators on the model and data module come back."""
    gen = torch.Generator().manual_seed(1)
    net = MultiLayerNetExtend(784, [8], 10, use_dropout=True, generator=gen)
    lit = LitClassifier(net)
    dm = SyntheticDataModule(flatten=True)
    dm.np_rng = np.random.default_rng(4)  # any generator the data module holds is found
    trainer = pl.Trainer(logger=False, enable_progress_bar=False)
    trainer.datamodule = dm  # as fit() would set it
    found = find_generators(trainer, lit)
    assert {"datamodule.train_generator", "datamodule.np_rng"} <= set(found)
    assert any(k.startswith("model.model.layers.Dropout1") for k in found)

    def draw():
        return (random.random(), np.random.rand(), torch.rand(1).item(),  # noqa: NPY002
                torch.rand(1, generator=gen).item(), torch.rand(1, generator=dm.train_generator)
                .item(), dm.np_rng.random())

    state = capture_rng(trainer, lit)
    first = draw()
    restore_rng(state, trainer, lit)
    assert draw() == first


def test_lightning_internals_that_faithful_resume_reads_are_there():
    """FaithfulResume reads two private attributes of Lightning's fit loop: ``_combined_loader``
    (to find a generator held only by the training loader) and ``_data_fetcher`` (to re-create
    the epoch's iterator after restoring). A Lightning release that changes them fails here,
    by name, rather than as a resume that silently stops being bitwise."""
    loader_gen = torch.Generator().manual_seed(0)
    seen = {}

    class Probe(Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            seen["fetcher"] = fit_loop_internals(trainer).data_fetcher
            seen["found"] = find_generators(trainer, pl_module)

    data = TensorDataset(torch.rand(8, 784), torch.randint(0, 10, (8,)))
    loader = DataLoader(data, batch_size=4, shuffle=True, generator=loader_gen)
    trainer = pl.Trainer(max_epochs=1, callbacks=[Probe()], logger=False, accelerator="cpu",
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    trainer.fit(LitClassifier(MultiLayerNet(784, [8], 10)), loader)
    assert seen["fetcher"] is not None
    assert any(g is loader_gen for g in seen["found"].values()), sorted(seen["found"])


def test_lightning_private_attributes_checked_on_2_6_6_are_read_on_a_real_fit():
    """``zerotorch._lightning_private.fit_loop_internals`` is the only reader of Lightning's
    private attributes; they were checked on pytorch_lightning 2.6.6. On a real tiny fit it
    returns the training loader and the data fetcher; without the attributes (another Lightning
    release) it fails naming them, the checked version and the file to update."""
    seen = []

    class Probe(Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            seen.append(fit_loop_internals(trainer))

    data = TensorDataset(torch.rand(8, 784), torch.randint(0, 10, (8,)))
    loader = DataLoader(data, batch_size=4, shuffle=True, generator=torch.Generator())
    trainer = pl.Trainer(max_epochs=2, callbacks=[Probe()], logger=False, accelerator="cpu",
                         enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False)
    assert fit_loop_internals(trainer).train_loaders == []  # before fit: no data set up yet
    trainer.fit(LitClassifier(MultiLayerNet(784, [8], 10)), loader)
    assert len(seen) == 2
    for internals in seen:
        assert [type(x) for x in internals.train_loaders] == [DataLoader]
        assert internals.train_loaders[0].dataset is data
        assert internals.data_fetcher is not None
    expected = (rf"(?s)_combined_loader.*_data_fetcher.*checked on {re.escape(CHECKED_ON)}"
                r".*_lightning_private")
    with pytest.raises(LightningInternalsChanged, match=expected):
        fit_loop_internals(SimpleNamespace(fit_loop=object()))


def _write_config(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body))
    return path


NAN_CONFIG = """
    seed_everything: 3
    experiment: {name: nan_demo, kind: train, checkpoints: false, test: false, out_dir: OUT}
    model:
      model:
        class_path: zerotorch.networks.MultiLayerNet
        init_args: {input_size: 784, hidden_size_list: [100, 100, 100, 100], output_size: 10}
      optimizer: SGD
      lr: 10.0
    data:
      class_path: zerotorch.experiments.SyntheticDataModule
      init_args: {flatten: true, train_size: 1000, batch_size: 100, seed: 1}
    trainer: {accelerator: cpu, deterministic: true, max_epochs: 3, enable_model_summary: false}
"""


def test_nan_loss_stops_with_the_step_and_experiment_named(tmp_path):
    """SGD lr 10 on the ch6 5-layer net overflows within a few updates (the ch4/ch5 two-layer
    nets with lr 10 do not: their loss stays finite, ~2.39, with dead/saturated units)."""
    cfg = _write_config(tmp_path / "nan.yaml", NAN_CONFIG.replace("OUT", str(tmp_path)))
    with pytest.raises(NonFiniteLossError) as info:
        run_experiment(str(cfg), ["--trainer.enable_progress_bar=false"])
    message = str(info.value)
    assert "'nan_demo/main'" in message and f"at step {info.value.step} " in message
    assert 1 < info.value.step < 30 and "SGD" in message and "lr=10.0" in message
    assert not np.isfinite(info.value.value)


def test_nan_in_one_variant_is_recorded_and_the_others_finish(tmp_path):
    body = NAN_CONFIG.replace("OUT", str(tmp_path)).replace(
        "kind: train,", "kind: compare, figure: loss, variants: {ok: {model.lr: 0.01}, "
        "bad: {model.lr: 10.0}},")
    cfg = _write_config(tmp_path / "cmp.yaml", body)
    summary = run_experiment(str(cfg), ["--trainer.max_epochs=1"])
    by = {r["variant"]: r for r in summary["variants"]}
    assert by["ok"]["diverged"] is None and by["ok"]["steps"] == 10
    assert "nan_demo/bad" in by["bad"]["diverged"] and by["bad"]["diverged_step"] > 1
    assert "diverged" in summary["headline"]["text"]


def test_cli_prints_the_nan_message_and_exits_3(tmp_path, capsys):
    from zerotorch.cli import main

    cfg = _write_config(tmp_path / "nan.yaml", NAN_CONFIG.replace("OUT", str(tmp_path)))
    assert main(["experiment", "run", str(cfg)]) == 3
    assert "training loss is" in capsys.readouterr().out


DDP_CONFIG = """
    seed_everything: 5
    experiment: {name: ddp_demo, kind: train, out_dir: OUT, train_eval_size: 64}
    model:
      model:
        class_path: zerotorch.networks.MultiLayerNet
        init_args: {input_size: 784, hidden_size_list: [32], output_size: 10}
      optimizer: Adam
      lr: 0.001
    data:
      class_path: zerotorch.experiments.SyntheticDataModule
      init_args: {flatten: true, train_size: 256, val_size: 64, test_size: 64, batch_size: 32}
    trainer: {accelerator: cpu, devices: 2, strategy: ddp, deterministic: true, max_epochs: 2}
"""


@pytest.mark.slow
def test_ddp_two_cpu_processes_train_and_log_identical_keys(tmp_path):
    """`zerotorch experiment run` under DDP (gloo, 2 processes): both ranks train the same number
    of steps and log the same metric keys with the same (synchronised) validation values."""
    cfg = _write_config(tmp_path / "ddp.yaml", DDP_CONFIG.replace("OUT", str(tmp_path)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "zerotorch", "experiment", "run", str(cfg)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ranks = tmp_path / "ddp_demo" / "ranks"
    deadline = time.time() + 30  # rank 1 is a separate process: let it finish writing
    while len(list(ranks.glob("*.json"))) < 2 and time.time() < deadline:
        time.sleep(0.5)
    logs = [json.loads(p.read_text()) for p in sorted(ranks.glob("main-rank*.json"))]
    assert [r["rank"] for r in logs] == [0, 1] and all(r["world_size"] == 2 for r in logs)
    assert logs[0]["metrics"].keys() == logs[1]["metrics"].keys()
    assert {"val_acc", "val_loss", "test_acc", "train_loss_epoch"} <= logs[0]["metrics"].keys()
    assert logs[0]["steps"] == logs[1]["steps"] == 2 * 256 // (2 * 32)  # each rank: half
    for key in ("val_acc", "val_loss", "test_acc"):
        assert logs[0]["metrics"][key] == logs[1]["metrics"][key], key
    summary = json.loads((tmp_path / "ddp_demo" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["headline"]["value"] > 0.2
