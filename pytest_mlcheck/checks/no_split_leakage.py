"""no_split_leakage: no test sample's inputs also occur in the training split."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

from pytest_mlcheck import causes as C
from pytest_mlcheck.backends import as_numpy
from pytest_mlcheck.checks.runner import CheckRun, check
from pytest_mlcheck.data import input_batches
from pytest_mlcheck.errors import usage
from pytest_mlcheck.report import CheckResult
from pytest_mlcheck.thresholds import NEAR_CHUNK_ELEMENTS


def _samples(split: Any, argument: str) -> np.ndarray:
    """Every sample of a split as rows of one numpy array (inputs only; targets are ignored)."""
    batches = input_batches(split, argument=argument, max_samples=None)
    rows = []
    for b in batches:
        if not hasattr(b, "shape"):
            raise usage(argument, "arrays or tensors of samples (or (x, y) pairs of them)", b)
        array = as_numpy(b)
        rows.append(np.ascontiguousarray(array.reshape(len(array), -1)))
    shapes = {r.shape[1] for r in rows}
    if len(shapes) > 1:
        raise usage(argument, "samples of one shape", fix=f"its batches hold samples of {len(shapes)} different sizes")
    return np.concatenate(rows, axis=0)


def _digest(row: np.ndarray) -> bytes:
    return hashlib.blake2b(row.tobytes(), digest_size=16).digest()


def _exact(train: np.ndarray, test: np.ndarray) -> list[tuple[int, int]]:
    first_seen: dict[bytes, int] = {}
    for i, row in enumerate(train):
        first_seen.setdefault(_digest(row), i)
    return [(j, first_seen[d]) for j, d in ((j, _digest(row)) for j, row in enumerate(test)) if d in first_seen]


def _near(train: np.ndarray, test: np.ndarray, atol: float, run: CheckRun) -> list[tuple[int, int]]:
    a = train.astype(np.float64)
    # test rows compared at once: bounded memory, and a time check every few milliseconds of work
    rows = max(1, int(NEAR_CHUNK_ELEMENTS // max(1, a.size)))
    pairs = []
    for start in range(0, len(test), rows):
        if run.out_of_time():
            raise run.time_up(f"after comparing {start} of {len(test)} test samples pairwise")
        chunk = test[start:start + rows].astype(np.float64)
        # max |difference| over features, for every (test row, train row) pair of the chunk
        dist = np.abs(chunk[:, None, :] - a[None, :, :]).max(axis=2)
        for k, row in enumerate(dist):
            hit = np.flatnonzero(row <= atol)
            if hit.size:
                pairs.append((start + k, int(hit[0])))
    return pairs


@check()
def no_split_leakage(
    run: CheckRun,
    train: Any,
    test: Any,
    *,
    max_overlap: float = 0.0,
    atol: float | None = None,
    max_seconds: float | None = None,
) -> CheckResult:
    """No test sample's inputs also occur in ``train`` (exact content match, or within
    ``atol`` element-wise when given, compared pairwise under the time cap); at most
    ``max_overlap`` of the test samples may."""
    if isinstance(max_overlap, bool) or not isinstance(max_overlap, (int, float)) or not 0 <= max_overlap < 1:
        raise usage("max_overlap", "a fraction in [0, 1) of test samples allowed in train", max_overlap)
    if atol is not None and (isinstance(atol, bool) or not isinstance(atol, (int, float)) or not atol >= 0
                             or not math.isfinite(atol)):
        raise usage("atol", "a non-negative number (the largest element-wise difference of a near-duplicate)", atol)
    a, b = _samples(train, "train"), _samples(test, "test")
    if a.shape[1] != b.shape[1]:
        raise usage("test", f"samples of the same size as train's ({a.shape[1]} values each)", fix=f"got {b.shape[1]}")
    pairs = _exact(a, b) if not atol else _near(a, b, float(atol), run)
    fraction = len(pairs) / len(b)
    run.figure("train_samples", len(a), f"samples: {len(a)} train, {len(b)} test")
    run.figure("test_samples", len(b), "")
    run.figure("match", "exact content" if not atol else f"every value within {atol:g}")
    run.figure("overlap", len(pairs), f"overlap: {len(pairs)} of {len(b)} test samples ({fraction:.2%}), "
                                      f"allowed {max_overlap:.2%}")
    run.figure("overlap_fraction", fraction, "")
    run.figure("max_overlap", float(max_overlap), "")
    if fraction <= max_overlap:
        return run.passed()
    shown = ", ".join(f"test[{j}] = train[{i}]" for j, i in pairs[:5]) + (" …" if len(pairs) > 5 else "")
    raise run.fail(f"{fraction:.2%} of the test samples also occur in the training split",
                   [(C.SPLIT_LEAKAGE, f"{len(pairs)} duplicated sample(s): {shown}; split before augmenting or "
                                      "deduplicate, so the test score measures unseen data")])
