"""``zerotorch.check`` from Python and from the worked notebook, executed by a Jupyter kernel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import zerotorch
from zerotorch.crosscheck.impl.notebook import Report

NOTEBOOK = Path(__file__).resolve().parents[1] / "docs" / "check_your_code.ipynb"


class Affine:
    def __init__(self, W, b):
        self.W, self.b = W, b

    def forward(self, x):
        self.x = x.reshape(x.shape[0], -1)
        self.shape = x.shape
        return self.x @ self.W + self.b

    def backward(self, dout):
        self.dW = self.x.T.dot(dout)  # correct
        self.db = dout.sum(axis=0)
        return (dout @ self.W.T).reshape(self.shape)


class AffineTransposedDW(Affine):
    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = dout.T @ self.x  # planted: (out, in)
        return dx


def test_check_grades_what_it_is_given_by_the_books_names():
    report = zerotorch.check(Affine=Affine)
    assert isinstance(report, Report) and [r.name for r in report] == ["layers.Affine"]
    assert report[0].status == "PASS" and report.exit_status == 0
    bad = zerotorch.check(Affine=AffineTransposedDW)
    assert bad[0].status == "FAIL" and "transposed" in bad[0].diagnosis
    assert bad.exit_status == 1
    html = bad._repr_html_()
    assert "<table>" in html and "layers.Affine" in html and "FAIL" in html
    assert "transposed" in html
    assert "layers.Affine" in str(bad) and "diagnosis" in str(bad)


def test_check_takes_a_namespace_and_stops_an_endless_loop():
    def softmax(x):
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)

    class Sigmoid:
        def forward(self, x):
            while True:
                pass

    namespace = {"softmax": softmax, "Sigmoid": Sigmoid, "np": np, "_private": Affine}
    report = {r.name: r for r in zerotorch.check(namespace, timeout=2)}
    assert report["functions.softmax"].status == "PASS"
    assert report["layers.Sigmoid"].status == "TIMEOUT"
    assert "layers.Affine" not in report  # underscore names are not looked at


def test_check_without_any_book_name_says_what_it_wants():
    with pytest.raises(ValueError, match="none of the objects given has a book name"):
        zerotorch.check(foo=lambda x: x)


def test_the_worked_notebook_runs_and_shows_its_findings():
    import nbclient  # the dev extra: a Jupyter kernel runs the notebook as a reader would
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = next(o.data["text/html"] for o in outputs if "text/html" in o.get("data", {}))
    assert "layers.Affine" in html and "graded in the 2-D form" in html
    assert "Affine.dw read as dW" in html
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "functions.softmax: FAIL" in text and "overflows" in text
