"""LSTM time-series regressor whose targets are left in their raw, very large units ("my losses
are always either very high or Nan ... the Y values I am trying to predict are very high" —
answer: "Have you tried to rescale the values before training?").

Source: github.com/keras-team/keras issue #4563 ("Very high / Nan loss when performing multiple
sequence time series regression"): LSTM(64, input_shape=(MAX_TIMESTEPS, MAX_FEATURES)),
Dropout(0.3), Dense(1); loss 'mean_absolute_error'; SGD(lr=0.0008, decay=1e-6, momentum=0.9,
nesterov=True); batch_size 32. MAX_TIMESTEPS / MAX_FEATURES are not given: 20 steps x 8 standardised
features here; targets a seeded function of the sequence in the 10^4..10^5 range (raw) or
standardised (fixed). Keras 3 port: decay dropped.
Fault label: targets_not_normalized (lr_too_low is what
a short run sees). Torch twin: nn.LSTM(batch_first=True) + Dropout + Linear, L1Loss.
"""

from __future__ import annotations

from typing import Any

LABEL = "targets_not_normalized"
SOURCE = "github:keras-team/keras issue #4563"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]


def _data(scale: bool) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 20, 8)).astype("float32")
    y = 50_000 + 20_000 * np.tanh(x[:, -5:, :3].mean(axis=(1, 2)) * 2)
    if scale:
        y = (y - y.mean()) / y.std()
    return x, y.astype("float32")[:, None]


def _build(framework: str, scale: bool) -> dict[str, Any]:
    x, y = _data(scale)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 128, 32)]
    if framework == "keras":
        import keras
        from keras import layers

        model = keras.Sequential([keras.Input((20, 8)), layers.LSTM(64), layers.Dropout(0.3), layers.Dense(1)])
        model.compile(loss="mean_absolute_error",
                      optimizer=keras.optimizers.SGD(learning_rate=0.0008, momentum=0.9, nesterov=True))
        return {"model": model, "batch": batches[0], "batches": batches}
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lstm = nn.LSTM(8, 64, batch_first=True)
            self.drop = nn.Dropout(0.3)
            self.out = nn.Linear(64, 1)

        def forward(self, x):
            h, _ = self.lstm(x)
            return self.out(self.drop(h[:, -1]))

    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": Net(), "batch": tb[0], "batches": tb, "loss_fn": nn.L1Loss(),
            "optimizer": lambda p: torch.optim.SGD(p, lr=0.0008, momentum=0.9, nesterov=True)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, True)
