"""LightningModules as users hold them: the training checks take the loss from training_step and
the optimizer (and its schedulers) from configure_optimizers, with no Trainer, and give the verdicts
the plain spelling (the same module with loss_fn= and optimizer=) gives."""

from __future__ import annotations

import copy
import sys
from typing import Any

import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F

from pytest_mlcheck import CheckFailed, MlcheckUsageError

pl = pytest.importorskip("lightning.pytorch")

# self.log without a Trainer, or a scheduler stepped out of order, would warn: a warning fails here
pytestmark = pytest.mark.filterwarnings("error")


def adam(params: Any) -> torch.optim.Optimizer:
    return torch.optim.Adam(params, lr=1e-3)


class DigitsMLP(pl.LightningModule):
    """A correct module: logits out, cross-entropy in training_step, Adam from configure_optimizers."""

    def __init__(self, lr: float = 1e-3):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss, prog_bar=True)
        self.log_dict({"step": float(batch_idx)})
        return loss

    def configure_optimizers(self) -> Any:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class SoftmaxForward(DigitsMLP):
    """Broken: forward returns probabilities that training_step feeds to cross-entropy."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).softmax(dim=1)


class ForgetsTheLoss(DigitsMLP):
    """Broken: training_step computes the loss and never returns it."""

    def training_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        F.cross_entropy(self(x), y)


class ReturnsADict(DigitsMLP):
    def training_step(self, batch: Any, batch_idx: int) -> dict[str, torch.Tensor]:
        x, y = batch
        logits = self(x)
        return {"loss": F.cross_entropy(logits, y), "logits": logits.detach()}


def digits(n: int = 64, offset: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    data = load_digits()
    x = torch.tensor(data.data[offset:offset + n] / 16.0, dtype=torch.float32)
    return x, torch.tensor(data.target[offset:offset + n], dtype=torch.int64)


def built(cls: type = DigitsMLP, **kwargs: Any) -> nn.Module:
    torch.manual_seed(0)
    return cls(**kwargs)


BATCH = digits()
BATCHES = [digits(16, i) for i in range(0, 64, 16)]
CALLS = {
    "overfit_one_batch": lambda m, model, **kw: m.overfit_one_batch(model, BATCH, **kw),
    "loss_decreases": lambda m, model, **kw: m.loss_decreases(model, BATCHES, **kw),
    "gradients_flow": lambda m, model, **kw: m.gradients_flow(model, BATCH, **kw),
    "not_constant_predictions": lambda m, model, **kw: m.not_constant_predictions(
        model, digits(64, 64)[0], train_on=BATCHES, **kw),
    "input_independent_baseline": lambda m, model, **kw: m.input_independent_baseline(model, digits(256, 128), **kw),
    "init_loss": lambda m, model, **kw: m.init_loss(model, BATCH, **{k: v for k, v in kw.items() if k == "loss_fn"}),
}


def outcome(call: Any) -> tuple[bool, list[str], Any]:
    """(passed, causes, result) of a check call, whether it passes or fails."""
    try:
        result = call()
    except CheckFailed as failed:
        return False, failed.causes, failed.result
    return True, [], result


@pytest.mark.parametrize("check", list(CALLS))
def test_a_correct_module_passes_as_the_plain_spelling_does(mlcheck, check: str) -> None:
    own = CALLS[check](mlcheck, built())
    plain = CALLS[check](mlcheck, built(), loss_fn=F.cross_entropy, optimizer=adam)
    assert own.passed and plain.passed
    assert own.losses == plain.losses  # the same steps, loss for loss
    assert own.figures["loss_from"] == "the LightningModule's training_step(batch, batch_idx)"
    assert "loss_from" not in plain.figures
    if check != "init_loss":  # init_loss trains nothing: no optimizer
        assert own.figures["optimizer_from"] == "the LightningModule's configure_optimizers(): Adam(lr=0.001)"


@pytest.mark.parametrize("cls,kwargs,optimizer,cause", [
    (DigitsMLP, {"lr": 50.0}, lambda p: torch.optim.Adam(p, lr=50.0), "lr_too_high"),
    (SoftmaxForward, {}, adam, "loss_mismatch"),
], ids=["diverging lr", "softmax before cross-entropy"])
def test_a_broken_module_fails_with_the_cause_the_plain_spelling_names(mlcheck, cls, kwargs, optimizer, cause) -> None:
    with pytest.raises(CheckFailed) as own:
        mlcheck.overfit_one_batch(built(cls, **kwargs), BATCH)
    with pytest.raises(CheckFailed) as plain:
        mlcheck.overfit_one_batch(built(cls, **kwargs), BATCH, loss_fn=F.cross_entropy, optimizer=optimizer)
    assert own.value.causes[0] == cause
    assert own.value.causes == plain.value.causes
    assert own.value.result.losses == plain.value.result.losses
    assert "from the LightningModule's configure_optimizers()" in str(own.value)


@pytest.mark.parametrize("check", ["overfit_one_batch", "gradients_flow", "loss_decreases", "init_loss"])
def test_a_training_step_that_returns_no_loss_fails_saying_so(mlcheck, check: str) -> None:
    with pytest.raises(CheckFailed, match=r"training_step returned None: there is no loss") as failed:
        CALLS[check](mlcheck, built(ForgetsTheLoss))
    assert failed.value.causes == ["no_gradient"]


def test_a_dict_with_the_loss_trains_and_one_without_fails(mlcheck) -> None:
    assert mlcheck.overfit_one_batch(built(ReturnsADict), BATCH).passed

    class NoLossKey(DigitsMLP):
        def training_step(self, batch: Any, batch_idx: int) -> dict[str, torch.Tensor]:
            return {"train_loss": F.cross_entropy(self(batch[0]), batch[1])}

    with pytest.raises(CheckFailed, match=r"returned a dict without 'loss' \(keys \['train_loss'\]\)"):
        mlcheck.gradients_flow(built(NoLossKey), BATCH)


def test_a_detached_loss_fails_naming_training_step(mlcheck) -> None:
    class Detached(DigitsMLP):
        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            return F.cross_entropy(self(batch[0]), batch[1]).detach()

    with pytest.raises(CheckFailed, match=r"the LightningModule's training_step raised RuntimeError: the loss does "
                                          r"not require grad") as failed:
        mlcheck.overfit_one_batch(built(Detached), BATCH)
    assert "no_gradient" in failed.value.causes


class KeepsItsOptimizer(DigitsMLP):
    """Builds its optimizer once and returns it from configure_optimizers (a pattern users write)."""

    def __init__(self) -> None:
        super().__init__()
        self.opt = torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)

    def configure_optimizers(self) -> Any:
        return self.opt


@pytest.mark.parametrize("cls", [DigitsMLP, KeepsItsOptimizer])
def test_the_users_module_and_optimizer_are_unchanged(mlcheck, cls: type) -> None:
    model = built(cls)
    optimizer = model.configure_optimizers()
    F.cross_entropy(model(BATCH[0]), BATCH[1]).backward()
    optimizer.step()  # the user's optimizer holds state (Adam moments, SGD momentum)
    optimizer.zero_grad()
    params = copy.deepcopy(model.state_dict())
    state = copy.deepcopy(optimizer.state_dict())
    mlcheck.overfit_one_batch(model, BATCH)
    mlcheck.loss_decreases(model, BATCHES)
    mlcheck.gradients_flow(model, BATCH)
    assert all(torch.equal(params[k], v) for k, v in model.state_dict().items())
    after = optimizer.state_dict()
    assert after["param_groups"] == state["param_groups"]
    for key, moments in state["state"].items():
        assert all(torch.equal(v, after["state"][key][name]) for name, v in moments.items()
                   if isinstance(v, torch.Tensor))
    assert all(p.grad is None for p in model.parameters())
    assert "log" not in vars(model) and model.training  # the silenced self.log was the copy's


class Scheduled(DigitsMLP):
    """A StepLR that zeroes the learning rate after ten of its steps."""

    def __init__(self, interval: str, frequency: int) -> None:
        super().__init__()
        self.interval, self.frequency = interval, frequency

    def configure_optimizers(self) -> Any:
        optimizer = torch.optim.Adam(self.parameters(), lr=1e-2)
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=10 // self.frequency, gamma=0.0)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": self.interval, "frequency": self.frequency}}


@pytest.mark.parametrize("frequency", [1, 5])
def test_a_step_interval_scheduler_is_stepped_as_lightning_steps_it(mlcheck, frequency: int) -> None:
    _, _, result = outcome(lambda: mlcheck.loss_decreases(built(Scheduled, interval="step", frequency=frequency),
                                                          [BATCH], steps=30))
    losses = result.losses
    # ten optimizer steps at lr 1e-2 (ten scheduler steps, or two every five), then lr 0: the loss stops
    assert losses[9] != losses[10] and len(set(losses[10:])) == 1, losses
    every = "step" if frequency == 1 else "5 steps"
    assert result.figures["optimizer_from"].endswith(f"Adam(lr=0.01); StepLR stepped every {every}")


def test_an_epoch_interval_scheduler_is_not_stepped_within_a_check(mlcheck) -> None:
    result = mlcheck.loss_decreases(built(Scheduled, interval="epoch", frequency=1), [BATCH], steps=30)
    assert len(set(result.losses[10:])) == 20  # still learning after ten steps
    assert 'StepLR not stepped (interval "epoch"' in result.figures["optimizer_from"]


def _sgd(module: nn.Module) -> torch.optim.Optimizer:
    return torch.optim.SGD(module.parameters(), lr=0.1)


SHAPES = {
    "optimizer": lambda m: _sgd(m),
    "list of optimizers": lambda m: [_sgd(m), torch.optim.Adam(m.parameters())],
    "([optimizers], [schedulers])": lambda m: (lambda o: ([o], [torch.optim.lr_scheduler.StepLR(o, 5)]))(_sgd(m)),
    "dict": lambda m: (lambda o: {"optimizer": o, "lr_scheduler": torch.optim.lr_scheduler.ExponentialLR(o, 0.9)})(
        _sgd(m)),
    "tuple of dicts": lambda m: ({"optimizer": _sgd(m)}, {"optimizer": torch.optim.Adam(m.parameters())}),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_shape_configure_optimizers_returns_trains_its_first_optimizer(mlcheck, shape: str) -> None:
    class Shaped(DigitsMLP):
        def configure_optimizers(self) -> Any:
            return SHAPES[shape](self)

    result = mlcheck.gradients_flow(built(Shaped), BATCH)
    assert result.figures["optimizer_from"].startswith("the LightningModule's configure_optimizers(): SGD(lr=0.1)")
    assert ("the first of 2 optimizers" in result.figures["optimizer_from"]) == (shape in ("list of optimizers",
                                                                                          "tuple of dicts"))


def test_explicit_loss_fn_and_optimizer_override_the_modules_own(mlcheck) -> None:
    class Broken(ForgetsTheLoss):
        def configure_optimizers(self) -> Any:
            return torch.optim.Adam(self.parameters(), lr=50.0)

    result = mlcheck.overfit_one_batch(built(Broken), BATCH, loss_fn=F.cross_entropy, optimizer=adam)
    assert result.passed and "loss_from" not in result.figures and "optimizer_from" not in result.figures
    # an explicit optimizer alone: the loss still comes from training_step
    result = mlcheck.overfit_one_batch(built(DigitsMLP, lr=50.0), BATCH, optimizer=adam)
    assert "loss_from" in result.figures and "optimizer_from" not in result.figures
    # an explicit train_step: it replaces training_step and is handed configure_optimizers' optimizer
    seen: list[torch.optim.Optimizer] = []

    def step(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: Any, x: Any, y: Any) -> torch.Tensor:
        seen.append(optimizer)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    result = mlcheck.gradients_flow(built(Broken), BATCH, train_step=step)
    assert "loss_from" not in result.figures and isinstance(seen[0], torch.optim.Adam)
    assert seen[0].param_groups[0]["lr"] == 50.0


def test_manual_optimization_is_a_usage_error(mlcheck) -> None:
    class Manual(DigitsMLP):
        def __init__(self) -> None:
            super().__init__()
            self.automatic_optimization = False

    with pytest.raises(MlcheckUsageError, match=r"model: expected a LightningModule with automatic optimization.*"
                                                r"pass loss_fn="):
        mlcheck.overfit_one_batch(built(Manual), BATCH)
    assert mlcheck.overfit_one_batch(built(Manual), BATCH, loss_fn=F.cross_entropy).passed


def test_configure_optimizers_that_needs_a_trainer_is_a_usage_error(mlcheck) -> None:
    class NeedsTrainer(DigitsMLP):
        def configure_optimizers(self) -> Any:
            optimizer = torch.optim.SGD(self.parameters(), lr=0.1)
            total = self.trainer.estimated_stepping_batches
            return [optimizer], [torch.optim.lr_scheduler.OneCycleLR(optimizer, 0.1, total_steps=total)]

    with pytest.raises(MlcheckUsageError, match=r"model: expected a LightningModule whose configure_optimizers\(\) runs "
                                                r"without a Trainer.*not attached to a `Trainer`.*pass optimizer="):
        mlcheck.overfit_one_batch(built(NeedsTrainer), BATCH)


def test_configure_optimizers_returning_no_optimizer_is_a_usage_error(mlcheck) -> None:
    class ReturnsNothing(DigitsMLP):
        def configure_optimizers(self) -> Any:
            return None

    with pytest.raises(MlcheckUsageError, match=r"model: expected a LightningModule whose configure_optimizers\(\) "
                                                r"returns an optimizer, .*got None.*or pass optimizer="):
        mlcheck.gradients_flow(built(ReturnsNothing), BATCH)
    assert mlcheck.gradients_flow(built(ReturnsNothing), BATCH, optimizer=adam).passed


def test_a_pytorch_lightning_module_is_accepted_too(mlcheck) -> None:
    legacy = pytest.importorskip("pytorch_lightning")

    class Legacy(legacy.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            loss = F.cross_entropy(self(batch[0]), batch[1])
            self.log("loss", loss)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    result = mlcheck.overfit_one_batch(built(Legacy), BATCH)
    assert result.passed and "optimizer_from" in result.figures


def test_checking_a_plain_module_imports_no_lightning(pytester: pytest.Pytester) -> None:
    code = ("import sys, torch; from pytest_mlcheck.fixture import MLCheck; "
            "m = torch.nn.Linear(4, 2); x = torch.randn(32, 4); y = (x[:, 0] > 0).long(); "
            "MLCheck().gradients_flow(m, (x, y), loss_fn=torch.nn.functional.cross_entropy); "
            "print('loaded:', sorted(k for k in sys.modules if k.split('.')[0] in ('lightning', 'pytorch_lightning')))")
    result = pytester.run(sys.executable, "-c", code)
    assert result.ret == 0, result.errlines
    assert result.outlines[-1] == "loaded: []"
