"""The corpus verdicts behind the defaults hold on ten seeds, in both frameworks
(slow: run with `-m slow`)."""

from __future__ import annotations

import pytest

import keras_corpus
import torch_corpus
from pytest_mlcheck import CheckFailed

CASES = [("torch", c) for c in torch_corpus.training_cases()] + [("keras", c) for c in keras_corpus.training_cases()]
BATCH = {"torch": lambda: torch_corpus.digits_batch(32), "keras": lambda: keras_corpus.digits_arrays(32)}


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("framework,case", CASES, ids=[f"{fw}: {c.name}" for fw, c in CASES])
def test_overfit_verdict_and_first_cause_hold_on_every_seed(mlcheck, framework, case, seed):
    kwargs = case.build()
    if case.broken:
        with pytest.raises(CheckFailed) as info:
            mlcheck.overfit_one_batch(batch=BATCH[framework](), seed=seed, **kwargs)
        if case.cause:
            assert info.value.causes[:1] == [case.cause], str(info.value)
    else:
        mlcheck.overfit_one_batch(batch=BATCH[framework](), seed=seed, **kwargs)
