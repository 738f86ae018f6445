"""One batch among several whose loss is high from the first pass on (a later stretch of a time
series, standardised with the earlier stretch's statistics) is no spike: `loss_decreases` judges each
step's rise against its own batch's loss at init. A rate that really throws the weights out of their
basin is still read as one. The failure probes hold each step to its own batch's start too: a retry
whose step onto an easier batch read as a halving named the wrong rate, or none."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed
from pytest_mlcheck.diagnosis import halved


def _batches(hard_at: int = 6, offset: float = 4.0, count: int = 8) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    w = 0.3 * torch.randn(6, 1, generator=g)
    out = []
    for i in range(count):
        x = torch.randn(32, 6, generator=g)
        y = x @ w + 0.1 * torch.randn(32, 1, generator=g)
        out.append((x, y + offset if i == hard_at else y))
    return out


def test_a_hard_batch_after_the_first_five_is_no_spike(mlcheck):
    torch.manual_seed(0)
    mlcheck.loss_decreases(nn.Linear(6, 1), _batches(), loss_fn=nn.MSELoss(),
                           optimizer=lambda p: torch.optim.SGD(p, lr=0.01))


def test_a_rate_that_blows_the_loss_up_is_still_a_spike(mlcheck):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 1))
    with pytest.raises(CheckFailed) as failed:
        mlcheck.loss_decreases(model, _batches(offset=0.0), loss_fn=nn.MSELoss(),
                               optimizer=lambda p: torch.optim.SGD(p, lr=0.7))
    assert "lr_too_high" in failed.value.causes, str(failed.value)


def test_one_batch_is_held_to_the_first_step():
    assert halved([4.0, 3.0, 2.0], 1)
    assert not halved([4.0, 3.0, 2.5], 1)


def test_a_step_onto_an_easier_batch_is_no_halving():
    # batch 0 starts at 10, batch 1 at 1: the second step's 0.9 is batch 1 barely moved
    assert not halved([10.0, 0.9], 2, [10.0, 1.0])
    assert halved([10.0, 0.9, 9.0, 0.4], 2, [10.0, 1.0])  # batch 1 against its own 1.0
    assert halved([10.0, 0.9, 4.9], 2, [10.0, 1.0])  # batch 0 back at under half its 10


def test_without_measured_starts_a_batch_is_held_to_its_first_visit():
    assert not halved([10.0, 0.1], 2)  # batch 1's first visit: nothing to halve against yet
    assert not halved([10.0, 1.0, 9.0, 0.6], 2)  # batch 1 at 0.6 of its first visit's 1.0
    assert halved([10.0, 1.0, 9.0, 0.4], 2)
    assert halved([10.0, 0.1, 0.1, 0.04], 2, [10.0, float("nan")])  # a NaN start: the first visit too
    assert not halved([10.0, 0.1, 4.0 * 2], 2, [float("nan"), float("nan")])
    assert halved([10.0, 0.1, 4.0], 2, [float("nan"), float("nan")])  # batch 0 back: against the first step


def test_over_many_small_batches_one_lucky_step_is_no_halving():
    # sixty batches starting at 1.0: a batch of five samples guessed right once halves by chance
    starts = [1.0] * 60
    lucky = [1.0] * 11 + [0.3]
    assert not halved(lucky, 60, starts)
    assert not halved(lucky + [0.9, 0.4, 1.1], 60, starts)  # two of the last eight
    assert halved(lucky + [0.9, 0.4, 0.45, 0.3, 1.1], 60, starts)  # four of the last eight: a stretch
    assert not halved([1.0, 0.3, 0.3, 0.3], 60, starts)  # fewer steps than the window: not judged yet
    # a cycle shorter than the window is the window: three batches, two of the last three halved
    assert halved([1.0, 1.0, 0.4, 0.45], 3, [1.0, 1.0, 1.0])
    assert not halved([1.0, 1.0, 1.0, 0.45], 3, [1.0, 1.0, 1.0])


def _tiny_batches(seed: int, *, learnable: bool) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(300, 20, generator=g)
    y = (x[:, 0] > 0).long() if learnable else torch.randint(0, 2, (300,), generator=g)
    return [(x[i:i + 5], y[i:i + 5]) for i in range(0, 300, 5)]


def _tiny_failure(mlcheck, seed: int, *, learnable: bool, lr: float) -> CheckFailed:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 2))
    with pytest.raises(CheckFailed) as failed:
        mlcheck.loss_decreases(model, _tiny_batches(seed, learnable=learnable),
                               loss_fn=nn.CrossEntropyLoss(reduction="sum"),
                               optimizer=lambda p: torch.optim.SGD(p, lr=lr))
    return failed.value


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_labels_on_batches_of_five_are_not_put_down_to_the_rate(mlcheck, seed):
    # a retry at lr×10 met a batch of five it happened to guess right: one halved step had named lr_too_low
    failed = _tiny_failure(mlcheck, seed, learnable=False, lr=1e-3)
    assert "lr_too_low" not in failed.causes, str(failed)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_same_batches_with_labels_that_follow_the_inputs_still_name_a_low_rate(mlcheck, seed):
    failed = _tiny_failure(mlcheck, seed, learnable=True, lr=1e-5)
    assert failed.causes[:1] == ["lr_too_low"], str(failed)


def test_a_standardised_retry_over_several_batches_measures_its_own_starts(mlcheck):
    """The standardised-targets retry changes every batch's loss, so the check's starts do not
    apply: it measures each batch's own. Price-like targets (500 .. 3500) whose first batch is noise the
    inputs cannot predict: the run stalls, and the retry halves the other batches' losses against
    their own starts. Held to the first batch alone it never halved (no cause); held to the first
    batch's loss, a step on a batch that starts higher read as a spike ("the run diverged")."""
    g = torch.Generator().manual_seed(1)
    batches = []
    for i in range(6):
        x = torch.randn(16, 4, generator=g)
        x[:, 0] += 0.5 * i
        y = 500.0 + 600.0 * x[:, :1] if i else 500.0 + 600.0 * torch.randn(16, 1, generator=g)
        batches.append((x, y))
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.loss_decreases(nn.Linear(4, 1), batches, loss_fn=nn.MSELoss(),
                               optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    message = str(failed.value)
    assert failed.value.causes[:1] == ["targets_not_normalized"], message
    assert "the run stayed above half its start" in message, message


def test_a_stalled_run_is_not_put_down_to_a_retry_that_moved_to_easier_batches(mlcheck):
    torch.manual_seed(0)  # the first batch far harder than the rest
    with pytest.raises(CheckFailed) as failed:
        mlcheck.loss_decreases(nn.Linear(6, 1), _batches(hard_at=0, count=4), loss_fn=nn.MSELoss(),
                               optimizer=lambda p: torch.optim.Adam(p, lr=1e-6))
    message = str(failed.value)
    assert failed.value.causes[:1] == ["lr_too_low"], message
    # lr×10 (Adam at 1e-5) halves no batch's loss: the easier batches' losses are no success, and
    # no horizon is drawn from them (it had read "halved the loss in 2 steps, about 20 at your rate")
    named = re.search(r"a retry at lr×(\d+) halved it", message)
    assert named is not None and int(named.group(1)) >= 1000, message
    assert "a fresh copy at lr×10 halved" not in message, message
