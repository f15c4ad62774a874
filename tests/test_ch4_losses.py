"""ch4.2 losses: the book's published values, and the book's 1e-7 inside the log measured.

The registry pairs prove scratch = zerotorch = ``F.nll_loss(log(y + 1e-7), t)``. The tests named
``test_book_ce_delta_*`` measure how that 1e-7 makes the book's loss differ from
``F.cross_entropy``, and say why.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from scratch import functions as sf
from scratch.layers import SoftmaxWithLoss
from zerotorch import functional as zF

DELTA = sf.CROSS_ENTROPY_DELTA
# ch4.2.1-4.2.2: the "2" is correct; y puts 0.6 on the right class, then on class 7.
T = np.array([0, 0, 1, 0, 0, 0, 0, 0, 0, 0], dtype=np.float64)
Y_GOOD = np.array([0.1, 0.05, 0.6, 0.0, 0.05, 0.1, 0.0, 0.1, 0.0, 0.0])
Y_BAD = np.array([0.1, 0.05, 0.1, 0.0, 0.05, 0.1, 0.0, 0.6, 0.0, 0.0])


def test_delta_is_the_books_constant_on_both_sides():
    assert sf.CROSS_ENTROPY_DELTA == zF.CROSS_ENTROPY_DELTA == 1e-7


@pytest.mark.parametrize(("y", "sse", "ce"), [
    (Y_GOOD, 0.09750000000000003, 0.510825457099338),
    (Y_BAD, 0.5975, 2.302584092994546),
])
def test_published_values(y, sse, ce):
    assert sf.sum_squared_error(y, T) == pytest.approx(sse, rel=1e-14)
    assert sf.cross_entropy_error(y, T) == pytest.approx(ce, rel=1e-14)
    assert sf.cross_entropy_error(y, np.argmax(T)) == pytest.approx(ce, rel=1e-14)
    yt, tt = torch.tensor(y), torch.tensor(T)
    assert zF.sum_squared_error(yt, tt).item() == pytest.approx(sse, rel=1e-14)
    assert zF.cross_entropy_error(yt, tt).item() == pytest.approx(ce, rel=1e-14)
    assert zF.cross_entropy_error(yt, torch.tensor(2)).item() == pytest.approx(ce, rel=1e-14)


def test_cross_entropy_is_a_batch_mean_and_sse_is_not(rng):
    y = sf.softmax(rng.standard_normal((6, 10)))
    t = rng.integers(0, 10, 6)
    per_sample = [sf.cross_entropy_error(y[i], t[i]) for i in range(6)]
    assert sf.cross_entropy_error(y, t) == pytest.approx(np.mean(per_sample), rel=1e-14)
    onehot = np.eye(10)[t]
    assert sf.sum_squared_error(y, onehot) == pytest.approx(
        sum(sf.sum_squared_error(y[i], onehot[i]) for i in range(6)), rel=1e-14)


def test_cross_entropy_bad_shapes_say_what_they_got():
    with pytest.raises(ValueError, match=r"\(4, 10\).*\(3,\)"):
        sf.cross_entropy_error(np.full((4, 10), 0.1), np.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"\(4, 10\).*\(3,\)"):
        zF.cross_entropy_error(torch.full((4, 10), 0.1), torch.tensor([1, 2, 3]))


def _book_loss(x, t):
    return sf.cross_entropy_error(sf.softmax(x), t)


def _torch_ce(x, t):
    return F.cross_entropy(torch.tensor(x), torch.tensor(t)).item()


def test_book_ce_delta_caps_confident_wrong_answer():
    """Logit gap 50 against the true class: the book says 16.118, F.cross_entropy says 50.0.

    Cause: y_t = e^-50 ≈ 2e-22 is far below 1e-7, so −log(y_t + 1e-7) ≈ −log(1e-7).
    """
    x = np.array([[0.0, 50.0, 0.0]])
    t = np.array([0])
    book, torch_ce = _book_loss(x, t), _torch_ce(x, t)
    assert book == pytest.approx(-math.log(DELTA), rel=1e-12)
    assert book == pytest.approx(16.118095650958, rel=1e-12)
    assert torch_ce == pytest.approx(50.0, rel=1e-12)
    assert torch_ce - book == pytest.approx(33.881904349, rel=1e-9)
    # the loss layers keep the book's value; a larger gap changes nothing in the book
    layer = SoftmaxWithLoss()
    assert layer.forward(x * 10, t) == pytest.approx(book, rel=1e-12)
    assert zF.softmax_cross_entropy(torch.tensor(x * 10), torch.tensor(t)).item() == \
        pytest.approx(book, rel=1e-12)
    assert _torch_ce(x * 10, t) == pytest.approx(500.0)


def test_book_ce_delta_at_ordinary_logits(rng):
    """Standard-normal logits, 10 classes, 1000 samples: the book is ≈ 2.5e-6 lower.

    Cause: log(y_t + δ) − log(y_t) ≈ δ / y_t per sample, averaged (y_t ~ 0.1, heavy tail).
    """
    x = rng.standard_normal((1000, 10))
    t = rng.integers(0, 10, 1000)
    diff = _book_loss(x, t) - _torch_ce(x, t)
    y_t = sf.softmax(x)[np.arange(1000), t]
    predicted = -np.mean(np.log1p(DELTA / y_t))
    assert diff == pytest.approx(predicted, rel=1e-6, abs=1e-15)
    assert -4e-6 < diff < -1.5e-6  # measured −2.46e-6 with this seed
    assert diff == pytest.approx(-DELTA * np.mean(1 / y_t), rel=1e-4)


def test_book_ce_delta_perfect_prediction_is_negative():
    """y equal to the one-hot label gives −log(1 + 1e-7) = −9.9999995e-8, below zero."""
    y = np.array([0.0, 0.0, 1.0])
    t = np.array([0.0, 0.0, 1.0])
    loss = sf.cross_entropy_error(y, t)
    assert loss < 0
    assert loss == pytest.approx(-math.log1p(DELTA), rel=1e-12)
    assert loss == pytest.approx(-9.9999995e-8, rel=1e-7)
    assert zF.cross_entropy_error(torch.tensor(y), torch.tensor(t)).item() == loss
    # F.nll_loss on the exact log-probabilities gives exactly 0
    assert F.nll_loss(torch.log(torch.tensor(y)).unsqueeze(0), torch.tensor([2])).item() == 0.0


def test_book_ce_delta_makes_its_backward_inexact():
    """SoftmaxWithLoss.backward = (y − t)/N is the gradient *without* the 1e-7.

    The derivative of the book's own forward value is (y_t / (y_t + δ))·(y − t)/N, so where
    y_t is small the book's backward is off by the factor (1 + δ/y_t): measured here with y_t
    ≈ 1e-4, a relative error ≈ 1e-3 that central differences see clearly.
    """
    x = np.array([[0.0, 9.2, 0.0, 0.0]])  # y_0 ≈ 1e-4
    t = np.array([0])
    layer = SoftmaxWithLoss()
    layer.forward(x, t)
    backward = layer.backward(1)
    y_t = layer.y[0, 0]
    h = 1e-5  # rounding ≈ eps·|L|/h ≈ 1e-10 absolute; truncation ≈ h² ≈ 1e-10
    numerical = np.zeros_like(x)
    for j in range(x.shape[1]):
        e = np.zeros_like(x)
        e[0, j] = h
        numerical[0, j] = (_book_loss(x + e, t) - _book_loss(x - e, t)) / (2 * h)
    np.testing.assert_allclose(numerical, backward * y_t / (y_t + DELTA), rtol=1e-7,
                               atol=1e-9)
    big = np.abs(backward) > 0.5  # the two components of size ~1, where 1e-3 relative shows
    rel = np.abs(numerical - backward)[big] / np.abs(backward)[big]
    np.testing.assert_allclose(rel, DELTA / (y_t + DELTA), rtol=1e-4)
    assert 5e-4 < rel.max() < 2e-3
    assert not np.allclose(numerical, backward, rtol=1e-4, atol=0)
    # zerotorch keeps the book's pair of (forward value, backward): autograd gives (y − t)/N
    x_t = torch.tensor(x, requires_grad=True)
    loss = zF.softmax_cross_entropy(x_t, torch.tensor(t))
    loss.backward()
    assert loss.item() == pytest.approx(layer.loss, rel=1e-15)
    np.testing.assert_allclose(x_t.grad.numpy(), backward, rtol=1e-12, atol=1e-18)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 6), c=st.integers(2, 7), scale=st.floats(0.1, 30.0),
       seed=st.integers(0, 2 ** 32 - 1))
def test_label_forms_agree_on_both_sides(n, c, scale, seed):
    """Index labels, one-hot labels, and a 1-D row give the same loss, in NumPy and torch."""
    rng = np.random.default_rng(seed)
    y = sf.softmax(rng.standard_normal((n, c)) * scale)
    t = rng.integers(0, c, n)
    onehot = np.eye(c)[t]
    loss = sf.cross_entropy_error(y, t)
    assert sf.cross_entropy_error(y, onehot) == loss
    assert zF.cross_entropy_error(torch.tensor(y), torch.tensor(t)).item() == pytest.approx(
        loss, rel=1e-14, abs=1e-300)
    assert sf.cross_entropy_error(y[0], t[0]) == pytest.approx(
        sf.cross_entropy_error(y[:1], t[:1]), rel=1e-15)
    assert loss <= -math.log(DELTA) + 1e-12  # the cap
