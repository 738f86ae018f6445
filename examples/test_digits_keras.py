"""How a Keras project tests that its digits CNN can learn: run with `pytest examples/`."""

from __future__ import annotations

import pytest

from digits_keras import (
    CLASS_NAMES, ENCODE, build_model, dataset, decode, eval_transform, held_out_images, raw_images, train_transform,
)
from pytest_mlcheck import CheckFailed


@pytest.fixture
def model():
    return build_model()


def test_the_compiled_cnn_memorises_one_batch(mlcheck, model):
    mlcheck.overfit_one_batch(model, dataset())  # the compiled loss and optimizer are used


def test_the_loss_falls_over_real_batches(mlcheck, model):
    mlcheck.loss_decreases(model, dataset())


def test_the_head_returns_logits_for_ten_classes(mlcheck, model):
    mlcheck.output_range(model, held_out_images(), kind="logits", num_classes=10)


def test_after_brief_training_predictions_spread_over_classes(mlcheck, model):
    mlcheck.not_constant_predictions(model, held_out_images(), train_on=dataset())


def test_training_and_serving_preprocess_images_alike(mlcheck):
    mlcheck.preprocessing_parity(train_transform, eval_transform, raw_images())


def test_class_names_survive_training_encoding_and_serving_decoding(mlcheck, model):
    mlcheck.label_roundtrip(ENCODE, decode, CLASS_NAMES, model=model, inputs=held_out_images(8))


@pytest.mark.xfail(raises=CheckFailed, strict=True,
                   reason="shows a failure: logits into the default from_logits=False loss (loss_mismatch)")
def test_what_a_failure_looks_like_logits_into_a_probabilities_loss(mlcheck, model):
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    mlcheck.overfit_one_batch(model, dataset())


def test_the_untrained_loss_is_ln_10(mlcheck, model):
    mlcheck.init_loss(model, dataset(64))


def test_one_step_reaches_every_layer(mlcheck, model):
    mlcheck.gradients_flow(model, dataset())


def test_no_sample_sees_another(mlcheck, model):
    mlcheck.batch_independence(model, held_out_images(16))


def test_the_rescaling_layer_scales_the_raw_pixels(mlcheck, model):
    mlcheck.inputs_normalized(dataset(), model=model)  # raw 0..16 in; Rescaling(1/16) inside


def test_the_labels_follow_from_the_images(mlcheck, model):
    mlcheck.input_independent_baseline(model, dataset(128))


def test_no_held_out_image_is_also_a_training_image(mlcheck):
    mlcheck.no_split_leakage(dataset(), held_out_images())


@pytest.mark.xfail(raises=CheckFailed, strict=True,
                   reason="shows a failure: raw 0..16 pixels checked without the model that rescales them")
def test_what_a_failure_looks_like_raw_pixels_without_the_model(mlcheck):
    mlcheck.inputs_normalized(dataset())
