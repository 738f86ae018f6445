"""What the zero-code run reads from a model it built: an input shape, and the loss to train it on
random class labels. A framework is touched only when it is already in ``sys.modules``."""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, Callable

import numpy as np

from pytest_mlcheck.backends import is_keras_model, is_torch_model
from pytest_mlcheck.model_spec import InputSpec

SEQUENCE_LENGTH = 16  # token ids per sample when the first layer is an embedding
CONV_SIDE = {1: (32,), 2: (32, 32), 3: (16, 16, 16)}  # spatial size assumed after a conv's channels


def infer_inputs(model: Any) -> tuple[InputSpec, str] | None:
    """One sample's input and where it came from, or None when the model does not say."""
    if is_keras_model(model):
        return _keras_inputs(model)
    if is_torch_model(model):
        return _torch_inputs(model)
    return None


def _torch_inputs(model: Any) -> tuple[InputSpec, str] | None:
    nn = sys.modules["torch"].nn
    for name, module in model.named_modules():
        if isinstance(module, nn.modules.lazy.LazyModuleMixin):
            return None
        if not any(True for _ in module.parameters(recurse=False)):
            continue  # containers, activations: look further
        label = f"the first weighted layer, {name or 'the model'} ({type(module).__name__})"
        if isinstance(module, nn.Embedding):
            return (InputSpec("int", (SEQUENCE_LENGTH,), module.num_embeddings),
                    f"{label}: ids below {module.num_embeddings}, length {SEQUENCE_LENGTH} assumed")
        if isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            side = CONV_SIDE[len(module.kernel_size)]
            return (InputSpec("float", (module.in_channels, *side)),
                    f"{label}: {module.in_channels} channels, {'×'.join(map(str, side))} assumed")
        if isinstance(module, nn.Linear):
            return InputSpec("float", (module.in_features,)), f"{label}: {module.in_features} features"
        return None  # an RNN, a norm, a custom layer first: its input shape is not ours to guess
    return None


def _keras_inputs(model: Any) -> tuple[InputSpec, str] | None:
    try:
        shape = model.input_shape
    except (AttributeError, ValueError):
        return None  # not built: no input shape yet
    if not isinstance(shape, tuple) or not shape or isinstance(shape[0], (tuple, list)):
        return None  # several inputs
    per = shape[1:]
    if not per or any(d is None for d in per):
        return None
    keras = sys.modules["keras"]
    first = next((layer for layer in model.layers if layer.weights), None)
    if isinstance(first, keras.layers.Embedding):
        return (InputSpec("int", tuple(per), int(first.input_dim)),
                f"model.input_shape {shape} and the first layer, Embedding({first.input_dim}, …): ids")
    return InputSpec("float", tuple(int(d) for d in per)), f"model.input_shape {shape}"


@dataclasses.dataclass(frozen=True)
class Head:
    """How the zero-code run trains a classifier head on random labels."""

    loss_fn: Callable | None  # None: the compiled Keras loss
    labels: str | None  # "ids", "onehot", or None when the loss takes neither (label checks skip)
    kind: str  # what output_range expects: "logits" or "probabilities"
    said: str  # the loss, for people


def classifier_head(model: Any, outputs: np.ndarray) -> Head:
    """torch: cross-entropy on logits. Keras: the compiled loss when compiled (labels as it takes
    them), else sparse categorical cross-entropy, from logits unless the outputs are probabilities
    (pytest_mlcheck.targets.output_form)."""
    from pytest_mlcheck.targets import output_form

    if is_torch_model(model):
        return Head(sys.modules["torch"].nn.CrossEntropyLoss(), "ids", "logits", "torch.nn.CrossEntropyLoss()")
    keras = sys.modules["keras"]
    compiled = getattr(model, "loss", None) if getattr(model, "compiled", False) else None
    if compiled is not None:
        name = (compiled if isinstance(compiled, str) else getattr(compiled, "name", type(compiled).__name__)).lower()
        from_logits = bool(getattr(compiled, "from_logits", False))
        labels = ("ids" if "sparse" in name else "onehot" if "categorical" in name else None)
        return Head(None, labels, "logits" if from_logits else "probabilities", f"the compiled loss ({name})")
    from_logits = output_form(outputs) != "probabilities"
    return Head(keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits), "ids",
                "logits" if from_logits else "probabilities",
                f"keras.losses.SparseCategoricalCrossentropy(from_logits={from_logits})")
