"""divamgupta/image-segmentation-keras (``keras_segmentation``): ``train()`` with ``ignore_zero_class=True``
compiles the segmentation model with the library's ``masked_categorical_crossentropy`` so that pixels of
class 0 do not count. Every model of the library ends in ``get_segmentation_model``: ``Reshape((out_h *
out_w, -1))`` + ``Activation('softmax')``, and the generator feeds one-hot targets of shape
``(out_h * out_w, n_classes)`` (``get_segmentation_array``) with images preprocessed by
``get_image_array(imgNorm="sub_mean")`` (BGR minus the ImageNet means 103.939/116.779/123.68, then
flipped to RGB). The fault is in the loss added by 98b8948 ("added support for ignoring zero pixels"):

    def masked_categorical_crossentropy(gt, pr):
        mask = 1 - gt[:, :, 0:1]
        return categorical_crossentropy(gt * mask, pr * mask)

It masks by zeroing the *predicted probabilities* of every class-0 pixel. Keras'
``categorical_crossentropy`` (``from_logits=False``) first renormalises the prediction,
``output / sum(output, axis=-1)``, so for a masked pixel it computes 0 / 0 = NaN, which the epsilon clip
keeps, and ``0 * log(NaN)`` is NaN: the loss is NaN at the very first batch that holds a class-0 pixel
(every CamVid image: class 0 is sky), its gradients are NaN, and after one Adadelta step every weight and
every output of the model is NaN.

Source: github.com/divamgupta/image-segmentation-keras, ``keras_segmentation/train.py`` at a00b086^ (=
98b89485125083d923ad5f8e6ba868394a6d3464), fixed the same day by commit
a00b086149e14a886057d3cc390e091aa482dda7 "changed mcce function to fix nans":

    mask = 1 - gt[:, :, 0]
    return categorical_crossentropy(gt, pr) * mask

(the per-pixel loss is computed on the unmasked softmax and masked afterwards).
Model: ``keras_segmentation/models/unet.py`` ``unet_mini`` (the library's "Vanilla Mini CNN U-Net") and
``models/model_utils.py`` ``get_segmentation_model``; data: ``data_utils/data_loader.py``
``get_image_array`` / ``get_segmentation_array`` / ``image_segmentation_generator``; training
configuration: ``train()`` defaults ``batch_size=2``, ``optimizer_name='adadelta'`` (standalone Keras
2.3: ``Adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-7)``), the loss above.
Program lines kept: the ``unet_mini`` layers (Conv2D 32/64/128 3x3 ReLU 'same', Dropout 0.2, MaxPooling 2x2,
UpSampling + concatenate skips, 1x1 Conv2D to n_classes), the reshape + softmax head, the "sub_mean"
preprocessing, the one-hot reshaped targets, batch size 2, Adadelta(1.0), and the buggy / fixed loss.
Ported minimally: ``keras`` 2.3 -> Keras 3 (same layers, same glorot-uniform/zero init); images 48x64
instead of CamVid's 360x480 (unet_mini's default) so that a step stays well under 0.1 s on one CPU
thread; ``n_classes`` = 12 (CamVid's labels 0..11, the library's example dataset). Keras 3's
``keras.losses.categorical_crossentropy`` still renormalises a probability input (the TF backend's
``output / reduce_sum(output)`` then ``clip_by_value``), so the buggy loss is used verbatim. The CLI,
checkpointing, dataset verification and augmentation are left out.
Torch twin: the same ``unet_mini`` (NCHW; xavier-uniform kernels and zero biases as Keras), softmax head
over (H*W, n_classes), ``Adadelta(lr=1.0, rho=0.95, eps=1e-7)``, and the same two losses with Keras'
probability cross-entropy written out (``p / p.sum(-1)``, clamp to [1e-7, 1 - 1e-7], ``-sum(t * log p)``,
mean over pixels and batch): the fault (zeroing probabilities before a loss that renormalises them) is
the same.
Data stand-in (CamVid is not available offline): seeded synthetic street scenes, uint8 BGR 48x64, labels
0..11 laid out like CamVid (0 sky band at the top, 1 building, 3 road band at the bottom, 4 pavement,
5 tree, 8 car and 9 pedestrian boxes, 11 void specks), each class with its own colour plus noise, so the
pixels carry the label; about 22% of the pixels are class 0. 16 images in 8 batches of 2.
Fault label: loss_not_finite (NaN loss for every class-0 pixel, at any output the model can produce).
Fix (a00b086): mask the per-pixel loss instead of the probabilities.

Symptom in a short loop (my own: Keras ``train_on_batch`` / torch ``zero_grad; loss.backward(); step``,
cycling over the 8 batches, seed 0, OMP_NUM_THREADS=1; ~60 ms a step in Keras, ~35-50 ms in torch):
Keras buggy loss NaN at step 1 (the untrained model's outputs are finite softmax rows; the loss itself is
NaN), NaN at 2, 3, 10, 50, 100, and after 100 steps every output is NaN (pixel accuracy 0 on non-sky
pixels); fixed 6.59 (step 1) -> 4.26 (2) -> 1.52 (10) -> 0.89 (50) -> 0.21 (100), accuracy 0.95 on the
non-sky pixels. Torch buggy NaN at every step, all outputs NaN after training; fixed 4.18 -> 4.02 -> 1.67
(10) -> 0.39 (50) -> 0.14 (100), accuracy 0.95. One batch, 100 steps: buggy NaN throughout (both), fixed
Keras 6.59 -> 1.14 (10) -> 0.21 (50) -> 0.21 (100), torch 4.18 -> 1.23 -> 0.17 -> 0.10.
The fixed model's initial loss (4.2-6.6) is well above the masked uniform value (0.8 * log 12 = 2.0)
because the program's "sub_mean" inputs are in -124..152 (the program's own preprocessing, unchanged), so
``init_loss`` and ``inputs_normalized`` are not in CHECKS: they would flag the fixed program too.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_not_finite"
SOURCE = ("github:divamgupta/image-segmentation-keras keras_segmentation/train.py masked_categorical_crossentropy"
          "@98b8948 (models/unet.py unet_mini, models/model_utils.py get_segmentation_model, "
          "data_utils/data_loader.py; fix a00b086149e14a886057d3cc390e091aa482dda7 'changed mcce function to fix nans')")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("output_range", {"kind": "probabilities"}),
          ("not_constant_predictions", {})]

n_classes = 12  # CamVid labels 0..11
input_height, input_width = 48, 64  # port: unet_mini's default 360 x 480
batch_size = 2  # train() default
n_images = 16

# class colours (BGR) of the stand-in scenes
_COLOURS = {0: (235, 200, 150), 1: (90, 90, 110), 2: (120, 150, 160), 3: (110, 100, 100), 4: (150, 170, 180),
            5: (40, 120, 50), 6: (60, 200, 220), 7: (200, 60, 60), 8: (40, 40, 200), 9: (140, 60, 150),
            10: (30, 90, 160), 11: (10, 10, 10)}


def _scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h, w = input_height, input_width
    seg = np.ones((h, w), dtype=np.uint8)  # 1 building
    sky = int(rng.integers(6, 14))
    seg[:sky] = 0  # sky band on top
    road = int(rng.integers(h - 16, h - 10))
    seg[road:] = 3
    seg[road - 3:road, :] = 4  # pavement strip
    for _ in range(int(rng.integers(1, 3))):  # trees
        x0 = int(rng.integers(0, w - 10)); seg[sky - 2:road - 6, x0:x0 + int(rng.integers(4, 10))] = 5
    for c, n in ((2, 1), (6, 1), (7, 1), (10, 1)):
        for _ in range(n):
            y0, x0 = int(rng.integers(sky, road - 6)), int(rng.integers(0, w - 4))
            seg[y0:y0 + 3, x0:x0 + 3] = c
    for _ in range(int(rng.integers(1, 3))):  # cars on the road
        x0 = int(rng.integers(0, w - 14)); seg[road - 6:road + 2, x0:x0 + int(rng.integers(8, 14))] = 8
    for _ in range(int(rng.integers(0, 3))):  # pedestrians
        x0 = int(rng.integers(0, w - 3)); seg[road - 10:road - 1, x0:x0 + 2] = 9
    speck = rng.random((h, w)) < 0.01
    seg[speck] = 11
    col = np.array([_COLOURS[c] for c in range(n_classes)], dtype=np.float64)
    img = col[seg] + rng.normal(0, 18, (h, w, 3)) + rng.normal(0, 15, (1, 1, 3))
    return np.clip(img, 0, 255).astype(np.uint8), seg


def get_image_array(img: np.ndarray) -> np.ndarray:  # data_loader.get_image_array, imgNorm="sub_mean"
    img = img.astype(np.float32)
    img[:, :, 0] -= 103.939
    img[:, :, 1] -= 116.779
    img[:, :, 2] -= 123.68
    return img[:, :, ::-1]


def get_segmentation_array(img: np.ndarray) -> np.ndarray:  # data_loader.get_segmentation_array
    seg_labels = np.zeros((input_height, input_width, n_classes))
    for c in range(n_classes):
        seg_labels[:, :, c] = (img == c).astype(int)
    return np.reshape(seg_labels, (input_width * input_height, n_classes))


def _data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    xs, ys = [], []
    for _ in range(n_images):
        im, seg = _scene(rng)
        xs.append(get_image_array(im))
        ys.append(get_segmentation_array(seg))
    return np.array(xs, dtype=np.float32), np.array(ys, dtype=np.float32)


def _build_keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras.layers import (Activation, Conv2D, Dropout, Input, MaxPooling2D, Reshape, UpSampling2D,
                              concatenate)
    from keras.losses import categorical_crossentropy

    x, y = _data()
    keras.utils.set_random_seed(0)
    # models/unet.py unet_mini (channels_last)
    img_input = Input(shape=(input_height, input_width, 3))
    conv1 = Conv2D(32, (3, 3), activation='relu', padding='same')(img_input)
    conv1 = Dropout(0.2)(conv1)
    conv1 = Conv2D(32, (3, 3), activation='relu', padding='same')(conv1)
    pool1 = MaxPooling2D((2, 2))(conv1)
    conv2 = Conv2D(64, (3, 3), activation='relu', padding='same')(pool1)
    conv2 = Dropout(0.2)(conv2)
    conv2 = Conv2D(64, (3, 3), activation='relu', padding='same')(conv2)
    pool2 = MaxPooling2D((2, 2))(conv2)
    conv3 = Conv2D(128, (3, 3), activation='relu', padding='same')(pool2)
    conv3 = Dropout(0.2)(conv3)
    conv3 = Conv2D(128, (3, 3), activation='relu', padding='same')(conv3)
    up1 = concatenate([UpSampling2D((2, 2))(conv3), conv2], axis=-1)
    conv4 = Conv2D(64, (3, 3), activation='relu', padding='same')(up1)
    conv4 = Dropout(0.2)(conv4)
    conv4 = Conv2D(64, (3, 3), activation='relu', padding='same')(conv4)
    up2 = concatenate([UpSampling2D((2, 2))(conv4), conv1], axis=-1)
    conv5 = Conv2D(32, (3, 3), activation='relu', padding='same')(up2)
    conv5 = Dropout(0.2)(conv5)
    conv5 = Conv2D(32, (3, 3), activation='relu', padding='same')(conv5)
    o = Conv2D(n_classes, (1, 1), padding='same')(conv5)
    # model_utils.get_segmentation_model
    o = Reshape((input_height * input_width, -1))(o)
    o = Activation('softmax')(o)
    model = keras.Model(img_input, o)

    if fixed:  # a00b086
        def masked_categorical_crossentropy(gt, pr):
            mask = 1 - gt[:, :, 0]
            return categorical_crossentropy(gt, pr) * mask
    else:  # 98b8948
        def masked_categorical_crossentropy(gt, pr):
            mask = 1 - gt[:, :, 0:1]
            return categorical_crossentropy(gt * mask, pr * mask)

    model.compile(loss=masked_categorical_crossentropy,
                  optimizer=keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-7),
                  metrics=['accuracy'])
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x}


def _build_torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    x, y = _data()
    torch.manual_seed(0)

    def conv(cin, cout, k=3):
        c = nn.Conv2d(cin, cout, k, padding=k // 2)
        nn.init.xavier_uniform_(c.weight)  # Keras glorot_uniform / zeros
        nn.init.zeros_(c.bias)
        return c

    class UnetMini(nn.Module):  # models/unet.py unet_mini + get_segmentation_model (NCHW)
        def __init__(self):
            super().__init__()
            self.c1 = nn.Sequential(conv(3, 32), nn.ReLU(), nn.Dropout(0.2), conv(32, 32), nn.ReLU())
            self.c2 = nn.Sequential(conv(32, 64), nn.ReLU(), nn.Dropout(0.2), conv(64, 64), nn.ReLU())
            self.c3 = nn.Sequential(conv(64, 128), nn.ReLU(), nn.Dropout(0.2), conv(128, 128), nn.ReLU())
            self.c4 = nn.Sequential(conv(192, 64), nn.ReLU(), nn.Dropout(0.2), conv(64, 64), nn.ReLU())
            self.c5 = nn.Sequential(conv(96, 32), nn.ReLU(), nn.Dropout(0.2), conv(32, 32), nn.ReLU())
            self.out = conv(32, n_classes, 1)
            self.pool = nn.MaxPool2d(2)
            self.up = nn.Upsample(scale_factor=2, mode="nearest")

        def forward(self, img):
            conv1 = self.c1(img)
            conv2 = self.c2(self.pool(conv1))
            conv3 = self.c3(self.pool(conv2))
            conv4 = self.c4(torch.cat([self.up(conv3), conv2], dim=1))
            conv5 = self.c5(torch.cat([self.up(conv4), conv1], dim=1))
            o = self.out(conv5)
            o = o.flatten(2).transpose(1, 2)  # (B, H*W, n_classes)
            return torch.softmax(o, dim=-1)

    def categorical_crossentropy(target, output, eps=1e-7):  # Keras' probability branch, written out
        output = output / output.sum(-1, keepdim=True)
        output = output.clamp(eps, 1 - eps)
        return -(target * torch.log(output)).sum(-1)

    if fixed:  # a00b086
        def loss_fn(pr, gt):
            mask = 1 - gt[:, :, 0]
            return (categorical_crossentropy(gt, pr) * mask).mean()
    else:  # 98b8948
        def loss_fn(pr, gt):
            mask = 1 - gt[:, :, 0:1]
            return categorical_crossentropy(gt * mask, pr * mask).mean()

    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y)
    batches = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, len(xt), batch_size)]

    def optimizer(params):
        return torch.optim.Adadelta(params, lr=1.0, rho=0.95, eps=1e-7)

    return {"model": UnetMini(), "batch": batches[0], "batches": batches, "inputs": xt,
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build_torch(False) if framework == "torch" else _build_keras(False)


def fixed(framework: str) -> dict[str, Any]:
    return _build_torch(True) if framework == "torch" else _build_keras(True)
