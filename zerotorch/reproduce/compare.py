"""Both sides' predictions on the same images, compared: what every reproduction reports.

``compare_predictions`` runs a scratch predictor and a zerotorch one batch by batch over the
MNIST test images and counts the accuracy of each, the images they classify differently and
the largest score difference. The evaluators (``ch3.py``, ``convnet.py``) build on it.
"""

from __future__ import annotations

import numpy as np
import torch


def compare_predictions(
    predict_scratch, predict_torch, x: np.ndarray, t: np.ndarray, batch_size: int = 100
) -> dict:
    """Both sides' scores on ``x`` in batches: accuracies, disagreements, largest |Δ score|.

    ``predict_scratch(xb) -> ndarray`` and ``predict_torch(xb_tensor) -> Tensor`` get the same
    batch; every image is counted (the book's ``accuracy`` drops a partial last batch).
    """
    t = np.asarray(t).reshape(-1)
    if len(t) != len(x):
        raise ValueError(f"labels {t.shape} do not match images {x.shape}")
    pred_s = np.empty(len(x), dtype=np.int64)
    pred_t = np.empty(len(x), dtype=np.int64)
    max_diff = 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch_size):
            xb = x[i : i + batch_size]
            y_s = np.asarray(predict_scratch(xb))
            y_t = predict_torch(torch.from_numpy(xb)).numpy()
            pred_s[i : i + batch_size] = y_s.argmax(axis=1)
            pred_t[i : i + batch_size] = y_t.argmax(axis=1)
            max_diff = max(max_diff, float(np.abs(y_s.astype(np.float64) - y_t).max()))
    return {
        "accuracy_scratch": float(np.mean(pred_s == t)),
        "accuracy_zerotorch": float(np.mean(pred_t == t)),
        "disagreements": int(np.sum(pred_s != pred_t)),
        "max_score_diff": max_diff,
        "predictions_zerotorch": pred_t,
    }
