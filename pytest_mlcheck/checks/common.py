"""What several checks share: opening a session, argument validation, the task, the labels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck import diagnosis
from pytest_mlcheck.backends import as_numpy, backend_for
from pytest_mlcheck.causes import Evidence
from pytest_mlcheck.data import one_batch, sample_count
from pytest_mlcheck.errors import NotSupported, UserCodeError, usage
from pytest_mlcheck.report import fmt
from pytest_mlcheck.settings import Settings
from pytest_mlcheck.targets import (
    Targets, always_one, broadcast_in_loss, causal_floor, decide, ignores_outputs, logits_read, prefix_conflicts,
    prefix_groups,
)
from pytest_mlcheck.thresholds import UNREAD_RTOL

if TYPE_CHECKING:
    from pytest_mlcheck.backends.base import Session
    from pytest_mlcheck.checks.runner import CheckRun, TrainSpec

def open_session(model: Any, settings: Settings, spec: TrainSpec, *, inference: bool = False,
                 within: Session | None = None) -> Session:
    """A copy of ``model`` on the settings' device; ``inference`` needs no loss or optimizer.
    ``within``: the check's own session, when this one is a probe opened inside it (it starts
    from the user's weights and gives the check's back when it closes)."""
    backend = backend_for(model)
    return backend.open(
        model,
        device=settings.device,
        seed=settings.seed,
        loss_fn=spec.loss_fn,
        optimizer=spec.optimizer,
        train_step=spec.train_step,
        output=spec.output,
        inference=inference,
        within=within,
    )


def check_steps(steps: Any, argument: str = "steps") -> int | None:
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise usage(argument, "a positive whole number of training steps", steps)
    return int(steps)


def check_fraction(value: Any, argument: str) -> float:
    """A threshold strictly between 0 and 1, or a usage error naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise usage(argument, "a fraction between 0 and 1 (exclusive)", value)
    return float(value)


def check_count(value: Any, argument: str) -> int | None:
    """None, or a positive whole number (a class count), else a usage error naming the argument."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
        raise usage(argument, "a positive whole number", value)
    return None if value is None else int(value)


def loss_on_targets(session: Session, raw_x: Any, like: np.ndarray, outputs: np.ndarray, targets: Any) -> float:
    """The user's loss for ``outputs`` against other targets, shaped and typed as the batch's
    (``like``), prepared with the batch's raw inputs; NaN where the pipeline refuses them."""
    try:
        other = session.prepare(raw_x, np.asarray(targets).reshape(like.shape).astype(like.dtype))
    except Exception:
        return float("nan")
    return session.loss_of(outputs, other)


def unread_columns(session: Session, raw_x: Any, batch: Any, outputs: np.ndarray) -> list[Evidence]:
    """:func:`diagnosis.unread_outputs` with the user's loss on this batch, at given outputs and at
    other targets prepared with the batch's raw inputs (loss evaluations only, no forward pass)."""
    y = session.labels(batch)
    like = None if y is None else np.asarray(y)
    return diagnosis.unread_outputs(outputs, y, lambda out: session.loss_of(out, batch),
                                    lambda out, other: loss_on_targets(session, raw_x, like, out, other))


def _loss_of_its_own(session: Session, out: np.ndarray, batch: Any, said: str) -> None:
    """A ``loss_fn`` that scores every output alike yet reaches trainable weights computes its loss from
    the model itself (a stored input run again, a method of the model): not a loss of the outputs the
    check passes it, which every probe of the targets rests on — a usage error, not a defect."""
    try:
        reads = session.loss_reads_weights(out, batch)
    except NotSupported:
        return
    if reads:  # ``said``: the evidence's statement, targets.ignores_outputs
        raise usage("loss_fn", "a loss of the outputs it is given, loss_fn(outputs, targets)",
                    fix=f"{said}, yet it reaches the model's trainable weights: it computes its loss from the model "
                        "itself (an input it stored, run again), so the check cannot score the outputs it passes. "
                        "Pass train_step= without loss_fn (a step that computes and returns its own loss), or make "
                        "loss_fn score its outputs argument")


def targets_of(session: Session, raw_x: Any, batch: Any, out: np.ndarray, task: str | None = None) -> Targets:
    """What the batch's targets are (pytest_mlcheck.targets.decide), the user's loss probed on
    candidate predictions for these targets, or for other targets of the same shape."""
    y = session.labels(batch)

    def loss_at(outputs: np.ndarray, targets: Any = None) -> float:
        if targets is None:
            return session.loss_of(outputs, batch)
        return loss_on_targets(session, raw_x, y, outputs, targets)

    targets = decide(y, out, loss_at, task, penalty=session.penalty())
    said = ignores_outputs(targets.problems)
    if said is not None:
        _loss_of_its_own(session, out, batch, said)
    if np.isnan(out).any() or (not np.isfinite(out).all() and not np.isfinite(loss_at(out))):
        # NaN outputs (or infinite ones the loss cannot take; a -inf masked logit it can) say nothing
        # of their form (logits or probabilities), so what the loss makes of candidate outputs is
        # moot: where the NaN comes from is the defect, and it is proven before training
        bad = int((~np.isfinite(out)).sum())
        targets.problems = diagnosis.inputs_not_finite(session.inputs(batch)) or [
            (C.OUTPUTS_NOT_FINITE, f"the model gives {bad} non-finite output value(s) for finite inputs")]
        return targets

    def reads(rtol: float, at: np.ndarray | None = None, *, drawn: bool = False) -> bool | None:
        """Whether the loss at ``out`` (or at the outputs ``at``: a trained model's, which no longer
        sit where a cross-entropy is blind to its targets; or, ``drawn``, at a seeded draw around
        ``out`` of at least unit scale: a head initialised to zeros gives a binary cross-entropy of
        log 2 whatever the targets) moves by more than ``rtol`` of itself when every target is
        replaced by the first sample's, or, where that leaves it, by the previous sample's (a loss
        that reads only the first sample's target, returned from inside the loop over the batch,
        reads the change); None where that says nothing (targets all alike, a loss that cannot be
        evaluated on them)."""
        alike = np.repeat(np.asarray(y)[:1], len(y), axis=0)
        if len(y) < 2 or (np.asarray(y) == alike).all():
            return None
        where = out if at is None else at
        if drawn and np.isfinite(out).all():
            scale = max(float(np.std(out)), 1.0)
            where = (out + np.random.default_rng(0).normal(0.0, scale, out.shape)).astype(np.float32)
        base = loss_at(where)
        if not np.isfinite(base):
            return None
        for other in (alike, np.roll(np.asarray(y), 1, axis=0)):
            moved = loss_at(where, other)
            if not np.isfinite(moved):
                return None
            if abs(moved - base) > rtol * max(abs(base), abs(moved), 1e-12):
                return True
        return False

    targets.reads = reads

    def shuffled(at: np.ndarray, draws: int) -> tuple[float, np.ndarray] | None:
        """The loss at the outputs ``at`` with the batch's own targets, and with the targets
        shuffled between samples by ``draws`` seeded permutations (outputs that carry what tells the
        samples' targets apart score worse on another sample's); None where the targets are all
        alike or the loss cannot be evaluated."""
        ya = np.asarray(y)
        if len(ya) < 2 or (ya == ya[:1]).all():
            return None
        rng = np.random.default_rng(0)
        own = loss_at(at)
        other = np.array([loss_at(at, ya[rng.permutation(len(ya))]) for _ in range(draws)])
        if not (np.isfinite(own) and np.isfinite(other).all()):
            return None
        return float(own), other

    targets.shuffled = shuffled
    if targets.channel_axis is not None and targets.task == "classification" and hasattr(raw_x, "shape"):
        _prefixes(targets, as_numpy(raw_x), loss_at, tuple(out.shape))

    def at_zero() -> np.ndarray | None:
        try:
            return session.predict(session.prepare(np.zeros_like(as_numpy(raw_x)), y))
        except Exception:  # inputs that do not zero as one array (dicts, token lists): no look
            return None

    if not targets.problems:
        try:
            targets.problems += broadcast_in_loss(session.loss_broadcasts(out, batch), len(out))
        except NotSupported:  # an adapter with no loss to look inside
            pass
    if not targets.problems:
        targets.problems += always_one(out, at_zero)
    if not targets.problems and targets.form == "probabilities":
        # a look the values cannot give: what a traced training step makes of the same outputs
        targets.problems += logits_read(out, lambda: session.traced_loss(batch), lambda: session.loss_of(out, batch))
    if targets.problems and said is None and _reads_no_targets(reads):
        # every problem above was read from candidates built from the targets, which a loss that never
        # reads them (a reconstruction handed dummy labels) scores for their outputs alone: moot
        targets.problems, targets.unread = [], True
        targets.encoding += ", which the loss never reads (it stays put when they change)"
    return targets


def _reads_no_targets(reads: Callable[..., bool | None]) -> bool:
    """Whether the loss stays put, at the untrained outputs and at a seeded draw around them (a zero
    head is blind to its targets at 0), when every target is replaced by the first or the previous
    sample's: two to four loss evaluations, asked only where the targets showed a problem."""
    return reads(UNREAD_RTOL) is False and reads(UNREAD_RTOL, drawn=True) is False


def _prefixes(targets: Targets, x: np.ndarray, loss_at: Callable[[np.ndarray], float], shape: tuple) -> None:
    """Token targets whose samples share a prefix and go on differently: those positions are not
    demanded, and the floor is the loss of the best left-to-right prediction (targets.causal_floor)
    where that is above the floor of every position right."""
    groups = prefix_groups(x, targets.ids)
    conflicts = None if groups is None else prefix_conflicts(groups, targets.ids)
    if conflicts is None:
        return
    targets.undetermined = conflicts
    targets.encoding += (f", {int(conflicts.sum())} of {conflicts.size} positions where samples with the same "
                         "inputs so far go on to different targets (not demanded)")
    floor = causal_floor(targets, groups, loss_at, shape)
    if np.isfinite(floor) and (not np.isfinite(targets.floor) or floor > targets.floor):
        targets.floor = floor


def length_problem(raws: list[tuple[Any, Any]]) -> list[Evidence]:
    """x and y of one batch must hold the same number of samples."""
    for i, (x, y) in enumerate(raws):
        nx, ny = sample_count(x), sample_count(y)
        if nx != ny:
            where = "the batch" if len(raws) == 1 else f"batch {i}"
            shape = tuple(getattr(x, "shape", ()))
            # a sequence-first tensor (seq_len, batch, ...) holds the samples along dim 1
            seq_first = (f"; x {shape} holds {ny} along dim 1: if it is sequence-first, the checks read dim 0 as "
                         "the batch — hand them batch-first inputs and transpose inside the model (or a wrapper)"
                         if len(shape) >= 2 and shape[1] == ny else "")
            return [(C.XY_LENGTH_MISMATCH, f"{where} has {nx} inputs but {ny} targets{seq_first}")]
    return []


def checked_batch(run: CheckRun, batch: Any) -> tuple[Any, Any]:
    """One (x, y) pair from ``batch``; a failed check when x and y differ in length."""
    raw = one_batch(batch)
    mismatch = length_problem([raw])
    if mismatch:
        raise run.fail("x and y hold different numbers of samples", mismatch)
    return raw


def finite_samples(x: np.ndarray | None, n: int) -> np.ndarray:
    """Per sample, whether all its inputs are finite; True throughout when ``x`` is not one float
    array of ``n`` samples (integers and structured inputs cannot hold NaN)."""
    if x is None or len(x) != n or not np.issubdtype(x.dtype, np.floating):
        return np.ones(n, dtype=bool)
    return np.isfinite(x.reshape(n, -1)).all(axis=1)


def require_trainable(run: CheckRun, session: Session, batch: Any = None) -> None:
    """A failed check when nothing in the model can train. A model that creates its weights on its
    first call (a Keras layer marked built by ``model.build`` before its sublayers ran) is run once
    on ``batch`` before it is counted again."""
    if session.trainable_count() == 0 and batch is not None:
        session.predict(batch)
    if session.trainable_count() == 0:
        raise run.fail("the model has no trainable parameters",
                       [(C.PARAMS_NOT_UPDATED, "every parameter is frozen (requires_grad=False / trainable=False)")])


def stochastic_training(session: Session, batch: Any) -> bool:
    """Whether two training-mode forward passes on one prepared batch differ (dropout and the like)."""
    return not np.array_equal(session.training_outputs(batch), session.training_outputs(batch))


def dropped_in_training(session: Session, raw: tuple[Any, Any]) -> list[Evidence]:
    """:func:`diagnosis.training_path_drops_inputs` on ``session``, a fresh copy as given that this
    look may change: one training-mode pass, then the eval-mode pass with normalisation statistics
    set from the batch (an untrained network's placeholder statistics leave eval-mode rows barely
    apart). None where a pass raises: the look is evidence beside a failure, not a verdict."""
    try:
        batch = session.prepare(*raw)
        training = session.training_outputs(batch)
        session.recalibrate(batch)
        return diagnosis.training_path_drops_inputs(training, session.predict(batch))
    except Exception:
        return []


def scaled_inputs(session: Session, prepared: Any, x: np.ndarray | None) -> np.ndarray | None:
    """The inputs whose scale a check may blame: ``x`` when its scale reaches a weighted sum, else
    None — the model's first weighted layer looks them up (token or category ids, whatever their
    dtype: their scale means nothing), or every weighted layer receives values at unit scale (a
    BatchNorm, a rescaling or a normalisation layer in front). Every layer is read, not only the
    first: a wide-and-deep model feeds its raw wide path straight to the head. The model is asked
    (one training-mode forward pass on ``session``) only when ``x`` is off unit scale."""
    if x is None or not diagnosis.input_scale(x):
        return x
    try:
        seen = session.weighted_inputs(prepared)
    except (UserCodeError, NotSupported):
        return x
    if not seen:
        return x
    if seen[0][2]:
        return None
    # off scale the same way as x (both above unit scale, or both scaled twice): float node ids that
    # index a table a GCN reads are not what its hidden layer's values under 0.022 say
    below = diagnosis.scaled_twice(x)
    reached = any(not lookup and diagnosis.input_scale(value) and diagnosis.scaled_twice(value) == below
                  for _, value, lookup in seen)
    return x if reached else None


def perturbed(x: np.ndarray, j: int, rng: np.random.Generator, *, within: bool = False) -> np.ndarray | None:
    """``x`` with sample ``j`` changed: noise for floats, another distinct sample for whole numbers
    (integers, or floats that are all whole: ids an embedding may read, where noise is no id). With
    ``within``, another distinct sample whatever the values: an input the data could hold, which keeps
    the invariants every sample shares (series normalised to mean 0 stay so; noise would not)."""
    changed = x.copy()
    finite = x[np.isfinite(x)] if np.issubdtype(x.dtype, np.floating) else x
    if np.issubdtype(x.dtype, np.floating) and not within and not (
            finite.size and np.array_equal(finite, np.round(finite))):
        scale = float(np.std(finite)) if finite.size else 1.0
        changed[j] = x[j] + rng.normal(0.0, scale or 1.0, size=x[j].shape).astype(x.dtype)
        return changed
    start = len(x) // 2 if within else 1  # half a batch away: a batch sorted by class keeps classes together
    for k in range(len(x) - 1):
        other = x[(j + start + k) % len(x)]
        if not np.array_equal(other, x[j]):
            changed[j] = other
            return changed
    return None


def error_signal(session: Any, prepared: Any) -> float | None:
    """The loss's gradient w.r.t. the outputs, as an RMS norm per sample (a cross-entropy's is at most
    √2), estimated from the user's loss by central differences along 32 seeded random directions
    (E[(∇·u)²] = |∇|² for Gaussian u). None when the loss cannot be evaluated on given outputs."""
    try:
        outputs = np.asarray(session.predict(prepared), np.float64)
    except Exception:
        return None
    if outputs.ndim == 0 or not outputs.size or not np.isfinite(outputs).all():
        return None
    base = session.loss_of(outputs, prepared)
    if not np.isfinite(base):
        return None
    rng = np.random.default_rng(0)  # own generator: no global state is touched
    eps = 1e-3 * max(1.0, float(np.sqrt(np.mean(np.square(outputs)))))
    squares = []
    for _ in range(32):  # the estimate's relative spread is ~1/√64
        u = rng.standard_normal(outputs.shape)
        up, down = session.loss_of(outputs + eps * u, prepared), session.loss_of(outputs - eps * u, prepared)
        if not (np.isfinite(up) and np.isfinite(down)):
            return None
        squares.append(((up - down) / (2 * eps)) ** 2)
    return float(np.sqrt(np.mean(squares) * outputs.shape[0]))


FLAT_AT_OUTPUTS = "the loss is flat at the model's outputs"  # the opening of :func:`flat_at_outputs`' evidence


def flat_at_outputs(session: Session, prepared: Any, value: float, where: str) -> list[Evidence]:
    """``no_gradient`` where the loss (``value``) is flat at the model's outputs: its gradient there
    (:func:`error_signal`) is exactly 0, so no parameter gets anything from it, whatever the layers do
    (a hinge or ReLU of a margin that is always -inf, or always met; a max that always picks a
    masked entry) — the cause the targets' probe gives a loss read through a step, whose gradient is
    0 wherever it is defined, read here at the outputs the model gives. ``where``: what showed the
    flatness, for the message."""
    if not np.isfinite(value) or error_signal(session, prepared) != 0.0:
        return []
    return [(C.NO_GRADIENT, f"{FLAT_AT_OUTPUTS} ({fmt(value)}, and its gradient there is 0 "
                          f"along 32 random directions){where}: no parameter gets anything to learn from it — a "
                          "loss clamped where the model is (a hinge or ReLU of a margin that is always -inf, or "
                          "always met; a max that always picks a masked entry, e.g. a diagonal filled with -inf "
                          "before the distances are taken)")]
