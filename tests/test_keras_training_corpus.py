"""Every broken Keras training case fails overfit_one_batch with its cause; every twin passes."""

from __future__ import annotations

import pytest

from keras_corpus import digits_arrays, training_cases
from pytest_mlcheck import CheckFailed

CASES = training_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_keras_overfit_one_batch_fails_every_broken_case_and_passes_every_twin(mlcheck, case):
    if case.broken:
        with pytest.raises(CheckFailed) as info:
            mlcheck.overfit_one_batch(batch=digits_arrays(32), **case.build())
        assert info.value.causes, str(info.value)
        if case.cause:
            assert info.value.causes[0] == case.cause, str(info.value)
    else:
        result = mlcheck.overfit_one_batch(batch=digits_arrays(32), **case.build())
        assert result.passed and result.end_loss <= 0.1 * result.start_loss
