"""L1aoXingyu/pytorch-beginner's MNIST feed-forward network ("03-Neural Network") as first uploaded:
three Linear layers (784 -> 300 -> 100 -> 10) whose output goes through ``F.softmax`` and then into
``nn.CrossEntropyLoss``, which applies log-softmax again. The loss sees probabilities in [0, 1] as
scores, so it can never drop below -log(e/(e+9)) ~ 1.46 and its gradients are damped by the
softmax's Jacobian: training with SGD at lr 1e-2 crawls and stalls.

Source: github.com/L1aoXingyu/pytorch-beginner, 03-Neural Network/neural_network.py at
fc60c8525c9178bf4c2be709cf9f3e4a98ab1cfe ("upload nn"); fixed by the author's commit
51b108ce2559f1c7e13ad8f88bb5a767a7aa5cb3 "fix bug", which deletes ``x = F.softmax(x)`` from
``Neuralnetwork.forward`` (and, in the same commit, the ``F.softmax`` of 02-Logistic Regression, see
``pytorch_beginner_logreg_sigmoid_into_ce``). Program lines: batch_size 32, learning_rate 1e-2,
``Neuralnetwork(28*28, 300, 100, 10)`` (layer1..layer3 Linear, no hidden activation),
``nn.CrossEntropyLoss()``, ``optim.SGD(model.parameters(), lr=learning_rate)``, MNIST through
``transforms.ToTensor()`` and ``img.view(img.size(0), -1)`` in the loop (done here when building the
batches). ``Variable`` dropped; ``F.softmax`` given ``dim=1`` (the implicit choice for 2-D input).
Data: MNIST is downloaded; stand-in ``_data.mnist_like`` (28x28 uint8 0..255, 10 classes) through
ToTensor's scaling, flattened to (n, 784), 128 images.
Fault label: output_activation|loss_mismatch. Fix (51b108c): return ``self.layer3(x)`` (raw scores).
Keras twin: Dense 300, Dense 100, ``Dense(10, activation="softmax")`` (fixed: no activation),
``SparseCategoricalCrossentropy(from_logits=True)``, ``SGD(learning_rate=1e-2)``.
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "output_activation|loss_mismatch"
SOURCE = "github:L1aoXingyu/pytorch-beginner 03-Neural Network/neural_network.py@fc60c85 (fix 51b108c)"
FRAMEWORKS = ("torch", "keras")
CHECKS = [("output_range", {"kind": "logits"}), ("overfit_one_batch", {}), ("loss_decreases", {})]

batch_size = 32  # program lines
learning_rate = 1e-2


def _build(framework: str, softmax: bool) -> dict[str, Any]:
    imgs, y = _data.mnist_like(4 * batch_size)
    x = (imgs.astype("float32") / 255.0).reshape(len(imgs), -1)  # ToTensor(), img.view(img.size(0), -1)
    if framework == "keras":
        import keras
        from keras import layers

        model = keras.Sequential([keras.Input((28 * 28,)), layers.Dense(300), layers.Dense(100),
                                  layers.Dense(10, activation="softmax" if softmax else None)])
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      optimizer=keras.optimizers.SGD(learning_rate=learning_rate))
        return {"model": model, "batch": (x[:batch_size], y[:batch_size]),
                "batches": _data.batches(x, y, batch_size)}

    import torch
    import torch.nn.functional as F
    from torch import nn, optim

    class Neuralnetwork(nn.Module):  # program lines: 定义简单的前馈神经网络
        def __init__(self, in_dim, n_hidden_1, n_hidden_2, out_dim):
            super().__init__()
            self.layer1 = nn.Linear(in_dim, n_hidden_1)
            self.layer2 = nn.Linear(n_hidden_1, n_hidden_2)
            self.layer3 = nn.Linear(n_hidden_2, out_dim)

        def forward(self, x):
            x = self.layer1(x)
            x = self.layer2(x)
            x = self.layer3(x)
            if softmax:
                x = F.softmax(x, dim=1)
            return x

    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": Neuralnetwork(28 * 28, 300, 100, 10), "batch": (xt[:batch_size], yt[:batch_size]),
            "batches": _data.batches(xt, yt, batch_size), "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: optim.SGD(p, lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, softmax=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, softmax=False)
