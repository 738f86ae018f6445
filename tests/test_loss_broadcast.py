"""A loss that broadcasts inside itself: the batch's outputs and targets have matching shapes, but the
loss picks a (B, 1) column of the outputs and a (B,) column of the targets, and torch's MSE scores every
output against every target (B × B). The torch adapter sees the shapes the pointwise loss is called
with; the checks name target_shape. A broadcast within one sample is no such defect."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pytest_mlcheck import CheckFailed


def _q_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Targets packed as [action, value] per sample, the value depending on the state."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 4, generator=g)
    action = torch.randint(0, 2, (32,), generator=g).float()
    return x, torch.stack([action, 1 + 0.3 * x[:, 0]], dim=1)


def _loss(column: bool):
    def loss_fn(q, y):
        taken = (q * F.one_hot(y[:, 0].long(), 2)).sum(dim=1, keepdim=True)  # (B, 1)
        target = y[:, 1].view(-1, 1) if column else y[:, 1]  # (B, 1), or (B,): broadcast to (B, B)
        return F.mse_loss(taken, target)
    return loss_fn


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 32), nn.ELU(), nn.Linear(32, 2))


@pytest.mark.parametrize("check", ["overfit_one_batch", "loss_decreases"])
def test_a_loss_that_broadcasts_a_column_against_a_row_fails_with_target_shape(mlcheck, check):
    batch = _q_batch()
    with pytest.raises(CheckFailed) as failed:
        getattr(mlcheck, check)(_model(), batch if check == "overfit_one_batch" else [batch], loss_fn=_loss(False))
    assert failed.value.causes[0] == "target_shape"
    assert "takes input (32, 1) against target (32,), which broadcast to (32, 32)" in str(failed.value)
    assert "broadcasts the outputs against targets of another shape" in str(failed.value)


def test_the_same_loss_on_a_column_of_targets_passes(mlcheck):
    result = mlcheck.overfit_one_batch(_model(), _q_batch(), loss_fn=_loss(True))
    assert result.passed


def test_other_warnings_of_the_loss_are_not_read_as_a_broadcast_and_the_filters_are_left_alone(mlcheck):
    def noisy(q, y):
        warnings.warn("this loss is deprecated", DeprecationWarning)
        return _loss(True)(q, y)

    before = list(warnings.filters)
    result = mlcheck.overfit_one_batch(_model(), _q_batch(), loss_fn=noisy)
    assert result.passed
    assert list(warnings.filters) == before


@pytest.mark.parametrize("extra", ["one constant", "a vector per output", "heads against one target"])
def test_a_broadcast_within_one_sample_is_not_target_shape(mlcheck, extra):
    """torch warns about each of these too, but no sample meets another's target: an LSGAN-style
    constant against every output, a fixed vector against each row, four heads regressing one
    per-sample value. Nothing is named before training."""
    def loss_fn(q, y):
        if extra == "one constant":
            term = F.mse_loss(q[:, :1], torch.tensor(1.0))
        elif extra == "a vector per output":
            term = F.mse_loss(q, torch.tensor([1.0, 1.0]))
        else:
            term = F.mse_loss(q.repeat(1, 2), y[:, 1:])  # (B, 4) heads against (B, 1)
        return 0.01 * term + _loss(True)(q, y)

    result = mlcheck.overfit_one_batch(_model(), _q_batch(), loss_fn=loss_fn)
    assert result.passed


def _rows(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    x = torch.randn(n, 4, generator=g)
    return x, 2 * x[:, 0] - x[:, 1]  # (n,) targets against the model's (n, 1) outputs


def _regressor() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1))


def test_value_targets_of_another_shape_than_the_outputs_fail_with_target_shape(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_regressor(), _rows(32), loss_fn=nn.MSELoss())
    assert failed.value.causes[:1] == ["target_shape"], str(failed.value)
    assert "outputs of shape (32, 1) against targets of shape (32,)" in str(failed.value)


def test_batches_of_one_sample_have_no_other_target_to_meet(mlcheck):
    """(1, 1) outputs against (1,) targets broadcast to (1, 1): the same one comparison. A program that
    steps on single rows (skflow's Boston example) trains as it should."""
    x, y = _rows(32)
    batches = [(x[i:i + 1], y[i:i + 1]) for i in range(32)]
    assert mlcheck.loss_decreases(_regressor(), batches, loss_fn=nn.MSELoss(),
                                  optimizer=lambda p: torch.optim.SGD(p, lr=0.05)).passed
