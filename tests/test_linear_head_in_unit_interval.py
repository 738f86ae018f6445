"""A linear head whose class logits all lie in (0, 1) at initialisation (small weights on ReLU
features of raw inputs, a bias that starts positive) is no sigmoid: the training checks' probe of
the outputs at init named `output_activation` for the cloudml census MLP, whose run diverged at SGD
0.1 (`lr_too_high`). The probe now negates the last weighted layer's pre-activation on a fresh copy:
a linear head's outputs go below 0, a sigmoid's stay in (0, 1); with the inputs scaled up a
linear head's grow past 1, a tanh's do not. The sigmoid twin is
still named."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.datasets import make_blobs
from torch import nn

from pytest_mlcheck import CheckFailed, MLCheck


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = make_blobs(n_samples=64, centers=2, n_features=8, random_state=0)
    return torch.from_numpy(np.abs(x).astype(np.float32) * 10), torch.from_numpy(y.astype(np.int64))


def _model(head: str) -> nn.Module:
    torch.manual_seed(0)
    body = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    with torch.no_grad():  # logits about 0.5 at init: a linear head inside (0, 1) by its init alone
        body[2].weight.mul_(0.001)
        body[2].bias.fill_(0.5)
    return body if head == "linear" else nn.Sequential(body, nn.Sigmoid() if head == "sigmoid" else nn.Tanh())


def _fails(mlcheck: MLCheck, head: str, lr: float) -> CheckFailed:
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_model(head), _batch(), loss_fn=nn.CrossEntropyLoss(),
                                  optimizer=lambda p: torch.optim.SGD(p, lr=lr))
    return failed.value


def test_a_linear_head_inside_the_unit_interval_that_diverges_is_named_lr_too_high(mlcheck: MLCheck):
    failed = _fails(mlcheck, "linear", 1.0)
    assert failed.causes[:1] == ["lr_too_high"], str(failed)
    assert "output_activation" not in failed.causes


@pytest.mark.parametrize("head", ["sigmoid", "tanh"])
def test_a_bounded_head_on_the_same_logits_is_still_named(mlcheck: MLCheck, head: str):
    """Logits squashed into (0, 1) or (-1, 1) cannot make a cross-entropy confident: the run fails. A
    sigmoid's negated pre-activation stays inside (0, 1); a tanh's goes negative but, with the inputs
    scaled ×10 … ×1000, never past 1, where a linear head's grows."""
    failed = _fails(mlcheck, head, 1e-3)
    assert failed.causes[:1] == ["output_activation"], str(failed)


def test_the_linear_head_at_a_usable_rate_fits(mlcheck: MLCheck):
    assert mlcheck.overfit_one_batch(_model("linear"), _batch(), loss_fn=nn.CrossEntropyLoss(),
                                     optimizer=lambda p: torch.optim.SGD(p, lr=1e-3)).passed



@pytest.mark.parametrize("trained,named", [((-3.0, 4.0), None), ((0.01, 0.99), "a sigmoid"), ((0.0, 7.0), "≥ 0")],
                         ids=["BROKEN claim: trained below 0", "stays in (0, 1)", "past 1, none below 0"])
def test_an_activation_read_at_init_must_hold_on_the_trained_outputs(trained, named):
    """Scores inside (0, 1) at init read as a sigmoid on the last layer; the run's trained outputs
    decide: below 0 no sigmoid or ReLU gives them (a bilinear head ``x1 @ x2.T``, whose sign negating
    the last layer cannot flip: graph_neural_net's Keras fix had failed so), past 1 with none below 0
    is a ReLU's range, inside (0, 1) the read stands."""
    from pytest_mlcheck import diagnosis
    from pytest_mlcheck.checks.training import _trained_range

    initial = np.random.default_rng(0).uniform(5e-4, 1e-3, (16, 8))
    found = diagnosis.output_activation(initial, "classification")
    assert found and "a sigmoid" in found[0][1]
    last = np.random.default_rng(1).uniform(*trained, (16, 8))
    again = _trained_range(found, last, None, "classification")
    if named is None:
        assert again == []
    else:
        assert again[0][0] == "output_activation" and named in again[0][1]
