"""Settings precedence: call argument > marker > command line > ini file > default.

``mlcheck.settings`` is the fixture's merged settings before call arguments, so most layers are
observed without running a check (and without importing torch); one real check proves that a
call argument wins over all of them.
"""

from __future__ import annotations

import pytest

# Hypothesis's pytest plugin imports hypothesis at the end of every in-process run (~1 s); not needed here.
FAST = ("-p", "no:hypothesispytest")

SHOW_SEED = """
import pytest

def test_unmarked(mlcheck):
    print(f"[unmarked seed={mlcheck.settings.seed}]")

@pytest.mark.mlcheck(seed=3)
def test_marked(mlcheck):
    print(f"[marked seed={mlcheck.settings.seed}]")
"""


def _seeds(pytester: pytest.Pytester, *args: str, ini_seed: int | None = None) -> pytest.RunResult:
    if ini_seed is not None:
        pytester.makeini(f"[pytest]\nmlcheck_seed = {ini_seed}\n")
    pytester.makepyfile(SHOW_SEED)
    result = pytester.runpytest(*FAST, "-s", *args)
    result.assert_outcomes(passed=2)
    return result


def test_without_any_setting_a_test_gets_the_default_seed(pytester: pytest.Pytester) -> None:
    result = _seeds(pytester)
    result.stdout.fnmatch_lines(["*[[]unmarked seed=0[]]*"])


def test_the_ini_file_replaces_the_default(pytester: pytest.Pytester) -> None:
    result = _seeds(pytester, ini_seed=1)
    result.stdout.fnmatch_lines(["*[[]unmarked seed=1[]]*"])


def test_the_command_line_wins_over_the_ini_file(pytester: pytest.Pytester) -> None:
    result = _seeds(pytester, "--mlcheck-seed=2", ini_seed=1)
    result.stdout.fnmatch_lines(["*[[]unmarked seed=2[]]*"])


def test_a_marker_wins_over_the_command_line_and_the_ini_file_for_its_own_test_only(
    pytester: pytest.Pytester,
) -> None:
    result = _seeds(pytester, "--mlcheck-seed=2", ini_seed=1)
    result.stdout.fnmatch_lines(["*[[]unmarked seed=2[]]*", "*[[]marked seed=3[]]*"])


def test_each_layer_overrides_only_the_keys_it_names(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmlcheck_seed = 1\nmlcheck_max_seconds = 5\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.mlcheck(seed=3)
        def test_marked(mlcheck):
            s = mlcheck.settings
            print(f"[device={s.device} seed={s.seed} max_seconds={s.max_seconds:g}]")
        """
    )
    result = pytester.runpytest(*FAST, "-s", "--mlcheck-device=cuda:1")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*[[]device=cuda:1 seed=3 max_seconds=5[]]*"])


def test_a_call_argument_wins_over_the_marker_the_command_line_and_the_ini_file(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a 4x3 model; threads only add overhead
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    pytester.makeini("[pytest]\nmlcheck_seed = 1\n")
    pytester.makepyfile(
        """
        import pytest
        import torch
        from torch import nn

        def fit(mlcheck, **overrides):
            x = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
            y = x[:, :3].argmax(dim=1)  # linearly separable: a Linear(4, 3) can memorise it
            return mlcheck.overfit_one_batch(
                nn.Linear(4, 3), (x, y), loss_fn=nn.CrossEntropyLoss(),
                optimizer=lambda p: torch.optim.Adam(p, lr=0.1), **overrides,
            )

        @pytest.mark.mlcheck(seed=3, device="cuda")
        def test_call_arguments(mlcheck):
            result = fit(mlcheck, seed=4, device="cpu")
            assert (result.seed, result.device) == (4, "cpu")

        @pytest.mark.mlcheck(seed=3)
        def test_no_call_argument(mlcheck):
            result = fit(mlcheck)
            assert (result.seed, result.device) == (3, "cpu")
        """
    )
    result = pytester.runpytest_subprocess(*FAST, "--mlcheck-seed=2")
    result.assert_outcomes(passed=2)


def test_a_bad_call_argument_is_a_usage_error_naming_its_source(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from pytest_mlcheck import MlcheckUsageError

        def test_bad_seed(mlcheck):
            with pytest.raises(MlcheckUsageError, match=r"call argument: seed: -1 is outside"):
                mlcheck.overfit_one_batch(object(), None, seed=-1)
        """
    )
    pytester.runpytest(*FAST).assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("seed=1, sed=1", "*@pytest.mark.mlcheck: unknown key(s) sed; the keys are device, examples, gpu, max_seconds, seed*"),
        ("1", "*@pytest.mark.mlcheck takes keyword arguments only, e.g. @pytest.mark.mlcheck(seed=1)*"),
        ('gpu=True, device="cpu"', "*@pytest.mark.mlcheck: gpu=true contradicts device='cpu'; give one of them*"),
        ('seed="x"', "*@pytest.mark.mlcheck: seed: 'x' is not an integer*"),
    ],
    ids=["unknown-key", "positional", "contradiction", "bad-value"],
)
def test_a_bad_marker_errors_its_test_with_a_message_that_names_the_problem(
    pytester: pytest.Pytester, marker: str, message: str
) -> None:
    pytester.makepyfile(
        f"""
        import pytest

        @pytest.mark.mlcheck({marker})
        def test_marked(mlcheck):
            pass

        def test_unmarked(mlcheck):
            pass
        """
    )
    result = pytester.runpytest(*FAST)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_marked*", "E  *MlcheckUsageError: " + message.lstrip("*")])


def test_markers_merge_from_module_to_function_and_gpu_false_means_the_cpu(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.mlcheck(seed=3)

        @pytest.mark.mlcheck(max_seconds=5, gpu=False)
        def test_merged(mlcheck):
            assert mlcheck.settings.seed == 3
            assert mlcheck.settings.max_seconds == 5
            assert mlcheck.settings.device == "cpu"
        """
    )
    result = pytester.runpytest("--mlcheck-gpu", "-p", "no:hypothesispytest")
    result.assert_outcomes(passed=1)


def test_gpu_on_the_command_line_keeps_the_cuda_index_from_the_ini_file(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nmlcheck_device = cuda:1\n")
    pytester.makepyfile(
        """
        def test_index(mlcheck):
            assert mlcheck.settings.device == "cuda:1"
        """
    )
    result = pytester.runpytest("--mlcheck-gpu", "-p", "no:hypothesispytest")
    result.assert_outcomes(passed=1)
