"""Hvass-Labs TensorFlow Tutorial #23 "Time-Series Prediction" (``23_Time-Series-Prediction.ipynb``): a Keras GRU
that reads 20 hourly weather signals of 5 Danish cities and is meant to forecast Odense's temperature, wind speed
and pressure ``shift_days = 1`` day (``shift_steps = 24`` hours) ahead. The notebook builds its targets as::

    df_targets = df[target_city][target_names].shift(shift_steps)
    x_data = df.values[shift_steps:]
    y_data = df_targets.values[shift_steps:]

The fault: pandas' ``shift(+24)`` moves the data *down*, so the target of hour t is Odense's Temp/WindSpeed/
Pressure of hour t-24 -- the model is trained to "predict" the past, and those three target series are input
columns of the same data frame. Inside each training sub-sequence the target at step k >= 24 is exactly the
(identically min-max scaled) input value of step k-24, already read by the GRU: target leakage. The loss drops
well below what a day-ahead forecast can reach and the notebook's plots look convincing, while the model has
learnt a 24-hour delay line, not a forecast.

Source: github.com/Hvass-Labs/TensorFlow-Tutorials, ``23_Time-Series-Prediction.ipynb`` at e686db8^ (cells
``shift_steps``, ``df_targets``, ``x_data``/``y_data``, the scalers, ``batch_generator``, the ``Sequential``
model and ``compile``), fixed by commit e686db8f90669350087d6e0879d9d9dda390b4e4 "Fixed bug in Tutorial 23."
(``shift(-shift_steps)``, ``x_data = df.values[0:-shift_steps]``, ``y_data = df_targets.values[:-shift_steps]``,
plus the notebook's new warning "Note the negative time-shift! ... We want to predict the future, not the past!").
Program lines kept: the two dropped pressure columns (Esbjerg, Roskilde) and the added ``Various``/``Day`` and
``Hour`` columns (20 input signals), ``target_city = 'Odense'``, ``target_names = ['Temp', 'WindSpeed',
'Pressure']``, the buggy/fixed shift and slicing lines as written (pandas), ``train_split = 0.9``, one
``MinMaxScaler`` for x and one for y fitted on the training part, ``batch_generator`` (random sub-sequences of
``sequence_length = 100`` of the training part, x and y windows aligned), the model ``GRU(return_sequences=True)``
+ ``Dense(num_y_signals, activation='sigmoid')``, ``loss='mean_squared_error'``, ``RMSprop(lr=1e-3)``.
Ported minimally: ``tensorflow.python.keras`` -> Keras 3 (``RMSprop(learning_rate=1e-3)``, ``keras.Input`` for
``input_shape=(None, num_x_signals)``); ``fit_generator`` is replaced by batches drawn from the program's
generator with a seeded numpy ``Generator``; callbacks and the whole-test-set validation are left out. For CPU
cost, ``batch_size`` 1024 -> 64 (the least input_independent_baseline takes) and the GRU's ``units`` 256 -> 64
(a 256-unit GRU over 100 steps costs ~200 ms per step of 64 sequences on one CPU thread, 64 units ~33 ms); the
sequence length, which decides how much of each window is leaked, is the program's. The fix commit also retuned
the notebook (``sequence_length`` 1344, 512 units, batch 256, a warm-up MSE that skips the first 50 steps,
``ReduceLROnPlateau``); those are not part of the fault and are not ported: the fixed version here changes only
the shift and slicing lines. The fault is in framework-free pandas data preparation, so a torch twin is given as
equivalently as possible: ``nn.GRU(20, units, batch_first=True)`` + ``nn.Linear`` (glorot, zero bias) +
sigmoid, ``nn.MSELoss()``, ``RMSprop`` with Keras' ``rho=0.9``/``epsilon=1e-7`` (the GRU keeps torch's own
initialisation; Keras' GRU uses glorot/orthogonal), same data and batches.
Data stand-in (no download of the DMI weather archive): seeded synthetic hourly weather, 3 years from
1980-03-01 00:00 (26,280 hours; the real resampled set is 1980-2018), 5 cities x (Temp, Pressure, WindSpeed,
WindDir) with a seasonal and a daily temperature cycle, persistent AR(1) anomalies of temperature (sd 3 C),
pressure (sd 9 hPa) and wind, a random-walk wind direction, and weather moving west to east (Esbjerg leads
Odense by 3 h, Roskilde lags by 3 h); ranges Temp -13..30 C, Pressure 984..1045 hPa, WindSpeed 0..18 m/s,
WindDir 0..360, Day 1..366, Hour 0..23, as in the real data. So the future is partly predictable (the cycles,
persistence, the upwind city), as in the real data, and the past is exactly predictable.
Fault label: target_leakage (the targets are a 24-step-lagged copy of three input columns: in the buggy data the
scaled Odense Temp target equals input column 11 of 24 rows earlier exactly, max difference 0.0, correlation
1.000; in the fixed data the target is 48 h after that column, correlation 0.949, mostly the seasonal cycle).
Fix (e686db8): ``shift(-shift_steps)``, ``x_data = df.values[0:-shift_steps]``, ``y_data =
df_targets.values[:-shift_steps]``.
Symptom in a short loop (one plain training step per fresh generator batch of 64 x 100 hours; training-batch
MSE / MSE on the first 2,000 test hours fed as one sequence, as the notebook evaluates; a constant prediction of
the training mean scores 0.036 on that test stretch). Keras: initial batch loss buggy 0.043 vs fixed 0.041;
100 steps buggy 0.0126 / 0.0114 vs fixed 0.0135 / 0.0118; 200 steps 0.0106 / 0.0096 vs 0.0113 / 0.0099; 400
steps 0.0088 / 0.0073 vs 0.0128 / 0.0100; 600 steps 0.0081 / 0.0059 vs 0.0115 / 0.0097 -- the fixed forecast
stalls near 0.010 while the buggy one keeps falling. Per window position after 600 steps (64 test windows): buggy
0.0116 on steps 0-23 (nothing leaked yet) vs 0.0062 on steps 24-99 (leaked), fixed 0.0113 vs 0.0100. Torch: 100 steps
buggy 0.0078 / 0.0065 vs fixed 0.0136 / 0.0129; 200 steps 0.0065 / 0.0058 vs 0.0111 / 0.0102; 600 steps 0.0054 /
0.0036 vs 0.0118 / 0.0104; per position 0.0101 (steps 0-23) vs 0.0035 (24-99), fixed 0.0115 vs 0.0107. So the
fault shows as a model that gets *better* than a forecast can (about 3x lower test MSE in torch, 1.6x in Keras
after 600 steps), concentrated on the window positions whose target was already in the input; nothing fails:
the losses of both versions fall from the start, and in the first ~100-200 Keras steps the two curves are
close. About 33 ms per Keras step and ~20-30 ms per torch step on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "target_leakage"
SOURCE = ("github:Hvass-Labs/TensorFlow-Tutorials 23_Time-Series-Prediction.ipynb@e686db8^ "
          "(df[target_city][target_names].shift(shift_steps); fix e686db8f90669350087d6e0879d9d9dda390b4e4 "
          "'Fixed bug in Tutorial 23.': shift(-shift_steps))")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {}),
          ("input_independent_baseline", {}), ("output_range", {"kind": "sigmoid"})]

cities = ["Aalborg", "Aarhus", "Esbjerg", "Odense", "Roskilde"]  # weather.cities
signals = ["Temp", "Pressure", "WindSpeed", "WindDir"]
target_city = "Odense"
target_names = ["Temp", "WindSpeed", "Pressure"]
shift_days = 1
shift_steps = shift_days * 24  # Number of hours.
train_split = 0.9
sequence_length = 100
batch_size = 64  # the program's is 1024 (see the docstring)
n_batches = 4
units = 64  # the program's GRU has 256 (see the docstring)
learning_rate = 1e-3
n_hours = 3 * 365 * 24  # stand-in length (the real resampled set is 1980-2018, ~333k hours)


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    e = rng.normal(0.0, sd * np.sqrt(1.0 - phi ** 2), size=n)
    out = np.empty(n)
    acc = rng.normal(0.0, sd)
    for i in range(n):
        acc = phi * acc + e[i]
        out[i] = acc
    return out


def _weather_like(seed: int = 0):
    """Hourly stand-in for weather.load_resampled_data(): 5 Danish cities x (Temp, Pressure, WindSpeed, WindDir)
    from 1980-03-01 00:00, weather moving west to east (Esbjerg leads Odense by 3 h, Roskilde lags by 3 h)."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    lead = {"Aalborg": 1, "Aarhus": 1, "Esbjerg": 3, "Odense": 0, "Roskilde": -3}
    pad = 8
    n = n_hours + 2 * pad
    index = pd.date_range("1980-03-01 00:00", periods=n_hours, freq="h")
    doy = index.day_of_year.to_numpy()
    hour = index.hour.to_numpy()
    seasonal = 8.0 - 9.0 * np.cos(2 * np.pi * (doy - 20) / 365.25)
    daily = 3.0 * np.sin(2 * np.pi * (hour - 9) / 24.0)
    p_reg = _ar1(rng, n, 0.99, 9.0)  # pressure anomaly, hPa
    t_reg = _ar1(rng, n, 0.995, 3.0) - 0.15 * p_reg  # temperature anomaly
    w_reg = _ar1(rng, n, 0.97, 3.0)
    d_reg = np.cumsum(rng.normal(0.0, 6.0, size=n))
    cols = {}
    for c in cities:
        s = slice(pad + lead[c], pad + lead[c] + n_hours)  # value at t comes from t + lead
        cols[(c, "Temp")] = seasonal + daily + t_reg[s] + rng.normal(0, 0.5, n_hours)
        cols[(c, "Pressure")] = 1013.0 + p_reg[s] + rng.normal(0, 0.4, n_hours)
        cols[(c, "WindSpeed")] = np.abs(5.0 + w_reg[s] + 0.08 * np.abs(p_reg[s]) + rng.normal(0, 0.8, n_hours))
        cols[(c, "WindDir")] = np.mod(220.0 + d_reg[s] + rng.normal(0, 15, n_hours), 360.0)
    df = pd.DataFrame(cols, index=index)
    df.columns = pd.MultiIndex.from_tuples(df.columns)
    return df


def _data(fixed: bool):
    from sklearn.preprocessing import MinMaxScaler

    df = _weather_like()
    df.drop(("Esbjerg", "Pressure"), axis=1, inplace=True)
    df.drop(("Roskilde", "Pressure"), axis=1, inplace=True)
    df["Various", "Day"] = df.index.dayofyear
    df["Various", "Hour"] = df.index.hour
    if fixed:  # e686db8
        df_targets = df[target_city][target_names].shift(-shift_steps)
        x_data = df.values[0:-shift_steps]
        y_data = df_targets.values[:-shift_steps]
    else:
        df_targets = df[target_city][target_names].shift(shift_steps)
        x_data = df.values[shift_steps:]
        y_data = df_targets.values[shift_steps:]
    num_data = len(x_data)
    num_train = int(train_split * num_data)
    x_train, x_test = x_data[0:num_train], x_data[num_train:]
    y_train, y_test = y_data[0:num_train], y_data[num_train:]
    x_scaler = MinMaxScaler()
    x_train_scaled = x_scaler.fit_transform(x_train)
    x_test_scaled = x_scaler.transform(x_test)
    y_scaler = MinMaxScaler()
    y_train_scaled = y_scaler.fit_transform(y_train)
    y_test_scaled = y_scaler.transform(y_test)
    return (x_train_scaled.astype("float32"), y_train_scaled.astype("float32"),
            x_test_scaled.astype("float32"), y_test_scaled.astype("float32"))


def batch_generator(x_train_scaled, y_train_scaled, batch_size, sequence_length, seed=0):
    """The program's batch_generator (random sub-sequences of the training set), seeded."""
    rng = np.random.default_rng(seed)
    num_train = len(x_train_scaled)
    num_x_signals = x_train_scaled.shape[1]
    num_y_signals = y_train_scaled.shape[1]
    while True:
        x_batch = np.zeros(shape=(batch_size, sequence_length, num_x_signals), dtype="float32")
        y_batch = np.zeros(shape=(batch_size, sequence_length, num_y_signals), dtype="float32")
        for i in range(batch_size):
            idx = rng.integers(num_train - sequence_length)
            x_batch[i] = x_train_scaled[idx:idx + sequence_length]
            y_batch[i] = y_train_scaled[idx:idx + sequence_length]
        yield (x_batch, y_batch)


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x_train_scaled, y_train_scaled, _, _ = _data(fixed)
    num_x_signals = x_train_scaled.shape[1]
    num_y_signals = y_train_scaled.shape[1]
    gen = batch_generator(x_train_scaled, y_train_scaled, batch_size, sequence_length)
    batches = [next(gen) for _ in range(n_batches)]
    inputs = np.concatenate([b[0] for b in batches])
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(0)
        model = keras.Sequential()
        model.add(keras.Input(shape=(None, num_x_signals)))
        model.add(keras.layers.GRU(units=units, return_sequences=True))
        model.add(keras.layers.Dense(num_y_signals, activation="sigmoid"))
        model.compile(loss="mean_squared_error", optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate))
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs}

    import torch
    from torch import nn

    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = nn.GRU(num_x_signals, units, batch_first=True)
            self.dense = nn.Linear(units, num_y_signals)
            nn.init.xavier_uniform_(self.dense.weight)
            nn.init.zeros_(self.dense.bias)

        def forward(self, x):
            h, _ = self.gru(x)
            return torch.sigmoid(self.dense(h))

    tb = [(torch.tensor(x), torch.tensor(y)) for x, y in batches]
    return {"model": Net(), "batch": tb[0], "batches": tb, "inputs": torch.tensor(inputs),
            "loss_fn": nn.MSELoss(),
            # Keras RMSprop: rho 0.9, epsilon 1e-7 (torch's defaults are alpha 0.99, eps 1e-8)
            "optimizer": lambda p: torch.optim.RMSprop(p, lr=learning_rate, alpha=0.9, eps=1e-7)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
