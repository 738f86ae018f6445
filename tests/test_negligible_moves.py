"""A learning rate orders of magnitude too low (RMSprop at 1e-10, as hunkim's Keras linear regression
had it after a warning was silenced) leaves the weights where they were: no retry of the ×10 … ×10000
ladder climbs out of it, and the run failed with no cause or with the inputs' scale. The training
checks read the value: no trainable tensor moved beyond a few float32 ulps of its size while the
loss pulls on one at ≥ 1e-4 of its size — ``lr_too_low``, after every probe that says the step never
applies its update (an optimizer over another model's tensors stays ``params_not_updated``).
Twins: the same models at a working rate pass."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

import torch_corpus as tc
from keras_corpus import digits_arrays
from pytest_mlcheck import CheckFailed, MLCheck, diagnosis


def _torch_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))


def _keras_mlp(rate: float) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.RMSprop(rate),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _run(mlcheck: MLCheck, framework: str, rate: float):
    if framework == "torch":
        return mlcheck.overfit_one_batch(_torch_mlp(), tc.digits_batch(32), loss_fn=nn.CrossEntropyLoss(),
                                         optimizer=lambda p: torch.optim.RMSprop(p, lr=rate))
    return mlcheck.overfit_one_batch(_keras_mlp(rate), digits_arrays(32))


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_a_rate_of_1e_10_is_named_too_low_from_the_weights_that_did_not_move(mlcheck: MLCheck, framework: str):
    with pytest.raises(CheckFailed) as failed:
        _run(mlcheck, framework, 1e-10)
    message = str(failed.value)
    assert failed.value.causes[:1] == ["lr_too_low"], message
    assert "the optimizer's steps are too small to change anything (the optimizer's rate is 1e-10)" in message


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_the_same_model_at_a_working_rate_passes(mlcheck: MLCheck, framework: str):
    assert _run(mlcheck, framework, 1e-2).passed


def test_an_optimizer_over_another_models_tensors_stays_params_not_updated(mlcheck: MLCheck):
    other = _torch_mlp()
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_torch_mlp(), tc.digits_batch(32), loss_fn=nn.CrossEntropyLoss(),
                                  optimizer=torch.optim.RMSprop(other.parameters(), lr=1e-2))
    assert "lr_too_low" not in failed.value.causes, str(failed.value)


def test_moves_past_rounding_a_gradient_too_faint_or_a_diverged_run_name_nothing():
    w = {"w": np.ones((4, 4), dtype=np.float32)}
    strong, faint = {"w": np.full((4, 4), 0.5, dtype=np.float32)}, {"w": np.full((4, 4), 1e-6, dtype=np.float32)}
    assert diagnosis.negligible_moves(w, {"w": w["w"] * (1 + 1e-3)}, strong, 400, 1e-3) == []
    assert diagnosis.negligible_moves(w, dict(w), faint, 400, 1e-3) == []  # the gradient, not the rate, is small
    assert diagnosis.negligible_moves(w, {"w": np.full((4, 4), np.nan, dtype=np.float32)}, strong, 6, 0.1) == []
    assert diagnosis.negligible_moves(w, dict(w), strong, 400, 1e-10)[0][0] == "lr_too_low"
