"""MNIST LeNet whose model function returns ``tf.nn.softmax(output)`` while main.py computes
``tf.nn.softmax_cross_entropy_with_logits(logits=y_conv, ...)``: softmax applied twice.

Source: github.com/jaehong31/CGES issue #1 ("Doing softmax twice ... you should just return output
rather than tf.nn.softmax(output) in mnist_conv", fixed by the author); program lines from
mnist_model.py (commit 065deec4: conv 5x5x32 ReLU, 2x2 max-pool, conv 5x5x64 ReLU, pool, fc 1024 ReLU,
dropout keep_prob, fc 10; weights truncated_normal(stddev=0.1), biases 0.1) and main.py (commit
0f073f79: GradientDescentOptimizer, base_lr 0.05, batches of 100, keep_prob 0.5 in training).
Data: MNIST stand-in flattened to 784 in [0, 1], one-hot labels.
Fault label: loss_mismatch. Keras port: Dense(10, softmax) compiled with the program's own loss line,
``tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=y_conv, labels=y_))`` (Keras 3's own
``CategoricalCrossentropy(from_logits=True)`` would quietly take the pre-softmax logits and train
correctly, which hides the bug); torch twin: F.softmax before CrossEntropyLoss.
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "loss_mismatch"
SOURCE = "github:jaehong31/CGES issue #1 (mnist_model.py@065deec, main.py@0f073f7)"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("output_range", {"kind": "logits"})]


def _build(framework: str, softmax: bool) -> dict[str, Any]:
    imgs, y = _data.mnist_like(200)
    x = imgs.reshape(-1, 784).astype("float32") / 255.0
    yh = _data.one_hot(y, 10)
    if framework == "keras":
        import keras
        from keras import layers

        w = keras.initializers.TruncatedNormal(stddev=0.1)
        b = keras.initializers.Constant(0.1)
        model = keras.Sequential([
            keras.Input((784,)), layers.Reshape((28, 28, 1)),
            layers.Conv2D(32, 5, padding="same", activation="relu", kernel_initializer=w, bias_initializer=b),
            layers.MaxPooling2D(2, padding="same"),
            layers.Conv2D(64, 5, padding="same", activation="relu", kernel_initializer=w, bias_initializer=b),
            layers.MaxPooling2D(2, padding="same"), layers.Flatten(),
            layers.Dense(1024, activation="relu", kernel_initializer=w, bias_initializer=b), layers.Dropout(0.5),
            layers.Dense(10, activation="softmax" if softmax else None, kernel_initializer=w, bias_initializer=b)])
        import tensorflow as tf

        def ff_loss(y_, y_conv):  # program line (main.py)
            return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=y_conv, labels=y_))

        model.compile(loss=ff_loss,
                      optimizer=keras.optimizers.SGD(learning_rate=0.05))
        return {"model": model, "batch": (x[:100], yh[:100]), "batches": _data.batches(x, yh, 100)}
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class MnistConv(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 5, padding=2)
            self.conv2 = nn.Conv2d(32, 64, 5, padding=2)
            self.fc3 = nn.Linear(7 * 7 * 64, 1024)
            self.fc4 = nn.Linear(1024, 10)
            for m in (self.conv1, self.conv2, self.fc3, self.fc4):
                nn.init.trunc_normal_(m.weight, std=0.1, a=-0.2, b=0.2)
                nn.init.constant_(m.bias, 0.1)
            self.drop = nn.Dropout(0.5)

        def forward(self, x):
            x = x.reshape(-1, 1, 28, 28)
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = self.drop(F.relu(self.fc3(x.reshape(-1, 7 * 7 * 64))))
            out = self.fc4(x)
            return F.softmax(out, dim=1) if softmax else out

    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": MnistConv(), "batch": (xt[:100], yt[:100]), "batches": _data.batches(xt, yt, 100),
            "loss_fn": nn.CrossEntropyLoss(), "optimizer": lambda p: torch.optim.SGD(p, lr=0.05)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, False)
