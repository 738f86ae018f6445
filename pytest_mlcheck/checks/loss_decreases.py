"""loss_decreases: a short run over real batches shows a robust downward trend."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from pytest_mlcheck.checks.common import check_fraction, check_steps, infer_task, length_problem, require_trainable
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec, check
from pytest_mlcheck.checks.training import failure_causes, lr_retry, train_loop
from pytest_mlcheck.data import batches_upto
from pytest_mlcheck.errors import usage
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.thresholds import DECREASE_MIN_DROP, DECREASE_MIN_STEPS, DECREASE_STEPS


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


@check()
def loss_decreases(
    run: CheckRun,
    model: Any,
    batches: Any,
    *,
    loss_fn: Callable | None = None,
    optimizer: Any = None,
    train_step: Callable | None = None,
    output: Any = None,
    steps: int | None = None,
    min_drop: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    max_seconds: float | None = None,
) -> CheckResult:
    """Train a copy for ``steps`` steps over the batches (cycled); the median loss of the last
    quarter must be at least ``min_drop`` below the untrained model's loss, and every loss finite."""
    n_steps = check_steps(steps) or DECREASE_STEPS
    if n_steps < DECREASE_MIN_STEPS:
        raise usage("steps", f"at least {DECREASE_MIN_STEPS} steps for loss_decreases to see a trend", n_steps)
    threshold = DECREASE_MIN_DROP if min_drop is None else check_fraction(min_drop, "min_drop")
    settings = run.settings
    spec = TrainSpec(loss_fn=loss_fn, optimizer=optimizer, train_step=train_step, output=output)
    raws = batches_upto(batches, n_steps)
    mismatch = length_problem(raws)
    if mismatch:
        raise run.fail("x and y hold different numbers of samples", mismatch)
    with run.session(model, spec, explain=raws[0]) as session:
        prepared = [session.prepare(*raw) for raw in raws]
        run.result.figures["batches"] = len(prepared)
        run.result.notes.extend(session.optimizer_notes)
        require_trainable(run, session)
        out0 = session.predict(prepared[0])
        kind = infer_task(session.labels(prepared[0]), out0, None)
        baseline = _initial_loss(session, prepared)
        losses, _, why = train_loop(session, prepared, n_steps, run)
        run.record_losses(losses)
        uncovered = session.uncovered_parameters()
        if not np.isfinite(baseline):
            baseline = losses[0]
        run.result.figures["loss_at_init"] = baseline
        if why == "steps":
            first, last, drop = trend(losses, baseline)
            run.result.figures["last_quarter_median"] = last
            run.figure("drop", drop, f"drop: {drop:.1%} (needed ≥ {threshold:.0%})")
            run.figure("min_drop", threshold, "")
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


def _headline(why: str, losses: list[float], threshold: float, run: CheckRun, uncovered: list[str]) -> str:
    if why == "nonfinite":
        return f"the loss became non-finite at step {len(losses)}"
    first, last, drop = trend(losses, run.result.figures.get("loss_at_init", losses[0]))
    if drop >= threshold and uncovered:
        return f"the loss fell, but {len(uncovered)} trainable parameter(s) were never trained"
    return (f"the loss did not fall by {threshold:.0%} over {len(losses)} steps "
            f"(init {fmt(first)} → last-quarter median {fmt(last)}, {drop:+.1%})")

