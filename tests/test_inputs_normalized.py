"""inputs_normalized: inputs reach the model as floats at about unit scale, in both frameworks."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import keras
import torch
from torch import nn

import keras_corpus as kc
import recipe_corpus as rc
import torch_corpus as tc
from pytest_mlcheck import CheckFailed, MLCheck, MlcheckUsageError

_raw = tc.digits()[0][:64]

BROKEN = [
    ("raw 0-16 digits as float32", lambda: dict(inputs=tc.digits_batch(64, scale="raw")), "inputs_not_normalized"),
    ("0-255 pixels as float32", lambda: dict(inputs=tc.digits_batch(64, scale="uint8")[0]), "inputs_not_normalized"),
    ("uint8 numpy pixels", lambda: dict(inputs=np.round(_raw * 255 / 16).astype(np.uint8)), "inputs_not_normalized"),
    ("uint8 torch tensor", lambda: dict(inputs=torch.from_numpy(np.round(_raw * 255 / 16).astype(np.uint8))),
     "inputs_not_normalized"),
    ("uint8 tf tensor", lambda: dict(inputs=tf.constant(np.round(_raw * 255 / 16).astype(np.uint8))),
     "inputs_not_normalized"),
    ("pixels divided by 255 twice", lambda: dict(inputs=tc.digits_batch(64, scale="uint8")[0] / 255 / 255),
     "inputs_not_normalized"),
    ("a NaN in the batch", lambda: dict(inputs=np.where(np.eye(64, 64, dtype=bool)[:, :1, None, None].repeat(8, 2)
                                                        .repeat(8, 3), np.nan, _raw / 16)), "inputs_not_finite"),
    ("torch model fed 0-255 pixels", lambda: dict(inputs=tc.digits_batch(64, scale="uint8"), model=tc.DigitsCNN()),
     "inputs_not_normalized"),
    ("keras model fed 0-255 pixels", lambda: dict(inputs=kc.digits_arrays(64, scale="uint8"), model=kc.cnn()),
     "inputs_not_normalized"),
    ("keras model fed uint8 pixels", lambda: dict(
        inputs=np.round(kc.digits_arrays(64, scale="uint8")[0]).astype(np.uint8), model=rc.k_mlp()),
     "inputs_not_normalized"),
]

CORRECT = [
    ("digits scaled to [0, 1]", lambda: dict(inputs=tc.digits_batch(64))),
    ("standardised features", lambda: dict(inputs=(_raw - _raw.mean()) / _raw.std())),
    ("boolean masks", lambda: dict(inputs=_raw > 8)),
    ("a DataLoader of (x, y) batches", lambda: dict(
        inputs=torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*tc.digits_batch(64)), batch_size=16))),
    ("a tf.data.Dataset", lambda: dict(inputs=tf.data.Dataset.from_tensor_slices(kc.digits_arrays(64)).batch(16))),
    ("torch model dividing 0-255 pixels by 255 in forward", lambda: dict(
        inputs=tc.digits_batch(64, scale="uint8"), model=rc.ScalesInside())),
    ("torch embeddings on integer tokens", lambda: dict(inputs=tc.digit_tokens(64), model=tc.EmbeddingBagNet())),
    ("torch BatchNorm first, then a linear layer", lambda: dict(
        inputs=tc.digits_batch(64, scale="raw"),
        model=torch.nn.Sequential(torch.nn.Flatten(), torch.nn.BatchNorm1d(64), torch.nn.Linear(64, 10)))),
    ("keras Rescaling(1/255) on 0-255 pixels", lambda: dict(
        inputs=kc.digits_arrays(64, scale="uint8"), model=rc.k_mlp(rescale=1 / 255))),
    ("keras Embedding on int32 tokens", lambda: dict(inputs=rc.k_tokens(64), model=rc.k_embedding(False))),
    ("keras Embedding on tokens held as float32", lambda: dict(inputs=rc.k_tokens(64, dtype="float32"),
                                                              model=rc.k_embedding(True))),
]


@pytest.mark.parametrize("name,build,cause", BROKEN, ids=[b[0] for b in BROKEN])
def test_inputs_far_from_unit_scale_fail_with_their_figures(mlcheck, name, build, cause):
    kw = build()
    with pytest.raises(CheckFailed) as failed:
        mlcheck.inputs_normalized(kw.pop("inputs"), **kw)
    assert failed.value.causes[0] == cause, str(failed.value)
    assert " in " in str(failed.value) or "non-finite" in str(failed.value)


@pytest.mark.parametrize("name,build", CORRECT, ids=[c[0] for c in CORRECT])
def test_inputs_at_unit_scale_or_rescaled_inside_the_model_pass(mlcheck, name, build):
    torch.manual_seed(0)
    kw = build()
    assert mlcheck.inputs_normalized(kw.pop("inputs"), **kw).passed


def test_uint8_pixels_also_name_the_dtype(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.inputs_normalized(np.round(_raw * 255 / 16).astype(np.uint8))
    assert failed.value.causes == ["inputs_not_normalized", "input_dtype"]
    assert "uint8 in 0..255" in str(failed.value)


def test_with_a_model_the_figures_describe_what_reaches_its_first_weighted_layer(mlcheck):
    result = mlcheck.inputs_normalized(kc.digits_arrays(64, scale="uint8"), model=rc.k_mlp(rescale=1 / 255))
    seen = result.figures["first_layer_input"]
    assert seen["dtype"] == "float32" and seen["min"] >= 0 and seen["max"] <= 1


@pytest.mark.parametrize("inputs", [[], "pixels", {"x": np.zeros((4, 2))}], ids=["empty list", "a string", "a dict"])
def test_inputs_that_are_not_samples_are_usage_errors(mlcheck, inputs):
    with pytest.raises(MlcheckUsageError, match="^inputs:"):
        mlcheck.inputs_normalized(inputs)


class _StateFirst(nn.Module):
    """A layer that reads a state starting at 0 runs before the one that reads the pixels (DRAW's
    decoder on its zero state, then its read of the image)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.state, self.read = nn.Linear(16, 16), nn.Linear(64 + 16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.state(torch.zeros(len(x), 16))
        return self.read(torch.cat([x.flatten(1), h], dim=1))


def _keras_state_first() -> keras.Model:
    keras.utils.set_random_seed(0)
    x = keras.Input((64,))
    h = keras.layers.Dense(16)(keras.layers.Lambda(lambda t: keras.ops.zeros_like(t[:, :16]))(x))
    return keras.Model(x, keras.layers.Dense(10)(keras.layers.Concatenate()([x, h])))


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize("scale", [255.0, 1.0], ids=["BROKEN raw pixels", "pixels in [0, 1]"])
def test_a_layer_reading_a_zero_state_first_is_passed_over(mlcheck: MLCheck, framework: str, scale: float):
    pixels = (np.random.default_rng(0).random((32, 64)) * scale).astype(np.float32)
    model, inputs = (_StateFirst(), torch.from_numpy(pixels)) if framework == "torch" else (_keras_state_first(), pixels)
    if scale == 1.0:
        result = mlcheck.inputs_normalized(inputs, model=model)
        assert result.passed and "the same for every sample" in " ".join(result.notes)
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.inputs_normalized(inputs, model=model)
    assert failed.value.causes == ["inputs_not_normalized"], str(failed.value)
    assert "the same for every sample" in str(failed.value)


class _BaselineFirst(nn.Module):
    """One layer called twice: on a zero baseline first, then on the pixels (the two calls are recorded
    under one name)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc, self.out = nn.Linear(64, 16), nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        base = self.fc(torch.zeros_like(x))
        return self.out(torch.relu(self.fc(x) - base))


@pytest.mark.parametrize("scale", [255.0, 1.0], ids=["BROKEN raw pixels", "pixels in [0, 1]"])
def test_a_layer_called_first_on_a_baseline_is_judged_on_its_second_call(mlcheck: MLCheck, scale: float):
    pixels = torch.from_numpy((np.random.default_rng(1).random((32, 64)) * scale).astype(np.float32))
    if scale == 1.0:
        assert mlcheck.inputs_normalized(pixels, model=_BaselineFirst()).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.inputs_normalized(pixels, model=_BaselineFirst())
    assert failed.value.causes == ["inputs_not_normalized"], str(failed.value)


class _Shifted(nn.Module):
    """The first weighted layer reads the image and the image less 0.5 (DRAW's ``x - sigmoid(canvas)``
    with a canvas at 0), optionally after rescaling it by ``gain``."""

    def __init__(self, gain: float = 1.0) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.gain, self.fc = gain, nn.Linear(128, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1) * self.gain
        return self.fc(torch.cat([x, x - 0.5], dim=1))


def _keras_shifted(gain: float = 1.0) -> keras.Model:
    keras.utils.set_random_seed(0)
    x = keras.Input((64,))
    scaled = keras.layers.Rescaling(gain)(x)
    shifted = keras.layers.Rescaling(1.0, offset=-0.5)(scaled)
    return keras.Model(x, keras.layers.Dense(10)(keras.layers.Concatenate()([scaled, shifted])))


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize(("scale", "gain"), [(255.0 ** 2, 1.0), (255.0, 1.0), (255.0 ** 2, 255.0)],
                         ids=["BROKEN pixels / 255 / 255", "pixels in [0, 1]", "pixels / 255 / 255 rescaled inside"])
def test_a_shift_inside_the_model_does_not_hide_inputs_scaled_twice(mlcheck: MLCheck, framework: str, scale: float,
                                                                     gain: float):
    pixels = (np.random.default_rng(2).integers(0, 256, (32, 64)) / scale).astype(np.float32)
    model, inputs = (_Shifted(gain), torch.from_numpy(pixels)) if framework == "torch" \
        else (_keras_shifted(gain), pixels)
    if scale == 255.0 or gain != 1.0:
        assert mlcheck.inputs_normalized(inputs, model=model).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.inputs_normalized(inputs, model=model)
    assert failed.value.causes == ["inputs_not_normalized"], str(failed.value)
    assert "differs between samples by at most 0.00" in str(failed.value) and "scaled twice" in str(failed.value)


def _temperatures_and_loads(n: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """A day's temperature (about 0-33 °C) and a building's load (769-2338 kW) that follows it."""
    rng = np.random.default_rng(0)
    temperature = 16 + 8 * np.sin(np.arange(n)[:, None] / 9 + np.arange(16)[None, :] / 4) + rng.normal(0, 2, (n, 16))
    load = 1500 + 40 * temperature + rng.normal(0, 30, (n, 16))
    return temperature.astype(np.float32), load.astype(np.float32)


def _min_max(x: np.ndarray, fitted_on: np.ndarray) -> np.ndarray:
    return ((x - fitted_on.min()) / (fitted_on.max() - fitted_on.min())).astype(np.float32)


@pytest.mark.parametrize("framework", ["numpy", "torch"])
def test_inputs_scaled_with_another_quantitys_range_fail_naming_the_spread(mlcheck: MLCheck, framework: str):
    # tsts fitted one MinMaxScaler on the targets (loads) and applied it to the inputs (temperatures): the
    # temperatures land at about -0.47 and differ between samples by a few thousandths
    temperature, load = _temperatures_and_loads()
    inputs = _min_max(temperature, load)
    inputs = torch.from_numpy(inputs) if framework == "torch" else inputs
    with pytest.raises(CheckFailed) as failed:
        mlcheck.inputs_normalized(inputs)
    assert failed.value.causes == ["inputs_not_normalized"], str(failed.value)
    assert "differs between samples by at most 0.0" in str(failed.value), str(failed.value)


@pytest.mark.parametrize(("name", "build"), [
    ("temperatures min-max scaled with their own range", lambda t: _min_max(t, t)),
    ("temperatures as a ratio to 30 °C, around 0.5 (spread 0.1-0.4)", lambda t: t / 30),
    ("standardised temperatures shifted by 2", lambda t: (t - t.mean()) / t.std() + 2),
], ids=["own range", "ratio", "shifted standardised"])
def test_inputs_around_an_offset_that_still_tell_samples_apart_pass(mlcheck: MLCheck, name: str, build):
    assert mlcheck.inputs_normalized(build(_temperatures_and_loads()[0])).passed


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_with_a_model_the_spread_is_judged_where_the_first_layer_reads_it(mlcheck: MLCheck, framework: str):
    temperature, load = _temperatures_and_loads()
    squashed, own = _min_max(temperature, load), _min_max(temperature, temperature)
    if framework == "torch":
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 1))
        squashed, own = torch.from_numpy(squashed), torch.from_numpy(own)
    else:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([keras.Input((16,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    assert mlcheck.inputs_normalized(own, model=model).passed
    with pytest.raises(CheckFailed) as failed:
        mlcheck.inputs_normalized(squashed, model=model)
    assert failed.value.causes == ["inputs_not_normalized"], str(failed.value)
