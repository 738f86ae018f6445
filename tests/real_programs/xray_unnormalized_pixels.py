"""Chest X-ray classifier fed pixels mapped to [-1024, 1024] ("with default weight inits I start
getting infs and nans after the first training iteration. When I normalized the pixels to have
mean=0, std=1 then it worked fine").

Source: github.com/mlmed/torchxrayvision issue #9 ("pixel normalization and NN weight inits"): the
dataset classes map 8-bit images to [-1024, 1024]; the reporter trained "another (shallower)
architecture" with default inits. The report gives neither the architecture nor the optimizer: a
4-layer CNN with torch/Keras default inits, 18 pathology logits, BCE-with-logits (the library's
multi-label setup), Adam(1e-3), 64x64 single-channel images stand in; 0..255 seeded images with
label-dependent blobs, scaled to [-1024, 1024] (buggy) or standardised (fixed).
Fault label: inputs_not_normalized. Both frameworks.
"""

from __future__ import annotations

from typing import Any

LABEL = "inputs_not_normalized"
SOURCE = "github:mlmed/torchxrayvision issue #9"
FRAMEWORKS = ("torch", "keras")
CHECKS = [("inputs_normalized", {}), ("overfit_one_batch", {}), ("init_loss", {})]


def _images(n: int = 64, seed: int = 0) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    y = (rng.uniform(size=(n, 18)) < 0.2).astype("float32")
    yy, xx = np.mgrid[0:64, 0:64]
    imgs = rng.uniform(60, 140, (n, 64, 64))
    centres = rng.uniform(8, 56, (18, 2))
    for i in range(n):
        for k in np.flatnonzero(y[i]):
            imgs[i] += 100 * np.exp(-((yy - centres[k, 0]) ** 2 + (xx - centres[k, 1]) ** 2) / 20.0)
    return np.clip(imgs, 0, 255).astype("uint8"), y


def _build(framework: str, normalise: bool) -> dict[str, Any]:
    x8, y = _images()
    x = (2 * (x8.astype("float32") / 255.0) - 1.0) * 1024  # the library's [-1024, 1024] mapping
    if normalise:
        x = (x - x.mean()) / x.std()
    if framework == "torch":
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Conv2d(1, 16, 3, stride=2), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2), nn.ReLU(),
                              nn.Conv2d(32, 64, 3, stride=2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                              nn.Linear(64, 18))
        xt, yt = torch.tensor(x[:, None].astype("float32")), torch.tensor(y)
        return {"model": model, "batch": (xt[:32], yt[:32]), "batches": [(xt[:32], yt[:32]), (xt[32:], yt[32:])],
                "loss_fn": nn.BCEWithLogitsLoss(), "optimizer": lambda p: torch.optim.Adam(p, lr=1e-3)}
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((64, 64, 1)), layers.Conv2D(16, 3, strides=2, activation="relu"),
                              layers.Conv2D(32, 3, strides=2, activation="relu"),
                              layers.Conv2D(64, 3, strides=2, activation="relu"), layers.GlobalAveragePooling2D(),
                              layers.Dense(18)])
    model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True), optimizer=keras.optimizers.Adam(1e-3))
    xk = x[..., None].astype("float32")
    return {"model": model, "batch": (xk[:32], y[:32]), "batches": [(xk[:32], y[:32]), (xk[32:], y[32:])]}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, True)
