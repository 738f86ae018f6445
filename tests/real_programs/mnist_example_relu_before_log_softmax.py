"""pytorch/examples' MNIST convnet with a ReLU on its last layer, right before ``log_softmax``: the
ten class scores can never go below zero, so every wrong class a sample should push down stops at 0.

Source: github.com/pytorch/examples, mnist/main.py at the parent of commit
f93193169c2be6edbafd5b964d500f20763371c9 ("Remove rectifier before softmax", PR #117, which also fixed
mnist_hogwild/main.py): ``Net`` (conv1 1->10 k5, conv2 10->20 k5 with Dropout2d, fc1 320->50,
fc2 50->10, ``F.relu(self.fc2(x))`` then ``F.log_softmax``), ``F.nll_loss``, ``SGD(lr=0.01,
momentum=0.5)``, batch size 64, inputs ``ToTensor()`` then ``Normalize((0.1307,), (0.3081,))``.
``Variable`` dropped and ``log_softmax`` given ``dim=1`` (PyTorch >= 0.4). Data: an MNIST stand-in
(``_data.mnist_like``) through the same transforms.
Fault label: output_activation. Fix (PR #117): no ReLU on fc2.
Keras twin: the same layers channels-last, ``Dense(10, activation="relu")`` then a softmax, trained
with sparse categorical cross-entropy and SGD(0.01, momentum 0.5); fixed: ``Dense(10)`` then softmax.
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "output_activation"
SOURCE = "github:pytorch/examples mnist/main.py before f931931 (PR #117)"
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]


def _inputs(n: int = 128) -> tuple[Any, Any]:
    imgs, y = _data.mnist_like(n)
    x = ((imgs.astype("float32") / 255.0 - 0.1307) / 0.3081)[:, None]  # ToTensor + Normalize
    return x.astype("float32"), y


def _build(framework: str, relu_head: bool) -> dict[str, Any]:
    x, y = _inputs(128)
    if framework == "keras":
        import keras
        from keras import layers

        model = keras.Sequential([
            keras.Input((28, 28, 1)),
            layers.Conv2D(10, 5), layers.MaxPooling2D(2), layers.Activation("relu"),
            layers.Conv2D(20, 5), layers.SpatialDropout2D(0.5), layers.MaxPooling2D(2), layers.Activation("relu"),
            layers.Flatten(), layers.Dense(50, activation="relu"), layers.Dropout(0.5),
            layers.Dense(10, activation="relu" if relu_head else None), layers.Activation("softmax")])
        model.compile(loss="sparse_categorical_crossentropy",
                      optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.5))
        xk = x.transpose(0, 2, 3, 1).copy()
        return {"model": model, "batch": (xk[:64], y[:64]), "batches": _data.batches(xk, y, 64)}
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Net(nn.Module):  # program lines: mnist/main.py
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(1, 10, kernel_size=5)
            self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
            self.conv2_drop = nn.Dropout2d()
            self.fc1 = nn.Linear(320, 50)
            self.fc2 = nn.Linear(50, 10)

        def forward(self, x):
            x = F.relu(F.max_pool2d(self.conv1(x), 2))
            x = F.relu(F.max_pool2d(self.conv2_drop(self.conv2(x)), 2))
            x = x.view(-1, 320)
            x = F.relu(self.fc1(x))
            x = F.dropout(x, training=self.training)
            x = F.relu(self.fc2(x)) if relu_head else self.fc2(x)
            return F.log_softmax(x, dim=1)

    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": Net(), "batch": (xt[:64], yt[:64]), "batches": _data.batches(xt, yt, 64),
            "loss_fn": F.nll_loss, "optimizer": lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.5)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, False)
