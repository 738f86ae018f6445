"""Every broken case of the diagnosis corpus fails with its expected cause first, and every twin and
look-alike passes, in both frameworks. Cases whose first cause is still wrong are strict xfails
with the reason, and benchmarks/diagnosis_table.py shows them."""

from __future__ import annotations

import pytest
import torch

from diagnosis_corpus import Diag, all_cases
from pytest_mlcheck import CheckFailed, MLCheck
from pytest_mlcheck.settings import Settings

CASES = all_cases()


def _param(case: Diag):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES if c.broken])
def test_a_broken_case_fails_and_names_its_cause_first(mlcheck, case):
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as failed:
        case.run(mlcheck)
    assert failed.value.causes, f"no cause named:\n{failed.value}"
    assert failed.value.causes[0] == case.cause, str(failed.value)


@pytest.mark.parametrize("case", [_param(c) for c in CASES if not c.broken])
def test_a_twin_or_look_alike_passes(mlcheck, case):
    torch.manual_seed(0)
    case.run(mlcheck)


def test_each_framework_covers_at_least_twenty_bug_kinds_each_with_a_passing_twin():
    for framework in ("torch", "keras"):
        cases = [c for c in CASES if c.framework == framework]
        broken = {c.kind for c in cases if c.broken}
        assert len(broken) >= 20, (framework, sorted(broken))
        assert broken <= {c.kind for c in cases if not c.broken}, (framework, "kinds without a twin")


def _seeded(case: Diag, seed: int):
    marks = [pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else []
    if seed in case.missed_seeds:
        marks.append(pytest.mark.xfail(strict=True, reason=case.missed_why))
    return pytest.param(case, seed, id=f"{case.id}-{seed}", marks=marks)


@pytest.mark.slow
@pytest.mark.parametrize("case,seed", [_seeded(c, s) for c in CASES for s in range(1, 20)])
def test_every_case_keeps_its_verdict_on_seeds_1_to_19(case, seed):
    """The seed sweep behind `-m slow` (benchmarks/seed_sweep.py runs the same, resumably, and
    writes the figures): the seed sets the check's seed and, for torch, the model's initial weights."""
    torch.manual_seed(seed)
    check = MLCheck(Settings(seed=seed))
    if not case.broken:
        case.run(check)
        return
    with pytest.raises(CheckFailed) as failed:
        case.run(check)
    assert failed.value.causes[:1] == [case.cause], str(failed.value)
