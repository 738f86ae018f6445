"""A loss taken on rounded predictions (Zero to Mastery's circles lesson before 43d87d1) tells right
outputs from wrong ones but is flat around every one of them: its gradient is 0, so no parameter
learns. Named ``no_gradient`` before training and by ``gradients_flow``, where every tensor's gradient,
the last layer's bias too, is exactly 0 — which no dead unit does. Twins: the loss on the logits, a
hinge loss (piecewise linear, flat only where the margin is met), a dead ReLU head."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed
from pytest_mlcheck.targets import decide

BCE = nn.BCEWithLogitsLoss()


def _batch(n: int = 128) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 2, generator=g)
    return x, (x[:, 0] * x[:, 1] > 0).float()


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 1))


def on_rounded(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return BCE(torch.round(torch.sigmoid(out.squeeze(-1))), y)


def on_logits(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return BCE(out.squeeze(-1), y)


def hinge(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.relu(1 - (2 * y - 1) * out.squeeze(-1)).mean()


def _sgd(params):
    return torch.optim.SGD(params, lr=0.1)


def test_a_loss_on_rounded_predictions_is_named_before_training(mlcheck):
    with pytest.raises(CheckFailed) as info:
        mlcheck.loss_decreases(_model(), [_batch()], loss_fn=on_rounded, optimizer=_sgd)
    assert info.value.causes[0] == "no_gradient", str(info.value)
    assert "through a step" in str(info.value)


def test_gradients_flow_puts_an_all_zero_gradient_down_to_the_step_not_to_dead_units(mlcheck):
    with pytest.raises(CheckFailed) as info:
        mlcheck.gradients_flow(_model(), _batch(), loss_fn=on_rounded, optimizer=_sgd)
    assert info.value.causes == ["no_gradient"], str(info.value)


@pytest.mark.parametrize("loss_fn", [on_logits, hinge], ids=["on logits", "hinge"])
def test_losses_with_a_gradient_are_not_read_as_steps(mlcheck, loss_fn):
    assert mlcheck.gradients_flow(_model(), _batch(), loss_fn=loss_fn, optimizer=_sgd).passed
    y = _batch()[1].numpy()
    out = np.zeros((len(y), 1), dtype=np.float32)
    loss_at = lambda o, t=None: float(loss_fn(torch.from_numpy(np.asarray(o)), torch.from_numpy(y)))  # noqa: E731
    assert not [c for c, _ in decide(y, out, loss_at).problems if c == "no_gradient"]


def test_a_dead_relu_head_stays_dead_units(mlcheck):
    """Every gradient is 0 here too, but the loss moves with the outputs: the units are dead."""
    model = _model()
    model.append(nn.ReLU())
    with torch.no_grad():
        model[2].bias.fill_(-100.0)
    with pytest.raises(CheckFailed) as info:
        mlcheck.gradients_flow(model, _batch(), loss_fn=on_logits, optimizer=_sgd)
    assert "no_gradient" not in info.value.causes and "dead_units" in info.value.causes, str(info.value)
