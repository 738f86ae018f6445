"""TensorFlow docs tutorial "Load images" (``site/en/tutorials/load_data/images.ipynb``, tensorflow/docs, 2019):
the flower photos (5 classes) decoded, resized to 192x192 and scaled to [0, 1], batched by ``BATCH_SIZE = 32``,
then classified by transfer learning: ``mobile_net = tf.keras.applications.MobileNetV2(input_shape=(192, 192,
3), include_top=False); mobile_net.trainable = False`` and ``model = tf.keras.Sequential([mobile_net,
tf.keras.layers.GlobalAveragePooling2D(), tf.keras.layers.Dense(len(label_names))])`` compiled with
``optimizer=tf.train.AdamOptimizer()`` and ``loss=tf.keras.losses.sparse_categorical_crossentropy``.
The fault: the classifier head is linear (no activation), but ``sparse_categorical_crossentropy`` is called with
its default ``from_logits=False``, i.e. it takes the outputs as probabilities: Keras clips them to
[1e-7, 1 - 1e-7], takes the log and applies a softmax to that, so the loss is ``-log(c_y / sum_j c_j)`` with
``c = clip(z, 1e-7, 1 - 1e-7)``. Wherever a raw output leaves (1e-7, 1 - 1e-7) its gradient is exactly zero.
The pooled MobileNetV2 features are 1,280 non-negative ReLU6 activations, so a freshly initialised ``Dense(5)``
gives outputs of order +-1, more than half of them outside (1e-7, 1) from the first step; the first steps push
the rest out of range too (true-class outputs above 1, the others below 1e-7, or all of a sample's outputs
clipped alike), after which the loss is frozen: no gradient reaches the head and it stops learning at whatever
(partly wrong) assignment it reached.

Source: github.com/tensorflow/docs PR #781 (Terahezi, "Use softmax as activation for the dense layer": "It is
necessary to use softmax as activation to convert raw prediction values to probability distribution"),
``site/en/tutorials/load_data/images.ipynb`` at 56fa5048e^ (buggy), fixed by
56fa5048e397304a765e2552bd27f23b22840223 (``tf.keras.layers.Dense(len(label_names), activation='softmax')``),
merged as d4107b63a.
Program lines kept: ``GlobalAveragePooling2D()`` -> ``Dense(len(label_names))`` (buggy) / with
``activation='softmax'`` (fixed), the loss ``tf.keras.losses.sparse_categorical_crossentropy`` (Keras 3's
``keras.losses.sparse_categorical_crossentropy``, the same clip-log-softmax computation), Adam with
``tf.train.AdamOptimizer``'s defaults (lr 0.001, epsilon 1e-8) and ``BATCH_SIZE = 32``.
Ported minimally: the frozen ImageNet MobileNetV2 backbone (its weights are a download, and 192x192 images
through it take far more than 50 ms per step on one CPU thread) is replaced by what it hands the trainable part:
its (6, 6, 1280) feature map for a 192x192 image, so the model here is ``Sequential([Input((6, 6, 1280)),
GlobalAveragePooling2D(), Dense(5)])``. Since the backbone is frozen (``mobile_net.trainable=False``), the
trainable variables, the loss and its gradients are those of the tutorial's model given those features.
Framework: Keras only. The fault is Keras's ``from_logits=False`` default applied to a linear output; torch's
losses take no such flag (``nn.CrossEntropyLoss`` always expects logits), so there is no faithful twin.
Data stand-in (the flower photos are a download and go through the backbone): 128 seeded (6, 6, 1280) float32
feature maps in [0, 6] (the range of MobileNetV2's final ReLU6 block), 58 % of the activations zero, pooled
mean 0.23, each of the 5 classes with its own channel profile (per-location gamma noise on top); labels 0..4;
4 batches of 32.
Fault label: output_activation|loss_mismatch (linear outputs fed to a loss that expects probabilities).
Fix (56fa5048e): ``Dense(len(label_names), activation='softmax')``.
Symptom in a short loop (one CPU thread, ``train_on_batch``): at initialisation 41 % of the buggy head's
outputs on the first batch lie in (1e-7, 1) (range -1.45..1.19). One batch of 32 for 300 steps: buggy 13.2 ->
0.654 after 20 steps and exactly 0.654 from then on (1 % of the outputs left unclipped, zero gradient), accuracy
0.59; fixed 2.00 -> 0.030 after 20 steps -> 0.0011, accuracy 1.0. 300 steps cycling over the 4 batches:
first-pass / last-pass mean loss buggy 7.32 / 0.629, fixed 1.56 / 0.0013; accuracy on the 128 maps buggy 0.61,
fixed 1.00. A step takes ~2 ms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:tensorflow/docs PR #781 (site/en/tutorials/load_data/images.ipynb@56fa5048e^, linear "
          "Dense(len(label_names)) with sparse_categorical_crossentropy; fix 56fa5048e, merged d4107b63a)")
FRAMEWORKS = ("keras",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {}),
          ("output_range", {"kind": "probabilities", "num_classes": 5}),  # the loss reads probabilities
          ("not_constant_predictions", {})]

BATCH_SIZE = 32  # program lines
n_classes = 5  # len(label_names): daisy, dandelion, roses, sunflowers, tulips
n_images = 128


def _features(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in for MobileNetV2's frozen (6, 6, 1280) ReLU6 feature maps of the flower photos."""
    rng = np.random.default_rng(seed)
    y = np.arange(n_images) % n_classes
    rng.shuffle(y)
    profile = rng.gamma(0.6, 1.0, (n_classes, 1280)) * (rng.random((n_classes, 1280)) < 0.7)
    noise = rng.gamma(1.2, 0.8, (n_images, 6, 6, 1280)) * (rng.random((n_images, 6, 6, 1280)) < 0.6)
    x = np.clip(profile[y][:, None, None, :] * noise, 0.0, 6.0).astype("float32")
    return x, y.astype("int64")


def _build(framework: str, softmax: bool) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError("keras only (see docstring)")
    x, y = _features()
    batches = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, n_images, BATCH_SIZE)]
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(6, 6, 1280)),  # mobile_net (frozen) output for a 192x192x3 image
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(n_classes, activation="softmax" if softmax else None),  # fix: activation='softmax'
    ])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.001, epsilon=1e-8),  # tf.train.AdamOptimizer()
                  loss=keras.losses.sparse_categorical_crossentropy,
                  metrics=["accuracy"])
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, softmax=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, softmax=True)
