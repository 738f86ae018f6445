"""A finite loss whose gradient is NaN: a contrastive loss that takes the square root of a squared
distance with nothing under it (adambielski/siamese-triplet issue #18, fixed by an eps) is finite at
a pair of identical images, but the root's backward there is 1/0 · 0 = NaN, so the update writes NaN
into every weight and the loss turns NaN one step later. Replayed to the step before the NaN loss,
the weights are already broken; the trace walks update by update to the one that broke them and reads
its step: `loss_not_finite` (it had named nothing). In Keras the same look on a triplet loss whose
positive is, once, the anchor image itself (TF zeroes the root's gradient where the contrastive term
is switched off). Twins: the same losses with an eps under the root train."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed

MARGIN = 1.0


def _pairs(k: int = 8, n: int = 32) -> list[tuple[np.ndarray, np.ndarray]]:
    """k batches of n image pairs (N, 2, 64) with 1 for a same-digit pair; batch 2 holds one pair of
    the very same image (a dataset that repeats images draws such pairs)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x, labels = (data.data / 16.0).astype(np.float32), data.target
    rng = np.random.default_rng(0)
    out = []
    for b in range(k):
        i, j = rng.integers(0, len(x), n), rng.integers(0, len(x), n)
        if b == 2:
            j[5] = i[5]
        pairs = np.stack([x[i], x[j]], axis=1)
        out.append((pairs, (labels[i] == labels[j]).astype(np.float32)))
    return out


class _Siamese(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.embed(x)  # (N, 2, 2): each image of the pair embedded alike


def _torch_contrastive(eps: float):
    def loss_fn(out: torch.Tensor, same: torch.Tensor) -> torch.Tensor:
        d = (out[:, 0] - out[:, 1]).pow(2).sum(1)
        apart = nn.functional.relu(MARGIN - (d + eps).sqrt()).pow(2)
        return 0.5 * (same * d + (1 - same) * apart).mean()
    return loss_fn


def _torch_batches() -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in _pairs()]


def test_a_root_at_zero_distance_names_the_loss_in_torch(mlcheck):
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.loss_decreases(_Siamese(), _torch_batches(), loss_fn=_torch_contrastive(0.0),
                               optimizer=lambda p: torch.optim.Adam(p, lr=1e-3))
    assert failed.value.causes[:1] == ["loss_not_finite"], str(failed.value)
    said = str(failed.value).split("cause loss_not_finite")[1].split("fix:")[0]
    assert "at step 3" in said and "the loss's gradient at them is not" in said, said


def test_twin_an_eps_under_the_root_trains_in_torch(mlcheck):
    torch.manual_seed(0)
    assert mlcheck.loss_decreases(_Siamese(), _torch_batches(), loss_fn=_torch_contrastive(1e-9),
                                  optimizer=lambda p: torch.optim.Adam(p, lr=1e-3)).passed


def _triplets(k: int = 8, n: int = 32) -> list[tuple[np.ndarray, np.ndarray]]:
    """k batches of n (anchor, positive, negative) images (N, 3, 64), the positive a same-digit image
    drawn with replacement: in batch 2 one positive is the anchor itself. Targets are unused zeros."""
    from sklearn.datasets import load_digits

    data = load_digits()
    x, labels = (data.data / 16.0).astype(np.float32), data.target
    rng = np.random.default_rng(0)
    out = []
    for b in range(k):
        a = rng.integers(0, len(x), n)
        p = np.array([rng.choice(np.flatnonzero(labels == labels[i])) for i in a])
        q = np.array([rng.choice(np.flatnonzero(labels != labels[i])) for i in a])
        if b == 2:
            p[5] = a[5]
        out.append((np.stack([x[a], x[p], x[q]], axis=1), np.zeros(n, dtype=np.float32)))
    return out


def _keras_model(eps: float) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((3, 64)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(2)])

    def triplet(_, out):  # TF's root at 0 differentiates to NaN where its gradient is not zeroed
        def dist(u, v):
            return keras.ops.sqrt(keras.ops.sum(keras.ops.square(u - v), axis=1) + eps)
        return keras.ops.mean(keras.ops.relu(dist(out[:, 0], out[:, 1]) - dist(out[:, 0], out[:, 2]) + MARGIN))

    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=triplet)
    return model


def test_a_root_at_zero_distance_names_the_loss_in_keras(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.loss_decreases(_keras_model(0.0), _triplets())
    assert failed.value.causes[:1] == ["loss_not_finite"], str(failed.value)
    assert "at step 3" in str(failed.value).split("cause loss_not_finite")[1], str(failed.value)


def test_twin_an_eps_under_the_root_trains_in_keras(mlcheck):
    assert mlcheck.loss_decreases(_keras_model(1e-9), _triplets()).passed
