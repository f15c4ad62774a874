"""ch4.3–4.4: numerical differentiation and gradient descent (the book's ``common/gradient.py``).

``numerical_gradient(f, x)`` follows the book: central differences with h = 1e-4, perturbing
``x`` element by element *in place* (so ``f`` may read ``x`` through a closure, as the networks'
``lambda W: self.loss(x, t)`` does) and restoring each element exactly afterwards.
"""

from __future__ import annotations

import numpy as np

# The book's step sizes: 1e-4 balances truncation (O(h²)) against rounding (O(eps/h)) in float64.
DIFF_H = 1e-4


def numerical_diff(f, x, h: float = DIFF_H):
    """ch4.3.1 central difference (f(x + h) − f(x − h)) / 2h of a function of one number."""
    return (f(x + h) - f(x - h)) / (2 * h)


def numerical_gradient(f, x: np.ndarray, h: float = DIFF_H) -> np.ndarray:
    """ch4.4 gradient of scalar ``f(x)`` by central differences, for ``x`` of any ndim.

    Args:
        f: called as ``f(x)``; may ignore its argument and read ``x`` through a closure.
        x: float array (any shape); perturbed in place one element at a time and restored, so
            it holds exactly its original values on return.
    Returns:
        an array shaped like ``x`` (same float dtype).
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"numerical_gradient needs a float ndarray to perturb in place, got "
                        f"{type(x).__name__} with dtype {getattr(x, 'dtype', None)}")
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        idx = it.multi_index
        original = x[idx].copy()
        x[idx] = original + h
        f_plus = f(x)
        x[idx] = original - h
        f_minus = f(x)
        x[idx] = original  # restored bit for bit
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad


def gradient_descent(f, init_x, lr: float = 0.01, step_num: int = 100,
                     return_history: bool = False):
    """ch4.4.1 gradient descent x ← x − lr·∇f(x) with the numerical gradient.

    ``init_x`` is copied, never modified. Returns the final ``x``; with ``return_history`` also
    the (step_num, *x.shape) array of the points visited before each step (the book's
    ``gradient_method.py`` plot).
    """
    x = np.array(init_x, copy=True)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float64)
    history = []
    for _ in range(step_num):
        history.append(x.copy())
        x -= lr * numerical_gradient(f, x)
    if return_history:
        return x, np.array(history)
    return x
