"""What the targets are: the one place that decides it, from the targets, the model's outputs and
the user's loss together (the loss is probed on candidate predictions; dtype alone decides
nothing). Every check that trains or scores asks :func:`decide`, records what it decided, and
judges progress against :attr:`Targets.floor`, the lowest value the loss reaches on the batch."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Callable, Optional

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck.causes import Evidence
from pytest_mlcheck.errors import usage
from pytest_mlcheck.report import fmt
from pytest_mlcheck.thresholds import (
    BEAT_CONSTANT, CLIPPED_MIN_ROWS, CONSTANT_AT_FLOOR, CLIPPED_MIN_SHARE, DENSE_MIN_RIGHT, EDGE_LIMIT_HAIRS, EDGE_LIMIT_RTOL,
    FLOOR_REFUTED, FLOOR_STILL, GROUPS_RTOL, HEAD_OUTSIDE_SHARE, IGNORED_MAX_ASKED, OVERLAP_MAX_SAMPLES, OVERLAP_MIN_DETERMINED,
    OVERFIT_MIN_DROP, OVERLAP_NEIGHBOURS, SOFTMAX_AGAIN_RTOL, SOFTMAX_INSIDE_MAX_CLASSES, STEP_LOGIT, STEP_NUDGE, SUM_ATOL,
    TRUNCATED_IDS_MAX_SHARE, UNIT_AXIS_IDS_RATIO, UNREAD_ROWS_MAX_ASKED, UNREAD_RTOL, VIEWED_LOGIT, VIEWED_MEMORY_RATIO,
    VIEWED_MIN_VALID, VIEWED_READ_RATIO,
    ZERO_AT_TARGETS,
)

if TYPE_CHECKING:
    from pytest_mlcheck.backends.base import Crossing

TASKS = ("classification", "binary", "multilabel", "regression")

# ``loss_at(outputs, targets=None)``: the user's loss for these outputs on the batch's targets (or
# on other targets of the same shape); NaN when it cannot say.
LossAt = Callable[..., float]

_SCALES = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 25.0)  # logit confidence
_SPREADS = (1e-7, 1e-4, 1e-3, 1e-2, 0.05, 0.1, 0.2, 0.3)  # probability mass off the target


@dataclasses.dataclass
class Targets:
    """What the checks know about the targets of one batch."""

    task: str  # one of TASKS
    encoding: str  # how they are written, for people: "class ids (N, 1)", "one-hot", ...
    ids: Optional[np.ndarray]  # per sample class (classification/binary) or (N, K) 0/1 (multilabel)
    width: int  # outputs per sample
    form: str  # how the loss reads the outputs: "logits", "probabilities" or "values"
    floor: float  # the lowest loss found on this batch (NaN when the loss cannot say)
    problems: list[Evidence]  # targets the loss or the head cannot take
    channel_axis: Optional[int] = None  # dense class ids (N, H, W): the outputs' class axis, ids (N, H, W)
    # multi-hot targets laid out over two or more axes (a binary mask (N, H, W[, 1])): judged per
    # position like dense class ids, a sample right at DENSE_MIN_RIGHT of its positions
    mask: bool = False
    # class ids the loss skips (ignore_index=-100, Keras's ignore_class), per sample or position like
    # ``ids`` (which hold 0 there): never demanded right; None where there are none. For a mask of
    # one-hot rows per position, per sample and output (a class whose positions the loss skips)
    ignored: Optional[np.ndarray] = None
    # value targets: the loss of the best constant prediction (each output the batch mean of its
    # target); NaN where not measured
    constant: float = float("nan")
    # per position of dense class ids, whether a causal model cannot get it right (prefix_conflicts):
    # never demanded, like ``ignored``; None where there are none
    undetermined: Optional[np.ndarray] = None
    # the floor a run went below (refute()): the reading of the targets it came from is not the
    # loss's, and ``floor`` is then unknown; NaN while no run has
    refuted: float = float("nan")
    # the loss stays put when every target is replaced by the first sample's: it never reads them (a
    # one-class objective handed labels), so no class is demanded and the run is judged on its loss
    unread: bool = False
    _read_at_floor: Optional[bool] = None  # whether the loss reads its targets, asked once a run reached the floor
    # class ids the loss reads only as groups (_groups_only): the outputs are embeddings, judged as values
    groups: bool = False
    # value targets: the loss of given outputs, and the predictions that gave ``floor`` (the targets) and
    # ``constant`` (their batch mean), asked again at the model's state later (a loss that reads the state
    # beside the outputs, a VAE's KL, moves both); None where not known
    loss_at: Optional[Callable[[np.ndarray], float]] = dataclasses.field(default=None, repr=False, compare=False)
    perfect: Optional[np.ndarray] = dataclasses.field(default=None, repr=False, compare=False)
    mean_prediction: Optional[np.ndarray] = dataclasses.field(default=None, repr=False, compare=False)
    # the floor as last found at the model's state where that had moved it from ``floor``; NaN while not
    floor_now: float = float("nan")
    # class probabilities other than 0/1 (label smoothing, a teacher's outputs): a confident correct
    # prediction scores ``floor`` under the loss, not what a one-hot row scores
    soft: bool = False
    # reads(rtol): whether the loss at the untrained outputs moves by more than rtol of itself with
    # every target replaced by the first sample's (None: no evidence); two loss evaluations, asked
    # only by refute() and the pairing probe
    reads: Optional[Callable[..., Optional[bool]]] = dataclasses.field(default=None, repr=False, compare=False)
    # shuffled(at, draws): the loss at the outputs ``at`` with this batch's targets, and with them
    # shuffled between samples by ``draws`` seeded permutations; None where that says nothing
    shuffled: Optional[Callable[..., Optional[tuple[float, np.ndarray]]]] = dataclasses.field(
        default=None, repr=False, compare=False)
    # neighbours(): per batch of inputs, computed once (an N² distance matrix) however many runs ask
    _agree: list[tuple[np.ndarray, Optional[np.ndarray]]] = dataclasses.field(
        default_factory=list, repr=False, compare=False)
    # skips(rows): whether the loss stays put when the outputs of the samples ``rows`` (indices) move
    # from uninformative to confident — it never reads them; None where not asked (see fitted())
    skips: Optional[Callable[[np.ndarray], bool]] = dataclasses.field(default=None, repr=False, compare=False)
    # per sample, found never read by the loss (``skips``), found read; and how many times it was asked
    unread_rows: Optional[np.ndarray] = dataclasses.field(default=None, repr=False, compare=False)
    _read_rows: Optional[np.ndarray] = dataclasses.field(default=None, repr=False, compare=False)
    _rows_asked: int = dataclasses.field(default=0, repr=False, compare=False)

    def exact(self, shape: tuple) -> Optional[np.ndarray]:
        """A perfect prediction as probabilities of exactly 0 and 1, in the outputs' ``shape`` (float32),
        where the targets are classes or labels (positions the loss skips get class 0); None otherwise.
        A saturating softmax or sigmoid reaches these values in float32."""
        if self.ids is None or self.task not in ("classification", "binary", "multilabel") or self.soft:
            return None
        ids = np.asarray(self.ids)
        if self.task == "multilabel" or (self.task == "binary" and self.width == 1):
            hot = ids.astype(np.float32)
        else:
            ids = np.where(ids < 0, 0, ids).reshape(-1)
            if ids.max(initial=0) >= self.width:
                return None
            hot = _onehot(ids, self.width)
            if self.channel_axis is not None:
                return in_layout(hot, shape, self.channel_axis) if hot.size == int(np.prod(shape)) else None
        return np.ascontiguousarray(hot.reshape(shape), dtype=np.float32) if hot.size == int(np.prod(shape)) else None

    def at_state(self) -> tuple[float, float]:
        """The loss of the perfect and of the best constant prediction at the model's state now (run
        a forward pass first: a loss that reads the state, a VAE's KL, reads the last one); NaN where
        not known."""
        return self._perfect_now(), self._mean_now()

    def _perfect_now(self) -> float:
        return self.loss_at(self.perfect) if self.loss_at is not None and self.perfect is not None else float("nan")

    def _mean_now(self) -> float:
        known = self.loss_at is not None and self.mean_prediction is not None
        return self.loss_at(self.mean_prediction) if known else float("nan")

    def output_part_fitted(self, start: float, outputs: np.ndarray, drop: float) -> bool:
        """Whether the part of the loss the outputs set came ``drop`` of its way, and beat the batch
        mean, where the loss at a perfect prediction has moved with the model's state since the
        floor was read (:meth:`at_state`, after the forward pass that gave ``outputs``): a term the
        outputs do not set (a VAE's KL summed beside a pixel-averaged reconstruction) falls on its
        own, and the run's loss then passes a floor that was never the least the outputs can reach.
        Each part is the loss above the perfect prediction's at the same state, so an additive term
        of the state cancels. Where the floor has not moved (a loss of the outputs alone), the plain
        criterion stands."""
        f = self.floor
        if self.loss_at is None or not (np.isfinite(f) and np.isfinite(start)) or start <= f:
            return True
        moved = self._perfect_now()
        if not np.isfinite(moved) or abs(moved - f) <= FLOOR_STILL * (start - f) \
                or self._perfect_now() != moved:  # a loss that draws (sampled negatives) moves by itself
            return True
        self.floor_now = moved
        now = self.loss_at(np.asarray(outputs, dtype=np.float32))
        if not np.isfinite(now) or now - moved > (1.0 - drop) * (start - f):
            return False
        mean = self._mean_now()
        return not np.isfinite(mean) or mean <= moved or bool(now <= mean - BEAT_CONSTANT * (mean - moved))

    def beats_constant(self, loss: float) -> bool:
        """Whether ``loss`` lies below the best constant prediction's, where that lies above the
        floor: a fit of value targets that has not beaten their batch mean has memorised nothing,
        however far it came from an init whose outputs were far off (a loss of 10²⁴ falling to
        10²²)."""
        c, f = self.constant, self.floor
        if not (np.isfinite(c) and np.isfinite(f)) or c <= f + 1e-6 * (abs(f) + 1e-6):
            return True
        return bool(loss <= c - BEAT_CONSTANT * (c - f))

    @property
    def classes(self) -> bool:
        return self.task in ("classification", "binary", "multilabel")

    @property
    def skips_positions(self) -> bool:
        """Whether these are per-position class ids some of whose positions the loss skips (a
        tagger's padding): where outputs alike at every read position mean the model ignores its
        inputs there."""
        return self.ignored is not None and self.channel_axis is not None

    @property
    def headline(self) -> str:
        """What a failure on :attr:`problems` says first: the headline of the first problem's kind
        (:data:`HEADLINES`, keyed by the opening words each kind's evidence is written with)."""
        if self.problems and self.problems[0][0] == C.LOSS_NOT_FINITE:
            return "the loss is not finite at the predictions training moves toward"
        if self.problems and self.problems[0][0] in (C.INPUTS_NOT_FINITE, C.OUTPUTS_NOT_FINITE):
            return "the model's outputs are not finite before training"
        first = self.problems[0][1] if self.problems else ""
        return next((line for opening, line in HEADLINES if first.startswith(opening)),
                    "the targets cannot be learned with this head and loss")

    def neighbours(self, x: Optional[np.ndarray]) -> Optional[np.ndarray]:
        """:func:`neighbours_agreeing` for these targets' batch, given its inputs ``x``, computed
        once per Targets (the check's run and its learning-rate retry read the same batch)."""
        if x is None:
            return None
        for seen, agree in self._agree:
            if seen.shape == x.shape and np.array_equal(seen, x):
                return agree
        agree = neighbours_agreeing(x, self)
        self._agree.append((x, agree))
        return agree

    def refute(self, start: float, now: float) -> bool:
        """Whether a run's loss, from ``start`` to ``now``, has refuted the floor (FLOOR_REFUTED of the
        larger of start − floor and |floor| below it): then this reading of the targets is not the
        loss's — neither its floor nor its classes say what fitting means — and the run is judged on
        its loss alone (``floor`` unknown from here on, the refuted value kept in ``refuted``). A
        per-position reading assumes output t meets target t, which a loss may shift; one row of
        class scores per sample is refuted only by a loss that does not read its targets at all
        (``reads``, asked then: a one-class objective handed labels) — one that reads them and goes
        below the floor rewards something else than the classes (MSE on class ids), which the
        probes of a failure name."""
        if np.isfinite(self.refuted) or self.unread:
            return True
        f = self.floor
        # the margin scales with the way down, or with the floor itself where that lies at or above
        # the start (a perfect prediction no better than the untrained model's)
        if not (np.isfinite(f) and np.isfinite(start) and np.isfinite(now)):
            return False
        way = max(start - f, abs(f))
        if now >= f - FLOOR_REFUTED * way:
            # reached to rounding, by a loss that does not read its targets (a ranking loss over each
            # group's rows, handed dummy 0/1 labels): no class is demanded either; any other run at
            # its floor is judged on its classes as before
            at = now <= f + UNREAD_RTOL * max(way, 1e-12)
            if not (at and self.channel_axis is None and self.classes and self.reads is not None):
                return False
            if self._read_at_floor is None:  # asked once: a run may sit at its floor for many steps
                # at the untrained outputs and at a seeded draw (a zero head reads no targets at 0)
                self._read_at_floor = self.reads(UNREAD_RTOL) is not False \
                    or self.reads(UNREAD_RTOL, drawn=True) is not False
            if self._read_at_floor:
                return False
            self.unread = True
            return True
        if self.channel_axis is None:
            if not self.classes or self.reads is None or self.reads(UNREAD_RTOL) is not False:
                return False
            self.unread = True
        self.refuted, self.floor, self.constant = f, float("nan"), float("nan")
        return True

    @property
    def moved_line(self) -> Optional[str]:
        """The note a check adds when the model's state moved the floor (:meth:`output_part_fitted`)."""
        if not np.isfinite(self.floor_now):
            return None
        return (f"the loss at outputs equal to the targets moved with the model's state ({fmt(self.floor)} at init, "
                f"{fmt(self.floor_now)} when last asked): the loss reads more than the outputs (a KL of a latent, "
                "other networks, a penalty inside it), so the fit is judged on the part the outputs set, the loss "
                "above the targets' at the same state")

    @property
    def refuted_line(self) -> Optional[str]:
        """The note a check adds when a run refuted the floor."""
        if self.unread:
            return ("the loss stays put when every target is replaced by the first sample's: it does not read its "
                    "targets, so no class is demanded and the run is judged on its loss alone, toward 0")
        if not np.isfinite(self.refuted):
            return None
        return (f"the loss went far below {fmt(self.refuted)}, the loss of a perfect prediction as this check "
                f"reads the targets ({self.encoding}, {self.task}): the loss pairs outputs and targets "
                "otherwise (a shift inside the loss, a loss of its own), so the run is judged on its loss alone, "
                "toward 0; pass task= if the reading is wrong")

    def record(self, run: object) -> None:
        """State the decision in the result's figures."""
        run.figure("targets", self.encoding, f"targets: {self.encoding} ({self.task}, "  # type: ignore[attr-defined]
                   f"{self.width} output(s) read as {self.form})")
        run.figure("task", self.task, "")  # type: ignore[attr-defined]

    def fitted(self, out: np.ndarray) -> bool:
        """Whether the outputs fit the batch: every sample right, or for dense class ids (almost)
        every position of the batch. Counted per sample, one wrong position of a 16-token sequence
        would fail a decoder that has 99 % of the batch's positions right."""
        if self.channel_axis is not None or self.mask:
            return self.right_share(out) >= DENSE_MIN_RIGHT
        right = self.right(out)
        return bool(right.all()) or self.never_read(~right)

    def never_read(self, wrong: np.ndarray) -> bool:
        """Whether every sample of ``wrong`` (per sample) is one whose outputs the loss never reads:
        a loss over a mask of the samples it trains on (a graph network's training nodes) cannot make
        the others right, so they are not demanded. The samples not yet cleared are asked all at once,
        then by halves where some are read (UNREAD_ROWS_MAX_ASKED loss evaluations per batch in all);
        a loss found to read fewer than two samples is left to the probe of a loss reading one sample
        alone (diagnosis.unread_samples), which fails it."""
        if self.skips is None:
            return False
        n = len(wrong)
        if self.unread_rows is None:
            self.unread_rows, self._read_rows = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        assert self._read_rows is not None
        if (wrong & self._read_rows).any():
            return False
        pending = [np.flatnonzero(wrong & ~self.unread_rows)]
        while pending and pending[0].size and self._rows_asked < UNREAD_ROWS_MAX_ASKED:
            rows = pending.pop(0)
            self._rows_asked += 1
            if self.skips(rows):
                self.unread_rows[rows] = True
            elif len(rows) > 1:
                pending += [rows[: len(rows) // 2], rows[len(rows) // 2:]]
            else:
                self._read_rows[rows] = True
                return False
        return bool((self.unread_rows | ~wrong).all()) and int(self.unread_rows.sum()) <= n - 2

    def right_share(self, out: np.ndarray) -> float:
        """The share of what :meth:`fitted` counts that the outputs get right: positions for dense
        class ids and masks (a sample of 4,096 pixels gains them long before it counts as right),
        samples otherwise."""
        if self.channel_axis is not None:
            hits = np.moveaxis(out, self.channel_axis, -1).argmax(-1) == self.ids
            skipped = self.unjudged
            counted = hits if skipped is None else hits[~skipped]
        elif self.mask:
            counted = self._position_hits(out)
            if self.ignored is not None:  # outputs of positions the loss skips
                counted = counted[~self.ignored.reshape(counted.shape)]
        else:
            counted = self.right(out)
        return float(counted.mean()) if counted.size else 1.0

    def right(self, out: np.ndarray) -> np.ndarray:
        """Per sample, whether the outputs give the target's class(es)."""
        if self.channel_axis is not None:  # (almost) every position of the sample right
            hits = (np.moveaxis(out, self.channel_axis, -1).argmax(-1) == self.ids).reshape(len(out), -1)
            skipped = self.unjudged
            if skipped is None:
                return hits.mean(axis=1) >= DENSE_MIN_RIGHT
            counted = (~skipped).reshape(len(out), -1)
            wrong = (counted & ~hits).sum(axis=1)
            return wrong <= (1 - DENSE_MIN_RIGHT) * counted.sum(axis=1)
        flat = out.reshape(len(out), -1)
        if self.task != "multilabel" and flat.shape[1] >= 2:
            hit = flat.argmax(axis=1) == self.ids
            return hit if self.ignored is None else hit | self.ignored
        hits = self._position_hits(out)
        if not self.mask:
            return hits.all(axis=1)
        if self.ignored is None:
            return hits.mean(axis=1) >= DENSE_MIN_RIGHT
        counted = ~self.ignored.reshape(hits.shape)  # outputs of positions the loss skips are not judged
        return (counted & ~hits).sum(axis=1) <= (1 - DENSE_MIN_RIGHT) * counted.sum(axis=1)

    @property
    def unjudged(self) -> Optional[np.ndarray]:
        """Positions never demanded right: ids the loss skips, and ids no causal model can tell."""
        if self.undetermined is None:
            return self.ignored
        return self.undetermined if self.ignored is None else self.ignored | self.undetermined

    def _position_hits(self, out: np.ndarray) -> np.ndarray:
        """Per sample and output, whether a multi-hot or binary output is on the target's side of
        the head's threshold (0.5 for probabilities, 0 for logits)."""
        flat = out.reshape(len(out), -1)
        cut = 0.5 if self.form == "probabilities" else 0.0
        return (flat > cut) == self.ids.reshape(len(flat), -1).astype(bool)

    def predicted(self, out: np.ndarray) -> np.ndarray:
        """The classes the outputs give (binary: 0/1 by the head's threshold; per position for dense ids)."""
        if self.channel_axis is not None:
            return np.moveaxis(out, self.channel_axis, -1).argmax(-1)
        flat = out.reshape(len(out), -1)
        if flat.shape[1] >= 2:
            return flat.argmax(axis=1)
        return (flat[:, 0] > (0.5 if self.form == "probabilities" else 0.0)).astype(np.int64)


def outvoted(x: Optional[np.ndarray], targets: Targets) -> Optional[np.ndarray]:
    """Per sample, whether most of its OVERLAP_NEIGHBOURS nearest inputs in the batch (each feature
    standardised) carry another class: where the batch's classes overlap, a model that fits a smooth
    boundary gets such a sample wrong and memorises it last. None where neighbourhoods say nothing:
    not one class per sample, inputs that are not finite floats, a batch too small or too large, or
    one where fewer than OVERLAP_MIN_DETERMINED of the samples agree with their neighbours."""
    agree = neighbours_agreeing(x, targets)
    return None if agree is None else outvoted_among(agree)


def outvoted_among(agree: np.ndarray) -> np.ndarray:
    """Per sample, whether fewer than half its OVERLAP_NEIGHBOURS nearest inputs share its class,
    given how many do (:func:`neighbours_agreeing`)."""
    return 2 * agree < OVERLAP_NEIGHBOURS


def neighbours_agreeing(x: Optional[np.ndarray], targets: Targets) -> Optional[np.ndarray]:
    """Per sample, how many of its OVERLAP_NEIGHBOURS nearest inputs share its class; None where
    neighbourhoods say nothing (see :func:`outvoted`)."""
    ids = targets.ids
    if targets.task not in ("classification", "binary") or targets.channel_axis is not None or ids is None \
            or x is None or not np.issubdtype(x.dtype, np.floating):
        return None
    n = len(x)
    if ids.size != n or not 2 * OVERLAP_NEIGHBOURS < n <= OVERLAP_MAX_SAMPLES:
        return None
    flat = x.reshape(n, -1).astype(np.float64)
    if not np.isfinite(flat).all():
        return None
    spread = flat.std(axis=0)
    flat = (flat - flat.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    sq = (flat ** 2).sum(axis=1)
    dist = sq[:, None] + sq[None, :] - 2 * flat @ flat.T
    np.fill_diagonal(dist, np.inf)
    near = np.argsort(dist, axis=1, kind="stable")[:, :OVERLAP_NEIGHBOURS]
    labels = ids.reshape(n)
    agree = (labels[near] == labels[:, None]).sum(axis=1)
    if (~outvoted_among(agree)).mean() < OVERLAP_MIN_DETERMINED:
        return None
    return agree


def check_task(task: object) -> Optional[str]:
    if task is not None and task not in TASKS:
        raise usage("task", f"one of {', '.join(map(repr, TASKS))} or None (inferred)", task)
    return task  # type: ignore[return-value]


def _finite(value: float) -> bool:
    return bool(np.isfinite(value))


def _in_unit(a: np.ndarray) -> bool:
    return bool(np.isfinite(a).all() and a.min() >= 0 and a.max() <= 1)


def output_form(out: np.ndarray) -> str:
    """What the output values can be: probabilities only when every value lies in [0, 1]."""
    return "probabilities" if _in_unit(out) else "logits"


def log_probability_rows(out2: np.ndarray) -> bool:
    """Whether each row is log-probabilities (a LogSoftmax head): all ≤ 0, each row's logsumexp 0."""
    if out2.ndim != 2 or out2.shape[1] < 2 or not np.isfinite(out2).all() or out2.max() > 1e-6:
        return False
    top = out2.max(axis=1, keepdims=True)
    lse = top[:, 0] + np.log(np.exp(out2 - top).sum(axis=1))
    return bool(np.allclose(lse, 0.0, atol=1e-3))


def _class_candidates(onehot: np.ndarray, form: str, shape: tuple, log_rows: bool = False) -> list[np.ndarray]:
    """Confident, correct predictions of the classes in ``onehot`` (N, K), in the model's form
    (``log_rows``: a log-softmax head, whose outputs a logits loss such as NLLLoss cannot push past
    log 1 = 0: its floor is reached at log-probabilities, not at unbounded logits)."""
    out: list[np.ndarray] = []
    k = onehot.shape[1]
    if form == "logits" and log_rows and k >= 2 and np.allclose(onehot.sum(axis=1), 1):
        out += [np.log((1 - d) * onehot + d / k) for d in _SPREADS]
    elif form == "logits":
        out += [s * (2 * onehot - 1) for s in _SCALES]
    else:
        single = k >= 2 and np.allclose(onehot.sum(axis=1), 1)
        for d in _SPREADS:
            out.append((1 - d) * onehot + (d / k if single else d * (1 - onehot)))
    return [np.ascontiguousarray(c.reshape(shape), dtype=np.float32) for c in out]


def time_first(out: np.ndarray, n: int) -> bool:
    """Whether outputs hold the batch's ``n`` samples on their second axis and something else on the
    first: a recurrent layer's time-first layout (T, N, C), not one row per sample."""
    return out.ndim >= 2 and out.shape[0] != n and out.shape[1] == n


def _soft_candidates(y2: np.ndarray, form: str, shape: tuple) -> list[np.ndarray]:
    """The targets themselves as the prediction (soft labels, regression)."""
    width = int(np.prod(shape[1:])) if len(shape) > 1 else 1
    if len(y2) * width != int(np.prod(shape)):  # rows that are not the samples: no such prediction
        return []
    if form == "probabilities":
        cands = [y2]
    else:
        cands = [y2]
        if _in_unit(y2):
            p = np.clip(y2, 1e-6, 1 - 1e-6)
            rows = y2.shape[1] >= 2 and np.allclose(y2.sum(axis=1), 1, atol=1e-3)
            cands.append(np.log(p) if rows else np.log(p) - np.log1p(-p))
    if y2.shape[1] not in (1, width):
        return []
    return [np.ascontiguousarray(np.broadcast_to(c, (len(c), width)).reshape(shape), dtype=np.float32)
            for c in cands]


def _copied_into_every_output(y2: np.ndarray, loss_at: LossAt, shape: tuple, form: str) -> bool:
    """A float 0/1 target per sample against a head of more than four outputs (a patch
    discriminator's real/fake label, ``valid = torch.ones(...)``, against its 84 patch scores) that the
    loss scores best copied into every output: a value each output is to match, not a class id (read
    as classes, 2 of 84 would be seen). A cross-entropy prefers a confident class to its id copied
    everywhere. Integer targets are class ids whatever the loss (the caller asks only of floats), and
    so are ids beyond 0/1: an MSE of 0..2 ids against ten logits is a regression loss on class ids
    (loss_mismatch)."""
    n, width = y2.shape[0], int(np.prod(shape[1:]))
    if width <= 4 or not np.isin(y2, (0.0, 1.0)).all():
        return False
    copied = loss_at(np.ascontiguousarray(np.broadcast_to(y2, (n, width)).reshape(shape), dtype=np.float32))
    classes = _min_loss(loss_at, _class_candidates(_onehot(y2[:, 0].astype(np.int64), width), form, shape))
    return _finite(copied) and (not _finite(classes) or copied < classes)


def _limit_at_targets(loss_at: LossAt, y2: np.ndarray, shape: tuple) -> float:
    """The loss as probabilities approach value targets in [0, 1] that hold exact 0s or 1s, where its
    value at the targets themselves is not finite: a hand-written cross-entropy gives 0 · log 0 = NaN
    there, yet tends to the targets' entropy (grey pixels' floor) a hair inside. The limit counts only
    where it exists: the loss at EDGE_LIMIT_HAIRS from the edges agrees within EDGE_LIMIT_RTOL (a log of
    0 weighted by a nonzero target grows without bound instead). NaN otherwise."""
    if not _in_unit(y2) or not ((y2 == 0) | (y2 == 1)).any() or y2.shape[1] != int(np.prod(shape[1:])):
        return float("nan")
    near, nearer = (loss_at(np.ascontiguousarray(np.clip(y2, h, 1 - h).reshape(shape), dtype=np.float32))
                    for h in EDGE_LIMIT_HAIRS)
    if not (_finite(near) and _finite(nearer)) or abs(near - nearer) > EDGE_LIMIT_RTOL * max(abs(nearer), 1e-12):
        return float("nan")
    return float(nearer)


def _min_loss(loss_at: LossAt, candidates: list[np.ndarray]) -> float:
    values = [loss_at(c) for c in candidates]
    finite = [v for v in values if _finite(v)]
    return float(min(finite)) if finite else float("nan")


def _onehot(ids: np.ndarray, width: int) -> np.ndarray:
    return np.eye(width, dtype=np.float32)[ids]


def _unit_axis_dropped(y: np.ndarray, out: np.ndarray, loss_at: LossAt) -> np.ndarray:
    """Masks of class ids with a trailing unit axis, (N, H, W, 1) against outputs (N, H, W, C) — how
    Keras image pipelines keep them, and what its sparse cross-entropy takes — as (N, H, W), where
    the loss reads them as ids: outputs that pick each position's id (its whole part) score well
    below outputs that pick the next id. Values in that layout (counts under a quantile or Gaussian
    head of C outputs) stay as they are."""
    if not (y.ndim >= 3 and y.ndim == out.ndim and y.shape[-1] == 1 and out.shape[-1] >= 2
            and tuple(y.shape[:-1]) == tuple(out.shape[:-1])):
        return y
    c = out.shape[-1]
    ids = np.trunc(np.asarray(y[..., 0], dtype=np.float64))
    if not np.isfinite(ids).all() or ids.min() < 0 or ids.max() >= c:
        return y
    with np.errstate(all="ignore"):
        right = loss_at(_onehot(ids.astype(np.int64), c))
        wrong = loss_at(_onehot(((ids + 1) % c).astype(np.int64), c))
    if _finite(right) and _finite(wrong) and right < UNIT_AXIS_IDS_RATIO * wrong:
        return y[..., 0]
    return y


def _viewed_channel_first(y: np.ndarray, out: np.ndarray, loss_at: LossAt) -> Optional[tuple[np.ndarray, Evidence]]:
    """Class ids per position, (N, *S) or (N, 1, *S), beside channel-first scores (N, C, *S), under a
    loss that pairs each position's id with C consecutive values of the scores' memory instead of
    that position's C class scores: the ``view(-1, C)`` of an (N, C, H, W) map that did not move the
    class axis last first (the counts agree, so nothing fails). Told by two readings at once, each
    against the same ids shuffled among a sample's positions: a one-hot of the ids at their positions
    scores no better than the shuffle, and the same one-hot written row after row into the scores'
    memory scores far better. (The ids, squeezed to (N, *S); the evidence), or None."""
    if out.ndim < 3 or y.ndim < 2:
        return None
    unit = y.ndim == out.ndim and y.shape[1] == 1
    positions = tuple(y.shape[2:] if unit else y.shape[1:])
    # where the positions also fit the scores with the class axis last ((N, T, T): a matching network's
    # scores), memory order is that layout's own reading, not a slip
    if out.shape[1] < 2 or len(y) != out.shape[0] or not y.size or positions != tuple(out.shape[2:]) \
            or positions == tuple(out.shape[1:-1]):
        return None
    yf = np.asarray(y, dtype=np.float64)
    if not (np.isfinite(yf).all() and np.all(yf == np.round(yf))):
        return None
    c = out.shape[1]
    ids = (yf[:, 0] if unit else yf).astype(np.int64)
    valid = (ids >= 0) & (ids < c)
    if valid.mean() < VIEWED_MIN_VALID or len(np.unique(ids[valid])) < 2:
        return None
    hot = _onehot(np.where(valid, ids, 0), c) * VIEWED_LOGIT  # (N, *S, C)
    at_positions = np.ascontiguousarray(np.moveaxis(hot, -1, 1))
    in_memory = np.ascontiguousarray(hot.reshape(out.shape))  # row q of its (N*S, C) view: position q's one-hot
    rng = np.random.default_rng(0)
    shuffled = yf.copy()
    for sample, keep in zip(shuffled, valid):  # each sample's own ids, moved among its positions
        flat, where = sample.reshape(-1), np.flatnonzero(keep.reshape(-1))
        flat[where] = flat[rng.permutation(where)]
    shuffled = shuffled.astype(np.asarray(y).dtype)
    with np.errstate(all="ignore"):
        pos, pos_shuffled = loss_at(at_positions), loss_at(at_positions, shuffled)
        mem, mem_shuffled = loss_at(in_memory), loss_at(in_memory, shuffled)
    if not all(_finite(v) and v >= 0 for v in (pos, pos_shuffled, mem, mem_shuffled)):
        return None
    # memory order must score near the floor its shuffle is far from: a batch-first CTC loss whose label
    # length equals the classes reads a one-hot in memory order as a passable alignment (0.18-0.19× its shuffle)
    if not (pos >= VIEWED_READ_RATIO * pos_shuffled and mem < VIEWED_MEMORY_RATIO * mem_shuffled):
        return None
    shape = "(N, C, H, W)" if out.ndim == 4 else "(N, C, ...)"
    return ids, (C.LOSS_MISMATCH,
                 f"the loss pairs each position's class id with {c} consecutive values of the {shape} scores' "
                 f"memory, not with that position's {c} class scores: a one-hot of the ids written row after row "
                 f"into the memory scores {fmt(mem)} against {fmt(mem_shuffled)} with the ids shuffled among each "
                 f"sample's positions, and the same one-hot laid out along the class axis {fmt(pos)} against "
                 f"{fmt(pos_shuffled)}: a view / reshape(-1, {c}) of channel-first scores that did not move the class "
                 f"axis last (movedim(1, -1) before the view, or pass the {shape} scores whole to "
                 "CrossEntropyLoss with ids of the positions' shape)")


def _dense_axis(y: np.ndarray, out: np.ndarray) -> Optional[int]:
    """The class axis of outputs that score each position of whole-number targets (N, H, W, ...):
    (N, C, H, W) as torch lays them out, or (N, H, W, C) as Keras does; None otherwise."""
    if y.ndim < 2 or out.ndim != y.ndim + 1 or not y.size:
        return None
    yf = np.asarray(y, dtype=np.float64)
    if not (np.isfinite(yf).all() and np.all(yf == np.round(yf))):
        return None
    if tuple(out.shape[:1] + out.shape[2:]) == tuple(y.shape) and out.shape[1] >= 2:
        return 1
    if tuple(out.shape[:-1]) == tuple(y.shape) and out.shape[-1] >= 2:
        return out.ndim - 1
    return None


def _truncated_ids(y: np.ndarray, out: np.ndarray, loss_at: LossAt,
                   given: tuple) -> Optional[tuple[np.ndarray, int, Evidence]]:
    """Float targets per position, most of them whole numbers, some not, that the loss reads as class
    ids cut to whole numbers (its value on the batch is its value on the targets truncated: a sparse
    cross-entropy casts them): (the ids it reads, the class axis, the evidence). Masks resized or
    augmented with interpolation carry such values along every class boundary, where the cut gives
    the wrong class. None for anything else (a loss on the values would move). ``given``: the
    targets' shape as the batch holds them (the loss is asked in it)."""
    yf = np.asarray(y, dtype=np.float64)
    if not np.issubdtype(np.asarray(y).dtype, np.floating) or not yf.size or not np.isfinite(yf).all() \
            or yf.min() < 0:
        return None
    fractional = yf != np.round(yf)
    cut = np.trunc(yf)
    axis = _dense_axis(cut, out) if 0 < fractional.mean() <= TRUNCATED_IDS_MAX_SHARE else None
    if axis is None or cut.max() >= out.shape[axis]:
        return None
    with np.errstate(all="ignore"):
        as_given, as_cut = loss_at(out), loss_at(out, cut.astype(np.asarray(y).dtype).reshape(given))
    if not (_finite(as_given) and _finite(as_cut)) or abs(as_given - as_cut) > 1e-6 * max(abs(as_given), 1e-12):
        return None
    return cut.astype(np.int64), axis, (
        C.LABELS_INVALID, f"{fractional.mean():.2%} of the class-id targets ({int(fractional.sum())} of {yf.size} "
                          f"positions) are not whole numbers, e.g. {fmt(float(yf[fractional][0]))}, and the loss reads "
                          f"them cut to whole ids (its value is the same, {fmt(as_given)}, on the targets truncated): "
                          "masks resized or augmented with interpolation (bilinear) put values between classes along "
                          "every boundary, which the cut turns into the wrong class; resize masks with "
                          "nearest-neighbour (tf.image.resize(..., method='nearest'), InterpolationMode.NEAREST)")


def _rows_shifted(out: np.ndarray, axis: int) -> np.ndarray:
    """``out`` with every row along ``axis`` shifted by a constant of its own (1..7, rows differing),
    as float32: a loss that softmaxes along ``axis`` reads the same from it."""
    shape = list(out.shape)
    shape[axis] = 1
    shift = 1.0 + (np.arange(int(np.prod(shape))) % 7).reshape(shape)
    return np.ascontiguousarray(out + shift, dtype=np.float32)


def _shift_ignored(out: np.ndarray, axis: int, loss_at: LossAt, base: float) -> bool:
    """Whether the loss, ``base`` at ``out``, stays where it was when every position is shifted along
    ``axis`` by a constant of its own: it takes a softmax of ``out`` along that axis."""
    moved = loss_at(_rows_shifted(out, axis))
    return _finite(base) and _finite(moved) and abs(moved - base) <= 1e-4 * max(1.0, abs(base))


def _softmaxed_along(out: np.ndarray, axis: int, loss_at: LossAt, base: float) -> bool:
    """Whether the loss (``base`` at ``out``) takes a softmax of the logits ``out`` along ``axis``
    (:func:`_shift_ignored`). Probabilities of a softmax head are not asked: their multilabel reading
    (each on its side of 0.5) is what a categorical loss trains them to, and a soft Dice on them is
    read there (ModelsGenesis)."""
    if not np.isfinite(out).all() or (out.min() >= 0 and np.allclose(out.sum(axis=axis), 1.0, atol=SUM_ATOL)):
        return False
    return _shift_ignored(out, axis, loss_at, base)


def _one_hot_per_position(y: np.ndarray, out: np.ndarray, loss_at: LossAt) -> Optional[tuple[np.ndarray, int]]:
    """One-hot rows per position — (N, T, C) next-token targets of a text generator, WaveNet's one-hot
    samples, (N, H, W, C) or (N, C, H, W) masks — beside logits of the same shape, under a loss that
    softmaxes them along that axis (:func:`_softmaxed_along`): the class ids per position (argmax; -1 at
    rows of all 0, where the loss must stay put when the outputs move: a shifted target's empty last
    step) and the class axis. A loss that scores each output on its own (a sigmoid per channel) keeps
    the multilabel reading, which demands each output on its side of the threshold; a softmax only
    ranks the target's score first."""
    if y.ndim < 3 or tuple(y.shape) != tuple(out.shape) or not y.size:
        return None
    yf = np.asarray(y, dtype=np.float64)
    if not np.isin(yf, (0.0, 1.0)).all():
        return None
    base = loss_at(np.ascontiguousarray(out, dtype=np.float32))
    sums = {axis: yf.sum(axis=axis) for axis in (1, y.ndim - 1) if y.shape[axis] >= 2}
    # where both axes qualify, axis 1 comes first, as _square_class_axis picks when the loss ignores both
    axis = next((a for a, total in sums.items() if np.isin(total, (0.0, 1.0)).all() and total.any()
                 and _softmaxed_along(out, a, loss_at, base)), None)
    if axis is None:
        return None
    hot = sums[axis] > 0
    if not hot.all():  # rows of all 0: the loss must skip them, or they are no class at all
        noise = np.random.default_rng(0).normal(0.0, 3.0, out.shape) * np.expand_dims(~hot, axis)
        moved = loss_at(np.ascontiguousarray(out + noise, dtype=np.float32))
        if not (_finite(base) and _finite(moved) and abs(moved - base) <= 1e-6 * max(1.0, abs(base))):
            return None
    return np.where(hot, yf.argmax(axis=axis), -1).astype(np.int64), axis


def _square_class_axis(out: np.ndarray, loss_at: LossAt, ids: Optional[np.ndarray] = None) -> int:
    """Of outputs whose class axis could be axis 1 or the last (N, T, T) — a matching network's
    node-to-node scores for T node ids —, the axis the loss takes its softmax over: the one along
    which a shift of every position by a constant of its own leaves the loss where it was. Where
    the loss tells neither (an NLLLoss, probabilities, a loss of its own): the axis along which the
    loss scores log-probabilities that put each target's class first lower (:func:`_placed_axis`),
    else the one the head itself normalised — its outputs (log-)probabilities along one of the two
    only; else axis 1 (torch's layout)."""
    base = loss_at(np.ascontiguousarray(out, dtype=np.float32))
    last = out.ndim - 1
    ignored = [_shift_ignored(out, axis, loss_at, base) for axis in (1, last)] if _finite(base) else []
    if ignored == [False, True]:
        return last
    if ignored == [True, False]:
        return 1
    placed = None if ids is None else _placed_axis(out.shape, loss_at, ids)
    if placed is not None:
        return placed
    normalised = [axis for axis in (1, last) if _normalised_along(out, axis)]
    return normalised[0] if len(normalised) == 1 else 1


def _placed_axis(shape: tuple, loss_at: LossAt, ids: np.ndarray) -> int | None:
    """Axis 1 or the last of (N, T, T) scores: the one along which log-probabilities that give each
    position's target class 1 (log 0, the others log −5) score lower under the loss than the same
    placed along the other axis; None where the two placements are the same array (ids that are
    each position's own index, a matching network's identity) or score alike."""
    ids = np.asarray(ids)
    if ids.ndim != 2 or tuple(ids.shape) != tuple(shape[:2]) or shape[1] != shape[2] \
            or not np.issubdtype(ids.dtype, np.integer) and not np.all(ids == np.round(ids)):
        return None
    ids = ids.astype(np.int64)
    if ids.min() < 0 or ids.max() >= shape[1]:
        return None
    n, t = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    along_1, along_last = np.full(shape, -5.0, dtype=np.float32), np.full(shape, -5.0, dtype=np.float32)
    along_1[n, ids, t] = 0.0
    along_last[n, t, ids] = 0.0
    if np.array_equal(along_1, along_last):
        return None
    first, other = loss_at(along_1), loss_at(along_last)
    if not (_finite(first) and _finite(other)) or abs(first - other) <= 1e-6 * max(abs(first), abs(other), 1.0):
        return None
    return 1 if first < other else len(shape) - 1


def _normalised_along(out: np.ndarray, axis: int) -> bool:
    """Whether every row of ``out`` along ``axis`` is probabilities or log-probabilities."""
    rows = prediction_rows(out, axis)
    return log_probability_rows(rows) or (bool(np.isfinite(rows).all()) and rows.min() >= 0
                                          and bool(np.allclose(rows.sum(axis=1), 1.0, atol=SUM_ATOL)))


def head_class_axis(shape: tuple, num_classes: Optional[int], out: Optional[np.ndarray] = None) -> Optional[int]:
    """The class axis of a head that scores every position of a sample — a sequence's tokens
    (N, T, C), a mask's pixels (N, C, H, W) as torch lays them out or (N, H, W, C) as Keras does —
    so its outputs are read per position, not as one row per sample; None for (N, C) heads. With
    ``num_classes`` it is the axis of that size (axis 1 first, as for dense targets); without it,
    the axis along which ``out`` (when given) holds probabilities summing to 1 at every position."""
    if len(shape) < 3:
        return None
    for axis in (1, len(shape) - 1):
        if num_classes is not None:
            if shape[axis] == num_classes:
                return axis
        elif out is not None and shape[axis] >= 2 and out.size and np.isfinite(out).all() \
                and out.min() >= 0 and np.allclose(out.sum(axis=axis), 1.0, atol=SUM_ATOL):
            return axis
    return None


def prediction_rows(outputs: np.ndarray, axis: Optional[int]) -> np.ndarray:
    """The outputs as rows of one prediction each: per sample, or per position along a class
    ``axis`` (dense class ids: a mask, a sequence of tokens)."""
    if axis is None:
        return outputs.reshape(len(outputs), -1)
    return np.moveaxis(outputs, axis, -1).reshape(-1, outputs.shape[axis])


def in_layout(rows: np.ndarray, shape: tuple, axis: Optional[int]) -> np.ndarray:
    """Rows of :func:`prediction_rows` put back into the model's output ``shape`` (float32)."""
    if axis is None:
        return np.ascontiguousarray(rows.reshape(shape), dtype=np.float32)
    positions = tuple(shape[:axis]) + tuple(shape[axis + 1:])
    return np.ascontiguousarray(np.moveaxis(rows.reshape(*positions, shape[axis]), -1, axis), dtype=np.float32)


def _groups_only(loss_at: LossAt, ids: np.ndarray, shape: tuple, out: np.ndarray) -> bool:
    """Class ids (at least three classes) that the loss reads only as which samples share one: its value
    stays put when the classes are renamed among themselves (each id the next one present, a
    bijection) and moves when two classes are made one — a contrastive, triplet or
    proxy-free metric-learning loss on embeddings, whose width says nothing of the classes. Asked at
    the untrained outputs and at a seeded draw of the same scale (an untrained head's near-uniform
    scores may sit where a cross-entropy is blind to the renaming too). Never true of a cross-entropy."""
    values = np.unique(ids)
    if len(values) < 3 or len(ids) < 4:
        return False
    renamed = values[(np.searchsorted(values, ids) + 1) % len(values)].reshape(shape)
    merged = np.where(ids == values[1], values[0], ids).reshape(shape)  # two classes made one
    scale = float(np.std(out)) if np.isfinite(out).all() and np.std(out) > 0 else 1.0
    drawn = out + np.random.default_rng(0).normal(0.0, max(scale, 1.0), out.shape)
    for outputs in (np.ascontiguousarray(out, dtype=np.float32), np.ascontiguousarray(drawn, dtype=np.float32)):
        with np.errstate(all="ignore"):
            base, moved = loss_at(outputs), loss_at(outputs, renamed)
            if not (np.isfinite(base) and np.isfinite(moved)) \
                    or abs(moved - base) > GROUPS_RTOL * max(abs(base), abs(moved), 1e-12):
                return False  # a cross-entropy: renaming the classes moves it (the common answer, two calls)
            alike = loss_at(outputs, merged)
        if np.isfinite(alike) and abs(alike - base) <= GROUPS_RTOL * max(abs(base), abs(alike), 1e-12):
            return False  # the labels are never read
    return True


def _decide_dense(y: np.ndarray, out: np.ndarray, loss_at: LossAt, axis: int, penalty: float, *,
                  label: str | None = None) -> Targets:
    """Class ids per position (segmentation masks) against outputs with a class axis: judged as
    classification of every position, with the loss probed on outputs in the model's layout.
    ``label``: how the targets were given, where they were not ids (one-hot rows per position, whose
    rows of all 0 are id -1 in ``y``); the ids the loss skips are then said the same way."""
    rows = prediction_rows(out, axis)
    width = rows.shape[1]

    def layout(a: np.ndarray) -> np.ndarray:
        return in_layout(a, out.shape, axis)

    def dense_loss_at(a: np.ndarray, targets: Any = None) -> float:
        return loss_at(layout(a)) if targets is None else float("nan")

    flat = decide(np.asarray(y).reshape(-1), rows, dense_loss_at, "classification", positions=True,
                  penalty=penalty)
    encoding = label if label is not None else f"class ids per position {tuple(y.shape)}" + (
        "" if np.issubdtype(y.dtype, np.integer) else ", whole-number floats")
    ids = None if flat.ids is None else flat.ids.reshape(y.shape)
    ignored = None if flat.ignored is None else flat.ignored.reshape(y.shape)
    problems = flat.problems
    if ignored is not None:
        encoding += _skipped_positions_said(np.asarray(y), ignored) if label is not None else \
            _ignored_said(np.asarray(y).reshape(-1).astype(np.int64), flat.ignored)
        problems = problems or _padding_trained(np.asarray(y), ignored)
    elif flat.ids is not None and np.ndim(y) == 2:
        ignored = _padding_after_the_first(flat.ids.reshape(y.shape), rows, dense_loss_at, flat.form)
        if ignored is not None:
            encoding += f", {int(ignored.sum())} padding position(s) after each row's first the loss skips " \
                        "(not demanded)"
    return Targets("classification", encoding, ids, width, flat.form, flat.floor, problems, channel_axis=axis,
                   ignored=ignored)


def _padding_after_the_first(ids: np.ndarray, rows: np.ndarray, loss_at: LossAt, form: str) -> Optional[np.ndarray]:
    """Per position of (n, L) sequences, whether it lies in its row's final run of one id after that
    run's first position, where the loss skips every such position: a mask built from the decoder's
    inputs (the targets shifted one step, ``decoder input != 0``), which trains the first padding
    target after [end] and no other. None where the loss reads any of them, or too few to matter
    to the criterion."""
    tails = _row_tails(ids)
    later = tails & np.concatenate([np.zeros((len(ids), 1), dtype=bool), tails[:, :-1]], axis=1)
    if later.mean() < 1 - DENSE_MIN_RIGHT or later.all():
        return None
    probe = _RowProbe(loss_at, len(rows), rows.shape[1], rows.shape, form == "probabilities")
    return later if _finite(probe.at) and probe.skips(later.reshape(-1)) else None


def _row_tails(ids: np.ndarray) -> np.ndarray:
    """Per position of (n, L) ids, whether it lies in its row's final run of one id."""
    same_as_last = ids == ids[:, -1:]
    # a position is in the tail where it and every position after it hold the row's last id
    return np.flip(np.cumprod(np.flip(same_as_last, axis=1), axis=1), axis=1).astype(bool)


def _padding_trained(y: np.ndarray, ignored: np.ndarray) -> list[Evidence]:
    """Class ids per position of sequences (n, L) where the loss skips an id that sits amid other
    targets (in at least two rows) while it trains on an id that only ever fills the ends of rows (in
    at least two): padding. The ignored index is some other vocabulary's pad index (a word
    vocabulary's 1 given as the tags' ``ignore_index``, where tag 1 is the commonest class: a PoS
    tagger that never learns NOUN), not the padding label's."""
    if y.ndim != 2 or y.shape[1] < 2 or not np.issubdtype(y.dtype, np.number) or not np.all(y == np.round(y)):
        return []
    ids = y.astype(np.int64)
    tails = _row_tails(ids)
    amid = {int(v): (ids == v) & ~tails for v in np.unique(ids[ignored])}  # each skipped id's positions amid
    skipped = [v for v, at in amid.items() if int(at.any(axis=1).sum()) >= 2]
    pads = [v for v in np.unique(ids[tails])
            if not ignored[ids == v].any() and tails[ids == v].all() and int((ids[:, -1] == v).sum()) >= 2]
    if not skipped or not pads:
        return []
    k, pad = skipped[0], int(pads[0])
    rows, filled = int(amid[k].any(axis=1).sum()), int((ids == pad).sum())
    return [(C.LOSS_MISMATCH,
             f"the loss skips target {k} at {int(amid[k].sum())} positions amid other targets (in {rows} of {len(ids)} rows) and "
             f"trains on target {pad}, which only ever fills the ends of rows ({filled} positions: padding): its "
             f"ignored index is not the padding label's (another vocabulary's pad index?); ignore {pad} instead, "
             f"and target {k} is learned again")]


def prefix_groups(x: Any, ids: Optional[np.ndarray]) -> Optional[np.ndarray]:
    """Per position of (N, T) class ids read from (N, T') token ids (T' ≥ T), a group number shared
    by the samples whose inputs agree up to that position, x[:, :t + 1]: what a model that reads
    left to right (a language model, a character RNN) has seen there. None where the inputs are not
    token ids aligned with the targets. The shortest prefix an output at t can have read: a model
    that sees more is only judged less."""
    if ids is None or ids.ndim != 2 or len(getattr(x, "shape", ())) != 2:
        return None
    x = np.asarray(x)
    n, steps = ids.shape
    if x.shape[0] != n or x.shape[1] < steps or not np.issubdtype(x.dtype, np.integer):
        return None
    groups = np.zeros((n, steps), dtype=np.int64)
    group = np.zeros(n, dtype=np.int64)
    for t in range(steps):
        pairs = np.stack([group, x[:, t].astype(np.int64)], 1)  # the group so far, then this token
        group = np.unique(pairs, axis=0, return_inverse=True)[1].reshape(-1)
        groups[:, t] = group
    return groups


def prefix_conflicts(groups: np.ndarray, ids: np.ndarray) -> Optional[np.ndarray]:
    """Per position, whether samples of its prefix group (:func:`prefix_groups`) go on to different
    targets there: a left-to-right model gives them one prediction, so at most one can be right — a
    batch of names all starting after the same start token. None where no position conflicts."""
    conflicts = np.zeros(ids.shape, dtype=bool)
    for t in range(ids.shape[1]):
        pairs = np.unique(np.stack([groups[:, t], ids[:, t]], 1), axis=0)  # distinct (group, target)
        seen = np.bincount(pairs[:, 0], minlength=groups[:, t].max() + 1)
        conflicts[:, t] = seen[groups[:, t]] > 1
    return conflicts if conflicts.any() else None


def causal_floor(targets: Targets, groups: np.ndarray, loss_at: LossAt, shape: tuple) -> float:
    """The loss of the best prediction a left-to-right model can give: each position's target
    where its prefix decides it, else the distribution of the targets that follow that prefix in
    the batch (the mixture a cross-entropy is lowest at) — confident logits or probabilities, in
    the head's form. NaN where the loss cannot say."""
    ids, width = targets.ids, targets.width
    probs = np.zeros(ids.shape + (width,), dtype=np.float64)
    for t in range(ids.shape[1]):
        for g in np.unique(groups[:, t]):
            members = groups[:, t] == g
            probs[members, t] = np.bincount(ids[members, t], minlength=width)[:width] / members.sum()
    rows = probs.reshape(-1, width)
    rows = np.log(np.clip(rows, 1e-12, 1.0)) if targets.form == "logits" else np.clip(rows, 1e-7, 1.0)
    try:
        return float(loss_at(in_layout(rows, shape, targets.channel_axis)))
    except Exception:
        return float("nan")


def decide(y: np.ndarray, out: np.ndarray, loss_at: LossAt, task: Optional[str] = None, *,
           positions: bool = False, penalty: float = 0.0) -> Targets:
    """Decide the task and the target encoding of one batch, its loss floor, and any problem.
    ``positions``: the rows are the positions of dense class ids (a padding id may be masked out).
    ``penalty``: the part of every ``loss_at`` value that no output moves (``add_loss`` terms), taken
    off where a floor is compared with a closed form."""
    check_task(task)
    given_task = task
    if task in (None, "classification"):
        given = tuple(y.shape)
        y = _unit_axis_dropped(y, out, loss_at)
        hot = _one_hot_per_position(y, out, loss_at)
        if hot is not None:
            ids, axis = hot
            return _decide_dense(ids, out, loss_at, axis, penalty, label=f"one-hot per position {given}")
        viewed = _viewed_channel_first(y, out, loss_at)
        if viewed is not None:
            ids, evidence = viewed
            dense = _decide_dense(ids, out, loss_at, 1, penalty)
            dense.encoding = f"class ids per position {given}, which the loss reads out of place"
            dense.problems = [evidence]  # what else the dense reading finds rests on a loss that reads ids in place
            return dense
        axis = _dense_axis(y, out)
        if axis == 1 and out.ndim > 2 and out.shape[1] == out.shape[-1]:
            axis = _square_class_axis(out, loss_at, y)
        if axis is not None:
            return _decide_dense(y, out, loss_at, axis, penalty)
        truncated = _truncated_ids(y, out, loss_at, given)
        if truncated is not None:
            ids, axis, evidence = truncated
            dense = _decide_dense(ids, out, loss_at, axis, penalty)
            dense.encoding = f"class ids per position {tuple(y.shape)}, floats the loss truncates"
            dense.problems.insert(0, evidence)
            return dense
    n = len(y)
    if time_first(out, n):
        # outputs laid out time-first (T, N, C) under a loss that picks its step (o[-1]): their rows are
        # time steps, so no reading of targets against rows holds (positions flattened sample by sample,
        # (N·T, V), still read as each sample's rows)
        return Targets("regression", f"targets {tuple(y.shape)} beside outputs {tuple(out.shape)} laid out "
                                     f"time-first (the batch's {n} samples on axis 1): judged on the loss alone",
                       None, max(out.size // max(n, 1), 1), "values", float("nan"), [])
    out2 = out.reshape(n, -1)
    width = out2.shape[1]
    shape = tuple(out.shape)
    yf = np.asarray(y, dtype=np.float64)
    y2 = yf.reshape(n, -1)
    k = y2.shape[1]
    finite = bool(np.isfinite(y2).all())
    whole = finite and bool(np.all(y2 == np.round(y2)))
    integer = np.issubdtype(y.dtype, np.integer) or y.dtype == np.bool_
    binary_values = finite and bool(np.isin(y2, (0.0, 1.0)).all())
    column = k == 1
    id_shape = "(N,)" if y.ndim == 1 else "(N, 1)" if column else str(y.shape)
    form = output_form(out2)
    problems: list[Evidence] = []
    constant = float("nan")

    # one score per class is a row, (N, C) up to unit axes: outputs that keep two or more axes per
    # sample for one target each ((N, 2, 8): a pair of embeddings for one same/different label) are
    # not read as class scores by flattening them; the loss alone judges them
    row_head = sum(d > 1 for d in shape[1:]) <= 1
    zero_rows: Optional[np.ndarray] = None  # one-hot rows beside all-0 rows the loss skips
    if task is None:
        if column and whole and width >= 2 and row_head \
                and (integer or not _copied_into_every_output(y2, loss_at, shape, form)):
            task = "classification"
        elif column and binary_values and width == 1:
            task = "binary"
        elif column and whole and width == 1 and y2.min() >= 0 and len(np.unique(y2)) >= 3:
            task = _ids_into_one_output(y2, integer, out2, loss_at, problems)
        elif not column and k == width and finite and y2.min() >= 0 and np.allclose(y2.sum(axis=1), 1, atol=1e-3):
            task = "classification"
        elif not column and k == width >= 2 and binary_values \
                and (zero_rows := _skipped_zero_rows(y2, loss_at, shape, form)) is not None:
            task = "classification"
        elif not column and k == width and binary_values:
            task = "multilabel"
        else:
            task = "regression"

    ids: Optional[np.ndarray] = None
    ignored: Optional[np.ndarray] = None
    floor = float("nan")
    perfect: Optional[np.ndarray] = None
    mean: Optional[np.ndarray] = None
    soft = False
    if task == "classification" and given_task is None and column and whole \
            and _groups_only(loss_at, y2[:, 0], np.asarray(y).shape, out):
        return Targets("regression", f"class ids {id_shape} the loss reads only as groups (which samples share a "
                                     "class, as a contrastive or triplet loss does): the outputs are embeddings, "
                                     "judged on the loss alone", None, width, "values", float("nan"), [], groups=True)
    if task == "classification":
        if column:
            if not whole:
                problems.append((C.LABELS_INVALID, f"class-id targets must be whole numbers, got values such as "
                                                   f"{fmt(float(y2[~(y2 == np.round(y2))][0]))}"))
                ids = None
            else:
                ids = y2[:, 0].astype(np.int64)
                ignored = _ignored_ids(ids, width, loss_at, shape, form, in_range=positions)
            encoding = f"class ids {id_shape}" + ("" if integer else ", whole-number floats")
            if ignored is not None:
                encoding += _ignored_said(ids, ignored)
                ids = np.where(ignored, 0, ids)  # any class stands in where the loss does not look
        else:
            ids = y2.argmax(axis=1)
            encoding = "one-hot" if binary_values else "smoothed one-hot (class probabilities)"
            soft = not binary_values
            if binary_values and k == width:
                ignored = zero_rows if zero_rows is not None else _skipped_zero_rows(y2, loss_at, shape, form)
            if ignored is not None:
                encoding += f", {int(ignored.sum())} of {n} rows all 0, ignored by the loss"
        if ids is not None:
            counted = ids if ignored is None else ids[~ignored]
            lo, hi = int(counted.min()), int(counted.max())
            values = np.unique(counted)
            # ids about 0..K-1 (a batch may miss a few), K beyond the head: a head too narrow; values
            # spread far wider than their number (0 and 255 for a two-class mask): not class indices
            contiguous = lo >= 0 and hi < 2 * len(values)
            said = ", ".join(str(v) for v in values[:6]) + (" …" if len(values) > 6 else "")
            invalid = (C.LABELS_INVALID, f"labels span {lo}..{hi} (values {said}), outside the head's "
                                         f"0..{width - 1}" + ("" if contiguous else
                                                              ": not class indices 0..C-1 (raw values such as "
                                                              "greyscale 0/255 need mapping to 0..C-1)"))
            if hi >= width and not problems and contiguous:
                problems.append((C.HEAD_WIDTH, f"labels reach {hi} but the head has {width} output(s) "
                                               f"(classes 0..{width - 1})"))
            if (lo < 0 or hi >= width) and not any(p[0] == C.LOSS_MISMATCH for p in problems):
                if contiguous:
                    problems.append(invalid)
                else:
                    problems.insert(0, invalid)
        if ids is not None and ids.min() >= 0 and ids.max() < width and width >= 2:
            form = _form(loss_at, _onehot(ids, width), form, shape)
            log_rows = log_probability_rows(out2)
            cands = _class_candidates(_onehot(ids, width), form, shape, log_rows)
            if not column and not log_rows:  # the targets as outputs are no log-probabilities
                cands += _soft_candidates(y2, form, shape)
            floor = _min_loss(loss_at, cands)
            problems += _ignores_outputs(loss_at, _onehot(ids, width), shape, problems)
            problems += _unsafe_at_target(loss_at, _onehot(ids, width), form, shape, floor, problems)
            problems += _linear_in_probabilities(loss_at, _onehot(ids, width), form, shape, problems)
            if out2.max() > 0:  # a head of log-probabilities (≤ 0, over any axis) cannot give the scores
                problems += _unbounded_below(loss_at, _onehot(ids, width), form, shape, problems)
            # a softmax head couples its outputs: a binary loss on its rows still trains it as one
            # categorical choice (unusual, not the independent-outputs defect) — unless Keras hands
            # the loss the softmax's logits in its traced step (checks.common.targets_of looks); a
            # log-softmax head couples them too, and its rows shifted by +3 are no log-probabilities,
            # so the shift test below says nothing of them (-sum(log p * y), JAX's MNIST example)
            softmax_rows = _softmax_axis(out2) is not None or log_rows
            clipped = _clipped_probabilities(out2, loss_at, _onehot(ids, width), shape)
            if clipped:
                problems += clipped
                form = "probabilities"
            elif not column and binary_values and not softmax_rows:
                problems += _binary_loss_over_one_hot(loss_at, _onehot(ids, width), form, shape)
            if not problems:
                problems += _clipped_before_softmax(out2)
    elif task in ("binary", "multilabel"):
        ids = (y2 > 0.5).astype(np.int64)
        if task == "binary":
            ids = ids[:, 0] if ids.shape[1] == 1 else ids.argmax(axis=1)
            encoding = f"binary 0/1 {id_shape}, {width} output(s)"
        else:
            encoding = "multi-hot" + ("" if integer else " (float)")
        if not binary_values and not problems:
            problems += _outside_binary(y2, loss_at, shape)
        target = ids.reshape(n, -1).astype(np.float32)
        if task == "binary" and width >= 2:
            target = _onehot(ids, width)
        if target.shape[1] == width:
            form = _form(loss_at, target, form, shape)
            floor = _min_loss(loss_at, _class_candidates(target, form, shape) + _soft_candidates(y2, form, shape)
                              if target.shape == y2.shape else _class_candidates(target, form, shape))
            problems += _through_a_step(loss_at, target, shape, problems)
            problems += _ignores_outputs(loss_at, target, shape, problems)
            problems += _unsafe_at_target(loss_at, target, form, shape, floor, problems)
            # a loss whose optimum is the targets inverted (a contrastive loss on distances, 1 = similar)
            # has its floor there, which a constant must not be compared against the targets' loss for
            inverted = _min_loss(loss_at, _class_candidates(1 - target, form, shape))
            problems += _won_by_a_constant(loss_at, target, out, min(floor, inverted) if _finite(inverted) else floor,
                                           problems)
            clipping = _outside_a_clipping_loss(out2, loss_at, target, shape, problems)
            if clipping:  # after the loss's own defects: a loss missing its negative term clips too
                problems += clipping
                form = "probabilities"
    else:
        encoding = "values" + (f" {y2.shape[1]} per sample" if k > 1 else "")
        form = "values"
        if finite and (k == width or k == 1):
            candidates = _soft_candidates(y2, output_form(out2), shape)
            scored = [(float(v), c) for c in candidates if _finite(v := loss_at(c))]
            floor, perfect = min(scored, key=lambda vc: vc[0]) if scored else (float("nan"), None)
            if not _finite(floor) and output_form(out2) == "probabilities":
                floor = _limit_at_targets(loss_at, y2, shape)
            mean = np.ascontiguousarray(np.broadcast_to(y2.mean(axis=0, keepdims=True), (n, width)).reshape(shape),
                                        dtype=np.float32)
            constant = loss_at(mean)
            if k == 1 < width and floor > loss_at(np.ascontiguousarray(out, dtype=np.float32)):
                # one target per sample copied into every output scores worse than the untrained
                # model: not a perfect prediction of this loss (a pair of embeddings under a
                # contrastive loss), so no floor or constant is known
                floor = constant = float("nan")
                perfect = None
        if width == 1 and k == 1 and not binary_values and not problems:
            problems += _outside_binary(y2, loss_at, shape, only_if_negative=True)
        if finite and tuple(y.shape) != shape and y.size == out.size and not problems:
            problems += _broadcast(y2, loss_at, shape, floor, tuple(y.shape))
        if finite and (k == width or k == 1):
            problems += _won_by_a_constant(loss_at, y2, out, floor, problems)
        if not _finite(floor) and not problems:
            problems += _own_softmax(out, loss_at) or _softmax_inside(out, loss_at)
    if not problems and task in ("classification", "multilabel") and _finite(floor):
        problems += _softmax_again(out, floor - penalty)
    mask = task == "multilabel" and sum(d > 1 for d in y.shape[1:]) >= 2
    if mask and ignored is None and not problems:
        ignored = _masked_class(np.asarray(y), out, loss_at, form)
        if ignored is not None:
            encoding += f", {int(ignored.sum()) // y.shape[-1]} of {ignored.size // y.shape[-1]} positions ignored by the loss"
    return Targets(task, encoding, ids, width, form, floor, problems, constant=constant, mask=mask, ignored=ignored,
                   soft=soft, loss_at=loss_at if task == "regression" and perfect is not None else None,
                   perfect=perfect, mean_prediction=mean,
                   skips=_rows_probe(loss_at, n, width, shape, form) if ids is not None and width >= 2
                   and task in ("classification", "binary") and not mask and n * width == int(np.prod(shape))
                   else None)


def _rows_probe(loss_at: LossAt, n: int, width: int, shape: tuple, form: str) -> Callable[[np.ndarray], bool]:
    """:attr:`Targets.skips` for ``n`` rows of ``width`` class scores: a :class:`_RowProbe` built at
    the first question (the loss at uninformative outputs, asked only where a run needs it)."""
    probe: list[_RowProbe] = []

    def skips(rows: np.ndarray) -> bool:
        if not probe:
            probe.append(_RowProbe(loss_at, n, width, shape, form == "probabilities"))
        if not _finite(probe[0].at):
            return False
        chosen = np.zeros(n, dtype=bool)
        chosen[rows] = True
        return probe[0].skips(chosen, apart=True)

    return skips


def _masked_class(y: np.ndarray, out: np.ndarray, loss_at: LossAt, form: str) -> Optional[np.ndarray]:
    """One-hot targets per position (the last axis one-hot everywhere, the outputs of the same shape)
    whose loss skips the positions of a class (a per-pixel cross-entropy times "not background"):
    per sample and output, whether it is a skipped position's (:func:`_ignored_ids` over the positions'
    class ids). Read as a multi-hot mask, those positions would be demanded right. None where no
    class is skipped."""
    if y.shape != out.shape or y.ndim < 3 or y.shape[-1] < 2 or not np.isin(y, (0, 1)).all() \
            or not (y.sum(axis=-1) == 1).all():
        return None
    width = y.shape[-1]
    skipped = _ignored_ids(y.reshape(-1, width).argmax(axis=1), width, loss_at, out.shape, form, in_range=True)
    return None if skipped is None else np.repeat(skipped, width).reshape(len(y), -1)


def _skipped_positions_said(ids: np.ndarray, ignored: Optional[np.ndarray]) -> str:
    """How one-hot targets per position say which positions the loss skips: rows of all 0 (id -1 in
    ``ids``) and the classes it masks out."""
    if ignored is None or not ignored.any():
        return ""
    skipped = np.unique(ids[ignored])
    what = (["rows of all 0"] if (skipped < 0).any() else []) + [f"class {v}" for v in skipped if v >= 0]
    return f", {int(ignored.sum())} of {ignored.size} positions ignored by the loss ({', '.join(what)})"


def _ignored_said(ids: np.ndarray, ignored: np.ndarray) -> str:
    """How the targets' encoding says which ids the loss skips."""
    skipped = ", ".join(str(v) for v in np.unique(ids[ignored]))
    return f", {int(ignored.sum())} of {len(ids)} ignored by the loss (target {skipped})"


def _ignored_ids(ids: np.ndarray, width: int, loss_at: LossAt, shape: tuple, form: str, *,
                 in_range: bool) -> Optional[np.ndarray]:
    """Per sample (or position), whether the loss skips its class id — torch's ``ignore_index``
    (-100 by default, Hugging Face's padding label), Keras's ``ignore_class``, a padding id the loss
    masks out, a class weight of 0: outputs moved from uninformative to confident at those rows
    leave the loss as it was. Ids outside 0..width-1 are all asked (one the loss reads makes them
    invalid: None); with ``in_range`` (rows that are positions, where a padding id lives), ids
    inside too, those common enough to matter to the criterion (at least 1 - DENSE_MIN_RIGHT of the
    rows, the IGNORED_MAX_ASKED commonest). None where none is skipped."""
    if width < 2:
        return None
    odd = np.unique(ids[(ids < 0) | (ids >= width)])
    common: list[int] = []
    if in_range:
        values, counts = np.unique(ids[(ids >= 0) & (ids < width)], return_counts=True)
        order = np.argsort(-counts, kind="stable")[:IGNORED_MAX_ASKED]
        common = [int(values[i]) for i in order if counts[i] >= (1 - DENSE_MIN_RIGHT) * len(ids)]
    if len(odd) > IGNORED_MAX_ASKED or not (len(odd) or common):  # nothing to ask: no loss evaluated
        return None
    base = _RowProbe(loss_at, len(ids), width, shape, form == "probabilities")
    if not _finite(base.at):
        return None
    ignored = np.zeros(len(ids), dtype=bool)
    for value in odd:
        if not base.skips(ids == value):
            return None
        ignored |= ids == value
    for value in common:
        if base.skips(ids == value):
            ignored |= ids == value
    # a loss that skips every row reads no target at all: other probes say why (outputs it ignores)
    return ignored if ignored.any() and not ignored.all() else None


def _skipped_zero_rows(y2: np.ndarray, loss_at: LossAt, shape: tuple, form: str) -> Optional[np.ndarray]:
    """Per sample, whether its one-hot target row is all 0 and the loss skips it: one-hot rows beside
    rows of zeros that a loss weights out (Keras's ``sample_weight`` mask of a graph's unlabelled
    nodes, a categorical cross-entropy that reads nothing where the target is 0) are class targets
    with those samples not demanded, as torch's ``ignore_index`` is. Outputs moved from uninformative
    to confident at those rows leave the loss as it was; a loss that reads them (a binary
    cross-entropy over independent labels, none of them on) keeps them multi-hot. None where no row
    is both."""
    sums = y2.sum(axis=1)
    zero = sums == 0
    if not zero.any() or zero.all() or not np.all((sums == 0) | (sums == 1)):
        return None
    # outputs whose form is unknown (NaN from the model) are asked in both forms
    for probabilities in [form == "probabilities"] + ([True] if form != "probabilities" else []):
        base = _RowProbe(loss_at, len(y2), y2.shape[1], shape, probabilities)
        if _finite(base.at):
            return zero if base.skips(zero) else None
    return None


class _RowProbe:
    """Uninformative outputs for every row (uniform probabilities, or zero logits) and the loss
    there (``at``), from which :meth:`skips` asks whether the loss reads some rows at all."""

    def __init__(self, loss_at: LossAt, n: int, width: int, shape: tuple, probabilities: bool) -> None:
        self.loss_at, self.shape = loss_at, shape
        self.base = np.full((n, width), 1.0 / width if probabilities else 0.0, dtype=np.float32)
        self.confident = np.full(width, 0.02 / (width - 1) if probabilities else -4.0, dtype=np.float32)
        self.confident[0] = 0.98 if probabilities else 4.0
        self.at = loss_at(self.base.reshape(shape))
        # per row, a seeded share (a half to all) of the way to confident, for skips(apart=True)
        self.share = 0.5 + 0.5 * np.random.default_rng(0).random((n, 1), dtype=np.float32)

    def skips(self, rows: np.ndarray, *, apart: bool = False) -> bool:
        """The loss is as it was with the outputs at ``rows`` moved from uninformative to confident.
        ``apart``: each row moves by its own seeded share (a half to all) of the way, so the moves of
        rows of different classes cannot cancel in a loss linear in its outputs (-sum(log p * y))."""
        moved = self.base.copy()
        if apart:
            moved[rows] = (self.base + self.share * (self.confident - self.base))[rows]
        else:
            moved[rows] = self.confident
        now = self.loss_at(moved.reshape(self.shape))
        return _finite(now) and abs(now - self.at) <= 1e-6 * (1.0 + abs(self.at))


def _right_probabilities(target: np.ndarray) -> np.ndarray:
    """Outputs that are right for value ``target`` in [0, 1] but not exactly it (0.9 where it is above
    0.5, else 0.1): one minus them is wrong. The probes of how a loss reads its outputs start there."""
    return np.where(target > 0.5, 0.9, 0.1).astype(np.float32)


def _through_a_step(loss_at: LossAt, target: np.ndarray, shape: tuple, problems: list[Evidence]) -> list[Evidence]:
    """A loss that tells right outputs from wrong ones (as probabilities or as logits) but does not move
    when any of them moves a little reads the outputs through a step — ``torch.round``, an argmax, a
    comparison — whose gradient is 0 wherever it is defined: no parameter can learn from it. The
    outputs probed sit far from the steps such a loss takes (0.5 for probabilities, 0 for logits)."""
    if problems:
        return []
    right = _right_probabilities(target)
    logits = np.where(target > 0.5, STEP_LOGIT, -STEP_LOGIT).astype(np.float32)
    probed = [(c, loss_at(np.ascontiguousarray(c.reshape(shape)))) for c in (right, 1 - right, logits, -logits)]
    probed = [(c, v) for c, v in probed if _finite(v)]  # logits into a loss of probabilities may not be
    values = [v for _, v in probed]
    if len(values) < 2 or max(values) - min(values) <= 1e-6 * (abs(values[0]) + 1e-6):
        return []  # a loss that never moves: _ignores_outputs says so
    rng = np.random.default_rng(0)
    for c, v in probed:
        nudged = c + (STEP_NUDGE * rng.standard_normal(c.shape)).astype(np.float32)
        if loss_at(np.ascontiguousarray(nudged.reshape(shape))) != v:
            return []
    return [(C.NO_GRADIENT, f"the loss tells right outputs from wrong ones ({fmt(min(values))} against {fmt(max(values))}) "
                            f"but stays exactly the same when any of them moves by {STEP_NUDGE:g}: "
                            + C.THROUGH_A_STEP)]


IGNORES_OUTPUTS = "whatever the outputs"  # the phrase :func:`_ignores_outputs`'s evidence carries


def ignores_outputs(problems: list[Evidence]) -> str | None:
    """The statement of :func:`_ignores_outputs`'s evidence where ``problems`` hold it ("the loss is 0.6931
    whatever the outputs": the loss scored every output alike), else None."""
    for cause, text in problems:
        if cause == C.LOSS_MISMATCH and IGNORES_OUTPUTS in text:
            return text[:text.index(IGNORES_OUTPUTS) + len(IGNORES_OUTPUTS)]
    return None


def _ignores_outputs(loss_at: LossAt, target: np.ndarray, shape: tuple, problems: list[Evidence]) -> list[Evidence]:
    """A loss that scores right, wrong, uniform and random outputs alike cannot train them (Keras's
    categorical cross-entropy over one sigmoid unit normalises that unit's row to 1: always 0)."""
    if problems:
        return []
    right = _right_probabilities(target)
    rng = np.random.default_rng(0)
    candidates = [right, 1 - right, np.full_like(right, 0.5), rng.uniform(0.05, 0.95, right.shape).astype(np.float32)]
    values = [loss_at(np.ascontiguousarray(c.reshape(shape))) for c in candidates]
    if not all(_finite(v) for v in values) or max(values) - min(values) > 1e-6 * (abs(values[0]) + 1e-6):
        return []
    one = len(shape) < 2 or shape[-1] == 1
    return [(C.LOSS_MISMATCH, f"the loss is {fmt(values[0])} {IGNORES_OUTPUTS} (right, wrong, uniform or random "
                              "ones): it gives them no gradient to learn from; " + (
                                  "a categorical cross-entropy normalises a single output to probability 1 — one "
                                  "sigmoid unit needs a binary cross-entropy" if one else
                                  "the loss does not read the outputs (a constant, or a value detached from them)"))]


_BROADCAST = "inside the loss, "


def broadcast_in_loss(crossed: list[Crossing], n: int) -> list[Evidence]:
    """What the user's loss broadcasts while it scores the model's outputs on a batch of ``n``
    (``crossed``: :meth:`Session.loss_broadcasts`): a squared, absolute or Huber error whose input and
    target broadcast each other to a shape larger than both, or an elementwise operation between a
    value computed from the outputs and one computed from the targets where one is a vector as long as
    the other's leading axis, the other ends in an axis of 1, and the two broadcast to a shape holding
    the batch twice. Either is a (B, 1) column (or a (B, T, 1) stack of them) meeting a (B,) vector
    inside the loss, a shape the batch itself does not show: every sample is scored against every
    other's target (or mask, or weight). Deliberate all-pairs terms pair two
    values of one side (distances between outputs, equal-label masks) or spell both singleton axes
    out ((B, 1, D) against (1, B, D), as a kernel between outputs and targets does), and are not read."""
    for c in crossed:
        if c.pointwise:
            return [(C.TARGET_SHAPE, f"{_BROADCAST}a pointwise error takes input {c.a} against target {c.b}, "
                                     f"which broadcast to {c.both}: every sample is scored against every "
                                     "other's target; give both sides one shape inside the loss (a .view(-1, 1) "
                                     "or .squeeze(-1) where the column is picked)")]
        # a vector against an operand of higher rank that starts with as many rows and ends in an axis
        # of 1 (a (B, 1) column, a (B, T, 1) stack of them): numpy lines the vector up with that last axis
        wide, vector = (c.a, c.b) if len(c.b) < len(c.a) else (c.b, c.a)
        column = len(vector) == 1 and len(wide) >= 2 and wide[-1] == 1 and wide[0] == vector[0]
        # its length: the batch, or a multiple (tokens of the batch flattened to one axis)
        if column and vector[0] % n == 0 and c.both.count(vector[0]) >= 2:
            return [(C.TARGET_SHAPE, f"{_BROADCAST}`{c.op}` takes {c.a} computed from the outputs against "
                                     f"{c.b} computed from the targets, which broadcast to {c.both}: every "
                                     "sample meets every other sample's target values; give both sides one "
                                     "shape (a .view(-1, 1) or .squeeze(-1) where the column is picked)")]
    return []


ALWAYS_ONE = "every output of the one-unit head is 1"


def always_one(out: np.ndarray, at_zero: Callable[[], Optional[np.ndarray]]) -> list[Evidence]:
    """A one-unit head whose output is exactly 1 for every sample of the batch and for all-zero
    inputs too (``at_zero``: the outputs there, lazily; None when the model cannot take them): a
    softmax over one unit, 1 whatever its logit, so no gradient reaches the model. A sigmoid
    saturated by raw inputs reads 1 too, but not on zeros."""
    flat = out.reshape(len(out), -1)

    def ones(a: np.ndarray) -> bool:  # Keras's float32 softmax of one unit gives 1 - 2⁻²⁴
        return bool(np.isfinite(a).all() and np.allclose(a, 1.0, rtol=0, atol=1e-6))

    if flat.shape[1] != 1 or len(flat) < 2 or not ones(flat):
        return []
    zero = at_zero()
    if zero is None or not ones(np.asarray(zero, dtype=np.float64)):
        return []
    return [(C.OUTPUT_ACTIVATION, f"{ALWAYS_ONE}, for the {len(flat)} samples of the batch and for all-zero inputs: "
                                  "a softmax over one unit is 1 whatever its logit, so it passes no gradient; use a "
                                  "sigmoid (or two units with a softmax)")]


_LINEAR = "the loss is linear in the probabilities"


def _linear_in_probabilities(loss_at: LossAt, onehot: np.ndarray, form: str, shape: tuple,
                             problems: list[Evidence]) -> list[Evidence]:
    """A loss on class probabilities that is linear in them: its value where every sample gives its
    class 0.4 is the mean of its values at 0.7 and 0.1. A cross-entropy (or a squared error, a focal
    loss) is strictly convex there; a linear one pushes a sample that is badly wrong no harder than
    one nearly right — the targets and the outputs swapped into a cross-entropy (Keras 1's
    ``categorical_crossentropy(output, target)`` called as ``(target, output)``: −Σ p·log(clipped y),
    (1 − p) × 16.1), an absolute error on probabilities, a hinge on them (its margin of 1 is out of
    reach below one-hot rows)."""
    if form != "probabilities" or problems or onehot.shape[1] < 2:
        return []
    c = onehot.shape[1]

    def rows(p: float) -> np.ndarray:
        return np.ascontiguousarray(np.where(onehot > 0.5, p, (1 - p) / (c - 1)).reshape(shape), dtype=np.float32)

    right, wrong, mid = (loss_at(rows(p)) for p in (0.7, 0.1, 0.4))
    if not all(_finite(v) for v in (right, wrong, mid)) or wrong - right <= 1e-6 * (abs(wrong) + 1e-6):
        return []
    if right < 0:  # below 0 on probabilities: read as log-probabilities (NLLLoss after a softmax), said elsewhere
        return []
    if abs(mid - (right + wrong) / 2) > 1e-3 * (wrong - right):
        return []
    return [(C.LOSS_MISMATCH, f"{_LINEAR} ({fmt(right)} when every sample gives its class 0.7, {fmt(wrong)} at 0.1, "
                              f"{fmt(mid)} at 0.4: the mean of the two), so a badly wrong sample is pushed no harder "
                              "than a nearly right one; a cross-entropy is convex there. Are the targets and the "
                              "outputs swapped (a cross-entropy called as (targets, outputs) where it takes (outputs, "
                              "targets))? An absolute error or a hinge on probabilities is linear too: use a cross-entropy")]


_UNBOUNDED = "the loss falls without bound as the target's output grows"


def _unbounded_below(loss_at: LossAt, onehot: np.ndarray, form: str, shape: tuple,
                     problems: list[Evidence]) -> list[Evidence]:
    """A loss on class targets that keeps falling below 0 as the target's logit grows, on a head
    whose outputs go above 0 (so it can give such scores): a cross-entropy (or any loss of
    probabilities) is bounded by 0, so the outputs are read as log-probabilities they are not
    (NLLLoss on raw scores: the loss is minus the target's score, and training inflates that one
    score forever instead of learning a distribution)."""
    if form != "logits" or problems or onehot.shape[1] < 2:
        return []
    top = _SCALES[-1]
    at = [loss_at(np.ascontiguousarray((s * (2 * onehot - 1)).reshape(shape), dtype=np.float32))
          for s in (top, 2 * top)]
    if not all(_finite(v) for v in at) or not (at[1] < at[0] < 0) or at[0] - at[1] < 0.5 * top:
        return []
    return [(C.LOSS_MISMATCH, f"{_UNBOUNDED} ({fmt(at[0])} when it scores {fmt(top)}, {fmt(at[1])} at "
                              f"{fmt(2 * top)}): a loss of probabilities has a floor of 0, so it reads these outputs "
                              "as log-probabilities they are not (NLLLoss on raw scores); apply log_softmax to the "
                              "outputs, or use a cross-entropy that takes logits (CrossEntropyLoss)")]


def _summed_rounding(size: float, terms: int) -> float:
    """The rounding a float32 loss of ``size`` summed over ``terms`` values may carry (random-walk
    accumulation: eps·size·√terms): losses closer than this are not told apart."""
    return float(np.finfo(np.float32).eps) * size * float(np.sqrt(max(terms, 1)))


def _softmax_axis(out: np.ndarray) -> int | None:
    """The axis along which every row of ``out`` (past the samples' one) is probabilities summing to 1
    — a softmax's, per sample or per position (the last axis, or channels-first axis 1) — or None."""
    if out.ndim < 2 or not _in_unit(out):
        return None
    for axis in dict.fromkeys((out.ndim - 1, 1)):
        if out.shape[axis] >= 2 and np.allclose(out.sum(axis=axis), 1.0, atol=1e-3):
            return axis
    return None


def _won_by_a_constant(loss_at: LossAt, y2: np.ndarray, out: np.ndarray, floor: float,
                       problems: list[Evidence]) -> list[Evidence]:
    """A loss that a constant output — every output of every sample at one value the head can give,
    whatever the targets — brings as low as a perfect prediction of value or binary targets that
    differ between samples: its minimum ignores the targets, so training learns nothing from them.
    A cross-entropy missing its negative term, -y·log p, is 0 wherever p = 1 — which a softmax head
    never gives (its rows are one value only at 1 / their length: -Σ y·log p on one-hot rows is the
    categorical cross-entropy, as a seq2seq model's per-step softmax trains); a proper loss leaves
    every constant at least the targets' spread above its floor, so "as low" is within
    CONSTANT_AT_FLOOR (rounding) of the way from the floor to the better of the untrained model's loss and the
    loss of the targets' batch mean. Edge values only (0, ±1, the targets' extremes, ten times their
    largest size; within [0, 1] for a head of probabilities): the batch mean is a baseline a loss
    that pairs outputs and targets otherwise may also beat. A perfect prediction the loss scores
    within float32 summing rounding of the untrained model is no evidence either way (values that
    are no targets of these outputs: TFRS's candidate sampling probabilities, 7368.97 against 7369.05
    on a sum over 1,024 rows)."""
    if problems or not _finite(floor) or len(y2) < 2 or not (np.ptp(y2, axis=0) > 0).any():
        return []
    shape = tuple(out.shape)
    start = loss_at(np.ascontiguousarray(out, dtype=np.float32))
    baseline = float("nan")
    if y2.shape[1] in (1, out[0].size):  # the targets' batch mean, as an output of every sample
        mean = np.broadcast_to(y2.mean(axis=0, keepdims=True), (len(y2), out[0].size))
        baseline = loss_at(np.ascontiguousarray(mean.reshape(shape), dtype=np.float32))
    above = min((v for v in (start, baseline) if _finite(v)), default=float("nan"))
    if not _finite(above) or above - floor <= _summed_rounding(max(abs(floor), abs(above)), out.size):
        return []  # a perfect prediction the loss does not tell from the untrained model: no evidence
    size = max(1.0, float(np.abs(y2).max()))
    edges = {0.0, 1.0, -1.0, float(y2.min()), float(y2.max()), 10 * size, -10 * size}
    if _in_unit(out):  # a head of probabilities gives no value outside [0, 1]
        edges = {min(max(c, 0.0), 1.0) for c in edges}
    axis = _softmax_axis(out)
    if axis is not None:  # rows that sum to 1 are one value everywhere only at 1 / their length
        edges = {1.0 / out.shape[axis]}
    scored = [(v, c) for v, c in ((loss_at(np.full(shape, c, dtype=np.float32)), c) for c in sorted(edges)) if _finite(v)]
    if not scored:
        return []
    least, at = min(scored)
    if least > floor + CONSTANT_AT_FLOOR * (above - floor):
        return []
    return [(C.LOSS_MISMATCH, f"every output at {fmt(at)}, for every sample whatever its target, scores "
                              f"{fmt(least)}, at or below a perfect prediction of these targets ({fmt(floor)}; the "
                              f"untrained model scores {fmt(start)}"
                              + (f", the targets' batch mean {fmt(baseline)}" if _finite(baseline) else "") + "). The loss is "
                              "least where the outputs ignore the targets, so training learns nothing from them: a "
                              "cross-entropy missing its (1 − y)·log(1 − p) term is 0 wherever p = 1; use the full "
                              "binary cross-entropy (BCELoss / BCEWithLogitsLoss, binary_crossentropy)")]


def _unsafe_at_target(loss_at: LossAt, target: np.ndarray, form: str, shape: tuple, floor: float,
                      problems: list[Evidence]) -> list[Evidence]:
    """A loss on probabilities that is finite a hair from the targets but not at them: exact 0 and 1
    are what a saturating softmax or sigmoid returns in float32 (a logit gap of ~17 gives 1.0, of
    ~104 gives 0.0), so training toward the targets ends in NaN — a log of 0, or 0 · log 0, in a
    hand-written loss. The framework losses clip or clamp and are finite there."""
    if form != "probabilities" or problems or not _finite(floor):
        return []
    value = loss_at(np.ascontiguousarray(target.reshape(shape), dtype=np.float32))
    if _finite(value):
        return []
    return [(C.LOSS_NOT_FINITE, f"the loss is {fmt(value)} at the targets themselves (probabilities of exactly 0 "
                                f"and 1) though {fmt(floor)} a hair away from them: a softmax or sigmoid reaches "
                                "exact 0 and 1 in float32 as it saturates, so training toward the targets ends in "
                                "NaN (a log of 0, or 0 · log 0, in the loss)")]


def _broadcast(y2: np.ndarray, loss_at: LossAt, shape: tuple, floor: float, y_shape: tuple) -> list[Evidence]:
    """Value targets of another shape than the outputs ((N,) against (N, 1)): an elementwise loss
    then compares every output with every target, and a perfect prediction scores no better than
    the mean predicted everywhere (a loss that lines them up itself scores it about 0). Targets all
    alike (one sample: skflow's Boston regressor steps on batches of one) make the mean a perfect
    prediction, and no output meets another sample's target: nothing to tell."""
    if y2.size < 2 or np.all(y2 == y2.flat[0]):
        return []
    mean = loss_at(np.full(shape, float(y2.mean()), dtype=np.float32))
    if not (_finite(floor) and _finite(mean)) or floor < 0.5 * mean:
        return []
    return [(C.TARGET_SHAPE, f"outputs of shape {shape} against targets of shape {y_shape}: a perfect prediction "
                             f"scores {fmt(floor)}, no better than the targets' mean predicted everywhere "
                             f"({fmt(mean)}): the loss compares every output with every target (broadcasting)")]


def _form(loss_at: LossAt, target: np.ndarray, values_say: str, shape: tuple) -> str:
    """Logits or probabilities. Class outputs outside [0, 1] are logits. Inside, the loss decides: a
    categorical loss on logits ignores a constant added to every output of a row; an elementwise
    loss on probabilities refuses values outside [0, 1] or clips them (same value clipped or not),
    while one on logits scores a confident logit better than the probability it stands for. That
    last question is asked of independent outputs outside [0, 1] too: a loss that scores 0.9/0.1
    far better than the logits they stand for wants the outputs at the targets themselves (MSE on
    0/1 labels, a contrastive loss on distances with a margin of 1), so they are read at 0.5."""
    single = target.shape[1] >= 2 and np.allclose(target.sum(axis=1), 1)
    if values_say == "logits" and single:
        return "logits"

    def at(a: np.ndarray) -> float:
        return loss_at(np.ascontiguousarray(a.reshape(shape), dtype=np.float32))

    if single:
        p = 0.9 * target + 0.1 / target.shape[1]
        return "logits" if _same(at(p), at(p + 3.0)) else "probabilities"
    p = 0.9 * target + 0.1 * (1 - target)
    logits = np.log(p) - np.log1p(-p)
    lp, ll = at(p), at(logits)
    if values_say == "logits":  # unbounded outputs: probabilities only on the loss's clear word
        return "probabilities" if _finite(lp) and _finite(ll) and lp < ll and not _same(lp, ll) else "logits"
    if _finite(lp) and abs(at(target)) <= ZERO_AT_TARGETS * max(1.0, abs(lp)):
        # outputs in [0, 1] whose exact targets cost nothing: a loss on the values themselves (a soft
        # Dice, a squared error; a loss on logits costs something at any finite logit), however it
        # scores values outside [0, 1] (a soft Dice reaches -49 at the logits ±2.2: ModelsGenesis)
        return "probabilities"
    if not _finite(ll) or _same(ll, at(np.clip(logits, 1e-7, 1 - 1e-7))):
        return "probabilities"
    return "logits" if ll < lp - 1e-6 else "probabilities"


def _same(a: float, b: float) -> bool:
    return _finite(a) and _finite(b) and abs(a - b) <= 1e-3 * max(1.0, abs(a))


def _ids_into_one_output(y2: np.ndarray, integer: bool, out2: np.ndarray, loss_at: LossAt,
                         problems: list[Evidence]) -> str:
    """Whole-number targets 0..K-1 (K ≥ 3) into one output: integer class ids scored by a loss that is
    lowest when the output equals the id are a regression on class ids; whole-number floats a
    regression loss takes are regression targets (counts, ratings)."""
    values = np.unique(y2)
    at_targets = loss_at(np.ascontiguousarray(y2.reshape(out2.shape), dtype=np.float32))
    shifted = loss_at(np.ascontiguousarray((y2 + 1).reshape(out2.shape), dtype=np.float32))
    regression_loss = _finite(at_targets) and _finite(shifted) and at_targets < shifted and at_targets <= 1e-6
    ids_like = integer and values[0] == 0 and np.array_equal(values, np.arange(len(values)))
    if regression_loss and ids_like:
        problems.append((C.LOSS_MISMATCH, f"integer class ids 0..{len(values) - 1} into one output, with a loss that "
                                          "is lowest when the output equals the id: a regression on class ids "
                                          "(class 3 is not 'between' 2 and 4); give the head one output per class and "
                                          "use cross-entropy, or pass task='regression' if the ids are quantities"))
        return "regression"
    if regression_loss:
        return "regression"
    found = _outside_binary(y2, loss_at, tuple(out2.shape))
    if found:
        problems += found
        return "binary"
    return "classification" if ids_like else "regression"


def _outside_binary(y2: np.ndarray, loss_at: LossAt, shape: tuple, only_if_negative: bool = False) -> list[Evidence]:
    """Targets outside {0, 1} into a binary cross-entropy: it is unbounded below for a target of 2
    (the loss goes negative on a confident prediction) or refuses them (NaN, an error)."""
    lo, hi = float(y2.min()), float(y2.max())
    if lo >= 0 and hi <= 1:
        return []
    confident = [np.full(shape, v, dtype=np.float32) for v in (25.0, -25.0, 1 - 1e-6, 1e-6)]
    values = [loss_at(c) for c in confident]
    worst = min((v for v in values if _finite(v)), default=float("nan"))
    said = f"targets span {fmt(lo)}..{fmt(hi)}"
    if _finite(worst) and worst < -1e-3:
        return [(C.LABELS_INVALID, f"{said} but the loss is a binary cross-entropy: on a confident prediction it "
                                   f"goes to {fmt(worst)} (a target above 1 makes it unbounded below); more than two "
                                   "classes need one output per class and a categorical loss"),
                (C.LOSS_MISMATCH, "a binary loss on class ids with more than two values")]
    if only_if_negative:
        return []
    if all(not _finite(v) for v in values) and _finite(loss_at(np.full(shape, 0.5, np.float32), (y2 > 0.5))):
        return [(C.LABELS_INVALID, f"{said}; the loss accepts 0/1 targets but fails on these: more than two "
                                   "classes need one output per class and a categorical loss")]
    return []


def _outside_a_clipping_loss(out2: np.ndarray, loss_at: LossAt, target: np.ndarray, shape: tuple,
                             problems: list[Evidence]) -> list[Evidence]:
    """Binary outputs outside [0, 1] into a loss that clips what it is given into [ε, 1 − ε] (Keras's
    binary_crossentropy without from_logits: confident logits ±2.2 cost exactly what those values
    clipped into [1e-7, 1 − 1e-7] cost): the loss is flat wherever such an output lies, so no gradient
    reaches it — a last layer without a sigmoid (t81_558's Dense(1, activation='linear') into
    binary_crossentropy sat at loss 4.533 for every step and retry). A loss on logits scores the
    logits and their clipped values differently; outputs inside [0, 1] say nothing."""
    if problems or not np.isfinite(out2).all() or target.shape != out2.shape:
        return []
    outside = (out2 < 0) | (out2 > 1)
    if not outside.any():
        return []

    def at(a: np.ndarray) -> float:
        return loss_at(np.ascontiguousarray(a.reshape(shape), dtype=np.float32))

    p = 0.9 * target + 0.1 * (1 - target)
    logits = np.log(p) - np.log1p(-p)
    at_logits, at_p, clipped = at(logits), at(p), at(np.clip(logits, 1e-7, 1 - 1e-7))
    if not (_same(at_logits, clipped) and _finite(at_p) and not _same(at_p, clipped)):
        return []
    return [(C.OUTPUT_ACTIVATION,
             f"the loss clips what it is given into [0, 1] (confident logits ±2.2 cost exactly what those values "
             f"clipped into [1e-7, 1 − 1e-7] cost: {fmt(clipped)}), so it reads probabilities, but "
             f"{int(outside.sum())} of {out2.size} outputs lie outside [0, 1] ({fmt(float(out2.min()))}.."
             f"{fmt(float(out2.max()))}), where the loss is flat and no gradient reaches them: a last layer without a "
             "sigmoid")]


def _clipped_probabilities(out2: np.ndarray, loss_at: LossAt, onehot: np.ndarray, shape: tuple) -> list[Evidence]:
    """Outputs ≥ 0 with exact zeros, rows not summing to 1, while the loss scores confident
    probabilities of the targets better than confident logits at any scale: a loss on class
    probabilities fed a ReLU (or similar) head, which gives some classes probability 0. Outputs
    that are all 0 (a last layer initialised to zeros) show no activation."""
    if not np.isfinite(out2).all() or out2.min() < 0 or not (out2 == 0).any() or out2.shape[1] < 2 \
            or not out2.any() or np.allclose(out2.sum(axis=1), 1.0, atol=1e-3):
        return []
    as_probabilities = _min_loss(loss_at, _class_candidates(onehot, "probabilities", shape))
    as_logits = _min_loss(loss_at, _class_candidates(onehot, "logits", shape))
    if not _finite(as_probabilities) or (_finite(as_logits) and as_logits <= as_probabilities):
        return []
    zeros = int((out2 == 0).sum())
    sums = out2.sum(axis=1)
    return [(C.OUTPUT_ACTIVATION,
             f"the loss scores class probabilities best (confident probabilities {fmt(as_probabilities)}, confident "
             f"logits at best {fmt(as_logits)}), but the outputs are ≥ 0 with {zeros} exact zero(s) of "
             f"{out2.size} and rows summing to {fmt(float(sums.min()))}..{fmt(float(sums.max()))}, not 1: an "
             "activation such as ReLU on the last layer, where the loss needs a softmax")]


_TRACED = "as a traced training step computes it"


def logits_read(outputs: np.ndarray, traced: Callable[[], Optional[float]], value: Callable[[], float]) -> list[Evidence]:
    """The loss of the same ``outputs`` as a traced step computes it (``traced()``; None where the
    framework cannot differ) and as values (``value()``): Keras under TensorFlow hands a
    cross-entropy the logits beneath a softmax or sigmoid output in a traced step and applies the
    loss's own activation to them, so binary_crossentropy on a softmax head trains each logit as an
    independent sigmoid and categorical_crossentropy on sigmoid units trains them as one softmax.
    Matched pairs agree bit for bit (the cross-entropy of a softmax from its logits is the same
    number); these two differ at init by 0.05-0.5. Judged only on outputs inside [1e-6, 1 - 1e-6]
    (looked at first, so saturated outputs cost no trace): beyond, the values are clipped (Keras at
    1e-7) where the logits are not, and a matched pair on a saturated head (raw pixels) differs by
    the clipping alone."""
    if not (np.isfinite(outputs).all() and outputs.min() >= 1e-6 and outputs.max() <= 1 - 1e-6):
        return []
    traced_loss = traced()
    if traced_loss is None:
        return []
    traced, value = traced_loss, value()
    if not (_finite(traced) and _finite(value)):
        return []
    if abs(traced - value) <= 1e-3 * max(abs(value), 1e-3):
        return []
    return [(C.LOSS_MISMATCH, f"{_TRACED} (as fit() runs), the loss of these outputs is {fmt(traced)}, not the "
                              f"{fmt(value)} they score as values: Keras reads the logits beneath the last softmax or "
                              "sigmoid and applies the loss's own activation to them — binary_crossentropy on a "
                              "softmax trains each logit as an independent sigmoid, categorical_crossentropy on "
                              "sigmoid units trains them as one softmax — so training lowers a loss the outputs do "
                              "not show")]


def _softmax_again(out: np.ndarray, floor: float) -> list[Evidence]:
    """Outputs that are probabilities along their last axis or axis 1 (≥ 0, summing to 1), whose loss
    at the perfect prediction is log(1 + (C − 1)/e): what a cross-entropy that applies its own softmax
    gives a one-hot row of C classes. On the probabilities themselves it would be 0; a term added
    beside it (a dice loss) is 0 there too, so the value tells even where the loss as a whole is not
    shift-invariant. A run reaches that floor and passes, having learned through a damped gradient."""
    if out.ndim < 2 or out.dtype.kind != "f" or not np.isfinite(out).all() or out.min() < 0:
        return []
    for axis in sorted({1, out.ndim - 1}):
        classes = out.shape[axis]
        if classes < 2 or not np.allclose(out.sum(axis=axis), 1.0, atol=1e-3):
            continue
        least = float(np.log1p((classes - 1) / np.e))
        if abs(floor - least) <= SOFTMAX_AGAIN_RTOL * least:
            return [(C.LOSS_MISMATCH,
                     f"the outputs are probabilities (they sum to 1 over axis {axis}), and the loss of a perfect "
                     f"prediction of them is {fmt(floor)} = log(1 + (C−1)/e) for {classes} classes: the "
                     "cross-entropy of a one-hot row softmaxed again, so the loss applies its own softmax to "
                     "probabilities (it cannot go below that, and its gradient is damped); give it the logits "
                     "(no softmax before CrossEntropyLoss / softmax_cross_entropy_with_logits, from_logits=True "
                     "on raw outputs)")]
    return []


_OWN_SOFTMAX = "the outputs are probabilities fed to a loss that applies its own softmax"


def _reads_row_differences(out: np.ndarray, loss_at: LossAt, base: float, axis: int) -> bool:
    """Whether the loss (``base`` at ``out``) reads only the differences within each row along
    ``axis``, as a softmax does: a shift of every row by a constant of its own moves it by no more than
    10⁻³ of what rolling each row's values does — a loss that reads the outputs moves with the roll,
    one that reads none of them (a constant, a dummy) moves with neither."""
    moved = loss_at(_rows_shifted(out, axis))
    rolled = loss_at(np.ascontiguousarray(np.roll(out, 1, axis=axis), dtype=np.float32))
    within = abs(rolled - base) if _finite(rolled) else 0.0
    return _finite(moved) and within > 1e-6 * max(1.0, abs(base)) and abs(moved - base) <= 1e-3 * within


def _own_softmax(out: np.ndarray, loss_at: LossAt) -> list[Evidence]:
    """Where no target lines up with the outputs (a loss of its own, a dummy target): outputs that
    are probabilities along axis 1 or their last (≥ 0, summing to 1), and a loss that does not move
    when each row along that axis is shifted by its own constant — it reads only the differences
    within a row, as a cross-entropy that softmaxes its input does, so these probabilities are
    softmaxed a second time (a softmax at the end of the model before a cross-entropy against node
    indices the loss builds itself; where the softmax sits inside the loss, as in graph_neural_net
    PR #37, no output shows it; :func:`_softmax_inside` reads it there) — :func:`_reads_row_differences`.
    Probabilities into a loss of their own (NLL of their log, a KL divergence) move with the shift."""
    if out.ndim < 2 or out.dtype.kind != "f" or not np.isfinite(out).all() or out.min() < 0:
        return []
    base = loss_at(np.ascontiguousarray(out, dtype=np.float32))
    if not _finite(base):
        return []
    for axis in sorted({1, out.ndim - 1}):
        if out.shape[axis] < 2 or not np.allclose(out.sum(axis=axis), 1.0, atol=1e-3):
            continue
        if _reads_row_differences(out, loss_at, base, axis):
            return [(C.LOSS_MISMATCH,
                     f"{_OWN_SOFTMAX}: they sum to 1 over axis {axis}, and the loss stays at {fmt(base)} when "
                     "every row along that axis is shifted by a constant of its own (it reads only the "
                     "differences within a row), so it softmaxes them again: it cannot go below log(1 + "
                     f"(C−1)/e) = {fmt(float(np.log1p((out.shape[axis] - 1) / np.e)))} for {out.shape[axis]} "
                     "classes, and its gradient is damped; give it the logits (no softmax before "
                     "CrossEntropyLoss / softmax_cross_entropy_with_logits, from_logits=True on raw outputs)")]
    return []


_SOFTMAX_INSIDE = "the loss softmaxes the outputs before its cross-entropy, which softmaxes them again"


def _softmax_inside(out: np.ndarray, loss_at: LossAt) -> list[Evidence]:
    """Where no target lines up with the outputs (a loss of its own, a dummy target): raw scores into a
    loss that reads only the differences within a row along axis 1 or the last (a shift of each row
    by a constant of its own leaves it, rolling the row's values moves it), and that, given rows that
    are one class j at 100 (and at 1000) and 0 elsewhere, stays where it was — bounded however
    confident — while, summed over the C classes j, it comes to C·log(e + C − 1) − 1 over log C times
    its value on uniform rows. That sum is what a cross-entropy gives a softmax of its input whatever
    the targets (−log softmax(s)[t] = log(e + C − 1) − [t = j] for such s, and a soft target's
    weights sum to 1): the loss softmaxes the scores, then its cross-entropy softmaxes them again
    (graph_neural_net PR #37: ``torch.softmax`` of the node scores into ``CrossEntropyLoss``). A
    cross-entropy on the scores grows with the 100 where a target is not j; a loss on probabilities
    (a squared error, a KL divergence) sums to other values."""
    if out.ndim < 2 or out.dtype.kind != "f" or not np.isfinite(out).all():
        return []
    base = loss_at(np.ascontiguousarray(out, dtype=np.float32))
    if not _finite(base):
        return []
    for axis in sorted({1, out.ndim - 1}):
        classes = out.shape[axis]
        if not 2 <= classes <= SOFTMAX_INSIDE_MAX_CLASSES:
            continue
        if not _reads_row_differences(out, loss_at, base, axis):
            continue
        uniform = loss_at(np.zeros(out.shape, dtype=np.float32))
        if not _finite(uniform) or uniform <= 0:
            continue
        sums = []
        for scale in (100.0, 1000.0):
            total = 0.0
            for j in range(classes):
                rows = np.zeros(out.shape, dtype=np.float32)
                index = [slice(None)] * out.ndim
                index[axis] = j
                rows[tuple(index)] = scale
                total += loss_at(rows)
            sums.append(total)
        expected = (classes * np.log(np.e + classes - 1) - 1) / np.log(classes) * uniform
        if not all(_finite(v) for v in sums) or abs(sums[0] - sums[1]) > 1e-4 * expected \
                or abs(sums[0] - expected) > 1e-3 * expected:
            continue
        floor = float(np.log1p((classes - 1) / np.e))
        return [(C.LOSS_MISMATCH,
                 f"{_SOFTMAX_INSIDE}: it reads only the differences within each row along axis {axis}, stays "
                 f"bounded however confident a row is (rows of one class at 100 and at 1000 score alike), and "
                 f"those rows over the {classes} classes sum to {fmt(sums[0])}, (C·log(e + C − 1) − 1) / log C "
                 f"times its {fmt(uniform)} on uniform rows: exactly what a cross-entropy of a softmax gives, "
                 f"whatever the targets. It cannot go below log(1 + (C−1)/e) = {fmt(floor)} a row and its "
                 "gradient is damped; remove the softmax before the cross-entropy (CrossEntropyLoss and "
                 "softmax_cross_entropy_with_logits take the scores)")]
    return []


_CLIPPED = "the logits were clipped (a ReLU or clamp on the last layer) before the softmax"


def _clipped_before_softmax(out2: np.ndarray) -> list[Evidence]:
    """Class outputs of which, in most rows, two or more share exactly the row's lowest value (above 0)
    though the row is not constant: what a ReLU (or a clamp) on the logits leaves before a softmax or
    log-softmax, or in raw logits. Unclipped float logits never tie. Exact zeros of probabilities are
    left alone: a softmax over huge logits underflows to them; so is a clip that holds few of the
    outputs (``CLIPPED_MIN_SHARE``), which costs them little of their gradient."""
    if out2.ndim != 2 or out2.shape[1] < 3 or len(out2) < 2 or out2.dtype.kind != "f" or out2.dtype.itemsize < 4 \
            or not np.isfinite(out2).all():
        return []
    low = out2.min(axis=1, keepdims=True)
    ties = (out2 == low).sum(axis=1)
    clipped = (ties >= 2) & (out2.max(axis=1) > low[:, 0])
    probabilities = out2.min() >= 0 and np.allclose(out2.sum(axis=1), 1.0, atol=1e-3)
    if probabilities:
        clipped &= low[:, 0] > 0
    if clipped.mean() < CLIPPED_MIN_ROWS or (out2 == low).mean() < CLIPPED_MIN_SHARE:
        return []
    where = "probabilities" if probabilities else "log-probabilities" if np.allclose(
        np.log(np.exp(out2.astype(np.float64)).sum(axis=1)), 0.0, atol=1e-3) else "outputs"
    return [(C.OUTPUT_ACTIVATION,
             f"{_CLIPPED}: in {int(clipped.sum())} of {len(out2)} rows of {where}, {int(ties[clipped].min())} or "
             "more classes share exactly the row's lowest value, which unclipped logits never do; no class can be "
             "scored below the clip. Remove the activation of the last layer")]


def _binary_loss_over_one_hot(loss_at: LossAt, onehot: np.ndarray, form: str, shape: tuple) -> list[Evidence]:
    """Every target row holds exactly one 1 (single-label classes), yet the loss treats each output
    on its own: a categorical cross-entropy depends only on the true class's share (it ignores a
    constant added to every logit of a row, or probability mass moved between the wrong classes);
    a binary cross-entropy does not."""
    k = onehot.shape[1]
    if k < 2 or not np.all(onehot.sum(axis=1) == 1):
        return []
    def at(a: np.ndarray) -> float:
        return loss_at(np.ascontiguousarray(a.reshape(shape), dtype=np.float32))

    if form == "logits":
        a = 3.0 * (2 * onehot - 1)
        la, lb = at(a), at(a + 3.0)
        if not (_finite(la) and _finite(lb)) or _same(la, lb) or _regressed_onto(at, onehot, min(la, lb)):
            return []
        how = f"adding 3 to every logit of a row changes it ({fmt(la)} → {fmt(lb)})"
    else:
        # separable in each output, and worse when a wrong class's probability rises: each output
        # scored on its own (a categorical loss ignores the wrong classes or renormalises the row)
        if k < 3:
            return []
        rows = np.arange(len(onehot))
        wrong = np.argsort(onehot, axis=1, kind="stable")[:, :2]  # two wrong classes per row
        base = 0.6 * onehot + 0.1 * (1 - onehot)
        first, second, both = base.copy(), base.copy(), base.copy()
        first[rows, wrong[:, 0]] += 0.2
        second[rows, wrong[:, 1]] += 0.2
        both[rows, wrong[:, 0]] += 0.2
        both[rows, wrong[:, 1]] += 0.2
        l0, l1, l2, l12 = at(base), at(first), at(second), at(both)
        if not all(_finite(v) for v in (l0, l1, l2, l12)):
            return []
        d1, d2, d12 = l1 - l0, l2 - l0, l12 - l0
        if not (d1 > 1e-4 * max(1.0, abs(l0)) and abs(d12 - d1 - d2) <= 1e-3 * (abs(d1) + abs(d2))):
            return []
        how = (f"raising a wrong class's probability raises it ({fmt(l0)} → {fmt(l1)}), and two such changes add "
               "up exactly")
    return [(C.LOSS_MISMATCH, f"every target row holds exactly one 1 (single-label classes), but the loss scores each "
                              f"output on its own: {how}, which a categorical "
                              "cross-entropy never does; use CrossEntropyLoss / categorical_crossentropy (or pass "
                              "task='multilabel' if samples may hold several labels)")]


def _regressed_onto(at: Callable[[np.ndarray], float], onehot: np.ndarray, confident: float) -> bool:
    """Whether the loss is lowest where unbounded outputs equal the one-hot rows themselves — below
    ``confident`` (its value at confident logits) and below the rows moved by ±0.1 in any output: a
    regression onto the one-hot rows (MSE, MAE, Huber: the Keras guide's custom MSE on
    ``one_hot(y)``), which a linear head can fit exactly; a binary cross-entropy on logits is lower
    at ±3 than at 0/1, and a cross-entropy gone wrong has no minimum there."""
    base = at(onehot.astype(np.float64))
    if not _finite(base) or not base < confident - 1e-6:
        return False
    rng = np.random.default_rng(0)
    for _ in range(4):
        step = 0.1 * rng.choice([-1.0, 1.0], size=onehot.shape)
        if not all(_finite(v) and v > base for v in (at(onehot + step), at(onehot - step))):
            return False
    return True


_HEAD_BOUNDS = ((0.0, 1.0, "[0, 1] (a sigmoid on the last layer)"),
                (-1.0, 1.0, "[-1, 1] (a tanh on the last layer)"),
                (0.0, np.inf, "≥ 0 (a ReLU on the last layer)"))


def _finite_outputs(outputs: list[np.ndarray | None]) -> list[np.ndarray]:
    """The outputs that are there and finite (a run that diverged shows nothing of a head's range)."""
    return [o for o in outputs if o is not None and o.size and np.isfinite(o).all()]


def head_bound(targets: np.ndarray, outputs: list[np.ndarray | None]) -> tuple[float, float, str] | None:
    """The narrowest range of a bounded head (a sigmoid's, a tanh's, a ReLU's) that holds every
    output seen, before and after training, where at least ``HEAD_OUTSIDE_SHARE`` of the value
    targets lie outside it; None otherwise (or where outputs or targets are empty or not finite: a
    step's dummy empty target)."""
    seen = _finite_outputs(outputs)
    if not seen or not targets.size or not np.isfinite(targets).all():
        return None
    lo = min(float(o.min()) for o in seen)
    hi = max(float(o.max()) for o in seen)
    t = targets.reshape(-1)
    for low, high, what in _HEAD_BOUNDS:
        if lo >= low and hi <= high:
            return (low, high, what) if float(((t < low) | (t > high)).mean()) >= HEAD_OUTSIDE_SHARE else None
    return None


def _outside(targets: np.ndarray, outputs: list[np.ndarray | None], bound: tuple[float, float, str]) -> str:
    """The figures that show the targets beyond a head's range, for a message."""
    low, high, what = bound
    seen = _finite_outputs(outputs)
    t = targets.reshape(-1)
    share = float(((t < low) | (t > high)).mean())
    return (f"the outputs stay in {what} before and after training (seen {fmt(min(float(o.min()) for o in seen))}.."
            f"{fmt(max(float(o.max()) for o in seen))}) while {share:.0%} of the targets lie outside (targets "
            f"{fmt(float(t.min()))}..{fmt(float(t.max()))})")


def head_cannot_reach(targets: np.ndarray, outputs: list[np.ndarray]) -> list[Evidence]:
    """Value targets outside the range the head's outputs stay pinned to (:func:`head_bound`), with
    the trained outputs pressed against the bound the outside targets lie beyond (a ReLU's exact
    zeros, a sigmoid or tanh within 2 % of its range) — for most of the samples whose targets lie
    beyond it, the outputs lined up with the targets one to one: a linear head that merely has not
    moved far yet (a low learning rate) keeps its outputs inside by chance, and at most its extreme
    one near a bound."""
    bound = head_bound(targets, outputs)
    seen = _finite_outputs(outputs)
    if bound is None or not _pressed(targets.reshape(-1), seen[-1].reshape(-1), bound[0], bound[1]):
        return []
    return [(C.OUTPUT_ACTIVATION, f"{_outside(targets, outputs, bound)}, and the trained outputs are pressed "
                                  "against the bound: the head cannot reach them; drop the activation or rescale "
                                  "the targets")]


def normalised_axis(outputs: list[np.ndarray | None]) -> int | None:
    """The first axis past the batch's (two or more long) over which every output seen, before and
    after training, is ≥ 0 and sums to 1 at every position: the axis a softmax normalises. None
    where there is none (or no finite outputs)."""
    seen = _finite_outputs(outputs)
    if not seen or any(o.shape != seen[0].shape or float(o.min()) < 0 for o in seen):
        return None
    for k in range(1, seen[0].ndim):
        if seen[0].shape[k] >= 2 and all(np.allclose(o.sum(axis=k), 1.0, rtol=0, atol=SUM_ATOL) for o in seen):
            return k
    return None


def normalised_elsewhere(targets: np.ndarray, outputs: list[np.ndarray | None],
                         loss_at: Callable[[np.ndarray], float]) -> list[Evidence]:
    """Outputs normalised over an axis (:func:`normalised_axis`, a softmax's) while targets of their
    shape, all in [0, 1], do not sum to 1 over it: at ``HEAD_OUTSIDE_SHARE`` of the positions or
    more their sum is neither 0 (a row the loss may skip) nor 1, and the loss (``loss_at`` of
    outputs) at the targets normalised over that axis — the nearest a head normalised there comes
    to them — stays more than 1 - OVERFIT_MIN_DROP of the way from the targets' loss to the initial
    outputs': a head normalised there cannot fit the batch as the check asks. A softmax over the
    wrong axis (Keras's default ``axis=-1`` on a channels-first tensor: ModelsGenesis' 3D U-Net), or
    over labels that are not exclusive. A loss that wants normalised outputs (advantage-weighted
    one-hot actions) scores the normalised targets as well as the targets, or better. Where the
    targets sum to 1 over another axis, that is named as the one the softmax belongs on."""
    y = np.asarray(targets)
    seen = _finite_outputs(outputs)
    if not seen or y.shape != seen[0].shape or y.ndim < 2 or not y.size or not np.isfinite(y).all() \
            or float(y.min()) < 0 or float(y.max()) > 1:
        return []
    k = normalised_axis(outputs)
    if k is None:
        return []
    sums = y.sum(axis=k)
    off = ~(np.isclose(sums, 1.0, rtol=0, atol=SUM_ATOL) | np.isclose(sums, 0.0, rtol=0, atol=SUM_ATOL))
    if float(off.mean()) < HEAD_OUTSIDE_SHARE:
        return []
    # the targets normalised over k (rows of zeros uniform: a softmax cannot give all zeros)
    total = y.sum(axis=k, keepdims=True)
    nearest = np.where(total > 0, y / np.where(total > 0, total, 1.0), 1.0 / y.shape[k]).astype(np.float32)
    at_targets, at_nearest, at_start = (loss_at(np.ascontiguousarray(a, dtype=np.float32))
                                        for a in (y, nearest, seen[0]))
    if not all(_finite(v) for v in (at_targets, at_nearest, at_start)) or at_start <= at_targets \
            or at_nearest - at_targets <= (1 - OVERFIT_MIN_DROP) * (at_start - at_targets):
        return []
    classes = [j for j in range(1, y.ndim) if j != k and y.shape[j] >= 2
               and np.allclose(y.sum(axis=j), 1.0, rtol=0, atol=SUM_ATOL)]
    where = (f"; the targets sum to 1 over axis {classes[0]} (length {y.shape[classes[0]]}): normalise over that "
             f"axis (softmax(axis={classes[0]}), dim={classes[0]})" if classes else
             "; if the labels are not exclusive (several per sample), a sigmoid per output fits them, a "
             "softmax does not")
    return [(C.OUTPUT_ACTIVATION,
             f"the outputs sum to 1 over axis {k} (length {y.shape[k]}) at every position, before and after "
             f"training (a softmax over that axis), while the targets' sums over it are neither 0 nor 1 at "
             f"{float(off.mean()):.0%} of the positions (up to {fmt(float(sums.max()))}): the nearest outputs "
             f"normalised there, the targets normalised over that axis, cost the loss {fmt(at_nearest)} against "
             f"{fmt(at_targets)} at the targets and {fmt(at_start)} at initialisation{where}")]


def pressed_in_retries(targets: np.ndarray, outputs: list[np.ndarray | None], bound: tuple[float, float, str],
                       retried: dict[float, np.ndarray]) -> list[Evidence]:
    """The failed run stayed in a bounded head's range (:func:`head_bound`) without pressing against
    it, yet the retries at larger learning rates that trained it hard press the outputs against the
    bound (:func:`_pressed`) and none went past it: what a head bounded there does, where one that can
    reach the targets (a linear one at a low rate, whose outputs merely stayed inside so far) goes past
    the bound once a retry trains it hard. NVIDIA DeepRecommender's sigmoid on its rating head: the
    run's outputs averaged 0.97 for ratings above 1 after 400 steps at SGD 0.01, every retry at ×100 and
    above pinned them at 1."""
    low, high, _ = bound
    harder = {f: o for f, o in retried.items() if f > 1 and o.shape == targets.shape and np.isfinite(o).all()}
    if not harder or any(float(o.min()) < low or float(o.max()) > high for o in harder.values()):
        return []
    pressed = sorted(f for f, o in harder.items() if _pressed(targets.reshape(-1), o.reshape(-1), low, high))
    if not pressed:
        return []
    rates = ", ".join(f"×{f:g}" for f in pressed)
    return [(C.OUTPUT_ACTIVATION,
             f"{_outside(targets, outputs, bound)}; retries at the learning rate {rates} press the outputs against "
             f"the bound for most of those targets and no retry ({len(harder)} at larger rates) went past it: the head "
             "cannot reach them; drop the activation or rescale the targets")]


def _pressed(t: np.ndarray, out: np.ndarray, low: float, high: float) -> bool:
    """Whether the trained outputs sit at the bound the outside targets lie beyond (within 2 % of
    the head's range, or of the outputs' spread above a lower bound alone): per sample, for most of
    those samples. Outputs that do not line up with the targets one to one (32 embedding values
    against 300 input features, under a loss of its own) say nothing of what the head can reach."""
    below, above = t < low, t > high
    if out.shape != t.shape:
        return False
    tol = 0.02 * (high - low) if np.isfinite(high) else 0.02 * max(float(out.max()) - low, 0.0)
    at = (below & (out <= low + tol)) | (above & (out >= high - tol))
    return bool(at.sum() >= 0.5 * (below | above).sum())


# The headline of each kind of target problem whose evidence opens with a fixed phrase.
HEADLINES: tuple[tuple[str, str], ...] = (
    (_CLIPPED, "the outputs are clipped before the softmax"),
    (_OWN_SOFTMAX, "the outputs are softmaxed twice: probabilities into a loss that applies its own softmax"),
    (_SOFTMAX_INSIDE, "the outputs are softmaxed twice: the loss softmaxes them before its cross-entropy"),
    (_TRACED, "training scores the logits beneath the last activation, not the outputs"),
    (_UNBOUNDED, "the loss has no floor: it falls without bound as the outputs grow"),
    (_LINEAR, "the loss is linear in the probabilities: a badly wrong sample is pushed no harder than a right one"),
    (ALWAYS_ONE, "the head's single output is 1 whatever the input"),
    (_BROADCAST, "the loss broadcasts the outputs against targets of another shape"),
)
