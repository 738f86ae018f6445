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


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_statistics_are_re_estimated_with_dropout_off_and_the_model_is_left_as_it_was(framework):
    """Dropout before a batch norm inflates the variance the norm sees in training; statistics
    re-estimated that way divide eval mode's (dropout-free) activations by too much — the variance
    shift that kept a speech-emotion CNN's eval-mode predictions of a memorised batch at 23 of 32
    right while training mode had all 32. Re-estimated with dropout off, the norm's statistics are
    those of the activations eval mode computes; dropout and momentum are restored after."""
    import numpy as np

    from pytest_mlcheck.checks.common import open_session
    from pytest_mlcheck.checks.runner import TrainSpec
    from pytest_mlcheck.settings import Settings

    if framework == "torch":
        torch.manual_seed(0)
        model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 16),
                              nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 10))
        x, y = tc.digits_batch(64)
        session = open_session(model, Settings(), TrainSpec(loss_fn=CE()))
        try:
            prepared = session.prepare(x, y)
            assert session.recalibrate(prepared)
            copy = session.model
            with torch.no_grad():
                copy.eval()
                before_norm = copy[4](copy[3](copy[2](copy[1](copy[0](x)))))
            assert torch.allclose(copy[5].running_var, before_norm.var(0), rtol=1e-4)
            assert copy[3].p == 0.5 and not copy.training  # eval mode as a predict leaves it
        finally:
            session.close()
    else:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"),
                                  keras.layers.Dropout(0.5), keras.layers.Dense(16), keras.layers.BatchNormalization(),
                                  keras.layers.ReLU(), keras.layers.Dense(10)])
        x, y = kc.digits_arrays(64)
        session = open_session(model, Settings(), TrainSpec(loss_fn=kc.sparse_ce()))
        try:
            assert session.recalibrate(session.prepare(x, y))
            dense = keras.Sequential(model.layers[:4])
            variance = np.asarray(model.layers[4].moving_variance)
            expected = np.var(np.asarray(dense(x, training=False)), axis=0)
            assert np.allclose(variance, expected, rtol=1e-3, atol=1e-5)
            assert model.layers[2].rate == 0.5 and model.layers[4].momentum == 0.99
        finally:
            session.close()
