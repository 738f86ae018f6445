"""daynebatten/keras-wtte-rnn, ``wtte-rnn.py``: a "bare-bones" Keras WTTE-RNN (Weibull time-to-event recurrent
network, after Egil Martinsson's thesis) that predicts the remaining useful life of NASA's turbofan engines (C-MAPSS
FD001, shipped in the repository as ``train.csv`` / ``test_x.csv`` / ``test_y.csv``: engine number, cycle, three
operational settings and 21 sensors; 100 run-to-failure training engines, 20,631 rows; 100 test engines cut off
before failure, 13,096 rows, and their true remaining lives). The script scales the 24 feature columns with
``sklearn.preprocessing.normalize(..., axis=0)``, turns every engine-day into a window of the last ``max_time = 100``
days of readings (zero-padded at the front), with target (days to failure, event indicator 1), and trains
``Masking(mask_value=0.) -> LSTM(20) -> Dense(2) -> Activation(activate)`` (``activate``: alpha = exp(z0),
beta = softplus(z1)) under the discrete Weibull log-likelihood ``weibull_loglik_discrete`` with ``RMSprop(lr=.001)``,
``nb_epoch=250, batch_size=2000``, validating on the last day of each test engine; the predicted (alpha, beta) of
the test engines are printed beside their true remaining lives.

The fault (train and test preprocessed with different statistics): the two tables are normalised separately,
``train[:, 2:26] = normalize(train[:, 2:26], axis=0)`` and ``test_x[:, 2:26] = normalize(test_x[:, 2:26],
axis=0)``. ``normalize(axis=0)`` divides every column by its L2 norm over the rows it is given, and that norm
grows with the number of rows: the test table has 13,096 rows against 20,631, so each test column is divided by a
norm about sqrt(13096 / 20631) = 0.80 times the training one -- every test feature comes out 1.255 times what the
same reading gives in training (measured on the repository's files: 1.246..1.259 per column). The sensors vary by
0.01 %..2 % of their value over an engine's life, so a 25 % shift puts every test window tens to thousands of
training standard deviations away from anything the network was fitted on. Fixed in
e1c879890f5579e1937c78023b735d0c29c48355 ("Normalize train and test X together.", PR #2 "normalize-once"): the
two tables' feature columns are concatenated, normalised once, and split back (one norm per column for both, so
the same reading scales the same in training and test; the norm now also reads the test rows, a mild leak of test
statistics the fix accepts).

Source: github.com/daynebatten/keras-wtte-rnn ``wtte-rnn.py`` @f1f4f51cba6eb6ac641f8f737384194d84ebcc72
(= e1c8798^, the script as committed in 528c5e7bbbdb0d686e9548e31081ba98dee2bfed "Initial commit."); fix
e1c879890f5579e1937c78023b735d0c29c48355, PR #2 (merge 50cf0061cc081f7d003f85b2ba4ea5178fc84a2b).
Fault label: preprocessing_mismatch (the test windows are scaled by the test table's own column norms, the
training windows by the training table's).

Program lines kept: ``weibull_loglik_discrete`` as written (``hazard0 = pow((y + 1e-35) / a, b)``, ``hazard1 =
pow((y + 1) / a, b)``, ``-mean(u * log(exp(hazard1 - hazard0) - 1) - hazard1)``), ``activate`` (exp / softplus,
reshaped and concatenated), the model ``Masking(mask_value=0.)`` -> ``LSTM(20)`` -> ``Dense(2)`` ->
``Activation(activate)`` with Keras' default initialisers, ``RMSprop(lr=.001)``, the column-wise L2
``normalize(axis=0)`` of the 24 feature columns (buggy: each table on its own; fixed: both tables together),
``build_data``'s windows (the last ``max_time = 100`` days up to and including day j, zero-padded at the front) and
targets (training: ``(max_engine_time - j, 1)``; test: the last observed day of each engine, ``(RUL, 1)``).
Ported / shrunk: Keras 1/2 spellings to Keras 3 (``input_dim`` / ``nb_epoch`` / ``lr`` dropped or renamed,
``keras.ops`` for the backend ``k``; Keras 3's RMSprop epsilon 1e-7 instead of 1e-8); batches of 128 instead of
2000 (a 128-window step takes ~50 ms on one CPU thread, a 2000-window one some 16 times that); the 250-epoch
``fit`` is left to the checks.
The torch twin is the same network: Keras' masking semantics written out (an ``LSTMCell`` stepped over the 100 days,
a masked day -- every feature exactly 0 -- leaves the state as it was), Keras' LSTM initialisation (glorot-uniform
input kernel, orthogonal recurrent kernel, zero biases with the forget gate's at 1, gate order i, f, c, o as
torch's), a glorot-uniform / zero-bias ``Linear(20, 2)``, the same ``activate`` and loss, ``RMSprop(lr=1e-3,
alpha=0.9, eps=1e-7)``. The fault is numpy preprocessing before the model, so it exists in both frameworks.
Data stand-in (the C-MAPSS files are not shipped here): seeded turbofan-like engines with FD001's shape -- 100
training engines run to failure (lives 128 + Gamma(2, 39), clipped to 128..362; FD001: 128..362, mean 206) and 100
test engines cut off before failure (remaining life 7..145 as in ``test_y.csv``, at least 31 observed cycles) --
and per column the repository's values: the healthy level (mean where more than 100 cycles remain), the change at
failure (mean over the last 5 cycles minus that), the healthy noise std, a degradation curve exp(-(remaining
cycles) / 40) and a small per-engine offset (initial wear); constant columns (setting 3 = 100, sensors 1, 5, 6, 10,
16, 18, 19) stay constant. Rows 21,361 / 13,125 (FD001: 20,631 / 13,096), so the column norms differ between
the tables as they do there (stand-in ratio 1.27..1.31, FD001 1.25..1.26). ``batches``: 4 batches of 128 training
windows of randomly drawn engine-days (``fit``'s shuffle), normalised by the training path; ``inputs``: the 100
test windows (last day of each test engine) as the script feeds them to ``model.predict`` (buggy: test-table
norms; fixed: the joint norms); ``train_pipeline`` / ``eval_pipeline``: one raw zero-padded window (100, 24)
divided by the column norms the training / the test windows get; ``raw_samples``: 16 raw test windows.

Measured (my own plain loops, /tmp/s44/h_b62b/measure.py, OMP_NUM_THREADS=1, the module's builds; 1500 steps of
128 windows drawn from a pool of 6144 training engine-days, the same draws buggy and fixed; then the 100 test
windows through the script's path, and -- same trained model -- scaled like the training windows; "median" is the
Weibull median a (ln 2)^(1/b), "val loss" the program's loss on (RUL, 1)):
  scale: buggy training windows |x| 0.0067 on average, test windows 0.0086 (every column 1.27..1.31 times larger:
    train_pipeline and eval_pipeline differ by that factor on every raw window); fixed 0.0053 in both, identical.
  torch: loss 27.9 at step 1, tenth-means 8.06 / 5.53 / 5.39 / ... / 5.26 (buggy) and 8.05 / 5.51 / 5.36 / ... /
    5.26 (fixed), finite throughout. Test: buggy val loss 5.080, median predicted life 85.7 cycles (true mean 70.3),
    MAE 36.2, Spearman 0.450; the same model on test windows scaled like training 5.063 / 83.0 / 35.3; fixed
    5.070 / 84.5 / 35.7 / 0.453.
  Keras (``train_on_batch``): loss 28.6 at step 1, tenth-means 8.74 ... 5.28 (buggy), 8.74 ... 5.28 (fixed). Test:
    buggy val loss 5.152, median 96.7, MAE 40.3, Spearman 0.489; the same model on training-scaled test windows
    5.072 / 85.6 / 35.7; fixed 5.070 / 85.4 / 35.9 / 0.435.
  On the repository's own FD001 files (Keras, same loop): buggy val loss 5.039, median 70.8 (true mean 75.5), MAE
    33.0, Spearman 0.490; training-scaled test windows 5.052 / 67.7 / 33.6 / 0.500.
  So the fault is plain in the preprocessing (a 25..31 % scale difference between the two paths on every feature)
  but small in the predictions at this budget: the stand-in's Keras model predicts 11 cycles longer lives on the
  mis-scaled test windows (MAE +4.6), torch 3 cycles, FD001 3 cycles, and the ranking of engines hardly moves.
  The reason is the normalisation both versions keep: ``normalize(axis=0)`` leaves every feature near
  1/sqrt(rows) ~ 0.005..0.03, with the degradation signal in the 4th decimal, so after 1500 steps the LSTM mostly
  reads how many days are unmasked and little of the readings; a 25 % shift of inputs that small moves its state
  little. Training itself is the same in both versions (only the test path differs). ``inputs_normalized`` is
  expected to flag both versions (peak |x| ~0.03, most values ~0.005 -- the script's own scaling, untouched by the
  fix). Time per step (batch 128, one thread): torch ~50 ms, Keras ~55 ms; builds ~1 s (torch) / ~7 s (Keras).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "preprocessing_mismatch"
SOURCE = ("github:daynebatten/keras-wtte-rnn PR #2 (wtte-rnn.py@f1f4f51cba6eb6ac641f8f737384194d84ebcc72: "
          "'train[:, 2:26] = normalize(train[:, 2:26], axis=0); test_x[:, 2:26] = normalize(test_x[:, 2:26], "
          "axis=0)', sklearn column-wise L2 normalisation of each table on its own; fix "
          "e1c879890f5579e1937c78023b735d0c29c48355 'Normalize train and test X together.')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("preprocessing_parity", {}), ("inputs_normalized", {}), ("loss_decreases", {}),
          ("overfit_one_batch", {})]

MAX_TIME = 100  # max_time = 100
N_FEATURES = 24  # columns 2:26: three operational settings and 21 sensors
LSTM_UNITS = 20  # LSTM(20, input_dim=24)
LEARNING_RATE = 0.001  # RMSprop(lr=.001)
RHO = 0.9
# port: batches of 128 instead of batch_size=2000
BATCH_SIZE = 128
N_BATCHES = 4
N_ENGINES = 100  # FD001: 100 training and 100 test trajectories
N_RAW = 16
SEED = 0

# per column of FD001 train.csv (columns 2:26): healthy level (mean where > 100 cycles remain), change at failure
# (mean over the last 5 cycles minus the healthy level), healthy noise std
_LEVEL = np.array([-0.0, 0.0, 100.0, 518.67, 642.4223, 1587.4911, 1403.7489, 14.62, 21.6097, 553.8628, 2388.0632,
                   9057.8107, 1.3, 47.3835, 521.8331, 2388.0621, 8138.7022, 8.4216, 0.03, 392.4082, 2388.0,
                   100.0, 38.9136, 23.3479])
_CHANGE = np.array([0.0, 0.0, 0.0, 0.0, 1.2477, 14.798, 25.1779, 0.0, 0.0003, -2.368, 0.1689, 40.1813, 0.0,
                    0.7587, -2.0239, 0.1714, 28.1643, 0.0988, 0.0, 3.8318, 0.0, 0.0, -0.4676, -0.2779])
_NOISE = np.array([0.00217, 0.00029, 0.0, 0.0, 0.37451, 4.66472, 6.0065, 0.0, 0.00181, 0.61894, 0.05387, 8.70937,
                   0.0, 0.17441, 0.50091, 0.05443, 8.16993, 0.02652, 0.0, 1.14656, 0.0, 0.0, 0.13108, 0.07877])
_DECAY = 40.0  # cycles: the degradation curve exp(-(remaining cycles) / 40)


# ------------------------------------------------------------------------------------------------------------ data

def _engine(r: np.random.Generator, n_cycles: int, life: int) -> np.ndarray:
    """Raw readings (n_cycles, 24) of one engine whose failure comes after ``life`` cycles."""
    t = np.arange(1, n_cycles + 1, dtype=np.float64)
    wear = np.exp(-(life - t) / _DECAY)[:, None]
    offset = r.normal(0.0, 0.5, N_FEATURES) * _NOISE  # initial wear and manufacturing variation
    x = _LEVEL + offset + _CHANGE * wear + r.normal(0.0, 1.0, (n_cycles, N_FEATURES)) * _NOISE
    return x


def _life(r: np.random.Generator) -> int:
    return int(np.clip(128 + r.gamma(2.0, 39.0), 128, 362))


@functools.lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``train`` and ``test_x`` as the script loads them after ``train[:, 0:2] -= 1`` (engine, day, 24 raw
    features; engines and days zero-indexed) and ``test_y`` (remaining life of each test engine)."""
    r = np.random.default_rng(SEED)
    train, test, rul = [], [], []
    for e in range(N_ENGINES):
        life = _life(r)
        x = _engine(r, life, life)
        train.append(np.column_stack([np.full(life, e), np.arange(life), x]))
    for e in range(N_ENGINES):
        life = _life(r)
        remaining = int(r.integers(7, 146))
        n = max(31, life - remaining)
        life = max(life, n + 7)
        x = _engine(r, n, life)
        test.append(np.column_stack([np.full(n, e), np.arange(n), x]))
        rul.append(life - n)
    return np.concatenate(train), np.concatenate(test), np.asarray(rul, dtype=np.float64)


def _norms(fixed: bool) -> tuple[np.ndarray, np.ndarray]:
    """The column norms ``normalize(axis=0)`` divides the training and the test features by."""
    train, test, _ = _tables()
    if fixed:  # all_x = np.concatenate((train[:, 2:26], test_x[:, 2:26])); all_x = normalize(all_x, axis=0)
        n = np.linalg.norm(np.concatenate((train[:, 2:], test[:, 2:])), axis=0)
        return n, n
    return np.linalg.norm(train[:, 2:], axis=0), np.linalg.norm(test[:, 2:], axis=0)


def _window(rows: np.ndarray, j: int) -> np.ndarray:
    """build_data's window for day j of one engine: the last MAX_TIME days up to j, zero-padded at the front."""
    xtemp = np.zeros((MAX_TIME, N_FEATURES))
    xtemp[MAX_TIME - min(j, MAX_TIME - 1) - 1:MAX_TIME, :] = rows[max(0, j - MAX_TIME + 1):j + 1, :]
    return xtemp


def _engine_rows(table: np.ndarray) -> list[np.ndarray]:
    return [table[table[:, 0] == e][:, 2:] for e in range(N_ENGINES)]


def _train_windows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n raw training windows of random engine-days (fit's shuffle) and their targets (days to failure, 1)."""
    train, _, _ = _tables()
    rows = _engine_rows(train)
    r = np.random.default_rng(seed)
    xs, ys = [], []
    for _ in range(n):
        e = int(r.integers(N_ENGINES))
        max_engine_time = len(rows[e])
        j = int(r.integers(max_engine_time))
        xs.append(_window(rows[e], j))
        ys.append((max_engine_time - j, 1))
    return np.stack(xs), np.asarray(ys, dtype=np.float64)


def _test_windows() -> tuple[np.ndarray, np.ndarray]:
    """The last observed day of each test engine (raw), and its target (remaining life, 1)."""
    _, test, rul = _tables()
    rows = _engine_rows(test)
    xs = np.stack([_window(rw, len(rw) - 1) for rw in rows])
    return xs, np.column_stack([rul, np.ones(N_ENGINES)])


def _pipelines(fixed: bool):
    train_norm, test_norm = _norms(fixed)

    def train_pipeline(window: np.ndarray) -> np.ndarray:
        """A raw zero-padded window (MAX_TIME, 24) as the training windows are scaled."""
        return (np.asarray(window, dtype=np.float64) / train_norm).astype("float32")

    def eval_pipeline(window: np.ndarray) -> np.ndarray:
        """The same window as the test windows fed to predict / validation are scaled."""
        return (np.asarray(window, dtype=np.float64) / test_norm).astype("float32")

    return train_pipeline, eval_pipeline


def _common(fixed: bool) -> dict[str, Any]:
    train_pipeline, eval_pipeline = _pipelines(fixed)
    x, y = _train_windows(BATCH_SIZE * N_BATCHES, SEED + 1)
    xs = np.stack([train_pipeline(w) for w in x])
    ys = y.astype("float32")
    bs = [(xs[i:i + BATCH_SIZE], ys[i:i + BATCH_SIZE]) for i in range(0, len(xs), BATCH_SIZE)]
    tx, ty = _test_windows()
    return {"batches": bs, "inputs": np.stack([eval_pipeline(w) for w in tx]), "test_targets": ty.astype("float32"),
            "train_pipeline": train_pipeline, "eval_pipeline": eval_pipeline,
            "raw_samples": [w.copy() for w in tx[:N_RAW]]}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)

    class WtteRnn(nn.Module):
        """Masking(mask_value=0.) -> LSTM(20) -> Dense(2) -> Activation(activate), Keras semantics."""

        def __init__(self) -> None:
            super().__init__()
            self.cell = nn.LSTMCell(N_FEATURES, LSTM_UNITS)
            self.dense = nn.Linear(LSTM_UNITS, 2)
            with torch.no_grad():  # Keras LSTM defaults: glorot_uniform, orthogonal, zeros + unit_forget_bias
                kernel = torch.empty(N_FEATURES, 4 * LSTM_UNITS)
                nn.init.xavier_uniform_(kernel)
                self.cell.weight_ih.copy_(kernel.t())
                recurrent = torch.empty(LSTM_UNITS, 4 * LSTM_UNITS)
                nn.init.orthogonal_(recurrent)
                self.cell.weight_hh.copy_(recurrent.t())
                self.cell.bias_ih.zero_()
                self.cell.bias_ih[LSTM_UNITS:2 * LSTM_UNITS] = 1.0
                self.cell.bias_hh.zero_()
                nn.init.xavier_uniform_(self.dense.weight)
                nn.init.zeros_(self.dense.bias)

        def forward(self, x: Any) -> Any:
            mask = (x != 0.0).any(dim=-1, keepdim=True).to(x.dtype)  # Masking: a day of all-zero features
            h = x.new_zeros(x.shape[0], LSTM_UNITS)
            c = x.new_zeros(x.shape[0], LSTM_UNITS)
            for t in range(x.shape[1]):
                h_new, c_new = self.cell(x[:, t] * mask[:, t], (h, c))
                m = mask[:, t]
                h = m * h_new + (1 - m) * h
                c = m * c_new + (1 - m) * c
            ab = self.dense(h)
            # activate: alpha = exp, beta = softplus
            a = torch.exp(ab[:, 0]).reshape(-1, 1)
            b = nn.functional.softplus(ab[:, 1]).reshape(-1, 1)
            return torch.cat((a, b), dim=1)

    def weibull_loglik_discrete(ab_pred: Any, y_true: Any) -> Any:
        y_ = y_true[:, 0]
        u_ = y_true[:, 1]
        a_ = ab_pred[:, 0]
        b_ = ab_pred[:, 1]
        hazard0 = torch.pow((y_ + 1e-35) / a_, b_)
        hazard1 = torch.pow((y_ + 1) / a_, b_)
        return -1 * torch.mean(u_ * torch.log(torch.exp(hazard1 - hazard0) - 1.0) - hazard1)

    d = _common(fixed)
    bs = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in d["batches"]]
    return {"model": WtteRnn(), "batch": bs[0], "batches": bs, "inputs": torch.from_numpy(d["inputs"]),
            "loss_fn": weibull_loglik_discrete,
            "optimizer": lambda params: torch.optim.RMSprop(params, lr=LEARNING_RATE, alpha=RHO, eps=1e-7),
            "train_pipeline": d["train_pipeline"], "eval_pipeline": d["eval_pipeline"],
            "raw_samples": d["raw_samples"]}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import ops as k

    keras.utils.set_random_seed(SEED)

    def weibull_loglik_discrete(y_true: Any, ab_pred: Any, name: Any = None) -> Any:
        y_ = y_true[:, 0]
        u_ = y_true[:, 1]
        a_ = ab_pred[:, 0]
        b_ = ab_pred[:, 1]

        hazard0 = k.power((y_ + 1e-35) / a_, b_)
        hazard1 = k.power((y_ + 1) / a_, b_)

        return -1 * k.mean(u_ * k.log(k.exp(hazard1 - hazard0) - 1.0) - hazard1)

    def activate(ab: Any) -> Any:
        a = k.exp(ab[:, 0])
        b = k.softplus(ab[:, 1])

        a = k.reshape(a, (k.shape(a)[0], 1))
        b = k.reshape(b, (k.shape(b)[0], 1))

        return k.concatenate((a, b), axis=1)

    model = keras.models.Sequential()
    # Mask parts of the lookback period that are all zeros (i.e., unobserved) so they don't skew the model
    model.add(keras.Input(shape=(MAX_TIME, N_FEATURES)))
    model.add(keras.layers.Masking(mask_value=0.))
    model.add(keras.layers.LSTM(LSTM_UNITS))
    # We need 2 neurons to output Alpha and Beta parameters for our Weibull distribution
    model.add(keras.layers.Dense(2))
    # Apply the custom activation function mentioned above
    model.add(keras.layers.Activation(activate))
    model.compile(loss=weibull_loglik_discrete,
                  optimizer=keras.optimizers.RMSprop(learning_rate=LEARNING_RATE, rho=RHO))
    d = _common(fixed)
    return {"model": model, "batch": d["batches"][0], "batches": d["batches"], "inputs": d["inputs"],
            "train_pipeline": d["train_pipeline"], "eval_pipeline": d["eval_pipeline"],
            "raw_samples": d["raw_samples"]}


buggy, fixed = versions(_torch, _keras)
