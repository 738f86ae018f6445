"""A loss on cosines (ArcFace: the target's angle widened by a margin, then a scaled cross-entropy)
is defined on [-1, 1]: the +3 shift that tells a loss on logits (which ignores it) from one on
probabilities (which does not) takes its outputs outside that domain. Not finite there, the loss
says nothing about probabilities (pt-femb-face-embeddings' ArcFace header, acos of unclamped cosines:
it had been named ``loss_mismatch`` before its real defect); a loss on probabilities that stays
finite at the shift is still named. Its angle clamped to 1 rad (the program's bug) makes the target's
logit a constant: the loss then scores the samples the outputs get wrong as fitted, which the run's
own outputs show."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pytest_mlcheck import CheckFailed
from pytest_mlcheck.diagnosis import loss_expects_probabilities


def test_a_loss_not_finite_at_the_shifted_outputs_is_no_evidence():
    rng = np.random.default_rng(0)
    cosines = rng.uniform(-0.3, 0.3, size=(16, 10))
    assert loss_expects_probabilities(cosines, 2.3, float("nan")) == []
    named = loss_expects_probabilities(cosines, 2.3, 1.1)  # finite and moved: a probability loss
    assert [c for c, _ in named] == ["loss_mismatch"]


class _CosineHead(nn.Module):
    """An MLP embedding and the cosines to each class centre (ArcMarginHeader's forward, split as
    the corpus port splits it: the margin is the loss's)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32))
        self.centres = nn.Parameter(torch.randn(10, 32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(self.body(x)), F.normalize(self.centres))


def _arcface(s: float = 16.0, m: float = 0.3, clamped_angle: bool = False):
    def loss(cosines: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        theta = torch.acos(cosines)  # the program's: no clamp, so NaN outside [-1, 1]
        if clamped_angle:  # BROKEN (pt-femb 8f055a5): the angle clamped to 1 rad, not the cosine
            theta = theta.clamp(-1, 1)
        target = torch.cos(theta.gather(1, y[:, None]) + m)
        logits = cosines.scatter(1, y[:, None], target)
        return F.cross_entropy(s * logits, y)
    return loss


def _digits():
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    return torch.tensor(x[:64] / 16.0, dtype=torch.float32), torch.tensor(y[:64])


@pytest.mark.parametrize("clamped", [False, True], ids=["ArcFace", "BROKEN angle clamped to 1 rad"])
def test_an_arcface_head_is_not_told_its_loss_wants_probabilities(mlcheck, clamped):
    torch.manual_seed(0)
    kw = dict(loss_fn=_arcface(clamped_angle=clamped), optimizer=lambda p: torch.optim.Adam(p, lr=1e-2), steps=100)
    if not clamped:
        assert mlcheck.overfit_one_batch(_CosineHead(), _digits(), **kw).passed
        return
    with pytest.raises(CheckFailed) as failed:  # every target angle starts past 1 rad: no gradient to it
        mlcheck.overfit_one_batch(_CosineHead(), _digits(), **kw)
    text = str(failed.value)
    assert "expects probabilities" not in text
    # the loss comes all the way while most samples stay wrong: the extension stops at the first
    # stretch that shows it (it had trained to 16× the budget), naming what the run's outputs prove
    assert failed.value.causes == ["loss_mismatch"], text
    assert "does not reward the class the outputs give" in text
    assert failed.value.result.steps < 400
