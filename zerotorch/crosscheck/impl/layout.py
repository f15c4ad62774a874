"""Where a reader's code lives: the book's repository layout, read without running it.

A reader's repository looks like the book's: a library folder (``common/``, or the book-named
files at the root) that the chapter folders (``ch04/``, ``chapter5/``…) import from their parent
(``sys.path.append(os.pardir)``), and chapter scripts that define a class or two and then train
or plot at top level. ``scan`` lists the Python files of such a tree and, for each, the top-level
classes and functions it *defines* (parsed with ``ast``: nothing is executed), so a concept can
be taken from the most specific file that defines it and the report can suggest close names.

A chapter script is loaded **definitions only** (``definitions_module``): its imports, classes,
functions and constant assignments run, the rest of its top level (training, plotting, loading
MNIST) does not.
"""

from __future__ import annotations

import ast
import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

CHAPTER = re.compile(r"^ch(?:apter)?[_-]?0*(\d{1,2})(?!\d)", re.IGNORECASE)
# Folders that hold no implementation (data loaders, notebooks, environments, tests).
SKIP = {"dataset", "datasets", "data", "notebooks", "tests", "test", "docs", "venv", ".venv",
        "env", "site-packages", "__pycache__", "build", "dist"}
LIBRARY = "common"
# A concept's name where the chapter's own script spells it differently.
CHAPTER_NAMES = {"networks.TwoLayerNetCh4": "TwoLayerNet"}


def chapter_of(folder_name: str) -> int | None:
    m = CHAPTER.match(folder_name)
    return int(m.group(1)) if m else None


@dataclass
class Source:
    """One Python file of the tree."""

    path: Path
    rel: str  # relative to the tree's root, with forward slashes
    chapter: int | None  # the chapter folder it is in, if any
    library: bool  # in the library folder: imported as a module, not as a script
    defines: dict[str, str] = field(default_factory=dict)  # top-level name → "class"/"function"


_TOP_DEF = re.compile(rb"^(class|def)\s+([A-Za-z_]\w*)", re.MULTILINE)


def _defines(path: Path) -> dict[str, str]:
    try:
        source = path.read_bytes()
    except OSError:
        return {}
    try:
        tree = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError):
        # newer syntax than this Python's, or broken: its top-level names by their text, so
        # the file is still chosen and its import reports the error
        return {m.group(2).decode(): "class" if m.group(1) == b"class" else "function"
                for m in _TOP_DEF.finditer(source)}
    out = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            out[node.name] = "class"
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            out[node.name] = "function"
    return out


def scan(root: Path, library: Path | None, max_depth: int = 2) -> list[Source]:
    """Every ``.py`` file under ``root`` (up to ``max_depth`` folders deep, skipping ``SKIP`` and
    hidden folders), with what each defines."""
    out = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root)
        parts = rel.parts[:-1]
        if len(parts) > max_depth or any(p in SKIP or p.startswith(".") for p in parts):
            continue
        chapter = next((c for c in (chapter_of(p) for p in parts) if c is not None), None)
        in_library = library is not None and (path.parent == library)
        out.append(Source(path, rel.as_posix(), chapter, in_library, _defines(path)))
    return out


def _keeps(node: ast.stmt) -> bool:
    """Top-level statements a definitions-only load runs."""
    if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef | ast.AsyncFunctionDef
                  | ast.ClassDef):
        return True
    if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
        return not any(isinstance(n, ast.Call | ast.Lambda) for n in ast.walk(node.value))
    if isinstance(node, ast.Try):  # try: import x / except ImportError: …
        return all(isinstance(n, ast.Import | ast.ImportFrom) for n in node.body)
    return False


class Unavailable:
    """What a script's failed import binds its names to: using it raises the import's error.

    A chapter script's ``from dataset.mnist import load_mnist`` need not work for its classes
    to be graded; a class that does use the name gets the original error, naming the line.
    """

    def __init__(self, name: str, error: BaseException):
        self._name, self._error = name, error

    def _fail(self, *args, **kwargs):
        raise ImportError(f"{self._name} could not be imported: {self._error}")

    __call__ = _fail

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        self._fail()


def _bound_names(node: ast.Import | ast.ImportFrom) -> list[str]:
    return [a.asname or a.name.split(".")[0] for a in node.names if a.name != "*"]


def definitions_module(path: Path, name: str, everything: bool = False,
                       fallback=None) -> ModuleType:
    """``path`` as a module ``name`` holding only its definitions (see the module docstring).

    Statements run one by one with the file's own line numbers (tracebacks point at the
    reader's lines); an import that fails binds its names to ``Unavailable``, an assignment
    that fails is left out, a class whose base could not be imported raises that import's error.
    ``everything``: run every statement (a library file whose one import fails), still binding
    a failed import's names to ``Unavailable``; anything else that fails raises.
    ``fallback(module, level)``: called when an import fails, to load that module some other
    way (the library file loaded without its own failed import); true means "try again".
    """
    tree = ast.parse(path.read_bytes(), filename=str(path))
    mod = ModuleType(name)
    mod.__file__ = str(path)
    sys.modules[name] = mod
    here = str(path.parent)
    sys.path.insert(0, here)  # its sibling imports, as when the book runs it from its folder
    try:
        for node in (n for n in tree.body if everything or _keeps(n)):
            code = compile(ast.Module(body=[node], type_ignores=[]), str(path), "exec")
            try:
                try:
                    exec(code, mod.__dict__)  # noqa: S102  (the reader's definitions, sandboxed)
                except ImportError:
                    if not (isinstance(node, ast.ImportFrom) and fallback is not None
                            and fallback(node.module, node.level)):
                        raise
                    exec(code, mod.__dict__)  # noqa: S102
            except ImportError as exc:
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    raise
                for bound in _bound_names(node):
                    mod.__dict__[bound] = Unavailable(bound, exc)
            except Exception:
                if isinstance(node, ast.Import | ast.ImportFrom | ast.Try):
                    raise  # the imported file itself is broken (a SyntaxError in it)
                if isinstance(node, ast.ClassDef):  # a base that could not be imported
                    for base in node.bases:
                        value = mod.__dict__.get(getattr(base, "id", ""))
                        if isinstance(value, Unavailable):
                            raise value._error from None
                    raise
                if everything or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    raise
                # an assignment reading what the script's skipped statements would have made
                # (``train_size = x_train.shape[0]``): left out, like them
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        sys.path.remove(here)
    return mod


def book_like(name: str) -> str:
    """``ReLULayer``, ``relu_layer`` and ``Relu`` compare equal: lower case, no underscores, no
    ``Layer`` suffix (readers' suffix for the book's layer classes)."""
    n = name.lower().replace("_", "")
    return n[:-5] if n.endswith("layer") and len(n) > 5 else n


def close_names(name: str, sources: list[Source], kind: str | None,
                exclude=frozenset()) -> list[str]:
    """Defined names close to ``name`` (same kind: class or function, none in ``exclude``), as
    ``file:Name``."""
    pool = {}
    for s in sources:
        for n, k in s.defines.items():
            if (kind is None or k == kind) and n not in exclude and not n.startswith("_"):
                pool.setdefault(n, s.rel)
    found = difflib.get_close_matches(name, list(pool), n=3, cutoff=0.7)
    key = book_like(name)
    extended = [n for n in pool if n not in found and len(key) >= 4  # Dropout_Vanilla_Version
                and (book_like(n).startswith(key) or book_like(n).endswith(key))]
    return [f"{pool[n]}:{n}" for n in (found + extended)[:4]]
