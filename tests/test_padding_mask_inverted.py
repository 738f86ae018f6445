"""A padding mask applied the wrong way round: fastNLP's Star-Transformer filled the word nodes with 0
after every layer and kept the padding ones, so its tagger gave every word the same tag scores. The
changed-input look saw the outputs move — at the padding positions, which the loss skips — and the
failed run named nothing (the retries then ran into the time cap). The outputs are now first read at
the positions the loss reads: all alike there, while the skipped ones differ, is `no_input_signal`
("the outputs ignore the inputs where the loss reads them"). Twins: a tagger reading its words, and
outputs alike everywhere (left to the changed-input look), are not named by this look."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed, MLCheck
from pytest_mlcheck.diagnosis import read_outputs_alike

rng = np.random.default_rng(0)
LENGTHS = np.array([5, 3, 6, 2])
SKIPPED = np.arange(6)[None, :] >= LENGTHS[:, None]  # (4, 6): positions past each sentence's end


def _outputs(read_alike: bool) -> np.ndarray:
    """(4, 3, 6) tag scores, class axis 1: random everywhere, or one vector at every read position."""
    out = rng.standard_normal((4, 3, 6)).astype(np.float32)
    if read_alike:
        out = np.where(SKIPPED[:, None, :], out, np.array([0.3, -0.2, 0.1], np.float32)[None, :, None])
    return out


def test_the_same_scores_at_every_read_position_while_skipped_ones_differ_are_named():
    found = read_outputs_alike(_outputs(True), SKIPPED, 1, scores=True)
    assert [c for c, _ in found] == ["no_input_signal"]
    assert "at all 16 positions it reads, in 4 samples" in found[0][1] and "the 8 it skips differ" in found[0][1]


def test_read_positions_that_differ_or_outputs_alike_everywhere_are_not_this_looks():
    assert read_outputs_alike(_outputs(False), SKIPPED, 1, scores=True) == []
    constant = np.broadcast_to(np.array([0.3, -0.2, 0.1], np.float32)[None, :, None], (4, 3, 6)).copy()
    assert read_outputs_alike(constant, SKIPPED, 1, scores=True) == []  # the changed-input look's case
    one = SKIPPED.copy()
    one[1:] = True  # one sample read: two rows of one sentence may agree by themselves
    assert read_outputs_alike(_outputs(True), one, 1, scores=True) == []
    assert read_outputs_alike(_outputs(True), np.zeros_like(SKIPPED), 1, scores=True) == []  # nothing skipped


class _Tagger(nn.Module):
    """Embedding -> masked mixing -> per-token tag scores (N, C, L), as the Star-Transformer tagger lays
    them out; ``inverted`` fills the word positions (id > 0) with 0 instead of the padding ones."""

    def __init__(self, inverted: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.inverted = inverted
        self.embed, self.mix, self.cls = nn.Embedding(20, 16), nn.Linear(16, 16), nn.Linear(16, 4)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        words = (ids > 0)[..., None]
        nodes = self.embed(ids)
        for _ in range(2):
            nodes = torch.tanh(self.mix(nodes) + nodes)
            nodes = nodes.masked_fill(words if self.inverted else ~words, 0.0)
        return self.cls(nodes).transpose(1, 2)


def _sentences() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 20, (32, 8), generator=g)
    lengths = torch.randint(3, 9, (32,), generator=g)
    pad = torch.arange(8)[None, :] >= lengths[:, None]
    ids[pad] = 0
    tags = (ids % 3) + 1  # each word's tag follows from the word: learnable
    tags[pad] = 0
    return ids, tags


@pytest.mark.parametrize("inverted", [True, False], ids=["BROKEN mask fills the words", "mask fills the padding"])
def test_a_tagger_whose_mask_zeroes_its_words_fails_naming_it(mlcheck: MLCheck, inverted: bool):
    run = lambda: mlcheck.overfit_one_batch(  # noqa: E731
        _Tagger(inverted), _sentences(), loss_fn=nn.CrossEntropyLoss(ignore_index=0),
        optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    if not inverted:
        assert run().passed
        return
    with pytest.raises(CheckFailed) as failed:
        run()
    assert failed.value.causes[0] == "no_input_signal", str(failed.value)
    assert "where the loss reads them" in str(failed.value)


class _ZeroHeadTagger(nn.Module):
    """A correct tagger: a classifier initialised to zero and an additive padding mask on the logits
    ((1 - mask) · -1e4, as BERT-era code writes it). At init every word gets the bias, every padding
    position the bias - 1e4: alike where the loss reads, different where it skips."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed, self.mix, self.cls = nn.Embedding(20, 16), nn.Linear(16, 16), nn.Linear(16, 4)
        nn.init.zeros_(self.cls.weight)
        nn.init.zeros_(self.cls.bias)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        words = (ids > 0).float()[..., None]
        logits = self.cls(torch.tanh(self.mix(self.embed(ids))))
        return (logits + (1.0 - words) * -1e4).transpose(1, 2)


def test_a_zero_initialised_head_behind_an_additive_mask_is_not_named(mlcheck: MLCheck):
    """The run fails for its tiny learning rate; the trained head has moved off zero, so its words'
    scores differ: the read-positions look, confirmed on the trained model, says nothing."""
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_ZeroHeadTagger(), _sentences(), loss_fn=nn.CrossEntropyLoss(ignore_index=0),
                                  optimizer=lambda p: torch.optim.SGD(p, lr=1e-4), steps=30)
    assert "where the loss reads them" not in str(failed.value), str(failed.value)
