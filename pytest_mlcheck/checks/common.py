"""What several checks share: opening a session, argument validation, the task, the labels."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck.backends import backend_for
from pytest_mlcheck.causes import Evidence
from pytest_mlcheck.data import one_batch, sample_count
from pytest_mlcheck.errors import usage
from pytest_mlcheck.settings import Settings

if TYPE_CHECKING:
    from pytest_mlcheck.backends.base import Session
    from pytest_mlcheck.checks.runner import CheckRun, TrainSpec

TASKS = ("classification", "binary", "regression")


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


def infer_task(y: np.ndarray, out: np.ndarray, task: str | None) -> str:
    """classification (C-wide head, integer ids), binary (one unit, 0/1 targets) or regression."""
    if task is not None:
        if task not in TASKS:
            raise usage("task", f"one of {', '.join(map(repr, TASKS))} or None (inferred)", task)
        return task
    integer = np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_
    if not integer:
        return "regression"
    width = out.shape[1] if out.ndim == 2 else 1
    if y.ndim == 1 and out.ndim == 2 and width >= 2:
        return "classification"
    if set(np.unique(y).tolist()) <= {0, 1} and width == 1:
        return "binary"
    return "classification"


def length_problem(raws: list[tuple[Any, Any]]) -> list[Evidence]:
    """x and y of one batch must hold the same number of samples."""
    for i, (x, y) in enumerate(raws):
        nx, ny = sample_count(x), sample_count(y)
        if nx != ny:
            where = "the batch" if len(raws) == 1 else f"batch {i}"
            return [(C.XY_LENGTH_MISMATCH, f"{where} has {nx} inputs but {ny} targets")]
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


def require_trainable(run: CheckRun, session: Session) -> None:
    """A failed check when nothing in the model can train."""
    if session.trainable_count() == 0:
        raise run.fail("the model has no trainable parameters",
                       [(C.PARAMS_NOT_UPDATED, "every parameter is frozen (requires_grad=False / trainable=False)")])


def label_problem(y: np.ndarray, out: np.ndarray) -> list[Evidence]:
    """Causes that make classification impossible before any training: labels outside the head."""
    width = out.shape[1] if out.ndim == 2 else 1
    lo, hi = int(y.min()), int(y.max())
    causes: list[Evidence] = []
    if y.ndim != 1:
        causes.append((C.LABELS_INVALID, f"class-id targets should be one per sample, got shape {y.shape}"))
    if hi >= width:
        causes.append((C.HEAD_WIDTH, f"labels reach {hi} but the head has {width} output(s) (classes 0..{width - 1})"))
    if lo < 0 or hi >= width:
        causes.append((C.LABELS_INVALID, f"labels span {lo}..{hi}, outside the head's 0..{width - 1}"))
    return causes


def predictions_right(y: np.ndarray, out: np.ndarray, task: str) -> np.ndarray:
    """Per-sample correctness for classification tasks."""
    if task == "classification":
        return out.reshape(len(out), -1).argmax(axis=1) == y.reshape(-1)
    flat = out.reshape(-1)
    threshold = 0.5 if flat.min() >= 0 and flat.max() <= 1 else 0.0
    return (flat > threshold) == (y.reshape(-1) > 0.5)

