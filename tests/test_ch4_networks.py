"""ch4 SimpleNet and the ch4 TwoLayerNet: the book's numbers and the network API on both sides."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scratch import two_layer_net as snet
from zerotorch.networks import two_layer_net as znet

# ch4.4.2: the book prints this W (drawn with np.random.randn) and the values below, to 8
# digits, so the printed W reproduces them to ~1e-7.
PRINTED = 1e-6
BOOK_W = np.array([[0.47355232, 0.9977393, 0.84668094],
                   [0.85557411, 0.03563661, 0.69422093]])
BOOK_X = np.array([0.6, 0.9])
BOOK_T = np.array([0.0, 0.0, 1.0])


def test_simple_net_published_values():
    net = snet.SimpleNet(rng=np.random.default_rng(0))
    net.W = BOOK_W.copy()
    assert net.params["W"] is net.W
    np.testing.assert_allclose(net.predict(BOOK_X), [1.05414809, 0.63071653, 1.1328074],
                               atol=1e-8)
    assert np.argmax(net.predict(BOOK_X)) == 2
    assert net.loss(BOOK_X, BOOK_T) == pytest.approx(0.92806853663411326, rel=PRINTED)
    book_dW = [[0.21924763, 0.14356247, -0.36281009], [0.32887144, 0.2153437, -0.54421514]]
    np.testing.assert_allclose(net.numerical_gradient(BOOK_X, BOOK_T)["W"], book_dW,
                               atol=PRINTED)
    np.testing.assert_allclose(net.gradient(BOOK_X, BOOK_T)["W"], book_dW, atol=PRINTED)
    assert net.accuracy(BOOK_X, BOOK_T) == 1.0
    zt = znet.SimpleNet(dtype=torch.float64).load_params(net.params)
    loss = zt.loss(torch.tensor(BOOK_X), torch.tensor(BOOK_T))
    loss.backward()
    assert loss.item() == pytest.approx(net.loss(BOOK_X, BOOK_T), rel=1e-15)
    np.testing.assert_allclose(zt.W.grad.numpy(), net.gradient(BOOK_X, BOOK_T)["W"], rtol=1e-12)
    assert zt.accuracy(torch.tensor(BOOK_X), torch.tensor(BOOK_T)) == 1.0


@pytest.mark.parametrize("name", ["SimpleNet", "TwoLayerNetCh4", "TwoLayerNet"])
def test_state_dict_keys_are_the_books(name):
    args = () if name == "SimpleNet" else (6, 4, 3)
    s = getattr(snet, name)(*args, rng=np.random.default_rng(0))
    z = getattr(znet, name)(*args, dtype=torch.float64)
    assert list(z.state_dict()) == list(s.params)
    assert set(z.book_params()) == set(s.params)
    z.load_params(s.params)
    for k, v in s.params.items():
        np.testing.assert_array_equal(z.state_dict()[k].numpy(), v)
    z.load_state_dict({k: torch.as_tensor(v) for k, v in s.params.items()})  # plain torch works


def test_constructor_generators_are_explicit():
    a = snet.TwoLayerNetCh4(5, 4, 3, rng=np.random.default_rng(7))
    b = snet.TwoLayerNetCh4(5, 4, 3, rng=np.random.default_rng(7))
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert np.all(a.params["b1"] == 0)
    drawn = np.random.default_rng(7)  # W1 first, then W2, each 0.01·N(0, 1)
    np.testing.assert_array_equal(a.params["W1"], 0.01 * drawn.standard_normal((5, 4)))
    np.testing.assert_array_equal(a.params["W2"], 0.01 * drawn.standard_normal((4, 3)))
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    z1 = znet.TwoLayerNetCh4(5, 4, 3, generator=g1)
    z2 = znet.TwoLayerNetCh4(5, 4, 3, generator=g2)
    assert z1.W1.dtype == torch.get_default_dtype()
    assert torch.equal(z1.W1, z2.W1) and torch.equal(z1.b1, torch.zeros(4))
    assert torch.equal(z1.W1, 0.01 * torch.randn(5, 4, generator=torch.Generator().manual_seed(3)))


def test_load_params_errors_name_keys_and_shapes():
    z = znet.TwoLayerNetCh4(6, 4, 3)
    good = snet.TwoLayerNetCh4(6, 4, 3, rng=np.random.default_rng(0)).params
    with pytest.raises(KeyError, match="missing.*b2"):
        z.load_params({k: v for k, v in good.items() if k != "b2"})
    with pytest.raises(ValueError, match=r"W1 has shape \(4, 6\), expected \(6, 4\)"):
        z.load_params({**good, "W1": good["W1"].T})
    z.load_params(good)  # float64 NumPy into a float32 module: cast on copy
    assert z.W1.dtype == torch.float32


def test_accuracy_counts_every_sample_and_takes_both_label_kinds(rng):
    net = snet.TwoLayerNetCh4(6, 4, 3, weight_init_std=1.0, rng=rng)
    x = rng.standard_normal((250, 6))  # not a multiple of the book's batch of 100
    pred = net.predict(x).argmax(axis=1)
    t = pred.copy()
    t[-5:] = (t[-5:] + 1) % 3  # the last 5 wrong: the book's batched accuracy would drop them
    assert net.accuracy(x, t) == pytest.approx(245 / 250)
    assert net.accuracy(x, np.eye(3)[t]) == pytest.approx(245 / 250)
    z = znet.TwoLayerNetCh4(6, 4, 3, dtype=torch.float64).load_params(net.params)
    assert z.accuracy(torch.tensor(x), torch.tensor(t)) == pytest.approx(245 / 250)
    assert z.accuracy(torch.tensor(x), torch.tensor(np.eye(3)[t])) == pytest.approx(245 / 250)


def test_ch4_predict_is_probabilities_forward_is_logits(rng):
    net = snet.TwoLayerNetCh4(6, 4, 3, rng=rng)
    x = rng.standard_normal((5, 6))
    z = znet.TwoLayerNetCh4(6, 4, 3, dtype=torch.float64).load_params(net.params)
    y = z.predict(torch.tensor(x)).detach().numpy()
    np.testing.assert_allclose(y, net.predict(x), rtol=1e-12)
    np.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-14)
    np.testing.assert_allclose(torch.softmax(z(torch.tensor(x)), -1).detach().numpy(), y,
                               rtol=1e-12)


def test_two_layer_nets_accept_image_shaped_input(rng):
    x = rng.uniform(0, 1, (4, 1, 28, 28))
    t = rng.integers(0, 10, 4)
    for cls in (snet.TwoLayerNetCh4, snet.TwoLayerNet):
        net = cls(784, 5, 10, rng=rng)
        flat = x.reshape(4, -1)
        assert net.loss(x, t) == net.loss(flat, t)
        g, g_flat = net.gradient(x, t), net.gradient(flat, t)
        for k in g:
            np.testing.assert_array_equal(g[k], g_flat[k])
