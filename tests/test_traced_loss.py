"""Keras under TensorFlow hands a cross-entropy the logits beneath a softmax or sigmoid output when
it traces the training step (as fit() does), and applies the loss's own activation to them: on a
softmax head, binary_crossentropy then trains twenty independent sigmoids on the softmax's logits
(keras #4994's newsgroups LSTM: the traced loss starts at 0.685 where the outputs score 0.199, and
falls while the outputs never change). The training checks compare the two readings of the same
outputs before they train; matched pairs agree bit for bit and pass."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_corpus import digits_arrays
from pytest_mlcheck import CheckFailed, MLCheck
from pytest_mlcheck.targets import logits_read


def _model(activation: str, loss: object) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(10, activation=activation)])
    model.compile(loss=loss, optimizer=keras.optimizers.Adam(1e-2))
    return model


def _hand_written_bce(y_true, y_pred):
    p = keras.ops.clip(y_pred, 1e-7, 1 - 1e-7)
    return -keras.ops.mean(y_true * keras.ops.log(p) + (1 - y_true) * keras.ops.log(1 - p))


def _batch(multi_hot: bool = False) -> tuple[np.ndarray, np.ndarray]:
    x, y = digits_arrays(64)
    rows = np.eye(10, dtype="float32")[y]
    if multi_hot:  # a second label per sample: independent labels, what sigmoid units are for
        rows = np.maximum(rows, np.eye(10, dtype="float32")[(y * 3 + 1) % 10])
    return x, rows


def test_binary_crossentropy_on_a_softmax_head_fails_before_training_and_says_what_training_scores(mlcheck: MLCheck):
    model = _model("softmax", "binary_crossentropy")
    for check in (mlcheck.init_loss, mlcheck.overfit_one_batch):
        with pytest.raises(CheckFailed) as failed:
            check(model, _batch())
        text = str(failed.value)
        assert failed.value.causes == ["loss_mismatch"], text
        assert "training scores the logits beneath the last activation" in text
        assert "binary_crossentropy on a softmax trains each logit as an independent sigmoid" in text
        assert failed.value.result.figures.get("loss_ratio") is None  # failed before any step


@pytest.mark.parametrize(("activation", "loss"), [
    ("softmax", "categorical_crossentropy"),
    ("softmax", keras.losses.CategoricalCrossentropy()),
    ("sigmoid", "binary_crossentropy"),  # independent labels: Keras's logits reading is the same loss
    ("softmax", _hand_written_bce),  # a loss of the outputs' values, traced or not: defects4ml 003's look-alike
], ids=["softmax-cce", "softmax-cce-object", "sigmoid-bce", "softmax-hand-written-bce"])
def test_matched_heads_and_losses_read_the_same_either_way(mlcheck: MLCheck, activation: str, loss: object):
    result = mlcheck.init_loss(_model(activation, loss), _batch(multi_hot=activation == "sigmoid"))
    assert "training scores the logits" not in " ".join(result.notes)
    assert not any("traced training step" in n for n in result.notes)


def test_the_two_readings_are_compared_with_float32_rounding_to_spare():
    uniform = np.full((4, 20), 0.05, dtype="float32")
    def read(outputs, traced, value):
        return logits_read(outputs, lambda: traced, lambda: value)

    assert read(uniform, 0.199, 0.199) == [] and read(uniform, None, 0.199) == []
    assert read(uniform, 0.19900001, 0.199) == [] and read(uniform, float("nan"), 0.199) == []
    assert [c for c, _ in read(uniform, 0.6852, 0.199)] == ["loss_mismatch"]
    saturated = uniform.copy()
    saturated[0] = 0.0
    saturated[0, 3] = 1.0
    assert read(saturated, 0.6852, 0.199) == []  # clipped values: the gap proves nothing
    traced: list[str] = []
    assert logits_read(saturated, lambda: traced.append("traced") or 0.6852, lambda: 0.199) == [] and not traced


def test_a_matched_head_on_raw_pixels_is_not_read_as_a_mismatch(mlcheck: MLCheck):
    """Keras #6914's MLP on 0-255 pixels (and AUTOTRAINER's unscaled blobs, the Pima MLP on raw
    features): the softmax saturates, Keras clips the values at 1e-7 and not the logits, so the two
    readings of a matched softmax + categorical_crossentropy differ by the clipping alone."""
    x, y = digits_arrays(64, scale="uint8")
    model = _model("softmax", "categorical_crossentropy")
    text = ""
    try:
        mlcheck.init_loss(model, (x, np.eye(10, dtype="float32")[y]))
    except CheckFailed as failed:
        text = str(failed)
        assert "loss_mismatch" not in failed.causes, text
    assert "training scores the logits" not in text


def test_kept_steps_know_a_compiled_loss_by_what_it_is_not_by_its_id():
    """A recompiled model's new loss object may take a freed object's id(); keyed by id, a kept
    traced step would then compute the old loss. Keras losses are known by class and settings,
    other objects are held by the key itself, lists and dicts item by item."""
    from pytest_mlcheck.backends.keras_common import _config_key

    a, b = keras.losses.CategoricalCrossentropy(), keras.losses.CategoricalCrossentropy()
    assert _config_key(a) == _config_key(b) != _config_key(keras.losses.MeanSquaredError())
    assert _config_key(keras.losses.CategoricalCrossentropy(from_logits=True)) != _config_key(a)
    assert _config_key(_hand_written_bce) is _hand_written_bce  # held: its id cannot pass to another object
    assert _config_key(["mse", a]) == _config_key(["mse", b]) != _config_key(["mae", a])
    assert _config_key({"out": "mse"}) == _config_key({"out": "mse"}) != _config_key({"out": "mae"})


def test_the_mask_a_padded_sequence_carries_is_not_read_as_logits(mlcheck: MLCheck):
    """fit() also weighs the loss by the mask a ``mask_zero`` embedding carries to the outputs
    (wanasit/katakana's seq2seq, b78b in the real-program corpus): the traced loss of a matched
    softmax head differs from its value then, by the padding alone. The comparison leaves the mask
    out: what it asks is whether the logits beneath the activation are read."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 13, size=64)
    ids = np.where(np.arange(12)[None, :] < lengths[:, None], rng.integers(1, 20, size=(64, 12)), 0)
    rows = np.eye(8, dtype="float32")[np.where(ids > 0, 1 + ids % 7, 0)]  # padded steps: the padding class 0
    model = keras.Sequential([keras.Input((12,), dtype="int32"), keras.layers.Embedding(20, 16, mask_zero=True),
                              keras.layers.LSTM(16, return_sequences=True), keras.layers.Dense(8, activation="softmax")])
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(1e-2))
    result = mlcheck.init_loss(model, (ids.astype("int32"), rows), num_classes=8)
    assert result.passed, result
