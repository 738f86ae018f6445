"""Thread discipline inside a check: torch's intra-op threads are kept at what the model's size
can use, never above the cores this process may use (divided among pytest-xdist workers), and
restored after. Threads that outnumber the free cores wait on each other at every parallel op: on
a busy machine a small model's step then runs tens of times slower, while one thread loses nothing
on ops that small. The count depends on the model and the machine, never on the load, so the
figures of a seeded check do not change with it."""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Any, Iterator

from pytest_mlcheck.thresholds import THREAD_PARAMETERS


def available_cores() -> int:
    """Cores this process may run on, shared fairly among the pytest-xdist workers of the run."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    try:
        workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    except ValueError:
        workers = 1
    return max(1, cores // max(1, workers))


def useful_threads(parameters: int) -> int:
    """Threads a model of this many parameters keeps busy: one per THREAD_PARAMETERS of them."""
    return 1 + parameters // THREAD_PARAMETERS


@contextlib.contextmanager
def thread_budget(model: Any = None) -> Iterator[int | None]:
    """Within the block torch uses at most ``useful_threads`` for a torch ``model`` and at most
    ``available_cores()`` (never more than the user set); yields the count, or None when torch
    is not loaded. TensorFlow fixes its thread pools when it starts, so only its own settings
    (or TF_NUM_INTRAOP_THREADS) apply to it."""
    torch = sys.modules.get("torch")
    if torch is None:
        yield None
        return
    before = torch.get_num_threads()
    limit = min(before, available_cores())
    if isinstance(model, torch.nn.Module):
        sized = [p for p in model.parameters() if not isinstance(p, torch.nn.parameter.UninitializedParameter)]
        limit = min(limit, useful_threads(sum(p.numel() for p in sized)))
    if limit != before:
        torch.set_num_threads(limit)
    try:
        yield limit
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
