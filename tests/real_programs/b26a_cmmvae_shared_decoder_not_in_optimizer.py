"""zdebruine/MMVAE (CMMVAE, a conditional multi-modal VAE for single-cell gene expression of human and
mouse cells): each species has an ``Expert`` (a species-specific encoder ``[n_genes, 1024, 512]`` with
batch norm, ReLU and dropout 0.1, and a decoder ``[512, 1024, n_genes]`` with ReLU), and all cells pass
through one shared ``CLVAE``: encoder ``[512, 256]`` (batch norm, ReLU) -> ``mean_encoder`` /
``var_encoder`` (``exp`` + 1e-4) -> latent 128 -> shared decoder ``[128, 256, 512]`` (ReLU) -> the expert's
decoder. Loss: ``F.mse_loss(xhat, x, reduction="sum") + kl_weight * KL(qz || N(0, I)).sum(-1).mean()``,
manual optimisation with one ``Adam(lr=1e-3, weight_decay=1e-6)`` per expert, one for the VAE and one per
adversarial discriminator, gradient clipping at norm 0.5.
The fault is in ``CMMVAEModel.configure_optimizers``: ``optimizers["vae"] = torch.optim.Adam(
self.module.vae.encoder.parameters(), ...)``. The shared VAE's ``mean_encoder``/``var_encoder`` and its
whole decoder ``[128, 256, 512]`` are in no optimizer, so they receive gradients every step but stay at
their (He) initialisation for the whole run: every reconstruction has to go through a frozen random
decoder, and the latent heads never adapt.

Source: github.com/zdebruine/MMVAE issue #39 ("Shared VAE Optimizer Only Given Encoder Parameters": "The
optimizer for the shared VAE portion of the model is only being given the parameters of the encoder
portion and not both the encoder & decoder portions"), closed by PR #41 ("Resolves Issues #39 & #40",
c2ab5ab); fix commit 750ba33701c7f7748533bf3b613e41e887b3fbf2 ("Resolves UMAP runtime issues and VAE
optimizer parameters"): ``self.module.vae.encoder.parameters()`` -> ``self.module.vae.parameters()``.
Buggy files: ``src/cmmvae/models/cmmvae_model.py`` (``configure_optimizers``, ``training_step``),
``src/cmmvae/modules/vae.py`` (``elbo``), ``src/cmmvae/modules/base/components.py`` (``FCBlock``,
``Encoder``), ``configs/model/config.yaml`` (sizes) at 750ba33^.
Program lines kept: the layer sizes and per-block options of ``config.yaml`` for the shared VAE (encoder
[512, 256] with BatchNorm1d(momentum=0.01, eps=0.001) + ReLU, latent 128, decoder [128, 256, 512] + ReLU)
and the human expert (encoder [n_genes, 1024, 512] with batch norm, ReLU, dropout 0.1; decoder
[512, 1024, n_genes] + ReLU), the ``Encoder`` heads (``mean_encoder``, ``var_encoder``, ``exp`` + 1e-4,
reparameterised Normal), the ``elbo`` loss with kl_weight 1.0, ``Adam(lr=1e-3, weight_decay=1e-6)``, and
the buggy/fixed parameter lists of the VAE optimizer.
Ported minimally: one expert (human) instead of two, so the adversarial discriminators (which tell human
from mouse hidden representations, ``adv_weight`` 25) and the conditional ``assay`` layers are left out;
the expert and VAE optimizers are one ``Adam`` with two parameter groups (same hyper-parameters, same
update as two optimizers stepped together) and the ``optimizer`` factory builds those groups as
``configure_optimizers`` does, picking the modules' parameters by their place in the parameters it is
given; gradient clipping is left
out (plain loops); He initialisation is PyTorch's default init; ``n_genes`` is 1000 instead of 60664 so a
step stays cheap on CPU. The model's forward returns ``xhat`` and stores the KL term, which ``loss_fn``
adds to the summed MSE (the ELBO of ``vae.elbo``).
Data stand-in (the CELLxGENE census is not available offline): seeded synthetic log1p-normalised
expression, 1000 genes, from a low-rank non-negative model (8 cell programmes, gamma-distributed gene
loadings, Poisson counts, library size normalised to 1e4, log1p): sparse, non-negative, values 0 to ~6
like log-normalised scRNA-seq; batches of 128 cells (``batch_size`` 128 of the model's default).
Keras: not ported (a PyTorch Lightning program; the fault is which ``nn.Module``'s parameters the
optimizer was given).
Fault label: params_not_updated (the shared VAE's latent heads and decoder never move).
Fix (750ba33): ``torch.optim.Adam(self.module.vae.parameters(), lr=1e-3, weight_decay=1e-6)``.

Symptom in a short loop (my own loop: ``opt.zero_grad(); loss_fn(model(x), x).backward(); opt.step()``,
seed 0, OMP_NUM_THREADS=1, model in train mode; losses divided by the number of matrix entries; ~35-40 ms
a step on CPU): the fault is structural and the loss alone barely shows it. Cycling over the 6 batches for
600 steps: buggy 4.456 (step 1) -> 1.474 (50) -> 1.076 (100) -> 0.857 (200) -> 0.793 (400) -> 0.715
(600), fixed 4.456 -> 1.486 -> 0.986 -> 0.862 -> 0.804 -> 0.782 (the expert decoder learns to read the
frozen random decoder's features, so the buggy model keeps pace). Overfitting one batch of 128 cells for
300 steps shows it: buggy 4.456 -> 0.990 (100) -> 0.345 (300), fixed 4.456 -> 0.930 -> 0.149. After the
600 steps the largest change of any weight of the shared decoder's first layer is 0.0 in the buggy run
(0.105 fixed); its gradients are non-zero at every step. With 500 genes the contrast is smaller still
(one batch, step 300: buggy 0.571, fixed 0.506).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "params_not_updated"
SOURCE = ("github:zdebruine/MMVAE issue #39, PR #41 (src/cmmvae/models/cmmvae_model.py configure_optimizers"
          "@750ba33^, modules/vae.py, modules/base/components.py, configs/model/config.yaml; "
          "fix 750ba33701c7f7748533bf3b613e41e887b3fbf2)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {})]

N_GENES = 1000  # port: 60664 human genes in the program
BATCH_SIZE = 128


def _data(n_cells: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = 8
    programs = rng.gamma(0.3, 1.0, size=(k, N_GENES))
    programs /= programs.sum(1, keepdims=True)
    weights = rng.dirichlet(np.full(k, 0.3), size=n_cells)
    lib = rng.lognormal(np.log(2000), 0.3, size=(n_cells, 1))
    counts = rng.poisson(weights @ programs * lib)
    norm = counts / np.maximum(counts.sum(1, keepdims=True), 1) * 1e4
    return np.log1p(norm).astype(np.float32)


def _build(fixed_optimizer: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.distributions import Normal, kl_divergence

    torch.manual_seed(0)

    def fc_block(layers, batch_norm, dropout):  # FCBlock._make_layer per layer (program options)
        mods = []
        for n_in, n_out in zip(layers[:-1], layers[1:]):
            mods.append(nn.Linear(n_in, n_out))
            if batch_norm:
                mods.append(nn.BatchNorm1d(n_out, momentum=0.01, eps=0.001))
            mods.append(nn.ReLU())
            if dropout:
                mods.append(nn.Dropout(p=dropout))
        return nn.Sequential(*mods)

    class Encoder(nn.Module):  # components.Encoder: fc -> mean_encoder / var_encoder (exp + var_eps)
        def __init__(self, n_hidden, latent_dim, var_eps=1e-4):
            super().__init__()
            self.fc = fc_block([512, 256], batch_norm=True, dropout=0.0)
            self.mean_encoder = nn.Linear(n_hidden, latent_dim)
            self.var_encoder = nn.Linear(n_hidden, latent_dim)
            self.var_eps = var_eps

        def forward(self, x):
            q = self.fc(x)
            q_m = self.mean_encoder(q)
            q_v = torch.exp(self.var_encoder(q)) + self.var_eps
            dist = Normal(q_m, q_v.sqrt())
            return dist, dist.rsample()

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = Encoder(256, 128)
            self.decoder = fc_block([128, 256, 512], batch_norm=False, dropout=0.0)

    class Expert(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = fc_block([N_GENES, 1024, 512], batch_norm=True, dropout=0.1)
            self.decoder = fc_block([512, 1024, N_GENES], batch_norm=False, dropout=0.0)

    class CMMVAE(nn.Module):  # one expert; returns xhat, keeps the KL for the ELBO
        def __init__(self):
            super().__init__()
            self.vae = VAE()
            self.expert = Expert()
            self.last_kl = None

        def forward(self, x):
            h = self.expert.encoder(x)
            qz, z = self.vae.encoder(h)
            pz = Normal(torch.zeros_like(z), torch.ones_like(z))
            self.last_kl = kl_divergence(qz, pz).sum(dim=-1)
            return self.expert.decoder(self.vae.decoder(z))

    model = CMMVAE()
    kl_weight = 1.0

    def elbo(xhat, x):  # vae.elbo: summed MSE + kl_weight * mean KL
        return F.mse_loss(xhat, x, reduction="sum") + kl_weight * model.last_kl.mean()

    # the check trains a copy and hands the factory the copy's parameters, in model.parameters() order:
    # the groups configure_optimizers builds from the modules are picked out by their place there (the
    # lead's port of the helper's factory, which read them off the original model; before measuring)
    place = {id(p): i for i, p in enumerate(model.parameters())}
    expert_at = [place[id(p)] for p in model.expert.parameters()]
    vae_at = [place[id(p)] for p in (model.vae.parameters() if fixed_optimizer else model.vae.encoder.parameters())]

    def optimizer(params):
        params = list(params)
        return torch.optim.Adam([{"params": [params[i] for i in expert_at]},
                                 {"params": [params[i] for i in vae_at]}], lr=1e-3, weight_decay=1e-6)

    x = torch.from_numpy(_data(BATCH_SIZE * 6, seed=0))
    batches = [(x[i:i + BATCH_SIZE], x[i:i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[:256],
            "loss_fn": elbo, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed_optimizer=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed_optimizer=True)
