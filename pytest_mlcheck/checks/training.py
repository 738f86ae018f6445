"""The training loop both training checks run, and the probes run when it fails."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck import diagnosis
from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck.causes import Evidence
from pytest_mlcheck.checks.common import (
    dropped_in_training, flat_at_outputs, loss_on_targets, open_session, perturbed, scaled_inputs, stochastic_training,
    unread_columns,
)
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec
from pytest_mlcheck.errors import NotSupported, UserCodeError
from pytest_mlcheck.settings import Settings
from pytest_mlcheck.targets import (
    Targets, head_bound, head_cannot_reach, in_layout, normalised_axis, normalised_elsewhere, outvoted_among,
    prediction_rows, pressed_in_retries,
)
from pytest_mlcheck.report import fmt
from pytest_mlcheck.thresholds import (
    EXTEND_MIN_GAIN, FORWARD_BLOWUP, LR_VANISHED, OVERFIT_EXTEND, OVERFLOW_GROWTH, OVERLAP_NEIGHBOURS, TRACE_MAX_UPDATES, PAIRING_SENSITIVE, PROBE_MAX_STEPS, PROBE_TARGET,
    INFERENCE_PASSES, RECOVERED_SPIKE, RUN_LOSS_STILL, SATURATION_SCALES, UNREACHED_PASSES,
)

if TYPE_CHECKING:
    from pytest_mlcheck.backends.base import Session


def train_loop(
    session: Any,
    batches: list[Any],
    steps: int,
    run: CheckRun | None,
    done: Callable[[list[float], int], bool] | None = None,
) -> tuple[list[float], bool, str]:
    """Train up to ``steps`` steps cycling over ``batches``; stop when ``done`` holds.

    Returns the losses, whether ``done`` held, and why it stopped ('done', 'nonfinite', 'time', 'steps').
    """
    losses: list[float] = []
    said = len(getattr(session, "optimizer_notes", ()))
    try:
        for step in range(steps):
            loss = session.train_step(batches[step % len(batches)])
            losses.append(loss)
            if not np.isfinite(loss):
                return losses, False, "nonfinite"
            if done is not None and done(losses, step):
                return losses, True, "done"
            if run is not None and run.out_of_time():
                return losses, False, "time"
        return losses, False, "steps"
    finally:  # what the session learnt of the optimizer while training (the user's step changed it)
        if run is not None:
            learnt = getattr(session, "optimizer_notes", ())[said:]
            run.result.notes.extend(n for n in learnt if n not in run.result.notes)


def settled_outputs(session: Any, prepared: Any) -> np.ndarray:
    """The eval-mode outputs on the batch a run fitted, normalisation statistics re-estimated on it
    first, as training saw it (see README)."""
    session.recalibrate(prepared)
    return session.predict(prepared)


def judge_every(budget: int) -> int:
    """How often a run is read in eval mode beside its training loss (the overlap judgement, the
    eval-mode watch of a noisy model): 40 times per budget, one eval-mode pass each."""
    return max(1, budget // 40)


class Fits:
    """The criterion of having fitted one batch, called after each step: the loss came ``drop`` of
    the way to its floor and, for classes, every sample is right in eval mode (normalisation
    statistics re-estimated on the batch first, as training saw it: see README); judged only once
    the loss has come that far. Given the batch's ``raw`` pair and the ``initial`` outputs, a batch
    whose classes overlap is also judged every ``every`` steps on the samples its neighbourhoods
    determine (:func:`fitted_where_determined`), so a run stops at the first check that holds
    rather than being judged on them only when its budget is spent. :attr:`line` says what the
    last such judgement saw."""

    def __init__(self, session: Any, prepared: Any, targets: Targets, drop: float, *,
                 raw: tuple[Any, Any] | None = None, initial: np.ndarray | None = None, every: int = 0) -> None:
        self.session, self.prepared, self.targets, self.drop = session, prepared, targets, drop
        self.raw, self.initial, self.every = raw, initial, every
        self.line: str | None = None
        self.by_overlap = False  # the run stopped because the overlap judgement held
        self.overlap: bool | None = None  # whether the batch's classes overlap (None: not read yet)

    def __call__(self, losses: list[float], step: int) -> bool:
        if self.targets.refute(losses[0], losses[-1]):
            return progress(losses[0], losses[-1], self.targets.floor) >= self.drop
        outputs = None  # read once per step: the overlap judgement reuses them
        if progress(losses[0], losses[-1], self.targets.floor) >= self.drop:
            if self.targets.task == "regression":
                if not self.targets.beats_constant(losses[-1]):
                    return False
                # a forward pass at the state now: a loss that reads the state (a VAE's KL) reads it so
                return self.targets.loss_at is None or self.targets.output_part_fitted(
                    losses[0], settled_outputs(self.session, self.prepared), self.drop)
            outputs = settled_outputs(self.session, self.prepared)
            if self.targets.fitted(outputs):
                return True
        if not self.every or len(losses) % self.every:
            return False
        self.by_overlap = self.judge(outputs) is True
        return self.by_overlap

    def judge(self, final: np.ndarray | None) -> bool | None:
        """The overlap judgement at the ``final`` eval-mode outputs (None: read them now); None
        where the batch shows no overlap."""
        if self.targets.unread or np.isfinite(self.targets.refuted):  # classes the loss does not read so
            return None
        if self.overlap is None:  # read the neighbourhoods once: the batch does not change
            self.overlap = self.raw is not None and self.initial is not None and self.targets.task != "regression" \
                and self.targets.neighbours(self.session.inputs(self.prepared)) is not None
        if not self.overlap:
            return None
        judged = fitted_where_determined(self.session, self.raw, self.prepared, self.targets, self.initial,
                                         final, self.drop)
        if judged is None:
            self.overlap = False
            return None
        self.line = judged[1]
        return judged[0]


class EvalWatch:
    """For a model whose training-mode forward pass is random (dropout and the like) and whose
    eval-mode one is not: that noise keeps its training loss above what the model has fitted, by a
    margin that does not shrink, so the criterion and the decision to train on are read from the
    eval-mode loss instead, sampled every ``every`` steps from the first (normalisation statistics
    re-estimated first, as :func:`fits` does)."""

    def __init__(self, session: Any, prepared: Any, targets: Targets, drop: float, start: float, every: int) -> None:
        self.session, self.prepared, self.targets, self.drop = session, prepared, targets, drop
        self.start, self.every = start, every
        self.points: list[float] = []
        self.step = 0  # the step of the last point, and the eval-mode outputs read there
        self.outputs: np.ndarray | None = None

    @classmethod
    def of(cls, session: Any, prepared: Any, targets: Targets, drop: float, initial: np.ndarray,
           first_loss: float, every: int) -> EvalWatch | None:
        """A watch where the training forward pass is random and the eval-mode loss can be read.
        Its start: the lower of the eval-mode loss at ``initial`` (outputs before training, whose
        normalisation statistics were not re-estimated) and the first training loss — the
        stricter reading, since the watch can only let a run pass that the training loss did not."""
        try:
            # a model that samples at inference too (a VAE) keeps that noise in eval mode: nothing to watch
            if not stochastic_training(session, prepared) or samples_at_inference(session, prepared):
                return None
            starts = [v for v in (session.loss_of(initial, prepared), first_loss) if np.isfinite(v)]
        except UserCodeError:  # the model raised in a training-mode pass: the check fails on it, as a step would
            raise
        except Exception:
            return None
        return cls(session, prepared, targets, drop, min(starts), every) if starts else None

    def sample(self, step: int) -> bool:
        """Read the eval-mode loss after ``step`` steps; whether the criterion holds there."""
        outputs = settled_outputs(self.session, self.prepared)
        loss = self.session.loss_of(outputs, self.prepared)
        self.points.append(loss)
        self.step, self.outputs = step, outputs
        if not np.isfinite(loss):
            return False
        refuted = self.targets.refute(self.start, loss)
        if progress(self.start, loss, self.targets.floor) < self.drop:
            return False
        if refuted:
            return True
        if self.targets.task == "regression":
            return self.targets.beats_constant(loss) and self.targets.output_part_fitted(self.start, outputs, self.drop)
        return bool(self.targets.fitted(outputs))

    def done(self, inner: Callable[[list[float], int], bool], offset: int) -> Callable[[list[float], int], bool]:
        """``inner`` (the training-loss criterion), or the eval-mode one every ``every`` steps;
        ``offset``: the steps run before this stretch."""
        def check(losses: list[float], step: int) -> bool:
            n = offset + step + 1
            if n == 1 and np.isfinite(losses[0]):  # the stricter start: the first training loss if lower
                self.start = min(self.start, losses[0])
            return inner(losses, step) or (n % self.every == 0 and self.sample(n))
        return check

    def still_falling(self, steps: int, limit: int) -> bool:
        """Whether the eval-mode curve sampled so far still comes down steadily, after
        ``steps`` of at most ``limit`` steps."""
        if not self.points:
            return False
        return still_falling([self.start] + self.points, self.targets.floor, target=self.drop,
                             limit=len(self.points) + 1 + (limit - steps) // self.every)

    def line(self) -> str:
        """The message line: what the eval-mode loss did."""
        came = progress(self.start, self.points[-1], self.targets.floor)
        return (f"the model's training-mode forward pass is random (dropout and the like), which keeps the "
                f"training loss above what the model fits: judged on the eval-mode loss, {fmt(self.start)} → "
                f"{fmt(self.points[-1])} at step {self.step} ({came:.0%} of the way)")


def fitted_where_determined(session: Any, raw: tuple[Any, Any], prepared: Any, targets: Targets,
                            initial: np.ndarray, final: np.ndarray | None, drop: float) -> tuple[bool, str] | None:
    """For a batch whose classes overlap (:func:`pytest_mlcheck.targets.outvoted`), the criterion on
    the samples their neighbourhoods determine: the loss of those not outvoted ``drop`` of the way
    from its value at the ``initial`` outputs to the floor, and at the ``final`` (eval-mode)
    outputs every sample right whose nearest inputs all share its class (one that merely outvotes
    its neighbours borders another class: a smooth fit may flip it while it memorises the rest).
    ``final`` None: read them now (:func:`settled_outputs`). Returns whether it holds and the line
    that says so, or None where the batch shows no overlap (regression, dense ids, no neighbourhoods)."""
    agree = targets.neighbours(session.inputs(prepared))
    if agree is None:
        return None
    mask = outvoted_among(agree)
    if not mask.any():
        return None
    keep = np.flatnonzero(~mask)
    try:
        sub = session.prepare(as_numpy(raw[0])[keep], as_numpy(raw[1])[keep])
    except Exception:  # inputs that do not slice as one array: no judgement
        return None
    final = settled_outputs(session, prepared) if final is None else final
    right = targets.right(final)
    inner = agree == OVERLAP_NEIGHBOURS
    wrong = int((~right[inner]).sum())
    start, now = session.loss_of(initial[keep], sub), session.loss_of(final[keep], sub)
    came = progress(start, now, targets.floor)
    held = wrong == 0 and bool(np.isfinite(came)) and came >= drop
    line = (f"the classes overlap in this batch: {int(mask.sum())} of {len(mask)} samples are outvoted by their "
            f"{OVERLAP_NEIGHBOURS} nearest inputs' classes, which a smooth fit gets wrong and memorises last; on "
            f"the other {len(keep)}: {int(right[keep].sum())} right, loss {fmt(start)} → {fmt(now)} ({came:.0%} of "
            f"the way), and of the {int(inner.sum())} whose nearest inputs all share their class "
            f"{int(inner.sum()) - wrong} right")
    return held, line + (": the check asks no more of an overlapping batch" if held else "")


def effective_floor(start: float, floor: float) -> float:
    """The floor progress is measured against: the loss's own floor when it was found below the
    start, else 0 (a loss with no known floor) or the start itself (a start already at the floor)."""
    if not np.isfinite(floor):
        return 0.0 if start > 0 else start - abs(start)
    return min(floor, start)


def floor_source(floor: float, what: str = "a perfect prediction of this batch") -> str:
    """Where the floor in a message came from: the loss of ``what``, or nowhere (then 0 stands in)."""
    if np.isfinite(floor):
        return f"the loss of {what}"
    return ("unknown: the loss gave no value for a perfect prediction this check could build (outputs it "
            "cannot line up with the targets, a loss of its own), so progress is measured toward 0")


def _needed(losses: list[float], floor: float, drop: float) -> float:
    """The loss a run must reach to come ``drop`` of the way from its first finite loss to its floor
    (the criterion :func:`progress` measures); NaN for a run with no finite loss."""
    start = next((v for v in losses if np.isfinite(v)), float("nan"))
    return start - drop * (start - effective_floor(start, floor))


def progress(start: float, now: float, floor: float) -> float:
    """How far the loss came from ``start`` toward its ``floor``: 0 not at all, 1 all the way."""
    low = effective_floor(start, floor)
    gap = start - low
    if gap <= 0:
        return 1.0 if now <= start else 0.0
    return (start - now) / gap


def still_falling(losses: list[float], floor: float, *, target: float | None = None, limit: int = 0) -> bool:
    """Whether a finite curve was still coming down steadily at its end: its last tenth sits below
    the tenth before it, and over its last quarter it came at least EXTEND_MIN_GAIN of the way from
    start to floor or, given a ``target`` share of the way, at a pace that carried on reaches it
    within ``limit`` steps (a curve that slows near its goal is still on course to it)."""
    if not descending(losses):
        return False
    start, quarter = losses[0], len(losses) // 4
    now = progress(start, losses[-1], floor)
    gained = now - progress(start, losses[-quarter], floor)
    on_course = target is not None and gained > 0 and now + gained * (limit - len(losses)) / quarter >= target
    return bool(gained >= EXTEND_MIN_GAIN or on_course)


def descending(losses: list[float]) -> bool:
    """A finite curve (of at least 20 steps) whose last tenth sits below the tenth before it: still
    falling, however slowly."""
    if len(losses) < 20 or not np.isfinite(losses).all():
        return False
    tenth = max(2, len(losses) // 10)
    return bool(np.median(losses[-tenth:]) < np.median(losses[-2 * tenth:-tenth]))


def learning(losses: list[float]) -> bool:
    """Still learning: the loss came down over the run (its last quarter's median below its first
    quarter's) and is still falling (its last tenth below the tenth before): a flat, noisy curve is
    not trained on by a coin flip."""
    quarter = len(losses) // 4
    return descending(losses) and bool(np.median(losses[-quarter:]) < np.median(losses[:quarter]))


def recovered_spike(losses: list[float], floor: float, start: float | None = None,
                    starts: Sequence[float] | None = None) -> Evidence | None:
    """Evidence that a run which met its criterion diverged on the way: its loss rose over
    RECOVERED_SPIKE times its start's distance from the floor before coming back (lr_too_high).
    ``start``: the loss at init over every batch trained on (default: the first step's); ``starts``:
    each batch's own loss at init (NaN where unknown), so a hard batch among several is not read as
    a spike (:func:`diagnosis.step_start`). A loss with no known floor that went below 0, the floor
    that stands in, has none there (a policy-gradient surrogate, weighted by returns of either sign,
    falls without bound): the lowest loss of the run stands in, so a rise from 0.17 to 1.9 on the way
    to -210 is no spike (measured from 0 it read ×11)."""
    finite = [v for v in losses if np.isfinite(v)]
    if len(finite) < 3:
        return None
    lowest = not np.isfinite(floor) and min(finite) < 0
    if lowest:
        floor = min(finite)
    start = losses[0] if start is None or not np.isfinite(start) else start
    worst, peak_at, own = -np.inf, -1, start
    for i, loss in enumerate(losses):
        if not np.isfinite(loss):
            continue
        mine = diagnosis.step_start(i, starts, start)
        low = effective_floor(mine, floor)
        if mine - low <= 0:
            continue
        ratio = (loss - low) / (mine - low)
        if ratio > worst:
            worst, peak_at, own = ratio, i, mine
    if worst <= RECOVERED_SPIKE:
        return None
    peak = losses[peak_at]
    return (C.LR_TOO_HIGH,
            f"the loss rose to ×{fmt(worst)} its start's distance from the "
            + (f"run's lowest loss, {fmt(floor)} (it has no known floor, and went below 0)" if lowest else "floor")
            + f" ({fmt(own)} → "
            f"{fmt(peak)} at step {peak_at + 1}) before it came back: the updates threw the weights out of "
            f"their basin, which a correct run does not do (×{RECOVERED_SPIKE:g} at most here); try the learning "
            "rate ÷ 10")


def samples_at_inference(session: Any, batch: Any) -> str | None:
    """Eval-mode passes over ``batch`` (up to INFERENCE_PASSES): the line saying one differs from the
    first (the model samples at inference: a VAE, or a forward pass that picks a branch at random), or
    None where they all agree."""
    first = session.predict(batch)
    for _ in range(INFERENCE_PASSES - 1):
        line = diagnosis.inference_noise(first, session.predict(batch))
        if line:
            return line
    return None


class ProbeLog:
    """What each probe of a failed training check ran and saw, for a failure no probe explains."""

    def __init__(self, *, keep_outputs: bool = False) -> None:
        self.lines: list[str] = []
        # whether the model as given samples at inference (None: not looked): read once, by the
        # first probe that needs it
        self.sampling: bool | None = None
        # lr factor → steps a successful retry took to fit the batch by the check's criterion
        # (negative: not within that many), so a cause can say what would pass; None where the
        # retries do not train on to the criterion
        self.fitted: dict[float, int] | None = None
        # lr factor → steps a successful plain retry took to halve its loss
        self.halved: dict[float, int] = {}
        # each weighted layer's spread across samples at initialisation, in call order (None: not
        # looked), read by the retry whose layers were rescaled to unit-variance outputs
        self.spreads: list[float] | None = None
        # lr factor → a plain retry's eval-mode outputs on the first batch at its end, kept where the
        # check asks for them (value targets: what a bounded head reaches); None: not kept
        self.outputs: dict[float, np.ndarray] | None = {} if keep_outputs else None
        # steps the retry without weight decay took to fit the batch by the check's criterion, where it
        # trained on to it (negative: not within that many); None: it did not
        self.without_decay: int | None = None
        # a line for each retry of the model as given at the run's own learning rate (without weight decay,
        # without train-mode noise) that went non-finite: the rate sits at the edge of stability
        self.diverged_at_own_rate: list[str] = []

    def add(self, line: str) -> None:
        self.lines.append(line)


def _deaf_to_rate(factor: float, losses: np.ndarray, curves: dict[float, np.ndarray], before: dict[str, np.ndarray],
                  probe: Any, deaf: list[str]) -> None:
    """Whether a plain retry at ``factor`` trained the very curve an earlier one at another rate did,
    a curve that moves, while its weights moved: the step does not read the rate the probe scales
    (a ``train_step`` that steps optimizers of its own, a Keras model whose ``train_step`` applies
    optimizers it holds), so no learning-rate retry can tell anything. Said once, in ``deaf``."""
    if deaf or len(losses) < 2 or not np.isfinite(losses).all() or np.ptp(losses) == 0:
        return
    same = next((f for f, c in curves.items() if f != factor and c.shape == losses.shape and np.array_equal(c, losses)),
                None)
    if same is None:
        return
    after = probe.parameter_values()
    if not any(k in after and not np.array_equal(v, after[k]) for k, v in before.items()):
        return  # nothing moved: the curve is the data's or the noise's, not the rate's
    deaf.append(f"retries at lr×{same:g} and lr×{factor:g} trained the very same losses ({fmt(float(losses[0]))} → "
                f"{fmt(float(losses[-1]))} in {len(losses)} steps) while their weights moved: the training step does "
                "not read the learning rate the check scales (it steps optimizers of its own), so no other rate was "
                "tried and no learning-rate cause can be told; pass the optimizer the step uses")


def lr_retry(model: Any, settings: Settings, spec: TrainSpec, raws: list[tuple[Any, Any]], steps: int,
             run: CheckRun, *, within: Session, log: ProbeLog | None = None,
             fit: tuple[Targets, float] | None = None,
             starts: Sequence[float] | None = None) -> Callable[..., tuple[bool, float]]:
    """A probe: train a fresh copy with the learning rate times ``factor`` (and, with
    ``quiet``, train-mode noise off; with ``no_decay``, weight decay off; with ``rescaled``, every
    weighted layer first rescaled to unit-variance outputs, ``log.spreads`` their spreads before)
    for at most PROBE_MAX_STEPS; it succeeds when the loss reaches PROBE_TARGET of its start (or
    ``goal``, a loss; or ``fraction`` of its start) while staying finite (stops there). Over several
    batches a step is held to its own batch's start (:func:`diagnosis.halved`; ``starts``: each
    batch's loss at init, as the check measured it for the model as given). Each attempt is written
    to ``log``. Given
    ``fit`` (the check's targets and ``min_drop``), a successful plain learning-rate retry trains on
    to the check's criterion, up to ``steps`` in all, and ``log.fitted`` says whether and when it held
    (one that goes non-finite on the way is no success). Each attempt runs once: asked again (by the
    extension's horizon, then by the diagnosis), it answers what it saw."""
    if fit is not None and log is not None and log.fitted is None:
        log.fitted = {}
    seen: dict[tuple[float, bool, bool, bool, float | None, bool, float | None], tuple[bool, float]] = {}
    # plain retries' loss curves by factor: two rates that give the very same moving curve while the
    # weights move say the step does not read the rate the probe scales (it steps optimizers of its own)
    curves: dict[float, np.ndarray] = {}
    deaf: list[str] = []

    def retry(factor: float = 1.0, *, quiet: bool = False, no_decay: bool = False, rescaled: bool = False,
              goal: float | None = None, standardised: bool = False,
              fraction: float | None = None) -> tuple[bool, float]:
        key = (factor, quiet, no_decay, rescaled, goal, standardised, fraction)
        if key in seen:
            return seen[key]
        if deaf and factor != 1.0:  # no rate the probe sets reaches the step: no evidence, no time spent
            seen[key] = False, float("nan")
            return seen[key]
        what = f"lr×{factor:g}" + (", training-mode noise off" if quiet else "") + (
            ", no weight decay" if no_decay else "") + (
            ", every weighted layer rescaled to unit-variance outputs" if rescaled else "") + (
            ", the targets standardised" if standardised else "")
        # a plain retry changes the rate alone: its curve and outputs are kept, and it trains on to the criterion
        plain = not (quiet or no_decay or rescaled or standardised) and goal is None and fraction is None
        ok, end, start, n = _attempt(factor, quiet=quiet, no_decay=no_decay, rescaled=rescaled, goal=goal,
                                     standardised=standardised, fraction=fraction, plain=plain)
        if log is not None and n:  # a retry stopped before its first step says why in its own line
            each = ", each batch against its own start" if len(raws) > 1 else ""
            target = f"{fmt(goal)}" if goal is not None else f"{fmt(fraction)} of its batch's start" \
                if fraction is not None else None
            verdict = ((f"halved{each}: succeeded" if ok else f"did not halve{each}") if target is None else
                       (f"reached {target}: succeeded" if ok else f"did not reach {target}"))
            if no_decay and log.without_decay is not None:  # it trained on toward the check's criterion
                verdict = (f"fitted the batch by the check's criterion: succeeded" if log.without_decay > 0 else
                           f"reached {target}, not fitting the batch: succeeded" if ok else
                           f"did not reach {target}, nor fit the batch by the check's criterion")
            trained_on = (log.fitted or {}).get(factor) if plain and ok else None
            if trained_on is not None:  # halving is the probe's test; whether it fitted is the check's
                verdict += (f", then fitted the batch by the check's criterion at step {trained_on}" if trained_on > 0
                            else f", then trained on to step {-trained_on} without fitting the batch by the "
                                 "check's criterion")
            log.add(f"a retry at {what}: loss {fmt(start)} → {fmt(end)} in {n} steps ({verdict})")
            if deaf and deaf[0] not in log.lines:
                log.add(deaf[0])
        if log is not None and n and factor == 1.0 and not (rescaled or standardised) and not np.isfinite(end):
            log.diverged_at_own_rate.append(f"a retry at {what}: loss {fmt(start)} → {fmt(end)} in {n} steps")
        seen[key] = ok, end
        return ok, end

    def _attempt(factor: float, *, quiet: bool, no_decay: bool, rescaled: bool, goal: float | None,
                 standardised: bool, fraction: float | None, plain: bool) -> tuple[bool, float, float, int]:
        used = _standardised_targets(raws) if standardised else raws
        if used is None:  # targets that are not one float array: nothing to standardise
            return False, float("nan"), float("nan"), 0
        probe = open_session(model, settings, spec, within=within)
        try:
            batches = [probe.prepare(*raw) for raw in used]
            before = probe.parameter_values() if plain and factor != 1.0 and curves else None
            fitting = fit is not None and log is not None and log.fitted is not None and plain
            # a copy without weight decay that misses its goal trains on to the check's own criterion
            unfitted = fit is not None and log is not None and no_decay and len(batches) == 1
            initial = probe.predict(batches[0]) if fitting or unfitted else None  # for the overlap judgement
            if rescaled:
                spreads = probe.rescale_layers(batches[0])
                if log is not None:
                    log.spreads = spreads
            probe.scale_lr(factor)
            if quiet:
                probe.train_without_noise()
            if no_decay:
                probe.drop_weight_decay()
            # the copy as given starts where the check's own run did: its batches' starts apply; a
            # changed copy measures its own (a step of the user's has its own loss: first visits then)
            own = starts if not (rescaled or standardised) else None if len(batches) == 1 or spec.train_step \
                else [probe.loss(b, training=True) for b in batches[:PROBE_MAX_STEPS]]
            n_b = len(batches)
            losses, ok, why = train_loop(
                probe, batches, min(steps, PROBE_MAX_STEPS), run,
                lambda ls, _: ls[-1] <= goal if goal is not None else
                diagnosis.halved(ls, n_b, own, PROBE_TARGET if fraction is None else fraction))
            if before is not None:
                _deaf_to_rate(factor, np.asarray(losses, dtype=np.float64), curves, before, probe, deaf)
            if plain and factor != 1.0:
                curves.setdefault(factor, np.asarray(losses, dtype=np.float64))
            if ok and log is not None and plain:
                log.halved[factor] = len(losses)
            if unfitted and not ok and why == "steps" and steps > len(losses):
                ok, losses, why = _fit_on(probe, batches[0], raws[0], initial, losses, steps, goal)
            if ok and fitting:
                done = Fits(probe, batches[0], *fit, raw=raws[0], initial=initial, every=judge_every(steps))
                held = done(losses, len(losses) - 1)
                if not held:
                    more, held, why = train_loop(probe, batches, steps - len(losses), run,
                                                 lambda ls, step, before=losses: done(before + ls, step))
                    losses = losses + more
                if not held and why == "steps":  # judged as the check judges its own run at the end
                    held = done.judge(None) is True
                log.fitted[factor] = len(losses) if held else -len(losses)
                if why == "nonfinite":  # it halved, then diverged on the way to the criterion: no success
                    ok = False
                    log.halved.pop(factor, None)
            if plain and log is not None and log.outputs is not None and why != "nonfinite":
                log.outputs[factor] = probe.predict(batches[0])
        except (UserCodeError, NotSupported) as exc:
            # the user's code (or a capability the framework lacks) stopped the retry: no evidence,
            # said in the note; anything else is a defect of the probe and is not hidden
            if log is not None:
                log.add(f"a retry at lr×{factor:g} stopped: {exc}")
            return False, float("nan"), float("nan"), 0
        finally:
            probe.close()
        if why == "time":  # a probe cut short would name a different cause, or none: no verdict instead
            raise run.time_up(f"while probing the cause (a retry at lr×{factor:g} after {len(losses)} steps)")
        # the last step against its own batch's start: over several batches the first loss is another batch's
        return ok, losses[-1], diagnosis.own_start(len(losses) - 1, losses, len(batches), own), len(losses)

    def _fit_on(probe: Session, batch: Any, raw: tuple[Any, Any], initial: np.ndarray, losses: list[float],
                steps: int, goal: float | None) -> tuple[bool, list[float], str]:
        """The weight-decay-free copy that missed its ``goal`` trains on to the check's criterion, up to
        ``steps`` in all (the check's budget): a copy that fits there, or reaches the goal by then,
        while the run with its decay did neither in up to OVERFIT_EXTEND × as many, is held back by the
        decay. ``log.without_decay`` says when it fitted (negative: it did not)."""
        assert fit is not None and log is not None
        done = Fits(probe, batch, *fit, raw=raw, initial=initial, every=judge_every(steps))
        more, held, why = train_loop(probe, [batch], steps - len(losses), run,
                                     lambda ls, step, before=losses: done(before + ls, step))
        losses = losses + more
        if not held and why == "steps":  # judged as the check judges its own run at the end
            held = done.judge(None) is True
        held = bool(held) and why != "nonfinite"
        log.without_decay = len(losses) if held else -len(losses)
        return held or (why == "steps" and goal is not None and losses[-1] <= goal), losses, why

    return retry


def _joined_labels(session: Any, batches: list[Any]) -> np.ndarray | None:
    """The targets of every batch the check trained on, as the standardised retry reads them; the
    first batch's alone where they do not stack (sequences of other lengths) or one has none."""
    ys = [session.labels(b) for b in batches]
    if any(y is None for y in ys) or len({np.shape(y)[1:] for y in ys}) != 1:
        return ys[0]
    return np.concatenate([np.asarray(y) for y in ys])


def _standardised_targets(raws: list[tuple[Any, Any]]) -> list[tuple[Any, Any]] | None:
    """The batches with their value targets standardised over all of them ((y - mean) / std, each
    target column alike), as float arrays the session prepares; None where a batch's targets are not
    one float array (ids, dicts) or do not vary."""
    ys: list[np.ndarray] = []
    for _, y in raws:
        try:
            a = as_numpy(y)
        except Exception:  # a structure the adapter cannot read: no counterfactual to run
            return None
        if not isinstance(a, np.ndarray) or not np.issubdtype(a.dtype, np.floating) or not np.isfinite(a).all():
            return None
        ys.append(a)
    joined = np.concatenate([a.reshape(len(a), -1) for a in ys]).astype(np.float64)
    mean, std = joined.mean(axis=0), joined.std(axis=0)
    if not (std > 0).all():
        return None
    return [(x, ((a.reshape(len(a), -1) - mean) / std).reshape(a.shape).astype(a.dtype))
            for (x, _), a in zip(raws, ys)]


def failure_causes(
    *,
    model: Any,
    settings: Settings,
    spec: TrainSpec,
    session: Any,
    raw_batch: tuple[Any, Any],
    first: Any,
    losses: list[float],
    initial_outputs: np.ndarray | None,
    targets: Targets,
    retry: Callable[..., tuple[bool, float]] | None,
    notes: list[str],
    log: ProbeLog | None = None,
    batches: list[Any] | None = None,
    starts: Sequence[float] | None = None,
    seen: Sequence[Evidence] = (),
    drop: float | None = None,
) -> list[Evidence]:
    """Run the probes, decisive evidence first: values that prove a defect (inputs, outputs, the
    loss on chosen outputs, where a non-finite loss first appears) before retries that only
    suggest one (learning rate, regularisation), which run only when nothing decisive fired.
    ``seen``: decisive evidence the check's own run showed, named after the probes' values;
    ``drop``: the share of the way to the floor the check's criterion asks (a bound that keeps the
    loss short of it is named)."""
    session.shed()  # the run is over: probes train fresh copies beside this one
    notes.extend(stacked_layers(session, first))
    x = session.inputs(first)
    log = log if log is not None else ProbeLog()

    def fresh() -> Any:
        return open_session(model, settings, spec, within=session)

    task = targets.task
    scaled = _scaled(fresh, first, x)  # None for ids the first layer looks up: no scale to blame
    final = _final(session, first)
    # a step of the user's own that never applied its gradients (the check's own step always does):
    # read on failure only, never while a slow run is weighed for more steps
    unmoved = _unmoved_by_run(session, fresh, raw_batch, len(losses)) if session.steps_own_code() else []
    causes = unmoved or _proven(session, fresh, spec, raw_batch, first, x, losses, initial_outputs, final, targets,
                                notes, log, batches, drop=drop) + list(seen)
    proven = bool(causes)  # decisive values: no retry story reorders them
    ends: list[float] = []  # each retry's last loss
    if retry is not None:
        retry = _recorded(retry, ends)
    # the one look at the failed run's outputs the softmax-in-loss probe needs, before its release
    probabilities = final() if task == "classification" and targets.form == "probabilities" and not causes else None
    retrying = not causes and retry is not None
    decay = session.weight_decay() if retrying else 0.0  # read before the release drops the optimizer
    penalties = session.weight_penalties() if retrying else ""
    bounded = _bounded(session, first, initial_outputs, final) if retrying and log.outputs is not None else None
    if targets.skips_positions and not causes:
        final()  # the read-positions look compares the trained outputs too: read before the release
    # a run whose loss never moved: its weights and rate, read before the release, against a fresh copy after it
    stood = _stood_still(session, losses, starts) if retrying else None
    if retrying:
        session.release()  # from here only fresh copies train: this one's tensors would double the peak
    # decisive values on a fresh copy, after every look at the run's own copy (a step that never applies
    # its update, or applies it to other tensors, is named there): no retry story reorders them
    if not causes:
        causes += _dropped_in_training(fresh, raw_batch)
    if not causes and stood is not None:
        causes += _moved_too_little(stood, fresh, raw_batch, len(losses))
    proven = proven or bool(causes)
    if not causes and spec.train_step is None:  # decisive, on a fresh copy: after the release, like those below
        causes += _unreached(fresh, first)
    if not causes:  # a fresh copy of the model as given (within a released session: no second weight copy)
        causes += _input_dependence(fresh, first, x, settings.seed, log, raw=bool(diagnosis.raw_inputs(scaled)),
                                    scores=targets.classes, targets=targets, final=final)
    if not causes and retrying and task == "regression":  # a value gates it; the counterfactual decides
        causes += diagnosis.target_retry(losses, _joined_labels(session, batches or [first]), initial_outputs, retry,
                                          starts)
    if not causes and retrying:
        causes += diagnosis.regularization(losses, decay, lambda: _noisy(fresh, raw_batch, log), retry, starts,
                                           penalties=penalties, fitted=lambda: log.without_decay)
    if not causes:
        causes += diagnosis.learning_rate(losses, retry, slow=still_falling(losses, targets.floor), fitted=log.fitted,
                                          unstable=log.diverged_at_own_rate, starts=starts, halvings=log.halved)
        if bounded is not None and log.outputs:  # the retries, having run, make the bound decisive
            causes = pressed_in_retries(*bounded, log.outputs) + causes
    if not causes and retrying and not diagnosis.raw_inputs(scaled):  # raw inputs: their own story, below
        causes += diagnosis.initial_scale(losses, retry, lambda: log.spreads, starts)
    if not causes and probabilities is not None:
        lowest = float(np.nanmin(np.asarray(losses + ends, dtype=np.float64))) if losses else float("nan")
        causes += diagnosis.softmax_in_loss(probabilities, targets.fitted(probabilities), lowest, len(ends))
    causes = diagnosis.with_raw_inputs(causes, diagnosis.raw_inputs(scaled), log.fitted, log.halved, proven=proven)
    hint = None if causes else diagnosis.scale_hint(scaled)
    if hint:
        log.add(hint)
    if not causes:
        scored = session.has_loss() or np.isfinite(session.loss_of(initial_outputs, first))
        log.add(f"the outputs at initialisation ({_described(initial_outputs)}) showed no wrong activation"
                + (" and the loss rewarded the right classes" if scored else
                   "; the loss your step computes itself cannot be scored on given outputs")
                if task == "classification" else f"the outputs at initialisation: {_described(initial_outputs)}")
        notes.append("no probe named a cause; probes run: " + "; ".join(log.lines) + ". Try next: "
                     "output_range(kind=...) and init_loss on the model, gradients_flow on the batch, or more "
                     "steps= if the loss was still falling" + _unknown_floor_hint(losses, targets))
    return causes


def _unknown_floor_hint(losses: list[float], targets: Targets) -> str:
    """Where the loss's floor is unknown (0 stands in) for value targets and the run came part of
    the way: how to say what share of the way to 0 is a fit (the figures say how far it came)."""
    finite = [v for v in losses if np.isfinite(v)]
    if np.isfinite(targets.floor) or targets.task != "regression" or not 0 < min(finite, default=0.0) < finite[0]:
        return ""
    return ("; the loss's floor is unknown and 0 stands in for it: if yours lies above 0 (a likelihood of noisy "
            "data, a penalty on the outputs or weights), min_drop= says what share of the way to 0 is a fit "
            "(the figures above say how far this run came)")


def _proven(session: Any, fresh: Callable[[], Any], spec: TrainSpec, raw_batch: tuple[Any, Any], first: Any,
            x: np.ndarray | None, losses: list[float], initial_outputs: np.ndarray | None,
            final: Callable[[], np.ndarray | None], targets: Targets, notes: list[str], log: ProbeLog,
            batches: list[Any] | None, *, looked: bool = False, drop: float | None = None) -> list[Evidence]:
    """The probes whose evidence is a value that proves a defect (inputs, outputs, the loss on
    chosen outputs, where a non-finite loss first appears, tensors the optimizer never sees), in the
    order a failure names them. None of them trains the model. ``final``: the run's outputs now,
    read once by whichever look needs them first (:func:`_final`). ``looked``: :func:`defect_proven`
    already asked the user's ``train_step`` about accumulating gradients and found nothing."""
    task = targets.task
    causes: list[Evidence] = []
    causes += diagnosis.inputs_not_finite(x)
    if not causes:
        causes += diagnosis.identical_inputs(x)
    if not causes:
        causes += diagnosis.every_class_marked(targets)
    if not causes and task == "regression" and np.isfinite(targets.floor_now):
        # a forward pass first: a loss that reads the model's state (a VAE's latent) reads it as trained
        causes += diagnosis.swamped_data_term(targets, settled_outputs(session, first), losses)
    if not causes and len(losses) > 1 and all(v == losses[0] for v in losses):  # a run that never moved
        causes += flat_at_outputs(session, first, losses[0], f" over all {len(losses)} steps of the run")
    if not causes:
        causes += _unpaired(session, targets, first, initial_outputs, final)
    if not causes:
        causes += diagnosis.one_output_for_classes(session.labels(first), initial_outputs,
                                                   lambda out: session.loss_of(out, first))
    if not causes:
        causes += _unread_samples(session, first, initial_outputs, targets)
    if not causes:
        causes += _leaked(session, first)
    if not causes:
        causes += _skipped(session, first)
    if not causes and task == "classification" and targets.ids is not None:
        causes += _context(session, first, targets)
    if losses and not np.isfinite(losses[-1]) and not causes:
        causes += trace_nonfinite(fresh, batches or [first], len(losses), log, notes)
        if not causes and initial_outputs is not None:
            # nothing in the values at that step (NaN weights from a NaN gradient): a loss whose backward
            # breaks at outputs a saturating softmax reaches
            causes += diagnosis.gradient_unsafe_at_targets(session, first, targets, tuple(initial_outputs.shape))
    if task == "regression" and initial_outputs is not None:
        causes += head_cannot_reach(session.labels(first), [initial_outputs, final()])
    # labels per output (a value target of the outputs' shape may pack other things: REINFORCE's
    # [action, return] pairs beside a softmax over the actions)
    if not causes and task != "regression" and initial_outputs is not None \
            and normalised_axis([initial_outputs]) is not None:
        causes += normalised_elsewhere(session.labels(first), [initial_outputs, final()],
                                       lambda outputs: session.loss_of(outputs, first))
    if not causes and initial_outputs is not None:  # a head wider than the loss reads
        causes += _unread_columns(session, raw_batch, first, initial_outputs)
    if task == "binary" and targets.form == "logits" and initial_outputs is not None:
        causes += _squashed_logits(initial_outputs, final())
    if spec.train_step is not None:  # a step that updates nothing has no gradients to accumulate
        causes += diagnosis.step_misses_parameters(fresh, lambda s: s.prepare(*raw_batch)) \
            or ([] if looked else diagnosis.missing_zero_grad(fresh, lambda s: s.prepare(*raw_batch), notes))
    if not causes and initial_outputs is not None:  # a backward that is not the loss's gradient
        causes += diagnosis.loss_ascends(session, initial_outputs, first)
    if initial_outputs is not None:
        axis = targets.channel_axis  # per position: rows are positions, outputs keep the model's layout
        rows = prediction_rows(initial_outputs, axis)
        found = diagnosis.output_activation(initial_outputs if axis is None else rows, task)
        last = final() if not found and rows.size and np.ptp(rows) == 0 else None
        if last is not None:  # a head initialised to one value: the run's outputs show its range
            found = diagnosis.output_activation(last if axis is None else prediction_rows(last, axis), task)
        if found and found[0][0] == C.OUTPUT_ACTIVATION and _head_unbounded(fresh, first):
            found = []  # a linear head whose outputs happen to lie in [0, 1] at this init
        if found and found[0][0] == C.OUTPUT_ACTIVATION and last is None:
            found = _trained_range(found, final(), axis, task)
        if found and found[0][0] == C.LOSS_MISMATCH and not _shift_invariant(session, targets, first):
            # probabilities into a loss that expects them: no mismatch, unless they were squashed twice
            last = final()
            found = diagnosis.softmax_twice(last if axis is None or last is None else prediction_rows(last, axis))
        causes += found
        width = rows.shape[1]
        if task == "classification" and not causes and targets.ids is not None and width >= 2 \
                and targets.ids.max() < width:
            y = targets.ids.reshape(-1)
            # in the form the loss reads: one-hot rows against uniform ones where it reads probabilities
            # (a softmax head under MSE, as Keras-era programs train), ±5 logits against zeros otherwise
            probabilities = targets.form == "probabilities"
            low, high, uniform = (0.0, 1.0, 1.0 / width) if probabilities else (-5.0, 5.0, 0.0)
            perfect = np.full((len(y), width), low, dtype=np.float32)
            perfect[np.arange(len(y)), y] = high
            perfect = in_layout(perfect, initial_outputs.shape, axis)
            scored = session.loss_of(perfect, first)
            if targets.soft and np.isfinite(targets.floor):  # smoothed rows: the rows themselves are perfect
                scored = min(scored, targets.floor)
            unrewarded = diagnosis.loss_rewards_classes(scored, session.loss_of(np.full_like(perfect, uniform), first),
                                                        "probabilities" if probabilities else "logits")
            causes += (unrewarded and _ids_as_weights(session, raw_batch[0], first, initial_outputs)) or unrewarded
            if not causes:
                causes += _logits_into_probabilities(session, first, initial_outputs, axis)
            if not causes and drop is not None and not probabilities:
                last = final()
                bounded = diagnosis.bounded_scores(
                    rows, None if last is None else prediction_rows(last, axis), y,
                    lambda best: session.loss_of(in_layout(best, initial_outputs.shape, axis), first),
                    losses, _needed(losses, targets.floor, drop))
                causes += [] if not bounded or _exceeds_one(fresh, first) else bounded
    causes += diagnosis.uncovered(session.uncovered_parameters())
    if not causes:
        causes += diagnosis.unregistered_in(session, first)
    if not causes:
        causes += _vanished_rate(session, len(losses))
    if task == "regression" and not causes:  # a value that explains a stall before any lr retry
        causes += diagnosis.target_scale(session.labels(first), initial_outputs)
    # a model that reads each position alone may be so by design (a bigram language model); what else is
    # proven beside it (a loss fed probabilities, a wrong head activation, a step that misses parameters,
    # tensors the optimizer never sees) never is: that is named first
    return sorted(causes, key=lambda found: found[0] == C.CONTEXT_IGNORED)


def _unread_columns(session: Any, raw_batch: tuple[Any, Any], first: Any, outputs: np.ndarray) -> list[Evidence]:
    """:func:`diagnosis.unread_outputs` (loss evaluations on given outputs only), standing where the
    run's own copy, before its release, gets no or an all-zero gradient on some trainable tensor:
    columns read through a term too small for float32 (a penalty weighted 10⁻⁴) or trained by another
    loss term (a Keras ``add_loss``) still give their layers a gradient. No second copy of the model."""
    try:
        found = unread_columns(session, raw_batch[0], first, outputs)
        grads = session.gradients(first) if found else {}
    except Exception:  # the probe is a hint on an already failed check: a loss it cannot replay says nothing
        return []
    return found if any(g is None or not np.any(g) for g in grads.values()) else []


def _ids_as_weights(session: Any, raw_x: Any, first: Any, outputs: np.ndarray) -> list[Evidence]:
    """Class ids in one column (N,) or (N, 1) that the loss multiplies its per-sample term by: it is
    exactly 0 where every id is 0 and exactly doubles with the ids, whatever the outputs — a loss for
    one-hot rows (categorical cross-entropy, ``-(y * log_softmax(z)).sum(-1)``) given ids, which
    broadcast against the (N, C) outputs (dragen's MNIST with int labels into
    ``categorical_crossentropy``). A sparse cross-entropy picks another class at other ids."""
    y = session.labels(first)
    if y is None or outputs.ndim != 2 or outputs.shape[1] < 2 or np.asarray(y).size != len(outputs):
        return []
    y = np.asarray(y)
    base, zero, double = (float(loss_on_targets(session, raw_x, y, outputs, ids)) for ids in (y, np.zeros_like(y), 2 * y))
    if not (np.isfinite(base) and np.isfinite(zero) and np.isfinite(double)) or abs(base) < 1e-6 \
            or abs(zero) > 1e-6 * abs(base) or abs(double - 2 * base) > 1e-4 * abs(base):
        return []
    return [(C.TARGET_SHAPE,
             f"class ids of shape {tuple(y.shape)} against outputs of shape {tuple(outputs.shape)}: the loss is "
             f"exactly 0 when every id is 0 and doubles when the ids double ({fmt(base)} → {fmt(double)}), so it "
             "multiplies each sample's term by its id — a loss for one-hot rows (categorical cross-entropy) "
             "broadcasting the ids over the classes; one-hot the labels (to_categorical, F.one_hot) or use the "
             "sparse loss (sparse_categorical_crossentropy, CrossEntropyLoss on ids)")]


def _bounded(session: Any, first: Any, initial_outputs: np.ndarray | None,
             final: Callable[[], np.ndarray | None]) -> tuple[np.ndarray, list[np.ndarray | None], tuple] | None:
    """Value targets beyond the range of a bounded head that the run's outputs stayed in, before
    and after a run that stayed finite (:func:`head_bound`): the targets, those outputs and that range;
    None otherwise."""
    y = session.labels(first)
    if y is None or initial_outputs is None:
        return None
    y = np.asarray(y)
    outputs = [initial_outputs, final()]
    if outputs[1] is None or not np.isfinite(outputs[1]).all() or y.shape != initial_outputs.shape:
        return None  # a run that diverged shows nothing of what the head can reach
    bound = head_bound(y, outputs)
    return None if bound is None else (y, outputs, bound)


def _unmoved_by_run(session: Any, fresh: Callable[[], Any], raw_batch: tuple[Any, Any], steps: int) -> list[Evidence]:
    """The failed run's steps (two or more) left every trainable tensor exactly as the model was
    given, though the loss gives some of them a gradient (a fresh copy, one batch): the training step
    computes gradients and never applies them — ``optimizer.step()`` left out of a torch step (NNI's
    Retiarii trainer), ``apply_gradients`` out of a Keras ``train_step``. A step that accumulates on
    purpose applies them every few calls, which a run of hundreds does not miss. Nothing where the
    framework cannot show the values or gradients."""
    if steps < 2:
        return []
    try:
        after = session.parameter_values()
    except (NotSupported, UserCodeError):
        return []
    given = _as_given(fresh, raw_batch)
    if given is None:
        return []
    before, grads = given
    if not before or any(not np.array_equal(value, after.get(name)) for name, value in before.items()):
        return []
    moving = [name for name, g in grads.items() if g is not None and g.size and float(np.abs(g).max()) > 0]
    if not moving:
        return []
    return [(C.PARAMS_NOT_UPDATED,
             f"{steps} training steps changed none of the {len(before)} trainable tensor(s), though the loss gives "
             f"{len(moving)} of them a gradient ({diagnosis.listed(moving)}): the step computes gradients and never applies "
             "them (optimizer.step() left out of a torch step; apply_gradients out of a Keras train_step)")]


def _stood_still(session: Any, losses: list[float], starts: Sequence[float] | None
                 ) -> tuple[dict[str, np.ndarray], float | None] | None:
    """The run's weights and its optimizer's rate now, where every step's loss equals its batch's start
    within RUN_LOSS_STILL (weights that did not move give the same loss bit for bit; a rate that moves
    them at all moves it): the evidence :func:`_moved_too_little` weighs. None otherwise, or where the
    framework cannot show the weights."""
    n = len(starts) if starts else 1
    owns = [diagnosis.own_start(i, losses, n, starts) for i in range(len(losses))]
    if len(losses) < 2 or not all(np.isfinite(v) and np.isfinite(own) and abs(v - own) <= RUN_LOSS_STILL * abs(own)
                                  for v, own in zip(losses, owns)):
        return None
    try:
        after = session.parameter_values()
    except (NotSupported, UserCodeError):
        return None
    try:
        rate: float | None = session.learning_rates()[1]
    except (NotSupported, UserCodeError):
        rate = None
    return after, rate


def _moved_too_little(stood: tuple[dict[str, np.ndarray], float | None], fresh: Callable[[], Any],
                      raw_batch: tuple[Any, Any], steps: int) -> list[Evidence]:
    """:func:`diagnosis.negligible_moves`: the run's weights (``stood``, read before its release)
    against a fresh copy's (the model as given), with that copy's gradient on the batch; nothing where
    the framework cannot show them."""
    after, rate = stood
    given = _as_given(fresh, raw_batch)
    return [] if given is None else diagnosis.negligible_moves(given[0], after, given[1], steps, rate)


def _as_given(fresh: Callable[[], Any], raw_batch: tuple[Any, Any]
              ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray | None]] | None:
    """The model as given: a fresh copy's weights and its gradient on the batch; None where the
    framework cannot show them or the user's code raises."""
    try:
        copy = fresh()
        try:
            return copy.parameter_values(), copy.gradients(copy.prepare(*raw_batch))
        finally:
            copy.close()
    except (NotSupported, UserCodeError):
        return None


def _vanished_rate(session: Any, steps: int) -> list[Evidence]:
    """The run's learning rate now against its first step's (:func:`diagnosis.learning_rate_vanished`);
    nothing where the optimizer is not visible."""
    try:
        start, now = session.learning_rates()
    except (NotSupported, UserCodeError):
        return []
    ahead: tuple[float, float] | None = None
    if LR_VANISHED * start < now < start:  # a rate already below the bar needs no look ahead
        try:
            ahead = session.schedule_ahead(steps, OVERFIT_EXTEND * steps), session.schedule_ahead(0, steps)
        except (NotSupported, UserCodeError):
            ahead = None
    return diagnosis.learning_rate_vanished(start, now, steps, ahead)


def _scaled(fresh: Callable[[], Any], first: Any, x: np.ndarray | None) -> np.ndarray | None:
    """:func:`scaled_inputs` asked of a fresh copy (its training-mode pass would move the trained
    copy's normalisation statistics, which later looks read)."""
    if x is None or not diagnosis.input_scale(x):
        return x
    session = fresh()
    try:
        return scaled_inputs(session, first, x)
    finally:
        session.close()


def _input_dependence(fresh: Callable[[], Any], first: Any, x: np.ndarray | None, seed: int,
                      log: ProbeLog, *, raw: bool, scores: bool = False,
                      targets: Targets | None = None,
                      final: Callable[[], np.ndarray | None] | None = None) -> list[Evidence]:
    """Eval-mode forward passes of the model as given (a failed run may itself have killed every
    unit): the batch, and the batch with a few samples changed (:func:`diagnosis.changed_samples`) —
    outputs that ignore the inputs, or that mix samples. The samples are changed by noise first, then,
    where that moved their own outputs alone, to other samples' inputs: inputs the data holds, which
    keep the invariants every sample shares (noise can move a model that reads nothing of the data
    itself, e.g. a mean over series each normalised to mean 0; whether it tells the batch's own inputs
    apart is what fitting them needs). Only for one array of inputs ``x`` (a dict or tuple of inputs is
    left to ``batch_independence`` and ``not_constant_predictions``), and not at raw scale (``raw``),
    where a head saturates (not an architecture that ignores them). ``scores``: the outputs are class
    scores (:func:`diagnosis.unmoved`). Per-position class ``targets`` with positions the loss skips
    are first read at the positions it does (:func:`diagnosis.read_outputs_alike`), on the fresh copy
    and on the trained one (``final``: the run's outputs): padding that moves says nothing of the
    tokens a tagger is trained on, and a zero-initialised head, alike everywhere at init, has moved."""
    if x is None or x.ndim < 1 or len(x) < 2 or raw:
        return []
    rng = np.random.default_rng(seed)
    picks = diagnosis.changed_samples(len(x))
    variants: list[tuple[bool, np.ndarray]] = []
    for within in (False, True):
        changed: np.ndarray | None = x
        for j in picks:
            changed = perturbed(changed, j, rng, within=within) if changed is not None else None
        if changed is not None and not any(np.array_equal(changed, v) for _, v in variants):  # ids: both swap
            variants.append((within, changed))
    if not variants:
        return []
    session = fresh()
    found: list[Evidence] = []
    try:
        noise = samples_at_inference(session, first)
        log.sampling = noise is not None
        if noise is not None:  # a sampling layer live in eval mode (a VAE): a changed output proves nothing
            log.add(noise)
            return []
        # eval mode normalising as training does: an untrained network's batch norms at their initial
        # statistics can shrink the signal to nothing in eval mode alone (Keras MobileNetV3: logits of
        # 1e-8 that training, normalising by the batch, spreads to ±5)
        try:
            session.recalibrate(first)
        except Exception:  # a norm layer of the user's own that refuses it (a forward of its own): look as given
            session.close()
            session = fresh()
        base = session.predict(first)
        if targets is not None and targets.skips_positions and final is not None:
            try:
                found = diagnosis.read_outputs_alike(base, targets.ignored, targets.channel_axis, scores=scores)
                last = final() if found else None
                if last is None or not diagnosis.read_outputs_alike(last, targets.ignored, targets.channel_axis,
                                                                    scores=scores):
                    found = []
            except Exception:  # a layout this look cannot read: the changed-input look still may
                found = []
        for within, changed in ([] if found else variants):
            try:
                after = session.predict(session.prepare(changed, None))
            except Exception:  # the model refuses this changed batch: the other may still tell
                continue
            found = diagnosis.input_dependence(base, after, picks, scores=scores)
            if within and found and found[0][0] == C.NO_INPUT_SIGNAL and not diagnosis.alike_everywhere(base, scores):
                # where noise moved the outputs, other samples' inputs prove they are ignored only if every
                # sample of the batch gets the same output (not two confident neighbours of one class)
                found = []
            if found:
                break
        if found and found[0][0] == C.NO_INPUT_SIGNAL:  # a signal faded layer by layer is the init's doing
            found = diagnosis.dead_head(session, first, base) or \
                diagnosis.fading_signal(session.weighted_layer_inputs(first, training=False)) or \
                diagnosis.zero_init(diagnosis.zeroed_weights(session.parameter_values(), input_end=True)) + found
    except Exception:  # the model refuses a changed batch: no evidence either way
        return []
    finally:
        session.close()
    if not found:
        log.add(f"changing {len(picks)} sample(s)' inputs (by noise, and to other samples' inputs) moved their "
                "own outputs and no other's")
    return found


def defect_proven(model: Any, settings: Settings, spec: TrainSpec, session: Any, raw_batch: tuple[Any, Any],
                  first: Any, targets: Targets) -> bool:
    """Before a slow run is allowed more steps: the cheap probes whose evidence proves a defect
    however the curve looks (gradients that accumulate across steps, tensors the optimizer never
    sees, ``targets`` that mark every class, weights the loss never reaches). A step that never
    zeroes its gradients still lowers the loss, slowly; a start already at the floor leaves progress
    to rounding; a model training only the part the loss reaches falls slowly too."""
    if diagnosis.every_class_marked(targets) or session.uncovered_parameters() \
            or diagnosis.unregistered_in(session, first):
        return True
    fresh = lambda: open_session(model, settings, spec, within=session)  # noqa: E731
    if spec.train_step is None:
        return bool(_unreached(fresh, first))
    return bool(accumulating_step(model, settings, spec, session, raw_batch)
                or diagnosis.step_misses_parameters(fresh, lambda s: s.prepare(*raw_batch)))


def proven_before_extending(model: Any, settings: Settings, spec: TrainSpec, session: Any,
                            raw_batch: tuple[Any, Any], first: Any, losses: list[float],
                            initial_outputs: np.ndarray | None, targets: Targets) -> bool:
    """Before a slow run that is off course is given the steps a faster retry says it needs: whether
    any probe whose evidence is a value proves a defect — what a failure would name first (which
    includes :func:`defect_proven`'s looks), inputs at raw scale, outputs that ignore the inputs. A
    defect that only slows training (probabilities into a loss of logits) must not train its way to a
    pass; none of them trains the run's copy. Asked only after :func:`defect_proven` found nothing, so
    the accumulating-gradients look is not repeated."""
    x = session.inputs(first)
    fresh = lambda: open_session(model, settings, spec, within=session)  # noqa: E731
    scaled = _scaled(fresh, first, x)
    log = ProbeLog()
    raw = diagnosis.raw_inputs(scaled)
    final = _final(session, first)  # one read of the trained outputs serves both looks
    return bool(raw or _proven(session, fresh, spec, raw_batch, first, x, losses, initial_outputs, final, targets,
                               [], log, None, looked=True)
                or _input_dependence(fresh, first, x, settings.seed, log, raw=False, scores=targets.classes,
                                     targets=targets, final=final))


def accumulating_step(model: Any, settings: Settings, spec: TrainSpec, session: Any,
                      raw_batch: tuple[Any, Any]) -> list[Evidence]:
    """A passing run's one look at a user's ``train_step``: gradients carried across optimizer
    steps act as an ever-growing momentum that still fits one batch, then overshoots (the loss falls,
    then climbs) on longer runs, so a short fit does not clear it. Two steps at lr 0 on a fresh copy."""
    if spec.train_step is None:
        return []
    fresh = lambda: open_session(model, settings, spec, within=session)  # noqa: E731
    return diagnosis.missing_zero_grad(fresh, lambda s: s.prepare(*raw_batch), [])


def _unpaired(session: Any, targets: Targets, first: Any, initial_outputs: np.ndarray | None,
              final: Callable[[], np.ndarray | None]) -> list[Evidence]:
    """:func:`diagnosis.unpaired_loss` at the outputs of the start and of now, for a loss that reads
    its targets at all (``targets.reads``): one that never does (a one-class objective such as Deep
    SVDD's distance to a centre, handed labels it does not use) is no broadcast."""
    if initial_outputs is None:
        return []
    return diagnosis.unpaired_loss([lambda: initial_outputs, final],
                                   session.labels(first), lambda out: session.loss_of(out, first),
                                   lambda: targets.reads is not None and targets.reads(PAIRING_SENSITIVE) is True)


def _leaked(session: Any, first: Any) -> list[Evidence]:
    """:func:`diagnosis.targets_in_inputs` (value targets that are an input element in every sample),
    :func:`diagnosis.targets_read_from_inputs` (most of them are, and the output reads that input),
    :func:`diagnosis.target_leak` on the batch, run in eval mode on the run's copy (a copy that
    sees its targets fits them, so a leak shows at the end of a run as at its start), then
    :func:`diagnosis.copied_targets` (the inputs as targets of a left-to-right model, scored unshifted),
    :func:`diagnosis.read_ahead` (the inputs as targets of a shifting loss, read one position early by the
    model) and :func:`diagnosis.label_column_in_inputs` (a binary label among the features, read)."""
    x, y = session.inputs(first), session.labels(first)
    predict = _predictor(session)
    return diagnosis.targets_in_inputs(x, y) or diagnosis.targets_read_from_inputs(x, y, predict) \
        or diagnosis.target_leak(x, y, predict) \
        or diagnosis.copied_targets(x, y, predict, lambda outputs: session.loss_of(outputs, first)) \
        or diagnosis.read_ahead(x, y, predict, lambda outputs: session.loss_of(outputs, first)) \
        or diagnosis.label_column_in_inputs(x, y, predict)


def _unread_samples(session: Any, first: Any, initial_outputs: np.ndarray | None, targets: Targets) -> list[Evidence]:
    """:func:`diagnosis.unread_samples` at the outputs of the start (the loss's own values on given
    outputs; no forward pass), where their first axis holds the batch's samples (a time-first layout,
    (T, N, C), under a loss that reads the last step would read as the last sample alone)."""
    labels = session.labels(first)
    if initial_outputs is None or labels is None or len(initial_outputs) != len(labels):
        return []
    return diagnosis.unread_samples(initial_outputs, lambda outputs: session.loss_of(outputs, first),
                                    targets.ignored)


def _skipped(session: Any, first: Any) -> list[Evidence]:
    """:func:`diagnosis.skipped_tokens` on the batch, in eval mode on the run's copy (targets shifted
    twice fit as well as a model can guess past a token: the loss falls, and a pass proves nothing)."""
    return diagnosis.skipped_tokens(session.inputs(first), session.labels(first), _predictor(session),
                                    lambda outputs: session.loss_of(outputs, first))


def _predictor(session: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The run's copy in eval mode on inputs like the batch's (ids the probes changed)."""
    return lambda inputs: session.predict(session.prepare(inputs, None))


def _context(session: Any, first: Any, targets: Targets) -> list[Evidence]:
    """:func:`diagnosis.context_ignored` on the batch, in eval mode on the run's copy, over the
    positions the targets demand (not ignored, not undetermined for a causal model)."""
    skipped = targets.unjudged
    demanded = None if skipped is None or np.shape(skipped) != np.shape(targets.ids) else ~np.asarray(skipped, dtype=bool)
    return diagnosis.context_ignored(session.inputs(first), targets.ids, _predictor(session), demanded)


def passed_unless_proven(run: CheckRun, model: Any, settings: Settings, spec: TrainSpec, session: Any,
                         raw_batch: tuple[Any, Any], first: Any, initial_outputs: np.ndarray | None,
                         targets: Targets, *, looked: bool = False) -> Any:
    """The end of a training check whose criterion held: passed, unless a value proves a defect
    that a fit does not clear — the user's ``train_step`` carries gradients across optimizer steps
    (:func:`accumulating_step`), the loss does not pair outputs with their own targets (a
    broadcast one fits to its own floor: every output toward the targets' mean), the model sees
    the next-token targets it predicts (:func:`_leaked`: copying them fits fast), the loss reads only
    some samples' outputs (:func:`_unread_samples`: those it reads fit), or tensors that
    require grad reach the loss outside the model's parameters (:func:`diagnosis.unregistered_in`: layers in a
    plain list stay as initialised while the rest fits around them). Two linear layers
    that act as one get a note (:func:`stacked_layers`), not a failure. ``looked``: the
    run was slow at its budget (extended, or asked for a horizon), so :func:`defect_proven`
    already took the first look and found nothing."""
    accumulating = [] if looked else accumulating_step(model, settings, spec, session, raw_batch)
    if accumulating:
        raise run.fail("the loss fell, but the training step never zeroes its gradients", accumulating)
    unpaired = _unpaired(session, targets, first, initial_outputs, _final(session, first))
    if unpaired:
        raise run.fail("the loss fell, but it does not pair each output with its own target", unpaired)
    leaked = _leaked(session, first)
    if leaked:
        raise run.fail("the loss fell, but the model sees the targets it predicts", leaked)
    skipped = _skipped(session, first)
    if skipped:
        raise run.fail("the loss fell, but each output is scored against a token past the next one", skipped)
    unread = _unread_samples(session, first, initial_outputs, targets)
    if unread:  # the samples it reads fit: a regression's loss criterion holds on one sample
        raise run.fail("the loss fell, but it reads only some samples' outputs", unread)
    unregistered = [] if looked else diagnosis.unregistered_in(session, first)
    if unregistered:  # the rest of the model fitted around weights that stay as initialised
        raise run.fail("the loss fell, but tensors that reach it are never trained", unregistered)
    run.result.notes.extend(stacked_layers(session, first))
    run.result.notes.extend(_probabilities_expected(session, first, initial_outputs, targets))
    if targets.unread_rows is not None and targets.unread_rows.any():
        run.result.notes.append(f"{int(targets.unread_rows.sum())} of the {len(targets.unread_rows)} samples, wrong on "
                                "the way, were found never read by the loss (a mask of the samples it trains on): they "
                                "were not demanded right")
    return run.passed()


def _logits_into_probabilities(session: Any, first: Any, outputs: np.ndarray, axis: int | None) -> list[Evidence]:
    """:func:`diagnosis.loss_expects_probabilities` on the run's untrained ``outputs`` (class axis
    ``axis``): a loss that moves when every logit of a row moves by 3 reads probabilities."""
    return diagnosis.loss_expects_probabilities(prediction_rows(outputs, axis), session.loss_of(outputs, first),
                                                session.loss_of(outputs + 3.0, first))


def _probabilities_expected(session: Any, first: Any, initial_outputs: np.ndarray | None,
                            targets: Targets) -> list[str]:
    """On a pass, the note that the loss reads probabilities while the head gives logits
    (:func:`_logits_into_probabilities`): Keras's default ``from_logits=False`` on a linear head can
    still fit one batch, where some rows normalise into (0, 1) and the clipped loss has a gradient
    (keras-hub's BERT head fitted at step 136, while the script's run over its batches never moved).
    A note, not a failure: the fit stands."""
    if targets.task != "classification" or targets.ids is None or targets.form != "logits" \
            or initial_outputs is None:
        return []
    found = _logits_into_probabilities(session, first, initial_outputs, targets.channel_axis)
    return [f"the batch fitted, though: {found[0][1]} (init_loss fails on it, naming loss_mismatch)"] if found else []


def stacked_layers(session: Any, first: Any) -> list[str]:
    """:func:`diagnosis.linear_stack`'s notes from one eval-mode call of the run's copy (where a
    framework cannot say which layer feeds which, none)."""
    try:
        return diagnosis.linear_stack(session.stacked_dense(first))
    except Exception:  # a note is a hint: a forward pass it cannot watch (a traced call) leaves the verdict alone
        return []


def _unreached(fresh: Callable[[], Any], batch: Any) -> list[Evidence]:
    """:func:`diagnosis.unreached` from one backward pass of a fresh copy (no copy of its weights:
    the gradients' sizes say what the loss reaches). Where it finds tensors, one step of the same copy
    says whether the step moves them all the same: a step that trains a network from a loss of its
    own (an adversarial VAE's discriminator) reaches it outside the loss the check reads, and those
    count as reached."""
    session = fresh()
    try:
        grads, total = session.gradients(batch), session.trainable_count()
        found = diagnosis.unreached(grads, total)
        for _ in range(UNREACHED_PASSES - 1):  # a branch the forward pass draws at random reaches them in some
            if not found:
                break
            again = session.gradients(batch)
            grads = {n: g if g is not None else again.get(n) for n, g in grads.items()}
            found = diagnosis.unreached(grads, total)
        if found:
            before = session.parameter_values()
            session.train_step(batch)
            after = session.parameter_values()
            moved = {n: np.zeros_like(before[n])
                     for n in diagnosis.moved(before, after, [n for n, g in grads.items() if g is None])}
            found = diagnosis.unreached({**grads, **moved}, total) if moved else found
    except Exception:  # the probe is a hint on an already failed check: a loss it cannot replay says nothing
        return []
    finally:
        session.close()
    return found


def _head_unbounded(fresh: Callable[[], Any], batch: Any) -> bool:
    """Whether a fresh copy's outputs go below 0 with its last weighted layer's pre-activation
    negated and, for float inputs, beyond 1 in magnitude with the inputs scaled ×10 … ×1000: no
    activation bounds the head, so outputs all in [0, 1] or all ≥ 0 at initialisation are a linear
    head's by chance (the census MLP's two logits at 0.56-0.65 on ReLU features of raw inputs), not
    a sigmoid's or a ReLU's, whose negated outputs stay in their range, nor a tanh's, which goes
    negative negated but never past 1. False where the backend cannot say."""
    session = fresh()
    try:
        out = session.negated_head(batch)
        if out is None or not out.size or not np.isfinite(out).all() or float(out.min()) >= 0:
            return False
        past = _past_one(session, batch, 1.0)
        return True if past is None else past  # ids cannot be scaled: the negation alone tells
    except Exception:  # the probe is a hint on an already failed check: a head it cannot negate says nothing
        return False
    finally:
        session.close()


def _past_one(session: Any, batch: Any, bound: float) -> bool | None:
    """Whether the session's outputs pass ``bound`` in magnitude with the batch's float inputs scaled
    ×10 … ×1000; None for inputs that cannot be scaled (ids)."""
    x = session.inputs(batch)
    if x is None or not np.issubdtype(np.asarray(x).dtype, np.floating):
        return None
    scaled = [session.predict(session.prepare(np.asarray(x) * f, None)) for f in SATURATION_SCALES]
    return any(np.isfinite(o).all() and float(np.abs(o).max()) > bound for o in scaled)


def _trained_range(found: list[Evidence], last: np.ndarray | None, axis: int | None, task: str) -> list[Evidence]:
    """An activation read from the outputs at initialisation, read again on the run's trained
    outputs: a sigmoid's never leave (0, 1) and a ReLU's never go below 0, so trained outputs that do
    refute it (a bilinear head, ``x1 @ x2.T`` of two branches, starts with tiny positive scores that
    negating the last layer cannot turn: both branches flip). Where the trained outputs show another
    bound (past 1, none below 0), that one is named; a run that left no finite outputs keeps the read."""
    if last is None or not last.size or not np.isfinite(last).all() or np.ptp(last) == 0:
        return found
    again = diagnosis.output_activation(last if axis is None else prediction_rows(last, axis), task)
    return again if again and again[0][0] == C.OUTPUT_ACTIVATION else []


def _exceeds_one(fresh: Callable[[], Any], batch: Any) -> bool:
    """Whether a fresh copy's outputs pass 1 in magnitude (beyond float32 rounding of a cosine) with
    float inputs scaled ×10 … ×1000: a head no activation bounds to [-1, 1] (a linear head whose
    scores merely stayed inside); a cosine or a tanh stays inside. False for inputs that cannot be
    scaled (ids) and where the backend cannot say: the run's own outputs, pressed against 1 and never
    past it, decide then."""
    session = fresh()
    try:
        return bool(_past_one(session, batch, 1.0 + 1e-3))
    except Exception:  # the probe is a hint on an already failed check: inputs it cannot scale say nothing
        return False
    finally:
        session.close()


def _squashed_logits(initial: np.ndarray, final: np.ndarray | None) -> list[Evidence]:
    """A one-output head read as a logit (threshold 0) whose outputs never leave (0, 1), before or
    after training: every sample is predicted positive and the loss cannot fall to its floor."""
    outs = [o for o in (initial, final) if o is not None and np.isfinite(o).all()]
    if len(outs) < 2 or not all(o.min() >= 0 and o.max() <= 1 for o in outs):
        return []
    return [(C.OUTPUT_ACTIVATION, f"the single output stays in [0, 1] before and after training "
                                  f"({fmt(float(outs[-1].min()))}..{fmt(float(outs[-1].max()))}) while the loss reads "
                                  "it as a logit: a sigmoid before a loss that applies its own "
                                  "(BCEWithLogitsLoss, from_logits=True)")]


def _growth(before: np.ndarray, after: np.ndarray) -> float:
    """How many times larger the largest |output| became (1 when it did not grow)."""
    top = float(np.max(np.abs(before))) if before.size and np.isfinite(before).all() else 0.0
    now = float(np.max(np.abs(after))) if after.size else 0.0
    return now / top if top > 0 else 1.0


def trace_nonfinite(fresh: Callable[[], Any], batches: list[Any], step: int, log: ProbeLog,
                    notes: list[str]) -> list[Evidence]:
    """Where a loss that turned non-finite at ``step`` first broke: replay a fresh copy to the
    step before, then look at the outputs, the loss of those outputs and the gradients. A loss
    that is not finite for finite outputs, or a forward pass that is not finite from the start,
    proves a defect; outputs that overflow only after updates point at the updates."""
    session = fresh()
    try:
        batch = batches[(step - 1) % len(batches)]
        start_outputs = session.predict(batch)
        blown = _blown_up(start_outputs, session.inputs(batch), session.labels(batch))
        if blown:  # the outputs were out of scale before any update
            return blown
        for i in range(step - 1):
            session.train_step(batches[i % len(batches)])
        outputs = session.predict(batch)
        if not np.isfinite(outputs).all():
            log.add(f"replayed to step {step}: the outputs are not finite there")
            if step == 1:
                return [(C.OUTPUTS_NOT_FINITE, "the forward pass of the untrained model gives NaN or inf for "
                                               "finite inputs")]
            # non-finite weights: the update that wrote them may have followed a finite loss whose
            # gradient was not (a square root at 0 differentiated): the loss curve cannot show that step
            return _broken_update(fresh, batches, step, log)
        value = session.loss_of(outputs, batch)
        grown = _growth(start_outputs, outputs)
        if not np.isfinite(value) and step > 1 and grown > OVERFLOW_GROWTH \
                and np.isfinite(session.loss_of(outputs / grown, batch)):
            # the loss takes these outputs at their first size: only the magnitude the updates gave them breaks it
            log.add(f"replayed to step {step}: the outputs grew ×{fmt(grown)} over {step - 1} updates")
            notes.append(f"the non-finite loss traced: at step {step} the outputs are finite but ×{fmt(grown)} their "
                         f"size at init ({_described(outputs)}), and the loss of them scaled back is finite: the "
                         "updates diverged")
            return []
        if not np.isfinite(value):
            log.add(f"replayed to step {step}: finite outputs, non-finite loss")
            flat = outputs.reshape(len(outputs), -1)
            if flat.shape[1] >= 2 and flat.min() >= 0 and (flat.sum(axis=1) == 0).any():
                row = int(np.flatnonzero(flat.sum(axis=1) == 0)[0])
                return [(C.OUTPUT_ACTIVATION, f"at step {step} sample {row}'s outputs are all 0 and the loss of "
                                              f"these finite outputs is {fmt(value)}: a loss on probabilities "
                                              "divides by a row sum or takes log 0; outputs held ≥ 0 by an "
                                              "activation such as ReLU cannot be class probabilities")]
            return [(C.LOSS_NOT_FINITE, f"at step {step} the outputs are finite ({_described(outputs)}) but the "
                                        f"loss of them is {fmt(value)}: the loss cannot take what the model outputs "
                                        "(a log of 0 or of a negative value, a division by 0)")]
        broken = _broken_gradients(session, batch, outputs, value, step, log)
        if broken:
            return broken
        log.add(f"replayed to step {step}: outputs, loss and gradients finite in eval mode")
    except Exception as exc:
        log.add(f"the non-finite trace stopped: {type(exc).__name__}")
    finally:
        session.close()
    return []


def _broken_gradients(session: Any, batch: Any, outputs: np.ndarray, value: float, step: int,
                      log: ProbeLog) -> list[Evidence]:
    """At finite outputs and a finite loss, gradients that are not finite: the loss's own backward
    (its gradient at the outputs) or the model's."""
    grads = session.gradients(batch)
    bad = [n for n, g in grads.items() if g is not None and not np.isfinite(g).all()]
    if not bad:
        return []
    log.add(f"replayed to step {step}: finite loss, non-finite gradients")
    at_outputs = diagnosis.loss_gradient_at(session, outputs, batch)
    if at_outputs is not None and not np.isfinite(at_outputs).all():
        return [(C.LOSS_NOT_FINITE, f"at step {step} the outputs ({_described(outputs)}) and the loss of them "
                                    f"({fmt(value)}) are finite, but the loss's gradient at them is not at "
                                    f"{int((~np.isfinite(at_outputs)).sum())} outputs: its backward breaks (a "
                                    "log of 0 that the value never reads runs backward as 0 · 1/0, a square root "
                                    "differentiated at 0), so every weight turns NaN; clamp before the log, add an "
                                    "epsilon under the root, or compute the loss from logits")]
    return [(C.EXPLODING_GRADIENTS, f"at step {step} the loss is finite ({fmt(value)}) but the gradients of "
                                    f"{diagnosis.listed(bad)} are not")]


def _broken_update(fresh: Callable[[], Any], batches: list[Any], step: int, log: ProbeLog) -> list[Evidence]:
    """The outputs at ``step`` are not finite though every loss before was: replay update by update
    (at most TRACE_MAX_UPDATES) to the first after which the outputs are not finite, and read that
    update's step — outputs, loss and gradients — as :func:`trace_nonfinite` reads a step. Gradients
    that are finite there leave the learning-rate probes to tell the story (an update too large)."""
    updates = step - 1
    if updates > TRACE_MAX_UPDATES:
        return []
    session = fresh()
    try:
        broke = None
        for i in range(updates):
            b = batches[i % len(batches)]
            session.train_step(b)
            if not np.isfinite(session.predict(b)).all():
                broke = i
                break
    finally:
        session.close()
    if broke is None:
        return []
    session = fresh()
    try:
        for i in range(broke):
            session.train_step(batches[i % len(batches)])
        b = batches[broke % len(batches)]
        outputs = session.predict(b)
        value = session.loss_of(outputs, b)
        if not (np.isfinite(outputs).all() and np.isfinite(value)):
            return []
        log.add(f"replayed update by update: the update of step {broke + 1} made the outputs non-finite")
        return _broken_gradients(session, b, outputs, value, broke + 1, log)
    finally:
        session.close()


def _scale(values: Any) -> float:
    """Root mean square of the finite values of a float array; 0 for none (or for ids)."""
    if values is None:
        return 0.0
    a = np.asarray(values)
    if not np.issubdtype(a.dtype, np.floating):
        return 0.0
    a = a[np.isfinite(a)].astype(np.float64)
    return float(np.sqrt(np.mean(a ** 2))) if a.size else 0.0


def _blown_up(outputs: np.ndarray | None, x: Any, y: Any) -> list[Evidence]:
    """Finite untrained outputs ``FORWARD_BLOWUP`` times the larger of the inputs' and targets'
    scale: the forward pass itself amplifies (an exp of an unbounded value, an init that multiplies
    the signal layer by layer), and the loss that later overflows only follows from it."""
    if outputs is None or not np.size(outputs) or not np.isfinite(outputs).all():
        return []
    reference = max(_scale(x), _scale(y), 1.0)
    ratio = _scale(outputs) / reference
    if ratio < FORWARD_BLOWUP:
        return []
    return [(C.OUTPUTS_NOT_FINITE,
             f"the untrained model's outputs ({_described(outputs)}, rms {fmt(_scale(outputs))}) are ×{fmt(ratio)} the "
             f"scale of its inputs and targets (rms {fmt(reference)}; a standard init keeps them within a few times): "
             "the forward pass amplifies the signal itself, and the loss of such outputs overflows within a few "
             "updates")]


def _runs(session: Any, prepared: Any) -> bool:
    """Whether the model's eval-mode forward pass runs on ``prepared``."""
    try:
        session.predict(prepared)
    except Exception:
        return False
    return True


def _dtype_clash(text: str) -> bool:
    """The framework's words for two floating-point types meeting in one op."""
    lowered = text.lower()
    return any(words in lowered for words in ("should be the same", "same dtype", "expected scalar type",
                                              "expected both inputs to have same dtype", "cannot compute"))         and "cuda" not in lowered  # torch names a device clash between CPU and CUDA tensors alike


def _described(outputs: np.ndarray | None) -> str:
    if outputs is None or not np.size(outputs):
        return "none"
    finite = outputs[np.isfinite(outputs)]
    span = f"{fmt(float(finite.min()))}..{fmt(float(finite.max()))}" if finite.size else "no finite value"
    return f"shape {tuple(outputs.shape)}, values {span}"


def _shift_invariant(session: Any, targets: Targets, batch: Any) -> bool:
    """A cross-entropy on logits ignores a constant added to every output of a row; a loss on
    probabilities does not. Tried on confident, correct probabilities, which a shift would
    flatten (near-uniform outputs would hide the difference)."""
    width = targets.width
    if targets.task != "classification" or targets.ids is None:
        return True
    y = targets.ids.reshape(-1)  # per position where the classes run along an axis of their own
    if width < 2 or y.min() < 0 or y.max() >= width:
        return True
    confident = np.full((len(y), width), 0.1 / (width - 1), dtype=np.float32)
    confident[np.arange(len(y)), y] = 0.9
    axis = targets.channel_axis
    if axis is not None:  # the class axis put back where the model's outputs hold it
        confident = in_layout(confident, targets.ids.shape[:axis] + (width,) + targets.ids.shape[axis:], axis)
    return diagnosis.ignores_shift(session.loss_of(confident, batch), session.loss_of(confident + 3.0, batch))


def _recorded(retry: Callable[..., tuple[bool, float]], ends: list[float]) -> Callable[..., tuple[bool, float]]:
    """``retry``, appending each attempt's last loss to ``ends``."""
    def recorded(factor: float = 1.0, **kwargs: Any) -> tuple[bool, float]:
        ok, end = retry(factor, **kwargs)
        ends.append(end)
        return ok, end
    return recorded


def _final(session: Any, batch: Any) -> Callable[[], np.ndarray | None]:
    """The trained copy's eval-mode outputs on ``batch``, read on the first call and kept: several
    looks compare them with the outputs at the start, and each read is a forward pass."""

    @cache
    def final() -> np.ndarray | None:
        try:
            return session.predict(batch)
        except Exception:
            return None

    return final


def _dropped_in_training(fresh: Callable[[], Any], raw_batch: tuple[Any, Any]) -> list[Evidence]:
    """:func:`dropped_in_training` on a fresh copy as given (its statistics move there, not on the run's)."""
    session = fresh()
    try:
        return dropped_in_training(session, raw_batch)
    finally:
        session.close()


def _noisy(fresh: Callable[[], Any], raw_batch: tuple[Any, Any], log: ProbeLog) -> bool:
    """Whether the model's training-mode forward pass is random (dropout and the like) while its
    eval-mode one is not: only then does training in eval mode take the noise away (a VAE samples
    in both; ``log.sampling`` says so when an earlier probe looked)."""
    if log.sampling:
        return False
    session = fresh()
    try:
        batch = session.prepare(*raw_batch)
        return stochastic_training(session, batch) \
            and (log.sampling is False or samples_at_inference(session, batch) is None)
    except Exception:
        return False
    finally:
        session.close()


def error_causes(err: UserCodeError, session: Any, raw_batch: tuple[Any, Any]) -> list[Evidence]:
    """Causes for an exception the user's code raised during a check. A forward pass that raised on a
    copy of the batch a probe built (``err.on_built_copy``) while the batch as given runs says nothing
    about the batch's dtype or shape (a note says what it does say)."""
    try:
        prepared = session.prepare(*raw_batch)
        x = session.inputs(prepared)
    except Exception:
        prepared = x = None
    causes: list[Evidence] = list(getattr(err, "evidence", ()))  # what the adapter already knows
    if err.on_built_copy and prepared is not None and err.stage == "the model's forward pass" \
            and _runs(session, prepared):
        err.notes.append("the model runs on the batch as given but raised on a copy this check built from it "
                         "(samples changed, swapped or reordered): it accepts only batches composed a certain way "
                         "(lengths sorted for pack_padded_sequence(enforce_sorted=True), a fixed batch size or "
                         "content); make it accept any batch of valid samples (enforce_sorted=False), or pass "
                         "inputs it accepts in any order")
        return causes
    text = str(err.exc)
    if "device" in text and ("expected" in text.lower() or "same device" in text):
        causes.append((C.DEVICE_MISMATCH, f"tensors on different devices meet in {err.stage}: "
                                          f"{text.splitlines()[0]} (a device hard-coded in the model or the loss)"))
    elif x is not None and np.issubdtype(x.dtype, np.integer) and err.stage == "the model's forward pass":
        causes.append((C.INPUT_DTYPE, f"x is {x.dtype} but the model computes in floating point"))
    elif err.stage == "the model's forward pass" and _dtype_clash(text):
        causes.append((C.INPUT_DTYPE, f"x ({getattr(x, 'dtype', 'its dtype')}) and the model's weights differ in "
                                      f"floating-point type: {text.splitlines()[0]}"))
    elif err.stage == "the model's forward pass":
        shape = getattr(x, "shape", None)
        causes.append((C.INPUT_SHAPE, f"the batch (x of shape {shape}) does not fit the model: {err.exc}"))
    if "does not require grad" in str(err.exc) or "grad_fn" in str(err.exc):
        causes.append((C.NO_GRADIENT, "the loss has no path back to the parameters (detached, .item() or numpy)"))
    bad = err.nonfinite_outputs  # set by an adapter whose loss raised on its outputs
    if bad and not (x is not None and np.issubdtype(x.dtype, np.floating) and not np.isfinite(x).all()):
        causes.insert(0, (C.OUTPUTS_NOT_FINITE,
                          f"{bad[0]} of {bad[1]} output values the loss was given are not finite, and it raised "
                          "on them (BCELoss refuses NaN: 'all elements of input should be between 0 and 1'): "
                          "activations that overflow (an exp, a large gain on unbounded inputs) or weights "
                          "blown up by the updates — the values, not the loss, are the defect"))
    return causes

