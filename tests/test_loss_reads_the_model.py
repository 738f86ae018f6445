"""A loss that reads the model object itself (a KL term the forward pass stores on it) sees the
original, not the copy the check trains: the failure says so and how to pass the term instead."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pytest_mlcheck import CheckFailed
from pytest_mlcheck.checks.runner import reaches


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


def test_a_loss_closing_over_the_model_fails_naming_the_copy(mlcheck):
    torch.manual_seed(0)
    model = Stores()

    def loss_fn(out, y):
        return F.mse_loss(out, y) + model.penalty  # None on the original: only the copy ran forward

    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, _batch(), loss_fn=loss_fn)
    text = str(failed.value)
    assert "loss_fn raised TypeError" in text
    assert "loss_fn reads the model object you passed (as 'model')" in text and "train_step=" in text


def test_a_loss_that_reads_only_its_arguments_is_not_told_so(mlcheck):
    torch.manual_seed(0)
    model = Stores()

    def loss_fn(out, y):
        return F.mse_loss(out, y) + None  # raises for another reason

    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, _batch(), loss_fn=loss_fn)
    assert "reads the model object" not in str(failed.value)


MODULE_MODEL = Stores()


def _global_loss(out, y):
    return F.mse_loss(out, y) + MODULE_MODEL.penalty


def test_the_model_is_found_through_closures_and_module_globals():
    model = Stores()
    assert reaches(lambda o, y: F.mse_loss(o, y) + model.penalty, model) == "model"
    assert reaches(_global_loss, MODULE_MODEL) == "MODULE_MODEL"
    assert reaches(F.mse_loss, model) is None and reaches(None, model) is None
    assert reaches(lambda o, y: F.mse_loss(o, y), model) is None
