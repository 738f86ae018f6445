"""Checks fed a Hypothesis strategy: every example is checked, a failure is shrunk to a minimal
example, in both frameworks; budget, seed, time cap and a user's own @given test."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import keras_corpus as kc
import torch_corpus as tc
from keras_corpus import keras, layers
from pytest_mlcheck import CheckFailed, CheckIncomplete, MLCheck, MlcheckUsageError
from pytest_mlcheck import strategies as mst
from pytest_mlcheck.settings import Settings


def digit_images(kind: str, framework: str, batch_size=None):
    return mst.image_batches(height=8, width=8, channels=1, kind=kind, framework=framework, batch_size=batch_size)


# --- torch models broken only on an edge case, and their twins --------------------------------

class NanOnBlank(nn.Module):
    """Scales each image by its norm: NaN for an all-zero image, fine for every other."""

    def __init__(self, fixed: bool = False) -> None:
        super().__init__()
        self.net = tc.digits_mlp()
        self.fixed = fixed

    def forward(self, x):
        norm = x.flatten(1).norm(dim=1).view(-1, 1, 1, 1)
        return self.net(x / (norm + 1e-6) if self.fixed else x / norm)


class ExpOfPixels(nn.Module):
    """Feeds exp(pixel) forward: overflows to inf from pixel 89 up unless scaled to [0, 1] first."""

    def __init__(self, scaled: bool = False) -> None:
        super().__init__()
        self.net = tc.digits_mlp()
        self.scaled = scaled

    def forward(self, x):
        x = x.float() / 255.0 if self.scaled else x.float()
        return self.net(torch.exp(x) * 1e-3)


# --- the same in Keras -------------------------------------------------------------------------

def k_nan_on_blank(fixed: bool = False) -> keras.Model:
    inputs = keras.Input((8, 8, 1))
    norm = keras.ops.sqrt(keras.ops.sum(keras.ops.square(inputs), axis=(1, 2, 3), keepdims=True))
    scaled = inputs / (norm + 1e-6) if fixed else inputs / norm
    out = layers.Dense(10, kernel_initializer=keras.initializers.GlorotUniform(seed=0))(layers.Flatten()(scaled))
    return keras.Model(inputs, out)


def k_exp_of_pixels(scaled: bool = False) -> keras.Model:
    inputs = keras.Input((8, 8, 1))
    x = keras.ops.cast(inputs, "float32")
    x = keras.ops.exp(x / 255.0 if scaled else x) * 1e-3
    out = layers.Dense(10, kernel_initializer=keras.initializers.GlorotUniform(seed=0))(layers.Flatten()(x))
    return keras.Model(inputs, out)


EDGE_BUGS = [
    ("torch NaN on an all-zero image", lambda: NanOnBlank(), "unit_float", "torch", "every value 0"),
    ("torch overflow on uint8 pixels", lambda: ExpOfPixels(), "uint8", "torch", "uint8 array"),
    ("keras NaN on an all-zero image", lambda: k_nan_on_blank(), "unit_float", "tf", "every value 0"),
    ("keras overflow on uint8 pixels", lambda: k_exp_of_pixels(), "uint8", "tf", "uint8 array"),
]

EDGE_TWINS = [
    ("torch norm with an epsilon", lambda: NanOnBlank(fixed=True), "unit_float", "torch"),
    ("torch pixels scaled before exp", lambda: ExpOfPixels(scaled=True), "uint8", "torch"),
    ("keras norm with an epsilon", lambda: k_nan_on_blank(fixed=True), "unit_float", "tf"),
    ("keras pixels scaled before exp", lambda: k_exp_of_pixels(scaled=True), "uint8", "tf"),
]


@pytest.mark.parametrize("name,build,kind,framework,shown", EDGE_BUGS, ids=[b[0] for b in EDGE_BUGS])
def test_a_model_broken_only_on_an_edge_case_is_caught_and_the_example_shrunk(mlcheck, name, build, kind,
                                                                             framework, shown):
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.output_range(build(), digit_images(kind, framework), kind="logits", examples=40)
    text = str(failed.value)
    assert failed.value.causes == ["outputs_not_finite"], text
    assert "example: " in text and shown in text and "shrunk by Hypothesis" in text
    assert "of shape (1, " in text or "(1, 8, 8, 1)" in text, "shrunk to a batch of one"


@pytest.mark.parametrize("name,build,kind,framework", EDGE_TWINS, ids=[t[0] for t in EDGE_TWINS])
def test_the_fixed_twin_passes_every_example(mlcheck, name, build, kind, framework):
    torch.manual_seed(0)
    result = mlcheck.output_range(build(), digit_images(kind, framework), kind="logits", examples=40)
    assert result.figures["examples_drawn"] == 40


def test_the_same_seed_draws_the_same_examples_and_shrinks_to_the_same_one():
    def message(seed: int) -> str:
        with pytest.raises(CheckFailed) as failed:
            MLCheck(Settings(seed=seed, examples=30)).output_range(
                NanOnBlank(), digit_images("unit_float", "torch"), kind="logits")
        return str(failed.value).split("  samples:")[0]

    torch.manual_seed(0)
    assert message(3) == message(3)


def test_the_example_budget_is_a_setting():
    result = MLCheck(Settings(examples=7)).output_range(tc.digits_mlp(), digit_images("unit_float", "torch"),
                                                       kind="logits")
    assert result.figures["examples_drawn"] == 7


def test_a_run_stays_inside_the_time_cap_and_then_gives_no_verdict(mlcheck):
    class Slow(nn.Module):
        def forward(self, x):
            tc.spend_cpu(0.05)
            return x.flatten(1)[:, :2] * torch.tensor([1.0, -1.0])  # logits of opposite signs

    start = time.perf_counter()
    with pytest.raises(CheckIncomplete, match=r"did not finish: stopped at the time cap \(0.5s\) after \d+ of 1000 "
                                             r"examples") as stopped:
        mlcheck.output_range(Slow(), digit_images("unit_float", "torch"), kind="logits", examples=1000,
                             max_seconds=0.5)
    assert time.perf_counter() - start < 5.0
    assert stopped.value.result.figures["examples_drawn"] < 40 and stopped.value.causes == []


def test_inside_a_users_own_given_test_the_check_draws_from_that_test(mlcheck):
    """No nested @given: the user's search draws the check's examples and shrinks them."""
    calls = []

    @settings(max_examples=15, database=None, deadline=None)
    @given(scale=st.floats(0.5, 2.0))
    def users_test(scale):
        calls.append(scale)
        mlcheck.output_range(tc.digits_mlp(), digit_images("unit_float", "torch"), kind="logits")

    users_test()
    assert len(calls) >= 15  # Hypothesis may replay an example

    @settings(max_examples=50, database=None, deadline=None)
    @given(scale=st.floats(0.5, 2.0))
    def users_failing_test(scale):
        mlcheck.output_range(NanOnBlank(), digit_images("unit_float", "torch"), kind="logits")

    with pytest.raises(CheckFailed, match="drawn inside your @given test") as failed:
        users_failing_test()
    assert failed.value.causes == ["outputs_not_finite"]


# --- the other checks that take inputs ---------------------------------------------------------

def test_batch_independence_takes_a_strategy_and_skips_batches_of_one(mlcheck):
    from recipe_corpus import BatchMixingNet

    torch.manual_seed(0)
    result = mlcheck.batch_independence(tc.DigitsCNN(), digit_images("unit_float", "torch"), examples=20)
    assert "examples_skipped" in result.figures
    with pytest.raises(CheckFailed) as failed:
        mlcheck.batch_independence(BatchMixingNet("center"), digit_images("unit_float", "torch"), examples=20)
    assert failed.value.causes == ["batch_mixing"]


def test_a_strategy_with_no_judgeable_example_is_a_usage_error(mlcheck):
    with pytest.raises(MlcheckUsageError, match="^inputs: expected a strategy that draws examples batch_independence"):
        mlcheck.batch_independence(tc.DigitsCNN(), digit_images("unit_float", "torch", batch_size=1), examples=10)


def test_not_constant_predictions_takes_a_strategy(mlcheck):
    torch.manual_seed(0)
    batches = digit_images("unit_float", "torch", batch_size=st.integers(12, 20))
    head = nn.Sequential(nn.Flatten(), nn.Linear(64, 1))  # one output: judged by its spread
    assert mlcheck.not_constant_predictions(head, batches, examples=15).passed
    with pytest.raises(CheckFailed) as failed:
        mlcheck.not_constant_predictions(tc.InputIgnoringNet(), batches, examples=15)
    assert failed.value.causes[0] == "class_collapse"


def test_label_roundtrip_takes_a_strategy_of_label_batches(mlcheck):
    encode = {i: i for i in range(10)}  # class ids are their own codes in training
    labels = mst.label_batches(num_classes=10, kind="valid", batch_size=st.integers(1, 20))
    assert mlcheck.label_roundtrip(encode, list(range(10)), labels, num_classes=10, examples=20).passed
    shifted = list(range(1, 10)) + [0]  # serving decodes with a list rotated by one
    with pytest.raises(CheckFailed) as failed:
        mlcheck.label_roundtrip(encode, shifted, labels, num_classes=10, examples=20)
    assert failed.value.causes == ["label_mapping_mismatch"]
    assert "example: numpy int64 array of shape (1,)" in str(failed.value)


def test_preprocessing_parity_takes_a_strategy_and_finds_the_overflowing_pixel(mlcheck):
    def train(image):
        return image.astype(np.float32) / 255.0

    def serve(image):
        return image.astype(np.int8).astype(np.float32) / 255.0  # wraps above 127

    raw = mst.image_batches(height=4, width=4, channels=1, kind="uint8", layout="channels_last")
    assert mlcheck.preprocessing_parity(train, train, raw, examples=20).passed
    with pytest.raises(CheckFailed) as failed:
        mlcheck.preprocessing_parity(train, serve, raw, examples=40)
    assert failed.value.causes[0] == "preprocessing_mismatch"
    assert "uint8 array of shape (1, 4, 4, 1)" in str(failed.value)


def test_keras_checks_take_strategies_too(mlcheck):
    result = mlcheck.batch_independence(kc.cnn(), digit_images("unit_float", "tf"), examples=10)
    assert result.passed


@pytest.mark.mlcheck(examples=6)
def test_the_marker_sets_the_example_budget(mlcheck):
    result = mlcheck.output_range(tc.digits_mlp(), digit_images("unit_float", "torch"), kind="logits")
    assert result.figures["examples_drawn"] == 6
