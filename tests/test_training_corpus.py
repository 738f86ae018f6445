"""Every broken training case fails overfit_one_batch and names its cause; every twin passes, in
both frameworks, on the default seed (and on nine more with `-m slow`)."""

from __future__ import annotations

import pytest

import keras_corpus
import torch_corpus
from pytest_mlcheck import CheckFailed
from torch_corpus import digits_batch, digits_batches, training_cases

CASES = training_cases()
BOTH = [("torch", c) for c in CASES] + [("keras", c) for c in keras_corpus.training_cases()]
BATCH = {"torch": lambda: torch_corpus.digits_batch(32), "keras": lambda: keras_corpus.digits_arrays(32)}
SEEDS = [0] + [pytest.param(seed, marks=pytest.mark.slow) for seed in range(1, 10)]
# loss_decreases sees divergence, stalls and untrained parameters; a loss that still falls (MSE on
# class ids, a softmax before cross-entropy) is overfit_one_batch's to catch.
DECREASE_CATCHES = {"lr_too_high", "lr_too_low", "missing_zero_grad", "params_not_updated"}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("framework,case", BOTH, ids=[f"{fw}: {c.name}" for fw, c in BOTH])
def test_overfit_one_batch_fails_every_broken_case_and_passes_every_twin(mlcheck, framework, case, seed):
    if case.broken:
        with pytest.raises(CheckFailed) as info:
            mlcheck.overfit_one_batch(batch=BATCH[framework](), seed=seed, **case.build())
        assert info.value.causes, str(info.value)
        if case.cause:
            assert info.value.causes[0] == case.cause, str(info.value)
    else:
        result = mlcheck.overfit_one_batch(batch=BATCH[framework](), seed=seed, **case.build())
        assert result.passed and result.end_loss <= 0.1 * result.start_loss


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_loss_decreases_fails_divergence_stalls_and_untrained_parameters(mlcheck, case):
    kwargs = case.build()
    if not case.broken:
        result = mlcheck.loss_decreases(batches=digits_batches(10), **kwargs)
        assert result.passed and result.steps == 100
    elif case.cause in DECREASE_CATCHES:
        with pytest.raises(CheckFailed) as info:
            mlcheck.loss_decreases(batches=digits_batches(10), **kwargs)
        assert info.value.causes[:1] == [case.cause], str(info.value)
    else:
        pytest.skip(f"{case.name}: the loss still falls; overfit_one_batch catches it")


def test_a_multi_label_sigmoid_head_with_bce_is_a_correct_look_alike(mlcheck):
    import torch
    from torch import nn

    from torch_corpus import digits_mlp, multilabel_batch

    result = mlcheck.overfit_one_batch(digits_mlp(2), multilabel_batch(), loss_fn=nn.BCEWithLogitsLoss(),
                                       optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert result.figures["task"] == "multilabel" and result.passed


def test_embeddings_on_integer_inputs_are_a_correct_look_alike(mlcheck):
    import torch
    from torch import nn

    from torch_corpus import EmbeddingBagNet, digit_tokens

    result = mlcheck.overfit_one_batch(EmbeddingBagNet(), digit_tokens(32), loss_fn=nn.CrossEntropyLoss(),
                                       optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert result.passed and result.figures["task"] == "classification"
