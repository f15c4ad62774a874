"""ch3.6.1 / ch8.1.2 MNISTDataModule: same files as load_mnist, seeded splits, augmentation."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pytest
import torch

from scratch import dataset as ds
from scratch.dataset import DatasetNotFoundError, load_mnist
from zerotorch import data as zdata
from zerotorch.data import MNISTDataModule

N_TRAIN, N_TEST = 120, 30


def _idx(array: np.ndarray) -> bytes:
    magic = ds.IMAGE_MAGIC if array.ndim == 3 else ds.LABEL_MAGIC
    return np.array([magic, *array.shape], dtype=">u4").tobytes() + array.tobytes()


@pytest.fixture
def fake_root(tmp_path):
    """A torchvision layout ``<root>/MNIST/raw`` with tiny random train/test splits, written both
    gzipped (what scratch reads first) and extracted (what torchvision reads)."""
    rng = np.random.default_rng(7)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    arrays = {}
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        arrays[split] = (images, labels)
        for name, array in zip(ds.split_files(split), (images, labels), strict=True):
            (raw / name).write_bytes(gzip.compress(_idx(array)))
            (raw / name[:-3]).write_bytes(_idx(array))
    return tmp_path, arrays


def make(root, **kwargs) -> MNISTDataModule:
    kwargs.setdefault("val_size", 20)
    return MNISTDataModule(data_root=str(root), **kwargs)


@pytest.fixture(autouse=True)
def _skip_md5_for_fake_files(monkeypatch, request):
    """The fake files carry official names but not official bytes; real-data tests keep md5."""
    if "mnist_dir" in request.fixturenames:
        return
    original = ds.read_split
    monkeypatch.setattr(ds, "read_split", lambda *a, verify=True, **k: original(*a, verify=False,
                                                                                **k))


def collect(loader) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ts = zip(*loader, strict=True)
    return torch.cat(xs), torch.cat(ts)


# --------------------------------------------------------------------------- same files


def test_module_reads_the_folder_scratch_resolves(fake_root):
    root, _ = fake_root
    dm = make(root)
    for split in ("train", "test"):
        assert dm.raw_folder(split) == ds.raw_folder("mnist", split, root) == root / "MNIST" / "raw"


def test_module_load_mnist_and_torchvision_agree_on_the_fake_layout(fake_root):
    from torchvision.datasets import MNIST

    root, arrays = fake_root
    dm = make(root, val_size=0)
    dm.setup()
    (x_train, t_train), (x_test, t_test) = load_mnist(normalize=True, flatten=False, root=root,
                                                      verify=False)
    x, t = collect(dm.test_dataloader())
    assert x.dtype == torch.float32 and t.dtype == torch.int64 and x.shape == (N_TEST, 1, 28, 28)
    np.testing.assert_array_equal(x.numpy(), x_test)
    np.testing.assert_array_equal(t.numpy(), t_test)
    reference = MNIST(root, train=False)
    np.testing.assert_array_equal(reference.data.numpy(), arrays["test"][0])
    np.testing.assert_array_equal((reference.data.unsqueeze(1).float() / 255).numpy(), x_test)
    # train: val_size=0 keeps every image in file order; the loader only reorders them
    np.testing.assert_array_equal(dm.data_train.images.numpy(), arrays["train"][0][:, None])
    x, t = collect(dm.train_dataloader())
    rows = sorted((r.tobytes(), int(k)) for r, k in zip(x.numpy().reshape(N_TRAIN, -1), t,
                                                                   strict=True))
    ref = sorted((r.tobytes(), int(k)) for r, k in zip(x_train.reshape(N_TRAIN, -1), t_train,
                                                                  strict=True))
    assert rows == ref
    np.testing.assert_array_equal(MNIST(root, train=True).targets.numpy(), t_train)


def test_real_mnist_test_set_module_equals_load_mnist_and_torchvision(mnist_dir, tmp_path):
    """The 10,000 real test images: data module == load_mnist == torchvision, bit for bit."""
    from torchvision.datasets import MNIST

    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ds.split_files("test"):
        (raw / name).symlink_to(mnist_dir / name)  # the real .gz: md5 verified by scratch
        (raw / name[:-3]).write_bytes(gzip.decompress((mnist_dir / name).read_bytes()))
    rng = np.random.default_rng(0)  # torchvision insists on train files: a 1-image stand-in
    for name, array in zip(ds.split_files("train"), (rng.integers(0, 256, (1, 28, 28), np.uint8),
                                                      np.zeros(1, np.uint8)), strict=True):
        (raw / name[:-3]).write_bytes(_idx(array))
    dm = MNISTDataModule(data_root=str(tmp_path), test_only=True, batch_size=1000)
    dm.setup("test")
    x, t = collect(dm.test_dataloader())
    _, (x_np, t_np) = load_mnist(flatten=False, root=tmp_path, test_only=True)
    reference = MNIST(tmp_path, train=False)
    assert x.shape == (10_000, 1, 28, 28)
    np.testing.assert_array_equal(x.numpy(), x_np)
    np.testing.assert_array_equal(t.numpy(), t_np)
    np.testing.assert_array_equal(x.numpy(), (reference.data.unsqueeze(1).float() / 255).numpy())
    np.testing.assert_array_equal(t.numpy(), reference.targets.numpy())


def test_book_division_vs_torchvision_todtype_scale(mnist_dir):
    """Book: ``x.astype(float32) / 255``; torchvision ``ToDtype(float32, scale=True)`` multiplies
    by 1/255 instead: up to 1 ulp (5.96e-8) apart on some pixel values. We divide, as the book."""
    from torchvision.transforms import v2

    values = torch.arange(256, dtype=torch.uint8).reshape(1, 16, 16)
    book = values.float() / 255
    tv = v2.ToDtype(torch.float32, scale=True)(v2.ToImage()(values))
    diff = (tv - book).abs()
    assert 0 < diff.max().item() <= 2.0**-24
    assert 0 < int((diff > 0).sum()) < 256
    _, (x, _) = load_mnist(flatten=False, test_only=True)
    dm = MNISTDataModule(test_only=True, batch_size=10_000)
    dm.setup("test")
    np.testing.assert_array_equal(next(iter(dm.test_dataloader()))[0].numpy(), x)


# --------------------------------------------------------------------------- splits


def test_splits_are_deterministic_disjoint_and_complete(fake_root):
    root, arrays = fake_root
    a, b, c = make(root, seed=3), make(root, seed=3), make(root, seed=4)
    ia, ib, ic = a.split_indices(N_TRAIN), b.split_indices(N_TRAIN), c.split_indices(N_TRAIN)
    assert all(torch.equal(p, q) for p, q in zip(ia, ib, strict=True))
    assert not torch.equal(ia[1], ic[1])
    train, val = ia
    assert len(val) == 20 and len(train) == N_TRAIN - 20
    assert torch.equal(torch.cat([train, val]).sort().values, torch.arange(N_TRAIN))
    a.setup("fit")
    x_val, _ = collect(a.val_dataloader())
    expected = torch.from_numpy(arrays["train"][0][val.numpy()]).unsqueeze(1).float() / 255
    assert torch.equal(x_val, expected)


def test_train_size_limits_the_training_set(fake_root):
    root, _ = fake_root
    dm = make(root, train_size=30, seed=1)
    dm.setup("fit")
    assert len(dm.data_train) == 30 and len(dm.data_val) == 20
    full_train, _ = make(root, seed=1).split_indices(N_TRAIN)
    assert set(dm.split_indices(N_TRAIN)[0].tolist()) <= set(full_train.tolist())


def test_zero_val_size_disables_validation(fake_root):
    root, _ = fake_root
    dm = make(root, val_size=0)
    dm.setup("fit")
    assert dm.val_dataloader() == [] and len(dm.data_train) == N_TRAIN


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"val_size": N_TRAIN}, f"val_size={N_TRAIN} leaves no training images out of {N_TRAIN}"),
    ({"train_size": 101}, "train_size=101 exceeds the 100 training images left after val_size=20"),
])
def test_impossible_splits_are_errors(fake_root, kwargs, message):
    root, _ = fake_root
    with pytest.raises(ValueError, match=message):
        make(root, **kwargs).setup("fit")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"dataset": "cifar10"}, "unknown dataset 'cifar10'"), ({"batch_size": 0}, "batch_size"),
    ({"val_size": -1}, "val_size must be >= 0"), ({"train_size": 0}, "train_size must be >= 1"),
])
def test_bad_arguments_are_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MNISTDataModule(**kwargs)


# --------------------------------------------------------------------------- loaders


def test_layout_flatten_and_normalize_options(fake_root):
    root, arrays = fake_root
    for kwargs, shape, scale in (({}, (10, 1, 28, 28), 255.0), ({"flatten": True}, (10, 784), 255),
                                 ({"normalize": False}, (10, 1, 28, 28), 1.0)):
        dm = make(root, batch_size=10, **kwargs)
        dm.setup("test")
        x, t = next(iter(dm.test_dataloader()))
        assert x.shape == shape and x.dtype == torch.float32 and t.dtype == torch.int64
        expected = torch.from_numpy(arrays["test"][0][:10]).float() / scale
        assert torch.equal(x.reshape(10, 28, 28), expected)
        assert dm.dims == shape[1:]


def test_training_shuffle_is_seeded_and_changes_every_epoch(fake_root):
    root, _ = fake_root

    def epochs(seed, n=2):
        dm = make(root, seed=seed, batch_size=10)
        dm.setup("fit")
        loader = dm.train_dataloader()
        return [collect(loader)[1] for _ in range(n)]

    first, second = epochs(0), epochs(0)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    assert not torch.equal(first[0], first[1])  # a new order each epoch
    assert not torch.equal(first[0], epochs(1, 1)[0])


def test_state_dict_restores_the_shuffling_generator(fake_root):
    root, _ = fake_root
    dm = make(root, batch_size=10)
    dm.setup("fit")
    loader = dm.train_dataloader()
    collect(loader)
    state = dm.state_dict()
    expected = collect(loader)[1]
    resumed = make(root, batch_size=10)
    resumed.setup("fit")
    resumed.load_state_dict(state)
    assert torch.equal(collect(resumed.train_dataloader())[1], expected)


def test_augmentation_changes_training_images_only(fake_root):
    root, _ = fake_root
    plain, augmented = make(root), make(root, augment=True)
    plain.setup()
    augmented.setup()
    index = list(range(40))
    torch.manual_seed(0)
    x_aug, t_aug = (torch.stack(v) for v in zip(*augmented.data_train.__getitems__(index),
                                                        strict=True))
    x_plain, t_plain = (torch.stack(v) for v in zip(*plain.data_train.__getitems__(index),
                                                            strict=True))
    assert x_aug.shape == x_plain.shape == (40, 1, 28, 28)
    assert x_aug.dtype == torch.float32 and 0 <= x_aug.min() and x_aug.max() <= 1
    changed = (x_aug != x_plain).flatten(1).any(1)
    assert changed.float().mean() > 0.9
    assert torch.equal(t_aug, t_plain)
    # single-item path applies it too; validation and test images are never augmented
    assert not torch.equal(augmented.data_train[0][0], plain.data_train[0][0])
    assert augmented.data_val.transform is None and augmented.data_test.transform is None
    assert torch.equal(collect(augmented.val_dataloader())[0], collect(plain.val_dataloader())[0])
    assert torch.equal(collect(augmented.test_dataloader())[0],
                       collect(plain.test_dataloader())[0])
    # reproducible under a fixed seed
    torch.manual_seed(0)
    again = torch.stack([sample[0] for sample in augmented.data_train.__getitems__(index)])
    assert torch.equal(again, x_aug)


def test_augmentation_is_a_small_rotation_and_shift():
    from torchvision.transforms import v2

    t = zdata.augmentation()
    assert isinstance(t, v2.RandomAffine)
    assert list(t.degrees) == [-10.0, 10.0] and tuple(t.translate) == (0.1, 0.1)


# --------------------------------------------------------------------------- downloads, test_only


def test_only_prepare_data_downloads(fake_root, monkeypatch):
    root, _ = fake_root
    calls = []
    monkeypatch.setattr(ds, "download", lambda *args: calls.append(args))
    dm = make(root)
    dm.prepare_data()
    dm.setup()
    assert calls == []  # download=False: nothing fetched, setup never downloads
    make(root, download=True).prepare_data()
    make(root, download=True, test_only=True).prepare_data()
    assert calls == [("mnist", "train", str(root)), ("mnist", "test", str(root)),
                     ("mnist", "test", str(root))]


def test_missing_training_files_suggest_test_only(tmp_path, monkeypatch):
    monkeypatch.delenv("ZEROTORCH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    dm = MNISTDataModule(data_root=str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match=r"(?s)mnist train split not found.*"
                                                   r"MNISTDataModule\(test_only=True\)"):
        dm.setup("fit")


def test_test_only_carves_train_and_val_from_the_test_set_with_a_warning(fake_root):
    root, arrays = fake_root
    dm = make(root, test_only=True, val_size=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dm.setup("test")  # evaluating only: no warning
    with pytest.warns(UserWarning, match="carved from the mnist TEST set"):
        dm.setup("fit")
    assert len(dm.data_train) == N_TEST - 10 and len(dm.data_val) == 10 and len(dm.data_test) == 30
    test_images = {bytes(img.numpy()) for img in dm.data_test.images}
    assert all(bytes(img.numpy()) in test_images for img in dm.data_train.images)


def test_fashion_mnist_module_from_debian(fashion_dir, monkeypatch, tmp_path):
    monkeypatch.delenv("ZEROTORCH_DATA", raising=False)
    dm = MNISTDataModule(dataset="fashion-mnist", val_size=5000, batch_size=500, flatten=True)
    dm.setup()
    assert dm.raw_folder("train") == fashion_dir
    assert (len(dm.data_train), len(dm.data_val), len(dm.data_test)) == (55_000, 5000, 10_000)
    assert dm.classes[9] == "Ankle boot" and dm.num_classes == 10
    x, t = next(iter(dm.train_dataloader()))
    assert x.shape == (500, 784) and t.dtype == torch.int64
