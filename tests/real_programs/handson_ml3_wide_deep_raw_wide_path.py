"""Hands-On Machine Learning (3rd ed.), chapter 10's first Wide & Deep regression network on California
housing (10_neural_nets_with_keras.ipynb): a Keras ``Normalization`` layer feeds the deep path
(Dense 30 ReLU -> Dense 30 ReLU), but the wide path concatenates the *raw* ``input_`` with the deep
path's output before the Dense(1) head. The raw features range from about 1 (AveBedrms) to tens of
thousands (Population), so the head starts with predictions in the hundreds and Adam at 1e-3 has to
claw its way down: the reporter "noticed the wide and deep example is using non-normalized inputs
which leads to performance degradation".

Source: github.com/ageron/handson-ml3 PR #20 ("Fixing wide-and-deep to use normalized inputs",
merged by the author in 300e6970; fix commit bdd246bf07bfef58542e93e361384b7814a0f862, which changes
``concat_layer([input_, hidden2])`` to ``concat_layer([normalized, hidden2])``), program as in
10_neural_nets_with_keras.ipynb at bdd246bf^.
Program configuration: ``fetch_california_housing()`` (8 float features; target = median house value
in $100k, 0.15..5.0, a 1-D array), split twice with ``train_test_split(random_state=42)``;
``normalization_layer = Normalization()`` adapted on X_train; ``Dense(30, relu)`` x 2;
``Concatenate``; ``Dense(1)``; ``Adam(learning_rate=1e-3)``, ``loss="mse"``; ``fit(epochs=20)`` with
the default batch_size 32.
Data: California housing is downloaded, not bundled, so a seeded numpy stand-in of the same columns,
ranges and rough distributions is used: MedInc log-normal around 3.5 (0.5..15), HouseAge 1..52,
AveRooms around 5.2, AveBedrms around 1.07, Population log-normal (median about 1,100, 3..35,682),
AveOccup around 2.9, Latitude/Longitude around Los Angeles, the Bay Area and elsewhere in the state,
target from income and coastal location plus noise clipped to 0.15..5.0; 2048 rows (the Normalization
layer is adapted on all of them, the checks use batches of 32), float32.
Fault label: inputs_not_normalized (the wide path is fed unnormalised features).
Fix (bdd246bf): ``concat = concat_layer([normalized, hidden2])``.
Torch twin: the same graph as an nn.Module — a normalisation step with the adapted mean and variance
as buffers (Keras' ``(x - mean) / max(sqrt(var), 1e-7)``), Linear(8, 30) ReLU, Linear(30, 30) ReLU,
``torch.cat`` of the raw (buggy) or normalised (fixed) input with the deep output, Linear(38, 1); Keras
initialisers (glorot-uniform, zero bias), ``nn.MSELoss()`` on (n, 1) targets,
``torch.optim.Adam(lr=1e-3)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "inputs_not_normalized"
SOURCE = "github:ageron/handson-ml3 PR #20 (10_neural_nets_with_keras.ipynb@bdd246bf^, fix bdd246bf)"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("init_loss", {}), ("loss_decreases", {}), ("overfit_one_batch", {})]

BATCH_SIZE = 32


def _california_housing(n: int = 2048, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Offline stand-in for ``fetch_california_housing()``: columns MedInc, HouseAge, AveRooms,
    AveBedrms, Population, AveOccup, Latitude, Longitude; target MedHouseVal."""
    rng = np.random.default_rng(seed)
    med_inc = np.clip(rng.lognormal(1.2, 0.47, n), 0.4999, 15.0001)
    house_age = rng.integers(1, 53, n).astype("float64")
    ave_rooms = np.clip(rng.lognormal(1.63, 0.27, n), 0.85, 141.9)
    ave_bedrms = np.clip(rng.normal(1.07, 0.1, n), 0.33, 34.0)
    population = np.clip(np.round(rng.lognormal(7.02, 0.73, n)), 3, 35682)
    ave_occup = np.clip(rng.lognormal(1.05, 0.28, n), 0.69, 1243.0)
    region = rng.choice(3, n, p=[0.5, 0.35, 0.15])  # LA basin, Bay Area, elsewhere
    lat = np.select([region == 0, region == 1], [rng.normal(34.05, 0.45, n), rng.normal(37.75, 0.45, n)],
                    rng.uniform(32.54, 41.95, n))
    lon = np.select([region == 0, region == 1], [rng.normal(-118.2, 0.5, n), rng.normal(-122.1, 0.4, n)],
                    rng.uniform(-124.35, -114.31, n))
    coastal = np.exp(-np.abs(lon + 121.5 - 0.9 * (37.5 - lat)))
    value = 0.4 * med_inc + 0.95 * coastal + 0.005 * house_age - 0.25 * (region == 2) + rng.normal(0, 0.45, n)
    x = np.column_stack([med_inc, house_age, ave_rooms, ave_bedrms, population, ave_occup, lat, lon])
    return x.astype("float32"), np.clip(value, 0.14999, 5.00001).astype("float32")


def _build(framework: str, wide_normalized: bool) -> dict[str, Any]:
    x_train, y_train = _california_housing()
    if framework == "keras":
        import tensorflow as tf

        # program lines (10_neural_nets_with_keras.ipynb, Wide & Deep)
        normalization_layer = tf.keras.layers.Normalization()
        hidden_layer1 = tf.keras.layers.Dense(30, activation="relu")
        hidden_layer2 = tf.keras.layers.Dense(30, activation="relu")
        concat_layer = tf.keras.layers.Concatenate()
        output_layer = tf.keras.layers.Dense(1)

        input_ = tf.keras.layers.Input(shape=x_train.shape[1:])
        normalized = normalization_layer(input_)
        hidden1 = hidden_layer1(normalized)
        hidden2 = hidden_layer2(hidden1)
        if wide_normalized:
            concat = concat_layer([normalized, hidden2])
        else:
            concat = concat_layer([input_, hidden2])
        output = output_layer(concat)

        model = tf.keras.Model(inputs=[input_], outputs=[output])

        optimizer = tf.keras.optimizers.Adam(learning_rate=1e-3)
        model.compile(loss="mse", optimizer=optimizer, metrics=["RootMeanSquaredError"])
        normalization_layer.adapt(x_train)
        return {"model": model, "batch": (x_train[:BATCH_SIZE], y_train[:BATCH_SIZE]),
                "batches": _data.batches(x_train, y_train, BATCH_SIZE)[:8], "inputs": x_train[:BATCH_SIZE]}

    import torch
    import torch.nn as nn

    from tests.real_programs._nets import torch_dense

    class WideAndDeep(nn.Module):
        def __init__(self, mean: np.ndarray, var: np.ndarray) -> None:
            super().__init__()
            self.register_buffer("mean", torch.tensor(mean))  # Normalization.adapt(X_train)
            self.register_buffer("var", torch.tensor(var))
            self.hidden1 = torch_dense(8, 30)
            self.hidden2 = torch_dense(30, 30)
            self.output = torch_dense(38, 1)

        def forward(self, input_):
            normalized = (input_ - self.mean) / torch.clamp(torch.sqrt(self.var), min=1e-7)
            hidden1 = torch.relu(self.hidden1(normalized))
            hidden2 = torch.relu(self.hidden2(hidden1))
            concat = torch.cat([normalized if wide_normalized else input_, hidden2], dim=1)
            return self.output(concat)

    model = WideAndDeep(x_train.mean(axis=0), x_train.var(axis=0))
    xt, yt = torch.tensor(x_train), torch.tensor(y_train)[:, None]
    return {"model": model, "batch": (xt[:BATCH_SIZE], yt[:BATCH_SIZE]),
            "batches": _data.batches(xt, yt, BATCH_SIZE)[:8], "inputs": xt[:BATCH_SIZE],
            "loss_fn": nn.MSELoss(), "optimizer": lambda p: torch.optim.Adam(p, lr=1e-3)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, wide_normalized=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, wide_normalized=True)
