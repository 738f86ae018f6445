"""What every Keras 3 adapter shares, whatever the backend: the user's model is trained in place
between a snapshot of every variable it reaches and its restore, so Sequential, Functional and
subclassed models work alike; the check's optimizer is lent as ``model.optimizer`` while the model's
own code steps, and the user's is put back; data, forward passes, losses and probes go through
``keras.ops``. A backend's adapter (``keras_backend`` for TensorFlow, ``keras_jax``, ``keras_torch``)
adds how gradients are taken, where tensors live and how a step runs.

The snapshot and the restore are critical sections (``interrupts``): an exception or a signal at any
point leaves every variable as snapshotted. A probe session is opened ``within`` the check's session
and starts from the weights the user had; each session restores, when it closes, what it found."""

from __future__ import annotations

import collections
import contextlib
import functools
import operator
from typing import Any, Callable, ContextManager, Iterator, Protocol

import keras
import numpy as np

from pytest_mlcheck.backends import (
    first_output, lookup_axes, noise_like, scalar_loss, unit_variance, weights_under, with_first,
)
from pytest_mlcheck.backends.base import Crossing, Session
from pytest_mlcheck.backends.interrupts import critical, user_boundary
from pytest_mlcheck.backends.outputs import select_output
from pytest_mlcheck.backends.rng import Guard, seeded_globals
from pytest_mlcheck.errors import MlcheckUsageError, NotSupported, UserCodeError, call_user, usage
from pytest_mlcheck.thresholds import SCHEDULE_READS

DEFAULT_LR = 1e-3
_INVISIBLE = ("a user's own Keras train_step computes its gradients inside its own step (a GradientTape, "
              "jax.grad or loss.backward()), where a check cannot see them")
_ABSENT = object()  # a model with no ``optimizer`` attribute (never compiled)
_UNSEEN = object()  # a session stopped before it looked at ``model.optimizer``: nothing to put back


def own_train_step(model: keras.Model) -> Callable | None:
    """The model's ``train_step`` when its class (not Keras) defines it, else None."""
    for cls in type(model).__mro__:
        if "train_step" in vars(cls):
            return None if cls.__module__.startswith("keras.") else model.train_step
    return None


# a custom layer may apply an activation inside call: only these apply theirs as ``activation``, which
# a probe can be given the pre-activation through
_OWN_ACTIVATION = (keras.layers.Dense, keras.layers.EinsumDense, keras.layers.Conv1D, keras.layers.Conv2D,
                   keras.layers.Conv3D, keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose,
                   keras.layers.Conv3DTranspose, keras.layers.DepthwiseConv2D, keras.layers.SeparableConv2D)


class _ScaledSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """A learning-rate schedule (or callable rate) with every step's rate times ``factor``."""

    def __init__(self, schedule: Callable, factor: float) -> None:
        self.schedule, self.factor = schedule, factor

    def __call__(self, step: Any) -> Any:
        rate = self.schedule(step) if isinstance(self.schedule, keras.optimizers.schedules.LearningRateSchedule) \
            else self.schedule()
        return rate * self.factor

    def get_config(self) -> dict[str, Any]:
        return {"factor": self.factor}


def _inner(opt: Any) -> Any:
    """The optimizer that holds the hyper-parameters (inside a LossScaleOptimizer)."""
    return getattr(opt, "inner_optimizer", opt)


def _penalty_name(regularizer: Any) -> str:
    """A weight regularizer as a message names it: "an L2 0.0025 penalty" from its l1/l2 config,
    else its class."""
    try:
        config = regularizer.get_config()
    except Exception:
        config = {}
    parts = [f"{k.upper()} {float(config[k]):g}" for k in ("l1", "l2")
             if isinstance(config.get(k), (int, float)) and config[k]]
    return f"an {' + '.join(parts)} penalty" if parts else f"a {type(regularizer).__name__} penalty"


def _copied(optimizer: Any, what: str) -> Any:
    """A fresh optimizer of the same class and settings (the session trains a copy, never the user's
    optimizer); a usage error where Keras cannot copy it — a learning-rate schedule of the user's
    without ``get_config()``, which Keras's own copy needs — saying how to make it copyable."""
    try:
        return type(optimizer).from_config(optimizer.get_config())
    except (NotImplementedError, TypeError, ValueError, KeyError) as exc:
        rate = getattr(optimizer, "_learning_rate", None)
        schedule = isinstance(rate, keras.optimizers.schedules.LearningRateSchedule)
        raise usage("optimizer", f"{what} to be copyable with from_config(get_config())", optimizer,
                    fix=(f"its learning-rate schedule {type(rate).__name__} cannot be copied ({type(exc).__name__}: "
                         f"{exc}): give it a get_config() returning its constructor's arguments"
                         if schedule else f"Keras could not copy it ({type(exc).__name__}: {exc})")
                        + ", or pass optimizer=lambda params: keras.optimizers.Adam(...) to the check") from exc


def _config_key(obj: Any) -> Any:
    """A hashable description of a loss or optimizer (or a list or dict of them): class and config
    for Keras objects (a new object with the same settings traces the same graph), the object itself
    otherwise (held, so its id cannot pass to another object)."""
    if isinstance(obj, (list, tuple)):  # one loss per output
        return tuple(_config_key(item) for item in obj)
    if isinstance(obj, dict):
        return tuple(sorted((str(k), _config_key(v)) for k, v in obj.items()))
    get_config = getattr(obj, "get_config", None)
    if callable(get_config):
        try:
            config = {k: v for k, v in get_config().items() if k != "name"}  # names are made unique
            return type(obj), repr(sorted(config.items()))
        except Exception:
            pass
    try:
        hash(obj)
        return obj
    except TypeError:
        return id(obj)


Snapshot = list[tuple[Any, np.ndarray]]


def reachable_variables(model: keras.Model, *, foreign: Callable[[Any], list[Any] | None] = lambda v: None
                        ) -> list[Any]:
    """Every variable a check can change: the model's Keras variables (weights, moving statistics,
    seed generator states), its compiled metrics' variables, and variables Keras does not track,
    held in a layer's attributes (a Keras variable or ``SeedGenerator`` in a plain attribute, or
    what ``foreign`` finds in a backend's own object: a raw ``tf.Variable``), each once."""
    found: list[Any] = []
    seen: set[int] = set()

    def add(variable: Any) -> None:
        backing = getattr(variable, "_value", None)  # the backend's variable behind a Keras variable
        if id(variable) in seen or (backing is not None and id(backing) in seen):
            return
        seen.add(id(variable))
        if backing is not None:
            seen.add(id(backing))
        found.append(variable)

    def visit(value: Any, depth: int) -> None:
        if isinstance(value, keras.Variable):
            add(value)
        elif isinstance(value, keras.random.SeedGenerator):
            add(value.state)
        elif isinstance(value, keras.layers.Layer):
            return  # walked in its own right
        elif (held := foreign(value)) is not None:
            for variable in held:
                add(variable)
        elif depth < 4 and isinstance(value, (list, tuple, set, frozenset)):
            for item in value:
                visit(item, depth + 1)
        elif depth < 4 and isinstance(value, dict):
            for item in value.values():
                visit(item, depth + 1)

    for variable in list(model.variables) + list(getattr(model, "metrics_variables", [])):
        add(variable)
    for layer in model._flatten_layers(include_self=True):
        for value in list(vars(layer).values()):
            visit(value, 0)
    return found


class _CopyOnWrite:
    """While an inference session is open, the model's weights are saved on their first write only:
    on every Keras backend (TensorFlow, JAX, torch) a write through Keras (``assign``,
    ``assign_add``, ``assign_sub``, and the updates a ``StatelessScope`` hands back) ends in the
    backend variable's ``_direct_assign``, which is wrapped for as long as any such session is open.
    An inference call writes no weight, so nothing is copied; a weight of a class that overrides
    ``_direct_assign`` is not watched but copied up front, with every state variable (moving
    statistics, seed generators) and every raw backend variable, which a write may reach directly.

    A backend whose compiled functions write variables without running Python (a ``tf.function``
    traced before the check) registers their call (``before_calls``): while a session is open, such
    a call first saves every watched weight, as the snapshot did before."""

    sessions: list[Any] = []
    original: Any = None
    calls: list[tuple[type, str]] = []  # (class, method): each call saves every watched weight first
    wrapped: list[tuple[type, str, Any]] = []  # what is wrapped now, with the original

    @classmethod
    def before_calls(cls, owner: type, name: str) -> None:
        if (owner, name) not in cls.calls:
            cls.calls.append((owner, name))

    @classmethod
    def watchable(cls, variable: Any) -> bool:
        from keras.src.backend import Variable as BackendVariable

        # the wrapper while one is installed (another session open), else the original: either way a
        # class that overrides it differs
        return type(variable)._direct_assign is BackendVariable._direct_assign

    @classmethod
    @critical
    def enter(cls, session: Any) -> None:
        from keras.src.backend import Variable as BackendVariable

        if cls.original is None:
            cls.original = BackendVariable._direct_assign

            def _direct_assign(variable: Any, value: Any) -> None:
                for watcher in list(cls.sessions):
                    watcher._save(variable)
                cls.original(variable, value)

            BackendVariable._direct_assign = _direct_assign
            for owner, name in cls.calls:
                cls._wrap(owner, name)
        if session not in cls.sessions:
            cls.sessions.append(session)

    @classmethod
    @critical
    def leave(cls, session: Any) -> None:
        """Idempotent: the wrapper goes when the last session leaves."""
        from keras.src.backend import Variable as BackendVariable

        if session in cls.sessions:
            cls.sessions.remove(session)
        if not cls.sessions and cls.original is not None:
            while cls.wrapped:
                owner, name, own = cls.wrapped[-1]
                if own is None:
                    delattr(owner, name)  # it was inherited
                else:
                    setattr(owner, name, own)
                cls.wrapped.pop()
            BackendVariable._direct_assign = cls.original
            cls.original = None

    @classmethod
    def _wrap(cls, owner: type, name: str) -> None:
        own, method = vars(owner).get(name), getattr(owner, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            for watcher in list(cls.sessions):
                watcher._save_all()
            return method(*args, **kwargs)

        cls.wrapped.append((owner, name, own))
        setattr(owner, name, call)


def _values(variables: list[Any]) -> Snapshot:
    return [(v, np.array(v.numpy(), copy=True)) for v in variables]


@critical
def _assign(snapshot: Snapshot) -> None:
    for variable, value in snapshot:
        variable.assign(value)


def _user_error_in(exc: Exception) -> Exception:
    """The UserCodeError (or usage error) that tracing a step wrapped in a StagingError, if any:
    the user's code raising while a step is traced fails the check like it does in an eager step."""
    seen: Exception | BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (UserCodeError, MlcheckUsageError)):
            return seen
        seen = seen.__cause__ or seen.__context__
    return exc


class OutputWatch(Protocol):
    """Entered around one forward pass: ``leaf(out)`` marks a layer's output (returning what the
    model goes on with), ``grads(target)`` gives d(target)/d(each marked output), in the order marked,
    after the pass."""

    def __enter__(self) -> Any: ...

    def __exit__(self, *exc: Any) -> Any: ...

    def leaf(self, out: Any) -> Any: ...

    def grads(self, target: Any) -> list[Any]: ...


class KerasSessionBase:
    """The backend-neutral part of a Keras session; a backend's adapter subclasses it."""

    backend = "?"  # KERAS_BACKEND, for messages

    def __init__(
        self,
        model: keras.Model,
        *,
        device: str,
        seed: int,
        loss_fn: Callable | None,
        optimizer: Any,
        train_step: Callable | None,
        output: Any,
        inference: bool = False,
        within: KerasSessionBase | None = None,
    ):
        compiled_loss = getattr(model, "loss", None) if getattr(model, "compiled", False) else None
        # the model's own train_step, used when no train_step= is given: it computes its own loss
        self._override = None if train_step is not None or inference else own_train_step(model)
        if loss_fn is None and train_step is None and self._override is None and compiled_loss is None \
                and not inference:
            raise usage("loss_fn", "a loss for an uncompiled Keras model: a callable (y_true, y_pred) -> scalar",
                        fix="Compile the model with a loss, or pass e.g. "
                            "loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True)")
        if loss_fn is not None and not callable(loss_fn):
            raise usage("loss_fn", "a callable (y_true, y_pred) -> scalar loss", loss_fn)
        if train_step is not None and not callable(train_step):
            raise usage("train_step", "a callable (model, optimizer, loss_fn, x, y) -> loss", train_step)
        self._resolve_device(device)
        self.device = device
        self.model = model
        self.loss_fn = loss_fn
        self._uses_compiled_loss = loss_fn is None and compiled_loss is not None
        self.user_step = train_step
        self.output = output
        self._training = True  # what the built-in step passes as training=
        self.optimizer_notes: list[str] = []
        self._opt: Any = None
        self._lr_factor = 1.0
        self._no_decay = False
        self._make_opt: Callable[[], Any] | None = None
        self._opt_key: Any = None
        self._own_state = False  # whether this session built its optimizer's state (see optimizer)
        self._released = False  # release() called: the weights it trained are disposable
        # fit() scales the loss under mixed_float16 (compile() wraps the optimizer): so does the check
        self._mixed = getattr(getattr(model, "dtype_policy", None), "name", None) == "mixed_float16"
        self._refuse_unsupported()
        self._user_opt: Any = _UNSEEN  # model.optimizer as this session found it, put back by close
        with self._place():  # the user's factory runs before anything of theirs changes
            if not inference:
                self._make_opt, self._opt_key = self._optimizer_maker(optimizer, model)
        self._parent = within
        self._guard = Guard()
        self._found: Snapshot = []  # what this session found, restored when it closes
        self._inference = inference
        self._watched: dict[int, Any] = {}  # weights saved into _found on their first write only
        self._begin(seed)  # last: nothing after it may fail before the caller holds the session

    @critical
    def _begin(self, seed: int) -> None:
        """Capture every global generator and every variable the model reaches, then seed the
        generators (and the model's own seed generators) and, in a probe, load the user's weights.
        Anything that stops it undoes all of it."""
        try:
            self._user_opt = getattr(self.model, "optimizer", _ABSENT)
            # the compiled optimizer is not the model's, but a train_step= may reach it: snapshot it too
            held = getattr(self._user_opt, "variables", None) if self._user_opt is not _ABSENT else None
            reachable = self._reachable() + list(held or [])
            if self._inference and self._parent is None:
                # inference writes no weight: the weights are saved on a write only (_CopyOnWrite)
                weights = {id(v) for v in self.model.trainable_variables if _CopyOnWrite.watchable(v)}
                self._watched = {id(v): v for v in reachable if id(v) in weights}
                reachable = [v for v in reachable if id(v) not in weights]
                _CopyOnWrite.enter(self)
            parent = self._parent
            if parent is not None and parent._released:
                # the parent's weights are disposable (only its close follows, which puts back what it
                # found): put that back at close too, rather than a second copy of the model's weights
                known = {id(v) for v, _ in parent._found}
                self._found = list(parent._found) + _values([v for v in reachable if id(v) not in known])
            else:
                self._found = _values(reachable)
            self._capture_backend_state()
            self._model_variables = len(self.model.variables)
            self._metric_variables = len(self.model.metrics_variables)
            # where every session of this check starts: the weights the user had
            self._start: Snapshot = self._parent._start if self._parent is not None else self._found
            self._guard.begin(seed)
            if self._parent is not None:
                _assign(self._start)
            for i, v in enumerate(self.model.variables):
                if v.path.endswith("seed_generator_state"):
                    v.assign(np.array([seed + i, 0], dtype=v.dtype))
        except BaseException:
            self.close()
            raise

    def shed(self) -> None:
        """Nothing: the optimizer's variables live in the traced step (kept for later checks within
        its budget, or until close), and TensorFlow frees a variable only with its last reference."""

    def release(self) -> None:
        """The weights this session trained are disposable from now on (the user's are put back at
        close): a probe opened within it does not save them again. A backend that can free its
        optimizer's state also does so."""
        self._released = True

    @critical
    def close(self) -> None:
        """Put back every variable as this session found it, and every global generator; complete
        (and idempotent) whatever interrupts it."""
        self._guard.end(self._put_back_optimizer, self.release, lambda: _CopyOnWrite.leave(self),
                        lambda: _assign(self._found), self._restore_backend_state)
        self._watched = {}

    @critical
    def _save_all(self) -> None:
        """Before a compiled function of the backend runs: every watched weight joins the snapshot."""
        for variable in list(self._watched.values()):
            self._save(variable)

    @critical
    def _save(self, variable: Any) -> None:
        """Before the first write into a watched weight: its value joins the snapshot."""
        if id(variable) in self._watched:
            with self._eager():  # a write traced inside the user's compiled function: read eagerly
                value = np.array(variable.numpy(), copy=True)
            self._found.append((variable, value))
            del self._watched[id(variable)]  # last: a failed read leaves it watched (and unwritten)

    # -- what a backend adds ----------------------------------------------------------------
    def _resolve_device(self, device: str) -> None:
        """Where this session's tensors live (a usage error when there is no such device)."""
        raise NotImplementedError

    def _place(self) -> ContextManager[Any]:
        """A scope that runs ops on this session's device."""
        return contextlib.nullcontext()

    def _eager(self) -> ContextManager[Any]:
        """A scope where a variable's value can be read while a function of the user's is traced."""
        return contextlib.nullcontext()

    def _refuse_unsupported(self) -> None:
        """A usage error for what this backend's adapter cannot check (before anything changes)."""

    def _reachable(self) -> list[Any]:
        return reachable_variables(self.model)

    def _capture_backend_state(self) -> None:
        """State outside the variables that this backend's steps change (captured in ``_begin``)."""

    def _restore_backend_state(self) -> None:
        """Put back what ``_capture_backend_state`` captured (critical, idempotent)."""

    def _loss_and_grads(self, x: Any, y: Any, *, training: bool, scale: bool) -> tuple[Any, list[Any]]:
        """The loss on (x, y) and its gradient for each trainable variable (None where none flows);
        ``scale``: the gradient of what the optimizer steps on (the weights' penalties added, scaled as
        ``fit()`` does), else of the plain loss; the loss returned is the plain one either way.
        State the forward pass updates (moving statistics, seed generators) is updated."""
        raise NotImplementedError

    def _input_grad(self, x: Any, index: int) -> Any:
        """d(sum of output ``index``)/d(x) in inference mode (None where none flows)."""
        raise NotImplementedError

    def _is_tensor(self, value: Any) -> bool:
        return keras.ops.is_tensor(value)

    def _np(self, value: Any) -> np.ndarray:
        return np.asarray(keras.ops.convert_to_numpy(value))

    @critical
    def _put_back_optimizer(self) -> None:
        """``model.optimizer`` as this session found it (idempotent)."""
        if self._user_opt is _UNSEEN or getattr(self.model, "optimizer", _ABSENT) is self._user_opt:
            return
        if self._user_opt is _ABSENT:
            delattr(self.model, "optimizer")
        else:
            self.model.optimizer = self._user_opt

    @critical
    def _lend_optimizer(self) -> None:
        """``model.optimizer`` is the check's optimizer while a step the model's code runs: its
        override or a train_step= that calls ``model.train_step``. Never the user's compiled one."""
        if getattr(self.model, "optimizer", _ABSENT) is not self.optimizer:
            self.model.optimizer = self.optimizer

    @critical
    def _remember_new(self) -> None:
        """Variables created by building the model, as initialised, join every snapshot of the check."""
        session: KerasSessionBase | None = self
        known = {id(v) for v, _ in self._found} | set(self._watched)
        new = _values([v for v in self._reachable() if id(v) not in known])
        snapshots = [self._start]
        while session is not None:
            snapshots.append(session._found)
            session = session._parent
        for snapshot in {id(s): s for s in snapshots}.values():
            snapshot.extend(new)
        self._model_variables = len(self.model.variables)
        self._metric_variables = len(self.model.metrics_variables)

    def _reset_metrics(self) -> None:
        """Before a step of the model's own code: each step is its own "epoch", so the logs' running
        means (the loss tracker) are this batch's figures. The snapshot restores every metric."""
        for metric in self.model.metrics:
            metric.reset_state()

    @critical
    def _remember_new_metrics(self) -> None:
        """A model's own step may build its compiled metrics (they hold no variables before the first
        update): reset, they join the snapshots as a fresh build leaves them."""
        if len(self.model.metrics_variables) != self._metric_variables:
            for metric in self.model.metrics:
                metric.reset_state()  # every metric is restored from the snapshot when the session closes
            self._remember_new()

    # -- optimizer ------------------------------------------------------------------------
    def _optimizer_maker(self, spec: Any, model: keras.Model) -> tuple[Callable[[], Any], Any]:
        """How to build this session's optimizer, and a key for its configuration. The optimizer
        is built only when needed: a step traced earlier for the same configuration brings its own."""
        if spec is None:
            compiled = getattr(model, "optimizer", None) if getattr(model, "compiled", False) else None
            if compiled is not None:
                return (lambda: _copied(compiled, "the compiled optimizer")), _config_key(compiled)
            self.optimizer_notes.append(f"no optimizer given: used Adam(lr={DEFAULT_LR}); the learning rate was not tested")
            return (lambda: keras.optimizers.Adam(learning_rate=DEFAULT_LR)), ("default", DEFAULT_LR)
        if isinstance(spec, keras.optimizers.Optimizer):
            return (lambda: _copied(spec, "the optimizer given")), _config_key(spec)
        if isinstance(spec, type):
            if not issubclass(spec, keras.optimizers.Optimizer):
                raise usage("optimizer", "a keras.optimizers.Optimizer class, instance, or factory params -> optimizer",
                            spec)
            return spec, ("class", spec)
        if callable(spec):
            opt = spec(list(model.trainable_variables))
            if not isinstance(opt, keras.optimizers.Optimizer):
                raise usage("optimizer", "a factory that returns a keras.optimizers.Optimizer", opt,
                            fix="Write it as optimizer=lambda params: keras.optimizers.Adam(1e-3)")
            return (lambda: opt), _config_key(opt)
        raise usage("optimizer", "a keras.optimizers.Optimizer class, instance, or factory params -> optimizer", spec)

    @property
    def optimizer(self) -> Any:
        if self._opt is None and self._make_opt is not None:
            self._opt = self._make_opt()
            # built here, its state is this check's alone (a factory's new optimizer, a clone of the
            # compiled or given one); one the factory handed over already built is not ours to free
            self._own_state = not getattr(self._opt, "built", False)
            if self._mixed and not isinstance(self._opt, keras.optimizers.LossScaleOptimizer):
                self._opt = keras.optimizers.LossScaleOptimizer(self._opt)
            if self._lr_factor != 1.0:
                self._scale(self._opt, self._lr_factor)
            if self._no_decay:
                _inner(self._opt).weight_decay = None
        return self._opt

    @optimizer.setter
    def optimizer(self, value: Any) -> None:
        self._opt = value

    def learning_rates(self) -> tuple[float, float]:
        if self.optimizer is None:
            raise NotSupported("reading the learning rate", "no optimizer is given")
        opt = _inner(self.optimizer)
        with self._place():  # a schedule's values at step 0 and at the optimizer's iterations
            now = float(np.asarray(opt.learning_rate))
            rate = opt._learning_rate
            if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule):
                return float(np.asarray(rate(0))), now
        return now, now

    def schedule_ahead(self, start: int, stop: int) -> float:
        if self.optimizer is None:
            raise NotSupported("reading the learning rate", "no optimizer is given")
        rate = _inner(self.optimizer)._learning_rate
        if not isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) or stop <= start:
            raise NotSupported("reading a learning-rate schedule ahead", "the optimizer has no schedule")
        # a schedule is a function of the step: read at every step in one call where it takes a vector
        # of steps (ops all through), else at up to SCHEDULE_READS evenly spaced steps
        try:
            with self._place():
                first = float(np.asarray(rate(0)))
                try:
                    values = np.asarray(rate(keras.ops.arange(start, stop, dtype="float32")), dtype=np.float64)
                except Exception:  # noqa: BLE001 - a schedule of scalars only
                    values = np.empty(0)
                if values.shape != (stop - start,):
                    steps = np.unique(np.linspace(start, stop - 1, min(stop - start, SCHEDULE_READS)).astype(np.int64))
                    values = np.array([float(np.asarray(rate(int(s)))) for s in steps])
        except Exception as exc:  # noqa: BLE001 - a schedule defined only up to its own horizon (a table, an assert)
            raise NotSupported("reading a learning-rate schedule ahead",
                               f"the schedule raised {type(exc).__name__} at a step past the run") from exc
        if not first > 0 or not np.isfinite(values).all():
            raise NotSupported("reading a learning-rate schedule ahead", f"its rate at step 0 is {first}")
        return float(values.mean() / first * (stop - start))

    def weight_decay(self) -> float:
        return float(getattr(_inner(self.optimizer), "weight_decay", None) or 0.0)

    def weight_penalties(self) -> str:
        held: dict[str, int] = {}
        for variable in self.model.trainable_weights:
            if variable.regularizer is not None:
                what = _penalty_name(variable.regularizer)
                held[what] = held.get(what, 0) + 1
        return " and ".join(f"{what} on {n} weight tensor(s)" for what, n in held.items())

    def drop_weight_decay(self) -> None:
        self._no_decay = True
        if self._opt is not None:
            _inner(self._opt).weight_decay = None

    def training_outputs(self, batch: tuple[Any, Any]) -> np.ndarray:
        with self._place():
            out = self._forward(batch[0], training=True)
        return self._np(out).astype(np.float32, copy=False)

    def train_without_noise(self) -> None:
        """Train with training=False from now on: dropout and other training-mode noise off (a probe)."""
        self._training = False

    def recalibrate(self, batch: tuple[Any, Any]) -> bool:
        norms = [layer for layer in self.model._flatten_layers(include_self=False)
                 if isinstance(layer, keras.layers.BatchNormalization)]
        if not norms:
            return False
        momenta = [layer.momentum for layer in norms]
        # dropout off: the statistics of the activations inference computes, not of dropped-out ones
        # (the variance shift between dropout and batch norm)
        drops = [layer for layer in self.model._flatten_layers(include_self=False)
                 if isinstance(layer, keras.layers.Dropout)]
        rates = [layer.rate for layer in drops]
        try:
            for layer in norms:  # momentum 0: one training pass sets the moving statistics to the batch's
                layer.momentum = 0.0
            for layer in drops:
                layer.rate = 0.0
            with self._place():
                self._forward(batch[0], training=True)
        finally:
            for layer, momentum in zip(norms, momenta):
                layer.momentum = momentum
            for layer, rate in zip(drops, rates):
                layer.rate = rate
        return True

    def uncovered_parameters(self) -> list[str]:
        return []  # a Keras optimizer updates every trainable variable it is given

    def unregistered_leaves(self, batch: tuple[Any, Any]) -> list[tuple[str, tuple[int, ...]]]:
        return []  # Keras tracks layers and variables held in lists and dicts: each is in trainable_variables

    def note_foreign(self, batch: tuple[Any, Any]) -> None:
        return None  # no unregistered tensors to tell apart (above)

    def trainable_count(self) -> int:
        return sum(int(np.prod(v.shape)) for v in self.model.trainable_variables)

    def parameter_values(self) -> dict[str, np.ndarray]:
        return {v.path: np.array(v.numpy(), copy=True) for v in self.model.trainable_variables}

    def lookup_tables(self) -> set[str]:
        live = {id(v) for v in self.model.trainable_variables}
        return {v.path for layer in self.model._flatten_layers(include_self=True)
                if isinstance(layer, keras.layers.Embedding) for v in layer.trainable_weights if id(v) in live}

    def flagged_frozen(self) -> dict[str, str]:
        live = {id(v) for v in self.model.trainable_variables}
        return {v.path: layer.name for layer in self.model._flatten_layers(include_self=True)
                if vars(layer).get("requires_grad") is False  # torch's habit: Keras reads `trainable`
                for v in layer.trainable_weights if id(v) in live}

    def frozen_values(self) -> dict[str, np.ndarray]:
        """Weights meant to train (a layer's trainable weights) that are frozen now; moving
        statistics and other state variables are not weights and may change."""
        live = {id(v) for v in self.model.trainable_variables}
        return {v.path: np.array(v.numpy(), copy=True) for v in weights_meant_to_train(self.model) if id(v) not in live}

    def scale_lr(self, factor: float) -> None:
        self._lr_factor *= factor
        if self._opt is not None:
            self._scale(self._opt, factor)

    @staticmethod
    def _scale(opt: Any, factor: float) -> None:
        opt = _inner(opt)
        rate = opt._learning_rate
        if isinstance(rate, keras.optimizers.schedules.LearningRateSchedule) or \
                (callable(rate) and not isinstance(rate, keras.Variable)):
            # the user's schedule, every step's rate times the factor: a retry "at lr×10" that left a
            # schedule alone reported the given rate's run as the retry's (this is a clone's optimizer)
            opt.learning_rate = _ScaledSchedule(rate, factor)
            return
        opt.learning_rate = float(np.asarray(opt.learning_rate)) * factor

    # -- data -----------------------------------------------------------------------------
    def _tensor(self, value: Any, *, is_input: bool) -> Any:
        if isinstance(value, dict) and is_input:
            return {k: self._tensor(v, is_input=True) for k, v in value.items()}
        if isinstance(value, (tuple, list)) and is_input:
            return [self._tensor(v, is_input=True) for v in value]
        tensor = keras.ops.convert_to_tensor(value)
        dtype = keras.backend.standardize_dtype(tensor.dtype)
        if dtype.startswith(("float", "bfloat")) and dtype != keras.config.floatx():
            tensor = keras.ops.cast(tensor, keras.config.floatx())
        return tensor

    def prepare(self, x: Any, y: Any = None) -> tuple[Any, Any]:
        with self._place():
            batch = self._tensor(x, is_input=True), None if y is None else self._tensor(y, is_input=False)
        if not self.model.built or len(self.model.variables) != self._model_variables:
            self._build_on(batch[0])
        return batch

    def _build_on(self, x: Any) -> None:
        """A model never called has no weights yet: build it with one inference call, then add the
        new variables, as initialised, to the snapshots that the closes restore."""
        with self._place():
            call_user("the model's forward pass", self.model, x, training=False)
            self._remember_new()  # at once: no instruction between the build and this call

    def labels(self, batch: tuple[Any, Any]) -> np.ndarray:
        return self._np(batch[1])

    def inputs(self, batch: tuple[Any, Any]) -> np.ndarray | None:
        x = batch[0]
        return self._np(x) if self._is_tensor(x) else None

    # -- steps ----------------------------------------------------------------------------
    def _forward(self, x: Any, training: bool) -> Any:
        raw = call_user("the model's forward pass", self.model, x, training=training)
        out = select_output(raw, self.output, is_tensor=lambda v: hasattr(v, "shape"))
        if self._is_tensor(out) and keras.backend.standardize_dtype(out.dtype) in ("float16", "bfloat16"):
            out = keras.ops.cast(out, "float32")  # mixed precision: losses, reports and probes in float32
        return out

    def _loss(self, x: Any, y: Any, out: Any, training: bool) -> Any:
        return call_user("loss_fn", self._user_loss, x, y, out, training)

    def _user_loss(self, x: Any, y: Any, out: Any, training: bool) -> Any:
        """The loss every check reads: the user's, with the ``add_loss`` terms Keras adds to it, and
        without the penalties of the weights' regularizers, which a training step adds back
        (:meth:`_objective`): a penalty is no part of fitting the batch, and it shrinks as the weights
        do, so no floor or fraction of a start can be read with it in (an L2 of 0.01 on a digits MLP
        ends at 0.58, most of it the penalty, with every sample fitted)."""
        if self._uses_compiled_loss:  # compute_loss adds model.losses whatever training= says
            return self.model.compute_loss(x=x, y=y, y_pred=out, training=training) - self._weight_penalty()
        loss = self.loss_fn(y, out)
        if training and self.model.losses:
            terms = self.model.losses  # Keras lists the weights' penalties last
            own = terms[:len(terms) - self._penalised()]
            if own:
                loss = loss + self._sum(own)
        return loss

    def _objective(self, loss: Any) -> Any:
        """What a training step differentiates: the loss read plus the weights' penalties, unless a
        probe trains without them (``drop_weight_decay``)."""
        return loss if self._no_decay else loss + self._weight_penalty()

    def _penalised(self) -> int:
        return sum(v.regularizer is not None for v in self.model.trainable_weights)

    def _weight_penalty(self) -> Any:
        """What the variables' regularizers add to ``model.losses``, as Keras computes it
        (``variable.value`` is the traced value inside a stateless scope: JAX); 0 without any."""
        terms = [v.regularizer(v.value) for v in self.model.trainable_weights if v.regularizer is not None]
        return self._sum([keras.ops.cast(t, keras.config.floatx()) for t in terms]) if terms else 0.0

    @staticmethod
    def _sum(losses: list[Any]) -> Any:
        return functools.reduce(operator.add, losses)

    def train_step(self, batch: tuple[Any, Any]) -> float:
        """One eager step: the model's override, or the loss's gradients applied by the optimizer."""
        x, y = batch
        if self.user_step is not None:
            return self._user_train_step(x, y)
        with self._place():
            if self._override is not None:
                self._lend_optimizer()
                self._reset_metrics()
            loss = self._step(x, y)
        self._remember_new_metrics()
        return scalar_loss(loss, "model.train_step" if self._override is not None else "loss_fn")

    def _user_train_step(self, x: Any, y: Any) -> float:
        """One step of the user's ``train_step=`` (``model.optimizer`` is the check's meanwhile)."""
        with self._place():
            if self.optimizer is not None:
                self._lend_optimizer()  # a step calling model.train_step steps the check's optimizer
            self._reset_metrics()
            loss = call_user("train_step", self.user_step, self.model, self.optimizer, self.loss_fn, x, y)
        self._remember_new_metrics()
        if isinstance(loss, dict) and "loss" in loss:
            loss = loss["loss"]  # the logs of a model.train_step call
        return scalar_loss(loss, "train_step")

    def _step(self, x: Any, y: Any) -> Any:
        if self._override is not None:
            return self._own_step(x, y)
        variables = self.model.trainable_variables
        loss, grads = self._loss_and_grads(x, y, training=self._training, scale=True)
        pairs = self._pairs(loss, grads, variables)
        call_user("the optimizer step", self.optimizer.apply_gradients, pairs)
        return loss

    @staticmethod
    def _scalar(loss: Any) -> None:
        """A usage error unless the loss is one number (checked where the loss is computed)."""
        if not hasattr(loss, "shape"):
            scalar_loss(loss, "loss_fn")  # a usage error unless it is a number; a number has no gradient
        elif None not in tuple(loss.shape) and int(np.prod(tuple(loss.shape))) != 1:
            raise usage("loss_fn", "a scalar loss", loss, fix="Reduce it to one number (a mean) before returning it")

    @staticmethod
    def _pairs(loss: Any, grads: list[Any], variables: list[Any]) -> list[tuple[Any, Any]]:
        """(gradient, variable) for the optimizer; a failed check when no gradient flows at all."""
        if all(g is None for g in grads):
            raise UserCodeError("loss_fn", RuntimeError(
                "the loss does not require grad: no gradient reaches any trainable variable "
                "(a numpy round trip, a stop_gradient or an integer op in the model or the loss)"))
        return [(g, v) for g, v in zip(grads, variables) if g is not None]

    def _own_step(self, x: Any, y: Any) -> Any:
        """One step through the model's ``train_step`` override (``model.optimizer`` is the check's);
        the loss is its logs' "loss"."""
        logs = call_user("the model's train_step", self._override, (x, y))
        loss = logs.get("loss") if isinstance(logs, dict) else None
        if loss is None:
            raise usage("model", "a train_step override that returns its logs with a \"loss\" entry", logs,
                        fix='Return e.g. {"loss": loss} or {m.name: m.result() for m in self.metrics} after '
                            "updating the loss tracker; or pass train_step= with your own step")
        return loss

    def has_loss(self) -> bool:
        return self.loss_fn is not None or self._uses_compiled_loss

    def loss(self, batch: tuple[Any, Any], *, training: bool) -> float:
        if not self.has_loss():
            return float("nan")
        with self._place():
            out = self._forward(batch[0], training=training)
            return scalar_loss(self._loss(batch[0], batch[1], out, training=training), "loss_fn")

    def penalty(self) -> float:
        if not (self._uses_compiled_loss and self.model.losses):
            return 0.0  # a loss_fn= gets the add_loss terms only in training mode (_user_loss)
        with self._place():  # the add_loss terms: the weights' penalties are out of every loss read
            return float(self._np(self._sum(self.model.losses) - self._weight_penalty()))

    def traced_loss(self, batch: tuple[Any, Any]) -> float | None:
        return None  # only TensorFlow's traced tensors carry the logits beneath an activation

    def loss_broadcasts(self, outputs: np.ndarray, batch: tuple[Any, Any]) -> list[Crossing]:
        if not self.has_loss():
            raise NotSupported("seeing the operations inside the loss", "there is no loss to look inside")
        return self._loss_crossings(outputs, batch)

    def _loss_crossings(self, outputs: np.ndarray, batch: tuple[Any, Any]) -> list[Crossing]:
        """What the loss crosses elementwise on ``outputs`` (each backend's own look)."""
        raise NotSupported("seeing the operations inside a Keras loss", "this backend shows them to no watch")

    def loss_of(self, outputs: np.ndarray, batch: tuple[Any, Any]) -> float:
        if not self.has_loss():
            return float("nan")
        try:
            with self._place():
                out = keras.ops.convert_to_tensor(outputs, dtype=keras.config.floatx())
                return scalar_loss(self._loss(batch[0], batch[1], out, training=False), "loss_fn")
        except Exception:
            return float("nan")

    def loss_reads_weights(self, outputs: np.ndarray, batch: tuple[Any, Any]) -> bool:
        # a Keras loss is a function of (y_true, y_pred): one that reads the model instead is a closure
        # whose variables no backend-neutral tape follows
        raise NotSupported("whether the loss reads the weights", "not traced for Keras losses")

    def loss_gradient(self, outputs: np.ndarray, batch: tuple[Any, Any]) -> np.ndarray:
        """d(loss)/d(outputs) by the loss's own backward (each backend's :meth:`_output_grad`); NaN
        where the loss raises on them. Keras's own losses differentiate the formula they compute, but
        a loss of the user's can break backward where its value does not (a root at 0)."""
        if not self.has_loss():
            raise NotSupported("the loss's gradient at given outputs", "the model has no loss")
        try:
            with self._place():
                out = keras.ops.convert_to_tensor(outputs, dtype=keras.config.floatx())
                grad = self._output_grad(lambda o: self._loss(batch[0], batch[1], o, training=False), out)
        except NotSupported:
            raise
        except Exception:
            return np.full(outputs.shape, np.nan, dtype=np.float32)
        return np.zeros(outputs.shape, np.float32) if grad is None else self._np(grad).astype(np.float32)

    def _output_grad(self, loss: Callable[[Any], Any], out: Any) -> Any:
        """d(loss(out))/d(out) on this backend (None where none flows)."""
        raise NotSupported("the loss's gradient at given outputs", "not read on this Keras backend")

    def predict(self, batch: tuple[Any, Any]) -> np.ndarray:
        with self._place():
            out = self._forward(batch[0], training=False)
        return self._np(out).astype(np.float32, copy=False)

    @contextlib.contextmanager
    def same_draws(self, seed: int) -> Iterator[None]:
        if getattr(self, "_draws", None) is None:  # the model's own generators as the first pass found them
            self._draws = [(sg.state, self._np(sg.state.value).copy())
                           for layer in self.model._flatten_layers(include_self=True)
                           for sg in getattr(layer, "_seed_generators", [])]
        for state, value in self._draws:
            state.assign(value)
        with seeded_globals(seed):
            yield

    def float64_predictor(self) -> Callable[[Any], np.ndarray]:
        raise NotSupported("a float64 copy of a Keras model", "a built model's dtype policy is fixed")

    def gradients(self, batch: tuple[Any, Any]) -> dict[str, np.ndarray | None]:
        """Gradients of the loss on ``batch`` for each trainable variable, without an update."""
        x, y = batch
        variables = self.model.trainable_variables
        with self._place():
            loss, grads = self._loss_and_grads(x, y, training=True, scale=False)
        scalar_loss(loss, "loss_fn")
        return {v.path: None if g is None else self._np(g).astype(np.float32, copy=False)
                for v, g in zip(variables, grads)}

    def step_gradients(self) -> dict[str, np.ndarray | None]:
        raise NotSupported("reading the gradients of a train_step= step", _INVISIBLE)

    def leftover_gradients(self, batch: tuple[Any, Any]) -> float:
        raise NotSupported("watching the gradients of a train_step= step", _INVISIBLE)

    def input_gradient(self, batch: tuple[Any, Any], index: int) -> np.ndarray | None:
        x = batch[0]
        if not self._is_tensor(x):
            return None
        if not keras.backend.standardize_dtype(x.dtype).startswith(("float", "bfloat")):
            return self._lookup_gradient(x, index)
        with self._place():
            grad = self._input_grad(x, index)
        return np.zeros(tuple(x.shape), np.float32) if grad is None else self._np(grad).astype(np.float32, copy=False)

    def _weighted_calls(self, batch: tuple[Any, Any], training: bool) -> list[tuple[str, np.ndarray, Callable]]:
        """Each leaf layer holding a weight matrix or kernel (a weight of 2+ dimensions: dense,
        conv, embedding), with what reached it and its original ``call``, in call order. Each such
        layer's ``call`` is wrapped for the one call and restored after."""
        seen: list[tuple[str, np.ndarray, Callable]] = []
        wrapped = []
        for layer in self.model._flatten_layers(include_self=False):
            own = list(getattr(layer, "_trainable_variables", [])) + list(getattr(layer, "_non_trainable_variables", []))
            if any(len(v.shape) >= 2 for v in own) and not list(layer._flatten_layers(include_self=False)):
                wrapped.append(layer)
        def wrap(layer: Any) -> Callable:
            def call(*args: Any, __original: Any = layer.call, __name: str = layer.name, **kwargs: Any) -> Any:
                if args and hasattr(args[0], "shape"):
                    seen.append((__name, self._np(args[0]), __original))
                return __original(*args, **kwargs)
            return call

        self._wrapped_forward(batch[0], {layer: wrap(layer) for layer in wrapped}, training=training)
        return seen

    def negated_head(self, batch: tuple[Any, Any]) -> np.ndarray | None:
        """(A Keras layer applies its own ``activation`` inside ``call``: that activation is given the
        negated pre-activation, restored after; a layer without one has its output negated)"""
        calls = self._weighted_calls(batch, False)
        if not calls:
            return None
        layer = getattr(calls[-1][2], "__self__", None)  # the layer whose original call ran last
        if isinstance(layer, keras.layers.Embedding):  # a lookup applies no activation: its output is negated
            out = self._wrapped_forward(batch[0], {layer: lambda *a, __call=layer.call, **k: -__call(*a, **k)},
                                        training=False)
            return self._np(out).astype(np.float32, copy=False)
        if not isinstance(layer, _OWN_ACTIVATION):
            return None
        activation, own = getattr(layer, "activation", None), "activation" in vars(layer)
        if activation is None:  # EinsumDense without one
            activation = keras.activations.linear
        layer.activation = lambda t, __act=activation: __act(-t)
        try:
            return self.predict(batch)
        finally:
            if own:
                layer.activation = activation
            else:  # a class attribute: the instance had none of its own
                del layer.activation

    def shifted_loss(self, batch: tuple[Any, Any], name: str, shift: np.ndarray, seed: int) -> float:
        variable = {v.path: v for v in self.model.trainable_variables}.get(name)
        if variable is None:
            raise NotSupported("moving a variable", f"{name!r} is no trainable variable of the model")
        saved = np.array(variable.numpy(), copy=True)
        others = [(v, np.array(v.numpy(), copy=True)) for v in self.model.non_trainable_variables]  # moving stats
        try:
            variable.assign(saved + np.asarray(shift).astype(saved.dtype))
            with self.same_draws(seed):
                return self.loss(batch, training=True)
        finally:
            variable.assign(saved)
            for v, value in others:
                v.assign(value)

    def noisy_outputs(self, batch: tuple[Any, Any], names: list[str], seed: int,
                      redrawn: tuple[str, ...] = (), gain: float = 1.0) -> np.ndarray | None:
        """(A variable's owner is the layer holding it among its own variables; a dense or convolution
        layer's noise goes into the pre-activation its ``activation`` is given, any other layer's onto
        what its ``call`` returns, or the first tensor of a tuple)"""
        variables, wanted = {v.path: v for v in self.model.trainable_variables}, set(names)
        owners = [layer for layer in self.model._flatten_layers(include_self=False)
                  if any(v.path in wanted for v in getattr(layer, "_trainable_variables", []))]
        owner_of = {v.path: k for k, layer in enumerate(owners) for v in layer._trainable_variables}
        if not all(name in owner_of and name in variables for name in names):
            return None
        again = {owner_of[name] for name in redrawn if name in owner_of}
        streams = [np.random.default_rng([seed, k, int(k in again)]) for k in range(len(owners))]
        refused: list[Any] = []

        def noisy(value: Any, rng: np.random.Generator, layer: Any) -> Any:
            if not (hasattr(value, "shape") and "float" in str(getattr(value, "dtype", ""))):
                refused.append(layer)
                return value
            return value + keras.ops.convert_to_tensor(noise_like(self._np(value), rng, gain))

        def wrap(layer: Any, rng: np.random.Generator) -> Callable:
            if isinstance(layer, _OWN_ACTIVATION) and getattr(layer, "activation", None) is not None:
                activation = layer.activation
                layer.activation = lambda t, __act=activation: __act(noisy(t, rng, layer))
                return layer.call

            def call(*args: Any, __original: Any = layer.call, **kwargs: Any) -> Any:
                out = __original(*args, **kwargs)
                return with_first(out, noisy(first_output(out), rng, layer))
            return call

        kept = {id(layer): vars(layer)["activation"] for layer in owners if "activation" in vars(layer)}
        saved = {name: np.array(variables[name].numpy(), copy=True) for name in names}
        try:
            for name in names:
                variables[name].assign(saved[name] + noise_like(saved[name], streams[owner_of[name]], gain))
            out = self._wrapped_forward(batch[0], {layer: wrap(layer, streams[k]) for k, layer in enumerate(owners)},
                                        training=False)
        finally:
            for layer in owners:
                if id(layer) in kept:
                    layer.activation = kept[id(layer)]
                elif "activation" in vars(layer):  # a class attribute: the instance had none of its own
                    del layer.activation
            for name, value in saved.items():
                variables[name].assign(value)
        return None if refused else self._np(out).astype(np.float32, copy=False)

    def _lookup_gradient(self, x: Any, index: int) -> np.ndarray | None:
        """Ids have no gradient; the vectors an ``Embedding`` looks up for them do. Each lookup whose
        ids are the inputs' own, one sample per slice along one axis, and follow the samples when the
        batch is reversed (:func:`lookup_axes`: a position table's ``arange(T)`` does not), is watched
        for one inference call; returned: d(sum of output ``index``)/d(what those lookups gave),
        laid out (samples, -1). None where no lookup reads the inputs so, or the backend cannot
        watch a layer's output (:meth:`_output_watch`)."""
        lookups = [layer for layer in self.model._flatten_layers(include_self=False)
                   if isinstance(layer, keras.layers.Embedding)]
        n = int(x.shape[0]) if len(x.shape) else 0
        if not lookups or n < 2:
            return None
        try:
            watch = self._output_watch()
        except NotSupported:
            return None
        calls: list[np.ndarray] = []  # each lookup call's ids, in call order

        def recording(layer: Any) -> Callable:
            def call(*args: Any, __original: Any = layer.call, **kwargs: Any) -> Any:
                ids = args[0] if args else kwargs.get("inputs")
                try:
                    calls.append(self._np(ids))
                except Exception:  # symbolic ids (a traced call): nothing to read per sample
                    calls.append(np.empty(0))
                return __original(*args, **kwargs)
            return call

        self._wrapped_forward(x, {layer: recording(layer) for layer in lookups}, training=False)
        reference = list(calls)
        calls.clear()
        self._wrapped_forward(keras.ops.flip(x, axis=0), {layer: recording(layer) for layer in lookups}, training=False)
        axes = lookup_axes(reference, calls, self._np(x).reshape(n, -1))
        if not any(a is not None for a in axes):
            return None
        seen = iter(range(len(axes)))
        leaves: list[tuple[int, Any]] = []

        def watching(layer: Any) -> Callable:
            def call(*args: Any, __original: Any = layer.call, **kwargs: Any) -> Any:
                out = __original(*args, **kwargs)
                at = next(seen, None)
                axis = None if at is None else axes[at]
                if axis is None:
                    return out
                leaf = watch.leaf(out)
                leaves.append((axis, leaf))
                return leaf
            return call

        with watch:
            out = self._wrapped_forward(x, {layer: watching(layer) for layer in lookups}, training=False)
            target = keras.ops.sum(out[index]) if leaves else None
        if target is None:
            return None
        grads = watch.grads(target)
        parts = [np.moveaxis(np.zeros(tuple(leaf.shape)) if g is None else self._np(g), axis, 0).reshape(n, -1)
                 for (axis, leaf), g in zip(leaves, grads)]
        return np.concatenate(parts, axis=1).astype(np.float32)

    def _output_watch(self) -> OutputWatch:
        """What follows a layer's output to the gradient reaching it (each backend's own)."""
        raise NotSupported("following the gradient to a layer's output", "this backend traces the whole call")

    def _wrapped_forward(self, x: Any, calls: dict[Any, Callable], *, training: bool) -> Any:
        """One forward pass with each layer's ``call`` replaced by ``calls[layer]`` (restored after);
        its selected output."""
        for layer, call in calls.items():
            layer.call = call
        try:
            with self._place():
                return self._forward(x, training=training)
        finally:
            for layer in calls:
                del layer.call

    def weighted_layer_inputs(self, batch: tuple[Any, Any], *, training: bool) -> list[tuple[str, np.ndarray]]:
        return [(name, value) for name, value, _ in self._weighted_calls(batch, training)]

    def stacked_dense(self, batch: tuple[Any, Any]) -> list[tuple[str, str, int, int, int]]:
        """(Dense layers, the first without an activation; what the second receives counts as the
        first one's output unchanged when it is that tensor, or equal to it in value and the output
        had a negative value, so that no ReLU could have passed it on as it was)"""
        dense = [layer for layer in self.model._flatten_layers(include_self=False)
                 if isinstance(layer, keras.layers.Dense)]
        outputs: list[tuple[Any, Any, np.ndarray]] = []
        pairs: list[tuple[str, str, int, int, int]] = []
        def wrap(layer: Any) -> Callable:
            def call(*args: Any, __original: Any = layer.call, __layer: Any = layer, **kwargs: Any) -> Any:
                out = __original(*args, **kwargs)
                if args and hasattr(args[0], "shape") and hasattr(out, "shape"):
                    x, value = args[0], self._np(args[0]).reshape(-1)
                    pairs.extend((first.name, __layer.name, int(first.kernel.shape[0]), int(first.units),
                                  int(__layer.units))
                                 for first, kept, seen in outputs if first is not __layer and (
                                     kept is x or (seen.size == value.size and bool((seen < 0).any())
                                                   and np.array_equal(seen, value))))
                    if getattr(__layer, "activation", None) is keras.activations.linear:
                        outputs.append((__layer, out, self._np(out).reshape(-1)))
                return out
            return call

        self._wrapped_forward(batch[0], {layer: wrap(layer) for layer in dense}, training=False)
        return pairs

    def rescale_layers(self, batch: tuple[Any, Any]) -> list[float]:
        """Scale each weighted leaf layer's matrices (dense, conv; not lookups), in call order, so
        what it outputs on the batch in an inference call has unit standard deviation (a probe on a
        fresh session); each one's between-sample spread before any scaling."""
        layers = [layer for layer in self.model._flatten_layers(include_self=False)
                  if not list(layer._flatten_layers(include_self=False))
                  and not isinstance(layer, keras.layers.Embedding)
                  and any(len(v.shape) >= 2 for v in getattr(layer, "_trainable_variables", []))]
        outputs: dict[int, np.ndarray] = {}
        for layer in layers:
            def call(*args: Any, __original: Any = layer.call, __key: int = id(layer), **kwargs: Any) -> Any:
                out = __original(*args, **kwargs)
                first = first_output(out)
                if __key not in outputs and hasattr(first, "shape"):
                    outputs[__key] = self._np(first).astype(np.float64)
                return out

            layer.call = call

        def outputs_now() -> dict[int, np.ndarray]:
            outputs.clear()
            with self._place():
                self._forward(batch[0], training=False)
            return dict(outputs)

        def divide(key: int, std: float) -> None:
            for v in by_id[key]._trainable_variables:
                if len(v.shape) >= 2:
                    v.assign(v / std)

        by_id = {id(layer): layer for layer in layers}
        try:
            return unit_variance(outputs_now, divide)
        finally:
            for layer in layers:
                del layer.call

    def weighted_inputs(self, batch: tuple[Any, Any]) -> list[tuple[str, np.ndarray, bool]]:
        return [(name, value, self._is_lookup(value, call))
                for name, value, call in self._weighted_calls(batch, training=True)]

    def _is_lookup(self, value: np.ndarray, call: Callable) -> bool:
        """Integer ids, or whole numbers that the layer reads as ids: a lookup ignores a shift by
        0.25 that any weighted sum would show."""
        if np.issubdtype(value.dtype, np.integer):
            return True
        if not np.issubdtype(value.dtype, np.floating) or not np.all(value == np.round(value)) or value.min() < 0:
            return False
        try:
            with self._place():
                a, b = self._np(call(value)), self._np(call(value + 0.25))
        except Exception:
            return False
        return a.shape == b.shape and bool(np.array_equal(a, b))

    def clear_gradients(self) -> None:
        raise NotSupported("clearing the gradients of a train_step= step", _INVISIBLE)

    def gradient_norm(self) -> float:
        raise NotSupported("measuring the gradients of a train_step= step", _INVISIBLE)

    def optimizer_steps(self) -> int:
        raise NotSupported("counting the optimizer steps of a train_step= step", _INVISIBLE)

    def steps_own_code(self) -> bool:
        return self.user_step is not None or self._override is not None


user_boundary(KerasSessionBase.__init__)  # it runs the user's optimizer factory


def weights_meant_to_train(model: Any) -> list[Any]:
    """Each layer's own trainable weights, frozen or not (``_trainable_variables`` holds them whatever
    ``trainable`` says; moving statistics are state and are not among them), each variable once."""
    return list({id(v): v for layer in model._flatten_layers(include_self=True)
                 for v in getattr(layer, "_trainable_variables", [])}.values())


class KerasBackendBase:
    """Opens sessions of one Keras backend's adapter (``session``, set by each backend)."""

    session: type[KerasSessionBase]

    def weights_under(self, model: Any, parts: Any, *, argument: str) -> dict[str, str]:
        layers = list(model._flatten_layers(include_self=True))
        weights = {id(v): v for v in weights_meant_to_train(model)}
        shared = collections.Counter(v.path for v in weights.values())
        names = {v.path: v.path for v in weights.values()}
        state = {id(v) for v in model.variables} - set(weights)

        def of_layer(layer: Any) -> dict[str, str]:
            mine = [v for v in layer.weights if id(v) in weights]
            # a session keys weights by path: one whose path another weight shares cannot be told apart
            # from it (two sub-models each with a layer named "proj"); it is left out rather than misread
            told = {v.path: layer.name for v in mine if shared[v.path] == 1}
            if mine and not told:
                raise usage(argument, "layers whose weights the model names uniquely", layer,
                            fix=f"Its weights' paths ({', '.join(v.path for v in mine[:2])}) are shared with other "
                                "weights of the model (layers of the same name in two sub-models): give the layers "
                                "distinct names")
            return told

        def of_object(part: Any) -> dict[str, str] | None:
            if isinstance(part, keras.Variable):
                if id(part) in state:
                    raise usage(argument, "layers or variables (weights) of the model", part,
                                fix="This is a state variable (a moving statistic, which a training step may "
                                    "change); pass the layer or its weights")
                if id(part) not in weights:
                    return None
                if shared[part.path] > 1:
                    raise usage(argument, "variables the model names uniquely", part,
                                fix=f"Its path {part.path} is shared with another weight of the model: give the "
                                    "layers distinct names")
                return {part.path: part.path}
            if isinstance(part, keras.layers.Layer):
                return of_layer(part) if any(layer is part for layer in layers) else None
            raise usage(argument, "a layer or variable of the model, a layer's name, a prefix of variable paths, "
                                  "or a list of these", part)

        def of_name(name: str) -> dict[str, str] | None:
            found = [layer for layer in layers if layer.name == name and layer is not model]
            return of_layer(found[0]) if len(found) == 1 else None

        return weights_under(parts, names, "/", of_object, of_name, argument=argument, kinds="layers or variables")

    @critical  # the return from the constructor, before the caller holds the session, is not interruptible
    def open(self, model: Any, *, within: Session | None = None, **kwargs: Any) -> Session:
        if within is not None and not (isinstance(within, self.session) and within.model is model):
            raise TypeError("within: expected the open session of the same Keras model")  # a bug in a check
        return self.session(model, within=within, **kwargs)
