"""The plugin is loaded into every pytest run: it must not import torch, tensorflow or keras
unless a check is actually called."""

from __future__ import annotations

import json
import sys

import pytest

FRAMEWORKS = ("torch", "tensorflow", "keras")
LOADED = f"sorted(m for m in sys.modules if m.split('.')[0] in {set(FRAMEWORKS)!r})"


def test_a_run_whose_tests_never_call_a_check_imports_no_ml_framework(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        f"""
        import json
        import sys

        def pytest_unconfigure(config):
            # After the terminal summary: the last plugin hook of the run.
            (config.rootpath / "frameworks.json").write_text(json.dumps({LOADED}))
        """
    )
    pytester.makepyfile(
        """
        import pytest

        def test_without_the_fixture():
            pass

        def test_with_the_fixture(mlcheck):
            assert mlcheck.settings.seed == 3

        @pytest.mark.mlcheck(seed=5, max_seconds=1)
        def test_with_a_marker(mlcheck):
            assert mlcheck.settings.seed == 5
        """
    )
    # --mlcheck-gpu too: CUDA is probed at the first check, never at start-up.
    result = pytester.runpytest_subprocess("--mlcheck-seed=3", "--mlcheck-gpu", "-v")
    result.assert_outcomes(passed=3)
    assert json.loads((pytester.path / "frameworks.json").read_text()) == []


def test_importing_the_package_and_the_plugin_imports_no_ml_framework(pytester: pytest.Pytester) -> None:
    code = (
        "import sys, pytest_mlcheck, pytest_mlcheck.plugin, pytest_mlcheck.checks.overfit_one_batch, "
        f"pytest_mlcheck.checks.loss_decreases; print('loaded:', {LOADED})"
    )
    result = pytester.run(sys.executable, "-c", code)
    assert result.ret == 0, result.errlines
    assert result.outlines == ["loaded: []"]


def _record_frameworks_at_exit(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        f"""
        import json
        import sys

        def pytest_unconfigure(config):
            # After the terminal summary: the last plugin hook of the run.
            (config.rootpath / "frameworks.json").write_text(json.dumps({LOADED}))
        """
    )


def _frameworks_loaded(pytester: pytest.Pytester) -> set[str]:
    return {m.split(".")[0] for m in json.loads((pytester.path / "frameworks.json").read_text())}


def test_a_torch_project_that_runs_a_torch_check_never_imports_tensorflow_or_keras(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    _record_frameworks_at_exit(pytester)
    pytester.makepyfile(
        """
        import torch
        from torch import nn

        def test_a_linear_model_fits_one_batch(mlcheck):
            torch.manual_seed(0)
            x = torch.randn(16, 4)
            y = x[:, :3].argmax(dim=1)  # a linear rule, so one batch can be fitted
            result = mlcheck.overfit_one_batch(nn.Linear(4, 3), (x, y), loss_fn=nn.CrossEntropyLoss(),
                                               optimizer=lambda p: torch.optim.Adam(p, lr=0.1))
            assert result.passed and result.steps > 1
        """
    )
    result = pytester.runpytest_subprocess("-v")
    result.assert_outcomes(passed=1)
    assert _frameworks_loaded(pytester) == {"torch"}


def test_a_keras_project_that_runs_a_keras_check_never_imports_torch(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    _record_frameworks_at_exit(pytester)
    pytester.makepyfile(
        """
        import keras
        import numpy as np

        def test_a_dense_model_fits_one_batch(mlcheck):
            x = np.random.default_rng(0).normal(size=(16, 4)).astype("float32")
            y = x[:, :3].argmax(axis=1)  # a linear rule, so one batch can be fitted
            model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
            model.compile(optimizer=keras.optimizers.Adam(0.1),
                          loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
            result = mlcheck.overfit_one_batch(model, (x, y))
            assert result.passed and result.steps > 1
        """
    )
    result = pytester.runpytest_subprocess("-v")
    result.assert_outcomes(passed=1)
    assert _frameworks_loaded(pytester) == {"keras", "tensorflow"}
