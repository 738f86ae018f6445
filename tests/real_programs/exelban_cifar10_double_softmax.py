"""exelban/tensorflow-cifar-10 (``include/model.py`` + ``train.py``): a TF1 ``tf.layers`` CNN for
CIFAR-10 (conv 32 and conv 64 3x3 + max-pool, conv 128 3x3 + max-pool, conv 128 2x2 + max-pool, flatten
4*4*128, dense 1500 ReLU, dense 10) whose last layer is ``tf.layers.dense(..., units=_NUM_CLASSES,
activation=tf.nn.softmax)``, while ``train.py`` scores that output with
``tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(logits=output, labels=y))``. The loss applies
a second softmax to probabilities in [0, 1]: with 10 classes it cannot fall below
-log(e / (e + 9)) ~ 1.46, and its gradients are damped by the extra softmax's Jacobian.

Source: github.com/exelban/tensorflow-cifar-10, PR #7 "Fix double softmax in loss issue" (merged by the
author, "thanks"), commit d6e01c68ffbda320803f326b27ea56e6068bb2d5, which drops ``activation=tf.nn.softmax``
from the last ``tf.layers.dense`` in ``include/model.py`` so the loss gets logits (``y_pred_cls =
tf.argmax(...)`` is unchanged). Program lines kept (model.py / train.py at d6e01c6^): the layer stack and
widths above, ``padding='SAME'`` everywhere, ``_BATCH_SIZE = 128``, ``tf.train.AdamOptimizer(
learning_rate=lr(epoch), beta1=0.9, beta2=0.999, epsilon=1e-08)`` with ``lr(epoch) = 1e-3`` for the first
20 epochs, labels one-hot (``dense_to_one_hot``), inputs ``/ 255.0`` and flattened to 32*32*3 in HWC order
(the model reshapes them back to (32, 32, 3)).
Ported minimally: ``tf.layers`` to Keras 3 layers (both default to Glorot-uniform kernels and zero
biases); the TF1 ``tf.layers.dropout(..., rate=...)`` calls are left out because they are called without
``training=True`` and so are the identity in the program; the loss
``tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits_v2(...))`` is written out with ``keras.ops``
(mean of -sum(labels * log_softmax(output))), because Keras 3's
``CategoricalCrossentropy(from_logits=True)`` on the TensorFlow backend silently swaps a Softmax layer's
output for its input (with a warning) and so would hide the program's bug; the session loop is the compiled
model. ``_BATCH_SIZE`` is cut from 128 to 8 to keep a CPU step short (the convolutions are fixed widths).
Data: ``_data.cifar_like`` (CIFAR-shaped uint8 images, 10 classes) through the program's own
``get_data_set`` steps (``/ 255.0``, reshape to (-1, 3072), one-hot labels), float32, 64 images.
Fault label: loss_mismatch|output_activation. Fix (d6e01c6): the last dense layer has no activation.
Torch twin: the same network ending in ``F.softmax`` fed to ``nn.CrossEntropyLoss`` with the one-hot
targets (which applies log-softmax again); fixed: the last layer returns logits. Its layers are given the
Glorot-uniform / zero init of ``tf.layers``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "loss_mismatch|output_activation"
SOURCE = ("github:exelban/tensorflow-cifar-10 PR #7 (include/model.py@d6e01c6^, train.py; "
          "fix d6e01c68ffbda320803f326b27ea56e6068bb2d5)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "logits", "num_classes": 10})]

_IMAGE_SIZE = 32  # program lines (model.py / train.py)
_IMAGE_CHANNELS = 3
_NUM_CLASSES = 10
_BATCH_SIZE = 8  # the program's _BATCH_SIZE is 128; cut to keep a CPU step near 50-100 ms
learning_rate = 1e-3  # lr(epoch) for epoch <= 20


def _data_set(n: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """``get_data_set("train")``: pixels / 255.0 flattened to (n, 3072) (HWC order), one-hot labels."""
    imgs, labels = _data.cifar_like(n)
    x = (np.array(imgs, dtype=float) / 255.0).reshape(-1, _IMAGE_SIZE * _IMAGE_SIZE * _IMAGE_CHANNELS)
    return x.astype("float32"), _data.one_hot(labels, _NUM_CLASSES)


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = _data_set(8 * _BATCH_SIZE)
    if framework == "keras":
        import keras
        from keras import layers, ops

        inp = keras.Input((_IMAGE_SIZE * _IMAGE_SIZE * _IMAGE_CHANNELS,))
        z = layers.Reshape((_IMAGE_SIZE, _IMAGE_SIZE, _IMAGE_CHANNELS))(inp)
        z = layers.Conv2D(32, (3, 3), padding="same", activation="relu")(z)  # conv1
        z = layers.Conv2D(64, (3, 3), padding="same", activation="relu")(z)
        z = layers.MaxPooling2D((2, 2), strides=2, padding="same")(z)
        z = layers.Conv2D(128, (3, 3), padding="same", activation="relu")(z)  # conv2
        z = layers.MaxPooling2D((2, 2), strides=2, padding="same")(z)
        z = layers.Conv2D(128, (2, 2), padding="same", activation="relu")(z)
        z = layers.MaxPooling2D((2, 2), strides=2, padding="same")(z)
        z = layers.Reshape((4 * 4 * 128,))(z)  # fully_connected
        z = layers.Dense(1500, activation="relu")(z)
        out = layers.Dense(_NUM_CLASSES, activation=None if fixed else "softmax")(z)
        model = keras.Model(inp, out)
        def softmax_cross_entropy_with_logits(labels, logits):  # train.py's loss, as written
            return ops.mean(-ops.sum(labels * ops.log_softmax(logits, axis=-1), axis=-1))

        model.compile(loss=softmax_cross_entropy_with_logits,
                      optimizer=keras.optimizers.Adam(learning_rate=learning_rate, beta_1=0.9, beta_2=0.999,
                                                      epsilon=1e-08))
        return {"model": model, "batch": (x[:_BATCH_SIZE], y[:_BATCH_SIZE]),
                "batches": _data.batches(x, y, _BATCH_SIZE)}

    import torch
    import torch.nn.functional as F
    from torch import nn

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1a = nn.Conv2d(3, 32, 3, padding="same")
            self.conv1b = nn.Conv2d(32, 64, 3, padding="same")
            self.conv2a = nn.Conv2d(64, 128, 3, padding="same")
            self.conv2b = nn.Conv2d(128, 128, 2, padding="same")
            self.fc = nn.Linear(4 * 4 * 128, 1500)
            self.out = nn.Linear(1500, _NUM_CLASSES)
            for m in self.modules():  # tf.layers defaults
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.xavier_uniform_(m.weight)
                    nn.init.zeros_(m.bias)

        def forward(self, x):  # x: (N, 3072) flattened HWC, as fed to the placeholder
            z = x.view(-1, _IMAGE_SIZE, _IMAGE_SIZE, _IMAGE_CHANNELS).permute(0, 3, 1, 2)
            z = F.max_pool2d(F.relu(self.conv1b(F.relu(self.conv1a(z)))), 2, 2, ceil_mode=True)
            z = F.max_pool2d(F.relu(self.conv2a(z)), 2, 2, ceil_mode=True)
            z = F.max_pool2d(F.relu(self.conv2b(z)), 2, 2, ceil_mode=True)
            z = z.permute(0, 2, 3, 1).reshape(-1, 4 * 4 * 128)
            z = self.out(F.relu(self.fc(z)))
            return z if fixed else F.softmax(z, dim=1)

    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": Model(), "batch": (xt[:_BATCH_SIZE], yt[:_BATCH_SIZE]),
            "batches": _data.batches(xt, yt, _BATCH_SIZE), "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=learning_rate, betas=(0.9, 0.999), eps=1e-08)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
