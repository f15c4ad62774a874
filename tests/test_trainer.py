"""scratch.Trainer: explicit generator, shuffled epochs, the book's sampling, history, no prints."""

from __future__ import annotations

import numpy as np
import pytest

from scratch.trainer import History, Trainer, make_optimizer
from scratch.two_layer_net import TwoLayerNet


class SpyNet:
    """Records which samples each step saw (x holds each sample's index) and each evaluation."""

    def __init__(self):
        self.params = {"w": np.zeros(1)}
        self.batches: list[np.ndarray] = []
        self.evaluated_after: list[int] = []

    def gradient(self, x, t):
        self.batches.append(x[:, 0].astype(int))
        return {"w": np.ones(1)}

    def loss(self, x, t):
        return float(len(self.batches))

    def accuracy(self, x, t):
        self.evaluated_after.append(len(self.batches))
        return len(x) / 1000.0


class CountingSGD:
    def __init__(self, lr=0.01):
        self.lr = lr
        self.calls = 0

    def update(self, params, grads):
        self.calls += 1
        for k in params:
            params[k] -= self.lr * grads[k]


def _data(n_train, n_test=50):
    x = np.arange(n_train, dtype=float).reshape(-1, 1)  # (N, 1): the sample's own index
    return x, np.zeros(n_train, int), np.zeros((n_test, 1)), np.zeros(n_test, int)


def test_shuffled_epochs_visit_every_sample_once():
    net, opt = SpyNet(), CountingSGD()
    h = Trainer(net, *_data(250), epochs=3, mini_batch_size=100, optimizer=opt, verbose=False,
                rng=np.random.default_rng(0)).train()
    assert isinstance(h, History)
    assert [len(b) for b in net.batches] == [100, 100, 50] * 3  # the partial batch is kept
    for e in range(3):
        seen = np.concatenate(net.batches[3 * e:3 * e + 3])
        np.testing.assert_array_equal(np.sort(seen), np.arange(250))
    assert not np.array_equal(np.concatenate(net.batches[:3]), np.arange(250))  # shuffled
    assert h.eval_iters == [3, 6, 9] and h.epochs == 3  # after each epoch's last update
    assert len(h.train_loss) == opt.calls == 9
    assert h.train_loss == [float(i) for i in range(1, 10)]  # recorded after each update
    assert h.final_test_acc == pytest.approx(0.05)


def test_book_sampling_with_replacement_and_schedule():
    """The book: rng.choice with replacement, epoch = train_size / batch (float), first
    evaluation right after the first update."""
    net = SpyNet()
    h = Trainer(net, *_data(300), epochs=2, mini_batch_size=100, optimizer=CountingSGD(),
                verbose=False, rng=np.random.default_rng(1), sampling="replacement").train()
    ref = np.random.default_rng(1)
    for batch in net.batches:
        np.testing.assert_array_equal(batch, ref.choice(300, 100))
    assert len(net.batches) == 6
    assert h.eval_iters == [1, 4]
    assert any(len(np.unique(b)) < len(b) for b in net.batches)  # duplicates happen
    # a non-integer epoch length (250 / 100 = 2.5) evaluates only at the very first update
    h2 = Trainer(SpyNet(), *_data(250), epochs=2, mini_batch_size=100, optimizer=CountingSGD(),
                 verbose=False, rng=np.random.default_rng(1), sampling="replacement").train()
    assert h2.eval_iters == [1] and len(h2.train_loss) == 5


def test_same_generator_same_history_no_global_seed():
    def run(seed):
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((200, 8))
        t = (x[:, 0] > 0).astype(int)
        net = TwoLayerNet(8, 6, 2, weight_init_std=0.3, rng=np.random.default_rng(seed))
        return Trainer(net, x, t, x[:50], t[:50], epochs=2, mini_batch_size=32,
                       optimizer=CountingSGD(0.1), verbose=False,
                       rng=np.random.default_rng(seed)).train()

    state = np.random.get_state()  # noqa: NPY002  (checking the legacy global RNG)
    a, b, c = run(3), run(3), run(4)
    assert a.as_dict() == b.as_dict() and a.train_loss != c.train_loss
    assert np.array_equal(np.random.get_state()[1], state[1])  # noqa: NPY002  (untouched)


def test_trainer_learns_a_separable_problem():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((600, 10))
    t = (x[:, :3].sum(axis=1) > 0).astype(int)
    net = TwoLayerNet(10, 16, 2, weight_init_std=0.1, rng=rng)
    h = Trainer(net, x[:500], t[:500], x[500:], t[500:], epochs=15, mini_batch_size=50,
                optimizer=CountingSGD(0.2), verbose=False, rng=rng).train()
    assert h.test_acc[-1] > 0.9 and h.test_acc[-1] > h.test_acc[0]
    assert np.mean(h.train_loss[-10:]) < 0.5 * np.mean(h.train_loss[:10])


def test_evaluate_sample_num_and_one_hot_labels():
    net = SpyNet()
    x, t, xt, tt = _data(120)
    h = Trainer(net, x, np.eye(10)[t], xt, np.eye(10)[tt], epochs=1, mini_batch_size=60,
                optimizer=CountingSGD(), evaluate_sample_num_per_epoch=40, verbose=False,
                rng=np.random.default_rng(0)).train()
    assert h.train_acc == [0.04] and h.test_acc == [0.04]  # 40 samples each


def test_optimizer_by_book_name_and_errors():
    from scratch.optimizer import SGD, Adam

    opt = make_optimizer("sgd", {"lr": 0.5})
    assert isinstance(opt, SGD) and opt.lr == 0.5
    adam = make_optimizer("Adam")  # the book's Trainer default optimizer_param: lr 0.01
    assert isinstance(adam, Adam) and adam.lr == 0.01 and adam.beta1 == 0.9
    assert make_optimizer("Adam", {}).lr == 0.001  # an empty dict: the class defaults
    own = CountingSGD()
    assert make_optimizer(own) is own
    with pytest.raises(ValueError, match="unknown optimizer 'adamw'"):
        make_optimizer("adamw")
    with pytest.raises(ValueError, match="sampling must be one of"):
        Trainer(SpyNet(), *_data(10), optimizer=own, sampling="bootstrap")
    with pytest.raises(ValueError, match="train 10/9"):
        x, t, xt, tt = _data(10)
        Trainer(SpyNet(), x, t[:9], xt, tt, optimizer=own)


def test_progress_bar_goes_to_stderr_not_stdout(capsys):
    Trainer(SpyNet(), *_data(100), epochs=1, mini_batch_size=50, optimizer=CountingSGD(),
            verbose=True, rng=np.random.default_rng(0)).train()
    out = capsys.readouterr()
    assert out.out == ""
    assert "train" in out.err and "2/2" in out.err
