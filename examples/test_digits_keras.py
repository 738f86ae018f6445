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
