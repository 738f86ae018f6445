"""overfit_one_batch on a batch whose classes overlap: a sample outvoted by its nearest inputs'
classes is not demanded when every other sample is fitted; a model that does not fit the rest, or
whose errors are not where the classes overlap, still fails, and where neighbourhoods say nothing
(random labels, few samples per class, token ids) the criterion is the usual one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed, MLCheck
from pytest_mlcheck.targets import Targets, outvoted


def _targets(ids: np.ndarray, task: str = "classification") -> Targets:
    return Targets(task=task, encoding="class ids (N,)", ids=ids, width=int(ids.max()) + 1, form="logits",
                   floor=0.0, problems=[])


def _blobs(n: int, spread: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    centres = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    return (centres[y] + spread * rng.standard_normal((n, 2))).astype("float32"), y


def test_overlapping_blobs_have_outvoted_samples_and_separated_ones_none():
    x, y = _blobs(96, 1.5)
    mask = outvoted(x, _targets(y))
    assert mask is not None and 0 < mask.sum() < 48
    far, y2 = _blobs(96, 0.2)
    assert outvoted(far, _targets(y2)).sum() == 0


def test_a_duplicate_input_with_another_label_is_outvoted():
    x, y = _blobs(60, 0.2)
    x = np.concatenate([x, x[:1]])
    y = np.concatenate([y, [(y[0] + 1) % 3]])
    mask = outvoted(x, _targets(y))
    assert mask[-1] and mask.sum() == 1


def test_a_batchs_neighbourhoods_are_computed_once_however_many_runs_ask(monkeypatch):
    """The check's run and its learning-rate retry judge the same batch: one N² distance matrix."""
    import pytest_mlcheck.targets as T

    calls = []
    monkeypatch.setattr(T, "neighbours_agreeing", lambda x, t: calls.append(1) or np.full(len(x), 5))
    x, y = _blobs(96, 1.5)
    targets = _targets(y)
    assert (targets.neighbours(x) == 5).all() and (targets.neighbours(x.copy()) == 5).all()
    assert len(calls) == 1
    targets.neighbours(x + 1)  # other inputs: computed for them
    assert len(calls) == 2


@pytest.mark.parametrize("why", ["random labels", "few samples per class", "integer inputs", "multilabel",
                                 "too few samples", "a NaN input"])
def test_no_judgement_where_neighbourhoods_say_nothing(why):
    x, y = _blobs(96, 0.5)
    targets = _targets(y)
    if why == "random labels":
        targets = _targets(np.random.default_rng(2).integers(0, 3, 96))
    elif why == "few samples per class":
        targets = _targets(np.arange(96) % 40)
    elif why == "integer inputs":
        x = np.round(x * 10).astype(np.int64)
    elif why == "multilabel":
        targets = _targets(y, task="multilabel")
    elif why == "too few samples":
        x, targets = x[:10], _targets(y[:10])
    else:
        x[3, 1] = np.nan
    assert outvoted(x, targets) is None


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(2, 50), nn.ReLU(), nn.Linear(50, 3))


def test_a_correct_model_on_overlapping_classes_passes_and_says_what_it_did_not_demand():
    """AUTOTRAINER's blob classifier with its repair (Adam): 32 samples of three overlapping blobs, a
    few of which no smooth boundary gets right; every other sample is fitted."""
    from tests.real_programs import autotrainer_oscillating_loss as blobs

    torch.manual_seed(0)
    b = blobs.fixed("torch")
    result = MLCheck().overfit_one_batch(b["model"], b["batch"], loss_fn=b["loss_fn"], optimizer=b["optimizer"])
    assert result.passed
    note = next(n for n in result.notes if "classes overlap" in n)
    assert "the check asks no more of an overlapping batch" in note and "samples are outvoted" in note


def test_class_ids_scored_by_mse_still_fail_on_overlapping_classes():
    """The broken twin: the loss falls, but the argmax of ten logits pulled toward a class id is
    wrong wherever it likes, not where the classes overlap."""
    x, y = _blobs(96, 1.2)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 50), nn.ReLU(), nn.Linear(50, 10))

    def mse(out, target):
        return ((out - target.float()[:, None]) ** 2).mean()

    with pytest.raises(CheckFailed) as failed:
        MLCheck().overfit_one_batch(model, (torch.tensor(x), torch.tensor(y)), loss_fn=mse,
                                    optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    text = str(failed.value)
    assert failed.value.causes[:1] == ["loss_mismatch"], text
    assert "the classes overlap in this batch" in text and "asks no more" not in text


def test_a_model_that_does_not_fit_the_determined_samples_fails_and_says_so():
    """A learning rate too low to fit even the samples the batch determines: the overlap is
    reported, the failure stands."""
    x, y = _blobs(96, 1.2)
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as failed:
        MLCheck().overfit_one_batch(_mlp(), (torch.tensor(x), torch.tensor(y)), loss_fn=nn.CrossEntropyLoss(),
                                    optimizer=lambda p: torch.optim.SGD(p, lr=1e-4))
    text = str(failed.value)
    assert "the classes overlap in this batch" in text and "asks no more" not in text


def test_the_keras_blob_classifier_passes_the_same_way():
    """The Keras spelling of the same repair (softmax head, categorical cross-entropy on one-hot
    targets): fitted where the batch determines its classes, as in torch."""
    import keras

    from tests.real_programs import autotrainer_oscillating_loss as blobs

    keras.utils.set_random_seed(0)
    b = blobs.fixed("keras")
    result = MLCheck().overfit_one_batch(b["model"], b["batch"])
    assert result.passed
    note = next(n for n in result.notes if "classes overlap" in n)
    assert "the check asks no more of an overlapping batch" in note
