"""Chapter 4 fully-connected regression of the book "TensorFlow for Deep Learning" (Ramsundar &
Zadeh, github.com/matroid/dlwithtf): a one-hidden-layer network (1 -> 15 ReLU -> 1, every weight and
bias ``tf.random_normal``) fitted to ``y = 5x + 2 + N(0, 0.1)`` on 50 points, loss
``tf.reduce_sum((y - y_pred)**2)``, ``AdamOptimizer(.001)``, full batch. The targets are fed as shape
``(N,)`` while ``y_pred`` is ``(N, 1)``: the difference broadcasts to ``(N, N)`` and the loss pulls
every prediction towards every target, so its minimum is the constant mean of the targets and the
network learns a flat line instead of the data's slope.

Source: github.com/matroid/dlwithtf PR #11 (merged, cdb5ae8; maintainer: "LGTM"), commit
98db45f94ebaf45293a1db6e67df757427882485 "fix bug in ch4/fcnet_regression_tf.py: (y - y_pred)**2
should be a vector": ``y_pred = tf.transpose(tf.matmul(x_1, W) + b)`` so that ``(y - y_pred)**2`` has
one entry per sample (the same commit raised ``n_steps`` 200 -> 1000 and plotted the targets).
Program: ``ch4/fcnet_regression_tf.py`` at 98db45f^ (d = 1, N = 50, n_hidden = 15,
``np.random.seed(456)``, ``AdamOptimizer(.001)``, 200 full-batch steps).
Ported minimally: the TF1 graph becomes torch ``Linear(1, 15) - ReLU - Linear(15, 1)`` with N(0, 1)
weights and biases, the program's sum-of-squares loss as ``loss_fn`` with the targets of shape
``(N,)`` as the program feeds them, ``torch.optim.Adam(lr=1e-3)``. Data: the program's own generator
(seed 456), one full batch of 50. Nothing downloaded.
Fault label: target_shape. Fix (98db45f): predictions laid out like the targets (transpose; here
``y_pred`` reshaped to ``(N,)``) before subtracting.
Torch only: Keras 3's ``compile``/``fit`` bring ``y_true`` to the rank of ``y_pred`` before calling the
loss, so the broadcast cannot arise in a Keras twin.
Own loop (full batch, Adam 1e-3): after 1000 steps (the fix's budget) the buggy network's predictions
have std 0.12 against the targets' 1.37 (per-sample MSE 2.13), after 3000 steps std 0.03, i.e.
constant; fixed: std 0.96 / MSE 0.17 at 1000 steps, std 1.36 / MSE 0.007 at 3000. The buggy summed
loss still falls from 8.1e4 to 4.6e3, so it "decreases" while converging to the constant mean.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "target_shape"
SOURCE = ("github:matroid/dlwithtf PR #11 (ch4/fcnet_regression_tf.py@98db45f^, "
          "fix 98db45f94ebaf45293a1db6e67df757427882485)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {})]

d = 1
N = 50
w_true = 5
b_true = 2
noise_scale = .1
n_hidden = 15
lr = .001


def _data() -> tuple[np.ndarray, np.ndarray]:
    """The program's synthetic data (seed 456), y of shape (N,)."""
    rng = np.random.RandomState(456)
    x_np = rng.rand(N, d)
    noise = rng.normal(scale=noise_scale, size=(N, d))
    y_np = np.reshape(w_true * x_np + b_true + noise, (-1))
    return x_np.astype("float32"), y_np.astype("float32")


def _build(vector_loss: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(456)
    model = nn.Sequential(nn.Linear(d, n_hidden), nn.ReLU(), nn.Linear(n_hidden, 1))
    with torch.no_grad():  # every W and b = tf.Variable(tf.random_normal(...))
        for p in model.parameters():
            p.normal_(0.0, 1.0)

    def loss_fn(y_pred, y):
        if vector_loss:  # the fix: y_pred = tf.transpose(...); lvec = (y - y_pred)**2
            return ((y - y_pred.reshape(-1)) ** 2).sum()
        return ((y - y_pred) ** 2).sum()  # l = tf.reduce_sum((y - y_pred)**2)

    x_np, y_np = _data()
    batch = (torch.tensor(x_np), torch.tensor(y_np))
    return {"model": model, "batch": batch, "batches": [batch], "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(vector_loss=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(vector_loss=True)
