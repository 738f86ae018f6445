"""philipperemy/n-beats (the PyTorch / Keras N-BEATS implementation), the first PyTorch version: ``trainer.py``
trains ``n_beats/model.py`` NBeatsNet (a trend stack and a seasonality stack, 3 blocks each, ``thetas_dims=[2, 8]``,
``hidden_layer_units=1024``, 4 ReLU ``Linear`` layers per block, trend / seasonality bases over
``np.linspace(-backcast_length, forecast_length, ...)``, doubly residual: each block's backcast is subtracted from
the input and its forecast added to the output) with ``optim.Adam(net.parameters())`` (lr 1e-3) and
``F.mse_loss(forecast, target)``, one fresh batch of 100 synthetic windows per step from ``data.py`` ``get_data(
batch_size, backcast_length=50, forecast_length=10, signal_type='seasonality', random=True)`` (two cosines plus a
random-slope trend and a random level, 60 points per window).

The fault (the input is scaled with the future it must forecast): ``get_x_y`` builds the whole 60-point window,
then ``x -= np.minimum(np.min(x), 0); x /= np.max(np.abs(x))`` over the WHOLE window, and only afterwards splits it
into ``x = x[:, :backcast_length]`` (input) and ``y = x[:, backcast_length:]`` (target). The shift and the divisor
therefore come from the 10 forecast points as well: whenever the window's maximum lies in the forecast, the
backcast is squeezed below 1 by exactly the factor the future peak sets, and the target's maximum is 1 -- the
network learns to read the future's level off the input's scale, something no real forecast can do (at forecast
time only the backcast exists, so only its own statistics can scale it). The author's fix, commit 162d318 "fix
forward leaking data" (PR #6, pointing to issue #5): split first, take ``min_x, max_x = np.minimum(np.min(x), 0),
np.max(np.abs(x))`` from the backcast only and apply them to both ``x`` and ``y``.

Source: github.com/philipperemy/n-beats at 162d318^ = 801cadd926527dadd64f89f60f15450be879da46 (``data.py``
get_data, ``n_beats/model.py``, ``trainer.py`` train / simple_fit); fix 162d318657c2ad8caad495e0b54696ac8e709431
"fix forward leaking data"
(merged as PR #6, f0e41255bdf39f6ce74f5974d335881e527eb3b3; the PR points to issue #5).
Fault label: target_leakage|preprocessing_mismatch (the model input is normalised with statistics of its own
targets; at forecast time the input can only be normalised with the backcast's statistics).

Program lines kept: ``get_x_y`` (signal, buggy whole-window scaling vs the fix's backcast-only scaling), the batch
generator (100 windows per step, backcast 50, forecast 10, seasonality signal, random=True), NBeatsNet with
``stack_types=[TREND_BLOCK, SEASONALITY_BLOCK]``, ``nb_blocks_per_stack=3``, ``thetas_dims=[2, 8]``,
``share_weights_in_stack=False``, the blocks' four ReLU Linear layers, ``share_thetas=True`` (one theta layer for
backcast and forecast), ``seasonality_model`` / ``trend_model`` / ``linspace`` as written (unnormalised t in
[-50, 10]), the residual forward, Adam(lr 1e-3), ``F.mse_loss(forecast, target)``; PyTorch default init.
Ported: ``hidden_layer_units`` 1024 -> 128 (six blocks of three 1024 x 1024 layers are ~19 M weights; at 128 one
step of batch 100 takes ~30 ms on one thread); the model returns only the forecast (``simple_fit`` uses only
the forecast in the loss; the backcast output is unused); the device argument, prints, checkpointing and plots
dropped; ``np.random`` global calls -> a seeded ``np.random.default_rng`` with the same distributions.
Keras twin: the same blocks as ``Dense`` layers in a functional model with the fixed bases as constant matmuls,
Glorot init (Keras default), ``Adam(1e-3)``, ``mse``.
The fault is in the numpy data pipeline, so it exists in both frameworks.
Data stand-in: none needed, the program's own synthetic generator (seeded). ``batch`` / ``batches``: the first 4
generator batches (100 x 50 inputs, 100 x 10 targets, float32); ``inputs``: 200 further windows' inputs;
``train_pipeline``: a raw 60-point window -> the model input as the program's training data makes it (buggy:
scaled with the whole window; fixed: with the backcast); ``eval_pipeline``: the same window -> the input a forecast
can be given (its backcast scaled with the backcast's own statistics, the fix's rule, in both versions);
``raw_samples``: 16 raw windows.

Measured (my own plain loops, /tmp/s43/h_b61b_nbeats/measure.py, OMP_NUM_THREADS=1, the module's builds; 600
steps on fresh seeded generator batches of 100; "own" = 1,000 held-out raw windows scaled by the version's own
get_x_y, "forecast" = the same raw windows with input AND target scaled by the backcast's statistics (the only
scaling a deployed forecaster can apply); MSE in those scaled units):
  data: with random=True the trend term (slope 0.1 * N(0, 1) over t in [-50, 10]) dominates, and the window
    maximum lies in the forecast for 49 % of windows; in those the buggy backcast's max is 0.66 on average (not
    1) and the target's max is exactly 1.0. On the 16 raw_samples the buggy train / eval pipelines differ by 0.20
    on average, up to 1.02 (fixed: 0).
  torch: loss at steps 0 / 100 / 300 / 600: buggy 0.83 / 1.4e-4 / 2e-5 / 2e-5, fixed 1.65 / 1.0e-3 / 3.3e-4 /
    6e-5 (both train, the buggy one faster and lower: the scale tells it the future's level). Held-out MSE: buggy
    own 1e-5 vs forecast 0.084 (~8,000x worse once the future is not there to scale the input); fixed own =
    forecast 5e-5.
  Keras: loss at steps 0 / 100 / 300 / 600: buggy 816 / 6.8e-4 / 1.3e-4 / 6e-5, fixed 1946 / 1.7e-3 / 2.2e-4 /
    1.5e-4 (Glorot init and the unnormalised trend basis give the large first losses); held-out MSE buggy own
    5e-5 vs forecast 3.1e-3 (60x), fixed own = forecast 1.1e-4.
  So the fault shows as an optimistic training / validation loss and a model that fails once its input is
    scaled the only way a forecast can be: a train / forecast preprocessing disagreement, not a training-curve
    failure (the training curves look better in the buggy version).
  Time per step (batch 100, one thread, two runs sharing a loaded 2-core machine): torch 61-74 ms, Keras
    ``train_on_batch`` 55-74 ms.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "target_leakage|preprocessing_mismatch"
SOURCE = ("github:philipperemy/n-beats data.py get_data.get_x_y 'x -= np.minimum(np.min(x), 0); "
          "x /= np.max(np.abs(x))' over the whole backcast+forecast window before 'y = x[:, backcast_length:]' "
          "@162d318^ = 801cadd926527dadd64f89f60f15450be879da46 (n_beats/model.py NBeatsNet, trainer.py "
          "simple_fit); fix "
          "162d318657c2ad8caad495e0b54696ac8e709431 'fix forward leaking data' (PR #6, issue #5): min/max from "
          "the backcast only, applied to x and y")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("preprocessing_parity", {})]

# trainer.py
forecast_length = 10
backcast_length = 5 * forecast_length
batch_size = 100
THETAS_DIMS = [2, 8]
NB_BLOCKS_PER_STACK = 3
LEARNING_RATE = 1e-3  # optim.Adam default
HIDDEN_UNITS = 128  # port: hidden_layer_units=1024 in the program
N_BATCHES = 4
N_INPUTS = 200
N_RAW = 16
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def _raw_window(r: np.random.Generator) -> np.ndarray:
    """data.py get_x_y up to the scaling, signal_type='seasonality', random=True (np.random -> r)."""
    lin_space = np.linspace(-backcast_length, forecast_length, backcast_length + forecast_length)
    offset = r.standard_normal() * 0.1
    x = np.cos(2 * r.integers(low=1, high=3) * np.pi * lin_space)
    x += np.cos(2 * r.integers(low=2, high=4) * np.pi * lin_space)
    x += lin_space * offset + r.random() * 0.1
    return x


def scale_window(window: np.ndarray, fixed: bool) -> tuple[np.ndarray, np.ndarray]:
    """The program's scaling and split of one raw window into (x, y)."""
    a = np.array(window, dtype=np.float64)
    if not fixed:  # buggy get_x_y: statistics of the whole window, forecast included
        a -= np.minimum(np.min(a), 0)
        a /= np.max(np.abs(a))
        x = np.expand_dims(a, axis=0)
        y = x[:, backcast_length:]
        x = x[:, :backcast_length]
        return x[0], y[0]
    # fix 162d318: split first, statistics of the backcast only
    x = a[:backcast_length]
    y = a[backcast_length:]
    min_x, max_x = np.minimum(np.min(x), 0), np.max(np.abs(x))
    x -= min_x
    y -= min_x
    x /= max_x
    y /= max_x
    return x, y


@functools.lru_cache(maxsize=2)
def _data(fixed: bool) -> dict[str, Any]:
    r = np.random.default_rng(SEED)
    n = N_BATCHES * batch_size + N_INPUTS
    raw = np.stack([_raw_window(r) for _ in range(n)])
    xs, ys = zip(*(scale_window(w, fixed) for w in raw))
    x, y = np.array(xs, dtype="float32"), np.array(ys, dtype="float32")
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, N_BATCHES * batch_size, batch_size)]

    def train_pipeline(window: np.ndarray) -> np.ndarray:
        return scale_window(window, fixed)[0].astype("float32")

    def eval_pipeline(window: np.ndarray) -> np.ndarray:
        # forecasting: only the backcast exists, so only its own statistics can scale it
        return scale_window(window, True)[0].astype("float32")

    return {"batches": batches, "inputs": x[-N_INPUTS:], "train_pipeline": train_pipeline,
            "eval_pipeline": eval_pipeline, "raw_samples": [w.astype("float32") for w in raw[-N_RAW:]]}


def linspace(backcast_length: int, forecast_length: int) -> tuple[np.ndarray, np.ndarray]:
    lin_space = np.linspace(-backcast_length, forecast_length, backcast_length + forecast_length)
    b_ls = lin_space[:backcast_length]
    f_ls = lin_space[backcast_length:]
    return b_ls, f_ls


def _seasonality_basis(p: int, t: np.ndarray) -> np.ndarray:
    p1, p2 = (p // 2, p // 2) if p % 2 == 0 else (p // 2, p // 2 + 1)
    s1 = np.array([np.cos(2 * np.pi * i * t) for i in range(p1)])
    s2 = np.array([np.sin(2 * np.pi * i * t) for i in range(p2)])
    return np.concatenate([s1, s2]).astype("float32")


def _trend_basis(p: int, t: np.ndarray) -> np.ndarray:
    return np.array([t ** i for i in range(p)]).astype("float32")


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn
    from torch.nn import functional as F

    def seasonality_model(thetas, t):
        p = thetas.size()[-1]
        assert p < 10, 'thetas_dim is too big.'
        return thetas.mm(torch.from_numpy(_seasonality_basis(p, t)))

    def trend_model(thetas, t):
        p = thetas.size()[-1]
        assert p <= 4, 'thetas_dim is too big.'
        return thetas.mm(torch.from_numpy(_trend_basis(p, t)))

    class Block(nn.Module):

        def __init__(self, units, thetas_dim, backcast_length=10, forecast_length=5, share_thetas=False):
            super().__init__()
            self.fc1 = nn.Linear(backcast_length, units)
            self.fc2 = nn.Linear(units, units)
            self.fc3 = nn.Linear(units, units)
            self.fc4 = nn.Linear(units, units)
            self.backcast_linspace, self.forecast_linspace = linspace(backcast_length, forecast_length)
            if share_thetas:
                self.theta_f_fc = self.theta_b_fc = nn.Linear(units, thetas_dim)
            else:
                self.theta_b_fc = nn.Linear(units, thetas_dim)
                self.theta_f_fc = nn.Linear(units, thetas_dim)

        def forward(self, x):
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            x = F.relu(self.fc3(x))
            x = F.relu(self.fc4(x))
            return x

    class SeasonalityBlock(Block):

        def __init__(self, units, thetas_dim, backcast_length=10, forecast_length=5):
            super().__init__(units, thetas_dim, backcast_length, forecast_length, share_thetas=True)

        def forward(self, x):
            x = super().forward(x)
            backcast = seasonality_model(self.theta_b_fc(x), self.backcast_linspace)
            forecast = seasonality_model(self.theta_f_fc(x), self.forecast_linspace)
            return backcast, forecast

    class TrendBlock(Block):

        def __init__(self, units, thetas_dim, backcast_length=10, forecast_length=5):
            super().__init__(units, thetas_dim, backcast_length, forecast_length, share_thetas=True)

        def forward(self, x):
            x = super().forward(x)
            backcast = trend_model(self.theta_b_fc(x), self.backcast_linspace)
            forecast = trend_model(self.theta_f_fc(x), self.forecast_linspace)
            return backcast, forecast

    class NBeatsNet(nn.Module):
        """n_beats/model.py NBeatsNet (stacks in an nn.ModuleList instead of python lists + ParameterList; the
        forward returns the forecast, the only output the training loss uses)."""

        def __init__(self, stack_blocks, nb_blocks_per_stack, forecast_length, backcast_length, thetas_dims,
                     hidden_layer_units):
            super().__init__()
            self.forecast_length = forecast_length
            self.stacks = nn.ModuleList(
                nn.ModuleList(block(hidden_layer_units, thetas_dims[i], backcast_length, forecast_length)
                              for _ in range(nb_blocks_per_stack))
                for i, block in enumerate(stack_blocks))

        def forward(self, backcast):
            forecast = torch.zeros(size=(backcast.size()[0], self.forecast_length,))
            for stack in self.stacks:
                for block in stack:
                    b, f = block(backcast)
                    backcast = backcast - b
                    forecast = forecast + f
            return forecast

    torch.manual_seed(SEED)
    net = NBeatsNet([TrendBlock, SeasonalityBlock], NB_BLOCKS_PER_STACK, forecast_length, backcast_length,
                    THETAS_DIMS, HIDDEN_UNITS)
    d = _data(fixed)
    t = torch.from_numpy
    batches = [(t(x), t(y)) for x, y in d["batches"]]
    return {"model": net, "batch": batches[0], "batches": batches, "inputs": t(d["inputs"]),
            "loss_fn": F.mse_loss, "optimizer": lambda params: torch.optim.Adam(params, lr=LEARNING_RATE),
            "train_pipeline": d["train_pipeline"], "eval_pipeline": d["eval_pipeline"],
            "raw_samples": d["raw_samples"]}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)
    b_ls, f_ls = linspace(backcast_length, forecast_length)
    inp = keras.Input(shape=(backcast_length,))
    backcast, forecast = inp, None
    for stack_type, p in zip(("trend", "seasonality"), THETAS_DIMS):
        basis = _trend_basis if stack_type == "trend" else _seasonality_basis
        b_basis, f_basis = ops.convert_to_tensor(basis(p, b_ls)), ops.convert_to_tensor(basis(p, f_ls))
        for _ in range(NB_BLOCKS_PER_STACK):
            h = backcast
            for _ in range(4):  # fc1..fc4 with ReLU
                h = layers.Dense(HIDDEN_UNITS, activation="relu")(h)
            theta = layers.Dense(p)(h)  # share_thetas=True: one theta layer for both
            b = ops.matmul(theta, b_basis)
            f = ops.matmul(theta, f_basis)
            backcast = backcast - b
            forecast = f if forecast is None else forecast + f
    model = keras.Model(inp, forecast)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE), loss="mse")
    d = _data(fixed)
    return {"model": model, "batch": d["batches"][0], "batches": d["batches"], "inputs": d["inputs"],
            "train_pipeline": d["train_pipeline"], "eval_pipeline": d["eval_pipeline"],
            "raw_samples": d["raw_samples"]}


buggy, fixed = versions(_torch, _keras)
