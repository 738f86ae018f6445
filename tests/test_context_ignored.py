"""A sequence model whose output at a position reads that position's input alone (a hand-written
recurrent loop that never carries its state to the next step, as makemore's RNN had it) cannot fit
per-position targets that need earlier inputs: overfit_one_batch fails naming context_ignored, with
the positions probed and how many demanded positions share their input with positions of other
targets. Correct twins: the same loop carrying its state, a Keras GRU over the sequence. The rule
alone: a positionwise model on targets its inputs determine, a causal model, a seq-first causal
model (time on axis 0) and a model that ignores its inputs are not named."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed, MLCheck
from pytest_mlcheck.diagnosis import context_ignored

V, T, N = 6, 8, 32


def _sequences() -> tuple[np.ndarray, np.ndarray]:
    """Each target is the sum of the current and the previous token mod V: it needs the context."""
    x = np.random.default_rng(0).integers(0, V, size=(N, T))
    y = x.copy()
    y[:, 1:] = (x[:, 1:] + x[:, :-1]) % V
    return x, y


class LoopRNN(nn.Module):
    def __init__(self, carry: bool) -> None:
        super().__init__()
        self.carry = carry
        self.emb = nn.Embedding(V, 32)
        self.cell = nn.Linear(64, 32)
        self.start = nn.Parameter(torch.zeros(1, 32))
        self.head = nn.Linear(32, V)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        emb = self.emb(ids)
        h = self.start.expand(len(ids), -1)
        out = []
        for t in range(ids.shape[1]):
            ht = torch.tanh(self.cell(torch.cat([emb[:, t], h], dim=1)))
            if self.carry:
                h = ht
            out.append(ht)
        return self.head(torch.stack(out, dim=1))


def _loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(out.reshape(-1, V), y.reshape(-1))


def _torch(carry: bool) -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    torch.manual_seed(0)
    x, y = _sequences()
    return LoopRNN(carry), (torch.tensor(x), torch.tensor(y))


def test_a_loop_that_never_carries_its_state_fails_naming_context_ignored(mlcheck: MLCheck):
    model, batch = _torch(carry=False)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, batch, loss_fn=_loss, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert failed.value.causes[:1] == ["context_ignored"], str(failed.value)
    assert "moved by 0 when every other position's input changed" in str(failed.value)


def test_the_loop_carrying_its_state_passes(mlcheck: MLCheck):
    model, batch = _torch(carry=True)
    assert mlcheck.overfit_one_batch(model, batch, loss_fn=_loss,
                                     optimizer=lambda p: torch.optim.Adam(p, lr=1e-2)).passed


def test_a_softmax_before_the_loss_is_named_before_context_ignored(mlcheck: MLCheck):
    """A bigram model reads each position alone by design (llama-from-scratch's first model); a softmax
    before a loss that applies its own is never by design: where both are proven, it comes first."""
    model, batch = _torch(carry=False)
    model = nn.Sequential(model, nn.Softmax(dim=-1))
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, batch, loss_fn=_loss, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert failed.value.causes[:2] == ["loss_mismatch", "context_ignored"], str(failed.value)


def _keras(recurrent: bool) -> keras.Model:
    keras.utils.set_random_seed(0)
    inner = keras.layers.GRU(32, return_sequences=True) if recurrent else keras.layers.Dense(32, activation="tanh")
    model = keras.Sequential([keras.Input((T,), dtype="int32"), keras.layers.Embedding(V, 32), inner,
                              keras.layers.Dense(V)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def test_a_keras_head_on_each_step_alone_fails_and_a_gru_passes(mlcheck: MLCheck):
    batch = _sequences()
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_keras(recurrent=False), batch)
    assert failed.value.causes[:1] == ["context_ignored"], str(failed.value)
    assert mlcheck.overfit_one_batch(_keras(recurrent=True), batch).passed


# -- the rule on models written as numpy functions -------------------------------------------

_TABLE = np.random.default_rng(1).normal(size=(V, V))


def positionwise(ids: np.ndarray) -> np.ndarray:
    return _TABLE[ids]


def causal(ids: np.ndarray) -> np.ndarray:
    return np.cumsum(_TABLE[ids], axis=1)


def causal_seq_first(ids: np.ndarray) -> np.ndarray:
    return np.cumsum(_TABLE[ids], axis=0)  # time on axis 0, samples on axis 1


def blind(ids: np.ndarray) -> np.ndarray:
    return np.zeros(ids.shape + (V,))


@pytest.mark.parametrize("model,targets,named", [
    (positionwise, "context", True),
    (positionwise, "own", False),     # each target follows from its own position's input
    (causal, "context", False),       # reads earlier positions
    (causal_seq_first, "context", False),
    (blind, "context", False),        # reads nothing at all: another cause
])
def test_only_a_model_reading_positions_alone_on_targets_that_need_context_is_named(model, targets, named):
    x, y = _sequences()
    if targets == "own":
        y = (x + 1) % V
    found = context_ignored(x, y, model, None)
    assert bool(found) is named, found
