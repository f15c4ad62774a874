"""Two independent gradient checks of a scratch layer's ``backward``.

- ``numerical_layer_stages``: central differences of L = Σ forward(x)·dout with respect to x and
  every parameter, against ``backward(dout)`` (the book's ch5 check, asserted).
- ``as_function``: the layer wrapped as a ``torch.autograd.Function`` whose backward *is* the
  scratch backward, so ``torch.autograd.gradcheck`` can judge it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from zerotorch.crosscheck.compare import (
    NUMERICAL_ATOL,
    NUMERICAL_RTOL,
    Stage,
    compare,
    numerical_grad,
)


def numerical_layer_stages(layer, x: np.ndarray, params: Sequence[str] = (),
                           rng: np.random.Generator | None = None,
                           forward_kwargs: dict | None = None) -> list[Stage]:
    """Analytic ``backward`` vs central differences for x and each named parameter."""
    rng = rng or np.random.default_rng(0)
    fkw = forward_kwargs or {}
    x = np.array(x, dtype=np.float64, copy=True)
    out = layer.forward(x, **fkw)
    dout = rng.standard_normal(np.shape(out))
    dx = layer.backward(dout.copy())
    analytic = {"dx": np.array(dx, copy=True)}
    analytic.update({f"d{p}": np.array(getattr(layer, f"d{p}"), copy=True) for p in params})

    def loss() -> float:
        return float(np.sum(layer.forward(x, **fkw) * dout))

    stages = [compare("dx", numerical_grad(loss, x), analytic["dx"], against="numerical",
                      rtol=NUMERICAL_RTOL, atol=NUMERICAL_ATOL)]
    for p in params:
        num = numerical_grad(loss, getattr(layer, p))
        stages.append(compare(f"d{p}", num, analytic[f"d{p}"], against="numerical",
                              rtol=NUMERICAL_RTOL, atol=NUMERICAL_ATOL))
    return stages


def as_function(layer, params: Sequence[str] = (), forward_kwargs: dict | None = None):
    """``f(x, *param_tensors)`` computed by the scratch layer, differentiable through its backward.

    The parameter tensors are copied into the layer (book layout) on every call, so gradcheck's
    perturbations reach the scratch forward.
    """
    fkw = forward_kwargs or {}

    def _run(x, ps):
        for name, p in zip(params, ps, strict=True):
            setattr(layer, name, p.detach().cpu().numpy().copy())
        return layer.forward(x.detach().cpu().numpy().copy(), **fkw)

    class ScratchLayer(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, *ps):
            ctx.save_for_backward(x, *ps)
            return torch.as_tensor(np.asarray(_run(x, ps)), dtype=x.dtype)

        @staticmethod
        def backward(ctx, dout):
            x, *ps = ctx.saved_tensors
            _run(x, ps)  # gradcheck calls forward many times in between: restore this call's cache
            dx = layer.backward(dout.detach().cpu().numpy().copy())
            grads = [torch.as_tensor(np.asarray(dx), dtype=dout.dtype)]
            grads += [torch.as_tensor(getattr(layer, f"d{name}"), dtype=dout.dtype)
                      for name in params]
            return tuple(grads)

    return ScratchLayer.apply
