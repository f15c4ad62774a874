"""The book's five published weight files: where each lives in the book's repository, its md5,
and how to find or download it.

The book's repository (github.com/oreilly-japan/deep-learning-from-scratch) ships
``ch03/sample_weight.pkl``, ``ch07/params.pkl`` and ``ch08/deep_convnet_params.pkl``; the two
convnet files were replaced in 2022-09 (commit b6f396f) by the weights of a short training run,
so each exists in two versions. Here every version has its own name:

- ``sample_weight.pkl``: ``ch03/sample_weight.pkl`` (one version), the ch3 network;
- ``simple_convnet.pkl`` / ``simple_convnet_2016.pkl``: ``ch07/params.pkl`` today / in 2016;
- ``deep_convnet.pkl`` / ``deep_convnet_2016.pkl``: ``ch08/deep_convnet_params.pkl`` today /
  in 2016.

Where they are looked for, in order: ``$ZEROTORCH_BOOK_WEIGHTS`` (a folder of files named as
here, or a clone of the book's repository: its ``chXX/`` files are recognised by md5), then the
download folder ``~/.cache/zerotorch/book-weights`` (``$XDG_CACHE_HOME`` respected), which
``download`` (``zerotorch download weights``) fills from the repository at fixed commits.
"""

from __future__ import annotations

import http.client
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.error import URLError

from scratch.dataset import _md5, cache_dir

REPOSITORY = "oreilly-japan/deep-learning-from-scratch"
# A raw-file mirror of the repository: <base>/<commit>/<path>. ZEROTORCH_BOOK_REPO_URL replaces
# it (a mirror, or a local server in the tests).
RAW_BASE = f"https://raw.githubusercontent.com/{REPOSITORY}"
CURRENT_COMMIT = "07b11618cdb5d5f78ad45464de0730efc07b0a4a"  # 2024-11; convnet files since b6f396f
FIRST_COMMIT = "0dda3d1715e2431b76eb4089b60881948853ba2a"  # 2016-07, the first commit


@dataclass(frozen=True)
class WeightsFile:
    """One published weights file: our name, the book's path and commit, its md5."""

    name: str
    network: str
    book_path: str
    commit: str
    md5: str
    version: str


WEIGHTS: tuple[WeightsFile, ...] = (
    WeightsFile("sample_weight.pkl", "ch3 3-layer net", "ch03/sample_weight.pkl", CURRENT_COMMIT,
                "6aaf4fbaa5b675aae4fc669115b10e4f", "the only version"),
    WeightsFile("simple_convnet.pkl", "SimpleConvNet", "ch07/params.pkl", CURRENT_COMMIT,
                "5f06676ce1363d33c8c7e44159f8f1eb", "current (2022-09 on)"),
    WeightsFile("simple_convnet_2016.pkl", "SimpleConvNet", "ch07/params.pkl", FIRST_COMMIT,
                "a80b018bc754c0a3a47189e3165f73dd", "first published (2016)"),
    WeightsFile("deep_convnet.pkl", "DeepConvNet", "ch08/deep_convnet_params.pkl",
                CURRENT_COMMIT, "cf2293a7e714709740a217ea3b44323b", "current (2022-09 on)"),
    WeightsFile("deep_convnet_2016.pkl", "DeepConvNet", "ch08/deep_convnet_params.pkl",
                FIRST_COMMIT, "264de587216110d89785733a725459eb", "first published (2016)"),
)
BY_NAME = {w.name: w for w in WEIGHTS}


class WeightsNotFoundError(FileNotFoundError):
    """A weights file is in none of the searched folders; the message says how to get it."""


def download_folder() -> Path:
    """Where ``download`` writes by default: ``$XDG_CACHE_HOME/zerotorch/book-weights``."""
    return cache_dir() / "book-weights"


def search_folders() -> list[Path]:
    """``$ZEROTORCH_BOOK_WEIGHTS`` (when set), then the download folder."""
    folders = []
    if os.environ.get("ZEROTORCH_BOOK_WEIGHTS"):
        folders.append(Path(os.environ["ZEROTORCH_BOOK_WEIGHTS"]).expanduser())
    folders.append(download_folder())
    return folders


def candidates(name: str) -> list[WeightsFile]:
    """The files a name may mean: ours (``simple_convnet.pkl``), or the book's (``params.pkl``,
    ``ch07/params.pkl``: both versions of that file)."""
    if name in BY_NAME:
        return [BY_NAME[name]]
    name = name.replace("\\", "/")
    return [w for w in WEIGHTS if name in (w.book_path, w.book_path.rsplit("/", 1)[1])]


def locate(w: WeightsFile, folders: list[Path] | None = None) -> Path | None:
    """Where ``w`` is: ``folder/<our name>``, or the book's ``folder/chXX/<file>`` when its md5
    is this version's (a clone of the book's repository holds one version of each)."""
    for folder in folders if folders is not None else search_folders():
        if (folder / w.name).is_file():
            return folder / w.name
        clone = folder / w.book_path
        if clone.is_file() and _md5(clone) == w.md5:
            return clone
    return None


def how_to_get(missing: list[str]) -> str:
    folders = ", ".join(str(f) for f in search_folders())
    return (f"searched {folders}. Get them with `zerotorch download weights` (from the book's "
            f"repository, md5-checked), or set ZEROTORCH_BOOK_WEIGHTS to a folder holding "
            f"{', '.join(missing)} or to a clone of the book's repository")


def find(name: str) -> Path:
    """The file a weights name means (ours or the book's), wherever it is.

    Raises:
        WeightsNotFoundError: not found; the message names the folders and how to get it.
    """
    options = candidates(name)
    if not options:
        raise WeightsNotFoundError(f"unknown weights file {name!r}; known: {list(BY_NAME)} "
                                   "(or the book's ch03/sample_weight.pkl, ch07/params.pkl, "
                                   "ch08/deep_convnet_params.pkl)")
    for w in options:
        path = locate(w)
        if path is not None:
            return path
    raise WeightsNotFoundError(f"{name} not found: {how_to_get([w.name for w in options])}")


def download(names: list[str] | None = None, folder: str | os.PathLike | None = None,
             base_url: str | None = None) -> list[Path]:
    """Fetch the named files (default: all five) that are not already there, md5-checked and
    written atomically (an interrupted run leaves no partial file; running again resumes with
    the files still missing). Returns the path of every requested file.

    Raises:
        WeightsNotFoundError: offline, or a file could not be fetched or has the wrong md5;
            the message names the URL and the reason. Files fetched before stay.
    """
    from scratch.dataset import CorruptDatasetError, _fetch
    from scratch.io import remove_stale_parts

    target = Path(folder).expanduser() if folder is not None else download_folder()
    base = (base_url or os.environ.get("ZEROTORCH_BOOK_REPO_URL") or RAW_BASE).rstrip("/")
    wanted = [w for n in (names or list(BY_NAME)) for w in candidates(n)]
    target.mkdir(parents=True, exist_ok=True)
    paths = []
    for w in wanted:
        path = target / w.name
        if path.is_file() and _md5(path) == w.md5:
            paths.append(path)
            continue
        url = f"{base}/{w.commit}/{w.book_path}"
        remove_stale_parts(path)  # what a killed download left behind
        try:
            _fetch(url, path, w.md5)
        except (OSError, http.client.HTTPException, CorruptDatasetError) as exc:
            reason = exc.reason if isinstance(exc, URLError) else exc
            raise WeightsNotFoundError(f"{w.name}: could not download {url}: "
                                       f"{type(exc).__name__}: {reason}") from None
        paths.append(path)
    return paths


def book_weights_file(name: str | os.PathLike) -> Path:
    """ch7.5 / ch8.1 One of the book's published weight files: ``name`` itself if that file
    exists, else the file that name means (``simple_convnet.pkl``, or the book's
    ``ch07/params.pkl``) in ``$ZEROTORCH_BOOK_WEIGHTS`` or the download folder.

    Raises:
        FileNotFoundError: the message names the folders searched and how to get the file.
    """
    path = Path(name)
    if path.is_file():
        return path
    return find(str(name))
