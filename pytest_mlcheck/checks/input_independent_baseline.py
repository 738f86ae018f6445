"""input_independent_baseline: on samples it did not train on, a copy's predictions fit their own
targets better than they fit other samples' targets — the targets follow from the inputs."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Callable, Literal

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck import diagnosis
from pytest_mlcheck.causes import Evidence
from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck.checks.common import check_fraction, check_steps, checked_batch, scaled_inputs, targets_of
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec, check
from pytest_mlcheck.checks.training import Fits, learning, progress, train_loop
from pytest_mlcheck.errors import usage
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.targets import Targets, check_task
from pytest_mlcheck.thresholds import (
    BASELINE_EXTEND, BASELINE_MIN_REPAIRINGS, BASELINE_MIN_SAMPLES, BASELINE_SIGNIFICANCE, BASELINE_STAGES,
    BASELINE_STEPS, BASELINE_PAST_FIT, BASELINE_WEAK_P, CROSS_FIT_SPREAD, OVERFIT_MIN_DROP,
)


@dataclasses.dataclass
class Fold:
    """One copy's held-out evidence: the statistic for its predictions paired with their own
    targets, and for the same predictions re-paired with other held-out samples' targets."""

    size: int
    statistic: str  # what ``observed`` is: the user's "loss", or without one the error or squared error
    observed: float  # lower is better
    repaired: np.ndarray  # (repairings,)
    right: float  # held-out accuracy (NaN for loss-scored targets)
    majority: float  # held-out accuracy of the training part's majority class (NaN for loss-scored)
    losses: list[float]
    task: str


def _by_loss(task: str) -> bool:
    """Regression and multi-label targets are summarised by the held-out loss, classes by accuracy."""
    return task in ("regression", "multilabel")


def _statistic(session: Any, out: np.ndarray, test: Any, targets: Targets,
               orders: list[np.ndarray]) -> tuple[str, float, np.ndarray]:
    """The held-out loss of ``out`` on its own targets, and with its rows re-paired by each order
    (the user's loss: it already says how close an output is to a target, in the model's form).
    Without a loss that can say: the error rate (1 − accuracy) for classes, the squared error for values."""
    observed = session.loss_of(out, test)
    if np.isfinite(observed):
        repaired = [session.loss_of(np.ascontiguousarray(out[o]), test) for o in orders]
        if np.isfinite(repaired).all():
            return "loss", float(observed), np.asarray(repaired, dtype=np.float64)
    if targets.classes:
        error = [1 - float(targets.right(out[o]).mean()) for o in orders]
        return "error (1 − accuracy)", 1 - float(targets.right(out).mean()), np.array(error)
    y = np.asarray(session.labels(test), dtype=np.float64).reshape(len(out), -1)
    flat = np.asarray(out, dtype=np.float64).reshape(len(out), -1)
    if flat.shape != y.shape:
        return "squared error", float("nan"), np.full(len(orders), np.nan)
    return "squared error", float(np.mean((flat - y) ** 2)), np.array([float(np.mean((flat[o] - y) ** 2)) for o in orders])


def _fold(model: Any, spec: TrainSpec, train: tuple, held: tuple, steps: int, run: CheckRun,
          task: str | None, first: bool, repairings: int) -> Fold:
    """Train a copy on ``train``; its statistic on ``held`` against ``repairings`` re-pairings."""
    with run.session(model, spec, explain=train) as session:
        fit = session.prepare(*train)
        test = session.prepare(*held)
        fitted = targets_of(session, train[0], fit, session.predict(fit), task)
        if first:
            fitted.record(run)
            if fitted.problems:
                raise run.fail(fitted.headline, fitted.problems)
        # a copy that has memorised its part (every sample right) has learned what it can from it:
        # more steps only cost time (a 24M-parameter ResNet memorises 48 samples in a few steps, its
        # 100 take minutes). Values have no per-sample test: those copies train every step of the
        # budget. One that has not fitted its part then, while its loss still falls, trains on
        # (_until_learned)
        losses, _, why = train_loop(session, [fit], BASELINE_EXTEND * steps, run,
                                    _until_learned(session, fit, fitted, steps))
        if why == "time":
            raise run.time_up(f"after {len(losses)} of {BASELINE_EXTEND * steps} training steps one copy may take "
                              f"(its budget {steps}, and on while its loss still falls)")
        nan = float("nan")
        if why == "nonfinite":
            return Fold(len(held[0]), "loss", nan, np.full(repairings, nan), nan, nan, losses, fitted.task)
        session.recalibrate(fit)  # normalisation statistics of the part it trained on
        out = session.predict(test)
        targets = targets_of(session, held[0], test, out, fitted.task)
        targets.form = fitted.form
        rng = np.random.default_rng([run.settings.seed, len(held[0]), 7])
        orders = [rng.permutation(len(out)) for _ in range(repairings)]
        statistic, observed, repaired = _statistic(session, out, test, targets, orders)
        right = majority = nan
        if not _by_loss(fitted.task):  # per position for dense class ids (a token, a pixel)
            right = float(np.mean(targets.predicted(out).reshape(-1) == targets.ids.reshape(-1)))
            counts = np.bincount(fitted.ids.reshape(-1).astype(np.int64))
            majority = float(np.mean(targets.ids.reshape(-1) == counts.argmax()))
        return Fold(len(held[0]), statistic, observed, repaired, right, majority, losses, fitted.task)


def _until_learned(session: Any, fit: Any, fitted: Targets, budget: int) -> Callable[[list[float], int], bool]:
    """When a copy stops: class targets BASELINE_PAST_FIT times the steps it took to memorise its part
    (see thresholds), within the budget; at the budget's end, and at each further budget's end, once
    it has fitted its part (classes: overfit_one_batch's criterion; values: most of the way from the
    best constant prediction to the floor) or its loss no longer falls (:func:`learning`)."""
    fits = Fits(session, fit, fitted, OVERFIT_MIN_DROP)
    c, f = fitted.constant, fitted.floor
    # values: OVERFIT_MIN_DROP of the way from the best constant prediction to the floor (the part's
    # variance explained, as every sample right for classes); a start far off the targets' mean makes
    # "of the way from the start" mostly the mean
    by_constant = fitted.task == "regression" and np.isfinite(c) and np.isfinite(f) and c > f

    def memorised(losses: list[float], step: int) -> bool:
        return progress(c, losses[-1], f) >= OVERFIT_MIN_DROP if by_constant else fits(losses, step)
    at: list[int] = []

    def done(losses: list[float], step: int) -> bool:
        n, end = len(losses), len(losses) % budget == 0
        # classes are read every step of the budget (their stop counts from when they fitted), the
        # rest at a budget's end only: an eval-mode pass each
        if not at and ((n <= budget and fitted.classes) or end) and memorised(losses, step):
            at.append(n)
        if at:
            return n >= BASELINE_PAST_FIT * at[0] or n >= budget
        return end and not learning(losses)
    return done


def _stage(model: Any, spec: TrainSpec, x: np.ndarray, y: np.ndarray, n_folds: int, steps: int, run: CheckRun,
           task: str | None, repairings: int) -> list[Fold]:
    """Split the samples into ``n_folds`` seeded parts; one copy per part, trained on the others."""
    parts = np.array_split(np.random.default_rng([run.settings.seed, n_folds]).permutation(len(x)), n_folds)
    folds = []
    for i, held in enumerate(parts):
        fit = np.concatenate([p for j, p in enumerate(parts) if j != i])
        folds.append(_fold(model, spec, (x[fit], y[fit]), (x[held], y[held]), steps, run, task,
                           not run.result.figures.get("targets"), repairings))
    return folds


def _p_value(observed: float, repaired: np.ndarray) -> float:
    """The share of re-pairings (counting the observed pairing) that fit at least as well, with the
    re-pairings' spread around their mean widened by CROSS_FIT_SPREAD: the copies are cross-fitted
    (each trained on the parts the others are judged on), so under unrelated targets two folds measure
    the same association between their parts twice and the pooled statistic varies twice as much as
    re-pairing each fold on its own shows (measured: tests/test_input_independent_baseline.py)."""
    if not np.isfinite(observed) or not np.isfinite(repaired).all():
        return 1.0
    widened = repaired.mean() + CROSS_FIT_SPREAD * (repaired - repaired.mean())
    return float((1 + np.sum(widened <= observed)) / (len(repaired) + 1))


def weak_evidence(folds: list[Fold], p: float, observed: float, typical: float, n: int) -> str | None:
    """The note on a failure that is weak evidence either way: every copy memorised its training part
    and the held-out predictions fit their own targets better than the median re-pairing, at a p above
    the check's level but at most BASELINE_WEAK_P. A model that needs more samples than a copy saw to
    generalise looks like this, and so do unrelated targets that often; a larger batch may tell them apart."""
    if not (np.isfinite(observed) and observed < typical and p <= BASELINE_WEAK_P):
        return None
    ends = [(f.losses[0], f.losses[-1]) for f in folds if f.losses]
    if len(ends) < len(folds) or not all(np.isfinite(e).all() and 0 < e[1] <= (1 - OVERFIT_MIN_DROP) * e[0]
                                         for e in map(np.asarray, ends)):
        return None
    seen = sum(f.size for f in folds[1:])
    return (f"weak evidence either way: every copy memorised the {seen} samples it trained on (loss "
            f"{fmt(max(e[0] for e in ends))} → at most {fmt(max(e[1] for e in ends))}) and its held-out "
            f"predictions fit their own targets better than the median re-pairing, at p = {p:.2g}; a correct model "
            f"that needs more than {seen} samples to generalise fails so, as unrelated targets do {p:.0%} of the "
            f"time. A batch of {2 * n} or more samples may tell the two apart")


def _pooled(folds: list[Fold], attribute: str) -> Any:
    """A per-fold figure (a number, or the statistic under each re-pairing) averaged over all
    held-out samples."""
    return sum(getattr(f, attribute) * f.size for f in folds) / sum(f.size for f in folds)


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
    significance: float | None = None,
    margin: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    max_seconds: float | None = None,
) -> CheckResult:
    """Split ``batch`` into parts; for each part, train a copy on the others and predict the part
    it did not see. The predictions must fit their own targets better than they fit the same
    samples' targets shuffled among them: a permutation test on the user's loss over every held-out
    sample, passing at p ≤ ``significance``. With targets that do not follow from the inputs the
    two fit alike and p is uniform. ``margin``, when given, also asks for an effect size: accuracy
    points over the majority class (class targets) or the fraction of the re-paired loss cut (loss-
    scored targets). ``task`` overrides what the targets are taken to be."""
    n_steps = check_steps(steps) or BASELINE_STEPS
    check_task(task)
    alpha = BASELINE_SIGNIFICANCE if significance is None else check_fraction(significance, "significance")
    wanted = None if margin is None else check_fraction(margin, "margin")
    spec = TrainSpec(loss_fn=loss_fn, optimizer=optimizer, train_step=train_step, output=output)
    raw = checked_batch(run, batch)
    if not hasattr(raw[0], "shape"):
        raise usage("batch", "(x, y) with x one array or tensor", raw[0],
                    fix="Structured (dict or tuple) inputs are not supported by this check")
    x, y = as_numpy(raw[0]), as_numpy(raw[1])
    if len(x) < BASELINE_MIN_SAMPLES:
        raise usage("batch", f"at least {BASELINE_MIN_SAMPLES} samples (each is held out from one copy's "
                    "training to judge generalisation)", raw[0],
                    fix="Pass a bigger batch, e.g. 128 samples of real training data")
    same = diagnosis.identical_inputs(x)
    if same:  # decisive before any copy trains: held-out predictions of one input cannot follow targets
        raise run.fail(f"all {len(x)} inputs are one sample repeated: no copy can fit held-out targets better "
                       "than re-paired ones", same)
    one_label = diagnosis.identical_targets(y)
    if one_label:  # decisive as well: re-paired targets are the targets themselves
        raise run.fail(f"all {len(y)} targets are one label: no copy can fit held-out targets better than "
                       "re-paired ones", one_label)
    same = diagnosis.constant_targets(y)
    if same is not None:  # no label in them to test: nothing this check can ask of the inputs
        shown = np.array2string(same[:8], precision=4, separator=", ") + (" …" if same.size > 8 else "")
        raise usage("batch", "targets that differ between samples (the check re-pairs them among the samples)",
                    raw[1], fix=f"all {len(y)} target rows are {shown}: targets that mark the outputs' roles "
                                "the same way in every sample (a pairwise or ranking loss's signs) carry no label "
                                "the inputs could predict; pass a batch whose targets vary, or leave this check out")
    # stage k tests at its share of alpha, so the check passes unrelated targets at most alpha of the
    # time over all stages (Bonferroni); a stage that passes ends the check, the last one decides
    for stage, (n_folds, share) in enumerate(BASELINE_STAGES):
        level = alpha * share
        # the smallest p of n re-pairings is 1 / (n + 1): enough of them for two below the level
        repairings = max(BASELINE_MIN_REPAIRINGS, math.ceil(2 / level) - 1)
        folds = _stage(model, spec, x, y, n_folds, n_steps, run, task, repairings)
        observed, repaired = float(_pooled(folds, "observed")), _pooled(folds, "repaired")
        p = _p_value(observed, repaired)
        if p <= level:
            break
    run.record_losses(folds[0].losses)
    task = folds[0].task
    if not all(np.isfinite(f.losses[-1]) for f in folds):
        raise run.fail("the loss became non-finite while training on the real inputs",
                       diagnosis.inputs_not_finite(x) + _raw_inputs(run, model, spec, raw, x))
    what = folds[-1].statistic
    typical = float(np.median(repaired))
    held_n = sum(f.size for f in folds)
    run.figure("stages", stage + 1, "")
    trained = [len(f.losses) for f in folds]
    run.figure("copies", len(folds), f"{len(folds)} copies, each trained on {len(x) - folds[0].size} samples "
               f"({min(trained)}–{max(trained)} steps: until it fitted them, at most {n_steps}, or "
               f"{BASELINE_EXTEND * n_steps} while its loss still fell) and judged on the {folds[0].size} it did not see")
    run.figure("copy_steps", trained, "")
    run.figure("held_out", held_n, "")
    run.figure("metric", "loss" if _by_loss(task) else "accuracy", "")
    run.figure("held_out_loss", observed, f"held-out {what}, own targets: {fmt(observed)}")
    run.figure("repaired_loss", typical, f"held-out {what}, targets re-paired among the held-out samples "
               f"(median of {len(repaired)}): {fmt(typical)}")
    run.figure("p_value", p, f"p = {p:.3g} (criterion at stage {stage + 1}: ≤ {level:g}, its share of "
               f"{alpha:g}; the share of re-pairings that fit as well)")
    run.figure("significance", alpha, "")
    if not _by_loss(task):
        accuracy, majority = float(_pooled(folds, "right")), float(_pooled(folds, "majority"))
        run.figure("accuracy", accuracy, f"held-out accuracy: {accuracy:.0%}")
        run.figure("constant_guess", majority, f"held-out accuracy of the majority class: {majority:.0%}")
    effect_ok = True
    if wanted is not None:
        if _by_loss(task):
            effect_ok = bool(observed <= (1 - wanted) * typical)
            run.figure("margin", wanted, f"margin: own-target loss ≤ {1 - wanted:g} × the re-paired loss")
        else:
            effect_ok = bool(run.result.figures["accuracy"] >= run.result.figures["constant_guess"] + wanted)
            run.figure("margin", wanted, f"margin: accuracy ≥ the majority class's + {wanted:g}")
    if p <= level and effect_ok:
        return run.passed()
    if p <= level:
        headline = "the held-out predictions follow the targets, but by less than the margin asked"
    else:
        headline = (f"held-out predictions fit other samples' targets as well as their own (p = {p:.2g} > {level:g})")
        weak = weak_evidence(folds, p, observed, typical, len(x))
        if weak:
            run.result.notes.append(weak)
    causes = [(C.NO_INPUT_SIGNAL,
               f"on {held_n} samples no copy trained on, the {what} with each sample's own target is "
               f"{fmt(observed)}, and {fmt(typical)} with targets shuffled among them: the targets do "
               "not follow from the inputs (labels shuffled apart from their inputs, misaligned files, or "
               "inputs the model cannot read)")]
    causes += _raw_inputs(run, model, spec, raw, x)
    raise run.fail(headline, causes)


def _raw_inputs(run: CheckRun, model: Any, spec: TrainSpec, raw: tuple[Any, Any], x: np.ndarray) -> list[Evidence]:
    """:func:`diagnosis.raw_inputs` where the inputs' scale reaches a weighted sum (``scaled_inputs``,
    one forward pass of a copy: a model that normalises its inputs first, FlowNet's ``/ rgb_max``, a
    Rescaling layer, is not told to scale them)."""
    if not diagnosis.raw_inputs(x):
        return []
    try:
        with run.session(model, spec, explain=raw) as session:
            return diagnosis.raw_inputs(scaled_inputs(session, session.prepare(*raw), x))
    except Exception:  # a pass the copies made in training failing now says nothing new: the scale alone
        return diagnosis.raw_inputs(x)
