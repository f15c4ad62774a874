"""ch6.1 parameter-update methods (the book's ``common/optimizer.py``), NumPy only.

Every optimizer has the book's constructor (names, defaults) and ``update(params, grads)``, which
updates the arrays of the ``params`` dict in place from the same-keyed ``grads`` dict. The state
(velocities, squared-gradient sums, moments) is created lazily on the first ``update``, keyed like
``params``. The small constant added to denominators is the book's 1e-7.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-7  # the book's constant in AdaGrad/RMSprop/Adam denominators


# "book": today's official code (= SGD(nesterov=True)); "book-2016": the first edition's code.
NESTEROV_VARIANTS = ("book", "book-2016")


def _zeros_like(params: dict) -> dict:
    return {key: np.zeros_like(val) for key, val in params.items()}


class SGD:
    """ch6.1.2 stochastic gradient descent: W ← W − lr·∂L/∂W."""

    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params:
            params[key] -= self.lr * grads[key]


class Momentum:
    """ch6.1.4 Momentum: v ← momentum·v − lr·∂L/∂W; W ← W + v (v starts at 0)."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = _zeros_like(params)
        for key in params:
            self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
            params[key] += self.v[key]


class Nesterov:
    """ch6.1 Nesterov's accelerated gradient as the book's code writes it today.

    W ← W + momentum²·v − (1 + momentum)·lr·g with the velocity from *before* this update,
    then v ← momentum·v − lr·g: the paper's order, equal to PyTorch's
    ``SGD(momentum, nesterov=True)`` (v = −lr·buf). ``variant="book-2016"`` is the book's first
    code (changed in 2021): v is updated first and the step uses the *new* v, momentum²·lr·g
    apart from the first update (tests/test_ch6_optimizers.py measures the gap).
    """

    def __init__(self, lr=0.01, momentum=0.9, variant="book"):
        if variant not in NESTEROV_VARIANTS:
            raise ValueError(f"Nesterov: variant must be one of {NESTEROV_VARIANTS}, "
                             f"got {variant!r}")
        self.lr = lr
        self.momentum = momentum
        self.variant = variant
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = _zeros_like(params)
        m = self.momentum
        for key in params:
            if self.variant == "book-2016":
                self.v[key] = m * self.v[key] - self.lr * grads[key]
            params[key] += m * m * self.v[key]
            params[key] -= (1 + m) * self.lr * grads[key]
            if self.variant == "book":
                self.v[key] = m * self.v[key] - self.lr * grads[key]


class AdaGrad:
    """ch6.1.5 AdaGrad: h ← h + g⊙g; W ← W − lr·g / (√h + 1e-7)."""

    def __init__(self, lr=0.01):
        self.lr = lr
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = _zeros_like(params)
        for key in params:
            g = grads[key]
            self.h[key] += g * g
            params[key] -= self.lr * g / (np.sqrt(self.h[key]) + EPS)


class RMSprop:
    """ch6.1.5 RMSprop: h ← decay·h + (1 − decay)·g⊙g; W ← W − lr·g / (√h + 1e-7)."""

    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr = lr
        self.decay_rate = decay_rate
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = _zeros_like(params)
        d = self.decay_rate
        for key in params:
            g = grads[key]
            self.h[key] *= d
            self.h[key] += (1 - d) * g * g
            params[key] -= self.lr * g / (np.sqrt(self.h[key]) + EPS)


class Adam:
    """ch6.1.6 Adam with the bias correction folded into the learning rate.

    t ← t + 1; lr_t = lr·√(1 − beta2^t) / (1 − beta1^t); m ← m + (1 − beta1)(g − m);
    v ← v + (1 − beta2)(g⊙g − v); W ← W − lr_t·m / (√v + 1e-7).
    Because the 1e-7 is added to the *uncorrected* √v, this equals PyTorch's Adam only with
    eps = 1e-7 / √(1 − beta2^t) at step t (see ``tests/test_ch6_optimizers.py``).
    """

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m = _zeros_like(params)
            self.v = _zeros_like(params)
        self.iter += 1
        b1, b2 = self.beta1, self.beta2
        lr_t = self.lr * np.sqrt(1.0 - b2 ** self.iter) / (1.0 - b1 ** self.iter)
        for key in params:
            g = grads[key]
            self.m[key] += (1 - b1) * (g - self.m[key])
            self.v[key] += (1 - b2) * (g * g - self.v[key])
            params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + EPS)


__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]
