"""Shared fixtures: generators, data settings, the gpu marker."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

FASHION_DEBIAN = Path("/usr/share/datasets/fashion-mnist")


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA (no GPU on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_user_cache(tmp_path_factory, monkeypatch):
    """Every test gets its own empty user cache (``$XDG_CACHE_HOME``): weights or datasets a
    developer (or another test) downloaded into the cache must never decide a test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261127)


@pytest.fixture
def mnist_dir() -> Path:
    """The real MNIST test set (``ZEROTORCH_MNIST_DIR``), or skip saying how to provide it."""
    value = os.environ.get("ZEROTORCH_MNIST_DIR")
    if not value or not (Path(value) / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip("ZEROTORCH_MNIST_DIR is not set to a folder with the MNIST t10k IDX files")
    return Path(value)


@pytest.fixture
def book_weights() -> Path:
    """The book's published weight files (``ZEROTORCH_BOOK_WEIGHTS``), or skip."""
    value = os.environ.get("ZEROTORCH_BOOK_WEIGHTS")
    if not value or not Path(value).is_dir():
        pytest.skip("ZEROTORCH_BOOK_WEIGHTS is not set to the folder of the book's weight files")
    return Path(value)


@pytest.fixture
def fashion_dir() -> Path:
    """Debian's full Fashion-MNIST (``apt-get install dataset-fashion-mnist``), or skip."""
    if not (FASHION_DEBIAN / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"Fashion-MNIST not installed in {FASHION_DEBIAN} (apt-get install "
                    "dataset-fashion-mnist)")
    return FASHION_DEBIAN
