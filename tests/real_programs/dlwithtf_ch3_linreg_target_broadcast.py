"""Chapter 3 linear regression of the book "TensorFlow for Deep Learning" (Ramsundar & Zadeh,
github.com/matroid/dlwithtf): fit ``y = 5x + 2 + N(0, 0.1)`` on 100 points with one weight and one
bias (both ``random_normal`` initialised), loss ``tf.reduce_sum((y - y_pred)**2)`` minimised by
``AdamOptimizer(.001)`` on the full batch. The targets are fed as shape ``(N,)`` ("Convert shape of
y_np to (N,)") while ``y_pred = tf.matmul(x, W) + b`` is ``(N, 1)``: ``y - y_pred`` broadcasts to an
``(N, N)`` matrix, so the loss sums every prediction's error against every target. Its minimum is a
constant prediction at the mean of the targets (W -> 0, b -> mean(y) ~ 4.5) instead of the true line,
which the book then presented as linear regression "not converging to the global minimum".

Source: github.com/matroid/dlwithtf issue #14 ("y becomes shape(100,) ... y-y_pred becomes (100,100)
... the loss function is very largely overestimated"; maintainer rbharath: "Yes, I believe you're
correct (#9 points this out as well). This is a bug on our part"), fixed by PR #17 (merge bac9616),
commit 193f8a120610695648eddad1eb78f791cbadec6f "Fix linear regression bug with tf.squeeze":
``l = tf.reduce_sum((y - tf.squeeze(y_pred))**2)``. Program: ``ch3/linear_regression_tf.py`` at
193f8a1^ (N = 100, w_true = 5, b_true = 2, noise_scale = .1, ``np.random.seed(456)``,
``W = tf.Variable(tf.random_normal((1, 1)))``, ``b = tf.Variable(tf.random_normal((1,)))``,
``AdamOptimizer(.001)``, 8000 full-batch steps).
Ported minimally: the TF1 graph becomes a torch ``nn.Linear(1, 1)`` with N(0, 1) weight and bias, the
loss the program's sum of squares as ``loss_fn(outputs, targets)`` with the targets of shape ``(N,)``
as the program feeds them; ``torch.optim.Adam(lr=1e-3)``. Data: the program's own generator
(``np.random.seed(456)``, ``x = rand(100, 1)``, ``y = 5x + 2 + noise`` reshaped to ``(100,)``), one
batch of 100 (full batch). Nothing downloaded.
Fault label: target_shape. Fix (193f8a1): squeeze the predictions to ``(N,)`` before subtracting.
Torch only: a Keras 3 twin cannot hold this bug -- ``compile``/``fit`` bring ``y_true`` to the rank of
``y_pred`` before the loss function is called, so the same sum-of-squares loss sees ``(N, 1)`` and
``(N, 1)``.
Own loop (program's 8000 full-batch Adam steps, seconds on CPU): buggy ends at W 1.25, b 3.76 and
still shrinking towards the flat line (prediction std 0.36 vs the targets' 1.44, per-sample MSE 1.16);
fixed ends at W 4.90, b 2.05 (per-sample MSE 0.012). In 300 steps neither has moved far (lr 1e-3), so
the symptom needs the program's step budget; the buggy loss also starts ~100x larger (a sum over
N x N pairs) and still falls by ~88%, so it "decreases" while heading to the wrong minimum.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "target_shape"
SOURCE = ("github:matroid/dlwithtf issue #14, PR #17 (ch3/linear_regression_tf.py@193f8a1^, "
          "fix 193f8a120610695648eddad1eb78f791cbadec6f)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]

N = 100
w_true = 5
b_true = 2
noise_scale = .1
lr = .001


def _data() -> tuple[np.ndarray, np.ndarray]:
    """The program's synthetic data (seed 456), y of shape (N,)."""
    rng = np.random.RandomState(456)
    x_np = rng.rand(N, 1)
    noise = rng.normal(scale=noise_scale, size=(N, 1))
    # Convert shape of y_np to (N,)
    y_np = np.reshape(w_true * x_np + b_true + noise, (-1))
    return x_np.astype("float32"), y_np.astype("float32")


def _build(squeeze: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(456)
    model = nn.Linear(1, 1)
    with torch.no_grad():  # W = tf.Variable(tf.random_normal((1, 1))); b = tf.Variable(tf.random_normal((1,)))
        model.weight.normal_(0.0, 1.0)
        model.bias.normal_(0.0, 1.0)

    def loss_fn(y_pred, y):
        if squeeze:  # the fix: tf.reduce_sum((y - tf.squeeze(y_pred))**2)
            return ((y - torch.squeeze(y_pred)) ** 2).sum()
        return ((y - y_pred) ** 2).sum()  # l = tf.reduce_sum((y - y_pred)**2)

    x_np, y_np = _data()
    batch = (torch.tensor(x_np), torch.tensor(y_np))
    return {"model": model, "batch": batch, "batches": [batch], "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(squeeze=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(squeeze=True)
