"""The zero-code sanity run, ``pytest --mlcheck-model module:factory``: wiring (items, options,
usage errors, reports) through pytester runs; the checks themselves are tested in their own files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

# imported before any pytester run, which would drop a torch first imported inside it from sys.modules
# (and torch cannot be imported twice in one process)
torch = pytest.importorskip("torch")
# the same for torch._dynamo, which an optimizer's first step imports: re-imported after a pytester
# run dropped it, it registers its operator library twice and every later check in the process fails
pytest.importorskip("torch._dynamo")

FAST = ("-p", "no:hypothesispytest", "-p", "no:cacheprovider")
CHECKS = ("output_range", "batch_independence", "init_loss", "gradients_flow", "overfit_one_batch")

TORCH_MODELS = """
import torch
from torch import nn

def conv():
    return nn.Sequential(nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 16 * 16, 4))

def mlp():
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3))

def softmax_head():  # the same MLP with a softmax: cross-entropy then applies a second one
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 3), nn.Softmax(dim=1))

def regressor():
    return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 1))

def normed():  # a norm first: the input width is not the plugin's to guess
    return nn.Sequential(nn.BatchNorm1d(10), nn.Linear(10, 3))
"""

PLAIN_MODELS = """
def needs_args(width):
    raise AssertionError("never called")

def broken():
    raise RuntimeError("weights file missing")

not_a_model = 3
"""


@pytest.fixture
def torch_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")


def _outcomes(result: pytest.RunResult) -> dict[str, str]:
    """nodeid -> PASSED/FAILED/SKIPPED from a -v run's lines."""
    out = {}
    for line in result.outlines:
        for word in ("PASSED", "FAILED", "SKIPPED"):
            if line.startswith("mlcheck-model[") and f" {word}" in line:
                out[line.split(" ")[0]] = word
    return out


def test_a_correct_torch_factory_passes_every_check_in_a_directory_without_tests(
    pytester: pytest.Pytester, torch_env: None
) -> None:
    pytester.makepyfile(mymodels=TORCH_MODELS)
    result = pytester.runpytest_subprocess(*FAST, "-v", "--mlcheck-model", "mymodels:conv", "--junitxml=junit.xml",
                                           "--mlcheck-report", "report")
    assert _outcomes(result) == {f"mlcheck-model[mymodels:conv]::{c}": "PASSED" for c in CHECKS}
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*collected 5 items", "5 check(s): 5 passed, 0 failed*",
                                 "*mlcheck-model[[]mymodels:conv[]]::overfit_one_batch*overfit_one_batch*passed*"])
    # the same records as a fixture's checks: JUnit properties per item, and the report
    cases = {case.get("name"): case for case in ET.parse(pytester.path / "junit.xml").iter("testcase")}
    assert set(cases) == set(CHECKS)
    props = {p.get("name"): p.get("value") for p in cases["overfit_one_batch"].iter("property")}
    assert props["mlcheck.0.check"] == "overfit_one_batch" and props["mlcheck.0.verdict"] == "passed"
    records = json.loads((pytester.path / "report" / "mlcheck.json").read_text())["checks"]
    assert sorted(r["nodeid"] for r in records) == sorted(f"mlcheck-model[mymodels:conv]::{c}" for c in CHECKS)


def test_a_softmax_head_fed_to_cross_entropy_fails_naming_its_cause(pytester: pytest.Pytester, torch_env: None) -> None:
    pytester.makepyfile(mymodels=TORCH_MODELS)
    result = pytester.runpytest_subprocess(*FAST, "-v", "--mlcheck-model", "mymodels:softmax_head",
                                           "--mlcheck-model", "mymodels:mlp")
    outcomes = _outcomes(result)
    # the twin without the softmax passes everything
    assert all(outcomes[f"mlcheck-model[mymodels:mlp]::{c}"] == "PASSED" for c in CHECKS), outcomes
    assert outcomes["mlcheck-model[mymodels:softmax_head]::output_range"] == "FAILED"
    assert outcomes["mlcheck-model[mymodels:softmax_head]::overfit_one_batch"] == "FAILED"
    result.stdout.fnmatch_lines([
        "*_ mlcheck-model[[]mymodels:softmax_head[]]::output_range _*",
        "mlcheck.output_range: the outputs are probabilities (rows in [[]0, 1[]] summing to 1), not logits",
        "*cause output_activation: a softmax is applied in the model*",
    ])
    result.stdout.fnmatch_lines(["*cause loss_mismatch: outputs already sum to 1 per row*"])


def test_the_items_run_alongside_ordinary_tests_and_answer_to_k(pytester: pytest.Pytester, torch_env: None) -> None:
    pytester.makepyfile(mymodels=TORCH_MODELS)
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest_subprocess(*FAST, "-v", "--mlcheck-model", "mymodels:mlp", "-k", "plain or init_loss")
    result.assert_outcomes(passed=2, deselected=4)
    result.stdout.fnmatch_lines(["*test_plain.py::test_plain PASSED*",
                                 "mlcheck-model[[]mymodels:mlp[]]::init_loss PASSED*"])


def test_a_head_that_is_not_a_classifier_skips_the_labelled_checks_saying_why(
    pytester: pytest.Pytester, torch_env: None
) -> None:
    pytester.makepyfile(mymodels=TORCH_MODELS)
    result = pytester.runpytest(*FAST, "-v", "-rs", "--mlcheck-model", "mymodels:regressor")
    outcomes = _outcomes(result)
    assert outcomes == {**{f"mlcheck-model[mymodels:regressor]::{c}": "PASSED" for c in CHECKS[:2]},
                        **{f"mlcheck-model[mymodels:regressor]::{c}": "SKIPPED" for c in CHECKS[2:]}}
    result.stdout.fnmatch_lines(["SKIPPED*output has shape (8, 1), not (samples, classes)*random class labels*"])


def test_a_shape_it_cannot_infer_fails_asking_for_the_inputs_option_and_the_option_fixes_it(
    pytester: pytest.Pytester, torch_env: None
) -> None:
    pytester.makepyfile(mymodels=TORCH_MODELS)
    result = pytester.runpytest(*FAST, "--mlcheck-model", "mymodels:normed", "-k", "output_range")
    result.assert_outcomes(failed=1, deselected=4)
    result.stdout.fnmatch_lines(["MlcheckUsageError: --mlcheck-inputs: expected one sample's input shape for "
                                 "mymodels:normed*pass e.g. --mlcheck-inputs 3,32,32*"])
    fixed = pytester.runpytest(*FAST, "--mlcheck-model", "mymodels:normed", "--mlcheck-inputs", "10",
                               "-k", "output_range or gradients")
    fixed.assert_outcomes(passed=2, deselected=3)


def test_the_same_seed_gives_the_same_model_and_batch_and_another_seed_others(
    pytester: pytest.Pytester, torch_env: None
) -> None:
    pytester.makepyfile(mymodels=TORCH_MODELS)

    runs: list[int] = []

    def start_loss(seed: int) -> float:
        runs.append(seed)
        folder = pytester.path / f"report{len(runs)}"
        pytester.runpytest(*FAST, "--mlcheck-model", "mymodels:mlp", "-k", "init_loss", f"--mlcheck-seed={seed}",
                           "--mlcheck-report", str(folder)).assert_outcomes(passed=1)
        return json.loads((folder / "mlcheck.json").read_text())["checks"][0]["figures"]["loss_at_init"]

    first = start_loss(3)
    assert start_loss(3) == first
    assert start_loss(4) != first


def test_a_factory_that_needs_arguments_or_raises_fails_every_item_saying_so(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(plain=PLAIN_MODELS)
    result = pytester.runpytest(*FAST, "--mlcheck-model", "plain:needs_args", "--mlcheck-model", "plain:broken",
                                "--mlcheck-model", "plain:not_a_model")
    result.assert_outcomes(failed=15)
    result.stdout.fnmatch_lines([
        "building the model from plain:needs_args raised TypeError: *missing 1 required positional argument*"
        "the factory is called with no arguments*",
        "building the model from plain:broken raised RuntimeError: weights file missing (at *plain.py:* in broken)*",
        "building the model from plain:not_a_model raised TypeError: it names a int, neither a model nor a callable*",
    ])


@pytest.mark.parametrize(("spec", "fragment"), [
    ("plain:missing", "plain has no attribute 'missing' (it has broken, needs_args, not_a_model)"),
    ("no_such_module_here:build", "no module named 'no_such_module_here'"),
])
def test_a_missing_module_or_attribute_is_a_usage_error(pytester: pytest.Pytester, spec: str, fragment: str) -> None:
    pytester.makepyfile(plain=PLAIN_MODELS)
    result = pytester.runpytest(*FAST, "--mlcheck-model", spec)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    error = "\n".join(result.errlines)
    assert f"pytest-mlcheck: --mlcheck-model {spec}: {fragment}" in error, error
    assert "e.g. my_project.models:build" in error


def test_a_module_that_fails_to_import_fails_its_items_naming_the_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(shaky="import not_installed_dependency_xyz\n\ndef build():\n    pass\n")
    result = pytester.runpytest(*FAST, "--mlcheck-model", "shaky:build", "-k", "init_loss")
    result.assert_outcomes(failed=1, deselected=4)
    result.stdout.fnmatch_lines(["importing the module of shaky:build raised ModuleNotFoundError: "
                                 "No module named 'not_installed_dependency_xyz' (at *shaky.py:1 in <module>)"])


@pytest.mark.parametrize(("arguments", "fragments"), [
    (("--mlcheck-model", "mymodels"), ["--mlcheck-model", "'mymodels' is not module:factory", "my_project.models:build"]),
    (("--mlcheck-model", "m:b", "--mlcheck-inputs", "3,x"),
     ["--mlcheck-inputs", "'3,x' is not a comma-separated list of positive whole numbers", "for example 3,32,32"]),
    (("--mlcheck-model", "m:b", "--mlcheck-inputs", "3,0"), ["--mlcheck-inputs", "positive whole numbers"]),
    (("--mlcheck-model", "m:b", "--mlcheck-inputs", "int:30522"),
     ["--mlcheck-inputs", "'int:30522' gives the id range but no shape", "int:30522,128"]),
    (("--mlcheck-model", "m:b", "--mlcheck-inputs", "bool:3"),
     ["--mlcheck-inputs", "the prefix 'bool:' is not float: or int:", "int:30522,128"]),
    (("--mlcheck-inputs", "3,32,32"), ["--mlcheck-inputs: expected together with --mlcheck-model"]),
    (("--mlcheck-model", "m:a", "--mlcheck-model", "m:b", "--mlcheck-model", "m:c", "--mlcheck-inputs", "3",
      "--mlcheck-inputs", "4"), ["--mlcheck-inputs: expected once (for every model) or once per --mlcheck-model (3), got 2"]),
])
def test_bad_zero_code_options_are_usage_errors_that_say_how_to_fix_them(
    pytester: pytest.Pytester, arguments: tuple[str, ...], fragments: list[str]
) -> None:
    result = pytester.runpytest(*FAST, *arguments)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    error = "\n".join(result.errlines)
    for fragment in fragments:
        assert fragment in error, error


def test_the_inputs_grammar_reads_floats_and_token_ids() -> None:
    from pytest_mlcheck.model_spec import InputSpec, parse_inputs

    assert parse_inputs("3,32,32") == InputSpec("float", (3, 32, 32))
    assert parse_inputs(" float: 10 ") == InputSpec("float", (10,))
    assert parse_inputs("int:30522,128") == InputSpec("int", (128,), 30522)
    assert str(parse_inputs("INT:50,4,6")) == "int:50,4,6"


KERAS_MODELS = """
import keras

def dense():
    return keras.Sequential([keras.Input((10,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(3)])

def softmax_from_logits():  # compiled with a logits loss over a softmax head
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(32, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model

def tokens():
    return keras.Sequential([keras.Input((12,), dtype="int32"), keras.layers.Embedding(50, 8),
                             keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(4)])
"""


def test_keras_factories_run_with_inferred_shapes_and_a_compiled_loss_mismatch_fails(
    pytester: pytest.Pytester, torch_env: None
) -> None:
    pytester.makepyfile(kmodels=KERAS_MODELS)
    result = pytester.runpytest_subprocess(*FAST, "-v", "-W", "ignore::UserWarning", "--mlcheck-model", "kmodels:dense",
                                           "--mlcheck-model", "kmodels:tokens",
                                           "--mlcheck-model", "kmodels:softmax_from_logits")
    outcomes = _outcomes(result)
    failed = {k for k, v in outcomes.items() if v != "PASSED"}
    assert len(outcomes) == 15 and failed == {"mlcheck-model[kmodels:softmax_from_logits]::output_range"}, outcomes
    result.stdout.fnmatch_lines(["*cause output_activation*"])


def test_a_transformers_config_class_is_built_small_and_checked(pytester: pytest.Pytester, torch_env: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("transformers")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = pytester.runpytest_subprocess(*FAST, "-v", "--mlcheck-model", "transformers:BertConfig")
    assert _outcomes(result) == {f"mlcheck-model[transformers:BertConfig]::{c}": "PASSED" for c in CHECKS}


@pytest.mark.slow  # about a minute on a 2-core CPU
def test_a_keras_application_is_built_without_weights_at_the_given_shape(pytester: pytest.Pytester,
                                                                        torch_env: None) -> None:
    result = pytester.runpytest_subprocess(*FAST, "-v", "--mlcheck-model", "keras.applications:MobileNetV2",
                                           "--mlcheck-inputs", "32,32,3")
    assert _outcomes(result) == {f"mlcheck-model[keras.applications:MobileNetV2]::{c}": "PASSED" for c in CHECKS}
