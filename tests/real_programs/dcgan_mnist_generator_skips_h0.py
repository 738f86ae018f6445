"""carpedm20/DCGAN-tensorflow, conditional (MNIST, ``y_dim=10``) generator whose second fully connected
layer reads the raw ``z`` instead of the first layer's output, so the first layer (``g_h0_lin`` and its
batch norm ``g_bn0``) is computed and thrown away: it gets no gradient and never trains, and the
generator is one layer shallower than designed.

Source: github.com/carpedm20/DCGAN-tensorflow ``model.py`` ``generator`` (``y_dim`` branch) at
31e962f^ (a29351d), fix 31e962fcfdfddf35510879c32b74c3f130d70a4f "fixed z to h0"; also subject
IPS-4 of the ISSTA'18 TensorFlow-program-bugs benchmark (github:ForeverZyh/TensorFlow-Program-Bugs
Github/IPS-4). Program lines kept (generator, y branch)::

    z = concat([z, y], 1)
    h0 = relu(g_bn0(linear(z, gfc_dim, 'g_h0_lin')));  h0 = concat([h0, y], 1)
    h1 = relu(g_bn1(linear(z, gf_dim*2*s4*s4, 'g_h1_lin')))     # fix: linear(h0, ...)
    h1 = reshape(h1, [batch, s4, s4, gf_dim*2]);  h1 = conv_cond_concat(h1, yb)
    h2 = relu(g_bn2(deconv2d(h1, [batch, s2, s2, gf_dim*2])));  h2 = conv_cond_concat(h2, yb)
    return sigmoid(deconv2d(h2, [batch, s, s, c_dim]))

and the y-branch discriminator (conv 5x5/2 to c_dim+y_dim, lrelu; conv to df_dim+y_dim, bn, lrelu;
linear dfc_dim, bn, lrelu; linear 1 -> logits), ``ops.py`` initialisers (conv/deconv weights
truncated/normal stddev 0.02, linear weights normal stddev 0.02, zero biases; batch norm eps 1e-5,
momentum 0.9), defaults ``gf_dim=df_dim=64, gfc_dim=dfc_dim=1024, z_dim=100``, MNIST 28x28x1, and
``g_loss = mean(sigmoid_cross_entropy_with_logits(D_logits_, ones))`` minimised with
``AdamOptimizer(learning_rate=0.0002, beta1=0.5)`` over the generator's variables (main.py defaults,
batch 64).
Ported minimally: the generator step is given as one model, discriminator(generator(z, y), y) with the
discriminator frozen (the program's ``var_list=self.g_vars``; Keras: ``D.trainable = False``), batch
x = concat(z ~ U(-1, 1), one-hot y), target ones; the alternating discriminator step is left out (the
bug is in the generator alone). The generator is a class whose layers are created up front, as the TF1
variables were (torch ``nn.Module``; Keras 3 a subclassed ``keras.Model``), so the unused
``g_h0_lin``/``g_bn0`` remain trainable weights -- a Keras functional graph would silently drop the
dead branch instead. Batch 64 as in the program; no data download needed (the step reads only z and
y). Torch batch norm momentum 0.1 (= TF decay 0.9).
Fault label: no_gradient|params_not_updated (g_h0_lin, g_bn0 never reach the output).
Fix: ``h1 = relu(g_bn1(linear(h0, ...)))``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "no_gradient|params_not_updated"
SOURCE = ("github:carpedm20/DCGAN-tensorflow model.py@31e962f^ (generator y_dim branch, fix 31e962f "
          "'fixed z to h0'; TensorFlow-Program-Bugs Github/IPS-4)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("gradients_flow", {}), ("loss_decreases", {})]

batch_size = 64
z_dim, y_dim = 100, 10
gf_dim = df_dim = 64
gfc_dim = dfc_dim = 1024
s, c_dim = 28, 1
s2, s4 = 14, 7
learning_rate, beta1 = 0.0002, 0.5


def _data(n_batches: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n_batches):
        z = rng.uniform(-1, 1, (batch_size, z_dim)).astype("float32")
        y = np.eye(y_dim, dtype="float32")[rng.integers(0, y_dim, batch_size)]
        out.append((np.concatenate([z, y], 1), np.ones((batch_size, 1), "float32")))
    return out


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    data = _data()
    if framework == "keras":
        import keras
        from keras import layers, ops

        keras.utils.set_random_seed(0)
        w_init = keras.initializers.RandomNormal(stddev=0.02)

        class CondConcat(layers.Layer):  # conv_cond_concat(x, yb)
            def call(self, x, y):
                yb = ops.reshape(y, (-1, 1, 1, y_dim)) * ops.ones_like(x[..., :1])
                return ops.concatenate([x, yb], axis=-1)

        def bn():
            return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

        # discriminator(image, y) -> logits
        img_in, yd_in = keras.Input((s, s, c_dim)), keras.Input((y_dim,))
        x = CondConcat()(img_in, yd_in)
        h0 = layers.LeakyReLU(0.2)(layers.Conv2D(c_dim + y_dim, 5, 2, "same", kernel_initializer=w_init)(x))
        h0 = CondConcat()(h0, yd_in)
        h1 = layers.LeakyReLU(0.2)(bn()(layers.Conv2D(df_dim + y_dim, 5, 2, "same", kernel_initializer=w_init)(h0)))
        h1 = layers.Concatenate()([layers.Flatten()(h1), yd_in])
        h2 = layers.LeakyReLU(0.2)(bn()(layers.Dense(dfc_dim, kernel_initializer=w_init)(h1)))
        h2 = layers.Concatenate()([h2, yd_in])
        d_logits = layers.Dense(1, kernel_initializer=w_init)(h2)
        disc = keras.Model([img_in, yd_in], d_logits, name="discriminator")
        disc.trainable = False  # g_optim: var_list=self.g_vars

        class Generator(keras.Model):
            """The program's ``generator`` (y branch) as a subclassed model, layers created up front as
            the TF1 variables were, so the unused ``g_h0_lin``/``g_bn0`` stay among its weights."""

            def __init__(self):
                super().__init__(name="generator")
                self.g_h0_lin = layers.Dense(gfc_dim, kernel_initializer=w_init, name="g_h0_lin")
                self.g_bn0 = bn()
                self.g_h1_lin = layers.Dense(gf_dim * 2 * s4 * s4, kernel_initializer=w_init, name="g_h1_lin")
                self.g_bn1 = bn()
                self.g_h2 = layers.Conv2DTranspose(gf_dim * 2, 5, 2, "same", kernel_initializer=w_init)
                self.g_bn2 = bn()
                self.g_h3 = layers.Conv2DTranspose(c_dim, 5, 2, "same", kernel_initializer=w_init)
                self.cond = CondConcat()

            def call(self, z, training=False):  # z already concat([z, y], 1)
                y = z[:, z_dim:]
                h0 = ops.relu(self.g_bn0(self.g_h0_lin(z), training=training))
                h0 = ops.concatenate([h0, y], axis=1)
                h1 = ops.relu(self.g_bn1(self.g_h1_lin(h0 if fixed else z), training=training))
                h1 = self.cond(ops.reshape(h1, (-1, s4, s4, gf_dim * 2)), y)
                h2 = self.cond(ops.relu(self.g_bn2(self.g_h2(h1), training=training)), y)
                return ops.sigmoid(self.g_h3(h2))

        class GeneratorStep(keras.Model):
            """D(G(z, y), y) logits with the discriminator frozen (g_optim var_list=self.g_vars)."""

            def __init__(self):
                super().__init__(name="generator_step")
                self.generator = Generator()
                self.discriminator = disc

            def call(self, z, training=False):
                return self.discriminator([self.generator(z, training=training), z[:, z_dim:]])

        model = GeneratorStep()
        model(data[0][0][:2])  # build the weights
        model.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=beta1),
                      loss=keras.losses.BinaryCrossentropy(from_logits=True))
        return {"model": model, "batch": data[0], "batches": data}

    import torch
    from torch import nn
    import torch.nn.functional as F

    torch.manual_seed(0)

    def conv_cond_concat(x, yb):
        return torch.cat([x, yb * torch.ones(x.shape[0], yb.shape[1], x.shape[2], x.shape[3])], 1)

    def init(m):
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.d_h0_conv = nn.Conv2d(c_dim + y_dim, c_dim + y_dim, 5, 2, 2)
            self.d_h1_conv = nn.Conv2d(c_dim + 2 * y_dim, df_dim + y_dim, 5, 2, 2)
            self.d_bn1 = nn.BatchNorm2d(df_dim + y_dim, eps=1e-5, momentum=0.1)
            self.d_h2_lin = nn.Linear((df_dim + y_dim) * s4 * s4 + y_dim, dfc_dim)
            self.d_bn2 = nn.BatchNorm1d(dfc_dim, eps=1e-5, momentum=0.1)
            self.d_h3_lin = nn.Linear(dfc_dim + y_dim, 1)

        def forward(self, image, y):
            yb = y.view(-1, y_dim, 1, 1)
            x = conv_cond_concat(image, yb)
            h0 = conv_cond_concat(F.leaky_relu(self.d_h0_conv(x), 0.2), yb)
            h1 = F.leaky_relu(self.d_bn1(self.d_h1_conv(h0)), 0.2)
            h1 = torch.cat([h1.flatten(1), y], 1)
            h2 = torch.cat([F.leaky_relu(self.d_bn2(self.d_h2_lin(h1)), 0.2), y], 1)
            return self.d_h3_lin(h2)

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.g_h0_lin = nn.Linear(z_dim + y_dim, gfc_dim)
            self.g_bn0 = nn.BatchNorm1d(gfc_dim, eps=1e-5, momentum=0.1)
            self.g_h1_lin = nn.Linear((gfc_dim + y_dim) if fixed else (z_dim + y_dim), gf_dim * 2 * s4 * s4)
            self.g_bn1 = nn.BatchNorm1d(gf_dim * 2 * s4 * s4, eps=1e-5, momentum=0.1)
            self.g_h2 = nn.ConvTranspose2d(gf_dim * 2 + y_dim, gf_dim * 2, 5, 2, 2, output_padding=1)
            self.g_bn2 = nn.BatchNorm2d(gf_dim * 2, eps=1e-5, momentum=0.1)
            self.g_h3 = nn.ConvTranspose2d(gf_dim * 2 + y_dim, c_dim, 5, 2, 2, output_padding=1)

        def forward(self, z):  # z already concat([z, y], 1)
            y = z[:, z_dim:]
            yb = y.view(-1, y_dim, 1, 1)
            h0 = F.relu(self.g_bn0(self.g_h0_lin(z)))
            h0 = torch.cat([h0, y], 1)
            h1 = F.relu(self.g_bn1(self.g_h1_lin(h0 if fixed else z)))
            h1 = conv_cond_concat(h1.view(-1, gf_dim * 2, s4, s4), yb)
            h2 = conv_cond_concat(F.relu(self.g_bn2(self.g_h2(h1))), yb)
            return torch.sigmoid(self.g_h3(h2)), y

    class GeneratorStep(nn.Module):
        """D(G(z, y), y) logits; the discriminator is frozen (g_optim var_list=self.g_vars)."""

        def __init__(self):
            super().__init__()
            self.generator = Generator()
            self.discriminator = Discriminator()
            self.apply(init)
            for p in self.discriminator.parameters():
                p.requires_grad_(False)

        def forward(self, z):
            img, y = self.generator(z)
            return self.discriminator(img, y)

    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in data]
    return {"model": GeneratorStep(), "batch": tb[0], "batches": tb,
            "loss_fn": nn.BCEWithLogitsLoss(),
            "optimizer": lambda p: torch.optim.Adam([q for q in p if q.requires_grad], lr=learning_rate,
                                                    betas=(beta1, 0.999))}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
