"""Linear regression whose targets have shape (n,) while nn.Linear(2, 1) predicts (n, 1): MSELoss
broadcasts them to (n, n), and "the correct estimates of this straightforward linear regression
problem are not found and the loss fails to decrease into a region near the global optimum".

Source: github.com/pytorch/pytorch issue #16045 ("fail to throw error when computing loss between
tensors with shapes [n, 1] and [n]"; the warning of PR #18349 followed). The issue's program:
sample_size 100, x = torch.randn((100, 2)), y = 10 + 9 * x[:, 0] - 2 * x[:, 1] + eps (eps standard
normal), model nn.Linear(2, 1), SGD(lr 0.1), nn.MSELoss(), 30 full-batch epochs; its fix is the
commented-out ``y = y.reshape(sample_size, 1)``. Data: the same draws from a seeded generator.
Fault label: target_shape. Torch only (Keras losses bring both to one rank first, so the fault does
not exist there).
"""

from __future__ import annotations

from typing import Any

LABEL = "target_shape"
SOURCE = "github:pytorch/pytorch issue #16045"
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]


def _build(reshape: bool) -> dict[str, Any]:
    import numpy as np
    import torch
    import torch.nn as nn

    rng = np.random.default_rng(0)
    sample_size = 100
    x = torch.tensor(rng.standard_normal((sample_size, 2)).astype("float32"))
    eps = torch.tensor(rng.standard_normal(sample_size).astype("float32"))
    y = 10 + 9 * x[:, 0] - 2 * x[:, 1] + eps
    if reshape:
        y = y.reshape(sample_size, 1)
    model = nn.Linear(2, 1)
    return {"model": model, "batch": (x, y), "batches": [(x, y)], "loss_fn": nn.MSELoss(),
            "optimizer": lambda p: torch.optim.SGD(p, lr=.1)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(True)
