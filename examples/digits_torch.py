"""A small PyTorch CNN for scikit-learn's 8x8 digits (offline), as a user's project would have it."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset


class DigitsCNN(nn.Module):
    def __init__(self, num_classes: int = 10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.dropout = nn.Dropout(0.1)
        self.head = nn.Linear(32 * 4 * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x).flatten(1)))


def preprocess(images: np.ndarray) -> torch.Tensor:
    """Digits pixels are 0..16: scale to [0, 1] and add the channel axis."""
    return torch.from_numpy(images.astype(np.float32) / 16.0).unsqueeze(1)


CLASS_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ENCODE = {name: i for i, name in enumerate(CLASS_NAMES)}  # used when building training targets


def decode(code: int) -> str:
    """What the serving code returns for a predicted class id."""
    return CLASS_NAMES[code]


def train_transform(image: np.ndarray) -> torch.Tensor:
    """One raw 8x8 image (0..16) as the training loader prepares it."""
    return preprocess(image[None])[0]


def eval_transform(image: np.ndarray) -> torch.Tensor:
    """The serving path, written separately (as it usually is)."""
    return torch.as_tensor(image, dtype=torch.float32).div(16.0).reshape(1, 8, 8)


def raw_images(n: int = 16) -> list[np.ndarray]:
    return list(load_digits().images[:n])


def held_out_images(n: int = 200) -> torch.Tensor:
    return preprocess(load_digits().images[-n:])


def train_loader(batch_size: int = 32, *, limit: int = 640) -> DataLoader:
    data = load_digits()
    x = preprocess(data.images[:limit])
    y = torch.from_numpy(data.target[:limit].astype(np.int64))
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True)


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn, x: torch.Tensor, y: torch.Tensor):
    """The project's own training step (what `train_step=` lets the checks exercise)."""
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def make_optimizer(params) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=1e-3)


loss_fn = F.cross_entropy
