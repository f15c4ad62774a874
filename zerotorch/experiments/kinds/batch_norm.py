"""``kind: batch_norm``: ch6.3.3, the same network with and without batch norm over a range of
weight-init scales (``weight_scales``, or ``weight_scales_logspace`` as the book's
``np.logspace(0, -4, 16)``)."""

from __future__ import annotations

import math
from typing import Any

from zerotorch.experiments.figures import dataset_line, epoch_axis, pyplot
from zerotorch.experiments.kinds.base import ExperimentKind
from zerotorch.experiments.results import last_finite


class BatchNorm(ExperimentKind):
    """Two variants per weight scale: ``w<i>_bn`` and ``w<i>_plain``."""

    name = "batch_norm"

    @staticmethod
    def variant_name(index: int, batch_norm: bool) -> str:
        """``w03_bn`` / ``w03_plain``: the variant of the ``index``-th weight scale."""
        return f"w{index:02d}_{'bn' if batch_norm else 'plain'}"

    def pairs(self) -> list[tuple[float, str, str]]:
        """(weight scale, batch-norm variant, plain variant), one per weight scale."""
        return [
            (float(w), self.variant_name(i, True), self.variant_name(i, False))
            for i, w in enumerate(self.settings.weight_scales)
        ]

    def variants(self) -> dict[str, dict[str, Any]]:
        out = {}
        for w, *names in self.pairs():
            for name, bn in zip(names, (True, False), strict=True):
                out[name] = {
                    "model.model.init_args.weight_init_std": w,
                    "model.model.init_args.use_batchnorm": bn,
                }
        return out

    def headline(self, records: list[dict], data: dict | None = None) -> dict[str, Any]:
        by_name = {r["variant"]: r for r in records}
        wins = total = 0
        for _, bn_name, plain_name in self.pairs():
            bn, plain = by_name[bn_name], by_name[plain_name]
            a, b = last_finite(bn["train_eval_acc"]), last_finite(plain["train_eval_acc"])
            a = 0.0 if a is None and bn["diverged"] else a  # a diverged run learned nothing
            b = 0.0 if b is None and plain["diverged"] else b
            if a is not None and b is not None:
                total += 1
                wins += a > b
        return {
            "metric": "train_acc",
            "value": wins / total if total else None,
            "text": f"batch norm ahead at {wins} of {total} weight scales",
        }

    def figure_title(self) -> str:
        """Plus the number of weight scales the run really had (they may be overridden)."""
        n = len(self.settings.weight_scales)
        return super().figure_title() + f" over {n} weight scale{'s' * (n != 1)}"

    def figure(self, records: list[dict], data: dict):
        """One panel per weight scale: train accuracy per epoch with and without batch norm."""
        by_name = {r["variant"]: r for r in records}
        pairs = self.pairs()
        n = len(pairs)
        cols = int(math.ceil(math.sqrt(n)))
        rows = int(math.ceil(n / cols))
        fig, axes = pyplot().subplots(rows, cols, figsize=(3 * cols, 2.4 * rows), squeeze=False)
        for i, (w, bn_name, plain_name) in enumerate(pairs):
            ax = axes.flat[i]
            for tag, name, style, label in (
                ("bn", bn_name, "-", "Batch Normalization"),
                ("plain", plain_name, "--", "Normal (no BN)"),
            ):
                r = by_name[name]
                (line,) = ax.plot(r["epochs"], r["train_eval_acc"], style, label=label)
                if r["diverged"]:  # NaN loss: the run stopped (the book plots 0.1 on)
                    ax.annotate(
                        f"{tag}: NaN at step {r['diverged_step']}",
                        (0.02, 0.85 if tag == "bn" else 0.72),
                        xycoords="axes fraction",
                        fontsize=7,
                        color=line.get_color(),
                    )
            ax.set_title(f"weight init std {w:.3g}", fontsize=9)
            ax.set_ylim(0, 1)
            epoch_axis(ax, r["epochs"])
            if i % cols == 0:
                ax.set_ylabel("train accuracy", fontsize=8)
            if i + cols >= n:  # the lowest panel of its column
                ax.set_xlabel("epochs", fontsize=8)
        for ax in axes.flat[n:]:
            ax.axis("off")
        axes.flat[0].legend(fontsize=7)
        fig.suptitle(self.figure_title() + dataset_line(data), fontsize=10)
        return fig
