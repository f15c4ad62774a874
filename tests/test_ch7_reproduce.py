"""The book's published ConvNet weights: scratch = zerotorch = the book's own arithmetic.

The book's code computes in float64 (its im2col buffers are ``np.zeros`` float64 and the weight
files are float64). The reference here is written independently of both implementations with
torch built-ins: float32 logits first (fast), then every image whose top-two logit gap is within
``MARGIN`` recomputed in float64, so its argmax is the float64 one.

The fast test uses the first ``N_FAST`` test images of each ConvNet file; the full 10,000-image
table for all five files is the ``slow`` test (about two minutes on one core).
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from scratch.dataset import load_mnist
from scratch.io import load_params
from zerotorch import reproduce
from zerotorch.reproduce import convnet as repro_convnet

N_FAST = 1000
# float32 logits of these nets are within ~1e-4 of the float64 ones; a gap above this cannot flip
MARGIN = 1e-2
# both sides compute in float64 from the same weights, in different summation orders (im2col
# matmul vs F.conv2d): their logits agree to float64 rounding, far below any argmax gap
MAX_LOGIT_DIFF = 1e-10
FILES = {
    "simple_convnet.pkl": "simple",
    "simple_convnet_2016.pkl": "simple",
    "deep_convnet.pkl": "deep",
    "deep_convnet_2016.pkl": "deep",
}


def reference_logits(p: dict, x: torch.Tensor, kind: str, book_dropout: bool) -> torch.Tensor:
    """The network written with F.conv2d / F.max_pool2d / matmul from the params dict."""
    if kind == "simple":
        h = F.max_pool2d(F.relu(F.conv2d(x, p["W1"], p["b1"])), 2, 2)
        h = F.relu(h.flatten(1) @ p["W2"] + p["b2"])
        return h @ p["W3"] + p["b3"]
    h = x
    for i, pad in zip(range(1, 7), (1, 1, 1, 2, 1, 1), strict=True):
        h = F.relu(F.conv2d(h, p[f"W{i}"], p[f"b{i}"], padding=pad))
        if i % 2 == 0:
            h = F.max_pool2d(h, 2, 2)
    scale = 0.5 if book_dropout else 1.0  # the book's Dropout(0.5) at test time: x·(1 − 0.5)
    h = F.relu(h.flatten(1) @ p["W7"] + p["b7"]) * scale
    return (h @ p["W8"] + p["b8"]) * scale


def reference_predictions(params: dict, x: np.ndarray, kind: str, book_dropout=True):
    """float64 argmax of the book's network, via float32 with a float64 re-check near ties."""
    p32 = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in params.items()}
    p64 = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in params.items()}
    preds, rechecked = [], 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            xb = torch.as_tensor(x[i:i + 1000])
            y = reference_logits(p32, xb.float(), kind, book_dropout)
            top2 = y.topk(2, dim=1).values
            pred = y.argmax(dim=1)
            near = (top2[:, 0] - top2[:, 1]) < MARGIN
            if near.any():
                rechecked += int(near.sum())
                pred[near] = reference_logits(p64, xb[near].double(), kind,
                                              book_dropout).argmax(dim=1)
            preds.append(pred)
    return torch.cat(preds).numpy(), rechecked


@functools.lru_cache(maxsize=1)
def _load_test_set():
    _, (x, t) = load_mnist(normalize=True, flatten=False, test_only=True)
    return x, t.astype(np.int64)


@pytest.fixture
def mnist_test(mnist_dir):
    return _load_test_set()


@pytest.mark.parametrize("name", list(FILES))
def test_book_weights_first_images_identical_on_both_sides_and_equal_the_book(
        name, book_weights, mnist_test):
    x, t = mnist_test[0][:N_FAST], mnist_test[1][:N_FAST]
    params = load_params(book_weights / name)
    kind = FILES[name]
    evaluate = (repro_convnet.evaluate_simple_convnet if kind == "simple"
                else repro_convnet.evaluate_deep_convnet)
    rec = evaluate(params, x, t)
    assert rec["disagreements"] == 0
    assert rec["max_logit_diff"] < MAX_LOGIT_DIFF
    ref, _ = reference_predictions(params, x, kind)
    assert rec["accuracy_scratch"] == rec["accuracy_zerotorch"] == float(np.mean(ref == t))
    if kind == "deep":
        ref_torch, _ = reference_predictions(params, x, kind, book_dropout=False)
        assert rec["accuracy_torch_convention"] == float(np.mean(ref_torch == t))
        assert rec["changed_by_convention"] == int(np.sum(ref_torch != ref))


def test_float32_images_are_widened_exactly_like_the_book(book_weights, mnist_test):
    """Passing float32 or float64 images gives the same records (the book widens to float64)."""
    x, t = mnist_test[0][:200], mnist_test[1][:200]
    params = load_params(book_weights / "simple_convnet.pkl")
    a = repro_convnet.evaluate_simple_convnet(params, x, t)
    b = repro_convnet.evaluate_simple_convnet(params, x.astype(np.float64), t)
    assert a == b


@pytest.mark.slow
def test_full_reproduction_table_all_five_files(book_weights, mnist_dir, mnist_test):
    """``zerotorch reproduce``: 0 disagreements on all 10,000 images of all five files, and the
    ConvNet accuracies equal the book's arithmetic (independent reference)."""
    records, missing = reproduce.run()
    assert [r["file"] for r in records] == list(reproduce.ROWS) and missing == []
    x, t = mnist_test
    for r in records:
        assert r["images"] == 10_000
        assert r["disagreements"] == 0, r
        assert r["accuracy_scratch"] == r["accuracy_zerotorch"]
        if r["file"] in FILES:
            kind = FILES[r["file"]]
            params = load_params(book_weights / r["file"])
            ref, _ = reference_predictions(params, x, kind)
            assert r["accuracy_scratch"] == float(np.mean(ref == t)), r
            if kind == "deep":
                ref_t, _ = reference_predictions(params, x, kind, book_dropout=False)
                assert r["accuracy_torch_convention"] == float(np.mean(ref_t == t))
                assert r["changed_by_convention"] == int(np.sum(ref_t != ref)) > 0
    table = reproduce.format_table(records)
    assert "acc torch dropout" in table and "deep_convnet.pkl" in table
