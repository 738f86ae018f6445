"""ai2es/tai4es-trustathon-2022 ``space/magnet_lstm_tutorial.ipynb`` (NCAR/AI2ES TAI4ES 2022 summer school, after
DrivenData's benchmark for NOAA's MagNet competition): an LSTM that forecasts the geomagnetic disturbance-storm-time
index *Dst* (nT) at the hour ``t0`` and the next hour ``t1`` from the previous 32 hours of solar-wind measurements
at L1. The features are hourly means and standard deviations of ``bt, temperature, bx_gsm, by_gsm, bz_gsm, speed,
density`` plus ``smoothed_ssn`` (15 columns, ``XCOLS``), standardised by a ``StandardScaler`` fitted on all hourly
features, gaps interpolated. ``timeseries_dataset_from_df`` realigns ``inputs = period_df[XCOLS][:-timesteps]`` and
``outputs = period_df[YCOLS][timesteps:]`` ("first sequence of 32 is aligned with the 33rd target") and feeds
``keras.preprocessing.timeseries_dataset_from_array(inputs, outputs, 32, batch_size=32)``: window ``i`` holds the
feature rows ``i .. i+31`` (solar wind up to ``t - 1 minute`` for ``t = i+32``) and the label row ``i+32``. Model
(the notebook's active ``model_config = {"n_epochs": 4, "n_neurons": 16, "dropout": 0.4, "stateful": False}``):
``Sequential([LSTM(16, batch_input_shape=(None, 32, 15), dropout=0.4), Dense(2)])``, ``compile(loss=
"mean_squared_error", optimizer="adam")``, ``fit(train_ds, epochs=4, shuffle=False)``. Dst is not scaled (raw nT).

The fault is in the TARGETS: ``process_labels`` built them one hour too late,

    y["t0"] = y.groupby("period").dst.shift(-1)
    y["t1"] = y.groupby("period").dst.shift(-2)

so the label row ``t`` holds Dst at ``t+1`` and ``t+2``, while the task ("given one week of data ending at t minus
1 minute, the model must forecast Dst at time t and t plus one hour", the notebook's own Modeling Task) and
DrivenData's benchmark want Dst at ``t`` and ``t+1``. Every window is trained against a target one step beyond the
horizon: the forecast horizon is off by one, the network learns to forecast an hour further ahead than it is used
for, and part of each target depends on solar wind the window has not seen yet.
Fix (commit 8a65f5e17e90979a92da1991d0fb74e71f0c4d37, "Fixed bug in shifting Dst for t0 and t1. Error had minor
impact on performance. Recomputed pre-trained models."):

    y["t0"] = y.groupby("period").dst.shift( 0)
    y["t1"] = y.groupby("period").dst.shift(-1)

Source: github.com/ai2es/tai4es-trustathon-2022, ``space/magnet_lstm_tutorial.ipynb`` at 8a65f5e^
(b1ad33d375688dd2b318b6d7826fb422c9db9c9c), fixed by 8a65f5e17e90979a92da1991d0fb74e71f0c4d37.
Program lines kept: ``SOLAR_WIND_FEATURES``/``XCOLS`` (15 standardised columns), ``process_labels`` (buggy and fixed),
the split ``get_train_test_val`` (last rows of the period to test, the rows before them to validation),
``timeseries_dataset_from_df`` (inputs ``[:-32]``, outputs ``[32:]``, 32-step windows with stride 1, batches of 32,
in order, no shuffling), the model (LSTM 16 units, input dropout 0.4, Dense(2) linear), MSE on raw nT, Adam with
Keras' defaults (lr 0.001, eps 1e-7).
Ported: Keras 2's ``batch_input_shape=(None, 32, 15)`` becomes ``keras.Input((32, 15))``. The torch twin is an
``nn.LSTM(15, 16, batch_first=True)`` initialised like Keras' LSTM (Glorot-uniform input kernel, orthogonal
recurrent kernel, zero biases with the forget-gate bias at 1, ``unit_forget_bias``), Keras' input ``dropout``
(one Bernoulli mask per sequence and feature, the same at every step, scaled by 1/0.6, training only), the last
hidden state into a Glorot ``Linear(16, 2)``, ``nn.MSELoss()`` and ``Adam(lr=1e-3, eps=1e-7)``.
Data stand-in (no download of NOAA's ``public.zip``): ``_magnet_like`` simulates one training period of 6000 hours of
hourly solar-wind aggregates in the ranges of the real data (speed 260..900 km/s around 430, density ~5 cm^-3,
IMF components ~N(0, 3.5 nT) with southward-Bz storms of 4..28 nT lasting 3..15 h every 80..220 h with turbulent
hour-to-hour Bz, bt, proton temperature ~1e5 K, hourly standard deviations that grow with activity, smoothed
sunspot number 80..120) and a Dst that follows from it by the Burton et al. (1975) ring-current equation
(``Dst*_h = Dst*_{h-1} (1 - 1/7.7) + Q(V Bs)_{h-1}``, ``Dst = Dst* + 7.26 sqrt(Pdyn) - 11`` plus 1.5 nT noise, rounded
to whole nT as the real index): mean -16.9 nT, std 25.2, storms down to -221 (the real public labels:
mean -11 .. -16, std about 20, minimum -422). Dst at ``t`` is thus a function of the solar wind up to ``t - 1`` (what
the window holds); Dst at ``t+1`` also needs hour ``t``'s solar wind. The program's ``StandardScaler`` is fitted on
all 6000 hourly rows as in the notebook; there are no gaps, so the interpolation is a no-op. Split scaled from
6000/3000 rows of each ~46600-hour period to 800 test / 400 validation rows of 6000, leaving 4800 training rows,
4737 windows, 148 batches of 32. ``batches`` are 8 batches spread evenly over that training set (batch 0, 18, 36,
...), ``batch`` is the first one, ``inputs`` 256 training windows spread evenly, ``baseline_batch`` the first 128
training windows (the program's batch is 32).

Fault label: other:target_horizon_off_by_one (the regression targets are the series shifted one step further
ahead than the forecast the model is used for; not leakage: the labels lie further in the future, not inside
the window).
Fix (8a65f5e): ``shift(0)`` / ``shift(-1)``.

Symptom, measured with my own plain loop (seed 0, OMP_NUM_THREADS=1, the 148 training batches of an epoch in order
as the program's ``fit(shuffle=False)``; "train MSE" is the MSE over all 4737 training windows against the
version's own labels, in eval mode; "held-out" the RMSE in nT of t0 / t1 over the 737 test windows (736 for the
buggy labels, NaN rows at the period's end dropped) against the version's own labels, "vs task" against the
correct Dst(t) / Dst(t+1); test label std 30.3 nT). Torch (~1.1-3 ms a step): at step 1 the two are alike (batch
loss buggy 829.6 vs fixed 834.6, train MSE 893); after 4 epochs (592 steps, the notebook's epoch count) train MSE
674.3 vs 674.5, held-out 31.91/31.70 vs 31.91/31.71; after 30 epochs 389.3 vs 382.3, held-out 25.52/25.70 vs
25.39/25.48; after 100 epochs (14800 steps, about the 4 x 3523 steps of the notebook's run) train MSE 166.3 vs
152.3, held-out 18.11/18.84 vs 17.55/17.95, and the buggy model scored on the task's targets 17.97/18.10. Keras
(train_on_batch, ~7-8 ms a step): step 1 batch loss 827.3 vs 831.5; 4 epochs train MSE 677.5 vs 677.6, held-out
31.78/31.96 vs 31.77/31.97; 30 epochs 395.0 vs 387.5, held-out 25.58/25.94 vs 25.42/25.66 (vs task 25.50/25.70).
So the effect is small, as the author's commit message says ("Error had minor impact on performance"): both
versions train the same way, with the same loss scale and gradients; the buggy run reaches a slightly higher
training and held-out error (the labels one hour later hold what the window has not seen yet: the solar wind of
hour t), and its "t0" output is a t+1 forecast: what changes is what the network is taught to predict, not how
it trains. The slow fall of the loss in both (raw nT targets, lr 0.001, 16 units) is the program's and not the
fault.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "other:target_horizon_off_by_one"
SOURCE = ("github:ai2es/tai4es-trustathon-2022 space/magnet_lstm_tutorial.ipynb process_labels@8a65f5e^ "
          "(b1ad33d375688dd2b318b6d7826fb422c9db9c9c; timeseries_dataset_from_df, LSTM model_config n_neurons 16; "
          "fix 8a65f5e17e90979a92da1991d0fb74e71f0c4d37 'Fixed bug in shifting Dst for t0 and t1')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {}), ("input_independent_baseline", {}), ("inputs_normalized", {})]

SOLAR_WIND_FEATURES = ["bt", "temperature", "bx_gsm", "by_gsm", "bz_gsm", "speed", "density"]
XCOLS = [c + "_mean" for c in SOLAR_WIND_FEATURES] + [c + "_std" for c in SOLAR_WIND_FEATURES] + ["smoothed_ssn"]
YCOLS = ["t0", "t1"]
data_config = {"timesteps": 32, "batch_size": 32}
model_config = {"n_epochs": 4, "n_neurons": 16, "dropout": 0.4, "stateful": False}
N_HOURS = 6000  # port: one 6000-hour period (the public data: three periods, 139872 hours)
TEST_PER_PERIOD, VAL_PER_PERIOD = 800, 400  # port: scaled from 6_000 / 3_000
N_BATCHES = 8


def _magnet_like(n: int = N_HOURS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Hourly solar-wind aggregates (n, 15) in XCOLS order, raw units, and Dst (n,) in nT from Burton's equation."""
    rng = np.random.default_rng(seed)

    def ar1(phi: float, sd: float) -> np.ndarray:
        e = rng.normal(0.0, sd, n)
        x = np.zeros(n)
        for i in range(1, n):
            x[i] = phi * x[i - 1] + e[i]
        return x

    bz_storm, v_storm, n_storm = np.zeros(n), np.zeros(n), np.zeros(n)
    t = int(rng.integers(20, 80))
    while t < n:  # CMEs / sheath regions: southward Bz (turbulent), faster, denser wind
        dur = int(rng.integers(3, 16))
        amp = rng.uniform(4, 14) * (2.0 if rng.random() < 0.15 else 1.0)
        m = min(dur, n - t)
        prof = np.sin(np.linspace(0, np.pi, dur + 2)[1:-1])[:m]
        bz_storm[t:t + m] -= amp * prof * np.clip(1 + 0.6 * rng.standard_normal(m), 0.0, None)
        k = min(dur + 20, n - t)
        v_storm[t:t + k] += rng.uniform(80, 300) * np.exp(-np.arange(k) / 15)
        n_storm[t:t + m] += rng.uniform(5, 20) * prof
        t += dur + int(rng.integers(80, 220))
    speed = np.clip(420 + ar1(0.97, 12) + v_storm, 260, 900)  # km/s
    bx, by = ar1(0.9, 1.6), ar1(0.9, 1.6)  # nT
    bz = ar1(0.85, 1.4) + bz_storm
    bt = np.sqrt(bx ** 2 + by ** 2 + bz ** 2) + 1.0
    density = np.exp(np.log(5) + ar1(0.9, 0.18)) + n_storm  # cm^-3
    temperature = 1e5 * (speed / 420) ** 2 * np.exp(ar1(0.9, 0.1))  # K
    act = np.abs(bz_storm) / 10
    stds = [np.abs(base * (1 + act) * np.exp(rng.normal(0, 0.3, n))) for base in (0.8, 2e4, 0.9, 0.9, 1.0, 8.0, 0.6)]
    ssn = 80 + 40 * np.sin(np.linspace(0, 1.5, n)) + rng.normal(0, 0.5, n)
    ey = speed * np.maximum(-bz, 0) * 1e-3  # mV/m
    q = np.where(ey > 0.5, -4.4 * (ey - 0.5), 0.0)  # nT/h
    pdyn = 1.6726e-6 * density * speed ** 2  # nPa
    dst_star, dst = np.zeros(n), np.zeros(n)
    for h in range(1, n):  # Burton et al. (1975), tau = 7.7 h; Dst of hour h from the wind up to hour h-1
        dst_star[h] = dst_star[h - 1] * (1 - 1 / 7.7) + q[h - 1]
        dst[h] = dst_star[h] + 7.26 * np.sqrt(pdyn[h - 1]) - 11
    dst = np.round(dst + rng.normal(0, 1.5, n))
    feats = np.stack([bt, temperature, bx, by, bz, speed, density] + stds + [ssn], 1)
    return feats, dst


def process_labels(dst: np.ndarray, fixed: bool) -> np.ndarray:
    """The notebook's ``process_labels`` for one period (``groupby('period').dst.shift(k)``, NaN past the end)."""
    def shift(k: int) -> np.ndarray:  # pandas shift(k) with k <= 0
        return np.r_[dst[-k:], np.full(-k, np.nan)] if k else dst.astype("float64")

    if fixed:  # 8a65f5e
        return np.stack([shift(0), shift(-1)], 1)
    return np.stack([shift(-1), shift(-2)], 1)  # buggy: Dst at t+1 and t+2


def _windows(features: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``timeseries_dataset_from_df`` for one period, unbatched: inputs[:-T], outputs[T:], windows of T, stride 1."""
    ts = data_config["timesteps"]
    inputs, outputs = features[:-ts], labels[ts:]
    n = len(inputs) - ts + 1
    x = np.stack([inputs[i:i + ts] for i in range(n)]).astype("float32")
    return x, outputs[:n].astype("float32")


def program_data(fixed: bool, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """All windows of one split, in order (x (N, 32, 15) float32, y (N, 2) float32 nT)."""
    from sklearn.preprocessing import StandardScaler

    raw, dst = _magnet_like()
    scaler = StandardScaler().fit(raw)  # preprocess_features: fitted on all hourly features
    features = scaler.transform(raw)
    labels = process_labels(dst, fixed)
    n = len(dst)
    bounds = {"train": (0, n - TEST_PER_PERIOD - VAL_PER_PERIOD),
              "val": (n - TEST_PER_PERIOD - VAL_PER_PERIOD, n - TEST_PER_PERIOD), "test": (n - TEST_PER_PERIOD, n)}
    a, b = bounds[split]
    return _windows(features[a:b], labels[a:b])


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = program_data(fixed, "train")
    bs = data_config["batch_size"]
    nb = len(x) // bs
    picks = np.linspace(0, nb - 1, N_BATCHES).round().astype(int)
    kb = [(x[i * bs:(i + 1) * bs], y[i * bs:(i + 1) * bs]) for i in picks]
    inp = x[np.linspace(0, len(x) - 1, 256).round().astype(int)]
    base = (x[:128], y[:128])
    n_feat, n_units, p = len(XCOLS), model_config["n_neurons"], model_config["dropout"]
    if framework == "torch":
        import torch
        import torch.nn as nn

        from tests.real_programs._nets import torch_dense

        torch.manual_seed(0)

        class MagnetLSTM(nn.Module):
            """LSTM(16, dropout=0.4) -> Dense(2), Keras initialisation and Keras' per-sequence input dropout."""

            def __init__(self) -> None:
                super().__init__()
                self.lstm = nn.LSTM(n_feat, n_units, batch_first=True)
                nn.init.xavier_uniform_(self.lstm.weight_ih_l0)
                nn.init.orthogonal_(self.lstm.weight_hh_l0)
                nn.init.zeros_(self.lstm.bias_ih_l0)
                nn.init.zeros_(self.lstm.bias_hh_l0)
                with torch.no_grad():
                    self.lstm.bias_ih_l0[n_units:2 * n_units] = 1.0  # unit_forget_bias
                self.dense = torch_dense(n_units, len(YCOLS))

            def forward(self, inputs: torch.Tensor) -> torch.Tensor:
                if self.training and p > 0:
                    mask = torch.bernoulli(torch.full((inputs.shape[0], 1, inputs.shape[2]), 1 - p,
                                                      device=inputs.device)) / (1 - p)
                    inputs = inputs * mask
                out, _ = self.lstm(inputs)
                return self.dense(out[:, -1])

        def t(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a))

        tb = [(t(a), t(b)) for a, b in kb]
        return {"model": MagnetLSTM(), "batch": tb[0], "batches": tb, "inputs": t(inp),
                "baseline_batch": (t(base[0]), t(base[1])), "loss_fn": nn.MSELoss(),
                "optimizer": lambda params: torch.optim.Adam(params, lr=1e-3, eps=1e-7)}

    import keras
    from keras.layers import LSTM, Dense

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((data_config["timesteps"], n_feat)),  # batch_input_shape=(None, 32, len(XCOLS))
        LSTM(n_units, stateful=model_config["stateful"], dropout=p),
        Dense(len(YCOLS)),
    ])
    model.compile(loss="mean_squared_error", optimizer="adam")
    return {"model": model, "batch": kb[0], "batches": kb, "inputs": inp, "baseline_batch": base}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
