"""TensorFlow "Image segmentation" tutorial (tensorflow/docs ``site/en/tutorials/images/segmentation.ipynb``,
2021-2022 version): a U-Net on the Oxford-IIIT Pet trimaps (3 classes after ``input_mask -= 1``: pet,
background, border) -- a frozen ``MobileNetV2(include_top=False)`` encoder tapped at ``block_1_expand_relu``,
``block_3_expand_relu``, ``block_6_expand_relu``, ``block_13_expand_relu``, ``block_16_project``, a
``pix2pix.upsample`` decoder (Conv2DTranspose(stride 2, N(0, 0.02) kernels, no bias) + BatchNorm + ReLU) with
skip concatenations and a last ``Conv2DTranspose(3, 3, strides=2)``; ``SparseCategoricalCrossentropy(from_logits=
True)``, ``'adam'``, ``BATCH_SIZE = 64``. ``load_image`` resized the image *and the mask* with
``tf.image.resize(..., (128, 128))``, whose default is bilinear: the mask becomes a float map with interpolated
values between the class ids (the PR shows ``np.unique(mask)`` = ``[0, 1.2e-04, 3.7e-04, ..., 1.9999, 2]``),
i.e. invalid, non-integer labels along every class boundary. The loss casts them to integers (truncation), so a
pixel between pet (0) and border (2) becomes "background" (1) and the thin border class is mostly relabelled.

Source: github.com/tensorflow/docs PR #2159 "Use NEAREST NEIGHBOR method when resizing image mask" (balvisio,
merged as 633c7f098), fix commit 2853d260c; program: segmentation.ipynb@2853d260c^ (cells ``normalize``,
``load_image``, ``BATCH_SIZE``, ``base_model``/``layer_names``/``down_stack.trainable = False``, ``up_stack``,
``unet_model``, ``OUTPUT_CLASSES = 3``, ``model.compile``). ``pix2pix.upsample`` is tensorflow/examples'
``tensorflow_examples/models/pix2pix/pix2pix.py`` (norm_type='batchnorm', apply_dropout=False).
Ported: the input is 32x32 instead of 128x128 (the taps then sit at 16, 8, 4, 2, 1 pixels; same layer names);
MobileNetV2 with ``weights=None`` (no download; the tutorial's ImageNet weights are frozen anyway, here a frozen
seeded random encoder); the resizes are done in numpy the way ``tf.image.resize`` does them (half-pixel
centres; bilinear without antialias, nearest = floor), so that both frameworks get the same arrays; the random
flip augmentation is left out. Torch twin: the same encoder written out (torchvision is not installed):
MobileNetV2 (alpha 1) stem + inverted residual blocks 0..16 with ReLU6/BatchNorm(eps 1e-3), frozen and kept in
eval mode like Keras' non-trainable BatchNorm, the same decoder (ConvTranspose2d, N(0, 0.02), no bias, BN,
ReLU) and head; ``CrossEntropyLoss`` needs integer targets, so its loss casts the mask with ``.long()`` (the
same truncation as the Keras cast); Adam(lr=1e-3).
Data stand-in (no download of oxford_iiit_pet): seeded 100x90 RGB "pets": a textured ellipse (trimap 1) on a
noisy coloured background (trimap 2) with a 3-pixel "not classified" ring along its edge (trimap 3), resized to
32x32 as in ``load_image``; images / 255. 4 batches of 64 (the program's batch size).
Fault label: labels_invalid (fractional class ids from interpolating the label map).
Fix (2853d260c): ``tf.image.resize(mask, (128, 128), method=tf.image.ResizeMethod.NEAREST_NEIGHBOR)``.
Measured on the stand-in: buggy masks hold 28 distinct values, 19 % of pixels non-integer; after the loss' cast
the border class falls from 18.5 % of pixels (nearest) to 5.5 %. Training 300 Adam steps over the 4 batches
(Keras fit): fixed train loss 0.30 and pixel accuracy 0.88 against the nearest-resized labels; buggy reaches a
similar loss on its own (truncated) targets, 0.26, but only 0.78 accuracy against the correct labels (border
recall 0.24 vs 0.64). A step takes ~45 ms (Keras) / ~35 ms (torch) on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "labels_invalid"
SOURCE = ("github:tensorflow/docs PR #2159 (site/en/tutorials/images/segmentation.ipynb@2853d260c^, "
          "fix 2853d260c)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}),
          ("output_range", {"kind": "logits", "num_classes": 3})]

BATCH_SIZE = 64
OUTPUT_CLASSES = 3
SIZE = 32  # (128, 128) in the tutorial
RAW_H, RAW_W = 100, 90
n_batches = 4
lr = 1e-3  # optimizer='adam'


def _resize_bilinear(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """``tf.image.resize`` default (bilinear, half-pixel centres, no antialias) of (H, W, C) float arrays."""
    H, W = a.shape[:2]
    ys = np.clip((np.arange(h) + 0.5) * H / h - 0.5, 0, H - 1)
    xs = np.clip((np.arange(w) + 0.5) * W / w - 0.5, 0, W - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, H - 1), np.minimum(x0 + 1, W - 1)
    wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    top = a[y0][:, x0] * (1 - wx) + a[y0][:, x1] * wx
    bot = a[y1][:, x0] * (1 - wx) + a[y1][:, x1] * wx
    return (top * (1 - wy) + bot * wy).astype("float32")


def _resize_nearest(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """``tf.image.resize(..., method=NEAREST_NEIGHBOR)`` (half-pixel centres)."""
    H, W = a.shape[:2]
    ys = np.minimum(np.floor((np.arange(h) + 0.5) * H / h), H - 1).astype(int)
    xs = np.minimum(np.floor((np.arange(w) + 0.5) * W / w), W - 1).astype(int)
    return a[ys][:, xs].astype("float32")


def _pets(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Raw uint8 images (n, 100, 90, 3) and trimaps (n, 100, 90, 1) with values 1 (pet), 2 (bg), 3 (border)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:RAW_H, 0:RAW_W].astype("float64")
    imgs = np.empty((n, RAW_H, RAW_W, 3), "uint8")
    masks = np.empty((n, RAW_H, RAW_W, 1), "uint8")
    for i in range(n):
        cy, cx = rng.uniform(35, 65), rng.uniform(30, 60)
        ay, ax = rng.uniform(18, 32), rng.uniform(15, 28)
        th = rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u = (dy * np.cos(th) + dx * np.sin(th)) / ay
        v = (-dy * np.sin(th) + dx * np.cos(th)) / ax
        rad = np.sqrt(u ** 2 + v ** 2)
        edge = 3.0 / min(ay, ax)  # ~3-pixel ring
        pet = rad <= 1 - edge / 2
        border = (rad > 1 - edge / 2) & (rad <= 1 + edge / 2)
        m = np.full((RAW_H, RAW_W), 2, "uint8")
        m[pet], m[border] = 1, 3
        bg = rng.uniform(60, 200, 3)
        fur = rng.uniform(90, 180) * np.array([1.0, 0.75, 0.5])
        img = bg + rng.normal(0, 25, (RAW_H, RAW_W, 3))
        stripes = 25 * np.sin(0.6 * xx + 0.4 * yy + rng.uniform(0, 6))[..., None]
        img[pet | border] = (fur + stripes + rng.normal(0, 15, (RAW_H, RAW_W, 3)))[pet | border]
        imgs[i] = np.clip(img, 0, 255).astype("uint8")
        masks[i, ..., 0] = m
    return imgs, masks


def _data(fixed: bool) -> tuple[np.ndarray, np.ndarray]:
    imgs, masks = _pets(BATCH_SIZE * n_batches)
    x = np.stack([_resize_bilinear(im.astype("float32"), SIZE, SIZE) for im in imgs])
    resize = _resize_nearest if fixed else _resize_bilinear  # the bug: the mask resized like an image
    y = np.stack([resize(m.astype("float32"), SIZE, SIZE) for m in masks])
    x = x / 255.0  # normalize(): tf.cast(input_image, tf.float32) / 255.0
    y = y - 1  # input_mask -= 1
    return x.astype("float32"), y.astype("float32")


def _keras_model() -> Any:
    import keras

    base_model = keras.applications.MobileNetV2(input_shape=[SIZE, SIZE, 3], include_top=False, weights=None)
    layer_names = ['block_1_expand_relu', 'block_3_expand_relu', 'block_6_expand_relu', 'block_13_expand_relu',
                   'block_16_project']
    base_model_outputs = [base_model.get_layer(name).output for name in layer_names]
    down_stack = keras.Model(inputs=base_model.input, outputs=base_model_outputs)
    down_stack.trainable = False

    def upsample(filters, size):  # tensorflow_examples pix2pix.upsample(norm_type='batchnorm', apply_dropout=False)
        initializer = keras.initializers.RandomNormal(0., 0.02)
        return keras.Sequential([
            keras.layers.Conv2DTranspose(filters, size, strides=2, padding='same',
                                         kernel_initializer=initializer, use_bias=False),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU()])

    up_stack = [upsample(512, 3), upsample(256, 3), upsample(128, 3), upsample(64, 3)]

    inputs = keras.layers.Input(shape=[SIZE, SIZE, 3])
    skips = down_stack(inputs)
    x = skips[-1]
    skips = reversed(skips[:-1])
    for up, skip in zip(up_stack, skips):
        x = up(x)
        x = keras.layers.Concatenate()([x, skip])
    last = keras.layers.Conv2DTranspose(filters=OUTPUT_CLASSES, kernel_size=3, strides=2, padding='same')
    x = last(x)
    return keras.Model(inputs=inputs, outputs=x)


def _torch_model() -> Any:
    import torch
    from torch import nn

    def bn(c):
        return nn.BatchNorm2d(c, eps=1e-3, momentum=0.001)

    class Block(nn.Module):
        """Keras ``_inverted_res_block``; ``expand_out`` is ``block_k_expand_relu``, ``project_out`` the
        ``block_k_project`` conv output (before its BatchNorm)."""

        def __init__(self, cin, cout, stride, t):
            super().__init__()
            hid = cin * t
            self.expand = nn.Sequential(nn.Conv2d(cin, hid, 1, bias=False), bn(hid), nn.ReLU6()) if t != 1 else None
            self.dw = nn.Sequential(nn.Conv2d(hid, hid, 3, stride, 1, groups=hid, bias=False), bn(hid), nn.ReLU6())
            self.project = nn.Conv2d(hid, cout, 1, bias=False)
            self.project_bn = bn(cout)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            h = self.expand(x) if self.expand is not None else x
            self.expand_out = h
            p = self.project(self.dw(h))
            self.project_out = p
            out = self.project_bn(p)
            return x + out if self.residual else out

    class Encoder(nn.Module):
        cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
               (6, 320, 1, 1)]

        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, 2, 1, bias=False), bn(32), nn.ReLU6())
            blocks, cin = [], 32
            for t, c, n, s in self.cfg:
                for i in range(n):
                    blocks.append(Block(cin, c, s if i == 0 else 1, t))
                    cin = c
            self.blocks = nn.ModuleList(blocks)  # block_0 .. block_16

        def forward(self, x):
            x = self.stem(x)
            for b in self.blocks:
                x = b(x)
            bl = self.blocks
            return [bl[1].expand_out, bl[3].expand_out, bl[6].expand_out, bl[13].expand_out, bl[16].project_out]

    def upsample(cin, filters, size):
        conv = nn.ConvTranspose2d(cin, filters, size, stride=2, padding=1, output_padding=1, bias=False)
        nn.init.normal_(conv.weight, 0.0, 0.02)
        return nn.Sequential(conv, bn(filters), nn.ReLU())

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.down_stack = Encoder()
            for p in self.down_stack.parameters():
                p.requires_grad_(False)  # down_stack.trainable = False
            self.up_stack = nn.ModuleList([upsample(320, 512, 3), upsample(512 + 576, 256, 3),
                                           upsample(256 + 192, 128, 3), upsample(128 + 144, 64, 3)])
            self.last = nn.ConvTranspose2d(64 + 96, OUTPUT_CLASSES, 3, stride=2, padding=1, output_padding=1)
            nn.init.xavier_uniform_(self.last.weight)
            nn.init.zeros_(self.last.bias)

        def train(self, mode: bool = True):
            super().train(mode)
            self.down_stack.eval()  # a non-trainable Keras BatchNorm runs in inference mode
            return self

        def forward(self, x):  # (N, 32, 32, 3) channels-last, as the tutorial's batches
            x = x.permute(0, 3, 1, 2)
            skips = self.down_stack(x)
            h = skips[-1]
            for up, skip in zip(self.up_stack, reversed(skips[:-1])):
                h = torch.cat([up(h), skip], dim=1)
            return self.last(h)  # (N, 3, 32, 32) logits

    return UNet()


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = _data(fixed)
    batches = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)]
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(0)
        model = _keras_model()
        model.compile(optimizer='adam', loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      metrics=['accuracy'])
        return {"model": model, "batch": batches[0], "batches": batches}

    import torch
    from torch import nn

    torch.manual_seed(0)
    model = _torch_model()
    tb = [(torch.tensor(a), torch.tensor(b[..., 0])) for a, b in batches]  # masks (N, 32, 32)
    ce = nn.CrossEntropyLoss()

    def loss_fn(logits, mask):
        return ce(logits, mask.long())  # CrossEntropyLoss needs class ids: truncates like the Keras cast

    return {"model": model, "batch": tb[0], "batches": tb, "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam([q for q in p if q.requires_grad], lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
