"""ch6 multi-layer nets on both sides: params loading, gradient checks three ways, weight
decay as the book's loss term vs param groups, and ≥100-step trajectories within 1e-12.

Registry pairs (``networks.MultiLayerNet[.sigmoid]``, ``networks.MultiLayerNetExtend[.dropout]``)
compare loss and every gradient with autograd and central differences.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest
import torch

import scratch.layers
import scratch.networks
import scratch.optimizer as so
import scratch.weight_init
import zerotorch.networks
import zerotorch.nn
import zerotorch.optim as zo
import zerotorch.weight_init
from scratch.masks import MaskStream
from scratch.multi_layer_net import MultiLayerNet, MultiLayerNetExtend
from zerotorch.crosscheck import REGISTRY, Impl, concepts, run_concept, scratch_impl
from zerotorch.crosscheck.pairs.ch6 import tame
from zerotorch.networks import multi_layer_net as zmln

concepts()  # fills REGISTRY
TRAJ_RTOL, TRAJ_ATOL = 1e-10, 1e-12  # float64, ≥100 steps: the 1e-12 target
# A bias feeding a BN layer (b1, b2 in the BN nets) has a true gradient of exactly 0: BN
# subtracts the batch mean, removing any shift. Each side's computed gradient is rounding noise
# (~1e-17), which AdaGrad/RMSprop/Adam divide by √h + 1e-7 ≈ 1e-7, so such a bias random-walks
# by ~1e-10 differently on each side. It is compared with this bound, and its gradient and
# drift are asserted to be noise (``_check_bn_fed_biases``); everything else stays at 1e-12.
BN_FED_BIAS_ATOL = 1e-8
SHAPE = (6, [5, 4], 3)
OPTIMIZERS = {  # name: (scratch kwargs, zerotorch kwargs): lr large enough to move the net
    "SGD": {"lr": 0.1}, "Momentum": {"lr": 0.05}, "Nesterov": {"lr": 0.05},
    "AdaGrad": {"lr": 0.05}, "RMSprop": {"lr": 0.01}, "Adam": {"lr": 0.01},
}


def _data(rng, n=10):
    return 0.5 * rng.standard_normal((n, SHAPE[0])), rng.integers(0, SHAPE[2], size=n)


def _pair(rng, **kw):
    extend = any(k in kw for k in ("use_batchnorm", "use_dropout"))
    s_cls, z_cls = ((MultiLayerNetExtend, zmln.MultiLayerNetExtend) if extend
                    else (MultiLayerNet, zmln.MultiLayerNet))
    net = tame(s_cls(*SHAPE, rng=rng, **kw), rng)
    net_t = z_cls(*SHAPE, dtype=torch.float64, **kw).load_params(net.params)
    return net, net_t


def _bn_fed(net) -> set[str]:
    return {f"b{i}" for i in range(1, len(net.hidden_size_list) + 1)} if net.use_batchnorm \
        else set()


def _assert_params_equal(net, net_t, where: str, start: dict):
    for k, p in net_t.book_params().items():
        a, e = p.detach().numpy(), net.params[k]
        if k in _bn_fed(net):
            np.testing.assert_allclose(a, e, rtol=0, atol=BN_FED_BIAS_ATOL, err_msg=k + where)
            assert np.abs(e - start[k]).max() < BN_FED_BIAS_ATOL  # drift is noise-sized
        else:
            np.testing.assert_allclose(a, e, rtol=TRAJ_RTOL, atol=TRAJ_ATOL, err_msg=k + where)


def _inject(net, net_t):
    net_t.use_masks(MaskStream.replay([d.mask for d in net.dropout_layers]))


def test_book_params_load_into_both_sides(rng):
    net, net_t = _pair(rng, use_batchnorm=True, use_dropout=True, weight_decay_lambda=0.1)
    assert list(net_t.book_params()) == list(net.params)
    assert list(net.params) == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2",
                                "W3", "b3"]
    x, t = _data(rng)
    np.testing.assert_allclose(net_t.predict(torch.tensor(x)).detach().numpy(),
                               net.predict(x), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(net_t.loss(torch.tensor(x), torch.tensor(t)).item(),
                               net.loss(x, t), rtol=1e-12)
    assert net_t.accuracy(torch.tensor(x), torch.tensor(t)) == net.accuracy(x, t)
    with pytest.raises(KeyError, match="gamma1"):
        net_t.load_params({k: v for k, v in net.params.items() if k != "gamma1"})


def test_layer_order_matches_the_book(rng):
    net, net_t = _pair(rng, use_batchnorm=True, use_dropout=True)
    order = ["Affine1", "BatchNorm1", "Activation_function1", "Dropout1", "Affine2",
             "BatchNorm2", "Activation_function2", "Dropout2", "Affine3"]
    assert list(net.layers) == order and list(net_t.layers) == order


def test_init_choices_and_zero_biases(rng):
    net = MultiLayerNet(400, [300], 10, weight_init_std="relu", rng=rng)
    assert abs(net.params["W1"].std() / np.sqrt(2 / 400) - 1) < 0.01
    assert abs(net.params["W2"].std() / np.sqrt(2 / 300) - 1) < 0.05
    net_t = zmln.MultiLayerNet(400, [300], 10, weight_init_std="xavier", dtype=torch.float64,
                               generator=torch.Generator().manual_seed(0))
    assert abs(net_t.book_params()["W1"].std().item() / np.sqrt(1 / 400) - 1) < 0.01
    for i in (1, 2):
        assert not net.params[f"b{i}"].any() and not net_t.book_params()[f"b{i}"].any()
    same = [zmln.MultiLayerNet(*SHAPE, generator=torch.Generator().manual_seed(7)) for _ in "ab"]
    assert torch.equal(same[0].book_params()["W2"], same[1].book_params()["W2"])
    with pytest.raises(ValueError, match="tanh"):
        MultiLayerNet(*SHAPE, activation="tanh")


def test_dropout_ration_is_a_deprecated_alias(rng):
    with pytest.warns(DeprecationWarning, match="dropout_ratio"):
        net = MultiLayerNetExtend(*SHAPE, use_dropout=True, dropout_ration=0.2, rng=rng)
    with pytest.warns(DeprecationWarning):
        net_t = zmln.MultiLayerNetExtend(*SHAPE, use_dropout=True, dropout_ration=0.2)
    assert net.layers["Dropout1"].dropout_ratio == 0.2
    assert net_t.layers["Dropout1"].dropout_ratio == 0.2
    with pytest.raises(TypeError, match="dropout_rate"):
        MultiLayerNetExtend(*SHAPE, dropout_rate=0.2)


@pytest.mark.parametrize("kw", [
    {"activation": "sigmoid", "weight_init_std": "sigmoid", "weight_decay_lambda": 0.1},
    {"use_batchnorm": True, "use_dropout": True, "dropout_ratio": 0.3,
     "weight_decay_lambda": 0.1},
], ids=["sigmoid-decay", "bn-dropout-decay"])
def test_gradient_check_three_ways(kw, rng):
    """1) backprop vs the book's numerical_gradient (h = 1e-4); 2) backprop vs autograd of the
    zerotorch net; 3) torch.autograd.gradcheck of the zerotorch loss w.r.t. every parameter."""
    net, net_t = _pair(rng, **kw)
    net.use_masks(MaskStream(1, fixed=True))  # one fixed dropout mask for every loss evaluation
    x, t = _data(rng, 5)
    from scratch.functions import softmax
    y = softmax(net.predict(x, train_flg=True))
    assert y[np.arange(5), t].min() > 0.25  # so the 1e-7 inside the log stays below 1e-7
    grads = net.gradient(x, t)
    for k in _bn_fed(net):
        assert np.abs(grads[k]).max() < 1e-14  # exactly 0 up to rounding: BN removes shifts
    numerical = net.numerical_gradient(x, t)
    for k in net.params:
        np.testing.assert_allclose(grads[k], numerical[k], rtol=1e-5, atol=1e-7, err_msg=k)
    _inject(net, net_t)
    net_t.loss(torch.tensor(x), torch.tensor(t), train_flg=True).backward()
    for k, p in net_t.book_params().items():
        np.testing.assert_allclose(p.grad.numpy(), grads[k], rtol=1e-10, atol=1e-12,
                                   err_msg=k)
    names = list(net_t.book_params())
    masks = [d.mask for d in net_t.dropout_layers]

    def loss_of(*values):
        net_t.use_masks(MaskStream.replay(masks))
        params = dict(zip(names, values, strict=True))
        out = torch.func.functional_call(
            net_t, {f"layers.{net_t._book_names[k][0]}.{net_t._book_names[k][1]}": v
                    for k, v in params.items()}, (torch.tensor(x),))
        from zerotorch.functional import softmax_cross_entropy
        decay = sum(0.5 * net_t.weight_decay_lambda * (params[f"W{i}"] ** 2).sum()
                    for i in (1, 2, 3))
        return softmax_cross_entropy(out, torch.tensor(t)) + decay

    net_t.train()
    args = tuple(p.detach().clone().requires_grad_() for p in net_t.book_params().values())
    assert torch.autograd.gradcheck(loss_of, args)


def test_batch_of_one_gradient_check_is_degenerate(rng):
    """The book checks BN nets on a batch of 1: BN then outputs β whatever comes in, so every
    gradient below the first BN layer is exactly 0 and "agrees" trivially."""
    net, _ = _pair(rng, use_batchnorm=True)
    x, t = _data(rng, 1)
    grads = net.gradient(x, t)
    for k in ("W1", "b1", "gamma1", "W2", "b2", "gamma2"):
        np.testing.assert_array_equal(grads[k], 0.0)
    assert np.abs(grads["beta2"]).max() > 0


def test_weight_decay_loss_term_and_gradient_term(rng):
    """Book: loss += 0.5·λ·Σ‖W‖² over W1..WL only; dW += λ·W; b, γ, β untouched."""
    lam = 0.3
    net, _ = _pair(rng, use_batchnorm=True, weight_decay_lambda=lam)
    plain = MultiLayerNetExtend(*SHAPE, use_batchnorm=True, rng=rng)
    plain.params = {k: v.copy() for k, v in net.params.items()}
    x, t = _data(rng)
    term = 0.5 * lam * sum(np.sum(net.params[f"W{i}"] ** 2) for i in (1, 2, 3))
    np.testing.assert_allclose(net.loss(x, t) - plain.loss(x, t), term, rtol=1e-12)
    g, g0 = net.gradient(x, t), plain.gradient(x, t)
    for k in net.params:
        extra = lam * net.params[k] if k.startswith("W") else 0.0
        np.testing.assert_allclose(g[k], g0[k] + extra, rtol=1e-12, atol=1e-15, err_msg=k)


@pytest.mark.parametrize("builtin", [False, True], ids=["zerotorch.optim", "torch.optim"])
@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
def test_weight_decay_as_param_groups_equals_the_book(opt_name, builtin, rng):
    """The book's decay (in the loss) = no decay in the loss + optimizer weight_decay on a
    param group holding only the weights (``book_param_groups``); 100 steps."""
    lam, lr = 0.1, 0.05
    book, _ = _pair(rng, use_batchnorm=True, weight_decay_lambda=lam)
    net_t = zmln.MultiLayerNetExtend(*SHAPE, use_batchnorm=True, dtype=torch.float64)
    net_t.load_params(book.params)
    groups = zo.book_param_groups(net_t, lam)
    assert {id(p) for p in groups[0]["params"]} == {id(net_t.book_params()[f"W{i}"])
                                                    for i in (1, 2, 3)}
    if builtin:
        opt_t = (torch.optim.SGD(groups, lr=lr) if opt_name == "SGD"
                 else torch.optim.Adam(groups, lr=lr, eps=1e-7))
    else:
        opt_t = getattr(zo, opt_name)(groups, lr=lr)
    opt_s = getattr(so, opt_name)(lr=lr)
    x, t = _data(rng)
    start = {k: v.copy() for k, v in book.params.items()}
    for step in range(100):
        if builtin and opt_name == "Adam":
            for gr in opt_t.param_groups:
                gr["eps"] = zo.adam_book_eps(step + 1)
        opt_s.update(book.params, book.gradient(x, t))
        opt_t.zero_grad()
        net_t.loss(torch.tensor(x), torch.tensor(t), train_flg=True).backward()
        opt_t.step()
        _assert_params_equal(book, net_t, f" at step {step + 1}", start)


def test_weight_decay_on_every_parameter_differs(rng):
    """torch's ``weight_decay`` on a single group also decays b, γ, β: measurably different."""
    lam = 0.1
    book, _ = _pair(rng, use_batchnorm=True, weight_decay_lambda=lam)
    net_t = zmln.MultiLayerNetExtend(*SHAPE, use_batchnorm=True, dtype=torch.float64)
    net_t.load_params(book.params)
    opt = torch.optim.SGD(net_t.parameters(), lr=0.05, weight_decay=lam)
    opt_s = so.SGD(lr=0.05)
    x, t = _data(rng)
    for _ in range(100):
        opt_s.update(book.params, book.gradient(x, t))
        opt.zero_grad()
        net_t.loss(torch.tensor(x), torch.tensor(t), train_flg=True).backward()
        opt.step()
    got = net_t.book_params()
    gap = {k: np.abs(got[k].detach().numpy() - book.params[k]).max() for k in book.params}
    assert gap["gamma1"] > 1e-3 and gap["W1"] > 1e-4  # γ shrinks toward 0 instead of staying


@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("kw", [
    {},
    {"use_batchnorm": True, "use_dropout": True, "dropout_ratio": 0.2,
     "weight_decay_lambda": 0.05},
], ids=["MultiLayerNet", "Extend-bn-dropout-decay"])
def test_trajectory_equivalence_150_steps(opt_name, kw, rng):
    """Scratch net + scratch optimizer vs zerotorch net + zerotorch.optim: 150 steps of
    minibatches, parameters equal within 1e-12 after every step; BN running stats too.
    Dropout masks are drawn by the scratch side and injected into ours."""
    net, net_t = _pair(rng, **kw)
    opt_s = getattr(so, opt_name)(**OPTIMIZERS[opt_name])
    opt_t = getattr(zo, opt_name)(net_t.parameters(), **OPTIMIZERS[opt_name])
    x_all, t_all = _data(rng, 40)
    start = {k: v.copy() for k, v in net.params.items()}
    for step in range(150):
        idx = rng.choice(40, size=8, replace=False)
        x, t = x_all[idx], t_all[idx]
        opt_s.update(net.params, net.gradient(x, t))
        _inject(net, net_t)
        opt_t.zero_grad()
        net_t.loss(torch.tensor(x), torch.tensor(t), train_flg=True).backward()
        opt_t.step()
        _assert_params_equal(net, net_t, f" at step {step + 1}", start)
    moved = np.abs(net.params["W1"] - start["W1"]).max()
    assert moved > 1e-2, "the optimizer must actually move the parameters"
    if kw:
        for i in (1, 2):
            bn_t, bn = net_t.layers[f"BatchNorm{i}"], net.layers[f"BatchNorm{i}"]
            np.testing.assert_allclose(bn_t.running_var.numpy(), bn.running_var,
                                       rtol=TRAJ_RTOL, atol=TRAJ_ATOL)
            # the running mean averages (x·W + b) over past steps, so it carries the noise
            # walk of the BN-fed bias (see BN_FED_BIAS_ATOL), as does the test-mode output
            np.testing.assert_allclose(bn_t.running_mean.numpy(), bn.running_mean, rtol=0,
                                       atol=BN_FED_BIAS_ATOL)
        np.testing.assert_allclose(net_t.predict(torch.tensor(x_all)).detach().numpy(),
                                   net.predict(x_all), rtol=0, atol=BN_FED_BIAS_ATOL)


class DecayEverything(MultiLayerNet):
    """Weight decay on every parameter (biases too): the mistake param groups prevent."""

    def gradient(self, x, t):
        grads = super().gradient(x, t)
        return {k: g + (0 if k.startswith("W") else self.weight_decay_lambda * self.params[k])
                for k, g in grads.items()}


def test_registry_catches_planted_network_bug():
    pair = REGISTRY["networks.MultiLayerNet"]
    assert run_concept(pair, scratch_impl()).status == "PASS"
    result = run_concept(pair, Impl("planted", {"networks": type("m", (), {
        "MultiLayerNet": DecayEverything})}))
    assert result.status == "FAIL" and result.first_failure().name == "db1"


def test_predict_and_loss_default_to_test_mode(rng):
    """The book: ``predict``/``loss`` default to ``train_flg=False`` (BN running statistics,
    dropout × (1 − ratio)) and ``gradient`` trains: a default call draws no mask and leaves the
    running statistics alone, on both sides."""
    net, net_t = _pair(rng, use_batchnorm=True, use_dropout=True, dropout_ratio=0.3)
    x, t = _data(rng)
    net.gradient(x, t)  # one training pass: running statistics become nonzero
    net_t.load_params(net.params)
    for i in (1, 2):
        for name in ("running_mean", "running_var"):
            getattr(net_t.layers[f"BatchNorm{i}"], name).copy_(
                torch.as_tensor(getattr(net.layers[f"BatchNorm{i}"], name)))
    before = [bn.running_var.copy() for bn in (net.layers["BatchNorm1"], net.layers["BatchNorm2"])]
    masks = [d.mask for d in net.dropout_layers]
    y = net.predict(x)
    np.testing.assert_array_equal(y, net.predict(x, train_flg=False))
    assert net.loss(x, t) == net.loss(x, t, train_flg=False)
    assert all(d.mask is m for d, m in zip(net.dropout_layers, masks, strict=True))
    for bn, rv in zip((net.layers["BatchNorm1"], net.layers["BatchNorm2"]), before, strict=True):
        np.testing.assert_array_equal(bn.running_var, rv)
    net_t.train()  # the book's call ignores the module's mode
    np.testing.assert_allclose(net_t.predict(torch.tensor(x)).detach().numpy(), y,
                               rtol=1e-12, atol=1e-14)
    assert net_t.training and all(d.mask is None for d in net_t.dropout_layers)
    assert not np.allclose(net.predict(x, train_flg=True), y)  # the modes really differ


@pytest.mark.parametrize("name", ["SimpleNet", "TwoLayerNetCh4", "TwoLayerNet", "MultiLayerNet",
                                  "MultiLayerNetExtend", "BatchNormalization", "Dropout",
                                  "Affine", "init_weight"])
def test_scratch_and_zerotorch_share_constructor_arguments(name):
    """Same names, same book arguments in the same order with the same defaults; the zerotorch
    side swaps ``rng`` for ``generator`` and may only *add* keyword options after them."""
    sides = [(scratch.networks, zerotorch.networks), (scratch.layers, zerotorch.nn),
             (scratch.weight_init, zerotorch.weight_init)]
    s_obj, z_obj = next((getattr(s, name), getattr(z, name)) for s, z in sides
                        if hasattr(s, name))
    named = lambda obj: {k: p for k, p in inspect.signature(obj).parameters.items()
                         if p.kind is not inspect.Parameter.VAR_KEYWORD}
    s_params, z_params = named(s_obj), named(z_obj)
    rename = {"rng": "generator"}
    book = [rename.get(k, k) for k in s_params]
    assert list(z_params)[:len(book)] == book
    for k, p in s_params.items():
        if k not in rename:  # an unseeded generator is torch's default, an explicit rng ours
            assert z_params[k].default == p.default, k
    extra = list(z_params)[len(book):]
    assert all(z_params[k].default is not inspect.Parameter.empty for k in extra), extra


class GlobalRandomDropout:
    """The book's Dropout: masks from the global ``np.random``, no ``rng`` attribute."""

    ratio_name = "dropout_ratio"

    def __init__(self, dropout_ratio=0.5):
        setattr(self, self.ratio_name, dropout_ratio)
        self.mask = None

    def forward(self, x, train_flg=True):
        p = getattr(self, self.ratio_name)
        if train_flg:
            self.mask = np.random.rand(*x.shape) > p  # noqa: NPY002 (the book's global RNG)
            return x * self.mask
        return x * (1.0 - p)

    def backward(self, dout):
        return dout * self.mask


class MisspeltGlobalRandomDropout(GlobalRandomDropout):
    """The same, keeping the ratio only under the misspelt ``dropout_ration`` (a reader's)."""

    ratio_name = "dropout_ration"


def _book_style_net(dropout_cls):
    class BookStyleDropoutNet(MultiLayerNetExtend):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            for name in self.layers:
                if name.startswith("Dropout"):
                    self.layers[name] = dropout_cls(self.layers[name].dropout_ratio)

    return BookStyleDropoutNet


@pytest.mark.parametrize("dropout_cls", [GlobalRandomDropout, MisspeltGlobalRandomDropout])
def test_dropout_pair_holds_book_style_global_random_masks_fixed(dropout_cls):
    """A reader's Dropout that draws from the global np.random still gets identical masks on
    both sides and across the numerical check; the global random state is left as it was."""
    np.random.seed(5)  # noqa: NPY002 (the book's global RNG)
    before = np.random.get_state()[1].copy()  # noqa: NPY002 (the book's global RNG)
    impl = Impl("book-style", {"networks": type("m", (), {"MultiLayerNetExtend":
                                                          _book_style_net(dropout_cls)})})
    result = run_concept(REGISTRY["networks.MultiLayerNetExtend[dropout]"], impl)
    assert result.status == "PASS", [s.describe() for s in result.stages if not s.ok]
    assert {s.against for s in result.stages} >= {"zerotorch", "numerical"}
    np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002 (the book's global RNG)
