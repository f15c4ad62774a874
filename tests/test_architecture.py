"""The package's shape: no import cycles, every module importable alone, imports written as imports.

The import graph is read from the source (every ``import`` statement, at any depth, so a deferred
import inside a function counts as an edge too) over the modules of ``scratch/`` and
``zerotorch/``. ``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else
to ``pkg`` itself; importing a submodule runs its package's ``__init__`` first, which is an edge
the graph does not need to draw (that ``__init__`` imports nothing back up the tree).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("scratch", "zerotorch")


def _modules() -> dict[str, Path]:
    """Dotted module name → file, for every module of the two packages."""
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _package_of(name: str) -> str:
    return name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]


def _imports(name: str) -> set[str]:
    """The modules of ours that ``name`` imports (module level or deferred)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's own package upwards
                base = _package_of(name).split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] not in PACKAGES:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in MODULES else target)
    found.discard(name)
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_import_graph_of_scratch_and_zerotorch_is_acyclic():
    graph = {name: _imports(name) for name in MODULES}
    assert sum(map(len, graph.values())) > 100  # the graph was read, not empty
    assert "zerotorch.nn" in graph["zerotorch.networks.base"]
    cycle = _cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_finds_a_planted_cycle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert _cycle(graph) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_scratch_never_imports_torch_or_zerotorch():
    for name, path in MODULES.items():
        if name.startswith("scratch"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"^\s*(import|from)\s+(torch|zerotorch)\b", text, re.M), name


# The child imports only third-party packages before forking, so every fork starts with none of
# our modules loaded: each module is imported the way a user's first ``import`` would do it.
_ISOLATED = textwrap.dedent("""
    import importlib, os, sys, traceback
    import numpy, torch, pytorch_lightning, matplotlib  # third-party only: ours load per fork
    failed = []
    for name in sys.argv[1:]:
        pid = os.fork()
        if pid == 0:
            try:
                importlib.import_module(name)
            except BaseException:
                traceback.print_exc()
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if status:
            failed.append(name)
    print("FAILED:" + ",".join(failed))
""")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_every_module_imports_in_isolation():
    names = sorted(n for n in MODULES if not n.endswith("__main__"))  # __main__ runs the CLI
    env = {**os.environ, "MPLBACKEND": "Agg"}
    out = subprocess.run([sys.executable, "-c", _ISOLATED, *names], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    failed = out.stdout.strip().rpartition("FAILED:")[2]
    assert failed == "", f"modules that fail to import alone: {failed}\n{out.stderr[-3000:]}"
    assert len(names) > 60


IMPORTERS = {"import_module", "__import__", "find_spec", "set_forkserver_preload"}


def _name_strings(path: Path):
    """String constants that name a module to import: ``"module:function"`` anywhere, and the
    argument of ``importlib.import_module`` & co."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if re.fullmatch(r"(scratch|zerotorch)(\.\w+)*:\w+", node.value):
                yield node.value
        elif isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in IMPORTERS:
                for arg in ast.walk(node):
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) \
                            and arg.value.split(".")[0] in PACKAGES:
                        yield arg.value


def test_no_strings_stand_in_for_imports():
    """No ``"module:function"`` strings and no ``import_module("zerotorch.…")``: our own modules
    are imported by import statements. The one exception is the fork server's preload list,
    which multiprocessing takes by name."""
    offenders = [f"{name}: {s!r}" for name, path in MODULES.items()
                 for s in _name_strings(path)]
    assert offenders == []
    from zerotorch._forkserver import PRELOAD  # multiprocessing skips a name that is gone

    assert PRELOAD and set(PRELOAD) <= MODULES.keys(), PRELOAD


def test_the_string_scanner_finds_planted_stand_ins(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text('import importlib\n'
                       'fn = importlib.import_module("zerotorch.nn")\n'
                       'SPEC = "zerotorch.reproduce.ch3:evaluate"\n'
                       'log = "zerotorch.experiments"  # a logger name: not an import\n')
    assert list(_name_strings(planted)) == ["zerotorch.nn", "zerotorch.reproduce.ch3:evaluate"]


def test_no_bottom_of_file_re_exports():
    """Every import sits at the top (or inside the function that defers it): none after code
    with ``# noqa: E402``."""
    offenders = [name for name, path in MODULES.items()
                 if "noqa: E402" in path.read_text(encoding="utf-8")]
    assert offenders == []


def _readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_every_file_the_concept_map_names_exists():
    """The README's concept map (the layout, "where to look", the concept table) names files a
    newcomer will open: each path in backticks outside the book's column is a real file."""
    section = _readme_section("Concept map")
    lines = [re.sub(r"^\| [^|]* \|", "|", line) if line.startswith("| ") else line
             for line in section.splitlines()]  # the table's first column names the book's files
    paths = {cell for cell in re.findall(r"`([^`\s]+)`", "\n".join(lines))
             if "/" in cell or cell.endswith(".py")}
    assert len(paths) > 30
    bases = ("", "tests", "scratch", "zerotorch", "zerotorch/crosscheck",
             "zerotorch/crosscheck/pairs", "zerotorch/networks", "docs")
    missing = []
    for path in sorted(paths):
        path = path.replace("<N>", "5").replace("<kind>", "batch_norm")
        if not any(list(ROOT.glob(str(Path(base) / path))) for base in bases):
            missing.append(path)
    assert missing == []


def test_the_where_to_look_table_names_one_existing_file_per_question():
    section = _readme_section("Concept map")
    rows = re.findall(r"^\| (a layer's NumPy side|its torch side|its registry entry|"
                      r"an experiment kind|the `--impl` sandbox) \| (.+) \|$", section, re.M)
    assert [q for q, _ in rows] == ["a layer's NumPy side", "its torch side",
                                    "its registry entry", "an experiment kind",
                                    "the `--impl` sandbox"]
    for question, answer in rows:
        first = re.search(r"`([^`]+)`", answer).group(1)
        first = first.replace("<N>", "5").replace("<kind>", "batch_norm")
        assert (ROOT / first).is_file(), (question, first)
