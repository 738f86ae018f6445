"""tensorflow/models' VariationalAutoencoderRunner on MNIST with pixels put through
``sklearn.preprocessing.StandardScaler``: pixels that are almost always 0 become huge (one rare ink
dot -> tens of standard deviations) while the summed squared reconstruction error and the
``exp(z_log_sigma_sq)`` sampling see them raw, so the cost is enormous and can turn NaN.

Source: defects4ML bug 006 (github.com/mohmehmo/defects4ml, bugs/006), i.e. tensorflow/models
commit 55a34ae (autoencoder/VariationalAutoencoderRunner.py and
autoencoder_models/VariationalAutoencoder.py): ``standard_scale`` replaced by ``minmax_scale``
(``MinMaxScaler(feature_range=(0, 1))``), and the noise ``eps`` drawn with the batch's shape instead
of a fixed ``gaussian_sample_size = 128``. The program: n_input 784, n_hidden 200; linear encoder
``z_mean = x W1 + b1``, ``z_log_sigma_sq = x Wls + bls`` (Xavier-uniform W, zero b), ``z = z_mean +
sqrt(exp(z_log_sigma_sq)) * eps``, linear decoder W2, b2 initialised to zeros; cost
``0.5 * sum((recon - x)^2)`` over the whole batch plus the batch mean of the KL term; Adam(0.001);
batch_size 128 (random contiguous blocks). Data: MNIST ``train.images`` (55000 x 784, float32 in
[0, 1]) replaced offline by ``_data.mnist_like`` / 255 (1797 rows the scaler is fitted on; the first
512 used), then the program's scaler.
Fault label: other:per_pixel_standard_scaling|inputs_not_normalized (sparse pixels standardised to
huge values). Fix (55a34ae): min-max scale to [0, 1]; eps shaped like the batch.
Torch twin: the same layers; ``forward`` returns the reconstruction and keeps the KL term on
``model.latent_loss`` (as the Keras port's ``add_loss``) for ``loss_fn`` to add.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "other:per_pixel_standard_scaling|inputs_not_normalized"
SOURCE = "github:mohmehmo/defects4ml bugs/006 (tensorflow/models autoencoder/VariationalAutoencoderRunner.py, fix 55a34ae)"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("inputs_normalized", {})]

_BATCH = 128


def _pixels(fixed: bool) -> np.ndarray:
    import sklearn.preprocessing as prep

    imgs, _ = _data.mnist_like(1797)
    train = (imgs.reshape(len(imgs), 784) / 255.0).astype("float32")
    # program lines: VariationalAutoencoderRunner.py standard_scale (buggy) / minmax_scale (fixed)
    scaler = prep.MinMaxScaler(feature_range=(0, 1)) if fixed else prep.StandardScaler()
    return scaler.fit(train).transform(train)[:512].astype("float32")


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x = _pixels(fixed)
    n_input, n_hidden = 784, 200
    if framework == "keras":
        import keras
        from keras import ops

        class VariationalAutoencoder(keras.Model):  # program lines: VariationalAutoencoder.py
            def __init__(self) -> None:
                super().__init__()
                glorot = keras.initializers.GlorotUniform()
                self.w1 = self.add_weight(shape=(n_input, n_hidden), initializer=glorot)
                self.log_sigma_w1 = self.add_weight(shape=(n_input, n_hidden), initializer=glorot)
                self.b1 = self.add_weight(shape=(n_hidden,), initializer="zeros")
                self.log_sigma_b1 = self.add_weight(shape=(n_hidden,), initializer="zeros")
                self.w2 = self.add_weight(shape=(n_hidden, n_input), initializer="zeros")
                self.b2 = self.add_weight(shape=(n_input,), initializer="zeros")
                self.seed_gen = keras.random.SeedGenerator(0)

            def call(self, x):
                z_mean = ops.matmul(x, self.w1) + self.b1
                z_log_sigma_sq = ops.matmul(x, self.log_sigma_w1) + self.log_sigma_b1
                shape = (ops.shape(x)[0], n_hidden) if fixed else (128, n_hidden)
                eps = keras.random.normal(shape, 0, 1, seed=self.seed_gen)
                z = z_mean + ops.sqrt(ops.exp(z_log_sigma_sq)) * eps
                latent_loss = -0.5 * ops.sum(1 + z_log_sigma_sq - ops.square(z_mean) - ops.exp(z_log_sigma_sq), 1)
                self.add_loss(ops.mean(latent_loss))
                return ops.matmul(z, self.w2) + self.b2

        def reconstr_loss(y_true, y_pred):
            return 0.5 * ops.sum(ops.square(y_pred - y_true))

        model = VariationalAutoencoder()
        model.compile(loss=reconstr_loss, optimizer=keras.optimizers.Adam(learning_rate=0.001))
        return {"model": model, "batch": (x[:_BATCH], x[:_BATCH]), "batches": _data.batches(x, x, _BATCH)}

    import torch
    import torch.nn as nn

    def xavier(fan_in, fan_out):
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        return nn.Parameter(torch.empty(fan_in, fan_out).uniform_(-bound, bound))

    class VariationalAutoencoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.w1, self.log_sigma_w1 = xavier(n_input, n_hidden), xavier(n_input, n_hidden)
            self.b1, self.log_sigma_b1 = nn.Parameter(torch.zeros(n_hidden)), nn.Parameter(torch.zeros(n_hidden))
            self.w2, self.b2 = nn.Parameter(torch.zeros(n_hidden, n_input)), nn.Parameter(torch.zeros(n_input))
            self.latent_loss = torch.zeros(())

        def forward(self, x):
            z_mean = x @ self.w1 + self.b1
            z_log_sigma_sq = x @ self.log_sigma_w1 + self.log_sigma_b1
            eps = torch.randn(x.shape[0] if fixed else 128, n_hidden)
            z = z_mean + torch.sqrt(torch.exp(z_log_sigma_sq)) * eps
            self.latent_loss = torch.mean(-0.5 * torch.sum(1 + z_log_sigma_sq - z_mean ** 2 - torch.exp(z_log_sigma_sq), 1))
            return z @ self.w2 + self.b2

    model = VariationalAutoencoder()

    def loss_fn(recon, target):
        return 0.5 * torch.sum((recon - target) ** 2) + model.latent_loss

    xt = torch.tensor(x)
    return {"model": model, "batch": (xt[:_BATCH], xt[:_BATCH]), "batches": _data.batches(xt, xt, _BATCH),
            "loss_fn": loss_fn, "optimizer": lambda p: torch.optim.Adam(p, lr=0.001)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, True)
