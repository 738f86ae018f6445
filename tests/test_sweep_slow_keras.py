"""The Keras corpus verdicts hold on ten seeds (slow: run with `-m slow`)."""

from __future__ import annotations

import pytest

from keras_corpus import digits_arrays, training_cases
from pytest_mlcheck import CheckFailed

CASES = training_cases()


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_keras_overfit_verdict_and_first_cause_hold_on_every_seed(mlcheck, case, seed):
    kwargs = case.build()
    if case.broken:
        with pytest.raises(CheckFailed) as info:
            mlcheck.overfit_one_batch(batch=digits_arrays(32), seed=seed, **kwargs)
        if case.cause:
            assert info.value.causes[:1] == [case.cause], str(info.value)
    else:
        mlcheck.overfit_one_batch(batch=digits_arrays(32), seed=seed, **kwargs)
