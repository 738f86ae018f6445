"""JulesBelveze/time-series-autoencoder ("LSTM-autoencoder with attentions for multivariate time series", a
dual-stage attention RNN after DA-RNN, Qin et al. 2017), forecasting mode: ``TimeSeriesDataset`` scales the
numerical feature columns with a ``ColumnTransformer([("scaler", StandardScaler(), numerical_cols), ...])`` and
frames windows of ``seq_len=10`` steps (features ``X[i:i+10]``, lagged target history ``y[i-1:i+9]``, target
``y[i+10]``); ``AutoEncForecast`` = ``AttnEncoder`` (input attention over the features, LSTM(128) stepped one
time step at a time) + ``AttnDecoder`` (temporal attention over the encoder states, ``fc`` on [context,
y_history[t]] feeding an LSTM(128), ``fc_out`` on [h, context]); ``nn.MSELoss()``, ``Adam(lr=1e-5)``,
``clip_grad_norm_(model.parameters(), 0.1)`` in the loop, batch size 16, ``shuffle=False`` loaders.
The fault: ``preprocess_data`` scales only X and returns ``y_train.values`` raw, so both the regression target
and the decoder's ``y_history`` input are raw prices. The reporter of issue #18 trained on NFLX daily data
(2014-2021, close ~$50 -> ~$530) with the default parameters: the test predictions were ~20 against targets of
~500 ("Predictions are scaled wrongly"). With a linear ``fc_out`` starting near 0 and Adam moving each weight
by ~lr per step, the network cannot climb to outputs in the hundreds; the MSE stays in the tens of thousands,
and the raw prices entering ``fc`` (weights drawn N(0, 1) by ``self.fc.weight.data.normal_()``) give the
decoder LSTM inputs tens to hundreds in size, pushing its gates toward saturation.

Source: github.com/JulesBelveze/time-series-autoencoder issue #18, fixed by PR #19 "fix: target scale"
(commit 9bff0e76ec23af19c4b35cbb4feb57b784abf004; buggy files ``tsa/dataset.py``, ``tsa/model.py``,
``tsa/train.py``, ``tsa/config.py``, ``tsa/main.py`` at 9bff0e7^ = 2c00b37). The fix adds
``self.y_scaler = StandardScaler()`` and ``y_train = self.y_scaler.fit_transform(y_train)`` (test split
``transform``), plus ``invert_scale`` for plotting in the original units.
Program lines kept: ``preprocess_data`` (ColumnTransformer on the numerical columns, ``train_test_split(...,
train_size=0.8, shuffle=False)``, raw vs scaled y), ``frame_series``, ``init_hidden`` (xavier-normal draws
into a zero tensor, so each forward starts from small random states, std ~0.03), ``AttnEncoder``,
``AttnDecoder``, ``AutoEncForecast``, the config (seq_len 10, hidden 128/128, input_att and temporal_att on,
denoising off, lr 1e-5, max_grad_norm 0.1, batch 16), ``nn.MSELoss()``, Adam, the loop body as
``train_step`` (zero_grad, forward, MSE, backward, ``clip_grad_norm_(0.1)``, step).
Ported minimally: ``Variable``/``.to(device)`` dropped; the two forward inputs (features and y_hist) travel as
one tensor (N, 10, 5 + 1) whose last channel is y_hist, split by a thin wrapper; the config's
``reg1=True`` L1 penalty (1e-4 * ||w||_1 added in the loop) is left out in both frameworks (the loss_fn may not
close over the model; it does not touch the fault). No size is shrunk (timings below).
Keras twin: the same encoder/decoder as a subclassed ``keras.Model`` with ``LSTMCell(128)`` stepped in a Python
loop, Dense layers for ``attn``/``fc``/``fc_out`` (``fc`` kernel N(0, 1) as in the program), the same random
initial states (normal, std sqrt(2 / ((B + 1) * 128))), ``loss="mse"``, ``Adam(1e-5, global_clipnorm=0.1)``
(``clip_grad_norm_`` clips the global norm).
Data stand-in (the issue's NFLX csv is not shipped): 1,900 seeded trading days of a geometric random walk with
drift from $52 to ~$530 (NFLX 2014-01 .. 2021-07, split-adjusted), columns Open/High/Low/Close/Adj Close/Volume
as in a Yahoo download, label column "Close", the other five numerical columns scaled by the program's
ColumnTransformer; 8 of the train loader's batches of 16 consecutive windows, evenly spaced over the 80 % train
split (batch target means $50 .. $411).
Fault label: targets_not_normalized (raw price targets, and the same raw prices fed back as y_history).
Fix (PR #19): ``y_train = self.y_scaler.fit_transform(y_train)``; predictions are inverse-transformed for
evaluation.
Symptom in a short loop (plain loop cycling over the 8 batches, OMP_NUM_THREADS=1; "first"/"last" = mean loss over
the first/last 8 steps; the 8 batches' targets average $148): torch (the loop body as ``train_step``), 400 steps:
buggy MSE 3.32e4 -> 3.31e4, fixed 1.40 -> 1.36; 1,600 steps: buggy 3.32e4 -> 3.14e4 with the predictions still
averaging 6.9 (the issue's "~20 against ~500" after 100 epochs), fixed 1.40 -> 0.93; one batch (first batch,
prices ~$50), 300 steps: buggy 2478 -> 2429, fixed 1.09 -> 0.84. Keras (``train_on_batch``), 200 steps over the
8 batches: buggy 3.34e4 -> 3.33e4 (mean prediction -0.2), fixed 1.11 -> 0.71. The fixed version also learns
slowly (lr 1e-5, the program's), but in its own units it moves; the buggy one stays at ~the mean squared price.
A torch step takes ~55-70 ms and a Keras step ~85-90 ms here (two shared CPU cores; no size was shrunk).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "targets_not_normalized"
SOURCE = ("github:JulesBelveze/time-series-autoencoder issue #18, PR #19 (tsa/dataset.py preprocess_data@9bff0e7^, "
          "tsa/model.py, tsa/train.py, tsa/config.py; fix 9bff0e76ec23af19c4b35cbb4feb57b784abf004)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {}),
          ("init_loss", {})]

config = dict(
    categorical_cols=[],  # the stock csv has none
    label_col=["Close"],
    output_size=1,
    batch_size=16,
    lr=1e-5,
    seq_len=10,
    prediction_window=1,
    hidden_size_encoder=128,
    hidden_size_decoder=128,
    input_att=True,
    temporal_att=True,
    denoising=False,
    directions=1,
    max_grad_norm=0.1,
)
n_days = 1900
n_batches = 8


def _nflx_like(seed: int = 0) -> Any:
    """Yahoo-style daily OHLCV frame, split-adjusted NFLX-like path 2014-01 .. 2021-07."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    ret = rng.normal(0.0, 0.025, n_days)
    ret += (np.log(530.0 / 52.0) - ret.sum()) / n_days  # end near $530
    close = 52.0 * np.exp(np.cumsum(ret))
    open_ = close * np.exp(rng.normal(0, 0.012, n_days))
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.01, n_days)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.01, n_days)))
    volume = np.exp(rng.normal(np.log(8e6), 0.4, n_days)).round()
    return pd.DataFrame({"Open": open_, "High": high, "Low": low, "Close": close, "Adj Close": close,
                         "Volume": volume}, index=pd.RangeIndex(n_days, name="Date"))


class TimeSeriesDataset(object):  # program lines (tsa/dataset.py), torch-free framing
    def __init__(self, data, categorical_cols, target_col, seq_length, prediction_window=1, scale_target=False):
        self.data = data
        self.categorical_cols = categorical_cols
        self.numerical_cols = [c for c in data.columns if c not in set(categorical_cols) | set(target_col)]
        self.target_col = target_col
        self.seq_length = seq_length
        self.prediction_window = prediction_window
        self.scale_target = scale_target
        self.preprocessor = None

    def preprocess_data(self):
        from sklearn.compose import ColumnTransformer
        from sklearn.model_selection import train_test_split
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        X = self.data.drop(self.target_col, axis=1)
        y = self.data[self.target_col]
        self.preprocessor = ColumnTransformer(
            [("scaler", StandardScaler(), self.numerical_cols),
             ("encoder", OneHotEncoder(), self.categorical_cols)],
            remainder="passthrough"
        )
        X_train, X_test, y_train, y_test = train_test_split(X, y, train_size=0.8, shuffle=False)
        X_train = self.preprocessor.fit_transform(X_train)
        X_test = self.preprocessor.transform(X_test)
        if self.scale_target:  # fix (PR #19)
            self.y_scaler = StandardScaler()
            return X_train, X_test, self.y_scaler.fit_transform(y_train), self.y_scaler.transform(y_test)
        return X_train, X_test, y_train.values, y_test.values  # buggy: raw prices

    def frame_series(self, X, y):
        nb_obs, nb_features = X.shape
        features, target, y_hist = [], [], []
        for i in range(1, nb_obs - self.seq_length - self.prediction_window):
            features.append(X[i:i + self.seq_length, :][None])
            # lagged output used for prediction
            y_hist.append(y[i - 1:i + self.seq_length - 1][None])
            target.append(y[i + self.seq_length:i + self.seq_length + self.prediction_window])
        return (np.concatenate(features).astype("float32"), np.concatenate(y_hist).astype("float32"),
                np.concatenate(target).astype("float32"))


def _data(scale_target: bool) -> tuple[list[tuple[np.ndarray, np.ndarray]], int]:
    ts = TimeSeriesDataset(_nflx_like(), config["categorical_cols"], config["label_col"], config["seq_len"],
                           config["prediction_window"], scale_target=scale_target)
    X_train, _, y_train, _ = ts.preprocess_data()
    feats, y_hist, target = ts.frame_series(X_train, y_train)
    x = np.concatenate([feats, y_hist], axis=2)  # (N, 10, nb_features + 1): last channel = y_hist
    bs = config["batch_size"]
    n_loader = len(x) // bs  # DataLoader(shuffle=False, drop_last=True)
    picks = np.linspace(0, n_loader - 1, n_batches).round().astype(int)
    return [(x[k * bs:(k + 1) * bs], target[k * bs:(k + 1) * bs]) for k in picks], X_train.shape[1]


def _torch(batches: list, nb_features: int) -> dict[str, Any]:
    import torch
    from torch import nn
    from torch.nn import functional as tf

    torch.manual_seed(0)

    def init_hidden(x, hidden_size, num_dir=1, xavier=True):
        if xavier:
            return nn.init.xavier_normal_(torch.zeros(num_dir, x.size(0), hidden_size))
        return torch.zeros(num_dir, x.size(0), hidden_size)

    class AttnEncoder(nn.Module):  # program lines
        def __init__(self, config, input_size):
            super().__init__()
            self.input_size = input_size
            self.hidden_size = config['hidden_size_encoder']
            self.seq_len = config['seq_len']
            self.add_noise = config['denoising']
            self.directions = config['directions']
            self.lstm = nn.LSTM(input_size=self.input_size, hidden_size=self.hidden_size, num_layers=1)
            self.attn = nn.Linear(in_features=2 * self.hidden_size + self.seq_len, out_features=1)
            self.softmax = nn.Softmax(dim=1)

        def forward(self, input_data):
            h_t, c_t = (init_hidden(input_data, self.hidden_size, num_dir=self.directions),
                        init_hidden(input_data, self.hidden_size, num_dir=self.directions))
            attentions, input_encoded = (torch.zeros(input_data.size(0), self.seq_len, self.input_size),
                                         torch.zeros(input_data.size(0), self.seq_len, self.hidden_size))
            for t in range(self.seq_len):
                x = torch.cat((h_t.repeat(self.input_size, 1, 1).permute(1, 0, 2),
                               c_t.repeat(self.input_size, 1, 1).permute(1, 0, 2),
                               input_data.permute(0, 2, 1)), dim=2)  # bs * input_size * (2 * hidden_dim + seq_len)
                e_t = self.attn(x.view(-1, self.hidden_size * 2 + self.seq_len))  # (bs * input_size) * 1
                a_t = self.softmax(e_t.view(-1, self.input_size))  # (bs, input_size)
                weighted_input = torch.mul(a_t, input_data[:, t, :])  # (bs * input_size)
                _, (h_t, c_t) = self.lstm(weighted_input.unsqueeze(0), (h_t, c_t))
                input_encoded[:, t, :] = h_t
                attentions[:, t, :] = a_t
            return attentions, input_encoded

    class AttnDecoder(nn.Module):  # program lines
        def __init__(self, config):
            super().__init__()
            self.seq_len = config['seq_len']
            self.encoder_hidden_size = config['hidden_size_encoder']
            self.decoder_hidden_size = config['hidden_size_decoder']
            self.out_feats = config['output_size']
            self.attn = nn.Sequential(
                nn.Linear(2 * self.decoder_hidden_size + self.encoder_hidden_size, self.encoder_hidden_size),
                nn.Tanh(),
                nn.Linear(self.encoder_hidden_size, 1)
            )
            self.lstm = nn.LSTM(input_size=self.out_feats, hidden_size=self.decoder_hidden_size)
            self.fc = nn.Linear(self.encoder_hidden_size + self.out_feats, self.out_feats)
            self.fc_out = nn.Linear(self.decoder_hidden_size + self.encoder_hidden_size, self.out_feats)
            self.fc.weight.data.normal_()

        def forward(self, input_encoded, y_history):
            h_t, c_t = (init_hidden(input_encoded, self.decoder_hidden_size),
                        init_hidden(input_encoded, self.decoder_hidden_size))
            context = torch.zeros(input_encoded.size(0), self.encoder_hidden_size)
            for t in range(self.seq_len):
                x = torch.cat((h_t.repeat(self.seq_len, 1, 1).permute(1, 0, 2),
                               c_t.repeat(self.seq_len, 1, 1).permute(1, 0, 2),
                               input_encoded), dim=2)
                x = tf.softmax(self.attn(x.view(-1, 2 * self.decoder_hidden_size + self.encoder_hidden_size)
                                         ).view(-1, self.seq_len), dim=1)
                context = torch.bmm(x.unsqueeze(1), input_encoded)[:, 0, :]  # (batch_size, encoder_hidden_size)
                y_tilde = self.fc(torch.cat((context, y_history[:, t]), dim=1))  # (batch_size, out_size)
                _, (h_t, c_t) = self.lstm(y_tilde.unsqueeze(0), (h_t, c_t))
            return self.fc_out(torch.cat((h_t[0], context), dim=1))  # predicting value at t=self.seq_length+1

    class AutoEncForecast(nn.Module):  # program lines
        def __init__(self, config, input_size):
            super().__init__()
            self.encoder = AttnEncoder(config, input_size)
            self.decoder = AttnDecoder(config)

        def forward(self, encoder_input, y_hist, return_attention=False):
            attentions, encoder_output = self.encoder(encoder_input)
            outputs = self.decoder(encoder_output, y_hist.float())
            if return_attention:
                return outputs, attentions
            return outputs

    class Packed(nn.Module):  # port: one input tensor, last channel = y_hist
        def __init__(self):
            super().__init__()
            self.net = AutoEncForecast(config, input_size=nb_features)

        def forward(self, x):
            return self.net(x[:, :, :-1], x[:, :, -1:])

    def train_step(model, optimizer, criterion, feature_and_hist, target):  # tsa/train.py loop body
        model.train()
        optimizer.zero_grad()
        output = model(feature_and_hist)
        loss = criterion(output, target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config['max_grad_norm'])
        optimizer.step()
        return loss

    model = Packed()
    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.cat([a for a, _ in tb]),
            "loss_fn": nn.MSELoss(), "train_step": train_step,
            "optimizer": lambda p: torch.optim.Adam(p, lr=config["lr"])}


def _keras(batches: list, nb_features: int) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)
    H_enc, H_dec, T = config["hidden_size_encoder"], config["hidden_size_decoder"], config["seq_len"]

    class AutoEncForecast(keras.Model):
        def __init__(self):
            super().__init__()
            self.seed = keras.random.SeedGenerator(0)
            # AttnEncoder
            self.enc_lstm = layers.LSTMCell(H_enc)
            self.enc_attn = layers.Dense(1)
            # AttnDecoder
            self.dec_attn1 = layers.Dense(H_enc, activation="tanh")
            self.dec_attn2 = layers.Dense(1)
            self.dec_lstm = layers.LSTMCell(H_dec)
            self.fc = layers.Dense(config["output_size"],
                                   kernel_initializer=keras.initializers.RandomNormal(0.0, 1.0))
            self.fc_out = layers.Dense(config["output_size"])

        def _init_hidden(self, b, hidden):  # xavier_normal_ on a (1, B, H) zeros tensor
            std = (2.0 / ((ops.cast(b, "float32") + 1.0) * hidden)) ** 0.5
            return keras.random.normal((b, hidden), seed=self.seed) * std

        def call(self, x):
            input_data, y_history = x[:, :, :-1], x[:, :, -1:]
            b = ops.shape(x)[0]
            h_t, c_t = self._init_hidden(b, H_enc), self._init_hidden(b, H_enc)
            inp_t = ops.transpose(input_data, (0, 2, 1))  # (B, F, T)
            encoded = []
            for t in range(T):
                hc = ops.concatenate([ops.repeat(h_t[:, None, :], nb_features, axis=1),
                                      ops.repeat(c_t[:, None, :], nb_features, axis=1), inp_t], axis=2)
                a_t = ops.softmax(ops.squeeze(self.enc_attn(hc), -1), axis=1)  # (B, F)
                _, (h_t, c_t) = self.enc_lstm(a_t * input_data[:, t, :], [h_t, c_t])
                encoded.append(h_t)
            input_encoded = ops.stack(encoded, axis=1)  # (B, T, H)
            h_t, c_t = self._init_hidden(b, H_dec), self._init_hidden(b, H_dec)
            context = None
            for t in range(T):
                hc = ops.concatenate([ops.repeat(h_t[:, None, :], T, axis=1),
                                      ops.repeat(c_t[:, None, :], T, axis=1), input_encoded], axis=2)
                w = ops.softmax(ops.squeeze(self.dec_attn2(self.dec_attn1(hc)), -1), axis=1)  # (B, T)
                context = ops.sum(w[:, :, None] * input_encoded, axis=1)
                y_tilde = self.fc(ops.concatenate([context, y_history[:, t]], axis=1))
                _, (h_t, c_t) = self.dec_lstm(y_tilde, [h_t, c_t])
            return self.fc_out(ops.concatenate([h_t, context], axis=1))

    model = AutoEncForecast()
    model(batches[0][0])  # builds the cells and dense layers
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(learning_rate=config["lr"],
                                                              global_clipnorm=config["max_grad_norm"]))
    return {"model": model, "batch": batches[0], "batches": batches,
            "inputs": np.concatenate([a for a, _ in batches])}


def _build(framework: str, scale_target: bool) -> dict[str, Any]:
    batches, nb_features = _data(scale_target)
    if framework == "torch":
        return _torch(batches, nb_features)
    return _keras(batches, nb_features)


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, scale_target=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, scale_target=True)
