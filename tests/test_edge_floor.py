"""A loss on probabilities that is not finite at value targets holding exact 0s and 1s (a
hand-written cross-entropy: 0 · log 0 = NaN) takes its floor a hair inside (0, 1), where the limit
exists: the targets' entropy for grey pixels. Without it progress was measured toward 0, which such a
loss never reaches (yadlt's denoising autoencoder fix, 1c52997)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

from keras_corpus import digits_arrays
from pytest_mlcheck.targets import decide


def _pixels(n: int = 32) -> np.ndarray:
    """Digits as grey pixels in [0, 1], with exact 0s (background) and 1s (full strokes)."""
    x, _ = digits_arrays(n)
    return x.reshape(n, -1)


def _entropy(y: np.ndarray) -> float:
    p = np.clip(y.astype(np.float64), 1e-12, 1 - 1e-12)
    return float(-(y * np.log(p) + (1 - y) * np.log1p(-p)).mean())


def _cross_entropy(y: np.ndarray):
    """The program's spelling: logs of the outputs as they are, no clip."""
    def loss(out: np.ndarray, targets=None) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(-(y * np.log(out) + (1 - y) * np.log(1 - out)).mean())
    return loss


def test_the_floor_of_an_unclipped_cross_entropy_on_grey_pixels_is_their_entropy():
    y = _pixels()
    assert ((y == 0).any() and (y == 1).any()) and 0 < _entropy(y)
    assert np.isnan(_cross_entropy(y)(y))  # 0 · log 0 at the targets themselves
    out = np.full_like(y, 0.5)
    targets = decide(y, out, _cross_entropy(y))
    assert targets.task == "regression" and not targets.problems
    assert targets.floor == pytest.approx(_entropy(y), rel=1e-3)


def test_a_log_of_zero_under_a_nonzero_weight_has_no_limit_and_no_floor():
    """−log p weighted by 1 − y: at an exact-0 target the outputs' limit is −log 0, growing without bound
    as the hair shrinks, so no floor is taken from it."""
    y = _pixels()

    def loss(out: np.ndarray, targets=None) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(-(np.log(out) * (1 - y)).mean())
    assert np.isnan(decide(y, np.full_like(y, 0.5), loss).floor)


class _AutoEncoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 64), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _torch_cross_entropy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -(y * torch.log(out) + (1 - y) * torch.log(1 - out)).mean()


@pytest.mark.parametrize("loss_fn", [_torch_cross_entropy, nn.BCELoss()], ids=["unclipped", "BCELoss"])
def test_an_autoencoder_fits_toward_its_pixels_entropy(mlcheck, loss_fn):
    """The correct twin of each spelling passes, measured toward the same floor: the framework's
    ``BCELoss`` clamps its logs and is finite at the targets, the hand-written one takes the limit."""
    torch.manual_seed(0)
    x = torch.from_numpy(_pixels())
    result = mlcheck.overfit_one_batch(_AutoEncoder(), (x, x), loss_fn=loss_fn,
                                       optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert result.figures["loss_floor"] == pytest.approx(_entropy(_pixels()), rel=1e-2)


def test_a_keras_autoencoder_with_an_unclipped_cross_entropy_fits_toward_the_entropy(mlcheck):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(32, activation="tanh"),
                              keras.layers.Dense(64, activation="sigmoid")])

    def cross_entropy(y, out):
        return -keras.ops.mean(y * keras.ops.log(out) + (1 - y) * keras.ops.log(1 - out))

    model.compile(loss=cross_entropy, optimizer=keras.optimizers.Adam(1e-2))
    x = _pixels()
    result = mlcheck.overfit_one_batch(model, (x, x))
    assert result.figures["loss_floor"] == pytest.approx(_entropy(x), rel=1e-2)
