"""label_roundtrip: mappings that drift between training and serving fail naming the label."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pytest_mlcheck import CheckFailed, MlcheckUsageError
from torch_corpus import DigitsCNN, held_out

NAMES = ["cat", "dog", "bird", "fish"]
TRAIN = {name: i for i, name in enumerate(NAMES)}


def test_a_consistent_mapping_passes_for_dicts_lists_and_callables(mlcheck):
    figures = mlcheck.label_roundtrip(TRAIN, NAMES, NAMES * 2).figures
    assert (figures["first_code"], figures["last_code"]) == (0, 3)
    assert mlcheck.label_roundtrip(TRAIN.__getitem__, NAMES.__getitem__, np.array(NAMES)).passed


def test_a_serving_mapping_sorted_alphabetically_fails_naming_the_first_label(mlcheck):
    with pytest.raises(CheckFailed) as info:
        mlcheck.label_roundtrip(TRAIN, sorted(NAMES), NAMES)
    assert info.value.causes == ["label_mapping_mismatch"]
    assert "label 'cat' → code 0 → 'bird'" in str(info.value)


def test_codes_numbered_from_one_are_an_off_by_one(mlcheck):
    with pytest.raises(CheckFailed, match="off by one"):
        mlcheck.label_roundtrip({n: i + 1 for n, i in TRAIN.items()}, {i + 1: n for n, i in TRAIN.items()}, NAMES)


def test_decoding_with_a_shifted_list_is_caught(mlcheck):
    with pytest.raises(CheckFailed, match="off by one"):
        mlcheck.label_roundtrip(TRAIN, ["background"] + NAMES, NAMES)


def test_two_labels_sharing_a_code_fail(mlcheck):
    with pytest.raises(CheckFailed, match="encode gives 'kitty' and 'cat' the same code 0"):
        mlcheck.label_roundtrip({"cat": 0, "kitty": 0}, {0: "cat"}, ["cat", "kitty"])


def test_a_label_missing_from_the_encoder_fails(mlcheck):
    with pytest.raises(CheckFailed, match="encode has no code for label 'fish'"):
        mlcheck.label_roundtrip({n: TRAIN[n] for n in NAMES[:3]}, NAMES, NAMES)


def test_integer_labels_as_tensors_and_numpy_scalars_roundtrip(mlcheck):
    assert mlcheck.label_roundtrip(lambda t: int(t), lambda c: c, torch.arange(10)).passed


def test_the_head_width_must_match_the_number_of_classes(mlcheck):
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as info:
        mlcheck.label_roundtrip(TRAIN, NAMES, NAMES, model=DigitsCNN(), inputs=held_out(8))
    assert info.value.causes == ["head_width"]
    assert mlcheck.label_roundtrip(TRAIN, NAMES, NAMES, model=DigitsCNN(4), inputs=held_out(8)).passed


def test_num_classes_allows_labels_missing_from_the_sample_but_not_codes_beyond_it(mlcheck):
    assert mlcheck.label_roundtrip(TRAIN, NAMES, NAMES[:2], num_classes=4).passed
    with pytest.raises(CheckFailed, match="outside 0..2"):
        mlcheck.label_roundtrip(TRAIN, NAMES, NAMES, num_classes=3)


@pytest.mark.parametrize("kwargs,argument", [
    (dict(encode=3, decode=NAMES, labels=NAMES), "encode"),
    (dict(encode=TRAIN, decode=NAMES, labels=[]), "labels"),
    (dict(encode=TRAIN, decode=NAMES, labels=NAMES, num_classes=0), "num_classes"),
    (dict(encode=TRAIN, decode=NAMES, labels=NAMES, model=DigitsCNN()), "model/inputs"),
])
def test_misuse_of_label_roundtrip_names_the_argument(mlcheck, kwargs, argument):
    with pytest.raises(MlcheckUsageError, match=argument):
        mlcheck.label_roundtrip(**kwargs)
