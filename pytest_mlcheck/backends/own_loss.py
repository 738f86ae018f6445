"""How a model that computes its own loss from ``labels=`` (Hugging Face) pairs outputs with labels.

The checks score outputs against targets (accuracy, the loss of candidate predictions, held-out
re-pairings), so they must know the formula the model's own loss applies. It is found from values:
one forward pass returns the model's loss and its outputs, and each candidate formula is computed on
those outputs; the one that reproduces the model's loss is the model's. A causal LM shifts its labels
inside (position t's logits predict token t + 1): the session then shows the outputs of positions
0..T-2 and the labels of positions 1..T-1, so accuracy and re-pairing compare what the loss compares."""

from __future__ import annotations

from typing import Callable

import torch
from torch.nn import functional as F

IGNORE = -100  # the label Hugging Face's losses skip (padding)
MATCH = 1e-4  # relative agreement that identifies the formula (the same ops on the same outputs)


def _ce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(out.reshape(-1, out.shape[-1]).float(), y.reshape(-1).long(), ignore_index=IGNORE)


def _formulas(out: torch.Tensor, y: torch.Tensor) -> dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]:
    """The formulas that could apply to outputs and labels of these shapes, by alignment name."""
    found: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {}
    if not y.is_floating_point() and out.dim() == y.dim() + 1 and out.shape[:-1] == y.shape:
        found["same position"] = _ce
        if out.dim() == 3 and out.shape[1] >= 2:
            found["next position"] = _ce  # applied to shifted views
    if out.shape == y.shape or (out.dim() == 2 and out.shape[1] == 1 and y.dim() == 1):
        found["values"] = lambda o, t: F.mse_loss(o.reshape(t.shape).float(), t.float())
        if out.shape == y.shape:
            found["multi-label"] = lambda o, t: F.binary_cross_entropy_with_logits(o.float(), t.float())
    return found


def shift(out: torch.Tensor, y: torch.Tensor | None, alignment: str | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Outputs and labels as the loss pairs them: for 'next position', outputs of positions 0..T-2
    with labels of positions 1..T-1; otherwise unchanged."""
    if alignment != "next position":
        return out, y
    return out[:, :-1], None if y is None else y[:, 1:]


def alignment(loss: torch.Tensor, out: torch.Tensor, y: torch.Tensor) -> str | None:
    """The formula whose value on ``out`` and ``y`` reproduces the model's own ``loss`` (None: none does)."""
    target = float(loss)
    for name, formula in _formulas(out, y).items():
        o, t = shift(out, y, name)
        try:
            value = float(formula(o, t))
        except (RuntimeError, ValueError, IndexError):
            continue
        if abs(value - target) <= MATCH * max(1.0, abs(target)):
            return name
    return None


def loss(name: str, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The model's own loss on outputs and labels already aligned by :func:`shift`."""
    return _formulas(out, y)["same position" if name == "next position" else name](out, y)
