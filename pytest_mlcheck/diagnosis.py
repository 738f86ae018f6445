"""Probes that explain a failed training check. Each cause is listed only because a probe fired,
and is found from values (outputs, gradients, retries), never from class names."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck.causes import Evidence
from pytest_mlcheck.errors import NotSupported, UserCodeError
from pytest_mlcheck.report import fmt
from pytest_mlcheck.thresholds import (
    ACCUMULATION_RATIO, BEAT_CONSTANT, BOUNDED_PRESSED, CHANGED_SAMPLES, INDEPENDENCE_RTOL, INIT_FADE, INPUT_MAX_SCALE, INPUT_MIN_PEAK, INPUT_RAW_SCALE, LEAK_COPY_MIN_SAMPLES, LEAK_COPY_MIN_VALUES, LEAK_LABEL_MAX_COLUMNS, LEAK_LABEL_MIN_SAMPLES, LEAK_RTOL,
    LEAK_PATH_NOISE, LEAK_PATH_RTOL, LEAK_SAMPLED_TARGETS, LR_AHEAD_SHARE, LR_VANISHED, OUTPUT_UNMOVED, OVERFIT_EXTEND,
    HALVED_WINDOW, PAIRING_RTOL, PAIRING_SENSITIVE, PROBE_MAX_STEPS, PROBE_TARGET, RELAPSE, SIGNAL_FADED, SIGNAL_GONE, SOFTMAX_TWICE_PRESSED, SPIKE, STALL_FRACTION, TARGET_MAX_SCALE,
    RUN_MOVE_GRADIENT, RUN_MOVE_NEGLIGIBLE, TARGET_RETRY_SCALE, TRAIN_DROP_EVAL_RTOL, UNREACHED_SHARE, UNREAD_MAX_COLUMNS, UNREAD_SAMPLES_MOVE,
)

if TYPE_CHECKING:
    from pytest_mlcheck.targets import Targets


def input_scale(x: np.ndarray | None, *, limit: float = INPUT_MAX_SCALE) -> list[Evidence]:
    """Inputs fed raw (an integer dtype above 0..1, a mean magnitude or spread above ``limit``, or
    scaled twice). Integer (N, L) inputs are ids (tokens, categories) an embedding reads, not values
    to scale."""
    if x is None or x.size == 0 or (np.issubdtype(x.dtype, np.integer) and x.ndim <= 2):
        return []
    return [c for c in scale_causes(x, "x", limit=limit) if c[0] == C.INPUTS_NOT_NORMALIZED]


def raw_inputs(x: np.ndarray | None) -> list[Evidence]:
    """What a failed training run may blame on the inputs: an integer dtype, twice-scaled values, or
    a scale of raw counts or pixels (above INPUT_RAW_SCALE), which swamps a standard init."""
    return input_scale(x, limit=INPUT_RAW_SCALE)


def with_raw_inputs(causes: list[Evidence], raw: list[Evidence], fitted: dict[float, int] | None,
                    halved: dict[float, int] | None = None, *, proven: bool = False) -> list[Evidence]:
    """``causes`` with the raw-input evidence ``raw`` (:func:`raw_inputs`) placed: after them, except
    before a learning-rate story none of whose retries fitted the batch (``fitted``: lr factor → steps
    to fit, ≤ 0 where not within them) — a rate that only halved the loss while the batch stayed
    unfitted at raw input scale explains less than the scale does — and before a story of a rate too
    low told by faster retries (a factor above 1 judged on fitting the batch, or one that halved the
    loss, ``halved``: lr factor → steps, where the check does not judge fits): inputs far off unit scale make the loss
    ill-conditioned, which slows every direction but the largest, and standardising them is the fix
    for that slowness, a larger rate a workaround (GazeCapture's crops minus a mean image left at
    0..255: lr×10 fitted the batch at step 396 of 400). Measured on the real-program table: the lr/10
    retry fits where the label is the learning rate (a linear regression at SGD, JAX's MNIST step
    size) and leaves the batch unfitted where it is the inputs (Packt's raw pixels, a raw housing
    regressor). A rate too low that a value proved (``proven``: a schedule that drove the rate to
    nothing) is no story of retries, whatever retries the extension's horizon ran."""
    if not (raw and causes and causes[0][0] in (C.LR_TOO_HIGH, C.LR_TOO_LOW)):
        return causes + raw
    if not proven and causes[0][0] == C.LR_TOO_LOW \
            and any(factor > 1 for factor in {**(fitted or {}), **(halved or {})}):
        return raw + causes
    return raw + causes if fitted and all(n <= 0 for n in fitted.values()) else causes + raw


def scale_hint(x: np.ndarray | None) -> str | None:
    """A probe-log line for inputs off unit scale but short of raw-data scale: worth a try, no cause.
    (An integer dtype or twice-scaled values are raw inputs at any limit: only the spread is left.)"""
    if x is None or raw_inputs(x) or not input_scale(x):
        return None
    return (_spread(x, "x") + ": off unit scale, though not enough to stop training by itself (standardising "
            "may still speed it up)")


def _spread(x: np.ndarray, where: str) -> str:
    magnitude, spread = float(np.mean(np.abs(x))), float(np.std(x))
    return f"{where} spans {fmt(float(np.min(x)))}..{fmt(float(np.max(x)))} (mean |x| {fmt(magnitude)}, std {fmt(spread)})"


def scale_causes(x: np.ndarray, where: str, *, limit: float = INPUT_MAX_SCALE) -> list[Evidence]:
    """Why ``x`` is not at unit scale: an integer dtype above 0..1, non-finite values, a mean
    magnitude or spread above ``limit``, or a peak below INPUT_MIN_PEAK (scaled twice)."""
    if x.dtype == np.bool_:
        return []
    if not np.issubdtype(x.dtype, np.number):
        return [(C.INPUT_DTYPE, f"{where} has dtype {x.dtype}; convert it to float32")]
    lo, hi = float(np.min(x)), float(np.max(x))
    if np.issubdtype(x.dtype, np.integer):
        if hi <= 1 and lo >= -1:
            return []
        return [(C.INPUTS_NOT_NORMALIZED, f"{where} is {x.dtype} in {lo:g}..{hi:g}: convert to float and scale "
                                          f"to about [0, 1] (x / {hi:g}) or standardise it"),
                (C.INPUT_DTYPE, f"{where} is {x.dtype}, not floating point")]
    bad = ~np.isfinite(x)
    if bad.any():
        return [(C.INPUTS_NOT_FINITE, f"{where} holds {int(bad.sum())} non-finite value(s)")]
    magnitude, spread, peak = float(np.mean(np.abs(x))), float(np.std(x)), float(np.max(np.abs(x)))
    if magnitude > limit or spread > limit:
        # dividing by the peak scales non-negative values; values around an offset need it taken off
        mean = float(np.mean(x))
        how = f"scale it to about [0, 1] (x / {fmt(hi)}) or standardise it" if lo >= 0 else \
            f"standardise it ((x {'-' if mean >= 0 else '+'} {fmt(abs(mean))}) / {fmt(spread)})"
        return [(C.INPUTS_NOT_NORMALIZED, f"{_spread(x, where)}: {how}")]
    if scaled_twice(x):
        return [(C.INPUTS_NOT_NORMALIZED, f"{where} never exceeds {fmt(peak)} in magnitude: scaled twice? "
                                          "(x / 255 / 255); inputs should reach about 1")]
    return []


def scaled_twice(x: np.ndarray) -> bool:
    """Floating-point values whose peak magnitude lies below INPUT_MIN_PEAK (but not all 0): off unit
    scale below it, where every other reason :func:`scale_causes` gives lies above it."""
    if not np.issubdtype(x.dtype, np.floating) or x.size == 0:
        return False
    peak = float(np.max(np.abs(x)))
    return 0 < peak < INPUT_MIN_PEAK


def learning_rate_vanished(start: float, now: float, steps: int,
                           ahead: tuple[float, float] | None = None) -> list[Evidence]:
    """A failed run whose optimizer's learning rate ended below LR_VANISHED of its first step's, or
    whose schedule, read ahead, lets the steps from its end to OVERFIT_EXTEND × its length move the
    weights less than LR_AHEAD_SHARE as far as its own steps did (``ahead``: those two sums, the steps
    to come and the run's, in steps at the first rate): the schedule drove it down within the run by
    more than the check's extension could make up for — a value, not a retry's story (a decay rate
    of 0, a scheduler stepped per batch, decay steps counted in epochs where the schedule counts
    steps)."""
    if not (np.isfinite(start) and np.isfinite(now)) or start <= 0:
        return []
    if now <= LR_VANISHED * start:
        how = f"fell from {fmt(start)} at the first step to {fmt(now)} by step {steps}"
    elif ahead is not None and all(np.isfinite(ahead)) and ahead[1] > 0 and ahead[0] < LR_AHEAD_SHARE * ahead[1] \
            and now < start:
        how = (f"fell from {fmt(start)} at the first step to {fmt(now)} by step {steps}, and its schedule keeps "
               f"it falling: steps {steps} to {OVERFIT_EXTEND * steps:,} add up to {fmt(ahead[0])} steps at the first "
               f"rate, {ahead[0] / ahead[1]:.0%} of the {fmt(ahead[1])} the run's own {steps} added up to")
    else:
        return []
    return [(C.LR_TOO_LOW,
             f"the optimizer's learning rate {how}: its schedule drives it down within the run by more than "
             "training on could make up for, so the weights nearly stop moving (a decay rate of 0, a scheduler "
             "stepped per batch where it was meant per epoch, or decay steps counted in epochs where the "
             "schedule counts optimizer steps)")]


def _target_ratio(y: np.ndarray | None, outputs: np.ndarray | None) -> tuple[float, float, float] | None:
    """Value targets' rms, the untrained outputs' rms, and the first over the larger of the second
    and 1 (a head at a standard init outputs about unit scale); None where either is unusable."""
    if y is None or outputs is None or not np.issubdtype(y.dtype, np.number) or not y.size \
            or not np.isfinite(y).all() or not np.isfinite(outputs).all():
        return None
    target_rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2)))
    output_rms = float(np.sqrt(np.mean(outputs.astype(np.float64) ** 2)))
    return target_rms, output_rms, target_rms / max(output_rms, 1.0)


def target_scale(y: np.ndarray | None, outputs: np.ndarray | None,
                 read: str = "the untrained model's outputs") -> list[Evidence]:
    """Value targets whose magnitude dwarfs the untrained model's outputs (:func:`_target_ratio`):
    an optimizer moving weights by ~lr a step cannot cover that gap in a check's budget, whatever
    else is right. ``read``: what ``outputs`` are, as the message names them."""
    scale = _target_ratio(y, outputs)
    if scale is None or scale[2] <= TARGET_MAX_SCALE:
        return []
    target_rms, output_rms, ratio = scale
    return [(C.TARGETS_NOT_NORMALIZED,
             f"the regression targets span {fmt(float(y.min()))}..{fmt(float(y.max()))} (rms {fmt(target_rms)}) "
             f"while {read} have rms {fmt(output_rms)}: ×{fmt(ratio)} beyond their scale "
             f"(more than ×{TARGET_MAX_SCALE:g}); standardise the targets ({_standardising(y)}) and invert that "
             "on the predictions")]


def _standardising(y: np.ndarray) -> str:
    """The formula that standardises ``y`` (one target column; for several, what is done to each),
    with the sign of its mean written out."""
    if y.ndim > 1 and int(np.prod(y.shape[1:])) > 1:
        return "each target column minus its mean, over its standard deviation"
    mean = float(y.mean())
    return f"(y {'-' if mean >= 0 else '+'} {fmt(abs(mean))}) / {fmt(float(y.std()))}"


def target_retry(losses: list[float], y: np.ndarray | None, outputs: np.ndarray | None,
                 retry: Callable[..., tuple[bool, float]], starts: Sequence[float] | None = None) -> list[Evidence]:
    """A run on value targets beyond the untrained outputs' scale by ``TARGET_RETRY_SCALE`` or more
    that diverged or never halved its loss: does a fresh copy at the same learning rate train on the
    targets standardised? A gradient of a squared error grows with the targets' scale, so raw
    targets multiply the first updates of a plain SGD (AUTOTRAINER's case 17: ×153, NaN by step 9);
    only the counterfactual tells them from a rate too high for any targets."""
    scale = _target_ratio(y, outputs)
    if not losses or scale is None:
        return []
    target_rms, _, ratio = scale
    _, diverged, stalled = _course(losses, starts)
    if ratio < TARGET_RETRY_SCALE or not (diverged or stalled):
        return []
    ok, end = retry(1.0, standardised=True)
    if not ok:
        return []
    own, best = best_step(losses, starts)
    what = "diverged" if diverged else f"stayed above half its start ({fmt(own)} → {fmt(best)}" + (
        ", its best step against its batch's start)" if starts and len(starts) > 1 else ")")
    return [(C.TARGETS_NOT_NORMALIZED,
             f"the regression targets' rms is {fmt(target_rms)}, ×{fmt(ratio)} the untrained outputs' scale, and the "
             f"run {what}; a retry at the same learning rate on the targets standardised ({_standardising(y)}) "
             f"halved its loss without diverging (loss {fmt(end)}): standardise the targets "
             "and invert that on the predictions")]


def inputs_not_finite(x: np.ndarray | None) -> list[Evidence]:
    if x is None or not np.issubdtype(x.dtype, np.floating):
        return []
    bad = ~np.isfinite(x)
    if bad.any():
        first = int(np.argwhere(bad.reshape(len(x), -1).any(axis=1))[0][0])
        return [(C.INPUTS_NOT_FINITE, f"{int(bad.sum())} non-finite input value(s), first in sample {first}")]
    return []


def output_activation(out: np.ndarray, task: str) -> list[Evidence]:
    """Class outputs that are already probabilities, or logits that cannot go negative; a single
    output that is 1 for every sample (a softmax over one unit). Outputs of one value everywhere (a
    last layer initialised to zeros) show no range: no activation is read from them."""
    flat = out.reshape(len(out), -1) if out.ndim else out
    if flat.ndim == 2 and flat.shape[1] == 1 and len(flat) > 1 and np.allclose(flat, 1.0, rtol=0, atol=1e-6):
        return [(C.OUTPUT_ACTIVATION, f"every one of the {len(flat)} outputs is exactly 1: a softmax over one unit "
                                      "is always 1; use a sigmoid (or two units with a softmax)")]
    if task != "classification" or out.ndim != 2 or out.shape[1] < 2 or not np.isfinite(out).all():
        return []
    sums = out.sum(axis=1)
    if out.min() >= 0 and np.allclose(sums, 1.0, atol=1e-3):
        return [(C.LOSS_MISMATCH,
                 f"outputs already sum to 1 per row (min {fmt(float(out.min()))}) before the loss: "
                 "probabilities fed to a loss that applies its own softmax; return logits")]
    if out.min() == out.max():  # one value everywhere (a last layer initialised to 0): its sign says nothing
        return []
    if out.min() > 0 and out.max() < 1:  # strictly inside (0, 1), rows not summing to 1 (a ReLU leaves exact 0s)
        return [(C.OUTPUT_ACTIVATION,
                 f"every output lies in [{fmt(float(out.min()))}, {fmt(float(out.max()))}] and the rows do not sum "
                 "to 1: a sigmoid (one per class) on the last layer, where the loss wants logits or one softmax")]
    if out.min() >= 0:
        return [(C.OUTPUT_ACTIVATION,
                 f"every output is ≥ 0 (min {fmt(float(out.min()))}): an activation such as ReLU on the logits")]
    return []


def negligible_moves(before: dict[str, np.ndarray], after: dict[str, np.ndarray],
                     grads: dict[str, np.ndarray | None], steps: int, rate: float | None) -> list[Evidence]:
    """A failed run whose steps moved no trainable tensor by more than RUN_MOVE_NEGLIGIBLE of its
    size, though the loss gives some tensor a gradient of at least RUN_MOVE_GRADIENT of its size: the
    optimizer's steps are too small to change anything (a learning rate orders of magnitude too low,
    which a retry ladder of ×10 … ×10000 does not climb out of: hunkim's RMSprop at 1e-10). Tensors
    whose norm is 0 (a bias at zero) are not read: no share of them says anything."""
    moves, pulls = [], []
    for name, value in before.items():
        size = float(np.linalg.norm(value))
        if name not in after or not size or not np.isfinite(size):
            continue
        moves.append(float(np.linalg.norm(after[name].astype(np.float64) - value)) / size)
        g = grads.get(name)
        if g is not None and np.isfinite(g).all():
            pulls.append((float(np.linalg.norm(g)) / size, name))
    # weights gone non-finite moved as far as they can: the run diverged, it did not stand still
    if not moves or not pulls or not np.isfinite(moves).all() or max(moves) >= RUN_MOVE_NEGLIGIBLE:
        return []
    pull, name = max(pulls)
    if pull < RUN_MOVE_GRADIENT:
        return []
    said = f" (the optimizer's rate is {fmt(rate)})" if rate is not None and np.isfinite(rate) else ""
    moved = "left every trainable tensor exactly as it was" if max(moves) == 0 else \
        f"moved no trainable tensor by more than {fmt(max(moves))} of its size"
    return [(C.LR_TOO_LOW,
             f"{steps} training steps {moved}, though "
             f"the loss's gradient on {name} is {fmt(pull)} of its size: the optimizer's steps are too small to "
             f"change anything{said} — raise the learning rate by orders of magnitude (Adam and RMSprop move each "
             "weight by about the rate a step)")]


def training_path_drops_inputs(training: np.ndarray | None, evaluation: np.ndarray | None) -> list[Evidence]:
    """Outputs of one training-mode pass (``training``) that are the very same row for every sample,
    where eval-mode ones (``evaluation``, the same weights and batch) differ between samples: a layer
    that acts only in training removes everything the inputs carry — a ``Dropout`` whose rate is 1
    (TensorFlow's keep probability passed as torch's drop rate, I3D's port), a train-only branch
    that replaces the features. Training then sees inputs that say nothing, and no gradient reaches
    the layers before it; eval mode, which every look at the predictions takes, hides it."""
    if training is None or evaluation is None or len(training) < 2 or training.shape != evaluation.shape:
        return []
    t = training.reshape(len(training), -1).astype(np.float64)
    e = evaluation.reshape(len(evaluation), -1).astype(np.float64)
    if not (np.isfinite(t).all() and np.isfinite(e).all()):
        return []
    spread_train, spread_eval = float(np.ptp(t, axis=0).max()), float(np.ptp(e, axis=0).max())
    # every sample's row the very same in training, and eval-mode rows apart by more than float32 rounding
    # (an untrained network behind placeholder normalisation statistics may differ by little more)
    if spread_train != 0 or spread_eval <= TRAIN_DROP_EVAL_RTOL * float(np.abs(e).max()):
        return []
    return [(C.OVER_REGULARIZED,
             f"in training mode all {len(t)} samples get the same outputs (spread {fmt(spread_train)} across them), "
             f"while in eval mode they differ (by up to {fmt(spread_eval)}): a layer that acts only in training "
             "drops everything the inputs carry — a Dropout whose rate is 1 (a keep probability passed as the "
             "drop rate: torch's nn.Dropout(p) and Keras's Dropout(rate) take the share to drop), or a "
             "training-only branch that replaces the features; no gradient reaches the layers before it")]


def softmax_twice(out: np.ndarray | None) -> list[Evidence]:
    """After training, rows that sum to 1 yet never spread wider than e between their largest and
    smallest entry, the widest at that cap: a softmax over values already in [0, 1], i.e. a softmax
    applied twice."""
    if out is None or out.ndim != 2 or out.shape[1] < 2 or not np.isfinite(out).all() or out.min() <= 0:
        return []
    if not np.allclose(out.sum(axis=1), 1.0, atol=1e-3):
        return []
    spread = float((out.max(axis=1) / out.min(axis=1)).max())
    # capped and pressed against the cap: a correct softmax that training barely moved is capped
    # by nothing yet (Keras #9939's MLP at SGD 0.01: ×2.089; softmax twice: ×2.716 on seeds 0-5)
    if SOFTMAX_TWICE_PRESSED * np.e <= spread <= np.e * 1.001:
        ceiling = np.e / (np.e + out.shape[1] - 1)
        return [(C.OUTPUT_ACTIVATION,
                 f"after training no row's largest probability exceeds its smallest by more than ×{spread:.3f} "
                 f"(≤ e): a softmax over values already in [0, 1] (softmax applied twice) caps every probability "
                 f"at {ceiling:.2f}; remove one softmax")]
    return []


def bounded_scores(initial: np.ndarray, final: np.ndarray | None, ids: np.ndarray,
                   score: Callable[[np.ndarray], float], losses: Sequence[float], needed: float) -> list[Evidence]:
    """Class scores (rows of C ≥ 2, read as logits) that stayed in [-1, 1] before and after a failed
    run, pressed up to BOUNDED_PRESSED by it, where the loss's least over that range (``score`` of rows
    at 1 for each target, -1 elsewhere: log(1 + (C - 1)/e²) for a cross-entropy, a bound the scores
    may not even reach) lies above ``needed``, the loss the check's criterion asks for, and the run
    came near it: cosine similarities without a temperature, or a tanh on the logits — no
    prediction can be confident. The caller asks the head too (an unbounded one is not named)."""
    rows = [r for r in (initial, final) if r is not None]
    if len(rows) < 2 or initial.ndim != 2 or initial.shape[1] < 2 or len(ids) != len(initial) \
            or not all(np.isfinite(r).all() and np.abs(r).max() <= 1.0 + 1e-3 for r in rows):
        return []
    if final.max() < BOUNDED_PRESSED:  # training pressed the targets' scores against the top
        return []
    best = np.full(initial.shape, -1.0, dtype=np.float32)
    best[np.arange(len(ids)), ids] = 1.0
    least = score(best)
    finite = [v for v in losses if np.isfinite(v)]
    if not finite or not np.isfinite(least):
        return []
    start, lowest = finite[0], min(finite)
    if not (least > needed and least - 1e-3 * max(1.0, abs(least)) <= lowest <= least + 0.5 * (start - least)):
        return []
    return [(C.OUTPUT_ACTIVATION,
             f"the {initial.shape[1]} class scores stay in [-1, 1] before and after training "
             f"({fmt(float(final.min()))}..{fmt(float(final.max()))} after it) while the loss reads "
             f"them as logits: the least it gives scores in that range is {fmt(least)} (each target at 1, the rest at "
             f"-1), above the {fmt(needed)} a fit needs, and the run got to {fmt(lowest)}. Cosine similarities or a "
             "tanh cannot make a confident prediction: divide the scores by a temperature (e.g. 0.05) or remove the "
             "bounding activation")]


def softmax_in_loss(out: np.ndarray | None, fitted: bool, lowest: float, retries: int) -> list[Evidence]:
    """Probabilities (rows ≥ 0 summing to 1) right for every sample while neither the run nor any
    learning-rate retry brought the loss below log(1 + (C − 1)/e): the least a cross-entropy that
    applies its own softmax gives probabilities (a one-hot row softmaxed again). On the probabilities
    themselves a cross-entropy falls toward 0 as they sharpen, the faster at a larger rate."""
    if out is None or out.ndim != 2 or out.shape[1] < 2 or not fitted or not retries or not np.isfinite(lowest) \
            or not np.isfinite(out).all() or out.min() < 0 or not np.allclose(out.sum(axis=1), 1.0, atol=1e-3):
        return []
    least = float(np.log1p((out.shape[1] - 1) / np.e))
    if lowest < least:
        return []
    return [(C.LOSS_MISMATCH,
             f"every sample is predicted right and the outputs are probabilities (each row sums to 1), yet the "
             f"loss never went below {fmt(lowest)}, over the run and {retries} learning-rate retries: at least "
             f"log(1 + (C−1)/e) = {fmt(least)} for {out.shape[1]} classes is what a cross-entropy that applies "
             "its own softmax gives probabilities, so the loss softmaxes them again; give it the logits (no "
             "softmax before CrossEntropyLoss / F.cross_entropy, from_logits=True on raw outputs)")]


def missing_zero_grad(fresh_session: Callable[[], Any], batch_of: Callable[[Any], Any],
                      notes: list[str]) -> list[Evidence]:
    """Call the user's step twice at lr 0 on one batch: gradients that double across an optimizer
    step were never zeroed. A step that clips them (``clip_grad_norm_``) keeps the norm where it was,
    so the second step also watches what its backward pass found in the gradients: those the first
    step left, already applied by the optimizer. A step that did not call optimizer.step()
    accumulates on purpose (a gradient-accumulation loop). Where the framework cannot show the
    step's gradients, a note says the probe did not run."""
    session = fresh_session()
    try:
        batch = batch_of(session)
        session.scale_lr(0.0)
        session.clear_gradients()
        before = session.optimizer_steps()
        session.train_step(batch)
        first = session.gradient_norm()
        if session.optimizer_steps() == before:
            return []
        leftover = session.leftover_gradients(batch)
        second = session.gradient_norm()
    except NotSupported as exc:
        notes.append(f"missing_zero_grad probe not run: {exc}")
        return []
    except Exception:
        return []
    finally:
        session.close()
    if first > 0 and second / first > ACCUMULATION_RATIO:
        return [(C.MISSING_ZERO_GRAD,
                 f"two identical steps at lr 0 grew the gradient norm {fmt(first)} → {fmt(second)} "
                 f"(×{second / first:.2f}): the step never zeroes the previous gradients")]
    if first > 0 and leftover > 0:
        return [(C.MISSING_ZERO_GRAD,
                 f"two identical steps at lr 0: the second step's backward pass added its gradients to those "
                 f"the first left behind (norm {fmt(leftover)}), which the optimizer had already applied; the "
                 f"gradient norm stayed {fmt(first)} → {fmt(second)} (clipped?): the step never zeroes the "
                 f"previous gradients")]
    return []


def step_misses_parameters(fresh_session: Callable[[], Any], batch_of: Callable[[Any], Any]) -> list[Evidence]:
    """One call of the user's step at its own rate on a fresh copy. It called optimizer.step() and
    no trainable tensor changed: nothing gave them a gradient (``loss.backward()`` left out or after
    the step). Or it changed some tensors and left others unchanged that got at least as large a
    gradient as one that moved: the optimizers it steps do not hold them (one built over another
    part of the model), as ``uncovered`` says of the check's own optimizer. A step that changed
    nothing without calling optimizer.step() accumulates on purpose; where the framework cannot
    count the steps or show the gradients, nothing is said."""
    session = fresh_session()
    try:
        batch = batch_of(session)
        before, steps = session.parameter_values(), session.optimizer_steps()
        session.train_step(batch)
        stepped = session.optimizer_steps() != steps
        after = session.parameter_values()
        grads = step_gradients(session, [])  # {} where hidden (Keras): only "none changed" can be told
    except (NotSupported, UserCodeError):  # no count to read, or the step itself failed: no evidence
        return []
    finally:
        session.close()
    unchanged = [name for name, value in before.items() if np.array_equal(value, after.get(name))]
    if not before or not unchanged:
        return []
    if len(unchanged) == len(before):
        return [(C.PARAMS_NOT_UPDATED,
                 f"one call of your train_step called optimizer.step() and changed none of the {len(before)} "
                 "trainable tensor(s): no gradient reached them (is loss.backward() called before "
                 "optimizer.step()?)")] if stepped else []
    peak = {name: float(np.abs(g).max()) for name, g in grads.items() if g is not None and g.size}
    moved = [peak[name] for name in before if name not in unchanged and name in peak]
    if not moved:
        return []
    # the step's backward reached the tensors that moved and none of these (no gradient, not a zero
    # one): the loss it minimises is cut off from them, as ``unreached`` says of the check's own loss
    cut = [name for name in unchanged if name in grads and grads[name] is None]
    sizes = {name: int(np.size(value)) for name, value in before.items()}
    share = sum(sizes[name] for name in cut) / max(sum(sizes.values()), 1)
    if cut and share >= UNREACHED_SHARE:
        return [(C.NO_GRADIENT,
                 f"one call of your train_step changed {len(before) - len(unchanged)} of the {len(before)} trainable "
                 f"tensors; its backward pass gave no gradient to {len(cut)} others, {share:.0%} of the model's "
                 f"weights, which stayed as they were: {listed(cut)}; the loss it minimises is cut off from them "
                 "(a .detach(), .item() or numpy round trip, or a layer whose output feeds nothing the loss reads)")]
    left = [name for name in unchanged if peak.get(name, 0.0) >= min(moved) > 0]
    if not left:
        return []
    return [(C.PARAMS_NOT_UPDATED,
             f"one call of your train_step changed {len(before) - len(unchanged)} of the {len(before)} trainable "
             f"tensors and left {len(left)} unchanged that got as large a gradient as one that moved: "
             f"{listed(left)}; the optimizer(s) it steps do not hold them (built over another part of the "
             "model?)")]


def step_gradients(session: Any, notes: list[str]) -> dict[str, np.ndarray | None]:
    """The gradients the user's own step left behind; {} and a note where they are not visible."""
    try:
        return session.step_gradients()
    except NotSupported as exc:
        notes.append(f"gradient probes not run, judged by which parameters changed: {exc}")
        return {}


def step_start(step: int, starts: Sequence[float] | None, start: float) -> float:
    """The start a step's loss is measured from: the run's ``start``, or the loss at init of the
    step's own batch (``starts``, cycled with the steps) where that lies above it — a hard batch among
    several is high from its first pass on; an easy one keeps ``start`` (its own small distance
    would read noise as divergence)."""
    own = starts[step % len(starts)] if starts else float("nan")
    return max(own, start) if np.isfinite(own) else start


def own_start(step: int, losses: Sequence[float], batches: int, starts: Sequence[float] | None = None) -> float:
    """The loss a step is held to when asking whether it halved: the first step's for one batch;
    over several (cycled with the steps) its own batch's start — ``starts[j]`` where measured, else
    the loss of that batch's first step (``losses[j]``, after j updates). Held to the first batch's
    loss, a step on an easier batch would read as halving."""
    if batches <= 1:
        return losses[0]
    j = step % batches
    own = starts[j] if starts is not None and j < len(starts) else float("nan")
    return own if np.isfinite(own) else (losses[j] if j < len(losses) else float("nan"))


def times(start: float, k: float) -> float:
    """``k`` × a loss's start, read for a start at or below 0 (a Gaussian likelihood, a loss fed
    raw logits that should be log-probabilities) as the same move by ``k - 1`` times its size:
    half of -2 is -3, ×1.5 of it -1. A positive start is multiplied as it is."""
    return k * start if start >= 0 else start + (k - 1) * abs(start)


def halved(losses: Sequence[float], batches: int, starts: Sequence[float] | None = None,
           fraction: float = PROBE_TARGET) -> bool:
    """Whether the last step's loss is ``fraction`` of its own start or less (:func:`own_start`,
    :func:`times`). Over several batches, as the check judges its own run, a stretch and not one
    step: at least half of the last HALVED_WINDOW steps (or of a cycle of batches, if shorter), each
    against its own batch's start — on sixty batches of five samples one lucky step halves its
    batch by chance, and a retry read so names a learning rate that does not fit (gait
    classification on shuffled labels: lr×1000 "halved" at step 11 and ended at ×6 its start)."""
    def met(i: int) -> bool:
        start = own_start(i, losses, batches, starts)
        return bool(np.isfinite(start)) and losses[i] <= times(start, fraction)

    if batches <= 1:
        return met(len(losses) - 1)
    window = min(batches, HALVED_WINDOW)
    if len(losses) < window:
        return False
    return 2 * sum(met(i) for i in range(len(losses) - window, len(losses))) >= window


def _course(losses: list[float], starts: Sequence[float] | None = None) -> tuple[int | None, bool, bool]:
    """How a failed run went, as the retries read it: the step its loss first went non-finite (or
    None), whether it diverged (non-finite, or a spike above SPIKE × its start), and whether it
    otherwise stalled (no step halved against its own start). ``losses`` is not empty. ``starts``:
    each batch's own loss at init, cycled with the steps: a step on a batch that starts higher is
    held to that batch's start (a hard batch among several is no spike), and a step on an easier one
    halves only against its own."""
    where = next((i for i, v in enumerate(losses) if not np.isfinite(v)), None)
    spiked = where is not None or any(np.isfinite(v) and v > times(step_start(i, starts, losses[0]), SPIKE)
                                      for i, v in enumerate(losses)) or relapsed(losses, starts) is not None
    return where, spiked, not spiked and not _ever_halved(losses, starts)


def relapsed(losses: Sequence[float], starts: Sequence[float] | None = None) -> tuple[int, float] | None:
    """(step, loss) of a run's lowest step where the run came down to PROBE_TARGET of its start or
    below and then climbed back more than RELAPSE of the way it had come: a rate that fits and then
    throws the fit away diverged as surely as one that spikes at once (Adam at 0.03 on a WaveNet:
    7.35 → 0.07 by step 500 → 4.1 at step 800), though no step rose above its start. Read on medians
    over a tenth of the run (its best stretch against its last), each step against its own batch's
    start (:func:`own_start`): a noisy curve's lowest single step is noise, not a fit it gave back.
    None otherwise, and for a start at or below 0, where a fraction of it says nothing."""
    n = len(starts) if starts else 1
    ratios = np.asarray([v / s if np.isfinite(v) and np.isfinite(s := own_start(i, losses, n, starts)) and s > 0
                         else np.nan for i, v in enumerate(losses)], dtype=np.float64)
    if len(ratios) < 10 or not np.isfinite(ratios).all():  # a non-finite step is a divergence of its own
        return None
    width = len(ratios) // 10
    medians = np.median(np.lib.stride_tricks.sliding_window_view(ratios, width), axis=1)
    best = int(np.argmin(medians))
    low, tail = float(medians[best]), float(medians[-1])
    if low > PROBE_TARGET or best + width >= len(ratios) - width or tail < low + RELAPSE * (1.0 - low):
        return None
    at = best + int(np.argmin(ratios[best:best + width]))
    return at, float(losses[at])


def _ever_halved(losses: Sequence[float], starts: Sequence[float] | None) -> bool:
    """Whether any step came to half its own start or below (:func:`own_start`; ``starts`` cycled)."""
    n = len(starts) if starts else 1
    return any(v <= times(own_start(i, losses, n, starts), PROBE_TARGET) for i, v in enumerate(losses))


def best_step(losses: Sequence[float], starts: Sequence[float] | None = None) -> tuple[float, float]:
    """The finite step that came furthest below its own start (:func:`own_start`; ``starts``
    cycled), as (that start, its loss): over one batch, the first loss and the lowest."""
    n = len(starts) if starts else 1
    seen = [(v / s, s, v) for i, v in enumerate(losses)
            if np.isfinite(v) and np.isfinite(s := own_start(i, losses, n, starts)) and s > 0]
    if not seen:
        return losses[0], float(np.nanmin(np.asarray(losses, dtype=np.float64)))
    _, own, best = min(seen)
    return own, best


def learning_rate(
    losses: list[float], retry: Callable[[float], tuple[bool, float]] | None, *, slow: bool = False,
    fitted: dict[float, int] | None = None, starts: Sequence[float] | None = None,
    halvings: dict[float, int] | None = None, unstable: Sequence[str] = (),
) -> list[Evidence]:
    """Diverged (non-finite, or a spike): does a smaller lr succeed? Stalled (never half the
    start), or ``slow`` (still falling steadily when the run ended): does a larger one — and if
    not, and the loss ended no lower than it began, a smaller one? A flat curve over several
    batches ends above or below its start by noise alone, so that alone does not decide the
    direction. Each retry trains a fresh copy; ``fitted`` (lr factor → steps to fit the batch,
    negative: not within that many; filled in as the retries run) says what would pass. Where it
    can, a run that came down and levelled off short of the criterion gets a retry at lr×10 (and
    at lr×100 where lr×10 halved the loss without fitting the batch), named only if a retry meets
    the check's own criterion: a halving the run already had proves nothing. ``halvings`` (lr factor →
    steps a plain retry took to halve the loss) gives the figure a cause quotes. ``unstable``: the
    retries at the run's own rate (without weight decay, without train-mode noise) that went
    non-finite — a run that levelled off there sits at the edge of stability (its units died in a
    blow-up its own curve hid), so a smaller rate that fits the batch names the rate too high."""

    def passes(factor: float, name: str) -> str:
        n = (fitted or {}).get(factor)
        if n is None:
            return ""
        return (f"; at {name} this check passes (fitted at step {n})" if n > 0 else
                f"; at {name} the batch was still not fitted after {-n} steps")

    if retry is None or not losses:
        return []
    start = losses[0]
    finite = [v for v in losses if np.isfinite(v)]
    where, spiked, stalled = _course(losses, starts)
    if stalled or (slow and not spiked):
        for factor, name in ((10.0, "lr×10"), (100.0, "lr×100"), (1000.0, "lr×1000"), (1e4, "lr×10000")):
            ok, end = retry(factor)
            if ok:
                own, best = best_step(losses, starts)
                what = (f"loss only {fmt(own)} → {fmt(best)}" + (" (its best step against its batch's start)"
                                                                 if starts and len(starts) > 1 else "")
                        if stalled else
                        f"the loss was still falling slowly after {len(losses)} steps ({fmt(start)} → "
                        f"{fmt(losses[-1])})")
                took = (halvings or {}).get(factor)
                return [(C.LR_TOO_LOW, f"{what}; a retry at {name} halved it "
                                       + (f"in {took} steps" if took else f"within {PROBE_MAX_STEPS} steps")
                                       + f" (loss {fmt(end)})" + passes(factor, name))]
    if fitted is not None and unstable and not (spiked or stalled or slow):
        for factor, name in ((0.1, "lr/10"), (0.01, "lr/100")):
            ok, end = retry(factor)
            steps = fitted.get(factor, 0)
            if ok and steps > 0:
                return [(C.LR_TOO_HIGH, f"the loss came down ({fmt(start)} → {fmt(min(finite))}) but levelled off "
                                        f"short of the criterion, and copies at this rate blow up ({unstable[0]}): it "
                                        f"sits at the edge of stability; a retry at {name} fitted the batch: at {name} "
                                        f"this check passes (fitted at step {steps})")]
    if fitted is not None and not (spiked or stalled or slow):
        for factor, name in ((10.0, "lr×10"), (100.0, "lr×100")):
            ok, end = retry(factor)
            steps = fitted.get(factor, 0)
            if ok and steps > 0:
                return [(C.LR_TOO_LOW, f"the loss came down ({fmt(start)} → {fmt(min(finite))}) but levelled off "
                                       f"short of the criterion; a retry at {name} fitted the batch: at {name} this "
                                       f"check passes (fitted at step {steps})")]
            if not ok:  # a larger rate helps only where this one at least halved the loss
                break
    own = starts[(len(losses) - 1) % len(starts)] if starts else float("nan")
    if spiked or finite[-1] >= (own if np.isfinite(own) else start):  # the last batch against its own start
        for factor, name in ((0.1, "lr/10"), (0.01, "lr/100"), (0.001, "lr/1000")):
            ok, end = retry(factor)
            if ok:
                back = relapsed(losses, starts) if where is None else None
                what = (f"loss {fmt(start)} → nan at step {where + 1}" if where is not None else
                        f"loss {fmt(start)} → {fmt(back[1])} at step {back[0] + 1} → {fmt(losses[-1])} (it came "
                        "down, then climbed back more than half the way)" if back is not None
                        and max(finite) <= times(start, SPIKE) else
                        f"loss {fmt(start)} → peak {fmt(max(finite))} → {fmt(losses[-1])}")
                return [(C.LR_TOO_HIGH, f"{what}; a retry at {name} succeeded (loss {fmt(end)})" + passes(factor, name))]
    return []


def regularization(losses: list[float], decay: float, noisy: Callable[[], bool],
                   retry: Callable[..., tuple[bool, float]], starts: Sequence[float] | None = None, *,
                   penalties: str = "", fitted: Callable[[], int | None] = lambda: None) -> list[Evidence]:
    """A stalled loss that fits once regularization is off: a retry without weight decay (when
    the optimizer has any, or the layers put ``penalties`` on their weights: Keras regularizers,
    whose terms the retry's loss no longer counts either), or in eval mode when the training-mode forward pass is random
    (dropout); a model without either costs nothing here. The retry must halve the lowest loss the
    run reached (a halving the run already had proves nothing: a batch-normalised head that floors
    the loss at 10 % of its start is not its dropout's doing). A noisy curve may spike (dropout at
    0.99 scales the kept units by 100), so spikes do not rule it out. Over several batches
    (``starts``, each batch's loss at init) every step is read against its own batch's start: the
    stall, the run's best and the retry's goal (half the best fraction of its start the run reached).
    On one batch, a retry without weight decay that misses the goal trains on to the check's own
    criterion (``fitted``: the steps it took, negative where it did not): NCF's GMF at Adam's
    weight_decay 0.01 ends above the mean predictor's loss, and without it fits at step ~380."""
    finite = [v for v in losses if np.isfinite(v)]
    if not finite:
        return []
    n = len(starts) if starts and len(starts) > 1 else 1

    def start_of(i: int) -> float:
        return own_start(i, losses, n, starts) if n > 1 else finite[0]

    ratios = [v / s if np.isfinite(s := start_of(i)) and s > 0 else float("nan")
              for i, v in enumerate(losses) if np.isfinite(v)]
    tail = [r for r in ratios[-max(1, len(ratios) // 10):] if np.isfinite(r)]
    # a run that ended near the floor did not stall: a GPT-2 with dropout 0.1 ending at 5 % of its start
    # (failing on accuracy) was not held back by it; weight decay 10 stalls at 37-43 % (torch, Keras)
    if not tail or float(np.median(tail)) <= STALL_FRACTION:
        return []
    own, best = best_step(losses, starts) if n > 1 else (finite[0], min(finite))
    goal = fraction = None
    if best < own:
        if n > 1:
            fraction = PROBE_TARGET * best / own
        else:
            goal = PROBE_TARGET * best
    if decay > 0 or penalties:
        held = " and ".join(filter(None, (f"weight decay {decay:g}" if decay > 0 else "", penalties)))
        ok, end = retry(1.0, no_decay=True, goal=goal, fraction=fraction)
        if ok:
            them = "them" if " and " in held else "it"
            steps = fitted()
            return [(C.OVER_REGULARIZED, f"{held}: the loss stays at {fmt(best)}; a retry without {them} " + (
                f"fitted the batch at step {steps} (loss {fmt(end)}): without {them} this check passes"
                if steps is not None and steps > 0 else f"halved it (to {fmt(end)})"))]
    if noisy():
        ok, end = retry(1.0, quiet=True, goal=goal, fraction=fraction)
        if ok:
            return [(C.OVER_REGULARIZED, f"the training-mode forward pass is random (dropout): the loss stays at "
                                         f"{fmt(best)}; a retry with it off halved it (to {fmt(end)}); is a "
                                         "dropout rate meant as a keep probability?")]
    return []


def initial_scale(losses: list[float], retry: Callable[..., tuple[bool, float]],
                  spreads: Callable[[], list[float] | None], starts: Sequence[float] | None = None) -> list[Evidence]:
    """A stall the learning rate does not explain, where a fresh copy with every weighted layer
    rescaled to unit-variance outputs halves the loss at the same rate, and at initialisation the
    signal's spread across samples fades with depth by more than INIT_FADE: the layers' initial
    scale, not the rate, holds training back (a deep net at a small default init feeds its
    head nearly the same vector for every sample). ``spreads``: each weighted layer's spread, in
    call order, as the rescaled retry measured it before rescaling."""
    finite = [v for v in losses if np.isfinite(v)]
    if not finite or len(finite) < len(losses) or _ever_halved(losses, starts):
        return []
    ok, end = retry(1.0, rescaled=True)
    seen = spreads() if ok else None
    if not seen or len(seen) < 2 or not all(np.isfinite(v) and v > 0 for v in seen):
        return []
    ratio = seen[-1] / seen[0]
    if ratio > 1 / INIT_FADE:
        return []
    per_layer = ratio ** (1 / (len(seen) - 1))
    what = (f"at initialisation the signal fades with depth: its spread across "
            f"samples goes from {fmt(seen[0])} at the first weighted layer's output to {fmt(seen[-1])} at the "
            f"last's (×{fmt(per_layer)} per layer over {len(seen)} layers); a fresh copy with each layer rescaled "
            f"to unit-variance outputs halved the loss at the same learning rate (to {fmt(end)})")
    return [(C.VANISHING_GRADIENTS, what)]


def ignores_shift(loss_at: float, loss_shifted: float) -> bool:
    """Whether a loss stayed put when a constant was added to every output of a row, as a
    cross-entropy on logits always does (and a loss on probabilities does not)."""
    return bool(np.isfinite(loss_at) and np.isfinite(loss_shifted)
                and abs(loss_shifted - loss_at) <= 1e-3 * max(1.0, abs(loss_at)))


def listed(names: list[str], limit: int = 4) -> str:
    """The first few names, and how many more."""
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more" if len(names) > limit else "")


def loss_expects_probabilities(outputs: np.ndarray, loss_at: float, loss_shifted: float) -> list[Evidence]:
    """A softmax cross-entropy on logits ignores a constant added to every logit of a row; a loss
    that expects probabilities (e.g. Keras's default from_logits=False) does not. A loss that is not
    finite at the shifted outputs reads values on a bounded domain its outputs lie in (ArcFace's
    acos of cosines in [-1, 1]): no evidence that it wants probabilities."""
    if outputs.ndim != 2 or outputs.shape[1] < 2 or not np.isfinite(outputs).all():
        return []
    probabilities = outputs.min() >= 0 and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3)
    with np.errstate(over="ignore", divide="ignore"):  # masked logits (-1e4) underflow to a log of 0
        log_probabilities = outputs.max() <= 0 and np.allclose(np.log(np.exp(outputs).sum(axis=1)), 0.0, atol=1e-3)
    if probabilities or log_probabilities or not np.isfinite(loss_at) or not np.isfinite(loss_shifted):
        return []
    if not ignores_shift(loss_at, loss_shifted):
        return [(C.LOSS_MISMATCH,
                 f"the model outputs logits (min {fmt(float(outputs.min()))}, rows do not sum to 1) but the loss "
                 f"changes when every logit moves by +3 ({fmt(loss_at)} → {fmt(loss_shifted)}), which a "
                 "cross-entropy on logits never does: it expects probabilities; use from_logits=True or a softmax")]
    return []


def loss_gradient_at(session: Any, outputs: np.ndarray, batch: Any) -> np.ndarray | None:
    """The loss's gradient at given ``outputs`` by its own backward; None where the adapter does not
    differentiate it there (a LightningModule's loss, a torch step's own)."""
    try:
        return session.loss_gradient(outputs, batch)
    except NotSupported:
        return None


def gradient_unsafe_at_targets(session: Any, batch: Any, targets: Targets, shape: tuple) -> list[Evidence]:
    """A loss on probabilities that is finite at the targets themselves (probabilities of exactly 0
    and 1, which a saturating softmax or sigmoid reaches in float32) while its gradient there is not:
    the log of a probability the value never reads — picked out by the target, or multiplied by a
    target of 0 — still runs backward as 0 · 1/0 = NaN, and the step after the outputs saturate makes
    every weight NaN (skorch's ``NLLLoss()(torch.log(y_pred))``). Asked of a run whose loss turned
    non-finite where the replay found nothing (training._proven), not before training: a head that
    cannot saturate (a softmax of probabilities) never meets it, and a run that stays finite shows
    nothing of it. The value-side twin, a loss NaN at the targets, is targets._unsafe_at_target.
    ``targets`` are ``batch``'s, ``shape`` the outputs'."""
    exact = targets.exact(shape) if targets.form == "probabilities" else None
    value = float("nan") if exact is None else session.loss_of(exact, batch)
    if not np.isfinite(value):
        return []
    grad = loss_gradient_at(session, exact, batch)
    bad = 0 if grad is None else int((~np.isfinite(grad)).sum())
    if not bad:
        return []
    return [(C.LOSS_NOT_FINITE, f"the loss turned non-finite in the run, and it is finite at the targets themselves "
                                f"(probabilities of exactly 0 and 1: {fmt(value)}) but its gradient is not at {bad} "
                                f"of {grad.size} outputs: a log of a probability whose value the loss never reads "
                                "(picked out by the target, or multiplied by a target of 0) still runs backward "
                                "as 0 · 1/0 = NaN, so once a softmax or sigmoid saturates to exact 0 in float32 the "
                                "next step makes every weight NaN; clamp before the log (p.clamp(min=1e-7), "
                                "p + eps) or compute the loss from logits (log_softmax, CrossEntropyLoss)")]


def loss_ascends(session: Any, outputs: np.ndarray, batch: Any) -> list[Evidence]:
    """Outputs moved a small step against the loss's own gradient (a hundredth, then a thousandth
    of their scale) should lower it; where both steps raise it, beyond float32 rounding, the loss's
    backward is not the gradient of the values it returns at these outputs: a fused loss whose
    backward presumes its input's form (``nn.CTCLoss`` takes log-probabilities and returns
    exp(input) − posterior, the gradient through a log_softmax: on raw logits the loss climbs
    from −2.5 as the model trains). Adapters that cannot differentiate the loss at given outputs
    say nothing."""
    grad = loss_gradient_at(session, outputs, batch)
    if grad is None:
        return []
    outputs = np.asarray(outputs, dtype=np.float64)
    if grad.shape != outputs.shape or not (np.isfinite(grad).all() and np.isfinite(outputs).all()) or not grad.any():
        return []
    given = outputs.astype(np.float32)
    base = session.loss_of(given, batch)
    if not np.isfinite(base) or session.loss_of(given, batch) != base:
        return []  # a loss that draws (sampled negatives) is no fixed function to descend
    unit = grad / float(np.sqrt(np.mean(np.square(grad, dtype=np.float64))))
    scale = max(float(np.sqrt(np.mean(np.square(outputs)))), 1e-3)
    after = [session.loss_of((outputs - t * scale * unit).astype(np.float32), batch) for t in (1e-2, 1e-3)]
    rounding = 1e-5 * max(abs(base), 1.0)
    if not all(np.isfinite(a) and a > base + rounding for a in after):
        return []
    return [(C.LOSS_MISMATCH,
             f"moving the outputs a step against the loss's own gradient raises the loss from {fmt(base)} by "
             f"{fmt(after[0] - base)} (by {fmt(after[1] - base)} at a tenth of the step): its backward is not the "
             "gradient of what it returns at these outputs, so training climbs it. A fused loss presumes its "
             "input's form: nn.CTCLoss takes log-probabilities: apply log_softmax to the outputs first")]


def _unread_candidate(outputs: np.ndarray, targets: Any) -> bool:
    """Whether :func:`unread_outputs` can look at these: (N, K) finite outputs, 2 ≤ K ≤
    UNREAD_MAX_COLUMNS, against finite targets of w < K columns ((N,) counts as one); masked targets
    (NaN for a task without a label) leave columns unread by design."""
    if targets is None or outputs.ndim != 2 or not 2 <= outputs.shape[1] <= UNREAD_MAX_COLUMNS \
            or not np.isfinite(outputs).all():
        return False
    y = np.asarray(targets)
    width = 1 if y.ndim == 1 else int(y.shape[1]) if y.ndim == 2 else 0
    finite = not np.issubdtype(y.dtype, np.floating) or bool(np.isfinite(y).all())
    return finite and 1 <= width < outputs.shape[1] and len(y) == len(outputs)


def _contrasting(y: np.ndarray) -> np.ndarray:
    """Other targets of the same shape and dtype: each column of whole numbers moved to another value
    (0/1 flipped, ids to the next within 0..max), so a class id or an action taken names another
    output; value columns kept."""
    y2 = np.array(y, copy=True)
    cols = y2.reshape(len(y2), -1)
    for j in range(cols.shape[1]):
        c = cols[:, j]
        if c.size and np.array_equal(c, np.round(c)) and c.min() >= 0:
            # 0/1 flipped (a binary loss takes nothing else); ids moved on within 0..max (an action
            # batch of one value 0 becomes 1)
            cols[:, j] = 1 - c if c.max() <= 1 else (c + 1) % (c.max() + 1)
    return cols.reshape(y2.shape)


def unread_outputs(outputs: np.ndarray, targets: Any, loss_at: Callable[[np.ndarray], float],
                   loss_with: Callable[[np.ndarray, np.ndarray], float]) -> list[Evidence]:
    """(N, K) outputs against narrower targets ((N,) or (N, w), w < K; :func:`_unread_candidate`)
    where the loss stays exactly the same when any of K − r columns moves (up, then down, every
    sample by its own amount), r ≤ w, the first and last samples each read all r, and the same r
    columns are read with the targets' whole-number columns moved to other values (``loss_with``:
    the loss at outputs and other targets): the loss reads r columns of a head K wide whatever the
    targets say, so whatever feeds only the others never gets a gradient. A loss that picks one
    column per sample by its target (a class id into NLL, the action a Q-learning or REINFORCE loss
    reads) picks others when the targets change, however alike the batch's targets are. Callers
    look only where some tensor gets an all-zero gradient. torch-rechub's PLE without its towers'
    output layers returns 8 ReLU'd units per task, 16 columns, and the trainer's per-task losses
    read columns 0 and 1 — both the first task's."""
    if not _unread_candidate(outputs, targets):
        return []
    y = np.asarray(targets)
    width = 1 if y.ndim == 1 else int(y.shape[1])
    given = outputs.astype(np.float32)
    base = loss_at(given)
    if not np.isfinite(base) or loss_at(given) != base:
        return []  # a loss that draws (sampled negatives) is no fixed function to probe
    # a seeded draw per sample, not one shift: a loss on distances between samples (a contrastive
    # loss on embeddings) does not move when a column moves by the same amount in every sample
    noise = np.random.default_rng(0).uniform(0.5, 1.5, given.shape).astype(np.float32)
    step = np.float32(0.1) * noise * np.maximum(np.float32(1.0), np.abs(given))

    def reads(at: Callable[[np.ndarray], float], reference: float, j: int, rows: Any) -> bool:
        for sign in (1, -1):
            moved = given.copy()
            moved[rows, j] += sign * step[rows, j]
            if at(moved) != reference:  # NaN (a loss that refuses the moved outputs) counts as read
                return True
        return False

    read = [j for j in range(outputs.shape[1]) if reads(loss_at, base, j, slice(None))]
    # each sample reads all of them (a Q-learning loss reads one column per sample, the action it took:
    # a batch that took two actions reads two columns, each sample one)
    if not 1 <= len(read) <= width or not all(reads(loss_at, base, j, [i]) for i in (0, len(given) - 1)
                                              for j in read):
        return []
    other = _contrasting(y)
    at_other = lambda out: loss_with(out, other)  # noqa: E731
    reference = at_other(given)
    if not np.isfinite(reference) or [j for j in range(outputs.shape[1]) if reads(at_other, reference, j,
                                                                                  slice(None))] != read:
        return []
    shown = ", ".join(str(j) for j in read)
    return [(C.NO_GRADIENT,
             f"the model gives {outputs.shape[1]} outputs per sample for targets of shape {tuple(y.shape)}, and the "
             f"loss reads only column(s) {shown}, whatever the targets: moving any of the other "
             f"{outputs.shape[1] - len(read)} columns leaves it exactly {fmt(base)}, so whatever feeds only those "
             "gets no gradient. The last layer does not produce what the loss takes (a missing output layer, a "
             "head of the wrong width): end the model in one output per target column")]


def unread_samples(outputs: np.ndarray, loss_at: Callable[[np.ndarray], float],
                   ignored: np.ndarray | None = None) -> list[Evidence]:
    """A loss that reads the outputs of one sample alone, the first or the last: every other
    sample's outputs moved at once — up, then down, by ``UNREAD_SAMPLES_MOVE`` times the outputs'
    spread (their size where they barely differ: a zero-initialised head's uniform rows), each value
    by a seeded amount of its own — leave it bit for bit where it was, while that sample's move it.
    A ``return`` inside the loop over the batch (graph_neural_net's loss, reading its first pair of
    32), ``out[0]``, or the last iteration's loss kept after the loop. A loss that reads a subset by
    design — a mask it holds (a GNN's training nodes), hard-example mining, targets it ignores
    (``ignored``) — reads more than one sample, or reads what the moves make hard. Five loss calls
    at most; one that draws (sampled negatives) is no fixed function to probe."""
    given = np.asarray(outputs, dtype=np.float32)
    n = len(given) if given.ndim else 0
    if n < 4 or not np.isfinite(given).all():
        return []
    base = loss_at(given)
    if not np.isfinite(base) or loss_at(given) != base:
        return []
    skipped = None if ignored is None or np.shape(ignored)[:1] != (n,) else \
        np.asarray(ignored, dtype=bool).reshape(n, -1).all(axis=1)
    spread = np.float32(max(float(np.std(given)), float(np.abs(given).mean())) or 1.0)
    step = UNREAD_SAMPLES_MOVE * spread * (0.5 + np.random.default_rng(0).random(given.shape, dtype=np.float32))
    for at in (0, n - 1):
        keep = (np.arange(n) == at).reshape((n,) + (1,) * (given.ndim - 1))
        if skipped is not None and skipped[np.arange(n) != at].mean() > 0.5:
            continue  # the others' targets are ignored: nothing to read there
        # NaN (a loss that refuses the moved outputs) counts as read
        if any(loss_at(np.where(keep, given, given + sign * step)) != base for sign in (1, -1)):
            continue
        if loss_at(np.where(keep, given + step, given)) == base:
            return []  # that sample's own outputs do not move it either: a loss blind to the outputs
        which = "first" if at == 0 else "last"
        return [(C.LOSS_MISMATCH,
                 f"the loss reads the outputs of the {which} sample alone (sample {at} of {n}): moving every other "
                 f"sample's outputs at once, by {UNREAD_SAMPLES_MOVE:g}× their spread either way, leaves it exactly "
                 f"{fmt(base)}, while moving sample {at}'s moves it, so the other {n - 1} never train. A loss that "
                 "returns from inside the loop over the batch, keeps one sample (out[0]) or the last iteration's "
                 "value: score every sample and average")]
    return []


def loss_rewards_classes(perfect: float, uninformative: float, form: str = "logits") -> list[Evidence]:
    """The loss of confident, correct class outputs should be far below that of uninformative ones
    (all-zero logits, or uniform probabilities where the loss reads probabilities)."""
    if not (np.isfinite(perfect) and np.isfinite(uninformative)):
        return []
    if perfect >= 0.5 * uninformative:
        what = ("one-hot probabilities", "uniform rows") if form == "probabilities" else ("logits", "zeros")
        return [(C.LOSS_MISMATCH,
                 f"the loss scores confident correct class {what[0]} at {fmt(perfect)}, no better than "
                 f"uninformative {what[1]} ({fmt(uninformative)}): it does not reward predicting the class "
                 "(a regression loss on class ids?); use cross-entropy on logits")]
    return []


def moved(before: dict[str, np.ndarray], after: dict[str, np.ndarray], names: Iterable[str] | None = None) -> list[str]:
    """The tensors (of ``names``, else all of ``before``) whose values differ between ``before`` and
    ``after`` a step; a name either side lacks is left out."""
    return [n for n in (before if names is None else names)
            if n in before and n in after and not np.array_equal(before[n], after[n])]


def zeroed_weights(values: dict[str, np.ndarray], *, input_end: bool = False) -> list[str]:
    """The weight matrices and kernels (2+ dimensions) whose every entry is exactly 0. ``input_end``:
    only where the first of them in parameter order (the layer that reads the inputs) is one — what
    cuts every input off; zeros further on are often deliberate (a transformer's residual projections
    and head started at 0 train from there) and, behind outputs that ignore the inputs for another
    reason, explain nothing."""
    weights = [(n, v) for n, v in values.items() if v.ndim >= 2 and v.size > 1 and not _is_bias(n)]
    zeroed = [n for n, v in weights if not np.any(v)]
    if input_end and (not weights or weights[0][0] not in zeroed):
        return []
    return zeroed


def _is_bias(name: str) -> bool:
    """Whether a tensor's name says it is a bias (Keras's attention keeps its biases 2-D, per head):
    biases start at 0 by design."""
    return name.replace("/", ".").rsplit(".", 1)[-1].startswith("bias")


def zero_init(names: list[str]) -> list[Evidence]:
    """Behind outputs that ignore the inputs: weight tensors that are all exactly 0. A layer that
    starts at zero gives every input the same output; with zero weights after it (or a ReLU at 0)
    no gradient leaves it zero (lisa-lab's Theano MLP drew its Glorot bounds as sqrt(6 / (n_in +
    n_out)), an integer division in Python 2: both layers started at 0 and never moved)."""
    if not names:
        return []
    return [(C.DEAD_UNITS, f"{len(names)} weight tensor(s) are all exactly 0: {listed(names)}; a layer that starts at 0 "
                           "gives every input the same output, and with zero weights after it (or a ReLU at 0) no "
                           "gradient moves it (an initialiser's bound computed as 0 — an integer division, 6 / (n_in + "
                           "n_out) in Python 2 —, a zeros initializer, weights overwritten)")]


def swamped_data_term(targets: Targets, final: np.ndarray, losses: Sequence[float]) -> list[Evidence]:
    """A loss on value targets whose value at outputs equal to the targets moved with the model's
    state during the run (:meth:`Targets.output_part_fitted`), where the run halved its loss but the
    trained outputs fit the targets no better than their batch mean does, at the model's state now
    (each read as the loss above a perfect prediction's: an additive term of the state cancels): a
    term the outputs do not set (a KL of the latent, a penalty inside the loss) outweighs the fit,
    and the run lowered it instead (sigma-vae's pixel-averaged MSE beside a summed KL: the posterior
    collapses and every reconstruction is the mean image)."""
    if targets.loss_at is None or len(losses) < 2:
        return []
    finite = [v for v in losses if np.isfinite(v)]
    start, end = losses[0], min(finite) if finite else float("nan")
    if not (np.isfinite(start) and start > 0 and np.isfinite(end) and end <= PROBE_TARGET * start):
        return []
    perfect, constant = targets.at_state()  # after the forward pass that gave ``final``
    fitted, mean = targets.loss_at(final.astype(np.float32)) - perfect, constant - perfect
    if not (np.isfinite(fitted) and np.isfinite(mean)) or mean <= 0 or fitted < (1.0 - BEAT_CONSTANT) * mean:
        return []
    return [(C.OVER_REGULARIZED,
             f"the loss fell {fmt(start)} → {fmt(end)}, but the trained outputs fit the targets no better than "
             f"their batch mean (the loss above a perfect prediction's: {fmt(fitted)} for the outputs, {fmt(mean)} "
             "for the mean, at the model's state now): the run lowered a term the outputs do not set (a KL of the "
             "latent, a penalty inside the loss), which outweighs the fit — a reconstruction averaged over pixels "
             "beside a KL summed over them; weigh that term down or reduce both terms alike")]


def dead_head(session: Any, batch: Any, outputs: np.ndarray) -> list[Evidence]:
    """Behind outputs that ignore the inputs: every output exactly 0 on every sample while the loss
    has a gradient at them and no weight gets any — the last layer's units never activate: a ReLU
    (or a clamp at 0) on the output whose pre-activations are all below 0 (TorchBench's DLRM drew its
    one output bias from N(0, 1) with a ReLU after every layer: -0.7 against sums of ±0.1). A head
    started at 0 gets a gradient, and a loss flat at these outputs is no head's doing."""
    if outputs.size == 0 or not np.isfinite(outputs).all() or np.any(outputs):
        return []
    at_outputs = loss_gradient_at(session, outputs, batch)
    if at_outputs is not None and not (np.isfinite(at_outputs).all() and np.any(at_outputs)):
        return []
    grads = session.gradients(batch)
    if not grads or any(g is not None and np.any(g) for g in grads.values()):
        return []
    return [(C.DEAD_UNITS, f"every output is exactly 0 on all {len(outputs)} samples and no weight gets a gradient, "
                           "though the loss has one at these outputs: the last layer's units never activate — a ReLU "
                           "(or a clamp at 0) on the output whose pre-activations are all below 0, e.g. a large "
                           "negative bias drawn at init, so nothing can train them back; end in a linear layer (or a "
                           "softplus or sigmoid) for value targets, or start the output bias at 0")]


def silent_layers(inputs: list[tuple[str, np.ndarray]]) -> list[Evidence]:
    """Behind a constant output: a weighted layer after the first whose input is 0 for every
    sample, while the layers before it got a non-zero input (the units feeding it never fire)."""
    for (_, before), (name, value) in zip(inputs, inputs[1:]):
        if np.issubdtype(value.dtype, np.floating) and value.size and not np.any(value) and np.any(before):
            return [(C.DEAD_UNITS, f"the input of layer {name} is 0 for every sample: the units feeding it never "
                                   "activate (ReLUs on pre-activations that are all negative: a large negative bias "
                                   "or a learning rate that killed them)")]
    return []


def linear_stack(pairs: list[tuple[str, str, int, int, int]]) -> list[str]:
    """Notes on two fully connected layers where the second receives the first one's outputs
    unchanged (``pairs``: their names, the first one's inputs and units, the second one's units):
    they compose to one linear map, which one layer already is, so the hidden layer adds nothing (an
    activation forgotten). A first layer narrower than both ends is a low-rank factorisation (a
    linear autoencoder's code, a bottleneck), a model of its own, and is left alone. A note, never a
    cause: such a stack trains as one layer would (see the README)."""
    return [f"{first} ({n_in}→{inner}) passes its outputs to {second} ({inner}→{n_out}) with no activation "
            f"between them: the two compose to one linear map from {n_in} to {n_out} values, which one layer "
            f"already is (a forgotten activation?)"
            for first, second, n_in, inner, n_out in pairs if inner >= min(n_in, n_out)]


def identical_inputs(x: np.ndarray | None, *, targets: bool = True) -> list[Evidence]:
    """Every sample of the batch has the same inputs (NaN where the first has NaN): nothing can tell
    one target from another (an integer division that floored every pixel to 0, one column
    broadcast to all rows). ``targets``: whether the check has targets to speak of."""
    if x is None or x.ndim < 1 or len(x) < 2 or not x.size:
        return []
    flat = x.reshape(len(x), -1)
    same = flat == flat[:1]
    if np.issubdtype(flat.dtype, np.floating):
        same |= np.isnan(flat) & np.isnan(flat[:1])
    if not same.all():
        return []
    values = np.unique(flat[0])
    if len(values) == 1:  # one value everywhere: most often a division that floored every pixel
        said, how = (f"every value {fmt(float(values[0]))}",
                     "an integer division or cast that floored them (x // 255 or int x / 255 in Python 2), or one "
                     "row broadcast to the batch")
    else:
        said, how = (f"{len(values)} distinct values, the same in each",
                     "one row broadcast to the batch, or every sample's features computed from the same one (an "
                     "index fixed inside a loop: x[0] where x[i] was meant)")
    what = "tell their targets apart" if targets else "predict differently for them"
    return [(C.NO_INPUT_SIGNAL, f"all {len(x)} samples have identical inputs ({said}): no model can {what}; {how}")]


def identical_targets(y: np.ndarray | None) -> list[Evidence]:
    """Every sample of the batch has the same label (whole-number targets: class ids, one-hot or
    multi-hot rows, per-position ids): held-out predictions cannot fit their own targets better than
    re-paired ones, which are the same, so no test of the inputs' signal can pass or say anything (a
    label read as one value for every file, a batch cut from data sorted by its labels)."""
    row = constant_targets(y)
    if row is None or not np.all(row == np.round(row)):
        return []
    one_hot = row.size > 1 and np.isin(row, (0, 1)).all() and np.count_nonzero(row) == 1
    if not (one_hot or (row == row[0]).all()):
        return []  # not one label: a row of several marks (a pairwise loss's signs) is constant_targets'
    said = f"class {int(np.argmax(row))}, one-hot" if one_hot else f"class {int(row[0])}" + (
        "" if row.size == 1 else f" at all {row.size} positions")
    return [(C.LABELS_IMBALANCED, f"all {len(y)} samples of the batch have one label ({said}): there is nothing "
                                  "for the inputs to tell apart; a label read as one value for every sample (a path "
                                  "or key that matched no class: every label 0), or a batch cut from data sorted by "
                                  "its labels (shuffle before batching)")]


def constant_targets(y: np.ndarray | None) -> np.ndarray | None:
    """The one target row every sample of the batch has (any numbers), or None where they differ. Not one
    label (:func:`identical_targets` says that): targets that mark the outputs' roles the same way in every
    sample (RecBole LINE's [1, 0, 1, 0], the signs of an observed and a sampled pair) or one value for all."""
    if not isinstance(y, np.ndarray) or y.ndim < 1 or len(y) < 2 or not y.size:
        return None
    flat = np.asarray(y).reshape(len(y), -1)
    if not (np.issubdtype(flat.dtype, np.number) or flat.dtype == np.bool_) or not np.isfinite(flat).all() \
            or not (flat == flat[:1]).all():
        return None
    return flat[0]


def every_class_marked(targets: Targets) -> list[Evidence]:
    """Multi-hot targets that mark every class of every sample: they say nothing a constant
    prediction does not, and under a softmax (whose outputs sum to 1) no output reaches them — what
    a one-hot encoder turns an (N, 1) column of labels into when it keeps each row's ones."""
    if targets.task != "multilabel" or targets.ids is None or targets.mask or len(targets.ids) < 2:
        return []
    ids = targets.ids.reshape(len(targets.ids), -1)
    if ids.shape[1] < 2 or not (ids == 1).all():
        return []
    return [(C.LABELS_INVALID,
             f"every target row marks all {ids.shape[1]} classes ({len(ids)} of {len(ids)} samples): targets that "
             "say every class applies to every sample carry nothing to learn, and a softmax cannot reach them; "
             "a one-hot encoding of a label column that came out all ones (check its shape: (N,) class ids, not "
             "(N, 1)), or multi-label targets where one class per sample was meant")]


def _pairing_permutations(targets: np.ndarray, count: int = 2) -> list[np.ndarray]:
    """Seeded permutations that put at least a quarter of the samples against another sample's
    targets (a random one moves about half of a balanced binary batch)."""
    rows = targets.reshape(len(targets), -1)
    rng = np.random.default_rng(0)  # own generator: no global state is touched
    found = []
    for _ in range(16):
        p = rng.permutation(len(rows))
        if np.any(rows[p] != rows, axis=1).mean() >= 0.25:
            found.append(p)
            if len(found) == count:
                break
    return found


def _token_ids(x: np.ndarray) -> tuple[np.ndarray, bool] | None:
    """Inputs read as token ids: integers, or one-hot rows over the last axis (then ``True``)."""
    if np.issubdtype(x.dtype, np.integer):
        return x, False
    if x.ndim >= 3 and np.issubdtype(x.dtype, np.floating) and np.isin(x, (0.0, 1.0)).all() \
            and (x.sum(axis=-1) == 1).all():
        return x.argmax(axis=-1), True
    return None


def _next_token_targets(x: np.ndarray | None, y: np.ndarray | None) -> tuple[np.ndarray, bool, int, int, int] | None:
    """(ids, one-hot, axis, shift, offset): the targets are the input ids (:func:`_token_ids`)
    ``shift`` positions ahead along ``axis`` — at every position where both exist, and not the inputs
    themselves — as a language model's next-token targets are; ``offset``: where along that axis the
    ids the outputs sit on begin, where the inputs are longer than the targets (a seq2seq model fed
    its source and its target ids in one tensor: the decoder's part starts after the source). Shift 0
    only for inputs longer than the targets (a window of them, not an autoencoder's own inputs), which
    :func:`target_leak` judges only for a model that runs left to right: its output for a window
    position reads that position's input, its target. None when no axis, offset and shift of 0..3
    line them up."""
    if x is None or y is None or not np.issubdtype(y.dtype, np.integer) or y.ndim < 2 or x.shape[0] != y.shape[0]:
        return None  # cheap refusals first: no pass over the inputs
    read = _token_ids(x)
    if read is None or read[0].ndim != y.ndim or np.array_equal(y, read[0]):
        return None
    ids, onehot = read
    longer = [a for a in range(1, ids.ndim) if ids.shape[a] != y.shape[a]]
    if len(longer) > 1 or any(ids.shape[a] < y.shape[a] for a in longer):
        return None
    for axis in longer or range(ids.ndim):
        # only offset + shift shows in the data: the nearest next token (shift 1) is the reading kept,
        # and the last window that lines up — a decoder's part follows its source, which a copy-like
        # pair (target ids equal to the source's) lines up with as well
        for shift in (1, 2, 3, 0) if longer else (1, 2, 3):
            for offset in range(ids.shape[axis] - y.shape[axis], -1, -1):
                n = min(y.shape[axis], ids.shape[axis] - offset - shift)
                if n >= 2 and np.array_equal(np.take(y, np.arange(n), axis=axis),
                                             np.take(ids, np.arange(offset + shift, offset + shift + n), axis=axis)):
                    return ids, onehot, axis, shift, offset
    return None


def _next_ids(ids: np.ndarray) -> np.ndarray:
    """Every id changed to the next id the batch holds (the last to the first)."""
    seen = np.unique(ids)
    return seen[(np.searchsorted(seen, ids) + 1) % len(seen)]


def _as_inputs(x: np.ndarray, ids: np.ndarray, onehot: bool) -> np.ndarray:
    """``ids`` written as ``x`` holds its ids: integers of its dtype, or one-hot rows over the last axis."""
    return np.eye(x.shape[-1], dtype=x.dtype)[ids] if onehot else ids.astype(x.dtype)


def _another_id_at(x: np.ndarray, ids: np.ndarray, onehot: bool, axis: int, position: int) -> np.ndarray:
    """``x`` with the id at ``position`` along ``axis`` changed, in every sample, to the next id the
    batch holds (as ``x`` holds ids: integers, or one-hot rows over the last axis)."""
    changed = ids.copy()
    index = [slice(None)] * ids.ndim
    index[axis] = position
    changed[tuple(index)] = _next_ids(ids)[tuple(index)]
    return _as_inputs(x, changed, onehot)


def _classes_last(outputs: np.ndarray, ids: np.ndarray) -> bool | None:
    """Per-position class scores for ``ids``: classes on the last axis (True), at axis 1 of
    (N, C, *positions) (False), or neither (None)."""
    if outputs.ndim != ids.ndim + 1:
        return None
    if outputs.shape[:-1] == ids.shape:
        return True
    return False if outputs.shape[0] == ids.shape[0] and outputs.shape[2:] == ids.shape[1:] else None


def _copy_candidates(x: np.ndarray | None, y: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """The inputs as given and flat (n, P), and the targets flat (n, Q) as float32, where targets may be
    looked for among the inputs (see :func:`targets_in_inputs`); None where not."""
    if x is None or y is None:
        return None
    xs, ys = np.asarray(x), np.asarray(y)
    n = len(ys)
    # float targets against any inputs; class ids only against float features (a label column left
    # among them): ids against id inputs are tokens, whose shifted copies teacher forcing feeds
    ids = np.issubdtype(ys.dtype, np.integer) and np.issubdtype(xs.dtype, np.floating)
    if not (np.issubdtype(ys.dtype, np.floating) or ids):
        return None
    if not np.issubdtype(xs.dtype, np.number) or len(xs) != n or n < LEAK_COPY_MIN_SAMPLES:
        return None
    # read only: no copy where they are float32 already (every passing training check looks)
    xf, yf = xs.reshape(n, -1).astype(np.float32, copy=False), ys.reshape(n, -1).astype(np.float32, copy=False)
    if not yf.shape[1] or 2 * yf.shape[1] > xf.shape[1]:
        return None
    return xs, xf, yf


def _equal_columns(xf: np.ndarray, column: np.ndarray) -> np.ndarray:
    """The input elements (columns of the flat inputs) equal to ``column`` in every sample."""
    return np.flatnonzero((xf == column[:, None]).all(axis=0))


def _sources(xf: np.ndarray, column: np.ndarray) -> np.ndarray | None:
    """The input elements equal to ``column`` in every sample, for a target column of at least
    LEAK_COPY_MIN_VALUES finite values; None where there is none."""
    if len(np.unique(column)) < LEAK_COPY_MIN_VALUES or not np.isfinite(column).all():
        return None
    hits = _equal_columns(xf, column)
    return hits if len(hits) else None


def targets_in_inputs(x: np.ndarray | None, y: np.ndarray | None) -> list[Evidence]:
    """Value targets that are, in every sample of the batch, one fixed element of that sample's own
    inputs (a window ``x[i:i+T]`` whose target ``y[i+1]`` lies inside it, a label column left among
    the features): the inputs hold the answer, so a fit proves nothing and the model learns to copy
    an input. Only float targets, or class ids against float features, with at least
    LEAK_COPY_MIN_VALUES distinct values, over at least LEAK_COPY_MIN_SAMPLES samples, each target at
    most half as many values as the inputs (an autoencoder's targets are its inputs by design); ids
    against id inputs are the causal probes' (a teacher-forced decoder's inputs hold its shifted
    targets by design)."""
    found = _copy_candidates(x, y)
    if found is None:
        return []
    xs, xf, yf = found
    where = []
    for column in yf.T:
        hits = _sources(xf, column)
        if hits is None:
            return []
        where.append(tuple(int(i) for i in np.unravel_index(int(hits[0]), xs.shape[1:])))
    said = ", ".join(str(list(w)) for w in where[:3]) + (" …" if len(where) > 3 else "")
    return [(C.TARGET_LEAKAGE, f"in all {len(yf)} samples the target equals the sample's own input at {said} "
                               f"({len(np.unique(yf))} distinct values): the inputs hold the answer, and a model "
                               "fits it by copying; build the inputs from what precedes the target (a window "
                               "x[i:i+T] predicts y[i+T]), or drop the label column from the features")]


def label_column_in_inputs(x: np.ndarray | None, y: np.ndarray | None,
                           predict: Callable[[np.ndarray], np.ndarray]) -> list[Evidence]:
    """A binary target column (two values, which :func:`targets_in_inputs` leaves alone), each value
    occurring at least LEAK_COPY_MIN_SAMPLES times in a batch of LEAK_LABEL_MIN_SAMPLES or more, equal
    to one input column in every sample, which the model reads for that target: swapping the two values
    in that input moves the output that stands for the column (a feature derived from the label:
    torch-rechub's ctcvr = purchase × click among its features, the purchase label on every row).
    Tabular inputs only, one row of features per sample: along a sequence a past input equals a later
    target by the data's own pattern (a periodic event stream), which a causal model reads rightly.
    Per column, for targets of at most LEAK_LABEL_MAX_COLUMNS columns (labels, not pixels), outputs
    lining up with them one to one."""
    found = _copy_candidates(x, y)
    if found is None or found[0].ndim != 2 or found[2].shape[1] > LEAK_LABEL_MAX_COLUMNS \
            or len(found[2]) < LEAK_LABEL_MIN_SAMPLES:
        return []
    xs, xf, yf = found
    base: np.ndarray | None = None
    said = []
    for j, column in enumerate(yf.T):
        values, counts = np.unique(column, return_counts=True)
        if len(values) != 2 or counts.min() < LEAK_COPY_MIN_SAMPLES or not np.isfinite(column).all():
            continue
        hits = _equal_columns(xf, column)
        if not len(hits):
            continue
        try:
            base = predict(xs) if base is None else base
            swapped = xs.reshape(len(xs), -1).copy()
            swapped[:, hits[0]] = np.where(swapped[:, hits[0]] == values[0], values[1], values[0])
            after = predict(swapped.reshape(xs.shape))
        except Exception:  # noqa: BLE001 - a model that refuses the swapped input shows nothing
            continue
        b, a = np.asarray(base, dtype=np.float64), np.asarray(after, dtype=np.float64)
        if b.shape != a.shape or b.reshape(len(b), -1).shape[1] != yf.shape[1] or not np.isfinite(b).all():
            continue
        moved = float(np.abs(a.reshape(len(a), -1)[:, j] - b.reshape(len(b), -1)[:, j]).max())
        if moved <= LEAK_RTOL * max(float(np.abs(b).max()), 1e-12):
            continue
        said.append(f"target column {j} equals input [{int(hits[0])}] ({', '.join(f'{fmt(float(v))} × {int(c)}' for v, c in zip(values, counts))}), and "
                    f"swapping its two values moves that target's output by up to {fmt(moved)}")
    if not said:
        return []
    return [(C.TARGET_LEAKAGE, f"in all {len(yf)} samples {'; '.join(said[:3])}: a feature derived from the label "
                               "is among the inputs and the model reads the answer from it (a request without it "
                               "gets another model); drop that column from the features")]


def targets_read_from_inputs(x: np.ndarray | None, y: np.ndarray | None,
                             predict: Callable[[np.ndarray], np.ndarray]) -> list[Evidence]:
    """Value targets at least half of which (of up to LEAK_SAMPLED_TARGETS read, evenly spread) are,
    in every sample, an element of the sample's own inputs at another place along the axes inputs and
    targets share, where the output paired with such a target moves when that input element changes
    while other outputs stay as they were: the model reads the answer it is asked for. A forecast
    whose targets were shifted into the past (Hvass-Labs' weather GRU: the target of hour t is an
    input of hour t − 24, which the recurrent model has already read at step t). Not read as leaks:
    targets that are inputs the output cannot read (a left-to-right model's later inputs, a correct
    forecast's); a target that is the input at its own place (an imputer's or an inpainter's observed
    values, read there by design); and a change that moves every output (a statistic of the whole
    window, a normalisation by its mean, carries it everywhere: no positional read). Judged where the
    outputs have the targets' shape (each output paired with the target in its place); ``predict``
    runs the model in eval mode on inputs like ``x``."""
    found = _copy_candidates(x, y)
    if found is None:
        return []
    xs, xf, yf = found
    y_shape, x_shape = tuple(np.shape(y)[1:]), tuple(xs.shape[1:])
    # the leading axes inputs and targets share (the steps of a series, an image's rows and columns)
    shared = next((i for i, (a, b) in enumerate(zip(x_shape, y_shape)) if a != b), min(len(x_shape), len(y_shape)))
    shared = min(shared, len(x_shape) - 1)  # the inputs' last axis is their features, not a place

    def elsewhere(q: int, hits: np.ndarray) -> int | None:
        """A copy at another place; None where the target is (also) the input at its own place."""
        if not shared:  # no place in common (a label column among features): every copy counts
            return int(hits[0])
        place = np.unravel_index(q, y_shape)[:shared]
        if any(np.unravel_index(int(hit), x_shape)[:shared] == place for hit in hits):
            return None
        return int(hits[0])
    read = np.unique(np.linspace(0, yf.shape[1] - 1, min(yf.shape[1], LEAK_SAMPLED_TARGETS)).astype(np.int64))
    sources: dict[int, int] = {}
    for i, q in enumerate(read):
        hit = _sources(xf, yf[:, q])
        other = elsewhere(int(q), hit) if hit is not None else None
        if other is not None:
            sources[int(q)] = other
        elif 2 * (i + 1 - len(sources)) > len(read):  # fewer than half can still be copies: stop looking
            return []
    q = sorted(sources)[len(sources) // 2]
    changed = np.array(xs.reshape(len(yf), -1), copy=True)  # the inputs' own dtype: only one element moves
    changed[:, sources[q]] = np.roll(changed[:, sources[q]], 1)  # another sample's value there: in range
    try:
        outs = [predict(xs), predict(xs), predict(changed.reshape(xs.shape))]
    except Exception:  # the model refuses the changed inputs: no evidence either way
        return []
    if any(o is None or np.shape(o) != np.shape(y) for o in outs):
        return []
    before, again, after = (np.asarray(o, dtype=np.float64).reshape(len(yf), -1) for o in outs)
    scale = float(np.abs(before).max())
    shift = np.abs(after - before).max(axis=0)  # per output, over the samples
    # whether the output can read that input at all (a path, however faint: a model that has not yet
    # learned the copy reads it weakly), not how much: an output with no path to it is recomputed
    # bit for bit, so anything past rounding and past what a second identical pass varies is a path
    bar = max(LEAK_PATH_RTOL * scale, LEAK_PATH_NOISE * float(np.abs(again - before).max()))
    moved = float(shift[q])
    if not (np.isfinite(scale) and np.isfinite(shift).all()) or scale == 0 or moved <= bar or (shift > bar).all():
        return []
    target = [int(i) for i in np.unravel_index(q, y_shape)]
    source = [int(i) for i in np.unravel_index(sources[q], x_shape)]
    still = int((shift <= bar).sum())
    return [(C.TARGET_LEAKAGE,
             f"{len(sources)} of {len(read)} targets read are, in all {len(yf)} samples, an element of the sample's "
             f"own inputs at another place (the target at {target} is the input at {source}), and the output there "
             f"moved by {fmt(moved)} (outputs up to {fmt(scale)}; {still} of {shift.size} outputs did not move) when "
             "that input changed: the model reads the answer it is asked for (targets shifted the wrong way in "
             "time, a label among the features), so training copies it and a fitted batch proves nothing; build "
             "each target from what the model has not seen (a forecast's targets lie after its inputs)")]


def target_leak(x: np.ndarray | None, y: np.ndarray | None,
                predict: Callable[[np.ndarray], np.ndarray]) -> list[Evidence]:
    """Next-token targets (:func:`_next_token_targets`) the model can see: the input at one position
    along the sequence axis is changed in every sample, and the outputs at the position whose target
    it is move (beyond rounding, ``LEAK_RTOL``). A causal model's outputs there cannot move; one that
    attends to later positions copies its targets instead of predicting them, so the loss falls fast
    and a fitted batch proves nothing. ``predict`` runs the model in eval mode on inputs like ``x``."""
    found = _next_token_targets(x, y)
    if found is None:
        return []
    ids, onehot, axis, shift, offset = found
    length = y.shape[axis]
    at = (length - shift) // 2  # a position with context on both sides
    if len(np.unique(ids)) < 2:
        return []
    fed = _another_id_at(x, ids, onehot, axis, offset + at + shift)
    try:
        before, after = predict(x), predict(fed)
    except Exception:  # the model refuses the changed ids: no evidence either way
        return []
    if before is None or after is None or before.shape != after.shape:
        return []
    classes_last = _classes_last(before, np.take(ids, np.arange(offset, offset + length), axis=axis))
    if classes_last is None or (not classes_last and axis == 0):
        return []
    position_axis = axis if classes_last else axis + 1
    scale = float(np.abs(before).max())
    if not np.isfinite(scale) or scale == 0:
        return []
    moved = _largest_move(before, after, at, position_axis)
    if moved <= LEAK_RTOL * scale:
        return []
    if not shift and (at < 2 or _largest_move(before, after, np.arange(at - 1), position_axis) > LEAK_RTOL * scale):
        # targets at the inputs' own positions are an autoencoder's (or a copy task's) unless the model
        # runs left to right: outputs before the changed position, short of the one just before it
        # (outputs cropped by one), must stay where they were
        return []
    return [(C.TARGET_LEAKAGE,
             (f"the targets are the inputs {shift} position(s) ahead along axis {axis} (next-token prediction"
              if shift else f"the targets are a window of the inputs along axis {axis} (the same positions")
             + (f"; the outputs sit on the inputs from position {offset} on" if offset else "") + "), and "
             f"the outputs at position {at} moved by {fmt(moved)} (outputs up to {fmt(scale)}) when the input at "
             f"position {offset + at + shift} — their own target — changed: the model reads the token it is asked to "
             + ("predict (attention without a causal mask, a bidirectional layer)" if shift else
                "predict (outputs cropped or shifted past the positions their targets come from)")
             + ", so training copies it instead of "
             "predicting it and a fitted batch proves nothing")]


def _left_to_right(before: np.ndarray, after: np.ndarray, at: int, axis: int, scale: float) -> float | None:
    """How far the outputs at position ``at`` along ``axis`` moved when the input there changed, where
    they moved (beyond ``LEAK_RTOL`` of ``scale``) and no output before ``at`` did: a model that reads
    left to right; None otherwise."""
    there = _largest_move(before, after, at, axis)
    if _largest_move(before, after, np.arange(at), axis) > LEAK_RTOL * scale or there <= LEAK_RTOL * scale:
        return None
    return there


def _largest_move(before: np.ndarray, after: np.ndarray, positions: Any, axis: int) -> float:
    """How far the outputs at ``positions`` (one index or several) along ``axis`` moved, at most."""
    return float(np.abs(np.take(after, positions, axis=axis) - np.take(before, positions, axis=axis)).max())


def _own_ids(x: np.ndarray | None, y: np.ndarray | None, predict: Callable[[np.ndarray], np.ndarray]
             ) -> tuple[np.ndarray, bool, np.ndarray, bool, int, float] | None:
    """Targets that are the input ids themselves (:func:`copied_targets`, :func:`read_ahead`): the ids,
    whether ``x`` holds them one-hot, the model's outputs on ``x``, whether their classes are last, how
    many there are and the outputs' largest magnitude; None where the targets are not the ids, hold one
    id alone, or the outputs do not score every id per position."""
    read = _token_ids(x) if x is not None and y is not None and np.issubdtype(y.dtype, np.integer) else None
    if read is None or read[0].shape != y.shape or not np.array_equal(read[0], y) or y.ndim < 2:
        return None
    ids, onehot = read
    if len(np.unique(ids)) < 2:
        return None
    try:
        before = predict(x)
    except Exception:  # the model refuses the batch here: no evidence either way
        return None
    classes_last = None if before is None or not np.isfinite(before).all() else _classes_last(before, ids)
    if classes_last is None:
        return None
    classes = before.shape[-1] if classes_last else before.shape[1]
    if ids.max() >= classes:
        return None
    return ids, onehot, before, classes_last, classes, float(np.abs(before).max()) or 1.0


def _one_later(ids: np.ndarray, axis: int) -> np.ndarray:
    """Each position's id one position later along ``axis`` (the last position keeps its own)."""
    length = ids.shape[axis]
    return np.concatenate([np.take(ids, np.arange(1, length), axis=axis), np.take(ids, [length - 1], axis=axis)],
                          axis=axis)


def _clearly_below(low: float, high: float) -> bool:
    """Whether loss ``low`` lies below ``high`` by a gap of half the larger magnitude, whatever the sign:
    an NLLLoss on one-hot probe outputs is negative (−10 where a position's pick is its target), and
    half of a negative loss lies above it."""
    return high - low > 0.5 * max(abs(low), abs(high))


def copied_targets(x: np.ndarray | None, y: np.ndarray | None, predict: Callable[[np.ndarray], np.ndarray],
                   loss_of: Callable[[np.ndarray], float]) -> list[Evidence]:
    """Targets that are the input ids themselves, given to a left-to-right model under a loss that
    pairs each position with its own input (a next-token model whose loss forgot to shift) or with
    the previous position's (a shift the wrong way round: outputs[:, 1:] against targets[:, :-1]). The
    model is left-to-right along a sequence axis when changing the input at one position moves the
    outputs there and at the next one (context carried forward; independent positions, such as the
    batch axis of a seq-first layout, do not) and at no earlier position (``LEAK_RTOL``); the loss
    pairs positions with inputs the model has read when outputs that copy each position's input, or
    repeat the previous one, score lower than outputs that predict the next one. Training then
    echoes what it read. An autoencoder
    (targets the inputs, a model that is not left-to-right) and a loss that shifts the targets
    itself are no such case."""
    own = _own_ids(x, y, predict)
    if own is None:
        return []
    ids, onehot, before, classes_last, classes, scale = own
    for axis in range(1, ids.ndim):
        length = ids.shape[axis]
        if length < 3:
            continue
        at = length // 2
        try:
            after = predict(_another_id_at(x, ids, onehot, axis, at))
        except Exception:
            return []
        out_axis = axis if classes_last else axis + 1
        there = _left_to_right(before, after, at, out_axis, scale)
        # the next position reads the change too in a model that carries context forward; positions
        # that are independent (the batch axis of a seq-first layout) do not
        carried = _largest_move(before, after, at + 1, out_axis) > LEAK_RTOL * scale
        if there is None or not carried:
            continue  # not left-to-right along this axis, blind to its own position, or no context
        following = _one_later(ids, axis)
        preceding = np.concatenate([np.take(ids, [0], axis=axis),
                                    np.take(ids, np.arange(length - 1), axis=axis)], axis=axis)
        try:
            scored = [float(loss_of(_one_hot_logits(a, classes, classes_last).astype(before.dtype)))
                      for a in (ids, preceding, following)]
        except Exception:  # a loss that refuses the probe's outputs: no evidence either way
            return []
        if not np.isfinite(scored).all():
            return []
        copying, repeating, predicting = scored
        said = (f"the targets are the input ids themselves and the model is left-to-right along axis {axis} "
                f"(changing the input at position {at} moved the outputs there by {fmt(there)} and at the next, and at "
                "no earlier position), yet the loss scores outputs that ")
        if copying < predicting and copying <= repeating:
            return [(C.TARGET_LEAKAGE, said + f"copy each position's input at {fmt(copying)}, below {fmt(predicting)} "
                                              "for outputs that predict the next one: it pairs each position with the "
                                              "token the model sees there, so training copies it; shift the targets "
                                              "(outputs[:, :-1] against targets[:, 1:])")]
        if repeating < predicting:
            return [(C.TARGET_LEAKAGE, said + f"repeat the previous position's input at {fmt(repeating)}, below "
                                              f"{fmt(predicting)} for outputs that predict the next one: the shift runs "
                                              "the wrong way (outputs[:, 1:] against targets[:, :-1]), pairing each "
                                              "output with a token the model has already read, so training echoes it; "
                                              "pair outputs[:, :-1] with targets[:, 1:]")]
        return []
    return []


def read_ahead(x: np.ndarray | None, y: np.ndarray | None, predict: Callable[[np.ndarray], np.ndarray],
               loss_of: Callable[[np.ndarray], float]) -> list[Evidence]:
    """Targets that are the input ids themselves under a loss that shifts them (it scores outputs that
    predict each next input below outputs that copy each position's own: next-token training, the
    shift inside the loss), given to a model whose output at a position moves when the input one
    position later changes (``LEAK_RTOL``): each output reads the token it is scored against — a
    causal mask replaced by a padding mask, a bidirectional layer — so training copies it.
    :func:`target_leak` asks the same of targets the data shifted; :func:`copied_targets` the case of
    a loss that does not shift."""
    own = _own_ids(x, y, predict)
    if own is None or own[0].min() < 0:
        return []
    ids, onehot, before, classes_last, classes, scale = own
    for axis in range(1, ids.ndim):
        length = ids.shape[axis]
        if length < 4:
            continue
        following = _one_later(ids, axis)
        try:
            copying, predicting = (float(loss_of(_one_hot_logits(a, classes, classes_last).astype(before.dtype)))
                                   for a in (ids, following))
        except Exception:  # a loss that refuses the probe's outputs: no evidence either way
            return []
        if not (np.isfinite(copying) and np.isfinite(predicting)) or not _clearly_below(predicting, copying):
            continue  # the loss pairs each output with its own position's input: an autoencoder's, or unshifted
        at = length // 2 - 1
        try:
            after = predict(_another_id_at(x, ids, onehot, axis, at + 1))
        except Exception:
            return []
        if after is None or after.shape != before.shape:
            return []
        out_axis = axis if classes_last else axis + 1
        moved = _largest_move(before, after, at, out_axis)
        if moved <= LEAK_RTOL * scale:
            continue
        return [(C.TARGET_LEAKAGE,
                 f"the targets are the input ids themselves and the loss shifts them (outputs that predict each "
                 f"next input score {fmt(predicting)}, below {fmt(copying)} for outputs that copy their own), yet "
                 f"the outputs at position {at} along axis {axis} moved by {fmt(moved)} (outputs up to {fmt(scale)}) "
                 f"when the input at position {at + 1} — their own target — changed: the model reads the token it is "
                 "asked to predict (attention without a causal mask, or a padding mask passed where the causal one "
                 "belongs; a bidirectional layer), so training copies it instead of learning to predict it")]
    return []


def skipped_tokens(x: np.ndarray | None, y: np.ndarray | None, predict: Callable[[np.ndarray], np.ndarray],
                   loss_of: Callable[[np.ndarray], float]) -> list[Evidence]:
    """Targets shifted twice: the loss scores the output at each position of a left-to-right model
    against the input token two or more positions ahead, so the token in between is one it never
    reads. The distance adds what the data shift (targets the input ids ``shift`` positions ahead,
    :func:`_next_token_targets`) and what the loss shifts itself (outputs that predict each position's
    target one position later scoring below outputs that predict it in place: a Hugging Face
    causal-LM loss, which drops the first label). Next-token training is one in all: the ids
    themselves under a shifting loss, or ids one ahead under one that does not. The model is
    left-to-right along the sequence when changing the input at one position moves the outputs
    there and at no earlier position (``LEAK_RTOL``); a model that reads ahead copies its targets
    instead, which :func:`target_leak` names."""
    found = _next_token_targets(x, y)
    if found is None:
        return []
    ids, onehot, axis, shift, offset = found
    y = np.asarray(y)
    if axis != 1 or y.ndim != 2 or y.shape[1] < 4 or len(np.unique(ids)) < 2:
        return []
    try:
        before = predict(x)
    except Exception:  # the model refuses the batch here: no evidence either way
        return []
    classes_last = None if before is None or not np.isfinite(before).all() else _classes_last(before, y)
    if classes_last is None:
        return []
    classes = before.shape[-1] if classes_last else before.shape[1]
    if y.min() < 0 or y.max() >= classes:
        return []
    later = _one_later(y, 1)  # each position's target one position later
    try:
        in_place, one_later = (float(loss_of(_one_hot_logits(a, classes, classes_last).astype(before.dtype)))
                               for a in (y, later))
    except Exception:  # a loss that refuses the probe's outputs: no evidence either way
        return []
    if not (np.isfinite(in_place) and np.isfinite(one_later)):
        return []
    by_loss = 1 if _clearly_below(one_later, in_place) else 0 if one_later >= in_place else None
    if by_loss is None or shift + offset + by_loss < 2:
        return []
    changed = offset + y.shape[1] // 2  # an input position the outputs read, whichever reading holds
    try:
        after = predict(_another_id_at(x, ids, onehot, 1, changed))
    except Exception:
        return []
    if after is None or np.shape(after) != np.shape(before):
        return []
    # the data show only offset + shift: where the outputs sit on the inputs — from position 0 (labels
    # trimmed by a model's own causal-LM loss line up one further in), from ``offset`` (a decoder's part
    # after its source) or in between — is what the first output to move when one input changes says.
    # One that reads ahead (target_leak's case) sits past ``offset``; one blind to its own position's
    # input would read as sitting further left, and none sits before the first input
    moved = np.abs(after - before).max(axis=tuple(a for a in range(before.ndim) if a != (1 if classes_last else 2)))
    beyond = moved > LEAK_RTOL * (float(np.abs(before).max()) or 1.0)
    first = int(np.argmax(beyond)) if beyond.any() else None
    if first is None or not 0 <= changed - first <= offset:
        return []
    trimmed = changed - first < offset  # the targets line up further in than the outputs sit
    shift += offset - (changed - first)
    ahead = shift + by_loss
    if ahead < 2:
        return []  # the outputs sit on the decoder's part: next-token training
    how = (f"the targets{', as the loss pairs them with the outputs,' if trimmed else ''} are the input ids {shift} position{'s' if shift > 1 else ''} ahead" + (
        f", and the loss shifts them once more itself (outputs that predict each position's target one position "
        f"later score {fmt(one_later)}, outputs that predict it in place {fmt(in_place)}: a causal-LM loss that "
        "drops the first label)" if by_loss else
        f" under a loss that pairs them in place (outputs that predict each target in place score {fmt(in_place)}, "
        f"one position later {fmt(one_later)})"))
    return [(C.TARGETS_SHIFTED,
             f"{how}: the output at each position is scored against the input {ahead} positions ahead, yet the model "
             f"is left-to-right (changing the input at position {changed} moved the outputs at position {first} "
             f"and at no earlier one), so the " + ("token in between is" if ahead == 2 else f"{ahead - 1} tokens in between are")
             + " never read: it learns to guess past a token "
             "instead of predicting the next one")]


def context_ignored(x: np.ndarray | None, y: np.ndarray | None, predict: Callable[[np.ndarray], np.ndarray],
                    demanded: np.ndarray | None) -> list[Evidence]:
    """Per-position class ids ``y`` for token inputs ``x`` of the same (N, T) layout, where a model
    that reads one position at a time cannot fit them — equal inputs at ``demanded`` positions with
    different targets — and the model is such a model: changing every other position's input leaves
    the eval-mode outputs at the probed positions where they were (``unmoved``), while changing the
    position's own input moves them (beyond ``LEAK_RTOL``). A recurrent loop that never carries its
    state, or a head on one step's input, does this; a model that reads context, or none of its
    input, does not. Axis 0 must hold independent samples: changing every other sample leaves one
    sample's outputs where they were (a seq-first model's axis 0 is time, and its samples, along
    axis 1, would read as positions read alone). ``predict`` runs the model in eval mode on inputs
    like ``x``."""
    x = None if x is None else np.asarray(x)
    read = None if x is None or y is None else _token_ids(x)
    if read is None or not np.issubdtype(np.asarray(y).dtype, np.integer):
        return []
    ids, onehot = read
    if ids.ndim != 2 or ids.shape != np.shape(y) or ids.shape[1] < 3:
        return []
    y = np.asarray(y)
    want = (y >= 0) if demanded is None else (np.asarray(demanded, dtype=bool) & (y >= 0))
    # equal inputs, different targets: all but the commonest target of each input id are out of reach
    pairs = np.stack([ids[want], y[want]], axis=1)
    if not len(pairs):
        return []
    found, counts = np.unique(pairs, axis=0, return_counts=True)
    best: dict[int, int] = {}
    for (token, _), count in zip(found.tolist(), counts.tolist()):
        best[token] = max(best.get(token, 0), int(count))
    unreachable = len(pairs) - sum(best.values())
    if unreachable == 0:
        return []
    try:
        base = predict(x)
    except Exception:  # the model refuses the batch here: no evidence either way
        return []
    classes_last = None if base is None else _classes_last(base, ids)
    if classes_last is None:
        return []
    scale = float(np.abs(base).max())
    if not np.isfinite(scale) or scale == 0:
        return []
    # the positions most targets are demanded at, past the first (which has no earlier input)
    per_position = want.sum(axis=0)
    picks = sorted(int(t) for t in np.argsort(-per_position[1:], kind="stable")[:3] + 1 if per_position[t] > 0)
    if not picks or len(np.unique(ids)) < 2:
        return []
    shifted = _next_ids(ids)

    def at(out: np.ndarray, t: int) -> np.ndarray:
        return out[:, t] if classes_last else out[:, :, t]

    # axis 0 holds the samples, each independent of the others (a seq-first model, reading time along
    # axis 0, would be read as one reading its positions alone: its samples are). Asked of the first and
    # the last: a causal model's last time step reads all the others, a backward one's first.
    for row in (0, len(ids) - 1):
        others = shifted.copy()
        others[row] = ids[row]
        try:
            apart = predict(_as_inputs(x, others, onehot))
        except Exception:
            return []
        if apart is None or apart.shape != base.shape \
                or not unmoved(float(np.abs(apart[row] - base[row]).max()), base, scores=True):
            return []
    largest = 0.0
    for t in picks:
        own, rest = ids.copy(), shifted.copy()
        own[:, t], rest[:, t] = shifted[:, t], ids[:, t]
        try:
            own_out, rest_out = predict(_as_inputs(x, own, onehot)), predict(_as_inputs(x, rest, onehot))
        except Exception:
            return []
        if own_out is None or rest_out is None or own_out.shape != base.shape or rest_out.shape != base.shape:
            return []
        if float(np.abs(at(own_out, t) - at(base, t)).max()) <= LEAK_RTOL * scale:
            return []  # the output there ignores its own input too: not this defect
        moved = float(np.abs(at(rest_out, t) - at(base, t)).max())
        if not unmoved(moved, base, scores=True):
            return []  # it reads other positions
        largest = max(largest, moved)
    return [(C.CONTEXT_IGNORED,
             f"the outputs at position(s) {', '.join(map(str, picks))} moved by {fmt(largest)} when every other "
             f"position's input changed (outputs up to {fmt(scale)}), and with their own input: each position is "
             f"read alone, yet {unreachable} of {len(pairs)} demanded positions share their input with positions of "
             "other targets, which no model reading one position at a time can tell apart (a recurrent state "
             "never carried to the next step, or a head on one step's input)")]


def _one_hot_logits(ids: np.ndarray, classes: int, classes_last: bool, value: float = 10.0) -> np.ndarray:
    """Logits that pick ``ids`` with a margin of ``value``, classes last or at axis 1."""
    logits = np.eye(classes, dtype=np.float32)[ids] * value
    return logits if classes_last else np.moveaxis(logits, -1, 1)


def unpaired_loss(views: list[Callable[[], np.ndarray | None]], targets: np.ndarray | None,
                  loss_at: Callable[[np.ndarray], float], reads_targets: Callable[[], bool]) -> list[Evidence]:
    """The loss does not pair each output with its own target: shuffling the outputs across the
    samples (each now facing another sample's targets) leaves it unchanged, at every output ``view``
    given (the model's outputs at the start and at the end of the run). A distance of shape (B,)
    against labels of shape (B, 1) broadcasts into a (B, B) matrix whose mean scores every output
    against every target — exactly invariant under the shuffle — where a per-sample loss moves with
    the outputs' spread. Views whose rows barely differ (a collapsed model), or over which the loss
    is affine (it moves no more going half way to the shuffled outputs: a per-sample MAE whose
    targets lie far above every output depends on their sum alone), prove nothing; so does a loss
    that never reads its targets (``reads_targets``, asked last). ``views`` are read lazily and the
    first shuffle that moves the loss ends the look: a correct loss costs two evaluations."""
    if targets is None or len(targets) < 4 or not views:
        return []
    perms = _pairing_permutations(targets)
    if len(perms) < 2:
        return []
    seen = []
    for view in views:
        out = view()
        if out is None or len(out) != len(targets) or not np.isfinite(out).all():
            return []
        rows = out.reshape(len(out), -1).astype(np.float64)
        spread = 1e-3 * (float(np.sqrt(np.mean(np.square(rows)))) + 1e-12)
        base = loss_at(out)
        if not np.isfinite(base):
            return []
        for p in perms:
            if np.mean(np.abs(rows[p] - rows).max(axis=1) > spread) < 0.5:
                return []
            shuffled = _shuffle_unseen(out, p, base, loss_at)
            if shuffled is None:
                return []
            seen.append((base, shuffled))
    if not reads_targets():
        return []
    base, shuffled = seen[0]
    change = max(abs(b - s) / max(abs(b), abs(s), 1e-12) for b, s in seen)
    return [(C.TARGET_SHAPE,
             f"the loss does not pair each output with its own target: with the outputs shuffled across the "
             f"samples, each facing another sample's targets, it is {fmt(shuffled)} against {fmt(base)} "
             f"({len(seen)} shuffles at the start and the end of the run, changes up to {change:.1e} of it, "
             f"rounding): an elementwise loss broadcasting a "
             f"per-sample value of shape (B,) against targets of shape (B, 1) — or the reverse — scores every "
             f"output against every target (keepdim=True, or squeeze the targets), or a loss that never reads "
             f"its targets")]


def _shuffle_unseen(out: np.ndarray, p: np.ndarray, base: float,
                    loss_at: Callable[[np.ndarray], float]) -> float | None:
    """The loss at ``out`` with its rows shuffled by ``p``, where that leaves it within PAIRING_RTOL of
    ``base`` (its value at ``out``) while going half way there moves it by PAIRING_SENSITIVE or more;
    None otherwise (a loss affine in the outputs over this span proves nothing by a shuffle)."""
    shuffled = loss_at(np.ascontiguousarray(out[p]))
    scale = max(abs(base), abs(shuffled), 1e-12)
    if not np.isfinite(shuffled) or abs(shuffled - base) > PAIRING_RTOL * scale:
        return None
    half = loss_at(np.ascontiguousarray(0.5 * (out + out[p]), dtype=out.dtype))
    if not np.isfinite(half) or abs(half - base) < PAIRING_SENSITIVE * scale:
        return None
    return float(shuffled)


def one_output_for_classes(targets: np.ndarray | None, outputs: np.ndarray | None,
                           loss_at: Callable[[np.ndarray], float]) -> list[Evidence]:
    """One output per sample against one-hot targets of two or more classes: a loss that broadcasts
    the one output across the target's columns (Keras 2's binary cross-entropy on a (N, 1) sigmoid
    against (N, 3) one-hot rows; an MSE torch only warns about) scores each sample's output alike
    whatever its class, so no output can tell the classes apart. Shown on seeded outputs spread over
    the head's range (the model's own barely differ at init and collapse to one value in training):
    shuffled across samples of other classes they leave the loss where it was (PAIRING_RTOL), while
    going half way there moves it (PAIRING_SENSITIVE: not affine over the span). Three loss calls a
    shuffle, two shuffles; only for such targets and heads."""
    if targets is None or outputs is None or len(targets) != len(outputs) or len(targets) < 4:
        return []
    n = len(targets)
    y = np.asarray(targets, dtype=np.float64).reshape(n, -1)
    o = np.asarray(outputs, dtype=np.float64).reshape(n, -1)
    if o.shape[1] != 1 or y.shape[1] < 2 or not np.isfinite(y).all() or not np.isfinite(o).all() \
            or not np.isin(y, (0.0, 1.0)).all() or not (y.sum(axis=1) == 1).all() \
            or len(np.unique(y.argmax(axis=1))) < 2:
        return []
    u = np.random.default_rng(0).uniform(-1.0, 1.0, size=o.shape)  # own generator: no global state touched
    # outputs in [0, 1] are probabilities: spread them inside it; any other head over about unit scale
    spread = 0.5 + 0.4 * u if o.min() >= 0 and o.max() <= 1 else \
        float(o.mean()) + max(float(np.sqrt(np.mean(np.square(o)))), 1.0) * u
    spread = spread.reshape(np.asarray(outputs).shape).astype(np.asarray(outputs).dtype)
    base = loss_at(spread)
    if not np.isfinite(base):
        return []
    perms = _pairing_permutations(y)
    if len(perms) < 2:
        return []
    for p in perms:
        shuffled = _shuffle_unseen(spread, p, base, loss_at)
        if shuffled is None:
            return []
    return [(C.HEAD_WIDTH,
             f"one output per sample against one-hot targets of {y.shape[1]} classes: the loss scores each "
             f"sample's output alike whatever its class (outputs spread over the head's range and shuffled across "
             f"samples of other classes: {fmt(shuffled)} against {fmt(base)}), so the one output is stretched "
             f"across the {y.shape[1]} target columns and no output can tell the classes apart; give the head one "
             f"output per class (a softmax with a categorical cross-entropy, or logits with a loss from logits)")]


def independence_tolerance(outputs: np.ndarray) -> float:
    """How far another sample's outputs may move when one sample changes: rounding, relative to
    the largest finite |output|."""
    finite = outputs[np.isfinite(outputs)]
    return INDEPENDENCE_RTOL * (float(np.abs(finite).max(initial=0.0)) + 1e-6)


def unmoved(change: float, outputs: np.ndarray, *, scores: bool = False) -> bool:
    """Whether an output changed by ``change`` stayed where it was: within float32 rounding of the
    largest |output|, not merely small (an untrained head on tiny weights moves its output by 1e-5
    of 0.5). Class ``scores`` (logits, probabilities) are read on a scale of at least 1, a nat or
    the whole of a probability: logits that all sit within 1e-8 of 0 and move by 1e-9 give every
    sample the same probabilities to within rounding, however large that move is beside them."""
    scale = float(np.abs(outputs).max(initial=0.0))
    return change <= OUTPUT_UNMOVED * (max(scale, 1.0) if scores else scale)


def inference_noise(first: np.ndarray, second: np.ndarray) -> str | None:
    """Two eval-mode passes over the same batch: the line saying they differ (the model samples at
    inference, e.g. a VAE's reparameterisation), or None where they agree within float32 rounding."""
    a, b = first.astype(np.float64), second.astype(np.float64)
    if a.shape != b.shape or not (np.isfinite(a).all() and np.isfinite(b).all()):
        return None
    gap = float(np.abs(a - b).max(initial=0.0))
    if unmoved(gap, a):
        return None
    return (f"two eval-mode passes over the same batch differed by up to {fmt(gap)} (the model samples at "
            "inference), so changing one sample's input could not show what its outputs depend on")


def changed_samples(n: int) -> list[int]:
    """Which samples of a batch of ``n`` the input-dependence look changes: up to CHANGED_SAMPLES
    spread over the batch, leaving at least half of it as it was. One sample can sit where a narrow
    ReLU network is locally flat (every unit of a 5-wide layer off for that input) while the model
    still reads its inputs; the outputs ignore the inputs only where none of them moves."""
    k = max(1, min(CHANGED_SAMPLES, n // 2))
    return sorted({int(round(i * (n - 1) / max(k - 1, 1))) for i in range(k)})


def alike_everywhere(outputs: np.ndarray, scores: bool = False) -> bool:
    """Whether every sample of a batch gets the same outputs, within :func:`unmoved`'s rounding, and
    these are no saturated probabilities (rows pinned at 0 and 1 are alike however the inputs differ)."""
    flat = outputs.reshape(len(outputs), -1).astype(np.float64)
    if not len(flat) or not np.isfinite(flat).all():
        return False
    if scores and flat.min() >= 0 and flat.max() >= 1 - 1e-4:
        return False
    return unmoved(float(np.abs(flat - flat[0]).max()), flat, scores=scores)


def read_outputs_alike(outputs: np.ndarray, ignored: np.ndarray, axis: int, *, scores: bool = False) -> list[Evidence]:
    """Outputs per position (class axis ``axis``) where the loss skips some positions (``ignored``,
    in the targets' layout): every position it reads, in two samples or more, gets the same outputs
    within :func:`unmoved`'s rounding, while the outputs at positions it skips differ — the model
    reads nothing of the inputs at the positions it is trained on (callers confirm it on the trained
    model: a zero-initialised head behind an additive mask looks so at init, and trains). fastNLP's
    Star-Transformer filled the word nodes with 0 after every layer (a padding mask the wrong way
    round), keeping the padding ones: its tagger gave every word the same tag scores, and the
    changed-input look, which sees the padding positions move, could not tell."""
    rows = np.moveaxis(outputs, axis, -1).reshape(-1, outputs.shape[axis])
    skipped = np.asarray(ignored, dtype=bool).reshape(-1)
    if rows.shape[0] != skipped.size or skipped.all() or not skipped.any():
        return []
    per_sample = (~skipped).reshape(len(outputs), -1).any(axis=1)
    if per_sample.sum() < 2 or not alike_everywhere(rows[~skipped], scores) or alike_everywhere(rows, scores):
        return []
    return [(C.NO_INPUT_SIGNAL,
             f"the outputs ignore the inputs where the loss reads them: at all {int((~skipped).sum())} positions it "
             f"reads, in {int(per_sample.sum())} samples, the model gives the same outputs, while the "
             f"{int(skipped.sum())} it skips differ; a layer that stops the input at those positions (a padding "
             "mask applied the wrong way round, zeroing the real tokens and keeping the padding)")]


def input_dependence(base: np.ndarray, after: np.ndarray, changed: list[int], *,
                     scores: bool = False) -> list[Evidence]:
    """Eval-mode outputs of a batch before and after only the samples ``changed`` were changed: none
    of their outputs moved (the outputs ignore the inputs, so nothing can be fitted), or another
    sample's did (each prediction depends on the rest of its batch). ``scores``: the outputs are class
    scores (see :func:`unmoved`)."""
    n = len(base)
    flat, moved = base.reshape(n, -1).astype(np.float64), after.reshape(n, -1).astype(np.float64)
    if moved.shape != flat.shape or not np.isfinite(flat).all() or not np.isfinite(moved).all():
        return []
    delta = np.abs(moved - flat).max(axis=1)
    tol = independence_tolerance(flat)
    which = listed([str(j) for j in changed])
    own, judged = delta, flat
    if scores and min(flat.min(), moved.min()) >= 0 and max(flat.max(), moved.max()) <= 1:
        # probabilities: a change is read against each probability, in nats (float32 keeps about 1e-7 of
        # each), not against a whole probability: a 500-way softmax at init holds 0.002 a class, where a
        # move of 2.8e-7 is 1.4e-4 nat, a signal faded through four LSTMs and no rounding
        floor = 1e-30  # below it float32 loses relative precision (subnormals): read as 0 on both sides
        own = np.abs(np.log(np.maximum(moved, floor)) - np.log(np.maximum(flat, floor))).max(axis=1)
        judged = np.ones(1)  # a nat
    if all(unmoved(float(own[j]), judged, scores=scores) for j in changed):
        return [(C.NO_INPUT_SIGNAL,
                 f"the outputs ignore the inputs: changing the input of sample(s) {which} left their eval-mode "
                 f"outputs unchanged (by at most {fmt(float(delta[changed].max()))}), so no input can be told "
                 "from another; a layer "
                 "that stops the input (attention over the wrong axis, e.g. batch-first tensors into "
                 "nn.MultiheadAttention without batch_first=True; a detached or overwritten activation; units "
                 "that never activate)")]
    others = np.array([i for i in range(n) if i not in changed], dtype=int)
    hit = others[delta[others] > tol]
    if not len(hit):
        return []
    return [(C.BATCH_MIXING,
             f"changing sample(s) {which} alone changed the eval-mode outputs of {len(hit)} of the other {len(others)} "
             f"sample(s) (by up to {fmt(float(delta[others].max()))}): each prediction depends on the rest of its "
             "batch (a reshape or attention across the batch dimension, a batch-first tensor fed to a "
             "sequence-first layer, a reduction over dim 0); batch_independence shows where")]


def fading_signal(inputs: list[tuple[str, np.ndarray]]) -> list[Evidence]:
    """Behind outputs that ignore the inputs: no layer cuts the signal, each weighted layer's input
    varies across samples less than the one before (read from the first layer's output where that
    layer maps the data to a larger scale of its own) until it is at rounding (``SIGNAL_GONE`` of the
    first one's; below that float32 holds it at a floor or 0) or, short of that, at the head, having
    fallen to ``SIGNAL_FADED`` of the first one's or less, and no single layer takes half of the fall
    (in orders of magnitude): an initialisation that shrinks the signal layer by layer before the head
    (AUTOTRAINER's ±0.05-uniform 8×5 ReLU stack: ×0.02-0.1 a layer, 0.53 to 7.5e-12; its 35-layer
    glorot ReLU stack, ×0.7 a layer to 2e-6), not a layer that drops it (attention over the batch, an
    input multiplied by 0: one fall)."""
    spreads = [float(v.reshape(len(v), -1).astype(np.float64).std(axis=0).mean()) if v.size and len(v) > 1
               else float("nan") for _, v in inputs if np.issubdtype(v.dtype, np.floating)]
    if len(spreads) > 1 and spreads[1] > spreads[0]:  # the first layer maps the data to a larger scale of its own
        spreads = spreads[1:]
    if len(spreads) < 4 or not all(np.isfinite(v) for v in spreads) or spreads[0] <= 0:
        return []
    # read up to the first layer where it is at rounding (below that float32 holds it at a floor or
    # 0), or to the last where it never gets there
    k = next((i for i, v in enumerate(spreads) if v <= SIGNAL_GONE * spreads[0]), len(spreads) - 1)
    if k < 3 or spreads[k] <= 0 or spreads[k] > SIGNAL_FADED * spreads[0]:  # too few layers, dropped to 0
        return []                                                           # at once, or not faded
    spreads = spreads[:k + 1]
    falls = [float(np.log10(a / b)) for a, b in zip(spreads, spreads[1:])]
    total = sum(falls)
    if min(falls) <= 0 or max(falls) > total / 2:
        return []
    per_layer = 10 ** (-total / len(falls))
    return [(C.VANISHING_GRADIENTS,
             f"the outputs ignore the inputs, but no layer cuts the signal: its spread across samples shrinks from "
             f"each weighted layer's input to the next over {len(spreads)} layers (×{fmt(per_layer)} a layer, "
             f"{fmt(spreads[0])} to {fmt(spreads[-1])}) and has faded before the head; the initial "
             "weights are too small for the depth (use the initialisation the activation calls for: He for ReLU)")]


def uncovered(names: list[str]) -> list[Evidence]:
    if not names:
        return []
    return [(C.PARAMS_NOT_UPDATED,
             f"{len(names)} trainable parameter(s) are not in the optimizer and never change: {listed(names)}; "
             "add them, or freeze them on purpose with requires_grad_(False)")]


def unreached(grads: dict[str, np.ndarray | None], total: int) -> list[Evidence]:
    """Trainable parameters the loss does not reach at all (no gradient, not a zero one), where they
    hold UNREACHED_SHARE of the model's ``total`` trainable scalars or more: layers whose outputs feed
    nothing the loss reads. A sliver (a pooler or spare head kept for a checkpoint) is left to
    gradients_flow. Each gradient has its parameter's shape, so what the others leave is theirs."""
    missing = [n for n, g in grads.items() if g is None]
    share = 1.0 - sum(g.size for g in grads.values() if g is not None) / total if total else 0.0
    if not missing or share < UNREACHED_SHARE:
        return []
    why = ("the loss is cut off from the model (computed through .item(), numpy or a detach)" if len(missing) == len(grads)
           else "their layers' outputs feed nothing the loss reads (a layer wired to the wrong input, a detach)")
    return [(C.NO_GRADIENT, f"{len(missing)} trainable parameter(s), {share:.0%} of the model's weights, get no "
                            f"gradient from the loss: {listed(missing)}; {why}")]


def unregistered_in(session: Any, batch: Any) -> list[Evidence]:
    """:func:`unregistered` for the tensors the session's loss on ``batch`` reaches (two replays of
    it); none where the loss cannot be replayed (a step of the user's own says nothing new then)."""
    try:
        return unregistered(session.unregistered_leaves(batch))
    except Exception:  # the look is evidence beside a verdict: a loss it cannot replay says nothing
        return []


def unregistered(leaves: list[tuple[str, tuple[int, ...]]]) -> list[Evidence]:
    if not leaves:
        return []
    shown = [f"{name} {shape}" for name, shape in leaves]
    return [(C.PARAMS_NOT_UPDATED,
             f"{len(leaves)} tensor(s) that require grad reach the loss but are not parameters of the model, so an "
             f"optimizer over model.parameters() never updates them: {listed(shown)}; layers in a plain Python "
             "list instead of nn.ModuleList (or a dict instead of nn.ModuleDict)? (A network held apart on "
             "purpose and meant to stay fixed: requires_grad_(False) on it.)")]
