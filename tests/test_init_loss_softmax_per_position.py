"""init_loss on a softmax per position — a sequence model's (N, T, C) character probabilities under a
categorical cross-entropy written on them, the padding positions (class 0, or rows of all 0) left out
of the mean — knows nothing at uniform rows along the class axis: ln C a position. Such one-hot
targets over probabilities are read as multi-hot (each output on its side of 0.5), and "0.5
everywhere" was taken for the uninformative prediction, which a softmax over C > 2 classes cannot
output: the correct model was failed with init_loss_off (wanasit/katakana's fixed seq2seq, ported
to torch). Twin: the same head with its weights ×30 starts confident and fails."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed, MLCheck

N, T, C, V = 64, 10, 12, 20


def _batch(padding: str) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    x = rng.integers(1, V, (N, T))
    ids = (x * 7) % (C - 1) + 1  # classes 1..C-1 follow the input ids; 0 is the padding class
    for i, length in enumerate(rng.integers(3, T + 1, N)):
        x[i, length:] = 0
        ids[i, length:] = 0
    y = np.eye(C, dtype="float32")[ids]
    if padding == "rows of all 0":
        y[ids == 0] = 0
    return torch.tensor(x), torch.tensor(y)


class _CharModel(nn.Module):
    def __init__(self, head_gain: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(V, 16)
        self.head = nn.Linear(16, C)
        with torch.no_grad():
            self.head.weight.mul_(head_gain)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.head(self.embed(x)), dim=-1)  # a TimeDistributed softmax


def _loss(padding: str):
    def loss_fn(probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        per_position = -(y * torch.log(probs.clamp(1e-7, 1.0))).sum(-1)
        if padding == "class 0":
            kept = (y[..., 0] == 0).to(probs.dtype)
            return (per_position * kept).sum() / kept.sum()
        return per_position.mean()  # rows of all 0 add nothing
    return loss_fn


@pytest.mark.parametrize("padding", ["class 0", "rows of all 0"])
def test_a_softmax_per_position_is_uninformative_at_uniform_rows(mlcheck: MLCheck, padding: str):
    torch.manual_seed(0)
    result = mlcheck.init_loss(_CharModel(1.0), _batch(padding), loss_fn=_loss(padding))
    assert result.figures["expected_from"] == "the loss of uniform probabilities"
    kept = 1.0 if padding == "class 0" else float((_batch(padding)[1].sum(-1) > 0).float().mean())
    assert result.figures["expected"] == pytest.approx(math.log(C) * kept, rel=1e-4)


@pytest.mark.parametrize("padding", ["class 0", "rows of all 0"])
def test_twin_the_same_head_started_confident_fails(mlcheck: MLCheck, padding: str):
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.init_loss(_CharModel(30.0), _batch(padding), loss_fn=_loss(padding))
    assert failed.value.causes[0] == "init_loss_off"
    assert "uniform probabilities" in str(failed.value)
