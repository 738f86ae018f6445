"""keras.io example "Image segmentation with a U-Net-like architecture" (fchollet,
``examples/vision/oxford_pets_image_segmentation.py``): an Xception-style U-Net (entry ``Conv2D(32, 3,
strides=2)``-BN-ReLU, three down blocks of two ``SeparableConv2D``-BN with ReLU, ``MaxPooling2D(3, 2)`` and a
strided 1x1 residual projection, four up blocks of two ``Conv2DTranspose``-BN with ReLU, ``UpSampling2D(2)``
and an upsampled 1x1 residual, then a per-pixel ``Conv2D(num_classes, 3, activation="softmax")``), compiled
with ``optimizer="rmsprop"`` and ``loss="sparse_categorical_crossentropy"``, batch size 32, trained on the
Oxford-IIIT Pets images (float32 pixels 0..255, not rescaled) against their trimaps. The trimap pixels are
1 (pet), 2 (background) and 3 (border), and the ``OxfordPets`` Sequence fed them to the loss as they are,
with ``num_classes = 4``: the network got a fourth output per pixel for a class 0 that no pixel ever has,
and the three real classes sat on the outputs 1..3. Nothing fails -- class 0 is just pushed to zero -- but
the head is one class wider than the data and the labels are off by one from the class ids a 3-class
reader of the masks (``argmax`` displayed by ``display_mask``) expects.

Source: github.com/keras-team/keras-io PR #313 (xianlopez, "Fix the number of classes in the Oxford Pets
segmentation example", merged by fchollet 2020-11-17): "the number of classes set ... is 4, whilst the
ground truth there has only three different labels ... the labels are 1, 2 and 3, so inputing that directly
to the sparse cross entropy loss would require a network with 4 outputs per pixel (as if there were a label
0). Subtracting 1 to the labels allows to keep the network how it has to be, with three outputs."
Program: the example before that PR (``num_classes = 4``, ``OxfordPets.__getitem__`` without ``y[j] -= 1``);
``get_model``, ``compile`` and ``batch_size = 32`` kept as they are (the fixed file, read at
keras-io@0c3c019f, differs only in those two lines).
Ported minimally: Keras 3 (the model code is unchanged); ``img_size`` 160x160 -> 64x64 for CPU cost (the
U-Net downsamples by 16, so 64 stays valid). Data stand-in (no download): seeded pet-like RGB scenes, float32
0..255 like ``load_img``'s arrays: a smooth background of random colour with noise, one textured elliptical
"pet" of another colour; the trimap is 1 inside the ellipse, 3 on a 2-pixel band along its outline, 2
elsewhere (about 16% / 5% / 79% of the pixels), shaped (32, 64, 64, 1) uint8 as in the Sequence; 2 batches of 32.
Torch twin: the same U-Net in torch (depthwise + pointwise convolutions for ``SeparableConv2D``,
``ConvTranspose2d(k=3, padding=1)``, nearest ``Upsample``, BatchNorm with Keras' momentum 0.99 / eps 1e-3),
channels-first (32, 3, 64, 64) inputs, the last conv giving per-pixel logits into ``nn.CrossEntropyLoss()``
(the torch idiom for the softmax + sparse cross-entropy), targets (32, 64, 64) int64, ``RMSprop(lr=1e-3,
alpha=0.9, eps=1e-7)`` (Keras' rmsprop defaults).
Fault label: head_width|label_mapping_mismatch (4 outputs for the 3 trimap classes, labels 1..3 not 0..2).
Fix (PR #313): ``num_classes = 3`` and ``y[j] -= 1`` ("Ground truth labels are 1, 2, 3. Subtract one to
make them 0, 1, 2").
Symptom in a short loop (own script: 30 steps on one batch, then 20 epochs over the 2 batches): training
runs in both versions and the extra output is simply driven down. Torch (train-mode first loss) 3.95 buggy
vs 2.85 fixed, after the 30 steps 0.18 vs 0.37, eval pixel accuracy after the epochs 0.77 vs 0.78 (the
background share is 0.79), mean probability of the never-used class 0 in the buggy net 0.004. Keras (first
loss from ``evaluate``, inference-mode BatchNorm on the raw 0..255 pixels) 94.7 vs 72.5, after the 30
steps 0.22 vs 0.13, ``predict`` pixel accuracy 0.58 vs 0.79, buggy mean probability of class 0 0.04.
The fault shows in the head: 4 softmax outputs / logits per pixel where the data has 3 classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "head_width|label_mapping_mismatch"
SOURCE = ("github:keras-team/keras-io PR #313 (examples/vision/oxford_pets_image_segmentation.py, "
          "num_classes=4 and trimap labels 1..3; fixed to num_classes=3 with y -= 1)")
FRAMEWORKS = ("keras", "torch")
# a 3-class trimap segmenter: Keras' head ends in a softmax, the torch twin gives logits
CHECKS = {fw: [
    ("init_loss", {"num_classes": 3}),
    ("output_range", {"kind": kind, "num_classes": 3}),
    ("overfit_one_batch", {}),
    ("loss_decreases", {}),
] for fw, kind in (("keras", "probabilities"), ("torch", "logits"))}

img_size = (64, 64)  # program: (160, 160)
batch_size = 32
n_batches = 2


def _pets_like(n: int = batch_size * n_batches, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Pet-like scenes (n, H, W, 3) float32 0..255 and Oxford trimaps (n, H, W, 1) uint8 in {1, 2, 3}."""
    rng = np.random.default_rng(seed)
    h, w = img_size
    yy, xx = np.mgrid[0:h, 0:w].astype("float64")
    x = np.empty((n, h, w, 3), dtype="float32")
    y = np.empty((n, h, w, 1), dtype="uint8")
    for i in range(n):
        bg = rng.uniform(60, 200, 3)
        grad = rng.normal(0, 20, 3)
        img = bg + grad * (yy / h)[..., None] + rng.normal(0, 8, (h, w, 3))
        cy, cx = rng.uniform(0.35, 0.65) * h, rng.uniform(0.35, 0.65) * w
        ry, rx = rng.uniform(0.18, 0.3) * h, rng.uniform(0.18, 0.3) * w
        r = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
        fur = np.clip(bg + rng.choice([-1, 1], 3) * rng.uniform(50, 90, 3), 0, 255)
        texture = 25 * np.sin(xx * 0.9 + yy * 0.6 + rng.uniform(0, 6))[..., None] + rng.normal(0, 12, (h, w, 3))
        inside = r <= 1.0
        img[inside] = (fur + texture)[inside]
        x[i] = np.clip(img, 0, 255)
        band = np.abs(r - 1.0) * min(ry, rx) < 1.0  # ~2-pixel outline
        trimap = np.where(inside, 1, 2)
        trimap[band] = 3
        y[i, ..., 0] = trimap
    return x, y


def _torch_unet(num_classes: int) -> Any:
    import torch
    from torch import nn

    def bn(c: int) -> nn.Module:
        return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)

    def sep(cin: int, cout: int) -> nn.Module:  # layers.SeparableConv2D(cout, 3, padding="same")
        return nn.Sequential(nn.Conv2d(cin, cin, 3, padding=1, groups=cin, bias=False), nn.Conv2d(cin, cout, 1))

    class UNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.entry = nn.Sequential(nn.Conv2d(3, 32, 3, stride=2, padding=1), bn(32), nn.ReLU())
            self.down = nn.ModuleList()
            self.down_res = nn.ModuleList()
            prev = 32
            for filters in [64, 128, 256]:
                self.down.append(nn.Sequential(
                    nn.ReLU(), sep(prev, filters), bn(filters),
                    nn.ReLU(), sep(filters, filters), bn(filters),
                    nn.MaxPool2d(3, stride=2, padding=1)))
                self.down_res.append(nn.Conv2d(prev, filters, 1, stride=2))
                prev = filters
            self.up = nn.ModuleList()
            self.up_res = nn.ModuleList()
            for filters in [256, 128, 64, 32]:
                self.up.append(nn.Sequential(
                    nn.ReLU(), nn.ConvTranspose2d(prev, filters, 3, padding=1), bn(filters),
                    nn.ReLU(), nn.ConvTranspose2d(filters, filters, 3, padding=1), bn(filters),
                    nn.Upsample(scale_factor=2, mode="nearest")))
                self.up_res.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                                 nn.Conv2d(prev, filters, 1)))
                prev = filters
            # per-pixel classification layer (logits; the softmax is in CrossEntropyLoss)
            self.head = nn.Conv2d(32, num_classes, 3, padding=1)
            for m in self.modules():  # Keras' glorot_uniform kernels, zero biases
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    nn.init.xavier_uniform_(m.weight)
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.entry(x)
            previous = x
            for block, res in zip(self.down, self.down_res):
                x = block(x) + res(previous)
                previous = x
            for block, res in zip(self.up, self.up_res):
                x = block(x) + res(previous)
                previous = x
            return self.head(x)

    return UNet()


def _build(framework: str, num_classes: int, shift_labels: bool) -> dict[str, Any]:
    x, y = _pets_like()
    if shift_labels:
        y = y - 1  # Ground truth labels are 1, 2, 3. Subtract one to make them 0, 1, 2
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    if framework == "keras":
        import keras
        from keras import layers

        keras.utils.set_random_seed(0)

        def get_model(img_size: tuple[int, int], num_classes: int) -> Any:
            inputs = keras.Input(shape=img_size + (3,))
            # Entry block
            x = layers.Conv2D(32, 3, strides=2, padding="same")(inputs)
            x = layers.BatchNormalization()(x)
            x = layers.Activation("relu")(x)
            previous_block_activation = x  # Set aside residual
            for filters in [64, 128, 256]:
                x = layers.Activation("relu")(x)
                x = layers.SeparableConv2D(filters, 3, padding="same")(x)
                x = layers.BatchNormalization()(x)
                x = layers.Activation("relu")(x)
                x = layers.SeparableConv2D(filters, 3, padding="same")(x)
                x = layers.BatchNormalization()(x)
                x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
                residual = layers.Conv2D(filters, 1, strides=2, padding="same")(previous_block_activation)
                x = layers.add([x, residual])  # Add back residual
                previous_block_activation = x  # Set aside next residual
            for filters in [256, 128, 64, 32]:
                x = layers.Activation("relu")(x)
                x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
                x = layers.BatchNormalization()(x)
                x = layers.Activation("relu")(x)
                x = layers.Conv2DTranspose(filters, 3, padding="same")(x)
                x = layers.BatchNormalization()(x)
                x = layers.UpSampling2D(2)(x)
                residual = layers.UpSampling2D(2)(previous_block_activation)
                residual = layers.Conv2D(filters, 1, padding="same")(residual)
                x = layers.add([x, residual])  # Add back residual
                previous_block_activation = x  # Set aside next residual
            # Add a per-pixel classification layer
            outputs = layers.Conv2D(num_classes, 3, activation="softmax", padding="same")(x)
            return keras.Model(inputs, outputs)

        model = get_model(img_size, num_classes)
        model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
        return {"model": model, "batch": batches[0], "batches": batches}

    import torch
    from torch import nn

    torch.manual_seed(0)
    model = _torch_unet(num_classes)
    tb = [(torch.tensor(np.ascontiguousarray(a.transpose(0, 3, 1, 2))), torch.tensor(b[..., 0].astype("int64")))
          for a, b in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-7)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, num_classes=4, shift_labels=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, num_classes=3, shift_labels=True)
