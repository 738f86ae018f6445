"""tensorflow/docs, the TensorFlow 2 tutorial "Transfer learning with a pretrained ConvNet"
(``site/en/tutorials/images/transfer_learning.ipynb``, earlier ``site/en/r2/...``): cats_vs_dogs images cast to
float, ``(image/127.5) - 1``, resized to 160x160, shuffled and batched by 32; a frozen
``tf.keras.applications.MobileNetV2(include_top=False, weights='imagenet')`` base (5x5x1280 output map), then
``GlobalAveragePooling2D()`` and ``prediction_layer = keras.layers.Dense(1)``; compiled with
``RMSprop(lr=base_learning_rate)`` (0.0001) and ``loss='binary_crossentropy'``; ``fit`` for 10 epochs.

Source: github.com/tensorflow/docs ``site/en/tutorials/images/transfer_learning.ipynb`` at
c289884cd1cda0c4a67e8493568ef8e73d78e83e^ (the same cells since the r2 alpha version, e.g. r2 file at fdfedd77d);
fixed by c289884cd1cda0c4a67e8493568ef8e73d78e83e "Explicit loss" (Mark Daoust, 2020-01-08): both compile calls
become ``loss=tf.keras.losses.BinaryCrossentropy(from_logits=True)`` and the text now says to use the binary
cross-entropy "with `from_logits=True` since the model provides a linear output". Reported earlier in
tensorflow/tensorflow issue #28718 ("classification head should use sigmoid activation ... binary_crossentropy by
default has from_logits=False and expect a probability").
Fault label: loss_mismatch (a probability loss, ``from_logits=False``, on a linear one-unit head).
Lead's edit: ``LABEL`` adds output_activation beside the porter's loss_mismatch, the corpus's convention for a
linear head into a loss that reads probabilities (b19b, b81b, b83b, b99a): the issue's own words name the
missing sigmoid, the fixing commit the loss.

The fault in my words: the head emits an unbounded score, but the default binary cross-entropy reads it as a
probability. Keras clips the score into [1e-7, 1 - 1e-7] before taking logs, so every sample whose score is below 0
or above 1 contributes a constant loss (about 16.1 when on the wrong side, about 0 on the right side) and NO
gradient; only samples whose score happens to lie inside (0, 1) teach the head. With a head whose initial scores
are mostly negative, training sits still until the few in-range samples drag the shared weights over; the reported
loss is dominated by the clipped constants and the model's "probabilities" are not probabilities (the class is
read at 0.5 of a raw score). The tutorial's own printed output of the buggy version: initial loss 3.19 / accuracy
0.61 on validation, training loss 1.89 after epoch 1 and still 0.49 after epoch 10 (train accuracy 0.94).

Program lines kept: ``GlobalAveragePooling2D()``, ``keras.layers.Dense(1)`` (Glorot kernel, zero bias), the
``Sequential([base_model, global_average_layer, prediction_layer])``, ``base_model.trainable = False``,
``RMSprop`` with ``base_learning_rate = 0.0001`` (``lr=`` -> ``learning_rate=`` for Keras 3), batch 32, the
``(image/127.5) - 1`` scaling, the loss string; only the loss differs between buggy and fixed (the fixed one is
the fix's ``BinaryCrossentropy(from_logits=True)``). Only the first (feature-extraction) stage is ported, not the
later fine-tuning stage (which repeats the same loss).
Replaced / shrunk: the ImageNet MobileNetV2 weights cannot be downloaded and a randomly initialised MobileNetV2
gives vanishing features (~1e-12 at its output), so the frozen base is a stand-in: one fixed random
``Conv2D(1280, 8, strides=8, activation='relu6')`` (normal(0, 0.2) kernel, zero bias, frozen) that maps the
image to the same 5x5x1280 ReLU6 map MobileNetV2 hands to the head; images shrunk from 160x160 to 40x40 so that
the map stays 5x5 (the resize is a no-op since the stand-in is drawn at 40x40). Keras only: torch's BCELoss
raises on inputs outside [0, 1], so a torch twin of this fault would not run as the program does.
Data stand-in (no cats_vs_dogs download): seeded synthetic 40x40 RGB uint8 images, class 0 ("cat") a
random-coloured disc on a random-coloured background, class 1 ("dog") the same plus a sinusoidal striped coat of
random direction / period 3-6 px (amplitude 80), N(0, 10) pixel noise; labels 0 / 1 drawn at random (float32
column (n, 1) as targets). ``batches``: 40 distinct batches of 32; ``batch``: the first; ``inputs``: 256 held-out
images. Frozen features: mean 0.53, max 6.0 (ReLU6), initial head scores mean -1.22, std 0.66 (99 % below 0).

Measured (my own plain loop, /tmp/s59/p/b101b/measure_b101b.py: the module's builds, ``train_on_batch`` over the
40 batches in a seeded random order each epoch, keras seed 0, OMP_NUM_THREADS=1; held-out = the 256 ``inputs``):
  loss on ``batch`` at init: buggy 10.58 (the clipped constants), fixed 1.315.
  mean training loss per 40-step epoch, epochs 1..12:
    buggy 8.39 8.36 5.15 1.14 0.74 0.53 0.43 0.33 0.25 0.19 0.13 0.09 (flat for the first ~80 steps: all scores
      clipped, zero gradient; its values are not a cross-entropy of the scores)
    fixed 0.79 0.65 0.59 0.54 0.49 0.44 0.41 0.37 0.34 0.31 0.28 0.26
  held-out accuracy, each read as its program reads it (buggy: score > 0.5; fixed: logit > 0), after epochs
    1 / 2 / 3 / 4 / 5 / 7 / 9 / 12: buggy 0.49 0.49 0.60 0.72 0.82 0.90 0.97 0.99; fixed 0.55 0.55 0.65 0.76 0.81
    0.94 0.996 1.00. Held-out sigmoid cross-entropy of the raw scores after 480 steps: buggy 0.464, fixed 0.248.
  So the buggy head does not learn at all for two epochs (80 steps; a check over fewer steps sees a flat loss), then
  catches up more slowly and ends with a miscalibrated score (scores in (0, 1) on 30 % of held-out images after 480
  steps, fixed 5 %); as in the tutorial, it eventually classifies well.
  Time per step (batch 32, one thread): ~13-20 ms; first build with the TensorFlow import ~10 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "loss_mismatch|output_activation"
SOURCE = ("github:tensorflow/docs site/en/tutorials/images/transfer_learning.ipynb"
          "@c289884cd1cda0c4a67e8493568ef8e73d78e83e^ (MobileNetV2 base + GlobalAveragePooling2D + "
          "'prediction_layer = keras.layers.Dense(1)' compiled with "
          "loss='binary_crossentropy'); fix c289884cd1cda0c4a67e8493568ef8e73d78e83e 'Explicit loss': "
          "loss=tf.keras.losses.BinaryCrossentropy(from_logits=True); reported in tensorflow/tensorflow issue #28718")
FRAMEWORKS = ("keras",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {"num_classes": 2}),
          ("gradients_flow", {})]

# the tutorial
BATCH_SIZE = 32
BASE_LEARNING_RATE = 0.0001
# shrunk / stand-in
IMG_SIZE = 40  # the tutorial: 160 (MobileNetV2's 5x5x1280 output map is kept: 40 / 8 = 5)
FEATURES = 1280  # MobileNetV2's out_relu channels
N_BATCHES = 40
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    """Two-class uint8 'cats vs dogs' stand-in images (n, IMG_SIZE, IMG_SIZE, 3) and int labels 0 / 1."""
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    y = r.integers(0, 2, n)
    yy, xx = np.mgrid[0:IMG_SIZE, 0:IMG_SIZE].astype("float32")
    imgs = np.empty((n, IMG_SIZE, IMG_SIZE, 3), "float32")
    for i in range(n):  # class 0 "cat": smooth blobs; class 1 "dog": a striped coat of random direction
        cy, cx = r.uniform(8, IMG_SIZE - 8, 2)
        rad = r.uniform(8, 14)
        shape = (np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2) < rad).astype("float32")
        bg = r.uniform(60, 180, 3)
        fg = r.uniform(30, 225, 3)
        img = bg + shape[..., None] * (fg - bg)
        if y[i] == 1:
            th, period = r.uniform(0, np.pi), r.uniform(3, 6)
            img += 80 * np.sin(2 * np.pi * (np.cos(th) * xx + np.sin(th) * yy) / period + r.uniform(0, 6.3))[..., None]
        imgs[i] = img + r.normal(0, 10, (IMG_SIZE, IMG_SIZE, 3))
    return np.clip(imgs, 0, 255).astype("uint8"), y.astype("int64")


def format_example(image: np.ndarray) -> np.ndarray:
    image = image.astype("float32")
    image = (image / 127.5) - 1
    return image  # tf.image.resize(image, (IMG_SIZE, IMG_SIZE)): the stand-in is drawn at IMG_SIZE already


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(SEED)
    IMG_SHAPE = (IMG_SIZE, IMG_SIZE, 3)
    # Stand-in for tf.keras.applications.MobileNetV2(input_shape=IMG_SHAPE, include_top=False, weights='imagenet'):
    # a fixed random 8x8 / stride-8 convolution to a 5x5x1280 ReLU6 map, frozen like the tutorial's base.
    base_model = keras.Sequential([
        keras.Input(IMG_SHAPE),
        keras.layers.Conv2D(FEATURES, 8, strides=8, activation="relu6",
                            kernel_initializer=keras.initializers.RandomNormal(stddev=0.2, seed=SEED),
                            bias_initializer=keras.initializers.Constant(0.0)),
    ], name="mobilenetv2_standin")
    base_model.trainable = False

    global_average_layer = tf.keras.layers.GlobalAveragePooling2D()
    prediction_layer = keras.layers.Dense(1)
    model = tf.keras.Sequential([
      base_model,
      global_average_layer,
      prediction_layer
    ])
    base_learning_rate = BASE_LEARNING_RATE
    if fixed:  # c289884: "... with `from_logits=True` since the model provides a linear output"
        loss = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    else:
        loss = 'binary_crossentropy'
    model.compile(optimizer=tf.keras.optimizers.RMSprop(learning_rate=base_learning_rate),
                  loss=loss,
                  metrics=['accuracy'])

    imgs, y = _raw()
    x = format_example(imgs)
    yf = y.astype("float32")[:, None]
    n = N_BATCHES * BATCH_SIZE
    bs = [(x[i:i + BATCH_SIZE], yf[i:i + BATCH_SIZE]) for i in range(0, n, BATCH_SIZE)]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": x[n:]}


def buggy(framework: str) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    return _keras(False)


def fixed(framework: str) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    return _keras(True)
