"""Dropout in the comparisons: both sides drop the same units, from one mask source.

The source is ``scratch.masks.MaskStream``. A scratch-side network (ours or a reader's) runs its
training passes on a fixed stream — our Dropout layers take it as their ``rng``; the book's draw
from the global ``np.random``, which the stream stands in for — and the torch twin replays the
masks the scratch layers recorded (``layer.mask``, as the book keeps them), whatever way a
reader drew them.
"""

from __future__ import annotations

import inspect

from scratch.masks import MaskStream

DROPOUT_SEED = 99


def dropouts_of(net) -> list:
    """The network's Dropout layers in ``layers`` order (the book's and ours keep them there),
    found by class name or ratio attribute so a reader's own Dropout class counts too."""
    layers = getattr(net, "layers", None)
    if layers is None:
        return list(getattr(net, "dropout_layers", []))
    layers = layers.values() if hasattr(layers, "values") else layers
    return [layer for layer in layers if "dropout" in type(layer).__name__.lower()
            or hasattr(layer, "dropout_ratio") or hasattr(layer, "dropout_ration")]


def _training_mode(method) -> tuple[tuple, dict]:
    """The arguments after ``(x, t)`` that put ``loss`` in training mode: ``train_flg=True``
    where it takes that name or the adapter's keywords (which map it onto a reader's own
    spelling, ``train_flag``), ``True`` at the book's third place otherwise; none where there is
    no third parameter (the book's ch7/ch8 ``loss(x, t)``; DeepConvNet's runs in training mode).
    """
    params = list(inspect.signature(method, follow_wrapped=False).parameters.values())
    if any(p.name == "train_flg" or p.kind is p.VAR_KEYWORD for p in params):
        return (), {"train_flg": True}
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return ((True,), {}) if len(positional) >= 3 else ((), {})


def same_masks_loss_and_grads(net, x, t):
    """Training-mode loss and gradient of a scratch-side network, both passes dropping the
    same units (the loss includes any weight decay, as the network's own ``loss`` does)."""
    stream = MaskStream(DROPOUT_SEED, fixed=True)
    drops = dropouts_of(net)
    args, kwargs = _training_mode(net.loss)
    if drops and all(hasattr(d, "rng") for d in drops):  # ours: the stream is their rng
        for d in drops:
            d.rng = stream
        return net.loss(x, t, *args, **kwargs), net.gradient(x, t)
    with stream.as_global():  # the book's: np.random draws the stream, from its seed each time
        loss = net.loss(x, t, *args, **kwargs)
    with stream.as_global():
        return loss, net.gradient(x, t)


def replay_scratch_masks(net_t, net) -> None:
    """The torch twin's next training pass drops what the scratch network's last pass dropped."""
    net_t.use_masks(MaskStream.replay([d.mask for d in dropouts_of(net)]))


def replayed_loss(net_t, net, x, t):
    """The torch twin's training-mode loss on the scratch network's last masks."""
    replay_scratch_masks(net_t, net)
    return net_t.loss(x, t, train_flg=True)


def replaying(module, mask):
    """A zerotorch ``Dropout`` whose next forward uses ``mask`` (a scratch layer's)."""
    module.generator = MaskStream.replay([mask])
    return module
