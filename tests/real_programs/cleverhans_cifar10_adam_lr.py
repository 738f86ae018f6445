"""CleverHans' CIFAR-10 tutorial (examples/ex_cifar10_tf.py): the library's Keras ``cnn_model`` (three
ReLU convolutions and a softmax Dense(10)) trained on CIFAR-10 by ``utils_tf.model_train``, i.e. TF1
``tf.train.AdamOptimizer(learning_rate=FLAGS.learning_rate)`` on the softmax cross-entropy of the
pre-softmax logits, with ``FLAGS.learning_rate`` defaulting to 0.1. At that rate Adam wrecks the
ReLU network within the first steps and, as the reporter wrote, "the model was not learning. That
is, the printed test accuracy did not change from epoch to epoch."

Source: github.com/cleverhans-lab/cleverhans PR #220 ("Fixes ex_cifar10_tf.py by changing learning
rate from 0.1 to 0.001", merged), program as in examples/ex_cifar10_tf.py and cleverhans/utils_keras.py
/ utils_tf.py at 562ef627^ (the fix commit is 562ef62797169f09782619be9d20cecbef5cb983).
Program configuration: ``cifar10.load_data()``, x as float32 / 255, one-hot labels smoothed by
``Y_train.clip(label_smooth / 9., 1. - label_smooth)`` with label_smooth = 0.1; ``cnn_model(img_rows=32,
img_cols=32, channels=3)``: Conv2D(64, (8, 8), strides 2, "same") ReLU, Conv2D(128, (6, 6), strides 2,
"valid") ReLU, Conv2D(128, (5, 5), strides 1, "valid") ReLU, Flatten, Dense(10), Activation("softmax");
``model_loss``: ``tf.nn.softmax_cross_entropy_with_logits`` on the softmax's input, mean over the
batch; Adam, batch_size 128, 10 epochs.
Data: CIFAR-10 is downloaded, so ``_data.cifar_like`` stands in (uint8 32x32x3 images with CIFAR-like
channel means, 10 classes, 384 rows), preprocessed with the program's own lines (/255, one-hot, clip).
Port: TF1 session/placeholder training becomes a compiled Keras model: ``CategoricalCrossentropy()`` on
the softmax output (Keras takes the softmax's logits, as ``model_loss`` did) and
``Adam(learning_rate=0.1)``.
Fault label: lr_too_high. Fix (562ef627): learning_rate 0.001.
Torch twin: the same layers with Keras' initialisers (glorot-uniform kernels, zero biases; the "same"
8x8 stride-2 convolution as padding=3), the softmax written into the loss (``F.cross_entropy`` on the
logits with the smoothed probability targets), ``torch.optim.Adam(lr=0.1)`` / ``lr=0.001``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "lr_too_high"
SOURCE = "github:cleverhans-lab/cleverhans PR #220 (examples/ex_cifar10_tf.py@562ef627^, fix 562ef627)"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {})]

BATCH_SIZE = 128


def _cifar10(n: int = 384) -> tuple[np.ndarray, np.ndarray]:
    imgs, labels = _data.cifar_like(n)
    # program lines (data_cifar10 and main):
    x_train = imgs.astype("float32")
    x_train /= 255
    y_train = _data.one_hot(labels, 10)  # np_utils.to_categorical(y_train, nb_classes)
    label_smooth = .1
    y_train = y_train.clip(label_smooth / 9., 1. - label_smooth)
    return x_train, y_train.astype("float32")


def _build(framework: str, learning_rate: float) -> dict[str, Any]:
    x, y = _cifar10()
    if framework == "keras":
        import keras
        from keras.layers import Activation, Conv2D, Dense, Flatten

        # program lines: cleverhans/utils_keras.py cnn_model(img_rows=32, img_cols=32, channels=3)
        nb_filters, nb_classes = 64, 10
        model = keras.Sequential([keras.Input((32, 32, 3))])
        layers = [Conv2D(nb_filters, (8, 8), strides=(2, 2), padding="same"),
                  Activation('relu'),
                  Conv2D(nb_filters * 2, (6, 6), strides=(2, 2), padding="valid"),
                  Activation('relu'),
                  Conv2D(nb_filters * 2, (5, 5), strides=(1, 1), padding="valid"),
                  Activation('relu'),
                  Flatten(),
                  Dense(nb_classes)]
        for layer in layers:
            model.add(layer)
        model.add(Activation('softmax'))
        # utils_tf.model_train: AdamOptimizer(learning_rate=args.learning_rate) on model_loss
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                      loss=keras.losses.CategoricalCrossentropy())
        return {"model": model, "batch": (x[:BATCH_SIZE], y[:BATCH_SIZE]),
                "batches": _data.batches(x, y, BATCH_SIZE), "inputs": x[:BATCH_SIZE]}

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def conv(c_in: int, c_out: int, k: int, stride: int, padding: int) -> nn.Conv2d:
        layer = nn.Conv2d(c_in, c_out, k, stride=stride, padding=padding)
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    from tests.real_programs._nets import torch_dense

    model = nn.Sequential(conv(3, 64, 8, 2, 3), nn.ReLU(), conv(64, 128, 6, 2, 0), nn.ReLU(),
                          conv(128, 128, 5, 1, 0), nn.ReLU(), nn.Flatten(), torch_dense(128 * 2 * 2, 10))

    def loss_fn(logits, target):
        return F.cross_entropy(logits, target)  # softmax_cross_entropy_with_logits, mean

    xt = torch.tensor(x).permute(0, 3, 1, 2).contiguous()
    yt = torch.tensor(y)
    return {"model": model, "batch": (xt[:BATCH_SIZE], yt[:BATCH_SIZE]),
            "batches": _data.batches(xt, yt, BATCH_SIZE), "inputs": xt[:BATCH_SIZE],
            "loss_fn": loss_fn, "optimizer": lambda p: torch.optim.Adam(p, lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, 0.1)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, 0.001)
