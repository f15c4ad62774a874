"""Runs the reproductions: weight files found, MNIST loaded, each file's evaluator, the table.

Finds the weight files with ``scratch.book_weights`` (``ZEROTORCH_BOOK_WEIGHTS``, a clone of the
book's repository, or the ``zerotorch download weights`` folder) and MNIST through the data
settings (``ZEROTORCH_MNIST_DIR``, ``ZEROTORCH_DATA``, or ``zerotorch download mnist``). Each
weights file has an evaluator ``evaluate(params, x, t) -> dict`` (x: (N, 1, 28, 28) float32 in
[0, 1], t: (N,) int) returning ``accuracy_scratch``, ``accuracy_zerotorch``,
``disagreements`` and optional extra fields (``ROWS``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from zerotorch.reproduce.ch3 import evaluate as evaluate_ch3
from zerotorch.reproduce.convnet import evaluate_deep_convnet, evaluate_simple_convnet

# weights file -> (network, the function evaluating it)
ROWS: dict[str, tuple[str, Callable[..., dict]]] = {
    "sample_weight.pkl": ("ch3 3-layer net", evaluate_ch3),
    "simple_convnet.pkl": ("SimpleConvNet", evaluate_simple_convnet),
    "simple_convnet_2016.pkl": ("SimpleConvNet", evaluate_simple_convnet),
    "deep_convnet.pkl": ("DeepConvNet", evaluate_deep_convnet),
    "deep_convnet_2016.pkl": ("DeepConvNet", evaluate_deep_convnet),
}


class ReproductionUnavailable(RuntimeError):
    """The weights folder or the MNIST test set is not there; the message says what to set."""


def _wanted(files: list[str] | None) -> list:
    from scratch.book_weights import WEIGHTS, candidates

    if not files:
        return list(WEIGHTS)
    unknown = [f for f in files if not candidates(f)]
    if unknown:
        raise ReproductionUnavailable(
            f"unknown weights file(s) {unknown}; known: {[w.name for w in WEIGHTS]} (or the "
            "book's names ch03/sample_weight.pkl, ch07/params.pkl, ch08/deep_convnet_params.pkl)")
    return [w for f in files for w in candidates(f)]


def run(files: list[str] | None = None) -> tuple[list[dict], list[str]]:
    """One record per weights file found (file, network, accuracy on each side, disagreements),
    and the names of the wanted files that were not found. A file that cannot be loaded safely
    (``UnsafePickleError``, ``CorruptWeightsError``) gets a record with its ``error`` instead."""
    from scratch.book_weights import how_to_get, locate
    from scratch.dataset import load_mnist
    from scratch.io import CorruptWeightsError, UnsafePickleError, load_params

    located = [(w, locate(w)) for w in _wanted(files)]
    missing = [w.name for w, path in located if path is None]
    if len(missing) == len(located):
        raise ReproductionUnavailable(f"no weight files found ({', '.join(missing)}): "
                                      f"{how_to_get(missing)}")
    try:
        _, (x, t) = load_mnist(normalize=True, flatten=False, test_only=True)
    except (FileNotFoundError, OSError) as exc:
        raise ReproductionUnavailable(f"MNIST test set not found: {exc}") from exc
    records = []
    for w, path in located:
        if path is None:
            continue
        record = {"file": w.name, "network": w.network, "path": str(path),
                  "version": w.version, "images": int(len(t))}
        try:
            params = load_params(path)
        except (UnsafePickleError, CorruptWeightsError) as exc:
            records.append({**record, "error": str(exc)})
            continue
        try:
            result = ROWS[w.name][1](params, x, t)
        except (KeyError, ValueError) as exc:  # a well-formed pickle of the wrong network
            records.append({**record, "error": f"{path}: not the {w.network} weights "
                                              f"({type(exc).__name__}: {exc})"})
            continue
        records.append({**record, **result})
    return records, missing


def format_table(records: list[dict]) -> str:
    """The rows that were computed; files that could not be loaded are listed after them."""
    broken = [r for r in records if "error" in r]
    table = _table([r for r in records if "error" not in r])
    return "\n".join([table, *(f"{r['file']}: not reproduced: {r['error']}" for r in broken)])


def _table(records: list[dict]) -> str:
    head = ("weights file", "network", "acc scratch", "acc zerotorch", "disagree",
            "acc torch dropout", "note")
    rows = [(r["file"], r["network"], f"{r['accuracy_scratch']:.4f}",
             f"{r['accuracy_zerotorch']:.4f}", str(r["disagreements"]),
             f"{r['accuracy_torch_convention']:.4f}" if "accuracy_torch_convention" in r
             else "-", r.get("note", ""))
            for r in records]
    widths = [max(len(x) for x in col) for col in zip(head, *rows, strict=True)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines.append("-" * len(lines[0]))
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def _not_found_line(missing: list[str]) -> str:
    from scratch.book_weights import how_to_get

    return f"not found: {', '.join(missing)} ({how_to_get(missing)})"


def main(json_output: bool = False, files: list[str] | None = None) -> int:
    """``zerotorch reproduce``: exit 1 when any image is predicted differently by the two sides,
    2 when nothing could be reproduced or a file is broken or unsafe (the rows that could be
    computed are printed first; the message says what to get and how)."""
    try:
        records, missing = run(files)
    except ReproductionUnavailable as exc:
        print(f"zerotorch reproduce: {exc}")
        return 2
    print(json.dumps(records, indent=2) if json_output else format_table(records))
    if missing:
        print(f"zerotorch reproduce: {_not_found_line(missing)}", file=sys.stderr)
    if any("error" in r for r in records):
        return 2  # a broken or unsafe file: the rows above are what could be computed
    return 1 if any(r["disagreements"] for r in records) else 0


def reproduce_if_available() -> int:
    """Print the table after the crosscheck report when weights and MNIST are found.

    Returns the exit status it adds: 0 (reproduced, or unavailable: a one-line hint is
    printed), 1 (the two sides disagree on an image), 2 (a weights file is broken or unsafe).
    """
    try:
        records, missing = run()
    except ReproductionUnavailable as exc:
        print(f"\nbook-weight reproduction skipped: {exc}")
        return 0
    print("\nbook weights on the MNIST test set:")
    print(format_table(records))
    if missing:
        print(_not_found_line(missing))
    if any("error" in r for r in records):
        return 2
    return 1 if any(r["disagreements"] for r in records) else 0
