"""Channel-first scores flattened without moving the class axis last: ``logit.view(-1, C)`` of an
(N, C, H, W) map pairs each pixel's label with C neighbouring values of one class channel (the counts
agree, so nothing fails; jfzhang95/pytorch-deeplab-xception's first ``cross_entropy2d``, fixed in
fff2eb2 "Fix loss non-convergence problem"). Named ``loss_mismatch`` before training, from the loss
alone; correct twins: the map passed whole, the class axis moved last before the view, a void id
ignored, and a loss that reads the ids only as groups (an instance-embedding loss)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from pytest_mlcheck import CheckFailed
from pytest_mlcheck import targets as T

CLASSES = 4
VOID = 255


def _batch(void: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """8 images 12x12 whose pixel class (0..3) is the brightest of four noisy channels, as
    (N, 1, H, W) label maps the way image transforms hand them; with ``void`` a ring of 255 ids."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, CLASSES, (8, 1, 12, 12))
    x = np.eye(CLASSES, dtype=np.float32)[labels[:, 0]].transpose(0, 3, 1, 2) * 2 + rng.normal(0, 0.3, (8, 4, 12, 12))
    if void:
        labels[:, :, 0, :] = VOID
    return torch.tensor(x, dtype=torch.float32), torch.tensor(labels, dtype=torch.float32)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(CLASSES, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, CLASSES, 1))


def viewed(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The slip: NCHW memory viewed as rows of C, scored against the labels in raster order."""
    return F.cross_entropy(out.contiguous().view(-1, out.shape[1]), y.view(-1).long(), ignore_index=VOID)


def whole(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out, y.squeeze(1).long(), ignore_index=VOID)


def moved_last(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out.permute(0, 2, 3, 1).reshape(-1, out.shape[1]), y.view(-1).long(), ignore_index=VOID)


def grouped(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """An instance-embedding loss: pixels of one id pulled to their mean, the means pushed apart; it
    reads the ids only as which pixels belong together."""
    emb = out.permute(0, 2, 3, 1).reshape(-1, out.shape[1])
    ids = y.reshape(-1).long()
    means = torch.stack([emb[ids == k].mean(0) for k in ids.unique()])
    pull = torch.stack([((emb[ids == k] - m) ** 2).sum(1).mean() for k, m in zip(ids.unique(), means)]).mean()
    push = F.relu(2.0 - torch.cdist(means, means)).triu(1).sum()
    return pull + push


def _loss_at(loss_fn, y: torch.Tensor):
    def loss_at(outputs: np.ndarray, targets=None) -> float:
        t = y if targets is None else torch.tensor(np.asarray(targets, dtype=np.float32).reshape(y.shape))
        with torch.no_grad():
            return float(loss_fn(torch.from_numpy(np.ascontiguousarray(outputs, dtype=np.float32)), t))
    return loss_at


@pytest.mark.parametrize("void", [False, True], ids=["every pixel", "a void ring"])
def test_a_channel_first_map_viewed_as_rows_of_classes_is_a_loss_mismatch(mlcheck, void):
    x, y = _batch(void)
    with pytest.raises(CheckFailed) as info:
        mlcheck.overfit_one_batch(_model(), (x, y), loss_fn=viewed,
                                  optimizer=lambda p: torch.optim.Adam(p, lr=0.01))
    assert info.value.causes == ["loss_mismatch"], str(info.value)
    assert "consecutive values of the (N, C, H, W) scores' memory" in str(info.value)
    assert "reshape(-1, 4)" in str(info.value)


@pytest.mark.parametrize("loss_fn", [whole, moved_last], ids=["passed whole", "class axis moved last"])
@pytest.mark.parametrize("void", [False, True], ids=["every pixel", "a void ring"])
def test_the_same_labels_read_in_place_fit(mlcheck, loss_fn, void):
    x, y = _batch(void)
    result = mlcheck.overfit_one_batch(_model(), (x, y), loss_fn=loss_fn,
                                       optimizer=lambda p: torch.optim.Adam(p, lr=0.01))
    assert result.passed


@pytest.mark.parametrize("loss_fn,read", [(viewed, True), (whole, False), (moved_last, False), (grouped, False)],
                         ids=["viewed", "whole", "moved last", "groups only"])
def test_only_the_slip_reads_the_ids_in_memory_order(loss_fn, read):
    """The probe alone, on the untrained outputs: an embedding loss that reads the ids only as groups
    scores both one-hot layouts like their shuffles' (neither is an embedding it rewards), so it is
    not taken for the slip."""
    x, y = _batch()
    with torch.no_grad():
        out = _model()(x).numpy()
    found = T._viewed_channel_first(y.numpy(), out, _loss_at(loss_fn, y))
    assert (found is not None) == read, found
    if read:
        assert found[0].shape == (8, 12, 12) and found[1][0] == "loss_mismatch"


def test_square_scores_with_the_class_axis_last_are_not_taken_for_the_slip():
    """(N, T, T) scores of T nodes over T node ids, softmaxed along the last axis (a matching
    network's): their memory order is that layout's own, so a loss right for it is no slip."""
    rng = np.random.default_rng(0)
    y = torch.tensor(rng.integers(0, 8, (16, 8)), dtype=torch.float32)
    out = rng.normal(0, 1, (16, 8, 8)).astype(np.float32)

    def last_axis(scores: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(scores.reshape(-1, 8), ids.reshape(-1).long())

    assert T._viewed_channel_first(y.numpy(), out, _loss_at(last_axis, y)) is None


def _ctc(batch_first: bool):
    """A CTC loss on (N, T, C) logits (batch-first) or (T, N, C) ones, labels (N, S) of classes 1..C-1."""
    def loss_fn(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        log_probs = logits.log_softmax(-1)
        log_probs = log_probs.permute(1, 0, 2) if batch_first else log_probs
        n, s = labels.shape
        return F.ctc_loss(log_probs, labels.long(), torch.full((n,), log_probs.shape[0], dtype=torch.long),
                          torch.full((n,), s, dtype=torch.long))
    return loss_fn


@pytest.mark.parametrize("batch_first", [True, False], ids=["(N, T, C)", "(T, N, C)"])
@pytest.mark.parametrize("t,c", [(12, 6), (16, 8)])
def test_a_ctc_loss_whose_label_length_equals_the_classes_is_no_slip(batch_first, t, c):
    """Labels (N, S) with S = C beside (N, T, C) logits line up with the scores' last axis by shape alone;
    a CTC loss reads a one-hot in memory order as a passable alignment (about 0.2× its shuffle, far from
    the slip's 0.0003×), and (T, N, C) logits have no sample axis first to reshape against."""
    rng = np.random.default_rng(0)
    n = 16
    y = torch.tensor(rng.integers(1, c, (n, c)), dtype=torch.float32)
    out = rng.normal(0, 1, (n, t, c) if batch_first else (t, n, c)).astype(np.float32)
    assert T._viewed_channel_first(y.numpy(), out, _loss_at(_ctc(batch_first), y)) is None
