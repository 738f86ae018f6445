"""Command-line options and ini keys: bad values are usage errors that say how to fix them."""

from __future__ import annotations

import pytest

# Hypothesis's pytest plugin imports hypothesis at the end of every in-process run (~1 s); not needed here.
FAST = ("-p", "no:hypothesispytest")

SHOW_SETTINGS = """
def test_show(mlcheck):
    s = mlcheck.settings
    print(f"[device={s.device} seed={s.seed} max_seconds={s.max_seconds:g} examples={s.examples}]")
"""


@pytest.mark.parametrize(
    ("argument", "fragments"),
    [
        ("--mlcheck-device=tpu", ["--mlcheck-device", "'tpu'", "for example cuda:0"]),
        ("--mlcheck-seed=abc", ["--mlcheck-seed", "'abc' is not an integer", "pass a whole number"]),
        ("--mlcheck-seed=-1", ["--mlcheck-seed", "-1 is outside", "pass a non-negative 32-bit integer"]),
        ("--mlcheck-max-seconds=0", ["--mlcheck-max-seconds", "is not positive", "pass seconds such as 120"]),
        ("--mlcheck-examples=0", ["--mlcheck-examples", "0 is not positive", "a count of examples such as 50"]),
        ("--mlcheck-examples=many", ["--mlcheck-examples", "'many' is not a whole number"]),
    ],
)
def test_a_bad_command_line_value_is_a_usage_error_that_says_how_to_fix_it(
    pytester: pytest.Pytester, argument: str, fragments: list[str]
) -> None:
    result = pytester.runpytest(argument)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    error = "\n".join(result.errlines)
    for fragment in fragments:
        assert fragment in error, error


def test_a_bad_ini_value_is_a_usage_error_naming_the_key(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmlcheck_seed = x\n")
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*pytest-mlcheck: ini: mlcheck_seed: 'x' is not an integer*"])
    result.stdout.no_fnmatch_line("*passed*")


def test_a_bad_ini_boolean_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmlcheck_gpu = maybe\n")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini: mlcheck_gpu: 'maybe' is not a boolean; use true or false*"])


def test_gpu_together_with_a_cpu_device_on_the_command_line_is_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--mlcheck-gpu", "--mlcheck-device=cpu")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*pytest-mlcheck: command line: --mlcheck-gpu contradicts --mlcheck-device='cpu'*"])


def test_good_values_are_normalised_before_a_check_sees_them(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SHOW_SETTINGS)
    result = pytester.runpytest(*FAST, "-s", "--mlcheck-device=GPU:1", "--mlcheck-seed= 7 ", "--mlcheck-max-seconds=2.5",
                                "--mlcheck-examples=12")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*[[]device=cuda:1 seed=7 max_seconds=2.5 examples=12[]]*"])


def test_gpu_alone_selects_the_default_cuda_device(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SHOW_SETTINGS)
    result = pytester.runpytest(*FAST, "-s", "--mlcheck-gpu")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*[[]device=cuda seed=0 max_seconds=120 examples=50[]]*"])


def test_gpu_without_cuda_fails_the_first_check_but_not_a_test_that_never_checks(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Hide any real GPU so the outcome does not depend on the machine.
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    pytester.makepyfile(
        """
        import sys

        def test_without_the_fixture():
            assert "torch" not in sys.modules

        def test_with_the_fixture_but_no_check(mlcheck):
            # CUDA is probed at the first check, never at start-up: torch is not even imported yet.
            assert "torch" not in sys.modules
            assert mlcheck.settings.device == "cuda"

        def test_that_checks(mlcheck):
            import torch
            from torch import nn

            batch = (torch.randn(16, 4), torch.randint(0, 3, (16,)))
            mlcheck.overfit_one_batch(nn.Linear(4, 3), batch, loss_fn=nn.CrossEntropyLoss())
        """
    )
    result = pytester.runpytest_subprocess(*FAST, "--mlcheck-gpu")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*DeviceUnavailable: device: 'cuda' was asked for*torch sees no CUDA device; run without --mlcheck-gpu*",
            "FAILED *::test_that_checks*",
        ]
    )


def test_gpu_without_cuda_stops_the_run_after_the_first_check_with_one_clear_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    pytester.makepyfile(
        """
        import torch
        from torch import nn

        def check(mlcheck):
            batch = (torch.randn(16, 4), torch.randint(0, 3, (16,)))
            mlcheck.overfit_one_batch(nn.Linear(4, 3), batch, loss_fn=nn.CrossEntropyLoss())

        def test_first(mlcheck):
            check(mlcheck)

        def test_second(mlcheck):
            check(mlcheck)

        def test_third(mlcheck):
            check(mlcheck)
        """
    )
    result = pytester.runpytest_subprocess(*FAST, "--mlcheck-gpu")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Interrupted: pytest-mlcheck: device: 'cuda' was asked for*no CUDA device*"])
    out = result.stdout.str()
    # One failure, not one per test: the raising line appears once and the later tests never ran.
    # (Counting every "DeviceUnavailable" depends on the terminal width of the short summary.)
    assert out.count("E       pytest_mlcheck.errors.DeviceUnavailable") == 1
    assert "test_second" not in out and "test_third" not in out
