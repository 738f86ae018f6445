"""overfit_one_batch on a model whose training-mode forward pass is random (dropout): the noise
keeps the training loss above what the model fits, so the check reads the eval-mode loss (every
1/40 of the budget) for its criterion and for the decision to train on. A model that fits in eval
mode passes where it does; one that does not still fails and names its cause."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed, MLCheck
from pytest_mlcheck.checks.training import EvalWatch


def _data(n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 8)).astype("float32")
    y = (np.sin(1.5 * x[:, :1]) + 0.5 * x[:, 1:2] * x[:, 2:3]).astype("float32")
    return torch.tensor(x), torch.tensor(y)


def _net(p: float, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(8, 64), nn.ReLU(), nn.Dropout(p), nn.Linear(64, 64), nn.ReLU(), nn.Dropout(p),
                         nn.Linear(64, 1))


def _adam(params):
    return torch.optim.Adam(params, lr=1e-3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_dropout_regressor_that_fits_in_eval_mode_passes_within_the_budget(mlcheck: MLCheck, seed: int):
    # train-mode losses stay ~3x above the eval-mode ones: the training-loss criterion alone
    # needed 578..712 steps of noise luck here; the eval-mode loss, read every 10 steps, is 90% of
    # the way by step 400 (91..93% there)
    result = mlcheck.overfit_one_batch(_net(0.5, seed), _data(), loss_fn=nn.MSELoss(), optimizer=_adam)
    line = next(n for n in result.notes if "eval-mode loss" in n)
    step = int(line.split(" at step ")[1].split(" ")[0])
    assert step == result.steps and 300 <= step < 400 and step % 10 == 0  # read before the budget ran out
    assert not any("training went on" in n for n in result.notes)


@pytest.mark.parametrize("seed", [1, 3])
def test_a_noisy_training_curve_flat_at_the_budget_trains_on_while_the_eval_mode_one_falls(mlcheck: MLCheck,
                                                                                          seed: int):
    # dropout 0.7: on these inits the training loss's medians happened not to fall over the budget's last
    # tenth, and a decision read from them stopped at step 400 (over_regularized) while the eval-mode
    # loss, read every 10 steps, was still coming down; it fits at step 1,070 / 1,440
    result = mlcheck.overfit_one_batch(_net(0.7, seed), _data(), loss_fn=nn.MSELoss(), optimizer=_adam)
    assert 400 < result.steps <= 16 * 400
    assert any("training went on" in n for n in result.notes)
    assert any("judged on the eval-mode loss" in n and f"at step {result.steps} " in n for n in result.notes)


def test_dropout_into_a_zero_initialised_layer_is_watched_once_training_opens_the_noise(mlcheck: MLCheck):
    # the last layer starts at 0: two training-mode passes agree at init, so no watch opens before the
    # run; by the budget dropout moves the outputs, and the watch opens there and reads the eval-mode loss
    model = _net(0.5, 0)
    with torch.no_grad():
        model[-1].weight.zero_()
    result = mlcheck.overfit_one_batch(model, _data(), loss_fn=nn.MSELoss(), optimizer=_adam)
    assert any("judged on the eval-mode loss" in n and "at step 400 " in n for n in result.notes), result.notes


def test_without_dropout_no_eval_mode_judgement(mlcheck: MLCheck):
    result = mlcheck.overfit_one_batch(_net(0.0, 0), _data(), loss_fn=nn.MSELoss(), optimizer=_adam)
    assert not any("eval-mode loss" in n for n in result.notes)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_dropout_regressor_at_rate_0_9_still_fails_as_over_regularized(mlcheck: MLCheck, seed: int):
    # at rate 0.7 the eval-mode loss reaches the criterion at steps 1,070-1,440 on these inits (the
    # model can memorise its batch: it passes); at 0.9 it does not within 16× the budget
    with pytest.raises(CheckFailed) as info:
        mlcheck.overfit_one_batch(_net(0.9, seed), _data(), loss_fn=nn.MSELoss(), optimizer=_adam)
    text = str(info.value)
    assert "judged on the eval-mode loss" in text
    assert info.value.causes[0] == "over_regularized"


def test_a_dropout_regressor_at_a_tiny_learning_rate_still_fails(mlcheck: MLCheck):
    with pytest.raises(CheckFailed) as info:
        mlcheck.overfit_one_batch(_net(0.5, 0), _data(), loss_fn=nn.MSELoss(),
                                  optimizer=lambda p: torch.optim.Adam(p, lr=1e-6))
    assert "eval-mode loss" in str(info.value)
    assert info.value.causes[:1] == ["lr_too_low"]


def test_the_watch_extends_on_the_eval_mode_curve_not_the_noisy_training_one():
    class Fake:
        pass

    watch = EvalWatch(Fake(), None, type("T", (), {"floor": 0.0, "task": "regression"})(), 0.9, 1.0, 10)
    watch.points = list(np.linspace(0.3, 0.18, 40))  # smooth, 82% of the way after 800 steps
    assert watch.still_falling(800, 1600)
    watch.points = [0.3] * 40  # flat: stop
    assert not watch.still_falling(800, 1600)


class _Sampling(nn.Module):
    """A reparameterisation that samples in eval mode too, as a VAE's does."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + 0.1 * torch.randn_like(h)


@pytest.mark.parametrize("sampling", [True, False])
def test_outputs_sampled_at_inference_are_not_read_as_batch_mixing_or_dropout(mlcheck: MLCheck, sampling: bool):
    # keras #3373's VAE (both frameworks) failed naming batch_mixing: its sampling layer moved
    # every output between the two eval-mode passes of the input-dependence probe
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), *([_Sampling()] if sampling else []), nn.Linear(32, 1))
    with pytest.raises(CheckFailed) as info:
        mlcheck.overfit_one_batch(model, _data(), loss_fn=nn.MSELoss(), optimizer=lambda p: torch.optim.SGD(p, lr=1e-7))
    text = str(info.value)
    # nor as over_regularized: training in eval mode does not take away noise that eval mode has too
    assert "batch_mixing" not in info.value.causes and "over_regularized" not in info.value.causes
    assert ("two eval-mode passes over the same batch differed" in text) == sampling
    assert ("moved their own outputs and no other's" in text) != sampling


@pytest.mark.parametrize(("layers", "noisy"), [
    ([nn.Dropout(0.5)], True), ([_Sampling(), nn.Dropout(0.5)], False), ([_Sampling()], False), ([], False)])
def test_only_noise_that_eval_mode_removes_is_offered_to_the_dropout_retry(layers, noisy):
    # keras #3373's VAE: the retry "with training-mode noise off" still sampled, halved its loss as
    # the run itself had, and the cause read over_regularized
    from pytest_mlcheck.checks.common import open_session
    from pytest_mlcheck.checks.runner import TrainSpec
    from pytest_mlcheck.checks.training import ProbeLog, _noisy
    from pytest_mlcheck.settings import Settings

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), *layers, nn.Linear(32, 1))
    spec = TrainSpec(loss_fn=nn.MSELoss(), optimizer=_adam)
    opened: list[object] = []

    def fresh():
        opened.append(open_session(model, Settings(), spec))
        return opened[-1]

    assert _noisy(fresh, _data(), ProbeLog()) is noisy
    # what the input-dependence probe already saw is not looked at again
    seen = ProbeLog()
    seen.sampling = True
    opened.clear()
    assert _noisy(fresh, _data(), seen) is False and not opened


@pytest.mark.parametrize(("layers", "watched"), [([nn.Dropout(0.5)], True), ([_Sampling(), nn.Dropout(0.5)], False)])
def test_the_eval_mode_watch_opens_only_where_eval_mode_removes_the_noise(layers, watched):
    # a VAE's eval-mode curve carries its sampling noise too: nothing for the watch to read off
    from pytest_mlcheck.checks.common import open_session
    from pytest_mlcheck.checks.runner import TrainSpec
    from pytest_mlcheck.settings import Settings
    from pytest_mlcheck.targets import Targets

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), *layers, nn.Linear(32, 1))
    session = open_session(model, Settings(), TrainSpec(loss_fn=nn.MSELoss(), optimizer=_adam))
    try:
        batch = session.prepare(*_data())
        out = session.predict(batch)
        targets = Targets("regression", "values", None, 1, "values", 0.0, [])
        watch = EvalWatch.of(session, batch, targets, 0.9, out, session.loss_of(out, batch), 10)
    finally:
        session.close()
    assert (watch is not None) is watched
