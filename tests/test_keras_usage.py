"""For Keras models too, misuse of the API is a usage error naming the argument, a defect in the
user's model or data is a failed check naming its cause, and tf.data pipelines are read as batches."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_corpus import cnn, compiled, digits_array_batches, digits_arrays, sparse_ce
from pytest_mlcheck import CheckFailed, MlcheckUsageError

GPUS = len(tf.config.list_logical_devices("GPU"))


def _adam_cnn(num_classes: int = 10) -> keras.Model:
    return compiled(cnn(num_classes), keras.optimizers.Adam(1e-3), sparse_ce())


USAGE = [
    ("an uncompiled model without loss_fn", "loss_fn", lambda m: m.overfit_one_batch(cnn(), digits_arrays(8))),
    ("optimizer is a string", "optimizer",
     lambda m: m.overfit_one_batch(cnn(), digits_arrays(8), loss_fn=sparse_ce(), optimizer="adam")),
    ("a Keras loss that returns one value per sample", "loss_fn",
     lambda m: m.overfit_one_batch(cnn(), digits_arrays(8), optimizer=keras.optimizers.Adam(1e-3),
                                   loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                                      reduction=None))),
    ("a per-sample loss in loss_decreases", "loss_fn",
     lambda m: m.loss_decreases(cnn(), digits_array_batches(2, n=8), optimizer=keras.optimizers.Adam(1e-3),
                                loss_fn=keras.losses.SparseCategoricalCrossentropy(from_logits=True,
                                                                                   reduction=None))),
]


@pytest.mark.parametrize("name,argument,call", USAGE, ids=[u[0] for u in USAGE])
def test_misuse_of_a_keras_model_is_a_usage_error_that_names_the_argument(mlcheck, name, argument, call):
    with pytest.raises(MlcheckUsageError) as info:
        call(mlcheck)
    assert str(info.value).startswith(f"{argument}:"), str(info.value)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ValueError)


@pytest.mark.skipif(GPUS > 0, reason="TensorFlow sees a GPU on this machine")
def test_cuda_asked_for_a_keras_model_on_a_machine_without_a_gpu_is_a_usage_error(mlcheck):
    model = _adam_cnn()
    before = [np.array(v.numpy(), copy=True) for v in model.variables]
    with pytest.raises(MlcheckUsageError) as info:
        mlcheck.overfit_one_batch(model, digits_arrays(8), device="cuda")
    message = str(info.value)
    assert message.startswith("device:"), message
    assert "TensorFlow sees 0 GPU(s)" in message
    assert all(np.array_equal(b, v.numpy()) for b, v in zip(before, model.variables))


def _nan_batch() -> tuple[np.ndarray, np.ndarray]:
    x, y = digits_arrays(16)
    x[3, 2, 2, 0] = np.nan
    return x, y


DEFECTS = [
    ("labels beyond a 5-wide head", "head_width", lambda m: m.overfit_one_batch(_adam_cnn(5), digits_arrays(32))),
    ("NaN in a batch", "inputs_not_finite", lambda m: m.overfit_one_batch(_adam_cnn(), _nan_batch())),
]


@pytest.mark.parametrize("name,cause,call", DEFECTS, ids=[d[0] for d in DEFECTS])
def test_a_defect_of_a_keras_user_is_a_failed_check_with_its_cause(mlcheck, name, cause, call):
    with pytest.raises(CheckFailed) as info:
        call(mlcheck)
    assert info.value.causes[0] == cause, str(info.value)
    assert f"cause {cause}:" in str(info.value)
    assert info.value.result is not None and not info.value.result.passed


def _dataset(k: int) -> tf.data.Dataset:
    x, y = digits_arrays(32 * k)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(32)


def test_a_tf_data_dataset_of_batches_is_read_by_loss_decreases(mlcheck):
    result = mlcheck.loss_decreases(_adam_cnn(), _dataset(4), steps=24)
    assert result.passed
    assert result.figures["batches"] == 4
    assert result.steps == 24


def test_a_tf_data_dataset_of_batches_is_read_by_overfit_one_batch(mlcheck):
    result = mlcheck.overfit_one_batch(_adam_cnn(), _dataset(2))
    assert result.passed
    assert result.figures["samples"] == 32  # the first batch, not the whole dataset


def test_a_keras_model_on_the_numpy_backend_is_a_usage_error_that_says_so(pytester, monkeypatch):
    """The numpy backend has no gradients (JAX, torch: test_keras_backends.py)."""
    monkeypatch.setenv("KERAS_BACKEND", "numpy")
    monkeypatch.setenv("KERAS_HOME", str(pytester.path / "keras-home"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    pytester.makepyfile(
        """
        import numpy as np
        import pytest
        import keras
        from pytest_mlcheck import MlcheckUsageError

        def test_numpy_backend(mlcheck):
            assert keras.backend.backend() == "numpy"
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
            x, y = np.random.rand(16, 4).astype("float32"), np.arange(16) % 3
            with pytest.raises(MlcheckUsageError, match="KERAS_BACKEND is 'numpy'"):
                mlcheck.overfit_one_batch(model, (x, y), loss_fn=keras.losses.SparseCategoricalCrossentropy())
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly")
    result.assert_outcomes(passed=1)
