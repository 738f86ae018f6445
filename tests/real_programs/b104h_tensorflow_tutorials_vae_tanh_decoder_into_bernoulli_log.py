"""pkmital/tensorflow_tutorials (Parag K. Mital's TensorFlow tutorials, 2016), ``python/11_variational_autoencoder.py``:
``VAE()`` builds a fully connected variational autoencoder for MNIST (784 inputs; encoder of three softplus layers of
2048 units, a 2-d latent code ``z_mu`` / ``z_log_sigma = 0.5 * (...)``, ``z = z_mu + tf.exp(z_log_sigma) *
epsilon``; decoder of three softplus layers of 2048 units and a 784-unit output ``y``), every weight and bias drawn
from N(0, 0.01) by ``libs/utils.py`` ``weight_variable`` / ``bias_variable``. The cost is the negative ELBO with a
Bernoulli likelihood written out by hand, ``-tf.reduce_sum(x * tf.log(y + 1e-10) + (1 - x) * tf.log(1 - y +
1e-10), 1)`` plus the Gaussian KL term, averaged over the batch; ``test_mnist`` trains it with
``tf.train.AdamOptimizer(0.001)`` on MNIST from ``input_data.read_data_sets`` (pixels in [0, 1]), batches of 100,
50 epochs, and prints the training and validation cost after every epoch.

The fault: the decoder's output is ``y = tf.nn.tanh(tf.matmul(h_dec3, W_mu_dec) + b_mu_dec)``, values in (-1, 1),
while the likelihood treats ``y`` as Bernoulli probabilities in (0, 1). Wherever ``y`` is negative,
``tf.log(y + 1e-10)`` is NaN, and ``x * NaN`` stays NaN even for the black pixels (``x = 0``), so the cost of every
batch is NaN from the very first step: the program prints ``nan`` costs for the whole run. The weights do not turn
NaN, because the gradient of ``log(y)`` is ``1 / y``, finite for negative ``y``: the optimiser keeps moving them along
``d cost / d y = -x / y + (1 - x) / (1 - y)``, which is positive for every negative ``y``, so every output that starts
negative is pushed further down until tanh saturates at -1. The trained model paints most pixels at -1 and does not
reconstruct its input, and the reported loss says nothing about it.

Source: github.com/pkmital/tensorflow_tutorials ``python/11_variational_autoencoder.py`` at
d3e55e81814f7fe2a0903208b3df49e280d9864e (= 7c3d13e^; the file as written in 6ccbaad "restructuring", 2016-02-19,
then only a spelling fix), with ``python/libs/utils.py`` of the same commit. Issue #23 "VAE costs are nan"
(2016-08-19): the reporter ran the example, saw the costs reported as nan, suspected the tanh of line 77 feeding
negative values of ``y`` into the logs of lines 81-82, and checked that sigmoid solves it; the maintainer answered
"ty! I have updated!". The fix, 7c3d13ee2574ced24a89630900e27b4278b12240 "updating vae" (the same day), changes
that one line to ``y = tf.nn.sigmoid(tf.matmul(h_dec3, W_mu_dec) + b_mu_dec)``.
Fault label: output_activation|loss_not_finite (a tanh output under a hand-written Bernoulli log-likelihood: the log
of negative outputs makes the loss NaN at every step).

Program lines kept: the architecture (3 + 3 softplus layers, 2 latent units, ``z_log_sigma = 0.5 * (...)``, the
reparameterisation with N(0, 1) noise drawn per sample in every forward pass, training or not), the N(0, 0.01)
initialisation of all weights and biases, the output line (tanh in the buggy version, sigmoid in the fixed one),
``log_px_given_z`` and ``kl_div`` as written (with their 1e-10), the batch mean of their sum, Adam with learning
rate 0.001 (epsilon 1e-8 as in TF1's AdamOptimizer), batch size 100, pixels in [0, 1] as both input and target.
Shrunk: ``n_components_encoder`` and ``n_components_decoder`` 2048 -> 256 (``N_COMPONENTS``), because one step of
the full-width model (about 20 M weights) took ~0.96 s on one thread here against ~0.05 s at 256; the depth and the
2-d latent code are the program's. The fault does not depend on the width: at initialisation 49.4 % / 51.4 % /
52.3 % of the held-out outputs are negative at widths 256 / 512 / 2048 (the output pre-activations are sums of small
random weights and biases), and the first loss is NaN at all three.
Ported: TensorFlow 1 graph code -> a torch module and a Keras 3 model with the same layers, initialisation, loss and
optimiser (Keras is the program's own TensorFlow; torch is a faithful twin, the fault being one activation in
front of a hand-written loss). torch: ``forward`` returns ``y`` and keeps ``z_mu`` / ``z_log_sigma`` on the model,
where ``loss_fn(y, x)`` reads them, as the program's cost reads those graph tensors. Keras: the model adds the
batch-mean KL term with ``add_loss`` and is compiled with ``log_px_given_z`` per sample (Keras takes its batch mean),
which together give the program's ``tf.reduce_mean(log_px_given_z + kl_div)``; the noise comes from a seeded
``keras.random.SeedGenerator``. The plotting of ``test_mnist`` (latent manifold, reconstructions) is left out.
Data stand-in (no MNIST download): 28x28 digits from ``_data.mnist_like`` (scikit-learn's 8x8 digits blown up 3x3
and padded), each drawn image shifted by -2..2 pixels in x and y and scaled by 0.7..1.0 in intensity, /255 and
flattened to (n, 784) float32 in [0, 1] as ``read_data_sets`` gives MNIST; training images from the first 1500
digits, held-out ones from the last 297. ``batches``: 50 distinct batches of 100 (x, x); ``batch``: the first;
``inputs``: 256 held-out images.

Measured (my own plain loops on the module's builds, OMP_NUM_THREADS=1, seed 0, the 50 batches cycled in order,
1000 Adam steps = 20 passes; /tmp/s60/p/h/measure.py, buggy_trace.py, longfixed.py, initneg.py):
  training loss, means of 100-step blocks:
    torch buggy  nan at every step from step 0 (all 1000 losses NaN)
    torch fixed  294.4 281.5 281.5 281.5 281.4 280.8 278.4 273.4 268.1 266.5 (543.95 / 501.27 / 460.74 at steps 0-2)
    Keras buggy  nan at every step from step 0
    Keras fixed  294.3 281.5 281.5 281.5 281.4 281.2 279.3 273.9 267.0 265.7 (543.40 / 500.45 / 459.71 at steps 0-2)
  parameters stay finite in both versions (gradient norm of the buggy torch model 12705 at step 0, then 384 / 65 /
    64 / 73 at steps 10 / 50 / 100 / 300; fixed 113 at step 0, then 12-84).
  held-out images after 1000 steps (torch / Keras): outputs in [-1.000, 0.609] / [-1.000, 0.628] buggy, with 73.1 % /
    74.6 % of all output values at or below -0.99, against [0.000, 0.809] fixed; mean squared error to the input
    1.007 / 1.046 buggy, 0.0459 / 0.0458 fixed (the held-out images' own mean image: 0.0521); Bernoulli
    reconstruction cost with the outputs clipped to [1e-10, 1 - 1e-10] 1818 / 1984 buggy, 255.4 / 254.7 fixed
    (that mean image: 270.9).
  buggy torch model on the held-out images during training: 49.4 % of the outputs negative at step 0, 72.1 % at
    step 10, 72.7 % at step 50 (56.6 % of all values already <= -0.99), 73.1 % at step 300 (72.3 % <= -0.99); MSE to
    the input 0.137 at step 0, 0.93 at step 10, 1.00 from step 100 on.
  The fixed program learns slowly at first: it fits the mean image within ~50 steps (held-out MSE 0.0528) and stays
    there, KL term ~0, until ~700-800 steps, then starts to use its latent code (torch, 2000 steps at width 256:
    held-out cost 273.2 / 273.1 / 268.3 / 261.1 / 248.9 at steps 200 / 600 / 800 / 1000 / 2000, KL 0.0 -> 2.7);
    the same plateau of ~700-800 steps at width 512, and at width 1024 no escape within 500 steps, so it belongs to
    the program's small N(0, 0.01) initialisation, not to the shrinking.
  Time per step (batch 100, one thread, shared machine): torch ~35-65 ms, Keras ``train_on_batch`` ~45-52 ms.
    Build: first torch build ~10 s (imports, data), later 0.02 s; first Keras build ~11 s (TensorFlow import), later
    ~0.45 s. Builds are identical across processes, and the buggy and fixed models start from the same weights.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "output_activation|loss_not_finite"
SOURCE = ("github:pkmital/tensorflow_tutorials issue #23 'VAE costs are nan' (python/11_variational_autoencoder.py "
          "VAE + test_mnist, python/libs/utils.py weight_variable / bias_variable "
          "@d3e55e81814f7fe2a0903208b3df49e280d9864e = 7c3d13e^, file from 6ccbaad 'restructuring'; fix "
          "7c3d13ee2574ced24a89630900e27b4278b12240 'updating vae': y = tf.nn.tanh(...) -> tf.nn.sigmoid(...))")
FRAMEWORKS = ("torch", "keras")

# 11_variational_autoencoder.py: VAE(input_shape=[None, 784], n_components_encoder=2048, n_components_decoder=2048,
# n_hidden=2); test_mnist: AdamOptimizer(0.001), batch_size = 100
N_FEATURES = 784
N_COMPONENTS = 256  # shrunk from 2048 (encoder and decoder), see the docstring
N_HIDDEN = 2
LEARNING_RATE = 0.001
BATCH_SIZE = 100
INIT_STDDEV = 0.01  # libs/utils.py: weight_variable and bias_variable, tf.random_normal(shape, 0.0, 0.01)
# stand-in
N_BATCHES = 50
N_INPUTS = 256
SEED = 0

CHECKS = [("overfit_one_batch", {"task": "regression"}), ("loss_decreases", {"task": "regression"}),
          ("output_range", {"kind": "sigmoid"}), ("gradients_flow", {})]


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    """MNIST-like digits as input_data.read_data_sets gives them: (n, 784) float32 in [0, 1]. Training images from
    the first 1500 of scikit-learn's digits (via ``_data.mnist_like``), each shifted by -2..2 pixels and scaled by
    0.7..1.0 in intensity so that the batches differ; held-out images from the last 297."""
    from tests.real_programs._data import mnist_like

    x0, _ = mnist_like(1797)
    r = np.random.default_rng(SEED)
    n_tr = N_BATCHES * BATCH_SIZE
    src = np.concatenate([r.integers(0, 1500, n_tr), r.integers(1500, 1797, N_INPUTS)])
    xs = np.zeros((len(src), 28, 28), "float32")
    for i, s in enumerate(src):
        dy, dx = r.integers(-2, 3, 2)
        xs[i] = np.roll(np.roll(x0[s].astype("float32"), dy, 0), dx, 1)
    xs = np.round(xs * r.uniform(0.7, 1.0, (len(src), 1, 1)))  # still uint8 grey levels
    x = (xs / 255.0).reshape(-1, N_FEATURES).astype("float32")
    return x[:n_tr], x[n_tr:]


def _common() -> dict[str, Any]:
    x, xh = _data()
    bs = [(x[i:i + BATCH_SIZE], x[i:i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)]  # targets: the input
    return {"batch": bs[0], "batches": bs, "inputs": xh}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)

    def dense(n_in: int, n_out: int) -> nn.Linear:  # weight_variable / bias_variable
        layer = nn.Linear(n_in, n_out)
        nn.init.normal_(layer.weight, 0.0, INIT_STDDEV)
        nn.init.normal_(layer.bias, 0.0, INIT_STDDEV)
        return layer

    class VAE(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc1 = dense(N_FEATURES, N_COMPONENTS)
            self.enc2 = dense(N_COMPONENTS, N_COMPONENTS)
            self.enc3 = dense(N_COMPONENTS, N_COMPONENTS)
            self.mu = dense(N_COMPONENTS, N_HIDDEN)
            self.log_sigma = dense(N_COMPONENTS, N_HIDDEN)
            self.dec1 = dense(N_HIDDEN, N_COMPONENTS)
            self.dec2 = dense(N_COMPONENTS, N_COMPONENTS)
            self.dec3 = dense(N_COMPONENTS, N_COMPONENTS)
            self.mu_dec = dense(N_COMPONENTS, N_FEATURES)
            self.z_mu: Any = None
            self.z_log_sigma: Any = None

        def forward(self, x: Any) -> Any:
            activation = nn.functional.softplus
            h_enc1 = activation(self.enc1(x))
            h_enc2 = activation(self.enc2(h_enc1))
            h_enc3 = activation(self.enc3(h_enc2))
            z_mu = self.mu(h_enc3)
            z_log_sigma = 0.5 * self.log_sigma(h_enc3)
            self.z_mu, self.z_log_sigma = z_mu, z_log_sigma  # read by the loss, as the program's graph does
            epsilon = torch.randn(x.shape[0], N_HIDDEN)  # tf.random_normal(tf.pack([tf.shape(x)[0], n_hidden]))
            z = z_mu + torch.exp(z_log_sigma) * epsilon
            h_dec1 = activation(self.dec1(z))
            h_dec2 = activation(self.dec2(h_dec1))
            h_dec3 = activation(self.dec3(h_dec2))
            if fixed:  # 7c3d13e
                return torch.sigmoid(self.mu_dec(h_dec3))
            return torch.tanh(self.mu_dec(h_dec3))  # y = tf.nn.tanh(tf.matmul(h_dec3, W_mu_dec) + b_mu_dec)

    model = VAE()

    def loss_fn(y: Any, x: Any) -> Any:
        # p(x|z)
        log_px_given_z = -torch.sum(
            x * torch.log(y + 1e-10) +
            (1 - x) * torch.log(1 - y + 1e-10), 1)
        # d_kl(q(z|x)||p(z))
        z_mu, z_log_sigma = model.z_mu, model.z_log_sigma
        kl_div = -0.5 * torch.sum(
            1.0 + 2.0 * z_log_sigma - torch.square(z_mu) - torch.exp(2.0 * z_log_sigma),
            1)
        return torch.mean(log_px_given_z + kl_div)

    c = _common()
    t = torch.from_numpy
    bs = [(t(x), t(y)) for x, y in c["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(c["inputs"]), "loss_fn": loss_fn,
            "optimizer": torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=1e-8)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import ops

    keras.utils.set_random_seed(SEED)

    def dense(n_out: int, activation: Any = None) -> Any:  # weight_variable / bias_variable
        return keras.layers.Dense(n_out, activation=activation,
                                  kernel_initializer=keras.initializers.RandomNormal(0.0, INIT_STDDEV),
                                  bias_initializer=keras.initializers.RandomNormal(0.0, INIT_STDDEV))

    class VAE(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            activation = "softplus"
            self.enc = [dense(N_COMPONENTS, activation) for _ in range(3)]
            self.mu = dense(N_HIDDEN)
            self.log_sigma = dense(N_HIDDEN)
            self.dec = [dense(N_COMPONENTS, activation) for _ in range(3)]
            self.mu_dec = dense(N_FEATURES)
            self.noise = keras.random.SeedGenerator(SEED)

        def call(self, x: Any) -> Any:
            h = x
            for layer in self.enc:
                h = layer(h)
            z_mu = self.mu(h)
            z_log_sigma = 0.5 * self.log_sigma(h)
            epsilon = keras.random.normal(ops.shape(z_mu), seed=self.noise)
            z = z_mu + ops.exp(z_log_sigma) * epsilon
            h = z
            for layer in self.dec:
                h = layer(h)
            if fixed:  # 7c3d13e
                y = ops.sigmoid(self.mu_dec(h))
            else:
                y = ops.tanh(self.mu_dec(h))  # y = tf.nn.tanh(tf.matmul(h_dec3, W_mu_dec) + b_mu_dec)
            # d_kl(q(z|x)||p(z)), averaged over the batch like p(x|z) by Keras: tf.reduce_mean(log_px_given_z + kl_div)
            kl_div = -0.5 * ops.sum(
                1.0 + 2.0 * z_log_sigma - ops.square(z_mu) - ops.exp(2.0 * z_log_sigma),
                1)
            self.add_loss(ops.mean(kl_div))
            return y

    def log_px_given_z(x: Any, y: Any) -> Any:  # p(x|z), one value per sample
        return -ops.sum(
            x * ops.log(y + 1e-10) +
            (1 - x) * ops.log(1 - y + 1e-10), 1)

    model = VAE()
    model(np.zeros((1, N_FEATURES), "float32"))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, epsilon=1e-8), loss=log_px_given_z)
    return {"model": model, **_common()}


buggy, fixed = versions(_torch, _keras)
