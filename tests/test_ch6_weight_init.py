"""ch6.2 weight initialisation: the book's std choices on both sides, and how they relate to
``torch.nn.init`` (He = kaiming_normal_ on the (out, in) layout; the book's "Xavier" is not
Glorot's ``xavier_normal_``)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import scratch.weight_init as sw
import zerotorch.weight_init as zw

FAN_IN, FAN_OUT = 300, 100


@pytest.mark.parametrize(("spec", "expected"), [
    (0.01, 0.01), (1, 1.0), ("relu", math.sqrt(2 / FAN_IN)), ("He", math.sqrt(2 / FAN_IN)),
    ("sigmoid", math.sqrt(1 / FAN_IN)), ("XAVIER", math.sqrt(1 / FAN_IN)),
])
def test_std_choices(spec, expected):
    assert sw.init_std(spec, FAN_IN) == pytest.approx(expected, rel=1e-15)
    assert zw.init_std is sw.init_std  # one formula, shared by both sides


def test_unknown_name_and_shape_errors():
    with pytest.raises(ValueError, match="glorot"):
        sw.init_std("glorot", 10)
    with pytest.raises(ValueError, match=r"\(3,\)"):
        sw.fan_in_of((3,))
    assert sw.fan_in_of((30, 1, 5, 5)) == 25 and sw.fan_in_of((784, 50)) == 784


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_explicit_generators_on_both_sides():
    a = sw.init_weight((FAN_IN, FAN_OUT), "he", np.random.default_rng(1))
    b = sw.init_weight((FAN_IN, FAN_OUT), "he", np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(
        a, math.sqrt(2 / FAN_IN) * np.random.default_rng(1).standard_normal((FAN_IN, FAN_OUT)))
    c = zw.init_weight((FAN_IN, FAN_OUT), "he", _gen(), dtype=torch.float64)
    d = zw.init_weight((FAN_IN, FAN_OUT), "he", _gen(), dtype=torch.float64)
    assert torch.equal(c, d) and abs(c.std().item() / math.sqrt(2 / FAN_IN) - 1) < 0.02
    conv = zw.init_weight((16, 3, 3, 3), "relu", _gen(), dtype=torch.float64)
    # fan_in of a conv W (FN, C, FH, FW) is C·FH·FW = 27
    want = math.sqrt(2 / 27) * torch.randn(16, 3, 3, 3, generator=_gen(), dtype=torch.float64)
    assert torch.equal(conv, want)


def test_number_equals_nn_init_normal():
    ours = zw.init_weight((FAN_IN, FAN_OUT), 0.05, _gen(), dtype=torch.float64)
    ref = torch.nn.init.normal_(torch.empty(FAN_IN, FAN_OUT, dtype=torch.float64), 0.0, 0.05,
                                generator=_gen())
    assert torch.equal(ours, ref)


def _std_used(init_fn, shape):
    """The exact std an ``nn.init`` function applied: its draws ÷ the same standard normals."""
    drawn = init_fn(torch.empty(*shape, dtype=torch.float64), generator=_gen())
    z = torch.randn(*shape, generator=_gen(), dtype=torch.float64)
    ratio = drawn / z
    assert torch.allclose(ratio, ratio.flatten()[0], rtol=1e-12)
    return ratio.flatten()[0].item()


def test_he_is_kaiming_normal_on_the_out_in_layout_only():
    kaiming = lambda t, generator: torch.nn.init.kaiming_normal_(
        t, mode="fan_in", nonlinearity="relu", generator=generator)
    # nn.Linear layout (out, in): torch's fan_in is dim 1 = in, as the book
    assert _std_used(kaiming, (FAN_OUT, FAN_IN)) == pytest.approx(sw.init_std("he", FAN_IN),
                                                                   rel=1e-14)
    # the book's (in, out) layout handed to torch: it reads fan_in = out
    wrong = _std_used(kaiming, (FAN_IN, FAN_OUT))
    assert wrong == pytest.approx(math.sqrt(2 / FAN_OUT), rel=1e-14)
    assert wrong / sw.init_std("he", FAN_IN) == pytest.approx(math.sqrt(3), rel=1e-14)


def test_book_xavier_is_not_glorot():
    """Book 'xavier' = √(1/fan_in); Glorot (xavier_normal_) = √(2/(fan_in + fan_out)).
    Equal only when fan_in = fan_out (the activation-histogram setting, 100 → 100)."""
    glorot = _std_used(torch.nn.init.xavier_normal_, (FAN_OUT, FAN_IN))
    assert glorot == pytest.approx(zw.glorot_std(FAN_IN, FAN_OUT), rel=1e-14)
    book = sw.init_std("xavier", FAN_IN)
    assert glorot / book == pytest.approx(math.sqrt(2 * FAN_IN / (FAN_IN + FAN_OUT)), rel=1e-14)
    assert glorot / book == pytest.approx(1.2247, abs=1e-4)  # 300 → 100: Glorot is 22 % wider
    square = _std_used(torch.nn.init.xavier_normal_, (100, 100))
    assert square == pytest.approx(sw.init_std("xavier", 100), rel=1e-14)


def test_books_biases_are_zero_unlike_nn_linear():
    lin = torch.nn.Linear(FAN_IN, FAN_OUT)
    assert lin.bias.abs().max() > 0  # torch: U(−1/√fan_in, 1/√fan_in)
    from zerotorch.networks import MultiLayerNet
    net = MultiLayerNet(FAN_IN, [FAN_OUT], 10, generator=_gen())
    assert all(not p.any() for k, p in net.book_params().items() if k.startswith("b"))
