"""A step of the outputs against the loss's own gradient lowers any loss whose backward is its
gradient. nn.CTCLoss presumes log-probabilities (its backward is exp(input) − posterior, the
gradient through a log_softmax): fed raw logits (a course lab's log_softmax lost to a reformat,
jeremyfix/deeplearning-lectures #22) its loss starts negative and climbs as the model trains, which
had been told lr_too_high. The outputs' step proves it before any learning-rate story; the same
model with the log_softmax passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed
from pytest_mlcheck.diagnosis import loss_ascends
from pytest_mlcheck.errors import NotSupported


class _Stub:
    """A session whose loss and its 'backward' are given functions of the outputs."""

    def __init__(self, loss, grad) -> None:
        self.loss, self.grad = loss, grad

    def loss_of(self, outputs: np.ndarray, batch: object) -> float:
        return float(self.loss(outputs.astype(np.float64)))

    def loss_gradient(self, outputs: np.ndarray, batch: object) -> np.ndarray:
        if self.grad is None:
            raise NotSupported("the loss's gradient at given outputs", "a stub without one")
        return self.grad(outputs.astype(np.float64))


def _outputs() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(16, 5)).astype(np.float32)


def test_a_backward_that_is_the_gradient_is_no_evidence():
    def square(o: np.ndarray) -> float:
        return float(np.mean((o - 1.0) ** 2))
    assert loss_ascends(_Stub(square, lambda o: 2 * (o - 1.0) / o.size), _outputs(), None) == []


def test_a_backward_against_the_values_is_named():
    def square(o: np.ndarray) -> float:
        return float(np.mean((o - 1.0) ** 2))
    found = loss_ascends(_Stub(square, lambda o: -2 * (o - 1.0) / o.size), _outputs(), None)
    assert [c for c, _ in found] == ["loss_mismatch"]
    assert "raises the loss" in found[0][1]


def test_a_loss_that_draws_or_cannot_be_differentiated_says_nothing():
    rng = np.random.default_rng(1)

    def sampled(o: np.ndarray) -> float:  # sampled negatives: no fixed function of the outputs
        return float(np.mean(o ** 2) + rng.normal())
    assert loss_ascends(_Stub(sampled, lambda o: -2 * o / o.size), _outputs(), None) == []
    assert loss_ascends(_Stub(lambda o: float(np.mean(o ** 2)), None), _outputs(), None) == []


class _Speech(nn.Module):
    """Frames of features through a GRU to per-frame class scores, (N, T, C); ``log_softmax`` as
    the lab's fix has it, or not (BROKEN)."""

    def __init__(self, normalised: bool) -> None:
        super().__init__()
        self.rnn, self.head, self.normalised = nn.GRU(8, 32, batch_first=True), nn.Linear(32, 6), normalised

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.rnn(x)[0])
        return out.log_softmax(dim=2) if self.normalised else out


def _ctc(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    lengths = (y > 0).sum(dim=1)
    return nn.CTCLoss(blank=0, zero_infinity=True)(out.transpose(0, 1), y, torch.full((len(y),), out.shape[1]),
                                                   lengths)


def _utterances() -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(3):
        y = torch.randint(1, 6, (16, 4), generator=g)
        x = torch.randn(16, 12, 8, generator=g) * 0.1
        x[:, ::3, :5] += nn.functional.one_hot(y, 6)[:, :, 1:].float()  # each label shows in its frames
        batches.append((x, y))
    return batches


@pytest.mark.parametrize("normalised", [True, False], ids=["log_softmax", "BROKEN raw logits into CTCLoss"])
def test_ctc_on_raw_logits_is_named_before_any_learning_rate_story(mlcheck, normalised):
    torch.manual_seed(0)
    kw = dict(loss_fn=_ctc, optimizer=lambda p: torch.optim.Adam(p, lr=3e-3))
    if normalised:
        assert mlcheck.loss_decreases(_Speech(True), _utterances(), **kw).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.loss_decreases(_Speech(False), _utterances(), **kw)
    assert failed.value.causes[0] == "loss_mismatch", str(failed.value)
    assert "log_softmax" in str(failed.value)


@pytest.mark.parametrize("losses, halved", [([-2.0, -3.0], True), ([-2.0, -2.5], False), ([-2.0, -4.0], True),
                                            ([2.0, 1.0], True), ([2.0, 1.5], False), ([0.0, -0.1], True)])
def test_halving_a_start_at_or_below_zero_means_moving_down_by_half_its_size(losses, halved):
    """A loss below 0 (a Gaussian likelihood; CTC on raw logits) has no half of it below: a retry
    that kept CTC's -2.495 had been told it "halved" (0.5 × -2.495 lies above it)."""
    from pytest_mlcheck.diagnosis import halved as halves

    assert halves(losses, 1) is halved


def test_a_rise_from_a_negative_start_is_a_spike_and_a_fall_is_none():
    from pytest_mlcheck.diagnosis import _course

    assert _course([-2.0, -2.2, 5.0])[1] is True  # climbed far above its start
    assert _course([-2.0, -2.5, -2.9]) == (None, False, True)  # fell, by less than half its size: stalled
    assert _course([3.0, 4.0, 1.0]) == (None, False, False)  # positive starts read as before
