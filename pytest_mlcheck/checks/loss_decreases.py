"""loss_decreases: a short run over real batches shows a robust downward trend."""

from __future__ import annotations

from typing import Any

import numpy as np

from pytest_mlcheck.checks.common import (
    CheckRun, require_trainable, TrainSpec, check_fraction, check_steps, infer_task, length_problem, open_session, user_code_fails,
)
from pytest_mlcheck.checks.training import error_causes, failure_causes, lr_retry, train_loop
from pytest_mlcheck.data import batches_upto
from pytest_mlcheck.errors import MlcheckUsageError
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.settings import DECREASE_MIN_DROP, DECREASE_STEPS, Settings


def trend(losses: list[float], baseline: float) -> tuple[float, float, float]:
    """The loss at initialisation, the median of the curve's last quarter, and the relative drop.

    The baseline is the untrained model's loss, not the curve's first quarter: a learning rate
    that blows the loss up in the first steps must not count its recovery as progress."""
    window = max(3, len(losses) // 4)
    last = float(np.median(losses[-window:]))
    drop = (baseline - last) / abs(baseline) if baseline else 0.0
    return baseline, last, drop


def _initial_loss(session: Any, prepared: list[Any]) -> float:
    """Mean loss of the untrained copy over up to five batches, in train mode, without updates."""
    values = [session.loss(b, training=True) for b in prepared[:5]]
    return float(np.mean(values))


def loss_decreases(
    model: Any,
    batches: Any,
    *,
    spec: TrainSpec,
    settings: Settings,
    steps: int | None = None,
    min_drop: float | None = None,
) -> CheckResult:
    n_steps = check_steps(steps) or DECREASE_STEPS
    if n_steps < 8:
        raise MlcheckUsageError(f"steps: loss_decreases needs at least 8 steps to see a trend, got {n_steps}")
    threshold = DECREASE_MIN_DROP if min_drop is None else check_fraction(min_drop, "min_drop")
    run = CheckRun("loss_decreases", settings)
    session = open_session(model, settings, spec)
    try:
        raws = batches_upto(batches, n_steps)
        mismatch = length_problem(raws)
        if mismatch:
            raise run.fail("x and y hold different numbers of samples", mismatch)
        prepared = [session.prepare(*raw) for raw in raws]
        run.result.figures["batches"] = len(prepared)
        run.result.notes.extend(session.optimizer_notes)
        with user_code_fails(run, lambda err: error_causes(err, session, raws[0])):
            require_trainable(run, session)
            out0 = session.predict(prepared[0])
            kind = infer_task(session.labels(prepared[0]), out0, None)
            baseline = _initial_loss(session, prepared)
            losses, _, why = train_loop(session, prepared, n_steps, run)
            run.record_losses(losses)
            uncovered = session.uncovered_parameters()
            if not np.isfinite(baseline):
                baseline = losses[0]
            run.result.figures["loss at init"] = baseline
            if why == "steps":
                first, last, drop = trend(losses, baseline)
                run.result.figures["last-quarter median"] = last
                run.result.figures["drop"] = f"{drop:.1%} (needed ≥ {threshold:.0%})"
                if drop >= threshold and not uncovered:
                    return run.passed()

            if why == "time":  # no probes past the cap: they would only run into it again
                raise run.time_up(f"after {len(losses)} of {n_steps} steps")
            causes = failure_causes(
                model=model, settings=settings, spec=spec, session=session, raw_batch=raws[0], first=prepared[0],
                losses=losses, initial_outputs=out0, task=kind,
                retry=lr_retry(model, settings, spec, raws, n_steps, run, within=session), notes=run.result.notes,
            )
            raise run.fail(_headline(why, losses, threshold, run, uncovered), causes)
    finally:
        session.close()


def _headline(why: str, losses: list[float], threshold: float, run: CheckRun, uncovered: list[str]) -> str:
    if why == "nonfinite":
        return f"the loss became non-finite at step {len(losses)}"
    first, last, drop = trend(losses, run.result.figures.get("loss at init", losses[0]))
    if drop >= threshold and uncovered:
        return f"the loss fell, but {len(uncovered)} trainable parameter(s) were never trained"
    return (f"the loss did not fall by {threshold:.0%} over {len(losses)} steps "
            f"(init {fmt(first)} → last-quarter median {fmt(last)}, {drop:+.1%})")

