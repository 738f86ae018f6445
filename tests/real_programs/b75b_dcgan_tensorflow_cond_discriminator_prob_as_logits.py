"""carpedm20/DCGAN-tensorflow, the conditional MNIST DCGAN (``main.py --dataset mnist``: ``y_dim=10``,
``output_size=28``, ``c_dim=1``), whose graph unpacks the discriminator's two outputs in the wrong order, so the
probability is fed to the losses as if it were the logits.

The program (``model.py`` at 090c609^ = cf5a7f6): ``discriminator(image, y)`` ends ``h3 = linear(h2, 1,
'd_h3_lin'); return tf.nn.sigmoid(h3), h3`` (probability first, logits second), and ``build_model`` reads, in the
``y_dim`` branch::

    self.D_logits, self.D = self.discriminator(self.images, self.y, reuse=False)
    self.D_logits_, self.D_ = self.discriminator(self.G, self.y, reuse=True)
    ...
    self.d_loss_real = reduce_mean(sigmoid_cross_entropy_with_logits(self.D_logits, ones_like(self.D)))
    self.d_loss_fake = reduce_mean(sigmoid_cross_entropy_with_logits(self.D_logits_, zeros_like(self.D_)))
    self.g_loss = reduce_mean(sigmoid_cross_entropy_with_logits(self.D_logits_, ones_like(self.D_)))
    self.d_loss = self.d_loss_real + self.d_loss_fake

so ``D_logits`` is ``sigmoid(h3)``, in (0, 1), and the losses apply a second sigmoid to it. The discriminator's
"probability" of real is then sigmoid(sigmoid(h3)) in (0.5, 0.73): it can never call a sample fake (the fake
loss is at least log 2 = 0.693 whatever the network does), the real loss cannot drop under 0.313, the gradients
pass through two saturating sigmoids, and the generator is trained against a discriminator that can never be
confident a sample is fake. (The unconditional celebA branch had the order right.)

Source: github.com/carpedm20/DCGAN-tensorflow PR #49 "changed order of prob and logit at line 84 and 87 to fixed
the typo" (commit 090c609e42b17f572a62354abae9f1b66e763e45, merged as 7fad14270474de4bfa5283edf7e0c8e6564b6109,
"Fix #42"): ``self.D, self.D_logits = self.discriminator(self.images, self.y, reuse=False)`` and ``self.D_,
self.D_logits_ = self.discriminator(self.G, self.y, reuse=True)``. Buggy file: ``model.py`` @cf5a7f6 (090c609^).

Program lines kept: the y-branch discriminator -- ``x = conv_cond_concat(image, yb)``; ``h0 = lrelu(conv2d(x,
c_dim + y_dim))`` (5x5, stride 2, SAME), ``h0 = conv_cond_concat(h0, yb)``; ``h1 = lrelu(d_bn1(conv2d(h0, df_dim
+ y_dim)))``, flattened and concatenated with y; ``h2 = lrelu(d_bn2(linear(h1, dfc_dim)))``, concatenated with y;
``h3 = linear(h2, 1)``; ``return sigmoid(h3), h3`` -- with ``ops.py``'s initialisers (conv / linear weights
N(0, 0.02) (conv truncated), zero biases, batch-norm gamma N(1, 0.02), beta 0, eps 1e-5, batch statistics in
training), lrelu leak 0.2, defaults ``df_dim=64, dfc_dim=1024``; ``sigmoid_cross_entropy_with_logits`` with
targets 1 for real and 0 for generated images; ``AdamOptimizer(learning_rate=0.0002, beta1=0.5)`` (main.py
defaults) over the discriminator's variables; batch 64; MNIST images /255 in [0, 1] with one-hot labels. The
generator (y branch, sigmoid output, gf_dim=64, gfc_dim=1024, z ~ U(-1, 1) of 100) only makes the fake half of
the batch here; it is built with ``h1 = linear(h0, ...)`` -- the later fix 31e962f of a separate fault in the
same function (corpus module ``dcgan_mnist_generator_skips_h0``) -- in both versions, so that they differ only
in this fault.
Ported: the discriminator step is the model under test. Its input is the program's own ``x =
conv_cond_concat(image, yb)`` (the image with the one-hot label broadcast as 10 extra channels: torch (n, 11,
28, 28), Keras (n, 28, 28, 11)); the model reads y back from those channels for its later concatenations. Its
output is what the loss receives as "logits": ``sigmoid(h3)`` in the buggy version (what ``self.D_logits``
held), ``h3`` in the fixed one; ``loss_fn`` is BCE-with-logits (torch ``nn.BCEWithLogitsLoss``, Keras the
program's ``reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits)``, see the Keras note below).
One batch holds the 64 real images (target 1) and 64 images of a
fresh seeded generator drawn for the same labels (target 0); the mean over the 128 is half the program's
``d_loss_real + d_loss_fake`` (Adam is insensitive to the factor). The alternating generator steps (``g_optim``
twice per batch) are in the measurement loop below, not in the module. Both twins are the same network and
loss (the fault is framework-independent); torch BatchNorm momentum 0.1 = TF decay 0.9.
Data stand-in: no MNIST download; ``_data.mnist_like`` (scikit-learn's 8x8 digits blown up to 28x28, 0..255),
/255 like ``load_mnist``, one-hot labels, 256 images = 4 batches of 64.
Fault label: loss_mismatch|output_activation (the loss takes logits but is given the sigmoid probability).
Fix: unpack ``self.D, self.D_logits = self.discriminator(...)`` (and the same for ``D_, D_logits_``).

Measured (my own plain loops, /tmp/s48/h75_b/measure.py, OMP_NUM_THREADS=1, the module's builds):
  discriminator step alone (the module's 4 batches, 60 Adam steps):
    torch: buggy loss 0.727 -> 0.512 / 0.505 / 0.504 after 10 / 20 / 60 steps, stuck at the floor
      (0.313 + 0.693) / 2 = 0.503 that the double sigmoid imposes; fixed 0.703 -> 0.055 / 0.007 / 0.001.
    Keras (``train_on_batch``, 40 steps): buggy 0.725 -> 0.588 / 0.510 / 0.504 after 5 / 10 / 40 steps (floor);
      fixed 0.718 -> 0.452 / 0.071 / 0.002.
    Buggy outputs lie in (0.32, 0.65) (torch) / (0.49, 0.52) (Keras) at init, i.e. probabilities, not logits.
  full program loop (torch; per iteration one D step on 64 real + 64 fake, then two G steps, Adam(2e-4, 0.5),
    batches of 64 over the 1797 digit stand-ins, 300 iterations, same seeds):
    buggy: d_loss (real + fake) 1.459 -> 1.382 / 1.384 / 1.384 at iterations 50 / 100 / 299, with d_loss_fake
      never under 0.715 and the loss's "probability" sigmoid(D_logits) ~0.52 for real and fake alike;
      fixed: 1.422 -> 1.369 / 1.380 / 1.384, sigmoid(D) ~0.50 on both (a balanced game).
    Generated samples (64 per class, scored by a logistic regression fit on the real stand-ins, 0.998 accurate
      on them): buggy class-conditional accuracy 0.917, fixed 0.977; mean pixel 0.228 / 0.222 (real 0.224).
  So on this easy stand-in (upscaled 8x8 digits) the fault is stark in the discriminator's own training (its
    loss cannot fall below the floor, it can never output "fake") but the adversarial game still reaches
    a similar balance and the buggy generator learns class-conditional digits only somewhat worse (0.92 vs
    0.98); the issue's poor MNIST samples are not reproduced in full.
  Keras note: with ``keras.losses.BinaryCrossentropy(from_logits=True)`` after the sigmoid, Keras 3 (TensorFlow
    backend) warns and silently takes the sigmoid's input as the logits, so the buggy and fixed init losses were
    identical (0.6933); the twin therefore uses ``tf.nn.sigmoid_cross_entropy_with_logits`` as the program did.
  Time per step (one thread, loaded machine): torch D step ~115 ms, full iteration (D + 2 G) ~0.65-0.9 s;
    Keras D step ~150 ms (the program's widths kept; the 3636 x 1024 dense and 128-image batches dominate).
  Builds: torch ~3 s first (imports), Keras ~6-8 s first.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._data import mnist_like
from tests.real_programs._versions import versions

LABEL = "loss_mismatch|output_activation"
SOURCE = ("github:carpedm20/DCGAN-tensorflow PR #49 (model.py@cf5a7f6 = 090c609^, build_model y_dim branch "
          "'self.D_logits, self.D = self.discriminator(...)'; fix 090c609, merged 7fad142, Fix #42)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("output_range", {"kind": "logits"}), ("init_loss", {}), ("loss_decreases", {}),
          ("overfit_one_batch", {}), ("gradients_flow", {})]

batch_size = 64
z_dim, y_dim = 100, 10
gf_dim = df_dim = 64
gfc_dim = dfc_dim = 1024
s, c_dim = 28, 1
s2, s4 = 14, 7
learning_rate, beta1 = 0.0002, 0.5
N_BATCHES = 4
SEED = 0


@functools.lru_cache(maxsize=1)
def _real() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """N_BATCHES * 64 real images (n, 28, 28) /255, one-hot labels (n, 10), and z ~ U(-1, 1) (n, 100)."""
    imgs, labels = mnist_like(N_BATCHES * batch_size)
    rng = np.random.default_rng(SEED)
    z = rng.uniform(-1, 1, (len(imgs), z_dim)).astype("float32")
    return (imgs / 255.0).astype("float32"), np.eye(y_dim, dtype="float32")[labels], z


def _batches(fake: np.ndarray, channels_last: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per batch: x = conv_cond_concat(image, yb) for 64 real then 64 fake images, targets 1 then 0."""
    imgs, y, _ = _real()
    out = []
    for b in range(N_BATCHES):
        sl = slice(b * batch_size, (b + 1) * batch_size)
        im = np.concatenate([imgs[sl], fake[sl]])[..., None]  # (128, 28, 28, 1)
        yy = np.concatenate([y[sl], y[sl]])
        x = np.concatenate([im, np.broadcast_to(yy[:, None, None, :], (len(im), s, s, y_dim))], -1)
        if not channels_last:
            x = x.transpose(0, 3, 1, 2)
        t = np.concatenate([np.ones((batch_size, 1)), np.zeros((batch_size, 1))]).astype("float32")
        out.append((np.ascontiguousarray(x, dtype="float32"), t))
    return out


def _torch(fixed: bool) -> dict[str, Any]:
    return _torch_parts(fixed)[0]


def _torch_parts(fixed: bool) -> tuple[dict[str, Any], Any]:
    """The module's dict and the fresh generator that drew its fake images (for the full GAN loop)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(SEED)

    def conv_cond_concat(x, yb):
        return torch.cat([x, yb * torch.ones(x.shape[0], yb.shape[1], x.shape[2], x.shape[3])], 1)

    def init(m):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            if isinstance(m, nn.Conv2d):
                nn.init.trunc_normal_(m.weight, std=0.02, a=-0.04, b=0.04)
            else:
                nn.init.normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    class Discriminator(nn.Module):
        """discriminator(image, y), y branch; input x = conv_cond_concat(image, yb) (n, 11, 28, 28)."""

        def __init__(self):
            super().__init__()
            self.d_h0_conv = nn.Conv2d(c_dim + y_dim, c_dim + y_dim, 5, 2, 2)
            self.d_h1_conv = nn.Conv2d(c_dim + 2 * y_dim, df_dim + y_dim, 5, 2, 2)
            self.d_bn1 = nn.BatchNorm2d(df_dim + y_dim, eps=1e-5, momentum=0.1)
            self.d_h2_lin = nn.Linear((df_dim + y_dim) * s4 * s4 + y_dim, dfc_dim)
            self.d_bn2 = nn.BatchNorm1d(dfc_dim, eps=1e-5, momentum=0.1)
            self.d_h3_lin = nn.Linear(dfc_dim + y_dim, 1)

        def forward(self, x):
            y = x[:, c_dim:, 0, 0]
            yb = y.view(-1, y_dim, 1, 1)
            h0 = conv_cond_concat(F.leaky_relu(self.d_h0_conv(x), 0.2), yb)
            h1 = F.leaky_relu(self.d_bn1(self.d_h1_conv(h0)), 0.2)
            h1 = torch.cat([h1.flatten(1), y], 1)
            h2 = torch.cat([F.leaky_relu(self.d_bn2(self.d_h2_lin(h1)), 0.2), y], 1)
            h3 = self.d_h3_lin(h2)
            d, d_logits = torch.sigmoid(h3), h3
            return d_logits if fixed else d  # buggy: self.D_logits, self.D = discriminator(...)

    class Generator(nn.Module):
        """generator(z, y), y branch (h1 reads h0: fix 31e962f of a separate fault), sigmoid output."""

        def __init__(self):
            super().__init__()
            self.g_h0_lin = nn.Linear(z_dim + y_dim, gfc_dim)
            self.g_bn0 = nn.BatchNorm1d(gfc_dim, eps=1e-5, momentum=0.1)
            self.g_h1_lin = nn.Linear(gfc_dim + y_dim, gf_dim * 2 * s4 * s4)
            self.g_bn1 = nn.BatchNorm1d(gf_dim * 2 * s4 * s4, eps=1e-5, momentum=0.1)
            self.g_h2 = nn.ConvTranspose2d(gf_dim * 2 + y_dim, gf_dim * 2, 5, 2, 2, output_padding=1)
            self.g_bn2 = nn.BatchNorm2d(gf_dim * 2, eps=1e-5, momentum=0.1)
            self.g_h3 = nn.ConvTranspose2d(gf_dim * 2 + y_dim, c_dim, 5, 2, 2, output_padding=1)

        def forward(self, z, y):
            yb = y.view(-1, y_dim, 1, 1)
            z = torch.cat([z, y], 1)
            h0 = torch.cat([F.relu(self.g_bn0(self.g_h0_lin(z))), y], 1)
            h1 = F.relu(self.g_bn1(self.g_h1_lin(h0)))
            h1 = conv_cond_concat(h1.view(-1, gf_dim * 2, s4, s4), yb)
            h2 = conv_cond_concat(F.relu(self.g_bn2(self.g_h2(h1))), yb)
            return torch.sigmoid(self.g_h3(h2))

    gen, model = Generator(), Discriminator()
    gen.apply(init)
    model.apply(init)
    _, y, z = _real()
    with torch.no_grad():
        fake = torch.cat([gen(torch.tensor(z[i:i + batch_size]), torch.tensor(y[i:i + batch_size]))
                          for i in range(0, len(z), batch_size)])[:, 0].numpy()
    tb = [(torch.tensor(x), torch.tensor(t)) for x, t in _batches(fake, channels_last=False)]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": tb[0][0], "loss_fn": nn.BCEWithLogitsLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=learning_rate, betas=(beta1, 0.999))}, gen


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    import tensorflow as tf

    def sigmoid_xent(y_true, y_pred):  # reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(D_logits, targets))
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.cast(y_true, y_pred.dtype),
                                                                      logits=y_pred))

    keras.utils.set_random_seed(SEED)
    w_init = keras.initializers.RandomNormal(stddev=0.02)
    c_init = keras.initializers.TruncatedNormal(stddev=0.02)

    def bn():
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5,
                                         gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02))

    def cond_concat(x, y):  # conv_cond_concat(x, yb)
        yb = ops.reshape(y, (-1, 1, 1, y_dim)) * ops.ones_like(x[..., :1])
        return ops.concatenate([x, yb], axis=-1)

    # discriminator(image, y), y branch; input x = conv_cond_concat(image, yb) (n, 28, 28, 11)
    x_in = keras.Input((s, s, c_dim + y_dim))
    y = x_in[:, 0, 0, c_dim:]
    h0 = cond_concat(layers.LeakyReLU(0.2)(layers.Conv2D(c_dim + y_dim, 5, 2, "same", kernel_initializer=c_init,
                                                         name="d_h0_conv")(x_in)), y)
    h1 = layers.LeakyReLU(0.2)(bn()(layers.Conv2D(df_dim + y_dim, 5, 2, "same", kernel_initializer=c_init,
                                                  name="d_h1_conv")(h0)))
    h1 = ops.concatenate([layers.Flatten()(h1), y], axis=1)
    h2 = layers.LeakyReLU(0.2)(bn()(layers.Dense(dfc_dim, kernel_initializer=w_init, name="d_h2_lin")(h1)))
    h2 = ops.concatenate([h2, y], axis=1)
    h3 = layers.Dense(1, kernel_initializer=w_init, name="d_h3_lin")(h2)
    d, d_logits = layers.Activation("sigmoid")(h3), h3
    model = keras.Model(x_in, d_logits if fixed else d, name="discriminator")  # buggy: D_logits, D swapped
    model.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=beta1), loss=sigmoid_xent)

    # generator(z, y), y branch (h1 reads h0), only to draw the fake half of the batches
    z_in, yg = keras.Input((z_dim,)), keras.Input((y_dim,))
    g = ops.concatenate([z_in, yg], axis=1)
    g0 = ops.concatenate([ops.relu(bn()(layers.Dense(gfc_dim, kernel_initializer=w_init)(g))), yg], axis=1)
    g1 = ops.relu(bn()(layers.Dense(gf_dim * 2 * s4 * s4, kernel_initializer=w_init)(g0)))
    g1 = cond_concat(layers.Reshape((s4, s4, gf_dim * 2))(g1), yg)
    g2 = cond_concat(ops.relu(bn()(layers.Conv2DTranspose(gf_dim * 2, 5, 2, "same", kernel_initializer=w_init)(g1))),
                     yg)
    out = layers.Activation("sigmoid")(layers.Conv2DTranspose(c_dim, 5, 2, "same", kernel_initializer=w_init)(g2))
    gen = keras.Model([z_in, yg], out, name="generator")
    _, yy, z = _real()
    fake = np.concatenate([np.asarray(gen([z[i:i + batch_size], yy[i:i + batch_size]], training=True))
                           for i in range(0, len(z), batch_size)])[..., 0]
    kb = _batches(fake, channels_last=True)
    return {"model": model, "batch": kb[0], "batches": kb, "inputs": kb[0][0],
            "loss_fn": sigmoid_xent,
            "optimizer": keras.optimizers.Adam(learning_rate, beta_1=beta1)}


buggy, fixed = versions(_torch, _keras)
