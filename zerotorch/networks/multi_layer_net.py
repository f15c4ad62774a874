"""ch6 ``MultiLayerNet`` and ``MultiLayerNetExtend`` as ``nn.Module``s, mirroring scratch.

Same names and arguments as ``scratch.multi_layer_net`` (``generator``/``dtype`` instead of
``rng``). The layers live in ``self.layers``, an ``nn.ModuleDict`` with the book's layer names
(``Affine1``, ``BatchNorm1``, ``Activation_function1``, ``Dropout1``, …); ``state_dict`` keys and
``book_params()`` are the book's (``W1``, ``gamma1``, …) and ``load_params(dict)`` copies a book
params dict in (``zerotorch.networks.base.BookNetwork``).

- ``forward(x)``: scores, BN/Dropout following ``self.training`` (the PyTorch way);
- ``predict(x, train_flg=False)``/``loss(x, t, train_flg=False)``: the book's calls, which run in
  the requested mode whatever ``self.training`` is;
- ``loss`` includes the book's weight-decay term 0.5·λ·ΣW² (weights only), so autograd adds
  λ·W to each dW. With ``weight_decay_lambda=0`` the same decay is an optimizer option:
  ``zerotorch.optim.book_param_groups(model, λ)``.
"""

from __future__ import annotations

import warnings

import torch

from zerotorch.networks.base import BookNetwork
from zerotorch.nn import Affine, Relu, Sigmoid
from zerotorch.normalization import BatchNormalization, Dropout
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
        for i in range(1, len(sizes)):
            std = init_std(weight_init_std, sizes[i - 1])
            W = std * torch.randn(sizes[i - 1], sizes[i], generator=generator, dtype=dtype)
            self._add(f"Affine{i}", Affine(W, torch.zeros(sizes[i], dtype=dtype)),
                      W=f"W{i}", b=f"b{i}")
            if i == len(sizes) - 1:
                break
            if self.use_batchnorm:
                self._add(f"BatchNorm{i}", BatchNormalization(
                    torch.ones(sizes[i], dtype=dtype), torch.zeros(sizes[i], dtype=dtype)),
                    gamma=f"gamma{i}", beta=f"beta{i}")
            self._add(f"Activation_function{i}", ACTIVATIONS[activation]())
            if self.use_dropout:
                self._add(f"Dropout{i}", Dropout(self.dropout_ratio, generator=generator))


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
