"""Hand-written implementations of each reference a concept declares (written for the tests).

Each one equals exactly one reference: a PyTorch convention (no 1e-7 in the cross-entropy,
per-channel Batch Normalization, unbiased running variance, inverted dropout) or a version of
the book's code (the 2016 Nesterov, the 2016 ``relu_grad``, layers whose backward needs a
training-mode forward, a Pooling whose output size ignores ``pad``). ``tests/test_crosscheck_
verdicts.py`` checks that the verdict names that reference.
"""

import numpy as np


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _labels(y, t):
    if y.ndim == 1:
        y, t = y[None, :], np.reshape(t, (1, -1))
    if t.size == y.size:  # one-hot
        t = t.argmax(axis=1)
    return y, np.reshape(t, -1).astype(int)


# ------------------------------------------------------------ the cross-entropy without 1e-7


def cross_entropy_error(y, t):
    """−Σ log(y_t)/N, no delta: F.cross_entropy's value (the book before 2017-12)."""
    y, t = _labels(y, t)
    return -np.log(y[np.arange(len(t)), t]).sum() / len(t)


class SoftmaxWithLoss:
    """Softmax + the delta-less cross-entropy; backward honours dout."""

    def forward(self, x, t):
        self.t = t
        self.y = _softmax(x)
        return cross_entropy_error(self.y, t)

    def backward(self, dout=1):
        y2, t = _labels(self.y, self.t)
        dx = y2.copy()
        dx[np.arange(len(t)), t] -= 1
        if self.t.size == self.y.size:  # one-hot targets: y − t exactly
            dx = y2 - np.reshape(self.t, y2.shape)
        return dout * dx / len(t)


class SoftmaxWithLossIgnoringDout(SoftmaxWithLoss):
    """The 2016 book: no delta, and backward returns (y − t)/N whatever dout is."""

    def backward(self, dout=1):
        return super().backward(1)


# ------------------------------------------------------------ Batch Normalization


class BatchNormalizationPerChannel:
    """One statistic per channel of (N, C, H, W) input: nn.BatchNorm2d's normalisation (eps as
    the book's 1e-6, the running statistics kept with momentum 0.9, biased)."""

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma, self.beta, self.momentum = gamma, beta, momentum
        self.running_mean, self.running_var = running_mean, running_var

    def _cols(self, x):
        n, c, h, w = x.shape
        return x.transpose(0, 2, 3, 1).reshape(-1, c)  # (N·H·W, C)

    def _back(self, cols, shape):
        n, c, h, w = shape
        return cols.reshape(n, h, w, c).transpose(0, 3, 1, 2)

    def forward(self, x, train_flg=True):
        self.shape, self.train_flg = x.shape, train_flg
        cols = self._cols(x)
        if train_flg:
            mu, var = cols.mean(axis=0), cols.var(axis=0)
            m = self.momentum
            self.running_mean = m * self.running_mean + (1 - m) * mu
            self.running_var = m * self.running_var + (1 - m) * var
        else:
            mu, var = self.running_mean, self.running_var
        self.std = np.sqrt(var + 1e-6)
        self.xn = (cols - mu) / self.std
        return self._back(self.gamma * self.xn + self.beta, x.shape)

    def backward(self, dout):
        d = self._cols(dout)
        self.dbeta, self.dgamma = d.sum(axis=0), (self.xn * d).sum(axis=0)
        g = self.gamma * d
        if self.train_flg:
            g = g - g.mean(axis=0) - self.xn * (g * self.xn).mean(axis=0)
        return self._back(g / self.std, self.shape)


class BatchNormalizationUnbiasedRunning:
    """Per activation like the book, but the running variance takes the unbiased batch variance
    (N/(N − 1)), as nn.BatchNorm1d's does; the normalisation itself stays biased."""

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma, self.beta, self.momentum = gamma, beta, momentum
        self.running_mean, self.running_var = running_mean, running_var

    def forward(self, x, train_flg=True):
        self.shape = x.shape
        x2 = x.reshape(len(x), -1)
        mu, var = x2.mean(axis=0), x2.var(axis=0)
        m = self.momentum
        self.running_mean = m * self.running_mean + (1 - m) * mu
        self.running_var = m * self.running_var + (1 - m) * var * len(x2) / (len(x2) - 1)
        self.std = np.sqrt(var + 1e-6)
        self.xn = (x2 - mu) / self.std
        return (self.gamma * self.xn + self.beta).reshape(x.shape)

    def backward(self, dout):
        d = dout.reshape(len(dout), -1)
        self.dbeta, self.dgamma = d.sum(axis=0), (self.xn * d).sum(axis=0)
        g = self.gamma * d
        dx = (g - g.mean(axis=0) - self.xn * (g * self.xn).mean(axis=0)) / self.std
        return dx.reshape(self.shape)


class BatchNormalizationTrainOnlyBackward(BatchNormalizationUnbiasedRunning):
    """The book's shape of code: backward works only after a training-mode forward (test mode
    normalises with the running statistics and keeps nothing for backward)."""

    def forward(self, x, train_flg=True):
        if train_flg:
            return super().forward(x)
        x2 = x.reshape(len(x), -1)
        return (self.gamma * (x2 - self.running_mean) / np.sqrt(self.running_var + 1e-6)
                + self.beta).reshape(x.shape)

    def backward(self, dout):
        if not hasattr(self, "xn"):
            raise AttributeError("no training-mode forward to differentiate")
        return super().backward(dout)


# ------------------------------------------------------------ Dropout


class DropoutInverted:
    """nn.Dropout: keep with probability 1 − p and scale by 1/(1 − p); identity in test mode."""

    def __init__(self, dropout_ratio=0.5):
        self.p = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if not train_flg:
            return x.copy()
        self.mask = np.random.rand(*x.shape) > self.p  # noqa: NPY002 (as readers write it)
        return x * self.mask / (1 - self.p)

    def backward(self, dout):
        return dout * self.mask / (1 - self.p) if self.mask is not None else dout.copy()


class DropoutTrainOnlyMask:
    """The book's shape of code: the mask exists only after a training-mode forward."""

    def __init__(self, dropout_ratio=0.5):
        self.p = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.p  # noqa: NPY002
            return x * self.mask
        return x * (1.0 - self.p)

    def backward(self, dout):
        return dout * self.mask  # TypeError after a test-mode forward (mask is None)


# ------------------------------------------------------------ optimizers and relu_grad


class Nesterov2016:
    """The 2016 order: v ← m·v − lr·g first, then W ← W + m²·v − (1 + m)·lr·g with the new v."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum, self.v = lr, momentum, None

    def update(self, params, grads):
        if self.v is None:
            self.v = {k: np.zeros_like(p) for k, p in params.items()}
        m = self.momentum
        for k in params:
            self.v[k] = m * self.v[k] - self.lr * grads[k]
            params[k] += m * m * self.v[k] - (1 + m) * self.lr * grads[k]


def relu_grad_2016(x):
    grad = np.zeros(x)  # the 2016 code: a TypeError for an array (np.zeros_like was meant)
    grad[x >= 0] = 1
    return grad


def relu_grad_autograd(x):
    """ReLU's derivative as autograd gives it: 0 at x = 0."""
    return (x > 0).astype(float)


# ------------------------------------------------------------ Pooling


class PoolingIgnoringPad:
    """Max pooling whose output size leaves pad out, as the book's: any pad ≥ 1 fails to reshape
    (correct without padding)."""

    def __init__(self, pool_h, pool_w, stride=2, pad=0):
        self.ph, self.pw, self.stride, self.pad = pool_h, pool_w, stride, pad

    def forward(self, x):
        n, c, h, w = x.shape
        oh, ow = 1 + (h - self.ph) // self.stride, 1 + (w - self.pw) // self.stride
        xp = np.pad(x, [(0, 0), (0, 0), (self.pad, self.pad), (self.pad, self.pad)])
        windows = [xp[:, :, i * self.stride:i * self.stride + self.ph,
                      j * self.stride:j * self.stride + self.pw].reshape(n, c, -1)
                   for i in range(1 + (xp.shape[2] - self.ph) // self.stride)
                   for j in range(1 + (xp.shape[3] - self.pw) // self.stride)]
        stacked = np.stack(windows, axis=2)  # (N, C, windows, ph·pw)
        self.x_shape, self.arg = x.shape, stacked.argmax(axis=3)
        return stacked.max(axis=3).reshape(n, c, oh, ow)  # fails when pad ≥ 1

    def backward(self, dout):  # pad = 0 only (forward fails otherwise)
        n, c, h, w = self.x_shape
        dx = np.zeros(self.x_shape)
        ow = dout.shape[3]
        for k in range(dout.shape[2] * ow):
            i, j = divmod(k, ow)
            a, b = np.divmod(self.arg[:, :, k], self.pw)
            for ni in range(n):
                for ci in range(c):
                    dx[ni, ci, i * self.stride + a[ni, ci], j * self.stride + b[ni, ci]] += (
                        dout[ni, ci, i, j])
        return dx
