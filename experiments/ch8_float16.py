"""ch8.3.4 half precision: DeepConvNet's test accuracy with 16-bit numbers, two ways.

- ``numpy_rounded``: the book's ``half_float_network.py``: weights and images rounded to
  float16, then computed in float64 (the book assigns the float16 values back into the float64
  arrays, and its im2col widens again) — only the *storage* is 16-bit;
- ``torch_float16``: true float16 arithmetic: ``zerotorch.networks.DeepConvNet(dtype=float16)``
  on float16 images (every product and sum rounded to 16 bits);
against ``float64``, the book's own arithmetic. Prints a table and writes JSON.

Usage: python -m experiments.ch8_float16 [--weights deep_convnet.pkl] [--limit 10000]
       [--out experiments/out]
Needs ZEROTORCH_BOOK_WEIGHTS and ZEROTORCH_MNIST_DIR (or ZEROTORCH_DATA).
"""

from __future__ import annotations

import numpy as np
import torch

from experiments import _common
from scratch.convnet import DeepConvNet
from zerotorch.networks import convnet as zconvnet


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
    ap = _common.parser(__doc__)
    _common.add_book_weights(ap)
    _common.add_out_dir(ap)
    args = ap.parse_args(argv)
    from scratch.io import load_params

    path = _common.book_weights(args.weights, "ch8_float16")
    if path is None:
        return 2
    x, t = _common.mnist_test(args.limit)
    result = {"weights": path.name, **float16_accuracies(load_params(path), x, t,
                                                          progress=True)}
    args.out.mkdir(parents=True, exist_ok=True)
    _common.write_json(args.out / "ch8_float16.json", result)
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
