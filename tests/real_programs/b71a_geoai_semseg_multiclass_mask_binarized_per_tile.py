"""geoai ``train_segmentation_model``: multi-class masks binarised tile by tile in the dataset.

What the program is: opengeos/geoai's semantic segmentation trainer (``geoai/train.py``). Image tiles and
label tiles are read by ``SemanticSegmentationDataset`` (images / 255, masks as int64 class ids), a
segmentation_models_pytorch U-Net (``get_smp_model('unet', 'resnet34', classes=num_classes, activation=None)``)
is trained with ``torch.nn.CrossEntropyLoss()`` and ``torch.optim.Adam(lr=0.001, weight_decay=1e-4)``, batch 8,
by ``train_semantic_one_epoch`` (forward, loss, zero_grad, backward, step).

The fault: ``__getitem__`` "normalises" each mask by the values that happen to occur in that tile::

    unique_vals = np.unique(label_mask)
    if len(unique_vals) > 2:
        if self.num_classes == 2: label_mask = (label_mask > 0).astype(np.int64)
        else: label_mask = np.clip(label_mask, 0, self.num_classes - 1)
    elif len(unique_vals) == 2 and unique_vals.max() > 1:
        # Binary mask with values not in [0,1] range - normalize to [0,1]
        label_mask = (label_mask > 0).astype(np.int64)

With ``num_classes > 2`` every tile that holds background plus ONE foreground class k >= 2 ({0, k}) is
relabelled {0, 1}: class k's pixels are trained as class 1. Tiles holding two or more foreground classes keep
their ids. So the same kind of pixel is labelled k in some tiles and 1 in others; the model learns to call
classes 2.. "class 1" most of the time. Issue #518: "causes models trained with num_classes > 2 to effectively
learn a binary task".

Source: github.com/opengeos/geoai issue #518 (reported on geoai 0.26.0), fixed by PR #522, commit db37716
("fix: preserve class IDs in multi-class semantic segmentation masks"); buggy code at geoai/train.py@db37716^
(SemanticSegmentationDataset.__getitem__, train_segmentation_model, train_semantic_one_epoch).

Program lines kept: the mask normalisation (buggy and fixed versions verbatim in ``normalize_mask``),
images / 255, CrossEntropyLoss on (N, C, H, W) logits vs (N, H, W) int64 masks, Adam(lr=1e-3,
weight_decay=1e-4), batch 8, the plain training step.
Ported / shrunk (CPU speed): the smp U-Net with an (ImageNet-pretrained) ResNet-34 encoder becomes a small
U-Net with no pretrained weights: two down stages (conv3x3-BN-ReLU x2, widths 8/16, bottleneck 32), two up
stages (transposed conv x2, concatenate the skip, conv3x3-BN-ReLU x2), a 1x1 head to ``num_classes``
logits, no activation (as ``activation=None``). Tiles are 32 x 32 (program: whatever size the user's tiles
have, typically 256-512). Keras twin: the same U-Net channels-last, ``SparseCategoricalCrossentropy
(from_logits=True)`` (mean over all pixels, as CrossEntropyLoss), ``Adam(1e-3)`` with the L2 term of torch's
``weight_decay=1e-4`` as ``kernel_regularizer=l2(0.5e-4)`` on the conv kernels (torch adds 1e-4 * w to every
parameter's gradient; Keras' ``weight_decay`` would be decoupled AdamW decay instead).
Data stand-in (no rasters offline): seeded synthetic 3-band aerial tiles, uint8 0..255 divided by 255 as the
dataset does, 4 classes: 0 background (green noisy texture), 1 water (smooth blue), 2 building (bright grey),
3 road (dark asphalt stripes). 70 % of tiles hold background plus one foreground class, 30 % two classes
(small geographic tiles usually show one kind of object). Masks are int64 class ids 0..3.

Fault label: ``other:multiclass_mask_binarized_per_tile`` (the targets are in range and of the right shape,
but class ids 2..C-1 are rewritten to 1 on the tiles where they are the only foreground class).
Fix (PR #522): binarise only when ``num_classes == 2``; otherwise keep the ids and clip to [0, C-1].

On the stand-in the buggy dataset rewrites 46 % of the training tiles and 4.4 % of the pixels (class 1's
pixel share goes 5.0 % -> 9.4 %, class 2's 3.2 % -> 1.7 %, class 3's 6.0 % -> 3.2 %).

Measured (own plain loops: the program's step, 30 epochs of 12 shuffled batches of 8 over the 96 training tiles,
scored on the 32 held-out tiles against their TRUE masks):
  torch  buggy: train loss 1.60 -> 0.19; per-class pixel accuracy bg 0.998, water 0.998, building 0.168,
         road 0.289; mIoU 0.496; building / road pixels predicted as water 80 % / 70 %; pixel acc 0.943.
  torch  fixed: train loss 1.62 -> 0.18; per-class accuracy 0.998 / 0.998 / 0.978 / 0.996; mIoU 0.983;
         pixel acc 0.997.
  keras  buggy: loss 1.66 -> 0.16; per-class 1.000 / 0.993 / 0.326 / 0.168; mIoU 0.505; building / road as
         water 65 % / 81 %.   keras fixed: loss 1.68 -> 0.14; per-class 0.999 / 0.997 / 0.991 / 0.987; mIoU 0.989.
  The training loss does NOT show the fault: both versions fall alike (the corrupted labels are fitted, partly
  from tile context); the symptom is in the predictions (classes 2-3 collapse into class 1) and the IoU.
  Time per step (batch 8, one thread): torch ~14 ms, Keras ``train_on_batch`` ~40 ms.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:multiclass_mask_binarized_per_tile"
SOURCE = ("github:opengeos/geoai issue #518, PR #522 (geoai/train.py@db37716^ SemanticSegmentationDataset."
          "__getitem__, fix db37716)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {}),
          ("init_loss", {"num_classes": 4}), ("input_independent_baseline", {})]

NUM_CLASSES = 4  # 0 background, 1 water, 2 building, 3 road
NUM_CHANNELS = 3
TILE = 32  # port: 32 x 32 tiles (program: the user's tile size)
WIDTHS = (8, 16, 32)  # port: tiny U-Net (program: smp Unet, resnet34 encoder)
BATCH_SIZE = 8  # train_segmentation_model(batch_size=8)
LEARNING_RATE = 0.001  # learning_rate=0.001
WEIGHT_DECAY = 1e-4  # weight_decay=1e-4
N_TRAIN = 96
N_TEST = 32
N_BATCHES = 4
SEED = 42  # train_segmentation_model(seed=42)


# ------------------------------------------------------------------------------------------------------------ data

def _tile(r: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One aerial tile (TILE, TILE, 3) uint8 and its class-id mask (TILE, TILE) int64."""
    yy, xx = np.mgrid[0:TILE, 0:TILE]
    img = np.empty((TILE, TILE, 3))
    img[..., 0] = r.uniform(60, 90)
    img[..., 1] = r.uniform(110, 150)
    img[..., 2] = r.uniform(50, 80)
    img += r.normal(0, 18, (TILE, TILE, 1))  # vegetation texture
    mask = np.zeros((TILE, TILE), dtype=np.int64)
    n_fg = 1 if r.random() < 0.7 else 2
    for c in r.choice([1, 2, 3], size=n_fg, replace=False):
        if c == 1:  # water: a smooth blue blob
            cy, cx, rad = r.uniform(6, 26), r.uniform(6, 26), r.uniform(5, 9)
            m = (yy - cy) ** 2 + (xx - cx) ** 2 <= rad ** 2
            col = np.array([r.uniform(30, 60), r.uniform(60, 100), r.uniform(150, 200)])
            noise = 4.0
        elif c == 2:  # building: bright grey rectangles
            m = np.zeros_like(mask, dtype=bool)
            for _ in range(r.integers(1, 3)):
                y0, x0 = r.integers(0, TILE - 8, 2)
                m[y0:y0 + r.integers(5, 10), x0:x0 + r.integers(5, 10)] = True
            g = r.uniform(170, 220)
            col = np.array([g, g, g - r.uniform(0, 15)])
            noise = 8.0
        else:  # road: a dark straight stripe
            if r.random() < 0.5:
                y0 = r.integers(2, TILE - 6)
                m = (yy >= y0) & (yy < y0 + r.integers(3, 6))
            else:
                x0 = r.integers(2, TILE - 6)
                m = (xx >= x0) & (xx < x0 + r.integers(3, 6))
            g = r.uniform(50, 80)
            col = np.array([g, g, g])
            noise = 6.0
        img[m] = col + r.normal(0, noise, (int(m.sum()), 3))
        mask[m] = c
    return np.clip(np.round(img), 0, 255).astype(np.uint8), mask


@functools.lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    """N_TRAIN + N_TEST raw tiles (n, TILE, TILE, 3) uint8 and true masks (n, TILE, TILE) int64."""
    r = np.random.default_rng(SEED)
    pairs = [_tile(r) for _ in range(N_TRAIN + N_TEST)]
    return np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])


def normalize_mask(label_mask: np.ndarray, num_classes: int, fixed: bool) -> np.ndarray:
    """SemanticSegmentationDataset.__getitem__'s mask normalisation (geoai/train.py), buggy / after PR #522."""
    unique_vals = np.unique(label_mask)
    if not fixed:
        if len(unique_vals) > 2:
            if num_classes == 2:
                label_mask = (label_mask > 0).astype(np.int64)
            else:
                label_mask = np.clip(label_mask, 0, num_classes - 1)
        elif len(unique_vals) == 2 and unique_vals.max() > 1:
            # Binary mask with values not in [0,1] range - normalize to [0,1]
            label_mask = (label_mask > 0).astype(np.int64)
        return label_mask
    if num_classes == 2:
        if unique_vals.max() > 1:
            label_mask = (label_mask > 0).astype(np.int64)
    else:
        label_mask = np.clip(label_mask, 0, num_classes - 1)
    return label_mask


def dataset(fixed: bool) -> tuple[np.ndarray, np.ndarray]:
    """The training tiles as the dataset yields them: images (n, 3, TILE, TILE) float32 / 255, masks int64."""
    imgs, masks = _raw()
    x = (np.transpose(imgs[:N_TRAIN], (0, 3, 1, 2)).astype(np.float32) / 255.0).astype(np.float32)
    y = np.stack([normalize_mask(m, NUM_CLASSES, fixed) for m in masks[:N_TRAIN]]).astype(np.int64)
    return x, y


def test_set() -> tuple[np.ndarray, np.ndarray]:
    """Held-out tiles (n, 3, TILE, TILE) float32 / 255 with their TRUE class-id masks."""
    imgs, masks = _raw()
    x = (np.transpose(imgs[N_TRAIN:], (0, 3, 1, 2)).astype(np.float32) / 255.0).astype(np.float32)
    return x, masks[N_TRAIN:].astype(np.int64)


def _batches(fixed: bool, n: int, seed: int = SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """DataLoader(shuffle=True, batch_size=8) over the training dataset."""
    x, y = dataset(fixed)
    order = np.random.default_rng(seed).permutation(N_TRAIN)
    out = []
    for i in range(n):
        idx = order[(i * BATCH_SIZE) % N_TRAIN:(i * BATCH_SIZE) % N_TRAIN + BATCH_SIZE]
        out.append((x[idx], y[idx]))
    return out


def _common(fixed: bool) -> dict[str, Any]:
    bs = _batches(fixed, N_BATCHES)
    base = _batches(fixed, 8, seed=SEED + 1)
    return {"batches": bs, "inputs": test_set()[0],
            "baseline_batch": (np.concatenate([b[0] for b in base]), np.concatenate([b[1] for b in base]))}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch_model() -> Any:
    import torch
    from torch import nn

    def block(cin: int, cout: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                             nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class TinyUnet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            w1, w2, w3 = WIDTHS
            self.enc1, self.enc2, self.mid = block(NUM_CHANNELS, w1), block(w1, w2), block(w2, w3)
            self.pool = nn.MaxPool2d(2)
            self.up2, self.dec2 = nn.ConvTranspose2d(w3, w2, 2, stride=2), block(2 * w2, w2)
            self.up1, self.dec1 = nn.ConvTranspose2d(w2, w1, 2, stride=2), block(2 * w1, w1)
            self.head = nn.Conv2d(w1, NUM_CLASSES, 1)  # activation=None: logits

        def forward(self, x: Any) -> Any:
            e1 = self.enc1(x)
            e2 = self.enc2(self.pool(e1))
            m = self.mid(self.pool(e2))
            d2 = self.dec2(torch.cat([self.up2(m), e2], dim=1))
            d1 = self.dec1(torch.cat([self.up1(d2), e1], dim=1))
            return self.head(d1)

    return TinyUnet()


def _torch(fixed: bool) -> dict[str, Any]:
    import torch

    torch.manual_seed(SEED)
    model = _torch_model()
    d = _common(fixed)

    def t(b: tuple[np.ndarray, np.ndarray]) -> tuple[Any, Any]:
        return torch.from_numpy(b[0]), torch.from_numpy(b[1])

    bs = [t(b) for b in d["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": torch.from_numpy(d["inputs"]),
            "baseline_batch": t(d["baseline_batch"]), "loss_fn": torch.nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras_model() -> Any:
    import keras
    from keras import layers

    reg = keras.regularizers.l2(WEIGHT_DECAY / 2)

    def block(x: Any, c: int) -> Any:
        for _ in range(2):
            x = layers.Conv2D(c, 3, padding="same", kernel_regularizer=reg)(x)
            x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9)(x)
            x = layers.ReLU()(x)
        return x

    w1, w2, w3 = WIDTHS
    inp = keras.Input(shape=(TILE, TILE, NUM_CHANNELS))
    e1 = block(inp, w1)
    e2 = block(layers.MaxPooling2D(2)(e1), w2)
    m = block(layers.MaxPooling2D(2)(e2), w3)
    d2 = block(layers.Concatenate()([layers.Conv2DTranspose(w2, 2, strides=2, kernel_regularizer=reg)(m), e2]), w2)
    d1 = block(layers.Concatenate()([layers.Conv2DTranspose(w1, 2, strides=2, kernel_regularizer=reg)(d2), e1]), w1)
    out = layers.Conv2D(NUM_CLASSES, 1, kernel_regularizer=reg)(d1)  # logits
    return keras.Model(inp, out)


def _keras(fixed: bool) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(SEED)
    model = _keras_model()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    d = _common(fixed)

    def nhwc(b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return np.ascontiguousarray(np.transpose(b[0], (0, 2, 3, 1))), b[1]

    bs = [nhwc(b) for b in d["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs,
            "inputs": np.ascontiguousarray(np.transpose(d["inputs"], (0, 2, 3, 1))),
            "baseline_batch": nhwc(d["baseline_batch"])}


buggy, fixed = versions(_torch, _keras)
