"""Dive into Deep Learning (d2l-ai/d2l-en), TensorFlow tab of section "Convolutional Neural Networks
(LeNet)" (``chapter_convolutional-neural-networks/lenet.md``) and its trainer ``train_ch6`` (saved into
``d2l/tensorflow.py``): LeNet-5 on Fashion-MNIST, ``tf.keras.models.Sequential([Conv2D(6, 5,
activation='sigmoid', padding='same'), AvgPool2D(2, 2), Conv2D(16, 5, activation='sigmoid'),
AvgPool2D(2, 2), Flatten(), Dense(120, activation='sigmoid'), Dense(84, activation='sigmoid'),
Dense(10, activation='sigmoid')])``, compiled by ``train_ch6`` with ``tf.keras.optimizers.SGD(learning_rate=lr)``
and ``tf.keras.losses.SparseCategoricalCrossentropy()`` (``from_logits=False``), ``batch_size = 256``,
``lr, num_epochs = 0.9, 10``; the data from ``d2l.load_data_fashion_mnist``: ``tf.expand_dims(X, axis=3) / 255``
and ``int32`` labels.
The fault: the output layer is ten independent sigmoids, but the loss reads them as a class distribution.
The TF 2.x Keras backend's ``sparse_categorical_crossentropy`` takes an output that is not a softmax op as
probabilities: ``log(clip(output, eps, 1 - eps))`` fed to ``sparse_softmax_cross_entropy_with_logits``, i.e.
``-log(sigmoid(z_y) / sum_c sigmoid(z_c))``. Around the initial outputs (all near 0.5) the ten ratios hardly
move with the logits (the sigmoid squashes them and the normalisation cancels their common rise), so the
loss sits at log(10) for longer; the network only escapes by pushing every sigmoid down towards 0, where
``log(sigmoid(z)) ~ z`` and the loss turns back into an ordinary softmax cross-entropy. Training is slowed
and the outputs are not probabilities (they sum to far less than 1).

Source: github.com/d2l-ai/d2l-en, ``chapter_convolutional-neural-networks/lenet.md`` and ``d2l/tensorflow.py``
(``train_ch6``) at ad28ca77^, fixed by PR #1053, commit ad28ca77e8183ac1aa8f2861b377bb029a647bcb "[TF] Remove
unnecessary softmax activation in last layer" (``Dense(10)`` and ``SparseCategoricalCrossentropy(from_logits=
True)``; the same fix for the TF AlexNet of ``chapter_convolutional-modern/alexnet.md``, which shared
``train_ch6`` and also ended in ``Dense(10, activation='sigmoid')``).
Program lines kept: the LeNet layers, their sigmoid activations, the sigmoid output layer (buggy), Keras'
default initialisers (glorot-uniform kernels, zero biases, as in TF 2.2), plain SGD with lr 0.9, batches of
256, the /255 scaling and the trailing channel axis.
Ported minimally: ``tf.keras`` -> Keras 3 with the same layers and arguments. The buggy loss is written out
as the TF 2.2 backend computed it (``log(clip(p, 1e-7, 1 - 1e-7))`` into ``tf.nn.sparse_softmax_cross_entropy_
with_logits``, batch mean) because Keras 3's ``SparseCategoricalCrossentropy()`` silently takes the logits kept
on a sigmoid output (``_keras_logits``) inside a compiled train step, which would train the buggy model exactly
like the fixed one. The ``MirroredStrategy`` scope, callbacks and evaluation are left out. Keras only: the
behaviour is that of the Keras loss's probability branch; the book's torch tabs use a linear head with
``CrossEntropyLoss``.
Data stand-in (no download of Fashion-MNIST): 1,536 28x28 uint8 images in 0..255 with labels 0..9, made
from scikit-learn's bundled 8x8 digits (each pixel blown up 3x3, padded to 28x28; ``_data.mnist_like``),
divided by 255 and given a channel axis as ``load_data_fashion_mnist`` does; 6 batches of 256 (the
program's batch size). Same shape, dtype, value range and number of classes as Fashion-MNIST.
Fault label: output_activation|loss_mismatch (sigmoid output layer under a loss that expects a softmax
distribution). Fix (ad28ca77): linear ``Dense(10)`` + ``from_logits=True``.
Symptom in a short loop (train_on_batch cycling over the 6 batches, SGD 0.9; loss and accuracy measured
on all 1,536 images; chance accuracy 0.10; LeNet with sigmoids under plain SGD sits on a plateau for a
while either way): init loss buggy 2.36, fixed 2.49. 300 steps: buggy 2.301 (accuracy 0.26), fixed 2.10
(0.21). 600 steps: buggy 1.14 (accuracy 0.68, mean output 0.05), fixed 0.153 (0.954). 1,200 steps: buggy
0.037 (0.994), fixed 0.018 (0.999). One batch, 300 steps: buggy 2.300 (still at log 10) vs fixed 1.11.
About 25-40 ms per step on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:d2l-ai/d2l-en PR #1053 (chapter_convolutional-neural-networks/lenet.md TF net and "
          "d2l/tensorflow.py train_ch6 @ad28ca77^; fix ad28ca77e8183ac1aa8f2861b377bb029a647bcb)")
FRAMEWORKS = ("keras",)
# output_range's kind is the fixed program's contract (logits into from_logits=True), as elsewhere in the
# corpus where a fix moves the head to logits; the porting helper had given "probabilities" (what the buggy
# program's loss reads), which the fix's linear head fails by construction (set by the lead, measured after)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("init_loss", {}),
          ("output_range", {"kind": "logits"})]

batch_size = 256
lr = 0.9
n_batches = 6


def _fashion_like() -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs._data import mnist_like

    imgs, y = mnist_like(batch_size * n_batches)
    x = (imgs[..., None] / 255).astype("float32")  # tf.expand_dims(X, axis=3) / 255
    return x, y.astype("int32")


def _build(fixed: bool) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    x, y = _fashion_like()
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    keras.utils.set_random_seed(0)
    net = keras.models.Sequential([
        keras.Input(shape=(28, 28, 1)),
        keras.layers.Conv2D(filters=6, kernel_size=5, activation="sigmoid", padding="same"),
        keras.layers.AvgPool2D(pool_size=2, strides=2),
        keras.layers.Conv2D(filters=16, kernel_size=5, activation="sigmoid"),
        keras.layers.AvgPool2D(pool_size=2, strides=2),
        keras.layers.Flatten(),
        keras.layers.Dense(120, activation="sigmoid"),
        keras.layers.Dense(84, activation="sigmoid"),
        keras.layers.Dense(10) if fixed else keras.layers.Dense(10, activation="sigmoid")])
    if fixed:  # ad28ca77
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    else:
        def loss(y_true, y_pred):  # TF 2.2 tf.keras.backend.sparse_categorical_crossentropy, from_logits=False
            labels = tf.cast(tf.reshape(y_true, [-1]), tf.int32)
            output = tf.math.log(tf.clip_by_value(y_pred, 1e-7, 1 - 1e-7))
            return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=output))
    net.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss=loss)
    return {"model": net, "batch": batches[0], "batches": batches, "inputs": x}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
