"""A Keras model whose class overrides ``train_step`` is trained through its override, on the check's
own optimizer: a broken override fails, and the user's compiled optimizer (iterations, slots, learning
rate) and metrics are unchanged after any check, whatever ``train_step=`` does. Under the
``mixed_float16`` policy the check scales the loss as ``fit()`` does."""

from __future__ import annotations

from typing import Iterator

import keras
import numpy as np
import pytest
import tensorflow as tf

import test_keras_non_mutation as kn
from keras_corpus import digits_array_batches, digits_arrays, sparse_ce
from pytest_mlcheck import CheckFailed, MlcheckUsageError
from test_keras_non_mutation import seeded_globals  # noqa: F401 - a fixture
from test_step_own_loss import OwnLossModel

layers = keras.layers


@pytest.fixture(autouse=True)
def _known_generators(seeded_globals) -> None:  # noqa: F811
    """Every global generator exists with a known state (snapshots compare their next draws)."""


class GuideStep(keras.Model):
    """The Keras guide's custom ``train_step``; ``mode`` breaks it the ways users do."""

    def __init__(self, *, mode: str = "correct", spelling: str = "apply", hidden: int = 32, **kwargs):
        super().__init__(**kwargs)
        init = keras.initializers.GlorotUniform(seed=0)
        self.flatten = layers.Flatten()
        self.hidden = layers.Dense(hidden, activation="relu", kernel_initializer=init)
        self.head = layers.Dense(10, kernel_initializer=init)
        self.mode = mode
        self.spelling = spelling

    def call(self, x, training=False):
        return self.head(self.hidden(self.flatten(x)))

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
        variables = self.head.trainable_variables if self.mode == "forgets_a_layer" else self.trainable_variables
        grads = tape.gradient(loss, variables)
        if self.mode == "sign_flipped":
            grads = [-g for g in grads]
        if self.mode != "never_applies":
            if self.spelling == "apply":
                self.optimizer.apply(grads, variables)
            else:
                self.optimizer.apply_gradients(zip(grads, variables))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        if self.mode == "no_loss_in_logs":
            return {"accuracy_only": 1.0}
        return {m.name: m.result() for m in self.metrics}


def guide_model(**kwargs) -> keras.Model:
    model = GuideStep(**kwargs)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=sparse_ce(), metrics=["accuracy"])
    model(np.zeros((1, 8, 8, 1), np.float32))
    return model


def fitted(model: keras.Model) -> keras.Model:
    """The user's state: an optimizer with iterations and slots, metrics with values."""
    variables = model.trainable_variables
    model.optimizer.build(variables)  # slots for every variable, whichever the step updates
    model.fit(*digits_arrays(64), batch_size=32, epochs=1, verbose=0)
    model.optimizer.apply([tf.fill(v.shape, 1e-3) for v in variables], variables)  # also for a step that never applies
    assert int(model.optimizer.iterations.numpy()) >= 1 and len(model.optimizer.variables) > 2
    return model


@pytest.mark.parametrize("spelling", ["apply", "apply_gradients"])
def test_a_correct_override_passes_the_training_checks(mlcheck, spelling):
    model = fitted(guide_model(spelling=spelling, hidden=8))  # the broken twins below are this size
    before = kn.snapshot(model)
    assert mlcheck.overfit_one_batch(model, digits_arrays(32)).passed
    assert mlcheck.loss_decreases(model, digits_array_batches(4), steps=20).passed
    kn.assert_same(before, kn.snapshot(model))


@pytest.mark.parametrize("mode", ["never_applies", "sign_flipped", "forgets_a_layer"])
def test_a_broken_override_fails_and_changes_nothing(mlcheck, mode):
    model = fitted(guide_model(mode=mode, hidden=8))
    before = kn.snapshot(model)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, digits_arrays(32))
    kn.assert_same(before, kn.snapshot(model))
    if mode == "never_applies":  # gradients computed, never applied: the weights stay as given
        assert failed.value.causes[:1] == ["params_not_updated"], str(failed.value)
        assert "never applies" in str(failed.value)


def test_the_override_is_what_trains(mlcheck):
    calls = []

    class Counting(GuideStep):
        def train_step(self, data):
            calls.append(1)
            return super().train_step(data)

    model = Counting()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=sparse_ce())
    result = mlcheck.overfit_one_batch(model, digits_arrays(32))
    assert result.passed and calls  # traced after the first step: counted at least once per trace


def test_an_override_whose_logs_have_no_loss_is_a_usage_error(mlcheck):
    model = guide_model(mode="no_loss_in_logs")
    with pytest.raises(MlcheckUsageError, match="loss"):
        mlcheck.overfit_one_batch(model, digits_arrays(32))


TRAINING_CALLS = {
    "overfit_one_batch": lambda m, model, **kw: m.overfit_one_batch(model, digits_arrays(32), steps=15, **kw),
    "loss_decreases": lambda m, model, **kw: m.loss_decreases(model, digits_array_batches(2), steps=8, **kw),
    "gradients_flow": lambda m, model, **kw: m.gradients_flow(model, digits_arrays(32), **kw),
    "not_constant_predictions": lambda m, model, **kw: m.not_constant_predictions(
        model, digits_arrays(32)[0], train_on=[digits_arrays(32)], steps=5, **kw),
    "input_independent_baseline": lambda m, model, **kw: m.input_independent_baseline(
        model, digits_arrays(64), steps=8, **kw),
}
USER_STEPS = {
    "own": None,  # the model's override
    "calls_model_train_step": lambda m, opt, loss, x, y: m.train_step((x, y)),
    "returns_the_loss": lambda m, opt, loss, x, y: m.train_step((x, y))["loss"],
}


@pytest.mark.parametrize("step", list(USER_STEPS))
@pytest.mark.parametrize("check", list(TRAINING_CALLS))
def test_the_compiled_optimizer_and_metrics_are_unchanged_whatever_the_step(mlcheck, check, step):
    model = fitted(guide_model())
    user_opt = model.optimizer
    before = kn.snapshot(model)
    try:
        TRAINING_CALLS[check](mlcheck, model, train_step=USER_STEPS[step])
    except CheckFailed:
        pass
    assert model.optimizer is user_opt
    kn.assert_same(before, kn.snapshot(model))  # iterations, every slot, learning rate, metrics


def test_a_plain_model_driven_through_train_step_leaves_its_compiled_optimizer(mlcheck):
    # the finding: 192 iterations on the user's optimizer after one check
    model = keras.Sequential([keras.Input((8, 8, 1)), layers.Flatten(), layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=sparse_ce(), metrics=["accuracy"])
    fitted(model)
    before = kn.snapshot(model)
    iterations = int(model.optimizer.iterations.numpy())
    mlcheck.overfit_one_batch(model, digits_arrays(32), train_step=USER_STEPS["calls_model_train_step"])
    assert int(model.optimizer.iterations.numpy()) == iterations
    kn.assert_same(before, kn.snapshot(model))


def test_metrics_never_built_are_left_unbuilt_values(mlcheck):
    model = guide_model()  # compiled, never fit: its compiled metrics hold no variables yet
    built = len(model.optimizer.variables)  # iterations and learning rate: no slots yet
    mlcheck.overfit_one_batch(model, digits_arrays(32))
    assert int(model.optimizer.iterations.numpy()) == 0 and len(model.optimizer.variables) == built
    assert all(float(np.sum(np.abs(v.numpy()))) == 0.0 for v in model.metrics_variables)


# -- mixed precision ------------------------------------------------------------------------

@pytest.fixture
def mixed_float16() -> Iterator[None]:
    saved = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(saved)


def small_mixed_model() -> keras.Model:
    init = keras.initializers.GlorotUniform(seed=0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Flatten(),
        layers.Dense(32, activation="relu", kernel_initializer=init),
        layers.Dense(10, kernel_initializer=init),
    ])
    # SGD: Adam's update barely notices gradients left scaled by 2**15, SGD's is 2**15 times too small
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=sparse_ce())
    return model


def test_a_mixed_precision_model_that_fit_memorises_passes(mlcheck, mixed_float16):
    # the finding: "loss 2.345 -> 2.345, lr_too_low" where fit() memorises the same batch
    x, y = digits_arrays(32)
    reference = small_mixed_model()
    assert reference.dtype_policy.name == "mixed_float16"
    assert isinstance(reference.optimizer, keras.optimizers.LossScaleOptimizer)  # what fit() trains with
    reference.fit(tf.data.Dataset.from_tensors((x, y)).repeat(300), epochs=1, shuffle=False, verbose=0)  # 300 steps, one epoch
    assert np.array_equal(np.argmax(reference.predict(x, verbose=0), axis=1), y), "fit() memorises the batch"

    model = small_mixed_model()
    before = kn.snapshot(model)
    result = mlcheck.overfit_one_batch(model, (x, y))
    assert result.passed, result
    assert result.end_loss < 0.1 * result.start_loss
    kn.assert_same(before, kn.snapshot(model))


def test_an_uncompiled_mixed_precision_model_gets_loss_scaling_too(mlcheck, mixed_float16):
    model = small_mixed_model()
    uncompiled = keras.models.clone_model(model)
    result = mlcheck.overfit_one_batch(uncompiled, digits_arrays(32), loss_fn=sparse_ce(),
                                       optimizer=keras.optimizers.SGD(0.1))
    assert result.passed
    out = mlcheck.output_range(uncompiled, digits_arrays(32)[0], kind="logits")
    assert out.passed


def test_an_override_with_a_loss_of_its_own_is_judged_on_the_loss_it_returns(mlcheck):
    model = OwnLossModel(reads_labels=True)  # a cross-entropy computed inside the override
    model.compile(optimizer=keras.optimizers.Adam(1e-2))  # no loss: the override brings its own
    model(np.zeros((1, 8, 8, 1), np.float32))
    result = mlcheck.loss_decreases(model, digits_array_batches(4), steps=40)
    assert result.passed and result.figures["drop"] > 0.1, result.figures


class CriticStep(keras.Model):
    """A classifier whose override also trains a critic of its outputs from the critic's own loss and
    optimizer (wiseodd's AVB steps its discriminator so); ``trains_critic=False`` leaves it untouched."""

    def __init__(self, *, trains_critic: bool = True, **kwargs):
        super().__init__(**kwargs)
        init = keras.initializers.GlorotUniform(seed=0)
        self.flatten = layers.Flatten()
        self.hidden = layers.Dense(16, activation="relu", kernel_initializer=init)
        self.head = layers.Dense(10, kernel_initializer=init)
        self.critic = keras.Sequential([layers.Dense(64, activation="relu", kernel_initializer=init),
                                        layers.Dense(1, kernel_initializer=init)])
        self.critic_optimizer = keras.optimizers.Adam(1e-3)
        self.trains_critic = trains_critic

    def call(self, x, training=False):
        return self.head(self.hidden(self.flatten(x)))

    def train_step(self, data):
        x, y = data
        net = self.hidden.trainable_variables + self.head.trainable_variables
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred)
        self.optimizer.apply(tape.gradient(loss, net), net)
        if self.trains_critic:
            with tf.GradientTape() as tape:
                score = tf.reduce_mean(tf.square(self.critic(tf.stop_gradient(y_pred))))
            self.critic_optimizer.apply(tape.gradient(score, self.critic.trainable_variables),
                                        self.critic.trainable_variables)
        return {"loss": loss}


@pytest.mark.parametrize("trains_critic", [True, False])
def test_a_critic_the_override_trains_from_its_own_loss_is_not_named_unreached(mlcheck, trains_critic):
    """The loss the check reads gives the critic (over half the weights) no gradient, yet the override
    moves it: a slow run (SGD at 1e-6) is then put down to its rate, not to weights the loss never
    reaches. The twin whose override never trains the critic keeps no_gradient first."""
    model = CriticStep(trains_critic=trains_critic)
    model.compile(optimizer=keras.optimizers.SGD(1e-6), loss=sparse_ce())
    model(np.zeros((1, 8, 8, 1), np.float32))
    model.critic.build((None, 10))
    with pytest.raises(CheckFailed) as info:
        mlcheck.loss_decreases(model, digits_array_batches(4))
    assert (info.value.causes[:1] == ["no_gradient"]) != trains_critic, str(info.value)
    assert "no_gradient" not in info.value.causes or not trains_critic
