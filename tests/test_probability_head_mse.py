"""A softmax head trained with mean squared error on one-hot targets (as Keras-era programs compile
``loss='mse'``) is judged in the form its loss reads — probabilities — and a run whose loss did its
part in eval mode too, with a few samples the model cannot tell apart still wrong, says so rather
than blaming eval mode."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed, causes as C, diagnosis


def _clusters(n: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(n) % 3
    centres = torch.tensor([[4.0, 0.0], [-2.0, 3.5], [-2.0, -3.5]])
    return centres[y] + 0.5 * torch.randn(n, 2, generator=g), y


def test_a_softmax_head_under_mse_at_a_low_rate_is_told_the_rate_not_a_loss_mismatch(mlcheck):
    """Confident ±5 logits are no prediction under MSE on probabilities; one-hot rows are: the
    probe that asks whether the loss rewards the class scores those (it named loss_mismatch)."""
    torch.manual_seed(0)
    x, y = _clusters()
    model = nn.Sequential(nn.Linear(2, 3), nn.Softmax(dim=1))
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, (x, nn.functional.one_hot(y, 3).float()), loss_fn=nn.MSELoss(),
                                  optimizer=lambda p: torch.optim.Adam(p, lr=1e-5))
    assert failed.value.causes[0] == "lr_too_low"
    assert "loss_mismatch" not in failed.value.causes


def test_the_class_reward_probe_reads_probabilities_as_probabilities() -> None:
    # MSE of one-hot rows (0) and of uniform rows: a loss that rewards the class
    assert diagnosis.loss_rewards_classes(0.0, 0.2222, "probabilities") == []
    # probabilities scored against class ids broadcast over the row: one-hot no better than uniform
    found = diagnosis.loss_rewards_classes(3.0, 2.778, "probabilities")
    assert found and found[0][0] == C.LOSS_MISMATCH
    assert "one-hot probabilities at 3" in found[0][1] and "uniform rows (2.778)" in found[0][1]
    found = diagnosis.loss_rewards_classes(22.0, 0.3333)
    assert found and "class logits at 22" in found[0][1] and "zeros (0.3333)" in found[0][1]


class _Coarse(nn.Module):
    """Frozen, saturated step features of a 1-D input (one step every 2 units) under a trainable
    softmax head: samples of one cell look the same to the head."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Linear(1, 10)
        with torch.no_grad():
            self.features.weight.fill_(50.0)
            self.features.bias.copy_(-50.0 * torch.arange(-10.0, 10.0, 2.0))
        self.features.requires_grad_(False)
        self.head = nn.Linear(10, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.head(torch.sigmoid(self.features(x))), dim=1)


def _cells(mixed: bool) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    centres = torch.arange(-9.0, 10.0, 2.0).repeat_interleave(18)
    x = (centres + 0.6 * (torch.rand(180, generator=g) - 0.5)).unsqueeze(1)
    y = ((centres + 9) / 2 % 2).long()  # each cell one class: what the features can tell
    if mixed:  # one cell holds two tight clusters of both classes, each its own nearest neighbours
        x[:6, 0] = -9.25 + 0.01 * torch.arange(6.0)
        x[6:12, 0] = -8.75 + 0.01 * torch.arange(6.0)
        y[:6], y[6:12] = 0, 1
    return x, nn.functional.one_hot(y, 2).float()


@pytest.mark.parametrize("mixed", [True, False])
def test_samples_the_features_cannot_tell_apart_are_named_so_not_eval_mode(mlcheck, mixed):
    torch.manual_seed(0)
    adam = lambda p: torch.optim.Adam(p, lr=0.05)  # noqa: E731
    if not mixed:
        assert mlcheck.overfit_one_batch(_Coarse(), _cells(False), loss_fn=nn.MSELoss(), optimizer=adam).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_Coarse(), _cells(True), loss_fn=nn.MSELoss(), optimizer=adam)
    text = str(failed.value)
    assert "yet 6 of 180 samples are still wrong: the mean loss hides them" in text
    assert "computes differently in eval mode" not in text  # the model has no eval-mode path
    assert "loss_mismatch" not in failed.value.causes
