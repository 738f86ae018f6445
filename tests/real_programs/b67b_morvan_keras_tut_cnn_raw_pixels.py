"""MorvanZhou/tutorials (莫烦Python), ``kerasTUT/6-CNN_example.py``: the Keras tutorial's MNIST convolutional
classifier. ``(X_train, y_train), (X_test, y_test) = mnist.load_data()``; ``X_train = X_train.reshape(-1, 1, 28, 28)``;
``y_train = np_utils.to_categorical(y_train, nb_classes=10)``; the model is ``Convolution2D(32, 5, 5,
border_mode='same', dim_ordering='th', input_shape=(1, 28, 28)) -> relu -> MaxPooling2D((2, 2), strides=(2, 2),
border_mode='same') -> Convolution2D(64, 5, 5, border_mode='same') -> relu -> MaxPooling2D((2, 2),
border_mode='same') -> Flatten -> Dense(1024) -> relu -> Dense(10) -> softmax``, ``adam = Adam(lr=1e-4)``,
``compile(optimizer=adam, loss='categorical_crossentropy')``, ``fit(X_train, y_train, nb_epoch=1, batch_size=32)``.

The fault (inputs not normalised): the images go into the network as raw uint8 pixel values 0..255, not scaled to
[0, 1]. With Keras' glorot-uniform kernels the first activations are ~255 times the size the initialisation is made
for, the ten softmax logits start hundreds apart, the softmax is saturated (one class ~1, the clipped cross-entropy
~16 for every wrongly "sure" sample) and the Adam(1e-4) steps, sized for unit-scale inputs, fight saturated
probabilities. Issue MorvanZhou/tutorials #34 ("keras的cnn的demo运行训练结果没有变化": "I tried many times, the loss and
accuracy do not change at all; teacher Mo, could it be that x_train is not normalised when it is loaded?"); the
maintainer: "Yes, it may be related to that, I added / 255. on GitHub" -- commit c642d28 "add data normalization"
(``X_train = X_train.reshape(-1, 1,28, 28)/255.``, the same for X_test).

Source: github.com/MorvanZhou/tutorials ``kerasTUT/6-CNN_example.py`` @c642d288af6650709b22c59498da9ba816d99263^
(ff91f0a; the file last changed in 2f9eaa3), issue #34, fix c642d288af6650709b22c59498da9ba816d99263.
Fault label: inputs_not_normalized (raw 0..255 pixels fed to a network initialised for unit-scale inputs).

Program lines kept: the network (conv 32@5x5 'same' + relu, 2x2/2 max pool, conv 64@5x5 'same' + relu, 2x2 max pool,
Dense(1024) + relu, Dense(10) + softmax, Keras default initialisers: glorot-uniform kernels, zero biases),
``categorical_crossentropy`` on the softmax output with one-hot (``to_categorical``) targets, ``Adam(lr=1e-4)`` (Keras
1 defaults beta_1 0.9, beta_2 0.999, epsilon 1e-8), batch_size 32, the preprocessing: reshape only (buggy) / reshape
then ``/255.`` (fixed).
Shrunk: conv filters 16 / 32 instead of 32 / 64 and Dense(512) instead of Dense(1024) (the program's widths take
~0.28 s a step on one loaded CPU thread); the layer comments keep the program's shapes.
Ported: Keras 1 -> Keras 3 (``Convolution2D(nb_filter, nb_row, nb_col, border_mode=...)`` -> ``Conv2D(filters,
(5, 5), padding=...)``, ``Adam(lr=...)`` -> ``learning_rate``, ``epsilon=1e-8`` given explicitly since Keras 3's
default is 1e-7). The program mixes ``dim_ordering='th'`` on the first conv with the backend default on the others;
its comments give the intended channels-first shapes (32, 28, 28) -> (32, 14, 14) -> (64, 14, 14) -> (64, 7, 7), which
the port keeps: Keras here runs channels-last (the reshape goes to (-1, 28, 28, 1); TF's CPU convolutions take
NHWC only), the torch twin channels-first (-1, 1, 28, 28) as in the program. The torch twin: the same layers (padding
2 for 5x5 'same'; a 2x2/2 'same' pool on even sides is a plain 2x2 pool), Keras' init (xavier_uniform, zero bias),
``nn.Softmax`` head, the Keras categorical cross-entropy on probabilities (clip to [1e-7, 1 - 1e-7], -sum(y log p),
batch mean) and ``Adam(lr=1e-4, eps=1e-8)``. The fault is numpy preprocessing before the model, so it exists in both.
Data stand-in (no download of MNIST): ``_data.mnist_like`` -- scikit-learn's 1797 8x8 digits blown up to 28 x 28
uint8 0..255 (MNIST's shape, dtype and range), labels 0..9; the first 1536 train (48 batches of 32), the last 261 are
held out. ``batches``: the first 8 training batches; ``inputs``: the 261 held-out images, preprocessed like training
(buggy raw 0..255 float32, fixed /255); ``baseline_batch``: the first 128 training images.

Fix: ``X_train = X_train.reshape(-1, 1, 28, 28) / 255.`` (and the same for X_test).

Measured (my own plain loops, /tmp/s47/h67_b/measure.py, OMP_NUM_THREADS=1, the module's builds; 3 epochs over the
1536 training images in order, batches of 32 = 144 steps (the program: 1 epoch of 1875 steps on 60000 MNIST images);
then the 261 held-out images; seeds 1337 (the module's) / 1 / 2):
  torch (Keras-1 clipped cross-entropy): buggy step-1 loss 14.1 / 13.6 / 14.2 (fixed 2.30 / 2.32 / 2.32); epoch-mean
    losses buggy 14.52 14.52 14.52 / 10.20 8.30 8.30 / 14.49 14.51 14.51 -- stuck, as the issue reports -- fixed
    2.04 1.10 0.46 / 2.00 1.02 0.44 / 2.06 1.13 0.48. Held-out accuracy buggy 0.107 / 0.418 / 0.092 (seed 1337: all
    261 predicted as one class, seed 2: one class, seed 1: 5 classes used), mean max probability 1.00 / 0.98 / 1.00;
    fixed 0.812 / 0.808 / 0.797, all 10 classes predicted. The wrong-but-sure samples sit at the clip (p < 1e-7),
    where the clipped log has no gradient, so nothing moves them.
  Keras 3 (``train_on_batch``): the fault does NOT stall training here. Buggy step-1 loss 66.5 / 61.1 / 37.8 (the
    clipped formula on the same outputs: 14.6), epoch means 7.36 0.70 0.27 / 7.82 1.05 0.45 / 5.98 0.67 0.26, held-out
    accuracy 0.797 / 0.816 / 0.839 (fixed: 0.793 / 0.808 / 0.805, epoch means 1.98 1.01 0.45 ...). Reason: Keras 3's
    ``categorical_crossentropy`` on a softmax layer's output recomputes the loss from the softmax's logits (no clip),
    so the saturated samples keep a gradient; Keras 1 (the program's) clipped the probabilities like the torch twin.
    What the Keras twin still shows: raw 0..255 inputs, a saturated softmax at init (held-out mean max probability
    0.998 / 0.985 / 0.980 vs 0.128 / 0.126 / 0.116 fixed; 258 of 261 held-out images in one class at seed 1337) and an
    initial loss of 37..66 instead of ln 10 = 2.30.
  Time per step (batch 32, one thread, shrunk widths): torch ~40-65 ms, Keras ~60-85 ms (two jobs sharing 2 cores);
    builds ~1 s torch, a few s Keras.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "inputs_not_normalized"
SOURCE = ("github:MorvanZhou/tutorials issue #34 (kerasTUT/6-CNN_example.py@c642d288af6650709b22c59498da9ba816d99263^, "
          "X_train = X_train.reshape(-1, 1,28, 28) without /255.; fix c642d288af6650709b22c59498da9ba816d99263 "
          "'add data normalization')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("inputs_normalized", {}), ("init_loss", {"num_classes": 10}), ("loss_decreases", {}),
          ("overfit_one_batch", {}), ("not_constant_predictions", {})]

NUM_CLASSES = 10
LEARNING_RATE = 1e-4  # adam = Adam(lr=1e-4)
BATCH_SIZE = 32  # model.fit(..., batch_size=32)
# port: filters and Dense width halved (program: 32 / 64 filters, Dense(1024); ~0.28 s a step on one CPU thread)
FILTERS = (16, 32)
DENSE = 512
N_ALL = 1797  # all of scikit-learn's digits
N_TRAIN = 1536
N_BATCHES = 8
N_BASELINE = 128
SEED = 1337  # np.random.seed(1337)


@functools.lru_cache(maxsize=2)
def _data(fixed: bool) -> tuple[np.ndarray, np.ndarray]:
    """All images preprocessed as the program does, (n, 1, 28, 28) float32, and one-hot labels (n, 10)."""
    from tests.real_programs._data import mnist_like, one_hot

    x, y = mnist_like(N_ALL)
    x = x.reshape(-1, 1, 28, 28).astype("float32")  # X_train = X_train.reshape(-1, 1,28, 28)
    if fixed:
        x = x / 255.  # the fix: ... .reshape(-1, 1,28, 28)/255.
    return x.astype("float32"), one_hot(y, NUM_CLASSES)


def _common(fixed: bool, channels_last: bool) -> dict[str, Any]:
    x, y = _data(fixed)
    if channels_last:
        x = np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))
    bs = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, N_BATCHES * BATCH_SIZE, BATCH_SIZE)]
    return {"batch": bs[0], "batches": bs, "inputs": x[N_TRAIN:],
            "baseline_batch": (x[:N_BASELINE], y[:N_BASELINE])}


def train_data(fixed: bool, channels_last: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_held_out, y_held_out) for plain training loops."""
    x, y = _data(fixed)
    if channels_last:
        x = np.ascontiguousarray(np.transpose(x, (0, 2, 3, 1)))
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)

    def glorot(layer: nn.Module) -> nn.Module:  # Keras defaults: glorot_uniform kernel, zero bias
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    f1, f2 = FILTERS
    model = nn.Sequential(
        glorot(nn.Conv2d(1, f1, 5, padding=2)), nn.ReLU(),  # Convolution2D(32, 5, 5, border_mode='same')
        nn.MaxPool2d(2, 2),  # output shape (32, 14, 14)
        glorot(nn.Conv2d(f1, f2, 5, padding=2)), nn.ReLU(),  # output shape (64, 14, 14)
        nn.MaxPool2d(2, 2),  # output shape (64, 7, 7)
        nn.Flatten(),
        glorot(nn.Linear(f2 * 7 * 7, DENSE)), nn.ReLU(),
        glorot(nn.Linear(DENSE, NUM_CLASSES)), nn.Softmax(dim=1),
    )

    def loss_fn(probs: Any, y: Any) -> Any:
        """Keras categorical_crossentropy on probabilities: clip to [eps, 1 - eps], -sum(y log p), batch mean."""
        p = torch.clamp(probs, 1e-7, 1 - 1e-7)
        return torch.mean(-torch.sum(y * torch.log(p), dim=1))

    d = _common(fixed, channels_last=False)

    def t(a: np.ndarray) -> Any:
        return torch.from_numpy(np.ascontiguousarray(a))

    bs = [(t(x), t(y)) for x, y in d["batches"]]
    bx, by = d["baseline_batch"]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(d["inputs"]),
            "baseline_batch": (t(bx), t(by)), "loss_fn": loss_fn,
            "optimizer": torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, betas=(0.9, 0.999), eps=1e-8)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(SEED)
    f1, f2 = FILTERS
    model = keras.models.Sequential([
        keras.Input(shape=(28, 28, 1)),
        # Conv layer 1 output shape (32, 28, 28)
        keras.layers.Conv2D(f1, (5, 5), padding='same'),
        keras.layers.Activation('relu'),
        # Pooling layer 1 (max pooling) output shape (32, 14, 14)
        keras.layers.MaxPooling2D(pool_size=(2, 2), strides=(2, 2), padding='same'),
        # Conv layer 2 output shape (64, 14, 14)
        keras.layers.Conv2D(f2, (5, 5), padding='same'),
        keras.layers.Activation('relu'),
        # Pooling layer 2 (max pooling) output shape (64, 7, 7)
        keras.layers.MaxPooling2D(pool_size=(2, 2), padding='same'),
        # Fully connected layer 1 input shape (64 * 7 * 7) = (3136), output shape (1024)
        keras.layers.Flatten(),
        keras.layers.Dense(DENSE),
        keras.layers.Activation('relu'),
        # Fully connected layer 2 to shape (10) for 10 classes
        keras.layers.Dense(NUM_CLASSES),
        keras.layers.Activation('softmax'),
    ])
    adam = keras.optimizers.Adam(learning_rate=LEARNING_RATE, beta_1=0.9, beta_2=0.999, epsilon=1e-8)
    model.compile(optimizer=adam, loss='categorical_crossentropy', metrics=['accuracy'])
    d = _common(fixed, channels_last=True)
    return {"model": model, "batch": d["batch"], "batches": d["batches"], "inputs": d["inputs"],
            "baseline_batch": d["baseline_batch"]}


buggy, fixed = versions(_torch, _keras)
