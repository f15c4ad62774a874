"""Readers' names: call their classes the way the book does, and find attributes by role.

The registry builds the reader's objects with our keyword names (``Affine(W=…, b=…)``,
``layer.forward(x, train_flg=True)``) and reads our attribute names (``layer.dW``). Readers wrote
the book's *positional* order under their own names (``Affine(w, b)``,
``forward(self, x, train_flag=True)``, ``self.dw``). ``adapt(impl)`` wraps every class the
implementation resolves to in a thin subclass that

- passes each keyword the reader's signature does not take to the parameter at the book's
  position for it (``BOOK_ARGS``), renames the book's own spellings (``dropout_ration``) and drops
  ``rng`` where it is not taken (such code draws from ``np.random``, as the book's does);
- finds an attribute we read under another name by its role (``dW`` as ``dw``, ``grad_W``,
  ``dweight``…; ``ATTR_ROLES``) and a method by its (``update`` as PyTorch's ``step``;
  ``METHOD_ROLES``), and records which, so the row can say so.

``--map layers.Affine=mylayers.AffineLayer`` (``maps``) points a book name at any object in the
reader's files when no rule finds it.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import re

import numpy as np

# The book's argument order for each class we construct and each method we call with keywords.
BOOK_ARGS: dict[str, tuple[str, ...]] = {
    "Affine": ("W", "b"),
    "Convolution": ("W", "b", "stride", "pad"),
    "Pooling": ("pool_h", "pool_w", "stride", "pad"),
    "BatchNormalization": ("gamma", "beta", "momentum", "running_mean", "running_var"),
    "Dropout": ("dropout_ratio",),
    "SGD": ("lr",),
    "Momentum": ("lr", "momentum"),
    "Nesterov": ("lr", "momentum"),
    "AdaGrad": ("lr",),
    "RMSprop": ("lr", "decay_rate"),
    "Adam": ("lr", "beta1", "beta2"),
    "TwoLayerNet": ("input_size", "hidden_size", "output_size", "weight_init_std"),
    "TwoLayerNetCh4": ("input_size", "hidden_size", "output_size", "weight_init_std"),
    "MultiLayerNet": ("input_size", "hidden_size_list", "output_size", "activation",
                      "weight_init_std", "weight_decay_lambda"),
    "MultiLayerNetExtend": ("input_size", "hidden_size_list", "output_size", "activation",
                            "weight_init_std", "weight_decay_lambda", "use_dropout",
                            "dropout_ratio", "use_batchnorm"),
    "SimpleConvNet": ("input_dim", "conv_param", "hidden_size", "output_size",
                      "weight_init_std"),
    "DeepConvNet": ("input_dim", "conv_param_1", "conv_param_2", "conv_param_3", "conv_param_4",
                    "conv_param_5", "conv_param_6", "hidden_size", "output_size"),
}
BOOK_METHOD_ARGS: dict[str, tuple[str, ...]] = {
    "forward": ("x", "train_flg"),
    "predict": ("x", "train_flg"),
    "loss": ("x", "t", "train_flg"),
}
# Keywords the book itself spells differently (MultiLayerNetExtend's ``dropout_ration``, sic).
KWARG_ALIASES = {"dropout_ratio": ("dropout_ration",)}
# Keywords that may be dropped where not taken: the code then behaves as the book's does (its
# own weight scale for a network that fixes it, as some readers' ch4 TwoLayerNet does).
DROPPABLE = ("rng", "train_flg", "weight_init_std")

# Attributes the registry reads, and the other names readers give them (compared lower-case,
# underscores removed).
ATTR_ROLES: dict[str, tuple[str, ...]] = {
    "dW": ("dw", "gradw", "wgrad", "dweight", "dweights", "gradweight", "weightgrad"),
    "db": ("db", "gradb", "bgrad", "dbias", "gradbias", "biasgrad"),
    "dgamma": ("dgamma", "gradgamma", "dg", "gammagrad"),
    "dbeta": ("dbeta", "gradbeta", "betagrad"),
    "W": ("w", "weight", "weights"),
    "b": ("b", "bias"),
    "running_mean": ("runningmean", "movingmean", "runmean"),
    "running_var": ("runningvar", "movingvar", "runvar", "runningvariance"),
    "dropout_ratio": ("dropoutratio", "dropoutration", "ratio", "droprate", "p"),
    "params": ("params", "parameters", "param"),
}

# Methods the registry calls, and the other names readers give them (PyTorch's ``step`` for the
# book's ``update(params, grads)``): used only when the book's name is absent.
METHOD_ROLES: dict[str, tuple[str, ...]] = {"update": ("step",)}


# Functions whose two arguments readers swap: the book's (y, t), and the names that say which is
# which (compared lower-case, underscores removed).
SWAPPABLE = {"cross_entropy_error", "sum_squared_error", "mean_squared_error"}
LABEL_NAMES = {"t", "label", "labels", "truelabel", "target", "targets", "ytrue", "answer",
               "teacher", "onehot"}
OUTPUT_NAMES = {"y", "pred", "prediction", "predict", "output", "out", "ypred", "yhat", "p",
                "prob", "probs", "probability"}


def _label_first(fn) -> tuple[str, str] | None:
    """The two parameter names when ``fn`` names its first one as the label (``(t, y)``)."""
    sig = _signature(fn)
    if sig is None:
        return None
    names = [p.name for p in sig.parameters.values()][:2]
    if len(names) == 2 and _norm(names[0]) in LABEL_NAMES and _norm(names[1]) in OUTPUT_NAMES:
        return names[0], names[1]
    return None


def _norm(name: str) -> str:
    return name.lower().replace("_", "")


def _signature(fn):
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


def map_kwargs(sig, book_order: tuple[str, ...], kwargs: dict) -> dict:
    """Our keywords as the reader's: their own name, the book's spelling, or the parameter at
    the book's position; ``rng``/``train_flg`` dropped where nothing takes them."""
    if sig is None:
        return kwargs
    params = [p for p in sig.parameters.values() if p.name != "self"]
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return kwargs
    names = {p.name for p in params}
    positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY,
                                                       p.POSITIONAL_OR_KEYWORD)]
    out = {}
    for key, value in kwargs.items():
        if key in names:
            out[key] = value
            continue
        alias = next((a for a in KWARG_ALIASES.get(key, ()) if a in names), None)
        if alias:
            out[alias] = value
            continue
        if key in book_order and book_order.index(key) < len(positional):
            i = book_order.index(key)
            target = positional[i]
            # the first slots by position (Affine(w, b), SGD(learning_rate)); later ones only
            # under a similar name, so use_dropout never lands in a reader's use_bn
            similar = difflib.SequenceMatcher(None, _norm(key), _norm(target)).ratio() >= 0.6
            if target not in kwargs and target not in out and (i < 3 or similar):
                out[target] = value
                continue
        if key in DROPPABLE:
            continue
        out[key] = value  # their own TypeError names it
    return out


def _wrap_method(method, book_order):
    sig = _signature(method)

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        return method(self, *args, **map_kwargs(sig, book_order, kwargs))

    return call


BOOK_PARAM = re.compile(r"^(W|b|gamma|beta)\d*$", re.IGNORECASE)


def _attr_lookup(used: list[str]):
    def note(text):
        if text not in used:
            used.append(text)

    def __getattr__(self, name):  # only called when normal lookup fails
        roles = ATTR_ROLES.get(name)
        if roles:
            for key in list(vars(self)):
                if key != name and _norm(key) in roles:
                    note(f"{type(self).__name__}.{key} read as {name}")
                    return getattr(self, key)
        lists = vars(self).get("grads" if name.startswith("d") else "params")
        slot = {"W": 0, "dW": 0, "b": 1, "db": 1}.get(name)
        if slot is not None and isinstance(lists, list) and len(lists) > slot:
            which = "grads" if name.startswith("d") else "params"  # the second book's lists
            note(f"{type(self).__name__}.{which}[{slot}] read as {name} (the second book's lists)")
            return lists[slot]
        if name == "params":  # 4.4.2's simpleNet keeps its weights in self.W, no params dict
            theirs = [k for k, v in vars(self).items()
                      if BOOK_PARAM.match(k) and isinstance(v, np.ndarray)]
            book = {k: "W" + k[1:] if k[0] in "wW" else k.lower() for k in theirs}  # w → W
            found = {book[k]: vars(self)[k] for k in theirs}
            if found:
                note(f"{type(self).__name__}.params built from "
                     + ", ".join(k if k == book[k] else f"{k} (as {book[k]})" for k in theirs))
                object.__setattr__(self, "params", found)
                return found
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    return __getattr__


class Adapted:
    """``impl`` with every class it resolves to wrapped (see the module docstring)."""

    def __init__(self, impl, maps: tuple[str, ...] = ()):
        self.impl = impl
        self.used: list[str] = []  # "Affine.dw read as dW", for the row
        self.maps = dict(parse_map(m) for m in maps)
        self._cache: dict = {}

    def __getattr__(self, name):
        return getattr(self.impl, name)

    def resolve(self, dotted: str, chapter: str | None = None):
        if dotted in self.maps:
            obj = self.impl.resolve_path(self.maps[dotted])
            if obj is not None and hasattr(self.impl, "found_in"):
                self.impl.found_in[dotted.partition(".")[2]] = f"--map {self.maps[dotted]}"
        else:
            obj = self.impl.resolve(dotted, chapter=chapter)
        attr = dotted.rpartition(".")[2]
        if callable(obj) and not isinstance(obj, type) and attr in SWAPPABLE:
            return self._swapped(obj, attr)
        if not isinstance(obj, type):
            return obj
        if obj not in self._cache:
            self._cache[obj] = self._wrap(obj, dotted.rpartition(".")[2].split("[")[0])
        return self._cache[obj]

    def _swapped(self, fn, attr: str):
        """``fn`` called in its own argument order when its names say it takes (t, y)."""
        names = _label_first(fn)
        if names is None:
            return fn
        used = self.used

        @functools.wraps(fn)
        def call(y, t, *args, **kwargs):
            note = f"{attr}({names[0]}, {names[1]}) called in its own order: label first"
            if note not in used:
                used.append(note)
            return fn(t, y, *args, **kwargs)

        return call

    def _wrap(self, cls: type, book_name: str) -> type:
        order = BOOK_ARGS.get(book_name, ())
        init_sig = _signature(cls)

        def __init__(self, *args, **kwargs):
            cls.__init__(self, *args, **map_kwargs(init_sig, order, kwargs))

        body = {"__init__": __init__, "__module__": cls.__module__,
                "__qualname__": cls.__qualname__, "__doc__": cls.__doc__,
                "__getattr__": _attr_lookup(self.used)}
        if "__getattr__" in vars(cls) or any("__getattr__" in vars(k) for k in cls.__mro__[1:-1]):
            del body["__getattr__"]  # theirs decides
        for name, book_order in BOOK_METHOD_ARGS.items():
            method = getattr(cls, name, None)
            if isinstance(inspect.getattr_static(cls, name, None), staticmethod | classmethod):
                continue  # called as it is: no self to pass
            if inspect.isfunction(method):
                body[name] = _wrap_method(method, book_order)
        for book, theirs in METHOD_ROLES.items():
            other = next((m for m in theirs if inspect.isfunction(getattr(cls, m, None))), None)
            if getattr(cls, book, None) is None and other:
                body[book] = _renamed(getattr(cls, other), f"{cls.__name__}.{other}", book,
                                      self.used)
        try:
            return type(cls.__name__, (cls,), body)
        except TypeError:  # a class that cannot be subclassed this way is used as it is
            return cls


def _renamed(method, theirs: str, book: str, used: list[str]):
    """``method`` under the book's name, the row noting it (``SGD.step read as update``)."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        note = f"{theirs} read as {book}"
        if note not in used:
            used.append(note)
        return method(self, *args, **kwargs)

    return call


def parse_map(text: str) -> tuple[str, str]:
    """``layers.Affine=mylayers.AffineLayer`` → (``layers.Affine``, ``mylayers.AffineLayer``)."""
    book, sep, theirs = text.partition("=")
    if not sep or "." not in book or "." not in theirs:
        raise ValueError(f"--map {text!r}: expected BOOK.NAME=MODULE.NAME, e.g. "
                         "layers.Affine=mylayers.AffineLayer")
    return book.strip(), theirs.strip()


def adapt(impl, maps: tuple[str, ...] = ()) -> Adapted:
    return Adapted(impl, maps)
