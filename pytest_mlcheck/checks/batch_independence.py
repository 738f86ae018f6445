"""batch_independence: in eval mode, no sample's output depends on another sample of the batch."""

from __future__ import annotations

from typing import Any

import numpy as np

from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck.checks.common import CheckRun, TrainSpec, open_session, user_code_fails
from pytest_mlcheck.checks.training import error_causes
from pytest_mlcheck.data import input_batches
from pytest_mlcheck.errors import usage
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.settings import INDEPENDENCE_RTOL, Settings

MAX_SAMPLES = 16  # enough to see mixing; each probed sample costs a forward pass


def judgeable(inputs: Any) -> bool:
    """A batch of one sample cannot show one sample influencing another."""
    return hasattr(inputs, "shape") and len(inputs.shape) > 0 and int(inputs.shape[0]) >= 2


def _perturbed(x: np.ndarray, j: int, rng: np.random.Generator) -> np.ndarray | None:
    """``x`` with sample ``j`` changed: noise for floats, another distinct sample for integers."""
    changed = x.copy()
    if np.issubdtype(x.dtype, np.floating):
        scale = float(np.std(x[np.isfinite(x)])) if np.isfinite(x).any() else 1.0
        changed[j] = x[j] + rng.normal(0.0, scale or 1.0, size=x[j].shape).astype(x.dtype)
        return changed
    for k in range(1, len(x)):
        other = x[(j + k) % len(x)]
        if not np.array_equal(other, x[j]):
            changed[j] = other
            return changed
    return None


def batch_independence(model: Any, inputs: Any, *, settings: Settings, output: Any = None) -> CheckResult:
    run = CheckRun("batch_independence", settings)
    session = open_session(model, settings, TrainSpec(output=output), inference=True)
    try:
        first = input_batches(inputs)[0]
        if not hasattr(first, "shape"):
            raise usage("inputs", "one array or tensor of samples (batch dimension first)", first,
                        fix="Pass the model's input tensor; structured (dict or tuple) inputs are not supported here")
        x = as_numpy(first)[:MAX_SAMPLES]
        n = len(x)
        if n < 2:
            raise usage("inputs", "a batch of at least 2 samples (one sample cannot influence another)", first)
        rng = np.random.default_rng(settings.seed)
        forward: list[str] = []
        backward: list[str] = []
        with user_code_fails(run, lambda err: error_causes(err, session, (x, None))):
            base = session.predict(session.prepare(x))
            if len(base) != n:
                raise run.fail(f"the model returned {len(base)} output rows for {n} samples",
                               [("batch_mixing", f"outputs of shape {base.shape} for inputs of shape {x.shape}: "
                                                 "the batch dimension is reshaped or reduced away")])
            flat = base.reshape(n, -1).astype(np.float64)
            tol = INDEPENDENCE_RTOL * (float(np.max(np.abs(flat[np.isfinite(flat)]), initial=0.0)) + 1e-6)
            worst = 0.0
            for j in sorted({0, n // 2, n - 1}):
                changed = _perturbed(x, j, rng)
                if changed is None:
                    continue
                out = session.predict(session.prepare(changed)).reshape(n, -1).astype(np.float64)
                others = np.delete(np.arange(n), j)
                delta = np.abs(out[others] - flat[others])
                delta = np.where(np.isnan(delta), np.inf, delta).max(axis=1)
                worst = max(worst, float(delta.max()))
                moved = others[delta > tol]
                if len(moved):
                    forward.append(f"changing sample {j} changed the outputs of {len(moved)} other sample(s) "
                                    f"(first {int(moved[0])}, by up to {fmt(float(delta.max()))})")
            run.result.figures["forward"] = f"largest change in another sample's output {fmt(worst)} (allowed {fmt(tol)})"
            prepared = session.prepare(x)
            for i in sorted({0, n // 2, n - 1}):
                grad = session.input_gradient(prepared, i)
                if grad is None:
                    run.result.notes.append("inputs are not floating point: judged by the forward probe only")
                    break
                g = np.abs(grad.reshape(n, -1).astype(np.float64))
                own = float(g[i].max())
                leak = float(np.delete(g, i, axis=0).max())
                if leak > INDEPENDENCE_RTOL * own or (own == 0 and leak > 0):
                    other = int(np.argmax(np.delete(g, i, axis=0).max(axis=1)))
                    backward.append(f"the gradient of output {i} reaches other samples (max {fmt(leak)} vs "
                                    f"{fmt(own)} on its own input, e.g. sample {other + (other >= i)})")
        run.result.figures["samples"] = n
        if not forward and not backward:
            return run.passed()
        shown = forward[:1] + backward[:1]
        more = len(forward) + len(backward) - len(shown)
        raise run.fail("outputs depend on other samples of the batch",
                       [("batch_mixing", "; ".join(shown) + (f" (and {more} more)" if more else "")
                         + ": a reshape/view or a reduction over the batch dimension (e.g. view(-1, n) on (n, c), "
                           "or a mean over dim 0)")])
    finally:
        session.close()
