"""overfit_one_batch: a correct model and step can memorise one small batch."""

from __future__ import annotations

from typing import Any, Callable, Literal

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck.causes import Evidence
from pytest_mlcheck.checks.common import check_fraction, check_steps, checked_batch, require_trainable, targets_of
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec, check
from pytest_mlcheck.checks.training import (
    EvalWatch, Fits, ProbeLog, defect_proven, descending, effective_floor, failure_causes, floor_source,
    judge_every, lr_retry, passed_unless_proven, progress, proven_before_extending, recovered_spike,
    settled_outputs, still_falling, train_loop,
)
from pytest_mlcheck.checks.horizon import horizon
from pytest_mlcheck.checks.init_loss import uninformative
from pytest_mlcheck.data import spread_samples
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.targets import Targets
from pytest_mlcheck.thresholds import (
    BEAT_CONSTANT, INTERPOLATE_SHARE, OVERFIT_EXTEND, OVERFIT_MAX_STEPS, OVERFIT_MIN_DROP, SHUFFLE_DRAWS, UNSEEN_FITTED,
    UNSEEN_WRONG,
)


@check()
def overfit_one_batch(
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
    min_drop: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    max_seconds: float | None = None,
) -> CheckResult:
    """Train a copy on one batch until it memorises it: the loss came ``min_drop`` (default 0.9)
    of the way from its start to its floor (the loss of a perfect prediction of this batch) **and**,
    for class targets, every sample is predicted right; for regression the loss criterion alone.
    Stops at the first step the criterion holds, or after ``steps`` (extended up to 16× while the loss
    still falls steadily; a model whose training forward pass is random, e.g. dropout, is then judged
    on its eval-mode loss). ``task`` ("classification",
    "binary", "multilabel" or "regression") overrides what the targets are taken to be."""
    max_steps = check_steps(steps) or OVERFIT_MAX_STEPS
    drop = OVERFIT_MIN_DROP if min_drop is None else check_fraction(min_drop, "min_drop")
    settings = run.settings
    spec = TrainSpec(loss_fn=loss_fn, optimizer=optimizer, train_step=train_step, output=output)
    raw = checked_batch(run, batch)
    with run.session(model, spec, explain=raw) as session:
        prepared = session.prepare(*raw)
        out0 = session.predict(prepared)
        targets = targets_of(session, raw[0], prepared, out0, task)
        cut = _interpolable(session, raw, targets, len(out0))
        if cut is not None:  # too many values for the model to memorise: judged on the first samples
            raw, note = cut
            prepared = session.prepare(*raw)
            out0 = session.predict(prepared)
            targets = targets_of(session, raw[0], prepared, out0, task)
            run.result.notes.append(note)
        kind = targets.task
        run.result.figures["samples"] = int(len(out0))
        targets.record(run)
        if targets.problems:
            raise run.fail(targets.headline, targets.problems)
        require_trainable(run, session, prepared)
        run.result.notes.extend(session.optimizer_notes)

        done = Fits(session, prepared, targets, drop, raw=raw, initial=out0, every=judge_every(max_steps))
        # dropout and the like keep the training loss off the floor: such a model is judged in eval mode,
        # sampled from the first step, so the decision to train on at the budget reads that curve too
        watch = EvalWatch.of(session, prepared, targets, drop, out0, float("nan"), judge_every(max_steps))
        losses, ok, why = train_loop(session, [prepared], max_steps, run,
                                     done if watch is None else watch.done(done, 0))
        if watch is None and why == "steps":  # noise that training opened (dropout into a zero-initialised layer)
            watch = EvalWatch.of(session, prepared, targets, drop, out0, losses[0], judge_every(max_steps))
        if watch is not None and why == "steps" and watch.step != len(losses) and watch.sample(len(losses)):
            ok, why = True, "done"
        # slow but correct is no defect: a loss still falling steadily at the budget trains on
        limit = OVERFIT_EXTEND * max_steps

        def falling(until: int = limit) -> bool:
            """Still coming down steadily (or on course to the criterion by step ``until``): read on the
            eval-mode curve under a watch (the training loss carries the noise), else on the training loss."""
            if watch is not None:
                return watch.still_falling(len(losses), until)
            return still_falling(losses, targets.floor, target=drop, limit=until)

        on_course = why == "steps" and falling()
        slow = on_course or (why == "steps" and watch is None and descending(losses))
        proven = slow and defect_proven(model, settings, spec, session, raw, prepared, targets)
        extend = on_course and not proven
        # off course by its own pace (a plateau before the drop): a retry at a larger rate says how long to watch
        log = ProbeLog(keep_outputs=targets.task == "regression")  # a bounded head shows in the retries' outputs
        retry = lr_retry(model, settings, spec, [raw], max_steps, run, within=session, log=log, fit=(targets, drop))
        reach = horizon(retry, lambda f: (log.fitted or {}).get(f), limit, "fitted the batch") \
            if slow and not (on_course or proven) \
            and not proven_before_extending(model, settings, spec, session, raw, prepared, losses, out0, targets) \
            else None
        stall = _RightStall(session, raw, prepared, targets, drop, watch, out0)
        while why == "steps" and ((extend and len(losses) < limit and falling() and not stall(losses))
                                  or (reach is not None and len(losses) < reach.limit)):
            step_done = lambda ls, step, before=losses: done(before + ls, step)  # noqa: E731
            chunk = max_steps if reach is None else min(max_steps, reach.limit - len(losses))
            more, ok, why = train_loop(session, [prepared], chunk, run,
                                       step_done if watch is None else watch.done(step_done, len(losses)))
            losses = losses + more
        if watch is not None and why == "steps" and watch.step != len(losses) and watch.sample(len(losses)):
            ok, why = True, "done"
        # the watch decided where the run ended at its last reading (a reading that held stops the run)
        if watch is not None and watch.points and (why == "steps" or (why == "done" and watch.step == len(losses))):
            run.result.notes.append(watch.line())
        if targets.refuted_line:
            run.result.notes.append(targets.refuted_line)
        if targets.moved_line and not ok:
            run.result.notes.append(targets.moved_line)
        run.record_losses(losses)
        if reach is not None:
            run.result.notes.append(reach.note(max_steps, len(losses), "it fitted" if ok else None))
        elif len(losses) > max_steps:
            run.result.notes.append(
                f"the loss was still falling at the budget of {max_steps} steps, so training went on "
                f"(up to {OVERFIT_EXTEND}× the budget): " + (f"it fitted at step {len(losses)}; pass "
                                                            f"steps={len(losses)} to say so" if ok else
                                                            f"it stopped at step {len(losses)}"))
        uncovered = session.uncovered_parameters()
        outputs = None
        if why == "steps":  # eval-mode outputs after the run: the overlap judgement and the message read them
            just_read = watch is not None and watch.step == len(losses)
            outputs = watch.outputs if just_read else settled_outputs(session, prepared)
            held = done.judge(outputs)
            if held is not None:
                ok = held
        if stall.line is not None and not ok:
            run.result.notes.append(stall.line)
        if done.line is not None and (why == "steps" or done.by_overlap):
            run.result.notes.append(done.line)
        _loss_figures(run, losses, targets.floor, drop)
        spike = recovered_spike(losses, targets.floor) if ok else None
        if spike is not None:
            raise run.fail("the loss diverged on the way before the batch was fitted", [spike])
        if ok and not uncovered:
            return passed_unless_proven(run, model, settings, spec, session, raw, prepared, out0, targets,
                                        looked=slow and not proven)
        if why == "time":  # no probes past the cap: they would only run into it again
            if kind != "regression":  # how close it got: the watch's last reading, or one eval-mode pass
                seen = watch.outputs if watch is not None and watch.step == len(losses) else None
                _accuracy(run, targets, settled_outputs(session, prepared) if seen is None else seen)
            raise run.time_up(f"after {len(losses)} of {max_steps} steps without fitting one batch of {len(out0)}")
        if why != "nonfinite" and outputs is None:
            outputs = settled_outputs(session, prepared)
        if kind != "regression" and outputs is not None:
            right = _accuracy(run, targets, outputs)
            came = progress(losses[0], losses[-1], targets.floor)
            if why == "steps" and came >= drop and not right.all() and stall.line is None:  # (the stall said it)
                # the eval-mode loss's progress from the start the stall reads too: the watch's, under one
                start = watch.start if watch is not None and watch.points else losses[0]
                run.result.notes.append(_short_of_every_sample(session, prepared, outputs, right, start,
                                                               came, targets.floor, drop))
        beaten = "" if targets.beats_constant(float("inf")) else \
            f", and {BEAT_CONSTANT:.0%} of the way from a constant prediction's {fmt(targets.constant)} (each target's batch mean)"
        run.figure("min_drop", drop, "criterion: " + f"the loss falls {drop:.0%} of the way from start to floor"
                   + (beaten if kind == "regression" else " and every sample right"))

        causes = failure_causes(
            model=model, settings=settings, spec=spec, session=session, raw_batch=raw, first=prepared,
            losses=losses, initial_outputs=out0, targets=targets, retry=retry, notes=run.result.notes, log=log,
            seen=[stall.cause] if stall.cause is not None else [], drop=drop,
        )
        if why == "steps" and len(losses) >= limit and falling(until=len(losses)):
            run.result.notes.append(f"the loss was still falling steadily at step {len(losses)} "
                                    f"({OVERFIT_EXTEND}× the budget): a larger steps= or learning rate may fit")
        raise run.fail(_headline(ok, why, losses, max_steps, run, uncovered), causes)


def _accuracy(run: CheckRun, targets: Targets, outputs: Any) -> np.ndarray:
    """Record how many samples the eval-mode ``outputs`` get right; which ones."""
    right = targets.right(outputs)
    run.figure("accuracy", float(right.mean()), f"accuracy: {int(right.sum())}/{len(right)} predicted right")
    return right


def _share(came: float) -> str:
    """How far a loss came, for a note: a loss above its start came none of the way."""
    return f"{came:.0%}" if came >= 0 else "none of it (above the start)"


def _short_of_every_sample(session: Any, prepared: Any, outputs: Any, right: np.ndarray, start: float,
                           came: float, floor: float, drop: float) -> str:
    """The note on a run whose training loss did its part with samples still wrong: told by how far
    the eval-mode outputs' own loss came from ``start`` (the eval-mode watch's start, where there is
    one: the same reading as :class:`_RightStall`'s)."""
    in_eval = progress(start, session.loss_of(outputs, prepared), floor)
    wrong, n = int((~right).sum()), len(right)
    if not np.isfinite(in_eval):  # the loss could not score the eval-mode outputs: say only what was seen
        return f"the training loss came {came:.0%} of the way, yet the eval-mode outputs get {n - wrong}/{n} right"
    if in_eval < drop:
        return (f"the training loss came {came:.0%} of the way, the eval-mode outputs' only {_share(in_eval)}, "
                f"with {n - wrong}/{n} right: the model computes differently in eval mode (a BatchNorm's "
                "statistics, dropout): compare its outputs in train() and eval() mode")
    it, are = ("them", "are") if wrong > 1 else ("it", "is")
    return (f"the loss came {came:.0%} of the way ({in_eval:.0%} on the eval-mode outputs), yet {wrong} of {n} "
            f"samples {are} still wrong: the mean loss hides {it}. More steps or a larger rate may fit {it}, or the "
            f"model may not tell {it} from samples of another class (duplicates with different labels, features "
            "too coarse to separate them)")


class _RightStall:
    """Called before each stretch of an extension: whether to stop it because the run's loss has done
    its part (``drop`` of the way) while the eval-mode outputs have not — their loss short of the drop
    and the share they get right (of the samples, or of the positions of dense targets:
    :meth:`Targets.right_share`) no larger than a stretch before. Training then fits a path that eval
    mode does not take (a BatchNorm whose statistics differ from the batch's, an eval-time branch),
    and more steps only deepen it. Where the eval-mode loss came as far, the last samples may still
    be memorised slowly (a few flipped labels take thousands of steps): the run goes on. A loss the
    user's step computes itself (no loss to score given outputs) leaves only the classes to read: past
    the drop, outputs that match their own labels no more often than shuffled ones, with no more right
    than a stretch before, stop the run (slowly memorised last samples keep a share far above it).
    Class targets only; a loss that does not read its classes (refuted, unread) is judged on its loss."""

    def __init__(self, session: Any, raw: tuple[Any, Any], prepared: Any, targets: Targets, drop: float,
                 watch: EvalWatch | None, initial: np.ndarray) -> None:
        self.session, self.raw, self.prepared, self.targets, self.drop, self.watch = \
            session, raw, prepared, targets, drop, watch
        self.initial = initial  # the outputs at initialisation (what the right samples cost then, see _unseen)
        self.best: float | None = None  # the largest share right at a reading past the drop
        self.seen: float | None = None  # the same, where eval mode came as far (see _unseen)
        self.line: str | None = None
        self.cause: Evidence | None = None  # what a stop proves, where it proves something

    def __call__(self, losses: list[float]) -> bool:
        t = self.targets
        if t.task == "regression" or t.unread or np.isfinite(t.refuted):
            return False
        curve = ([self.watch.start] + self.watch.points) if self.watch is not None and self.watch.points else losses
        came = progress(curve[0], curve[-1], t.floor) if np.isfinite(curve[-1]) else 0.0
        outputs = settled_outputs(self.session, self.prepared) if came >= self.drop else None
        in_eval = progress(curve[0], self.session.loss_of(outputs, self.prepared), t.floor) \
            if outputs is not None else float("nan")
        # a step's own loss (no loss_fn, no compiled loss) cannot score the eval-mode outputs: their share
        # right is all there is to read
        unscored = outputs is not None and not np.isfinite(in_eval) and not self.session.has_loss()
        if unscored and not self._no_better_than_shuffled(outputs):
            self.best = None  # the outputs tell their own labels: the last samples may take long to memorise
            return False
        if not unscored and not (np.isfinite(in_eval) and in_eval < self.drop):
            self.best = None  # short of the drop, or eval mode came as far: a stretch must show the gap again
            return np.isfinite(in_eval) and self._unseen(losses, outputs)
        self.seen = None
        now = t.right_share(outputs)
        if self.best is not None and now <= self.best and (now < 1 or not unscored):
            dense = t.channel_axis is not None or t.mask
            right = t.right(outputs)
            what = f"{now:.1%} of the positions" if dense else f"{int(right.sum())}/{len(right)} samples"
            self.line = (
                f"the loss your step returns had come {came:.0%} of the way, yet the eval-mode outputs get {what} "
                f"right at step {len(losses)}, no more than a stretch before: training stopped there (the check "
                "cannot score outputs with a loss your step computes itself; a loss that does not reward the "
                "targets' classes, or a model that computes differently in eval mode)" if unscored else
                f"the loss had come {came:.0%} of the way, but on the eval-mode outputs only {_share(in_eval)}, "
                f"with {what} right at step {len(losses)}, no more than a stretch before: training stopped "
                "there (training fits a path eval mode does not take, a BatchNorm's statistics or dropout: "
                "compare its outputs in train() and eval() mode; more steps only deepen it)")
            return True
        self.best = now
        return False

    def _no_better_than_shuffled(self, outputs: np.ndarray) -> bool:
        """Whether the eval-mode outputs' classes match the samples' own labels no more often than the
        labels shuffled among the samples (the most of SHUFFLE_DRAWS seeded shuffles: a rank test at
        p = 1/20): nothing of the targets was learnt, however far the step's own loss came. Class ids,
        one per sample."""
        t = self.targets
        ids = np.asarray(t.ids)
        if t.channel_axis is not None or t.mask or t.task == "multilabel" or ids.ndim != 1 or len(ids) != len(outputs):
            return False
        predicted = t.predicted(outputs)
        own = float(np.mean(predicted == ids))
        rng = np.random.default_rng(0)
        shuffled = max(float(np.mean(predicted == rng.permutation(ids))) for _ in range(SHUFFLE_DRAWS))
        return own <= shuffled

    def _unseen(self, losses: list[float], outputs: np.ndarray) -> bool:
        """Where eval mode came as far as the run: whether the samples still wrong cost the loss no
        more than UNSEEN_WRONG times what the right ones cost, with the share right no larger than a
        stretch before. A loss that rewards the class the outputs predict costs a wrong sample more
        than a right one (a cross-entropy at least log 2 against ~0), and the last few samples of a
        batch memorised slowly are the ones keeping the loss up; a loss that scores wrong samples as
        fitted (a margin header whose target angle is clamped, so its target logit is a constant) has
        nothing left to train them with. Samples of class targets only (a mask's positions do not slice)."""
        t = self.targets
        if t.channel_axis is not None or t.mask:
            return False
        right = t.right(outputs)
        now = float(right.mean())
        if right.all() or not right.any() or self.seen is None or now > self.seen:
            self.seen = now
            return False
        try:
            penalty = self.session.penalty()  # a compiled Keras loss's add_loss terms: in every value, no sample's
            x, y = as_numpy(self.raw[0]), as_numpy(self.raw[1])
            wrong_part, right_part = (self.session.prepare(x[keep], y[keep]) for keep in (~right, right))
            level = uninformative(outputs[right])[0]  # zero logits, uniform rows, as init_loss reads them
            wrong, fitted, before, blank = (self.session.loss_of(o, part) - penalty for o, part in (
                (outputs[~right], wrong_part), (outputs[right], right_part), (self.initial[right], right_part),
                (level, right_part)))
        except Exception:  # inputs or outputs that do not slice as one array: no judgement
            return False
        # the right ones must be fitted (below UNSEEN_FITTED of what they cost at initialisation, and of
        # what uninformative outputs cost them): outputs held near where they started (weights a penalty
        # keeps near zero), or collapsed to near-uniform rows from a start far off (raw pixels: 78.8 at
        # initialisation, 2.17 against log 10 = 2.30 at the end), cost right and wrong samples alike
        if not (np.isfinite(wrong) and np.isfinite(fitted) and np.isfinite(before)) \
                or wrong > UNSEEN_WRONG * max(fitted, 0.0) or fitted > UNSEEN_FITTED * before \
                or (np.isfinite(blank) and fitted > UNSEEN_FITTED * blank):
            self.seen = now
            return False
        n = len(right)
        self.line = (f"at step {len(losses)} the {n - int(right.sum())} of {n} samples still wrong cost the loss "
                     f"{fmt(wrong)} against {fmt(fitted)} for the {int(right.sum())} right, and no more came right "
                     "over a stretch: training stopped there (the loss scores them as fitted, so more steps have "
                     "nothing to move them with)")
        self.cause = (C.LOSS_MISMATCH,
                      f"on the run's own outputs the {n - int(right.sum())} samples whose largest output is another "
                      f"class than their target cost the loss {fmt(wrong)}, no more than ×{UNSEEN_WRONG:g} the "
                      f"{fmt(fitted)} of the {int(right.sum())} it gets right: the loss does not reward the class the "
                      "outputs give (a margin or header inside the loss that replaces the target's score with a "
                      "constant, a loss on other outputs than the ones predicted from)")
        return True


def _interpolable(session: Any, raw: tuple[Any, Any], targets: Targets, n: int) -> tuple[tuple[Any, Any], str] | None:
    """Samples spread evenly over the batch (:func:`spread_samples`) and a note saying why, where its
    value targets hold more values than the model has trainable weights (see INTERPOLATE_SHARE); None
    where the whole batch can be memorised, or does not slice."""
    if targets.task != "regression":
        return None
    weights, width = session.trainable_count(), max(targets.width, 1)
    values = n * width
    if not 0 < weights < values or n <= 2:
        return None
    keep = max(min(2, n), int(INTERPOLATE_SHARE * weights) // width)  # two: batch norm needs a pair
    try:
        cut = (spread_samples(raw[0], n, keep), spread_samples(raw[1], n, keep))
    except TypeError:
        return None
    share = keep * width / weights
    held = (f"{share:.0%} of what its weights could interpolate" if share <= INTERPOLATE_SHARE else
            f"{keep * width} values, ×{fmt(share)} its weights: fewer samples cannot be judged, and it can fit them only "
            "where its inputs determine their targets (a value per weight it cannot hold)")
    return cut, (f"the model has {weights} trainable weight(s) for the batch's {values} target values, and a model "
                 f"of P weights cannot interpolate more than P: judged on {keep} sample(s) spread over the batch (one in "
                 f"every {max(1, n // keep)}), {held}")


def _loss_figures(run: CheckRun, losses: list[float], floor: float, drop: float) -> None:
    """Start, floor and end of the loss, and how far it came (figures and one message line)."""
    start, end = losses[0], losses[-1]
    low = effective_floor(start, floor)
    came = progress(start, end, floor)
    run.figure("loss_floor", floor, f"loss: start {fmt(start)} → end {fmt(end)}, floor {fmt(low)} "
                                    f"({came:.0%} of the way; {floor_source(floor)})")
    run.figure("progress", came, "")
    run.figure("loss_ratio", end / start if start else 0.0, "")


def _headline(ok: bool, why: str, losses: list[float], max_steps: int, run: CheckRun, uncovered: list[str]) -> str:
    n = run.result.figures.get("samples")
    floor = run.result.figures.get("loss_floor")
    if ok and uncovered:
        return f"the loss fell, but {len(uncovered)} trainable parameter(s) were never trained"
    if why == "nonfinite":
        return f"the loss became non-finite at step {len(losses)} while fitting one batch of {n}"
    return (f"could not fit one batch of {n} samples in {len(losses)} steps (loss {fmt(losses[0])} → {fmt(losses[-1])}, "
            f"floor {fmt(effective_floor(losses[0], floor if floor is not None else float('nan')))})")

