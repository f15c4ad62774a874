"""``zerotorch download`` and where the book's weights are found, against a local HTTP server.

There is no internet here, so every download goes to a server on 127.0.0.1 that serves a folder
laid out like the book's repository (``<commit>/ch07/params.pkl``) or like a dataset mirror.
The real weight files and MNIST are used where the data settings provide them; the rest runs
on small stand-in files with their own md5s.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scratch import book_weights as bw
from scratch import dataset as ds

ROOT = Path(__file__).resolve().parent.parent


class _Server:
    """A threaded static file server on 127.0.0.1 that counts the requests it answers."""

    def __init__(self, folder: Path):
        self.requests: list[str] = []
        outer = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                outer.requests.append(self.path)

        handler = functools.partial(Handler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve():
    servers = []

    def start(folder: Path) -> _Server:
        servers.append(_Server(folder))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _dead_url() -> str:
    """An address nobody listens on: connections are refused at once (offline)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _repository(tree: Path, files: dict[str, Path]) -> None:
    """Lay ``files`` (our name → file) out as the book's repository at each file's commit."""
    for w in bw.WEIGHTS:
        if w.name in files:
            target = tree / w.commit / w.book_path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(files[w.name], target)


@pytest.fixture
def fake_weights(tmp_path, monkeypatch) -> dict[str, Path]:
    """Five small stand-in files and a WEIGHTS table with their md5s (same paths, commits)."""
    folder = tmp_path / "originals"
    folder.mkdir()
    files, table = {}, []
    for w in bw.WEIGHTS:
        data = f"stand-in for {w.name}".encode() * 50
        (folder / w.name).write_bytes(data)
        files[w.name] = folder / w.name
        table.append(bw.WeightsFile(w.name, w.network, w.book_path, w.commit,
                                    hashlib.md5(data).hexdigest(), w.version))
    monkeypatch.setattr(bw, "WEIGHTS", tuple(table))
    monkeypatch.setattr(bw, "BY_NAME", {w.name: w for w in table})
    monkeypatch.delenv("ZEROTORCH_BOOK_WEIGHTS", raising=False)
    return files


def test_weights_download_checks_md5_is_atomic_and_resumes(tmp_path, serve, fake_weights):
    tree = tmp_path / "mirror"
    _repository(tree, fake_weights)
    server = serve(tree)
    paths = bw.download(base_url=server.url)
    assert [p.name for p in paths] == [w.name for w in bw.WEIGHTS]
    assert all(p.read_bytes() == fake_weights[p.name].read_bytes() for p in paths)
    assert paths[0].parent == bw.download_folder()  # the default folder, searched by find
    assert bw.find("simple_convnet.pkl") == paths[1]
    # a second run fetches nothing: what is there (md5-checked) is kept
    n = len(server.requests)
    bw.download(base_url=server.url)
    assert len(server.requests) == n
    # a damaged download is refused and leaves no file; the next run fetches it again
    paths[2].unlink()
    (tree / bw.FIRST_COMMIT / "ch07/params.pkl").write_bytes(b"tampered")
    with pytest.raises(bw.WeightsNotFoundError, match=r"simple_convnet_2016\.pkl.*md5"):
        bw.download(base_url=server.url)
    assert not paths[2].exists()
    assert sorted(p.name for p in paths[0].parent.iterdir()) == sorted(
        w.name for w in bw.WEIGHTS if w.name != "simple_convnet_2016.pkl")  # no temp files


def test_weights_download_offline_fails_at_once_naming_the_url(tmp_path, fake_weights):
    url = _dead_url()
    t0 = time.perf_counter()
    with pytest.raises(bw.WeightsNotFoundError, match=rf"could not download {url}/"):
        bw.download(["sample_weight.pkl"], folder=tmp_path / "w", base_url=url)
    assert time.perf_counter() - t0 < 5
    assert list((tmp_path / "w").iterdir()) == []


def test_a_clone_of_the_books_repository_is_recognised_by_md5(tmp_path, monkeypatch,
                                                               fake_weights):
    """ZEROTORCH_BOOK_WEIGHTS may point at a clone: its ch07/params.pkl is whichever version
    its md5 says (here today's), and the other version is reported missing, not mistaken."""
    clone = tmp_path / "deep-learning-from-scratch"
    for name, path in (("ch03/sample_weight.pkl", "sample_weight.pkl"),
                       ("ch07/params.pkl", "simple_convnet.pkl"),
                       ("ch08/deep_convnet_params.pkl", "deep_convnet.pkl")):
        (clone / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(fake_weights[path], clone / name)
    monkeypatch.setenv("ZEROTORCH_BOOK_WEIGHTS", str(clone))
    assert bw.find("simple_convnet.pkl") == clone / "ch07/params.pkl"
    assert bw.find("params.pkl") == clone / "ch07/params.pkl"  # the book's own name
    assert bw.find("ch08/deep_convnet_params.pkl") == clone / "ch08/deep_convnet_params.pkl"
    with pytest.raises(bw.WeightsNotFoundError, match="zerotorch download weights"):
        bw.find("simple_convnet_2016.pkl")
    with pytest.raises(bw.WeightsNotFoundError, match="unknown weights file"):
        bw.find("lenet.pkl")


def _cli(*args, env):
    return subprocess.run([sys.executable, "-m", "zerotorch", *args], capture_output=True,
                          text=True, cwd=ROOT, env=env, timeout=600)


def test_cli_downloads_the_real_weights_and_reproduce_uses_them(tmp_path, serve, book_weights,
                                                                 mnist_dir):
    """The five real files, served as the book's repository at their commits, downloaded with
    `zerotorch download weights` into the default folder (nothing set but the mirror), all five
    byte-identical; `zerotorch reproduce` then finds them and reproduces the ch3 network."""
    tree = tmp_path / "mirror"
    _repository(tree, {w.name: book_weights / w.name for w in bw.WEIGHTS})
    server = serve(tree)
    env = {k: v for k, v in os.environ.items() if k != "ZEROTORCH_BOOK_WEIGHTS"}
    env.update(ZEROTORCH_BOOK_REPO_URL=server.url, XDG_CACHE_HOME=str(tmp_path / "cache"),
               ZEROTORCH_MNIST_DIR=str(mnist_dir))
    out = _cli("download", "weights", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    folder = tmp_path / "cache" / "zerotorch" / "book-weights"
    assert "5 files" in out.stdout and str(folder) in out.stdout
    for w in bw.WEIGHTS:
        assert (folder / w.name).read_bytes() == (book_weights / w.name).read_bytes()
    out = _cli("reproduce", "sample_weight.pkl", env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "0.9352" in out.stdout
    out = _cli("download", "weights", env={**env, "ZEROTORCH_BOOK_REPO_URL": _dead_url(),
                                            "XDG_CACHE_HOME": str(tmp_path / "empty")})
    assert out.returncode == 2 and "could not download" in out.stderr


def test_mnist_download_forgets_a_failed_mirror_once_the_next_one_works(tmp_path, serve,
                                                                         monkeypatch,
                                                                         mnist_dir):
    """The first mirror is down, the second serves the real files: the download succeeds (the
    first mirror's error is not kept), md5-checked, in the torchvision layout."""
    server = serve(mnist_dir)
    spec = {**ds.DATASETS["mnist"], "mirrors": (_dead_url() + "/", server.url + "/")}
    monkeypatch.setitem(ds.DATASETS, "mnist", spec)
    monkeypatch.delenv("ZEROTORCH_MNIST_DIR", raising=False)
    monkeypatch.delenv("ZEROTORCH_DATA", raising=False)
    folder = ds.download("mnist", "test", root=tmp_path)
    assert folder == tmp_path / "MNIST" / "raw"
    for name in ds.split_files("test"):
        assert (folder / name).read_bytes() == (mnist_dir / name).read_bytes()


def test_cli_download_offline_says_so_and_exits_2(tmp_path, monkeypatch):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZEROTORCH_")}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"), ZEROTORCH_BOOK_REPO_URL=_dead_url())
    out = _cli("download", "weights", env=env)
    assert out.returncode == 2 and "zerotorch download: sample_weight.pkl: could not " in (
        out.stderr)
    assert "Traceback" not in out.stderr


def test_a_killed_downloads_temp_file_is_removed_on_the_next_run(tmp_path, serve,
                                                                  fake_weights):
    """kill -9 skips every cleanup: the next download removes what it left beside the file."""
    tree = tmp_path / "mirror"
    _repository(tree, fake_weights)
    server = serve(tree)
    folder = tmp_path / "w"
    folder.mkdir()
    stale = folder / ".sample_weight.pkl.abc123.part"
    stale.write_bytes(b"half a download")
    bw.download(["sample_weight.pkl"], folder=folder, base_url=server.url)
    assert sorted(p.name for p in folder.iterdir()) == ["sample_weight.pkl"]
