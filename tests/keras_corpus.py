"""The training corpus in Keras 3 spellings, on the same digits data as torch_corpus."""

from __future__ import annotations

import os

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from typing import Any, Callable  # noqa: E402

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
import numpy as np  # noqa: E402

from torch_corpus import Case, digits  # noqa: E402

layers = keras.layers


def digits_arrays(n: int = 32, *, offset: int = 0, scale: str = "unit") -> tuple[np.ndarray, np.ndarray]:
    """Digits as channels-last float32 (N, 8, 8, 1) and int64 labels."""
    images, labels = digits()
    x = images[offset:offset + n, 0, :, :, None]
    if scale == "unit":
        x = x / 16.0
    elif scale == "uint8":
        x = np.round(x * 255.0 / 16.0)
    return np.ascontiguousarray(x, dtype=np.float32), labels[offset:offset + n]


def digits_array_batches(k: int = 10, n: int = 32) -> list[tuple[np.ndarray, np.ndarray]]:
    return [digits_arrays(n, offset=i * n) for i in range(k)]


def cnn(num_classes: int = 10, *, activation: str | None = None, seed: int = 0) -> keras.Model:
    init = keras.initializers.GlorotUniform(seed=seed)
    return keras.Sequential([
        keras.Input((8, 8, 1)),
        layers.Conv2D(16, 3, padding="same", activation="relu", kernel_initializer=init),
        layers.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer=init),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(num_classes, activation=activation, kernel_initializer=init),
    ])


def mlp(num_classes: int = 10, *, final: layers.Layer | None = None, seed: int = 0) -> keras.Model:
    """A Functional MLP; ``final`` is appended after the head."""
    init = keras.initializers.GlorotUniform(seed=seed)
    inputs = keras.Input((8, 8, 1))
    h = layers.Dense(64, activation="relu", kernel_initializer=init)(layers.Flatten()(inputs))
    out = layers.Dense(num_classes, kernel_initializer=init)(h)
    if final is not None:
        out = final(out)
    return keras.Model(inputs, out)


class SubclassedCNN(keras.Model):
    """A subclassed model; ``softmax`` applies a softmax inside call (a bug before a logits loss)."""

    def __init__(self, num_classes: int = 10, softmax: bool = False, seed: int = 0):
        super().__init__()
        init = keras.initializers.GlorotUniform(seed=seed)
        self.conv = layers.Conv2D(16, 3, padding="same", activation="relu", kernel_initializer=init)
        self.flat = layers.Flatten()
        self.head = layers.Dense(num_classes, kernel_initializer=init)
        self.softmax = softmax

    def call(self, x, training=False):
        logits = self.head(self.flat(self.conv(x)))
        return tf.nn.softmax(logits) if self.softmax else logits


def sparse_ce() -> keras.losses.Loss:
    return keras.losses.SparseCategoricalCrossentropy(from_logits=True)


def compiled(model: keras.Model, optimizer: Any, loss: Any) -> keras.Model:
    model.compile(optimizer=optimizer, loss=loss)
    return model


def mse_on_class_ids(y_true, y_pred):
    return keras.ops.mean(keras.ops.square(keras.ops.cast(keras.ops.expand_dims(y_true, -1), "float32") - y_pred))


def _sub(**kw: Any) -> Callable[[], keras.Model]:
    def build() -> keras.Model:
        model = SubclassedCNN(**kw)
        model(np.zeros((1, 8, 8, 1), np.float32))
        return model
    return build


def training_cases() -> list[Case]:
    """The same bug kinds as torch_corpus.training_cases where Keras can express them."""
    adam, sgd = keras.optimizers.Adam, keras.optimizers.SGD
    return [
        Case("cnn, Adam 1e-3", False, lambda: dict(model=compiled(cnn(), adam(1e-3), sparse_ce()))),
        Case("mlp, SGD 0.1 momentum", False,
             lambda: dict(model=mlp(), loss_fn=sparse_ce(), optimizer=sgd(0.1, momentum=0.9))),
        Case("cnn, lr 10 (Adam)", True, lambda: dict(model=compiled(cnn(), adam(10.0), sparse_ce())), "lr_too_high"),
        Case("mlp, lr 10 (SGD)", True, lambda: dict(model=mlp(), loss_fn=sparse_ce(), optimizer=sgd(10.0)),
             "lr_too_high"),
        Case("cnn, lr 1e-7 (Adam)", True, lambda: dict(model=compiled(cnn(), adam(1e-7), sparse_ce())),
             "lr_too_low"),
        Case("cnn, MSE between logits and class ids", True,
             lambda: dict(model=cnn(), loss_fn=mse_on_class_ids, optimizer=adam(1e-3))),
        Case("cnn, Dense(10, activation='softmax') before from_logits=True (Keras undoes it)", False,
             lambda: dict(model=compiled(cnn(activation="softmax"), adam(1e-3), sparse_ce()))),
        Case("cnn, logits into the default from_logits=False loss", True,
             lambda: dict(model=compiled(cnn(), adam(1e-3), "sparse_categorical_crossentropy")), "loss_mismatch"),
        Case("mlp, logits into SparseCategoricalCrossentropy()", True,
             lambda: dict(model=mlp(), loss_fn=keras.losses.SparseCategoricalCrossentropy(), optimizer=adam(1e-3)),
             "loss_mismatch"),
        Case("subclassed, tf.nn.softmax in call before from_logits=True (Keras undoes it in a traced step)", False,
             lambda: dict(model=_sub(softmax=True)(), loss_fn=sparse_ce(), optimizer=adam(1e-3))),
        Case("subclassed, logits into from_logits=True", False,
             lambda: dict(model=_sub()(), loss_fn=sparse_ce(), optimizer=adam(1e-3))),
        Case("mlp, a plain loss function", False,
             lambda: dict(model=mlp(), loss_fn=lambda y, p: keras.ops.mean(
                 keras.losses.sparse_categorical_crossentropy(y, p, from_logits=True)), optimizer=adam(3e-3))),
    ]
