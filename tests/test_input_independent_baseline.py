"""input_independent_baseline: on samples no copy trained on, predictions fit their own targets
better than the same targets re-paired among those samples (a permutation test), in both frameworks."""

from __future__ import annotations

import numpy as np
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
    assert failed.value.result.figures["p_value"] > 0.005
    assert "targets re-paired among the held-out samples" in str(failed.value)


@pytest.mark.parametrize("name,build", CORRECT, ids=[c[0] for c in CORRECT])
def test_a_model_that_learns_from_its_inputs_beats_the_zero_input_baseline(mlcheck, name, build):
    torch.manual_seed(0)
    kw = build()
    result = mlcheck.input_independent_baseline(kw.pop("model"), kw.pop("batch"), **kw)
    figures = result.figures
    assert figures["p_value"] <= 0.005 and figures["stages"] == 1
    assert figures["held_out_loss"] < 0.75 * figures["repaired_loss"]
    assert figures["accuracy"] >= figures["constant_guess"] + 0.25


def test_memorising_shuffled_labels_is_not_evidence_of_signal(mlcheck):
    """The real-input copy fits its shuffled half (low training loss), yet fails on held-out samples."""
    with pytest.raises(CheckFailed) as failed:
        mlcheck.input_independent_baseline(tc.DigitsCNN(), rc.shuffled_labels(_t()), loss_fn=CE(), steps=200)
    result = failed.value.result
    assert result.end_loss < 0.5 * result.start_loss
    assert result.figures["metric"] == "accuracy" and result.figures["accuracy"] < 0.3


def test_regression_targets_are_judged_by_held_out_loss(mlcheck):
    x, y = _t()
    target = x.flatten(1).mean(dim=1, keepdim=True) * 4  # brightness: a function of the inputs
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Linear(16, 1))
    result = mlcheck.input_independent_baseline(model, (x, target), loss_fn=nn.MSELoss())
    assert result.figures["metric"] == "loss" and "constant_guess" not in result.figures
    assert result.figures["held_out_loss"] < 0.75 * result.figures["repaired_loss"]
    with pytest.raises(CheckFailed) as failed:
        mlcheck.input_independent_baseline(model, rc.shuffled_labels((x, target)), loss_fn=nn.MSELoss())
    assert failed.value.causes[0] == "no_input_signal"


def test_a_copy_stops_at_three_times_the_steps_it_took_to_memorise_its_part(mlcheck, monkeypatch):
    """Classes: each copy trains until every sample of its part is right at step k, then to 3k; the
    same copy trained all 100 steps gives the same verdict. Values have no per-sample test: 100 steps."""
    from pytest_mlcheck.checks import input_independent_baseline as module

    result = mlcheck.input_independent_baseline(tc.digits_mlp(), _t(), loss_fn=CE(),
                                                optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    steps = result.figures["copy_steps"]
    assert all(s % 3 == 0 and s < 100 for s in steps), steps
    assert result.figures["p_value"] <= 0.0025
    monkeypatch.setattr(module, "BASELINE_PAST_FIT", 1000)  # never done before the budget
    full = mlcheck.input_independent_baseline(tc.digits_mlp(), _t(), loss_fn=CE(),
                                              optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert full.figures["copy_steps"] == [100, 100] and full.passed
    x, _ = _t()
    target = x.flatten(1).mean(dim=1, keepdim=True) * 4
    values = mlcheck.input_independent_baseline(nn.Sequential(nn.Flatten(), nn.Linear(64, 1)), (x, target),
                                                loss_fn=nn.MSELoss())
    # values train every step of the budget, and on (to 2×) while their loss falls short of explaining
    # their part (a linear map from 64 pixels at Adam's default rate: 100 steps are not enough)
    assert values.figures["copy_steps"] == [200, 200]


def _prices(n: int = 64, *, shuffled: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """13 features in [0, 1] (scaled by their maximum, as a tabular tutorial does) and a price around
    22 that follows them linearly: the untrained model's loss is mostly the prices' offset."""
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(n, 13)).astype(np.float32)
    y = 22.5 + (x - 0.5) @ rng.normal(0.0, 8.0, size=13).astype(np.float32) + rng.normal(0.0, 1.0, size=n)
    if shuffled:
        y = rng.permutation(y)
    return torch.from_numpy(x), torch.from_numpy(y[:, None].astype(np.float32))


def _price_mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(13, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1))


@pytest.mark.parametrize("shuffled", [False, True], ids=["prices follow the features", "prices shuffled apart"])
def test_a_copy_still_learning_at_the_budget_trains_on_until_it_explains_its_part(mlcheck, monkeypatch, shuffled):
    # after 100 steps of RMSprop 3e-4 each copy has learned the prices' mean and little else: its
    # held-out predictions are weak evidence (p 0.015 against the 0.0075 asked). It trains on, judged at each further
    # budget's end, until it explains 90 % of its part's variance; the shuffled twin's copies memorise
    # too (their part's variance explained) and still predict held-out prices no better than re-paired
    batch = _prices(shuffled=shuffled)
    opt = lambda p: torch.optim.RMSprop(p, lr=3e-4)  # noqa: E731
    if shuffled:
        with pytest.raises(CheckFailed) as info:
            mlcheck.input_independent_baseline(_price_mlp(), batch, loss_fn=nn.MSELoss(), optimizer=opt)
        assert info.value.causes[0] == "no_input_signal"
        return
    result = mlcheck.input_independent_baseline(_price_mlp(), batch, loss_fn=nn.MSELoss(), optimizer=opt)
    assert max(result.figures["copy_steps"]) > 100, result.figures["copy_steps"]
    from pytest_mlcheck.checks import input_independent_baseline as module

    monkeypatch.setattr(module, "BASELINE_EXTEND", 1)  # judged at the budget: no evidence yet
    with pytest.raises(CheckFailed, match="weak evidence either way"):
        mlcheck.input_independent_baseline(_price_mlp(), batch, loss_fn=nn.MSELoss(), optimizer=opt)


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_one_input_repeated_for_every_sample_fails_before_any_copy_trains(mlcheck, framework, monkeypatch):
    """A pipeline that computes every sample's features from the first sample (x[0] where x[i] was
    meant) hands the check one input with many labels: decisive, named without training a copy."""
    import pytest_mlcheck.checks.input_independent_baseline as iib

    trained: list[int] = []
    monkeypatch.setattr(iib, "_stage", lambda *a, **k: trained.append(1))
    if framework == "torch":
        x, y = _t(64)
        model, kwargs = tc.digits_mlp(), dict(loss_fn=CE())
        x = x[:1].repeat(64, *([1] * (x.dim() - 1)))
    else:
        x, y = _k(64)
        model, kwargs = kc.mlp(), dict(loss_fn=kc.sparse_ce())
        x = np.repeat(x[:1], 64, axis=0)
    with pytest.raises(CheckFailed) as info:
        mlcheck.input_independent_baseline(model, (x, y), **kwargs)
    assert info.value.causes == ["no_input_signal"] and not trained
    assert "all 64 inputs are one sample repeated" in str(info.value)


@pytest.mark.parametrize("framework", ["torch", "keras"])
def test_one_label_for_every_sample_fails_before_any_copy_trains(mlcheck, framework, monkeypatch):
    """Labels read as one value for every file (a path that matched no class: every label 0) leave the
    permutation test nothing to tell apart, since re-paired targets are the targets themselves: it was
    failed naming no_input_signal at p 0.51 to 1 (eat_tf2's CIFAR-2 on Windows paths, d2l's IMDB folder
    key, soundbay's sampler). Decisive, named without training a copy; the twin with the digits' own
    labels trains and passes (test_a_model_that_learns_from_its_inputs_beats_the_zero_input_baseline)."""
    import pytest_mlcheck.checks.input_independent_baseline as iib

    trained: list[int] = []
    monkeypatch.setattr(iib, "_stage", lambda *a, **k: trained.append(1))
    if framework == "torch":
        x, y = _t(64)
        model, kwargs, y = tc.digits_mlp(), dict(loss_fn=CE()), torch.zeros_like(y)
    else:
        x, y = _k(64)
        model, kwargs, y = kc.mlp(), dict(loss_fn=kc.sparse_ce()), np.zeros_like(y)
    with pytest.raises(CheckFailed) as info:
        mlcheck.input_independent_baseline(model, (x, y), **kwargs)
    assert info.value.causes == ["labels_imbalanced"] and not trained
    assert "all 64 samples of the batch have one label (class 0)" in str(info.value)


def test_one_target_row_for_every_sample_that_is_no_label_is_a_usage_error(mlcheck, monkeypatch):
    """RecBole LINE's port scores four pairs per sample and hands the check their signs as targets: the
    row [1, 0, 1, 0] for every sample. No label is in them to predict, so re-pairing them tests nothing: a
    usage error naming ``batch`` (it had failed naming ``labels_imbalanced``, read as one label). One value
    for every sample is the same. A one-hot row of one class stays one label (above)."""
    import pytest_mlcheck.checks.input_independent_baseline as iib

    trained: list[int] = []
    monkeypatch.setattr(iib, "_stage", lambda *a, **k: trained.append(1))
    x, _ = _t(64)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 4))
    for y in (torch.tensor([1.0, 0.0, 1.0, 0.0]).expand(64, 4).contiguous(), torch.full((64, 4), 0.5)):
        with pytest.raises(MlcheckUsageError) as info:
            mlcheck.input_independent_baseline(model, (x, y), loss_fn=torch.nn.BCEWithLogitsLoss())
        assert str(info.value).startswith("batch: expected targets that differ between samples"), str(info.value)
    assert not trained


def test_one_hot_rows_that_differ_are_not_one_label():
    from pytest_mlcheck import diagnosis

    eye = np.eye(4, dtype="float32")
    assert [c for c, _ in diagnosis.identical_targets(np.repeat(eye[:1], 8, axis=0))] == ["labels_imbalanced"]
    assert not diagnosis.identical_targets(eye[np.arange(8) % 4])
    assert not diagnosis.identical_targets(np.full(8, 0.5))  # one value target, not a label
    assert not diagnosis.identical_targets(np.zeros(1))
    assert not diagnosis.identical_targets(np.tile([1.0, 0.0, 1.0, 0.0], (8, 1)))  # several marks: no one label
    assert diagnosis.constant_targets(np.tile([1.0, 0.0, 1.0, 0.0], (8, 1))).tolist() == [1.0, 0.0, 1.0, 0.0]
    assert diagnosis.constant_targets(eye[np.arange(8) % 4]) is None
    # every position of every mask one class (masks divided by 255, then truncated): one label
    assert [c for c, _ in diagnosis.identical_targets(np.zeros((8, 4, 4)))] == ["labels_imbalanced"]


def test_a_batch_below_the_minimum_is_a_usage_error(mlcheck):
    with pytest.raises(MlcheckUsageError, match="^batch: expected at least 64 samples"):
        mlcheck.input_independent_baseline(tc.DigitsCNN(), _t(32), loss_fn=CE())


@pytest.mark.parametrize("kwargs,argument", [(dict(margin=0), "margin"), (dict(margin=1.5), "margin"),
                                             (dict(significance=0), "significance"),
                                             (dict(significance=1.0), "significance"), (dict(steps=0), "steps")])
def test_bad_arguments_are_usage_errors_naming_them(mlcheck, kwargs, argument):
    with pytest.raises(MlcheckUsageError, match=f"^{argument}:"):
        mlcheck.input_independent_baseline(tc.DigitsCNN(), _t(), loss_fn=CE(), **kwargs)


class _PackedByLength(nn.Module):
    """Token ids (0 = padding) into an LSTM packed by each row's length: an all-zero row cannot run."""

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
def test_token_ids_are_judged_as_given_no_input_is_blanked(mlcheck, aligned):
    """The check never feeds made-up inputs (all-zero ids are all padding, which a packed model cannot
    run on): it only re-pairs the copies' predictions with other samples' targets. Integer ids are
    not blamed as un-normalised inputs."""
    torch.manual_seed(0)
    kw = dict(loss_fn=nn.CrossEntropyLoss(), optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    if aligned:
        assert mlcheck.input_independent_baseline(_PackedByLength(), _token_batch(True), **kw).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.input_independent_baseline(_PackedByLength(), _token_batch(False), **kw)
    assert failed.value.causes == ["no_input_signal"], str(failed.value)


def test_a_margin_asks_for_an_effect_size_beyond_significance(mlcheck):
    """A correct model that learns passes the test, but not a margin of 0.95 accuracy points over the
    majority class: the failure says the predictions do follow the targets."""
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.input_independent_baseline(tc.DigitsCNN(), _t(), loss_fn=CE(), margin=0.95)
    assert failed.value.result.figures["p_value"] <= 0.005
    assert "by less than the margin" in str(failed.value)


def test_without_a_loss_the_permutation_test_reads_accuracy(mlcheck):
    """A train_step and no loss_fn: the loss of given outputs cannot be computed, so predictions are
    re-paired by class accuracy instead."""
    torch.manual_seed(0)
    model = tc.DigitsCNN()

    def step(m, opt, loss_fn, x, y):  # its own loss: loss_fn is None
        opt.zero_grad()
        loss = nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        return loss

    x, y = _t()
    result = mlcheck.input_independent_baseline(model, (x, y), train_step=step,
                                                optimizer=lambda p: torch.optim.Adam(p, lr=1e-3))
    assert "error (1 − accuracy)" in result.shown["held_out_loss"] and result.figures["p_value"] <= 0.005
    with pytest.raises(CheckFailed):
        mlcheck.input_independent_baseline(tc.DigitsCNN(), rc.shuffled_labels((x, y)), train_step=step,
                                           optimizer=lambda p: torch.optim.Adam(p, lr=1e-3))


def _unrelated(seed: int) -> tuple[nn.Module, tuple[torch.Tensor, torch.Tensor]]:
    """A small MLP and 64 Gaussian inputs with 3-class targets drawn independently of them."""
    g = torch.Generator().manual_seed(500 + seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))
    return model, (torch.randn(64, 8, generator=g), torch.randint(0, 3, (64,), generator=g))


def _null_p_values(mlcheck, seeds: range) -> list[float]:
    ps = []
    for seed in seeds:
        model, batch = _unrelated(seed)
        try:
            result = mlcheck.input_independent_baseline(model, batch, loss_fn=CE(), seed=seed)
        except CheckFailed as failed:
            result = failed.result
        ps.append(result.figures["p_value"])
    return ps


def test_targets_drawn_apart_from_the_inputs_do_not_pass(mlcheck):
    """40 datasets whose targets are independent of the inputs: at a 1 % significance none passes,
    and their p-values spread over (0, 1] rather than piling up near either end."""
    ps = _null_p_values(mlcheck, range(40))
    assert min(ps) > 0.0025 and 0.25 < float(np.median(ps)) < 0.75


@pytest.mark.slow
def test_the_permutation_test_holds_its_level_only_with_the_cross_fit_widening(mlcheck, monkeypatch):
    """300 unrelated datasets: with the √2 widening at most 1 % pass (the significance); with
    re-pairings taken at face value the cross-fitted copies' shared evidence passes more of them."""
    from pytest_mlcheck.checks import input_independent_baseline as module

    widened = _null_p_values(mlcheck, range(300))
    assert sum(p <= 0.0075 for p in widened) <= 3
    monkeypatch.setattr(module, "CROSS_FIT_SPREAD", 1.0)
    raw = _null_p_values(mlcheck, range(300))
    assert sum(p <= 0.0075 for p in raw) > sum(p <= 0.0075 for p in widened)


def _folds(end: float, sizes=(32, 32, 32, 32)):
    from pytest_mlcheck.checks.input_independent_baseline import Fold
    return [Fold(s, "loss", 0.6, np.full(5, 0.7), 0.6, 0.5, [0.69, 0.3, end], "binary") for s in sizes]


@pytest.mark.parametrize("p,observed,end,said", [
    (0.09, 0.6, 0.001, True),     # memorised, leaning to their own targets, p above the level: weak
    (0.6, 0.6, 0.001, False),     # p large: the targets do not follow, plainly
    (0.09, 0.8, 0.001, False),    # own targets fit worse than the re-pairings: no lean
    (0.09, 0.6, 0.2, False),      # the copies did not memorise their parts: more samples are not the story
])
def test_a_weak_failure_says_so_and_asks_for_a_larger_batch(p, observed, end, said):
    from pytest_mlcheck.checks.input_independent_baseline import weak_evidence
    note = weak_evidence(_folds(end), p, observed, 0.7, 128)
    assert (note is not None) is said
    if said:
        assert "every copy memorised the 96 samples" in note and "p = 0.09" in note
        assert "A batch of 256 or more samples may tell the two apart" in note


def test_a_weak_failure_on_copies_that_memorised_unrelated_targets_carries_the_note(mlcheck):
    """Shuffled labels memorised (200 steps): p lands where unrelated targets often do, and the message
    says the failure is weak evidence and how to settle it."""
    torch.manual_seed(0)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.input_independent_baseline(tc.DigitsCNN(), rc.shuffled_labels(_t()), loss_fn=CE(), steps=200)
    figures = failed.value.result.figures
    assert 0.0075 < figures["p_value"] <= 0.25 and figures["held_out_loss"] < figures["repaired_loss"]
    assert "weak evidence either way: every copy memorised the 96 samples" in str(failed.value)


class _Scaled(nn.Module):
    """An MLP that divides its 0..255 inputs by 255 itself (FlowNet's ``/ rgb_max``), or not."""

    def __init__(self, divide: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.divide = divide
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x / 255.0 if self.divide else x)


@pytest.mark.parametrize("divide", [True, False], ids=["the model scales them", "raw into the first layer"])
def test_raw_pixels_are_blamed_only_where_they_reach_a_weighted_layer(mlcheck, divide):
    """Shuffled labels fail either way; the 0..255 inputs are named beside them only where the first
    weighted layer receives them unscaled."""
    with pytest.raises(CheckFailed) as failed:
        mlcheck.input_independent_baseline(_Scaled(divide), rc.shuffled_labels(tc.digits_batch(128, offset=200,
                                                                                                scale="uint8")),
                                           loss_fn=CE())
    assert failed.value.causes[0] == "no_input_signal"
    assert ("inputs_not_normalized" in failed.value.causes) is not divide, str(failed.value)
