"""TensorFlow tutorial "Image segmentation" (tensorflow/docs ``site/en/tutorials/images/segmentation.ipynb``):
a U-Net on the Oxford-IIIT Pet dataset that labels every pixel of a pet photo as pet, background or border.
``load_image`` resizes each photo and its trimap ``segmentation_mask`` (values 1 = pet, 2 = background,
3 = border/"not classified") to 128x128, ``normalize`` scales the photo to [0, 1] and shifts the mask to
0..2 (``input_mask -= 1``). The model is ``unet_model(OUTPUT_CLASSES=3)``: a frozen ImageNet MobileNetV2
``down_stack`` (``down_stack.trainable = False``) whose five activations ``block_1_expand_relu`` (64x64),
``block_3_expand_relu`` (32x32), ``block_6_expand_relu`` (16x16), ``block_13_expand_relu`` (8x8) and
``block_16_project`` (4x4) feed a decoder of four ``pix2pix.upsample`` blocks (512, 256, 128, 64 filters:
``Conv2DTranspose(k=3, strides=2, same, RandomNormal(0, 0.02), no bias)`` -> ``BatchNormalization`` -> ``ReLU``),
each followed by a ``Concatenate`` with the matching skip, and a last ``Conv2DTranspose(3, 3, strides=2,
padding='same')`` giving per-pixel logits; compiled with ``optimizer='adam'`` and
``SparseCategoricalCrossentropy(from_logits=True)``, trained with ``BATCH_SIZE = 64``.

The fault is the mask resize in ``load_image``:
``input_mask = tf.image.resize(datapoint['segmentation_mask'], (128, 128))`` uses the default
``method='bilinear'``, so every mask pixel on a class boundary is interpolated between two class ids: the
mask becomes a float map with values such as 0.5, 1.25 or 1.75 that are no class at all. The sparse
cross-entropy then casts these labels to integers (``tf.cast(target, 'int64')``: truncation), so a pixel
between border (2) and background (1) becomes background, one between pet (0) and border (2) becomes pet or
background -- the thin border class is eroded and the boundary pixels are trained on wrong classes.
Fixed by passing ``method = tf.image.ResizeMethod.NEAREST_NEIGHBOR`` to the mask's ``tf.image.resize``.

Source: github.com/tensorflow/docs, ``site/en/tutorials/images/segmentation.ipynb`` at 2853d260c^ (the
notebook as of Dec 2022), fixed by commit 2853d260c944d213b1975e8e82504e8f0a2ca071 "Use NEAREST NEIGHBOR method
when resizing image mask" (Bruno Alvisio, PR #2159, merged as 633c7f098).

Program lines kept: ``load_image`` / ``normalize`` (photo resized bilinearly and divided by 255; mask resized
bilinearly (buggy) or with nearest neighbour (fixed), then ``-= 1``, kept as the float tensor that
``tf.image.resize`` returns); the ``unet_model`` wiring (deepest activation upsampled, concatenated with each
shallower skip, last stride-2 transposed convolution to 3 logits); ``pix2pix.upsample`` (transposed 3x3
stride-2 conv, N(0, 0.02) kernel, no bias, batch norm, ReLU); the frozen encoder; Adam (Keras defaults,
lr 1e-3) on the sparse cross-entropy from logits. The numpy resizes here reproduce ``tf.image.resize``
(half-pixel centres, no antialias) exactly for both methods (checked against TensorFlow: max difference 0).
Ported / shrunk: images 64x64 instead of 128x128 (the skips are at 32, 16, 8, 4 and 2 pixels), batches of
16 instead of 64, decoder filters divided by 4 (128, 64, 32, 16). The ImageNet-pretrained MobileNetV2 cannot
be downloaded here; since it is frozen in the program, it is replaced by a frozen stand-in encoder with the
same five output resolutions and a quarter of MobileNetV2's channels at those taps (24, 36, 48, 144, 80):
five stride-2 3x3 convolutions with fixed seeded He-normal kernels (ReLU, the last one linear like
``block_16_project``), trainable=False / ``requires_grad=False``. The ``Augment`` random flip is left out
(it flips photo and mask alike and does not touch the labels' values).
Torch twin: the same network (``nn.ConvTranspose2d(k=3, stride=2, padding=1, output_padding=1)`` for the
'same' transposed convolutions, NCHW), the mask resized the same way (as ``F.interpolate(mode='bilinear')``
would) and ``loss_fn = F.cross_entropy(logits, mask.long())`` -- ``.long()`` truncates like TensorFlow's cast.

Data stand-in (no tfds download): seeded synthetic "pet photos", 188x250 RGB uint8 (about the Oxford
photos' 375x500 halved, so the 64x64 resize scales by 2.9 and 3.9 like 375x500 -> 128x128), each with a
smooth striped background and one grainy ("furry") elliptical pet of another random colour, plus its trimap:
1 inside the pet, 2 outside, 3 on a band of +-2 pixels around the outline (the Oxford trimaps' thin
unclassified border). Real signal: pet, background and border can be told apart from the pixels.
``batches``: 6 batches of 16; ``inputs``: 192 photos.

Fault label: labels_invalid (the labels handed to the loss are non-integer class ids, silently truncated).
Fix: nearest-neighbour resize of the mask.

Symptom (measured with my own plain loops, seed 0, OMP_NUM_THREADS=1). In the data: the buggy masks hold
non-integer values on 1.2% of the pixels (all over 0..2, e.g. 0.0029, 1.9995; the fixed masks none); after
the loss' integer cast 28% of the true border pixels are trained as background or pet, and the border's
share of the labels falls from 2.10% to 1.51% (pet 7.17% in both). In training (300 Adam steps cycling over
the 6 batches; loss of the step's batch before its update at steps 1 / 10 / 50 / 100 / 200 / 300):
torch (~50-100 ms a step) buggy 1.245 / 0.820 / 0.333 / 0.208 / 0.087 / 0.062 vs fixed 1.249 / 0.826 /
0.345 / 0.221 / 0.103 / 0.067; Keras (``train_on_batch``, ~80 ms a step) buggy 1.251 / 0.889 / 0.355 /
0.205 / 0.102 / 0.066 vs fixed 1.249 / 0.891 / 0.364 / 0.216 / 0.107 / 0.071. The buggy loss is a little
lower throughout: its labels have fewer of the hard border pixels, so the fault looks like better training
while it teaches the model that border pixels are background. On 96 held-out photos scored against the
correct (nearest) masks, neither short run has learnt the border (border IoU 0.0 in both; the eval-mode
predictions of both collapse to background, as BatchNorm's moving statistics are still far from the batch
statistics after 300 steps), so the effect on held-out quality is not visible at this length: what the
fault changes measurably is the labels themselves and the border class the loss is given.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "labels_invalid"
SOURCE = ("github:tensorflow/docs site/en/tutorials/images/segmentation.ipynb@2853d260c^ (load_image mask "
          "tf.image.resize default bilinear; fix 2853d260c944d213b1975e8e82504e8f0a2ca071 'Use NEAREST NEIGHBOR "
          "method when resizing image mask', PR #2159, merge 633c7f098)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {}), ("inputs_normalized", {})]

SIZE = 64  # port: 128 in the tutorial
H0, W0 = 188, 250  # stand-in photo size (Oxford photos ~375x500)
BATCH_SIZE = 16  # port: 64 in the tutorial
OUTPUT_CLASSES = 3
N_BATCHES = 6
N_INPUTS = 192
UP_FILTERS = (512 // 4, 256 // 4, 128 // 4, 64 // 4)  # pix2pix.upsample(512|256|128|64, 3), divided by 4
SKIP_CHANNELS = (96 // 4, 144 // 4, 192 // 4, 576 // 4, 320 // 4)  # MobileNetV2 taps' channels / 4


def _pets(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic pet photos (n, H0, W0, 3) uint8 and trimaps (n, H0, W0, 1) uint8 in {1, 2, 3}."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H0, 0:W0].astype("float32")
    imgs = np.empty((n, H0, W0, 3), "uint8")
    masks = np.empty((n, H0, W0, 1), "uint8")
    for i in range(n):
        cy, cx = rng.uniform(0.3, 0.7) * H0, rng.uniform(0.3, 0.7) * W0
        a, b = rng.uniform(0.12, 0.25, 2) * H0
        th = rng.uniform(0, np.pi)
        u = ((xx - cx) * np.cos(th) + (yy - cy) * np.sin(th)) / a
        v = (-(xx - cx) * np.sin(th) + (yy - cy) * np.cos(th)) / b
        d = (np.sqrt(u ** 2 + v ** 2) - 1.0) * min(a, b)  # ~ signed distance to the outline, in pixels
        tri = np.where(d < 0, 1, 2).astype("uint8")  # 1 pet, 2 background
        tri[np.abs(d) <= 2.0] = 3  # 3 border ("not classified")
        bg = rng.uniform(40, 215, 3)
        fg = rng.uniform(40, 215, 3)
        while np.abs(fg - bg).mean() < 50:
            fg = rng.uniform(40, 215, 3)
        tex = 25 * np.sin(xx / rng.uniform(6, 14) + rng.uniform(0, 6))[..., None]
        fur = rng.normal(0, 40, (H0, W0, 3))  # the pet is furry (grainy), the background smooth
        img = np.where((d < 0)[..., None], fg + fur, bg + tex + rng.normal(0, 5, (H0, W0, 3)))
        imgs[i] = np.clip(img, 0, 255).astype("uint8")
        masks[i] = tri[..., None]
    return imgs, masks


def _axis(n_in: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    c = np.clip((np.arange(size) + 0.5) * (n_in / size) - 0.5, 0, n_in - 1)  # half-pixel centres
    i0 = np.floor(c).astype(int)
    return i0, np.minimum(i0 + 1, n_in - 1), (c - i0).astype("float32")


def resize_bilinear(a: np.ndarray, size: int) -> np.ndarray:
    """``tf.image.resize(a, (size, size))`` (default bilinear, antialias=False) on an NHWC batch."""
    a = a.astype("float32")
    r0, r1, wr = _axis(a.shape[1], size)
    c0, c1, wc = _axis(a.shape[2], size)
    rows = a[:, r0] * (1 - wr)[None, :, None, None] + a[:, r1] * wr[None, :, None, None]
    return rows[:, :, c0] * (1 - wc)[None, None, :, None] + rows[:, :, c1] * wc[None, None, :, None]


def resize_nearest(a: np.ndarray, size: int) -> np.ndarray:
    """``tf.image.resize(a, (size, size), method=NEAREST_NEIGHBOR)`` on an NHWC batch (float32 out)."""
    ri = np.minimum(np.floor((np.arange(size) + 0.5) * a.shape[1] / size), a.shape[1] - 1).astype(int)
    ci = np.minimum(np.floor((np.arange(size) + 0.5) * a.shape[2] / size), a.shape[2] - 1).astype(int)
    return a[:, ri][:, :, ci].astype("float32")


def load_images(n: int, seed: int, fixed: bool) -> tuple[np.ndarray, np.ndarray]:
    """``load_image`` + ``normalize`` over n stand-in datapoints: (n, 64, 64, 3) in [0, 1], (n, 64, 64, 1)."""
    image, mask = _pets(n, seed)
    input_image = resize_bilinear(image, SIZE)  # tf.image.resize(datapoint['image'], (128, 128))
    if fixed:  # 2853d260c: method = tf.image.ResizeMethod.NEAREST_NEIGHBOR
        input_mask = resize_nearest(mask, SIZE)
    else:  # buggy: tf.image.resize(datapoint['segmentation_mask'], (128, 128)) -- bilinear
        input_mask = resize_bilinear(mask, SIZE)
    input_image = input_image.astype("float32") / 255.0  # tf.cast(input_image, tf.float32) / 255.0
    input_mask = input_mask - 1  # input_mask -= 1
    return input_image.astype("float32"), input_mask.astype("float32")


def _encoder_kernels() -> list[np.ndarray]:
    """Fixed seeded He-normal 3x3 kernels (HWIO) of the frozen stand-in encoder."""
    rng = np.random.default_rng(1234)
    ks, c_in = [], 3
    for c_out in SKIP_CHANNELS:
        ks.append((rng.normal(0, np.sqrt(2.0 / (9 * c_in)), (3, 3, c_in, c_out))).astype("float32"))
        c_in = c_out
    return ks


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    from tests.real_programs._data import batches

    x, y = load_images(BATCH_SIZE * N_BATCHES, seed=0, fixed=fixed)
    xi, _ = load_images(N_INPUTS, seed=1, fixed=fixed)
    kernels = _encoder_kernels()

    if framework == "torch":
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        torch.manual_seed(0)

        class DownStack(nn.Module):  # frozen stand-in for the pretrained MobileNetV2 taps
            def __init__(self) -> None:
                super().__init__()
                self.convs = nn.ModuleList()
                for k in kernels:
                    conv = nn.Conv2d(k.shape[2], k.shape[3], 3, stride=2, padding=1, bias=False)
                    conv.weight.data = torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1)))
                    conv.weight.requires_grad_(False)  # down_stack.trainable = False
                    self.convs.append(conv)

            def forward(self, x):
                outs = []
                for i, conv in enumerate(self.convs):
                    x = conv(x)
                    if i < len(self.convs) - 1:  # *_expand_relu taps; block_16_project is linear
                        x = F.relu(x)
                    outs.append(x)
                return outs

        def upsample(c_in: int, filters: int, size: int) -> nn.Module:  # pix2pix.upsample
            conv = nn.ConvTranspose2d(c_in, filters, size, stride=2, padding=1, output_padding=1, bias=False)
            nn.init.normal_(conv.weight, 0.0, 0.02)
            return nn.Sequential(conv, nn.BatchNorm2d(filters, eps=1e-3, momentum=0.01), nn.ReLU())

        class UNet(nn.Module):  # unet_model(output_channels)
            def __init__(self, output_channels: int) -> None:
                super().__init__()
                self.down_stack = DownStack()
                c = SKIP_CHANNELS[-1]
                ups = []
                for f, skip_c in zip(UP_FILTERS, reversed(SKIP_CHANNELS[:-1])):
                    ups.append(upsample(c, f, 3))
                    c = f + skip_c
                self.up_stack = nn.ModuleList(ups)
                self.last = nn.ConvTranspose2d(c, output_channels, 3, stride=2, padding=1, output_padding=1)

            def forward(self, inputs):
                skips = self.down_stack(inputs)
                x = skips[-1]
                for up, skip in zip(self.up_stack, reversed(skips[:-1])):
                    x = up(x)
                    x = torch.cat([x, skip], dim=1)
                return self.last(x)

        model = UNet(OUTPUT_CLASSES)

        def loss_fn(logits, mask):  # SparseCategoricalCrossentropy(from_logits=True); .long() truncates
            return F.cross_entropy(logits, mask.long())

        def optimizer(params):  # optimizer='adam'
            return torch.optim.Adam([p for p in params if p.requires_grad], lr=0.001, eps=1e-7)

        def to_t(a, b):
            return (torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2))),
                    torch.from_numpy(np.ascontiguousarray(b[..., 0])))

        tb = [to_t(a, b) for a, b in batches(x, y, BATCH_SIZE)]
        return {"model": model, "batch": tb[0], "batches": tb,
                "inputs": torch.from_numpy(np.ascontiguousarray(xi.transpose(0, 3, 1, 2))),
                "loss_fn": loss_fn, "optimizer": optimizer}

    import keras

    keras.utils.set_random_seed(0)
    # frozen stand-in for the MobileNetV2 down_stack (same taps' resolutions, a quarter of their channels)
    enc_in = keras.Input(shape=[SIZE, SIZE, 3])
    h, taps = enc_in, []
    for i, k in enumerate(kernels):
        last_tap = i == len(kernels) - 1
        conv = keras.layers.Conv2D(k.shape[3], 3, strides=2, padding="same", use_bias=False,
                                   activation=None if last_tap else "relu")
        h = conv(h)
        conv.set_weights([k])
        taps.append(h)
    down_stack = keras.Model(inputs=enc_in, outputs=taps)
    down_stack.trainable = False

    def upsample(filters: int, size: int) -> keras.Sequential:  # tensorflow_examples pix2pix.upsample
        initializer = keras.initializers.RandomNormal(0.0, 0.02)
        return keras.Sequential([
            keras.layers.Conv2DTranspose(filters, size, strides=2, padding="same",
                                         kernel_initializer=initializer, use_bias=False),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU()])

    up_stack = [upsample(f, 3) for f in UP_FILTERS]

    def unet_model(output_channels: int) -> keras.Model:
        inputs = keras.layers.Input(shape=[SIZE, SIZE, 3])
        skips = down_stack(inputs)
        x = skips[-1]
        skips = reversed(skips[:-1])
        for up, skip in zip(up_stack, skips):
            x = up(x)
            concat = keras.layers.Concatenate()
            x = concat([x, skip])
        last = keras.layers.Conv2DTranspose(filters=output_channels, kernel_size=3, strides=2, padding="same")
        x = last(x)
        return keras.Model(inputs=inputs, outputs=x)

    model = unet_model(output_channels=OUTPUT_CLASSES)
    model.compile(optimizer="adam",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    kb = batches(x, y, BATCH_SIZE)
    return {"model": model, "batch": kb[0], "batches": kb, "inputs": xi}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
