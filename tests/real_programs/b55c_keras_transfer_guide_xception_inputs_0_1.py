"""keras-team/keras-io, ``guides/transfer_learning.py`` ("Transfer learning & fine-tuning", fchollet, 2020-04-15),
the end-to-end example "fine-tuning an image classification model on a cats vs. dogs dataset":
``base_model = keras.applications.Xception(weights="imagenet", input_shape=(150, 150, 3), include_top=False)``,
``base_model.trainable = False``; ``inputs = keras.Input(shape=(150, 150, 3))``, ``x = data_augmentation(inputs)``
(``RandomFlip("horizontal")``, ``RandomRotation(0.1)``), the input-scaling layer, ``x = base_model(x, training=False)``,
``GlobalAveragePooling2D()``, ``Dropout(0.2)``, ``outputs = Dense(1)(x)``; "Train the top layer":
``model.compile(optimizer=keras.optimizers.Adam(), loss=keras.losses.BinaryCrossentropy(from_logits=True),
metrics=[keras.metrics.BinaryAccuracy()])``, ``model.fit(train_ds, epochs=20, ...)`` on cats_vs_dogs resized to
150x150 (raw 0..255 floats from ``tf.image.resize``), batches of 32; then a round of fine-tuning of the whole
model with ``Adam(1e-5)`` for 10 epochs (not ported).

The fault (guide at 2c5eb0586493d4602c324d48571814e183ad6e32, the lines issue #20 points at, L426-432 and
L530-532): the images were scaled to [0, 1] ("Normalize pixel values between 0 and 1", a ``Rescaling`` layer
with scale 1/255 in the model), but the ImageNet weights of Xception were trained on inputs in [-1, 1]
(``keras.applications.xception.preprocess_input`` is ``imagenet_utils.preprocess_input(mode='tf')``:
``x / 127.5 - 1``). The frozen backbone -- its batchnorm layers in inference mode with the ImageNet moving
statistics -- sees inputs at half the scale and shifted by +1, so the features the new head is trained on are
not the features the backbone learnt to produce. Issue #20 ("[Guides] Pre-processing of images for Xception
model", swghosh, 2020-05-11): "normalizes raw input pixels (0-255) into a range (0, 1). But, as per
keras_applications.xception.preprocess_input ... the corresponding preprocess_input uses mode='tf' ... which
normalizes input pixels in the range (-1, 1)"; fchollet: "Yes, that seems like an issue. We should fix it."
Fix: PR #26 "Replace Rescaling with Normalization in guides/transfer_learning" (merged 2020-05-13):
``norm_layer = keras.layers.experimental.preprocessing.Normalization()``, ``mean = np.array([127.5] * 3)``,
``var = mean ** 2``, ``x = norm_layer(x)  # Scale inputs to [-1, +1]``, ``norm_layer.set_weights([mean, var])``
(PR #609 later wrote the same as ``Rescaling(scale=1 / 127.5, offset=-1)``). I could not read the file at
2c5eb05 itself (only the current guide and copies of the PR #26 version are stored); the buggy scaling is
taken from the issue's description of those lines: a ``Rescaling(1.0 / 255)`` layer in the model.

Program lines kept: the model as the guide builds it (augmentation -> scaling -> frozen base called with
``training=False`` -> GlobalAveragePooling2D -> Dropout(0.2) -> Dense(1) logit), ``base_model.trainable = False``,
Adam at Keras' default 0.001, BinaryCrossentropy(from_logits=True), batch 32, raw 0..255 inputs to the model, the
two scalings (buggy ``Rescaling(1/255)``, fixed ``Normalization(mean=127.5, variance=127.5**2)``).
Ported: Xception itself cannot run here (20.9 M parameters, ImageNet weights are a download, and a 150x150
batch takes seconds on one CPU thread): the backbone is a mini-Xception with Xception's layer pattern and
smaller widths and depth (entry convs 3x3/2 and 3x3 valid, no bias, BN + ReLU at 8 and 16 channels; three
entry blocks of two SeparableConv2D + BN with MaxPooling2D(3, 2, 'same') and a 1x1/2 conv + BN residual at 32,
48, 64 channels; 2 middle-flow blocks of three ReLU-SeparableConv2D-BN with identity residual (Xception: 8 at
728); the exit block 64 -> 96 and SeparableConv2D 128, 160 + BN + ReLU (Xception: 728 -> 1024, 1536, 2048);
Keras BatchNormalization defaults eps 1e-3, momentum 0.99), on 32x32 images instead of 150x150.
The "ImageNet weights" are made here: the mini-Xception plus a Dense(10) head is trained in torch with
Xception's own preprocessing (x / 127.5 - 1) on the source images (40 Adam steps, lr 1e-2, batches of 32,
random horizontal flips; seed 1), then its batchnorm statistics are recomputed over 320 source images, and
the weights are copied into both frameworks (cached after the first build; a linear probe on its pooled
features reaches 0.87 test accuracy on the target task with [-1, 1] inputs). The fine-tuning round is not
part of the port. Torch twin: the same backbone (Conv2d/BatchNorm2d(eps=1e-3, momentum=0.01), depthwise +
pointwise Conv2d for SeparableConv2D, TF 'same' max-pooling padding reproduced), frozen with
``requires_grad_(False)`` and kept in eval mode by the wrapper's ``train()`` (what ``training=False`` does),
an augmentation module active in training mode (random horizontal flip, random rotation by up to
+-0.1 * 2 pi with reflection padding, like ``RandomRotation(0.1)``), ``x * (1/255)`` (buggy) or
``x / 127.5 - 1`` (fixed), mean pooling, Dropout(0.2), ``Linear(160, 1)`` (Glorot-uniform, zero bias),
``BCEWithLogitsLoss``, ``Adam(lr=0.001, eps=1e-7)`` over the trainable parameters. With the same weights the
torch and Keras backbones give the same pooled features (max difference 4e-6). A scaling that does not match
the backbone's pretraining is possible in any framework (torchvision backbones expect their mean/std
normalisation), so both are given.
Data stand-in (no TFDS download): ``_data.cifar_like(1797, seed=0)`` (32x32 RGB uint8 digits over a noisy
coloured background, a tint per class, channel means near 125): the first 1000 images (10 classes) are the
"ImageNet" the backbone is pretrained on; the other 797 are the new task, label 1 ("dog") for digits 5..9 and
0 ("cat") for 0..4, as raw 0..255 float32; 512 for training (16 batches of 32), 285 held out.
``batch`` is the first training batch of 32 (NHWC for Keras, NCHW for torch; labels (32, 1) float),
``batches`` the first 4, ``inputs`` the 32 images of ``batch``.

Fault label: preprocessing_mismatch (the inputs are scaled to [0, 1] while the pretrained backbone expects
the [-1, 1] of its own preprocess_input).

Measured (my own plain loops, /tmp/s39/h55c/measure.py and probe.py; OMP_NUM_THREADS=1, the builds' seeds,
the 16 training batches in order each epoch, 20 epochs = 320 steps as the guide's 20; torch zero_grad /
forward / loss / backward / step in train mode, Keras ``train_on_batch``; test = the 285 held-out images in
inference mode):
  pooled backbone features of the 285 test images: buggy mean 0.329, std 0.511, 57 % zeros; fixed 0.353,
        0.553, 53 % zeros; over all 797 target images the buggy and fixed features correlate at 0.27 (same
        images, same weights); a logistic-regression probe (C = 1) fitted on the 512 training images' features:
        test accuracy 0.78 buggy vs 0.87 fixed (train 0.83 vs 0.91).
  torch, mean training loss over epoch 1 / 5 / 10 / 20: buggy 0.761, 0.706, 0.674, 0.665; fixed 0.760,
        0.651, 0.575, 0.520. Test loss / accuracy after epoch 5, 10, 20: buggy 0.670 / 0.558, 0.655 / 0.589,
        0.635 / 0.653; fixed 0.569 / 0.698, 0.507 / 0.772, 0.456 / 0.789.
  keras, the same: training loss buggy 0.778, 0.707, 0.696, 0.663; fixed 0.684, 0.643, 0.608, 0.558. Test
        loss / accuracy after epoch 5, 10, 20: buggy 0.679 / 0.568, 0.663 / 0.589, 0.636 / 0.677; fixed 0.557 /
        0.705, 0.509 / 0.740, 0.462 / 0.772.
  Single-step losses are noisy (augmentation, dropout): step 1 / 80 / 160 / 320 torch buggy 0.742, 0.743,
        0.670, 0.701, fixed 0.866, 0.591, 0.573, 0.486; keras buggy 0.806, 0.715, 0.662, 0.673, fixed 0.672,
        0.616, 0.598, 0.547.
  So the buggy head learns from worse features: after the guide's 20 epochs it sits near the loss of a
  constant guess (0.69) and 10-14 points of accuracy below the fixed one, with nothing failing loudly.
Time on the loaded two-core machine (load ~5), one thread: a training step 0.015-0.026 s (torch) /
0.009-0.014 s (Keras ``train_on_batch``). The first build pretrains the backbone (about 4-6 s here); torch's
two builds, torch import and pretraining included, took 9.8 s, Keras' two 7.1 s after that (import included);
later builds 0.2-0.7 s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "preprocessing_mismatch"
SOURCE = ("github:keras-team/keras-io issue #20, PR #26 (guides/transfer_learning.py"
          "@2c5eb0586493d4602c324d48571814e183ad6e32 end-to-end example: Xception(weights='imagenet') frozen, "
          "base_model(x, training=False), inputs scaled "
          "to [0, 1] by a Rescaling(1/255) layer while Xception's preprocess_input (mode='tf') gives [-1, 1]; fix "
          "PR #26 'Replace Rescaling with Normalization in guides/transfer_learning': Normalization with mean 127.5, "
          "variance 127.5**2, later Rescaling(scale=1/127.5, offset=-1) in PR #609)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("output_range", {"kind": "logits"}),
          ("not_constant_predictions", {})]

size = (32, 32)  # the guide: (150, 150)
batch_size = 32  # the guide
learning_rate = 1e-3  # keras.optimizers.Adam() default, "Train the top layer"
dropout = 0.2
# mini-Xception widths (Xception: entry 32, 64; blocks 128, 256, 728; middle 8 x 728; exit 728 -> 1024, 1536, 2048)
ENTRY = (8, 16)
BLOCKS = (32, 48, 64)
MIDDLE_REPEATS = 2
EXIT = (64, 96)
TOP = (128, 160)
N_SOURCE = 1000  # "ImageNet" stand-in: the pretraining images (10 classes)
N_TRAIN = 512  # cats-vs-dogs stand-in: training split, then test split
N_TARGET = 797
PRETRAIN_STEPS = 40
PRETRAIN_BATCH = 32
PRETRAIN_LR = 1e-2
N_CALIBRATE = 320
N_BATCHES = 4
SEED = 0
PRETRAIN_SEED = 1
_CACHE: dict[str, Any] = {}


def _source_data() -> tuple[np.ndarray, np.ndarray]:
    """The pretraining set: ``cifar_like`` 32x32 RGB digits (0..255), 10 classes."""
    from tests.real_programs._data import cifar_like

    x, y = cifar_like(N_SOURCE + N_TARGET, seed=0)
    return x[:N_SOURCE].astype("float32"), y[:N_SOURCE]


def _target_data() -> tuple[np.ndarray, np.ndarray]:
    """The new task: other digit images with other colours (cifar_like seed 1), label 1 for digits 5..9
    ("dog") and 0 for 0..4 ("cat"); raw 0..255 float32 NHWC, as tf.image.resize hands them to the model."""
    from tests.real_programs._data import cifar_like

    x, y = cifar_like(N_SOURCE + N_TARGET, seed=0)
    x, y = x[N_SOURCE:].astype("float32"), (y[N_SOURCE:] >= 5).astype("float32")[:, None]
    return x, y


def _torch_modules() -> dict[str, Any]:
    if "mods" in _CACHE:
        return _CACHE["mods"]
    import math

    import torch
    import torch.nn.functional as F
    from torch import nn

    def bn(c: int) -> nn.BatchNorm2d:
        return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)  # Keras BatchNormalization defaults

    class SepConv(nn.Module):
        """Keras SeparableConv2D(c_out, 3, padding='same', use_bias=False)."""

        def __init__(self, c_in: int, c_out: int) -> None:
            super().__init__()
            self.dw = nn.Conv2d(c_in, c_in, 3, padding=1, groups=c_in, bias=False)
            self.pw = nn.Conv2d(c_in, c_out, 1, bias=False)

        def forward(self, x):
            return self.pw(self.dw(x))

    def pool_same(x):
        """MaxPooling2D((3, 3), strides=(2, 2), padding='same') (TF pads the extra row/column at the end)."""
        n = x.shape[-1]
        pad = max((math.ceil(n / 2) - 1) * 2 + 3 - n, 0)
        x = F.pad(x, (pad // 2, pad - pad // 2, pad // 2, pad - pad // 2), value=float("-inf"))
        return F.max_pool2d(x, 3, 2)

    class Block(nn.Module):
        """Entry/exit-flow block: relu? sep BN relu sep BN maxpool + (1x1 stride-2 conv BN) residual."""

        def __init__(self, c_in: int, c1: int, c2: int, first_relu: bool) -> None:
            super().__init__()
            self.first_relu = first_relu
            self.res = nn.Conv2d(c_in, c2, 1, stride=2, bias=False)
            self.res_bn = bn(c2)
            self.sep1, self.bn1 = SepConv(c_in, c1), bn(c1)
            self.sep2, self.bn2 = SepConv(c1, c2), bn(c2)

        def forward(self, x):
            r = self.res_bn(self.res(x))
            if self.first_relu:
                x = F.relu(x)
            x = F.relu(self.bn1(self.sep1(x)))
            x = self.bn2(self.sep2(x))
            return pool_same(x) + r

    class Middle(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.seps = nn.ModuleList([SepConv(c, c) for _ in range(3)])
            self.bns = nn.ModuleList([bn(c) for _ in range(3)])

        def forward(self, x):
            r = x
            for s, b in zip(self.seps, self.bns):
                x = b(s(F.relu(x)))
            return x + r

    class MiniXception(nn.Module):
        """keras.applications.Xception(include_top=False) at smaller widths and depth."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(3, ENTRY[0], 3, stride=2, bias=False), bn(ENTRY[0])
            self.conv2, self.bn2 = nn.Conv2d(ENTRY[0], ENTRY[1], 3, bias=False), bn(ENTRY[1])
            c, blocks = ENTRY[1], []
            for i, w in enumerate(BLOCKS):
                blocks.append(Block(c, w, w, first_relu=i > 0))
                c = w
            self.entry = nn.ModuleList(blocks)
            self.middle = nn.ModuleList([Middle(c) for _ in range(MIDDLE_REPEATS)])
            self.exit = Block(c, EXIT[0], EXIT[1], first_relu=True)
            self.sep3, self.bn3 = SepConv(EXIT[1], TOP[0]), bn(TOP[0])
            self.sep4, self.bn4 = SepConv(TOP[0], TOP[1]), bn(TOP[1])

        def forward(self, x):
            x = F.relu(self.bn1(self.conv1(x)))
            x = F.relu(self.bn2(self.conv2(x)))
            for b in self.entry:
                x = b(x)
            for m in self.middle:
                x = m(x)
            x = self.exit(x)
            x = F.relu(self.bn3(self.sep3(x)))
            return F.relu(self.bn4(self.sep4(x)))

    class Augment(nn.Module):
        """data_augmentation: RandomFlip("horizontal") + RandomRotation(0.1) (up to +-0.1 * 2 pi, reflect
        fill, bilinear), active in training mode only, as the Keras layers are."""

        def forward(self, x):
            if not self.training:
                return x
            n = x.shape[0]
            flip = torch.rand(n, device=x.device) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(-1), x)
            ang = (torch.rand(n, device=x.device) * 2 - 1) * 0.1 * 2 * math.pi
            cos, sin = torch.cos(ang), torch.sin(ang)
            theta = torch.stack([torch.stack([cos, -sin, torch.zeros_like(cos)], 1),
                                 torch.stack([sin, cos, torch.zeros_like(cos)], 1)], 1)
            grid = F.affine_grid(theta, list(x.shape), align_corners=False)
            return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)

    class Scale(nn.Module):
        def __init__(self, scale: float, offset: float) -> None:
            super().__init__()
            self.scale, self.offset = scale, offset

        def forward(self, x):
            return x * self.scale + self.offset

    class TransferModel(nn.Module):
        """inputs -> data_augmentation -> scaling -> base_model(x, training=False) -> GAP -> Dropout -> Dense(1)."""

        def __init__(self, base: nn.Module, scale: nn.Module) -> None:
            super().__init__()
            self.augment, self.scale, self.base = Augment(), scale, base
            self.dropout = nn.Dropout(dropout)
            self.dense = nn.Linear(TOP[1], 1)

        def train(self, mode: bool = True):
            super().train(mode)
            self.base.eval()  # base_model(x, training=False): batchnorm always in inference mode
            return self

        def forward(self, x):
            x = self.base(self.scale(self.augment(x)))
            x = x.mean(dim=(2, 3))  # GlobalAveragePooling2D
            return self.dense(self.dropout(x))

    _CACHE["mods"] = {"MiniXception": MiniXception, "TransferModel": TransferModel, "Scale": Scale}
    return _CACHE["mods"]


def _pretrained_state() -> dict[str, np.ndarray]:
    """Stand-in for weights='imagenet': the mini-Xception trained here on the 10-class source images with
    Xception's own preprocessing (``preprocess_input``, mode 'tf': x / 127.5 - 1), then its batchnorm
    statistics recomputed over the source set. Cached after the first build."""
    if "state" in _CACHE:
        return _CACHE["state"]
    import torch
    from torch import nn

    mods = _torch_modules()
    x, y = _source_data()
    xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()) / 127.5 - 1.0
    yt = torch.from_numpy(y)
    g = torch.Generator().manual_seed(PRETRAIN_SEED)
    torch.manual_seed(PRETRAIN_SEED)
    base = mods["MiniXception"]()
    head = nn.Linear(TOP[1], 10)
    opt = torch.optim.Adam(list(base.parameters()) + list(head.parameters()), lr=PRETRAIN_LR)
    base.train()
    for _ in range(PRETRAIN_STEPS):
        idx = torch.randint(0, len(xt), (PRETRAIN_BATCH,), generator=g)
        xb = xt[idx]
        flip = torch.rand(len(idx), generator=g) < 0.5
        xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
        loss = nn.functional.cross_entropy(head(base(xb).mean(dim=(2, 3))), yt[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    for m in base.modules():  # exact population statistics (as a long ImageNet run would have)
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        base(xt[:N_CALIBRATE])
    for m in base.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.momentum = 0.01
    _CACHE["state"] = {k: v.detach().numpy().copy() for k, v in base.state_dict().items()
                       if not k.endswith("num_batches_tracked")}
    return _CACHE["state"]


def _keras_base(state: dict[str, np.ndarray]) -> Any:
    """The mini-Xception in Keras layers (keras.applications.xception's layer pattern), weights from ``state``."""
    import keras
    from keras import layers

    def bn(prefix: str) -> Any:
        layer = layers.BatchNormalization(epsilon=1e-3, momentum=0.99)
        pending.append((layer, [state[prefix + s] for s in (".weight", ".bias", ".running_mean", ".running_var")]))
        return layer

    def conv(prefix: str, filters: int, k: int, strides: int = 1, padding: str = "valid") -> Any:
        layer = layers.Conv2D(filters, k, strides=strides, padding=padding, use_bias=False)
        pending.append((layer, [state[prefix + ".weight"].transpose(2, 3, 1, 0)]))
        return layer

    def sep(prefix: str, filters: int) -> Any:
        layer = layers.SeparableConv2D(filters, 3, padding="same", use_bias=False)
        pending.append((layer, [state[prefix + ".dw.weight"].transpose(2, 3, 0, 1),
                                state[prefix + ".pw.weight"].transpose(2, 3, 1, 0)]))
        return layer

    def block(x: Any, prefix: str, c1: int, c2: int, first_relu: bool) -> Any:
        residual = conv(prefix + ".res", c2, 1, strides=2, padding="same")(x)
        residual = bn(prefix + ".res_bn")(residual)
        if first_relu:
            x = layers.Activation("relu")(x)
        x = sep(prefix + ".sep1", c1)(x)
        x = bn(prefix + ".bn1")(x)
        x = layers.Activation("relu")(x)
        x = sep(prefix + ".sep2", c2)(x)
        x = bn(prefix + ".bn2")(x)
        x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same")(x)
        return layers.add([x, residual])

    pending: list[tuple[Any, list[np.ndarray]]] = []
    img_input = keras.Input(shape=(*size, 3))
    x = conv("conv1", ENTRY[0], 3, strides=2)(img_input)
    x = bn("bn1")(x)
    x = layers.Activation("relu")(x)
    x = conv("conv2", ENTRY[1], 3)(x)
    x = bn("bn2")(x)
    x = layers.Activation("relu")(x)
    for i, w in enumerate(BLOCKS):
        x = block(x, f"entry.{i}", w, w, first_relu=i > 0)
    c = BLOCKS[-1]
    for i in range(MIDDLE_REPEATS):
        residual = x
        for j in range(3):
            x = layers.Activation("relu")(x)
            x = sep(f"middle.{i}.seps.{j}", c)(x)
            x = bn(f"middle.{i}.bns.{j}")(x)
        x = layers.add([x, residual])
    x = block(x, "exit", EXIT[0], EXIT[1], first_relu=True)
    x = sep("sep3", TOP[0])(x)
    x = bn("bn3")(x)
    x = layers.Activation("relu")(x)
    x = sep("sep4", TOP[1])(x)
    x = bn("bn4")(x)
    x = layers.Activation("relu")(x)
    base_model = keras.Model(img_input, x, name="xception")
    for layer, weights in pending:
        layer.set_weights(weights)
    return base_model


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    state = _pretrained_state()
    x, y = _target_data()
    xtr, ytr = x[:N_TRAIN], y[:N_TRAIN]
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(SEED)
        base_model = _keras_base(state)
        base_model.trainable = False  # Freeze the base_model
        data_augmentation = keras.Sequential(
            [keras.layers.RandomFlip("horizontal"), keras.layers.RandomRotation(0.1)])
        inputs = keras.Input(shape=(*size, 3))
        h = data_augmentation(inputs)  # Apply random data augmentation
        if fixed:  # PR #26: Normalization with mean 127.5, variance 127.5 ** 2 -> [-1, +1]
            norm_layer = keras.layers.Normalization(mean=[127.5] * 3, variance=[127.5 ** 2] * 3)
            h = norm_layer(h)
        else:  # 2c5eb05: Rescaling to [0, 1]
            h = keras.layers.Rescaling(1.0 / 255)(h)
        h = base_model(h, training=False)
        h = keras.layers.GlobalAveragePooling2D()(h)
        h = keras.layers.Dropout(dropout)(h)  # Regularize with dropout
        outputs = keras.layers.Dense(1)(h)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer=keras.optimizers.Adam(),
                      loss=keras.losses.BinaryCrossentropy(from_logits=True),
                      metrics=[keras.metrics.BinaryAccuracy()])
        batches = [(xtr[i:i + batch_size], ytr[i:i + batch_size])
                   for i in range(0, N_BATCHES * batch_size, batch_size)]
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": xtr[:batch_size]}

    if framework != "torch":
        raise ValueError(framework)
    import torch
    from torch import nn

    mods = _torch_modules()
    torch.manual_seed(SEED)
    base = mods["MiniXception"]()
    base.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    for p in base.parameters():  # base_model.trainable = False
        p.requires_grad_(False)
    scale = mods["Scale"](1 / 127.5, -1.0) if fixed else mods["Scale"](1 / 255, 0.0)
    model = mods["TransferModel"](base, scale)
    nn.init.xavier_uniform_(model.dense.weight)  # Keras Dense: glorot_uniform, zero bias
    nn.init.zeros_(model.dense.bias)
    xt = torch.from_numpy(xtr.transpose(0, 3, 1, 2).copy())
    yt = torch.from_numpy(ytr)
    batches = [(xt[i:i + batch_size], yt[i:i + batch_size])
               for i in range(0, N_BATCHES * batch_size, batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt[:batch_size],
            "loss_fn": nn.BCEWithLogitsLoss(),
            "optimizer": lambda params: torch.optim.Adam([p for p in params if p.requires_grad],
                                                         lr=learning_rate, eps=1e-7)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
