"""bigmb/Unet-Segmentation-Pytorch-Nest-of-Unets (U-Net, R2U-Net, Attention U-Net, UNet++ for medical image
segmentation; the author's data are hippocampus labels of the EADC-ADNI HarP MRI volumes, cut into axial slices
and saved as 128x128 PNGs by ``2d_from_3d.py``). ``pytorch_run.py`` trains ``U_Net(3, 1)`` (``Models.py``:
``conv_block`` = 2 x [3x3 conv + BatchNorm2d + ReLU], four 2x2 max-pools, ``up_conv`` = nearest ``Upsample(2)`` +
3x3 conv + BatchNorm + ReLU, skip concatenations, a last 1x1 conv to one logit map; filters 64..1024) with
``calc_loss`` (``losses.py``: 0.5 * ``binary_cross_entropy_with_logits`` + 0.5 * dice loss of the sigmoid over the
whole batch, smooth 1), ``Adam(lr=0.001)``, ``batch_size = 4``, 15 epochs (a ``CosineAnnealingLR(opt, 1e10,
eta_min=1e-5)`` stepped per epoch, which keeps the lr at 1e-3). The data come from ``Data_Loader.py``'s
``Images_Dataset_folder``: images through ``self.tx`` = ``CenterCrop(96)``, ``RandomRotation((-10,10))``,
``ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4)``, ``ToTensor()``, ``Normalize([0.5]*3, [0.5]*3)``;
labels through ``self.lx`` = ``CenterCrop(96)``, ``Grayscale()``, ``ToTensor()``.

The fault: the random rotation is applied to the image only. ``__getitem__`` returns ``self.tx(i1), self.lx(l1)``
and ``lx`` has no ``RandomRotation``, so every training image is turned by a random angle in [-10, 10] degrees
about the crop's centre while its label stays where it was: the targets are misaligned with the inputs by up to
~5 pixels for a structure ~25 px off-centre, about the width of a hippocampus. Reported in issue #29 ("There is a
randomRotation transformation in self.tx but there is no same randomrotation in the self.lx. Does it mean that
the image will have the random rotation transformation but its label will not be rotated?"), fixed by the
reporter's PR #30, merged by the author: ``lx`` gets ``torchvision.transforms.RandomRotation((-10,10))`` after its
``CenterCrop(96)``, and ``__getitem__`` draws ``seed=np.random.randint(0,2**32)`` and calls ``random.seed(seed);
torch.manual_seed(seed)`` before ``img = self.tx(i1)`` and again before ``label = self.lx(l1)``, so both are turned
by the same angle.

Source: github.com/bigmb/Unet-Segmentation-Pytorch-Nest-of-Unets, buggy files at 4b3580f^ (= 0ba46df):
``Data_Loader.py`` (``Images_Dataset_folder``), ``Models.py`` (``U_Net``), ``losses.py`` (``calc_loss``),
``pytorch_run.py``; issue #29; fix commit 4b3580f9b2e2a6bcfcb5bde5c37b5b7ebe76287b "fix the random transformation
on both image and target" (PR #30, merge c050f5eab6778cba6dcd8f8a68b74c9e62a698c8, 2020-02-19).
Fault label: other:augmentation_misaligns_target (a spatial augmentation applied to the input and not to its
pixel-wise target; the inputs keep their signal, but the targets no longer match them). Fix: the same rotation
on the label.

Program lines kept: ``U_Net``'s structure (every block, the skips, the nearest upsampling, the 1x1 head, no
output activation), ``calc_loss`` exactly, Adam at 1e-3 (torch defaults), batch size 4, ``tx`` and ``lx`` with
their order and parameters (buggy: no rotation in ``lx``; fixed: the same angle on the label, as the shared
seed gives). Ported / shrunk: ``n1 = 64`` -> 8 (filters 8, 16, 32, 64, 128; with 64 a step on 96x96 costs
seconds on one CPU thread; at 8 it is still ~0.1-0.15 s for torch and ~0.3-0.4 s for Keras, and n1 = 4 was no
faster, the cost being in the 96x96 activations, so the program's crop size is kept). torchvision cannot be
imported, so the transforms are written as torchvision's PIL path does them: ``CenterCrop`` (round((h - 96) /
2) offsets), ``RandomRotation`` = ``PIL.Image.rotate(angle, NEAREST, expand=False, centre, fillcolor=0)`` with the
angle uniform in [-10, 10], ``ColorJitter`` = ``ImageEnhance.Brightness/Contrast/Color`` with factors uniform in
[0.6, 1.4] in a random order, ``Grayscale`` = PIL ``convert('L')``, ``ToTensor`` /255, ``Normalize`` (x - 0.5)
/ 0.5; the random draws come from a seeded numpy generator instead of torch's (one angle per item, shared by
image and label in the fixed version). The scheduler (constant lr here), tensorboard, plotting, the validation
split and the test-folder loop are left out.
Keras twin: the same U-Net channels-last (``Conv2D(padding='same')``, ``BatchNormalization(momentum=0.9,
epsilon=1e-5)``, ``MaxPooling2D``, ``UpSampling2D(nearest)``, ``Concatenate``), PyTorch's default conv
initialisation (``VarianceScaling(1/3, fan_in, uniform)`` kernels, U(+-1/sqrt(fan_in)) biases), ``calc_loss``
in ``keras.ops``, ``Adam(1e-3, epsilon=1e-8)``; inputs NHWC.

Data stand-in (no MRI download): ``mri_slices`` draws seeded synthetic 128x128 axial "brain slices" saved as
3-channel greys (uint8, like the PNGs) with labels 0/255: a head ellipse with a random tilt of +-15 degrees, a
bright skull rim, grey shaded brain with noise, dark ventricles in the middle, and two small elongated
"hippocampi" (brighter, with a dark rim) left and right of the midline in the head's frame (~2% of the 96x96
crop's pixels, 1.25% of the full slice); the label is exactly those two ellipses. The image alone tells where
they are, and since the head's tilt is random the rotation of the buggy pipeline cannot be read off the head.
``batch``/``batches``: 8 batches of 4 items through ``tx`` / ``lx`` (one draw of the random transforms; the
images are the same in both versions, only the labels differ); ``inputs``: 192 other items through ``tx``
((N, 3, 96, 96) in [-1, 1]; HWC for Keras).

Measured (my own plain loop, /tmp/h45b/measure.py, seed 0, OMP_NUM_THREADS=1, on a loaded 2-core machine):
64 training slices, a fresh draw of the random transforms every epoch (as the DataLoader does), shuffled batches
of 4; torch ``zero_grad; calc_loss(model(x), y).backward(); step`` in train mode, Keras ``train_on_batch``;
then 48 held-out slices through the program's test ``data_transform`` (ToTensor + Normalize, full 128x128, no
rotation), eval mode, Dice of (logit > 0) against their labels.
  In the data: one epoch's buggy labels overlap the aligned ones with Dice 0.64 on average (0.24 at worst).
  torch, 15 epochs (240 steps), training loss at steps 1/10/50/100/200/240: buggy 0.907/0.852/0.790/0.747/
  0.658/0.618, fixed 0.907/0.844/0.776/0.729/0.640/0.604; held-out Dice buggy 0.742 vs fixed 0.861.
  torch, 40 epochs (640 steps): last-epoch training loss buggy 0.273 vs fixed 0.210, held-out loss 0.340 vs
  0.282, held-out Dice 0.781 vs 0.929; the buggy model paints 1.91% of the pixels as hippocampus against the
  true 1.25% (fixed 1.44%): it learns the labels smeared over the rotations it cannot see.
  Keras, 15 epochs (240 steps), training loss at steps 1/10/50/100/200/240: buggy 0.790/0.758/0.688/0.636/
  0.537/0.497, fixed 0.790/0.757/0.673/0.610/0.504/0.459; held-out loss 0.529 vs 0.495, held-out Dice 0.523
  vs 0.957 (predicted share 3.5% vs 1.4%, true 1.25%).
  On one fixed batch (150 steps) the two versions are the same (torch 0.907 -> 0.680 for both, Keras 0.790 ->
  0.557 for both): a fixed misalignment is as easy to memorise as the true labels; the fault shows in what
  the model learns across fresh draws, i.e. in held-out quality and a higher training-loss floor.
Step time (one thread, loaded machine): torch ~0.1-0.16 s, Keras ~0.2-0.4 s (first Keras step ~14 s, tracing).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "other:augmentation_misaligns_target"
SOURCE = ("github:bigmb/Unet-Segmentation-Pytorch-Nest-of-Unets issue #29, PR #30 (Data_Loader.py "
          "Images_Dataset_folder tx RandomRotation((-10,10)) with no rotation in lx @4b3580f^, Models.py U_Net, "
          "losses.py calc_loss, pytorch_run.py; fix 4b3580f9b2e2a6bcfcb5bde5c37b5b7ebe76287b 'fix the random "
          "transformation on both image and target', merge c050f5eab6778cba6dcd8f8a68b74c9e62a698c8)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "logits"}), ("inputs_normalized", {})]

RAW = 128  # 2d_from_3d.py: cv2.resize(slice, (128, 128)) before saving the PNGs
CROP = 96  # torchvision.transforms.CenterCrop(96) in both tx and lx
DEGREES = (-10.0, 10.0)  # torchvision.transforms.RandomRotation((-10,10))
JITTER = 0.4  # ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4)
batch_size = 4  # pytorch_run.py
initial_lr = 0.001  # torch.optim.Adam(model_test.parameters(), lr=initial_lr)
N1 = 8  # port: U_Net's n1 = 64 (filters 64..1024) shrunk to 8 (filters 8..128)
N_BATCHES = 8
N_INPUTS = 192
SEED = 0


# ----------------------------------------------------------------------------------------------------------
# Offline stand-in for the program's data (EADC-ADNI HarP hippocampus MRI slices, 2d_from_3d.py -> 128x128 PNGs,
# images as 3-channel greys 'new_3C_I_ori', labels 'new_3C_L_ori' with the hippocampus at 255, background 0)
# ----------------------------------------------------------------------------------------------------------

def _ellipse(yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, a: float, b: float, th: float) -> np.ndarray:
    u = ((xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)) / a
    v = (-(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)) / b
    return u ** 2 + v ** 2


def mri_slices(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic axial 'brain slices' (n, 128, 128, 3) uint8 and their hippocampus labels (n, 128, 128, 3) uint8
    in {0, 255}. Each slice: a head (ellipse, random tilt of +-15 deg, bright skull rim, grey brain with smooth
    shading and noise, dark ventricles in the middle) and two small elongated hippocampi (brighter grey, a thin
    dark rim) placed left and right of the midline in the head's own frame; the label is exactly those two
    ellipses. The head's tilt is random, so the hippocampi's position is given by the image, not by a fixed
    place in the frame."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:RAW, 0:RAW].astype("float32")
    imgs = np.empty((n, RAW, RAW, 3), "uint8")
    masks = np.empty((n, RAW, RAW, 3), "uint8")
    for i in range(n):
        cy, cx = 64 + rng.uniform(-4, 4), 64 + rng.uniform(-4, 4)
        tilt = np.deg2rad(rng.uniform(-15, 15))
        ha, hb = rng.uniform(50, 58), rng.uniform(40, 46)  # head semi-axes (vertical, horizontal)
        head = _ellipse(yy, xx, cy, cx, hb, ha, tilt + np.pi / 2)
        img = np.zeros((RAW, RAW), "float32")
        brain = head < 1.0
        shade = 85 + 15 * np.sin(xx / rng.uniform(9, 15) + rng.uniform(0, 6)) * np.cos(yy / rng.uniform(9, 15))
        img[brain] = shade[brain]
        img[(head >= 0.86) & brain] = rng.uniform(190, 230)  # skull rim
        for s in (-1, 1):  # ventricles
            vy, vx = rng.uniform(-6, 2), s * rng.uniform(4, 8)
            py = cy + vy * np.cos(tilt) + vx * np.sin(tilt)
            px = cx - vy * np.sin(tilt) + vx * np.cos(tilt)
            img[_ellipse(yy, xx, py, px, rng.uniform(3, 5), rng.uniform(8, 12), tilt + np.pi / 2) < 1] = 35
        lab = np.zeros((RAW, RAW), bool)
        for s in (-1, 1):  # left and right hippocampus, in the head's frame
            dy, dx = rng.uniform(6, 16), s * rng.uniform(20, 28)
            py = cy + dy * np.cos(tilt) + dx * np.sin(tilt)
            px = cx - dy * np.sin(tilt) + dx * np.cos(tilt)
            a, b = rng.uniform(7, 10), rng.uniform(3, 4.5)
            th = tilt + s * np.deg2rad(rng.uniform(25, 50))
            e = _ellipse(yy, xx, py, px, a, b, th)
            img[(e >= 1) & (e < 1.7)] = 60  # a darker rim around it (white-matter / CSF boundary)
            img[e < 1] = rng.uniform(120, 140)
            lab |= e < 1
        img = img * rng.uniform(0.85, 1.15) + rng.normal(0, 8, (RAW, RAW)) * brain
        img = np.clip(img, 0, 255).astype("uint8")
        imgs[i] = img[..., None]
        masks[i] = (lab * 255).astype("uint8")[..., None]
    return imgs, masks


# ----------------------------------------------------------------------------------------------------------
# Images_Dataset_folder's transforms (torchvision's PIL path, written with PIL + numpy so that both frameworks
# get the same arrays without torchvision)
# ----------------------------------------------------------------------------------------------------------

def _center_crop(a: np.ndarray, size: int) -> np.ndarray:
    top = int(round((a.shape[0] - size) / 2.0))
    left = int(round((a.shape[1] - size) / 2.0))
    return a[top:top + size, left:left + size]


def _rotate(a: np.ndarray, angle: float) -> np.ndarray:
    """``F.rotate`` on a PIL image: ``img.rotate(angle, NEAREST, expand=False, center=None, fillcolor=0)``."""
    from PIL import Image

    return np.asarray(Image.fromarray(a).rotate(angle, resample=Image.NEAREST, expand=False, fillcolor=0))


def _color_jitter(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4)`` on a PIL RGB image (random order)."""
    from PIL import Image, ImageEnhance

    img = Image.fromarray(a)
    b, c, s = (rng.uniform(1 - JITTER, 1 + JITTER) for _ in range(3))
    for fn in rng.permutation(3):
        if fn == 0:
            img = ImageEnhance.Brightness(img).enhance(b)
        elif fn == 1:
            img = ImageEnhance.Contrast(img).enhance(c)
        else:
            img = ImageEnhance.Color(img).enhance(s)
    return np.asarray(img)


def tx(image: np.ndarray, angle: float, rng: np.random.Generator) -> np.ndarray:
    """Images_Dataset_folder.tx: CenterCrop(96), RandomRotation((-10,10)), ColorJitter(0.4, 0.4, 0.4),
    ToTensor(), Normalize([0.5]*3, [0.5]*3) -> (96, 96, 3) float32 in [-1, 1] (HWC)."""
    a = _center_crop(image, CROP)
    a = _rotate(a, angle)
    a = _color_jitter(a, rng)
    return ((a.astype("float32") / 255.0) - 0.5) / 0.5


def lx(label: np.ndarray, angle: float | None) -> np.ndarray:
    """Images_Dataset_folder.lx: CenterCrop(96), [fix: RandomRotation((-10,10)) with the image's seed],
    Grayscale(), ToTensor() -> (96, 96, 1) float32 in {0, 1} (HWC)."""
    from PIL import Image

    a = _center_crop(label, CROP)
    if angle is not None:  # 4b3580f: the same rotation as the image (same seed)
        a = _rotate(a, angle)
    grey = np.asarray(Image.fromarray(a).convert("L"))  # Grayscale()
    return (grey.astype("float32") / 255.0)[..., None]


def dataset_items(images: np.ndarray, labels: np.ndarray, fixed: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``Images_Dataset_folder.__getitem__`` over all items once (one epoch's draws of the random transforms)."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for image, label in zip(images, labels):
        angle = float(rng.uniform(*DEGREES))  # RandomRotation.get_params
        xs.append(tx(image, angle, rng))
        ys.append(lx(label, angle if fixed else None))  # buggy: self.lx has no RandomRotation
    return np.stack(xs), np.stack(ys)


def data_transform(images: np.ndarray) -> np.ndarray:
    """pytorch_run.py's test-time ``data_transform``: ToTensor(), Normalize(0.5, 0.5); no crop, no rotation."""
    return ((images.astype("float32") / 255.0) - 0.5) / 0.5


# ----------------------------------------------------------------------------------------------------------
# Models.py U_Net and losses.py calc_loss
# ----------------------------------------------------------------------------------------------------------

def _torch_unet() -> Any:
    import torch
    import torch.nn as nn

    class conv_block(nn.Module):
        def __init__(self, in_ch, out_ch):
            super().__init__()
            self.conv = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=1, padding=1, bias=True),
                nn.BatchNorm2d(out_ch),
                nn.ReLU(inplace=True),
                nn.Conv2d(out_ch, out_ch, kernel_size=3, stride=1, padding=1, bias=True),
                nn.BatchNorm2d(out_ch),
                nn.ReLU(inplace=True))

        def forward(self, x):
            return self.conv(x)

    class up_conv(nn.Module):
        def __init__(self, in_ch, out_ch):
            super().__init__()
            self.up = nn.Sequential(
                nn.Upsample(scale_factor=2),
                nn.Conv2d(in_ch, out_ch, kernel_size=3, stride=1, padding=1, bias=True),
                nn.BatchNorm2d(out_ch),
                nn.ReLU(inplace=True))

        def forward(self, x):
            return self.up(x)

    class U_Net(nn.Module):
        def __init__(self, in_ch=3, out_ch=1):
            super().__init__()
            n1 = N1  # port: 64
            filters = [n1, n1 * 2, n1 * 4, n1 * 8, n1 * 16]
            self.Maxpool1 = nn.MaxPool2d(kernel_size=2, stride=2)
            self.Maxpool2 = nn.MaxPool2d(kernel_size=2, stride=2)
            self.Maxpool3 = nn.MaxPool2d(kernel_size=2, stride=2)
            self.Maxpool4 = nn.MaxPool2d(kernel_size=2, stride=2)
            self.Conv1 = conv_block(in_ch, filters[0])
            self.Conv2 = conv_block(filters[0], filters[1])
            self.Conv3 = conv_block(filters[1], filters[2])
            self.Conv4 = conv_block(filters[2], filters[3])
            self.Conv5 = conv_block(filters[3], filters[4])
            self.Up5 = up_conv(filters[4], filters[3])
            self.Up_conv5 = conv_block(filters[4], filters[3])
            self.Up4 = up_conv(filters[3], filters[2])
            self.Up_conv4 = conv_block(filters[3], filters[2])
            self.Up3 = up_conv(filters[2], filters[1])
            self.Up_conv3 = conv_block(filters[2], filters[1])
            self.Up2 = up_conv(filters[1], filters[0])
            self.Up_conv2 = conv_block(filters[1], filters[0])
            self.Conv = nn.Conv2d(filters[0], out_ch, kernel_size=1, stride=1, padding=0)

        def forward(self, x):
            e1 = self.Conv1(x)
            e2 = self.Maxpool1(e1)
            e2 = self.Conv2(e2)
            e3 = self.Maxpool2(e2)
            e3 = self.Conv3(e3)
            e4 = self.Maxpool3(e3)
            e4 = self.Conv4(e4)
            e5 = self.Maxpool4(e4)
            e5 = self.Conv5(e5)
            d5 = self.Up5(e5)
            d5 = torch.cat((e4, d5), dim=1)
            d5 = self.Up_conv5(d5)
            d4 = self.Up4(d5)
            d4 = torch.cat((e3, d4), dim=1)
            d4 = self.Up_conv4(d4)
            d3 = self.Up3(d4)
            d3 = torch.cat((e2, d3), dim=1)
            d3 = self.Up_conv3(d3)
            d2 = self.Up2(d3)
            d2 = torch.cat((e1, d2), dim=1)
            d2 = self.Up_conv2(d2)
            out = self.Conv(d2)
            return out

    return U_Net(3, 1)  # model_unet(model_Inputs[0], 3, 1)


def torch_calc_loss(prediction: Any, target: Any, bce_weight: float = 0.5) -> Any:
    """losses.py ``calc_loss``: 0.5 * BCE-with-logits + 0.5 * dice_loss(sigmoid(prediction), target)."""
    import torch
    import torch.nn.functional as F

    bce = F.binary_cross_entropy_with_logits(prediction, target)
    prediction = torch.sigmoid(prediction)
    smooth = 1.0
    i_flat = prediction.view(-1)
    t_flat = target.view(-1)
    intersection = (i_flat * t_flat).sum()
    dice = 1 - ((2. * intersection + smooth) / (i_flat.sum() + t_flat.sum() + smooth))
    return bce * bce_weight + dice * (1 - bce_weight)


def _keras_unet() -> Any:
    import keras
    from keras import layers

    def torch_init(fan_in: int) -> dict[str, Any]:  # PyTorch's default Conv2d init, U(+-1/sqrt(fan_in))
        bound = 1.0 / np.sqrt(fan_in)
        return {"kernel_initializer": keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
                "bias_initializer": keras.initializers.RandomUniform(-bound, bound)}

    def bn():  # nn.BatchNorm2d defaults
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

    def conv_block(x, in_ch, out_ch):
        x = layers.Conv2D(out_ch, 3, padding="same", **torch_init(in_ch * 9))(x)
        x = layers.ReLU()(bn()(x))
        x = layers.Conv2D(out_ch, 3, padding="same", **torch_init(out_ch * 9))(x)
        return layers.ReLU()(bn()(x))

    def up_conv(x, in_ch, out_ch):
        x = layers.UpSampling2D(2, interpolation="nearest")(x)
        x = layers.Conv2D(out_ch, 3, padding="same", **torch_init(in_ch * 9))(x)
        return layers.ReLU()(bn()(x))

    n1 = N1
    f = [n1, n1 * 2, n1 * 4, n1 * 8, n1 * 16]
    inp = keras.Input(shape=(None, None, 3))
    e1 = conv_block(inp, 3, f[0])
    e2 = conv_block(layers.MaxPooling2D(2)(e1), f[0], f[1])
    e3 = conv_block(layers.MaxPooling2D(2)(e2), f[1], f[2])
    e4 = conv_block(layers.MaxPooling2D(2)(e3), f[2], f[3])
    e5 = conv_block(layers.MaxPooling2D(2)(e4), f[3], f[4])
    d5 = conv_block(layers.Concatenate()([e4, up_conv(e5, f[4], f[3])]), f[4], f[3])
    d4 = conv_block(layers.Concatenate()([e3, up_conv(d5, f[3], f[2])]), f[3], f[2])
    d3 = conv_block(layers.Concatenate()([e2, up_conv(d4, f[2], f[1])]), f[2], f[1])
    d2 = conv_block(layers.Concatenate()([e1, up_conv(d3, f[1], f[0])]), f[1], f[0])
    out = layers.Conv2D(1, 1, **torch_init(f[0]))(d2)
    return keras.Model(inp, out)


def keras_calc_loss(target: Any, prediction: Any, bce_weight: float = 0.5) -> Any:
    """losses.py ``calc_loss`` in keras.ops (Keras' (y_true, y_pred) order)."""
    from keras import ops

    target = ops.cast(target, prediction.dtype)
    # F.binary_cross_entropy_with_logits, mean over every pixel
    bce = ops.mean(ops.maximum(prediction, 0) - prediction * target + ops.log1p(ops.exp(-ops.abs(prediction))))
    prediction = ops.sigmoid(prediction)
    smooth = 1.0
    i_flat = ops.reshape(prediction, (-1,))
    t_flat = ops.reshape(target, (-1,))
    intersection = ops.sum(i_flat * t_flat)
    dice = 1 - ((2. * intersection + smooth) / (ops.sum(i_flat) + ops.sum(t_flat) + smooth))
    return bce * bce_weight + dice * (1 - bce_weight)


# ----------------------------------------------------------------------------------------------------------

def training_data(fixed: bool, n: int = batch_size * N_BATCHES, seed: int = SEED,
                  epoch_seed: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """n training items through the dataset's transforms (HWC): x (n, 96, 96, 3) in [-1, 1], y (n, 96, 96, 1)."""
    images, labels = mri_slices(n, seed)
    return dataset_items(images, labels, fixed, epoch_seed)


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    from tests.real_programs._data import batches

    x, y = training_data(fixed)
    xi, _ = training_data(fixed, n=N_INPUTS, seed=1, epoch_seed=101)

    if framework == "torch":
        import torch

        torch.manual_seed(SEED)
        model = _torch_unet()

        def optimizer(params):
            return torch.optim.Adam(params, lr=initial_lr)

        def to_t(a: np.ndarray) -> Any:
            return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))

        tb = [(to_t(a), to_t(b)) for a, b in batches(x, y, batch_size)]
        return {"model": model, "batch": tb[0], "batches": tb, "inputs": to_t(xi),
                "loss_fn": torch_calc_loss, "optimizer": optimizer}

    import keras

    keras.utils.set_random_seed(SEED)
    model = _keras_unet()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=initial_lr, epsilon=1e-8), loss=keras_calc_loss)
    kb = batches(x, y, batch_size)
    return {"model": model, "batch": kb[0], "batches": kb, "inputs": xi}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
