"""A sequence loss masked by the decoder's inputs (``decoder input != 0``, the targets shifted one
step — keras-io's translation Transformer): it trains the first padding target after each row's end
and no later one, so the outputs there are never trained and never demanded right. Twin: a loss that
reads every position (each one demanded)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from pytest_mlcheck import targets as T

VOCAB = 12  # 0 = padding, 1 = [end], 2.. content
LENGTH = 10


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    """32 rows: content tokens 2..11 mapped to targets by a fixed permutation, then [end] (target 0,
    the first padding target), then padding targets whose inputs are junk content tokens (what a
    packed source would put there)."""
    rng = np.random.default_rng(0)
    perm = rng.permutation(np.arange(2, VOCAB))
    x = rng.integers(2, VOCAB, (32, LENGTH))
    y = perm[x - 2]
    for row, n in enumerate(rng.integers(3, 7, 32)):
        x[row, n] = 1
        y[row, n:] = 0
    return torch.tensor(x), torch.tensor(y)


class _Tagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(VOCAB, 16)
        self.out = nn.Linear(16, VOCAB)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(torch.relu(self.emb(x)))


def decoder_masked(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    mask = torch.ones_like(y, dtype=torch.float32)
    mask[:, 1:] = (y[:, :-1] != 0).float()
    losses = F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1), reduction="none").reshape(y.shape)
    return (losses * mask).sum() / mask.sum()


def every_position(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.reshape(-1, VOCAB), y.reshape(-1))


def test_a_decoder_input_mask_leaves_later_padding_undemanded(mlcheck):
    x, y = _batch()
    result = mlcheck.overfit_one_batch(_Tagger(), (x, y), loss_fn=decoder_masked,
                                       optimizer=lambda p: torch.optim.Adam(p, lr=0.05))
    assert result.passed
    assert "padding position(s) after each row's first the loss skips" in result.figures["targets"]


@pytest.mark.parametrize("loss_fn,skipped", [(decoder_masked, True), (every_position, False)],
                         ids=["decoder-input mask", "every position read"])
def test_only_a_loss_that_skips_them_leaves_them_out(loss_fn, skipped):
    x, y = _batch()
    with torch.no_grad():
        out = _Tagger()(x).numpy()

    def loss_at(outputs: np.ndarray, targets=None) -> float:
        with torch.no_grad():
            return float(loss_fn(torch.from_numpy(np.ascontiguousarray(outputs, dtype=np.float32)), y))

    decided = T.decide(y.numpy(), out, loss_at)
    later = y.numpy() == 0
    later &= np.concatenate([np.zeros((len(later), 1), bool), later[:, :-1]], axis=1)
    if skipped:
        assert decided.ignored is not None and np.array_equal(decided.ignored, later)
    else:
        assert decided.ignored is None, decided.encoding
