"""IKMLab/course_material's PyTorch basics notebook (``PyTorch-基本功能.ipynb``, the "驗證" cell): a
1-10-1 MLP (Linear, ReLU, Linear) regresses y = 2x^2 + 3x + 17 on x drawn uniformly from [-1, 1],
with ``nn.MSELoss()`` and ``SGD(lr=0.0001)``, batches of 50 for 5 epochs. The training loop calls
``loss.backward()`` and ``optimizer.step()`` but never ``optimizer.zero_grad()``, so every step
applies the sum of all gradients since the start of training instead of the current batch's.

Source: github.com/IKMLab/course_material, issue #3 "Missing `optimizer.zero_grad` in `torch`
tutorial." (closed "Done"); the notebook at 17ee9199ad19ae35bdea7a63a12c587d1b9fbab6^ (cells 39-44),
fixed by commit 17ee9199ad19ae35bdea7a63a12c587d1b9fbab6 "add optimizer.zero_grad", which adds
``optimizer.zero_grad()`` right after ``optimizer.step()`` in the training loop (and in the earlier
demo cell). Program lines: ``MyDataset(1000)`` with ``self.x = torch.rand(size) * 2 - 1`` and
``self.y = 2 * self.x ** 2 + 3 * self.x + 17``, ``collate_fn`` turning each x and y into ``[x]`` /
``[y]`` (shape (batch, 1)), ``batch_size = 50``, ``hid_dim = 10``, ``MyModel(in_dim=1, hid_dim=10,
out_dim=1)`` (``layer1``, ``F.relu``, ``layer2``), ``criterion = nn.MSELoss()``,
``SGD(model.parameters(), lr=0.0001)``.
Ported minimally: nothing beyond dropping the ``.to(device)`` moves. The step is the program's own, so
it comes as ``train_step(model, optimizer, loss_fn, x, y) -> float`` (forward, loss, backward, step;
the fix adds ``optimizer.zero_grad()`` after the step).
Data: the program builds its own data with an unseeded ``torch.rand``; here the same formula on a
seeded numpy uniform [-1, 1) draw, float32, 400 samples cut into eight batches of 50.
Fault label: missing_zero_grad. Fix (17ee919): ``optimizer.zero_grad()`` after ``optimizer.step()``.
No Keras twin: Keras's ``fit`` does not accumulate gradients across steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "missing_zero_grad"
SOURCE = "github:IKMLab/course_material issue #3 (PyTorch-基本功能.ipynb@17ee919^, fix 17ee919)"
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]

batch_size = 50  # program lines
hid_dim = 10
learning_rate = 0.0001


def _quadratic(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``MyDataset``: x uniform in [-1, 1), y = 2x^2 + 3x + 17, each as a (n, 1) column (collate_fn)."""
    x = np.random.default_rng(seed).random(n).astype("float32") * 2 - 1
    y = 2 * x ** 2 + 3 * x + 17
    return x[:, None], y[:, None].astype("float32")


def _build(framework: str, zero_grad: bool) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.optim import SGD

    class MyModel(nn.Module):  # program lines
        def __init__(self, in_dim, hid_dim, out_dim):
            super(MyModel, self).__init__()
            self.layer1 = nn.Linear(in_features=in_dim, out_features=hid_dim)
            self.layer2 = nn.Linear(in_features=hid_dim, out_features=out_dim)

        def forward(self, batch_x):
            h = self.layer1(batch_x)
            a = F.relu(h)
            y = self.layer2(a)
            return y

    def train_step(model, optimizer, loss_fn, batch_x, batch_y) -> float:
        pred_y = model(batch_x)
        loss = loss_fn(pred_y, batch_y)
        loss.backward()
        optimizer.step()
        if zero_grad:  # the fix
            optimizer.zero_grad()
        return float(loss)

    x, y = _quadratic()
    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": MyModel(in_dim=1, hid_dim=hid_dim, out_dim=1), "batch": (xt[:batch_size], yt[:batch_size]),
            "batches": _data.batches(xt, yt, batch_size), "loss_fn": nn.MSELoss(),
            "optimizer": lambda p: SGD(p, lr=learning_rate), "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, zero_grad=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, zero_grad=True)
