"""A failed check blames raw inputs only when their scale reaches a weighted sum: the input of some
layer with a weight matrix or kernel is off unit scale too. A BatchNorm (or any normalisation) in
front of every weighted layer takes the blame away; a wide-and-deep model that normalises its deep
path but feeds the raw features straight to its head keeps it. Raw digits (0..255) under a rate far
too low to fit, in both frameworks."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

import torch_corpus as tc
from keras_corpus import digits_arrays
from pytest_mlcheck import CheckFailed, MLCheck


class _WideAndDeep(nn.Module):
    """A normalised deep path beside the raw features (``wide``: as they come, or normalised too),
    concatenated into the head."""

    def __init__(self, normalise_wide: bool):
        super().__init__()
        self.deep = nn.Sequential(nn.BatchNorm1d(64), nn.Linear(64, 32), nn.ReLU())
        self.wide = nn.BatchNorm1d(64) if normalise_wide else nn.Identity()
        self.head = nn.Linear(96, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(1)
        return self.head(torch.cat([self.deep(flat), self.wide(flat)], dim=1))


def _torch_model(kind: str) -> nn.Module:
    torch.manual_seed(0)
    if kind == "plain":
        return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    if kind == "batchnorm in front":
        return nn.Sequential(nn.Flatten(), nn.BatchNorm1d(64), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))
    return _WideAndDeep(normalise_wide=kind == "wide path normalised")


def _keras_model(kind: str) -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 8, 1))
    flat = keras.layers.Flatten()(inputs)
    if kind in ("plain", "batchnorm in front"):
        h = keras.layers.BatchNormalization()(flat) if kind == "batchnorm in front" else flat
        outputs = keras.layers.Dense(10)(keras.layers.Dense(32, activation="relu")(h))
    else:
        deep = keras.layers.Dense(32, activation="relu")(keras.layers.BatchNormalization()(flat))
        wide = keras.layers.BatchNormalization()(flat) if kind == "wide path normalised" else flat
        outputs = keras.layers.Dense(10)(keras.layers.Concatenate()([deep, wide]))
    model = keras.Model(inputs, outputs)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.SGD(1e-7))
    return model


KINDS = {"plain": True, "batchnorm in front": False, "wide path raw": True, "wide path normalised": False}


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_raw_inputs_are_blamed_only_where_their_scale_reaches_a_weighted_layer(mlcheck: MLCheck, kind, framework):
    if framework == "torch":
        run = lambda: mlcheck.overfit_one_batch(  # noqa: E731
            _torch_model(kind), tc.digits_batch(32, scale="uint8"), loss_fn=nn.CrossEntropyLoss(),
            optimizer=lambda p: torch.optim.SGD(p, lr=1e-7))
    else:
        x, y = digits_arrays(32, scale="uint8")
        assert float(np.abs(x).mean()) > 10  # raw-data scale, as the torch batch
        run = lambda: mlcheck.overfit_one_batch(_keras_model(kind), (x, y))  # noqa: E731
    with pytest.raises(CheckFailed) as failed:
        run()
    assert ("inputs_not_normalized" in failed.value.causes) == KINDS[kind], str(failed.value)


@pytest.mark.parametrize("framework", ["torch", "keras"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_inputs_normalized_with_a_model_fails_where_the_raw_scale_reaches_any_weighted_layer(mlcheck: MLCheck, kind,
                                                                                           framework):
    if framework == "torch":
        model, x = _torch_model(kind), tc.digits_batch(32, scale="uint8")[0]
    else:
        model, x = _keras_model(kind), digits_arrays(32, scale="uint8")[0]
    if not KINDS[kind]:
        assert mlcheck.inputs_normalized(x, model=model).passed
        return
    with pytest.raises(CheckFailed) as failed:
        mlcheck.inputs_normalized(x, model=model)
    assert failed.value.causes[:1] == ["inputs_not_normalized"], str(failed.value)
    wide = kind == "wide path raw"
    assert ("reaches layer" in str(failed.value) and "past it un-normalised" in str(failed.value)) == wide, \
        str(failed.value)
    assert ("layer" in failed.value.result.figures) == wide


class _NodeTable(nn.Module):
    """Float node ids 0..N-1 (a graph port's ``log_logits[node_ids.long()]``) that index a table a
    Linear reads, of values never above 0.017 (a GCN's hidden layer on row-normalised word counts stays
    below 0.022): far below unit scale, the ids far above it. ``read_ids``: the twin whose Linear reads
    the ids themselves."""

    def __init__(self, read_ids: bool):
        super().__init__()
        torch.manual_seed(0)
        features = (torch.rand(256, 64) < 0.25).float()
        self.register_buffer("features", features / features.sum(dim=1, keepdim=True).clamp(min=1.0) / 10)
        self.read_ids = read_ids
        self.head = nn.Linear(1 if read_ids else 64, 4)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.head(ids[:, None] if self.read_ids else self.features[ids.long()])


@pytest.mark.parametrize("read_ids", [False, True], ids=["ids index a small-scale table", "ids read as values"])
def test_float_ids_that_index_features_are_not_blamed_for_the_features_scale(mlcheck: MLCheck, read_ids):
    # the table's values are off unit scale too (below it): their scale is not the ids' (above it),
    # so the ids are not named, where a Linear that reads the ids is
    ids = torch.arange(64, dtype=torch.float32) * 4
    y = torch.arange(64) % 4
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_NodeTable(read_ids), (ids, y), loss_fn=nn.CrossEntropyLoss(),
                                  optimizer=lambda p: torch.optim.SGD(p, lr=1e-7))
    assert ("inputs_not_normalized" in failed.value.causes) == read_ids, str(failed.value)
    assert ("x spans 0..252" in str(failed.value)) == read_ids
