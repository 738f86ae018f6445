"""pytest hooks only: options, ini keys, the marker and the fixture; run-wide state and the
terminal summary live in :class:`~pytest_mlcheck.session.MlcheckSession`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

import pytest

from pytest_mlcheck.errors import MlcheckUsageError
from pytest_mlcheck.fixture import MLCheck
from pytest_mlcheck.model_spec import parse_inputs, parse_model_spec
from pytest_mlcheck.session import MlcheckSession
from pytest_mlcheck.settings import (
    DEFAULT_EXAMPLES, DEFAULT_MAX_SECONDS, DEFAULT_SEED, Settings, parse_device, parse_examples, parse_seconds,
    parse_seed,
)

KEYS = ("gpu", "device", "seed", "max_seconds", "examples")

SESSION_KEY = pytest.StashKey[MlcheckSession]()

MARKER = (
    "mlcheck(seed=None, device=None, gpu=None, max_seconds=None, examples=None): settings for the mlcheck "
    "checks in this test; they override the command line and the ini file"
)


def _argtype(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(value: str) -> Any:
        try:
            return parse(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    convert.__name__ = parse.__name__.replace("parse_", "")
    return convert


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlcheck", "training-sanity checks (pytest-mlcheck)")
    group.addoption("--mlcheck-gpu", action="store_true", dest="mlcheck_gpu", default=None,
                    help="run checks on CUDA; a check fails with a usage error when there is none. "
                         "Default: off (CPU).")
    group.addoption("--mlcheck-device", action="store", dest="mlcheck_device", default=None,
                    type=_argtype(parse_device), metavar="DEVICE",
                    help="device for checks: cpu, cuda or cuda:N. Default: cpu.")
    group.addoption("--mlcheck-seed", action="store", dest="mlcheck_seed", default=None,
                    type=_argtype(parse_seed), metavar="SEED",
                    help=f"seed for every check's RNGs (the user's global RNGs are restored). Default: {DEFAULT_SEED}.")
    group.addoption("--mlcheck-max-seconds", action="store", dest="mlcheck_max_seconds", default=None,
                    type=_argtype(parse_seconds), metavar="SECONDS",
                    help=f"time cap per check, checked between steps. Default: {DEFAULT_MAX_SECONDS:g}.")
    group.addoption("--mlcheck-examples", action="store", dest="mlcheck_examples", default=None,
                    type=_argtype(parse_examples), metavar="N",
                    help=f"Hypothesis examples a check draws when given a strategy. Default: {DEFAULT_EXAMPLES}.")
    group.addoption("--mlcheck-report", action="store", dest="mlcheck_report", default=None, metavar="DIR",
                    help="write mlcheck.json, a loss curve per training check (with matplotlib) and index.html "
                         "of every check to DIR. Default: no files.")
    group.addoption("--mlcheck-model", action="append", dest="mlcheck_model", default=None,
                    type=_argtype(parse_model_spec), metavar="MODULE:FACTORY",
                    help="zero-code sanity run: build this model with random weights and run the checks that "
                         "need no data on a synthesised batch, one test item per check (may be repeated). "
                         "Default: none.")
    group.addoption("--mlcheck-inputs", action="append", dest="mlcheck_inputs", default=None,
                    type=_argtype(parse_inputs), metavar="SHAPE",
                    help="one sample's input for the zero-code run: 3,32,32 (floats) or int:30522,128 (token "
                         "ids below 30522, length 128); once for every model or once per model. "
                         "Default: inferred from the model.")
    parser.addini("mlcheck_report", "directory for the mlcheck report files. Default: no files.", default=None)
    parser.addini("mlcheck_gpu", "run mlcheck checks on CUDA (true/false). Default: false.", default=None)
    parser.addini("mlcheck_device", "device for mlcheck checks: cpu, cuda or cuda:N. Default: cpu.", default=None)
    parser.addini("mlcheck_seed", f"seed for mlcheck checks. Default: {DEFAULT_SEED}.", default=None)
    parser.addini("mlcheck_max_seconds", f"time cap per mlcheck check. Default: {DEFAULT_MAX_SECONDS:g}.",
                  default=None)
    parser.addini("mlcheck_examples", f"Hypothesis examples per mlcheck check given a strategy. "
                                      f"Default: {DEFAULT_EXAMPLES}.", default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    ini = {key: config.getini(f"mlcheck_{key}") for key in KEYS}
    ini = {k: v for k, v in ini.items() if v not in (None, "")}
    cli = {key: config.getoption(f"mlcheck_{key}") for key in KEYS}
    ini_names = {key: f"mlcheck_{key}" for key in ini}
    cli_names = {key: "--mlcheck-" + key.replace("_", "-") for key in cli}
    try:
        settings = Settings().merged(ini, source="ini", names=ini_names).merged(
            cli, source="command line", names=cli_names)
    except MlcheckUsageError as exc:
        if config.option.help:  # let --help show how to fix it
            settings = Settings()
        else:
            raise pytest.UsageError(f"pytest-mlcheck: {exc}") from None
    report = config.getoption("mlcheck_report") or config.getini("mlcheck_report") or None
    session = MlcheckSession(config, settings, Path(report).resolve() if report else None)
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(session, "mlcheck-session")
    models = config.getoption("mlcheck_model") or []
    inputs = config.getoption("mlcheck_inputs") or []
    if (models or inputs) and not config.option.help:
        from pytest_mlcheck.zero_code import ZeroCodeRun, pair_inputs

        config.pluginmanager.register(ZeroCodeRun(pair_inputs(models, inputs)), "mlcheck-zero-code")


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(SESSION_KEY, None)
    if session is not None:
        config.pluginmanager.unregister(session)
    zero_code = config.pluginmanager.get_plugin("mlcheck-zero-code")
    if zero_code is not None:
        config.pluginmanager.unregister(zero_code)


@pytest.fixture
def mlcheck(request: pytest.FixtureRequest) -> MLCheck:
    """Training-sanity checks for torch and Keras models: ``mlcheck.overfit_one_batch(...)`` and friends."""
    session = request.config.stash[SESSION_KEY]
    settings = session.settings
    # Markers merge from the farthest (module, class) to the closest (the function).
    for marker in reversed(list(request.node.iter_markers("mlcheck"))):
        if marker.args:
            raise MlcheckUsageError(
                "@pytest.mark.mlcheck takes keyword arguments only, e.g. @pytest.mark.mlcheck(seed=1)"
            )
        settings = settings.merged(marker.kwargs, source="@pytest.mark.mlcheck")
    return MLCheck(settings, session.recorder(request.node))

