"""nasa/prog_models (NASA's Prognostics Python Package), ``LSTMStateTransitionModel.from_data``
(``src/prog_models/data_models/lstm_model.py``) with ``examples/lstm_model.py`` "Example 2 - variable timestep": a
Keras LSTM surrogate of the ``ThrownObject`` physics model (an object thrown up at 40 m/s from 1.83 m, Euler steps
with quadratic drag, until impact). Training data: five simulations at dt = 0.01, 0.005, 0.0025, 0.02 and 0.04 s, the
input of each step is the time step ``dt``, the output the height ``x``. ``pre_process_data`` cuts each run into
windows of ``window=4`` steps; the state-transition model is meant to map ``[u_t-3, z_t-4, ..., u_t, z_t-1]`` to
``z_t`` (the class docstring: "maps from [u_t-n+1, z_t-n, ..., u_t, z_t-1] to z_t"; at simulation time the state holds
the inputs and the *previous* outputs). ``from_data`` then builds ``Input(window, 2) -> Normalization(mean, variance
from the data) -> LSTM(16, tanh) -> Dropout(0.1) -> Dense(1, name='output')``, ``compile(optimizer="rmsprop",
loss="mse")`` and ``fit(u_all, [z_all], epochs=30, validation_split=0.25)`` (batch size 32, Keras' default; targets
standardised with their own mean / std).

The fault (target leakage in the windowing): at the buggy commit the "past outputs" appended to the window are not the
past outputs at all::

    u_i = [[[u[i+j][k] for k in range(n_inputs)] for j in range(1,window+1)] for i in range(len(u)-window-1)]
    z_i = [[z[i][k] for k in range(n_outputs)] for i in range(window+1, len(z))]
    # Also add to input (past outputs are part of input)
    ...
    for k in range(len(z_i)):
        for j in range(window):
            u_i[k][j].extend(z_i[k])

so every one of the 4 time steps of window ``k`` carries ``z_i[k]`` - the very output the window is trained to
predict (and the window of inputs u[k+1..k+4] ends one step before the target's time k+5; the last sample of each run
is dropped). The LSTM learns to copy that feature: the training loss falls to almost nothing, while the model never
learns the dynamics it is used for (at simulation time that feature holds the real previous heights z_t-4..z_t-1).
Maintainer (PR #409 "A few LSTM Bugfixes"): "The LSTM model was performing poorly, resulting in poor test
performance ... 2. LSTM preprocessing wasn't calculating the output window correctly (z_ii) for appending to u."

Source: github.com/nasa/prog_models PR #409 (merge ef4866749ba08ec9b2e8d58079f092c36a6f9ea4, branch bug/lstm_error),
``src/prog_models/data_models/lstm_model.py`` @aa7157bd5932fcf8a2f92a207b937839656bc8c5 (= ef486674^1, buggy
``pre_process_data`` and ``from_data``), ``examples/lstm_model.py`` and ``src/prog_models/models/thrown_object.py``
at the same commit. The fix builds ``z_ii = [[z[i+j] for j in range(window)] for i in range(len(z_i))]`` and extends
step ``j`` of window ``k`` with ``z_ii[k][j]`` (= z[k+j], the previous outputs), windows of u over
``range(len(u)-window)`` and targets ``z[i] for i in range(window, len(z))``; it also raised the default epochs from 2
to 100 (the example passes ``epochs=30`` either way, not part of the fault).
Fault label: target_leakage (the window's inputs contain the target they are trained to predict).

Program lines kept: the ThrownObject equations and parameters (thrower_height 1.83, throwing_speed 40, g -9.81, drag
0.5 rho cd A / m with rho 1.225, cd 0.007, A 0.05, m 0.145; next_x = x + v dt, next_v = v + (g - drag v^2 sign v) dt;
impact when x <= 0), the five training runs of example 2 (inputs ``[[dt]]`` per saved point, outputs x),
``pre_process_data`` (buggy / fixed lines as quoted), the normalisation of ``from_data`` (input mean / std from the
first window step's inputs, output mean / std appended for the z feature; ``z_all`` standardised), the model (window
4, LSTM(16, 'tanh'), Dropout(0.1), Dense(1)), ``rmsprop`` (Keras defaults: lr 1e-3, rho 0.9) and ``mse``, batch size
32, ``validation_split=0.25`` (the last quarter of the concatenated windows held out, the rest shuffled each epoch).
Ported: Keras 2 / tf.keras -> Keras 3 (``layers.Normalization(mean=..., variance=...)`` unchanged); no sizes shrunk
(6 008 buggy / 6 013 fixed windows of 4 steps; a step takes a few ms). The ModelCheckpoint / EarlyStopping callbacks
and the ``simulate_to`` machinery are left out (the measurement below uses the windows the simulation feeds). The
torch twin is the same network (fixed-statistics normalisation, ``nn.LSTM(2, 16, batch_first=True)`` read at the
last step with Keras' init: glorot-uniform input kernel, orthogonal recurrent kernel, zero biases with forget-gate
bias 1, ``Dropout(0.1)``, ``Linear(16, 1)`` glorot-uniform / zero bias), ``nn.MSELoss()``, ``RMSprop(lr=1e-3,
alpha=0.9, eps=1e-7)``; the fault is in the numpy windowing, so it exists identically in both frameworks.
Data stand-in: none needed - the program generates its data with the ThrownObject model, re-implemented here in
numpy (deterministic; 779 / 1 556 / 3 110 / 391 / 197 points per run, impact after 7.8 s).
``batches``: 4 shuffled batches of 32 from the training 75 %; ``batch``: the first; ``inputs``: 256 windows of the
held-out quarter as the program builds them (buggy: with the leaked target; fixed: with the previous outputs);
``baseline_batch``: 128 training windows. Targets are (n, 1) standardised heights.

Measured (my own plain loops, /tmp/s48/h69_a/measure.py, OMP_NUM_THREADS=1, the module's builds and data; 30
epochs (the example's ``epochs=30``) over the training 75 % in shuffled batches of 32, 140 steps an epoch, 4 200 steps;
torch: manual step in train mode; Keras: ``train_on_batch``; then, in eval mode, the windows a ``simulate_to`` at an
unseen dt = 0.03 s feeds the net (example 2, step 4: dt and the true previous heights) and the training runs' true
windows ``[dt, z_t-4 .. z_t-1] -> z_t``; heights denormalised to metres):
  the leak itself: on the buggy windows "copy the z feature of step 1 (or 4)" has MSE 0.000000 against the
    standardised target (the answer is in every step of the input); on the fixed windows copying z_t-1 gives 0.000098
    (z_t-4: 0.0016). Predicting 0 gives 1.0 in both.
  torch: steps 1-4 losses buggy 0.599 / 0.783 / 0.681 / 0.847, fixed 0.705 / 0.749 / 0.527 / 0.966; epoch-mean train
    MSE after epochs 1 / 2 / 3 / 10 / 30: buggy 0.157 / 0.013 / 0.0096 / 0.0071 / 0.0068, fixed 0.153 / 0.013 / 0.011 /
    0.0079 / 0.0071; held-out quarter (own windows) MSE buggy 0.0064, fixed 0.0098. Deployment at dt = 0.03: RMSE
    buggy 2.82 m, fixed 3.40 m (persistence z_t-1: 0.65 m; heights span 0..~80 m, std 21.8 m); true windows of the
    training runs: buggy 1.17 m, fixed 1.16 m (persistence 0.22 m); both nets lag the trajectory by ~2.3 steps.
  Keras: steps 1-4 buggy 0.932 / 1.288 / 1.097 / 1.405, fixed 1.155 / 1.256 / 0.908 / 1.536; epoch-mean after epochs
    1 / 2 / 3 / 10 / 30: buggy 0.390 / 0.019 / 0.012 / 0.0074 / 0.0068, fixed 0.388 / 0.018 / 0.013 / 0.0079 / 0.0073;
    held-out MSE buggy 0.0062, fixed 0.0061. Deployment RMSE at dt = 0.03: buggy 3.08 m, fixed 2.44 m; true training
    windows: buggy 1.02 m, fixed 0.94 m; lag ~2.4 / 2.3 steps.
  (torch, 100 epochs: true training windows buggy 0.89 m, fixed 0.74 m.)
  So on this data the fault does NOT show as a clearly worse model: the height changes so little per step (the
    target is within 0.01 standard deviations of z_t-1) that "copy the leaked target" and "extrapolate from the past
    heights" are nearly the same function at the resolution the dropout-regularised LSTM reaches (train MSE ~0.007),
    and both trained nets end up as a smoothed, lagging copy of the z feature, worse than plain persistence. What is
    measured is the leak (the buggy inputs hold the target exactly) and a small, not consistent, gap in favour of
    the fix (Keras deployment 3.08 vs 2.44 m; torch the other way at dt = 0.03, slightly in favour of the fix on the
    training runs' true windows). The maintainer's "poor test performance" was also due to the 2-epoch default the
    same PR raised to 100 (not part of this port).
  Time per step (batch 32, one thread): torch ~1.7-2.6 ms, Keras ``train_on_batch`` ~2.7-3.7 ms; builds: torch ~1 s,
    Keras ~6 s with imports (first build).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "target_leakage"
SOURCE = ("github:nasa/prog_models PR #409 (src/prog_models/data_models/lstm_model.py pre_process_data / from_data "
          "@aa7157bd5932fcf8a2f92a207b937839656bc8c5 = ef486674^1: 'u_i[k][j].extend(z_i[k])' appends the target to "
          "every window step; examples/lstm_model.py example 2, models/thrown_object.py; fix merge "
          "ef4866749ba08ec9b2e8d58079f092c36a6f9ea4: z_ii = [[z[i+j] for j in range(window)] ...])")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {"task": "regression"}), ("overfit_one_batch", {"task": "regression"}),
          ("input_independent_baseline", {"task": "regression"}), ("gradients_flow", {}),
          ("inputs_normalized", {})]

# examples/lstm_model.py, example 2
TIMESTEP = 0.01
DTS = (TIMESTEP, TIMESTEP / 2, TIMESTEP / 4, TIMESTEP * 2, TIMESTEP * 4)
WINDOW = 4
# from_data defaults
UNITS = 16
DROPOUT = 0.1
VALIDATION_SPLIT = 0.25
BATCH_SIZE = 32  # model.fit default
LEARNING_RATE = 1e-3  # optimizer="rmsprop": Keras defaults
RHO = 0.9
# ThrownObject.default_parameters
THROWER_HEIGHT = 1.83
THROWING_SPEED = 40.0
G = -9.81
LUMPED = 0.5 * 1.225 * 0.007 * 0.05 / 0.145  # calc_lumped_param: 0.5 * rho * cd * A / m
N_BATCHES = 4
N_INPUTS = 256
N_BASELINE = 128
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def simulate(dt: float) -> tuple[np.ndarray, np.ndarray]:
    """``m.simulate_to_threshold(future_loading, threshold_keys='impact', save_freq=dt, dt=dt)`` of ThrownObject:
    (times, heights) from t = 0 until the first step with x <= 0 (included)."""
    x, v, t = THROWER_HEIGHT, THROWING_SPEED, 0.0
    ts, xs = [t], [x]
    while x > 0:
        x, v = x + v * dt, v + (G - LUMPED * v * v * np.sign(v)) * dt
        t += dt
        ts.append(t)
        xs.append(x)
    return np.array(ts), np.array(xs)


def pre_process(u: np.ndarray, z: np.ndarray, fixed: bool) -> tuple[list, list]:
    """``LSTMStateTransitionModel.pre_process_data`` for one run with (n, 1) inputs and (n, 1) outputs."""
    window = WINDOW
    n_inputs = len(u[0])
    n_outputs = len(z[0])
    if fixed:  # fix (PR #409)
        u_i = [[[u[i+j][k] for k in range(n_inputs)] for j in range(1, window+1)] for i in range(len(u)-window)]
        z_i = [[z[i][k] for k in range(n_outputs)] for i in range(window, len(z))]
        z_ii = [[z[i+j] for j in range(window)] for i in range(len(z_i))]
        for k in range(len(z_ii)):
            for j in range(window):
                u_i[k][j].extend(z_ii[k][j])
    else:  # @ef486674^1
        u_i = [[[u[i+j][k] for k in range(n_inputs)] for j in range(1, window+1)] for i in range(len(u)-window-1)]
        z_i = [[z[i][k] for k in range(n_outputs)] for i in range(window+1, len(z))]
        # Also add to input (past outputs are part of input)
        for k in range(len(z_i)):
            for j in range(window):
                u_i[k][j].extend(z_i[k])
    return u_i, z_i


@functools.lru_cache(maxsize=2)
def dataset(fixed: bool) -> dict[str, np.ndarray]:
    """``from_data``'s arrays: u_all (n, WINDOW, 2) raw, z_all (n, 1) standardised, the Normalization layer's mean /
    variance, the output mean / std, and the training / validation split."""
    u_all: list = []
    z_all: list = []
    for dt in DTS:
        _, xs = simulate(dt)
        u = np.array([[dt] for _ in xs])
        z = xs[:, None]
        u_i, z_i = pre_process(u, z, fixed)
        u_all.extend(u_i)
        z_all.extend(z_i)
    ua = np.array(u_all, dtype=float)
    za = np.array(z_all, dtype=float)
    # Normalize
    n_inputs = 1
    u_mean = np.mean(ua[:, 0, :n_inputs], axis=0)
    u_std = np.std(ua[:, 0, :n_inputs], axis=0)
    u_std[u_std == 0] = 1
    z_mean = np.mean(za, axis=0)
    z_std = np.std(za, axis=0)
    z_std[z_std == 0] = 1
    u_mean = np.hstack((u_mean, z_mean))
    u_std = np.hstack((u_std, z_std))
    za = (za - z_mean) / z_std
    split = int(len(ua) * (1 - VALIDATION_SPLIT))  # fit(validation_split=0.25): the last quarter held out
    return {"u": ua.astype("float32"), "z": za.astype("float32"), "mean": u_mean.astype("float32"),
            "variance": (u_std ** 2).astype("float32"), "z_mean": z_mean, "z_std": z_std, "split": split}


def deployment_windows(dt: float = TIMESTEP * 3) -> tuple[np.ndarray, np.ndarray]:
    """Example 2, step 4: the windows ``simulate_to`` feeds the model at an unseen dt (inputs dt and the true previous
    heights, i.e. the state [u_t-3, z_t-4, ..., u_t, z_t-1]), and the heights z_t in metres."""
    _, xs = simulate(dt)
    x = np.array([[[dt, xs[i + j]] for j in range(WINDOW)] for i in range(len(xs) - WINDOW)], dtype="float32")
    return x, xs[WINDOW:]


def train_batches(fixed: bool, n: int, seed: int = SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """fit(shuffle=True): shuffled batches of BATCH_SIZE from the training part."""
    d = dataset(fixed)
    r = np.random.default_rng(seed)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    order = np.empty(0, dtype=int)
    while len(out) < n:
        if len(order) < BATCH_SIZE:
            order = np.concatenate([order, r.permutation(d["split"])])
        idx, order = order[:BATCH_SIZE], order[BATCH_SIZE:]
        out.append((d["u"][idx], d["z"][idx]))
    return out


def _common(fixed: bool) -> dict[str, Any]:
    d = dataset(fixed)
    bs = train_batches(fixed, N_BATCHES)
    r = np.random.default_rng(SEED + 1)
    base = r.choice(d["split"], N_BASELINE, replace=False)
    held = d["split"] + r.choice(len(d["u"]) - d["split"], N_INPUTS, replace=False)
    return {"batches": bs, "inputs": d["u"][np.sort(held)], "baseline_batch": (d["u"][base], d["z"][base]),
            "mean": d["mean"], "variance": d["variance"]}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    d = _common(fixed)

    class LSTMModel(nn.Module):
        """Input(window, 2) -> Normalization(mean, variance) -> LSTM(16, tanh) -> Dropout(0.1) -> Dense(1)."""

        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("mean", torch.from_numpy(d["mean"]))
            self.register_buffer("std", torch.from_numpy(np.sqrt(d["variance"])))
            self.lstm = nn.LSTM(2, UNITS, batch_first=True)
            self.dropout = nn.Dropout(DROPOUT)
            self.output = nn.Linear(UNITS, 1)
            nn.init.xavier_uniform_(self.lstm.weight_ih_l0)  # Keras: glorot_uniform kernel
            nn.init.orthogonal_(self.lstm.weight_hh_l0)  # orthogonal recurrent kernel
            nn.init.zeros_(self.lstm.bias_ih_l0)
            nn.init.zeros_(self.lstm.bias_hh_l0)
            with torch.no_grad():
                self.lstm.bias_ih_l0[UNITS:2 * UNITS] = 1.0  # unit_forget_bias=True
            nn.init.xavier_uniform_(self.output.weight)
            nn.init.zeros_(self.output.bias)

        def forward(self, x: Any) -> Any:
            x = (x - self.mean) / torch.clamp(self.std, min=1e-7)
            h, _ = self.lstm(x)
            return self.output(self.dropout(h[:, -1]))

    model = LSTMModel()
    t = torch.from_numpy
    bs = [(t(x), t(y)) for x, y in d["batches"]]
    bx, by = d["baseline_batch"]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(d["inputs"]),
            "baseline_batch": (t(bx), t(by)), "loss_fn": nn.MSELoss(),
            "optimizer": lambda params: torch.optim.RMSprop(params, lr=LEARNING_RATE, alpha=RHO, eps=1e-7)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)
    d = _common(fixed)
    inputs = keras.Input(shape=(WINDOW, 2))
    x = layers.Normalization(mean=d["mean"], variance=d["variance"])(inputs)
    x = layers.LSTM(UNITS, activation="tanh")(x)
    x = layers.Dropout(DROPOUT)(x)
    outputs = [layers.Dense(1, name="output")(x)]
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=LEARNING_RATE, rho=RHO), loss="mse")
    return {"model": model, "batch": d["batches"][0], "batches": d["batches"], "inputs": d["inputs"],
            "baseline_batch": d["baseline_batch"]}


buggy, fixed = versions(_torch, _keras)
