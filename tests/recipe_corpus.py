"""Models for the recipe checks in both frameworks: each bug beside its correct twin and the
correct look-alikes that must pass (frozen backbones, BatchNorm, Rescaling, embeddings)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

import keras_corpus as kc
from keras_corpus import keras, layers


# --- torch -----------------------------------------------------------------------------------

def deep_mlp(act: type[nn.Module], depth: int = 12, width: int = 32) -> nn.Sequential:
    """A plain MLP of ``depth`` hidden layers after the input layer (torch's default init)."""
    mods: list[nn.Module] = [nn.Flatten(), nn.Linear(64, width), act()]
    for _ in range(depth):
        mods += [nn.Linear(width, width), act()]
    return nn.Sequential(*mods, nn.Linear(width, 10))


def normal_init(model: nn.Module, std: float = 1.0) -> nn.Module:
    """Every parameter drawn from N(0, std²): nn.init.normal_ with its default std of 1."""
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, std)
    return model


def mlp_big_head() -> nn.Module:
    """A correct MLP whose head was re-initialised with nn.init.normal_ (std 1)."""
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    nn.init.normal_(model[3].weight)
    return model


def conv_bn() -> nn.Module:
    """Conv (with a bias) → BatchNorm: the conv bias gets ~0 gradient by design."""
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * 64, 10))


class NumpyRoundTrip(nn.Module):
    """Features sent through numpy in forward: the body never gets a gradient."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(64, 32)
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.from_numpy(F.relu(self.body(x.flatten(1))).detach().numpy())
        return self.head(h)


class UnusedLayer(nn.Module):
    """A layer built in __init__ and never called in forward."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Linear(64, 32)
        self.aux = nn.Linear(32, 32)
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(F.relu(self.body(x.flatten(1))))


class BatchMixingNet(nn.Module):
    """``mix``: 'transpose' (h.t().reshape(n, -1), the view bug) or 'center' (h - h.mean(0))."""

    def __init__(self, mix: str) -> None:
        super().__init__()
        self.body = nn.Linear(64, 16)
        self.head = nn.Linear(16, 10)
        self.mix = mix

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.body(x.flatten(1)))
        if self.mix == "transpose":
            h = h.t().reshape(len(x), -1)
        else:
            h = h - h.mean(dim=0, keepdim=True)
        return self.head(h)


class ScalesInside(nn.Module):
    """A correct look-alike: takes 0–255 pixels and divides by 255 in forward."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Linear(32, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x / 255.0)


def mlp_bn() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10))


def shuffled_labels(batch: tuple, seed: int = 100) -> tuple:
    """The same inputs with their labels permuted: the labels carry no signal."""
    x, y = batch
    order = np.random.default_rng(seed).permutation(len(y))
    return x, (y[torch.from_numpy(order)] if isinstance(y, torch.Tensor) else y[order])


# --- Keras -----------------------------------------------------------------------------------

def k_mlp(*, depth: int = 1, activation: str = "relu", kernel: str | None = None, bias: float = 0.0,
          rescale: float | None = None, head_std: float | None = None, seed: int = 0, width: int = 32) -> keras.Model:
    """A Sequential MLP on (8, 8, 1) digits; options inject init, activation and scaling bugs."""
    init = keras.initializers.RandomNormal(stddev=1.0, seed=seed) if kernel == "normal" else \
        keras.initializers.RandomUniform(-0.05, 0.05, seed=seed) if kernel == "small uniform" else \
        keras.initializers.GlorotUniform(seed=seed)
    stack: list = [keras.Input((8, 8, 1))]
    if rescale is not None:
        stack.append(layers.Rescaling(rescale))
    stack.append(layers.Flatten())
    for _ in range(depth):
        stack.append(layers.Dense(width, activation=activation, kernel_initializer=init,
                                  bias_initializer=keras.initializers.Constant(bias)))
    head_init = keras.initializers.RandomNormal(stddev=head_std, seed=seed) if head_std else init
    stack.append(layers.Dense(10, kernel_initializer=head_init))
    return keras.Sequential(stack)


def k_frozen_first() -> keras.Model:
    """A correct look-alike: the first Dense frozen on purpose (trainable=False)."""
    model = k_mlp(depth=2)
    model.layers[1].trainable = False
    return model


def k_bn() -> keras.Model:
    init = keras.initializers.GlorotUniform(seed=0)
    return keras.Sequential([keras.Input((8, 8, 1)), layers.Conv2D(8, 3, padding="same", kernel_initializer=init),
                             layers.BatchNormalization(), layers.ReLU(), layers.Flatten(),
                             layers.Dense(10, kernel_initializer=init)])


class KUnusedLayer(keras.Model):
    def __init__(self) -> None:
        super().__init__()
        init = keras.initializers.GlorotUniform(seed=0)
        self.flat = layers.Flatten()
        self.body = layers.Dense(32, activation="relu", kernel_initializer=init)
        self.aux = layers.Dense(32, kernel_initializer=init)
        self.head = layers.Dense(10, kernel_initializer=init)
        self.aux.build((None, 32))

    def call(self, x, training=False):
        return self.head(self.body(self.flat(x)))


class KStopGradient(keras.Model):
    """Features passed through stop_gradient (the Keras spelling of a detach)."""

    def __init__(self) -> None:
        super().__init__()
        init = keras.initializers.GlorotUniform(seed=0)
        self.flat = layers.Flatten()
        self.body = layers.Dense(32, activation="relu", kernel_initializer=init)
        self.head = layers.Dense(10, kernel_initializer=init)

    def call(self, x, training=False):
        return self.head(keras.ops.stop_gradient(self.body(self.flat(x))))


class KBatchMixing(keras.Model):
    """``mix``: 'transpose' (a reshape of the transposed features) or 'center' (minus the batch mean)."""

    def __init__(self, mix: str) -> None:
        super().__init__()
        init = keras.initializers.GlorotUniform(seed=0)
        self.flat = layers.Flatten()
        self.body = layers.Dense(16, activation="relu", kernel_initializer=init)
        self.head = layers.Dense(10, kernel_initializer=init)
        self.mix = mix

    def call(self, x, training=False):
        h = self.body(self.flat(x))
        if self.mix == "transpose":
            h = keras.ops.reshape(keras.ops.transpose(h), (-1, 16))
        else:
            h = h - keras.ops.mean(h, axis=0, keepdims=True)
        return self.head(h)


def k_embedding(float_ids: bool) -> keras.Model:
    """A correct look-alike: token ids (0..16, 64 per digit) into an Embedding; ``float_ids``
    declares the Input as float32, as keras.Input does by default."""
    inputs = keras.Input((64,), dtype="float32" if float_ids else "int32")
    h = layers.Embedding(17, 8, embeddings_initializer=keras.initializers.RandomUniform(seed=0))(inputs)
    out = layers.Dense(10, kernel_initializer=keras.initializers.GlorotUniform(seed=0))(
        layers.GlobalAveragePooling1D()(h))
    return keras.Model(inputs, out)


def k_tokens(n: int = 64, offset: int = 0, dtype: str = "int32") -> tuple[np.ndarray, np.ndarray]:
    images, labels = kc.digits()
    return images[offset:offset + n].reshape(n, 64).astype(dtype), labels[offset:offset + n]
