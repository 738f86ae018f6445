"""Value targets that are, sample by sample, one element of the sample's own inputs: a forecaster whose
window ``x[i:i+7]`` is paired with ``y[i+1]``, a close price inside the window (DeepLearningZeroToAll's
stock RNN before 8d8e120). The model fits by copying an input, so the loss says nothing; the training
checks fail naming `target_leakage`. Correct twins: the target after the window, and an autoencoder
(targets that are the whole input). Per-step targets of which most are inputs (a weather series shifted
into the past, Hvass-Labs' tutorial 23) leak only where the output reads them: a left-to-right model's
forecast of later steps is their correct twin."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed, MLCheck, diagnosis


def _series(n: int = 200) -> np.ndarray:
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(size=(n, 3)), axis=0)
    return ((walk - walk.min(0)) / (walk.max(0) - walk.min(0))).astype("float32")


def _windows(inside: bool, length: int = 7) -> tuple[np.ndarray, np.ndarray]:
    s = _series()
    x = np.stack([s[i:i + length] for i in range(64)])
    y = np.stack([s[i + (1 if inside else length), 2:3] for i in range(64)])  # the last column's next value
    return x, y


def _torch_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(21, 32), nn.Tanh(), nn.Linear(32, 1))


@pytest.mark.parametrize("check", ["overfit_one_batch", "loss_decreases"])
def test_a_target_inside_its_own_window_fails_with_target_leakage(mlcheck: MLCheck, check):
    x, y = (torch.tensor(a) for a in _windows(inside=True))
    call = getattr(mlcheck, check)
    with pytest.raises(CheckFailed) as failed:
        call(_torch_net(), (x, y) if check == "overfit_one_batch" else [(x, y)], loss_fn=nn.MSELoss())
    assert failed.value.causes == ["target_leakage"], str(failed.value)
    assert "the target equals the sample's own input at [1, 2]" in str(failed.value)


def test_the_target_after_the_window_and_an_autoencoder_pass(mlcheck: MLCheck):
    x, y = (torch.tensor(a) for a in _windows(inside=False))
    assert mlcheck.loss_decreases(_torch_net(), [(x, y)], loss_fn=nn.MSELoss()).passed
    torch.manual_seed(0)
    autoencoder = nn.Sequential(nn.Flatten(), nn.Linear(21, 8), nn.Tanh(), nn.Linear(8, 21), nn.Unflatten(1, (7, 3)))
    assert mlcheck.loss_decreases(autoencoder, [(x, x)], loss_fn=nn.MSELoss()).passed


def test_a_keras_forecaster_with_its_target_inside_the_window_fails_too(mlcheck: MLCheck):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((7, 3)), keras.layers.LSTM(8), keras.layers.Dense(1)])
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(1e-2))
    with pytest.raises(CheckFailed) as failed:
        mlcheck.loss_decreases(model, [_windows(inside=True)])
    assert failed.value.causes == ["target_leakage"], str(failed.value)


def test_the_rule_needs_varied_float_targets_that_match_in_every_sample():
    x, y = _windows(inside=True)
    assert diagnosis.targets_in_inputs(x, y)
    assert not diagnosis.targets_in_inputs(x, _windows(inside=False)[1])  # after the window
    tokens = np.random.default_rng(0).integers(0, 50, size=(32, 12))
    assert not diagnosis.targets_in_inputs(tokens, tokens[:, 3:5])  # ids in ids: teacher forcing's, not read
    assert not diagnosis.targets_in_inputs(x, np.full_like(y, 0.5))  # one value: no evidence of a copy
    off = y.copy()
    off[5] += 1e-3  # one sample that does not match
    assert not diagnosis.targets_in_inputs(x, off)
    assert not diagnosis.targets_in_inputs(x[:4], y[:4])  # too few samples to rule out chance


def _tabular(leaked: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Iris-like features with class ids 0..2; ``leaked``: the label column left among the features."""
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, size=64)
    x = (rng.normal(size=(64, 4)) + labels[:, None]).astype("float32")
    if leaked:
        x = np.concatenate([x, labels[:, None].astype("float32")], axis=1)
    else:
        x = np.concatenate([x, rng.normal(size=(64, 1)).astype("float32")], axis=1)
    return torch.tensor(x), torch.tensor(labels)


def test_a_label_column_left_among_the_features_fails_with_target_leakage(mlcheck: MLCheck):
    def net() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))

    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(net(), _tabular(leaked=True), loss_fn=nn.CrossEntropyLoss())
    assert failed.value.causes == ["target_leakage"], str(failed.value)
    assert "own input at [4]" in str(failed.value)
    assert mlcheck.overfit_one_batch(net(), _tabular(leaked=False), loss_fn=nn.CrossEntropyLoss()).passed


def _sequences(shift: int, length: int = 20, lag: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """Windows of a 3-signal series with a per-step target: signal 0 ``lag`` steps later (a forecast,
    ``shift=+1``) or earlier (``shift=-1``: Hvass-Labs' weather targets shifted into the past). Each
    window's steps past its edge take their target from outside it, as the program's did."""
    s = _series(400)
    starts = range(lag, lag + 32)
    x = np.stack([s[i:i + length] for i in starts])
    y = np.stack([s[i + shift * lag:i + shift * lag + length, :1] for i in starts])
    return x, y


class _Recurrent(nn.Module):
    """A GRU with an output per step; ``normalised``: each window first standardised by its own mean
    and spread (RevIN-style), which carries every input into every output."""

    def __init__(self, normalised: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.normalised = normalised
        self.gru = nn.GRU(3, 16, batch_first=True)
        self.head = nn.Linear(16, 1)

    def forward(self, x):
        if self.normalised:
            x = (x - x.mean(dim=1, keepdim=True)) / (x.std(dim=1, keepdim=True) + 1e-5)
        return self.head(self.gru(x)[0])


@pytest.mark.parametrize("shift,normalised,leaks", [(-1, False, True), (1, False, False), (1, True, False)],
                         ids=["targets in the past", "a forecast (correct)", "a forecast, windows normalised"])
def test_per_step_targets_copied_from_inputs_leak_only_where_the_output_reads_them(shift, normalised, leaks):
    """Most targets are an input element in both the past-shifted and the forecast windows (16 of 20
    steps); only where the output at a target's step reads that input, and other outputs do not, is
    the answer in view: a left-to-right GRU reads the past, not the future. A window normalised by
    its own statistics moves every output with any input: no positional read, no leak (a model that
    reads the whole window both ways is missed by this look for the same reason)."""
    x, y = _sequences(shift)
    model = _Recurrent(normalised).eval()

    def predict(inputs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return model(torch.from_numpy(np.ascontiguousarray(inputs))).numpy()
    found = diagnosis.targets_read_from_inputs(x, y, predict)
    assert [c for c, _ in found] == (["target_leakage"] if leaks else []), found
    assert not diagnosis.targets_in_inputs(x, y)  # not every target is an input: the window's edge


def test_targets_that_are_the_inputs_at_their_own_place_are_no_leak():
    """An imputer: the targets are the whole series, the inputs the series with its last 8 steps
    masked out plus a mask channel; the observed steps' targets are their own inputs, read there by
    design (an inpainter's known pixels alike)."""
    s = _series(400)[:, :1]
    windows = np.stack([s[i:i + 32] for i in range(32)])
    mask = np.ones_like(windows)
    mask[:, 24:] = 0
    x = np.concatenate([windows * mask, mask], axis=2).astype("float32")
    torch.manual_seed(0)
    gru = nn.GRU(2, 8, batch_first=True, bidirectional=True)
    head = nn.Linear(16, 1)

    def predict(inputs: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return head(gru(torch.from_numpy(np.ascontiguousarray(inputs)))[0]).numpy()
    assert not diagnosis.targets_read_from_inputs(x, windows, predict)
    late = np.concatenate([windows[:, 4:], windows[:, :4]], axis=1)  # targets 4 steps later: elsewhere
    assert [c for c, _ in diagnosis.targets_read_from_inputs(x, late, predict)] == ["target_leakage"]


@pytest.mark.parametrize("check", ["overfit_one_batch", "loss_decreases"])
def test_a_recurrent_model_trained_on_targets_shifted_into_the_past_fails(mlcheck: MLCheck, check):
    x, y = (torch.tensor(a) for a in _sequences(-1))
    call = getattr(mlcheck, check)
    with pytest.raises(CheckFailed) as failed:
        call(_Recurrent(), (x, y) if check == "overfit_one_batch" else [(x, y)], loss_fn=nn.MSELoss(),
             optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert failed.value.causes == ["target_leakage"], str(failed.value)
    assert "16 of 20 targets read are, in all 32 samples, an element of the sample's own inputs" in str(failed.value)


def test_the_forecast_twin_passes(mlcheck: MLCheck):
    x, y = (torch.tensor(a) for a in _sequences(1))
    assert mlcheck.loss_decreases(_Recurrent(), [(x, y)], loss_fn=nn.MSELoss(),
                                  optimizer=lambda p: torch.optim.Adam(p, lr=1e-2)).passed


def test_a_keras_recurrent_model_on_targets_in_the_past_fails_and_its_forecast_twin_passes(mlcheck: MLCheck):
    def model() -> keras.Model:
        keras.utils.set_random_seed(0)
        net = keras.Sequential([keras.Input((20, 3)), keras.layers.GRU(16, return_sequences=True),
                                keras.layers.Dense(1)])
        net.compile(loss="mse", optimizer=keras.optimizers.Adam(1e-2))
        return net
    with pytest.raises(CheckFailed) as failed:
        mlcheck.loss_decreases(model(), [_sequences(-1)])
    assert failed.value.causes == ["target_leakage"], str(failed.value)
    assert mlcheck.loss_decreases(model(), [_sequences(1)]).passed


def _past_reader(lag: int, axis: int):
    """A numpy model whose output at each place along ``axis`` is the first input channel ``lag``
    places back along it (zero before), in the targets' layout: it reads the past, not the future."""
    def predict(inputs: np.ndarray) -> np.ndarray:
        first = inputs[..., 0].astype(np.float64)
        out = np.zeros_like(first)
        src = [slice(None)] * first.ndim
        dst = [slice(None)] * first.ndim
        src[axis], dst[axis] = slice(0, first.shape[axis] - lag), slice(lag, None)
        out[tuple(dst)] = first[tuple(src)]
        return out
    return predict


@pytest.mark.parametrize("layout", ["per-step targets (N, T)", "masks (N, H, W) of images (N, H, W, C)"])
def test_targets_shifted_into_the_past_leak_in_any_target_layout(layout):
    """Targets without a feature axis of their own: a head squeezed to (N, T), a mask (N, H, W) whose
    pixels are image pixels 3 columns to the left."""
    rng = np.random.default_rng(0)
    if layout.startswith("per-step"):
        x = rng.normal(size=(16, 20, 3)).astype("float32")
        y = np.concatenate([rng.normal(size=(16, 4)), x[:, :16, 0]], axis=1).astype("float32")
        predict = _past_reader(4, axis=1)
    else:
        x = rng.normal(size=(16, 8, 12, 3)).astype("float32")
        y = np.concatenate([rng.normal(size=(16, 8, 3)), x[:, :, :9, 0]], axis=2).astype("float32")
        predict = _past_reader(3, axis=2)
    assert [c for c, _ in diagnosis.targets_read_from_inputs(x, y, predict)] == ["target_leakage"]


def test_held_values_are_their_own_place_and_no_leak():
    """Hourly readings held over six steps (a forward fill): a target equals the inputs beside it too,
    but it is the input at its own place, which an imputer reads by design."""
    rng = np.random.default_rng(0)
    hourly = rng.normal(size=(16, 8))
    series = np.repeat(hourly, 6, axis=1)[..., None].astype("float32")  # (16, 48, 1)
    mask = np.ones_like(series)
    mask[:, 36:] = 0
    x = np.concatenate([series * mask, mask], axis=2)

    def local(inputs: np.ndarray) -> np.ndarray:  # a 3-tap smoother: each output reads its neighbours
        v = inputs[..., :1].astype(np.float64)
        padded = np.pad(v, ((0, 0), (1, 1), (0, 0)), mode="edge")
        return (padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]) / 3
    assert not diagnosis.targets_read_from_inputs(x, series, local)
