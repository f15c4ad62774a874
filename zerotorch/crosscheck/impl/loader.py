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

This runs user code: call it in the child process (see ``sandbox.py``), not in the report's
process.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

from zerotorch.crosscheck.impl import frames, layout
from zerotorch.crosscheck.impl.resolve import MODULE_ALIASES, NAME_ALIASES, Impl

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
    file. ``modules`` fills as stems are imported; ``errors`` maps a stem (or a file's path
    relative to the tree, ``ch04/two_layer_net.py``) to the summary of what its import raised.
    ``root`` is the folder the user's code lives in (to pick the user's frame out of a
    traceback). ``sources`` (``layout.scan``) are the tree's files, found by what they define:
    a concept the book-named files lack is taken from the most specific file defining it (see
    ``_resolve_one``); ``prefer`` is the chapter asked for (``--impl ch05/``), searched first.
    """

    def __init__(self, name: str, importer, missing_name, root: str | None = None,
                 single: str | None = None, sources=(), library: Path | None = None,
                 prefer: int | None = None):
        super().__init__(name, {})
        self.importer = importer
        self.missing_name = missing_name
        self.root = root
        self.single = single  # one module holds every name: its file name (``mine.py``)
        self.sources = list(sources)
        self.library = library
        self.prefer = prefer
        self.errors: dict[str, str] = {}
        # library files loaded without an import that failed: stem → that import's error
        self.partial: dict[str, str] = {}
        self.found_in: dict[str, str] = {}  # book name → the file it was taken from
        self._absent: set[str] = set()

    def probe_stems(self, names=()) -> list[str]:
        """What the sandbox imports once, before any concept: the book-named files, and every
        other file of the tree that defines one of ``names`` (lower-case compared)."""
        if self.single:
            return [self.single]
        wanted = {n.lower() for n in names}
        keys = book_stems()
        for s in self.sources:
            if any(n.lower() in wanted for n in s.defines):
                key = self._key(s)
                if key not in keys:
                    keys.append(key)
        return keys

    def _key(self, source) -> str:
        """A library file by its stem (``layers``), any other by its path (``ch04/x.py``)."""
        if source.library and self.library is not None:
            return source.path.relative_to(self.library).with_suffix("").as_posix().replace(
                "/", ".")
        return source.rel

    def label(self, key: str) -> str:
        """How the report names a file: ``layers.py``, ``common/layers.py``, ``ch04/x.py``."""
        if key.endswith(".py"):
            return key
        if self.library is not None and self.root and Path(self.root) != self.library:
            return f"{self.library.relative_to(self.root).as_posix()}/{file_label(key)}"
        return file_label(key)

    def load(self, stem: str) -> ModuleType | None:
        """The module for ``stem`` (importing it the first time), or ``None`` if absent/broken."""
        stem = self.single or stem
        if stem in self.modules:
            return self.modules[stem]
        if stem in self._absent or stem in self.errors:
            return None
        try:
            if stem.endswith(".py") and not self.single:
                mod = self._load_file(stem)
            else:
                mod = self.importer(stem)
        except ModuleNotFoundError as exc:
            if exc.name == self.missing_name(stem):
                self._absent.add(stem)
                return None
            mod = self._without_failed_imports(stem, exc)
            if mod is None:
                self.errors[stem] = frames.summary(exc, self.root)
                return None
        except ImportError as exc:
            mod = self._without_failed_imports(stem, exc)
            if mod is None:
                self.errors[stem] = frames.summary(exc, self.root)
                return None
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit at import time included
            self.errors[stem] = frames.summary(exc, self.root)
            return None
        self.modules[stem] = mod
        return mod

    def _without_failed_imports(self, stem: str, exc: ImportError) -> ModuleType | None:
        """A library file whose import failed on an import of its own (``from common.util
        import im2col`` with no util.py in the repository), loaded with that import's names
        left ``Unavailable``: its other classes are graded, a use of those names fails."""
        if self.library is None or stem.endswith(".py") or self.single:
            return None
        path = self.library / (stem.replace(".", "/") + ".py")
        if not path.is_file():
            return None
        try:
            mod = layout.definitions_module(path, f"{PACKAGE_NAME}.{stem}", everything=True,
                                            fallback=self._library_fallback)
        except BaseException:  # noqa: BLE001  (the first error is the one reported)
            return None
        self.partial[stem] = frames.summary(exc, self.root).split(" at ", 1)[0]
        return mod

    def _library_fallback(self, module: str | None, level: int) -> bool:
        """For a failed ``from common.layers import …`` (or flat ``from layers import …``):
        load that library file without its own failed import, so the retry finds it."""
        if level or not module or self.library is None:
            return False
        flat = not module.startswith(PACKAGE_NAME + ".")
        stem = module if flat else module[len(PACKAGE_NAME) + 1:]
        if stem in self.modules or not (self.library / (stem.replace(".", "/") + ".py")).is_file():
            return False
        mod = self.load(stem)
        if mod is None:
            return False
        if flat:
            sys.modules.setdefault(module, mod)
        return True

    def _load_file(self, rel: str) -> ModuleType:
        """A file outside the library: a chapter script definitions only, any other whole."""
        source = next(s for s in self.sources if s.rel == rel)
        name = "_zerotorch_user_" + "".join(c if c.isalnum() else "_" for c in rel[:-3])
        if source.chapter is not None:
            return layout.definitions_module(source.path, name, fallback=self._library_fallback)
        return _exec_file(name, source.path)

    def resolve(self, dotted: str, chapter: str | None = None):
        """Like ``Impl.resolve`` (earlier book names included); raises ``ImplImportError`` when
        the file that might hold the object failed to import (an error, not a MISSING).
        ``chapter`` is the concept's book section (``5.6.2``), for the tree's chapter files."""
        attr = dotted.partition(".")[2]
        for name in (dotted, *NAME_ALIASES.get(dotted, ())):
            obj = self._resolve_one(name, _chapter_number(chapter))
            if obj is not None:
                found = self.found_in.get(name.partition(".")[2])
                if found:
                    self.found_in[attr] = found
                return obj
        return None

    def resolve_path(self, path: str):
        """``module.attr`` in the reader's own files (``--map``): ``mylayers.AffineLayer``."""
        module, _, attr = path.rpartition(".")
        if module in self.errors:
            raise ImplImportError(self.label(module), self.errors[module])
        if self.single:
            try:
                mod = importlib.import_module(module)
            except ModuleNotFoundError:
                return None
        else:
            mod = self.load(module)
            if module in self.errors:
                raise ImplImportError(self.label(module), self.errors[module])
        return getattr(mod, attr, None) if mod is not None else None

    def _resolve_one(self, dotted: str, chapter: int | None):
        """Where a name is looked for, most specific first: the files of the chapter asked for
        (``--impl ch05/``); for a network, the files of its own chapter (ch04's TwoLayerNet is
        not ch05's); the book-named library files; the concept's chapter; any other file. A
        name differing only in case counts if it is of the same kind (class or function)."""
        prefix, _, attr = dotted.partition(".")
        kind = "class" if attr[:1].isupper() else "function"
        stems = (self.single,) if self.single else MODULE_ALIASES.get(prefix, (prefix,))

        def files(c):
            return [s for s in self.sources if c is not None and s.chapter == c]

        asked, own = files(self.prefer), files(chapter)
        rest = [s for s in self.sources if s not in asked and s not in own
                # another chapter's network of the same name is another network (ch04's
                # TwoLayerNet is not ch05's)
                and not (prefix == "networks" and s.chapter is not None)]
        # a chapter folder's own functions.py (a copy of common/'s) before one-topic scripts
        book_named = [s for s in own + rest if Path(s.rel).stem in stems]
        steps = [lambda: self._from_sources(asked, dotted, attr, kind, chapter),
                 lambda: self._from_stems(stems, attr, kind),
                 lambda: self._from_sources(book_named, dotted, attr, kind, chapter),
                 lambda: self._from_sources(own, dotted, attr, kind, chapter),
                 lambda: self._from_sources(rest, dotted, attr, kind, chapter)]
        if prefix == "networks":
            steps[1], steps[3] = steps[3], steps[1]
        for step in steps:
            obj = step()
            if obj is not None:
                return obj
        broken = [s for s in stems if s in self.errors and self._may_define(s, attr, kind)]
        if broken:
            raise ImplImportError(self.label(broken[0]), self.errors[broken[0]])
        return None

    def _from_stems(self, stems, attr: str, kind: str):
        loaded = [(s, m) for s, m in ((s, self.load(s)) for s in stems) if m is not None]
        for stem, mod in loaded:
            if hasattr(mod, attr) and not isinstance(getattr(mod, attr), layout.Unavailable):
                self.found_in[attr] = self._where(stem)
                return getattr(mod, attr)
        for stem, mod in loaded:  # the book's ``simpleNet``, a reader's ``ReLU``
            same = _same_but_case(vars(mod), attr, kind)
            if same:
                self.found_in[attr] = self._where(stem)
                return getattr(mod, same)
        return None

    def _where(self, stem: str) -> str:
        """The file's label, and what it was loaded without."""
        if stem in self.partial:
            return f"{self.label(stem)} (loaded without its failed import: {self.partial[stem]})"
        return self.label(stem)

    def _may_define(self, stem: str, attr: str, kind: str) -> bool:
        """Whether the broken file ``stem`` defines ``attr`` (by its text), or cannot be told."""
        source = next((s for s in self.sources if self._key(s) == stem), None)
        if source is None:
            return True
        return (source.defines.get(attr) == kind
                or _same_but_case(source.defines, attr, kind, kinds=True) is not None)

    def _from_sources(self, sources, dotted: str, attr: str, kind: str, chapter: int | None):
        stems = set(book_stems())
        # the library before other folders, book-named files (a chapter's functions.py)
        # before one-topic scripts; every file's exact names before any loose match
        ordered = sorted(sources, key=lambda s: (not s.library, Path(s.rel).stem not in stems))

        def exact(source):
            names = [attr]
            if source.chapter is not None and source.chapter == chapter:
                names.append(layout.CHAPTER_NAMES.get(dotted, attr))
            return next((n for n in names if source.defines.get(n) == kind), None)

        def loose(source):
            return _same_but_case(source.defines, attr, kind, kinds=True)

        for source, hit in ((s, match(s)) for match in (exact, loose) for s in ordered):
            if hit is None:
                continue
            key = self._key(source)
            mod = self.load(key)
            if mod is None:
                if key in self.errors:
                    raise ImplImportError(self.label(key), self.errors[key])
                continue
            self.found_in[attr] = self.label(key) + (" (definitions only)"
                                                     if source.chapter is not None else "")
            return getattr(mod, hit, None)
        return None

    def suggestions(self, dotted: str) -> list[str]:
        """Close names in the reader's files for a concept not found (``file:Name``)."""
        from zerotorch.crosscheck.pairs import concepts

        attr = dotted.partition(".")[2].split("[")[0]
        kind = "class" if attr[:1].isupper() else "function"
        book = {c.scratch_name.partition(".")[2] for c in concepts()}  # graded as themselves
        sources = self.sources
        if dotted.startswith("networks."):  # another chapter's network of that name is not it
            sources = [s for s in sources if s.chapter is None or attr not in s.defines]
        return layout.close_names(attr, sources, kind, exclude=book - {attr})


def _same_but_case(names, attr: str, kind: str, kinds: bool = False) -> str | None:
    """The one name in ``names`` of the same kind equal to ``attr`` but for case (``ReLU``), or
    failing that, but for underscores and a ``Layer`` suffix (``ReLULayer``, ``relu_layer``)."""
    def kind_of(value):
        if kinds:
            return value
        return "class" if isinstance(value, type) else "function" if callable(value) else None

    for same_name in (str.lower, layout.book_like):
        same = [k for k, v in names.items()
                if same_name(k) == same_name(attr) and kind_of(v) == kind]
        if len(same) == 1:
            return same[0]
    return None


def _chapter_number(section: str | None) -> int | None:
    head = (section or "").split(".", 1)[0]
    return int(head) if head.isdigit() else None


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


def _library_of(root: Path) -> Path | None:
    """The tree's ``common/`` folder (``Common/`` too), if it has one."""
    return next((p for p in sorted(root.iterdir()) if p.is_dir()
                 and p.name.lower() == PACKAGE_NAME), None)


def _chapter_folders(folder: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p.is_dir() and layout.chapter_of(p.name) is not None
            and any(p.glob("*.py"))]


def locate(spec: str) -> tuple[str, ...]:
    """Classify ``spec`` (no user code runs here, only the import system's finders):

    - ``("tree", root)``: a repository laid out like the book's (a ``common/`` folder or
      book-named files, and chapter folders); ``("tree", root, "5")`` for a chapter folder
      (``ch05/``), whose scripts import ``common`` from its parent;
    - ``("folder", path)``: a ``common/``-style folder;
    - ``("file", path)``: one ``.py`` file;
    - ``("module", name, cwd)``: an importable module (the current folder importable too).

    Raises ``ImplLoadError`` with a readable message when it is none of them.
    """
    path = Path(spec).expanduser()
    if path.is_dir():
        path = path.resolve()
        chapter = layout.chapter_of(path.name)
        parent = path.parent
        if chapter is not None and (_library_of(parent) is not None or _has_book_files(parent)):
            return "tree", str(parent), str(chapter)
        if _library_of(path) is not None or _chapter_folders(path):
            return "tree", str(path)
        if _has_book_files(path) or any(path.glob("*.py")):
            return "folder", str(path)
        if any(path.glob("*/*.py")):  # a reader's own folders (BP/, Loss_functions/, …)
            return "tree", str(path)
        raise ImplLoadError(
            f"{spec}: no Python files found (expected the book's layout: a common/ folder, "
            f"chapter folders, or some of {', '.join(s + '.py' for s in book_stems())})")
    if path.suffix == ".py" or path.is_file():
        if not path.is_file():
            raise ImplLoadError(f"{spec}: no such file")
        return "file", str(path.resolve())
    cwd = os.getcwd()
    added = cwd not in sys.path
    if added:
        sys.path.append(cwd)  # ``python -m`` has it, the console script does not
    try:
        found = importlib.util.find_spec(spec)
    except (ImportError, ValueError) as exc:
        raise ImplLoadError(f"{spec}: not a folder, a .py file or an importable module "
                            f"({type(exc).__name__}: {exc})") from None
    finally:
        if added:
            sys.path.remove(cwd)
    if found is None:
        raise ImplLoadError(f"{spec}: not a folder, a .py file or an importable module")
    return "module", spec, cwd


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
    """``file`` imported whole as ``name``, its own folder importable (its sibling imports)."""
    spec = importlib.util.spec_from_file_location(name, file)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    here = str(file.parent)
    added = here not in sys.path
    if added:
        sys.path.insert(0, here)
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    finally:
        if added:
            sys.path.remove(here)
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


def sources_of(kind: str, where: str, *_) -> list | None:
    """The files of a located folder or tree and what each defines (``layout.scan``; nothing
    runs), or ``None`` for a file or a module. The sandbox scans once, not once per worker."""
    if kind not in ("folder", "tree"):
        return None
    root = Path(where)
    library = (_library_of(root) or root) if kind == "tree" else root
    return layout.scan(root, library, max_depth=2 if kind == "tree" else 0)


def load_located(kind: str, where: str, extra: str | None = None,
                 sources: list | None = None) -> LazyImpl:
    """``load_impl`` for an already ``locate``d implementation (see ``locate``); ``sources``
    is ``sources_of(...)`` when already known."""
    if kind == "module":
        if extra and extra not in sys.path:
            sys.path.append(extra)
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

    root = Path(where)
    if kind == "tree":
        library = _library_of(root) or root
        if str(root) not in sys.path:
            sys.path.append(str(root))  # what the chapter scripts' sys.path.append(os.pardir) does
    else:
        library = root
    if str(library) not in sys.path:
        sys.path.append(str(library))  # flat ``from layers import *`` imports
    for key in [k for k in sys.modules if k == PACKAGE_NAME or k.startswith(PACKAGE_NAME + ".")]:
        del sys.modules[key]
    package = _once(lambda: _register_package(PACKAGE_NAME, library))
    alias = library.name
    if alias.isidentifier() and alias != PACKAGE_NAME and alias not in sys.modules:
        other = None if alias in sys.builtin_module_names else importlib.util.find_spec(alias)
        same = other is not None and [os.path.abspath(p) for p in
                                      (other.submodule_search_locations or [])] == [str(library)]
        if alias not in sys.builtin_module_names and (other is None or same):
            sys.meta_path.insert(0, _AliasFinder(alias, PACKAGE_NAME))
    if sources is None:
        sources = sources_of(kind, where)
    return LazyImpl(str(root), _submodule_importer(package, PACKAGE_NAME),
                    lambda s: f"{PACKAGE_NAME}.{s}", str(root), sources=sources,
                    library=library, prefer=int(extra) if extra else None)
