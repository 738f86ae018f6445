"""batch_independence: in eval mode, no sample's output depends on another sample of the batch."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck import diagnosis
from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck.checks.common import finite_samples, perturbed
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec, check
from pytest_mlcheck.data import input_batches
from pytest_mlcheck.errors import NotSupported, UserCodeError, usage
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.thresholds import INDEPENDENCE_GRAD_RTOL, INDEPENDENCE_MAX_SAMPLES


def judgeable(inputs: Any) -> bool:
    """A batch of one sample cannot show one sample influencing another."""
    return hasattr(inputs, "shape") and len(inputs.shape) > 0 and int(inputs.shape[0]) >= 2


@check(strategy="inputs", judgeable=judgeable)
def batch_independence(
    run: CheckRun,
    model: Any,
    inputs: Any,
    *,
    output: Any = None,
    seed: int | None = None,
    device: str | None = None,
    max_seconds: float | None = None,
    examples: int | None = None,
) -> CheckResult:
    """In eval mode, output i does not depend on input j ≠ i: the gradient of output i reaches no
    other sample's inputs — for ids, the vectors their embedding lookups give (backward) — and
    changing one sample leaves the others' outputs unchanged, to within rounding (forward; where the
    backward probe found no path from any sample to another, a change counts only if a float64 copy
    of the model shows it too). ``inputs`` may be a Hypothesis strategy."""
    first = input_batches(inputs)[0]
    if not hasattr(first, "shape"):
        raise usage("inputs", "one array or tensor of samples (batch dimension first)", first,
                    fix="Pass the model's input tensor; structured (dict or tuple) inputs are not supported here")
    x = as_numpy(first)[:INDEPENDENCE_MAX_SAMPLES]
    n = len(x)
    # samples with NaN or inf inputs are neither changed nor compared: reported, not judged
    valid = finite_samples(x, n)
    if not valid.all():
        run.figure("non_finite_inputs", int((~valid).sum()),
                   f"non-finite inputs: {int((~valid).sum())} sample(s) with NaN or inf inputs, not judged")
    if n < 2:
        raise usage("inputs", "a batch of at least 2 samples (one sample cannot influence another)", first)
    rng = np.random.default_rng(run.settings.seed)
    ids = not np.issubdtype(x.dtype, np.floating)
    seed = run.settings.seed
    with run.session(model, TrainSpec(output=output), inference=True, explain=(x, None)) as session:
        # every pass draws the same noise: a model that samples at inference (a VAE) is compared like with like
        with session.same_draws(seed):
            base = session.predict(session.prepare(x))
        if len(base) != n:
            raise run.fail(f"the model returned {len(base)} output rows for {n} samples",
                           [(C.BATCH_MIXING, f"outputs of shape {base.shape} for inputs of shape {x.shape}: "
                                             "the batch dimension is reshaped or reduced away")])
        flat = base.reshape(n, -1).astype(np.float64)
        picks = np.flatnonzero(valid)
        probes = sorted({int(picks[0]), int(picks[len(picks) // 2]), int(picks[-1])}) if len(picks) else []
        backward, leak_share, no_path = _backward(run, session, session.prepare(x), probes, valid, ids, seed)
        wider = _Wider(session, x, seed) if no_path else None
        tol = diagnosis.independence_tolerance(flat[valid])  # rounding of these outputs
        forward = _forward(run, session, x, flat, probes, valid, rng, seed, wider, tol)
        reordered = None if forward or backward else _reordered(run, session, x, flat, valid, seed, wider, tol)
        if leak_share is not None:
            run.figure("gradient_leak", leak_share,
                       f"backward: the largest gradient reaching another sample is {fmt(leak_share)} of the one on "
                       f"the sample's own {'lookups (the vectors its ids look up)' if ids else 'inputs'} "
                       f"(allowed {fmt(INDEPENDENCE_GRAD_RTOL)})")
    run.result.figures["samples"] = n
    if reordered:
        raise run.fail("outputs depend on where a sample sits in the batch",
                       [(C.BATCH_MIXING, reordered + ": the model reads the sample's slot, not only the sample "
                                         "(position ids or a table indexed by an arange over the batch axis, size(0) "
                                         "where the sequence length size(1) was meant)")])
    if not forward and not backward:
        return run.passed()
    shown = forward[:1] + backward[:1]
    more = len(forward) + len(backward) - len(shown)
    raise run.fail("outputs depend on other samples of the batch",
                   [(C.BATCH_MIXING, "; ".join(shown) + (f" (and {more} more)" if more else "")
                     + ": a reshape/view or a reduction over the batch dimension (e.g. view(-1, n) on (n, c), "
                       "or a mean over dim 0)")])


def _backward(run: CheckRun, session: Any, prepared: Any, probes: list[int], valid: np.ndarray,
              ids: bool, seed: int) -> tuple[list[str], float | None, bool]:
    """The gradient of each probed sample's outputs on every other sample's inputs (or on the vectors
    their ids look up): what reached another, the largest share of a sample's own gradient that did
    (None: not followed), and whether every probe had a gradient of its own and none reached another
    (no path: then the forward probe's changes are rounding)."""
    n = len(valid)
    found: list[str] = []
    leak_share = 0.0
    followed = 0
    for i in probes:
        with session.same_draws(seed):
            grad = session.input_gradient(prepared, i)
        if grad is None:
            run.result.notes.append(
                "the inputs are ids, and no embedding lookup reading them one sample per slice could be followed "
                "(there is none, or the backend traces the whole call: Keras on JAX): judged by the forward probe "
                "only" if ids else "the inputs have no gradient to follow: judged by the forward probe only")
            return [], None, False
        g = np.nan_to_num(np.abs(grad.reshape(n, -1).astype(np.float64)), nan=0.0, posinf=0.0)
        own = float(g[i].max())
        rest = [k for k in np.flatnonzero(valid) if k != i]
        if not rest:
            continue
        per_sample = g[rest].max(axis=1)
        leak = float(per_sample.max())
        leak_share = max(leak_share, leak / own if own > 0 else (np.inf if leak > 0 else 0.0))
        followed += own > 0  # no gradient of its own: this probe shows no path either way
        if leak > INDEPENDENCE_GRAD_RTOL * own or (own == 0 and leak > 0):
            found.append(f"the gradient of output {i} reaches other samples (max {fmt(leak)} vs "
                         f"{fmt(own)} on its own {'lookups' if ids else 'input'}, e.g. sample "
                         f"{rest[int(np.argmax(per_sample))]})")
    return found, (leak_share if probes else None), bool(probes) and followed == len(probes) and leak_share == 0.0


def _forward(run: CheckRun, session: Any, x: np.ndarray, flat: np.ndarray, probes: list[int], valid: np.ndarray,
             rng: np.random.Generator, seed: int, wider: _Wider | None, tol: float) -> list[str]:
    """Each probed sample changed in turn: which other samples' outputs moved by more than rounding
    of the outputs (``tol``). ``wider``: no gradient path leads from one sample to another, so a move
    beyond that is re-measured on a float64 copy (:class:`_Wider`) before it counts."""
    n = len(valid)
    found: list[str] = []
    worst = 0.0
    for j in probes:
        changed = perturbed(x, j, rng)
        if changed is None:
            continue
        with session.same_draws(seed):
            out = _on_copy(session, changed).reshape(n, -1).astype(np.float64)
        others = np.array([i for i in np.flatnonzero(valid) if i != j], dtype=int)
        if not len(others):
            continue
        delta = _moved(flat[others], out[others])
        worst = max(worst, float(delta.max()))
        moved = others[delta > tol]
        if len(moved) and wider is not None:
            moved = wider.still_moved(changed, others, delta, tol_moved=moved)
        if len(moved):
            found.append(f"changing sample {j} changed the outputs of {len(moved)} other sample(s) "
                         f"(first {int(moved[0])}, by up to {fmt(float(delta.max()))})")
    run.figure("largest_change_elsewhere", worst,
               f"forward: largest change in another sample's output {fmt(worst)} (allowed {fmt(tol)})")
    run.figure("allowed_change", tol, "")
    finite = flat[valid][np.isfinite(flat[valid])]
    run.figure("output_scale", float(np.abs(finite).max(initial=0.0)), "")  # what the allowance is a share of
    if wider is not None and wider.line is not None:
        run.result.notes.append(wider.line)
    return found


def _reordered(run: CheckRun, session: Any, x: np.ndarray, flat: np.ndarray, valid: np.ndarray, seed: int,
               wider: _Wider | None, tol: float) -> str | None:
    """The batch in reverse order: a model that treats every sample alike gives each one the outputs it
    gave in place; one that reads a sample's slot (position ids from the batch axis) does not (what
    moved beyond ``tol``, said; None). Asked where no sample reached another. A model that draws
    noise at inference gets other draws in other slots, so it is asked only of a model whose
    outputs stay put under other draws."""
    n = len(valid)
    order = np.arange(n)[::-1]
    prepared = session.prepare(x)
    with session.same_draws(seed):
        session.predict(prepared)  # the second pass draws anew from every generator the first moved on
        redrawn = session.predict(prepared).reshape(n, -1).astype(np.float64)
    if (_moved(flat[valid], redrawn[valid]) > tol).any():
        run.result.notes.append("the outputs change with the random draws (sampling at inference): the batch's "
                                "order is not probed")
        return None
    # a slice, then a fresh C-ordered copy: fancy indexing leaves a unit axis an odd stride, which torch
    # reads as channels-last (a convolution's output then refuses .view)
    reversed_x = np.ascontiguousarray(x[::-1])
    with session.same_draws(seed):
        out = _on_copy(session, reversed_x).reshape(n, -1).astype(np.float64)[np.argsort(order)]
    samples = np.flatnonzero(valid)
    delta = _moved(flat[samples], out[samples])
    worst = float(delta.max(initial=0.0))
    run.figure("largest_change_reversed", worst,
               f"reversed batch: largest change in a sample's output {fmt(worst)} (allowed {fmt(tol)})")
    moved = samples[delta > tol]
    if len(moved) and wider is not None:
        moved = wider.still_moved(reversed_x, samples, delta, tol_moved=moved, order=order)
    if not len(moved):
        return None
    return (f"reversing the batch's order changed the outputs of {len(moved)} sample(s) (first {int(moved[0])}, by up "
            f"to {fmt(worst)}; outputs up to {fmt(float(np.abs(flat[samples]).max(initial=0.0)))}), though no sample's "
            "change reached another")


def _moved(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """How far each sample's outputs moved; NaN before and after is no change (a sample with NaN
    inputs), NaN appearing is one."""
    delta = np.abs(after - before)
    delta = np.where(np.isnan(before) & np.isnan(after), 0.0, np.where(np.isnan(delta), np.inf, delta))
    return delta.max(axis=1)


def _on_copy(session: Any, x: np.ndarray) -> np.ndarray:
    """The model's outputs for a copy of the batch a probe built; an error there is marked as the
    copy's (error_causes then says the model refuses batches composed otherwise)."""
    try:
        return session.predict(session.prepare(x))
    except UserCodeError as err:
        err.on_built_copy = True
        raise


class _Wider:
    """Where no gradient path leads from one sample to another, a change in another sample's output
    beyond the rounding bar is float32 rounding that the network amplified (PyTorch's CPU GroupNorm on
    channels-last activations rounds a sample's statistics differently as its neighbours change;
    EGE-UNet carries that to 1e-4 of its outputs on a CPU and 7e-3 on a GPU) unless the same change
    shows on a float64 copy of the model, made once per check. Where no such copy can be made (Keras,
    a model that will not copy or compute in float64), the rounding bar stands as it is."""

    def __init__(self, session: Any, x: np.ndarray, seed: int) -> None:
        self.session, self.x, self.seed = session, x, seed
        self.predict: Callable[[Any], np.ndarray] | None = None
        self.unsupported: NotSupported | None = None  # once refused, not tried again (a copy per try)
        self.base: np.ndarray | None = None
        self.worst32 = self.worst64 = 0.0
        self.line: str | None = None

    def _predict(self, x: np.ndarray) -> np.ndarray:
        if self.predict is None:
            self.predict = self.session.float64_predictor()
        with self.session.same_draws(self.seed):
            out = self.predict(self.session.prepare(x))
        return out.reshape(len(x), -1).astype(np.float64)

    def still_moved(self, changed: np.ndarray, others: np.ndarray, delta: np.ndarray,
                    tol_moved: np.ndarray, order: np.ndarray | None = None) -> np.ndarray:
        """The ``others`` whose move (``delta``: in float32) shows on the float64 copy too;
        ``tol_moved`` (those beyond the float32 bar) where no such copy can be had. ``order``: the
        samples of ``changed`` are the batch's in this order (its outputs are put back first)."""
        self.worst32 = max(self.worst32, float(np.abs(delta[np.isfinite(delta)]).max(initial=0.0)))
        if self.unsupported is None:
            try:
                if self.base is None:
                    self.base = self._predict(self.x)
                wide = self._predict(changed)
                wide = _moved(self.base[others], (wide if order is None else wide[np.argsort(order)])[others])
            except NotSupported as exc:
                self.unsupported = exc
        if self.unsupported is not None:
            self.line = (f"no gradient path leads from one sample to another, but the forward changes could not be "
                         f"measured again in float64 ({self.unsupported}): they are judged as float32 rounding's bar "
                         "says")
            return tol_moved
        self.worst64 = max(self.worst64, float(wide.max()))
        tol = diagnosis.independence_tolerance(self.base)
        self.line = (f"no gradient path leads from one sample to another, so the forward changes (up to "
                     f"{fmt(self.worst32)}) were measured again on a float64 copy of the model: up to "
                     f"{fmt(self.worst64)} there (allowed {fmt(tol)}), "
                     + ("the same dependence" if self.worst64 > tol else "float32 rounding"))
        return others[wide > tol]
