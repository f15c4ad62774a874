"""ch6.1.7 the four update rules on f(x, y) = x²/20 + y², 30 steps from (−7, 2).

SGD (lr 0.95), Momentum (0.1), AdaGrad (1.5) and Adam (0.3), the book's settings, each drawn over
the contour map of f. The paths are computed by ``scratch.optimizer`` and by ``zerotorch.optim``
(on an autograd gradient); the script checks they agree within 1e-12 before plotting.

Usage: python -m experiments.ch6_optimizer_paths [--out PATH.png] [--steps 30]
"""

from __future__ import annotations

import numpy as np

import scratch.optimizer as so
from experiments import _common

START = (-7.0, 2.0)
BOOK_LRS = {"SGD": 0.95, "Momentum": 0.1, "AdaGrad": 1.5, "Adam": 0.3}
AGREE_ATOL = 1e-12


def f(x, y):
    return x ** 2 / 20.0 + y ** 2


def scratch_path(name: str, lr: float, steps: int) -> np.ndarray:
    """(steps + 1, 2) points visited by ``scratch.optimizer.<name>``."""
    opt = getattr(so, name)(lr=lr)
    params = {"x": np.array(START[0]), "y": np.array(START[1])}
    path = [START]
    for _ in range(steps):
        opt.update(params, {"x": params["x"] / 10.0, "y": 2.0 * params["y"]})
        path.append((float(params["x"]), float(params["y"])))
    return np.array(path)


def zerotorch_path(name: str, lr: float, steps: int) -> np.ndarray:
    """The same path with ``zerotorch.optim.<name>`` and autograd's gradient of f."""
    import torch

    import zerotorch.optim as zo

    xy = torch.nn.Parameter(torch.tensor(START, dtype=torch.float64))
    opt = getattr(zo, name)([xy], lr=lr)
    path = [START]
    for _ in range(steps):
        opt.zero_grad()
        f(xy[0], xy[1]).backward()
        opt.step()
        path.append(tuple(xy.detach().tolist()))
    return np.array(path)


def main(argv=None) -> int:
    ap = _common.parser(__doc__)
    _common.add_out_file(ap, "ch6_optimizer_paths.png")
    ap.add_argument("--steps", type=int, default=30)
    args = ap.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from tqdm import tqdm

    xs, ys = np.meshgrid(np.arange(-10, 10, 0.02), np.arange(-5, 5, 0.02))
    zs = f(xs, ys)
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for ax, (name, lr) in zip(axes.ravel(), tqdm(list(BOOK_LRS.items()), desc="optimizers"),
                              strict=True):
        path = scratch_path(name, lr, args.steps)
        gap = float(np.abs(path - zerotorch_path(name, lr, args.steps)).max())
        if gap > AGREE_ATOL:
            raise SystemExit(f"{name}: scratch and zerotorch paths differ by {gap:.3g}")
        ax.contour(xs, ys, zs, levels=np.geomspace(0.05, 20, 12), colors="0.6",
                   linewidths=0.7)
        ax.plot(path[:, 0], path[:, 1], "o-", color="red", markersize=3, linewidth=1)
        ax.plot(0, 0, "+", color="black", markersize=12)
        end = path[-1]
        ax.set_title(f"{name} (lr={lr}): end ({end[0]:.3g}, {end[1]:.3g}); "
                     f"|Δ zerotorch| = {gap:.1g}", fontsize=9)
        ax.set_xlim(-10, 10)
        ax.set_ylim(-5, 5)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        print(f"{name:8s} lr={lr:<5} end=({end[0]: .6f}, {end[1]: .6f})  "
              f"scratch vs zerotorch max|Δ|={gap:.2g}")
    fig.suptitle(f"ch6.1.7 f(x, y) = x²/20 + y², {args.steps} steps from {START}")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    plt.close(fig)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
