"""Load a reader's implementation (a ``common/``-style folder, one ``.py`` file or a module).

``load_impl(spec)`` returns an ``Impl`` whose modules are imported lazily, on the first concept
that needs them, so one file that fails to import (or loops at import time) only affects the
concepts that live in it. An import error is reported as that concept's error, never as
"not implemented".

- A folder laid out like the book's ``common/``: its files import each other as
  ``from common.layers import *``, so the folder is made importable as the package ``common``
  (and under its own folder name, the same module objects); the folder itself is appended to
  ``sys.path`` so flat ``from layers import *`` imports work too. A folder that only contains a
  ``common/`` sub-folder (the book's repository root) is followed into it.
- A single ``.py`` file: every book module name (``layers.Affine``, ``optimizer.SGD``…) is
  looked up in that one file.
- An importable module name: a package is treated like a folder (``pkg.layers``…), a plain
  module like a single file.

This runs user code: call it in the child process (see ``user.py``), not in the report's process.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from zerotorch.crosscheck import frames
from zerotorch.crosscheck.impl import MODULE_ALIASES, NAME_ALIASES, Impl

PACKAGE_NAME = "common"  # the name the book's files import each other by


def book_stems() -> list[str]:
    """Every module file name an implementation may use (ours and the book's), in order."""
    stems: list[str] = []
    for aliases in MODULE_ALIASES.values():
        stems += [s for s in aliases if s not in stems]
    return stems


class ImplLoadError(ValueError):
    """The ``--impl`` argument names no folder, file or importable module."""


class ImplImportError(ImportError):
    """A file of the implementation failed to import (raised, or hung in the import probe).

    The concept that needed it is BLOCKED by ``blocked_by`` (the file's name, e.g. ``layers.py``);
    the failure itself, ``summary``, is reported once, in that file's own row.
    """

    def __init__(self, file: str, summary: str):
        super().__init__(f"{file}: {summary}")
        self.blocked_by = file
        self.user_frame = f"blocked: importing {file} failed (see its row)"


def file_label(stem: str) -> str:
    """How the report names a module file: ``layers.py``."""
    return stem if stem.endswith(".py") else f"{stem}.py"


class LazyImpl(Impl):
    """An ``Impl`` whose module files are imported on first use.

    ``importer(stem)`` imports and returns the module for a book stem (``layers``…), raising
    ``ModuleNotFoundError`` naming ``missing_name(stem)`` when the implementation has no such
    file. ``modules`` fills as stems are imported; ``errors`` maps a stem to the summary of the
    exception its import raised. ``root`` is the folder the user's code lives in (to pick the
    user's frame out of a traceback).
    """

    def __init__(self, name: str, importer, missing_name, root: str | None = None,
                 single: str | None = None):
        super().__init__(name, {})
        self.importer = importer
        self.missing_name = missing_name
        self.root = root
        self.single = single  # one module holds every name: its file name (``mine.py``)
        self.errors: dict[str, str] = {}
        self._absent: set[str] = set()

    def probe_stems(self) -> list[str]:
        """The stems whose import the sandbox tries once, before any concept runs."""
        return [self.single] if self.single else book_stems()

    def load(self, stem: str) -> ModuleType | None:
        """The module for ``stem`` (importing it the first time), or ``None`` if absent/broken."""
        stem = self.single or stem
        if stem in self.modules:
            return self.modules[stem]
        if stem in self._absent or stem in self.errors:
            return None
        try:
            mod = self.importer(stem)
        except ModuleNotFoundError as exc:
            if exc.name == self.missing_name(stem):
                self._absent.add(stem)
                return None
            self.errors[stem] = frames.summary(exc, self.root)
            return None
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit at import time included
            self.errors[stem] = frames.summary(exc, self.root)
            return None
        self.modules[stem] = mod
        return mod

    def resolve(self, dotted: str):
        """Like ``Impl.resolve`` (earlier book names included); raises ``ImplImportError`` when
        the file that might hold the object failed to import (an error, not a MISSING)."""
        for name in (dotted, *NAME_ALIASES.get(dotted, ())):
            obj = self._resolve_one(name)
            if obj is not None:
                return obj
        return None

    def resolve_path(self, path: str):
        """``module.attr`` in the reader's own files (``--map``): ``mylayers.AffineLayer``."""
        module, _, attr = path.rpartition(".")
        if module in self.errors:
            raise ImplImportError(file_label(module), self.errors[module])
        if self.single:
            try:
                mod = importlib.import_module(module)
            except ModuleNotFoundError:
                return None
        else:
            mod = self.load(module)
            if module in self.errors:
                raise ImplImportError(file_label(module), self.errors[module])
        return getattr(mod, attr, None) if mod is not None else None

    def _resolve_one(self, dotted: str):
        prefix, _, attr = dotted.partition(".")
        stems = (self.single,) if self.single else MODULE_ALIASES.get(prefix, (prefix,))
        loaded = [m for m in (self.load(stem) for stem in stems) if m is not None]
        for mod in loaded:
            if hasattr(mod, attr):
                return getattr(mod, attr)
        for mod in loaded:  # the book's ``simpleNet``, a reader's ``ReLU``: one that differs
            same = [k for k in vars(mod) if k.lower() == attr.lower()]  # only in case
            if len(same) == 1:
                return getattr(mod, same[0])
        broken = [s for s in stems if s in self.errors]
        if broken:
            raise ImplImportError(file_label(broken[0]), self.errors[broken[0]])
        return None


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Makes ``alias`` and ``alias.x`` the very same module objects as ``target``/``target.x``."""

    def __init__(self, alias: str, target: str):
        self.alias = alias
        self.target = target

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.alias or fullname.startswith(self.alias + "."):
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(self.target + spec.name[len(self.alias):])

    def exec_module(self, module):  # the target module is already executed
        pass


def _register_package(name: str, folder: Path) -> ModuleType:
    """Make ``folder`` importable as the package ``name`` (running its ``__init__.py``, if any)."""
    init = folder / "__init__.py"
    if init.exists():
        spec = importlib.util.spec_from_file_location(name, init,
                                                      submodule_search_locations=[str(folder)])
        pkg = importlib.util.module_from_spec(spec)
        sys.modules[name] = pkg
        try:
            spec.loader.exec_module(pkg)
        except Exception:
            del sys.modules[name]
            raise
    else:
        pkg = ModuleType(name)
        pkg.__path__ = [str(folder)]
        pkg.__file__ = None
        pkg.__package__ = name
        sys.modules[name] = pkg
    return pkg


def _has_book_files(folder: Path) -> bool:
    return any((folder / f"{s}.py").exists() for s in book_stems())


def locate(spec: str) -> tuple[str, str]:
    """Classify ``spec`` as ``("folder", path)``, ``("file", path)`` or ``("module", name)``.

    Raises ``ImplLoadError`` with a readable message when it is none of them. Only the import
    system's finders run here: no user code is executed.
    """
    path = Path(spec).expanduser()
    if path.is_dir():
        if not _has_book_files(path) and (path / PACKAGE_NAME).is_dir():
            path = path / PACKAGE_NAME  # the book's repository root: use its common/
        if not _has_book_files(path):
            raise ImplLoadError(
                f"{spec}: no book module files found (expected some of "
                f"{', '.join(s + '.py' for s in book_stems())})")
        return "folder", str(path.resolve())
    if path.suffix == ".py" or path.is_file():
        if not path.is_file():
            raise ImplLoadError(f"{spec}: no such file")
        return "file", str(path.resolve())
    try:
        found = importlib.util.find_spec(spec)
    except (ImportError, ValueError) as exc:
        raise ImplLoadError(f"{spec}: not a folder, a .py file or an importable module "
                            f"({type(exc).__name__}: {exc})") from None
    if found is None:
        raise ImplLoadError(f"{spec}: not a folder, a .py file or an importable module")
    return "module", spec


def _once(make):
    """``make()`` run at most once: later calls return its module or re-raise its exception."""
    box: dict = {}

    def call(_stem=None):
        if "exc" in box:
            raise box["exc"]
        if "mod" not in box:
            try:
                box["mod"] = make()
            except BaseException as exc:
                box["exc"] = exc
                raise
        return box["mod"]

    return call


def _exec_file(name: str, file: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, file)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return mod


def _submodule_importer(package, prefix: str):
    """``importer(stem)`` for ``LazyImpl``: the package first (once), then ``prefix.stem``."""
    def importer(stem: str) -> ModuleType:
        package()
        return importlib.import_module(f"{prefix}.{stem}")

    return importer


def load_impl(spec: str) -> LazyImpl:
    """The implementation named by ``spec`` (see the module docstring); imports are lazy."""
    return load_located(*locate(spec))


def load_located(kind: str, where: str) -> LazyImpl:
    """``load_impl`` for an already ``locate``d implementation (an absolute path or a module)."""
    if kind == "module":
        found = importlib.util.find_spec(where)
        origin = found.origin if found and found.has_location else None
        root = os.path.dirname(os.path.abspath(origin)) if origin else None
        if found is not None and found.submodule_search_locations is not None:
            package = _once(lambda: importlib.import_module(where))
            return LazyImpl(where, _submodule_importer(package, where),
                            lambda s: f"{where}.{s}", root)
        module = _once(lambda: importlib.import_module(where))
        return LazyImpl(where, module, lambda s: None, root, single=where)

    if kind == "file":
        file = Path(where)
        if str(file.parent) not in sys.path:
            sys.path.append(str(file.parent))  # its sibling imports
        name = file.stem if file.stem.isidentifier() else "user_impl"
        if name in sys.modules or importlib.util.find_spec(name) is not None:
            name = f"_zerotorch_user_{name}"
        module = _once(lambda: _exec_file(name, file))
        return LazyImpl(str(file), module, lambda s: None, str(file.parent), single=file.name)

    folder = Path(where)
    if str(folder) not in sys.path:
        sys.path.append(str(folder))  # flat ``from layers import *`` imports
    for key in [k for k in sys.modules if k == PACKAGE_NAME or k.startswith(PACKAGE_NAME + ".")]:
        del sys.modules[key]
    package = _once(lambda: _register_package(PACKAGE_NAME, folder))
    alias = folder.name
    if alias.isidentifier() and alias != PACKAGE_NAME and alias not in sys.modules:
        other = None if alias in sys.builtin_module_names else importlib.util.find_spec(alias)
        same = other is not None and [os.path.abspath(p) for p in
                                      (other.submodule_search_locations or [])] == [str(folder)]
        if alias not in sys.builtin_module_names and (other is None or same):
            sys.meta_path.insert(0, _AliasFinder(alias, PACKAGE_NAME))
    return LazyImpl(str(folder), _submodule_importer(package, PACKAGE_NAME),
                    lambda s: f"{PACKAGE_NAME}.{s}", str(folder))
