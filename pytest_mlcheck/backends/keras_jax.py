"""Keras 3 adapter, JAX backend (see ``keras_common`` for what every Keras adapter shares).

JAX has no tape: a loss and its gradients come from ``jax.value_and_grad`` over the model's forward
pass and the loss inside a ``keras.StatelessScope`` that maps each trainable variable to a traced
value, as Keras's own JAX trainer does; what the pass updates (moving statistics, seed generators)
comes back from the scope and is assigned after. Training steps run as one ``jax.jit`` step through
``optimizer.stateless_apply``, kept per model and configuration between checks (a probe that changes
what the trace captured, training mode or weight decay, gets its own); before the first, the
gradient's jaxpr is read to fail a loss that no gradient reaches, as the other adapters do.

JAX returns a zero gradient for a variable the loss never reaches, where TensorFlow returns None:
which variables the gradient truly depends on is read from the gradient's jaxpr, so both say None.
What the loss does with the outputs (an elementwise operation crossing a column with a row) is read
from the loss's jaxpr too (``jax_watch``), as the TensorFlow adapter reads its traced graph.

Not supported (a usage error that names the backend): a model class with its own ``train_step``
(on JAX it is a stateless function of a state tuple, which a check cannot drive) and the
``mixed_float16`` policy."""

from __future__ import annotations

import weakref
from typing import Any, Callable, ContextManager

import jax
import keras
import numpy as np

from pytest_mlcheck.backends import gpu_index
from pytest_mlcheck.backends.base import Crossing
from pytest_mlcheck.backends.jax_watch import jaxpr_crossings
from pytest_mlcheck.backends.keras_common import KerasBackendBase, KerasSessionBase, _config_key
from pytest_mlcheck.errors import usage

# Jitted steps, kept per model and configuration like the TensorFlow adapter's traced steps.
_JITTED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {key: _Jitted}
_JITTED_PER_MODEL = 16


def _used_inputs(fn: Callable, values: list[Any]) -> list[bool] | None:
    """For each output of ``fn(values)`` (a list), whether it depends on anything at all (an
    argument or a captured array); None when the jaxpr cannot be read."""
    try:
        from jax._src.interpreters import partial_eval as pe

        closed = jax.make_jaxpr(fn)(values)
        jaxpr = pe.convert_constvars_jaxpr(closed.jaxpr)
        used = []
        for i in range(len(jaxpr.outvars)):
            _, inputs = pe.dce_jaxpr(jaxpr, [j == i for j in range(len(jaxpr.outvars))], instantiate=False)
            used.append(any(inputs))
        return used
    except Exception:
        return None


class _Jitted:
    """A jitted training step of one model and configuration, kept between checks (compiling costs
    seconds; a step runs in milliseconds). It holds the optimizer it was traced with, whose
    ``stateless_apply`` maps the values of any optimizer of the same configuration, and the session
    running it weakly (a retrace for a new batch shape runs that session's forward pass and loss)."""

    def __init__(self, session: KerasJaxSession) -> None:
        self.session: Callable[[], Any] = weakref.ref(session)
        model = session.model
        variables, state = model.trainable_variables, model.non_trainable_variables
        optimizer, training = session.optimizer, session._training

        def step(values: list[Any], state_values: list[Any], opt_values: list[Any], x: Any, y: Any) -> Any:
            current = self.session()

            def fn(trainable: list[Any]) -> tuple[Any, tuple[Any, list[Any]]]:
                mapping = list(zip(variables, trainable)) + list(zip(state, state_values))
                with keras.StatelessScope(state_mapping=mapping, collect_losses=True) as scope:
                    out = current._forward(x, training=training)
                    loss = current._loss(x, y, out, training=training)
                    objective = current._objective(loss)  # the weights' penalties, as traced values
                return objective, (loss, [scope.get_current_value(v) for v in state])

            (_, (loss, updates)), grads = jax.value_and_grad(fn, has_aux=True)(values)
            new_values, new_opt = optimizer.stateless_apply(opt_values, grads, values)
            return loss, new_values, updates, new_opt

        self.function = jax.jit(step)

    def run(self, session: KerasJaxSession, *args: Any) -> Any:
        self.session = weakref.ref(session)
        return self.function(*args)


class KerasJaxSession(KerasSessionBase):
    backend = "jax"

    def _resolve_device(self, device: str) -> None:
        self._jitted: _Jitted | None = None
        if device == "cpu":
            self._device = "cpu:0"
            return
        self._device = f"gpu:{gpu_index(device, sum(d.platform == 'gpu' for d in jax.devices()), 'JAX')}"

    def _place(self) -> ContextManager[Any]:
        return keras.device(self._device)

    def _refuse_unsupported(self) -> None:
        if self._override is not None:
            raise usage("model", "a Keras model without its own train_step on KERAS_BACKEND=jax", self.model,
                        fix="on JAX a train_step override is a stateless function of a state tuple that a check "
                            "cannot drive; pass train_step= with your own step, or run the check on "
                            "KERAS_BACKEND=tensorflow")
        if self._mixed:
            raise usage("model", "a Keras model without the mixed_float16 policy on KERAS_BACKEND=jax", self.model,
                        fix="mixed precision is checked on KERAS_BACKEND=tensorflow only; check the float32 "
                            "model here")

    # -- gradients ------------------------------------------------------------------------
    def _traced_loss(self, x: Any, y: Any, training: bool, state: list[Any], depends: list[bool]) -> Callable:
        """The loss as a function of the trainable values, with the updated ``state`` as aux."""
        variables = self.model.trainable_variables

        def fn(values: list[Any]) -> tuple[Any, list[Any]]:
            with keras.StatelessScope(state_mapping=list(zip(variables, values)), collect_losses=True) as scope:
                out = self._forward(x, training=training)
                loss = self._loss(x, y, out, training=training)
            self._scalar(loss)
            depends.append(isinstance(loss, jax.core.Tracer))
            loss = keras.ops.reshape(keras.ops.cast(loss, "float32"), ())
            return loss, [scope.get_current_value(v) for v in state]

        return fn

    def _loss_and_grads(self, x: Any, y: Any, *, training: bool, scale: bool) -> tuple[Any, list[Any]]:
        variables = self.model.trainable_variables
        state = self.model.non_trainable_variables
        values = [v.value for v in variables]
        depends: list[bool] = []
        fn = self._traced_loss(x, y, training, state, depends)
        (loss, updates), grads = jax.value_and_grad(fn, has_aux=True)(values)
        self._assign_updates(state, updates)
        if not depends[-1]:  # the loss is a constant of the trainable variables
            return loss, [None] * len(variables)
        used = _used_inputs(lambda v: jax.grad(lambda w: fn(w)[0])(v), values)
        return loss, [g if used is None or u else None for g, u in zip(grads, used or grads)]

    @staticmethod
    def _assign_updates(state: list[Any], updates: list[Any]) -> None:
        for variable, value in zip(state, updates):
            if value is not None:
                variable.assign(value)

    def _loss_crossings(self, outputs: np.ndarray, batch: tuple[Any, Any]) -> list[Crossing]:
        """Read from the loss's jaxpr on outputs of this shape (traced, never run; inside a
        StatelessScope, so a loss that writes a variable, a metric's state, writes nothing)."""
        x, y = batch

        def score(out: Any) -> Any:
            with keras.StatelessScope():
                return self._loss(x, y, out, training=False)

        with self._place():
            return jaxpr_crossings(score, keras.ops.convert_to_tensor(outputs, dtype=keras.config.floatx()))

    def _input_grad(self, x: Any, index: int) -> Any:
        return jax.grad(lambda v: keras.ops.sum(self._forward(v, training=False)[index]))(x)

    def _output_grad(self, loss: Callable[[Any], Any], out: Any) -> Any:
        return jax.grad(lambda o: keras.ops.sum(loss(o)))(out)

    # -- steps ----------------------------------------------------------------------------
    def _step(self, x: Any, y: Any) -> Any:
        if self._jitted is None:
            self._jitted = self._cached()
            if self._jitted is None:
                self._check_gradient_flows(x, y)
                self._jitted = _Jitted(self)
                self._keep(self._jitted)
        variables, state = self.model.trainable_variables, self.model.non_trainable_variables
        if not self.optimizer.built:
            self.optimizer.build(variables)
        opt_vars = self.optimizer.variables
        loss, values, updates, opt_values = self._jitted.run(
            self, [v.value for v in variables], [v.value for v in state], [v.value for v in opt_vars], x, y)
        for variable, value in zip(variables, values):
            variable.assign(value)
        self._assign_updates(state, updates)
        for variable, value in zip(opt_vars, opt_values):
            variable.assign(value)
        return loss

    def _check_gradient_flows(self, x: Any, y: Any) -> None:
        """A failed check when no gradient reaches any trainable variable, read from the jaxpr of
        the gradient (traced, not run: nothing changes)."""
        variables = self.model.trainable_variables
        fn = self._traced_loss(x, y, self._training, self.model.non_trainable_variables, [])
        used = _used_inputs(lambda v: jax.grad(lambda w: fn(w)[0])(v), [v.value for v in variables])
        self._pairs(None, [None if used is not None and not u else 0 for u in used or variables], variables)

    def _key(self) -> tuple:
        loss = ("compiled", id(getattr(self.model, "loss", None))) if self._uses_compiled_loss \
            else _config_key(self.loss_fn)
        return (self._device, self._opt_key, self._no_decay, loss, _config_key(self.output), self._training,
                len(self.model.variables), tuple(id(v) for v in self.model.trainable_variables))

    def _cached(self) -> _Jitted | None:
        return _JITTED.get(self.model, {}).get(self._key())

    def _keep(self, jitted: _Jitted) -> None:
        kept = _JITTED.setdefault(self.model, {})
        kept[self._key()] = jitted
        while len(kept) > _JITTED_PER_MODEL:
            kept.pop(next(iter(kept)))

    def drop_weight_decay(self) -> None:
        super().drop_weight_decay()
        self._jitted = None  # the trace captured the weight decay

    def train_without_noise(self) -> None:
        super().train_without_noise()
        self._jitted = None  # the trace captured training=True

    def _np(self, value: Any) -> np.ndarray:
        return np.asarray(value)


class KerasJaxBackend(KerasBackendBase):
    session = KerasJaxSession
