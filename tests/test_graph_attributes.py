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


class Tied(nn.Module):
    """A decoder that reads the encoder's weight through a view kept from __init__: the gradient of
    both uses reaches the one parameter, and the view follows its updates."""

    def __init__(self) -> None:
        super().__init__()
        self.enc = nn.Linear(8, 4, bias=False)
        self.dec_weight = self.enc.weight.t()  # (8, 4): a view of the parameter, no graph leaf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(torch.tanh(self.enc(x)), self.dec_weight)


def test_a_view_of_a_parameter_kept_on_the_module_stays_a_view_of_the_copys_parameter():
    from pytest_mlcheck.backends.torch_backend import copy_with_hooks

    torch.manual_seed(0)
    model = Tied()
    copied, _, _ = copy_with_hooks(model, nn.MSELoss())
    assert copied.dec_weight is not model.dec_weight and copied.enc.weight is not model.enc.weight
    with torch.no_grad():
        copied.enc.weight.add_(1.0)  # an update of the copy's parameter shows through its view
    assert torch.equal(copied.dec_weight, copied.enc.weight.t())
    assert not torch.equal(model.dec_weight, copied.dec_weight)  # the user's view is the user's
    x = torch.randn(5, 8)
    copied(x).pow(2).sum().backward()
    only_enc = torch.autograd.grad(torch.tanh(copied.enc(x)).sum(), copied.enc.weight)[0]
    assert copied.enc.weight.grad is not None and not torch.allclose(copied.enc.weight.grad, only_enc)


def test_a_tied_autoencoder_fits_one_batch(mlcheck):
    torch.manual_seed(0)
    x = torch.randn(16, 8)
    assert mlcheck.overfit_one_batch(Tied(), (x, x), loss_fn=nn.MSELoss(), optimizer=_adam, min_drop=0.5).passed


class TiedRows(nn.Module):
    """Views kept in a list, of a parameter that is itself a slice of a larger tensor (its storage
    starts past 0): each view must read the same elements of the copy's parameter."""

    def __init__(self) -> None:
        super().__init__()
        big = torch.arange(32.0).reshape(8, 4)
        self.w = nn.Parameter(big[2:6])  # storage offset 8
        self.rows = [self.w[1], self.w[3]]  # views at offsets 4 and 12 of the parameter

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x @ r for r in self.rows], dim=1)


def test_views_in_a_list_read_the_same_elements_of_the_copys_parameter_after_a_move():
    from pytest_mlcheck.backends.torch_backend import _rebind_views, copy_with_hooks

    model = TiedRows()
    copied, _, _ = copy_with_hooks(model, None)
    assert all(torch.equal(c, o) for c, o in zip(copied.rows, model.rows))
    copied.double()  # new storage for the parameter: the views are made again on it
    _rebind_views(copied)
    with torch.no_grad():
        copied.w.mul_(2)
    assert copied.rows[0].dtype == torch.float64 and torch.equal(copied.rows[1], copied.w[3])
    assert torch.equal(model.rows[1], model.w[3]) and not torch.equal(model.rows[1], copied.rows[1].float())
