"""A one-variable linear regression written with raw tensors and a hand-written SGD update whose
loop never clears ``w.grad`` / ``b.grad``: "The loss is not always decreasing, even lr is very
small 1e-6 ... the code should manually add ``w.grad.data._zero()``" (the maintainer: "it is
already fixed").

Source: github.com/greebear/pytorch-learning issue #1 ("this linear_regression demo cannot work well
in pytorch 1.0.1"); buggy notebook week1-D3-D4.ipynb at commit a7528f316d49bb92c8dd771fdf91944eec85168e,
fixed by bcc4b9ac9709792209a1c76f6e72ff0c5c506bdf ("fix linear_regression bug": ``w.grad.zero_()``,
``b.grad.zero_()`` after the update). Program lines kept: x = rand(200, 1) * 10,
y = 3x + (5 + randn(200, 1)), w = randn(1), b = zeros(1), y_pred = w * x + b,
loss = (0.5 * (y - y_pred) ** 2).mean(), lr 0.01. The two raw tensors are held as the parameters of
a small nn.Module so a check can copy it, and the update ``p.data.sub_(lr * p.grad)`` is written as
``torch.optim.SGD(lr=0.01).step()``, which performs exactly that update.
Fault label: missing_zero_grad. Fix: zero both gradients after every update. Torch only.
"""

from __future__ import annotations

from typing import Any

LABEL = "missing_zero_grad"
SOURCE = "github:greebear/pytorch-learning issue #1 (week1-D3-D4.ipynb@a7528f3, fixed in bcc4b9a)"
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {})]


def _build(zero: bool) -> dict[str, Any]:
    import torch

    class LinearRegression(torch.nn.Module):
        def __init__(self, g) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.randn((1), generator=g))  # program: w = torch.randn((1), ...)
            self.b = torch.nn.Parameter(torch.zeros((1)))  # program: b = torch.zeros((1), requires_grad=True)

        def forward(self, x):
            wx = torch.mul(self.w, x)
            return torch.add(wx, self.b)

    def mse(y_pred, y):  # program: loss = (0.5 * (y - y_pred) ** 2).mean()
        return (0.5 * (y - y_pred) ** 2).mean()

    def train_step(model, opt, loss_fn, x, y):  # the loop body
        y_pred = model(x)
        loss = loss_fn(y_pred, y)
        loss.backward()
        opt.step()  # w.data.sub_(lr * w.grad); b.data.sub_(lr * b.grad)
        if zero:
            opt.zero_grad(set_to_none=False)  # w.grad.zero_(); b.grad.zero_()
        return loss

    g = torch.Generator().manual_seed(10)
    x = torch.rand(200, 1, generator=g) * 10
    y = 3 * x + (5 + torch.randn(200, 1, generator=g))
    model = LinearRegression(g)
    return {"model": model, "batch": (x, y), "batches": [(x, y)], "loss_fn": mse, "train_step": train_step,
            "optimizer": lambda p: torch.optim.SGD(p, lr=0.01)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(True)
