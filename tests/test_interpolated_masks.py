"""Segmentation masks as the loss reads them: class ids per pixel with a trailing unit axis (Keras's
(N, H, W, 1) beside (N, H, W, C) outputs) are classes per position, and masks resized with bilinear
interpolation (tensorflow/docs 2853d260c: `tf.image.resize` of the mask before `method=NEAREST_NEIGHBOR`)
carry fractional ids along every class boundary, which a sparse cross-entropy truncates: `labels_invalid`.
Correct twins: the same masks resized nearest-neighbour, and value maps under a loss of the values."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

import keras_corpus as kc
from pytest_mlcheck import CheckFailed, MLCheck


def _masks(interpolated: bool) -> tuple[np.ndarray, np.ndarray]:
    """16 images 16x16 with a disc (class 1) on background (class 0) ringed by a border (class 2),
    each mask drawn at 32x32 and halved by nearest-neighbour, or by averaging 2x2 blocks (bilinear at
    half size): then boundary pixels hold 0.5, 1.25, ... between ids."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32]
    images, masks = [], []
    for _ in range(16):
        cy, cx, r = rng.uniform(10, 22), rng.uniform(10, 22), rng.uniform(5, 9)
        d = np.hypot(yy - cy, xx - cx)
        big = np.where(d < r, 1.0, np.where(d < r + 1.5, 2.0, 0.0))
        small = big.reshape(16, 2, 16, 2).mean(axis=(1, 3)) if interpolated else big[::2, ::2]
        masks.append(small)
        images.append(np.stack([small == c for c in range(3)], -1) + rng.normal(0, 0.3, (16, 16, 3)))
    return np.asarray(images, "float32"), np.asarray(masks, "float32")


class _Seg(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _torch_batch(interpolated: bool) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _masks(interpolated)
    return torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), torch.from_numpy(y)


def _truncating_ce(out: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out, mask.long())  # .long() truncates, as TensorFlow's cast does


def test_interpolated_masks_under_a_truncating_cross_entropy_are_invalid_labels(mlcheck: MLCheck):
    assert (_masks(True)[1] % 1 != 0).mean() > 0  # the build does hold fractional ids
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_Seg(), _torch_batch(True), loss_fn=_truncating_ce)
    assert failed.value.causes[0] == "labels_invalid", str(failed.value)
    assert "not whole numbers" in str(failed.value) and "nearest-neighbour" in str(failed.value)


def test_nearest_neighbour_masks_and_value_maps_pass(mlcheck: MLCheck):
    assert mlcheck.init_loss(_Seg(), _torch_batch(False), loss_fn=_truncating_ce).passed
    # the same fractional maps as values: a loss on the values is no truncation
    x, y = _torch_batch(True)
    head = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 1))
    result = mlcheck.init_loss(head, (x, y), loss_fn=lambda out, t: F.mse_loss(out.mean(1), t))
    assert result.figures["task"] == "regression"


def _keras_seg():
    keras = kc.keras
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
                              keras.layers.Conv2D(3, 1)])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


@pytest.mark.parametrize("interpolated", [False, True])
def test_keras_masks_with_a_trailing_unit_axis_are_classes_per_position(mlcheck: MLCheck, interpolated):
    x, y = _masks(interpolated)
    batch = (x, y[..., None])  # (N, H, W, 1), as the tutorial's pipeline keeps them
    if not interpolated:
        result = mlcheck.init_loss(_keras_seg(), batch)
        assert result.figures["task"] == "classification"
        assert result.figures["targets"].startswith("class ids per position (16, 16, 16)")
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.init_loss(_keras_seg(), batch)
    assert failed.value.causes[0] == "labels_invalid", str(failed.value)


class _Quantiles(nn.Module):
    """A GRU forecaster with three quantile outputs per step."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.rnn, self.head = nn.GRU(1, 16, batch_first=True), nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x)[0])


def test_whole_number_values_with_a_trailing_unit_axis_beside_a_quantile_head_stay_values(mlcheck: MLCheck):
    """Counts 0..2 as (N, T, 1) beside three quantile outputs (N, T, 3): the layout of masks, but a
    pinball loss does not score outputs picking each count as a class below ones picking the next."""
    rng = np.random.default_rng(0)
    counts = np.minimum(rng.poisson(1.0, size=(32, 13)), 2).astype("float32")
    x, y = torch.tensor(counts[:, :12, None]), torch.tensor(counts[:, 1:, None])
    qs = torch.tensor([0.1, 0.5, 0.9])

    def pinball(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        e = target - out
        return torch.maximum(qs * e, (qs - 1) * e).mean()

    result = mlcheck.init_loss(_Quantiles(), (x, y), loss_fn=pinball)
    assert result.figures["task"] == "regression", result.figures["targets"]
