"""carpedm20/DCGAN-tensorflow (celebA 64x64 default), whose ``batch_norm`` wrapper ignores its ``train``
argument: ``tf.contrib.layers.batch_norm`` was called without ``is_training``, so every batch norm of
the generator and discriminator normalises with the statistics of the current batch even where the
program asks for inference (the ``sampler`` calls ``g_bn*(h, train=False)``). At inference each
generated sample then depends on the other z vectors in the batch, and the moving averages are never
used.

Source: github.com/carpedm20/DCGAN-tensorflow ``ops.py`` ``batch_norm.__call__`` at d5916f8^ (7c7c411),
fixed by PR #70 ("There is a missing 'is_training' option in tf.contrib.layers.batch_norm",
commit d5916f8f4e52729fb2104722f06a366c987c01ba, merged as 0cb4e44). Program lines kept::

    class batch_norm(object):
        def __init__(self, epsilon=1e-5, momentum=0.9, name="batch_norm"): ...
        def __call__(self, x, train=True):
            return tf.contrib.layers.batch_norm(x, decay=self.momentum, updates_collections=None,
                                                epsilon=self.epsilon, scale=True, scope=self.name)
                                                # fix: is_training=train

and ``model.py`` (no ``y_dim``): generator ``linear(z, gf_dim*8*4*4)`` -> reshape -> bn -> relu, three
``deconv2d`` 5x5/2 (gf_dim*4, *2, *1) each bn + relu, ``deconv2d`` to c_dim, tanh; discriminator
``conv2d`` 5x5/2 df_dim lrelu(0.2), then df_dim*2, *4, *8 each bn + lrelu, ``linear`` to 1 logit;
``ops.py`` initialisers (linear N(0, 0.02), conv truncated N(0, 0.02), deconv N(0, 0.02), zero
biases); ``g_loss = mean(sigmoid_cross_entropy_with_logits(D_logits_, ones))`` minimised by
``AdamOptimizer(0.0002, beta1=0.5)`` over ``g_vars``; main.py defaults batch 64, output 64x64x3,
z_dim 100, gf_dim = df_dim = 64.
Ported minimally: the generator step as one model, discriminator(generator(z)) logits, with the
discriminator frozen (``var_list=self.g_vars``), x = z ~ U(-1, 1) (64, 100), target ones; the
alternating discriminator step and the celebA download are left out (the generator step reads only
z). Torch: a ``batch_norm`` module that normalises with batch statistics regardless of
``self.training`` (buggy) / honours it (fixed), momentum 0.1 (= decay 0.9). Keras 3: a layer wrapping
``BatchNormalization(momentum=0.9, epsilon=1e-5)`` called with ``training=True`` always (buggy) /
with the caller's ``training`` (fixed); Keras 3 runs the batch norms of the frozen discriminator in
inference mode whatever ``training`` says, so there only the generator's four batch norms mix the
batch (torch: all seven). Sizes as in the program (CPU cost about 1-2 s a step).
Fault label: batch_mixing (inference outputs depend on the rest of the batch); the fix is the
train/eval switch of batch norm.
Fix: ``is_training=train``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "batch_mixing"
SOURCE = ("github:carpedm20/DCGAN-tensorflow PR #70 (ops.py batch_norm@d5916f8^, fix d5916f8 "
          "'is_training=train', merge 0cb4e44)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("batch_independence", {}), ("loss_decreases", {})]

batch_size = 64
z_dim = 100
gf_dim = df_dim = 64
s, c_dim = 64, 3
s2, s4, s8, s16 = 32, 16, 8, 4
learning_rate, beta1 = 0.0002, 0.5
epsilon, decay = 1e-5, 0.9


def _data(n_batches: int = 3) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    return [(rng.uniform(-1, 1, (batch_size, z_dim)).astype("float32"), np.ones((batch_size, 1), "float32"))
            for _ in range(n_batches)]


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    data = _data()
    if framework == "keras":
        import keras
        from keras import layers

        keras.utils.set_random_seed(0)
        w_init = keras.initializers.RandomNormal(stddev=0.02)
        conv_init = keras.initializers.TruncatedNormal(stddev=0.02)

        class batch_norm(layers.Layer):  # the program's wrapper
            def __init__(self, **kw):
                super().__init__(**kw)
                self.bn = layers.BatchNormalization(momentum=decay, epsilon=epsilon)

            def call(self, x, training=None):
                if fixed:
                    return self.bn(x, training=training)  # is_training=train
                return self.bn(x, training=True)  # contrib default is_training=True

        zin = keras.Input((z_dim,))
        h = layers.Dense(gf_dim * 8 * s16 * s16, kernel_initializer=w_init, name="g_h0_lin")(zin)
        h = layers.ReLU()(batch_norm(name="g_bn0")(layers.Reshape((s16, s16, gf_dim * 8))(h)))
        for i, ch in enumerate((gf_dim * 4, gf_dim * 2, gf_dim)):
            h = layers.Conv2DTranspose(ch, 5, 2, "same", kernel_initializer=w_init, name=f"g_h{i + 1}")(h)
            h = layers.ReLU()(batch_norm(name=f"g_bn{i + 1}")(h))
        g = layers.Activation("tanh")(layers.Conv2DTranspose(c_dim, 5, 2, "same", kernel_initializer=w_init,
                                                             name="g_h4")(h))

        img = keras.Input((s, s, c_dim))
        d = layers.LeakyReLU(0.2)(layers.Conv2D(df_dim, 5, 2, "same", kernel_initializer=conv_init)(img))
        for i, ch in enumerate((df_dim * 2, df_dim * 4, df_dim * 8)):
            d = layers.Conv2D(ch, 5, 2, "same", kernel_initializer=conv_init, name=f"d_h{i + 1}_conv")(d)
            d = layers.LeakyReLU(0.2)(batch_norm(name=f"d_bn{i + 1}")(d))
        d_logits = layers.Dense(1, kernel_initializer=w_init, name="d_h3_lin")(layers.Flatten()(d))
        disc = keras.Model(img, d_logits, name="discriminator")
        disc.trainable = False  # g_optim: var_list=self.g_vars

        model = keras.Model(zin, disc(g), name="generator_step")
        model.compile(optimizer=keras.optimizers.Adam(learning_rate, beta_1=beta1),
                      loss=keras.losses.BinaryCrossentropy(from_logits=True))
        return {"model": model, "batch": data[0], "batches": data}

    import torch
    from torch import nn
    import torch.nn.functional as F

    torch.manual_seed(0)

    class batch_norm(nn.BatchNorm2d):  # the program's wrapper: eps 1e-5, decay 0.9, scale=True
        def __init__(self, n):
            super().__init__(n, eps=epsilon, momentum=1 - decay)

        def forward(self, x):
            training = self.training if fixed else True  # buggy: is_training left at its default True
            return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                training, self.momentum, self.eps)

    def init(m):
        if isinstance(m, (nn.Linear, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            nn.init.trunc_normal_(m.weight, std=0.02, a=-0.04, b=0.04)
            nn.init.zeros_(m.bias)

    def deconv(cin, cout):  # deconv2d 5x5, stride 2, SAME
        return nn.ConvTranspose2d(cin, cout, 5, 2, 2, output_padding=1)

    class Generator(nn.Module):
        def __init__(self):
            super().__init__()
            self.g_h0_lin = nn.Linear(z_dim, gf_dim * 8 * s16 * s16)
            self.g_bn0, self.g_bn1 = batch_norm(gf_dim * 8), batch_norm(gf_dim * 4)
            self.g_bn2, self.g_bn3 = batch_norm(gf_dim * 2), batch_norm(gf_dim)
            self.g_h1, self.g_h2 = deconv(gf_dim * 8, gf_dim * 4), deconv(gf_dim * 4, gf_dim * 2)
            self.g_h3, self.g_h4 = deconv(gf_dim * 2, gf_dim), deconv(gf_dim, c_dim)

        def forward(self, z):
            h0 = F.relu(self.g_bn0(self.g_h0_lin(z).view(-1, gf_dim * 8, s16, s16)))
            h1 = F.relu(self.g_bn1(self.g_h1(h0)))
            h2 = F.relu(self.g_bn2(self.g_h2(h1)))
            h3 = F.relu(self.g_bn3(self.g_h3(h2)))
            return torch.tanh(self.g_h4(h3))

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.d_h0_conv = nn.Conv2d(c_dim, df_dim, 5, 2, 2)
            self.d_h1_conv = nn.Conv2d(df_dim, df_dim * 2, 5, 2, 2)
            self.d_h2_conv = nn.Conv2d(df_dim * 2, df_dim * 4, 5, 2, 2)
            self.d_h3_conv = nn.Conv2d(df_dim * 4, df_dim * 8, 5, 2, 2)
            self.d_bn1, self.d_bn2, self.d_bn3 = batch_norm(df_dim * 2), batch_norm(df_dim * 4), batch_norm(df_dim * 8)
            self.d_h3_lin = nn.Linear(df_dim * 8 * s16 * s16, 1)

        def forward(self, image):
            h0 = F.leaky_relu(self.d_h0_conv(image), 0.2)
            h1 = F.leaky_relu(self.d_bn1(self.d_h1_conv(h0)), 0.2)
            h2 = F.leaky_relu(self.d_bn2(self.d_h2_conv(h1)), 0.2)
            h3 = F.leaky_relu(self.d_bn3(self.d_h3_conv(h2)), 0.2)
            return self.d_h3_lin(h3.flatten(1))

    class GeneratorStep(nn.Module):
        """D(G(z)) logits; the discriminator is frozen (g_optim var_list=self.g_vars)."""

        def __init__(self):
            super().__init__()
            self.generator, self.discriminator = Generator(), Discriminator()
            self.apply(init)
            for p in self.discriminator.parameters():
                p.requires_grad_(False)

        def forward(self, z):
            return self.discriminator(self.generator(z))

    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in data]
    return {"model": GeneratorStep(), "batch": tb[0], "batches": tb,
            "loss_fn": nn.BCEWithLogitsLoss(),
            "optimizer": lambda p: torch.optim.Adam([q for q in p if q.requires_grad], lr=learning_rate,
                                                    betas=(beta1, 0.999))}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
