"""Value targets far from unit scale under a rate that diverges on them: a retry at the same
learning rate on the targets standardised decides between targets_not_normalized and a rate too
high for any targets (AUTOTRAINER's case 17: make_regression targets of std ~150 under SGD 0.01)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed

_RNG = np.random.default_rng(1)
X = _RNG.normal(size=(96, 20)).astype(np.float32)
Y_RAW = (X @ _RNG.normal(size=(20, 1)) * 35 + _RNG.normal(size=(96, 1)) * 0.1).astype(np.float32)  # std ~160
Y_STD = ((Y_RAW - Y_RAW.mean()) / Y_RAW.std()).astype(np.float32)


def _fit(mlcheck, framework: str, check: str, y: np.ndarray, lr: float):
    """The check on a 20-25-1 ReLU regression MLP trained by plain SGD at ``lr`` on targets ``y``."""
    if framework == "torch":
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(20, 25), nn.ReLU(), nn.Linear(25, 1))
        batches = [(torch.from_numpy(X[i:i + 32]), torch.from_numpy(y[i:i + 32])) for i in range(0, 96, 32)]
        loss, optimizer = nn.MSELoss(), (lambda p: torch.optim.SGD(p, lr=lr))
    else:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(25, activation="relu"), keras.layers.Dense(1)])
        batches = [(X[i:i + 32], y[i:i + 32]) for i in range(0, 96, 32)]
        loss, optimizer = keras.losses.MeanSquaredError(), keras.optimizers.SGD(lr)
    if check == "overfit_one_batch":
        return mlcheck.overfit_one_batch(model, batches[0], loss_fn=loss, optimizer=optimizer)
    return mlcheck.loss_decreases(model, batches, loss_fn=loss, optimizer=optimizer)


CHECKS = ["overfit_one_batch", "loss_decreases"]


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize("check", CHECKS)
def test_raw_targets_that_make_sgd_diverge_are_named_from_a_standardised_retry(mlcheck, framework, check):
    with pytest.raises(CheckFailed) as failed:
        _fit(mlcheck, framework, check, Y_RAW, 0.01)
    assert failed.value.causes[0] == "targets_not_normalized", str(failed.value)
    assert "a retry at the same learning rate on the targets standardised" in str(failed.value)


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize("check", CHECKS)
def test_the_standardised_twin_passes(mlcheck, framework, check):
    assert _fit(mlcheck, framework, check, Y_STD, 0.01).passed


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize("targets", ["raw", "standardised"])
def test_a_rate_too_high_for_any_targets_stays_lr_too_high(mlcheck, framework, targets):
    """At lr 1 the standardised retry diverges too: the learning-rate retries decide."""
    with pytest.raises(CheckFailed) as failed:
        _fit(mlcheck, framework, "overfit_one_batch", Y_RAW if targets == "raw" else Y_STD, 1.0)
    assert failed.value.causes[0] == "lr_too_high", str(failed.value)
    assert "targets_not_normalized" not in failed.value.causes, str(failed.value)
