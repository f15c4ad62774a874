"""ch8.3.4 half precision: DeepConvNet's test accuracy with 16-bit numbers, two ways.

- ``numpy_rounded``: the book's ``half_float_network.py``: weights and images rounded to
  float16, then computed in float64 (the book assigns the float16 values back into the float64
  arrays, and its im2col widens again) — only the *storage* is 16-bit;
- ``torch_float16``: true float16 arithmetic: ``zerotorch.convnet.DeepConvNet(dtype=float16)``
  on float16 images (every product and sum rounded to 16 bits);
against ``float64``, the book's own arithmetic. Prints a table and writes JSON.

Usage: python experiments/ch8_float16.py [--weights deep_convnet.pkl] [--limit 10000]
       [--out experiments/out]
Needs ZEROTORCH_BOOK_WEIGHTS and ZEROTORCH_MNIST_DIR (or ZEROTORCH_DATA).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from scratch.convnet import DeepConvNet  # noqa: E402
from zerotorch import convnet as zconvnet  # noqa: E402

DEFAULT_OUT = ROOT / "experiments" / "out"


def float16_accuracies(params: dict, x: np.ndarray, t: np.ndarray, batch_size: int = 500,
                       progress: bool = False) -> dict:
    """Accuracy of DeepConvNet in float64, NumPy rounded-to-float16, and torch float16."""
    from tqdm import tqdm

    x64 = np.asarray(x, dtype=np.float64)
    p64 = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    p16 = {k: v.astype(np.float16).astype(np.float64) for k, v in p64.items()}
    x16 = x64.astype(np.float16).astype(np.float64)
    steps = tqdm(total=3, desc="float16", disable=not progress)
    pred64 = DeepConvNet().load_params(p64).predict_labels(x64, batch_size)
    steps.update()
    pred_round = DeepConvNet().load_params(p16).predict_labels(x16, batch_size)
    steps.update()
    net = zconvnet.DeepConvNet(dtype=torch.float16).load_params(params).eval()
    with torch.no_grad():  # the logits themselves: are they finite in float16?
        logits = torch.cat([net(torch.from_numpy(x64[i:i + batch_size]).half())
                            for i in range(0, len(x64), batch_size)])
    pred_half = logits.argmax(dim=1).numpy()
    steps.update()
    steps.close()
    acc = {name: float(np.mean(p == t)) for name, p in
           (("float64", pred64), ("numpy_rounded", pred_round), ("torch_float16", pred_half))}
    return {
        "images": int(len(t)),
        "accuracy": acc,
        "change_vs_float64": {k: acc[k] - acc["float64"] for k in ("numpy_rounded",
                                                                  "torch_float16")},
        "predictions_changed": {"numpy_rounded": int(np.sum(pred_round != pred64)),
                                "torch_float16": int(np.sum(pred_half != pred64))},
        "max_weight_rounding_error": float(max(np.abs(p16[k] - p64[k]).max() for k in p64)),
        "logits_finite_in_float16": bool(torch.isfinite(logits).all()),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", default="deep_convnet.pkl",
                    help="file name in ZEROTORCH_BOOK_WEIGHTS, or a path")
    ap.add_argument("--limit", type=int, default=10000, help="first N test images")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = ap.parse_args(argv)
    from scratch.dataset import load_mnist
    from scratch.io import atomic_target, book_weights_file, load_params

    try:
        path = book_weights_file(args.weights)
    except FileNotFoundError as exc:
        print(f"ch8_float16: {exc}", file=sys.stderr)
        return 2
    _, (x, t) = load_mnist(normalize=True, flatten=False, test_only=True)
    x, t = x[:args.limit], t[:args.limit]
    result = {"weights": path.name, **float16_accuracies(load_params(path), x, t,
                                                          progress=True)}
    args.out.mkdir(parents=True, exist_ok=True)
    with atomic_target(args.out / "ch8_float16.json") as fh:
        fh.write(json.dumps(result, indent=2).encode())
    print(f"DeepConvNet ({path.name}) on {result['images']} MNIST test images")
    for k, v in result["accuracy"].items():
        change = result["change_vs_float64"].get(k)
        extra = "" if change is None else (f"  change {change * 100:+.2f} pp, "
                                           f"{result['predictions_changed'][k]} predictions "
                                           "changed")
        print(f"  {k:<14} {v:.4f}{extra}")
    print(f"wrote {args.out / 'ch8_float16.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
