"""One planted bug per class/function, in the book's API (written for the tests).

Each name says its bug; ``tests/test_crosscheck_impl.py`` checks each against the registry
pair it imitates and asserts the diagnosis names the bug.
"""

import numpy as np


def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_without_max(x):
    e = np.exp(x)  # overflows to inf for x > 709
    return e / e.sum(axis=-1, keepdims=True)


class Affine:
    """Correct; the buggy variants below override one step."""

    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.shape = x.shape
        self.x = x.reshape(len(x), -1)
        return self.x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T @ dout
        self.db = dout.sum(axis=0)
        return (dout @ self.W.T).reshape(self.shape)


class AffineTransposedDW(Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = dout.T @ self.x  # (out, in)
        return dx


class AffineFlatDx(Affine):
    def backward(self, dout):
        super().backward(dout)
        return dout @ self.W.T  # not reshaped back to the input's shape


class AffineDbNotSummed(Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.db = dout.copy()  # (N, out)
        return dx


class AffineDbOffByOne(Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.db = self.db + 1.0
        return dx


class AffineDWAveraged(Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = self.dW / len(dout)  # divides by the batch size where it must not
        return dx


class AffineNoDW(Affine):
    def backward(self, dout):
        self.db = dout.sum(axis=0)
        return (dout @ self.W.T).reshape(self.shape)


class AffineFloat32(Affine):
    def forward(self, x):
        return super().forward(x).astype(np.float32)


class SigmoidNoReturn:
    def forward(self, x):
        self.y = 1.0 / (1.0 + np.exp(-x))

    def backward(self, dout):
        return dout * self.y * (1.0 - self.y)


class SigmoidSignFlipped:
    def forward(self, x):
        self.y = 1.0 / (1.0 + np.exp(-x))
        return self.y

    def backward(self, dout):
        return -dout * self.y * (1.0 - self.y)


class ReluInPlace:
    def forward(self, x):
        self.mask = x <= 0
        return np.where(self.mask, 0.0, x)

    def backward(self, dout):
        dout[self.mask] = 0
        return dout


class ReluKink:
    def forward(self, x):
        self.mask = x < 0  # lets the gradient through at x = 0
        return np.where(self.mask, 0.0, x)

    def backward(self, dout):
        return np.where(self.mask, 0.0, dout)


class SoftmaxWithLossNoMean:
    def forward(self, x, t):
        self.y = _softmax(x)
        self.t = t
        rows = np.arange(len(x))
        return -np.log(self.y[rows, t] + 1e-7).mean()

    def backward(self, dout=1):
        grad = self.y.copy()
        grad[np.arange(len(grad)), self.t] -= 1.0
        return dout * grad  # not divided by the batch size


class SoftmaxWithLossOverflow(SoftmaxWithLossNoMean):
    def forward(self, x, t):
        e = np.exp(x)  # no max subtracted
        self.y = e / e.sum(axis=1, keepdims=True)
        self.t = t
        rows = np.arange(len(x))
        return -np.log(self.y[rows, t] + 1e-7).mean()

    def backward(self, dout=1):
        return super().backward(dout) / len(self.y)


class BatchNormalizationUnbiased:
    """The batch variance divided by N − 1 (np.var(..., ddof=1))."""

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma, self.beta, self.momentum = gamma, beta, momentum
        self.running_mean, self.running_var = running_mean, running_var

    def forward(self, x, train_flg=True):
        self.shape = x.shape
        x = x.reshape(len(x), -1)
        mu = x.mean(axis=0)
        var = x.var(axis=0, ddof=1)
        self.xc = x - mu
        self.std = np.sqrt(var + 1e-6)
        self.xn = self.xc / self.std
        self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
        self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        return (self.gamma * self.xn + self.beta).reshape(self.shape)

    def backward(self, dout):
        dout = dout.reshape(len(dout), -1)
        self.dbeta = dout.sum(axis=0)
        self.dgamma = (self.xn * dout).sum(axis=0)
        dxn = self.gamma * dout
        dx = (dxn - dxn.mean(axis=0) - self.xn * (dxn * self.xn).mean(axis=0)) / self.std
        return dx.reshape(self.shape)


class Pooling:
    """Max pooling with loops (pad 0): the gradient goes to the first maximum."""

    every_max = False

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        self.ph, self.pw, self.stride = pool_h, pool_w, stride

    def _windows(self, shape):
        n, c, h, w = shape
        for i in range((h - self.ph) // self.stride + 1):
            for j in range((w - self.pw) // self.stride + 1):
                r, s = i * self.stride, j * self.stride
                yield i, j, (slice(r, r + self.ph), slice(s, s + self.pw))

    def forward(self, x):
        self.x = x
        n, c, h, w = x.shape
        out = np.zeros((n, c, (h - self.ph) // self.stride + 1, (w - self.pw) // self.stride + 1))
        for i, j, (rs, cs) in self._windows(x.shape):
            out[:, :, i, j] = x[:, :, rs, cs].max(axis=(2, 3))
        return out

    def backward(self, dout):
        dx = np.zeros_like(self.x)
        for i, j, (rs, cs) in self._windows(self.x.shape):
            win = self.x[:, :, rs, cs]  # (N, C, PH, PW)
            flat = win.reshape(win.shape[0], win.shape[1], -1)
            if self.every_max:
                hit = flat == flat.max(axis=2, keepdims=True)
            else:
                hit = np.zeros(flat.shape, dtype=bool)
                np.put_along_axis(hit, flat.argmax(axis=2)[..., None], True, axis=2)
            dx[:, :, rs, cs] += (hit * dout[:, :, i, j][..., None]).reshape(win.shape)
        return dx


class PoolingEveryMax(Pooling):
    every_max = True


class MomentumForgetful:
    """Forgets its velocity between calls (v starts at zero every update)."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr, self.momentum = lr, momentum

    def update(self, params, grads):
        for k in params:
            v = -self.lr * grads[k]
            params[k] += v


class AdaGradEpsInRoot:
    """Puts the 1e-7 inside the square root: lr·g/√(h + 1e-7) (a relative 1e-8 off)."""

    def __init__(self, lr=0.01):
        self.lr, self.h = lr, None

    def update(self, params, grads):
        if self.h is None:
            self.h = {k: np.zeros_like(v) for k, v in params.items()}
        for k in params:
            self.h[k] += grads[k] * grads[k]
            params[k] -= self.lr * grads[k] / np.sqrt(self.h[k] + 1e-7)


class SGDOverLists:
    """The second book's convention: params and grads as lists."""

    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for i in range(len(params)):
            params[i] -= self.lr * grads[i]


def predict_returns_argmax(network, x):
    """3.6.1's predict ending in argmax: class indices instead of the probabilities."""
    a = x
    for i in (1, 2, 3):
        a = a @ network[f"W{i}"] + network[f"b{i}"]
        if i < 3:
            a = 1 / (1 + np.exp(-a))
    return np.argmax(_softmax(a), axis=1)


class TwoLayerNetL2InLossOnly:
    """ch4's TwoLayerNet whose loss adds 0.5·λ·ΣW² that its gradient leaves out."""

    def __init__(self, input_size, hidden_size, output_size, weight_init_std=0.01, rng=None):
        rng = rng or np.random.default_rng()
        self.params = {"W1": weight_init_std * rng.standard_normal((input_size, hidden_size)),
                       "b1": np.zeros(hidden_size),
                       "W2": weight_init_std * rng.standard_normal((hidden_size, output_size)),
                       "b2": np.zeros(output_size)}

    def _forward(self, x):
        z1 = 1 / (1 + np.exp(-(x @ self.params["W1"] + self.params["b1"])))
        return z1, _softmax(z1 @ self.params["W2"] + self.params["b2"])

    def loss(self, x, t):
        _, y = self._forward(x)
        ce = -np.sum(t * np.log(y + 1e-7)) / x.shape[0]
        return ce + 0.05 * sum(np.sum(self.params[k] ** 2) for k in ("W1", "W2"))

    def gradient(self, x, t):
        z1, y = self._forward(x)
        dy = (y - t) / x.shape[0]
        dz1 = dy @ self.params["W2"].T * (1 - z1) * z1
        return {"W1": x.T @ dz1, "b1": dz1.sum(0), "W2": z1.T @ dy, "b2": dy.sum(0)}


def _col2im_with(combine):
    """A col2im (N·oh·ow, C·FH·FW) → (N, C, H, W) whose overlapping windows are ``combine``d."""

    def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
        n, c, h, w = input_shape
        oh, ow = (h + 2 * pad - filter_h) // stride + 1, (w + 2 * pad - filter_w) // stride + 1
        col = col.reshape(n, oh, ow, c, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
        img = np.zeros((n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1))
        cnt = np.zeros_like(img)
        for y in range(filter_h):
            for x in range(filter_w):
                ys, xs = slice(y, y + stride * oh, stride), slice(x, x + stride * ow, stride)
                img[:, :, ys, xs] = combine(img[:, :, ys, xs], col[:, :, y, x])
                cnt[:, :, ys, xs] += 1
        return (img / np.maximum(cnt, 1) if combine is _add_then_average else img)[
            :, :, pad:h + pad, pad:w + pad]

    return col2im


def _assign(old, new):
    return new


def _add_then_average(old, new):
    return old + new


col2im_assigns = _col2im_with(_assign)  # img[...] = col[...]: the last window wins
col2im_averages = _col2im_with(_add_then_average)  # the sum divided by the overlap count


class BatchNormalizationEps7(BatchNormalizationUnbiased):
    """The biased variance, but eps 1e-7 where the book has 10e-7 (= 1e-6), in both modes."""

    def forward(self, x, train_flg=True):
        if train_flg:
            return super().forward(x, train_flg)
        self.shape = x.shape
        x = x.reshape(len(x), -1)
        self.std = np.sqrt(self.running_var + 1e-7)
        self.xn = (x - self.running_mean) / self.std
        return (self.gamma * self.xn + self.beta).reshape(self.shape)
