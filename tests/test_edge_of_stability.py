"""A run that came down and levelled off short of the criterion while fresh copies at its own rate
blow up (a retry without weight decay, or without dropout, going to inf) sits at the edge of
stability: its units died in a blow-up its own curve hid. A smaller rate that fits the batch then
names ``lr_too_high`` (AutoKeras 0.3's image regressor at SGD lr 0.025, momentum 0.9, on an MSE of
digit values; its fix, lr 0.001, fits). Without that instability the levelled-off run is asked only
whether a larger rate fits, as before."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from pytest_mlcheck import CheckFailed, MLCheck, diagnosis

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

LEVELLED = [28.0, 20.0, 12.0] + [8.9] * 397  # came down, then flat well short of 90 % of the way


def _retries(fits_at: dict[float, int]):
    """A scripted retry: which factors were asked, and what lr_retry records as fitted."""
    asked: list[float] = []
    fitted: dict[float, int] = {}

    def retry(factor: float) -> tuple[bool, float]:
        asked.append(factor)
        if factor in fits_at:
            fitted[factor] = fits_at[factor]
            return True, 1.0
        return False, float("nan") if factor > 1 else 8.9
    return retry, asked, fitted


def test_a_levelled_off_run_whose_copies_blow_up_at_its_rate_is_named_too_high_by_a_smaller_fitting_rate():
    retry, asked, fitted = _retries({0.1: 49})
    unstable = ["a retry at lr×1, no weight decay: loss 27.88 → inf in 35 steps"]
    found = diagnosis.learning_rate(LEVELLED, retry, fitted=fitted, unstable=unstable)
    assert found[0][0] == "lr_too_high", found
    assert asked[0] == 0.1
    assert unstable[0] in found[0][1] and "at lr/10 this check passes (fitted at step 49)" in found[0][1]


def test_without_instability_a_levelled_off_run_is_not_asked_about_smaller_rates():
    retry, asked, fitted = _retries({0.1: 49})
    assert diagnosis.learning_rate(LEVELLED, retry, fitted=fitted) == []
    assert asked == [10.0]  # the larger rate alone, which did not halve the loss


def test_a_smaller_rate_that_only_halves_without_fitting_names_nothing():
    retry, asked, fitted = _retries({0.1: -400, 0.01: -400})
    found = diagnosis.learning_rate(LEVELLED, retry, fitted=fitted, unstable=["a retry at lr×1: loss 28 → nan"])
    assert found == [] and asked[:2] == [0.1, 0.01]


@pytest.mark.parametrize("version", ["buggy", "fixed"])
def test_autokeras_regressor_at_sgd_lr_0025_is_named_too_high_and_its_fix_fits(mlcheck: MLCheck, version: str):
    from tests.real_programs import b101d_autokeras_image_regressor_sgd_lr_0025_mse_diverges as program

    b = getattr(program, version)("torch")
    call = lambda: mlcheck.overfit_one_batch(b["model"], b["batch"], loss_fn=b["loss_fn"],  # noqa: E731
                                             optimizer=b["optimizer"], task="regression")
    if version == "fixed":
        assert call().passed
        return
    with pytest.raises(CheckFailed) as failed:
        call()
    message = str(failed.value)
    assert failed.value.causes[:1] == ["lr_too_high"], message
    assert "copies at this rate blow up" in message and "at lr/10 this check passes" in message
