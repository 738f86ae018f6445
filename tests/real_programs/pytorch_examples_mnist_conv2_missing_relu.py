"""pytorch/examples ``mnist/main.py`` after PR #658 ("reimplementing keras example mnist_cnn in pytorch"):
``Net`` = ``Conv2d(1, 32, 3)`` -> ReLU -> ``Conv2d(32, 64, 3)`` -> ``max_pool2d(2)`` -> ``Dropout2d(0.25)`` ->
flatten -> ``Linear(9216, 128)`` -> ReLU -> dropout(0.5) -> ``Linear(128, 10)`` -> ``log_softmax``, trained
with ``F.nll_loss`` and ``Adadelta(lr=1.0)`` on batches of 64 of MNIST normalised with (0.1307, 0.3081).
The ReLU after ``conv2`` is missing (the Keras model it re-implements has ``activation='relu'`` on both
convolutions): conv1 -> conv2 is one ReLU followed by a linear 3x3 conv, so the second conv layer adds no
non-linearity of its own (only the max-pool follows it).

Source: github.com/pytorch/examples commit dce9319 "added missing non-linearity" (Soumith Chintala, March
2020: ``x = F.relu(x)`` after ``self.conv2(x)``). Program: ``mnist/main.py`` at dce9319^ (``Net``,
``train``: ``optimizer.zero_grad()``, ``F.nll_loss(output, target)``, ``backward``, ``step``; ``--batch-size
64``, ``--lr 1.0``, ``optim.Adadelta``, ``transforms.Normalize((0.1307,), (0.3081,))``, ``--seed 1``).
Not kept: the per-epoch ``StepLR(gamma=0.7)`` (the checks run within one epoch). ``dropout2`` is written as
``nn.Dropout(0.5)``: the program's ``nn.Dropout2d(0.5)`` on the 2-D ``fc1`` output is what the example itself
later replaced (0f0c913, "Use regular dropout rather than dropout2d"); current torch would drop whole
samples with it.
Data stand-in (MNIST is downloaded): scikit-learn's 8x8 digits scaled to 0..255 and zero-padded to 12x12
(not 28x28, so a step runs in ~15-25 ms on one thread), then ``ToTensor`` (/255) and ``Normalize((0.1307,),
(0.3081,))``; so ``fc1`` takes 64 * 4 * 4 = 1024 features instead of 9216. 1280 training images = 20
batches of 64 (+ 517 held out for the measurement below).
Keras twin: the Keras ``mnist_cnn.py`` model the PR re-implemented, with the same omission:
``Conv2D(32, 3, activation='relu')``, ``Conv2D(64, 3)`` (buggy; fixed: ``activation='relu'``),
``MaxPooling2D``, ``Dropout(0.25)``, ``Flatten``, ``Dense(128, relu)``, ``Dropout(0.5)``,
``Dense(10, softmax)``, compiled with ``sparse_categorical_crossentropy`` and ``Adadelta(1.0, rho=0.9,
epsilon=1e-6)`` (torch's Adadelta defaults).
Fault label: other:missing_activation (a hidden layer left linear). Fix (dce9319): ``F.relu`` after conv2.
Observed (own loop: 300 steps in order over the 20 batches, then eval on the 517 held-out digits; two seeds):
torch buggy train loss 2.32 -> 0.016 / 0.018 (mean of the last 20 steps), held-out loss 0.14 / 0.19,
accuracy 0.963 / 0.963; fixed 2.32 -> 0.018 / 0.023, held-out 0.128 / 0.124, accuracy 0.967 / 0.967. Keras
(300 ``train_on_batch`` steps, seed 1): buggy 2.43 -> 0.016, held-out loss 0.154, accuracy 0.957; fixed
2.42 -> 0.027, held-out 0.113, accuracy 0.963. On
this small stand-in the missing ReLU costs well under one point of accuracy (the max-pool still makes the
block non-linear; the buggy net even fits the training batches a little faster).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "other:missing_activation"
SOURCE = "github:pytorch/examples mnist/main.py@dce9319^ (PR #658 model; fix dce9319 'added missing non-linearity')"
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

batch_size = 64  # --batch-size
lr = 1.0  # --lr
n_train = 1280


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """(N, 12, 12) float32 after ToTensor + Normalize((0.1307,), (0.3081,)), labels int64."""
    from sklearn.datasets import load_digits

    d = load_digits()
    imgs = np.pad(d.images * (255.0 / 16.0), ((0, 0), (2, 2), (2, 2)))
    x = ((imgs / 255.0 - 0.1307) / 0.3081).astype("float32")
    return x, d.target.astype("int64")


def _batches(channels_last: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    x, y = _digits()
    x = x[..., None] if channels_last else x[:, None]
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n_train, batch_size)]


def _torch(relu2: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(1)  # --seed 1

    class Net(nn.Module):  # program lines (fc1 input 9216 -> 1024 for the 12x12 stand-in)
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout2d(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(64 * 4 * 4, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            if relu2:
                x = F.relu(x)  # the fix
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in _batches(channels_last=False)]
    return {"model": Net(), "batch": tb[0], "batches": tb, "loss_fn": F.nll_loss,
            "optimizer": lambda p: torch.optim.Adadelta(p, lr=lr)}


def _keras(relu2: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input((12, 12, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation='relu'),
        layers.Conv2D(64, (3, 3), activation='relu' if relu2 else None),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Dropout(0.25),
        layers.Flatten(),
        layers.Dense(128, activation='relu'),
        layers.Dropout(0.5),
        layers.Dense(10, activation='softmax'),
    ])
    model.compile(loss='sparse_categorical_crossentropy',
                  optimizer=keras.optimizers.Adadelta(learning_rate=lr, rho=0.9, epsilon=1e-6),
                  metrics=['accuracy'])
    b = _batches(channels_last=True)
    return {"model": model, "batch": b[0], "batches": b}


def buggy(framework: str) -> dict[str, Any]:
    return _torch(False) if framework == "torch" else _keras(False)


def fixed(framework: str) -> dict[str, Any]:
    return _torch(True) if framework == "torch" else _keras(True)
