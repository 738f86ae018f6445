"""OpenTabular/DeepTab (formerly Mambular; scikit-learn style deep tabular models on PyTorch Lightning), v2.0.0:
``MLPRegressor().fit(X, y)`` hands ``y`` unchanged (``y.values`` for a pandas object) to ``TabularDataModule``, whose
``setup()`` builds the regression labels with ``torch.tensor(self.y_train, dtype=torch.float32).unsqueeze(dim=1)``;
the task model's default regression loss is ``nn.MSELoss()`` applied as ``self.loss_fct(predictions, y_true)``
(``TaskModel.compute_loss``, non-ensemble branch) to the ``(B, 1)`` output of ``MLP`` (``MLPConfig()``:
``layer_sizes=[256, 128, 32]``, ReLU, ``dropout=0.2``, no batch / layer norm, no skip connections, ``Linear(32, 1)``
head); ``TrainerConfig``: Adam, ``lr=1e-4``, ``weight_decay=1e-6``, ``batch_size=128``, shuffled batches.

The fault (a target tensor one axis too deep): the ``fit`` docstring accepts ``y`` of shape ``(n_samples,)`` or
``(n_samples, n_targets)``, and the ``unsqueeze(dim=1)`` is only right for the 1-D case. A single-target ``y`` given
as a column vector ``(n, 1)`` becomes labels of shape ``(n, 1, 1)``, a batch's targets ``(128, 1, 1)`` against
predictions ``(128, 1)``. ``MSELoss`` does not refuse this: it broadcasts both to ``(128, 128, 1)`` (only a
UserWarning) and averages the squared difference of EVERY prediction with EVERY target of the batch. The minimiser of
that all-pairs loss is the same number for all rows, the batch mean of the targets; the per-row pairing is gone,
so the network learns to output the mean whatever the features say, and the loss it reports (variance of the
targets plus the squared bias) looks like ordinary slow progress. Reported in issue #441 ("[BUG] A (n,1)
column-vector y silently trains against a broadcast all-pairs loss (R2 0.996 -> 0.002)": same data and seed, only
the shape of ``y`` differing; binary classification with a column ``y`` instead crashes in ``BCEWithLogitsLoss``,
which checks shapes). Fix proposed in PR #455 ("fix(data): reshape labels instead of unsqueeze so a column-vector y
works"): ``reshape(-1, 1)`` in place of ``unsqueeze(dim=1)`` for the regression (and binary) labels, the same
``(n, 1)`` for both accepted shapes of ``y``.

Source: github.com/OpenTabular/DeepTab ``deeptab/data/datamodule.py`` ``TabularDataModule.setup`` (regression
branch), ``deeptab/architectures/mlp.py`` ``MLP``, ``deeptab/configs/models/mlp_config.py``, ``deeptab/configs/
core.py`` (``BaseModelConfig`` / ``TrainerConfig`` defaults), ``deeptab/training/lightning_module.py``
(``nn.MSELoss()``, ``compute_loss``), ``deeptab/models/_mixins/fit.py`` at 4e6a359f365322c0d38d1b9a52dc1fd43a0ec897
(release v2.0.0, the buggy version); issue #441 and fix PR #455 (closed; in the stored snapshot of the repository
the ``unsqueeze(dim=1)`` line is still present, so the fix is the PR's diff, not a commit on main).
Fault label: target_shape (the labels carry an extra axis and MSELoss broadcasts predictions against all targets).

Program lines kept: the label line ``torch.tensor(self.y_train, dtype=torch.float32).unsqueeze(dim=1)`` (buggy) and
the PR's ``.reshape(-1, 1)`` (fixed), applied to the training targets; ``MLP``'s layer list as the architecture
builds it for the defaults (``Linear`` / shared ``ReLU`` instance / ``Dropout(0.2)`` per hidden layer, ``Linear(32,
1)``), with its forward loop; ``nn.MSELoss()`` called as ``loss_fct(predictions, y_true)``; ``torch.optim.Adam(lr=
1e-4, weight_decay=1e-6)`` over all parameters (``no_weight_decay_for_bias_and_norm=False``); batch size 128; torch
default init. The user's side is the issue's call: the target handed to ``fit`` as ``y.reshape(-1, 1)``.
Ported / replaced: torch only. The Lightning wrapper, the 80/20 validation split, early stopping and the
ReduceLROnPlateau scheduler (which acts per epoch on the validation loss) are left out: the checks and my loop drive
the optimiser step by step. ``MLP.forward`` concatenates the per-feature tensors of ``(num, cat, emb)``; here the
model takes the already concatenated ``(B, 8)`` numeric matrix. The ``pretab`` preprocessor (its default encoding of
numeric columns, piecewise-linear / spline bins depending on the version) is replaced by plain standardisation with
training-split statistics: the fault lives in the labels, not in the feature encoding, and the targets are not
scaled by DeepTab in either version. Nothing was shrunk. No Keras twin: Keras 3's losses squeeze or expand a target
whose rank differs by one from the prediction's (MeanSquaredError of a (4, 1, 1) target and a (4, 1) prediction
equals that of the (4, 1) target), so the same column-vector mistake is harmless there.
Data stand-in (the issue's data set is not named): seeded synthetic tabular regression, 8 numeric columns drawn
N(0, 1) then given per-column scales 0.5..20 and offsets -50..50 (raw tabular units), target from the standardised
columns: 3 + 2 z0 - 1.5 z1 z2 + 2 sin(1.5 z3) + 0.8 z4^2 + z5 [z6 > 0] + N(0, 0.1^2) noise (mean 3.8, std 3.2),
given to ``fit`` as an (n, 1) column as in the issue. ``batches``: 50 distinct batches of 128 (6,400 rows, in
order); ``batch``: the first; ``inputs``: 256 held-out rows (features only). Buggy batches carry targets of shape
(128, 1, 1), fixed ones (128, 1), with the same values.

Measured (my own plain loops, OMP_NUM_THREADS=1, torch seed 0, the module's builds):
  /tmp/s59/p/b101e/measure.py: the 50 batches reshuffled every epoch (torch.Generator seed 0), model.train() for
  the steps, model.eval() for the evaluation; per-row MSE on the 6,400 training rows and MSE / R2 on 256 held-out:
    epoch (steps)        1 (50)   2 (100)  5 (250)  10 (500)  20 (1000)  40 (2000)  60 (3000)
    buggy held-out R2   -1.14    -0.66     0.015    0.029     0.033      0.024      0.018
    fixed held-out R2   -1.15    -0.68     0.368    0.680     0.858      0.926      0.960
    buggy train MSE     22.7     17.5      10.0     9.93      9.89       9.97       10.03  (target variance 10.2)
    fixed train MSE     22.8     17.8      6.59     3.57      1.57       0.82       0.47
    the loss each version reports (mean over the epoch): buggy 24.2 20.6 11.4 11.2 10.9 10.7 10.7, fixed 24.3 20.7
    7.77 4.43 2.63 1.95 1.53. The buggy model's held-out prediction std falls to 0.13 after 60 epochs (target std
    3.2): it converges to a near-constant output at the mean, R2 ~0, as in the issue (0.002 vs 0.996).
  /tmp/s59/p/b101e/measure2.py: the first batch repeated (reported loss / per-row MSE in eval mode / std of the
    predictions at steps 1, 50, 100, 200, 500): buggy 24.29/24.23/0.03, 21.59/21.36/0.07, 16.84/16.13/0.25,
    10.00/8.38/0.78, 9.79/8.71/0.62 (stuck at the batch's variance, 8.9); fixed 24.35/24.23/0.03, 21.54/21.41/0.07,
    16.20/16.29/0.25, 6.65/6.41/0.98, 2.53/2.05/2.44. The module's 50 batches in order, twice (100 steps), mean
    reported loss per 10 steps: buggy 25.53 24.39 24.47 22.77 24.22 22.71 21.38 20.94 18.86 19.48, fixed 25.56
    24.41 24.48 22.77 24.21 22.70 21.34 20.91 18.89 19.44. So with lr 1e-4 the first ~150 steps are spent moving
    the output towards the mean of the targets (~3.8), which both losses reward alike; the versions part only once
    the mean is reached (buggy plateau at about the target variance, fixed going on down).
  Time per step (batch 128, one thread): ~2-3 ms either version. Build: first ~5 s (torch import, data), later ~0.04 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "target_shape"
SOURCE = ("github:OpenTabular/DeepTab issue #441 '[BUG] A (n,1) column-vector y silently trains against a broadcast "
          "all-pairs loss (R2 0.996 -> 0.002)', fix PR #455 'fix(data): reshape labels instead of unsqueeze so a "
          "column-vector y works' (deeptab/data/datamodule.py TabularDataModule.setup "
          "'torch.tensor(self.y_train, dtype=torch.float32).unsqueeze(dim=1)' "
          "@4e6a359f365322c0d38d1b9a52dc1fd43a0ec897 (v2.0.0); deeptab/architectures/mlp.py MLP, "
          "configs/models/mlp_config.py, configs/core.py TrainerConfig, training/lightning_module.py nn.MSELoss)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("input_independent_baseline", {}),
          ("gradients_flow", {})]

BATCH_SIZE = 128  # TrainerConfig.batch_size
LR = 1e-4  # TrainerConfig.lr
WEIGHT_DECAY = 1e-6  # TrainerConfig.weight_decay
LAYER_SIZES = [256, 128, 32]  # MLPConfig.layer_sizes
DROPOUT = 0.2  # MLPConfig.dropout
N_FEATURES = 8
N_BATCHES = 50
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeded tabular regression: 8 numeric columns, a smooth non-linear target handed to fit() as an (n, 1) column.

    Returns the standardised training features, the (n, 1) float target as the user passed it, the held-out
    standardised features and their (m, 1) targets."""
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    raw = r.normal(0.0, 1.0, (n, N_FEATURES)) * r.uniform(0.5, 20.0, N_FEATURES) + r.uniform(-50, 50, N_FEATURES)
    z = (raw - raw.mean(0)) / raw.std(0)
    y = (3.0 + 2.0 * z[:, 0] - 1.5 * z[:, 1] * z[:, 2] + 2.0 * np.sin(1.5 * z[:, 3]) + 0.8 * z[:, 4] ** 2
         + z[:, 5] * (z[:, 6] > 0) + 0.1 * r.normal(0.0, 1.0, n))
    y = y.reshape(-1, 1)  # the call: fit(X, y.reshape(-1, 1)), a documented (n_samples, n_targets) shape
    n_tr = N_BATCHES * BATCH_SIZE
    mu, sd = raw[:n_tr].mean(0), raw[:n_tr].std(0)  # stand-in for the preprocessor fitted on the training split
    x = ((raw - mu) / sd).astype("float32")
    return x[:n_tr], y[:n_tr], x[n_tr:], y[n_tr:]


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    class MLP(nn.Module):  # deeptab/architectures/mlp.py MLP with MLPConfig() defaults, numerical inputs only
        def __init__(self, input_dim: int, num_classes: int = 1):
            super().__init__()
            self.activation = nn.ReLU()
            self.layers = nn.ModuleList()
            self.layers.append(nn.Linear(input_dim, LAYER_SIZES[0]))
            self.layers.append(self.activation)
            self.layers.append(nn.Dropout(DROPOUT))
            for i in range(1, len(LAYER_SIZES)):
                self.layers.append(nn.Linear(LAYER_SIZES[i - 1], LAYER_SIZES[i]))
                self.layers.append(self.activation)
                self.layers.append(nn.Dropout(DROPOUT))
            self.layers.append(nn.Linear(LAYER_SIZES[-1], num_classes))

        def forward(self, x):
            for i in range(len(self.layers) - 1):
                x = self.layers[i](x)  # skip_connections=False: out replaces x
            x = self.layers[-1](x)
            return x

    x, y_train, xh, _ = _data()
    if fixed:  # PR #455: reshape(-1, 1), the same (n, 1) for a 1-D or a column-vector y
        train_labels = torch.tensor(y_train, dtype=torch.float32).reshape(-1, 1)
    else:  # TabularDataModule.setup, regression branch: an (n, 1) y becomes (n, 1, 1)
        train_labels = torch.tensor(y_train, dtype=torch.float32).unsqueeze(dim=1)

    torch.manual_seed(SEED)
    model = MLP(N_FEATURES, num_classes=1)
    loss_fct = nn.MSELoss()  # TaskModel: regression (num_classes == 1) without a loss_fct
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)

    def loss_fn(predictions, y_true):  # TaskModel.compute_loss, non-ensemble case
        return loss_fct(predictions, y_true)

    xt = torch.tensor(x)
    batches = [(xt[i:i + BATCH_SIZE], train_labels[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
