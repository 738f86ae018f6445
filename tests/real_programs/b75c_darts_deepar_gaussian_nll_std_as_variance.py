"""unit8co/darts (time-series forecasting library), ``examples/08-DeepAR-examples.ipynb`` "Probabilistic RNN"
(a DeepAR-like model), first example, "Variable noise series": a toy target made of a sine wave
(``tg.sine_timeseries(length=400, value_frequency=0.05, value_amplitude=1.0)``) plus Gaussian noise
(``tg.gaussian_timeseries(length=400, std=0.6)``) whose intensity is modulated by a slower sine, ``noise_modulator =
(tg.sine_timeseries(length=400, value_frequency=0.02) + 1) / 2``, which is also given to the model as a future
covariate; ``target_series.split_after(0.65)`` for training. The model: ``RNNModel(model="LSTM", hidden_dim=20,
dropout=0, batch_size=16, n_epochs=50, optimizer_kwargs={"lr": 1e-3}, random_state=0, training_length=50,
input_chunk_length=20, likelihood=GaussianLikelihood())`` fitted with ``future_covariates=covariates``; the notebook
then samples 50 forecasts and says "the RNN correctly expresses more uncertainty in its predictions when the noise
component is higher". ``_RNNModule`` is ``nn.LSTM(input_size, hidden_dim, num_layers, batch_first=True)`` ->
``nn.Linear(hidden_dim, target_size * nr_params)`` on every time step, viewed as ``(batch, time, target_size,
nr_params)``; for training, ``DualCovariatesShiftedDataset(length=training_length, shift=1)`` gives windows of 50
past targets concatenated with the covariate one step ahead, and the targets one step ahead. The optimiser is
darts' default ``torch.optim.Adam`` (lr 1e-3).

The fault (the loss reads the model's standard deviation as a variance): ``GaussianLikelihood`` turns the second
output channel into ``sigma = softplus(out[..., 1])``, documented and used as the standard deviation
(``_distr_from_params``: ``Normal(mu, sigma)``, ``sample``: ``torch.normal(mu, sigma)``), but its training loss
``_nllloss`` hands that sigma to ``nn.GaussianNLLLoss(reduction="mean", full=True)`` whose third argument is the
VARIANCE. Minimising that NLL drives the output to the noise variance, not its standard deviation: wherever the
noise std is below 1 the sampled forecasts are far too narrow (std 0.6 -> 0.36, std 0.05 -> 0.0025), so the
prediction intervals the example plots are overconfident. Fixed in darts PR #1162 ("Feat/beta nll"; the PR text:
"Corrects a bug in ``GaussianLikelihood``, where we were using the standard dev instead of the variance"), commit
message "correct an issue with Normal loss computation": ``# Note: GaussianNLLLoss expects variance (and not
stdev)``, ``cont_var = sigmas_out.contiguous() ** 2`` passed instead.

Source: github.com/unit8co/darts ``darts/utils/likelihood_models.py`` GaussianLikelihood._nllloss at
46af29ec9d17399ba1bcfc604125db95cdf9602d^ (with ``darts/models/forecasting/rnn_model.py`` and
``examples/08-DeepAR-examples.ipynb`` at the same commit); fix 46af29ec9d17399ba1bcfc604125db95cdf9602d (PR #1162,
addressing issue #972). Fault label: loss_mismatch (the NLL's variance argument receives the model's std output).

Program lines kept: the toy data recipe above (length 400, sine freq 0.05 amplitude 1, noise std 0.6 times the
freq-0.02 modulator in [0, 1], covariate = modulator, 65 % for training); ``_RNNModule`` (one LSTM layer of 20 units,
batch_first, dropout 0, Linear(20, 1 * 2) per step, the view to (batch, time, 1, 2)); the shifted training windows
(input = [target[i:i+50], covariate[i+1:i+51]], target = target[i+1:i+51]); GaussianLikelihood's
``mu = out[..., 0]``, ``sigma = Softplus()(out[..., 1])`` and ``nn.GaussianNLLLoss(reduction="mean", full=True)``
called with ``sigma`` (buggy) / ``sigma ** 2`` (fixed); Adam(lr=1e-3), batch 16.
Ported: no darts / PyTorch Lightning: the module, the dataset windows and the loss are written out, the loss as
``loss_fn(out, y)`` on the model's (batch, 50, 1, 2) output. ``tg.gaussian_timeseries`` is replaced by a seeded
``np.random.RandomState(0).normal(0, 0.6, 400)`` draw; float32 instead of the series' float64; 261 training points
(the first 65 %), 211 windows. Keras twin: ``LSTM(20, return_sequences=True)`` (Keras default init) ->
``Dense(2)`` on each step, output (batch, 50, 2); a loss computing ``nn.GaussianNLLLoss(full=True)`` as torch does
(``0.5 * (log(max(var, 1e-6)) + (y - mu) ** 2 / max(var, 1e-6)) + 0.5 * log(2 pi)``, the clamp without gradient,
batch mean) on ``mu = y_pred[..., 0]`` and ``var = softplus(y_pred[..., 1])`` (buggy) / its square (fixed);
compiled with Adam(1e-3). Passing a std where a Gaussian NLL wants a variance is framework-independent.
Data stand-in: the program's own synthetic series (no download in the example). ``batches``: the first 8 shuffled
training batches of 16 windows (what one epoch's DataLoader yields); ``batch``: the first; ``baseline_batch``: 64
training windows; ``inputs``: the 139 windows ending in the last 35 % (validation).

Measured (my own plain loops, /tmp/s48/h75_c/measure.py and measure_keras.py, OMP_NUM_THREADS=1; 50 epochs of the
211 windows in shuffled batches of 16, 700 Adam steps; evaluated at the last step of the 139 validation windows,
whose true noise std is 0.6 * modulator):
  torch (measure.py: the same network, windows and loss written out), epoch-mean training loss after epochs
    1 / 5 / 10 / 20 / 30 / 50: buggy 1.179 / 1.001 / 0.464 / 0.250 /
    -0.026 / -0.171; fixed 1.189 / 1.034 / 0.446 / 0.021 / -0.126 / -0.180 (both train smoothly; the loss curve does
    not reveal the fault). Validation MSE of the mean: buggy 0.111, fixed 0.107 (noise variance 0.128).
    Predicted sigma where the true noise std is > 0.45 (mean 0.554): buggy 0.294 (= 0.554 ** 2 = 0.307, the
    variance), fixed 0.555; where it is < 0.15 (mean 0.048): buggy 0.003, fixed 0.039. Coverage of the 90 %
    interval mu +- 1.645 sigma: buggy 0.33, fixed 0.72; Gaussian NLL with sigma read as the std (as sampled):
    buggy 287.7, fixed 0.89. Correlation of sigma with the true std: buggy 0.86, fixed 0.96.
  Keras (``train_on_batch``, the module's builds, same schedule): epoch-mean loss after epochs 1 / 5 / 10 / 20 / 30 /
    50: buggy 1.089 / 0.660 / 0.435 / 0.223 / -0.021 / -0.113; fixed 1.073 / 0.644 / 0.342 / -0.010 / -0.065 / -0.125.
    Validation MSE buggy 0.110, fixed 0.111; sigma where the true std is > 0.45 (0.554): buggy 0.309, fixed 0.550;
    where < 0.15 (0.048): buggy 0.003, fixed 0.042; 90 % coverage buggy 0.41, fixed 0.72; NLL with sigma as std
    buggy 361.3, fixed 0.49; correlation with the true std buggy 0.87, fixed 0.95.
  So the fault shows as miscalibrated uncertainty (sigma learns the variance: intervals far too narrow), not in the
  training loss or the point forecast.
  Time per step (batch 16, one thread): torch ~1.6 ms, Keras ~6 ms; builds well under a second after imports.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "loss_mismatch"
SOURCE = ("github:unit8co/darts PR #1162, issue #972 (darts/utils/likelihood_models.py GaussianLikelihood._nllloss "
          "@46af29ec9d17399ba1bcfc604125db95cdf9602d^; examples/08-DeepAR-examples.ipynb 'Variable noise series', "
          "darts/models/forecasting/rnn_model.py; fix 46af29ec9d17399ba1bcfc604125db95cdf9602d 'cont_var = "
          "sigmas_out ** 2')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("input_independent_baseline", {})]

# examples/08-DeepAR-examples.ipynb
LENGTH = 400
TRAIN_FRACTION = 0.65
HIDDEN_DIM = 20
BATCH_SIZE = 16
LR = 1e-3
TRAINING_LENGTH = 50
NR_PARAMS = 2  # GaussianLikelihood: mu, sigma
N_BATCHES = 8
N_BASELINE = 64
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, ...]:
    t = np.arange(LENGTH)
    season1 = np.sin(2 * np.pi * 0.05 * t)  # tg.sine_timeseries(length, value_frequency=0.05, value_amplitude=1.0)
    noise = np.random.RandomState(SEED).normal(0.0, 0.6, LENGTH)  # tg.gaussian_timeseries(length, std=0.6)
    noise_modulator = (np.sin(2 * np.pi * 0.02 * t) + 1.0) / 2.0
    target = (noise * noise_modulator + season1).astype("float32")  # sum([noise, season1])
    covariates = noise_modulator.astype("float32")
    n_train = int(TRAIN_FRACTION * LENGTH) + 1  # split_after(0.65)

    def windows(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        # DualCovariatesShiftedDataset(length=50, shift=1); the RNN input is cat([past_target, future_covariates])
        xs, ys = [], []
        for i in range(lo, hi - TRAINING_LENGTH):
            xs.append(np.stack([target[i:i + TRAINING_LENGTH], covariates[i + 1:i + TRAINING_LENGTH + 1]], -1))
            ys.append(target[i + 1:i + TRAINING_LENGTH + 1, None])
        return np.array(xs, dtype="float32"), np.array(ys, dtype="float32")

    x_train, y_train = windows(0, n_train)
    x_val, _ = windows(n_train - TRAINING_LENGTH, LENGTH)
    perm = np.random.RandomState(SEED).permutation(len(x_train))  # DataLoader(shuffle=True)
    return x_train, y_train, x_val, perm


def _batches() -> tuple[list[tuple[np.ndarray, np.ndarray]], tuple[np.ndarray, np.ndarray], np.ndarray]:
    x_train, y_train, x_val, perm = _data()
    out = []
    for b in range(N_BATCHES):
        ix = perm[b * BATCH_SIZE:(b + 1) * BATCH_SIZE]
        out.append((x_train[ix], y_train[ix]))
    base = perm[:N_BASELINE]
    return out, (x_train[base], y_train[base]), x_val


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    class _RNNModule(nn.Module):  # darts/models/forecasting/rnn_model.py
        def __init__(self, name: str, input_size: int, hidden_dim: int, num_layers: int, target_size: int,
                     nr_params: int, dropout: float = 0.0) -> None:
            super().__init__()
            self.target_size = target_size
            self.nr_params = nr_params
            self.rnn = getattr(nn, name)(input_size, hidden_dim, num_layers, batch_first=True, dropout=dropout)
            self.V = nn.Linear(hidden_dim, target_size * nr_params)

        def forward(self, x):
            batch_size = x.shape[0]
            out, _last_hidden_state = self.rnn(x)
            predictions = self.V(out)
            return predictions.view(batch_size, -1, self.target_size, self.nr_params)

    torch.manual_seed(SEED)
    model = _RNNModule("LSTM", 2, HIDDEN_DIM, 1, 1, NR_PARAMS, dropout=0)
    nllloss = nn.GaussianNLLLoss(reduction="mean", full=True)
    softplus = nn.Softplus()

    def loss_fn(model_output, target):  # GaussianLikelihood.compute_loss -> _params_from_output -> _nllloss
        means_out = model_output[:, :, :, 0]
        sigmas_out = softplus(model_output[:, :, :, 1])
        if fixed:  # fix 46af29e: GaussianNLLLoss expects variance (and not stdev)
            return nllloss(means_out.contiguous(), target.contiguous(), sigmas_out.contiguous() ** 2)
        return nllloss(means_out.contiguous(), target.contiguous(), sigmas_out.contiguous())

    batches, baseline, x_val = _batches()
    t = torch.from_numpy
    tb = [(t(x), t(y)) for x, y in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": t(x_val), "loss_fn": loss_fn,
            "optimizer": torch.optim.Adam(model.parameters(), lr=LR),
            "baseline_batch": (t(baseline[0]), t(baseline[1]))}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)
    inp = keras.Input((TRAINING_LENGTH, 2))
    h = layers.LSTM(HIDDEN_DIM, return_sequences=True)(inp)
    model = keras.Model(inp, layers.Dense(NR_PARAMS)(h), name="RNNModel")

    def gaussian_nll(y_true, y_pred):  # nn.GaussianNLLLoss(reduction="mean", full=True, eps=1e-6)
        mu = y_pred[..., 0]
        sigma = ops.softplus(y_pred[..., 1])
        var = sigma ** 2 if fixed else sigma  # buggy: the std handed over as the variance
        var = var + ops.stop_gradient(ops.maximum(var, 1e-6) - var)  # clamp without gradient, as torch
        y = y_true[..., 0]
        loss = 0.5 * (ops.log(var) + ops.square(y - mu) / var) + 0.5 * np.log(2 * np.pi)
        return ops.mean(loss)

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LR), loss=gaussian_nll)
    batches, baseline, x_val = _batches()
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x_val, "baseline_batch": baseline}


buggy, fixed = versions(_torch, _keras)
