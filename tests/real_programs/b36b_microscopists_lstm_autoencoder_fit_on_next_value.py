"""DigitalSreeni's python_for_microscopists, ``180_LSTM_encoder_decoder_anomaly_GE.py`` (video tutorial
"Time series anomaly detection using LSTM autoencoders"): GE daily closing prices from Yahoo Finance
(``data/GE.csv``), ``StandardScaler`` fitted on the part up to 2003-12-31, cut by ``to_sequences`` into windows
``trainX`` of shape ``(N, 30, 1)`` and next-day values ``trainY`` of shape ``(N,)``; the LSTM autoencoder
``LSTM(128) -> Dropout(0.2) -> RepeatVector(30) -> LSTM(128, return_sequences=True) -> Dropout(0.2) ->
TimeDistributed(Dense(1))``, ``compile(optimizer='adam', loss='mae')``, ``fit(..., epochs=10, batch_size=32,
validation_split=0.1)``; anomalies are windows whose reconstruction MAE ``|predict(X) - X|`` exceeds a threshold.
The fault: the autoencoder was fitted as ``model.fit(trainX, trainY, ...)``: the targets are the next-day
values, shape ``(32,)`` per batch, against outputs of shape ``(32, 30, 1)``. Keras' ``mae`` (``mean(|y_true -
y_pred|, axis=-1)``; it only squeezes/expands a rank difference of one) broadcasts them to ``(32, 30, 32)``:
every output position of every sample is scored against all 32 targets of the batch, so the loss is minimised
by one constant output, the batch median of the targets, whatever the input window. The script runs without
error ("Works fine in Tensorflow 2.2 / Keras 2.4.3" in its header) and the model learns nothing about its input:
the reconstruction error used for anomaly detection is just the window's distance from that constant.
Source: github.com/bnsreenu/python_for_microscopists, ``180_LSTM_encoder_decoder_anomaly_GE.py`` at d2cc3779^,
fixed by commit d2cc3779de7b0b3c51b6e13d48746b95b6715d18 "Update 180_LSTM_encoder_decoder_anomaly_GE.py"
("The fit should be done using the trainX as a target to have a reconstruction error"):
``model.fit(trainX, trainX, ...)``.
Program lines kept: ``to_sequences`` (verbatim), the ``StandardScaler`` fitted on the train part, ``seq_size =
30``, the "Try another model" layers with their sizes and dropout, Adam with Keras' default lr 1e-3, loss
``'mae'``, batches of 32, the 90/10 ``validation_split`` (the last 10% of windows held out, the rest shuffled).
Ported minimally: ``keras`` 2 -> Keras 3 with the same layers (``input_shape=`` moved into ``keras.Input``);
``fit`` for 10 epochs -> the checks' own steps on 6 seeded shuffled batches of 32 windows; the plots, the test
part and the anomaly thresholding are left out (they only read the trained model). Torch twin: the same layers
(``nn.LSTM(1, 128)`` last hidden state -> Dropout -> repeat 30 times -> ``nn.LSTM(128, 128)`` -> Dropout ->
``nn.Linear(128, 1)`` on every step; PyTorch's default LSTM init rather than Keras' glorot/orthogonal),
``nn.L1Loss()`` (broadcasts ``(32, 30, 1)`` against ``(32,)`` to the same ``(32, 30, 32)``, with only a
warning; its mean equals Keras' mean over the last axis then over the rest), ``Adam(lr=1e-3, eps=1e-7)``
(Keras' epsilon). The fault is the same in both: the target array handed to the fit.
Data stand-in (no Yahoo download): 2,520 business days from 1994-01-03 (10 years; the real train part,
1962..2003, is ~10,500 days) of a seeded geometric random walk (drift 4e-4/day, volatility 1.2-2% per day
varying slowly) starting at $12, in a DataFrame with ``Date`` and ``Close`` columns, then the program's own
split/scaler/``to_sequences``: windows ``(2490, 30, 1)`` float32, standardised (about -2.2 .. 2.6; prices $6-17),
targets ``(2490,)``.
Fault label: target_shape (next-value targets of shape (B,) against (B, 30, 1) reconstructions; the loss
broadcasts). Fix (d2cc3779): the windows themselves as the targets.
Own plain loop (OMP_NUM_THREADS=1, seeded; loss on the first batch, train mode off; "spread" = std over the
192 input windows of the mean prediction per window, the inputs' own is 0.96):
torch, cycling the 6 batches: buggy loss 0.927 (step 0) -> 0.931 (50) -> 0.931 (300), spread 0.04, window
reconstruction MAE 0.79; fixed 0.838 -> 0.177 (50) -> 0.144 (300), spread 0.93, reconstruction MAE 0.155.
Keras: buggy 0.935 -> 0.932 (50) -> 0.932 (300), spread 0.04; fixed 0.849 -> 0.164 (50) -> 0.123 (300),
spread 0.88. One batch, 300 steps: buggy 0.927 -> 0.9224 in both frameworks, which is exactly that batch's
mean |y - median(y)| (the floor of the broadcast loss), spread 0.007-0.017; fixed 0.838 -> 0.147 (torch),
0.849 -> 0.102 (Keras). About 10-15 ms per torch step and 40-50 ms per Keras step on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "target_shape"
SOURCE = ("github:bnsreenu/python_for_microscopists 180_LSTM_encoder_decoder_anomaly_GE.py@d2cc3779^ "
          "(model.fit(trainX, trainY, ...); fix d2cc3779de7b0b3c51b6e13d48746b95b6715d18 "
          "'Update 180_LSTM_encoder_decoder_anomaly_GE.py': model.fit(trainX, trainX, ...))")
FRAMEWORKS = ("keras", "torch")
# the lead removed input_independent_baseline, which the port listed: a usage error on the program's
# batch of 32 (it needs 64 samples)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {})]

seq_size = 30  # Number of time steps to look back
batch_size = 32
units = 128
dropout = 0.2
learning_rate = 1e-3  # optimizer='adam' (Keras default)
validation_split = 0.1
n_batches = 6
n_days = 2520  # stand-in length: 10 years of trading days (the program's train part is 1962..2003)


def _ge_like(seed: int = 0):
    """Daily closing prices as in data/GE.csv (Yahoo Finance, columns Date and Close): a seeded geometric
    random walk with drift and slowly changing volatility, on business days, positive prices in dollars."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    vol = 0.012 + 0.008 * (1 + np.sin(np.linspace(0, 6 * np.pi, n_days))) / 2
    ret = 0.0004 + vol * rng.standard_normal(n_days)
    close = 12.0 * np.exp(np.cumsum(ret))
    dates = pd.bdate_range("1994-01-03", periods=n_days)
    return pd.DataFrame({"Date": dates.strftime("%Y-%m-%d"), "Open": close, "Close": close})


def to_sequences(x, y, seq_size=1):  # program lines
    x_values = []
    y_values = []

    for i in range(len(x) - seq_size):
        x_values.append(x.iloc[i:(i + seq_size)].values)
        y_values.append(y.iloc[i + seq_size])

    return np.array(x_values), np.array(y_values)


def _data(fixed: bool):
    import pandas as pd
    from sklearn.preprocessing import StandardScaler

    dataframe = _ge_like()
    df = dataframe[["Date", "Close"]].copy()
    df["Date"] = pd.to_datetime(df["Date"])
    train = df.loc[df["Date"] <= "2003-12-31"].copy()
    scaler = StandardScaler()
    scaler = scaler.fit(train[["Close"]])
    train["Close"] = scaler.transform(train[["Close"]])
    trainX, trainY = to_sequences(train[["Close"]], train["Close"], seq_size)
    trainX, trainY = trainX.astype("float32"), trainY.astype("float32")
    # model.fit(..., batch_size=32, validation_split=0.1): the last 10% held out, the rest shuffled per epoch
    n_fit = int(len(trainX) * (1 - validation_split))
    idx = np.random.default_rng(0).permutation(n_fit)[:n_batches * batch_size]
    target = trainX if fixed else trainY  # d2cc3779: model.fit(trainX, trainX, ...); before: (trainX, trainY)
    batches = [(trainX[idx[i:i + batch_size]], target[idx[i:i + batch_size]])
               for i in range(0, len(idx), batch_size)]
    return batches


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    batches = _data(fixed)
    inputs = np.concatenate([b[0] for b in batches])
    n_features = inputs.shape[2]
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(0)
        model = keras.Sequential()  # "Try another model" (program lines)
        model.add(keras.Input(shape=(seq_size, n_features)))
        model.add(keras.layers.LSTM(units))
        model.add(keras.layers.Dropout(rate=dropout))
        model.add(keras.layers.RepeatVector(seq_size))
        model.add(keras.layers.LSTM(units, return_sequences=True))
        model.add(keras.layers.Dropout(rate=dropout))
        model.add(keras.layers.TimeDistributed(keras.layers.Dense(n_features)))
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss="mae")
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs}

    import torch
    from torch import nn

    torch.manual_seed(0)

    class LSTMAutoencoder(nn.Module):  # the same layers as the Keras model
        def __init__(self):
            super().__init__()
            self.enc = nn.LSTM(n_features, units, batch_first=True)
            self.drop1 = nn.Dropout(dropout)
            self.dec = nn.LSTM(units, units, batch_first=True)
            self.drop2 = nn.Dropout(dropout)
            self.out = nn.Linear(units, n_features)  # TimeDistributed(Dense(n_features))

        def forward(self, x):
            _, (h, _) = self.enc(x)
            z = self.drop1(h[-1])
            z = z.unsqueeze(1).repeat(1, seq_size, 1)  # RepeatVector(seq_size)
            y, _ = self.dec(z)
            return self.out(self.drop2(y))

    tb = [(torch.tensor(x), torch.tensor(y)) for x, y in batches]
    return {"model": LSTMAutoencoder(), "batch": tb[0], "batches": tb, "inputs": torch.tensor(inputs),
            # loss='mae': (B, 30, 1) outputs against (B,) next-value targets broadcast to (B, 30, B) as in Keras
            "loss_fn": nn.L1Loss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=learning_rate, eps=1e-7)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
