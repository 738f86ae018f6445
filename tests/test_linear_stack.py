"""Two fully connected layers where the second receives the first one's outputs unchanged compose to
one linear map: the hidden layer adds nothing, its activation forgotten (TensorFlow's CSV tutorial
shipped `Dense(64)` into `Dense(1)` for abalone; Keras' scikit-learn wrapper example stacked its hidden
Dense layers with the ReLU after the loop). A passing or failing training check says so in a note,
never as a failure: the fixed versions of nine real programs keep such a stack, which learns what one
layer would (README). Correct twins: an activation between (in place too), a bottleneck
narrower than both ends (a linear autoencoder), one layer called twice, attention over one position."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed, Settings, diagnosis
from pytest_mlcheck.checks.common import open_session
from pytest_mlcheck.checks.runner import TrainSpec

NOTE = "compose to one linear map"


def _regression(n_in: int = 7, n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, n_in, generator=g)
    return x, x @ torch.randn(n_in, 1, generator=g)


def _pairs(model, batch, **spec) -> list[tuple[str, str, int, int, int]]:
    session = open_session(model, Settings(seed=0), TrainSpec(**spec))
    try:
        return session.stacked_dense(session.prepare(*batch))
    finally:
        session.close()


class _Twice(nn.Module):
    """One Linear applied twice (a linear recurrence): not two layers."""

    def __init__(self) -> None:
        super().__init__()
        self.step, self.head = nn.Linear(8, 8), nn.Linear(8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.step(self.step(x))))


class _Attention(nn.Module):
    """Single-head attention from Linear projections: over one position the softmax is exactly 1, so
    the value projection's output reaches the output projection equal in value, yet as a new tensor."""

    def __init__(self, d: int = 8) -> None:
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.q(x) @ self.k(x).transpose(1, 2) / 8 ** 0.5, dim=-1)
        return self.o(weights @ self.v(x)).mean(dim=1)


@pytest.mark.parametrize("between, stacked", [
    ([], True),
    ([nn.Dropout(0.5)], True),  # eval-mode dropout passes the tensor on
    ([nn.Unflatten(1, (8, 8)), nn.Flatten()], True),  # views of the same storage
    ([nn.ReLU()], False),
    ([nn.ReLU(inplace=True)], False),  # same storage, other values
    ([nn.Tanh()], False),
])
def test_torch_sees_what_passes_between_two_linear_layers(between, stacked):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(7, 64), *between, nn.Linear(64, 1))
    pairs = _pairs(model, _regression(), loss_fn=nn.MSELoss())
    assert pairs == ([("0", str(1 + len(between)), 7, 64, 1)] if stacked else [])
    assert bool(diagnosis.linear_stack(pairs)) is stacked


def test_torch_one_layer_called_twice_and_attention_over_one_position_are_no_stack():
    torch.manual_seed(0)
    assert _pairs(_Twice(), _regression(8), loss_fn=nn.MSELoss()) == []
    x = torch.randn(16, 1, 8)  # one position: the attention weights are all exactly 1
    assert _pairs(_Attention(), (x, torch.randn(16, 8)), loss_fn=nn.MSELoss()) == []


def test_a_bottleneck_narrower_than_both_ends_is_a_factorisation_not_a_forgotten_activation():
    """784 → 32 → 784 (a linear autoencoder: PCA) is a rank-32 model no single layer is; 7 → 64 → 1
    and 1152 → 64 → 64 (the two programs) equal one layer."""
    assert diagnosis.linear_stack([("enc", "dec", 784, 32, 784)]) == []
    for pair in [("a", "b", 7, 64, 1), ("a", "b", 1152, 64, 64), ("a", "b", 64, 64, 16)]:
        (note,) = diagnosis.linear_stack([pair])
        assert NOTE in note and f"({pair[2]}→{pair[3]})" in note
    torch.manual_seed(0)
    autoencoder = nn.Sequential(nn.Linear(16, 4), nn.Linear(4, 16))
    x = torch.randn(32, 16)
    assert diagnosis.linear_stack(_pairs(autoencoder, (x, x), loss_fn=nn.MSELoss())) == []


def test_a_passing_torch_check_notes_the_stack_and_its_twin_does_not(mlcheck):
    for relu, noted in ((False, True), (True, False)):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(7, 64), *([nn.ReLU()] if relu else []), nn.Linear(64, 1))
        result = mlcheck.overfit_one_batch(model, _regression(), loss_fn=nn.MSELoss())
        assert any(NOTE in n and "0 (7→64) passes its outputs to 1 (64→1)" in n for n in result.notes) is noted


def test_a_failing_check_notes_the_stack_too(mlcheck):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(7, 64), nn.Linear(64, 1))
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, _regression(), loss_fn=nn.MSELoss(),
                                  optimizer=lambda p: torch.optim.SGD(p, lr=1e-7), steps=50)
    assert "note: 0 (7→64) passes its outputs to 1 (64→1)" in str(failed.value)


def _keras(*hidden: keras.layers.Layer) -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential([keras.Input((7,)), *hidden, keras.layers.Dense(1)])


@pytest.mark.parametrize("hidden, stacked", [
    (lambda: [keras.layers.Dense(64)], True),
    (lambda: [keras.layers.Dense(64), keras.layers.Dropout(0.5)], True),
    (lambda: [keras.layers.Dense(64), keras.layers.Reshape((8, 8)), keras.layers.Flatten()], True),
    (lambda: [keras.layers.Dense(64, activation="relu")], False),
    (lambda: [keras.layers.Dense(64), keras.layers.ReLU()], False),
    (lambda: [keras.layers.Dense(64), keras.layers.Activation("tanh")], False),
])
def test_keras_sees_what_passes_between_two_dense_layers(hidden, stacked):
    x, y = (t.numpy() for t in _regression())
    model = _keras(*hidden())
    model.compile(loss="mse", optimizer="adam")
    pairs = _pairs(model, (x, y))
    assert [(n_in, inner, n_out) for _, _, n_in, inner, n_out in pairs] == ([(7, 64, 1)] if stacked else [])
    assert bool(diagnosis.linear_stack(pairs)) is stacked


def test_a_passing_keras_check_notes_the_stack(mlcheck):
    x, y = (t.numpy() for t in _regression())
    model = _keras(keras.layers.Dense(64))
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(1e-2))
    result = mlcheck.overfit_one_batch(model, (x, y))
    assert any(NOTE in n and "(7→64)" in n and "(64→1)" in n for n in result.notes)


def test_the_look_leaves_the_users_model_as_it_was():
    """The layers' call methods are wrapped for one call and the hooks removed after it."""
    model = _keras(keras.layers.Dense(64))
    model.compile(loss="mse", optimizer="adam")
    x, y = (t.numpy() for t in _regression())
    before = [w.copy() for w in model.get_weights()]
    _pairs(model, (x, y))
    assert all("call" not in vars(layer) for layer in model.layers)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    torch_model = nn.Sequential(nn.Linear(7, 64), nn.Linear(64, 1))
    _pairs(torch_model, _regression(), loss_fn=nn.MSELoss())
    assert all(not m._forward_hooks for m in torch_model.modules())
