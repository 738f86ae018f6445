"""A hand-written loss that multiplies or masks per-sample values computed from the outputs, a (B, 1)
column, with a (B,) vector computed from the targets: the elementwise operation broadcasts them to
B × B, so every sample's loss meets every other sample's mask or weight (pytorch/tutorials #383's
masked NLL, a DQN loss whose target values are a row). The torch adapter watches the operations the
loss calls on outputs that require grad; the Keras adapter reads the traced graph of the loss. The
checks name target_shape before training. Correct twins: the same losses with both sides one shape,
and deliberate all-pairs terms (distances between the outputs, equal-label masks, a kernel between
outputs and targets spelled out as (B, 1, D) against (1, B, D))."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from pytest_mlcheck import CheckFailed, MLCheck
from pytest_mlcheck.backends.base import Crossing
from pytest_mlcheck.targets import broadcast_in_loss

N = 32


def _data() -> tuple[np.ndarray, np.ndarray]:
    """Eight features, four classes; the last column of the targets is a per-sample weight/mask."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, 8)).astype("float32")
    labels = (x[:, 0] > 0).astype("float32") + 2 * (x[:, 1] > 0).astype("float32")
    mask = (rng.uniform(size=N) > 0.2).astype("float32")
    return x, np.stack([labels, mask], axis=1)


# -- torch -------------------------------------------------------------------------------------

def _torch_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 32), nn.Tanh(), nn.Linear(32, 4))


def _torch_loss(kind: str):
    def loss_fn(out, y):
        labels, mask = y[:, 0].long(), y[:, 1]
        nll = -torch.log_softmax(out, dim=1).gather(1, labels.view(-1, 1))  # (B, 1)
        if kind == "masked_select":  # the tutorial's masked NLL: (B, 1) against (B,) selects B × B
            return nll.masked_select(mask.bool()).mean()
        if kind == "weighted":
            return (nll * mask).mean()  # (B, 1) * (B,) -> (B, B)
        if kind == "fixed":
            return (nll.squeeze(1) * mask).sum() / mask.sum()
        emb = F.normalize(out, dim=1)
        if kind == "pairs":  # distances between the outputs, weighted by an equal-label mask: deliberate
            same = (labels.view(-1, 1) == labels.view(1, -1)).float()
            dist = torch.cdist(emb, emb)
            return (nll.squeeze(1) * mask).mean() + 0.01 * (same * dist).mean()
        # a kernel between outputs and one-hot targets, both singleton axes spelled out (an MMD term)
        onehot = F.one_hot(labels, 4).float()
        kernel = torch.exp(-((emb.unsqueeze(1) - onehot.unsqueeze(0)) ** 2).sum(-1))
        return (nll.squeeze(1) * mask).mean() - 0.01 * kernel.mean()
    return loss_fn


def _torch_batch() -> tuple[torch.Tensor, torch.Tensor]:
    x, y = _data()
    return torch.tensor(x), torch.tensor(y)


@pytest.mark.parametrize("kind", ["masked_select", "weighted"])
def test_a_torch_loss_crossing_a_column_of_losses_with_a_row_of_masks_fails_with_target_shape(mlcheck: MLCheck, kind):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_torch_model(), _torch_batch(), loss_fn=_torch_loss(kind))
    assert failed.value.causes[0] == "target_shape", str(failed.value)
    assert "takes (32, 1) computed from the outputs against (32,) computed from the targets, which broadcast " \
           "to (32, 32)" in str(failed.value)


@pytest.mark.parametrize("kind", ["fixed", "pairs", "kernel"])
def test_torch_losses_whose_sides_agree_or_pair_on_purpose_pass(mlcheck: MLCheck, kind):
    result = mlcheck.overfit_one_batch(_torch_model(), _torch_batch(), loss_fn=_torch_loss(kind))
    assert result.passed


# -- Keras --------------------------------------------------------------------------------------

def _keras_loss(kind: str):
    ops = keras.ops

    def loss_fn(y, out):
        labels, mask = ops.cast(y[:, 0], "int32"), y[:, 1]
        logp = ops.log_softmax(out, axis=1)
        nll = -ops.sum(logp * ops.one_hot(labels, 4), axis=1, keepdims=True)  # (B, 1)
        if kind == "weighted":
            return ops.mean(nll * mask)  # (B, 1) * (B,) -> (B, B)
        if kind == "fixed":
            return ops.sum(ops.squeeze(nll, 1) * mask) / ops.sum(mask)
        if kind == "kernel":  # outputs' confidence against every target label, both singleton axes written
            score = ops.max(logp, axis=1)
            kernel = ops.exp(-(ops.expand_dims(score, 1) - ops.expand_dims(ops.cast(labels, "float32"), 0)) ** 2)
            return ops.sum(ops.squeeze(nll, 1) * mask) / ops.sum(mask) - 0.01 * ops.mean(kernel)
        same = ops.cast(ops.equal(ops.expand_dims(labels, 1), ops.expand_dims(labels, 0)), "float32")
        emb = out / (ops.norm(out, axis=1, keepdims=True) + 1e-6)
        dist = ops.sum((ops.expand_dims(emb, 1) - ops.expand_dims(emb, 0)) ** 2, axis=-1)
        return ops.mean(ops.squeeze(nll, 1) * mask) + 0.01 * ops.mean(same * dist)
    return loss_fn


def _keras_model(kind: str) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(32, activation="tanh"), keras.layers.Dense(4)])
    model.compile(loss=_keras_loss(kind), optimizer=keras.optimizers.Adam(1e-2))
    return model


def test_a_keras_loss_crossing_a_column_of_losses_with_a_row_of_masks_fails_with_target_shape(mlcheck: MLCheck):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_keras_model("weighted"), _data())
    assert failed.value.causes[0] == "target_shape", str(failed.value)
    assert "takes (32, 1) computed from the outputs against (32,) computed from the targets, which broadcast " \
           "to (32, 32)" in str(failed.value)


@pytest.mark.parametrize("kind", ["fixed", "pairs", "kernel"])
def test_keras_losses_whose_sides_agree_or_pair_on_purpose_pass(mlcheck: MLCheck, kind):
    result = mlcheck.overfit_one_batch(_keras_model(kind), _data())
    assert result.passed


# -- the rule -----------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b,both,named", [
    ((32, 1), (32,), (32, 32), True),          # a column of losses against a row of masks
    ((32,), (32, 1), (32, 32), True),          # the other way round
    ((32, 1, 8), (32, 8), (32, 32, 8), False),  # an implicit leading axis: all pairs of 8-vectors
    ((32, 1), (5,), (32, 5), False),           # each output against 5 fixed thresholds
    ((4, 1), (4,), (4, 4), False),             # a column and a row of 4 in a batch of 32: not the batch
    ((320, 1), (320,), (320, 320), True),      # 10 tokens a sample flattened to one axis, then crossed
    ((32, 30, 1), (32,), (32, 30, 32), True),  # a sequence autoencoder's (B, T, 1) outputs against (B,) values
    ((32, 30, 1), (30,), (32, 30, 30), False),  # a weight per position: lines up with T, not the batch
    ((32, 1), (1, 32), (32, 32), False),       # both singleton axes written out: all pairs on purpose
])
def test_only_a_column_against_a_row_of_the_batch_is_read_as_target_shape(a, b, both, named):
    found = broadcast_in_loss([Crossing("mul", a, b, both, False)], 32)
    assert bool(found) is named
    assert all(cause == "target_shape" for cause, _ in found)


_ON_OTHER_BACKEND = """
import json, numpy as np, keras
from pytest_mlcheck import CheckFailed, MLCheck
from test_loss_broadcast_elementwise import _data, _keras_model
found = {}
for kind in ("weighted", "fixed", "pairs", "kernel"):
    try:
        MLCheck().overfit_one_batch(_keras_model(kind), _data())
        found[kind] = "passed"
    except CheckFailed as failed:
        found[kind] = failed.causes[0]
print("RESULT " + json.dumps(found))
"""


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_keras_on_the_torch_and_jax_backends_sees_the_crossing_as_tensorflow_does(backend):
    """KERAS_BACKEND is fixed at Keras's first import: each backend runs in a subprocess. On torch
    the torch watch sees the loss's operations (Keras's ops call torch's); on JAX the loss's jaxpr
    is read, where jax.numpy's rank promotion of the (B,) vector is seen through and an axis the
    loss itself adds (expand_dims, the kernel's) is not."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    tests = Path(__file__).parent
    env = dict(os.environ, KERAS_BACKEND=backend, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(tests.parent), str(tests), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", _ON_OTHER_BACKEND], env=env, cwd=tests, capture_output=True,
                          text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stdout[-2000:] + done.stderr[-2000:]
    assert json.loads(lines[-1].removeprefix("RESULT ")) == {"weighted": "target_shape", "fixed": "passed",
                                                              "pairs": "passed", "kernel": "passed"}
