"""ivadomed/ivadomed (spinal-cord MRI segmentation, NeuroPoly), ``ivadomed/main.py`` ``cmd_train`` as of
71bba650f8763aa6a7ea047a9f5dc9ceef274945^ (Oct 2019): a 2D U-Net (``models.Unet(drop_rate, bn_momentum)``, sigmoid
output) trained on 128x128 axial slices with ``loss = - losses.dice_loss(preds, var_gt)``, ``optim.Adam(
model.parameters(), lr=initial_lr)`` and ``optim.lr_scheduler.CosineAnnealingLR(optimizer, num_epochs)``;
config/config.json: batch_size 18, num_epochs 100, initial_lr 0.001, dropout_rate 0.3, batch_norm_momentum 0.1.

The fault (introduced in PR #51): ``scheduler.step()`` sits in the batch loop right after ``optimizer.step()``. The
cosine schedule is meant to run over 100 EPOCHS but is advanced once per BATCH, so the learning rate falls from
1e-3 to ~0 within the first 100 optimizer steps (a fraction of the first epoch), then climbs back and repeats with
a 200-step period: a large part of training runs at a near-zero learning rate. Fix: PR #55, commit 71bba650 "Fix
scheduler updatiing. Scheduler was incorrectly stepped in the batch loop instead of in the epoch loop, causing the LR
to be updated after each batch instead of after each epoch" (merged 27406809): ``scheduler.step()`` moved after the
batch loop, once per epoch.
Fault label: the schedule is misused so that the effective learning rate collapses (lr_too_low), caused by stepping
an epoch-based scheduler per batch.

Kept verbatim: ``DownConv`` / ``UpConv`` / ``Unet`` (layer order conv -> relu -> batchnorm -> Dropout2d, bilinear
upsampling, sigmoid head, torch default init), ``dice_loss`` and the negated dice as the loss, ``optim.Adam(...,
lr=initial_lr)``, ``CosineAnnealingLR(optimizer, num_epochs)`` with num_epochs = 100, the batch-loop body
``preds = model(var_input); loss = ...; optimizer.zero_grad(); loss.backward(); optimizer.step(); scheduler.step()``
(buggy ``train_step``; the fixed one has no ``scheduler.step()`` - within one epoch the fixed program never steps the
scheduler). Not ported: FiLM / mixup branches (off in config.json), tensorboard writing, validation.
Shrunk (the full U-Net at 128x128, batch 18 takes several seconds a step on one CPU core): channel widths divided by 8
(64/128/256 -> 8/16/32) and slices cropped to 48x48 instead of 128x128; everything else as in the program.
Ported: torch only; the fault is PyTorch's scheduler API called in the wrong loop (a Keras twin would need a
hand-written per-batch callback, not a port).
Data stand-in (no BIDS MRI download): seeded synthetic 48x48 single-channel "slices": a bright ellipse (the cord,
random centre / radii 3-9 px, intensity 0.7-1.0 above background) plus a dimmer distractor disc and N(0, 0.12)
noise, each image normalised per instance (NormalizeInstance: zero mean, unit std); mask = the ellipse (binary,
float32, shape (n, 1, 48, 48), ~5 % foreground, a small structure like the cord). ``batches``: 40 distinct batches
of 18; ``batch``: the first; ``inputs``: 128 held-out slices.

Measured (my plain loop /tmp/s52/h81_d/measure.py on the module's builds: ``train_step`` over ``batches`` cycled,
300 steps, model.train(), torch seed 0, OMP_NUM_THREADS=1):
  learning rate at steps 0 / 50 / 99 / 150 / 200 / 250: buggy 1e-3 / 5e-4 / 2.5e-7 / 5e-4 / 1e-3 / 5e-4; fixed 1e-3.
  training loss (-dice), means of 25-step blocks:
    buggy -0.127 -0.183 -0.216 -0.226 -0.224 -0.236 -0.264 -0.330 -0.412 -0.541 -0.615 -0.644
      (stalls at ~-0.23 over steps 50-150 while the lr is near 0, resumes when the cosine climbs back);
    fixed -0.128 -0.191 -0.253 -0.318 -0.396 -0.521 -0.651 -0.758 -0.799 -0.854 -0.870 -0.879.
  after 300 steps on the 128 held-out slices (eval mode): hard dice buggy 0.811 / fixed 0.943; soft -dice -0.70 /
    -0.94. The first ~40 steps are nearly identical (lr still close to 1e-3), so a short check sees little
    difference; the harm shows from step ~50 on.
  Time: ~0.2 s per step (batch 18, 48x48, one thread); build ~1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "lr_too_low|other:lr_scheduler_stepped_per_batch"
SOURCE = ("github:ivadomed/ivadomed PR #55 (ivadomed/main.py cmd_train@71bba650f8763aa6a7ea047a9f5dc9ceef274945^, "
          "ivadomed/models.py Unet, ivadomed/losses.py dice_loss, config/config.json; fix "
          "71bba650f8763aa6a7ea047a9f5dc9ceef274945 'Fix scheduler updatiing', merge 27406809)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {"task": "binary"}), ("overfit_one_batch", {"task": "binary"}),
          ("gradients_flow", {}), ("output_range", {"kind": "sigmoid"})]

BATCH_SIZE = 18        # config.json "batch_size": 18
NUM_EPOCHS = 100       # config.json "num_epochs": 100 -> CosineAnnealingLR(optimizer, num_epochs)
INITIAL_LR = 0.001     # config.json "initial_lr": 0.001
DROP_RATE = 0.3        # config.json "dropout_rate": 0.3
BN_MOMENTUM = 0.1      # config.json "batch_norm_momentum": 0.1
SIZE = 48              # shrunk from CenterCrop2D((128, 128))
WIDTH_DIV = 8          # channels 64/128/256 shrunk to 8/16/32
N_BATCHES = 40
N_INPUTS = 128
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    """Axial-slice stand-in: a bright elliptic 'cord' on a textured background, mask = the ellipse.

    Each image is normalised per instance (NormalizeInstance: zero mean, unit std)."""
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype("float32")
    x = np.empty((n, 1, SIZE, SIZE), "float32")
    y = np.empty((n, 1, SIZE, SIZE), "float32")
    for i in range(n):
        cy, cx = r.uniform(14, SIZE - 14, 2)
        ay, ax = r.uniform(3, 9, 2)
        m = (((yy - cy) / ay) ** 2 + ((xx - cx) / ax) ** 2 <= 1.0).astype("float32")
        by, bx = r.uniform(6, SIZE - 6, 2)  # a second, darker blob that is not cord
        d = (((yy - by) / 5.0) ** 2 + ((xx - bx) / 5.0) ** 2 <= 1.0).astype("float32") * (1 - m)
        img = 0.3 + 0.6 * m * r.uniform(0.7, 1.0) + 0.25 * d + r.normal(0, 0.12, (SIZE, SIZE))
        img = (img - img.mean()) / img.std()
        x[i, 0], y[i, 0] = img, m
    return x, y


def _build(step_scheduler_per_batch: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch import optim
    from torch.nn import Module

    class DownConv(Module):
        def __init__(self, in_feat, out_feat, drop_rate=0.4, bn_momentum=0.1):
            super(DownConv, self).__init__()
            self.conv1 = nn.Conv2d(in_feat, out_feat, kernel_size=3, padding=1)
            self.conv1_bn = nn.BatchNorm2d(out_feat, momentum=bn_momentum)
            self.conv1_drop = nn.Dropout2d(drop_rate)

            self.conv2 = nn.Conv2d(out_feat, out_feat, kernel_size=3, padding=1)
            self.conv2_bn = nn.BatchNorm2d(out_feat, momentum=bn_momentum)
            self.conv2_drop = nn.Dropout2d(drop_rate)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = self.conv1_bn(x)
            x = self.conv1_drop(x)

            x = F.relu(self.conv2(x))
            x = self.conv2_bn(x)
            x = self.conv2_drop(x)
            return x

    class UpConv(Module):
        def __init__(self, in_feat, out_feat, drop_rate=0.4, bn_momentum=0.1):
            super(UpConv, self).__init__()
            self.downconv = DownConv(in_feat, out_feat, drop_rate, bn_momentum)

        def forward(self, x, y):
            x = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=True)
            x = torch.cat([x, y], dim=1)
            x = self.downconv(x)
            return x

    k = WIDTH_DIV

    class Unet(Module):
        def __init__(self, drop_rate=0.4, bn_momentum=0.1):
            super(Unet, self).__init__()

            # Downsampling path (widths divided by WIDTH_DIV)
            self.conv1 = DownConv(1, 64 // k, drop_rate, bn_momentum)
            self.mp1 = nn.MaxPool2d(2)

            self.conv2 = DownConv(64 // k, 128 // k, drop_rate, bn_momentum)
            self.mp2 = nn.MaxPool2d(2)

            self.conv3 = DownConv(128 // k, 256 // k, drop_rate, bn_momentum)
            self.mp3 = nn.MaxPool2d(2)

            # Bottom
            self.conv4 = DownConv(256 // k, 256 // k, drop_rate, bn_momentum)

            # Upsampling path
            self.up1 = UpConv(512 // k, 256 // k, drop_rate, bn_momentum)
            self.up2 = UpConv(384 // k, 128 // k, drop_rate, bn_momentum)
            self.up3 = UpConv(192 // k, 64 // k, drop_rate, bn_momentum)

            self.conv9 = nn.Conv2d(64 // k, 1, kernel_size=3, padding=1)

        def forward(self, x):
            x1 = self.conv1(x)
            x2 = self.mp1(x1)

            x3 = self.conv2(x2)
            x4 = self.mp2(x3)

            x5 = self.conv3(x4)
            x6 = self.mp3(x5)

            # Bottom
            x7 = self.conv4(x6)

            # Up-sampling
            x8 = self.up1(x7, x5)
            x9 = self.up2(x8, x3)
            x10 = self.up3(x9, x1)

            x11 = self.conv9(x10)
            preds = torch.sigmoid(x11)

            return preds

    def dice_loss(input, target):
        # input = torch.sigmoid(input)
        smooth = 1.0

        iflat = input.view(-1)
        tflat = target.view(-1)
        intersection = (iflat * tflat).sum()

        return ((2.0 * intersection + smooth) / (iflat.sum() + tflat.sum() + smooth))

    torch.manual_seed(SEED)
    model = Unet(drop_rate=DROP_RATE, bn_momentum=BN_MOMENTUM)
    num_epochs = NUM_EPOCHS
    initial_lr = INITIAL_LR

    # Using Adam with cosine annealing learning rate
    optimizer = optim.Adam(model.parameters(), lr=initial_lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, num_epochs)

    def loss_fn(preds, var_gt):
        return - dice_loss(preds, var_gt)

    def train_step(model, optimizer, loss_fn, var_input, var_gt):  # the body of the batch loop
        preds = model(var_input)
        loss = loss_fn(preds, var_gt)

        optimizer.zero_grad()
        loss.backward()

        optimizer.step()
        if step_scheduler_per_batch:  # the fault; the fix moves scheduler.step() after the batch loop
            scheduler.step()
        return loss

    x, y = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    n_tr = N_BATCHES * BATCH_SIZE
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, n_tr, BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt[n_tr:],
            "loss_fn": loss_fn, "optimizer": optimizer, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(step_scheduler_per_batch=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(step_scheduler_per_batch=False)
