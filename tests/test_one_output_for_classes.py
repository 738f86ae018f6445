"""One output per sample against one-hot targets of several classes: a loss that broadcasts the one
output across the target's columns (Keras 2's binary cross-entropy on a one-unit sigmoid head against
three-column one-hot labels, t81_558's iris CNN; torch's MSELoss only warns) scores each sample's output
alike whatever its class. The training checks name head_width; the model's own outputs barely differ at
init, so the look spreads seeded outputs over the head's range. Correct twins: a head of one output per
class, a one-output binary head on (N, 1) labels, a one-output head whose loss reads the hot column."""

from __future__ import annotations

import warnings

import keras
import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed
from pytest_mlcheck.diagnosis import one_output_for_classes

N, C = 32, 3


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 6)).astype(np.float32)
    ids = np.arange(N) % C
    x[:, 0] += ids  # the inputs tell the classes apart
    return x, np.eye(C, dtype=np.float32)[ids]


def _broadcast_bce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.binary_cross_entropy(out.expand_as(y), y)


def test_a_torch_sigmoid_unit_against_one_hot_rows_is_named_head_width(mlcheck):
    torch.manual_seed(0)
    x, y = _data()
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, (torch.from_numpy(x), torch.from_numpy(y)), loss_fn=_broadcast_bce,
                                  optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert failed.value.causes[:1] == ["head_width"], str(failed.value)
    assert "one output per sample against one-hot targets of 3 classes" in str(failed.value)


def test_the_same_targets_with_one_output_per_class_pass(mlcheck):
    torch.manual_seed(0)
    x, y = _data()
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, C))
    assert mlcheck.overfit_one_batch(model, (torch.from_numpy(x), torch.from_numpy(y)),
                                     loss_fn=nn.CrossEntropyLoss(),
                                     optimizer=lambda p: torch.optim.Adam(p, lr=1e-2)).passed


def test_a_keras_mse_broadcast_from_one_unit_is_named_the_same(mlcheck):
    keras.utils.set_random_seed(0)
    x, y = _data()

    def broadcast_mse(y_true, y_pred):  # (N, 1) against (N, 3): the one output meets every column
        return keras.ops.mean(keras.ops.square(y_true - y_pred))

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=broadcast_mse)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, (x, y))
    assert failed.value.causes[:1] == ["head_width"], str(failed.value)


# -- the rule on given outputs ----------------------------------------------------------------

def _mse_loss(y: np.ndarray):
    return lambda out: float(np.mean((out.reshape(len(y), -1) - y) ** 2))


def test_the_rule_needs_one_output_one_hot_rows_and_a_loss_blind_to_the_class():
    _, y = _data()
    one = np.full((N, 1), 0.3, np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert one_output_for_classes(y, one, _mse_loss(y))  # broadcast: each row's loss ignores its class
        # a loss that reads the hot column for the one output: a sample's loss depends on its class
        hot_column = lambda out: float(np.mean((out.reshape(-1) - y.argmax(axis=1)) ** 2))  # noqa: E731
        assert not one_output_for_classes(y, one, hot_column)
        # one output per class, or a binary (N, 1) label under a one-unit head: not this rule's
        assert not one_output_for_classes(y, np.full((N, C), 0.3, np.float32), _mse_loss(y))
        binary = y[:, :1]
        assert not one_output_for_classes(binary, one, _mse_loss(binary))
        # one class throughout: nothing to tell apart
        same = np.tile(y[:1], (N, 1))
        assert not one_output_for_classes(same, one, _mse_loss(same))
