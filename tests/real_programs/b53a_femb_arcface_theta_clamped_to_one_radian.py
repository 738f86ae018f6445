"""pt-femb-face-embeddings (jonasgrebe/pt-femb-face-embeddings, "femb - Simple Face Embedding Training Library"):
face-embedding training with margin headers as README.md and main.py set it up -- ``build_backbone("iresnet18",
embed_dim=256)`` (MagFace's IResNet: 3x3 stem, four stages of two pre-activation ``IBasicBlock`` s (BN, conv, BN,
PReLU, conv, BN, + identity), BN, ``Dropout2d(0.4)``, ``Linear`` to 256, ``BatchNorm1d``), ``ArcFaceHeader(in_features=
256, out_features=train_n_classes)`` (= ``ArcMarginHeader(s=64.0, m2=0.5)``), ``torch.nn.CrossEntropyLoss()`` on the
header's outputs, ``SGD(face_model.params, lr=1e-2, momentum=0.9, weight_decay=5e-4)`` over the backbone and header
parameters, batch size 32, LFW-deepfunneled (peopleDevTrain identities) with Resize(112), ToTensor,
Normalize((0.5,)*3, (0.5,)*3), RandomHorizontalFlip; ``FaceEmbeddingModel.fit``: features = backbone(inputs),
outputs = header(features, labels), loss, zero_grad, backward, step.

The faults, both in ``ArcMarginHeader.forward`` (femb/headers/arcmargin.py at 8f055a5 = 63e04d3^):
    self.linear.weight = torch.nn.Parameter(self.normalize(self.linear.weight))
    logits = self.linear(self.normalize(input)).clamp(-1 + self.epsilon, 1 - self.epsilon)
    theta = torch.acos(logits).clamp(-1, 1)
    target_logits = torch.cos(self.m1 * theta + self.m2) - self.m3
(1) ``.clamp(-1, 1)`` is applied to the *angle* (0..pi from ``acos``), not to the cosine: every angle above 1 rad
(57 degrees) becomes exactly 1 and its gradient is zero. At initialisation every sample is ~80-90 degrees from its
class centre, so the ArcFace target logit is the constant ``64 * cos(1 + 0.5) = 4.53`` with no gradient, and stays so
until a sample's cosine to its own centre passes cos(1) = 0.54 -- which never happens, because nothing pulls it there.
The only gradient left pushes each embedding away from the *other* class centres; the cross-entropy is minimised by
driving all cosines negative under the constant target logit: the loss falls fast towards 0 while the embeddings
lose whatever identity information they had. (2) Re-wrapping the header weight in a new ``nn.Parameter`` on every
forward replaces the tensor the optimizer was given (``SGD(face_model.params)`` is built once, before the first
forward): the optimizer's tensor never gets a gradient, the model's new one is never stepped, so the class centres
stay at their (normalised) random initialisation for the whole run. Issue #3 "Found two flaws in ArcMarginHeader"
(alexkrz, 2024-05-19): "You need to initialize the weight parameter when initializing the header class instead of
initiliazing it again in every forward pass" and "The arccos must not be clamped to (-1, 1), as the returned function
values are between 0 and pi". Fixed by PR #4, commit 63e04d3813f694ce69396d06f1fd70919d978735 "Fix flaws in
ArcMarginHeader" (merged as fa54292): ``self.weight = Parameter(...)`` with ``xavier_uniform_`` in ``__init__``,
``logits = F.linear(F.normalize(input), F.normalize(self.weight))`` clamped to +-(1 - 1e-6), ``theta =
torch.acos(logits)``. (MagFaceHeader, main.py's active choice, copies the same lines and was left unfixed; this port
uses ArcFaceHeader, README's and main.py's commented alternative, whose code the commit fixed.)

Source: github.com/jonasgrebe/pt-femb-face-embeddings, femb/headers/arcmargin.py, femb/headers/arcface.py,
femb/backbones/build.py + networks/iresnet.py, femb/model.py (``FaceEmbeddingModel``: ``params`` = backbone then
header parameter groups, ``fit``), main.py, README.md, all at 8f055a5 (= 63e04d3^); issue #3, PR #4, fix 63e04d3.
Fault label: no_gradient|params_not_updated (the angle clamp zeroes the gradient of the target-class logit, the only
term that pulls an embedding to its class -- both frameworks; PyTorch only: the header's class weights are swapped for
a new Parameter each forward and never updated by the optimizer).

Program lines kept: IBasicBlock / IResNet (layers [2, 2, 2, 2], BN eps 2e-5 momentum 0.9, PReLU, Dropout2d(0.4),
fc + BatchNorm1d, kaiming_normal fan_out conv init), ArcMarginHeader (both versions' lines verbatim) with
ArcFaceHeader's s=64.0, m=0.5, CrossEntropyLoss, SGD(lr=1e-2, momentum=0.9, weight_decay=5e-4) over all parameters,
batch 32, the transform's [-1, 1] scaling and random flip, embed_dim 256, ``torch.manual_seed`` 0 (the program sets
none).
Ported: the header's forward(input, label) is split in two methods, lines unchanged: ``cosine`` (the label-free first
lines, weight re-wrap and clamp included) runs in the model's forward, so ``model(x)`` gives the cosines to the 100
class centres; ``margin`` (acos, clamp, margin, one-hot mix, scale) runs in ``loss_fn`` with the labels, then
CrossEntropyLoss. Shrunk for CPU: 32x32 images instead of 112x112 (``fc_scale`` (32/16)^2 = 4 instead of 7*7), IResNet
channel widths divided by 4 (16, 32, 64, 128), 100 identities of 10 images instead of LFW dev-train's 4,038 identities
/ ~9.5k images. MultiStepLR milestones (2000+ steps), evaluation, logging and tensorboard dropped.
Keras twin: the same network in Keras 3 (NHWC; BN momentum 0.1 = torch's 0.9; PReLU alpha 0.25 per channel;
SpatialDropout2D(0.4); explicit 1-pixel padding before the stride-2 3x3 convs as torch pads; torch's default Dense
init), a ``CosineHeader`` layer (normalised features times normalised class weights, clamped) as the model's output,
and the margin part plus softmax cross-entropy as the compiled loss; ``SGD(1e-2, momentum=0.9, weight_decay=5e-4)``
(Keras applies the decay decoupled from the gradient). It carries fault (1) only: fault (2) is PyTorch's
``nn.Parameter`` re-wrapping, which has no Keras counterpart (a Keras weight keeps its variable), so the Keras buggy
header's weights do train.
Data stand-in (no LFW download): ``_faces`` -- 32x32 uint8 RGB synthetic faces: each identity has its own face shape,
skin, hair colour/length, eye spacing/size/colour, mouth position/width, lip colour, beard and glasses; each image its
own background colour, position, scale, head turn, mouth opening, lighting gradient, colour cast and pixel noise.
``batches``: the first 4 batches of 32 of a seeded shuffle, randomly flipped; ``inputs``: 256 training images.
At initialisation a 1-nearest-neighbour identification on unseen identities reaches ~0.13-0.18 (chance 0.017).

Measured (my own plain loops, measure.py / hdr.py in /tmp/s39/h53a; OMP_NUM_THREADS=1; the module's builds;
shuffled batches of 32 of the 1,000 training images with random flips, 300 steps = ~10 epochs; "1-NN" =
leave-one-out nearest-neighbour identification with the 256-d embeddings (cosine) on 300 images of 50 unseen
identities, "verif" = best-threshold same/different accuracy on their pairs, "acc" = training accuracy of the argmax
over the model's cosines; loss = mean of the last 10 steps):
  torch buggy: loss 6.25 / 5.78 / 0.67 / 0.39 / 0.20 / 0.13 at steps 1 / 10 / 50 / 100 / 200 / 300; 1-NN 0.177 at
    init, 0.180 / 0.053 / 0.030 / 0.060 / 0.050 at steps 10-300, verif 0.632 -> 0.537; acc 0.010 -> 0.012 (chance
    0.01); mean cosine to the own centre -0.007 -> -0.053, largest cosine +0.151 -> -0.022.
  torch fixed: loss 39.9 / 41.5 / 36.5 / 32.4 / 20.4 / 14.3; 1-NN 0.177 -> 0.273 / 0.673 / 0.827 / 0.910 / 0.933,
    verif 0.632 -> 0.924; acc 0.010 -> 0.929; cosine to the own centre -0.007 -> +0.850.
  keras buggy: loss 5.96 / 6.19 / 0.34 / 0.041 / 0.012 / 0.006; 1-NN 0.127 at init, 0.150 / 0.057 / 0.087 / 0.057 /
    0.063, verif 0.617 -> 0.528; acc 0.015 -> 0.013; cosine to the own centre -0.004 -> -0.118.
  keras fixed: loss 39.7 / 41.1 / 37.2 / 32.1 / 20.4 / 15.1; 1-NN 0.127 -> 0.317 / 0.580 / 0.817 / 0.897 / 0.897,
    verif 0.617 -> 0.925; acc 0.015 -> 0.915; cosine to the own centre -0.004 -> +0.844.
  First batch, torch: gradient of the loss with respect to the 32 target cosines 0 in total (buggy) vs 57.0 (fixed),
    64 on the other cosines in both; the smallest angle of a sample to its own centre 1.417 rad. After 10 steps
    (buggy) the header's Parameter in the model is no longer the optimizer's, the optimizer's has ``grad is None``,
    and the normalised class weights have moved by 0.0000 (fixed: 0.043).
  So the buggy run looks excellent by its loss (0.13 / 0.006 after 300 steps against the fixed run's 14.3) while its
  embeddings end worse than at initialisation and its class scores stay at chance.
About 95-105 ms per torch step and ~160 ms per Keras ``train_on_batch`` step (batch 32) on one thread of the loaded
two-core machine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "no_gradient|params_not_updated"
SOURCE = ("github:jonasgrebe/pt-femb-face-embeddings issue #3, PR #4 (femb/headers/arcmargin.py "
          "ArcMarginHeader.forward "
          "'self.linear.weight = torch.nn.Parameter(self.normalize(self.linear.weight))' and "
          "'theta = torch.acos(logits).clamp(-1, 1)' @63e04d3^ = 8f055a5, femb/headers/arcface.py ArcFaceHeader, "
          "femb/backbones/networks/iresnet.py iresnet18, femb/model.py FaceEmbeddingModel.fit, main.py, README.md; "
          "fix 63e04d3813f694ce69396d06f1fd70919d978735 'Fix flaws in ArcMarginHeader', merge fa54292)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {}), ("inputs_normalized", {})]

# main.py / README: embed_dim 256, iresnet18, ArcFaceHeader(s=64.0, m=0.5) -> ArcMarginHeader(s, m2=m),
# CrossEntropyLoss, SGD(lr=1e-2, momentum=0.9, weight_decay=5e-4), batch_size=32
embed_dim = 256
s, m = 64.0, 0.5
learning_rate, momentum, weight_decay = 1e-2, 0.9, 5e-4
batch_size = 32
SEED = 0
# port: LFW (peopleDevTrain: 4,038 identities, 112x112 after Resize) -> 100 synthetic identities x 10 images at
# 32x32; iresnet18 channel widths divided by 4 (16, 32, 64, 128)
N_IDS, PER_ID = 100, 10
IMG = 32
WIDTH_DIV = 4
N_BATCHES, N_INPUTS = 4, 256


def _faces(n_ids: int, per_id: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """LFW-deepfunneled stand-in: (n_ids * per_id, 32, 32, 3) uint8 RGB face images and int64 identity labels.
    Each identity has its own face shape, skin, hair (colour, length), eye spacing/size/colour, mouth position/width,
    lip colour, beard and glasses; each image its own background colour, position (+-5 %), scale (+-15 %), head turn
    (the eyes and mouth slide sideways), mouth opening, lighting gradient and brightness, colour cast and pixel
    noise (sd 15), so identities have to be told apart from the face, not from the picture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:IMG, :IMG].astype(np.float64) / IMG
    ids = []
    for _ in range(n_ids):
        ids.append(dict(
            skin=rng.uniform([120, 80, 60], [240, 200, 170]), hair=rng.uniform(10, 200, 3),
            fw=rng.uniform(0.26, 0.36), fh=rng.uniform(0.34, 0.44),
            ey=rng.uniform(0.38, 0.48), es=rng.uniform(0.09, 0.16), er=rng.uniform(0.025, 0.05),
            my=rng.uniform(0.66, 0.76), mw=rng.uniform(0.06, 0.14), hl=rng.uniform(0.12, 0.3),
            iris=rng.uniform(20, 160, 3), lip=rng.uniform([120, 30, 30], [220, 110, 110]),
            beard=rng.random() < 0.25, glasses=rng.random() < 0.2))
    x = np.empty((n_ids * per_id, IMG, IMG, 3), np.float64)
    y = np.repeat(np.arange(n_ids), per_id)
    for k, c in enumerate(y):
        p = ids[c]
        dx, dy = rng.normal(0, 0.05, 2)
        sc = rng.uniform(0.85, 1.15)
        yaw = rng.normal(0, 0.04)
        X = (xx - 0.5 - dx) / sc
        Y = (yy - 0.5 - dy) / sc
        img = np.broadcast_to(rng.uniform(30, 220, 3), (IMG, IMG, 3)).copy()
        face = (X / p["fw"]) ** 2 + ((Y - 0.05) / p["fh"]) ** 2 <= 1
        hair = (((X / (p["fw"] * 1.1)) ** 2 + ((Y + 0.02) / (p["fh"] * 1.1)) ** 2 <= 1)
                & (Y + 0.5 < 0.5 - p["fh"] + p["hl"] + 0.05))
        img[hair] = p["hair"]
        img[face & ~hair] = p["skin"]
        for sx in (-1, 1):
            r = np.sqrt((X - yaw - sx * p["es"]) ** 2 + (Y + 0.5 - p["ey"]) ** 2)
            img[r <= p["er"]] = p["iris"]
            if p["glasses"]:
                img[np.abs(r - p["er"] * 2) < 0.012] = (20, 20, 20)
        mouth = ((np.abs(X - yaw) <= p["mw"] * rng.uniform(0.7, 1.3))
                 & (np.abs(Y + 0.5 - p["my"]) <= rng.uniform(0.015, 0.04)))
        img[mouth] = p["lip"]
        if p["beard"]:
            b = face & (Y + 0.5 > p["my"] + 0.03)
            img[b] = 0.5 * img[b] + 0.5 * p["hair"]
        light = 1 + rng.uniform(-0.6, 0.6) * (xx - 0.5) + rng.uniform(-0.3, 0.3)
        img = img * light[..., None] * rng.uniform(0.85, 1.15, 3) + rng.normal(0, 15, img.shape)
        x[k] = img
    return np.clip(x, 0, 255).astype(np.uint8), y.astype(np.int64)


def _transform(x: np.ndarray, flip_rng: np.random.Generator | None) -> np.ndarray:
    """main.py's transform after Resize: ToTensor (/255), Normalize((0.5,)*3, (0.5,)*3), RandomHorizontalFlip;
    NHWC float32 in [-1, 1]."""
    x = (x.astype(np.float32) / 255.0 - 0.5) / 0.5
    if flip_rng is not None:
        f = flip_rng.random(len(x)) < 0.5
        x[f] = x[f][:, :, ::-1]
    return np.ascontiguousarray(x)


def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """``batches``: the first 4 batches of 32 of a seeded shuffle (DataLoader(shuffle=True)), flipped at random;
    ``inputs``: 256 training images without the flip."""
    x, y = _faces(N_IDS, PER_ID, SEED)
    rng = np.random.default_rng(SEED)
    perm = rng.permutation(len(y))
    batches = []
    for i in range(N_BATCHES):
        idx = perm[i * batch_size:(i + 1) * batch_size]
        batches.append((_transform(x[idx], rng), y[idx]))
    return batches, _transform(x[perm[:N_INPUTS]], None)


def _torch(bug: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    def conv3x3(in_planes, out_planes, stride=1, groups=1, dilation=1):
        """3x3 convolution with padding"""
        return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=dilation, groups=groups,
                         bias=False, dilation=dilation)

    def conv1x1(in_planes, out_planes, stride=1):
        """1x1 convolution"""
        return nn.Conv2d(in_planes, out_planes, kernel_size=1, stride=stride, bias=False)

    class IBasicBlock(nn.Module):
        expansion = 1

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super(IBasicBlock, self).__init__()
            self.bn1 = nn.BatchNorm2d(inplanes, eps=2e-05, momentum=0.9)
            self.conv1 = conv3x3(inplanes, planes)
            self.bn2 = nn.BatchNorm2d(planes, eps=2e-05, momentum=0.9)
            self.prelu = nn.PReLU(planes)
            self.conv2 = conv3x3(planes, planes, stride)
            self.bn3 = nn.BatchNorm2d(planes, eps=2e-05, momentum=0.9)
            self.downsample = downsample
            self.stride = stride

        def forward(self, x):
            identity = x
            out = self.bn1(x)
            out = self.conv1(out)
            out = self.bn2(out)
            out = self.prelu(out)
            out = self.conv2(out)
            out = self.bn3(out)
            if self.downsample is not None:
                identity = self.downsample(x)
            out += identity
            return out

    class IResNet(nn.Module):
        fc_scale = (IMG // 16) ** 2  # 7 * 7 for 112x112 inputs

        def __init__(self, block, layers, num_classes=512):
            super(IResNet, self).__init__()
            w = [64 // WIDTH_DIV, 128 // WIDTH_DIV, 256 // WIDTH_DIV, 512 // WIDTH_DIV]
            self.inplanes = w[0]
            self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=3, stride=1, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(self.inplanes, eps=2e-05, momentum=0.9)
            self.prelu = nn.PReLU(self.inplanes)
            self.layer1 = self._make_layer(block, w[0], layers[0], stride=2)
            self.layer2 = self._make_layer(block, w[1], layers[1], stride=2)
            self.layer3 = self._make_layer(block, w[2], layers[2], stride=2)
            self.layer4 = self._make_layer(block, w[3], layers[3], stride=2)
            self.bn2 = nn.BatchNorm2d(w[3] * block.expansion, eps=2e-05, momentum=0.9)
            self.dropout = nn.Dropout2d(p=0.4, inplace=True)
            self.fc = nn.Linear(w[3] * block.expansion * self.fc_scale, num_classes)
            self.features = nn.BatchNorm1d(num_classes, eps=2e-05, momentum=0.9)
            for m_ in self.modules():
                if isinstance(m_, nn.Conv2d):
                    nn.init.kaiming_normal_(m_.weight, mode='fan_out', nonlinearity='relu')
                elif isinstance(m_, (nn.BatchNorm2d, nn.GroupNorm)):
                    nn.init.constant_(m_.weight, 1)
                    nn.init.constant_(m_.bias, 0)

        def _make_layer(self, block, planes, blocks, stride=1):
            downsample = None
            if stride != 1 or self.inplanes != planes * block.expansion:
                downsample = nn.Sequential(
                    conv1x1(self.inplanes, planes * block.expansion, stride),
                    nn.BatchNorm2d(planes * block.expansion, eps=2e-05, momentum=0.9),
                )
            layers = [block(self.inplanes, planes, stride, downsample)]
            self.inplanes = planes * block.expansion
            for _ in range(1, blocks):
                layers.append(block(self.inplanes, planes))
            return nn.Sequential(*layers)

        def forward(self, x):
            x = self.conv1(x)
            x = self.bn1(x)
            x = self.prelu(x)
            x = self.layer1(x)
            x = self.layer2(x)
            x = self.layer3(x)
            x = self.layer4(x)
            x = self.bn2(x)
            x = self.dropout(x)
            x = x.view(x.size(0), -1)
            x = self.fc(x)
            x = self.features(x)
            return x

    class ArcMarginHeader(torch.nn.Module):
        """femb/headers/arcmargin.py; its forward(input, label) split in two: ``cosine`` (the label-free first
        lines) runs in the model's forward, ``margin`` (the rest) in the loss."""

        def __init__(self, in_features, out_features, s=1, m1=1, m2=0, m3=0):
            super(ArcMarginHeader, self).__init__()
            self.in_features = in_features
            self.out_features = out_features
            self.s = s
            self.m1 = m1
            self.m2 = m2
            self.m3 = m3
            if bug:  # 8f055a5
                self.linear = torch.nn.Linear(in_features=in_features, out_features=out_features, bias=False)
                self.normalize = torch.nn.functional.normalize
            else:  # 63e04d3
                self.weight = torch.nn.Parameter(torch.FloatTensor(out_features, in_features))
                torch.nn.init.xavier_uniform_(self.weight)
            self.epsilon = 1e-6

        def cosine(self, input):
            # multiply normed features (input) and normed weights to obtain cosine of theta (logits)
            if bug:
                self.linear.weight = torch.nn.Parameter(self.normalize(self.linear.weight))
                logits = self.linear(self.normalize(input)).clamp(-1 + self.epsilon, 1 - self.epsilon)
            else:
                logits = F.linear(F.normalize(input), F.normalize(self.weight), bias=None)
                logits = logits.clamp(-1.0 + self.epsilon, 1.0 - self.epsilon)
            return logits

        def margin(self, logits, label):
            # apply arccos to get theta
            if bug:
                theta = torch.acos(logits).clamp(-1, 1)
            else:
                theta = torch.acos(logits)
            # add angular margin (m) to theta and transform back by cos
            target_logits = torch.cos(self.m1 * theta + self.m2) - self.m3
            # derive one-hot encoding for label
            one_hot = torch.zeros(logits.size(), device=logits.device)
            one_hot.scatter_(1, label.view(-1, 1).long(), 1.0)
            # build the output logits
            output = one_hot * target_logits + (1.0 - one_hot) * logits
            # feature re-scaling
            output *= self.s
            return output

        def forward(self, input, label):
            return self.margin(self.cosine(input), label)

    class ArcFaceHeader(ArcMarginHeader):
        def __init__(self, in_features, out_features, s=64.0, m=0.5):
            super(ArcFaceHeader, self).__init__(in_features=in_features, out_features=out_features, s=s, m2=m)

    class FaceEmbeddingModel(nn.Module):
        """backbone -> header cosines: FaceEmbeddingModel.fit's ``features = self.backbone(inputs)``,
        ``features.view(...)``, then the header's label-free part."""

        def __init__(self, backbone, header):
            super().__init__()
            self.backbone = backbone
            self.header = header

        def forward(self, inputs):
            features = self.backbone(inputs)
            features = features.view(features.shape[0], features.shape[1])
            return self.header.cosine(features)

    torch.manual_seed(SEED)
    backbone = IResNet(IBasicBlock, [2, 2, 2, 2], num_classes=embed_dim)  # build_backbone("iresnet18", embed_dim)
    header = ArcFaceHeader(in_features=embed_dim, out_features=N_IDS, s=s, m=m)
    model = FaceEmbeddingModel(backbone, header)
    model.train()
    ce = torch.nn.CrossEntropyLoss()

    def loss_fn(logits, labels):  # outputs = self.header(features, labels); self.loss(outputs, labels)
        return ce(model.header.margin(logits, labels), labels)

    def make_optimizer(params):  # SGD(params=face_model.params, ...)
        return torch.optim.SGD(params=params, lr=learning_rate, momentum=momentum, weight_decay=weight_decay)

    batches, inputs = _data()
    tb = [(torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))), torch.from_numpy(y))
          for x, y in batches]
    return {"model": model, "batch": tb[0], "batches": tb,
            "inputs": torch.from_numpy(np.ascontiguousarray(inputs.transpose(0, 3, 1, 2))),
            "loss_fn": loss_fn, "optimizer": make_optimizer}


def _keras(bug: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)
    conv_init = keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")  # kaiming_normal fan_out

    def bn() -> Any:  # nn.BatchNorm2d/1d(eps=2e-05, momentum=0.9): Keras' momentum is the complement
        return layers.BatchNormalization(epsilon=2e-05, momentum=0.1)

    def prelu() -> Any:  # nn.PReLU(channels), alpha 0.25 per channel
        return layers.PReLU(alpha_initializer=keras.initializers.Constant(0.25), shared_axes=[1, 2])

    def conv(filters: int, k: int, stride: int) -> Any:
        return layers.Conv2D(filters, k, strides=stride, padding="same" if k == 3 else "valid", use_bias=False,
                             kernel_initializer=conv_init)

    def block(x: Any, planes: int, stride: int, downsample: bool) -> Any:  # IBasicBlock
        out = bn()(x)
        out = conv(planes, 3, 1)(out)
        out = bn()(out)
        out = prelu()(out)
        if stride == 2:  # torch: padding 1 on both sides for the stride-2 3x3 conv
            out = layers.ZeroPadding2D(1)(out)
            out = layers.Conv2D(planes, 3, strides=2, padding="valid", use_bias=False,
                                kernel_initializer=conv_init)(out)
        else:
            out = conv(planes, 3, 1)(out)
        out = bn()(out)
        identity = x
        if downsample:
            identity = bn()(conv(planes, 1, stride)(x))
        return layers.Add()([out, identity])

    class CosineHeader(layers.Layer):
        """ArcMarginHeader's label-free part: normalised features times normalised class weights, clamped."""

        def __init__(self, in_features: int, out_features: int) -> None:
            super().__init__()
            if bug:  # torch.nn.Linear(bias=False) default init
                init = keras.initializers.RandomUniform(-in_features ** -0.5, in_features ** -0.5)
            else:  # xavier_uniform_
                init = keras.initializers.GlorotUniform()
            self.weight = self.add_weight(shape=(in_features, out_features), initializer=init, name="weight")
            self.epsilon = 1e-6

        def call(self, x: Any) -> Any:
            xn = x / ops.maximum(ops.norm(x, axis=1, keepdims=True), 1e-12)
            wn = self.weight / ops.maximum(ops.norm(self.weight, axis=0, keepdims=True), 1e-12)
            return ops.clip(ops.matmul(xn, wn), -1.0 + self.epsilon, 1.0 - self.epsilon)

    w = [64 // WIDTH_DIV, 128 // WIDTH_DIV, 256 // WIDTH_DIV, 512 // WIDTH_DIV]
    inp = keras.Input((IMG, IMG, 3))
    x = conv(w[0], 3, 1)(inp)
    x = bn()(x)
    x = prelu()(x)
    inplanes = w[0]
    for planes in w:  # layers [2, 2, 2, 2], each starting with stride 2
        x = block(x, planes, 2, True)
        x = block(x, planes, 1, False)
        inplanes = planes
    x = bn()(x)
    x = layers.SpatialDropout2D(0.4)(x)
    x = layers.Flatten()(x)
    fan_in = inplanes * (IMG // 16) ** 2
    x = layers.Dense(embed_dim, kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
                     bias_initializer=keras.initializers.RandomUniform(-fan_in ** -0.5, fan_in ** -0.5))(x)
    x = bn()(x)
    out = CosineHeader(embed_dim, N_IDS)(x)
    model = keras.Model(inp, out)

    def arcface_loss(y_true: Any, logits: Any) -> Any:  # ArcMarginHeader's margin part, then CrossEntropyLoss
        theta = ops.arccos(logits)
        if bug:  # 8f055a5
            theta = ops.clip(theta, -1.0, 1.0)
        target_logits = ops.cos(theta + m)
        one_hot = ops.one_hot(ops.reshape(ops.cast(y_true, "int32"), (-1,)), N_IDS)
        output = (one_hot * target_logits + (1.0 - one_hot) * logits) * s
        return ops.mean(keras.losses.categorical_crossentropy(one_hot, output, from_logits=True))

    model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=momentum,
                                                 weight_decay=weight_decay),
                  loss=arcface_loss)
    batches, inputs = _data()
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs}


buggy, fixed = versions(_torch, _keras, flag="bug")
