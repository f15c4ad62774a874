"""What the ``--impl`` sandbox costs: the whole report, in one process vs sandboxed.

    python -m benchmarks.crosscheck_report [PATH_OR_MODULE ...]

Default: our own ``scratch`` (every concept present). Pass the book's ``common/`` folder to time
the official code. For each implementation it prints the wall time of

- ``in-process``: every concept graded in this already-warm process, no isolation (the
  compute alone; a reader's monkeypatch could forge verdicts here);
- ``CLI, 1 worker``: ``zerotorch crosscheck --impl X --jobs 1`` from a fresh interpreter, as a
  reader runs it: start-up (torch, the fork server and its warm-up), the import probe, a fresh
  worker per concept, one at a time;
- ``CLI, N workers``: the same with the default ``--jobs`` (``impl.user.default_jobs()``).

Torch runs on one thread in every worker; the CPU count is printed with the figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def _in_process(spec: str) -> float:
    from zerotorch.crosscheck.impl.adapter import adapt
    from zerotorch.crosscheck.impl.check import check_concept
    from zerotorch.crosscheck.impl.loader import load_impl
    from zerotorch.crosscheck.pairs import concepts

    start = time.perf_counter()
    impl = adapt(load_impl(spec))
    for concept in concepts():
        check_concept(concept, impl)
    return time.perf_counter() - start


def _cli(spec: str, jobs: int | None) -> float:
    cmd = [sys.executable, "-m", "zerotorch", "crosscheck", "--impl", spec, "--json"]
    start = time.perf_counter()
    subprocess.run(cmd + ([f"--jobs={jobs}"] if jobs else []), capture_output=True, check=False)
    return time.perf_counter() - start


def main(specs: list[str]) -> None:
    import torch

    from zerotorch.crosscheck.impl.user import default_jobs

    torch.set_num_threads(1)
    jobs = default_jobs()
    print(f"{os.cpu_count()} CPUs; torch {torch.__version__}")
    print(f"{'implementation':40s}  {'in-process':>10s}  {'CLI, 1 worker':>13s}  "
          f"{'CLI, ' + str(jobs) + ' workers':>14s}")
    for spec in specs:
        _in_process(spec)  # warm: torch's lazy imports
        alone = _in_process(spec)
        one = _cli(spec, 1)
        many = _cli(spec, None)
        print(f"{spec[-40:]:40s}  {alone:9.1f}s  {one:12.1f}s  {many:13.1f}s")


if __name__ == "__main__":
    main(sys.argv[1:] or ["scratch"])
