"""NVIDIA DeepLearningExamples' U-Net for the EM segmentation challenge, TensorFlow 2 version
(``TensorFlow2/Segmentation/UNet_Medical``): ``Unet.call`` ends in
``tf.keras.activations.softmax(out, axis=-1)`` over the 2 class channels, and ``partial_losses`` feeds
that softmax output to ``tf.nn.softmax_cross_entropy_with_logits(logits=flat_logits, labels=flat_labels)``,
which applies a second softmax. The training loss is that cross-entropy + the dice loss (on the same
softmax output) + ``weight_decay * sum(l2_loss(v))``, Adam(1e-4). With 2 classes and the inputs of the
second softmax in [0, 1], the cross-entropy of a pixel cannot go below log(1 + e^-1) = 0.313 nor above
1.313, and its gradient is damped by the second softmax; only the dice term trains the net properly.

Source: github.com/NVIDIA/DeepLearningExamples issue #468 ("[Unet/tensorflow2] loss function with
softmax output": "the output is with keras soft_max ... the crossentropy is calculated with
tf.nn.softmax_cross_entropy_with_logits ... Do not call this op with the output of softmax"; the
maintainer mmarcinkiewicz: "it seems you are right. I'll fix the issue"), fixed by PR #470 "Replace
softmax_cross_entropy_with_logits with binary_crossentropy" (commit 57b8a6ac, merged as d218a729).
Program at 57b8a6ac^: ``model/unet.py`` (``Unet``: InputBlock(64), DownsampleBlock 128/256/512,
BottleneckBlock(1024) with Dropout(0.5) and a ReLU Conv2DTranspose, UpsampleBlock 512/256/128,
OutputBlock(64, n_classes=2) whose last 1x1 conv has a ReLU, then the softmax), ``model/layers.py``,
``utils/losses.py`` (``dice_coef``, ``partial_losses``), ``run.py`` (``train_step``: ce + dice +
``params.weight_decay * tf.add_n([tf.nn.l2_loss(v) ...])``, ``Adam(learning_rate=params.learning_rate)``),
``utils/cmd_util.py`` (learning_rate 1e-4, weight_decay 5e-4), README (batch size 8),
``utils/data_loader.py`` (images ``/ 127.5 - 1``, masks ``/ 255`` thresholded at 0.5, one-hot over 2).
Ported to a 32x32 stand-in: the program's convolutions are unpadded (572x572 inputs -> 388x388 maps, at
least 188x188 inputs), so here every conv uses ``padding='same'`` (``_crop_and_concat``'s central crop
is then the identity) and every filter count is divided by 4 (16 ... 256) to fit the CPU budget; the
topology, activations, dropout, softmax head, losses, weight decay, optimizer and batch size are the
program's. Keras 3: the model is a functional model; the loss is ``partial_losses`` written with
``keras.ops`` (the cross-entropy as ``-sum(y * log_softmax(p))``, which is what
``softmax_cross_entropy_with_logits`` computes; Keras 3's own losses would look through a softmax
output's ``_keras_logits``); the l2 term as ``L2(weight_decay / 2)`` kernel and bias regularisers
(``l2_loss = sum(v**2) / 2``). Torch twin: the same U-Net with a final ``softmax(dim=1)``, the same
ce + dice loss as ``loss_fn``, and ``Adam(lr=1e-4, weight_decay=5e-4)`` (its gradient is that of
``5e-4 * sum(l2_loss)``).
Data stand-in (no ISBI 2012 download): 32 seeded 32x32 grayscale "EM" images of cells (a Voronoi
tessellation of 12 seeds per image, bright textured cell interiors, dark noisy membranes where the two
nearest seeds are almost equidistant), uint8 scaled ``/ 127.5 - 1``; masks 1 inside cells, 0 on
membranes (28% membrane pixels), one-hot (32, 32, 2). 4 batches of 8.
Seeds: torch ``manual_seed(0)``; Keras ``set_random_seed(2)``: with Keras seed 0 the program's ReLU on the
last 1x1 conv (zero biases, glorot kernels) outputs 0 for both classes on 82% of the pixels at
initialisation, and neither the buggy nor the fixed version learns in 400 steps (pixel accuracy stays at
the membrane share); seeds 1, 2, 3 start with 7-43% such pixels and train.
Fault label: loss_mismatch (softmax probabilities fed to a cross-entropy that expects logits).
Fix (57b8a6ac): ``tf.keras.backend.binary_crossentropy(output=flat_logits, target=flat_labels)`` on the
softmax output (Keras 2's clipped BCE, written out here; the torch twin ``F.binary_cross_entropy``).
Symptom in a short loop of my own (one thread, 300 Adam steps, loss = ce + dice (+ the L2 term in Keras)):
the dice term trains both versions alike, the cross-entropy term of the buggy one is stuck near its floor.
torch, one batch: buggy loss 1.06 -> 0.49 (dice loss 0.083, pixel accuracy 0.920) vs fixed 1.07 -> 0.26
(dice 0.077, accuracy 0.927); the 4 batches: buggy 0.50 (dice 0.087, acc 0.919) vs fixed 0.29 (dice 0.090,
acc 0.919). Keras (loss with the L2 term): one batch buggy 1.49 -> 0.48 vs fixed 1.49 -> 0.20, dice loss
0.023 and pixel accuracy 0.988 / 0.987 for both; the 4 batches buggy 0.49 vs fixed 0.21 (dice 0.027 / 0.026,
accuracy 0.983 / 0.984). About 45 ms (torch) and 100 ms (Keras) a step on one thread on a loaded machine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_mismatch"
SOURCE = ("github:NVIDIA/DeepLearningExamples issue #468, PR #470 (TensorFlow2/Segmentation/UNet_Medical "
          "utils/losses.py@57b8a6ac^, model/unet.py; fix 57b8a6ac)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

n_classes = 2
batch_size = 8  # README: "The default batch size is 8"
learning_rate = 0.0001  # --learning_rate default
weight_decay = 0.0005  # --weight_decay default
D = 4  # filter counts divided by D (CPU budget)
keras_seed = 2  # Keras seed 0 leaves 82% of the pixels dead at the ReLU head (see the docstring)
size = 32
n_images = 32


def _em_like(n: int = n_images, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size]
    images, masks = [], []
    for _ in range(n):
        pts = rng.uniform(-4, size + 4, (12, 2))
        d = np.sqrt((yy[..., None] - pts[:, 0]) ** 2 + (xx[..., None] - pts[:, 1]) ** 2)
        d.sort(axis=-1)
        membrane = (d[..., 1] - d[..., 0]) < 1.2
        img = 170 + 40 * rng.standard_normal((size, size)) * 0.5 + 20 * np.sin(d[..., 0])
        img[membrane] = 60 + 15 * rng.standard_normal(membrane.sum())
        images.append(np.clip(img, 0, 255))
        masks.append(np.where(membrane, 0, 255))
    images = np.array(images).astype("uint8")
    masks = np.array(masks).astype("uint8")
    x = (images.astype("float32") / 127.5 - 1)[..., None]  # _normalize_inputs
    labels = (masks.astype("float32") / 255 >= 0.5).astype("int64")  # _normalize_labels
    y = np.eye(n_classes, dtype="float32")[labels]  # tf.one_hot(..., 2)
    return x, y


def _build(framework: str, loss: str) -> dict[str, Any]:
    x, y = _em_like()
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    if framework == "keras":
        import keras
        from keras import layers, ops

        keras.utils.set_random_seed(keras_seed)
        reg = keras.regularizers.L2(weight_decay / 2)  # weight_decay * tf.nn.l2_loss(v) = wd * sum(v**2) / 2

        def conv(filters, k=(3, 3)):
            return layers.Conv2D(filters // D, kernel_size=k, activation="relu", padding="same",
                                 kernel_regularizer=reg, bias_regularizer=reg)

        def conv_transpose(filters):
            return layers.Conv2DTranspose(filters=filters // D // 2, kernel_size=(3, 3), strides=(2, 2),
                                          padding='same', activation="relu",
                                          kernel_regularizer=reg, bias_regularizer=reg)

        inp = keras.Input((size, size, 1))
        skip_connections = []
        out = conv(64)(inp)  # InputBlock(filters=64)
        out = conv(64)(out)
        skip_connections.append(out)
        out = layers.MaxPool2D(pool_size=(2, 2), strides=2)(out)
        for filters in [128, 256, 512]:  # DownsampleBlock
            out = conv(filters)(out)
            out = conv(filters)(out)
            skip_connections.append(out)
            out = layers.MaxPool2D(pool_size=(2, 2), strides=2)(out)
        out = conv(1024)(out)  # BottleneckBlock(1024)
        out = conv(1024)(out)
        out = layers.Dropout(rate=0.5)(out)
        out = conv_transpose(1024)(out)
        for filters in [512, 256, 128]:  # UpsampleBlock: _crop_and_concat, 2 convs, conv transpose
            out = layers.Concatenate(axis=-1)([out, skip_connections.pop()])
            out = conv(filters)(out)
            out = conv(filters)(out)
            out = conv_transpose(filters)(out)
        out = layers.Concatenate(axis=-1)([out, skip_connections.pop()])  # OutputBlock(64, n_classes=2)
        out = conv(64)(out)
        out = conv(64)(out)
        out = layers.Conv2D(n_classes, kernel_size=(1, 1), activation="relu",
                            kernel_regularizer=reg, bias_regularizer=reg)(out)
        out = layers.Softmax(axis=-1)(out)  # tf.keras.activations.softmax(out, axis=-1)
        model = keras.Model(inp, out)

        def dice_coef(predict, target, axis=1, eps=1e-6):
            intersection = ops.sum(predict * target, axis=axis)
            union = ops.sum(predict * predict + target * target, axis=axis)
            dice = (2. * intersection + eps) / (union + eps)
            return ops.mean(dice, axis=0)  # average over batch

        def partial_losses_sum(target, predict):
            flat_logits = ops.reshape(predict, (ops.shape(predict)[0], -1, n_classes))
            flat_labels = ops.reshape(target, (ops.shape(predict)[0], -1, n_classes))
            if loss == "softmax_ce":  # tf.nn.softmax_cross_entropy_with_logits(logits=..., labels=...)
                ce = -ops.sum(flat_labels * ops.log_softmax(flat_logits, axis=-1), axis=-1)
            else:  # fix: tf.keras.backend.binary_crossentropy(output=flat_logits, target=flat_labels)
                p = ops.clip(flat_logits, 1e-7, 1 - 1e-7)
                ce = -(flat_labels * ops.log(p) + (1 - flat_labels) * ops.log(1 - p))
            crossentropy_loss = ops.mean(ce)
            dice_loss = ops.mean(1 - dice_coef(flat_logits, flat_labels))
            return crossentropy_loss + dice_loss

        model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate), loss=partial_losses_sum)
        return {"model": model, "batch": batches[0], "batches": batches}

    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(0)

    def conv(c_in, c_out, k=3):
        return nn.Sequential(nn.Conv2d(c_in // D, c_out // D, k, padding=k // 2), nn.ReLU())

    def conv_transpose(c_in, c_out):
        return nn.Sequential(nn.ConvTranspose2d(c_in // D, c_out // D, 3, stride=2, padding=1,
                                                output_padding=1), nn.ReLU())

    class Unet(nn.Module):
        def __init__(self):
            super().__init__()
            self.input_block = nn.Sequential(nn.Conv2d(1, 64 // D, 3, padding=1), nn.ReLU(), conv(64, 64))
            self.down_blocks = nn.ModuleList(
                [nn.Sequential(conv(a, b), conv(b, b)) for a, b in ((64, 128), (128, 256), (256, 512))])
            self.bottleneck = nn.Sequential(conv(512, 1024), conv(1024, 1024), nn.Dropout(0.5),
                                            conv_transpose(1024, 512))
            self.up_blocks = nn.ModuleList(
                [nn.Sequential(conv(2 * f, f), conv(f, f), conv_transpose(f, f // 2)) for f in (512, 256, 128)])
            self.output_block = nn.Sequential(conv(128, 64), conv(64, 64),
                                              nn.Conv2d(64 // D, n_classes, 1), nn.ReLU())

        def forward(self, x):  # NHWC in and out, like the Keras program
            x = x.permute(0, 3, 1, 2)
            skip_connections = []
            out = self.input_block(x)
            skip_connections.append(out)
            out = F.max_pool2d(out, 2)
            for down_block in self.down_blocks:
                out = down_block(out)
                skip_connections.append(out)
                out = F.max_pool2d(out, 2)
            out = self.bottleneck(out)
            for up_block in self.up_blocks:
                out = up_block(torch.cat([out, skip_connections.pop()], 1))
            out = self.output_block(torch.cat([out, skip_connections.pop()], 1))
            return torch.softmax(out, dim=1).permute(0, 2, 3, 1)

    def dice_coef(predict, target, axis=1, eps=1e-6):
        intersection = torch.sum(predict * target, dim=axis)
        union = torch.sum(predict * predict + target * target, dim=axis)
        dice = (2. * intersection + eps) / (union + eps)
        return torch.mean(dice, dim=0)

    def partial_losses_sum(predict, target):
        flat_logits = predict.reshape(predict.shape[0], -1, n_classes)
        flat_labels = target.reshape(predict.shape[0], -1, n_classes)
        if loss == "softmax_ce":
            ce = -(flat_labels * torch.log_softmax(flat_logits, dim=-1)).sum(-1).mean()
        else:
            ce = F.binary_cross_entropy(flat_logits.clamp(1e-7, 1 - 1e-7), flat_labels)
        return ce + torch.mean(1 - dice_coef(flat_logits, flat_labels))

    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": Unet(), "batch": tb[0], "batches": tb, "loss_fn": partial_losses_sum,
            "optimizer": lambda p: torch.optim.Adam(p, lr=learning_rate, weight_decay=weight_decay)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, "softmax_ce")


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, "binary_ce")
