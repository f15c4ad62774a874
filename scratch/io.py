"""ch3.6.2 / ch7.5 The book's weight files, loaded safely; parameters saved as ``.npz``.

The book publishes pretrained weights as Python pickles of ``{name: ndarray}`` dicts and loads
them with a bare ``pickle.load``, which runs whatever code a pickle names. ``load_params`` uses a
restricted unpickler instead: it can rebuild dicts, lists, tuples, numbers, strings, bytes and
NumPy arrays/dtypes/scalars, and refuses every other global with ``UnsafePickleError`` before
anything is called. ``.npz`` files are read with ``allow_pickle=False``.

``save_params`` writes ``.npz`` (the recommended format) or, for the book's own code, a ``.pkl``
holding plain numeric arrays only (protocol 4, readable by ``load_params`` and by the book's
``pickle.load``). Both are written atomically: a temp file in the target folder, then
``os.replace``. ``book_weights_file`` finds one of the book's published files through
``ZEROTORCH_BOOK_WEIGHTS`` (the experiments share it).
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import numpy as np

__all__ = ["UnsafePickleError", "load_params", "save_params", "atomic_target",
           "book_weights_file", "ALLOWED_GLOBALS"]

# (module, name) a params pickle may reference. NumPy moved ``numpy.core`` to ``numpy._core`` in
# 2.0; pickles name either, so both spellings are listed and resolved to the installed one.
ALLOWED_GLOBALS: frozenset[tuple[str, str]] = frozenset({
    ("numpy", "ndarray"),                          # array type for _reconstruct
    ("numpy", "dtype"),                            # dtypes
    ("numpy.core.multiarray", "_reconstruct"),     # ndarray.__reduce__ (protocols 0-4)
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),           # NumPy scalars (np.float64(1.5))
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),         # ndarray.__reduce_ex__(5)
    ("numpy._core.numeric", "_frombuffer"),
    ("builtins", "complex"),                       # complex numbers
    ("collections", "OrderedDict"),                # a dict
    ("_codecs", "encode"),                         # bytes in protocols 0-2 (latin-1 only)
})
_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle references a global outside ``ALLOWED_GLOBALS``; nothing from it was run."""


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    """``_codecs.encode`` restricted to what pickle protocols 0-2 use for ``bytes``."""
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise UnsafePickleError(
            f"_codecs.encode is allowed only as encode(str, 'latin1'), got encoding {encoding!r}")
    return text.encode("latin1")


def _resolve_numpy(module: str, name: str):
    """Import ``module.name``, preferring ``numpy._core`` over the deprecated ``numpy.core``."""
    candidates = [module]
    if module.startswith("numpy.core."):
        candidates.insert(0, "numpy._core." + module[len("numpy.core."):])
    elif module.startswith("numpy._core."):
        candidates.append("numpy.core." + module[len("numpy._core."):])
    for candidate in candidates:
        try:
            return getattr(importlib.import_module(candidate), name)
        except (ImportError, AttributeError):
            continue
    raise UnsafePickleError(f"allowed global {module}.{name} is not available in NumPy "
                            f"{np.__version__}")


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, source: str):
        super().__init__(file)
        self.source = source

    def find_class(self, module: str, name: str):
        module = _PY2_MODULES.get(module, module)
        if (module, name) not in ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"refusing to load {self.source}: it references the global {module}.{name}, "
                "which is not needed to rebuild dicts, lists, tuples, numbers, strings or NumPy "
                "arrays (allowed: "
                + ", ".join(sorted(f"{m}.{n}" for m, n in ALLOWED_GLOBALS)) + ")")
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        if module == "builtins":
            return complex
        if module == "collections":
            return importlib.import_module("collections").OrderedDict
        return _resolve_numpy(module, name)

    def persistent_load(self, pid):
        raise UnsafePickleError(f"refusing to load {self.source}: persistent id {pid!r}")


def _check_no_objects(value, source, where="") -> None:
    """Reject object arrays anywhere in the loaded structure (as ``allow_pickle=False`` does)."""
    if isinstance(value, np.ndarray) and value.dtype.hasobject:
        raise UnsafePickleError(f"refusing {source}: {where or 'value'} is an object array")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_no_objects(item, source, f"{where}[{key!r}]")
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_no_objects(item, source, f"{where}[{i}]")


def load_params(path: str | os.PathLike) -> dict:
    """ch3.6.2 Load a parameter dict (``W1``, ``b1``, ...) from a ``.pkl`` (safely) or ``.npz``.

    Raises:
        UnsafePickleError: the pickle names a global other than the NumPy/builtin ones needed to
            rebuild arrays; nothing it references was imported or called.
        ValueError: the file does not hold a dict, or has an unknown suffix.
    """
    path = Path(path)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    if path.suffix not in (".pkl", ".pickle"):
        raise ValueError(f"{path}: unknown parameter file suffix {path.suffix!r}; expected .pkl "
                         "or .npz")
    with open(path, "rb") as fh:
        params = _RestrictedUnpickler(fh, str(path)).load()
    if not isinstance(params, dict):
        raise ValueError(f"{path}: expected a dict of parameters, got {type(params).__name__}")
    _check_no_objects(params, path)
    return params


def _plain_arrays(params: dict) -> dict[str, np.ndarray]:
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict of arrays, got {type(params).__name__}")
    arrays = {}
    for key, value in params.items():
        if not isinstance(key, str):
            raise TypeError(f"parameter names must be strings, got {key!r}")
        array = np.asarray(value)
        if array.dtype.hasobject:
            raise TypeError(f"parameter {key!r} is an object array; only numeric arrays are saved")
        arrays[key] = array
    return arrays


def save_params(params: dict, path: str | os.PathLike) -> Path:
    """ch3.6.2 Save a parameter dict atomically as ``.npz`` (or a plain-array ``.pkl``).

    Values are converted with ``np.asarray``; object arrays are refused. Returns the path.
    """
    path = Path(path)
    arrays = _plain_arrays(params)
    if path.suffix == ".npz":
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        payload = buffer.getvalue()
    elif path.suffix in (".pkl", ".pickle"):
        payload = pickle.dumps({k: np.ascontiguousarray(a) for k, a in arrays.items()}, protocol=4)
    else:
        raise ValueError(f"{path}: unknown parameter file suffix {path.suffix!r}; use .npz (or "
                         ".pkl for the book's code)")
    with atomic_target(path) as fh:
        fh.write(payload)
    return path


@contextmanager
def atomic_target(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """ch7.5 (saving parameters) an atomic write: yields a binary temp file.

    The temp file sits in ``path``'s folder; it is renamed onto ``path`` on success and removed
    on failure, so readers see the old file or the complete new one, never a partial one.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def book_weights_file(name: str | os.PathLike) -> Path:
    """ch7.5 / ch8.1 One of the book's published weight files: ``name`` itself if that file
    exists, else the file that name means (``simple_convnet.pkl``, or the book's
    ``ch07/params.pkl``) in ``$ZEROTORCH_BOOK_WEIGHTS`` or the download folder
    (``scratch.book_weights``).

    Raises:
        FileNotFoundError: the message names the folders searched and how to get the file.
    """
    from scratch.book_weights import find

    path = Path(name)
    if path.is_file():
        return path
    return find(str(name))
