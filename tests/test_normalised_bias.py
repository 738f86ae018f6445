"""A bias right before a normalisation over the batch (a convolution's bias before BatchNorm, as
SETR's decoder has it) gets a gradient of float32 rounding: the normalisation removes whatever it adds.
Under SGD the step leaves it where it was, which ``gradients_flow`` had read as a faded gradient
(``vanishing_gradients``) on correct code. Such a bias, beside a weight of its layer that gets a
healthy gradient, leaves the training-mode loss where it was when every element moves: a note, not a
failure. A faded bias fades its layer's weight too, and still fails."""

from __future__ import annotations

from typing import Callable

import pytest
import torch
from torch import nn

from keras_corpus import keras
from pytest_mlcheck import CheckFailed


def _images() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(16, 3, 8, 8, generator=g)
    return x, (x[:, 0].mean((1, 2)) > 0).long()


def _conv_bn(bias: bool) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, bias=bias), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2))


def _sgd(params):
    return torch.optim.SGD(params, lr=0.01, momentum=0.9)


@pytest.mark.parametrize("bias", [True, False], ids=["bias before BatchNorm", "no bias"])
def test_a_bias_a_batch_norm_removes_is_no_faded_gradient(mlcheck, bias):
    result = mlcheck.gradients_flow(_conv_bn(bias), _images(), loss_fn=nn.CrossEntropyLoss(), optimizer=_sgd)
    assert result.passed
    noted = [n for n in result.notes if "0 by design" in n]
    assert (noted and noted[0].startswith("0.bias")) if bias else not noted, result.notes


def _sigmoid_stack_fails_vanishing(mlcheck, first: Callable[[], list[nn.Module]], depth: int, scale: float,
                                   seed: int = 0) -> None:
    """A stack of sigmoid layers of five units at ±0.05 after ``first`` on XOR-like targets, inputs
    times ``scale``: gradients_flow fails naming vanishing_gradients, with no note that a bias is
    cancelled by design."""
    torch.manual_seed(seed)  # before ``first()`` builds its layers: their draws are part of the seeded init
    layers: list[nn.Module] = first()
    for _ in range(depth):
        layers += [nn.Linear(5, 5), nn.Sigmoid()]
    model = nn.Sequential(*layers, nn.Linear(5, 1))
    for p in model.parameters():
        nn.init.uniform_(p, -0.05, 0.05)
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(64, 2, generator=g)
    y = (x[:, 0] * x[:, 1] > 0).float()[:, None]
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(model, (x * scale, y), loss_fn=nn.BCEWithLogitsLoss(),
                               optimizer=lambda p: torch.optim.SGD(p, lr=0.01))
    assert failed.value.causes[0] == "vanishing_gradients", str(failed.value)
    assert "0 by design" not in str(failed.value)


def test_a_faded_bias_beside_its_faded_weight_still_fails(mlcheck):
    """Eight sigmoid layers of five units at ±0.05: moving the first layer's bias leaves the float32 loss
    bit for bit too, but its weight gets as little: vanishing, as before."""
    _sigmoid_stack_fails_vanishing(mlcheck, lambda: [nn.Linear(2, 5), nn.Sigmoid()], 7, 1.0)


def test_keras_reads_the_same(mlcheck):
    """A bias initialised off 0, as torch's is (a zero bias takes any step, however small)."""
    keras.utils.set_random_seed(0)
    uniform = keras.initializers.RandomUniform(-0.1, 0.1, seed=0)
    # named: Keras numbers default names per process, so a worker that built other models first says
    # sequential_122/conv2d_74
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(8, 3, bias_initializer=uniform, name="conv"),
                              keras.layers.BatchNormalization(),
                              keras.layers.ReLU(), keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)],
                             name="net")
    model.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = _images()
    result = mlcheck.gradients_flow(model, (x.permute(0, 2, 3, 1).numpy(), y.numpy()))
    assert result.passed and any(n.startswith("net/conv/bias: ") for n in result.notes), result.notes


@pytest.mark.parametrize("seed", [0, 2, 8])
def test_a_bias_before_a_layer_norm_is_still_read(mlcheck, seed):
    """A LayerNorm over the features removes only what a bias adds to all of them alike; here a sigmoid
    stack fades behind it, so no move of the bias reaches the float32 loss, while raw inputs at 1e4 keep
    the first weight's gradient off the faint list (it grows with its inputs): the bias's gradient is as
    large as what that weight's gradient says reaches the layer (×3..42 of it, where a BatchNorm leaves
    1e-6), so it is no cancelled bias: vanishing, with no note that the bias is cancelled by design. Seeds
    2 and 8 had passed with that note, the weight's gradient alone telling the two apart."""
    _sigmoid_stack_fails_vanishing(
        mlcheck, lambda: [nn.Linear(2, 5), nn.LayerNorm(5, elementwise_affine=False), nn.Sigmoid()], 2, 1e4, seed)
