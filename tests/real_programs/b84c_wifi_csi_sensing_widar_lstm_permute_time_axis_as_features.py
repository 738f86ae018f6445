"""WiFi-CSI-Sensing-Benchmark, Widar3.0 gesture LSTM whose permute runs the recurrence over the 400 velocity bins
instead of over the 22 time frames.

Source
  Repository github:xyanchen/WiFi-CSI-Sensing-Benchmark (the SenseFi benchmark for WiFi human activity / gesture
  recognition). Files: NTU_Fi_model.py NTU_Fi_LSTM (the buggy forward), widar_model.py Widar_LSTM (the fixed
  forward), dataset.py Widar_Dataset, util.py load_data_n_model('Widar', 'LSTM'), run.py train() (Adam, lr 1e-3,
  nn.CrossEntropyLoss, batch 64), as stored at widar_model.py@3cc52ce9ee1c41c8e215fd4a58569b6057b3c0dd and
  NTU_Fi_model.py@cd3c16bd261e371ce1cc734eb8ccc665d7cca2d5.
  Report and fix: issue #9 (yanyvjiangnan, 2023-07-08). The reporter took the NTU-Fi LSTM forward
  ``x = x.view(-1,342,500)`` / ``x = x.permute(2,0,1)`` to the Widar data, reshaped as ``view(-1,22,400)``; the
  model "does not fit" on Widar, while ``x.permute(1, 0, 2)`` fits on both data sets. The maintainer (xyanchen,
  2024-05-29) answered that NTU-Fi samples are (batch, feature, time) after the view, so permute(2, 0, 1) puts time
  first, whereas Widar samples are (batch, time, feature), so the permute must be (1, 0, 2): the LSTM only fits when
  dim 0 is time. That is exactly the repository's own Widar_LSTM (nn.LSTM(400, 64), permute(1,0,2)), the fixed
  version here.

Fault
  nn.LSTM without batch_first reads (seq, batch, feature). A Widar body-velocity profile is 22 time frames of a
  20 x 20 velocity grid. With permute(2, 0, 1) the recurrence walks 400 steps over the grid cells, each step seeing
  the 22-frame trace of one cell, and the class has to survive 400 recurrent steps to reach the last hidden state,
  which is all the classifier reads. The gesture's temporal order is reduced to a 22-wide input vector and the
  spatial layout must be carried across a very long chain. Training is slow and stalls far below the fixed model.

Kept verbatim
  ``x = x.permute(2,0,1)``, ``_, (ht,ct) = self.lstm(x)``, ``outputs = self.fc(ht[-1])``, ``nn.Linear(64,num_classes)``,
  the hidden size 64, one layer; buggy ``nn.LSTM(22,64,num_layers=1)`` (the input width that the permute forces:
  the NTU-Fi original has 342 = its non-time axis), fixed ``nn.LSTM(400,64,num_layers=1)`` with
  ``x = x.permute(1,0,2)`` (widar_model.py Widar_LSTM). ``x = x.view(-1,22,400)`` in both. Optimiser
  ``torch.optim.Adam(model.parameters(), lr = 1e-3)``, ``nn.CrossEntropyLoss()``, batch 64, 22 classes. Nothing
  shrunk.

Data stand-in
  Widar3.0 BVP csv files cannot be downloaded at run time. Stand-in: seeded synthetic body-velocity profiles of the
  same shape and scale, (N, 22, 20, 20) float32 after the dataset's ``(x - 0.0025)/0.0119``. Each of the 22
  gestures is a velocity blob that moves along its own straight path across the 20 x 20 grid over the 22 frames
  (start and end cell per class), with per-sample jitter of the path (+-1.5 cells), blob width, amplitude and
  additive noise; raw values are non-negative, around 0..0.06 like BVP. The path (hence the label) follows from
  the inputs. 1280 training samples (20 batches of 64) and 256 held-out samples.

Measured (plain loop in /tmp/s52/h84_c/measure.py, OMP_NUM_THREADS=1, SEED = 0, the module's own builds: the
  program's Adam 1e-3 over the 20 batches in order, 10 epochs = 200 steps; accuracy on the 256 held-out samples)
  Mean training loss per epoch / held-out accuracy after epochs 1, 3, 5, 10 (ln 22 = 3.091):
    buggy (permute(2,0,1)): 3.085 / 0.043, 2.947 / 0.078, 2.766 / 0.086, 2.305 / 0.156
    fixed (permute(1,0,2)): 2.552 / 0.672, 0.888 / 0.895, 0.365 / 0.934, 0.109 / 0.965
  Loss at init on batch 0: buggy 3.085, fixed 3.099 (both near ln 22). The buggy model does learn, but after 200
  steps it is where the fixed one was before the end of its first epoch, and it is 8x slower per step.
  Time per step (batch 64, one thread): ~300 ms buggy (400 recurrent steps), ~38 ms fixed (22 steps); so the
  buggy version costs ~30 s per hundred steps, more than the corpus's usual budget, which the fault itself causes.
  Build: ~2 s first call (torch import, data), later ~0.05 s.

Fault label
  other:rnn_time_and_feature_axes_swapped -- the permute hands the LSTM the feature axis as its sequence axis and
  the time axis as its features (a sequence-axis fault; no label in the list names it).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "other:rnn_time_and_feature_axes_swapped"
SOURCE = ("github:xyanchen/WiFi-CSI-Sensing-Benchmark issue #9 (NTU_Fi_model.py NTU_Fi_LSTM 'x = x.permute(2,0,1)' "
          "applied to Widar's view(-1,22,400); maintainer answer: Widar is (batch, time, feature), use "
          "permute(1,0,2) as widar_model.py Widar_LSTM@3cc52ce9ee1c41c8e215fd4a58569b6057b3c0dd; dataset.py "
          "Widar_Dataset, util.py, run.py)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("init_loss", {"num_classes": 22}),
          ("batch_independence", {})]

BATCH_SIZE = 64
LR = 1e-3
NUM_CLASSES = 22
N_BATCHES = 20
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic Widar BVPs (N, 22, 20, 20), normalised as Widar_Dataset does, and gesture ids 0..21."""
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    starts = r.uniform(2, 17, (NUM_CLASSES, 2))
    ends = r.uniform(2, 17, (NUM_CLASSES, 2))
    y = np.arange(n) % NUM_CLASSES
    r.shuffle(y)
    t = np.linspace(0, 1, 22)[None, :, None]
    s = starts[y][:, None, :] + r.uniform(-1.5, 1.5, (n, 1, 2))
    e = ends[y][:, None, :] + r.uniform(-1.5, 1.5, (n, 1, 2))
    path = s + (e - s) * t  # (n, 22, 2) blob centre per frame
    gy, gx = np.mgrid[0:20, 0:20]
    width = r.uniform(1.2, 2.2, (n, 1, 1, 1))
    amp = r.uniform(0.03, 0.06, (n, 1, 1, 1))
    d2 = (gy[None, None] - path[..., 0, None, None]) ** 2 + (gx[None, None] - path[..., 1, None, None]) ** 2
    bvp = amp * np.exp(-d2 / (2 * width ** 2)) + np.abs(r.normal(0, 0.004, (n, 22, 20, 20)))
    x = ((bvp - 0.0025) / 0.0119).astype("float32")  # Widar_Dataset: x = (x - 0.0025)/0.0119, reshape(22,20,20)
    n_tr = N_BATCHES * BATCH_SIZE
    return x[:n_tr], y[:n_tr].astype("int64"), x[n_tr:], y[n_tr:].astype("int64")


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    class Widar_LSTM_buggy(nn.Module):  # NTU_Fi_LSTM's forward on Widar's (batch, time, feature) view
        def __init__(self, num_classes):
            super(Widar_LSTM_buggy, self).__init__()
            self.lstm = nn.LSTM(22, 64, num_layers=1)
            self.fc = nn.Linear(64, num_classes)

        def forward(self, x):
            x = x.view(-1, 22, 400)
            x = x.permute(2, 0, 1)
            _, (ht, ct) = self.lstm(x)
            outputs = self.fc(ht[-1])
            return outputs

    class Widar_LSTM(nn.Module):  # widar_model.py, the fix
        def __init__(self, num_classes):
            super(Widar_LSTM, self).__init__()
            self.lstm = nn.LSTM(400, 64, num_layers=1)
            self.fc = nn.Linear(64, num_classes)

        def forward(self, x):
            x = x.view(-1, 22, 400)
            x = x.permute(1, 0, 2)
            _, (ht, ct) = self.lstm(x)
            outputs = self.fc(ht[-1])
            return outputs

    torch.manual_seed(SEED)
    model = Widar_LSTM(NUM_CLASSES) if fixed else Widar_LSTM_buggy(NUM_CLASSES)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)

    x, y, xh, _ = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": criterion, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
