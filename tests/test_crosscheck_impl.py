"""``zerotorch crosscheck --impl``: a reader's own code graded, diagnosed and sandboxed.

The implementations checked here are small hand-written ones in ``tests/impls/`` (see its
README): correct ones must pass, every planted bug must fail with its one-line diagnosis, and
code that loops, crashes or exits must be reported per concept while the rest of the report
goes on. Our own ``scratch`` package, loaded as a reader's module, must be all green.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from zerotorch.crosscheck import REGISTRY, Impl, LayerPair, concepts, format_table
from zerotorch.crosscheck.impl.check import check_concept
from zerotorch.crosscheck.impl.user import (
    check_impl,
    exit_status,
    note_failed_requirements,
    run_user,
)
from zerotorch.crosscheck.runner import ConceptResult

ROOT = Path(__file__).resolve().parents[1]
IMPLS = Path(__file__).resolve().parent / "impls"
# A concept that loops forever is stopped after this many seconds in the sandbox test; small
# so the test is quick, large enough that a correct concept never hits it on a loaded machine.
TEST_TIMEOUT = 5.0


def _load_planted() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("zt_planted_impl", IMPLS / "planted.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


PLANTED = _load_planted()
concepts()  # fill the registry


def _impl(**objects) -> Impl:
    ns = types.SimpleNamespace(**objects)
    return Impl("planted", {"functions": ns, "layers": ns, "optimizer": ns, "networks": ns,
                            "util": ns})


def _concept(name: str):
    assert name in REGISTRY, f"{name} is not registered: its --impl check would silently vanish"
    return REGISTRY[name]


# ------------------------------------------------------------------ a Pooling pair for the tests


class _MaxPool(torch.nn.Module):
    """Reference max pooling (pad 0) built on F.max_pool2d: the gradient to the first maximum."""

    def __init__(self, pool_h, pool_w, stride=1, pad=0):
        super().__init__()
        self.k, self.stride = (pool_h, pool_w), stride

    def forward(self, x):
        return F.max_pool2d(x, self.k, self.stride)


POOLING_PAIR = LayerPair(
    name="layers.Pooling", chapter="7.4.4", torch_cls=_MaxPool,
    init=lambda rng: {"pool_h": 2, "pool_w": 2, "stride": 2, "pad": 0},
    inputs=lambda rng: (rng.standard_normal((2, 3, 4, 4)),),
    probes=_concept("layers.Pooling").probes, diagnoses=_concept("layers.Pooling").diagnoses,
)


# ------------------------------------------------------------------ every diagnosis fires


@pytest.mark.parametrize(("concept", "book_attr", "planted", "stage", "diagnosis"), [
    ("layers.Affine", "Affine", "AffineTransposedDW", "dW", r"dW is transposed"),
    ("layers.Affine", "Affine", "AffineFlatDx", "dx", r"right values but shape \(4, 12\)"),
    ("layers.Affine", "Affine", "AffineDbNotSummed", "db", r"not summed over the batch"),
    ("layers.Affine", "Affine", "AffineDbOffByOne", "db", r"off by the constant 1 "),
    ("layers.Affine", "Affine", "AffineDWAveraged", "dW", r"N = 4 times too small"),
    ("layers.Affine", "Affine", "AffineNoDW", "dW", r"did not set self\.dW"),
    ("layers.Affine", "Affine", "AffineFloat32", "forward", r"float32"),
    ("layers.Sigmoid", "Sigmoid", "SigmoidNoReturn", "forward", r"returned None"),
    ("layers.Sigmoid", "Sigmoid", "SigmoidSignFlipped", "dx", r"sign flipped"),
    ("layers.Relu", "Relu", "ReluKink", "dx", r"only where x = 0"),
    ("layers.SoftmaxWithLoss", "SoftmaxWithLoss", "SoftmaxWithLossNoMean", "dx",
     r"N = 5 times too large: missing division by the batch size"),
    ("layers.SoftmaxWithLoss", "SoftmaxWithLoss", "SoftmaxWithLossOverflow",
     "forward [x + 1000]", r"softmax overflows"),
    ("functions.softmax", "softmax", "softmax_without_max", "forward", r"softmax overflows"),
    ("layers.BatchNormalization", "BatchNormalization", "BatchNormalizationUnbiased", "forward",
     r"unbiased variance"),
    ("layers.BatchNormalization[eval]", "BatchNormalization", "BatchNormalizationEps7",
     "forward", r"eps = 1e-7; the book's is 10e-7"),
    ("optimizer.Momentum", "Momentum", "MomentumForgetful", "f(x,y) trajectory",
     r"first 1 updates agree, update 2 differs"),
    ("optimizer.AdaGrad", "AdaGrad", "AdaGradEpsInRoot", "f(x,y) trajectory",
     r"is the 1e-7 inside the square root"),
    ("networks.predict", "predict", "predict_returns_argmax", "forward",
     r"returns class indices \(argmax\)"),
    ("networks.TwoLayerNetCh4", "TwoLayerNetCh4", "TwoLayerNetL2InLossOnly", "loss",
     r"loss differs but every gradient agrees: .*an L2 term"),
])
def test_planted_bug_is_diagnosed(concept, book_attr, planted, stage, diagnosis):
    """Each planted mistake FAILs at the stage it breaks, with the diagnosis that names it."""
    pair = _concept(concept)
    result = check_concept(pair, _impl(**{book_attr: getattr(PLANTED, planted)}), seed=0)
    assert result.status == "FAIL", (result.status, result.error)
    assert result.first_failure().label == stage
    assert result.diagnosis, "no diagnosis"
    assert re.search(diagnosis, result.diagnosis), result.diagnosis


@pytest.mark.parametrize(("planted", "diagnosis"), [
    ("col2im_assigns", r"wrong only where windows overlap: .* added"),
    ("col2im_averages", r"divides by the number of overlapping windows"),
])
def test_a_col2im_that_does_not_add_overlaps_is_named(planted, diagnosis):
    from scratch.util import im2col

    result = check_concept(_concept("util.col2im"),
                           _impl(im2col=im2col, col2im=getattr(PLANTED, planted)), seed=0)
    assert result.status == "FAIL", (result.status, result.error)
    assert re.search(diagnosis, result.diagnosis), result.diagnosis


def test_an_optimizer_over_lists_is_told_the_books_params_are_dicts():
    result = check_concept(_concept("optimizer.SGD"), _impl(SGD=PLANTED.SGDOverLists))
    assert result.status == "ERROR" and "KeyError: 0" in result.error
    assert "dicts keyed 'W1'" in result.diagnosis and "second book" in result.diagnosis


def test_a_pair_can_bring_its_own_diagnosis():
    import dataclasses

    pair = dataclasses.replace(_concept("layers.Affine"), diagnoses=(
        lambda result, ctx: f"custom: {result.stages[0].name}",))
    result = check_concept(pair, _impl(Affine=PLANTED.AffineTransposedDW))
    assert result.diagnosis == "custom: forward"
    assert check_concept(pair, _impl(Affine=PLANTED.Affine)).diagnosis == ""


def test_correct_planted_base_classes_pass():
    """The controls: the correct Affine and Pooling the bugs are derived from pass."""
    assert check_concept(_concept("layers.Affine"), _impl(Affine=PLANTED.Affine)).status == "PASS"
    assert check_concept(POOLING_PAIR, _impl(Pooling=PLANTED.Pooling)).status == "PASS"


def test_pooling_gradient_to_every_tied_maximum_is_diagnosed():
    """Random inputs have no ties, so only the tied-maxima probe can catch this bug."""
    result = check_concept(POOLING_PAIR, _impl(Pooling=PLANTED.PoolingEveryMax), keep_arrays=True)
    assert result.status == "FAIL"
    plain = next(s for s in result.stages if s.name == "dx")
    assert plain.ok, "without ties the bug is invisible"
    assert result.first_failure().label == "dx [tied maxima]"
    assert "every maximum" in result.diagnosis


def test_relu_writing_into_dout_is_the_books_relu():
    """The book's Relu.backward writes into dout: PASS (book), with the note; another Relu bug
    is not excused as the book's."""
    result = check_concept(_concept("layers.Relu"), _impl(Relu=PLANTED.ReluInPlace))
    assert result.verdict == "PASS (book)" and "writes zeros into the caller's dout" in (
        result.differs)
    kink = check_concept(_concept("layers.Relu"), _impl(Relu=PLANTED.ReluKink))
    assert kink.verdict == "FAIL" and kink.reference == "pytorch"
    table = format_table([result, kink], "planted", shapes=True)
    assert "layers.Relu: PASS (book): Relu.backward writes zeros" in table
    assert "shapes: yours (5, 6), expected (5, 6)" in table
    assert exit_status([result]) == 0 and exit_status([result], strict=True) == 1


def test_softmax_with_loss_ignoring_dout_is_the_books_backward():
    pair = _concept("layers.SoftmaxWithLoss[dout]")

    class IgnoresDout(PLANTED.SoftmaxWithLossNoMean):
        def backward(self, dout=1):
            return super().backward(1) / len(self.y)

    result = check_concept(pair, _impl(SoftmaxWithLoss=IgnoresDout))
    assert result.verdict.startswith("PASS (book") and "ignores dout" in result.differs
    assert result.distance == pytest.approx(0.126, abs=1e-3)  # dx is 1/0.37 times torch's


# ------------------------------------------------------------------ loading, sandbox, report


def test_scratch_as_a_module_is_all_green(tmp_path, monkeypatch):
    """``--impl scratch``: our own package loaded like a reader's, every concept, no failure."""
    monkeypatch.chdir(tmp_path)  # no scratch/ folder here: "scratch" is the importable module
    from zerotorch.crosscheck.impl.loader import locate
    assert locate("scratch")[0] == "module"
    results = check_impl("scratch", timeout=120)
    bad = [(r.name, r.status, r.error or r.diagnosis) for r in results
           if r.status in ("FAIL", "ERROR", "TIMEOUT")]
    assert not bad
    assert sum(r.status == "PASS" for r in results) >= 10
    assert exit_status(results) == 0


def test_folder_importing_itself_as_common_loads_and_passes():
    """``from common.functions import *`` inside the folder works; absent concepts are MISSING."""
    results = {r.name: r for r in check_impl(
        str(IMPLS / "good_common"),
        only=["functions.softmax", "functions.cross_entropy_error", "layers.Relu",
              "layers.Affine", "layers.SoftmaxWithLoss", "layers.SoftmaxWithLoss[dout]",
              "layers.BatchNormalization", "optimizer.Momentum"],
        timeout=120)}
    for name in ("functions.softmax", "layers.Relu", "layers.Affine", "layers.SoftmaxWithLoss",
                 "optimizer.Momentum"):
        assert results[name].status == "PASS", (name, results[name].error,
                                                results[name].first_failure())
    assert results["layers.BatchNormalization"].status == "MISSING"
    assert exit_status(list(results.values())) == 0


def test_single_file_loops_crashes_and_exits_are_contained():
    """An endless loop → TIMEOUT within the limit, a segfault and sys.exit → ERROR with the
    reader's line; the worker is replaced and the concepts around them are still checked."""
    only = ["functions.softmax", "layers.Relu", "layers.Sigmoid", "layers.Affine",
            "layers.MulLayer", "layers.AddLayer"]
    for name in only:
        _concept(name)
    start = time.monotonic()
    results = {r.name: r for r in check_impl(str(IMPLS / "crashing.py"), only=only,
                                             timeout=TEST_TIMEOUT)}
    elapsed = time.monotonic() - start
    assert results["functions.softmax"].status == "PASS"  # a single file works
    relu, sig, aff, mul = (results[n] for n in ("layers.Relu", "layers.Sigmoid",
                                                "layers.Affine", "layers.MulLayer"))
    assert relu.status == "ERROR" and "SystemExit: 3" in relu.error
    assert "crashing.py" in relu.error and "sys.exit(3)" in relu.error
    assert sig.status == "ERROR" and "SIGSEGV" in sig.error
    assert "crashing.py" in sig.error and "ctypes.string_at(0)" in sig.error
    assert aff.status == "TIMEOUT" and f"{TEST_TIMEOUT:g} s" in aff.error
    assert "crashing.py" in aff.error and ("n += 1" in aff.error or "while n" in aff.error)
    assert mul.status == "ERROR" and "ValueError: planted error" in mul.error
    assert "crashing.py" in mul.error
    assert results["layers.AddLayer"].status == "MISSING"
    assert exit_status(list(results.values())) == 1
    assert elapsed < TEST_TIMEOUT + 90, elapsed  # the loop was stopped, not waited out


def test_file_that_fails_to_import_is_one_error_row_and_blocks_not_missing(tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "functions.py").write_text((IMPLS / "good_common" / "functions.py").read_text())
    (folder / "layers.py").write_text("from common.functions import *\n\nx = undefined_name\n"
                                      "\n\nclass Relu:\n    pass\n\n\nclass Affine:\n    pass\n")
    rows = check_impl(str(folder), only=["functions.softmax", "layers.Affine", "layers.Relu"],
                      timeout=120)
    results = {r.name: r for r in rows}
    assert results["functions.softmax"].status == "PASS"
    err = results["import layers.py"]
    assert rows[0] is err  # the import failure comes first, once
    assert err.status == "ERROR" and "NameError" in err.error
    assert "layers.py:3" in err.error and "undefined_name" in err.error
    assert err.diagnosis == "blocks 2 concepts: layers.Relu, layers.Affine"  # registry order
    for name in ("layers.Affine", "layers.Relu"):
        assert results[name].status == "BLOCKED" and results[name].blocked_by == "layers.py"
    assert exit_status(rows) == 1
    # a concept the broken file does not define is MISSING, not BLOCKED
    rows = {r.name: r for r in check_impl(str(folder), only=["layers.Sigmoid"], timeout=120)}
    assert rows["layers.Sigmoid"].status == "MISSING" and "import layers.py" not in rows


def test_folder_is_also_importable_under_its_own_name():
    code = ("from zerotorch.crosscheck.impl.loader import load_impl\n"
            f"impl = load_impl({str(IMPLS / 'good_common')!r})\n"
            "A = impl.resolve('layers.Affine')\n"
            "import good_common.layers, common.layers\n"
            "assert good_common.layers is common.layers and A is common.layers.Affine\n"
            "assert impl.resolve('layers.NoSuchLayer') is None\n"
            "assert impl.resolve('layers.AFFINE') is A  # differs only in case\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_cli_json_on_a_buggy_folder():
    """The documented command: exit 1, JSON with stage, sizes, shapes and diagnoses."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-m", "zerotorch", "crosscheck", "--impl", str(IMPLS / "buggy_common"),
         "--only", "layers.Affine", "--only", "layers.Relu", "--only", "layers.SoftmaxWithLoss",
         "--only", "functions.softmax", "--json"],
        capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert out.returncode == 1, out.stderr
    report = {c["name"]: c for c in json.loads(out.stdout)["concepts"]}
    affine = report["layers.Affine"]
    assert affine["status"] == "FAIL" and affine["first_failure"] == "dW"
    dW = next(s for s in affine["stages"] if s["name"] == "dW")
    assert dW["shape_actual"] == [5, 12] and dW["shape_expected"] == [12, 5]
    assert "transposed" in affine["diagnosis"]
    relu = report["layers.Relu"]
    assert relu["verdict"] == "PASS (book)" and "dout" in relu["differs_from_pytorch"]
    assert "batch size" in report["layers.SoftmaxWithLoss"]["diagnosis"]
    assert "overflows" in report["functions.softmax"]["diagnosis"]


def test_unknown_impl_and_unknown_concept_exit_2(capsys):
    args = argparse.Namespace(impl="no/such/folder_or_module", only=None, json=False, seed=0,
                              timeout=5.0, strict=False)
    assert run_user(args) == 2
    assert "no/such/folder_or_module" in capsys.readouterr().err
    args = argparse.Namespace(impl=str(IMPLS / "good_common"), only=["layers.NoSuchLayer"],
                              json=False, seed=0, timeout=5.0, strict=False)
    assert run_user(args) == 2
    assert "unknown concept" in capsys.readouterr().err


def test_diagnosis_patterns_on_arrays():
    """The array patterns without a pair: axes order (conv dW), N/(N−1), momentum 9×, offset."""
    from zerotorch.crosscheck.compare import compare
    from zerotorch.crosscheck.diagnose import diagnose

    rng = np.random.default_rng(0)
    bn = _concept("layers.BatchNormalization")  # its inputs have a batch of 6

    def diag(stage):
        return diagnose(ConceptResult(bn.name, bn.chapter, "FAIL", [stage]), bn, 0)

    e = rng.standard_normal((4, 3, 2, 5))
    assert "axes in the wrong order" in diag(compare("dW", e, e.transpose(1, 0, 2, 3)))
    v = rng.uniform(0.5, 2.0, 12)
    assert "N/(N−1) = 6/5" in diag(compare("running_var", v, v * 6 / 5))
    assert "momentum convention is swapped" in diag(compare("running_mean", v, 9 * v))
    assert "off by the constant 0.9" in diag(compare("running_var", v, v + 0.9))


def test_a_network_built_from_failing_layers_points_at_them():
    """``Concept.requires``: a failing network whose layer also fails says to fix the layer."""
    net = _concept("networks.TwoLayerNet")
    assert "layers.Affine" in net.requires
    affine = _concept("layers.Affine")
    relu = _concept("layers.Relu")

    def rows(net_status, affine_status):
        return [ConceptResult(affine.name, affine.chapter, affine_status),
                ConceptResult(relu.name, relu.chapter, "PASS"),
                ConceptResult(net.name, net.chapter, net_status, diagnosis="dW1 is transposed")]

    results = rows("FAIL", "FAIL")
    note_failed_requirements(results, [affine, relu, net])
    assert results[2].diagnosis == ("built from layers.Affine, which fails too: fix that first; "
                                    "dW1 is transposed")
    assert results[0].diagnosis == ""  # the layer itself has no requirements
    for net_status, affine_status in (("FAIL", "PASS"), ("PASS", "FAIL")):
        results = rows(net_status, affine_status)
        note_failed_requirements(results, [affine, relu, net])
        assert results[2].diagnosis == "dW1 is transposed"


def test_a_loss_spelling_train_flag_is_graded_in_training_mode():
    """The network pairs put ``loss`` in training mode through the reader's own spelling of
    ``train_flg`` (mapped by the adapter): in test mode the BN net's loss differs from the
    training-mode gradients, a false FAIL."""
    only = ["networks.MultiLayerNetExtend", "networks.MultiLayerNetExtend[dropout]"]
    rows = {r.name: r for r in check_impl(str(IMPLS / "train_flag_spelling.py"), only=only,
                                          timeout=120)}
    for name in only:
        assert rows[name].status == "PASS", (name, rows[name].diagnosis, rows[name].error)


def test_optimizers_with_a_step_method_are_graded_as_update():
    rows = {r.name: r for r in check_impl(str(IMPLS / "step_optimizer.py"),
                                          only=["optimizer.SGD", "optimizer.Momentum"],
                                          timeout=120)}
    for name, cls in (("optimizer.SGD", "SGD"), ("optimizer.Momentum", "Momentum")):
        assert rows[name].status == "PASS", (name, rows[name].error)
        assert f"{cls}.step read as update" in " ".join(rows[name].adapted), rows[name].adapted
