"""A bias whose whole gradient is exactly 0 while its layer's weight gets one is no dead unit: a loss
of differences between two outputs of one network (a siamese embedding under a contrastive or triplet
loss) does not see the last layer's bias, which adds the same vector to both. `gradients_flow` had
named `dead_units` on siamese-triplet's correct network (held-out batch 99); it now passes with a note
that the loss does not see the bias move. Twin: a dead branch (its weights' gradients 0 too) is still
`dead_units`."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed


def _pairs(n: int = 32) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 2, 12)).astype(np.float32)
    same = (rng.random(n) < 0.5).astype(np.float32)
    return x, same


def _torch_contrastive(out: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
    d = (out[:, 0] - out[:, 1]).pow(2).sum(1)
    apart = nn.functional.relu(1.0 - (d + 1e-9).sqrt()).pow(2)
    return 0.5 * (same * d + (1 - same) * apart).mean()


def _torch_siamese() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 4))


class _DeadBranch(nn.Module):
    """A linear skip beside a ReLU branch whose every unit is below 0 on every input."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.skip = nn.Linear(12, 4)
        self.hidden, self.head = nn.Linear(12, 16), nn.Linear(16, 4)
        with torch.no_grad():
            self.hidden.bias.fill_(-100.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.head(torch.relu(self.hidden(x)))


def test_a_siamese_embeddings_last_bias_is_not_a_dead_unit_in_torch(mlcheck):
    x, same = _pairs()
    result = mlcheck.gradients_flow(_torch_siamese(), (torch.from_numpy(x), torch.from_numpy(same)),
                                    loss_fn=_torch_contrastive)
    assert result.passed
    assert any("2.bias: the training-mode loss stays put" in note for note in result.notes), result.notes


def test_twin_a_dead_branch_is_still_named_in_torch(mlcheck):
    # the branch's head bias is unseen by the loss too, but its weight gets no gradient either: dead
    x, same = _pairs()
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(_DeadBranch(), (torch.from_numpy(x), torch.from_numpy(same)),
                               loss_fn=_torch_contrastive)
    assert failed.value.causes[:1] == ["dead_units"], str(failed.value)
    assert "hidden.bias" in str(failed.value) and "head.bias" in str(failed.value), str(failed.value)


def _keras_siamese() -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((2, 12)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(4, name="embedding")])

    def contrastive(same, out):
        d = keras.ops.sum(keras.ops.square(out[:, 0] - out[:, 1]), axis=1)
        apart = keras.ops.square(keras.ops.relu(1.0 - keras.ops.sqrt(d + 1e-9)))
        return 0.5 * keras.ops.mean(same * d + (1 - same) * apart)

    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=contrastive)
    return model


def test_a_siamese_embeddings_last_bias_is_not_a_dead_unit_in_keras(mlcheck):
    result = mlcheck.gradients_flow(_keras_siamese(), _pairs())
    assert result.passed
    assert any("embedding/bias: the training-mode loss stays put" in note for note in result.notes), result.notes
