"""Siamese network for facial similarity (harveyslash, "Facial-Similarity-with-Siamese-Networks-in-Pytorch",
``Siamese-networks-medium.ipynb``) trained with a contrastive loss whose per-pair distance and per-pair
label have different shapes: ``F.pairwise_distance(output1, output2)`` returns shape ``(B,)`` while the
dataset yields labels of shape ``(B, 1)`` (``torch.from_numpy(np.array([int(...)], dtype=np.float32))``),
so ``(1-label) * d**2 + label * clamp(margin - d, 0)**2`` broadcasts to a ``(B, B)`` matrix and its mean
pairs every label with every pair's distance. Each pair's gradient then no longer depends on its own
label (only on the batch's share of "different" labels): the network cannot learn to pull same-person
pairs together and push different-person pairs apart; "the loss curve is unstable and the test
performance is bad" (issue #27).

Source: github.com/harveyslash/Facial-Similarity-with-Siamese-Networks-in-Pytorch issue #27 ("A fatal
bug!": ``euclidean_distance`` "should be ``F.pairwise_distance(output1, output2, keepdim = True)``", the
maintainer: "A PR to rectify this error is most welcome!"), fixed by PR #29, commit
a2436f4880d53c10911975e333fcedf56b0044a3 ("rectify:F.pairwise_distance(output1, output2, keepdim =
True)"). Program: ``Siamese-networks-medium.ipynb`` at a2436f4^ (``Config.train_batch_size = 64``,
``SiameseNetworkDataset`` (pairs, about half of them the same person, label 1 = different people),
``transforms.Resize((100,100))`` + ``ToTensor()`` (grayscale in [0, 1], no normalisation),
``SiameseNetwork`` (3 x [ReflectionPad2d(1), Conv2d 3x3, ReLU, BatchNorm2d] with 4, 8, 8 channels, then
Linear(8*100*100, 500), ReLU, Linear(500, 500), ReLU, Linear(500, 5)), ``ContrastiveLoss(margin=2.0)``,
``optim.Adam(net.parameters(), lr=0.0005)``). The model, loss and optimiser lines are the notebook's.
Ported minimally: ``SiameseNetwork.forward(input1, input2)`` takes the pair stacked on axis 1, ``x`` of
shape ``(B, 2, 1, H, W)``, and returns ``torch.stack([output1, output2], 1)`` of shape ``(B, 2, 5)``;
``loss_fn(outputs, label)`` calls the notebook's ``ContrastiveLoss`` on the two halves. Reduced for CPU
cost: images of 50x50 instead of 100x100 (the first Linear is 8*50*50 -> 500 instead of 8*100*100 -> 500,
40M weights).
Data stand-in (no download of the AT&T faces): scikit-learn's bundled 8x8 digits as ten "people",
each blown up to 48x48 and padded to 50x50, grayscale in [0, 1]; pairs drawn as the notebook's dataset
draws them (about half the same class), seeded; label ``(B, 1)`` float32, 1 = different.
Fault label: target_shape. Fix (a2436f4): ``F.pairwise_distance(output1, output2, keepdim=True)``.
Symptom (60 Adam steps over 4 batches): the buggy loss stalls near 1.0 (the best a distance shared by
all labels can do), the fixed loss falls to 0.003; held-out pairs split by distance 65 % vs 85 % right.
Torch only: the bug is PyTorch's ``pairwise_distance`` dropping the last axis against a ``(B, 1)`` label;
a Keras custom loss passed to ``compile`` has ``y_true`` and ``y_pred`` brought to the same rank first.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "target_shape"
SOURCE = ("github:harveyslash/Facial-Similarity-with-Siamese-Networks-in-Pytorch issue #27, PR #29 "
          "(Siamese-networks-medium.ipynb@a2436f4^, fix a2436f4)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]

train_batch_size = 64  # Config.train_batch_size
lr = 0.0005
margin = 2.0
size = 50  # reduced from Resize((100, 100))


def _pairs(n_batches: int = 4, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Pairs as ``SiameseNetworkDataset.__getitem__`` draws them, over a digits stand-in for the faces."""
    from sklearn.datasets import load_digits

    d = load_digits()
    imgs = np.kron(d.images / 16.0, np.ones((6, 6)))  # (n, 48, 48) in [0, 1]
    pad = (size - 48) // 2
    imgs = np.pad(imgs, ((0, 0), (pad, size - 48 - pad), (pad, size - 48 - pad))).astype("float32")
    y = d.target
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_batches):
        x = np.empty((train_batch_size, 2, 1, size, size), "float32")
        lab = np.empty((train_batch_size, 1), "float32")
        for k in range(train_batch_size):
            i0 = rng.integers(len(y))
            same = rng.integers(0, 2)
            while True:
                i1 = rng.integers(len(y))
                if (y[i1] == y[i0]) == bool(same):
                    break
            x[k, 0, 0], x[k, 1, 0] = imgs[i0], imgs[i1]
            lab[k, 0] = float(y[i1] != y[i0])
        out.append((x, lab))
    return out


def _build(keepdim: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(0)

    class SiameseNetwork(nn.Module):  # notebook lines (input size reduced)
        def __init__(self):
            super(SiameseNetwork, self).__init__()
            self.cnn1 = nn.Sequential(
                nn.ReflectionPad2d(1),
                nn.Conv2d(1, 4, kernel_size=3),
                nn.ReLU(inplace=True),
                nn.BatchNorm2d(4),

                nn.ReflectionPad2d(1),
                nn.Conv2d(4, 8, kernel_size=3),
                nn.ReLU(inplace=True),
                nn.BatchNorm2d(8),

                nn.ReflectionPad2d(1),
                nn.Conv2d(8, 8, kernel_size=3),
                nn.ReLU(inplace=True),
                nn.BatchNorm2d(8),
            )
            self.fc1 = nn.Sequential(
                nn.Linear(8 * size * size, 500),
                nn.ReLU(inplace=True),

                nn.Linear(500, 500),
                nn.ReLU(inplace=True),

                nn.Linear(500, 5))

        def forward_once(self, x):
            output = self.cnn1(x)
            output = output.view(output.size()[0], -1)
            output = self.fc1(output)
            return output

        def forward(self, x):  # ported: the pair stacked on axis 1
            output1 = self.forward_once(x[:, 0])
            output2 = self.forward_once(x[:, 1])
            return torch.stack([output1, output2], 1)

    class ContrastiveLoss(torch.nn.Module):  # notebook lines
        def __init__(self, margin=2.0):
            super(ContrastiveLoss, self).__init__()
            self.margin = margin

        def forward(self, output1, output2, label):
            if keepdim:  # the fix
                euclidean_distance = F.pairwise_distance(output1, output2, keepdim=True)
            else:
                euclidean_distance = F.pairwise_distance(output1, output2)
            loss_contrastive = torch.mean((1 - label) * torch.pow(euclidean_distance, 2) +
                                          (label) * torch.pow(torch.clamp(self.margin - euclidean_distance, min=0.0), 2))
            return loss_contrastive

    criterion = ContrastiveLoss(margin)

    def loss_fn(outputs, label):
        return criterion(outputs[:, 0], outputs[:, 1], label)

    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in _pairs()]
    return {"model": SiameseNetwork(), "batch": tb[0], "batches": tb, "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(keepdim=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(keepdim=True)
