"""ch3.6 the book's ``sample_weight.pkl`` on the MNIST test set, in scratch and in zerotorch.

Used by ``zerotorch reproduce`` (see ``zerotorch.reproduce.ROWS``). Both sides compute in
float32, as the book does (the pickle holds float32 arrays and the images are float32).
"""

from __future__ import annotations

import numpy as np
import torch

from scratch import two_layer_net as scratch_net
from zerotorch import two_layer_net as zt_net

BOOK_ACCURACY = 0.9352  # printed by the book's neuralnet_mnist.py


def evaluate(params: dict, x: np.ndarray, t: np.ndarray, batch_size: int = 100) -> dict:
    """Accuracy of the ch3 three-layer network on ``x`` (N, 1, 28, 28) float32 in [0, 1].

    Predictions are made in batches of ``batch_size`` (the book's ``neuralnet_mnist_batch.py``)
    and every image is counted (none dropped). Returns the accuracy on each side, the number of
    images the two sides classify differently and the largest probability difference.
    """
    x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)  # (N, 784)
    t = np.asarray(t).reshape(-1)
    net_s = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
    net_t = {k: torch.as_tensor(v) for k, v in net_s.items()}
    pred_s = np.empty(len(x), dtype=np.int64)
    pred_t = np.empty(len(x), dtype=np.int64)
    max_diff = 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            y_s = scratch_net.predict(net_s, xb)
            y_t = zt_net.predict(net_t, torch.as_tensor(xb)).numpy()
            pred_s[i:i + batch_size] = y_s.argmax(axis=1)
            pred_t[i:i + batch_size] = y_t.argmax(axis=1)
            max_diff = max(max_diff, float(np.abs(y_s.astype(np.float64) - y_t).max()))
    return {
        "accuracy_scratch": float(np.mean(pred_s == t)),
        "accuracy_zerotorch": float(np.mean(pred_t == t)),
        "disagreements": int(np.sum(pred_s != pred_t)),
        "max_prob_diff": max_diff,
        "note": f"float32 as the book; max |Δ probability| {max_diff:.1e}",
    }
