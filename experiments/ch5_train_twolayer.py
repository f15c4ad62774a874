"""ch5.7.4 train the layered TwoLayerNet (784-50-10, ReLU, backprop) with ``scratch.Trainer``.

NumPy only: the book's training loop (SGD lr 0.1, batches of 100) on Fashion-MNIST (default; the
full 60,000/10,000 set from ``apt-get install dataset-fashion-mnist`` or ``$ZEROTORCH_DATA``) or
MNIST (needs the training files: ``$ZEROTORCH_DATA`` or ``--download``). A progress bar shows the
steps; the loss per step and the train/test accuracy per epoch are saved as a PNG, the history as
JSON next to it.

Usage: python -m experiments.ch5_train_twolayer [--dataset fashion-mnist|mnist] [--epochs 17]
       [--batch-size 100] [--lr 0.1] [--hidden 50] [--seed 0] [--sampling shuffle|replacement]
       [--train-size N] [--out PATH.png]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from experiments import _common
from scratch.dataset import DatasetNotFoundError, load_mnist
from scratch.optimizer import SGD
from scratch.trainer import Trainer
from scratch.two_layer_net import TwoLayerNet


def plot(history, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot(np.arange(1, len(history.train_loss) + 1), history.train_loss, lw=0.6)
    ax_loss.set(xlabel="update", ylabel="loss (batch, after the update)", title="training loss")
    epochs = np.arange(1, len(history.test_acc) + 1)
    ax_acc.plot(epochs, history.train_acc, "o-", label="train")
    ax_acc.plot(epochs, history.test_acc, "s--", label="test")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1), title="accuracy")
    ax_acc.legend(loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = _common.parser(__doc__)
    parser.add_argument("--dataset", choices=("fashion-mnist", "mnist"), default="fashion-mnist")
    parser.add_argument("--epochs", type=int, default=17, help="17 ≈ the book's 10,000 updates")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--hidden", type=int, default=50)
    _common.add_seed(parser)
    parser.add_argument("--sampling", choices=("shuffle", "replacement"), default="shuffle")
    parser.add_argument("--train-size", type=int, default=None,
                        help="use only the first N training images (quick runs)")
    parser.add_argument("--download", action="store_true", help="fetch missing data files")
    _common.add_out_file(parser, "ch5_train_twolayer.png")
    args = parser.parse_args(argv)

    try:
        (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=True,
                                                          dataset=args.dataset,
                                                          download=args.download)
    except DatasetNotFoundError as exc:
        hint = "" if args.download else " (this script fetches them with --download)"
        print(f"ch5_train_twolayer: {exc}\n{hint.strip()}", file=sys.stderr)
        return 2
    if args.train_size:
        x_train, t_train = x_train[:args.train_size], t_train[:args.train_size]
    rng = np.random.default_rng(args.seed)
    network = TwoLayerNet(784, args.hidden, 10, rng=rng)
    trainer = Trainer(network, x_train, t_train, x_test, t_test, epochs=args.epochs,
                      mini_batch_size=args.batch_size, optimizer=SGD(args.lr), verbose=True,
                      rng=rng, sampling=args.sampling)
    history = trainer.train()

    title = (f"ch5 TwoLayerNet 784-{args.hidden}-10 on {args.dataset} ({len(x_train)} images), "
             f"SGD lr {args.lr}, batch {args.batch_size}, {args.sampling}")
    plot(history, args.out, title)
    _common.write_json(args.out.with_suffix(".json"),
                       {"args": {k: str(v) for k, v in vars(args).items()},
                        **history.as_dict()}, indent=1)
    print(f"final test accuracy {history.final_test_acc:.4f} "
          f"(train {history.train_acc[-1]:.4f}) after {len(history.train_loss)} updates")
    print(f"saved {args.out} and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
