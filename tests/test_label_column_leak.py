"""A feature derived from the label left among the inputs, and read: torch-rechub's multi-task example built
``ctcvr_label = cvr_label * ctr_label`` one line before picking every other column as a feature, and
Ali-CCP keeps no purchase without a click, so one input equals the purchase label on every row. A
binary label has too few values for the float-copy look (three at least), so a fit that reads the
answer passed. A binary label column, each value seen at least 8 times in a batch of 64 or more,
equal to one input column in every sample, which the model reads for that label, fails the training
checks naming `target_leakage`; the twins (the column dropped, an unrelated binary feature, a label
too rare to tell, a causal model fed its own past) pass."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer
from torch import nn

from pytest_mlcheck import CheckFailed, MLCheck
from pytest_mlcheck.diagnosis import label_column_in_inputs


def _tabular(leak: str, n: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Standardised breast-cancer features and two binary labels per sample (the diagnosis and whether
    the first feature is above its median), with a label-derived column appended where asked."""
    x, y = load_breast_cancer(return_X_y=True)
    x = ((x - x.mean(0)) / x.std(0))[:n].astype(np.float32)
    labels = np.stack([y[:n], (x[:, 0] > np.median(x[:, 0]))], axis=1).astype(np.float32)
    extra = {"label": labels[:, 0], "unrelated": (x[:, 1] > 0).astype(np.float32), "none": None}[leak]
    return (x if extra is None else np.concatenate([x, extra[:, None]], axis=1)), labels


def _reads_column(column: int):
    """A stand-in model: two outputs, the first read from one input column, the second from the rest."""
    return lambda x: np.stack([x[:, column] * 3.0, x[:, :column].sum(axis=1)], axis=1)


def test_a_label_column_among_the_features_that_the_model_reads_is_found_per_column():
    x, y = _tabular("label")
    found = label_column_in_inputs(x, y, _reads_column(30))
    assert [c for c, _ in found] == ["target_leakage"]
    assert "target column 0 equals input [30]" in found[0][1] and "swapping its two values moves" in found[0][1]
    assert label_column_in_inputs(*_tabular("unrelated"), _reads_column(30)) == []
    assert label_column_in_inputs(*_tabular("none"), _reads_column(29)) == []


def test_a_label_column_the_model_does_not_read_for_that_label_is_not_named():
    """The column is there but the output standing for the label never reads it (a flag the model
    routes elsewhere, or ignores)."""
    x, y = _tabular("label")
    assert label_column_in_inputs(x, y, _reads_column(5)) == []


def test_a_label_too_rare_or_a_batch_too_small_to_tell_from_chance_is_not_read():
    """Seven positives: an input that is 0 on every row but those is as likely a sparse feature; 48
    samples: a feature agreeing with the label on most samples matches all of them too often."""
    x, y = _tabular("label")
    y[:, 0] = 0.0
    y[:7, 0] = 1.0
    x[:, 30] = y[:, 0]
    assert label_column_in_inputs(x, y, _reads_column(30)) == []
    x, y = _tabular("label", n=48)
    assert label_column_in_inputs(x, y, _reads_column(30)) == []


class _NextEvent(nn.Module):
    """A causal GRU predicting the next event of a binary stream from [event_t, a feature]."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.rnn, self.head = nn.GRU(2, 32, batch_first=True), nn.Linear(32, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x)[0]).squeeze(-1)


def test_a_causal_model_fed_its_own_past_passes(mlcheck: MLCheck):
    """Teacher forcing: the target at t is the input event at t + 1, by design; in a period-2 stream
    the target at t is also the input at t - 1, which the model reads rightly."""
    torch.manual_seed(0)
    phase = torch.randint(0, 2, (64, 1))
    events = (((torch.arange(7) + phase) % 2) == 0).float()
    x = torch.stack([events[:, :-1], torch.randn(64, 6)], dim=-1)
    assert mlcheck.overfit_one_batch(_NextEvent(), (x, events[:, 1:]), loss_fn=nn.BCEWithLogitsLoss(),
                                     optimizer=lambda p: torch.optim.Adam(p, lr=1e-2)).passed


def _torch_model(width: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(width, 16), nn.ReLU(), nn.Linear(16, 2))


@pytest.mark.parametrize("leak", ["label", "unrelated", "none"])
def test_torch_training_checks_name_the_leak(mlcheck: MLCheck, leak: str):
    x, y = _tabular(leak)
    run = lambda: mlcheck.overfit_one_batch(  # noqa: E731
        _torch_model(x.shape[1]), (torch.from_numpy(x), torch.from_numpy(y)), loss_fn=nn.BCEWithLogitsLoss(),
        optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    if leak != "label":
        assert run().passed
        return
    with pytest.raises(CheckFailed) as failed:
        run()
    assert failed.value.causes == ["target_leakage"], str(failed.value)
    assert "the model sees the targets it predicts" in str(failed.value)


@pytest.mark.parametrize("leak", ["label", "none"], ids=["BROKEN label among the features", "dropped"])
def test_keras_reads_the_same(mlcheck: MLCheck, leak: str):
    x, y = _tabular(leak)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((x.shape[1],)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=keras.losses.BinaryCrossentropy(from_logits=True))
    if leak == "none":
        assert mlcheck.loss_decreases(model, [(x, y)]).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.loss_decreases(model, [(x, y)])
    assert failed.value.causes == ["target_leakage"], str(failed.value)
