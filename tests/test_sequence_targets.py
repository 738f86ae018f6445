"""Language-model targets: a shift inside the loss, and prefixes that several samples share.

A language model's batch is read as class ids per position. Two things a correct one does that the
per-position reading alone would fail: its loss may pair output t with token t + 1 itself (the
floor built for output t against token t is then no floor — the run goes far below it), and samples
that begin alike (names after one start token) go on to different next tokens, of which a model
reading left to right can get only one right."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from pytest_mlcheck import CheckFailed

VOCAB = 12


class CharLM(nn.Module):
    """Embedding -> GRU -> Linear: logits (N, T, V) for every position, read left to right."""

    def __init__(self, blind: bool = False, vocab: int = VOCAB) -> None:
        super().__init__()
        self.blind = blind  # BROKEN twin: the tokens never reach the head
        self.embed, self.rnn, self.head = nn.Embedding(vocab, 32), nn.GRU(32, 64, batch_first=True), nn.Linear(64, vocab)

    def forward(self, tokens):
        h = self.embed(tokens)
        return self.head(self.rnn(h * 0 if self.blind else h)[0])


def _names(n: int = 32, length: int = 10, seed: int = 0) -> np.ndarray:
    """Sequences that all begin with start token 0 and then a few shared openings: several samples
    share each prefix and go on differently."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, VOCAB, size=(n, length))
    x[:, 0] = 0
    x[:, 1] = rng.integers(1, 4, size=n)  # three openings for 32 samples
    return x


def test_a_loss_that_shifts_outputs_against_targets_itself_is_judged_on_its_loss(mlcheck):
    """The loss pairs output t with token t + 1 (targets = the tokens themselves): the check's
    perfect prediction (output t = token t) scores far above what the run reaches, so that floor
    is refuted and the fit is judged on the loss alone — the batch fits, with a note saying why.
    (Each sample opens with its own token, so nothing is left to chance and the loss can reach 0.)"""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 64, size=(32, 10))
    x[:, 0] = rng.permutation(64)[:32]
    x = torch.tensor(x)
    torch.manual_seed(0)
    result = mlcheck.overfit_one_batch(
        CharLM(vocab=64), (x, x), loss_fn=lambda out, y: F.cross_entropy(out[:, :-1].transpose(1, 2), y[:, 1:]),
        optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert result.passed and np.isnan(result.figures["loss_floor"]), result.figures
    assert any("judged on its loss alone" in note for note in result.notes), result.notes


@pytest.mark.parametrize("blind", [False, True], ids=["reads its tokens", "BROKEN tokens never reach the head"])
def test_positions_after_a_shared_prefix_are_not_demanded_but_the_rest_are(mlcheck, blind):
    """Targets x[:, 1:] for inputs x[:, :-1]: the first two positions follow prefixes that many
    samples share, so only one of their next tokens can be right — those positions are not
    demanded and the model fits the rest. A model whose tokens never reach its head cannot get the
    determined positions right and still fails."""
    x = _names()
    torch.manual_seed(0)
    run = lambda: mlcheck.overfit_one_batch(  # noqa: E731
        CharLM(blind), (torch.tensor(x[:, :-1]), torch.tensor(x[:, 1:])),
        loss_fn=lambda out, y: F.cross_entropy(out.transpose(1, 2), y), optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    if not blind:
        result = run()
        assert "positions where samples with the same inputs so far go on to different targets" in result.figures["targets"]
        return
    with pytest.raises(CheckFailed) as info:
        run()
    assert "not demanded" in str(info.value)


class BiLM(CharLM):
    """BROKEN as a language model: the GRU reads both ways, so output t sees token t + 1, its target."""

    def __init__(self, vocab: int = VOCAB) -> None:
        super().__init__(vocab=vocab)
        self.rnn = nn.GRU(32, 32, batch_first=True, bidirectional=True)


def _openings(vocab: int = 64, n: int = 32, length: int = 11) -> torch.Tensor:
    """Each sample opens with its own token, so a left-to-right model can fit every next token."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, vocab, size=(n, length))
    x[:, 0] = rng.permutation(vocab)[:n]
    return torch.tensor(x)


@pytest.mark.parametrize("model", [CharLM, BiLM])
def test_a_language_model_that_sees_its_next_token_is_named_even_when_it_fits(mlcheck, model):
    """Next-token targets (the inputs one position ahead): changing the input at t + 1 must leave
    output t where it was. The left-to-right GRU passes; the bidirectional one fits the batch even
    faster — by copying — and fails with ``target_leakage`` naming the position that moved."""
    x = _openings()
    torch.manual_seed(0)
    run = lambda: mlcheck.overfit_one_batch(  # noqa: E731
        model(vocab=64), (x[:, :-1], x[:, 1:]), loss_fn=lambda out, y: F.cross_entropy(out.transpose(1, 2), y),
        optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    if model is CharLM:
        assert run().passed
        return
    with pytest.raises(CheckFailed) as failed:
        run()
    assert failed.value.causes == ["target_leakage"], str(failed.value)
    assert "when the input at position 5 — their own target — changed" in str(failed.value)


def test_a_bidirectional_tagger_whose_tags_are_not_its_inputs_shifted_passes(mlcheck):
    """A correct look-alike: a tagger reads the whole sentence on purpose; its targets (a tag per
    token) are no shifted copy of the inputs, so nothing is perturbed."""
    x = _openings()
    tags = (x * 7 + torch.roll(x, 1, dims=1)) % 5
    torch.manual_seed(0)
    result = mlcheck.overfit_one_batch(
        BiLM(vocab=64), (x, tags), loss_fn=lambda out, y: F.cross_entropy(out[..., :5].transpose(1, 2), y),
        optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert result.passed


@pytest.mark.parametrize("causal", [True, False])
def test_keras_attention_without_a_causal_mask_is_named_on_next_token_targets(causal):
    """The Keras twin: MultiHeadAttention with and without ``use_causal_mask`` on a next-token batch
    (pytorch/tutorials #2478's transformer left its mask out), judged by ``loss_decreases``."""
    import keras

    from pytest_mlcheck import MLCheck

    keras.utils.set_random_seed(0)
    inp = keras.Input((10,), dtype="int32")
    h = keras.layers.Embedding(64, 32)(inp)
    h = h + keras.layers.MultiHeadAttention(2, 16)(h, h, use_causal_mask=causal)
    model = keras.Model(inp, keras.layers.Dense(64)(h))
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = _openings().numpy().astype("int32")
    batches = [(x[:, :-1], x[:, 1:])]
    if causal:
        assert MLCheck().loss_decreases(model, batches).passed
        return
    with pytest.raises(CheckFailed) as failed:
        MLCheck().loss_decreases(model, batches)
    assert failed.value.causes[:1] == ["target_leakage"], str(failed.value)


class SourceAndTarget(nn.Module):
    """A seq2seq model fed its source and its target ids in one tensor (N, S + T): the decoder reads
    target positions 0..T-2 and predicts 1..T-1. ``leaky``: the decoder normalises over the time axis
    (attention-is-all-you-need's first LayerNormalization, over dim 1 of (N, T, D)), so each position
    sees the later ones, its own target among them; else a running mean, left to right."""

    def __init__(self, source: int, leaky: bool, vocab: int = 64) -> None:
        super().__init__()
        self.source, self.leaky = source, leaky
        self.embed, self.head = nn.Embedding(vocab, 32), nn.Linear(32, vocab)

    def forward(self, x):
        context = self.embed(x[:, :self.source]).mean(1, keepdim=True)
        h = self.embed(x[:, self.source:-1]) + context
        steps = torch.arange(1, h.shape[1] + 1, dtype=h.dtype)[None, :, None]
        summary = h.mean(1, keepdim=True) if self.leaky else h.cumsum(1) / steps
        return self.head(torch.tanh(h + summary))


@pytest.mark.parametrize("leaky", [False, True], ids=["left to right", "BROKEN normalised over time"])
def test_a_decoder_fed_source_and_target_in_one_tensor_is_judged_on_its_window(mlcheck, leaky):
    """The targets are the input ids one ahead from where the target part begins: a decoder that
    sees the later positions reads its own targets (target_leakage); one that reads left to right
    passes."""
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.integers(0, 64, size=(32, 6 + 8)))
    torch.manual_seed(0)
    run = lambda: mlcheck.overfit_one_batch(  # noqa: E731
        SourceAndTarget(6, leaky), (x, x[:, 6 + 1:]), loss_fn=lambda out, y: F.cross_entropy(out.transpose(1, 2), y),
        optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    if not leaky:
        assert run().passed
        return
    with pytest.raises(CheckFailed) as info:
        run()
    assert info.value.causes[0] == "target_leakage", str(info.value)
    assert "the outputs sit on the inputs from position 6 on" in str(info.value)


@pytest.mark.parametrize("softmax", [False, True], ids=["logits", "BROKEN a softmax before the cross-entropy"])
def test_probabilities_per_position_into_a_logits_loss_are_named(mlcheck, softmax):
    """keras-io's NER transformer: a softmax per token before a cross-entropy that applies its own.
    Per position, the rows along the class axis are what sum to 1 (not the sample's flattened outputs)."""

    class Tagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed, self.head = nn.Embedding(64, 32), nn.Linear(32, 10)

        def forward(self, tokens):
            out = self.head(torch.tanh(self.embed(tokens)))
            return out.softmax(-1) if softmax else out

    rng = np.random.default_rng(0)
    x = torch.tensor(rng.integers(0, 64, size=(32, 12)))
    y = x % 10  # each token's tag: learnable from the token alone
    torch.manual_seed(0)
    run = lambda: mlcheck.overfit_one_batch(  # noqa: E731
        Tagger(), (x, y), loss_fn=lambda out, t: F.cross_entropy(out.transpose(1, 2), t),
        optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    if not softmax:
        assert run().passed
        return
    with pytest.raises(CheckFailed) as info:
        run()
    assert info.value.causes[0] == "loss_mismatch", str(info.value)
    assert "outputs already sum to 1 per row" in str(info.value)


def test_a_target_that_copies_the_source_is_read_from_the_target_part(mlcheck):
    """Target ids equal to the source's (a copy task, or a stand-in vocabulary): the targets line up
    with the source part one ahead as well as with the target part; the later window is the
    decoder's, and a left-to-right decoder passes (reading the source is no leak)."""
    rng = np.random.default_rng(0)
    source = rng.integers(0, 64, size=(32, 8))
    x = torch.tensor(np.concatenate([source, source], axis=1))
    torch.manual_seed(0)
    result = mlcheck.overfit_one_batch(
        SourceAndTarget(8, leaky=False), (x, x[:, 8 + 1:]),
        loss_fn=lambda out, y: F.cross_entropy(out.transpose(1, 2), y), optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert result.passed
