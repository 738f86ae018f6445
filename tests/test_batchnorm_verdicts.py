"""BatchNorm with a small momentum (torchvision's MobileNet 0.01, Keras 0.999) memorises a batch in
training mode long before its running statistics catch up: accuracy, collapse and the baseline are
judged in eval mode after the copy's statistics are re-estimated on the data it trained on."""

from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

import keras_corpus as kc
import torch_corpus as tc
from keras_corpus import keras
from pytest_mlcheck import CheckFailed
from pytest_mlcheck.backends.keras_backend import KerasSession
from pytest_mlcheck.backends.torch_backend import TorchSession

CE = nn.CrossEntropyLoss


def slow_bn_cnn() -> nn.Module:
    """Momentum 0.001 is Keras MobileNetV2's 0.999 in torch's convention; BatchNorm on the logits too."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16, momentum=0.001), nn.ReLU(),
                         nn.Conv2d(16, 16, 3, padding=1), nn.BatchNorm2d(16, momentum=0.001), nn.ReLU(),
                         nn.Flatten(), nn.Linear(16 * 64, 10), nn.BatchNorm1d(10, momentum=0.001))


def slow_bn_keras() -> keras.Model:
    init = keras.initializers.GlorotUniform(seed=0)
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(16, 3, padding="same", kernel_initializer=init),
        keras.layers.BatchNormalization(momentum=0.999), keras.layers.ReLU(),
        keras.layers.Conv2D(16, 3, padding="same", kernel_initializer=init),
        keras.layers.BatchNormalization(momentum=0.999), keras.layers.ReLU(),
        keras.layers.Flatten(), keras.layers.Dense(10, kernel_initializer=init),
        keras.layers.BatchNormalization(momentum=0.999)])


def _adam(lr: float = 1e-2):
    return lambda p: torch.optim.Adam(p, lr=lr)


# 0–255 pixels: the first BatchNorm normalises them away in training, while its running statistics
# start at mean 0, variance 1 and move 1 % a step — the lag that eval mode would otherwise judge.
PIXELS = {"torch": lambda n=32: tc.digits_batch(n, scale="uint8"), "keras": lambda n=32: kc.digits_arrays(n, scale="uint8")}


def test_a_torch_model_with_slow_batchnorm_passes_the_judged_checks(mlcheck):
    assert mlcheck.overfit_one_batch(slow_bn_cnn(), PIXELS["torch"](), loss_fn=CE(), optimizer=_adam()).passed
    batches = [tc.digits_batch(32, offset=32 * i, scale="uint8") for i in range(4)]
    assert mlcheck.not_constant_predictions(slow_bn_cnn(), tc.held_out() * 255 / 16, train_on=batches,
                                            loss_fn=CE(), optimizer=_adam()).passed


def test_a_keras_model_with_slow_batchnorm_passes_the_judged_checks(mlcheck):
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    assert mlcheck.overfit_one_batch(slow_bn_keras(), PIXELS["keras"](), loss_fn=loss,
                                     optimizer=keras.optimizers.Adam(1e-2)).passed


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_without_re_estimated_statistics_the_same_model_would_fail(mlcheck, monkeypatch, framework):
    """The twin: judged on running statistics that lag the weights, the correct model fails (at the
    same budget: a run allowed to go on gives the statistics time to catch up)."""
    session = TorchSession if framework == "torch" else KerasSession
    monkeypatch.setattr(session, "recalibrate", lambda self, batch: False)
    monkeypatch.setattr(sys.modules["pytest_mlcheck.checks.overfit_one_batch"], "OVERFIT_EXTEND", 1)
    with pytest.raises(CheckFailed):
        if framework == "torch":
            mlcheck.overfit_one_batch(slow_bn_cnn(), tc.digits_batch(32, scale="uint8"), loss_fn=CE(), optimizer=_adam(), steps=150)
        else:
            mlcheck.overfit_one_batch(slow_bn_keras(), kc.digits_arrays(32, scale="uint8"), optimizer=keras.optimizers.Adam(1e-2),
                                      loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                                      steps=150)


def test_re_estimating_never_touches_the_users_statistics(mlcheck):
    model = slow_bn_cnn()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    mlcheck.overfit_one_batch(model, tc.digits_batch(32), loss_fn=CE(), optimizer=_adam())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    keras_model = slow_bn_keras()
    keras_model(kc.digits_arrays(2)[0])
    weights = [w.copy() for w in keras_model.get_weights()]
    mlcheck.overfit_one_batch(keras_model, kc.digits_arrays(32), optimizer=keras.optimizers.Adam(1e-2),
                              loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert all((a == b).all() for a, b in zip(weights, keras_model.get_weights()))
