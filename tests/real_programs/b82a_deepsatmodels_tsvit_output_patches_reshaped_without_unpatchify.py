"""DeepSatModels TSViT: the per-patch pixel logits are folded back into the image with a plain reshape.

Source
  github:michaeltrs/DeepSatModels, models/TSViT/TSViTdense.py, class TSViT (the "main results" model of the
  TSViT paper, satellite image time series semantic segmentation), as stored at 782f736 (2024-02-29, the newest
  commit before the fix; the model file last changed in 0bc3d10), trained by train_and_eval/
  segmentation_training_transf.py with configs/PASTIS24/TSViT_fold1.yaml and metrics/loss_functions.py
  MaskedCrossEntropyLoss. Issue #22 "Spatial Structure Destroyed in TSViT Output due to incorrect .reshape()"
  (2026-06-15) points at the last lines of TSViT.forward: after the head, x holds (B, num_patches, patch_area,
  num_classes) and ``x.reshape(B, H, W, self.num_classes)`` lays the values of each patch out along image rows
  ("spatial tearing") instead of putting every patch back at its own place. PR #23 "Fix: correct spatial
  unpatchify in TSViT" (merged 2026-06-19) swaps that reshape for an einops.rearrange that reassembles the patches
  into their true 2D positions; the maintainer: "the fix looks correct, I verified that the einops.rearrange
  reassembles patches into their true 2D positions". The merged commit is not in the stored snapshot; the fix
  here is that rearrange, 'b (h w) (p1 p2) c -> b (h p1) (w p2) c', the exact inverse of the model's own patch
  embedding 'b t c (h p1) (w p2) -> (b h w) t (p1 p2 c)', written with torch reshape/permute.

The fault
  Each patch token predicts the classes of its own p x p pixels, but the final reshape writes those predictions
  to other pixels: with the config's 24 x 24 image and 2 x 2 patches, image row y takes its 24 values from six
  consecutive patches, so pixel (y, x) is scored with the logits of patch row y // 2, patch column x // 4 (even
  y) or 6 + x // 4 (odd y), sub-pixel x % 4 (the 12 x 12 port: column x // 4 or 3 + x // 4).
  The label of a pixel is therefore asked of a token that sits up to half an image away, and a pixel's own
  token never sees it. Nothing raises: shapes are right, the loss is finite, it simply learns much less (the
  model must route every label through spatial attention).

Fault label
  other:output_pixels_scattered_by_reshape_without_unpatchify: no catalogued cause names an output layout that
  scores each pixel with another patch's logits (the lead added this section, which the corpus's tests ask for).

Kept verbatim
  Transformer, PreNorm, FeedForward, Attention (module.py) and TSViT.__init__/forward, including the faulty
  ``x = x.reshape(B, H, W, self.num_classes)``; MaskedCrossEntropyLoss.forward; the training step of
  segmentation_training_transf.py (zero_grad, net(inputs), outputs.permute(0, 2, 3, 1), loss, backward, step),
  here as loss_fn = MaskedCrossEntropyLoss(mean=True)(outputs.permute(0, 2, 3, 1), labels); AdamW(lr=lr_base=1e-3,
  weight_decay=0.0); batch size 16; patch size 2, 11 input channels (10 bands + day of year),
  pool 'cls', dropout 0.
Replaced / shrunk (and why)
  - einops is not installed here: Rearrange / rearrange / repeat are replaced by the equivalent torch
    reshape/permute/expand calls (same element order).
  - for CPU speed: img_res 24 -> 12 (6 x 6 patches of 2 x 2), max_seq_len 60 -> 6 time steps, dim 128 -> 16,
    temporal_depth 4 -> 1, spatial_depth 4 -> 1, heads 4 -> 2, dim_head 32 -> 8, num_classes 19 -> 6. Widths,
    depths and sizes only; the faulty line is unchanged. log_softmax gets an explicit dim=-1 (the original relies
    on the deprecated implicit dim, which is 1 for these 2-D logits).
  - the warm-up + cosine schedule (lr_start 1e-8, 10 warm-up epochs) is left out: the optimizer runs at lr_base.
  - no unknown-label mask (the stand-in has no void pixels), so the loss gets the label tensor alone, which
    MaskedCrossEntropyLoss handles as "mask = None".
Data stand-in (PASTIS24 is a 30 GB download)
  Seeded synthetic satellite time series in the PASTIS24 layout after the repository's transforms: inputs
  (B, T, 12, 12, 11) float32, channels 0..9 standardised reflectances, channel 10 day of year / 365.0001 (the same
  sorted dates for every pixel of a sample, as TileDates does); labels (B, 12, 12) int64 in 0..5. Each image is a
  Voronoi partition into 3..6 parcels, each parcel has a crop class (0 = background), and each class has its own
  seasonal curve per band (a bump whose day, width and height depend on class and band) plus per-parcel offsets
  and pixel noise, so a pixel's class follows from its own time series.

Measured (own plain loop, /tmp/s52/h82_a/measure.py, the module's builds, OMP_NUM_THREADS=1, SEED 0, the 40
  training batches (16 x 6 x 12 x 12 x 11) cycled, pixel accuracy on 128 held-out images; majority class 17.7%):
                     step 1   steps 41-50   steps 91-100   steps 191-200   steps 391-400   held-out acc @400
    buggy  loss      1.877      1.723          1.230          0.877           0.603             77.5%
    fixed  loss      1.866      1.606          0.409          0.326           0.243             92.3%
  (window means of the training loss). The fixed model is near its plateau by step 100; the buggy one is still
  three times higher there and stays well above it at 400 steps. In a wider first draft (24 x 24 images, dim 32,
  depths 2, T 8, 6..10 parcels) the gap was larger: 200 steps, last-10 loss 0.99 vs 0.15, held-out accuracy
  60.3% vs 95.1%. Time per step ~24 ms buggy, ~21 ms fixed (one thread); build ~1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "other:output_pixels_scattered_by_reshape_without_unpatchify"
SOURCE = ("github:michaeltrs/DeepSatModels issue #22, PR #23 'Fix: correct spatial unpatchify in TSViT' "
          "(models/TSViT/TSViTdense.py TSViT.forward 'x = x.reshape(B, H, W, self.num_classes)' @782f736, "
          "models/TSViT/module.py, metrics/loss_functions.py MaskedCrossEntropyLoss, "
          "train_and_eval/segmentation_training_transf.py, configs/PASTIS24/TSViT_fold1.yaml)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("init_loss", {"num_classes": 6}),
          ("not_constant_predictions", {})]

SEED = 0
BATCH_SIZE = 16
N_BATCHES = 40
N_INPUTS = 128
IMG = 12
T = 6
BANDS = 10
NUM_CLASSES = 6
LR = 1e-3
MODEL_CONFIG = {'img_res': IMG, 'patch_size': 2, 'num_classes': NUM_CLASSES, 'max_seq_len': T, 'dim': 16,
                'temporal_depth': 1, 'spatial_depth': 1, 'heads': 2, 'pool': 'cls', 'num_channels': BANDS + 1,
                'dim_head': 8, 'dropout': 0., 'emb_dropout': 0., 'scale_dim': 4}


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic PASTIS24-like samples: (n, T, 24, 24, 11) float32 inputs and (n, 24, 24) int64 crop labels."""
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    peak = r.uniform(60, 300, (NUM_CLASSES, BANDS))  # day of the seasonal bump, per class and band
    width = r.uniform(25, 70, (NUM_CLASSES, BANDS))
    height = r.uniform(-1.5, 1.5, (NUM_CLASSES, BANDS))
    base = r.normal(0, 0.5, (NUM_CLASSES, BANDS))
    yy, xx = np.mgrid[0:IMG, 0:IMG]
    x = np.empty((n, T, IMG, IMG, BANDS + 1), "float32")
    y = np.empty((n, IMG, IMG), "int64")
    for i in range(n):
        k = int(r.integers(3, 7))
        seeds = r.uniform(0, IMG, (k, 2))
        owner = np.argmin((yy[..., None] - seeds[:, 0]) ** 2 + (xx[..., None] - seeds[:, 1]) ** 2, -1)
        cls = r.integers(0, NUM_CLASSES, k)
        lab = cls[owner]
        doy = np.sort(r.choice(np.arange(1, 366), T, replace=False)).astype("float64")
        curves = base[:, None, :] + height[:, None, :] * np.exp(
            -0.5 * ((doy[None, :, None] - peak[:, None, :]) / width[:, None, :]) ** 2)  # (class, T, band)
        sig = curves[lab]  # (H, W, T, band)
        sig = sig + r.normal(0, 0.3, (k, 1, BANDS))[owner]  # parcel offset
        sig = sig + r.normal(0, 0.35, sig.shape)  # pixel noise
        x[i, :, :, :, :BANDS] = sig.transpose(2, 0, 1, 3)
        x[i, :, :, :, BANDS] = (doy / 365.0001)[:, None, None]
        y[i] = lab
    n_tr = N_BATCHES * BATCH_SIZE
    return x[:n_tr], y[:n_tr], x[n_tr:], y[n_tr:]


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import einsum, nn

    # ---- models/TSViT/module.py (einops calls written out in torch) ----
    class PreNorm(nn.Module):
        def __init__(self, dim, fn):
            super().__init__()
            self.norm = nn.LayerNorm(dim)
            self.fn = fn

        def forward(self, x, **kwargs):
            return self.fn(self.norm(x), **kwargs)

    class FeedForward(nn.Module):
        def __init__(self, dim, hidden_dim, dropout=0.):
            super().__init__()
            self.net = nn.Sequential(
                nn.Linear(dim, hidden_dim),
                nn.GELU(),
                nn.Dropout(dropout),
                nn.Linear(hidden_dim, dim),
                nn.Dropout(dropout)
            )

        def forward(self, x):
            return self.net(x)

    class Attention(nn.Module):
        def __init__(self, dim, heads=8, dim_head=64, dropout=0.):
            super().__init__()
            inner_dim = dim_head * heads
            project_out = not (heads == 1 and dim_head == dim)

            self.heads = heads
            self.scale = dim_head ** -0.5

            self.to_qkv = nn.Linear(dim, inner_dim * 3, bias=False)

            self.to_out = nn.Sequential(
                nn.Linear(inner_dim, dim),
                nn.Dropout(dropout)
            ) if project_out else nn.Identity()

        def forward(self, x):
            b, n, _, h = *x.shape, self.heads
            qkv = self.to_qkv(x).chunk(3, dim=-1)
            # rearrange(t, 'b n (h d) -> b h n d', h=h)
            q, k, v = map(lambda t: t.reshape(b, n, h, -1).permute(0, 2, 1, 3), qkv)
            dots = einsum('b h i d, b h j d -> b h i j', q, k) * self.scale

            attn = dots.softmax(dim=-1)

            out = einsum('b h i j, b h j d -> b h i d', attn, v)
            out = out.permute(0, 2, 1, 3).reshape(b, n, -1)  # rearrange(out, 'b h n d -> b n (h d)')
            out = self.to_out(out)
            return out

    # ---- models/TSViT/TSViTdense.py ----
    class Transformer(nn.Module):
        def __init__(self, dim, depth, heads, dim_head, mlp_dim, dropout=0.):
            super().__init__()
            self.layers = nn.ModuleList([])
            self.norm = nn.LayerNorm(dim)
            for _ in range(depth):
                self.layers.append(nn.ModuleList([
                    PreNorm(dim, Attention(dim, heads=heads, dim_head=dim_head, dropout=dropout)),
                    PreNorm(dim, FeedForward(dim, mlp_dim, dropout=dropout))
                ]))

        def forward(self, x):
            for attn, ff in self.layers:
                x = attn(x) + x
                x = ff(x) + x
            return self.norm(x)

    class ToPatches(nn.Module):
        """Rearrange('b t c (h p1) (w p2) -> (b h w) t (p1 p2 c)', p1=patch_size, p2=patch_size)."""

        def __init__(self, p):
            super().__init__()
            self.p = p

        def forward(self, x):
            b, t, c, hh, ww = x.shape
            p = self.p
            x = x.reshape(b, t, c, hh // p, p, ww // p, p).permute(0, 3, 5, 1, 4, 6, 2)
            return x.reshape(b * (hh // p) * (ww // p), t, p * p * c)

    class TSViT(nn.Module):
        def __init__(self, model_config):
            super().__init__()
            self.image_size = model_config['img_res']
            self.patch_size = model_config['patch_size']
            self.num_patches_1d = self.image_size//self.patch_size
            self.num_classes = model_config['num_classes']
            self.num_frames = model_config['max_seq_len']
            self.dim = model_config['dim']
            if 'temporal_depth' in model_config:
                self.temporal_depth = model_config['temporal_depth']
            else:
                self.temporal_depth = model_config['depth']
            if 'spatial_depth' in model_config:
                self.spatial_depth = model_config['spatial_depth']
            else:
                self.spatial_depth = model_config['depth']
            self.heads = model_config['heads']
            self.dim_head = model_config['dim_head']
            self.dropout = model_config['dropout']
            self.emb_dropout = model_config['emb_dropout']
            self.pool = model_config['pool']
            self.scale_dim = model_config['scale_dim']
            assert self.pool in {'cls', 'mean'}, 'pool type must be either cls (cls token) or mean (mean pooling)'
            num_patches = self.num_patches_1d ** 2
            patch_dim = (model_config['num_channels'] - 1) * self.patch_size ** 2  # -1 is set to exclude time feature
            self.to_patch_embedding = nn.Sequential(
                ToPatches(self.patch_size),
                nn.Linear(patch_dim, self.dim),)
            self.to_temporal_embedding_input = nn.Linear(366, self.dim)
            self.temporal_token = nn.Parameter(torch.randn(1, self.num_classes, self.dim))
            self.temporal_transformer = Transformer(self.dim, self.temporal_depth, self.heads, self.dim_head,
                                                    self.dim * self.scale_dim, self.dropout)
            self.space_pos_embedding = nn.Parameter(torch.randn(1, num_patches, self.dim))
            self.space_transformer = Transformer(self.dim, self.spatial_depth, self.heads, self.dim_head,
                                                 self.dim * self.scale_dim, self.dropout)
            self.dropout = nn.Dropout(self.emb_dropout)
            self.mlp_head = nn.Sequential(
                nn.LayerNorm(self.dim),
                nn.Linear(self.dim, self.patch_size**2)
            )

        def forward(self, x):
            x = x.permute(0, 1, 4, 2, 3)
            B, T, C, H, W = x.shape

            xt = x[:, :, -1, 0, 0]
            x = x[:, :, :-1]
            xt = (xt * 365.0001).to(torch.int64)
            xt = F.one_hot(xt, num_classes=366).to(torch.float32)

            xt = xt.reshape(-1, 366)
            temporal_pos_embedding = self.to_temporal_embedding_input(xt).reshape(B, T, self.dim)
            x = self.to_patch_embedding(x)
            x = x.reshape(B, -1, T, self.dim)
            x += temporal_pos_embedding.unsqueeze(1)
            x = x.reshape(-1, T, self.dim)
            # repeat(self.temporal_token, '() N d -> b N d', b=B * self.num_patches_1d ** 2)
            cls_temporal_tokens = self.temporal_token.expand(B * self.num_patches_1d ** 2, -1, -1)
            x = torch.cat((cls_temporal_tokens, x), dim=1)
            x = self.temporal_transformer(x)
            x = x[:, :self.num_classes]
            x = x.reshape(B, self.num_patches_1d**2, self.num_classes, self.dim).permute(0, 2, 1, 3).reshape(
                B*self.num_classes, self.num_patches_1d**2, self.dim)
            x += self.space_pos_embedding#[:, :, :(n + 1)]
            x = self.dropout(x)
            x = self.space_transformer(x)
            x = self.mlp_head(x.reshape(-1, self.dim))
            x = x.reshape(B, self.num_classes, self.num_patches_1d**2, self.patch_size**2).permute(0, 2, 3, 1)
            if fixed:  # PR #23: rearrange(x, 'b (h w) (p1 p2) c -> b (h p1) (w p2) c')
                h = w = self.num_patches_1d
                p = self.patch_size
                x = x.reshape(B, h, w, p, p, self.num_classes).permute(0, 1, 3, 2, 4, 5)
                x = x.reshape(B, H, W, self.num_classes)
            else:
                x = x.reshape(B, H, W, self.num_classes)
            x = x.permute(0, 3, 1, 2)
            return x

    # ---- metrics/loss_functions.py ----
    class MaskedCrossEntropyLoss(torch.nn.Module):
        def __init__(self, mean=True):
            """
            mean: return mean loss vs per element loss
            """
            super(MaskedCrossEntropyLoss, self).__init__()
            self.mean = mean

        def forward(self, logits, ground_truth):
            if type(ground_truth) == torch.Tensor:
                target = ground_truth
                mask = None
            elif len(ground_truth) == 1:
                target = ground_truth[0]
                mask = None
            elif len(ground_truth) == 2:
                target, mask = ground_truth
            else:
                raise ValueError(
                    "ground_truth parameter for MaskedCrossEntropyLoss is either (target, mask) or (target)")

            if mask is not None:
                mask_flat = mask.reshape(-1, 1)  # (N*H*W x 1)
                nclasses = logits.shape[-1]
                logits_flat = logits.reshape(-1, logits.size(-1))  # (N*H*W x Nclasses)
                masked_logits_flat = logits_flat[mask_flat.repeat(1, nclasses)].view(-1, nclasses)
                target_flat = target.reshape(-1, 1)  # (N*H*W x 1)
                masked_target_flat = target_flat[mask_flat].unsqueeze(dim=-1).to(torch.int64)
            else:
                masked_logits_flat = logits.reshape(-1, logits.size(-1))  # (N*H*W x Nclasses)
                masked_target_flat = target.reshape(-1, 1).to(torch.int64)  # (N*H*W x 1)
            masked_log_probs_flat = torch.nn.functional.log_softmax(masked_logits_flat, dim=-1)  # (N*H*W x Nclasses)
            masked_losses_flat = -torch.gather(masked_log_probs_flat, dim=1, index=masked_target_flat)  # (N*H*W x 1)
            if self.mean:
                return masked_losses_flat.mean()
            return masked_losses_flat

    torch.manual_seed(SEED)
    net = TSViT(MODEL_CONFIG)
    criterion = MaskedCrossEntropyLoss(mean=True)

    def loss_fn(outputs, ground_truth):
        outputs = outputs.permute(0, 2, 3, 1)  # train_step: net(inputs) -> (B, H, W, classes)
        return criterion(outputs, ground_truth)

    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=LR, weight_decay=0.0)

    x, y, xh, _ = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": net, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
