"""dev4488/VAE_gumble_softmax, ``vae_gumbel_softmax.py``: a categorical VAE on MNIST with the straight-through
Gumbel-softmax ("modified from the pytorch example vae code and inspired by the original tensorflow implementation
of gumbel-softmax by Eric Jang"). Encoder 784-512-256-200 (ReLU after every layer, the last one too), the 200 outputs
viewed as ``latent_dim = 20`` categorical variables of ``categorical_dim = 10``; ``gumbel_softmax`` adds Gumbel noise,
takes a softmax at temperature ``temp`` (``--temp`` 1.0), then the one-hot argmax with the soft sample's gradient
(``(y_hard - y).detach() + y``); decoder 200-256-512-784, ReLU, ReLU, sigmoid. ``forward`` returns the reconstruction
and ``F.softmax(q)`` (one softmax over all 200 encoder outputs). Loss ``BCE + KLD`` with
``BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), size_average=False)`` (summed over pixels and batch),
``optim.Adam(lr=1e-3)``, ``batch_size = 128``, ``transforms.ToTensor()`` pixels in [0, 1].

The fault is the sign (and reduction) of the KL term against the uniform categorical prior:
    log_qy = torch.log(qy + 1e-20)
    g = Variable(torch.log(torch.Tensor([1.0 / categorical_dim])).cuda())
    KLD = -torch.sum(qy * (log_qy - g))
``sum(qy * (log_qy - g))`` is KL(q || uniform); the leading minus makes the loss *reward* divergence from the prior,
i.e. minimising the loss minimises the entropy of ``qy``: the regulariser pushes the posterior away from the prior
instead of towards it. Within ~20 steps one encoder output dominates the 200-way softmax (entropy 0) and stays so;
how much that costs the reconstructions depends on the run (see Measured). Issue #1 ("Loss calculation error?",
YongfeiYan, 2018-08-29): "there seems a redundant minus before the calculation of KLD ... I got better images
after changing KLD"; the author: "Yes, you are correct. I have edited it accordingly." Fixed in
798d481f2f13839f2f667fd35343161ec977b3d6 ("updating KLD function", 2018-09-04):
``KLD = torch.sum(qy * (log_qy - g), dim=-1).mean()`` (positive, summed over the 200 entries, mean over the batch).

Source: github.com/dev4488/VAE_gumble_softmax, ``vae_gumbel_softmax.py`` at 798d481^ (= dd931d8, "Update
vae_gumbel_softmax.py", 2018-03-29), issue #1, fix 798d481.
Program lines kept: ``sample_gumbel``, ``gumbel_softmax_sample``, ``gumbel_softmax`` (straight-through, eps 1e-20),
``VAE_gumbel`` (layers, ReLU on the encoder's last layer, sigmoid decoder, ``F.softmax(q)`` over all 200 outputs,
``latent_dim = 20``, ``categorical_dim = 10``), ``loss_function`` (buggy and fixed KLD lines verbatim, BCE summed),
``Adam(lr=1e-3)``, batch 128, ``torch.manual_seed(1)`` (``--seed`` 1), temperature 1.0.
Ported: ``Variable``/``.cuda()`` dropped; ``size_average=False`` -> ``reduction='sum'``; ``F.softmax(q)`` given its
implicit ``dim=1``. ``forward`` returns the reconstruction and keeps ``F.softmax(q)`` on ``model.qy`` for ``loss_fn``
(the checks call ``model(x)`` and ``loss_fn(output, target)``; the program's ``forward`` returned the pair); ``temp``
defaults to ``args.temp`` = 1.0. The training loop's annealing (``temp = max(temp * exp(-3e-5 * batch_idx), 0.5)``
every 100 batches, restarted at 1.0 each epoch) is left out: over an epoch of 469 batches it lowers temp by under
3 %. Targets are ``x.view(-1, 784)``, as ``loss_function`` uses them.
Keras twin: a ``keras.Model`` with the same Dense layers (PyTorch's default init: ``VarianceScaling(1/3, fan_in,
uniform)`` kernels, U(+-1/sqrt(fan_in)) biases), the Gumbel noise from ``keras.random.uniform`` and the straight-through
estimator with ``ops.stop_gradient``; the KL term (same sign and reduction as the torch version) through
``self.add_loss``; compiled with ``Adam(1e-3)`` and a loss that sums the binary cross-entropy over pixels and batch,
as the program's BCE.
Data stand-in (no MNIST download): ``_data.mnist_like(1797)`` (scikit-learn's 8x8 digits blown up to 28x28, 0..255)
/ 255, float32 in [0, 1] as ``ToTensor`` gives; NCHW (n, 1, 28, 28) for torch, (n, 28, 28, 1) for Keras. ``batches``
are 6 consecutive batches of 128 of a seeded shuffle (``shuffle=True``), ``batch`` the first; ``inputs`` 512 images.

Fault label: other:kl_term_sign_flipped (the KL regulariser enters the loss negated, so training drives ``qy`` away
from the uniform prior, to a single entry, instead of towards it).
Fix (798d481): ``KLD = torch.sum(qy*(log_qy - g), dim=-1).mean()``.

Measured (my own plain loops, /tmp/s38/h52b/measure_t.py and measure_k.py, OMP_NUM_THREADS=1, the module's builds,
Adam steps on shuffled batches of 128 of the 1797 images, 14 batches an epoch; "bce" = summed BCE per image on 512
images, H = mean entropy of ``qy``, "spread" = mean over pixels of the std of the reconstruction across the 512
images):
  torch, measure_t.py (the module's seeds, batch order from torch.Generator seed 0), steps 1 / 5 / 20 / 100 / 300 /
  1000 / 1400: buggy loss per image 546.3 / 504.6 / 253.5 / 241.5 / 237.6 / 167.8 / 150.1, bce 537.3 / 478.5 / 252.3 /
  244.5 / 236.1 / 165.0 / 155.7, H 5.30 / 5.21 / 0.00 from step 20 on (the KL term then adds -log 10 = -2.30 per image,
  -294.7 per batch); fixed loss 543.3 / 501.8 / 255.8 / 243.8 / 244.4 / 247.3 / 242.7, bce 537.3 / 478.5 / 252.3 / 244.5
  / 244.1 / 244.0 / 244.1, H 5.30 / 5.22 / 1.22 / 1.95 / 2.30 / 2.77 / 2.83.
  torch, seeds_t.py (three more runs, torch.manual_seed(100 + s), shuffle seed s), bce at steps 300 / 600 / 1000:
  s=1 buggy 244.1 / 244.6 / 244.0, fixed 230.5 / 176.3 / 157.8; s=2 buggy 235.4 / 183.2 / 159.6, fixed 243.2 / 179.7 /
  157.9; s=3 buggy 244.2 / 244.0 / 190.0, fixed 228.4 / 179.1 / 158.4. H: buggy 0.00 throughout, fixed 0.8 - 2.3.
  Keras, measure_k.py (train_on_batch, shuffle seeds 0 and 1), bce at steps 20 / 300 / 600 / 1000: seed 0 buggy 253.0 /
  244.5 / 244.4 / 244.2 (H 0.01, then 0.00; spread 0.0010), fixed 252.6 / 234.1 / 176.3 / 158.7 (H 0.72 / 2.37 / 0.92 /
  0.79; spread 0.1435); seed 1 buggy 252.3 / 244.3 / 200.9 / 160.6 (H 0.00), fixed 252.3 / 244.3 / 244.3 / 244.0 (H 0.59
  / 2.64 / 2.71 / 2.71).
  What the fault does reliably: the entropy of ``qy`` goes to 0 within ~20 steps in every buggy run (both frameworks),
  while the fixed runs keep it at 0.6 - 2.8 nats; the loss carries a negative KL term. What it does not do reliably in
  these short runs: both versions first fall onto the same plateau (bce ~244 per image, the mean image for every input,
  reconstruction spread ~0.001) and leave it after a few hundred steps or not at all depending on the run (by step
  1000: 4 of the 6 buggy runs and 4 of the 6 fixed runs below 200), so the reconstruction loss by itself does not
  separate them here; the reporter's "better images" are over full MNIST epochs.
  About 29 - 35 ms a torch step and 19 - 24 ms a Keras ``train_on_batch`` step on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:kl_term_sign_flipped"
SOURCE = ("github:dev4488/VAE_gumble_softmax issue #1 (vae_gumbel_softmax.py loss_function "
          "'KLD = -torch.sum(qy*(log_qy - g))' @798d481^ = dd931d8; fix 798d481f2f13839f2f667fd35343161ec977b3d6 "
          "'updating KLD function': KLD = torch.sum(qy*(log_qy - g), dim=-1).mean())")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "sigmoid"}), ("not_constant_predictions", {})]

# program lines (vae_gumbel_softmax.py)
batch_size = 128
temp = 1.0  # --temp
seed = 1  # --seed
latent_dim = 20
categorical_dim = 10  # one-of-K vector
learning_rate = 1e-3  # optim.Adam(model.parameters(), lr=1e-3)
N_IMAGES = 1797
N_BATCHES = 6
N_INPUTS = 512


def _pixels() -> tuple[np.ndarray, np.ndarray]:
    """``transforms.ToTensor()`` MNIST stand-in, shuffled as ``shuffle=True`` (seeded): (n, 28, 28) float32 in
    [0, 1] and the same images flattened to 784 (``x.view(-1, 784)``, the reconstruction target)."""
    from tests.real_programs._data import mnist_like

    imgs, _ = mnist_like(N_IMAGES)
    x = (imgs.astype("float32") / 255.0)[np.random.default_rng(seed).permutation(N_IMAGES)]
    return x, x.reshape(len(x), 784)


def _torch(bug: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(seed)

    def sample_gumbel(shape, eps=1e-20):
        U = torch.rand(shape)
        return -torch.log(-torch.log(U + eps) + eps)

    def gumbel_softmax_sample(logits, temperature):
        y = logits + sample_gumbel(logits.size())
        return F.softmax(y / temperature, dim=-1)

    def gumbel_softmax(logits, temperature):
        """ST-gumple-softmax: input [*, n_class], return flatten --> [*, n_class] an one-hot vector"""
        y = gumbel_softmax_sample(logits, temperature)
        shape = y.size()
        _, ind = y.max(dim=-1)
        y_hard = torch.zeros_like(y).view(-1, shape[-1])
        y_hard.scatter_(1, ind.view(-1, 1), 1)
        y_hard = y_hard.view(*shape)
        y_hard = (y_hard - y).detach() + y
        return y_hard.view(-1, latent_dim * categorical_dim)

    class VAE_gumbel(nn.Module):
        def __init__(self, temp):
            super().__init__()
            self.fc1 = nn.Linear(784, 512)
            self.fc2 = nn.Linear(512, 256)
            self.fc3 = nn.Linear(256, latent_dim * categorical_dim)
            self.fc4 = nn.Linear(latent_dim * categorical_dim, 256)
            self.fc5 = nn.Linear(256, 512)
            self.fc6 = nn.Linear(512, 784)
            self.relu = nn.ReLU()
            self.sigmoid = nn.Sigmoid()
            self.temp = temp
            self.qy = None

        def encode(self, x):
            h1 = self.relu(self.fc1(x))
            h2 = self.relu(self.fc2(h1))
            return self.relu(self.fc3(h2))

        def decode(self, z):
            h4 = self.relu(self.fc4(z))
            h5 = self.relu(self.fc5(h4))
            return self.sigmoid(self.fc6(h5))

        def forward(self, x, temp=None):
            q = self.encode(x.view(-1, 784))
            q_y = q.view(q.size(0), latent_dim, categorical_dim)
            z = gumbel_softmax(q_y, self.temp if temp is None else temp)
            self.qy = F.softmax(q, dim=1)  # the program returned it: `return self.decode(z), F.softmax(q)`
            return self.decode(z)

    model = VAE_gumbel(temp)

    def loss_function(recon_x, x, qy):
        BCE = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
        log_qy = torch.log(qy + 1e-20)
        g = torch.log(torch.Tensor([1.0 / categorical_dim]))
        if bug:  # dd931d8
            KLD = -torch.sum(qy * (log_qy - g))
        else:  # 798d481
            KLD = torch.sum(qy * (log_qy - g), dim=-1).mean()
        return BCE + KLD

    def loss_fn(recon_batch, target):
        return loss_function(recon_batch, target, model.qy)

    x, flat = _pixels()
    xt = torch.from_numpy(np.ascontiguousarray(x[:, None]))  # (n, 1, 28, 28) as ToTensor gives
    ft = torch.from_numpy(flat)
    batches = [(xt[i:i + batch_size], ft[i:i + batch_size]) for i in range(0, N_BATCHES * batch_size, batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt[:N_INPUTS],
            "loss_fn": loss_fn, "optimizer": lambda params: torch.optim.Adam(params, lr=learning_rate)}


def _keras(bug: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(seed)

    def dense(n_in: int, n_out: int) -> Any:  # nn.Linear's default init
        return layers.Dense(n_out,
                            kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
                            bias_initializer=keras.initializers.RandomUniform(-n_in ** -0.5, n_in ** -0.5))

    class VAEGumbel(keras.Model):
        def __init__(self, temp: float) -> None:
            super().__init__()
            self.fc1, self.fc2, self.fc3 = dense(784, 512), dense(512, 256), dense(256, latent_dim * categorical_dim)
            self.fc4, self.fc5, self.fc6 = dense(latent_dim * categorical_dim, 256), dense(256, 512), dense(512, 784)
            self.temp = temp
            self.seed_gen = keras.random.SeedGenerator(seed)

        def gumbel_softmax(self, logits):
            eps = 1e-20
            u = keras.random.uniform(ops.shape(logits), seed=self.seed_gen)
            y = ops.softmax((logits - ops.log(-ops.log(u + eps) + eps)) / self.temp, axis=-1)
            y_hard = ops.one_hot(ops.argmax(y, axis=-1), categorical_dim)
            y_hard = ops.stop_gradient(y_hard - y) + y
            return ops.reshape(y_hard, (-1, latent_dim * categorical_dim))

        def call(self, x):
            h = ops.reshape(x, (-1, 784))
            q = ops.relu(self.fc3(ops.relu(self.fc2(ops.relu(self.fc1(h))))))
            z = self.gumbel_softmax(ops.reshape(q, (-1, latent_dim, categorical_dim)))
            qy = ops.softmax(q, axis=1)
            log_qy = ops.log(qy + 1e-20)
            g = np.log(1.0 / categorical_dim).astype("float32")
            if bug:  # dd931d8
                self.add_loss(-ops.sum(qy * (log_qy - g)))
            else:  # 798d481
                self.add_loss(ops.mean(ops.sum(qy * (log_qy - g), axis=-1)))
            return ops.sigmoid(self.fc6(ops.relu(self.fc5(ops.relu(self.fc4(z))))))

    def bce_sum(y_true, y_pred):  # F.binary_cross_entropy(..., size_average=False)
        return ops.sum(ops.binary_crossentropy(y_true, y_pred))

    model = VAEGumbel(temp)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=bce_sum)
    x, flat = _pixels()
    xk = x[..., None]  # (n, 28, 28, 1)
    model(xk[:2])
    batches = [(xk[i:i + batch_size], flat[i:i + batch_size]) for i in range(0, N_BATCHES * batch_size, batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xk[:N_INPUTS]}


buggy, fixed = versions(_torch, _keras, flag="bug")
