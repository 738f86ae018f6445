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
    """A digits MLP whose every forward pass takes 20 ms (a stand-in for a big model)."""

    def __init__(self, seconds: float = 0.02) -> None:
        super().__init__()
        self.net = tc.digits_mlp()
        self.seconds = seconds

    def forward(self, x):
        time.sleep(self.seconds)
        return self.net(x)


def _slow_pipeline(image):
    time.sleep(0.05)
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
    start = time.perf_counter()
    with pytest.raises(CheckIncomplete, match="while probing the cause") as stopped:
        # 10 ms a step, and SGD at 1e-9 cannot learn: the failure runs the lr probes into the cap
        mlcheck.overfit_one_batch(Slow(0.01), tc.digits_batch(32), loss_fn=CE(), steps=40, max_seconds=1.0,
                                  optimizer=lambda p: torch.optim.SGD(p, lr=1e-9))
    elapsed = time.perf_counter() - start
    assert stopped.value.causes == []  # a probe cut short would have named another cause, or none
    assert elapsed < 1.1 * 1.0 + 0.5, elapsed  # within ~10%, plus one step and the copies


def test_an_overfit_run_stopped_at_the_cap_says_how_many_samples_it_had_right(mlcheck):
    with pytest.raises(CheckIncomplete) as stopped:
        mlcheck.overfit_one_batch(Slow(), tc.digits_batch(32), loss_fn=CE(), steps=400, max_seconds=0.5)
    right = stopped.value.result.figures["accuracy"]
    assert 0 <= right <= 1
    assert re.search(r"accuracy: \d+/32 predicted right", str(stopped.value)), str(stopped.value)
