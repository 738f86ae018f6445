"""TakuyaShintate/tsts (an open-source toolset for time-series forecasting in PyTorch, pip ``tsts``, 2021):
``TimeSeriesForecaster().fit(X=[...], y=[...])`` trains a forecaster of the target series ``y`` from the input
series ``X`` (docs/src/tutorials/train.rst: "If you have specific target time series, you can pass it by **y**.
Then model is trained to predict **y**", shown with ``fit(X=[sin_dataset], y=[cos_dataset])``). The defaults
(tsts/cfg/defaults.py): ``Seq2Seq`` (two LSTMCell encoder and decoder layers of 64 units, a Linear-ReLU-Linear
regressor), LOOKBACK 100 input steps, HORIZON 8 output steps, ``MinMaxScaler``, masked ``MSE`` loss, ``Adam(lr=0.001,
weight_decay=1e-4)``, gradient-norm clipping at 1.0, batch size 100 (shuffled), CosineAnnealing(T_max=10) stepped
per epoch, 75 % of the rows for training ("col" split).

The fault (tsts/solvers/forecaster.py ``TimeSeriesForecaster.fit``): when a target ``y`` is given, ONE scaler is
fit on ``y_train`` and then used to transform the inputs ``X_train`` / ``X_valid`` as well as the targets. The
inputs are therefore min-max scaled with the TARGET's minimum and range, not their own: whenever the input series
lives on another scale than the target (a temperature in deg C driving a load in kW, a wind speed driving a power
output, ...), the scaled inputs are not in [0, 1] at all; here they sit at -0.67 +- 0.005, a near-constant input
whose informative variation is ~40 times smaller than after a proper scaling. The LSTM cannot tell the windows
apart and the model learns the targets' mean: the loss stops at the targets' variance.

Source: github.com/TakuyaShintate/tsts ``tsts/solvers/forecaster.py`` at 79fdf515a38d84e618bebff736a4cb088b3383c6
(the parent of the fix; the single scaler fit on y dates from 'Add scaler modules', PR #16), fixed by PR #41,
16aaef2f91610a5113921ae1134d95f72c6e6608 "Fix scaler bug and Fix ADD_LAST_STEP_VAL bug" (its description: "Changed
to initialize X_scaler and y_scaler separately"): ``X_scaler = self.build_scaler(X_train)`` fit on the inputs,
``y_scaler = self.build_scaler(y_train)`` fit on the targets, each transforming its own series (and the metrics
and ``predict`` inverse-transforming with ``y_scaler``).
Fault label: inputs_not_normalized (the inputs are scaled with statistics of another variable, so the network
gets un-normalised, nearly constant inputs).

Program lines kept (from 79fdf51): the buggy scaler block of ``fit`` verbatim (``self.build_scaler`` written as
``build_scaler`` = ``MinMaxScaler.from_cfg``, the default scaler) and, in the fixed version, the block of 16aaef2;
``MinMaxScaler.from_cfg`` / ``transform`` (tsts/scalers/minmax.py, the ``cfg`` argument dropped); ``Seq2Seq`` as
at 79fdf51 (tsts/models/seq2seq.py; only ``X_mask`` given a default of None so that ``model(x)`` works: forward
never reads it); the ``MSE`` loss (tsts/losses/mse.py); the split (Solver.split_train_and_valid_data, "col": first
75 % train, the next LOOKBACK rows dropped, the rest validation); the windows of ``Dataset.__getitem__`` (X =
rows i-LOOKBACK+1..i, y = rows i+1..i+HORIZON); ``Adam(params, 0.001, weight_decay=1e-4)``; the batch loop of
``SupervisedTrainer.on_train`` (forward, ``zero_grad``, loss, backward, ``clip_grad_norm_(..., 1.0)``, step) as
``train_step``. The same commit also rewrote the decoder (``h_t = h[-1]``, all decoder cells 64 -> 64) so that the
input and output widths may differ, and ``ADD_LAST_STEP_VAL``; those are not part of this fault: both versions
here use the 79fdf51 decoder, which runs as long as X and y have the same number of features (1 and 1 here), and
ADD_LAST_STEP_VAL is off by default.
Shrunk / replaced: LOOKBACK 100 -> 16 (the Python loop over LSTMCells took ~0.2 s a step at 100 steps on one
loaded core; 16 hours still cover the 10-hour lag of the stand-in); only full windows are kept, so the collator's zero
padding and the masks are all-ones and ``loss_fn(Z, y)`` calls the kept ``MSE`` with ``y_mask = ones_like(y)``.
The per-epoch cosine scheduler is not part of the module (the checks take the optimizer); the measurements below
use it. Seed 0 (the library's default is 42). Ported: torch only (the library is PyTorch; Keras has no such
solver, and the fault is in tsts' own preprocessing).
Data stand-in (the docs' sine / cosine pair shares one scale, which hides the fault; a user's X and y do not):
4000 hourly rows, X = outdoor temperature in deg C (15 + a daily +-7 and a weekly +-4 cycle + an AR(1) weather
drift, -0.9..32.9) and y = a building's electricity load in kW, 400 + 40 T + 2 (T - 15)^2 of the temperature 10
hours earlier + N(0, 10) meter noise (769..2338), both (4000, 1) float32 as ``fit`` takes them. ``batches``: 28
distinct shuffled batches of 100 training windows (X (100, 16, 1), y (100, 8, 1)); ``batch``: the first;
``inputs``: 256 validation windows spread over the validation split. After scaling, the inputs are buggy
-0.67 +- 0.0055 (range -0.681..-0.655), fixed 0.57 +- 0.21; the targets are the same in both (0..1, mean 0.25).

Measured (my own loop, /tmp/s52/h81_c/measure2.py, on the module's builds, torch seed 0, OMP_NUM_THREADS=1):
  (a) the program's loop, 10 epochs over the 28 batches (280 steps) with CosineAnnealing(T_max=10) per epoch,
      training loss, epoch means:
        buggy 0.0802 0.0450 0.0450 0.0451 0.0451 0.0452 0.0451 0.0449 0.0449 0.0448 (flat at the targets' variance,
          0.040 on the first batch, from epoch 2 on)
        fixed 0.0799 0.0441 0.0348 0.0175 0.0087 0.0049 0.0036 0.0031 0.0029 0.0028 (16x lower)
      afterwards, on ``batch``: loss buggy 0.0401 (its variance 0.0400) / fixed 0.0029; the predictions on
      ``inputs`` have a std of 0.0012 buggy (a constant forecast) / 0.23 fixed; with the inputs zeroed the
      loss is 0.0401 buggy (no change: the inputs are ignored) / 0.107 fixed.
  (b) one batch repeated, loss at steps 1 / 25 / 50 / 100 / 150: buggy 0.182 0.043 0.040 0.040 0.040; fixed
      0.182 0.042 0.039 0.012 0.0029.
  (c) 100 plain steps over the batches, mean of the last 10 losses: buggy 0.0429 with the real inputs and 0.0429
      with zeroed inputs; fixed 0.0147 real / 0.0429 zeroed.
  Both versions first fit the targets' mean (the first ~40 steps look alike); the difference shows after about
  one epoch. At LOOKBACK 24 (same data) the picture was the same: 8 epochs without the scheduler, buggy flat at
  0.0455 from epoch 2, fixed down to 0.0012.
  Time per training step (batch 100, one thread, on a shared 2-core machine under load 6): 66-98 ms; build: first
  ~1-3 s (imports, data), later 0.03 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "inputs_not_normalized"
SOURCE = ("github:TakuyaShintate/tsts PR #41, fix 16aaef2f91610a5113921ae1134d95f72c6e6608 'Fix scaler bug and Fix "
          "ADD_LAST_STEP_VAL bug' ('Changed to initialize X_scaler and y_scaler separately'; "
          "tsts/solvers/forecaster.py TimeSeriesForecaster.fit@79fdf515a38d84e618bebff736a4cb088b3383c6, "
          "tsts/scalers/minmax.py, tsts/models/seq2seq.py, tsts/datasets/dataset.py, tsts/losses/mse.py, "
          "tsts/trainers/trainer.py, tsts/cfg/defaults.py; docs/src/tutorials/train.rst fit(X=..., y=...))")
FRAMEWORKS = ("torch",)
CHECKS = [("inputs_normalized", {}), ("loss_decreases", {"task": "regression"}),
          ("overfit_one_batch", {"task": "regression"}), ("input_independent_baseline", {"task": "regression"})]

SEED = 0
N_STEPS = 4000  # hourly rows of the stand-in series
TRAIN_DATA_RATIO = 0.75  # _C.TRAINING.TRAIN_DATA_RATIO
LOOKBACK = 16  # _C.IO.LOOKBACK is 100: shrunk for CPU time
HORIZON = 8  # _C.IO.HORIZON
NUM_H_UNITS = 64  # _C.MODEL.NUM_H_UNITS
DEPTH = 2  # _C.MODEL.DEPTH
LR = 0.001  # _C.OPTIMIZER.LR
WEIGHT_DECAY = 1e-4  # _C.OPTIMIZER.WEIGHT_DECAY
MAX_GRAD_NORM = 1.0  # _C.TRAINER.MAX_GRAD_NORM
BATCH_SIZE = 100  # _C.DATALOADER.BATCH_SIZE_TRAIN
N_BATCHES = 28
N_INPUTS = 256
LAG = 10  # the load answers the temperature of 10 hours before


@functools.lru_cache(maxsize=1)
def _series() -> tuple[np.ndarray, np.ndarray]:
    """Hourly outdoor temperature (deg C, X) and a building's electricity load (kW, y), each (N_STEPS, 1) float32.

    The temperature is a daily and a weekly cycle plus a slow AR(1) weather drift; the load is a U-shaped
    (heating / cooling) function of the temperature LAG hours earlier plus meter noise, so the next HORIZON loads
    follow from the last LOOKBACK temperatures.
    """
    r = np.random.default_rng(SEED)
    t = np.arange(N_STEPS + LAG)
    drift = np.zeros(len(t))
    e = r.normal(0.0, 0.5, len(t))
    for i in range(1, len(t)):
        drift[i] = 0.97 * drift[i - 1] + e[i]
    temp = 15.0 + 7.0 * np.sin(2 * np.pi * (t - 9) / 24) + 4.0 * np.sin(2 * np.pi * t / 168) + drift
    past = temp[:-LAG]
    load = 400.0 + 40.0 * past + 2.0 * (past - 15.0) ** 2 + r.normal(0.0, 10.0, N_STEPS)
    return temp[LAG:].reshape(-1, 1).astype("float32"), load.reshape(-1, 1).astype("float32")


def _build(scalers_fixed: bool) -> dict[str, Any]:
    import copy
    import typing
    from typing import List, Tuple, Union

    import torch
    import torch.nn.functional as F
    from torch import Tensor
    from torch.nn import Linear, LSTMCell, Module, ModuleList, ReLU
    from torch.nn.modules.container import Sequential

    class MinMaxScaler:  # tsts/scalers/minmax.py @79fdf51 (cfg argument dropped)
        def __init__(
            self,
            min_v: Union[Tensor, List[List[float]]],
            max_v: Union[Tensor, List[List[float]]],
        ) -> None:
            if isinstance(min_v, Tensor) is False:
                min_v = torch.tensor(min_v)
            if isinstance(max_v, Tensor) is False:
                max_v = torch.tensor(max_v)
            self.min_v = typing.cast(Tensor, min_v)
            self.max_v = typing.cast(Tensor, max_v)

        @classmethod
        def from_cfg(cls, X_or_y):
            X_or_y_new = torch.cat(X_or_y)
            min_v = X_or_y_new.min(0)[0]
            max_v = X_or_y_new.max(0)[0]
            scaler = cls(min_v, max_v)
            return scaler

        def transform(self, X_or_y):
            num_instances = len(X_or_y)
            device = X_or_y[0].device
            self.min_v = self.min_v.to(device)
            self.max_v = self.max_v.to(device)
            X_or_y_new = copy.deepcopy(X_or_y)
            for i in range(num_instances):
                X_or_y_new[i] = (X_or_y[i] - self.min_v) / (self.max_v - self.min_v)
            return X_or_y_new

    class Seq2Seq(Module):  # tsts/models/seq2seq.py @79fdf51 (X_mask given a default; forward never reads it)
        def __init__(
            self,
            num_in_feats: int,
            num_out_feats: int,
            horizon: int = 1,
            num_h_units: int = 64,
            depth: int = 2,
            add_last_step_val: bool = False,
        ) -> None:
            super(Seq2Seq, self).__init__()
            self.num_in_feats = num_in_feats
            self.num_out_feats = num_out_feats
            self.horizon = horizon
            self.num_h_units = num_h_units
            self.depth = depth
            self.add_last_step_val = add_last_step_val
            self._init_hidden_layers()
            self._init_regressor()

        def _init_hidden_layers(self) -> None:
            self.encoder = ModuleList([LSTMCell(self.num_in_feats, self.num_h_units)])
            for _ in range(self.depth - 1):
                self.encoder.append(LSTMCell(self.num_h_units, self.num_h_units))
            self.decoder = ModuleList([LSTMCell(self.num_in_feats, self.num_h_units)])
            for _ in range(self.depth - 1):
                self.decoder.append(LSTMCell(self.num_h_units, self.num_h_units))

        def _init_regressor(self) -> None:
            self.regressor = Sequential(
                Linear(self.num_h_units, self.num_h_units),
                ReLU(),
                Linear(self.num_h_units, self.num_out_feats),
            )

        def _init_memory(
            self, batch_size: int, device: torch.device
        ) -> Tuple[List[Tensor], ...]:
            h = []
            c = []
            for _ in range(self.depth):
                h.append(torch.zeros((batch_size, self.num_h_units), device=device))
                c.append(torch.zeros((batch_size, self.num_h_units), device=device))
            return (h, c)

        def _run_encoder(self, X: Tensor) -> List[Tensor]:
            batch_size = X.size(0)
            device = X.device
            (h, c) = self._init_memory(batch_size, device)
            num_in_steps = X.size(1)
            for t in range(num_in_steps):
                h_t = X[:, t]
                for i in range(self.depth):
                    (h_t, c_t) = self.encoder[i](h_t, (h[i], c[i]))
                    h[i] = h_t
                    c[i] = c_t
            return h

        def _run_decoder(self, x_t: Tensor, h: List[Tensor]) -> Tensor:
            batch_size = x_t.size(0)
            device = x_t.device
            (_, c) = self._init_memory(batch_size, device)
            mb_preds = []
            y_t = torch.zeros_like(x_t)
            for _ in range(self.horizon):
                h_t = y_t
                for i in range(self.depth):
                    (h_t, c_t) = self.decoder[i](h_t, (h[i], c[i]))
                    h[i] = h_t
                    c[i] = c_t
                y_t = self.regressor(h_t)
                if self.add_last_step_val is True:
                    y_t = y_t + x_t
                mb_preds.append(y_t.unsqueeze(1))
            return torch.cat(mb_preds, dim=1)

        def forward(self, X: Tensor, X_mask: Tensor = None) -> Tensor:
            h = self._run_encoder(X)
            mb_preds = self._run_decoder(X[:, -1], h)
            return mb_preds

    class MSE(Module):  # tsts/losses/mse.py @79fdf51
        def forward(self, Z: Tensor, y: Tensor, y_mask: Tensor) -> Tensor:
            loss_val = F.mse_loss(Z, y, reduction="none")
            loss_val *= y_mask
            loss_val = loss_val.sum()
            loss_val /= y_mask.sum()
            return loss_val

    torch.manual_seed(SEED)
    temp, load = _series()
    X, y = [torch.tensor(temp)], [torch.tensor(load)]  # forecaster.fit(X=[temperature], y=[load])
    # Solver.split_train_and_valid_data, TRAIN_DATA_SPLIT "col": the first 75 % rows train, LOOKBACK rows skipped
    offset = int(TRAIN_DATA_RATIO * N_STEPS)
    (X_train, X_valid) = ([X[0][:offset]], [X[0][offset + LOOKBACK:]])
    (y_train, y_valid) = ([y[0][:offset]], [y[0][offset + LOOKBACK:]])
    build_scaler = MinMaxScaler.from_cfg  # _C.SCALER.NAME = "MinMaxScaler"
    if not scalers_fixed:  # TimeSeriesForecaster.fit @79fdf51: one scaler, fit on y, transforms X and y
        if y_train[0] is not None:
            scaler = build_scaler(y_train)  # type: ignore
        else:
            scaler = build_scaler(X_train)
        X_train = scaler.transform(X_train)
        X_valid = scaler.transform(X_valid)
        if y_train[0] is not None and y_valid[0] is not None:
            y_train = scaler.transform(y_train)  # type: ignore
            y_valid = scaler.transform(y_valid)  # type: ignore
    else:  # the fix (16aaef2, PR #41): X_scaler fit on X, y_scaler fit on y
        X_scaler = build_scaler(X_train)
        if y_train[0] is not None:
            y_scaler = build_scaler(y_train)  # type: ignore
        else:
            y_scaler = build_scaler(X_train)
        X_train = X_scaler.transform(X_train)
        X_valid = X_scaler.transform(X_valid)
        if y_train[0] is not None and y_valid[0] is not None:
            y_train = y_scaler.transform(y_train)  # type: ignore
            y_valid = y_scaler.transform(y_valid)  # type: ignore

    def windows(Xs: Tensor, ys: Tensor) -> tuple[Tensor, Tensor]:
        # Dataset.__getitem__: X = X[i - lookback + 1:i + 1], y = y[i + 1:i + 1 + horizon]; only full windows
        idx = range(LOOKBACK - 1, len(Xs) - HORIZON)
        return (torch.stack([Xs[i - LOOKBACK + 1:i + 1] for i in idx]),
                torch.stack([ys[i + 1:i + 1 + HORIZON] for i in idx]))

    xw, yw = windows(X_train[0], y_train[0])
    perm = torch.tensor(np.random.default_rng(SEED).permutation(len(xw)))  # SHUFFLE_TRAIN
    xw, yw = xw[perm], yw[perm]
    batches = [(xw[i:i + BATCH_SIZE], yw[i:i + BATCH_SIZE]) for i in range(0, N_BATCHES * BATCH_SIZE, BATCH_SIZE)]
    xv, _ = windows(X_valid[0], y_valid[0])
    inputs = xv[np.linspace(0, len(xv) - 1, N_INPUTS).round().astype(int)]

    model = Seq2Seq(1, 1, horizon=HORIZON, num_h_units=NUM_H_UNITS, depth=DEPTH, add_last_step_val=False)
    optimizer = torch.optim.Adam(model.parameters(), LR, weight_decay=WEIGHT_DECAY)
    mse = MSE()

    def loss_fn(Z: Tensor, y: Tensor) -> Tensor:
        return mse(Z, y, torch.ones_like(y))  # every kept window has all HORIZON targets: y_mask all ones

    def train_step(model, optimizer, loss_fn, X, y):  # SupervisedTrainer.on_train, one batch
        Z = model(X)
        optimizer.zero_grad()
        total_loss_v = loss_fn(Z, y)
        total_loss_v.backward()
        if MAX_GRAD_NORM > 0:
            torch.nn.utils.clip_grad_norm_(
                model.parameters(),
                MAX_GRAD_NORM,
            )
        optimizer.step()
        return total_loss_v

    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs, "loss_fn": loss_fn,
            "optimizer": optimizer, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(scalers_fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(scalers_fixed=True)
