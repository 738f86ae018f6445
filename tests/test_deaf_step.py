"""A training step that steps optimizers of its own (tensorflow/docs' CycleGAN: four Adams the step
holds) does not read the learning rate a retry scales: every retry trains the very same losses, and
each one told nothing while it cost a run. Two rates giving the same moving curve while the weights
move now stop the learning-rate retries, and the note says why; a step that uses the optimizer it is
given is retried as before."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, generator=gen)
    return x, (x[:, 0] > 0).long()


def _own_optimizer_step(model, optimizer, loss_fn, x, y):
    """Steps an SGD of its own at a rate far too low, whatever optimizer the check hands it."""
    if not hasattr(model, "own"):
        model.own = torch.optim.SGD(model.parameters(), lr=1e-5)
    model.own.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    model.own.step()
    return loss


def _given_optimizer_step(model, optimizer, loss_fn, x, y):
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 2))


def test_a_step_with_its_own_optimizer_stops_the_rate_retries_and_says_why(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.loss_decreases(_net(), [_batch()], loss_fn=nn.CrossEntropyLoss(), train_step=_own_optimizer_step,
                               optimizer=lambda p: torch.optim.SGD(p, lr=1e-5))
    text = str(failed.value)
    assert "does not read the learning rate the check scales" in text, text
    assert "lr_too_low" not in failed.value.causes and "lr_too_high" not in failed.value.causes, text
    assert "a retry at lr×10:" in text and "a retry at lr×100:" in text, text  # the two that showed it
    assert "a retry at lr×1000" not in text and "a retry at lr×0.1" not in text, text  # no further rate


def test_a_step_that_uses_its_optimizer_is_retried_at_other_rates(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.loss_decreases(_net(), [_batch()], loss_fn=nn.CrossEntropyLoss(), train_step=_given_optimizer_step,
                               optimizer=lambda p: torch.optim.SGD(p, lr=1e-5))
    assert failed.value.causes[:1] == ["lr_too_low"], str(failed.value)
    assert "does not read the learning rate" not in str(failed.value)
