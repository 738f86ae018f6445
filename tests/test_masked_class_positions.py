"""One-hot targets per position (a (N, P, C) mask) under a per-position cross-entropy times "not
background", as image-segmentation-keras' fixed loss is: the loss reads nothing at the background's
positions, so they are not demanded right (the targets read the class the loss skips, as they do for
class ids with an ignore_index). Here each background position carries another class's feature: a
model fits every other position and overfit_one_batch passes. Twin: the same batch under the unmasked
loss demands the background too, which those features contradict: it fails. (Read as one class per
position, argmax, since the loss softmaxes along the class axis: background positions with features
of their own could be fitted as "no class's feature".)"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed, MLCheck

N, P, C = 4, 64, 3


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, C, size=(N, P))
    x = rng.normal(size=(N, P, 8)).astype("float32")
    x[..., :C] += 4.0 * np.eye(C, dtype="float32")[ids]  # each class's own feature, noise alone for class 0
    background = ids == 0  # another class's feature: inputs alike for a foreground class and the background
    x[background] = rng.normal(size=(int(background.sum()), 8)).astype("float32")
    x[background, 1 + rng.integers(0, C - 1, size=int(background.sum()))] += 4.0
    return torch.tensor(x), torch.tensor(np.eye(C, dtype="float32")[ids])


def _loss(masked: bool):
    def loss_fn(logits: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        per_position = nn.functional.cross_entropy(logits.transpose(1, 2), onehot.transpose(1, 2), reduction="none")
        return (per_position * (1 - onehot[..., 0])).mean() if masked else per_position.mean()
    return loss_fn


def _check(mlcheck: MLCheck, masked: bool):
    torch.manual_seed(0)
    return mlcheck.overfit_one_batch(nn.Linear(8, C), _batch(), loss_fn=_loss(masked),
                                     optimizer=lambda p: torch.optim.Adam(p, lr=0.05))


def test_positions_of_a_class_the_loss_masks_out_are_not_demanded(mlcheck: MLCheck):
    result = _check(mlcheck, masked=True)
    assert result.passed
    assert "positions ignored by the loss" in result.figures["targets"]


def test_the_same_positions_under_an_unmasked_loss_are_demanded(mlcheck: MLCheck):
    with pytest.raises(CheckFailed) as failed:
        _check(mlcheck, masked=False)
    assert "positions ignored by the loss" not in str(failed.value)
