"""preprocessing_parity: the same raw samples through the training and evaluation pipelines agree
element by element (shape, dtype, values); statistics only explain a difference."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Callable

import numpy as np

from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck.backends.rng import seeded_globals
from pytest_mlcheck import causes as C
from pytest_mlcheck.checks.runner import CheckRun, check
from pytest_mlcheck.errors import UserCodeError, call_user, usage
from pytest_mlcheck.report import CheckResult, fmt
from pytest_mlcheck.thresholds import PARITY_ATOL, PARITY_RTOL


def _apply(pipeline: Callable, sample: Any, seed: int, name: str) -> np.ndarray:
    with seeded_globals(seed):
        out = call_user(name, pipeline, sample)
    try:
        return as_numpy(out)
    except Exception:
        raise usage(name, "a pipeline that returns an array or tensor", out) from None


@check(strategy="raw_samples")
def preprocessing_parity(
    run: CheckRun,
    train_pipeline: Callable,
    eval_pipeline: Callable,
    raw_samples: Any,
    *,
    atol: float | None = None,
    rtol: float | None = None,
    seed: int | None = None,
    max_seconds: float | None = None,
    examples: int | None = None,
) -> CheckResult:
    """Each raw sample through both pipelines gives the same shape, dtype and values (within
    ``atol``/``rtol``). Global RNGs are seeded the same for both calls on a sample and
    restored after; compare the deterministic parts of pipelines with random augmentation.
    ``raw_samples`` may be a Hypothesis strategy drawing lists of samples."""
    settings = run.settings
    for name, fn in (("train_pipeline", train_pipeline), ("eval_pipeline", eval_pipeline)):
        if not callable(fn):
            raise usage(name, "a callable raw sample -> array or tensor", fn)
    if isinstance(raw_samples, (str, bytes)) or not isinstance(raw_samples, Iterable):
        raise usage("raw_samples", "a list or iterable of raw samples", raw_samples)
    samples = list(raw_samples)
    if not samples:
        raise usage("raw_samples", "at least one raw sample", raw_samples,
                    fix="It yielded nothing (an empty list or an exhausted generator)")
    a_tol = PARITY_ATOL if atol is None else _tol(atol, "atol")
    r_tol = PARITY_RTOL if rtol is None else _tol(rtol, "rtol")
    run.result.figures["samples"] = len(samples)
    run.figure("atol", a_tol, f"tolerance: atol {fmt(a_tol)}, rtol {fmt(r_tol)}")
    run.figure("rtol", r_tol, "")
    worst = 0.0
    for i, sample in enumerate(samples):
        if run.out_of_time():
            raise run.time_up(f"after {i} of {len(samples)} samples")
        try:
            a = _apply(train_pipeline, sample, settings.seed + i, "train_pipeline")
            b = _apply(eval_pipeline, sample, settings.seed + i, "eval_pipeline")
        except UserCodeError as err:
            raise run.fail(f"on sample {i}, {err}", [(C.PREPROCESSING_MISMATCH, f"{err.stage} cannot process sample "
                                                                             f"{i}: {type(err.exc).__name__}: {err.exc}")]
                           ) from err.exc
        if a.shape != b.shape:
            raise run.fail(f"sample {i}: train gives shape {a.shape}, eval gives {b.shape}",
                           [(C.PREPROCESSING_MISMATCH, _shape_story(a, b))])
        if a.dtype != b.dtype:
            raise run.fail(f"sample {i}: train gives {a.dtype}, eval gives {b.dtype}",
                           [(C.INPUT_DTYPE, f"train {a.dtype} in {_span(a)}, eval {b.dtype} in {_span(b)}")])
        fa, fb = a.astype(np.float64), b.astype(np.float64)
        if not np.array_equal(np.isnan(fa), np.isnan(fb)):
            raise run.fail(f"sample {i}: NaN in one pipeline's output only",
                           [(C.PREPROCESSING_MISMATCH, "NaN positions differ")])
        ok = np.isclose(fa, fb, atol=a_tol, rtol=r_tol, equal_nan=True)
        diff = np.where(np.isnan(fa) & np.isnan(fb), 0.0, np.abs(fa - fb))
        worst = max(worst, float(diff.max()) if diff.size else 0.0)
        if not ok.all():
            j = np.unravel_index(int(np.argmax(np.where(ok, 0, diff))), diff.shape)
            raise run.fail(
                f"sample {i}: {int((~ok).sum())} of {ok.size} values differ; worst at {tuple(int(k) for k in j)}: "
                f"train {fmt(float(fa[j]))}, eval {fmt(float(fb[j]))}",
                [(C.PREPROCESSING_MISMATCH, explain(fa, fb))],
            )
    run.result.figures["max_abs_difference"] = worst
    return run.passed()


def _tol(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise usage(name, "a non-negative number", value)
    return float(value)


def _span(a: np.ndarray) -> str:
    return f"{fmt(float(a.min()))}..{fmt(float(a.max()))}" if a.size else "empty"


def _channel_axis(a: np.ndarray) -> int | None:
    """The axis of 1, 3 or 4 channels: first or last of an image-like array."""
    if a.ndim < 3:
        return None
    for axis in (a.ndim - 1, a.ndim - 3):
        if a.shape[axis] in (1, 3, 4):
            return axis
    return None


def _stats(a: np.ndarray, axis: int | None) -> str:
    if axis is None or a.shape[axis] > 4:
        return f"mean {fmt(float(a.mean()))}, std {fmt(float(a.std()))}"
    moved = np.moveaxis(a, axis, 0).reshape(a.shape[axis], -1)
    return "per channel mean " + ", ".join(fmt(float(m)) for m in moved.mean(axis=1)) + \
        "; std " + ", ".join(fmt(float(s)) for s in moved.std(axis=1))


def _shape_story(a: np.ndarray, b: np.ndarray) -> str:
    if a.size == b.size and sorted(a.shape) == sorted(b.shape):
        return f"layout differs: {a.shape} vs {b.shape} (channels-first vs channels-last, or a missing transpose)"
    if a.ndim == b.ndim:
        return f"sizes differ: {a.shape} vs {b.shape} (a different resize or crop)"
    return f"{a.shape} vs {b.shape} (a batch or channel axis added in one pipeline only)"


def explain(a: np.ndarray, b: np.ndarray) -> str:
    """Say what the difference looks like: channel order, a transposed layout, a scale or shift."""
    axis = _channel_axis(a)
    if axis is not None and a.shape[axis] > 1 and np.allclose(np.flip(a, axis=axis), b, atol=1e-6):
        return f"channel order reversed on axis {axis} (RGB vs BGR); {_stats(a, axis)} vs {_stats(b, axis)}"
    if a.ndim >= 2 and a.shape == b.shape:
        for perm in _layout_perms(a):
            if np.allclose(np.transpose(a, perm).reshape(a.shape), b, atol=1e-6):
                return "same values in another order: a reshape where a transpose belongs (layout)"
    fa, fb = a.reshape(-1), b.reshape(-1)
    if fa.std() > 0:
        k, c = np.polyfit(fa, fb, 1)
        if np.allclose(k * fa + c, fb, atol=1e-4 * (np.abs(fb).max() + 1e-12) + 1e-6):
            return (f"eval = {fmt(float(k))} × train + {fmt(float(c))}: a scaling or normalisation applied in one "
                    f"pipeline only; {_stats(a, axis)} vs {_stats(b, axis)}")
    return f"{_stats(a, axis)} vs {_stats(b, axis)}"


def _layout_perms(a: np.ndarray) -> list[tuple[int, ...]]:
    """Transposes whose flat order, read back in the original shape, a reshape bug would produce."""
    if a.ndim != 3:
        return [tuple(reversed(range(a.ndim)))]
    return [(2, 0, 1), (1, 2, 0), (0, 2, 1), (1, 0, 2)]
