"""Adversarial-Deep-Learning/code-soup (a book-companion library of adversarial-ML code, 2021), chapter 5
``code_soup/ch5/models/gan.py``: a fully connected GAN for MNIST. ``Generator`` maps a 128-d normal latent vector
through Linear 256 / 512 / 1024 with LeakyReLU(0.2) to 784 Tanh pixels; ``Discriminator`` maps the 784 pixels through
Linear 1024 / 512 / 256 with LeakyReLU(0.2) and Dropout(0.3) to one Sigmoid unit; each network owns an
``optim.Adam(self.parameters(), lr=lr)``; ``GAN.step(data)`` is the DCGAN-tutorial recipe with ``nn.BCELoss()``:
backward of the discriminator's loss on a real batch (label 1.0) and on ``fake.detach()`` (label 0.0), a
discriminator step, then ``self.generator.zero_grad()``, the generator's loss (fakes labelled real) backward
through the discriminator, and a generator step. The driver ``Tutorials/ch5/GAN/mnist_gan.py`` trains it on MNIST
(``ToTensor()`` + ``Normalize((0.5,), (0.5,))``, ``batch_size`` 64, ``latent_dims`` 128, ``--learning_rate``
default 0.0002), calling ``gan.step(data)`` once per batch.

The fault: ``GAN.step`` never clears the discriminator's gradients. ``self.generator.zero_grad()`` is called before
the generator's backward, but nothing calls ``self.discriminator.zero_grad()`` (nor its optimizer's), so every
``self.discriminator.optimizer.step()`` uses the sum of (a) the real/fake BCE gradients of this step and of ALL
previous steps and (b) the gradients that ``errG.backward()`` of every previous step left in the discriminator's
parameters (the generator's loss flows through D and pushes D towards calling fakes real, the opposite of D's own
objective). The discriminator's ``.grad`` grows without bound and stops reflecting the current batch; Adam keeps
stepping along this stale sum, the discriminator stops discriminating (it drifts to calling every image real; at
full width its BCE terms reach torch's clamp of 100), and the generator, trained against a useless discriminator,
produces collapsed blobs instead of digits.

Source: github.com/Adversarial-Deep-Learning/code-soup ``code_soup/ch5/models/gan.py`` at
c56901eac88f6fef6900cd515b0e336d106ccd62 (the parent of the fix; the file last changed in c6e4425 "Add Doc
Strings (#27)"), driver ``Tutorials/ch5/GAN/mnist_gan.py`` at the same
commit. Issue #69 "Zero Grad and Generator error missing in GAN" (labels bug, Priority:High: "add
self.discriminator.zero_grad()"; a project member asked the reporter to make the change), fixed by PR #74 "Updated
gan.py", squash commit 7aa48e78c7c710d521237fbcfb9512076408fe4a (commit 25a7502d "added zero_grad() method on
discriminator; and now step method returns Generator loss"): ``self.discriminator.zero_grad()`` as the first
statement of the step, before the real batch's forward pass. (The same PR also returns ``errG``; that is bookkeeping
and not ported.)
Fault label: missing_zero_grad (the discriminator's ``.grad`` is never cleared, so each discriminator update applies
the accumulated gradients of all past steps, including those the generator's loss left in it).

Program lines kept verbatim: the two network stacks' layer order, LeakyReLU(0.2), Dropout(0.3), Tanh / Sigmoid
heads, torch default init, ``optim.Adam(self.parameters(), lr=lr)`` owned by each network, ``nn.BCELoss()``, real /
fake labels 1.0 / 0.0, and the body of ``GAN.step`` (the forward / backward / step sequence, ``fake.detach()`` for the
discriminator, ``self.generator.zero_grad()`` before the generator's loss), with the fix's
``self.discriminator.zero_grad()`` added only in the fixed version.
Shrunk / replaced:
- Widths divided by 4 (generator 128 -> 64 -> 128 -> 256 -> 784, discriminator 784 -> 256 -> 128 -> 64 -> 1) so a
  step costs ~15-40 ms on one CPU core instead of ~150 ms; the fault's effect is the same at full width (measured
  below).
- Learning rate 0.0002: the driver's ``--learning_rate`` default. The driver as committed ignores its own
  argument and passes ``lr=0.02`` into ``GAN(...)`` (and the file also names ``MnistDataset`` where it imported
  ``MNISTDataset``, so it stops with a NameError before training). At lr 0.02 both the buggy and the fixed GAN
  collapse at once (D outputs 1.0 for everything from the first steps; measured below), which is a separate fault
  that PR #74 did not touch, so I used the documented default to isolate the zero_grad fault.
- For the checks, ``model`` is the discriminator (the network whose gradients are never cleared) and
  ``optimizer`` its own Adam; ``train_step(model, optimizer, loss_fn, x, y)`` is ``GAN.step`` on the real batch ``x``
  with ``model`` / ``optimizer`` standing for ``self.discriminator`` / ``self.discriminator.optimizer`` and the
  generator kept in the closure (the generator's optimizer is its own, as in the program); it returns ``errD``.
  The targets ``y`` are the discriminator's label for real images (1.0 per sample), and ``loss_fn(outputs, y)`` is
  the program's ``self.criterion(output, label)`` with ``output = D(x).view(-1)``.
Data stand-in (no MNIST download): ``_data.mnist_like`` (scikit-learn's 8x8 digits blown up 3x3 and padded to 28x28
uint8), each drawn image shifted by -2..2 pixels in x and y so that batches differ; then ToTensor (/255) and
Normalize((0.5,), (0.5,)) as in the driver, so pixels lie in [-1, 1] like the generator's Tanh output. ``batches``:
100 distinct batches of 64 from the first 1500 digits (shape (64, 1, 28, 28) float32, targets ones(64));
``batch``: the first; ``inputs``: 256 held-out images from the last 297 digits.

Measured (my own plain loops over the module's builds, torch seed 0, OMP_NUM_THREADS=1, one thread):
  /tmp/s59/p/b102e/measure.py: ``train_step`` over the 100 ``batches`` cycled, 600 steps; block means of 60 steps.
  errD (real + fake BCE) buggy 1.86 1.50 2.16 2.22 1.74 3.24 1.95 5.46 5.73 34.78
                         fixed 1.03 0.99 0.71 0.46 0.98 0.66 0.88 0.65 0.92 1.00
  D(x) / D(G(z)) (eval mode): buggy 0.88/0.72 0.58/0.54 0.70/0.71 ... 0.71/0.93 0.59/0.96 (they move together: D
    cannot tell real from fake); fixed 0.81/0.54 0.74/0.43 0.94/0.41 ... 0.78/0.35 0.76/0.39.
  discriminator gradient norm at each step (what Adam is fed): buggy 60 204 399 565 768 1272 1914 1976 2550 2614
    (the accumulated sum, growing every block); fixed 1.1 5.0 3.8 5.1 5.6 9.4 8.1 12.1 10.9 12.7.
  after 600 steps: D on 256 held-out real + 256 fresh fakes, accuracy buggy 0.50 (D(real) 1.00, D(fake) 1.00) /
    fixed 0.94 (0.72 / 0.32); 512 generated images: mean distance to the nearest real digit buggy 21.8 / fixed 13.5
    (held-out real digits: 7.0), RMSE of the mean generated image against the mean real digit 0.69 / 0.31, mean
    pairwise distance 1.8 / 2.2 (real 18.1): the buggy generator makes near-identical blobs.
  /tmp/s59/p/b102e/measure2.py, short horizons (the same numbers whether ``batch`` is repeated or the ``batches``
    are walked in order): errD at steps 1 / 10 / 50 / 100 buggy 1.40 1.11 2.77 1.48, fixed 1.40 1.09 1.02 0.57.
    Caution: ``loss_fn`` on the real batch alone (targets 1.0) FALLS faster in the buggy run (0.712 -> 0.003 at
    step 50, 0.31 at 100) than in the fixed one (0.712 -> 0.33 at 50, 0.14 at 100), because the buggy
    discriminator drifts to calling everything real; the fault shows in errD (which includes the fakes), in the
    growing gradient norm and in the samples, not in the real-only loss.
  Full width (the program's 1024/512/256 layers), in an earlier prototype loop (/tmp/s59/p/b102e/proto.py: the
    same step, batches of 64 drawn with replacement from the 1797 unshifted digits, 600 steps): buggy errD 2.08
    3.40 11.4 51.2 99.9 100 100 100 100 100 (D outputs 1.0 for every input from about step 250; gradient norm
    123 -> 8369), fixed 1.02 0.68 1.90 0.73 0.72 1.38 0.94 1.09 1.04 1.35; nearest-real distance 21.9 / 13.6. At the
    driver's hard-coded lr 0.02 both versions give errD 98 -> 100 from the first block (D saturated at once), so
    the zero_grad fault is visible only at the documented 0.0002.
  Time per step (batch 64): ~14 ms fixed, ~38 ms buggy (the huge accumulated gradients) when shrunk; ~150 ms at full
    width. Build: first ~6.6 s (imports, data), later ~0.03 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "missing_zero_grad"
SOURCE = ("github:Adversarial-Deep-Learning/code-soup issue #69, PR #74 (squash "
          "7aa48e78c7c710d521237fbcfb9512076408fe4a, commit 25a7502d 'added zero_grad() method on discriminator'); "
          "buggy code_soup/ch5/models/gan.py GAN.step @c56901eac88f6fef6900cd515b0e336d106ccd62, driver "
          "Tutorials/ch5/GAN/mnist_gan.py")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {"task": "binary"}), ("overfit_one_batch", {"task": "binary"}),
          ("gradients_flow", {}), ("output_range", {"kind": "sigmoid"})]

IMAGE_SIZE = 28
CHANNELS = 1
LATENT_DIMS = 128
BATCH_SIZE = 64
LR = 0.0002  # mnist_gan.py --learning_rate default
WIDTH_DIV = 4  # widths 256/512/1024 divided by 4 (speed on one CPU core)
N_BATCHES = 100
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    """Shifted MNIST-like digits after ToTensor + Normalize((0.5,), (0.5,)), shape (n, 1, 28, 28)."""
    from tests.real_programs._data import mnist_like

    x0, _ = mnist_like(1797)
    r = np.random.default_rng(SEED)
    n_tr = N_BATCHES * BATCH_SIZE
    src = np.concatenate([r.integers(0, 1500, n_tr), r.integers(1500, 1797, N_INPUTS)])
    xs = np.zeros((len(src), 28, 28), "float32")
    for i, s in enumerate(src):
        dy, dx = r.integers(-2, 3, 2)
        xs[i] = np.roll(np.roll(x0[s].astype("float32"), dy, 0), dx, 1)
    x = ((xs / 255.0 - 0.5) / 0.5)[:, None]  # ToTensor, Normalize((0.5,), (0.5,))
    return x[:n_tr].astype("float32"), x[n_tr:].astype("float32")


def _build(zero_grad_discriminator: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.optim as optim

    w = WIDTH_DIV

    class Generator(nn.Module):
        def __init__(self, image_size: int, channels: int, latent_dims: int, lr: float):
            super(Generator, self).__init__()
            self.image_size = image_size
            self.channels = channels
            self.latent_dims = latent_dims
            self.main = nn.Sequential(
                nn.Linear(self.latent_dims, 256 // w),
                nn.LeakyReLU(0.2),
                nn.Linear(256 // w, 512 // w),
                nn.LeakyReLU(0.2),
                nn.Linear(512 // w, 1024 // w),
                nn.LeakyReLU(0.2),
                nn.Linear(1024 // w, self.image_size * self.image_size * self.channels),
                nn.Tanh(),
            )
            self.optimizer = optim.Adam(self.parameters(), lr=lr)

        def forward(self, x):
            output = self.main(x)
            return output.view(-1, self.channels, self.image_size, self.image_size)

    class Discriminator(nn.Module):
        def __init__(self, image_size: int, channels: int, lr: float):
            super(Discriminator, self).__init__()
            self.image_size = image_size
            self.channels = channels
            self.main = nn.Sequential(
                nn.Linear(self.image_size * self.image_size * self.channels, 1024 // w),
                nn.LeakyReLU(0.2),
                nn.Dropout(0.3),
                nn.Linear(1024 // w, 512 // w),
                nn.LeakyReLU(0.2),
                nn.Dropout(0.3),
                nn.Linear(512 // w, 256 // w),
                nn.LeakyReLU(0.2),
                nn.Dropout(0.3),
                nn.Linear(256 // w, 1),
                nn.Sigmoid(),
            )
            self.optimizer = optim.Adam(self.parameters(), lr=lr)

        def forward(self, x):
            x = x.view(-1, self.image_size * self.image_size * self.channels)
            return self.main(x)

    torch.manual_seed(SEED)
    generator = Generator(IMAGE_SIZE, CHANNELS, LATENT_DIMS, LR)  # GAN.__init__ order: generator, then discriminator
    discriminator = Discriminator(IMAGE_SIZE, CHANNELS, LR)
    criterion = torch.nn.BCELoss()
    real_label, fake_label = 1.0, 0.0

    def loss_fn(output, label):  # self.criterion(output, label) with output = D(x).view(-1)
        return criterion(output.view(-1), label)

    def train_step(model, optimizer, loss_fn, real_image, _):
        """GAN.step(data): ``model`` / ``optimizer`` are self.discriminator / self.discriminator.optimizer."""
        batch_size = real_image.shape[0]
        label = torch.full((batch_size,), real_label, dtype=torch.float)
        if zero_grad_discriminator:  # the fix (PR #74): self.discriminator.zero_grad()
            model.zero_grad()
        # Forward pass real batch through D
        output = model(real_image).view(-1)
        # Calculate loss on all-real batch
        errD_real = criterion(output, label)
        errD_real.backward()
        # Train with all-fake batch
        noise = torch.randn(batch_size, LATENT_DIMS)
        fake = generator(noise)
        label.fill_(fake_label)
        output = model(fake.detach()).view(-1)
        errD_fake = criterion(output, label)
        errD_fake.backward()
        # Compute error of D as sum over the fake and the real batches
        errD = errD_real + errD_fake
        # Update D
        optimizer.step()

        generator.zero_grad()
        label.fill_(real_label)  # fake labels are real for generator cost
        output = model(fake).view(-1)
        errG = criterion(output, label)
        errG.backward()
        # Update G
        generator.optimizer.step()
        return errD

    x, xh = _data()
    xt = torch.tensor(x)
    ones = torch.full((BATCH_SIZE,), real_label)
    batches = [(xt[i:i + BATCH_SIZE], ones.clone()) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": discriminator, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_fn, "optimizer": discriminator.optimizer, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(zero_grad_discriminator=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(zero_grad_discriminator=True)
