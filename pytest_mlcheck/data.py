"""Framework-neutral reading of batches: (x, y) pairs, loaders and iterables of pairs."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from pytest_mlcheck.errors import usage


def _array_like(value: Any) -> bool:
    if hasattr(value, "shape"):
        return True
    if isinstance(value, Mapping):
        return bool(value) and all(_array_like(v) for v in value.values())
    if isinstance(value, (tuple, list)):
        return bool(value) and all(_array_like(v) for v in value)
    return False


def is_pair(value: Any) -> bool:
    """An (x, y) batch: a 2-sequence whose target is an array or tensor."""
    return (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and hasattr(value[1], "shape")
        and _array_like(value[0])
    )


def _check_pair(pair: Any, argument: str) -> tuple[Any, Any]:
    if not is_pair(pair):
        raise usage(argument, "(x, y) pairs of arrays or tensors", pair,
                    fix="Yield batches as (inputs, targets); for dict batches pass (batch['x'], batch['y'])")
    x, y = pair
    n_x = _length(x)
    n_y = _length(y)
    if n_x == 0 or n_y == 0:
        raise usage(argument, "a batch with at least one sample", pair)
    return x, y


def _length(value: Any) -> int | None:
    if hasattr(value, "shape"):
        shape = tuple(value.shape)
        return int(shape[0]) if shape else None
    if isinstance(value, Mapping):
        return _length(next(iter(value.values())))
    if isinstance(value, (tuple, list)):
        return _length(value[0])
    return None


LABELS = "labels"  # a dict batch (Hugging Face's convention) carries its targets under this key


def _as_pair(batch: Any) -> Any:
    """A dict batch with ``labels`` as (the other entries, the labels); any other batch unchanged."""
    if isinstance(batch, Mapping) and LABELS in batch:
        return {k: v for k, v in batch.items() if k != LABELS}, batch[LABELS]
    return batch


def _not_a_mapping(value: Any, argument: str) -> None:
    if isinstance(value, Mapping):
        raise usage(argument, "an (x, y) pair, or a loader or iterable of (x, y) pairs",
                    fix=f"got a dict with keys {sorted(map(str, value))[:6]}; pass (batch['x'], batch['y']), or "
                        f"put the targets under '{LABELS}'")


def one_batch(batch: Any, argument: str = "batch") -> tuple[Any, Any]:
    """One (x, y) pair: the pair itself (or a dict with ``labels``), or the first batch of a loader
    or iterable (consumed)."""
    batch = _as_pair(batch)
    _not_a_mapping(batch, argument)
    if is_pair(batch):
        return _check_pair(batch, argument)
    if isinstance(batch, (str, bytes)) or not isinstance(batch, Iterable):
        raise usage(argument, "an (x, y) pair, or a DataLoader or iterable of (x, y) pairs", batch)
    for first in batch:
        return _check_pair(_as_pair(first), argument)
    raise usage(argument, "at least one (x, y) batch", batch,
                fix="It yielded nothing (an empty list, a zero-batch loader or an exhausted generator)")


def batches_upto(batches: Any, limit: int, argument: str = "batches") -> list[tuple[Any, Any]]:
    """Up to ``limit`` (x, y) pairs from a single pair, a list, a loader or an iterable."""
    batches = _as_pair(batches)
    _not_a_mapping(batches, argument)
    if is_pair(batches):
        return [_check_pair(batches, argument)]
    if isinstance(batches, (str, bytes)) or not isinstance(batches, Iterable):
        raise usage(argument, "an iterable of (x, y) pairs (a list, DataLoader or generator)", batches)
    taken = [_check_pair(_as_pair(b), argument) for b in itertools.islice(batches, limit)]
    if not taken:
        raise usage(argument, "at least one (x, y) batch", batches,
                    fix="It yielded nothing (an empty list, a zero-batch loader or an exhausted generator)")
    return taken


def spread_samples(value: Any, n: int, keep: int) -> Any:
    """``keep`` of one batch's ``n`` samples, evenly spaced over it (every ``n // keep``-th from the
    first), of its inputs or targets: an array or tensor, or a dict, tuple or list of them (named or
    several inputs). A batch in order (a sorted column, consecutive windows of a series) holds
    near-duplicates side by side; spaced picks are as random as the first ones of a shuffled batch."""
    if isinstance(value, Mapping):
        return {k: spread_samples(v, n, keep) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(spread_samples(v, n, keep) for v in value)
    if not hasattr(value, "shape") or not value.shape:
        raise TypeError(f"cannot take samples of {type(value).__name__}")
    picked = value[::max(1, n // keep)][:keep]
    # a strided view as a fresh, contiguous array: a user's loss may .view() its targets
    if hasattr(picked, "contiguous"):  # torch
        return picked.contiguous()
    return picked.copy() if hasattr(picked, "flags") and hasattr(picked, "copy") else picked  # numpy: C order


def sample_count(x: Any) -> int:
    n = _length(x)
    if n is None:
        raise usage("batch", "inputs with a batch dimension", x)
    return n


def input_batches(inputs: Any, argument: str = "inputs", max_samples: int | None = 4096) -> list[Any]:
    """Model inputs as a list of x batches: one array or tensor, an (x, y) pair (x is used), or a
    loader / iterable of either, read until ``max_samples`` samples (None: all of them)."""
    if hasattr(inputs, "shape"):
        if not inputs.shape or inputs.shape[0] == 0:
            raise usage(argument, "a batch of at least one sample", inputs)
        return [inputs]
    if isinstance(inputs, Mapping):  # one batch of named inputs (input_ids, attention_mask, ...)
        x = {k: v for k, v in inputs.items() if k != LABELS}
        if not x or not _length(x):
            raise usage(argument, "named inputs with at least one sample", inputs)
        return [x]
    if is_pair(inputs):
        return [_check_pair(inputs, argument)[0]]
    if isinstance(inputs, (str, bytes)) or not isinstance(inputs, Iterable):
        raise usage(argument, "an array or tensor of samples, an (x, y) pair, or a loader of batches", inputs)
    taken: list[Any] = []
    total = 0
    for item in inputs:
        x = _check_pair(item, argument)[0] if is_pair(item) else item
        if not hasattr(x, "shape") or not x.shape:
            raise usage(argument, "batches of arrays or tensors (or (x, y) pairs)", item)
        taken.append(x)
        total += int(x.shape[0])
        if max_samples is not None and total >= max_samples:
            break
    if not total:
        raise usage(argument, "at least one sample", inputs,
                    fix="It yielded nothing (an empty list, a zero-batch loader or an exhausted generator)")
    return taken
