"""The one base of the book's NumPy networks: a table of book keys written once, used everywhere.

A network declares, in ``_book_names``, which layer attribute each ``params`` key lives in
(``{"W1": ("Affine1", "W"), "gamma1": ("BatchNorm1", "gamma"), …}``) and builds ``layers`` (the
book's layer names, in order) and ``last_layer``. From that table this base writes, once:

- ``predict(x, train_flg=False)``: the layers in order, ``train_flg`` passed to the layers that
  take it (BatchNormalization, Dropout), the layers first re-pointed at the arrays now in
  ``params`` (so replacing an array in ``params``, not only updating it in place, is safe);
- ``loss(x, t, train_flg=False)``: softmax cross-entropy + the book's weight decay
  0.5·λ·ΣW² (``weight_decay_lambda``, 0 unless the network takes it);
- ``gradient(x, t)``: backpropagation in training mode, each key read from its layer's ``d…``
  attribute (``dW``, ``db``, ``dgamma``, ``dbeta``), λ·W added to every weight;
- ``numerical_gradient``, ``accuracy``/``predict_labels`` (every sample counted), ``save_params``
  / ``load_params`` (dict or file, via the safe loader), ``astype``, and ``state_dict`` /
  ``load_state_dict`` keyed like the book (``W1``, ``b1``, ``gamma1``, …; batch norm's running
  statistics as ``running_mean1``/``running_var1``) — the keys ``zerotorch``'s twin uses.

Networks whose gradient the book writes out by hand (``SimpleNet``, the ch4 ``TwoLayerNet``)
have no layer table and override ``predict``/``loss``/``gradient``; the rest is shared.
"""

from __future__ import annotations

import numpy as np

from scratch.checks import check_batch, class_labels
from scratch.gradient import numerical_gradient
from scratch.normalization import BatchNormalization, Dropout

RUNNING_STATS = ("running_mean", "running_var")  # batch norm's state besides its parameters


def default_rng(rng) -> np.random.Generator:
    """The given generator, or a fresh unseeded one (nothing seeds globally)."""
    return rng if rng is not None else np.random.default_rng()


class BookNetwork:
    """Base of every scratch network; see the module docstring for the table it reads."""

    params: dict
    layers: dict
    weight_decay_lambda: float = 0.0
    _book_names: dict[str, tuple[str, str]] = {}  # book key -> (layer name, attribute)

    # --- the forward pass ---------------------------------------------------------------

    def _bind(self) -> None:
        """Point every layer at the arrays now in ``params``."""
        for key, (layer, attr) in self._book_names.items():
            setattr(self.layers[layer], attr, self.params[key])

    def predict(self, x, train_flg=False):
        """Scores before the softmax (N, classes); ``train_flg`` switches BN and dropout."""
        self._bind()
        for layer in self.layers.values():
            if isinstance(layer, BatchNormalization | Dropout):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def weight_decay(self) -> float:
        """ch6.4.1 0.5·λ·ΣW² over the weights (no biases, no γ/β); 0 when λ is 0."""
        lam = self.weight_decay_lambda
        if not lam:
            return 0.0
        return sum(0.5 * lam * np.sum(self.params[k] ** 2) for k in self._weights())

    def _weights(self) -> list[str]:
        return [k for k in self.params if k.startswith("W")]

    def loss(self, x, t, train_flg=False):
        """The book's loss: softmax cross-entropy (1e-7 in the log) + the weight-decay term."""
        what = f"{type(self).__name__}.loss"
        check_batch(what, x)
        return self.last_layer.forward(self.predict(x, train_flg), t, what=what) \
            + self.weight_decay()

    # --- gradients ------------------------------------------------------------------------

    def gradient(self, x, t) -> dict:
        """Backpropagation in training mode: every parameter's gradient, dW including λ·W."""
        self.loss(x, t, train_flg=True)
        dout = self.last_layer.backward(1)
        for layer in reversed(list(self.layers.values())):
            dout = layer.backward(dout)  # a first Convolution returns None (no dx needed)
        grads = {key: getattr(self.layers[layer], f"d{attr}")
                 for key, (layer, attr) in self._book_names.items()}
        if self.weight_decay_lambda:
            for k in self._weights():
                grads[k] = grads[k] + self.weight_decay_lambda * self.params[k]
        return {k: grads[k] for k in self.params}  # in the order of params

    def numerical_gradient(self, x, t) -> dict:
        """ch4.4 every parameter's gradient by central differences (h = 1e-4, the book's), in
        training mode like ``gradient`` (with dropout only meaningful when every loss call
        draws the same mask: ``use_masks(MaskStream(seed, fixed=True))``). Slow: two loss
        evaluations a weight."""
        loss = lambda _w: self.loss(x, t, train_flg=True)
        return {k: numerical_gradient(loss, v) for k, v in self.params.items()}

    # --- accuracy ---------------------------------------------------------------------------

    def predict_labels(self, x, batch_size=100):
        """(N,) argmax class of every sample, predicted in test mode ``batch_size`` at a time."""
        x = np.asarray(x)
        if x.ndim == 1:  # one sample
            x = x[None]
        return np.concatenate([np.argmax(self.predict(x[i:i + batch_size]), axis=1)
                               for i in range(0, x.shape[0], batch_size)])

    def accuracy(self, x, t, batch_size=100) -> float:
        """Fraction of correct argmaxes over *every* sample (test mode; labels indices or
        one-hot). The book's ch7 ``accuracy`` drops the last N % batch_size and still divides by
        N; this one counts them."""
        what = f"{type(self).__name__}.accuracy"
        check_batch(what, x)
        y = self.predict_labels(x, batch_size)
        labels = class_labels(what, t, (len(y), self.output_classes()))
        if labels.ndim == 2:  # one-hot
            labels = labels.argmax(axis=1)
        return float(np.sum(y == labels) / y.shape[0])

    def output_classes(self) -> int:
        """The number of classes: the width of the last parameter."""
        return np.shape(self.params[list(self.params)[-1]])[-1]

    # --- dropout ------------------------------------------------------------------------------

    @property
    def dropout_layers(self) -> list[Dropout]:
        """The Dropout layers in order (empty when the network has none)."""
        return [m for m in getattr(self, "layers", {}).values() if isinstance(m, Dropout)]

    def use_masks(self, source) -> BookNetwork:
        """Every Dropout layer draws its masks from ``source`` (a ``scratch.masks.MaskStream``:
        a seeded stream shared with a twin, one fixed mask set, or a replay)."""
        for d in self.dropout_layers:
            d.rng = source
        return self

    # --- parameters and state ---------------------------------------------------------------

    def save_params(self, file_name="params.pkl"):
        """ch7.5 save ``params`` (``.pkl`` like the book, or ``.npz``) via ``scratch.io``."""
        from scratch.io import save_params

        return save_params(self.params, file_name)

    def load_params(self, params="params.pkl"):
        """Load a book params dict, or a file (``.pkl``/``.npz``, read by the safe loader).

        The arrays are copied in their own dtype (the published float32 weights compute in
        float32), so training this network never changes the caller's dict.
        """
        if not isinstance(params, dict):
            from scratch.io import load_params

            params = load_params(params)
        name = f"{type(self).__name__}.load_params"
        missing = sorted(set(self.params) - set(params))
        unknown = sorted(set(params) - set(self.params))
        if missing or unknown:
            raise KeyError(f"{name}: missing {missing}, unknown {unknown}; expected keys "
                           f"{sorted(self.params)}")
        for k, mine in self.params.items():
            if np.shape(params[k]) != mine.shape:
                raise ValueError(f"{name}: {k} has shape {np.shape(params[k])}, expected "
                                 f"{mine.shape}")
            self.params[k] = np.array(params[k], copy=True)
        return self

    def astype(self, dtype):
        """Convert every parameter to ``dtype`` (e.g. ``np.float32`` for fast training)."""
        self.params = {k: v.astype(dtype) for k, v in self.params.items()}
        return self

    def _running_stats(self) -> dict[str, tuple[str, str]]:
        """``running_mean1`` → ("BatchNorm1", "running_mean"), …, in the order of the β's."""
        return {stat + key[len("beta"):]: (layer, stat)
                for key, (layer, attr) in self._book_names.items() if attr == "beta"
                for stat in RUNNING_STATS}

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of ``params`` and batch norm's running statistics, keyed like the book; each
        layer's statistics follow its β, as in the torch twin's."""
        stats = self._running_stats()
        state = {}
        for key, value in self.params.items():
            state[key] = np.array(value, copy=True)
            for stat in RUNNING_STATS if key.startswith("beta") else ():
                layer, attr = stats[stat + key[len("beta"):]]
                value = getattr(self.layers[layer], attr)
                if value is not None:  # None before the first training pass (the book's)
                    state[stat + key[len("beta"):]] = np.array(value, copy=True)
        return state

    def load_state_dict(self, state: dict) -> BookNetwork:
        """Load what ``state_dict`` gave (the parameters and any running statistics)."""
        stats = self._running_stats()
        self.load_params({k: v for k, v in state.items() if k not in stats})
        for key, (layer, attr) in stats.items():
            if key in state:
                setattr(self.layers[layer], attr, np.array(state[key], copy=True))
        return self
