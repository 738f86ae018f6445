"""A ReLU on a regression head whose one unit starts below 0 on every sample: every output is 0, no
weight gets a gradient, and nothing trains (TorchBench's DLRM drew its output bias from N(0, 1) with
a ReLU after every layer; fixed by a zero bias). The outputs ignore the inputs, which had been put
down to `no_input_signal`; the training checks now name `dead_units` for the head. Twins: the same
head started at bias 0 trains, and a linear head started at 0 (outputs 0, but its weights get a
gradient) is not called dead."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed


def _data(n: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 8)).astype(np.float32)
    y = (0.5 + 0.2 * np.tanh(x[:, :1] - x[:, 1:2])).astype(np.float32)
    return x, y


def _torch_model(bias: float, *, relu: bool = True, zero_head: bool = False) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1), *([nn.ReLU()] if relu else []))
    with torch.no_grad():
        model[2].bias.fill_(bias)
        if zero_head:
            model[2].weight.zero_()
    return model


def _torch_batch() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _data()
    return torch.from_numpy(x), torch.from_numpy(y)


def test_a_relu_head_below_zero_on_every_sample_is_dead_units_in_torch(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_torch_model(-5.0), _torch_batch(), loss_fn=nn.MSELoss(),
                                  optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert failed.value.causes[:1] == ["dead_units"], str(failed.value)
    assert "every output is exactly 0 on all 64 samples" in str(failed.value)


def test_twin_the_same_head_at_bias_zero_trains_in_torch(mlcheck):
    assert mlcheck.overfit_one_batch(_torch_model(0.0), _torch_batch(), loss_fn=nn.MSELoss(),
                                     optimizer=lambda p: torch.optim.Adam(p, lr=1e-2)).passed


def test_twin_a_linear_head_started_at_zero_is_no_dead_head(mlcheck):
    # outputs exactly 0 at init, but the head's weights get a gradient: the run decides, and fits
    assert mlcheck.overfit_one_batch(_torch_model(0.0, relu=False, zero_head=True), _torch_batch(),
                                     loss_fn=nn.MSELoss(), optimizer=lambda p: torch.optim.Adam(p, lr=1e-2)).passed


def _keras_model(bias: float) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(1, activation="relu",
                                                 bias_initializer=keras.initializers.Constant(bias))])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    return model


def test_a_relu_head_below_zero_on_every_sample_is_dead_units_in_keras(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_keras_model(-5.0), _data())
    assert failed.value.causes[:1] == ["dead_units"], str(failed.value)


def test_twin_the_same_head_at_bias_zero_trains_in_keras(mlcheck):
    assert mlcheck.overfit_one_batch(_keras_model(0.0), _data()).passed
