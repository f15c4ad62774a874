"""ch7.5 SimpleConvNet and ch8.1 DeepConvNet, NumPy only (the book's ``ch07``/``ch08`` nets).

Both keep ``params`` (W1, b1, …) in the book's layouts, so the published weight files load
unchanged, and compute in the dtype of those parameters and of the input (float32 stays
float32). Differences from the book's code: ``accuracy`` counts every sample (the book drops the
last N % batch_size and still divides by N); randomness comes from an explicit ``rng``;
``loss``/``predict`` default to test mode and ``gradient`` uses training mode.
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from scratch.book_network import BookNetwork, default_rng
from scratch.convolution import Convolution, Pooling
from scratch.layers import Affine, Relu, SoftmaxWithLoss
from scratch.normalization import Dropout
from scratch.util import conv_output_size
from scratch.weight_init import init_weight

SIMPLE_CONV_PARAM = {"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1}
DEEP_CONV_PARAMS = (
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 32, "filter_size": 3, "pad": 2, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
    {"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},
)


def simple_convnet_shapes(input_dim=(1, 28, 28), conv_param=None, hidden_size=100,
                          output_size=10) -> dict[str, tuple[int, ...]]:
    """ch7.5 Parameter shapes of ``SimpleConvNet``.

    W1 (FN, C, FS, FS), b1 (FN,), W2 (FN·ph·pw, hidden), b2, W3 (hidden, output), b3.
    """
    cp = {**SIMPLE_CONV_PARAM, **(conv_param or {})}
    c, h, w = input_dim
    fn, fs = cp["filter_num"], cp["filter_size"]
    oh = conv_output_size(h, fs, cp["stride"], cp["pad"])
    ow = conv_output_size(w, fs, cp["stride"], cp["pad"])
    pooled = fn * conv_output_size(oh, 2, 2) * conv_output_size(ow, 2, 2)
    return {"W1": (fn, c, fs, fs), "b1": (fn,), "W2": (pooled, hidden_size),
            "b2": (hidden_size,), "W3": (hidden_size, output_size), "b3": (output_size,)}


def deep_convnet_shapes(input_dim=(1, 28, 28), conv_params=DEEP_CONV_PARAMS, hidden_size=50,
                        output_size=10) -> dict[str, tuple[int, ...]]:
    """ch8.1.1 Parameter shapes of ``DeepConvNet``.

    Six convolutions W1..W6 (a 2×2 pool after each pair), then W7 (flat, hidden), W8.
    """
    c, h, w = input_dim
    shapes = {}
    for i, cp in enumerate(conv_params, start=1):
        fn, fs = cp["filter_num"], cp["filter_size"]
        shapes[f"W{i}"], shapes[f"b{i}"] = (fn, c, fs, fs), (fn,)
        h = conv_output_size(h, fs, cp["stride"], cp["pad"])
        w = conv_output_size(w, fs, cp["stride"], cp["pad"])
        if i % 2 == 0:
            h, w = conv_output_size(h, 2, 2), conv_output_size(w, 2, 2)
        c = fn
    shapes["W7"], shapes["b7"] = (c * h * w, hidden_size), (hidden_size,)
    shapes["W8"], shapes["b8"] = (hidden_size, output_size), (output_size,)
    return shapes


def _table(layers: dict[str, int]) -> dict[str, tuple[str, str]]:
    """The book keys of layers numbered like ``{"Conv1": 1, "Affine1": 2}``: W2 → Affine1.W."""
    return {f"{attr}{i}": (name, attr) for name, i in layers.items() for attr in ("W", "b")}


def _params(shapes: dict, weight_init_std, rng, dtype) -> dict[str, np.ndarray]:
    """Weights drawn in key order (W1 first), biases 0, all in ``dtype``."""
    return {k: (init_weight(shape, weight_init_std, rng) if k.startswith("W")
                else np.zeros(shape)).astype(dtype) for k, shape in shapes.items()}


class SimpleConvNet(BookNetwork):
    """ch7.5 conv(30×5×5) → ReLU → pool 2×2 → Affine(100) → ReLU → Affine(10) → softmax.

    Args:
        input_dim: (C, H, W). conv_param: filter_num, filter_size, pad, stride (missing keys take
            the book's defaults). weight_init_std: std of the normal weights, or a ch6 name
            ('he', 'xavier'; see ``scratch.weight_init``); biases are 0.
        rng: ``numpy.random.Generator`` for the initial weights (fresh if ``None``).
        dtype: parameter dtype (the book's float64 by default).
    """

    def __init__(self, input_dim=(1, 28, 28), conv_param=None, hidden_size=100, output_size=10,
                 weight_init_std=0.01, rng=None, dtype=np.float64):
        cp = {**SIMPLE_CONV_PARAM, **(conv_param or {})}
        self.params = p = _params(simple_convnet_shapes(input_dim, cp, hidden_size, output_size),
                                  weight_init_std, default_rng(rng), dtype)
        self.layers = OrderedDict()
        self.layers["Conv1"] = Convolution(p["W1"], p["b1"], cp["stride"], cp["pad"])
        self.layers["Conv1"].input_grad = False  # d(loss)/d(image) is never used
        self.layers["Relu1"] = Relu()
        self.layers["Pool1"] = Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Affine1"] = Affine(p["W2"], p["b2"])
        self.layers["Relu2"] = Relu()
        self.layers["Affine2"] = Affine(p["W3"], p["b3"])
        self.last_layer = SoftmaxWithLoss()
        self._book_names = _table({"Conv1": 1, "Affine1": 2, "Affine2": 3})


class DeepConvNet(BookNetwork):
    """ch8.1.1 DeepConvNet: [conv-ReLU-conv-ReLU-pool] ×3 → Affine-ReLU-Dropout → Affine-Dropout.

    Six 3×3 convolutions (16, 16, 32, 32, 64, 64 filters; pad 1 except conv 4's pad 2), He
    initialisation (std √(2/fan_in)), dropout 0.5 after the hidden Affine and on the logits (the
    book's non-inverted dropout: × (1 − ratio) at test time).

    Args:
        conv_param_1 … conv_param_6: like the book's (``None`` = the book's default).
        rng: generator for the weights and, unless ``dropout_rng`` is given, the dropout masks.
    """

    def __init__(self, input_dim=(1, 28, 28), conv_param_1=None, conv_param_2=None,
                 conv_param_3=None, conv_param_4=None, conv_param_5=None, conv_param_6=None,
                 hidden_size=50, output_size=10, dropout_ratio=0.5, rng=None, dropout_rng=None,
                 dtype=np.float64):
        rng = default_rng(rng)
        given = (conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5,
                 conv_param_6)
        cps = [{**d, **(g or {})} for d, g in zip(DEEP_CONV_PARAMS, given, strict=True)]
        self.params = p = _params(deep_convnet_shapes(input_dim, cps, hidden_size, output_size),
                                  "he", rng, dtype)
        drop_rng = dropout_rng if dropout_rng is not None else rng
        self.layers = OrderedDict()
        for i, cp in enumerate(cps, start=1):
            self.layers[f"Conv{i}"] = Convolution(p[f"W{i}"], p[f"b{i}"], cp["stride"], cp["pad"])
            self.layers[f"Relu{i}"] = Relu()
            if i % 2 == 0:
                self.layers[f"Pool{i // 2}"] = Pooling(pool_h=2, pool_w=2, stride=2)
        self.layers["Conv1"].input_grad = False  # d(loss)/d(image) is never used
        self.layers["Affine1"] = Affine(p["W7"], p["b7"])
        self.layers["Relu7"] = Relu()
        self.layers["Dropout1"] = Dropout(dropout_ratio, rng=drop_rng)
        self.layers["Affine2"] = Affine(p["W8"], p["b8"])
        self.layers["Dropout2"] = Dropout(dropout_ratio, rng=drop_rng)
        self.last_layer = SoftmaxWithLoss()
        self._book_names = _table({**{f"Conv{i}": i for i in range(1, 7)},
                                   "Affine1": 7, "Affine2": 8})

