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

    ``seed=``, ``device=``, ``max_seconds=`` and ``examples=``, on the methods that take them,
    override the marker, the command line and the ini file, in that order.
    """

    def __init__(self, settings: Settings | None = None, recorder: Recorder | None = None, nodeid: str = ""):
        self.settings = settings or Settings()
        self._recorder = recorder
        self._nodeid = nodeid

    def _settings(self, overrides: dict[str, Any]) -> Settings:
        layer = {k: v for k, v in overrides.items() if v is not None}
        return self.settings.merged(layer, source="call argument") if layer else self.settings

    def _each(self, check: str, value: Any, settings: Settings, one: Callable[[Any], CheckResult],
              judgeable: Callable[[Any], bool] | None = None, argument: str = "inputs") -> CheckResult:
        """``one(value)``; or, when ``value`` is a Hypothesis strategy, ``one`` on each example drawn."""
        from pytest_mlcheck.checks.properties import for_all, is_strategy

        if not is_strategy(value):
            return one(value)
        return for_all(check, value, settings, one, judgeable=judgeable, argument=argument)

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

    def output_range(
        self,
        model: Any,
        inputs: Any,
        *,
        kind: str | None = None,
        low: float | None = None,
        high: float | None = None,
        num_classes: int | None = None,
        output: Any = None,
        seed: int | None = None,
        device: str | None = None,
        max_seconds: float | None = None,
        examples: int | None = None,
    ) -> CheckResult:
        """Eval-mode outputs on ``inputs`` are finite and fit ``kind``: "logits" (not already
        probabilities, not all ≥ 0), "probabilities" (each in [0, 1], rows summing to 1) or
        "sigmoid" (each in [0, 1]); and/or lie within ``low``/``high``; and/or the head has
        ``num_classes`` outputs. The message names the worst sample and value."""
        from pytest_mlcheck.checks.output_range import output_range

        settings = self._settings({"seed": seed, "device": device, "max_seconds": max_seconds, "examples": examples})
        return self._record(lambda: self._each("output_range", inputs, settings, lambda x: output_range(
            model, x, settings=settings, kind=kind, low=low, high=high, num_classes=num_classes, output=output)))

    def not_constant_predictions(
        self,
        model: Any,
        inputs: Any,
        *,
        train_on: Any = None,
        loss_fn: Callable | None = None,
        optimizer: Any = None,
        train_step: Callable | None = None,
        output: Any = None,
        steps: int | None = None,
        max_share: float | None = None,
        seed: int | None = None,
        device: str | None = None,
        max_seconds: float | None = None,
        examples: int | None = None,
    ) -> CheckResult:
        """Distinct ``inputs`` do not all get one class (no class above ``max_share`` of the
        predictions) or, for one-output models, one value. With ``train_on`` a copy is first
        trained ``steps`` steps on those batches, since collapse to the majority class shows
        after training."""
        from pytest_mlcheck.checks.not_constant import enough_distinct, not_constant_predictions

        settings = self._settings({"seed": seed, "device": device, "max_seconds": max_seconds, "examples": examples})
        spec = TrainSpec(loss_fn=loss_fn, optimizer=optimizer, train_step=train_step, output=output)
        return self._record(lambda: self._each("not_constant_predictions", inputs, settings, lambda x: (
            not_constant_predictions(model, x, settings=settings, spec=spec, train_on=train_on, steps=steps,
                                     max_share=max_share)), judgeable=enough_distinct))

    def preprocessing_parity(
        self,
        train_pipeline: Callable,
        eval_pipeline: Callable,
        raw_samples: Any,
        *,
        atol: float | None = None,
        rtol: float | None = None,
        seed: int | None = None,
        max_seconds: float | None = None,
        examples: int | None = None,
    ) -> CheckResult:
        """Each raw sample through both pipelines gives the same shape, dtype and values (within
        ``atol``/``rtol``). Global RNGs are seeded the same for both calls on a sample and
        restored after; compare the deterministic parts of pipelines with random augmentation."""
        from pytest_mlcheck.checks.parity import preprocessing_parity

        settings = self._settings({"seed": seed, "max_seconds": max_seconds, "examples": examples})
        return self._record(lambda: self._each("preprocessing_parity", raw_samples, settings, lambda raw: (
            preprocessing_parity(train_pipeline, eval_pipeline, raw, settings=settings, atol=atol, rtol=rtol)),
            argument="raw_samples"))

    def label_roundtrip(
        self,
        encode: Any,
        decode: Any,
        labels: Any,
        *,
        num_classes: int | None = None,
        model: Any = None,
        inputs: Any = None,
        output: Any = None,
        seed: int | None = None,
        device: str | None = None,
        max_seconds: float | None = None,
        examples: int | None = None,
    ) -> CheckResult:
        """Every label survives ``decode(encode(label))``; codes are distinct and contiguous
        0..C-1 (within 0..num_classes-1 when given); with ``model`` and ``inputs`` the head's
        width is C. ``encode``/``decode`` are callables or dicts (``decode`` may be a list)."""
        from pytest_mlcheck.checks.label_roundtrip import label_roundtrip

        settings = self._settings({"seed": seed, "device": device, "max_seconds": max_seconds, "examples": examples})
        return self._record(lambda: self._each("label_roundtrip", labels, settings, lambda drawn: label_roundtrip(
            encode, decode, drawn, settings=settings, num_classes=num_classes, model=model, inputs=inputs,
            output=output), argument="labels"))

    # -- recipe checks ----------------------------------------------------------------------
    def init_loss(
        self,
        model: Any,
        batch: Any,
        *,
        loss_fn: Callable | None = None,
        expected: float | None = None,
        num_classes: int | None = None,
        output: Any = None,
        tolerance: float | None = None,
        seed: int | None = None,
        device: str | None = None,
        max_seconds: float | None = None,
    ) -> CheckResult:
        """The untrained model's loss on ``batch`` (eval mode) is within a factor ``1 + tolerance``
        of ``expected``: by default what the same loss gives an uninformative prediction on the
        same targets (zero logits, uniform probabilities, or 0.5 for sigmoid outputs), which is
        ln C for plain softmax cross-entropy and right for class weights or label smoothing too."""
        from pytest_mlcheck.checks.init_loss import init_loss

        settings = self._settings({"seed": seed, "device": device, "max_seconds": max_seconds})
        spec = TrainSpec(loss_fn=loss_fn, output=output)
        return self._record(lambda: init_loss(
            model, batch, spec=spec, settings=settings, expected=expected, num_classes=num_classes,
            tolerance=tolerance))

    def gradients_flow(
        self,
        model: Any,
        batch: Any,
        *,
        loss_fn: Callable | None = None,
        optimizer: Any = None,
        train_step: Callable | None = None,
        output: Any = None,
        seed: int | None = None,
        device: str | None = None,
        max_seconds: float | None = None,
    ) -> CheckResult:
        """After one training step on a copy, every trainable parameter got a finite, non-zero
        gradient and changed, and the optimizer covers it; frozen parameters stayed put. The
        message lists per-layer gradient norms and names dead, vanishing or exploding layers."""
        from pytest_mlcheck.checks.gradients_flow import gradients_flow

        settings = self._settings({"seed": seed, "device": device, "max_seconds": max_seconds})
        spec = TrainSpec(loss_fn=loss_fn, optimizer=optimizer, train_step=train_step, output=output)
        return self._record(lambda: gradients_flow(model, batch, spec=spec, settings=settings))

    def batch_independence(
        self,
        model: Any,
        inputs: Any,
        *,
        output: Any = None,
        seed: int | None = None,
        device: str | None = None,
        max_seconds: float | None = None,
        examples: int | None = None,
    ) -> CheckResult:
        """In eval mode, output i does not depend on input j ≠ i: changing one sample leaves the
        others' outputs unchanged (forward), and the gradient of output i reaches no other sample
        (backward, for float inputs)."""
        from pytest_mlcheck.checks.batch_independence import batch_independence, judgeable

        settings = self._settings({"seed": seed, "device": device, "max_seconds": max_seconds, "examples": examples})
        return self._record(lambda: self._each("batch_independence", inputs, settings, lambda x: batch_independence(
            model, x, settings=settings, output=output), judgeable=judgeable))

    def inputs_normalized(
        self,
        inputs: Any,
        *,
        model: Any = None,
        seed: int | None = None,
        device: str | None = None,
    ) -> CheckResult:
        """Inputs are floating point at about unit scale (no uint8, no 0–255 or 0–16 ranges, no
        values squashed near zero). With ``model`` it judges what reaches the model's first layer
        holding a weight matrix or kernel, so a model that rescales inside passes, and integer
        ids into an embedding pass."""
        from pytest_mlcheck.checks.inputs_normalized import inputs_normalized

        settings = self._settings({"seed": seed, "device": device})
        return self._record(lambda: inputs_normalized(inputs, model=model, settings=settings))

    def input_independent_baseline(
        self,
        model: Any,
        batch: Any,
        *,
        loss_fn: Callable | None = None,
        optimizer: Any = None,
        train_step: Callable | None = None,
        steps: int | None = None,
        output: Any = None,
        margin: float | None = None,
        seed: int | None = None,
        device: str | None = None,
        max_seconds: float | None = None,
    ) -> CheckResult:
        """Split ``batch`` into a training half and a held-out half; train one copy on the real
        inputs and another on zeroed inputs; on the held-out half the real-input copy must beat
        the zero-input one by ``margin`` (accuracy for class targets, relative loss otherwise)."""
        from pytest_mlcheck.checks.baseline import input_independent_baseline

        settings = self._settings({"seed": seed, "device": device, "max_seconds": max_seconds})
        spec = TrainSpec(loss_fn=loss_fn, optimizer=optimizer, train_step=train_step, output=output)
        return self._record(lambda: input_independent_baseline(
            model, batch, spec=spec, settings=settings, steps=steps, margin=margin))

    def no_split_leakage(
        self,
        train: Any,
        test: Any,
        *,
        max_overlap: float = 0.0,
        atol: float | None = None,
        max_seconds: float | None = None,
    ) -> CheckResult:
        """No test sample's inputs also occur in ``train`` (exact content match, or within
        ``atol`` element-wise when given, compared pairwise under the time cap); at most
        ``max_overlap`` of the test samples may."""
        from pytest_mlcheck.checks.leakage import no_split_leakage

        settings = self._settings({"max_seconds": max_seconds})
        return self._record(lambda: no_split_leakage(
            train, test, settings=settings, max_overlap=max_overlap, atol=atol))
