"""LightningModules on the torch backend, without a Trainer: the loss comes from the copy's
``training_step(batch, batch_idx)`` and the optimizer (with its schedulers) from the copy's
``configure_optimizers()``, as Lightning's automatic optimization would use them.

Lightning is read from ``sys.modules`` only (``lightning.pytorch``, or ``pytorch_lightning``
when that package is already imported): this module never imports it.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import Any

import torch

from pytest_mlcheck import causes as C
from pytest_mlcheck.errors import UserCodeError, call_user, usage

LIGHTNING_PACKAGES = ("lightning.pytorch", "pytorch_lightning")
STEP = "the LightningModule's training_step"


def lightning_base(model: object) -> type | None:
    """The ``LightningModule`` class ``model`` is an instance of, or None (Lightning not loaded)."""
    for package in LIGHTNING_PACKAGES:
        base = getattr(sys.modules.get(package), "LightningModule", None)
        if isinstance(base, type) and isinstance(model, base):
            return base
    return None


def overrides(model: object, base: type, name: str) -> bool:
    """Whether the model's class implements ``name`` itself (the base class only warns)."""
    return getattr(type(model), name, None) is not getattr(base, name, None)


def _quiet(*args: Any, **kwargs: Any) -> None:
    """Stands in for ``self.log``: without a Trainer there is nowhere to log to."""


def silence_logging(module: torch.nn.Module) -> None:
    """``self.log``/``self.log_dict`` as no-ops on the copy (instance attributes: the class, and so
    the user's module, keep theirs)."""
    for name in ("log", "log_dict"):
        object.__setattr__(module, name, _quiet)


class NoLoss(UserCodeError):
    """training_step returned nothing to train on (None, or a dict without "loss"): a failed check."""

    def __init__(self, returned: Any):
        what = "None" if returned is None else f"a dict without 'loss' (keys {sorted(map(str, returned))[:6]})"
        super().__init__(STEP, ValueError(f"training_step returned {what}"))
        self.args = (f"{STEP} returned {what}: there is no loss to train on (Lightning skips the optimizer "
                     "step for such a batch, so the model never learns)",)
        self.evidence = [(C.NO_GRADIENT, f"training_step returned {what}, so no gradient reaches any parameter: "
                                         "return the loss (`return loss` or `return {'loss': loss}`)")]


def training_loss(module: torch.nn.Module, batch: Any, batch_idx: int) -> Any:
    """The loss ``training_step`` returns: a tensor, or the "loss" entry of a dict."""
    try:
        out = call_user(STEP, module.training_step, batch, batch_idx)
    except UserCodeError as err:
        if "attached to a `Trainer`" not in str(err.exc):
            raise
        raise usage("model", "a training_step that runs without a Trainer",
                    fix=f"it reads self.trainer ({str(err.exc).splitlines()[0]}): pass loss_fn= and optimizer=, "
                        "or train_step= with your own step") from None
    if isinstance(out, Mapping):
        if "loss" not in out:
            raise NoLoss(out)
        out = out["loss"]
    if out is None:
        raise NoLoss(None)
    return out


def lightning_batch(x: Any, y: Any) -> Any:
    """The batch as a DataLoader hands it to training_step: ``[x, y]``, or a dict batch with its
    targets back under "labels"."""
    if isinstance(x, Mapping):
        return {**x, "labels": y}
    return [x, y]


def loss_of_outputs(module: torch.nn.Module, outputs: Any, batch: Any, batch_idx: int) -> Any | None:
    """training_step's loss with what forward returns replaced by ``outputs`` (the loss of chosen
    outputs, as ``loss_fn(outputs, y)`` gives it); None when training_step never called forward
    (``self(x)`` or ``self.forward(x)``), so the loss is not of these outputs."""
    calls: list[int] = []

    def fixed(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return outputs

    object.__setattr__(module, "forward", fixed)  # on the copy only, and removed again
    try:
        loss = training_loss(module, batch, batch_idx)
    finally:
        object.__delattr__(module, "forward")
    return loss if calls else None


# -- configure_optimizers ------------------------------------------------------------------------

@dataclasses.dataclass
class Schedule:
    """One learning-rate scheduler of the optimizer and when Lightning steps it."""

    scheduler: Any
    interval: str = "epoch"
    frequency: int = 1

    @property
    def plateau(self) -> bool:
        return isinstance(self.scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau)

    @property
    def stepped(self) -> bool:
        """Stepped within a check: every ``frequency`` optimizer steps when the interval is "step".
        An "epoch" scheduler is not: a check's steps are a fraction of one of the user's epochs
        (one batch, or a few), so Lightning would not have reached an epoch's end; a plateau
        scheduler needs a monitored metric that only a Trainer collects."""
        return self.interval == "step" and not self.plateau

    def describe(self) -> str:
        name = type(self.scheduler).__name__
        if self.stepped:
            return f"{name} stepped every " + ("step" if self.frequency == 1 else f"{self.frequency} steps")
        why = ("it needs a monitored metric, which only a Trainer collects" if self.plateau
               else f'interval "{self.interval}": a check runs within one epoch')
        return f"{name} not stepped ({why})"


_SHAPES = ("an optimizer, a list of optimizers, ([optimizers], [schedulers]), or a dict "
           "{'optimizer': ..., 'lr_scheduler': ...}")
_WHOSE = "a LightningModule whose configure_optimizers() returns "  # usage errors name the model


def _schedule(config: Any) -> Schedule:
    if isinstance(config, Mapping):
        if "scheduler" not in config:
            raise usage("model", _WHOSE + "lr_scheduler dicts with a 'scheduler' entry", config)
        interval = config.get("interval", "epoch")
        frequency = config.get("frequency", 1)
        if interval not in ("step", "epoch"):
            raise usage("model", _WHOSE + "an lr_scheduler interval of 'step' or 'epoch'", interval)
        if isinstance(frequency, bool) or not isinstance(frequency, int) or frequency < 1:
            raise usage("model", _WHOSE + "an lr_scheduler frequency that is a positive whole number", frequency)
        schedule = Schedule(config["scheduler"], interval, frequency)
    else:
        schedule = Schedule(config)
    if not callable(getattr(schedule.scheduler, "step", None)):
        raise usage("model", _WHOSE + "learning-rate schedulers (torch.optim.lr_scheduler)", schedule.scheduler)
    return schedule


def _parts(result: Any) -> tuple[Any, list[Any], int]:
    """(the first optimizer, its scheduler configs, how many optimizers there are) from whatever
    configure_optimizers returned."""
    if isinstance(result, torch.optim.Optimizer):
        return result, [], 1
    if isinstance(result, Mapping):
        if "optimizer" not in result:
            raise usage("model", _WHOSE + "a dict with an 'optimizer' entry", result, fix=f"return {_SHAPES}")
        scheduler = result.get("lr_scheduler")
        return result["optimizer"], [] if scheduler is None else [scheduler], 1
    if isinstance(result, (list, tuple)) and result:
        if len(result) == 2 and all(isinstance(part, (list, tuple)) for part in result):
            optimizers, schedulers = result
            if not optimizers:
                raise usage("model", _WHOSE + "at least one optimizer", result)
            return optimizers[0], list(schedulers), len(optimizers)
        first, configs, _ = _parts(result[0])  # several optimizers (or optimizer dicts): the first trains
        return first, configs, len(result)
    raise usage("model", _WHOSE + _SHAPES, result,
                fix="return the optimizer from configure_optimizers, or pass optimizer= to the check")


class Configured:
    """The optimizer configure_optimizers built on the copy, and the schedulers that step it."""

    def __init__(self, module: torch.nn.Module):
        try:
            result = module.configure_optimizers()
        except Exception as exc:  # most often it reads self.trainer, which a check has not got
            said = (str(exc).splitlines() or [""])[0]
            raise usage("model", "a LightningModule whose configure_optimizers() runs without a Trainer",
                        fix=f"calling it on the copy raised {type(exc).__name__}: {said}; pass optimizer= "
                            "(e.g. optimizer=lambda params: torch.optim.Adam(params, lr=1e-3))") from None
        optimizer, configs, self.count = _parts(result)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise usage("model", _WHOSE + "a torch.optim.Optimizer (first, when there are several)", optimizer)
        mine = {id(p) for p in module.parameters()}
        if any(id(p) not in mine for g in optimizer.param_groups for p in g["params"]):
            raise usage("model", _WHOSE + "an optimizer over the module's own parameters (self.parameters())",
                        fix="it holds parameters that are not the module's: build it from self.parameters() "
                            "inside configure_optimizers, not from another model or a global")
        # schedulers of the other optimizers (a GAN's second one) do not concern the first
        self.schedules = [s for s in map(_schedule, configs) if getattr(s.scheduler, "optimizer", None) is optimizer]
        self.optimizer = optimizer
        self.steps = 0

    def after_step(self) -> None:
        """Step the "step"-interval schedulers as Lightning does after each optimizer step."""
        self.steps += 1
        for schedule in self.schedules:
            if schedule.stepped and self.steps % schedule.frequency == 0:
                call_user("the LightningModule's lr scheduler", schedule.scheduler.step)

    def scale(self, factor: float) -> None:
        """Scale what the schedulers compute learning rates from (a probe scales the optimizer's
        rates; a scheduler that recomputes them from its base rates would undo that)."""
        for schedule in self.schedules:
            scheduler = schedule.scheduler
            if hasattr(scheduler, "base_lrs"):
                scheduler.base_lrs = [lr * factor for lr in scheduler.base_lrs]
        for group in self.optimizer.param_groups:
            for key in ("initial_lr", "max_lr", "min_lr"):  # OneCycleLR's and the warm-up schedulers'
                if isinstance(group.get(key), (int, float)):
                    group[key] = group[key] * factor

    def describe(self) -> str:
        groups = self.optimizer.param_groups
        # the rate as configured: a scheduler may already have moved "lr" (a warm-up starts lower)
        lr = groups[0].get("initial_lr", groups[0].get("lr")) if groups else None
        text = f"{type(self.optimizer).__name__}" + (f"(lr={lr:g})" if isinstance(lr, (int, float)) else "")
        if self.count > 1:
            text += f", the first of {self.count} optimizers"
        if self.schedules:
            text += "; " + "; ".join(s.describe() for s in self.schedules)
        return text


def manual_optimization(model: torch.nn.Module) -> bool:
    return getattr(model, "automatic_optimization", True) is False


def manual_error(model: object) -> Exception:
    return usage("model", "a LightningModule with automatic optimization", model,
                 fix="its automatic_optimization is False, so its training_step steps the optimizers itself "
                     "through self.optimizers(), which needs a Trainer: pass loss_fn= (and optimizer=), or "
                     "train_step= with your own step")
