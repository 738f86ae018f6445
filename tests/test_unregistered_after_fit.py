"""Layers kept in a plain Python list are not parameters of the module: no optimizer over
model.parameters() updates them. Where the rest of the model fits around them (embeddings and a
head that are registered, a tower in the list between them, as PaddlePaddle's DSSM recommender had
it), the loss falls and the batch is fitted, yet the tower stays as initialised: the training checks
fail after their criterion held, naming params_not_updated and where the model holds the tensors
(an attribute with a leading underscore too). Twins: the tower in nn.ModuleList, and a network held
in a list on purpose with requires_grad_(False) (a fixed feature extractor kept out of the state
dict), both pass; and so does a model that makes a fresh leaf requiring grad in each forward pass (an
LSTM's initial state written with requires_grad_(), as tutorials do): nothing is held between calls.
A layer built inside forward is named too: its Parameters are new in each call and never trained."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed, MLCheck


class TwoTower(nn.Module):
    def __init__(self, how: str) -> None:
        super().__init__()
        self.emb = nn.Embedding(50, 16)
        tower = [nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 16)]
        if how == "module_list":
            self._tower = nn.ModuleList(tower)
        else:
            self._tower = tower
            if how != "list":
                for layer in tower:
                    layer.requires_grad_(False)
        self.head = nn.Linear(16, 1)
        self.how = how

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        h = self.emb(ids).mean(1)
        if self.how == "fresh_leaf":  # made anew each call: no layer of the tower is held in a list
            return self.head(h + torch.zeros(len(ids), 16).requires_grad_())
        if self.how == "built_in_forward":  # a layer made in forward: its Parameters are new each call
            return self.head(nn.Linear(16, 16)(h))
        for layer in self._tower:
            h = layer(h)
        return self.head(h)


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    ids = torch.tensor(rng.integers(0, 50, size=(32, 4)))
    return ids, torch.tensor(rng.normal(size=(32, 1)).astype("float32"))


def _model(how: str) -> nn.Module:
    torch.manual_seed(0)
    return TwoTower(how)


def _adam(params):
    return torch.optim.Adam(params, lr=1e-2)


@pytest.mark.parametrize("check", ["overfit_one_batch", "loss_decreases"])
@pytest.mark.parametrize("how,named", [("list", "_tower[0].weight (32, 16)"), ("built_in_forward", "(16, 16)")])
def test_a_tower_in_a_plain_list_fails_after_the_fit_naming_params_not_updated(mlcheck: MLCheck, check, how, named):
    batch = _batch()
    with pytest.raises(CheckFailed) as failed:
        getattr(mlcheck, check)(_model(how), batch if check == "overfit_one_batch" else [batch],
                                loss_fn=nn.MSELoss(), optimizer=_adam)
    message = str(failed.value)
    assert failed.value.causes[:1] == ["params_not_updated"], message
    if how == "list":  # the rest fits around the tower; a layer drawn afresh each call keeps the loss up
        assert "the loss fell, but tensors that reach it are never trained" in message
    assert named in message


@pytest.mark.parametrize("how", ["module_list", "frozen_on_purpose", "fresh_leaf"])
def test_a_registered_tower_or_one_frozen_on_purpose_passes(mlcheck: MLCheck, how):
    result = mlcheck.overfit_one_batch(_model(how), _batch(), loss_fn=nn.MSELoss(), optimizer=_adam)
    assert result.passed


@pytest.mark.parametrize("how,named", [("list", "_tower[0].weight (32, 16)"), ("built_in_forward", "(16, 16)")])
def test_gradients_flow_names_tensors_the_loss_reaches_outside_the_parameters(mlcheck: MLCheck, how, named):
    """Every registered parameter gets a gradient and changes, yet the tower's tensors, which also get
    one every step, are never trained: gradients_flow fails as the training checks do (Kanezaki's
    unsupervised segmentation kept its middle convolution in a list)."""
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(_model(how), _batch(), loss_fn=nn.MSELoss(), optimizer=_adam)
    message = str(failed.value)
    assert failed.value.causes[:1] == ["params_not_updated"], message
    assert "are not parameters of the model: no step trains them" in message.splitlines()[0]
    assert named in message


@pytest.mark.parametrize("how", ["module_list", "frozen_on_purpose", "fresh_leaf"])
def test_gradients_flow_passes_a_registered_tower_or_one_frozen_on_purpose(mlcheck: MLCheck, how):
    assert mlcheck.gradients_flow(_model(how), _batch(), loss_fn=nn.MSELoss(), optimizer=_adam).passed


class _Critic(nn.Module):
    """A value regression whose loss bootstraps from a target network held outside the model, read
    without a detach (as pytorch-ddpg-naf's NAF port reads its target network): the target's tensors
    get a gradient and are no parameters of the model."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _td(soft: bool):
    critic = _Critic()
    target = _Critic()
    target.load_state_dict(critic.state_dict())

    def loss_fn(values: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        bootstrap = target.net(y[:, 1:])  # no detach, as written in the program
        return nn.functional.mse_loss(values, y[:, :1] + 0.9 * bootstrap)

    def train_step(model, optimizer, loss_fn, x, y):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        if soft:  # a Polyak update of the target toward the model given (the check's copy)
            with torch.no_grad():
                for t, p in zip(target.parameters(), model.parameters()):
                    t.mul_(0.99).add_(0.01 * p)
        return loss

    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(32, 4)).astype("float32"))
    y = torch.tensor(np.concatenate([rng.normal(size=(32, 1)), rng.normal(size=(32, 4))], 1).astype("float32"))
    return critic, (x, y), loss_fn, train_step


@pytest.mark.parametrize("check", ["overfit_one_batch", "gradients_flow"])
def test_a_target_network_the_step_soft_updates_is_trained_by_it(mlcheck: MLCheck, check):
    # a tensor outside the parameters that the run changes is trained (by the user's step): not
    # params_not_updated; the twin whose step never updates the target is held apart and named
    critic, batch, loss_fn, step = _td(soft=True)
    result = getattr(mlcheck, check)(critic, batch, loss_fn=loss_fn, optimizer=_adam, train_step=step)
    assert result.passed
    critic, batch, loss_fn, step = _td(soft=False)
    with pytest.raises(CheckFailed) as failed:
        getattr(mlcheck, check)(critic, batch, loss_fn=loss_fn, optimizer=_adam, train_step=step)
    assert failed.value.causes[:1] == ["params_not_updated"], str(failed.value)
