"""A loss whose least value a constant output reaches — every output at one value the head can give,
whatever the targets — cannot teach anything about targets that differ between samples: a
cross-entropy missing its negative term, -y·log p, is 0 wherever p = 1 (yadlt's denoising
autoencoder; the TensorFlow book's chapter 3 network on a linear output). It fails before training,
naming ``loss_mismatch``; the full cross-entropies and squared errors on raw-scale targets (a
constant far from them) are correct look-alikes that pass or fail for something else."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed
from pytest_mlcheck.targets import _won_by_a_constant, decide
from test_edge_floor import _AutoEncoder, _cross_entropy, _pixels


def _positive_term_only(y: np.ndarray):
    def loss(out: np.ndarray, targets=None) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(-(y * np.log(np.clip(out, 1e-10, 1.0))).mean())
    return loss


def test_a_positive_term_only_cross_entropy_is_least_at_a_constant_one():
    y = _pixels()
    targets = decide(y, np.full_like(y, 0.5), _positive_term_only(y))
    assert [c for c, _ in targets.problems] == ["loss_mismatch"]
    assert "every output at 1" in targets.problems[0][1]


@pytest.mark.parametrize("scale", [1.0, 1e3, 1e5], ids=["unit", "thousands", "prices"])
def test_squared_errors_and_the_full_cross_entropy_are_not_won_by_a_constant(scale):
    y = _pixels()
    assert not decide(y, np.full_like(y, 0.5), _cross_entropy(y)).problems
    rng = np.random.default_rng(0)
    values = (rng.normal(size=(32, 1)) * scale + 3 * scale).astype(np.float32)

    def mse(out: np.ndarray, targets=None) -> float:
        return float(((out - values) ** 2).mean())
    for untrained in (np.zeros_like(values), np.full_like(values, 1e4 * scale)):  # near, or far off
        assert not decide(values, untrained, mse).problems


def test_an_asymmetric_pinball_loss_is_not_won_by_its_edge_constant():
    """A 0.99 quantile loss is least at the targets too; its batch mean is a poor baseline, and the
    targets' maximum as a constant comes within 0.5 % of the way — well above rounding."""
    rng = np.random.default_rng(0)
    y = rng.random((64, 1)).astype(np.float32)
    untrained = (rng.normal(size=(64, 1)) * 0.1).astype(np.float32)

    def pinball(out: np.ndarray, targets=None) -> float:
        d = y - out
        return float(np.maximum(0.99 * d, -0.01 * d).mean())
    assert not decide(y, untrained, pinball).problems


@pytest.mark.parametrize("similar", [0.5, 0.9])
def test_a_contrastive_loss_on_distances_with_one_for_similar_is_not_won_by_a_constant(similar):
    """Its optimum is the targets inverted (distance 0 for a similar pair): the floor is taken there,
    so mostly-similar pairs do not let a constant distance 0 look as good as a perfect prediction."""
    rng = np.random.default_rng(0)
    y = (rng.random((64, 1)) < similar).astype(np.float32)

    def contrastive(d: np.ndarray, targets=None) -> float:
        return float((y * d ** 2 + (1 - y) * np.maximum(1 - d, 0) ** 2).mean())
    assert not decide(y, np.full_like(y, 0.5), contrastive).problems


def test_constant_targets_are_no_evidence():
    y = np.ones((16, 4), dtype=np.float32)
    assert not decide(y, np.full_like(y, 0.5), _positive_term_only(y)).problems


def _torch_positive_term(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return -(y * torch.log(out.clamp(1e-10, 1.0))).mean()


@pytest.mark.parametrize("check", ["overfit_one_batch", "loss_decreases"])
def test_a_torch_autoencoder_on_the_positive_term_fails_before_training(mlcheck, check):
    torch.manual_seed(0)
    x = torch.from_numpy(_pixels())
    with pytest.raises(CheckFailed) as failed:
        getattr(mlcheck, check)(_AutoEncoder(), (x, x) if check == "overfit_one_batch" else [(x, x)],
                                loss_fn=_torch_positive_term, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert failed.value.causes[0] == "loss_mismatch", str(failed.value)
    assert "whatever its target" in str(failed.value)


def test_its_twin_with_bce_passes(mlcheck):
    torch.manual_seed(0)
    x = torch.from_numpy(_pixels())
    mlcheck.overfit_one_batch(_AutoEncoder(), (x, x), loss_fn=nn.BCELoss(),
                              optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))


@pytest.mark.parametrize("full", [False, True], ids=["BROKEN positive term on a linear output", "sigmoid and BCE"])
def test_a_keras_binary_classifier(mlcheck, full):
    """The book's network, a linear output scored by -y·log(clip(out)), against its fix."""
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(1)
    x = rng.random((64, 2)).astype(np.float32)
    y = (x.sum(axis=1, keepdims=True) < 1).astype(np.float32)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid" if full else None)])

    def positive_term(y_true, out):
        return -keras.ops.mean(y_true * keras.ops.log(keras.ops.clip(out, 1e-10, 1.0)))

    model.compile(loss="binary_crossentropy" if full else positive_term, optimizer=keras.optimizers.Adam(1e-2))
    if full:
        try:
            mlcheck.overfit_one_batch(model, (x, y))
        except CheckFailed as exc:
            assert "loss_mismatch" not in exc.causes, str(exc)
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, (x, y))
    assert failed.value.causes[0] == "loss_mismatch", str(failed.value)



@pytest.mark.parametrize("offset", [7368.97, 0.97], ids=["within rounding of a large sum", "a small loss"])
def test_a_gap_within_float32_summing_rounding_is_no_evidence(offset):
    """A loss handed values that are no targets of its outputs (TFRS's candidate sampling
    probabilities, summed over 1,024 rows) scores the untrained model 0.08 above the "perfect
    prediction" at a size of 7,369, within what a float32 sum of its 16,384 terms rounds away: a
    constant as low proves nothing. The same gap on a loss of size 1 is no rounding, and a loss
    least at a constant output is named."""
    rng = np.random.default_rng(0)
    # two values per sample beside 32 outputs: no batch-mean baseline, as none fits the outputs
    y = rng.uniform(5e-5, 4e-3, size=(512, 2)).astype(np.float32)
    untrained = (rng.normal(size=(512, 32)) * 0.05).astype(np.float32)

    def loss_at(out: np.ndarray) -> float:  # least where every output is one value
        return float(np.float32(offset + 0.08 * float(np.std(out)) / 0.05))
    floor = loss_at(np.tile(y, (1, 16)))
    assert loss_at(np.ones_like(untrained)) <= floor < loss_at(untrained)  # what the probe sees either way
    found = _won_by_a_constant(loss_at, y, untrained, floor, [])
    assert [c for c, _ in found] == ([] if offset > 1000 else ["loss_mismatch"])


def _one_hot_steps(n: int = 64, steps: int = 4, classes: int = 12, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(classes, dtype=np.float32)[rng.integers(0, classes, size=(n, steps))]


def test_the_categorical_cross_entropy_on_a_per_step_softmax_is_not_won_by_a_constant():
    """-Σ y·log p on one-hot rows is the categorical cross-entropy: 0 at p = 1 everywhere, which a
    softmax head never gives (its rows are one value only at 1/C). keras's addition RNN (one-hot
    answers (N, 4, 12) under a per-step softmax) written with a hand-made loss had been told
    loss_mismatch; the same loss on a head of independent sigmoids still is."""
    y = _one_hot_steps()
    rng = np.random.default_rng(1)
    logits = rng.normal(size=y.shape)
    softmax = (np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)).astype(np.float32)
    sigmoid = (1 / (1 + np.exp(-logits))).astype(np.float32)

    def categorical(out: np.ndarray, targets=None) -> float:
        return float(-(y * np.log(np.clip(out, 1e-7, 1.0))).sum(axis=-1).mean())
    assert not decide(y, softmax, categorical).problems
    broken = decide(y, sigmoid, categorical).problems
    assert [c for c, _ in broken] == ["loss_mismatch"], broken


class _StepSoftmax(nn.Module):
    """An encoder GRU's last state repeated over the answer's steps, a decoder GRU, a softmax per step."""

    def __init__(self, sigmoid: bool = False) -> None:
        super().__init__()
        self.encoder, self.decoder = nn.GRU(12, 64, batch_first=True), nn.GRU(64, 64, batch_first=True)
        self.head, self.sigmoid = nn.Linear(64, 12), sigmoid

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, h = self.encoder(x)
        out, _ = self.decoder(h[-1].unsqueeze(1).repeat(1, 4, 1))
        logits = self.head(out)
        return torch.sigmoid(logits) if self.sigmoid else torch.softmax(logits, dim=-1)


@pytest.mark.parametrize("sigmoid", [False, True], ids=["per-step softmax", "BROKEN per-output sigmoids"])
def test_a_torch_seq2seq_under_a_hand_written_categorical_cross_entropy(mlcheck, sigmoid):
    torch.manual_seed(0)
    x = torch.from_numpy(_one_hot_steps(64, 7, 12, seed=2))
    y = torch.from_numpy(_one_hot_steps(64, 4, 12, seed=3))

    def categorical(out: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return -(targets * torch.log(out.clamp(1e-7, 1.0))).sum(dim=-1).mean()
    adam = lambda p: torch.optim.Adam(p, lr=1e-2)  # noqa: E731
    if not sigmoid:
        assert mlcheck.overfit_one_batch(_StepSoftmax(), (x, y), loss_fn=categorical, optimizer=adam).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_StepSoftmax(sigmoid=True), (x, y), loss_fn=categorical, optimizer=adam)
    assert failed.value.causes[0] == "loss_mismatch", str(failed.value)
