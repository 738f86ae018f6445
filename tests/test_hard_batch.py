"""One batch among several whose loss is high from the first pass on (a later stretch of a time
series, standardised with the earlier stretch's statistics) is no spike: `loss_decreases` judges each
step's rise against its own batch's loss at init. A rate that really throws the weights out of their
basin is still read as one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed


def _batches(hard_at: int = 6, offset: float = 4.0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    w = 0.3 * torch.randn(6, 1, generator=g)
    out = []
    for i in range(8):
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
