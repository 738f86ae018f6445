"""Real digits data and small torch models: correct twins and injected bugs, shared by tests,
examples and the sweep that chose the defaults."""

from __future__ import annotations

import dataclasses
import itertools
import time
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


def spend_cpu(seconds: float) -> None:
    """Compute for ``seconds`` of this process's CPU time: a stand-in for a large model's forward pass,
    which a busy machine slows on the clock but not in the work it takes (the time cap counts the work)."""
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


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


def accumulating_step(every: int) -> Callable:
    """A gradient-accumulation step: the optimizer steps (and zeroes) on every ``every``-th call,
    gradients of the calls between add up on purpose."""
    calls = itertools.count(1)

    def step(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Callable,
             x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        loss = loss_fn(model(x), y)
        (loss / every).backward()
        if next(calls) % every == 0:
            optimizer.step()
            optimizer.zero_grad()
        return loss
    return step


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


# --- Foundation II: outputs, collapse, preprocessing and label mappings ------------------------

def held_out(n: int = 200) -> torch.Tensor:
    """Distinct digits the training batches never contain (offset 1000)."""
    return digits_batch(n, offset=1000)[0]


def imbalanced_batches(majority_share: float = 0.98) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Batches in which class 0 makes up ``majority_share`` of the labels (collapse bait)."""
    x, y = digits_batch(1500)
    zeros = torch.nonzero(y == 0).flatten()
    others = torch.nonzero(y != 0).flatten()
    n_other = max(1, round(len(zeros) * (1 - majority_share) / majority_share))
    idx = torch.cat([zeros, others[:n_other]])
    idx = idx[torch.randperm(len(idx), generator=torch.Generator().manual_seed(0))]
    return [(x[idx][i:i + 32], y[idx][i:i + 32]) for i in range(0, len(idx), 32)]


class DeadReLUNet(nn.Module):
    """A hidden layer whose bias of -100 kills every ReLU: the input never reaches the head."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(64, 32)
        self.head = nn.Linear(32, 10)
        with torch.no_grad():
            self.hidden.bias.fill_(-100.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.relu(self.hidden(x.flatten(1))))


class InputIgnoringNet(nn.Module):
    """Multiplies the input by zero (a masking bug): the same output for every input."""

    def __init__(self) -> None:
        super().__init__()
        self.net = digits_mlp()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x * 0)


class FrozenBackboneNet(nn.Module):
    """A look-alike that is correct: a frozen feature extractor under a trainable head."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.ReLU(), nn.Flatten())
        self.backbone.requires_grad_(False)
        self.head = nn.Linear(16 * 64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


class EmbeddingBagNet(nn.Module):
    """A correct look-alike: integer token inputs through an embedding (integers are right here)."""

    def __init__(self, vocab: int = 17) -> None:
        super().__init__()
        self.embed = nn.EmbeddingBag(vocab, 16)
        self.head = nn.Linear(16, 10)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(tokens))


def digit_tokens(n: int = 200, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Digits as integer tokens: pixel intensities 0..16, 64 per image."""
    images, labels = digits()
    return (torch.from_numpy(images[offset:offset + n].reshape(n, 64).astype(np.int64)),
            torch.from_numpy(labels[offset:offset + n]))


class FloatIdsNet(nn.Module):
    """Token ids handed over as floats (a program's ``input.float()``) and cast back in forward;
    ``mix``: each output minus the batch's mean output (the samples mix)."""

    def __init__(self, mix: bool = False) -> None:
        super().__init__()
        self.embed = nn.EmbeddingBag(40, 16)
        self.head = nn.Linear(16, 10)
        self.mix = mix

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.embed(x.long()))
        return out - out.mean(0, keepdim=True) if self.mix else out


def float_ids(n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Digits as ids 20..36 held in a float tensor (mean about 25: raw scale if read as values)."""
    tokens, labels = digit_tokens(n)
    return (tokens + 20).float(), labels


def multilabel_batch(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Digits with two labels each: 'is even' and 'is greater than 4' (multi-label 0/1 floats)."""
    x, y = digits_batch(n)
    return x, torch.stack([(y % 2 == 0), (y > 4)], dim=1).float()


def raw_images(n: int = 6) -> list[np.ndarray]:
    """Raw 8x8 RGB uint8 images made from digits (a colour tint per channel)."""
    images, _ = digits()
    out = []
    for i in range(n):
        gray = images[i, 0] * 255.0 / 16.0
        out.append(np.stack([gray, gray * 0.7, 255 - gray], axis=-1).round().astype(np.uint8))
    return out


def to_chw(image: np.ndarray) -> torch.Tensor:
    """The training pipeline: uint8 HWC → float [0, 1] CHW."""
    return torch.from_numpy(image.astype(np.float32) / 255.0).permute(2, 0, 1)
