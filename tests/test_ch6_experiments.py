"""The two ch6 figure scripts: each PNG comes from one command, and the numbers drawn are the
book's story (ch6.1.7 optimizer paths against an independent reference; ch6.2 activations)."""

from __future__ import annotations

import importlib
import math

import numpy as np
import pytest

TRAJ_ATOL = 1e-12  # float64 paths: scratch = zerotorch = reference to rounding


def _load(name):
    """A chapter script as a module (``python -m experiments.<name>`` runs the same code)."""
    return importlib.import_module(f"experiments.{name}")


PATHS = _load("ch6_optimizer_paths")
HISTOGRAMS = _load("ch6_activation_histograms")
STEPS = 30


@pytest.mark.parametrize("name", ["ch6_optimizer_paths", "ch6_activation_histograms"])
def test_figure_script_writes_png(name, tmp_path, capsys):
    out = tmp_path / "fig.png"
    extra = ["--samples", "200"] if name == "ch6_activation_histograms" else []
    assert _load(name).main(["--out", str(out), *extra]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 20_000
    assert "wrote" in capsys.readouterr().out


# --- ch6.1.7 optimizer paths ------------------------------------------------------------------


def reference_path(name, lr, steps=STEPS):
    """The update rules on plain Python floats, one coordinate at a time (independent code)."""
    out = []
    for c, coeff in ((PATHS.START[0], 0.1), (PATHS.START[1], 2.0)):  # ∂f/∂x = x/10, ∂f/∂y = 2y
        p, v, h, m, s, traj = c, 0.0, 0.0, 0.0, 0.0, [c]
        for t in range(1, steps + 1):
            g = coeff * p
            if name == "SGD":
                p = p - lr * g
            elif name == "Momentum":
                v = 0.9 * v - lr * g
                p = p + v
            elif name == "AdaGrad":
                h = h + g * g
                p = p - lr * g / (math.sqrt(h) + 1e-7)
            elif name == "Adam":
                m = 0.9 * m + 0.1 * g
                s = 0.999 * s + 0.001 * g * g
                p = p - lr * math.sqrt(1 - 0.999 ** t) / (1 - 0.9 ** t) * m / (math.sqrt(s)
                                                                               + 1e-7)
            traj.append(p)
        out.append(traj)
    return np.array(out).T


@pytest.mark.parametrize("name", list(PATHS.BOOK_LRS))
def test_ch6_comparison_from_book_start(name):
    """ch6.1.7: 30 steps from (−7, 2) with the book's learning rates: scratch, zerotorch and
    the reference agree."""
    lr = PATHS.BOOK_LRS[name]
    s, z = PATHS.scratch_path(name, lr, STEPS), PATHS.zerotorch_path(name, lr, STEPS)
    np.testing.assert_allclose(z, s, rtol=0, atol=TRAJ_ATOL)
    np.testing.assert_allclose(s, reference_path(name, lr), rtol=1e-12, atol=TRAJ_ATOL)
    assert PATHS.AGREE_ATOL == TRAJ_ATOL  # the script refuses to plot beyond this
    # every method gets far closer to the minimum (0, 0) than it started (|(−7, 2)| = 7.3)
    assert np.hypot(*s[-1]) < 1.0


def test_ch6_comparison_closed_forms():
    """SGD and Momentum on the quadratic are linear maps: endpoints from matrix powers."""
    s = PATHS.scratch_path("SGD", 0.95, STEPS)[-1]
    np.testing.assert_allclose(s, [-7 * (1 - 0.095) ** 30, 2 * (1 - 1.9) ** 30], rtol=1e-12)
    ends = []
    for c, a in ((PATHS.START[0], 0.1), (PATHS.START[1], 2.0)):  # (p, v): v' = 0.9v − lr·a·p
        M = np.array([[1 - 0.1 * a, 0.9], [-0.1 * a, 0.9]])
        ends.append((np.linalg.matrix_power(M, 30) @ [c, 0.0])[0])
    np.testing.assert_allclose(PATHS.scratch_path("Momentum", 0.1, STEPS)[-1], ends, rtol=1e-11)
    np.testing.assert_allclose(PATHS.zerotorch_path("Momentum", 0.1, STEPS)[-1], ends,
                               rtol=1e-11)


def test_ch6_endpoints_show_the_books_story():
    """SGD zig-zags in y (1 − 2·0.95 = −0.9 per step), AdaGrad kills y first, Momentum overshoots
    x to the far side."""
    ends = {n: PATHS.zerotorch_path(n, lr, STEPS)[-1] for n, lr in PATHS.BOOK_LRS.items()}
    sgd_y = PATHS.zerotorch_path("SGD", 0.95, STEPS)[:, 1]
    assert np.all(np.sign(sgd_y[1:]) != np.sign(sgd_y[:-1]))  # zig-zag every step
    assert abs(ends["AdaGrad"][1]) < 1e-12 < abs(ends["AdaGrad"][0])
    assert ends["Momentum"][0] > 0  # crossed x = 0 from −7


# --- ch6.2 activation histograms --------------------------------------------------------------


def test_activation_histogram_statistics_tell_the_books_story():
    """ch6.2.2–6.2.3: sigmoid with std 1 saturates (activations pile at 0 and 1), std 0.01
    collapses to 0.5 (no diversity), Xavier keeps a spread; ReLU with std 0.01 vanishes layer
    by layer, Xavier shrinks, He keeps the scale."""
    stats = HISTOGRAMS.activation_stats(n_samples=1000, seed=0)
    sig, relu = stats["sigmoid"], stats["relu"]
    saturated = sig[1.0]["saturated"]  # fraction < 0.05 or > 0.95, per layer
    assert min(saturated) > 0.5
    assert max(sig[0.01]["std"]) < 0.03 and abs(sig[0.01]["mean"][-1] - 0.5) < 0.01
    assert min(sig["xavier"]["std"]) > 4 * max(sig[0.01]["std"][1:])
    assert min(sig["xavier"]["std"]) > 0.1
    assert relu[0.01]["std"][-1] < 1e-4 * relu[0.01]["std"][0]  # ~×0.07 per layer
    assert relu["xavier"]["std"][-1] < 0.5 * relu["xavier"]["std"][0]
    he = relu["he"]["std"]
    assert 0.5 < he[-1] / he[0] < 2.0
