"""Plotting helpers shared by the experiment kinds' figures (PNG via matplotlib's Agg backend).

Each kind in ``zerotorch.experiments.kinds`` draws its own book-style figure from its variant
records with these: ``pyplot`` (Agg, imported on first use), ``dataset_line`` (every title
states the data it was run on), ``epoch_axis``, ``smooth_curve`` (the book's loss smoothing),
``accuracy_panels`` (train/validation accuracy per epoch, one panel per variant) and
``save_figure`` (written atomically: a reader never sees half a PNG).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def smooth_curve(x: list[float], window: int = 11) -> np.ndarray:
    """ch6 loss-curve smoothing (a centred moving average, shorter at the ends)."""
    x = np.asarray(x, dtype=float)
    if len(x) < 3:
        return x
    w = min(window, len(x) if len(x) % 2 else len(x) - 1)  # odd: centred
    kernel = np.ones(w) / w
    padded = np.pad(x, (w // 2, w // 2), mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def epoch_axis(ax, epochs) -> None:
    """Whole epochs only: a 1- or 2-epoch run gets ticks 1, 2, not 0.975, 1.0, 1.025, …"""
    from matplotlib.ticker import MaxNLocator

    seen = sorted({int(e) for e in epochs})
    if len(seen) <= 10:
        ax.set_xticks(seen)
        if len(seen) == 1:
            ax.set_xlim(seen[0] - 1, seen[0] + 1)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def dataset_line(data: dict) -> str:
    """The second line of every figure title: the data the run was trained on."""
    return f"\n{data['label']}, {data['train_images']} training images"


def accuracy_panels(records: list[dict], title: str):
    """Train (eval mode) and validation accuracy per epoch, one panel per variant."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(records), figsize=(5 * len(records), 4), squeeze=False)
    for ax, r in zip(axes.flat, records, strict=True):
        every = max(1, len(r["epochs"]) // 10)
        ax.plot(r["epochs"], r["train_eval_acc"], "o-", markevery=every, label="train")
        ax.plot(r["epochs"], r["val_acc"], "s-", markevery=every, label="validation")
        ax.set_xlabel("epochs")
        epoch_axis(ax, r["epochs"])
        ax.set_ylabel("accuracy")
        ax.set_ylim(0, 1.0)
        ax.legend(loc="lower right")
        if len(records) > 1:
            ax.set_title(r["variant"], fontsize=9)
    fig.suptitle(title, fontsize=10)
    return fig


def save_figure(fig, path: Path) -> Path:
    """Lay out, write the PNG atomically, close the figure; returns ``path``."""
    from scratch.io import atomic_target

    plt = pyplot()
    fig.tight_layout()
    with atomic_target(path) as fh:  # a reader never sees half a PNG
        fig.savefig(fh, dpi=100, format="png")
    plt.close(fig)
    return path
