"""ch6.3 Batch Normalization and ch6.4.3 Dropout as ``nn.Module``s, book semantics by default.

Same names and constructor arguments as ``scratch.normalization``; ``self.training`` replaces
the book's ``train_flg``. Keyword-only flags switch each difference to PyTorch's semantics:

``BatchNormalization``                       book (default)      ``nn.BatchNorm1d``
  ``eps``                                    1e-6                1e-5
  ``momentum_style``                         ``"book"``: fraction kept (0.9)
                                             ``"torch"``: fraction updated (0.1)
  ``unbiased_running_var``                   False (÷N)          True (÷(N − 1))
  ``initial_running_var`` (when ``running_var`` is None)  0.0    1.0
``BatchNormalization.pytorch(num_features)`` sets all four; ``to_builtin`` converts.

``Dropout``: ``inverted=False`` is the book (train x·mask, eval x·(1 − ratio));
``inverted=True`` is ``nn.Dropout`` (train x·mask/(1 − ratio), eval x). Its ``generator`` is a
``torch.Generator`` or, to drop exactly what a scratch run drops, a ``scratch.masks.MaskStream``
(the one source of masks for comparisons: a seeded stream or a replay of recorded masks). The
mask used last is kept in ``module.mask`` (bool, x's shape).
"""

from __future__ import annotations

import torch
from torch import nn

from scratch.checks import check_batch
from scratch.masks import MaskStream
from zerotorch.tensors import as_parameter, as_tensor

BN_EPS = 1e-6  # the book writes 10e-7
TORCH_BN_EPS = 1e-5


class BatchNormalization(nn.Module):
    """ch6.3.1 Batch Normalization, one statistic per activation (4-D input → (N, C·H·W)).

    Args:
        gamma, beta: (D,) scale and shift (become the parameters ``gamma`` and ``beta``).
        momentum: with ``momentum_style="book"`` the fraction of the running statistic kept
            per step; with ``"torch"`` the fraction replaced (``nn.BatchNorm1d``'s meaning).
        running_mean, running_var: (D,) starting buffers; ``None`` → 0 for the mean and
            ``initial_running_var`` for the variance.
        eps: added to the variance (book 1e-6, PyTorch 1e-5).
        unbiased_running_var: update the running variance with the N/(N − 1)-corrected batch
            variance, as PyTorch does (normalisation itself always uses the biased one).
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, *,
                 eps: float = BN_EPS, momentum_style: str = "book",
                 unbiased_running_var: bool = False, initial_running_var: float = 0.0,
                 dtype: torch.dtype | None = None):
        super().__init__()
        if momentum_style not in ("book", "torch"):
            raise ValueError(f"momentum_style must be 'book' or 'torch', got {momentum_style!r}")
        self.gamma = as_parameter(gamma, dtype)
        self.beta = as_parameter(beta, dtype)
        if self.gamma.ndim != 1 or self.beta.shape != self.gamma.shape:
            raise ValueError(f"gamma and beta must be (D,) of one shape, got "
                             f"{tuple(self.gamma.shape)} and {tuple(self.beta.shape)}")
        d, dt = self.gamma.shape[0], self.gamma.dtype
        rm = torch.zeros(d, dtype=dt) if running_mean is None else as_tensor(running_mean, dt)
        rv = (torch.full((d,), float(initial_running_var), dtype=dt) if running_var is None
              else as_tensor(running_var, dt))
        self.register_buffer("running_mean", rm)
        self.register_buffer("running_var", rv)
        self.momentum = momentum
        self.eps = eps
        self.momentum_style = momentum_style
        self.unbiased_running_var = unbiased_running_var

    @classmethod
    def pytorch(cls, num_features: int, momentum: float = 0.1, eps: float = TORCH_BN_EPS,
                dtype: torch.dtype | None = None) -> BatchNormalization:
        """``nn.BatchNorm1d(num_features)``'s semantics: γ=1, β=0, eps 1e-5, momentum 0.1
        (fraction updated), unbiased running variance starting at 1."""
        dtype = dtype or torch.get_default_dtype()
        return cls(torch.ones(num_features, dtype=dtype), torch.zeros(num_features, dtype=dtype),
                   momentum, eps=eps, momentum_style="torch", unbiased_running_var=True,
                   initial_running_var=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_batch("BatchNormalization", x)
        shape = x.shape
        x2 = x.reshape(shape[0], -1)  # (N, D); (N, C, H, W) → (N, C·H·W)
        if x2.shape[1] != self.gamma.shape[0]:
            raise ValueError(f"BatchNormalization: gamma has shape {tuple(self.gamma.shape)}, "
                             f"input {tuple(shape)} has {x2.shape[1]} activations per sample")
        if self.training:
            n = x2.shape[0]
            mu = x2.mean(dim=0)
            xc = x2 - mu
            var = (xc ** 2).mean(dim=0)  # biased: divides by N
            xn = xc / torch.sqrt(var + self.eps)
            with torch.no_grad():
                batch_var = var * (n / (n - 1)) if self.unbiased_running_var and n > 1 else var
                keep = self.momentum if self.momentum_style == "book" else 1 - self.momentum
                self.running_mean.copy_(keep * self.running_mean + (1 - keep) * mu)
                self.running_var.copy_(keep * self.running_var + (1 - keep) * batch_var)
        else:
            xn = (x2 - self.running_mean) / torch.sqrt(self.running_var + self.eps)
        out = self.gamma * xn + self.beta  # (N, D)
        return out.reshape(shape)

    def to_builtin(self) -> nn.BatchNorm1d:
        """An ``nn.BatchNorm1d`` with this module's γ, β, running buffers, eps and momentum
        (converted to PyTorch's fraction-updated meaning). Equal in training and eval when
        ``unbiased_running_var=True`` (PyTorch has no biased option)."""
        d = self.gamma.shape[0]
        mom = 1 - self.momentum if self.momentum_style == "book" else self.momentum
        bn = nn.BatchNorm1d(d, eps=self.eps, momentum=mom, dtype=self.gamma.dtype,
                            device=self.gamma.device)
        with torch.no_grad():
            bn.weight.copy_(self.gamma)
            bn.bias.copy_(self.beta)
            bn.running_mean.copy_(self.running_mean)
            bn.running_var.copy_(self.running_var)
        return bn.train(self.training)

    def extra_repr(self) -> str:
        return (f"{self.gamma.shape[0]}, momentum={self.momentum} ({self.momentum_style}), "
                f"eps={self.eps}, unbiased_running_var={self.unbiased_running_var}")


class Dropout(nn.Module):
    """ch6.4.3 Dropout; book (non-inverted) by default, ``inverted=True`` for ``nn.Dropout``.

    Args:
        dropout_ratio: probability of dropping a unit (``nn.Dropout``'s ``p``).
        generator: where the masks come from: a ``torch.Generator`` (the global one if
            ``None``), in the place of the scratch side's ``rng``, masks ``rand(x.shape) >
            dropout_ratio`` like the book, drawn on the generator's device; or a
            ``scratch.masks.MaskStream`` shared with a scratch twin (comparisons).
        inverted (keyword-only): rescale by 1/(1 − ratio) in training and pass through at eval
            (PyTorch).
    """

    def __init__(self, dropout_ratio: float = 0.5,
                 generator: torch.Generator | MaskStream | None = None, *,
                 inverted: bool = False):
        super().__init__()
        if not 0.0 <= dropout_ratio < 1.0:
            raise ValueError(f"dropout_ratio must be in [0, 1), got {dropout_ratio!r}")
        self.dropout_ratio = dropout_ratio
        self.inverted = inverted
        self.generator = generator
        self.mask: torch.Tensor | None = None

    def draw_mask(self, x: torch.Tensor) -> torch.Tensor:
        """A fresh keep-mask for ``x`` (True = kept)."""
        g = self.generator
        if isinstance(g, MaskStream):  # compared in NumPy's float64, as the scratch side does
            return torch.as_tensor(g.random(x.shape) > self.dropout_ratio, device=x.device)
        device = g.device if g is not None else x.device
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        u = torch.rand(x.shape, generator=g, device=device, dtype=dtype)
        return (u > self.dropout_ratio).to(x.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x if self.inverted else x * (1.0 - self.dropout_ratio)
        self.mask = self.draw_mask(x)
        keep = self.mask.to(x.dtype)
        if self.inverted:
            keep = keep / (1.0 - self.dropout_ratio)
        return x * keep

    def to_builtin(self) -> nn.Dropout:
        """``nn.Dropout(p)``: PyTorch's inverted dropout whatever ``inverted`` is here (the
        book's test-mode output is its eval output × (1 − p))."""
        return nn.Dropout(self.dropout_ratio)

    def extra_repr(self) -> str:
        return f"dropout_ratio={self.dropout_ratio}, inverted={self.inverted}"
