"""A loss over a mask of the samples it trains on — a transductive graph network's training nodes
(``F.nll_loss(output[idx_train], labels[idx_train])``, pyGAT), a semi-supervised batch's labelled rows —
cannot make the other samples right: their outputs never reach it. Such samples are not demanded by
the fit criterion (it had failed a correct GAT with 31 of 256 nodes wrong, held-out nodes all); a note
says how many. Broken twins: a masked loss whose model cannot tell its samples apart still fails, and
a loss that reads one sample alone still fails naming it."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed

N, READ, CLASSES = 64, 32, 4
NOTE = "were found never read by the loss"


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    # random labels: the rows the loss never reads cannot be got right by generalising
    return rng.normal(size=(N, 8)).astype(np.float32), rng.integers(0, CLASSES, N)


class _Net(nn.Module):
    def __init__(self, blind: bool = False) -> None:
        super().__init__()
        self.mlp, self.blind = nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Linear(64, CLASSES)), blind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.zeros_like(x) if self.blind else x)


def _masked(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(out[:READ], y[:READ])


def _first_only(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(out[:1], y[:1])


def _torch(loss_fn, blind: bool = False) -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor], dict]:
    torch.manual_seed(0)
    x, y = _data()
    kw = dict(loss_fn=loss_fn, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    return _Net(blind), (torch.from_numpy(x), torch.from_numpy(y)), kw


def test_a_loss_over_a_mask_of_samples_demands_only_those(mlcheck):
    model, batch, kw = _torch(_masked)
    result = mlcheck.overfit_one_batch(model, batch, **kw)
    said = [n for n in result.notes if NOTE in n]
    assert result.passed and said and int(said[0].split()[0]) <= N - READ, result.notes


def test_the_same_model_under_a_loss_of_every_sample_is_demanded_every_sample(mlcheck):
    """The criterion is unchanged where the loss reads every sample: the note is absent."""
    model, batch, kw = _torch(nn.functional.cross_entropy)
    result = mlcheck.overfit_one_batch(model, batch, **kw)
    assert result.passed and not any(NOTE in n for n in result.notes), result.notes


def test_BROKEN_a_masked_loss_on_a_model_blind_to_its_inputs_still_fails(mlcheck):
    model, batch, kw = _torch(_masked, blind=True)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, batch, **kw)
    assert failed.value.causes[:1] == ["no_input_signal"], str(failed.value)


def test_BROKEN_a_loss_that_reads_one_sample_alone_is_still_named(mlcheck):
    model, batch, kw = _torch(_first_only)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, batch, **kw)
    assert "loss_mismatch" in failed.value.causes, str(failed.value)


def _keras(blind: bool = False) -> keras.Model:
    keras.utils.set_random_seed(0)

    def masked(y_true, y_pred):
        return keras.ops.mean(keras.losses.sparse_categorical_crossentropy(y_true[:READ], y_pred[:READ],
                                                                           from_logits=True))

    layers = [keras.Input((8,))] + ([keras.layers.Lambda(keras.ops.zeros_like)] if blind else [])
    model = keras.Sequential(layers + [keras.layers.Dense(64, activation="relu"), keras.layers.Dense(CLASSES)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=masked)
    return model


def test_a_keras_loss_over_a_mask_of_samples_demands_only_those(mlcheck):
    result = mlcheck.overfit_one_batch(_keras(), _data())
    assert result.passed and any(NOTE in n for n in result.notes), result.notes


def test_BROKEN_a_keras_masked_loss_on_a_model_blind_to_its_inputs_still_fails(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_keras(blind=True), _data())
    assert failed.value.causes[:1] == ["no_input_signal"] and NOTE not in str(failed.value), str(failed.value)
