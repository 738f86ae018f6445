"""loss_decreases: a short run over real batches shows a robust downward trend."""

from __future__ import annotations

from typing import Any, Callable, Literal, Sequence

import numpy as np

from pytest_mlcheck.checks.common import (
    check_fraction, check_steps, length_problem, open_session, require_trainable, targets_of,
)
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec, check
from pytest_mlcheck.checks.training import (
    ProbeLog, defect_proven, effective_floor, failure_causes, floor_source, lr_retry, passed_unless_proven,
    proven_before_extending, recovered_spike, train_loop,
)
from pytest_mlcheck.checks.horizon import horizon
from pytest_mlcheck.data import batches_upto
from pytest_mlcheck.errors import usage
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.thresholds import DECREASE_MIN_DROP, DECREASE_MIN_STEPS, DECREASE_STEPS, OVERFIT_EXTEND


def trend(losses: list[float], baseline: float, floor: float = float("nan"),
          at_init: Sequence[float] | None = None) -> tuple[float, float, float]:
    """The loss at initialisation, the median of the curve's last quarter, and the drop over that
    quarter (:func:`_drop`) as a fraction of the way from init to the loss's floor (0 when no floor
    is known). ``at_init``: the untrained copy's loss on each batch, indexed by the batch a step
    trained on (step i trains on batch i mod len), NaN where not measured; default: ``baseline``.

    The baseline is the untrained model's loss, not the curve's first quarter: a learning rate
    that blows the loss up in the first steps must not count its recovery as progress."""
    window = max(3, len(losses) // 4)
    last = float(np.median(losses[-window:]))
    if not np.isfinite(floor) and baseline < 0:
        return baseline, last, (baseline - last) / abs(baseline)
    drop = _drop(losses, at_init or [baseline], floor, window)
    return baseline, last, drop if baseline and drop is not None else 0.0


def _drop(losses: list[float], at_init: Sequence[float], floor: float, window: int) -> float | None:
    """How far the last ``window`` steps came, each batch's median loss there set against that
    batch's loss at init, summed over the batches as often as each was trained on: the mean loss
    over the same mix of batches, so batches of unequal difficulty neither read as a trend (one hard
    batch among easy ones) nor outvote the loss the optimiser lowers. None: no batch measured."""
    seen: dict[int, list[float]] = {}
    for i in range(max(0, len(losses) - window), len(losses)):
        if np.isfinite(at_init[i % len(at_init)]):
            seen.setdefault(i % len(at_init), []).append(losses[i])
    if not seen:
        return None
    came = sum(len(v) * (at_init[b] - float(np.median(v))) for b, v in seen.items())
    gap = sum(len(v) * (at_init[b] - effective_floor(at_init[b], floor)) for b, v in seen.items())
    if gap <= 0:
        return 1.0 if came >= 0 else 0.0
    return came / gap


def _on_course(losses: list[float], baseline: float, floor: float, threshold: float, budget: int,
               at_init: Sequence[float] | None = None) -> bool:
    """Whether a short run short of the threshold is still falling (its last quarter came further
    than the quarter before) at a pace that reaches the threshold within ``budget`` steps."""
    if not _falling(losses, baseline, floor, at_init):
        return False
    _, _, drop = trend(losses, baseline, floor, at_init)
    return bool(0 < drop < threshold and drop * budget / len(losses) >= threshold)


def _falling(losses: list[float], baseline: float, floor: float, at_init: Sequence[float] | None) -> bool:
    """Whether a finite run's last quarter came further than the quarter before it."""
    if len(losses) < DECREASE_MIN_STEPS or not np.isfinite(losses).all():
        return False
    window = max(2, len(losses) // 4)
    now, before = (_drop(part, at_init or [baseline], floor, window) for part in (losses, losses[:-window]))
    return now is not None and before is not None and now > before


def _losses_at_init(session: Any, prepared: list[Any], steps: int, fresh: Callable[[], Any] | None = None,
                    raws: list[tuple[Any, Any]] | None = None) -> list[float]:
    """The untrained copy's loss, in train mode and without updates, on the first five batches and
    on each batch the planned run's last two quarters train on (at most half of ``steps`` forward
    passes: a run over as many batches as steps needs both to tell whether it is still falling at its
    budget); NaN for the other batches. With ``fresh`` (a ``train_step`` of the user's,
    which may change the outputs before its loss: a sigmoid, a scale), the step's own loss on a fresh
    copy at lr 0 of each of those ``raws``: one batch's loss is no baseline for many."""
    count = len(prepared)
    # the last two quarters: whether the run is still falling at its budget compares them (_falling)
    wanted = set(range(min(5, count))) | {i % count for i in range(max(0, steps - 2 * max(3, steps // 4)), steps)}
    if fresh is None or raws is None:
        return [float(session.loss(b, training=True)) if i in wanted else float("nan")
                for i, b in enumerate(prepared)]
    probe = fresh()
    try:
        probe.scale_lr(0.0)
        return [float(probe.train_step(probe.prepare(*raw))) if i in wanted else float("nan")
                for i, raw in enumerate(raws)]
    finally:
        probe.close()


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
    task: Literal["classification", "binary", "multilabel", "regression"] | None = None,
    steps: int | None = None,
    min_drop: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    max_seconds: float | None = None,
) -> CheckResult:
    """Train a copy for ``steps`` steps over the batches (cycled); the median loss of the last
    quarter must have come at least ``min_drop`` of the way from the untrained model's loss to the
    loss's floor (its value on perfect predictions of these batches), and every loss is finite.
    ``task`` overrides what the targets are taken to be."""
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
        require_trainable(run, session, prepared[0])
        out0 = session.predict(prepared[0])
        targets = targets_of(session, raws[0][0], prepared[0], out0, task)
        targets.record(run)
        if targets.problems:
            raise run.fail(targets.headline, targets.problems)
        floors = [targets.floor] + [targets_of(session, raw[0], b, session.predict(b), targets.task).floor
                                    for raw, b in zip(raws[1:5], prepared[1:5])]
        floor = float(np.mean(floors))
        step_copy = lambda: open_session(model, settings, spec, within=session)  # noqa: E731
        at_init = _losses_at_init(session, prepared, n_steps) if train_step is None else _losses_at_init(
            session, prepared, n_steps, step_copy, raws)
        if train_step is None and not np.isfinite(at_init).any():
            # no loss to evaluate on given outputs (a Keras train_step override with a loss of its own):
            # the step's own loss on a fresh copy at lr 0, as for a train_step= of the user's
            at_init = _losses_at_init(session, prepared, n_steps, step_copy, raws)
        if not np.isfinite(at_init).any():
            at_init = []  # nothing measured: the run's first loss is the baseline
        baseline = float(np.mean(at_init[:5])) if at_init else float("nan")
        losses, _, why = train_loop(session, prepared, n_steps, run)
        if not np.isfinite(baseline):
            baseline = losses[0]
        # slow but correct is no defect: a curve on course to the threshold within the extended
        # budget trains on, cycling the batches where it stopped
        cap = OVERFIT_EXTEND * n_steps
        on_course = why == "steps" and _on_course(losses, baseline, floor, threshold, cap, at_init)
        slow = on_course or (why == "steps" and _falling(losses, baseline, floor, at_init)
                             and 0 < trend(losses, baseline, floor, at_init)[2] < threshold)
        proven = slow and defect_proven(model, settings, spec, session, raws[0], prepared[0], targets)
        extend = on_course and not proven
        # off course by its own pace (a plateau before the drop): a retry at a larger rate says how long to watch
        log = ProbeLog(keep_outputs=targets.task == "regression")  # a bounded head shows in the retries' outputs
        retry = lr_retry(model, settings, spec, raws, n_steps, run, within=session, log=log, starts=at_init)
        reach = horizon(retry, log.halved.get, cap, "halved the loss") if slow and not (on_course or proven) \
            and not proven_before_extending(model, settings, spec, session, raws[0], prepared[0], losses, out0,
                                            targets) else None
        while why == "steps" and ((extend and len(losses) < cap
                                   and _on_course(losses, baseline, floor, threshold, cap, at_init))
                                  or (reach is not None and len(losses) < reach.limit
                                      and trend(losses, baseline, floor, at_init)[2] < threshold)):
            offset = len(losses) % len(prepared)
            chunk = n_steps if reach is None else min(n_steps, reach.limit - len(losses))
            more, _, why = train_loop(session, prepared[offset:] + prepared[:offset], chunk, run)
            losses = losses + more
        run.record_losses(losses)
        uncovered = session.uncovered_parameters()
        run.result.figures["loss_at_init"] = baseline
        run.figure("loss_floor", floor, f"floor: {fmt(effective_floor(baseline, floor))} "
                                        f"({floor_source(floor, 'perfect predictions of these batches')})")
        if why == "steps":
            first, last, drop = trend(losses, baseline, floor, at_init)
            run.result.figures["last_quarter_median"] = last
            run.figure("drop", drop, f"drop: {drop:.1%} of the way from init to floor (needed ≥ {threshold:.0%})"
                                     + (", each batch's median over the last quarter against its own loss at init"
                                        if len(prepared) > 1 and at_init else ""))
            run.figure("min_drop", threshold, "")
            if reach is not None:
                run.result.notes.append(reach.note(n_steps, len(losses), f"it came {threshold:.0%} of the way"
                                                   if drop >= threshold else None))
            elif len(losses) > n_steps:
                run.result.notes.append(
                    f"the loss was still falling at the budget of {n_steps} steps, so training went on (up to "
                    f"{OVERFIT_EXTEND}× the budget): " + (f"it came {threshold:.0%} of the way by step {len(losses)}; "
                                                          f"pass steps={len(losses)} to say so"
                                                          if drop >= threshold else
                                                          f"still short at step {len(losses)}; a larger steps= or "
                                                          "learning rate may get there"))
            spike = recovered_spike(losses, floor, baseline, at_init) if drop >= threshold else None
            if spike is not None:
                raise run.fail("the loss diverged on the way before it came down", [spike])
            if drop >= threshold and not uncovered:
                return passed_unless_proven(run, model, settings, spec, session, raws[0], prepared[0], out0,
                                            targets, looked=slow and not proven)

        if why == "time":  # no probes past the cap: they would only run into it again
            raise run.time_up(f"after {len(losses)} of {n_steps} steps")
        causes = failure_causes(
            model=model, settings=settings, spec=spec, session=session, raw_batch=raws[0], first=prepared[0],
            losses=losses, initial_outputs=out0, targets=targets, retry=retry, notes=run.result.notes, log=log,
            batches=prepared, starts=at_init,
        )
        raise run.fail(_headline(why, losses, threshold, run, uncovered), causes)


def _headline(why: str, losses: list[float], threshold: float, run: CheckRun, uncovered: list[str]) -> str:
    if why == "nonfinite":
        return f"the loss became non-finite at step {len(losses)}"
    figures = run.result.figures
    first, last, drop = figures["loss_at_init"], figures["last_quarter_median"], figures["drop"]
    if drop >= threshold and uncovered:
        return f"the loss fell, but {len(uncovered)} trainable parameter(s) were never trained"
    return (f"the loss did not come {threshold:.0%} of the way to its floor over {len(losses)} steps "
            f"(init {fmt(first)} → last-quarter median {fmt(last)}, floor "
            f"{fmt(effective_floor(first, figures['loss_floor']))}, {drop:+.1%})")

