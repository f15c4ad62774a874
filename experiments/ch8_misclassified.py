"""ch8.1.2 the test images DeepConvNet gets wrong, with their true and predicted labels.

Evaluates DeepConvNet with the book's weights (``deep_convnet.pkl`` by default; book test-time
dropout) on the MNIST test set in float64 — the book's arithmetic — with
``zerotorch.networks.DeepConvNet`` and draws the misclassified images in a grid, each titled
"true → predicted" (the book's ``misclassified_mnist.py``). Writes ``ch8_misclassified.png``
and ``ch8_misclassified.json`` (indices, labels, predictions).

Usage: python -m experiments.ch8_misclassified [--weights deep_convnet.pkl] [--limit 10000]
       [--max-images 40] [--out experiments/out]
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from experiments import _common
from zerotorch.networks import convnet as zconvnet


def misclassified(params: dict, x: np.ndarray, t: np.ndarray, batch_size: int = 500):
    """(indices, predictions) of the images DeepConvNet misclassifies, and the accuracy."""
    from tqdm import tqdm

    net = zconvnet.DeepConvNet(dtype=torch.float64).load_params(params)
    xt = torch.from_numpy(np.asarray(x, dtype=np.float64))
    chunk = 10 * batch_size  # progress every ten batches
    pred = np.concatenate([net.predict_labels(xt[i:i + chunk], batch_size).numpy()
                           for i in tqdm(range(0, len(x), chunk), desc="DeepConvNet")])
    wrong = np.flatnonzero(pred != t)
    return wrong, pred[wrong], float(np.mean(pred == t))


def plot_gallery(x, t, wrong, pred, out: Path, max_images: int, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = wrong[:max_images]
    cols = 10
    rows = max(1, -(-len(shown) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.3))
    axes = np.asarray(axes).reshape(rows, cols)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, i, p in zip(axes.ravel(), shown, pred[:max_images], strict=False):
        ax.imshow(x[i].reshape(28, 28), cmap="gray_r")
        ax.set_title(f"{t[i]} → {p}", fontsize=8, color="crimson")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = _common.parser(__doc__)
    _common.add_book_weights(ap)
    ap.add_argument("--max-images", type=int, default=40, help="images in the gallery")
    _common.add_out_dir(ap)
    args = ap.parse_args(argv)
    from scratch.io import load_params

    path = _common.book_weights(args.weights, "ch8_misclassified")
    if path is None:
        return 2
    x, t = _common.mnist_test(args.limit)
    t = t.astype(np.int64)
    wrong, pred, acc = misclassified(load_params(path), x, t)
    args.out.mkdir(parents=True, exist_ok=True)
    title = (f"ch8 DeepConvNet ({path.name}): {len(wrong)} of {len(t)} test images "
             f"misclassified (accuracy {acc:.4f}); true → predicted")
    plot_gallery(x, t, wrong, pred, args.out / "ch8_misclassified.png", args.max_images, title)
    record = {"weights": path.name, "images": int(len(t)), "accuracy": acc,
              "misclassified": [{"index": int(i), "true": int(t[i]), "predicted": int(p)}
                                for i, p in zip(wrong, pred, strict=True)]}
    _common.write_json(args.out / "ch8_misclassified.json", record)
    print(f"{len(wrong)} misclassified (accuracy {acc:.4f}); wrote "
          f"{args.out / 'ch8_misclassified.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
