"""ch6.2.2–6.2.3 activation distributions of a 5-layer × 100-unit net under four initialisations.

1000 standard-normal inputs go through five Affine layers (100 → 100, no bias) followed by
sigmoid or ReLU, with weights drawn at std 1, std 0.01, the book's Xavier (√(1/100)) and He
(√(2/100)). The figure has one row per (activation, init) and one histogram per layer, each
annotated with the layer's mean, std and the fraction of saturated (sigmoid: < 0.05 or > 0.95)
or dead (ReLU: exactly 0) units; the statistics are also written as JSON next to the PNG.

Usage: python -m experiments.ch6_activation_histograms [--out PATH.png] [--samples 1000]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from experiments import _common
from scratch.functions import relu, sigmoid
from scratch.weight_init import init_std

ACTIVATIONS = {"sigmoid": sigmoid, "relu": relu}
INITS = (1.0, 0.01, "xavier", "he")


def forward_activations(x, activation, weight_init_std, rng, n_layers=5, node_num=100):
    """The activations of each layer (a list of (N, node_num) arrays)."""
    out = []
    for _ in range(n_layers):
        std = init_std(weight_init_std, x.shape[1])
        w = std * rng.standard_normal((x.shape[1], node_num))
        x = ACTIVATIONS[activation](x @ w)
        out.append(x)
    return out


def activation_stats(n_samples=1000, node_num=100, n_layers=5, seed=0, keep=False):
    """{activation: {init: {"mean", "std", "saturated", ["acts"]}}}, one value per layer.

    ``saturated`` is the fraction of sigmoid outputs below 0.05 or above 0.95, or of ReLU
    outputs exactly 0. The same inputs and weight seeds are used for every configuration.
    """
    x = np.random.default_rng(seed).standard_normal((n_samples, node_num))
    stats = {}
    for act in ACTIVATIONS:
        stats[act] = {}
        for init in INITS:
            rng = np.random.default_rng(seed + 1)
            acts = forward_activations(x, act, init, rng, n_layers, node_num)
            if act == "sigmoid":
                sat = [float(np.mean((a < 0.05) | (a > 0.95))) for a in acts]
            else:
                sat = [float(np.mean(a == 0)) for a in acts]
            stats[act][init] = {"mean": [float(a.mean()) for a in acts],
                                "std": [float(a.std()) for a in acts], "saturated": sat}
            if keep:
                stats[act][init]["acts"] = acts
    return stats


def _label(init) -> str:
    return {"xavier": "Xavier √(1/n)", "he": "He √(2/n)"}.get(init, f"std={init}")


def plot(stats, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from tqdm import tqdm

    rows = [(act, init) for act in ACTIVATIONS for init in INITS]
    n_layers = len(stats["sigmoid"][INITS[0]]["mean"])
    fig, axes = plt.subplots(len(rows), n_layers, figsize=(3.0 * n_layers, 2.1 * len(rows)))
    for r, (act, init) in enumerate(tqdm(rows, desc="plotting")):
        s = stats[act][init]
        for i, a in enumerate(s["acts"]):
            ax = axes[r, i]
            if act == "sigmoid":
                rng_ = (0.0, 1.0)
            else:  # ReLU: the positive part up to this layer's own 99th percentile (a range
                # shared by the row would squash the early layers when the late ones grow)
                rng_ = (0.0, float(np.percentile(a[a > 0], 99)) if (a > 0).any() else 1e-12)
            vals = a.ravel() if act == "sigmoid" else a[a > 0].ravel()
            ax.hist(vals, bins=30, range=rng_, color="C0" if act == "sigmoid" else "C1")
            tag = "sat" if act == "sigmoid" else "dead"
            ax.set_title(f"{i + 1}-layer  μ={s['mean'][i]:.3g} σ={s['std'][i]:.3g}\n"
                         f"{tag}={s['saturated'][i]:.0%}", fontsize=7)
            ax.tick_params(labelsize=6)
            ax.set_yticks([])
            if i == 0:
                ax.set_ylabel(f"{act}\n{_label(init)}", fontsize=8)
    fig.suptitle("ch6.2 activation distributions: 5 layers × 100 units, 1000 inputs "
                 "(ReLU panels: nonzero values only, each on its own x range)", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 0.975))  # keep the first row's titles below the suptitle
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = _common.parser(__doc__)
    _common.add_out_file(ap, "ch6_activation_histograms.png")
    ap.add_argument("--samples", type=int, default=1000)
    _common.add_seed(ap)
    args = ap.parse_args(argv)
    stats = activation_stats(args.samples, seed=args.seed, keep=True)
    plot(stats, args.out)
    table = {act: {str(init): {k: v for k, v in s.items() if k != "acts"}
                   for init, s in per.items()} for act, per in stats.items()}
    _common.write_json(args.out.with_suffix(".json"), table, indent=1)
    for act, per in table.items():
        for init, s in per.items():
            stds = " ".join(f"{v:.3g}" for v in s["std"])
            print(f"{act:8s} {init:7s} std per layer: {stds}")
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
