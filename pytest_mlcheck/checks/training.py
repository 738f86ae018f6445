"""The training loop both training checks run, and the probes run when it fails."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck import diagnosis
from pytest_mlcheck.causes import Evidence
from pytest_mlcheck.checks.common import open_session
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec
from pytest_mlcheck.errors import UserCodeError
from pytest_mlcheck.settings import Settings
from pytest_mlcheck.targets import Targets, head_cannot_reach
from pytest_mlcheck.thresholds import PROBE_MAX_STEPS, PROBE_TARGET

if TYPE_CHECKING:
    from pytest_mlcheck.backends.base import Session


def train_loop(
    session: Any,
    batches: list[Any],
    steps: int,
    run: CheckRun | None,
    done: Callable[[list[float], int], bool] | None = None,
) -> tuple[list[float], bool, str]:
    """Train up to ``steps`` steps cycling over ``batches``; stop when ``done`` holds.

    Returns the losses, whether ``done`` held, and why it stopped ('done', 'nonfinite', 'time', 'steps').
    """
    losses: list[float] = []
    for step in range(steps):
        loss = session.train_step(batches[step % len(batches)])
        losses.append(loss)
        if not np.isfinite(loss):
            return losses, False, "nonfinite"
        if done is not None and done(losses, step):
            return losses, True, "done"
        if run is not None and run.out_of_time():
            return losses, False, "time"
    return losses, False, "steps"


def effective_floor(start: float, floor: float) -> float:
    """The floor progress is measured against: the loss's own floor when it was found below the
    start, else 0 (a loss with no known floor) or the start itself (a start already at the floor)."""
    if not np.isfinite(floor):
        return 0.0 if start > 0 else start - abs(start)
    return min(floor, start)


def progress(start: float, now: float, floor: float) -> float:
    """How far the loss came from ``start`` toward its ``floor``: 0 not at all, 1 all the way."""
    low = effective_floor(start, floor)
    gap = start - low
    if gap <= 0:
        return 1.0 if now <= start else 0.0
    return (start - now) / gap


def lr_retry(model: Any, settings: Settings, spec: TrainSpec, raws: list[tuple[Any, Any]], steps: int,
             run: CheckRun, *, within: Session) -> Callable[..., tuple[bool, float]]:
    """A probe: train a fresh copy with the learning rate times ``factor`` (and, with
    ``quiet``, train-mode noise off; with ``no_decay``, weight decay off) for at most
    PROBE_MAX_STEPS; it succeeds when the loss reaches PROBE_TARGET of its start while staying
    finite (stops there)."""

    def retry(factor: float = 1.0, *, quiet: bool = False, no_decay: bool = False) -> tuple[bool, float]:
        probe = open_session(model, settings, spec, within=within)
        try:
            batches = [probe.prepare(*raw) for raw in raws]
            probe.scale_lr(factor)
            if quiet:
                probe.train_without_noise()
            if no_decay:
                probe.drop_weight_decay()
            losses, ok, why = train_loop(probe, batches, min(steps, PROBE_MAX_STEPS), run,
                                         lambda ls, _: ls[-1] <= PROBE_TARGET * ls[0])
        except Exception:
            return False, float("nan")
        finally:
            probe.close()
        if why == "time":  # a probe cut short would name a different cause, or none: no verdict instead
            raise run.time_up(f"while probing the cause (a retry at lr×{factor:g} after {len(losses)} steps)")
        return ok, losses[-1]

    return retry


def failure_causes(
    *,
    model: Any,
    settings: Settings,
    spec: TrainSpec,
    session: Any,
    raw_batch: tuple[Any, Any],
    first: Any,
    losses: list[float],
    initial_outputs: np.ndarray | None,
    targets: Targets,
    retry: Callable[..., tuple[bool, float]] | None,
    notes: list[str],
) -> list[Evidence]:
    """Run the probes, decisive evidence first; the lr retries only when nothing decisive fired."""
    x = session.inputs(first)

    def fresh() -> Any:
        return open_session(model, settings, spec, within=session)

    task = targets.task
    causes: list[Evidence] = []
    causes += diagnosis.inputs_not_finite(x)
    if task == "regression" and initial_outputs is not None:
        causes += head_cannot_reach(session.labels(first), [initial_outputs, _final_outputs(session, first)])
    if spec.train_step is not None:
        causes += diagnosis.missing_zero_grad(fresh, lambda s: s.prepare(*raw_batch), notes)
    if initial_outputs is not None:
        found = diagnosis.output_activation(initial_outputs, task)
        if found and found[0][0] == C.LOSS_MISMATCH and not _shift_invariant(session, targets, first):
            # probabilities into a loss that expects them: no mismatch, unless they were squashed twice
            found = diagnosis.softmax_twice(_final_outputs(session, first))
        causes += found
        width = initial_outputs.reshape(len(initial_outputs), -1).shape[1]
        if task == "classification" and not causes and targets.ids is not None and width >= 2 \
                and targets.ids.max() < width:
            y = targets.ids
            perfect = np.full((len(y), width), -5.0, dtype=np.float32)
            perfect[np.arange(len(y)), y] = 5.0
            perfect = perfect.reshape(initial_outputs.shape)
            causes += diagnosis.loss_rewards_classes(
                session.loss_of(perfect, first), session.loss_of(np.zeros_like(perfect), first))
            if not causes:
                causes += diagnosis.loss_expects_probabilities(
                    initial_outputs, session.loss_of(initial_outputs, first),
                    session.loss_of(initial_outputs + 3.0, first))
    causes += diagnosis.uncovered(session.uncovered_parameters())
    if not causes and retry is not None:
        causes += diagnosis.regularization(losses, session.weight_decay(),
                                           lambda: _noisy(fresh, raw_batch), retry)
    if not causes:
        causes += diagnosis.learning_rate(losses, retry)
    causes += diagnosis.input_scale(x)
    return causes


def _shift_invariant(session: Any, targets: Targets, batch: Any) -> bool:
    """A cross-entropy on logits ignores a constant added to every output of a row; a loss on
    probabilities does not. Tried on confident, correct probabilities, which a shift would
    flatten (near-uniform outputs would hide the difference)."""
    width = targets.width
    if targets.task != "classification" or targets.ids is None:
        return True
    y = targets.ids
    if width < 2 or y.min() < 0 or y.max() >= width:
        return True
    confident = np.full((len(y), width), 0.1 / (width - 1), dtype=np.float32)
    confident[np.arange(len(y)), y] = 0.9
    return diagnosis.ignores_shift(session.loss_of(confident, batch), session.loss_of(confident + 3.0, batch))


def _final_outputs(session: Any, batch: Any) -> np.ndarray | None:
    try:
        return session.predict(batch)
    except Exception:
        return None


def _noisy(fresh: Callable[[], Any], raw_batch: tuple[Any, Any]) -> bool:
    """Whether the model's training-mode forward pass is random (dropout and the like)."""
    session = fresh()
    try:
        return session.stochastic_training(session.prepare(*raw_batch))
    except Exception:
        return False
    finally:
        session.close()


def error_causes(err: UserCodeError, session: Any, raw_batch: tuple[Any, Any]) -> list[Evidence]:
    """Causes for an exception the user's code raised during a check."""
    try:
        x = session.inputs(session.prepare(*raw_batch))
    except Exception:
        x = None
    causes: list[Evidence] = []
    text = str(err.exc)
    if "device" in text and ("expected" in text.lower() or "same device" in text):
        causes.append((C.DEVICE_MISMATCH, f"tensors on different devices meet in {err.stage}: "
                                          f"{text.splitlines()[0]} (a device hard-coded in the model or the loss)"))
    elif x is not None and np.issubdtype(x.dtype, np.integer) and err.stage == "the model's forward pass":
        causes.append((C.INPUT_DTYPE, f"x is {x.dtype} but the model computes in floating point"))
    elif err.stage == "the model's forward pass":
        shape = getattr(x, "shape", None)
        causes.append((C.INPUT_SHAPE, f"the batch (x of shape {shape}) does not fit the model: {err.exc}"))
    if "does not require grad" in str(err.exc) or "grad_fn" in str(err.exc):
        causes.append((C.NO_GRADIENT, "the loss has no path back to the parameters (detached, .item() or numpy)"))
    return causes
