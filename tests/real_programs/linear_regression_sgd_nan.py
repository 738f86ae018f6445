"""One-unit linear regression on x = 0..199, y = 2x with SGD(lr=0.001) at batch size 1: the
weights go to NaN after a few iterations ("realized my learning rate was too high").

Source: github.com/keras-team/keras issue #3040 ("Simple Linear Regression Nan's after a few
iterations"): the data lines ``x = 1.0*np.array(range(200)); y = 2.0*x``, ``Dense(1, input_dim=1)``,
``SGD(lr=0.001, decay=1e-6, momentum=0.0, nesterov=False)``, 'mean_squared_error', batch_size=1 are the
report's own. Keras 3 port: decay dropped, momentum=0 written 0.0 (Keras 3 wants a float). Fix: lr 1e-5 (below 2 / mean(x^2) ~ 1.5e-4).
Fault label: lr_too_high (the unscaled input is what makes 0.001 too high; inputs_not_normalized
is an acceptable second cause). Torch twin: nn.Linear(1, 1), SGD, MSELoss.
"""

from __future__ import annotations

from typing import Any

LABEL = "lr_too_high"
SOURCE = "github:keras-team/keras issue #3040"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {})]


def _build(framework: str, lr: float) -> dict[str, Any]:
    import numpy as np

    x = (1.0 * np.array(range(200))).astype("float32")[:, None]
    y = 2.0 * x
    idx = np.random.default_rng(0).permutation(200)  # fit shuffles
    x, y = x[idx], y[idx]
    if framework == "keras":
        import keras

        model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
        model.compile(loss="mean_squared_error", optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=0.0, nesterov=False))
        return {"model": model, "batch": (x[:32], y[:32]), "batches": [(x[i:i + 1], y[i:i + 1]) for i in range(200)]}
    import torch

    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": torch.nn.Linear(1, 1), "batch": (xt[:32], yt[:32]),
            "batches": [(xt[i:i + 1], yt[i:i + 1]) for i in range(200)], "loss_fn": torch.nn.MSELoss(),
            "optimizer": lambda p: torch.optim.SGD(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, 0.001)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, 1e-5)
