"""The ``--impl`` part of the cross-check: a reader's own code loaded, run and graded.

Importing this package loads only ``resolve`` (``Impl``, ``scratch_impl``), which the harness
uses for our own ``scratch``; nothing here imports the sandbox until it is asked for. The parts:

- ``resolve``: ``Impl`` (book names → objects of an implementation) and ``scratch_impl``;
- ``layout``: the reader's files read without running them (what each defines, chapters);
- ``loader``: a folder, file or module loaded lazily as an ``Impl`` (``load_impl``);
- ``adapter``: the reader's own names and signatures read as the book's (``--map``);
- ``frames``: where in the reader's code an error arose (their deepest traceback frame);
- ``check``: one concept graded against the reader's code in the calling process;
- ``sandbox``, ``_server``: each concept in a fresh child process, under time and memory limits;
- ``user``: ``zerotorch crosscheck --impl`` (``check_impl``, ``run_user``);
- ``notebook``: ``zerotorch.check(...)`` for objects defined in a notebook.
"""

from zerotorch.crosscheck.impl.resolve import MODULE_ALIASES, NAME_ALIASES, Impl, scratch_impl

__all__ = ["MODULE_ALIASES", "NAME_ALIASES", "Impl", "scratch_impl"]
