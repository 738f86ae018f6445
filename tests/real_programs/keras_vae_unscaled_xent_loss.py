"""Keras' MLP variational autoencoder example after commit f6bcaffe, which dropped the ``original_dim *``
factor from the reconstruction term: ``objectives.binary_crossentropy`` averages over the 784 pixels
while the KL term is summed over the latent units, so the KL term outweighs the reconstruction by
about 784x. The encoder collapses onto the prior and every input decodes to the same blurry mean
image ("all locations from the latent space are producing the same output").

Source: github.com/keras-team/keras issue #3373 ("Variational Autoencoder example not working
correctly"), fixed by PR #3383 ("brings back the multiplication of original_dim in the xent_loss
term"), on examples/variational_autoencoder.py at f6bcaffe4a67012b4b067038bdbc5d43b807540b:
784 -> Dense 256 ReLU -> z_mean / z_log_var Dense 2, sampling z = mean + exp(log_var / 2) * eps,
decoder Dense 256 ReLU -> Dense 784 sigmoid; loss ``binary_crossentropy(x, x_decoded) + kl_loss``
per sample; optimizer 'rmsprop' (lr 0.001, rho 0.9); batch_size 100, 50 epochs on MNIST / 255.
Keras 3 losses see only (y_true, y_pred), so the model outputs ``[x_decoded_mean, z_mean,
z_log_var]`` concatenated (784 + 2 + 2) and the loss slices them: the same objective as the closure
over ``z_mean`` / ``z_log_var`` in the program. Data: MNIST stand-in (_data.mnist_like: 28x28 uint8
0..255, / 255, flattened to 784 float32), 300 images, the target is the input.
Fault label: other:kl_outweighs_reconstruction (loss terms on mismatched scales: mean over pixels
against sum over latent units). Fix (PR #3383): ``xent_loss = original_dim * binary_crossentropy(...)``.
Torch twin: the same VAE and loss written with nn.Linear / F.binary_cross_entropy (mean) and
torch.optim.RMSprop(lr=0.001, alpha=0.9).
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "other:kl_outweighs_reconstruction"
SOURCE = "github:keras-team/keras issue #3373, PR #3383 (examples/variational_autoencoder.py@f6bcaffe)"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {})]

BATCH_SIZE = 100
ORIGINAL_DIM = 784
LATENT_DIM = 2
INTERMEDIATE_DIM = 256


def _data_xy() -> Any:
    imgs, _ = _data.mnist_like(300)
    return (imgs.astype("float32") / 255.0).reshape(len(imgs), ORIGINAL_DIM)


def _build(framework: str, scale_xent: bool) -> dict[str, Any]:
    x = _data_xy()
    xent_scale = float(ORIGINAL_DIM) if scale_xent else 1.0
    if framework == "keras":
        import keras
        from keras import layers, ops

        class Sampling(layers.Layer):
            def __init__(self, **kwargs: Any) -> None:
                super().__init__(**kwargs)
                self.seed_generator = keras.random.SeedGenerator(1337)

            def call(self, inputs):
                z_mean, z_log_var = inputs
                epsilon = keras.random.normal(ops.shape(z_mean), mean=0.0, seed=self.seed_generator)
                return z_mean + ops.exp(z_log_var / 2) * epsilon

        # program lines: examples/variational_autoencoder.py@f6bcaffe (encoder, sampling, decoder, vae_loss)
        inp = keras.Input((ORIGINAL_DIM,))
        h = layers.Dense(INTERMEDIATE_DIM, activation="relu")(inp)
        z_mean = layers.Dense(LATENT_DIM)(h)
        z_log_var = layers.Dense(LATENT_DIM)(h)
        z = Sampling()([z_mean, z_log_var])
        h_decoded = layers.Dense(INTERMEDIATE_DIM, activation="relu")(z)
        x_decoded_mean = layers.Dense(ORIGINAL_DIM, activation="sigmoid")(h_decoded)
        out = layers.Concatenate()([x_decoded_mean, z_mean, z_log_var])

        def vae_loss(x_true, y_pred):
            x_dec = y_pred[:, :ORIGINAL_DIM]
            zm = y_pred[:, ORIGINAL_DIM:ORIGINAL_DIM + LATENT_DIM]
            zlv = y_pred[:, ORIGINAL_DIM + LATENT_DIM:]
            xent_loss = xent_scale * keras.losses.binary_crossentropy(x_true, x_dec)
            kl_loss = -0.5 * ops.sum(1 + zlv - ops.square(zm) - ops.exp(zlv), axis=-1)
            return xent_loss + kl_loss

        model = keras.Model(inp, out)
        model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.001, rho=0.9), loss=vae_loss)
        return {"model": model, "batch": (x[:BATCH_SIZE], x[:BATCH_SIZE]),
                "batches": _data.batches(x, x, BATCH_SIZE)}

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from tests.real_programs import _nets

    class VAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.h = _nets.torch_dense(ORIGINAL_DIM, INTERMEDIATE_DIM)
            self.z_mean = _nets.torch_dense(INTERMEDIATE_DIM, LATENT_DIM)
            self.z_log_var = _nets.torch_dense(INTERMEDIATE_DIM, LATENT_DIM)
            self.decoder_h = _nets.torch_dense(LATENT_DIM, INTERMEDIATE_DIM)
            self.decoder_mean = _nets.torch_dense(INTERMEDIATE_DIM, ORIGINAL_DIM)

        def forward(self, x):
            h = F.relu(self.h(x))
            z_mean, z_log_var = self.z_mean(h), self.z_log_var(h)
            z = z_mean + torch.exp(z_log_var / 2) * torch.randn_like(z_mean)
            x_decoded_mean = torch.sigmoid(self.decoder_mean(F.relu(self.decoder_h(z))))
            return torch.cat([x_decoded_mean, z_mean, z_log_var], dim=1)

    def vae_loss(y_pred, x_true):
        x_dec = y_pred[:, :ORIGINAL_DIM]
        zm = y_pred[:, ORIGINAL_DIM:ORIGINAL_DIM + LATENT_DIM]
        zlv = y_pred[:, ORIGINAL_DIM + LATENT_DIM:]
        xent_loss = xent_scale * F.binary_cross_entropy(x_dec, x_true, reduction="none").mean(dim=-1)
        kl_loss = -0.5 * torch.sum(1 + zlv - zm.pow(2) - zlv.exp(), dim=-1)
        return (xent_loss + kl_loss).mean()

    xt = torch.tensor(x)
    return {"model": VAE(), "batch": (xt[:BATCH_SIZE], xt[:BATCH_SIZE]),
            "batches": _data.batches(xt, xt, BATCH_SIZE), "loss_fn": vae_loss,
            "optimizer": lambda p: torch.optim.RMSprop(p, lr=0.001, alpha=0.9, eps=1e-7)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, scale_xent=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, scale_xent=True)
