"""overfit_one_batch stops an extension whose loss has done its part while the samples right in eval mode
no longer grow: more steps only deepen the margins of the samples already right."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed
from pytest_mlcheck.checks.overfit_one_batch import _RightStall


class _EvalShortcut(nn.Module):
    """A classifier whose eval-mode forward takes another path (the batch's mean logits for every
    sample, as a badly written test-time branch would): it fits the batch in training mode, and in
    eval mode gets only the samples of the class the mean favours right, however long it trains."""

    def __init__(self, shortcut: bool) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 3))
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        if self.shortcut and not self.training:
            return out.mean(0, keepdim=True).expand_as(out)
        return out


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    y = torch.arange(24) % 3
    return torch.randn(24, 8, generator=g) + 2 * nn.functional.one_hot(y, 8).float(), y


def _sgd(params):
    return torch.optim.SGD(params, lr=0.02)  # slow enough that the budget of 400 steps runs out


@pytest.mark.parametrize("shortcut", [True, False])
def test_an_eval_mode_path_that_stays_wrong_stops_the_extension_and_its_twin_fits(mlcheck, shortcut):
    torch.manual_seed(0)
    model = _EvalShortcut(shortcut)
    if not shortcut:
        result = mlcheck.overfit_one_batch(model, _batch(), loss_fn=nn.CrossEntropyLoss(), optimizer=_sgd)
        assert result.passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, _batch(), loss_fn=nn.CrossEntropyLoss(), optimizer=_sgd)
    text = str(failed.value)
    assert "no more than a stretch before: training stopped there" in text
    assert "8/24 samples right" in text  # the class the mean logits favour, and nothing more
    assert "compare its outputs in train() and eval() mode" in text  # its eval-mode loss lagged the training loss
    # stopped a stretch or two past the point where the loss had done its part, not at 16× the budget
    assert failed.value.result.steps < 16 * 400 / 2


class _Stub:
    """A session and targets whose eval-mode reading gives the right-counts handed in, in turn, at
    the eval-mode loss ``eval_loss`` (from a start of 1, floor 0)."""

    def __init__(self, counts: list[int], n: int = 10, eval_loss: float = 0.5) -> None:
        self.counts, self.n, self.eval_loss = list(counts), n, eval_loss
        self.task, self.unread, self.refuted, self.floor = "classification", False, float("nan"), 0.0

    def recalibrate(self, prepared: object) -> bool:
        return False

    def predict(self, prepared: object) -> np.ndarray:
        return np.array(self.counts.pop(0))

    def loss_of(self, outputs: np.ndarray, prepared: object) -> float:
        return self.eval_loss

    def penalty(self) -> float:
        return 0.0

    def has_loss(self) -> bool:
        return True  # a loss that cannot read these outputs (NaN), not a step's own loss

    channel_axis, mask = None, False

    def right(self, out: np.ndarray) -> np.ndarray:
        return np.arange(self.n) < int(out)

    def right_share(self, out: np.ndarray) -> float:
        return float(self.right(out).mean())


@pytest.mark.parametrize("counts, stops_at", [([6, 6], 2), ([6, 5], 2), ([6, 7, 8, 8], 4), ([6, 7, 9, 10], None)])
def test_the_stall_is_read_on_the_samples_right_past_the_drop(counts, stops_at):
    stub = _Stub(counts)  # eval-mode loss 50 % of the way: eval mode lags the training loss
    stall = _RightStall(stub, None, None, stub, 0.9, None, np.zeros(10))
    losses = [1.0, 0.05]  # 95 % of the way: past the drop
    calls = [stall(losses) for _ in counts]
    assert calls.index(True) + 1 == stops_at if stops_at else not any(calls)
    assert (stall.line is not None) == bool(stops_at)
    if stops_at:
        assert "on the eval-mode outputs only 50%" in stall.line


@pytest.mark.parametrize("eval_loss", [0.05, float("nan")])
def test_no_stall_where_the_eval_mode_loss_came_as_far_or_cannot_be_read(eval_loss):
    """The last few samples of a batch (flipped labels among them) may take thousands of steps to
    memorise while the share right stands still: only a gap to eval mode stops the run."""
    stub = _Stub([6, 6, 6, 6], eval_loss=eval_loss)
    stall = _RightStall(stub, None, None, stub, 0.9, None, np.zeros(10))
    assert not any(stall([1.0, 0.05]) for _ in range(4))
    assert stall.line is None


def test_no_stall_is_read_while_the_loss_is_short_of_the_drop_or_for_values():
    stub = _Stub([6, 6, 6])
    stall = _RightStall(stub, None, None, stub, 0.9, None, np.zeros(10))
    assert not stall([1.0, 0.5]) and not stall([1.0, 0.5])  # 50 % of the way: no reading taken
    assert stub.counts == [6, 6, 6]
    stub.task = "regression"
    assert not stall([1.0, 0.01]) and stub.counts == [6, 6, 6]


def test_the_siamese_head_under_a_contrastive_loss_stops_early(mlcheck):
    """keras-io's Siamese network with a BatchNorm(1) + sigmoid head under the contrastive loss (the
    corpus's buggy port): its training loss comes all the way while the eval-mode outputs keep a few
    of the 16 pairs wrong; it trained to 16× the budget (70 s in torch, 307 s in Keras) before the rule."""
    from tests.real_programs import kerasio_siamese_contrastive_sigmoid_distance as siamese

    torch.manual_seed(0)
    b = siamese.buggy("torch")
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(b["model"], b["batch"], loss_fn=b["loss_fn"], optimizer=b["optimizer"])
    assert "training stopped there" in str(failed.value)
    assert failed.value.result.steps <= 4 * 400


def test_dense_targets_are_read_by_the_share_of_positions_right():
    """A segmentation sample counts as right only at nearly all of its pixels: the stall reads the
    share of positions instead, which grows long before the sample does (positions the loss skips
    are left out)."""
    from pytest_mlcheck.targets import Targets

    ids = np.zeros((1, 4, 4), dtype=np.int64)
    ids[0, :2] = 1
    t = Targets("classification", "class ids per position", ids, 2, "logits", 0.0, [], channel_axis=1)
    out = np.zeros((1, 2, 4, 4), dtype=np.float32)
    out[0, 1, 0] = 1.0  # class 1 on the first row only: 12 of 16 positions right
    assert not t.right(out).any() and t.right_share(out) == 12 / 16
    t.ignored = np.zeros_like(ids, dtype=bool)
    t.ignored[0, 1] = True  # the second row, all wrong, is skipped by the loss
    assert t.right_share(out) == 1.0


def test_a_few_flipped_labels_memorised_slowly_still_pass(mlcheck):
    """A plain MLP (no BatchNorm, no dropout) at SGD 0.01 on 64 samples, 2 of them with a flipped
    label: the last two are memorised after about 4,000 steps, with the share right standing still
    for stretches on the way. Eval mode is no different here, so the extension runs on (the stall
    rule had failed it at step 3,200 naming lr_too_low)."""
    g = torch.Generator().manual_seed(2)
    x = torch.randn(64, 16, generator=g)
    y = (x @ torch.randn(16, 4, generator=g)).argmax(1)
    y[:2] = (y[:2] + 1) % 4
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(16, 32), nn.Tanh(), nn.Linear(32, 4))
    result = mlcheck.overfit_one_batch(model, (x, y), loss_fn=nn.CrossEntropyLoss(),
                                       optimizer=lambda p: torch.optim.SGD(p, lr=0.01))
    assert result.passed and result.steps > 3200


class _StepLossStub(_Stub):
    """A step's own loss (no loss to score outputs with): the eval-mode reading gives, in turn, the
    predicted classes handed in, against labels 0..4 twice over."""

    def __init__(self, predictions: list[list[int]]) -> None:
        super().__init__([0] * len(predictions), eval_loss=float("nan"))
        self.predictions, self.ids, self.mask = [np.array(p) for p in predictions], np.arange(10) % 5, False
        self.channel_axis = None

    def has_loss(self) -> bool:
        return False

    def predict(self, prepared: object) -> np.ndarray:
        return self.predictions.pop(0)

    def predicted(self, out: np.ndarray) -> np.ndarray:
        return out

    def right(self, out: np.ndarray) -> np.ndarray:
        return out == self.ids

    def right_share(self, out: np.ndarray) -> float:
        return float(self.right(out).mean())


@pytest.mark.parametrize("learnt", [False, True], ids=["BROKEN one class for all", "nine of ten right"])
def test_a_step_loss_is_stopped_only_where_the_outputs_fit_shuffled_labels_as_well(learnt):
    """With no loss to score outputs, the classes decide: every sample given class 0 matches its own
    label no more often than shuffled labels (stopped at the second reading); nine of ten right, flat
    over stretches, are the last samples memorised slowly (never stopped)."""
    one = [0, 1, 2, 3, 4, 0, 1, 2, 3, 0] if learnt else [0] * 10
    stub = _StepLossStub([one] * 4)
    stall = _RightStall(stub, None, None, stub, 0.9, None, np.zeros(10))
    calls = [stall([1.0, 0.01]) for _ in range(4)]
    if learnt:
        assert not any(calls) and stall.line is None
    else:
        assert calls.index(True) == 1 and "the loss your step returns had come 99%" in stall.line


class _ScoredStub:
    """A session whose loss is a cross-entropy of given outputs (logits) against ``by``: "targets" (the
    batch's labels) or "predicted" (the class the outputs give: a loss that scores every sample as
    fitted, as a margin header whose target score is a constant)."""

    def __init__(self, by: str) -> None:
        self.by = by

    def penalty(self) -> float:
        return 0.0

    def prepare(self, x, y):
        return x, y

    def loss_of(self, outputs, part) -> float:
        logits = torch.as_tensor(np.asarray(outputs), dtype=torch.float32)
        labels = torch.as_tensor(part[1]) if self.by == "targets" else logits.argmax(1)
        return float(nn.functional.cross_entropy(logits, labels))


@pytest.mark.parametrize("by", ["targets", "predicted"])
def test_wrong_samples_cost_as_little_as_right_ones_only_where_the_right_ones_are_fitted(by):
    """packt's raw-pixel MLP starts at a loss of 78.8 and collapses to near-uniform rows (2.17 for the 4
    right, 2.31 for the 28 wrong, log 10 = 2.30): both cost what uninformative outputs cost, and the
    loss rewards the class all the same. A loss that scores every sample as fitted gives confident
    rows near 0 whatever the class: that one is named."""
    from pytest_mlcheck.targets import Targets

    rng = np.random.default_rng(0)
    y = np.arange(32) % 10
    right = np.zeros(32, bool)
    right[:4] = True
    if by == "targets":  # near-uniform rows, the 4 right ones a hair ahead
        outputs = rng.normal(0, 0.01, (32, 10)).astype(np.float32)
        outputs[np.arange(32), np.where(right, y, (y + 1) % 10)] += 0.2
    else:  # confident rows, 28 of them on another class
        outputs = np.full((32, 10), -8.0, np.float32)
        outputs[np.arange(32), np.where(right, y, (y + 1) % 10)] = 8.0
    # raw pixels: a loss far up at initialisation; the margin header's model starts near uniform
    initial = rng.normal(0, 40 if by == "targets" else 0.01, (32, 10)).astype(np.float32)
    targets = Targets("classification", "class ids (N,)", y, 10, "logits", 0.0, [])
    assert (targets.right(outputs) == right).all()
    stall = _RightStall(_ScoredStub(by), (np.zeros((32, 4), np.float32), y), None, targets, 0.9, None, initial)
    assert not stall._unseen([1.0] * 400, outputs)  # the first reading only sets the share right
    assert stall._unseen([1.0] * 800, outputs) == (by == "predicted")
    assert (stall.cause is not None) == (by == "predicted")
