"""The one base of the book's networks as ``nn.Module``s, mirroring ``scratch.book_network``.

A network puts its layers in ``self.layers`` (an ``nn.ModuleDict`` with the book's layer names,
in order: ``Affine1``, ``BatchNorm1``, ``Relu1``, ``Conv1``, …, the scratch twin's names) and
declares, in ``_book_names``, which layer attribute each book key lives in (``{"W1": ("Affine1",
"W"), …}``; a parameter held by the network itself, as in the hand-written ch4 nets, has the
layer ``""``). From that table this base writes, once:

- ``book_params()`` and ``load_params`` (a book params dict, NumPy or torch, or a ``.pkl``/
  ``.npz`` file read by the safe loader), ``save_params``;
- ``state_dict()`` keyed like the book (``W1``, ``b1``, ``gamma1``, ``beta1``, and batch norm's
  buffers as ``running_mean1``/``running_var1``), also when the network sits inside a
  ``LightningModule`` (``model.W1``); ``load_state_dict`` takes those keys;
- ``forward`` (the layers in order, following ``self.training``, the PyTorch way) and the book's
  calls ``predict(x, train_flg=False)`` / ``loss(x, t, train_flg=False)``, which run in the
  requested mode whatever ``self.training`` is; ``loss`` is the book's (1e-7 in the log, the
  book's backward) plus the weight decay 0.5·λ·ΣW² of ``weight_decay_lambda``;
- ``accuracy``/``predict_labels`` over every sample, ``dropout_layers`` and the dropout
  convention, and ``to_builtin()``: the same network from torch built-ins, layer by layer.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from scratch.checks import check_batch
from zerotorch import functional as F_
from zerotorch.nn import Affine
from zerotorch.normalization import Dropout
from zerotorch.tensors import as_tensor

RUNNING_STATS = ("running_mean", "running_var")  # batch norm's buffers besides γ and β


class BookNetwork(nn.Module):
    """Base of every zerotorch network; see the module docstring for the table it reads."""

    # The loss's cross-entropy: the book's 1e-7 in the log and its backward (y − t)/N by default;
    # ``loss_delta = 0`` is F.cross_entropy, ``loss_grad = "autograd"`` differentiates the delta
    # too (see ``functional.softmax_cross_entropy``).
    loss_delta: float = F_.CROSS_ENTROPY_DELTA
    loss_grad: str = "book"
    weight_decay_lambda: float = 0.0

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleDict()
        self._book_names: dict[str, tuple[str, str]] = {}  # book key -> (layer name, attribute)

    def _add(self, name: str, layer: nn.Module, **keys: str) -> None:
        """Append layer ``name``; ``keys`` maps its attributes to book keys (``W="W1"``)."""
        self.layers[name] = layer
        for attr, key in keys.items():
            self._book_names[key] = (name, attr)

    # --- the table --------------------------------------------------------------------------

    def _native_names(self) -> dict[str, str]:
        """Book key → this module's own state name: ``W1`` → ``layers.Affine1.W``, and
        ``running_mean1`` → ``layers.BatchNorm1.running_mean``."""
        out = {}
        for key, (layer, attr) in self._book_names.items():
            out[key] = f"layers.{layer}.{attr}" if layer else attr
            if attr == "beta":  # batch norm: its running statistics follow γ and β
                for stat in RUNNING_STATS:
                    out[stat + key[len("beta"):]] = f"layers.{layer}.{stat}"
        return out

    def book_params(self) -> dict[str, nn.Parameter]:
        """The parameters keyed like the book's ``params`` dict (W1, b1, gamma1, …)."""
        return {key: getattr(self.layers[layer] if layer else self, attr)
                for key, (layer, attr) in self._book_names.items()}

    def state_dict(self, *args, destination=None, prefix: str = "", keep_vars: bool = False):
        """``nn.Module.state_dict`` with the book's keys (``W1``, ``gamma1``, ``running_mean1``)."""
        out = super().state_dict(*args, destination=destination, prefix=prefix,
                                 keep_vars=keep_vars)
        rename = {prefix + native: prefix + key for key, native in self._native_names().items()}
        items = list(out.items())
        out.clear()  # in place: the destination may be a containing module's (and has metadata)
        for k, v in items:
            out[rename.get(k, k)] = v
        return out

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Book keys back to the layers' own names before the layers read their entries.
        for key, native in self._native_names().items():
            if prefix + key in state_dict:
                state_dict[prefix + native] = state_dict.pop(prefix + key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def load_params(self, params="params.pkl") -> BookNetwork:
        """Copy a book params dict (NumPy arrays or tensors), or a ``.pkl``/``.npz`` file read
        by the safe loader ``scratch.io.load_params``, in, keeping this module's dtype."""
        if not isinstance(params, Mapping):
            from scratch.io import load_params

            params = load_params(params)
        own = self.book_params()
        name = f"{type(self).__name__}.load_params"
        missing = sorted(set(own) - set(params))
        unknown = sorted(set(params) - set(own))
        if missing or unknown:
            raise KeyError(f"{name}: missing {missing}, unknown {unknown}; expected keys "
                           f"{sorted(own)}")
        for k, p in own.items():
            value = as_tensor(params[k])
            if tuple(value.shape) != tuple(p.shape):
                raise ValueError(f"{name}: {k} has shape {tuple(value.shape)}, expected "
                                 f"{tuple(p.shape)}")
            p.copy_(value.to(dtype=p.dtype, device=p.device))
        return self

    def save_params(self, file_name="params.pkl"):
        """Save ``book_params()`` as NumPy arrays (``.pkl`` like the book, or ``.npz``)."""
        from scratch.io import save_params

        return save_params({k: p.detach().cpu().numpy() for k, p in self.book_params().items()},
                           file_name)

    # --- the forward pass and the book's calls ------------------------------------------------

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores (logits); batch norm and dropout follow ``self.training``."""
        for layer in self.layers.values():
            x = layer(x)
        return x

    def scores(self, x: torch.Tensor, train_flg: bool = False) -> torch.Tensor:
        """``forward`` in training mode iff ``train_flg`` (the mode is restored after)."""
        was_training = self.training
        self.train(train_flg)
        try:
            return self(x)
        finally:
            self.train(was_training)

    def predict(self, x: torch.Tensor, train_flg: bool = False) -> torch.Tensor:
        """The book's ``predict``: scores before the softmax, in the mode ``train_flg`` asks."""
        return self.scores(x, train_flg)

    def weight_decay(self):
        """ch6.4.1 0.5·λ·ΣW² over the weights W1, W2, … (no biases, no γ/β); 0 when λ is 0."""
        if not self.weight_decay_lambda:
            return 0.0
        return sum(0.5 * self.weight_decay_lambda * torch.sum(p ** 2)
                   for k, p in self.book_params().items() if k.startswith("W"))

    def loss(self, x: torch.Tensor, t: torch.Tensor, train_flg: bool = False) -> torch.Tensor:
        """The book's loss: softmax cross-entropy (1e-7 in the log) + the weight-decay term."""
        what = f"{type(self).__name__}.loss"
        check_batch(what, x)
        return (F_.softmax_cross_entropy(self.scores(x, train_flg), t, self.loss_delta,
                                         self.loss_grad, what=what)
                + self.weight_decay())

    # --- accuracy -----------------------------------------------------------------------------

    @torch.no_grad()
    def predict_labels(self, x: torch.Tensor, batch_size: int = 100) -> torch.Tensor:
        """(N,) argmax class of every sample, predicted in test mode ``batch_size`` at a time."""
        if x.dim() == 1:  # one sample
            x = x[None]
        return torch.cat([self.predict(x[i:i + batch_size]).argmax(dim=1)
                          for i in range(0, x.shape[0], batch_size)])

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, t: torch.Tensor, batch_size: int = 100) -> float:
        """Fraction of correct argmaxes of ``predict`` over every sample (none dropped), in
        test mode. Labels: (N,) indices or (N, C) one-hot."""
        what = f"{type(self).__name__}.accuracy"
        check_batch(what, x)
        y = self.predict_labels(x, batch_size)
        classes = list(self.book_params().values())[-1].shape[-1]  # the last parameter's width
        t = F_.class_labels(what, t, (len(y), classes))
        if t.dim() == 2:  # one-hot
            t = t.argmax(dim=1)
        return int((y == t.to(y.device)).sum()) / y.shape[0]

    # --- dropout and the built-in equivalent ---------------------------------------------------

    @property
    def dropout_layers(self) -> list[Dropout]:
        """The Dropout layers in order (empty when the network has none)."""
        return [m for m in self.layers.values() if isinstance(m, Dropout)]

    def use_masks(self, source) -> BookNetwork:
        """Every Dropout layer draws its masks from ``source``: a ``scratch.masks.MaskStream``
        (a seeded stream shared with a scratch twin, or ``MaskStream.replay`` of the masks a
        scratch run used) or a ``torch.Generator``."""
        for d in self.dropout_layers:
            d.generator = source
        return self

    def set_dropout_convention(self, convention: str) -> BookNetwork:
        """``"book"``: × (1 − ratio) at test, plain mask in training; ``"torch"``: inverted."""
        if convention not in ("book", "torch"):
            raise ValueError(f"convention must be 'book' or 'torch', got {convention!r}")
        for d in self.dropout_layers:
            d.inverted = convention == "torch"
        return self

    def to_builtin(self) -> nn.Sequential:
        """The same network from torch built-ins (each layer's ``to_builtin()``: ``nn.Linear``
        holding ``W.T``, ``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.BatchNorm1d``, ``nn.Dropout`` —
        PyTorch's inverted dropout), with ``nn.Flatten`` before the first Affine; in this
        network's mode."""
        if not self.layers:
            raise NotImplementedError(f"{type(self).__name__} has no layers to convert")
        out: list[nn.Module] = []
        flattened = False
        for layer in self.layers.values():
            if isinstance(layer, Affine) and not flattened:
                out.append(nn.Flatten())  # Affine flattens its input; nn.Linear does not
                flattened = True
            out.append(layer.to_builtin())
        return nn.Sequential(*out).train(self.training)
