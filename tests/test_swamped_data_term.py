"""A VAE whose reconstruction is averaged over pixels beside a KL summed over the latent and the batch
(sigma-vae-pytorch's `mse_vae`, PR #12: a β of ~3·10⁵): the run halves its loss at once by collapsing
the posterior, and every reconstruction is the mean image. The loss's value at outputs equal to the
targets (its "floor") still holds the KL at init, so the run went below it and `overfit_one_batch`
passed after two steps. A loss on value targets that goes far below that floor is judged toward 0
now, and where the part the outputs set barely moved the failure names `over_regularized`. Twins:
the same VAE with the reconstruction summed (as the KL is) is not told so; a plain regression passes."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import torch
from torch import nn

from pytest_mlcheck import CheckFailed


def _images(n: int = 32, d: int = 64) -> np.ndarray:
    from sklearn.datasets import load_digits

    return (load_digits().data[:n, :d] / 16.0).astype(np.float32)


class _VAE(nn.Module):
    def __init__(self, d: int = 64, z: int = 4) -> None:
        super().__init__()
        self.enc, self.mu_head, self.logvar_head = nn.Linear(d, 32), nn.Linear(32, z), nn.Linear(32, z)
        self.dec = nn.Sequential(nn.Linear(z, 32), nn.ReLU(), nn.Linear(32, d), nn.Sigmoid())
        self.mu = self.logvar = torch.zeros(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.enc(x))
        self.mu, self.logvar = self.mu_head(h), self.logvar_head(h)
        z = self.mu + (torch.randn_like(self.mu) * torch.exp(0.5 * self.logvar) if self.training else 0.0)
        return self.dec(z)


def _vae_loss(model: _VAE, reduction: str):
    def loss_fn(recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        rec = nn.functional.mse_loss(recon, x, reduction=reduction)
        kl = -0.5 * torch.sum(1 + model.logvar - model.mu.pow(2) - model.logvar.exp())
        return rec + kl
    return loss_fn


def test_a_pixel_averaged_reconstruction_beside_a_summed_kl_is_over_regularized(mlcheck):
    torch.manual_seed(0)
    model = _VAE()
    x = torch.from_numpy(_images())
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(model, (x, x), loss_fn=_vae_loss(model, "mean"),
                                  optimizer=lambda p: torch.optim.Adam(p, lr=1e-3), steps=50)
    assert failed.value.causes[:1] == ["over_regularized"], str(failed.value)
    assert "fit the targets no better than their batch mean" in str(failed.value)
    assert "the loss at outputs equal to the targets moved with the model's state" in str(failed.value)


def test_twin_the_reconstruction_summed_as_the_kl_is_not_told_so(mlcheck):
    torch.manual_seed(0)
    model = _VAE()
    x = torch.from_numpy(_images())
    try:
        mlcheck.overfit_one_batch(model, (x, x), loss_fn=_vae_loss(model, "sum"),
                                  optimizer=lambda p: torch.optim.Adam(p, lr=1e-3), steps=200)
    except CheckFailed as failed:
        assert "over_regularized" not in failed.causes, str(failed)


def test_twin_a_plain_regression_still_passes(mlcheck):
    torch.manual_seed(0)
    x = torch.from_numpy(_images())
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 3))
    y = x[:, :3] * 2.0 - 1.0
    assert mlcheck.overfit_one_batch(model, (x, y), loss_fn=nn.MSELoss(),
                                     optimizer=lambda p: torch.optim.Adam(p, lr=1e-2)).passed


class _Sampling(keras.layers.Layer):
    """z from (mu, logvar), adding the KL summed over the latent and the batch, as the port's torch loss."""

    def call(self, inputs, training=None):
        mu, logvar = inputs
        self.add_loss(-0.5 * keras.ops.sum(1 + logvar - keras.ops.square(mu) - keras.ops.exp(logvar)))
        if training:
            return mu + keras.random.normal(keras.ops.shape(mu), seed=self._seed) * keras.ops.exp(0.5 * logvar)
        return mu

    def build(self, input_shape):
        self._seed = keras.random.SeedGenerator(0)


def _keras_vae() -> keras.Model:
    keras.utils.set_random_seed(0)
    x = keras.Input((64,))
    h = keras.layers.Dense(32, activation="relu")(x)
    z = _Sampling()([keras.layers.Dense(4)(h), keras.layers.Dense(4)(h)])
    out = keras.layers.Dense(64, activation="sigmoid")(keras.layers.Dense(32, activation="relu")(z))
    model = keras.Model(x, out)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="mse")  # averaged over pixels and samples
    return model


def test_the_same_swamped_reconstruction_in_keras(mlcheck):
    x = _images()
    with pytest.raises(CheckFailed) as failed:
        mlcheck.overfit_one_batch(_keras_vae(), (x, x), steps=50)
    assert failed.value.causes[:1] == ["over_regularized"], str(failed.value)
