"""PyOD's VAE outlier detector (yzhao062/pyod, ``pyod/models/vae.py``, PyTorch version) fitted with
``preprocessing=False`` on raw-scale features: the encoder (128-64-32, ReLU, dropout 0.2, PyOD's
``kaiming_uniform_`` init) maps inputs of size ~50 to latent log-variances of about +-100 to 175, and
``reparameterize`` computes ``std = torch.exp(0.5 * logvar)`` (~1e23), so the reconstructions of the
finite inputs are ~1e15 to 1e19 and the MSE loss ~1e30 to ``inf`` at the first step (depending on the
dropout and latent noise drawn); the update overflows, the weights and outputs turn NaN from the second
step on (in Keras the loss is NaN from the first step), and ``fit`` ends in
"ValueError: Input contains NaN" when the scores are thresholded.

Source: github.com/yzhao062/pyod issue #609 ("ValueError: "Input contains NaN" when calling VAE.fit()
...", the maintainer: "The fix has been merged in commit a7165ec -- VAE now clamps the latent
log-variance to prevent numerical overflow during training"), fixed by commit
a7165ec60aaa871654a95449523e917b470f3329 "fix VAE NaN issue by clamping latent log-variance (#609)",
which adds ``logvar_clip=(-30.0, 20.0)`` and clamps ``logvar`` in ``reparameterize`` and in
``vae_loss``. Program: ``pyod/models/vae.py`` at a7165ec^ (``VAEModel``, defaults
``encoder_neuron_list=[128, 64, 32]``, ``decoder_neuron_list=[32, 64, 128]``, ``latent_dim=2``,
``output_activation_name='identity'``, ``dropout_rate=0.2``, ``lr=1e-3``,
``optimizer_params={'weight_decay': 1e-5}``, ``batch_size=32``, ``random_state=42``),
``pyod/utils/torch_utility.py`` (``LinearBlock``: Linear, activation, dropout; weights
``kaiming_uniform_(a=0, mode='fan_in', nonlinearity='leaky_relu')``).
Ported minimally: ``VAEModel.forward`` returns ``(x_recon, z_mu, z_logvar)``; the returned model
returns ``x_recon`` only. With the defaults ``beta=1.0, capacity=0.0`` the KL term of ``vae_loss`` is
clamped to ``[0, 0]``, so the loss is ``MSELoss()(x_recon, x)``, given as ``loss_fn``.
Data: the fix commit's own regression test (``test_no_nan_scores_without_preprocessing``):
``np.random.RandomState(42).randn(64, 10) * 50``, ``VAE(epoch_num=3, batch_size=32,
contamination=0.1, preprocessing=False)``: two batches of 32, float32, no standardisation.
Fault label: loss_not_finite|outputs_not_finite. Fix (a7165ec): ``logvar = torch.clamp(logvar, -30.0, 20.0)`` before
``torch.exp(0.5 * logvar)`` (the inputs stay unscaled in the fix).
Keras twin: the same network in Keras 3 (HeUniform kernels as in ``LinearBlock``, a sampling layer with
``exp(0.5 * logvar)``), compiled with MSE and ``Adam(1e-3, weight_decay=1e-5)`` (decoupled decay in Keras); fixed: the clamp in
the sampling layer.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_not_finite|outputs_not_finite"
SOURCE = "github:yzhao062/pyod issue #609 (pyod/models/vae.py@a7165ec^, fix a7165ec)"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {})]

encoder_neuron_list = [128, 64, 32]  # VAE defaults at a7165ec^
decoder_neuron_list = [32, 64, 128]
latent_dim = 2
dropout_rate = 0.2
lr = 1e-3
weight_decay = 1e-5  # optimizer_params={'weight_decay': 1e-5}
batch_size = 32
random_state = 42
logvar_clip = (-30.0, 20.0)  # the fix


def _raw_data() -> np.ndarray:
    """The fix commit's test data: ``np.random.RandomState(42).randn(64, 10) * 50`` (preprocessing=False)."""
    return (np.random.RandomState(42).randn(64, 10) * 50).astype("float32")


def _build(framework: str, clip: bool) -> dict[str, Any]:
    x = _raw_data()
    feature_size = x.shape[1]
    batches = [(x[i:i + batch_size], x[i:i + batch_size]) for i in range(0, len(x) - batch_size + 1, batch_size)]
    if framework == "keras":
        import keras
        from keras import layers

        keras.utils.set_random_seed(random_state)

        class Sampling(layers.Layer):
            """``reparameterize``: mu + eps * exp(0.5 * logvar) (fixed: logvar clamped first)."""

            def call(self, inputs):
                mu, logvar = inputs
                if clip:
                    logvar = keras.ops.clip(logvar, logvar_clip[0], logvar_clip[1])
                eps = keras.random.normal(keras.ops.shape(mu))
                return mu + eps * keras.ops.exp(0.5 * logvar)

        init = keras.initializers.HeUniform()  # kaiming_uniform_(a=0, fan_in) as in LinearBlock
        inp = keras.Input((feature_size,))
        h = inp
        for n in encoder_neuron_list:
            h = layers.Dense(n, activation="relu", kernel_initializer=init)(h)
            h = layers.Dropout(dropout_rate)(h)
        z_mu = layers.Dense(latent_dim)(h)
        z_logvar = layers.Dense(latent_dim)(h)
        z = Sampling()([z_mu, z_logvar])
        h = z
        for n in decoder_neuron_list:
            h = layers.Dense(n, activation="relu", kernel_initializer=init)(h)
            h = layers.Dropout(dropout_rate)(h)
        out = layers.Dense(feature_size, kernel_initializer=init)(h)  # output_activation_name='identity'
        model = keras.Model(inp, out)
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr, weight_decay=weight_decay), loss="mse")
        return {"model": model, "batch": batches[0], "batches": batches}

    import torch
    from torch import nn

    torch.manual_seed(random_state)

    def get_activation_by_name(name):
        return {"relu": nn.ReLU(), "sigmoid": nn.Sigmoid(), "identity": nn.Identity()}[name]

    class LinearBlock(nn.Module):  # program lines (batch_norm=False)
        def __init__(self, in_features, out_features, activation_name='relu', dropout_rate=0):
            super().__init__()
            self.linear = nn.Linear(in_features, out_features)
            self.activation = get_activation_by_name(activation_name)
            self.dropout_rate = dropout_rate
            if dropout_rate > 0:
                self.dropout = nn.Dropout(p=dropout_rate)
            nn.init.kaiming_uniform_(self.linear.weight, a=0, mode='fan_in', nonlinearity='leaky_relu')

        def forward(self, x):
            x = self.linear(x)
            x = self.activation(x)
            if self.dropout_rate > 0:
                x = self.dropout(x)
            return x

    class VAEModel(nn.Module):  # program lines
        def __init__(self, feature_size, encoder_neuron_list, decoder_neuron_list, latent_dim,
                     hidden_activation_name='relu', output_activation_name='sigmoid', dropout_rate=0.2):
            super().__init__()
            self.feature_size = feature_size
            self.encoder_neuron_list = encoder_neuron_list
            self.decoder_neuron_list = decoder_neuron_list
            self.latent_dim = latent_dim
            self.hidden_activation_name = hidden_activation_name
            self.output_activation_name = output_activation_name
            self.dropout_rate = dropout_rate
            self.encoder = self._build_encoder()
            self.decoder = self._build_decoder()
            self.encoder_mu = nn.Linear(encoder_neuron_list[-1], latent_dim)
            self.encoder_logvar = nn.Linear(encoder_neuron_list[-1], latent_dim)

        def _build_encoder(self):
            encoder_layers = []
            last_neuron_size = self.feature_size
            for neuron_size in self.encoder_neuron_list:
                encoder_layers.append(LinearBlock(last_neuron_size, neuron_size,
                                                  activation_name=self.hidden_activation_name,
                                                  dropout_rate=self.dropout_rate))
                last_neuron_size = neuron_size
            return nn.Sequential(*encoder_layers)

        def _build_decoder(self):
            decoder_layers = []
            last_neuron_size = self.latent_dim
            for neuron_size in self.decoder_neuron_list:
                decoder_layers.append(LinearBlock(last_neuron_size, neuron_size,
                                                  activation_name=self.hidden_activation_name,
                                                  dropout_rate=self.dropout_rate))
                last_neuron_size = neuron_size
            decoder_layers.append(LinearBlock(last_neuron_size, self.feature_size,
                                              activation_name=self.output_activation_name, dropout_rate=0))
            return nn.Sequential(*decoder_layers)

        def forward(self, x):
            z_mu, z_logvar = self.encode(x)
            z = self.reparameterize(z_mu, z_logvar)
            x_recon = self.decode(z)
            return x_recon, z_mu, z_logvar

        def reparameterize(self, mu, logvar):
            if clip:  # the fix: _clamp_logvar(logvar, self.logvar_clip)
                logvar = torch.clamp(logvar, min=logvar_clip[0], max=logvar_clip[1])
            std = torch.exp(0.5 * logvar)
            eps = torch.randn_like(std).to(std.device)
            return mu + eps * std

        def encode(self, x):
            h = self.encoder(x)
            return self.encoder_mu(h), self.encoder_logvar(h)

        def decode(self, z):
            return self.decoder(z)

    class Reconstruction(nn.Module):
        """The VAE with ``x_recon`` as its output (the KL term is zero at ``capacity=0``)."""

        def __init__(self):
            super().__init__()
            self.vae = VAEModel(feature_size, encoder_neuron_list, decoder_neuron_list, latent_dim,
                                output_activation_name='identity', dropout_rate=dropout_rate)

        def forward(self, x):
            return self.vae(x)[0]

    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": Reconstruction(), "batch": tb[0], "batches": tb, "loss_fn": nn.MSELoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr, weight_decay=weight_decay)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, clip=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, clip=True)
