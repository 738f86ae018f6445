"""nethsix/gentle_tensorflow ``code/linear_regression_one_feature_using_mini_batch_with_tensorboard.py`` (TF 0.x):
linear regression ``y = x W + b`` (W, b initialised to zeros) fitted by plain gradient descent on
``cost = tf.reduce_mean(tf.square(y_ - y))`` to 1,000 points of ``y = 2 * (i % 10) + 10``, one point per step
(``batch_size = 1``) for ``steps = 10000``. The script shipped with ``learn_rate = 0.0000001``: each step moves W
by ~1e-7 * 2 * x * residual ~ 1e-5, so after the full 10,000 steps (9,000 of them updates; every 10th step only
writes summaries) W is ~0.18 and b ~0.03 instead of 2 and 10, and the cost is still 357 (from 394 at the
start). The issue reporter: "Training doesnt provide intented results. I see the actual b value is 10"; the
author: "b is still increasing albeit slowly with each train step. One way to make learning faster is to
increase the 'learn_rate'. Try setting 'learn_rate = 0.001'".

Source: github.com/nethsix/gentle_tensorflow issue #7 ("linear_regression_one_feature_using_mini_batch_with_
tensorboard.py is not valid"), file at f85868d (= 00ec1ad^, ``learn_rate = 0.0000001``), fixed by
00ec1adc6a33c000d42adbafa7b906cd020209fd ("Change learn_rate so that script runs, and results are correct
without additional tuning", ``learn_rate = 0.001``; merged as PR #8, 04641f4).
Program lines kept: ``datapoint_size = 1000``, ``batch_size = 1``, ``actual_b = 10``, the data loop
(``all_xs.append(i%10)``, ``all_ys.append(2*(i%10)+actual_b)``), ``W = tf.zeros([1,1])``, ``b = tf.zeros([1])``,
``y = tf.matmul(x,W) + b``, the cost, ``tf.train.GradientDescentOptimizer(learn_rate)``, and the batch order
(``batch_start_idx = (i * batch_size) % (datapoint_size - batch_size)``; step 0, 10, 20, ... only record
summaries, so the first update is on point 1).
Ported minimally: Keras twin ``Dense(1, kernel_initializer="zeros", bias_initializer="zeros")`` on a (1,)
input, ``loss="mse"`` (the same mean of squares), ``SGD(learning_rate)``; torch twin ``nn.Linear(1, 1)`` with
zeroed weight and bias, ``nn.MSELoss()``, ``torch.optim.SGD(lr)``. The integer xs/ys are fed as float32, as the
float32 placeholders cast them. Nothing shrunk (a step is well under 1 ms in torch).
Data: the program's own synthetic points (no download): ``batches`` are the program's first nine updates
(points 1..9, one point each), ``batch`` the first of them (x = 1, y = 12), ``inputs`` the ten distinct xs.
Fault label: lr_too_low. Fix (00ec1ad): ``learn_rate = 0.001``.
Symptom in a short loop (the program's own schedule: 10,000 steps, a plain SGD update on point i % 999 except
when i % 10 == 0; full-data cost over the 1,000 points at steps 0 / 1,000 / 10,000): torch buggy 394.0 /
389.7 / 357.3 (W 0.020 -> 0.179, b 0.004 -> 0.033), fixed 394.0 / 12.1 / 0.001 (W 2.009, b 9.943); Keras
(train_on_batch) gives the same numbers to the printed digits (same zero init, same order). Overfitting the
single point (x=1, y=12) for 100 steps: buggy 144.0 -> 143.99, fixed 144.0 -> 65.1 (torch and Keras alike).
About 0.4 ms (torch) / 1.4 ms (Keras) per step on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "lr_too_low"
SOURCE = ("github:nethsix/gentle_tensorflow issue #7 (code/linear_regression_one_feature_using_mini_batch_with_"
          "tensorboard.py@f85868d, learn_rate = 0.0000001; fix 00ec1adc6a33c000d42adbafa7b906cd020209fd, PR #8)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

# CUSTOMIZABLE: Collect/Prepare data
datapoint_size = 1000
batch_size = 1
steps = 10000
actual_b = 10
BUGGY_LR = 0.0000001
FIXED_LR = 0.001


def _points() -> tuple[np.ndarray, np.ndarray]:
    all_xs = []
    all_ys = []
    for i in range(datapoint_size):
        # Create fake data for y = W.x + b where W = 2, b = actual_b
        all_xs.append(i % 10)
        all_ys.append(2 * (i % 10) + actual_b)
    all_xs = np.transpose([all_xs]).astype("float32")  # fed to float32 placeholders
    all_ys = np.transpose([all_ys]).astype("float32")
    return all_xs, all_ys


def _batches() -> list[tuple[np.ndarray, np.ndarray]]:
    """The program's first nine updates: steps 1..9 (step 0 only records summaries)."""
    all_xs, all_ys = _points()
    out = []
    for i in range(1, 10):
        batch_start_idx = (i * batch_size) % (datapoint_size - batch_size)
        batch_end_idx = batch_start_idx + batch_size
        out.append((all_xs[batch_start_idx:batch_end_idx], all_ys[batch_start_idx:batch_end_idx]))
    return out


def _build(framework: str, learn_rate: float) -> dict[str, Any]:
    batches = _batches()
    inputs = _points()[0][:10]
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(0)
        x = keras.Input((1,), name="x")
        y = keras.layers.Dense(1, kernel_initializer="zeros", bias_initializer="zeros", name="Wx_b")(x)
        model = keras.Model(x, y)
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=learn_rate), loss="mse")
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs}

    import torch
    from torch import nn

    torch.manual_seed(0)
    model = nn.Linear(1, 1)  # y = x W + b
    nn.init.zeros_(model.weight)  # W = tf.Variable(tf.zeros([1,1]))
    nn.init.zeros_(model.bias)  # b = tf.Variable(tf.zeros([1]))
    tb = [(torch.tensor(a), torch.tensor(c)) for a, c in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.tensor(inputs),
            "loss_fn": nn.MSELoss(), "optimizer": lambda p: torch.optim.SGD(p, lr=learn_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, BUGGY_LR)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, FIXED_LR)
