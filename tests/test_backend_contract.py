"""The backend contract (issue 12): both sessions declare and implement every member the checks
call, a capability a framework lacks raises NotSupported and the probe notes it, one method name
means one thing in both frameworks, and one guard keeps every global generator."""

from __future__ import annotations

import inspect
import random

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch
from keras.src.backend.common import global_state
from torch import nn

from keras_corpus import digits_arrays, sparse_ce
from pytest_mlcheck import diagnosis
from pytest_mlcheck.backends.base import Backend, Session
from pytest_mlcheck.backends.keras_backend import KerasBackend, KerasSession
from pytest_mlcheck.backends.rng import seeded_globals
from pytest_mlcheck.backends.torch_backend import TorchBackend, TorchSession
from pytest_mlcheck.checks.common import open_session
from pytest_mlcheck.checks.runner import TrainSpec
from pytest_mlcheck.errors import MlcheckUsageError, NotSupported
from pytest_mlcheck.settings import Settings
from torch_corpus import digits_batch


def declared(protocol: type) -> dict[str, object]:
    names = {n for n in vars(protocol) if not n.startswith("_")} | set(protocol.__annotations__)
    return {n: getattr(protocol, n, None) for n in names}


@pytest.mark.parametrize("session", [TorchSession, KerasSession])
def test_each_session_implements_every_declared_member_with_the_same_parameters(session):
    for name, member in declared(Session).items():
        if callable(member):
            assert callable(getattr(session, name, None)), name
            ours = [(p.name, p.kind) for p in inspect.signature(getattr(session, name)).parameters.values()]
            theirs = [(p.name, p.kind) for p in inspect.signature(member).parameters.values()]
            assert ours == theirs, name
    # no method outside the declaration: one name, one meaning in both frameworks
    undeclared = {
        n for c in session.__mro__ if c is not object for n, v in vars(c).items()
        if not n.startswith("_") and inspect.isfunction(v)
    } - set(declared(Session))
    assert undeclared == set()


@pytest.mark.parametrize("backend", [TorchBackend, KerasBackend])
def test_each_backend_opens_with_the_declared_parameters_and_has_no_name(backend):
    assert not hasattr(Backend, "name") and not hasattr(backend, "name")
    declared_kw = [p for p in inspect.signature(Backend.open).parameters if p not in ("self", "model")]
    assert "within" in declared_kw
    assert inspect.signature(backend.open).return_annotation in (Session, "Session")


def test_not_supported_is_neither_a_usage_error_nor_a_failure():
    err = NotSupported("reading gradients", "they are private")
    assert isinstance(err, Exception) and not isinstance(err, (MlcheckUsageError, AssertionError))
    assert str(err) == "reading gradients is not supported: they are private"


def keras_model() -> keras.Model:
    return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])


def keras_step(model, optimizer, loss_fn, x, y):
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    return loss


def test_keras_step_gradients_are_not_supported_and_gradients_flow_notes_it(mlcheck):
    model = keras_model()
    session = open_session(model, Settings(), TrainSpec(loss_fn=sparse_ce(), train_step=keras_step))
    try:
        for method in (session.step_gradients, session.gradient_norm, session.clear_gradients):
            with pytest.raises(NotSupported):
                method()
        assert session.uncovered_parameters() == []  # a true answer: Keras updates what it is given
    finally:
        session.close()
    result = mlcheck.gradients_flow(model, digits_arrays(32), loss_fn=sparse_ce(), train_step=keras_step)
    assert result.passed
    assert any("not supported" in note and "judged by which parameters changed" in note for note in result.notes)


class _NoGradients:
    def prepare(self, x, y=None):
        return x, y

    def scale_lr(self, factor):
        pass

    def clear_gradients(self):
        raise NotSupported("clearing gradients", "not visible")

    def close(self):
        self.closed = True


def test_the_missing_zero_grad_probe_notes_that_it_did_not_run():
    notes: list[str] = []
    session = _NoGradients()
    assert diagnosis.missing_zero_grad(lambda: session, lambda s: s.prepare(1, 2), notes) == []
    assert notes == ["missing_zero_grad probe not run: clearing gradients is not supported: not visible"]
    assert session.closed


class TrainingDoubles(keras.layers.Layer):
    def call(self, x, training=False):
        return x * 2.0 if training else x


class TrainingDoublesTorch(nn.Module):
    def forward(self, x):
        return x * 2.0 if self.training else x


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_loss_means_one_thing_in_both_frameworks(framework):
    if framework == "torch":
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), TrainingDoublesTorch())
        spec, raw = TrainSpec(loss_fn=nn.CrossEntropyLoss()), digits_batch(16)
    else:
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10),
                                  TrainingDoubles()])
        spec, raw = TrainSpec(loss_fn=sparse_ce()), digits_arrays(16)
    session = open_session(model, Settings(), spec)
    try:
        batch = session.prepare(*raw)
        outputs = session.predict(batch)
        assert session.has_loss()
        assert session.loss(batch, training=False) == pytest.approx(session.loss_of(outputs, batch), rel=1e-5)
        assert session.loss(batch, training=True) == pytest.approx(session.loss_of(2 * outputs, batch), rel=1e-5)
    finally:
        session.close()


def test_a_probe_session_starts_from_the_users_weights_and_leaves_the_checks_trained_ones():
    model = keras_model()
    user = [v.numpy().copy() for v in model.variables]
    spec = TrainSpec(loss_fn=sparse_ce(), optimizer=keras.optimizers.SGD(0.5))
    outer = open_session(model, Settings(), spec)
    try:
        batch = outer.prepare(*digits_arrays(32))
        for _ in range(3):
            outer.train_step(batch)
        trained = [v.numpy().copy() for v in model.variables]
        assert not np.array_equal(trained[0], user[0])
        probe = open_session(model, Settings(), spec, within=outer)
        try:
            assert all(np.array_equal(v.numpy(), u) for v, u in zip(model.variables, user))
            probe.train_step(probe.prepare(*digits_arrays(32)))
        finally:
            probe.close()
        assert all(np.array_equal(v.numpy(), t) for v, t in zip(model.variables, trained))
    finally:
        outer.close()
    assert all(np.array_equal(v.numpy(), u) for v, u in zip(model.variables, user))


def generator_states() -> tuple:
    keras_gen = global_state.get_global_attribute("global_seed_generator")
    return (random.getstate(), np.random.get_state()[1].tolist(), torch.get_rng_state().tolist(),
            tf.random.get_global_generator().state.numpy().tolist(),
            None if keras_gen is None else keras_gen.state.numpy().tolist())


def test_the_guard_restores_every_generator_when_its_block_raises():
    keras.random.SeedGenerator  # noqa: B018 - keras imported: its generator is guarded too
    before = generator_states()
    with pytest.raises(KeyboardInterrupt):
        with seeded_globals(5):
            random.random(), np.random.random(), torch.rand(1), tf.random.get_global_generator().normal([1])
            keras.random.normal([1])
            raise KeyboardInterrupt
    assert generator_states() == before


def test_a_torch_check_queues_no_cuda_seed_for_later():
    """torch.manual_seed queues a CUDA seed to apply when CUDA starts: the user's own CUDA
    generator would start from the check's seed."""
    if torch.cuda.is_initialized():
        pytest.skip("CUDA is initialised here")
    queued = len(torch.cuda._queued_calls)
    with seeded_globals(3):
        pass
    session = open_session(nn.Linear(2, 2), Settings(), TrainSpec(loss_fn=nn.MSELoss()))
    session.close()
    assert len(torch.cuda._queued_calls) == queued


def test_preprocessing_parity_seeds_tensorflow_and_keras_generators_too(mlcheck):
    def augment(sample):
        noise = tf.random.get_global_generator().uniform(sample.shape) + keras.random.uniform(sample.shape)
        return np.asarray(sample + 1e-2 * noise)

    samples = [np.ones((4,), np.float32), np.zeros((4,), np.float32)]
    tf.random.get_global_generator()
    before = generator_states()
    assert mlcheck.preprocessing_parity(augment, augment, samples).passed
    assert generator_states() == before
