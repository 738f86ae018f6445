"""Naresh1318/Adversarial_Autoencoder (the code of the "A Wizard's guide to Adversarial Autoencoders" Medium series,
2017), ``semi_supervised_adversarial_autoencoder.py`` (part 4, "Classify MNIST using 1000 labels"): a TF1
semi-supervised adversarial autoencoder on MNIST. The encoder (784 -> 1000 relu -> 1000 relu) has a Gaussian head
(z_dim = 10, no activation) and a categorical head (10 units, softmax); the decoder maps their concatenation back to
784 sigmoid pixels. Two discriminators, ``discriminator_gauss`` (10 -> 1000 relu -> 1000 relu -> 1 logit) and
``discriminator_categorical`` (the same shape on the 10-way label head), match the two heads to a N(0, 5^2) prior and
to a one-hot categorical prior. Every ``dense`` weight is N(0, 0.01), biases 0; five ``AdamOptimizer(0.001,
beta1=0.9)`` run in turn on each iteration (batch_size = 100): reconstruction (MSE), Gaussian discriminator,
categorical discriminator, generator (the encoder against both discriminators), supervised softmax cross-entropy on a
random 100 of the 1000 labelled images.

The fault (the categorical discriminator's loss): its fake half -- the encoder's softmax outputs -- is labelled REAL:

    dc_c_loss_real = tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(d_c_real), logits=d_c_real))
    dc_c_loss_fake = tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(d_c_fake), logits=d_c_fake))

(the Gaussian discriminator two lines above uses ``tf.zeros_like(d_g_fake)``). With every target equal to 1 the
discriminator has nothing to tell apart: it learns to output "real" for any input, its loss goes to ~0 within a few
dozen steps, and the generator's categorical term ``generator_c_loss`` (BCE(d_c_fake, 1)) becomes ~0 with a zero
gradient, so the adversarial regularisation of the label head -- the part of the semi-supervised AAE that is meant to
push the encoder's label outputs onto one-hot codes and let the unlabelled images shape the classifier -- is silently
switched off. The program runs, every loss falls, and the discriminator "learns" a constant.

Source: github.com/Naresh1318/Adversarial_Autoencoder ``semi_supervised_adversarial_autoencoder.py`` at
c5940307d8e1d2402db2631fb2069a849cce35a7 (= 0aa06dc^; the ``ones_like(d_c_fake)`` label is there since the file's
first commit 50747c4, then as ``targets=``, renamed ``labels=`` in 1e9100206c2e42b1a50e14b4a745fc49753644e2), issue #1
"categorical discriminator loss compared with 1" (nathanin, pointing at lines 235-236: shouldn't the categorical
discriminator train like the Gaussian one?; the author: it is indeed an error on his part, he has fixed it), fixed by
0aa06dc3e99c5f2e6b5488fc7f28226b2b83ede0 "discriminator loss fix": ``labels=tf.zeros_like(d_c_fake)``.
Fault label: other:discriminator_fake_samples_labelled_real (the discriminator's targets mark the generated samples as
real, so its targets are constant and it learns a constant; the loss function itself is the right one).

Program lines kept: ``discriminator_categorical`` (three ``dense`` layers, relu, relu, a linear logit) with the
``dense`` initialiser N(0, 0.01) / bias 0.0, ``dc_c_loss = dc_c_loss_fake + dc_c_loss_real`` (two batch means of
``sigmoid_cross_entropy_with_logits``), the ``discriminator_c_optimizer`` (Adam, learning_rate 0.001, beta1 0.9, TF1's
epsilon 1e-8), batch_size 100, ``real_cat_dist = np.eye(n_labels)[np.random.randint(low=0, high=10, size=batch_size)]``.
Ported: the checks' model is the categorical discriminator, whose training step is where the fault sits (the
``discriminator_c_optimizer`` step updates ``dc_c_var`` only; the encoder output it reads is a constant input to it).
A batch x is ``[categorial_distribution; encoder_output_label]`` (100 + 100 rows of 10), and its targets are the labels
the program builds for the two halves: ``[ones_like(d_c_real); ones_like(d_c_fake)]`` in the buggy version,
``[...; zeros_like(d_c_fake)]`` in the fixed one; ``loss_fn`` (torch) / the compiled loss (Keras) splits outputs and
labels into the two halves and returns ``dc_c_loss_fake + dc_c_loss_real`` as the program does (any even batch).
``encoder_output_label`` is the program's encoder at its initialisation (numpy, N(0, 0.01) weights, seed 1; softmax
outputs ~0.1 each, as in the first iterations), applied to the stand-in images; the later encoder states, which the
program's discriminator sees as training goes on, are not reproduced. Keras is the program's own framework (TF1 ->
Keras 3: Dense(1000, relu) x 2 + Dense(1) with RandomNormal(0, 0.01)); torch twin: the same layers, F.relu,
``binary_cross_entropy_with_logits``, Adam(0.001, betas=(0.9, 0.999), eps=1e-8). Nothing shrunk.
Data stand-in (no MNIST download): the corpus' ``mnist_like`` digits (scikit-learn's 8x8 digits blown up to 28x28),
each drawn image shifted by -2..2 pixels, scaled by 0.7..1.0, N(0, 10) pixel noise, / 255 and flattened as
``input_data`` gives MNIST ((n, 784) float32 in [0, 1]); training draws from digits 0..1499, held-out from 1500..1796.
``batches``: 20 discriminator batches of 200 rows (fresh one-hot draws, seeds 0..19, + the encoder outputs of 100
images each); ``batch``: the first; ``inputs``: 256 held-out rows, 128 one-hot draws then the encoder outputs of 128
held-out images.

Measured (my own plain loops, OMP_NUM_THREADS=1, seed 0; /tmp/s57/p/b97e/scratch/):
  The module's builds (measure_module.py: 400 steps over the 20 batches cycled, torch ``loss_fn`` + Adam / Keras
  ``train_on_batch``; then the trained discriminator on the 256 held-out rows, scored against the TRUE real / fake
  split):
    torch loss at steps 1 / 5 / 10 / 20 / 50 / 100 / 400: buggy 1.386 / 1.255 / 0.692 / 0.0026 / 7.3e-8 / 3.1e-8 /
      3.1e-8, fixed 1.386 / 1.344 / 1.208 / 0.648 / 0.0031 / 4.9e-4 / 1.1e-4 -- both fall, the buggy one faster;
      held-out: buggy sigmoid(D) = 1.0000 on real and on encoder rows alike, real/fake accuracy 0.50, AUC 0.35, logits
      17.99 +- 0.07 (a constant); fixed D(real) 1.0000, D(encoder) 0.0001, accuracy 1.00, AUC 1.00, logits 0.51 +- 9.95.
    Keras: buggy 1.386 / 1.256 / 0.694 / 0.0025 / 5.9e-8 / 2.5e-8 / 2.4e-8, fixed 1.386 / 1.347 / 1.214 / 0.659 /
      0.0037 / 5.4e-4 / 1.1e-4; held-out buggy accuracy 0.50, AUC 0.27, logits 18.22 +- 0.09; fixed accuracy 1.00, AUC
      1.00, logits 0.55 +- 9.94.
    What the generator then gets (measure_gen_grad.py, torch, after 200 discriminator steps): generator_c_loss on the
      held-out encoder rows buggy 1.5e-8 with a gradient w.r.t. the encoder outputs of exactly 0, fixed 8.59 with a
      gradient norm of 0.13 per row.
  The whole program (full_aae_torch.py: a torch port of all five phases, the stand-in images as the unlabelled pool
  (20,000 draws), 1000 labelled draws, 2000 validation draws; 1500 iterations, the program's 150 "epochs" of 10),
  at iterations 1 / 150 / 300 / 450 / 600 / 750 / 900 / 1050 / 1200 / 1350 / 1500:
    buggy: dc_c_loss 1.386 then 0.0000 from iteration ~30 on, sigmoid(D_c) 1.000 on one-hot and encoder rows alike;
      validation accuracy of the label head .107 .211 .291 .485 .605 .586 .591 .610 .570 .615 .619;
    fixed: dc_c_loss 1.386 / 0.015 / 0.0004 / 0.033 / 0.022 / 0.033 / 0.033 / 0.28 / 0.32 / 0.37 / 0.54, D_c(real) /
      D_c(encoder) .871 / .124 at the end; validation accuracy .107 .086 .086 .132 .146 .170 .247 .336 .394 .438 .451.
    So within 1500 iterations the buggy program classifies BETTER: with the categorical adversary switched off the
    label head is trained by the supervised loss alone, while the fixed program first loses the adversarial game
    (its discriminator wins; the summed generator loss ~20) and only then climbs. The fault's effect that this
    stand-in shows is the dead adversarial term and a discriminator that learns a constant, not a worse classifier
    over this horizon (the program's own run is 1000 epochs = 10,000 iterations, out of reach here).
    A second run of 4000 iterations (the same seed), every 400 from 400 to 4000: validation accuracy buggy .406 .602
    .570 .589 .631 .653 .645 .651 .635 .642 (flat from ~800 on), fixed .131 .201 .394 .439 .459 .496 .557 .566 .580
    .588 (still rising); fixed dc_c_loss 0.006 -> 0.88 (towards 2 ln 2 = 1.39, the discriminator no longer wins),
    buggy 0.0000 throughout; mean max softmax of the label head on validation images buggy .872 / fixed .906
    (entropy .333 / .260). The fixed program has not overtaken the buggy one by 4000 iterations on this stand-in.
  Time: one discriminator step (batch 200, one thread) torch ~20 ms, Keras ``train_on_batch`` ~24 ms (up to ~230 ms
    while the 2-core machine was loaded); the whole program ~0.6-1 s an iteration under that load. Builds: first
    (imports, data) ~4 s per framework, later 0.1-0.25 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._data import mnist_like
from tests.real_programs._versions import versions

LABEL = "other:discriminator_fake_samples_labelled_real"
SOURCE = ("github:Naresh1318/Adversarial_Autoencoder issue #1 'categorical discriminator loss compared with 1' "
          "(semi_supervised_adversarial_autoencoder.py@c5940307d8e1d2402db2631fb2069a849cce35a7 = 0aa06dc^, "
          "dc_c_loss_fake 'labels=tf.ones_like(d_c_fake)', since 1e9100206c2e42b1a50e14b4a745fc49753644e2); fix "
          "0aa06dc3e99c5f2e6b5488fc7f28226b2b83ede0 'discriminator loss fix': labels=tf.zeros_like(d_c_fake)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {"task": "binary"}), ("overfit_one_batch", {"task": "binary"}),
          ("not_constant_predictions", {"task": "binary"}), ("input_independent_baseline", {"task": "binary"}),
          ("gradients_flow", {})]

# program constants (semi_supervised_adversarial_autoencoder.py)
input_dim = 784
n_l1 = 1000
n_l2 = 1000
batch_size = 100
learning_rate = 0.001
beta1 = 0.9
n_labels = 10
# stand-in
N_IMAGES = 1797  # scikit-learn's digits
N_TRAIN = 1500  # digits 0..1499 feed the training batches, 1500..1796 the held-out inputs
N_BATCHES = 20
N_HELD_OUT = 128  # held-out real + 128 held-out encoder outputs = 256 discriminator inputs
SEED = 0


@functools.lru_cache(maxsize=1)
def _images() -> tuple[np.ndarray, np.ndarray]:
    """MNIST-like images as ``input_data.read_data_sets`` gives them: (n, 784) float32 in [0, 1]. Each drawn digit is
    shifted by -2..2 pixels, scaled by 0.7..1.0 and given N(0, 10) pixel noise so that the draws differ."""
    x0, _ = mnist_like(N_IMAGES)
    r = np.random.default_rng(SEED)
    src = np.concatenate([r.integers(0, N_TRAIN, N_BATCHES * batch_size),
                          r.integers(N_TRAIN, N_IMAGES, N_HELD_OUT)])
    xs = np.zeros((len(src), 28, 28), "float32")
    for i, s in enumerate(src):
        dy, dx = r.integers(-2, 3, 2)
        xs[i] = np.roll(np.roll(x0[s].astype("float32"), dy, 0), dx, 1)
    xs = np.clip(xs * r.uniform(0.7, 1.0, (len(src), 1, 1)) + r.normal(0, 10, xs.shape), 0, 255)
    x = (xs / 255.0).reshape(-1, input_dim).astype("float32")
    n = N_BATCHES * batch_size
    return x[:n], x[n:]


def _encoder_output_label(x: np.ndarray) -> np.ndarray:
    """``encoder(x_input)``'s softmax label head at the program's initialisation (every ``dense`` weight
    N(0, 0.01), biases 0): what ``discriminator_categorical`` is fed as ``d_c_fake`` in the first iterations."""
    r = np.random.default_rng(SEED + 1)
    w1 = r.normal(0.0, 0.01, (input_dim, n_l1))
    w2 = r.normal(0.0, 0.01, (n_l1, n_l2))
    w_label = r.normal(0.0, 0.01, (n_l2, n_labels))
    e_dense_2 = np.maximum(np.maximum(x @ w1, 0.0) @ w2, 0.0)
    cat_op = e_dense_2 @ w_label
    e = np.exp(cat_op - cat_op.max(1, keepdims=True))
    return (e / e.sum(1, keepdims=True)).astype("float32")


@functools.lru_cache(maxsize=2)
def _data(fixed: bool) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """Discriminator batches ``[categorial_distribution; encoder_output_label]`` (200, 10) with the labels the
    program gives them, ``[ones_like(d_c_real); ones_like(d_c_fake)]`` (buggy) or ``[...; zeros_like(d_c_fake)]``
    (fixed), each (200, 1); and the held-out discriminator inputs."""
    x_tr, x_ho = _images()
    r = np.random.RandomState(SEED)
    fake_tr, fake_ho = _encoder_output_label(x_tr), _encoder_output_label(x_ho)
    batches = []
    for b in range(N_BATCHES):
        real_cat_dist = np.random.RandomState(SEED + b).randint(low=0, high=10, size=batch_size)
        real_cat_dist = np.eye(n_labels)[real_cat_dist].astype("float32")
        fake = fake_tr[b * batch_size:(b + 1) * batch_size]
        x = np.concatenate([real_cat_dist, fake])
        fake_labels = np.zeros((batch_size, 1), "float32") if fixed else np.ones((batch_size, 1), "float32")
        y = np.concatenate([np.ones((batch_size, 1), "float32"), fake_labels])
        batches.append((x, y))
    real_ho = np.eye(n_labels, dtype="float32")[r.randint(0, 10, N_HELD_OUT)]
    return batches, np.concatenate([real_ho, fake_ho])


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(SEED)

    def dense(n1: int, n2: int) -> nn.Linear:  # tf.random_normal_initializer(mean=0., stddev=0.01), bias 0.0
        layer = nn.Linear(n1, n2)
        nn.init.normal_(layer.weight, mean=0.0, std=0.01)
        nn.init.zeros_(layer.bias)
        return layer

    class DiscriminatorCategorical(nn.Module):  # discriminator_categorical
        def __init__(self) -> None:
            super().__init__()
            self.dc_c_den1 = dense(n_labels, n_l1)
            self.dc_c_den2 = dense(n_l1, n_l2)
            self.dc_c_output = dense(n_l2, 1)

        def forward(self, x: Any) -> Any:
            dc_den1 = F.relu(self.dc_c_den1(x))
            dc_den2 = F.relu(self.dc_c_den2(dc_den1))
            output = self.dc_c_output(dc_den2)
            return output

    def loss_fn(d_c: Any, labels: Any) -> Any:
        """dc_c_loss on the discriminator's outputs for [categorial_distribution; encoder_output_label]."""
        n = d_c.shape[0] // 2
        d_c_real, d_c_fake = d_c[:n], d_c[n:]
        dc_c_loss_real = torch.mean(F.binary_cross_entropy_with_logits(d_c_real, labels[:n], reduction="none"))
        dc_c_loss_fake = torch.mean(F.binary_cross_entropy_with_logits(d_c_fake, labels[n:], reduction="none"))
        dc_c_loss = dc_c_loss_fake + dc_c_loss_real
        return dc_c_loss

    model = DiscriminatorCategorical()
    batches, held_out = _data(fixed)
    t = torch.tensor  # copies: the cached arrays stay untouched
    tb = [(t(x), t(y)) for x, y in batches]
    # discriminator_c_optimizer: AdamOptimizer(learning_rate, beta1) over dc_c_var (TF1 epsilon 1e-8)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, betas=(beta1, 0.999), eps=1e-8)
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": t(held_out), "loss_fn": loss_fn,
            "optimizer": optimizer}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    def dense(n2: int, activation: str | None = None) -> Any:
        return layers.Dense(n2, activation=activation,
                            kernel_initializer=keras.initializers.RandomNormal(mean=0.0, stddev=0.01),
                            bias_initializer="zeros")

    discriminator_categorical = keras.Sequential([
        keras.Input(shape=(n_labels,)),
        dense(n_l1, "relu"),  # dc_c_den1
        dense(n_l2, "relu"),  # dc_c_den2
        dense(1),  # dc_c_output
    ])

    def dc_c_loss(labels: Any, d_c: Any) -> Any:
        n = ops.shape(d_c)[0] // 2
        dc_c_loss_real = ops.mean(keras.losses.binary_crossentropy(labels[:n], d_c[:n], from_logits=True))
        dc_c_loss_fake = ops.mean(keras.losses.binary_crossentropy(labels[n:], d_c[n:], from_logits=True))
        return dc_c_loss_fake + dc_c_loss_real

    discriminator_categorical.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate, beta_1=beta1, epsilon=1e-8), loss=dc_c_loss)
    batches, held_out = _data(fixed)
    batches = [(x.copy(), y.copy()) for x, y in batches]
    return {"model": discriminator_categorical, "batch": batches[0], "batches": batches, "inputs": held_out.copy()}


buggy, fixed = versions(_torch, _keras)
