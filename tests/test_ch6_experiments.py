"""The two ch6 figures are produced by one command each (smoke test with ``--out``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, EXPERIMENTS / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("name", ["ch6_optimizer_paths", "ch6_activation_histograms"])
def test_figure_script_writes_png(name, tmp_path, capsys):
    out = tmp_path / "fig.png"
    extra = ["--samples", "200"] if name == "ch6_activation_histograms" else []
    assert _load(name).main(["--out", str(out), *extra]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
    assert "wrote" in capsys.readouterr().out


def test_optimizer_paths_script_agrees_with_zerotorch():
    mod = _load("ch6_optimizer_paths")
    for name, lr in mod.BOOK_LRS.items():
        a, b = mod.scratch_path(name, lr, 30), mod.zerotorch_path(name, lr, 30)
        assert abs(a - b).max() < mod.AGREE_ATOL
