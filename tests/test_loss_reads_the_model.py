"""A loss (or step) that reads the model object itself — a KL term the forward pass stores on it, a
weight penalty — reads the copy the check trains, as the user's loop reads the model it trains: a
closure cell, a default argument, a ``functools.partial`` argument holding the model (or a
submodule, or a parameter), or a method bound to it, is bound to the copy in the function the check
calls. The user's function is not changed; cells holding anything else stay shared, and module
globals are never rebound (see test_loss_reads_the_model_untouched.py for what happens then)."""

from __future__ import annotations

import functools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pytest_mlcheck import CheckFailed, MlcheckUsageError
from pytest_mlcheck.backends.torch_backend import copy_with_hooks


class Stores(nn.Module):
    """Stores a penalty on itself in forward, as a VAE stores its KL term."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 1)
        self.penalty = None

    def forward(self, x):
        out = self.fc(x)
        self.penalty = out.pow(2).mean()
        return out


def _batch():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 4, generator=g)
    return x, x[:, :1] * 2


def test_a_loss_closing_over_the_model_reads_the_copy_and_trains_its_term(mlcheck):
    torch.manual_seed(0)
    model = Stores()

    def loss_fn(out, y):
        return F.mse_loss(out, y) + 1e-3 * model.penalty  # None on the original: only the copy ran forward

    result = mlcheck.overfit_one_batch(model, _batch(), loss_fn=loss_fn)
    assert model.penalty is None and loss_fn.__closure__[0].cell_contents is model
    assert result.steps > 0


MODULE_MODEL = Stores()


def _global_loss(out, y):
    return F.mse_loss(out, y) + MODULE_MODEL.penalty


def _partial_loss(out, y, *, net):
    return F.mse_loss(out, y) + net.penalty


def test_closures_defaults_partials_and_methods_are_bound_to_the_copy():
    model = Stores()
    closing = lambda o, y: F.mse_loss(o, y) + model.fc.weight.sum()  # noqa: E731 - a submodule's parameter
    copy, loss, _ = copy_with_hooks(model, closing)
    assert loss is not closing and loss.__closure__[0].cell_contents is copy
    defaulted = lambda o, y, net=model: F.mse_loss(o, y) + net.penalty  # noqa: E731
    copy, loss, _ = copy_with_hooks(model, defaulted)
    assert loss.__defaults__[0] is copy and defaulted.__defaults__[0] is model
    bound = functools.partial(_partial_loss, net=model)
    copy, loss, _ = copy_with_hooks(model, bound)
    assert loss.keywords["net"] is copy and bound.keywords["net"] is model
    copy, loss, _ = copy_with_hooks(model, model.forward)
    assert loss.__self__ is copy


def test_a_module_global_is_not_rebound():
    """A module's namespace is shared by everything in it (a hook may write a global the loss reads):
    the loss keeps it, and reads the original there."""
    copy, loss, _ = copy_with_hooks(MODULE_MODEL, _global_loss)
    assert loss is _global_loss


def test_a_nonlocal_the_loss_and_the_step_share_stays_shared():
    model = Stores()
    beta = 0.0

    def loss_fn(out, y):
        return F.mse_loss(out, y) + beta * model.penalty

    def step(net, optimizer, loss, x, y):
        nonlocal beta
        beta = 1.0
        return loss(net(x), y)

    copy, loss, stepped = copy_with_hooks(model, loss_fn, step)
    assert loss.__closure__[0] is stepped.__closure__[0] is loss_fn.__closure__[0]  # beta: the user's own cell
    assert loss.__closure__[1].cell_contents is copy


def test_a_loss_that_reads_nothing_of_the_model_is_passed_on_as_it_is():
    model = Stores()
    scale = 2.0

    def loss_fn(out, y):
        return scale * F.mse_loss(out, y)

    for loss in (loss_fn, F.mse_loss, functools.partial(F.mse_loss, reduction="sum")):
        assert copy_with_hooks(model, loss)[1] is loss


class RemembersInput(nn.Module):
    """Keeps its last input, so a loss can run it again (a trainer whose loss needs views or chunks
    the forward pass does not return)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(4, 3)
        self.last = None

    def forward(self, x):
        self.last = x
        return self.fc(x)


def _classes() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=g)
    return x, (x @ torch.randn(4, 3, generator=g)).argmax(dim=1)  # linearly separable classes


def test_a_loss_that_ignores_its_outputs_but_runs_the_model_again_is_a_usage_error(mlcheck):
    model = RemembersInput()
    with pytest.raises(MlcheckUsageError, match=r"^loss_fn: .*reaches the model's trainable weights.*train_step="):
        mlcheck.overfit_one_batch(model, _classes(), loss_fn=lambda out, y: F.cross_entropy(model(model.last), y))


def test_twins_a_detached_loss_fails_and_a_loss_of_the_outputs_with_a_penalty_passes(mlcheck):
    model = RemembersInput()
    with pytest.raises(CheckFailed) as failed:  # no gradient anywhere: a defect of the loss, named
        mlcheck.overfit_one_batch(model, _classes(),
                                  loss_fn=lambda out, y: F.cross_entropy(model(model.last), y).detach())
    assert failed.value.causes[:1] == ["loss_mismatch"] and "whatever the outputs" in str(failed.value)
    model = RemembersInput()
    penalised = lambda out, y: F.cross_entropy(out, y) + 1e-4 * model.fc.weight.pow(2).sum()  # noqa: E731
    assert mlcheck.overfit_one_batch(model, _classes(), loss_fn=penalised).passed
