"""MONAI GenerativeModels (Project-MONAI/GenerativeModels), tutorial "Anomaly Detection with Transformers"
(``tutorials/generative/anomaly_detection/anomaly_detection_with_transformers.py`` / ``.ipynb``, after Pinaya et
al. 2022): a VQ-VAE (16 codebook entries, 4x down-sampling of the 64x64 MedNIST images) is trained first; its
frozen ``index_quantize`` turns every ``HeadCT`` image into a 16x16 map of code indices, which a raster-scan
``Ordering`` flattens into a 256-token sequence; ``VQVAETransformerInferer.__call__`` prepends a begin-of-sequence
token (``vqvae_model.num_embeddings`` = 16) and, because the sequence (257) is longer than the transformer's
``max_seq_len`` (256), cuts a random 256-token window; a ``DecoderOnlyTransformer(num_tokens=16 + 1,
max_seq_len=256, attn_layers_dim=128, attn_layers_depth=16, attn_layers_heads=12)`` (an x-transformers causal
``Decoder``) is then trained with ``CrossEntropyLoss`` and ``Adam(lr=1e-4)`` on batches of 32 to be the
autoregressive prior whose log-likelihood flags out-of-distribution images.
The fault is in the tutorial's training (and validation) loss: the inferer returns the logits together with the
very window the transformer was fed (``return_latent=True``), and the loop computes ``loss =
ce_loss(logits, quantizations_target)``. Position i of a causal decoder sees tokens 0..i, and its target is token
i itself -- its own input -- so the network is trained to copy the current token instead of predicting the next
one (target leakage). The loss drops to ~0 within a few hundred steps while the model learns nothing about the
distribution of code maps, so it is useless as a likelihood model / sampler. Issue #314 (marksgraham): "we are
training them to predict token N, given tokens 0-N inclusive! To fix this we need to shift the targets by one".

Source: github.com/Project-MONAI/GenerativeModels issue #314 ("Fix transformer training"), PR #318. Buggy:
``tutorials/generative/anomaly_detection/anomaly_detection_with_transformers.py`` and
``generative/inferers/inferer.py`` (``VQVAETransformerInferer.__call__``) at 78fde33^; fixed by
78fde337bd24b1ed36a02375d4af1b1996ef71b7 ("314 fix transformer training (#318)"), which changes both loss lines to
``ce_loss(logits[:, :, :-1], quantizations_target[:, 1:])`` ("train the transformer to predict token n+1 using
tokens 0-n"; the same commit also shifts the target in ``get_likelihood``).
Program lines kept: the inferer's sequence construction (raster order, ``F.pad(latent, (1, 0), "constant", 16)``,
one random window start per batch in ``[0, seq_len + 1 - max_seq_len)``), the transformer's configuration
(``num_tokens=17``, ``max_seq_len=256``, ``attn_layers_dim=128``; depth and heads shrunk, below),
``CrossEntropyLoss()`` on ``logits.transpose(1, 2)``, ``Adam(lr=1e-4)``, and the two loss lines (bug / fix).
Ported minimally: x-transformers is not installed here, so ``DecoderOnlyTransformer`` is re-implemented with the
defaults of x-transformers' ``TransformerWrapper`` + ``Decoder`` (token embedding with kaiming-normal init, learned
absolute position embedding scaled by dim ** -0.5, pre-LayerNorm blocks of causal multi-head attention with
``dim_head=64`` (12 heads -> 768 inner width, no qkv bias) and a GELU feed-forward of width 4 * dim, a final
LayerNorm and a linear head to the 17 tokens). The frozen VQ-VAE is not ported: the transformer stage only ever
sees its integer codes, which the stand-in below provides. For CPU speed: ``attn_layers_depth`` 16 -> 1,
``attn_layers_heads`` 12 -> 4 (dim_head stays 64) and batch 32 -> 4; the tutorial's 16 layers x 12 heads x 32
sequences of 256 tokens take seconds per step on one CPU thread, this takes ~30 ms (torch) / ~25-45 ms (Keras) on
the 2-core test machine. Copying the current token is learnable at any depth / width and the next-token task stays
the same, so the bug is unchanged. Model input: the (N, 256) int64 window; the
``quantizations_target`` the inferer returns is that same window, so ``y`` is the window and the bug / fix is the
``loss_fn`` (the loss lines of the training loop).
Keras twin, written as equivalently as possible: a Keras 3 functional model with the same layers (Embedding with
normal(0, sqrt(2 / 128)) init as kaiming_normal_, learned positions scaled by dim ** -0.5, one pre-LayerNorm block of
``MultiHeadAttention(4, key_dim=64, use_bias=False)`` called with ``use_causal_mask=True`` and a GELU MLP of width
512, final LayerNorm, ``Dense(17)`` logits; kernels initialised like torch.nn.Linear), ``Adam(1e-4)`` and a
``SparseCategoricalCrossentropy(from_logits=True)``-based loss that compares ``y_pred`` with ``y_true`` position by
position (buggy) or ``y_pred[:, :-1]`` with ``y_true[:, 1:]`` (fixed).
Data stand-in (no download of MedNIST): 40 synthetic 64x64 "head CT" slices in [0, 1] (black background; a bright
elliptical skull ring of random size 44-54 x 36-46 px, rotated up to +-5 degrees and shifted up to +-1 px like the
tutorial's ``RandAffined``; grey textured brain; a dark central ventricle; noise), quantised as a 4x-down-sampling
VQ-VAE with 16 codes would be: every 4x4 patch is mapped to the nearest of 16 k-means centroids fitted on all
patches (scikit-learn, seeded). The resulting 16x16 code maps (mostly background code, a ring of skull codes around
a brain code region) are raster-scanned, BOS-padded and windowed as the inferer does. 8 batches of 4 windows for
training, plus 2 held-out batches for the evaluation quoted below. x = y: int64 ``(4, 256)``, values 0..16.
Fault label: target_leakage (the target at every position is the model's own input at that position).
Fix (78fde33): ``loss = ce_loss(logits[:, :, :-1], quantizations_target[:, 1:])``.
Symptom in a short loop (plain loop ``loss = loss_fn(model(x), y)``, ``zero_grad``, ``backward``, ``step``;
Adam 1e-4, OMP_NUM_THREADS=1, seed 0), torch, 200 steps over the 8 batches: buggy 3.67, 3.17, 2.78, ..., means of
each 25 steps 1.42, 0.59, 0.29, 0.14, 0.081, 0.056, 0.043, 0.034 (the copy task is solved); fixed 3.67, 3.16, 2.79,
..., 25-step means 1.58, 1.04, 0.93, 0.84, 0.76, 0.69, 0.62, 0.55 (still falling). On the 2 held-out batches after
training, the real next-token cross-entropy (logits[:, :-1] vs tokens[:, 1:]) is 1.69 for the buggy model -- worse
than the 1.54 of simply predicting the training code frequencies -- and 0.57 for the fixed one (3.55 for both at
init); the buggy model's "copy" cross-entropy there is 0.033. One batch repeated 100 times: buggy 3.67 -> 0.094,
fixed 3.67 -> 0.67. Keras twin (``train_on_batch``, same batches, 200 steps): buggy 2.37, 2.12, 1.79, ..., 25-step
means 1.07, 0.41, 0.17, 0.081, 0.052, 0.039, 0.032, 0.027; fixed 2.39, 2.16, 1.85, ..., 25-step means 1.31, 0.97,
0.86, 0.77, 0.70, 0.62, 0.56, 0.50; held-out next-token cross-entropy after training: buggy 1.74, fixed 0.52 (2.48
at init); one batch x100: buggy 2.37 -> 0.057, fixed 2.39 -> 0.56. So the buggy run looks like a better fit than
the fixed one by every training-loss measure while it has learned a useless (copying) model.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "target_leakage"
SOURCE = ("github:Project-MONAI/GenerativeModels issue #314, PR #318 (tutorials/generative/anomaly_detection/"
          "anomaly_detection_with_transformers.py@78fde33^, generative/inferers/inferer.py VQVAETransformerInferer, "
          "generative/networks/nets/transformer.py; fix 78fde337bd24b1ed36a02375d4af1b1996ef71b7)")
FRAMEWORKS = ("torch", "keras")
# init_loss left out: the re-implemented x-transformers init starts at 3.7 (torch) / 2.4 (Keras) vs log(17) = 2.83
# on these background-heavy windows, for the fixed program as much as for the buggy one
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {})]

num_embeddings = 16  # VQVAE(num_embeddings=16, ...)
num_tokens = num_embeddings + 1  # DecoderOnlyTransformer(num_tokens=16 + 1, ...): codes + BOS
latent_side = 16  # 64 x 64 images, VQ-VAE down-samples by 4
max_seq_len = latent_side * latent_side  # max_seq_len=spatial_shape[0] * spatial_shape[1]
attn_layers_dim = 128
attn_layers_depth = 1  # tutorial: 16 (shrunk, see docstring)
attn_layers_heads = 4  # tutorial: 12 (shrunk, see docstring)
dim_head = 64  # x-transformers default
lr = 1e-4  # torch.optim.Adam(params=transformer_model.parameters(), lr=1e-4)
batch_size = 4  # tutorial: 32 (shrunk, see docstring)
n_batches = 8
n_heldout = 2


def _head_ct_like(n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, 64, 64) float32 in [0, 1]: synthetic head-CT slices (skull ring, brain, ventricle)."""
    yy, xx = np.mgrid[0:64, 0:64].astype(float)
    out = np.zeros((n, 64, 64), np.float32)
    for i in range(n):
        cx, cy = 32 + rng.uniform(-1, 1), 32 + rng.uniform(-1, 1)
        a, b = rng.uniform(22, 27), rng.uniform(18, 23)
        th = rng.uniform(-np.pi / 36, np.pi / 36)
        u = ((xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)) / a
        v = (-(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)) / b
        r = np.sqrt(u ** 2 + v ** 2)
        img = np.where(r < 1.0, 0.9, 0.0)
        brain = 0.38 + 0.05 * np.sin(xx / 3 + rng.uniform(0, 6)) * np.cos(yy / 4)
        img = np.where(r < 1.0 - 3.0 / min(a, b), brain, img)
        vent = ((xx - cx) / (a * 0.18)) ** 2 + ((yy - cy - rng.uniform(-2, 2)) / (b * 0.3)) ** 2
        img = np.where(vent < 1.0, 0.12, img)
        img = img + rng.normal(0, 0.03, img.shape) * (r < 1.0)
        out[i] = np.clip(img, 0, 1)
    return out


@functools.lru_cache(maxsize=1)
def _data(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(n_batches + n_heldout) batches of (window, quantizations_target) as VQVAETransformerInferer builds them."""
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(seed)
    n = batch_size * (n_batches + n_heldout)
    imgs = _head_ct_like(n, rng)
    # VQ-VAE stand-in: 4x4 patches -> nearest of 16 codebook vectors (index_quantize), a 16 x 16 latent map
    patches = imgs.reshape(n, latent_side, 4, latent_side, 4).transpose(0, 1, 3, 2, 4).reshape(n, -1, 16)
    km = KMeans(num_embeddings, n_init=4, random_state=seed).fit(patches.reshape(-1, 16))
    latent = km.predict(patches.reshape(-1, 16)).reshape(n, latent_side, latent_side)
    # inferer: reshape to (B, -1) in raster-scan order, pad the BOS token, take a random max_seq_len window
    latent = latent.reshape(n, -1)
    latent = np.pad(latent, ((0, 0), (1, 0)), constant_values=num_embeddings).astype("int64")
    seq_len = latent.shape[1]
    batches = []
    for k in range(n_batches + n_heldout):
        start = int(rng.integers(0, seq_len + 1 - max_seq_len))  # torch.randint(low=0, high=seq_len + 1 - max)
        window = latent[k * batch_size:(k + 1) * batch_size, start:start + max_seq_len]
        batches.append((window, window.copy()))  # (transformer input, quantizations_target)
    return batches


def _torch(fix: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(0)
    batches = [(torch.tensor(a), torch.tensor(b)) for a, b in _data()[:n_batches]]

    class Attention(nn.Module):  # x-transformers Attention defaults: dim_head 64, no qkv bias, causal
        def __init__(self, dim, heads):
            super().__init__()
            inner = heads * dim_head
            self.heads = heads
            self.to_q = nn.Linear(dim, inner, bias=False)
            self.to_k = nn.Linear(dim, inner, bias=False)
            self.to_v = nn.Linear(dim, inner, bias=False)
            self.to_out = nn.Linear(inner, dim, bias=False)

        def forward(self, x):
            b, n, _ = x.shape
            q, k, v = (t(x).view(b, n, self.heads, dim_head).transpose(1, 2) for t in (self.to_q, self.to_k, self.to_v))
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.to_out(out.transpose(1, 2).reshape(b, n, -1))

    class DecoderOnlyTransformer(nn.Module):  # TransformerWrapper(attn_layers=Decoder(dim, depth, heads))
        def __init__(self, num_tokens, max_seq_len, attn_layers_dim, attn_layers_depth, attn_layers_heads):
            super().__init__()
            dim = attn_layers_dim
            self.max_seq_len = max_seq_len
            self.token_emb = nn.Embedding(num_tokens, dim)
            nn.init.kaiming_normal_(self.token_emb.weight)
            self.pos_emb = nn.Embedding(max_seq_len, dim)
            self.layers = nn.ModuleList()
            for _ in range(attn_layers_depth):
                self.layers.append(nn.ModuleList([
                    nn.LayerNorm(dim), Attention(dim, attn_layers_heads),
                    nn.LayerNorm(dim), nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))]))
            self.norm = nn.LayerNorm(dim)
            self.to_logits = nn.Linear(dim, num_tokens)

        def forward(self, x):
            pos = torch.arange(x.shape[1], device=x.device)
            h = self.token_emb(x) + self.pos_emb(pos) * attn_layers_dim ** -0.5
            for n1, attn, n2, ff in self.layers:
                h = h + attn(n1(h))
                h = h + ff(n2(h))
            return self.to_logits(self.norm(h))

    model = DecoderOnlyTransformer(num_tokens=num_tokens, max_seq_len=max_seq_len, attn_layers_dim=attn_layers_dim,
                                   attn_layers_depth=attn_layers_depth, attn_layers_heads=attn_layers_heads)
    ce_loss = nn.CrossEntropyLoss()

    def loss_fn(logits, quantizations_target):  # the training loop's loss lines
        logits = logits.transpose(1, 2)
        if fix:  # 78fde33: train the transformer to predict token n+1 using tokens 0-n
            return ce_loss(logits[:, :, :-1], quantizations_target[:, 1:])
        return ce_loss(logits, quantizations_target)

    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.cat([a for a, _ in batches]),
            "loss_fn": loss_fn, "optimizer": lambda params: torch.optim.Adam(params, lr=lr)}


def _keras(fix: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)
    batches = _data()[:n_batches]
    dim = attn_layers_dim

    class PositionEmbedding(layers.Layer):  # learned absolute positions, scaled by dim ** -0.5
        def build(self, input_shape):
            self.pos = self.add_weight(shape=(max_seq_len, dim), initializer=keras.initializers.RandomNormal(0, 1),
                                       name="pos_emb")

        def call(self, h):
            return h + self.pos[None, : ops.shape(h)[1]] * dim ** -0.5

    lin = keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")  # torch.nn.Linear's default init
    inp = keras.Input((max_seq_len,), dtype="int32")
    # kaiming_normal_ on the (17, 128) table: std sqrt(2 / 128)
    emb_init = keras.initializers.RandomNormal(0, (2 / dim) ** 0.5)
    h = layers.Embedding(num_tokens, dim, embeddings_initializer=emb_init)(inp)
    h = PositionEmbedding()(h)
    for _ in range(attn_layers_depth):
        a = layers.LayerNormalization(epsilon=1e-5)(h)
        a = layers.MultiHeadAttention(attn_layers_heads, key_dim=dim_head, use_bias=False,
                                      kernel_initializer=lin)(a, a, use_causal_mask=True)
        h = h + a
        f = layers.LayerNormalization(epsilon=1e-5)(h)
        f = layers.Dense(4 * dim, activation="gelu", kernel_initializer=lin)(f)
        f = layers.Dense(dim, kernel_initializer=lin)(f)
        h = h + f
    logits = layers.Dense(num_tokens, kernel_initializer=lin)(layers.LayerNormalization(epsilon=1e-5)(h))
    model = keras.Model(inp, logits)

    sce = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

    def ce_loss(y_true, y_pred):  # per-sequence mean over positions; Keras then averages over the batch
        if fix:
            return ops.mean(sce(y_true[:, 1:], y_pred[:, :-1]), axis=-1)
        return ops.mean(sce(y_true, y_pred), axis=-1)

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss=ce_loss)
    return {"model": model, "batch": batches[0], "batches": batches,
            "inputs": np.concatenate([a for a, _ in batches])}


def buggy(framework: str) -> dict[str, Any]:
    return _torch(fix=False) if framework == "torch" else _keras(fix=False)


def fixed(framework: str) -> dict[str, Any]:
    return _torch(fix=True) if framework == "torch" else _keras(fix=True)
