"""A head wider than the loss reads: torch-rechub's PLE without its towers' output layers returns 8
ReLU'd, sigmoid-squashed units per task (16 columns) and the trainer's per-task losses read columns 0
and 1, both the first task's, so the second task's tower, experts and gate get an exactly zero
gradient. That was named `dead_units` (gradients_flow) or nothing (overfit_one_batch). A loss that
stays exactly the same when any of the other columns moves, read by every sample alike, is a value
that proves it: `no_gradient`, first. The twins (a loss reading every column, a Q-learning loss
reading each sample's own action column, targets as wide as the outputs) are not named."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed, MLCheck
from pytest_mlcheck.diagnosis import unread_outputs

rng = np.random.default_rng(0)
OUT = rng.uniform(0.5, 0.99, (64, 16)).astype(np.float32)
Y2 = rng.integers(0, 2, (64, 2)).astype(np.float32)


def _bce(out: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(out, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def test_a_loss_reading_two_of_sixteen_columns_is_named_with_the_columns():
    found = unread_outputs(OUT, Y2, lambda o: _bce(o[:, :2], Y2))
    assert [c for c, _ in found] == ["no_gradient"]
    assert "16 outputs per sample for targets of shape (64, 2)" in found[0][1]
    assert "reads only column(s) 0, 1" in found[0][1] and "other 14 columns" in found[0][1]


def test_a_loss_reading_every_column_or_targets_as_wide_are_not_named():
    y16 = rng.integers(0, 2, (64, 16)).astype(np.float32)
    assert unread_outputs(OUT, y16, lambda o: _bce(o[:, :2], y16[:, :2])) == []  # as wide: not this look's
    # a Gaussian head: the loss reads the mean and the log-variance of a (N, 1) target
    y1 = rng.standard_normal((64, 1)).astype(np.float32)
    nll = lambda o: float(np.mean(0.5 * o[:, 1] + 0.5 * (y1[:, 0] - o[:, 0]) ** 2 * np.exp(-o[:, 1])))  # noqa: E731
    assert unread_outputs(OUT[:, :2], y1, nll) == []


def test_a_q_learning_loss_reading_each_samples_own_action_column_is_not_named():
    """Targets [action, return]: each sample reads the column of the action it took; a batch that took
    actions 0 and 1 only reads two of four columns, but no sample reads both."""
    q = rng.standard_normal((64, 4)).astype(np.float32)
    actions = rng.integers(0, 2, 64)
    y = np.stack([actions, rng.standard_normal(64)], axis=1).astype(np.float32)
    td = lambda o: float(np.mean((o[np.arange(64), actions] - y[:, 1]) ** 2))  # noqa: E731
    assert unread_outputs(q, y, td) == []


def test_a_loss_on_distances_between_samples_is_not_named():
    """siamese-triplet's contrastive loss on 2-D embeddings near 0 at init: moving a column by the same
    amount in every sample moves no distance, so the look moves each sample by its own amount."""
    emb = rng.uniform(-0.5, 0.5, (50, 2)).astype(np.float32)
    emb[:, 0] *= 4.0  # one column beyond unit scale, where a move in proportion differs between samples
    labels = np.repeat(np.arange(5), 10)
    same = labels[:, None] == labels[None, :]

    def contrastive(o: np.ndarray) -> float:
        d = np.sqrt(((o[:, None, :] - o[None, :, :]) ** 2).sum(-1) + 1e-12)
        return float(np.where(same, d ** 2, np.maximum(1.0 - d, 0.0) ** 2).mean())

    assert unread_outputs(emb, labels, contrastive) == []


def test_a_loss_that_draws_is_not_probed():
    draws = np.random.default_rng(1)
    assert unread_outputs(OUT, Y2, lambda o: _bce(o[:, :2], Y2) + float(draws.normal()) * 1e-3) == []


class _Towers(nn.Module):
    """Two towers of 8 ReLU units each, squashed by a sigmoid (no output layer): 16 columns for 2 tasks."""

    def __init__(self, output_layer: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.towers = nn.ModuleList(nn.Sequential(nn.Linear(6, 8), nn.ReLU(), *([nn.Linear(8, 1)] if output_layer
                                                                                 else [])) for _ in range(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(torch.cat([t(x) for t in self.towers], dim=1))


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    x = torch.randn(64, 6)
    return x, torch.stack([(x[:, 0] > 0), (x[:, 1] > 0)], dim=1).float()


def _per_task_bce(y_pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return sum(nn.functional.binary_cross_entropy(y_pred[:, i], y[:, i]) for i in range(2)) / 2


@pytest.mark.parametrize("output_layer", [False, True], ids=["BROKEN towers without output layer", "fixed"])
def test_torch_checks_name_the_unread_columns(mlcheck: MLCheck, output_layer: bool):
    model, batch = _Towers(output_layer), _batch()
    if output_layer:
        assert mlcheck.gradients_flow(model, batch, loss_fn=_per_task_bce).passed
        assert mlcheck.overfit_one_batch(model, batch, loss_fn=_per_task_bce,
                                         optimizer=lambda p: torch.optim.Adam(p, lr=1e-2)).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(model, batch, loss_fn=_per_task_bce)
    assert failed.value.causes[0] == "no_gradient", str(failed.value)
    assert "reads only column(s) 0, 1" in str(failed.value)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, batch, loss_fn=_per_task_bce, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert failed.value.causes[0] == "no_gradient", str(failed.value)


def test_keras_names_the_same_through_a_compiled_loss(mlcheck: MLCheck):
    x, y = (t.numpy() for t in _batch())
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,))
    towers = [keras.layers.Dense(8, activation="relu")(inputs) for _ in range(2)]
    model = keras.Model(inputs, keras.layers.Activation("sigmoid")(keras.layers.Concatenate()(towers)))

    def per_task(y_true, y_pred):
        return sum(keras.losses.binary_crossentropy(y_true[:, i:i + 1], y_pred[:, i:i + 1]) for i in range(2)) / 2

    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=per_task)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(model, (x, y))
    assert failed.value.causes[0] == "no_gradient", str(failed.value)
    assert "reads only column(s) 0, 1" in str(failed.value)
