"""ch3.6.1 MNIST / Fashion-MNIST as a Lightning data module, reading the very files scratch reads.

``MNISTDataModule`` finds and reads the IDX files with ``scratch.dataset.raw_folder`` /
``read_split`` (same search order, same validation, same md5 checks), so ``load_mnist`` and this
module can never disagree about which files, or which bytes, they use. Images come out as
``(N, 1, 28, 28)`` float32 in [0, 1] (``flatten=True``: ``(N, 784)``; ``normalize=False``: float32
in [0, 255]) and labels as int64.

Splits are deterministic: a ``torch.Generator`` seeded with ``seed`` permutes the training set
once; the first ``val_size`` indices are the validation set, the next ``train_size`` (all, by
default) the training set. The training loader shuffles with its own seeded generator, whose
state is saved in Lightning checkpoints (``state_dict``), so a resumed run draws the same epochs.
"""

from __future__ import annotations

import os
import warnings

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from scratch import dataset as _ds

__all__ = ["CLASS_NAMES", "ImageDataset", "MNISTDataModule", "augmentation"]

CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": tuple(str(i) for i in range(10)),
    "fashion-mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"),
}
AUGMENT_DEGREES = 10.0  # small rotations keep digits readable (a 6 must not become a 9)
AUGMENT_TRANSLATE = 0.1  # up to 10 % = 2.8 pixels shift in each direction


def augmentation():
    """ch8.1.2 Data augmentation: a small random rotation and shift (torchvision transforms v2).

    Works on one ``(1, 28, 28)`` uint8 image. Draws from torch's global RNG, which the
    ``DataLoader`` seeds per worker from the training loader's seeded generator
    (``num_workers > 0``); with ``num_workers=0`` seed the process (``seed_everything``).
    """
    from torchvision.transforms import v2

    return v2.RandomAffine(degrees=AUGMENT_DEGREES,
                           translate=(AUGMENT_TRANSLATE, AUGMENT_TRANSLATE),
                           interpolation=v2.InterpolationMode.BILINEAR, fill=0)


class ImageDataset(Dataset):
    """ch3.6.1 Images (uint8, kept compact) and labels, converted to float per sample.

    Args:
        images: (N, 1, 28, 28) uint8 tensor.
        labels: (N,) int64 tensor.
        normalize: divide by 255 (float32 in [0, 1]); otherwise float32 in [0, 255].
        flatten: return each image as (784,) instead of (1, 28, 28).
        transform: applied to the uint8 image before the conversion (augmentation).
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, *, normalize: bool = True,
                 flatten: bool = False, transform=None):
        if images.ndim != 4 or images.shape[1:] != (1, 28, 28) or images.dtype != torch.uint8:
            raise ValueError(f"images must be (N, 1, 28, 28) uint8, got {tuple(images.shape)} "
                             f"{images.dtype}")
        if labels.shape != (images.shape[0],):
            raise ValueError(f"labels must be ({images.shape[0]},), got {tuple(labels.shape)}")
        self.images, self.labels = images, labels.long()
        self.normalize, self.flatten, self.transform = normalize, flatten, transform

    def __len__(self) -> int:
        return self.images.shape[0]

    def _convert(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(torch.float32)
        if self.normalize:
            x = x / 255
        return x.flatten(-3) if self.flatten else x  # (..., 784) or (..., 1, 28, 28)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        image = self.images[index]
        if self.transform is not None:
            image = self.transform(image)
        return self._convert(image), self.labels[index]

    def __getitems__(self, indices: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A whole batch at once (the DataLoader uses this when present): one conversion."""
        index = torch.as_tensor(indices, dtype=torch.long)
        images = self.images[index]  # (B, 1, 28, 28)
        if self.transform is not None:
            images = torch.stack([self.transform(image) for image in images])
        return list(zip(self._convert(images).unbind(0), self.labels[index].unbind(0),
                        strict=True))


class MNISTDataModule(pl.LightningDataModule):
    """ch3.6.1 MNIST or Fashion-MNIST for Lightning: seeded splits, same files as ``load_mnist``.

    Args:
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        data_root: data root (torchvision layout ``<root>/MNIST/raw`` or a plain folder of IDX
            files); ``None`` searches the settings like ``scratch.dataset.load_mnist``.
        batch_size: images per batch (the book uses 100).
        num_workers: DataLoader worker processes.
        val_size: images of the training set held out for validation (0: no validation).
        train_size: keep only this many training images (the book's overfitting experiments
            use 300); ``None`` keeps all. A seeded random subset, not the book's first 300.
        seed: seeds the split and the training loader's shuffling.
        augment: random rotation/shift (``augmentation()``) on training images only.
        normalize: pixels in [0, 1]; otherwise float32 in [0, 255].
        flatten: images as (784,) vectors, for MLPs.
        download: fetch missing files in ``prepare_data`` (the only place that downloads).
        test_only: use the test files alone (e.g. only the MNIST test set is at hand): the test
            loader yields all 10,000 test images, and training/validation data are carved from
            those same images with a warning (test accuracy then measures nothing held out).
    """

    def __init__(self, dataset: str = "mnist", data_root: str | None = None,
                 batch_size: int = 100, num_workers: int = 0, val_size: int = 5000,
                 train_size: int | None = None, seed: int = 0, augment: bool = False,
                 normalize: bool = True, flatten: bool = False, download: bool = False,
                 test_only: bool = False):
        super().__init__()
        if dataset not in _ds.DATASETS:
            raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(_ds.DATASETS)}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if val_size < 0:
            raise ValueError(f"val_size must be >= 0, got {val_size}")
        if train_size is not None and train_size < 1:
            raise ValueError(f"train_size must be >= 1 or None, got {train_size}")
        self.save_hyperparameters()
        self.dataset, self.data_root = dataset, data_root
        self.batch_size, self.num_workers = batch_size, num_workers
        self.val_size, self.train_size, self.seed = val_size, train_size, seed
        self.augment, self.normalize, self.flatten = augment, normalize, flatten
        self.download, self.test_only = download, test_only
        self.classes = CLASS_NAMES[dataset]
        self.num_classes = len(self.classes)
        self.dims = (784,) if flatten else (1, 28, 28)
        self.train_generator = torch.Generator().manual_seed(seed)
        self.data_train: ImageDataset | None = None
        self.data_val: ImageDataset | None = None
        self.data_test: ImageDataset | None = None

    # -- files ---------------------------------------------------------------------------------

    def _splits_needed(self) -> tuple[str, ...]:
        return ("test",) if self.test_only else ("train", "test")

    def prepare_data(self) -> None:
        """Download missing files (only with ``download=True``); nothing else happens here."""
        if self.download:
            for split in self._splits_needed():
                _ds.download(self.dataset, split, self.data_root)

    def raw_folder(self, split: str) -> os.PathLike:
        """The folder whose IDX files this module reads for ``split`` (same as scratch)."""
        return _ds.raw_folder(self.dataset, split, self.data_root)

    def _read(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = _ds.read_split(self.dataset, split, self.data_root)
        return (torch.from_numpy(images).unsqueeze(1),  # (N, 28, 28) -> (N, 1, 28, 28)
                torch.from_numpy(labels).long())

    # -- splits --------------------------------------------------------------------------------

    def split_indices(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Deterministic ``(train, val)`` indices into a set of ``n`` images, from ``seed``."""
        if self.val_size >= n:
            raise ValueError(f"val_size={self.val_size} leaves no training images out of {n}")
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed))
        val, train = perm[: self.val_size], perm[self.val_size:]
        if self.train_size is not None:
            if self.train_size > len(train):
                raise ValueError(f"train_size={self.train_size} exceeds the {len(train)} training "
                                 f"images left after val_size={self.val_size} (of {n})")
            train = train[: self.train_size]
        return train.sort().values, val.sort().values

    def setup(self, stage: str | None = None) -> None:
        """Read the files and build the splits (idempotent; ``stage`` limits what is read)."""
        common = {"normalize": self.normalize, "flatten": self.flatten}
        if stage in (None, "test", "predict") and self.data_test is None:
            self.data_test = ImageDataset(*self._read("test"), **common)
        if stage in (None, "fit", "validate") and self.data_train is None:
            if self.test_only:
                warnings.warn(
                    f"MNISTDataModule(test_only=True): training and validation images are carved "
                    f"from the {self.dataset} TEST set; test accuracy is not a held-out measure",
                    UserWarning, stacklevel=2)
                images, labels = self._read("test")
            else:
                images, labels = self._read("train")
            train, val = self.split_indices(len(labels))
            transform = augmentation() if self.augment else None
            self.data_train = ImageDataset(images[train], labels[train], transform=transform,
                                           **common)
            self.data_val = ImageDataset(images[val], labels[val], **common)

    # -- loaders -------------------------------------------------------------------------------

    def _loader(self, data: ImageDataset | None, name: str, **kwargs) -> DataLoader:
        if data is None:
            raise RuntimeError(f"call setup() before {name}_dataloader()")
        return DataLoader(data, batch_size=self.batch_size, num_workers=self.num_workers,
                          persistent_workers=self.num_workers > 0,
                          pin_memory=torch.cuda.is_available(), **kwargs)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.data_train, "train", shuffle=True,
                            generator=self.train_generator)

    def val_dataloader(self) -> DataLoader | list:
        if self.val_size == 0:
            return []  # Lightning skips validation
        return self._loader(self.data_val, "val")

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.data_test, "test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader(self.data_test, "test")

    # -- checkpointing -------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """The shuffling generator's state, so a resumed run draws the same epochs."""
        return {"train_generator": self.train_generator.get_state()}

    def load_state_dict(self, state_dict: dict) -> None:
        self.train_generator.set_state(state_dict["train_generator"])
