"""Weights that start at exactly 0: a hidden layer and the head after it both at zero give every input
the same output and no gradient (lisa-lab's Theano MLP drew its Glorot bounds with a Python 2 integer
division). The failure names the zeroed tensors; a head alone started at 0 trains and passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import torch_corpus as tc
from keras_corpus import digits_arrays, keras, sparse_ce
from pytest_mlcheck import CheckFailed, MLCheck, Settings


def _mlp(*, hidden_zero: bool) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.Tanh(), nn.Linear(32, 10))
    with torch.no_grad():
        model[3].weight.zero_()
        if hidden_zero:  # with its bias, as the Theano MLP's: tanh(0) = 0 feeds the zero head nothing to learn by
            model[1].weight.zero_()
            model[1].bias.zero_()
    return model


def _adam(params):
    return torch.optim.Adam(params, lr=1e-2)


def test_a_hidden_layer_and_head_at_zero_are_named_in_every_check():
    batch = tc.digits_batch(32)
    for call in (lambda m: m.overfit_one_batch(_mlp(hidden_zero=True), batch, loss_fn=nn.CrossEntropyLoss(),
                                               optimizer=_adam),
                 lambda m: m.gradients_flow(_mlp(hidden_zero=True), batch, loss_fn=nn.CrossEntropyLoss()),
                 lambda m: m.not_constant_predictions(_mlp(hidden_zero=True), batch[0])):
        with pytest.raises(CheckFailed) as info:
            call(MLCheck(Settings(seed=0)))
        assert info.value.causes[:1] == ["dead_units"], str(info.value)
        assert "2 weight tensor(s) are all exactly 0: 1.weight, 3.weight" in str(info.value)


def test_a_head_started_at_zero_trains(mlcheck):
    batch = tc.digits_batch(32)
    assert mlcheck.overfit_one_batch(_mlp(hidden_zero=False), batch, loss_fn=nn.CrossEntropyLoss(),
                                     optimizer=_adam).passed
    assert mlcheck.gradients_flow(_mlp(hidden_zero=False), batch, loss_fn=nn.CrossEntropyLoss()).passed


@pytest.mark.parametrize("hidden", ["zeros", "glorot_uniform"])
def test_keras_dense_layers_with_a_zeros_initializer(mlcheck, hidden):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(32, activation="tanh", kernel_initializer=hidden),  # zero bias
                              keras.layers.Dense(10, kernel_initializer="zeros")])
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=sparse_ce())
    x, y = digits_arrays(32)
    if hidden == "glorot_uniform":
        assert mlcheck.gradients_flow(model, (x, y)).passed
        return
    with pytest.raises(CheckFailed) as info:
        mlcheck.gradients_flow(model, (x, y))
    assert info.value.causes[:1] == ["dead_units"] and "are all exactly 0" in str(info.value)
    assert np.all(model.layers[1].kernel.numpy() == 0)  # the user's model is untouched


class _Blind(nn.Module):
    """Reads its inputs times 0 (what cuts them off), and starts its head at 0, as many models do."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.lin, self.head = nn.Linear(64, 32), nn.Linear(32, 10)
        with torch.no_grad():
            self.head.weight.zero_()

    def forward(self, x):
        return self.head(torch.tanh(self.lin(x.flatten(1) * 0)))


def test_a_head_started_at_zero_is_not_blamed_for_outputs_cut_off_elsewhere(mlcheck):
    """A zero further on than the layer that reads the inputs explains nothing: pytorch's
    torchTextClassifiers starts its residual projections and head at 0, and its outputs ignored the
    inputs for a mask applied the wrong way round."""
    with pytest.raises(CheckFailed) as info:
        mlcheck.overfit_one_batch(_Blind(), tc.digits_batch(32), loss_fn=nn.CrossEntropyLoss(), optimizer=_adam)
    assert info.value.causes[:1] == ["no_input_signal"], str(info.value)
    assert "are all exactly 0" not in str(info.value)


def test_biases_kept_per_head_are_no_zeroed_weights():
    """Keras's MultiHeadAttention keeps its query/key/value biases 2-D (heads, head size), at 0 by
    design: they are never read as weights started at 0."""
    from pytest_mlcheck import diagnosis

    values = {"mha/query/kernel": np.zeros((4, 2, 8)), "mha/query/bias": np.zeros((2, 8)),
              "dense/kernel": np.ones((8, 2))}
    assert diagnosis.zeroed_weights(values) == ["mha/query/kernel"]
    assert diagnosis.zeroed_weights(values, input_end=True) == ["mha/query/kernel"]
    assert diagnosis.zeroed_weights({"dense/kernel": np.ones((8, 2)), "mha/query/bias": np.zeros((2, 8))},
                                    input_end=True) == []
