"""wiseodd/generative-models (Agustinus Kristiadi's collection of generative models, each in TensorFlow and in PyTorch):
``VAE/adversarial_vb/avb_tensorflow.py`` and ``avb_pytorch.py``, Adversarial Variational Bayes (Mescheder et al. 2017)
on MNIST (``input_data.read_data_sets``: 784 floats in [0, 1] per image). Three small MLPs: the encoder ``Q(z|X,eps)``
(Linear(784 + 4, 128) -> ReLU -> Linear(128, 10), the noise ``eps ~ N(0, I_4)`` concatenated to the image, an implicit
posterior), the decoder ``P(X|z)`` (Linear(10, 128) -> ReLU -> Linear(128, 784) -> sigmoid) and the discriminator
``T(X, z)`` (Linear(784 + 10, 128) -> ReLU -> Linear(128, 1)), which learns ``log q(z|x) - log p(z)``. Each iteration
(``mb_size = 32``): the VAE step maximises ``elbo = disc + loglike`` with ``disc = mean(-T(X, z_sample))`` over the
encoder and decoder, then the discriminator step maximises ``mean(log sigmoid(T(X, z_q)) + log(1 - sigmoid(T(X,
z_prior))))``; Adam with lr 1e-3 everywhere (TF: ``tf.train.AdamOptimizer()`` for ``theta_P + theta_Q`` and for
``theta_D``; torch: ``Q_solver``, ``P_solver``, ``T_solver``).

The fault (a loss reduction): the reconstruction term was ``loglike = -tf.reduce_mean(
tf.nn.sigmoid_cross_entropy_with_logits(logits=X_logits, labels=X))`` (torch: ``-nn.binary_cross_entropy(X_sample,
X)``), the cross-entropy averaged over the batch *and the 784 pixels*. The ELBO needs ``log p(x|z)`` of the whole
image, a sum over the pixels, next to the per-sample KL estimate ``T(x, z)``; averaged over pixels the
reconstruction weighs 1/784 of what it should, the adversarial KL term dominates, and the encoder is driven to make
``z`` look like the prior whatever ``x`` is: the code stops carrying the image (posterior collapse) and the decoder
falls back on an average digit. The author fixed both files in one commit, "Fix ELBO term scaling".

Source: github.com/wiseodd/generative-models ``VAE/adversarial_vb/avb_tensorflow.py`` and ``avb_pytorch.py`` at
e8d98dbd34a34990fb671cb331a7beef0b8cbab1 (= 300bda9^), fix 300bda9e1a0a37fd9cb9d6d3dede9e5fb22ca153 "Fix ELBO term
scaling" (by the author): TF ``nll = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(logits=X_logits, labels=X),
axis=1); loglike = -tf.reduce_mean(nll)``, torch ``loglike = -nn.binary_cross_entropy(X_sample, X, size_average=False) /
mb_size``.
Fault label: other:kl_outweighs_reconstruction (the reconstruction log-likelihood is scaled down by the number of
pixels, so the KL term outweighs it and the latent code ignores the input).

Program lines kept: the constants (``mb_size = 32``, ``z_dim = 10``, ``eps_dim = 4``, ``h_dim = 128``, lr 1e-3, the
``log(x + 1e-8)`` helper), the three networks as written in each file (torch: ``nn.Sequential`` with torch's default
init; TF: the file's ``xavier_init`` = normal with stddev ``1 / sqrt(in_dim / 2)`` and zero biases, the decoder
returning logits), the two updates per iteration with fresh ``eps`` and prior ``z`` draws, the buggy / fixed
``loglike`` lines of each file.
Ported (sizes as written, nothing shrunk): the checks see the model as ``X -> P(Q([X, eps]))`` (the reconstruction
probabilities; ``eps`` drawn inside the forward, as each iteration draws it), with targets ``y = X``, and ``loss_fn`` =
the file's reconstruction NLL (buggy: mean over pixels and batch; fixed: summed over pixels, mean over the batch).
Torch: ``train_step(model, optimizer, loss_fn, x, y)`` is one iteration of the loop; the three Adams (lr 1e-3, torch
defaults) become one Adam over ``model.parameters()`` whose step only touches the parameters that have a gradient: after
the VAE backward the discriminator's gradients are set to ``None`` (the program zeroes them with ``reset_grad()`` and
never steps ``T_solver`` there), after the discriminator backward the encoder's and decoder's are, so each parameter
gets exactly the Adam updates it gets in the program. Keras twin (of the TF file, Keras 3 on TensorFlow): a subclassed
``keras.Model`` holding the three networks (Dense layers with the file's init) whose ``train_step`` runs the two updates
with ``tf.GradientTape`` (VAE: the compiled ``Adam(1e-3, epsilon=1e-8)``, the TF1 ``AdamOptimizer`` defaults, over
``theta_Q + theta_P``; discriminator: a second Adam over ``theta_D``), compiled with the reconstruction loss above;
``train_on_batch`` reports ``-elbo``.
Data stand-in: no MNIST download: ``_data.mnist_like`` (scikit-learn's 1,797 8x8 digits blown up to 28x28, 0..255)
divided by 255 and flattened: 784 floats in [0, 1] with mostly-black backgrounds, like ``mnist.train.images``. The
first 1,536 images train (``next_batch(32)``: shuffled epochs), the last 256 are held out (``inputs``). ``batches``:
8 training batches of 32; ``baseline_batch``: 128 training images.

Measured (my own plain loops, /tmp/s46/h_b/measure.py, OMP_NUM_THREADS=1, the module's builds: 3,000 iterations of
the program's loop (``train_step`` / ``train_on_batch``) over shuffled epochs of the 1,536 training images, seed 0;
"recon BCE" = per-pixel binary cross-entropy of the 256 held-out images' reconstructions (the mean training image
scores 0.304); "z probe" = accuracy of a logistic regression from the encoder's codes (eps = 0) of 768 images to
their digit, scored on the other 1,024 (chance 0.10); "z std" = spread of the codes across images):
  torch buggy, at 500 / 1,500 / 3,000 steps: recon BCE 0.306 / 0.305 / 0.304, z probe 0.10 / 0.09 / 0.10, z std
    0.000 / 0.027 / 0.000 (the untrained encoder already gives a 0.63 probe); fixed: recon BCE 0.202 / 0.187 / 0.184,
    z probe 0.88 / 0.89 / 0.89, z std 3.3 / 2.4 / 1.1. The buggy code collapses onto one point within 500 steps and
    the decoder outputs the average digit (its BCE equals the mean image's).
  Keras buggy, at 500 / 1,500: recon BCE 0.307 / 0.306, z probe 0.13 / 0.10, z std 0.15 / 0.000, and in this run
    the loss went NaN at step 2,794 (another run without the probes' extra noise draws stayed finite to 2,800:
    with the code collapsed, the discriminator separates it from the prior ever more sharply, T(x, z_q) ~ +2 and
    T(x, z_prior) ~ -4 by then); fixed: recon BCE 0.197 / 0.187 / 0.185 (3,000), z probe 0.90 / 0.91 / 0.91.
  The step's loss (-elbo): torch buggy 0.66 (mean of the first 20 steps) -> 1.89 (mean of the last 200), fixed
    444 -> 147; Keras buggy 0.86 -> NaN, fixed 495 -> 150: the buggy objective is dominated by the KL estimate,
    which grows as the discriminator wins.
  Time per iteration (both updates, batch 32, one loaded thread): torch ~6 ms, Keras ``train_on_batch`` ~6 ms.
    Builds: first (imports, data) torch 1.6 s, Keras 4.8 s; later 0.0 s / 0.1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:kl_outweighs_reconstruction"
SOURCE = ("github:wiseodd/generative-models commit 300bda9 'Fix ELBO term scaling' "
          "(VAE/adversarial_vb/avb_tensorflow.py and avb_pytorch.py @e8d98db = 300bda9^: loglike = "
          "-tf.reduce_mean(sigmoid_cross_entropy_with_logits(...)) / -nn.binary_cross_entropy(X_sample, X); "
          "fix 300bda9e1a0a37fd9cb9d6d3dede9e5fb22ca153: sum over pixels, mean over the batch)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("input_independent_baseline", {}),
          ("gradients_flow", {})]

# avb_tensorflow.py / avb_pytorch.py
mb_size = 32
z_dim = 10
eps_dim = 4
X_dim = 784
h_dim = 128
lr = 1e-3
# port
N_TRAIN = 1536
N_TEST = 256
N_BATCHES = 8
N_BASELINE = 128
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _images() -> np.ndarray:
    """(1792, 784) float32 in [0, 1]: the stand-in for ``mnist.train.images``."""
    from tests.real_programs._data import mnist_like

    x, _ = mnist_like(N_TRAIN + N_TEST)
    return (x.reshape(len(x), X_dim) / 255.0).astype("float32")


@functools.lru_cache(maxsize=1)
def _labels() -> np.ndarray:
    """Digit of each image (only for the measurement's probe; the program never reads labels)."""
    from tests.real_programs._data import mnist_like

    return mnist_like(N_TRAIN + N_TEST)[1]


def _common() -> dict[str, Any]:
    x = _images()
    train = x[:N_TRAIN]
    r = np.random.default_rng(SEED)
    order = r.permutation(N_TRAIN)  # mnist.train.next_batch(mb_size): one shuffled epoch
    bs = [(train[order[i * mb_size:(i + 1) * mb_size]],) * 2 for i in range(N_BATCHES)]
    base = train[order[N_BATCHES * mb_size:N_BATCHES * mb_size + N_BASELINE]]
    return {"batches": bs, "baseline_batch": (base, base), "inputs": x[N_TRAIN:]}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn
    import torch.nn.functional as nn

    torch.manual_seed(SEED)

    def log(x):
        return torch.log(x + 1e-8)

    class AVB(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # Encoder: q(z|x,eps)
            self.Q = torch.nn.Sequential(
                torch.nn.Linear(X_dim + eps_dim, h_dim),
                torch.nn.ReLU(),
                torch.nn.Linear(h_dim, z_dim)
            )
            # Decoder: p(x|z)
            self.P = torch.nn.Sequential(
                torch.nn.Linear(z_dim, h_dim),
                torch.nn.ReLU(),
                torch.nn.Linear(h_dim, X_dim),
                torch.nn.Sigmoid()
            )
            # Discriminator: T(X, z)
            self.T = torch.nn.Sequential(
                torch.nn.Linear(X_dim + z_dim, h_dim),
                torch.nn.ReLU(),
                torch.nn.Linear(h_dim, 1)
            )

        def forward(self, X: Any) -> Any:
            """Reconstruction probabilities P(Q([X, eps])), eps ~ N(0, I) drawn per call."""
            eps = torch.randn(X.shape[0], eps_dim)
            return self.P(self.Q(torch.cat([X, eps], 1)))

    model = AVB()

    def loss_fn(X_sample: Any, X: Any) -> Any:
        """The file's reconstruction NLL (-loglike)."""
        if fixed:  # fix (300bda9)
            return nn.binary_cross_entropy(X_sample, X, reduction="sum") / X.shape[0]
        return nn.binary_cross_entropy(X_sample, X)

    def _drop_grads(*modules: Any) -> None:
        for m in modules:
            for p in m.parameters():
                p.grad = None

    def train_step(model: Any, optimizer: Any, loss_fn: Any, x: Any, y: Any) -> float:
        """One iteration of the loop: the VAE update (Q_solver, P_solver), then the T update (T_solver)."""
        X = x
        mb = X.shape[0]
        eps = torch.randn(mb, eps_dim)
        z = torch.randn(mb, z_dim)

        # Optimize VAE
        z_sample = model.Q(torch.cat([X, eps], 1))
        X_sample = model.P(z_sample)
        T_sample = model.T(torch.cat([X, z_sample], 1))

        disc = torch.mean(-T_sample)
        if fixed:  # fix (300bda9)
            loglike = -nn.binary_cross_entropy(X_sample, X, reduction="sum") / mb
        else:
            loglike = -nn.binary_cross_entropy(X_sample, X)

        elbo = -(disc + loglike)

        elbo.backward()
        _drop_grads(model.T)  # Q_solver.step(); P_solver.step() -- T_solver is not stepped here
        optimizer.step()
        model.zero_grad(set_to_none=True)  # reset_grad()

        # Discriminator T(X, z)
        z_sample = model.Q(torch.cat([X, eps], 1))
        T_q = torch.sigmoid(model.T(torch.cat([X, z_sample], 1)))
        T_prior = torch.sigmoid(model.T(torch.cat([X, z], 1)))

        T_loss = -torch.mean(log(T_q) + log(1. - T_prior))

        T_loss.backward()
        _drop_grads(model.Q, model.P)  # T_solver.step()
        optimizer.step()
        model.zero_grad(set_to_none=True)  # reset_grad()
        return float(elbo.item())

    d = _common()

    def t(a: np.ndarray) -> Any:
        return torch.from_numpy(np.ascontiguousarray(a))

    bs = [(t(x), t(y)) for x, y in d["batches"]]
    bx, by = d["baseline_batch"]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(d["inputs"]),
            "baseline_batch": (t(bx), t(by)), "loss_fn": loss_fn, "train_step": train_step,
            "optimizer": lambda params: torch.optim.Adam(params, lr=lr)}  # Q_solver / P_solver / T_solver


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(SEED)

    def log(x):
        return tf.math.log(x + 1e-8)

    def xavier_init() -> Any:  # xavier_init(size): tf.random_normal(size, stddev=1. / tf.sqrt(in_dim / 2.))
        return keras.initializers.VarianceScaling(scale=2.0, mode="fan_in", distribution="untruncated_normal")

    def dense(units: int, activation: Any = None) -> Any:
        return keras.layers.Dense(units, activation=activation, kernel_initializer=xavier_init(),
                                  bias_initializer="zeros")

    def mlp(n_in: int, n_out: int, name: str) -> Any:
        return keras.Sequential([keras.Input(shape=(n_in,)), dense(h_dim, "relu"), dense(n_out)], name=name)

    def nll(X: Any, X_logits: Any) -> Any:
        """-loglike per sample for Keras' batch mean."""
        xent = tf.nn.sigmoid_cross_entropy_with_logits(logits=X_logits, labels=X)
        if fixed:  # fix (300bda9): nll = tf.reduce_sum(xent, axis=1); loglike = -tf.reduce_mean(nll)
            return tf.reduce_sum(xent, axis=1)
        return tf.reduce_mean(xent, axis=1)  # loglike = -tf.reduce_mean(xent): mean over pixels, then batch

    class AVB(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.Q_net = mlp(X_dim + eps_dim, z_dim, "Q")  # Q(z|X,eps)
            self.P_net = mlp(z_dim, X_dim, "P")  # P(X|z), logits
            self.D_net = mlp(X_dim + z_dim, 1, "D")  # D(X, z)
            self.seed_gen = keras.random.SeedGenerator(SEED)
            self.D_solver = keras.optimizers.Adam(learning_rate=lr, epsilon=1e-8)

        def Q(self, X: Any, eps: Any) -> Any:
            return self.Q_net(tf.concat(axis=1, values=[X, eps]))

        def P(self, z: Any) -> Any:
            logits = self.P_net(z)
            return tf.nn.sigmoid(logits), logits

        def D(self, X: Any, z: Any) -> Any:
            return self.D_net(tf.concat([X, z], axis=1))

        def call(self, X: Any) -> Any:
            eps = keras.random.normal((tf.shape(X)[0], eps_dim), seed=self.seed_gen)
            return self.P(self.Q(X, eps))[0]

        def train_step(self, data: Any) -> Any:
            X, _, _ = keras.utils.unpack_x_y_sample_weight(data)
            eps = keras.random.normal((tf.shape(X)[0], eps_dim), seed=self.seed_gen)
            z = keras.random.normal((tf.shape(X)[0], z_dim), seed=self.seed_gen)
            theta_QP = self.Q_net.trainable_variables + self.P_net.trainable_variables
            with tf.GradientTape() as tape:
                z_sample = self.Q(X, eps)
                _, X_logits = self.P(z_sample)
                D_sample = self.D(X, z_sample)
                disc = tf.reduce_mean(-D_sample)
                loglike = -tf.reduce_mean(nll(X, X_logits))
                elbo = disc + loglike
                neg_elbo = -elbo  # the tape must see the negation minimize(-elbo) differentiates
            # VAE_solver = tf.train.AdamOptimizer().minimize(-elbo, var_list=theta_P+theta_Q)
            self.optimizer.apply_gradients(zip(tape.gradient(neg_elbo, theta_QP), theta_QP))

            theta_D = self.D_net.trainable_variables
            with tf.GradientTape() as tape:
                z_sample = self.Q(X, eps)
                D_q = tf.nn.sigmoid(self.D(X, z_sample))
                D_prior = tf.nn.sigmoid(self.D(X, z))
                D_loss = tf.reduce_mean(log(D_q) + log(1. - D_prior))
                neg_D_loss = -D_loss
            # D_solver = tf.train.AdamOptimizer().minimize(-D_loss, var_list=theta_D)
            self.D_solver.apply_gradients(zip(tape.gradient(neg_D_loss, theta_D), theta_D))
            return {"loss": neg_elbo}

    model = AVB()

    def loss(y_true: Any, y_pred: Any) -> Any:
        """The reconstruction NLL on the model's probabilities (clipped as Keras' BCE does)."""
        p = tf.clip_by_value(y_pred, 1e-7, 1 - 1e-7)
        xent = -(y_true * tf.math.log(p) + (1 - y_true) * tf.math.log(1 - p))
        return tf.reduce_sum(xent, axis=1) if fixed else tf.reduce_mean(xent, axis=1)

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr, epsilon=1e-8), loss=loss)
    model(np.zeros((1, X_dim), "float32"))  # build
    d = _common()
    return {"model": model, "batch": d["batches"][0], "batches": d["batches"], "inputs": d["inputs"],
            "baseline_batch": d["baseline_batch"]}


buggy, fixed = versions(_torch, _keras)
