"""gradients_flow: one step reaches and changes every trainable parameter, and no frozen one."""

from __future__ import annotations

import re
from typing import Any, Callable

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck import diagnosis
from pytest_mlcheck.backends import backend_for
from pytest_mlcheck.causes import Evidence
from pytest_mlcheck.errors import NotSupported, UserCodeError
from pytest_mlcheck.checks.common import (
    FLAT_AT_OUTPUTS, checked_batch, dropped_in_training, error_signal, flat_at_outputs, open_session, require_trainable,
    scaled_inputs, targets_of, unread_columns,
)
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec, check
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.targets import Targets
from pytest_mlcheck.thresholds import (
    CANCELLED_RTOL, CANCELLED_SHIFTS, CANCELLED_SIGNAL_SHARE, CROSS_ENTROPY_SIGNAL, EXPLODING_SCALE, FAINT_GRADIENT,
    NO_PATH_MAX_ASKED, NO_PATH_RTOL, ROUNDING_CUT_GAIN, ROUNDING_PROBE_LR, SETTLE_STEPS, VANISHING_RATIO,
)


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


def _judged_weights(grads: dict[str, np.ndarray | None], values: dict[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray, float]]:
    """(gradient, weight, scale) of each weight matrix or kernel (2+ dimensions) with a finite
    gradient. The scale is the larger of the tensor's own norm and the norm it would have at the
    network's median weight RMS: a tensor started at or near zero on purpose (a ViT class token
    drawn with std 1e-6) has no scale of its own yet, and judged on its own it would "explode" by
    ×1e4. Biases and norm scales are left out: a bias right before a normalisation gets ~0 by design."""
    weights = {n: values[n].astype(np.float64) for n, g in grads.items()
               if g is not None and n in values and values[n].ndim >= 2 and np.isfinite(g).all()}
    if not weights:
        return {}
    typical = float(np.median([np.sqrt(np.mean(np.square(w))) for w in weights.values()]))
    return {n: (grads[n].astype(np.float64), w, max(float(np.linalg.norm(w)), typical * float(np.sqrt(w.size))))
            for n, w in weights.items()}


def relative_scale(grads: dict[str, np.ndarray | None], values: dict[str, np.ndarray]) -> dict[str, float]:
    """|gradient| / scale of each weight tensor, in parameter order (see _judged_weights)."""
    return {n: float(np.linalg.norm(g)) / (s + 1e-12) for n, (g, w, s) in _judged_weights(grads, values).items()}


def radial_scale(grads: dict[str, np.ndarray | None], values: dict[str, np.ndarray]) -> dict[str, float]:
    """|<gradient, weight / |weight|>| / scale: the part of the gradient that changes the weight's
    own norm. Behind a normalisation (BatchNorm, LayerNorm) the loss does not depend on a weight's
    scale, so its gradient is orthogonal to it (<g, w> = 0 up to rounding): a large gradient there
    only grows the weight, which damps the next steps (Arora et al. 2018), and is no explosion."""
    out = {}
    for n, (g, w, s) in _judged_weights(grads, values).items():
        norm = float(np.linalg.norm(w))
        out[n] = abs(float(np.sum(g * w))) / (norm + 1e-30) / (s + 1e-12) if norm > 0 else 0.0
    return out


def gradient_flags(grads: dict[str, np.ndarray | None], values: dict[str, np.ndarray], signal: float | None = None,
                   radial: dict[str, float] | None = None, lookups: set[str] | frozenset[str] = frozenset(),
                   ) -> tuple[dict[str, list[str]], dict[str, float], dict[str, float]]:
    """The parameters each gradient cause points at, from one set of gradients (``values`` are the
    weights they were taken at), with the relative and radial scales judged. Flag keys: 'missing',
    'nonfinite', 'zero', 'exploding', 'vanishing'.

    Exploding: the radial relative gradient (radial_scale) over EXPLODING_SCALE, divided by the
    loss's error signal per sample (``signal``, see error_signal) over a cross-entropy's bound where it
    is larger: a large error (raw regression targets) is not a gain of the network. Vanishing is
    judged across depth, in parameter order (input end first): the leading weight tensors with a
    non-zero gradient under VANISHING_RATIO of the best-fed tensor's relative gradient, i.e. the
    gradient does not reach the input end (an all-zero gradient is judged as dead, with settling).
    A small gradient in the middle of a network whose input end still learns (attention query/key
    at init, behind a residual stream) is not vanishing. Lookup tables (``lookups``) are never
    flagged for it, though a well-fed one ends the walk as any tensor does (behind it, a Keras
    attention block's query/key kernels at init are the middle of the network, not its input end):
    their gradient is their output's gathered into the rows a batch reads, multiplied by no input,
    so its size relative to the table says how large the table was drawn (N(0, 1) by torch's
    default, ±1 in review recommenders: 20× a dense layer's weights) and how many rows were read, not
    how far the error signal came; the layers that read their rows show a fade. For the same reason
    a table is never flagged as exploding: torch-rechub draws its tables N(0, 10⁻⁴), so a first step's
    gradient is ×60 their size while its dense layers' is ×0.1. ``radial``:
    radial_scale(grads, values) when the caller has it already."""
    zero = [n for n, g in grads.items() if g is not None and np.isfinite(g).all() and not np.any(g)]
    scales = relative_scale(grads, values)
    radial = radial_scale(grads, values) if radial is None else radial
    if signal is not None and signal > CROSS_ENTROPY_SIGNAL:  # see thresholds.CROSS_ENTROPY_SIGNAL
        radial = {n: v * CROSS_ENTROPY_SIGNAL / signal for n, v in radial.items()}
    flags: dict[str, list[str]] = {
        "missing": [n for n, g in grads.items() if g is None],
        "nonfinite": [n for n, g in grads.items() if g is not None and not np.isfinite(g).all()],
        "zero": zero, "exploding": [n for n, v in radial.items() if v > EXPLODING_SCALE and n not in lookups],
        "vanishing": []}
    live = {n: v for n, v in scales.items() if n not in zero}  # dicts keep parameter order
    top = best_fed(live, lookups)
    for name, v in live.items():
        if v >= top * VANISHING_RATIO:  # a well-fed table ends the walk as any tensor does
            break
        if name not in lookups:
            flags["vanishing"].append(name)
    return flags, live, radial


def input_end_ratio(live: dict[str, float], lookups: set[str] | frozenset[str] = frozenset()) -> float:
    """The input-end tensor's relative gradient over the best-fed tensor's (the vanishing figure); the
    input end is the first tensor that is no lookup table (see gradient_flags)."""
    top = best_fed(live, lookups)
    first = next((v for n, v in live.items() if n not in lookups), None)
    return first / top if top > 0 and first is not None else 0.0


def best_fed(live: dict[str, float], lookups: set[str] | frozenset[str] = frozenset()) -> float:
    """The largest relative gradient of a tensor that is no lookup table: the bar vanishing is measured
    against. A table's relative gradient says how small it was drawn (torch-rechub's N(0, 10⁻⁴) tables
    read ×10⁵ on a first step), not how well the error signal feeds it, so it sets no bar for the
    layers that multiply their inputs. Where every tensor is a table, the largest of them."""
    fed = [v for n, v in live.items() if n not in lookups]
    return max(fed or live.values(), default=0.0)


# a deliberate initialisation (a residual block's last BatchNorm scale at 0) zeroes the gradient of
# the layers before it on the first step only: the next steps move the scale and clear the flag
SETTLING = ("zero",)


def gradient_causes(flags: dict[str, list[str]], scales: dict[str, float], radial: dict[str, float],
                    settled: int = 0, signal: float | None = None,
                    lookups: set[str] | frozenset[str] = frozenset()) -> list[Evidence]:
    """Evidence for the flags that stood (``scales``, ``radial``: the first step's figures; ``lookups``:
    the tables that set no bar for vanishing, see best_fed)."""
    causes: list[Evidence] = []
    still = f" (still after {settled} more steps)" if settled else ""
    if flags["missing"]:
        causes.append((C.NO_GRADIENT, f"{len(flags['missing'])} trainable parameter(s) get no gradient from the loss "
                                      f"(unused, or cut by a detach / numpy round trip): {diagnosis.listed(flags['missing'])}; "
                                      "a part unused by design (a branch this configuration skips) can be "
                                      "passed as frozen= to say so"))
    if flags["nonfinite"]:
        causes.append((C.EXPLODING_GRADIENTS, f"non-finite gradients in {diagnosis.listed(flags['nonfinite'])}"))
    if flags["zero"]:
        causes.append((C.DEAD_UNITS, f"the gradient is exactly 0 for {diagnosis.listed(flags['zero'])}{still}: the units "
                                     "after them never activate (dead ReLUs, saturated activations) or their output is unused"))
    high, low = flags["exploding"], flags["vanishing"]
    if high:
        causes.append((C.EXPLODING_GRADIENTS,
                       f"the gradient along the weights is over ×{EXPLODING_SCALE:g} |weight| in "
                       f"{diagnosis.listed(high)} (up to ×{fmt(max(radial.get(n, 0.0) for n in high))}): one plain "
                       "SGD step at lr 0.1 would overshoot the weights' own scale"
                       + (f" (figures per unit of a cross-entropy's error signal: your loss's is ×{fmt(signal)})"
                          if signal is not None and signal > CROSS_ENTROPY_SIGNAL else "")))
    if low and scales:
        causes.append((C.VANISHING_GRADIENTS,
                       f"|grad|/|weight| from the input end up to {low[-1]} ({len(low)} weight tensor(s)) is under "
                       f"{VANISHING_RATIO:g} of the largest layer's ({fmt(min(scales.get(n, 0.0) for n in low))} vs "
                       f"{fmt(best_fed(scales, lookups))}): the gradient does not reach the first layers"))
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
    frozen: Any = None,
    seed: int | None = None,
    device: str | None = None,
    max_seconds: float | None = None,
) -> CheckResult:
    """After one training step on a copy, every trainable parameter got a finite, non-zero
    gradient and changed, and the optimizer covers it; frozen parameters stayed put. The
    message lists per-layer gradient norms and names dead, vanishing or exploding layers.
    ``frozen``: parts of the model meant to stay as they are — a module or layer, a parameter or
    variable, a prefix of their names, or a list of these; a trainable weight under them that the
    step changes fails as ``frozen_params_changed``, and none of them is asked to get a gradient
    or to change."""
    spec = TrainSpec(loss_fn=loss_fn, optimizer=optimizer, train_step=train_step, output=output)
    raw = checked_batch(run, batch)
    meant = backend_for(model).weights_under(model, frozen, argument="frozen") if frozen is not None else {}
    with run.session(model, spec, explain=raw) as session:
        prepared = session.prepare(*raw)
        require_trainable(run, session, prepared)
        before = session.parameter_values()
        frozen_before = session.frozen_values()
        kept = [n for n in before if n in meant]  # trainable weights the call says must stay
        grads = _without(session.gradients(prepared), meant) if train_step is None else None
        # the error signal is read from the outputs before the step (after a diverging step it is huge)
        radial = radial_scale(grads, before) if grads else None
        may_explode = any(v > EXPLODING_SCALE for v in (radial or {}).values())
        # a train_step= shows its gradients only after the step: the signal is read before it all the same
        signal = error_signal(session, prepared) if may_explode or train_step is not None else None
        if train_step is not None:  # (gradients() read them on the way) whether the step moves tensors outside
            session.note_foreign(prepared)
        loss = session.train_step(prepared)
        if grads is None:
            grads = _without(diagnosis.step_gradients(session, run.result.notes), meant)
        after = session.parameter_values()
        frozen_after = session.frozen_values()
        run.record_losses([loss])
        uncovered = [n for n in session.uncovered_parameters() if n not in meant]
        # a parameter with no gradient, or a zero one, is reported as such, not again as unchanged
        silent = {n for n, g in (grads or {}).items() if g is None or not np.any(g)}
        unchanged = [n for n in before if n not in uncovered and n not in silent and n not in meant
                     and np.array_equal(before[n], after[n])]
        moved_frozen = diagnosis.moved(frozen_before, frozen_after)
        flagged = session.flagged_frozen()
        moved_flagged = diagnosis.moved(before, after, flagged)
        norms = layer_norms(grads) if grads else {}
        run.result.figures["trainable_tensors"] = len(before)
        if frozen_before:
            run.result.figures["frozen_tensors"] = len(frozen_before)
        if meant:
            run.figure("frozen_given", len(meant), f"frozen=: {len(meant)} weight tensor(s) under "
                       f"{diagnosis.listed(sorted(set(meant.values())))}, {len(kept)} of them trainable")
        if norms:
            run.result.figures["gradient_norm_per_layer"] = norms
        # tensors the loss reaches outside the model's parameters (layers in a plain list) get a gradient
        # every step and never change: as much a part no step trains as a parameter the optimizer misses
        unregistered = diagnosis.unregistered_in(session, prepared)
        causes: list[Evidence] = diagnosis.uncovered(uncovered) + unregistered
        if moved_flagged:  # decisive: the user said freeze, the step moved them
            modules = sorted(set(flagged[n] for n in moved_flagged))
            causes.append((C.FROZEN_PARAMS_CHANGED,
                           f"{len(moved_flagged)} parameter(s) under {diagnosis.listed(modules)} changed in a step, though "
                           "`requires_grad = False` was set on the module: on a module (a torch nn.Module, a Keras "
                           "layer) that is a plain attribute and freezes nothing; call module.requires_grad_(False), "
                           "set requires_grad on each parameter, or (Keras) layer.trainable = False"))
        moved_meant = [n for n in diagnosis.moved(before, after, kept) if n not in moved_flagged]
        if moved_meant:  # decisive: the call says these stay, the step moved them
            causes.append((C.FROZEN_PARAMS_CHANGED,
                           f"{len(moved_meant)} of the {len(kept)} trainable weight tensor(s) under "
                           f"{diagnosis.listed(sorted(set(meant[n] for n in moved_meant)))}, passed as frozen=, changed "
                           f"in a step: {diagnosis.listed(moved_meant)}; they are trainable and the optimizer updated "
                           "them: freeze them before the optimizer is built (torch: module.requires_grad_(False)) or "
                           "the model is compiled (Keras: layer.trainable = False)"))
        grads = _trained_elsewhere(run, grads, before, after)
        unseen: list[str] = []  # all-zero biases whose shift the loss does not see
        found = _judged(run, session, raw, prepared, train_step, grads, before, signal, radial, unseen) if grads else []
        if any(c == C.EXPLODING_GRADIENTS for c, _ in found) or not np.isfinite(loss):
            x = session.inputs(prepared)
            causes += diagnosis.inputs_not_finite(x)
            causes += diagnosis.raw_inputs(scaled_inputs(session, prepared, x))
        if any(c in (C.EXPLODING_GRADIENTS, C.VANISHING_GRADIENTS) for c, _ in found) or not np.isfinite(loss):
            causes += _raw_targets(session, raw, prepared)
        # gradients missing or all zero behind a path that drops every input in training are neither
        # dead units nor a cut graph (Keras gives such weights no gradient, torch an all-zero one)
        instead = _dropped_in_training(run, model, spec, raw) \
            if found and found[0][0] in (C.DEAD_UNITS, C.NO_GRADIENT) else []
        if not instead and found and found[0][0] == C.DEAD_UNITS:
            instead = _zero_explained(session, prepared, loss, grads, run.settings.seed)
        found = instead + found[1:] if instead else found
        causes += found
        if grads and not any(c == C.NO_GRADIENT for c, _ in causes):
            causes += _rounding_only(session, prepared, grads, before, run.settings.seed)
        faint = _faint(unchanged, grads or {}, before)
        unchanged = [n for n in unchanged if n not in faint]
        cancelled = _cancelled(session, prepared, faint, before, grads or {}, run.settings.seed)
        faint = [n for n in faint if n not in cancelled]
        cancelled += unseen
        if unchanged and diagnosis.moved(before, after):
            rounded = _rounded(run, model, spec, session, raw, unchanged)
            unchanged = [n for n in unchanged if n not in rounded]
        if faint and not any(c == C.VANISHING_GRADIENTS for c, _ in causes):
            causes.append((C.VANISHING_GRADIENTS, f"{len(faint)} trainable parameter(s) got a gradient too small for the "
                                                  f"step to change them in float32 (|grad|/|weight| under "
                                                  f"{FAINT_GRADIENT:g}): {diagnosis.listed(faint)}; the gradient fades on "
                                                  "its way to them (a small initialisation, saturated units)"))
        if unchanged and not any(c == C.PARAMS_NOT_UPDATED for c, _ in causes):
            causes.append((C.PARAMS_NOT_UPDATED, f"{len(unchanged)} trainable parameter(s) did not change in a "
                                                 f"step: {diagnosis.listed(unchanged)}"))
        if moved_frozen:
            causes.append((C.FROZEN_PARAMS_CHANGED, f"{len(moved_frozen)} frozen parameter(s) changed in a step: "
                                                    f"{diagnosis.listed(moved_frozen)}"))
        if not causes:
            if cancelled:  # on a pass only: behind a fading stack a faded bias leaves the float32 loss as still
                run.result.notes.append(f"{diagnosis.listed(cancelled)}: the training-mode loss stays put when its "
                                        "elements move (a normalisation over the batch right after removes them, as "
                                        "BatchNorm does a convolution's bias; a loss of differences between "
                                        "outputs of one network, as a siamese embedding's last bias): its "
                                        "gradient is 0 by design; "
                                        "bias=False (use_bias=False) drops the tensor")
            return run.passed()
        headline = {
            C.PARAMS_NOT_UPDATED: "some trainable parameters were not updated by a training step",
            C.NO_GRADIENT: "some trainable parameters get no gradient",
            C.EXPLODING_GRADIENTS: "the gradients explode",
            C.DEAD_UNITS: "some parameters get an all-zero gradient",
            C.CONTEXT_IGNORED: "the outputs the loss reads ignore a recurrent layer's state",
            C.VANISHING_GRADIENTS: "the gradients vanish in some layers",
            C.FROZEN_PARAMS_CHANGED: "frozen parameters changed in a training step",
            C.INPUTS_NOT_FINITE: "the gradients are not finite: the batch holds NaN or inf",
            C.INPUTS_NOT_NORMALIZED: "the gradients explode on inputs far from unit scale",
            C.TARGETS_NOT_NORMALIZED: "the gradients are out of scale on targets far beyond the outputs' scale",
            C.OVER_REGULARIZED: "no gradient reaches the layers behind a path that drops every input in training",
        }.get(causes[0][0], "one training step does not reach every parameter")
        if causes[0][1].startswith(FLAT_AT_OUTPUTS):
            headline = "the loss gives no gradient at the model's outputs"
        if unregistered and causes[0] == unregistered[0]:
            headline = "tensors that reach the loss are not parameters of the model: no step trains them"
        raise run.fail(headline, causes)


def _dropped_in_training(run: CheckRun, model: Any, spec: TrainSpec, raw: tuple[Any, Any]) -> list[Evidence]:
    """:func:`diagnosis.training_path_drops_inputs` on a fresh copy as given (its training-mode pass
    moves no statistics of the check's own copy): all-zero gradients behind a path that drops every
    input in training (a Dropout of rate 1) are no dead units."""
    with run.session(model, spec, explain=raw) as fresh:
        return dropped_in_training(fresh, raw)


def _zero_explained(session: Any, prepared: Any, loss: float, grads: dict[str, np.ndarray | None],
                    seed: int) -> list[Evidence]:
    """What all-zero gradients say in place of dead units, where something else explains them: a loss
    flat at the model's outputs, where every gradient is 0 (no unit is to blame); a recurrence read
    after its first step, where only state-to-state weights get none; layers whose outputs reach no
    output at all."""
    if all(g is None or not np.any(g) for g in grads.values()):
        return flat_at_outputs(session, prepared, loss, " in the step, where every parameter's gradient is exactly 0")
    return _recurrence_unread(grads) or _no_path(session, prepared, grads, seed)


# what cuts a layer off from the outputs, for the no_gradient evidence of the probes below
_CUT = ("noise of their own size added to them and to what they compute (the other probed layers' too) moves no "
        "output beyond float32 rounding (a softmax over an axis of one element is 1 whatever it is given, a "
        "normalisation over a single position gives its offset, a product with 0 drops it): the loss can never "
        "train them; check the axis each softmax or normalisation runs over, or pass the part as frozen= if it is "
        "unused by design")


def _cut_off(session: Any, prepared: Any, names: list[str], seed: int, *, one_by_one: bool = True,
             gains: tuple[float, ...] = (1.0,)) -> list[str]:
    """The named tensors whose layer reaches no output of the model (decisive — a softmax over an
    axis of one element is 1 whatever it is given, a normalisation over one position is its
    offset): with every named tensor moved by noise of its own size and noise of their own size
    added to its layer's pre-activations, no output moves beyond float32 rounding from the plain
    call (all of them cut), or from that noisy call when one layer's noise is drawn anew (that one
    cut; up to NO_PATH_MAX_ASKED). Dead units pass the noise on — noise of their pre-activations'
    own size wakes some —, and what blocks one layer's noise in another (a dead layer after it,
    weights after it started at 0) is moved by that one's own noise, so neither is read as cut.
    Only where two plain calls agree; none where a layer refuses the noise. ``one_by_one=False``: all
    of them or none; ``gains``: the noise's sizes (× their own) at which the whole set must move nothing."""
    if not names:
        return []
    try:
        plain = session.predict(prepared)
        if not _same(plain, session.predict(prepared)):
            return []
        noisy = session.noisy_outputs(prepared, names, seed)
        if noisy is None:
            return []
        if _same(plain, noisy) and all(_same(plain, session.noisy_outputs(prepared, names, seed, gain=gain))
                                       for gain in gains if gain != 1.0):
            return list(names)
        if not one_by_one or len(names) > NO_PATH_MAX_ASKED:
            return []
        return [n for n in names if _same(noisy, session.noisy_outputs(prepared, names, seed, redrawn=(n,)))]
    except (NotSupported, UserCodeError):  # a layer the noise breaks: no evidence
        return []


def _no_path(session: Any, prepared: Any, grads: dict[str, np.ndarray | None], seed: int) -> list[Evidence]:
    """``no_gradient`` for the tensors with an all-zero gradient that are cut off (_cut_off); the
    others keep the dead-units reading."""
    zero = sorted(n for n, g in grads.items() if g is not None and g.size and not np.any(g))
    cut = _cut_off(session, prepared, zero, seed)
    if not cut:
        return []
    rest = [n for n in zero if n not in cut]
    return [(C.NO_GRADIENT, f"the gradient is exactly 0 for {diagnosis.listed(cut)}, and nothing their layers compute "
                            f"reaches the model's outputs: {_CUT}")] + (
        [(C.DEAD_UNITS, f"the gradient is exactly 0 for {diagnosis.listed(rest)} too, whose layers do reach the "
                        "outputs: the units after them never activate (dead ReLUs, saturated activations), or they "
                        "scale a value that is always 0")] if rest else [])


def _rounding_only(session: Any, prepared: Any, grads: dict[str, np.ndarray | None], values: dict[str, np.ndarray],
                   seed: int) -> list[Evidence]:
    """``no_gradient`` for weight tensors whose gradient, not zero, is under VANISHING_RATIO of the
    best-fed tensor's (relative to their scale) and whose layer is cut off (_cut_off): what they get
    is float32 rounding (a softmax over one element computed as exp(x - max) / sum in Keras leaves
    ~10⁻⁷), which an adaptive optimizer still turns into steps. The whole set must be cut at once, at
    the noise's own size and at ROUNDING_CUT_GAIN times it: a weak path (a vanishing stack, a U-Net's
    bottleneck at init) grows with the noise. Small gradients of layers that reach the outputs
    (attention query/key at init) are left alone."""
    live = {n: v for n, v in relative_scale(grads, values).items() if v > 0}
    lookups = session.lookup_tables()
    top = best_fed(live, lookups)
    faint = [n for n, v in live.items() if n not in lookups and v < top * VANISHING_RATIO]
    cut = _cut_off(session, prepared, faint, seed, one_by_one=False, gains=(1.0, ROUNDING_CUT_GAIN))
    if not cut:
        return []
    worst = max(live[n] for n in cut) / top
    return [(C.NO_GRADIENT, f"the gradient of {diagnosis.listed(cut)} is float32 rounding, not a signal (|grad|/|weight| "
                            f"at most ×{fmt(worst)} the best-fed tensor's), and nothing their layers compute reaches "
                            f"the model's outputs: {_CUT}")]


def _same(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    """Equal but for float32 rounding (NO_PATH_RTOL of the larger magnitude), NaN where NaN."""
    if a is None or b is None or a.shape != b.shape:
        return False
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return False
    a, b = np.nan_to_num(a, nan=0.0), np.nan_to_num(b, nan=0.0)
    scale = float(np.max(np.abs(a), initial=0.0))
    return bool(np.all(a == b)) or bool(np.isfinite(scale) and np.max(np.abs(a - b)) <= NO_PATH_RTOL * scale)


_RECURRENT = (("weight_hh", "weight_ih"), ("recurrent_kernel", "kernel"))  # torch, Keras: state's, input's


def _recurrence_unread(grads: dict[str, np.ndarray | None]) -> list[Evidence]:
    """``context_ignored`` where every tensor with an all-zero gradient is a recurrent layer's
    state-to-state weight whose input weight beside it got a gradient: the outputs the loss reads
    never depend on a state carried from an earlier step — that recurrence is read after its first
    step only (a bidirectional layer's backward half taken at the last position, where it has read
    one step). Dead units would silence the input weight too."""
    zero = [n for n, g in grads.items() if g is not None and not np.any(g)]
    if not zero:
        return []
    for name in zero:
        partner = next((name.replace(state, given) for state, given in _RECURRENT if state in name), None)
        g = grads.get(partner) if partner is not None else None
        if g is None or not np.any(g):
            return []
    return [(C.CONTEXT_IGNORED, f"the gradient is exactly 0 for the state-to-state weights {diagnosis.listed(zero)}, "
                                "while their layers' input weights get one: the outputs the loss reads never depend "
                                "on a state carried from an earlier step, so that recurrence is read after its first "
                                "step only (a bidirectional layer's backward half taken at the last position, where "
                                "it has read one step: take its output at the first position, or the layer's final "
                                "state)")]


def _trained_elsewhere(run: CheckRun, grads: dict[str, np.ndarray | None] | None, before: dict[str, np.ndarray],
                       after: dict[str, np.ndarray]) -> dict[str, np.ndarray | None] | None:
    """The gradients without those of parameters the loss gives none yet the step changed: a step
    that trains several networks from losses of their own (a discriminator, the encoder of an
    adversarial VAE: wiseodd's AVB steps Q and P on the ELBO, then T on its own loss) reaches them
    outside the loss the check reads, and an optimizer moves no tensor without a gradient. A note
    names them; the tensors the step leaves unmoved are still judged."""
    if not grads:
        return grads
    moved = diagnosis.moved(before, after, [n for n, g in grads.items() if g is None])
    if not moved:
        return grads
    run.result.notes.append(f"{len(moved)} trainable parameter(s) get no gradient from the loss, yet the step "
                            f"changed them: it trains them from a loss of its own ({diagnosis.listed(moved)})")
    return {n: g for n, g in grads.items() if n not in moved}


def _without(grads: dict[str, np.ndarray | None] | None, meant: dict[str, str]) -> dict[str, np.ndarray | None] | None:
    """The gradients of the weights not passed as frozen=: those are not asked to get one."""
    return grads if not grads or not meant else {n: g for n, g in grads.items() if n not in meant}


def _unread(session: Any, raw: tuple[Any, Any], prepared: Any) -> list[Evidence]:
    """diagnosis.unread_outputs on the outputs now: tensors with an all-zero gradient behind output
    columns the loss never reads, whatever the targets say, are cut off by the loss, not dead."""
    try:
        return unread_columns(session, raw[0], prepared, np.asarray(session.predict(prepared)))
    except Exception:  # outputs or targets this reading cannot take: the gradient story stands alone
        return []


def _through_a_step(session: Any, raw: tuple[Any, Any], prepared: Any) -> list[Evidence]:
    """Evidence for an exactly zero gradient on every trainable tensor, the last layer's bias too,
    which no dead unit can silence: the targets' reading finds that the loss gives the outputs no
    gradient (``targets.decide``: flat around right and wrong outputs alike, read through a step).
    Empty where the targets cannot be read that way."""
    read = _targets_now(session, raw, prepared)
    return [] if read is None else [c for c in read[0].problems if c[0] == C.NO_GRADIENT]


def _targets_now(session: Any, raw: tuple[Any, Any], prepared: Any) -> tuple[Targets, np.ndarray] | None:
    """The targets as read at the model's outputs now (after the step), and those outputs; None
    where this reading cannot take them (an own training step's)."""
    try:
        outputs = session.predict(prepared)
        return targets_of(session, raw[0], prepared, outputs, None), outputs
    except Exception:  # targets this reading cannot take: nothing to add
        return None


def _raw_targets(session: Any, raw: tuple[Any, Any], prepared: Any) -> list[Evidence]:
    """Value targets beyond the model's outputs' scale by more than TARGET_MAX_SCALE
    (diagnosis.target_scale), read on a failure of the gradients' size: a value, named before the
    gradient story it explains. A loss whose terms do not all grow with the targets (a penalty on the
    weights, a term on other outputs) weighs its parameters by the targets' scale: AttentionWalk's
    degree-times-adjacency targets (×10¹⁴) leave its factor matrices ×10⁻⁶ of the attention's
    gradient. The outputs are read after the step: a step that blew them up hides the gap, never
    invents one."""
    read = _targets_now(session, raw, prepared)
    if read is None or read[0].task != "regression":
        return []
    return diagnosis.target_scale(session.labels(prepared), read[1], "the model's outputs after one step")


def _rounded(run: CheckRun, model: Any, spec: TrainSpec, session: Any, raw: tuple[Any, Any],
             names: list[str]) -> list[str]:
    """Of the tensors a step left unchanged while it moved others: those one step of a fresh copy at
    lr×1000 moves. Their update rounds away in float32 at the rate given (pytorch-deeplab-xception's
    SGD at 1e-6 leaves the biases in front of its batch norms, whose gradient is near 0 by design, as
    they were), which no optimizer that skips them would do; a note says so."""
    probe = open_session(model, run.settings, spec, within=session)
    try:
        prepared = probe.prepare(*raw)
        before = probe.parameter_values()
        probe.scale_lr(ROUNDING_PROBE_LR)
        probe.train_step(prepared)
        after = probe.parameter_values()
    except Exception:  # a step the probe cannot take: the tensors stay reported as not updated
        return []
    finally:
        probe.close()
    moved = diagnosis.moved(before, after, names)
    if moved:
        run.result.notes.append(f"{len(moved)} trainable parameter(s) did not change in the step, and one step at "
                                f"lr×{ROUNDING_PROBE_LR:g} moves them: at this learning rate their update rounds away "
                                f"in float32 ({diagnosis.listed(moved)})")
    return moved


def _typical_scale(values: dict[str, np.ndarray]) -> float:
    """The median RMS of the model's weight tensors (two axes or more): the scale a bias at 0 takes."""
    weights = [w for w in values.values() if w.ndim >= 2 and w.size]
    return float(np.median([np.sqrt(np.mean(np.square(w.astype(np.float64)))) for w in weights])) if weights else 0.0


def _faint(unchanged: list[str], grads: dict[str, np.ndarray | None], values: dict[str, np.ndarray]) -> list[str]:
    """The unchanged tensors whose (non-zero) gradient is under FAINT_GRADIENT of their weight's
    scale (a bias at 0 takes the network's median weight RMS): an update that rounds away, not a
    step that skips them."""
    typical = _typical_scale(values)
    faint = []
    for name in unchanged:
        g, w = grads.get(name), values[name].astype(np.float64)
        if g is None or not np.isfinite(g).all() or not w.size:
            continue
        scale = max(float(np.sqrt(np.mean(np.square(w)))), typical)
        if scale > 0 and float(np.sqrt(np.mean(np.square(g.astype(np.float64))))) < FAINT_GRADIENT * scale:
            faint.append(name)
    return faint


def _cancelled(session: Any, prepared: Any, names: list[str], values: dict[str, np.ndarray],
               grads: dict[str, np.ndarray | None], seed: int, *, measured: bool = False) -> list[str]:
    """The faint biases (one-axis tensors) beside a weight of their layer that is not faint, whose
    gradient is under CANCELLED_SIGNAL_SHARE of what that weight's gradient says reaches the layer
    (:func:`_signal_shares`), and whose elements each moved by a seeded amount (CANCELLED_SHIFTS times
    their scale) leave the training-mode loss (its draws seeded alike) within CANCELLED_RTOL of itself:
    a normalisation over the batch after them removes what they add. A faded signal fades the layer's
    weight too (its gradient is the bias's times the layer's inputs), and leaves the loss as still to
    float32 (an 8-deep sigmoid stack's first bias moves it by 0), so the weight's gradient is what tells
    the two apart. Three forward passes each, up to NO_PATH_MAX_ASKED; none where the adapter cannot
    move them. ``measured``: only biases whose share was measured (their layer's weight got a gradient):
    an all-zero bias gradient beside a dead layer's all-zero weight gradient is no cancellation."""
    typical = _typical_scale(values)
    fed = {_owner(n) for n, w in values.items() if w.ndim >= 2 and n not in names}
    asked = [n for n in names if values[n].ndim == 1 and _owner(n) in fed][:NO_PATH_MAX_ASKED]
    shares = _signal_shares(session, prepared, asked, values, grads) if asked else {}
    cancelled: list[str] = []
    for name in [n for n in asked if shares.get(n, float("inf") if measured else 0.0) < CANCELLED_SIGNAL_SHARE]:
        scale = max(float(np.sqrt(np.mean(np.square(values[name].astype(np.float64))))), typical, 1e-3)
        # a shift of each element's own (a batch normalisation removes any per-channel shift; one over the
        # features, a LayerNorm, only their common part, so a uniform shift would read it as removed too)
        own = scale * (0.5 + np.random.default_rng(seed).random(values[name].shape))
        try:
            base = session.shifted_loss(prepared, name, np.zeros_like(own), seed)
            moved = [session.shifted_loss(prepared, name, gain * own, seed) for gain in CANCELLED_SHIFTS]
        except (NotSupported, UserCodeError):
            return cancelled
        if np.isfinite(base) and all(abs(m - base) <= CANCELLED_RTOL * max(abs(base), 1e-12) for m in moved):
            cancelled.append(name)
    return cancelled


def _owner(name: str) -> str:
    """The layer a tensor belongs to: torch "conv1.bias" -> "conv1", Keras "net/conv/bias" -> "net/conv"."""
    return re.split(r"[./](?=[^./]*$)", name)[0]


def _signal_shares(session: Any, prepared: Any, biases: list[str], values: dict[str, np.ndarray],
                   grads: dict[str, np.ndarray | None]) -> dict[str, float]:
    """Each bias's gradient over what its layer's weight gradient says reaches the layer per sample:
    |grad W| / (rms of the layer's inputs · sqrt(W.size / b.size), its fan-in). About 1 where nothing
    removes the bias, float32 rounding behind a normalisation over the batch. Only where the layer has
    one weight of 2+ axes that the bias's width divides (a linear or conv layer; a recurrent one's two
    weights read different inputs) and its inputs were seen (one training-mode pass): the others are
    left out (0), as before the guard."""
    try:
        seen = session.weighted_layer_inputs(prepared, training=True)
    except (NotSupported, UserCodeError):
        return {}
    rms: dict[str, list[float]] = {}
    for layer, x in seen:
        if x.size and np.issubdtype(x.dtype, np.floating) and np.isfinite(x).all():
            rms.setdefault(layer, []).append(float(np.sqrt(np.mean(np.square(x.astype(np.float64))))))
    shares: dict[str, float] = {}
    for name in biases:
        owner, b, g_b = _owner(name), values[name], grads.get(name)
        weights = [n for n, w in values.items() if w.ndim >= 2 and _owner(n) == owner and w.size % b.size == 0]
        # torch names a module by its path ("decoder.0"), Keras a layer by its own name (the path's last part)
        inputs = rms.get(owner) or rms.get(owner.rpartition("/")[2])
        if len(weights) != 1 or not inputs or g_b is None or grads.get(weights[0]) is None:
            continue
        g_w = np.asarray(grads[weights[0]], dtype=np.float64)
        signal = float(np.linalg.norm(g_w)) / (max(inputs) * np.sqrt(values[weights[0]].size / b.size))
        if signal > 0 and np.isfinite(signal):
            shares[name] = float(np.linalg.norm(np.asarray(g_b, dtype=np.float64))) / signal
    return shares


def _judged(run: CheckRun, session: Any, raw: tuple[Any, Any], prepared: Any, train_step: Callable | None,
            grads: dict[str, np.ndarray | None], before: dict[str, np.ndarray],
            signal: float | None = None, radial: dict[str, float] | None = None,
            cancelled: list[str] | None = None) -> list[Evidence]:
    """Gradient causes that stand, with the figures they were judged on. An all-zero gradient on the
    first step is re-checked after SETTLE_STEPS more steps on the batch and stands only where it is
    still zero: behind a scale initialised to 0 on purpose the gradient arrives once the scale has
    moved; dead ReLUs stay dead. All-zero biases the loss does not see move are added to
    ``cancelled`` instead (:func:`_cancelled`)."""
    cancelled = [] if cancelled is None else cancelled
    lookups = session.lookup_tables()
    flags, scales, radial = gradient_flags(grads, before, signal, radial, lookups)
    if signal is not None:
        run.result.figures["error_signal"] = signal
    judged = [v for n, v in radial.items() if n not in lookups]  # tables are not judged (gradient_flags)
    if judged:
        run.result.figures["max_radial_gradient"] = max(judged)
    if scales:
        run.result.figures["input_end_ratio"] = input_end_ratio(scales, lookups)
    if not any(flags[k] for k in SETTLING):
        return gradient_causes(flags, scales, radial, signal=signal, lookups=lookups)
    for _ in range(SETTLE_STEPS):
        session.train_step(prepared)
    later = session.gradients(prepared) if train_step is None else diagnosis.step_gradients(session, run.result.notes)
    if not later:
        return gradient_causes(flags, scales, radial, signal=signal, lookups=lookups)
    settled, _, _ = gradient_flags(later, session.parameter_values(), lookups=lookups)
    run.result.figures["settle_steps"] = SETTLE_STEPS
    run.result.figures["zero_gradients_settled"] = sum(n not in settled["zero"] for n in flags["zero"])
    for key in SETTLING:
        flags[key] = [n for n in flags[key] if n in settled[key]]
    # a bias whose whole gradient is 0 while its layer's weight gets one is no dead unit: the loss does
    # not see it move (a loss of differences between outputs of one network, a siamese embedding's
    # last bias; a normalisation over the batch after it)
    shifted = _cancelled(session, prepared, flags["zero"], session.parameter_values(), later, run.settings.seed,
                         measured=True) if flags["zero"] else []
    if shifted:
        flags["zero"] = [n for n in flags["zero"] if n not in shifted]
        cancelled.extend(shifted)
    causes = gradient_causes(flags, scales, radial, SETTLE_STEPS, signal, lookups)
    zeroed = [n for n in diagnosis.zeroed_weights(before) if n in flags["zero"]]
    if zeroed:  # why they stay dead: they started at 0 (and still are)
        causes = diagnosis.zero_init(zeroed) + causes
    if flags["zero"]:  # before "dead": a loss that never reads some of the outputs those tensors feed
        causes = _unread(session, raw, prepared) + causes
    if flags["zero"] and set(flags["zero"]) == {n for n, g in later.items() if g is not None}:
        # every tensor, the last layer's bias too, which no dead unit can silence: is the loss flat in the outputs?
        step = _through_a_step(session, raw, prepared)
        if step:
            return step + [c for c in causes if c[0] != C.DEAD_UNITS]
    return causes
