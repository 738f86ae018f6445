"""jfzhang95/pytorch-deeplab-xception (a widely used PyTorch DeepLab v3+ research implementation), the first
version, July 2018: ``train.py`` trains ``networks/deeplab_xception.DeepLabv3_plus`` (Modified Aligned Xception
backbone, output stride 32 here: entry flow conv1 3x3/2 and conv2 3x3 without padding, block1..3 stride 2, the
low-level features taken after block2, 16 middle-flow blocks of 728 channels, block20 and separable conv3..5 up to
2048 channels; ASPP of four 3x3 convs at rates 1 / 6 / 12 / 18 plus a pooled 1x1 branch, each conv + BatchNorm with
no ReLU; a 1x1 conv to 256, x4 bilinear upsampling, concatenation with the 48-channel 1x1 projection of the
low-level features, ``last_conv`` (3x3 256, BN, 3x3 256, BN, 1x1 to 21) and a final x4 upsampling) on PASCAL VOC 2012
(21 classes, 255 = the void band around objects) with ``RandomResizedCrop(size=513, scale=(0.5, 1.0))``,
``RandomHorizontalFlip``, ``Normalize`` (/ 255, minus (0.4914, 0.4822, 0.4465), std 1) and ``ToTensor`` (label map
(1, H, W) float). Each step upsamples the output to 513 x 513 and takes ``utils.cross_entropy2d(output, gts,
size_average=False, batch_average=True)``: ``nn.CrossEntropyLoss(ignore_index=255, size_average=False)`` (the
per-pixel CE summed over the image) divided by the batch size; ``SGD(momentum=0.9, weight_decay=5e-4)``, batch 8.

The fault (logits and targets paired wrongly in the loss): ``cross_entropy2d`` flattened the (n, c, h, w) score map
with ``logit = logit.contiguous().view(-1, c)`` and the (n, 1, h, w) label map with ``target = target.view(-1)``.
A ``view`` of NCHW memory does not move the class axis last: row q of the (n*h*w, c) matrix holds c neighbouring
pixels of ONE class channel (channel (q*c) // (h*w) of the image, pixels q*c .. q*c+c-1 in raster order), and it is
scored against the label of pixel q. The element counts agree, so nothing fails; the loss just asks each class
channel to encode, at c adjacent pixels, a one-hot of some far-away pixel's label, which a convolutional network
cannot express, so the loss stays at the uninformative ~ln 21 per pixel and the per-pixel argmax over channels
(what prediction and evaluation read) learns nothing. The author's fix commit is titled "Fix loss non-convergence
problem": the whole NCHW map goes to ``nn.CrossEntropyLoss`` (which takes (n, c, h, w) scores and (n, h, w)
labels; the permute that would have made the view correct is left commented out) with ``target =
target.squeeze(1)``. The same commit lowered ``p['lr']`` from 1e-4 to 1e-6, switched ``train.py`` to the ImageNet
Xception weights (``pretrained=True``) and the conv init to ``kaiming_normal_`` (fan-in, also in ASPP).

Source: github.com/jfzhang95/pytorch-deeplab-xception ``dataloaders/utils.py`` ``cross_entropy2d`` at
fa6f707f2d68ba834cb144a2d38ed92107f8440b (= fff2eb2^; the lines date from e82bffa, "Update", June 2018), with
``train.py``, ``networks/deeplab_xception.py``, ``dataloaders/custom_transforms.py``, ``dataloaders/pascal.py``;
fix fff2eb2c213ea41ee4741c0172f8e58f1e6467b4 "Fix loss non-convergence problem" (the author's own commit).
Fault label: loss_mismatch (the loss pairs the model's scores with the wrong targets: a reshape of channel-first
logits without moving the class axis last).

Program lines kept: the model classes (``SeparableConv2d``, ``Block``, ``Xception`` with the fix commit's
``kaiming_normal_`` / BN(1, 0) init, ``ASPP_module``, ``DeepLabv3_plus`` forward), the bilinear upsampling of the
output to the crop size before the criterion (here inside the returned model's forward, ``Upsampled``),
``cross_entropy2d`` buggy / fixed exactly as in the two commits, the call ``size_average=False,
batch_average=True``, ``SGD(lr, momentum=0.9, weight_decay=5e-4)``, batch 8, 21 classes, ignore_index 255, and the
transforms (RandomResizedCrop's ``get_params`` with scale (0.5, 1.0) and ratio (3/4, 4/3), nearest for the label map
and Keys-cubic (cv2.INTER_CUBIC) for the image, horizontal flip, Normalize, ToTensor; the held-out images go through
FixedResize + Normalize + ToTensor as ``composed_transforms_ts``).
Ported / shrunk: ``size_average=False`` -> ``reduction='sum'``, ``F.upsample`` -> ``F.interpolate``, no
``Variable``. For CPU speed the crops are 129 x 129 instead of 513 x 513 (the same stride arithmetic: 16 x 16
low-level and 4 x 4 deep features, where 513 gives 64 x 64 and 16 x 16), channel widths are divided by 16 (at least
4: 4 / 4 / 8 / 16 / 45 / 64 / 96 / 128, ASPP 16, decoder 4 + 16) and the middle flow has 8 blocks instead of 16; the
ASPP rates stay 1 / 6 / 12 / 18 (at 4 x 4 the dilated branches mostly read padding, as they would on small VOC
crops). No pretrained Xception weights (no downloads): the fix commit's kaiming init in both builds. Learning rate:
both builds use the fix commit's 1e-6, so that the two differ only in ``cross_entropy2d``; the buggy commit's 1e-4
diverges with the corrected loss (below), and with the summed loss over 129^2 instead of 513^2 pixels the step at 1e-6
is ~16x smaller than the program's, which still trains fine here.
Data stand-in (no VOC download): ``_voc_like``, seeded 160 x 160 RGB images (0..255 float32 as ``pascal.py`` reads
them) of a smooth low-saturation background with one to three objects (ellipses or boxes) whose class 1..20 sets a
saturated colour and a faint stripe texture, label maps 0..20 with a 2-pixel 255 void band around each object (3 %
of pixels); background is 76 % of the valid training pixels (VOC ~70-75 %). ``batches``: 6 training batches of 8
random-resized crops (all 21 classes present); ``baseline_batch``: 64 more crops; ``inputs``: 64 held-out images.
Keras twin: none. Keras convolutions are channels-last, so the same ``reshape(-1, c)`` of a Keras score map is the
correct flattening; the slip needs NCHW memory, which TF's CPU convolutions do not run.
Fix (fff2eb2): pass the (n, c, h, w) scores whole and ``target.squeeze(1)`` to ``nn.CrossEntropyLoss``.

Measured (my own plain loop, /tmp/s46/h65a/measure.py: the module's builds, ``optimizer``, ``loss_fn``, cycling the 6
batches, OMP_NUM_THREADS=1, shared two-core machine). Summed loss per image (~16,100 valid pixels; ln 21 = 3.04 per
pixel) at steps 1 / 10 / 61 / 121 / 240: buggy 49,321 / 48,849 / 49,076 / 49,049 / 48,120 (mean of the first / last
6 steps 49,078 / 48,816), fixed 52,612 / 39,448 / 8,608 / 4,481 / 1,751 (49,583 / 1,593). The correctly paired
per-pixel CE of the buggy model's outputs on its training batch stays at 3.27 / 3.29 / 3.28 / 3.27 / 3.27 (fixed
3.27 -> 2.47 -> 0.54 -> 0.28 -> 0.11). Held-out after 240 steps (64 images, 83 % background): buggy pixel accuracy
0.005, foreground accuracy 0.028, mIoU 0.003, its most frequent predicted class 51 % of pixels (not even background);
fixed pixel accuracy 0.853, foreground accuracy 0.176, mIoU 0.129. With the buggy commit's lr 1e-4 (60 steps):
buggy loss still flat (48,921 -> 48,768), fixed loss diverges (52,612 -> 238,756 at step 10 -> 8.7e19 at step 60),
which is why the fix commit also lowered the learning rate.
Time per step (batch 8, 129 x 129, one thread, loaded machine): 0.11-0.12 s for both; build: data 1.2 s (first call, then
cached), model 0.05 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "loss_mismatch"
SOURCE = ("github:jfzhang95/pytorch-deeplab-xception (dataloaders/utils.py cross_entropy2d "
          "'logit = logit.contiguous().view(-1, c); target = target.view(-1)' "
          "@fff2eb2^ = fa6f707f2d68ba834cb144a2d38ed92107f8440b; train.py, networks/deeplab_xception.py, "
          "dataloaders/custom_transforms.py, dataloaders/pascal.py; fix fff2eb2c213ea41ee4741c0172f8e58f1e6467b4 "
          "'Fix loss non-convergence problem': "
          "NCHW logits passed whole, 'target = target.squeeze(1)')")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {}),
          ("input_independent_baseline", {}), ("gradients_flow", {})]

# train.py (at the fix commit)
N_CLASSES = 21  # DeepLabv3_plus(nInputChannels=3, n_classes=21)
IGNORE_INDEX = 255  # cross_entropy2d(..., ignore_index=255): VOC's void boundary band
BATCH_SIZE = 8  # p['trainBatch']
LR = 1e-6  # p['lr'] after the fix (1e-4 before it, see the docstring)
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
MEAN = (0.4914, 0.4822, 0.4465)  # tr.Normalize(mean=..., std=(1.0, 1.0, 1.0)) after / 255
STD = (1.0, 1.0, 1.0)
CROP_SCALE = (0.5, 1.0)  # tr.RandomResizedCrop(size=513, scale=(0.5, 1.0))
RATES = (1, 6, 12, 18)  # ASPP rates
# port: 129 x 129 crops instead of 513 x 513 (same stride arithmetic: 129 -> 16 x 16 low-level, 4 x 4 deep
# features, as 513 -> 64 x 64 and 16 x 16), widths / 8, middle flow of MIDDLE blocks instead of 16
IMG = 129
RAW = 160  # raw synthetic images (VOC: ~500 x 375)
WIDTH_DIV = 16
MIDDLE = 8
N_BATCHES = 6
N_INPUTS = 64
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _palette() -> np.ndarray:
    """One saturated colour per object class 1..20 (row 0 unused)."""
    r = np.random.default_rng(1234)
    hues = (np.arange(N_CLASSES - 1) / (N_CLASSES - 1) + r.uniform(0, 0.02, N_CLASSES - 1)) % 1.0
    val = np.where(np.arange(N_CLASSES - 1) % 2 == 0, 230.0, 150.0)
    k = (hues[:, None] * 6.0 + np.array([5.0, 3.0, 1.0])[None, :]) % 6.0
    rgb = val[:, None] * (1.0 - 0.85 * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0))
    return np.concatenate([np.zeros((1, 3)), rgb])


def _voc_like(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n raw (RAW, RAW, 3) float32 images in 0..255 and (RAW, RAW) float32 label maps (0 background, 1..20 objects,
    255 a 2-pixel void band around each object), like ``VOCSegmentation._make_img_gt_point_pair``'s arrays."""
    r = np.random.default_rng(seed)
    pal = _palette()
    yy, xx = np.mgrid[0:RAW, 0:RAW].astype(np.float64)
    imgs = np.empty((n, RAW, RAW, 3), dtype=np.float32)
    gts = np.empty((n, RAW, RAW), dtype=np.float32)
    for i in range(n):
        base = r.uniform(60, 190, 3)
        grad = r.normal(0, 0.25, 3)[None, None, :] * (xx[..., None] - RAW / 2) + \
            r.normal(0, 0.25, 3)[None, None, :] * (yy[..., None] - RAW / 2)
        img = base.mean() * 0.7 + 0.3 * base[None, None, :] + grad  # low-saturation background
        gt = np.zeros((RAW, RAW))
        for _ in range(int(r.integers(1, 4))):
            c = int(r.integers(1, N_CLASSES))
            cy, cx = r.uniform(25, RAW - 25, 2)
            ry, rx = r.uniform(12, 38, 2)
            if r.random() < 0.5:
                d = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
            else:
                d = np.maximum(np.abs(yy - cy) / ry, np.abs(xx - cx) / rx)
            inside = d <= 1.0
            band = (d > 1.0) & (d <= 1.0 + 2.0 / min(ry, rx))
            shade = 1.0 + 0.15 * np.sin((xx + yy) * (0.2 + 0.05 * (c % 4)))
            img[inside] = pal[c][None, :] * shade[inside][:, None]
            gt[inside] = c
            gt[band & (gt == 0)] = IGNORE_INDEX
        img = img + r.normal(0, 8.0, img.shape)
        imgs[i] = np.clip(img, 0, 255)
        gts[i] = gt
    return imgs, gts


def _cubic_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights of OpenCV's INTER_CUBIC (Keys kernel, a = -0.75, half-pixel centres, edge replicated)."""
    a = -0.75
    src = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    x0 = np.floor(src).astype(int)
    t = src - x0
    m = np.zeros((n_out, n_in))
    for k in range(-1, 3):
        d = np.abs(t - k)
        w = np.where(d <= 1, ((a + 2) * d - (a + 3)) * d * d + 1,
                     np.where(d < 2, ((a * d - 5 * a) * d + 8 * a) * d - 4 * a, 0.0))
        np.add.at(m, (np.arange(n_out), np.clip(x0 + k, 0, n_in - 1)), w)
    return m


def _resize(a: np.ndarray, size: int, nearest: bool) -> np.ndarray:
    """utils.fixed_resize: cv2.INTER_NEAREST for the label map, cv2.INTER_CUBIC for the image."""
    h, w = a.shape[:2]
    if nearest:
        iy = np.minimum((np.arange(size) * h / size).astype(int), h - 1)
        ix = np.minimum((np.arange(size) * w / size).astype(int), w - 1)
        return a[iy][:, ix]
    out = (_cubic_matrix(h, size) @ a.reshape(h, -1).astype(np.float64)).reshape(size, w, -1)
    out = np.matmul(_cubic_matrix(w, size)[None], out)  # (size, size, 3)
    return np.clip(out, 0, 255).astype(np.float32)  # cv2 saturates uint8; VOC images are read as 0..255


def _random_resized_crop(img: np.ndarray, gt: np.ndarray, r: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """tr.RandomResizedCrop(size=IMG, scale=(0.5, 1.0)), ratio (3/4, 4/3): get_params, crop, fixed_resize."""
    area = img.shape[0] * img.shape[1]
    for _ in range(10):
        target_area = r.uniform(*CROP_SCALE) * area
        aspect_ratio = r.uniform(3.0 / 4.0, 4.0 / 3.0)
        w = int(np.rint(np.sqrt(target_area * aspect_ratio)))
        h = int(np.rint(np.sqrt(target_area / aspect_ratio)))
        if r.random() < 0.5:
            w, h = h, w
        if w < img.shape[1] and h < img.shape[0]:
            i = int(r.integers(0, img.shape[0] - h))
            j = int(r.integers(0, img.shape[1] - w))
            break
    else:
        w = h = min(img.shape[0], img.shape[1])
        i, j = (img.shape[0] - w) // 2, (img.shape[1] - w) // 2
    return _resize(img[i:i + h, j:j + w], IMG, False), _resize(gt[i:i + h, j:j + w], IMG, True)


def _normalize_to_tensor(img: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """tr.Normalize (image / 255, minus mean, / std) then tr.ToTensor (HWC -> CHW; the label map -> (1, H, W))."""
    x = (img / 255.0 - np.array(MEAN)) / np.array(STD)
    return x.transpose(2, 0, 1).astype(np.float32), gt[None].astype(np.float32)


@functools.lru_cache(maxsize=1)
def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Training batches (composed_transforms_tr), held-out inputs / label maps (composed_transforms_ts:
    FixedResize, Normalize, ToTensor) and a 64-image baseline batch."""
    raw_x, raw_y = _voc_like(N_BATCHES * BATCH_SIZE + 64 + N_INPUTS, SEED)
    r = np.random.default_rng(SEED + 1)
    train = []
    for k in range(N_BATCHES * BATCH_SIZE + 64):
        img, gt = _random_resized_crop(raw_x[k], raw_y[k], r)
        if r.random() < 0.5:  # tr.RandomHorizontalFlip
            img, gt = img[:, ::-1], gt[:, ::-1]
        train.append(_normalize_to_tensor(img, gt))
    xs = np.stack([t[0] for t in train])
    ys = np.stack([t[1] for t in train])
    n = N_BATCHES * BATCH_SIZE
    batches = [(xs[b:b + BATCH_SIZE], ys[b:b + BATCH_SIZE]) for b in range(0, n, BATCH_SIZE)]
    test = [_normalize_to_tensor(_resize(raw_x[k], IMG, False), _resize(raw_y[k], IMG, True))
            for k in range(n + 64, n + 64 + N_INPUTS)]
    return batches, np.stack([t[0] for t in test]), np.stack([t[1] for t in test]), (xs[n:], ys[n:])


# ----------------------------------------------------------------------------------------------------------- model

def _deeplab(torch: Any) -> Any:
    nn = torch.nn
    F = torch.nn.functional

    def ch(c: int) -> int:
        return max(c // WIDTH_DIV, 4)

    class SeparableConv2d(nn.Module):
        def __init__(self, inplanes, planes, kernel_size=3, stride=1, padding=0, dilation=1, bias=False):
            super().__init__()

            self.conv1 = nn.Conv2d(inplanes, inplanes, kernel_size, stride, padding, dilation,
                                   groups=inplanes, bias=bias)
            self.pointwise = nn.Conv2d(inplanes, planes, 1, 1, 0, 1, 1, bias=bias)

        def forward(self, x):
            x = self.conv1(x)
            x = self.pointwise(x)
            return x

    class Block(nn.Module):
        def __init__(self, inplanes, planes, reps, stride=1, start_with_relu=True, grow_first=True):
            super().__init__()

            if planes != inplanes or stride != 1:
                self.skip = nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False)
                self.skipbn = nn.BatchNorm2d(planes)
            else:
                self.skip = None

            self.relu = nn.ReLU(inplace=True)
            rep = []

            filters = inplanes
            if grow_first:
                rep.append(self.relu)
                rep.append(SeparableConv2d(inplanes, planes, 3, stride=1, padding=1, bias=False))
                rep.append(nn.BatchNorm2d(planes))
                filters = planes

            for i in range(reps - 1):
                rep.append(self.relu)
                rep.append(SeparableConv2d(filters, filters, 3, stride=1, padding=1, bias=False))
                rep.append(nn.BatchNorm2d(filters))

            if not grow_first:
                rep.append(self.relu)
                rep.append(SeparableConv2d(inplanes, planes, 3, stride=1, padding=1, bias=False))
                rep.append(nn.BatchNorm2d(planes))

            if not start_with_relu:
                rep = rep[1:]

            if stride != 1:
                rep.append(SeparableConv2d(planes, planes, 3, stride=2, padding=1))
            self.rep = nn.Sequential(*rep)

        def forward(self, inp):
            x = self.rep(inp)

            if self.skip is not None:
                skip = self.skip(inp)
                skip = self.skipbn(skip)
            else:
                skip = inp

            x += skip
            return x

    class Xception(nn.Module):
        """Modified Aligned Xception (widths / WIDTH_DIV, MIDDLE middle-flow blocks)."""
        def __init__(self, inplanes=3):
            super().__init__()

            # Entry flow
            self.conv1 = nn.Conv2d(inplanes, ch(32), 3, stride=2, bias=False)
            self.bn1 = nn.BatchNorm2d(ch(32))
            self.relu = nn.ReLU(inplace=True)

            self.conv2 = nn.Conv2d(ch(32), ch(64), 3, bias=False)
            self.bn2 = nn.BatchNorm2d(ch(64))

            self.block1 = Block(ch(64), ch(128), reps=2, stride=2, start_with_relu=False)
            self.block2 = Block(ch(128), ch(256), reps=2, stride=2, start_with_relu=True, grow_first=True)
            self.block3 = Block(ch(256), ch(728), reps=2, stride=2, start_with_relu=True, grow_first=True)

            # Middle flow (block4 .. block19 in the program)
            self.middle = nn.Sequential(*[Block(ch(728), ch(728), reps=3, stride=1, start_with_relu=True,
                                                grow_first=True) for _ in range(MIDDLE)])

            # Exit flow
            self.block20 = Block(ch(728), ch(1024), reps=2, stride=2, start_with_relu=True, grow_first=False)

            self.conv3 = SeparableConv2d(ch(1024), ch(1536), 3, stride=1, padding=1)
            self.bn3 = nn.BatchNorm2d(ch(1536))

            self.conv4 = SeparableConv2d(ch(1536), ch(1536), 3, stride=1, padding=1)
            self.bn4 = nn.BatchNorm2d(ch(1536))

            self.conv5 = SeparableConv2d(ch(1536), ch(2048), 3, stride=1, padding=1)
            self.bn5 = nn.BatchNorm2d(ch(2048))

            # init weights
            self._init_weight()

        def forward(self, x):
            # Entry flow
            x = self.conv1(x)
            x = self.bn1(x)
            x = self.relu(x)

            x = self.conv2(x)
            x = self.bn2(x)
            x = self.relu(x)

            x = self.block1(x)
            x = self.block2(x)
            low_level_feat = x
            x = self.block3(x)

            # Middle flow
            x = self.middle(x)

            # Exit flow
            x = self.block20(x)
            x = self.conv3(x)
            x = self.bn3(x)
            x = self.relu(x)

            x = self.conv4(x)
            x = self.bn4(x)
            x = self.relu(x)

            x = self.conv5(x)
            x = self.bn5(x)
            x = self.relu(x)

            return x, low_level_feat

        def _init_weight(self):
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    torch.nn.init.kaiming_normal_(m.weight)
                elif isinstance(m, nn.BatchNorm2d):
                    m.weight.data.fill_(1)
                    m.bias.data.zero_()

    class ASPP_module(nn.Module):
        def __init__(self, inplanes, planes, rate):
            super().__init__()
            self.atrous_convolution = nn.Conv2d(inplanes, planes, kernel_size=3,
                                                stride=1, padding=rate, dilation=rate)
            self.batch_norm = nn.BatchNorm2d(planes)
            self._init_weight()

        def forward(self, x):
            x = self.atrous_convolution(x)
            x = self.batch_norm(x)

            return x

        def _init_weight(self):
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    torch.nn.init.kaiming_normal_(m.weight)
                elif isinstance(m, nn.BatchNorm2d):
                    m.weight.data.fill_(1)
                    m.bias.data.zero_()

    class DeepLabv3_plus(nn.Module):
        def __init__(self, nInputChannels=3, n_classes=21):
            super().__init__()

            # Atrous Conv
            self.xception_features = Xception(nInputChannels)

            # ASPP
            rates = RATES
            self.aspp1 = ASPP_module(ch(2048), ch(256), rate=rates[0])
            self.aspp2 = ASPP_module(ch(2048), ch(256), rate=rates[1])
            self.aspp3 = ASPP_module(ch(2048), ch(256), rate=rates[2])
            self.aspp4 = ASPP_module(ch(2048), ch(256), rate=rates[3])

            self.global_avg_pool = nn.Sequential(nn.AdaptiveAvgPool2d((1, 1)),
                                                 nn.Conv2d(ch(2048), ch(256), 1, stride=1))

            self.conv1 = nn.Conv2d(5 * ch(256), ch(256), 1)
            self.bn1 = nn.BatchNorm2d(ch(256))

            # adopt [1x1, 48] for channel reduction.
            self.conv2 = nn.Conv2d(ch(256), ch(48), 1)
            self.bn2 = nn.BatchNorm2d(ch(48))

            self.last_conv = nn.Sequential(nn.Conv2d(ch(256) + ch(48), ch(256), kernel_size=3, stride=1, padding=1),
                                           nn.BatchNorm2d(ch(256)),
                                           nn.Conv2d(ch(256), ch(256), kernel_size=3, stride=1, padding=1),
                                           nn.BatchNorm2d(ch(256)),
                                           nn.Conv2d(ch(256), n_classes, kernel_size=1, stride=1))

        def forward(self, x):
            x, low_level_features = self.xception_features(x)
            x1 = self.aspp1(x)
            x2 = self.aspp2(x)
            x3 = self.aspp3(x)
            x4 = self.aspp4(x)
            x5 = self.global_avg_pool(x)
            x5 = F.interpolate(x5, size=x4.size()[2:], mode='bilinear', align_corners=True)

            x = torch.cat((x1, x2, x3, x4, x5), dim=1)

            x = self.conv1(x)
            x = self.bn1(x)
            x = F.interpolate(x, scale_factor=4, mode='bilinear', align_corners=True)

            low_level_features = self.conv2(low_level_features)
            low_level_features = self.bn2(low_level_features)

            x = torch.cat((x, low_level_features), dim=1)
            x = self.last_conv(x)
            x = F.interpolate(x, scale_factor=4, mode='bilinear', align_corners=True)

            return x

    class Upsampled(nn.Module):
        """train.py: ``output = net.forward(inputs); output = upsample(output, size=(513, 513), mode='bilinear',
        align_corners=True)`` before the criterion, here part of the forward pass (size IMG)."""
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return F.interpolate(self.net(x), size=(IMG, IMG), mode='bilinear', align_corners=True)

    return Upsampled(DeepLabv3_plus(nInputChannels=3, n_classes=N_CLASSES))


# ------------------------------------------------------------------------------------------------------------ build

def _build(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    model = _deeplab(torch)

    def cross_entropy2d(logit, target, ignore_index=IGNORE_INDEX, weight=None, size_average=True,
                        batch_average=True):
        n, c, h, w = logit.size()
        if fixed:
            # logit = logit.permute(0, 2, 3, 1)
            target = target.squeeze(1)
        else:
            logit = logit.contiguous().view(-1, c)
            target = target.view(-1)
        criterion = nn.CrossEntropyLoss(weight=weight, ignore_index=ignore_index, reduction='sum')  # size_average=False
        loss = criterion(logit, target.long())

        if size_average:
            loss /= (h * w)

        if batch_average:
            loss /= n

        return loss

    def loss_fn(output: Any, gts: Any) -> Any:
        """train.py: ``loss = criterion(output, gts, size_average=False, batch_average=True)``."""
        return cross_entropy2d(output, gts, size_average=False, batch_average=True)

    batches, inputs, _, (bx, by) = _data()
    t = torch.from_numpy
    bs = [(t(x.copy()), t(y.copy())) for x, y in batches]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(inputs.copy()),
            "baseline_batch": (t(bx.copy()), t(by.copy())), "loss_fn": loss_fn,
            "optimizer": lambda params: torch.optim.SGD(params, lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)}


def buggy(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError(framework)
    return _build(fixed=True)
