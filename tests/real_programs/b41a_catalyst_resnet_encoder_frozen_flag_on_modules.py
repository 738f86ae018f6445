"""Catalyst (catalyst-team/catalyst) ``catalyst/contrib/models/resnet_encoder.py``: ``ResnetEncoder(arch,
pretrained=True, frozen=True, pooling=None, pooling_kwargs=None, cut_layers=2)`` takes a torchvision ResNet,
drops its last ``cut_layers`` children (``avgpool`` and ``fc``), optionally appends a pooling module from the
registry (``GlobalAvgPool2d``: ``F.avg_pool2d(x, kernel_size=(h, w))``) and ``Flatten``, and is meant to be a
frozen feature extractor when ``frozen=True`` (the default). The reproduction in the issue puts it under a
one-logit head: ``self.enc = ResnetEncoder(arch="resnet18", pooling="GlobalAvgPool2d")``, ``self.logits =
nn.Linear(self.enc.out_features, 1)``, ``forward = self.logits(self.enc(x))``, ``optimizer = torch.optim.Adam(
model.parameters())``, ``criterion = torch.nn.BCEWithLogitsLoss()``, a batch of 8 images of 3x224x224.
The fault: the freezing loop is ``for param in modules: param.requires_grad = False`` where ``modules`` is
the list of *child modules* (``list(resnet.children())[:-cut_layers]``), not parameters. Setting
``requires_grad`` on an ``nn.Module`` only adds a plain Python attribute; every ``nn.Parameter`` inside keeps
``requires_grad=True``, so the optimizer (given ``model.parameters()``) updates the whole "frozen" encoder:
``old_value = model.enc.feature_net[0].weight[0,0,0,0]`` differs after one Adam step.

Source: github.com/catalyst-team/catalyst issue #79 ("[solved] ResnetEncoder 'frozen' argument doesn't
work", with the reproduction above), fixed by PR #81 ("Fix freeze"), commit
78f775f0b944856e6bc18c722ebe762e892a4963 (merge 2853a3f68): ``for module in modules: for param in
module.parameters(): param.requires_grad = False``. Buggy file: ``catalyst/contrib/models/resnet_encoder.py``
at 78f775f0b^ (= 04e75a50d); ``GlobalAvgPool2d`` from ``catalyst/contrib/modules/pooling.py`` and ``Flatten``
from ``catalyst/contrib/modules/common.py`` at the same commit.
Program lines kept: ``ResnetEncoder.__init__`` (children minus the last two, the buggy/fixed freezing loop,
``GlobalAvgPool2d`` + ``Flatten``, ``out_features = resnet.fc.in_features`` = 512), ``forward``, the issue's
``Net`` (encoder + ``Linear(512, 1)``), ``Adam`` with its default lr 1e-3, ``BCEWithLogitsLoss``, batches of 8.
Ported minimally: torchvision is not installed here, so ``torchvision.models.resnet18`` is written out
(its layer layout: conv1 7x7/2 + bn1 + relu + maxpool 3x3/2, layer1..layer4 of two ``BasicBlock`` each with
64/128/256/512 channels and 1x1 conv + BN downsampling, avgpool, fc; torchvision's kaiming-normal fan_out
conv init, BN weight 1 / bias 0); ``pretrained=False`` (no ImageNet download): the encoder starts from that
random init, which does not change what the fault does (the flag has no effect on any parameter either way).
Images are 32x32 instead of 224x224 so a step stays under 0.1 s on one CPU thread (the network is fully
convolutional up to the global average pooling, so only the feature-map sizes change: layer4 ends at 1x1).
Data stand-in: the issue used ``torch.randn`` images and all-ones targets; here, so that there is something
to learn, ``_data.cifar_like`` images (scikit-learn digits over a noisy coloured background, each digit
class with its own tint) at their 32x32, scaled to [0, 1] and normalised with the ImageNet mean/std
(torchvision's convention for these encoders), with a binary target (odd vs even digit) as float ``(n, 1)``
for ``BCEWithLogitsLoss``; 8 batches of 8.
Keras: not ported (the fault is PyTorch-specific: ``requires_grad`` assigned on an ``nn.Module`` instead of on
its parameters; Keras freezes with ``layer.trainable``, which does propagate).
Fault label: frozen_params_changed (the encoder meant to be frozen by ``frozen=True`` is trained; the
module carries a stray ``requires_grad = False`` attribute while all its parameters require grad).
Fix (78f775f0b): set ``requires_grad = False`` on each parameter of each kept child module; only the
``Linear(512, 1)`` head trains.

Symptom in a short loop (my own loop: ``opt.zero_grad(); criterion(model(x), y).backward(); opt.step()``,
seed 0, OMP_NUM_THREADS=1, model in train mode, cycling over the 8 batches): 11,177,025 of 11,177,025
parameters require grad in the buggy model (the encoder's first conv carries ``requires_grad = False`` as a
plain attribute) vs 513 (the head) in the fixed one. Largest change of any weight of the encoder's ``conv1``:
after one step 1.0e-3 buggy (the Adam step size: every weight moves) vs exactly 0.0 fixed; after 100 steps
0.0199 vs 0.0; after 300 steps 0.0201 vs 0.0. The loss alone does not look like a failure, it falls faster
in the buggy run because the whole 11M-parameter network fits 64 images: mean loss over the 8 batches 0.739
(step 0, both) -> 0.003 buggy / 0.274 fixed (step 100) -> 0.001 / 0.101 (step 300); one batch, 100 steps:
buggy 0.840 -> 0.000 (step 50), fixed 0.840 -> 0.021 (50) -> 0.0095 (100). BatchNorm running statistics
update in both versions (train mode; ``requires_grad`` does not stop them), as in the fixed program.
A step takes about 94 ms buggy (forward 13, backward 24, Adam over 11.2M parameters 57 ms) and 30 ms fixed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "frozen_params_changed"
SOURCE = ("github:catalyst-team/catalyst issue #79, PR #81 (catalyst/contrib/models/resnet_encoder.py "
          "ResnetEncoder@78f775f0b^, contrib/modules/pooling.py GlobalAvgPool2d, contrib/modules/common.py "
          "Flatten; fix 78f775f0b944856e6bc18c722ebe762e892a4963, merge 2853a3f68)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "logits"})]

BATCH_SIZE = 8  # the batch
N_BATCHES = 8
IMG = 32  # port: 224 in the issue


def _data() -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs._data import cifar_like

    imgs, digit = cifar_like(BATCH_SIZE * N_BATCHES, seed=0)
    imgs = np.kron(imgs, np.ones((1, IMG // 32, IMG // 32, 1))).astype("float32") / 255.0
    mean = np.array([0.485, 0.456, 0.406], dtype="float32")
    std = np.array([0.229, 0.224, 0.225], dtype="float32")
    x = ((imgs - mean) / std).transpose(0, 3, 1, 2).astype("float32")  # NCHW
    y = (digit % 2).astype("float32")[:, None]
    return np.ascontiguousarray(x), y


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(0)

    class BasicBlock(nn.Module):  # torchvision.models.resnet.BasicBlock
        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.downsample = downsample

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    class ResNet18(nn.Module):  # torchvision.models.resnet18(pretrained=False)
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.inplanes = 64
            self.layer1 = self._make_layer(64, 1)
            self.layer2 = self._make_layer(128, 2)
            self.layer3 = self._make_layer(256, 2)
            self.layer4 = self._make_layer(512, 2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512, 1000)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)

        def _make_layer(self, planes, stride):
            downsample = None
            if stride != 1 or self.inplanes != planes:
                downsample = nn.Sequential(nn.Conv2d(self.inplanes, planes, 1, stride, bias=False),
                                           nn.BatchNorm2d(planes))
            layers = [BasicBlock(self.inplanes, planes, stride, downsample), BasicBlock(planes, planes)]
            self.inplanes = planes
            return nn.Sequential(*layers)

    class GlobalAvgPool2d(nn.Module):  # catalyst/contrib/modules/pooling.py
        def forward(self, x):
            h, w = x.shape[2:]
            return F.avg_pool2d(input=x, kernel_size=(h, w))

        @staticmethod
        def out_features(in_features):
            return in_features

    class Flatten(nn.Module):  # catalyst/contrib/modules/common.py
        def forward(self, x):
            return x.view(x.shape[0], -1)

    class ResnetEncoder(nn.Module):  # catalyst/contrib/models/resnet_encoder.py @78f775f0b^
        def __init__(self, arch="resnet18", pretrained=False, frozen=True, pooling=None, cut_layers=2):
            super().__init__()
            resnet = ResNet18()  # torchvision.models.__dict__[arch](pretrained=pretrained)
            modules = list(resnet.children())[:-cut_layers]  # delete last layers

            if frozen:
                if fixed:  # 78f775f0b
                    for module in modules:
                        for param in module.parameters():
                            param.requires_grad = False
                else:
                    for param in modules:
                        param.requires_grad = False

            if pooling is not None:
                pooling_fn = GlobalAvgPool2d()
                modules += [pooling_fn]
                resnet_out_features = pooling_fn.out_features(in_features=resnet.fc.in_features)
            else:
                resnet_out_features = resnet.fc.in_features

            modules += [Flatten()]
            self.out_features = resnet_out_features
            self.feature_net = nn.Sequential(*modules)

        def forward(self, image):
            return self.feature_net(image)

    class Net(nn.Module):  # the reproduction
        def __init__(self):
            super().__init__()
            self.enc = ResnetEncoder(arch="resnet18", pooling="GlobalAvgPool2d")
            self.logits = nn.Linear(self.enc.out_features, 1)

        def forward(self, x):
            return self.logits(self.enc(x))

    model = Net()
    x, y = _data()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]

    def optimizer(params):
        return torch.optim.Adam(params)  # torch.optim.Adam(model.parameters()), default lr 1e-3

    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt[:32],
            "loss_fn": nn.BCEWithLogitsLoss(), "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
