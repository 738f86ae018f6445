"""Two values that prove a defect once a training check has failed.

A softmax over the wrong axis: ModelsGenesis' channels-first 3D U-Net ran Keras's default
``softmax(axis=-1)`` over a spatial axis, so every line of voxels shared a probability mass of 1 and
no output could equal the one-hot masks, whose classes lie along axis 1. Its outputs sum to 1 over
an axis over which the targets do not: named ``output_activation`` with the axis they do sum over.
The twin normalises over the classes and fits.

Class ids into a loss for one-hot rows: dragen's MNIST handed int labels to
``categorical_crossentropy``, which broadcast each id over the ten outputs, so the loss multiplied
every sample's term by its id (0 for every sample of class 0). The loss is exactly 0 at all-zero
ids and doubles with them: named ``target_shape``. The twin (a sparse cross-entropy) fits."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from torch import nn

from pytest_mlcheck import CheckFailed, MLCheck
from pytest_mlcheck.targets import normalised_axis, normalised_elsewhere


def _softmax(z: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


# -- the rule on values ---------------------------------------------------------------------------

def _one_hot_masks(n: int = 8, size: int = 8, seed: int = 0) -> np.ndarray:
    """(n, 2, size, size) one-hot over axis 1: a square of foreground somewhere in each image."""
    rng = np.random.default_rng(seed)
    fg = np.zeros((n, size, size), np.float32)
    for i in range(n):
        r, c = rng.integers(0, size - 3, 2)
        fg[i, r:r + 3, c:c + 3] = 1.0
    return np.stack([1.0 - fg, fg], axis=1)


def _np_dice(y: np.ndarray):
    return lambda out: float(1 - (2 * (out * y).sum() + 1) / (out.sum() + y.sum() + 1))


def _np_bce(y: np.ndarray):
    return lambda out: float(-np.mean(y * np.log(np.clip(out, 1e-7, 1)) + (1 - y) * np.log(np.clip(1 - out, 1e-7, 1))))


def _np_cross_entropy(y: np.ndarray):
    return lambda out: float(-np.mean((y * np.log(np.clip(out, 1e-7, 1))).sum(axis=1)))


def test_a_softmax_over_a_spatial_axis_is_named_with_the_axis_the_classes_lie_on():
    y = _one_hot_masks()
    z = np.random.default_rng(1).normal(size=y.shape)
    found = normalised_elsewhere(y, [_softmax(z, -1), _softmax(2 * z, -1)], _np_dice(y))
    assert [c for c, _ in found] == ["output_activation"]
    assert "sum to 1 over axis 3" in found[0][1] and "the targets sum to 1 over axis 1" in found[0][1]


@pytest.mark.parametrize("targets", ["one-hot", "one-hot beside all-zero rows", "label-smoothed"])
def test_a_softmax_over_the_classes_is_not_named(targets: str):
    """Correct look-alikes: rows of targets that sum to 1, or to 0 where a loss skips them."""
    rng = np.random.default_rng(2)
    y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 64)]
    if targets == "one-hot beside all-zero rows":
        y[::3] = 0.0
    elif targets == "label-smoothed":
        y = 0.9 * y + 0.1 / 5
    out = _softmax(rng.normal(size=(64, 5)), 1)
    assert normalised_axis([out]) == 1
    assert normalised_elsewhere(y, [out], _np_cross_entropy(y)) == []


def test_a_softmax_over_labels_of_their_own_is_named():
    """Multi-hot targets (several labels a sample) scored one output at a time under a softmax: no row
    of it can hold two 1s."""
    rng = np.random.default_rng(3)
    y = (rng.random((64, 6)) < 0.4).astype(np.float32)
    found = normalised_elsewhere(y, [_softmax(rng.normal(size=(64, 6)), 1)], _np_bce(y))
    assert [c for c, _ in found] == ["output_activation"] and "a sigmoid per output fits them" in found[0][1]


def test_a_loss_that_wants_normalised_outputs_is_not_named():
    """Targets whose rows do not sum to 1 under a loss that a softmax satisfies: one-hot actions
    weighted by advantages in [0, 1] (-sum y log p): the targets normalised (the actions) score
    better than the targets themselves."""
    rng = np.random.default_rng(6)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 64)] * rng.random((64, 1)).astype(np.float32)
    assert normalised_elsewhere(y, [_softmax(rng.normal(size=y.shape), 1)], _np_cross_entropy(y)) == []


def test_outputs_no_softmax_normalised_or_targets_beyond_zero_one_are_not_read():
    rng = np.random.default_rng(4)
    out = rng.random((16, 4)).astype(np.float32)  # sigmoids: rows do not sum to 1
    assert normalised_axis([out]) is None
    returns = rng.normal(0, 0.05, (16, 4)).astype(np.float32)  # portfolio weights against returns
    assert normalised_elsewhere(returns, [_softmax(rng.normal(size=(16, 4)), 1)], _np_bce(returns)) == []


# -- through overfit_one_batch --------------------------------------------------------------------

class _Segmenter(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.dim = dim
        self.body = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1),
                                  nn.ReLU(), nn.Conv2d(16, 2, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.body(x), dim=self.dim)


def _dice(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return 1 - (2 * (out * y).sum() + 1) / (out.sum() + y.sum() + 1)


def _segmentation_batch() -> tuple[torch.Tensor, torch.Tensor]:
    y = _one_hot_masks()
    x = y[:, 1:2] * 0.5 + np.random.default_rng(5).normal(0, 0.1, (len(y), 1, 8, 8))
    return torch.tensor(x, dtype=torch.float32), torch.from_numpy(y)


def test_a_softmax_over_the_last_spatial_axis_fails_naming_the_class_axis(mlcheck: MLCheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_Segmenter(-1), _segmentation_batch(), loss_fn=_dice,
                                  optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    text = str(failed.value)
    assert failed.value.causes[:1] == ["output_activation"], text
    assert "sum to 1 over axis 3" in text and "softmax(axis=1), dim=1" in text


def test_the_softmax_over_the_classes_fits(mlcheck: MLCheck):
    assert mlcheck.overfit_one_batch(_Segmenter(1), _segmentation_batch(), loss_fn=_dice,
                                     optimizer=lambda p: torch.optim.Adam(p, lr=1e-2)).passed


def _blobs() -> tuple[np.ndarray, np.ndarray]:
    x, y = make_blobs(n_samples=64, centers=4, n_features=8, cluster_std=1.0, random_state=0)
    return x.astype(np.float32), y.astype(np.int64)


def _torch_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))


def _one_hot_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A categorical cross-entropy written for one-hot rows, handed ids: y broadcasts over the classes."""
    return -(y.float()[:, None] * torch.log_softmax(logits, dim=-1)).sum(dim=-1).mean()


def test_torch_ids_into_a_loss_for_one_hot_rows_are_named_target_shape(mlcheck: MLCheck):
    x, y = _blobs()
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_torch_mlp(), (torch.from_numpy(x), torch.from_numpy(y)), loss_fn=_one_hot_loss,
                                  optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    text = str(failed.value)
    assert failed.value.causes[:1] == ["target_shape"], text
    assert "exactly 0 when every id is 0 and doubles when the ids double" in text


def test_torch_ids_into_a_sparse_cross_entropy_fit(mlcheck: MLCheck):
    x, y = _blobs()
    assert mlcheck.overfit_one_batch(_torch_mlp(), (torch.from_numpy(x), torch.from_numpy(y)),
                                     loss_fn=nn.CrossEntropyLoss(),
                                     optimizer=lambda p: torch.optim.Adam(p, lr=1e-2)).passed


def _keras_mlp(loss) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(4)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=loss)
    return model


def _keras_one_hot_loss(y_true, y_pred):
    """tf.keras 2's categorical_crossentropy(from_logits=True) on (N,) ids: they broadcast over the classes."""
    y = keras.ops.cast(keras.ops.reshape(y_true, (-1, 1)), "float32")
    return -keras.ops.sum(y * keras.ops.log_softmax(y_pred, axis=-1), axis=-1)


@pytest.mark.parametrize("broken", [True, False], ids=["BROKEN ids into a one-hot loss", "sparse cross-entropy"])
def test_keras_reads_the_same(mlcheck: MLCheck, broken: bool):
    loss = _keras_one_hot_loss if broken else keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    run = lambda: mlcheck.overfit_one_batch(_keras_mlp(loss), _blobs())  # noqa: E731
    if not broken:
        assert run().passed
        return
    with pytest.raises(CheckFailed) as failed:
        run()
    assert failed.value.causes[:1] == ["target_shape"], str(failed.value)


def test_output_range_says_which_axis_the_softmax_normalised(mlcheck: MLCheck):
    x, _ = _segmentation_batch()
    with pytest.raises(CheckFailed) as failed:
        mlcheck.output_range(_Segmenter(-1), x, kind="probabilities", num_classes=2)
    text = str(failed.value)
    assert failed.value.causes == ["output_activation"], text
    assert "sum to 1 over axis 3 (length 8) instead" in text and "the classes' axis 1" in text
    assert mlcheck.output_range(_Segmenter(1), x, kind="probabilities", num_classes=2).passed
