"""manzilzaheer/DeepSets (the code of Zaheer et al., "Deep Sets", NeurIPS 2017), ``PopStats``: learning a statistic
of a distribution from a bag of samples drawn from it. ``generator/generate_task1_dataset.m`` makes L bags of N = 512
points of a 2-D Gaussian whose Cholesky factor is a fixed random 2x2 matrix ``A`` (``rng(3); A = rand(d)``) rotated
by an angle from ``linspace(0, pi, L)``; the label of a bag is ``Y = 1/2 * log(2*pi*exp(1)*s^2)`` with ``s`` the
(1, 1) entry of ``A_nL * A_nL'`` ("entropy of the first coordinate"). ``loader.py`` ``DataIterator`` reads the .mat
file into ``X`` of shape (L, N, d) float32 and ``y``, shuffles the bags each epoch and yields batches of 128 bags.
``model.py`` ``DeepSet(in_features=2)``: a per-point ``feature_extractor`` (Linear 2-50, ELU, Linear 50-100, ELU,
Linear 100-50), a sum over the points of a bag, a ``regressor`` (Linear 50-30, ELU, 30-30, ELU, 30-10, ELU, 10-1),
so one prediction of shape (128, 1) per batch. ``trainer.py`` ``Trainer``: ``nn.MSELoss()`` (``self.l2``),
``optim.Adam(self.model.parameters(), lr=0.001)``, the step ``zero_grad(); y_pred = self.model(X); loss =
self.l2(y_pred, y); loss.backward(); step()`` (then, in a second phase, the same with ``nn.L1Loss``).

The fault (the targets' shape): the loader squeezes the labels, ``self.y = np.squeeze(f['Y'][()])``, to shape
(L,), so a batch's targets are (128,) while the model returns (128, 1). ``nn.MSELoss`` does not raise: it broadcasts
the pair to a (128, 128) matrix and averages (y_pred[i] - y[j])**2 over ALL pairs i, j (PyTorch only warns "Using a
target size ... different to the input size"). That loss is minimised by predicting the batch's mean label for every
bag, whatever the bag holds: the per-bag signal is gone (its gradient on y_pred[i] is 2 * (y_pred[i] - mean(y)) /
128), and the network learns a constant. The fix reshapes the labels to a column: ``self.y =
np.reshape(f['Y'][()], [-1, 1])``, so the loss compares each bag's prediction with its own label. The fixer's words
(PR #1 / #2 "fixed broadcasting issue between y and y_pred in PopStats"): "the (128,)-tensor y behaves as a
(1,128)-tensor when subtracted from the (128,1)-tensor y_pred, yielding a (128,128)-tensor, which leads to the wrong
MSE-loss. Before this fix the model approximates the average statistic across the indices instead of the
corresponding statistic for each index" (with before / after plots of the flat vs the fitted curve).

Source: github.com/manzilzaheer/DeepSets ``PopStats/loader.py`` (with ``model.py``, ``trainer.py``,
``generator/generate_task1_dataset.m``) at 8b90fe08af08a5e3bb03b18e0ca162faa48ec4fd (master; the files unchanged
since the initial commit 8f6002b3); fix c91ea79fb34e4d70371369e1c245efaedbea251f in the fork georg0/DeepSets
("fixed broadcasting issue between y and y_pred"), offered as pull requests manzilzaheer/DeepSets #1 (closed as a
duplicate) and #2 (open, not merged).
Fault label: target_shape (labels of shape (batch,) against predictions of shape (batch, 1); the MSE broadcasts to
all pairs and the model learns the batch mean).

Program lines kept: ``DeepSet`` as written (layers, widths, ELU, the sum over dim 1, the ``add_module`` calls, torch
default init), ``nn.MSELoss()``, ``optim.Adam(model.parameters(), lr=0.001)``, batch 128 bags, the plain step
(no ``train_step`` needed); the label line ``np.squeeze(Y).astype('float32')`` (buggy) vs ``np.reshape(Y, [-1,
1]).astype('float32')`` (fixed) is the only difference. ``Variable(...)`` / ``.cuda()`` dropped (no-ops now).
Not ported: the ReduceLROnPlateau scheduler (it acts per epoch on the validation MSE; the checks run far fewer
steps than its patience of 50 epochs), the L1 second phase, tqdm / TensorBoard logging, checkpointing.
Shrunk: N, the points per bag, 512 -> 128 (a data size, not the model): with 512 a step of 128 bags takes ~0.15 s
on one idle core (15 s per 100 steps), with 128 ~0.027 s (0.05-0.08 s on this loaded 2-core machine). The sample
variance of 128 points still pins a bag's label to about +-0.1 nats, far below the labels' spread (std 1.18).
Ported: torch only. The fault is PyTorch's broadcasting inside ``MSELoss``; Keras' losses first squeeze or expand
``y_true`` to ``y_pred``'s rank, so a (128,) target against a (128, 1) output gives the per-sample MSE and the
buggy program has no Keras twin.
Data stand-in (no MATLAB .mat files): the task-1 generator itself, in numpy: ``A`` = uniform(0, 1) 2x2 from seed 3
(as ``rng(3); rand(d)``; MATLAB's stream cannot be reproduced, so A differs: [[0.086, 0.237], [0.801, 0.582]]),
angles ``linspace(0, pi, L)``, bag = (R(angle) A randn(2, N))', label 1/2 log(2 pi e s^2) exactly as the .m file
(labels -2.54 .. 1.44 over the angle, mean 0.31, std 1.18; points about -4.7 .. 4.3, std 0.72). Training set L =
2**11 = 2048 bags (``exp_id`` 11 of the program's 7..17), shuffled once with seed 0 as the loader does each epoch:
``batches`` = its 16 batches of 128, ``batch`` = the first; ``inputs`` = 256 held-out bags (a second draw of the
generator with L = 256, the "val.mat" role). x float32 (n, 128, 2); y float32 (n,) buggy / (n, 1) fixed.

Measured (my own plain loop, /tmp/s56/p/b95a/measure.py: the module's builds, the plain zero_grad / forward / loss /
backward / step over the 16 batches in order, cycled; torch seed 0, OMP_NUM_THREADS=1; "per-bag MSE" is the true
MSE of each bag's prediction against its own label, computed with matching shapes for both versions):
  the loss each program reports, at steps 0 / 10 / 25 / 50 / 100 / 200 / 400 / 800:
    buggy 4.19 1.30 1.56 1.50 1.28 1.26 1.16 1.16   (the all-pairs MSE: it falls in the first ~10 steps while the
      output moves to the labels' mean, then stays at the batch's label variance, the floor of that loss)
    fixed 4.13 1.18 1.27 0.52 0.21 0.059 0.0083 0.0041
  per-bag MSE on the current batch, same steps: buggy 4.13 1.33 1.58 1.50 1.27 1.25 1.15 1.16; fixed = its loss.
  after 800 steps (50 epochs of 2048 bags): per-bag MSE on the 2048 training bags buggy 1.385 / fixed 0.0056;
    on the 256 held-out bags buggy 1.389 (R^2 0.002) / fixed 0.0041 (R^2 0.997); std of the held-out predictions
    buggy 0.0031 (every bag gets ~0.304, the labels' mean 0.307) / fixed 1.216 (labels' std 1.18).
  Another seed (SEED = 1: other init and shuffle, 400 steps): buggy held-out R^2 0.002, prediction std 0.0016;
    fixed R^2 0.992.
  One batch repeated (/tmp/s56/p/b95a/onebatch.py, 300 Adam steps): buggy 4.19 / 1.142 / 1.136 / 1.136 at steps
    0 / 25 / 100 / 300 (stuck at that batch's label variance, 1.136), fixed 4.13 / 0.67 / 0.17 / 0.0085.
  Time per step: ~0.027 s idle (batch 128 x 128 points, one thread). Build: ~1.3 s first (imports, data), then
    ~0.01 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "target_shape"
SOURCE = ("github:manzilzaheer/DeepSets PopStats/loader.py + model.py + trainer.py + generator/"
          "generate_task1_dataset.m @8b90fe08af08a5e3bb03b18e0ca162faa48ec4fd ('self.y = np.squeeze(f[\"Y\"][()])'); "
          "fix c91ea79fb34e4d70371369e1c245efaedbea251f in georg0/DeepSets 'fixed broadcasting issue between y and "
          "y_pred', PRs manzilzaheer/DeepSets #1, #2")
FRAMEWORKS = ("torch",)
CHECKS = [
    ("loss_decreases", {"task": "regression"}),
    ("overfit_one_batch", {"task": "regression"}),
    ("not_constant_predictions", {"task": "regression"}),
    ("input_independent_baseline", {"task": "regression"}),
]

BATCH_SIZE = 128  # DataIterator(..., 128, shuffle=True)
LR = 0.001
N_POINTS = 128  # points per bag; the program's generator uses N = 512 (shrunk for CPU time, see the docstring)
L_TRAIN = 2 ** 11  # data_11.mat
L_HELD = 256
SEED = 0


def _rotation_matrix(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def _generate_task1(n_bags: int, n_points: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """generate_task1_dataset.m in numpy: bags (n_bags, n_points, 2) and labels Y (n_bags, 1), as the .mat holds."""
    d = 2
    a = np.random.default_rng(3).random((d, d))  # rng(3); A = rand(d)
    x_parameter = np.linspace(0, np.pi, n_bags)  # rotation angles
    r = np.random.default_rng(seed)  # rng('shuffle')
    x = np.empty((n_bags, n_points, d))
    y = np.zeros((n_bags, 1))
    for n in range(n_bags):
        a_n = _rotation_matrix(x_parameter[n]) @ a
        x[n] = (a_n @ r.standard_normal((d, n_points))).T  # bag representing a rotated normal distribution
        m = a_n @ a_n.T
        s = m[0, 0]
        y[n] = 1 / 2 * np.log(2 * np.pi * np.exp(1) * s ** 2)  # entropy of the first coordinate (as written)
    return x.astype("float32"), y


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training bags in one shuffled epoch order, their raw labels (L, 1), held-out bags and labels."""
    x, y = _generate_task1(L_TRAIN, N_POINTS, seed=1)
    order = np.random.default_rng(SEED).permutation(L_TRAIN)  # DataIterator.get_iterator's shuffle
    xh, yh = _generate_task1(L_HELD, N_POINTS, seed=2)
    return x[order], y[order], xh, yh


def _labels(y_raw: np.ndarray, fixed: bool) -> np.ndarray:
    if fixed:
        return np.reshape(y_raw, [-1, 1]).astype('float32')  # the fix (c91ea79)
    return np.squeeze(y_raw).astype('float32')  # loader.py as written: labels of shape (L,)


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.optim as optim

    class DeepSet(nn.Module):

        def __init__(self, in_features, set_features=50):
            super(DeepSet, self).__init__()
            self.in_features = in_features
            self.out_features = set_features
            self.feature_extractor = nn.Sequential(
                nn.Linear(in_features, 50),
                nn.ELU(inplace=True),
                nn.Linear(50, 100),
                nn.ELU(inplace=True),
                nn.Linear(100, set_features)
            )

            self.regressor = nn.Sequential(
                nn.Linear(set_features, 30),
                nn.ELU(inplace=True),
                nn.Linear(30, 30),
                nn.ELU(inplace=True),
                nn.Linear(30, 10),
                nn.ELU(inplace=True),
                nn.Linear(10, 1),
            )

            self.add_module('0', self.feature_extractor)
            self.add_module('1', self.regressor)

        def forward(self, input):
            x = input
            x = self.feature_extractor(x)
            x = x.sum(dim=1)
            x = self.regressor(x)
            return x

    x, y_raw, xh, _ = _data()
    y = _labels(y_raw, fixed)
    torch.manual_seed(SEED)
    model = DeepSet(x.shape[2])
    l2 = nn.MSELoss()
    optimizer = optim.Adam(model.parameters(), lr=LR)

    def loss_fn(y_pred, y):
        return l2(y_pred, y)

    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, L_TRAIN, BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.from_numpy(xh),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
