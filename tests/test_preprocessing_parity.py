"""preprocessing_parity: train and eval pipelines must agree element by element."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from pytest_mlcheck import CheckFailed, MlcheckUsageError
from torch_corpus import raw_images, to_chw


def eval_same(image):
    return torch.from_numpy(image).float().div(255.0).permute(2, 0, 1).contiguous()


def eval_numpy_same(image):
    return np.transpose(image.astype(np.float32) / np.float32(255.0), (2, 0, 1))


BROKEN = [
    ("BGR channel order in eval", lambda im: to_chw(np.ascontiguousarray(im[..., ::-1])), "channel order"),
    ("reshape instead of transpose", lambda im: torch.from_numpy(im.astype(np.float32) / 255).reshape(3, 8, 8),
     "reshape"),
    ("no /255 in eval", lambda im: torch.from_numpy(im.astype(np.float32)).permute(2, 0, 1), "255"),
    ("normalised in eval only", lambda im: (to_chw(im) - 0.5) / 0.25, "normalisation"),
    ("channels-last in eval", lambda im: torch.from_numpy(im.astype(np.float32) / 255), "layout"),
    ("resized in eval", lambda im: F.interpolate(to_chw(im)[None], size=(6, 6), mode="bilinear")[0], "sizes"),
    ("uint8 in eval", lambda im: torch.from_numpy(im).permute(2, 0, 1), "uint8"),
]


@pytest.mark.parametrize("name,eval_pipeline,evidence", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_pipeline_that_differs_fails_and_says_how(mlcheck, name, eval_pipeline, evidence):
    with pytest.raises(CheckFailed) as info:
        mlcheck.preprocessing_parity(to_chw, eval_pipeline, raw_images())
    assert info.value.causes[0] in ("preprocessing_mismatch", "input_dtype")
    assert evidence in str(info.value)


@pytest.mark.parametrize("eval_pipeline", [eval_same, eval_numpy_same], ids=["torch ops", "numpy ops"])
def test_the_same_preprocessing_spelled_differently_passes(mlcheck, eval_pipeline):
    result = mlcheck.preprocessing_parity(to_chw, eval_pipeline, raw_images())
    assert result.figures["max_abs_difference"] <= 1e-6


def test_statistics_alone_would_pass_a_channel_swap_but_the_check_does_not(mlcheck):
    gray = [np.repeat(im[..., :1], 3, axis=-1) for im in raw_images()]
    rolled = lambda im: to_chw(np.ascontiguousarray(np.roll(im, 1, axis=0)))  # noqa: E731
    with pytest.raises(CheckFailed):
        mlcheck.preprocessing_parity(to_chw, rolled, gray)


def test_random_augmentation_drawn_from_the_global_generators_is_seeded_alike_and_restored(mlcheck):
    def augment(im):
        return to_chw(im) + 0.01 * torch.rand(1) + 0.01 * random.random() + 0.01 * float(np.random.rand())

    state = random.getstate(), np.random.get_state()[1].copy(), torch.get_rng_state()
    mlcheck.preprocessing_parity(augment, augment, raw_images())
    assert random.getstate() == state[0] and np.array_equal(np.random.get_state()[1], state[1])
    assert torch.equal(torch.get_rng_state(), state[2])


def test_a_pipeline_that_raises_is_a_failed_check_naming_the_sample(mlcheck):
    with pytest.raises(CheckFailed, match="on sample 0, eval_pipeline raised"):
        mlcheck.preprocessing_parity(to_chw, lambda im: im.undefined, raw_images())


@pytest.mark.parametrize("args,argument", [
    ((to_chw, "resize", raw_images()), "eval_pipeline"),
    ((to_chw, to_chw, []), "raw_samples"),
    ((to_chw, to_chw, 5), "raw_samples"),
])
def test_misuse_of_preprocessing_parity_names_the_argument(mlcheck, args, argument):
    with pytest.raises(MlcheckUsageError, match=argument):
        mlcheck.preprocessing_parity(*args)
