"""The "mlcheck" terminal summary section, and what a failing check prints.

The project has two passing checks and one failing one, so the counts cannot be swapped unnoticed."""

from __future__ import annotations

import pytest

# Hypothesis's pytest plugin imports hypothesis at the end of every run (~1 s); not needed here.
FAST = ("-p", "no:hypothesispytest")

TWO_PASSING_ONE_FAILING = """
import torch
from torch import nn


def batch():
    x = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    return x, x[:, :3].argmax(dim=1)  # linearly separable: a Linear(4, 3) can memorise it


def test_fits(mlcheck):
    mlcheck.overfit_one_batch(nn.Linear(4, 3), batch(), loss_fn=nn.CrossEntropyLoss(),
                              optimizer=lambda p: torch.optim.Adam(p, lr=0.1))


def test_fits_with_another_seed(mlcheck):
    mlcheck.overfit_one_batch(nn.Linear(4, 3), batch(), loss_fn=nn.CrossEntropyLoss(),
                              optimizer=lambda p: torch.optim.Adam(p, lr=0.1), seed=1)


def test_cannot_fit(mlcheck):
    # A softmax before CrossEntropyLoss and a zero learning rate: it cannot fit, and the
    # softmax is found from the first outputs, so no learning-rate retries are run.
    model = nn.Sequential(nn.Linear(4, 3), nn.Softmax(dim=1))
    mlcheck.overfit_one_batch(model, batch(), loss_fn=nn.CrossEntropyLoss(),
                              optimizer=lambda p: torch.optim.SGD(p, lr=0.0), steps=20)


def test_never_checks(mlcheck):
    pass
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # a 4x3 model; threads only add overhead
    pytester.makepyfile(test_checks=TWO_PASSING_ONE_FAILING)
    return pytester


def test_a_run_with_checks_ends_with_an_mlcheck_section_counting_them(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(*FAST)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "=*= mlcheck =*=",
            "3 check(s): 2 passed, 1 failed, *s in checks, device cpu, seed 0",
            "  test * check * verdict * first cause * steps * loss * seconds * device * seed",
            "  test_checks.py::test_cannot_fit * overfit_one_batch * failed * loss_mismatch * 20 * * → * cpu * 0",
        ]
    )
    # Without -v only the failing checks are listed.
    result.stdout.no_fnmatch_line("*test_checks.py::test_fits *")


def test_a_failing_check_prints_its_figures_and_the_cause(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess(*FAST, "--mlcheck-seed=7", "-v")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "E *CheckFailed: mlcheck.overfit_one_batch: could not fit one batch of 16 samples in 20 steps*",
            "E *accuracy: */16 predicted right",
            "E *cause loss_mismatch: outputs already sum to 1 per row*",
            "E *s on cpu, seed 7 (rerun with --mlcheck-seed=7; it seeds the check's own draws: seed your model's "
            "construction too to get the same figures)",
        ]
    )
    # With -v the passing checks are listed in the section too, with the seed in force.
    result.stdout.fnmatch_lines(
        [
            "=*= mlcheck =*=",
            "3 check(s): 2 passed, 1 failed, *, seed 7",
            "  test * check * verdict *",
            "  test_checks.py::test_fits * overfit_one_batch * passed * cpu * 7",
            "  test_checks.py::test_fits_with_another_seed * overfit_one_batch * passed * cpu * 1",
        ]
    )


def test_a_run_without_check_calls_prints_no_mlcheck_section(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_uses_the_fixture(mlcheck):\n    pass\n")
    result = pytester.runpytest(*FAST)
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*= mlcheck =*")
    result.stdout.no_fnmatch_line("*check(s):*")
