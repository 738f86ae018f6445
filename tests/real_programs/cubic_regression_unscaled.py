"""A one-hidden-layer MLP asked to fit y = x**3 on raw x = 1..3999 (targets up to 6.4e10): "Neural
network could not learn on this type of data, why?". The answer: normalise the input and the target
(with the target's mean and std, un-normalising the predictions afterwards); with both normalised
"the model can successfully learn the data".

Source: discuss.pytorch.org/t/neural-network-could-not-learn-on-this-type-of-data-why/96648 (reply
5, the answer's snippet "using your initial dataset": ``fc1 = Linear(1, 50)``, ReLU,
``fc2 = Linear(50, 1)``, ``Adam(lr=1e-3)``, ``nn.MSELoss``, input ``range(1, 4000)``, target
``d**3``, full-batch steps). Approximation: every 16th of the 3999 points (250 samples) as the batch
to keep CPU runs short.
Fault label: targets_not_normalized|inputs_not_normalized (both raw; the answer fixes both).
Keras twin: Dense(50, relu), Dense(1), Adam(1e-3), mean squared error, the same data.
Fix: standardise input and target with their own mean and std.
"""

from __future__ import annotations

from typing import Any

LABEL = "targets_not_normalized|inputs_not_normalized"
SOURCE = "discuss.pytorch.org/t/neural-network-could-not-learn-on-this-type-of-data-why/96648"
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("inputs_normalized", {})]


def _data(normalize: bool) -> tuple[Any, Any]:
    import numpy as np

    input = np.arange(1, 4000, dtype="float32")[::16, None]  # program: range(1, 4000)
    target = input.astype("float64") ** 3  # program: d**3
    if normalize:
        input = (input - input.mean()) / input.std(ddof=1)
        target = (target - target.mean()) / target.std(ddof=1)
    return input.astype("float32"), target.astype("float32")


def _build(framework: str, normalize: bool) -> dict[str, Any]:
    x, y = _data(normalize)
    if framework == "keras":
        import keras
        from keras import layers

        model = keras.Sequential([keras.Input((1,)), layers.Dense(50, activation="relu"), layers.Dense(1)])
        model.compile(loss="mean_squared_error", optimizer=keras.optimizers.Adam(learning_rate=1e-3))
        return {"model": model, "batch": (x, y), "batches": [(x, y)]}
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Network(nn.Module):  # program lines
        def __init__(self) -> None:
            super().__init__()
            self.fc1 = nn.Linear(in_features=1, out_features=50, bias=True)
            self.fc2 = nn.Linear(in_features=50, out_features=1, bias=True)

        def forward(self, x):
            x = F.relu(self.fc1(x))
            x = self.fc2(x)
            return x

    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": Network(), "batch": (xt, yt), "batches": [(xt, yt)], "loss_fn": nn.MSELoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=1e-3)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, True)
