"""ch3 activations and the three-layer network (pairs are in the registry; these are the rest)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

from scratch import functions as sf
from scratch import two_layer_net as snet
from zerotorch import functional as zF
from zerotorch.networks import two_layer_net as znet


def test_step_function_at_zero_is_zero():
    np.testing.assert_array_equal(sf.step_function(np.array([-1.0, 0.0, 1.0])), [0, 0, 1])
    assert zF.step_function(torch.tensor([-1.0, 0.0, 1.0])).tolist() == [0, 0, 1]


def test_sigmoid_no_overflow_warning_and_saturates():
    x = np.array([-1000.0, -745.0, 0.0, 745.0, 1000.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the book's 1/(1+exp(-x)) warns at x = -1000
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            y = sf.sigmoid(x)
    np.testing.assert_array_equal(y[[0, 2, 4]], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-np.clip(x, -700, 700))), atol=1e-300)
    x_t = torch.tensor(x, requires_grad=True)
    y_t = zF.sigmoid(x_t)
    np.testing.assert_array_equal(y_t.detach().numpy(), y)
    dout = torch.tensor([0.3, -1.2, 2.0, 0.7, -0.4], dtype=torch.float64)
    y_t.backward(dout)  # σ'(x) = σ(1 − σ): exactly 0.25 at 0, underflows to 0 far out
    np.testing.assert_allclose(x_t.grad.numpy(), dout.numpy() * y * (1 - y), rtol=1e-15,
                               atol=1e-300)  # at ±745 the two round subnormals differently
    assert x_t.grad[2] == 0.25 * dout[2] and x_t.grad[[0, 4]].abs().max() == 0


def test_softmax_overflow_safe_sums_to_one():
    x = np.array([1010.0, 1000.0, 990.0])  # the book's example
    y = sf.softmax(x)
    assert np.isfinite(y).all() and y.sum() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(y, [9.99954600e-01, 4.53978686e-05, 2.06106005e-09], rtol=1e-8)
    batch = np.stack([x, x - 5, np.zeros(3)])
    np.testing.assert_allclose(sf.softmax(batch)[0], y, rtol=1e-15)
    np.testing.assert_allclose(sf.softmax(batch).sum(axis=1), 1.0, rtol=1e-15)


def test_ch3_example_network_published_output():
    """ch3.4.3: forward(init_network(), [1.0, 0.5]) prints [0.31682708 0.69627909]."""
    x = np.array([1.0, 0.5])
    y = snet.forward(snet.init_network(), x)
    np.testing.assert_allclose(y, [0.31682708, 0.69627909], atol=5e-9)
    y_t = znet.forward(znet.init_network(), torch.tensor(x))
    np.testing.assert_allclose(y_t.numpy(), y, rtol=1e-15)


def test_sample_weight_loads_with_book_shapes(book_weights):
    net = snet.init_network(book_weights / "sample_weight.pkl")
    shapes = {k: v.shape for k, v in net.items()}
    assert shapes == {"W1": (784, 50), "b1": (50,), "W2": (50, 100), "b2": (100,),
                      "W3": (100, 10), "b3": (10,)}
    assert all(v.dtype == np.float32 for v in net.values())
    net_t = znet.init_network(book_weights / "sample_weight.pkl")
    assert all(v.dtype == torch.float32 for v in net_t.values())


def test_ch3_reproduction_0_9352_identical_predictions(mnist_dir, book_weights):
    """ch3.6.2: the book's sample_weight.pkl on the 10,000 MNIST test images gives 0.9352."""
    from scratch.dataset import load_mnist
    from scratch.io import load_params
    from zerotorch.reproduce.ch3 import BOOK_ACCURACY, evaluate

    _, (x, t) = load_mnist(normalize=True, flatten=False, test_only=True, root=mnist_dir)
    assert x.shape == (10000, 1, 28, 28) and x.dtype == np.float32
    result = evaluate(load_params(book_weights / "sample_weight.pkl"), x, t)
    assert result["accuracy_scratch"] == BOOK_ACCURACY == 0.9352
    assert result["accuracy_zerotorch"] == 0.9352
    assert result["disagreements"] == 0
    # float32 rounding only: measured 6.6e-7 (≈ 5 ulp of 1.0, from NumPy and torch summing the
    # 784-term dot products in different orders); a real mistake moves probabilities by ≫ 1e-4
    assert result["max_prob_diff"] < 4e-6


def test_repro_counts_every_image_and_disagreements():
    """evaluate counts a partial last batch and reports images the two sides disagree on."""
    from zerotorch.crosscheck.pairs.ch3 import random_ch3_network
    from zerotorch.reproduce.ch3 import evaluate

    rng = np.random.default_rng(0)
    params = {k: v.astype(np.float32) for k, v in random_ch3_network(rng).items()}
    x = rng.uniform(0, 1, (150, 1, 28, 28)).astype(np.float32)
    pred = snet.predict(params, x.reshape(150, -1)).argmax(axis=1)
    t = pred.copy()
    t[:7] = (t[:7] + 1) % 10  # 7 wrong labels in the first batch of 100 ...
    t[-3:] = (t[-3:] + 1) % 10  # ... and 3 in the partial last batch of 50
    r = evaluate(params, x, t)  # batches of 100: the last 50 are not dropped
    assert r["accuracy_scratch"] == r["accuracy_zerotorch"] == pytest.approx(140 / 150)
    assert r["disagreements"] == 0
