"""Trajectory equivalence: the same weights and mini-batches trained in scratch and zerotorch.

200 SGD steps (lr 0.1, batches of 100) on real images (the MNIST test set, else Fashion-MNIST),
float64: the loss of every step agrees within 1e-10 and the final weights within 1e-9. The
scratch side uses its hand-written backward; the zerotorch side ``loss.backward()`` and
``torch.optim.SGD``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scratch import two_layer_net as snet
from scratch.optimizer import SGD
from zerotorch.networks import two_layer_net as znet

STEPS = 200
BATCH = 100
LR = 0.1
SUBSET = 2000  # images drawn from
LOSS_ATOL = 1e-10
WEIGHT_ATOL = 1e-9


_CACHE: dict = {}


@pytest.fixture
def real_images(request):
    from scratch.dataset import load_mnist

    if "images" in _CACHE:
        return _CACHE["images"]

    try:
        root = request.getfixturevalue("mnist_dir")
        _, (x, t) = load_mnist(root=root, test_only=True)
        source = "MNIST test set"
    except pytest.skip.Exception:
        root = request.getfixturevalue("fashion_dir")  # skips when neither is present
        _, (x, t) = load_mnist(dataset="fashion-mnist", root=root, test_only=True)
        source = "Fashion-MNIST test set"
    _CACHE["images"] = x[:SUBSET].astype(np.float64), t[:SUBSET].astype(np.int64), source
    return _CACHE["images"]


@pytest.mark.parametrize("name", ["TwoLayerNet", "TwoLayerNetCh4"])
def test_200_sgd_steps_same_losses_and_weights(name, real_images):
    x, t, source = real_images
    rng = np.random.default_rng(2026)
    net = getattr(snet, name)(784, 50, 10, rng=rng)
    zt = getattr(znet, name)(784, 50, 10, dtype=torch.float64).load_params(net.params)
    opt_s, opt_t = SGD(LR), torch.optim.SGD(zt.parameters(), lr=LR)
    x_t, t_t = torch.tensor(x), torch.tensor(t)
    losses_s, losses_t = [], []
    for _ in range(STEPS):
        idx = rng.choice(len(x), BATCH, replace=False)
        losses_s.append(net.loss(x[idx], t[idx]))
        opt_s.update(net.params, net.gradient(x[idx], t[idx]))
        opt_t.zero_grad()
        loss = zt.loss(x_t[idx], t_t[idx])
        loss.backward()
        opt_t.step()
        losses_t.append(loss.item())
    losses_s, losses_t = np.array(losses_s), np.array(losses_t)
    loss_diff = np.abs(losses_s - losses_t).max()
    weight_diff = max(np.abs(zt.state_dict()[k].numpy() - v).max() for k, v in net.params.items())
    assert loss_diff <= LOSS_ATOL, f"{source}: worst step loss differs by {loss_diff:.3g}"
    assert weight_diff <= WEIGHT_ATOL, f"{source}: final weights differ by {weight_diff:.3g}"
    # the run really trained: the loss fell from ln 10 (the sigmoid net learns more slowly)
    assert losses_s[0] == pytest.approx(np.log(10), abs=0.05)
    assert losses_s[-20:].mean() < losses_s[:20].mean() - 0.05
    if name == "TwoLayerNet":
        assert losses_s[-20:].mean() < 0.75 * losses_s[0] and net.accuracy(x, t) > 0.5


def test_trajectory_tolerance_detects_a_small_gradient_error(real_images):
    """A 1e-6 relative error in one gradient of the first step exceeds the weight tolerance."""
    x, t, _ = real_images
    rng = np.random.default_rng(7)
    a = snet.TwoLayerNet(784, 50, 10, rng=rng)
    b = snet.TwoLayerNet(784, 50, 10, rng=np.random.default_rng(0))
    b.params = {k: v.copy() for k, v in a.params.items()}
    opt = SGD(LR)
    for step in range(20):
        idx = rng.choice(len(x), BATCH, replace=False)
        opt.update(a.params, a.gradient(x[idx], t[idx]))
        g = b.gradient(x[idx], t[idx])
        if step == 0:
            g["W2"] = g["W2"] * (1 + 1e-6)
        opt.update(b.params, g)
    assert np.abs(a.params["W2"] - b.params["W2"]).max() > WEIGHT_ATOL
