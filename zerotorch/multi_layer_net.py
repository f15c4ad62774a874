"""ch6 ``MultiLayerNet`` and ``MultiLayerNetExtend`` as ``nn.Module``s, mirroring scratch.

Same names and arguments as ``scratch.multi_layer_net`` (``generator``/``dtype`` instead of
``rng``). The layers live in ``self.layers``, an ``nn.ModuleDict`` with the book's layer names
(``Affine1``, ``BatchNorm1``, ``Activation_function1``, ``Dropout1``, …), so ``state_dict`` keys
read ``layers.Affine1.W``; ``book_params()`` maps the book's keys (``W1``, ``gamma1``, …) to the
parameters and ``load_params(dict)`` copies a book params dict in.

- ``forward(x)``: scores, BN/Dropout following ``self.training`` (the PyTorch way);
- ``predict(x, train_flg=False)``/``loss(x, t, train_flg=False)``: the book's calls, which run in
  the requested mode whatever ``self.training`` is;
- ``loss`` includes the book's weight-decay term 0.5·λ·ΣW² (weights only), so autograd adds
  λ·W to each dW. With ``weight_decay_lambda=0`` the same decay is an optimizer option:
  ``zerotorch.optim.book_param_groups(model, λ)``.
- Dropout masks can be injected per layer (``model.layers["Dropout1"].next_mask = mask``) to
  replay a scratch run exactly.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from scratch.checks import check_batch
from zerotorch import functional as F_
from zerotorch.nn import Affine, Relu, Sigmoid
from zerotorch.normalization import BatchNormalization, Dropout
from zerotorch.two_layer_net import BookNetwork
from zerotorch.weight_init import init_std

ACTIVATIONS = {"sigmoid": Sigmoid, "relu": Relu}


class MultiLayerNet(BookNetwork):
    """ch6.2.4 / ch6.4.1 fully connected net: Affine → activation, …, Affine (→ softmax loss).

    Args: as ``scratch.multi_layer_net.MultiLayerNet``; ``generator`` draws the weights (and the
    Extend net's dropout masks), ``dtype`` is the parameters' dtype (default: torch's).
    """

    use_batchnorm = False
    use_dropout = False

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0,
                 generator: torch.Generator | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, "
                             f"got {activation!r}")
        self.input_size = input_size
        self.hidden_size_list = list(hidden_size_list)
        self.hidden_layer_num = len(self.hidden_size_list)
        self.output_size = output_size
        self.activation = activation
        self.weight_decay_lambda = weight_decay_lambda
        dtype = dtype or torch.get_default_dtype()
        sizes = [input_size, *self.hidden_size_list, output_size]
        self.layers = nn.ModuleDict()
        self._book_names: dict[str, tuple[str, str]] = {}
        for i in range(1, len(sizes)):
            std = init_std(weight_init_std, sizes[i - 1])
            W = std * torch.randn(sizes[i - 1], sizes[i], generator=generator, dtype=dtype)
            self.layers[f"Affine{i}"] = Affine(W, torch.zeros(sizes[i], dtype=dtype))
            self._book_names[f"W{i}"] = (f"Affine{i}", "W")
            self._book_names[f"b{i}"] = (f"Affine{i}", "b")
            if i == len(sizes) - 1:
                break
            if self.use_batchnorm:
                self.layers[f"BatchNorm{i}"] = BatchNormalization(
                    torch.ones(sizes[i], dtype=dtype), torch.zeros(sizes[i], dtype=dtype))
                self._book_names[f"gamma{i}"] = (f"BatchNorm{i}", "gamma")
                self._book_names[f"beta{i}"] = (f"BatchNorm{i}", "beta")
            self.layers[f"Activation_function{i}"] = ACTIVATIONS[activation]()
            if self.use_dropout:
                self.layers[f"Dropout{i}"] = Dropout(self.dropout_ratio, generator=generator)

    def book_params(self) -> dict[str, nn.Parameter]:
        """The parameters keyed like the book's ``params`` (W1, b1, gamma1, beta1, …)."""
        return {k: getattr(self.layers[layer], attr)
                for k, (layer, attr) in self._book_names.items()}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers.values():
            x = layer(x)
        return x

    def predict(self, x: torch.Tensor, train_flg: bool = False) -> torch.Tensor:
        """The book's ``predict``: scores with BN/Dropout in training mode iff ``train_flg``."""
        was_training = self.training
        self.train(train_flg)
        try:
            return self.forward(x)
        finally:
            self.train(was_training)

    def weight_decay(self) -> torch.Tensor:
        """0.5·λ·ΣW² over the weights W1..W{L} (no biases, no γ/β)."""
        params = self.book_params()
        return sum(0.5 * self.weight_decay_lambda * torch.sum(params[f"W{i}"] ** 2)
                   for i in range(1, self.hidden_layer_num + 2))

    def loss(self, x: torch.Tensor, t: torch.Tensor, train_flg: bool = False) -> torch.Tensor:
        """The book's loss: softmax cross-entropy (1e-7 in the log) + the weight-decay term."""
        check_batch(f"{type(self).__name__}.loss", x)
        return (F_.softmax_cross_entropy(self.predict(x, train_flg), t, self.loss_delta,
                                         self.loss_grad, what=f"{type(self).__name__}.loss")
                + self.weight_decay())

    @property
    def dropout_layers(self) -> list[Dropout]:
        """The Dropout layers in order (empty unless ``use_dropout``), as ``DeepConvNet``'s."""
        return [m for m in self.layers.values() if isinstance(m, Dropout)]


class MultiLayerNetExtend(MultiLayerNet):
    """ch6.3.2 / ch6.4.3 ``MultiLayerNet`` with optional BatchNormalization and Dropout.

    ``dropout_ratio`` is spelled correctly; the book's ``dropout_ration`` is accepted as a
    deprecated alias.
    """

    def __init__(self, input_size, hidden_size_list, output_size, activation="relu",
                 weight_init_std="relu", weight_decay_lambda=0, use_dropout=False,
                 dropout_ratio=0.5, use_batchnorm=False,
                 generator: torch.Generator | None = None, dtype: torch.dtype | None = None,
                 **kwargs):
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
                         weight_init_std, weight_decay_lambda, generator, dtype)
