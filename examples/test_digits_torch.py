"""How a project tests that its digits CNN can learn: run with `pytest examples/`."""

from __future__ import annotations

import pytest
import torch

from pytest_mlcheck import CheckFailed
from digits_torch import (
    CLASS_NAMES, ENCODE, DigitsCNN, decode, eval_transform, held_out_images, loss_fn, make_optimizer, raw_images,
    train_loader, train_step, train_transform,
)


@pytest.fixture
def model() -> DigitsCNN:
    torch.manual_seed(0)
    return DigitsCNN()


def test_the_cnn_memorises_one_batch(mlcheck, model):
    result = mlcheck.overfit_one_batch(model, train_loader(), loss_fn=loss_fn, optimizer=make_optimizer)
    assert result.end_loss < result.start_loss


def test_our_own_training_step_can_memorise_one_batch(mlcheck, model):
    optimizer = make_optimizer(model.parameters())
    mlcheck.overfit_one_batch(model, train_loader(), loss_fn=loss_fn, optimizer=optimizer, train_step=train_step)


def test_the_loss_falls_over_real_batches(mlcheck, model):
    mlcheck.loss_decreases(model, train_loader(), loss_fn=loss_fn, optimizer=make_optimizer)


@pytest.mark.mlcheck(seed=7)
def test_verdicts_hold_on_another_seed(mlcheck, model):
    mlcheck.loss_decreases(model, train_loader(), loss_fn=loss_fn, optimizer=make_optimizer)


def test_the_head_returns_logits_for_ten_classes(mlcheck, model):
    mlcheck.output_range(model, held_out_images(), kind="logits", num_classes=10)


def test_after_brief_training_predictions_spread_over_classes(mlcheck, model):
    mlcheck.not_constant_predictions(model, held_out_images(), train_on=train_loader(), loss_fn=loss_fn,
                                     optimizer=make_optimizer)


def test_training_and_serving_preprocess_images_alike(mlcheck):
    mlcheck.preprocessing_parity(train_transform, eval_transform, raw_images())


def test_class_names_survive_training_encoding_and_serving_decoding(mlcheck, model):
    mlcheck.label_roundtrip(ENCODE, decode, CLASS_NAMES, model=model, inputs=held_out_images(8))


def test_the_untrained_loss_is_ln_10(mlcheck, model):
    mlcheck.init_loss(model, train_loader(64), loss_fn=loss_fn)


def test_one_step_reaches_every_layer(mlcheck, model):
    mlcheck.gradients_flow(model, train_loader(), loss_fn=loss_fn, optimizer=make_optimizer)


def test_no_sample_sees_another(mlcheck, model):
    mlcheck.batch_independence(model, held_out_images(16))


def test_the_images_reach_the_model_scaled(mlcheck, model):
    mlcheck.inputs_normalized(train_loader(), model=model)


def test_the_labels_follow_from_the_images(mlcheck, model):
    mlcheck.input_independent_baseline(model, train_loader(128), loss_fn=loss_fn, optimizer=make_optimizer)


def test_no_held_out_image_is_also_a_training_image(mlcheck):
    mlcheck.no_split_leakage(train_loader(), held_out_images())


@pytest.mark.xfail(raises=CheckFailed, strict=True,
                   reason="shows a failure: 0-255 pixels fed to the model (inputs_not_normalized)")
def test_what_a_failure_looks_like_unscaled_pixels(mlcheck, model):
    mlcheck.inputs_normalized(held_out_images() * 255, model=model)


@pytest.mark.xfail(raises=CheckFailed, strict=True,
                   reason="shows a failure: a softmax in forward before cross-entropy (loss_mismatch)")
def test_what_a_failure_looks_like_softmax_before_cross_entropy(mlcheck, model):
    class SoftmaxCNN(DigitsCNN):
        def forward(self, x):
            return super().forward(x).softmax(dim=1)

    torch.manual_seed(0)
    mlcheck.overfit_one_batch(SoftmaxCNN(), train_loader(), loss_fn=loss_fn, optimizer=make_optimizer)


@pytest.mark.xfail(raises=CheckFailed, strict=True,
                   reason="shows a failure: serving forgets the /16 scaling (preprocessing_mismatch)")
def test_what_a_failure_looks_like_serving_without_scaling(mlcheck):
    mlcheck.preprocessing_parity(train_transform, lambda im: torch.as_tensor(im, dtype=torch.float32)[None],
                                 raw_images())
