"""NaN or inf in the inputs never crash a check, in either framework: a check either judges the
finite samples and reports the others, or fails naming inputs_not_finite."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import keras_corpus as kc
import torch_corpus as tc
from pytest_mlcheck import CheckFailed

CE = nn.CrossEntropyLoss


def t_batch(n: int = 64, value: float = float("nan")) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = tc.digits_batch(n, offset=200)
    x = x.clone()
    x[3, 0, 2, 2] = value
    return x, y


def k_batch(n: int = 64, value: float = float("nan")) -> tuple[np.ndarray, np.ndarray]:
    x, y = kc.digits_arrays(n, offset=200)
    x = x.copy()
    x[3, 2, 2, 0] = value
    return x, y


def _adam():
    return lambda p: torch.optim.Adam(p, lr=1e-3)


# (name, call, "fail" when the check must fail naming inputs_not_finite, or "report" when it judges
# the finite samples and says how many it left out)
CASES = [
    ("torch overfit_one_batch", lambda m, b: m.overfit_one_batch(tc.DigitsCNN(), b(32), loss_fn=CE()), "fail"),
    ("torch loss_decreases", lambda m, b: m.loss_decreases(tc.digits_mlp(), [b(32)], loss_fn=CE()), "fail"),
    ("torch init_loss", lambda m, b: m.init_loss(tc.digits_mlp(), b(), loss_fn=CE()), "fail"),
    ("torch gradients_flow", lambda m, b: m.gradients_flow(tc.digits_mlp(), b(), loss_fn=CE()), "fail"),
    ("torch inputs_normalized", lambda m, b: m.inputs_normalized(b()), "fail"),
    ("torch input_independent_baseline",
     lambda m, b: m.input_independent_baseline(tc.digits_mlp(), b(128), loss_fn=CE()), "fail"),
    ("torch output_range", lambda m, b: m.output_range(tc.DigitsCNN(), b()[0], kind="logits"), "report"),
    ("torch not_constant_predictions",
     lambda m, b: m.not_constant_predictions(nn.Sequential(nn.Flatten(), nn.Linear(64, 1)), b()[0]), "report"),
    ("torch batch_independence", lambda m, b: m.batch_independence(tc.DigitsCNN(), b(16)[0]), "report"),
    ("keras overfit_one_batch", lambda m, b: m.overfit_one_batch(kc.cnn(), b(32), loss_fn=kc.sparse_ce()), "fail"),
    ("keras init_loss", lambda m, b: m.init_loss(kc.mlp(), b(), loss_fn=kc.sparse_ce()), "fail"),
    ("keras gradients_flow", lambda m, b: m.gradients_flow(kc.mlp(), b(), loss_fn=kc.sparse_ce()), "fail"),
    ("keras output_range", lambda m, b: m.output_range(kc.cnn(), b()[0], kind="logits"), "report"),
    ("keras batch_independence", lambda m, b: m.batch_independence(kc.cnn(), b(16)[0]), "report"),
]


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["NaN", "inf"])
@pytest.mark.parametrize("name,call,outcome", CASES, ids=[c[0] for c in CASES])
def test_a_non_finite_input_is_reported_never_a_crash(mlcheck, name, call, outcome, value):
    torch.manual_seed(0)
    make = t_batch if name.startswith("torch") else k_batch
    batch = lambda n=64: make(n, value)  # noqa: E731
    if outcome == "fail":
        with pytest.raises(CheckFailed) as failed:
            call(mlcheck, batch)
        assert "inputs_not_finite" in failed.value.causes, str(failed.value)
    else:
        result = call(mlcheck, batch)
        assert result.passed
        assert result.figures["non_finite_inputs"] == 1


def test_preprocessing_parity_compares_nan_where_both_pipelines_put_it(mlcheck):
    images = [im.astype(np.float32) for im in tc.raw_images()]
    images[2][1, 1, 0] = np.nan
    to_chw = lambda im: torch.from_numpy(im / 255.0).permute(2, 0, 1)  # noqa: E731
    assert mlcheck.preprocessing_parity(to_chw, to_chw, images).passed


def test_a_nan_label_is_an_invalid_label(mlcheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.label_roundtrip(lambda v: int(v), list(range(3)), [0.0, 1.0, float("nan")])
    assert failed.value.causes == ["labels_invalid"]


def test_no_split_leakage_hashes_nan_samples_like_any_other(mlcheck):
    x = tc.held_out(20).clone()
    x[4, 0, 0, 0] = float("nan")
    with pytest.raises(CheckFailed, match="1 of 1 test samples"):
        mlcheck.no_split_leakage(x, x[4:5])
