"""output_range(kind="logits") on a linear head whose every output starts above 0: pooled ReLU features
are non-negative, and a two-class head's weights give both logits one sign on every input about one
init in four (soundbay's Keras ResNet failed with `output_activation` on both versions). Negating the
last weighted layer's pre-activation decides it: a linear head's outputs change sign, an activation's
bound holds. Twins with a bounding activation still fail, in both frameworks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from keras_corpus import digits_arrays, keras
from pytest_mlcheck import CheckFailed
from torch_corpus import held_out


class PooledHead(nn.Module):
    """A convolution, ReLU and global average pooling (features ≥ 0), then a two-class Linear head
    whose weights are made non-negative, so every logit starts above 0. ``final``: an activation
    after the head (the broken twins)."""

    def __init__(self, final: nn.Module | None = None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(8, 2)
        with torch.no_grad():
            self.head.weight.abs_()
            self.head.bias.fill_(0.05)
        self.final = final

    def forward(self, x):
        y = self.head(self.body(x))
        return y if self.final is None else self.final(y)


def test_a_linear_head_whose_logits_all_start_above_0_passes_with_a_note(mlcheck):
    model = PooledHead().eval()
    with torch.no_grad():
        assert model(held_out()).min() > 0  # the look-alike: every logit ≥ 0 at these inputs
    result = mlcheck.output_range(model, held_out(), kind="logits", num_classes=2)
    note = next(n for n in result.notes if "pre-activation negated" in n)
    assert "no activation bounds the head below" in note
    # the probe leaves the model as it was: no hook left behind, the same outputs
    assert not model.head._forward_hooks
    with torch.no_grad():
        assert model(held_out()).min() > 0


class CheckedInputs(PooledHead):
    """The same model, refusing inputs outside the range it was built for (as a model that asserts
    its preprocessing does): the probe's inputs ×10..×1000 are no inputs of the user's."""

    def forward(self, x):
        if x.abs().max() > 50:
            raise ValueError("inputs must be scaled to [-50, 50]")
        return super().forward(x)


def test_a_model_that_refuses_the_scaled_inputs_is_judged_on_its_own(mlcheck):
    """The scaled-input probe raises inside the user's forward; that is no defect of the model (the
    user never feeds ×1000 inputs), so the negation probe still clears the linear head."""
    result = mlcheck.output_range(CheckedInputs(), held_out(), kind="logits", num_classes=2)
    assert any("pre-activation negated" in n for n in result.notes)
    with pytest.raises(CheckFailed) as failed:  # a bounding twin still fails, on its own outputs
        mlcheck.output_range(CheckedInputs(nn.Softplus()), held_out(), kind="logits", num_classes=2)
    assert failed.value.causes == ["output_activation"], str(failed.value)


@pytest.mark.parametrize("final", [nn.Sigmoid(), nn.Softplus(), nn.ReLU()], ids=["sigmoid", "softplus", "relu"])
def test_the_same_head_under_a_bounding_activation_still_fails(mlcheck, final):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.output_range(PooledHead(final), held_out(), kind="logits", num_classes=2)
    assert failed.value.causes == ["output_activation"], str(failed.value)


def _keras_pooled(activation: str | None) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation=activation)])
    head = model.layers[-1]
    kernel, bias = head.get_weights()
    head.set_weights([np.abs(kernel), np.full_like(bias, 0.05)])
    return model


def test_a_keras_linear_head_whose_logits_all_start_above_0_passes(mlcheck):
    x = digits_arrays(64)[0]
    model = _keras_pooled(None)
    before = model.predict(x, verbose=0)
    assert before.min() > 0
    result = mlcheck.output_range(model, x, kind="logits", num_classes=2)
    assert any("pre-activation negated" in n for n in result.notes), result.notes
    # the layer's activation was lent to the probe and given back
    assert model.layers[-1].activation is keras.activations.linear
    np.testing.assert_array_equal(model.predict(x, verbose=0), before)


@pytest.mark.parametrize("activation", ["sigmoid", "softplus", "relu"])
def test_a_keras_head_with_its_activation_inside_the_layer_still_fails(mlcheck, activation):
    # Dense(2, activation=...) applies it inside the layer: the probe negates what reaches it
    with pytest.raises(CheckFailed) as failed:
        mlcheck.output_range(_keras_pooled(activation), digits_arrays(64)[0], kind="logits", num_classes=2)
    assert failed.value.causes == ["output_activation"], str(failed.value)


class RootWithTokens(nn.Module):
    """A root holding a 2-d parameter of its own (a position table) and a sigmoid after its head: the
    root is no head, and negating its output would negate the sigmoid's."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.pos = nn.Parameter(torch.zeros(1, 64))
        self.fc = nn.Linear(64, 3)

    def forward(self, x):
        return torch.sigmoid(self.fc(x.flatten(1) + self.pos))


class SoftplusInside(nn.Module):
    """A custom leaf whose forward applies its own activation to its weight's product."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.w = nn.Parameter(torch.randn(64, 3))

    def forward(self, x):
        return nn.functional.softplus(x.flatten(1) @ self.w)


@pytest.mark.parametrize("build", [RootWithTokens, SoftplusInside], ids=["root-with-tokens", "softplus-inside"])
def test_a_bounded_head_the_probe_cannot_read_as_a_pre_activation_still_fails(mlcheck, build):
    with pytest.raises(CheckFailed) as failed:
        mlcheck.output_range(build(), held_out(), kind="logits")
    assert failed.value.causes == ["output_activation"], str(failed.value)


class _SoftplusLayer(keras.layers.Layer):
    def build(self, shape):
        self.w = self.add_weight(shape=(shape[-1], 2), initializer="glorot_uniform")

    def call(self, x):
        return keras.ops.softplus(keras.ops.matmul(x, self.w))


def test_a_keras_custom_layer_with_an_activation_inside_still_fails(mlcheck):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), _SoftplusLayer()])
    with pytest.raises(CheckFailed) as failed:
        mlcheck.output_range(model, digits_arrays(64)[0], kind="logits", num_classes=2)
    assert failed.value.causes == ["output_activation"], str(failed.value)


class _ClassActivationDense(keras.layers.Dense):
    """A Dense whose activation is a class attribute, not the instance's own."""

    activation = staticmethod(keras.activations.linear)  # Dense.__init__'s assignment leaves it the class's


def test_the_probe_leaves_a_class_level_activation_as_it_found_it(mlcheck):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(8, 3, activation="relu"),
                              keras.layers.GlobalAveragePooling2D(), _ClassActivationDense(2)])
    head = model.layers[-1]
    kernel, bias = head.get_weights()
    head.set_weights([np.abs(kernel), np.full_like(bias, 0.05)])
    assert "activation" not in vars(head)
    result = mlcheck.output_range(model, digits_arrays(64)[0], kind="logits", num_classes=2)
    assert any("pre-activation negated" in n for n in result.notes)  # the probe ran on this layer
    assert "activation" not in vars(head) and head.activation is keras.activations.linear
