"""A layer that acts only in training and removes everything the inputs carry — a dropout of rate 1,
TensorFlow's ``dropout_keep_prob=1`` passed to torch's ``nn.Dropout(p)`` as the I3D port did — gives
every sample the same training-mode outputs while eval mode, which every look at predictions takes,
shows them apart. The training checks and ``gradients_flow`` name ``over_regularized`` from that value
before any retry (the retries could not tell: no rate trains a head that sees zeros). Twins: the same
network without dropout and with an ordinary rate of 0.5 pass."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

import torch_corpus as tc
from keras_corpus import digits_arrays
from pytest_mlcheck import CheckFailed, MLCheck


def _torch_model(rate: float) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Dropout(rate), nn.Linear(64, 10))


def _keras_model(rate: float) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dropout(rate), keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _call(mlcheck: MLCheck, check: str, framework: str, rate: float):
    if framework == "torch":
        x, y = tc.digits_batch(32)
        kw = {"loss_fn": nn.CrossEntropyLoss(), "optimizer": lambda p: torch.optim.Adam(p, lr=1e-2)}
        model = _torch_model(rate)
    else:
        x, y = digits_arrays(32)
        kw, model = {}, _keras_model(rate)
    batch = (x, y) if check != "loss_decreases" else [(x, y)]
    return getattr(mlcheck, check)(model, batch, **kw)


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize("check", ["overfit_one_batch", "gradients_flow"])
def test_a_dropout_of_rate_one_is_named_over_regularized(mlcheck: MLCheck, framework: str, check: str):
    with pytest.raises(CheckFailed) as failed:
        _call(mlcheck, check, framework, 1.0)
    message = str(failed.value)
    assert failed.value.causes[:1] == ["over_regularized"], message
    assert "in training mode all 32 samples get the same outputs" in message and "Dropout whose rate is 1" in message


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize("rate", [0.0, 0.5])
@pytest.mark.parametrize("check", ["overfit_one_batch", "gradients_flow"])
def test_no_dropout_or_an_ordinary_rate_passes(mlcheck: MLCheck, framework: str, rate: float, check: str):
    assert _call(mlcheck, check, framework, rate).passed


def test_rows_alike_in_both_modes_or_apart_in_training_name_nothing():
    from pytest_mlcheck import diagnosis

    rng = np.random.default_rng(0)
    same = np.tile(rng.normal(size=(1, 4)), (8, 1)).astype(np.float32)
    apart = rng.normal(size=(8, 4)).astype(np.float32)
    assert diagnosis.training_path_drops_inputs(same, same) == []  # a dead head: constant in both modes
    assert diagnosis.training_path_drops_inputs(apart, apart) == []
    assert diagnosis.training_path_drops_inputs(same, apart)[0][0] == "over_regularized"
