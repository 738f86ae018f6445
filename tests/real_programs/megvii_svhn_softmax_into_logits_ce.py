"""MEGVII tf-tutorials, ``01-svhn``: a 7-convolution SVHN classifier (3x3 convs with bias, batch
norm and ReLU: 16, 32-32, 64-64, 128-128 channels, 2x2 max pools and a final 4x4 average pool, then
one dense layer to 10 logits; variance-scaling(fan_in, truncated normal) init, L2 1e-10) trained with
Adam(lr 0.01 for the first 15 epochs), batch 256, on raw 0-255 32x32x3 pixels. ``train.py`` turns the
logits into ``preds = tf.nn.softmax(logits)`` (the default ``--loss softmax``; the homework swaps in
other normalisations) and then computed ``loss = tf.losses.softmax_cross_entropy(label_onehot, preds)
+ loss_reg`` -- a loss that applies its own softmax to what it is given, so the probabilities are
softmaxed a second time. The resulting loss is squeezed into [-log(e/(e+9)), -log(1/(1+9e))] =
[1.46, 2.46]: it can never fall below 1.46 even when every sample is classified correctly with
certainty, and its gradients shrink as the predictions sharpen, so training stalls.

Source: github.com/megvii-research/tf-tutorials PR #78 "fix loss computation" ("Fix the cross entropy
loss computation", merged), commit 1ec126ff8e8e115bc1c18d64a1531b3686d4aee4: ``build`` also returns
the integer ``label`` and the loss becomes
``tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(label, preds))`` (a loss on
probabilities). Program: ``01-svhn/model.py``, ``01-svhn/train.py``, ``01-svhn/common.py`` and
``01-svhn/dataset.py`` at 1ec126f^ (``minibatch_size = 256``, ``weight_decay = 1e-10``,
``nr_class = 10``, ``AdamOptimizer(lr)`` with ``values = [0.01, 0.001, 0.0005]``; images are
``cv2.resize``-d raw pixels as float32, label 10 mapped to 0).
Ported minimally: TF1 ``tf.get_variable`` convs / ``tf.layers.batch_normalization`` /
``tf.layers.dense`` become Keras 3 layers (``VarianceScaling(1.0, 'fan_in', 'truncated_normal')``,
which matches ``variance_scaling_initializer(factor=1.0, mode='FAN_IN', uniform=False)``; BN momentum
0.99, epsilon 1e-3 as in TF1; ``l2_regularizer(1e-10)`` = ``L2(5e-11)``); the model's output is
``preds`` (a softmax layer after the logits); the buggy model is compiled with
``tf.losses.softmax_cross_entropy`` written out with ``keras.ops`` (``-sum(onehot * log_softmax(preds))``,
mean over the batch) on the one-hot labels -- not as ``CategoricalCrossentropy(from_logits=True)``,
because Keras 3 (TF backend) then notices the Softmax op, warns and silently uses the logits under it,
which would remove the bug -- the fixed one with ``SparseCategoricalCrossentropy()`` on the integer labels; ``Adam(0.01)`` (the first
piece of the schedule). The ``tf.data`` generator pipeline is replaced by in-memory batches.
Data stand-in: SVHN ``train_32x32.mat`` (+ extra) is replaced by ``_data.cifar_like`` (32x32x3 uint8
images of scikit-learn digits over noisy coloured backgrounds, 0-255, 10 classes) as float32 raw
pixels, three batches of 256.
Fault label: loss_mismatch (softmax probabilities fed to a loss that expects logits). Fix (1ec126f):
a cross-entropy on the probabilities.
PyTorch twin: the same network (``nn.Conv2d`` + ``nn.BatchNorm2d(eps=1e-3, momentum=0.01)``, NCHW),
ending in ``nn.Softmax(dim=1)``; buggy loss ``nn.CrossEntropyLoss()`` (which applies log-softmax
itself), fixed loss the negative log-likelihood of the probabilities
(``nll_loss(log(preds.clamp_min(1e-7)), y)``, what the Keras fix computes); Adam(0.01,
weight_decay=1e-10).
Validation (own loop, training on ``batch`` in train mode): Keras, 60 steps (~35 s): buggy 2.30 -> 1.461
and flat there (the double-softmax floor, 1.4612), fixed 2.34 -> 0.0005; torch, 40 steps (~11 s): buggy
2.31 -> 1.48 (creeping towards 1.46), fixed 2.42 -> 0.0016. On multiple batches the buggy loss still
falls from 2.30 to ~1.5, so the stall shows as a loss floor, not as a flat loss. Note: called in
inference mode (``model(x)``), the untrained Keras BN layers (moving mean 0, variance 1) pass the raw
0-255 pixels through unnormalised, so the fixed model's loss at initialisation is 4.22 there (ln 10 =
2.30; 2.34 in training mode); the buggy loss reads 2.31 because the second softmax flattens everything.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_mismatch"
SOURCE = ("github:megvii-research/tf-tutorials PR #78 "
          "(01-svhn/train.py, model.py@1ec126f^, fix 1ec126ff)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [
    ("init_loss", {"num_classes": 10}),
    ("output_range", {"kind": "probabilities", "num_classes": 10}),
    ("overfit_one_batch", {}),
    ("loss_decreases", {}),
    ("gradients_flow", {}),
]

minibatch_size = 256
nr_class = 10
weight_decay = 1e-10
lr = 0.01  # first value of the piecewise-constant schedule


def _data():
    from tests.real_programs import _data

    x, y = _data.cifar_like(3 * minibatch_size, seed=0)
    return x.astype(np.float32), y.astype(np.int64)  # dataset.py: img.astype(np.float32), raw pixels


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = _data()
    if framework == "keras":
        import keras
        from keras import layers

        keras.utils.set_random_seed(12345)  # tf.set_random_seed(12345)
        weight_init = keras.initializers.VarianceScaling(1.0, mode="fan_in", distribution="truncated_normal")
        reg = keras.regularizers.L2(weight_decay / 2)  # tf_contrib l2_regularizer: scale * sum(w**2) / 2

        def _conv_layer(inp, filters):
            x = layers.Conv2D(filters, 3, padding="same", kernel_initializer=weight_init,
                              bias_initializer="zeros", kernel_regularizer=reg)(inp)
            x = layers.BatchNormalization(axis=3, momentum=0.99, epsilon=1e-3)(x)
            return layers.ReLU()(x)

        data = keras.Input((32, 32, 3))
        h = _conv_layer(data, 16)
        h = layers.MaxPooling2D(2, 2, padding="same")(h)
        h = _conv_layer(h, 32)
        h = _conv_layer(h, 32)
        h = layers.MaxPooling2D(2, 2, padding="same")(h)
        h = _conv_layer(h, 64)
        h = _conv_layer(h, 64)
        h = layers.MaxPooling2D(2, 2, padding="same")(h)
        h = _conv_layer(h, 128)
        h = _conv_layer(h, 128)
        h = layers.AveragePooling2D(4, 4, padding="same")(h)
        h = layers.Flatten()(h)
        logits = layers.Dense(nr_class, kernel_initializer=weight_init, bias_initializer="zeros",
                              kernel_regularizer=reg)(h)
        preds = layers.Softmax()(logits)  # preds = tf.nn.softmax(logits)
        model = keras.Model(data, preds)
        if fixed:
            loss = keras.losses.SparseCategoricalCrossentropy()  # sparse_categorical_crossentropy(label, preds)
            targets = y
        else:
            def loss(onehot_labels, logits):
                """tf.losses.softmax_cross_entropy(label_onehot, preds): softmax CE on its 2nd argument."""
                return -keras.ops.sum(onehot_labels * keras.ops.log_softmax(logits, axis=-1), axis=-1)

            targets = np.eye(nr_class, dtype=np.float32)[y]
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss=loss)
        batches = [(x[i:i + minibatch_size], targets[i:i + minibatch_size])
                   for i in range(0, len(x), minibatch_size)]
        return {"model": model, "batch": batches[0], "batches": batches}

    import math

    import torch
    from torch import nn
    import torch.nn.functional as F

    torch.manual_seed(12345)

    def _init(m):
        fan_in = m.weight[0].numel()
        std = math.sqrt(1.3 / fan_in)  # variance_scaling_initializer(uniform=False): truncated normal
        nn.init.trunc_normal_(m.weight, std=std, a=-2 * std, b=2 * std)
        nn.init.zeros_(m.bias)
        return m

    def _conv_layer(cin, cout):
        return [_init(nn.Conv2d(cin, cout, 3, padding=1)), nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01),
                nn.ReLU()]

    model = nn.Sequential(
        *_conv_layer(3, 16), nn.MaxPool2d(2, 2),
        *_conv_layer(16, 32), *_conv_layer(32, 32), nn.MaxPool2d(2, 2),
        *_conv_layer(32, 64), *_conv_layer(64, 64), nn.MaxPool2d(2, 2),
        *_conv_layer(64, 128), *_conv_layer(128, 128), nn.AvgPool2d(4, 4),
        nn.Flatten(), _init(nn.Linear(128, nr_class)),
        nn.Softmax(dim=1),  # preds
    )
    if fixed:
        def loss_fn(preds, target):
            return F.nll_loss(torch.log(preds.clamp_min(1e-7)), target)
    else:
        loss_fn = nn.CrossEntropyLoss()  # expects logits: softmax applied a second time
    xt = torch.tensor(x).permute(0, 3, 1, 2).contiguous()
    yt = torch.tensor(y)
    batches = [(xt[i:i + minibatch_size], yt[i:i + minibatch_size]) for i in range(0, len(xt), minibatch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr, weight_decay=weight_decay)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
