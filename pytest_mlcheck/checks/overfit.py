"""overfit_one_batch: a correct model and step can memorise one small batch."""

from __future__ import annotations

from typing import Any

from pytest_mlcheck.checks.common import (
    CheckRun, require_trainable, TrainSpec, check_fraction, check_steps, checked_batch, infer_task, label_problem, open_session, predictions_right,
    user_code_fails,
)
from pytest_mlcheck.checks.training import error_causes, failure_causes, lr_retry, train_loop
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.settings import OVERFIT_LOSS_RATIO, OVERFIT_MAX_STEPS, Settings


def overfit_one_batch(
    model: Any,
    batch: Any,
    *,
    spec: TrainSpec,
    settings: Settings,
    steps: int | None = None,
    task: str | None = None,
    loss_ratio: float | None = None,
) -> CheckResult:
    max_steps = check_steps(steps) or OVERFIT_MAX_STEPS
    ratio = OVERFIT_LOSS_RATIO if loss_ratio is None else check_fraction(loss_ratio, "loss_ratio")
    run = CheckRun("overfit_one_batch", settings)
    session = open_session(model, settings, spec)
    try:
        raw = checked_batch(run, batch)
        prepared = session.prepare(*raw)
        with user_code_fails(run, lambda err: error_causes(err, session, raw)):
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
                    if losses[-1] > ratio * losses[0]:
                        return False
                    if kind == "regression":
                        return True
                    return bool(predictions_right(y, s.predict(p), kind).all())
                return done

            losses, ok, why = train_loop(session, [prepared], max_steps, run, criterion(session, prepared))
            run.record_losses(losses)
            uncovered = session.uncovered_parameters()
            if ok and not uncovered:
                run.result.figures["loss ratio"] = losses[-1] / losses[0] if losses[0] else 0.0
                return run.passed()
            if why == "time":  # no probes past the cap: they would only run into it again
                raise run.time_up(f"after {len(losses)} of {max_steps} steps without fitting one batch of {len(y)}")
            outputs = session.predict(prepared) if why != "nonfinite" else None
            if kind != "regression" and outputs is not None:
                right = predictions_right(y, outputs, kind)
                run.result.figures["accuracy"] = f"{int(right.sum())}/{len(right)} predicted right"
            run.result.figures["criterion"] = (
                f"loss ≤ {ratio:g} × start" + ("" if kind == "regression" else " and every sample right")
            )

            causes = failure_causes(
                model=model, settings=settings, spec=spec, session=session, raw_batch=raw, first=prepared,
                losses=losses, initial_outputs=out0, task=kind,
                retry=lr_retry(model, settings, spec, [raw], max_steps, run, within=session), notes=run.result.notes,
            )
            raise run.fail(_headline(ok, why, losses, max_steps, run, uncovered), causes)
    finally:
        session.close()


def _headline(ok: bool, why: str, losses: list[float], max_steps: int, run: CheckRun, uncovered: list[str]) -> str:
    n = run.result.figures.get("samples")
    if ok and uncovered:
        return f"the loss fell, but {len(uncovered)} trainable parameter(s) were never trained"
    if why == "nonfinite":
        return f"the loss became non-finite at step {len(losses)} while fitting one batch of {n}"
    return f"could not fit one batch of {n} samples in {max_steps} steps (loss {fmt(losses[0])} → {fmt(losses[-1])})"

