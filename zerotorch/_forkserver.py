"""The ``--impl`` sandbox's process context, importable before torch (stdlib only).

``start()`` launches the fork server early, so that it imports torch and the registry while the
CLI process imports them too (two cores instead of one, about 3 s). ``zerotorch.crosscheck.
impl.sandbox`` forks every worker from it.
"""

from __future__ import annotations

import multiprocessing as mp

# What the fork server imports once (it also warms torch's lazy imports; see that module).
PRELOAD = ["zerotorch.crosscheck.impl._server"]


def context():
    """``forkserver`` where available (each worker a fork of a server that has imported torch
    and the registry), else ``spawn``. Never plain ``fork`` of the report's process."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def start() -> None:
    """Start the fork server now (no-op where there is none)."""
    if context().get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()
