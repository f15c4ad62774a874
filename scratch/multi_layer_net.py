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

from scratch.checks import check_batch, class_labels
from scratch.gradient import numerical_gradient
from scratch.layers import Affine, Relu, Sigmoid, SoftmaxWithLoss
from scratch.normalization import BatchNormalization, Dropout
from scratch.two_layer_net import accuracy_of
from scratch.weight_init import init_std

ACTIVATIONS = {"sigmoid": Sigmoid, "relu": Relu}


class MultiLayerNet:
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
        self.rng = rng if rng is not None else np.random.default_rng()
        self.input_size = input_size
        self.hidden_size_list = list(hidden_size_list)
        self.hidden_layer_num = len(self.hidden_size_list)
        self.output_size = output_size
        self.activation = activation
        self.weight_decay_lambda = weight_decay_lambda
        self.params = {}
        self._init_weight(weight_init_std)
        self._build_layers()

    @property
    def n_affine(self) -> int:
        return self.hidden_layer_num + 1

    def _init_weight(self, weight_init_std):
        sizes = [self.input_size, *self.hidden_size_list, self.output_size]
        for i in range(1, len(sizes)):
            std = init_std(weight_init_std, sizes[i - 1])  # fan_in = width of the layer below
            self.params[f"W{i}"] = std * self.rng.standard_normal((sizes[i - 1], sizes[i]))
            self.params[f"b{i}"] = np.zeros(sizes[i])
            if self.use_batchnorm and i < len(sizes) - 1:
                self.params[f"gamma{i}"] = np.ones(sizes[i])
                self.params[f"beta{i}"] = np.zeros(sizes[i])

    def _build_layers(self):
        self.layers = {}
        for i in range(1, self.n_affine + 1):
            self.layers[f"Affine{i}"] = Affine(self.params[f"W{i}"], self.params[f"b{i}"])
            if i == self.n_affine:
                break
            if self.use_batchnorm:
                self.layers[f"BatchNorm{i}"] = BatchNormalization(
                    self.params[f"gamma{i}"], self.params[f"beta{i}"])
            self.layers[f"Activation_function{i}"] = ACTIVATIONS[self.activation]()
            if self.use_dropout:
                self.layers[f"Dropout{i}"] = Dropout(self.dropout_ratio, rng=self.rng)
        self.last_layer = SoftmaxWithLoss()

    def _sync(self):
        """Point the layers at the arrays now in ``params`` (safe if an array was replaced)."""
        for i in range(1, self.n_affine + 1):
            self.layers[f"Affine{i}"].W = self.params[f"W{i}"]
            self.layers[f"Affine{i}"].b = self.params[f"b{i}"]
            if f"BatchNorm{i}" in self.layers:
                self.layers[f"BatchNorm{i}"].gamma = self.params[f"gamma{i}"]
                self.layers[f"BatchNorm{i}"].beta = self.params[f"beta{i}"]

    def predict(self, x, train_flg=False):
        """Scores before the softmax (N, output_size)."""
        self._sync()
        for layer in self.layers.values():
            if isinstance(layer, BatchNormalization | Dropout):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def weight_decay(self) -> float:
        """0.5·λ·ΣW² over the weights W1..W{L} (no biases, no γ/β)."""
        return sum(0.5 * self.weight_decay_lambda * np.sum(self.params[f"W{i}"] ** 2)
                   for i in range(1, self.n_affine + 1))

    def loss(self, x, t, train_flg=False):
        """Mean cross-entropy of the softmax + the weight-decay term."""
        check_batch(f"{type(self).__name__}.loss", x)
        scores = self.predict(x, train_flg)
        class_labels(f"{type(self).__name__}.loss", t, np.shape(scores))
        return self.last_layer.forward(scores, t) + self.weight_decay()

    def accuracy(self, x, t) -> float:
        """Fraction of correct argmaxes over every sample (test mode; indices or one-hot)."""
        check_batch(f"{type(self).__name__}.accuracy", x)
        return accuracy_of(self.predict(x, train_flg=False), t, f"{type(self).__name__}.accuracy")

    @property
    def dropout_layers(self) -> list[Dropout]:
        """The Dropout layers in order (empty unless ``use_dropout``), as ``DeepConvNet``'s."""
        return [m for m in self.layers.values() if isinstance(m, Dropout)]

    def numerical_gradient(self, x, t) -> dict:
        """Every parameter's gradient by central differences (h = 1e-4, the book's), in
        training mode like ``gradient`` (no effect without BN or dropout)."""
        loss = lambda _w: self.loss(x, t, train_flg=True)
        return {k: numerical_gradient(loss, v) for k, v in self.params.items()}

    def gradient(self, x, t) -> dict:
        """Backpropagation (training mode): every parameter's gradient, dW including λ·W."""
        self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        grads = {}
        lam = self.weight_decay_lambda
        for i in range(1, self.n_affine + 1):
            affine = self.layers[f"Affine{i}"]
            grads[f"W{i}"] = affine.dW + lam * self.params[f"W{i}"]
            grads[f"b{i}"] = affine.db
            if f"BatchNorm{i}" in self.layers:
                grads[f"gamma{i}"] = self.layers[f"BatchNorm{i}"].dgamma
                grads[f"beta{i}"] = self.layers[f"BatchNorm{i}"].dbeta
        return grads


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
