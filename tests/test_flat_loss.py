"""A loss flat at the model's outputs: PaAno's triplet loss filled the diagonal of its similarity
matrix with -inf before turning it into distances, so every "hardest negative" is the anchor itself at
+inf and every term is relu(-inf) = 0 (jinnnju/PaAno issue #1). Every gradient is 0 and the loss
never moves; no layer is dead: the loss gives nothing to learn from (``no_gradient``, as for a loss
read through a step). Twins: the
diagonal filled with +inf (the fix), and a ReLU layer killed by its bias (dead units, as before)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from pytest_mlcheck import CheckFailed
from torch_corpus import DeadReLUNet, digits_batch


def _pairs(n: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchors and their positives side by side (rows 2k, 2k+1 are a noisy pair)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, (n // 2, 16))
    x = np.repeat(base, 2, axis=0) + rng.normal(0, 0.1, (n, 16))
    return torch.tensor(x, dtype=torch.float32), torch.arange(n) // 2


def _encoder() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 8))


def triplet(fill: float):
    def loss_fn(emb: torch.Tensor, pair: torch.Tensor) -> torch.Tensor:
        z = F.normalize(emb, dim=1)
        sim = z @ z.T
        positive = 1 - (z * z[torch.arange(len(z)) ^ 1]).sum(1)
        sim = sim.clone()
        sim.fill_diagonal_(fill)  # the anchor kept out of its own negatives
        sim[torch.arange(len(z)), torch.arange(len(z)) ^ 1] = fill  # and its positive
        hardest = (1 - sim).max(dim=1).values if fill < 0 else (1 - sim).min(dim=1).values
        return F.relu(positive - hardest + 0.5).mean()
    return loss_fn


MASKED_SELF = triplet(float("-inf"))  # the bug: 1 - (-inf) = +inf, the max always picks it
FIXED = triplet(float("inf"))  # the fix: the closest real negative


def test_a_loss_that_is_zero_wherever_the_model_is_is_no_dead_unit(mlcheck):
    x, pair = _pairs()
    with pytest.raises(CheckFailed) as info:
        mlcheck.gradients_flow(_encoder(), (x, pair), loss_fn=MASKED_SELF)
    assert info.value.causes == ["no_gradient"], str(info.value)
    assert "the loss gives no gradient at the model's outputs" in str(info.value).splitlines()[0]
    assert "flat at the model's outputs" in str(info.value)
    # value targets (the pair ids as floats: the loss reads them only to pair rows): no targets' probe
    # asks whether the loss scores every output alike, so the run's flat loss is read at the outputs
    batches = [(x, pair.float()) for x, pair in (_pairs(seed=s) for s in range(4))]
    with pytest.raises(CheckFailed) as info:
        mlcheck.loss_decreases(_encoder(), batches, loss_fn=MASKED_SELF, task="regression")
    assert info.value.causes[0] == "no_gradient", str(info.value)
    assert "over all 100 steps of the run" in str(info.value)


def test_the_fixed_loss_gives_every_layer_a_gradient(mlcheck):
    assert mlcheck.gradients_flow(_encoder(), _pairs(), loss_fn=FIXED).passed


def test_dead_relus_stay_dead_units(mlcheck):
    """All-zero gradients behind units that never fire: the loss is not flat at the outputs."""
    with pytest.raises(CheckFailed) as info:
        mlcheck.gradients_flow(DeadReLUNet(), digits_batch(), loss_fn=nn.CrossEntropyLoss())
    assert info.value.causes[0] == "dead_units", str(info.value)
