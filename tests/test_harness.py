"""The harness itself: every registered pair is green, and planted bugs are caught."""

from __future__ import annotations

import re
import types

import numpy as np
import pytest
import torch

import scratch.layers
from zerotorch import functional as zF
from zerotorch.crosscheck import (
    REGISTRY,
    ComparisonError,
    Impl,
    LayerPair,
    assert_stages,
    compare,
    concepts,
    run_concept,
    scratch_impl,
)
from zerotorch.crosscheck.gradcheck import as_function, numerical_layer_stages

ALL = concepts()


@pytest.mark.parametrize("concept", ALL, ids=[c.name for c in ALL])
def test_registered_pair_agrees(concept):
    """scratch vs zerotorch vs built-in, float64, random upstream gradients."""
    result = run_concept(concept, scratch_impl(), seed=0)
    assert result.status == "PASS", result.error or "\n".join(
        s.describe() for s in result.stages if not s.ok)
    assert result.stages, "a concept must compare something"


def test_registry_seeded_with_activations_and_affine():
    for name in ("functions.sigmoid", "functions.relu", "functions.softmax", "layers.Affine"):
        assert name in REGISTRY


def test_requirements_name_registered_concepts():
    """``Concept.requires`` feeds the --impl report's "fix that first": a misspelt name there
    would silently never fire."""
    book_names = {c.book_name for c in ALL}
    for c in ALL:
        assert set(c.requires) <= book_names, (c.name, set(c.requires) - book_names)
    assert any(c.requires for c in ALL)


def test_compare_reports_shape_nan_and_size():
    assert not compare("dx", np.zeros((2, 3)), np.zeros((3, 2))).ok
    assert not compare("dx", np.zeros(3), np.array([0.0, np.nan, 0.0])).ok
    s = compare("dx", np.ones(3), np.ones(3) + 1e-6)
    assert not s.ok and s.max_abs == pytest.approx(1e-6)
    assert compare("dx", np.ones(3), np.ones(3) + 1e-13).ok
    assert not compare("dx", np.ones(3), "not an array").ok


def test_assert_stages_names_concept_stage_and_size():
    stages = [compare("dW", np.ones((2, 2)), np.ones((2, 2)) * 1.5)]
    with pytest.raises(ComparisonError, match=r"(?s)layers\.Affine.*dW.*max\|Δ\|=0\.5"):
        assert_stages("layers.Affine", stages)


def _impl_with_layers(**classes) -> Impl:
    return Impl("planted", {"layers": types.SimpleNamespace(**classes)})


class TransposedAffine(scratch.layers.Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = (dout.T @ self.x)  # (out, in): the classic transposed gradient
        return dx


class SquareTransposedAffine(scratch.layers.Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = self.dW.T  # same shape when in == out: only the values can reveal it
        return dx


class OffByOneBiasAffine(scratch.layers.Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.db = self.db + 1.0
        return dx


class ZeroGradSoftmax:
    """A softmax layer whose backward returns zeros."""

    def forward(self, x):
        from scratch.functions import softmax
        self.y = softmax(x)
        return self.y

    def backward(self, dout):
        return np.zeros_like(dout)


class CorrectSoftmax(ZeroGradSoftmax):
    def backward(self, dout):
        return self.y * (dout - (dout * self.y).sum(axis=1, keepdims=True))


class _SoftmaxModule(torch.nn.Module):
    def forward(self, x):
        return zF.softmax(x)


SOFTMAX_PAIR = LayerPair(name="layers.Softmax", chapter="-", torch_cls=_SoftmaxModule,
                         inputs=lambda rng: (rng.standard_normal((4, 6)),))


@pytest.mark.parametrize(("bug", "stage"), [
    (TransposedAffine, "dW"),
    (OffByOneBiasAffine, "db"),
])
def test_planted_affine_bugs_fail(bug, stage):
    result = run_concept(REGISTRY["layers.Affine"], _impl_with_layers(Affine=bug))
    assert result.status == "FAIL"
    assert result.first_failure().name == stage


def test_square_transposed_gradient_fails_on_values():
    pair = REGISTRY["layers.Affine"]
    square = LayerPair(name="layers.Affine", chapter="5.6.2", torch_cls=pair.torch_cls,
                       init=lambda rng: {"W": rng.standard_normal((6, 6)),
                                         "b": rng.standard_normal(6)},
                       inputs=lambda rng: (rng.standard_normal((4, 6)),), params=("W", "b"))
    assert run_concept(square, scratch_impl()).status == "PASS"
    result = run_concept(square, _impl_with_layers(Affine=SquareTransposedAffine))
    assert result.status == "FAIL" and result.first_failure().name == "dW"


def test_softmax_backward_returning_zeros_fails_where_ones_would_not():
    assert run_concept(SOFTMAX_PAIR, _impl_with_layers(Softmax=CorrectSoftmax)).status == "PASS"
    result = run_concept(SOFTMAX_PAIR, _impl_with_layers(Softmax=ZeroGradSoftmax))
    assert result.status == "FAIL" and result.first_failure().name == "dx"
    # Why the upstream gradient must be random: with dout = 1 the true softmax gradient is 0,
    # so the broken backward would have passed an out.sum() check.
    y = CorrectSoftmax()
    y.forward(np.random.default_rng(0).standard_normal((4, 6)))
    np.testing.assert_allclose(y.backward(np.ones((4, 6))), 0.0, atol=1e-15)


def test_missing_concept_is_reported_not_failed():
    result = run_concept(REGISTRY["layers.Affine"], Impl("empty", {}))
    assert result.status == "MISSING"


def test_exception_in_implementation_is_reported_with_its_line():
    class Broken(scratch.layers.Affine):
        def backward(self, dout):
            raise RuntimeError("boom")

    result = run_concept(REGISTRY["layers.Affine"], _impl_with_layers(Affine=Broken))
    assert result.status == "ERROR"
    assert "RuntimeError: boom" in result.error and "test_harness.py" in result.error


@pytest.mark.parametrize("layer_factory,params", [
    (lambda rng: scratch.layers.Affine(rng.standard_normal((6, 3)), rng.standard_normal(3)),
     ("W", "b")),
    (lambda rng: scratch.layers.Sigmoid(), ()),
], ids=["Affine", "Sigmoid"])
def test_scratch_layer_numerical_gradient(layer_factory, params, rng):
    layer = layer_factory(rng)
    stages = numerical_layer_stages(layer, rng.standard_normal((4, 6)), params, rng)
    assert_stages(type(layer).__name__, stages)


def test_numerical_check_catches_planted_bug(rng):
    layer = OffByOneBiasAffine(rng.standard_normal((6, 3)), rng.standard_normal(3))
    stages = numerical_layer_stages(layer, rng.standard_normal((4, 6)), ("W", "b"), rng)
    assert [s.name for s in stages if not s.ok] == ["db"]


def test_torch_gradcheck_on_scratch_layers(rng):
    affine = scratch.layers.Affine(rng.standard_normal((6, 3)), rng.standard_normal(3))
    f = as_function(affine, ("W", "b"))
    x = torch.tensor(rng.standard_normal((4, 6)), requires_grad=True)
    W = torch.tensor(affine.W, requires_grad=True)
    b = torch.tensor(affine.b, requires_grad=True)
    assert torch.autograd.gradcheck(f, (x, W, b))
    sig = as_function(scratch.layers.Sigmoid())
    assert torch.autograd.gradcheck(sig, (torch.tensor(rng.standard_normal((3, 5)),
                                                       requires_grad=True),))


def test_torch_gradcheck_rejects_planted_bug(rng):
    bad = OffByOneBiasAffine(rng.standard_normal((6, 3)), rng.standard_normal(3))
    f = as_function(bad, ("W", "b"))
    args = (torch.tensor(rng.standard_normal((4, 6)), requires_grad=True),
            torch.tensor(bad.W, requires_grad=True), torch.tensor(bad.b, requires_grad=True))
    assert not torch.autograd.gradcheck(f, args, raise_exception=False)


@pytest.mark.parametrize("as_json", [False, True], ids=["table", "json"])
def test_crosscheck_command_fails_with_status_1_naming_concept_stage_and_sizes(
        monkeypatch, capsys, as_json):
    """``zerotorch crosscheck`` on a broken side: exit 1; the report names the concept, the
    stage and both the max abs and max rel difference (db off by 1 everywhere)."""
    import json

    import zerotorch.crosscheck
    from zerotorch.cli import main

    monkeypatch.setattr(zerotorch.crosscheck, "scratch_impl",
                        lambda: _impl_with_layers(Affine=OffByOneBiasAffine))
    argv = ["crosscheck", "--only", "layers.Affine", *(["--json"] if as_json else [])]
    assert main(argv) == 1
    out = capsys.readouterr().out
    if as_json:
        (affine,) = json.loads(out)["concepts"]
        assert affine["status"] == "FAIL" and affine["first_failure"] == "db"
        db = next(s for s in affine["stages"] if s["name"] == "db")
        assert db["max_abs"] == pytest.approx(1.0) and db["max_rel"] > 0
    else:
        assert re.search(r"layers\.Affine: FAIL: db \(vs zerotorch\): max\|Δ\|=1, max rel=\S+",
                         out), out
        assert "1 fail" in out


def test_crosscheck_command_fails_when_our_scratch_lacks_a_concept(monkeypatch, capsys):
    """For a reader's --impl code MISSING is fine; for our own scratch it is a regression."""
    import zerotorch.crosscheck
    from zerotorch.cli import main

    monkeypatch.setattr(zerotorch.crosscheck, "scratch_impl", lambda: Impl("scratch", {}))
    assert main(["crosscheck", "--only", "layers.Affine"]) == 1
    assert "1 missing" in capsys.readouterr().out
