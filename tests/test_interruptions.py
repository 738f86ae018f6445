"""Interrupting a check at any point never changes, nor later reverts, the user's model, optimizer or
random state (issue 16). Each case interrupts one check somewhere (in setup, in training, in the
restore), compares everything of the user's with a snapshot taken before, then trains the model the
user's way (``fit()`` / a plain torch loop), runs another check and asserts the training survived.

Interrupts: exceptions and KeyboardInterrupt from the user's model, loss or step at chosen calls;
KeyboardInterrupt from inside library code by patching (the variable ``assign`` the Keras restore uses,
the generator seeding and restoring calls) on the k-th call; real signals (SIGALRM with a handler that
raises, like pytest-timeout's signal method; SIGINT) raised inside the restore, and by a timer.
"""

from __future__ import annotations

import copy
import os
import random
import signal
import subprocess
import sys
import threading
import time
import types
import warnings
from typing import Any, Callable, Iterator

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch
from keras.src.backend.common import global_state
from keras.src.backend.common.variables import Variable as KerasVariable
from tensorflow.python.ops import stateful_random_ops
from torch import nn

from keras_corpus import digits_arrays, sparse_ce
from pytest_mlcheck import CheckFailed
from pytest_mlcheck.backends import keras_backend
from torch_corpus import digits_batch

layers = keras.layers
KERAS_SLOT = "global_seed_generator"
needs_alarm = pytest.mark.skipif(
    not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread(),
    reason="needs SIGALRM on the main thread")


class Timeout(BaseException):
    """What a pytest-timeout-like SIGALRM handler raises (pytest.fail: not an Exception)."""


# -- what is compared -----------------------------------------------------------------------------
def rng_states() -> dict:
    """Every global generator's state (equal states: equal next draws), and which object each
    TensorFlow / Keras global generator is (None where the user has none)."""
    np_state = np.random.get_state()
    tf_gen = stateful_random_ops.global_generator
    keras_gen = global_state.get_global_attribute(KERAS_SLOT)
    return {
        "python": random.getstate(),
        "numpy": (np_state[1].copy(), np_state[2:]),
        "torch": torch.get_rng_state().clone(),
        "tf": (id(tf_gen), None if tf_gen is None else tf_gen.state.numpy().copy()),
        "keras": (id(keras_gen), None if keras_gen is None else np.array(keras_gen.state.numpy())),
    }


def assert_equal(before: Any, after: Any, where: str = "") -> None:
    if isinstance(before, dict):
        assert before.keys() == after.keys(), where
        for key in before:
            assert_equal(before[key], after[key], f"{where}/{key}")
    elif isinstance(before, (list, tuple)):
        assert len(before) == len(after), where
        for i, (a, b) in enumerate(zip(before, after)):
            assert_equal(a, b, f"{where}[{i}]")
    elif isinstance(before, torch.Tensor):
        assert torch.equal(before, after), where
    elif isinstance(before, np.ndarray):
        assert np.array_equal(before, after), where
    else:
        assert before == after, where


def call_counter(k: int, exc: BaseException | Callable[[], None]) -> Callable[[], None]:
    """A function that raises ``exc`` (or runs it, if callable) on its k-th call, once."""
    calls = [0]

    def tick() -> None:
        calls[0] += 1
        if calls[0] == k:
            if isinstance(exc, BaseException):
                raise exc
            exc()

    return tick


def patch_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, k: int,
                exc: BaseException | Callable[[], None]) -> None:
    """Make ``owner.name`` raise ``exc`` (or run it) on its k-th call, and behave as before otherwise."""
    original = getattr(owner, name)
    tick = call_counter(k, exc)

    def patched(*args: Any, **kwargs: Any) -> Any:
        tick()
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, patched)


@pytest.fixture
def alarm() -> Iterator[None]:
    """A SIGALRM handler that raises Timeout (as pytest-timeout's signal method does)."""
    def handler(signum: int, frame: Any) -> None:
        raise Timeout()

    previous = signal.signal(signal.SIGALRM, handler)
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    signal.signal(signal.SIGALRM, previous)


@pytest.fixture(autouse=True)
def sigint_raises() -> Iterator[None]:
    """Ctrl-C raises KeyboardInterrupt, as in a terminal: a process started in the background by a
    non-interactive shell inherits SIGINT ignored, and raising it would then do nothing."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def raise_signal(signum: int) -> Callable[[], None]:
    return lambda: signal.raise_signal(signum)


# -- Keras ----------------------------------------------------------------------------------------
class RawState(layers.Layer):
    """Raw ``tf.Variable``s, which Keras does not track: a scale, and a running mean that every
    training call updates (so a check changes it), plus a Python call counter for interrupts."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = tf.Variable(tf.ones((64,)), name="raw_scale")
        self.running = tf.Variable(tf.zeros(()), trainable=False, name="raw_running")
        self.on_call: Callable[[], None] = lambda: None

    def call(self, x: Any, training: bool = False) -> Any:
        self.on_call()
        if training:
            self.running.assign(0.9 * self.running + 0.1 * tf.reduce_mean(x))
        return x * self.scale


class GlobalNoise(layers.Layer):
    """Draws from TensorFlow's global generator and Keras's global seed generator when training."""

    def call(self, x: Any, training: bool = False) -> Any:
        if not training:
            return x
        shape = tf.shape(x)
        return x + 1e-3 * tf.random.get_global_generator().normal(shape) + 1e-3 * keras.random.normal(shape)


def keras_model() -> keras.Model:
    """Compiled, with Adam state from one epoch of fit; BatchNorm, Dropout, raw variables, global noise."""
    init = keras.initializers.GlorotUniform(seed=0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)), layers.Flatten(), RawState(), layers.Dense(16, kernel_initializer=init),
        layers.BatchNormalization(), layers.ReLU(), layers.Dropout(0.2, seed=1), GlobalNoise(),
        layers.Dense(10, kernel_initializer=init),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=sparse_ce(), metrics=["accuracy"])
    model.fit(*digits_arrays(64), batch_size=32, epochs=1, verbose=0)
    return model


def raw_layer(model: keras.Model) -> RawState:
    return next(layer for layer in model.layers if isinstance(layer, RawState))


def keras_weights(model: keras.Model) -> list[np.ndarray]:
    raw = raw_layer(model)
    return [np.array(v.numpy()) for v in model.variables] + [raw.scale.numpy(), raw.running.numpy()]


def keras_state(model: keras.Model) -> dict:
    return {
        "weights": keras_weights(model),
        "metrics": [np.array(v.numpy()) for v in model.metrics_variables],
        "optimizer": [np.array(v.numpy()) for v in model.optimizer.variables],
        "rng": rng_states(),
    }


def keras_check(mlcheck: Any, model: keras.Model, **kwargs: Any) -> Any:
    return mlcheck.overfit_one_batch(model, digits_arrays(32), **kwargs)


def assert_keras_work_kept(mlcheck: Any, model: keras.Model, before: dict) -> None:
    """Train the model the user's way, run another check: the training must survive it."""
    model.fit(*digits_arrays(64, offset=64), batch_size=32, epochs=1, verbose=0)
    trained = keras_weights(model)
    assert not all(np.array_equal(a, b) for a, b in zip(before["weights"], trained)), "fit() trained nothing"
    mlcheck.output_range(model, digits_arrays(16)[0], kind="logits")
    assert_equal(trained, keras_weights(model), "weights after fit, then a check")


@pytest.fixture(scope="module")
def keras_assigns() -> int:
    """How many Keras variable assigns a check on a fresh model makes (setup, first step, restore)."""
    model = keras_model()
    calls = [0]
    original = KerasVariable.assign

    def counted(self: Any, value: Any) -> Any:
        calls[0] += 1
        return original(self, value)

    KerasVariable.assign = counted
    try:
        from pytest_mlcheck.fixture import MLCheck

        keras_check(MLCheck(), model)
    finally:
        KerasVariable.assign = original
    return calls[0]


def arm_in_restore(monkeypatch: pytest.MonkeyPatch, from_end: int, exc: BaseException | Callable[[], None]) -> None:
    """Make the ``from_end``-th assign before the end of the restore of the check's next session raise
    ``exc`` (or run it): counted inside ``close`` on its own snapshot, so what earlier checks left (a
    kept traced step, an interrupted one) cannot move the interrupt out of the restore."""
    from pytest_mlcheck.backends.keras_common import KerasSessionBase

    state: dict[str, Any] = {"tick": None}
    original_close, original_assign = KerasSessionBase.close, KerasVariable.assign

    def close(self: Any) -> None:
        if state["tick"] is None and getattr(self, "_found", None):
            state["tick"] = call_counter(len(self._found) - from_end + 1, exc)
        return original_close(self)

    def assign(self: Any, value: Any) -> Any:
        if state["tick"] is not None:
            state["tick"]()
        return original_assign(self, value)

    monkeypatch.setattr(KerasSessionBase, "close", close)
    monkeypatch.setattr(KerasVariable, "assign", assign)


def interrupt_keras(case: str, monkeypatch: pytest.MonkeyPatch, model: keras.Model, assigns: int) -> type:
    """Arm the interrupt ``case``; return the exception the check must raise."""
    kind, _, where = case.partition("@")
    if kind == "model-error":  # the user's model raises (Python calls: inference, eager step, tracing)
        raw_layer(model).on_call = call_counter(int(where), ValueError("user model bug"))
        return CheckFailed
    if kind == "model-ctrl-c":
        raw_layer(model).on_call = call_counter(int(where), KeyboardInterrupt())
        return KeyboardInterrupt
    if kind == "step-ctrl-c":  # between training steps
        patch_calls(monkeypatch, keras_backend.KerasSession, "train_step", int(where), KeyboardInterrupt())
        return KeyboardInterrupt
    if kind == "assign-ctrl-c":  # setup, the optimizer's first step, the restore (the last assigns)
        if where in ("restore", "last"):
            arm_in_restore(monkeypatch, 3 if where == "restore" else 1, KeyboardInterrupt())
            return KeyboardInterrupt
        k = {"first": 1, "second": 2, "middle": assigns // 2}[where]
        patch_calls(monkeypatch, KerasVariable, "assign", k, KeyboardInterrupt())
        return KeyboardInterrupt
    if kind == "seed-ctrl-c":  # setup: seeding the global generators
        patch_calls(monkeypatch, np.random, "seed", 1, KeyboardInterrupt())
        return KeyboardInterrupt
    if kind == "restore-sigalrm":  # a real signal, delivered inside the restore
        arm_in_restore(monkeypatch, 3, raise_signal(signal.SIGALRM))
        return Timeout
    if kind == "restore-sigint":
        arm_in_restore(monkeypatch, 3, raise_signal(signal.SIGINT))
        return KeyboardInterrupt
    raise AssertionError(case)


KERAS_CASES = ["model-error@1", "model-error@3", "model-ctrl-c@2", "step-ctrl-c@1", "step-ctrl-c@6",
               "assign-ctrl-c@first", "assign-ctrl-c@second", "assign-ctrl-c@middle", "assign-ctrl-c@restore",
               "assign-ctrl-c@last", "seed-ctrl-c", "restore-sigalrm", "restore-sigint"]


@pytest.mark.parametrize("case", KERAS_CASES)
def test_an_interrupted_keras_check_leaves_everything_and_reverts_nothing(mlcheck, monkeypatch, alarm, keras_assigns,
                                                                          case):
    model = keras_model()
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    before = keras_state(model)
    expected = interrupt_keras(case, monkeypatch, model, keras_assigns)
    with pytest.raises(expected):
        keras_check(mlcheck, model)
    monkeypatch.undo()
    raw_layer(model).on_call = lambda: None
    assert_equal(before, keras_state(model), case)
    assert_keras_work_kept(mlcheck, model, before)


def test_a_later_check_never_reverts_training_done_after_an_interrupted_one(mlcheck, monkeypatch, keras_assigns):
    """Issue 16: an interrupt in the restore left the session registered; the next check, even
    output_range, put back the pre-interrupt weights over what the user had trained since."""
    model = keras_model()
    arm_in_restore(monkeypatch, 3, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        keras_check(mlcheck, model)
    monkeypatch.undo()
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])  # whatever the check left, start anew
    model.fit(*digits_arrays(64), batch_size=32, epochs=1, verbose=0)
    trained = keras_weights(model)
    mlcheck.output_range(model, digits_arrays(16)[0], kind="logits")
    assert_equal(trained, keras_weights(model), "weights trained after the interrupted check")


def test_raw_tf_variables_of_a_custom_layer_are_restored(mlcheck):
    model = keras_model()
    before = keras_weights(model)
    assert keras_check(mlcheck, model).steps > 1  # trained: the running mean moved during the check
    assert_equal(before, keras_weights(model), "raw tf.Variables")


_CHILD_ATTEMPTS = 2


@needs_alarm
def test_a_timer_signal_at_any_moment_leaves_everything(request, tmp_path):
    """Real SIGALRMs at a few moments of a check (the body below, run in a child process). A timer
    that lands in TensorFlow's native code can kill the whole process (CI saw it once: the xdist worker
    died); such a death says nothing about our restore, so that child is run again with new timings
    and its last words are kept as a warning; a second death fails, as does a failed assertion in a child."""
    node = f"{request.node.path}::{_timer_body.__name__}"
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("PYTEST_XDIST") and key != "PYTEST_CURRENT_TEST"}
    deaths = []
    for attempt in range(_CHILD_ATTEMPTS):
        done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-p", "no:xdist", "-q",
                               "-o", f"python_functions={_timer_body.__name__}",
                               f"--basetemp={tmp_path / str(attempt)}", node],
                              env=env, cwd=request.config.rootpath, capture_output=True, text=True, timeout=900)
        if done.returncode >= 0:
            assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout[-4000:] + done.stderr[-2000:]
            break
        deaths.append(f"signal {-done.returncode}: {(done.stdout + done.stderr)[-1500:]}")
        # one death is a timer landing in TensorFlow; a second is a pattern, maybe a restore of ours
        assert len(deaths) < 2, "two child processes died:\n" + "\n".join(deaths)
    for death in deaths:
        warnings.warn(f"a timer test's child process died, run again: {death}", stacklevel=1)


@needs_alarm
def _timer_body(mlcheck, alarm):
    """Real SIGALRMs at a few moments of a check; whatever they hit, nothing of the user's changes
    (collected only in the child: its name is not a test's)."""
    model = keras_model()
    keras_check(mlcheck, model)  # the step is traced once: later runs are shorter
    durations = []
    for _ in range(2):  # the shorter of two: a run slowed by a busy machine would put the timers past the end
        started = time.perf_counter()
        keras_check(mlcheck, model)
        durations.append(time.perf_counter() - started)
    seconds = min(durations)
    interrupted = 0
    for fraction in (0.02, 0.2, 0.5, 0.8):
        before = keras_state(model)
        signal.setitimer(signal.ITIMER_REAL, fraction * seconds)
        try:
            keras_check(mlcheck, model)
        except Timeout:
            interrupted += 1
        except Exception as raised:  # noqa: BLE001 - TensorFlow's own error in place of the Timeout
            # the timer can land inside TensorFlow's Python code: a bare `except:` (DType.max) swallows
            # the Timeout and raises a TypeError, which the check reports as the model's (a failed
            # check); a dispatch cache caught mid-update raises a KeyError. Allowed only once the timer
            # has fired; the user's state is compared below all the same
            assert signal.getitimer(signal.ITIMER_REAL)[0] == 0, f"raised before the timer fired: {raised!r}"
            interrupted += 1
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        assert_equal(before, keras_state(model), f"SIGALRM after {fraction * seconds:.3f}s")
    assert interrupted >= 2, "the timers should land inside the checks"
    assert_keras_work_kept(mlcheck, model, before)


class _CacheTornOnce:
    """Stands for a kept traced step that an interrupt caught mid-call: raises the interrupt, and
    every later call raises the KeyError TensorFlow's half-updated dispatch cache raises."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args: Any) -> Any:
        self.calls += 1
        raise Timeout() if self.calls == 1 else KeyError("a dispatch cache entry")


@pytest.mark.parametrize("where", ["step", "loss"])
def test_a_kept_traced_function_an_interrupt_hit_is_traced_anew(mlcheck, where):
    """An interrupt inside a kept tf.function can leave its dispatch cache torn (a later call raises a
    KeyError before anything runs: seen in CI after a timer): the next check must not reuse it."""
    model = keras_model()
    keras_check(mlcheck, model)  # keeps the step and the traced loss
    store = keras_backend._TRACED if where == "step" else keras_backend._TRACED_LOSS
    (kept,) = store[model].values()
    torn = _CacheTornOnce()
    if where == "step":
        kept.function = torn
    else:
        kept.scored = types.SimpleNamespace(get_concrete_function=torn)  # what the targets read
    before = keras_state(model)
    with pytest.raises(Timeout):  # another batch: the loss is traced afresh for its targets
        mlcheck.overfit_one_batch(model, digits_arrays(32, offset=32))
    assert_equal(before, keras_state(model), "after the interrupted check")
    assert all(traced is not kept for traced in store[model].values()), "the torn function is still kept"
    assert keras_check(mlcheck, model).steps >= 1  # traced anew: no KeyError
    assert torn.calls == 1
    assert_keras_work_kept(mlcheck, model, before)


@pytest.mark.parametrize("interrupted", [False, True])
def test_a_check_creates_no_global_generator_the_user_does_not_have(mlcheck, monkeypatch, interrupted):
    """Keras seeds a new global seed generator from Python's random: one created by a check would
    change the user's later unseeded draws. TensorFlow's global generator is not created either."""
    saved = global_state.get_global_attribute(KERAS_SLOT), stateful_random_ops.global_generator
    try:
        global_state.set_global_attribute(KERAS_SLOT, None)
        stateful_random_ops.global_generator = None
        random.seed(7)
        expected = float(keras.random.normal(()))  # the draw the user would make: a fresh generator
        global_state.set_global_attribute(KERAS_SLOT, None)
        random.seed(7)
        model = keras_model()
        global_state.set_global_attribute(KERAS_SLOT, None)  # fit() may draw unseeded noise
        stateful_random_ops.global_generator = None
        random.seed(7)
        if interrupted:
            patch_calls(monkeypatch, keras_backend.KerasSession, "train_step", 3, KeyboardInterrupt())
            with pytest.raises(KeyboardInterrupt):
                keras_check(mlcheck, model)
            monkeypatch.undo()
        else:
            assert keras_check(mlcheck, model).passed
        assert global_state.get_global_attribute(KERAS_SLOT) is None
        assert stateful_random_ops.global_generator is None
        assert float(keras.random.normal(())) == expected
    finally:
        global_state.set_global_attribute(KERAS_SLOT, saved[0])
        stateful_random_ops.global_generator = saved[1]


# -- torch ----------------------------------------------------------------------------------------
class Trigger(nn.Module):
    """Runs a callback on each forward call; deepcopy shares the callback, so it sees the copy's calls."""

    def __init__(self) -> None:
        super().__init__()
        self.on_call: Callable[[], None] = lambda: None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.on_call()
        return x


def torch_setup() -> tuple[nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), Trigger(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(),
                          nn.Dropout(0.1), nn.Linear(32, 10))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = digits_batch(32)
    nn.CrossEntropyLoss()(model(x), y).backward()
    optimizer.step()  # optimizer state and .grad exist
    return model, optimizer


def torch_state(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    return {
        "state": {k: v.clone() for k, v in model.state_dict().items()},
        "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        "modes": [m.training for m in model.modules()],
        "optimizer": repr(copy.deepcopy(optimizer.state_dict())),
        "rng": rng_states(),
    }


def interrupt_torch(case: str, monkeypatch: pytest.MonkeyPatch, model: nn.Module) -> tuple[type, Callable]:
    """Arm the interrupt ``case``; return the exception the check must raise, and its loss function."""
    kind, _, where = case.partition("@")
    loss_fn: Callable = nn.CrossEntropyLoss()
    if kind == "model-error":
        model[1].on_call = call_counter(int(where), ValueError("user model bug"))
        return CheckFailed, loss_fn
    if kind == "model-ctrl-c":
        model[1].on_call = call_counter(int(where), KeyboardInterrupt())
        return KeyboardInterrupt, loss_fn
    if kind == "loss-ctrl-c":
        tick, inner = call_counter(int(where), KeyboardInterrupt()), loss_fn
        return KeyboardInterrupt, lambda out, y: (tick(), inner(out, y))[1]
    if kind == "seed-ctrl-c":  # setup: Python's random already seeded, numpy's not yet
        patch_calls(monkeypatch, np.random, "seed", 1, KeyboardInterrupt())
        return KeyboardInterrupt, loss_fn
    if kind == "restore-torch-ctrl-c":
        patch_calls(monkeypatch, torch, "set_rng_state", 1, KeyboardInterrupt())
        return KeyboardInterrupt, loss_fn
    if kind == "restore-python-ctrl-c":
        patch_calls(monkeypatch, random, "setstate", 1, KeyboardInterrupt())
        return KeyboardInterrupt, loss_fn
    if kind == "restore-sigalrm":
        patch_calls(monkeypatch, random, "setstate", 1, raise_signal(signal.SIGALRM))
        return Timeout, loss_fn
    raise AssertionError(case)


TORCH_CASES = ["model-error@1", "model-error@5", "model-ctrl-c@3", "loss-ctrl-c@2", "seed-ctrl-c",
               "restore-torch-ctrl-c", "restore-python-ctrl-c", "restore-sigalrm"]


@pytest.mark.parametrize("case", TORCH_CASES)
def test_an_interrupted_torch_check_leaves_everything_and_reverts_nothing(mlcheck, monkeypatch, alarm, case):
    model, optimizer = torch_setup()
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    before = torch_state(model, optimizer)
    expected, loss_fn = interrupt_torch(case, monkeypatch, model)
    with pytest.raises(expected):
        mlcheck.overfit_one_batch(model, digits_batch(32), loss_fn=loss_fn, optimizer=optimizer, steps=30)
    monkeypatch.undo()
    model[1].on_call = lambda: None
    assert_equal(before, torch_state(model, optimizer), case)
    x, y = digits_batch(32, offset=32)
    for _ in range(3):  # the user trains on
        optimizer.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        optimizer.step()
    trained = {k: v.clone() for k, v in model.state_dict().items()}
    mlcheck.output_range(model, x, kind="logits")
    assert_equal(trained, model.state_dict(), "weights after a plain loop, then a check")


def test_every_session_closes_in_a_critical_section():
    """A signal that arrives while a session puts the model back is held until the restore is whole:
    close() of every session class is registered as critical (a method inserted above it once took
    the decorator away without any other test noticing)."""
    from pytest_mlcheck.backends import interrupts
    from pytest_mlcheck.backends.keras_common import KerasSessionBase
    from pytest_mlcheck.backends.torch_backend import TorchSession

    for cls in (TorchSession, KerasSessionBase):
        assert cls.close.__code__ in interrupts._CRITICAL, cls.__name__
