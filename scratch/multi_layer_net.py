"""ch6 fully connected multi-layer nets: ``MultiLayerNet`` and ``MultiLayerNetExtend``.

Layer order (the book's): Affine1 → [BatchNorm1] → Activation_function1 → [Dropout1] → … →
Affine{L}, loss = SoftmaxWithLoss, with L = len(hidden_size_list) + 1. ``params`` holds
``W1``/``b1`` … ``W{L}``/``b{L}`` (and ``gamma{i}``/``beta{i}`` for each hidden layer with
batch norm). The weight decay (ch6.4.1) adds 0.5·λ·ΣW² over the weights only to the loss and
λ·W to each dW.

``predict``/``loss`` default to ``train_flg=False`` (BN running statistics, dropout scaled by
1 − ratio); ``gradient`` and ``numerical_gradient`` run in training mode (with dropout the
latter is only meaningful when every loss call draws the same mask: give the Dropout layers an
``rng`` that repeats its draws, as the tests do).
"""

from __future__ import annotations

import warnings

import numpy as np

from scratch.book_network import BookNetwork, default_rng
from scratch.layers import Affine, Relu, Sigmoid, SoftmaxWithLoss
from scratch.normalization import BatchNormalization, Dropout
from scratch.weight_init import init_std

ACTIVATIONS = {"sigmoid": Sigmoid, "relu": Relu}


class MultiLayerNet(BookNetwork):
    """ch6.2.4 / ch6.4.1 a fully connected net with a choice of activation, init and decay.

    Args:
        input_size: inputs per sample (784 for MNIST).
        hidden_size_list: widths of the hidden layers, e.g. [100, 100, 100].
        output_size: number of classes.
        activation: ``'relu'`` or ``'sigmoid'``.
        weight_init_std: a number, ``'relu'``/``'he'`` (√(2/fan_in)) or
            ``'sigmoid'``/``'xavier'`` (√(1/fan_in)); biases start at 0.
        weight_decay_lambda: λ of the L2 weight decay (weights only).
        rng: ``numpy.random.Generator`` for the weights (and the dropout masks in the Extend
            net); a fresh unseeded one when ``None``.
    """

    use_batchnorm = False
    use_dropout = False

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0, rng=None):
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, "
                             f"got {activation!r}")
        self.rng = default_rng(rng)
        self.input_size = input_size
        self.hidden_size_list = list(hidden_size_list)
        self.hidden_layer_num = len(self.hidden_size_list)
        self.output_size = output_size
        self.activation = activation
        self.weight_decay_lambda = weight_decay_lambda
        self.params = {}
        self.layers = {}
        self._book_names = {}
        sizes = [input_size, *self.hidden_size_list, output_size]
        for i in range(1, len(sizes)):
            std = init_std(weight_init_std, sizes[i - 1])  # fan_in = width of the layer below
            self._add(f"Affine{i}", Affine, W=(f"W{i}", std * self.rng.standard_normal(
                (sizes[i - 1], sizes[i]))), b=(f"b{i}", np.zeros(sizes[i])))
            if i == len(sizes) - 1:
                break
            if self.use_batchnorm:
                self._add(f"BatchNorm{i}", BatchNormalization,
                          gamma=(f"gamma{i}", np.ones(sizes[i])),
                          beta=(f"beta{i}", np.zeros(sizes[i])))
            self.layers[f"Activation_function{i}"] = ACTIVATIONS[activation]()
            if self.use_dropout:
                self.layers[f"Dropout{i}"] = Dropout(self.dropout_ratio, rng=self.rng)
        self.last_layer = SoftmaxWithLoss()

    def _add(self, name, cls, **entries):
        """Add layer ``name`` = ``cls(**values)``, each attribute's array entered in ``params``
        under its book key (``W=("W1", array)``) and in the table of book names."""
        for attr, (key, value) in entries.items():
            self.params[key] = value
            self._book_names[key] = (name, attr)
        self.layers[name] = cls(*(value for _, value in entries.values()))

    @property
    def n_affine(self) -> int:
        return self.hidden_layer_num + 1



class MultiLayerNetExtend(MultiLayerNet):
    """ch6.3.2 / ch6.4.3 ``MultiLayerNet`` with optional Batch Normalization and Dropout.

    Args (besides ``MultiLayerNet``'s):
        use_dropout: a Dropout layer after each hidden activation.
        dropout_ratio: its drop probability. The book spells it ``dropout_ration``; that name
            is accepted as a deprecated alias.
        use_batchnorm: a BatchNormalization layer (γ = 1, β = 0) after each hidden Affine.
    """

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0, use_dropout=False,
                 dropout_ratio=0.5, use_batchnorm=False, rng=None, **kwargs):
        if "dropout_ration" in kwargs:
            warnings.warn("dropout_ration is the book's misspelling; use dropout_ratio",
                          DeprecationWarning, stacklevel=2)
            dropout_ratio = kwargs.pop("dropout_ration")
        if kwargs:
            raise TypeError(f"unexpected keyword arguments {sorted(kwargs)}")
        self.use_dropout = use_dropout
        self.dropout_ratio = dropout_ratio
        self.use_batchnorm = use_batchnorm
        super().__init__(input_size, hidden_size_list, output_size, activation,
                         weight_init_std, weight_decay_lambda, rng)
