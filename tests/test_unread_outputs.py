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
    found = unread_outputs(OUT, Y2, lambda o: _bce(o[:, :2], Y2), lambda o, y: _bce(o[:, :2], y))
    assert [c for c, _ in found] == ["no_gradient"]
    assert "16 outputs per sample for targets of shape (64, 2)" in found[0][1]
    assert "reads only column(s) 0, 1, whatever the targets" in found[0][1] and "other 14 columns" in found[0][1]


def test_a_loss_reading_every_column_or_targets_as_wide_are_not_named():
    y16 = rng.integers(0, 2, (64, 16)).astype(np.float32)
    assert unread_outputs(OUT, y16, lambda o: _bce(o[:, :2], y16[:, :2]), lambda o, y: _bce(o[:, :2], y[:, :2])) == []
    # a Gaussian head: the loss reads the mean and the log-variance of a (N, 1) target
    y1 = rng.standard_normal((64, 1)).astype(np.float32)
    nll = lambda o, y=y1: float(np.mean(0.5 * o[:, 1] + 0.5 * (y[:, 0] - o[:, 0]) ** 2 * np.exp(-o[:, 1])))  # noqa: E731
    assert unread_outputs(OUT[:, :2], y1, nll, nll) == []


def test_a_q_learning_loss_reading_each_samples_own_action_column_is_not_named():
    """Targets [action, return]: each sample reads the column of the action it took; a batch that took
    actions 0 and 1 only reads two of four columns, but no sample reads both."""
    q = rng.standard_normal((64, 4)).astype(np.float32)
    actions = rng.integers(0, 2, 64)
    y = np.stack([actions, rng.standard_normal(64)], axis=1).astype(np.float32)
    def td(o: np.ndarray, t: np.ndarray = y) -> float:
        taken = np.clip(t[:, 0].astype(int), 0, 3)
        return float(np.mean((o[np.arange(len(o)), taken] - t[:, 1]) ** 2))

    assert unread_outputs(q, y, td, td) == []
    # a batch the untrained greedy policy drew: every sample took action 0, so every sample reads one
    # column, the same one; with other actions in the targets the loss reads other columns
    y[:, 0] = 0
    assert unread_outputs(q, y, td, td) == []


def test_class_ids_all_of_one_class_into_nll_are_not_named():
    """One sample, or a batch of one class, under log_softmax + NLL: the loss reads the target's column
    only (the softmax's are read by the model, not the loss), every sample the same one."""
    logp = np.log(np.full((16, 10), 0.1, np.float32))
    ids = np.full(16, 3)

    def nll(o: np.ndarray, t: np.ndarray = ids) -> float:
        t = np.asarray(t).astype(int)
        return float(-np.mean(o[np.arange(len(o)), np.clip(t, 0, 9)])) if t.max() < 10 else float("nan")

    assert unread_outputs(logp, ids, nll, nll) == []


def test_masked_targets_leave_columns_unread_by_design():
    """Per-task mean and log-variance, NaN where a sample has no label for a task: a task without a
    label in this batch leaves its two columns unread."""
    y = rng.standard_normal((64, 2)).astype(np.float32)
    y[:, 1] = np.nan
    out = rng.standard_normal((64, 4)).astype(np.float32)

    def masked(o: np.ndarray, t: np.ndarray = y) -> float:
        seen = np.isfinite(t[:, 0])
        return float(np.mean(0.5 * o[seen, 1] + 0.5 * (t[seen, 0] - o[seen, 0]) ** 2 * np.exp(-o[seen, 1])))

    assert unread_outputs(out, y, masked, masked) == []


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

    assert unread_outputs(emb, labels, contrastive, lambda o, t: contrastive(o)) == []


def test_a_loss_that_draws_is_not_probed():
    draws = np.random.default_rng(1)
    drawn = lambda o, y=Y2: _bce(o[:, :2], y) + float(draws.normal()) * 1e-3  # noqa: E731
    assert unread_outputs(OUT, Y2, drawn, drawn) == []


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


def test_a_column_read_through_a_penalty_below_rounding_is_not_named(mlcheck: MLCheck):
    """The second output is an auxiliary head under a 10⁻⁴-weighted penalty, which float32 rounds away
    beside an MSE of ~10⁴: its layer still gets a gradient, so nothing is cut off. The run fails only
    for its tiny learning rate."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 2))
    torch.manual_seed(1)
    x, y = torch.randn(32, 8), 100 * torch.randn(32, 1)

    def loss_fn(o: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(o[:, :1], t) + 1e-4 * o[:, 1].pow(2).mean()

    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(net, (x, y), loss_fn=loss_fn, optimizer=lambda p: torch.optim.SGD(p, lr=1e-5),
                                  steps=30)
    assert "no_gradient" not in failed.value.causes, str(failed.value)


class _QHeads(nn.Module):
    """A DQN with one linear head per action on a shared body."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body, self.heads = nn.Linear(8, 16), nn.ModuleList(nn.Linear(16, 1) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.body(x))
        return torch.cat([head(h) for head in self.heads], dim=1)


def test_a_dqn_batch_of_one_action_is_not_told_to_narrow_its_head(mlcheck: MLCheck):
    """The untrained greedy policy took action 0 in every sample: three heads get an all-zero gradient
    (gradients_flow says so), but the loss reads the column each sample's action names."""
    torch.manual_seed(1)
    x = torch.randn(32, 8)
    y = torch.stack([torch.zeros(32), torch.randn(32)], dim=1)

    def td(q: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(q.gather(1, t[:, :1].long()).squeeze(1), t[:, 1])

    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(_QHeads(), (x, y), loss_fn=td)
    assert failed.value.causes[0] == "dead_units", str(failed.value)
