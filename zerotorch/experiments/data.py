"""Data modules of the experiment platform (besides ``zerotorch.data.MNISTDataModule``).

- ``SyntheticDataModule``: learnable stand-in images when no MNIST is at hand (CI, smoke tests);
- ``WithTrainEval``: wraps any data module so that validation also measures the book's "train
  acc" (eval mode, on training images);
- ``describe_data``: what a run was trained on, for figures and summaries.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Subset, TensorDataset


class SyntheticDataModule(pl.LightningDataModule):
    """A learnable stand-in for MNIST when no data is at hand (CI, smoke tests).

    Ten fixed random 28×28 prototypes plus Gaussian noise, clipped to [0, 1]; same interface as
    ``MNISTDataModule`` (seeded split, ``train_size``, ``flatten``, shuffling generator whose
    state goes into checkpoints).
    """

    def __init__(
        self,
        dataset: str = "synthetic",
        batch_size: int = 100,
        val_size: int = 200,
        train_size: int | None = 1000,
        test_size: int = 200,
        seed: int = 0,
        flatten: bool = False,
        noise: float = 0.35,
        num_workers: int = 0,
    ):
        super().__init__()
        sizes = (
            ("batch_size", batch_size),
            ("test_size", test_size),
            ("train_size", 1 if train_size is None else train_size),
        )
        for name, n in sizes:
            if n < 1:
                raise ValueError(f"{name} must be >= 1, got {n}")
        if val_size < 0:
            raise ValueError(f"val_size must be >= 0, got {val_size}")
        self.save_hyperparameters()
        self.batch_size, self.flatten, self.seed = batch_size, flatten, seed
        self.train_generator = torch.Generator().manual_seed(seed)
        self.data_train = self.data_val = self.data_test = None

    def _make(self, n: int, g: torch.Generator) -> TensorDataset:
        protos = torch.rand(10, 1, 28, 28, generator=torch.Generator().manual_seed(12345))
        t = torch.randint(0, 10, (n,), generator=g)
        x = (protos[t] + self.hparams.noise * torch.randn(n, 1, 28, 28, generator=g)).clamp(0, 1)
        return TensorDataset(x.flatten(1) if self.flatten else x, t)  # (N, 784) or (N, 1, 28, 28)

    def setup(self, stage: str | None = None) -> None:
        if self.data_train is None:
            g = torch.Generator().manual_seed(self.seed)
            self.data_train = self._make(self.hparams.train_size or 1000, g)
            self.data_val = self._make(self.hparams.val_size, g)
            self.data_test = self._make(self.hparams.test_size, g)

    def train_dataloader(self):
        return DataLoader(
            self.data_train,
            batch_size=self.batch_size,
            shuffle=True,
            generator=self.train_generator,
        )

    def val_dataloader(self):
        return DataLoader(self.data_val, batch_size=self.batch_size)

    def test_dataloader(self):
        return DataLoader(self.data_test, batch_size=self.batch_size)

    def state_dict(self) -> dict:
        return {"train_generator": self.train_generator.get_state()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.train_generator.set_state(state_dict["train_generator"])


class WithTrainEval(pl.LightningDataModule):
    """Wraps a data module: validation also evaluates ``size`` training images (eval mode).

    The book's "train acc" is measured with ``train_flg=False`` on training data after each epoch;
    Lightning's running training accuracy is taken in training mode (dropout on) while the
    weights move. Validation loaders: ``[train_eval, val]`` (named in ``LitClassifier.eval_names``).
    """

    def __init__(self, inner: pl.LightningDataModule, size: int):
        super().__init__()
        self.inner, self.size = inner, size

    def prepare_data(self) -> None:
        self.inner.prepare_data()

    def setup(self, stage: str | None = None) -> None:
        self.inner.trainer = self.trainer
        self.inner.setup(stage)

    def train_dataloader(self):
        return self.inner.train_dataloader()

    def val_dataloader(self):
        val = self.inner.val_dataloader()
        val = [val] if isinstance(val, DataLoader) else list(val)
        if self.size <= 0:
            return val
        train = self.inner.train_dataloader()
        data = Subset(train.dataset, range(min(self.size, len(train.dataset))))
        batch = max(train.batch_size or 100, 100)
        return [DataLoader(data, batch_size=batch), *val]

    def test_dataloader(self):
        return self.inner.test_dataloader()

    def state_dict(self) -> dict:
        return self.inner.state_dict()

    def load_state_dict(self, state_dict: dict) -> None:
        self.inner.load_state_dict(state_dict)


def describe_data(dm: pl.LightningDataModule) -> dict[str, Any]:
    """What the run was trained on, for figures and summaries."""
    hp = dict(getattr(dm, "hparams", {}) or {})
    name = hp.get("dataset", type(dm).__name__)
    label = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}.get(name, name)
    if hp.get("test_only"):
        label += " test set only"  # train/val carved from the 10,000 test images
    if isinstance(dm, SyntheticDataModule):  # whatever `dataset` a config passed through
        name, label = "synthetic", "synthetic prototypes (no MNIST available)"
    train = getattr(dm, "data_train", None)
    return {
        "dataset": name,
        "label": label,
        "test_only": bool(hp.get("test_only", False)),
        "train_images": len(train) if train is not None else hp.get("train_size"),
        "batch_size": hp.get("batch_size"),
    }
