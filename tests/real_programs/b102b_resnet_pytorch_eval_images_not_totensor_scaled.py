"""JeasunLok/ResNet-pytorch (the code of section V of an introductory deep-learning course at Sun Yat-sen University,
scene classification of remote-sensing images, with a CIFAR-10 option: ``dataset/cifar-10/cifar-10_unpack.py`` and
``dataset/cifar-10/cls_classes.txt``). ``main.py`` builds ``resnet34(num_classes=num_classes)`` from
``model/ResNet.py`` (BasicBlock, [3, 4, 6, 3], widths 64/128/256/512, 7x7 stride-2 stem, max-pool, BatchNorm),
re-initialises every Conv2d and Linear weight with ``nn.init.kaiming_normal_(m.weight, mode='fan_in')``, trains it
with ``torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9, weight_decay=5e-4)`` and
``nn.CrossEntropyLoss()`` on batches of 32 (shuffled), the loop of ``train.py`` being the plain ``zero_grad /
model(batch_data.float()) / loss / backward / step``; ``valid_epoch`` and ``test_epoch`` run the model in eval mode.

The fault (evaluation preprocessing differs from training): ``main.py`` hands the image transform only to the
training set, ``image_transform = get_transform(input_shape, IsTotensor=True, IsRandomRotation=True)``,
``train_dataset = MyDataset(train_lines, input_shape=input_shape, transform=image_transform)``, while
``val_dataset = MyDataset(val_lines, input_shape=input_shape)`` and ``test_dataset = MyDataset(test_lines,
input_shape=input_shape)`` get none. ``MyDataset.__getitem__`` then takes its no-transform branch,
``image = torch.from_numpy(np.transpose(np.array(image), [2, 0 ,1]))``: the validation / test images reach the
network as raw 0..255 pixel values (made float by the loops' ``.float()``), while ``transforms.ToTensor()`` gave the
training images 0..1. Every input the trained network is evaluated on is 255 times larger than anything it was
trained on; the first convolution's outputs are 255x, BatchNorm in eval mode normalises them with the running
statistics of the 0..1 training inputs, so the activations are far outside the fitted range and the predictions
collapse, while the training loss and accuracy look fine (the issue's title: the training accuracy is okay, but
the testing accuracy is very low).

Source: github.com/JeasunLok/ResNet-pytorch ``main.py`` (with ``utils/dataloader.py`` MyDataset, ``utils/utils.py``
get_transform / transform, ``model/ResNet.py``, ``train.py``, ``test.py``) at
014c154 (= ecc4991dd9e40f5aeee9b968adeae25caaa3b337^), fixed by ecc4991dd9e40f5aeee9b968adeae25caaa3b337
"fix: transform bugs": ``val_dataset = MyDataset(val_lines, input_shape=input_shape, transform=image_transform)`` and
the same for ``test_dataset``; issue #1 "Why is the training accuracy okay, but the testing accuracy is very low?",
where the author answers (my paraphrase) that the testing accuracy was low because the normalisation was applied to
the training set but not to the val / test sets, and that main.py now gives them the same transformation.
(The same commit also set ``epoch = 2`` and rescaled ``save_period`` / the StepLR step size to it; those are run
lengths, not the fix, and are left out: the port trains for as many steps as the caller runs.)
Fault label: preprocessing_mismatch (the evaluation pipeline skips the training pipeline's ToTensor scaling to 0..1).

Program lines kept: ``model/ResNet.py``'s BasicBlock and ResNet classes as written (only the base width made a
parameter, see below), the ``kaiming_normal_(m.weight, mode='fan_in')`` re-init of main.py, ``SGD(lr=0.001,
momentum=0.9, weight_decay=5e-4)``, ``nn.CrossEntropyLoss()``, batch size 32, the plain training loop (no
``train_step``), the training transform (RandomRotation(10) then ToTensor) and the evaluation branch
``torch.from_numpy(np.transpose(np.array(image), [2, 0 ,1]))`` + ``.float()``.
Shrunk / replaced: torchvision is not installed here, so ToTensor is written out (HWC uint8 -> CHW float32 / 255) and
RandomRotation(10) is PIL ``Image.rotate(angle, resample=NEAREST, fill 0)`` with angles uniform in (-10, 10) drawn
from a seeded generator (torchvision's defaults: nearest, no expand, fill 0), applied once to every training image
when the batches are built. The CIFAR-10 setting of the repo is used (32x32 RGB, 10 classes, ``input_shape``
[32, 32]) instead of SIRI-WHU's 200x200 / 12 classes. ResNet-34 at full width takes 0.54 s a step on one core
(batch 32, 32x32), so the base width is cut from 64 to 16 (stages 16/32/64/128 channels, depth [3, 4, 6, 3] and
everything else unchanged): 0.065 s a step. ``train_pipeline`` / ``eval_pipeline`` map ONE raw image (32, 32, 3)
uint8 to one model input; the training pipeline is handed over without its random rotation (an augmentation a
user switches off to compare pipelines), and so is the fixed evaluation pipeline, which in the fixed program is the
same ``image_transform`` (RandomRotation included) and here the same deterministic ToTensor. ``inputs`` are the
held-out images through the version's evaluation pipeline (raw 0..255 in the buggy one, 0..1 in the fixed one).
Keras twin: the same ResNet-34 (basic blocks [3, 4, 6, 3], base width 16, 7x7 stride-2 stem, 3x3 stride-2 max-pool,
1x1 stride-s projection shortcuts with BatchNorm, global average pooling, Dense(10) logits) in Keras 3, channels
last, Conv2D / Dense kernels from an untruncated He normal with fan_in (kaiming_normal_ fan_in), BatchNormalization
with momentum 0.9 and epsilon 1e-5 (torch's 0.1 / 1e-5), compiled with ``SGD(learning_rate=0.001, momentum=0.9,
weight_decay=5e-4)`` (Keras applies the decay decoupled, torch adds it to the gradient; at lr 0.001 the difference
is negligible) and ``SparseCategoricalCrossentropy(from_logits=True)``. The fault is the numpy / tensor arithmetic
of the two pipelines, so the twin carries it unchanged (HWC outputs).
Data stand-in (no download): ``_data.cifar_like(1797)`` (32x32x3 uint8 digits over a noisy random-colour
background, each class its own tint, channel means near 125 as CIFAR-10), training images drawn from the first
1500, held-out images from the last 297. ``batches``: 100 distinct batches of 32, each image rotated by its own
angle; ``batch``: the first; ``inputs``: 256 held-out images through the evaluation pipeline; ``raw_samples``: the
same 256 raw uint8 images.

Measured (my own plain loop, /tmp/s59/p/b102b/measure.py, OMP_NUM_THREADS=1, seed 0, on the module's builds: the
program's zero_grad / forward / loss / backward / step loop in train mode over the module's 100 training batches in
order, several passes; then ``model.eval()`` and the 256 held-out images classified through the training pipeline
and through the version's evaluation pipeline (= ``inputs``)):
  torch (the program's framework), 500 steps (5 passes), ~0.09 s a step: training loss, 50-step means
    2.76 1.90 1.21 0.80 0.51 0.33 0.23 0.16 0.10 0.07, identical in both versions (the fix does not touch training);
    held-out accuracy / cross-entropy: fixed 0.898 / 0.46 through its evaluation pipeline (= the training one);
    buggy 0.898 / 0.46 through the training pipeline but 0.199 / 9004 through its own evaluation pipeline
    (= ``inputs``, pixels 0..255), with one class predicted for 208 of the 256 images and |logit| up to 17,232
    (12.7 in the fixed version).
  Other seeds (torch, seed for data draw and init, 200 steps): seed 1 fixed 0.770 / 0.66, buggy 0.090 / 8282 (all 256
    images one class); seed 2 fixed 0.699 / 0.89, buggy 0.121 / 16,893 (237 of 256 one class).
  Keras twin, 500 steps (``train_on_batch``), ~0.23 s a step: training loss, 50-step means 2.67 1.27 0.60 0.35
    0.21 0.13 0.08 0.05 0.03 0.02 in both versions; held-out accuracy / cross-entropy fixed 0.898 / 0.42, buggy
    0.141 / 6187 through the evaluation pipeline (189 of 256 one class; 0.898 through the training pipeline).
  So the fault leaves training untouched and turns a ~0.7-0.9-accuracy classifier into one at or near chance
    (0.09-0.20 on 10 classes) that predicts mostly one class when it is evaluated, as in the issue's report.
  Build time (both frameworks, both versions): first ~30-40 s (TensorFlow import, data, PIL rotations), later less
    than 1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "preprocessing_mismatch"
SOURCE = ("github:JeasunLok/ResNet-pytorch issue #1 (main.py 'val_dataset = MyDataset(val_lines, "
          "input_shape=input_shape)' / 'test_dataset = MyDataset(test_lines, input_shape=input_shape)' without the "
          "training 'image_transform = get_transform(input_shape, IsTotensor=True, IsRandomRotation=True)', so "
          "utils/dataloader.py MyDataset feeds raw 0..255 'torch.from_numpy(np.transpose(np.array(image), [2, 0 ,1]))' "
          "@ecc4991dd9e40f5aeee9b968adeae25caaa3b337^ = 014c154; model/ResNet.py resnet34, train.py, test.py; "
          "fix ecc4991dd9e40f5aeee9b968adeae25caaa3b337 'fix: transform bugs': transform=image_transform for "
          "val_dataset and test_dataset)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("preprocessing_parity", {}), ("inputs_normalized", {}), ("loss_decreases", {}),
          ("overfit_one_batch", {})]

NUM_CLASSES = 10  # dataset/cifar-10/cls_classes.txt
BATCH_SIZE = 32
LR = 0.001
MOMENTUM = 0.9
WEIGHT_DECAY = 5e-4
DEGREES = 10  # get_transform: RandomRotation(degrees=10)
WIDTH = 16  # model/ResNet.py: 64 (shrunk for CPU time, see the docstring)
N_BATCHES = 100
N_INPUTS = 256
N_TRAIN_SRC = 1500
SEED = 0


@functools.lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw uint8 (n, 32, 32, 3) training images (each rotated as RandomRotation(10) would), their labels, raw
    held-out images and their labels."""
    from PIL import Image

    from tests.real_programs._data import cifar_like

    x0, y0 = cifar_like(1797, seed=SEED)
    r = np.random.default_rng(SEED)
    n_tr = N_BATCHES * BATCH_SIZE
    src = r.integers(0, N_TRAIN_SRC, n_tr)
    angles = r.uniform(-DEGREES, DEGREES, n_tr)
    xs = np.stack([np.asarray(Image.fromarray(x0[s]).rotate(float(a), resample=Image.NEAREST, fillcolor=(0, 0, 0)))
                   for s, a in zip(src, angles)])
    held = r.choice(np.arange(N_TRAIN_SRC, 1797), N_INPUTS, replace=False)
    return xs, y0[src], x0[held], y0[held]


def _to_tensor(raw: np.ndarray) -> np.ndarray:
    """transforms.ToTensor(): one HWC uint8 image -> CHW float32 in [0, 1]."""
    return np.transpose(np.asarray(raw, "float32") / 255.0, (2, 0, 1)).astype("float32")


def _no_transform(raw: np.ndarray) -> np.ndarray:
    """MyDataset without a transform: torch.from_numpy(np.transpose(np.array(image), [2, 0 ,1])), then the loops'
    .float(): one HWC uint8 image -> CHW float32 in [0, 255]."""
    return np.transpose(np.array(raw), [2, 0, 1]).astype("float32")


def _common(fixed: bool, channels_last: bool) -> dict[str, Any]:
    x_raw, y, held_raw, _ = _raw()
    train_tf = _to_tensor  # image_transform (its RandomRotation applied when the batches were built)
    eval_tf = _to_tensor if fixed else _no_transform  # the fix: transform=image_transform for val / test
    x = np.stack([train_tf(a) for a in x_raw])
    inputs = np.stack([eval_tf(a) for a in held_raw])
    if channels_last:
        x, inputs = np.transpose(x, (0, 2, 3, 1)), np.transpose(inputs, (0, 2, 3, 1))

        def hwc(f: Any) -> Any:
            return lambda raw: np.transpose(f(raw), (1, 2, 0))

        train_tf, eval_tf = hwc(train_tf), hwc(eval_tf)
    bs = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)]
    return {"batch": bs[0], "batches": bs, "inputs": inputs, "train_pipeline": train_tf, "eval_pipeline": eval_tf,
            "raw_samples": held_raw}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, in_channel, out_channel, stride=1, downsample=None, **kwargs):
            super(BasicBlock, self).__init__()
            self.conv1 = nn.Conv2d(in_channels=in_channel, out_channels=out_channel,
                                   kernel_size=3, stride=stride, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(out_channel)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(in_channels=out_channel, out_channels=out_channel,
                                   kernel_size=3, stride=1, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(out_channel)
            self.downsample = downsample

        def forward(self, x):
            identity = x
            if self.downsample is not None:
                identity = self.downsample(x)

            out = self.conv1(x)
            out = self.bn1(out)
            out = self.relu(out)
            out = self.conv2(out)
            out = self.bn2(out)
            out += identity
            out = self.relu(out)

            return out

    class ResNet(nn.Module):
        def __init__(self, block, blocks_num, num_classes=1000, include_top=True, groups=1, width_per_group=64,
                     width=64):  # width: the port's parameter (64 in the program)
            super(ResNet, self).__init__()
            self.include_top = include_top
            self.in_channel = width

            self.groups = groups
            self.width_per_group = width_per_group

            self.conv1 = nn.Conv2d(3, self.in_channel, kernel_size=7, stride=2,
                                   padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(self.in_channel)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = self._make_layer(block, width, blocks_num[0])
            self.layer2 = self._make_layer(block, 2 * width, blocks_num[1], stride=2)
            self.layer3 = self._make_layer(block, 4 * width, blocks_num[2], stride=2)
            self.layer4 = self._make_layer(block, 8 * width, blocks_num[3], stride=2)
            if self.include_top:
                self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
                self.fc = nn.Linear(8 * width * block.expansion, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

        def _make_layer(self, block, channel, block_num, stride=1):
            downsample = None
            if stride != 1 or self.in_channel != channel * block.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(self.in_channel, channel * block.expansion, kernel_size=1, stride=stride, bias=False),
                    nn.BatchNorm2d(channel * block.expansion))

            layers = []
            layers.append(block(self.in_channel,
                                channel,
                                downsample=downsample,
                                stride=stride,
                                groups=self.groups,
                                width_per_group=self.width_per_group))
            self.in_channel = channel * block.expansion

            for _ in range(1, block_num):
                layers.append(block(self.in_channel,
                                    channel,
                                    groups=self.groups,
                                    width_per_group=self.width_per_group))
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.conv1(x)
            x = self.bn1(x)
            x = self.relu(x)
            x = self.maxpool(x)
            x = self.layer1(x)
            x = self.layer2(x)
            x = self.layer3(x)
            x = self.layer4(x)

            if self.include_top:
                x = self.avgpool(x)
                x = torch.flatten(x, 1)
                x = self.fc(x)

            return x

    def resnet34(num_classes=1000, include_top=True):
        return ResNet(BasicBlock, [3, 4, 6, 3], num_classes=num_classes, include_top=include_top, width=WIDTH)

    model = resnet34(num_classes=NUM_CLASSES)
    # kaiming initialization (main.py, pretrained = False)
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode='fan_in')
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY)
    criterion = nn.CrossEntropyLoss()

    c = _common(fixed, channels_last=False)
    train_np, eval_np = c["train_pipeline"], c["eval_pipeline"]
    bs = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in c["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": torch.from_numpy(c["inputs"]),
            "loss_fn": criterion, "optimizer": optimizer,
            "train_pipeline": lambda raw: torch.from_numpy(train_np(raw)),
            "eval_pipeline": lambda raw: torch.from_numpy(eval_np(raw)), "raw_samples": c["raw_samples"]}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)

    def kaiming() -> Any:  # nn.init.kaiming_normal_(mode='fan_in'): N(0, 2 / fan_in), untruncated
        return keras.initializers.VarianceScaling(2.0, mode="fan_in", distribution="untruncated_normal")

    def bn() -> Any:  # nn.BatchNorm2d defaults
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)

    def basic_block(x: Any, channel: int, stride: int) -> Any:
        identity = x
        if stride != 1 or x.shape[-1] != channel:
            identity = layers.Conv2D(channel, 1, strides=stride, use_bias=False, kernel_initializer=kaiming())(x)
            identity = bn()(identity)
        out = layers.Conv2D(channel, 3, strides=stride, padding="same", use_bias=False,
                            kernel_initializer=kaiming())(x)
        out = layers.ReLU()(bn()(out))
        out = layers.Conv2D(channel, 3, padding="same", use_bias=False, kernel_initializer=kaiming())(out)
        out = bn()(out)
        return layers.ReLU()(layers.Add()([out, identity]))

    inp = keras.Input(shape=(32, 32, 3))
    x = layers.ZeroPadding2D(3)(inp)
    x = layers.Conv2D(WIDTH, 7, strides=2, use_bias=False, kernel_initializer=kaiming())(x)
    x = layers.ReLU()(bn()(x))
    x = layers.MaxPooling2D(3, strides=2, padding="same")(x)
    for i, n in enumerate([3, 4, 6, 3]):
        for j in range(n):
            x = basic_block(x, WIDTH * 2 ** i, 2 if (i > 0 and j == 0) else 1)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(NUM_CLASSES, kernel_initializer=kaiming())(x)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR, momentum=MOMENTUM, weight_decay=WEIGHT_DECAY),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    return {"model": model, **_common(fixed, channels_last=True)}


buggy, fixed = versions(_torch, _keras)
