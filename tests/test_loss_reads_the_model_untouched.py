"""A loss that reads the model object the user passed in a way the check cannot point at its copy —
an object holding the model, a helper reading it as a global — would train something other than what
the check trains, so a check whose backward pass reaches the original's parameters is a usage error
naming ``loss_fn`` (or ``train_step``). Whatever the check does, that model is left as it was: its
gradients, buffers and mode are put back. A closure over the model reads the copy (see
test_loss_reads_the_model.py) and changes nothing of the user either; a loss that reads an attribute
of the model is not misuse."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import test_non_mutation as tn
from test_non_mutation import user_setup  # noqa: F401 - the fixture
from test_non_mutation_torch_extras import CALLS  # each check, called with a loss and an optimizer
from pytest_mlcheck import CheckFailed, MlcheckUsageError
from torch_corpus import digits_batch

digits_batch(1)


class Penalised:
    """A loss object (not a module) holding the model: out of the check's reach, so it reads the original."""

    def __init__(self, model: nn.Module, *, forward: bool, eval_mode: bool = False) -> None:
        self.model, self.forward, self.eval_mode = model, forward, eval_mode
        self.ce = nn.CrossEntropyLoss()
        self.x = digits_batch(32)[0]

    def __call__(self, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        penalty = sum((p ** 2).sum() for p in self.model.parameters())
        if self.forward:  # the original in training mode: its BatchNorm statistics move
            self.model.train()
            penalty = penalty + self.model(self.x).pow(2).mean()
        if self.eval_mode:
            self.model.eval()
        return self.ce(outputs, targets) + 1e-4 * penalty


def closing_loss(model: nn.Module, *, forward: bool, eval_mode: bool = False, holder: bool = True):
    held = Penalised(model, forward=forward, eval_mode=eval_mode)
    if holder:
        return held

    def loss_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        penalty = sum((p ** 2).sum() for p in model.parameters())
        if forward:
            model.train()
            penalty = penalty + model(held.x).pow(2).mean()
        return held.ce(outputs, targets) + 1e-4 * penalty

    return loss_fn




@pytest.mark.parametrize("forward", [False, True], ids=["penalty", "second_forward"])
@pytest.mark.parametrize("check", sorted(CALLS))
def test_a_loss_reading_the_original_leaves_it_as_found(mlcheck, user_setup, check, forward):
    model, optimizer = user_setup
    before = tn.snapshot(model, optimizer)
    if check == "init_loss":  # no backward pass: the term is a constant, nothing reaches the model
        CALLS[check](mlcheck, model, closing_loss(model, forward=forward), optimizer)
    else:
        with pytest.raises(MlcheckUsageError, match=r"^loss_fn: .*a gradient reached the parameters of the "
                                                    r"model object you passed.*train_step="):
            CALLS[check](mlcheck, model, closing_loss(model, forward=forward), optimizer)
    tn.assert_same(before, tn.snapshot(model, optimizer))


@pytest.mark.parametrize("forward", [False, True], ids=["penalty", "second_forward"])
@pytest.mark.parametrize("check", sorted(CALLS))
def test_a_closure_over_the_model_reads_the_copy_and_leaves_the_original(mlcheck, user_setup, check, forward):
    model, optimizer = user_setup
    before = tn.snapshot(model, optimizer)
    try:
        CALLS[check](mlcheck, model, closing_loss(model, forward=forward, holder=False), optimizer)
    except CheckFailed:
        pass
    tn.assert_same(before, tn.snapshot(model, optimizer))


def test_gradients_the_model_had_none_of_stay_none(mlcheck):
    torch.manual_seed(0)
    model = tn.bn_model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(MlcheckUsageError):
        mlcheck.overfit_one_batch(model, digits_batch(32), loss_fn=closing_loss(model, forward=False),
                                  optimizer=optimizer, steps=5)
    assert all(p.grad is None for p in model.parameters())


def test_a_train_step_reading_the_original_names_train_step(mlcheck, user_setup):
    model, optimizer = user_setup
    before = tn.snapshot(model, optimizer)
    ce = nn.CrossEntropyLoss()
    held = Penalised(model, forward=False)

    def step(copy, opt, loss_fn, x, y):
        opt.zero_grad()
        loss = ce(copy(x), y) + 1e-4 * sum((p ** 2).sum() for p in held.model.parameters())
        loss.backward()
        opt.step()
        return loss

    with pytest.raises(MlcheckUsageError, match=r"^train_step: "):
        mlcheck.overfit_one_batch(model, digits_batch(32), train_step=step, optimizer=optimizer, steps=20)
    tn.assert_same(before, tn.snapshot(model, optimizer))


class Trainer:
    """A training loop object holding the model and its own optimizer (with momentum state)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        self.ce = nn.CrossEntropyLoss()

    def step(self, copy, optimizer, loss_fn, x, y):  # trains self.model: the original
        self.opt.zero_grad()
        loss = self.ce(self.model(x), y)
        loss.backward()
        self.opt.step()
        return loss


def test_a_step_bound_to_an_object_holding_the_model_is_stopped_before_it_steps_it(mlcheck, user_setup):
    """The gradient is refused as it reaches the user's parameters, before their own optimizer steps."""
    model, optimizer = user_setup
    trainer = Trainer(model)
    before = tn.snapshot(model, optimizer)
    with pytest.raises(MlcheckUsageError, match=r"^train_step: .*optimizer are as they were"):
        mlcheck.overfit_one_batch(model, digits_batch(32), train_step=trainer.step, optimizer=optimizer)
    tn.assert_same(before, tn.snapshot(model, optimizer))
    assert trainer.opt.state_dict()["state"] == {}  # the user's own optimizer never stepped


def test_the_same_penalty_through_train_step_on_the_copy_is_accepted(mlcheck, user_setup):
    """The fix the error gives: the step is handed the copy, so the penalty reads the copy."""
    model, optimizer = user_setup
    before = tn.snapshot(model, optimizer)
    ce = nn.CrossEntropyLoss()

    def step(copy, opt, loss_fn, x, y):
        opt.zero_grad()
        loss = ce(copy(x), y) + 1e-4 * sum((p ** 2).sum() for p in copy.parameters())
        loss.backward()
        opt.step()
        return loss

    mlcheck.overfit_one_batch(model, digits_batch(32), train_step=step, optimizer=optimizer)
    tn.assert_same(before, tn.snapshot(model, optimizer))


def test_a_loss_reading_an_attribute_of_the_model_is_not_misuse(mlcheck, user_setup):
    model, optimizer = user_setup
    model.classes = 10

    def loss_fn(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(outputs[:, :model.classes], targets)

    mlcheck.overfit_one_batch(model, digits_batch(32), loss_fn=loss_fn, optimizer=optimizer)


def test_a_loss_switching_the_original_to_eval_mode_is_put_back(mlcheck, user_setup):
    model, optimizer = user_setup
    model.train()
    before = tn.snapshot(model, optimizer)
    with pytest.raises(MlcheckUsageError):
        mlcheck.loss_decreases(model, [digits_batch(32)], loss_fn=closing_loss(model, forward=False, eval_mode=True),
                               optimizer=optimizer, steps=8)
    tn.assert_same(before, tn.snapshot(model, optimizer))


def test_setting_the_model_aside_puts_everything_back_when_it_fails_part_way(monkeypatch):
    """A clone of a buffer that fails (out of memory on a device) leaves no buffer swapped, no hook and
    no gradient set aside: what was done before the failure is undone."""
    from pytest_mlcheck.backends import torch_inplace

    torch.manual_seed(0)
    model = tn.bn_model()
    grads = {}
    for name, p in model.named_parameters():
        p.grad = torch.ones_like(p)
        grads[name] = p.grad
    buffers = {name: b for name, b in model.named_buffers()}
    calls = {"n": 0}
    real = torch.Tensor.clone

    def failing_clone(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("out of memory")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "clone", failing_clone)
    with pytest.raises(RuntimeError, match="out of memory"):
        torch_inplace.Untouched(model, None, copies=set(), refusal=lambda: AssertionError("no hook expected"))
    monkeypatch.undo()
    assert {name: b for name, b in model.named_buffers()}.keys() == buffers.keys()
    assert all(b is buffers[name] for name, b in model.named_buffers())
    assert all(p.grad is grads[name] for name, p in model.named_parameters())
    nn.CrossEntropyLoss()(model(digits_batch(8)[0]), digits_batch(8)[1]).backward()  # no hook left to raise
