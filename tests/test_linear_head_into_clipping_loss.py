"""A binary head without a sigmoid into a loss that clips what it is given into [ε, 1 − ε] — Keras's
``binary_crossentropy`` without ``from_logits`` (jeffheaton/t81_558_deep_learning's breast-cancer
classifier: ``Dense(1, activation='linear')``) — is flat wherever an output lies outside [0, 1]: no
gradient reaches it, and the training checks sat at one loss through every retry, naming nothing. The
loss costing confident logits exactly what those values clipped into [1e-7, 1 − 1e-7] cost shows it reads
probabilities, so the outputs outside [0, 1] name ``output_activation`` before training. Twins: the
sigmoid head (the fix), the linear head with ``from_logits=True``, and torch's BCEWithLogitsLoss."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer
from torch import nn

from pytest_mlcheck import CheckFailed, MLCheck


def _data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    x, y = load_breast_cancer(return_X_y=True)
    x = (x - x.mean(axis=0)) / x.std(axis=0)
    return x[:n].astype(np.float32), (1 - y[:n]).astype(np.float32)


def _keras(activation: str, from_logits: bool) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((30,)), keras.layers.Dense(25, activation="relu"),
                              keras.layers.Dense(1, activation=activation,
                                                 kernel_initializer=keras.initializers.RandomNormal(0, 0.01))])
    model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=from_logits), optimizer="adam")
    return model


@pytest.mark.parametrize("check", ["overfit_one_batch", "loss_decreases"])
def test_a_linear_head_into_a_clipping_probability_loss_names_the_activation(mlcheck: MLCheck, check: str):
    x, y = _data()
    run = getattr(mlcheck, check)
    with pytest.raises(CheckFailed) as failed:
        run(_keras("linear", False), (x, y)) if check == "overfit_one_batch" else run(_keras("linear", False), [(x, y)])
    message = str(failed.value)
    assert failed.value.causes[:1] == ["output_activation"], message
    assert "the loss clips what it is given into [0, 1]" in message and "outside [0, 1]" in message
    assert "read as probabilities" in message


@pytest.mark.parametrize(("activation", "from_logits"), [("sigmoid", False), ("linear", True)],
                         ids=["sigmoid head, probabilities", "linear head, from_logits=True"])
def test_a_head_the_loss_reads_as_it_is_written_trains(mlcheck: MLCheck, activation: str, from_logits: bool):
    x, y = _data()
    assert mlcheck.overfit_one_batch(_keras(activation, from_logits), (x, y)).passed


def test_torch_logits_into_bce_with_logits_train(mlcheck: MLCheck):
    x, y = _data()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(30, 25), nn.ReLU(), nn.Linear(25, 1))
    assert mlcheck.overfit_one_batch(model, (torch.from_numpy(x), torch.from_numpy(y)[:, None]),
                                     loss_fn=nn.BCEWithLogitsLoss()).passed
