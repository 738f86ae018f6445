"""tensorflow/models' spatial-transformer example (``transformer/cluttered_mnist.py``): a two-layer
localisation net (1600-20-6, tanh, identity-initialised bias) predicts an affine transform, a
bilinear spatial transformer resamples the 40x40 cluttered-MNIST image, then two stride-2 3x3 convs
(16, 16, ReLU), a 1024-unit ReLU layer with dropout (keep_prob 0.8) and a 10-way softmax layer.
The loss is written by hand on the softmax output, ``cross_entropy = -tf.reduce_sum(y * tf.log(y_pred))``
(summed over the batch), minimised with ``tf.train.AdamOptimizer()`` (lr 1e-3), batches of ~100.
As soon as one softmax probability underflows to exactly 0 in float32 (a logit gap above ~104, which
the summed loss and Adam reach as the classifier grows confident), ``log(0) = -inf`` and ``0 * -inf``
give a NaN/inf loss and NaN gradients, and training is lost ("training loss shows nan value after a
number of training iterations").

Source: defects4ml bug 001 (github.com/mohmehmo/defects4ml ``bugs/001``, buggy/fixed
``transformer/cluttered_mnist.py``), = github.com/tensorflow/models commit d816971, which replaces
``y_pred = tf.nn.softmax(...)`` + the hand-written cross-entropy with
``y_logits = tf.matmul(h_fc1_drop, W_fc2) + b_fc2`` and
``cross_entropy = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=y_logits, labels=y))``.
Program lines kept: the network above with the program's ``tf_utils`` initialisers (``weight_variable``:
``tf.zeros``; ``bias_variable``: N(0, 0.01); localisation bias = identity transform), the loss, Adam
(lr 1e-3), the batch size (``indices = np.linspace(0, 9999, 100)``: 101 rows per batch; 100 here),
dropout keep_prob 0.8 while training.
Ported minimally: TF1 graph code to a torch ``nn.Module`` (the transformer as ``affine_grid`` +
``grid_sample`` with ``align_corners=True``, as the TF ``transformer`` samples a ``linspace(-1, 1)``
grid) and to a Keras 3 functional model (the bilinear sampler written with ``keras.ops``).
Data stand-in: the program loads ``mnist_sequence1_sample_5distortions5x5.npz`` (40x40 float images in
[0, 1], flattened to 1600, labels 0..9 one-hot); here ``_data.mnist_like`` digits scaled to [0, 1]
and pasted at a seeded random place in a 40x40 canvas with 5x5 clutter patches cut from other digits,
flattened to 1600 float32, one-hot labels.
Symptom speed: the NaN shows only once a probability underflows. In my loop (plain training, 300 steps
cycling four batches of 100) the Keras buggy version's loss turned NaN at step 297 (the fixed one fell
from 2.30 to 0.10); the torch buggy version fell from 230 to ~30 (summed) without a NaN within those
300 steps (the fixed one from 2.30 to 0.16), so in torch the NaN needs a longer run than a short check.
Note: with the program's all-zero weight init, the layers before the last ones get zero gradients at
the first step in both versions (the program's own init, unchanged by the fix).
Fault label: loss_not_finite. Fix (d816971): logits out of the model and the built-in softmax cross
entropy with logits (mean over the batch).
Keras twin: Dense(10, softmax) compiled with the same hand-written loss (summed over the batch:
``reduction="sum"``); fixed: Dense(10) with ``CategoricalCrossentropy(from_logits=True)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_not_finite"
SOURCE = "github:mohmehmo/defects4ml bugs/001 (tensorflow/models transformer/cluttered_mnist.py, fix d816971)"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {})]

batch_size = 100
n_fc = 1024
keep_prob = 0.8
lr = 1e-3  # tf.train.AdamOptimizer() default


def _cluttered(n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Cluttered-MNIST stand-in: 40x40 in [0, 1], one digit placed at random, 5x5 clutter, flattened."""
    from tests.real_programs import _data

    imgs, y = _data.mnist_like(n)
    imgs = imgs.astype("float32") / 255.0
    rng = np.random.default_rng(0)
    x = np.zeros((n, 40, 40), "float32")
    for i in range(n):
        for _ in range(4):  # clutter: 5x5 pieces of other digits
            j = rng.integers(n)
            r, c = rng.integers(4, 19, 2)
            pr, pc = rng.integers(0, 36, 2)
            x[i, pr:pr + 5, pc:pc + 5] = np.maximum(x[i, pr:pr + 5, pc:pc + 5], imgs[j, r:r + 5, c:c + 5])
        r, c = rng.integers(0, 13, 2)
        x[i, r:r + 28, c:c + 28] = np.maximum(x[i, r:r + 28, c:c + 28], imgs[i])
    x = np.clip(x, 0.0, 1.0).reshape(n, 1600)
    return x, _data.one_hot(y, 10)


def _build(framework: str, logits: bool) -> dict[str, Any]:
    from tests.real_programs import _data

    x, y = _cluttered(400)
    batches = _data.batches(x, y, batch_size)
    initial = np.array([[1., 0, 0], [0, 1., 0]]).astype("float32").flatten()  # identity transform

    if framework == "keras":
        import keras
        from keras import layers, ops

        keras.utils.set_random_seed(0)
        zeros = keras.initializers.Zeros()  # weight_variable: tf.zeros(shape)
        bias = keras.initializers.RandomNormal(0.0, 0.01)  # bias_variable: N(0, 0.01)

        class Transformer(layers.Layer):
            """``transformer(U, theta, out_size)``: affine grid over linspace(-1, 1), bilinear sampling."""

            def call(self, inputs):
                u, theta = inputs
                b = ops.shape(u)[0]
                h = w = 40
                theta = ops.reshape(theta, (-1, 2, 3))
                xs, ys = np.meshgrid(np.linspace(-1, 1, w), np.linspace(-1, 1, h))
                grid = np.stack([xs.ravel(), ys.ravel(), np.ones(h * w)]).astype("float32")  # (3, HW)
                t_g = ops.matmul(theta, ops.convert_to_tensor(grid))  # (B, 2, HW)
                x_s = (t_g[:, 0] + 1.0) * w / 2.0
                y_s = (t_g[:, 1] + 1.0) * h / 2.0
                x0 = ops.floor(x_s)
                y0 = ops.floor(y_s)
                x1, y1 = x0 + 1, y0 + 1
                wa = (x1 - x_s) * (y1 - y_s)
                wb = (x1 - x_s) * (y_s - y0)
                wc = (x_s - x0) * (y1 - y_s)
                wd = (x_s - x0) * (y_s - y0)
                flat = ops.reshape(u, (-1,))
                base = ops.reshape(ops.arange(b, dtype="int32") * (h * w), (-1, 1))

                def gather(xx, yy):
                    xx = ops.cast(ops.clip(xx, 0, w - 1), "int32")
                    yy = ops.cast(ops.clip(yy, 0, h - 1), "int32")
                    return ops.take(flat, base + yy * w + xx)

                out = wa * gather(x0, y0) + wb * gather(x0, y1) + wc * gather(x1, y0) + wd * gather(x1, y1)
                return ops.reshape(out, (-1, h, w, 1))

        inp = keras.Input((1600,))
        x_tensor = layers.Reshape((40, 40, 1))(inp)
        h = layers.Dense(20, activation="tanh", kernel_initializer=zeros, bias_initializer=bias)(inp)
        h = layers.Dropout(1 - keep_prob)(h)
        theta = layers.Dense(6, activation="tanh", kernel_initializer=zeros,
                             bias_initializer=keras.initializers.Constant(initial))(h)
        h = Transformer()([x_tensor, theta])
        h = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu",
                          kernel_initializer=zeros, bias_initializer=bias)(h)
        h = layers.Conv2D(16, 3, strides=2, padding="same", activation="relu",
                          kernel_initializer=zeros, bias_initializer=bias)(h)
        h = layers.Flatten()(h)
        h = layers.Dense(n_fc, activation="relu", kernel_initializer=zeros, bias_initializer=bias)(h)
        h = layers.Dropout(1 - keep_prob)(h)
        out = layers.Dense(10, activation=None if logits else "softmax",
                           kernel_initializer=zeros, bias_initializer=bias)(h)
        model = keras.Model(inp, out)
        if logits:
            loss = keras.losses.CategoricalCrossentropy(from_logits=True)
        else:
            class CrossEntropy(keras.losses.Loss):
                def call(self, y_true, y_pred):  # -tf.reduce_sum(y * tf.log(y_pred)), summed over the batch
                    return -ops.sum(y_true * ops.log(y_pred), axis=-1)

            loss = CrossEntropy(reduction="sum")
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss=loss)
        return {"model": model, "batch": batches[0], "batches": batches}

    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(0)

    class ClutteredMnistSTN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc_loc1 = nn.Linear(1600, 20)
            self.fc_loc2 = nn.Linear(20, 6)
            self.conv1 = nn.Conv2d(1, 16, 3, stride=2, padding=1)
            self.conv2 = nn.Conv2d(16, 16, 3, stride=2, padding=1)
            self.fc1 = nn.Linear(10 * 10 * 16, n_fc)
            self.fc2 = nn.Linear(n_fc, 10)
            self.drop = nn.Dropout(1 - keep_prob)
            for m in self.modules():
                if isinstance(m, (nn.Linear, nn.Conv2d)):
                    nn.init.zeros_(m.weight)  # weight_variable: tf.zeros
                    nn.init.normal_(m.bias, 0.0, 0.01)  # bias_variable: N(0, 0.01)
            with torch.no_grad():
                self.fc_loc2.bias.copy_(torch.tensor(initial))  # identity transformation

        def forward(self, x):
            x_tensor = x.view(-1, 1, 40, 40)
            h = self.drop(torch.tanh(self.fc_loc1(x)))
            theta = torch.tanh(self.fc_loc2(h)).view(-1, 2, 3)
            grid = F.affine_grid(theta, list(x_tensor.shape), align_corners=True)
            h_trans = F.grid_sample(x_tensor, grid, align_corners=True)
            h = F.relu(self.conv1(h_trans))
            h = F.relu(self.conv2(h))
            h = self.drop(F.relu(self.fc1(h.flatten(1))))
            out = self.fc2(h)
            return out if logits else torch.softmax(out, dim=1)  # y_pred = tf.nn.softmax(...)

    if logits:
        def loss_fn(out, target):  # tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(...))
            return F.cross_entropy(out, target)
    else:
        def loss_fn(y_pred, target):  # -tf.reduce_sum(y * tf.log(y_pred))
            return -torch.sum(target * torch.log(y_pred))

    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": ClutteredMnistSTN(), "batch": tb[0], "batches": tb, "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, logits=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, logits=True)
