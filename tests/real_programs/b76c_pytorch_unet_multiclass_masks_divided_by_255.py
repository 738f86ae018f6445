"""milesial/Pytorch-UNet (a widely used PyTorch U-Net for semantic segmentation, Carvana by default, README: "For N > 2
classes, use n_classes=N"): ``train.py`` builds ``UNet(n_channels=3, n_classes, bilinear=True)`` (DoubleConv = (conv3x3
-> BatchNorm -> ReLU) x 2, four Down = MaxPool2d(2) + DoubleConv, four bilinear Up + skip concat + DoubleConv, OutConv
1x1), ``optim.RMSprop(net.parameters(), lr=lr, weight_decay=1e-8, momentum=0.9)`` with lr 0.001,
``criterion = nn.CrossEntropyLoss()`` when ``net.n_classes > 1`` (``BCEWithLogitsLoss`` for one class), and the loop
``true_masks = true_masks.to(device, dtype=torch.long)`` -> ``loss = criterion(net(imgs), true_masks)`` ->
``optimizer.zero_grad(); loss.backward(); nn.utils.clip_grad_value_(net.parameters(), 0.1); optimizer.step()``.

The fault (class-index masks destroyed by image preprocessing): ``utils/dataset.py`` ``BasicDataset.__getitem__`` runs
the mask through the same ``preprocess`` as the image: HWC -> CHW (a channel axis added to 2-D masks) and
``if img_trans.max() > 1: img_trans = img_trans / 255``. That rescale is meant for 0..255 pixels (and for 0/255
binary masks), but a multi-class mask holds class indices 0..N-1: any mask that contains a class index above 1 is
divided by 255 (class 2 -> 0.0078), and ``.to(dtype=torch.long)`` in train.py truncates every value to 0. So every
training image that contains class 2 (or higher) gets an all-background target; only masks whose largest index is 1
survive. The network is taught to paint background nearly everywhere and never learns the higher classes. Issue
milesial/Pytorch-UNet #228 "My imput mask is 0" (KITTI masks 0..18, n_classes=20): "I find when I use this code to
train, the predict result is 0 ... after this code, My true mask_type is all 0, before line 75, the value is pixel
value/255"; a reply: "Since this code was made with binary masks ... If your masks include values over 1, which they
do, the masks also get normalized and rounded to zero." Fixed in f6185d67a4bc50aa7ec1b8168aab3f92721c4965 ("Summer
cleanup"): the new ``data_loading.py`` ``BasicDataset.preprocess(pil_img, scale, is_mask)`` transposes and divides by
255 only ``if not is_mask`` and returns the mask as a 2-D ``long`` tensor of class indices.

Source: github.com/milesial/Pytorch-UNet ``utils/dataset.py`` and ``train.py`` @6aa14cbbc445672d97190fec06d5568a0a004740
(the parent of the fix), issue #228; fix f6185d67a4bc50aa7ec1b8168aab3f92721c4965 (``utils/data_loading.py``
``preprocess(..., is_mask)``). Fault label: labels_invalid|class_collapse (the targets are wrong: multi-class masks
become all-zero, and the model collapses to background).

Program lines kept: the U-Net's layout (DoubleConv with BatchNorm, Down, bilinear Up with mid channels in // 2, pad +
``cat([x2, x1])``, OutConv 1x1, ``factor = 2`` at the bottom), ``CrossEntropyLoss`` for ``n_classes > 1``,
``RMSprop(lr=0.001, weight_decay=1e-8, momentum=0.9)``, ``clip_grad_value_(0.1)``, the loop body (``train_step``), the
buggy ``preprocess`` (expand_dims, transpose, ``/ 255 if max() > 1``, then ``FloatTensor``, then ``.long()`` in the
loop) and the fixed one (images only). The ``true_masks.squeeze(1)`` before the loss is issue #228's own edit: the
buggy loader gives (B, 1, H, W) masks that ``CrossEntropyLoss`` would reject, and the reporter squeezed them to get
training to run (silently on all-zero targets).
Ported / shrunk: widths / 8 (8-16-32-64-64 instead of 64-128-256-512-512) and 32 x 32 images with ``scale=1`` instead
of full images at ``scale=0.5`` (keeps a torch step ~20 ms on one CPU thread); batch 4 instead of the default 1 (so
BatchNorm sees more than one image); ``n_classes=3``. The loader's PIL step is the identity here (images made at their
final size). The Keras twin: the same U-Net channels-last (Keras default initialisers, BatchNormalization momentum 0.9 /
epsilon 1e-5 as torch's, ``UpSampling2D(interpolation="bilinear")``, which is not align_corners=True), compiled with
``SparseCategoricalCrossentropy(from_logits=True)`` and ``RMSprop(1e-3, rho=0.99, momentum=0.9, epsilon=1e-8,
weight_decay=1e-8, clipvalue=0.1)`` (torch's alpha / eps; Keras' weight decay is decoupled, negligible at 1e-8); the
masks go through the same numpy preprocessing (channels-last, buggy masks keep their trailing channel axis, which the
sparse loss accepts, so no squeeze is needed there).
Data stand-in (no Carvana / KITTI download): seeded synthetic 3-class scenes, 32 x 32 RGB uint8 (0..255): a noisy,
shaded background (class 0), a reddish disc (class 1, present with probability 0.8) and a bluish square (class 2,
present with probability 0.8), random sizes and positions, the square drawn over the disc; masks uint8 class indices
0..2 like a palette PNG. 64 training scenes (the loader shuffles with a seed), 32 held-out scenes. ``batch``: the first
batch of 4; ``batches``: the first 8; ``inputs``: the 32 held-out images (preprocessed like training images);
``baseline_batch``: the 64 training scenes (the lead's edit: it had been the 32 of ``batches``, which the baseline
check refuses as too few).

Measured (my own plain loops, /tmp/s48/h76_c/measure.py, OMP_NUM_THREADS=1, the module's builds and data; training =
15 epochs over all 64 training scenes in the shuffled batches of 4 (240 steps), then argmax on the 32 held-out scenes
against their true masks, whose pixels are 84.6 % background / 8.8 % disc / 6.7 % square):
  targets: 52 of the 64 training masks contain class 2 and become all-zero in the buggy loader; the buggy training
    pixels are 97.9 % class 0 / 2.1 % class 1 / 0 % class 2 (fixed: 85.5 / 8.9 / 5.6 %).
  torch: epoch-mean loss after epochs 1 / 4 / 7 / 10 / 13 / 15: buggy 0.249 / 0.064 / 0.055 / 0.055 / 0.049 / 0.050
    (it falls fast: the all-background targets are easy), fixed 0.378 / 0.048 / 0.019 / 0.009 / 0.005 / 0.004.
    Held-out: buggy predicts background for 100 % of the pixels (pixel accuracy 0.846 = the background share, IoU
    background / disc / square 0.846 / 0.000 / 0.000); fixed pixel accuracy 0.992, IoU 0.991 / 0.962 / 0.939,
    predicted shares 84.7 / 8.8 / 6.4 %.
  Keras (``train_on_batch``): buggy 0.400 / 0.054 / 0.051 / 0.051 / 0.040 / 0.044, fixed 0.373 / 0.050 / 0.024 /
    0.011 / 0.005 / 0.004. Held-out: buggy 99.8 % background (accuracy 0.848, IoU 0.848 / 0.027 / 0.000; the square
    is never predicted), fixed accuracy 0.986, IoU 0.983 / 0.900 / 0.931.
  So the fault shows in both frameworks as a collapse to the background class with a training loss that looks fine.
  Time per step (batch 4, one thread): torch ~25 ms, Keras ``train_on_batch`` ~65 ms; builds: torch ~3 s (first, with
    the import), Keras ~8 s (first).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "labels_invalid|class_collapse"
SOURCE = ("github:milesial/Pytorch-UNet issue #228 (utils/dataset.py BasicDataset.preprocess applied to masks: "
          "'if img_trans.max() > 1: img_trans = img_trans / 255', train.py .to(dtype=torch.long) "
          "@6aa14cbbc445672d97190fec06d5568a0a004740); fix f6185d67a4bc50aa7ec1b8168aab3f92721c4965 "
          "(utils/data_loading.py preprocess(..., is_mask): no transpose / 255 for masks)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {}),
          ("init_loss", {"num_classes": 3}), ("input_independent_baseline", {})]

N_CLASSES = 3  # README: "For N > 2 classes, use n_classes=N"
LEARNING_RATE = 0.001  # train_net(lr=0.001)
WEIGHT_DECAY = 1e-8
MOMENTUM = 0.9
CLIP_VALUE = 0.1  # nn.utils.clip_grad_value_(net.parameters(), 0.1)
# port: widths / 8, 32 x 32 scenes at scale 1, batch 4 (program: 64..1024 // 2, scale 0.5, batch_size=1)
WIDTHS = (8, 16, 32, 64, 128)
IMG = 32
BATCH_SIZE = 4
N_TRAIN = 64
N_TEST = 32
N_BATCHES = 8
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def _scenes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n RGB scenes (n, IMG, IMG, 3) uint8 and their class-index masks (n, IMG, IMG) uint8 in {0, 1, 2}."""
    r = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:IMG, 0:IMG].astype(np.float64)
    imgs = np.empty((n, IMG, IMG, 3), np.uint8)
    masks = np.zeros((n, IMG, IMG), np.uint8)
    for i in range(n):
        base = r.uniform(60, 160, 3)
        shade = r.uniform(-25, 25) * (xx / IMG - 0.5) + r.uniform(-25, 25) * (yy / IMG - 0.5)
        img = base[None, None, :] + shade[..., None]
        m = np.zeros((IMG, IMG), np.uint8)
        if r.random() < 0.8:  # class 1: a reddish disc
            cy, cx, rad = r.uniform(8, 24), r.uniform(8, 24), r.uniform(4, 8)
            disc = (yy - cy) ** 2 + (xx - cx) ** 2 <= rad ** 2
            img[disc] = [r.uniform(170, 240), r.uniform(40, 90), r.uniform(40, 90)]
            m[disc] = 1
        if r.random() < 0.8:  # class 2: a bluish square
            s = int(r.integers(6, 12))
            y0, x0 = int(r.integers(0, IMG - s)), int(r.integers(0, IMG - s))
            img[y0:y0 + s, x0:x0 + s] = [r.uniform(30, 80), r.uniform(60, 120), r.uniform(170, 240)]
            m[y0:y0 + s, x0:x0 + s] = 2
        img = img + r.normal(0, 12, img.shape)
        imgs[i] = np.clip(img, 0, 255).astype(np.uint8)
        masks[i] = m
    return imgs, masks


def _preprocess_buggy(img_nd: np.ndarray) -> np.ndarray:
    """utils/dataset.py BasicDataset.preprocess @6aa14cb (after the PIL resize), used for images AND masks."""
    if len(img_nd.shape) == 2:
        img_nd = np.expand_dims(img_nd, axis=2)
    # HWC to CHW
    img_trans = img_nd.transpose((2, 0, 1))
    if img_trans.max() > 1:
        img_trans = img_trans / 255
    return img_trans


def _preprocess_fixed(img_ndarray: np.ndarray, is_mask: bool) -> np.ndarray:
    """utils/data_loading.py BasicDataset.preprocess(pil_img, scale, is_mask) @f6185d6 (after the PIL resize)."""
    if img_ndarray.ndim == 2 and not is_mask:
        img_ndarray = img_ndarray[np.newaxis, ...]
    elif not is_mask:
        img_ndarray = img_ndarray.transpose((2, 0, 1))
    if not is_mask:
        img_ndarray = img_ndarray / 255
    return img_ndarray


def _item(img: np.ndarray, mask: np.ndarray, fixed: bool) -> tuple[np.ndarray, np.ndarray]:
    """One dataset item as train.py hands it to the loss: image (3, H, W) float32, mask (H, W) int64."""
    if fixed:
        x = _preprocess_fixed(img, is_mask=False).astype(np.float32)
        y = _preprocess_fixed(mask, is_mask=True).astype(np.int64)  # torch.as_tensor(mask).long()
    else:
        x = _preprocess_buggy(img).astype(np.float32)  # .type(torch.FloatTensor)
        y = _preprocess_buggy(mask).astype(np.float32)  # .type(torch.FloatTensor)
        y = y.astype(np.int64)[0]  # true_masks.to(dtype=torch.long); .squeeze(1) (issue #228's edit)
    return x, y


def data(fixed: bool) -> dict[str, Any]:
    """Training batches (shuffled loader order), held-out images and true held-out masks, channels-first."""
    imgs, masks = _scenes(N_TRAIN, SEED)
    timgs, tmasks = _scenes(N_TEST, SEED + 1)
    items = [_item(a, b, fixed) for a, b in zip(imgs, masks)]
    order = np.random.default_rng(SEED).permutation(N_TRAIN)  # DataLoader(shuffle=True)
    xs = np.stack([items[i][0] for i in order])
    ys = np.stack([items[i][1] for i in order])
    batches = [(xs[k:k + BATCH_SIZE], ys[k:k + BATCH_SIZE]) for k in range(0, N_TRAIN, BATCH_SIZE)]
    test_x = np.stack([_item(a, b, fixed)[0] for a, b in zip(timgs, tmasks)])
    return {"batches": batches, "test_x": test_x, "test_y": tmasks.astype(np.int64)}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(SEED)

    class DoubleConv(nn.Module):
        """(convolution => [BN] => ReLU) * 2"""

        def __init__(self, in_channels, out_channels, mid_channels=None):
            super().__init__()
            if not mid_channels:
                mid_channels = out_channels
            self.double_conv = nn.Sequential(
                nn.Conv2d(in_channels, mid_channels, kernel_size=3, padding=1),
                nn.BatchNorm2d(mid_channels),
                nn.ReLU(inplace=True),
                nn.Conv2d(mid_channels, out_channels, kernel_size=3, padding=1),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(inplace=True))

        def forward(self, x):
            return self.double_conv(x)

    class Down(nn.Module):
        def __init__(self, in_channels, out_channels):
            super().__init__()
            self.maxpool_conv = nn.Sequential(nn.MaxPool2d(2), DoubleConv(in_channels, out_channels))

        def forward(self, x):
            return self.maxpool_conv(x)

    class Up(nn.Module):
        def __init__(self, in_channels, out_channels):
            super().__init__()
            self.up = nn.Upsample(scale_factor=2, mode='bilinear', align_corners=True)
            self.conv = DoubleConv(in_channels, out_channels, in_channels // 2)

        def forward(self, x1, x2):
            x1 = self.up(x1)
            diffY = x2.size()[2] - x1.size()[2]
            diffX = x2.size()[3] - x1.size()[3]
            x1 = F.pad(x1, [diffX // 2, diffX - diffX // 2, diffY // 2, diffY - diffY // 2])
            x = torch.cat([x2, x1], dim=1)
            return self.conv(x)

    class UNet(nn.Module):
        def __init__(self, n_channels, n_classes):
            super().__init__()
            self.n_channels = n_channels
            self.n_classes = n_classes
            w = WIDTHS
            factor = 2  # bilinear=True
            self.inc = DoubleConv(n_channels, w[0])
            self.down1 = Down(w[0], w[1])
            self.down2 = Down(w[1], w[2])
            self.down3 = Down(w[2], w[3])
            self.down4 = Down(w[3], w[4] // factor)
            self.up1 = Up(w[4], w[3] // factor)
            self.up2 = Up(w[3], w[2] // factor)
            self.up3 = Up(w[2], w[1] // factor)
            self.up4 = Up(w[1], w[0])
            self.outc = nn.Conv2d(w[0], n_classes, kernel_size=1)  # OutConv

        def forward(self, x):
            x1 = self.inc(x)
            x2 = self.down1(x1)
            x3 = self.down2(x2)
            x4 = self.down3(x3)
            x5 = self.down4(x4)
            x = self.up1(x5, x4)
            x = self.up2(x, x3)
            x = self.up3(x, x2)
            x = self.up4(x, x1)
            return self.outc(x)

    net = UNet(n_channels=3, n_classes=N_CLASSES)
    optimizer = torch.optim.RMSprop(net.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY, momentum=MOMENTUM)
    criterion = nn.CrossEntropyLoss()  # net.n_classes > 1

    def train_step(model, optimizer, criterion, imgs, true_masks):  # train.py loop body
        model.train()
        masks_pred = model(imgs)
        loss = criterion(masks_pred, true_masks)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_value_(model.parameters(), CLIP_VALUE)
        optimizer.step()
        return loss

    d = data(fixed)
    every = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in d["batches"]]  # the 64 training scenes
    tb = every[:N_BATCHES]
    return {"model": net, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(d["test_x"]),
            "loss_fn": criterion, "optimizer": optimizer, "train_step": train_step,
            "baseline_batch": (torch.cat([a for a, _ in every]), torch.cat([b for _, b in every]))}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)

    def double_conv(x, out_channels, mid_channels=None):
        mid_channels = mid_channels or out_channels
        for ch in (mid_channels, out_channels):
            x = layers.Conv2D(ch, 3, padding="same")(x)
            x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
            x = layers.ReLU()(x)
        return x

    def down(x, out_channels):
        return double_conv(layers.MaxPooling2D(2)(x), out_channels)

    def up(x1, x2, in_channels, out_channels):
        x1 = layers.UpSampling2D(2, interpolation="bilinear")(x1)
        x = layers.Concatenate(axis=-1)([x2, x1])
        return double_conv(x, out_channels, in_channels // 2)

    w = WIDTHS
    inp = keras.Input((IMG, IMG, 3))
    x1 = double_conv(inp, w[0])
    x2 = down(x1, w[1])
    x3 = down(x2, w[2])
    x4 = down(x3, w[3])
    x5 = down(x4, w[4] // 2)
    x = up(x5, x4, w[4], w[3] // 2)
    x = up(x, x3, w[3], w[2] // 2)
    x = up(x, x2, w[2], w[1] // 2)
    x = up(x, x1, w[1], w[0])
    out = layers.Conv2D(N_CLASSES, 1)(x)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=LEARNING_RATE, rho=0.99, momentum=MOMENTUM,
                                                     epsilon=1e-8, weight_decay=WEIGHT_DECAY, clipvalue=CLIP_VALUE),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    d = data(fixed)
    # channels-last: images (B, H, W, 3); buggy masks keep the loader's channel axis, (B, H, W, 1), which the
    # sparse loss accepts as it is; fixed masks (B, H, W)
    every = []  # the 64 training scenes
    for a, b in d["batches"]:
        xb = np.ascontiguousarray(a.transpose(0, 2, 3, 1))
        yb = b if fixed else b[..., None]
        every.append((xb, yb))
    tb = every[:N_BATCHES]
    test_x = np.ascontiguousarray(d["test_x"].transpose(0, 2, 3, 1))
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": test_x,
            "loss_fn": model.loss, "optimizer": model.optimizer,
            "baseline_batch": (np.concatenate([a for a, _ in every]), np.concatenate([b for _, b in every]))}


buggy, fixed = versions(_torch, _keras)
