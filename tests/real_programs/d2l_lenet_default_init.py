"""Dive into Deep Learning's LeNet-5 (chapter_convolutional-neural-networks/lenet.md, PyTorch tab of
the 2021 master preview): sigmoid convolutions and sigmoid dense layers, trained with plain SGD at
lr=0.9 on Fashion-MNIST. The PyTorch tab left the layers at PyTorch's default initialisation
(kaiming-uniform with a = sqrt(5): weights uniform in +-1/sqrt(fan_in)), although the text says
the model is Xavier-initialised (the MXNet tab calls ``net.initialize(init.Xavier())`` and the
TensorFlow tab gets Keras' glorot-uniform). Through five sigmoid layers the signal and the gradients
shrink to almost nothing, and the reader reported that "the loss of CNN implemented by Pytorch has not
decreased at all or has not decreased in the first few epochs, which is different from the results of
Mxnet and Tensorflow".

Source: github.com/d2l-ai/d2l-en issue #1917, fixed by PR #2000 ("[PyTorch] Fix CNNs Init", merge
commit 2422fd67c3cce9cb26c24027d6cb5e8e97627270, which adds ``d2l.init_cnn_weights`` —
``nn.init.xavier_uniform_`` on every nn.Linear / nn.Conv2d weight — and ``self.net.apply(...)`` in
LeNet); program as in lenet.md and d2l/torch.py at 2422fd67^.
Program configuration: ``LeNet(lr=0.9)``: Conv2d(1, 6, 5, padding=2) Sigmoid, AvgPool2d(2, 2),
Conv2d(6, 16, 5) Sigmoid, AvgPool2d(2, 2), Flatten, Linear(400, 120) Sigmoid, Linear(120, 84)
Sigmoid, Linear(84, 10); loss ``F.cross_entropy`` (d2l.Classification.loss, mean);
``torch.optim.SGD(self.parameters(), lr=self.lr)`` (d2l.Classification.configure_optimizers);
``d2l.FashionMNIST(batch_size=256)`` (Resize(28, 28) + ToTensor: 1x28x28 floats in [0, 1]);
``d2l.Trainer(max_epochs=10)``.
Data: Fashion-MNIST is downloaded, so ``_data.mnist_like`` stands in (28x28 uint8 images, 10 classes,
768 rows), put through ToTensor's scaling (/255, shape (n, 1, 28, 28)).
Fault label: vanishing_gradients (the source calls it a missing Xavier initialisation: with PyTorch's
default init the sigmoid LeNet does not start learning).
Fix (PR #2000): ``self.net.apply(d2l.init_cnn_weights)``, Xavier-uniform weights.
Torch only: the Keras (TensorFlow tab) version of the same program uses glorot-uniform by default
and does not have the fault.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "vanishing_gradients"
SOURCE = "github:d2l-ai/d2l-en issue #1917, PR #2000 (chapter_convolutional-neural-networks/lenet.md@2422fd67^)"
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

BATCH_SIZE = 256


def _fashion_mnist(n: int = 768) -> tuple[np.ndarray, np.ndarray]:
    imgs, labels = _data.mnist_like(n)
    x = (imgs.astype("float32") / 255.0)[:, None, :, :]  # transforms.ToTensor()
    return x, labels


def _build(xavier: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    # program lines (lenet.md, %%tab pytorch)
    net = nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))

    def init_cnn_weights(layer):  # d2l/torch.py after PR #2000
        """Initialize weights for CNNs."""
        if type(layer) == nn.Linear or type(layer) == nn.Conv2d:
            nn.init.xavier_uniform_(layer.weight)

    if xavier:
        net.apply(init_cnn_weights)

    def loss(y_hat, y):  # d2l.Classification.loss
        y_hat = y_hat.reshape((-1, y_hat.shape[-1]))
        y = y.reshape((-1,))
        return F.cross_entropy(y_hat, y, reduction='mean')

    lr = 0.9  # model = LeNet(lr=0.9)
    x, y = _fashion_mnist()
    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": net, "batch": (xt[:BATCH_SIZE], yt[:BATCH_SIZE]),
            "batches": _data.batches(xt, yt, BATCH_SIZE), "inputs": xt[:BATCH_SIZE], "loss_fn": loss,
            "optimizer": lambda p: torch.optim.SGD(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _build(xavier=False)


def fixed(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _build(xavier=True)
