"""zerotorch.lit.LitClassifier: loss, accuracy, optimizer choice, weight decay on weights only."""

from __future__ import annotations

import sys

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from zerotorch import optim
from zerotorch.callbacks import show_progress_bar
from zerotorch.lit import BOOK_OPTIMIZERS, LitClassifier, optimizer_class
from zerotorch.networks import MultiLayerNet


def _trainer(**kw) -> pl.Trainer:
    return pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, **kw)


def _data(n: int, seed: int = 0) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.rand(n, 784, generator=g), torch.randint(0, 10, (n,), generator=g))


@pytest.mark.parametrize("name", BOOK_OPTIMIZERS)
def test_book_optimizer_names_select_zerotorch_optim(name):
    net = MultiLayerNet(784, [20], 10)
    lit = LitClassifier(net, optimizer=name, lr=0.02)
    opt = lit.configure_optimizers()
    assert type(opt) is getattr(optim, name)
    assert all(g["lr"] == 0.02 for g in opt.param_groups)


def test_torch_optimizer_and_book_hyperparameter_names():
    net = MultiLayerNet(784, [20], 10)
    opt = LitClassifier(net, optimizer="RMSprop", optimizer_args={"decay_rate": 0.9})
    assert opt.configure_optimizers().param_groups[0]["decay_rate"] == 0.9
    assert isinstance(LitClassifier(net, optimizer="torch.Adam", lr=1e-3).configure_optimizers(),
                      torch.optim.Adam)
    with pytest.raises(ValueError, match="unknown optimizer 'Adamax'"):
        LitClassifier(net, optimizer="Adamax")
    with pytest.raises(ValueError, match="unknown optimizer"):
        optimizer_class("torch.NoSuchOptimizer")


def test_weight_decay_hits_weights_only_like_the_book():
    """ch6.4.1: one SGD step: W ← W − lr·(dW + λW) but b ← b − lr·db (biases not decayed)."""
    torch.manual_seed(0)
    net = MultiLayerNet(784, [20, 20], 10)
    lam, lr = 0.3, 0.1
    lit = LitClassifier(net, optimizer="SGD", lr=lr, weight_decay=lam)
    opt = lit.configure_optimizers()
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] == lam for p in g["params"]}
    for name, p in net.named_parameters():
        assert (id(p) in decayed) == name.endswith(".W"), name
    x, t = _data(32).tensors
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    loss = F.cross_entropy(net(x), t)
    grads = dict(zip([n for n, _ in net.named_parameters()],
                     torch.autograd.grad(loss, list(net.parameters())), strict=True))
    opt.zero_grad()
    F.cross_entropy(net(x), t).backward()
    opt.step()
    for n, p in net.named_parameters():
        decay = lam * before[n] if n.endswith(".W") else 0.0
        torch.testing.assert_close(p.detach(), before[n] - lr * (grads[n] + decay),
                                   rtol=0, atol=1e-6)


def test_network_lambda_goes_into_the_loss_and_not_twice():
    torch.manual_seed(0)
    net = MultiLayerNet(784, [20], 10, weight_decay_lambda=0.5)
    lit = LitClassifier(net)
    x, t = _data(16).tensors
    loss, _ = lit.loss_and_accuracy((x, t))
    torch.testing.assert_close(loss, F.cross_entropy(net(x), t) + net.weight_decay())
    assert net.weight_decay() > 0
    with pytest.raises(ValueError, match="weight decay given twice"):
        LitClassifier(net, weight_decay=0.1)


def test_common_step_logs_stage_keys_and_exact_epoch_accuracy():
    """train/val/test keys; the epoch accuracy weights every sample (250 = 2·100 + 50, no drop)."""
    torch.manual_seed(0)
    net = MultiLayerNet(784, [20], 10)
    lit = LitClassifier(net, optimizer="Adam", lr=1e-3)
    trainer = _trainer(max_epochs=1)
    train, val = DataLoader(_data(200, 1), batch_size=100), DataLoader(_data(250, 2),
                                                                      batch_size=100)
    trainer.fit(lit, train, val)
    keys = set(trainer.callback_metrics)
    assert {"train_loss_step", "train_loss_epoch", "train_acc", "val_loss", "val_acc"} <= keys
    x, t = _data(250, 2).tensors
    lit.eval()
    with torch.no_grad():
        logits = lit(x)
    exact = (logits.argmax(1) == t).float().mean()
    torch.testing.assert_close(trainer.callback_metrics["val_acc"], exact)
    torch.testing.assert_close(trainer.callback_metrics["val_loss"], F.cross_entropy(logits, t),
                               rtol=1e-6, atol=1e-6)
    out = trainer.test(lit, DataLoader(_data(250, 2), batch_size=100), verbose=False)
    assert set(out[0]) == {"test_loss", "test_acc"}


def test_one_hot_labels_and_float64_networks():
    net = MultiLayerNet(784, [20], 10, dtype=torch.float64)
    lit = LitClassifier(net)
    x, t = _data(8).tensors  # float32 images into a float64 network
    a, acc_a = lit.loss_and_accuracy((x, F.one_hot(t, 10).float()))
    b, acc_b = lit.loss_and_accuracy((x, t))
    assert a.dtype == torch.float64 and torch.equal(a, b) and torch.equal(acc_a, acc_b)


def test_save_hyperparameters_round_trip(tmp_path):
    net = MultiLayerNet(784, [20], 10)
    lit = LitClassifier(net, optimizer="Momentum", lr=0.05, weight_decay=0.01,
                        optimizer_args={"momentum": 0.8}, experiment="demo")
    assert lit.hparams.optimizer == "Momentum" and lit.hparams.lr == 0.05
    assert lit.hparams.network == "zerotorch.networks.multi_layer_net.MultiLayerNet"
    assert "model" not in lit.hparams  # the network is injected, not a hyperparameter
    trainer = _trainer(max_epochs=1, limit_train_batches=1, limit_val_batches=0)
    trainer.fit(lit, DataLoader(_data(10), batch_size=10))
    trainer.save_checkpoint(tmp_path / "x.ckpt")
    back = LitClassifier.load_from_checkpoint(tmp_path / "x.ckpt",
                                              model=MultiLayerNet(784, [20], 10))
    assert back.hparams.optimizer_args == {"momentum": 0.8}
    for p, q in zip(lit.parameters(), back.parameters(), strict=True):
        assert torch.equal(p, q)


def test_progress_bar_only_on_a_terminal(monkeypatch):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False, raising=False)
    assert show_progress_bar() is False
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True, raising=False)
    assert show_progress_bar() is True


def test_model_knows_nothing_of_lightning():
    net = MultiLayerNet(784, [20], 10)
    assert not isinstance(net, pl.LightningModule) and isinstance(net, nn.Module)
    assert LitClassifier(net).model is net
