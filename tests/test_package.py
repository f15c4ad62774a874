"""Packaging contracts: scratch runs on NumPy alone, the CLI works, the code is ruff-clean."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRATCH_MODULES = ["functions", "gradient", "layers", "optimizer", "util", "networks",
                   "trainer", "dataset", "io"]


def test_scratch_imports_and_runs_with_torch_blocked():
    code = f"""
import importlib, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'torchvision', 'pytorch_lightning', 'lightning'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import numpy as np
mods = [importlib.import_module('scratch.' + m) for m in {SCRATCH_MODULES!r}]
from scratch.layers import Affine
a = Affine(np.ones((3, 2)), np.zeros(2))
assert a.forward(np.ones((4, 3))).shape == (4, 2)
print(len(mods))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == len(SCRATCH_MODULES)


def _cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "zerotorch", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=600)


def test_crosscheck_cli_table_and_exit_status():
    env = {k: v for k, v in os.environ.items() if k != "ZEROTORCH_BOOK_WEIGHTS"}
    out = _cli("crosscheck", "--only", "layers.Affine", "--only", "functions", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "layers.Affine" in out.stdout and "functions.softmax" in out.stdout
    assert "concepts:" in out.stdout and "0 fail" in out.stdout


def test_crosscheck_cli_json():
    out = _cli("crosscheck", "--json", "--only", "layers.Affine")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    (affine,) = report["concepts"]
    assert affine["status"] == "PASS"
    assert {s["name"] for s in affine["stages"]} >= {"forward", "dx", "dW", "db"}


def test_crosscheck_cli_unknown_concept_is_an_error():
    out = _cli("crosscheck", "--only", "layers.NoSuchLayer")
    assert out.returncode == 2 and "unknown concept" in out.stderr


def test_ruff_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    out = subprocess.run([ruff, "check", str(ROOT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout


def test_reproduce_cli_json_record_for_the_ch3_weights(mnist_dir, book_weights):
    env = {**os.environ, "ZEROTORCH_MNIST_DIR": str(mnist_dir),
           "ZEROTORCH_BOOK_WEIGHTS": str(book_weights)}
    out = _cli("reproduce", "--json", "sample_weight.pkl", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    (record,) = json.loads(out.stdout)
    assert record["file"] == "sample_weight.pkl" and record["images"] == 10_000
    assert record["accuracy_scratch"] == record["accuracy_zerotorch"] == 0.9352
    assert record["disagreements"] == 0


def test_reproduce_cli_says_what_is_missing(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ZEROTORCH_BOOK_WEIGHTS"}
    out = _cli("reproduce", env=env)
    assert out.returncode == 2 and "no weight files found" in out.stdout
    assert "zerotorch download weights" in out.stdout
    out = _cli("reproduce", env={**env, "ZEROTORCH_BOOK_WEIGHTS": str(tmp_path / "nowhere")})
    assert out.returncode == 2 and str(tmp_path / "nowhere") in out.stdout
    out = _cli("reproduce", "no_such.pkl", env=env)
    assert out.returncode == 2 and "unknown weights file" in out.stdout
    empty = {k: v for k, v in env.items() if not k.startswith("ZEROTORCH_")}
    empty.update(ZEROTORCH_BOOK_WEIGHTS=str(tmp_path), ZEROTORCH_DATA=str(tmp_path / "data"),
                 XDG_CACHE_HOME=str(tmp_path / "cache"), HOME=str(tmp_path))
    (tmp_path / "sample_weight.pkl").write_bytes(b"not needed: MNIST is looked for first")
    out = _cli("reproduce", env=empty)
    assert out.returncode == 2 and "MNIST test set not found" in out.stdout


def test_crosscheck_without_weights_says_the_reproduction_was_skipped():
    env = {k: v for k, v in os.environ.items() if k != "ZEROTORCH_BOOK_WEIGHTS"}
    out = _cli("crosscheck", env=env)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr
    assert "book-weight reproduction skipped: no weight files found" in out.stdout
