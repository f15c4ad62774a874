"""ch7–ch8 the book's published ConvNet weights on the MNIST test set, in scratch and zerotorch.

Used by ``zerotorch reproduce`` (``zerotorch.reproduce.runner.ROWS``). The weight files hold
float64 arrays and the book's ``im2col`` builds float64 column buffers, so the book's code
computes in float64 whatever the image dtype; both sides here do the same (float32 images are
widened exactly). DeepConvNet is evaluated with the book's test-time dropout (× (1 − ratio)); the
accuracy under PyTorch's convention (``nn.Dropout`` is the identity at eval) is reported beside
it: the first dropout scales the hidden layer but not the next bias, so a few argmaxes change.
"""

from __future__ import annotations

import numpy as np
import torch

import scratch.networks as scratch_networks
import zerotorch.networks as zt_networks
from zerotorch.reproduce.compare import compare_predictions


def _evaluate(cls_s, cls_t, params: dict, x: np.ndarray, t: np.ndarray,
              batch_size: int) -> tuple[dict, object]:
    x = np.asarray(x, dtype=np.float64)  # exact widening of float32 images, as the book's im2col
    t = np.asarray(t).reshape(-1)
    net_s = cls_s().load_params({k: np.asarray(v, dtype=np.float64) for k, v in params.items()})
    net_t = cls_t(dtype=torch.float64).load_params(params).eval()
    record = compare_predictions(lambda xb: net_s.predict(xb, train_flg=False), net_t, x, t,
                                 batch_size)
    pred_t = record.pop("predictions_zerotorch")
    diff = record.pop("max_score_diff")
    record.update(max_logit_diff=diff, note=f"float64 like the book; max |Δ logit| {diff:.1e}")
    return record, (net_t, x, t, pred_t)


def evaluate_simple_convnet(params: dict, x: np.ndarray, t: np.ndarray,
                            batch_size: int = 100) -> dict:
    """ch7.5 Accuracy of ``SimpleConvNet`` with ``params`` on ``x`` (N, 1, 28, 28), ``t`` (N,).

    Every image is counted; returns both sides' accuracy, the disagreement count and the
    largest logit difference.
    """
    record, _ = _evaluate(scratch_networks.SimpleConvNet, zt_networks.SimpleConvNet, params, x,
                          t, batch_size)
    return record


def evaluate_deep_convnet(params: dict, x: np.ndarray, t: np.ndarray,
                          batch_size: int = 100) -> dict:
    """ch8.1.2 ``evaluate_simple_convnet`` for ``DeepConvNet`` (book dropout convention), plus
    ``accuracy_torch_convention`` and ``changed_by_convention`` (images whose prediction the
    dropout convention changes)."""
    record, (net_t, x, t, pred_book) = _evaluate(
        scratch_networks.DeepConvNet, zt_networks.DeepConvNet, params, x, t, batch_size)
    net_t.set_dropout_convention("torch")
    pred = net_t.predict_labels(torch.from_numpy(x), batch_size).numpy()
    changed = int(np.sum(pred != pred_book))
    record["accuracy_torch_convention"] = float(np.mean(pred == t))
    record["changed_by_convention"] = changed
    record["note"] += f"; torch dropout convention changes {changed} predictions"
    return record
