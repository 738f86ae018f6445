"""fastai's ``DiceLoss`` (``fastai/losses.py``, generated from ``nbs/01a_losses.ipynb``) as released in fastai 2.4.x
/ 2.5.0-2.5.2, used as ``loss_func`` of a multi-class segmentation learner: the PR author's Kaggle lane-segmentation
notebook ("fastai-sample-solution", background / left lane / right lane, ``loss_func=DiceLoss()``), and the same line
in many user programs (e.g. ``unet_learner(dls, resnet18, n_out=3, loss_func=DiceLoss(), opt_func=Adam, lr=0.001)``).

The fault (a loss reduced over the wrong axes): the loss one-hot encodes the mask per class, then
``pred, targ = flatten_check(self.activation(pred), targ)`` flattens the softmax and the one-hot over batch, class
and pixels together, and returns ``1 - (2 * inter + smooth) / (union + smooth)`` of those sums: one Dice over every
(sample, class, pixel). Because the softmax sums to 1 over the classes, ``union`` is the constant ``2 * pixels``, so
the loss is just ``1 - mean(p of the true class)``: a linear score in which a thin lane pixel counts as much as a
background pixel, and whose gradient through the softmax, ``p (1 - p)``, vanishes on the lane pixels once the net
calls them background with confidence. The net reaches a low loss by painting (almost) everything background.
PR #3439 (thomasfermi, merged): "the network achieved a very low loss, but it was not learning to do proper
segmentation. Basically everything was predicted to be 'background class' ... the current implementation sums over
all dimensions (batch_dimension, class_dimension, image_width, image_height). However it shall only sum over the
dimensions image_width and image_height ... Otherwise it is not working properly, especially in case of class
imbalance."

Source: github.com/fastai/fastai PR #3439 "Bugfix for DiceLoss"; buggy ``DiceLoss`` read in the released fastai 2.4.1
and 2.5.0 wheels (``fastai/losses.py`` lines 131-146, ``flatten_check`` from ``fastai/torch_core.py``); fixed
``DiceLoss`` read in the fastai 2.5.3 wheel and in the repository's ``fastai/losses.py`` (commit
0dae7d221b58a28108d5a5d5e1a6f396bbd573f2): ``sum_dims = list(range(2, len(pred.shape)))``, ``inter`` / ``union``
summed over the pixel axes only, one Dice per (sample, class), ``smooth=1e-6``, ``reduction="sum"``.
Fault label: other:dice_loss_pooled_over_classes (the loss pools all classes and samples into one Dice, which
reduces to mean true-class probability; the symptom is class collapse to the majority background class).

Fix (PR #3439, in fastai 2.5.3): sum ``inter`` and ``union`` over the pixel axes only (``sum_dims = range(2,
ndim)``), one Dice score per (sample, class), loss ``(1 - dice_score).flatten().sum()`` (``reduction="sum"``),
``smooth=1e-6``: every class, however few its pixels, weighs one full Dice term.

Program lines kept: both ``DiceLoss.__call__`` bodies (buggy: ``axis=1, smooth=1``; fixed: ``axis=1, smooth=1e-6,
reduction="sum"``), ``_one_hot`` (``torch.stack([torch.where(x==c, 1, 0) for c in range(classes)], axis=1)``) and
``activation`` (softmax over axis 1); Adam at lr 1e-3 (fastai's ``Learner`` default ``opt_func=Adam``, ``lr=1e-3``);
3 classes; inputs normalised with ``imagenet_stats`` (``Normalize.from_stats(*imagenet_stats)``).
Ported / shrunk: the Kaggle notebook itself cannot be read here, so the model is a stand-in of the segmentation net
``unet_learner`` builds: a small two-level U-Net (conv3x3-BN-ReLU pairs, widths 8/16/32, max-pool down, transposed-
conv up, skip concatenation, 1x1 head of 3 logits), trained from scratch (no pretrained resnet; widths and 48x48
images shrunk so that a step stays near 0.1 s on one CPU thread). Batch size 8 (as in fastai's CamVid
segmentation tutorial; the notebook's value is unknown). fastai's ``TensorBase`` wrappers are dropped (plain
tensors). Keras twin: the
same U-Net in NHWC (Conv2D 'same' + BatchNormalization(momentum=0.9, epsilon=1e-5) + ReLU, Conv2DTranspose(2, 2),
Keras default initialisers), the two losses written with ``keras.ops`` (softmax over the last axis, one-hot of the
integer mask, buggy: sums over everything; fixed: sums over the two pixel axes, one Dice per (sample, class), summed),
compiled with Adam(1e-3): a hand-written Keras Dice loss that reduces over all axes is the same slip.
Data stand-in (no lane images): 160 seeded synthetic 48x48 RGB road scenes in [0, 1] (grey road with noise and a
vertical shading), two lane markings from a random vanishing point down to the image bottom, left lane class 1 and
right lane class 2, both the same grey-white colour with noise (the class is told by position), 0.3-1.3 px half
width: background 95.8 %, each lane 2.1 % of the pixels, as thin markings are in lane-segmentation masks.
``batches``: the first 8 batches of 8; ``inputs``: 64 further scenes.

Measured (my own plain loops, /tmp/s48/h74_c/measure.py on this module's builds (exp3.py for seed 1), one thread,
600 Adam steps cycling the 160 scenes in batches of 8; IoU per class (bg / left / right) of the argmax on the 64
held-out scenes, and the share of pixels predicted as each class):
  torch (seed 0): buggy loss 0.753 -> 0.055 ("a very low loss"); IoU at steps 100 / 300 / 600: left 0.00 / 0.00 /
    0.00, right 0.00 / 0.00 / 0.00; predicted background share 0.981 / 1.000 / 1.000: everything background, the PR's
    symptom. Fixed: loss 20.3 -> 1.15; IoU at step 600 0.994 / 0.880 / 0.865, shares 0.958 / 0.022 / 0.020.
  torch, seed 1 (scratch loop, other init, same data): buggy does learn there, unstably (right-lane IoU 0.42 -> 0.00
    -> 0.82 -> 0.90 at steps 200 / 300 / 400 / 600, left 0.81 at the end); fixed 0.995 / 0.890 / 0.892. So the full
    collapse depends on the initialisation on this stand-in.
  Keras (seed 0): buggy loss 0.588 -> 0.024; the left lane is never predicted up to step 500 (IoU 0.00 at 100-500,
    share 0.000) while the right lane is learned (IoU 0.83), then the left lane appears by step 600 (IoU 0.75);
    fixed loss 18.7 -> 1.15, both lanes from step 100 on (IoU 0.42 / 0.34 at 100, 0.852 / 0.866 at 600). So in
    Keras the fault shows as one minority class dropped for most of the run, not a permanent collapse.
  Time per step (batch 8, 48x48, one thread, both frameworks running at once on the shared 2-core machine): torch
    0.15-0.17 s, Keras train_on_batch 0.15-0.16 s (torch alone ~0.12 s).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:dice_loss_pooled_over_classes"
SOURCE = ("github:fastai/fastai PR #3439 'Bugfix for DiceLoss' (fastai/losses.py DiceLoss as released in fastai "
          "2.4.1 / 2.5.0: flatten_check then one Dice over batch, classes and pixels; fixed in 2.5.3 / "
          "losses.py@0dae7d221b58a28108d5a5d5e1a6f396bbd573f2: sum over pixel dims, one Dice per sample and class)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {}),
          ("gradients_flow", {})]

N_CLASSES = 3  # background, left lane, right lane
SIZE = 48
N_TRAIN = 160
N_INPUTS = 64
BATCH_SIZE = 8
N_BATCHES = 8
LR = 1e-3  # fastai Learner default lr, opt_func=Adam
WIDTH = 8
SEED = 0
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@functools.lru_cache(maxsize=2)
def _scenes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded road scenes (n, 3, 48, 48) normalised with imagenet_stats, masks (n, 48, 48) int64 in {0, 1, 2}."""
    r = np.random.default_rng(seed)
    h = w = SIZE
    x = np.empty((n, 3, h, w), np.float32)
    m = np.zeros((n, h, w), np.int64)
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        img = 0.35 + 0.12 * r.standard_normal((h, w)) + 0.15 * (yy / h)
        img = np.stack([img, img, img * 1.05])
        horizon = r.integers(int(0.3 * h), int(0.45 * h))
        vx = w / 2 + r.uniform(-6, 6)
        for cls, side in ((1, -1), (2, 1)):
            bx = vx + side * r.uniform(14, 22)
            t = (yy - horizon) / (h - horizon)
            on = (yy >= horizon) & (np.abs(xx - (vx + (bx - vx) * t)) <= 0.3 + 1.0 * t)
            m[i][on] = cls
            for c in range(3):
                img[c][on] = 0.5 + 0.12 * r.standard_normal(on.sum())
        x[i] = np.clip(img, 0, 1)
    mean = np.array(IMAGENET_MEAN, np.float32)[:, None, None]
    std = np.array(IMAGENET_STD, np.float32)[:, None, None]
    return ((x - mean) / std).astype(np.float32), m


def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    x, m = _scenes(N_TRAIN, 0)
    xv, _ = _scenes(N_INPUTS, 1)
    batches = [(x[i:i + BATCH_SIZE], m[i:i + BATCH_SIZE]) for i in range(0, N_BATCHES * BATCH_SIZE, BATCH_SIZE)]
    return batches, xv


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def _one_hot(x, classes, axis=1):
        "Creates one binay mask per class"
        return torch.stack([torch.where(x == c, 1, 0) for c in range(classes)], axis=axis)

    class DiceLoss:
        "Dice loss for segmentation"
        def __init__(self, axis=1, smooth=1e-6 if fixed else 1, reduction="sum"):
            self.axis, self.smooth, self.reduction = axis, smooth, reduction

        def activation(self, x):
            return F.softmax(x, dim=self.axis)

        def __call__(self, pred, targ):
            targ = _one_hot(targ, pred.shape[self.axis])
            if not fixed:  # fastai 2.4.1: flatten_check, then one Dice over everything
                pred, targ = self.activation(pred).contiguous().view(-1), targ.contiguous().view(-1)
                inter = (pred * targ).sum()
                union = (pred + targ).sum()
                return 1 - (2. * inter + self.smooth) / (union + self.smooth)
            assert pred.shape == targ.shape, 'input and target dimensions differ, DiceLoss expects non one-hot targs'
            pred = self.activation(pred)
            sum_dims = list(range(2, len(pred.shape)))
            inter = torch.sum(pred * targ, dim=sum_dims)
            union = torch.sum(pred + targ, dim=sum_dims)
            dice_score = (2. * inter + self.smooth) / (union + self.smooth)
            return ((1 - dice_score).flatten().mean() if self.reduction == "mean"
                    else (1 - dice_score).flatten().sum())

    def block(i: int, o: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU())

    class UNet(nn.Module):
        def __init__(self, n: int = N_CLASSES, w: int = WIDTH) -> None:
            super().__init__()
            self.e1 = nn.Sequential(block(3, w), block(w, w))
            self.e2 = nn.Sequential(block(w, 2 * w), block(2 * w, 2 * w))
            self.e3 = nn.Sequential(block(2 * w, 4 * w), block(4 * w, 4 * w))
            self.u2 = nn.ConvTranspose2d(4 * w, 2 * w, 2, 2)
            self.d2 = nn.Sequential(block(4 * w, 2 * w), block(2 * w, 2 * w))
            self.u1 = nn.ConvTranspose2d(2 * w, w, 2, 2)
            self.d1 = nn.Sequential(block(2 * w, w), block(w, w))
            self.out = nn.Conv2d(w, n, 1)

        def forward(self, x):
            a = self.e1(x)
            b = self.e2(F.max_pool2d(a, 2))
            c = self.e3(F.max_pool2d(b, 2))
            d = self.d2(torch.cat([self.u2(c), b], 1))
            e = self.d1(torch.cat([self.u1(d), a], 1))
            return self.out(e)

    torch.manual_seed(SEED)
    net = UNet()
    batches, xv = _data()
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    return {"model": net, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(xv), "loss_fn": DiceLoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=LR)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    def dice_loss(targ, pred):
        targ = ops.one_hot(ops.cast(targ, "int32"), N_CLASSES)  # (b, h, w, c)
        pred = ops.softmax(pred, axis=-1)
        if not fixed:
            inter = ops.sum(pred * targ)
            union = ops.sum(pred + targ)
            return 1 - (2. * inter + 1.0) / (union + 1.0)
        inter = ops.sum(pred * targ, axis=(1, 2))
        union = ops.sum(pred + targ, axis=(1, 2))
        dice_score = (2. * inter + 1e-6) / (union + 1e-6)
        return ops.sum(1 - dice_score)

    def block(x, o: int):
        x = layers.Conv2D(o, 3, padding="same")(x)
        x = layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)
        return layers.ReLU()(x)

    w = WIDTH
    inp = keras.Input((SIZE, SIZE, 3))
    a = block(block(inp, w), w)
    b = block(block(layers.MaxPooling2D(2)(a), 2 * w), 2 * w)
    c = block(block(layers.MaxPooling2D(2)(b), 4 * w), 4 * w)
    d = block(block(layers.Concatenate()([layers.Conv2DTranspose(2 * w, 2, 2)(c), b]), 2 * w), 2 * w)
    e = block(block(layers.Concatenate()([layers.Conv2DTranspose(w, 2, 2)(d), a]), w), w)
    model = keras.Model(inp, layers.Conv2D(N_CLASSES, 1)(e), name="unet")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LR), loss=dice_loss)
    batches, xv = _data()
    kb = [(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), y) for x, y in batches]
    return {"model": model, "batch": kb[0], "batches": kb,
            "inputs": np.ascontiguousarray(xv.transpose(0, 2, 3, 1))}


buggy, fixed = versions(_torch, _keras)
