"""L1aoXingyu/pytorch-beginner's MNIST logistic regression ("02-Logistic Regression") as first
published: ``nn.Linear(784, 10)`` followed by ``F.sigmoid`` and then ``nn.CrossEntropyLoss``. The
scores handed to the loss are squashed into (0, 1), so the softmax inside the loss can never put
more than e/(e+9) ~ 0.23 on the right digit (loss floor ~1.46) and the sigmoid's slope shrinks the
already small gradients: with SGD at lr 1e-3 the classifier barely moves.

Source: github.com/L1aoXingyu/pytorch-beginner, 02-Logistic Regression/Logistic_Regression.py at
1b504bd5e118681c160b573e66d10c8f76e74530 (``out = F.sigmoid(out)``); the author's commit
c3b3c40229a796e79ad4e9d0d3da8b4d125ff916 "fix logstic regression" replaced it by ``F.softmax(out)``,
and commit 51b108ce2559f1c7e13ad8f88bb5a767a7aa5cb3 "fix bug" removed the activation, so the Linear
scores go straight into ``nn.CrossEntropyLoss`` (the same commit removed the ``F.softmax`` of
03-Neural Network, see ``pytorch_beginner_mlp_softmax_into_ce``). Program lines: batch_size 32,
learning_rate 1e-3, ``Logstic_Regression(28*28, 10)``, ``nn.CrossEntropyLoss()``,
``optim.SGD(model.parameters(), lr=learning_rate)``, MNIST through ``transforms.ToTensor()`` (float
in [0, 1]) and ``img.view(img.size(0), -1)`` in the loop (done here when building the batches).
``Variable`` dropped; ``torch.sigmoid`` for the deprecated ``F.sigmoid``.
Data: MNIST is downloaded; stand-in ``_data.mnist_like`` (28x28 uint8 0..255, 10 classes) through
ToTensor's scaling, flattened to (n, 784), 128 images.
Fault label: output_activation|loss_mismatch. Fix (51b108c): return ``self.logstic(x)`` (raw scores).
Keras twin: ``Dense(10, activation="sigmoid")`` (fixed: no activation) on flattened images,
``SparseCategoricalCrossentropy(from_logits=True)``, ``SGD(learning_rate=1e-3)``.
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:L1aoXingyu/pytorch-beginner 02-Logistic Regression/Logistic_Regression.py@1b504bd "
          "(fixes c3b3c40, 51b108c)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("output_range", {"kind": "logits"}), ("overfit_one_batch", {}), ("loss_decreases", {})]

batch_size = 32  # program lines: 定义超参数
learning_rate = 1e-3


def _build(framework: str, sigmoid: bool) -> dict[str, Any]:
    imgs, y = _data.mnist_like(4 * batch_size)
    x = (imgs.astype("float32") / 255.0).reshape(len(imgs), -1)  # ToTensor(), img.view(img.size(0), -1)
    if framework == "keras":
        import keras

        model = keras.Sequential([keras.Input((28 * 28,)),
                                  keras.layers.Dense(10, activation="sigmoid" if sigmoid else None)])
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      optimizer=keras.optimizers.SGD(learning_rate=learning_rate))
        return {"model": model, "batch": (x[:batch_size], y[:batch_size]),
                "batches": _data.batches(x, y, batch_size)}

    import torch
    from torch import nn, optim

    class Logstic_Regression(nn.Module):  # program lines: 定义 Logistic Regression 模型
        def __init__(self, in_dim, n_class):
            super().__init__()
            self.logstic = nn.Linear(in_dim, n_class)

        def forward(self, x):
            out = self.logstic(x)
            if sigmoid:
                out = torch.sigmoid(out)
            return out

    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": Logstic_Regression(28 * 28, 10), "batch": (xt[:batch_size], yt[:batch_size]),
            "batches": _data.batches(xt, yt, batch_size), "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: optim.SGD(p, lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, sigmoid=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, sigmoid=False)
