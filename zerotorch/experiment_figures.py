"""The experiments' figures, drawn like the book's (PNG via matplotlib's Agg backend).

``plot(exp, records, data, path)`` draws the figure of one experiment from its variant records
(``experiments._run_variant``): accuracy per epoch, smoothed loss per step, the batch-norm grid or
the random-search scatter; every title states the dataset it was run on.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from zerotorch.experiments import ExperimentSettings


def last_finite(values: list[float]) -> float | None:
    """The last value that is not None/NaN (a diverged run's curve ends in NaN)."""
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return finite[-1] if finite else None


def smooth_curve(x: list[float], window: int = 11) -> np.ndarray:
    """ch6 loss-curve smoothing (a centred moving average, shorter at the ends)."""
    x = np.asarray(x, dtype=float)
    if len(x) < 3:
        return x
    w = min(window, len(x) if len(x) % 2 else len(x) - 1)  # odd: centred
    kernel = np.ones(w) / w
    padded = np.pad(x, (w // 2, w // 2), mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def _epoch_axis(ax, epochs) -> None:
    """Whole epochs only: a 1- or 2-epoch run gets ticks 1, 2, not 0.975, 1.0, 1.025, …"""
    from matplotlib.ticker import MaxNLocator

    seen = sorted({int(e) for e in epochs})
    if len(seen) <= 10:
        ax.set_xticks(seen)
        if len(seen) == 1:
            ax.set_xlim(seen[0] - 1, seen[0] + 1)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def figure_title(exp: ExperimentSettings) -> str:
    """The config's title, plus what the run really had (the weight scales may be overridden)."""
    title = exp.title or exp.name
    if exp.kind == "batch_norm":
        n = len(exp.weight_scales)
        title += f" over {n} weight scale{'s' * (n != 1)}"
    return title


def plot(exp: ExperimentSettings, records: list[dict], data: dict, path: Path) -> Path:
    """The book-style figure for the experiment; the title states the dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    suffix = f"\n{data['label']}, {data['train_images']} training images"
    if exp.kind == "batch_norm":
        n = len(exp.weight_scales)
        cols = int(math.ceil(math.sqrt(n)))
        rows = int(math.ceil(n / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.4 * rows), squeeze=False)
        for i, w in enumerate(exp.weight_scales):
            ax = axes.flat[i]
            for tag, style, label in (("bn", "-", "Batch Normalization"), ("plain", "--",
                                                                           "Normal (no BN)")):
                r = next(r for r in records if r["variant"] == f"w{i:02d}_{tag}")
                line, = ax.plot(r["epochs"], r["train_eval_acc"], style, label=label)
                if r["diverged"]:  # NaN loss: the run stopped (the book plots 0.1 on)
                    ax.annotate(f"{tag}: NaN at step {r['diverged_step']}", (0.02, 0.85 if
                                tag == "bn" else 0.72), xycoords="axes fraction", fontsize=7,
                                color=line.get_color())
            ax.set_title(f"weight init std {w:.3g}", fontsize=9)
            ax.set_ylim(0, 1)
            _epoch_axis(ax, r["epochs"])
            if i % cols == 0:
                ax.set_ylabel("train accuracy", fontsize=8)
            if i + cols >= n:  # the lowest panel of its column
                ax.set_xlabel("epochs", fontsize=8)
        for ax in axes.flat[n:]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.suptitle(figure_title(exp) + suffix, fontsize=10)
    elif exp.kind == "random_search":
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.5))
        ok = [r for r in records if last_finite(r["val_acc"]) is not None]
        lr = [math.log10(r["overrides"]["model.lr"]) for r in ok]
        wd = [math.log10(r["overrides"]["model.weight_decay"]) for r in ok]
        acc = [last_finite(r["val_acc"]) for r in ok]
        sc = a1.scatter(lr, wd, c=acc, cmap="viridis", vmin=0, vmax=1, edgecolors="k")
        fig.colorbar(sc, ax=a1, label="final validation accuracy")
        a1.set_xlabel("log10 learning rate")
        a1.set_ylabel("log10 weight decay")
        for rank, r in enumerate(sorted(ok, key=lambda r: -last_finite(r["val_acc"]))[:5], 1):
            a2.plot(r["epochs"], r["val_acc"], label=f"Best-{rank} val")
            a2.plot(r["epochs"], r["train_eval_acc"], "--", color=a2.lines[-1].get_color())
        a2.set_xlabel("epochs")
        _epoch_axis(a2, [e for r in ok for e in r["epochs"]])
        a2.set_ylabel("accuracy (solid val, dashed train)")
        a2.set_ylim(0, 1)
        a2.legend(fontsize=7)
        fig.suptitle(figure_title(exp) + suffix, fontsize=10)
    elif exp.kind == "compare" and exp.figure == "loss":
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for r in records:
            ax.plot(smooth_curve(r["step_loss"]), label=r["variant"] + (" (diverged)"
                                                                         if r["diverged"] else ""))
        ax.set_xlabel("iterations")
        ax.set_ylabel("loss (smoothed)")
        top = max((max(r["step_loss"]) for r in records if r["step_loss"]), default=1.0)
        ax.set_ylim(0, min(max(top, 1.0), 3.0))  # the book shows 0..1; keep 2.3 (chance) in view
        ax.legend()
        ax.set_title(figure_title(exp) + suffix, fontsize=10)
    else:
        fig, axes = plt.subplots(1, len(records), figsize=(5 * len(records), 4), squeeze=False)
        for ax, r in zip(axes.flat, records, strict=True):
            every = max(1, len(r["epochs"]) // 10)
            ax.plot(r["epochs"], r["train_eval_acc"], "o-", markevery=every, label="train")
            ax.plot(r["epochs"], r["val_acc"], "s-", markevery=every, label="validation")
            ax.set_xlabel("epochs")
            _epoch_axis(ax, r["epochs"])
            ax.set_ylabel("accuracy")
            ax.set_ylim(0, 1.0)
            ax.legend(loc="lower right")
            if len(records) > 1:
                ax.set_title(r["variant"], fontsize=9)
        fig.suptitle(figure_title(exp) + suffix, fontsize=10)
    fig.tight_layout()
    from scratch.io import atomic_target

    with atomic_target(path) as fh:  # a reader never sees half a PNG
        fig.savefig(fh, dpi=100, format="png")
    plt.close(fig)
    return path
