"""gradients_flow: one step reaches and changes every trainable parameter, and no frozen one."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck import diagnosis
from pytest_mlcheck.causes import Evidence
from pytest_mlcheck.checks.common import checked_batch, require_trainable
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec, check
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.thresholds import EXPLODING_SCALE, VANISHING_RATIO


def _layer(name: str) -> str:
    for sep in ("/", "."):
        if sep in name:
            return name.rsplit(sep, 1)[0]
    return name


def layer_norms(grads: dict[str, np.ndarray | None]) -> dict[str, float]:
    """The global gradient norm of each layer (parameters grouped by their name's prefix)."""
    squares: dict[str, float] = {}
    for name, g in grads.items():
        value = float("nan") if g is None else float(np.sum(np.square(g.astype(np.float64))))
        squares[_layer(name)] = squares.get(_layer(name), 0.0) + value
    return {layer: s ** 0.5 for layer, s in squares.items()}


def relative_scale(grads: dict[str, np.ndarray | None], values: dict[str, np.ndarray]) -> dict[str, float]:
    """|gradient| / |weight| for each weight matrix or kernel (2+ dimensions) with a gradient:
    biases and norm scales are left out, as a bias right before a normalisation gets ~0 by design."""
    scales = {}
    for name, g in grads.items():
        w = values.get(name)
        if g is None or w is None or w.ndim < 2 or not np.isfinite(g).all():
            continue
        scales[name] = float(np.linalg.norm(g)) / (float(np.linalg.norm(w)) + 1e-12)
    return scales


def gradient_causes(grads: dict[str, np.ndarray | None], values: dict[str, np.ndarray]) -> list[Evidence]:
    """What the gradients alone say: missing, non-finite, zero, or far out of scale with the rest."""
    missing = [n for n, g in grads.items() if g is None]
    nonfinite = [n for n, g in grads.items() if g is not None and not np.isfinite(g).all()]
    zero = [n for n, g in grads.items() if g is not None and np.isfinite(g).all() and not np.any(g)]
    causes: list[Evidence] = []
    if missing:
        causes.append((C.NO_GRADIENT, f"{len(missing)} trainable parameter(s) get no gradient from the loss "
                                      f"(unused, or cut by a detach / numpy round trip): {diagnosis.listed(missing)}"))
    if nonfinite:
        causes.append((C.EXPLODING_GRADIENTS, f"non-finite gradients in {diagnosis.listed(nonfinite)}"))
    if zero:
        causes.append((C.DEAD_UNITS, f"the gradient is exactly 0 for {diagnosis.listed(zero)}: the units after them never "
                                     "activate (dead ReLUs, saturated activations) or their output is unused"))
    scales = relative_scale(grads, values)
    if scales:
        top = max(scales.values())
        high = [n for n, v in scales.items() if v > EXPLODING_SCALE]
        low = [n for n, v in scales.items() if v < top * VANISHING_RATIO]
        if high:
            causes.append((C.EXPLODING_GRADIENTS,
                           f"|grad| is over ×{EXPLODING_SCALE:g} |weight| in {diagnosis.listed(high)} (up to "
                           f"×{fmt(max(scales[n] for n in high))}): one plain SGD step at lr 0.1 would overshoot "
                           "the weights"))
        if low:
            causes.append((C.VANISHING_GRADIENTS,
                           f"|grad|/|weight| in {diagnosis.listed(low)} is under {VANISHING_RATIO:g} of the largest layer's "
                           f"({fmt(min(scales[n] for n in low))} vs {fmt(top)}): those layers barely learn"))
    return causes


@check()
def gradients_flow(
    run: CheckRun,
    model: Any,
    batch: Any,
    *,
    loss_fn: Callable | None = None,
    optimizer: Any = None,
    train_step: Callable | None = None,
    output: Any = None,
    seed: int | None = None,
    device: str | None = None,
    max_seconds: float | None = None,
) -> CheckResult:
    """After one training step on a copy, every trainable parameter got a finite, non-zero
    gradient and changed, and the optimizer covers it; frozen parameters stayed put. The
    message lists per-layer gradient norms and names dead, vanishing or exploding layers."""
    spec = TrainSpec(loss_fn=loss_fn, optimizer=optimizer, train_step=train_step, output=output)
    raw = checked_batch(run, batch)
    with run.session(model, spec, explain=raw) as session:
        prepared = session.prepare(*raw)
        require_trainable(run, session)
        before = session.parameter_values()
        frozen_before = session.frozen_values()
        grads = session.gradients(prepared) if train_step is None else None
        loss = session.train_step(prepared)
        if grads is None:
            grads = diagnosis.step_gradients(session, run.result.notes)
        after = session.parameter_values()
        frozen_after = session.frozen_values()
        run.record_losses([loss])
        uncovered = session.uncovered_parameters()
        # a parameter with no gradient, or a zero one, is reported as such, not again as unchanged
        silent = {n for n, g in (grads or {}).items() if g is None or not np.any(g)}
        unchanged = [n for n in before if n not in uncovered and n not in silent and np.array_equal(before[n], after[n])]
        moved_frozen = [n for n in frozen_before if not np.array_equal(frozen_before[n], frozen_after[n])]
        norms = layer_norms(grads) if grads else {}
        run.result.figures["trainable_tensors"] = len(before)
        if frozen_before:
            run.result.figures["frozen_tensors"] = len(frozen_before)
        if norms:
            run.result.figures["gradient_norm_per_layer"] = norms
        causes: list[Evidence] = diagnosis.uncovered(uncovered)
        found = gradient_causes(grads, before) if grads else []
        if any(c == C.EXPLODING_GRADIENTS for c, _ in found) or not np.isfinite(loss):
            causes += diagnosis.inputs_not_finite(session.inputs(prepared))
            causes += diagnosis.input_scale(session.inputs(prepared))
        causes += found
        if unchanged and not any(c == C.PARAMS_NOT_UPDATED for c, _ in causes):
            causes.append((C.PARAMS_NOT_UPDATED, f"{len(unchanged)} trainable parameter(s) did not change in a "
                                                 f"step: {diagnosis.listed(unchanged)}"))
        if moved_frozen:
            causes.append((C.FROZEN_PARAMS_CHANGED, f"{len(moved_frozen)} frozen parameter(s) changed in a step: "
                                                    f"{diagnosis.listed(moved_frozen)}"))
        if not causes:
            return run.passed()
        headline = {
            C.PARAMS_NOT_UPDATED: "some trainable parameters were not updated by a training step",
            C.NO_GRADIENT: "some trainable parameters get no gradient",
            C.EXPLODING_GRADIENTS: "the gradients explode",
            C.DEAD_UNITS: "some parameters get an all-zero gradient",
            C.VANISHING_GRADIENTS: "the gradients vanish in some layers",
            C.FROZEN_PARAMS_CHANGED: "frozen parameters changed in a training step",
            C.INPUTS_NOT_FINITE: "the gradients are not finite: the batch holds NaN or inf",
            C.INPUTS_NOT_NORMALIZED: "the gradients explode on inputs far from unit scale",
        }.get(causes[0][0], "one training step does not reach every parameter")
        raise run.fail(headline, causes)
