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


def _penalised_mlp(l2: float, compiled: bool) -> keras.Model:
    """A digits MLP whose two kernels carry an L2 penalty of ``l2`` (``kernel_regularizer=``)."""
    init = keras.initializers.GlorotUniform(seed=0)
    reg = keras.regularizers.L2(l2)
    inputs = keras.Input((8, 8, 1))
    hidden = keras.layers.Dense(64, activation="relu", kernel_initializer=init,
                                kernel_regularizer=reg)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10, kernel_initializer=init, kernel_regularizer=reg)(hidden))
    if compiled:
        model.compile(optimizer=keras.optimizers.Adam(1e-3),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _fit(mlcheck: MLCheck, model: keras.Model, compiled: bool):
    given = {} if compiled else {"loss_fn": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                                 "optimizer": keras.optimizers.Adam(1e-3)}
    return mlcheck.overfit_one_batch(model, digits_arrays(32), **given)


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled loss", "loss_fn="])
def test_a_usual_kernel_penalty_fits_one_batch_whichever_way_the_loss_is_given(mlcheck: MLCheck, compiled: bool):
    """An L2 of 0.01 ends near 0.58 with every sample fitted, most of it the penalty: the loss a check
    reads is without it (given as loss_fn= it used to be in, with a floor of 0, and the run failed)."""
    assert _fit(mlcheck, _penalised_mlp(1e-2, compiled), compiled).passed


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled loss", "loss_fn="])
@pytest.mark.parametrize("l2", [0.1, 1.0])
def test_a_kernel_penalty_that_holds_the_fit_back_is_over_regularized_and_stays_on_the_model(
        mlcheck: MLCheck, compiled: bool, l2: float):
    """The retry without weight decay drops the layers' penalties too, by leaving them out of what it
    differentiates: the user's regularizers stay where they are. At 1 the outputs stay nearly flat
    (right samples cost 2.08, wrong 2.33): no margin header's doing, so no loss_mismatch."""
    model = _penalised_mlp(l2, compiled)
    before = [np.array(v) for v in model.weights]
    with pytest.raises(CheckFailed) as failed:
        _fit(mlcheck, model, compiled)
    text = str(failed.value)
    assert failed.value.causes[:1] == ["over_regularized"], text
    assert f"an L2 {l2:g} penalty on 2 weight tensor(s)" in text and "a retry without it halved it" in text
    assert "loss 2.3" in text  # read without the penalty (with it the start is 10.5 at 0.1, 84 at 1)
    assert [v.regularizer is not None for v in model.trainable_weights] == [True, False, True, False]
    assert all(np.array_equal(a, np.array(v)) for a, v in zip(before, model.weights))
