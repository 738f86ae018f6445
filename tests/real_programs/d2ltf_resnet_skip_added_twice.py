"""Dive into Deep Learning (d2l-ai/d2l-en), section "Residual Networks (ResNet)"
(``chapter_convolutional-modern/resnet.md``), TensorFlow tab, June 2020: ResNet-18 on Fashion-MNIST. The
TensorFlow ``Residual`` block adds the shortcut twice: ``Y += X`` and then ``return relu(Y + X)``, so every
block outputs ``relu(F(X) + 2 X)``. The batch-normalised branch ``F`` stays O(1), but the shortcut doubles
the scale of the signal at each of the eight residual blocks (the 1x1 shortcut convolutions have no batch
norm and carry the growth on), so the features reaching the ``Dense(10, softmax)`` head are hundreds of
times larger than in the correct network: the initial softmax is saturated, the initial loss is far above
ln 10, and the first SGD(0.05) updates blow the weights up: the loss grows by orders of magnitude a step and
turns NaN.

Source: github.com/d2l-ai/d2l-en commit c47dd926bdd516e3c95e24904fe6147d609137e4 "[TF] Fix accuracy in
ResNet implementation" (Yuan Tang, 2020-06-18), which changes ``return tf.keras.activations.relu(Y + X)``
to ``return tf.keras.activations.relu(Y)`` in ``class Residual(tf.keras.Model)``.
Program: ``chapter_convolutional-modern/resnet.md`` at c47dd926^ (TensorFlow tab: ``Residual``,
``ResnetBlock``, ``net()`` = Conv2D(64, 7, strides=2, same) + BatchNormalization + relu + MaxPool2D(3, 2,
same), ``ResnetBlock(64, 2, first_block=True)``, ``ResnetBlock(128, 2)``, ``(256, 2)``, ``(512, 2)``,
``GlobalAvgPool2D``, ``Dense(10, softmax)``; ``lr, num_epochs, batch_size = 0.05, 10, 256``) and
``d2l/tensorflow.py`` ``train_ch6`` at the same commit (``SGD(learning_rate=lr)``,
``SparseCategoricalCrossentropy()``, ``net.fit``).
Ported minimally to Keras 3: ``tf.keras.`` written ``keras.``, an ``Input((28, 28, 1))`` first,
``ResnetBlock.call`` iterates over its list of residual layers (Keras 3 lists have no ``.layers``).
Made smaller so that a training step takes ~20-50 ms on one CPU thread: the channel widths are divided by 4
(16, 32, 64, 128 instead of 64 .. 512; the same 18 layers, the same blocks and strides) and the images stay
28x28 (no ``resize=96``), batch 32 instead of 256 (ResNet-18 at full width takes ~165 ms per torch step of
32 images, Keras is slower). The doubling per block does not depend on the width.
Torch twin: the PyTorch tab of the same section (``Residual(input_channels, num_channels, ...)``,
``nn.AdaptiveMaxPool2d((1,1))``, ``Flatten``, ``Linear(512, 10)``; ``train_ch6``: xavier_uniform_ on every
Conv2d/Linear weight, ``SGD(lr=0.05)``, ``nn.CrossEntropyLoss()``), same width scaling; its correct
``Y += X; return F.relu(Y)`` is written as the TensorFlow tab's ``Y += X; return F.relu(Y + X)``.
Data stand-in (Fashion-MNIST is a download): ``_data.mnist_like`` (scikit-learn's digits, 28x28 grey
images) divided by 255 like ``load_data_fashion_mnist``; 8 batches of 32, labels 0..9 (int).
Fault label: exploding_gradients|loss_not_finite|init_loss_off (the shortcut added twice in every block).
Fix (c47dd926): ``return relu(Y)`` after ``Y += X``.
Symptom in a short loop (plain ``train_on_batch`` / torch loop, one thread, ~45-60 ms a step): Keras:
initial loss (``evaluate``) buggy 6.1 vs fixed 2.3 (ln 10 = 2.30); on one batch of 32 the buggy training
loss goes 52 -> 2.2e4 -> 1.6e9 in the first three SGD steps and is NaN before step 100, the fixed one goes
4.0 -> 0.0012 in 100 steps; over the 8 batches the buggy loss is NaN in every one of 5 epochs, the fixed one
falls 2.0, 0.28, 0.07, 0.015, 0.007. Torch: initial loss (train mode) buggy 72 vs fixed 3.6; one batch: buggy
72 -> 4.5e3 -> 1.1e7, then NaN; fixed 3.6 -> 0.0012 in 100 steps; 8 batches x 5 epochs: buggy NaN from the
first epoch, fixed 1.9, 0.36, 0.075, 0.008, 0.005.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "exploding_gradients|loss_not_finite|init_loss_off"
SOURCE = ("github:d2l-ai/d2l-en commit c47dd926 '[TF] Fix accuracy in ResNet implementation' "
          "(chapter_convolutional-modern/resnet.md@c47dd926^, d2l/tensorflow.py train_ch6)")
FRAMEWORKS = ("keras", "torch")
CHECKS = {
    "keras": [("init_loss", {"num_classes": 10}), ("overfit_one_batch", {}), ("loss_decreases", {}),
              ("gradients_flow", {}), ("output_range", {"kind": "probabilities", "num_classes": 10})],
    "torch": [("init_loss", {"num_classes": 10}), ("overfit_one_batch", {}), ("loss_decreases", {}),
              ("gradients_flow", {}), ("output_range", {"kind": "logits", "num_classes": 10})],
}

lr = 0.05  # lr, num_epochs, batch_size = 0.05, 10, 256
batch_size = 32  # 256 in the program (made smaller for CPU)
width = 16  # 64 in the program: widths 64, 128, 256, 512 -> 16, 32, 64, 128
n_batches = 8
seed = 0


def _data() -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs._data import mnist_like

    x, y = mnist_like(batch_size * n_batches)
    return (x.astype("float32") / 255)[..., None], y  # load_data_fashion_mnist: expand_dims(X, 3) / 255


def _build(framework: str, bug: bool) -> dict[str, Any]:
    x, y = _data()
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(seed)

        class Residual(keras.Model):  # program lines
            def __init__(self, num_channels, use_1x1conv=False, strides=1):
                super().__init__()
                self.conv1 = keras.layers.Conv2D(
                    num_channels, padding='same', kernel_size=3, strides=strides)
                self.conv2 = keras.layers.Conv2D(
                    num_channels, kernel_size=3, padding='same')
                self.conv3 = None
                if use_1x1conv:
                    self.conv3 = keras.layers.Conv2D(
                        num_channels, kernel_size=1, strides=strides)
                self.bn1 = keras.layers.BatchNormalization()
                self.bn2 = keras.layers.BatchNormalization()

            def call(self, X):
                Y = keras.activations.relu(self.bn1(self.conv1(X)))
                Y = self.bn2(self.conv2(Y))
                if self.conv3 is not None:
                    X = self.conv3(X)
                Y += X
                if bug:
                    return keras.activations.relu(Y + X)
                return keras.activations.relu(Y)  # the fix (c47dd926)

        class ResnetBlock(keras.layers.Layer):  # program lines
            def __init__(self, num_channels, num_residuals, first_block=False, **kwargs):
                super(ResnetBlock, self).__init__(**kwargs)
                self.residual_layers = []
                for i in range(num_residuals):
                    if i == 0 and not first_block:
                        self.residual_layers.append(Residual(num_channels, use_1x1conv=True, strides=2))
                    else:
                        self.residual_layers.append(Residual(num_channels))

            def call(self, X):
                for layer in self.residual_layers:  # `.residual_layers.layers` in TF 2.2
                    X = layer(X)
                return X

        def net():  # program lines (widths / 4)
            return keras.Sequential([
                keras.Input((28, 28, 1)),
                keras.layers.Conv2D(width, kernel_size=7, strides=2, padding='same'),
                keras.layers.BatchNormalization(),
                keras.layers.Activation('relu'),
                keras.layers.MaxPool2D(pool_size=3, strides=2, padding='same'),
                ResnetBlock(width, 2, first_block=True),
                ResnetBlock(2 * width, 2),
                ResnetBlock(4 * width, 2),
                ResnetBlock(8 * width, 2),
                keras.layers.GlobalAvgPool2D(),
                keras.layers.Dense(units=10, activation=keras.activations.softmax)])

        model = net()  # train_ch6 (mirrored=False)
        optimizer = keras.optimizers.SGD(learning_rate=lr)
        loss = keras.losses.SparseCategoricalCrossentropy()
        model.compile(optimizer=optimizer, loss=loss, metrics=['accuracy'])
        batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": x}

    import torch
    from torch import nn
    from torch.nn import functional as F

    torch.manual_seed(seed)

    class Residual(nn.Module):  # program lines (PyTorch tab)
        def __init__(self, input_channels, num_channels,
                     use_1x1conv=False, strides=1):
            super().__init__()
            self.conv1 = nn.Conv2d(input_channels, num_channels,
                                   kernel_size=3, padding=1, stride=strides)
            self.conv2 = nn.Conv2d(num_channels, num_channels,
                                   kernel_size=3, padding=1)
            if use_1x1conv:
                self.conv3 = nn.Conv2d(input_channels, num_channels,
                                       kernel_size=1, stride=strides)
            else:
                self.conv3 = None
            self.bn1 = nn.BatchNorm2d(num_channels)
            self.bn2 = nn.BatchNorm2d(num_channels)

        def forward(self, X):
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3:
                X = self.conv3(X)
            Y += X
            if bug:
                return F.relu(Y + X)  # the TensorFlow tab's line
            return F.relu(Y)

    def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
        blk = []
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2))
            else:
                blk.append(Residual(num_channels, num_channels))
        return blk

    b1 = nn.Sequential(nn.Conv2d(1, width, kernel_size=7, stride=2, padding=3),
                       nn.BatchNorm2d(width), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(*resnet_block(width, width, 2, first_block=True))
    b3 = nn.Sequential(*resnet_block(width, 2 * width, 2))
    b4 = nn.Sequential(*resnet_block(2 * width, 4 * width, 2))
    b5 = nn.Sequential(*resnet_block(4 * width, 8 * width, 2))
    net = nn.Sequential(b1, b2, b3, b4, b5,
                        nn.AdaptiveMaxPool2d((1, 1)),
                        nn.Flatten(), nn.Linear(8 * width, 10))

    def init_weights(m):  # train_ch6
        if type(m) == nn.Linear or type(m) == nn.Conv2d:
            torch.nn.init.xavier_uniform_(m.weight)

    net.apply(init_weights)
    xt = torch.tensor(x).permute(0, 3, 1, 2).contiguous()
    yt = torch.tensor(y)
    batches = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, len(xt), batch_size)]
    return {"model": net, "batch": batches[0], "batches": batches, "inputs": xt,
            "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.SGD(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, bug=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, bug=False)
