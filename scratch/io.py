"""ch3.6.2 / ch7.5 The book's weight files, loaded safely; parameters saved as ``.npz``.

The book publishes pretrained weights as Python pickles of ``{name: ndarray}`` dicts and loads
them with a bare ``pickle.load``, which runs whatever code a pickle names. ``load_params`` uses a
restricted unpickler instead: it can rebuild dicts, lists, tuples, numbers, strings, bytes and
NumPy arrays/dtypes/scalars, and refuses every other global with ``UnsafePickleError`` before
anything is called. ``.npz`` files are read with ``allow_pickle=False``.

Untrusted files never take unbounded time or memory: the file is read whole up to
``MAX_BYTES`` (a cap, configurable per call), at most ``MAX_OPERATIONS`` pickle opcodes are
accepted (counted by a scan before anything is built), the C unpickler runs linearly in its
size, the allowed NumPy callables cannot allocate more than the bytes actually present (an
array's data must come from the file), and the loaded structure is checked in one pass that
visits every object once (a pickle whose memo references the same list twice per level stays
linear). An ``.npz`` member is refused by its declared size before it is decompressed. Every
refusal names the file: ``UnsafePickleError`` (a global or construct outside the allowed set) or
``CorruptWeightsError`` (truncated, not a pickle, not a dict of numeric arrays, too large).

``save_params`` writes ``.npz`` (the recommended format) or, for the book's own code, a ``.pkl``
holding plain numeric arrays only (protocol 4, readable by ``load_params`` and by the book's
``pickle.load``). Both are written atomically: a temp file in the target folder, then
``os.replace``. (Finding the book's published files is ``scratch.book_weights``'s job.)
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

__all__ = ["UnsafePickleError", "CorruptWeightsError", "load_params", "save_params",
           "atomic_target", "remove_stale_parts", "ALLOWED_GLOBALS",
           "MAX_BYTES"]

# The largest weights file (and the largest total of array data) load_params reads by default:
# the book's largest file is 3.5 MB.
MAX_BYTES = 512 * 2**20
# What ``_reconstruct`` may allocate before BUILD fills it from the file: pickles of every
# protocol create the array empty ((0,) elements) and give its shape and bytes in BUILD.
_RECONSTRUCT_BYTES = 64
# The most pickle operations a weights file may have: a dict of K arrays takes about 10 per
# array, so this admits thousands of arrays, while a file of a million empty lists (32 bytes of
# memory per byte of file) is refused after a quick scan, before anything is built.
MAX_OPERATIONS = 100_000

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


class CorruptWeightsError(ValueError):
    """A weights file that is not a dict of numeric arrays (truncated, empty, not a pickle or an
    npz, nested beyond reason, too large); the message names the file and the problem."""


class _NdarrayType:
    """What ``numpy.ndarray`` resolves to inside a pickle: usable only as ``_reconstruct``'s
    first argument (calling it would allocate an uninitialised array of any size)."""

    def __call__(self, *args, **kwargs):
        raise UnsafePickleError("numpy.ndarray(...) called directly: arrays must be rebuilt "
                                "from their data (_reconstruct + BUILD)")


_NDARRAY = _NdarrayType()


def _nbytes(shape, dtype) -> int:
    try:
        n = int(np.prod([int(d) for d in np.atleast_1d(shape)], dtype=object))
        return n * np.dtype(dtype).itemsize
    except (TypeError, ValueError) as exc:
        raise UnsafePickleError(f"array shape {shape!r} / dtype {dtype!r} is invalid: {exc}"
                                ) from None


def _guarded(name: str, func):
    """``_reconstruct`` and ``_frombuffer`` with their sizes checked before anything is made."""
    if name == "_reconstruct":
        def reconstruct(subtype, shape, dtype):
            if subtype is not _NDARRAY:
                raise UnsafePickleError("_reconstruct may only rebuild numpy.ndarray")
            if _nbytes(shape, dtype) > _RECONSTRUCT_BYTES:
                raise UnsafePickleError(
                    f"_reconstruct asks for an empty {shape!r} array of {dtype!r} "
                    f"({_nbytes(shape, dtype):,} bytes) whose data is not in the file")
            return func(np.ndarray, shape, dtype)
        return reconstruct
    if name == "_frombuffer":
        def frombuffer(buf, dtype, shape, order):
            if _nbytes(shape, dtype) != len(memoryview(buf).cast("B")):
                raise UnsafePickleError(f"_frombuffer: shape {shape!r} of {dtype!r} does not "
                                        f"match the {len(buf)} bytes given")
            return func(buf, dtype, shape, order)
        return frombuffer
    return func


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
        if (module, name) == ("numpy", "ndarray"):
            return _NDARRAY
        return _guarded(name, _resolve_numpy(module, name))

    def persistent_load(self, pid):
        raise UnsafePickleError(f"refusing to load {self.source}: persistent id {pid!r}")


NUMERIC_KINDS = "biuf"  # bool, signed and unsigned integers, floats


def _path(where: tuple | None) -> str:
    """``['W'][0]`` from the linked (parent, key) pairs ``_check_values`` keeps."""
    keys = []
    while where is not None:
        where, key = where
        keys.append(f"[{key!r}]")
    return "".join(reversed(keys))


def _check_values(params: dict, source, max_bytes: int) -> None:
    """One pass over the loaded structure, each object visited once (shared references and
    cycles included): arrays must be numeric, their total size within ``max_bytes``. Where an
    object sits is kept as a (parent, key) link, made into text only for a refusal."""
    total = 0
    seen: set[int] = set()
    stack: list[tuple[object, tuple]] = [(value, (None, key)) for key, value in params.items()]
    while stack:
        value, where = stack.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, np.ndarray):
            if value.dtype.hasobject:
                raise UnsafePickleError(f"refusing {source}: {_path(where)} is an object array")
            if value.dtype.kind not in NUMERIC_KINDS:
                raise CorruptWeightsError(f"{source}: {_path(where)} has dtype {value.dtype} "
                                          "(weights are bool, integer or float arrays)")
            total += value.nbytes
            if total > max_bytes:
                raise CorruptWeightsError(f"{source}: more than {max_bytes:,} bytes of arrays "
                                          "(max_bytes)")
        elif isinstance(value, dict):
            stack.extend((item, (where, key)) for key, item in value.items())
        elif isinstance(value, list | tuple):
            stack.extend((item, (where, i)) for i, item in enumerate(value))


def _read_capped(path: Path, max_bytes: int) -> bytes:
    size = path.stat().st_size
    if size > max_bytes:
        raise CorruptWeightsError(f"{path}: {size:,} bytes, more than the {max_bytes:,} allowed "
                                  "(pass max_bytes to load a larger file)")
    if size == 0:
        raise CorruptWeightsError(f"{path}: the file is empty")
    return path.read_bytes()


def _count_operations(data: bytes, path: Path) -> None:
    """Refuse a pickle with more than ``MAX_OPERATIONS`` opcodes (scanned, nothing built)."""
    import pickletools

    try:
        for n, _ in enumerate(pickletools.genops(data), start=1):
            if n > MAX_OPERATIONS:
                raise CorruptWeightsError(
                    f"{path}: more than {MAX_OPERATIONS:,} pickle operations; a parameter dict "
                    "needs about 10 per array")
    except CorruptWeightsError:
        raise
    except Exception as exc:  # noqa: BLE001  (pickletools rejects malformed opcodes its own way)
        raise CorruptWeightsError(f"{path}: not a valid weights pickle ({type(exc).__name__}: "
                                  f"{exc})") from None


def _load_npz(path: Path, max_bytes: int) -> dict:
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise CorruptWeightsError(f"{path}: not a valid .npz archive ({exc})") from None
    if declared > max_bytes:
        raise CorruptWeightsError(f"{path}: its members would decompress to {declared:,} bytes, "
                                  f"more than the {max_bytes:,} allowed (max_bytes)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            params = {key: archive[key] for key in archive.files}
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise UnsafePickleError(f"refusing {path}: a member holds pickled objects") from None
        raise CorruptWeightsError(f"{path}: unreadable .npz member ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise CorruptWeightsError(f"{path}: unreadable .npz ({type(exc).__name__}: {exc})"
                                  ) from None
    _check_values(params, path, max_bytes)
    return params


def load_params(path: str | os.PathLike, max_bytes: int = MAX_BYTES) -> dict:
    """ch3.6.2 Load a parameter dict (``W1``, ``b1``, ...) from a ``.pkl`` (safely) or ``.npz``.

    Args:
        max_bytes: the largest file, and the largest total of array data, accepted.

    Raises:
        UnsafePickleError: the pickle names a global other than the NumPy/builtin ones needed to
            rebuild arrays, or uses them to allocate what the file does not hold; nothing it
            references was imported or called.
        CorruptWeightsError: not a dict of numeric arrays (empty, truncated, not a pickle, too
            large, a non-numeric array); the message names the file.
        ValueError: an unknown suffix.
    """
    path = Path(path)
    if path.suffix == ".npz":
        return _load_npz(path, max_bytes)
    if path.suffix not in (".pkl", ".pickle"):
        raise ValueError(f"{path}: unknown parameter file suffix {path.suffix!r}; expected .pkl "
                         "or .npz")
    data = _read_capped(path, max_bytes)
    _count_operations(data, path)
    try:
        params = _RestrictedUnpickler(io.BytesIO(data), str(path)).load()
    except UnsafePickleError:
        raise
    except RecursionError:
        raise CorruptWeightsError(f"{path}: nested too deeply to be a parameter dict") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, OverflowError, MemoryError, UnicodeDecodeError) as exc:
        raise CorruptWeightsError(f"{path}: not a valid weights pickle ({type(exc).__name__}: "
                                  f"{exc})") from None
    if not isinstance(params, dict):
        raise CorruptWeightsError(f"{path}: expected a dict of parameters, got "
                                  f"{type(params).__name__}")
    _check_values(params, path, max_bytes)
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


def remove_stale_parts(path: str | os.PathLike) -> list[Path]:
    """Delete the temp files ``atomic_target`` left for ``path`` when its process was killed
    (``kill -9`` skips every cleanup); returns what was removed."""
    path = Path(path)
    stale = list(path.parent.glob(f".{path.name}.*.part")) if path.parent.is_dir() else []
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


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
