"""Keypoint-heatmap trainer whose loop never calls optimizer.zero_grad(): every step adds the new
gradient to all earlier ones.

Source: github.com/yastrebksv/TennisCourtDetector issue #7 ("Why there is no optimizer.zero_grad()
in base_trainer.py?" — "You are right, thanks! I fixed it."); base_trainer.py (commit
582d2be1b93c81bb0800f48678d9d3fc749dbabd): ``out = model(x); loss = criterion(F.sigmoid(out), gt_hm);
loss.backward(); optimizer.step()``; main.py (commit 9278841f): BallTrackerNet(out_channels=15),
nn.MSELoss(), Adam(lr 1e-5, betas (0.9, 0.999)), batch_size 2. BallTrackerNet (a VGG-style
encoder-decoder at 360x640) is reduced to a 4-conv encoder-decoder at 32x32 with the same 15 heatmap
channels; data: seeded images with Gaussian keypoint heatmaps.
Fault label: missing_zero_grad. Fix: zero_grad() before backward. Torch only (Keras fits reset the
gradients themselves).
"""

from __future__ import annotations

from typing import Any

LABEL = "missing_zero_grad"
SOURCE = "github:yastrebksv/TennisCourtDetector issue #7 (base_trainer.py@582d2be, main.py@9278841)"
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {})]


def _build(zero_grad: bool) -> dict[str, Any]:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    model = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Upsample(scale_factor=2),
                          nn.Conv2d(64, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 15, 3, padding=1))
    rng = np.random.default_rng(0)
    n = 16
    x = rng.uniform(0, 1, (n, 3, 32, 32)).astype("float32")
    yy, xx = np.mgrid[0:32, 0:32]
    hm = np.zeros((n, 15, 32, 32), dtype="float32")
    pts = rng.integers(4, 28, (n, 15, 2))
    for i in range(n):
        for k in range(15):
            hm[i, k] = np.exp(-((yy - pts[i, k, 0]) ** 2 + (xx - pts[i, k, 1]) ** 2) / 4.0)
            x[i, k % 3, pts[i, k, 0], pts[i, k, 1]] = 2.0  # the keypoint is visible in the image
    xt, yt = torch.tensor(x), torch.tensor(hm)

    def train_step(model, optimizer, criterion, x, y):  # program lines: base_trainer.train, one iteration
        if zero_grad:
            optimizer.zero_grad()
        out = model(x.float())
        loss = criterion(F.sigmoid(out), y.float())
        loss.backward()
        optimizer.step()
        return loss

    return {"model": model, "batch": (xt[:2], yt[:2]), "batches": [(xt[i:i + 2], yt[i:i + 2]) for i in range(0, n, 2)],
            "loss_fn": nn.MSELoss(), "train_step": train_step,
            "optimizer": lambda p: torch.optim.Adam(p, 1e-5, betas=(0.9, 0.999), weight_decay=0)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(True)
