"""ch3.6.1 load_mnist: the book's semantics, where files are found, downloads, and bad files."""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scratch import dataset as ds
from scratch.dataset import CorruptDatasetError, DatasetNotFoundError, load_mnist

ENV_VARS = ("ZEROTORCH_DATA", "ZEROTORCH_MNIST_DIR")


# --------------------------------------------------------------------------- tiny IDX files


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """An IDX file: big-endian magic, one uint32 per dimension, then the uint8 payload."""
    array = np.asarray(array, dtype=np.uint8)
    if magic is None:
        magic = ds.IMAGE_MAGIC if array.ndim == 3 else ds.LABEL_MAGIC
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    return header + array.tobytes()


def write(path: Path, payload: bytes, gz: bool = True) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


def tiny_split(folder: Path, split: str = "test", n: int = 5, seed: int = 0, gz: bool = True):
    """Write a valid tiny split (n images, n labels); return (images, labels)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    image_name, label_name = ds.split_files(split)
    suffix = slice(None) if gz else slice(None, -3)
    write(folder / image_name[suffix], idx_bytes(images), gz)
    write(folder / label_name[suffix], idx_bytes(labels), gz)
    return images, labels


@pytest.fixture
def no_env(monkeypatch, tmp_path):
    """No data settings; the user cache points into tmp_path (never the real home)."""
    for var in ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(ds, "DEBIAN_FASHION", tmp_path / "no-debian")
    return tmp_path


# --------------------------------------------------------------------------- the book's semantics


@pytest.fixture
def tiny_root(tmp_path):
    raw = tmp_path / "data" / "MNIST" / "raw"
    train = tiny_split(raw, "train", n=7, seed=1)
    test = tiny_split(raw, "test", n=5, seed=2)
    return tmp_path / "data", train, test


def test_normalize_gives_float32_in_unit_interval(tiny_root):
    root, (xi, _), (yi, _) = tiny_root
    (x, _), (y, _) = load_mnist(normalize=True, root=root, verify=False)
    assert x.dtype == np.float32 and y.dtype == np.float32
    np.testing.assert_array_equal(x, xi.reshape(7, 784).astype(np.float32) / 255.0)
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_without_normalize_images_stay_uint8_like_the_book(tiny_root):
    root, (xi, ti), _ = tiny_root
    (x, t), _ = load_mnist(normalize=False, root=root, verify=False)
    assert x.dtype == np.uint8 and t.dtype == np.uint8
    np.testing.assert_array_equal(x, xi.reshape(7, 784))
    np.testing.assert_array_equal(t, ti)


@pytest.mark.parametrize(("flatten", "shape"), [(True, (7, 784)), (False, (7, 1, 28, 28))])
def test_flatten_layout(tiny_root, flatten, shape):
    root, (xi, _), _ = tiny_root
    (x, _), _ = load_mnist(normalize=False, flatten=flatten, root=root, verify=False)
    assert x.shape == shape
    np.testing.assert_array_equal(x.reshape(7, 28, 28), xi)  # C order: row by row


def test_one_hot_labels_are_float64_rows_with_a_single_one(tiny_root):
    root, (_, ti), (_, si) = tiny_root
    (_, t), (_, s) = load_mnist(one_hot_label=True, root=root, verify=False)
    assert t.shape == (7, 10) and s.shape == (5, 10) and t.dtype == np.float64
    np.testing.assert_array_equal(t.argmax(axis=1), ti)
    np.testing.assert_array_equal(t.sum(axis=1), np.ones(7))
    assert set(np.unique(t)) == {0.0, 1.0}


def test_test_only_returns_none_for_the_training_pair(tmp_path):
    tiny_split(tmp_path, "test", n=3)  # plain folder, no training files at all
    (x, t), (y, s) = load_mnist(root=tmp_path, test_only=True, verify=False)
    assert x is None and t is None and y.shape == (3, 784) and s.shape == (3,)


def test_uncompressed_files_are_read_like_gzipped_ones(tmp_path):
    images, labels = tiny_split(tmp_path / "gz", n=4, seed=3)
    tiny_split(tmp_path / "plain", n=4, seed=3, gz=False)
    a = load_mnist(normalize=False, root=tmp_path / "gz", test_only=True, verify=False)[1]
    b = load_mnist(normalize=False, root=tmp_path / "plain", test_only=True)[1]
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_array_equal(b[0].reshape(4, 28, 28), images)


# --------------------------------------------------------------------------- where files are found


def test_search_order_first_match_wins(no_env, monkeypatch):
    data, mnist_dir = no_env / "data", no_env / "plain"
    a, _ = tiny_split(data / "MNIST" / "raw", n=2, seed=10)
    b, _ = tiny_split(mnist_dir, n=3, seed=11)
    c, _ = tiny_split(no_env / "cache" / "zerotorch" / "MNIST" / "raw", n=4, seed=12)
    monkeypatch.setenv("ZEROTORCH_DATA", str(data))
    monkeypatch.setenv("ZEROTORCH_MNIST_DIR", str(mnist_dir))
    for expected, folder in ((a, data / "MNIST" / "raw"), (b, mnist_dir),
                             (c, no_env / "cache" / "zerotorch" / "MNIST" / "raw")):
        assert ds.raw_folder("mnist", "test") == folder
        _, (x, _) = load_mnist(normalize=False, flatten=False, test_only=True, verify=False)
        np.testing.assert_array_equal(x[:, 0], expected)
        shutil.rmtree(folder)


def test_explicit_root_accepts_both_layouts_and_is_the_only_place_searched(no_env, monkeypatch):
    tiny_split(no_env / "plain", n=2)
    tiny_split(no_env / "tv" / "FashionMNIST" / "raw", n=2)
    assert ds.raw_folder("mnist", "test", no_env / "plain") == no_env / "plain"
    assert (ds.raw_folder("fashion-mnist", "test", no_env / "tv")
            == no_env / "tv" / "FashionMNIST" / "raw")
    monkeypatch.setenv("ZEROTORCH_MNIST_DIR", str(no_env / "plain"))
    with pytest.raises(DatasetNotFoundError):
        ds.raw_folder("mnist", "test", no_env / "empty")


def test_missing_files_message_names_folders_files_and_remedies(no_env, monkeypatch):
    monkeypatch.setenv("ZEROTORCH_DATA", str(no_env / "data"))
    monkeypatch.setenv("ZEROTORCH_MNIST_DIR", str(no_env / "plain"))
    tiny_split(no_env / "plain", "test", n=2)  # only the test split
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist()
    msg = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert "mnist train split not found" in msg
    assert "train-images-idx3-ubyte.gz" in msg and "train-labels-idx1-ubyte.gz" in msg
    for folder in (no_env / "data" / "MNIST" / "raw", no_env / "plain",
                   no_env / "cache" / "zerotorch" / "MNIST" / "raw"):
        assert str(folder) in msg
    assert msg.index(str(no_env / "data")) < msg.index(str(no_env / "plain")) < msg.index(
        str(no_env / "cache"))
    assert "folder does not exist" in msg
    assert "download=True" in msg and "ZEROTORCH_MNIST_DIR" in msg and "ZEROTORCH_DATA" in msg
    assert "test_only=True" in msg


def test_missing_fashion_mnist_points_at_the_debian_package(no_env):
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_mnist(dataset="fashion-mnist", test_only=True)


def test_unknown_dataset_and_split_are_errors():
    with pytest.raises(ValueError, match="unknown dataset 'cifar'"):
        load_mnist(dataset="cifar")
    with pytest.raises(ValueError, match="unknown split 'val'"):
        ds.raw_folder("mnist", "val")


# --------------------------------------------------------------------------- bad files


def _expect_corrupt(root, *needles):
    with pytest.raises(CorruptDatasetError) as info:
        load_mnist(root=root, test_only=True, verify=False)
    for needle in needles:
        assert needle in str(info.value), str(info.value)
    return info.value


def test_wrong_magic_number_in_images(tmp_path):
    tiny_split(tmp_path, n=2)
    images = np.zeros((2, 28, 28), dtype=np.uint8)
    write(tmp_path / "t10k-images-idx3-ubyte.gz", idx_bytes(images, magic=2049))
    _expect_corrupt(tmp_path, "t10k-images-idx3-ubyte.gz", "wrong magic number 2049",
                    "expected 2051")


def test_wrong_magic_number_in_labels(tmp_path):
    tiny_split(tmp_path, n=2)
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.zeros(2), magic=2051))
    _expect_corrupt(tmp_path, "t10k-labels-idx1-ubyte.gz", "wrong magic number 2051",
                    "expected 2049")


def test_truncated_gzip(tmp_path):
    tiny_split(tmp_path, n=4)
    path = tmp_path / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-40])
    error = _expect_corrupt(tmp_path, str(path), "truncated gzip")
    assert error.__cause__ is None


def test_not_a_gzip_file(tmp_path):
    tiny_split(tmp_path, n=2)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(b"<html>404 Not Found</html>")
    _expect_corrupt(tmp_path, "t10k-labels-idx1-ubyte.gz", "not a valid gzip file")


def test_payload_shorter_than_the_header_says(tmp_path):
    tiny_split(tmp_path, n=3)
    data = idx_bytes(np.zeros((3, 28, 28)))[:-784]  # header says 3 images, 2 present
    write(tmp_path / "t10k-images-idx3-ubyte.gz", data)
    _expect_corrupt(tmp_path, "t10k-images-idx3-ubyte.gz", "payload is 1568 bytes",
                    "(3, 28, 28) says 2352", "truncated")


def test_trailing_bytes_after_the_payload(tmp_path):
    tiny_split(tmp_path, n=3)
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.zeros(3)) + b"\x00\x01")
    _expect_corrupt(tmp_path, "t10k-labels-idx1-ubyte.gz", "trailing bytes")


def test_header_shorter_than_idx_header(tmp_path):
    tiny_split(tmp_path, n=2)
    write(tmp_path / "t10k-images-idx3-ubyte.gz", b"\x00\x00\x08\x03\x00")
    _expect_corrupt(tmp_path, "t10k-images-idx3-ubyte.gz", "5 bytes, shorter than the 16-byte")


def test_wrong_image_dimensions(tmp_path):
    tiny_split(tmp_path, n=2)
    write(tmp_path / "t10k-images-idx3-ubyte.gz", idx_bytes(np.zeros((2, 14, 14))))
    _expect_corrupt(tmp_path, "t10k-images-idx3-ubyte.gz", "images are 14x14, expected 28x28")


def test_label_out_of_range(tmp_path):
    tiny_split(tmp_path, n=2)
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.array([3, 12])))
    _expect_corrupt(tmp_path, "t10k-labels-idx1-ubyte.gz", "label 12 out of range 0..9")


def test_image_label_count_mismatch(tmp_path):
    tiny_split(tmp_path, n=3)
    write(tmp_path / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.zeros(2)))
    _expect_corrupt(tmp_path, "t10k-images-idx3-ubyte.gz holds 3 images",
                    "t10k-labels-idx1-ubyte.gz holds 2 labels", "image/label count mismatch")


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(["images", "labels"]), data=st.data())
def test_any_damage_gives_corrupt_dataset_error_or_valid_arrays(tmp_path_factory, kind, data):
    """Fuzz: truncate a valid file anywhere, or overwrite header/payload bytes at random; the
    reader either returns consistent uint8 arrays or raises CorruptDatasetError, nothing else."""
    n = data.draw(st.integers(0, 3))
    rng = np.random.default_rng(n)
    array = (rng.integers(0, 256, (n, 28, 28)) if kind == "images" else rng.integers(0, 10, n))
    raw = bytearray(idx_bytes(array))
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw)))]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            position = data.draw(st.integers(0, len(raw) - 1))
            raw[position] = data.draw(st.integers(0, 255))
    gz = data.draw(st.booleans())
    path = tmp_path_factory.mktemp("fuzz") / ("f.gz" if gz else "f")
    if gz and data.draw(st.booleans()):
        packed = gzip.compress(bytes(raw))
        path.write_bytes(packed[: data.draw(st.integers(0, len(packed)))])
    else:
        write(path, bytes(raw), gz)
    try:
        out = ds.read_idx(path, kind)
    except CorruptDatasetError as error:
        assert str(path) in str(error)
    else:
        assert out.dtype == np.uint8 and out.shape[1:] == ((28, 28) if kind == "images" else ())
        if kind == "labels":
            assert out.max(initial=0) <= 9


def test_wrong_md5_of_a_known_file(tmp_path):
    tiny_split(tmp_path, n=2)  # valid IDX, but not the official file of that name
    with pytest.raises(CorruptDatasetError) as info:
        load_mnist(root=tmp_path, test_only=True)
    msg = str(info.value)
    got = hashlib.md5((tmp_path / "t10k-images-idx3-ubyte.gz").read_bytes()).hexdigest()
    assert "t10k-images-idx3-ubyte.gz: wrong md5 " + got in msg
    assert "expected 9fb629c4189551a2d022fa330f9573f3" in msg and "verify=False" in msg
    load_mnist(root=tmp_path, test_only=True, verify=False)  # structurally fine


def test_wrong_md5_for_fashion_mnist_names_its_own_checksum(tmp_path):
    tiny_split(tmp_path / "FashionMNIST" / "raw", n=2)
    with pytest.raises(CorruptDatasetError, match="expected bef4ecab320f06d8554ea6380940ec79"):
        load_mnist(dataset="fashion-mnist", root=tmp_path, test_only=True)


# --------------------------------------------------------------------------- downloads


class FakeResponse(io.BytesIO):
    def __init__(self, payload: bytes, fail_after: int | None = None):
        super().__init__(payload)
        self.headers = {"Content-Length": str(len(payload))}
        self.fail_after = fail_after

    def read(self, size=-1):
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise ConnectionResetError("connection reset by peer")
        return super().read(size)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_offline_download_is_one_clear_error_and_leaves_nothing(no_env, monkeypatch):
    calls = []

    def offline(url, timeout=None):
        calls.append(url)
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(ds, "urlopen", offline)
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(root=no_env / "data", download=True)
    msg = str(info.value)
    assert calls[:2] == [m + "train-images-idx3-ubyte.gz" for m in ds.DATASETS["mnist"]["mirrors"]]
    assert "Download failed" in msg and "Temporary failure in name resolution" in msg
    assert "ossci-datasets.s3.amazonaws.com" in msg and "yann.lecun.com" in msg
    assert str(no_env / "data" / "MNIST" / "raw") in msg and "train-labels-idx1-ubyte.gz" in msg
    assert "ZEROTORCH_MNIST_DIR" in msg
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no urllib trace
    assert _leftovers(no_env / "data") == []


def _serve(monkeypatch, files: dict[str, bytes], fail_after: int | None = None):
    """Fake mirrors serving ``files`` and the md5 table accepting them."""
    served = []

    def fake_urlopen(url, timeout=None):
        name = url.rsplit("/", 1)[1]
        served.append(url)
        if name not in files:
            raise URLError("404")
        return FakeResponse(files[name], fail_after)

    monkeypatch.setattr(ds, "urlopen", fake_urlopen)
    md5 = {n: hashlib.md5(b).hexdigest() for n, b in files.items()}
    monkeypatch.setitem(ds.DATASETS["mnist"], "md5", {**ds.DATASETS["mnist"]["md5"], **md5})
    return served


def _tiny_gz(n=3, seed=5):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    return images, labels, {"t10k-images-idx3-ubyte.gz": gzip.compress(idx_bytes(images)),
                            "t10k-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(labels))}


def test_download_writes_verified_gz_and_extracted_files(no_env, monkeypatch):
    images, labels, files = _tiny_gz()
    _serve(monkeypatch, files)
    _, (x, t) = load_mnist(normalize=False, flatten=False, test_only=True, download=True)
    raw = no_env / "cache" / "zerotorch" / "MNIST" / "raw"
    assert _leftovers(raw) == sorted([*files, *(n[:-3] for n in files)])  # no .part files
    np.testing.assert_array_equal(x[:, 0], images)
    np.testing.assert_array_equal(t, labels)
    assert (raw / "t10k-labels-idx1-ubyte").read_bytes() == idx_bytes(labels)


def test_download_uses_zerotorch_data_before_the_cache(no_env, monkeypatch):
    _, _, files = _tiny_gz()
    _serve(monkeypatch, files)
    monkeypatch.setenv("ZEROTORCH_DATA", str(no_env / "data"))
    assert ds.download("mnist", "test") == no_env / "data" / "MNIST" / "raw"


def test_download_with_wrong_md5_falls_back_then_fails_without_partial_file(no_env, monkeypatch):
    _, _, files = _tiny_gz()
    served = _serve(monkeypatch, files)
    monkeypatch.setitem(ds.DATASETS["mnist"], "md5", ds.DATASETS["mnist"]["md5"] | {
        "t10k-images-idx3-ubyte.gz": "0" * 32})
    with pytest.raises(DatasetNotFoundError) as info:
        ds.download("mnist", "test", no_env / "data")
    assert len(served) == 2  # both mirrors tried
    assert "downloaded file has md5" in str(info.value) and "expected " + "0" * 32 in str(
        info.value)
    assert _leftovers(no_env / "data") == []


def test_interrupted_download_leaves_no_partial_file(no_env, monkeypatch):
    _, _, files = _tiny_gz(n=50)
    _serve(monkeypatch, files, fail_after=1)
    with pytest.raises(DatasetNotFoundError, match="connection reset by peer"):
        ds.download("mnist", "test", no_env / "data")
    assert _leftovers(no_env / "data") == []


def test_nothing_is_downloaded_when_files_are_present(tmp_path, monkeypatch):
    tiny_split(tmp_path, n=2)
    monkeypatch.setattr(ds, "urlopen", lambda *a, **k: pytest.fail("must not download"))
    load_mnist(root=tmp_path, test_only=True, download=True, verify=False)


# --------------------------------------------------------------------------- the real files


def torchvision_layout(tmp_path: Path, source: Path, folder: str, splits=("test",)) -> Path:
    """``<tmp>/<folder>/raw`` for torchvision: the real ``.gz`` files linked, extracted copies
    beside them, and tiny stand-ins for any split not given (torchvision wants all four)."""
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "test"):
        for name in ds.split_files(split):
            if split in splits:
                (raw / name).symlink_to(source / name)
                (raw / name[:-3]).write_bytes(gzip.decompress((source / name).read_bytes()))
    if "train" not in splits:
        tiny_split(raw, "train", n=1, gz=False)
    return tmp_path


def test_mnist_test_set_equals_torchvision(mnist_dir, tmp_path):
    """The 10,000 MNIST test images: load_mnist from ZEROTORCH_MNIST_DIR, torchvision from the
    extracted files of the same .gz, identical bytes and labels."""
    from torchvision.datasets import MNIST

    (none, _), (x, t) = load_mnist(normalize=False, flatten=False, test_only=True)
    assert none is None and x.shape == (10_000, 1, 28, 28) and t.shape == (10_000,)
    root = torchvision_layout(tmp_path, mnist_dir, "MNIST")
    reference = MNIST(root, train=False)
    np.testing.assert_array_equal(x[:, 0], reference.data.numpy())
    np.testing.assert_array_equal(t, reference.targets.numpy())
    assert np.bincount(t).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    _, (x_norm, _) = load_mnist(test_only=True)
    np.testing.assert_array_equal(x_norm, reference.data.numpy().reshape(-1, 784) / np.float32(255))


def test_fashion_mnist_from_debian_equals_torchvision(fashion_dir, tmp_path, monkeypatch):
    from torchvision.datasets import FashionMNIST

    monkeypatch.delenv("ZEROTORCH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert ds.raw_folder("fashion-mnist", "train") == fashion_dir
    (x, t), (y, s) = load_mnist(normalize=False, flatten=False, dataset="fashion-mnist")
    assert x.shape == (60_000, 1, 28, 28) and y.shape == (10_000, 1, 28, 28)
    assert np.bincount(t).tolist() == [6000] * 10 and np.bincount(s).tolist() == [1000] * 10
    root = torchvision_layout(tmp_path, fashion_dir, "FashionMNIST", splits=("train", "test"))
    for train, images, labels in ((True, x, t), (False, y, s)):
        reference = FashionMNIST(root, train=train)
        np.testing.assert_array_equal(images[:, 0], reference.data.numpy())
        np.testing.assert_array_equal(labels, reference.targets.numpy())


def test_env_settings_are_what_reproduce_uses(mnist_dir, monkeypatch):
    """``zerotorch reproduce`` calls load_mnist(test_only=True) with no root: the settings."""
    monkeypatch.delenv("ZEROTORCH_DATA", raising=False)
    assert ds.raw_folder("mnist", "test") == mnist_dir
