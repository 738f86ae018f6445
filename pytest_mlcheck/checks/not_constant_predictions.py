"""not_constant_predictions: distinct inputs must not all get the same class (or the same value)."""

from __future__ import annotations

from typing import Any, Callable, Literal

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck import diagnosis
from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck.causes import Evidence
from pytest_mlcheck.checks.common import check_fraction, check_steps, finite_samples, targets_of
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec, check
from pytest_mlcheck.checks.training import learning, train_loop
from pytest_mlcheck.data import batches_upto, input_batches
from pytest_mlcheck.errors import usage
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.targets import Targets, check_task, output_form, prediction_rows, time_first
from pytest_mlcheck.thresholds import (
    COLLAPSE_MAX_SHARE, COLLAPSE_MIN_SAMPLES, IMBALANCE_EXPLAINS_SHARE, IMBALANCE_RATIO, IMBALANCE_SHARE, OVERFIT_EXTEND,
    REGRESSION_MIN_SPREAD, SHUFFLE_BATCHES, SHUFFLE_DRAWS, TRAIN_ON_STEPS, UNREAD_RTOL,
)


def distinct_rows(batches: list[np.ndarray]) -> int:
    """Distinct samples across the batches (which may differ in shape: sequences of other lengths)."""
    return len({(r.shape, r.tobytes()) for b in batches for r in np.ascontiguousarray(b.reshape(len(b), -1))})


def enough_distinct(inputs: Any) -> bool:
    """A drawn batch holds enough distinct samples to judge the spread of predictions."""
    if not hasattr(inputs, "shape") or len(inputs.shape) == 0:
        return False
    return distinct_rows([as_numpy(inputs)]) >= COLLAPSE_MIN_SAMPLES


@check(strategy="inputs", judgeable=enough_distinct)
def not_constant_predictions(
    run: CheckRun,
    model: Any,
    inputs: Any,
    *,
    train_on: Any = None,
    loss_fn: Callable | None = None,
    optimizer: Any = None,
    train_step: Callable | None = None,
    output: Any = None,
    task: Literal["classification", "binary", "multilabel", "regression"] | None = None,
    steps: int | None = None,
    max_share: float | None = None,
    seed: int | None = None,
    device: str | None = None,
    max_seconds: float | None = None,
    examples: int | None = None,
) -> CheckResult:
    """Distinct ``inputs`` do not all get one class (no class above ``max_share`` of the
    predictions) or, for one-output models and value targets (``task="regression"``, or the
    ``train_on`` targets read as values), one value. With ``train_on`` a copy is first
    trained ``steps`` steps on those batches, since collapse to the majority class shows
    after training. A one-output binary head is judged on the classes it gives (threshold 0 for
    logits, 0.5 for probabilities) when the ``train_on`` targets are 0/1 or ``task="binary"``.
    ``inputs`` may be a Hypothesis strategy."""
    n_steps = check_steps(steps) or TRAIN_ON_STEPS
    check_task(task)
    share_cap = COLLAPSE_MAX_SHARE if max_share is None else check_fraction(max_share, "max_share")
    spec = TrainSpec(loss_fn=loss_fn, optimizer=optimizer, train_step=train_step, output=output)
    batches = input_batches(inputs)
    with run.session(model, spec, inference=train_on is None, explain=(batches[0], None)) as session:
        prepared = [session.prepare(x) for x in batches]
        arrays = [session.inputs(p) for p in prepared]
        if all(a is not None for a in arrays):
            distinct = distinct_rows(arrays)
            n = sum(len(a) for a in arrays)
            if distinct == 1 and n >= COLLAPSE_MIN_SAMPLES and _alike(session, prepared, n):
                # a batch of one sample repeated is what a pipeline that hands every sample the first
                # one's features gives (an index fixed inside a loop): a defect of the data, not the call
                x = np.concatenate(arrays)
                raise run.fail(f"all {n} inputs are one sample repeated: no model can predict differently for them",
                               diagnosis.identical_inputs(x, targets=False) + diagnosis.inputs_not_finite(x))
            if distinct < COLLAPSE_MIN_SAMPLES:
                raise usage("inputs", f"at least {COLLAPSE_MIN_SAMPLES} distinct samples to judge a spread of "
                                      "predictions", fix=f"got {distinct}; pass more varied inputs (e.g. a held-out batch)")
        causes_extra: list[Evidence] = []
        majority: tuple[int, float, float] | None = None  # the training labels' largest class and its share
        targets: Targets | None = None
        values = False  # train_on targets that are values, one for every output
        if train_on is not None:
            raws = batches_upto(train_on, n_steps, argument="train_on")
            train = [session.prepare(*raw) for raw in raws]
            run.result.notes.extend(session.optimizer_notes)
            first_out = session.predict(train[0])
            targets = targets_of(session, raws[0][0], train[0], first_out, task)
            targets.record(run)
            first_y = session.labels(train[0])
            # value targets with a value for every output (an autoencoder's pixels or ratings), not a
            # dummy or a target the loss pairs with the outputs its own way
            values = targets.task == "regression" and first_y is not None and len(first_out) > 0 \
                and np.asarray(first_y).size == np.asarray(first_out).size
            losses, _, why = train_loop(session, train, n_steps, run)
            run.record_losses(losses)
            if targets.task in ("classification", "binary"):
                trained = [session.predict(b) for b in train]
                read = [targets_of(session, raw[0], b, out, targets.task) for raw, b, out in zip(raws, train, trained)]
                majority = _majority(np.concatenate([_counted(t) for t in read]))
                causes_extra = _imbalance(majority)
            if why == "nonfinite":
                raise run.fail(f"the loss became non-finite at step {len(losses)} while training on train_on")
            if why == "time":
                raise run.time_up(f"after {len(losses)} of {n_steps} training steps on train_on")
            session.recalibrate(train[0])  # normalisation statistics of the data it trained on
        judge = _Judge(arrays, targets, task, values, share_cap, majority).read(session, prepared)
        if train_on is not None and judge.preds is not None and judge.collapsed() and _unread(session, targets, train[0]):
            # scores under a loss that never reads its targets (a ranking hinge handed dummy 0/1
            # labels): their level means nothing, so no class is read from them; their spread is judged
            run.result.notes.append("the loss stays put when every target is replaced by the first sample's, at "
                                    "the trained outputs: it does not read its targets, so the outputs are judged "
                                    "as values, on their spread")
            judge = _Judge(arrays, targets, task, True, share_cap, majority).read(session, prepared)
        if not judge.finite_in.all():
            # samples whose inputs hold NaN or inf are reported, not judged
            skipped = int((~judge.finite_in).sum())
            run.figure("non_finite_inputs", skipped, f"non-finite inputs: {skipped} sample(s), not judged")
        run.result.figures["samples"] = len(judge.flat)
        _finite(run, judge)
        if len(judge.flat) < COLLAPSE_MIN_SAMPLES:
            raise usage("inputs", f"at least {COLLAPSE_MIN_SAMPLES} samples with finite inputs",
                        fix=f"got {len(judge.flat)}; pass more samples without NaN or inf")
        if train_on is not None and judge.collapsed() and not judge.identical() and learning(losses) \
                and (not judge.explained_by(majority) or _past_majority(run, majority, judge.allowed(), read, trained)):
            # slow but correct is no defect: a model still learning shows the labels' marginal before
            # the inputs' part; it trains on while the loss keeps falling, judged after each stretch. A
            # collapse onto a majority is trained on only where a model true to the labels could give
            # it no more than the share allowed, and where its outputs already tell the labels apart
            losses = _train_on(run, session, train, losses, n_steps, judge, prepared)
            run.record_losses(losses)
            _finite(run, judge)
        if judge.identical():  # the input stops somewhere: look for a layer that never gets anything
            causes_extra = (diagnosis.zero_init(diagnosis.zeroed_weights(session.parameter_values(), input_end=True))
                            or diagnosis.silent_layers(session.weighted_layer_inputs(prepared[0], training=False))) \
                + causes_extra
        judge.report(run, causes_extra, majority)
        return run.passed()


def _alike(session: Any, prepared: list[Any], n: int) -> bool:
    """Whether the model's predictions for inputs that are one sample repeated are one per input and
    all alike, as a model gives for its samples: a layout whose first axis is not the samples' (a
    sequence-first recurrent model, whose rows are time steps) gives other rows, or rows that differ."""
    try:
        outs = [np.asarray(session.predict(p)) for p in prepared]
        rows = np.concatenate([o.reshape(len(o), -1) for o in outs]).astype(np.float64)
    except Exception:  # outputs this reading cannot stack: no verdict from them
        return False
    if len(rows) != n:
        return False
    # alike within float32 rounding: a kernel may block the rows of a batch differently
    scale = float(np.nanmax(np.abs(rows))) if np.isfinite(rows).any() else 0.0
    return bool(np.isclose(rows, rows[:1], rtol=0, atol=1e-5 * max(scale, 1e-30), equal_nan=True).all())


def _past_majority(run: CheckRun, majority: tuple[int, float, float] | None, cap: float, read: list[Targets],
                   outs: list[np.ndarray]) -> bool:
    """Whether a collapse onto the training labels' majority is worth training on: a model true to
    labels whose majority takes more than ``cap`` (the share allowed, :meth:`_Judge.allowed`) would
    collapse as far (the labels are the defect), and one whose outputs do not yet tell the labels
    apart (:func:`_informed`) has learned only it."""
    if majority is None:
        return False
    if majority[1] > cap:
        run.result.notes.append(f"class {majority[0]} is {majority[1]:.0%} of the training labels, above the "
                                f"{cap:.0%} allowed: a model true to them collapses as far, so training does not go on")
        return False
    return _informed(run, read, outs)


def _informed(run: CheckRun, read: list[Targets], outs: list[np.ndarray]) -> bool:
    """Whether the trained outputs on the training batches tell the samples' labels apart beyond the
    labels' marginal: their loss with each sample's own target lies below its loss with the targets
    shuffled between samples, for every one of SHUFFLE_DRAWS seeded shuffles (a model that learned
    only the majority gives every sample the same scores, which fit another sample's label as well)."""
    own, other, asked = 0.0, np.zeros(SHUFFLE_DRAWS), 0
    for targets, out in list(zip(read, outs))[:SHUFFLE_BATCHES]:
        got = targets.shuffled(out, SHUFFLE_DRAWS) if targets.shuffled is not None else None
        if got is None:
            continue
        own, other, asked = own + got[0], other + got[1], asked + 1
    if not asked:
        return False
    own, other = own / asked, other / asked  # the mean over the batches asked
    informed = bool(own < other.min())
    shuffles = f"{fmt(float(other.min()))}..{fmt(float(other.max()))} in {SHUFFLE_DRAWS} shuffles"
    run.result.notes.append(
        f"a collapse onto the training labels' majority: the trained loss with each sample's own label is "
        f"{fmt(own)}, with the labels shuffled between samples {shuffles} (mean of {asked} batch(es)); "
        + ("the outputs tell the labels apart, so the model is learning more than the majority"
           if informed else "the outputs fit another sample's label as well as their own: only the majority "
                            "was learned, so training does not go on"))
    return informed


def _unread(session: Any, targets: Targets | None, batch: Any) -> bool:
    """Whether the loss, at the trained model's outputs on ``batch``, stays put when every class
    target is replaced by the first sample's (Targets.reads: a cross-entropy on outputs that moved off
    uniform always moves)."""
    if targets is None or not targets.classes or targets.channel_axis is not None or targets.reads is None:
        return False
    return targets.reads(UNREAD_RTOL, at=session.predict(batch)) is False


def _counted(targets: Targets) -> np.ndarray:
    """The class ids of one batch the loss reads, flat (positions an ignore id marks left out)."""
    ids = np.asarray(targets.ids).reshape(-1)
    skipped = targets.ignored
    if skipped is None or np.asarray(skipped).size != ids.size:
        return ids
    return ids[~np.asarray(skipped, dtype=bool).reshape(-1)]


def _finite(run: CheckRun, judge: _Judge) -> None:
    if not np.isfinite(judge.flat).all():
        raise run.fail("non-finite outputs for finite inputs",
                       [(C.OUTPUTS_NOT_FINITE, f"{int((~np.isfinite(judge.flat)).sum())} values")])


class _Judge:
    """How the predictions on the judged inputs are read (classes, classes per position, values),
    and what they were at the last reading: read again after each stretch of training."""

    def __init__(self, arrays: list[Any], targets: Targets | None, task: str | None, values: bool,
                 cap: float, labels: tuple[int, float, float] | None = None) -> None:
        self.arrays, self.targets, self.task, self.values, self.cap = arrays, targets, task, values, cap
        self.labels = labels  # the training labels' majority (_majority), None without train_on

    def read(self, session: Any, prepared: list[Any]) -> _Judge:
        """The model's predictions now; returns itself."""
        targets, task = self.targets, self.task
        outs = [session.predict(p) for p in prepared]
        for a, o in zip(self.arrays, outs):
            if a is not None and time_first(np.asarray(o), len(a)):
                # time-first outputs (T, N, C) would be judged as T samples: no verdict rests on that
                raise usage("model", f"outputs with one row per input sample ({len(a)} here, along the first axis)",
                            fix=f"got outputs {tuple(np.shape(o))}; return batch-first outputs from the model or a "
                                "wrapper, or pass a callable output= that transposes them")
        self.finite_in = np.concatenate([finite_samples(a, len(o)) for a, o in zip(self.arrays, outs)])
        flat = np.concatenate(outs, axis=0).reshape(sum(len(o) for o in outs), -1).astype(np.float64)
        self.flat = flat[self.finite_in]
        binary = (targets.task == "binary") if targets is not None else task == "binary"
        axis = targets.channel_axis if targets is not None else None
        self.threshold: float | None = None
        self.positions: tuple[int, int] | None = None
        self.preds: np.ndarray | None = None  # None: judged as values
        self._top: tuple[int, float, int] | None = None  # top()'s answer for these predictions
        if axis is not None and all(o.ndim > axis for o in outs):
            # a class per position (a mask, a token sequence): the classes predicted at every position
            rows = prediction_rows(np.concatenate(outs, axis=0)[self.finite_in], axis)
            self.positions = (len(rows), axis)
            self.preds = rows.argmax(axis=1)
        elif task == "regression" or self.values or (targets is not None and targets.groups):
            pass  # value targets (an autoencoder's 1,024 ratings): no argmax is a class, the values must vary
        elif self.flat.shape[1] >= 2 and (targets is None or targets.task != "multilabel") and task != "multilabel":
            self.preds = self.flat.argmax(axis=1)
        elif self.flat.shape[1] == 1 and binary:
            form = targets.form if targets is not None else output_form(self.flat)
            self.threshold = 0.5 if form == "probabilities" else 0.0
            self.preds = (self.flat[:, 0] > self.threshold).astype(np.int64)
        return self

    def identical(self) -> bool:
        return bool(np.allclose(self.flat, self.flat[0], rtol=1e-6, atol=1e-7))

    def top(self) -> tuple[int, float, int]:
        """The class predicted most often, its share, and how many classes are predicted at all
        (counted once per reading)."""
        if self._top is None:
            classes, counts = np.unique(self.preds, return_counts=True)
            top = int(np.argmax(counts))
            self._top = int(classes[top]), float(counts[top] / counts.sum()), len(classes)
        return self._top

    def allowed(self) -> float:
        """The share one class may take: the cap, or, for a class per position, the training labels' own
        share of their majority where that is larger (short of every label) and the predictions' top
        class is that majority: predictions no more one-sided than the labels are no collapse (a lane
        mask whose background is 98 % of the pixels, predicted as background at 97 %). Only per
        position: there the imbalance lies within each sample, so any input from the data carries it;
        labels one per sample are imbalanced across the samples, and inputs judged (a balanced
        held-out set) need not follow them."""
        m = self.labels
        if self.positions is not None and self.preds is not None and m is not None and self.cap < m[1] < 1.0 \
                and m[0] == self.top()[0]:
            return m[1]
        return self.cap

    def collapsed(self) -> bool:
        if self.preds is None:
            return _relative_spread(self.flat) < REGRESSION_MIN_SPREAD
        return self.top()[1] > self.allowed()

    def explained_by(self, majority: tuple[int, float, float] | None) -> bool:
        """A collapse onto the class most training labels have: the imbalance explains it (what the
        loss rewards before the rest is learned), unless nothing reaches the head — which identical
        outputs say, except after training on one class alone (:func:`_only_class`)."""
        return self.preds is not None and majority is not None and (_only_class(majority) or not self.identical()) \
            and majority[0] == self.top()[0] and majority[1] >= IMBALANCE_EXPLAINS_SHARE

    def report(self, run: CheckRun, extra: list[Evidence], majority: tuple[int, float, float] | None) -> None:
        """Fails the check where the predictions collapsed, naming ``extra`` beside the collapse."""
        identical = self.identical() and not _only_class(majority)
        if self.preds is None:
            _spread(run, self.flat, identical, extra)
            return
        unit = "distinct inputs"
        if self.positions is not None:
            n, axis = self.positions
            run.figure("positions", n, f"positions: {n} (classes along axis {axis})")
            unit = f"positions of {int(self.finite_in.sum())} distinct inputs"
        if self.threshold is not None:
            run.figure("threshold", self.threshold, f"classes: output > {self.threshold:g} is class 1")
        allowed = self.allowed()
        _classes(run, self.top(), len(self.preds), allowed, identical, extra, self.explained_by(majority),
                 unit=unit, labels=allowed > self.cap)


def _train_on(run: CheckRun, session: Any, train: list[Any], losses: list[float], budget: int,
              judge: _Judge, prepared: list[Any]) -> list[float]:
    """Train the copy on in stretches of ``budget`` steps, up to OVERFIT_EXTEND× the budget, while its
    predictions stay collapsed and its loss keeps falling; a note says where it stopped."""
    cap = OVERFIT_EXTEND * budget
    while len(losses) < cap and learning(losses):
        offset = len(losses) % len(train)
        more, _, why = train_loop(session, train[offset:] + train[:offset], min(budget, cap - len(losses)), run)
        losses = losses + more
        if why == "nonfinite":
            raise run.fail(f"the loss became non-finite at step {len(losses)} while training on train_on")
        if why == "time":
            raise run.time_up(f"after {len(losses)} training steps on train_on (past the budget of {budget})")
        session.recalibrate(train[0])
        judge.read(session, prepared)
        if not np.isfinite(judge.flat).all() or not judge.collapsed():
            break
    held = not np.isfinite(judge.flat).all() or judge.collapsed()
    run.result.notes.append(
        f"the predictions had collapsed after the budget of {budget} training steps while the loss was still "
        f"falling, so training went on (up to {OVERFIT_EXTEND}× the budget, while the loss fell): "
        + (f"still collapsed at step {len(losses)}" + ("" if len(losses) >= cap else ", where the loss stopped falling")
           if held else f"they spread at step {len(losses)}; pass steps={len(losses)} to say so"))
    return losses


def _classes(run: CheckRun, top: tuple[int, float, int], n: int, cap: float, identical: bool, extra: list,
             explained: bool, unit: str = "distinct inputs", labels: bool = False) -> None:
    """Fails where the class predicted most often (``top``: :meth:`_Judge.top`) takes more than
    ``cap`` of the ``n`` predictions (``labels``: the cap is the training labels' own share)."""
    label, share, distinct = top
    run.figure("predicted_classes", distinct)
    run.figure("largest_class", label, "")
    pct = ".1%" if labels else ".0%"  # a share raised to the labels' is told to its tenth
    allowed = f"at most {cap:{pct}} allowed" + (", the training labels' own share" if labels else "")
    run.figure("largest_class_share", share, f"largest class share: {share:{pct}} (class {label}; {allowed})")
    run.figure("max_share", cap, "")
    if share > cap:
        evidence = ("every input gives the same output vector: nothing of the input reaches the head"
                    if identical else f"class {label} takes {share:.0%} of {n} {unit}")
        raise run.fail(f"{share:.0%} of the predictions are class {label}",
                       _ranked(evidence, extra, imbalance_first=explained))


def _relative_spread(flat: np.ndarray) -> float:
    """The largest output's spread across samples relative to its scale."""
    std = flat.std(axis=0)
    scale = np.abs(flat).mean(axis=0) + std + 1e-12
    return float((std / scale).max())


def _spread(run: CheckRun, flat: np.ndarray, identical: bool, extra: list) -> None:
    rel = _relative_spread(flat)
    run.figure("relative_spread", rel, f"relative spread: {fmt(rel)} (at least {fmt(REGRESSION_MIN_SPREAD)} needed)")
    run.figure("min_spread", REGRESSION_MIN_SPREAD, "")
    if rel < REGRESSION_MIN_SPREAD:
        evidence = ("every input gives the same output: nothing of the input reaches the head" if identical
                    else f"outputs vary by {fmt(rel)} of their scale across distinct inputs")
        raise run.fail(f"the outputs are constant across {len(flat)} distinct inputs", _ranked(evidence, extra))


def _ranked(evidence: str, extra: list, *, imbalance_first: bool = False) -> list[Evidence]:
    """Dead units explain a collapse, and so does a collapse onto the class most training labels
    have (``imbalance_first``); the collapse itself comes next, then the rest."""
    lead = {C.DEAD_UNITS, C.LABELS_IMBALANCED} if imbalance_first else {C.DEAD_UNITS}
    return [c for c in extra if c[0] in lead] + [(C.CLASS_COLLAPSE, evidence)] \
        + [c for c in extra if c[0] not in lead]


def _majority(labels: np.ndarray) -> tuple[int, float, float] | None:
    """The training labels' most frequent class, its share, and how many times the mean share of
    the other classes seen it holds (inf when it is the only one); None for labels that are not ids."""
    if labels.size == 0 or not np.issubdtype(labels.dtype, np.integer):
        return None
    values, counts = np.unique(labels, return_counts=True)
    top = int(np.argmax(counts))
    others = (labels.size - counts[top]) / (len(counts) - 1) if len(counts) > 1 else 0.0
    return int(values[top]), float(counts[top] / labels.size), float(counts[top] / others) if others else float("inf")


def _only_class(majority: tuple[int, float, float] | None) -> bool:
    """Every training label is one class: a constant prediction of it is the fit, and a saturating
    head (a sigmoid driven to 0) gives every input the same output without any layer stopping
    the input."""
    return majority is not None and majority[1] >= 1.0


def _imbalance(majority: tuple[int, float, float] | None) -> list[Evidence]:
    """Labels most of which are one class, by share and against the other classes: a 52/48 split
    is half the labels but no imbalance (the ratio's scale starts at 60/40)."""
    if majority is None or majority[1] < IMBALANCE_SHARE or majority[2] < IMBALANCE_RATIO:
        return []
    ratio = "" if not np.isfinite(majority[2]) else f", ×{majority[2]:.1f} the other classes' mean share"
    return [(C.LABELS_IMBALANCED, f"class {majority[0]} is {majority[1]:.0%} of the training labels{ratio}")]

