"""The house the checks live in: one declaration per check, with_defaults, the cause registry,
framework-specific fixes and machine-readable figures."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import keras_corpus as kc
from pytest_mlcheck import CAUSES, CheckFailed, MLCheck, MlcheckUsageError, Settings
from pytest_mlcheck.checks import runner
from torch_corpus import DigitsCNN, digits_batch

README = Path(__file__).resolve().parents[1] / "README.md"
CHECKS = [name for name, value in vars(MLCheck).items() if callable(value) and not name.startswith("_")
          and name not in ("record", "with_defaults")]


def test_every_check_is_a_binding_of_its_module_function() -> None:
    assert len(CHECKS) == 12
    for name in CHECKS:
        module = importlib.import_module(f"pytest_mlcheck.checks.{name}")  # each module is named after its method
        declared = getattr(module, name)
        assert isinstance(declared, runner.Check), name
        method = getattr(MLCheck, name)
        # IDE help and inspect show the module function's own signature and docstring
        public = list(inspect.signature(method).parameters)
        assert public[0] == "self" and public[1:] == list(declared.signature.parameters), name
        assert method.__doc__ == declared.function.__doc__ and method.__doc__, name
        assert list(inspect.signature(MLCheck().__getattribute__(name)).parameters) == public[1:]


def test_every_keyword_after_the_data_is_keyword_only_and_settings_come_last() -> None:
    for name in CHECKS:
        params = list(inspect.signature(getattr(MLCheck, name)).parameters.values())[1:]
        keyword = [p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY]
        settings = [k for k in keyword if k in runner.SETTING_KEYWORDS]
        assert keyword[-len(settings):] == settings, name
        assert [p for p in params if p.kind is inspect.Parameter.VAR_KEYWORD] == [], name


def test_with_defaults_gives_shared_arguments_to_the_checks_that_take_them() -> None:
    check = MLCheck().with_defaults(loss_fn=nn.CrossEntropyLoss(), optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    torch.manual_seed(0)
    result = check.overfit_one_batch(DigitsCNN(), digits_batch(16))  # no loss_fn at the call
    assert result.passed and not result.notes  # the optimizer came too: no "default optimizer" note
    assert check.init_loss(DigitsCNN(), digits_batch(32)).passed
    # a check without the argument is unaffected
    assert check.inputs_normalized(digits_batch(32)[0]).passed


def test_a_call_argument_overrides_with_defaults_which_overrides_the_fixture_settings() -> None:
    base = MLCheck(Settings(seed=3))
    configured = base.with_defaults(seed=5, max_seconds=30)
    assert (configured.settings.seed, configured.settings.max_seconds) == (5, 30)
    assert base.settings.seed == 3  # a copy: the original is unchanged
    x = digits_batch(32)[0]
    assert configured.batch_independence(DigitsCNN(), x).seed == 5
    assert configured.batch_independence(DigitsCNN(), x, seed=7).seed == 7
    assert configured.with_defaults(seed=9).with_defaults(device="cpu").settings.seed == 9


def test_with_defaults_refuses_what_it_cannot_set() -> None:
    with pytest.raises(MlcheckUsageError, match=r"^min_drop: expected one of the with_defaults keywords"):
        MLCheck().with_defaults(min_drop=0.5)
    with pytest.raises(MlcheckUsageError, match=r"with_defaults: seed"):
        MLCheck().with_defaults(seed=-1)


def test_a_misspelt_keyword_is_a_type_error_naming_it() -> None:
    with pytest.raises(TypeError, match="loss_ratio"):
        MLCheck().overfit_one_batch(DigitsCNN(), digits_batch(8), loss_fn=nn.CrossEntropyLoss(), loss_ratio=0.1)


def test_the_readme_causes_table_lists_exactly_the_registered_causes() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Causes named so far", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| ((?:`[a-z_]+`(?:, )?)+) \|", section, flags=re.M))
    ids = {i for row in listed for i in re.findall(r"`([a-z_]+)`", row)}
    assert ids == set(CAUSES)


def test_every_cause_has_a_meaning_and_a_fix_in_each_framework() -> None:
    for cause in CAUSES.values():
        assert cause.meaning and cause.torch and cause.keras, cause.id
    torch_only = ("zero_grad", ".float()", "requires_grad", "clip_grad", "x.view")
    for cause in CAUSES.values():
        assert not any(word in cause.keras for word in torch_only), cause.id


def test_a_failure_shows_the_fix_for_the_framework_of_the_model() -> None:
    check = MLCheck()
    with pytest.raises(CheckFailed) as torch_failed:
        check.inputs_normalized(digits_batch(32, scale="raw")[0], model=DigitsCNN())
    assert torch_failed.value.causes[0] == "inputs_not_normalized"
    assert "fix: convert to float and scale (x.float() / 255)" in str(torch_failed.value)
    model = kc.cnn()
    with pytest.raises(CheckFailed) as keras_failed:
        check.inputs_normalized(kc.digits_arrays(32, scale="uint8")[0], model=model)
    assert "fix: scale inside the model (layers.Rescaling(1/255)" in str(keras_failed.value)
    assert "x.float()" not in str(keras_failed.value)


def test_figures_are_machine_readable() -> None:
    torch.manual_seed(0)
    result = MLCheck().loss_decreases(DigitsCNN(), [digits_batch(32)], loss_fn=nn.CrossEntropyLoss(),
                                      optimizer=lambda p: torch.optim.Adam(p, lr=1e-2), steps=20)
    for key, value in result.figures.items():
        assert re.fullmatch(r"[a-z_]+", key), key
        assert isinstance(value, (int, float, str, tuple, dict, np.integer, np.floating)), (key, value)
    assert 0 < result.figures["drop"] <= 1 and result.figures["min_drop"] == 0.1
