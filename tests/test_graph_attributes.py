"""Modules that keep a value their forward computed: ConcreteDropout's layers store their regulariser
term on ``self`` (danielkelshaw/ConcreteDropout), ``torch.nn.utils.weight_norm`` rebuilds ``weight``
before each forward, models keep attention maps for plotting. Such a tensor is no graph leaf, and
``copy.deepcopy`` refuses it, so every training check stopped at a usage error once the user had run a
forward pass. The copy now takes the value without its graph; the user's module keeps its own."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed


class Keeping(nn.Module):
    """Stores a weight penalty and the hidden activations on itself in every forward."""

    def __init__(self, dead: bool = False) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(8, 16), nn.Linear(16, 3)
        if dead:  # every hidden unit off for every input: nothing reaches the head
            nn.init.constant_(self.fc1.bias, -100.0)
        self.penalty: torch.Tensor | None = None
        self.kept: dict[str, list[torch.Tensor]] = {"hidden": []}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.penalty = (self.fc1.weight ** 2).sum()
        h = torch.relu(self.fc1(x))
        self.kept = {"hidden": [h]}
        return self.fc2(h)


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(32, 8, generator=gen)
    return x, (x[:, 0] > 0).long() + (x[:, 1] > 0).long()


def _adam(params):
    return torch.optim.Adam(params, lr=1e-2)


def test_a_model_that_stored_a_forward_value_is_checked_and_left_as_it_was(mlcheck):
    torch.manual_seed(0)
    model = Keeping()
    x, y = _batch()
    model(x)  # the user ran it once: its attributes now hold tensors with a graph
    penalty, hidden = model.penalty, model.kept["hidden"][0]
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    assert penalty is not None and not penalty.is_leaf
    assert mlcheck.overfit_one_batch(model, (x, y), loss_fn=nn.CrossEntropyLoss(), optimizer=_adam).passed
    assert mlcheck.gradients_flow(model, (x, y), loss_fn=nn.CrossEntropyLoss(), optimizer=_adam).passed
    assert model.penalty is penalty and model.kept["hidden"][0] is hidden and penalty.grad_fn is not None
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())


def test_a_model_that_stored_a_forward_value_still_fails_on_its_own_defect(mlcheck):
    torch.manual_seed(0)
    model = Keeping(dead=True)
    x, y = _batch()
    model(x)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(model, (x, y), loss_fn=nn.CrossEntropyLoss(), optimizer=_adam)
    assert "dead_units" in failed.value.causes, str(failed.value)


def test_a_weight_normalised_layer_is_checked(mlcheck):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # weight_norm is deprecated in favour of parametrizations
        model = nn.Sequential(torch.nn.utils.weight_norm(nn.Linear(8, 16)), nn.ReLU(), nn.Linear(16, 3))
    x, y = _batch()
    model(x)
    assert not model[0].weight.is_leaf
    assert mlcheck.gradients_flow(model, (x, y), loss_fn=nn.CrossEntropyLoss(), optimizer=_adam).passed
    assert mlcheck.overfit_one_batch(model, (x, y), loss_fn=nn.CrossEntropyLoss(), optimizer=_adam).passed
