"""output_range: finite outputs that fit the kind the loss expects (logits, probabilities, sigmoid)."""

from __future__ import annotations

from typing import Any, Callable, Literal

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck.causes import Evidence
from pytest_mlcheck.checks.common import check_count, finite_samples, open_session
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec, check
from pytest_mlcheck.data import input_batches
from pytest_mlcheck.errors import usage
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.targets import head_class_axis, normalised_axis, prediction_rows
from pytest_mlcheck.thresholds import SATURATED, SATURATION_SCALES, SUM_ATOL

KINDS = ("logits", "probabilities", "sigmoid")


def predict_all(run: CheckRun, model: Any, inputs: Any, output: Any) -> np.ndarray:
    """Eval-mode outputs of a copy over every input batch, as one numpy array (samples first)."""
    return predict_batches(run, model, input_batches(inputs), output)[0]


def predict_batches(run: CheckRun, model: Any, batches: list[Any], output: Any) -> tuple[np.ndarray, np.ndarray]:
    """Eval-mode outputs over every input batch, and per sample whether its inputs are all finite
    (True for inputs that are not one float array)."""
    outs, finite = [], []
    with run.session(model, TrainSpec(output=output), inference=True, explain=(batches[0], None)) as session:
        for x in batches:
            prepared = session.prepare(x)
            outs.append(session.predict(prepared))
            finite.append(finite_samples(session.inputs((prepared[0], None)), len(outs[-1])))
    return np.concatenate(outs, axis=0), np.concatenate(finite)


@check(strategy="inputs")
def output_range(
    run: CheckRun,
    model: Any,
    inputs: Any,
    *,
    output: Any = None,
    kind: Literal["logits", "probabilities", "sigmoid"] | None = None,
    low: float | None = None,
    high: float | None = None,
    num_classes: int | None = None,
    seed: int | None = None,
    device: str | None = None,
    max_seconds: float | None = None,
    examples: int | None = None,
) -> CheckResult:
    """Eval-mode outputs on ``inputs`` are finite and fit ``kind``: "logits" (not already
    probabilities, not all ≥ 0), "probabilities" (each in [0, 1], rows summing to 1) or
    "sigmoid" (each in [0, 1]); and/or lie within ``low``/``high``; and/or the head has
    ``num_classes`` outputs (one output, a binary head, is accepted for ``num_classes=2``). A head
    that scores every position of a sample ((N, T, C), (N, C, H, W), (N, H, W, C)) is read one
    position at a time, its class axis the one of ``num_classes`` outputs (or, unsaid, the one its
    probabilities sum to 1 along). The message names the worst sample and value. ``inputs`` may
    be a Hypothesis strategy: the check then runs on each drawn batch."""
    if kind is not None and kind not in KINDS:
        raise usage("kind", f"one of {', '.join(map(repr, KINDS))} or None", kind)
    if kind is None and low is None and high is None and num_classes is None:
        raise usage("kind", "kind= ('logits', 'probabilities' or 'sigmoid'), or low=/high= bounds, or num_classes=",
                    fix="Say what the outputs should be")
    for name, value in (("low", low), ("high", high)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise usage(name, "a number", value)
    if low is not None and high is not None and low > high:
        raise usage("low/high", "low ≤ high", fix=f"low={low} is above high={high}; swap them")
    num_classes = check_count(num_classes, "num_classes")
    batches = input_batches(inputs)
    out, finite_inputs = predict_batches(run, model, batches, output)
    run.result.figures["samples"] = len(out)
    if not finite_inputs.all():
        # Outputs are judged for finite inputs only: NaN or inf in, NaN out is no defect of the model.
        skipped = int((~finite_inputs).sum())
        run.figure("non_finite_inputs", skipped, f"non-finite inputs: {skipped} sample(s) with NaN or inf inputs, "
                                                 "not judged")
        if not finite_inputs.any():
            run.result.notes.append("every sample has non-finite inputs: nothing to judge")
            return run.passed()
    ids = np.flatnonzero(finite_inputs)  # messages name samples by their place in the inputs
    axis = head_class_axis(out.shape, num_classes, out[finite_inputs] if kind in ("probabilities", "logits") else None)
    flat = prediction_rows(out[finite_inputs], axis).astype(np.float64)
    if axis is not None:  # a head that scores every position: one row per position, named by its sample
        positions = len(flat) // len(ids)
        ids = np.repeat(ids, positions)
        run.figure("class_axis", axis, f"class axis: {axis} (each of the {positions} positions of a sample read as "
                                       "one row)")
    run.result.figures["output_shape"] = tuple(out.shape)
    finite = np.isfinite(flat)
    if flat.size and finite.any():
        shown = flat[finite]
        run.figure("output_min", float(shown.min()), f"range: {fmt(float(shown.min()))}..{fmt(float(shown.max()))}")
        run.figure("output_max", float(shown.max()), "")
    if not finite.all():
        i = int(np.argwhere(~finite.all(axis=1))[0][0])
        j = int(np.argwhere(~finite[i])[0][0])
        raise run.fail(f"{int((~finite).sum())} non-finite output value(s) for finite inputs; first in sample "
                       f"{ids[i]}: {flat[i, j]}",
                       [(C.OUTPUTS_NOT_FINITE, f"sample {ids[i]}, output {j} is {flat[i, j]} though its inputs are finite")])
    width = flat.shape[1]
    if num_classes is not None and width == 1 and num_classes == 2:
        run.figure("binary_head", True, "head: one output for two classes (a binary logit or probability)")
    elif num_classes is not None and width != num_classes:
        raise run.fail(f"the head has {width} output(s) per sample (shape {tuple(out.shape)}), expected "
                       f"num_classes={num_classes}",
                       [(C.HEAD_WIDTH, f"{width} outputs per sample for {num_classes} classes")])
    if kind == "probabilities":
        _probabilities(run, flat, ids, out[finite_inputs], 1 if axis is None else axis)
    elif kind == "sigmoid":
        _unit_interval(run, flat, ids, "sigmoid outputs must lie in [0, 1]",
                       [(C.OUTPUT_ACTIVATION, "a softmax over one unit is always 1; use a sigmoid")])
    elif kind == "logits":
        _logits(run, flat, ids, lambda: _scaled_outputs(run, model, batches, output),
                lambda: _negated_outputs(run, model, batches, output))
        if width == 1:
            _one_logit(run, model, batches, output, flat)
    if low is not None or high is not None:
        lo = -np.inf if low is None else float(low)
        hi = np.inf if high is None else float(high)
        _bounded(run, flat, ids, lo, hi, f"outputs must lie in [{fmt(lo)}, {fmt(hi)}]")
    return run.passed()


def _worst(excess: np.ndarray) -> tuple[int, int]:
    i, j = np.unravel_index(int(np.argmax(excess)), excess.shape)
    return int(i), int(j)


def _bounded(run: CheckRun, flat: np.ndarray, ids: np.ndarray, lo: float, hi: float, rule: str) -> None:
    excess = np.maximum(lo - flat, flat - hi)
    if (excess > 0).any():
        i, j = _worst(excess)
        bad = int((excess > 0).sum())
        causes = []
        if lo == 0.0 and hi == 1.0:
            causes.append((C.OUTPUT_ACTIVATION, f"values outside [0, 1] (worst {fmt(flat[i, j])}): the last "
                                                "layer has no sigmoid, or returns logits"))
        raise run.fail(f"{rule}; {bad} value(s) outside, worst sample {ids[i]}, output {j}: {fmt(flat[i, j])}", causes)


def _unit_interval(run: CheckRun, flat: np.ndarray, ids: np.ndarray, rule: str, always_one: list[Evidence]) -> None:
    """Each value in [0, 1]; a one-unit head that is exactly 1.0 everywhere (a softmax over one
    unit) fails with ``always_one``."""
    _bounded(run, flat, ids, 0.0, 1.0, rule)
    if flat.shape[1] == 1 and len(flat) > 1 and np.allclose(flat, 1.0, rtol=0, atol=1e-6):
        raise run.fail("every output is 1.0", always_one)


def _probabilities(run: CheckRun, flat: np.ndarray, ids: np.ndarray, out: np.ndarray, class_axis: int) -> None:
    """``out``: the outputs in the model's layout, whose ``class_axis`` the rows of ``flat`` run along."""
    if flat.shape[1] == 1:  # a binary head's probability of the positive class, judged as a sigmoid's
        run.result.notes.append("one output per sample: read as the probability of the positive class "
                                "(as kind='sigmoid')")
        _unit_interval(run, flat, ids, "probabilities must lie in [0, 1]", [
            (C.HEAD_WIDTH, "one output per sample, always 1: a softmax over one unit"),
            (C.OUTPUT_ACTIVATION, "a softmax over one unit is always 1; use a sigmoid, or two outputs")])
        return
    _bounded(run, flat, ids, 0.0, 1.0, "probabilities must lie in [0, 1]")
    sums = flat.sum(axis=1)
    off = np.abs(sums - 1.0)
    if (off > SUM_ATOL).any():
        i = int(np.argmax(off))
        evidence = f"row {ids[i]} sums to {fmt(float(sums[i]))}"
        elsewhere = normalised_axis([out])
        if elsewhere is not None and elsewhere != class_axis:
            evidence += (f": the outputs sum to 1 over axis {elsewhere} (length {out.shape[elsewhere]}) instead, at "
                         f"every position: a softmax over the wrong axis (Keras's default axis=-1 on a channels-first "
                         f"tensor?); normalise over the classes' axis {class_axis}")
        elif np.all(flat >= 0) and np.all(flat <= 1):
            evidence += (": each value in [0, 1] but rows do not sum to 1 (a sigmoid where a softmax belongs? "
                         "If each output is a probability of its own — one sigmoid per label, pixel or "
                         "keyword — the kind is 'sigmoid')")
        raise run.fail(f"rows must sum to 1; worst sample {ids[i]} sums to {fmt(float(sums[i]))}",
                       [(C.OUTPUT_ACTIVATION, evidence)])
    sharp = np.sort(flat, axis=1)[:, -1]
    run.figure("max_probability_min", float(sharp.min()),
               f"max probability: {fmt(float(sharp.min()))}..{fmt(float(sharp.max()))}")
    run.figure("max_probability_max", float(sharp.max()), "")


def _logits(run: CheckRun, flat: np.ndarray, ids: np.ndarray, scaled: Callable[[], np.ndarray | None],
            negated: Callable[[], np.ndarray | None]) -> None:
    """Rows of logits that are probabilities, or all ≥ 0 (a ReLU, sigmoid or softplus head). Outputs
    all above 0 with no exact zero (no ReLU floor) may be a head whose bias starts positive (a torch
    convolution with one output channel starts at its bias, 0.22), or a linear head on non-negative
    features whose weights happen to give every output above 0 (two classes after pooled ReLU
    features, one init in four): ``scaled`` gives the outputs with the inputs scaled up, ``negated``
    those with the last weighted layer's pre-activation negated (None where they cannot be read), and
    any that goes below 0 clears the head: no activation bounds it below."""
    if flat.shape[1] >= 2 and np.all(flat >= 0) and np.allclose(flat.sum(axis=1), 1.0, atol=SUM_ATOL):
        raise run.fail("the outputs are probabilities (rows in [0, 1] summing to 1), not logits",
                       [(C.OUTPUT_ACTIVATION, "a softmax is applied in the model; a logits loss applies its own"),
                        (C.LOSS_MISMATCH, "probabilities fed to a loss that expects logits train poorly")])
    # judged across distinct output rows only: one input (or a batch of identical ones) may
    # happen to get non-negative logits from a correct head
    if len(np.unique(flat, axis=0)) > 1 and flat.shape[1] >= 2 and np.all(flat >= 0):
        probes = ((scaled, f"with the inputs scaled ×{SATURATION_SCALES[0]:g}..×{SATURATION_SCALES[-1]:g}",
                   "its outputs start on a positive bias"),
                  (negated, "with the last weighted layer's pre-activation negated",
                   "its weights happen to give every output above 0 at this init"))
        for probe, how, why in probes if np.all(flat > 0) else ():
            seen = probe()
            if seen is not None and seen.size and seen.min() < 0:
                run.result.notes.append(f"every output is above 0 here (min {fmt(float(flat.min()))}), but {how} "
                                        f"some reach {fmt(float(seen.min()))}: no activation bounds the head below; {why}")
                return
        raise run.fail(f"every logit is ≥ 0 (min {fmt(float(flat.min()))}); logits are unbounded reals",
                       [(C.OUTPUT_ACTIVATION, "an activation such as ReLU or sigmoid on the last layer")])


def _scaled_outputs(run: CheckRun, model: Any, batches: list[Any], output: Any) -> np.ndarray | None:
    """The finite outputs for the same float inputs scaled by each of SATURATION_SCALES (one pass of one
    copy), as float64; None where the inputs are not one float array each (ids cannot be scaled) or the
    model raised on them."""
    if not all(_float_array(x) for x in batches):
        return None
    scaled = [x * f for f in SATURATION_SCALES for x in batches]
    return _probe_outputs(run, model, scaled, output, lambda session, x: session.predict(session.prepare(x)))


def _negated_outputs(run: CheckRun, model: Any, batches: list[Any], output: Any) -> np.ndarray | None:
    """The finite outputs with the last weighted layer's pre-activation negated (one pass of one copy
    per batch), as float64; None where the backend cannot say or the probe raised."""
    return _probe_outputs(run, model, batches, output, lambda session, x: session.negated_head(session.prepare(x)))


def _probe_outputs(run: CheckRun, model: Any, batches: list[Any], output: Any,
                   read: Callable[[Any, Any], np.ndarray | None]) -> np.ndarray | None:
    """What ``read`` gives on each batch in an inference session of the probe's own, flat, finite, as
    float64; None where it gives nothing or raises. The probes build inputs or heads the user never
    runs (inputs ×1000, a negated layer): an error there is no defect of the model, so it leaves the
    verdict to the outputs on the inputs as given."""
    try:
        session = open_session(model, run.settings, TrainSpec(output=output), inference=True)
        try:
            outs = [read(session, x) for x in batches]
        finally:
            session.close()
    except Exception:
        return None
    if any(o is None for o in outs):
        return None
    flat = np.concatenate([np.asarray(o, dtype=np.float64).reshape(-1) for o in outs])
    return flat[np.isfinite(flat)]


def _float_array(x: Any) -> bool:
    """One float array or tensor (not ids, not several inputs): what can be scaled."""
    return hasattr(x, "shape") and "float" in str(getattr(x, "dtype", ""))


def _one_logit(run: CheckRun, model: Any, batches: list[Any], output: Any, flat: np.ndarray) -> None:
    """A single output read as a logit but lying in [0, 1] on every input is ambiguous: a fresh
    binary head often starts there. Run on the same float inputs scaled ×10, ×100, ×1000, an
    unbounded head leaves [0, 1] as its pre-activations grow; a sigmoid presses against 0 or 1 and
    never crosses — decisive. Inputs the model only reads through a normalisation do not move
    the outputs, and prove nothing either way."""
    if not (flat.min() >= 0.0 and flat.max() <= 1.0) or len(np.unique(flat)) < 2:
        return
    seen = _scaled_outputs(run, model, batches, output)
    if seen is None or not seen.size or seen.min() < 0.0 or seen.max() > 1.0:
        return  # unbounded
    low, high = min(float(flat.min()), float(seen.min())), max(float(flat.max()), float(seen.max()))
    if low > SATURATED and high < 1.0 - SATURATED:
        return
    run.figure("scaled_output_range", (low, high), f"with the inputs scaled up to ×{SATURATION_SCALES[-1]:g}: "
                                                   f"{fmt(low)}..{fmt(high)}, never outside [0, 1]")
    raise run.fail("the single output is bounded to [0, 1] (a sigmoid), not a logit",
                   [(C.OUTPUT_ACTIVATION,
                     f"with the inputs scaled ×{SATURATION_SCALES[0]:g}..×{SATURATION_SCALES[-1]:g} the output presses "
                     f"against the bounds ({fmt(low)}..{fmt(high)}) and never leaves [0, 1], where a logit grows with "
                     "its pre-activation: a sigmoid on the last layer before a loss that applies its own "
                     "(BCEWithLogitsLoss, from_logits=True)")])
