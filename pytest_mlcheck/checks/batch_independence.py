"""batch_independence: in eval mode, no sample's output depends on another sample of the batch."""

from __future__ import annotations

from typing import Any

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck import diagnosis
from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck.checks.common import finite_samples, perturbed
from pytest_mlcheck.checks.runner import CheckRun, TrainSpec, check
from pytest_mlcheck.data import input_batches
from pytest_mlcheck.errors import usage
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.thresholds import INDEPENDENCE_MAX_SAMPLES, INDEPENDENCE_RTOL


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
    """In eval mode, output i does not depend on input j ≠ i: changing one sample leaves the
    others' outputs unchanged (forward), and the gradient of output i reaches no other sample
    (backward, for float inputs). ``inputs`` may be a Hypothesis strategy."""
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
    forward: list[str] = []
    backward: list[str] = []
    with run.session(model, TrainSpec(output=output), inference=True, explain=(x, None)) as session:
        base = session.predict(session.prepare(x))
        if len(base) != n:
            raise run.fail(f"the model returned {len(base)} output rows for {n} samples",
                           [(C.BATCH_MIXING, f"outputs of shape {base.shape} for inputs of shape {x.shape}: "
                                             "the batch dimension is reshaped or reduced away")])
        flat = base.reshape(n, -1).astype(np.float64)
        judged = flat[valid]
        tol = diagnosis.independence_tolerance(judged)
        worst = 0.0
        picks = np.flatnonzero(valid)
        probes = sorted({int(picks[0]), int(picks[len(picks) // 2]), int(picks[-1])}) if len(picks) else []
        for j in probes:
            changed = perturbed(x, j, rng)
            if changed is None:
                continue
            out = session.predict(session.prepare(changed)).reshape(n, -1).astype(np.float64)
            others = np.array([i for i in np.flatnonzero(valid) if i != j], dtype=int)
            if not len(others):
                continue
            before, after = flat[others], out[others]
            delta = np.abs(after - before)
            # NaN before and after is no change (a sample with NaN inputs); NaN appearing is one
            delta = np.where(np.isnan(before) & np.isnan(after), 0.0, np.where(np.isnan(delta), np.inf, delta))
            delta = delta.max(axis=1)
            worst = max(worst, float(delta.max()))
            moved = others[delta > tol]
            if len(moved):
                forward.append(f"changing sample {j} changed the outputs of {len(moved)} other sample(s) "
                                f"(first {int(moved[0])}, by up to {fmt(float(delta.max()))})")
        run.figure("largest_change_elsewhere", worst,
                   f"forward: largest change in another sample's output {fmt(worst)} (allowed {fmt(tol)})")
        run.figure("allowed_change", tol, "")
        prepared = session.prepare(x)
        for i in probes:
            grad = session.input_gradient(prepared, i)
            if grad is None:
                run.result.notes.append("inputs are not floating point: judged by the forward probe only")
                break
            g = np.nan_to_num(np.abs(grad.reshape(n, -1).astype(np.float64)), nan=0.0, posinf=0.0)
            own = float(g[i].max())
            rest = [k for k in np.flatnonzero(valid) if k != i]
            if not rest:
                continue
            per_sample = g[rest].max(axis=1)
            leak = float(per_sample.max())
            if leak > INDEPENDENCE_RTOL * own or (own == 0 and leak > 0):
                backward.append(f"the gradient of output {i} reaches other samples (max {fmt(leak)} vs "
                                f"{fmt(own)} on its own input, e.g. sample {rest[int(np.argmax(per_sample))]})")
    run.result.figures["samples"] = n
    if not forward and not backward:
        return run.passed()
    shown = forward[:1] + backward[:1]
    more = len(forward) + len(backward) - len(shown)
    raise run.fail("outputs depend on other samples of the batch",
                   [(C.BATCH_MIXING, "; ".join(shown) + (f" (and {more} more)" if more else "")
                     + ": a reshape/view or a reduction over the batch dimension (e.g. view(-1, n) on (n, c), "
                       "or a mean over dim 0)")])
