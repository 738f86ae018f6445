"""Verdicts depend on the seed and the data, never on the machine: torch threads are kept at the
cores available inside a check, and a busy CPU changes no verdict or cause (budgets are steps; the
time cap is a hang guard that gives no verdict)."""

from __future__ import annotations

import multiprocessing
import time

import pytest
import torch
from torch import nn

import torch_corpus as tc
from pytest_mlcheck import CheckFailed, MLCheck
from pytest_mlcheck.backends.threads import available_cores

# A correct case and two broken ones of the training corpus (the broken ones run the probes).
NAMES = ("mlp, SGD 0.1 momentum", "mlp, lr 10 (SGD)", "cnn, own step without zero_grad (SGD)")


def _verdicts() -> list[tuple[str, bool, list[str]]]:
    out = []
    for case in tc.training_cases():
        if case.name not in NAMES:
            continue
        torch.manual_seed(0)
        try:
            MLCheck().overfit_one_batch(batch=tc.digits_batch(32), **case.build())
            out.append((case.name, True, []))
        except CheckFailed as failed:
            out.append((case.name, False, failed.causes))
    return out


def _spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_the_training_corpus_gets_the_same_verdicts_and_causes_on_a_busy_cpu() -> None:
    quiet = _verdicts()
    assert {name for name, _, _ in quiet} == set(NAMES)
    # a bounded load: one busy process per core, each stopping itself after 60 s at the latest
    load = [multiprocessing.get_context("spawn").Process(target=_spin, args=(60.0,), daemon=True)
            for _ in range(available_cores())]
    for p in load:
        p.start()
    try:
        busy = _verdicts()
    finally:
        for p in load:
            p.terminate()
            p.join()
    assert busy == quiet


def _threads_seen_in_a_check(user_threads: int) -> list[int]:
    """torch's thread count inside each forward pass of a check run while the user has set
    ``user_threads``; the user's setting must be back afterwards."""
    seen: list[int] = []

    class Probe(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = tc.digits_mlp()

        def forward(self, x):
            seen.append(torch.get_num_threads())
            return self.net(x)

    before = torch.get_num_threads()
    try:
        torch.set_num_threads(user_threads)
        MLCheck().output_range(Probe(), tc.held_out(16), kind="logits")
        assert torch.get_num_threads() == user_threads  # the user's setting is back
    finally:
        torch.set_num_threads(before)
    assert seen
    return seen


def test_inside_a_check_torch_uses_at_most_the_available_cores_and_the_users_setting_returns():
    assert max(_threads_seen_in_a_check(available_cores() + 3)) <= available_cores()


def test_fewer_threads_set_by_the_user_are_kept():
    assert set(_threads_seen_in_a_check(1)) == {1}


@pytest.mark.parametrize("workers,expected", [(None, 8), ("1", 8), ("3", 2), ("16", 1), ("junk", 8)])
def test_xdist_workers_share_the_cores_of_the_process(monkeypatch, workers, expected):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(8)), raising=False)
    if workers is None:
        monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    else:
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", workers)
    assert available_cores() == expected


def test_a_model_gets_one_thread_per_four_million_parameters_up_to_the_free_cores(monkeypatch):
    from pytest_mlcheck.backends import threads

    seen: list[int] = []

    class Wide(nn.Module):  # 5M parameters: two threads' worth
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2000, 2500)

        def forward(self, x):
            seen.append(torch.get_num_threads())
            return self.fc(x)

    monkeypatch.setattr(threads, "available_cores", lambda: 8)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(8)
        MLCheck().output_range(Wide(), torch.randn(4, 2000), kind="logits")
    finally:
        torch.set_num_threads(before)
    assert set(seen) == {2}


@pytest.mark.parametrize("worker,count,expected", [(None, 4, 0), ("gw0", 4, 0), ("gw5", 4, 1), ("gw3", 1, 0),
                                                   ("master", 4, 0), ("gw2", 0, 0)])
def test_xdist_workers_spread_over_the_gpus(monkeypatch, worker, count, expected):
    from pytest_mlcheck.backends import worker_device_index

    if worker is None:
        monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    else:
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    assert worker_device_index(count, 0) == expected
