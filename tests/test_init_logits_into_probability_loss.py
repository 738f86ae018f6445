"""`init_loss` on a linear head into a loss that reads probabilities (Keras's default
``from_logits=False``: keras-nlp's BERT GLUE script compiled ``Dense(num_classes, name="logits")`` with
``loss="sparse_categorical_crossentropy"``, held-out batch 99) named only `init_loss_off`, as if the
head's init were merely too large. Adding 3 to every logit of a row changes such a loss, which a
cross-entropy on logits never allows: `loss_mismatch` is named first. A training check that fits one
batch anyway (rows normalised into (0, 1) by their sum get a gradient) passes with a note saying so. Twins: the same head with
``from_logits=True`` (its init is what it is), and multi-hot targets under a binary cross-entropy on
logits, which is no softmax cross-entropy and may move with the shift. (torch's counterpart, raw logits
into `NLLLoss`, is named from the loss of all-zero outputs, at or below 0.)"""

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
    return x, (x[:, 0] > 0).astype(np.int64)


def _keras_model(from_logits: bool) -> keras.Model:
    keras.utils.set_random_seed(0)
    # a head a few logits wide at init
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2, kernel_initializer=keras.initializers.RandomNormal(
        stddev=1.0, seed=0))])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    return model


def test_logits_into_keras_default_from_logits_false_is_loss_mismatch(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.init_loss(_keras_model(False), _data())
    assert failed.value.causes[:1] == ["loss_mismatch"], str(failed.value)
    assert "changes when every logit moves by +3" in str(failed.value)


def test_twin_the_same_head_with_from_logits_true_is_not_told_so(mlcheck):
    try:
        mlcheck.init_loss(_keras_model(True), _data())
    except CheckFailed as failed:
        assert "loss_mismatch" not in failed.causes, str(failed)


def test_twin_multi_hot_targets_under_a_binary_cross_entropy_are_not_told_so(mlcheck):
    torch.manual_seed(0)
    x, _ = _data()
    y = (np.stack([x[:, 0], x[:, 1], x[:, 2]], axis=1) > 0).astype(np.float32)
    try:
        mlcheck.init_loss(nn.Linear(8, 3), (torch.from_numpy(x), torch.from_numpy(y)),
                          loss_fn=nn.BCEWithLogitsLoss())
    except CheckFailed as failed:
        assert "loss_mismatch" not in failed.causes, str(failed)


def _positive_head(from_logits: bool) -> keras.Model:
    """Logits that start mostly positive (a bias of 1): Keras normalises them by their row sum, into
    (0, 1) where both are positive, where its clipped cross-entropy has a gradient, so the batch fits
    with from_logits=False too."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(2, bias_initializer=keras.initializers.Constant(1.0))])
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    return model


def test_a_training_check_that_fits_anyway_says_so_in_a_note(mlcheck):
    result = mlcheck.overfit_one_batch(_positive_head(False), _data())
    assert result.passed
    assert any("the batch fitted, though" in note and "loss_mismatch" in note for note in result.notes), result.notes


def test_twin_from_logits_true_fits_without_the_note(mlcheck):
    result = mlcheck.overfit_one_batch(_positive_head(True), _data())
    assert result.passed
    assert not any("the batch fitted, though" in note for note in result.notes), result.notes
