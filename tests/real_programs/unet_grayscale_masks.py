"""Segmentation masks loaded as raw greyscale values (0..255) where class indices 0..n_classes-1
belong: cross-entropy gets targets far beyond the head ("IndexError: Target 192 is out of bounds").

Source: github.com/milesial/Pytorch-UNet issue #291 (n_classes=2, CrossEntropyLoss; the maintainer:
"check that your masks are loaded with class indices and not with raw greyscale value"). The UNet is
reduced to a 3-conv encoder-decoder with the same 2-class head; RMSprop(lr 1e-5, weight_decay 1e-8,
momentum 0.9) as in the repository's train.py; batch 1 in the repository, 4 here; data: seeded
3-channel images in [0, 1] with a bright disc as foreground, masks saved as 0/255 greyscale.
Fault label: labels_invalid|head_width. Fix: masks // 255 (class indices). Keras twin: the same net
channels-last with SparseCategoricalCrossentropy(from_logits=True).
"""

from __future__ import annotations

from typing import Any

LABEL = "labels_invalid|head_width"
SOURCE = "github:milesial/Pytorch-UNet issue #291"
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("init_loss", {})]


def _images(n: int = 8, size: int = 32, seed: int = 0) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    x = rng.uniform(0, 0.5, (n, 3, size, size)).astype("float32")
    masks = np.zeros((n, size, size), dtype="int64")
    for i in range(n):
        cy, cx, r = rng.integers(8, 24), rng.integers(8, 24), rng.integers(4, 8)
        disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        x[i, :, disc] += 0.5
        masks[i][disc] = 255
    return x, masks


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, masks = _images()
    if fixed:
        masks = masks // 255
    if framework == "torch":
        import torch
        import torch.nn as nn

        model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                              nn.Conv2d(16, 2, 1))
        xt, mt = torch.tensor(x), torch.tensor(masks)
        return {"model": model, "batch": (xt[:4], mt[:4]), "batches": [(xt[:4], mt[:4]), (xt[4:], mt[4:])],
                "loss_fn": nn.CrossEntropyLoss(),
                "optimizer": lambda p: torch.optim.RMSprop(p, lr=1e-5, weight_decay=1e-8, momentum=0.9)}
    import keras
    from keras import layers

    model = keras.Sequential([keras.Input((32, 32, 3)), layers.Conv2D(16, 3, padding="same", activation="relu"),
                              layers.Conv2D(16, 3, padding="same", activation="relu"), layers.Conv2D(2, 1)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.RMSprop(learning_rate=1e-5, momentum=0.9))
    xk = x.transpose(0, 2, 3, 1).copy()
    return {"model": model, "batch": (xk[:4], masks[:4]), "batches": [(xk[:4], masks[:4]), (xk[4:], masks[4:])]}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, True)
