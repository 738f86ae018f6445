"""How a Lightning project tests that its digits module can learn, with no Trainer: the checks
train a copy on the module's own training_step and configure_optimizers. Run with `pytest examples/`."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("lightning")

from pytest_mlcheck import CheckFailed  # noqa: E402
from digits_torch import held_out_images, train_loader  # noqa: E402
from lightning_digits import LitDigits  # noqa: E402


@pytest.fixture
def module() -> LitDigits:
    torch.manual_seed(0)
    return LitDigits()


def test_the_module_memorises_one_batch(mlcheck, module):
    result = mlcheck.overfit_one_batch(module, train_loader())
    assert result.figures["optimizer_from"].endswith("Adam(lr=0.001); LinearLR stepped every step")


def test_the_loss_falls_over_real_batches(mlcheck, module):
    mlcheck.loss_decreases(module, train_loader())


def test_one_step_reaches_every_layer(mlcheck, module):
    mlcheck.gradients_flow(module, train_loader())


def test_the_untrained_loss_is_ln_10(mlcheck, module):
    mlcheck.init_loss(module, train_loader(64))  # training_step's loss, no loss_fn=


def test_after_brief_training_predictions_spread_over_classes(mlcheck, module):
    mlcheck.not_constant_predictions(module, held_out_images(), train_on=train_loader())


def test_the_labels_follow_from_the_images(mlcheck, module):
    mlcheck.input_independent_baseline(module, train_loader(128))


@pytest.mark.xfail(raises=CheckFailed, strict=True,
                   reason="shows a failure: training_step forgets to return the loss (no_gradient)")
def test_what_a_failure_looks_like_training_step_without_return(mlcheck):
    class Forgetful(LitDigits):
        def training_step(self, batch, batch_idx):
            x, y = batch
            self.log("train_loss", torch.nn.functional.cross_entropy(self(x), y))

    torch.manual_seed(0)
    mlcheck.overfit_one_batch(Forgetful(), train_loader())


@pytest.mark.xfail(raises=CheckFailed, strict=True,
                   reason="shows a failure: configure_optimizers with a learning rate of 1.0 (lr_too_high)")
def test_what_a_failure_looks_like_a_diverging_learning_rate(mlcheck):
    torch.manual_seed(0)
    mlcheck.overfit_one_batch(LitDigits(lr=1.0), train_loader())
