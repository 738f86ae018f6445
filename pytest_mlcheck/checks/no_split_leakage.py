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


def _records(split: Any) -> list[Any] | None:
    """The samples of a split that are records rather than numeric arrays — texts, bytes, token
    dicts, table rows — or None for numeric splits. Accepts a list or array of them, an (x, y) pair
    whose x is one, a DataFrame (rows), and a loader or dataset yielding any of those."""
    if hasattr(split, "itertuples") and hasattr(split, "columns"):  # a DataFrame: its rows
        return [tuple(row) for row in split.itertuples(index=False)]
    if isinstance(split, np.ndarray):
        return list(split) if split.dtype.kind in "USO" else None
    if _is_tf_strings(split):
        return _flat(as_numpy(split))
    if isinstance(split, (list, tuple)):
        if not split:
            return None  # empty: the numeric reading says so
        if len(split) == 2 and isinstance(split, tuple) and _records(split[0]) is not None \
                and not isinstance(split[0], (str, bytes)):
            return _records(split[0])  # (texts, labels)
        if all(isinstance(s, (str, bytes, dict)) for s in split):
            return list(split)
        return None
    if isinstance(split, (str, bytes, dict)) or hasattr(split, "shape") or not hasattr(split, "__iter__"):
        return None
    if type(split).__module__.startswith("torch") or not _yields_records(split):
        return None
    samples: list[Any] = []
    for item in split:
        found = _records(item) if not isinstance(item, (str, bytes, dict)) else [item]
        if found is None and isinstance(item, tuple) and item:
            found = _records(item[0]) if not isinstance(item[0], (str, bytes, dict)) else [item[0]]
        if found is None:
            return None
        samples.extend(found)
    return samples or None


def _is_tf_strings(value: Any) -> bool:
    dtype = getattr(value, "dtype", None)
    return getattr(dtype, "name", None) == "string" and hasattr(value, "numpy")


def _yields_records(split: Any) -> bool:
    """A dataset of strings (tf.data), or any iterable that is not a numeric loader."""
    spec = getattr(split, "element_spec", None)
    if spec is None:
        return True
    specs = spec if isinstance(spec, tuple) else (spec,)
    return getattr(getattr(specs[0], "dtype", None), "name", None) == "string"


def _flat(array: np.ndarray) -> list[Any]:
    return [array.item()] if array.ndim == 0 else list(array.reshape(-1))


def _canonical(sample: Any, ignore_case: bool, ignore_whitespace: bool) -> Any:
    """A hashable form of one record; texts folded as asked."""
    if isinstance(sample, bytes):
        try:
            sample = sample.decode("utf-8")
        except UnicodeDecodeError:
            return sample
    if isinstance(sample, str):
        if ignore_whitespace:
            sample = " ".join(sample.split())
        return sample.casefold() if ignore_case else sample
    if isinstance(sample, dict):
        return tuple(sorted((str(k), _canonical(v, ignore_case, ignore_whitespace)) for k, v in sample.items()))
    if isinstance(sample, (list, tuple)):
        return tuple(_canonical(v, ignore_case, ignore_whitespace) for v in sample)
    if hasattr(sample, "shape") or isinstance(sample, np.generic):
        value = as_numpy(sample)
        return _canonical(value.item() if value.ndim == 0 else value.tolist(), ignore_case, ignore_whitespace)
    return sample


def _record_pairs(train: list[Any], test: list[Any], ignore_case: bool, ignore_whitespace: bool) -> list[tuple[int, int]]:
    first_seen: dict[Any, int] = {}
    for i, sample in enumerate(train):
        first_seen.setdefault(_canonical(sample, ignore_case, ignore_whitespace), i)
    keys = (_canonical(sample, ignore_case, ignore_whitespace) for sample in test)
    return [(j, first_seen[k]) for j, k in enumerate(keys) if k in first_seen]


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
    ignore_case: bool = False,
    ignore_whitespace: bool = False,
    max_seconds: float | None = None,
) -> CheckResult:
    """No test sample's inputs also occur in ``train`` (exact content match, or within
    ``atol`` element-wise when given, compared pairwise under the time cap); at most
    ``max_overlap`` of the test samples may. Samples may be arrays and tensors, or records:
    texts, bytes, token dicts, DataFrame rows (``ignore_case``/``ignore_whitespace`` fold texts
    before comparing)."""
    if isinstance(max_overlap, bool) or not isinstance(max_overlap, (int, float)) or not 0 <= max_overlap < 1:
        raise usage("max_overlap", "a fraction in [0, 1) of test samples allowed in train", max_overlap)
    if atol is not None and (isinstance(atol, bool) or not isinstance(atol, (int, float)) or not atol >= 0
                             or not math.isfinite(atol)):
        raise usage("atol", "a non-negative number (the largest element-wise difference of a near-duplicate)", atol)
    for name, flag in (("ignore_case", ignore_case), ("ignore_whitespace", ignore_whitespace)):
        if not isinstance(flag, bool):
            raise usage(name, "True or False", flag)
    # a one-shot iterator is read once, here, and then looked at as a list
    train, test = (list(s) if hasattr(s, "__next__") else s for s in (train, test))
    texts_a, texts_b = _records(train), _records(test)
    if (texts_a is None) != (texts_b is None):
        raise usage("test", "samples of the same kind in both splits",
                    fix=f"train holds {'numeric arrays' if texts_a is None else 'records (texts, dicts, rows)'}, "
                        f"test {'numeric arrays' if texts_b is None else 'records'}")
    if texts_a is not None and texts_b is not None:
        if atol:
            raise usage("atol", "None for records (texts, dicts, rows)", atol,
                        fix="compare texts with ignore_case=/ignore_whitespace= instead")
        if not texts_a or not texts_b:
            raise usage("train" if not texts_a else "test", "at least one sample", fix="it holds none")
        pairs = _record_pairs(texts_a, texts_b, ignore_case, ignore_whitespace)
        n_a, n_b = len(texts_a), len(texts_b)
        folded = [w for w, on in (("case", ignore_case), ("whitespace", ignore_whitespace)) if on]
        match = "the same record" + (f" ignoring {' and '.join(folded)}" if folded else "")
    else:
        a, b = _samples(train, "train"), _samples(test, "test")
        if a.shape[1] != b.shape[1]:
            raise usage("test", f"samples of the same size as train's ({a.shape[1]} values each)",
                        fix=f"got {b.shape[1]}")
        pairs = _exact(a, b) if not atol else _near(a, b, float(atol), run)
        n_a, n_b = len(a), len(b)
        match = "exact content" if not atol else f"every value within {atol:g}"
    fraction = len(pairs) / n_b
    run.figure("train_samples", n_a, f"samples: {n_a} train, {n_b} test")
    run.figure("test_samples", n_b, "")
    run.figure("match", match)
    run.figure("overlap", len(pairs), f"overlap: {len(pairs)} of {n_b} test samples ({fraction:.2%}), "
                                      f"allowed {max_overlap:.2%}")
    run.figure("overlap_fraction", fraction, "")
    run.figure("max_overlap", float(max_overlap), "")
    if fraction <= max_overlap:
        return run.passed()
    shown = ", ".join(f"test[{j}] = train[{i}]" for j, i in pairs[:5]) + (" …" if len(pairs) > 5 else "")
    raise run.fail(f"{fraction:.2%} of the test samples also occur in the training split",
                   [(C.SPLIT_LEAKAGE, f"{len(pairs)} duplicated sample(s): {shown}; split before augmenting or "
                                      "deduplicate, so the test score measures unseen data")])
