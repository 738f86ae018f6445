"""Two readings of a batch before training.

One-hot targets with rows of zeros that the loss weights out (a graph's unlabelled nodes, Keras's
``sample_weight`` mask as keras-gat and keras-gcn write it) are class targets with those samples not
demanded, as torch's ``ignore_index`` is: a correct program passes. A binary cross-entropy that reads
the zero rows keeps them multi-hot.

A batch whose inputs hold NaN gives NaN outputs before any update: the failure names
``inputs_not_finite`` first, in both frameworks, rather than what a loss makes of outputs whose form
(logits or probabilities) NaN does not tell (keras-gat #14's Citeseer rows normalised by 0)."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed, MLCheck


def _nodes(nan_rows: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """64 samples of 10 features, 4 classes; the first 16 labelled (one-hot), the rest zero rows."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 10)).astype("float32")
    labels = (x[:, 0] > 0).astype(int) + 2 * (x[:, 1] > 0).astype(int)
    y = np.zeros((64, 4), dtype="float32")
    y[np.arange(16), labels[:16]] = 1.0
    if nan_rows:
        x[-nan_rows:] = np.nan
    return x, y, labels


def _masked_cce(y_true, y_pred):
    """categorical_crossentropy averaged over the rows whose target is not all 0."""
    w = keras.ops.sum(y_true, axis=-1)
    per_row = keras.losses.categorical_crossentropy(y_true, y_pred)
    return keras.ops.sum(per_row * w) / keras.ops.maximum(keras.ops.sum(w), 1.0)


def _keras_model(loss, head: str = "softmax") -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(32, activation="tanh"),
                              keras.layers.Dense(4, activation=head)])
    model.compile(loss=loss, optimizer=keras.optimizers.Adam(1e-2))
    return model


def test_one_hot_rows_beside_zero_rows_the_loss_weights_out_are_classes_with_those_samples_ignored(mlcheck: MLCheck):
    x, y, _ = _nodes()
    result = mlcheck.overfit_one_batch(_keras_model(_masked_cce), (x, y))
    assert result.passed
    assert "one-hot, 48 of 64 rows all 0, ignored by the loss" in result.figures["targets"]


def test_a_binary_cross_entropy_that_reads_the_zero_rows_keeps_them_multi_hot(mlcheck: MLCheck):
    """Sigmoid units under a binary cross-entropy: a zero row is a sample with no label on, demanded."""
    x, y, _ = _nodes()
    result = mlcheck.overfit_one_batch(_keras_model("binary_crossentropy", head="sigmoid"), (x, y))
    assert result.passed
    assert result.figures["targets"].startswith("multi-hot")


@pytest.mark.parametrize("check", ["overfit_one_batch", "loss_decreases"])
def test_nan_inputs_are_named_before_the_loss_is_asked_about_nan_outputs_in_keras(mlcheck: MLCheck, check):
    x, y, _ = _nodes(nan_rows=3)
    # a model that mixes its batch (a graph's attention) spreads the NaN to every output
    keras.utils.set_random_seed(0)
    inputs = keras.Input((10,))
    h = keras.layers.Dense(32, activation="tanh")(inputs)
    mixed = keras.layers.Lambda(lambda t: t + keras.ops.mean(t, axis=0, keepdims=True))(h)
    model = keras.Model(inputs, keras.layers.Dense(4, activation="softmax")(mixed))
    model.compile(loss=_masked_cce, optimizer=keras.optimizers.Adam(1e-2))
    call = getattr(mlcheck, check)
    with pytest.raises(CheckFailed) as failed:
        call(model, (x, y) if check == "overfit_one_batch" else [(x, y)])
    assert failed.value.causes[0] == "inputs_not_finite", str(failed.value)
    assert "the model's outputs are not finite before training" in str(failed.value)


def test_nan_inputs_are_named_first_in_torch_and_a_nan_forward_pass_on_finite_inputs_is_outputs_not_finite(mlcheck):
    x, _, labels = _nodes(nan_rows=3)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 4))
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(net, (torch.tensor(x), torch.tensor(labels)), loss_fn=nn.CrossEntropyLoss())
    assert failed.value.causes[0] == "inputs_not_finite", str(failed.value)
    assert "the model's outputs are not finite before training" in str(failed.value)

    class Log(nn.Module):  # log of a value that can be negative: NaN for finite inputs
        def forward(self, t):
            return torch.log(t)

    clean = np.nan_to_num(x)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 4), Log())
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(net, (torch.tensor(clean), torch.tensor(labels)), loss_fn=nn.CrossEntropyLoss())
    assert failed.value.causes[0] == "outputs_not_finite", str(failed.value)


def test_minus_inf_logits_masked_on_purpose_under_a_loss_that_takes_them_are_no_defect(mlcheck: MLCheck):
    """Action masking: invalid classes get -inf logits, which a cross-entropy takes (their
    probability is 0); the outputs are not all finite, the loss is, and the run trains."""
    x, _, labels = _nodes()
    valid = torch.ones(64, 4, dtype=torch.bool)
    valid[torch.arange(64), (torch.tensor(labels) + 1) % 4] = False  # one wrong class ruled out per sample

    class Masked(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 4))

        def forward(self, t):
            return self.net(t).masked_fill(~valid[: len(t)], float("-inf"))

    torch.manual_seed(0)
    result = mlcheck.overfit_one_batch(Masked(), (torch.tensor(x), torch.tensor(labels)),
                                       loss_fn=nn.CrossEntropyLoss())
    assert result.passed


def test_torch_one_hot_rows_beside_zero_rows_under_a_cross_entropy_are_classes_too(mlcheck: MLCheck):
    """torch's cross_entropy with probability targets reads an all-0 row as nothing to learn."""
    x, y, _ = _nodes()
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 32), nn.Tanh(), nn.Linear(32, 4))
    result = mlcheck.overfit_one_batch(net, (torch.tensor(x), torch.tensor(y)),
                                       loss_fn=lambda out, t: torch.nn.functional.cross_entropy(out, t, reduction="sum") / 16)
    assert result.passed
    assert "one-hot, 48 of 64 rows all 0, ignored by the loss" in result.figures["targets"]
