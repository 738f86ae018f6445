"""A failed training run whose optimizer's learning rate ended below 1/16 of its first step's (more
than the check's 16× extension could make up for) names `lr_too_low` from that value: the schedule
drove it down inside the run (d2l's Kaggle house
section: ``ExponentialDecay(decay_rate=weight_decay)`` with ``weight_decay = 0`` gives lr 5, then
exactly 0). Schedules that keep a usable rate, and constant rates, are judged as before."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

import torch_corpus as tc
from keras_corpus import digits_arrays
from pytest_mlcheck import CheckFailed, MLCheck

# the rate a step multiplies by: 0 ** (step / 100) is 1 at step 0 and 0 after it (the d2l misuse);
# 0.5 ** (step / 100) halves it every 100 steps, a usable schedule for a 400-step check
DECAY = {"to zero": 0.0, "halving": 0.5, "constant": 1.0}


def _torch(decay: float) -> dict:
    torch.manual_seed(0)

    def optimizer(params):
        opt = torch.optim.Adam(params, lr=1e-2)
        opt.schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: decay ** (step / 100))
        return opt

    def train_step(model, opt, loss_fn, x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        opt.schedule.step()
        return loss

    return {"model": tc.digits_mlp(), "batch": tc.digits_batch(32), "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": optimizer, "train_step": train_step}


def _keras(decay: float) -> dict:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(10)])
    rate = keras.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=100, decay_rate=decay)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.Adam(rate))
    return {"model": model, "batch": digits_arrays(32)}


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize("schedule", list(DECAY))
def test_a_schedule_that_drives_the_rate_to_zero_is_named_from_its_value(mlcheck: MLCheck, schedule, framework):
    case = (_torch if framework == "torch" else _keras)(DECAY[schedule])
    run = lambda: mlcheck.overfit_one_batch(**case)  # noqa: E731
    if schedule != "to zero":
        assert run().passed
        return
    with pytest.raises(CheckFailed) as failed:
        run()
    assert failed.value.causes[:1] == ["lr_too_low"], str(failed.value)
    assert "learning rate fell from 0.01 at the first step to 0 by step" in str(failed.value)


def test_the_rate_is_named_only_below_the_share_the_extension_could_make_up_for():
    from pytest_mlcheck.diagnosis import learning_rate_vanished
    from pytest_mlcheck.thresholds import LR_VANISHED, OVERFIT_EXTEND

    assert LR_VANISHED == 1 / OVERFIT_EXTEND
    assert learning_rate_vanished(5.0, 0.0, 400) and learning_rate_vanished(1e-2, 9e-6, 400)
    # StepLR(10, 0.95) stepped per batch: 1/60 of the rate by step 800
    assert learning_rate_vanished(1e-3, 1e-3 * 0.95 ** 80, 800)
    assert not learning_rate_vanished(1e-2, 1e-3, 400)  # a tenth: 16× the budget at it still moves the weights
    assert not learning_rate_vanished(0.0, 0.0, 400) and not learning_rate_vanished(np.nan, 0.0, 400)


def test_a_schedule_read_ahead_names_a_rate_above_the_share_that_keeps_falling():
    """StepLR(10, 0.95) stepped per batch, at step 400: 1/8 of its first rate, above LR_VANISHED, yet
    steps 400 to 6,400 add up to 26 steps at the first rate against the run's own 174 (15 %)."""
    from pytest_mlcheck.diagnosis import learning_rate_vanished
    from pytest_mlcheck.thresholds import LR_AHEAD_SHARE

    now = 1e-3 * 0.95 ** 40
    found = learning_rate_vanished(1e-3, now, 400, ahead=(25.7, 174.0))
    assert [c for c, _ in found] == ["lr_too_low"]
    assert "steps 400 to 6,400 add up to 25.7 steps at the first rate, 15% of the 174 the run's own 400" in found[0][1]
    assert not learning_rate_vanished(1e-3, now, 400, ahead=None)  # a torch scheduler: not read ahead
    # ExponentialDecay(1e-3, 50, 0.9): fast but usable (215 of 285); tf_unet's per-epoch decay (143 of 257)
    assert LR_AHEAD_SHARE * 285 < 215 and not learning_rate_vanished(1e-3, 1e-3 * 0.9 ** 8, 400, ahead=(215.0, 285.0))
    assert not learning_rate_vanished(1e-3, 1e-3 * 0.95 ** 20, 400, ahead=(143.0, 257.0))
    assert not learning_rate_vanished(1e-3, 1e-3, 400, ahead=(10.0, 400.0))  # a rate that has not fallen


@pytest.mark.parametrize("decay_steps, expected", [(10, 10 * 0.95 ** 40 * (1 - 0.95 ** 600) / 0.05),
                                                   (1000, None)])
def test_a_keras_schedule_is_read_ahead_as_steps_at_its_first_rate(decay_steps: int, expected: float | None):
    from pytest_mlcheck import Settings
    from pytest_mlcheck.checks.common import open_session
    from pytest_mlcheck.checks.runner import TrainSpec

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    rate = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=decay_steps, decay_rate=0.95, staircase=True)
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(rate))
    session = open_session(model, Settings(seed=0), TrainSpec())
    try:
        ahead = session.schedule_ahead(400, 6400)
    finally:
        session.close()
    if expected is None:  # once per 1,000 steps: most of 6,000 steps at 0.95..0.77 of the first rate
        assert 4000 < ahead < 6000
    else:
        assert ahead == pytest.approx(expected, rel=0.05)


def test_a_torch_scheduler_is_not_read_ahead():
    from pytest_mlcheck import Settings
    from pytest_mlcheck.checks.common import open_session
    from pytest_mlcheck.checks.runner import TrainSpec
    from pytest_mlcheck.errors import NotSupported

    case = _torch(0.5)
    session = open_session(case["model"], Settings(seed=0), TrainSpec(loss_fn=case["loss_fn"],
                                                                      optimizer=case["optimizer"]))
    try:
        with pytest.raises(NotSupported):
            session.schedule_ahead(400, 6400)
    finally:
        session.close()


def test_a_schedule_defined_only_up_to_its_horizon_is_not_read_ahead():
    """A table of rates indexed by the step raises past its end: no look ahead, and no traceback."""
    from pytest_mlcheck import Settings
    from pytest_mlcheck.checks.common import open_session
    from pytest_mlcheck.checks.runner import TrainSpec
    from pytest_mlcheck.errors import NotSupported

    @keras.saving.register_keras_serializable(package="mlcheck_tests")
    class Table(keras.optimizers.schedules.LearningRateSchedule):
        def __init__(self, rates):
            self.rates = list(rates)

        def __call__(self, step):
            return self.rates[int(step)]

        def get_config(self):
            return {"rates": self.rates}

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(Table([1e-3 * 0.99 ** i for i in range(1000)])))
    session = open_session(model, Settings(seed=0), TrainSpec())
    try:
        assert 0 < session.schedule_ahead(0, 400) < 400
        with pytest.raises(NotSupported, match="raised IndexError"):
            session.schedule_ahead(400, 6400)
    finally:
        session.close()


class _Warmup(keras.optimizers.schedules.LearningRateSchedule):
    """A schedule written without get_config(), which Keras needs to copy the optimizer holding it."""

    def __call__(self, step):
        return 1e-2 * keras.ops.minimum(1.0, (keras.ops.cast(step, "float32") + 1) / 10)


def _regression() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    return x, x.sum(axis=1, keepdims=True)


def test_a_compiled_schedule_without_get_config_is_a_usage_error_that_says_how_to_fix_it(mlcheck: MLCheck):
    from pytest_mlcheck import MlcheckUsageError

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(_Warmup()))
    with pytest.raises(MlcheckUsageError, match="schedule _Warmup cannot be copied.*give it a get_config"):
        mlcheck.overfit_one_batch(model, _regression())


def test_the_same_schedule_through_an_optimizer_factory_trains(mlcheck: MLCheck):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(loss="mse")
    assert mlcheck.overfit_one_batch(model, _regression(),
                                     optimizer=lambda params: keras.optimizers.Adam(_Warmup())).passed
