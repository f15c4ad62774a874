"""``kind: random_search``: ch6.5.3 hyperparameter optimization, ``trials`` of learning rate and
weight decay drawn log-uniformly (``lr_log10``, ``weight_decay_log10``, seed ``search_seed``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from zerotorch.experiments.figures import dataset_line, epoch_axis, pyplot
from zerotorch.experiments.kinds.base import ExperimentKind
from zerotorch.experiments.results import fmt, last_finite, ranking_table


class RandomSearch(ExperimentKind):
    """Variants ``trial000``, ``trial001``, …; ranked by final validation accuracy."""

    name = "random_search"

    def variants(self) -> dict[str, dict[str, Any]]:
        exp = self.settings
        rng = np.random.default_rng(exp.search_seed)
        out = {}
        for i in range(exp.trials):
            wd = 10 ** rng.uniform(*exp.weight_decay_log10)  # the book draws decay first
            lr = 10 ** rng.uniform(*exp.lr_log10)
            out[f"trial{i:03d}"] = {"model.lr": float(lr), "model.weight_decay": float(wd)}
        return out

    def headline(self, records: list[dict], data: dict | None = None) -> dict[str, Any]:
        best = max(records, key=lambda r: last_finite(r["val_acc"]) or -1.0)
        return {
            "metric": "best val_acc",
            "value": last_finite(best["val_acc"]),
            "text": f"best val acc {fmt(last_finite(best['val_acc']))} at lr "
            f"{best['overrides']['model.lr']:.3g}, weight decay "
            f"{best['overrides']['model.weight_decay']:.3g}",
        }

    def figure(self, records: list[dict], data: dict):
        """The trials over (log lr, log decay) coloured by accuracy; the best five's curves."""
        fig, (a1, a2) = pyplot().subplots(1, 2, figsize=(11, 4.5))
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
        epoch_axis(a2, [e for r in ok for e in r["epochs"]])
        a2.set_ylabel("accuracy (solid val, dashed train)")
        a2.set_ylim(0, 1)
        a2.legend(fontsize=7)
        fig.suptitle(self.figure_title() + dataset_line(data), fontsize=10)
        return fig

    def extra_outputs(self, records: list[dict]) -> dict[str, str]:
        """``ranking.md``: the trials ranked (the book prints Best-1 … Best-20)."""
        return {"ranking.md": ranking_table(records)}
