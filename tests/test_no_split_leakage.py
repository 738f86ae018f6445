"""no_split_leakage: no test sample's inputs also occur in the training split."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import torch

import keras_corpus as kc
import torch_corpus as tc
from pytest_mlcheck import CheckFailed, MlcheckUsageError

X, Y = tc.digits_batch(400)


def _loader(x, y, batch_size=32):
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=batch_size)


BROKEN = [
    ("overlapping slices of torch tensors", lambda: ((X[:250], Y[:250]), (X[200:], Y[200:]))),
    ("split after oversampling (each image twice, then a cut)", lambda: (
        torch.cat([X[:150], X[:150]])[:200], torch.cat([X[:150], X[:150]])[200:])),
    ("DataLoaders over overlapping ranges", lambda: (_loader(X[:250], Y[:250]), _loader(X[240:], Y[240:]))),
    ("tf.data Datasets sharing samples", lambda: (
        tf.data.Dataset.from_tensor_slices(kc.digits_arrays(250)).batch(50),
        tf.data.Dataset.from_tensor_slices(kc.digits_arrays(100, offset=200)).batch(50))),
    ("numpy arrays with one shared sample", lambda: (X.numpy()[:200], np.concatenate([X.numpy()[200:260],
                                                                                       X.numpy()[5:6]]))),
]

CORRECT = [
    ("disjoint torch slices", lambda: ((X[:200], Y[:200]), (X[200:], Y[200:]))),
    ("disjoint DataLoaders", lambda: (_loader(X[:200], Y[:200]), _loader(X[200:], Y[200:]))),
    ("disjoint tf.data Datasets", lambda: (tf.data.Dataset.from_tensor_slices(kc.digits_arrays(200)).batch(50),
                                           tf.data.Dataset.from_tensor_slices(
                                               kc.digits_arrays(100, offset=250)).batch(50))),
    ("the same images in another dtype are not the same content", lambda: (X[:50].double(), X[:50])),
]


@pytest.mark.parametrize("name,build", BROKEN, ids=[b[0] for b in BROKEN])
def test_shared_samples_fail_with_the_overlap_and_first_indices(mlcheck, name, build):
    train, test = build()
    with pytest.raises(CheckFailed) as failed:
        mlcheck.no_split_leakage(train, test)
    assert failed.value.causes == ["split_leakage"]
    assert "test[" in str(failed.value) and "= train[" in str(failed.value)


@pytest.mark.parametrize("name,build", CORRECT, ids=[c[0] for c in CORRECT])
def test_disjoint_splits_pass(mlcheck, name, build):
    train, test = build()
    result = mlcheck.no_split_leakage(train, test)
    assert result.figures["overlap"] == 0


def test_the_overlap_fraction_and_indices_are_exact(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.no_split_leakage(X[:250], X[200:300])
    assert "50 of 100 test samples (50.00%)" in str(failed.value)
    assert "test[0] = train[200]" in str(failed.value)


def test_max_overlap_allows_a_known_fraction(mlcheck):
    assert mlcheck.no_split_leakage(X[:250], X[200:400], max_overlap=0.25).passed
    with pytest.raises(CheckFailed):
        mlcheck.no_split_leakage(X[:250], X[200:400], max_overlap=0.2)


def test_near_duplicates_are_caught_only_with_a_tolerance(mlcheck):
    noisy = X[200:300] + 1e-4 * torch.randn(100, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    assert mlcheck.no_split_leakage(X[:250], noisy).passed
    with pytest.raises(CheckFailed, match="50 of 100"):
        mlcheck.no_split_leakage(X[:250], noisy, atol=1e-3)


@pytest.mark.parametrize("kwargs,argument", [
    (dict(max_overlap=1.0), "max_overlap"), (dict(max_overlap=-0.1), "max_overlap"), (dict(max_overlap="0"), "max_overlap"),
    (dict(atol=-1.0), "atol"), (dict(atol=float("nan")), "atol"),
])
def test_bad_arguments_are_usage_errors_naming_them(mlcheck, kwargs, argument):
    with pytest.raises(MlcheckUsageError, match=f"^{argument}:"):
        mlcheck.no_split_leakage(X[:10], X[10:20], **kwargs)


@pytest.mark.parametrize("train,test,argument", [
    ([], X[:10], "train"), (X[:10], iter([]), "test"), (X[:10], X[:10, 0, :4], "test"),
], ids=["empty train", "exhausted test generator", "test samples of another size"])
def test_splits_that_cannot_be_compared_are_usage_errors(mlcheck, train, test, argument):
    with pytest.raises(MlcheckUsageError, match=f"^{argument}:"):
        mlcheck.no_split_leakage(train, test)


TEXTS = [f"review number {i}: the plot was {'good' if i % 2 else 'slow'}" for i in range(200)]


def test_texts_copied_across_splits_are_caught_in_every_container(mlcheck):
    import pandas as pd

    train, test = TEXTS[:150], TEXTS[100:]  # 50 texts in both
    spellings = [
        (train, test),
        (np.array(train), np.array(test)),
        ((train, np.zeros(150)), (test, np.zeros(100))),
        (pd.DataFrame({"text": train, "label": 0}), pd.DataFrame({"text": test, "label": 0})),
        (tf.data.Dataset.from_tensor_slices(train).batch(32), tf.data.Dataset.from_tensor_slices(test).batch(32)),
        ([t.encode() for t in train], (t.encode() for t in test)),
    ]
    for a, b in spellings:
        with pytest.raises(CheckFailed) as failed:
            mlcheck.no_split_leakage(a, b)
        assert failed.value.result.figures["overlap"] == 50, type(a)
        assert failed.value.causes == ["split_leakage"]
    assert mlcheck.no_split_leakage(TEXTS[:100], TEXTS[100:]).passed


def test_tokenised_dicts_are_compared_by_content(mlcheck):
    def tokens(text):
        return {"input_ids": [len(w) for w in text.split()], "attention_mask": [1] * len(text.split())}

    train = [tokens(t) for t in TEXTS[:20]]
    test = [tokens(t) for t in TEXTS[19:25]] + [{"attention_mask": train[3]["attention_mask"],
                                                  "input_ids": train[3]["input_ids"]}]  # key order does not matter
    with pytest.raises(CheckFailed) as failed:
        mlcheck.no_split_leakage(train, test)
    assert failed.value.result.figures["overlap"] >= 2


def test_case_and_whitespace_are_folded_only_when_asked(mlcheck):
    train = ["The plot was good.", "Slow  start"]
    test = ["the plot was good.", "slow start\n"]
    assert mlcheck.no_split_leakage(train, test).passed
    with pytest.raises(CheckFailed) as failed:
        mlcheck.no_split_leakage(train, test, ignore_case=True, ignore_whitespace=True)
    assert failed.value.result.figures["overlap"] == 2
    assert "ignoring case and whitespace" in str(failed.value)
    with pytest.raises(MlcheckUsageError, match=r"^ignore_case: expected True or False"):
        mlcheck.no_split_leakage(train, test, ignore_case="yes")
    with pytest.raises(MlcheckUsageError, match=r"^atol: expected None for records"):
        mlcheck.no_split_leakage(train, test, atol=0.1)
    with pytest.raises(MlcheckUsageError, match=r"^test: expected samples of the same kind in both splits"):
        mlcheck.no_split_leakage(train, np.zeros((2, 3)))


def test_a_numeric_generator_is_read_once(mlcheck):
    gen = ((X[i:i + 50], Y[i:i + 50]) for i in range(200, 400, 50))
    assert mlcheck.no_split_leakage((X[:200], Y[:200]), gen).passed
