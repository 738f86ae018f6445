"""Human-image segmentation with DeepLabV3+ in TensorFlow (nikhilroxtomar/Human-Image-Segmentation-with-
DeepLabV3Plus-in-TensorFlow, ``train.py`` + ``model.py`` + ``metrics.py``): a ResNet50 encoder
(``conv4_block6_out`` into ASPP with image pooling and dilations 6/12/18, ``conv2_block2_out`` as the
low-level branch), squeeze-and-excite blocks, two 3x3 conv+BN+ReLU, 4x bilinear upsampling and a
1-channel sigmoid, trained with ``dice_loss`` and ``Adam(1e-4)``, batch size 2, images ``x / 255.0``
and {0, 1} person masks. The script shuffles its file lists with

    train_x, train_y = load_data(train_path)
    train_x, valid_y = shuffling(train_x, train_y)

so the images are shuffled (sklearn ``shuffle(x, y, random_state=42)``) but the result's mask list goes
to ``valid_y`` (overwritten on the next line) and ``train_y`` stays in sorted order: every training image
is paired with another image's mask. The model can only learn a mask that fits no particular input
("typo in shuffling prevents model from converging").

Source: github.com/nikhilroxtomar/Human-Image-Segmentation-with-DeepLabV3Plus-in-TensorFlow PR #3
"Fix train script" (merged by the author), fix commit c960e1423e884b9fffe4fcef13b62b17d2280b51
(``train_x, train_y = shuffling(train_x, train_y)``); program: ``train.py``, ``model.py``, ``metrics.py``
at c960e14^.
Program lines kept: ``shuffling``, the mismatched assignment, ``read_image`` (``x / 255.0``, float32),
``read_mask`` (mask values as stored, {0, 1}), ``tf_dataset`` (in order, no shuffle, batch 2),
``deeplabv3_plus`` (ASPP, SqueezeAndExcite(ratio=8), decoder), ``dice_coef``/``dice_loss``
(``smooth = 1e-15``, one dice over the whole flattened batch), ``Adam(1e-4)``.
Reduced for CPU cost: 64x64 images instead of H = W = 512 (the encoder features are then 4x4 and
16x16), 24 samples. On the 4x4 map the ASPP's dilated 3x3 convs (rates 6, 12, 18) only ever see their
centre tap (all other taps fall in the zero padding); the Keras port computes them as exactly that
(a layer holding the full 3x3 kernel that applies its centre tap), because TensorFlow's CPU dilated
conv on such a small map pads it to hundreds of blocks (~4 s a training step); torch keeps
``nn.Conv2d(..., dilation=r)``. Ported minimally: ``ResNet50(weights="imagenet")`` built with
``weights=None`` (no downloads; random init); torch twin: the same network in PyTorch with a
ResNet50 written out up to ``layer3`` (torchvision-style bottlenecks, stride on the 3x3 conv; the
low-level branch is ``layer1[:2]`` = ``conv2_block2_out``), the same dice loss and Adam(1e-4), NCHW.
Data stand-in: the person-segmentation images (RGB, 0..255, binary masks) as seeded synthetic 64x64
scenes: a coloured "person" (head disc + body ellipse) at a random place and size on a noisy two-tone
background, mask = the person; sorted file order = generation order.
My loop (240 plain training steps, 10 passes over the 12 batches, then dice of the thresholded
predictions on the training images against their own true masks vs against another image's mask):
Keras buggy 0.36 own / 0.38 other, fixed 0.66 / 0.24; torch buggy 0.33 / 0.37, fixed 0.63 / 0.27 (the
buggy loss still falls, 0.82 -> ~0.2-0.3, by memorising the wrong pairs).
Fault label: no_input_signal (the inputs carry no information about their targets). Fix (c960e14):
``train_x, train_y = shuffling(train_x, train_y)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "no_input_signal"
SOURCE = ("github:nikhilroxtomar/Human-Image-Segmentation-with-DeepLabV3Plus-in-TensorFlow PR #3 "
          "(train.py@c960e14^, fix c960e14)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}),
          ("output_range", {"kind": "sigmoid"}), ("not_constant_predictions", {})]

H = W = 64  # program: 512 (reduced for CPU)
batch_size = 2
lr = 1e-4
n_samples = 24
smooth = 1e-15


def _scenes(n: int = n_samples) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 (n, H, W, 3) and {0, 1} masks (n, H, W), seeded."""
    rng = np.random.default_rng(42)
    yy, xx = np.mgrid[0:H, 0:W]
    imgs = np.empty((n, H, W, 3), "float32")
    masks = np.empty((n, H, W), "float32")
    for i in range(n):
        top, bottom = rng.uniform(40, 200, 3), rng.uniform(40, 200, 3)
        bg = np.where((yy < rng.integers(16, 48))[..., None], top, bottom)
        s = rng.uniform(0.6, 1.2)
        cx, cy = rng.uniform(16, 48), rng.uniform(20, 40)
        head = (xx - cx) ** 2 + (yy - (cy - 14 * s)) ** 2 < (5 * s) ** 2
        body = ((xx - cx) / (8 * s)) ** 2 + ((yy - (cy + 6 * s)) / (15 * s)) ** 2 < 1
        m = head | body
        color = rng.uniform(0, 255, 3)
        img = np.where(m[..., None], color, bg) + rng.normal(0, 12, (H, W, 3))
        imgs[i] = img
        masks[i] = m
    return np.clip(imgs, 0, 255).astype("uint8"), masks


def shuffling(x, y):
    from sklearn.utils import shuffle

    x, y = shuffle(x, y, random_state=42)
    return x, y


def _train_lists(fixed: bool) -> tuple[np.ndarray, np.ndarray]:
    imgs, masks = _scenes()
    train_x = imgs.astype(np.float32) / 255.0  # read_image: x / 255.0
    train_y = masks[..., None].astype(np.float32)  # read_mask: values as stored, expand_dims(-1)
    if fixed:
        train_x, train_y = shuffling(train_x, train_y)
    else:
        train_x, valid_y = shuffling(train_x, train_y)  # the typo: train_y keeps the sorted order
    return train_x, train_y


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    from tests.real_programs import _data

    x, y = _train_lists(fixed)
    if framework == "keras":
        import keras
        from keras import layers
        from keras.layers import (Activation, AveragePooling2D, BatchNormalization, Concatenate, Conv2D,
                                  Dense, GlobalAveragePooling2D, Input, Reshape, UpSampling2D)

        keras.utils.set_random_seed(42)

        def SqueezeAndExcite(inputs, ratio=8):
            filters = inputs.shape[-1]
            se = GlobalAveragePooling2D()(inputs)
            se = Reshape((1, 1, filters))(se)
            se = Dense(filters // ratio, activation='relu', kernel_initializer='he_normal', use_bias=False)(se)
            se = Dense(filters, activation='sigmoid', kernel_initializer='he_normal', use_bias=False)(se)
            return layers.Multiply()([inputs, se])

        class DilatedConvOnSmallMap(layers.Layer):
            """``Conv2D(filters, 3, padding="same", use_bias=False, dilation_rate=r)`` on a map no larger
            than r: every off-centre tap falls in the zero padding, so the conv is its centre tap (same
            kernel, same init, same output and gradients), computed without TF's slow space-to-batch."""

            def __init__(self, filters, dilation_rate, **kw):
                super().__init__(**kw)
                self.filters, self.rate = filters, dilation_rate

            def build(self, input_shape):
                assert input_shape[1] <= self.rate and input_shape[2] <= self.rate
                self.kernel = self.add_weight(shape=(3, 3, input_shape[-1], self.filters),
                                              initializer="glorot_uniform", name="kernel")

            def call(self, t):
                return keras.ops.einsum("bhwc,cd->bhwd", t, self.kernel[1, 1])

        def conv_bn_relu(t, filters, k, dilation_rate=1):
            if dilation_rate > 1:
                t = DilatedConvOnSmallMap(filters, dilation_rate)(t)
            else:
                t = Conv2D(filters, k, padding="same", use_bias=False)(t)
            t = BatchNormalization()(t)
            return Activation("relu")(t)

        def ASPP(inputs):
            shape = inputs.shape
            y1 = AveragePooling2D(pool_size=(shape[1], shape[2]))(inputs)
            y1 = conv_bn_relu(y1, 256, 1)
            y1 = UpSampling2D((shape[1], shape[2]), interpolation="bilinear")(y1)
            y2 = conv_bn_relu(inputs, 256, 1)
            y3 = conv_bn_relu(inputs, 256, 3, dilation_rate=6)
            y4 = conv_bn_relu(inputs, 256, 3, dilation_rate=12)
            y5 = conv_bn_relu(inputs, 256, 3, dilation_rate=18)
            y_ = Concatenate()([y1, y2, y3, y4, y5])
            return conv_bn_relu(y_, 256, 1)

        inputs = Input((H, W, 3))
        encoder = keras.applications.ResNet50(weights=None, include_top=False, input_tensor=inputs)
        x_a = ASPP(encoder.get_layer("conv4_block6_out").output)
        x_a = UpSampling2D((4, 4), interpolation="bilinear")(x_a)
        x_b = conv_bn_relu(encoder.get_layer("conv2_block2_out").output, 48, 1)
        h = Concatenate()([x_a, x_b])
        h = SqueezeAndExcite(h)
        h = conv_bn_relu(h, 256, 3)
        h = conv_bn_relu(h, 256, 3)
        h = SqueezeAndExcite(h)
        h = UpSampling2D((4, 4), interpolation="bilinear")(h)
        h = Conv2D(1, 1)(h)
        out = Activation("sigmoid")(h)
        model = keras.Model(inputs, out)

        def dice_coef(y_true, y_pred):
            y_true = keras.ops.reshape(y_true, (-1,))
            y_pred = keras.ops.reshape(y_pred, (-1,))
            intersection = keras.ops.sum(y_true * y_pred)
            return (2. * intersection + smooth) / (keras.ops.sum(y_true) + keras.ops.sum(y_pred) + smooth)

        def dice_loss(y_true, y_pred):
            return 1.0 - dice_coef(y_true, y_pred)

        model.compile(loss=dice_loss, optimizer=keras.optimizers.Adam(lr))
        batches = _data.batches(x, y, batch_size)
        # every scene for not_constant_predictions (a batch of 2 is too few to judge a spread)
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": x}

    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(42)

    def cbr(cin, cout, k, dilation=1):
        return nn.Sequential(nn.Conv2d(cin, cout, k, padding=dilation * (k // 2), dilation=dilation, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU())

    class Bottleneck(nn.Module):
        def __init__(self, cin, planes, stride=1):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, planes, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(),
                nn.Conv2d(planes, planes, 3, stride, 1, bias=False), nn.BatchNorm2d(planes), nn.ReLU(),
                nn.Conv2d(planes, planes * 4, 1, bias=False), nn.BatchNorm2d(planes * 4))
            self.down = None
            if stride != 1 or cin != planes * 4:
                self.down = nn.Sequential(nn.Conv2d(cin, planes * 4, 1, stride, bias=False),
                                          nn.BatchNorm2d(planes * 4))

        def forward(self, t):
            return F.relu(self.body(t) + (t if self.down is None else self.down(t)))

    def stage(cin, planes, blocks, stride):
        return nn.Sequential(Bottleneck(cin, planes, stride), *[Bottleneck(planes * 4, planes) for _ in range(blocks - 1)])

    class SqueezeAndExcite(nn.Module):
        def __init__(self, filters, ratio=8):
            super().__init__()
            self.fc1 = nn.Linear(filters, filters // ratio, bias=False)
            self.fc2 = nn.Linear(filters // ratio, filters, bias=False)
            for fc in (self.fc1, self.fc2):
                nn.init.kaiming_normal_(fc.weight, nonlinearity="relu")  # he_normal

        def forward(self, t):
            se = t.mean((2, 3))
            se = torch.sigmoid(self.fc2(F.relu(self.fc1(se))))
            return t * se[:, :, None, None]

    class ASPP(nn.Module):
        def __init__(self, cin):
            super().__init__()
            self.pool = cbr(cin, 256, 1)
            self.b1 = cbr(cin, 256, 1)
            self.b6 = cbr(cin, 256, 3, 6)
            self.b12 = cbr(cin, 256, 3, 12)
            self.b18 = cbr(cin, 256, 3, 18)
            self.out = cbr(256 * 5, 256, 1)

        def forward(self, t):
            y1 = self.pool(F.adaptive_avg_pool2d(t, 1))
            y1 = F.interpolate(y1, size=t.shape[2:], mode="bilinear", align_corners=False)
            return self.out(torch.cat([y1, self.b1(t), self.b6(t), self.b12(t), self.b18(t)], 1))

    class DeepLabV3Plus(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                      nn.MaxPool2d(3, 2, 1))
            self.layer1 = stage(64, 64, 3, 1)
            self.layer2 = stage(256, 128, 4, 2)
            self.layer3 = stage(512, 256, 6, 2)
            self.aspp = ASPP(1024)
            self.low = cbr(256, 48, 1)
            self.se1 = SqueezeAndExcite(304)
            self.dec = nn.Sequential(cbr(304, 256, 3), cbr(256, 256, 3))
            self.se2 = SqueezeAndExcite(256)
            self.head = nn.Conv2d(256, 1, 1)

        def forward(self, t):
            t = self.stem(t)
            low = self.layer1[:2](t)  # conv2_block2_out
            feats = self.layer3(self.layer2(self.layer1[2](low)))  # conv4_block6_out
            x_a = F.interpolate(self.aspp(feats), scale_factor=4, mode="bilinear", align_corners=False)
            h = self.se1(torch.cat([x_a, self.low(low)], 1))
            h = self.se2(self.dec(h))
            h = F.interpolate(h, scale_factor=4, mode="bilinear", align_corners=False)
            return torch.sigmoid(self.head(h))

    def dice_loss(y_pred, y_true):
        y_true, y_pred = y_true.flatten(), y_pred.flatten()
        intersection = torch.sum(y_true * y_pred)
        return 1.0 - (2. * intersection + smooth) / (torch.sum(y_true) + torch.sum(y_pred) + smooth)

    xt = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
    yt = np.ascontiguousarray(y.transpose(0, 3, 1, 2))
    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in _data.batches(xt, yt, batch_size)]
    return {"model": DeepLabV3Plus(), "batch": tb[0], "batches": tb, "inputs": torch.tensor(xt), "loss_fn": dice_loss,
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
