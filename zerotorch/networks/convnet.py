"""ch7.5 SimpleConvNet and ch8.1 DeepConvNet as ``nn.Module``s with the book's parameters.

Both are ``zerotorch.networks.base.BookNetwork``s with the scratch twin's layer names:
``book_params()`` and ``state_dict()`` use the book's names (W1, b1, …) in the book's layouts;
``load_params`` copies a book params dict or file in (the published weight files load
unchanged). ``forward(x)`` returns the logits and follows ``self.training``; ``predict`` and
``loss`` take the book's ``train_flg``. ``net.to_builtin()`` builds the same network from torch
built-ins (``nn.Conv2d``, ``nn.MaxPool2d``, ``nn.Linear``, ``nn.Dropout``) for cross-checks and
benchmarks.

Test-time dropout: the book's (non-inverted) dropout multiplies by (1 − ratio) at test time;
``nn.Dropout`` is the identity there. ``DeepConvNet(inverted_dropout=True)`` (or
``set_dropout_convention("torch")``) switches to PyTorch's convention.
"""

from __future__ import annotations

import torch

from scratch.convnet import (
    DEEP_CONV_PARAMS,
    SIMPLE_CONV_PARAM,
    deep_convnet_shapes,
    simple_convnet_shapes,
)
from zerotorch.convolution import Convolution, Pooling
from zerotorch.networks.base import BookNetwork
from zerotorch.nn import Affine, Relu
from zerotorch.normalization import Dropout
from zerotorch.weight_init import init_weight


def _init(shapes: dict, weight_init_std, generator, dtype) -> dict[str, torch.Tensor]:
    return {k: init_weight(shape, weight_init_std, generator, dtype=dtype) if k.startswith("W")
            else torch.zeros(shape, dtype=dtype) for k, shape in shapes.items()}


class SimpleConvNet(BookNetwork):
    """ch7.5 Conv1 (30×5×5) → Relu1 → Pool1 (2×2) → Affine1 (100) → Relu2 → Affine2 (10).

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
        self._add("Conv1", Convolution(p["W1"], p["b1"], cp["stride"], cp["pad"]),
                  W="W1", b="b1")
        self._add("Relu1", Relu())
        self._add("Pool1", Pooling(2, 2, stride=2))
        self._add("Affine1", Affine(p["W2"], p["b2"]), W="W2", b="b2")
        self._add("Relu2", Relu())
        self._add("Affine2", Affine(p["W3"], p["b3"]), W="W3", b="b3")


class DeepConvNet(BookNetwork):
    """ch8.1.1 DeepConvNet with the book's layers, He init and (non-inverted) dropout:
    [Conv-Relu-Conv-Relu-Pool] ×3 → Affine1-Relu7-Dropout1 → Affine2-Dropout2 (scratch's names).

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
        for i, cp in enumerate(cps, start=1):
            self._add(f"Conv{i}", Convolution(p[f"W{i}"], p[f"b{i}"], cp["stride"], cp["pad"]),
                      W=f"W{i}", b=f"b{i}")
            self._add(f"Relu{i}", Relu())
            if i % 2 == 0:
                self._add(f"Pool{i // 2}", Pooling(2, 2, stride=2))
        drop_gen = dropout_generator if dropout_generator is not None else generator
        self._add("Affine1", Affine(p["W7"], p["b7"]), W="W7", b="b7")
        self._add("Relu7", Relu())
        self._add("Dropout1", Dropout(dropout_ratio, inverted=inverted_dropout,
                                      generator=drop_gen))
        self._add("Affine2", Affine(p["W8"], p["b8"]), W="W8", b="b8")
        self._add("Dropout2", Dropout(dropout_ratio, inverted=inverted_dropout,
                                      generator=drop_gen))
