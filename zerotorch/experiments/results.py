"""Reading results: numbers off a run's curves, and the tables made of them.

``collect_results`` gathers every ``summary.json`` under a folder; ``results_table`` sets each
experiment's headline beside the book's published result (``BOOK_RESULTS``), which is what
``zerotorch experiment results`` prints; ``ranking_table`` ranks a random search's trials.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

# The book's published results (all on MNIST). value: a number the book prints, else None and the
# claim its figure makes.
BOOK_RESULTS: dict[str, dict[str, Any]] = {
    "ch4_train_neuralnet": {
        "metric": "test_acc",
        "value": None,
        "text": "train and test accuracy rise together, no overfitting (fig. 4-12)",
    },
    "ch5_train_neuralnet": {
        "metric": "test_acc",
        "value": None,
        "text": "same training with backpropagation; as fig. 4-12",
    },
    "optimizer_compare_mnist": {
        "metric": "final_loss",
        "value": None,
        "text": "SGD slowest; Momentum, AdaGrad, Adam faster, AdaGrad slightly fastest (fig. 6-9)",
    },
    "weight_init_compare": {
        "metric": "final_loss",
        "value": None,
        "text": "std 0.01 does not learn; He and Xavier learn, He fastest (fig. 6-15)",
    },
    "batch_norm_test": {
        "metric": "train_acc",
        "value": None,
        "text": "batch norm learns faster at almost every weight scale (fig. 6-19)",
    },
    "overfit_weight_decay": {
        "metric": "train-test gap",
        "value": None,
        "text": "λ=0: train acc reaches 1.0, large gap to test; λ=0.1: gap smaller, "
        "train acc below 1.0 (figs. 6-20, 6-21)",
    },
    "overfit_dropout": {
        "metric": "train-test gap",
        "value": None,
        "text": "dropout narrows the train-test gap (fig. 6-23)",
    },
    "hyperparameter_optimization": {
        "metric": "best val_acc",
        "value": 0.83,
        "text": "best val acc 0.83 at lr 0.0092, weight decay 3.86e-07; good "
        "region lr 1e-3..1e-2, decay 1e-8..1e-6 (fig. 6-24)",
    },
    "ch7_train_convnet": {
        "metric": "test_acc",
        "value": 0.9896,
        "text": "test accuracy 98.96 % (train 99.82 %) after 20 epochs (ch7.5)",
    },
    "ch8_train_deepnet": {
        "metric": "test_acc",
        "value": 0.9938,
        "text": "test accuracy 99.38 % (ch8.1.1)",
    },
}


def last_finite(values: list[float]) -> float | None:
    """The last value that is not None/NaN (a diverged run's curve ends in NaN)."""
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return finite[-1] if finite else None


def mean_tail(values: list[float], n: int = 20) -> float | None:
    """The mean of the last ``n`` finite values (``None`` when there are none)."""
    tail = [v for v in values[-n:] if math.isfinite(v)]
    return float(np.mean(tail)) if tail else None


def fmt(value) -> str:
    """A metric as the tables print it: 4 decimals, ``n/a`` for a missing or NaN value."""
    return (
        "n/a"
        if value is None or (isinstance(value, float) and math.isnan(value))
        else f"{value:.4f}"
    )


def ranking_table(records: list[dict]) -> str:
    """random search: trials ranked by final validation accuracy (the book prints Best-1..20)."""
    rows = sorted(records, key=lambda r: last_finite(r["val_acc"]) or -1.0, reverse=True)
    lines = ["| rank | val acc | lr | weight decay | trial |", "| --- | --- | --- | --- | --- |"]
    for i, r in enumerate(rows, 1):
        lines.append(
            f"| {i} | {fmt(last_finite(r['val_acc']))} | "
            f"{r['overrides']['model.lr']:.3g} | "
            f"{r['overrides']['model.weight_decay']:.3g} | {r['variant']}"
            f"{' (diverged)' if r['diverged'] else ''} |"
        )
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- results
def collect_results(
    root: str | Path = "experiments/out", broken: list[str] | None = None
) -> list[dict]:
    """Every readable ``summary.json`` under ``root``; the unreadable ones are appended to
    ``broken`` (as "path: reason") and skipped."""
    order = {name: i for i, name in enumerate(BOOK_RESULTS)}
    found = []
    for p in sorted(Path(root).glob("**/summary.json")):
        try:
            summary = json.loads(p.read_text())
            summary["experiment"], summary["headline"]["text"]  # noqa: B018  (required keys)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            if broken is not None:
                broken.append(f"{p}: {type(exc).__name__}: {exc}")
            continue
        found.append(summary)
    return sorted(found, key=lambda s: (order.get(s["experiment"], len(order)), s["experiment"]))


def results_table(summaries: list[dict]) -> str:
    """One Markdown table: our result beside the book's (MNIST) result, dataset labelled."""
    lines = [
        "| experiment | dataset | ours | the book (MNIST) | run |",
        "| --- | --- | --- | --- | --- |",
    ]
    for s in summaries:
        book = BOOK_RESULTS.get(s["experiment"], {"text": "—"})
        data = s["data"]
        ours = s["headline"]["text"]
        if data["dataset"] != "mnist" or data.get("test_only"):
            book_text = f"{book['text']} — not comparable: other data"
        else:
            book_text = book["text"]
        run = f"{s['device']}, {s['seconds']:.0f} s" + (
            ", SHORTENED run" if s.get("limited") else ""
        )
        if s.get("same_batches") is not None:
            run += ", same batches" if s["same_batches"] else ", BATCHES DIFFER"
        lines.append(
            f"| {s['experiment']} | {data['label']} ({data['train_images']} train) | "
            f"{ours} | {book_text} | {run} |"
        )
    return "\n".join(lines) + "\n"


def results_main(root: str = "experiments/out", output: str | None = None) -> int:
    """``zerotorch experiment results``: print (and with ``output`` write) the table; exit 2
    when no summary is found."""
    broken: list[str] = []
    summaries = collect_results(root, broken)
    for line in broken:
        print(f"zerotorch experiment results: skipped {line}", file=sys.stderr)
    if not summaries:
        print(f"zerotorch experiment results: no summary.json under {root}")
        return 2
    table = results_table(summaries)
    if output:
        Path(output).write_text(table)
    print(table, end="")
    return 0
