"""Targets shifted twice: a left-to-right model scored on the token two positions after the last one
it reads. The data shifts the targets (``y = tokens[:, 1:]``) and so does the loss (a Hugging Face
causal-LM loss drops the first label: delphi-suite/delphi PR #134), or the data shifts them by two
(tamangmilan/llama3's BOS prepended to the inputs and not to the targets). The loss falls all the
same — the model learns to guess past a token — so the training checks fail on a pass too, naming
``targets_shifted``. Correct twins: one shift, in the data or in the loss; a model that reads both ways
copies its shifted targets instead, which stays ``target_leakage``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from pytest_mlcheck import CheckFailed, diagnosis

V = 16


class _TokenNet(nn.Module):
    """Embedding -> GRU (left-to-right, or both ways) -> per-token logits (N, T, V)."""

    def __init__(self, both_ways: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Embedding(V, 16)
        self.rnn = nn.GRU(16, 8 if both_ways else 16, batch_first=True, bidirectional=both_ways)
        self.head = nn.Linear(16, V)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(self.embed(tokens))[0])


def _chains(n: int = 32, length: int = 14) -> np.ndarray:
    """Token sequences whose next token follows from the current one ((3t + 1) mod V), from random starts:
    next-token targets a left-to-right model learns fast, and so are targets two ahead."""
    seq = np.zeros((n, length), dtype=np.int64)
    seq[:, 0] = np.random.default_rng(0).integers(0, V, n)
    for t in range(1, length):
        seq[:, t] = (3 * seq[:, t - 1] + 1) % V
    return seq


def _in_place(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out.transpose(1, 2), y)


def _shifting(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A causal-LM loss: output t against label t + 1 (the first label dropped), as Hugging Face's does."""
    return F.cross_entropy(out[:, :-1].transpose(1, 2), y[:, 1:])


def _batch(ahead: int) -> tuple[torch.Tensor, torch.Tensor]:
    s = torch.tensor(_chains())
    return (s, s) if ahead == 0 else (s[:, :-ahead], s[:, ahead:])


def _causal(ids: np.ndarray) -> np.ndarray:
    """A left-to-right stand-in for a model: output i reads inputs i and i - 1 (context carried one step)."""
    eye = np.eye(V, dtype=np.float32)
    return eye[np.asarray(ids)] + 0.5 * eye[np.roll(np.asarray(ids), 1, axis=1)]


def _adam(p):
    return torch.optim.Adam(p, lr=1e-2)


@pytest.mark.parametrize("ahead, loss", [(2, _in_place), (1, _shifting)], ids=["data shifts twice", "data and loss"])
@pytest.mark.parametrize("check", ["overfit_one_batch", "loss_decreases"])
def test_a_left_to_right_model_scored_two_tokens_ahead_fails_though_its_loss_falls(mlcheck, check, ahead, loss):
    batch = _batch(ahead)
    call = getattr(mlcheck, check)
    with pytest.raises(CheckFailed) as failed:
        call(_TokenNet(), batch if check == "overfit_one_batch" else [batch], loss_fn=loss, optimizer=_adam)
    text = str(failed.value)
    assert failed.value.causes == ["targets_shifted"], text
    assert "scored against the input 2 positions ahead" in text and "token in between is never read" in text
    assert ("the loss shifts them once more itself" in text) == (loss is _shifting), text
    assert "the loss fell, but each output is scored against a token past the next one" in text


@pytest.mark.parametrize("ahead, loss", [(1, _in_place), (0, _shifting)], ids=["data shifts", "loss shifts"])
def test_one_shift_in_the_data_or_in_the_loss_passes(mlcheck, ahead, loss):
    batch = _batch(ahead)
    assert mlcheck.overfit_one_batch(_TokenNet(), batch, loss_fn=loss, optimizer=_adam).passed
    assert mlcheck.loss_decreases(_TokenNet(), [batch], loss_fn=loss, optimizer=_adam).passed


def test_a_model_that_reads_both_ways_copies_shifted_targets_and_stays_a_leak(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_TokenNet(both_ways=True), _batch(2), loss_fn=_in_place, optimizer=_adam)
    assert failed.value.causes == ["target_leakage"], str(failed.value)


def ce(y: np.ndarray, shift: int):
    """A cross-entropy of (N, T, V) outputs against ``y``, output t against label t + ``shift``."""
    def loss(outputs: np.ndarray) -> float:
        logp = outputs - np.log(np.exp(outputs).sum(-1, keepdims=True))
        return float(-np.take_along_axis(logp[:, :logp.shape[1] - shift], y[:, shift:, None], axis=-1).mean())
    return loss


def test_the_probe_adds_the_data_shift_and_the_loss_shift_for_a_left_to_right_model():
    s = _chains(8, 14)
    eye = np.eye(V, dtype=np.float32)
    both = lambda ids: eye[np.asarray(ids)] + eye[np.roll(np.asarray(ids), -1, axis=1)]  # noqa: E731 - reads i+1

    x1, y1 = s[:, :-1], s[:, 1:]
    x2, y2 = s[:, :-2], s[:, 2:]
    (cause, said), = diagnosis.skipped_tokens(x2, y2, _causal, ce(y2, 0))
    assert cause == "targets_shifted" and "2 positions ahead under a loss that pairs them in place" in said
    (cause, said), = diagnosis.skipped_tokens(x1, y1, _causal, ce(y1, 1))
    assert cause == "targets_shifted" and "shifts them once more itself" in said
    x3, y3 = s[:, :-3], s[:, 3:]
    assert "the 2 tokens in between are never read" in diagnosis.skipped_tokens(x3, y3, _causal, ce(y3, 0))[0][1]
    assert diagnosis.skipped_tokens(x1, y1, _causal, ce(y1, 0)) == []  # next-token training
    assert diagnosis.skipped_tokens(s, s, _causal, ce(s, 1)) == []  # the ids themselves, a loss that shifts
    assert diagnosis.skipped_tokens(x2, y2, both, ce(y2, 0)) == []  # reads ahead: target_leak's case
    assert diagnosis.skipped_tokens(x2, (y2 + 5) % V, _causal, ce(y2, 0)) == []  # targets are not the inputs

    def refuses(outputs: np.ndarray) -> float:
        raise ValueError("a loss that takes only the model's own outputs")

    assert diagnosis.skipped_tokens(x2, y2, _causal, refuses) == []  # no evidence, not a crash


def test_where_the_outputs_sit_on_the_inputs_is_read_from_the_first_output_to_move():
    """Targets shorter than the inputs line up at ``offset + shift`` and the data cannot split the two:
    labels a model's own causal-LM loss trimmed (outputs from the first input on, targets two ahead read
    as one ahead from position 1) or a decoder's part after its source (outputs from the source's end
    on). Changing one input and finding the first output that moves tells where the outputs sit."""
    ids = np.random.default_rng(1).integers(0, V, (8, 16))

    def sitting(start: int, length: int):
        return lambda a: _causal(a)[:, start:start + length]

    (cause, said), = diagnosis.skipped_tokens(ids, ids[:, 2:], sitting(0, 14), ce(ids[:, 2:], 0))
    assert cause == "targets_shifted" and "as the loss pairs them with the outputs, are the input ids 2" in said
    assert "moved the outputs at position 8 and at no earlier one" in said
    assert diagnosis.skipped_tokens(ids, ids[:, 1:], sitting(0, 15), ce(ids[:, 1:], 0)) == []
    # a source of 5 tokens, then the decoder's: its targets one ahead pass, two ahead do not
    assert diagnosis.skipped_tokens(ids, ids[:, 6:], sitting(5, 10), ce(ids[:, 6:], 0)) == []
    (cause, said), = diagnosis.skipped_tokens(ids, ids[:, 7:], sitting(5, 9), ce(ids[:, 7:], 0))
    assert cause == "targets_shifted" and "scored against the input 2 positions ahead" in said


def test_a_causal_lm_with_its_own_loss_given_labels_already_shifted_fails(mlcheck):
    """delphi-suite/delphi PR #134's call: ``LlamaForCausalLM(X, labels=Y)`` with ``Y = data[:, 1:]``, no
    ``loss_fn``. The model's own loss trims a label off (the session shows labels 1..T-1 beside outputs
    0..T-2), so the targets it pairs are the inputs two ahead; ``labels=X`` is the twin that passes."""
    pytest.importorskip("transformers")
    from tests.test_hugging_face import counting, gpt2

    ids, _ = counting(16, length=18)
    assert mlcheck.overfit_one_batch(gpt2(), (ids[:, :-1], ids[:, :-1])).passed
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(gpt2(), (ids[:, :-1], ids[:, 1:]))
    assert failed.value.causes == ["targets_shifted"], str(failed.value)
    assert "as the loss pairs them with the outputs, are the input ids 2 positions ahead" in str(failed.value)


# -- Keras: the same rule through the Keras adapter ------------------------------------------------

def _keras_net(length: int):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((length,), dtype="int32"), keras.layers.Embedding(V, 16),
                              keras.layers.GRU(16, return_sequences=True), keras.layers.Dense(V)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.Adam(1e-2))
    return model


@pytest.mark.parametrize("ahead", [1, 2])
def test_keras_targets_two_ahead_fail_and_one_ahead_pass(mlcheck, ahead):
    s = _chains().astype("int32")
    batch = (s[:, :-ahead], s[:, ahead:])
    if ahead == 1:
        assert mlcheck.overfit_one_batch(_keras_net(s.shape[1] - 1), batch).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_keras_net(s.shape[1] - 2), batch)
    assert failed.value.causes == ["targets_shifted"], str(failed.value)


def _padded_chains() -> torch.Tensor:
    """Right-padded rows (id 0 after 4-8 chained tokens, not ignored by the loss): most positions' next
    target repeats their own, so outputs that predict the next one score nearly as well as in place."""
    rng = np.random.default_rng(0)
    seq = np.zeros((32, 24), dtype=np.int64)
    for i in range(32):
        n = int(rng.integers(4, 9))
        seq[i, :n] = (rng.integers(1, V) + 3 * np.arange(n)) % (V - 1) + 1
    return torch.tensor(seq)


class _LogSoftmaxNet(_TokenNet):
    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(super().forward(tokens), dim=-1)


def test_a_negative_loss_is_read_by_order_not_by_half_of_it(mlcheck):
    """NLLLoss scores the probe's confident outputs at -10 where a pick is its target: in place -10, one
    position later -7.8 on padded rows whose next target mostly repeats. Half of -10 lies above -7.8, which
    a ratio read as the loss shifting the targets (the review's false alarm); by order it is in place."""
    s = _padded_chains()

    def nll(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.nll_loss(out.transpose(1, 2), y)

    assert mlcheck.overfit_one_batch(_LogSoftmaxNet(), (s[:, :-1], s[:, 1:]), loss_fn=nll, optimizer=_adam).passed
    x, y = s[:, :-1].numpy(), s[:, 1:].numpy()

    def picked(y: np.ndarray, shift: int):  # an NLL of the given outputs as they are (no log-softmax): negative
        return lambda out: float(-np.take_along_axis(out[:, :out.shape[1] - shift], y[:, shift:, None], -1).mean())

    assert diagnosis.skipped_tokens(x, y, _causal, picked(y, 0)) == []
    # shifting, on these rows: −10 one later against −7.8 in place, too close to tell: no verdict
    assert diagnosis.skipped_tokens(x, y, _causal, picked(y, 1)) == []
    c = _chains(8, 14)  # no repeats: a negative loss that shifts is told as a positive one is
    (cause, _), = diagnosis.skipped_tokens(c[:, :-1], c[:, 1:], _causal, picked(c[:, 1:], 1))
    assert cause == "targets_shifted"
