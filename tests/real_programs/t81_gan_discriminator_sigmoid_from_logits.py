"""Jeff Heaton's T81-558 "Keras GAN" notebook (``t81_558_class_07_2_Keras_gan.ipynb``, the DCGAN that
generates faces): the discriminator (Conv2D 32/64/128/256/512 with LeakyReLU(0.2), Dropout(0.25),
BatchNormalization(momentum=0.8), ZeroPadding2D, Flatten, ``Dense(1, activation='sigmoid')``) is
trained with ``cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)``: real images
against ones, generated images against zeros, ``Adam(1.5e-4, 0.5)``, ``BATCH_SIZE = 32``. The
sigmoid output goes into a loss that applies a sigmoid again, so the loss sees ``sigmoid(p)`` with
``p`` in (0, 1): ``sigmoid(p)`` stays in (0.5, 0.731), the loss of a real image never goes below
0.31 nor that of a fake one below 0.69, and the gradient is squashed by the second sigmoid.

Source: github.com/jeffheaton/t81_558_deep_learning PR #81 ("Fixed error in loss function",
yashyenugu: "changed ``BinaryCrossentropy(from_logits=True)`` to ``BinaryCrossentropy()`` since the
discriminator already has a sigmoid activation function"; the author: "Thanks! Good catch"), commit
e9901d7, merged as 2619685. Program: ``t81_558_class_07_2_Keras_gan.ipynb`` at 4d406b7 (the merge's
first parent): ``build_discriminator``, ``cross_entropy``, ``discriminator_loss``,
``discriminator_optimizer``, ``BATCH_SIZE``, ``GENERATE_RES``, training data ``/ 127.5 - 1.``.
Ported: only the discriminator's supervised step (a GAN is too large to port whole). The program
calls the discriminator on 32 real and 32 generated images separately and sums the two mean losses;
here one batch holds the 32 real images (label 1) and 32 fakes (label 0), and the loss is the mean
over the 64 (half the program's sum: Adam is insensitive to that factor; BatchNorm sees the mixed
batch). ``GENERATE_RES = 1`` (the notebook's own setting for 32x32 images; it used 3, i.e. 96x96) so
that images are 32x32x3, and every filter count is halved (16/32/64/128/256, ``W = 2``) to fit the CPU
budget (the full widths took ~3x longer a step); layers, activations, dropout, BatchNorm, head, loss and
optimizer are the program's. Keras 3 on the TensorFlow backend detects a ``'sigmoid'`` activation fed to
``from_logits=True`` and computes the loss on the pre-sigmoid logits, which hides the bug (TF 2.3 of
the notebook did not), so the buggy Keras twin writes the sigmoid as ``1 / (1 + exp(-z))``.
Torch twin: the same discriminator (BatchNorm2d(momentum=0.2, eps=1e-3), i.e. Keras' momentum=0.8)
ending in ``nn.Sigmoid()``, ``nn.BCEWithLogitsLoss()``, ``Adam(lr=1.5e-4, betas=(0.5, 0.999))``.
Data stand-in (no face images download): the real half is ``_data.cifar_like`` (32x32 RGB digits over
tinted noisy backgrounds, uint8) scaled like the notebook (``/ 127.5 - 1``); the fake half stands for an
untrained generator's ``tanh`` output: seeded low-amplitude smooth noise (4x4 noise blown up to 32x32
plus pixel noise, through tanh), in [-1, 1]. 4 batches of 64 (32 real + 32 fake, shuffled), targets (64, 1).
Fault label: loss_mismatch|output_activation (sigmoid output into a loss that expects logits).
Fix (e9901d7): ``BinaryCrossentropy()`` (from_logits=False) with the sigmoid output kept; the torch
twin's fix is ``nn.BCELoss()`` on the sigmoid output.
Symptom in a short loop of my own (one thread, Adam): torch, 100 steps: on one batch the buggy loss
(with its extra sigmoid) goes 0.73 -> 0.504 (floor (0.313 + 0.693) / 2 = 0.503) while the fixed BCE goes
0.70 -> 0.004; over the 4 batches buggy 0.506 vs fixed 0.012 (eval mode). Keras, 200 steps: one batch
buggy 0.74 -> 0.503 vs fixed 0.85 -> 0.0004; the 4 batches buggy 0.504 vs fixed 0.002; accuracy 1.0 in
all four runs (the discriminator still separates the two halves, but its outputs stay unconfident and the
gradient of the doubled sigmoid vanishes near the floor). About 75-150 ms (torch) and 95 ms (Keras) a step
on one thread of a heavily loaded 2-core machine (the full widths took ~3x longer).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_mismatch|output_activation"
SOURCE = ("github:jeffheaton/t81_558_deep_learning PR #81 (t81_558_class_07_2_Keras_gan.ipynb@4d406b7, "
          "fix e9901d7)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {}),
          ("output_range", {"kind": "probabilities"})]

GENERATE_RES = 1  # the notebook: 1=32, 2=64, 3=96 (it used 3)
GENERATE_SQUARE = 32 * GENERATE_RES
IMAGE_CHANNELS = 3
BATCH_SIZE = 32
lr, beta_1 = 1.5e-4, 0.5  # discriminator_optimizer = tf.keras.optimizers.Adam(1.5e-4, 0.5)
n_batches = 4
W = 2  # filter counts divided by W (CPU budget)


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs import _data

    n = BATCH_SIZE * n_batches
    real, _ = _data.cifar_like(n, seed=seed)
    real = real.astype(np.float32) / 127.5 - 1.  # training_data / 127.5 - 1.
    rng = np.random.default_rng(seed + 1)
    coarse = rng.normal(0, 0.4, (n, 4, 4, IMAGE_CHANNELS))
    fake = np.tanh(np.kron(coarse, np.ones((1, 8, 8, 1))) + rng.normal(0, 0.1, (n, 32, 32, IMAGE_CHANNELS)))
    xs, ys = [], []
    for i in range(n_batches):
        xb = np.concatenate([real[i * BATCH_SIZE:(i + 1) * BATCH_SIZE], fake[i * BATCH_SIZE:(i + 1) * BATCH_SIZE]])
        yb = np.concatenate([np.ones((BATCH_SIZE, 1)), np.zeros((BATCH_SIZE, 1))])
        order = rng.permutation(2 * BATCH_SIZE)
        xs.append(xb[order])
        ys.append(yb[order])
    return np.concatenate(xs).astype("float32"), np.concatenate(ys).astype("float32")


def _build(framework: str, from_logits: bool) -> dict[str, Any]:
    x, y = _data()
    size = 2 * BATCH_SIZE
    batches = [(x[i:i + size], y[i:i + size]) for i in range(0, len(x), size)]
    image_shape = (GENERATE_SQUARE, GENERATE_SQUARE, IMAGE_CHANNELS)
    if framework == "keras":
        import keras
        from keras.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, LeakyReLU, ZeroPadding2D

        keras.utils.set_random_seed(0)

        def build_discriminator(image_shape):  # program lines
            model = keras.Sequential()
            model.add(keras.Input(image_shape))  # program: input_shape=image_shape on the first Conv2D
            model.add(Conv2D(32 // W, kernel_size=3, strides=2, padding="same"))
            model.add(LeakyReLU(negative_slope=0.2))

            model.add(Dropout(0.25))
            model.add(Conv2D(64 // W, kernel_size=3, strides=2, padding="same"))
            model.add(ZeroPadding2D(padding=((0, 1), (0, 1))))
            model.add(BatchNormalization(momentum=0.8))
            model.add(LeakyReLU(negative_slope=0.2))

            model.add(Dropout(0.25))
            model.add(Conv2D(128 // W, kernel_size=3, strides=2, padding="same"))
            model.add(BatchNormalization(momentum=0.8))
            model.add(LeakyReLU(negative_slope=0.2))

            model.add(Dropout(0.25))
            model.add(Conv2D(256 // W, kernel_size=3, strides=1, padding="same"))
            model.add(BatchNormalization(momentum=0.8))
            model.add(LeakyReLU(negative_slope=0.2))

            model.add(Dropout(0.25))
            model.add(Conv2D(512 // W, kernel_size=3, strides=1, padding="same"))
            model.add(BatchNormalization(momentum=0.8))
            model.add(LeakyReLU(negative_slope=0.2))

            model.add(Dropout(0.25))
            model.add(Flatten())
            # program: Dense(1, activation='sigmoid'); in the buggy version written out so that Keras 3
            # does not recognise the sigmoid and silently use its logits (TF 2.3 did not do that)
            model.add(Dense(1, activation=(lambda z: 1.0 / (1.0 + keras.ops.exp(-z))) if from_logits
                            else "sigmoid"))
            return model

        discriminator = build_discriminator(image_shape)
        cross_entropy = keras.losses.BinaryCrossentropy(from_logits=from_logits)
        discriminator.compile(optimizer=keras.optimizers.Adam(lr, beta_1), loss=cross_entropy,
                              metrics=["accuracy"])
        return {"model": discriminator, "batch": batches[0], "batches": batches}

    import torch
    from torch import nn

    torch.manual_seed(0)

    def bn(c):
        return nn.BatchNorm2d(c, momentum=0.2, eps=1e-3)  # Keras BatchNormalization(momentum=0.8)

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(IMAGE_CHANNELS, 32 // W, 3, stride=2, padding=1), nn.LeakyReLU(0.2),
                nn.Dropout(0.25), nn.Conv2d(32 // W, 64 // W, 3, stride=2, padding=1), nn.ZeroPad2d((0, 1, 0, 1)),
                bn(64 // W), nn.LeakyReLU(0.2),
                nn.Dropout(0.25), nn.Conv2d(64 // W, 128 // W, 3, stride=2, padding=1), bn(128 // W), nn.LeakyReLU(0.2),
                nn.Dropout(0.25), nn.Conv2d(128 // W, 256 // W, 3, stride=1, padding=1), bn(256 // W), nn.LeakyReLU(0.2),
                nn.Dropout(0.25), nn.Conv2d(256 // W, 512 // W, 3, stride=1, padding=1), bn(512 // W), nn.LeakyReLU(0.2),
                nn.Dropout(0.25), nn.Flatten())
            self.head = nn.Linear(512 // W * 5 * 5, 1)
            self.out = nn.Sigmoid()

        def forward(self, images):  # NHWC like the Keras program
            return self.out(self.head(self.features(images.permute(0, 3, 1, 2))))

    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": Discriminator(), "batch": tb[0], "batches": tb,
            "loss_fn": nn.BCEWithLogitsLoss() if from_logits else nn.BCELoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr, betas=(beta_1, 0.999))}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, from_logits=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, from_logits=False)
