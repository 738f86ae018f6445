"""Class ids handed to a metric-learning loss (contrastive, triplet) beside an embedding head: the
loss reads them only as which samples share a class, so the head's width says nothing of the classes
(adambielski/siamese-triplet embeds ten digits in two dimensions). Read as class scores they gave
`head_width` on a correct program, or a vacuous pass judged on two "classes" of ten. Correct twins
are read as groups and judged on their loss; a cross-entropy on a head too narrow for its ids is
still `head_width`, and one on a head as wide as the classes is still classification."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

import keras_corpus as kc
import torch_corpus as tc
from pytest_mlcheck import CheckFailed

GROUPS = "the loss reads only as groups"


def contrastive(emb: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Every pair of the batch: same class pulled together, others pushed past a margin of 1."""
    d2 = ((emb[:, None, :] - emb[None, :, :]) ** 2).sum(-1)
    same = (y[:, None] == y[None, :]).float()
    d = torch.sqrt(d2 + 1e-9)
    neg = (1 - same) * torch.clamp(1.0 - d, min=0) ** 2
    return ((same * d2).sum() + neg.sum()) / len(y) ** 2


def k_contrastive(y, emb):
    """The same loss in Keras's argument order."""
    from keras import ops

    y = ops.reshape(ops.cast(y, "int32"), (-1,))
    d2 = ops.sum((emb[:, None, :] - emb[None, :, :]) ** 2, axis=-1)
    same = ops.cast(ops.equal(y[:, None], y[None, :]), "float32")
    d = ops.sqrt(d2 + 1e-9)
    neg = (1 - same) * ops.relu(1.0 - d) ** 2
    n = ops.cast(ops.shape(y)[0], "float32")
    return (ops.sum(same * d2) + ops.sum(neg)) / (n * n)


def _embedder(width: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, width))


@pytest.mark.parametrize("width", [2, 10], ids=["2-d embedding of 10 classes", "10-d embedding"])
def test_an_embedding_under_a_contrastive_loss_is_judged_on_its_loss_not_as_class_scores(mlcheck, width):
    x, y = tc.digits_batch(64)
    result = mlcheck.overfit_one_batch(_embedder(width), (x, y), loss_fn=contrastive,
                                       optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert result.figures["task"] == "regression" and GROUPS in result.figures["targets"], result.figures


def test_a_keras_embedding_under_a_contrastive_loss_is_read_as_groups(mlcheck):
    x, y = kc.digits_arrays(64)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Dense(64, activation="relu")(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=k_contrastive)
    result = mlcheck.overfit_one_batch(model, (x, y))
    assert result.figures["task"] == "regression" and GROUPS in result.figures["targets"], result.figures


def test_a_cross_entropy_on_a_head_too_narrow_for_its_ids_is_still_head_width(mlcheck):
    x, y = tc.digits_batch(64)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_embedder(2), (x, y), loss_fn=nn.CrossEntropyLoss())
    assert failed.value.causes[0] == "head_width", str(failed.value)


def test_a_cross_entropy_on_a_head_as_wide_as_the_classes_is_still_classification(mlcheck):
    x, y = tc.digits_batch(64)
    result = mlcheck.overfit_one_batch(_embedder(10), (x, y), loss_fn=nn.CrossEntropyLoss())
    assert result.figures["task"] == "classification" and GROUPS not in result.figures["targets"]


def test_a_loss_that_never_reads_the_labels_is_not_read_as_groups():
    """Renaming the classes leaves a loss that ignores them put too; merging them must move it."""
    from pytest_mlcheck.targets import _groups_only

    out = np.random.default_rng(1).normal(size=(16, 2)).astype(np.float32)
    ids = np.arange(16) % 4

    def loss_at(outputs, targets=None):
        return float(np.mean(np.asarray(outputs) ** 2))

    assert not _groups_only(loss_at, ids, ids.shape, out)

    def pairs(outputs, targets=None):
        labels = ids if targets is None else np.asarray(targets)
        o = torch.as_tensor(np.asarray(outputs))
        return float(contrastive(o, torch.as_tensor(labels)))

    assert _groups_only(pairs, ids, ids.shape, out)


def test_embeddings_under_a_contrastive_loss_are_judged_on_their_spread_not_their_argmax(mlcheck):
    """A bias of +20 on one coordinate leaves a distance loss as it was; read by argmax every input
    would be 'class 0'. Read as embeddings they vary, and the check passes."""
    model = _embedder(16)
    with torch.no_grad():
        model[-1].bias[0] += 20.0
    result = mlcheck.not_constant_predictions(model, tc.held_out(), train_on=tc.digits_batches(4, 64),
                                              loss_fn=contrastive, optimizer=lambda p: torch.optim.Adam(p, lr=1e-2))
    assert "relative_spread" in result.figures and "largest_class_share" not in result.figures
