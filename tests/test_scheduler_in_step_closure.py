"""A torch ``train_step`` that closes over a scheduler of the optimizer instance passed beside it
(``scheduler.step()`` in the loop body, as ivadomed's training loop) changes that optimizer, not the copy
the check trains. The check applies each change to its copy, as the user's loop applies it to the
optimizer it trains, and puts the user's optimizer and scheduler back as they were, pass or fail."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import torch_corpus as tc
from pytest_mlcheck import CheckFailed, MLCheck

# the rate a step multiplies by: 0 ** (step / 100) is 1 at step 0 and 0 after it, 0.5 ** (step / 100) halves
# it every 100 steps (a usable schedule for a 400-step check), 1 keeps it
DECAY = {"to zero": 0.0, "halving": 0.5, "constant": 1.0}


def _case(decay: float) -> dict:
    torch.manual_seed(0)
    model = tc.digits_mlp()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: decay ** (step / 100))

    def train_step(model, opt, loss_fn, x, y):  # closes over the user's scheduler, not the optimizer it is given
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        scheduler.step()
        return loss

    return {"model": model, "batch": tc.digits_batch(32), "loss_fn": nn.CrossEntropyLoss(), "optimizer": optimizer,
            "train_step": train_step, "scheduler": scheduler}


@pytest.mark.parametrize("schedule", list(DECAY))
def test_the_schedule_a_step_closes_over_drives_the_copy(mlcheck: MLCheck, schedule: str):
    case = _case(DECAY[schedule])
    case.pop("scheduler")
    run = lambda: mlcheck.overfit_one_batch(**case)  # noqa: E731
    if schedule != "to zero":
        assert run().passed
        return
    with pytest.raises(CheckFailed) as failed:
        run()
    message = str(failed.value)
    assert failed.value.causes[:1] == ["lr_too_low"], message
    assert "learning rate fell from 0.01 at the first step to 0 by step" in message
    assert "your train_step changed the learning rate of the optimizer you passed (0.01 → 0" in message


@pytest.mark.parametrize("schedule", ["to zero", "halving"])
@pytest.mark.parametrize("check", ["overfit_one_batch", "loss_decreases"])
def test_the_users_optimizer_and_scheduler_are_left_as_they_were(mlcheck: MLCheck, schedule: str, check: str):
    case = _case(DECAY[schedule])
    optimizer, scheduler = case["optimizer"], case.pop("scheduler")
    groups = [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]
    state = copy.deepcopy(scheduler.state_dict())
    batch = case.pop("batch")
    try:
        if check == "overfit_one_batch":
            mlcheck.overfit_one_batch(batch=batch, **case)
        else:
            mlcheck.loss_decreases(batches=tc.digits_batches(4), **case)
    except CheckFailed:
        pass
    assert [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups] == groups
    assert scheduler.state_dict() == state
    assert optimizer.param_groups[0]["lr"] == 1e-2
