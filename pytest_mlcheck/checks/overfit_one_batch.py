"""overfit_one_batch: a correct model and step can memorise one small batch."""

from __future__ import annotations

from typing import Any, Callable, Literal

from pytest_mlcheck.checks.common import (
    check_fraction, check_steps, checked_batch, infer_task, label_problem, predictions_right, require_trainable,
)
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec, check
from pytest_mlcheck.checks.training import failure_causes, lr_retry, train_loop
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.thresholds import OVERFIT_MAX_STEPS, OVERFIT_MIN_DROP


@check()
def overfit_one_batch(
    run: CheckRun,
    model: Any,
    batch: Any,
    *,
    loss_fn: Callable | None = None,
    optimizer: Any = None,
    train_step: Callable | None = None,
    output: Any = None,
    task: Literal["classification", "binary", "regression"] | None = None,
    steps: int | None = None,
    min_drop: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    max_seconds: float | None = None,
) -> CheckResult:
    """Train a copy on one batch until it memorises it: for classification every sample is
    predicted right **and** the loss fell by ``min_drop`` of its start (default 0.9); otherwise
    the loss criterion alone. Stops at the first step the criterion holds, or after ``steps``."""
    max_steps = check_steps(steps) or OVERFIT_MAX_STEPS
    drop = OVERFIT_MIN_DROP if min_drop is None else check_fraction(min_drop, "min_drop")
    settings = run.settings
    spec = TrainSpec(loss_fn=loss_fn, optimizer=optimizer, train_step=train_step, output=output)
    raw = checked_batch(run, batch)
    with run.session(model, spec, explain=raw) as session:
        prepared = session.prepare(*raw)
        y = session.labels(prepared)
        out0 = session.predict(prepared)
        kind = infer_task(y, out0, task)
        run.result.figures["samples"] = int(len(y))
        run.result.figures["task"] = kind
        if kind == "classification":
            problems = label_problem(y, out0)
            if problems:
                raise run.fail("the labels cannot be predicted by this head", problems)
        require_trainable(run, session)
        run.result.notes.extend(session.optimizer_notes)

        def criterion(s: Any, p: Any) -> Any:
            def done(losses: list[float], step: int) -> bool:
                if losses[-1] > (1 - drop) * losses[0]:
                    return False
                if kind == "regression":
                    return True
                return bool(predictions_right(y, s.predict(p), kind).all())
            return done

        losses, ok, why = train_loop(session, [prepared], max_steps, run, criterion(session, prepared))
        run.record_losses(losses)
        uncovered = session.uncovered_parameters()
        if ok and not uncovered:
            run.result.figures["loss_ratio"] = losses[-1] / losses[0] if losses[0] else 0.0
            return run.passed()
        if why == "time":  # no probes past the cap: they would only run into it again
            raise run.time_up(f"after {len(losses)} of {max_steps} steps without fitting one batch of {len(y)}")
        outputs = session.predict(prepared) if why != "nonfinite" else None
        if kind != "regression" and outputs is not None:
            right = predictions_right(y, outputs, kind)
            run.figure("accuracy", float(right.mean()), f"accuracy: {int(right.sum())}/{len(right)} predicted right")
        run.figure("min_drop", drop, "criterion: " + f"loss ≤ {1 - drop:g} × start"
                   + ("" if kind == "regression" else " and every sample right"))

        causes = failure_causes(
            model=model, settings=settings, spec=spec, session=session, raw_batch=raw, first=prepared,
            losses=losses, initial_outputs=out0, task=kind,
            retry=lr_retry(model, settings, spec, [raw], max_steps, run, within=session), notes=run.result.notes,
        )
        raise run.fail(_headline(ok, why, losses, max_steps, run, uncovered), causes)


def _headline(ok: bool, why: str, losses: list[float], max_steps: int, run: CheckRun, uncovered: list[str]) -> str:
    n = run.result.figures.get("samples")
    if ok and uncovered:
        return f"the loss fell, but {len(uncovered)} trainable parameter(s) were never trained"
    if why == "nonfinite":
        return f"the loss became non-finite at step {len(losses)} while fitting one batch of {n}"
    return f"could not fit one batch of {n} samples in {max_steps} steps (loss {fmt(losses[0])} → {fmt(losses[-1])})"

