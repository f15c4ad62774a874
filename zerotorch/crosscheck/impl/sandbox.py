"""The ``--impl`` sandbox: the reader's code runs in child processes that cannot harm the report.

- **A fresh worker per concept**, forked from a server process that has imported torch and the
  registry but never the reader's code, so nothing one concept's code does (a monkeypatch of
  NumPy, a changed global) can reach another concept's verdict; forking costs milliseconds.
- **Its own session**: the worker calls ``setsid``, so every process the reader's code spawns is
  in its process group and is killed with it, and ``os.killpg(0, …)`` in their code reaches only
  that group, never the report.
- **A memory limit** (``memory_gb`` above what the worker holds when it starts, default
  ``DEFAULT_MEMORY_GB``; ``RLIMIT_DATA``): an allocation beyond it fails in the reader's code and
  the row says "used more than N GB".
- **A temporary working directory**, removed at the end: files their code writes go there.
- **Imports probed once**, before any concept: a file that raises or hangs while importing is one
  row of its own; the concepts it hides are BLOCKED, so a hanging import costs one time limit,
  not one per concept.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import shutil
import signal
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from zerotorch._forkserver import context
from zerotorch.crosscheck.impl import frames

DEFAULT_MEMORY_GB = 4.0
# Forking the first worker starts the server, which imports torch and the registry (a few
# seconds, more on a loaded machine); allowed on top of the per-concept limit.
STARTUP_TIMEOUT = 120.0
# After asking a hung worker for its stack, wait this long for the dump before killing it.
DUMP_GRACE = 1.0


@dataclass
class Job:
    """What one worker does: probe the imports, or check one concept."""

    located: tuple[str, ...]  # loader.locate's (kind, where[, extra])
    cwd: str
    dump_path: str
    seed: int = 0
    memory_gb: float | None = DEFAULT_MEMORY_GB
    concept: str | None = None  # None: the import probe
    broken: dict[str, str] = field(default_factory=dict)  # stems not to import again
    maps: tuple[str, ...] = ()  # ``--map`` overrides (adapter.py)
    sources: list | None = None  # loader.sources_of(located), scanned once by the parent


# ------------------------------------------------------------------------------ the child side


def _vm_data() -> int:
    """This process's data size in bytes (Linux), or 0 where unknown."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        line = next(l for l in Path("/proc/self/status").read_text().splitlines()
                    if l.startswith("VmData:"))
        return int(line.split()[1]) * 1024
    return 0


def limit_memory(gb: float | None) -> None:
    """Cap this process's data segment at ``gb`` GiB above what it holds now (POSIX)."""
    if not gb or gb <= 0:
        return
    try:
        import resource
    except ImportError:  # pragma: no cover  (Windows)
        return
    limit = _vm_data() + int(gb * 2**30)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))


def _out_of_memory(result, gb: float | None):
    if gb and result.status == "ERROR" and "MemoryError" in result.error:
        result.error = f"used more than {gb:g} GB (--memory {gb:g}): {result.error}"
    return result


def _child(conn, job: Job) -> None:
    with contextlib.suppress(OSError):
        os.setsid()  # its own session and process group: see the module docstring
    os.chdir(job.cwd)
    os.dup2(2, 1)  # the reader's prints go to stderr: --json output on stdout stays clean
    sys.stdout = sys.stderr
    warnings.simplefilter("ignore")
    dump = open(job.dump_path, "w")  # noqa: SIM115  (kept open for faulthandler until exit)
    faulthandler.enable(file=dump, all_threads=False)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, file=dump, all_threads=False)
    import torch

    from zerotorch.crosscheck.impl.adapter import adapt
    from zerotorch.crosscheck.impl.check import check_concept
    from zerotorch.crosscheck.impl.layout import CHAPTER_NAMES
    from zerotorch.crosscheck.impl.loader import load_located
    from zerotorch.crosscheck.pairs import REGISTRY

    torch.set_num_threads(1)  # the checks are tiny; workers run side by side (``jobs``)
    limit_memory(job.memory_gb)
    impl = adapt(load_located(*job.located, sources=job.sources), job.maps)
    impl.errors.update(job.broken)
    conn.send(("ready", None))
    if job.concept is None:
        names = {c.scratch_name.partition(".")[2] for c in REGISTRY.values()}
        for stem in impl.probe_stems(names | set(CHAPTER_NAMES.values())):
            if stem in job.broken:
                continue
            conn.send(("importing", (stem, impl.label(stem))))
            impl.load(stem)
            conn.send(("imported", (stem, impl.errors.get(stem))))
        conn.send(("done", None))
        return
    concept = REGISTRY[job.concept]
    result = _out_of_memory(check_concept(concept, impl, job.seed), job.memory_gb)
    try:
        conn.send(("result", result))
    except Exception as exc:  # noqa: BLE001  (something unpicklable in the result)
        conn.send(("result", row(concept, "ERROR", f"the result could not be sent back: "
                                                 f"{type(exc).__name__}: {exc}")))


# ------------------------------------------------------------------------------ the parent side


def row(concept, status: str, error: str):
    from zerotorch.crosscheck.runner import ConceptResult

    return ConceptResult(concept.name, concept.chapter, status, builtin_name=concept.builtin_name,
                         error=error)


class _Process:
    """One worker: started, read from with time limits, and killed with its whole group."""

    def __init__(self, job: Job):
        ctx = context()
        self.conn, child = ctx.Pipe()
        Path(job.dump_path).write_text("")
        self.proc = ctx.Process(target=_child, args=(child, job), daemon=True)
        self.proc.start()
        child.close()
        self.dump_path = job.dump_path

    def ready(self) -> str | None:
        """None once the worker has loaded, else why it did not."""
        if not self.conn.poll(STARTUP_TIMEOUT):
            return f"the checking process did not start within {STARTUP_TIMEOUT:g} s"
        try:
            kind, _ = self.conn.recv()
        except (EOFError, OSError):
            return f"the checking process failed to start ({self.exitcode()})"
        return None if kind == "ready" else "the checking process failed to start"

    def receive(self, timeout: float):
        """The next message, ``"timeout"`` or ``"died"``."""
        if not self.conn.poll(timeout):
            return "timeout", None
        try:
            return self.conn.recv()
        except (EOFError, OSError):
            return "died", None

    def stack(self, root: str | None) -> str:
        """`` at file:line (source)``: where the (hung) worker is, from a faulthandler dump."""
        if self.proc.is_alive() and hasattr(signal, "SIGUSR1"):
            with contextlib.suppress(OSError):
                os.kill(self.proc.pid, signal.SIGUSR1)
            time.sleep(DUMP_GRACE)
        try:
            return frames.from_dump(Path(self.dump_path).read_text(errors="replace"), root)
        except OSError:
            return ""

    def exitcode(self) -> str:
        self.proc.join(2)
        code = self.proc.exitcode
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
        return f"exit status {code}"

    def kill(self) -> None:
        """The worker and everything in its process group (what the reader's code spawned)."""
        pid = self.proc.pid
        if pid is not None and hasattr(os, "killpg"):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()
        with contextlib.suppress(OSError):
            os.unlink(self.dump_path)


class Sandbox:
    """Runs the import probe and then each concept in its own worker (see the module docstring).

    ``broken`` maps a module stem to why importing it failed or hung; filled by ``probe``.
    """

    def __init__(self, located: tuple[str, ...], root: str | None, seed: int = 0,
                 timeout: float = 60.0, memory_gb: float | None = DEFAULT_MEMORY_GB,
                 maps: tuple[str, ...] = ()):
        self.located, self.root, self.seed = located, root, seed
        self.timeout, self.memory_gb, self.maps = timeout, memory_gb, tuple(maps)
        self.cwd = tempfile.mkdtemp(prefix="zerotorch-impl-")
        self.dumps = tempfile.mkdtemp(prefix="zerotorch-dumps-")  # one stack-dump file a worker
        self.broken: dict[str, str] = {}
        self.labels: dict[str, str] = {}  # how the report names each probed file
        from zerotorch.crosscheck.impl.loader import sources_of

        self.sources = sources_of(*located)
        self.startup_error: str | None = None

    def _job(self, concept: str | None) -> Job:
        fd, dump_path = tempfile.mkstemp(dir=self.dumps, suffix=".txt")
        os.close(fd)
        return Job(self.located, self.cwd, dump_path, self.seed, self.memory_gb, concept,
                   dict(self.broken), self.maps, self.sources)

    def probe(self) -> dict[str, str]:
        """Import every module file once; a hang or a crash marks that file broken and the probe
        goes on with the others. Returns ``broken``."""
        for _ in range(64):  # each restart marks one more file broken
            worker = _Process(self._job(None))
            try:
                why = worker.ready()
                if why:
                    self.startup_error = why
                    return self.broken
                current = None
                while True:
                    kind, payload = worker.receive(self.timeout)
                    if kind == "importing":
                        current, self.labels[current] = payload
                    elif kind == "imported":
                        stem, error = payload
                        if error:
                            self.broken[stem] = error
                        current = None
                    elif kind == "done":
                        return self.broken
                    else:  # timeout or died while importing ``current``
                        if current is None:
                            self.startup_error = "the import probe stopped unexpectedly"
                            return self.broken
                        if kind == "timeout":
                            self.broken[current] = (f"importing did not finish within "
                                                    f"{self.timeout:g} s{worker.stack(self.root)}")
                        else:
                            self.broken[current] = (f"importing killed the process "
                                                    f"({worker.exitcode()})"
                                                    f"{worker.stack(self.root)}")
                        break
            finally:
                worker.kill()
        return self.broken

    def run(self, concept):
        """The concept's ``ConceptResult`` from a fresh worker, or a TIMEOUT/ERROR row."""
        from zerotorch.crosscheck.runner import ERROR, TIMEOUT

        if self.startup_error:
            return row(concept, ERROR, self.startup_error)
        worker = _Process(self._job(concept.name))
        try:
            why = worker.ready()
            if why:
                return row(concept, ERROR, why)
            kind, result = worker.receive(self.timeout)
            if kind == "result":
                return result
            if kind == "died":
                gone = worker.exitcode()
                hint = (f"; it may have hit the --memory limit of {self.memory_gb:g} GB"
                        if self.memory_gb and "SIGABRT" in gone else "")
                return row(concept, ERROR, f"the process died ({gone}) while checking this "
                           f"concept{worker.stack(self.root)}{hint}")
            return row(concept, TIMEOUT, f"no result within {self.timeout:g} s (an endless "
                       f"loop?){worker.stack(self.root)}")
        finally:
            worker.kill()

    def close(self) -> None:
        shutil.rmtree(self.cwd, ignore_errors=True)
        shutil.rmtree(self.dumps, ignore_errors=True)
