"""input_independent_baseline: a model trained on the real inputs beats one trained on zeros,
on samples neither saw."""

from __future__ import annotations

from typing import Any, Callable, Literal

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck import diagnosis
from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck.checks.common import check_fraction, check_steps, checked_batch, targets_of
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec, check
from pytest_mlcheck.checks.training import train_loop
from pytest_mlcheck.errors import CheckFailed, CheckIncomplete, usage
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.targets import Targets, check_task
from pytest_mlcheck.thresholds import BASELINE_MARGIN, BASELINE_MIN_SAMPLES, BASELINE_STEPS


def _by_loss(task: str) -> bool:
    """Regression and multi-label targets are scored by the held-out loss, classes by accuracy."""
    return task in ("regression", "multilabel")


def _score(session: Any, prepared: Any, targets: Targets) -> float:
    """Held-out accuracy for class targets, held-out loss otherwise."""
    out = session.predict(prepared)
    if _by_loss(targets.task):
        return session.loss_of(out, prepared)
    return float(targets.right(out).mean())


def _constant_score(session: Any, fit: Any, test: Any, fitted: Targets, held: Targets) -> float:
    """The best input-independent guess learned from the training half, scored on the held-out
    half: the majority class, or the mean target under the user's loss."""
    y_fit = session.labels(fit)
    out = session.predict(test)
    if _by_loss(fitted.task):
        guess = np.broadcast_to(y_fit.mean(axis=0, keepdims=True), out.shape).astype(np.float32)
        return session.loss_of(np.ascontiguousarray(guess), test)
    majority = np.bincount(fitted.ids.reshape(-1).astype(np.int64)).argmax()
    return float(np.mean(held.ids.reshape(-1) == majority))


def _train_and_score(model: Any, spec: TrainSpec, train: tuple, held: tuple, steps: int,
                     run: CheckRun, task: str | None, first: bool) -> tuple[list[float], float, str, float]:
    """Train a copy on ``train``; its held-out score, the task, and the best constant guess's score."""
    with run.session(model, spec, explain=train) as session:
        fit = session.prepare(*train)
        test = session.prepare(*held)
        fitted = targets_of(session, train[0], fit, session.predict(fit), task)
        if first:
            fitted.record(run)
            if fitted.problems:
                raise run.fail("the targets cannot be learned with this head and loss", fitted.problems)
        held_targets = targets_of(session, held[0], test, session.predict(test), fitted.task)
        held_targets.form = fitted.form
        constant = _constant_score(session, fit, test, fitted, held_targets)
        losses, _, why = train_loop(session, [fit], steps, run)
        if why == "time":
            raise run.time_up(f"after {len(losses)} of {steps} training steps")
        if why == "nonfinite":
            return losses, float("nan"), fitted.task, constant
        session.recalibrate(fit)  # normalisation statistics of the half it trained on
        return losses, _score(session, test, held_targets), fitted.task, constant


def _shuffled(x: np.ndarray, seed: int) -> np.ndarray:
    """The rows in a seeded random order: valid inputs whose pairing with the targets is gone."""
    return x[np.random.default_rng(seed).permutation(len(x))]


def _blank(x: np.ndarray) -> np.ndarray:
    """Inputs that carry nothing: zeros, or empty texts for string inputs."""
    if x.dtype.kind in "USO":
        return np.full(x.shape, "" if x.dtype.kind != "S" else b"", dtype=x.dtype)
    return np.zeros_like(x)


@check()
def input_independent_baseline(
    run: CheckRun,
    model: Any,
    batch: Any,
    *,
    loss_fn: Callable | None = None,
    optimizer: Any = None,
    train_step: Callable | None = None,
    output: Any = None,
    task: Literal["classification", "binary", "multilabel", "regression"] | None = None,
    steps: int | None = None,
    margin: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    max_seconds: float | None = None,
) -> CheckResult:
    """Split ``batch`` into a training half and a held-out half; train one copy on the real
    inputs and another on zeroed inputs; on the held-out half the real-input copy must beat
    the zero-input one by ``margin`` (accuracy for class targets, relative loss for regression and
    multi-label targets). ``task`` overrides what the targets are taken to be."""
    n_steps = check_steps(steps) or BASELINE_STEPS
    check_task(task)
    needed = BASELINE_MARGIN if margin is None else check_fraction(margin, "margin")
    spec = TrainSpec(loss_fn=loss_fn, optimizer=optimizer, train_step=train_step, output=output)
    raw = checked_batch(run, batch)
    if not hasattr(raw[0], "shape"):
        raise usage("batch", "(x, y) with x one array or tensor", raw[0],
                    fix="Structured (dict or tuple) inputs are not supported by this check")
    x, y = as_numpy(raw[0]), as_numpy(raw[1])
    if len(x) < BASELINE_MIN_SAMPLES:
        raise usage("batch", f"at least {BASELINE_MIN_SAMPLES} samples (half are held out to judge generalisation)",
                    raw[0], fix="Pass a bigger batch, e.g. 128 samples of real training data")
    order = np.random.default_rng(run.settings.seed).permutation(len(x))
    fit, held = order[: len(x) // 2], order[len(x) // 2:]
    real_losses, real, task, constant = _train_and_score(model, spec, (x[fit], y[fit]),
                                                         (x[held], y[held]), n_steps, run, task, True)
    blanked = "zeroed inputs"
    try:
        _, zero, _, _ = _train_and_score(model, spec, (_blank(x[fit]), y[fit]),
                                         (_blank(x[held]), y[held]), n_steps, run, task, False)
    except CheckIncomplete:
        raise
    except CheckFailed:
        if x.dtype.kind not in "iu":
            raise
        # all-zero token ids are all padding, which a model that packs or masks by length cannot run
        # on; the same ids shuffled across samples are valid inputs that say nothing about the targets
        run.result.causes, run.result.headline, blanked = [], "", "inputs shuffled across samples"
        seed = run.settings.seed
        _, zero, _, _ = _train_and_score(model, spec, (_shuffled(x[fit], seed), y[fit]),
                                         (_shuffled(x[held], seed + 1), y[held]), n_steps, run, task, False)
    run.record_losses(real_losses)
    metric = "loss" if _by_loss(task) else "accuracy"
    label = "the mean target" if _by_loss(task) else "the majority class"
    run.figure("trained_on", len(fit), f"samples: {len(fit)} trained on, {len(held)} held out")
    run.figure("held_out", len(held), "")
    run.figure("metric", metric, "")
    run.figure("real_inputs", real, f"held-out {metric}, real inputs: {fmt(real)}")
    run.figure("zeroed_inputs", zero, f"held-out {metric}, {blanked}: {fmt(zero)}")
    run.figure("constant_guess", constant, f"held-out {metric}, {label}: {fmt(constant)}")
    # the baseline is the better input-independent score: the zero-input copy may not have
    # finished learning the constant in its few steps
    candidates = [v for v in (zero, constant) if np.isfinite(v)]
    zero = (min(candidates) if _by_loss(task) else max(candidates)) if candidates else float("nan")
    if not np.isfinite(real_losses[-1]):
        raise run.fail("the loss became non-finite while training on the real inputs",
                       diagnosis.inputs_not_finite(x) + diagnosis.input_scale(x))
    if _by_loss(task):
        run.figure("margin", needed, f"criterion: real-input loss ≤ {1 - needed:g} × the best input-independent loss")
        ok = bool(np.isfinite(zero) and real <= (1 - needed) * zero)
        gap = f"{fmt(real)} vs {fmt(zero)}"
    else:
        run.figure("margin", needed, f"criterion: real-input accuracy ≥ the best input-independent accuracy + {needed:g}")
        ok = real >= zero + needed
        gap = f"{real:.0%} vs {zero:.0%}"
    if ok:
        return run.passed()
    causes = [(C.NO_INPUT_SIGNAL,
               f"on held-out samples the model trained on real inputs scores {gap} for the best input-independent "
               "predictor (a copy trained on zeros, or a constant guess): "
               "the targets do not follow from the inputs (labels shuffled apart from their inputs, misaligned "
               "files, or inputs the model cannot read)")]
    causes += diagnosis.input_scale(x)
    raise run.fail(f"real inputs do not beat zeroed inputs on held-out samples ({metric} {gap})", causes)
