"""Hands-On Machine Learning (2nd ed.), chapter 10's Sequential regression MLP on California housing
as printed in the early-release book: the StandardScaler output (``X_train_scaled``) is computed but
``model.fit`` is given the raw ``X_train``, whose columns range from about 1 (AveBedrms) to
thousands (Population), so plain SGD on the MSE blows up.

Source: github.com/ageron/handson-ml2 issue #17 ("CH 10 Sequential Regression Example: ... should
use the _scaled for fitting the model vs the unscaled"; author: "I fixed the code before the book
came out"), program as in 10_neural_nets_with_keras.ipynb at db70dd735006c7bb76663afecd8bdf56a312e90a:
``fetch_california_housing()`` (8 float features, target = median house value in $100k, 0.15..5.0),
``Dense(30, activation="relu", input_shape=[8])``, ``Dense(1)``, ``loss="mean_squared_error"``,
``keras.optimizers.SGD(lr=1e-3)``, 20 epochs, default batch_size 32.
Data: California-housing stand-in from seeded numpy (the set is downloaded, not bundled): MedInc
log-normal around 3.9, HouseAge 1..52, AveRooms around 5.4, AveBedrms around 1.1, Population
log-normal (median about 1,100, up to tens of thousands), AveOccup around 3, Latitude / Longitude
clustered around Los Angeles and the Bay Area, target from income and location plus noise, clipped
to 0.15..5.0; 256 rows, float32 (targets shaped (n, 1)).
Fault label: inputs_not_normalized. Fix (issue #17, as the notebook does): fit on the
StandardScaler-transformed features. Torch twin: Linear(8, 30) ReLU Linear(30, 1), ``nn.MSELoss()``,
``torch.optim.SGD(lr=1e-3)``, batch 32.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "inputs_not_normalized"
SOURCE = "github:ageron/handson-ml2 issue #17 (10_neural_nets_with_keras.ipynb@db70dd7)"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("inputs_normalized", {}), ("loss_decreases", {}), ("overfit_one_batch", {})]

BATCH_SIZE = 32


def _california_like(n: int = 256, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    med_inc = np.clip(rng.lognormal(1.25, 0.45, n), 0.4999, 15.0001)
    house_age = rng.integers(1, 53, n).astype(float)
    house_age[rng.random(n) < 0.06] = 52.0
    ave_rooms = rng.lognormal(1.65, 0.25, n) * np.where(rng.random(n) < 0.01, rng.uniform(3, 15, n), 1.0)
    ave_bedrms = np.clip(rng.normal(1.07, 0.08, n), 0.5, None) * np.where(rng.random(n) < 0.01, 4.0, 1.0)
    population = np.clip(np.round(rng.lognormal(7.0, 0.75, n)), 3, 35682)
    ave_occup = rng.lognormal(1.05, 0.25, n) * np.where(rng.random(n) < 0.005, 30.0, 1.0)
    region = rng.choice(3, n, p=[0.55, 0.35, 0.10])  # LA basin, Bay Area, elsewhere
    lat = np.where(region == 0, rng.normal(34.1, 0.5, n), np.where(region == 1, rng.normal(37.8, 0.5, n),
                                                                  rng.uniform(32.5, 41.95, n)))
    lon = np.where(region == 0, rng.normal(-118.2, 0.5, n), np.where(region == 1, rng.normal(-122.1, 0.4, n),
                                                                    rng.uniform(-124.3, -114.3, n)))
    coast = np.exp(-np.abs(lon + 121.5 - 0.9 * (37.5 - lat)))  # near the coastline
    value = 0.42 * med_inc + 0.9 * coast + 0.006 * house_age - 0.3 * (region == 2) + rng.normal(0, 0.45, n)
    value = np.clip(value, 0.14999, 5.00001)
    x = np.column_stack([med_inc, house_age, ave_rooms, ave_bedrms, population, ave_occup, lat, lon])
    return x.astype("float32"), value.astype("float32")[:, None]


def _build(framework: str, scaled: bool) -> dict[str, Any]:
    from sklearn.preprocessing import StandardScaler

    x, y = _california_like()
    if scaled:
        x = StandardScaler().fit_transform(x).astype("float32")
    if framework == "keras":
        import keras

        # program lines: 10_neural_nets_with_keras.ipynb@db70dd7 (regression MLP)
        model = keras.models.Sequential([
            keras.Input((8,)),
            keras.layers.Dense(30, activation="relu"),
            keras.layers.Dense(1)])
        model.compile(loss="mean_squared_error", optimizer=keras.optimizers.SGD(learning_rate=1e-3))
        return {"model": model, "batch": (x[:BATCH_SIZE], y[:BATCH_SIZE]),
                "batches": _data.batches(x, y, BATCH_SIZE)}

    import torch
    import torch.nn as nn

    model = nn.Sequential(nn.Linear(8, 30), nn.ReLU(), nn.Linear(30, 1))
    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": model, "batch": (xt[:BATCH_SIZE], yt[:BATCH_SIZE]),
            "batches": _data.batches(xt, yt, BATCH_SIZE), "loss_fn": nn.MSELoss(),
            "optimizer": lambda p: torch.optim.SGD(p, lr=1e-3)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, scaled=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, scaled=True)
