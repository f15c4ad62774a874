"""``--impl`` on readers' code as it stands: repository roots, chapter folders, chapter scripts
with top-level code, files outside the book's names, readers' own argument and attribute names,
the forms printed in the book, ``--map`` and "did you mean".

``tests/impls/reader_tree/`` is a small hand-written repository laid out like the book's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from zerotorch.crosscheck.impl.loader import locate
from zerotorch.crosscheck.impl.user import check_impl
from zerotorch.crosscheck.runner import exit_status, format_table

TREE = Path(__file__).resolve().parent / "impls" / "reader_tree"


@pytest.fixture(scope="module")
def tree_rows():
    rows = check_impl(str(TREE), only=[
        "functions.softmax", "functions.cross_entropy_error",
        "functions.cross_entropy_error[1d,label]", "layers.Relu", "layers.Affine",
        "layers.Sigmoid", "layers.MulLayer", "layers.AddLayer", "optimizer.SGD",
        "networks.SimpleNet", "networks.TwoLayerNetCh4"], timeout=120)
    return {r.name: r for r in rows}


def test_a_repository_root_is_read_as_the_book_lays_it_out():
    assert locate(str(TREE)) == ("tree", str(TREE))
    assert locate(str(TREE / "ch04")) == ("tree", str(TREE), "4")
    assert locate(str(TREE / "common")) == ("folder", str(TREE / "common"))


def test_each_concept_comes_from_the_most_specific_file_and_says_which(tree_rows):
    assert tree_rows["functions.softmax"].source == "common/functions.py"
    assert tree_rows["layers.Sigmoid"].source == "common/activation.py"  # not a book name
    assert tree_rows["layers.Sigmoid"].status == "PASS"
    net = tree_rows["networks.TwoLayerNetCh4"]  # ch04's TwoLayerNet, by the book's name
    assert net.source == "ch04/two_layer_net.py (definitions only)"
    assert net.verdict == "PASS (book)", (net.error, net.first_failure())


def test_a_chapter_script_is_read_for_its_definitions_only(tree_rows):
    """gradient_simplenet.py ends in ``raise SystemExit``: it never runs; its simpleNet (self.W,
    no params, no gradient method) is graded as 4.4.2 prints it."""
    net = tree_rows["networks.SimpleNet"]
    assert net.verdict == "PASS (book)", (net.error, net.first_failure())
    assert net.source == "ch04/gradient_simplenet.py (definitions only)"
    assert net.adapted == ["simpleNet.params built from W"]
    assert "central differences of your loss" in net.stages[1].note


def test_a_scripts_failing_imports_and_assignments_do_not_hide_its_classes(tree_rows):
    """ch05/layer_naive.py imports a data loader that is not there and reads x_train."""
    add = tree_rows["layers.AddLayer"]
    assert add.status == "PASS", add.error
    assert add.source == "ch05/layer_naive.py (definitions only)"


def test_an_unimportable_name_raises_its_import_error_when_used(tmp_path):
    from zerotorch.crosscheck.impl.layout import definitions_module

    script = tmp_path / "ch03" / "s.py"
    script.parent.mkdir()
    script.write_text("from nowhere import helper\n\n\ndef f(x):\n    return helper(x)\n\n"
                      "class Net(helper):\n    pass\n")
    with pytest.raises(ModuleNotFoundError, match="nowhere"):  # a class built on it
        definitions_module(script, "_s")
    script.write_text("from nowhere import helper\n\n\ndef f(x):\n    return helper(x)\n")
    mod = definitions_module(script, "_s2")
    with pytest.raises(ImportError, match="helper could not be imported: No module named"):
        mod.f(1)


def test_import_failures_are_grouped_under_the_file_that_caused_them():
    from zerotorch.crosscheck.impl.user import import_rows
    from zerotorch.crosscheck.runner import ConceptResult

    cause = "ModuleNotFoundError: No module named 'x' at /r/common/layers.py:3 (import x)"
    broken = {"layers": cause, "multi_layer_net": cause}
    labels = {"layers": "common/layers.py", "multi_layer_net": "common/multi_layer_net.py"}
    rows = [ConceptResult("layers.Affine", "5.6.2", "BLOCKED", blocked_by="common/layers.py"),
            ConceptResult("networks.MultiLayerNet", "6.4.1", "BLOCKED",
                          blocked_by="common/multi_layer_net.py")]
    (row,) = import_rows(rows, broken, labels)
    assert row.name == "import common/layers.py" and row.error == cause
    assert row.diagnosis == ("blocks 2 concepts: layers.Affine, networks.MultiLayerNet; so do "
                             "the files importing it: common/multi_layer_net.py")
    assert rows[1].blocked_by == "common/layers.py"


def test_import_failures_that_mean_something_else_say_so(tmp_path):
    from zerotorch.crosscheck.impl.user import _import_hint

    (tmp_path / "upstream").mkdir()
    hint = _import_hint("ModuleNotFoundError: No module named 'upstream.common' at "
                        "/r/common/layers.py:5 (from upstream.common.util import im2col)",
                        str(tmp_path))
    assert hint.startswith("upstream/ is empty: a git submodule not checked out?")
    pep695 = ("SyntaxError: expected '(' at /r/common/gradient.py:5 (def numerical_gradient"
              "[T: tuple[int, ...]](f, x):)")
    if sys.version_info < (3, 12):
        assert _import_hint(pep695, None).startswith("written for Python 3.12+")
    assert _import_hint("NameError: name 'x' is not defined", None) == ""


def test_readers_names_are_found_by_position_and_role_and_named(tree_rows):
    affine = tree_rows["layers.Affine"]  # Affine(w, b) keeping dw, db
    assert affine.status == "PASS", (affine.error, affine.first_failure())
    assert affine.adapted == ["Affine.dw read as dW"]
    assert tree_rows["layers.Relu"].status == "PASS"  # class ReLU; exact case tried first
    assert tree_rows["optimizer.SGD"].status == "PASS"  # SGD(learning_rate=…)


def test_printed_forms_are_graded_when_the_general_one_raises(tree_rows):
    affine = tree_rows["layers.Affine"]  # 2-D only, as 5.6.2 prints it
    assert affine.form.startswith("the 2-D form of 5.6.2"), affine.form
    ce = tree_rows["functions.cross_entropy_error"]  # one-hot only, 4.2.4's first form
    assert ce.verdict == "PASS (book)" and ce.form.startswith("one-hot labels only"), ce.form
    label = tree_rows["functions.cross_entropy_error[1d,label]"]  # a label broadcasts silently
    assert label.status == "FAIL"
    assert label.diagnosis.startswith("your cross-entropy takes one-hot labels only"), label
    text = format_table(list(tree_rows.values()), "tree", shapes=True)
    assert "layers.Affine: graded in the 2-D form of 5.6.2" in text
    assert "layers.Affine: your names: Affine.dw read as dW" in text


def test_missing_names_get_a_suggestion_and_map_points_at_them(tree_rows):
    mul = tree_rows["layers.MulLayer"]
    assert mul.status == "MISSING"
    assert "did you mean common/layers.py:MultiplyLayer?" in mul.error
    mapped = {r.name: r for r in check_impl(str(TREE), only=["layers.MulLayer"], timeout=120,
                                            maps=("layers.MulLayer=layers.MultiplyLayer",))}
    assert mapped["layers.MulLayer"].status == "PASS"
    assert mapped["layers.MulLayer"].source == "--map layers.MultiplyLayer"
    with pytest.raises(ValueError, match="expected BOOK.NAME=MODULE.NAME"):
        check_impl(str(TREE), only=["layers.MulLayer"], maps=("MulLayer",))


def test_a_chapter_folder_imports_common_from_its_parent():
    rows = {r.name: r for r in check_impl(str(TREE / "ch04"), only=[
        "networks.TwoLayerNetCh4", "functions.softmax"], timeout=120)}
    assert rows["networks.TwoLayerNetCh4"].verdict == "PASS (book)"
    assert rows["functions.softmax"].source == "common/functions.py"
    assert exit_status(list(rows.values())) == 0


def test_a_module_in_the_current_folder_is_found_without_python_m(tmp_path, monkeypatch):
    (tmp_path / "mymod.py").write_text("def softmax(x):\n    return x\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    before = list(sys.path)
    assert locate("mymod") == ("module", "mymod", str(tmp_path))
    assert sys.path == before  # looked up, not left behind


# --- tests/impls/reader_tree2: the patterns met in readers' repositories ----------------------

TREE2 = TREE.parent / "reader_tree2"


@pytest.fixture(scope="module")
def tree2_rows():
    rows = check_impl(str(TREE2), only=[
        "functions.cross_entropy_error", "functions.step_function", "layers.Relu",
        "layers.Affine", "layers.AddLayer",
        "layers.SoftmaxWithLoss", "layers.Dropout", "networks.SimpleNet",
        "networks.TwoLayerNetCh4", "networks.TwoLayerNet"], timeout=120)
    return {r.name: r for r in rows}


def test_a_library_file_with_one_failed_import_is_still_graded(tree2_rows):
    """common/layers.py imports common.util, which the repository never had; the classes that
    do not use it are graded, and the row says what was missing."""
    relu = tree2_rows["layers.Relu"]  # class ReLULayer
    assert relu.status == "PASS", relu.error
    assert relu.source == ("common/layers.py (loaded without its failed import: "
                           "ModuleNotFoundError: No module named 'common.util')")
    assert not [name for name in tree2_rows if name.startswith("import ")]


def test_static_methods_and_a_label_first_loss_are_called_as_written(tree2_rows):
    assert tree2_rows["layers.AddLayer"].status == "PASS", tree2_rows["layers.AddLayer"].error
    ce = tree2_rows["functions.cross_entropy_error"]
    assert ce.verdict == "PASS (book)", (ce.error, ce.first_failure())
    assert ce.adapted == ["cross_entropy_error(label, prediction) called in its own order: "
                          "label first"]


def test_a_scalar_step_function_and_second_book_lists_are_graded_as_written(tree2_rows):
    step = tree2_rows["functions.step_function"]
    assert step.status == "PASS" and step.form.startswith("one number"), (step.error, step.form)
    affine = tree2_rows["layers.Affine"]
    assert affine.status == "PASS", (affine.error, affine.first_failure())
    assert "Affine.grads[0] read as dW (the second book's lists)" in affine.adapted


def test_the_one_hot_only_softmax_with_loss_of_5_6_3_is_graded_in_that_form(tree2_rows):
    swl = tree2_rows["layers.SoftmaxWithLoss"]
    assert swl.verdict == "PASS (book)", (swl.error, swl.first_failure())
    assert swl.form.startswith("one-hot labels only (the form printed in 5.6.3)")


def test_networks_with_their_own_weight_scale_and_lower_case_weights(tree2_rows):
    ch4 = tree2_rows["networks.TwoLayerNetCh4"]  # no weight_init_std argument
    assert ch4.verdict == "PASS (book)", (ch4.error, ch4.first_failure())
    simple = tree2_rows["networks.SimpleNet"]  # self.w
    assert simple.verdict == "PASS (book)", (simple.error, simple.first_failure())
    assert simple.adapted == ["SimpleNet.params built from w (as W)"]


def test_another_chapters_network_of_the_same_name_is_not_taken(tree2_rows):
    """ch04/two_layer_net.py's TwoLayerNet is ch4's: ch5's TwoLayerNet is missing here."""
    assert tree2_rows["networks.TwoLayerNet"].status == "MISSING"


def test_a_renamed_class_is_suggested_and_the_suggestion_is_printed(tree2_rows):
    drop = tree2_rows["layers.Dropout"]
    assert drop.status == "MISSING"
    assert "did you mean common/misc.py:Dropout_Vanilla_Version?" in drop.error
    text = format_table(list(tree2_rows.values()), "tree2", shapes=True)
    assert "layers.Dropout: MISSING: layers.Dropout (did you mean" in text


def test_keywords_map_by_position_only_into_a_similar_or_early_parameter():
    import inspect

    from zerotorch.crosscheck.impl.adapter import BOOK_ARGS, map_kwargs

    def reader_net(input_size, hidden_size_list, output_size, activation="relu",
                   weight_init_std="relu", weight_decay_lambda=0, use_bn=False, use_wd=False):
        pass

    got = map_kwargs(inspect.signature(reader_net), BOOK_ARGS["MultiLayerNetExtend"],
                     {"input_size": 4, "use_dropout": True, "dropout_ratio": 0.3})
    assert got == {"input_size": 4, "use_dropout": True, "dropout_ratio": 0.3}  # their TypeError

    def affine(w, bias):
        pass

    assert map_kwargs(inspect.signature(affine), BOOK_ARGS["Affine"], {"W": 1, "b": 2}) == {
        "w": 1, "bias": 2}
