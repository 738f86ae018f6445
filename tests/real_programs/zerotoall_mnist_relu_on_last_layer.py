"""PyTorchZeroToAll lecture 9's MNIST softmax classifier, a five-layer MLP whose last Linear layer is
also passed through ``F.relu`` before ``F.log_softmax``: the ten class scores can never go below
zero, so a wrong class can only be pushed down to 0 (its probability never below that of a zero
score) and every class whose pre-activation goes negative stops receiving gradient.

Source: github.com/hunkim/PyTorchZeroToAll PR #4 ("Remove relu in the final layer", merged as
2358d65), commit 878a14c05c17b552fa45df08e1a0c53d4b58225c in 09_2_softmax_mnist.py; program lines
from its parent 49cab2ba1088e7cfa2d41811a3cee8db940ddba6: ``Net`` with l1..l5 = Linear(784, 520),
Linear(520, 320), Linear(320, 240), Linear(240, 120), Linear(120, 10), ``F.relu`` after each of the
five, ``F.log_softmax``; ``optim.SGD(model.parameters(), lr=0.01, momentum=0.5)``,
``F.nll_loss``, batch_size 64, MNIST through ``transforms.ToTensor()`` (floats in [0, 1], no
Normalize). ``Variable`` dropped and ``log_softmax`` given ``dim=1`` (PyTorch >= 0.4).
Data: MNIST is downloaded; stand-in ``_data.mnist_like`` through ToTensor's scaling, (n, 1, 28, 28).
Fault label: output_activation. Fix (878a14c): ``x = self.l5(x)`` without the ReLU.
Keras twin: the same layers (Flatten, Dense 520/320/240/120 ReLU, ``Dense(10, activation="relu")``
then a softmax; fixed ``Dense(10)`` then softmax), sparse categorical cross-entropy,
``SGD(learning_rate=0.01, momentum=0.5)``, channels-last (n, 28, 28, 1) images.
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "output_activation"
SOURCE = "github:hunkim/PyTorchZeroToAll PR #4 (09_2_softmax_mnist.py, fix 878a14c)"
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]

batch_size = 64  # program lines: Training settings


def _build(framework: str, relu_last: bool) -> dict[str, Any]:
    imgs, y = _data.mnist_like(4 * batch_size)
    x = (imgs.astype("float32") / 255.0)[:, None]  # transforms.ToTensor()
    if framework == "keras":
        import keras
        from keras import layers

        model = keras.Sequential(
            [keras.Input((28, 28, 1)), layers.Flatten()]
            + [layers.Dense(u, activation="relu") for u in (520, 320, 240, 120)]
            + [layers.Dense(10, activation="relu" if relu_last else None), layers.Softmax()])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.5),
                      loss="sparse_categorical_crossentropy")
        xk = x.transpose(0, 2, 3, 1)
        return {"model": model, "batch": (xk[:batch_size], y[:batch_size]),
                "batches": _data.batches(xk, y, batch_size)}

    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim

    class Net(nn.Module):  # program lines (09_2_softmax_mnist.py)
        def __init__(self):
            super().__init__()
            self.l1 = nn.Linear(784, 520)
            self.l2 = nn.Linear(520, 320)
            self.l3 = nn.Linear(320, 240)
            self.l4 = nn.Linear(240, 120)
            self.l5 = nn.Linear(120, 10)

        def forward(self, x):
            x = x.view(-1, 784)  # Flatten the data (n, 1, 28, 28)-> (n, 784)
            x = F.relu(self.l1(x))
            x = F.relu(self.l2(x))
            x = F.relu(self.l3(x))
            x = F.relu(self.l4(x))
            x = F.relu(self.l5(x)) if relu_last else self.l5(x)
            return F.log_softmax(x, dim=1)

    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": Net(), "batch": (xt[:batch_size], yt[:batch_size]),
            "batches": _data.batches(xt, yt, batch_size), "loss_fn": F.nll_loss,
            "optimizer": lambda p: optim.SGD(p, lr=0.01, momentum=0.5)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, relu_last=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, relu_last=False)
