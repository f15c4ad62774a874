"""The ``--impl`` sandbox holds: one worker per concept, a memory cap, its own process group, a
temporary working directory, and a hanging import detected once.

Each reader's file here is a few hand-written lines, generated into the test's folder.
"""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import pytest

from zerotorch.crosscheck.impl.user import check_impl
from zerotorch.crosscheck.runner import exit_status

pytestmark = pytest.mark.skipif(os.name != "posix", reason="process groups and rlimits: POSIX")

GOOD_SOFTMAX = """
import numpy as np

def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)
"""

GOOD_AFFINE = """
class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.shape = x.shape
        self.x = x.reshape(x.shape[0], -1)
        return self.x @ self.W + self.b{offset}

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return (dout @ self.W.T).reshape(self.shape)
"""


def _write(folder: Path, name: str, code: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(code))
    return path


def _by_name(rows):
    return {r.name: r for r in rows}


def test_a_monkeypatch_in_one_concept_cannot_forge_another_verdict(tmp_path):
    """softmax's code makes every NumPy difference look like zero; the wrong Affine after it
    (forward off by 1.0) must still FAIL, because it runs in a fresh worker."""
    code = GOOD_SOFTMAX.replace("def softmax(x):", "def softmax(x):\n    np.abs = np.zeros_like"
                                "\n    np.isclose = lambda *a, **k: np.ones(np.shape(a[0]), bool)"
                                "\n    np.allclose = lambda *a, **k: True")
    file = _write(tmp_path, "mine.py", code + GOOD_AFFINE.format(offset=" + 1.0"))
    rows = _by_name(check_impl(str(file), only=["functions.softmax", "layers.Affine"],
                               timeout=60))
    assert rows["layers.Affine"].status == "FAIL"
    assert rows["layers.Affine"].first_failure().name == "forward"


def test_memory_beyond_the_limit_is_an_error_row_saying_so(tmp_path):
    code = GOOD_SOFTMAX.replace("def softmax(x):", "def softmax(x):\n    np.ones(3 * 2**30 // 8)")
    file = _write(tmp_path, "hungry.py", code)
    rows = _by_name(check_impl(str(file), only=["functions.softmax"], timeout=60, memory_gb=1))
    row = rows["functions.softmax"]
    assert row.status == "ERROR"
    assert row.error.startswith("used more than 1 GB (--memory 1)"), row.error
    assert "hungry.py" in row.error and "np.ones" in row.error
    # without the limit the same 3 GB fits on this machine: the limit made the difference
    assert _by_name(check_impl(str(file), only=["functions.softmax"], timeout=60,
                               memory_gb=None))["functions.softmax"].status == "PASS"


def test_children_die_with_the_worker_and_cannot_kill_the_report(tmp_path):
    pid_file = tmp_path / "child.pid"
    code = GOOD_SOFTMAX + f"""
import os, signal, subprocess

class Relu:
    def forward(self, x):
        child = subprocess.Popen(["sleep", "300"])
        open({str(pid_file)!r}, "w").write(str(child.pid))
        self.mask = x <= 0
        return np.maximum(x, 0)

    def backward(self, dout):
        os.killpg(0, signal.SIGKILL)  # would kill the report if it shared the group
"""
    file = _write(tmp_path / "impl", "mine.py", code)
    rows = _by_name(check_impl(str(file), only=["layers.Relu", "functions.softmax"], timeout=60))
    assert rows["layers.Relu"].status == "ERROR"
    assert "SIGKILL" in rows["layers.Relu"].error
    assert rows["functions.softmax"].status == "PASS"  # the report went on
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    assert not _alive(pid), f"the reader's child {pid} outlived the report"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie is dead, waiting for init to reap it


def test_files_written_by_the_code_land_in_a_temporary_folder(tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    code = GOOD_SOFTMAX.replace("def softmax(x):", "def softmax(x):\n    open('params.pkl', 'w')"
                                ".write('x')")
    file = _write(tmp_path / "impl", "mine.py", code)
    rows = _by_name(check_impl(str(file), only=["functions.softmax"], timeout=60))
    assert rows["functions.softmax"].status == "PASS"
    assert list(here.iterdir()) == []
    assert not (file.parent / "params.pkl").exists()


def test_a_hanging_import_is_tried_once_and_is_one_row(tmp_path):
    folder = tmp_path / "common"
    tries = tmp_path / "tries.txt"
    _write(folder, "functions.py", GOOD_SOFTMAX)
    _write(folder, "layers.py", f"import time\nopen({str(tries)!r}, 'a').write('x')\n\n"
           "while True:\n    time.sleep(0.01)\n\n\nclass Relu:\n    pass\n\n\n"
           "class Sigmoid:\n    pass\n\n\nclass Affine:\n    pass\n")
    only = ["functions.softmax", "layers.Relu", "layers.Sigmoid", "layers.Affine"]
    timeout = 4.0
    rows = check_impl(str(folder), only=only, timeout=timeout)
    by = _by_name(rows)
    hung = by["import layers.py"]
    assert hung.status == "ERROR" and f"within {timeout:g} s" in hung.error
    assert "layers.py:5" in hung.error or "layers.py:4" in hung.error, hung.error
    assert hung.diagnosis == "blocks 3 concepts: layers.Relu, layers.Sigmoid, layers.Affine"
    assert [by[n].status for n in only] == ["PASS", "BLOCKED", "BLOCKED", "BLOCKED"]
    assert tries.read_text() == "x"  # imported once, not once per concept
    assert exit_status(rows) == 1
