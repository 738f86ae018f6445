"""vinhkhuc/PyTorch-Mini-Tutorials, ``5_convolutional_net.py``: an MNIST ``ConvNet`` (``conv_1``
Conv2d(1, 10, 5), max-pool, ReLU, ``conv_2`` Conv2d(10, 20, 5), Dropout, max-pool, ReLU, then ``fc1``
Linear(320, 50), ReLU, Dropout, ``fc2`` Linear(50, 10)) whose head ends in ``relu_4`` = ``ReLU`` and then
``torch.nn.Softmax()``, trained with ``torch.nn.CrossEntropyLoss(size_average=True)`` on batches of 100.
Two faults stack on the scores: the ReLU clips every negative class score to 0 (a class whose ``fc2``
output is negative gets no gradient at all), and the softmax turns the clipped scores into probabilities
that ``CrossEntropyLoss`` squashes again with its own log-softmax, so the loss is bounded below by
log(e + 9) - 1 (about 1.46) and its gradients are damped; the network barely trains.

Source: github.com/vinhkhuc/PyTorch-Mini-Tutorials issue #1 ("About CrossEntroyLoss": the softmax layer
before ``CrossEntropyLoss`` is unnecessary; the author agreed), fixed by the author's commit
f32192e649d71d49f2ee5169cede28260147026f ("No need to use the softmax layer since CrossEntropyLoss
already uses it internally (issue #1)"), which in ``5_convolutional_net.py`` deletes both
``self.fc.add_module("relu_4", torch.nn.ReLU())`` and ``self.fc.add_module("softmax", torch.nn.Softmax())``
and changes ``optim.SGD(model.parameters())`` to ``optim.SGD(model.parameters(), lr=0.01, momentum=0.9)``.
The program is ``5_convolutional_net.py`` as at f32192e^.
Program lines kept: the ``ConvNet(output_dim=10)`` class (``conv`` and ``fc`` Sequentials, ``x.view(-1,
320)``; ``Softmax()`` with the implicit dim, which for 2-D input is dim 1, written ``dim=1``),
``torch.manual_seed(42)``, ``CrossEntropyLoss`` (``size_average=True`` is today's default), the plain
``train`` step (zero_grad, forward, loss, backward, step); ``batch_size`` is the program's 100 halved to 50
(its own argument), as one step on a CPU thread took about 95 ms at 100.
Optimizer: the buggy script's ``optim.SGD(model.parameters())`` gives no learning rate, which the
PyTorch of the time (``lr=required``) rejects at construction, so no run of it trained; both versions
here use the commit's ``SGD(lr=0.01, momentum=0.9)`` (the one used by the sibling scripts), so the
only difference left is the head.
Data: ``load_mnist(onehot=False)`` pixels divided by 255, ``reshape(-1, 1, 28, 28)``; here
``_data.mnist_like(200)`` (MNIST-shaped uint8 digits) divided by 255 and reshaped the same way, four
batches of 50.
Fault label: output_activation|loss_mismatch. Fix (f32192e): drop ``relu_4`` and ``softmax`` so
``CrossEntropyLoss`` gets the raw ``fc2`` logits.
No Keras twin: a Keras 3 softmax head under ``from_logits=True`` cross-entropy has its logits recovered
by the loss, so the double softmax does not reproduce there.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:vinhkhuc/PyTorch-Mini-Tutorials issue #1 (5_convolutional_net.py@f32192e^, fix f32192e)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "logits", "num_classes": 10})]

n_classes = 10  # program lines
batch_size = 50  # the program's batch_size = 100, halved (a CPU step took ~95 ms at 100)
learning_rate = 0.01  # from the fix (the buggy call gave none)
momentum = 0.9


def _mnist(n: int = 4 * batch_size) -> tuple[np.ndarray, np.ndarray]:
    """``load_mnist(onehot=False)`` then ``reshape(-1, 1, 28, 28)``: float32 in [0, 1], labels 0..9."""
    imgs, y = _data.mnist_like(n)
    return (imgs.reshape(-1, 1, 28, 28).astype("float32") / 255.0), y


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    import torch
    from torch import optim

    class ConvNet(torch.nn.Module):  # program lines
        def __init__(self, output_dim):
            super(ConvNet, self).__init__()

            self.conv = torch.nn.Sequential()
            self.conv.add_module("conv_1", torch.nn.Conv2d(1, 10, kernel_size=5))
            self.conv.add_module("maxpool_1", torch.nn.MaxPool2d(kernel_size=2))
            self.conv.add_module("relu_1", torch.nn.ReLU())
            self.conv.add_module("conv_2", torch.nn.Conv2d(10, 20, kernel_size=5))
            self.conv.add_module("dropout_2", torch.nn.Dropout())
            self.conv.add_module("maxpool_2", torch.nn.MaxPool2d(kernel_size=2))
            self.conv.add_module("relu_2", torch.nn.ReLU())

            self.fc = torch.nn.Sequential()
            self.fc.add_module("fc1", torch.nn.Linear(320, 50))
            self.fc.add_module("relu_3", torch.nn.ReLU())
            self.fc.add_module("dropout_3", torch.nn.Dropout())
            self.fc.add_module("fc2", torch.nn.Linear(50, output_dim))
            if not fixed:  # both removed by f32192e
                self.fc.add_module("relu_4", torch.nn.ReLU())
                self.fc.add_module("softmax", torch.nn.Softmax(dim=1))

        def forward(self, x):
            x = self.conv.forward(x)
            x = x.view(-1, 320)
            return self.fc.forward(x)

    torch.manual_seed(42)
    x, y = _mnist()
    xt, yt = torch.from_numpy(x).float(), torch.from_numpy(y).long()
    return {"model": ConvNet(output_dim=n_classes), "batch": (xt[:batch_size], yt[:batch_size]),
            "batches": _data.batches(xt, yt, batch_size), "loss_fn": torch.nn.CrossEntropyLoss(),
            "optimizer": lambda p: optim.SGD(p, lr=learning_rate, momentum=momentum)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
