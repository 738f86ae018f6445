"""A compiled Keras loss adds the model's weight penalties (``model.losses``) in inference mode too, so
every loss value a probe reads carries them. Where a probe compares a value with a closed form, the
penalty comes off first (NVIDIA DeepLearningExamples #468's Keras twin: L2 of 0.425 at init turned
the softmax-again floor log(1 + 1/e) = 0.313 into 0.738, and the run passed)."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_corpus import digits_arrays
from pytest_mlcheck import CheckFailed, MLCheck


def _model(again: bool) -> keras.Model:
    """A softmax head with a strong L2 penalty, into a cross-entropy plus a term on the probabilities
    themselves (not shift-invariant: only the loss's value at one-hot rows tells). ``again``: the
    cross-entropy takes logits (``from_logits=True``) and softmaxes the probabilities again."""
    keras.utils.set_random_seed(0)
    l2 = keras.regularizers.L2(1e-2)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(32, activation="relu", kernel_regularizer=l2),
                              keras.layers.Dense(10, activation="softmax", kernel_regularizer=l2)])
    cross_entropy = keras.losses.CategoricalCrossentropy(from_logits=again)

    def loss(y, probs):
        return cross_entropy(y, probs) + keras.ops.mean(1.0 - keras.ops.sum(y * probs, axis=-1))

    model.compile(loss=loss, optimizer=keras.optimizers.Adam(1e-2))
    return model


def _batch() -> tuple[np.ndarray, np.ndarray]:
    x, y = digits_arrays(32)
    return x, np.eye(10, dtype="float32")[y]


def test_the_penalty_is_large_enough_to_hide_the_floor():
    """The case below means something only if the penalty moves the value past the tolerance."""
    model = _model(again=True)
    x, y = _batch()
    with_penalty = float(model.compute_loss(x=x, y=y, y_pred=keras.ops.convert_to_tensor(y), training=False))
    assert with_penalty - np.log1p(9 / np.e) > 0.05


@pytest.mark.parametrize("again", [True, False])
def test_a_softmax_again_floor_is_read_without_the_weight_penalty(mlcheck: MLCheck, again: bool):
    run = lambda: mlcheck.overfit_one_batch(_model(again), _batch())  # noqa: E731
    if not again:
        assert run().passed
        return
    with pytest.raises(CheckFailed) as failed:
        run()
    assert failed.value.causes[:1] == ["loss_mismatch"], str(failed.value)
    assert "log(1 + (C−1)/e) for 10 classes" in str(failed.value)
