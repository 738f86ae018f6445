"""sktime/sktime: ``GRUClassifier`` (``sktime/classification/deep_learning/gru.py``), sktime's PyTorch GRU time-series
classifier, with its network ``GRU`` (``sktime/networks/gru.py``) and the shared torch base class
``BaseDeepClassifierPytorch`` (``sktime/classification/deep_learning/_pytorch.py``). ``fit(X, y)`` takes a panel
``X`` of shape (n_instances, n_dims, n_timesteps); ``PytorchDataset`` transposes each series to (n_timesteps, n_dims)
so that the loader yields batches of shape (batch, n_timesteps, n_dims); ``_build_network`` makes
``GRU(input_size=n_dims, hidden_dim=256, n_layers=4, batch_first=self.batch_first, ...)`` with the default
``batch_first=False``; ``_fit`` seeds ``torch.manual_seed(random_state)``, uses ``torch.nn.CrossEntropyLoss()`` and
``torch.optim.Adam(network.parameters(), lr=0.001)`` and ``_run_epoch`` is the plain forward / loss / zero_grad /
backward / step over ``DataLoader(dataset, batch_size=8)`` (no shuffling), 10 epochs. ``GRU.forward`` runs
``X, _ = self.gru(X)``, keeps ``X[:, -1, :]`` and applies the linear head.

The fault: the batches are batch-major, (batch, time, dims), but the ``nn.GRU`` is built with ``batch_first=False``,
so it reads them as (time, batch, dims): the samples of a batch become the time steps of one recurrence and the
time steps of a series become the "batch". ``X[:, -1, :]`` then picks, for each sample i, the GRU state after it has
read the LAST time step of samples 0, 1, ..., i of the same batch, in batch order. A sample's prediction ignores all
but the last time step of its own series and depends on the samples before it in the batch (the first sample of a
batch sees only itself, the last one sees the whole batch); the same series gets another prediction in another
batch or at another position. Nothing raises: the shapes still fit (input_size is n_dims either way) and the output
has one row per sample. The classifier learns little beyond what one time step (and its neighbours in the batch)
tells.

Source: github.com/sktime/sktime issue #9108 "[BUG] Input mis-handling in GRU and possibly other PyTorch models in
sktime" (a core developer: ``PytorchDataset`` hands the network (n_instances, n_timesteps, n_dims) while the GRU
expects (seq, batch, input) under ``batch_first=False``; the two pieces of code contradict each other), reported on
the code at 2010c145174f5ffe4646c7c5a82ca6b7557cc6c4 (``sktime/networks/gru.py`` L124-139,
``sktime/classification/deep_learning/gru.py`` L142-144; the same at the snapshot's HEAD 7bd7d16). Fix: PR #9113
"fix pytorch input shape handling in gru and rnn" (commit 35c136eda85eb9b2c37292d0494cb48d36385af5 "[BUG] deprecate
batch_first param in GRU/RNN classifiers"): ``_build_network`` passes ``batch_first=True,  # Always True to match
PytorchDataset transpose``, the user parameter is deprecated ("Prior behavior with batch_first=False cannot be
retained as it conflicts with sktime's internal data format").
Fault label: batch_mixing (the recurrence runs across the samples of a batch instead of along each series' time
axis, so each prediction mixes the batch's samples).

Program lines kept verbatim: ``GRU.__init__`` (``nn.GRU(input_size=..., hidden_size=hidden_dim, num_layers=n_layers,
batch_first=batch_first, bias=bias, dropout=dropout, bidirectional=bidirectional)``, the ``out_dropout`` Identity,
``nn.Linear(hidden_dim * (1 + bidirectional), num_classes)``), ``_init_weights`` (xavier_uniform for ``weight_ih``,
orthogonal for ``weight_hh``, zero biases, applied with ``self.apply``), ``forward`` (``X, _ = self.gru(X)``,
``X = X[:, -1, :]``, head), the classifier's defaults (hidden_dim 256, n_layers 4, dropout 0, fc_dropout 0,
bidirectional False, batch_size 8, Adam lr 0.001, CrossEntropyLoss) and ``PytorchDataset``'s
``np.transpose(X, (0, 2, 1))`` (applied when the batches are built). buggy: ``batch_first=False`` (the default);
fixed: ``batch_first=True`` (PR #9113). ``random_state=0`` -> ``torch.manual_seed(0)`` before the network is built.
Nothing was shrunk. The sktime estimator wrapper (label encoding, ``predict``) is not ported; labels are 0..3 ids
as ``_encode_y`` produces.
Ported: torch only. ``batch_first`` is a PyTorch RNN flag; Keras RNN layers always read (batch, time, features), so
the fault has no faithful Keras twin.
Data stand-in (no dataset download): BasicMotions-shaped panels (sktime's ``load_basic_motions``: 6 dims = 3-axis
accelerometer + 3-axis gyroscope, 100 time steps, 4 classes standing / walking / running / badminton) made from
seeded synthetic motion: each class has its own per-channel oscillation frequencies and amplitudes (standing: small
drift; walking: ~1 Hz-like swing; running: faster, larger; badminton: rare large bursts), each series with a random
phase and offset and N(0, 0.3) noise, values in about -8..7 (std 1.3). The class follows from the whole
series' rhythm; any single time step says little about it. Labels in random order. ``batches``: 40 distinct
batches of 8 (320 series), ``batch`` the first, ``inputs`` 128 held-out series, ``baseline_batch`` 64 training series.

Measured (/tmp/s59/p/b103c/measure.py, the module's builds, plain loop: forward / CrossEntropyLoss / zero_grad /
backward / Adam step over ``batches`` in order, torch seed 0, OMP_NUM_THREADS=1):
10 epochs of the 40 batches (400 steps, the program's num_epochs=10), after each epoch the mean training loss of
that epoch / held-out (128 series, predicted in batches of 8 as in training) cross-entropy and accuracy:
  buggy  epoch 1 1.393 / 1.394 0.24, epoch 3 1.370 / 1.393 0.27, epoch 5 1.309 / 1.344 0.31,
         epoch 7 1.189 / 1.257 0.39, epoch 10 0.937 / 1.110 0.45 (training set 0.801, 0.63; held-out one series
         at a time 1.011, 0.47);
  fixed  epoch 1 1.171 / 1.018 0.47, epoch 3 0.716 / 0.673 0.70, epoch 5 0.095 / 0.058 0.98,
         epoch 7 0.047 / 0.046 0.98, epoch 10 0.035 / 0.033 0.99 (training set 0.017, 1.00; one at a time the same).
  The buggy loss stays at ln 4 = 1.386 for about 4 epochs and then falls slowly; the fixed one is near 0 by epoch 5.
  No NaN in either. First losses (step 1..5): buggy 1.386 1.397 1.372 1.419 1.387, fixed 1.379 1.378 1.351 1.421 1.358.
One batch of 8 repeated 100 steps (fresh build): loss at steps 1 / 10 / 25 / 50 / 100 buggy 1.386 / 1.121 / 0.264 /
  0.003 / 0.000, fixed 1.379 / 0.006 / 0.002 / 0.000 / 0.000: the buggy network can still memorise one batch (the
  8 last time steps, read in order, are distinct), only more slowly, so memorising alone does not reveal the fault.
Batch dependence at init: max |f(8 held-out series as a batch) - f(each alone)| = 1.3e-2 buggy, 9e-9 fixed.
Time per step (batch 8, one thread): ~35 ms buggy (a recurrence of 8 steps over a "batch" of 100), ~75 ms fixed
(100 steps over 8 series), so ~4-8 s per hundred steps; build ~5 s the first time (imports, data), then ~0.1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "batch_mixing"
SOURCE = ("github:sktime/sktime issue #9108 (sktime/networks/gru.py GRU(batch_first=False) fed PytorchDataset's "
          "(n_instances, n_timesteps, n_dims) batches, sktime/classification/deep_learning/gru.py GRUClassifier, "
          "_pytorch.py BaseDeepClassifierPytorch @2010c145174f5ffe4646c7c5a82ca6b7557cc6c4); fix PR #9113 "
          "35c136eda85eb9b2c37292d0494cb48d36385af5 '[BUG] deprecate batch_first param in GRU/RNN classifiers' "
          "(batch_first=True always)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("batch_independence", {}),
          ("input_independent_baseline", {})]

HIDDEN_DIM = 256
N_LAYERS = 4
BATCH_SIZE = 8
LR = 0.001
N_DIMS, N_TIMESTEPS, N_CLASSES = 6, 100, 4
N_BATCHES = 40
N_INPUTS = 128
N_BASELINE = 64
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BasicMotions-like panels (n, 6, 100) float32, 4 classes, transposed as PytorchDataset does to (n, 100, 6)."""
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    y = np.arange(n) % N_CLASSES
    r.shuffle(y)
    t = np.arange(N_TIMESTEPS) / 10.0  # 10 s at 10 Hz
    # per class and channel: frequency (Hz) and amplitude; accelerometer channels 0-2, gyroscope 3-5
    freq = np.array([[0.1, 0.1, 0.1, 0.1, 0.1, 0.1],
                     [0.9, 1.8, 0.9, 0.9, 0.45, 0.9],
                     [1.6, 3.2, 1.6, 1.6, 0.8, 1.6],
                     [0.3, 0.3, 0.6, 0.6, 0.3, 0.6]])
    amp = np.array([[0.1, 0.1, 0.1, 0.05, 0.05, 0.05],
                    [1.0, 1.5, 0.8, 1.2, 1.0, 1.2],
                    [2.5, 3.5, 2.0, 3.0, 2.5, 3.0],
                    [0.6, 0.6, 0.6, 0.8, 0.8, 0.8]])
    x = np.empty((n, N_DIMS, N_TIMESTEPS), "float32")
    for i, c in enumerate(y):
        ph = r.uniform(0, 2 * np.pi, N_DIMS)
        sig = amp[c][:, None] * np.sin(2 * np.pi * freq[c][:, None] * t[None, :] + ph[:, None])
        if c == 3:  # badminton: two or three short, large swings at random times
            for s in r.integers(0, N_TIMESTEPS - 8, r.integers(2, 4)):
                sig[:, s:s + 8] += r.uniform(2.0, 4.0, (N_DIMS, 1)) * np.hanning(8)[None, :] * r.choice([-1, 1])
        x[i] = sig + r.normal(0, 0.5, (N_DIMS, 1)) + r.normal(0, 0.3, (N_DIMS, N_TIMESTEPS))
    x = np.transpose(x, (0, 2, 1))  # PytorchDataset: X = np.transpose(X, (0, 2, 1))
    n_tr = N_BATCHES * BATCH_SIZE
    return x[:n_tr], y[:n_tr].astype("int64"), x[n_tr:], y[n_tr:].astype("int64")


def _build(batch_first: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    class GRU(nn.Module):
        def __init__(self, input_size, hidden_dim, n_layers, batch_first=False, bias=True, num_classes=None,
                     init_weights=True, dropout=0.0, fc_dropout=0.0, bidirectional=False):
            super().__init__()
            self.hidden_dim = hidden_dim
            self.n_layers = n_layers
            self.init_weights = init_weights
            self.dropout = dropout
            self.bidirectional = bidirectional
            self.gru = nn.GRU(
                input_size=input_size,
                hidden_size=hidden_dim,
                num_layers=n_layers,
                batch_first=batch_first,
                bias=bias,
                dropout=dropout,
                bidirectional=bidirectional,
            )
            self.fc_dropout = fc_dropout
            self.num_classes = num_classes
            self.init_weights = init_weights
            self.out_dropout = (
                nn.Dropout(self.fc_dropout) if self.fc_dropout else nn.Identity()
            )
            self.fc = nn.Linear(
                self.hidden_dim * (1 + self.bidirectional), self.num_classes
            )
            if self.init_weights:
                self.apply(self._init_weights)

        def _init_weights(self, module):
            for name, param in module.named_parameters():
                if "weight_ih" in name:
                    nn.init.xavier_uniform_(param.data)
                elif "weight_hh" in name:
                    nn.init.orthogonal_(param.data)
                elif "bias" in name:
                    param.data.fill_(0)

        def forward(self, X):
            if isinstance(X, np.ndarray):
                X = torch.from_numpy(X).float()

            X, _ = self.gru(X)
            X = X[:, -1, :]
            X = self.out_dropout(X)
            X = self.fc(X)
            return X

    torch.manual_seed(SEED)  # _fit: torch.manual_seed(self.random_state)
    network = GRU(input_size=N_DIMS, hidden_dim=HIDDEN_DIM, n_layers=N_LAYERS, batch_first=batch_first, bias=True,
                  num_classes=N_CLASSES, init_weights=True, dropout=0.0, fc_dropout=0.0, bidirectional=False)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(network.parameters(), lr=LR)

    x, y, xh, _ = _data()
    xt, yt = torch.tensor(x, dtype=torch.float), torch.tensor(y, dtype=torch.long)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": network, "batch": batches[0], "batches": batches,
            "inputs": torch.tensor(xh, dtype=torch.float), "loss_fn": criterion, "optimizer": optimizer,
            "baseline_batch": (xt[:N_BASELINE], yt[:N_BASELINE])}


def buggy(framework: str) -> dict[str, Any]:
    return _build(batch_first=False)  # GRUClassifier default, sktime @2010c14


def fixed(framework: str) -> dict[str, Any]:
    return _build(batch_first=True)  # PR #9113: batch_first=True always
