"""LeoGrin/tabular-benchmark (Grinsztajn, Oyallon & Varoquaux, "Why do tree-based models still outperform deep
learning on tabular data?", NeurIPS 2022 datasets track): ``src/models/tabular/bin/mlp.py`` is the benchmark's MLP
baseline (adapted from Yandex's rtdl), trained through skorch. For regression, ``skorch_models_regression.
create_rtdl_mlp_regressor_skorch`` wraps it in ``NeuralNetRegressor`` (criterion ``nn.MSELoss``, shuffled batches,
``module__d_out=1``, ``regression=True``), and ``train.py`` wraps that in ``TransformedTargetRegressor(...,
transformer=QuantileTransformer(output_distribution="normal"))``. The default configuration
(``configs/model_configs/mlp_config.py`` + ``skorch_config.py``): ``n_layers = 4``, ``d_layers = 256``,
``dropout = 0.0``, optimizer ``adamw`` (torch AdamW, default weight decay 0.01), ``lr = 1e-3``, ``batch_size = 512``,
numerical features "gaussienized" by ``QuantileTransformer(output_distribution="normal")`` fitted on the train
split (``data_transforms.gaussienize``, ``type="quantile"``), ``train_prop = 0.7``.

The fault (an extra hidden layer whose width is the output width): ``MLP.__init__`` builds ``d_layers = [d_layers
for _ in range(n_layers)]`` and then ``d_layers.append(d_out)``, so ``self.layers`` ends with ``Linear(256,
d_out)``, which ``forward`` passes through ``F.relu`` like every hidden layer, and ``self.head`` is
``Linear(d_out, d_out)``. For regression (``d_out = 1``) the whole 4 x 256 network is squeezed through ONE ReLU
unit: the prediction is ``a * relu(z) + c`` for a scalar ``z``, so it is floored on one side, and whenever that
unit's pre-activation goes negative on every sample (at init or during training) no gradient reaches any layer
below it and the model predicts a constant. (For classification, ``d_out = 2``, the bottleneck is 2 ReLU units.)
Issue #14 ("Bug in MLP": "The outcome is that ``self.head`` will always be a linear map from dim ``d_out`` to dim
``d_out``. This should be fixed by removing line 46."); the author: "Thank you very much for pointing it out! ... I
fixed it for the final version of the paper."

Source: github.com/LeoGrin/tabular-benchmark ``src/models/tabular/bin/mlp.py`` at 183b1f7^ (the line had been there
since the file's first version, ``src/tabular/bin/mlp.py``), with ``src/models/skorch_models_regression.py``,
``src/configs/model_configs/mlp_config.py``, ``skorch_config.py``, ``src/train.py``, ``src/data_transforms.py``;
issue #14, fix 183b1f7a1183b2d2352a5c19c5348d49c774d486 ("fix mlp bug"), which deletes ``d_layers.append(d_out)``.
Fault label: other:relu_bottleneck_of_output_width (the architecture), with dead_units as its most visible effect
(the single bottleneck unit dies on some seeds and nothing reaches the head).

Program lines kept: ``MLP`` as written for numerical features (``categorical_indicator=None``, ``categories=None``:
the stand-in has no categorical columns; the embedding branch is left out), the buggy / fixed ``d_layers`` lines,
``forward``'s relu (+ dropout, 0.0 here) per hidden layer and the linear head, torch default init; the default
config above (4 x 256, AdamW lr 1e-3, batch 512, MSE); the quantile "gaussienize" of X fitted on the train split
and the quantile-normal transform of the target (TransformedTargetRegressor fits it on the train targets).
Ported: skorch is not used: ``loss_fn`` is ``nn.MSELoss()`` on the (n, 1) output and the (n, 1) transformed target
(NeuralNetRegressorBis reshapes y to (n, 1)); ``batches`` are the first shuffled epoch's batches of 512; early
stopping, checkpoints and the LR scheduler are left out. Keras twin: the same layer list (``Dense(256, relu)`` x 4,
then ``Dense(d_out, relu)`` in the buggy build, then the ``Dense(d_out)`` head) with torch's Linear init
(VarianceScaling(1/3, fan_in, uniform) kernels, U(+-1/sqrt(fan_in)) biases), compiled with MSE and
``AdamW(1e-3, weight_decay=0.01)`` (torch's default decay; Keras' default is 0.004).
Data stand-in (no OpenML download of the benchmark's regression tables, e.g. california): ``_data.boston_like(2048)``
(13 numerical housing features, house price target 5..50 with real nonlinear signal), split 70 / 30, then the
program's quantile transforms (X and y ~ N(0, 1) on the train split). No size was shrunk (256-wide layers run fast).

Measured (my own plain loops, /tmp/s48/h77_a/m.py (the program's net and data path, model seeds 0-9) and m_mod.py
(the module's builds); AdamW + MSE, batch 512, 60 epochs of the 1433 training rows reshuffled each epoch, one thread;
MSE on the quantile-transformed target, train / test):
  the module's builds (SEED = 0), epochs 0 / 1 / 5 / 20 / 60:
    torch buggy 2.238/2.022, 1.729/1.543, 0.963/0.958, 0.545/0.568, 0.441/0.560 (test R^2 0.56);
    torch fixed 1.376/1.266, 1.156/1.079, 0.516/0.537, 0.293/0.430, 0.131/0.574 (test R^2 0.54);
    Keras buggy 1.792/1.608, 1.495/1.347, 0.857/0.872, 0.612/0.630, 0.490/0.601 (R^2 0.52);
    Keras fixed 1.388/1.286, 1.160/1.083, 0.518/0.510, 0.299/0.432, 0.114/0.514 (R^2 0.59).
    The loss at init is higher in the buggy build (2.24 vs 1.38 torch; 1.79 vs 1.39 Keras: the head sees one
    non-negative unit), it falls half as fast, and train MSE ends 3-4x the fixed net's.
  torch, model seeds 0-9 (m.py): buggy train MSE after 60 epochs 0.44 / 0.49 / 1.37 / 1.46 / 0.46 / 0.82 / 0.51 /
    1.81 / 0.50 / 0.49, test R^2 0.55 / 0.52 / 0.00 / -0.10 / 0.52 / 0.29 / 0.40 / -0.41 / 0.51 / 0.42; on seeds 2, 3
    and 7 the bottleneck unit is dead and the net gives ONE value for all 615 test rows. fixed: train MSE 0.12-0.15,
    test R^2 0.55-0.61 on every seed.
  So the fault shows in both forms: on 3 of 10 seeds a dead bottleneck and a constant prediction (not on the
  module's SEED = 0); on the others a net that trains more slowly and underfits. Test MSE on the live seeds is
  near the fixed net's at epoch 60 because the fixed net overfits this small stand-in by then (the program's early
  stopping on valid_loss would stop it earlier; at epoch 20 the fixed net's test MSE is 0.43 vs the buggy 0.57).
  Time per step (batch 512, one thread): torch ~7 ms, Keras ``train_on_batch`` ~15 ms. Builds: first torch 2.0 s,
  Keras 3.8 s (imports, quantile transforms), later 0.0 s / 0.1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._data import boston_like
from tests.real_programs._versions import versions

LABEL = "other:relu_bottleneck_of_output_width|dead_units"
SOURCE = ("github:LeoGrin/tabular-benchmark issue #14 (src/models/tabular/bin/mlp.py 'd_layers.append(d_out)' "
          "@183b1f7^, with skorch_models_regression.py, configs/model_configs/mlp_config.py, skorch_config.py, "
          "train.py; fix 183b1f7a1183b2d2352a5c19c5348d49c774d486 'fix mlp bug')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {"task": "regression"}), ("loss_decreases", {"task": "regression"}),
          ("not_constant_predictions", {"task": "regression"}), ("gradients_flow", {}), ("init_loss", {})]

# configs/model_configs/mlp_config.py config_default + skorch_config_default
N_LAYERS = 4
D_LAYERS = 256
DROPOUT = 0.0
LR = 1e-3
WEIGHT_DECAY = 0.01  # torch.optim.AdamW default
BATCH_SIZE = 512
TRAIN_PROP = 0.7
D_OUT = 1  # InputShapeSetterMLP: module__d_out = 1 for regression
# port
N_ROWS = 2048
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> dict[str, np.ndarray]:
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import QuantileTransformer

    x, y = boston_like(N_ROWS, seed=SEED)
    x_tr, x_te, y_tr, y_te = train_test_split(x, y, train_size=TRAIN_PROP, random_state=SEED)
    t = QuantileTransformer(output_distribution="normal", random_state=SEED)  # gaussienize, type="quantile"
    x_tr, x_te = t.fit_transform(x_tr), t.transform(x_te)
    ty = QuantileTransformer(output_distribution="normal", random_state=SEED)  # TransformedTargetRegressor
    y_tr, y_te = ty.fit_transform(y_tr[:, None]), ty.transform(y_te[:, None])
    f = np.float32
    return {"x_train": x_tr.astype(f), "y_train": y_tr.astype(f), "x_test": x_te.astype(f), "y_test": y_te.astype(f)}


def _batches() -> list[tuple[np.ndarray, np.ndarray]]:
    d = _data()
    perm = np.random.RandomState(SEED).permutation(len(d["x_train"]))  # iterator_train__shuffle=True
    return [(d["x_train"][perm[i:i + BATCH_SIZE]], d["y_train"][perm[i:i + BATCH_SIZE]])
            for i in range(0, len(perm), BATCH_SIZE)]


def _d_layers(fixed: bool) -> list[int]:
    d_layers = [D_LAYERS for _ in range(N_LAYERS)]  # CHANGED
    if not fixed:
        d_layers.append(D_OUT)  # the line fix 183b1f7 removes
    return d_layers


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class MLP(nn.Module):  # src/models/tabular/bin/mlp.py, numerical features only
        def __init__(self, *, d_in: int, d_layers: list[int], dropout: float, d_out: int, regression: bool) -> None:
            super().__init__()
            self.regression = regression
            self.layers = nn.ModuleList([nn.Linear(d_layers[i - 1] if i else d_in, x) for i, x in enumerate(d_layers)])
            self.dropout = dropout
            self.head = nn.Linear(d_layers[-1] if d_layers else d_in, d_out)

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
                x = F.relu(x)
                if self.dropout:
                    x = F.dropout(x, self.dropout, self.training)
            x = self.head(x)
            if not self.regression:
                x = x.squeeze(-1)
            return x

    torch.manual_seed(SEED)
    d = _data()
    model = MLP(d_in=d["x_train"].shape[1], d_layers=_d_layers(fixed), dropout=DROPOUT, d_out=D_OUT, regression=True)
    t = torch.from_numpy
    tb = [(t(x), t(y)) for x, y in _batches()]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": t(d["x_test"]), "loss_fn": nn.MSELoss(),
            "optimizer": torch.optim.AdamW(model.parameters(), lr=LR)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)
    d = _data()

    def linear(n_in: int, n_out: int, activation: str | None = None) -> Any:
        bound = 1.0 / np.sqrt(n_in)  # nn.Linear's default init
        return layers.Dense(n_out, activation=activation,
                            kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3, "fan_in", "uniform"),
                            bias_initializer=keras.initializers.RandomUniform(-bound, bound))

    d_in = d["x_train"].shape[1]
    d_layers = _d_layers(fixed)
    stack: list[Any] = [keras.Input((d_in,))]
    stack += [linear(d_layers[i - 1] if i else d_in, x, "relu") for i, x in enumerate(d_layers)]
    stack.append(linear(d_layers[-1], D_OUT))  # head
    model = keras.Sequential(stack, name="MLP")
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=LR, weight_decay=WEIGHT_DECAY), loss="mse")
    batches = _batches()
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": d["x_test"]}


buggy, fixed = versions(_torch, _keras)
