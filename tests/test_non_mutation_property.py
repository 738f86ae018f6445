"""Non-mutation as a property: for any check, passing or failing, on a model in any mode with any
frozen subset and optimizer state, and any state of the global generators, the user's weights,
buffers, gradients, optimizer state, train/eval mode, requires_grad and each global generator's next
draw are unchanged — in both frameworks. Hypothesis draws the situations (derandomised), including
the model kinds that once escaped: a Keras layer holding a raw ``tf.Variable``, a Keras model that
overrides ``train_step``, a ``mixed_float16`` model, a torch loss with its own parameters and a torch
model with forward hooks."""

from __future__ import annotations

import random

import keras
import numpy as np
import tensorflow as tf
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from keras.src.random.seed_generator import global_seed_generator
from torch import nn

import test_keras_non_mutation as kn
import test_non_mutation as tn
from keras_corpus import digits_arrays, sparse_ce
from pytest_mlcheck import CheckFailed, MLCheck
from pytest_mlcheck.settings import Settings
from test_interruptions import RawState
from test_keras_custom_steps import GuideStep, small_mixed_model
from test_non_mutation_torch_extras import TemperatureCE
from torch_corpus import digits_batch

CE = nn.CrossEntropyLoss()
PROPERTY = settings(max_examples=30, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def _torch_checks(opt_spec, CE=CE):  # noqa: N803 - the loss, CrossEntropyLoss unless drawn
    x, y = digits_batch(64)
    return {
        "overfit_one_batch": lambda m, model: m.overfit_one_batch(model, (x[:32], y[:32]), loss_fn=CE,
                                                                  optimizer=opt_spec, steps=25),
        "loss_decreases": lambda m, model: m.loss_decreases(model, [(x[:32], y[:32]), (x[32:], y[32:])], loss_fn=CE,
                                                            optimizer=opt_spec, steps=12),
        "output_range": lambda m, model: m.output_range(model, x, kind="logits"),
        "not_constant_predictions": lambda m, model: m.not_constant_predictions(
            model, x, train_on=[(x, y)], loss_fn=CE, optimizer=opt_spec, steps=10),
        "init_loss": lambda m, model: m.init_loss(model, (x, y), loss_fn=CE),
        "gradients_flow": lambda m, model: m.gradients_flow(model, (x, y), loss_fn=CE, optimizer=opt_spec),
        "batch_independence": lambda m, model: m.batch_independence(model, x[:16]),
        "inputs_normalized": lambda m, model: m.inputs_normalized(x * 16, model=model),
        "input_independent_baseline": lambda m, model: m.input_independent_baseline(
            model, (x, y), loss_fn=CE, optimizer=opt_spec, steps=10),
        "label_roundtrip": lambda m, model: m.label_roundtrip(list(range(10)), list(range(10)), y, model=model,
                                                              inputs=x[:8]),
    }


@PROPERTY
@given(check=st.sampled_from(sorted(_torch_checks(None))), training=st.booleans(),
       frozen=st.lists(st.booleans(), min_size=6, max_size=6), lr=st.sampled_from([1e-3, 50.0]),
       as_instance=st.booleans(), seeds=st.tuples(*[st.integers(0, 2**31 - 1)] * 3))
def test_no_torch_check_changes_anything_of_the_user(check, training, frozen, lr, as_instance, seeds):
    assume(not all(frozen))
    torch.manual_seed(seeds[2])
    model = tn.bn_model()
    for p, freeze in zip(model.parameters(), frozen):
        p.requires_grad_(not freeze)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    x, y = digits_batch(32)
    CE(model(x), y).backward()
    optimizer.step()  # gradients and optimizer state exist
    model.train(training)
    random.seed(seeds[0])
    np.random.seed(seeds[1])
    torch.manual_seed(seeds[2])
    before = tn.snapshot(model, optimizer)
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    expected = tn.draws()
    random.setstate(states[0]), np.random.set_state(states[1]), torch.set_rng_state(states[2])
    opt_spec = optimizer if as_instance else (lambda params: torch.optim.Adam(params, lr=lr))
    try:
        _torch_checks(opt_spec)[check](MLCheck(Settings(seed=seeds[0] % 1000)), model)
    except CheckFailed:
        pass  # passing or failing, nothing may change
    tn.assert_same(before, tn.snapshot(model, optimizer))
    assert tn.draws() == expected


def _seed_keras_globals(seeds: tuple[int, int, int, int]) -> tuple:
    """Seed the four global generators from ``seeds``; the next draws they will give (left undrawn)."""
    tf_gen, keras_gen = tf.random.get_global_generator(), global_seed_generator()
    random.seed(seeds[0])
    np.random.seed(seeds[1])
    tf_gen.reset_from_seed(seeds[2])
    keras_gen.state.assign(np.array([seeds[3] % 2**31, 0], dtype=keras_gen.state.dtype))
    states = random.getstate(), np.random.get_state(), tf_gen.state.numpy().copy(), keras_gen.state.numpy().copy()
    expected = kn.draws()
    random.setstate(states[0])
    np.random.set_state(states[1])
    tf_gen.reset(states[2])
    keras_gen.state.assign(states[3])
    return expected


def _keras_checks():
    x, y = digits_arrays(64)
    return {
        "overfit_one_batch": lambda m, model: m.overfit_one_batch(model, (x[:32], y[:32]), steps=25),
        "loss_decreases": lambda m, model: m.loss_decreases(model, [(x[:32], y[:32]), (x[32:], y[32:])], steps=12),
        "output_range": lambda m, model: m.output_range(model, x, kind="logits"),
        "not_constant_predictions": lambda m, model: m.not_constant_predictions(model, x, train_on=[(x, y)], steps=10),
        "init_loss": lambda m, model: m.init_loss(model, (x, y)),
        "gradients_flow": lambda m, model: m.gradients_flow(model, (x, y)),
        "batch_independence": lambda m, model: m.batch_independence(model, x[:16]),
        "inputs_normalized": lambda m, model: m.inputs_normalized(x * 16, model=model),
        "input_independent_baseline": lambda m, model: m.input_independent_baseline(model, (x, y), steps=10),
    }


@settings(max_examples=15, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(check=st.sampled_from(sorted(_keras_checks())), builder=st.sampled_from(sorted(kn.BUILDERS)),
       lr=st.sampled_from([1e-2, 50.0]), seeds=st.tuples(*[st.integers(0, 2**31 - 1)] * 4))
def test_no_keras_check_changes_anything_of_the_user(check, builder, lr, seeds):
    model = kn.BUILDERS[builder]()
    model.compile(optimizer=keras.optimizers.Adam(lr), loss=sparse_ce())
    model.fit(*digits_arrays(64), batch_size=32, epochs=1, verbose=0)
    expected = _seed_keras_globals(seeds)
    before = kn.snapshot(model)
    try:
        _keras_checks()[check](MLCheck(Settings(seed=seeds[0] % 1000)), model)
    except CheckFailed:
        pass
    kn.assert_same(before, kn.snapshot(model))
    assert kn.draws() == expected


# -- the model kinds that once escaped --------------------------------------------------------------

@settings(max_examples=12, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(check=st.sampled_from(sorted(_torch_checks(None))), kind=st.sampled_from(["loss_parameters", "forward_hooks"]),
       as_instance=st.booleans(), seeds=st.tuples(*[st.integers(0, 2**31 - 1)] * 3))
def test_no_torch_check_changes_a_loss_with_parameters_or_reaches_through_hooks(check, kind, as_instance, seeds):
    torch.manual_seed(seeds[2])
    model = tn.bn_model()
    loss = TemperatureCE() if kind == "loss_parameters" else CE
    recorded: list[tuple] = []
    if kind == "forward_hooks":
        model[1].register_forward_hook(lambda module, args, out: recorded.append(tuple(out.shape)))
        model[2].register_forward_pre_hook(lambda module, args: recorded.append(("pre", module.training)))
    optimizer = torch.optim.Adam(list(model.parameters()) + list(getattr(loss, "parameters", list)()), lr=1e-2)
    x, y = digits_batch(32)
    loss(model(x), y).backward()
    optimizer.step()  # gradients and optimizer state exist, on the loss's parameter too
    random.seed(seeds[0])
    np.random.seed(seeds[1])
    torch.manual_seed(seeds[2])
    before, before_loss, seen = tn.snapshot(model, optimizer), _loss_state(loss), list(recorded)
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    expected = tn.draws()
    random.setstate(states[0]), np.random.set_state(states[1]), torch.set_rng_state(states[2])
    opt_spec = optimizer if as_instance else (lambda params: torch.optim.Adam(params, lr=1e-2))
    try:
        _torch_checks(opt_spec, loss)[check](MLCheck(Settings(seed=seeds[0] % 1000)), model)
    except CheckFailed:
        pass
    tn.assert_same(before, tn.snapshot(model, optimizer))
    assert _loss_state(loss) == before_loss
    assert recorded == seen  # nothing the check ran was recorded into the user's list
    assert tn.draws() == expected


def _loss_state(loss) -> list:
    return [(n, p.detach().clone().tolist(), None if p.grad is None else p.grad.clone().tolist())
            for n, p in getattr(loss, "named_parameters", list)()]


def _keras_kind(kind: str) -> keras.Model:
    if kind == "raw_variable":
        init = keras.initializers.GlorotUniform(seed=0)
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), RawState(),
                                  keras.layers.Dense(16, activation="relu", kernel_initializer=init),
                                  keras.layers.Dense(10, kernel_initializer=init)])
    elif kind == "own_train_step":
        model = GuideStep()
    else:  # mixed_float16: the policy is the model's from its construction; the global one is put back
        saved = keras.mixed_precision.global_policy()
        keras.mixed_precision.set_global_policy("mixed_float16")
        try:
            model = small_mixed_model()
        finally:
            keras.mixed_precision.set_global_policy(saved)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=sparse_ce(), metrics=["accuracy"])
    model.fit(*digits_arrays(64), batch_size=32, epochs=1, verbose=0)
    return model


def _raw_variables(model: keras.Model) -> list[np.ndarray]:
    return [np.array(v.numpy(), copy=True) for layer in model._flatten_layers()
            for v in vars(layer).values() if isinstance(v, tf.Variable)]


@settings(max_examples=12, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(check=st.sampled_from(sorted(_keras_checks())),
       kind=st.sampled_from(["raw_variable", "own_train_step", "mixed_float16"]),
       seeds=st.tuples(*[st.integers(0, 2**31 - 1)] * 4))
def test_no_keras_check_changes_a_raw_variable_an_own_step_or_a_mixed_precision_model(check, kind, seeds):
    policy = keras.mixed_precision.global_policy().name
    model = _keras_kind(kind)
    user_opt = model.optimizer
    expected = _seed_keras_globals(seeds)
    before, raw = kn.snapshot(model), _raw_variables(model)
    try:
        _keras_checks()[check](MLCheck(Settings(seed=seeds[0] % 1000)), model)
    except CheckFailed:
        pass
    assert model.optimizer is user_opt
    kn.assert_same(before, kn.snapshot(model))
    after = _raw_variables(model)
    assert len(after) == len(raw) and all(np.array_equal(a, b) for a, b in zip(raw, after))
    assert kn.draws() == expected
    assert keras.mixed_precision.global_policy().name == policy
