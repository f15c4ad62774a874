"""``kind: compare``: named variants, each a set of config overrides (optimizers, inits, weight
decay, dropout), run from the same seed on the same batches and drawn in one figure."""

from __future__ import annotations

import math
from typing import Any

from zerotorch.experiments.figures import accuracy_panels, dataset_line, pyplot, smooth_curve
from zerotorch.experiments.kinds.base import ExperimentKind
from zerotorch.experiments.results import fmt, last_finite, mean_tail
from zerotorch.experiments.settings import ExperimentError


class Compare(ExperimentKind):
    """The config's ``variants``; ``figure: loss`` compares the smoothed training loss per step
    (ch6.1.8, ch6.2.4), ``figure: accuracy`` the train/validation accuracy per epoch (ch6.4)."""

    name = "compare"

    def variants(self) -> dict[str, dict[str, Any]]:
        if not self.settings.variants:
            raise ExperimentError(f"experiment {self.settings.name}: kind 'compare' needs variants")
        return dict(self.settings.variants)

    @property
    def by_loss(self) -> bool:
        """True for ``figure: loss`` (any other value: accuracy)."""
        return self.settings.figure == "loss"

    def headline(self, records: list[dict], data: dict | None = None) -> dict[str, Any]:
        if self.by_loss:
            parts = []
            for r in sorted(records, key=lambda r: mean_tail(r["step_loss"]) or math.inf):
                tail = mean_tail(r["step_loss"])
                parts.append(f"{r['variant']} {'diverged' if r['diverged'] else fmt(tail)}")
            return {
                "metric": "final_loss",
                "value": None,
                "text": "mean loss of the last 20 steps: " + ", ".join(parts),
            }
        parts = []
        for r in records:
            tr, te = last_finite(r["train_eval_acc"]), last_finite(r["val_acc"])
            gap = tr - te if tr is not None and te is not None else None
            parts.append(f"{r['variant']}: train {fmt(tr)} val {fmt(te)} gap {fmt(gap)}")
        return {"metric": "train-val gap", "value": None, "text": "; ".join(parts)}

    def figure(self, records: list[dict], data: dict):
        title = self.figure_title() + dataset_line(data)
        if not self.by_loss:
            return accuracy_panels(records, title)
        fig, ax = pyplot().subplots(figsize=(7, 4.5))
        for r in records:
            ax.plot(
                smooth_curve(r["step_loss"]),
                label=r["variant"] + (" (diverged)" if r["diverged"] else ""),
            )
        ax.set_xlabel("iterations")
        ax.set_ylabel("loss (smoothed)")
        top = max((max(r["step_loss"]) for r in records if r["step_loss"]), default=1.0)
        ax.set_ylim(0, min(max(top, 1.0), 3.0))  # the book shows 0..1; keep 2.3 (chance) in view
        ax.legend()
        ax.set_title(title, fontsize=10)
        return fig
