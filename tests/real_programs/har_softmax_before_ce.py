"""Human-activity CNN that applies F.softmax in forward() and then trains with nn.CrossEntropyLoss.

Source: github.com/jindongwang/Deep-learning-activity-recognition, pytorch/network.py (commit
5c42f2008ffe0a3ec9067422054bf18ba78c0f92, model lines kept) and pytorch/main_pytorch.py (commit
18b96d72866b7c5c7a78e552b240a9876a0464e6: BATCH_SIZE 64, SGD(lr=0.01, momentum=0.9),
CrossEntropyLoss, samples viewed as (-1, 9, 1, 128)); reported in issue #10 of that repository
("you should input just raw outputs, but instead you input vector in softmax layer"), confirmed.
Data: UCI-HAR stand-in (9 body-signal channels x 128 steps in about [-1, 1], 6 classes).
Fault label: loss_mismatch (probabilities into a loss that applies its own softmax).
Keras twin: the same layers channels-last, a softmax output trained with
``tf.nn.sparse_softmax_cross_entropy_with_logits`` — the TensorFlow spelling of the same fault (Keras 3's
``SparseCategoricalCrossentropy(from_logits=True)`` would quietly use the pre-softmax logits, so the
fault would not exist there).
Fix: return the last Linear's output (torch) / no softmax on the head (Keras).
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "loss_mismatch"
SOURCE = "github:jindongwang/Deep-learning-activity-recognition pytorch/network.py@5c42f20 (issue #10)"
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("output_range", {"kind": "logits"})]


def _torch(softmax: bool) -> Any:
    import torch.nn as nn
    import torch.nn.functional as F

    class Network(nn.Module):  # program lines: pytorch/network.py
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Sequential(nn.Conv2d(in_channels=9, out_channels=32, kernel_size=(1, 9)), nn.ReLU(),
                                       nn.MaxPool2d(kernel_size=(1, 2), stride=2))
            self.conv2 = nn.Sequential(nn.Conv2d(in_channels=32, out_channels=64, kernel_size=(1, 9)), nn.ReLU(),
                                       nn.MaxPool2d(kernel_size=(1, 2), stride=2))
            self.fc1 = nn.Sequential(nn.Linear(in_features=64 * 26, out_features=1000), nn.ReLU())
            self.fc2 = nn.Sequential(nn.Linear(in_features=1000, out_features=500), nn.ReLU())
            self.fc3 = nn.Sequential(nn.Linear(in_features=500, out_features=6))

        def forward(self, x):
            out = self.conv1(x)
            out = self.conv2(out)
            out = out.reshape(-1, 64 * 26)
            out = self.fc3(self.fc2(self.fc1(out)))
            return F.softmax(out, dim=1) if softmax else out

    return Network()


def _build(framework: str, softmax: bool) -> dict[str, Any]:
    x, y = _data.har_like(128)
    if framework == "torch":
        import torch

        xt, yt = torch.tensor(x), torch.tensor(y)
        return {"model": _torch(softmax), "batch": (xt[:64], yt[:64]), "batches": _data.batches(xt, yt, 64),
                "loss_fn": torch.nn.CrossEntropyLoss(),
                "optimizer": lambda p: torch.optim.SGD(params=p, lr=0.01, momentum=0.9)}
    import keras
    from keras import layers

    model = keras.Sequential([
        keras.Input((1, 128, 9)),
        layers.Conv2D(32, (1, 9), activation="relu"), layers.MaxPooling2D((1, 2), strides=2),
        layers.Conv2D(64, (1, 9), activation="relu"), layers.MaxPooling2D((1, 2), strides=2),
        layers.Flatten(), layers.Dense(1000, activation="relu"), layers.Dense(500, activation="relu"),
        layers.Dense(6, activation="softmax" if softmax else None)])
    import tensorflow as tf

    def criterion(target, output):
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=tf.cast(tf.reshape(target, [-1]), tf.int32),
                                                                               logits=output))

    model.compile(loss=criterion,
                  optimizer=keras.optimizers.SGD(learning_rate=0.01, momentum=0.9))
    xk = x.transpose(0, 2, 3, 1).copy()
    return {"model": model, "batch": (xk[:64], y[:64]), "batches": _data.batches(xk, y, 64)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, False)
