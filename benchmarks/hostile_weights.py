"""The weight loader against hostile files: time and peak memory of ``scratch.io.load_params``.

    python -m benchmarks.hostile_weights

Each file is generated here (never stored): a memo DAG (each level references the previous twice,
2**60 paths in 1.2 KB), a direct ``numpy.ndarray((10**9,))`` call, ``_reconstruct`` of a
gigabyte with no data, an ``.npz`` member declaring 32 MB of zeros (5 KB compressed, refused
under a 8 MB cap), a 100,000-deep nested list, a million empty lists (32 MB of objects from
1 MB), a self-referential list, and, for scale, the
book's largest real file when ``ZEROTORCH_BOOK_WEIGHTS`` is set. Peak memory is what
tracemalloc sees (NumPy's allocations included). ``tests/test_hostile_weights.py`` uses the same
generators and asserts the memory bound; this prints the figures, one process, one thread.
"""

from __future__ import annotations

import os

if __name__ == "__main__":
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[_var] = "1"

import pickle  # noqa: E402
import struct  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
import zipfile  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def _binput(i: int) -> bytes:
    return b"q" + bytes([i]) if i < 256 else b"r" + struct.pack("<I", i)


def _binget(i: int) -> bytes:
    return b"h" + bytes([i]) if i < 256 else b"j" + struct.pack("<I", i)


def global_ref(module: str, name: str) -> bytes:
    """The GLOBAL opcode naming ``module.name``."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def memo_dag(depth: int) -> bytes:
    """{'W': L_depth} where L_i = [L_{i−1}, L_{i−1}] by memo reference: 2**depth paths."""
    out = [b"\x80\x02", b"]", _binput(0)]
    for i in range(1, depth + 1):
        out += [b"]", b"(", _binget(i - 1), _binget(i - 1), b"e", _binput(i)]
    out += [b"}", b"X\x01\x00\x00\x00W", _binget(depth), b"s."]
    return b"".join(out)


# numpy.ndarray((10**9,)) called directly: an uninitialised 8 GB array from 44 bytes.
NDARRAY_CALL = (b"\x80\x02" + global_ref("numpy", "ndarray") + b"J\x00\xca\x9a;\x85R}q\x00X"
                b"\x01\x00\x00\x00Wq\x01h\x00s.")
# {'W': _reconstruct(ndarray, (10**9,), b'b')} with no BUILD: a gigabyte the file does not hold.
RECONSTRUCT = (b"\x80\x02}X\x01\x00\x00\x00W" + global_ref("numpy._core.multiarray", "_reconstruct")
               + global_ref("numpy", "ndarray") + b"J\x00\xca\x9a;\x85C\x01b\x87Rs.")


def npz_bomb(path: Path, megabytes: int = 32) -> Path:
    """An .npz whose one member declares ``megabytes`` of float64 zeros (deflated to KB)."""
    header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
    header["shape"] = (megabytes * 2**20 // 8,)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("W.npy", "w") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        zero = bytes(2**20)
        for _ in range(megabytes):
            fh.write(zero)
    return path


def deep_list(depth: int) -> bytes:
    """A list nested ``depth`` deep, as MARK…LIST opcodes (no recursion needed to write it)."""
    return b"\x80\x02}X\x01\x00\x00\x00W" + b"(" * depth + b"l" * depth + b"s."


SELF_REFERENCE = b"\x80\x02}X\x01\x00\x00\x00W]q\x00h\x00as."  # {'W': L} with L = [L]


def files(folder: Path) -> dict[str, tuple[Path, dict]]:
    """name → (path, load_params kwargs) of every hostile file, written into ``folder``."""
    out = {}
    for name, data in (("memo DAG, depth 60", memo_dag(60)), ("ndarray((10**9,))", NDARRAY_CALL),
                       ("_reconstruct, no data", RECONSTRUCT),
                       ("nested 100,000 deep", deep_list(100_000)),
                       ("a million empty lists", b"\x80\x02}X\x01\x00\x00\x00W(" + b"]" * 10**6
                        + b"ls."),
                       ("self-referential list", SELF_REFERENCE)):
        path = folder / f"{len(out)}.pkl"
        path.write_bytes(data)
        out[name] = (path, {})
    out["npz bomb, 32 MB declared, 8 MB cap"] = (npz_bomb(folder / "bomb.npz"),
                                                 {"max_bytes": 8 * 2**20})
    weights = os.environ.get("ZEROTORCH_BOOK_WEIGHTS")
    if weights and (Path(weights) / "simple_convnet.pkl").is_file():
        out["the book's simple_convnet.pkl"] = (Path(weights) / "simple_convnet.pkl", {})
    return out


def _load(path: Path, **kwargs) -> str:
    from scratch.io import load_params

    try:
        load_params(path, **kwargs)
        return "loaded"
    except Exception as exc:  # noqa: BLE001  (the outcome is the point)
        return type(exc).__name__


def measure(path: Path, **kwargs) -> tuple[str, float, int]:
    """(outcome, seconds, peak traced bytes): the time of an untraced call (best of 3), the
    memory of a traced one (tracing slows Python ~10×)."""
    seconds = []
    for _ in range(3):
        t0 = time.perf_counter()
        outcome = _load(path, **kwargs)
        seconds.append(time.perf_counter() - t0)
    tracemalloc.start()
    _load(path, **kwargs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, min(seconds), peak


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for name, (path, kwargs) in files(Path(tmp)).items():
            outcome, seconds, peak = measure(path, **kwargs)
            rows.append((name, f"{path.stat().st_size:,} B", outcome, f"{seconds * 1e3:.1f} ms",
                         f"{peak / 2**20:.2f} MB"))
    head = ("file", "size", "outcome", "time", "peak memory")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
    print(f"(pickle {pickle.format_version}, NumPy {np.__version__})")


if __name__ == "__main__":
    main()
