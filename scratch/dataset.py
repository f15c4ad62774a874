"""ch3.6.1 MNIST dataset: ``load_mnist`` with the book's signature, reading IDX files safely.

One set of files serves both implementations: ``raw_folder(dataset, split)`` resolves where the
IDX files of a split live and ``read_split`` reads them; ``zerotorch.data`` calls the same two
functions, so NumPy and torch always see identical bytes.

Where files are searched (first folder holding both files of the split wins):

1. the ``root`` argument: torchvision layout ``<root>/MNIST/raw`` (``FashionMNIST/raw``), or
   ``<root>`` itself as a plain folder of IDX files (an explicit root is the only place searched);
2. ``$ZEROTORCH_DATA/MNIST/raw`` (``FashionMNIST/raw``): torchvision layout;
3. mnist only: ``$ZEROTORCH_MNIST_DIR``, a plain folder (e.g. the MNIST test split alone);
4. fashion-mnist only: Debian's ``/usr/share/datasets/fashion-mnist``
   (``apt-get install dataset-fashion-mnist``);
5. the user cache ``$XDG_CACHE_HOME/zerotorch`` (default ``~/.cache/zerotorch``), torchvision
   layout.

Each file may be gzipped (``.gz``, preferred) or plain, as torchvision leaves both after a
download. Downloads happen only with ``download=True``: into the root argument, else
``$ZEROTORCH_DATA``, else the cache, in torchvision layout (the ``.gz`` file, md5-verified, plus
the extracted file torchvision reads), each written atomically (temp file + ``os.replace``).
Only NumPy and the standard library are needed (``tqdm`` shows download progress when present).
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import zlib
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import numpy as np

from scratch.io import atomic_target, remove_stale_parts

__all__ = [
    "DATASETS",
    "CorruptDatasetError",
    "DatasetNotFoundError",
    "cache_dir",
    "download",
    "load_mnist",
    "raw_folder",
    "read_idx",
    "read_split",
    "search_folders",
]

IMAGE_MAGIC = 2051  # 0x00000803: unsigned byte, 3 dimensions
LABEL_MAGIC = 2049  # 0x00000801: unsigned byte, 1 dimension
IMAGE_SHAPE = (28, 28)
NUM_CLASSES = 10
SPLITS = ("train", "test")
FILE_STEMS = {"train": "train", "test": "t10k"}
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
DEBIAN_PACKAGE = "dataset-fashion-mnist"
CHUNK = 1 << 16
TIMEOUT_S = 30

# dataset -> torchvision class folder, mirrors, and the md5 of every official .gz file.
DATASETS: dict[str, dict] = {
    "mnist": {
        "folder": "MNIST",
        "mirrors": (
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://yann.lecun.com/exdb/mnist/",
        ),
        "md5": {
            "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
            "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
            "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
        },
    },
    "fashion-mnist": {
        "folder": "FashionMNIST",
        "mirrors": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        "md5": {
            "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
            "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
            "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
        },
    },
}


class DatasetNotFoundError(FileNotFoundError):
    """The IDX files of a split are in none of the searched folders (or could not be downloaded).

    The message names every folder searched, the files missing and how to provide them.
    """


class CorruptDatasetError(ValueError):
    """An IDX file is unreadable or inconsistent; the message names the file and the problem."""


def _spec(dataset: str) -> dict:
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; expected one of {sorted(DATASETS)}")
    return DATASETS[dataset]


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {SPLITS}")


def split_files(split: str) -> tuple[str, str]:
    """The gzipped file names of a split: ``(images, labels)``."""
    _check_split(split)
    stem = FILE_STEMS[split]
    return f"{stem}-images-idx3-ubyte.gz", f"{stem}-labels-idx1-ubyte.gz"


def cache_dir() -> Path:
    """The user cache root: ``$XDG_CACHE_HOME/zerotorch``, default ``~/.cache/zerotorch``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "zerotorch"


def search_folders(dataset: str = "mnist", root: str | os.PathLike | None = None
                   ) -> list[tuple[Path, str]]:
    """The folders searched for ``dataset``, in order, each with where it came from."""
    spec = _spec(dataset)
    if root is not None:
        root = Path(root).expanduser()
        return [(root / spec["folder"] / "raw", "root argument, torchvision layout"),
                (root, "root argument, plain folder")]
    folders: list[tuple[Path, str]] = []
    if os.environ.get("ZEROTORCH_DATA"):
        folders.append((Path(os.environ["ZEROTORCH_DATA"]).expanduser() / spec["folder"] / "raw",
                        "ZEROTORCH_DATA, torchvision layout"))
    if dataset == "mnist" and os.environ.get("ZEROTORCH_MNIST_DIR"):
        folders.append((Path(os.environ["ZEROTORCH_MNIST_DIR"]).expanduser(),
                        "ZEROTORCH_MNIST_DIR, plain folder"))
    if dataset == "fashion-mnist":
        folders.append((DEBIAN_FASHION, f"Debian package {DEBIAN_PACKAGE}"))
    folders.append((cache_dir() / spec["folder"] / "raw", "user cache, torchvision layout"))
    return folders


def download_folder(dataset: str = "mnist", root: str | os.PathLike | None = None) -> Path:
    """Where ``download`` writes: the root argument, else ``$ZEROTORCH_DATA``, else the cache."""
    spec = _spec(dataset)
    if root is not None:
        base = Path(root).expanduser()
    elif os.environ.get("ZEROTORCH_DATA"):
        base = Path(os.environ["ZEROTORCH_DATA"]).expanduser()
    else:
        base = cache_dir()
    return base / spec["folder"] / "raw"


def _find_file(folder: Path, gz_name: str) -> Path | None:
    """``folder/gz_name`` if present, else the extracted ``folder/<name without .gz>``."""
    for candidate in (folder / gz_name, folder / gz_name[: -len(".gz")]):
        if candidate.is_file():
            return candidate
    return None


def _how_to_provide(dataset: str, split: str, root) -> str:
    spec = _spec(dataset)
    target = download_folder(dataset, root)
    lines = [
        "How to provide them:",
        f"  - download (needs internet): `zerotorch download {dataset}` on the command line; in "
        "an experiment --data.init_args.download=true; in Python load_mnist(..., "
        f"download=True) or MNISTDataModule(download=True). They go to {target}",
        f"  - or copy the files from {spec['mirrors'][0]} into {target} (or point the root "
        f"argument / ZEROTORCH_DATA at a folder holding {spec['folder']}/raw/)",
    ]
    if dataset == "mnist":
        lines.append("  - or set ZEROTORCH_MNIST_DIR to a plain folder holding the .gz files")
    else:
        lines.append(f"  - or `apt-get install {DEBIAN_PACKAGE}` (full set in {DEBIAN_FASHION})")
    if split == "train":
        lines.append("  - only the test split at hand? in an experiment "
                     "--data.init_args.test_only=true; in Python load_mnist(test_only=True) or "
                     "MNISTDataModule(test_only=True)")
    return "\n".join(lines)


def _not_found_message(dataset: str, split: str, root, folders, extra: str = "") -> str:
    files = split_files(split)
    lines = [f"{dataset} {split} split not found: no folder holds both "
             f"{files[0]} and {files[1]} (each may also be stored extracted, without .gz)."]
    if extra:
        lines.append(extra)
    lines.append("Folders searched (first match wins):")
    for folder, origin in folders:
        missing = [f for f in files if _find_file(folder, f) is None]
        state = "missing " + ", ".join(missing) if folder.is_dir() else "folder does not exist"
        lines.append(f"  - {folder}  ({origin}): {state}")
    lines.append(_how_to_provide(dataset, split, root))
    return "\n".join(lines)


def raw_folder(dataset: str = "mnist", split: str = "test",
               root: str | os.PathLike | None = None) -> Path:
    """ch3.6.1 The folder holding both IDX files of ``split`` (the first searched folder with them).

    Raises:
        DatasetNotFoundError: naming every folder searched, the files missing, how to get them.
    """
    _check_split(split)
    folders = search_folders(dataset, root)
    for folder, _ in folders:
        if all(_find_file(folder, f) is not None for f in split_files(split)):
            return folder
    raise DatasetNotFoundError(_not_found_message(dataset, split, root, folders))


# --------------------------------------------------------------------------- reading


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_md5(path: str | os.PathLike, dataset: str = "mnist") -> bool:
    """Check a known ``.gz`` file against its md5; True if checked, False if the name is unknown.

    Raises:
        CorruptDatasetError: the md5 matches neither the official file nor a known repackaging.
    """
    path = Path(path)
    expected = _spec(dataset)["md5"].get(path.name)
    if expected is None:
        return False
    got = _md5(path)
    if got != expected:
        raise CorruptDatasetError(
            f"{path}: wrong md5 {got}, expected {expected} (the official {dataset} file); the "
            "file is damaged or not the official one. Delete it and download it again "
            f"(`zerotorch download {dataset}`); in Python, load_mnist(verify=False) or "
            "read_split(verify=False) skips the md5 check.")
    return True


# The most bytes an IDX file may hold once decompressed: 70,000 images of 28×28 are 55 MB, so a
# gzip bomb (or a bogus header) is refused after reading this much, never decompressed whole.
MAX_IDX_BYTES = 256 * 2**20


def _read_bytes(path: Path, limit: int | None = None) -> bytes:
    limit = MAX_IDX_BYTES if limit is None else limit
    if path.suffix != ".gz":
        if path.stat().st_size > limit:
            raise CorruptDatasetError(f"{path}: {path.stat().st_size:,} bytes, more than an IDX "
                                      f"file of MNIST's size can hold ({limit:,})")
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as fh:
            data = fh.read(limit + 1)
        if len(data) > limit:
            raise CorruptDatasetError(f"{path}: decompresses to more than {limit:,} bytes (a "
                                      "gzip bomb, or not an MNIST IDX file); refused unread")
        return data
    except EOFError as exc:
        raise CorruptDatasetError(f"{path}: truncated gzip stream ({exc})") from None
    except (zlib.error, gzip.BadGzipFile) as exc:
        raise CorruptDatasetError(f"{path}: not a valid gzip file ({exc})") from None


def read_idx(path: str | os.PathLike, kind: str) -> np.ndarray:
    """ch3.6.1 Read one IDX file (``kind`` 'images' → (N, 28, 28) uint8, 'labels' → (N,) uint8).

    Validates the magic number, the dimensions, the payload size against the header and the label
    range; any problem raises ``CorruptDatasetError`` naming the file.
    """
    path = Path(path)
    if kind not in ("images", "labels"):
        raise ValueError(f"kind must be 'images' or 'labels', got {kind!r}")
    data = _read_bytes(path)
    magic_expected, ndim = (IMAGE_MAGIC, 3) if kind == "images" else (LABEL_MAGIC, 1)
    header_size = 4 * (1 + ndim)
    if len(data) < header_size:
        raise CorruptDatasetError(
            f"{path}: {len(data)} bytes, shorter than the {header_size}-byte IDX {kind} header")
    header = np.frombuffer(data, dtype=">u4", count=1 + ndim)
    magic, dims = int(header[0]), tuple(int(d) for d in header[1:])
    if magic != magic_expected:
        raise CorruptDatasetError(
            f"{path}: wrong magic number {magic} (0x{magic:08x}), expected {magic_expected} "
            f"(0x{magic_expected:08x}) for an IDX {kind} file")
    if kind == "images" and dims[1:] != IMAGE_SHAPE:
        raise CorruptDatasetError(
            f"{path}: images are {dims[1]}x{dims[2]}, expected "
            f"{IMAGE_SHAPE[0]}x{IMAGE_SHAPE[1]}")
    expected_payload = math.prod(dims)  # Python ints: no overflow for absurd headers
    payload = len(data) - header_size
    if payload != expected_payload:
        problem = "truncated" if payload < expected_payload else "trailing bytes"
        raise CorruptDatasetError(
            f"{path}: payload is {payload} bytes but the header {dims} says {expected_payload} "
            f"({problem})")
    array = np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(dims).copy()
    if kind == "labels" and array.size and int(array.max()) >= NUM_CLASSES:
        raise CorruptDatasetError(
            f"{path}: label {int(array.max())} out of range 0..{NUM_CLASSES - 1}")
    return array


def read_split(dataset: str = "mnist", split: str = "test",
               root: str | os.PathLike | None = None, *, verify: bool = True
               ) -> tuple[np.ndarray, np.ndarray]:
    """ch3.6.1 The raw arrays of one split: images (N, 28, 28) uint8 and labels (N,) uint8.

    ``verify`` checks the md5 of known ``.gz`` files. Extracted files, and Debian's package
    (it re-compresses the files, so their md5s differ; dpkg verifies them), are checked
    structurally only.
    """
    folder = raw_folder(dataset, split, root)
    image_file, label_file = (_find_file(folder, f) for f in split_files(split))
    if verify and folder != DEBIAN_FASHION:
        for path in (image_file, label_file):
            verify_md5(path, dataset)
    images = read_idx(image_file, "images")
    labels = read_idx(label_file, "labels")
    if len(images) != len(labels):
        raise CorruptDatasetError(
            f"{image_file} holds {len(images)} images but {label_file} holds {len(labels)} "
            f"labels: image/label count mismatch")
    return images, labels


# --------------------------------------------------------------------------- downloading


def _progress(total: int | None, name: str):
    try:
        from tqdm.auto import tqdm
    except ImportError:  # progress is optional; scratch needs NumPy only
        return None
    return tqdm(total=total, unit="B", unit_scale=True, desc=name, leave=False)


def _fetch(url: str, target: Path, md5: str) -> None:
    """Stream ``url`` into ``target`` atomically, checking the md5 before the rename."""
    with atomic_target(target) as out:
        digest = hashlib.md5()
        with urlopen(url, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            bar = _progress(int(length) if length else None, target.name)
            try:
                for block in iter(lambda: response.read(CHUNK), b""):
                    out.write(block)
                    digest.update(block)
                    if bar is not None:
                        bar.update(len(block))
            finally:
                if bar is not None:
                    bar.close()
        if digest.hexdigest() != md5:
            raise CorruptDatasetError(
                f"{url}: downloaded file has md5 {digest.hexdigest()}, expected {md5}")


def _extract(gz_path: Path) -> None:
    """Write the extracted file next to ``gz_path`` (what torchvision's readers open)."""
    with atomic_target(gz_path.with_suffix("")) as out:
        out.write(_read_bytes(gz_path))


def download(dataset: str = "mnist", split: str = "test",
             root: str | os.PathLike | None = None) -> Path:
    """ch3.6.1 Make ``split`` available, downloading it if no searched folder has it.

    Returns the folder holding the files. Tries each mirror in turn; every file is md5-verified
    and written atomically, so an interrupted or failed download leaves no partial file.

    Raises:
        DatasetNotFoundError: offline or every mirror failed; the message names the folders
            searched, the files missing, each mirror's error and how to provide the files.
    """
    try:
        return raw_folder(dataset, split, root)
    except DatasetNotFoundError:
        pass
    spec = _spec(dataset)
    target = download_folder(dataset, root)
    errors: list[str] = []
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        errors.append(f"cannot create {target}: {exc}")
    for name in split_files(split) if not errors else ():
        path = target / name
        if path.is_file() and _md5(path) == spec["md5"][name]:
            if not path.with_suffix("").is_file():
                _extract(path)
            continue
        remove_stale_parts(path)  # what a killed download left behind
        tried: list[str] = []  # this file's failed mirrors: forgotten once one succeeds
        for mirror in spec["mirrors"]:
            try:
                _fetch(mirror + name, path, spec["md5"][name])
            except (OSError, http.client.HTTPException, CorruptDatasetError) as exc:
                reason = exc.reason if isinstance(exc, URLError) else exc
                tried.append(f"{mirror}{name}: {type(exc).__name__}: {reason}")
                continue
            _extract(path)
            break
        else:
            errors += tried
            break
    if errors:
        extra = "Download failed:\n" + "\n".join(f"  - {e}" for e in errors)
        raise DatasetNotFoundError(_not_found_message(
            dataset, split, root, search_folders(dataset, root), extra)) from None
    return target


# --------------------------------------------------------------------------- the book's API


def _one_hot(labels: np.ndarray) -> np.ndarray:
    """The book's one-hot labels: (N, 10) float64 with a single 1 per row."""
    table = np.zeros((labels.size, NUM_CLASSES))
    table[np.arange(labels.size), labels] = 1
    return table


def _format(images: np.ndarray, labels: np.ndarray, normalize: bool, flatten: bool,
            one_hot_label: bool) -> tuple[np.ndarray, np.ndarray]:
    x = images.astype(np.float32) / 255.0 if normalize else images
    x = x.reshape(-1, IMAGE_SHAPE[0] * IMAGE_SHAPE[1]) if flatten else x.reshape(
        -1, 1, *IMAGE_SHAPE)  # (N, 784) or (N, 1, 28, 28)
    t = _one_hot(labels) if one_hot_label else labels
    return x, t


def load_mnist(normalize: bool = True, flatten: bool = True, one_hot_label: bool = False, *,
               dataset: str = "mnist", root: str | os.PathLike | None = None,
               test_only: bool = False, download: bool = False, verify: bool = True):
    """ch3.6.1 Load MNIST (or Fashion-MNIST) as ``((x_train, t_train), (x_test, t_test))``.

    Args:
        normalize: pixels as float32 in [0, 1]; otherwise uint8 in 0..255 (as the book).
        flatten: images as (N, 784); otherwise (N, 1, 28, 28).
        one_hot_label: labels as (N, 10) float64 one-hot; otherwise (N,) uint8 (as the book).
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        root: data root (torchvision layout or a plain folder of IDX files); default: search the
            settings (see the module docstring).
        test_only: read only the t10k files; the training pair is ``(None, None)``.
        download: fetch missing files from the standard mirrors (md5-verified).
        verify: check the md5 of known ``.gz`` files before reading them.

    Raises:
        DatasetNotFoundError: files absent (and not downloaded); the message says how to get them.
        CorruptDatasetError: a file is damaged; the message names it and the problem.
    """
    fetch = globals()["download"]  # the function, shadowed here by the book's argument name
    result = []
    for split in SPLITS:
        if split == "train" and test_only:
            result.append((None, None))
            continue
        if download:
            fetch(dataset, split, root)
        images, labels = read_split(dataset, split, root, verify=verify)
        result.append(_format(images, labels, normalize, flatten, one_hot_label))
    return result[0], result[1]
