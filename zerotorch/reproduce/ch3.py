"""ch3.6 the book's ``sample_weight.pkl`` on the MNIST test set, in scratch and in zerotorch.

Used by ``zerotorch reproduce`` (see ``zerotorch.reproduce.runner.ROWS``). Both sides compute in
float32, as the book does (the pickle holds float32 arrays and the images are float32).
"""

from __future__ import annotations

import numpy as np
import torch

from scratch.networks import predict as predict_scratch
from zerotorch.networks import predict as predict_torch
from zerotorch.reproduce.compare import compare_predictions

BOOK_ACCURACY = 0.9352  # printed by the book's neuralnet_mnist.py


def evaluate(params: dict, x: np.ndarray, t: np.ndarray, batch_size: int = 100) -> dict:
    """Accuracy of the ch3 three-layer network on ``x`` (N, 1, 28, 28) float32 in [0, 1].

    Predictions are made in batches of ``batch_size`` (the book's ``neuralnet_mnist_batch.py``)
    and every image is counted (none dropped). Returns the accuracy on each side, the number of
    images the two sides classify differently and the largest probability difference.
    """
    x = np.asarray(x, dtype=np.float32).reshape(len(x), -1)  # (N, 784)
    net_s = {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
    net_t = {k: torch.as_tensor(v) for k, v in net_s.items()}
    record = compare_predictions(lambda xb: predict_scratch(net_s, xb),
                                 lambda xb: predict_torch(net_t, xb), x, t, batch_size)
    del record["predictions_zerotorch"]
    diff = record.pop("max_score_diff")
    return {**record, "max_prob_diff": diff,
            "note": f"float32 as the book; max |Δ probability| {diff:.1e}"}
