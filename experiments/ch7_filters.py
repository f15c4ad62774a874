"""ch7.6.1 what the first convolution layer learns, and what its filters do to an image.

Writes two PNGs:
- ``ch7_filters.png``: SimpleConvNet's 30 first-layer 5×5 filters before training (random,
  std 0.01) and after (learned weights: the book's ``simple_convnet.pkl`` by default, or
  ``--params FILE``, or ``--train-steps N`` Adam steps of our scratch SimpleConvNet on MNIST);
- ``ch7_filter_response.png``: one MNIST test image convolved (scratch ``Convolution``) with
  each learned filter — the book's ``apply_filter.py``: edge and blob detectors light up.
With ``--train-steps N`` the names end in ``_trained<N>`` (``ch7_filters_trained300.png``), so
a training run never replaces the figure of the book's weights or of another run.

Usage: python -m experiments.ch7_filters [--out experiments/out] [--params FILE]
       [--train-steps N] [--image-index 0] [--seed 0]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from experiments import _common
from scratch.convnet import SimpleConvNet
from scratch.convolution import Convolution


def train(net: SimpleConvNet, x: np.ndarray, t: np.ndarray, steps: int, rng,
          batch_size: int = 100) -> list[float]:
    """``steps`` Adam updates (lr 0.001) on random batches; returns the losses."""
    from tqdm import tqdm

    from scratch.optimizer import Adam

    opt, losses = Adam(lr=0.001), []
    for _ in tqdm(range(steps), desc="training SimpleConvNet"):
        idx = rng.choice(len(x), batch_size, replace=False)
        grads = net.gradient(x[idx], t[idx])
        opt.update(net.params, grads)
        losses.append(float(net.last_layer.loss))
    return losses


def filter_responses(W: np.ndarray, image: np.ndarray) -> np.ndarray:
    """(FN, oh, ow): ``image`` (1, H, W) convolved with each filter of W (FN, 1, FH, FW)."""
    conv = Convolution(W, np.zeros(W.shape[0]), stride=1, pad=W.shape[-1] // 2)
    return conv.forward(image[None].astype(np.float64))[0]


def _grid(ax_row, filters, title):
    for ax in ax_row:
        ax.axis("off")
    for i, f in enumerate(filters):
        ax_row[i].imshow(f, cmap="gray_r", interpolation="nearest")
    ax_row[0].set_title(title, loc="left", fontsize=9)


def plot_filters(before: np.ndarray, after: np.ndarray, out: Path, after_label: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fn = before.shape[0]
    cols = 10
    rows = -(-fn // cols)
    fig, axes = plt.subplots(2 * rows, cols, figsize=(cols * 0.9, 2 * rows * 0.9 + 0.8),
                             gridspec_kw={"hspace": 0.35, "wspace": 0.1})
    axes = np.asarray(axes).reshape(2 * rows, cols)
    for part, (ws, label) in enumerate(((before, "before training (random, std 0.01)"),
                                        (after, f"after training ({after_label})"))):
        flat = axes[part * rows:(part + 1) * rows].ravel()
        _grid(flat, ws[:, 0], label)
    fig.suptitle("ch7.6.1 SimpleConvNet first-layer filters (30 × 5×5)", fontsize=10)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_responses(image: np.ndarray, W: np.ndarray, responses: np.ndarray, out: Path,
                   n: int = 8) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(-responses.reshape(len(responses), -1).std(axis=1))[:n]
    fig, axes = plt.subplots(2, n + 1, figsize=((n + 1) * 1.3, 2.8))
    axes[0, 0].imshow(image[0], cmap="gray")
    axes[0, 0].set_title("input", fontsize=8)
    axes[1, 0].axis("off")
    for j, k in enumerate(order, start=1):
        axes[0, j].imshow(W[k, 0], cmap="gray_r", interpolation="nearest")
        axes[0, j].set_title(f"filter {k}", fontsize=8)
        axes[1, j].imshow(responses[k], cmap="gray")
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle("ch7.6.1 learned filters applied to a test image (strongest responses)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = _common.parser(__doc__)
    _common.add_out_dir(ap)
    ap.add_argument("--params", type=Path, help="learned weights (.pkl/.npz); default: the "
                    "book's simple_convnet.pkl from ZEROTORCH_BOOK_WEIGHTS")
    ap.add_argument("--train-steps", type=int, default=0,
                    help="train our scratch SimpleConvNet this many Adam steps instead")
    ap.add_argument("--image-index", type=int, default=0)
    _common.add_seed(ap)
    args = ap.parse_args(argv)
    from scratch.dataset import DatasetNotFoundError, load_mnist
    from scratch.io import load_params

    path = None
    if not args.train_steps:  # the weights first: without them there is nothing to draw
        path = _common.book_weights(args.params or "simple_convnet.pkl", "ch7_filters",
                                    " (or pass --params or --train-steps)")
        if path is None:
            return 2
    rng = np.random.default_rng(args.seed)
    net = SimpleConvNet(rng=rng)
    before = net.params["W1"].copy()
    train_split = True
    try:
        try:
            (x_train, t_train), (x_test, _) = load_mnist(normalize=True, flatten=False)
        except DatasetNotFoundError:  # only the test split is installed (ZEROTORCH_MNIST_DIR)
            train_split = False
            _, (x_test, t_test) = load_mnist(normalize=True, flatten=False, test_only=True)
            x_train, t_train = x_test, t_test
    except DatasetNotFoundError as exc:
        print(f"ch7_filters: no MNIST images: {exc}", file=sys.stderr)
        return 2
    summary = {"seed": args.seed}
    if args.train_steps:
        losses = train(net, x_train, t_train, args.train_steps, rng)
        label = f"{args.train_steps} Adam steps on MNIST {'train' if train_split else 'test'}"
        summary.update(first_loss=losses[0], last_loss=losses[-1])
    else:
        net.load_params(load_params(path))
        label = path.name
    after = net.params["W1"]
    image = x_test[args.image_index]
    responses = filter_responses(after, image)
    args.out.mkdir(parents=True, exist_ok=True)
    tag = f"_trained{args.train_steps}" if args.train_steps else ""
    filters = args.out / f"ch7_filters{tag}.png"
    response = args.out / f"ch7_filter_response{tag}.png"
    plot_filters(before, after, filters, label)
    plot_responses(image, after, responses, response)
    summary.update(after=label, filter_std_before=float(before.std()),
                   filter_std_after=float(after.std()))
    _common.write_json(args.out / f"ch7_filters{tag}.json", summary)
    print(f"wrote {filters} and {response}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
