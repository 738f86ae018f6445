"""Facial-keypoint regressor (three linear Dense layers on 96x96 pixels) trained with Adam at lr 0.1.

Source: DeepLocalize's GitHub benchmark (github.com/Wardat-ISU/DeepLocalize @297bc34,
Benchmark/GitHub/{Buggy,Correct} Model/FacialKeypointsDetection/src/1_single_hidden_layer.py),
upstream github.com/ShyamPoovaiah/FacialKeypointsDetection/commit/654392560f25688822862126005f576b682e38ad
(also defects4ml bug 024). Program lines: Dense(50, input_shape=(9216,)), Dense(100), Dense(30);
loss 'mean_squared_error'; buggy ``optimizers.Adam(lr=0.1)``, fixed ``SGD(lr=0.01, decay=1e-6,
momentum=0.9, nesterov=True, clipnorm=1)``; fit's default batch size 32; X = pixels / 255, y =
(coords - 48) / 48 in [-1, 1]. Data: stand-in faces (smooth random images whose 15 keypoints are
bright blobs), same shapes and ranges.
Fault label: lr_too_high. Torch twin: three nn.Linear, Adam(lr=0.1) / SGD(0.01, momentum 0.9,
nesterov) with clip_grad_norm_(1) in the step.
"""

from __future__ import annotations

from typing import Any

LABEL = "lr_too_high"
SOURCE = "DeepLocalize GitHub benchmark: ShyamPoovaiah/FacialKeypointsDetection@6543925 src/1_single_hidden_layer.py"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]


def faces(n: int = 128, seed: int = 0) -> tuple[Any, Any]:
    """(n, 9216) pixels in [0, 1] and (n, 30) keypoint coordinates scaled to [-1, 1]."""
    import numpy as np

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:96, 0:96]
    pts = rng.uniform(20, 76, (n, 15, 2))
    x = np.empty((n, 96, 96), dtype="float32")
    for i in range(n):
        img = 0.3 + 0.1 * rng.standard_normal((96, 96))
        for p in pts[i]:
            img += 0.5 * np.exp(-((yy - p[0]) ** 2 + (xx - p[1]) ** 2) / 8.0)
        x[i] = np.clip(img, 0, 1)
    y = ((pts.reshape(n, 30) - 48) / 48).astype("float32")
    return x.reshape(n, 9216), y


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = faces()
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 128, 32)]
    if framework == "keras":
        import keras
        from keras.layers import Dense

        model = keras.Sequential([keras.Input((9216,)), Dense(50), Dense(100), Dense(30)])
        opt = (keras.optimizers.SGD(learning_rate=0.01, momentum=0.9, nesterov=True, clipnorm=1) if fixed
               else keras.optimizers.Adam(learning_rate=0.1))
        model.compile(loss="mean_squared_error", optimizer=opt)
        return {"model": model, "batch": batches[0], "batches": batches}
    import torch

    model = torch.nn.Sequential(torch.nn.Linear(9216, 50), torch.nn.Linear(50, 100), torch.nn.Linear(100, 30))
    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    out: dict[str, Any] = {"model": model, "batch": tb[0], "batches": tb, "loss_fn": torch.nn.MSELoss()}
    if fixed:
        out["optimizer"] = lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True)

        def train_step(model, optimizer, loss_fn, x, y):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            return loss

        out["train_step"] = train_step
    else:
        out["optimizer"] = lambda p: torch.optim.Adam(p, lr=0.1)
    return out


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, True)
