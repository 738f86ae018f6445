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
        "import sys, pytest_mlcheck, pytest_mlcheck.plugin, pytest_mlcheck.checks.overfit, "
        f"pytest_mlcheck.checks.loss_decreases; print('loaded:', {LOADED})"
    )
    result = pytester.run(sys.executable, "-c", code)
    assert result.ret == 0, result.errlines
    assert result.outlines == ["loaded: []"]
