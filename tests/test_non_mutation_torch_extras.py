"""torch corners of non-mutation: a loss module with its own parameters is copied with the model (its
parameters train on the copy, may be covered by the user's optimizer, and never get a ``.grad``), and
hooks registered on the model run on the copy with their closures copied, so what they record or
change lands on copies, never on the user's objects."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import test_non_mutation as tn
from pytest_mlcheck import CheckFailed, MlcheckUsageError
from torch_corpus import digits_batch

digits_batch(1)  # loads the digits (importing sklearn draws from Python's random) before any snapshot


class TemperatureCE(nn.Module):
    """Cross-entropy with a learnable temperature (CLIP-style): a loss with its own parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.log_temperature = nn.Parameter(torch.tensor(0.0))

    def forward(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(logits * self.log_temperature.exp(), y)


def model_and_loss() -> tuple[nn.Module, TemperatureCE]:
    torch.manual_seed(0)
    return tn.bn_model(), TemperatureCE()


def loss_state(loss: nn.Module) -> dict:
    return {n: (p.detach().clone(), None if p.grad is None else p.grad.clone(), p.requires_grad)
            for n, p in loss.named_parameters()}


def assert_loss_same(before: dict, after: dict) -> None:
    assert before.keys() == after.keys()
    for name, (value, grad, requires) in before.items():
        other, other_grad, other_requires = after[name]
        assert torch.equal(value, other), name
        assert (grad is None and other_grad is None) or torch.equal(grad, other_grad), name
        assert requires == other_requires, name


CALLS = {
    "overfit_one_batch": lambda m, model, loss, opt: m.overfit_one_batch(model, digits_batch(32), loss_fn=loss,
                                                                         optimizer=opt, steps=30),
    "loss_decreases": lambda m, model, loss, opt: m.loss_decreases(
        model, [digits_batch(32), digits_batch(32, offset=32)], loss_fn=loss, optimizer=opt, steps=12),
    "gradients_flow": lambda m, model, loss, opt: m.gradients_flow(model, digits_batch(32), loss_fn=loss,
                                                                   optimizer=opt),
    "init_loss": lambda m, model, loss, opt: m.init_loss(model, digits_batch(32), loss_fn=loss),
    "input_independent_baseline": lambda m, model, loss, opt: m.input_independent_baseline(
        model, digits_batch(64), loss_fn=loss, optimizer=opt, steps=10),
}


@pytest.mark.parametrize("check", list(CALLS))
def test_a_loss_with_parameters_is_never_written(mlcheck, check):
    model, loss = model_and_loss()
    optimizer = torch.optim.Adam(list(model.parameters()) + list(loss.parameters()), lr=1e-2)
    before, before_loss = tn.snapshot(model, optimizer), loss_state(loss)
    try:
        CALLS[check](mlcheck, model, loss, None)
    except CheckFailed:
        pass
    assert loss.log_temperature.grad is None  # the finding: None -> -10.05
    assert_loss_same(before_loss, loss_state(loss))
    tn.assert_same(before, tn.snapshot(model, optimizer))


@pytest.mark.parametrize("as_instance", [True, False])
def test_an_optimizer_over_the_model_and_the_loss_is_accepted(mlcheck, as_instance):
    model, loss = model_and_loss()
    optimizer = torch.optim.Adam(list(model.parameters()) + list(loss.parameters()), lr=1e-2)
    x, y = digits_batch(32)
    loss(model(x), y).backward()
    optimizer.step()  # the user's optimizer has state for both
    before, before_loss = tn.snapshot(model, optimizer), loss_state(loss)
    spec = optimizer if as_instance else (lambda params: torch.optim.Adam(params, lr=1e-2))
    result = mlcheck.overfit_one_batch(model, (x, y), loss_fn=loss, optimizer=spec)
    assert result.passed
    assert_loss_same(before_loss, loss_state(loss))
    tn.assert_same(before, tn.snapshot(model, optimizer))


def test_the_loss_parameter_trains_on_the_copy_not_on_the_users(mlcheck):
    model, loss = model_and_loss()
    seen: list[tuple] = []

    def step(m, opt, loss_fn, x, y):
        opt.zero_grad()
        value = loss_fn(m(x), y)
        value.backward()
        opt.step()
        seen.append((loss_fn, float(loss_fn.log_temperature)))
        return value

    try:
        mlcheck.overfit_one_batch(model, digits_batch(32), loss_fn=loss, steps=40, train_step=step,
                                  optimizer=lambda params: torch.optim.Adam(params, lr=5e-2))
    except CheckFailed:
        pass
    assert seen and all(fn is not loss for fn, _ in seen)  # the step is given the loss's copy
    # whose temperature trained (the factory was given its parameter); the last steps may be the
    # zero_grad look's, at lr 0 on a fresh copy
    assert any(t != 0.0 for _, t in seen)
    assert float(loss.log_temperature) == 0.0 and loss.log_temperature.grad is None


def test_a_parameter_shared_by_the_model_and_the_loss_stays_shared(mlcheck):
    model, _ = model_and_loss()

    class TiedLoss(nn.Module):
        def __init__(self, head: nn.Linear) -> None:
            super().__init__()
            self.head = head  # the model's own head, shared

        def forward(self, logits, y):
            return nn.functional.cross_entropy(logits, y) + 1e-4 * self.head.weight.pow(2).sum()

    loss = TiedLoss(model[-1])
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    before = tn.snapshot(model, optimizer)
    assert mlcheck.overfit_one_batch(model, digits_batch(32), loss_fn=loss, optimizer=optimizer).passed
    tn.assert_same(before, tn.snapshot(model, optimizer))


def test_an_optimizer_over_foreign_parameters_is_still_misuse(mlcheck):
    model, loss = model_and_loss()
    stranger = nn.Linear(3, 3)
    with pytest.raises(MlcheckUsageError, match="optimizer"):
        mlcheck.overfit_one_batch(model, digits_batch(32), loss_fn=loss,
                                  optimizer=torch.optim.Adam(list(model.parameters()) + list(stranger.parameters())))


# -- hooks ------------------------------------------------------------------------------------

def test_a_hook_recording_into_a_list_of_the_user_records_nothing_there(mlcheck):
    model, _ = model_and_loss()
    seen: list[tuple] = []
    calls_before: list[int] = []
    model[1].register_forward_hook(lambda module, args, out: seen.append(tuple(out.shape)))
    model[1].register_forward_pre_hook(lambda module, args: calls_before.append(1))
    model(digits_batch(4)[0])
    assert len(seen) == 1 and len(calls_before) == 1
    for check in CALLS:
        try:
            CALLS[check](mlcheck, model, nn.CrossEntropyLoss(), None)
        except CheckFailed:
            pass
    assert len(seen) == 1 and len(calls_before) == 1  # the finding: the check's forward passes landed here


def test_a_hook_writing_onto_the_model_writes_onto_the_copy(mlcheck):
    model, _ = model_and_loss()

    def keep_activation(module, args, out):
        model.last_hidden = out  # closes over the user's model

    model[2].register_forward_hook(keep_activation)
    with pytest.raises(CheckFailed):  # 5 steps are too few to fit: only the side effects matter
        mlcheck.overfit_one_batch(model, digits_batch(32), loss_fn=nn.CrossEntropyLoss(), steps=5)
    assert not hasattr(model, "last_hidden")


def test_a_hook_that_changes_the_output_is_part_of_the_model_on_the_copy(mlcheck):
    # hooks are the model's computation too (pruning and spectral norm are pre-hooks): they run
    model, _ = model_and_loss()
    model[-1].register_forward_hook(lambda module, args, out: out * 0.0)
    with pytest.raises(CheckFailed):
        mlcheck.overfit_one_batch(model, digits_batch(32), loss_fn=nn.CrossEntropyLoss())


def test_a_callable_object_hook_keeps_its_state(mlcheck):
    class Counter:
        def __init__(self) -> None:
            self.calls = 0

        def __call__(self, module, args, out) -> None:
            self.calls += 1

    model, _ = model_and_loss()
    counter = Counter()
    model[1].register_forward_hook(counter)
    with pytest.raises(CheckFailed):  # 5 steps are too few to fit: only the side effects matter
        mlcheck.overfit_one_batch(model, digits_batch(32), loss_fn=nn.CrossEntropyLoss(), steps=5)
    assert counter.calls == 0
    assert copy.deepcopy(counter).calls == 0


def test_an_optimizer_over_another_instance_is_a_defect_that_changes_neither_instance(mlcheck):
    """practical-pytorch #9: the optimizer was built over the first instance of the model, the second
    is trained. The check fails naming params_not_updated and says why; neither instance changes."""
    model, loss = model_and_loss()
    earlier, _ = model_and_loss()
    optimizer = torch.optim.SGD(earlier.parameters(), lr=0.1)
    before, before_earlier = tn.snapshot(model, optimizer), tn.snapshot(earlier, optimizer)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, digits_batch(32), loss_fn=loss, optimizer=optimizer)
    assert failed.value.causes[0] == "params_not_updated", str(failed.value)
    assert "built over another instance of the model" in str(failed.value)
    tn.assert_same(before, tn.snapshot(model, optimizer))
    tn.assert_same(before_earlier, tn.snapshot(earlier, optimizer))


class _DecayingSGD(torch.optim.SGD):
    """An optimizer subclass whose constructor takes other arguments than torch's (a port of Torch7's
    optim.sgd with learningRateDecay): the check cannot call it with the defaults it reads off."""

    def __init__(self, params, learningRate, learningRateDecay):  # noqa: N803 - the port's own names
        super().__init__(params, lr=learningRate)
        self.lr0, self.lrd, self.nevals = learningRate, learningRateDecay, 0

    def step(self, closure=None):
        for group in self.param_groups:
            group["lr"] = self.lr0 / (1 + self.nevals * self.lrd)
        self.nevals += 1
        return super().step(closure)


def test_an_optimizer_subclass_with_its_own_constructor_is_copied_with_its_schedule(mlcheck):
    """It had crashed the training checks (TypeError: unexpected keyword argument 'lr'); the copy keeps its
    class, so its step's own decay runs, and the user's optimizer is left as it was."""
    torch.manual_seed(0)
    x = torch.randn(32, 4)
    y = x @ torch.randn(4, 1)
    model = nn.Linear(4, 1)
    optimizer = _DecayingSGD(model.parameters(), 0.1, 1e-4)
    before = tn.snapshot(model, optimizer)
    result = mlcheck.overfit_one_batch(model, (x, y), loss_fn=nn.MSELoss(), optimizer=optimizer)
    assert result.passed
    assert optimizer.nevals == 0
    tn.assert_same(before, tn.snapshot(model, optimizer))
