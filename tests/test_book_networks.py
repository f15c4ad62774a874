"""Every network of both sides keys its state like the book: ``W1``, ``b1``, ``gamma1``, …

``scratch.book_network.BookNetwork`` and ``zerotorch.networks.base.BookNetwork`` read one table
per network (book key → layer attribute); these tests hold every network to it: the keys, their
order, the values moving between the sides, a Lightning checkpoint's ``model.W1``, and one
mask source giving both sides the same dropout.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import scratch.networks as sn
import zerotorch.networks as zn
from scratch.masks import MaskStream
from zerotorch.lit import LitClassifier

SMALL_CONV = {"input_dim": (1, 8, 8), "hidden_size": 4, "output_size": 3,
              "conv_param": {"filter_num": 2, "filter_size": 3, "pad": 0, "stride": 1}}
SMALL_DEEP = {"input_dim": (1, 8, 8), "hidden_size": 4, "output_size": 3,
              **{f"conv_param_{i}": {"filter_num": 2, "filter_size": 3, "pad": 1, "stride": 1}
                 for i in range(1, 7)}}
MLN = {"input_size": 6, "hidden_size_list": [5, 4], "output_size": 3}

# name -> (scratch network, zerotorch network, input shape)
NETWORKS = {
    "SimpleNet": (lambda rng: sn.SimpleNet(rng=rng), lambda: zn.SimpleNet(), (4, 2)),
    "TwoLayerNetCh4": (lambda rng: sn.TwoLayerNetCh4(6, 5, 3, rng=rng),
                       lambda: zn.TwoLayerNetCh4(6, 5, 3), (4, 6)),
    "TwoLayerNet": (lambda rng: sn.TwoLayerNet(6, 5, 3, rng=rng),
                    lambda: zn.TwoLayerNet(6, 5, 3), (4, 6)),
    "MultiLayerNet": (lambda rng: sn.MultiLayerNet(**MLN, weight_decay_lambda=0.1, rng=rng),
                      lambda: zn.MultiLayerNet(**MLN, weight_decay_lambda=0.1), (4, 6)),
    "MultiLayerNetExtend": (
        lambda rng: sn.MultiLayerNetExtend(**MLN, use_batchnorm=True, use_dropout=True, rng=rng),
        lambda: zn.MultiLayerNetExtend(**MLN, use_batchnorm=True, use_dropout=True), (4, 6)),
    "SimpleConvNet": (lambda rng: sn.SimpleConvNet(**SMALL_CONV, rng=rng),
                      lambda: zn.SimpleConvNet(**SMALL_CONV), (4, 1, 8, 8)),
    "DeepConvNet": (lambda rng: sn.DeepConvNet(**SMALL_DEEP, rng=rng),
                    lambda: zn.DeepConvNet(**SMALL_DEEP), (4, 1, 8, 8)),
}
BOOK_KEY = re.compile(r"(W|b|gamma|beta|running_mean|running_var)\d+|W")


def _book_keys(params: dict) -> list[str]:
    """The book's params keys, each batch-norm layer's running statistics after its β."""
    out = []
    for k in params:
        out.append(k)
        if k.startswith("beta"):
            out += [f"running_mean{k[4:]}", f"running_var{k[4:]}"]
    return out


def _pair(name, rng):
    make_s, make_z, shape = NETWORKS[name]
    s = make_s(rng)
    s.predict(rng.standard_normal(shape), train_flg=True)  # batch norm's statistics exist
    z = make_z().double()
    return s, z, shape


def test_every_network_of_both_sides_is_in_the_table():
    for side in (sn, zn):
        nets = {n for n in dir(side) if isinstance(getattr(side, n), type)
                and issubclass(getattr(side, n), side.BookNetwork) and n != "BookNetwork"}
        assert nets == set(NETWORKS), side.__name__


@pytest.mark.parametrize("name", NETWORKS)
def test_state_dict_keys_are_the_books_on_both_sides(name, rng):
    s, z, _ = _pair(name, rng)
    keys = _book_keys(s.params)
    assert all(BOOK_KEY.fullmatch(k) for k in keys), keys
    assert list(s.state_dict()) == keys
    assert list(z.state_dict()) == keys
    assert list(z.book_params()) == list(s.params)


@pytest.mark.parametrize("name", NETWORKS)
def test_state_moves_between_the_sides_by_book_key(name, rng):
    s, z, shape = _pair(name, rng)
    z.load_state_dict({k: torch.as_tensor(v) for k, v in s.state_dict().items()})  # strict
    for k, v in z.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), s.state_dict()[k], err_msg=k)
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(z.predict(torch.as_tensor(x)).detach().numpy(), s.predict(x),
                               rtol=1e-10, atol=1e-12)  # test mode: the running statistics too
    back = NETWORKS[name][0](np.random.default_rng(1))
    back.load_state_dict({k: v.numpy() for k, v in z.state_dict().items()})
    np.testing.assert_allclose(back.predict(x), s.predict(x), rtol=1e-12, atol=1e-14)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        z.load_state_dict({**z.state_dict(), "W99": torch.zeros(1)})


@pytest.mark.parametrize("name", ["TwoLayerNet", "MultiLayerNetExtend", "DeepConvNet"])
def test_a_lightning_checkpoint_keys_the_network_like_the_book(name, rng, tmp_path):
    s, z, _ = _pair(name, rng)
    lit = LitClassifier(z)
    keys = [f"model.{k}" for k in _book_keys(s.params)]
    assert list(lit.state_dict()) == keys
    torch.save(lit.state_dict(), tmp_path / "ckpt.pt")
    fresh = LitClassifier(NETWORKS[name][1]().double())
    fresh.load_state_dict(torch.load(tmp_path / "ckpt.pt", weights_only=True))
    for k, v in fresh.state_dict().items():
        torch.testing.assert_close(v, lit.state_dict()[k], rtol=0, atol=0)


@pytest.mark.parametrize("name", ["MultiLayerNetExtend", "DeepConvNet"])
def test_one_mask_source_gives_both_sides_the_same_dropout(name, rng):
    s, z, shape = _pair(name, rng)
    z.load_params(s.params)
    s.use_masks(MaskStream(3))
    z.use_masks(MaskStream(3))
    x = rng.standard_normal(shape)
    for _ in range(2):  # call for call, the streams stay in step
        y_s = s.predict(x, train_flg=True)
        y_z = z.predict(torch.as_tensor(x), train_flg=True).detach().numpy()
        np.testing.assert_allclose(y_z, y_s, rtol=1e-10, atol=1e-12)
    for d_s, d_z in zip(s.dropout_layers, z.dropout_layers, strict=True):
        np.testing.assert_array_equal(d_z.mask.numpy(), d_s.mask)
    z.use_masks(MaskStream.replay([d.mask for d in s.dropout_layers]))  # replayed, once
    np.testing.assert_allclose(z.predict(torch.as_tensor(x), train_flg=True).detach().numpy(),
                               y_s, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", ["TwoLayerNet", "MultiLayerNetExtend", "SimpleConvNet",
                                  "DeepConvNet"])
def test_to_builtin_is_assembled_from_each_layers_builtin(name, rng):
    s, z, shape = _pair(name, rng)
    z.load_params(s.params).eval()
    seq = z.set_dropout_convention("torch").to_builtin()
    assert not any(type(m).__module__.startswith("zerotorch") for m in seq.modules())
    x = torch.as_tensor(rng.standard_normal(shape))
    torch.testing.assert_close(seq(x), z(x), rtol=1e-12, atol=1e-12)
