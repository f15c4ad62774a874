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

from scratch.checks import check_batch, class_labels
from scratch.functions import (
    cross_entropy_error,
    identity_function,
    sigmoid,
    sigmoid_grad,
    softmax,
)
from scratch.gradient import numerical_gradient
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


def accuracy_of(scores, t, what: str = "accuracy") -> float:
    """ch3.6.2 accuracy: the fraction of rows whose argmax equals the label (none dropped).

    Args:
        scores: (N, C) scores or probabilities.
        t: (N,) class indices or (N, C) one-hot labels.
    """
    labels = class_labels(what, t, np.shape(scores))
    if labels.ndim == 2:  # one-hot
        labels = labels.argmax(axis=1)  # (N,)
    y = np.argmax(scores, axis=1)  # (N,)
    return float(np.sum(y == labels) / y.shape[0])


def _flat(x) -> np.ndarray:
    x = np.asarray(x)
    return x.reshape(x.shape[0], -1) if x.ndim > 2 else x  # (N, D) from (N, C, H, W)


def _default_rng(rng):
    return rng if rng is not None else np.random.default_rng()


def _two_layer_params(input_size, hidden_size, output_size, weight_init_std, rng) -> dict:
    """ch4.5.1 W1 (in, hidden), W2 (hidden, out) ~ N(0, std²), drawn in that order; b = 0."""
    return {
        "W1": weight_init_std * rng.standard_normal((input_size, hidden_size)),
        "b1": np.zeros(hidden_size),
        "W2": weight_init_std * rng.standard_normal((hidden_size, output_size)),
        "b2": np.zeros(output_size),
    }


# --- ch4 --------------------------------------------------------------------------------------


class SimpleNet:
    """ch4.4.2 ``simpleNet``: one (2, 3) weight matrix, softmax and cross-entropy.

    ``params = {"W": W}``; ``net.W`` is the same array (the book's attribute).
    """

    def __init__(self, rng: np.random.Generator | None = None):
        self.params = {"W": _default_rng(rng).standard_normal((2, 3))}

    @property
    def W(self):
        return self.params["W"]

    @W.setter
    def W(self, value):
        self.params["W"] = value

    def predict(self, x):
        return np.asarray(x) @ self.W

    def loss(self, x, t):
        check_batch(f"{type(self).__name__}.loss", x)
        scores = self.predict(x)
        class_labels(f"{type(self).__name__}.loss", t, np.shape(scores))
        return cross_entropy_error(softmax(scores), t)

    def accuracy(self, x, t) -> float:
        check_batch(f"{type(self).__name__}.accuracy", x)
        return accuracy_of(np.atleast_2d(self.predict(x)), t,  # a 1-D x is a batch of one
                           f"{type(self).__name__}.accuracy")

    def gradient(self, x, t) -> dict:
        """dL/dW = xᵀ(y − t)/N, a 1-D ``x`` being a batch of one."""
        x2 = np.atleast_2d(x)  # (N, 2)
        y = softmax(x2 @ self.W)  # (N, 3)
        return {"W": x2.T @ softmax_loss_grad(y, t)}

    def numerical_gradient(self, x, t) -> dict:
        return {"W": numerical_gradient(lambda _w: self.loss(x, t), self.W)}


class _TwoLayerBase:
    """What both two-layer nets share: ``params`` W1, b1, W2, b2 and the book's helpers."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 weight_init_std: float = 0.01, rng: np.random.Generator | None = None):
        self.params = _two_layer_params(input_size, hidden_size, output_size,
                                        weight_init_std, _default_rng(rng))

    def accuracy(self, x, t) -> float:
        check_batch(f"{type(self).__name__}.accuracy", x)
        return accuracy_of(self.predict(x), t, f"{type(self).__name__}.accuracy")

    def numerical_gradient(self, x, t) -> dict:
        """ch4.5.1 every parameter's gradient by central differences (slow: 2 losses a weight)."""
        loss = lambda _w: self.loss(x, t)
        return {k: numerical_gradient(loss, v) for k, v in self.params.items()}


class TwoLayerNetCh4(_TwoLayerBase):
    """ch4.5.1 two-layer net: Affine → sigmoid → Affine → softmax, gradients by hand.

    Args:
        input_size, hidden_size, output_size: layer widths.
        weight_init_std: weights ~ N(0, std²); biases start at 0.
        rng: the generator drawing the initial weights.
    """

    def predict(self, x):
        """Softmax probabilities (N, output_size), as the book's ch4 ``predict``."""
        x = _flat(x)
        a1 = x @ self.params["W1"] + self.params["b1"]
        a2 = sigmoid(a1) @ self.params["W2"] + self.params["b2"]
        return softmax(a2)

    def loss(self, x, t):
        check_batch(f"{type(self).__name__}.loss", x)
        y = self.predict(x)
        class_labels(f"{type(self).__name__}.loss", t, np.shape(y))
        return cross_entropy_error(y, t)

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


class TwoLayerNet(_TwoLayerBase):
    """ch5.7.2 two-layer net built from layers: Affine1 → Relu1 → Affine2, SoftmaxWithLoss.

    Same constructor as the book (plus ``rng``). ``layers`` holds the layers in order,
    ``last_layer`` the loss layer. The Affine layers are re-pointed at ``params`` on every pass,
    so replacing an array in ``params`` (not only updating it in place) is safe.
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int,
                 weight_init_std: float = 0.01, rng: np.random.Generator | None = None):
        super().__init__(input_size, hidden_size, output_size, weight_init_std, rng)
        self.layers = {
            "Affine1": Affine(self.params["W1"], self.params["b1"]),
            "Relu1": Relu(),
            "Affine2": Affine(self.params["W2"], self.params["b2"]),
        }
        self.last_layer = SoftmaxWithLoss()

    def _sync(self):
        for i in (1, 2):
            layer = self.layers[f"Affine{i}"]
            layer.W, layer.b = self.params[f"W{i}"], self.params[f"b{i}"]

    def predict(self, x):
        """Scores before the softmax (N, output_size), as the book's ch5 ``predict``."""
        self._sync()
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        check_batch(f"{type(self).__name__}.loss", x)
        scores = self.predict(x)
        class_labels(f"{type(self).__name__}.loss", t, np.shape(scores))
        return self.last_layer.forward(scores, t)

    def gradient(self, x, t) -> dict:
        """ch5.7.3 backpropagation through the layers."""
        self.loss(x, t)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)
        a1, a2 = self.layers["Affine1"], self.layers["Affine2"]
        return {"W1": a1.dW, "b1": a1.db, "W2": a2.dW, "b2": a2.db}
