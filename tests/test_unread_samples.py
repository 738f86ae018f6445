"""A loss that reads the outputs of only some samples of the batch: mlelarge/graph_neural_net's
``triplet_loss`` returned from inside its loop over the batch, so one pair of 32 trained the model.
The training checks' failure names ``loss_mismatch`` from values: moving any other sample's outputs
leaves the loss bit for bit where it was. Correct look-alikes: the same loss averaged over the batch,
hard-example mining (it reads a sample made hard), samples whose every target the loss skips."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from pytest_mlcheck import CheckFailed, diagnosis


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 8, generator=g)
    return x, (x[:, :4].sum(1) > 0).long() + 2 * (x[:, 4:].sum(1) > 0).long()  # 4 classes the inputs decide


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))


def _first_only(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    for o, t in zip(out, y):  # the return sits inside the loop: the first sample's loss alone
        return F.cross_entropy(o[None], t[None])
    raise ValueError("an empty batch")


def _every(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return torch.stack([F.cross_entropy(o[None], t[None]) for o, t in zip(out, y)]).mean()


@pytest.mark.parametrize("loss", [_first_only, _every], ids=["BROKEN return inside the loop", "averaged"])
def test_a_loss_that_reads_one_sample_fails_naming_it(mlcheck, loss):
    run = lambda: mlcheck.overfit_one_batch(_net(), _batch(), loss_fn=loss, steps=50,  # noqa: E731
                                            optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    if loss is _every:
        assert run().passed
        return
    with pytest.raises(CheckFailed) as failed:
        run()
    assert failed.value.causes[0] == "loss_mismatch", str(failed.value)
    assert "reads the outputs of the first sample alone (sample 0 of 32)" in str(failed.value)


@pytest.mark.parametrize("first_only", [True, False], ids=["BROKEN first sample only", "every sample"])
def test_a_regression_loss_on_one_sample_fits_and_still_fails(mlcheck, first_only):
    """Value targets are judged on the loss alone, which one sample's fit meets: the pass is failed on the
    values (two loss calls on a pass: every sample's outputs but the first's moved, then but the last's)."""
    x, _ = _batch()
    y = x[:, :2].sum(1, keepdim=True)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
    loss = (lambda out, t: F.mse_loss(out[:1], t[:1])) if first_only else nn.MSELoss()
    run = lambda: mlcheck.overfit_one_batch(model, (x, y), loss_fn=loss,  # noqa: E731
                                            optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    if not first_only:
        assert run().passed
        return
    with pytest.raises(CheckFailed) as failed:
        run()
    assert failed.value.causes == ["loss_mismatch"], str(failed.value)
    assert "the loss fell, but it reads only some samples' outputs" in str(failed.value)


def _ce(y: np.ndarray, keep: np.ndarray | None = None):
    def loss(out: np.ndarray) -> float:
        logp = out - np.log(np.exp(out).sum(1, keepdims=True))
        per = -logp[np.arange(len(y)), y]
        return float(per.mean() if keep is None else per[keep].mean())
    return loss


def test_a_mask_the_loss_holds_mining_and_ignored_targets_are_no_unread_samples():
    """A loss reading a subset by design reads more than one sample: a GNN's training nodes (a mask the loss
    closes over, every target valid — a review's false alarm under a first rule that counted unread samples
    among 8 probed), hard-example mining (even its single hardest sample: moving the others makes another one
    the hardest), ignored targets. The first sample alone, or the last, is the defect."""
    rng = np.random.default_rng(0)
    out, y = rng.normal(size=(32, 4)).astype(np.float32), rng.integers(0, 4, 32)

    def hardest(k: int):  # online hard-example mining: the k largest per-sample losses
        def loss(o: np.ndarray) -> float:
            logp = o - np.log(np.exp(o).sum(1, keepdims=True))
            return float(np.sort(-logp[np.arange(32), y])[-k:].mean())
        return loss

    assert diagnosis.unread_samples(out, _ce(y)) == []
    for k in (1, 2, 4):
        assert diagnosis.unread_samples(out, hardest(k)) == [], k
    assert diagnosis.unread_samples(out, _ce(y, np.arange(32) % 10 == 0)) == []  # training nodes 0, 10, 20, 30
    assert diagnosis.unread_samples(out, _ce(y, np.arange(32) < 3)) == []  # a prefix of training nodes
    (cause, said), = diagnosis.unread_samples(out, _ce(y, np.arange(32) == 31))
    assert cause == "loss_mismatch" and "the last sample alone (sample 31 of 32)" in said
    ignored = np.arange(32) >= 1  # the targets say the loss skips every other sample (ignore_index rows)
    assert diagnosis.unread_samples(out, _ce(y, ~ignored), ignored) == []
    assert diagnosis.unread_samples(out, lambda o: 1.0) == []  # blind to every output: another look's case


def test_keras_reads_the_same(mlcheck):
    import keras

    keras.utils.set_random_seed(0)
    x, y = (t.numpy() for t in _batch())
    ce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(4)])
    model.compile(loss=lambda t, p: ce(t[:1], p[:1]), optimizer=keras.optimizers.Adam(1e-2))
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, (x, y), steps=50)
    assert failed.value.causes[0] == "loss_mismatch", str(failed.value)
    assert "reads the outputs of the first sample alone" in str(failed.value)


def test_outputs_whose_first_axis_is_not_the_batch_are_not_read_as_samples():
    """Time-first outputs (T, N, C) under a loss that reads the last step (``o[-1]``) would read as the last
    sample alone: the look runs only where the outputs' first axis is as long as the batch's labels."""
    from types import SimpleNamespace

    from pytest_mlcheck.checks.training import _unread_samples

    rng = np.random.default_rng(0)
    out, y = rng.normal(size=(6, 16, 3)).astype(np.float32), rng.integers(0, 3, 16)
    last_step = _ce(y)
    session = SimpleNamespace(labels=lambda batch: y, loss_of=lambda o, batch: last_step(o[-1]))
    targets = SimpleNamespace(ignored=None)
    assert diagnosis.unread_samples(out, lambda o: last_step(o[-1])) != []  # axis 0 taken for samples
    assert _unread_samples(session, None, out, targets) == []
