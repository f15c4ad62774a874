"""ch7–ch8 figures: each script writes its PNG (small settings), and the benchmark's baseline
is the same network as scratch (so its speed ratio compares like with like)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest

from scratch.convnet import DeepConvNet, SimpleConvNet
from scratch.util import col2im, im2col
from zerotorch.crosscheck.compare import ATOL, RTOL


def _load(name):
    """A chapter script as a module (``python -m experiments.<name>`` runs the same code)."""
    return importlib.import_module(f"experiments.{name}")


def _is_png(path: Path) -> bool:
    return path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ch7_filters_before_and_after_training(tmp_path, mnist_dir):
    exp = _load("ch7_filters")
    assert exp.main(["--out", str(tmp_path), "--train-steps", "5"]) == 0
    # a training run is named by its steps: it never replaces the book weights' figure
    assert _is_png(tmp_path / "ch7_filters_trained5.png")
    assert _is_png(tmp_path / "ch7_filter_response_trained5.png")
    assert not (tmp_path / "ch7_filters.png").exists()
    summary = json.loads((tmp_path / "ch7_filters_trained5.json").read_text())
    assert summary["last_loss"] < summary["first_loss"]
    assert summary["filter_std_after"] != summary["filter_std_before"]


def test_ch7_filter_response_is_the_convolution(rng):
    exp = _load("ch7_filters")
    W = rng.standard_normal((3, 1, 5, 5))
    image = rng.random((1, 12, 12))
    resp = exp.filter_responses(W, image)
    assert resp.shape == (3, 12, 12)  # pad 2 keeps the size
    padded = np.pad(image[0], 2)
    np.testing.assert_allclose(resp[1, 4, 7], np.sum(padded[4:9, 7:12] * W[1, 0]), rtol=1e-12)


def test_ch8_misclassified_gallery(tmp_path, book_weights, mnist_dir):
    exp = _load("ch8_misclassified")
    assert exp.main(["--out", str(tmp_path), "--limit", "300", "--max-images", "12"]) == 0
    assert _is_png(tmp_path / "ch8_misclassified.png")
    data = json.loads((tmp_path / "ch8_misclassified.json").read_text())
    assert data["images"] == 300
    assert all(m["true"] != m["predicted"] for m in data["misclassified"])
    assert data["accuracy"] == pytest.approx(1 - len(data["misclassified"]) / 300)


def test_ch8_float16_script_writes_json(tmp_path, book_weights, mnist_dir):
    exp = _load("ch8_float16")
    assert exp.main(["--out", str(tmp_path), "--limit", "100"]) == 0
    data = json.loads((tmp_path / "ch8_float16.json").read_text())
    assert data["weights"] == "deep_convnet.pkl" and data["images"] == 100
    acc = data["accuracy"]
    assert set(acc) == {"float64", "numpy_rounded", "torch_float16"}
    assert acc["float64"] > 0.9  # the book's trained weights, not an untrained network
    for k, changed in data["predictions_changed"].items():
        assert data["change_vs_float64"][k] == pytest.approx(acc[k] - acc["float64"])
        assert abs(acc[k] - acc["float64"]) <= changed / 100  # a changed prediction moves ≤ 1


def test_ch8_scripts_without_weights_say_what_to_set(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("ZEROTORCH_BOOK_WEIGHTS", raising=False)
    for name in ("ch8_float16", "ch8_misclassified"):
        assert _load(name).main(["--out", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert "zerotorch download weights" in err and "ZEROTORCH_BOOK_WEIGHTS" in err
    assert _load("ch7_filters").main(["--out", str(tmp_path)]) == 2
    assert "pass --params or --train-steps" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_benchmark_baseline_is_the_textbook_algorithm_and_the_same_network(rng):
    from benchmarks import convnet as bench

    x = rng.standard_normal((3, 2, 7, 6))
    for fh, fw, s, p in ((3, 3, 1, 1), (2, 3, 2, 0)):
        col = im2col(x, fh, fw, s, p)
        np.testing.assert_array_equal(bench.textbook_im2col(x, fh, fw, s, p), col)
        np.testing.assert_array_equal(bench.textbook_col2im(col, x.shape, fh, fw, s, p),
                                      col2im(col, x.shape, fh, fw, s, p))
    for cls, kw in ((SimpleConvNet, {"input_dim": (1, 12, 12)}),
                    (DeepConvNet, {"input_dim": (1, 12, 12)})):
        ours = cls(rng=np.random.default_rng(3), **kw)
        base = bench.textbook_net(cls(rng=np.random.default_rng(3), **kw))
        xb, t = rng.random((4, 1, 12, 12)), np.array([1, 2, 3, 4])
        if cls is DeepConvNet:
            for net in (ours, base):
                for d in net.dropout_layers:
                    d.rng = np.random.default_rng(9)
        g1, g2 = ours.gradient(xb, t), base.gradient(xb, t)
        for k in g1:
            np.testing.assert_allclose(g2[k], g1[k], rtol=RTOL, atol=ATOL, err_msg=k)
