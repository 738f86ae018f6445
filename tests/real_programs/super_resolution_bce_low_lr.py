"""SRCNN super-resolution net compiled with binary cross-entropy and Adam(lr=0.0001); the fix
trains it with MSE and Adam(lr=0.001).

Source: DeepLocalize's GitHub benchmark (github.com/Wardat-ISU/DeepLocalize @297bc34,
Benchmark/GitHub/{Buggy,Correct} Model/keras-super-resolution/train.py and networks/large.py),
upstream github.com/kcct-fujimotolab/keras-super-resolution/commit/a7616b6342df4e3428e5e4d1be4cca591a82b0d7.
Program lines (networks/large.py): Conv2D(256, 9x9, same) ReLU, Conv2D(128, 3x3, same) ReLU,
Conv2D(3, 5x5, same) sigmoid; buggy ``Adam(lr=0.0001)`` + 'binary_crossentropy', fixed
``Adam(lr=0.001)`` + 'mse'; batch 64. Images: load_images halves then re-expands each image
(NEAREST) as input, the original as target, both / 255. Image size is the program's ``--size``
option: 32x32 here instead of the default 128x128 (CPU budget); 8 stand-in images (smooth
random colour fields).
Fault label: lr_too_low (the BCE loss is valid for targets in [0, 1]; what the fix changed that
matters in a short run is the 10x learning rate). Torch twin: the same three convs, BCELoss/MSELoss.
"""

from __future__ import annotations

from typing import Any

LABEL = "lr_too_low"
SOURCE = "DeepLocalize GitHub benchmark: kcct-fujimotolab/keras-super-resolution@a7616b6 train.py, networks/large.py"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]


def images(n: int = 8, size: int = 32, seed: int = 0) -> tuple[Any, Any]:
    """Inputs (half-resolution, re-expanded) and targets, (n, size, size, 3) in [0, 1]."""
    import numpy as np

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    y = np.empty((n, size, size, 3), dtype="float32")
    for i in range(n):
        for c in range(3):
            f = rng.uniform(1, 6, 2)
            y[i, :, :, c] = 0.5 + 0.4 * np.sin(2 * np.pi * (f[0] * xx + f[1] * yy) + rng.uniform(0, 6))
    x = y[:, ::2, ::2].repeat(2, axis=1).repeat(2, axis=2)
    return x, y


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = images()
    if framework == "keras":
        import keras
        from keras.layers import Activation, Conv2D

        model = keras.Sequential([keras.Input((32, 32, 3)), Conv2D(256, kernel_size=(9, 9), padding="same"),
                                  Activation("relu"), Conv2D(128, kernel_size=(3, 3), padding="same"),
                                  Activation("relu"), Conv2D(3, (5, 5), padding="same"), Activation("sigmoid")])
        model.compile(loss="mse" if fixed else "binary_crossentropy",
                      optimizer=keras.optimizers.Adam(learning_rate=0.001 if fixed else 0.0001))
        return {"model": model, "batch": (x, y), "batches": [(x, y)]}
    import torch
    import torch.nn as nn

    model = nn.Sequential(nn.Conv2d(3, 256, 9, padding=4), nn.ReLU(), nn.Conv2d(256, 128, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(128, 3, 5, padding=2), nn.Sigmoid())
    xt = torch.tensor(x).permute(0, 3, 1, 2).contiguous()
    yt = torch.tensor(y).permute(0, 3, 1, 2).contiguous()
    lr = 0.001 if fixed else 0.0001
    return {"model": model, "batch": (xt, yt), "batches": [(xt, yt)], "loss_fn": nn.MSELoss() if fixed else nn.BCELoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, True)
