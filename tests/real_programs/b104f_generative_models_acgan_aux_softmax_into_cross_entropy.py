"""wiseodd/generative-models (Agustinus Kristiadi's collection of generative models), the PyTorch Auxiliary Classifier
GAN ``GAN/auxiliary_classifier_gan/ac_gan_pytorch.py``. A fully connected AC-GAN on MNIST (``input_data.read_data_sets
(..., one_hot=True)``, pixels 0..1 flattened to 784, ``mb_size = 32``, ``z_dim = 16``, ``h_dim = 128``, ``lr = 1e-3``):
a generator ``G_`` (Linear(z_dim + y_dim, 128), PReLU, Linear(128, 784), Sigmoid) fed noise and the one-hot class, and a
discriminator with a shared trunk ``D_shared`` (Linear(784, 128), PReLU) and two heads, ``D_gan`` (Linear(128, 1),
Sigmoid: real / fake) and ``D_aux`` (the auxiliary classifier over the 10 digits). Each iteration updates the
discriminator with ``Adam(D_params, lr=1e-3)`` on ``-(D_loss + C_loss)``, where ``C_loss = -nn.cross_entropy(C_real,
y_true) - nn.cross_entropy(C_fake, y_true)``, then the generator with ``Adam(G_params, lr=1e-3)``.

The fault (the last activation of the classifier head / its loss): ``D_aux`` ends with ``torch.nn.Softmax()``, and its
output is handed to ``nn.cross_entropy`` (``torch.nn.functional.cross_entropy``), which applies ``log_softmax`` itself
and so expects raw logits. The loss is the cross-entropy of softmax(softmax(logits)): the probabilities, all in
[0, 1], are re-read as logits, so the second softmax can put at most e / (e + 9) = 0.23 on the true digit, the loss is
floored at -log(0.232) = 1.46 however sure the classifier is, and the gradient reaching the logits is shrunk by the
softmax Jacobian (it vanishes as the first softmax saturates). The auxiliary classifier, and with it the class
conditioning that AC-GAN's generator is trained against, learns more slowly and never gets a confident loss.

Source: github.com/wiseodd/generative-models ``GAN/auxiliary_classifier_gan/ac_gan_pytorch.py`` at
eacf31ab4992aa01b45e59af81104f7bda63e264 (the gDefects4DL entry ``generative-models20``'s buggy commit; the file as
added in c287d51 'Add AC-GAN pytorch implementation'), fixed by 2fe7d030ddd22d4780647ea151f26b0e4621ec78 'Fix #20:
should not apply softmax into nn.cross_entropy', which deletes the ``torch.nn.Softmax()`` line from ``D_aux``. Issue
#20 'A bug in pytorch implementation of Auxiliary Classifier GAN' (the reporter: ``D_aux`` should be the bare
``Linear(h_dim, y_dim)`` because its output goes into ``nn.cross_entropy``; the maintainer: "Indeed you are correct.
I've fixed this."). Listed in gDefects4DL (llmhyy/defects4dl ``Database.xml``: 'Should not apply softmax into
nn.cross_entropy', type 'architecture design convention').
Fault label: output_activation|loss_mismatch (a softmax output layer fed to a loss that applies log_softmax itself).

Program lines kept verbatim: the three discriminator Sequentials and ``G_`` (torch default init), ``D(X)``,
``D_params``, both ``optim.Adam(..., lr=lr)``, ``reset_grad``, and the loop body: ``D_loss = torch.mean(torch.log(
D_real + eps) + torch.log(1 - D_fake + eps))``, both ``C_loss`` lines, ``DC_loss = -(D_loss + C_loss)``, ``GC_loss``
and the step order (D step, ``reset_grad()``, G step, ``reset_grad()``); ``D_aux`` with ``torch.nn.Softmax()`` in the
buggy build, without it in the fixed one (the only difference). ``torch.nn.Softmax()`` has no ``dim`` as in the
program (PyTorch picks dim 1 for 2-D input and warns).
Ported / replaced: torch only (the program is PyTorch; the repository's TensorFlow AC-GAN is another program). The
checks' ``model`` is the discriminator (``D_shared``, ``D_gan``, ``D_aux`` as submodules, ``parameters()`` =
``D_params``); its ``forward`` returns the auxiliary classifier's output ``D_aux(D_shared(X))`` (what
``nn.cross_entropy`` reads), and ``model.D(X)`` is the program's ``D``. ``loss_fn`` is ``nn.cross_entropy``,
``optimizer`` the program's ``D_solver``. ``train_step`` is one iteration of the program's loop (D then G update, with
the generator and ``G_solver`` held in the closure); it returns the auxiliary cross-entropy on the real batch from the
D step. Noise is drawn for ``X.shape[0]`` samples instead of ``mb_size`` so that other batch sizes work, the one-hot
``c`` is built from ``y_true`` (the program reads both from ``mnist.train.next_batch``), the noise comes from a
generator seeded at build (so each build is deterministic whatever else draws random numbers), ``reset_grad()`` is
also called first (the program's gradients are already zero there), the D step calls ``optimizer.step()`` (the
``D_solver`` handed in), and the plotting / printing every 1000 iterations is dropped. ``Variable`` wrappers
dropped (no-ops in current PyTorch). No size shrunk (the nets are small).
Data stand-in (no MNIST download): 28x28 digits from ``_data.mnist_like`` (scikit-learn's 8x8 digits blown up 3x3 and
padded), each drawn image shifted by -2..2 pixels, scaled by 0.7..1.0 and given N(0, 10) pixel noise, then / 255
(``input_data`` gives 0..1 float32) and flattened to 784; labels as int64 class ids (``y_true``). ``batches``: 100
distinct batches of 32 from the first 1500 digits; ``batch``: the first; ``inputs``: 256 images from the last 297.

Measured (my own loop, /tmp/s60/p/f/measure.py, on this module's builds, seed 0, OMP_NUM_THREADS=1; ``train_step``
over the 100 ``batches`` cycled in order, 1000 steps = 1000 iterations of the program's loop):
  auxiliary cross-entropy on the real batch (``train_step``'s return), means of 100-step blocks:
    buggy 2.22 2.01 1.91 1.84 1.78 1.74 1.71 1.69 1.69 1.69 (lowest single step 1.53; the floor is 1.46);
    fixed 1.71 1.04 0.77 0.65 0.53 0.45 0.44 0.45 0.43 0.40 (lowest single step 0.16).
  on the 256 held-out ``inputs``, after 200 steps: accuracy buggy 0.54 / fixed 0.69, cross-entropy of the head's
    output 1.98 / 1.03; after 1000 steps: accuracy 0.72 / 0.76, cross-entropy 1.78 / 0.76, mean top-class
    probability as the loss sees it (softmax of the head's output) 0.20 / 0.78. The buggy classifier's argmax does
    learn, more slowly; its loss stays near the floor and its (re-softmaxed) predictions never get confident.
  one batch of 32 repeated (``train_step``): cross-entropy at steps 1 / 50 / 200 buggy 2.30 / 1.89 / 1.54,
    fixed 2.33 / 0.09 / 0.008.
  classifier alone (plain zero_grad / model / nn.cross_entropy / backward / D_solver.step over the batches): loss at
    step 1 / 100 / mean of 291-300 buggy 2.30 / 1.80 / 1.67, fixed 2.32 / 0.80 / 0.37.
  Loss at init: buggy 2.304 (the second softmax of near-uniform probabilities is uniform), fixed 2.325: the fault
    does not show in the initial loss.
  Time per ``train_step`` 20-30 ms on this shared machine (one thread); build: first ~10 s (imports, data), later
    0.03 s.
Lead's edit (after the port): ``train_step`` reads ``D`` and clears gradients through the ``model`` it is given,
not the instance the build made (the checks train a copy: the port's closure over the built discriminator was a usage
error). The program's ``reset_grad`` clears the generator and the discriminator given.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:wiseodd/generative-models issue #20, fix 2fe7d030ddd22d4780647ea151f26b0e4621ec78 'Fix #20: should "
          "not apply softmax into nn.cross_entropy' (GAN/auxiliary_classifier_gan/ac_gan_pytorch.py@"
          "eacf31ab4992aa01b45e59af81104f7bda63e264; gDefects4DL llmhyy/defects4dl Database.xml generative-models20)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("output_range", {"kind": "logits"}),
          ("init_loss", {"num_classes": 10})]

MB_SIZE = 32
Z_DIM = 16
X_DIM = 784
Y_DIM = 10
H_DIM = 128
LR = 1e-3
EPS = 1e-8
N_BATCHES = 100
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Shifted, scaled, noisy MNIST-like digits in 0..1, flattened to 784, with int64 class ids."""
    from tests.real_programs._data import mnist_like

    x0, y0 = mnist_like(1797)
    r = np.random.default_rng(SEED)
    n_tr = N_BATCHES * MB_SIZE
    src = np.concatenate([r.integers(0, 1500, n_tr), r.integers(1500, 1797, N_INPUTS)])
    xs = np.zeros((len(src), 28, 28), "float32")
    for i, s in enumerate(src):
        dy, dx = r.integers(-2, 3, 2)
        xs[i] = np.roll(np.roll(x0[s].astype("float32"), dy, 0), dx, 1)
    xs = np.clip(xs * r.uniform(0.7, 1.0, (len(src), 1, 1)) + r.normal(0, 10, xs.shape), 0, 255).astype("uint8")
    x = (xs.astype("float32") / 255.0).reshape(-1, X_DIM)
    y = y0[src].astype("int64")
    return x[:n_tr], y[:n_tr], x[n_tr:], y[n_tr:]


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as nn
    import torch.optim as optim

    torch.manual_seed(SEED)
    np.random.seed(SEED)
    z_dim, X_dim, y_dim, h_dim, lr, eps = Z_DIM, X_DIM, Y_DIM, H_DIM, LR, EPS

    G_ = torch.nn.Sequential(
        torch.nn.Linear(z_dim + y_dim, h_dim),
        torch.nn.PReLU(),
        torch.nn.Linear(h_dim, X_dim),
        torch.nn.Sigmoid()
    )

    def G(z, c):
        inputs = torch.cat([z, c], 1)
        return G_(inputs)

    D_shared = torch.nn.Sequential(
        torch.nn.Linear(X_dim, h_dim),
        torch.nn.PReLU()
    )

    D_gan = torch.nn.Sequential(
        torch.nn.Linear(h_dim, 1),
        torch.nn.Sigmoid()
    )

    if fixed:  # 2fe7d03: the Softmax line removed
        D_aux = torch.nn.Sequential(
            torch.nn.Linear(h_dim, y_dim),
        )
    else:
        D_aux = torch.nn.Sequential(
            torch.nn.Linear(h_dim, y_dim),
            torch.nn.Softmax()
        )

    class Discriminator(torch.nn.Module):
        """The program's discriminator; ``forward`` returns the auxiliary classifier's output."""

        def __init__(self):
            super().__init__()
            self.D_shared, self.D_gan, self.D_aux = D_shared, D_gan, D_aux

        def D(self, X):
            h = self.D_shared(X)
            return self.D_gan(h), self.D_aux(h)

        def forward(self, X):
            return self.D_aux(self.D_shared(X))

    model = Discriminator()

    G_params = G_.parameters()
    D_params = (list(D_shared.parameters()) + list(D_gan.parameters()) +
                list(D_aux.parameters()))

    G_solver = optim.Adam(G_params, lr=lr)
    D_solver = optim.Adam(D_params, lr=lr)
    noise = torch.Generator().manual_seed(SEED)  # the build's own noise stream: deterministic whatever runs beside

    def train_step(model, optimizer, loss_fn, X, y_true):  # one iteration of the program's loop
        # lead's edit: the discriminator and the gradients cleared are those of the model given (a check trains a
        # copy), not the instance built here
        D = model.D

        def reset_grad():
            for net in (G_, model):
                net.zero_grad()

        reset_grad()
        c = torch.nn.functional.one_hot(y_true, y_dim).float()  # c is one-hot
        z = torch.randn(X.shape[0], z_dim, generator=noise)

        """ Discriminator """
        G_sample = G(z, c)
        D_real, C_real = D(X)
        D_fake, C_fake = D(G_sample)

        # GAN's D loss
        D_loss = torch.mean(torch.log(D_real + eps) + torch.log(1 - D_fake + eps))
        # Cross entropy aux loss
        C_loss = -nn.cross_entropy(C_real, y_true) - nn.cross_entropy(C_fake, y_true)

        # Maximize
        DC_loss = -(D_loss + C_loss)

        DC_loss.backward()
        optimizer.step()
        aux_loss = nn.cross_entropy(C_real.detach(), y_true)

        reset_grad()

        """ Generator """
        G_sample = G(z, c)
        D_fake, C_fake = D(G_sample)
        _, C_real = D(X)

        # GAN's G loss
        G_loss = torch.mean(torch.log(D_fake + eps))
        # Cross entropy aux loss
        C_loss = -nn.cross_entropy(C_real, y_true) - nn.cross_entropy(C_fake, y_true)

        # Maximize
        GC_loss = -(G_loss + C_loss)

        GC_loss.backward()
        G_solver.step()

        reset_grad()
        return aux_loss

    x, y, xh, _ = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + MB_SIZE], yt[i:i + MB_SIZE]) for i in range(0, len(xt), MB_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": nn.cross_entropy, "optimizer": D_solver, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
