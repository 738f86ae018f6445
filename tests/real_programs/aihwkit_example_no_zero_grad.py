"""aihwkit's first example (one analog layer learning to sum its inputs) whose loop never calls
``opt.zero_grad()``: "the loss decrease then increase again".

Source: github.com/IBM/aihwkit issue #446 ("Missing zero_grad() call": examples/01_simple_layer.py
and 02_multiple_layers.py; "simply adding opt.zero_grad() ... should be sufficient"; maintainer:
"you are right"); examples/01_simple_layer.py at commit 0582f5fed8807dccf5296dfc9716b7e3b0e421ba:
x = [[0.1, 0.2, 0.4, 0.3], [0.2, 0.1, 0.1, 0.3]], y = [[1.0, 0.5], [0.7, 0.3]],
AnalogLinear(4, 2, bias=True), AnalogSGD(lr 0.1), mse_loss, 100 epochs of
``pred = model(x); loss = mse_loss(pred, y); loss.backward(); opt.step()``. The analog layer (a
simulated resistive crossbar) is replaced by the digital nn.Linear it models, AnalogSGD by SGD.
Fault label: missing_zero_grad. Fix: ``opt.zero_grad()`` in every iteration. Torch only.
"""

from __future__ import annotations

from typing import Any

LABEL = "missing_zero_grad"
SOURCE = "github:IBM/aihwkit issue #446 (examples/01_simple_layer.py@0582f5fe)"
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {})]


def _build(zero_grad: bool) -> dict[str, Any]:
    import torch
    from torch import Tensor
    from torch.nn.functional import mse_loss

    x = Tensor([[0.1, 0.2, 0.4, 0.3], [0.2, 0.1, 0.1, 0.3]])
    y = Tensor([[1.0, 0.5], [0.7, 0.3]])
    model = torch.nn.Linear(4, 2, bias=True)

    def train_step(model, opt, loss_fn, x, y):  # program lines: the loop body
        if zero_grad:
            opt.zero_grad()
        pred = model(x)
        loss = loss_fn(pred, y)
        loss.backward()
        opt.step()
        return loss

    return {"model": model, "batch": (x, y), "batches": [(x, y)], "loss_fn": mse_loss, "train_step": train_step,
            "optimizer": lambda p: torch.optim.SGD(p, lr=0.1)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(True)
