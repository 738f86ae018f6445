"""One-hot targets per position — a text generator's (N, T, C) next characters, WaveNet's one-hot
samples shifted by one with an empty last step — under a loss that softmaxes along the class axis are
one class per position (argmax), not multi-hot: a softmax ranks the target's score first and leaves
every score's sign free, so demanding each logit on its side of 0 asked what the loss never trains
(ibab/tensorflow-wavenet's port failed overfit_one_batch in both versions). Twins: the same targets
under a per-output binary loss stay multilabel; rows of all 0 that the loss reads are no class."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pytest_mlcheck.targets import decide

N, T, K = 3, 12, 6


def _one_hot(empty_last: bool = False, layout: str = "last") -> np.ndarray:
    ids = np.random.default_rng(0).integers(0, K, (N, T))
    y = np.eye(K, dtype=np.float32)[ids]
    if empty_last:
        y[:, -1] = 0  # the target shifted left by one: nothing follows the last step
    return np.ascontiguousarray(y.transpose(0, 2, 1)) if layout == "first" else y


def _soft_ce(axis: int):
    def loss_at(out: np.ndarray, targets=None, *, y: np.ndarray) -> float:
        if targets is not None:
            return float("nan")
        o, t = torch.from_numpy(out), torch.from_numpy(y)
        return float(torch.mean(-torch.sum(t * torch.log_softmax(o, dim=axis), dim=axis)))
    return loss_at


def _outputs(y: np.ndarray) -> np.ndarray:
    return np.random.default_rng(1).normal(0, 1, y.shape).astype(np.float32)


@pytest.mark.parametrize("layout, axis", [("last", 2), ("first", 1)])
def test_one_hot_rows_under_a_softmax_loss_are_one_class_per_position(layout, axis):
    y = _one_hot(layout=layout)
    loss = _soft_ce(axis)
    targets = decide(y, _outputs(y), lambda o, t=None: loss(o, t, y=y))
    assert targets.task == "classification" and targets.channel_axis == axis, targets.encoding
    assert targets.encoding.startswith("one-hot per position") and not targets.problems
    assert np.array_equal(targets.ids, np.moveaxis(y, axis, -1).argmax(-1))


def test_an_empty_last_step_the_loss_skips_is_not_demanded():
    y = _one_hot(empty_last=True)
    loss = _soft_ce(2)
    targets = decide(y, _outputs(y), lambda o, t=None: loss(o, t, y=y))
    assert targets.channel_axis == 2 and targets.ignored is not None
    assert targets.ignored[:, -1].all() and not targets.ignored[:, :-1].any()
    assert "3 of 36 positions ignored by the loss (rows of all 0)" in targets.encoding


def test_twins_a_binary_loss_per_output_and_empty_rows_the_loss_reads_stay_multilabel():
    y = _one_hot()

    def bce(out, targets=None):
        return float(F.binary_cross_entropy_with_logits(torch.from_numpy(out), torch.from_numpy(y)))
    assert decide(y, _outputs(y), bce).task == "multilabel"
    y0 = _one_hot(empty_last=True)

    def reads_empty_rows(out, targets=None):  # a softmax loss plus a penalty on every output
        o = torch.from_numpy(out)
        cross_entropy = torch.mean(-torch.sum(torch.from_numpy(y0) * torch.log_softmax(o, -1), -1))
        return float(cross_entropy + 1e-2 * o.pow(2).mean())
    assert decide(y0, _outputs(y0), reads_empty_rows).task == "multilabel"


class _PerStep(nn.Module):
    """Logits per step from the step's own one-hot input: next = (current + 1) mod K."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(K, K)

    def forward(self, x):
        return self.fc(x) + 5.0  # every logit starts far above 0: the softmax does not care


def test_a_sequence_model_on_one_hot_next_steps_fits_its_batch(mlcheck):
    ids = np.random.default_rng(0).integers(0, K, (16, T))
    x = torch.from_numpy(np.eye(K, dtype=np.float32)[ids])
    y = torch.from_numpy(np.eye(K, dtype=np.float32)[(ids + 1) % K])

    def loss_fn(logits, target):
        return torch.mean(-torch.sum(target * torch.log_softmax(logits, -1), -1))
    result = mlcheck.overfit_one_batch(_PerStep(), (x, y), loss_fn=loss_fn)
    assert result.passed and result.figures["targets"].startswith("one-hot per position")
