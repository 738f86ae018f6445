"""Outputs that ignore the inputs, seen where the data's own invariants hide it (keras-io's FordA
transformer pooling over the time axis of series each normalised to mean 0: noise added to a series
moves that mean, another series of the batch does not), and the correct look-alikes that must not
be put down to it (batch norms whose initial statistics shrink the eval-mode signal at init)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import keras_corpus as kc
from pytest_mlcheck import CheckFailed
from pytest_mlcheck.diagnosis import input_dependence, unmoved


def test_class_scores_that_move_by_rounding_of_a_nat_are_unmoved_however_small_they_are():
    """Logits all within 3e-9 of 0 that move by 1e-9 give every sample the same probabilities:
    unmoved as class scores, moved as values (a regression head may sit at that scale)."""
    base = np.zeros((8, 2))
    base[:, 0] = np.linspace(-3e-9, 0, 8)
    after = base.copy()
    after[[0, 4]] += 1e-9
    assert unmoved(1e-9, base, scores=True) and not unmoved(1e-9, base)
    assert [c for c, _ in input_dependence(base, after, [0, 4], scores=True)] == ["no_input_signal"]
    assert not input_dependence(base, after, [0, 4])
    # scores of ordinary size keep the relative reading: a move of 1e-3 on logits of 2 is a move
    moved = base + 2.0
    moved[[0, 4]] += 1e-3
    assert not input_dependence(base + 2.0, moved, [0, 4], scores=True)


def test_probabilities_are_read_against_each_probability_not_a_whole_one():
    """A 500-way softmax at init holds about 0.002 a class; a faded but live input signal moves it by
    2.8e-7 (b97f's four LSTMs), 1.4e-4 of each probability: a move, in nats. A probability that does not
    move at all, or by float32's share of itself, stays unmoved."""
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 1e-2, size=(8, 500))
    base = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    after = base.copy()
    after[[0, 4]] *= 1 + 1.4e-4 * rng.choice([-1, 1], size=(2, 500))
    assert np.abs(after - base).max() < 1e-6  # under a millionth of a whole probability
    assert not input_dependence(base, after, [0, 4], scores=True)
    rounded = base.copy()
    rounded[[0, 4]] *= 1 + 6e-8
    assert [c for c, _ in input_dependence(base, rounded, [0, 4], scores=True)] == ["no_input_signal"]
    assert [c for c, _ in input_dependence(base, base.copy(), [0, 4], scores=True)] == ["no_input_signal"]


def _series(n: int = 64, steps: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """FordA-like series: an AR(1) walk, a sine added to class 1, each series z-normalised (as the
    UCR archive ships them), shape (N, steps, 1)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    x = np.zeros((n, steps))
    eps = rng.standard_normal((n, steps))
    x[:, 0] = eps[:, 0]
    for t in range(1, steps):
        x[:, t] = 0.6 * x[:, t - 1] + eps[:, t]
    x += 1.5 * y[:, None] * np.sin(2 * np.pi * 3 * np.arange(steps) / steps)
    x = (x - x.mean(1, keepdims=True)) / x.std(1, keepdims=True)
    return x[..., None].astype(np.float32), y.astype(np.int64)


class Pooled(nn.Module):
    """A per-step encoder, a mean over one axis of its (N, steps, 1) output, and a dense head: over
    the time axis (the fault) the head gets each series' mean, 0 by the normalisation; over the
    feature axis it gets the series."""

    def __init__(self, over_time: bool, steps: int = 32) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.over_time = over_time
        self.step = nn.Linear(1, 1)
        self.head = nn.Sequential(nn.Linear(1 if over_time else steps, 32), nn.ReLU(), nn.Linear(32, 2))

    def forward(self, x):
        h = self.step(x)  # (N, steps, 1): an affine map of each step keeps the series' mean at the bias
        return self.head(h.mean(dim=1) if self.over_time else h.mean(dim=2))


@pytest.mark.parametrize("over_time", [True, False], ids=["BROKEN pooled over time", "pooled over features"])
def test_pooling_away_what_every_series_shares_is_outputs_that_ignore_the_inputs(mlcheck, over_time):
    x, y = (torch.tensor(a) for a in _series())
    run = lambda: mlcheck.overfit_one_batch(Pooled(over_time), (x, y), loss_fn=nn.CrossEntropyLoss(),  # noqa: E731
                                            optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    if not over_time:
        assert run().passed
        return
    with pytest.raises(CheckFailed) as failed:
        run()
    assert failed.value.causes[0] == "no_input_signal", str(failed.value)
    assert "the outputs ignore the inputs" in str(failed.value)


def _keras_pooled(over_time: bool):
    import keras
    from keras import layers
    keras.utils.set_random_seed(0)
    inp = keras.Input((32, 1))
    h = layers.Dense(1)(inp)
    h = layers.GlobalAveragePooling1D(data_format="channels_last" if over_time else "channels_first")(h)
    h = layers.Dense(32, activation="relu")(h)
    return keras.Model(inp, layers.Dense(2)(h))


@pytest.mark.parametrize("over_time", [True, False], ids=["BROKEN pooled over time", "pooled over features"])
def test_the_keras_pooling_is_judged_alike(mlcheck, over_time):
    import keras
    x, y = _series()
    model = _keras_pooled(over_time)
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=kc.sparse_ce())
    if not over_time:
        assert mlcheck.overfit_one_batch(model, (x, y)).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, (x, y))
    assert failed.value.causes[0] == "no_input_signal", str(failed.value)


class SmallInitNormed(nn.Module):
    """Six Linear layers drawn N(0, 0.01²) each followed by a BatchNorm1d and ReLU: at init, in eval
    mode, the norms' initial statistics (mean 0, variance 1) let the signal shrink ×0.08 a layer to
    1e-7 of itself; training normalises by the batch and reads the inputs."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        blocks: list[nn.Module] = []
        width = 64
        for _ in range(6):
            layer = nn.Linear(64, width)
            nn.init.normal_(layer.weight, 0.0, 0.01)
            nn.init.zeros_(layer.bias)
            blocks += [layer, nn.BatchNorm1d(width), nn.ReLU()]
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(width, 10)
        nn.init.normal_(self.head.weight, 0.0, 0.01)
        nn.init.zeros_(self.head.bias)

    def forward(self, x):
        return self.head(self.body(x.flatten(1)))


def test_batch_norms_at_their_initial_statistics_are_not_outputs_that_ignore_the_inputs(mlcheck, monkeypatch):
    """A correct network trained at a rate far too low: the eval-mode look reads it with its norms'
    statistics set to the batch's, as training normalises, so it names the rate, not a collapse.
    Without that (the look at the initial statistics) the same failure was put down to the inputs."""
    import torch_corpus as tc

    batch = tc.digits_batch(32)
    call = lambda: mlcheck.overfit_one_batch(SmallInitNormed(), batch, loss_fn=nn.CrossEntropyLoss(),  # noqa: E731
                                             optimizer=lambda p: torch.optim.SGD(p, lr=1e-6))
    with pytest.raises(CheckFailed) as failed:
        call()
    assert not {"no_input_signal", "class_collapse", "vanishing_gradients"} & set(failed.value.causes), str(failed.value)
    assert failed.value.causes[0] == "lr_too_low", str(failed.value)

    from pytest_mlcheck.backends.torch_backend import TorchSession
    monkeypatch.setattr(TorchSession, "recalibrate", lambda self, batch: False)
    with pytest.raises(CheckFailed) as failed:
        call()
    assert failed.value.causes[0] in ("no_input_signal", "vanishing_gradients"), str(failed.value)
