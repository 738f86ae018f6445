"""Real digits data and small torch models: correct twins and injected bugs, shared by tests,
examples and the sweep that chose the defaults."""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from typing import Any, Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


@lru_cache(maxsize=None)
def digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (ships offline): images 0..16 as float32 (N, 1, 8, 8), labels int64."""
    from sklearn.datasets import load_digits

    data = load_digits()
    return data.images.astype(np.float32)[:, None], data.target.astype(np.int64)


def digits_batch(n: int = 32, *, offset: int = 0, scale: str = "unit") -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` digits from ``offset``: scale 'unit' (÷16), 'raw' (0..16) or 'uint8' (0..255 as float)."""
    images, labels = digits()
    x = images[offset:offset + n]
    if scale == "unit":
        x = x / 16.0
    elif scale == "uint8":
        x = np.round(x * 255.0 / 16.0)
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(labels[offset:offset + n])


def digits_batches(k: int = 10, n: int = 32, **kw: Any) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [digits_batch(n, offset=i * n, **kw) for i in range(k)]


class DigitsCNN(nn.Module):
    """A small CNN for 1x8x8 digits. ``softmax`` puts a softmax on the logits (a bug before CE)."""

    def __init__(self, num_classes: int = 10, *, softmax: bool = False, relu_head: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
        self.head = nn.Linear(32 * 4 * 4, num_classes)
        self.softmax = softmax
        self.relu_head = relu_head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = self.head(x.flatten(1))
        if self.relu_head:
            x = F.relu(x)
        return F.softmax(x, dim=1) if self.softmax else x


def digits_mlp(num_classes: int = 10, *, final: nn.Module | None = None) -> nn.Module:
    layers: list[nn.Module] = [nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, num_classes)]
    if final is not None:
        layers.append(final)
    return nn.Sequential(*layers)


def mse_on_class_ids(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """MSE between every logit and the class id (a 'regression on labels' spelling)."""
    return F.mse_loss(out, y.float().unsqueeze(1).expand_as(out))


def step_without_zero_grad(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable,
                           x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


def good_step(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable,
              x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    optimizer.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


@dataclasses.dataclass
class Case:
    """One corpus entry: how to build the check's arguments, and the verdict it must get."""

    name: str
    broken: bool
    build: Callable[[], dict[str, Any]]
    cause: str | None = None  # the cause id expected first, for broken cases


def _adam(lr: float) -> Callable:
    return lambda params: torch.optim.Adam(params, lr=lr)


def _sgd(lr: float, momentum: float = 0.0) -> Callable:
    return lambda params: torch.optim.SGD(params, lr=lr, momentum=momentum)


def _cnn_head_left_out() -> dict[str, Any]:
    model = DigitsCNN()
    body = list(model.conv1.parameters()) + list(model.conv2.parameters())
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), optimizer=torch.optim.Adam(body, lr=1e-3))


def _cnn_frozen_backbone() -> dict[str, Any]:
    model = DigitsCNN()
    for p in list(model.conv1.parameters()) + list(model.conv2.parameters()):
        p.requires_grad_(False)
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(),
                optimizer=torch.optim.Adam(model.head.parameters(), lr=1e-2))


def training_cases() -> list[Case]:
    """Cases for overfit_one_batch and loss_decreases; each bug beside its correct twin."""
    ce = nn.CrossEntropyLoss
    return [
        Case("cnn, Adam 1e-3", False, lambda: dict(model=DigitsCNN(), loss_fn=ce(), optimizer=_adam(1e-3))),
        Case("mlp, SGD 0.1 momentum", False, lambda: dict(model=digits_mlp(), loss_fn=ce(), optimizer=_sgd(0.1, 0.9))),
        Case("cnn, lr 10 (Adam)", True, lambda: dict(model=DigitsCNN(), loss_fn=ce(), optimizer=_adam(10.0)),
             "lr_too_high"),
        Case("mlp, lr 10 (SGD)", True, lambda: dict(model=digits_mlp(), loss_fn=ce(), optimizer=_sgd(10.0)),
             "lr_too_high"),
        Case("cnn, lr 1e-7 (Adam)", True, lambda: dict(model=DigitsCNN(), loss_fn=ce(), optimizer=_adam(1e-7)),
             "lr_too_low"),
        Case("cnn, own step without zero_grad (SGD)", True,
             lambda: dict(model=DigitsCNN(), loss_fn=ce(), optimizer=_sgd(0.05, 0.9),
                          train_step=step_without_zero_grad), "missing_zero_grad"),
        Case("cnn, own step with zero_grad (SGD)", False,
             lambda: dict(model=DigitsCNN(), loss_fn=ce(), optimizer=_sgd(0.05, 0.9), train_step=good_step)),
        Case("cnn, head left out of the optimizer", True, _cnn_head_left_out, "params_not_updated"),
        Case("cnn, backbone frozen on purpose, head trained", False, _cnn_frozen_backbone),
        Case("cnn, MSE between logits and class ids", True,
             lambda: dict(model=DigitsCNN(), loss_fn=mse_on_class_ids, optimizer=_adam(1e-3))),
        Case("cnn, softmax in forward before CrossEntropyLoss", True,
             lambda: dict(model=DigitsCNN(softmax=True), loss_fn=ce(), optimizer=_adam(1e-3)), "loss_mismatch"),
        Case("mlp, nn.Softmax layer before F.cross_entropy", True,
             lambda: dict(model=digits_mlp(final=nn.Softmax(dim=1)), loss_fn=F.cross_entropy,
                          optimizer=_adam(1e-3)), "loss_mismatch"),
        Case("mlp, F.cross_entropy as a plain function", False,
             lambda: dict(model=digits_mlp(), loss_fn=F.cross_entropy, optimizer=_adam(1e-3))),
    ]
