"""A next-token model whose loss forgot to shift: the targets are the input ids themselves and the loss
pairs each position with its own input, which a left-to-right model sees, so training copies it
(Project-MONAI/GenerativeModels #314: `ce_loss(logits, quantizations_target)` before PR #318 shifted it).
The training checks fit such a batch fast and fail on it, naming `target_leakage`. So does a shift the
wrong way round, which scores each output on the token the model read one step before
(yandexdataschool/Practical_DL 7db0ced: `nll_loss(logp_seq[:, 1:], batch_ix[:, :-1])`), written in the
loss or as outputs cropped past their window of targets. Correct twins: the same model under a loss
that shifts the targets itself, and an autoencoder (targets the inputs, a model that reads the whole
sequence)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from pytest_mlcheck import CheckFailed, diagnosis


class _TokenNet(nn.Module):
    """Embedding -> GRU (left-to-right, or both ways) -> per-token logits (N, T, 16)."""

    def __init__(self, both_ways: bool = False) -> None:
        super().__init__()
        self.embed = nn.Embedding(16, 16)
        self.rnn = nn.GRU(16, 8 if both_ways else 16, batch_first=True, bidirectional=both_ways)
        self.head = nn.Linear(16, 16)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(self.embed(tokens))[0])


def _tokens() -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.tensor(np.random.default_rng(0).integers(0, 16, size=(32, 12)))
    return x, x  # the targets are the inputs; the loss decides how they pair


def _unshifted(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out.transpose(1, 2), y)


def _shifted(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out[:, :-1].transpose(1, 2), y[:, 1:])


def _backwards(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out[:, 1:].transpose(1, 2), y[:, :-1])


def _net(both_ways: bool = False) -> nn.Module:
    torch.manual_seed(0)
    return _TokenNet(both_ways)


@pytest.mark.parametrize("check", ["overfit_one_batch", "loss_decreases"])
def test_a_left_to_right_model_scored_on_its_own_input_tokens_fails(mlcheck, check):
    batch = _tokens()
    call = getattr(mlcheck, check)
    with pytest.raises(CheckFailed) as failed:
        call(_net(), batch if check == "overfit_one_batch" else [batch], loss_fn=_unshifted,
             optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert failed.value.causes == ["target_leakage"], str(failed.value)
    assert "copy each position's input" in str(failed.value) and "left-to-right along axis 1" in str(failed.value)


def test_the_same_model_under_a_loss_that_shifts_and_an_autoencoder_pass(mlcheck):
    batch, opt = _tokens(), (lambda p: torch.optim.Adam(p, lr=1e-2))
    assert mlcheck.loss_decreases(_net(), [batch], loss_fn=_shifted, optimizer=opt).passed
    # targets the inputs, scored in place: what an autoencoder means, and a model reading both ways
    assert mlcheck.overfit_one_batch(_net(both_ways=True), batch, loss_fn=_unshifted, optimizer=opt).passed


@pytest.mark.parametrize("check", ["overfit_one_batch", "loss_decreases"])
def test_a_loss_that_shifts_the_wrong_way_round_fails(mlcheck, check):
    batch = _tokens()
    with pytest.raises(CheckFailed) as failed:
        getattr(mlcheck, check)(_net(), batch if check == "overfit_one_batch" else [batch], loss_fn=_backwards,
                                optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert failed.value.causes == ["target_leakage"], str(failed.value)
    assert "repeat the previous position's input" in str(failed.value)


class _SeqFirstLM(nn.Module):
    """A correct language model in the (T, N) layout of nn.GRU's default batch_first=False."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed, self.rnn, self.head = nn.Embedding(16, 16), nn.GRU(16, 32), nn.Linear(32, 16)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(self.embed(tokens))[0])


@pytest.mark.parametrize("seed", [8, 9, 11])
def test_a_seq_first_language_model_shifted_right_passes(mlcheck, seed):
    """Axis 1 of (T, N) holds independent samples: changing one moves its own outputs and no other's,
    which read as left-to-right until the change had to reach the next position too."""
    x = torch.tensor(np.random.default_rng(seed).integers(0, 16, size=(24, 8)))
    result = mlcheck.overfit_one_batch(_SeqFirstLM(), (x, x), optimizer=lambda p: torch.optim.Adam(p, lr=1e-2),
                                       loss_fn=lambda out, y: F.cross_entropy(out[:-1].reshape(-1, 16), y[1:].reshape(-1)))
    assert result.passed


def test_the_probe_needs_a_left_to_right_model_and_a_loss_that_rewards_the_copy():
    x = np.random.default_rng(0).integers(0, 16, size=(8, 12))
    eye = np.eye(16, dtype=np.float32)
    # output i reads inputs i and i - 1 (left-to-right, context carried one step)
    causal = lambda ids: eye[np.asarray(ids)] + 0.5 * eye[np.roll(np.asarray(ids), 1, axis=1)]  # noqa: E731
    alone = lambda ids: eye[np.asarray(ids)]  # noqa: E731 - output i reads input i only: independent positions
    both = lambda ids: eye[np.asarray(ids)] + eye[np.roll(np.asarray(ids), -1, axis=1)]  # noqa: E731 - reads i and i+1

    def ce(shift: int):
        def loss(outputs: np.ndarray) -> float:
            logp = outputs - np.log(np.exp(outputs).sum(-1, keepdims=True))
            picked = np.take_along_axis(logp[:, :logp.shape[1] - shift], x[:, shift:, None], axis=-1)
            return float(-picked.mean())
        return loss

    (cause, _), = diagnosis.copied_targets(x, x, causal, ce(0))
    assert cause == "target_leakage"
    assert diagnosis.copied_targets(x, x, causal, ce(1)) == []  # the loss shifts: predicting the next one wins
    assert diagnosis.copied_targets(x, x, both, ce(0)) == []  # a change at one position moves an earlier output
    assert diagnosis.copied_targets(x, (x + 1) % 16, causal, ce(0)) == []  # targets are not the inputs
    assert diagnosis.copied_targets(x, x, alone, ce(0)) == []  # no context carried: no next-token model

    def backwards(outputs: np.ndarray) -> float:  # output i + 1 scored on input i
        logp = outputs - np.log(np.exp(outputs).sum(-1, keepdims=True))
        return float(-np.take_along_axis(logp[:, 1:], x[:, :-1, None], axis=-1).mean())

    (cause, said), = diagnosis.copied_targets(x, x, causal, backwards)
    assert cause == "target_leakage" and "the shift runs the wrong way" in said

    def refuses(outputs: np.ndarray) -> float:
        raise ValueError("a loss that takes only the model's own outputs")

    assert diagnosis.copied_targets(x, x, causal, refuses) == []  # no evidence, not a crash


# -- Keras: the same rule through the Keras adapter ------------------------------------------------

def _keras_net(both_ways: bool = False, shift: bool = False):
    import keras

    keras.utils.set_random_seed(0)
    rnn = keras.layers.GRU(16, return_sequences=True)
    model = keras.Sequential([keras.Input((12,), dtype="int32"), keras.layers.Embedding(16, 16),
                              keras.layers.Bidirectional(keras.layers.GRU(8, return_sequences=True))
                              if both_ways else rnn, keras.layers.Dense(16)])
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    loss = (lambda y, out: ce(y[:, 1:], out[:, :-1])) if shift else ce
    model.compile(loss=loss, optimizer=keras.optimizers.Adam(1e-2))
    return model


def _keras_tokens() -> tuple[np.ndarray, np.ndarray]:
    x = np.random.default_rng(0).integers(0, 16, size=(32, 12)).astype("int32")
    return x, x.copy()


def test_a_keras_left_to_right_model_scored_on_its_own_input_tokens_fails(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_keras_net(), _keras_tokens())
    assert failed.value.causes == ["target_leakage"], str(failed.value)
    assert "copy each position's input" in str(failed.value)


def test_the_keras_twins_that_shift_or_read_both_ways_pass(mlcheck):
    assert mlcheck.loss_decreases(_keras_net(shift=True), [_keras_tokens()]).passed
    assert mlcheck.overfit_one_batch(_keras_net(both_ways=True), _keras_tokens()).passed


def _keras_cropped(crop: tuple[int, int]):
    """Per-token logits cropped to a window of T - 1 positions: (1, 0) keeps outputs 1..T-1, which have
    read tokens 0..T-2 (their targets under the wrong shift); (0, 1) keeps 0..T-2 for tokens 1..T-1."""
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((12,), dtype="int32"), keras.layers.Embedding(16, 16),
                              keras.layers.GRU(16, return_sequences=True), keras.layers.Dense(16),
                              keras.layers.Cropping1D(crop)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.Adam(1e-2))
    return model


def test_keras_outputs_cropped_past_their_window_of_targets_fail_and_the_right_crop_passes(mlcheck):
    x, _ = _keras_tokens()
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_keras_cropped((1, 0)), (x, x[:, :-1]))
    assert failed.value.causes == ["target_leakage"], str(failed.value)
    assert "a window of the inputs along axis 1 (the same positions" in str(failed.value)
    assert mlcheck.overfit_one_batch(_keras_cropped((0, 1)), (x, x[:, 1:])).passed


class _SeqAutoencoder(nn.Module):
    """A GRU encoder over the tokens and an end token, a bottleneck, a GRU decoder emitting the tokens:
    the targets are the inputs without their last position, and every output reads every input."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed, self.enc = nn.Embedding(17, 32), nn.GRU(32, 64, batch_first=True)
        self.dec, self.head = nn.GRU(64, 64, batch_first=True), nn.Linear(64, 17)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h = self.enc(self.embed(x))
        return self.head(self.dec(h[-1].unsqueeze(1).repeat(1, x.shape[1] - 1, 1))[0])


def test_a_sequence_autoencoder_whose_inputs_end_in_an_end_token_is_no_leak():
    """The same window reading as the cropped model's, but the outputs before the changed position
    move too: no left-to-right model, so no leak."""
    tokens = np.random.default_rng(0).integers(0, 16, size=(32, 12))
    x = np.concatenate([tokens, np.full((32, 1), 16)], 1)
    model = _SeqAutoencoder().eval()
    predict = lambda ids: model(torch.as_tensor(ids)).detach().numpy()  # noqa: E731
    assert diagnosis.target_leak(x, tokens, predict) == []


@pytest.mark.parametrize("check", ["overfit_one_batch", "loss_decreases"])
def test_a_model_that_reads_ahead_under_a_loss_that_shifts_fails(mlcheck, check):
    # the targets are the input ids and the loss shifts them, as a next-token model's should, but the model
    # reads both ways: each output sees the token it is scored against (BrianPulfer's GPT passed its padding
    # mask where the causal mask belongs, held-out batch 106); its left-to-right twin passes (above)
    batch = _tokens()
    with pytest.raises(CheckFailed) as failed:
        getattr(mlcheck, check)(_net(both_ways=True), batch if check == "overfit_one_batch" else [batch],
                                loss_fn=_shifted, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert failed.value.causes[:1] == ["target_leakage"], str(failed.value)
    assert "the loss shifts them" in str(failed.value) and "their own target" in str(failed.value)


def test_read_ahead_needs_a_shifting_loss_and_a_model_that_reads_ahead():
    x, _ = _tokens()
    ids = x.numpy()
    for both_ways, loss, fires in [(True, _shifted, True), (False, _shifted, False), (True, _unshifted, False)]:
        net = _net(both_ways).eval()

        def predict(a: np.ndarray, net: nn.Module = net) -> np.ndarray:
            with torch.no_grad():
                return net(torch.as_tensor(a)).numpy()

        def loss_of(outputs: np.ndarray, loss=loss) -> float:
            return float(loss(torch.as_tensor(outputs), x))

        found = diagnosis.read_ahead(ids, ids, predict, loss_of)
        assert bool(found) == fires, (both_ways, loss.__name__, found)
