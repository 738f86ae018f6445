"""batch_independence: no sample's output depends on another sample, in both frameworks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import keras_corpus as kc
import recipe_corpus as rc
import torch_corpus as tc
from pytest_mlcheck import CheckFailed, MlcheckUsageError

BROKEN = [
    ("torch features transposed and reshaped", lambda: rc.BatchMixingNet("transpose"), "torch"),
    ("torch features minus their batch mean", lambda: rc.BatchMixingNet("center"), "torch"),
    ("keras features transposed and reshaped", lambda: rc.KBatchMixing("transpose"), "keras"),
    ("keras features minus their batch mean", lambda: rc.KBatchMixing("center"), "keras"),
    # ids held as floats: noise would make no id (an index error), so another sample is put in
    ("torch float ids, outputs minus their batch mean", lambda: tc.FloatIdsNet(mix=True), "float ids"),
]

CORRECT = [
    ("torch cnn", tc.DigitsCNN, "torch"),
    ("torch BatchNorm (judged in eval mode)", rc.mlp_bn, "torch"),
    ("torch embeddings on integer tokens", tc.EmbeddingBagNet, "tokens"),
    ("torch embeddings on ids held as floats", tc.FloatIdsNet, "float ids"),
    ("keras cnn", kc.cnn, "keras"),
    ("keras BatchNorm (judged in eval mode)", rc.k_bn, "keras"),
    ("keras subclassed", lambda: kc._sub()(), "keras"),
]


def _inputs(kind: str):
    if kind == "torch":
        return tc.held_out(16)
    if kind == "tokens":
        return tc.digit_tokens(16)[0]
    if kind == "float ids":
        return tc.float_ids(16)[0]
    return kc.digits_arrays(16, offset=1000)[0]


@pytest.mark.parametrize("name,build,kind", BROKEN, ids=[b[0] for b in BROKEN])
def test_a_model_that_mixes_samples_fails_with_batch_mixing(mlcheck, name, build, kind):
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.batch_independence(build(), _inputs(kind))
    assert failed.value.causes == ["batch_mixing"]
    assert "changed the outputs of" in str(failed.value)


@pytest.mark.parametrize("name,build,kind", CORRECT, ids=[c[0] for c in CORRECT])
def test_a_model_that_treats_samples_apart_passes(mlcheck, name, build, kind):
    torch.manual_seed(0)
    result = mlcheck.batch_independence(build(), _inputs(kind))
    assert result.passed and result.figures["samples"] == 16


def test_both_probes_report_a_small_dependence_on_a_neighbour(mlcheck):
    class Leaky(torch.nn.Module):
        """Adds another sample's input times 1e-3: small, but a dependence all the same."""

        def forward(self, x):
            flat = x.flatten(1)
            return flat + 1e-3 * flat.roll(1, dims=0)

    with pytest.raises(CheckFailed, match="changing sample 0 changed the outputs of 1 other") as failed:
        mlcheck.batch_independence(Leaky(), tc.held_out(16))
    assert "the gradient of output 0 reaches other samples" in str(failed.value)
    assert failed.value.causes == ["batch_mixing"]


def test_integer_inputs_are_judged_by_the_forward_probe_only(mlcheck):
    result = mlcheck.batch_independence(tc.EmbeddingBagNet(), tc.digit_tokens(16)[0])
    assert any("forward probe only" in note for note in result.notes)


def test_a_model_that_drops_the_batch_dimension_fails(mlcheck):
    class Pooled(torch.nn.Module):
        def forward(self, x):
            return x.flatten(1).mean(dim=0, keepdim=True)

    with pytest.raises(CheckFailed, match="1 output rows for 16 samples") as failed:
        mlcheck.batch_independence(Pooled(), tc.held_out(16))
    assert failed.value.causes == ["batch_mixing"]


@pytest.mark.parametrize("inputs", [tc.held_out(1), {"x": tc.held_out(4)}], ids=["one sample", "a dict"])
def test_inputs_it_cannot_judge_are_usage_errors(mlcheck, inputs):
    with pytest.raises(MlcheckUsageError, match="^inputs:"):
        mlcheck.batch_independence(tc.DigitsCNN(), inputs)


def test_the_check_leaves_the_inputs_as_they_were(mlcheck):
    x = kc.digits_arrays(16)[0]
    before = x.copy()
    mlcheck.batch_independence(kc.cnn(), x)
    assert np.array_equal(x, before)
