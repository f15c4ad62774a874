"""ch7.5 SimpleConvNet and ch8.1 DeepConvNet as ``nn.Module``s with the book's parameters.

``book_params()`` maps the book's names (W1, b1, …) to this module's ``nn.Parameter``s in the
book's layouts; ``load_params(dict)`` copies a book params dict in (the published weight files
load unchanged). ``forward(x)`` returns the logits and follows ``self.training``; ``predict`` and
``loss`` take the book's ``train_flg``. ``to_builtin(net)`` builds the same network from torch
built-ins (``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.Linear``, ``nn.Dropout``) for cross-checks and
benchmarks.

Test-time dropout: the book's (non-inverted) dropout multiplies by (1 − ratio) at test time;
``nn.Dropout`` is the identity there. ``DeepConvNet(inverted_dropout=True)`` (or
``set_dropout_convention("torch")``) switches to PyTorch's convention.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from scratch.checks import check_batch
from scratch.convnet import (
    DEEP_CONV_PARAMS,
    SIMPLE_CONV_PARAM,
    deep_convnet_shapes,
    simple_convnet_shapes,
)
from zerotorch import functional as F_
from zerotorch.convolution import Convolution, Pooling
from zerotorch.nn import Affine, Relu
from zerotorch.normalization import Dropout
from zerotorch.weight_init import init_weight


def _init(shapes: dict, weight_init_std, generator, dtype) -> dict[str, torch.Tensor]:
    return {k: init_weight(shape, weight_init_std, generator, dtype=dtype) if k.startswith("W")
            else torch.zeros(shape, dtype=dtype) for k, shape in shapes.items()}


class _ConvNetBase(nn.Module):
    """Shared book API on top of ``forward``."""

    # The loss's cross-entropy, as ``BookNetwork``'s (the book's 1e-7 and backward by default).
    loss_delta: float = F_.CROSS_ENTROPY_DELTA
    loss_grad: str = "book"
    _bindings: dict[str, tuple[str, str]]  # submodule path -> (W key, b key)

    def book_params(self) -> dict[str, nn.Parameter]:
        """The book's names → parameters (W1, b1, …), in the book's layouts."""
        out = {}
        for name, (wk, bk) in self._bindings.items():
            module = self.get_submodule(name)
            out[wk], out[bk] = module.W, module.b
        return dict(sorted(out.items(), key=lambda kv: (int(kv[0][1:]), kv[0][0] == "b")))

    @torch.no_grad()
    def load_params(self, params="params.pkl"):
        """Copy a book params dict (NumPy arrays or tensors), or a ``.pkl``/``.npz`` file read
        by the safe loader ``scratch.io.load_params``, into the parameters."""
        if not isinstance(params, dict):
            from scratch.io import load_params

            params = load_params(params)
        mine = self.book_params()
        missing = sorted(set(mine) - set(params))
        if missing:
            raise KeyError(f"params lack {missing}; got keys {sorted(params)}")
        for k, p in mine.items():
            value = torch.as_tensor(np.asarray(params[k]) if not torch.is_tensor(params[k])
                                    else params[k])
            if tuple(value.shape) != tuple(p.shape):
                raise ValueError(f"{k}: got shape {tuple(value.shape)}, expected "
                                 f"{tuple(p.shape)}")
            p.copy_(value.to(dtype=p.dtype, device=p.device))
        return self

    def save_params(self, file_name="params.pkl"):
        """Save ``book_params()`` as NumPy arrays (``.pkl`` like the book, or ``.npz``)."""
        from scratch.io import save_params

        return save_params({k: p.detach().cpu().numpy() for k, p in self.book_params().items()},
                           file_name)

    def predict(self, x: torch.Tensor, train_flg: bool = False) -> torch.Tensor:
        """Logits with dropout in training (``train_flg``) or test mode, like the book."""
        was = self.training
        self.train(train_flg)
        try:
            return self(x)
        finally:
            self.train(was)

    def loss(self, x: torch.Tensor, t: torch.Tensor, train_flg: bool = False) -> torch.Tensor:
        """The book's mean softmax cross-entropy (1e-7 in the log) of ``predict(x)``."""
        check_batch(f"{type(self).__name__}.loss", x)
        return F_.softmax_cross_entropy(self.predict(x, train_flg), t, self.loss_delta,
                                        self.loss_grad, what=f"{type(self).__name__}.loss")

    @torch.no_grad()
    def predict_labels(self, x: torch.Tensor, batch_size: int = 100) -> torch.Tensor:
        """(N,) argmax class of every sample, predicted in test mode ``batch_size`` at a time."""
        return torch.cat([self.predict(x[i:i + batch_size], train_flg=False).argmax(dim=1)
                          for i in range(0, x.shape[0], batch_size)])

    @torch.no_grad()
    def accuracy(self, x: torch.Tensor, t: torch.Tensor, batch_size: int = 100) -> float:
        """ch7.5 Fraction of correct argmax predictions over all N samples (test mode)."""
        check_batch(f"{type(self).__name__}.accuracy", x)
        classes = self.get_submodule(list(self._bindings)[-1]).b.shape[0]  # the last bias
        t = F_.class_labels(f"{type(self).__name__}.accuracy", t, (len(x), classes))
        if t.dim() == 2:  # one-hot
            t = t.argmax(dim=1)
        return int((self.predict_labels(x, batch_size) == t.to(x.device)).sum()) / x.shape[0]


class SimpleConvNet(_ConvNetBase):
    """ch7.5 conv(30×5×5) → ReLU → pool 2×2 → Affine(100) → ReLU → Affine(10).

    Same arguments as ``scratch.convnet.SimpleConvNet`` with ``generator`` (a
    ``torch.Generator``) for ``rng`` and a torch ``dtype``.
    """

    def __init__(self, input_dim=(1, 28, 28), conv_param=None, hidden_size=100, output_size=10,
                 weight_init_std=0.01, generator: torch.Generator | None = None,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        cp = {**SIMPLE_CONV_PARAM, **(conv_param or {})}
        p = _init(simple_convnet_shapes(input_dim, cp, hidden_size, output_size),
                  weight_init_std, generator, dtype)
        self.conv1 = Convolution(p["W1"], p["b1"], cp["stride"], cp["pad"])
        self.relu1 = Relu()
        self.pool1 = Pooling(2, 2, stride=2)
        self.affine1 = Affine(p["W2"], p["b2"])
        self.relu2 = Relu()
        self.affine2 = Affine(p["W3"], p["b3"])
        self._bindings = {"conv1": ("W1", "b1"), "affine1": ("W2", "b2"),
                          "affine2": ("W3", "b3")}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.conv1(x)))  # (N, FN, oh/2, ow/2)
        return self.affine2(self.relu2(self.affine1(x)))  # (N, output_size)


class DeepConvNet(_ConvNetBase):
    """ch8.1.1 DeepConvNet with the book's layers, He init and (non-inverted) dropout.

    Same arguments as ``scratch.convnet.DeepConvNet`` with ``generator`` for the weights and
    the dropout masks, a torch ``dtype``, and ``inverted_dropout`` (PyTorch's convention).
    """

    def __init__(self, input_dim=(1, 28, 28), conv_param_1=None, conv_param_2=None,
                 conv_param_3=None, conv_param_4=None, conv_param_5=None, conv_param_6=None,
                 hidden_size=50, output_size=10, dropout_ratio=0.5,
                 generator: torch.Generator | None = None, dropout_generator=None,
                 dtype: torch.dtype = torch.float32, inverted_dropout: bool = False):
        super().__init__()
        given = (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5,
                 conv_param_6)
        cps = [{**d, **(g or {})} for d, g in zip(DEEP_CONV_PARAMS, given, strict=True)]
        p = _init(deep_convnet_shapes(input_dim, cps, hidden_size, output_size),
                  "he", generator, dtype)
        self._bindings = {}
        self.features = nn.Sequential()
        for i, cp in enumerate(cps, start=1):
            self._bindings[f"features.{len(self.features)}"] = (f"W{i}", f"b{i}")
            self.features.append(Convolution(p[f"W{i}"], p[f"b{i}"], cp["stride"], cp["pad"]))
            self.features.append(Relu())
            if i % 2 == 0:
                self.features.append(Pooling(2, 2, stride=2))
        drop_gen = dropout_generator if dropout_generator is not None else generator
        self.affine1 = Affine(p["W7"], p["b7"])
        self.relu7 = Relu()
        self.dropout1 = Dropout(dropout_ratio, inverted=inverted_dropout, generator=drop_gen)
        self.affine2 = Affine(p["W8"], p["b8"])
        self.dropout2 = Dropout(dropout_ratio, inverted=inverted_dropout, generator=drop_gen)
        self._bindings["affine1"] = ("W7", "b7")
        self._bindings["affine2"] = ("W8", "b8")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)  # (N, 64, 4, 4) for 28×28 input
        x = self.dropout1(self.relu7(self.affine1(x)))  # (N, hidden)
        return self.dropout2(self.affine2(x))  # (N, output_size)

    @property
    def dropout_layers(self) -> list[Dropout]:
        return [self.dropout1, self.dropout2]

    def set_dropout_convention(self, convention: str):
        """``"book"``: × (1 − ratio) at test, plain mask in training; ``"torch"``: inverted."""
        if convention not in ("book", "torch"):
            raise ValueError(f"convention must be 'book' or 'torch', got {convention!r}")
        for d in self.dropout_layers:
            d.inverted = convention == "torch"
        return self

    def inject_masks(self, masks) -> None:
        """Use these keep-masks (one per dropout layer, e.g. the scratch net's) next forward."""
        for d, m in zip(self.dropout_layers, masks, strict=True):
            d.next_mask = torch.as_tensor(np.asarray(m) if not torch.is_tensor(m) else m)


def to_builtin(net: _ConvNetBase) -> nn.Sequential:
    """ch7.5 / ch8.1.1 The same network from torch built-ins, weights copied.

    ``nn.Conv2d.weight = W``, ``nn.Linear.weight = W.T``.

    DeepConvNet's ``nn.Dropout`` layers are PyTorch's inverted dropout (eval: identity).
    """
    layers: list[nn.Module] = []
    mods = net.features if isinstance(net, DeepConvNet) else [net.conv1, net.relu1, net.pool1]
    for m in mods:
        if isinstance(m, Convolution):
            fn, c, fh, fw = m.W.shape
            conv = nn.Conv2d(c, fn, (fh, fw), stride=m.stride, padding=m.pad,
                             dtype=m.W.dtype, device=m.W.device)
            with torch.no_grad():
                conv.weight.copy_(m.W)
                conv.bias.copy_(m.b)
            layers.append(conv)
        elif isinstance(m, Pooling):
            layers.append(nn.MaxPool2d((m.pool_h, m.pool_w), m.stride))
        else:
            layers.append(nn.ReLU())
    layers.append(nn.Flatten())

    def linear(a: Affine) -> nn.Linear:
        lin = nn.Linear(*a.W.shape, dtype=a.W.dtype, device=a.W.device)
        with torch.no_grad():
            lin.weight.copy_(a.W.T)
            lin.bias.copy_(a.b)
        return lin

    if isinstance(net, DeepConvNet):
        layers += [linear(net.affine1), nn.ReLU(), nn.Dropout(net.dropout1.dropout_ratio),
                   linear(net.affine2), nn.Dropout(net.dropout2.dropout_ratio)]
    else:
        layers += [linear(net.affine1), nn.ReLU(), linear(net.affine2)]
    return nn.Sequential(*layers).train(net.training)
