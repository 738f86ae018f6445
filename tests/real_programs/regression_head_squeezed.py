"""Regression head whose logits were squeezed to (N,) while the labels stay (N, 1): nn.MSELoss
broadcasts them to (N, N) (PyTorch only warns), so every prediction is pulled toward the mean of
all labels and the model learns the average.

Source: github.com/deepset-ai/FARM issue #229 ("Using a target size (torch.Size([32, 1])) that is
different to the input size (torch.Size([32]))"; regression on labels 0..16 with
``RegressionHead([768, 1])``, batch 32; maintainers: "the logits were squeezed and therefore didn't
match", fixed in #230). The DistilBERT encoder is reduced to its pooled 768-d output (seeded features
from a linear teacher); the head is FARM's FeedForwardBlock([768, 1]) (one Linear); MSELoss;
AdamW(lr 2e-5 as in FARM's doc_regression example).
Fault label: target_shape. Fix: keep the (N, 1) logits. Torch only (Keras losses
align the ranks first).
"""

from __future__ import annotations

from typing import Any

LABEL = "target_shape"
SOURCE = "github:deepset-ai/FARM issue #229 (fixed in #230)"
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]


def _build(squeeze: bool) -> dict[str, Any]:
    import numpy as np
    import torch
    import torch.nn as nn

    class RegressionHead(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.feed_forward = nn.Linear(768, 1)

        def forward(self, x):
            logits = self.feed_forward(x)
            return logits.squeeze() if squeeze else logits

    rng = np.random.default_rng(0)
    x = rng.standard_normal((128, 768)).astype("float32")
    y = np.clip(8 + 4 * (x @ rng.standard_normal(768)) / np.sqrt(768), 0, 16).astype("float32")[:, None]
    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": RegressionHead(), "batch": (xt[:32], yt[:32]), "batches": [(xt[i:i + 32], yt[i:i + 32]) for i in range(0, 128, 32)],
            "loss_fn": nn.MSELoss(), "optimizer": lambda p: torch.optim.AdamW(p, lr=2e-5)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(False)
