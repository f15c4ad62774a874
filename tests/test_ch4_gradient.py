"""ch4.3–4.4 numerical differentiation and gradient descent: the book's numbers, and float32."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

from scratch.gradient import DIFF_H, gradient_descent, numerical_diff, numerical_gradient
from scratch.two_layer_net import TwoLayerNetCh4


def function_1(x):
    return 0.01 * x ** 2 + 0.1 * x


def function_2(x):
    return x[0] ** 2 + x[1] ** 2


def test_numerical_diff_published_values():
    """ch4.3.2 prints 0.1999999999990898 and 0.2999999999986347 (true values 0.2 and 0.3)."""
    assert numerical_diff(function_1, 5) == pytest.approx(0.1999999999990898, rel=1e-12)
    assert numerical_diff(function_1, 10) == pytest.approx(0.2999999999986347, rel=1e-12)
    assert DIFF_H == 1e-4


@pytest.mark.parametrize(("x", "want"), [
    ([3.0, 4.0], [6.0, 8.0]), ([0.0, 2.0], [0.0, 4.0]), ([3.0, 0.0], [6.0, 0.0]),
])
def test_numerical_gradient_published_values(x, want):
    np.testing.assert_allclose(numerical_gradient(function_2, np.array(x)), want, atol=1e-10)


def test_numerical_gradient_any_ndim_leaves_input_bit_identical(rng):
    x = rng.standard_normal((2, 3, 4)) * 1e3 + 0.1  # large values: x + h − h ≠ x in floats
    before = x.copy()
    g = numerical_gradient(lambda z: float(np.sum(np.sin(z))), x)
    assert g.shape == x.shape
    np.testing.assert_array_equal(x, before)
    np.testing.assert_allclose(g, np.cos(before), atol=1e-7)


def test_numerical_gradient_closure_style_sees_the_perturbation(rng):
    """The networks pass f = lambda W: self.loss(x, t), which reads W, not its argument."""
    W = rng.standard_normal((3, 2))
    x = rng.standard_normal((4, 3))
    g = numerical_gradient(lambda _ignored: float(np.sum((x @ W) ** 2)), W)
    np.testing.assert_allclose(g, 2 * x.T @ (x @ W), rtol=1e-7)


def test_numerical_gradient_rejects_integer_arrays():
    with pytest.raises(TypeError, match="int64"):
        numerical_gradient(function_2, np.array([3, 4]))


@pytest.mark.parametrize(("lr", "want", "tol"), [
    (0.1, [-6.11110793e-10, 8.14814391e-10], 1e-17),  # converges to (0, 0)
    (10.0, [-2.58983747e13, -1.29524862e12], 1e4),  # too large: diverges
    (1e-10, [-2.99999994, 3.99999992], 1e-8),  # too small: barely moves
])
def test_gradient_descent_published_results(lr, want, tol):
    init = np.array([-3.0, 4.0])
    x = gradient_descent(function_2, init, lr=lr, step_num=100)
    np.testing.assert_allclose(x, want, atol=tol, rtol=1e-8)
    np.testing.assert_array_equal(init, [-3.0, 4.0])  # init_x is not modified


def test_gradient_descent_history():
    x, hist = gradient_descent(function_2, np.array([-3.0, 4.0]), lr=0.1, step_num=20,
                               return_history=True)
    assert hist.shape == (20, 2)
    np.testing.assert_array_equal(hist[0], [-3.0, 4.0])
    np.testing.assert_allclose(hist[1], [-3.0 * 0.8, 4.0 * 0.8], rtol=1e-10)
    np.testing.assert_allclose(x, [-3.0 * 0.8 ** 20, 4.0 * 0.8 ** 20], rtol=1e-8)


def test_float32_numerical_gradient_error_vs_float64():
    """Central differences in float32 are ~1e4 times worse than in float64.

    Cause: the loss itself is rounded to float32 (eps ≈ 1.2e-7), and dividing a difference of
    two rounded losses by 2h = 2e-4 amplifies that to ≈ eps·|L|/h; in float64 the remaining
    error (~1.6e-7) is the book's 1e-7 inside the log, not rounding.
    """
    rng = np.random.default_rng(1)
    net = TwoLayerNetCh4(784, 50, 10, rng=rng)
    x = np.random.default_rng(2).uniform(0, 1, (3, 784))
    t = np.array([1, 2, 3])
    exact = net.gradient(x, t)["W2"]  # analytic, float64
    errors = {}
    for dtype in (np.float32, np.float64):
        net.params = {k: v.astype(dtype) for k, v in net.params.items()}
        xd = x.astype(dtype)
        g = numerical_gradient(lambda _w, xd=xd: net.loss(xd, t), net.params["W2"])
        assert g.dtype == dtype
        errors[dtype] = float(np.abs(g.astype(np.float64) - exact).max())
    loss = float(net.loss(x, t))
    rounding_scale = np.finfo(np.float32).eps * loss / DIFF_H
    assert 1e-4 < errors[np.float32] < 1e-2  # measured 2.3e-3
    assert 0.1 < errors[np.float32] / rounding_scale < 10
    assert errors[np.float64] < 1e-6  # measured 1.6e-7
    assert errors[np.float32] / errors[np.float64] > 1e3


def test_book_h_vs_gradcheck_eps():
    """The book's h is 1e-4, ``torch.autograd.gradcheck``'s eps 1e-6 (float64).

    Size: the central difference of x³ at 1 is 3 + h² exactly in real arithmetic (truncation
    h²·f'''/6), so the book's h leaves 1e-8; h = 1e-6 leaves rounding (~eps/h ≈ 1e-10) instead.
    """
    assert inspect.signature(torch.autograd.gradcheck).parameters["eps"].default == 1e-6
    cube = lambda x: x ** 3
    book = numerical_diff(cube, 1.0) - 3.0
    assert book == pytest.approx(DIFF_H ** 2, rel=1e-3)  # measured 9.9994e-9 (rounding 6e-13)
    assert abs(numerical_diff(cube, 1.0, h=1e-6) - 3.0) < 1e-9
