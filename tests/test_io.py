"""ch3.6.2 / ch7.5 The book's weight files: a restricted unpickler, and .npz save/load."""

from __future__ import annotations

import collections
import hashlib
import os
import pickle
import pickletools
from pathlib import Path

import numpy as np
import pytest

from scratch import io as sio
from scratch.book_weights import book_weights_file
from scratch.io import (
    UnsafePickleError,
    atomic_target,
    load_params,
    save_params,
)

# file -> (md5 of the published file, dtype, {key: shape}), as scratch.book_weights lists them
THREE_LAYER = {"W1": (784, 50), "b1": (50,), "W2": (50, 100), "b2": (100,), "W3": (100, 10),
               "b3": (10,)}
SIMPLE = {"W1": (30, 1, 5, 5), "b1": (30,), "W2": (4320, 100), "b2": (100,), "W3": (100, 10),
          "b3": (10,)}
DEEP = {"W1": (16, 1, 3, 3), "W2": (16, 16, 3, 3), "W3": (32, 16, 3, 3), "W4": (32, 32, 3, 3),
        "W5": (64, 32, 3, 3), "W6": (64, 64, 3, 3), "W7": (1024, 50), "W8": (50, 10),
        "b1": (16,), "b2": (16,), "b3": (32,), "b4": (32,), "b5": (64,), "b6": (64,),
        "b7": (50,), "b8": (10,)}
BOOK_FILES = {
    "sample_weight.pkl": ("6aaf4fbaa5b675aae4fc669115b10e4f", np.float32, THREE_LAYER),
    "simple_convnet.pkl": ("5f06676ce1363d33c8c7e44159f8f1eb", np.float64, SIMPLE),
    "simple_convnet_2016.pkl": ("a80b018bc754c0a3a47189e3165f73dd", np.float64, SIMPLE),
    "deep_convnet.pkl": ("cf2293a7e714709740a217ea3b44323b", np.float64, DEEP),
    "deep_convnet_2016.pkl": ("264de587216110d89785733a725459eb", np.float64, DEEP),
}


@pytest.mark.parametrize("name", list(BOOK_FILES))
def test_book_weight_file_loads_with_the_documented_keys_shapes_dtypes(book_weights, name):
    md5, dtype, shapes = BOOK_FILES[name]
    path = book_weights / name
    assert hashlib.md5(path.read_bytes()).hexdigest() == md5
    params = load_params(path)
    assert {k: v.shape for k, v in params.items()} == shapes
    assert {v.dtype for v in params.values()} == {np.dtype(dtype)}
    assert all(type(v) is np.ndarray and np.isfinite(v).all() for v in params.values())
    assert sum(v.size for v in params.values()) == {
        "sample_weight.pkl": 784 * 50 + 50 + 50 * 100 + 100 + 100 * 10 + 10,
        "simple_convnet.pkl": 433_890, "simple_convnet_2016.pkl": 433_890,
        "deep_convnet.pkl": 123_552, "deep_convnet_2016.pkl": 123_552}[name]


def test_book_files_need_only_numpy_array_globals(book_weights):
    """What the five real files reference: exactly the NumPy array machinery, nothing else."""
    seen: set[tuple[str, str]] = set()

    class Recorder(sio._RestrictedUnpickler):
        def find_class(self, module, name):
            seen.add((module, name))
            return super().find_class(module, name)

    for name in BOOK_FILES:
        with open(book_weights / name, "rb") as fh:
            Recorder(fh, name).load()
    assert seen == {("numpy", "ndarray"), ("numpy", "dtype"),
                    ("numpy.core.multiarray", "_reconstruct")}


# --------------------------------------------------------------------------- malicious pickles


class _Shell:
    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def test_pickle_calling_os_system_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"W1": np.ones(2), "x": _Shell(f"touch {marker}")}))
    assert b"system" in path.read_bytes()
    with pytest.raises(UnsafePickleError) as info:
        load_params(path)
    assert f"{os.system.__module__}.system" in str(info.value)  # posix.system on Linux
    assert str(path) in str(info.value)
    assert not marker.exists()
    # control (without running it): the bytes really name os.system and call it (REDUCE)
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(path.read_bytes())]
    assert ("SHORT_BINUNICODE", "system") in ops and ("REDUCE", None) in ops
    assert ("SHORT_BINUNICODE", f"touch {marker}") in ops


@pytest.mark.parametrize("module, name", [
    ("os", "system"), ("builtins", "eval"), ("builtins", "exec"), ("builtins", "getattr"),
    ("__builtin__", "eval"), ("subprocess", "Popen"), ("numpy", "load"),
    ("numpy.testing._private.utils", "runstring"), ("posix", "system"), ("builtins", "open"),
])
def test_forbidden_global_is_named_in_the_error(tmp_path, module, name):
    marker = tmp_path / "ran"
    # protocol 0: c<module>\n<name>\n (S'arg'\n tR . — calls module.name(arg) when unpickled
    payload = f"c{module}\n{name}\n(S'open({str(marker)!r}, \"w\")'\ntR.".encode()
    path = tmp_path / "evil.pkl"
    path.write_bytes(payload)
    shown = "builtins" if module == "__builtin__" else module
    with pytest.raises(UnsafePickleError, match=rf"references the global {shown}\.{name},"):
        load_params(path)
    assert not marker.exists()


def test_stack_global_protocol_4_is_refused_too(tmp_path):
    path = tmp_path / "evil4.pkl"
    path.write_bytes(pickle.dumps(eval, protocol=4))
    with pytest.raises(UnsafePickleError, match=r"builtins\.eval"):
        load_params(path)


def test_codecs_encode_is_allowed_only_for_latin1(tmp_path):
    path = tmp_path / "codec.pkl"
    path.write_bytes(b"c_codecs\nencode\n(Vabc\nVrot13\ntR.")
    with pytest.raises(UnsafePickleError, match="encoding 'rot13'"):
        load_params(path)


def test_object_arrays_are_refused(tmp_path):
    path = tmp_path / "obj.pkl"
    path.write_bytes(pickle.dumps({"W": np.array([1, "a"], dtype=object)}))
    with pytest.raises(UnsafePickleError, match=r"\['W'\] is an object array"):
        load_params(path)


def test_a_pickle_that_is_not_a_dict_is_refused(tmp_path):
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([np.ones(3)]))
    with pytest.raises(ValueError, match="expected a dict of parameters, got list"):
        load_params(path)


# --------------------------------------------------------------------------- what is allowed


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_plain_params_load_in_every_pickle_protocol(tmp_path, protocol):
    params = {"W1": np.arange(6, dtype=np.float32).reshape(2, 3), "b1": np.zeros(3),
              "scale": np.float64(0.5), "step": 3, "name": "affine", "shape": (2, 3),
              "z": complex(1, 2), "raw": b"\x00\xff", "half": np.ones(2, np.float16),
              "strided": np.arange(12.0).reshape(3, 4)[:, ::2],
              "nested": collections.OrderedDict(a=[1, 2.5])}
    path = tmp_path / "ok.pkl"
    path.write_bytes(pickle.dumps(params, protocol=protocol))
    loaded = load_params(path)
    assert loaded.keys() == params.keys()
    for key, value in params.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(loaded[key], value)
            assert loaded[key].dtype == value.dtype
        else:
            assert loaded[key] == value


def test_old_numpy_core_module_name_is_accepted_without_deprecation_warning(tmp_path):
    data = pickle.dumps({"W": np.eye(2)}, protocol=2)
    assert b"numpy._core.multiarray" in data
    path = tmp_path / "old.pkl"
    path.write_bytes(data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(load_params(path)["W"], np.eye(2))


# --------------------------------------------------------------------------- saving


def _roundtrip(tmp_path: Path, suffix: str):
    rng = np.random.default_rng(0)
    params = {"W1": rng.standard_normal((4, 3)), "b1": np.zeros(3, np.float32),
              "W2": rng.standard_normal((2, 1, 3, 3))}
    path = save_params(params, tmp_path / f"params{suffix}")
    loaded = load_params(path)
    assert loaded.keys() == params.keys()
    for key in params:
        np.testing.assert_array_equal(loaded[key], params[key])
        assert loaded[key].dtype == params[key].dtype
    return path


def test_save_and_load_npz(tmp_path):
    path = _roundtrip(tmp_path, ".npz")
    with np.load(path, allow_pickle=False) as archive:  # a plain archive, no pickles inside
        assert sorted(archive.files) == ["W1", "W2", "b1"]


def test_save_pkl_writes_plain_arrays_the_book_can_read(tmp_path):
    path = _roundtrip(tmp_path, ".pkl")
    names = [arg for op, arg, _ in pickletools.genops(path.read_bytes())
             if op.name in ("SHORT_BINUNICODE", "BINUNICODE")]
    # the only globals are NumPy's array machinery (what the book's pickle.load needs)
    assert {"numpy", "ndarray", "dtype", "_reconstruct"} <= set(names)
    assert not {"builtins", "os", "posix", "eval"} & set(names)


def test_save_refuses_object_arrays_and_unknown_suffixes(tmp_path):
    with pytest.raises(TypeError, match="'W' is an object array"):
        save_params({"W": np.array([None, 1], dtype=object)}, tmp_path / "x.npz")
    with pytest.raises(ValueError, match="unknown parameter file suffix '.pt'"):
        save_params({"W": np.ones(1)}, tmp_path / "x.pt")
    with pytest.raises(ValueError, match="unknown parameter file suffix '.txt'"):
        load_params(tmp_path / "x.txt")
    assert list(tmp_path.iterdir()) == []


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "params.npz"
    save_params({"W": np.ones(2)}, path)

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(sio.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        save_params({"W": np.zeros(2)}, path)
    assert [p.name for p in tmp_path.iterdir()] == ["params.npz"]  # temp file removed
    np.testing.assert_array_equal(load_params(path)["W"], np.ones(2))  # old content intact


def test_book_weights_file_takes_a_path_or_a_name_in_the_weights_folder(tmp_path, monkeypatch):
    weights = tmp_path / "weights"
    weights.mkdir()
    save_params({"W1": np.ones(2)}, weights / "deep_convnet.pkl")
    assert book_weights_file(weights / "deep_convnet.pkl") == weights / "deep_convnet.pkl"
    monkeypatch.delenv("ZEROTORCH_BOOK_WEIGHTS", raising=False)
    with pytest.raises(FileNotFoundError, match="zerotorch download weights"):
        book_weights_file("deep_convnet.pkl")
    monkeypatch.setenv("ZEROTORCH_BOOK_WEIGHTS", str(weights))
    assert book_weights_file("deep_convnet.pkl") == weights / "deep_convnet.pkl"
    with pytest.raises(FileNotFoundError, match=r"simple_convnet\.pkl not found: searched "
                                                 r".*weights.*ZEROTORCH_BOOK_WEIGHTS"):
        book_weights_file("simple_convnet.pkl")


def test_atomic_target_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "file.gz"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_target(target) as fh:
        fh.write(b"half of the new")
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.gz"]  # temp file removed
    with atomic_target(target) as fh:
        fh.write(b"new")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["file.gz"]
