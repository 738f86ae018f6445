"""Inputs and models that used to crash a check with a raw framework error: each is now supported,
a failed check naming its cause, or a usage error naming the argument (issue: machine independence)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

import keras_corpus as kc
import torch_corpus as tc
from keras_corpus import keras
from pytest_mlcheck import CheckFailed, MlcheckUsageError

CE = nn.CrossEntropyLoss


def bf16_cnn() -> nn.Module:
    torch.manual_seed(0)
    return tc.DigitsCNN().to(torch.bfloat16)


class OneNumber(nn.Module):
    """Returns the sum over the batch: one number, not one row per sample."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(64, 1)

    def forward(self, x):
        return self.fc(x.flatten(1)).sum()


BF16 = {
    "output_range": lambda m, x, y: m.output_range(bf16_cnn(), x, kind="logits"),
    "init_loss": lambda m, x, y: m.init_loss(bf16_cnn(), (x, y), loss_fn=CE()),
    "gradients_flow": lambda m, x, y: m.gradients_flow(bf16_cnn(), (x, y), loss_fn=CE()),
    "overfit_one_batch": lambda m, x, y: m.overfit_one_batch(bf16_cnn(), (x, y), loss_fn=CE()),
    "batch_independence": lambda m, x, y: m.batch_independence(bf16_cnn(), x[:8]),
    "inputs_normalized": lambda m, x, y: m.inputs_normalized(x, model=bf16_cnn()),
}


@pytest.mark.parametrize("check", list(BF16))
def test_a_bf16_model_fed_bf16_inputs_is_checked_like_any_other(mlcheck, check):
    x, y = tc.digits_batch(64)
    assert BF16[check](mlcheck, x.to(torch.bfloat16), y).passed


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16], ids=["fp64", "fp16"])
def test_inputs_of_another_float_type_than_the_model_are_an_input_dtype_defect(mlcheck, dtype):
    x, y = tc.digits_batch(32)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(tc.DigitsCNN(), (x.to(dtype), y), loss_fn=CE())
    assert failed.value.causes[0] == "input_dtype", str(failed.value)
    with pytest.raises(CheckFailed) as failed:  # float32 inputs into a bf16 model, likewise
        mlcheck.output_range(bf16_cnn(), x, kind="logits")
    assert failed.value.causes[0] == "input_dtype"


def test_an_uninitialised_lazy_module_is_a_usage_error_naming_the_model(mlcheck):
    model = nn.Sequential(nn.Flatten(), nn.LazyLinear(10))
    for call in (lambda: mlcheck.gradients_flow(model, tc.digits_batch(32), loss_fn=CE()),
                 lambda: mlcheck.overfit_one_batch(model, tc.digits_batch(32), loss_fn=CE())):
        with pytest.raises(MlcheckUsageError, match=r"^model: expected a model whose parameters are initialised"):
            call()
    model(tc.digits_batch(2)[0])  # called once: materialised, and checked like any model
    assert mlcheck.gradients_flow(model, tc.digits_batch(32), loss_fn=CE()).passed


@pytest.mark.parametrize("check", ["output_range", "batch_independence", "not_constant_predictions"])
def test_a_model_returning_one_number_for_the_batch_is_a_usage_error(mlcheck, check):
    extra = {"kind": "logits"} if check == "output_range" else {}
    with pytest.raises(MlcheckUsageError, match=r"^model: expected outputs with a batch dimension"):
        getattr(mlcheck, check)(OneNumber(), tc.held_out(32), **extra)


def test_a_keras_model_returning_one_number_is_a_usage_error(mlcheck):
    inputs = keras.Input((8, 8, 1))
    model = keras.Model(inputs, keras.ops.sum(keras.layers.Dense(1)(keras.layers.Flatten()(inputs))))
    with pytest.raises(MlcheckUsageError, match=r"^model: expected outputs with a batch dimension"):
        mlcheck.output_range(model, kc.digits_arrays(16)[0], kind="logits")


def test_sparse_torch_inputs_are_read_densely(mlcheck):
    x, y = tc.digits_batch(64)
    sparse = x.flatten(1).to_sparse()
    torch.manual_seed(0)
    assert mlcheck.output_range(nn.Linear(64, 10), sparse, kind="logits").passed
    assert mlcheck.overfit_one_batch(nn.Linear(64, 10), (sparse, y), loss_fn=CE()).passed


def test_variable_sequence_lengths_across_batches_are_judged(mlcheck):
    class Bag(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.emb, self.fc = nn.Embedding(20, 8), nn.Linear(8, 3)

        def forward(self, tokens):
            return self.fc(self.emb(tokens).mean(1))

    gen = torch.Generator().manual_seed(0)
    ragged = [torch.randint(0, 20, (16, n), generator=gen) for n in (5, 7, 9)]
    torch.manual_seed(0)
    try:
        result = mlcheck.not_constant_predictions(Bag(), ragged)
    except CheckFailed as failed:  # an untrained model may collapse: a verdict, never a crash
        assert failed.value.causes[0] == "class_collapse"
    else:
        assert result.figures["samples"] == 48


def test_read_only_numpy_inputs_pass_under_warnings_as_errors(mlcheck):
    x, y = (a.numpy().copy() for a in tc.digits_batch(32))
    x.setflags(write=False)
    y.setflags(write=False)
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mlcheck.overfit_one_batch(tc.DigitsCNN(), (x, y), loss_fn=CE()).passed


def test_a_dict_batch_is_a_usage_error_naming_its_keys(mlcheck):
    x, y = tc.digits_batch(8)
    with pytest.raises(MlcheckUsageError, match=r"^batch: .*got a dict with keys \['x', 'y'\]; pass \(batch\['x'\]"):
        mlcheck.overfit_one_batch(tc.DigitsCNN(), {"x": x, "y": y}, loss_fn=CE())


def test_token_ids_without_a_model_say_how_to_judge_them(mlcheck):
    ids = torch.randint(0, 20, (64, 9), generator=torch.Generator().manual_seed(0))
    with pytest.raises(CheckFailed) as failed:
        mlcheck.inputs_normalized(ids)
    assert "pass model= so the check judges what reaches the model's first weighted layer" in str(failed.value)


def test_a_keras_model_that_fails_to_build_is_a_failed_check(mlcheck):
    class Refuses(keras.layers.Layer):
        def build(self, shape):
            raise ValueError(f"this layer cannot take inputs of shape {shape}")

        def call(self, x):
            return x

    model = keras.Sequential([Refuses(), keras.layers.Dense(3)])
    x = np.random.default_rng(0).random((16, 4)).astype("float32")
    with pytest.raises(CheckFailed) as failed:
        mlcheck.output_range(model, x, kind="logits")
    assert failed.value.causes == ["input_shape"]


class TimeFirstOut(nn.Module):
    """Batch-first inputs (N, T, F), outputs laid out time-first (T, N, C) for a loss that takes ``o[-1]``."""

    def __init__(self) -> None:
        super().__init__()
        self.rnn, self.head = nn.GRU(4, 16), nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.rnn(x.transpose(0, 1))[0])


def test_time_first_outputs_are_judged_on_the_loss_and_refused_where_rows_are_read(mlcheck):
    """Their rows are time steps, not samples: the training checks read no targets against them (this
    crashed reading value targets of 16 rows into outputs of 6) and train on the loss alone; the check
    that reads one prediction per row says what it needs."""
    torch.manual_seed(0)
    x = torch.randn(16, 6, 4)
    y = (x[:, -1, 0] > 0).long() + (x[:, -1, 1] > 0).long()
    last = lambda o, t: nn.functional.cross_entropy(o[-1], t)  # noqa: E731
    for check in (mlcheck.overfit_one_batch, mlcheck.loss_decreases):
        torch.manual_seed(0)
        result = check(TimeFirstOut(), (x, y), loss_fn=last)
        assert result.passed and "judged on the loss alone" in result.figures["targets"]
    with pytest.raises(MlcheckUsageError, match=r"model: expected outputs with one row per input sample \(16"):
        mlcheck.not_constant_predictions(TimeFirstOut(), x, train_on=(x, y), loss_fn=last)
    torch.manual_seed(0)
    picked = mlcheck.not_constant_predictions(TimeFirstOut(), x, train_on=(x, y), loss_fn=CE(), output=lambda o: o[-1])
    assert picked.passed and picked.figures["samples"] == 16


class FlatLM(nn.Module):
    """Token logits flattened over positions, (N·T, V), as char-RNN and language-model tutorials return them."""

    def __init__(self, softmax: bool) -> None:
        super().__init__()
        self.emb, self.rnn, self.head = nn.Embedding(6, 16), nn.GRU(16, 32, batch_first=True), nn.Linear(32, 6)
        self.softmax = softmax

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.head(self.rnn(self.emb(x))[0])
        return (out.softmax(-1) if self.softmax else out).reshape(-1, 6)


@pytest.mark.parametrize("softmax", [False, True], ids=["logits", "BROKEN softmax into cross-entropy"])
def test_outputs_flattened_over_positions_are_still_read(mlcheck, softmax):
    """Rows that are each sample's positions in turn are not time-first: the softmax head under a
    cross-entropy is named as for (N, T, V) outputs (a first reading of the time-first rule lost it)."""
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 6, (32, 8), generator=g)
    torch.manual_seed(0)
    run = lambda: mlcheck.loss_decreases(FlatLM(softmax), (x, x.clone()),  # noqa: E731
                                         loss_fn=lambda o, t: nn.functional.cross_entropy(o, t.reshape(-1)))
    if not softmax:
        assert run().passed
        torch.manual_seed(0)  # rows that are positions are judged as rows, not refused as time-first
        judged = mlcheck.not_constant_predictions(FlatLM(False), x, train_on=(x, x.clone()),
                                                  loss_fn=lambda o, t: nn.functional.cross_entropy(o, t.reshape(-1)))
        assert judged.passed and judged.figures["samples"] == 32 * 8
        return
    with pytest.raises(CheckFailed) as failed:
        run()
    assert failed.value.causes[0] == "loss_mismatch" and "softmaxed twice" in str(failed.value)
