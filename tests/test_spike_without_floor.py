"""A spike is read against the loss's floor: a rise to more than RECOVERED_SPIKE times the start's
distance from it before the run came back is lr_too_high. A loss with no known floor is measured
toward 0, which a policy-gradient surrogate (log-probabilities weighted by standardised returns,
huggingface/deep-rl-class's REINFORCE) passes on its way down without bound: there the run's own lowest
loss stands in, and a wobble near the start is no spike. A true divergence still is."""

from __future__ import annotations

import math

from pytest_mlcheck.checks.training import recovered_spike
from pytest_mlcheck.thresholds import RECOVERED_SPIKE

NAN = math.nan


def test_a_wobble_on_the_way_below_zero_is_no_spike_without_a_floor():
    # measured from 0 this read ×11: 0.1709 → 1.878 at step 3, then down to -210.9
    assert recovered_spike([0.1709, 0.5, 1.878, 0.1, -50.0, -210.9], NAN) is None


def test_a_divergence_on_the_way_below_zero_is_still_a_spike():
    found = recovered_spike([0.1709, 1e4, 0.1, -5.0], NAN)
    assert found is not None and found[0] == "lr_too_high", found
    assert "the run's lowest loss, -5" in found[1], found  # the stand-in floor is named


def test_a_loss_that_stays_above_zero_is_still_measured_toward_it():
    assert recovered_spike([0.2, 0.2 * (RECOVERED_SPIKE + 1), 0.01], NAN) is not None
    assert recovered_spike([0.2, 0.2 * (RECOVERED_SPIKE - 1), 0.01], NAN) is None


def test_a_known_floor_is_kept_whatever_the_run_reached():
    # a floor of -1 (a loss with an offset): the rise from 0.5 to 20 is ×13 the start's distance
    assert recovered_spike([0.5, 20.0, -0.9], -1.0) is not None
