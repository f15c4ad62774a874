"""ch6.3 Batch Normalization and ch6.4.3 Dropout layers (the book's semantics), NumPy only.

Both take ``train_flg`` in ``forward`` like the book. Neither modifies its input or ``dout``.
(This module imports nothing from ``scratch.layers``, which re-exports both classes.)
"""

from __future__ import annotations

import numpy as np

from scratch.checks import check_batch, check_dout

BN_EPS = 1e-6  # the book writes 10e-7


class BatchNormalization:
    """ch6.3.1 Batch Normalization over the batch axis, one statistic per activation.

    Args:
        gamma: (D,) scale; beta: (D,) shift. For 4-D input (N, C, H, W), D = C·H·W: the book
            normalises every activation separately (not per channel like ``nn.BatchNorm2d``).
        momentum: fraction of the running statistic *kept* at each training step
            (running = momentum·running + (1 − momentum)·batch statistic).
        running_mean, running_var: (D,) starting statistics; ``None`` means zeros (the running
            variance starts at 0 too, and is updated with the biased batch variance).

    Training uses the batch mean and biased variance with eps 1e-6; ``train_flg=False`` uses the
    running statistics. ``backward`` follows the last ``forward``'s mode (the book's assumes
    training; after a test-mode forward ours returns the fixed-statistics gradient).
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None):
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.running_mean = running_mean
        self.running_var = running_var
        self.input_shape = None
        self.xn = None
        self.std = None
        self.train_flg = True
        self.dgamma = None
        self.dbeta = None

    def forward(self, x, train_flg=True):
        check_batch("BatchNormalization", x)
        self.input_shape = x.shape
        self.train_flg = train_flg
        x2 = x.reshape(x.shape[0], -1)  # (N, D); (N, C, H, W) → (N, C·H·W)
        if self.gamma.shape != (x2.shape[1],):
            raise ValueError(f"BatchNormalization: gamma has shape {self.gamma.shape}, input "
                             f"{x.shape} has {x2.shape[1]} activations per sample")
        if self.running_mean is None:
            self.running_mean = np.zeros(x2.shape[1], dtype=x2.dtype)
            self.running_var = np.zeros(x2.shape[1], dtype=x2.dtype)
        if train_flg:
            mu = x2.mean(axis=0)
            xc = x2 - mu
            var = np.mean(xc ** 2, axis=0)  # biased: divides by N
            self.std = np.sqrt(var + BN_EPS)
            self.xn = xc / self.std
            m = self.momentum
            self.running_mean = m * self.running_mean + (1 - m) * mu
            self.running_var = m * self.running_var + (1 - m) * var
        else:
            self.std = np.sqrt(self.running_var + BN_EPS)
            self.xn = (x2 - self.running_mean) / self.std
        out = self.gamma * self.xn + self.beta  # (N, D)
        return out.reshape(self.input_shape)

    def backward(self, dout):
        check_dout("BatchNormalization", dout, self.input_shape)
        d2 = dout.reshape(dout.shape[0], -1)  # (N, D)
        self.dbeta = d2.sum(axis=0)
        self.dgamma = np.sum(self.xn * d2, axis=0)
        dxn = self.gamma * d2
        if not self.train_flg:  # fixed statistics: a per-activation affine map
            return (dxn / self.std).reshape(self.input_shape)
        # Through xn = (x − μ)/σ with μ, σ² the batch statistics (ch6.3.1's graph, collapsed):
        # dx = (dxn − mean(dxn) − xn·mean(dxn·xn)) / σ
        dx = (dxn - dxn.mean(axis=0) - self.xn * np.mean(dxn * self.xn, axis=0)) / self.std
        return dx.reshape(self.input_shape)


class Dropout:
    """ch6.4.3 Dropout, the book's non-inverted form.

    Training: a fresh mask ``rng.random(x.shape) > dropout_ratio`` keeps each unit with
    probability 1 − ratio and the output is ``x·mask`` (no rescaling). Test
    (``train_flg=False``): ``x·(1 − dropout_ratio)``. ``nn.Dropout`` is "inverted" instead
    (÷(1 − p) in training, identity at test): the book's output is PyTorch's × (1 − p).

    Args:
        dropout_ratio: probability of dropping a unit.
        rng: ``numpy.random.Generator`` drawing the masks (a fresh unseeded one if ``None``),
            or a ``scratch.masks.MaskStream`` shared with a twin (comparisons).
    """

    def __init__(self, dropout_ratio=0.5, rng=None):
        if not 0.0 <= dropout_ratio < 1.0:
            raise ValueError(f"dropout_ratio must be in [0, 1), got {dropout_ratio!r}")
        self.dropout_ratio = dropout_ratio
        self.rng = rng if rng is not None else np.random.default_rng()
        self.mask = None
        self.train_flg = True
        self.out_shape = None

    def forward(self, x, train_flg=True):
        self.train_flg = train_flg
        self.out_shape = np.shape(x)
        if train_flg:
            self.mask = self.rng.random(x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        check_dout("Dropout", dout, self.out_shape)
        if not self.train_flg:  # the book reuses a stale mask here; the true derivative is this
            return dout * (1.0 - self.dropout_ratio)
        return dout * self.mask
