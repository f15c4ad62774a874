"""``zerotorch crosscheck --impl PATH_OR_MODULE``: grade a reader's own NumPy code.

The reader's code (a ``common/``-style folder, one ``.py`` file or a module; see ``loader.py``)
runs in the sandbox (``sandbox.py``): its imports are tried once, then every concept runs in a
fresh child process under a time and a memory limit, so an endless loop becomes a TIMEOUT row and
a crash (an exception, ``sys.exit``, a segfault) an ERROR row with the reader's own file and
line, and nothing one concept does reaches another. Every concept is graded exactly as our
``scratch`` is (``verdict.grade``: each of the concept's references, its probes, a one-line
diagnosis of a failure), through the adapter for readers' names (``adapter.py``); each worker
calls ``check.check_concept``; this module is the parent side (the report's process).

``check_impl(spec, only, seed, timeout, memory_gb, maps)`` is the Python API (a list of
``ConceptResult``); ``run_user(args)`` is what the CLI calls.
"""

from __future__ import annotations

import os
import re
import sys
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from zerotorch.crosscheck.impl.sandbox import DEFAULT_MEMORY_GB, Sandbox
from zerotorch.crosscheck.runner import (
    BLOCKED,
    ERROR,
    FAILED,
    MISSING,
    ConceptResult,
    exit_status,
    format_json,
    format_table,
)


def _root(kind: str, where: str, *_) -> str | None:
    if kind in ("folder", "tree"):
        return where
    if kind == "file":
        return str(Path(where).parent)
    import importlib.util

    found = importlib.util.find_spec(where)
    origin = found.origin if found and found.has_location else None
    return str(Path(origin).parent) if origin else None


def import_rows(results: list[ConceptResult], broken: dict[str, str],
                labels: dict[str, str], root: str | None = None) -> list[ConceptResult]:
    """One ERROR row per file whose import failed and that hid a concept of this report.

    A file that failed only because a file it imports failed (``multi_layer_net.py`` importing
    a broken ``layers.py``) has no row of its own: its concepts are listed under the culprit.
    ``labels``: how the report names each file.
    """
    from zerotorch.crosscheck.impl.loader import file_label

    named = {key: labels.get(key, file_label(key)) for key in broken}
    culprit = {}
    for key, why in broken.items():
        culprit[named[key]] = next((named[k] for k in broken if k != key and named[k]
                                    and f"/{named[k]}:" in why), named[key])
    for r in results:
        if r.status == BLOCKED and r.blocked_by in culprit:
            r.blocked_by = culprit[r.blocked_by]
    rows = []
    for key, why in broken.items():
        label = named[key]
        if culprit[label] != label:
            continue
        hidden = [r.name for r in results if r.status == BLOCKED and r.blocked_by == label]
        if not hidden:
            continue
        also = sorted(f for f, c in culprit.items() if c == label and f != label)
        notes = [f"blocks {len(hidden)} concept{'s' if len(hidden) > 1 else ''}: "
                 + ", ".join(hidden)]
        if also:
            notes.append("so do the files importing it: " + ", ".join(also))
        hint = _import_hint(why, root)
        rows.append(ConceptResult(f"import {label}", "-", ERROR, error=why,
                                  diagnosis="; ".join(([hint] if hint else []) + notes)))
    return rows


def _import_hint(why: str, root: str | None) -> str:
    """What an import failure usually means, when it is recognisable."""
    if why.startswith("SyntaxError") and sys.version_info < (3, 12) and re.search(
            r"\((?:def|class) \w+\[|\(type \w+ ?(?:=|\[)", why):
        return (f"written for Python 3.12+ (type parameters, PEP 695); this is "
                f"{sys.version_info.major}.{sys.version_info.minor}")
    m = re.match(r"ModuleNotFoundError: No module named '([\w.]+)'", why)
    if m and root:
        top = Path(root) / m.group(1).split(".")[0]
        if top.is_dir() and not any(top.iterdir()):
            return (f"{top.name}/ is empty: a git submodule not checked out? "
                    "(git submodule update --init)")
    return ""


def default_jobs() -> int:
    """Workers run side by side: up to 4, never more than the CPUs."""
    return max(1, min(4, os.cpu_count() or 1))


def check_impl(spec: str, only=None, seed: int = 0, timeout: float = 60.0,
               progress: bool = False, memory_gb: float | None = DEFAULT_MEMORY_GB,
               maps: tuple[str, ...] = (), jobs: int | None = None) -> list[ConceptResult]:
    """Check every registered concept (or those in ``only``) against the reader's code, in up
    to ``jobs`` workers at a time (``default_jobs()``); the rows keep the registry's order.

    The rows: one per file that failed to import (and hid concepts), then one per concept.
    Raises ``loader.ImplLoadError`` when ``spec`` names nothing loadable, ``KeyError`` for an
    unknown concept name and ``ValueError`` for a malformed ``--map``; everything the reader's
    code does is reported per concept.
    """
    from zerotorch.crosscheck.impl.adapter import parse_map
    from zerotorch.crosscheck.impl.loader import locate
    from zerotorch.crosscheck.pairs import concepts

    for m in maps:
        parse_map(m)
    located = locate(spec)
    todo = concepts(only)
    sandbox = Sandbox(located, _root(*located), seed, timeout, memory_gb, maps)
    try:
        sandbox.probe()
        with ThreadPoolExecutor(max_workers=jobs or default_jobs()) as pool:
            running = [pool.submit(sandbox.run, concept) for concept in todo]
            done = as_completed(running)
            if progress:
                from tqdm import tqdm

                done = tqdm(done, total=len(todo), desc="crosscheck", unit="concept",
                            file=sys.stderr, leave=False, disable=None)
            for _ in done:
                pass
        results = [r.result() for r in running]
    finally:
        sandbox.close()
    note_failed_requirements(results, todo)
    return import_rows(results, sandbox.broken, sandbox.labels, sandbox.root) + results


def note_failed_requirements(results: list[ConceptResult], checked) -> None:
    """A failing concept built from other concepts (``Concept.requires``, e.g. a network from
    its layers) that failed in the same report says so first: fixing those usually fixes it."""
    # the concept's own row, not a variant: a softmax failing only on 1-D input does not
    # explain a network that feeds it batches
    failed = {r.name for r in results if r.status in FAILED}
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
    from zerotorch.crosscheck.impl.loader import ImplLoadError

    try:
        results = check_impl(args.impl, only=args.only, seed=args.seed, timeout=args.timeout,
                             progress=not args.json,
                             memory_gb=(DEFAULT_MEMORY_GB if getattr(args, "memory", None)
                                        is None else args.memory),
                             maps=tuple(getattr(args, "map", None) or ()),
                             jobs=getattr(args, "jobs", None))
    except ImplLoadError as exc:
        print(f"zerotorch crosscheck: --impl {exc}", file=sys.stderr)
        return 2
    except (KeyError, ValueError) as exc:
        print(f"zerotorch crosscheck: {exc.args[0]}", file=sys.stderr)
        return 2
    name = args.impl
    if args.json:
        print(format_json(results, name))
    else:
        print(format_table(results, name, shapes=True))
        if any(r.status == BLOCKED for r in results):
            print("BLOCKED = in a file that failed to import (its own row says where)")
        if any(r.status == MISSING for r in results):
            print("MISSING = not implemented in your code (not counted as a failure)")
        if any(r.verdict.startswith("PASS (") for r in results):
            print("PASS (book …) = equals that version of the book, which differs from PyTorch "
                  "as the lines above say" + ("" if args.strict else
                                              " (not a failure; --strict makes it one)"))
    return exit_status(results, strict=args.strict)
