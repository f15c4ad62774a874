"""ch8.3.4 half precision: how much float16 changes DeepConvNet's answers (named, measured)."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch

from scratch.convnet import DeepConvNet
from zerotorch.networks import convnet as zc

N_IMAGES = 300
# float16 keeps 11 significant bits (eps 9.8e-4); logits of a trained net move by well under 1 %
# of their scale, so a few hundred images change at most a handful of predictions.
MAX_ACCURACY_CHANGE = 0.01
# Relative logit error bounds in units of float16's eps 2**-10 ≈ 9.8e-4 (measured on small nets
# over six seeds: rounded storage ≤ 2.4e-3, true float16 ≤ 3.7e-3). Storage rounding perturbs
# each weight and pixel once (≤ 5 eps after the layers); float16 arithmetic also rounds every
# product and partial sum of up to 36-term dot products (≤ 10 eps).
EPS16 = 2.0**-10
ROUNDED_STORAGE_MAX_REL = 5 * EPS16
FLOAT16_ARITHMETIC_MAX_REL = 10 * EPS16


def test_true_float16_arithmetic_differs_from_rounded_storage(rng):
    """torch float16 rounds every operation; the book's NumPy version only rounds storage."""
    small = {"input_dim": (1, 8, 8), "hidden_size": 5, "output_size": 3,
             **{f"conv_param_{i}": {"filter_num": 4} for i in range(1, 7)}}
    s = DeepConvNet(rng=rng, **small)
    x = rng.random((6, 1, 8, 8))
    p16 = {k: v.astype(np.float16).astype(np.float64) for k, v in s.params.items()}
    y64 = s.predict(x)
    s_round = DeepConvNet(rng=rng, **small).load_params(p16)
    y_round = s_round.predict(x.astype(np.float16).astype(np.float64))
    z = zc.DeepConvNet(dtype=torch.float16, **small).load_params(s.params).eval()
    with torch.no_grad():
        y_half = z(torch.from_numpy(x).half())
    assert y_half.dtype == torch.float16
    scale = np.abs(y64).max()
    err_round = np.abs(y_round - y64).max() / scale
    err_half = np.abs(y_half.double().numpy() - y64).max() / scale
    assert 0 < err_round < ROUNDED_STORAGE_MAX_REL
    assert 0 < err_half < FLOAT16_ARITHMETIC_MAX_REL
    # the two are different computations: they differ by float16 amounts, not float64 ones
    assert np.abs(y_half.double().numpy() - y_round).max() / scale > EPS16 / 16


def test_float16_changes_deepconvnet_accuracy_by_under_one_percent(book_weights, mnist_dir):
    from scratch.dataset import load_mnist
    from scratch.io import load_params

    _, (x, t) = load_mnist(normalize=True, flatten=False, test_only=True)
    exp = importlib.import_module("experiments.ch8_float16")
    res = exp.float16_accuracies(load_params(book_weights / "deep_convnet.pkl"),
                                 x[:N_IMAGES], t[:N_IMAGES])
    acc = res["accuracy"]
    assert acc["float64"] > 0.95
    for k in ("numpy_rounded", "torch_float16"):
        assert abs(res["change_vs_float64"][k]) <= MAX_ACCURACY_CHANGE, res
        assert res["change_vs_float64"][k] == pytest.approx(acc[k] - acc["float64"])
    assert 0 < res["max_weight_rounding_error"] < 1e-2
    assert res["logits_finite_in_float16"]
