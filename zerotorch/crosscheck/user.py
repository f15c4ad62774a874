"""``zerotorch crosscheck --impl PATH_OR_MODULE``: grade a reader's own NumPy code.

The reader's code (a ``common/``-style folder, one ``.py`` file or a module; see ``loader.py``)
runs in a child process, one concept after another, each under a time limit: an infinite loop
becomes a TIMEOUT row and a crash (an exception, ``sys.exit``, a segfault) an ERROR row with the
reader's own file and line; the worker is replaced and the report goes on. Every concept is
graded exactly as our ``scratch`` is (``verdict.grade``: each of the concept's references, its
probes, a one-line diagnosis of a failure).

``check_impl(spec, only, seed, timeout)`` is the Python API (a list of ``ConceptResult``);
``run_user(args)`` is what the CLI calls.
"""

from __future__ import annotations

import contextlib
import faulthandler
import linecache
import multiprocessing as mp
import os
import re
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

from zerotorch.crosscheck.runner import (
    ERROR,
    FAILED,
    MISSING,
    TIMEOUT,
    ConceptResult,
    exit_status,
    format_json,
    format_table,
)

# Importing torch and the registry in a fresh process takes a few seconds (more on a loaded
# machine); this is allowed on top of the per-concept limit.
STARTUP_TIMEOUT = 120.0
# After asking a hung worker for its stack, wait this long for the dump before killing it.
DUMP_GRACE = 1.0
_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)')


# ------------------------------------------------------------------------------ the child side


def check_concept(concept, impl, seed: int = 0, keep_arrays: bool = False) -> ConceptResult:
    """One concept against the reader's code (in this process), graded against its references
    (``verdict.grade``: the probes and the diagnosis included). The worker calls this; tests
    may too.

    Arrays are dropped from the stages unless ``keep_arrays`` (only numbers travel back).
    """
    import numpy as np

    # Code written like the book's draws initial weights and dropout masks from the global
    # np.random; seeding it for the duration of the check (state restored afterwards) makes
    # such a run reproducible like ours.
    saved = np.random.get_state()  # noqa: NPY002
    np.random.seed(seed)  # noqa: NPY002
    try:
        result = _checked(concept, impl, seed)
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    for s in result.stages:
        if not keep_arrays:
            s.expected = s.actual = None
        s.shape_actual = tuple(s.shape_actual) if s.shape_actual is not None else None
    return result


def _checked(concept, impl, seed: int) -> ConceptResult:
    from zerotorch.crosscheck.runner import _user_frame
    from zerotorch.crosscheck.verdict import grade

    try:
        return grade(concept, impl, seed)
    except BaseException as exc:  # SystemExit, KeyboardInterrupt raised by the reader's code
        result = ConceptResult(concept.name, concept.chapter, ERROR,
                               builtin_name=concept.builtin_name)
        result.error = _user_frame(exc)
        return result


def _worker_main(conn, located: tuple[str, str], cwd: str, seed: int, dump_path: str) -> None:
    """The child: load the implementation lazily, then answer concept names until ``None``."""
    os.chdir(cwd)  # a forkserver child starts where the server started, not where we are
    # The reader's prints go to stderr, so --json output on stdout stays machine-readable.
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    warnings.simplefilter("ignore")
    dump = open(dump_path, "w")  # noqa: SIM115  (kept open for faulthandler until exit)
    faulthandler.enable(file=dump, all_threads=False)
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, file=dump, all_threads=False)
    from zerotorch.crosscheck import concepts
    from zerotorch.crosscheck.loader import load_located
    from zerotorch.crosscheck.pairs import REGISTRY

    concepts()  # fill the registry
    impl = _adapt_kwargs(load_located(*located))
    conn.send(("ready", None))
    while True:
        name = conn.recv()
        if name is None:
            break
        concept = REGISTRY[name]
        result = check_concept(concept, impl, seed)
        try:
            conn.send(("result", result))
        except Exception as exc:  # noqa: BLE001  (something unpicklable in the result)
            conn.send(("result", _row(concept, ERROR, f"the result could not be sent back: "
                                                      f"{type(exc).__name__}: {exc}")))


# Keyword arguments the registry passes under our name where the book spells them differently.
KWARG_ALIASES = {"dropout_ratio": ("dropout_ration",)}  # MultiLayerNetExtend's (sic)


def _adapt_kwargs(impl):
    """Let classes written to the book's signatures take the registry's keyword arguments.

    The registry builds networks and Dropout with ``rng=`` (our API); a class that does not take
    it has the argument dropped and draws from ``np.random`` as the book's do (everything that
    is compared, parameters and masks, is read back from the object). A keyword the book spells
    differently (``KWARG_ALIASES``) is renamed.
    """
    import inspect

    resolve = impl.resolve
    cache: dict = {}

    def accepted(cls) -> set[str] | None:
        try:
            params = inspect.signature(cls).parameters.values()
        except (TypeError, ValueError):
            return None
        if any(p.kind is p.VAR_KEYWORD for p in params):
            return None
        return {p.name for p in params}

    def adapted(dotted: str):
        obj = resolve(dotted)
        names = accepted(obj) if isinstance(obj, type) else None
        if names is None or ("rng" in names and not any(
                a in names for alias in KWARG_ALIASES.values() for a in alias)):
            return obj
        if obj not in cache:
            def __init__(self, *args, _cls=obj, _names=frozenset(names), **kwargs):
                for key in list(kwargs):
                    if key in _names:
                        continue
                    if key == "rng":
                        del kwargs[key]
                    for alias in KWARG_ALIASES.get(key, ()):
                        if alias in _names:
                            kwargs[alias] = kwargs.pop(key)
                            break
                _cls.__init__(self, *args, **kwargs)

            cache[obj] = type(obj.__name__, (obj,), {"__init__": __init__,
                                                     "__module__": obj.__module__,
                                                     "__qualname__": obj.__qualname__})
        return cache[obj]

    impl.resolve = adapted
    return impl


# ------------------------------------------------------------------------------ the parent side


def _context():
    """``forkserver`` where available (a fresh worker is a fork of a server that has already
    imported torch and the registry: restarting after a timeout costs milliseconds, not the
    seconds of a new interpreter), else ``spawn``. Never plain ``fork`` of the report's process.
    """
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["zerotorch.crosscheck.user", "zerotorch.crosscheck.pairs"])
    return ctx


class _Worker:
    """One child process running concepts one after another; replaced when it hangs or dies."""

    def __init__(self, located: tuple[str, str], seed: int):
        self.located, self.seed = located, seed
        self.cwd = os.getcwd()
        self.proc = None
        self.conn = None
        fd, self.dump_path = tempfile.mkstemp(prefix="zerotorch-dump-", suffix=".txt")
        os.close(fd)

    def _start(self) -> str | None:
        """Start a worker; the reason it could not start, or None."""
        ctx = _context()
        parent, child = ctx.Pipe()
        open(self.dump_path, "w").close()
        self.proc = ctx.Process(target=_worker_main, args=(child, self.located, self.cwd,
                                                           self.seed, self.dump_path),
                                daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent
        if not parent.poll(STARTUP_TIMEOUT):
            self.stop(kill=True)
            return f"the checking process did not start within {STARTUP_TIMEOUT:g} s"
        try:
            kind, _ = parent.recv()
        except (EOFError, OSError):
            code = self._exitcode()
            self.stop(kill=True)
            return f"the checking process failed to start ({code})"
        return None if kind == "ready" else "the checking process failed to start"

    def _exitcode(self) -> str:
        self.proc.join(2)
        code = self.proc.exitcode
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):
                return f"killed by {signal.Signals(-code).name}"
        return f"exit status {code}"

    def stop(self, kill: bool = False) -> None:
        if self.proc is None:
            return
        if kill:
            self.proc.kill()
        else:
            with contextlib.suppress(OSError, BrokenPipeError):
                self.conn.send(None)
        self.proc.join(5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join(5)
        self.conn.close()
        self.proc = self.conn = None

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            os.unlink(self.dump_path)

    def run(self, concept, timeout: float, root: str | None) -> ConceptResult:
        """The concept's result, or a TIMEOUT/ERROR row when the worker hangs or dies."""
        if self.proc is None:
            why = self._start()
            if why:
                return _row(concept, ERROR, why)
        open(self.dump_path, "w").close()
        self.conn.send(concept.name)
        if self.conn.poll(timeout):
            try:
                _, result = self.conn.recv()
                return result
            except (EOFError, OSError):
                where = self._exitcode()
                frame = _dumped_frame(self.dump_path, root)
                self.stop(kill=True)
                return _row(concept, ERROR, f"the process died ({where}) while checking this "
                            f"concept{frame}")
        # Timed out: ask for the stack (POSIX), then kill and start afresh for the next one.
        if hasattr(signal, "SIGUSR1"):
            with contextlib.suppress(OSError):
                os.kill(self.proc.pid, signal.SIGUSR1)
            time.sleep(DUMP_GRACE)
        frame = _dumped_frame(self.dump_path, root)
        self.stop(kill=True)
        return _row(concept, TIMEOUT, f"no result within {timeout:g} s (an endless loop?)"
                    f"{frame}")


def _row(concept, status: str, error: str) -> ConceptResult:
    return ConceptResult(concept.name, concept.chapter, status, builtin_name=concept.builtin_name,
                         error=error)


def _dumped_frame(path: str, root: str | None) -> str:
    """`` at file:line (source)`` for the reader's innermost frame in a faulthandler dump."""
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    frames = [m.groupdict() for m in _FRAME.finditer(text)]  # most recent call first
    if not frames:
        return ""
    mine = [f for f in frames if root and os.path.abspath(f["file"]).startswith(root)]
    if not mine:
        mine = [f for f in frames if "/zerotorch/" not in f["file"].replace("\\", "/")
                and "site-packages" not in f["file"] and "/lib/python" not in f["file"]]
    if not mine:
        return ""
    f = mine[0]
    line = linecache.getline(f["file"], int(f["line"])).strip()
    return f" at {f['file']}:{f['line']} ({line})" if line else f" at {f['file']}:{f['line']}"


def check_impl(spec: str, only=None, seed: int = 0, timeout: float = 60.0,
               progress: bool = False) -> list[ConceptResult]:
    """Check every registered concept (or those in ``only``) against the reader's code.

    Raises ``loader.ImplLoadError`` when ``spec`` names nothing loadable and ``KeyError`` for an
    unknown concept name; everything the reader's code does is reported per concept.
    """
    from zerotorch.crosscheck.loader import locate
    from zerotorch.crosscheck.registry import concepts

    kind, where = locate(spec)
    root = where if kind == "folder" else (str(Path(where).parent) if kind == "file" else None)
    todo = concepts(only)
    worker = _Worker((kind, where), seed)
    results = []
    try:
        bar = todo
        if progress:
            from tqdm import tqdm

            bar = tqdm(todo, desc="crosscheck", unit="concept", file=sys.stderr, leave=False,
                       disable=None)
        for concept in bar:
            results.append(worker.run(concept, timeout, root))
    finally:
        worker.close()
    note_failed_requirements(results, todo)
    return results


def note_failed_requirements(results: list[ConceptResult], checked) -> None:
    """A failing concept built from other concepts (``Concept.requires``, e.g. a network from
    its layers) that failed in the same report says so first: fixing those usually fixes it."""
    failed = {r.name.split("[", 1)[0] for r in results if r.status in FAILED}
    for concept, result in zip(checked, results, strict=True):
        if result.status not in FAILED:
            continue
        culprits = [name for name in concept.requires if name in failed]
        if culprits:
            verb = "fails" if len(culprits) == 1 else "fail"
            first = f"built from {', '.join(culprits)}, which {verb} too: fix that first"
            result.diagnosis = f"{first}; {result.diagnosis}" if result.diagnosis else first


def run_user(args) -> int:
    """The CLI entry: ``zerotorch crosscheck --impl X [--only N] [--json] [--seed] [--timeout]``."""
    from zerotorch.crosscheck.loader import ImplLoadError

    try:
        results = check_impl(args.impl, only=args.only, seed=args.seed, timeout=args.timeout,
                             progress=not args.json)
    except ImplLoadError as exc:
        print(f"zerotorch crosscheck: --impl {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"zerotorch crosscheck: {exc.args[0]}", file=sys.stderr)
        return 2
    name = args.impl
    if args.json:
        print(format_json(results, name))
    else:
        print(format_table(results, name, shapes=True))
        if any(r.status == MISSING for r in results):
            print("MISSING = not implemented in your code (not counted as a failure)")
        if any(r.verdict.startswith("PASS (") for r in results):
            print("PASS (book …) = equals that version of the book, which differs from PyTorch "
                  "as the lines above say" + ("" if args.strict else
                                              " (not a failure; --strict makes it one)"))
    return exit_status(results, strict=args.strict)
