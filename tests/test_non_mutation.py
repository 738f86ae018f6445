"""A check, passing or failing, leaves the user's model, optimizer and global RNGs as they were."""

from __future__ import annotations

import copy
import random

import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed
from torch_corpus import digits_batch, digits_batches


def bn_model() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.1),
                         nn.Linear(32, 10))


def snapshot(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict:
    return {
        "state": {k: v.clone() for k, v in model.state_dict().items()},
        "grads": {n: None if p.grad is None else p.grad.clone() for n, p in model.named_parameters()},
        "requires_grad": {n: p.requires_grad for n, p in model.named_parameters()},
        "modes": [m.training for m in model.modules()],
        "optimizer": copy.deepcopy(optimizer.state_dict()),
        "rng": (random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state().clone()),
    }


def assert_same(before: dict, after: dict) -> None:
    assert before["state"].keys() == after["state"].keys()
    for key in before["state"]:
        assert torch.equal(before["state"][key], after["state"][key]), key
    for name, grad in before["grads"].items():
        other = after["grads"][name]
        assert (grad is None and other is None) or torch.equal(grad, other), name
    assert before["requires_grad"] == after["requires_grad"]
    assert before["modes"] == after["modes"]
    assert repr(before["optimizer"]) == repr(after["optimizer"])
    assert before["rng"][0] == after["rng"][0]
    assert np.array_equal(before["rng"][1], after["rng"][1])
    assert torch.equal(before["rng"][2], after["rng"][2])


@pytest.fixture
def user_setup():
    """A model with buffers, a frozen layer, gradients and optimizer state, left in eval mode."""
    torch.manual_seed(123)
    model = bn_model()
    model[1].bias.requires_grad_(False)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    x, y = digits_batch(32)
    nn.CrossEntropyLoss()(model(x), y).backward()
    optimizer.step()  # optimizer state and .grad now exist
    model.eval()
    random.seed(1)
    np.random.seed(2)
    torch.manual_seed(3)
    return model, optimizer


def draws() -> tuple:
    return random.random(), float(np.random.random()), float(torch.rand(1))


def test_a_passing_overfit_check_changes_nothing_of_the_user(mlcheck, user_setup):
    model, optimizer = user_setup
    before = snapshot(model, optimizer)
    result = mlcheck.overfit_one_batch(model, digits_batch(32), loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer)
    assert result.passed
    assert_same(before, snapshot(model, optimizer))


def test_a_failing_check_changes_nothing_of_the_user(mlcheck, user_setup):
    model, optimizer = user_setup
    before = snapshot(model, optimizer)
    with pytest.raises(CheckFailed):
        mlcheck.loss_decreases(model, digits_batches(4), loss_fn=nn.CrossEntropyLoss(),
                               optimizer=lambda p: torch.optim.SGD(p, lr=50.0), steps=20)
    assert_same(before, snapshot(model, optimizer))


def test_a_check_whose_model_raises_changes_nothing_of_the_user(mlcheck, user_setup):
    model, optimizer = user_setup
    before = snapshot(model, optimizer)
    with pytest.raises(CheckFailed):
        mlcheck.overfit_one_batch(model, (torch.zeros(8, 3), torch.zeros(8, dtype=torch.long)),
                                  loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer)
    assert_same(before, snapshot(model, optimizer))


def test_the_next_draw_of_every_global_generator_is_the_same_after_a_check(mlcheck, user_setup):
    model, optimizer = user_setup
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    expected = draws()
    random.setstate(states[0]), np.random.set_state(states[1]), torch.set_rng_state(states[2])
    mlcheck.overfit_one_batch(model, torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(*digits_batch(64)), batch_size=32, shuffle=True),
        loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer)
    assert draws() == expected


def test_the_same_seed_gives_the_same_figures_and_another_seed_other_ones(mlcheck):
    def run(seed: int) -> list[float]:
        torch.manual_seed(0)
        return mlcheck.loss_decreases(bn_model(), digits_batches(4), loss_fn=nn.CrossEntropyLoss(),
                                      optimizer=torch.optim.Adam, steps=12, seed=seed, min_drop=0.01).losses

    assert run(5) == run(5)
    assert run(5) != run(6)


RECIPE_CALLS = {
    "init_loss": lambda m, model, opt: m.init_loss(model, digits_batch(64), loss_fn=nn.CrossEntropyLoss()),
    "gradients_flow": lambda m, model, opt: m.gradients_flow(model, digits_batch(64), loss_fn=nn.CrossEntropyLoss(),
                                                             optimizer=opt),
    "batch_independence": lambda m, model, opt: m.batch_independence(model, digits_batch(16)[0]),
    "inputs_normalized": lambda m, model, opt: m.inputs_normalized(digits_batch(64, scale="raw"), model=model),
    "input_independent_baseline": lambda m, model, opt: m.input_independent_baseline(
        model, digits_batch(64), loss_fn=nn.CrossEntropyLoss(), optimizer=opt, steps=20),
}


@pytest.mark.parametrize("check", list(RECIPE_CALLS))
def test_a_recipe_check_changes_nothing_of_the_user(mlcheck, user_setup, check):
    model, optimizer = user_setup
    before = snapshot(model, optimizer)
    hooks = [len(m._forward_pre_hooks) for m in model.modules()]
    try:
        RECIPE_CALLS[check](mlcheck, model, optimizer)
    except CheckFailed:
        pass  # passing or failing, nothing may change
    assert_same(before, snapshot(model, optimizer))
    assert [len(m._forward_pre_hooks) for m in model.modules()] == hooks
