"""The optimizer instance a user passed beside their own ``train_step``. The check trains a copy over the
copy's parameters, but a step that closes over a scheduler of the original (``scheduler.step()`` in the
loop body: ivadomed's cosine schedule) or sets its rate by hand changes the original instead. Each change
is applied to the copy, as the user's loop applies it to the optimizer it trains, and the original and the
schedulers over it are put back as found when the session closes."""

from __future__ import annotations

import contextlib
import copy
import gc
import warnings
from collections.abc import Iterator
from typing import Any

import torch


class UserOptimizer:
    """The user's optimizer beside the copy a session trains (see the module's docstring)."""

    def __init__(self, original: torch.optim.Optimizer) -> None:
        self.original = original
        self._kept = [_settings(g) for g in original.param_groups]
        self._seen = [_settings(g) for g in original.param_groups]
        # found once per session, only where a train_step is given with an optimizer instance (a heap scan:
        # ~0.06 s beside torch and TensorFlow); a scheduler's state is what its step() moves
        self._schedulers = [(s, copy.deepcopy(s.state_dict())) for s in _schedulers_of(original)]
        self._factor = [1.0] * len(self._kept)  # the copy's rate over the original's (a retry at lr×10: 10)
        self._first_change: tuple[Any, Any] | None = None  # the first learning rate the step changed: (from, to)
        self._said = False

    def scale(self, factor: float) -> None:
        """The check scaled the copy's learning rate: later changes keep that scale."""
        self._factor = [f * factor for f in self._factor]

    @contextlib.contextmanager
    def stepping(self, trained: torch.optim.Optimizer) -> Iterator[None]:
        """Around a call of the user's step: the original holds its schedule's settings while the step runs
        and the session's starting ones otherwise (a probe's session, opened meanwhile, copies those);
        what the step changed is applied to ``trained``, a learning rate at the copy's scale."""
        self._put(self._seen)
        try:
            with warnings.catch_warnings():
                # the original never steps (the copy's optimizer does): torch's warning that its scheduler
                # stepped first would be about the check, not the step
                warnings.filterwarnings("ignore", message=r"Detected call of `lr_scheduler\.step\(\)` before")
                yield
        finally:
            now = [_settings(g) for g in self.original.param_groups]
            self._put(self._kept)
        for i, (mine, seen, then) in enumerate(zip(trained.param_groups, self._seen, now)):
            for key, value in then.items():
                if key in seen and _same(value, seen[key]):
                    continue
                if key == "lr":
                    mine["lr"] = value * self._factor[i]
                    if self._first_change is None:
                        self._first_change = (seen.get(key), value)
                else:
                    mine[key] = copy.deepcopy(value)
        self._seen = now

    def note(self) -> str | None:
        """Once the step changed the learning rate, the line that says so (the first time it is asked)."""
        if self._first_change is None or self._said:
            return None
        self._said = True
        was, now = (f"{float(v):.6g}" for v in self._first_change)  # a schedule's first change may be small
        return (f"your train_step changed the learning rate of the optimizer you passed ({was} → {now}; a scheduler "
                "over it that the step calls?): the check trains a copy with an optimizer of its own, so it applied "
                "each change to that one, and put your optimizer and its schedulers back as they were")

    def restore(self) -> None:
        """The original's settings and its schedulers' states as they were when the session began."""
        self._put(self._kept)
        for scheduler, state in self._schedulers:
            scheduler.load_state_dict(copy.deepcopy(state))

    def _put(self, settings: list[dict[str, Any]]) -> None:
        for group, kept in zip(self.original.param_groups, settings):
            for key in [k for k in group if k != "params" and k not in kept]:
                del group[key]
            group.update(copy.deepcopy(kept))


def _settings(group: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and bool(torch.equal(a, b))
    try:
        return bool(a == b) or (a != a and b != b)  # NaN == NaN here
    except Exception:  # noqa: BLE001 - values that do not compare: treated as unchanged
        return True


def _schedulers_of(optimizer: torch.optim.Optimizer) -> list[Any]:
    """The learning-rate schedulers (ReduceLROnPlateau included) that drive ``optimizer``."""
    kind = torch.optim.lr_scheduler.LRScheduler
    found: dict[int, Any] = {}
    for ref in gc.get_referrers(optimizer):
        if isinstance(ref, kind) and ref.optimizer is optimizer:
            found[id(ref)] = ref
        elif isinstance(ref, dict) and ref.get("optimizer") is optimizer:  # an instance's __dict__
            for owner in gc.get_referrers(ref):
                if isinstance(owner, kind) and getattr(owner, "__dict__", None) is ref:
                    found[id(owner)] = owner
    return list(found.values())
