"""The Keras twin of a slow learner's collapse at the budget: ``not_constant_predictions`` with
``train_on`` trains the copy on while the loss still falls and the predictions are collapsed; a
model that learns only the labels' marginal stays collapsed through the extension."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_corpus import mlp, sparse_ce
from pytest_mlcheck import CheckFailed, MLCheck
from torch_corpus import held_out, imbalanced_batches


def _channels_last(x) -> np.ndarray:
    return np.ascontiguousarray(x.numpy().transpose(0, 2, 3, 1), dtype=np.float32)


def _batches(scale: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """Half the labels are class 0 (below the share that would put a collapse down to imbalance)."""
    return [(_channels_last(x) * scale, y.numpy()) for x, y in imbalanced_batches(0.5)]


def _compiled() -> keras.Model:
    model = mlp()
    model.compile(loss=sparse_ce(), optimizer=keras.optimizers.SGD(0.01))
    return model


def test_a_slow_learner_trains_on_until_its_predictions_spread(mlcheck: MLCheck):
    result = mlcheck.not_constant_predictions(_compiled(), _channels_last(held_out()), train_on=_batches(1.0))
    assert "so training went on" in result.notes[-1] and "they spread at step" in result.notes[-1], result.notes
    assert result.figures["largest_class_share"] <= 0.9


def test_inputs_too_faint_to_learn_from_stay_collapsed(mlcheck: MLCheck):
    with pytest.raises(CheckFailed) as info:
        mlcheck.not_constant_predictions(_compiled(), _channels_last(held_out()) * 1e-3, train_on=_batches(1e-3))
    assert info.value.causes[0] == "class_collapse", str(info.value)
    assert "still collapsed at step" in str(info.value)
