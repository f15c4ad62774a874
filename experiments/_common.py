"""What the chapter scripts share: command-line options, the output folder, book weights, data.

Each script builds its parser with ``parser(__doc__)`` and the options below, so ``--out``,
``--seed``, ``--weights`` and ``--limit`` mean the same everywhere; ``book_weights`` and
``mnist_test`` load the inputs, saying on stderr what to set when they are missing, and
``write_json`` writes the numbers beside the figures (atomically).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

OUT_DIR = Path(__file__).resolve().parent / "out"  # experiments/out/


def parser(doc: str) -> argparse.ArgumentParser:
    """A parser described by the first line of the script's docstring."""
    return argparse.ArgumentParser(description=doc.splitlines()[0])


def add_out_file(ap: argparse.ArgumentParser, name: str) -> None:
    """``--out PATH.png``, by default ``experiments/out/<name>``; the JSON goes beside it."""
    ap.add_argument(
        "--out", type=Path, default=OUT_DIR / name, help="PNG path (default: %(default)s)"
    )


def add_out_dir(ap: argparse.ArgumentParser) -> None:
    """``--out FOLDER`` for the script's files, by default ``experiments/out/``."""
    ap.add_argument("--out", type=Path, default=OUT_DIR, help="output folder")


def add_seed(ap: argparse.ArgumentParser) -> None:
    """``--seed N`` (default 0)."""
    ap.add_argument("--seed", type=int, default=0)


def add_book_weights(ap: argparse.ArgumentParser, default: str = "deep_convnet.pkl") -> None:
    """``--weights FILE`` (one of the book's weight files) and ``--limit N`` test images."""
    ap.add_argument(
        "--weights", default=default, help="file name in ZEROTORCH_BOOK_WEIGHTS, or a path"
    )
    ap.add_argument("--limit", type=int, default=10000, help="first N test images")


def book_weights(name: str | Path, script: str, hint: str = "") -> Path | None:
    """The path of the book's weight file ``name`` (``ZEROTORCH_BOOK_WEIGHTS``, the cache, or a
    path), or ``None`` after saying on stderr what to set (``hint`` is added to the message)."""
    from scratch.book_weights import book_weights_file

    try:
        return book_weights_file(name)
    except FileNotFoundError as exc:
        print(f"{script}: {exc}{hint}", file=sys.stderr)
        return None


def mnist_test(limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The first ``limit`` MNIST test images (N, 1, 28, 28) in [0, 1] and their labels."""
    from scratch.dataset import load_mnist

    _, (x, t) = load_mnist(normalize=True, flatten=False, test_only=True)
    return x[:limit], t[:limit]


def write_json(path: Path, data: Any, indent: int = 2) -> None:
    """``data`` as JSON, written atomically (a reader sees the old file or the whole new one)."""
    from scratch.io import atomic_target

    with atomic_target(path) as fh:
        fh.write(json.dumps(data, indent=indent).encode())
