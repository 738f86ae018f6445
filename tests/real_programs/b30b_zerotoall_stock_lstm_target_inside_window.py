"""DeepLearningZeroToAll (hunkim/DeepLearningZeroToAll), lab 12 "RNN stock prediction": ``klab-12-3-rnn_stock_
prediction.py`` (Keras) and ``lab-12-5-rnn_stock_prediction.py`` (TensorFlow) read 732 days of GOOG prices from
``data-02-stock_daily.csv`` (columns Open, High, Low, Volume, Close, newest first), reverse them into time order,
min-max scale all five columns to [0, 1], and cut windows of ``seq_length = 7`` days to predict the *next* close::

    x = xy
    y = xy[:, [-1]]  # Close as label
    for i in range(0, len(y) - seq_length):
        _x = x[i:i + seq_length]
        _y = y[i + 1]  # Next close price

The fault: the window covers days i .. i+6, so ``y[i + 1]`` is the close of day i+1, the *second* day inside the
input window (``_x[1, -1]``), not the day after it. Every target is a copy of one of the sample's own input values
(max difference 0.0): the model is trained to reproduce a number it is given (target leakage) instead of
forecasting; the "next close" curve in the lab's test plot is a lagged copy of the past.

Source: github.com/hunkim/DeepLearningZeroToAll ``klab-12-3-rnn_stock_prediction.py`` at 8d8e120^ (also
``klab-12-4-rnn_deep_prediction.py``, ``lab-12-6-rnn_softmax_stock_prediction.py``), fixed by commit
8d8e120 "Fix to get the correct next close price #2" (PR #24, merge 2d403c5); the same fix for the TensorFlow
``lab-12-5-rnn_stock_prediction.py`` is commit 8af710c (PR #22, merge d854f58): ``_y = y[i + seq_length]``.
Program lines kept (Keras script): ``seq_length = 7``, ``data_dim = 5``, ``xy = xy[::-1]``, min-max scaling of
all columns with ``feature_range=(0, 1)`` fitted on the whole series (``MinMaxScaler`` written out in numpy),
``y = xy[:, [-1]]``, the window loop with the buggy/fixed target line as written, the 70 % / 30 % time split,
``Sequential([LSTM(1, input_shape=(seq_length, data_dim), return_sequences=False), Activation("linear")])``,
``loss='mean_squared_error'``, ``optimizer='adam'`` (lr 1e-3), and ``fit``'s default batch size of 32 (shuffled
each epoch; here one seeded shuffle of the 506 training windows cut into 15 batches of 32).
Ported minimally: Keras 1.2 (``nb_epoch``, ``keras.utils.visualize_util``) -> Keras 3 with the same layers;
Keras 3's LSTM keeps its own defaults (sigmoid recurrent activation; Keras 1's default was ``hard_sigmoid``).
The plotting, ``plot`` and ``predict`` on the test split are left out. The fault is in framework-free numpy data
preparation, so the torch twin is the same model written as ``nn.LSTM(5, 1, batch_first=True)``, last step's
output (as the TensorFlow lab's ``outputs[:, -1]``), ``nn.MSELoss()``, ``Adam(lr=1e-3)``, torch's own LSTM
initialisation; same data and batches.
Data stand-in (the CSV ships with the repository, but this module is self-contained): 732 seeded synthetic
trading days shaped like the GOOG file: a geometric random walk of the close with daily log-return sd 0.0147
(the file's), bent to run from 558.46 to 831.66 (the file's first and last closes), open = previous close
x (1 + N(0, 0.0103)), high/low = max/min(open, close) x (1 +/- |N(0, 0.006)|), volume log-normal around
1.67e6 (the file's median), stored newest first like the file. So the next close really is predictable (it is
near the last close), as with the real prices.
Fault label: target_leakage (buggy target == input[:, 1, -1] exactly; the fixed target is the close one day after
the window, correlation 0.99 with the last input close but never equal to an input value).
Fix (8d8e120 / 8af710c): ``_y = y[i + seq_length]``.
Symptom in a plain loop (OMP_NUM_THREADS=1, seed 0, one train_on_batch / Adam step per batch cycling over the
15 batches; train MSE on all 506 training windows, test MSE on the 218 test windows, both in scaled units; plus
the trained model's output sensitivity |d out / d x| to the leaked input x[:, 1, Close] vs the last close
x[:, 6, Close], averaged over the test windows). Train / test MSE at steps 0, 300, 1200, 3200 (3200 ~ the
program's 200 epochs of 16 batches); a constant training-mean prediction scores 0.130 (buggy) / 0.134 (fixed)
on the test windows. Torch: buggy 0.276/0.871, 0.044/0.259, 0.0039/0.0061, 0.0023/0.0048; fixed 0.280/0.893,
0.042/0.258, 0.0034/0.0070, 0.0020/0.0044; sensitivity at 3200 steps buggy 0.0023 (x1) vs 0.0315 (x6), fixed
0.0034 vs 0.0200. Keras: buggy 0.148/0.381, 0.0028/0.0215, 0.0023/0.0133, 0.0016/0.0087; fixed 0.151/0.395,
0.0030/0.0236, 0.0024/0.0132, 0.0018/0.0064; sensitivity buggy 0.0120 vs 0.0717, fixed 0.0007 vs 0.0053 (the
buggy Keras model reads the leaked input x[:, 1, Close] 17x more than the fixed one does).
So the fault shows in the data (target == an input value of the same sample), NOT as a loss difference: the
one-unit LSTM mostly learns "about the last close" in both versions, and within 3,200 steps the two loss
curves stay within ~15-40 % of each other (buggy test MSE lower in Keras at 3,200 steps, not in torch at 1,200).
A check has to look at the data/targets or at what the output depends on, not at the loss alone.
About 2-5 ms per step (torch) and ~10-20 ms per train_on_batch (Keras) on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "target_leakage"
SOURCE = ("github:hunkim/DeepLearningZeroToAll klab-12-3-rnn_stock_prediction.py@8d8e120^ (PR #24; also "
          "lab-12-5-rnn_stock_prediction.py, PR #22, fix 8af710c): _y = y[i + 1] inside the 7-day window; "
          "fix 8d8e120 _y = y[i + seq_length]")
FRAMEWORKS = ("keras", "torch")
# the helper also listed input_independent_baseline: on the program's batch of 32 it is a usage error
# (it holds samples out of one batch and needs 64), measured on both versions; the lead removed it
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {})]

timesteps = seq_length = 7
data_dim = 5
batch_size = 32  # Keras fit's default
learning_rate = 1e-3  # optimizer='adam'
n_days = 732


def _stock_daily_like(seed: int = 0) -> np.ndarray:
    """Stand-in for data-02-stock_daily.csv: (732, 5) Open, High, Low, Volume, Close, newest first."""
    rng = np.random.default_rng(seed)
    r = rng.normal(0.0, 0.0147, size=n_days - 1)
    logc = np.log(558.46) + np.concatenate([[0.0], np.cumsum(r)])
    logc += np.linspace(0.0, np.log(831.66) - logc[-1], n_days)  # bend the walk to the file's last close
    close = np.exp(logc)
    prev = np.concatenate([[close[0]], close[:-1]])
    open_ = prev * (1.0 + rng.normal(0.0, 0.0103, size=n_days))
    high = np.maximum(open_, close) * (1.0 + np.abs(rng.normal(0.0, 0.006, size=n_days)))
    low = np.minimum(open_, close) * (1.0 - np.abs(rng.normal(0.0, 0.006, size=n_days)))
    volume = np.maximum(np.round(1.67e6 * np.exp(rng.normal(0.0, 0.5, size=n_days)), -2), 7900.0)
    xy = np.stack([open_, high, low, volume, close], axis=1)
    return xy[::-1].copy()  # the file lists the newest day first


def _data(fixed: bool):
    xy = _stock_daily_like()
    xy = xy[::-1]  # reverse order (chronically ordered)
    # very important. It does not work without it.  (MinMaxScaler(feature_range=(0, 1)).fit_transform)
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    xy = (xy - lo) / (hi - lo)
    x = xy
    y = xy[:, [-1]]  # Close as label
    dataX = []
    dataY = []
    for i in range(0, len(y) - seq_length):
        _x = x[i:i + seq_length]
        if fixed:  # 8d8e120 / 8af710c
            _y = y[i + seq_length]  # Next close price
        else:
            _y = y[i + 1]  # Next close price
        dataX.append(_x)
        dataY.append(_y)
    # split to train and testing
    train_size = int(len(dataY) * 0.7)
    trainX, testX = np.array(dataX[0:train_size]), np.array(dataX[train_size:len(dataX)])
    trainY, testY = np.array(dataY[0:train_size]), np.array(dataY[train_size:len(dataY)])
    f = "float32"
    return trainX.astype(f), trainY.astype(f), testX.astype(f), testY.astype(f)


def _batches(trainX: np.ndarray, trainY: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    perm = np.random.default_rng(0).permutation(len(trainX))  # fit(shuffle=True), one seeded epoch order
    n = len(perm) // batch_size
    return [(trainX[perm[k * batch_size:(k + 1) * batch_size]], trainY[perm[k * batch_size:(k + 1) * batch_size]])
            for k in range(n)]


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    trainX, trainY, _, _ = _data(fixed)
    batches = _batches(trainX, trainY)
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(0)
        model = keras.Sequential()
        model.add(keras.Input(shape=(seq_length, data_dim)))
        model.add(keras.layers.LSTM(1, return_sequences=False))
        # model.add(Dense(1))
        model.add(keras.layers.Activation("linear"))
        model.compile(loss="mean_squared_error", optimizer=keras.optimizers.Adam(learning_rate=learning_rate))
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": trainX}

    import torch
    from torch import nn

    torch.manual_seed(0)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(data_dim, 1, batch_first=True)

        def forward(self, x):
            outputs, _ = self.lstm(x)
            return outputs[:, -1]  # the last cell's output (Activation("linear"))

    tb = [(torch.tensor(x), torch.tensor(y)) for x, y in batches]
    return {"model": Net(), "batch": tb[0], "batches": tb, "inputs": torch.tensor(trainX),
            "loss_fn": nn.MSELoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
