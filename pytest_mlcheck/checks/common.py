"""What the training checks share: opening a session, the clock, the task, failing with figures."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import numpy as np

from pytest_mlcheck.backends import backend_for
from pytest_mlcheck.data import one_batch, sample_count
from pytest_mlcheck.errors import CheckFailed, MlcheckUsageError, UserCodeError
from pytest_mlcheck.report import CheckResult, failure_message
from pytest_mlcheck.settings import Settings

if TYPE_CHECKING:
    from pytest_mlcheck.backends.base import Session

TASKS = ("classification", "binary", "regression")


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    """How to train the copy: the user's loss, optimizer, own step and output selector."""

    loss_fn: Callable | None = None
    optimizer: Any = None
    train_step: Callable | None = None
    output: Any = None


class CheckRun:
    """One execution of a check: its clock, its result, and how it fails."""

    def __init__(self, check: str, settings: Settings):
        self.settings = settings
        self.result = CheckResult(check=check, device=settings.device, seed=settings.seed)
        self._t0 = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self._t0

    def out_of_time(self) -> bool:
        return self.elapsed() > self.settings.max_seconds

    def time_up(self, what: str) -> CheckFailed:
        """The failure for a check stopped at its time cap (checked between steps; no signals)."""
        return self.fail(f"stopped at the time cap ({self.settings.max_seconds:g}s) {what}; raise max_seconds "
                         "(--mlcheck-max-seconds, the marker or the call) or give a smaller model or batch")

    def record_losses(self, losses: Sequence[float]) -> None:
        self.result.losses = list(losses)
        self.result.steps = len(losses)
        if losses:
            self.result.start_loss = float(losses[0])
            self.result.end_loss = float(losses[-1])

    def fail(self, headline: str, causes: Sequence[tuple[str, str]] = ()) -> CheckFailed:
        self.result.passed = False
        self.result.seconds = self.elapsed()
        causes = list(causes)[:3]
        message = failure_message(self.result, headline, causes)
        return CheckFailed(message, causes=[c for c, _ in causes], result=self.result)

    def passed(self) -> CheckResult:
        self.result.passed = True
        self.result.seconds = self.elapsed()
        return self.result


def open_session(model: Any, settings: Settings, spec: TrainSpec, *, inference: bool = False,
                 within: Session | None = None) -> Session:
    """A copy of ``model`` on the settings' device; ``inference`` needs no loss or optimizer.
    ``within``: the check's own session, when this one is a probe opened inside it."""
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


@contextlib.contextmanager
def user_code_fails(run: CheckRun, probes: Callable[[UserCodeError], list[tuple[str, str]]] | None = None) -> Iterator[None]:
    """Turn an exception raised by the user's model, loss or step into a failed check."""
    try:
        yield
    except UserCodeError as err:
        causes = probes(err) if probes else []
        raise run.fail(f"{err}", causes) from err.exc


def check_steps(steps: Any, argument: str = "steps") -> int | None:
    if steps is None:
        return None
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise MlcheckUsageError(f"{argument}: expected a positive whole number of training steps, got {steps!r}")
    return int(steps)


def check_fraction(value: Any, argument: str) -> float:
    """A threshold strictly between 0 and 1, or a usage error naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise MlcheckUsageError(f"{argument}: expected a fraction between 0 and 1 (exclusive), got {value!r}")
    return float(value)


def check_count(value: Any, argument: str) -> int | None:
    """None, or a positive whole number (a class count), else a usage error naming the argument."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1):
        raise MlcheckUsageError(f"{argument}: expected a positive whole number, got {value!r}")
    return None if value is None else int(value)


def infer_task(y: np.ndarray, out: np.ndarray, task: str | None) -> str:
    """classification (C-wide head, integer ids), binary (one unit, 0/1 targets) or regression."""
    if task is not None:
        if task not in TASKS:
            raise MlcheckUsageError(f"task: expected one of {', '.join(TASKS)} or None (inferred), got {task!r}")
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


def length_problem(raws: list[tuple[Any, Any]]) -> list[tuple[str, str]]:
    """x and y of one batch must hold the same number of samples."""
    for i, (x, y) in enumerate(raws):
        nx, ny = sample_count(x), sample_count(y)
        if nx != ny:
            where = "the batch" if len(raws) == 1 else f"batch {i}"
            return [("xy_length_mismatch", f"{where} has {nx} inputs but {ny} targets")]
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


def require_trainable(run: CheckRun, session: Any) -> None:
    """A failed check when nothing in the model can train."""
    if session.trainable_count() == 0:
        raise run.fail("the model has no trainable parameters",
                       [("params_not_updated", "every parameter is frozen (requires_grad=False / trainable=False)")])


def label_problem(y: np.ndarray, out: np.ndarray) -> list[tuple[str, str]]:
    """Causes that make classification impossible before any training: labels outside the head."""
    width = out.shape[1] if out.ndim == 2 else 1
    lo, hi = int(y.min()), int(y.max())
    causes: list[tuple[str, str]] = []
    if y.ndim != 1:
        causes.append(("labels_invalid", f"class-id targets should be one per sample, got shape {y.shape}"))
    if hi >= width:
        causes.append(("head_width", f"labels reach {hi} but the head has {width} output(s) (classes 0..{width - 1})"))
    if lo < 0 or hi >= width:
        causes.append(("labels_invalid", f"labels span {lo}..{hi}, outside the head's 0..{width - 1}"))
    return causes


def predictions_right(y: np.ndarray, out: np.ndarray, task: str) -> np.ndarray:
    """Per-sample correctness for classification tasks."""
    if task == "classification":
        return out.reshape(len(out), -1).argmax(axis=1) == y.reshape(-1)
    flat = out.reshape(-1)
    threshold = 0.5 if flat.min() >= 0 and flat.max() <= 1 else 0.0
    return (flat > threshold) == (y.reshape(-1) > 0.5)


def is_finite(value: float) -> bool:
    return math.isfinite(value)
