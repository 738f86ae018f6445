"""PaAno (``jinnnju/PaAno``, "patch-based" time-series anomaly detection): a 1-D CNN ``PatchEncoder`` is trained
with metric learning on sliding-window patches of the (normal) training series -- each anchor patch's positive is a
patch 1 or 2 steps away, the negatives are the other anchors' positives in the batch -- then a memory bank of patch
embeddings scores test patches by distance.

``train.py`` ``train_model``: anchors and positives go through ``model.embedding`` in one batch, ``model.projection``,
``F.normalize``; ``_sim_ap = z_anchor @ z_pos.T / temperature`` (M x M cosine similarities), ``pos_sims`` its
diagonal; to exclude each anchor's own positive from the negatives the code masks the diagonal and takes the
hardest negative as ``torch.max(1 - sim)``; ``triplet_loss = relu(pos_dists - hard_neg_dists + 0.5).mean()``
(plus a pretext "adjacent patch" BCE term only during the first num_iter / 10 iterations, weight 1 -> 0).

The fault: the diagonal is filled with ``-inf`` **in similarity space** and then turned into a distance
``1 - sim``, so every diagonal entry becomes ``+inf`` and ``torch.max`` over the distances always picks it: every
anchor's "hardest negative" distance is +inf, ``pos_dists - inf + 0.5 = -inf`` and ``relu`` gives exactly 0 for
every anchor. The triplet loss is identically 0 and sends no gradient at all, so once the pretext warm-up has
faded (10 % of training) the encoder is never updated again: the embeddings the memory bank uses are those of a
nearly untrained network. Issue #1 (2026-02-18, "Potential bug in triplet loss implementation": "torch.max is then
applied in distance space, it will always select these +inf diagonal entries as the 'hardest' negatives -- meaning
the loss becomes relu(pos_dist - inf + 0.5) = 0 for every sample ... the solution is to fill instead with +inf");
the author (2026-03-07): "The issue you pointed out was identified as a bug and has now been corrected in the
repository. ``_sim_ap_f.diagonal().fill_(+float('inf')) # fixed bug``".

Source: github.com/jinnnju/PaAno train.py ``train_model``, model.py ``PatchEncoder``, utils/utils.py ``RevIN1d``,
utils/data_preprocess.py ``PatchCreator``, main.py, script/run_uni.sh at 01b5805 (the newest stored snapshot, still
with ``fill_(-float('inf'))``); fix as quoted by the maintainer in issue #1. Fault label: the loss is a constant 0
with no gradient path to any parameter (``no_gradient``); it is the loss's negative selection, not the model.
Note: the fixed line makes ``torch.max`` pick the *farthest* (easiest) off-diagonal negative, since it still takes
the max of distances; that is the maintainer's fix and is kept as is (it gives a non-zero, learning loss).

Program lines kept: ``PatchEncoder`` (RevIN1d per-patch normalisation -- run_uni.sh passes ``--use_revin`` --,
four ``Conv1d(bias=False)`` / ``BatchNorm1d`` / ``ReLU`` blocks with kernels 7, 5, 3, 3 and ``padding=k // 2``,
``AdaptiveAvgPool1d(1)``, projection head ``Linear, ReLU, Linear``), anchors and positives concatenated into one
batch (so BatchNorm sees both), the positive sampling (a random valid offset in -2, -1, 1, 2), ``F.normalize``,
temperature 1.0, margin 0.5, the masking / max / relu lines, ``AdamW(lr=1e-4, weight_decay=1e-4)``, patch size 64
with stride 1, a shuffled loader. Ported: a thin wrapper takes one float32 (M, 2, 1, 64) tensor of [anchor,
positive] patches, runs ``embedding`` on the concatenation [anchors; positives] and ``projection``, and returns the
(M, 2, P) projections; ``loss_fn(outputs, y)`` holds the program's triplet lines (``y`` is an unused dummy of
zeros). Left out: the pretext BCE term (it weighs 0 after num_iter / 10 iterations), the cosine lr decay 1e-4 ->
1e-5 (the optimiser starts at 1e-4), best-weights bookkeeping, the memory bank and scoring. Shrunk for CPU speed:
batch 512 -> 64 anchors, conv widths [128, 256, 128, 64] -> [32, 64, 32, 16], projection 256 -> 64 (one step of
the program's sizes on 1024 patches is ~19 GFLOP). Keras twin: the same layers channels-last (``Conv1D(padding=
"same", use_bias=False)``, ``BatchNormalization(momentum=0.9, epsilon=1e-5)`` like torch's, ReLU,
``GlobalAveragePooling1D``, ``Dense(P, relu)``, ``Dense(P)``), the RevIN lines in ``keras.ops``, the same (M, 2, 1, 64)
input, the triplet loss in ``keras.ops`` with ``ops.where(eye, -inf, sim)`` for the in-place fill, compiled with
``AdamW(1e-4, weight_decay=1e-4)`` (Keras' AdamW is decoupled like torch's). A masked fill in similarity space
before a max over distances can be written in either framework.
Data stand-in (no TSB-AD csv): a seeded univariate quasi-periodic series (period ~48 with a harmonic, slow
amplitude drift, noise), 3,000 training points -> 2,937 patches of 64 (float32, C = 1); ``batch``: 64 shuffled
anchors with their sampled positives; ``batches``: 4 such batches; ``inputs``: the x of ``batch``.

Fix: ``_sim_ap_f.diagonal().fill_(+float('inf'))`` (the diagonal's distance becomes -inf, so max skips it).

Measured (my own plain loops, /tmp/s47/h_c/measure.py, OMP_NUM_THREADS=1, the module's builds, 200 iterations =
the program's num_iters, a fresh shuffled batch each iteration):
  torch buggy: loss 0.0 at every one of the 200 iterations (max 0.0), gradient norm 0.0 at every step, total
    weight change 0.0000 (only AdamW's 1e-8 relative decay); on a held batch the anchor-positive cosine is 0.999
    and the mean anchor-negative cosine 0.991 -- the untrained encoder maps all patches to nearly one direction.
  torch fixed: loss iteration 1 / 10 / 50 / 100 / 200: 0.480 / 0.431 / 0.040 / 0.002 / 0.000, gradient norm
    0.41 at step 1 (mean 0.48), weight change 0.67; held batch: positive cosine 0.990, negative cosine 0.551.
  Keras buggy: loss 0.0 throughout, weight change 0.0000, positive / negative cosine 0.998 / 0.963.
  Keras fixed: loss 0.425 / 0.351 / 0.004 / 0.0003 / 0.000, weight change 0.52, cosines 0.989 / 0.650.
  Top-1 retrieval of each anchor's own positive among the 64 is not a fair quality measure here (buggy 0.91,
    fixed 0.61 torch / 0.80 Keras): a 1-2 step shifted patch of a smooth series is already closest at init, and
    the maintainer's fix trains against the *easiest* negative. So the fault shows as a loss that is exactly 0
    with zero gradient from the first step; whether the fixed encoder gives better anomaly scores was not measured.
  Time per step (64 anchor + 64 positive patches, one thread, shared machine): torch 35-45 ms, Keras
    train_on_batch 34-54 ms; builds < 0.1 s torch, ~0.3 s Keras (first Keras import ~4 s).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "no_gradient"
SOURCE = ("github:jinnnju/PaAno issue #1 (train.py train_model _sim_ap_f.diagonal().fill_(-float('inf')); "
          "neg_dists = 1 - _sim_ap_f; hard_neg_dists = torch.max(neg_dists, dim=1), model.py PatchEncoder, "
          "script/run_uni.sh @01b58052; fix per the maintainer in issue #1: fill_(+float('inf')))")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {})]

# program settings (train.py / main.py / run_uni.sh); widths and batch shrunk (see the docstring)
patch_size = 64
radius = 2
temperature = 1.0
margin = 0.5
lr = 1e-4
weight_decay = 1e-4
LAYERS = [32, 64, 32, 16]  # program: [128, 256, 128, 64]
KSS = [7, 5, 3, 3]
PROJECTION_DIM = 64  # program: 256
BATCH = 64  # program: 512
revin_eps = 1e-5
revin_min_sigma = 1e-5
N_TRAIN = 3000
N_BATCHES = 4
SEED = 2027
FILL_BUGGY = -float("inf")  # _sim_ap_f.diagonal().fill_(-float('inf'))
FILL_FIXED = float("inf")  # fixed bug


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def train_patches() -> np.ndarray:
    """Stand-in training series -> ``PatchCreator.create_patches`` (L = 64, s = 1), each patch (1, 64) float32."""
    r = np.random.default_rng(SEED)
    t = np.arange(N_TRAIN, dtype=np.float64)
    amp = 1.0 + 0.3 * np.sin(2 * np.pi * t / 1100.0)
    period = 48.0 + 2.0 * np.sin(2 * np.pi * t / 700.0)
    phase = 2 * np.pi * np.cumsum(1.0 / period)
    series = amp * (np.sin(phase) + 0.4 * np.sin(2 * phase + 0.7)) + 0.15 * r.standard_normal(N_TRAIN) + 5.0
    n = N_TRAIN - patch_size + 1
    idx = np.arange(n)[:, None] + np.arange(patch_size)[None, :]
    return series[idx][:, None, :].astype(np.float32)


def sample_batch(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One shuffled loader batch of anchors and, per anchor, a positive at a random valid offset in
    (-2, -1, 1, 2) (train_model's ``_cand`` / ``_valid`` / ``argmax`` of noise). x: (M, 2, 1, 64), y: zeros (M,)."""
    patches = train_patches()
    total_len = len(patches)
    batch_indexes = rng.choice(total_len, BATCH, replace=False)
    offsets = np.array([*range(-radius, 0), *range(1, radius + 1)])
    cand = batch_indexes[:, None] + offsets[None, :]
    valid = (cand >= 0) & (cand < total_len)
    score = np.where(valid, rng.random(cand.shape), -1.0)
    pos_idx = cand[np.arange(BATCH), score.argmax(1)]
    x = np.stack([patches[batch_indexes], patches[pos_idx]], axis=1)
    return x.astype(np.float32), np.zeros(BATCH, np.float32)


@functools.lru_cache(maxsize=1)
def _common() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(SEED)
    return [sample_batch(rng) for _ in range(N_BATCHES)]


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fill: float) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(SEED)

    class RevIN1d(nn.Module):  # utils/utils.py, affine=False
        def __init__(self, num_channels, eps=1e-5, min_sigma=1e-5):
            super().__init__()
            self.eps = eps
            self.min_sigma = min_sigma

        @torch.no_grad()
        def _stats(self, x):
            mu = x.mean(dim=-1, keepdim=True)
            var = x.var(dim=-1, unbiased=False, keepdim=True)
            sigma = (var + self.eps).sqrt().clamp_min(self.min_sigma)
            return mu, sigma

        def norm(self, x):
            self._mu, self._sigma = self._stats(x)
            return (x - self._mu) / self._sigma

    class PatchEncoder(nn.Module):  # model.py (classification_head of the pretext task left out)
        def __init__(self, in_channels=1, projection_dim=PROJECTION_DIM, layers=LAYERS, kss=KSS):
            super().__init__()
            self.layers = layers
            self.kss = kss
            self.revin = RevIN1d(num_channels=in_channels, eps=revin_eps, min_sigma=revin_min_sigma)
            self.convblocks = nn.ModuleList([
                nn.Sequential(
                    nn.Conv1d(layers[i - 1] if i > 0 else in_channels, self.layers[i],
                              kernel_size=self.kss[i], stride=1, padding=self.kss[i] // 2, bias=False),
                    nn.BatchNorm1d(self.layers[i]),
                    nn.ReLU(inplace=True)
                ) for i in range(len(self.layers))
            ])
            self.fc_embedding = nn.AdaptiveAvgPool1d(output_size=1)
            self.projection_head = nn.Sequential(
                nn.Linear(self.layers[-1], projection_dim),
                nn.ReLU(),
                nn.Linear(projection_dim, projection_dim)
            )

        def embedding(self, x):
            x = self.revin.norm(x)
            for block in self.convblocks:
                x = block(x)
            return self.fc_embedding(x).flatten(start_dim=1)

        def projection(self, h):
            return self.projection_head(h)

    class PairInput(nn.Module):
        """Port wrapper: (M, 2, 1, L) [anchor, positive] -> (M, 2, P) projections, as train_model computes them."""

        def __init__(self, encoder):
            super().__init__()
            self.encoder = encoder

        def forward(self, x):
            M = x.shape[0]
            anchors, positives = x[:, 0], x[:, 1]
            all_patches = torch.cat([anchors, positives], dim=0)
            all_embeddings = self.encoder.embedding(all_patches)
            z = self.encoder.projection(all_embeddings)
            return torch.stack([z[:M], z[M:2 * M]], dim=1)

    model = PairInput(PatchEncoder(in_channels=1))
    model.train()

    def loss_fn(outputs, y):  # train_model's triplet lines
        z_anchor = F.normalize(outputs[:, 0], dim=1)
        z_pos = F.normalize(outputs[:, 1], dim=1)
        _sim_ap = (z_anchor @ z_pos.T) / temperature
        pos_sims = _sim_ap.diag()
        _sim_ap_f = _sim_ap.clone()
        _sim_ap_f.diagonal().fill_(fill)
        neg_dists = 1 - _sim_ap_f
        hard_neg_dists, _ = torch.max(neg_dists, dim=1)
        pos_dists = 1 - pos_sims
        return F.relu(pos_dists - hard_neg_dists + margin).mean()

    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    bs = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in _common()]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": bs[0][0], "loss_fn": loss_fn,
            "optimizer": optimizer}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fill: float) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    def revin_norm(x):  # RevIN1d.norm over the time axis (channels-last: axis 1); stats without gradient
        mu = ops.stop_gradient(ops.mean(x, axis=1, keepdims=True))
        var = ops.stop_gradient(ops.var(x, axis=1, keepdims=True))
        sigma = ops.maximum(ops.sqrt(var + revin_eps), revin_min_sigma)
        return (x - mu) / sigma

    inp = keras.Input(shape=(2, 1, patch_size), dtype="float32")
    all_patches = ops.reshape(ops.transpose(inp, (1, 0, 3, 2)), (-1, patch_size, 1))  # [anchors; positives]
    h = layers.Lambda(revin_norm, name="revin")(all_patches)
    for width, k in zip(LAYERS, KSS):
        h = layers.Conv1D(width, k, padding="same", use_bias=False)(h)
        h = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(h)
        h = layers.ReLU()(h)
    h = layers.GlobalAveragePooling1D()(h)
    z = layers.Dense(PROJECTION_DIM, activation="relu")(h)
    z = layers.Dense(PROJECTION_DIM)(z)
    out = ops.transpose(ops.reshape(z, (2, -1, PROJECTION_DIM)), (1, 0, 2))
    model = keras.Model(inp, out)

    def triplet_loss(y_true, y_pred):
        z_anchor = y_pred[:, 0] / ops.maximum(ops.norm(y_pred[:, 0], axis=1, keepdims=True), 1e-12)
        z_pos = y_pred[:, 1] / ops.maximum(ops.norm(y_pred[:, 1], axis=1, keepdims=True), 1e-12)
        _sim_ap = ops.matmul(z_anchor, ops.transpose(z_pos)) / temperature
        pos_sims = ops.diagonal(_sim_ap)
        eye = ops.eye(ops.shape(_sim_ap)[0], dtype="bool")
        _sim_ap_f = ops.where(eye, fill, _sim_ap)
        neg_dists = 1 - _sim_ap_f
        hard_neg_dists = ops.max(neg_dists, axis=1)
        pos_dists = 1 - pos_sims
        return ops.mean(ops.relu(pos_dists - hard_neg_dists + margin))

    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=lr, weight_decay=weight_decay), loss=triplet_loss)
    bs = [(x, y[:, None]) for x, y in _common()]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": bs[0][0]}


def _build(framework: str, fill: float) -> dict[str, Any]:
    if framework == "torch":
        return _torch(fill)
    if framework == "keras":
        return _keras(fill)
    raise ValueError(framework)


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, FILL_BUGGY)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, FILL_FIXED)
