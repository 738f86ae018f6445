"""Keras 3 adapter, TensorFlow backend (see ``keras_common`` for what every Keras adapter shares).

A model whose class overrides ``train_step`` is trained through its override; during a training step
``model.optimizer`` is the check's own optimizer (the user's compiled one is put back by the restore,
and its variables are in the snapshot too). Under the ``mixed_float16`` policy the check's optimizer
is wrapped in a ``LossScaleOptimizer``, as ``compile()`` does for ``fit()``.

Nothing about a model is kept between checks except traced steps (``_TRACED``), which hold only the
check's own optimizer and never run unless a check calls them."""

from __future__ import annotations

import contextlib
import logging
import weakref
from typing import Any, Callable, ContextManager, Iterator

import keras
import numpy as np
import tensorflow as tf

from pytest_mlcheck.backends import gpu_index, scalar_loss
from pytest_mlcheck.backends.base import Crossing
from pytest_mlcheck.backends.keras_common import (  # noqa: F401 - re-exported for tests and checks
    DEFAULT_LR,
    KerasBackendBase,
    KerasSessionBase,
    _CopyOnWrite,
    _config_key,
    _user_error_in,
    own_train_step,
    reachable_variables,
)
from pytest_mlcheck.backends.interrupts import critical
from pytest_mlcheck.errors import call_user

# Tracing a new tf.function and building a new optimizer for every check cost ~7 MiB each that
# TensorFlow never gives back; a step traced once per model and configuration is reused instead.
# A kept step holds its optimizer's state (Adam: twice the model): only small ones are kept, within
# one budget for all models, oldest dropped first; a larger model's step is traced anew per check.
_TRACED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {key: _Traced}
_TRACED_PER_MODEL = 16
_TRACED_BYTES = 64 * 2**20
_KEPT: list[tuple[weakref.ref, Any, int]] = []  # (model, key, optimizer bytes), oldest first
# model -> {loss configuration: _TracedLoss}: traced once per model and loss as the step is (a new
# function per check cost a trace, ~0.2 s, on every Keras check of a probability head)
_TRACED_LOSS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# A tf.function traced before an inference check writes a weight in its graph, where no Python runs:
# while such a check is open, calling one first saves every weight the check has not saved yet.
_CopyOnWrite.before_calls(type(tf.function(lambda: None)), "__call__")
_CopyOnWrite.before_calls(type(tf.function(lambda: None).get_concrete_function()), "__call__")
_LOSS_SCALE = 2.0**15  # LossScaleOptimizer's initial scale: fp16 gradients of a probe do not underflow


class _Traced:
    """A traced training step with the optimizer it updates, and that optimizer's state as built,
    restored before each reuse so every check starts from a fresh optimizer. It holds the session
    using it weakly (a retrace for a new batch shape runs that session's step), so a cached step
    never keeps the user's model alive."""

    def __init__(self, optimizer: Any) -> None:
        self.optimizer = optimizer
        # as built, an optimizer's slots are filled with one value (zeros, Adagrad's 0.1): kept as
        # that value, not as a copy of each slot (which would double the state a kept step holds)
        self.initial = [(v, _compact(v)) for v in optimizer.variables]
        self.bytes = sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in optimizer.variables)
        self.session: Callable[[], Any] = lambda: None
        self.function = tf.function(self._step, reduce_retracing=True)

    def _step(self, x: Any, y: Any) -> Any:
        return self.session()._step(x, y)

    def adopt(self, session: Any) -> None:
        """Start a session from the optimizer state as built."""
        for variable, value in self.initial:
            variable.assign(tf.fill(variable.shape, tf.constant(value, variable.dtype))
                            if np.ndim(value) == 0 and len(variable.shape) else value)
        self.session = weakref.ref(session)

    def adopt_as_built(self, session: Any) -> None:
        """The session that built it: its optimizer's state is as built, nothing to restore."""
        self.session = weakref.ref(session)


class _TracedLoss:
    """The loss of a model's eval-mode outputs as a traced step computes it, holding the session
    that uses it weakly (as :class:`_Traced` does)."""

    def __init__(self) -> None:
        self.session: Callable[[], Any] = lambda: None
        self.function = tf.function(self._loss, reduce_retracing=True)
        # the loss of given outputs, only ever traced (its graph is read): one trace per batch shape
        self.scored = tf.function(self._scored)

    def _loss(self, x: Any, y: Any) -> Any:
        session = self.session()
        out = session._forward(x, training=False)
        # fit() also weighs the loss by the mask a mask_zero embedding carries to the outputs; the values
        # this is compared with carry none, and the question is only the logits beneath the activation
        for tensor in tf.nest.flatten(out):
            if getattr(tensor, "_keras_mask", None) is not None:
                setattr(tensor, "_keras_mask", None)
        return session._loss(x, y, out, training=False)

    def _scored(self, x: Any, y: Any, out: Any) -> Any:
        return self.session()._loss(x, y, out, training=False)


def _compact(variable: Any) -> Any:
    """A variable's value: one scalar when every element holds it, else a copy."""
    value = np.asarray(variable.numpy())
    if value.size and np.all(value == value.flat[0]):
        return value.flat[0].copy()
    return np.array(value, copy=True)


# TensorFlow's elementwise operations that broadcast their operands
_ELEMENTWISE = frozenset({
    "Mul", "MulNoNan", "Sub", "AddV2", "Add", "RealDiv", "Div", "DivNoNan", "FloorDiv", "SquaredDifference",
    "Maximum", "Minimum", "SelectV2", "Pow", "Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual"})


def _crossings(graph: Any, source: Any) -> list[Crossing]:
    """Elementwise operations of ``graph`` between an operand computed from ``source`` (the outputs)
    and one computed without it whose shapes broadcast each other to a shape larger than both. The
    graph lists its operations in the order they were made, so one pass follows what ``source``
    reaches."""
    carried = {source.name}
    found: list[Crossing] = []
    for op in graph.get_operations():
        operands = list(op.inputs)
        carries = [t.name in carried for t in operands]
        if any(carries):
            carried.update(t.name for t in op.outputs)
        if op.type not in _ELEMENTWISE or all(carries) or not any(carries):
            continue
        for a in (t for t, c in zip(operands, carries) if c and t.shape.is_fully_defined()):
            for b in (t for t, c in zip(operands, carries) if not c and t.shape.is_fully_defined()):
                crossing = Crossing.of(op.type, tuple(a.shape.as_list()), tuple(b.shape.as_list()), pointwise=False)
                if crossing is not None:
                    found.append(crossing)
    return found


@contextlib.contextmanager
def _quiet_retrace() -> Iterator[None]:
    """A retrace for a new batch shape warns the user about our function: not while we trace."""
    logger = logging.getLogger("tensorflow")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def resolve_device(device: str) -> str:
    if device == "cpu":
        return "/CPU:0"
    return f"/GPU:{gpu_index(device, len(tf.config.list_logical_devices('GPU')), 'TensorFlow')}"


def _tf_held(value: Any) -> list[Any] | None:
    """The variables of a raw ``tf.Variable`` or ``tf.Module`` held in a layer's attribute."""
    if isinstance(value, tf.Variable):
        return [value]
    if isinstance(value, tf.Module):
        return list(value.variables)
    return None


class KerasSession(KerasSessionBase):
    backend = "tensorflow"
    # variables whose last gradient came as row slices: read by a gather (ops.take, tf.gather), each
    # a lookup table whatever layer holds it (a custom embedding), see lookup_tables
    _gathered: frozenset[str] = frozenset()

    def _resolve_device(self, device: str) -> None:
        self.tf_device = resolve_device(device)
        self._compiled_step: Callable | None = None

    def _place(self) -> ContextManager[Any]:
        return tf.device(self.tf_device)

    def _eager(self) -> ContextManager[Any]:
        return tf.init_scope()  # a weight written inside the user's tf.function is read outside its graph

    def _reachable(self) -> list[Any]:
        return reachable_variables(self.model, foreign=_tf_held)

    def _is_tensor(self, value: Any) -> bool:
        return isinstance(value, tf.Tensor)

    def _np(self, value: Any) -> np.ndarray:
        return np.asarray(value)

    @staticmethod
    def _sum(losses: list[Any]) -> Any:
        return tf.add_n(losses)

    def _tensor(self, value: Any, *, is_input: bool) -> Any:
        if isinstance(value, dict) and is_input:
            return {k: self._tensor(v, is_input=True) for k, v in value.items()}
        if isinstance(value, (tuple, list)) and is_input:
            return [self._tensor(v, is_input=True) for v in value]
        tensor = tf.convert_to_tensor(value)
        if tensor.dtype.is_floating and tensor.dtype != keras.config.floatx():
            tensor = tf.cast(tensor, keras.config.floatx())
        return tensor

    def train_step(self, batch: tuple[Any, Any]) -> float:
        x, y = batch
        if self.user_step is not None:
            return self._user_train_step(x, y)
        with self._place():
            if self._compiled_step is None:
                traced = self._traced()
                if traced is not None:
                    traced.adopt(self)
                    self.optimizer = traced.optimizer
                    self._compiled_step = traced.function
            if self._override is not None:
                self._lend_optimizer()
                self._reset_metrics()
            if self._compiled_step is None:
                # Every step runs as one traced graph, kept for later checks. The built-in step is
                # traced from its first (an eager step's temporaries peaked ~100 MiB above a traced
                # one's at 50M parameters); a failing first step is replayed eagerly so that an error
                # in the user's code reads plainly. A model's own train_step runs its first step
                # eagerly: it may create the metrics it tracks.
                self.optimizer.build(self.model.trainable_variables)
                traced = _Traced(self.optimizer)
                traced.adopt_as_built(self)
                if self._override is None:
                    try:
                        loss = traced.function(x, y)
                    except Exception as exc:
                        self._step(x, y)  # raises the user's error plainly; else the traced one stands
                        raise _user_error_in(exc) from None
                else:
                    loss = self._step(x, y)
                    self._remember_new_metrics()
                self._keep(traced)
                self._compiled_step = traced.function
            else:
                try:
                    loss = self._compiled_step(x, y)
                except BaseException as exc:
                    self._forget_traced()
                    if not isinstance(exc, Exception):
                        raise
                    raise _user_error_in(exc) from None
        return scalar_loss(loss, "model.train_step" if self._override is not None else "loss_fn")

    @critical
    def release(self) -> None:
        """Free this session's optimizer state (Adam: twice the model's weights) unless its traced
        step is kept for later checks; also at close. TensorFlow 2.21 keeps every traced graph, and
        what it captured, after its function is gone (tensorflow/tensorflow#124972): a step traced
        for one check would hold its optimizer's slots for the life of the process (measured: 2× the
        model's size resident after each Keras check too large to keep). Each slot's buffer is replaced
        by an empty value (the graph keeps the variable, not its old buffer); nothing else uses them.
        Idempotent."""
        super().release()
        opt = getattr(self, "_opt", None)  # a session whose construction failed has none
        traced = self._traced() if opt is not None else None
        if opt is None or (traced is not None and traced.optimizer is opt):
            return
        self._put_back_optimizer()
        self._compiled_step = None
        self._opt = None
        if self._own_state and getattr(opt, "built", False):
            with self._eager():
                for variable in opt.variables:  # an empty value in place of each slot's buffer
                    tf.raw_ops.AssignVariableOp(resource=variable.handle, value=tf.zeros([0], variable.dtype),
                                                validate_shape=False)

    def _key(self) -> tuple:
        # the variables it trains too: a layer's ``trainable`` set after a check traced its step (and the
        # model compiled again) must not be updated by the step kept from before
        return (self.tf_device, self._opt_key, self._lr_factor, self._no_decay, self._loss_key(),
                _config_key(self.output), self._training, self._override is not None, self._mixed,
                tuple(id(v) for v in self.model.trainable_variables))

    def _loss_key(self) -> Any:
        # the compiled loss by what it is, not by id(): a recompiled model's new loss object may take
        # a freed object's id, and a kept step would then compute the old loss
        return ("compiled", _config_key(getattr(self.model, "loss", None))) if self._uses_compiled_loss \
            else _config_key(self.loss_fn)

    def _traced(self) -> _Traced | None:
        return _TRACED.get(self.model, {}).get(self._key())

    def _forget_traced(self) -> None:
        """A kept step whose call raised is traced anew by the next check: an interrupt landing in
        TensorFlow's Python code can leave the function's dispatch cache half updated, and every later
        call of it then raises a KeyError."""
        kept = _TRACED.get(self.model, {})
        key = self._key()
        if key in kept and kept[key].function is self._compiled_step:
            del kept[key]

    def _keep(self, traced: _Traced) -> None:
        """Keep the step for later checks when its optimizer's state fits the budget of all kept
        steps (the oldest go first); a larger one lives as long as this session."""
        if traced.bytes > _TRACED_BYTES:
            return
        model, key = self.model, self._key()
        kept = _TRACED.setdefault(model, {})
        kept[key] = traced
        while len(kept) > _TRACED_PER_MODEL:
            kept.pop(next(iter(kept)))
        live = []
        for ref, k, size in _KEPT:  # still kept (not dropped by its model's limit, model alive), not this one
            owner = ref()
            if owner is not None and k in _TRACED.get(owner, {}) and not (owner is model and k == key):
                live.append((ref, k, size))
        live.append((weakref.ref(model), key, traced.bytes))
        total = sum(size for _, _, size in live)
        while total > _TRACED_BYTES:
            ref, k, size = live.pop(0)
            owner = ref()
            if owner is not None:
                _TRACED.get(owner, {}).pop(k, None)
            total -= size
        _KEPT[:] = live

    def _step(self, x: Any, y: Any) -> Any:
        if self._override is not None:
            return self._own_step(x, y)
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            out = self._forward(x, training=self._training)
            loss = self._loss(x, y, out, training=self._training)
            objective = self._objective(loss)
            scaled = self.optimizer.scale_loss(objective) if hasattr(objective, "shape") else objective  # as fit()
        self._scalar(loss)
        grads = tape.gradient(scaled, variables)
        call_user("the optimizer step", self.optimizer.apply_gradients, self._pairs(loss, grads, variables))
        return loss

    def traced_loss(self, batch: tuple[Any, Any]) -> float | None:
        """In a traced step (as fit() runs) a softmax or sigmoid output carries the logits beneath it,
        and Keras's cross-entropies read those instead of the outputs; eagerly they read the outputs."""
        if not self.has_loss() or self.user_step is not None or self._override is not None:
            return None
        x, y = batch
        with _quiet_retrace():
            try:
                with self._place(), self._traced_losses() as traced:
                    return scalar_loss(traced.function(x, y), "loss_fn")
            except Exception:  # the probe is a look, not a verdict: a loss that will not trace says nothing
                return None

    @contextlib.contextmanager
    def _traced_losses(self) -> Iterator[_TracedLoss]:
        """The model's kept loss functions, dropped when a use of them raises (as a kept step is, see
        :meth:`_forget_traced`)."""
        key = (self.tf_device, self._loss_key(), _config_key(self.output), self._mixed)
        kept = _TRACED_LOSS.setdefault(self.model, {})
        traced = kept.setdefault(key, _TracedLoss())
        traced.session = weakref.ref(self)
        try:
            yield traced
        except BaseException:
            if kept.get(key) is traced:
                del kept[key]
            raise

    def _loss_crossings(self, outputs: np.ndarray, batch: tuple[Any, Any]) -> list[Crossing]:
        """Traced (not run) on outputs of this shape: the graph shows every elementwise operation, its
        operands' shapes, and which of them were computed from the outputs."""
        x, y = batch
        spec = tf.TensorSpec(outputs.shape, keras.config.floatx(), name="mlcheck_outputs")
        with _quiet_retrace():
            try:
                with self._place(), self._traced_losses() as traced:
                    graph = traced.scored.get_concrete_function(x, y, spec).graph
                source = graph.get_tensor_by_name("mlcheck_outputs:0")
            except Exception:  # the probe is a look, not a verdict: a loss that will not trace says nothing
                return []
        return _crossings(graph, source)

    def gradients(self, batch: tuple[Any, Any]) -> dict[str, np.ndarray | None]:
        """Gradients of the loss on ``batch`` for each trainable variable, without an update."""
        x, y = batch
        variables = self.model.trainable_variables
        with self._place():
            scale = _LOSS_SCALE if self._mixed else 1.0
            with tf.GradientTape() as tape:
                out = self._forward(x, training=True)
                loss = self._loss(x, y, out, training=True)
                scaled = loss * scale if hasattr(loss, "shape") and self._mixed else loss
            scalar_loss(loss, "loss_fn")
            grads = tape.gradient(scaled, variables) if hasattr(loss, "shape") else [None] * len(variables)
        self._gathered = frozenset(v.path for v, g in zip(variables, grads) if isinstance(g, tf.IndexedSlices))
        return {v.path: None if g is None else np.asarray(tf.convert_to_tensor(g), dtype=np.float32) / scale
                for v, g in zip(variables, grads)}

    def lookup_tables(self) -> set[str]:
        """Keras ``Embedding`` weights, and any variable whose gradient TensorFlow handed as row slices
        (IndexedSlices: only the rows a gather read) when :meth:`gradients` last ran."""
        return super().lookup_tables() | set(self._gathered)

    def _output_grad(self, loss: Callable[[Any], Any], out: Any) -> Any:
        with tf.GradientTape() as tape:
            tape.watch(out)
            value = loss(out)
        return tape.gradient(value, out)

    def input_gradient(self, batch: tuple[Any, Any], index: int) -> np.ndarray | None:
        x = batch[0]
        if not isinstance(x, tf.Tensor):
            return None
        if not x.dtype.is_floating:
            return self._lookup_gradient(x, index)
        with self._place():
            with tf.GradientTape() as tape:
                tape.watch(x)
                out = self._forward(x, training=False)
                target = tf.reduce_sum(out[index])
            grad = tape.gradient(target, x)
        return np.zeros(tuple(x.shape), np.float32) if grad is None else np.asarray(grad, dtype=np.float32)

    def _output_watch(self) -> _TapeWatch:
        return _TapeWatch()


class _TapeWatch:
    """A layer's output watched on a gradient tape (see :class:`OutputWatch`)."""

    def __enter__(self) -> _TapeWatch:
        self.marked: list[Any] = []
        self.tape = tf.GradientTape()
        self.tape.__enter__()
        return self

    def __exit__(self, *exc: Any) -> Any:
        return self.tape.__exit__(*exc)

    def leaf(self, out: Any) -> Any:
        self.tape.watch(out)
        self.marked.append(out)
        return out

    def grads(self, target: Any) -> list[Any]:
        return self.tape.gradient(target, self.marked)



class KerasBackend(KerasBackendBase):
    session = KerasSession
