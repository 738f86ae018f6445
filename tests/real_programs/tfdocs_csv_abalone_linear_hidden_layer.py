"""TensorFlow "Load CSV data" tutorial (tensorflow/docs ``site/en/tutorials/load_data/csv.ipynb``), the
abalone regression: seven shell measurements -> age (rings), ``tf.keras.Sequential([layers.Dense(64),
layers.Dense(1)])`` compiled with ``MeanSquaredError()`` and ``Adam()`` (lr 1e-3), ``fit`` with the default
batch size 32. The hidden ``Dense(64)`` has no activation, so the two stacked linear layers collapse into
one affine map: the "neural network" is a linear regression and cannot fit the curved relation of age to
the weights (rings grow with the square root of the shell weight), so its training loss stalls at the
linear fit's residual.

Source: github.com/tensorflow/docs PR #2237 (juelg:activation-functions, merged as 3b8eeeedd), fix commit
f3b75e1cd "Added activation function and increased epochs" ("Added non-linear ReLU activation function in
order to make the network a non-linear function approximator"): ``layers.Dense(64)`` ->
``layers.Dense(64, activation='relu')`` in the abalone models (and the Titanic body), epochs 10 -> 30.
Program: csv.ipynb@f3b75e1cd^, cells "abalone_model = tf.keras.Sequential([...])" / ``compile`` / ``fit``
(the first, un-normalised abalone model; the raw abalone features are already of unit scale, 0..2.8).
Ported minimally: the model gets an explicit ``keras.Input((7,))``; the torch twin is
``nn.Sequential(Linear(7, 64), Linear(64, 1))`` with Keras' glorot-uniform kernels and zero biases,
``nn.MSELoss`` and ``Adam(lr=1e-3)``.
Data stand-in (no download of abalone_train.csv, 3320 rows): seeded abalone-like rows with the real
columns' ranges: Length ~ N(0.52, 0.12) clipped to [0.075, 0.815], Diameter ~ 0.8 Length, Height ~ 0.27
Length, Whole weight ~ 5.9 Length^3 (0..2.8), Shucked/Viscera/Shell weights 0.43/0.22/0.29 of it, each with
noise; Age = 2.5 + 14 sqrt(Shell weight) + N(0, 1.5), clipped to [1, 29] (mean ~ 10 like the real rings).
Eight batches of 32, float32; targets shape (32, 1).
Fault label: other:missing_hidden_activation. Fix: ``Dense(64, activation='relu')`` (torch: ``nn.ReLU()``
between the two Linear layers).
Symptom in a short loop: not visible. With Adam(1e-3) both versions go from MSE ~40-90 to ~2.8 on one
batch of 32 in 1500 steps (buggy 2.79, fixed 2.84 in Keras; 2.77 / 2.83 in torch) and to ~3.7 over the
eight batches in 300 steps; the linear model is at its least-squares floor while the ReLU model would
only pull ahead over the tutorial's 10-30 epochs (the fix also raised the epochs), so the fault shows as a
capacity limit, not as a broken loss curve.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "other:missing_hidden_activation"
SOURCE = "github:tensorflow/docs PR #2237 (site/en/tutorials/load_data/csv.ipynb@f3b75e1cd^, fix f3b75e1cd)"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("inputs_normalized", {})]

batch_size = 32  # Model.fit default
n_batches = 8
lr = 1e-3  # tf.keras.optimizers.Adam() default


def _abalone_like(n: int = batch_size * n_batches, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    length = np.clip(rng.normal(0.52, 0.12, n), 0.075, 0.815)
    diameter = np.clip(0.8 * length + rng.normal(0, 0.02, n), 0.055, 0.65)
    height = np.clip(0.27 * length + rng.normal(0, 0.015, n), 0.0, 1.13)
    whole = np.clip(5.9 * length ** 3 * rng.lognormal(0, 0.1, n), 0.002, 2.83)
    shucked = whole * np.clip(rng.normal(0.43, 0.05, n), 0.2, 0.7)
    viscera = whole * np.clip(rng.normal(0.22, 0.03, n), 0.1, 0.4)
    shell = whole * np.clip(rng.normal(0.29, 0.04, n), 0.1, 0.5)
    age = np.clip(2.5 + 14.0 * np.sqrt(shell) + rng.normal(0, 1.5, n), 1, 29)
    x = np.stack([length, diameter, height, whole, shucked, viscera, shell], 1).astype("float32")
    return x, age.astype("float32")[:, None]


def _build(framework: str, relu: bool) -> dict[str, Any]:
    x, y = _abalone_like()
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    if framework == "keras":
        import keras
        from keras import layers

        keras.utils.set_random_seed(0)
        abalone_model = keras.Sequential([
            keras.Input((7,)),
            layers.Dense(64, activation="relu" if relu else None),  # program: layers.Dense(64)
            layers.Dense(1),
        ])
        abalone_model.compile(loss=keras.losses.MeanSquaredError(), optimizer=keras.optimizers.Adam())
        return {"model": abalone_model, "batch": batches[0], "batches": batches}

    import torch
    from torch import nn

    from tests.real_programs import _nets

    torch.manual_seed(0)
    mods = [_nets.torch_dense(7, 64)] + ([nn.ReLU()] if relu else []) + [_nets.torch_dense(64, 1)]
    model = nn.Sequential(*mods)
    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "loss_fn": nn.MSELoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, relu=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, relu=True)
