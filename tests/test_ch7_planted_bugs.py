"""The ch7 registry pairs catch the classic convolution/pooling mistakes (each must FAIL)."""

from __future__ import annotations

import types

import numpy as np
import pytest

import scratch.convnet as sconvnet
import scratch.convolution as sconv
import scratch.util as sutil
from zerotorch.crosscheck import (
    REGISTRY,
    Impl,
    pairs,  # noqa: F401  (fills REGISTRY)
    run_concept,
    scratch_impl,
)


class FlippedKernelConvolution(sconv.Convolution):
    """True convolution (kernel flipped) instead of the book's cross-correlation."""

    def forward(self, x):
        W = self.W
        self.W = W[:, :, ::-1, ::-1].copy()
        try:
            return super().forward(x)
        finally:
            self.W = W


class LastMaxPooling(sconv.Pooling):
    """Ties send the gradient to the *last* maximum (np.argmax on the reversed window)."""

    def backward(self, dout):
        x = self.img.transpose(0, 3, 1, 2) if self.nhwc else self.img
        n, c, h, w = x.shape
        s = self.stride
        oh, ow = self.out_hw
        dx = np.zeros((n, c, h, w))
        for i in range(oh):
            for j in range(ow):
                win = x[:, :, i * s:i * s + self.pool_h, j * s:j * s + self.pool_w]
                flat = win.reshape(n, c, -1)[:, :, ::-1]
                k = flat.shape[2] - 1 - flat.argmax(axis=2)
                a, b = np.divmod(k, self.pool_w)
                for nn in range(n):
                    for cc in range(c):
                        dx[nn, cc, i * s + a[nn, cc], j * s + b[nn, cc]] += dout[nn, cc, i, j]
        p = self.pad
        return dx[:, :, p:h - p, p:w - p]


class TransposedDWConvolution(sconv.Convolution):
    def backward(self, dout):
        dx = super().backward(dout)
        self.dW = self.dW.transpose(0, 1, 3, 2).copy()  # (FH, FW) swapped: same shape if square
        return dx


def _impl(**layers) -> Impl:
    base = scratch_impl()
    mods = dict(base.modules)
    mods["layers"] = types.SimpleNamespace(**{**vars(base.modules["layers"]), **layers})
    return Impl("planted", mods)


@pytest.mark.parametrize(("concept", "bug", "stage"), [
    ("layers.Convolution", {"Convolution": FlippedKernelConvolution}, "forward"),
    ("layers.Convolution", {"Convolution": TransposedDWConvolution}, "dW"),
    ("layers.Pooling[ties,3x3,stride1]", {"Pooling": LastMaxPooling}, "dx"),
])
def test_planted_layer_bug_fails_at_its_stage(concept, bug, stage):
    assert run_concept(REGISTRY[concept], scratch_impl()).status == "PASS"
    result = run_concept(REGISTRY[concept], _impl(**bug))
    assert result.status == "FAIL"
    assert result.first_failure().name == stage


def test_last_max_pooling_is_right_without_ties():
    """The planted pooling bug only shows on ties: the untied pair passes it."""
    assert run_concept(REGISTRY["layers.Pooling"], _impl(Pooling=LastMaxPooling)).status == "PASS"


def test_im2col_with_columns_in_fh_fw_c_order_fails():
    def hwc_im2col(x, fh, fw, stride=1, pad=0):
        col = sutil.im2col(x, fh, fw, stride, pad)
        n_rows, c = col.shape[0], x.shape[1]
        return col.reshape(n_rows, c, fh, fw).transpose(0, 2, 3, 1).reshape(n_rows, -1)

    util = types.SimpleNamespace(im2col=hwc_im2col, col2im=sutil.col2im)
    result = run_concept(REGISTRY["util.im2col"], Impl("planted", {"util": util}))
    assert result.status == "FAIL" and result.first_failure().name == "forward"


def test_network_trajectory_pair_catches_a_wrong_pooling_gradient(monkeypatch):
    class HalfGradPooling(sconv.Pooling):
        def backward(self, dout):
            return 0.5 * super().backward(dout)

    concept = REGISTRY["networks.SimpleConvNet[adam-trajectory]"]
    assert run_concept(concept, scratch_impl()).status == "PASS"
    monkeypatch.setattr(sconvnet, "Pooling", HalfGradPooling)
    result = run_concept(concept, scratch_impl())
    assert result.status == "FAIL"
    assert result.first_failure().name == "params trajectory"
