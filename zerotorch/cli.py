"""zerotorch: Deep Learning from Scratch built twice (NumPy and PyTorch), cross-checked.

Commands: crosscheck (compare scratch, or your own code with --impl, against PyTorch),
reproduce (the book's published weights on the MNIST test set), download (MNIST,
Fashion-MNIST, the book's weight files), experiment (the book's experiments with Lightning).
Run `zerotorch COMMAND --help` for each."""

from __future__ import annotations

import argparse
import sys


def _crosscheck(args: argparse.Namespace) -> int:
    if getattr(args, "impl", None):
        from zerotorch._forkserver import start

        start()  # the sandbox's fork server imports torch while this process does
        from zerotorch.crosscheck.impl.user import run_user  # the reader's own code, sandboxed

        return run_user(args)
    from zerotorch.crosscheck import format_json, format_table, run_all, scratch_impl
    from zerotorch.crosscheck.runner import exit_status

    impl = scratch_impl()
    try:
        results = run_all(impl, only=args.only, seed=args.seed)
    except KeyError as exc:
        print(f"zerotorch crosscheck: {exc.args[0]}", file=sys.stderr)
        return 2
    print(format_json(results, impl.name) if args.json else format_table(results, impl.name))
    # Our own scratch must provide every registered concept: MISSING here is a failure (for a
    # reader's --impl code it is not; see crosscheck/impl/user.py).
    status = exit_status(results, strict=args.strict, missing_fails=True)
    if not args.json and not args.only and not args.no_reproduce:
        from zerotorch.reproduce import reproduce_if_available

        status = max(status, reproduce_if_available())
    return status


def _reproduce(args: argparse.Namespace) -> int:
    from zerotorch.reproduce import main as reproduce_main

    return reproduce_main(json_output=args.json, files=args.files)


DOWNLOADS = ("mnist", "fashion-mnist", "weights", "all")


def _download(args: argparse.Namespace) -> int:
    from scratch import book_weights
    from scratch.dataset import DatasetNotFoundError, download

    what = ["mnist", "fashion-mnist", "weights"] if args.what == "all" else [args.what]
    try:
        for item in what:
            if item == "weights":
                paths = book_weights.download(folder=args.root)
                print(f"weights: {len(paths)} files in {paths[0].parent} (md5-checked)")
                if args.root is not None:
                    print(f"  set ZEROTORCH_BOOK_WEIGHTS={paths[0].parent} to use them")
                continue
            for split in ("train", "test"):
                folder = download(item, split, args.root)
                print(f"{item} {split}: {folder}")
            if args.root is not None:
                print(f"  set ZEROTORCH_DATA={args.root} (or pass the root) to use it")
    except (book_weights.WeightsNotFoundError, DatasetNotFoundError) as exc:
        print(f"zerotorch download: {exc}", file=sys.stderr)
        return 2
    return 0


def _experiment(args: argparse.Namespace) -> int:
    from zerotorch.experiments import main as experiment_main

    return experiment_main(args.rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zerotorch", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    cc = sub.add_parser("crosscheck", help="compare scratch (or your --impl) with PyTorch")
    cc.add_argument("--impl", help="your implementation: a folder, a .py file or a module")
    cc.add_argument("--only", action="append", metavar="NAME",
                    help="check only this concept (e.g. layers.Affine) or group (layers)")
    cc.add_argument("--json", action="store_true", help="machine-readable output")
    cc.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    cc.add_argument("--timeout", type=float, default=60.0,
                    help="seconds allowed per concept for --impl code")
    cc.add_argument("--memory", type=float, default=None, metavar="GB",
                    help="memory each --impl worker may use beyond its own start "
                         "(default 4; 0: no limit)")
    cc.add_argument("--jobs", type=int, default=None, metavar="N",
                    help="--impl workers side by side (default: up to 4, at most the CPUs)")
    cc.add_argument("--map", action="append", metavar="BOOK=THEIRS",
                    help="point a book name at an object in your files, e.g. "
                         "layers.Affine=mylayers.AffineLayer (repeatable)")
    cc.add_argument("--strict", action="store_true",
                    help="exit 1 unless every concept equals PyTorch (a PASS under a version "
                         "of the book only is then a failure)")
    cc.add_argument("--no-reproduce", action="store_true",
                    help="skip the book-weight reproduction printed when MNIST is found")
    cc.set_defaults(func=_crosscheck)

    dl = sub.add_parser(
        "download", help="MNIST, Fashion-MNIST or the book's weight files (needs internet)",
        description="Fetch MNIST or Fashion-MNIST (train and test, torchvision layout) from their "
                    "mirrors, or the book's five weight files from the book's repository at "
                    "fixed commits; every file is md5-checked and written atomically, and what "
                    "is already there is kept (run it again to resume). Default folders: "
                    "$ZEROTORCH_DATA (datasets) and ~/.cache/zerotorch/ (both), which "
                    "everything in zerotorch searches.")
    dl.add_argument("what", choices=DOWNLOADS)
    dl.add_argument("--root", help="write here instead of the default folder")
    dl.set_defaults(func=_download)

    rp = sub.add_parser(
        "reproduce", help="the book's published weights on the MNIST test set",
        description="Evaluate the book's weight files with both implementations on the 10,000 "
                    "MNIST test images. Weights: ZEROTORCH_BOOK_WEIGHTS (a folder of the files "
                    "or a clone of the book's repository) or `zerotorch download weights`; "
                    "MNIST: ZEROTORCH_MNIST_DIR, ZEROTORCH_DATA or `zerotorch download mnist`. "
                    "Exit 1 when the two sides disagree on any image, 2 when nothing could be "
                    "reproduced.")
    rp.add_argument("--json", action="store_true", help="one JSON record per weights file")
    rp.add_argument("files", nargs="*", help="only these weight files (default: all five), "
                    "our names or the book's (ch07/params.pkl)")
    rp.set_defaults(func=_reproduce)

    # prefix_chars="\0": every word after `experiment`, --help and --trainer.* included, goes on
    ex = sub.add_parser("experiment", add_help=False, prefix_chars="\0",
                        help="the book's experiments (run NAME [overrides] | list | results)")
    ex.add_argument("rest", nargs="*", help="see `zerotorch experiment --help`")
    ex.set_defaults(func=_experiment)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
