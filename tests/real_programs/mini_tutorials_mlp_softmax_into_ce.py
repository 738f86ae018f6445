"""vinhkhuc/PyTorch-Mini-Tutorials, ``3_neural_net.py``: an MNIST MLP built as ``nn.Sequential`` of
``Linear(784, 512, bias=False)``, ``Sigmoid``, ``Linear(512, 10, bias=False)`` and a final
``torch.nn.Softmax()``, trained with ``torch.nn.CrossEntropyLoss(size_average=True)`` and
``optim.SGD(lr=0.01, momentum=0.9)`` on batches of 100. ``CrossEntropyLoss`` applies its own
log-softmax, so the model's softmax probabilities are squashed a second time: the loss can never get
near zero (its floor is log(e + 9) - 1, about 1.46, even for a one-hot probability vector) and its
gradients are damped by the extra softmax's Jacobian, so the network trains far more slowly than the
same one on logits.

Source: github.com/vinhkhuc/PyTorch-Mini-Tutorials issue #1 ("About CrossEntroyLoss": "could I remove
``softmax`` layer from the model sequential?"; the author: "CrossEntropyLoss ... computes softmax
internally. So, the softmax layer is unnecessary."), fixed by the author's commit
f32192e649d71d49f2ee5169cede28260147026f ("No need to use the softmax layer since CrossEntropyLoss
already uses it internally (issue #1)"), which deletes ``model.add_module("softmax", torch.nn.Softmax())``
from ``3_neural_net.py`` (and from the logistic-regression, modern-MLP and convnet scripts). The program is
``3_neural_net.py`` as at f32192e^.
Program lines kept: ``build_model(784, 10)`` (``linear_1``, ``sigmoid_1``, ``linear_2``, ``softmax``;
``torch.nn.Softmax()`` with the implicit dim, which for 2-D input is dim 1, written ``dim=1`` here),
``torch.manual_seed(42)``, ``CrossEntropyLoss`` (``size_average=True`` is today's default
``reduction='mean'``), ``optim.SGD(model.parameters(), lr=0.01, momentum=0.9)``, ``batch_size = 100``,
the ``train`` step (zero_grad, forward, loss, backward, step) which is a plain training step.
Data: ``load_mnist(onehot=False)`` gives (60000, 784) float pixels divided by 255 and int labels 0..9;
here ``_data.mnist_like(400)`` (MNIST-shaped uint8 digits) flattened to (400, 784) and divided by 255
the same way, cut into four batches of 100.
Fault label: loss_mismatch|output_activation. Fix (f32192e): drop the final ``Softmax`` so
``CrossEntropyLoss`` gets logits.
No Keras twin: a Keras 3 ``Dense(10, activation="softmax")`` head under
``SparseCategoricalCrossentropy(from_logits=True)`` has its pre-softmax logits recovered by the loss
(it warns and uses them), so the same program trains identically there (checked: equal losses).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "loss_mismatch|output_activation"
SOURCE = ("github:vinhkhuc/PyTorch-Mini-Tutorials issue #1 (3_neural_net.py@f32192e^, fix f32192e)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "logits", "num_classes": 10})]

n_classes = 10  # program lines
batch_size = 100
learning_rate = 0.01
momentum = 0.9


def _mnist(n: int = 4 * batch_size) -> tuple[np.ndarray, np.ndarray]:
    """``load_mnist(onehot=False)``: (n, 784) float32 pixels in [0, 1], int64 labels 0..9."""
    imgs, y = _data.mnist_like(n)
    return (imgs.reshape(n, 28 * 28).astype("float32") / 255.0), y


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    x, y = _mnist()
    n_features = x.shape[1]
    import torch
    from torch import optim

    def build_model(input_dim, output_dim):  # program lines
        model = torch.nn.Sequential()
        model.add_module("linear_1", torch.nn.Linear(input_dim, 512, bias=False))
        model.add_module("sigmoid_1", torch.nn.Sigmoid())
        model.add_module("linear_2", torch.nn.Linear(512, output_dim, bias=False))
        if not fixed:  # removed by f32192e
            model.add_module("softmax", torch.nn.Softmax(dim=1))
        return model

    torch.manual_seed(42)
    xt, yt = torch.from_numpy(x).float(), torch.from_numpy(y).long()
    return {"model": build_model(n_features, n_classes), "batch": (xt[:batch_size], yt[:batch_size]),
            "batches": _data.batches(xt, yt, batch_size), "loss_fn": torch.nn.CrossEntropyLoss(),
            "optimizer": lambda p: optim.SGD(p, lr=learning_rate, momentum=momentum)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
