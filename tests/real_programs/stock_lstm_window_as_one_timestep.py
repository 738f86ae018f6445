"""Stock-price LSTM (omerbsezer/LSTM_RNN_Tutorials_with_Demo, ``StockPricesPredictionProject/
pricePredictionLSTM.py``): predict the next day's MinMax-scaled close price of the Disney stock from the
240 previous closes. The windows are reshaped to ``(samples, 1, look_back)`` and the LSTM is built with
``input_shape=(1, look_back)``, so each 240-day window is fed as ONE time step of 240 features: the LSTM
never recurs over time and works as a one-step dense layer on the raw window. It fits the training half
as well as the fixed model (the PR: train RMSE 0.50 before and after) but generalises far worse to the
test half, whose prices lie above the training range (test RMSE 13.97 before, 2.27 after the fix).

Source: github.com/omerbsezer/LSTM_RNN_Tutorials_with_Demo PR #6 ("fix the input shape to match (:,
timesteps, feature) of keras' lstm", merged by the maintainer), commit
de544034baae2197fa564c754c1da1e4fd603dc7 (merge 72975a4). Program: ``pricePredictionLSTM.py`` at
de54403^: ``create_dataset(dataset, look_back=240)``, ``MinMaxScaler(feature_range=(0, 1))`` fitted on the
whole close-price column, first 50 % of the days for training, ``Sequential([LSTM(25, input_shape=(1,
look_back)), Dropout(0.1), Dense(1)])``, ``compile(loss='mse', optimizer='adam')``,
``fit(trainX, trainY, epochs=1000, batch_size=240)``. The model, data handling and training
configuration are the program's; ported minimally to Keras 3 (``keras.Input`` instead of
``input_shape=``). ``trainY`` stays 1-D as in the program (Keras brings it to the output's rank).
Data stand-in (no ``DIS.csv``): a seeded geometric random walk of 5036 daily closes (the trading days of
1.1.1997-1.1.2017) rising from about 30 to about 100 like the Disney close, MinMax-scaled over the whole
series as the program does; ``batch`` and ``batches`` are the first training windows in order, x of
shape ``(240, 1, 240)`` (buggy) or ``(240, 240, 1)`` (fixed), float32 in [0, 1].
Fault label: other:window_as_one_timestep (the windows' time axis is given to the LSTM as features).
Fix (de54403): ``np.reshape(trainX, (trainX.shape[0], trainX.shape[1], 1))`` and
``LSTM(25, input_shape=(look_back, 1))``.
PyTorch twin: the same network in torch idiom (``nn.LSTM(look_back, 25, batch_first=True)`` on windows
of shape ``(B, 1, 240)``, fixed ``nn.LSTM(1, 25, batch_first=True)`` on ``(B, 240, 1)``, last step's
output, ``Dropout(0.1)``, ``Linear(25, 1)``, ``MSELoss``, ``Adam`` with Keras' default lr 1e-3, targets
``(B, 1)``).
Symptom speed: the training loss falls alike in both versions; the difference shows in the error on the
test half (the later, higher prices) after some hundred steps (15 epochs of the 2277 training windows:
Keras train MSE 0.00026 vs 0.00011, test MSE 0.028 buggy vs 0.0009 fixed; torch test MSE 0.22 vs 0.13).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "other:window_as_one_timestep"
SOURCE = ("github:omerbsezer/LSTM_RNN_Tutorials_with_Demo PR #6 "
          "(StockPricesPredictionProject/pricePredictionLSTM.py@de54403^, fix de54403)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("inputs_normalized", {})]

look_back = 240
batch_size = 240
units = 25
dropout = 0.1
lr = 1e-3  # Keras Adam default


def create_dataset(dataset, look_back=1):  # program lines
    dataX, dataY = [], []
    for i in range(len(dataset) - look_back - 1):
        a = dataset[i:(i + look_back), 0]
        dataX.append(a)
        dataY.append(dataset[i + look_back, 0])
    return np.array(dataX), np.array(dataY)


def _series(n_days: int = 5036, seed: int = 5) -> np.ndarray:
    """Stand-in for ``df[5].values`` of DIS.csv: a geometric random walk from ~30 to ~100."""
    rng = np.random.default_rng(seed)
    drift = np.log(100.0 / 30.0) / n_days
    r = drift + 0.017 * rng.standard_normal(n_days)
    r -= r.mean() - drift  # end near 100 whatever the noise
    return 30.0 * np.exp(np.cumsum(r))


def splits(timesteps: bool):
    """The program's preprocessing: MinMax over all days, 50 % train, windows, reshape."""
    from sklearn.preprocessing import MinMaxScaler

    dataset = _series().reshape(-1, 1)
    scaler = MinMaxScaler(feature_range=(0, 1))
    dataset = scaler.fit_transform(dataset)
    train_size = int(len(dataset) * 0.5)
    train, test = dataset[0:train_size, :], dataset[train_size:len(dataset), :]
    trainX, trainY = create_dataset(train, look_back)
    testX, testY = create_dataset(test, look_back)
    if timesteps:  # the fix
        trainX = np.reshape(trainX, (trainX.shape[0], trainX.shape[1], 1))
        testX = np.reshape(testX, (testX.shape[0], testX.shape[1], 1))
    else:
        trainX = np.reshape(trainX, (trainX.shape[0], 1, trainX.shape[1]))
        testX = np.reshape(testX, (testX.shape[0], 1, testX.shape[1]))
    f = "float32"
    return trainX.astype(f), trainY.astype(f), testX.astype(f), testY.astype(f)


def _build(framework: str, timesteps: bool) -> dict[str, Any]:
    trainX, trainY, _, _ = splits(timesteps)
    in_shape = (look_back, 1) if timesteps else (1, look_back)
    n = 4
    batches = [(trainX[i * batch_size:(i + 1) * batch_size], trainY[i * batch_size:(i + 1) * batch_size])
               for i in range(n)]
    if framework == "keras":
        import keras
        from keras.layers import LSTM, Dense, Dropout

        keras.utils.set_random_seed(5)  # np.random.seed(5)
        model = keras.Sequential()
        model.add(keras.Input(in_shape))
        model.add(LSTM(units))
        model.add(Dropout(dropout))
        model.add(Dense(1))
        model.compile(loss='mse', optimizer='adam')
        return {"model": model, "batch": batches[0], "batches": batches}

    import torch
    from torch import nn

    torch.manual_seed(5)

    class PriceLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(in_shape[1], units, batch_first=True)
            self.dropout = nn.Dropout(dropout)
            self.dense = nn.Linear(units, 1)

        def forward(self, x):
            out, _ = self.lstm(x)
            return self.dense(self.dropout(out[:, -1]))

    tb = [(torch.tensor(a), torch.tensor(b).unsqueeze(1)) for a, b in batches]
    return {"model": PriceLSTM(), "batch": tb[0], "batches": tb, "loss_fn": nn.MSELoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, timesteps=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, timesteps=True)
