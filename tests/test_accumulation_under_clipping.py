"""A training step that never zeroes its gradients but clips them (wenet-e2e/wekws before PR #73:
``loss.backward(); clip_grad_norm_(params, 5); optimizer.step()``) keeps the gradient norm where it
was, so two identical steps at lr 0 read alike and the step fits its batch. The second step also
watches what its backward pass finds in the gradients of the parameters the optimizer holds: the
first step's, already applied. Correct twins: the same step with ``zero_grad`` (at its start or after
``step()``, or ``model.zero_grad()``), two backward passes inside one step, gradient accumulation
that steps every second call, and a parameter outside the optimizer whose gradient nobody clears."""

from __future__ import annotations

from typing import Callable

import pytest
import torch
from torch import nn
from torch.nn.utils import clip_grad_norm_

from pytest_mlcheck import CheckFailed, Settings, diagnosis
from pytest_mlcheck.checks.common import open_session
from pytest_mlcheck.checks.runner import TrainSpec


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 6, generator=g)
    return x, torch.tanh(x @ torch.randn(6, 1, generator=g))


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 32), nn.Tanh(), nn.Linear(32, 1))


def _step(*, zero: str | None, clip: float | None = 0.05, every: int = 1, twice: bool = False) -> Callable:
    """A user's step: ``zero`` is where it clears the gradients ("start", "after", "model" or None),
    ``clip`` a gradient-norm clip, ``every`` how many calls it accumulates before stepping."""
    calls = [0]

    def step(model, optimizer, loss_fn, x, y) -> float:
        if zero == "start":
            optimizer.zero_grad()
        elif zero == "model":
            model.zero_grad()
        out = model(x)
        loss = loss_fn(out, y)
        if twice:  # two terms, two backward passes into the same gradients: on purpose
            loss_fn(out[:16], y[:16]).backward(retain_graph=True)
        loss.backward()
        calls[0] += 1
        if calls[0] % every == 0:
            if clip is not None:
                clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            if zero == "after":
                optimizer.zero_grad()
        return loss.item()
    return step


def _probe(step: Callable, model: nn.Module | None = None) -> list[tuple[str, str]]:
    model = model or _model()
    spec = TrainSpec(loss_fn=nn.MSELoss(), optimizer=lambda p: torch.optim.Adam(p, lr=1e-2), train_step=step)
    return diagnosis.missing_zero_grad(lambda: open_session(model, Settings(seed=0), spec),
                                       lambda s: s.prepare(*_batch()), [])


def test_a_clipped_step_that_never_zeroes_is_found_though_its_norm_does_not_grow():
    (cause, evidence), = _probe(_step(zero=None))
    assert cause == "missing_zero_grad"
    assert "left behind (norm 0.05)" in evidence and "0.05 → 0.05" in evidence


def test_without_a_clip_the_doubled_norm_still_tells():
    (cause, evidence), = _probe(_step(zero=None, clip=None))
    assert cause == "missing_zero_grad" and "(×2.00)" in evidence


@pytest.mark.parametrize("step", [
    _step(zero="start"), _step(zero="after"), _step(zero="model"), _step(zero="start", twice=True),
    _step(zero="after", every=2),
], ids=["zero_grad first", "zero_grad after step", "model.zero_grad", "two backward passes", "accumulate 2"])
def test_steps_that_clear_their_gradients_are_left_alone(step):
    assert _probe(step) == []


def test_a_parameter_outside_the_optimizer_is_not_the_steps_to_clear():
    """An extra trainable scale the optimizer was never given: its gradient grows on every call, which
    zero_grad() on the optimizer does not touch — not what this probe is about."""
    model = _model()
    model.register_parameter("unused_scale", nn.Parameter(torch.ones(1)))

    def step(model, optimizer, loss_fn, x, y) -> float:
        optimizer.zero_grad()
        loss = loss_fn(model(x) * model.unused_scale, y)
        loss.backward()
        optimizer.step()
        return loss.item()

    spec = TrainSpec(loss_fn=nn.MSELoss(), train_step=step,
                     optimizer=lambda p: torch.optim.Adam([q for q in p if q.ndim > 1 or q.numel() > 1], lr=1e-2))
    assert diagnosis.missing_zero_grad(lambda: open_session(model, Settings(seed=0), spec),
                                       lambda s: s.prepare(*_batch()), []) == []


def test_the_training_checks_fail_the_clipped_step_that_fits(mlcheck):
    """It fits its batch (the stale gradient acts as momentum); the check fails naming the step, and
    the same step with zero_grad passes."""
    opt = lambda p: torch.optim.Adam(p, lr=1e-2)  # noqa: E731
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_model(), _batch(), loss_fn=nn.MSELoss(), optimizer=opt, train_step=_step(zero=None))
    assert failed.value.causes == ["missing_zero_grad"], str(failed.value)
    assert mlcheck.overfit_one_batch(_model(), _batch(), loss_fn=nn.MSELoss(), optimizer=opt,
                                     train_step=_step(zero="start")).passed


def _tape_step(model, optimizer, loss_fn, x, y) -> float:
    """A port of a Keras GradientTape step: gradients taken with autograd.grad (nothing accumulates
    into .grad), the optimizer cleared only after them, then the gradients assigned (keras-io's
    knowledge-distillation Distiller, ported)."""
    loss = loss_fn(model(x), y)
    params = list(model.parameters())
    grads = torch.autograd.grad(loss, params)
    optimizer.zero_grad()
    for p, g in zip(params, grads):
        p.grad = g
    optimizer.step()
    return loss.item()


def test_gradients_taken_with_autograd_grad_and_assigned_add_to_nothing():
    """Its pass reaches every parameter while .grad still holds the last step's gradient (it clears
    them after): what the pass saw there counts only if the pass accumulates into .grad."""
    assert _probe(_tape_step) == []
    assert _probe(_step(zero=None))[0][0] == "missing_zero_grad"  # a backward() that adds is still found
