"""A soft Dice loss on sigmoid or softmax outputs costs exactly nothing at the exact 0/1 targets and
is unbounded below outside [0, 1] (its denominator sums the outputs, which logits drive toward 0):
at the logits ±2.2 that stand for 0.9/0.1 it scored 50 below its perfect prediction on
ModelsGenesis' masks, so the outputs were read as logits and the floor put at -49, which no
training comes any share of the way to. Outputs in [0, 1] whose exact targets cost nothing are read
as probabilities; a loss on logits costs something at every finite logit, so a sigmoid head into a
binary cross-entropy on logits (a classic defect) is still read as logits."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_mlcheck.targets import decide


def _masks(n: int = 8, size: int = 16, seed: int = 0) -> np.ndarray:
    """Multi-hot masks, half of each foreground: a band of 8 rows per sample. Where more than 41 % of
    the values are 1 the Dice's denominator stays positive at the logits ±2.2 and the loss goes below
    0 there (with less it goes above 1, which the old reading got right)."""
    rng = np.random.default_rng(seed)
    y = np.zeros((n, size, size), np.float32)
    for i in range(n):
        r = rng.integers(0, size - 8)
        y[i, r:r + 8] = 1.0
    return y.reshape(n, -1)


def _dice(y: np.ndarray, smooth: float = 1.0):
    def loss(out: np.ndarray, targets=None) -> float:
        t = y if targets is None else np.asarray(targets, np.float32).reshape(y.shape)
        o = out.reshape(t.shape).astype(np.float64)
        return float(1.0 - (2.0 * (o * t).sum() + smooth) / (o.sum() + t.sum() + smooth))
    return loss


def _bce_with_logits(y: np.ndarray):
    def loss(out: np.ndarray, targets=None) -> float:
        t = y if targets is None else np.asarray(targets, np.float32).reshape(y.shape)
        z = out.reshape(t.shape).astype(np.float64)
        return float(np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))))
    return loss


def _sigmoid_outputs(y: np.ndarray, seed: int = 1) -> np.ndarray:
    z = np.random.default_rng(seed).normal(0.0, 0.5, y.shape)
    return (1 / (1 + np.exp(-z))).astype(np.float32)


def test_the_soft_dice_is_unbounded_below_at_the_logits_that_stand_for_its_targets():
    """What made the old reading wrong: the loss at ±2.2 lies far below its value at the targets (0)."""
    y = _masks()
    logits = np.where(y > 0.5, np.log(9.0), -np.log(9.0)).astype(np.float32)
    assert _dice(y)(y) == pytest.approx(0.0, abs=1e-7)
    assert _dice(y)(logits) < -1.0


@pytest.mark.parametrize("smooth", [1.0, 1e-5])
def test_sigmoid_outputs_into_a_soft_dice_are_probabilities_with_a_floor_of_zero(smooth: float):
    y = _masks()
    targets = decide(y, _sigmoid_outputs(y), _dice(y, smooth))
    assert targets.form == "probabilities", targets.encoding
    assert targets.floor == pytest.approx(0.0, abs=1e-6)


def test_sigmoid_outputs_into_a_cross_entropy_on_logits_are_still_read_as_logits():
    """The twin: the same head and masks under a loss on logits (a sigmoid too many) is read as logits,
    as the output_activation probes need it to be."""
    y = _masks()
    targets = decide(y, _sigmoid_outputs(y), _bce_with_logits(y))
    assert targets.form == "logits", targets.encoding
