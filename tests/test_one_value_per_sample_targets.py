"""One whole-number target per sample scored against every output of a wide head: a patch
discriminator's real/fake label against its patch scores is a value each output matches, not a
class id (eriklindernoren/PyTorch-GAN's BicycleGAN, its fix had failed overfit_one_batch against the
floor of an 84-class reading). A cross-entropy on the same head stays a question of classes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed

PATCHES = 84


def _batch(n: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(n, 32)).astype(np.float32))
    return x, torch.tensor([1.0, 0.0] * (n // 2))  # real then fake, as a discriminator step sees them


def _patches() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(32, 64), nn.LeakyReLU(0.2), nn.Linear(64, PATCHES))


def patch_mse(out: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """Every patch score against its sample's label (LSGAN's discriminator loss)."""
    return ((out - label[:, None]) ** 2).mean()


def test_a_label_scored_against_every_patch_is_a_value_to_match(mlcheck):
    result = mlcheck.overfit_one_batch(_patches(), _batch(), loss_fn=patch_mse, optimizer=lambda p: torch.optim.Adam(p, 2e-4))
    assert result.passed
    assert result.figures["task"] == "regression" and result.figures["targets"] == "values"


def test_the_same_labels_under_a_cross_entropy_are_class_ids(mlcheck):
    """Two classes into an 84-wide head under a cross-entropy: classes, and the head is judged so."""
    x, y = _batch()
    with pytest.raises(CheckFailed) as failed:
        mlcheck.init_loss(_patches(), (x, y.long()), loss_fn=nn.CrossEntropyLoss(), num_classes=2)
    assert "head_width" in failed.value.causes


def test_integer_labels_copied_into_a_wide_head_are_still_class_ids(mlcheck):
    """The same loss on int64 0/1 labels: a two-class classifier with a ten-wide head scored by an MSE
    against its class id — a regression loss on class ids, whatever it copies."""
    x, y = _batch()
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_patches(), (x, y.long()), loss_fn=patch_mse,
                                  optimizer=lambda p: torch.optim.Adam(p, 2e-4))
    assert failed.value.causes[0] == "loss_mismatch"
