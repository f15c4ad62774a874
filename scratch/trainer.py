"""ch6–ch8 ``Trainer``: the book's training loop with explicit randomness and a returned history.

The book's ``common/trainer.py`` draws every mini-batch *with replacement* from the global NumPy
RNG, counts an "epoch" as ``train_size / batch_size`` (a float) iterations, evaluates right after
the first update and prints progress. Here:

- ``rng``: an explicit ``numpy.random.Generator`` (nothing is seeded globally);
- ``sampling="shuffle"`` (default): each epoch is one pass over a fresh permutation, in batches of
  ``mini_batch_size`` (the last one smaller when the size does not divide), evaluated after the
  epoch's last update; ``sampling="replacement"``: the book's scheme and evaluation schedule;
- a tqdm progress bar (``verbose``; skipped if tqdm is not installed) instead of prints;
- ``train()`` returns a ``History``.

Each step records the loss on its batch *after* the update, as the book does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from scratch import optimizer as opt_mod  # the ch6 optimizers, by name

SAMPLING = ("shuffle", "replacement")


@dataclass
class History:
    """ch6–ch8 what ``Trainer.train`` measured (the book's loss and accuracy lists)."""

    train_loss: list[float] = field(default_factory=list)  # one per update
    train_acc: list[float] = field(default_factory=list)  # one per evaluation
    test_acc: list[float] = field(default_factory=list)
    eval_iters: list[int] = field(default_factory=list)  # updates done before each evaluation
    final_test_acc: float | None = None  # on the whole test set after training

    @property
    def epochs(self) -> int:
        return len(self.test_acc)

    def as_dict(self) -> dict:
        return asdict(self)


def make_optimizer(optimizer, optimizer_param: dict | None = None):
    """ch6.1 an object with ``update(params, grads)``: returned as is, or built from its name.

    ``optimizer_param`` defaults to the book's ``{'lr': 0.01}``; ``{}`` means the class defaults.
    """
    if hasattr(optimizer, "update"):
        return optimizer
    classes = {name.lower(): getattr(opt_mod, name) for name in opt_mod.__all__}
    try:
        cls = classes[str(optimizer).lower()]
    except KeyError:
        raise ValueError(f"unknown optimizer {optimizer!r}; known: {sorted(classes)}") from None
    return cls(**({"lr": 0.01} if optimizer_param is None else optimizer_param))


class Trainer:
    """ch6–ch8 training loop: mini-batch updates with per-epoch evaluation.

    Args:
        network: has ``gradient(x, t)``, ``loss(x, t)``, ``accuracy(x, t)`` and ``params``.
        x_train, t_train, x_test, t_test: arrays (labels as indices or one-hot).
        epochs, mini_batch_size: as the book.
        optimizer: an object with ``update(params, grads)``, or a book name (``'SGD'``, ``'Adam'``
            …) built with ``optimizer_param`` from ``scratch.optimizer``.
        evaluate_sample_num_per_epoch: evaluate on the first this-many samples of each set
            (``None``: all), as the book.
        verbose: show a tqdm progress bar.
        rng: the generator drawing the batches (a fresh unseeded one when ``None``).
        sampling: ``"shuffle"`` (default) or ``"replacement"`` (the book's).
    """

    def __init__(self, network, x_train, t_train, x_test, t_test, epochs: int = 20,
                 mini_batch_size: int = 100, optimizer="SGD", optimizer_param: dict | None = None,
                 evaluate_sample_num_per_epoch: int | None = None, verbose: bool = True,
                 rng: np.random.Generator | None = None, sampling: str = "shuffle"):
        if sampling not in SAMPLING:
            raise ValueError(f"sampling must be one of {SAMPLING}, got {sampling!r}")
        if len(x_train) != len(t_train) or len(x_test) != len(t_test):
            raise ValueError(f"x/t lengths differ: train {len(x_train)}/{len(t_train)}, "
                             f"test {len(x_test)}/{len(t_test)}")
        self.network = network
        self.x_train, self.t_train = x_train, t_train
        self.x_test, self.t_test = x_test, t_test
        self.epochs = epochs
        self.batch_size = mini_batch_size
        self.optimizer = make_optimizer(optimizer, optimizer_param)
        self.evaluate_sample_num_per_epoch = evaluate_sample_num_per_epoch
        self.verbose = verbose
        self.rng = rng if rng is not None else np.random.default_rng()
        self.sampling = sampling
        self.train_size = len(x_train)
        # the book's (float) epoch length, used by sampling="replacement"
        self.iter_per_epoch = max(self.train_size / mini_batch_size, 1)
        if sampling == "shuffle":
            self.max_iter = epochs * -(-self.train_size // mini_batch_size)
        else:
            self.max_iter = int(epochs * self.iter_per_epoch)
        self.current_iter = 0
        self.history = History()

    def _batches(self):
        """Index arrays of the successive mini-batches, ``max_iter`` of them."""
        if self.sampling == "replacement":
            for _ in range(self.max_iter):
                yield self.rng.choice(self.train_size, self.batch_size), False
            return
        for _ in range(self.epochs):
            order = self.rng.permutation(self.train_size)
            starts = range(0, self.train_size, self.batch_size)
            for i, s in enumerate(starts):
                yield order[s:s + self.batch_size], i == len(starts) - 1

    def train_step(self, batch_idx) -> float:
        """One update on the given sample indices; returns the batch loss after the update."""
        x_batch, t_batch = self.x_train[batch_idx], self.t_train[batch_idx]
        grads = self.network.gradient(x_batch, t_batch)
        self.optimizer.update(self.network.params, grads)
        loss = float(self.network.loss(x_batch, t_batch))
        self.history.train_loss.append(loss)
        self.current_iter += 1
        return loss

    def evaluate(self) -> tuple[float, float]:
        """Train and test accuracy (on the first ``evaluate_sample_num_per_epoch`` samples)."""
        n = self.evaluate_sample_num_per_epoch
        x_tr, t_tr = (self.x_train, self.t_train) if n is None else (self.x_train[:n],
                                                                     self.t_train[:n])
        x_te, t_te = (self.x_test, self.t_test) if n is None else (self.x_test[:n],
                                                                   self.t_test[:n])
        train_acc = float(self.network.accuracy(x_tr, t_tr))
        test_acc = float(self.network.accuracy(x_te, t_te))
        self.history.train_acc.append(train_acc)
        self.history.test_acc.append(test_acc)
        self.history.eval_iters.append(self.current_iter)
        return train_acc, test_acc

    def train(self) -> History:
        """Run every epoch; returns the ``History`` (also kept as ``self.history``)."""
        bar = _progress(self.max_iter, self.verbose)
        postfix: dict[str, str] = {}
        for batch_idx, epoch_end in self._batches():
            # the book evaluates when the iteration count *before* this update is a multiple of
            # the (float) epoch length, i.e. right after the first update and then every epoch
            book_eval = (self.sampling == "replacement"
                         and self.current_iter % self.iter_per_epoch == 0)
            loss = self.train_step(batch_idx)
            postfix["loss"] = f"{loss:.4f}"
            if book_eval or epoch_end:
                train_acc, test_acc = self.evaluate()
                postfix.update(train_acc=f"{train_acc:.4f}", test_acc=f"{test_acc:.4f}")
            if bar is not None:
                bar.set_postfix(postfix, refresh=False)
                bar.update(1)
        if bar is not None:
            bar.close()
        self.history.final_test_acc = float(self.network.accuracy(self.x_test, self.t_test))
        return self.history


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # NumPy alone is enough to train; the bar is optional
        return None
    return tqdm(total=total, desc="train", unit="step")
