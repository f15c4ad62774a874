"""ch2 perceptron gates: the book's truth tables on both sides, scalar and batched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scratch import perceptron as sp
from zerotorch import perceptron as zp

TRUTH = {
    "AND": (0, 0, 0, 1),
    "NAND": (1, 1, 1, 0),
    "OR": (0, 1, 1, 1),
    "XOR": (0, 1, 1, 0),
}
INPUTS = sp.TRUTH_TABLE_INPUTS  # (0, 0), (1, 0), (0, 1), (1, 1)


@pytest.mark.parametrize("gate", list(TRUTH))
def test_truth_table_scalar(gate):
    for side in (sp, zp):
        got = tuple(getattr(side, gate)(x1, x2) for x1, x2 in INPUTS)
        assert got == TRUTH[gate], f"{side.__name__}.{gate}: {got}, expected {TRUTH[gate]}"
        assert all(type(v) is int for v in got)


@pytest.mark.parametrize("gate", list(TRUTH))
def test_truth_table_batched(gate):
    x1, x2 = (np.array(col) for col in zip(*INPUTS, strict=True))
    np.testing.assert_array_equal(getattr(sp, gate)(x1, x2), TRUTH[gate])
    out = getattr(zp, gate)(torch.tensor(x1), torch.tensor(x2))
    assert out.dtype == torch.int64
    np.testing.assert_array_equal(out.numpy(), TRUTH[gate])


def test_book_parameters_and_boundary():
    assert sp.AND_PARAMS == (0.5, 0.5, -0.7)
    assert sp.NAND_PARAMS == (-0.5, -0.5, 0.7)
    assert sp.OR_PARAMS == (0.5, 0.5, -0.2)
    # a weighted sum of exactly 0 gives 0 (the book's "<= theta -> 0")
    assert sp.perceptron(1, 1, 0.5, 0.5, -1.0) == zp.perceptron(1, 1, 0.5, 0.5, -1.0) == 0
    assert sp.perceptron(1, 1, 0.5, 0.5, -0.999) == zp.perceptron(1, 1, 0.5, 0.5, -0.999) == 1
    assert int(zp.Perceptron(0.5, 0.5, -1.0)(torch.tensor([[1.0, 1.0]]))[0]) == 0


def test_perceptron_module_matches_scratch_on_a_grid():
    grid = np.linspace(-1, 2, 13)
    x1, x2 = np.meshgrid(grid, grid)
    for params in (sp.AND_PARAMS, sp.NAND_PARAMS, sp.OR_PARAMS):
        want = sp.perceptron(x1, x2, *params)
        assert 0 < want.sum() < want.size  # the grid straddles the decision line
        x = torch.tensor(np.stack([x1, x2], axis=-1))  # (13, 13, 2)
        np.testing.assert_array_equal(zp.Perceptron(*params)(x).numpy(), want)
        np.testing.assert_array_equal(zp.perceptron(torch.tensor(x1), torch.tensor(x2),
                                                    *params).numpy(), want)


def test_xor_is_not_one_perceptron():
    """ch2.4: no single (w1, w2, b) on a coarse grid reproduces XOR; two layers do."""
    values = np.linspace(-1, 1, 21)
    x1, x2 = (np.array(col) for col in zip(*INPUTS, strict=True))
    for w1 in values:
        for w2 in values:
            for b in values:
                assert tuple(sp.perceptron(x1, x2, w1, w2, b)) != TRUTH["XOR"]
