"""orybkin/sigma-vae-pytorch (the PyTorch code of the sigma-VAE paper, Rybkin et al. 2020), ``model.py`` +
``train_vae.py``, run as ``python train_vae.py --log_dir mse_vae --model mse_vae``: a convolutional VAE
(``ConvVAE``: 3 conv layers of 32 / 64 / 128 filters, z_dim 20, ConvTranspose decoder ending in a Sigmoid) trained
on SVHN resized to 28 x 28 (``Resize((28, 28))`` + ``ToTensor()``, values 0..1) with ``optim.Adam(lr=1e-3)``,
batch size 128; each step minimises ``total_loss = rec + kl`` from ``model.loss_function``.

The fault (``ConvVAE.loss_function``, the ``mse_vae`` branch): the reconstruction term is
``torch.nn.MSELoss()(recon_x, x)``, the squared error AVERAGED over the batch and all 3 x 28 x 28 pixels, while the
KL term ``-0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())`` is SUMMED over the batch and the 20 latent
dimensions. Relative to a proper ELBO (both terms summed) the KL regulariser is weighted by 128 x 2352 = 301,056,
i.e. a beta-VAE with beta ~ 3e5. The cheapest way to lower the loss is to drive KL to zero: the encoder outputs
mu = 0, logvar = 0 for every image (posterior collapse), the decoder gets pure noise and learns to paint the
dataset's mean image. Training "works" (the loss falls from 0.89 to 0.062) but the model learns nothing about its
input: every reconstruction and every sample is the same blurry average.

Source: github.com/orybkin/sigma-vae-pytorch, ``model.py`` / ``train_vae.py`` at
4748a3ac1686316292607f40192c7ec2ded09893 (HEAD; the ``MSELoss()`` line dates from the first commit 48f930c
'Initial VAE code from pytorch examples'). The README itself warns that this variant "works very poorly because the
MSE loss averages the pixels instead of summing them". Pull request #12 'fix: mse_vae training broken due to
incorrect averaging' (paulperet, 2026-05-07): the model makes blurry images and cannot improve; setting the
``MSELoss`` ``size_average`` flag to False fixes it. The maintainer (orybkin) answered that averaging is
"definitely wrong", since a bigger image carries more information and so should weigh more in the loss (he added
that the two terms still need balancing for the best results, e.g. with the sigma-VAE's learned variance). The PR
was closed without a merge, so the fix is the PR's one-line change, with the maintainer's agreement: the summed
squared error, ``torch.nn.MSELoss(size_average=False)``, written here as the equivalent ``reduction='sum'`` (the
legacy flag still works in torch 2 but warns on every call).
Fault label: over_regularized (the KL penalty outweighs the data term by a factor of ~3e5, so the posterior
collapses onto the prior and the model ignores its input).

Lines kept verbatim: ``ConvVAE`` (encoder, decoder, ``encode`` / ``reparameterize`` / ``decode`` / ``forward``,
``loss_function`` with ``rec = torch.nn.MSELoss()(recon_x, x)`` and the summed ``kl``), ``Flatten``,
``UnFlatten``, ``softclip``, ``gaussian_nll`` (the last two belong to the unused sigma-VAE branches, kept for
completeness; the comments of ``reconstruction_loss`` were trimmed), the args ``--model mse_vae``,
``--batch-size 128``, ``optim.Adam(model.parameters(), lr=1e-3)`` and the plain training step of ``train()``
(zero_grad, forward, ``rec + kl``, backward, step), which ``loss_fn`` reproduces: ``loss_fn(recon, x)`` returns
``rec + kl`` from the program's own ``model.loss_function``.
Changed: ``filters_m = 32`` -> ``FILTERS_M = 8`` (the program's widths take 0.38 s a step on one CPU core, 38 s
per 100 steps; at 8 filters 0.065 s a step); the fault sits in the loss, not in the widths. The
``print('h_dim', h_dim)`` of ``__init__`` is dropped. ``forward`` returns
``(recon, mu, logvar)``; so that ``model(x)`` gives one tensor, a subclass ``CheckedConvVAE`` returns the
reconstruction and keeps ``mu`` / ``logvar`` on the model, where ``loss_fn`` reads them (no other change; the
reparameterisation still samples in every mode, as in the program). ``device='cpu'``. Targets are the inputs.
Ported: torch only. The repository's TensorFlow sibling (orybkin/sigma-vae-tensorflow) is a different program
(another encoder / decoder, and its ``mse`` branch averages BOTH terms; its issue #2 has the maintainer call the
averaging "wrong"), so there is no faithful Keras twin of this one.
Data stand-in (no SVHN download): (n, 3, 28, 28) float32 in [0, 1], "house numbers": scikit-learn's 8x8 digits
blown up to 28 x 28 (``_data.mnist_like``), shifted by -2..2 pixels, painted in a random colour over a random
plate colour, plus N(0, 0.03) noise, clipped; training images from the first 1500 digits, held-out from the last
297. ``batches``: 40 distinct batches of 128 (x, x); ``batch``: the first; ``inputs``: 256 held-out images.

Measured (my own plain loop /tmp/s58/p/b100e/measure.py on the module's builds: the program's step over the 40
batches in order, cycled; torch seed 0; OMP_NUM_THREADS=1):
  400 steps (~6.7 s buggy / 7.9 s fixed per 100 steps), per-pixel MSE of the training reconstructions, means of
  40-step blocks: buggy 0.0620 0.0619 0.0619 ... 0.0619 (flat from step ~40 on), KL per sample 3e-4 -> 1e-6;
  fixed 0.0619 0.0572 0.0484 0.0464 ... 0.0419, KL per sample 0.01 -> 4.6.
  1200 steps: buggy per-pixel MSE 0.0619 in every 120-step block, KL per sample 2e-7 at the end; fixed 0.0559
  0.0459 0.0449 0.0342 0.0216 0.0139 0.0128 0.0123 0.0122 0.0121, KL ~10 per sample. On the 256 held-out images:
  buggy MSE 0.0597 = the mean-image baseline 0.0595 (predict the average image for everything), the same 0.0597
  with the input zeroed, per-pixel std of the reconstructions across images 0.0001 (all identical), std of mu
  across images 0.0001; fixed MSE 0.0116 (5x below the baseline), 0.175 with the input zeroed, spread 0.22.
  Other seeds (module SEED 1 / 2 for data and init, 400 steps): held-out MSE buggy 0.0614 / 0.0567 vs baseline
  0.0610 / 0.0566 (spread 0.002), fixed 0.0178 / 0.0228 (spread 0.20 / 0.18).
  One batch repeated 200 steps (measure_more.py): buggy per-pixel MSE 0.0601 / 0.0599 / 0.0599 / 0.0599 at steps
  1 / 50 / 100 / 200 (batch mean-image baseline 0.0598); fixed 0.0601 / 0.0477 / 0.0436 / 0.0272.
  The buggy loss does fall (0.89 at step 0, 0.062 from step ~40 on): the fall is the KL term going to zero, not
  the reconstruction improving. Loss values of the two versions are on different scales (mean vs sum).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "over_regularized"
SOURCE = ("github:orybkin/sigma-vae-pytorch PR #12 'fix: mse_vae training broken due to incorrect averaging' "
          "(model.py ConvVAE.loss_function 'rec = torch.nn.MSELoss()(recon_x, x)' with "
          "'kl = -0.5 * torch.sum(...)', train_vae.py --model mse_vae @4748a3ac1686316292607f40192c7ec2ded09893; "
          "fix per the PR and the maintainer's answer: torch.nn.MSELoss(size_average=False), i.e. the squared "
          "error summed like the KL term)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {"task": "regression"}), ("overfit_one_batch", {"task": "regression"}),
          ("input_independent_baseline", {"task": "regression"}), ("gradients_flow", {}),
          ("output_range", {"low": 0.0, "high": 1.0})]

BATCH_SIZE = 128  # --batch-size default
LR = 1e-3  # optim.Adam(model.parameters(), lr=1e-3)
FILTERS_M = 8  # the program: filters_m = 32 (shrunk 4x for CPU speed, see the docstring)
N_BATCHES = 40
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> np.ndarray:
    """SVHN-like colour digits after Resize((28, 28)) + ToTensor: (n, 3, 28, 28) float32 in [0, 1]."""
    from tests.real_programs._data import mnist_like

    digits, _ = mnist_like(1797)  # (1797, 28, 28) uint8, a digit centred in 28 x 28
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    src = np.concatenate([r.integers(0, 1500, n - N_INPUTS), r.integers(1500, 1797, N_INPUTS)])
    out = np.empty((n, 3, 28, 28), "float32")
    for i, s in enumerate(src):
        dy, dx = r.integers(-2, 3, 2)
        mask = np.roll(np.roll(digits[s].astype("float32") / 255.0, dy, 0), dx, 1)
        bg, fg = r.uniform(0.05, 0.95, 3), r.uniform(0.05, 0.95, 3)  # house-number plate and paint colours
        img = bg[:, None, None] * (1 - mask) + fg[:, None, None] * mask
        out[i] = np.clip(img + r.normal(0, 0.03, img.shape), 0.0, 1.0)
    return out


def _build(fixed: bool) -> dict[str, Any]:
    import types

    import torch
    import torch.nn.functional as F
    import torch.utils.data
    from torch import nn

    def softclip(tensor, min):
        """ Clips the tensor values at the minimum value min in a softway. Taken from Handful of Trials """
        result_tensor = min + F.softplus(tensor - min)

        return result_tensor

    class Flatten(nn.Module):
        def forward(self, input):
            return input.view(input.size(0), -1)

    class UnFlatten(nn.Module):
        def __init__(self, n_channels):
            super(UnFlatten, self).__init__()
            self.n_channels = n_channels

        def forward(self, input):
            size = int((input.size(1) // self.n_channels) ** 0.5)
            return input.view(input.size(0), self.n_channels, size, size)

    def gaussian_nll(mu, log_sigma, x):
        return 0.5 * torch.pow((x - mu) / log_sigma.exp(), 2) + log_sigma + 0.5 * np.log(2 * np.pi)

    class ConvVAE(nn.Module):
        def __init__(self, device='cuda', img_channels=3, args=None):
            super().__init__()
            self.batch_size = args.batch_size
            self.device = device
            self.z_dim = 20
            self.img_channels = img_channels
            self.model = args.model
            img_size = 28
            filters_m = FILTERS_M  # the program: 32

            ## Build network
            self.encoder = self.get_encoder(self.img_channels, filters_m)

            # output size depends on input image size, compute the output size
            demo_input = torch.ones([1, self.img_channels, img_size, img_size])
            h_dim = self.encoder(demo_input).shape[1]

            # map to latent z
            self.fc11 = nn.Linear(h_dim, self.z_dim)
            self.fc12 = nn.Linear(h_dim, self.z_dim)

            # decoder
            self.fc2 = nn.Linear(self.z_dim, h_dim)
            self.decoder = self.get_decoder(filters_m, self.img_channels)

            self.log_sigma = 0
            if self.model == 'sigma_vae':
                ## Sigma VAE
                self.log_sigma = torch.nn.Parameter(torch.full((1,), 0)[0], requires_grad=args.model == 'sigma_vae')

        @staticmethod
        def get_encoder(img_channels, filters_m):
            return nn.Sequential(
                nn.Conv2d(img_channels, filters_m, (3, 3), stride=1, padding=1),
                nn.ReLU(),
                nn.Conv2d(filters_m, 2 * filters_m, (4, 4), stride=2, padding=1),
                nn.ReLU(),
                nn.Conv2d(2 * filters_m, 4 * filters_m, (5, 5), stride=2, padding=2),
                nn.ReLU(),
                Flatten()
            )

        @staticmethod
        def get_decoder(filters_m, out_channels):
            return nn.Sequential(
                UnFlatten(4 * filters_m),
                nn.ConvTranspose2d(4 * filters_m, 2 * filters_m, (6, 6), stride=2, padding=2),
                nn.ReLU(),
                nn.ConvTranspose2d(2 * filters_m, filters_m, (6, 6), stride=2, padding=2),
                nn.ReLU(),
                nn.ConvTranspose2d(filters_m, out_channels, (5, 5), stride=1, padding=2),
                nn.Sigmoid(),
            )

        def encode(self, x):
            h = self.encoder(x)
            return self.fc11(h), self.fc12(h)

        def reparameterize(self, mu, logvar):
            std = torch.exp(0.5 * logvar)
            eps = torch.randn_like(std)
            return mu + eps * std

        def decode(self, z):
            return self.decoder(self.fc2(z))

        def forward(self, x):
            mu, logvar = self.encode(x)
            z = self.reparameterize(mu, logvar)
            return self.decode(z), mu, logvar

        def sample(self, n):
            sample = torch.randn(n, self.z_dim).to(self.device)
            return self.decode(sample)

        def reconstruction_loss(self, x_hat, x):
            if self.model == 'gaussian_vae':
                log_sigma = torch.zeros([], device=x_hat.device)
            elif self.model == 'sigma_vae':
                log_sigma = self.log_sigma
            elif self.model == 'optimal_sigma_vae':
                log_sigma = ((x - x_hat) ** 2).mean([0,1,2,3], keepdim=True).sqrt().log()
                self.log_sigma = log_sigma.item()
            else:
                raise NotImplementedError
            log_sigma = softclip(log_sigma, -6)
            rec = gaussian_nll(x_hat, log_sigma, x).sum()
            return rec

        def loss_function(self, recon_x, x, mu, logvar):
            # Important: both reconstruction and KL divergence loss have to be summed over all element!
            # Here we also sum the over batch and divide by the number of elements in the data later
            if self.model == 'mse_vae':
                if fixed:  # PR #12: torch.nn.MSELoss(size_average=False), the same as reduction='sum'
                    rec = torch.nn.MSELoss(reduction='sum')(recon_x, x)
                else:
                    rec = torch.nn.MSELoss()(recon_x, x)
            else:
                rec = self.reconstruction_loss(recon_x, x)

            # see Appendix B from VAE paper:
            # Kingma and Welling. Auto-Encoding Variational Bayes. ICLR, 2014
            # https://arxiv.org/abs/1312.6114
            # 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)
            kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

            return rec, kl

    class CheckedConvVAE(ConvVAE):
        """The program's ConvVAE; ``model(x)`` returns the reconstruction and keeps ``mu`` / ``logvar`` on the
        model for the loss, as ``train()`` hands them to ``model.loss_function``."""

        def forward(self, x):
            recon_batch, mu, logvar = super().forward(x)
            self.mu, self.logvar = mu, logvar
            return recon_batch

    torch.manual_seed(SEED)
    args = types.SimpleNamespace(batch_size=BATCH_SIZE, model='mse_vae')  # python train_vae.py --model mse_vae
    model = CheckedConvVAE('cpu', 3, args)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)

    def loss_fn(recon_batch: Any, data: Any) -> Any:  # train(): rec, kl = model.loss_function(...); rec + kl
        rec, kl = model.loss_function(recon_batch, data, model.mu, model.logvar)
        return rec + kl

    x = torch.from_numpy(_data())
    n = N_BATCHES * BATCH_SIZE
    batches = [(x[i:i + BATCH_SIZE], x[i:i + BATCH_SIZE]) for i in range(0, n, BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[n:], "loss_fn": loss_fn,
            "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
