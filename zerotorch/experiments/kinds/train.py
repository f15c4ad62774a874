"""``kind: train``: one training run (ch4/ch5 train_neuralnet, ch7 train_convnet, ch8 deepnet)."""

from __future__ import annotations

from typing import Any

from zerotorch.experiments.figures import accuracy_panels, dataset_line
from zerotorch.experiments.kinds.base import ExperimentKind
from zerotorch.experiments.results import fmt, last_finite


class Train(ExperimentKind):
    """A single variant, ``main``; a NaN loss ends the experiment (exit status 3)."""

    name = "train"
    compares_variants = False

    def variants(self) -> dict[str, dict[str, Any]]:
        return {"main": {}}

    def headline(self, records: list[dict], data: dict | None = None) -> dict[str, Any]:
        r = records[0]
        if (data or {}).get("test_only"):  # the test set holds the training images
            return {
                "metric": "val_acc",
                "value": last_finite(r["val_acc"]),
                "text": f"val acc {fmt(last_finite(r['val_acc']))}, final train acc "
                f"{fmt(last_finite(r['train_eval_acc']))} (test acc not held out)",
            }
        return {
            "metric": "test_acc",
            "value": r.get("test_acc"),
            "text": f"test acc {fmt(r.get('test_acc'))}, final train acc "
            f"{fmt(last_finite(r['train_eval_acc']))}, "
            f"val acc {fmt(last_finite(r['val_acc']))}",
        }

    def figure(self, records: list[dict], data: dict):
        return accuracy_panels(records, self.figure_title() + dataset_line(data))
