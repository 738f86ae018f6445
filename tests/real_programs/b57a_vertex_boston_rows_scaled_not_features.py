"""GoogleCloudPlatform/vertex-ai-samples (Google Cloud's official Vertex AI notebooks),
``notebooks/official/explainable_ai/sdk_custom_tabular_regression_online_explain.ipynb``: a Boston-housing price
regressor trained as a Vertex AI custom job and deployed with explanations. The training script is written by the
notebook (``%%writefile custom/trainer/task.py``): ``make_dataset()`` loads ``tf.keras.datasets.boston_housing``
(``test_split=0.2, seed=113``: 404 training and 102 test rows of 13 raw features, targets the median price in
$1000s, 5..50), scales the features with ``scale(feature)`` = ``feature / np.max(feature)`` and keeps the maxima in
``params`` ("store the normalization (max) value for each feature"); ``build_and_compile_dnn_model()`` is
``Dense(128, relu, input_shape=(13,)) -> Dense(128, relu) -> Dense(1, linear)``, ``loss='mse'``,
``RMSprop(learning_rate=args.lr)`` with ``--lr`` 0.001; ``model.fit(x_train, y_train, epochs=args.epochs,
batch_size=GLOBAL_BATCH_SIZE)`` with 20 epochs and ``BATCH_SIZE = 16`` (one replica).

The fault (data pipeline, normalisation on the wrong axis): the scaling loop indexes rows, not features:
    for _ in range(13):
        x_train[_], max = scale(x_train[_])
        x_test[_], _ = scale(x_test[_])
``x_train[_]`` is the _-th SAMPLE, so the loop divides the first 13 training rows (and the first 13 test rows) each
by its own largest value (its TAX or its B, ~190..711) and leaves the other 391 training rows (89 test rows) raw:
TAX up to 711 (666 in the stand-in), B up to 397, AGE and ZN up to 100, next to NOX ~0.5 and CHAS 0/1. The network
trains on unscaled, wildly mixed-range inputs, and 13 rows are on a different scale from all the others (a house
whose features were divided by ~400 looks like a new kind of house). The stored ``params`` are per-row maxima, not
the per-feature maxima the comment promises. Reported in issue #1599 "Code for Normalization is wrong"
("Normalization happens over 13 rows not over columns (features)"), closed as "fixed" by the maintainer's commit
8e53879df1b8d507fc073eb4ff0c5809e88f7487 "fix: issue 1599", which changed the two lines to
``scale(x_train[_:_+1:])`` / ``scale(x_test[_:_+1:])`` -- still the _-th row (a (1, 13) slice), numerically the same
bug; the row loop is still in 26 other notebooks of the repository at HEAD. The fix ported here is the one the
issue asks for and the code's own comment describes: scale each feature COLUMN by its maximum, ``x_train[:, _], max
= scale(x_train[:, _])`` (and ``x_test[:, _]``, which the program scales with the test split's own maxima, kept).

Source: github.com/GoogleCloudPlatform/vertex-ai-samples, notebooks/official/explainable_ai/
sdk_custom_tabular_regression_online_explain.ipynb at 8e53879df^ (= dcfc30ed; the notebook last changed in
2bb6d6deb), cell "%%writefile custom/trainer/task.py": make_dataset / scale / build_and_compile_dnn_model /
BATCH_SIZE, and the job's CMDARGS ``--epochs=20 --steps=100``; issue #1599; commit 8e53879df (ineffective, see
above); fix as stated in the issue.
Fault label: inputs_not_normalized|other:normalized_along_wrong_axis (the max-scaling is applied along the sample
axis, so 97 % of the rows reach the network unscaled and 3 % are scaled per row).

Program lines kept: ``scale`` (divide by ``np.max``), the 13-step loop with row indexing (buggy) / column indexing
(fixed), the split sizes (404 / 102, keras' ``load_data`` permutation with seed 113), the model (128-128-1 ReLU
MLP, Keras default glorot-uniform kernels and zero biases), ``loss='mse'``, ``RMSprop(learning_rate=0.001)``
(Keras defaults rho 0.9, epsilon 1e-7), batch size 16, 20 epochs for the measurements.
Ported: the Vertex job plumbing (argparse, distribution strategy, GCS param file, SavedModel export, deployment)
is dropped; ``astype(np.float)`` -> ``np.float64`` (the alias is gone from numpy), float32 arrays to the
frameworks. Torch twin: ``nn.Sequential(Linear(13, 128), ReLU, Linear(128, 128), ReLU, Linear(128, 1))`` with
Keras' initialisation (``_nets.torch_dense``), ``RMSprop(lr=0.001, alpha=0.9, eps=1e-7)``, ``loss_fn`` = MSE of the
squeezed output against y (Keras' ``mse`` on the (B, 1) output). The fault is in the numpy preprocessing before
either framework, so it exists in both.
Data stand-in (no download; scikit-learn no longer ships Boston): ``boston_like(506)`` -- 13 seeded synthetic
features with Boston's ranges, marginals and main correlations (CRIM log-normal 0.006..89, ZN 73 % zeros up to 100,
INDUS 0.46..27.7, CHAS 7 % ones, NOX 0.385..0.87 rising with INDUS, RM ~N(6.28, 0.7), AGE skewed to 100, DIS
falling with NOX, RAD 1..8 or 24, TAX 666 where RAD = 24 else 187..469, PTRATIO 12.6..22, B mostly ~390 with a
tail to 0.3, LSTAT log-normal 1.7..38 falling with RM); MEDV = the published Boston OLS coefficients' linear
function (intercept shifted) + a convex LSTAT term + a convex RM > 6.8 term + N(0, 3.5) noise, clipped to [5, 50]:
mean 22.8, sd 8.0 (Boston 22.5, 9.2). Split like ``boston_housing.load_data(test_split=0.2, seed=113)``.
``batch`` / ``batches``: the first 8 shuffled batches of 16 of the scaled training rows (``fit`` shuffles);
``inputs``: the 102 scaled test rows; ``baseline_batch``: 64 training rows (the program's batch holds 16).

Measured (my own plain loops, /tmp/s40/h57a/work/measure.py; OMP_NUM_THREADS=1; seed 0; the module's builds and
data; 20 epochs of shuffled batches of 16 over the 404 training rows = 520 steps, Keras ``train_on_batch``, torch
zero_grad / loss / backward / step; "running loss" = mean of the last 26 step losses; test MSE on the 102 test rows
scaled the way each version scales them, split into the 13 rows the buggy loop did scale and the other 89):
  inputs: buggy training rows mean |x| 67.7, per-feature maxima 89 / 100 / 27.5 / 1 / 0.83 / 8.4 / 100 / 12 / 24 /
    666 / 22 / 397 / 38 (13 rows in [0, 1]); fixed: every feature in [0, 1], mean 0.47.
  torch: step-1 loss buggy 1.35e4 vs fixed 553; running loss after epochs 1 / 5 / 10 / 20: buggy 683 / 202 / 141 /
    71.6, fixed 401 / 61.3 / 43.2 / 22.6; test MSE buggy 199.8 (the 13 per-row-scaled rows 488, the rest 158) vs
    fixed 19.4 (30.4 / 17.8).
  Keras: step-1 loss buggy 2043 vs fixed 529; running loss after epochs 1 / 5 / 10 / 20: buggy 337 / 180 / 123 /
    67.3, fixed 377 / 59.0 / 38.4 / 22.2; test MSE buggy 207.5 (482 / 167) vs fixed 18.8 (29.5 / 17.2).
  So the buggy pipeline starts from a much larger loss, is still at ~3x the fixed training loss after the
  program's 20 epochs, and predicts the test houses ~10x worse (the per-row-scaled ones worst of all).
  One batch of 16 repeated, loss at steps 0 / 50 / 100 / 200: torch buggy 1.35e4 / 231 / 157 / 135, fixed 553 /
    50.3 / 36.5 / 18.1; Keras buggy 2043 / 153 / 159 / 102, fixed 529 / 48.9 / 32.8 / 15.6.
  Time per step (batch 16, one thread, loaded 2-core machine): torch ~0.4-0.5 ms, Keras ``train_on_batch``
    ~2.4-2.9 ms; builds: torch < 0.01 s, Keras ~0.03 s (the first build, imports included, 1.3 s torch / 3.5-6 s
    Keras).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._data import boston_like
from tests.real_programs._versions import versions

LABEL = "inputs_not_normalized|other:normalized_along_wrong_axis"
SOURCE = ("github:GoogleCloudPlatform/vertex-ai-samples issue #1599 (notebooks/official/explainable_ai/"
          "sdk_custom_tabular_regression_online_explain.ipynb custom/trainer/task.py make_dataset "
          "'for _ in range(13): x_train[_], max = scale(x_train[_])' @8e53879df^ = "
          "dcfc30edab40004f5b51e63657cb65d2ea884d7b; maintainer commit "
          "8e53879df1b8d507fc073eb4ff0c5809e88f7487 'fix: issue 1599' (x_train[_:_+1:], still a row); fix per the "
          "issue: scale the feature columns x_train[:, _])")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("inputs_normalized", {}), ("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("input_independent_baseline", {})]

learning_rate = 0.001  # --lr default
BATCH_SIZE = 16
EPOCHS = 20  # CMDARGS --epochs
N_FEATURES = 13
N_BATCHES = 8
SEED = 0


def load_data(test_split: float = 0.2, seed: int = 113) -> tuple[tuple[np.ndarray, np.ndarray],
                                                                   tuple[np.ndarray, np.ndarray]]:
    """``tf.keras.datasets.boston_housing.load_data(test_split=0.2, seed=113)``: a seeded permutation, then the
    first 80 % for training (404 rows) and the rest for test (102)."""
    x, y = boston_like()
    indices = np.random.RandomState(seed).permutation(len(x))
    x, y = x[indices], y[indices]
    n_train = int(len(x) * (1 - test_split))
    return (x[:n_train].copy(), y[:n_train].copy()), (x[n_train:].copy(), y[n_train:].copy())


def make_dataset(fixed: bool) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """task.py's make_dataset: the 13-step max-scaling loop over rows (buggy) or feature columns (fixed)."""

    # Scaling Boston Housing data features
    def scale(feature: np.ndarray) -> tuple[np.ndarray, Any]:
        max = np.max(feature)  # noqa: A001 (the program's name)
        feature = (feature / max).astype(np.float64)  # np.float
        return feature, max

    (x_train, y_train), (x_test, y_test) = load_data(test_split=0.2, seed=113)
    params = []
    for _ in range(13):
        if fixed:  # what issue #1599 asks for: the _-th feature column
            x_train[:, _], max = scale(x_train[:, _])  # noqa: A001
            x_test[:, _], _ = scale(x_test[:, _])
        else:  # 2bb6d6deb (and 8e53879df's x_train[_:_+1:], the same row)
            x_train[_], max = scale(x_train[_])  # noqa: A001
            x_test[_], _ = scale(x_test[_])
        params.append(max)
    return (x_train, y_train), (x_test, y_test)


@functools.lru_cache(maxsize=2)
def _data(fixed: bool) -> dict[str, Any]:
    (x_train, y_train), (x_test, _) = make_dataset(fixed)
    x_train, y_train = x_train.astype("float32"), y_train.astype("float32")
    order = np.random.default_rng(SEED).permutation(len(x_train))  # fit(shuffle=True): one epoch's order
    xs, ys = x_train[order], y_train[order]
    batches = [(xs[i:i + BATCH_SIZE], ys[i:i + BATCH_SIZE]) for i in range(0, N_BATCHES * BATCH_SIZE, BATCH_SIZE)]
    return {"batches": batches, "inputs": x_test.astype("float32"), "baseline_batch": (xs[:64], ys[:64]),
            "train": (x_train, y_train)}


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    from tests.real_programs._nets import torch_dense

    torch.manual_seed(SEED)
    model = nn.Sequential(torch_dense(N_FEATURES, 128), nn.ReLU(), torch_dense(128, 128), nn.ReLU(),
                          torch_dense(128, 1))  # Dense(1, activation='linear')

    def loss_fn(outputs: Any, targets: Any) -> Any:  # keras 'mse' on the (B, 1) output and (B,) targets
        return nn.functional.mse_loss(outputs.reshape(-1), targets.reshape(-1).to(outputs.dtype))

    d = _data(fixed)
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in d["batches"]]
    bx, by = d["baseline_batch"]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(d["inputs"]),
            "baseline_batch": (torch.from_numpy(bx), torch.from_numpy(by)), "loss_fn": loss_fn,
            "optimizer": lambda params: torch.optim.RMSprop(params, lr=learning_rate, alpha=0.9, eps=1e-7)}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(SEED)
    model = keras.Sequential([
        keras.Input(shape=(N_FEATURES,)),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(128, activation="relu"),
        keras.layers.Dense(1, activation="linear"),
    ])
    model.compile(loss="mse", optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate))
    d = _data(fixed)
    return {"model": model, "batch": d["batches"][0], "batches": d["batches"], "inputs": d["inputs"],
            "baseline_batch": d["baseline_batch"]}


buggy, fixed = versions(_torch, _keras)
