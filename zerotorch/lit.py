"""The Lightning module: a thin ``LightningModule`` around any zerotorch network.

``LitClassifier`` adds to an injected model (``forward(x)`` → logits; it knows nothing of
Lightning) the loss, the accuracy, the optimizer choice (the six book rules of ``zerotorch.optim``
or any ``torch.optim`` class as ``"torch.Adam"``, looked up by ``optimizer_class``) and ch6.4.1
weight decay on weights only through ``zerotorch.optim.book_param_groups``. The callbacks the
experiment platform attaches to its trainer live in ``zerotorch.callbacks``.
"""

from __future__ import annotations

from typing import Any

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn

BOOK_OPTIMIZERS = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam")


def optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    """``"Adam"`` → ``zerotorch.optim.Adam`` (the book's rule); ``"torch.Adam"`` → torch's."""
    if name.startswith("torch."):
        cls = getattr(torch.optim, name.removeprefix("torch."), None)
    elif name in BOOK_OPTIMIZERS:
        from zerotorch import optim

        cls = getattr(optim, name)
    else:
        cls = None
    if cls is None:
        raise ValueError(f"unknown optimizer {name!r}: use one of {list(BOOK_OPTIMIZERS)} "
                         "(zerotorch.optim) or 'torch.<Name>' for a torch.optim class")
    return cls


class LitClassifier(pl.LightningModule):
    """Training wrapper (ch4.5 / ch6 / ch7.5 training loops) for an injected classifier network.

    Args:
        model: an ``nn.Module`` whose ``forward(x)`` returns logits (N, classes) and which
            follows ``self.training`` (dropout, batch norm).
        optimizer: one of ``SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam`` (``zerotorch.optim``,
            book hyperparameter names) or ``torch.<Name>``.
        lr: learning rate.
        weight_decay: the book's λ (loss + 0.5·λ·ΣW²): applied as gradient λ·W on weights only
            (parameters with 2+ dimensions), never on biases, γ, β; the logged loss does not
            include the term. A network built with ``weight_decay_lambda`` instead has its
            ``weight_decay()`` term added to the loss (the book's way); giving both is an error.
        optimizer_args: further optimizer arguments (``momentum``, ``decay_rate``, ``beta1``...).
        experiment: a name used in messages (NaN stop) and summaries.
    """

    def __init__(self, model: nn.Module, optimizer: str = "SGD", lr: float = 0.01,
                 weight_decay: float = 0.0, optimizer_args: dict[str, Any] | None = None,
                 experiment: str = "zerotorch"):
        super().__init__()
        optimizer_class(optimizer)  # fail at construction, not after data loading
        if weight_decay and getattr(model, "weight_decay_lambda", 0):
            raise ValueError(f"weight decay given twice: weight_decay={weight_decay} here and "
                             f"weight_decay_lambda={model.weight_decay_lambda} on the network")
        self.save_hyperparameters(ignore=["model"])
        self.hparams["network"] = f"{type(model).__module__}.{type(model).__qualname__}"
        self.model = model
        # names of the validation loaders, in order (a runner may add "train_eval" in front)
        self.eval_names: tuple[str, ...] = ("val",)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def loss_and_accuracy(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean cross-entropy on the logits (+ the network's own decay term) and accuracy."""
        x, t = batch
        param = next(self.model.parameters(), None)
        if param is not None and x.is_floating_point() and x.dtype != param.dtype:
            x = x.to(param.dtype)
        logits = self(x)  # (N, classes)
        if t.ndim == 2:  # one-hot labels, as the book's one_hot_label=True
            t = t.argmax(dim=1)
        loss = F.cross_entropy(logits, t)
        if getattr(self.model, "weight_decay_lambda", 0):  # the network's own book-style term
            loss = loss + self.model.weight_decay()  # 0.5·λ·ΣW², in the loss as the book does
        acc = (logits.argmax(dim=1) == t).to(torch.float32).mean()
        return loss, acc

    def _common_step(self, batch, stage: str) -> torch.Tensor:
        loss, acc = self.loss_and_accuracy(batch)
        n = batch[1].shape[0]  # epoch values are means weighted by batch size: no sample dropped
        train = stage == "train"
        self.log(f"{stage}_loss", loss, on_step=train, on_epoch=True, prog_bar=True,
                 batch_size=n, sync_dist=not train, add_dataloader_idx=False)
        self.log(f"{stage}_acc", acc, on_step=False, on_epoch=True, prog_bar=True,
                 batch_size=n, sync_dist=not train, add_dataloader_idx=False)
        return loss

    def training_step(self, batch, batch_idx):
        return self._common_step(batch, "train")

    def validation_step(self, batch, batch_idx, dataloader_idx: int = 0):
        return self._common_step(batch, self.eval_names[dataloader_idx])

    def test_step(self, batch, batch_idx, dataloader_idx: int = 0):
        return self._common_step(batch, "test")

    def configure_optimizers(self):
        from zerotorch.optim import book_param_groups

        cls = optimizer_class(self.hparams.optimizer)
        groups = book_param_groups(self.model, self.hparams.weight_decay)
        groups = [g for g in groups if g["params"]]
        return cls(groups, lr=self.hparams.lr, **(self.hparams.optimizer_args or {}))


__all__ = ["LitClassifier", "optimizer_class", "BOOK_OPTIMIZERS"]
