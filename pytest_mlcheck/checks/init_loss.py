"""init_loss: the loss at initialisation is near what an uninformative prediction scores."""

from __future__ import annotations

import math
from typing import Any, Callable, Literal

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck.causes import Evidence
from pytest_mlcheck import diagnosis
from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck.checks.common import check_count, checked_batch, scaled_inputs, targets_of
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec, check
from pytest_mlcheck.errors import usage
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.targets import head_class_axis, log_probability_rows, normalised_axis, prediction_rows
from pytest_mlcheck.thresholds import (
    INIT_LOSS_TOLERANCE, INIT_OUTPUT_SPREAD, INIT_VALUE_SPREAD, PER_CLASS_MEAN_RTOL,
)


def uninformative(outputs: np.ndarray, axis: int | None = None) -> tuple[np.ndarray, str]:
    """The prediction that knows nothing, in the form the model outputs: uniform probabilities
    for rows that sum to 1, uniform log-probabilities for rows whose exponentials do, 0.5 for
    outputs in [0, 1], zero logits (or zeros) otherwise; rows per position along a class ``axis``."""
    flat = prediction_rows(outputs, axis)
    finite = np.isfinite(flat).all()
    if finite and flat.shape[1] >= 2 and flat.min() >= 0 and np.allclose(flat.sum(axis=1), 1.0, atol=1e-3):
        return np.full_like(outputs, 1.0 / flat.shape[1]), "uniform probabilities"
    if log_probability_rows(flat):  # a LogSoftmax head (before NLLLoss): its zeros would be probability 1 each
        return np.full_like(outputs, -math.log(flat.shape[1])), "uniform log-probabilities"
    if finite and flat.min() >= 0 and flat.max() <= 1 and flat.std() > 0:
        return np.full_like(outputs, 0.5), "0.5 everywhere"
    return np.zeros_like(outputs), "all-zero outputs (uninformative logits)"


def _within_unit(y: np.ndarray) -> bool:
    values = np.asarray(y, dtype=np.float64)
    return bool(np.isfinite(values).all() and values.min() >= 0 and values.max() <= 1)


def output_spread(outputs: np.ndarray, what: str, y: np.ndarray, classes: bool, axis: int | None = None) -> float:
    """How far the outputs spread from uninformative: for class targets or outputs in [0, 1], the
    rms of the logits about each row's mean (log-probabilities for softmax rows); an independent
    binary logit (one output, or logit(p) of sigmoid outputs) z is the softmax pair (z/2, −z/2),
    whose spread about its mean is |z|/2, so a one-unit head is judged as the same prediction
    written with two outputs; for value targets, the rms of the outputs over the rms of the targets.
    Rows per position along a class ``axis``."""
    flat = prediction_rows(outputs, axis).astype(np.float64)
    if not np.isfinite(flat).all():
        return float("inf")
    if what == "uniform probabilities":
        z = np.log(np.clip(flat, 1e-12, None))
    elif what == "0.5 everywhere":
        p = np.clip(flat, 1e-12, 1 - 1e-12)
        z = np.log(p) - np.log1p(-p)
    elif not classes:
        scale = float(np.sqrt(np.mean(np.square(np.asarray(y, dtype=np.float64)))))
        return float(np.sqrt(np.mean(np.square(flat)))) / scale if scale > 0 else float("inf")
    else:
        z = flat
    if z.shape[1] >= 2 and what != "0.5 everywhere":
        z = z - z.mean(axis=1, keepdims=True)
    else:  # independent binary logits: each the pair (z/2, -z/2)
        z = z / 2.0
    return float(np.sqrt(np.mean(np.square(z))))


def _meets(observed: float, spread: float, reference: float, tol: float, expected: float | None,
           cap: float) -> tuple[bool, bool]:
    """The rule, on one view of the outputs: the loss ``within`` ×(1 + tol) of the reference, and
    (without ``expected=``) the outputs ``near`` uninformative, spread at most ``cap``."""
    within = math.isfinite(observed) and observed > 0 and abs(math.log(observed / reference)) <= math.log1p(tol)
    near = expected is None and math.isfinite(observed) and spread <= cap
    return within, near


def _near_as_training_sees_it(run: CheckRun, session: Any, prepared: Any, reference: float, tol: float,
                              expected: float | None, what: str, y: np.ndarray, classes: bool, cap: float,
                              units: str, axis: int | None) -> bool:
    """An untrained BatchNorm holds placeholder statistics (mean 0, variance 1) for eval mode, which
    the first training step never uses: outputs far from uninformative only in that view (raw
    pixels into a conv and its BatchNorm) are judged again with the statistics estimated on the
    batch, as training computes them, by the same rule. True (and said) where that view is near."""
    if not session.recalibrate(prepared):
        return False
    settled = session.predict(prepared)
    observed = session.loss_of(settled, prepared)
    spread = output_spread(settled, what, y, classes, axis)
    within, near = _meets(observed, spread, reference, tol, expected, cap)
    run.figure("loss_at_init_batch_statistics", observed,
               f"with BatchNorm statistics from this batch, as the first training step computes them: loss "
               f"{fmt(observed)}, output spread {fmt(spread)} {units}")
    if within or near:
        run.result.notes.append("judged with the BatchNorm statistics the first training step computes: the "
                                "untrained model's eval-mode placeholders (mean 0, variance 1) put its outputs "
                                "far from uninformative, training never sees them")
        run.result.start_loss = observed
    return within or near


@check()
def init_loss(
    run: CheckRun,
    model: Any,
    batch: Any,
    *,
    loss_fn: Callable | None = None,
    output: Any = None,
    expected: float | None = None,
    num_classes: int | None = None,
    task: Literal["classification", "binary", "multilabel", "regression"] | None = None,
    tolerance: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    max_seconds: float | None = None,
) -> CheckResult:
    """The untrained model's loss on ``batch`` (eval mode) is near ``expected``: by default what
    the same loss gives an uninformative prediction on the same targets (zero logits, uniform
    probabilities, or 0.5 for sigmoid outputs), which is ln C for plain softmax cross-entropy and
    right for class weights or label smoothing too. It passes within a factor ``1 + tolerance``
    of it either way, or (without ``expected=``) when the outputs themselves start near
    uninformative: logits spread at most INIT_OUTPUT_SPREAD about each row's mean (class targets,
    outputs in [0, 1]), or value outputs at most INIT_VALUE_SPREAD × the targets' rms; so a loss
    that amplifies a small spread (focal) or a chance correlation of a fresh head passes.
    ``task`` overrides what the targets are taken to be."""
    if expected is not None and (isinstance(expected, bool) or not isinstance(expected, (int, float))
                                 or not math.isfinite(expected) or expected <= 0):
        raise usage("expected", "a positive finite loss value (e.g. math.log(10))", expected)
    if tolerance is not None and (isinstance(tolerance, bool) or not isinstance(tolerance, (int, float))
                                  or not 0 < tolerance < math.inf):
        raise usage("tolerance", "a positive number (the allowed factor is 1 + tolerance)", tolerance)
    num_classes = check_count(num_classes, "num_classes")
    tol = INIT_LOSS_TOLERANCE if tolerance is None else float(tolerance)
    raw = checked_batch(run, batch)
    with run.session(model, TrainSpec(loss_fn=loss_fn, output=output), inference=True, explain=raw) as session:
        prepared = session.prepare(*raw)
        outputs = session.predict(prepared)
        y = session.labels(prepared)
        width = outputs.reshape(len(outputs), -1).shape[1]
        if num_classes is not None and width != num_classes and not (num_classes == 2 and width == 1) \
                and head_class_axis(outputs.shape, num_classes) is None:  # per position: (N, T, C), masks
            raise run.fail("the head does not have one output per class", [(
                C.HEAD_WIDTH, f"the model has {width} outputs (shape {tuple(outputs.shape)}) for "
                              f"num_classes={num_classes}")])
        targets = targets_of(session, raw[0], prepared, outputs, task)
        targets.record(run)
        if targets.problems:
            raise run.fail(targets.headline, targets.problems)
        observed = session.loss_of(outputs, prepared)
        if math.isnan(observed) and session.has_loss():
            session.loss(prepared, training=False)  # a loss that raises on the model's own outputs: the user's error
        run.record_sources(session)  # a LightningModule's training_step gave the loss
        if math.isnan(observed) and not session.has_loss():
            raise usage("loss_fn", "the loss to evaluate for init_loss",
                        fix="Pass loss_fn= (or compile the Keras model with a loss)")
        # a softmax per position (N, T, C) knows nothing at uniform rows along its own axis, however
        # the targets were read (one-hot rows read as multi-hot): it cannot output 0.5 everywhere
        axis = targets.channel_axis if targets.channel_axis is not None else head_class_axis(outputs.shape, None,
                                                                                                outputs)
        baseline, what = uninformative(outputs, axis)
        if what == "0.5 everywhere" and targets.task == "regression" and np.size(outputs) == np.size(y) \
                and not _within_unit(y):
            # untrained outputs, one per target value, that happen to lie in [0, 1] are no
            # probabilities for value targets outside it (a linear head near 0 before standardised
            # targets): its uninformative value is 0
            baseline, what = np.zeros_like(outputs), "all-zero outputs (uninformative logits)"
        reference = float(expected) if expected is not None else session.loss_of(baseline, prepared)
        run.result.figures["samples"] = int(len(y))
        run.result.figures["loss_at_init"] = observed
        source = "given" if expected is not None else f"the loss of {what}"
        run.figure("expected", reference, f"expected: {fmt(reference)} ({source})")
        run.figure("expected_from", source, "")
        if not math.isfinite(reference) and expected is None:
            zeros = _loss_on_zero_targets(session, raw[0], y, baseline)
            if math.isfinite(zeros):  # the loss takes this prediction: the targets are what it cannot take
                raise run.fail(f"the loss of {what} is {fmt(reference)} on these targets", [(
                    C.LABELS_INVALID, f"the loss of {what} is {fmt(reference)} on these targets (values "
                                      f"{fmt(float(np.min(y)))}..{fmt(float(np.max(y)))}) but {fmt(zeros)} on all-zero "
                                      "targets of the same shape: the targets hold values the loss cannot take "
                                      "(class ids beyond the head, raw mask values, NaN)")])
        if what == "uniform probabilities" and targets.classes and reference < 0:
            raise run.fail(f"the loss of {what} is {fmt(reference)}, below 0", [(
                C.LOSS_MISMATCH, f"the loss of {what} on these class targets is {fmt(reference)}: a cross-entropy of "
                                 "probabilities is never negative, so the loss reads them as something else — "
                                 "NLLLoss takes log-probabilities (log_softmax, not softmax, before it)")])
        if expected is None and targets.classes and what == "all-zero outputs (uninformative logits)" \
                and math.isfinite(reference) and reference <= 0:
            raise run.fail(f"the loss of {what} is {fmt(reference)} on these class targets",
                           _not_logits_to_the_loss(outputs, reference))
        if not math.isfinite(reference) or reference <= 0:
            raise usage("expected", "a reference loss", fix=f"the loss of {what} is {fmt(reference)}, which cannot "
                                                             "serve as one; pass expected= with the loss an untrained "
                                                             "model should have")
        averaged = _averaged_over_classes(reference, session.penalty(), what, outputs, targets) \
            if expected is None else []
        if averaged:
            raise run.fail(f"the loss of {what} is a cross-entropy divided by the number of classes",
                           averaged)
        classes = targets.classes or what != "all-zero outputs (uninformative logits)"
        spread = output_spread(outputs, what, y, classes, axis)
        cap = INIT_OUTPUT_SPREAD if classes else INIT_VALUE_SPREAD
        units = "logit units" if classes else "× the targets' rms"
        run.figure("output_spread", spread, f"output spread at init: {fmt(spread)} {units} (near uninformative "
                                            f"up to {cap:g})")
        run.figure("allowed_factor", 1 + tol, f"allowed: within ×{1 + tol:g} of expected, or outputs spread at "
                                              f"most {cap:g} {units}" if expected is None else
                   f"allowed: within ×{1 + tol:g} of expected")
        within, near = _meets(observed, spread, reference, tol, expected, cap)
        if not (within or near) and expected is None:
            near = _spread_from_input_offset(run, session, raw, what, y, classes, cap, units, axis)
        if within or near:
            run.result.start_loss = observed
            return run.passed()
        if _near_as_training_sees_it(run, session, prepared, reference, tol, expected, what, y, classes, cap, units,
                                     axis):
            return run.passed()
        x = session.inputs(prepared)
        ratio = observed / reference if math.isfinite(observed) else float("inf")
        causes = diagnosis.inputs_not_finite(x)
        if targets.task == "classification" and targets.ids is not None and ratio > 1 \
                and what == "all-zero outputs (uninformative logits)":
            # decisive before the scale story: logits into a loss that reads probabilities (Keras's default
            # from_logits=False on a linear head) is no init that is merely too large
            causes += diagnosis.loss_expects_probabilities(prediction_rows(outputs, axis), observed,
                                                           session.loss_of(outputs + 3.0, prepared))
        causes += diagnosis.input_scale(scaled_inputs(session, prepared, x))
        spread_said = (f"; the outputs spread {fmt(spread)} {units} from uninformative (correct heads "
                       f"measured ≤ {cap:g})" if ratio > 1 and math.isfinite(spread) else "")
        causes.append((C.INIT_LOSS_OFF, f"the loss at init is {fmt(observed)}, ×{ratio:.3g} the expected {fmt(reference)}: "
                                        + ("the outputs start far from uninformative (too large: inputs or the "
                                           "head's initial weights out of scale)" if ratio > 1 else
                                           "lower than an uninformative prediction can score (a loss that "
                                           "ignores targets, or labels leaking into the inputs)") + spread_said))
        raise run.fail(f"the loss at init is {fmt(observed)}, expected about {fmt(reference)}", causes)


def _averaged_over_classes(reference: float, penalty: float, what: str, outputs: np.ndarray,
                           targets: Any) -> list:
    """A cross-entropy over single-label class targets scores an uninformative prediction at ln C a
    sample (label smoothing and class weights leave that as it is); exactly ln C / C is the signature
    of a mean taken over the C classes as well as the samples (``reduce_mean(target * log_softmax)``
    on one-hot rows): every loss and gradient C times too small, and a weight penalty beside it C
    times too strong. C ≥ 3, so that the factor lies far outside what an init's spread moves. Measured
    without ``penalty``, the part of the loss no output moves (a compiled Keras loss's ``add_loss``
    terms; the weights' own penalties are out of every loss read)."""
    c = prediction_rows(outputs, targets.channel_axis).shape[1]
    if targets.task != "classification" or what == "0.5 everywhere" or not math.isfinite(reference) or c < 3:
        return []
    per_sample = math.log(c)
    data = reference - penalty
    if not abs(data * c / per_sample - 1) <= PER_CLASS_MEAN_RTOL:
        return []
    beside = f" beside {fmt(penalty)} that the loss adds whatever the outputs (add_loss terms)" if penalty else ""
    return [(C.INIT_LOSS_OFF, f"the loss of {what} is {fmt(data)}{beside} = ln {c} / {c}, where a cross-entropy over {c} "
                              f"classes scores it ln {c} = {fmt(per_sample)} a sample: the mean runs over the {c} classes "
                              "as well as the samples (a mean of target · log-probability over one-hot rows), so the "
                              f"loss and its gradients are {c} times too small and a weight penalty beside it weighs "
                              f"{c} times more; sum over the classes, then average over the samples (a loss scaled by "
                              f"1/{c} on purpose, such as gradient accumulation over {c} steps, passes with expected=)")]


def _standardised(a: np.ndarray) -> np.ndarray | None:
    """Float inputs standardised per feature over the batch (a constant feature centred only);
    None for inputs that are not float (ids, strings)."""
    if not np.issubdtype(a.dtype, np.floating) or len(a) < 2 or not np.isfinite(a).all():
        return None
    std = a.std(axis=0)
    return ((a - a.mean(axis=0)) / np.where(std > 0, std, 1.0)).astype(a.dtype)


def _spread_from_input_offset(run: CheckRun, session: Any, raw: tuple[Any, Any], what: str, y: np.ndarray,
                              classes: bool, cap: float, units: str, axis: int | None) -> bool:
    """Whether a spread above ``cap`` comes from inputs at an acceptable scale but not centred (tabular
    features in [0, 10)), not from the head: the same model on the batch standardised per feature
    starts near uninformative. Inputs flagged as un-normalised are never excused."""
    if not hasattr(raw[0], "shape"):  # dicts, tuples: not one array to standardise
        return False
    a = as_numpy(raw[0])
    x = _standardised(a)
    if x is None or diagnosis.input_scale(a):
        return False
    try:
        outputs = session.predict(session.prepare(x, raw[1]))
    except Exception:  # the model cannot take the standardised copy: no excuse
        return False
    spread = output_spread(outputs, what, y, classes, axis)
    run.figure("output_spread_standardised", spread, f"output spread at init on the batch standardised per "
               f"feature: {fmt(spread)} {units} (the inputs' offset, not the head, spreads the outputs)"
               if spread <= cap else None)
    return bool(spread <= cap)


def _not_logits_to_the_loss(outputs: np.ndarray, reference: float) -> list[Evidence]:
    """A loss that costs nothing (or less) at all-zero outputs on class targets reads them as no logits:
    a cross-entropy on logits costs ln C there. NLLLoss reads log-probabilities, so 0 is probability 1
    for every class. Outputs that are log-probabilities (or probabilities) over the batch axis instead
    of the classes' — a (log_)softmax with dim=0: pointnet.pytorch's classifier — name the activation."""
    columns = outputs.reshape(len(outputs), -1).T  # one row per output, over the batch's samples
    if log_probability_rows(columns) or normalised_axis([columns]) == 1:
        return [(C.OUTPUT_ACTIVATION,
                 f"the outputs are normalised over the batch: for every output, its {len(outputs)} samples' values "
                 "(exponentiated, for log-probabilities) sum to 1 — a softmax or log_softmax over dim 0, the batch, "
                 "not over the classes (dim=1): each sample's scores then depend on the rest of the batch, and the "
                 f"loss of all-zero outputs is {fmt(reference)} where a cross-entropy of logits costs ln C")]
    return [(C.LOSS_MISMATCH,
             f"the loss of all-zero outputs on these class targets is {fmt(reference)}, where a cross-entropy of "
             "logits costs ln C: the loss reads the outputs as something else — NLLLoss takes log-probabilities "
             "(log_softmax over the classes before it), and the outputs are not log-probabilities")]


def _loss_on_zero_targets(session: Any, raw_x: Any, y: np.ndarray, outputs: np.ndarray) -> float:
    """The loss of ``outputs`` against all-zero targets of the batch's shape and dtype (NaN when
    the targets cannot be rebuilt)."""
    try:
        return session.loss_of(outputs, session.prepare(raw_x, np.zeros_like(y)))
    except Exception:
        return float("nan")
