"""hlamba28/UNET-TGS, ``TGS UNET.ipynb`` (the code of Harshall Lamba's towardsdatascience post "Understanding
Semantic Segmentation with UNET"): a Keras U-Net that segments salt bodies in the seismic images of the Kaggle TGS
Salt Identification Challenge (101 x 101 grayscale PNG images and 0 / 255 masks, both loaded with ``load_img(...,
grayscale=True)``, resized to 128 x 128 with ``preserve_range=True`` and divided by 255). ``conv2d_block(input_tensor,
n_filters, kernel_size=3, batchnorm=True)`` is meant to stack two ``Conv2D(he_normal, padding='same') ->
BatchNormalization -> relu`` layers; ``get_unet(input_img, n_filters=16, dropout=0.05, batchnorm=True)`` chains five
blocks down (16 / 32 / 64 / 128 / 256 filters, ``MaxPooling2D(2)`` and ``Dropout`` after the first four) and four up
(``Conv2DTranspose(3, strides=2, padding='same')``, concatenation with the skip, ``Dropout``, block) to ``Conv2D(1, 1,
activation='sigmoid')``; ``compile(optimizer=Adam(), loss='binary_crossentropy')``, ``fit(X_train, y_train,
batch_size=32, epochs=50, callbacks=[EarlyStopping(patience=10), ReduceLROnPlateau(factor=0.1, patience=5),
ModelCheckpoint(...)], validation_data=(X_valid, y_valid))`` after ``train_test_split(X, y, test_size=0.1,
random_state=42)``.

The fault (the second layer of every block reads the block's input): in ``conv2d_block`` the second convolution is
applied to ``input_tensor`` instead of to ``x``, the output of the first ``Conv2D -> BatchNormalization -> relu``::

    x = Conv2D(filters=n_filters, kernel_size=(kernel_size, kernel_size), kernel_initializer='he_normal',
               padding='same')(input_tensor)          # first layer ...
    ...
    x = Conv2D(filters=n_filters, kernel_size=(kernel_size, kernel_size), kernel_initializer='he_normal',
               padding='same')(input_tensor)          # second layer: should be (x)

so the first layer of each of the nine blocks is computed for nothing: in Keras' functional graph it does not lie
between the input and the output (the built ``Model`` leaves those nine Conv2D + BatchNormalization layers out; they
are created and never trained), in the torch twin its parameters sit in the model and get no gradient. The U-Net
that trains has one 3 x 3 convolution per block instead of two: half its convolutions, a smaller receptive field,
and the "double convolution" of the U-Net paper the post explains is not there.

Source: github.com/hlamba28/UNET-TGS ``TGS UNET.ipynb`` @bf91cfe (HEAD; the notebook is unchanged since the first
commit fcff2a1). Issue #1 "Wrong Architecture & Inference Pipeline" (lateralus69: "In conv2d block function the x
coming out from activation function after first layer should go in the second convolution layer instead of original
input tensor", with the rewritten function ending ``...padding = 'same')(x) #this was the change``; the author
hlamba28: "Thanks for pointing out the mistakes. I will try to correct them"), issue #5 "mistake in conv2d_block
function" (closed), pull requests #3 "fix 2nd conv layer input" (KSafran, "resolves issue #1 by setting the output
from the first conv layer as the input to the second conv layer") and #4 "Small fix in `conv2d_block`" (aarpon);
both pull requests are open (not merged, not closed): the fix is the one-token change all four threads give.
Fault label: no_gradient (the first convolution and batch norm of every block never reach the loss: Keras leaves
them out of the model, torch gives them no gradient; the network that trains is half as deep as written).
Fix: ``padding='same')(x)`` in the second layer (issue #1, PR #3).

Program lines kept: ``conv2d_block`` (he_normal kernels, zero biases, BatchNormalization, relu) with the bug / fix,
``get_unet`` (blocks of n, 2n, 4n, 8n, 16n filters, MaxPooling2D((2, 2)), Dropout(dropout) after each pooling and
each concatenation, Conv2DTranspose((3, 3), strides=(2, 2), padding='same') with Keras defaults glorot-uniform /
zero bias, concatenate([up, skip]), Conv2D(1, (1, 1), activation='sigmoid')), dropout=0.05, batchnorm=True,
``Adam()`` (Keras defaults: lr 1e-3, beta 0.9 / 0.999, eps 1e-7), ``binary_crossentropy`` on the sigmoid output,
batch_size=32, images and masks divided by 255 (X in [0, 1], y in {0, 1}), train_test_split(test_size=0.1,
random_state=42).
Ported / shrunk: 32 x 32 images instead of 128 x 128 and n_filters=4 instead of 16 (blocks of 4..64 filters; the
program's sizes take seconds a step on one CPU thread, 64 x 64 with n_filters=8 still ~0.3 s); 448 images instead of
the 4,000 of the competition; the callbacks (early stopping, LR plateau, checkpoint) are left out of the plain
loops. Keras 3 (``keras.layers``) for the Keras 2 imports. The torch twin is the same network channels-first:
``nn.Conv2d`` with Keras' he_normal (truncated normal, std sqrt(2 / fan_in) / 0.8796) and zero bias,
``nn.BatchNorm2d(eps=1e-3, momentum=0.01)`` (Keras BatchNormalization defaults), ``nn.ConvTranspose2d(3, stride=2,
padding=1, output_padding=1)`` with glorot-uniform init, ``nn.Dropout(0.05)``, a sigmoid head, ``Adam(lr=1e-3,
eps=1e-7)``, the Keras binary cross-entropy on probabilities (clip to [1e-7, 1 - 1e-7], mean). The block keeps the
program's two layers; the buggy forward applies the second to the block input, so the first is computed and thrown
away (in Keras it is not computed at all: the graph does not reach it). The fault is a wiring slip in the model
code, possible in both frameworks.
Data stand-in (no Kaggle download): seeded synthetic seismic sections, 32 x 32 grayscale float32 in 0..255 (what
``img_to_array(load_img(..., grayscale=True))`` gives): layered reflectors (sinusoidal bands with random period,
dip, undulation and amplitude) plus noise; in about 60 % of the images a salt body (a smooth random blob, often
reaching the top or bottom edge) where the layering is replaced by weak chaotic texture at the same mean brightness,
so that salt and sediment differ in texture, not in grey level; mask 255 inside the salt, 0 outside. 448 images
(about 40 % without salt, like the competition's share of empty masks), split 90 / 10 with train_test_split.
``batches``: the first 4 shuffled training batches of 32; ``batch``: the first; ``inputs``: the 45 validation
images; ``baseline_batch``: 64 training images.

Measured (my own plain loops, /tmp/s48/h77_b/measure.py, OMP_NUM_THREADS=1, the module's builds and data; 20
epochs of the 403 training images in shuffled batches of 32 (240 steps, the last partial batch dropped), the same
order in both versions; then the 45 validation images in inference mode, thresholded at 0.5 like the notebook):
  stand-in: 19.5 % salt pixels, 38 % empty masks in the training split; X in [0, 0.96], y in {0, 1}.
  structure: torch buggy: the first conv of every block gets grad None at step 1 and is bit-identical after 240
    steps (checked on block c3; fixed: grad ~3.5e-4, changed); Keras buggy: the built Model holds 10 Conv2D layers
    and 74,461 parameters, fixed 19 Conv2D and 136,725 (torch: 123,641 / 135,989, the dead layers included).
  torch: step 1-4 losses buggy 0.609 / 0.609 / 0.608 / 0.600, fixed 1.003 / 0.966 / 0.967 / 0.932; epoch-mean loss
    after epochs 1 / 5 / 10 / 20: buggy 0.590 / 0.426 / 0.335 / 0.212, fixed 0.931 / 0.689 / 0.492 / 0.374;
    validation BCE / pixel accuracy / IoU: buggy 0.226 / 0.979 / 0.869, fixed 0.404 / 0.982 / 0.888.
  Keras (``train_on_batch``): step 1-4 losses buggy 1.240 / 1.192 / 1.200 / 1.155, fixed 1.257 / 1.201 / 1.225 /
    1.159 (both start with a mean prediction ~0.73: the seeded head's bias, not the fault); epoch-mean loss after
    epochs 1 / 5 / 10 / 20: buggy 1.159 / 0.604 / 0.561 / 0.513, fixed 1.176 / 0.611 / 0.562 / 0.510; validation
    BCE / accuracy / IoU: buggy 0.534 / 0.980 / 0.875, fixed 0.597 / 0.879 / 0.543.
  So the wiring fault shows as parameters that never train (torch) / layers missing from the model (Keras), but on
    this stand-in it does NOT make the U-Net learn worse: the half-depth network fits the texture task as fast or
    faster (torch: lower training loss, about the same validation IoU; Keras: the buggy run even validates better,
    its fixed run's inference-mode batch norm statistics lagging after 240 steps). A harm on the real TGS images
    (subtler salt boundaries, 128 x 128, 16..256 filters) is not reproduced here; the issue threads report the
    wiring, not a measured loss of accuracy.
  Time per step (batch 32, one thread, one run at a time): torch buggy ~51 ms, fixed ~60 ms; Keras
    ``train_on_batch`` steady state buggy ~81 ms, fixed ~171 ms (first call, with tracing: 7.3 s / 11.8 s); builds
    (first, with imports and the 448 stand-in images): torch 4.0 s, Keras 5.8 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "no_gradient"
SOURCE = ("github:hlamba28/UNET-TGS issue #1 ('TGS UNET.ipynb'@bf91cfe: conv2d_block's second layer "
          "'Conv2D(...)(input_tensor)' instead of '(x)'), issue #5; fix in PR #3 / PR #4 (open, unmerged: "
          "'padding = 'same')(x)')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("gradients_flow", {}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("output_range", {"kind": "sigmoid"}), ("input_independent_baseline", {})]

# the notebook
BATCH_SIZE = 32
DROPOUT = 0.05
KERNEL = 3
LEARNING_RATE = 0.001  # Adam(): Keras defaults
TEST_SIZE = 0.1
SPLIT_SEED = 42
# port: 32 x 32 images and n_filters=4 (program: 128 x 128, n_filters=16), 448 images (competition: 4,000)
IMG = 32
N_FILTERS = 4
N_IMAGES = 448
SALT_SHARE = 0.6
N_BATCHES = 4
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def _section(r: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One synthetic seismic section (IMG, IMG) in 0..255 and its salt mask (0 / 255), both float32."""
    yy, xx = np.mgrid[0:IMG, 0:IMG].astype(np.float64)
    period = r.uniform(3.0, 6.0)
    dip = r.uniform(-0.25, 0.25)
    und_a, und_p = r.uniform(0.0, 2.0), r.uniform(8.0, 20.0)
    depth = yy + dip * xx + und_a * np.sin(2 * np.pi * xx / und_p + r.uniform(0, 2 * np.pi))
    amp = r.uniform(35.0, 70.0) * (1.0 + 0.3 * np.sin(2 * np.pi * depth / r.uniform(10, 25)))
    mean = r.uniform(90.0, 150.0)
    layers = mean + amp * np.sin(2 * np.pi * depth / period + r.uniform(0, 2 * np.pi))
    mask = np.zeros((IMG, IMG), dtype=bool)
    if r.random() < SALT_SHARE:
        # a smooth blob: thresholded sum of a few random Gaussian bumps, often anchored at the top or bottom
        field = np.zeros((IMG, IMG))
        cy0 = r.choice([r.uniform(-4, 6), r.uniform(IMG - 6, IMG + 4), r.uniform(6, IMG - 6)])
        cx0 = r.uniform(4, IMG - 4)
        for _ in range(int(r.integers(2, 5))):
            cy, cx = cy0 + r.normal(0, 5), cx0 + r.normal(0, 6)
            sy, sx = r.uniform(5, 12), r.uniform(5, 12)
            field += np.exp(-((yy - cy) / sy) ** 2 - ((xx - cx) / sx) ** 2)
        mask = field > r.uniform(0.25, 0.55)
    chaos = mean + r.uniform(6.0, 14.0) * r.normal(0, 1, (IMG, IMG))
    img = np.where(mask, chaos, layers) + r.normal(0, 6.0, (IMG, IMG))
    img = np.clip(np.round(img), 0, 255).astype(np.float32)
    return img, (mask * 255.0).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """X_train, X_valid, y_train, y_valid as the notebook builds them: (n, IMG, IMG, 1), X = img / 255,
    y = mask / 255, ``train_test_split(X, y, test_size=0.1, random_state=42)``."""
    from sklearn.model_selection import train_test_split

    r = np.random.default_rng(SEED)
    X = np.zeros((N_IMAGES, IMG, IMG, 1), dtype=np.float32)
    y = np.zeros((N_IMAGES, IMG, IMG, 1), dtype=np.float32)
    for n in range(N_IMAGES):
        x_img, mask = _section(r)
        X[n] = x_img[..., None] / 255.0
        y[n] = mask[..., None] / 255.0
    X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=TEST_SIZE, random_state=SPLIT_SEED)
    return X_train, X_valid, y_train, y_valid


def train_batches(n_batches: int, seed: int = SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """``model.fit(X_train, y_train, batch_size=32, shuffle=True)``: shuffled epochs, BATCH_SIZE per batch."""
    X_train, _, y_train, _ = _dataset()
    r = np.random.default_rng(seed + 1)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    while len(out) < n_batches:
        order = r.permutation(len(X_train))
        for i in range(0, len(order) - BATCH_SIZE + 1, BATCH_SIZE):
            idx = order[i:i + BATCH_SIZE]
            out.append((X_train[idx], y_train[idx]))
            if len(out) == n_batches:
                break
    return out


def _common() -> dict[str, Any]:
    X_train, X_valid, y_train, _ = _dataset()
    return {"batches": train_batches(N_BATCHES), "inputs": X_valid,
            "baseline_batch": (X_train[:64], y_train[:64])}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import math

    import torch
    from torch import nn

    torch.manual_seed(SEED)

    def he_normal(conv: nn.Module) -> nn.Module:  # Keras he_normal: truncated normal, zero bias
        fan_in = conv.weight.shape[1] * conv.weight.shape[2] * conv.weight.shape[3]
        std = math.sqrt(2.0 / fan_in) / 0.87962566103423978
        nn.init.trunc_normal_(conv.weight, std=std, a=-2 * std, b=2 * std)
        nn.init.zeros_(conv.bias)
        return conv

    class Conv2dBlock(nn.Module):
        """conv2d_block: two Conv2D(he_normal, 'same') -> BatchNormalization -> relu layers."""

        def __init__(self, c_in: int, n_filters: int, kernel_size: int = KERNEL, batchnorm: bool = True):
            super().__init__()
            pad = kernel_size // 2
            # first layer
            self.conv1 = he_normal(nn.Conv2d(c_in, n_filters, kernel_size, padding=pad))
            self.bn1 = nn.BatchNorm2d(n_filters, eps=1e-3, momentum=0.01) if batchnorm else nn.Identity()
            # second layer (the notebook builds it on input_tensor: c_in input channels; the fix on x)
            self.conv2 = he_normal(nn.Conv2d(n_filters if fixed else c_in, n_filters, kernel_size, padding=pad))
            self.bn2 = nn.BatchNorm2d(n_filters, eps=1e-3, momentum=0.01) if batchnorm else nn.Identity()

        def forward(self, input_tensor: Any) -> Any:
            x = torch.relu(self.bn1(self.conv1(input_tensor)))
            x = torch.relu(self.bn2(self.conv2(x if fixed else input_tensor)))  # the bug: (input_tensor)
            return x

    def up(c_in: int, c_out: int) -> nn.Module:  # Conv2DTranspose((3, 3), strides=(2, 2), padding='same')
        layer = nn.ConvTranspose2d(c_in, c_out, 3, stride=2, padding=1, output_padding=1)
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    class UNet(nn.Module):
        """get_unet(input_img, n_filters, dropout=0.05, batchnorm=True)."""

        def __init__(self, n_filters: int = N_FILTERS, dropout: float = DROPOUT):
            super().__init__()
            f = [n_filters * m for m in (1, 2, 4, 8, 16)]
            self.c1, self.c2, self.c3 = Conv2dBlock(1, f[0]), Conv2dBlock(f[0], f[1]), Conv2dBlock(f[1], f[2])
            self.c4, self.c5 = Conv2dBlock(f[2], f[3]), Conv2dBlock(f[3], f[4])
            self.u6, self.c6 = up(f[4], f[3]), Conv2dBlock(2 * f[3], f[3])
            self.u7, self.c7 = up(f[3], f[2]), Conv2dBlock(2 * f[2], f[2])
            self.u8, self.c8 = up(f[2], f[1]), Conv2dBlock(2 * f[1], f[1])
            self.u9, self.c9 = up(f[1], f[0]), Conv2dBlock(2 * f[0], f[0])
            self.out = nn.Conv2d(f[0], 1, 1)
            nn.init.xavier_uniform_(self.out.weight)
            nn.init.zeros_(self.out.bias)
            self.pool = nn.MaxPool2d(2)
            self.drop = nn.Dropout(dropout)

        def forward(self, x: Any) -> Any:
            c1 = self.c1(x)
            c2 = self.c2(self.drop(self.pool(c1)))
            c3 = self.c3(self.drop(self.pool(c2)))
            c4 = self.c4(self.drop(self.pool(c3)))
            c5 = self.c5(self.drop(self.pool(c4)))
            c6 = self.c6(self.drop(torch.cat([self.u6(c5), c4], dim=1)))
            c7 = self.c7(self.drop(torch.cat([self.u7(c6), c3], dim=1)))
            c8 = self.c8(self.drop(torch.cat([self.u8(c7), c2], dim=1)))
            c9 = self.c9(self.drop(torch.cat([self.u9(c8), c1], dim=1)))
            return torch.sigmoid(self.out(c9))

    model = UNet()

    def loss_fn(probs: Any, y: Any) -> Any:
        """Keras binary_crossentropy on probabilities: clip to [1e-7, 1 - 1e-7], mean."""
        p = torch.clamp(probs, 1e-7, 1 - 1e-7)
        return torch.mean(-(y * torch.log(p) + (1 - y) * torch.log(1 - p)))

    d = _common()

    def t(a: np.ndarray) -> Any:  # NHWC -> NCHW
        return torch.from_numpy(np.ascontiguousarray(np.transpose(a, (0, 3, 1, 2))))

    bs = [(t(x), t(y)) for x, y in d["batches"]]
    bx, by = d["baseline_batch"]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(d["inputs"]),
            "baseline_batch": (t(bx), t(by)), "loss_fn": loss_fn,
            "optimizer": torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=1e-7)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras.layers import (Activation, BatchNormalization, Conv2D, Conv2DTranspose, Dropout, Input,
                              MaxPooling2D, concatenate)
    from keras.models import Model
    from keras.optimizers import Adam

    keras.utils.set_random_seed(SEED)

    def conv2d_block(input_tensor: Any, n_filters: int, kernel_size: int = 3, batchnorm: bool = True) -> Any:
        """Function to add 2 convolutional layers with the parameters passed to it"""
        # first layer
        x = Conv2D(filters=n_filters, kernel_size=(kernel_size, kernel_size),
                   kernel_initializer='he_normal', padding='same')(input_tensor)
        if batchnorm:
            x = BatchNormalization()(x)
        x = Activation('relu')(x)

        # second layer
        x = Conv2D(filters=n_filters, kernel_size=(kernel_size, kernel_size),
                   kernel_initializer='he_normal', padding='same')(x if fixed else input_tensor)  # the bug
        if batchnorm:
            x = BatchNormalization()(x)
        x = Activation('relu')(x)

        return x

    def get_unet(input_img: Any, n_filters: int = 16, dropout: float = 0.1, batchnorm: bool = True) -> Any:
        """Function to define the UNET Model"""
        # Contracting Path
        c1 = conv2d_block(input_img, n_filters * 1, kernel_size=3, batchnorm=batchnorm)
        p1 = MaxPooling2D((2, 2))(c1)
        p1 = Dropout(dropout)(p1)

        c2 = conv2d_block(p1, n_filters * 2, kernel_size=3, batchnorm=batchnorm)
        p2 = MaxPooling2D((2, 2))(c2)
        p2 = Dropout(dropout)(p2)

        c3 = conv2d_block(p2, n_filters * 4, kernel_size=3, batchnorm=batchnorm)
        p3 = MaxPooling2D((2, 2))(c3)
        p3 = Dropout(dropout)(p3)

        c4 = conv2d_block(p3, n_filters * 8, kernel_size=3, batchnorm=batchnorm)
        p4 = MaxPooling2D((2, 2))(c4)
        p4 = Dropout(dropout)(p4)

        c5 = conv2d_block(p4, n_filters=n_filters * 16, kernel_size=3, batchnorm=batchnorm)

        # Expansive Path
        u6 = Conv2DTranspose(n_filters * 8, (3, 3), strides=(2, 2), padding='same')(c5)
        u6 = concatenate([u6, c4])
        u6 = Dropout(dropout)(u6)
        c6 = conv2d_block(u6, n_filters * 8, kernel_size=3, batchnorm=batchnorm)

        u7 = Conv2DTranspose(n_filters * 4, (3, 3), strides=(2, 2), padding='same')(c6)
        u7 = concatenate([u7, c3])
        u7 = Dropout(dropout)(u7)
        c7 = conv2d_block(u7, n_filters * 4, kernel_size=3, batchnorm=batchnorm)

        u8 = Conv2DTranspose(n_filters * 2, (3, 3), strides=(2, 2), padding='same')(c7)
        u8 = concatenate([u8, c2])
        u8 = Dropout(dropout)(u8)
        c8 = conv2d_block(u8, n_filters * 2, kernel_size=3, batchnorm=batchnorm)

        u9 = Conv2DTranspose(n_filters * 1, (3, 3), strides=(2, 2), padding='same')(c8)
        u9 = concatenate([u9, c1])
        u9 = Dropout(dropout)(u9)
        c9 = conv2d_block(u9, n_filters * 1, kernel_size=3, batchnorm=batchnorm)

        outputs = Conv2D(1, (1, 1), activation='sigmoid')(c9)
        model = Model(inputs=[input_img], outputs=[outputs])
        return model

    input_img = Input((IMG, IMG, 1), name='img')
    model = get_unet(input_img, n_filters=N_FILTERS, dropout=DROPOUT, batchnorm=True)
    model.compile(optimizer=Adam(), loss="binary_crossentropy")
    d = _common()
    return {"model": model, "batch": d["batches"][0], "batches": d["batches"], "inputs": d["inputs"],
            "baseline_batch": d["baseline_batch"]}


buggy, fixed = versions(_torch, _keras)
