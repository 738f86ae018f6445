"""input_independent_baseline: real inputs beat zeroed inputs on held-out samples, in both frameworks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import keras_corpus as kc
import recipe_corpus as rc
import torch_corpus as tc
from keras_corpus import keras
from pytest_mlcheck import CheckFailed, MlcheckUsageError

CE = nn.CrossEntropyLoss


def _t(n: int = 128):
    return tc.digits_batch(n, offset=200)


def _k(n: int = 128):
    return kc.digits_arrays(n, offset=200)


BROKEN = [
    ("torch cnn, labels shuffled apart from inputs", lambda: dict(model=tc.DigitsCNN(), batch=rc.shuffled_labels(_t()),
                                                                 loss_fn=CE())),
    ("torch mlp, labels shuffled apart from inputs", lambda: dict(model=tc.digits_mlp(), batch=rc.shuffled_labels(_t()),
                                                                 loss_fn=CE())),
    ("torch a model that multiplies its input by zero", lambda: dict(model=tc.InputIgnoringNet(), batch=_t(),
                                                                    loss_fn=CE())),
    ("keras cnn, labels shuffled apart from inputs", lambda: dict(
        model=kc.compiled(kc.cnn(), keras.optimizers.Adam(1e-3), kc.sparse_ce()), batch=rc.shuffled_labels(_k()))),
    ("keras mlp, labels shuffled apart from inputs", lambda: dict(model=kc.mlp(), batch=rc.shuffled_labels(_k()),
                                                                 loss_fn=kc.sparse_ce())),
]

CORRECT = [
    ("torch cnn", lambda: dict(model=tc.DigitsCNN(), batch=_t(), loss_fn=CE())),
    ("torch mlp, SGD momentum", lambda: dict(model=tc.digits_mlp(), batch=_t(), loss_fn=CE(),
                                            optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9))),
    ("torch frozen backbone, trainable head", lambda: dict(model=tc.FrozenBackboneNet(), batch=_t(), loss_fn=CE())),
    ("torch the smallest batch allowed (64)", lambda: dict(model=tc.DigitsCNN(), batch=_t(64), loss_fn=CE())),
    ("keras cnn, compiled", lambda: dict(model=kc.compiled(kc.cnn(), keras.optimizers.Adam(1e-3), kc.sparse_ce()),
                                         batch=_k())),
    ("keras mlp", lambda: dict(model=kc.mlp(), batch=_k(), loss_fn=kc.sparse_ce())),
    ("keras Rescaling(1/255) on 0-255 pixels", lambda: dict(model=rc.k_mlp(rescale=1 / 255),
                                                            batch=kc.digits_arrays(128, offset=200, scale="uint8"),
                                                            loss_fn=kc.sparse_ce())),
]


@pytest.mark.parametrize("name,build", BROKEN, ids=[b[0] for b in BROKEN])
def test_targets_that_do_not_follow_from_the_inputs_fail_with_no_input_signal(mlcheck, name, build):
    torch.manual_seed(0)
    kw = build()
    with pytest.raises(CheckFailed) as failed:
        mlcheck.input_independent_baseline(kw.pop("model"), kw.pop("batch"), **kw)
    assert failed.value.causes[0] == "no_input_signal"
    assert "held-out accuracy, real inputs" in str(failed.value)


@pytest.mark.parametrize("name,build", CORRECT, ids=[c[0] for c in CORRECT])
def test_a_model_that_learns_from_its_inputs_beats_the_zero_input_baseline(mlcheck, name, build):
    torch.manual_seed(0)
    kw = build()
    result = mlcheck.input_independent_baseline(kw.pop("model"), kw.pop("batch"), **kw)
    figures = result.figures
    assert figures["real_inputs"] >= figures["zeroed_inputs"] + 0.25
    assert figures["real_inputs"] >= figures["constant_guess"] + 0.25


def test_memorising_shuffled_labels_is_not_evidence_of_signal(mlcheck):
    """The real-input copy fits its shuffled half (low training loss), yet fails on held-out samples."""
    with pytest.raises(CheckFailed) as failed:
        mlcheck.input_independent_baseline(tc.DigitsCNN(), rc.shuffled_labels(_t()), loss_fn=CE(), steps=200)
    result = failed.value.result
    assert result.end_loss < 0.5 * result.start_loss
    assert result.figures["metric"] == "accuracy" and result.figures["real_inputs"] < 0.3


def test_regression_targets_are_judged_by_held_out_loss(mlcheck):
    x, y = _t()
    target = x.flatten(1).mean(dim=1, keepdim=True) * 4  # brightness: a function of the inputs
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 1))
    result = mlcheck.input_independent_baseline(model, (x, target), loss_fn=nn.MSELoss())
    assert result.figures["metric"] == "loss"
    assert result.figures["real_inputs"] < 0.75 * result.figures["constant_guess"]
    with pytest.raises(CheckFailed) as failed:
        mlcheck.input_independent_baseline(model, rc.shuffled_labels((x, target)), loss_fn=nn.MSELoss())
    assert failed.value.causes[0] == "no_input_signal"


def test_a_batch_below_the_minimum_is_a_usage_error(mlcheck):
    with pytest.raises(MlcheckUsageError, match="^batch: expected at least 64 samples"):
        mlcheck.input_independent_baseline(tc.DigitsCNN(), _t(32), loss_fn=CE())


@pytest.mark.parametrize("kwargs,argument", [(dict(margin=0), "margin"), (dict(margin=1.5), "margin"),
                                             (dict(steps=0), "steps")])
def test_bad_arguments_are_usage_errors_naming_them(mlcheck, kwargs, argument):
    with pytest.raises(MlcheckUsageError, match=f"^{argument}:"):
        mlcheck.input_independent_baseline(tc.DigitsCNN(), _t(), loss_fn=CE(), **kwargs)


class _PackedByLength(nn.Module):
    """Token ids (0 = padding) into an LSTM packed by each row's length: all-zero rows cannot run."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, 16, padding_idx=0)
        self.lstm = nn.LSTM(16, 16, batch_first=True)
        self.head = nn.Linear(16, 2)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        lengths = (ids != 0).sum(1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(self.embed(ids), lengths, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)
        return self.head(h[-1])


def _token_batch(aligned: bool) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1, 20, (128, 6), generator=gen)
    y = (ids[:, 0] >= 10).long()  # the first token decides the class
    return ids, (y if aligned else y[torch.randperm(128, generator=gen)])


@pytest.mark.parametrize("aligned", [True, False], ids=["aligned", "BROKEN labels shuffled"])
def test_ids_a_model_cannot_run_as_zeros_are_shuffled_across_samples_instead(mlcheck, aligned):
    torch.manual_seed(0)
    kw = dict(loss_fn=nn.CrossEntropyLoss(), optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    if aligned:
        result = mlcheck.input_independent_baseline(_PackedByLength(), _token_batch(True), **kw)
        assert result.passed and "shuffled across samples" in result.shown["zeroed_inputs"]
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.input_independent_baseline(_PackedByLength(), _token_batch(False), **kw)
    assert failed.value.causes[0] == "no_input_signal", str(failed.value)
