"""Outputs that ignore the inputs because the initialisation shrank the signal layer by layer
(vanishing_gradients) against a layer that cuts it (no_input_signal): AUTOTRAINER's DL_tools case 14,
an 8-layer stack of 5 ReLU units drawn uniform ±0.05."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import keras_corpus as kc
from pytest_mlcheck import CheckFailed
from pytest_mlcheck.diagnosis import fading_signal


def _layers(spreads: list[float]) -> list[tuple[str, np.ndarray]]:
    """Weighted layers' inputs for 64 samples whose spread across samples is each of ``spreads``."""
    rng = np.random.default_rng(0)
    base = rng.normal(size=(64, 5))
    base = (base - base.mean(axis=0)) / base.std(axis=0)
    return [(f"layer{i}", (1.0 + s * base).astype(np.float64)) for i, s in enumerate(spreads)]


@pytest.mark.parametrize("spreads,fading", [
    ([0.5, 1e-2, 5e-4, 7e-6, 6e-7, 4e-8, 7e-10, 1e-10, 7e-12], True),   # case 14: ×0.02-0.1 at every layer
    ([0.5, 0.4, 0.45, 1e-12, 1e-12], False),                          # one layer drops it: a cut
    ([0.5, 0.4, 0.3, 0.2, 1e-12], False),                             # shrinking, but one layer takes the fall
    ([0.56, 1.3e-2, 2e-4, 3.7e-6, 8.7e-8, 1.1e-9, 4.5e-11, 4.5e-11], True),  # Keras: a floor once at rounding
    ([0.5, 0.5, 0.5, 0.0], False),                                    # exactly 0 after one layer
    ([0.5, 7e-3, 2e-4, 1e-5, 1e-7, 0.0, 0.0], True),                  # below float32 once at rounding
    ([0.5, 0.1, 0.3, 1e-4, 1e-8, 1e-12], False),                      # grows back at one layer
    ([0.5, 0.1, 0.02, 4e-3, 8e-4], False),                            # fades, but not far enough
    ([0.5, 1e-3, 1e-6, 1e-9], True),                                  # four layers, falls alike
    ([0.5, 1e-4, 1e-8], False),                                       # two falls: too few to tell
    ([0.16] + [0.19 * 0.7 ** i for i in range(35)], True),            # case 16: ×0.7 over 35 layers, to 2e-6
    ([0.5 * 0.38 ** i for i in range(6)], False),                     # default init, then a zero head: no fade
], ids=["case 14", "one cut", "monotone cut", "floor", "zeroed", "rounded to 0", "not monotone", "not to rounding",
        "shortest", "too short", "case 16", "shallow"])
def test_a_fade_is_gradual_monotone_and_far(spreads, fading):
    assert bool(fading_signal(_layers(spreads))) == fading


class Uniform8x5(nn.Module):
    """Eight 5-unit ReLU layers and a 2-class head, every weight and bias drawn uniform ±``bound``
    (or He weights and zero biases)."""

    def __init__(self, bound: float | None, cut: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.ModuleList([nn.Linear(2, 5)] + [nn.Linear(5, 5) for _ in range(7)])
        self.head, self.cut = nn.Linear(5, 2), cut
        for layer in [*self.body, self.head]:
            if bound is None:
                nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
                nn.init.zeros_(layer.bias)
            else:  # biases too, as Keras's RandomUniform(-0.05, 0.05) everywhere
                nn.init.uniform_(layer.weight, -bound, bound)
                nn.init.uniform_(layer.bias, -bound, bound)

    def forward(self, x):
        for i, layer in enumerate(self.body):
            x = torch.relu(layer(x))
            if self.cut and i == 3:
                x = x * 0.0 + 1.0  # a layer that drops the signal at once
        return self.head(x)


def _circles() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    angle = torch.rand(64, generator=g) * 2 * np.pi
    y = (torch.arange(64) % 2)
    radius = 0.5 + 0.5 * y.float() + 0.05 * torch.randn(64, generator=g)
    return torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1), y


ADAM = (lambda p: torch.optim.Adam(p, lr=1e-3))


def test_a_stack_initialised_too_small_for_its_depth_names_vanishing_gradients(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(Uniform8x5(0.05), _circles(), loss_fn=nn.CrossEntropyLoss(), optimizer=ADAM)
    assert failed.value.causes[0] == "vanishing_gradients", str(failed.value)
    assert "no layer cuts the signal" in str(failed.value)


def test_a_layer_that_cuts_the_signal_is_no_input_signal(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(Uniform8x5(None, cut=True), _circles(), loss_fn=nn.CrossEntropyLoss(),
                                  optimizer=ADAM)
    assert failed.value.causes[0] == "no_input_signal", str(failed.value)


def test_the_he_initialised_twin_is_not_put_down_to_a_fade(mlcheck):
    try:
        mlcheck.overfit_one_batch(Uniform8x5(None), _circles(), loss_fn=nn.CrossEntropyLoss(), optimizer=ADAM)
    except CheckFailed as failed:  # a narrow stack may still learn slowly: not a fade, nor a collapse
        assert not {"vanishing_gradients", "no_input_signal", "class_collapse"} & set(failed.causes), str(failed)


def _keras_stack(bound: float | None):
    import keras
    keras.utils.set_random_seed(0)
    init = keras.initializers.RandomUniform(-bound, bound, seed=0) if bound else "he_uniform"
    bias = keras.initializers.RandomUniform(-bound, bound, seed=1) if bound else "zeros"
    layers = [keras.layers.Dense(5, activation="relu", kernel_initializer=init, bias_initializer=bias)
              for _ in range(8)]
    return keras.Sequential([keras.Input((2,)), *layers, keras.layers.Dense(2)])


@pytest.mark.parametrize("bound", [0.05, None], ids=["BROKEN uniform ±0.05", "He twin"])
def test_the_keras_stack_is_judged_alike(mlcheck, bound):
    x, y = (t.numpy() for t in _circles())
    try:
        mlcheck.overfit_one_batch(_keras_stack(bound), (x, y), loss_fn=kc.sparse_ce())
    except CheckFailed as failed:
        if bound is None:
            assert not {"vanishing_gradients", "no_input_signal", "class_collapse"} & set(failed.causes), str(failed)
        else:
            assert failed.causes[0] == "vanishing_gradients", str(failed)
        return
    assert bound is None, "the ±0.05 stack should not fit"
