"""The per-check time cap: checked between steps (no signals, so it works beside pytest-timeout), a
check that reaches it fails with a message that says so and how to raise it, instead of hanging CI."""

from __future__ import annotations

import re
import time

import numpy as np
import pytest
import torch
from torch import nn

import torch_corpus as tc
from pytest_mlcheck import CheckFailed, CheckIncomplete

CE = nn.CrossEntropyLoss


class Slow(nn.Module):
    """A digits MLP whose every forward pass computes for 20 ms (a stand-in for a big model)."""

    def __init__(self, seconds: float = 0.02) -> None:
        super().__init__()
        self.net = tc.digits_mlp()
        self.seconds = seconds

    def forward(self, x):
        tc.spend_cpu(self.seconds)
        return self.net(x)


def _slow_pipeline(image):
    tc.spend_cpu(0.05)
    return torch.from_numpy(image.astype(np.float32))


CALLS = [
    ("overfit_one_batch", lambda m: m.overfit_one_batch(Slow(), tc.digits_batch(32), loss_fn=CE(), steps=400,
                                                        max_seconds=0.5)),
    ("loss_decreases", lambda m: m.loss_decreases(Slow(), tc.digits_batches(4), loss_fn=CE(), steps=400,
                                                  max_seconds=0.5)),
    ("not_constant_predictions", lambda m: m.not_constant_predictions(
        Slow(), tc.held_out(), train_on=tc.digits_batches(4), loss_fn=CE(), steps=400, max_seconds=0.5)),
    ("input_independent_baseline", lambda m: m.input_independent_baseline(
        Slow(), tc.digits_batch(64), loss_fn=CE(), steps=400, max_seconds=0.5)),
    ("preprocessing_parity", lambda m: m.preprocessing_parity(_slow_pipeline, _slow_pipeline,
                                                              tc.raw_images(6) * 10, max_seconds=0.5)),
    ("no_split_leakage", lambda m: m.no_split_leakage(np.random.default_rng(0).random((4000, 64)),
                                                      np.random.default_rng(1).random((4000, 64)), atol=1e-9,
                                                      max_seconds=0.05)),
]


@pytest.mark.parametrize("name,call", CALLS, ids=[c[0] for c in CALLS])
def test_a_check_that_reaches_its_time_cap_fails_saying_so(mlcheck, name, call):
    with pytest.raises(CheckFailed, match=r"stopped at the time cap \(0\.\d+s\)") as failed:
        call(mlcheck)
    assert isinstance(failed.value, CheckIncomplete) and failed.value.causes == []  # no verdict, no cause
    text = str(failed.value)
    done = re.search(r"after (?:comparing )?(\d+) of (\d+)", text)
    if done:  # it stopped part-way through its work
        assert int(done.group(1)) < int(done.group(2)), text
    else:
        assert 0 < failed.value.result.steps < 400, text


def test_probes_share_the_cap_and_reaching_it_there_names_no_cause(mlcheck):
    start = time.process_time()
    with pytest.raises(CheckIncomplete, match="while probing the cause") as stopped:
        # 10 ms a step, and SGD at 1e-5 moves the weights but learns nothing in 40 steps: the failure runs
        # the lr probes into the cap (at 1e-9 the weights do not move, which names lr_too_low before any probe)
        mlcheck.overfit_one_batch(Slow(0.01), tc.digits_batch(32), loss_fn=CE(), steps=40, max_seconds=1.0,
                                  optimizer=lambda p: torch.optim.SGD(p, lr=1e-5))
    worked = time.process_time() - start  # the work the cap counts, whatever else the machine runs
    assert stopped.value.causes == []  # a probe cut short would have named another cause, or none
    assert worked < 1.1 * 1.0 + 0.5, worked  # within ~10%, plus one step and the copies


def test_an_overfit_run_stopped_at_the_cap_says_how_many_samples_it_had_right(mlcheck):
    with pytest.raises(CheckIncomplete) as stopped:
        mlcheck.overfit_one_batch(Slow(), tc.digits_batch(32), loss_fn=CE(), steps=400, max_seconds=0.5)
    right = stopped.value.result.figures["accuracy"]
    assert 0 <= right <= 1
    assert re.search(r"accuracy: \d+/32 predicted right", str(stopped.value)), str(stopped.value)


class _Clocks:
    """A machine's two clocks, moved by hand: the wall clock and this process's CPU time."""

    def __init__(self) -> None:
        self.wall, self.cpu = 1000.0, 50.0

    def run(self, wall: float, cpu: float) -> None:
        self.wall += wall
        self.cpu += cpu


@pytest.fixture
def clocks(monkeypatch) -> _Clocks:
    from pytest_mlcheck.checks import runner

    c = _Clocks()
    monkeypatch.setattr(runner.time, "perf_counter", lambda: c.wall)
    monkeypatch.setattr(runner.time, "process_time", lambda: c.cpu)
    return c


def _run(max_seconds: float):
    from pytest_mlcheck.checks.runner import CheckRun
    from pytest_mlcheck.settings import Settings

    return CheckRun("overfit_one_batch", Settings(max_seconds=max_seconds))


def test_the_cap_counts_the_work_the_check_got_not_what_other_processes_took(clocks):
    run = _run(10.0)
    clocks.run(wall=40.0, cpu=8.0)  # a busy machine: 8 s of work took 40 s on the clock
    assert not run.out_of_time()
    clocks.run(wall=15.0, cpu=3.0)  # 11 s of work
    assert run.out_of_time()


def test_on_a_quiet_machine_the_clock_is_the_cap_though_threads_add_cpu_time(clocks):
    run = _run(10.0)
    clocks.run(wall=9.0, cpu=30.0)  # several threads: more CPU time than the clock
    assert not run.out_of_time()
    clocks.run(wall=2.0, cpu=6.0)
    assert run.out_of_time()


def test_a_check_that_waits_stops_at_a_multiple_of_the_cap_on_the_clock(clocks):
    from pytest_mlcheck.thresholds import HANG_CLOCK_FACTOR

    run = _run(10.0)
    clocks.run(wall=HANG_CLOCK_FACTOR * 10.0 - 1.0, cpu=0.5)  # a lock, a loader: no work
    assert not run.out_of_time()
    clocks.run(wall=2.0, cpu=0.0)
    assert run.out_of_time()


class _Waits(nn.Module):
    """A digits MLP whose every forward pass waits 20 ms without computing (a lock, a slow loader)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = tc.digits_mlp()

    def forward(self, x):
        time.sleep(0.02)
        return self.net(x)


def test_a_model_that_waits_is_stopped_by_the_clock_backstop(mlcheck):
    from pytest_mlcheck.thresholds import HANG_CLOCK_FACTOR

    start = time.perf_counter()
    with pytest.raises(CheckIncomplete, match=r"stopped at the time cap \(0\.2s\)"):
        mlcheck.overfit_one_batch(_Waits(), tc.digits_batch(32), loss_fn=CE(), steps=400, max_seconds=0.2)
    assert time.perf_counter() - start >= HANG_CLOCK_FACTOR * 0.2 * 0.9  # the waits were not counted as work
