"""The MNIST convnet of the book "Deep Learning in PyTorch" (swarma, chapter 5) ends in
``F.log_softmax(x, dim = 0)``: the log-softmax is taken over the batch, not over the ten classes,
and the result is fed to ``nn.CrossEntropyLoss``. CrossEntropyLoss re-normalises each row, so what
survives of the bug is a per-class offset (the log-sum-exp of that class over the batch): training
curves look normal, but every prediction depends on the other images of the batch, and an image
classified alone (a batch of one) gets a constant output.

Source: github.com/swarmapytorch/book_DeepLearning_in_PyTorch_Source issue #8 ("bug found": "in
手写数字识别器_minst_convnet.ipynb, in def forward() x = F.log_softmax(x, dim = 0) ... here the dim
should be 1 because we see dim=0 as per data line"); the chapter-6 copy of the same ConvNet
(06_Transfer Learning/minst_convnet.ipynb) has ``dim = 1`` since a8b0939. Program lines from
05_Convolution/手写数字识别器_minst_convnet.ipynb at 3a1235b: ``ConvNet`` (Conv2d(1, 4, 5, padding 2),
ReLU, MaxPool 2, Conv2d(4, 8, 5, padding 2), ReLU, MaxPool 2, Linear(7*7*8, 512), ReLU,
F.dropout, Linear(512, 10), ``F.log_softmax(x, dim = 0)``); ``nn.CrossEntropyLoss()``,
``optim.SGD(net.parameters(), lr=0.001, momentum=0.9)``, batch_size 64, MNIST through
``transforms.ToTensor()``. ``retrieve_features`` (plotting only) left out.
Data: MNIST is downloaded; stand-in ``_data.mnist_like`` scaled like ToTensor, (n, 1, 28, 28).
Fault label: batch_mixing. Fix (issue #8, as the chapter-6 copy has it): ``F.log_softmax(x, dim = 1)``.
Torch only (a PyTorch dim argument).
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "batch_mixing"
SOURCE = "github:swarmapytorch/book_DeepLearning_in_PyTorch_Source issue #8 (05_Convolution minst_convnet.ipynb@3a1235b)"
FRAMEWORKS = ("torch",)
CHECKS = [("batch_independence", {}), ("overfit_one_batch", {}), ("loss_decreases", {})]

# program lines: hyper-parameters
image_size = 28
num_classes = 10
batch_size = 64
depth = [4, 8]


def _build(dim: int) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim

    class ConvNet(nn.Module):  # program lines
        def __init__(self):
            super(ConvNet, self).__init__()
            self.conv1 = nn.Conv2d(1, 4, 5, padding=2)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(depth[0], depth[1], 5, padding=2)
            self.fc1 = nn.Linear(image_size // 4 * image_size // 4 * depth[1], 512)
            self.fc2 = nn.Linear(512, num_classes)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = self.pool(x)
            x = F.relu(self.conv2(x))
            x = self.pool(x)
            x = x.view(-1, image_size // 4 * image_size // 4 * depth[1])
            x = F.relu(self.fc1(x))
            x = F.dropout(x, training=self.training)
            x = self.fc2(x)
            x = F.log_softmax(x, dim=dim)
            return x

    imgs, y = _data.mnist_like(4 * batch_size)
    xt = torch.tensor((imgs.astype("float32") / 255.0)[:, None])  # transforms.ToTensor()
    yt = torch.tensor(y)
    return {"model": ConvNet(), "batch": (xt[:batch_size], yt[:batch_size]),
            "batches": _data.batches(xt, yt, batch_size), "inputs": xt[:batch_size],
            "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: optim.SGD(p, lr=0.001, momentum=0.9)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(0)


def fixed(framework: str) -> dict[str, Any]:
    return _build(1)
