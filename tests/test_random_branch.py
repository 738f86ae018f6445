"""A forward pass that picks one of two branches at random (RecBole's LINE scores a pair with the user's or
the item's context table, ``random.random() < 0.5``) leaves each branch out of about half the passes. The
probes of a failed training check read one backward pass for tensors the loss never reaches, and two
eval-mode passes for a model that samples at inference: one pass named the other table ``no_gradient``,
and two passes that happened to agree let a changed input 'move' every other sample (``batch_mixing``).
Both now take several passes. Twin: a table the forward pass never reads is still named."""

from __future__ import annotations

import random

import pytest
import torch
from torch import nn

import torch_corpus as tc
from pytest_mlcheck import CheckFailed, MLCheck


class _TwoTables(nn.Module):
    def __init__(self, unused: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU())
        self.a, self.b = nn.Linear(64, 10), nn.Linear(64, 10)
        self.unused = unused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.body(x)
        if self.unused or random.random() < 0.5:
            return self.a(h)
        return self.b(h)


def _fail(mlcheck: MLCheck, unused: bool) -> CheckFailed:
    model = _TwoTables(unused)
    with pytest.raises(CheckFailed) as failed:  # a rate at which 100 steps cannot move it
        mlcheck.loss_decreases(model, tc.digits_batches(4), loss_fn=nn.CrossEntropyLoss(),
                               optimizer=torch.optim.SGD(model.parameters(), lr=1e-7))
    return failed.value


def test_a_branch_taken_at_random_is_neither_unreached_nor_batch_mixing(mlcheck: MLCheck):
    failed = _fail(mlcheck, unused=False)
    assert "no_gradient" not in failed.causes and "batch_mixing" not in failed.causes, str(failed)
    assert "the model samples at inference" in str(failed), str(failed)


def test_a_table_never_read_is_still_named(mlcheck: MLCheck):
    failed = _fail(mlcheck, unused=True)
    assert "no_gradient" in failed.causes, str(failed)
    assert "b.weight" in str(failed)
