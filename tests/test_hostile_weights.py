"""Hostile and broken weight files: nothing runs, nothing takes unbounded time or memory, every
refusal names the file. Every file is generated here, never committed.

Memory is asserted (under 20 MB of peak traced memory where a naive loader reaches gigabytes;
tracemalloc sees NumPy's allocations); time is not (``benchmarks/hostile_weights.py`` measures
it), except that the exponential memo DAG must finish at all: it runs in a child process that
is given a minute, where the unbounded walk needed ~2**60 steps.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from benchmarks.hostile_weights import NDARRAY_CALL, RECONSTRUCT, SELF_REFERENCE, memo_dag, npz_bomb
from scratch.io import MAX_BYTES, CorruptWeightsError, UnsafePickleError, load_params

ROOT = Path(__file__).resolve().parent.parent
PEAK_BYTES = 20 * 2**20


def _bounded(path: Path, **kwargs):
    """Load ``path``; return (result or exception, peak traced bytes)."""
    tracemalloc.start()
    try:
        outcome = load_params(path, **kwargs)
    except Exception as exc:  # noqa: BLE001  (the test inspects what was raised)
        outcome = exc
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, peak


def test_a_memo_dag_loads_instead_of_running_forever(tmp_path):
    path = tmp_path / "dag.pkl"
    path.write_bytes(memo_dag(60))
    assert path.stat().st_size < 1200  # about the 1,164 bytes of the report
    code = ("import sys; from scratch.io import load_params; "
            "print(sorted(load_params(sys.argv[1])))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                         text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "['W']", out.stderr
    outcome, peak = _bounded(path)
    assert isinstance(outcome, dict) and peak < PEAK_BYTES


def test_calling_ndarray_directly_cannot_allocate(tmp_path):
    """numpy.ndarray((10**9,)) would be an uninitialised 8 GB array from 44 bytes."""
    path = tmp_path / "alloc.pkl"
    path.write_bytes(NDARRAY_CALL)
    outcome, peak = _bounded(path)
    assert isinstance(outcome, UnsafePickleError) and "ndarray(...) called directly" in str(
        outcome)
    assert peak < PEAK_BYTES


def test_reconstruct_without_data_cannot_allocate(tmp_path):
    """_reconstruct(ndarray, (10**9,), b'b') with no BUILD: an uninitialised gigabyte."""
    path = tmp_path / "recon.pkl"
    path.write_bytes(RECONSTRUCT)
    outcome, peak = _bounded(path)
    assert isinstance(outcome, UnsafePickleError) and "not in the file" in str(outcome)
    assert str(path) in str(outcome) or "_reconstruct" in str(outcome)
    assert peak < PEAK_BYTES


def test_an_npz_bomb_is_refused_by_its_declared_size(tmp_path):
    """A member that would decompress to more than max_bytes is refused before reading."""
    path = npz_bomb(tmp_path / "bomb.npz", megabytes=32)  # float64 zeros, KB compressed
    assert path.stat().st_size < 100_000
    outcome, peak = _bounded(path, max_bytes=8 * 2**20)
    assert isinstance(outcome, CorruptWeightsError) and "would decompress to" in str(outcome)
    assert str(path) in str(outcome) and peak < PEAK_BYTES
    assert load_params(path)["W"].shape == (4 * 2**20,)  # within the default cap it loads


def test_a_file_larger_than_the_cap_is_refused_unread(tmp_path):
    path = tmp_path / "big.pkl"
    with open(path, "wb") as fh:
        fh.truncate(MAX_BYTES + 1)  # sparse: no disk used
    outcome, _ = _bounded(path)
    assert isinstance(outcome, CorruptWeightsError) and "more than the" in str(outcome)


@pytest.mark.parametrize(("content", "message"), [
    (b"", "the file is empty"),
    (pickle.dumps({"W": np.ones(3)})[:-9], "not a valid weights pickle"),
    (b"this is not a pickle", "not a valid weights pickle"),
    (b"\x80\x02" + b"(" * 100_000 + b"l" * 100_000 + b".", "more than 100,000 pickle opera"),
    (b"\x80\x02(" + b"]" * 200_000 + b"l.", "more than 100,000 pickle operations"),
    (b"\x80\x02\xff", "not a valid weights pickle"),
    (pickle.dumps([np.ones(2)]), "expected a dict of parameters, got list"),
    (pickle.dumps({"W": np.array(["a", "b"])}), "has dtype <U1"),
    (pickle.dumps({"W": np.ones(2, complex)}), "has dtype complex128"),
])
def test_broken_files_name_the_file_and_the_problem(tmp_path, content, message):
    path = tmp_path / "weights.pkl"
    path.write_bytes(content)
    outcome, peak = _bounded(path)
    assert isinstance(outcome, CorruptWeightsError), outcome
    assert str(path) in str(outcome) and message in str(outcome)
    assert peak < PEAK_BYTES


def test_a_self_referential_pickle_loads(tmp_path):
    path = tmp_path / "self.pkl"
    path.write_bytes(SELF_REFERENCE)
    outcome, _ = _bounded(path)
    assert isinstance(outcome, dict) and outcome["W"][0] is outcome["W"]


def test_self_reference_and_deep_nesting_are_walked_without_recursion(tmp_path):
    loop = []
    loop.append(loop)
    deep: list = []
    for _ in range(20_000):
        deep = [deep]
    path = tmp_path / "odd.pkl"
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 50_000))  # pickle.dumps needs it
    path.write_bytes(pickle.dumps({"loop": loop, "deep": deep, "W": np.ones(2)}))
    outcome, _ = _bounded(path)
    assert isinstance(outcome, dict) and outcome["loop"][0] is outcome["loop"]


def test_reproduce_prints_the_rows_it_could_compute_names_the_broken_file_and_exits_2(
        tmp_path, book_weights, mnist_dir):
    folder = tmp_path / "weights"
    folder.mkdir()
    os.symlink(book_weights / "sample_weight.pkl", folder / "sample_weight.pkl")
    (folder / "simple_convnet.pkl").write_bytes(memo_dag(5)[:-3])  # truncated
    env = {**os.environ, "ZEROTORCH_BOOK_WEIGHTS": str(folder),
           "ZEROTORCH_MNIST_DIR": str(mnist_dir), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    out = subprocess.run([sys.executable, "-m", "zerotorch", "reproduce", "--json"],
                         capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert out.returncode == 2, out.stdout + out.stderr
    records = {r["file"]: r for r in json.loads(out.stdout)}
    assert records["sample_weight.pkl"]["accuracy_scratch"] == 0.9352
    assert "not a valid weights pickle" in records["simple_convnet.pkl"]["error"]
    assert str(folder / "simple_convnet.pkl") in records["simple_convnet.pkl"]["error"]
    assert "Traceback" not in out.stderr


def test_a_gzip_bomb_idx_file_is_refused_after_a_bounded_read(tmp_path, monkeypatch):
    """With verify=False nothing checks the md5: the decompressed size is bounded instead."""
    import gzip

    from scratch import dataset as ds

    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    with gzip.open(path, "wb", compresslevel=1) as fh:
        fh.write(np.array([2051, 10**6, 28, 28], dtype=">u4").tobytes())
        zero = bytes(2**20)
        for _ in range(40):  # 40 MB of zeros, a few KB on disk
            fh.write(zero)
    monkeypatch.setattr(ds, "MAX_IDX_BYTES", 16 * 2**20)
    tracemalloc.start()
    with pytest.raises(ds.CorruptDatasetError, match="decompresses to more than"):
        ds.read_idx(path, "images")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 40 * 2**20  # the bound (16 MB + a read buffer), not the 40 MB inside
