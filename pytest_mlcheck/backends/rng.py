"""The one guard of every global random generator a check may draw from.

Python's ``random``, numpy's global generator, torch's CPU and (initialised) CUDA generators,
TensorFlow's global ``tf.random`` generator and Keras's global seed generator: each state is captured
before anything is seeded, and restored so that the next draw of each is the one the user would have
had. A framework is touched only when it is already in ``sys.modules``. A global generator the user
does not have yet (TensorFlow and Keras create theirs lazily) is not created for them: a private one
stands in during the check and the global slot is emptied again afterwards, because Keras seeds a new
generator from Python's ``random`` at creation, so one created by a check would shift the user's later
unseeded draws.
"""

from __future__ import annotations

import random
import sys
from typing import Any, Callable

import numpy as np

from pytest_mlcheck.backends.interrupts import DeferredSignals, critical, finish

_KERAS_SLOT = "global_seed_generator"  # keras.src.random.seed_generator.GLOBAL_SEED_GENERATOR
# Stand-ins for a global generator the user does not have; one each, reused, so that a step traced
# in one check (which captured the stand-in's variable) draws from a seeded generator in the next.
_STAND_IN: dict[str, Any] = {}


def _keras_state() -> Any:
    from keras.src.backend.common import global_state

    return global_state


def _tf_ops() -> Any:
    from tensorflow.python.ops import stateful_random_ops

    return stateful_random_ops


class GlobalRngs:
    """The states of the global generators, captured at construction (nothing is changed then)."""

    def __init__(self, *, cuda: bool = False) -> None:
        self._python = random.getstate()
        self._numpy = np.random.get_state()
        self._torch: Any = None
        self._cuda: Any = None
        torch = sys.modules.get("torch")
        if torch is not None:
            self._torch = torch.get_rng_state()
            if torch.cuda.is_initialized() or (cuda and torch.cuda.is_available()):
                self._cuda = torch.cuda.get_rng_state_all()
        self._tf: tuple[Any, Any] | None = None
        if "tensorflow" in sys.modules:
            generator = _tf_ops().global_generator
            self._tf = generator, None if generator is None else generator.state.numpy().copy()
        self._keras: tuple[Any, Any] | None = None
        if "keras" in sys.modules:
            generator = _keras_state().get_global_attribute(_KERAS_SLOT)
            self._keras = generator, None if generator is None else np.array(generator.state.numpy(), copy=True)

    def seed(self, seed: int) -> None:
        """Seed every captured generator (a stand-in where the user has no TF or Keras one yet)."""
        random.seed(seed)
        np.random.seed(seed)
        if self._torch is not None:
            torch = sys.modules["torch"]
            torch.default_generator.manual_seed(seed)  # not torch.manual_seed: it queues a CUDA seed for later
            if self._cuda is not None:
                torch.cuda.manual_seed_all(seed)
        # A stand-in is seeded even when the user has a generator: a step traced while it stood in
        # still draws from it.
        if self._tf is not None:
            if self._tf[0] is None:
                _tf_ops().global_generator = self._stand_in_tf(seed)
            for generator in {id(g): g for g in (self._tf[0], _STAND_IN.get("tf")) if g is not None}.values():
                generator.reset_from_seed(seed)
        if self._keras is not None:
            if self._keras[0] is None:
                _keras_state().set_global_attribute(_KERAS_SLOT, self._stand_in_keras(seed))
            for generator in {id(g): g for g in (self._keras[0], _STAND_IN.get("keras")) if g is not None}.values():
                generator.state.assign(np.array([seed, 0], dtype=generator.state.dtype))

    @staticmethod
    def _stand_in_tf(seed: int) -> Any:
        if "tf" not in _STAND_IN:
            import tensorflow as tf

            with tf.init_scope():
                _STAND_IN["tf"] = tf.random.Generator.from_seed(seed)
        return _STAND_IN["tf"]

    @staticmethod
    def _stand_in_keras(seed: int) -> Any:
        if "keras" not in _STAND_IN:
            from keras.src.random.seed_generator import SeedGenerator

            # an explicit seed and name: no draw from Python's random, no auto-numbered name taken
            _STAND_IN["keras"] = SeedGenerator(seed, name="mlcheck_global_seed_generator")
        return _STAND_IN["keras"]

    @critical
    def restore(self) -> None:
        """Put every generator back as captured (idempotent: safe to run again if interrupted)."""
        random.setstate(self._python)
        np.random.set_state(self._numpy)
        if self._torch is not None:
            torch = sys.modules["torch"]
            torch.set_rng_state(self._torch)
            if self._cuda is not None:
                torch.cuda.set_rng_state_all(self._cuda)
        if self._tf is not None:
            generator, state = self._tf
            _tf_ops().global_generator = generator
            if generator is not None:
                generator.reset(state)
        if self._keras is not None:
            generator, state = self._keras
            _keras_state().set_global_attribute(_KERAS_SLOT, generator)
            if generator is not None:
                generator.state.assign(state)


class Guard:
    """What a session (or a seeded block) holds from its start to its end: the signals held back
    in its critical sections and the global generators it seeded."""

    def __init__(self) -> None:
        self._signals = DeferredSignals()
        self._rngs: GlobalRngs | None = None
        self.ended = False

    @critical
    def begin(self, seed: int, *, cuda: bool = False) -> None:
        """Capture every global generator, then seed them (called from a critical section that
        ends the guard if anything stops it)."""
        self._signals.install()
        self._rngs = GlobalRngs(cuda=cuda)
        self._rngs.seed(seed)

    @critical
    def end(self, *restores: Callable[[], None]) -> None:
        """Run ``restores`` and restore every generator, to completion whatever interrupts them
        (idempotent); then raise an interrupt held back meanwhile."""
        if self.ended:
            return
        try:
            finish(*restores, *([self._rngs.restore] if self._rngs is not None else []), self._signals.uninstall)
            self.ended = True
        finally:
            self._signals.flush()


class seeded_globals:  # noqa: N801 - used like a function: ``with seeded_globals(seed):``
    """Seed every global generator for the block and restore each afterwards, whatever interrupts it."""

    def __init__(self, seed: int, *, cuda: bool = False) -> None:
        self._seed = seed
        self._cuda = cuda
        self._guard = Guard()

    @critical
    def __enter__(self) -> None:
        try:
            self._guard.begin(self._seed, cuda=self._cuda)
        except BaseException:
            self._guard.end()
            raise

    @critical
    def __exit__(self, *exc: object) -> None:
        self._guard.end()
