"""TingsongYu/PyTorch-Tutorial-2nd (companion code of the book "PyTorch实用教程（第二版）"), chapter 7.2
"finetune", ``code/chapter-7/02_fintune-freeze.py``: fine-tuning an ImageNet-pretrained ResNet-18 on the
hymenoptera ants / bees data (244 training, 153 validation images) with "method 1: freeze the convolutional
layers" (``# 法1: 冻结卷积层``). The script builds ``models.resnet18()``, loads ``resnet18-f37072fd.pth``, runs
``for param in resnet18_ft.parameters(): param.requires_grad = ...``, prints ``conv1.weight[0, 0, ...]`` (to show
the backbone does not move), replaces ``resnet18_ft.fc = nn.Linear(num_ftrs, classes)`` (512 -> 2), and trains with
``nn.CrossEntropyLoss()``, ``optim.SGD(resnet18_ft.parameters(), lr=0.001, momentum=0.9)``, ``StepLR(step_size=7,
gamma=0.1)`` per epoch, ``BATCH_SIZE = 16``, 25 epochs; training images ``RandomResizedCrop(224)`` +
``RandomHorizontalFlip`` + ``ToTensor`` + ``Normalize(ImageNet mean, std)``, validation ``Resize(256)`` +
``CenterCrop(224)`` with the same normalisation.

The fault (a freezing flag set to the wrong value): the freezing loop writes ``param.requires_grad = True``, so
nothing is frozen. Every backbone parameter keeps its gradient and, since the optimizer is given
``resnet18_ft.parameters()``, SGD with momentum fine-tunes the whole pretrained ResNet-18 -- the opposite of what
the section teaches ("冻结卷积层"); the script's own conv1 print-out moves every epoch. Training still "works"
(the loss falls, faster than with the frozen backbone), so nothing looks wrong unless one checks the parameters
meant to stay fixed. Issue #7 ("7.2 Finetune 模型微调代码中的模型参数冻结": "line 137, freezing the model
parameters, requires_grad should be False"); fixed by the author the same day.

Source: github.com/TingsongYu/PyTorch-Tutorial-2nd ``code/chapter-7/02_fintune-freeze.py`` at
63436e33f806a6894450b2be8eedac255d2abae0 (= 5a6f8af^; the file unchanged since it was added in
38a3fb7137ebabbf5d400fd89f39db80709df0a0 "feat: 新增7.2 finetune"); issue #7; fix
5a6f8afd99ea6137eeabe9a070250d96764893e2 ("fix: 修改参数"): ``param.requires_grad = False`` (only the new fc layer,
created after the loop, trains).
Fault label: frozen_params_changed (the pretrained backbone meant to be frozen is updated by every step).

Program lines kept: the freezing loop (buggy ``True`` / fixed ``False``) over ``resnet18_ft.parameters()`` before
the fc is replaced, ``nn.Linear(num_ftrs, classes)`` with ``classes = 2``, ``nn.CrossEntropyLoss()``,
``optim.SGD(resnet18_ft.parameters(), lr=0.001, momentum=0.9)``, ``BATCH_SIZE = 16``, the ImageNet
``norm_mean`` / ``norm_std`` normalisation, ``label_name = {"ants": 0, "bees": 1}``, model in train mode.
Ported: torchvision is not installed and nothing may be downloaded, so ResNet-18 is written out here with
torchvision's layout (conv1 7x7/2 + BN + ReLU + max-pool 3x3/2, four stages of two BasicBlocks with 1x1-conv + BN
downsampling, global average pool, fc) and its initialisation (kaiming-normal fan_out convs, BN weight 1 / bias 0,
default Linear init). Shrunk: the stage widths are halved, 32/64/128/256 instead of 64/128/256/512 (2.80M
parameters instead of 11.2M; ``num_ftrs`` = 256), and images are 32x32 instead of 224x224 (the network is
convolutional up to the global pool; layer4 ends at 1x1): with the full widths a buggy step took 0.24 s in torch
and 0.82 s in Keras on this loaded machine. The "pretrained" checkpoint (no ImageNet weights) is that seeded
initialisation with its BatchNorm running statistics set by 30 no-grad training-mode forward passes over the
training images (a real checkpoint carries real statistics; without them the frozen Keras backbone, whose BN
layers then run in inference mode, fed the head badly scaled features), computed once per framework and loaded
into every build; it does not change what the fault does (which parameters move). The random crop / flip
augmentation, StepLR (per epoch, lr unchanged for the first 7 epochs), TensorBoard logging, confusion matrices and
the CUDA device are dropped. Keras twin: the same network channels-last (``ZeroPadding2D`` + valid convs for
torch's padding, ``VarianceScaling(2, fan_out, untruncated normal)`` kernels, ``BatchNormalization(momentum=0.9,
epsilon=1e-5)``), the backbone as a sub-model whose ``trainable`` flag is set ``True`` (buggy) / ``False`` (fixed)
before the new ``Dense(2)`` head is put on top (Keras' form of the same mistake), ``SGD(0.001, momentum=0.9)``,
``SparseCategoricalCrossentropy(from_logits=True)``. One difference: a Keras BatchNormalization layer with
``trainable=False`` also runs in inference mode (frozen moving statistics), while torch's frozen BN layers in train
mode still normalise with batch statistics and update their running statistics (buffers, not parameters) -- as the
fixed program does.
Data stand-in (no hymenoptera download): ``_data.cifar_like`` images (scikit-learn digits blown up to 32x32 over
a noisy coloured background, class-tinted), digit 0 as "ants" and digit 1 as "bees": 240 training and 120
validation images (the program has 244 / 153), ``ToTensor`` (/255) and the ImageNet normalisation, NCHW float32
for torch (NHWC for Keras), int64 labels. ``batches``: the first 4 batches of 16 of the shuffled training set;
``inputs``: the 120 validation images; ``baseline_batch``: 64 training images.

Measured (my own plain loops, /tmp/s43/h_b61c_tingsong_tutorial_finetune_freeze_sets_requires_grad_true/
measure.py, OMP_NUM_THREADS=1, the module's builds; 15 batches of 16 = one epoch, 3 epochs = 45 steps; "moved" =
max |change| of any backbone parameter / of conv1.weight since the start; torch ``train()`` mode, Keras
``train_on_batch``):
  torch: trainable parameters buggy 2,799,394 of 2,799,394 (all), fixed 514 (the new fc). Step-1 loss 0.497 in
    both; backbone moved after step 1 / 5 / epoch 1 / 2 / 3: buggy 1.2e-3 / 8.6e-3 / 0.028 / 0.039 / 0.042 (conv1
    the same), fixed exactly 0 throughout. Epoch-mean loss after epochs 1 / 2 / 3: buggy 0.596 / 0.230 / 0.065,
    fixed 0.681 / 0.550 / 0.444; validation accuracy (eval mode) buggy 0.88 / 0.99 / 0.99, fixed 0.62 / 0.73 / 0.77.
    One batch repeated, loss at steps 1 / 25 / 50 / 100: buggy 0.497 / 0.006 / 0.0024 / 0.0014, fixed 0.497 /
    0.100 / 0.039 / 0.020.
  Keras: trainable buggy 2,799,394 of 2,804,194 (the rest: BN moving statistics), fixed 514. Backbone moved after
    step 1 / 5 / epoch 1 / 2 / 3: buggy 1.7e-3 / 0.012 / 0.031 / 0.043 / 0.046, fixed 0. Epoch-mean loss buggy
    0.599 / 0.166 / 0.040, fixed 0.781 / 0.613 / 0.479; validation accuracy buggy 0.81 / 0.94 / 0.98, fixed 0.53 /
    0.70 / 0.74. One batch repeated: buggy 1.04 / 0.006 / 0.002 / 0.001, fixed 0.84 / 0.33 / 0.14 / 0.066.
  So the fault does not show as a training failure: the loss falls in both versions, faster in the buggy one (the
    whole network fits 240 images, as fine-tuning everything would); its signature is that every parameter of the
    backbone meant to be frozen changes from the first step (the program's own conv1 print-out), while in the
    fixed version none does. On real ants/bees with ImageNet weights the buggy run would also overwrite the
    pretrained features with a 244-image fine-tune at lr 1e-3 (not measured here: no pretrained weights).
  Time per step (batch 16, one thread, loaded 2-core machine): torch buggy 41-43 ms, fixed 14 ms; Keras
    ``train_on_batch`` buggy 88 ms, fixed 12 ms. Builds: first (imports, data, BN calibration) torch 3.9 s, Keras
    9.2 s; later builds torch 0.04 s, Keras 0.4 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "frozen_params_changed"
SOURCE = ("github:TingsongYu/PyTorch-Tutorial-2nd issue #7 (code/chapter-7/02_fintune-freeze.py "
          "'# 法1: 冻结卷积层 for param in resnet18_ft.parameters(): param.requires_grad = True' before "
          "'resnet18_ft.fc = nn.Linear(num_ftrs, classes)' with optim.SGD(resnet18_ft.parameters(), lr=0.001, "
          "momentum=0.9) @63436e33f806a6894450b2be8eedac255d2abae0, added in 38a3fb7137ebabbf5d400fd89f39db80709df0a0; "
          "fix 5a6f8afd99ea6137eeabe9a070250d96764893e2 'fix: 修改参数': param.requires_grad = False)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "logits", "num_classes": 2}), ("not_constant_predictions", {})]

# 02_fintune-freeze.py
BATCH_SIZE = 16
LR = 0.001
MOMENTUM = 0.9
classes = 2
label_name = {"ants": 0, "bees": 1}
norm_mean = [0.485, 0.456, 0.406]
norm_std = [0.229, 0.224, 0.225]
# port
IMG = 32  # 224 in the program
N_TRAIN = 240  # 244 in hymenoptera_data/train
N_VAL = 120  # 153 in hymenoptera_data/val
N_BATCHES = 4
CALIBRATION_PASSES = 30  # forward passes over the training images that set the stand-in's BN statistics
WIDTHS = (32, 64, 128, 256)  # port: ResNet-18's 64 / 128 / 256 / 512 channels halved
SEED = 0
_CHECKPOINTS: dict[str, Any] = {}  # the seeded, BN-calibrated "pretrained" weights, built once per framework


@functools.lru_cache(maxsize=1)
def _dataset() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Ants (digit 0) / bees (digit 1) stand-in: ToTensor + Normalize(norm_mean, norm_std), NHWC float32."""
    from tests.real_programs._data import cifar_like

    imgs, digit = cifar_like(1797, seed=SEED)
    keep = np.flatnonzero(digit <= 1)
    imgs, y = imgs[keep], digit[keep].astype("int64")  # "ants" = 0, "bees" = 1
    x = (imgs.astype("float32") / 255.0 - np.array(norm_mean, "float32")) / np.array(norm_std, "float32")
    r = np.random.default_rng(SEED)
    order = r.permutation(len(x))  # DataLoader(train_data, batch_size=BATCH_SIZE, shuffle=True)
    x, y = x[order].astype("float32"), y[order]
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:N_TRAIN + N_VAL], y[N_TRAIN:N_TRAIN + N_VAL]


def _batches(nchw: bool) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, tuple[np.ndarray, np.ndarray]]:
    xt, yt, xv, _ = _dataset()
    if nchw:
        xt, xv = np.ascontiguousarray(xt.transpose(0, 3, 1, 2)), np.ascontiguousarray(xv.transpose(0, 3, 1, 2))
    b = BATCH_SIZE
    batches = [(xt[i:i + b], yt[i:i + b]) for i in range(0, N_BATCHES * b, b)]
    return batches, xv, (xt[:64], yt[:64])


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            skip = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + skip)

    class ResNet18(nn.Module):
        """torchvision.models.resnet18() layout and initialisation."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, WIDTHS[0], 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(WIDTHS[0])
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            stages, cin = [], WIDTHS[0]
            for cout, stride in zip(WIDTHS, (1, 2, 2, 2)):
                stages.append(nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))
                cin = cout
            self.layer1, self.layer2, self.layer3, self.layer4 = stages
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(WIDTHS[-1], 1000)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    torch.manual_seed(SEED)
    # 1/3 构建模型, 2/3 加载参数 (port: the seeded initialisation stands in for resnet18-f37072fd.pth)
    resnet18_ft = ResNet18()
    if "torch" not in _CHECKPOINTS:
        xt = np.ascontiguousarray(_dataset()[0].transpose(0, 3, 1, 2))
        with torch.no_grad():  # port: a pretrained checkpoint carries real BatchNorm running statistics
            for i in range(CALIBRATION_PASSES):
                resnet18_ft(torch.from_numpy(xt[(i % 4) * 60:(i % 4 + 1) * 60]))
        _CHECKPOINTS["torch"] = {k: v.clone() for k, v in resnet18_ft.state_dict().items()}
    resnet18_ft.load_state_dict(_CHECKPOINTS["torch"])  # resnet18_ft.load_state_dict(state_dict_load)

    # 法1: 冻结卷积层
    for param in resnet18_ft.parameters():
        param.requires_grad = not fixed  # buggy: True; fix 5a6f8af: False

    # 替换fc层
    num_ftrs = resnet18_ft.fc.in_features
    resnet18_ft.fc = nn.Linear(num_ftrs, classes)
    resnet18_ft.train()

    batches, xv, (bx, by) = _batches(nchw=True)
    t = torch.from_numpy
    tb = [(t(x), t(y)) for x, y in batches]

    def optimizer(params: Any) -> Any:
        return torch.optim.SGD(params, lr=LR, momentum=MOMENTUM)  # optim.SGD(resnet18_ft.parameters(), ...)

    return {"model": resnet18_ft, "batch": tb[0], "batches": tb, "inputs": t(xv),
            "baseline_batch": (t(bx), t(by)), "loss_fn": nn.CrossEntropyLoss(), "optimizer": optimizer}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)
    conv_init = keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")  # kaiming_normal_ fan_out

    def conv(x: Any, cout: int, k: int, stride: int, pad: int) -> Any:
        if pad:
            x = layers.ZeroPadding2D(pad)(x)
        return layers.Conv2D(cout, k, stride, use_bias=False, kernel_initializer=conv_init)(x)

    def bn(x: Any) -> Any:
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)

    def block(x: Any, cin: int, cout: int, stride: int) -> Any:
        skip = x
        if stride != 1 or cin != cout:
            skip = bn(conv(x, cout, 1, stride, 0))
        out = layers.ReLU()(bn(conv(x, cout, 3, stride, 1)))
        out = bn(conv(out, cout, 3, 1, 1))
        return layers.ReLU()(layers.Add()([out, skip]))

    inp = keras.Input((IMG, IMG, 3))
    x = layers.ReLU()(bn(conv(inp, WIDTHS[0], 7, 2, 3)))
    x = layers.MaxPooling2D(3, 2)(layers.ZeroPadding2D(1)(x))  # after ReLU, zero padding = torch's -inf padding
    cin = WIDTHS[0]
    for cout, stride in zip(WIDTHS, (1, 2, 2, 2)):
        x = block(block(x, cin, cout, stride), cout, cout, 1)
        cin = cout
    feats = layers.GlobalAveragePooling2D()(x)
    backbone = keras.Model(inp, feats, name="resnet18_backbone")  # port: the seeded init stands in for ImageNet
    if "keras" not in _CHECKPOINTS:
        xt = _dataset()[0]
        for i in range(CALIBRATION_PASSES):  # port: a pretrained checkpoint carries real BatchNorm moving statistics
            backbone(xt[(i % 4) * 60:(i % 4 + 1) * 60], training=True)
        _CHECKPOINTS["keras"] = [w.copy() for w in backbone.get_weights()]
    backbone.set_weights(_CHECKPOINTS["keras"])

    # 法1: 冻结卷积层 (Keras form: the backbone's trainable flag)
    backbone.trainable = not fixed  # buggy: True; fixed: False

    # 替换fc层: a new head, trainable, PyTorch's default Linear init
    bound = 1.0 / np.sqrt(WIDTHS[-1])
    head = layers.Dense(classes, kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3, "fan_in", "uniform"),
                        bias_initializer=keras.initializers.RandomUniform(-bound, bound))
    model = keras.Model(inp, head(backbone(inp)))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR, momentum=MOMENTUM),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    batches, xv, baseline = _batches(nchw=False)
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xv, "baseline_batch": baseline}


buggy, fixed = versions(_torch, _keras)
