"""A bidirectional recurrent layer read at the last position: its backward half has read one step there
(yunjey/pytorch-tutorial #149, the bidirectional MNIST LSTM's ``out[:, -1, :]``), so its state-to-state
weights get exactly 0 gradient while its input weights get one. ``gradients_flow`` names
``context_ignored``, not dead units. Twins: the backward half read at the first position (the fix), a
one-way LSTM read at the last position."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed

HIDDEN = 16


def _rows(n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """Images read row by row: (N, 8 rows, 8 pixels), three classes by where the bright row lies."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, n)
    x = rng.normal(0, 0.3, (n, 8, 8))
    x[np.arange(n), 1 + 3 * y] += 2.0
    return torch.tensor(x, dtype=torch.float32), torch.tensor(y)


class _Reader(nn.Module):
    def __init__(self, read: str) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.read = read
        self.lstm = nn.LSTM(8, HIDDEN, batch_first=True, bidirectional=read != "one way")
        self.fc = nn.Linear(HIDDEN * (1 if read == "one way" else 2), 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        if self.read == "fixed":  # forward half at the last position, backward half at the first
            return self.fc(torch.cat([out[:, -1, :HIDDEN], out[:, 0, HIDDEN:]], dim=1))
        return self.fc(out[:, -1, :])


def test_a_backward_half_read_at_the_last_position_is_context_ignored(mlcheck):
    with pytest.raises(CheckFailed) as info:
        mlcheck.gradients_flow(_Reader("last"), _rows(), loss_fn=nn.CrossEntropyLoss())
    assert info.value.causes == ["context_ignored"], str(info.value)
    assert "lstm.weight_hh_l0_reverse" in str(info.value)
    assert "ignore a recurrent layer's state" in str(info.value).splitlines()[0]


@pytest.mark.parametrize("read", ["fixed", "one way"])
def test_recurrences_read_over_their_steps_pass(mlcheck, read):
    assert mlcheck.gradients_flow(_Reader(read), _rows(), loss_fn=nn.CrossEntropyLoss()).passed


def test_the_keras_twin_names_the_backward_recurrent_kernel(mlcheck):
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8))
    seq = keras.layers.Bidirectional(keras.layers.LSTM(HIDDEN, return_sequences=True))(inputs)
    last = keras.layers.Lambda(lambda t: t[:, -1, :])(seq)
    model = keras.Model(inputs, keras.layers.Dense(3)(last))
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = _rows()
    with pytest.raises(CheckFailed) as info:
        mlcheck.gradients_flow(model, (x.numpy(), y.numpy()))
    assert info.value.causes == ["context_ignored"], str(info.value)
    assert "recurrent_kernel" in str(info.value)
