"""Trusted-AI/adversarial-robustness-toolbox (ART, then IBM's "Adversarial Robustness Toolbox", June 2018):
``examples/cifar_adversarial_training.py`` loads CIFAR-10 through ``art.utils.load_dataset('cifar10')`` ->
``load_cifar10``, keeps the first 5000 training images, builds the Keras examples' cifar10_cnn (Conv2D 32 'same' /
Conv2D 32 / MaxPool / Dropout 0.25, Conv2D 64 'same' / Conv2D 64 / MaxPool / Dropout 0.25, Dense 512 / Dropout 0.5,
Dense 10 + softmax), compiles it with ``loss='categorical_crossentropy', optimizer='adam'`` and trains it through
``KerasClassifier.fit(x_train, y_train, nb_epochs=10, batch_size=128)`` (random batches of 128 via
``fit_generator``), before the DeepFool / adversarial-training part. ``load_cifar10`` reshapes the labels to a column,
``y_train = np.reshape(y_train, (len(y_train), 1))``, and passes them to ``preprocess`` -> ``to_categorical``.

The fault (label encoding): ``to_categorical`` fills the one-hot matrix with
``categorical[np.arange(labels.shape[0]), labels] = 1``. With a flat (n,) label vector that sets one entry a row;
with CIFAR's (n, 1) column the row index (n,) and the column index (n, 1) broadcast to an (n, n) grid, so every row
gets a 1 in the column of EVERY label present anywhere in the array: all training targets become the same all-ones
row [1, 1, ..., 1]. MNIST (flat labels) was unaffected, so the bug hid behind the CIFAR path only. The targets no
longer say which class an image is: categorical cross-entropy against an all-ones row is -sum_k log p_k, minimised
by the uniform distribution whatever the input, so the classifier learns nothing about the images and its
predictions collapse to one (arbitrary) class. Reported in issue #7 (the reporter, running the CIFAR example: the
helper builds a matrix that is entirely ones, so the classifier's loss cannot go down; they replaced the line by a
per-row loop); the maintainer reproduced it and fixed it in 266fc8bf8 by squeezing the labels first.

Source: github.com/Trusted-AI/adversarial-robustness-toolbox ``art/utils.py`` ``to_categorical`` / ``preprocess`` /
``load_cifar10`` and ``examples/cifar_adversarial_training.py`` at cf023bd2e13aa21d44578bd666e40fbfbc008365
(= 266fc8bf8^), issue #7 "bug in "to_categorical" implementation"; fixed by
266fc8bf8d2f16b219d25757e779b4a774ae6d7e "Correct `to_categorical` for unsqueezed labels (closes #7)" (cherry-picked
from 7ba14c49dffb51f9c0fc5da036b24bf4c974a564 / 001b846f on dev, "closes #19"): the line becomes
``categorical[np.arange(labels.shape[0]), np.squeeze(labels)] = 1``.
Fault label: labels_invalid (every training target is an all-ones multi-hot row instead of a one-hot class; the
classifier then collapses to near-constant predictions).

Program lines kept: ``to_categorical`` and ``preprocess`` verbatim (the buggy indexing line; the fixed version
differs only by ``np.squeeze(labels)``), ``load_cifar10``'s ``np.reshape(y_train, (len(y_train), 1))`` before
``preprocess`` (x / 255, channels_last), the example's layer stack, Dropout rates, Dense(512), softmax head,
``loss='categorical_crossentropy'``, Adam defaults, batch 128.
Shrunk: the Conv2D filters 32 / 64 -> 8 / 16 (F1, F2), for speed (full width: ~290 ms / step torch, ~470 ms Keras
on one core; shrunk ~125 / ~170-240 ms); the Dense(512) and everything else as written.
Ported: Keras 2 -> Keras 3 (``keras.Input`` instead of ``input_shape=``; ``k.set_learning_phase(1)`` and the ART
``KerasClassifier`` wrapper dropped: its ``fit`` is a plain ``fit_generator`` over random batches). Note: Keras 3's
TensorFlow ``categorical_crossentropy`` sees that the output comes from a softmax and calls
``tf.nn.softmax_cross_entropy_with_logits`` on the logits; that op's gradient is softmax - labels, which is the
true gradient only when each label row sums to 1 (checked: for all-ones labels it returns p - 1, not
sum(y) p - 1 = 10 p - 1).
So in Keras 3 the buggy model does not settle at the uniform output as Keras 2's probability-path loss would; its
logits drift apart and the loss grows without bound while every image goes to one class (figures below). Torch
twin: the same stack in NCHW (Conv2d / Linear with Keras' Glorot-uniform kernels and zero biases), softmax output,
the loss Keras 2 computed (probabilities renormalised, clipped to [1e-7, 1 - 1e-7], -sum(y log p), batch mean),
``Adam(lr=1e-3, eps=1e-7)``; the same numpy ``to_categorical`` makes its targets. That twin shows the Keras 2
behaviour (loss pinned at 10 ln 10 = 23.03, uniform output).
Data stand-in (no CIFAR download): ``_data.cifar_like(1792, seed=0)``: (n, 32, 32, 3) uint8 images (scikit-learn's
digits blown up 4x4 over a noisy coloured background, a tint per class), labels 0..9; the first 1536 are the
training set (12 distinct batches of 128, all ten classes present, so the buggy targets are all-ones rows in every
batch), the last 256 the held-out ``inputs``. Labels pass through the program's (n, 1) reshape and ``preprocess``.

Measured (my own plain loop, /tmp/s59/p/b103a/measure.py: the module's builds, the 12 batches cycled in a seeded
random order per epoch; torch: zero_grad / forward / loss / backward / step; Keras: ``train_on_batch``; SEED 0,
OMP_NUM_THREADS=1; held-out accuracy against the true class ids):
  targets: buggy y_train rows all [1, ..., 1] (row sum 10), fixed one-hot (row sum 1).
  loss at init: buggy 23.47 (torch) / 23.04 (Keras), fixed 2.36 / 2.31 (ln 10 = 2.30).
  120 steps (10 epochs of the stand-in), training-loss means of 12-step blocks:
    torch buggy 23.121 23.028 23.026 23.026 ... 23.026 (flat at 10 ln 10);
    torch fixed 2.279 2.163 1.896 1.456 1.064 0.809 0.694 0.631 0.498 0.434;
    Keras buggy 24.8 135.5 1490 12350 75130 3.4e5 1.2e6 3.6e6 9.2e6 2.1e7 (grows, see the note);
    Keras fixed 2.290 2.208 1.958 1.522 1.103 0.842 0.670 0.547 0.447 0.374.
  after 120 steps, on the 256 held-out images: accuracy buggy 0.102 / fixed 0.867 (torch), 0.102 / 0.867 (Keras);
    share of the most-predicted class buggy 0.996 (torch: 255 of 256 to one class, mean max probability 0.100 =
    uniform output, probability std across samples 0.0000) / 1.000 (Keras: all 256 to class 5 with probability
    1.000); fixed 0.141 / 0.121 (every class predicted 20-36 times).
  Keras, 390 steps (the program's 10 epochs of 39 batches): buggy loss block means (39 steps) 885 -> 2.7e5 -> ...
    -> 6.1e10, finite (no NaN), all held-out images one class, accuracy 0.102; fixed 2.11 -> 1.05 -> 0.49 -> ...
    -> 0.077, held-out accuracy 0.922.
  One batch of 128 repeated (torch, /tmp/s59/p/b103a/one_batch.py, 60 steps): buggy loss 23.50 -> 23.03 -> 23.026,
    accuracy on that batch's true classes 0.102, mean max probability 0.100; fixed 2.35 -> 2.06 -> 0.94 -> 0.44,
    accuracy 0.984.
  Time per step (batch 128, one thread, shared machine): torch ~125 ms, Keras ~170-240 ms; the first build of both
    frameworks (imports, data) ~17-20 s, later builds < 1.5 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "labels_invalid"
SOURCE = ("github:Trusted-AI/adversarial-robustness-toolbox issue #7 (art/utils.py to_categorical / preprocess / "
          "load_cifar10 + examples/cifar_adversarial_training.py @cf023bd2e13aa21d44578bd666e40fbfbc008365 = "
          "266fc8bf8^; fix 266fc8bf8d2f16b219d25757e779b4a774ae6d7e 'Correct `to_categorical` for unsqueezed labels "
          "(closes #7)': categorical[np.arange(labels.shape[0]), np.squeeze(labels)] = 1)")
FRAMEWORKS = ("torch", "keras")
NB_CLASSES = 10
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {}),
          ("init_loss", {"num_classes": NB_CLASSES})]

BATCH_SIZE = 128  # classifier.fit(x_train, y_train, nb_epochs=10, batch_size=128)
N_BATCHES = 12
F1, F2 = 8, 16  # the example's Conv2D filters 32 and 64, shrunk 4x for speed on one CPU core
N_INPUTS = 256
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def to_categorical(labels: Any, nb_classes: int | None = None, fixed: bool = False) -> np.ndarray:
    """art/utils.py ``to_categorical``; the buggy line kept, the fix (266fc8bf8) behind ``fixed``."""
    labels = np.array(labels, dtype=np.int32)
    if not nb_classes:
        nb_classes = np.max(labels) + 1
    categorical = np.zeros((labels.shape[0], nb_classes), dtype=np.float32)
    if fixed:
        categorical[np.arange(labels.shape[0]), np.squeeze(labels)] = 1
    else:
        categorical[np.arange(labels.shape[0]), labels] = 1
    return categorical


def preprocess(x: np.ndarray, y: np.ndarray, nb_classes: int = 10, max_value: int = 255,
               fixed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """art/utils.py ``preprocess``: x scaled to [0, 1], y through ``to_categorical``."""
    x = x.astype('float32') / max_value
    y = to_categorical(y, nb_classes, fixed=fixed)
    return x, y


@functools.lru_cache(maxsize=2)
def _data(fixed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CIFAR-10-like uint8 images through load_cifar10's steps: labels reshaped to a (n, 1) column, then
    ``preprocess``. Returns x_train (n, 32, 32, 3) float32, y_train (n, 10) float32, held-out x, held-out class ids."""
    from tests.real_programs._data import cifar_like

    n_tr = N_BATCHES * BATCH_SIZE
    x_all, y_all = cifar_like(n_tr + N_INPUTS, seed=SEED)
    x_train, y_train = x_all[:n_tr], y_all[:n_tr]
    x_test, y_test = x_all[n_tr:], y_all[n_tr:]
    y_train = np.reshape(y_train, (len(y_train), 1))  # load_cifar10
    x_train, y_train = preprocess(x_train, y_train, fixed=fixed)
    return x_train, y_train, x_test.astype('float32') / 255, y_test


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras.layers import Activation, Conv2D, Dense, Dropout, Flatten, MaxPooling2D
    from keras.models import Sequential

    keras.utils.set_random_seed(SEED)
    x_train, y_train, x_test, _ = _data(fixed)

    # examples/cifar_adversarial_training.py (the Keras examples' cifar10_cnn architecture)
    model = Sequential()
    model.add(keras.Input(shape=x_train.shape[1:]))
    model.add(Conv2D(F1, (3, 3), padding='same'))
    model.add(Activation('relu'))
    model.add(Conv2D(F1, (3, 3)))
    model.add(Activation('relu'))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))

    model.add(Conv2D(F2, (3, 3), padding='same'))
    model.add(Activation('relu'))
    model.add(Conv2D(F2, (3, 3)))
    model.add(Activation('relu'))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))

    model.add(Flatten())
    model.add(Dense(512))
    model.add(Activation('relu'))
    model.add(Dropout(0.5))
    model.add(Dense(10))
    model.add(Activation('softmax'))

    model.compile(loss='categorical_crossentropy', optimizer='adam', metrics=['accuracy'])

    bs = [(x_train[i:i + BATCH_SIZE], y_train[i:i + BATCH_SIZE]) for i in range(0, len(x_train), BATCH_SIZE)]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": x_test}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    from tests.real_programs._nets import torch_dense

    torch.manual_seed(SEED)
    x_train, y_train, x_test, _ = _data(fixed)

    def conv(c_in: int, c_out: int, padding: int) -> nn.Conv2d:  # Keras Conv2D init: Glorot-uniform, zero bias
        layer = nn.Conv2d(c_in, c_out, 3, padding=padding)
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    model = nn.Sequential(
        conv(3, F1, 1), nn.ReLU(), conv(F1, F1, 0), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        conv(F1, F2, 1), nn.ReLU(), conv(F2, F2, 0), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), torch_dense(F2 * 6 * 6, 512), nn.ReLU(), nn.Dropout(0.5),
        torch_dense(512, 10), nn.Softmax(dim=1),
    )
    # optimizer='adam': Keras' Adam defaults
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)

    def loss_fn(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Keras 'categorical_crossentropy' on softmax outputs: -sum(y * log(p)), p clipped to [eps, 1 - eps]."""
        p = probs / probs.sum(dim=-1, keepdim=True)
        p = p.clamp(1e-7, 1 - 1e-7)
        return -(target * torch.log(p)).sum(dim=-1).mean()

    def nchw(a: np.ndarray) -> torch.Tensor:  # channels_first for torch's Conv2d
        return torch.tensor(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))

    xt, yt = nchw(x_train), torch.tensor(y_train)
    bs = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": nchw(x_test), "loss_fn": loss_fn,
            "optimizer": optimizer}


buggy, fixed = versions(_torch, _keras)
