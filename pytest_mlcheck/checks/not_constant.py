"""not_constant_predictions: distinct inputs must not all get the same class (or the same value)."""

from __future__ import annotations

from typing import Any

import numpy as np

from pytest_mlcheck import diagnosis
from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck.checks.common import (
    CheckRun, TrainSpec, check_fraction, check_steps, finite_samples, open_session, user_code_fails,
)
from pytest_mlcheck.checks.training import error_causes, train_loop
from pytest_mlcheck.data import batches_upto, input_batches
from pytest_mlcheck.errors import MlcheckUsageError
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.settings import COLLAPSE_MAX_SHARE, COLLAPSE_MIN_SAMPLES, REGRESSION_MIN_SPREAD, TRAIN_ON_STEPS, Settings


def distinct_rows(batches: list[np.ndarray]) -> int:
    rows = np.concatenate([b.reshape(len(b), -1) for b in batches], axis=0)
    return len({r.tobytes() for r in np.ascontiguousarray(rows)})


def enough_distinct(inputs: Any) -> bool:
    """A drawn batch holds enough distinct samples to judge the spread of predictions."""
    if not hasattr(inputs, "shape") or len(inputs.shape) == 0:
        return False
    return distinct_rows([as_numpy(inputs)]) >= COLLAPSE_MIN_SAMPLES


def not_constant_predictions(
    model: Any,
    inputs: Any,
    *,
    settings: Settings,
    spec: TrainSpec,
    train_on: Any = None,
    steps: int | None = None,
    max_share: float | None = None,
) -> CheckResult:
    n_steps = check_steps(steps) or TRAIN_ON_STEPS
    share_cap = COLLAPSE_MAX_SHARE if max_share is None else check_fraction(max_share, "max_share")
    run = CheckRun("not_constant_predictions", settings)
    session = open_session(model, settings, spec, inference=train_on is None)
    try:
        batches = input_batches(inputs)
        prepared = [session.prepare(x) for x in batches]
        arrays = [session.inputs(p) for p in prepared]
        if all(a is not None for a in arrays):
            distinct = distinct_rows(arrays)
            if distinct < COLLAPSE_MIN_SAMPLES:
                raise MlcheckUsageError(
                    f"inputs: expected at least {COLLAPSE_MIN_SAMPLES} distinct samples to judge a spread of "
                    f"predictions, got {distinct}; pass more varied inputs (e.g. a held-out batch)")
        causes_extra: list[tuple[str, str]] = []
        with user_code_fails(run, lambda err: error_causes(err, session, (batches[0], None))):
            if train_on is not None:
                raws = batches_upto(train_on, n_steps, argument="train_on")
                train = [session.prepare(*raw) for raw in raws]
                run.result.notes.extend(session.optimizer_notes)
                losses, _, why = train_loop(session, train, n_steps, run)
                run.record_losses(losses)
                labels = np.concatenate([session.labels(b).reshape(-1) for b in train])
                causes_extra = _imbalance(labels)
                if why == "nonfinite":
                    raise run.fail(f"the loss became non-finite at step {len(losses)} while training on train_on")
                if why == "time":
                    raise run.time_up(f"after {len(losses)} of {n_steps} training steps on train_on")
            outs = [session.predict(p) for p in prepared]
            flat = np.concatenate(outs, axis=0).reshape(sum(len(o) for o in outs), -1).astype(np.float64)
            finite_in = np.concatenate([finite_samples(a, len(o)) for a, o in zip(arrays, outs)])
            if not finite_in.all():
                # samples whose inputs hold NaN or inf are reported, not judged
                run.result.figures["non-finite inputs"] = f"{int((~finite_in).sum())} sample(s), not judged"
                flat = flat[finite_in]
            run.result.figures["samples"] = len(flat)
            if not np.isfinite(flat).all():
                raise run.fail("non-finite outputs for finite inputs",
                               [("outputs_not_finite", f"{int((~np.isfinite(flat)).sum())} values")])
            if len(flat) < COLLAPSE_MIN_SAMPLES:
                raise MlcheckUsageError(f"inputs: expected at least {COLLAPSE_MIN_SAMPLES} samples with finite "
                                        f"inputs, got {len(flat)}; pass more samples without NaN or inf")
            identical = bool(np.allclose(flat, flat[0], rtol=1e-6, atol=1e-7))
            if identical:  # the input stops somewhere: look for a layer that never gets anything
                causes_extra = diagnosis.silent_layers(session.weighted_layer_inputs(prepared[0], training=False)) \
                    + causes_extra
        if flat.shape[1] >= 2:
            _classes(run, flat, share_cap, identical, causes_extra)
        else:
            _spread(run, flat, identical, causes_extra)
        return run.passed()
    finally:
        session.close()


def _classes(run: CheckRun, flat: np.ndarray, cap: float, identical: bool, extra: list) -> None:
    preds = flat.argmax(axis=1)
    values, counts = np.unique(preds, return_counts=True)
    top = int(np.argmax(counts))
    share = counts[top] / len(preds)
    run.result.figures["predicted classes"] = len(values)
    run.result.figures["largest class share"] = f"{share:.0%} (class {int(values[top])}; at most {cap:.0%} allowed)"
    if share > cap:
        evidence = ("every input gives the same output vector: nothing of the input reaches the head"
                    if identical else f"class {int(values[top])} takes {share:.0%} of {len(preds)} distinct inputs")
        raise run.fail(f"{share:.0%} of the predictions are class {int(values[top])}", _ranked(evidence, extra))


def _spread(run: CheckRun, flat: np.ndarray, identical: bool, extra: list) -> None:
    std = flat.std(axis=0)
    scale = np.abs(flat).mean(axis=0) + std + 1e-12
    rel = float((std / scale).max())
    run.result.figures["relative spread"] = f"{fmt(rel)} (at least {fmt(REGRESSION_MIN_SPREAD)} needed)"
    if rel < REGRESSION_MIN_SPREAD:
        evidence = ("every input gives the same output: nothing of the input reaches the head" if identical
                    else f"outputs vary by {fmt(rel)} of their scale across distinct inputs")
        raise run.fail(f"the outputs are constant across {len(flat)} distinct inputs", _ranked(evidence, extra))


def _ranked(evidence: str, extra: list) -> list[tuple[str, str]]:
    """Dead units explain a collapse; the collapse itself comes next, then the rest."""
    dead = [c for c in extra if c[0] == "dead_units"]
    return dead + [("class_collapse", evidence)] + [c for c in extra if c[0] != "dead_units"]


def _imbalance(labels: np.ndarray) -> list[tuple[str, str]]:
    if labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        return []
    values, counts = np.unique(labels, return_counts=True)
    share = counts.max() / labels.size
    if share >= 0.5:
        return [("labels_imbalanced", f"class {int(values[np.argmax(counts)])} is {share:.0%} of the training labels")]
    return []

