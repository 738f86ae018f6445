"""The object the ``mlcheck`` fixture returns: each method is a check declared in its own module
under ``checks/`` (its signature and docstring are that function's), plus ``with_defaults``."""

from __future__ import annotations

from typing import Any, Callable

from pytest_mlcheck.checks.batch_independence import batch_independence as _batch_independence
from pytest_mlcheck.checks.gradients_flow import gradients_flow as _gradients_flow
from pytest_mlcheck.checks.init_loss import init_loss as _init_loss
from pytest_mlcheck.checks.input_independent_baseline import input_independent_baseline as _baseline
from pytest_mlcheck.checks.inputs_normalized import inputs_normalized as _inputs_normalized
from pytest_mlcheck.checks.label_roundtrip import label_roundtrip as _label_roundtrip
from pytest_mlcheck.checks.loss_decreases import loss_decreases as _loss_decreases
from pytest_mlcheck.checks.no_split_leakage import no_split_leakage as _no_split_leakage
from pytest_mlcheck.checks.not_constant_predictions import not_constant_predictions as _not_constant
from pytest_mlcheck.checks.output_range import output_range as _output_range
from pytest_mlcheck.checks.overfit_one_batch import overfit_one_batch as _overfit_one_batch
from pytest_mlcheck.checks.preprocessing_parity import preprocessing_parity as _preprocessing_parity
from pytest_mlcheck.checks.runner import SETTING_KEYWORDS, bind
from pytest_mlcheck.errors import usage
from pytest_mlcheck.report import CheckResult
from pytest_mlcheck.settings import Settings

# What with_defaults may set besides the settings: arguments many checks share.
SHARED_ARGUMENTS = ("loss_fn", "optimizer", "train_step", "output")


class MLCheck:
    """Training-sanity checks for a model. Each method runs real, short training or inference
    on a copy of the model, returns a :class:`CheckResult` when it passes and raises
    :class:`CheckFailed` (an ``AssertionError``) naming likely causes when it fails.

    ``seed=``, ``device=``, ``max_seconds=`` and ``examples=``, on the methods that take them,
    override :meth:`with_defaults`, the marker, the command line and the ini file, in that order.
    """

    def __init__(self, settings: Settings | None = None, record: Callable[[CheckResult], None] | None = None,
                 *, defaults: dict[str, Any] | None = None) -> None:
        self.settings = settings or Settings()
        self.defaults = dict(defaults or {})
        self._record = record

    def record(self, result: CheckResult) -> None:
        if self._record is not None:
            self._record(result)

    def with_defaults(self, **defaults: Any) -> MLCheck:
        """Return a copy whose checks use these values where a call does not give them:
        ``seed``, ``device``, ``max_seconds``, ``examples`` (as settings) and ``loss_fn``,
        ``optimizer``, ``train_step``, ``output`` (for the checks that take them). Chains:
        ``mlcheck.with_defaults(loss_fn=...).with_defaults(seed=1)``."""
        allowed = SETTING_KEYWORDS + SHARED_ARGUMENTS
        unknown = sorted(set(defaults) - set(allowed))
        if unknown:
            raise usage(", ".join(unknown), f"one of the with_defaults keywords {', '.join(allowed)}",
                        fix="Pass other arguments to the check itself")
        layer = {k: v for k, v in defaults.items() if k in SETTING_KEYWORDS and v is not None}
        settings = self.settings.merged(layer, source="with_defaults") if layer else self.settings
        shared = {k: v for k, v in defaults.items() if k in SHARED_ARGUMENTS and v is not None}
        return MLCheck(settings, self._record, defaults={**self.defaults, **shared})

    overfit_one_batch = bind(_overfit_one_batch)
    loss_decreases = bind(_loss_decreases)
    output_range = bind(_output_range)
    not_constant_predictions = bind(_not_constant)
    preprocessing_parity = bind(_preprocessing_parity)
    label_roundtrip = bind(_label_roundtrip)
    # -- recipe checks ----------------------------------------------------------------------
    init_loss = bind(_init_loss)
    gradients_flow = bind(_gradients_flow)
    batch_independence = bind(_batch_independence)
    inputs_normalized = bind(_inputs_normalized)
    input_independent_baseline = bind(_baseline)
    no_split_leakage = bind(_no_split_leakage)
