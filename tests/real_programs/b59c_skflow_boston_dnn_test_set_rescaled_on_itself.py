"""Scikit Flow (``tensorflow/skflow``, the scikit-learn-style TensorFlow wrapper that became ``tf.contrib.learn``),
``examples/boston.py``: the project's DNN-regression example on the Boston house prices. It loads
``datasets.load_boston()`` (506 rows, 13 raw features, target MEDV in $1000s, 5..50), splits it with
``cross_validation.train_test_split(X, y, test_size=0.2, random_state=42)`` (404 / 102 rows), standardises the
training rows with ``scaler = preprocessing.StandardScaler(); X_train = scaler.fit_transform(X_train)``, trains
``skflow.TensorFlowDNNRegressor(hidden_units=[10, 10], steps=5000, learning_rate=0.1, batch_size=1)`` (ReLU layers
from ``ops.dnn``, ``models.linear_regression`` head, mean squared error, skflow's default ``optimizer="SGD"`` with
``clip_gradients=5.0`` global-norm clipping, single rows from a ``RandomState(42)`` permutation re-drawn every
epoch), and scores ``metrics.mean_squared_error(regressor.predict(scaler.fit_transform(X_test)), y_test)``.

The fault (train/test preprocessing differ): PR #78 (00214b6bdeb2d9243af84727d7279572d111a84f, "scaler fitted to
the training set only, then applied to test set") moved the scaler after the split but wrote the prediction as
``scaler.fit_transform(X_test)``: the scaler is RE-FITTED on the 102 test rows, so the network, trained on features
standardised with the training means / standard deviations, is served features standardised with the test set's own
statistics (every test feature forced to mean 0, sd 1). The mapping from a house to the network's input now depends
on which other houses are in the request -- a request of a single house is mapped to the all-zero vector whatever
the house. Issue tensorflow/skflow #157 ("fit_transform on test set in DNN Regression example boston.py": "wouldn't
we want to rate the test set to this same mean?", and with ``scaler.transform(X_test)`` "the MSE is roughly
halved"). The example moved into TensorFlow as ``tensorflow/examples/skflow/boston.py`` (buggy there at
5c9bc51857bc0c330d3ab976871ee3509647d1e7, ``from tensorflow.contrib import skflow``); fixed there to
``y_predicted = regressor.predict(scaler.transform(x_test))`` (the version at
06a0062f88de018963bf9a89bed0edfdefb78c85; I could not pin the exact fixing commit -- the TensorFlow repository is
too large to fetch here); ``examples/learn/boston.py`` keeps ``scaler.transform`` (PR #7566 split it into
``x_transformed = scaler.transform(x_test)``).

Source: github.com/tensorflow/skflow ``examples/boston.py`` at 35e12d74537ffbf7a27a2136337b1c52c922ae96 (last
version before the examples moved to TensorFlow), ``skflow/estimators/dnn.py`` TensorFlowDNNRegressor (defaults
``optimizer="SGD"``, ``learning_rate=0.1``, ``tf_random_seed=42``), ``skflow/models.py`` get_dnn_model /
linear_regression, ``skflow/ops/dnn_ops.py`` dnn, ``skflow/ops/losses_ops.py`` mean_squared_error_regressor,
``skflow/trainer.py`` TensorFlowTrainer (``clip_gradients=5.0``), ``skflow/io/data_feeder.py`` DataFeeder; issue
#157; fix in tensorflow/tensorflow (see above).
Fault label: preprocessing_mismatch (training inputs are standardised with the training statistics, prediction
inputs with statistics re-fitted on the prediction rows themselves).

Program lines kept: the split (``train_test_split``, test_size 0.2, random_state 42), ``StandardScaler`` fitted on
the training rows, the buggy ``fit_transform(X_test)`` vs the fixed ``transform(X_test)``, the network (13 -> 10 ->
10 -> 1, ReLU, linear head), the loss (``reduce_mean`` of the squared difference with the labels reshaped to
[-1, 1]), SGD at 0.1 with global-norm clipping at 5.0, batch size 1, 5,000 steps, the feeder's epoch-wise
``RandomState(42)`` permutation, TF 0.7's ``get_variable`` default initialiser (uniform_unit_scaling: U(+-sqrt(3 /
fan_in)) for the kernels and for the head's bias of shape [1], i.e. U(+-sqrt(3)); ``rnn_cell.linear`` biases 0).
Ported: TF 0.7 graph / session code -> torch ``nn.Sequential`` and a Keras ``Sequential`` (``keras.initializers.
VarianceScaling(1.0, 'fan_in', 'uniform')`` is the same uniform_unit_scaling; ``SGD(global_clipnorm=5.0)``);
torch ``train_step`` does zero_grad / loss / backward / ``clip_grad_norm_(5.0)`` / step. ``cross_validation`` ->
``model_selection`` (same split). No widths shrunk. The fault is numpy / scikit-learn preprocessing around the
model, so it exists in both frameworks.
Data stand-in (no download; ``load_boston`` is gone from scikit-learn): ``boston_like(506)`` from the
corpus' shared _data.py (first written for b57a) -- 13 seeded synthetic features with Boston's column order,
ranges, marginals and main correlations, MEDV from the published OLS coefficients plus convex LSTAT / RM terms and noise, clipped to [5, 50].
``batch`` / ``batches``: the feeder's first 32 single-row batches of the standardised training rows (the program's
batch_size=1); ``inputs``: the 102 test rows as the program hands them to ``predict`` (buggy: re-fitted scaler;
fixed: the training scaler); ``baseline_batch``: 64 training rows; ``train_pipeline`` / ``eval_pipeline``: one raw
row through the training scaler / through the scaler the prediction uses (buggy: the one fitted on X_test, which
is what ``fit_transform(X_test)`` applies to each test row); ``raw_samples``: 16 raw test rows.

Measured (my own plain loops, /tmp/s41/h59c/work/measure.py and single.py; OMP_NUM_THREADS=1; the module's builds
and data; the program's 5,000 single-row steps in the feeder's order, torch ``train_step`` / Keras
``train_on_batch``; training is identical in both versions, only the prediction inputs differ):
  prediction inputs: fixed per-feature means -0.13..0.15 and sds 0.40 (CRIM) .. 1.24 (DIS) on the training
    scale; buggy every feature exactly mean 0 / sd 1; on the 16 raw_samples the two pipelines differ by 0.093 on
    average, up to 1.09 (fixed: 0).
  torch: initial train MSE 526; running loss (mean of the previous 250 steps) at steps 250 / 1000 / 2500 / 5000:
    94.4 / 39.0 / 28.8 / 27.3; final train MSE 18.1; the same trained net on the buggy vs fixed test inputs: mean
    |prediction difference| 0.66 ($660), max 5.9; test MSE buggy 24.5 vs fixed 27.6.
  Keras: initial 594; running loss 104.6 / 40.3 / 34.7 / 33.8; train MSE 30.6; mean |prediction difference| 0.87,
    max 6.7; test MSE buggy 29.2 vs fixed 35.2.
  So on this stand-in (a random split whose test statistics are close to the training ones) the re-fit moves
    individual predictions by up to ~$6-7k but does NOT raise the 102-row test MSE -- it is lower in both
    frameworks, by chance of the split; the issue's "roughly halved" on the real Boston data is not reproduced.
    What does reproduce is that the buggy predictions depend on the request's composition: scoring the same
    102 test rows in requests of 1 / 5 / 20 / 102 rows (each request ``fit_transform``-ed on itself, torch net
    above) gives test MSE 82.5 / 48.6 / 24.7 / 24.5, and with 1-row requests every house gets the same
    prediction (prediction sd 0.0 vs 9.2 fixed, target sd 8.8). The fault's observable signature here is the
    train/eval preprocessing disagreement, not the training curves (identical in both versions).
  Time per step (batch 1, one thread, loaded 2-core machine): torch ~0.7 ms, Keras ``train_on_batch`` ~1.7-2.5
    ms; builds: torch 0.01 s, Keras 0.06-0.1 s after the first (the first, imports and scikit-learn
    included, 3.5-7.6 s torch / 6.4-8.8 s Keras, on the loaded machine)."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._data import boston_like
from tests.real_programs._versions import versions

LABEL = "preprocessing_mismatch"
SOURCE = ("github:tensorflow/skflow issue #157 (examples/boston.py@35e12d74537ffbf7a27a2136337b1c52c922ae96 "
          "'regressor.predict(scaler.fit_transform(X_test))', introduced by PR #78 "
          "00214b6bdeb2d9243af84727d7279572d111a84f; same file as tensorflow/tensorflow "
          "tensorflow/examples/skflow/boston.py@5c9bc51857bc0c330d3ab976871ee3509647d1e7; "
          "skflow/estimators/dnn.py TensorFlowDNNRegressor, skflow/models.py linear_regression, skflow/ops/dnn_ops.py, "
          "skflow/trainer.py clip_gradients=5.0, skflow/io/data_feeder.py); fixed in tensorflow/tensorflow "
          "tensorflow/examples/skflow/boston.py@06a0062f88de018963bf9a89bed0edfdefb78c85: "
          "regressor.predict(scaler.transform(x_test)) (later examples/learn/boston.py, PR #7566)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("inputs_normalized", {}), ("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("preprocessing_parity", {})]

# examples/boston.py
HIDDEN_UNITS = [10, 10]
STEPS = 5000
learning_rate = 0.1
BATCH_SIZE = 1
TEST_SIZE = 0.2
SPLIT_SEED = 42  # train_test_split(..., random_state=42)
# skflow defaults (estimators/base.py, trainer.py, io/data_feeder.py)
CLIP_GRADIENTS = 5.0  # TensorFlowTrainer(clip_gradients=5.0): tf.clip_by_global_norm
FEEDER_SEED = 42  # DataFeeder: np.random.RandomState(42).permutation, re-drawn every epoch
N_FEATURES = 13
N_BATCHES = 32  # consecutive single-row batches handed out as "batches"
N_RAW = 16
SEED = 0


def load_boston() -> tuple[np.ndarray, np.ndarray]:
    """Stand-in for ``datasets.load_boston()`` (removed from scikit-learn): 506 rows, see ``boston_like``."""
    return boston_like(506)


@functools.lru_cache(maxsize=2)
def _program(fixed: bool) -> dict[str, Any]:
    """examples/boston.py up to the prediction: split, StandardScaler fitted on the training rows, and the rows
    the regressor is asked to predict (buggy: a second scaler fitted on the test rows; fixed: the training one)."""
    from sklearn import preprocessing
    from sklearn.model_selection import train_test_split  # the program's cross_validation.train_test_split

    # Load dataset
    X, y = load_boston()
    # Split dataset into train / test
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=TEST_SIZE, random_state=SPLIT_SEED)
    # Scale data (training set) to 0 mean and unit standard deviation.
    scaler = preprocessing.StandardScaler()
    X_train_s = scaler.fit_transform(X_train)
    # Predict and score
    if fixed:  # tensorflow/tensorflow 06a0062f: regressor.predict(scaler.transform(x_test))
        predict_scaler = scaler
    else:  # regressor.predict(scaler.fit_transform(X_test)): refits the scaler on the test rows
        predict_scaler = preprocessing.StandardScaler().fit(X_test)
    X_pred = predict_scaler.transform(X_test)

    def train_pipeline(row: np.ndarray) -> np.ndarray:
        return scaler.transform(np.asarray(row, dtype=np.float64).reshape(1, -1))[0].astype("float32")

    def eval_pipeline(row: np.ndarray) -> np.ndarray:
        return predict_scaler.transform(np.asarray(row, dtype=np.float64).reshape(1, -1))[0].astype("float32")

    # skflow's DataFeeder: a RandomState(42) permutation of the rows, batch_size rows at a time
    order = np.random.RandomState(FEEDER_SEED).permutation(len(X_train_s))
    xs, ys = X_train_s[order].astype("float32"), y_train[order].astype("float32")
    batches = [(xs[i:i + BATCH_SIZE], ys[i:i + BATCH_SIZE]) for i in range(0, N_BATCHES * BATCH_SIZE, BATCH_SIZE)]
    return {"batches": batches, "inputs": X_pred.astype("float32"), "baseline_batch": (xs[:64], ys[:64]),
            "train_pipeline": train_pipeline, "eval_pipeline": eval_pipeline,
            "raw_samples": [r.astype("float32") for r in X_test[:N_RAW]],
            "train": (X_train_s.astype("float32"), y_train.astype("float32")),
            "test": (X_pred.astype("float32"), y_test.astype("float32"))}


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    def linear(n_in: int, n_out: int) -> nn.Linear:
        """tf.nn.rnn_cell.linear / get_variable in TF 0.7: uniform_unit_scaling kernel U(+-sqrt(3 / fan_in)),
        zero bias."""
        layer = nn.Linear(n_in, n_out)
        lim = float(np.sqrt(3.0 / n_in))
        nn.init.uniform_(layer.weight, -lim, lim)
        nn.init.zeros_(layer.bias)
        return layer

    torch.manual_seed(SEED)
    layers: list[nn.Module] = []
    n_in = N_FEATURES
    for n_units in HIDDEN_UNITS:  # ops.dnn(X, hidden_units), activation=tf.nn.relu
        layers += [linear(n_in, n_units), nn.ReLU()]
        n_in = n_units
    head = linear(n_in, 1)  # models.linear_regression: weights [10, 1], bias [1] (get_variable default init)
    nn.init.uniform_(head.bias, -float(np.sqrt(3.0)), float(np.sqrt(3.0)))
    model = nn.Sequential(*layers, head)

    def loss_fn(predictions: Any, labels: Any) -> Any:
        """ops.mean_squared_error_regressor: labels reshaped to [-1, 1], reduce_mean of the squared diff."""
        diff = labels.reshape(-1, 1).to(predictions.dtype) - predictions.reshape(-1, 1)
        return torch.mean(diff * diff)

    def train_step(model: Any, optimizer: Any, loss_fn: Any, x: Any, y: Any) -> Any:
        """TensorFlowTrainer: gradients, tf.clip_by_global_norm(gradients, 5.0), SGD apply_gradients."""
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_GRADIENTS)
        optimizer.step()
        return loss

    d = _program(fixed)
    t = torch.from_numpy
    batches = [(t(x), t(y)) for x, y in d["batches"]]
    bx, by = d["baseline_batch"]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": t(d["inputs"]),
            "baseline_batch": (t(bx), t(by)), "loss_fn": loss_fn,
            "optimizer": lambda params: torch.optim.SGD(params, lr=learning_rate), "train_step": train_step,
            "train_pipeline": d["train_pipeline"], "eval_pipeline": d["eval_pipeline"],
            "raw_samples": d["raw_samples"]}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(SEED)
    uus = keras.initializers.VarianceScaling(1.0, "fan_in", "uniform")  # = TF 0.7 uniform_unit_scaling
    model = keras.Sequential(
        [keras.Input(shape=(N_FEATURES,))]
        + [keras.layers.Dense(n, activation="relu", kernel_initializer=uus) for n in HIDDEN_UNITS]
        + [keras.layers.Dense(1, kernel_initializer=uus,
                              bias_initializer=keras.initializers.RandomUniform(-np.sqrt(3.0), np.sqrt(3.0)))])
    model.compile(loss="mse",
                  optimizer=keras.optimizers.SGD(learning_rate=learning_rate, global_clipnorm=CLIP_GRADIENTS))
    d = _program(fixed)
    return {"model": model, "batch": d["batches"][0], "batches": d["batches"], "inputs": d["inputs"],
            "baseline_batch": d["baseline_batch"], "train_pipeline": d["train_pipeline"],
            "eval_pipeline": d["eval_pipeline"], "raw_samples": d["raw_samples"]}


buggy, fixed = versions(_torch, _keras)
