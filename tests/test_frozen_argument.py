"""gradients_flow(frozen=...): parts of the model the test says must stay as they are. A trainable
weight under them that a step moves fails as frozen_params_changed (a freezing loop that sets
``requires_grad = True``, a Keras backbone left trainable); truly frozen twins pass, and the parts
named are not asked to get a gradient or to change. A part that is not the model's is a usage error."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import recipe_corpus as rc
import torch_corpus as tc
from keras_corpus import digits_arrays, keras
from pytest_mlcheck import CheckFailed, MlcheckUsageError

CE = nn.CrossEntropyLoss


def _finetune(freeze: bool) -> nn.Module:
    """A backbone and a new head, the backbone's parameters set to ``requires_grad = not freeze``
    in a loop (TingsongYu's tutorial wrote True where it meant False)."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU()), nn.Linear(32, 10))
    for p in model[0].parameters():
        p.requires_grad = not freeze
    return model


def _keras_finetune(freeze: bool) -> tuple[keras.Model, keras.Model]:
    keras.utils.set_random_seed(0)
    backbone = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                 keras.layers.Dense(32, activation="relu", name="features")], name="backbone")
    backbone.trainable = not freeze
    model = keras.Sequential([keras.Input((8, 8, 1)), backbone, keras.layers.Dense(10, name="head")])
    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model, backbone


@pytest.mark.parametrize("part", ["module", "prefix", "parameters"])
def test_a_backbone_meant_frozen_but_trainable_fails_and_its_frozen_twin_passes(mlcheck, part):
    def frozen(model: nn.Module):
        return {"module": model[0], "prefix": "0", "parameters": list(model[0].parameters())}[part]

    batch = tc.digits_batch(64)
    with pytest.raises(CheckFailed) as failed:
        model = _finetune(freeze=False)
        mlcheck.gradients_flow(model, batch, loss_fn=CE(), optimizer=lambda p: torch.optim.SGD(p, lr=1e-3),
                               frozen=frozen(model))
    assert failed.value.causes == ["frozen_params_changed"]
    assert "2 of the 2 trainable weight tensor(s) under" in str(failed.value)
    assert "passed as frozen=, changed in a step: 0.1.weight, 0.1.bias" in str(failed.value)
    model = _finetune(freeze=True)
    result = mlcheck.gradients_flow(model, batch, loss_fn=CE(), optimizer=lambda p: torch.optim.SGD(p, lr=1e-3),
                                    frozen=frozen(model))
    assert result.passed and result.figures["frozen_given"] == 2


def test_a_keras_backbone_meant_frozen_but_trainable_fails_and_its_frozen_twin_passes(mlcheck):
    batch = digits_arrays(64)
    model, backbone = _keras_finetune(freeze=False)
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(model, batch, frozen=backbone)
    assert failed.value.causes == ["frozen_params_changed"]
    assert "2 of the 2 trainable weight tensor(s) under backbone" in str(failed.value)
    model, backbone = _keras_finetune(freeze=True)
    assert mlcheck.gradients_flow(model, batch, frozen="backbone").passed
    assert backbone.trainable is False  # the user's model as it was


def test_parts_named_frozen_are_not_asked_for_a_gradient(mlcheck):
    """A layer built and never called gets no gradient: a failure as no_gradient, unless the test
    says it is meant to stay as it is."""
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(rc.UnusedLayer(), tc.digits_batch(64), loss_fn=CE())
    assert failed.value.causes[0] == "no_gradient"
    model = rc.UnusedLayer()
    assert mlcheck.gradients_flow(model, tc.digits_batch(64), loss_fn=CE(), frozen=model.aux).passed


@pytest.mark.parametrize("bad,said", [
    ("backbone", "frozen: expected modules or parameters of the model, their names, or a prefix of their weights' "
                 "names, got 'backbone'; no layer is named so and no weight's name starts with it; the model's are "
                 "named like 0.1.weight"),
    (nn.Linear(64, 32), "frozen: expected modules or parameters of the model itself"),
    (3, "frozen: expected a module or parameter of the model, a module's name, a prefix of parameter names, or a "
        "list of these, got 3"),
], ids=["unknown prefix", "another model's module", "a number"])
def test_a_part_that_is_not_the_models_is_a_usage_error(mlcheck, bad, said):
    with pytest.raises(MlcheckUsageError) as info:
        mlcheck.gradients_flow(_finetune(freeze=True), tc.digits_batch(64), loss_fn=CE(), frozen=bad)
    assert str(info.value).startswith(said)


def test_a_list_of_children_may_hold_parts_without_weights_but_not_only_those(mlcheck):
    model = _finetune(freeze=False)
    children = list(model[0].children())  # Flatten, Linear, ReLU
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(model, tc.digits_batch(64), loss_fn=CE(), frozen=children)
    assert failed.value.causes == ["frozen_params_changed"]
    with pytest.raises(MlcheckUsageError, match="^frozen: expected modules or parameters holding weights"):
        mlcheck.gradients_flow(model, tc.digits_batch(64), loss_fn=CE(), frozen=[children[0], children[2]])


def test_a_keras_part_that_is_not_the_models_is_a_usage_error(mlcheck):
    model, _ = _keras_finetune(freeze=True)
    with pytest.raises(MlcheckUsageError, match="^frozen: expected layers or variables of the model itself"):
        mlcheck.gradients_flow(model, digits_arrays(64), frozen=keras.layers.Dense(3))
    with pytest.raises(MlcheckUsageError, match="^frozen: .* got 'encoder'; no layer is named so"):
        mlcheck.gradients_flow(model, digits_arrays(64), frozen="encoder")


def test_a_keras_layer_is_found_by_its_name_wherever_its_weights_were_named(mlcheck):
    """Keras paths carry the names of the layers that built the weights, not the nesting: a frozen
    Functional sub-model named "backbone" holds bb_dense/kernel. A layer's name resolves to it. The
    second check runs after the user froze the backbone and compiled again: the training step kept
    from the first check (traced with the backbone trainable) must not be reused and move it."""
    keras.utils.set_random_seed(0)
    inner = keras.Input((8, 8, 1))
    backbone = keras.Model(inner, keras.layers.Dense(16, activation="relu", name="bb_dense")(
        keras.layers.Flatten()(inner)), name="backbone")
    outer = keras.Input((8, 8, 1))
    model = keras.Model(outer, keras.layers.Dense(10, name="head")(backbone(outer)))
    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(CheckFailed) as failed:
        mlcheck.gradients_flow(model, digits_arrays(64), frozen="backbone")
    assert failed.value.causes == ["frozen_params_changed"] and "bb_dense/kernel" in str(failed.value)
    backbone.trainable = False
    model.compile(optimizer=keras.optimizers.SGD(0.01),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert mlcheck.gradients_flow(model, digits_arrays(64), frozen="backbone").passed


def test_keras_weights_whose_paths_another_weight_shares_are_a_usage_error_not_a_false_failure(mlcheck):
    """Two towers built by one function each hold proj/kernel: a check that keys weights by path
    cannot tell the frozen tower's from the trained one's, and says so instead of failing."""
    keras.utils.set_random_seed(0)

    def tower(name: str) -> keras.Model:
        x = keras.Input((8, 8, 1))
        return keras.Model(x, keras.layers.Dense(8, name="proj")(keras.layers.Flatten()(x)), name=name)

    q, d = tower("q"), tower("d")
    q.trainable = False
    x = keras.Input((8, 8, 1))
    model = keras.Model(x, keras.layers.Dense(10)(keras.layers.Concatenate()([q(x), d(x)])))
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.raises(MlcheckUsageError, match="^frozen: expected layers whose weights the model names uniquely"):
        mlcheck.gradients_flow(model, digits_arrays(64), frozen=q)


def test_torch_parts_by_alias_generator_or_named_pairs_and_buffers_refused(mlcheck):
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU())
            self.alias = self.body  # the same module under a second name
            self.head = nn.Linear(32, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.body(x))

    batch = tc.digits_batch(64)
    for parts in ("alias", "alias.1", (p for p in Tied().body.parameters())):
        torch.manual_seed(0)
        model = Tied()
        if not isinstance(parts, str):
            parts = model.body.parameters()
        with pytest.raises(CheckFailed) as failed:
            mlcheck.gradients_flow(model, batch, loss_fn=CE(), frozen=parts)
        assert failed.value.causes == ["frozen_params_changed"], parts
    model = Tied()
    model.body.requires_grad_(False)
    assert mlcheck.gradients_flow(model, batch, loss_fn=CE(), frozen=model.body.named_parameters()).passed
    with pytest.raises(MlcheckUsageError, match="^frozen: .* this is a buffer"):
        mlcheck.gradients_flow(model, batch, loss_fn=CE(), frozen=model.body[2].running_mean)
