"""Microsoft Learn's "PyTorch fundamentals" multi-layer MNIST network ending in nn.LogSoftmax(dim=0):
the log-softmax normalises over the batch, not over the 10 classes of each sample.

Source: github.com/MicrosoftDocs/pytorchfundamentals issue #4 ("Why is the dim=0 in LogSoftmax? not
dim=1?"), fixed by commit 0c4d31abbf810dba3934f92853f2e0434ef4df55 ("Changing nn.LogSoftmax(dim=0)
to nn.LogSoftmax(dim=-1)"; PR #21) in computer-vision-pytorch/4-multilayer-dense-neural-networks.ipynb:
nn.Sequential(nn.Flatten(), nn.Linear(784, 100), nn.ReLU(), nn.Linear(100, 10), nn.LogSoftmax(dim=0));
computer-vision-pytorch/pytorchcv.py (parent commit 5e2793f6): ``load_mnist(batch_size=128)`` with
ToTensor() (floats in [0, 1], (N, 1, 28, 28)), ``train`` with Adam(lr 0.01) and nn.NLLLoss().
Data: MNIST stand-in through ToTensor's scaling.
Fault label: batch_mixing (each sample's output depends on the rest of the batch). Fix: dim=-1.
Torch only.
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "batch_mixing"
SOURCE = "github:MicrosoftDocs/pytorchfundamentals issue #4 (fixed in 0c4d31ab)"
FRAMEWORKS = ("torch",)
CHECKS = [("batch_independence", {}), ("overfit_one_batch", {}), ("loss_decreases", {})]


def _build(dim: int) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    net = nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 100),
        nn.ReLU(),
        nn.Linear(100, 10),
        nn.LogSoftmax(dim=dim))
    imgs, y = _data.mnist_like(256)
    xt = torch.tensor(imgs[:, None].astype("float32") / 255.0)  # ToTensor()
    yt = torch.tensor(y)
    return {"model": net, "batch": (xt[:128], yt[:128]), "batches": _data.batches(xt, yt, 128),
            "loss_fn": nn.NLLLoss(), "optimizer": lambda p: torch.optim.Adam(p, lr=0.01)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(0)


def fixed(framework: str) -> dict[str, Any]:
    return _build(-1)
