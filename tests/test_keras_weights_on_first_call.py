"""A Keras model marked built before its sublayers ran (``model.build`` on a subclassed layer with no
``build`` of its own) has no weights until its first call: the training checks run it once before
counting what can train, instead of failing with params_not_updated."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")


def _late_model():
    keras.utils.set_random_seed(0)

    class Late(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = keras.layers.Dense(16, activation="relu")
            self.out = keras.layers.Dense(3)

        def call(self, x):
            return self.out(self.hidden(x))

    model = Late()
    model.build((None, 4))  # marks it built; the Dense layers create their weights on the first call
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _batch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64") + (x[:, 1] > 0).astype("int64")


@pytest.mark.parametrize("check", ["loss_decreases", "overfit_one_batch", "gradients_flow"])
def test_weights_created_on_the_first_call_count_as_trainable(mlcheck, check):
    model = _late_model()
    assert len(model.trainable_weights) == 0  # the situation under test
    batch = _batch()
    result = getattr(mlcheck, check)(model, [batch] if check == "loss_decreases" else batch)
    assert result.passed
