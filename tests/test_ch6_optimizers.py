"""ch6.1 optimizers: scratch ↔ zerotorch.optim ↔ torch.optim, and every difference measured.

The registry (``optimizer.*`` in ``test_harness.py``) runs 100-step trajectories on
f(x, y) = x²/20 + y² and a random bowl against ours and the built-in; the book's ch6.1.7
comparison is checked in ``test_ch6_experiments.py`` (on the figure script's own paths). Here:
the Adam eps placement, the built-ins' default eps, Nesterov's order, planted bugs, and the
``torch.optim.Optimizer`` behaviour (state dicts, param groups, zero_grad, devices).
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch

import scratch.optimizer as so
import zerotorch.optim as zo
from zerotorch.crosscheck import REGISTRY, Impl, concepts, run_concept, scratch_impl

concepts()  # fills REGISTRY
TRAJ_ATOL = 1e-12  # the target: float64 trajectories equal within 1e-12

START = (-7.0, 2.0)  # the ch6.1.7 start on f(x, y) = x²/20 + y²
ALL = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]


@pytest.mark.parametrize("name", ALL)
def test_same_names_and_defaults_as_the_book(name):
    s = inspect.signature(getattr(so, name)).parameters
    z = inspect.signature(getattr(zo, name)).parameters
    book_args = {k: v.default for k, v in s.items()}
    ours = {k: v.default for k, v in z.items() if k in book_args}
    assert ours == book_args
    assert book_args["lr"] == (0.001 if name == "Adam" else 0.01)
    assert ALL == so.__all__ == zo.__all__[:len(ALL)]  # the same six on both sides


def test_torch_sgd_default_lr_differs_from_the_book():
    """The book's SGD default lr is 0.01, torch.optim.SGD's 1e-3."""
    assert inspect.signature(torch.optim.SGD).parameters["lr"].default == pytest.approx(1e-3)
    assert inspect.signature(so.SGD).parameters["lr"].default == 0.01


def _run_torch(opt_cls, g_fn, x0, steps, **kw):
    p = torch.nn.Parameter(torch.tensor(x0, dtype=torch.float64))
    opt = opt_cls([p], **kw)
    for _ in range(steps):
        p.grad = torch.tensor(g_fn(p.detach().numpy()))
        opt.step()
    return p.detach().numpy()


def _run_scratch(opt, g_fn, x0, steps):
    p = {"w": np.array(x0, dtype=np.float64)}
    for _ in range(steps):
        opt.update(p, {"w": g_fn(p["w"])})
    return p["w"]


ADAM_LR, ADAM_STEPS = 0.001, 100


def _adam_gap(scale):
    """Book Adam vs torch.optim.Adam(eps=1e-7), constant gradient of size ``scale``."""
    g = np.array([1.0, -0.5, 2.0]) * scale
    book = _run_scratch(so.Adam(lr=ADAM_LR), lambda w: g.copy(), np.zeros(3), ADAM_STEPS)
    torch_ = _run_torch(torch.optim.Adam, lambda w: g.copy(), np.zeros(3), ADAM_STEPS,
                        lr=ADAM_LR, eps=1e-7)
    return np.abs(book - torch_).max(), np.abs(torch_).max()


def test_adam_eps_placement_difference_is_measured():
    """Book: 1e-7 added to the uncorrected √v; torch: eps added to √v̂ = √v/√(1 − β2^t).

    The book's effective eps is 1e-7/√(1 − β2^t) (3.2e-6 at t = 1, 3.2e-7 at t = 100): harmless
    for O(1) gradients, dominant for gradients ~1e-6.
    """
    big, travelled_big = _adam_gap(1.0)
    tiny, travelled_tiny = _adam_gap(1e-6)
    assert 5e-8 < big < 2e-7 and big / travelled_big < 2e-6  # measured 9.9e-8
    assert 0.02 < tiny < 0.05 and tiny / travelled_tiny > 0.3  # measured 3.4e-2 (36 %)
    # step 1 in closed form: book moves lr·√(1−β2)|g|/(√(1−β2)|g| + 1e-7), torch lr·|g|/(|g| + 1e-7)
    g = 1e-6
    book1 = _run_scratch(so.Adam(lr=ADAM_LR), lambda w: np.array([g]), np.zeros(1), 1)
    torch1 = _run_torch(torch.optim.Adam, lambda w: np.array([g]), np.zeros(1), 1,
                        lr=ADAM_LR, eps=1e-7)
    r = math.sqrt(1 - 0.999)
    np.testing.assert_allclose(-book1, ADAM_LR * r * g / (r * g + 1e-7), rtol=1e-12)
    np.testing.assert_allclose(-torch1, ADAM_LR * g / (g + 1e-7), rtol=1e-12)


@pytest.mark.parametrize("scale", [1.0, 1e-6])
def test_adam_book_eps_schedule_reproduces_the_book_exactly(scale):
    """torch.optim.Adam with eps = 1e-7/√(1 − β2^t) at step t equals the book to rounding."""
    rng = np.random.default_rng(6)
    target = rng.standard_normal(5)
    g_fn = lambda w: scale * (w - target) * (1 + (w - target) ** 2)
    x0 = rng.standard_normal(5)
    book = _run_scratch(so.Adam(lr=0.01), g_fn, x0, 200)
    p = torch.nn.Parameter(torch.tensor(x0))
    opt = torch.optim.Adam([p], lr=0.01)
    for t in range(1, 201):
        opt.param_groups[0]["eps"] = zo.adam_book_eps(t)
        p.grad = torch.tensor(g_fn(p.detach().numpy()))
        opt.step()
    np.testing.assert_allclose(p.detach().numpy(), book, rtol=1e-10, atol=TRAJ_ATOL)
    ours = _run_torch(zo.Adam, g_fn, x0, 200, lr=0.01)
    np.testing.assert_allclose(ours, book, rtol=0, atol=TRAJ_ATOL)


@pytest.mark.parametrize(("book", "torch_cls", "kw", "default_eps", "low", "high"), [
    # measured on f(x, y) from (−7, 2), 100 steps: 1.5e-7 (AdaGrad), 1.3e-6 (RMSprop)
    (lambda: so.AdaGrad(lr=0.5), torch.optim.Adagrad, {"lr": 0.5}, 1e-10, 5e-8, 5e-7),
    (lambda: so.RMSprop(lr=0.05, decay_rate=0.99), torch.optim.RMSprop,
     {"lr": 0.05, "alpha": 0.99}, 1e-8, 4e-7, 4e-6),
])
def test_builtin_default_eps_differs_from_the_books(book, torch_cls, kw, default_eps, low, high):
    """Adagrad's default eps is 1e-10, RMSprop's 1e-8, the book's 1e-7: the gap is measurable,
    and disappears with eps=1e-7."""
    assert inspect.signature(torch_cls).parameters["eps"].default == default_eps
    g_fn = lambda w: np.array([w[0] / 10.0, 2.0 * w[1]])
    b = _run_scratch(book(), g_fn, np.array(START), 100)
    default = _run_torch(torch_cls, g_fn, np.array(START), 100, **kw)
    mapped = _run_torch(torch_cls, g_fn, np.array(START), 100, eps=1e-7, **kw)
    assert low < np.abs(default - b).max() < high
    np.testing.assert_allclose(mapped, b, rtol=0, atol=TRAJ_ATOL)


class VFirstNesterov(so.Nesterov):
    """A hand-written 2016-order Nesterov (v updated first, the step uses the new v)."""

    def update(self, params, grads):
        if self.v is None:
            self.v = {k: np.zeros_like(v) for k, v in params.items()}
        m = self.momentum
        for key in params:
            self.v[key] = m * self.v[key] - self.lr * grads[key]
            params[key] += m * m * self.v[key]
            params[key] -= (1 + m) * self.lr * grads[key]


def test_nesterov_today_equals_sgd_nesterov_and_2016_order_differs():
    """Today's book code (commit 89eadd0, 2021) steps with the old v: = SGD(nesterov=True).

    The 2016 code (``variant="book-2016"``) updated v first; from the first update the two differ
    by exactly m²·lr·g₀, and after 100 steps they are still 1.5e-4 apart.
    """
    lr, m = 0.05, 0.9
    g_fn = lambda w: np.array([w[0] / 10.0, 2.0 * w[1]])
    g0 = g_fn(np.array(START))
    today1 = _run_scratch(so.Nesterov(lr=lr, momentum=m), g_fn, np.array(START), 1)
    old1 = _run_scratch(so.Nesterov(lr=lr, momentum=m, variant="book-2016"), g_fn,
                        np.array(START), 1)
    np.testing.assert_allclose(today1 - old1, m * m * lr * g0, rtol=1e-12)
    assert np.abs(today1 - old1).max() == pytest.approx(0.162, abs=1e-12)  # 0.81·0.05·4
    torch_path = _run_torch(torch.optim.SGD, g_fn, np.array(START), 100, lr=lr, momentum=m,
                            nesterov=True)
    today = _run_scratch(so.Nesterov(lr=lr, momentum=m), g_fn, np.array(START), 100)
    old = _run_scratch(so.Nesterov(lr=lr, momentum=m, variant="book-2016"), g_fn,
                       np.array(START), 100)
    hand = _run_scratch(VFirstNesterov(lr=lr, momentum=m), g_fn, np.array(START), 100)
    np.testing.assert_allclose(today, torch_path, rtol=0, atol=TRAJ_ATOL)
    np.testing.assert_allclose(hand, old, rtol=0, atol=0)
    assert np.abs(torch_path - old).max() == pytest.approx(1.5308e-4, rel=1e-3)
    for variant, ref in (("book", torch_path), ("book-2016", old)):
        ours = _run_torch(lambda ps, v=variant, **kw: zo.Nesterov(ps, variant=v, **kw), g_fn,
                          np.array(START), 100, lr=lr, momentum=m)
        np.testing.assert_allclose(ours, ref, rtol=0, atol=TRAJ_ATOL)
    with pytest.raises(ValueError, match="variant must be one of"):
        so.Nesterov(variant="torch")


class BiasUncorrectedAdam(so.Adam):
    def update(self, params, grads):
        self.iter = 10**6  # lr_t → lr: no bias correction
        super().update(params, grads)


class DampenedMomentum(so.Momentum):
    """v ← m·v − (1 − m)·lr·g: an exponential average where the book has a plain sum."""

    def update(self, params, grads):
        super().update(params, {k: (1 - self.momentum) * g for k, g in grads.items()})


class TorchEpsRMSprop(so.RMSprop):
    """RMSprop with PyTorch's default eps 1e-8 instead of the book's 1e-7 (a ~1e-6 change)."""

    def update(self, params, grads):
        if self.h is None:
            self.h = {k: np.zeros_like(v) for k, v in params.items()}
        for key in params:
            g = grads[key]
            self.h[key] = self.decay_rate * self.h[key] + (1 - self.decay_rate) * g * g
            params[key] -= self.lr * g / (np.sqrt(self.h[key]) + 1e-8)


@pytest.mark.parametrize(("name", "bug"), [
    ("optimizer.Nesterov", VFirstNesterov),
    ("optimizer.Adam", BiasUncorrectedAdam),
    ("optimizer.Momentum", DampenedMomentum),
    ("optimizer.RMSprop", TorchEpsRMSprop),
])
def test_registry_catches_planted_optimizer_bugs(name, bug):
    assert run_concept(REGISTRY[name], scratch_impl()).status == "PASS"
    planted = Impl("planted", {"optimizer": type("m", (), {name.split(".")[1]: bug})})
    result = run_concept(REGISTRY[name], planted)
    assert result.status == "FAIL"
    assert "trajectory" in result.first_failure().name


def test_adam_without_the_eps_schedule_fails_the_builtin_check():
    pair = REGISTRY["optimizer.Adam"]
    from dataclasses import replace
    fixed = replace(pair, builtin_step_hook=None,
                    builtin_factory=lambda ps: torch.optim.Adam(ps, lr=0.1, eps=1e-7))
    result = run_concept(fixed, scratch_impl())
    assert result.status == "FAIL" and result.first_failure().against == "builtin"


def _quadratic_steps(opt, params, steps, targets):
    for _ in range(steps):
        opt.zero_grad()
        loss = sum(((p - t) ** 2 * (1 + p ** 2)).sum() for p, t in zip(params, targets,
                                                                      strict=True))
        loss.backward()
        opt.step()


@pytest.mark.parametrize("name", ALL)
def test_state_dict_round_trip_resumes_exactly(name):
    g = torch.Generator().manual_seed(1)
    init = [torch.randn(3, 4, generator=g, dtype=torch.float64),
            torch.randn(4, generator=g, dtype=torch.float64)]
    targets = [torch.randn(p.shape, generator=g, dtype=torch.float64) for p in init]
    straight = [torch.nn.Parameter(p.clone()) for p in init]
    opt = getattr(zo, name)(straight, lr=0.01)
    _quadratic_steps(opt, straight, 20, targets)

    first = [torch.nn.Parameter(p.clone()) for p in init]
    opt1 = getattr(zo, name)(first, lr=0.01)
    _quadratic_steps(opt1, first, 10, targets)
    saved = opt1.state_dict()
    resumed = [torch.nn.Parameter(p.detach().clone()) for p in first]
    opt2 = getattr(zo, name)(resumed, lr=0.01)
    opt2.load_state_dict(saved)
    _quadratic_steps(opt2, resumed, 10, targets)
    for a, b in zip(straight, resumed, strict=True):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    if name != "SGD":  # stateless SGD has nothing to save
        assert opt2.state_dict()["state"]


@pytest.mark.parametrize("name", ALL)
def test_param_groups_equal_separate_optimizers(name):
    """Per-group hyperparameters: one optimizer with two groups = two optimizers."""
    a, b = torch.nn.Parameter(torch.ones(3, dtype=torch.float64)), torch.nn.Parameter(
        torch.full((2,), -2.0, dtype=torch.float64))
    a2, b2 = torch.nn.Parameter(a.detach().clone()), torch.nn.Parameter(b.detach().clone())
    cls = getattr(zo, name)
    grouped = cls([{"params": [a]}, {"params": [b], "lr": 0.2}], lr=0.05)
    sep = [cls([a2], lr=0.05), cls([b2], lr=0.2)]
    for _ in range(15):
        for ps, opts in (([a, b], [grouped]), ([a2, b2], sep)):
            for o in opts:
                o.zero_grad()
            (ps[0] ** 3).sum().add((ps[1] ** 2).sum()).backward()
            for o in opts:
                o.step()
    torch.testing.assert_close(a, a2, rtol=0, atol=0)
    torch.testing.assert_close(b, b2, rtol=0, atol=0)
    grouped.zero_grad()
    assert a.grad is None and b.grad is None


def test_closure_and_float32_and_missing_grads():
    p = torch.nn.Parameter(torch.tensor([1.0, 2.0]))  # float32
    q = torch.nn.Parameter(torch.tensor([5.0]))  # never gets a gradient: left untouched
    opt = zo.Adam([p, q], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p ** 2).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert loss.item() == pytest.approx(5.0) and p.dtype == torch.float32
    assert q.item() == 5.0 and q not in opt.state
    with pytest.raises(ValueError, match="lr"):
        zo.SGD([p], lr=-1)
    with pytest.raises(ValueError, match=r"decay_rate must be \[0.0, 1.0\), got 1.5"):
        zo.RMSprop([p], decay_rate=1.5)
    with pytest.raises(ValueError, match=r"beta2 must be \[0.0, 1.0\), got 1.0"):
        zo.Adam([p], beta2=1.0)
    with pytest.raises(ValueError, match="momentum must be >= 0.0, got -0.1"):
        zo.Nesterov([p], momentum=-0.1)


@pytest.mark.gpu
@pytest.mark.parametrize("name", ALL)
def test_optimizers_run_on_cuda_and_match_cpu(name):
    g = torch.Generator().manual_seed(3)
    init = torch.randn(64, generator=g, dtype=torch.float64)
    results = []
    for device in ("cpu", "cuda"):
        p = torch.nn.Parameter(init.clone().to(device))
        opt = getattr(zo, name)([p], lr=0.05)
        for _ in range(50):
            opt.zero_grad()
            (p ** 2 * (1 + p.abs())).sum().backward()
            opt.step()
        assert all(v.device.type == device for v in opt.state[p].values()
                   if isinstance(v, torch.Tensor))
        results.append(p.detach().cpu())
    torch.testing.assert_close(results[1], results[0], rtol=1e-10, atol=1e-12)
