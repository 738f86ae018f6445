"""The digits CNN of digits_torch.py, in Keras 3: what a Keras project would have."""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

CLASS_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ENCODE = {name: i for i, name in enumerate(CLASS_NAMES)}


def build_model(seed: int = 0) -> keras.Model:
    """Raw 0..16 pixels in; a Rescaling layer scales them inside the model."""
    init = keras.initializers.GlorotUniform(seed=seed)
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Rescaling(1 / 16.0),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu", kernel_initializer=init),
        keras.layers.BatchNormalization(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu", kernel_initializer=init),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dropout(0.1, seed=seed),
        keras.layers.Dense(10, kernel_initializer=init),
    ])
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def dataset(batch_size: int = 32, *, limit: int = 640) -> tf.data.Dataset:
    data = load_digits()
    x = data.images[:limit, :, :, None].astype(np.float32)
    y = data.target[:limit].astype(np.int64)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def held_out_images(n: int = 200) -> np.ndarray:
    return load_digits().images[-n:, :, :, None].astype(np.float32)


def train_transform(image: np.ndarray) -> tf.Tensor:
    return tf.convert_to_tensor(image[:, :, None], tf.float32)


def eval_transform(image: np.ndarray) -> tf.Tensor:
    return tf.expand_dims(tf.cast(image, tf.float32), -1)


def raw_images(n: int = 16) -> list[np.ndarray]:
    return list(load_digits().images[:n])


def decode(code: int) -> str:
    return CLASS_NAMES[code]
