"""A loss on probabilities whose gradient breaks where its value does not: skorch's classifier took
``NLLLoss()(torch.log(y_pred))`` of a softmax output (issue #481, fixed by adding an eps). The value
reads only the target's log-probability, but the backward of ``log`` at a probability of exactly 0 is
0 · 1/0 = NaN: once the softmax saturates the next step makes every weight NaN. A run that turns
non-finite so names ``loss_not_finite`` (the port's ``loss_decreases`` had named ``lr_too_high``: a
retry at lr/10 only postponed the saturation). Twins: the same loss with an eps trains; a run that stays
finite is not told of it; torch's BCELoss has a clamped backward."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import torch_corpus as tc
from pytest_mlcheck import CheckFailed, MLCheck


class _SoftmaxMLP(nn.Module):
    def __init__(self, sigmoid: bool = False) -> None:
        super().__init__()
        self.net = tc.digits_mlp(num_classes=1 if sigmoid else 10)
        self.sigmoid = sigmoid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.net(x)
        return torch.sigmoid(z) if self.sigmoid else torch.softmax(z, dim=-1)


def _nll_of_log(eps: float):
    def loss_fn(probs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.nll_loss(torch.log(probs + eps), y)
    return loss_fn


def _rmsprop(params):
    return torch.optim.RMSprop(params, lr=0.03)  # the optimizer the issue swapped in, at a rate that saturates


@pytest.mark.parametrize("check", ["loss_decreases", "overfit_one_batch"])
def test_a_run_that_turns_nan_through_a_log_of_probabilities_names_the_loss(mlcheck: MLCheck, check: str):
    torch.manual_seed(0)
    data = tc.digits_batches(10, 64) if check == "loss_decreases" else tc.digits_batch(64)
    with pytest.raises(CheckFailed) as failed:
        getattr(mlcheck, check)(_SoftmaxMLP(), data, loss_fn=_nll_of_log(0.0), optimizer=_rmsprop)
    assert failed.value.causes[0] == "loss_not_finite", str(failed.value)
    said = str(failed.value).split("cause loss_not_finite")[1].split("fix:")[0]
    if check == "loss_decreases":  # its replay reaches NaN weights: the loss's gradient says why
        assert "gradient" in said, said
    else:  # one batch repeated: the replayed outputs already give an infinite loss
        assert "the loss of them is inf" in said, said


def test_twin_the_same_loss_with_an_eps_trains(mlcheck: MLCheck):
    torch.manual_seed(0)
    assert mlcheck.loss_decreases(_SoftmaxMLP(), tc.digits_batches(10, 64), loss_fn=_nll_of_log(1e-7),
                                  optimizer=_rmsprop).passed


@pytest.mark.parametrize("check", ["init_loss", "overfit_one_batch"])
def test_twin_a_run_that_stays_finite_is_not_told_of_it(mlcheck: MLCheck, check: str):
    """The latent defect is named only where a run turned non-finite: before training, and on a run
    whose softmax never saturates, the same loss is the user's choice."""
    torch.manual_seed(0)
    kwargs = {} if check == "init_loss" else {"optimizer": lambda p: torch.optim.SGD(p, lr=0.05)}
    assert getattr(mlcheck, check)(_SoftmaxMLP(), tc.digits_batch(64), loss_fn=_nll_of_log(0.0), **kwargs).passed


def test_twin_bce_on_a_sigmoid_has_a_clamped_backward(mlcheck: MLCheck):
    x, y = tc.digits_batch(64)
    target = (y % 2).float().unsqueeze(1)
    torch.manual_seed(0)
    model = _SoftmaxMLP(sigmoid=True)
    out = target.clone().requires_grad_(True)  # the exact 0/1 outputs the probe asks the loss at
    nn.BCELoss()(out, target).backward()
    assert torch.isfinite(out.grad).all()  # what the probe asks of a loss at exact 0 and 1
    assert mlcheck.init_loss(model, (x, target), loss_fn=nn.BCELoss()).passed


def test_exact_outputs_follow_the_targets_layout():
    from pytest_mlcheck.targets import Targets

    ids = np.array([[0, 2], [1, 1]])
    dense = Targets("classification", "ids", ids, 3, "probabilities", 0.0, [], channel_axis=1)
    exact = dense.exact((2, 3, 2))
    assert exact.shape == (2, 3, 2) and np.array_equal(exact.argmax(1), ids) and set(np.unique(exact)) == {0, 1}
    binary = Targets("binary", "0/1", np.array([1, 0, 1]), 1, "probabilities", 0.0, [])
    assert np.array_equal(binary.exact((3, 1)), [[1], [0], [1]])
    assert Targets("regression", "values", None, 1, "values", 0.0, []).exact((3, 1)) is None
