"""A tagger whose loss ignores the word vocabulary's pad index instead of the tags' (bentrevett's PoS
tutorial: ``ignore_index=PAD_IDX`` from the text field, 1, where tag 1 is NOUN, the commonest class)
never learns that class and trains on the padding label at the ends of rows. Class ids per position
show it before training: the ignored id sits amid other targets while a trained id only ever fills
the ends of rows. The twins ignore the padding label, or nothing, and pass."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed, MLCheck

PAD_TOKEN, PAD_TAG, TAGS, VOCAB = 1, 0, 6, 50


def _sentences(n: int = 32, length: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Token ids (n, length) right-padded with PAD_TOKEN, and tags 1..5 read off each token (tag 1
    the commonest), right-padded with PAD_TAG."""
    rng = np.random.default_rng(seed)
    x = np.full((n, length), PAD_TOKEN, np.int64)
    y = np.full((n, length), PAD_TAG, np.int64)
    for i in range(n):
        k = int(rng.integers(4, length + 1))
        tokens = rng.integers(2, VOCAB, k)
        x[i, :k] = tokens
        y[i, :k] = np.where(tokens % 3 == 0, 1, 2 + tokens % 4)
    return x, y


class _Tagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed, self.head = nn.Embedding(VOCAB, 32), nn.Linear(32, TAGS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.embed(x)))  # (batch, length, tags)


def _torch_loss(ignore: int):
    ce = nn.CrossEntropyLoss(ignore_index=ignore)
    return lambda out, y: ce(out.reshape(-1, TAGS), y.reshape(-1))


def _keras_tagger(ignore: int | None) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((None,), dtype="int64"), keras.layers.Embedding(VOCAB, 32),
                              keras.layers.ReLU(), keras.layers.Dense(TAGS)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=ignore))
    return model


def _torch_batch() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _sentences()
    return torch.from_numpy(x), torch.from_numpy(y)


def test_the_ignored_tag_is_common_and_the_padding_tag_fills_only_row_ends():
    """What the case below means: tag 1 sits amid other tags in most rows, tag 0 only at the ends."""
    x, y = _sentences()
    assert (y == 1).mean() > 0.15 and (x[y == PAD_TAG] == PAD_TOKEN).all()
    assert all((row[list(row).index(PAD_TAG):] == PAD_TAG).all() for row in y if PAD_TAG in row)


def test_a_torch_tagger_ignoring_the_words_pad_index_fails_before_training(mlcheck: MLCheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_Tagger(), _torch_batch(), loss_fn=_torch_loss(PAD_TOKEN),
                                  optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    text = str(failed.value)
    assert failed.value.causes[:1] == ["loss_mismatch"], text
    assert "skips target 1" in text and "trains on target 0, which only ever fills the ends of rows" in text
    assert failed.value.result.steps == 0, text  # read from the targets, before any training


@pytest.mark.parametrize("ignore", [PAD_TAG, -100], ids=["the padding label ignored", "nothing ignored"])
def test_a_torch_tagger_ignoring_the_padding_label_or_nothing_fits(mlcheck: MLCheck, ignore: int):
    assert mlcheck.overfit_one_batch(_Tagger(), _torch_batch(), loss_fn=_torch_loss(ignore),
                                     optimizer=lambda p: torch.optim.Adam(p, lr=1e-2)).passed


@pytest.mark.parametrize("ignore, fails", [(PAD_TOKEN, True), (PAD_TAG, False), (None, False)],
                         ids=["BROKEN the words' pad index", "the padding label", "nothing"])
def test_a_keras_tagger_reads_the_same(mlcheck: MLCheck, ignore: int | None, fails: bool):
    run = lambda: mlcheck.overfit_one_batch(_keras_tagger(ignore), _sentences())  # noqa: E731
    if not fails:
        assert run().passed
        return
    with pytest.raises(CheckFailed) as failed:
        run()
    assert failed.value.causes[:1] == ["loss_mismatch"], str(failed.value)
    assert "skips target 1" in str(failed.value)
