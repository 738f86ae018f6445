"""Probabilities softmaxed a second time by a loss of the user's own that no target lines up with
(after mlelarge/graph_neural_net PR #37: node-similarity scores softmaxed before CrossEntropyLoss
against each node's own index, the loader's target a dummy; here the softmax ends the model, where
the outputs show it): the loss reads only the differences within a row, which is decisive, where no
floor can be computed. Where the softmax sits inside the loss itself (as in the program), the loss of
chosen score rows shows it: bounded however confident, summing over the classes to what a
cross-entropy of a softmax gives."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed
from pytest_mlcheck.targets import decide

NODES = 6


class Matcher(nn.Module):
    """Scores every node of one graph against every node of its noisy copy: (N, nodes, nodes)."""

    def __init__(self, softmax: bool) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed, self.softmax = nn.Linear(NODES, 16), softmax

    def forward(self, pair):
        a, b = self.embed(pair[:, 0]), self.embed(pair[:, 1])
        scores = a @ b.transpose(1, 2)
        return torch.softmax(scores, dim=-1) if self.softmax else scores


def node_loss(out, _dummy):
    """Cross-entropy of each node's row against its own index (the loss ignores the target given)."""
    n = out.shape[-1]
    return nn.functional.cross_entropy(out.reshape(-1, n), torch.arange(n).repeat(len(out)))


def _pairs(n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    adj = (torch.rand(n, NODES, NODES, generator=g) < 0.5).float()
    adj = torch.triu(adj, 1) + torch.triu(adj, 1).transpose(1, 2)
    noisy = (adj + (torch.rand(n, NODES, NODES, generator=g) < 0.1).float()) % 2
    return torch.stack([adj, noisy], dim=1), torch.zeros(n, 0)


def node_loss_of_softmax(out, _dummy):
    """The program's loss: the scores softmaxed, then the cross-entropy (which softmaxes them again)."""
    return node_loss(torch.softmax(out, dim=-1), _dummy)


def _judged(call, softmax: bool, words: str = "a loss that applies its own softmax") -> None:
    """The scores' twin passes; the softmax one fails naming the second softmax first."""
    if not softmax:
        assert call().passed
        return
    with pytest.raises(CheckFailed) as failed:
        call()
    assert failed.value.causes[0] == "loss_mismatch", str(failed.value)
    assert words in str(failed.value)


@pytest.mark.parametrize("softmax", [True, False], ids=["BROKEN softmax into its cross-entropy", "scores"])
def test_probabilities_into_a_loss_that_softmaxes_them_are_named_before_training(mlcheck, softmax):
    x, dummy = _pairs()
    _judged(lambda: mlcheck.overfit_one_batch(Matcher(softmax), (x, dummy), loss_fn=node_loss,
                                              optimizer=lambda p: torch.optim.Adam(p, lr=1e-2)), softmax)


INSIDE = "the loss softmaxes the outputs before its cross-entropy"


@pytest.mark.parametrize("softmax", [True, False], ids=["BROKEN softmax inside the loss", "cross-entropy of the scores"])
def test_a_softmax_inside_a_loss_of_ones_own_is_named_from_the_loss_of_chosen_rows(mlcheck, softmax):
    x, dummy = _pairs()
    _judged(lambda: mlcheck.overfit_one_batch(Matcher(False), (x, dummy),
                                              loss_fn=node_loss_of_softmax if softmax else node_loss,
                                              optimizer=lambda p: torch.optim.Adam(p, lr=1e-2)), softmax, INSIDE)


def test_losses_on_softmaxed_scores_that_are_no_cross_entropy_are_not_named():
    """A squared error or a KL divergence of the softmaxed scores is bounded too, and reads only the
    differences within a row, but sums over the classes to other values; a cross-entropy that softmaxes
    only once grows with the confidence of a wrong row."""
    out = np.random.default_rng(0).normal(size=(8, 4, 4)).astype(np.float32)
    eye = np.eye(4, dtype=np.float32)
    dummy = np.zeros((8, 0), dtype=np.float32)

    def softmax(z):
        z = z - z.max(-1, keepdims=True)
        return np.exp(z) / np.exp(z).sum(-1, keepdims=True)

    def ce(z, targets=None):  # each row against its own index, as the matcher's loss (a stable log-softmax)
        z = z.astype(np.float64) - z.max(-1, keepdims=True)
        return float(-((z - np.log(np.exp(z).sum(-1, keepdims=True))) * eye).sum(-1).mean())

    squared = lambda z, t=None: float(((softmax(z) - eye) ** 2).sum(-1).mean())  # noqa: E731
    kl = lambda z, t=None: float((eye * -np.log(np.clip(softmax(z), 1e-12, 1))).sum(-1).mean())  # noqa: E731
    twice = lambda z, t=None: ce(softmax(z))  # noqa: E731
    assert [c for c, _ in decide(dummy, out, twice).problems] == ["loss_mismatch"]
    assert INSIDE in decide(dummy, out, twice).problems[0][1]
    for loss in (ce, squared, kl):
        assert not decide(dummy, out, loss).problems


def test_probabilities_into_a_loss_of_their_own_log_are_not_a_second_softmax():
    """NLL of the probabilities' log is how probabilities are scored: a shift of a row moves it."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(8, 4, 4))
    probs = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    ids = np.arange(4)

    def nll(out, targets=None):
        return float(-np.log(np.take_along_axis(out, np.broadcast_to(ids, out.shape[:2])[..., None], -1)).mean())

    def own_softmax(out, targets=None):
        z = out - out.max(-1, keepdims=True)
        return nll(np.exp(z) / np.exp(z).sum(-1, keepdims=True))

    dummy = np.zeros((8, 0), dtype=np.float32)
    assert not decide(dummy, probs, nll).problems
    assert [c for c, _ in decide(dummy, probs, own_softmax).problems] == ["loss_mismatch"]
    # a small weight moves neither verdict; a loss that reads no output is no second softmax
    assert not decide(dummy, probs, lambda out, t=None: 1e-4 * nll(out)).problems
    assert [c for c, _ in decide(dummy, probs, lambda out, t=None: 1e-4 * own_softmax(out)).problems] == \
        ["loss_mismatch"]
    assert not decide(dummy, probs, lambda out, t=None: 0.5).problems


def _keras_matcher(softmax: bool, *, inside: bool = False):
    """The matcher in Keras; ``softmax`` at the end of the model or, ``inside``, in its loss (written
    out, so Keras 3 cannot recognise and undo it)."""
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)
    pair = keras.Input((2, NODES, NODES))
    embed = layers.Dense(16)
    a, b = embed(pair[:, 0]), embed(pair[:, 1])
    scores = ops.matmul(a, ops.transpose(b, (0, 2, 1)))
    model = keras.Model(pair, ops.softmax(scores, axis=-1) if softmax and not inside else scores)

    def node_ce(_dummy, out):
        ids = ops.broadcast_to(ops.arange(NODES), ops.shape(out)[:2])
        if softmax and inside:
            out = ops.exp(out - ops.max(out, axis=-1, keepdims=True))
            out = out / ops.sum(out, axis=-1, keepdims=True)
        return keras.losses.sparse_categorical_crossentropy(ids, out, from_logits=True)

    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=node_ce)
    return model


@pytest.mark.parametrize("softmax", [True, False], ids=["BROKEN softmax into its cross-entropy", "scores"])
def test_the_keras_matcher_is_judged_alike(mlcheck, softmax):
    x, dummy = (t.numpy() for t in _pairs())
    _judged(lambda: mlcheck.overfit_one_batch(_keras_matcher(softmax), (x, dummy)), softmax)


def _ce_over(axis: int):
    def loss(out, targets=None):
        z = out - out.max(axis, keepdims=True)
        logp = z - np.log(np.exp(z).sum(axis, keepdims=True))
        ids = np.expand_dims(IDS, axis)
        return float(-np.take_along_axis(logp, ids, axis).mean())
    return loss


IDS = np.random.default_rng(1).integers(0, 5, size=(8, 5))


@pytest.mark.parametrize("axis", [1, 2])
def test_square_scores_are_read_along_the_axis_the_loss_softmaxes(axis):
    """Scores (N, T, T) for T ids per sample fit either layout; the loss says which: it ignores a shift
    of every position by a constant of its own only along its class axis (Keras scores the last,
    torch's CrossEntropyLoss axis 1)."""
    out = np.random.default_rng(0).normal(size=(8, 5, 5)).astype(np.float32)
    assert decide(IDS, out, _ce_over(axis)).channel_axis == axis


def _nll_over(axis: int):
    """An NLLLoss over log-probabilities along ``axis``: linear in the outputs, so a shift along either axis moves it."""
    def loss(out, targets=None):
        return float(-np.take_along_axis(out, np.expand_dims(IDS, axis), axis).mean())
    return loss


@pytest.mark.parametrize("axis", [1, 2])
def test_square_log_probabilities_under_an_nll_loss_are_read_along_the_axis_the_head_normalised(axis):
    """An NLLLoss tells neither axis (graph_neural_net's matching network: ``log_softmax(raw_scores, dim=2)``
    per node pair, scored row by row); the head's log-softmax does. Read along axis 1, the rows were no
    log-probabilities, and a shift of +3 that lowers the NLL read as a loss expecting probabilities."""
    scores = np.random.default_rng(0).normal(size=(8, 5, 5))
    logp = (scores - np.log(np.exp(scores).sum(axis, keepdims=True))).astype(np.float32)
    targets = decide(IDS, logp, _nll_over(axis))
    assert targets.channel_axis == axis and not targets.problems, targets.problems
    assert abs(targets.floor) < 1e-3  # log 1 at every target: the floor of log-probabilities, not of logits


def test_square_scores_are_read_along_the_axis_an_nll_loss_picks_from_not_the_one_the_head_normalised():
    """``F.nll_loss(out, y)`` reads class scores along axis 1 whatever the head did: log-probabilities that put
    each target first along axis 1 score lower than the same along the last (a review's case: a log-softmax
    over dim=2 fed to it, a wrong-axis bug the head's normalisation alone would hide)."""
    scores = np.random.default_rng(0).normal(size=(8, 5, 5))
    logp = (scores - np.log(np.exp(scores).sum(2, keepdims=True))).astype(np.float32)
    assert decide(IDS, logp, _nll_over(1)).channel_axis == 1


def test_square_scores_against_each_position_s_own_index_fall_back_to_the_normalised_axis():
    """A matching network's targets are the identity (node i matches node i): both placements are the same
    array, so the axis the head normalised decides (graph_neural_net's log_softmax over dim=2)."""
    identity = np.tile(np.arange(5), (8, 1))
    scores = np.random.default_rng(0).normal(size=(8, 5, 5))
    logp = (scores - np.log(np.exp(scores).sum(2, keepdims=True))).astype(np.float32)

    def nll_rows(out, targets=None):  # each sample's (T, T) rows against the identity, as the program's loss
        return float(-np.take_along_axis(out, identity[:, :, None], 2).mean())

    assert decide(identity, logp, nll_rows).channel_axis == 2


@pytest.mark.parametrize("softmax", [True, False], ids=["BROKEN softmax inside the loss", "cross-entropy of the scores"])
def test_a_softmax_inside_a_keras_loss_is_judged_alike(mlcheck, softmax):
    x, dummy = (t.numpy() for t in _pairs())
    _judged(lambda: mlcheck.overfit_one_batch(_keras_matcher(softmax, inside=True), (x, dummy)), softmax, INSIDE)
