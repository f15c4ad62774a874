"""Where in the reader's code something went wrong: the deepest frame inside their files.

An error raised inside NumPy or torch (a shape mismatch in ``np.dot``) is located at the reader's
line that called it, not at ``numpy/__init__.py`` or at our registry. ``root`` is the folder the
reader's code lives in; without one (or when no frame is under it), the deepest frame outside
zerotorch, the standard library and installed packages is taken.
"""

from __future__ import annotations

import linecache
import os
import re
import sysconfig
import traceback
from collections.abc import Sequence

_DUMP_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)')
_OURS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../zerotorch
_LIBRARY = tuple({os.path.abspath(p) for p in (sysconfig.get_paths()["stdlib"],
                                                sysconfig.get_paths()["purelib"],
                                                sysconfig.get_paths()["platlib"])})


def _is_library(path: str) -> bool:
    p = os.path.abspath(path)
    return (p.startswith(_OURS + os.sep) or p.startswith(_LIBRARY) or "site-packages" in p
            or p.startswith("<frozen"))


def _under(path: str, root: str) -> bool:
    return os.path.abspath(path).startswith(os.path.abspath(root).rstrip(os.sep) + os.sep)


def pick(files: Sequence[str], root: str | None) -> int | None:
    """Index of the reader's deepest frame among ``files`` (outermost first), or ``None``."""
    for keep in ((lambda f: _under(f, root)) if root else None,
                 lambda f: not _is_library(f)):
        if keep is None:
            continue
        mine = [i for i, f in enumerate(files) if keep(f)]
        if mine:
            return mine[-1]
    return None


def where(file: str, line: int, text: str | None = None) -> str:
    """`` at file:line (source)``."""
    text = (text if text is not None else linecache.getline(file, line)).strip()
    return f" at {file}:{line} ({text})" if text else f" at {file}:{line}"


def summary(exc: BaseException, root: str | None = None) -> str:
    """``Type: message at file:line (source)`` with the reader's deepest frame."""
    if getattr(exc, "user_frame", None):  # made where the error arose (an import failure)
        return exc.user_frame
    if isinstance(exc, SyntaxError) and exc.filename and not _is_library(exc.filename):
        return f"{type(exc).__name__}: {exc.msg}" + where(exc.filename, exc.lineno or 0,
                                                           exc.text or "")
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if "importlib" not in f.filename]
    i = pick([f.filename for f in frames], root)
    if i is None:  # not in their code: our deepest frame, but never the adapter's own lookup
        frames = [f for f in frames if os.path.basename(f.filename) != "adapter.py"] or frames
    f = frames[i] if i is not None else (frames[-1] if frames else None)
    return f"{type(exc).__name__}: {exc}" + (where(f.filename, f.lineno, f.line) if f else "")


def from_dump(text: str, root: str | None = None) -> str:
    """`` at file:line (source)`` for the reader's deepest frame in a faulthandler dump."""
    frames = [m.groupdict() for m in _DUMP_FRAME.finditer(text)][::-1]  # dumps: innermost first
    i = pick([f["file"] for f in frames], root)
    if i is None:
        return ""
    return where(frames[i]["file"], int(frames[i]["line"]))
