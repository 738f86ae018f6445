"""PyTorch "Learn the Basics" tutorial (quickstart / buildmodel / optimization) whose FashionMNIST MLP
ends in ``nn.Linear(512, 10), nn.ReLU()``: the logits handed to ``nn.CrossEntropyLoss`` are clipped at
zero, so every class whose pre-activation is negative gets logit 0 and no gradient, and learning is
slowed and capped.

Source: github.com/pytorch/tutorials issue #1526 ("[Introduction to PyTorch] Bug on model definition
part": "There's ReLU activation after the logit. I think the final ReLU should be removed."), fixed
by PR #1644 and PR #1654 ("Remove final ReLU layer"), in beginner_source/basics/buildmodel_tutorial.py,
optimization_tutorial.py and quickstart_tutorial.py: nn.Flatten, Linear(784, 512) ReLU,
Linear(512, 512) ReLU, Linear(512, 10) [ReLU]; ``nn.CrossEntropyLoss()``;
``torch.optim.SGD(lr=1e-3)``; batch_size 64; 10 epochs on FashionMNIST with ``ToTensor()`` (float32
in [0, 1], shape (1, 28, 28)). Data: FashionMNIST stand-in (_data.mnist_like: 28x28 uint8 0..255,
/ 255, 10 classes), 192 images.
Fault label: output_activation (a ReLU on the logits fed to a logits loss). Fix (PR #1654): drop the
final ReLU so the last Linear returns the logits. Keras twin: the same MLP with
``Dense(10, activation="relu")`` and SparseCategoricalCrossentropy(from_logits=True), SGD(1e-3).
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "output_activation"
SOURCE = "github:pytorch/tutorials issue #1526, PR #1654 (beginner_source/basics/optimization_tutorial.py)"
FRAMEWORKS = ("torch", "keras")
CHECKS = [("output_range", {"kind": "logits"}), ("overfit_one_batch", {}), ("loss_decreases", {})]

BATCH_SIZE = 64
LEARNING_RATE = 1e-3


def _build(framework: str, final_relu: bool) -> dict[str, Any]:
    imgs, y = _data.mnist_like(192)
    x = imgs.astype("float32") / 255.0  # ToTensor()
    if framework == "keras":
        import keras
        from keras import layers

        model = keras.Sequential([
            keras.Input((28, 28)), layers.Flatten(),
            layers.Dense(512, activation="relu"), layers.Dense(512, activation="relu"),
            layers.Dense(10, activation="relu" if final_relu else None)])
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      optimizer=keras.optimizers.SGD(learning_rate=LEARNING_RATE))
        return {"model": model, "batch": (x[:BATCH_SIZE], y[:BATCH_SIZE]),
                "batches": _data.batches(x, y, BATCH_SIZE)}

    import torch
    from torch import nn

    class NeuralNetwork(nn.Module):  # program lines: beginner_source/basics/optimization_tutorial.py
        def __init__(self) -> None:
            super().__init__()
            self.flatten = nn.Flatten()
            stack = [nn.Linear(28 * 28, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10)]
            if final_relu:
                stack.append(nn.ReLU())
            self.linear_relu_stack = nn.Sequential(*stack)

        def forward(self, x):
            x = self.flatten(x)
            logits = self.linear_relu_stack(x)
            return logits

    xt, yt = torch.tensor(x).unsqueeze(1), torch.tensor(y)
    return {"model": NeuralNetwork(), "batch": (xt[:BATCH_SIZE], yt[:BATCH_SIZE]),
            "batches": _data.batches(xt, yt, BATCH_SIZE), "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.SGD(p, lr=LEARNING_RATE)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, final_relu=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, final_relu=False)
