"""ch3–ch5 networks: the ch3 three-layer net, ch4 ``SimpleNet`` and two-layer nets, ch5 layered net.

Names: the book has two classes called ``TwoLayerNet`` (ch4: sigmoid hidden layer, gradients
written out by hand; ch5: built from layers, ReLU). Both live here, so the ch4 one is
``TwoLayerNetCh4`` and the plain name ``TwoLayerNet`` is the ch5 one that every later chapter
(and the ch5 gradient check and trainer) uses.

Every network has ``params`` keyed like the book (``W1``, ``b1``, …), ``predict``, ``loss(x, t)``,
``accuracy(x, t)`` (over all of ``x``), ``gradient(x, t)`` and ``numerical_gradient(x, t)``.
Labels ``t`` are class indices (N,) or one-hot (N, C). Initial weights come from an explicit
``rng`` (a fresh unseeded generator when omitted; nothing seeds globally).
"""

from __future__ import annotations

import numpy as np

from scratch.book_network import BookNetwork, default_rng
from scratch.checks import check_batch
from scratch.functions import (
    cross_entropy_error,
    identity_function,
    sigmoid,
    sigmoid_grad,
    softmax,
)
from scratch.layers import Affine, Relu, SoftmaxWithLoss, softmax_loss_grad

# ch3.4.3: the hand-written 2-3-2-2 network of the book's forward-pass example.
CH3_EXAMPLE = {
    "W1": [[0.1, 0.3, 0.5], [0.2, 0.4, 0.6]], "b1": [0.1, 0.2, 0.3],
    "W2": [[0.1, 0.4], [0.2, 0.5], [0.3, 0.6]], "b2": [0.1, 0.2],
    "W3": [[0.1, 0.3], [0.2, 0.4]], "b3": [0.1, 0.2],
}


# --- ch3 ------------------------------------------------------------------------------------


def init_network(path=None) -> dict:
    """ch3.4.3 / ch3.6.1 the three-layer network's weights W1..W3, b1..b3.

    Without ``path``: the book's hand-written 2-3-2-2 example. With ``path``: the book's
    ``sample_weight.pkl`` (784-50-100-10, float32), read with the safe loader.
    """
    if path is None:
        return {k: np.array(v, dtype=np.float64) for k, v in CH3_EXAMPLE.items()}
    from scratch.io import load_params  # the restricted unpickler; never a bare pickle.load

    return load_params(path)


def _three_layers(network: dict, x):
    x = _flat(x)  # (N, 784) from (N, 1, 28, 28)
    z1 = sigmoid(x @ network["W1"] + network["b1"])
    z2 = sigmoid(z1 @ network["W2"] + network["b2"])
    return z2 @ network["W3"] + network["b3"]


def forward(network: dict, x):
    """ch3.4.3 forward pass with sigmoid hidden layers and the identity output."""
    return identity_function(_three_layers(network, x))


def predict(network: dict, x):
    """ch3.6.1 forward pass with sigmoid hidden layers and a softmax output (probabilities)."""
    return softmax(_three_layers(network, x))


# --- shared helpers ---------------------------------------------------------------------------


def _flat(x) -> np.ndarray:
    x = np.asarray(x)
    return x.reshape(x.shape[0], -1) if x.ndim > 2 else x  # (N, D) from (N, C, H, W)


def _two_layer_params(input_size, hidden_size, output_size, weight_init_std, rng) -> dict:
    """ch4.5.1 W1 (in, hidden), W2 (hidden, out) ~ N(0, std²), drawn in that order; b = 0."""
    return {
        "W1": weight_init_std * rng.standard_normal((input_size, hidden_size)),
        "b1": np.zeros(hidden_size),
        "W2": weight_init_std * rng.standard_normal((hidden_size, output_size)),
        "b2": np.zeros(output_size),
    }


# --- ch4 --------------------------------------------------------------------------------------


class SimpleNet(BookNetwork):
    """ch4.4.2 ``simpleNet``: one (2, 3) weight matrix, softmax and cross-entropy.

    ``params = {"W": W}``; ``net.W`` is the same array (the book's attribute).
    """

    def __init__(self, rng: np.random.Generator | None = None):
        self.params = {"W": default_rng(rng).standard_normal((2, 3))}

    @property
    def W(self):
        return self.params["W"]

    @W.setter
    def W(self, value):
        self.params["W"] = value

    def predict(self, x, train_flg=False):
        return np.asarray(x) @ self.W

    def loss(self, x, t, train_flg=False):
        what = f"{type(self).__name__}.loss"
        check_batch(what, x)
        return cross_entropy_error(softmax(self.predict(x)), t, what=what)

    def gradient(self, x, t) -> dict:
        """dL/dW = xᵀ(y − t)/N, a 1-D ``x`` being a batch of one."""
        x2 = np.atleast_2d(x)  # (N, 2)
        y = softmax(x2 @ self.W)  # (N, 3)
        return {"W": x2.T @ softmax_loss_grad(y, t)}


class TwoLayerNetCh4(BookNetwork):
    """ch4.5.1 two-layer net: Affine → sigmoid → Affine → softmax, gradients by hand.

    Args:
        input_size, hidden_size, output_size: layer widths.
        weight_init_std: weights ~ N(0, std²); biases start at 0.
        rng: the generator drawing the initial weights.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 weight_init_std: float = 0.01, rng: np.random.Generator | None = None):
        self.params = _two_layer_params(input_size, hidden_size, output_size,
                                        weight_init_std, default_rng(rng))

    def predict(self, x, train_flg=False):
        """Softmax probabilities (N, output_size), as the book's ch4 ``predict``."""
        x = _flat(x)
        a1 = x @ self.params["W1"] + self.params["b1"]
        a2 = sigmoid(a1) @ self.params["W2"] + self.params["b2"]
        return softmax(a2)

    def loss(self, x, t, train_flg=False):
        what = f"{type(self).__name__}.loss"
        check_batch(what, x)
        return cross_entropy_error(self.predict(x), t, what=what)

    def gradient(self, x, t) -> dict:
        """ch4.5.1 / ch5 the analytic gradient (backpropagation written out)."""
        W1, b1, W2, b2 = (self.params[k] for k in ("W1", "b1", "W2", "b2"))
        x = _flat(x)
        a1 = x @ W1 + b1  # (N, hidden)
        z1 = sigmoid(a1)
        y = softmax(z1 @ W2 + b2)  # (N, out)
        dy = softmax_loss_grad(y, t)
        da1 = (dy @ W2.T) * sigmoid_grad(a1)
        return {"W1": x.T @ da1, "b1": da1.sum(axis=0), "W2": z1.T @ dy, "b2": dy.sum(axis=0)}


# --- ch5 --------------------------------------------------------------------------------------


class TwoLayerNet(BookNetwork):
    """ch5.7.2 two-layer net built from layers: Affine1 → Relu1 → Affine2, SoftmaxWithLoss.

    Same constructor as the book (plus ``rng``). ``layers`` holds the layers in order,
    ``last_layer`` the loss layer. The Affine layers are re-pointed at ``params`` on every pass,
    so replacing an array in ``params`` (not only updating it in place) is safe.
    """

    _book_names = {"W1": ("Affine1", "W"), "b1": ("Affine1", "b"),
                   "W2": ("Affine2", "W"), "b2": ("Affine2", "b")}

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 weight_init_std: float = 0.01, rng: np.random.Generator | None = None):
        self.params = _two_layer_params(input_size, hidden_size, output_size,
                                        weight_init_std, default_rng(rng))
        self.layers = {
            "Affine1": Affine(self.params["W1"], self.params["b1"]),
            "Relu1": Relu(),
            "Affine2": Affine(self.params["W2"], self.params["b2"]),
        }
        self.last_layer = SoftmaxWithLoss()
