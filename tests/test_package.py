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
