"""The training loop: repeatable, learns, stops early, and refuses to pass a run that changed nothing."""

import warnings
import pytest
import torch
from torch import nn

from labkit import data, models, train
from labkit.errors import ParameterError


@pytest.fixture(scope="module")
def xor():
    return data.load("xor", n=400, noise=0.05)


def _net(seed=0):
    torch.manual_seed(seed)
    return models.mlp((2,), hidden=(16,), num_classes=2)


def test_learns_xor(xor):
    net = _net()
    hist = train.fit(net, xor.train, xor.val, epochs=60, lr=1e-2, progress=False)
    assert hist.val_acc[-1] > 0.9
    assert hist.train_loss[-1] < hist.train_loss[0]


def test_same_seed_same_run(xor):
    a, b = _net(), _net()
    ha = train.fit(a, xor.train, xor.val, epochs=3, progress=False, seed=5)
    hb = train.fit(b, xor.train, xor.val, epochs=3, progress=False, seed=5)
    assert ha.val_loss == hb.val_loss
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_a_run_that_changes_no_weight_fails_loudly(xor):
    class ForgotStep(torch.optim.SGD):
        def step(self, closure=None):  # the classic bug: optimizer.step() never updates anything
            return None

    net = _net()
    with pytest.raises(train.LearningError, match="No weight changed during the first epoch"):
        train.fit(net, xor.train, xor.val, epochs=2, progress=False, torch_optimizer=ForgotStep(net.parameters(), lr=0.1))


def test_a_loss_that_does_not_fall_warns(xor):
    net = _net()
    with pytest.warns(train.LearningWarning, match="did not fall"):
        train.fit(net, xor.train, xor.val, epochs=3, lr=1e-9, progress=False)


def test_a_converged_model_fine_tuned_without_progress_does_not_warn(xor):
    few = data.Split(xor.train.X[:32], xor.train.y[:32])          # 32 points a network can memorise
    torch.manual_seed(0)
    net = models.mlp((2,), hidden=(64, 64), num_classes=2)
    train.fit(net, few, few, epochs=300, lr=1e-2, patience=300, progress=False)    # learn them first
    with warnings.catch_warnings():
        warnings.simplefilter("error", train.LearningWarning)
        hist = train.fit(net, few, few, epochs=3, lr=1e-9, progress=False)
    assert hist.train_loss[0] < train.CONVERGED_LOSS and not hist.train_loss[-1] < hist.train_loss[0]


def test_early_stopping_restores_the_best_epoch(xor):
    net = _net()
    hist = train.fit(net, xor.train, xor.val, epochs=200, lr=5e-2, patience=3, progress=False)
    assert hist.stopped_early and len(hist.val_loss) < 200
    assert train.evaluate(net, xor.val)["loss"] == pytest.approx(min(hist.val_loss), rel=1e-5)


def test_early_stopping_on_accuracy_restores_the_most_accurate_epoch(xor):
    net = _net()
    hist = train.fit(net, xor.train, xor.val, epochs=200, lr=5e-2, patience=3, monitor="val_acc", progress=False)
    assert hist.stopped_early and hist.val_acc[hist.best_epoch] == max(hist.val_acc)
    assert train.accuracy(net, xor.val) == pytest.approx(max(hist.val_acc))


def test_an_epoch_end_hook_sees_each_epoch_and_can_stop_training(xor):
    seen = []

    def on_epoch_end(model, hist):
        seen.append(len(hist.val_acc))
        return hist.val_acc[-1] > 0.8           # a stopping rule of the caller's own

    hist = train.fit(_net(), xor.train, xor.val, epochs=200, lr=5e-2, on_epoch_end=on_epoch_end, progress=False)
    assert hist.stopped_early and seen == list(range(1, len(hist.val_acc) + 1)) and hist.val_acc[-1] > 0.8
    assert len(hist.epoch_cpu_seconds) == len(hist.val_acc) and hist.cpu_seconds > 0


def test_an_unknown_monitor_is_named(xor):
    with pytest.raises(ParameterError, match="'monitor' parameter of TrainConfig must be one of 'val_loss', 'val_acc'"):
        train.fit(_net(), xor.train, xor.val, patience=2, monitor="accuracy", progress=False)


def test_hooks_replace_the_loss_and_run_after_each_step(xor):
    net, calls = _net(), {"loss": 0, "after": 0}

    def loss_fn(model, xb, yb):
        calls["loss"] += 1
        return nn.functional.cross_entropy(model(xb), yb)

    def after_step(model):
        calls["after"] += 1
        with torch.no_grad():
            model[1].weight[0, 0] = 0.0  # e.g. a pruning mask re-applied

    train.fit(net, xor.train, epochs=2, batch_size=64, progress=False, loss_fn=loss_fn, after_step=after_step)
    assert calls["loss"] == calls["after"] == 2 * -(-len(xor.train) // 64)
    assert net[1].weight[0, 0].item() == 0.0


def test_one_thread_by_default(xor):
    train.fit(_net(), xor.train, epochs=1, progress=False)
    assert torch.get_num_threads() == 1


@pytest.mark.parametrize("overrides, match", [
    ({"epochs": 0}, "'epochs' parameter of TrainConfig must be an int >= 1"),
    ({"lr": -1.0}, "'lr' parameter of TrainConfig must be a float > 0.0"),
    ({"optimizer": "lbfgs"}, "'optimizer' parameter of TrainConfig must be one of 'adam', 'adamw', 'sgd'"),
    ({"batch_size": 0}, "'batch_size' parameter of TrainConfig"),
    ({"threads": 0}, "'threads' parameter of TrainConfig"),
])
def test_bad_config_is_named(xor, overrides, match):
    with pytest.raises(ParameterError, match=match):
        train.fit(_net(), xor.train, xor.val, progress=False, **overrides)


def test_patience_needs_a_validation_split(xor):
    with pytest.raises(ParameterError, match="'patience' parameter of fit must be None when no validation split"):
        train.fit(_net(), xor.train, patience=2, progress=False)


def test_wrong_split_type_is_named(xor):
    with pytest.raises(ParameterError, match="'train' parameter of fit must be a labkit.data.Split"):
        train.fit(_net(), (xor.train.X, xor.train.y), progress=False)
