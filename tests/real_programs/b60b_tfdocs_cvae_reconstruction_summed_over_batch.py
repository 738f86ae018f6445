"""TensorFlow docs tutorial "Convolutional Variational Autoencoder" (``site/en/r2/tutorials/generative/cvae.ipynb``,
tensorflow/docs, TF 2.0 alpha, early 2019): a VAE on binarised MNIST. The images are reshaped to (28, 28, 1),
divided by 255 and binarised at 0.5, batched by ``BATCH_SIZE = 100``; ``CVAE(latent_dim=50)`` has the inference net
``InputLayer((28, 28, 1)) -> Conv2D(32, 3, strides=2, relu) -> Conv2D(64, 3, strides=2, relu) -> Flatten ->
Dense(latent_dim + latent_dim)`` (no activation: mean and log-variance) and the generative net ``Dense(7*7*32, relu) ->
Reshape((7, 7, 32)) -> Conv2DTranspose(64, 3, strides=2, 'SAME', relu) -> Conv2DTranspose(32, 3, strides=2, 'SAME',
relu) -> Conv2DTranspose(1, 3, strides=1, 'SAME')`` (logits); ``reparameterize``: ``eps * exp(logvar * .5) + mean``;
``compute_loss`` is the single-sample Monte-Carlo ELBO ``-tf.reduce_mean(logpx_z + logpz - logqz_x)`` with
``log_normal_pdf`` summed over the latent axis; ``tf.keras.optimizers.Adam(1e-4)``, 100 epochs, a GradientTape loop.

The fault (reconstruction term reduced over the batch): when the notebook was moved to the TF 2.0 API (cb7842493
"Tf 2.0 update": ``tf.keras.losses.binary_crossentropy(x, x_logit, from_logits=True)`` with
``logpx_z = -tf.reduce_sum(cross_ent, axis=[0, 1, 2])``) and then to class losses (eb9320c3e "Update losses to class
losses"), the reconstruction log-likelihood became

    loss_object = tf.keras.losses.BinaryCrossentropy(from_logits=True, reduction='sum')
    cross_ent = loss_object(x, x_logit)
    logpx_z = -cross_ent

The Keras loss averages over the last axis (the single channel) and ``reduction='sum'`` then sums over the pixels AND
over the 100 images of the batch: ``logpx_z`` is one scalar, the whole batch's log-likelihood, broadcast onto every
sample and then averaged by ``-tf.reduce_mean(logpx_z + logpz - logqz_x)``. Each sample's reconstruction term is
thereby counted BATCH_SIZE = 100 times while its KL term (``logqz_x - logpz``) is counted once: the model is trained
on ``100 * recon + KL`` per sample, a beta-VAE with beta = 1 / 100. The encoder is barely pulled towards the prior:
the posteriors narrow and drift far from N(0, I), the KL per image grows to tens of times the fixed model's,
the true ELBO (what the tutorial prints as "Test set ELBO", itself now inflated ~100x) is worse, and
``model.sample(eps)`` with ``eps ~ N(0, I)`` -- the tutorial's whole point, the generated digits -- decodes codes
the decoder never saw. The loss also starts ~100x too large (about 54,000 instead of ~545 nats per image).

Source: github.com/tensorflow/docs ``site/en/r2/tutorials/generative/cvae.ipynb`` at
b9cdf6834c748dbfe63d9fbd2d0cb2547a85fa31 (= b3f873015^; the ``reduction='sum'`` form from
eb9320c3e26e0a7ec0412432472718609740d7ae, the batch sum first in cb7842493), fixed by
b3f8730156d15a4baeb2aa57771e817a8b24fac0 ("Fixing CVAE and saving outputs", Yash Katariya): back to the per-image
sum ``cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=x_logit, labels=x)`` /
``logpx_z = -tf.reduce_sum(cross_ent, axis=[1, 2, 3])`` (what the pre-TF2 eager example in tensorflow/tensorflow had).
Fault label: other:reconstruction_summed_over_batch (one loss term reduced over the batch, the other per sample: the
KL term is under-weighted by the batch size).

Program lines kept: the binarisation (``/ 255``, ``>= .5`` -> 1), BATCH_SIZE = 100, latent_dim = 50, the inference and
generative nets layer for layer (Keras default glorot-uniform kernels, zero biases), ``reparameterize``,
``log_normal_pdf``, ``compute_loss`` (buggy: ``BinaryCrossentropy(from_logits=True, reduction='sum')``, Keras 3 has
the same class and reduction; fixed: the b3f873015 lines), ``Adam(1e-4)``.
Ported: the model returns ``concat([flatten(x_logit), mean, logvar, z])`` (784 + 50 + 50 + 50 columns), so that a
Keras ``compile`` loss and a torch ``loss_fn(outputs, target)`` see what ``compute_loss`` reads; the reparameterisation
noise is drawn inside the model (a seeded ``keras.random.normal`` / ``torch.randn_like``), as ``compute_loss`` drew it
on every call; the target is the flattened binarised image itself. The Keras loss returns per-image values
``-(logpx_z + logpz - logqz_x)`` and Keras' batch mean is the program's ``reduce_mean``; in the buggy version
``logpx_z`` is the batch-summed scalar broadcast to every image, exactly as in the program. Torch twin (the bug is a
reduction error, not Keras-specific): the same nets (``Conv2d(k=3, s=2)``, ``ConvTranspose2d(k=3, s=2, padding=1,
output_padding=1)`` for TF's 'SAME' doubling, the same glorot init), ``F.binary_cross_entropy_with_logits(...,
reduction='sum')`` over the batch (buggy) or summed per image (fixed), ``Adam(1e-4, eps=1e-7)`` (TF's epsilon).
Shrunk: every convolution width halved (inference 16 / 32 filters, generative Dense(7*7*16) -> 32 -> 16 -> 1; the
program's 32 / 64 and 7*7*32 -> 64 -> 32 -> 1 take ~0.22 s a step of 100 images on one CPU thread, halved ~0.05-0.1 s);
BATCH_SIZE (the factor the KL term is under-weighted by) and latent_dim kept; the program's 100 epochs over 60,000
images become a few hundred steps.
Data stand-in (no MNIST download): the corpus' ``mnist_like`` (scikit-learn's 8x8 digits blown up 3x3 and padded to
28x28, 0..255 uint8), divided by 255 and binarised at 0.5 as in the program: 1,797 images, 1,500 for training (15
batches of 100) and 297 held out; 21.5 % of the pixels are 1 (MNIST binarised: about 13 %).
``batch`` / ``batches``: the first 1 / 4 training batches of 100, each ``(x, target)`` with x (100, 28, 28, 1) in
Keras' channels-last and (100, 1, 28, 28) in torch, target (100, 784); ``inputs``: the 297 held-out images.

Measured (my own plain loops, /tmp/s42/h_b60b_cvae/measure.py and onebatch.py, OMP_NUM_THREADS=1, the module's builds
and data; 800 steps = 53 passes over the 15 training batches of 100, torch ``loss_fn`` + Adam / Keras
``train_on_batch``; "held-out" = the 297 held-out images through the trained model, the true per-image terms
(reconstruction = summed pixel BCE, KL = analytic KL(q(z|x) || N(0, I)), -ELBO = their sum); "prior samples" = 200
``sigmoid(decode(eps))``, eps ~ N(0, I), as ``model.sample``):
  torch: loss at steps 1 / 10 / 50 / 100 / 200 / 800: buggy 55,072 / 54,791 / 53,902 / 51,724 / 27,318 / 17,592
    (~100x the per-image scale), fixed 551.0 / 548.2 / 539.0 / 523.7 / 344.9 / 232.8. Held-out after 800 steps:
    buggy reconstruction 166.9, KL 433.0, -ELBO 599.9 (worse than the untrained 550.8), posterior sd 0.28, mean
    ||mu||^2 782 (N(0, I) in 50 dimensions: 50); fixed reconstruction 211.4, KL 14.7, -ELBO 226.1, sd 0.82,
    ||mu||^2 25. Prior samples: mean pixel buggy 0.425 vs fixed 0.211 (data 0.215), L1 per pixel to the nearest of
    500 training images buggy 0.439 vs fixed 0.270 -- prior draws decode to images twice as bright as the data and
    far from any digit.
  Keras: loss buggy 54,027 / 53,747 / 51,076 / 34,387 / 26,823 / 15,031, fixed 540.7 / 537.9 / 521.4 / 459.2 /
    308.7 / 227.5; held-out buggy reconstruction 140.9, KL 614.7, -ELBO 755.6, sd 0.32, ||mu||^2 1155; fixed 208.1,
    15.9, 224.0, 0.78, 26.0; prior samples mean pixel buggy 0.409 vs fixed 0.179, nearest-image L1 0.425 vs 0.242.
  Step-0 gradient norms of the 7 kernels (encoder -> decoder): torch buggy 29.6 / 34.5 / 91.8 / 183 / 934 / 2,610 /
    3,861, fixed 1.95 / 1.36 / 2.14 / 1.83 / 9.3 / 26.1 / 38.6 (Keras alike: decoder ~100x, encoder 15-50x); Adam
    normalises the scale away, so the harm is the re-weighting, not the step size. One batch of 100 repeated, loss
    at steps 1 / 25 / 50 / 100 / 150: torch buggy 55,060 / 54,414 / 53,906 / 51,549 / 33,030, fixed 550.8 / 544.3 /
    539.0 / 523.8 / 479.6; Keras buggy 54,027 / 53,148 / 51,094 / 34,415 / 28,702, fixed 540.7 / 532.6 / 521.2 /
    460.4 / 346.2 -- both versions' losses fall (the buggy one faster, relatively): the fault does not stop training,
    it trains the wrong objective; what a check can see is the initial loss ~100x the ~545 nats per image of an
    uninformative decoder (784 ln 2 = 543), and after training the KL / posterior mismatch.
  Time per step (batch 100, one thread, loaded 2-core machine): torch 74-101 ms, Keras ``train_on_batch`` 42-112 ms;
    builds: torch 0.01 s, Keras 0.08 s after the first (the first, imports and the data included: torch 2.7 s,
    Keras + TensorFlow 4.7 s).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._data import mnist_like
from tests.real_programs._versions import versions

LABEL = "other:reconstruction_summed_over_batch"
SOURCE = ("github:tensorflow/docs site/en/r2/tutorials/generative/cvae.ipynb@b9cdf6834c748dbfe63d9fbd2d0cb2547a85fa31 "
          "(compute_loss: 'loss_object = tf.keras.losses.BinaryCrossentropy(from_logits=True, reduction='sum')', "
          "'logpx_z = -cross_ent'; from eb9320c3e26e0a7ec0412432472718609740d7ae 'Update losses to class losses', "
          "batch sum first in cb7842493 'Tf 2.0 update'); fix b3f8730156d15a4baeb2aa57771e817a8b24fac0 'Fixing CVAE "
          "and saving outputs': sigmoid_cross_entropy_with_logits + reduce_sum(axis=[1, 2, 3])")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}), ("init_loss", {}),
          ("not_constant_predictions", {})]

# program constants
BATCH_SIZE = 100
latent_dim = 50
LEARNING_RATE = 1e-4
# port: every conv / deconv width halved (program: 32, 64 | 7*7*32, 64, 32); at full width one step of 100 images
# takes ~0.22 s on one CPU thread, halved ~0.05-0.1 s
ENC1, ENC2 = 16, 32
DEC0, DEC1, DEC2 = 16, 32, 16
# stand-in data
N_IMAGES = 1797  # all of scikit-learn's digits
N_TRAIN = 1500
N_BATCHES = 4  # training batches handed to the checks
SEED = 0
PIXELS = 28 * 28
OUT_DIM = PIXELS + 3 * latent_dim  # flatten(x_logit), mean, logvar, z


@functools.lru_cache(maxsize=1)
def _images() -> np.ndarray:
    """The program's preprocessing on the stand-in digits: reshape to (n, 28, 28, 1) float32, / 255, binarise."""
    raw, _ = mnist_like(N_IMAGES)
    train_images = raw.reshape(raw.shape[0], 28, 28, 1).astype("float32")
    # Normalizing the images to the range of [0., 1.]
    train_images /= 255.
    # Binarization
    train_images[train_images >= .5] = 1.
    train_images[train_images < .5] = 0.
    return train_images


def _batches() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """The first training batches (the program shuffles with a buffer of 60,000; a seeded permutation here) as
    (x NHWC, flattened target), and the held-out images."""
    x = _images()
    order = np.random.default_rng(SEED).permutation(N_TRAIN)
    xs = x[:N_TRAIN][order]
    batches = [(xs[i:i + BATCH_SIZE], xs[i:i + BATCH_SIZE].reshape(-1, PIXELS))
               for i in range(0, N_BATCHES * BATCH_SIZE, BATCH_SIZE)]
    return batches, x[N_TRAIN:].copy()


# ------------------------------------------------------------------------------------------------------------ keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    import tensorflow as tf
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    inference_net = keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Conv2D(filters=ENC1, kernel_size=3, strides=(2, 2), activation='relu'),
            layers.Conv2D(filters=ENC2, kernel_size=3, strides=(2, 2), activation='relu'),
            layers.Flatten(),
            # No activation
            layers.Dense(latent_dim + latent_dim),
        ]
    )
    generative_net = keras.Sequential(
        [
            keras.Input(shape=(latent_dim,)),
            layers.Dense(units=7 * 7 * DEC0, activation='relu'),
            layers.Reshape(target_shape=(7, 7, DEC0)),
            layers.Conv2DTranspose(filters=DEC1, kernel_size=3, strides=(2, 2), padding="same", activation='relu'),
            layers.Conv2DTranspose(filters=DEC2, kernel_size=3, strides=(2, 2), padding="same", activation='relu'),
            # No activation
            layers.Conv2DTranspose(filters=1, kernel_size=3, strides=(1, 1), padding="same"),
        ]
    )

    class Reparameterize(layers.Layer):
        """``CVAE.reparameterize``: eps * exp(logvar * .5) + mean, eps ~ N(0, 1) drawn on every call."""

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(SEED)

        def call(self, mean, logvar):
            eps = keras.random.normal(ops.shape(mean), seed=self.seed_generator)
            return eps * ops.exp(logvar * .5) + mean

    x_in = keras.Input(shape=(28, 28, 1))
    h = inference_net(x_in)
    mean, logvar = h[:, :latent_dim], h[:, latent_dim:]  # tf.split(..., num_or_size_splits=2, axis=1)
    z = Reparameterize()(mean, logvar)
    x_logit = generative_net(z)
    out = layers.Concatenate()([layers.Flatten()(x_logit), mean, logvar, z])
    model = keras.Model(x_in, out)

    loss_object = keras.losses.BinaryCrossentropy(from_logits=True, reduction='sum')

    def log_normal_pdf(sample, mean, logvar, raxis=1):
        log2pi = tf.math.log(2. * np.pi)
        return tf.reduce_sum(
            -.5 * ((sample - mean) ** 2. * tf.exp(-logvar) + logvar + log2pi),
            axis=raxis)

    def compute_loss(x_flat, y_pred):
        """``compute_loss`` on the model's outputs; returns the per-image value that Keras averages over the batch
        (= the program's ``-tf.reduce_mean(logpx_z + logpz - logqz_x)``)."""
        x = tf.reshape(tf.cast(x_flat, y_pred.dtype), (-1, 28, 28, 1))
        x_logit = tf.reshape(y_pred[:, :PIXELS], (-1, 28, 28, 1))
        mean = y_pred[:, PIXELS:PIXELS + latent_dim]
        logvar = y_pred[:, PIXELS + latent_dim:PIXELS + 2 * latent_dim]
        z = y_pred[:, PIXELS + 2 * latent_dim:]
        if fixed:  # b3f873015
            cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=x_logit, labels=x)
            logpx_z = -tf.reduce_sum(cross_ent, axis=[1, 2, 3])
        else:  # summed over the pixels AND the batch: one scalar
            cross_ent = loss_object(x, x_logit)
            logpx_z = -cross_ent
        logpz = log_normal_pdf(z, 0., 0.)
        logqz_x = log_normal_pdf(z, mean, logvar)
        return -(logpx_z + logpz - logqz_x)

    model.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss=compute_loss)
    batches, held_out = _batches()
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": held_out}


# ------------------------------------------------------------------------------------------------------------ torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(SEED)

    def glorot(layer: nn.Module) -> nn.Module:  # Keras defaults: glorot_uniform kernel, zero bias
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    class CVAE(nn.Module):
        def __init__(self, latent_dim: int) -> None:
            super().__init__()
            self.latent_dim = latent_dim
            self.inference_net = nn.Sequential(
                glorot(nn.Conv2d(1, ENC1, kernel_size=3, stride=2)), nn.ReLU(),  # 28 -> 13
                glorot(nn.Conv2d(ENC1, ENC2, kernel_size=3, stride=2)), nn.ReLU(),  # 13 -> 6
                nn.Flatten(),
                # No activation
                glorot(nn.Linear(ENC2 * 6 * 6, latent_dim + latent_dim)),
            )
            self.generative_net = nn.Sequential(
                glorot(nn.Linear(latent_dim, 7 * 7 * DEC0)), nn.ReLU(),
                nn.Unflatten(1, (DEC0, 7, 7)),
                # padding="SAME", strides 2: 7 -> 14 -> 28
                glorot(nn.ConvTranspose2d(DEC0, DEC1, 3, stride=2, padding=1, output_padding=1)), nn.ReLU(),
                glorot(nn.ConvTranspose2d(DEC1, DEC2, 3, stride=2, padding=1, output_padding=1)), nn.ReLU(),
                # No activation
                glorot(nn.ConvTranspose2d(DEC2, 1, 3, stride=1, padding=1)),
            )

        def encode(self, x):
            mean, logvar = torch.chunk(self.inference_net(x), 2, dim=1)
            return mean, logvar

        def reparameterize(self, mean, logvar):
            eps = torch.randn_like(mean)
            return eps * torch.exp(logvar * .5) + mean

        def decode(self, z):
            return self.generative_net(z)

        def forward(self, x):
            mean, logvar = self.encode(x)
            z = self.reparameterize(mean, logvar)
            x_logit = self.decode(z)
            return torch.cat([x_logit.flatten(1), mean, logvar, z], dim=1)

    def log_normal_pdf(sample, mean, logvar, raxis=1):
        log2pi = float(np.log(2. * np.pi))
        mean, logvar = torch.as_tensor(mean, dtype=sample.dtype), torch.as_tensor(logvar, dtype=sample.dtype)
        return torch.sum(-.5 * ((sample - mean) ** 2. * torch.exp(-logvar) + logvar + log2pi), dim=raxis)

    def compute_loss(outputs, x_flat):
        x = x_flat.to(outputs.dtype)
        x_logit = outputs[:, :PIXELS]
        mean = outputs[:, PIXELS:PIXELS + latent_dim]
        logvar = outputs[:, PIXELS + latent_dim:PIXELS + 2 * latent_dim]
        z = outputs[:, PIXELS + 2 * latent_dim:]
        if fixed:  # per image: sum over the pixels only
            logpx_z = -F.binary_cross_entropy_with_logits(x_logit, x, reduction="none").sum(dim=1)
        else:  # BinaryCrossentropy(from_logits=True, reduction='sum'): over the pixels and the batch
            logpx_z = -F.binary_cross_entropy_with_logits(x_logit, x, reduction="sum")
        logpz = log_normal_pdf(z, 0., 0.)
        logqz_x = log_normal_pdf(z, mean, logvar)
        return -torch.mean(logpx_z + logpz - logqz_x)

    model = CVAE(latent_dim)
    batches, held_out = _batches()
    t = torch.from_numpy
    tb = [(t(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), t(y)) for x, y in batches]
    return {"model": model, "batch": tb[0], "batches": tb,
            "inputs": t(np.ascontiguousarray(held_out.transpose(0, 3, 1, 2))),
            "loss_fn": compute_loss,
            "optimizer": lambda params: torch.optim.Adam(params, lr=LEARNING_RATE, eps=1e-7)}


buggy, fixed = versions(_torch, _keras)
