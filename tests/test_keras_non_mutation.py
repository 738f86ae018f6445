"""A Keras check, passing or failing, leaves the user's model, its compiled optimizer and every global
RNG as they were: the Keras backend trains the model itself, in place, between a snapshot of every
variable and its restore, so these tests are what stands between a check and a corrupted model."""

from __future__ import annotations

import random
from typing import Callable, Iterator

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras.src.random.seed_generator import global_seed_generator

from keras_corpus import SubclassedCNN, digits_array_batches, digits_arrays, sparse_ce
from pytest_mlcheck import CheckFailed

layers = keras.layers


class GlobalNoise(layers.Layer):
    """Adds a little noise drawn from TensorFlow's global generator and, with no seed, from Keras's
    global seed generator, so a check's training advances both: without it nothing in a check
    would touch them and their restore would go untested."""

    def call(self, x, training=False):
        if not training:
            return x
        shape = tf.shape(x)
        return x + 1e-3 * tf.random.get_global_generator().normal(shape) + 1e-3 * keras.random.normal(shape)


def sequential_model() -> keras.Model:
    """BatchNormalization (moving statistics: non-trainable variables), Dropout (a seed generator),
    global-RNG noise and a frozen first layer."""
    init = keras.initializers.GlorotUniform(seed=0)
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Flatten(),
        layers.Dense(32, kernel_initializer=init, trainable=False),
        layers.BatchNormalization(),
        layers.ReLU(),
        layers.Dropout(0.2, seed=1),
        GlobalNoise(),
        layers.Dense(10, kernel_initializer=init),
    ])


def functional_model() -> keras.Model:
    init = keras.initializers.GlorotUniform(seed=0)
    inputs = keras.Input((8, 8, 1))
    h = layers.Dense(32, kernel_initializer=init, trainable=False)(layers.Flatten()(inputs))
    h = layers.Dropout(0.2, seed=1)(layers.ReLU()(layers.BatchNormalization()(h)))
    outputs = layers.Dense(10, kernel_initializer=init)(GlobalNoise()(h))
    return keras.Model(inputs, outputs)


def subclassed_model() -> keras.Model:
    model = SubclassedCNN()
    model(np.zeros((1, 8, 8, 1), np.float32))
    return model


BUILDERS: dict[str, Callable[[], keras.Model]] = {
    "sequential": sequential_model,
    "functional": functional_model,
    "subclassed": subclassed_model,
}


def all_layers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    return [layer] + [inner for sub in getattr(layer, "layers", []) for inner in all_layers(sub)]


def snapshot(model: keras.Model) -> dict:
    return {
        "variables": [(v.path, np.array(v.numpy(), copy=True)) for v in model.variables],
        "metrics": [np.array(v.numpy(), copy=True) for v in model.metrics_variables],
        "trainable": [(layer.name, layer.trainable) for layer in all_layers(model)]
        + [(v.path, v.trainable) for v in model.variables],
        "optimizer": [(v.path, np.array(v.numpy(), copy=True)) for v in model.optimizer.variables],
        "iterations": int(model.optimizer.iterations.numpy()),
        "learning_rate": float(np.asarray(model.optimizer.learning_rate)),
        "rng": (
            random.getstate(),
            np.random.get_state()[1].copy(),
            tf.random.get_global_generator().state.numpy().copy(),
            global_seed_generator().state.numpy().copy(),
        ),
    }


def assert_same(before: dict, after: dict) -> None:
    assert [p for p, _ in before["variables"]] == [p for p, _ in after["variables"]]
    for (path, value), (_, other) in zip(before["variables"], after["variables"]):
        assert np.array_equal(value, other), path
    for value, other in zip(before["metrics"], after["metrics"], strict=True):
        assert np.array_equal(value, other)
    assert before["trainable"] == after["trainable"]
    assert [p for p, _ in before["optimizer"]] == [p for p, _ in after["optimizer"]]
    for (path, value), (_, other) in zip(before["optimizer"], after["optimizer"]):
        assert np.array_equal(value, other), path
    assert before["iterations"] == after["iterations"]
    assert before["learning_rate"] == after["learning_rate"]
    assert before["rng"][0] == after["rng"][0]
    for name, value, other in zip(("numpy", "tensorflow", "keras"), before["rng"][1:], after["rng"][1:]):
        assert np.array_equal(value, other), name


@pytest.fixture
def seeded_globals() -> Iterator[None]:
    """Known states for the four global generators, given back as they were after the test."""
    tf_gen, keras_gen = tf.random.get_global_generator(), global_seed_generator()
    saved = random.getstate(), np.random.get_state(), tf_gen.state.numpy().copy(), keras_gen.state.numpy().copy()
    random.seed(1)
    np.random.seed(2)
    tf_gen.reset_from_seed(3)
    keras_gen.state.assign(np.array([4, 0], dtype=keras_gen.state.dtype))
    yield
    random.setstate(saved[0])
    np.random.set_state(saved[1])
    tf_gen.reset(saved[2])
    keras_gen.state.assign(saved[3])


@pytest.fixture(params=list(BUILDERS))
def user_model(request, seeded_globals) -> keras.Model:
    """A compiled model whose Adam optimizer has state (one epoch of fit)."""
    model = BUILDERS[request.param]()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=sparse_ce())
    model.fit(*digits_arrays(64), batch_size=32, epochs=1, verbose=0)
    assert int(model.optimizer.iterations.numpy()) == 2 and model.optimizer.variables
    return model


def test_a_passing_overfit_check_changes_nothing_of_the_user(mlcheck, user_model):
    before = snapshot(user_model)
    result = mlcheck.overfit_one_batch(user_model, digits_arrays(32))
    assert result.passed
    assert result.steps > 1  # it trained, so the restore had work to do
    assert_same(before, snapshot(user_model))


def test_a_failing_check_changes_nothing_of_the_user(mlcheck, user_model):
    before = snapshot(user_model)
    with pytest.raises(CheckFailed) as info:
        mlcheck.loss_decreases(user_model, digits_array_batches(4), optimizer=keras.optimizers.SGD(50.0), steps=20)
    assert info.value.result.steps > 0
    assert_same(before, snapshot(user_model))


def test_a_check_whose_model_raises_changes_nothing_of_the_user(mlcheck, user_model):
    before = snapshot(user_model)
    with pytest.raises(CheckFailed) as info:
        mlcheck.overfit_one_batch(user_model, (np.zeros((8, 3), np.float32), np.zeros(8, np.int64)))
    assert info.value.causes[0] == "input_shape", str(info.value)
    assert_same(before, snapshot(user_model))


def draws() -> tuple:
    return (
        random.random(),
        float(np.random.random()),
        float(tf.random.get_global_generator().normal([1])[0]),
        float(keras.random.normal([1])[0]),  # no seed: drawn from Keras's global seed generator
    )


def test_the_next_draw_of_every_global_generator_is_the_same_after_a_check(mlcheck, seeded_globals):
    model = sequential_model()
    tf_gen, keras_gen = tf.random.get_global_generator(), global_seed_generator()
    states = random.getstate(), np.random.get_state(), tf_gen.state.numpy().copy(), keras_gen.state.numpy().copy()
    expected = draws()
    random.setstate(states[0])
    np.random.set_state(states[1])
    tf_gen.reset(states[2])
    keras_gen.state.assign(states[3])
    mlcheck.overfit_one_batch(model, digits_arrays(32), loss_fn=sparse_ce(), optimizer=keras.optimizers.Adam(1e-2))
    assert draws() == expected


def test_the_same_seed_gives_the_same_figures_and_another_seed_other_ones(mlcheck, seeded_globals):
    # The weights are the user's, so a seed can only change the random draws of training: the
    # Dropout masks (the model's own seed generator) and GlobalNoise's draws from TensorFlow's and
    # Keras's global generators. The seed must set all of them, whatever state the user left.
    model = sequential_model()

    def run(seed: int) -> list[float]:
        return mlcheck.loss_decreases(model, digits_array_batches(4), loss_fn=sparse_ce(),
                                      optimizer=keras.optimizers.Adam(1e-2), steps=12, seed=seed, min_drop=0.01).losses

    first = run(5)
    assert run(5) == first
    draws()  # the user draws from every global generator between two checks
    assert run(5) == first
    assert run(6) != first


def test_a_model_never_built_is_built_once_and_left_at_its_initial_weights(mlcheck):
    from keras_corpus import SubclassedCNN, digits_arrays, sparse_ce

    model = SubclassedCNN()
    assert not model.variables
    first = mlcheck.overfit_one_batch(model, digits_arrays(32), loss_fn=sparse_ce(),
                                      optimizer=keras.optimizers.Adam(1e-3))
    built = [np.array(v.numpy(), copy=True) for v in model.variables]
    assert built, "the check builds the model"
    second = mlcheck.overfit_one_batch(model, digits_arrays(32), loss_fn=sparse_ce(),
                                       optimizer=keras.optimizers.Adam(1e-3))
    assert first.losses == second.losses
    assert all(np.array_equal(a, v.numpy()) for a, v in zip(built, model.variables))


RECIPE_CALLS = {
    "init_loss": lambda m, model: m.init_loss(model, digits_arrays(64)),
    "gradients_flow": lambda m, model: m.gradients_flow(model, digits_arrays(64)),
    "batch_independence": lambda m, model: m.batch_independence(model, digits_arrays(16)[0]),
    "inputs_normalized": lambda m, model: m.inputs_normalized(digits_arrays(64, scale="raw"), model=model),
    "input_independent_baseline": lambda m, model: m.input_independent_baseline(model, digits_arrays(64), steps=20),
}


@pytest.mark.parametrize("check", list(RECIPE_CALLS))
def test_a_recipe_check_changes_nothing_of_the_user(mlcheck, user_model, check):
    before = snapshot(user_model)
    try:
        RECIPE_CALLS[check](mlcheck, user_model)
    except CheckFailed:
        pass  # passing or failing, nothing may change
    assert_same(before, snapshot(user_model))
    assert not any("call" in vars(layer) for layer in user_model._flatten_layers()), "a wrapped call was left behind"


def test_the_probes_a_horizon_runs_leave_the_run_they_interrupt_as_it_was(mlcheck, monkeypatch):
    """A plateau (small init, dropout) at SGD 0.07: the retries that measure how long the run may go
    on train fresh copies of the same variables mid-run; the run then continues exactly as it would
    have without them (weights, optimizer state, dropout draws)."""
    import sys

    from pytest_mlcheck.checks.horizon import Horizon

    def plateau() -> keras.Model:
        init = keras.initializers.RandomNormal(stddev=0.05, seed=0)
        return keras.Sequential([keras.Input((8, 8, 1)), layers.Flatten(),
                                 *[layers.Dense(64, activation="relu", kernel_initializer=init) for _ in range(3)],
                                 layers.Dropout(0.1, seed=2), layers.Dense(10, kernel_initializer=init)])

    def run():
        keras.utils.set_random_seed(0)
        return mlcheck.loss_decreases(plateau(), digits_array_batches(10), loss_fn=sparse_ce(),
                                      optimizer=keras.optimizers.SGD(0.07))

    probed = run()
    note = next(n for n in probed.notes if "a fresh copy at lr×" in n)
    limit = int(note.split("(up to ")[1].split(" steps")[0].replace(",", ""))
    module = sys.modules["pytest_mlcheck.checks.loss_decreases"]
    monkeypatch.setattr(module, "horizon", lambda retry, reached, cap, goal: Horizon(10.0, 1, goal, limit))
    unprobed = run()
    assert probed.passed and probed.steps > 100 and probed.steps == unprobed.steps
    assert np.array_equal(np.asarray(probed.losses), np.asarray(unprobed.losses))
