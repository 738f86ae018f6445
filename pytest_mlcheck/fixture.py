"""The object the ``mlcheck`` fixture returns: one thin method per check."""

from __future__ import annotations

from typing import Any, Callable

from pytest_mlcheck.checks.common import TrainSpec
from pytest_mlcheck.errors import CheckFailed
from pytest_mlcheck.report import CheckResult
from pytest_mlcheck.settings import Settings


class Recorder:
    """Collects every result of a session for the terminal summary."""

    def __init__(self) -> None:
        self.results: list[tuple[str, CheckResult]] = []

    def add(self, nodeid: str, result: CheckResult) -> None:
        self.results.append((nodeid, result))


class MLCheck:
    """Training-sanity checks for a model. Each method runs real, short training or inference
    on a copy of the model, returns a :class:`CheckResult` when it passes and raises
    :class:`CheckFailed` (an ``AssertionError``) naming likely causes when it fails.

    ``seed=``, ``device=`` and ``max_seconds=`` on any call override the marker, the command
    line and the ini file, in that order.
    """

    def __init__(self, settings: Settings | None = None, recorder: Recorder | None = None, nodeid: str = ""):
        self.settings = settings or Settings()
        self._recorder = recorder
        self._nodeid = nodeid

    def _settings(self, overrides: dict[str, Any]) -> Settings:
        layer = {k: v for k, v in overrides.items() if v is not None}
        return self.settings.merged(layer, source="call argument") if layer else self.settings

    def _record(self, run: Callable[[], CheckResult]) -> CheckResult:
        try:
            result = run()
        except CheckFailed as failed:
            if self._recorder is not None and failed.result is not None:
                self._recorder.add(self._nodeid, failed.result)
            raise
        if self._recorder is not None:
            self._recorder.add(self._nodeid, result)
        return result

    def overfit_one_batch(
        self,
        model: Any,
        batch: Any,
        *,
        loss_fn: Callable | None = None,
        optimizer: Any = None,
        train_step: Callable | None = None,
        steps: int | None = None,
        output: Any = None,
        task: str | None = None,
        loss_ratio: float | None = None,
        seed: int | None = None,
        device: str | None = None,
        max_seconds: float | None = None,
    ) -> CheckResult:
        """Train a copy on one batch until it memorises it: for classification every sample is
        predicted right **and** the loss fell to ``loss_ratio`` of its start; otherwise the loss
        criterion alone. Stops at the first step the criterion holds, or after ``steps``."""
        from pytest_mlcheck.checks.overfit import overfit_one_batch

        settings = self._settings({"seed": seed, "device": device, "max_seconds": max_seconds})
        spec = TrainSpec(loss_fn=loss_fn, optimizer=optimizer, train_step=train_step, output=output)
        return self._record(lambda: overfit_one_batch(
            model, batch, spec=spec, settings=settings, steps=steps, task=task, loss_ratio=loss_ratio))

    def loss_decreases(
        self,
        model: Any,
        batches: Any,
        *,
        loss_fn: Callable | None = None,
        optimizer: Any = None,
        train_step: Callable | None = None,
        steps: int | None = None,
        output: Any = None,
        min_drop: float | None = None,
        seed: int | None = None,
        device: str | None = None,
        max_seconds: float | None = None,
    ) -> CheckResult:
        """Train a copy for ``steps`` steps over the batches (cycled); the median loss of the last
        quarter must be at least ``min_drop`` below the first quarter's, and every loss finite."""
        from pytest_mlcheck.checks.loss_decreases import loss_decreases

        settings = self._settings({"seed": seed, "device": device, "max_seconds": max_seconds})
        spec = TrainSpec(loss_fn=loss_fn, optimizer=optimizer, train_step=train_step, output=output)
        return self._record(lambda: loss_decreases(
            model, batches, spec=spec, settings=settings, steps=steps, min_drop=min_drop))
