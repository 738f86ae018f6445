"""wkentaro/pytorch-fcn (a PyTorch port of Long et al.'s Fully Convolutional Networks), ``examples/voc/train_fcn32s.py``
with ``torchfcn.Trainer``: FCN32s (VGG16 conv1_1 .. conv5_3 with ``padding=100`` on conv1_1, fc6 as a 7x7 conv and
fc7 as a 1x1 conv, each followed by ReLU and ``nn.Dropout2d()`` (p 0.5), ``score_fr`` 1x1 to 21 classes, a fixed
bilinear ``ConvTranspose2d(21, 21, 64, stride=32)`` and a crop) trained on SBD/VOC (21 classes, 255 = void -> -1)
with ``cross_entropy2d(size_average=False)`` (the per-pixel NLL summed over the image) divided by the batch size,
``SGD(lr=1e-10, momentum=0.99, weight_decay=5e-4)`` with biases at 2x lr and no decay, batch size 1,
``interval_validate=4000``, ``max_iteration=100000``.
The fault is in the Trainer's mode handling: ``validate()`` starts with ``self.model.eval()`` and never switches
back, while ``train_epoch()`` calls ``self.model.train()`` only once, at the start of an epoch, and runs
``if self.iteration % self.interval_validate == 0: self.validate()`` *inside* the batch loop, before the update.
Since iteration 0 validates, the whole first epoch (SBD train: 8,498 iterations at batch size 1) is trained in eval
mode, then the next epoch trains in train mode only until iteration 12,000, and so on: about 77,000 of the
100,000 iterations run with ``drop6``/``drop7`` switched off (and any BatchNorm a user adds would use its frozen
running statistics). PR #56: "Validation can occur before end of epoch, which sets model mode to eval. Training will
have no effect until end of the epoch"; issue #57: "the training loss will suddenly become larger when a new epoch
starts ... because of the incorrect use of the training and evaluating mode".

Source: github.com/wkentaro/pytorch-fcn PR #56 and issue #57; buggy ``torchfcn/trainer.py`` at d10dd30^ (479b9e09,
with ``torchfcn/models/fcn32s.py``, ``examples/voc/train_fcn32s.py``, ``torchfcn/datasets/voc.py``); fixed by the
author's commit d10dd3062824195fe5cc9d196b4af4081247bb3f "Check training mode in the Trainer":
``training = self.model.training`` at the top of ``validate()``, ``if training: self.model.train()`` at its end,
and ``assert self.model.training`` in the batch loop.
Program lines kept: ``FCN32s`` (layers, forward with the 19-pixel crop, ``_initialize_weights`` zeros and the
bilinear ``get_upsampling_weight`` kernel), ``cross_entropy2d``, the loss ``/ len(data)``, ``get_parameters``'
grouping (conv weights; conv biases at ``lr * 2`` and ``weight_decay=0``; the upscore kernel left out of the
optimizer), the SGD settings, batch size 1, ``VOCClassSegBase.transform`` (RGB -> BGR, minus ``mean_bgr``, CHW
float) and the train_epoch/validate mode logic, as ``train_step`` (it counts iterations on the optimizer, calls
``model.train()`` when an epoch of 8,498 iterations starts and ``validate()`` every 4,000 iterations before the
update; ``validate`` runs the model in eval mode under ``no_grad`` on 16 held-out images and (fixed) restores the
mode). ``model`` is returned in train mode, as ``train_epoch`` leaves it before its first ``validate()``.
Ported / changed: ``F.log_softmax(input, dim=1)`` and ``reduction='sum'`` for the old implicit-dim / size_average
calls, and the (n, h, w, c) boolean mask of ``cross_entropy2d`` reshaped to (n*h*w, c) (torch 2 no longer indexes a
2-D tensor with a 4-D mask; same pixels kept). The ImageNet VGG16 weights that ``copy_params_from_vgg16`` copies are
not shipped: conv1_1 .. fc7 get He-normal kernels and zero biases instead (torch's default init lets the signal die
out over the 15 layers); score_fr keeps the program's zeros. Shrunk for CPU: channel widths divided by 16 (4, 8, 16,
32, 32, fc 256) and 64x64 images instead of VOC's ~500x375 (a step of the original is several seconds on one CPU
thread; the padding of 100 makes conv1 run on 262x262 even here). Because the summed loss now covers 4,096 pixels
instead of ~190,000 and the weights are not VGG16's, the program's lr 1e-10 barely moves the loss (2.908 -> 2.882 per
pixel in 80 steps, measured in a first version of this port with widths / 8 and torch's default init); lr is 1e-9 here.
Data stand-in (no SBD/VOC download): ``_voc_like``, 64x64 uint8 RGB images of a smooth random-colour background with
one or two objects (ellipses or boxes) whose class (1..20) sets their colour and stripe texture, label maps 0..20
with a 1-pixel void band (255 -> -1) around each object; ~85 % of the valid pixels are background (VOC: ~70-75 %).
``batches`` are 8 training images (batch size 1), ``inputs`` 256 held-out images.
Fault label: other:trained_in_eval_mode (a validation pass leaves the model in eval mode, so training runs with
its dropout layers off until the next epoch starts).
Fix (d10dd30): ``validate()`` restores the training mode it found.
Keras twin: none; Keras' ``fit``/``train_on_batch`` pass ``training=True`` on every call, there is no sticky mode
flag for a validation pass to leave behind.

Symptom, measured with my own plain loop (``train_step`` as given, cycling over the 8 training images, torch seed
1337 as in the program, OMP_NUM_THREADS=1, ~80 ms a step on the loaded two-core machine; losses per pixel). After
the first ``train_step`` the buggy model reports ``model.training == False`` (``drop6.training == False``) and two
forward passes of one batch are identical (max |diff| 0.0), while the fixed one stays in train mode (max |diff|
0.32 from dropout). Training loss (mean of the last 8 steps): buggy 2.908 / 1.859 / 0.733 / 0.731 at steps 1 / 40
/ 120 / 240, fixed 2.908 / 1.977 / 0.767 / 0.771. Loss of the 8 training images evaluated in eval vs train mode
(dropout off vs on): buggy step 120 0.723 vs 0.803, step 240 0.730 vs 0.801 (the network has adapted to running
without dropout, so switching it back on costs +10 %: the jump at each new epoch that issue #57 reports); fixed
step 120 0.802 vs 0.824, step 240 0.775 vs 0.751. Held-out loss on 64 images: buggy 1.054 / 1.036, fixed 1.096 /
1.110 at steps 120 / 240. In this port neither version gets past predicting background everywhere (held-out pixel
accuracy 0.854 = the background share, foreground accuracy 0.000 for both after 240 steps: at 64x64 the score map
is 2x2 before the 32x upsampling), so the fault shows only as the mode flag, deterministic training forwards and
the eval/train loss gap, not as a difference in what is learned.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "other:trained_in_eval_mode"
SOURCE = ("github:wkentaro/pytorch-fcn PR #56, issue #57 (torchfcn/trainer.py Trainer.validate/train_epoch "
          "@d10dd30^ = 479b9e09827657041a5879cbb475c44abd712fb8, torchfcn/models/fcn32s.py, "
          "examples/voc/train_fcn32s.py, torchfcn/datasets/voc.py; fix d10dd3062824195fe5cc9d196b4af4081247bb3f "
          "'Check training mode in the Trainer')")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {})]

# examples/voc/train_fcn32s.py configurations[1]
max_iteration, lr, momentum, weight_decay, interval_validate = 100000, 1.0e-10, 0.99, 0.0005, 4000
lr = 1.0e-9  # port: x10, the loss is summed over 4,096 pixels instead of VOC's ~190,000 (see docstring)
batch_size = 1  # DataLoader(SBDClassSeg(split='train'), batch_size=1, shuffle=True)
EPOCH_LEN = 8498  # len(train_loader): SBD train split, one image a batch
n_class = 21
mean_bgr = np.array([104.00698793, 116.66876762, 122.67891434])  # VOCClassSegBase.mean_bgr
WIDTH_DIV = 16  # port: VGG16 channel widths divided by 16 (see docstring)
IMG = 64  # port: 64x64 images instead of VOC's ~500x375
N_BATCHES, N_INPUTS = 8, 256


def _voc_like(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """VOC-shaped samples at 64x64: uint8 RGB images (n, 64, 64, 3) and int32 label maps (n, 64, 64) with
    0 = background, 1..20 = object classes, 255 on a 1-pixel band around each object (VOC's 'void' outline).
    Each image is a smooth random-colour background with 1-2 objects (ellipses or boxes); each class has its
    own mean colour and its own stripe frequency/orientation, so class follows from the pixels around."""
    rng = np.random.default_rng(seed)
    cls_rgb = rng.uniform(30, 225, (n_class, 3))
    cls_freq = rng.uniform(0.15, 0.9, n_class)
    cls_ang = rng.uniform(0, np.pi, n_class)
    yy, xx = np.mgrid[:IMG, :IMG].astype(np.float64)
    imgs = np.empty((n, IMG, IMG, 3), np.float64)
    lbls = np.zeros((n, IMG, IMG), np.int32)
    for i in range(n):
        c0, c1 = rng.uniform(40, 200, 3), rng.uniform(40, 200, 3)
        t = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) / (2 * IMG) + 0.5
        img = c0 + (c1 - c0) * t[..., None]
        lbl = np.zeros((IMG, IMG), np.int32)
        for _ in range(rng.integers(1, 3)):
            c = int(rng.integers(1, n_class))
            cy, cx = rng.uniform(14, IMG - 14, 2)
            ry, rx = rng.uniform(7, 16, 2)
            if rng.random() < 0.5:
                m = ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1.0
            else:
                m = (np.abs(yy - cy) <= ry) & (np.abs(xx - cx) <= rx)
            stripes = np.sin(cls_freq[c] * (xx * np.cos(cls_ang[c]) + yy * np.sin(cls_ang[c])))
            tex = cls_rgb[c] + 30.0 * stripes[..., None]
            img[m] = tex[m]
            lbl[m] = c
        img += rng.normal(0, 8, img.shape)
        # void band: pixels whose 4-neighbourhood holds another label
        pad = np.pad(lbl, 1, mode="edge")
        edge = ((pad[1:-1, 1:-1] != pad[:-2, 1:-1]) | (pad[1:-1, 1:-1] != pad[2:, 1:-1])
                | (pad[1:-1, 1:-1] != pad[1:-1, :-2]) | (pad[1:-1, 1:-1] != pad[1:-1, 2:]))
        lbl[edge] = 255
        imgs[i], lbls[i] = img, lbl
    return np.clip(imgs, 0, 255).astype(np.uint8), lbls


def _transform(img: np.ndarray, lbl: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """VOCClassSegBase.__getitem__ (lbl[lbl == 255] = -1) and transform(), batched."""
    lbl = lbl.astype(np.int64)
    lbl[lbl == 255] = -1
    img = img[..., ::-1]  # RGB -> BGR
    img = img.astype(np.float64)
    img -= mean_bgr
    img = img.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(img, dtype=np.float32), lbl


def _data():
    train_img, train_lbl = _voc_like(N_BATCHES * batch_size, seed=0)
    val_img, val_lbl = _voc_like(N_INPUTS, seed=1)
    return _transform(train_img, train_lbl), _transform(val_img, val_lbl)


def _fcn32s():
    import torch
    import torch.nn as nn

    def get_upsampling_weight(in_channels, out_channels, kernel_size):
        """Make a 2D bilinear kernel suitable for upsampling"""
        factor = (kernel_size + 1) // 2
        if kernel_size % 2 == 1:
            center = factor - 1
        else:
            center = factor - 0.5
        og = np.ogrid[:kernel_size, :kernel_size]
        filt = (1 - abs(og[0] - center) / factor) * \
               (1 - abs(og[1] - center) / factor)
        weight = np.zeros((in_channels, out_channels, kernel_size, kernel_size),
                          dtype=np.float64)
        weight[range(in_channels), range(out_channels), :, :] = filt
        return torch.from_numpy(weight).float()

    w1, w2, w3, w4, w5, w6 = (64 // WIDTH_DIV, 128 // WIDTH_DIV, 256 // WIDTH_DIV, 512 // WIDTH_DIV,
                              512 // WIDTH_DIV, 4096 // WIDTH_DIV)

    class FCN32s(nn.Module):

        def __init__(self, n_class=21):
            super(FCN32s, self).__init__()
            # conv1
            self.conv1_1 = nn.Conv2d(3, w1, 3, padding=100)
            self.relu1_1 = nn.ReLU(inplace=True)
            self.conv1_2 = nn.Conv2d(w1, w1, 3, padding=1)
            self.relu1_2 = nn.ReLU(inplace=True)
            self.pool1 = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # 1/2

            # conv2
            self.conv2_1 = nn.Conv2d(w1, w2, 3, padding=1)
            self.relu2_1 = nn.ReLU(inplace=True)
            self.conv2_2 = nn.Conv2d(w2, w2, 3, padding=1)
            self.relu2_2 = nn.ReLU(inplace=True)
            self.pool2 = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # 1/4

            # conv3
            self.conv3_1 = nn.Conv2d(w2, w3, 3, padding=1)
            self.relu3_1 = nn.ReLU(inplace=True)
            self.conv3_2 = nn.Conv2d(w3, w3, 3, padding=1)
            self.relu3_2 = nn.ReLU(inplace=True)
            self.conv3_3 = nn.Conv2d(w3, w3, 3, padding=1)
            self.relu3_3 = nn.ReLU(inplace=True)
            self.pool3 = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # 1/8

            # conv4
            self.conv4_1 = nn.Conv2d(w3, w4, 3, padding=1)
            self.relu4_1 = nn.ReLU(inplace=True)
            self.conv4_2 = nn.Conv2d(w4, w4, 3, padding=1)
            self.relu4_2 = nn.ReLU(inplace=True)
            self.conv4_3 = nn.Conv2d(w4, w4, 3, padding=1)
            self.relu4_3 = nn.ReLU(inplace=True)
            self.pool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # 1/16

            # conv5
            self.conv5_1 = nn.Conv2d(w4, w5, 3, padding=1)
            self.relu5_1 = nn.ReLU(inplace=True)
            self.conv5_2 = nn.Conv2d(w5, w5, 3, padding=1)
            self.relu5_2 = nn.ReLU(inplace=True)
            self.conv5_3 = nn.Conv2d(w5, w5, 3, padding=1)
            self.relu5_3 = nn.ReLU(inplace=True)
            self.pool5 = nn.MaxPool2d(2, stride=2, ceil_mode=True)  # 1/32

            # fc6
            self.fc6 = nn.Conv2d(w5, w6, 7)
            self.relu6 = nn.ReLU(inplace=True)
            self.drop6 = nn.Dropout2d()

            # fc7
            self.fc7 = nn.Conv2d(w6, w6, 1)
            self.relu7 = nn.ReLU(inplace=True)
            self.drop7 = nn.Dropout2d()

            self.score_fr = nn.Conv2d(w6, n_class, 1)
            self.upscore = nn.ConvTranspose2d(n_class, n_class, 64, stride=32,
                                              bias=False)

            self._initialize_weights()

        def _initialize_weights(self):
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    m.weight.data.zero_()
                    if m.bias is not None:
                        m.bias.data.zero_()
                if isinstance(m, nn.ConvTranspose2d):
                    assert m.kernel_size[0] == m.kernel_size[1]
                    initial_weight = get_upsampling_weight(
                        m.in_channels, m.out_channels, m.kernel_size[0])
                    m.weight.data.copy_(initial_weight)

        def forward(self, x):
            h = x
            h = self.relu1_1(self.conv1_1(h))
            h = self.relu1_2(self.conv1_2(h))
            h = self.pool1(h)

            h = self.relu2_1(self.conv2_1(h))
            h = self.relu2_2(self.conv2_2(h))
            h = self.pool2(h)

            h = self.relu3_1(self.conv3_1(h))
            h = self.relu3_2(self.conv3_2(h))
            h = self.relu3_3(self.conv3_3(h))
            h = self.pool3(h)

            h = self.relu4_1(self.conv4_1(h))
            h = self.relu4_2(self.conv4_2(h))
            h = self.relu4_3(self.conv4_3(h))
            h = self.pool4(h)

            h = self.relu5_1(self.conv5_1(h))
            h = self.relu5_2(self.conv5_2(h))
            h = self.relu5_3(self.conv5_3(h))
            h = self.pool5(h)

            h = self.relu6(self.fc6(h))
            h = self.drop6(h)

            h = self.relu7(self.fc7(h))
            h = self.drop7(h)

            h = self.score_fr(h)

            h = self.upscore(h)
            h = h[:, :, 19:19 + x.size()[2], 19:19 + x.size()[3]].contiguous()

            return h

        def copy_params_from_vgg16(self):
            """Stand-in for copy_params_from_vgg16(VGG16(pretrained=True)): conv1_1 .. conv5_3, fc6 and fc7
            get He-normal kernels and zero biases (activations keep their scale through the 15 layers, as
            the trained VGG16's do) instead of the (not shipped) ImageNet VGG16 weights;
            score_fr keeps the program's zeros, upscore its fixed bilinear kernel."""
            for name, m in self.named_children():
                if isinstance(m, nn.Conv2d) and name != "score_fr":
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                    nn.init.zeros_(m.bias)

    model = FCN32s(n_class=n_class)
    model.copy_params_from_vgg16()
    return model


def _build(framework: str, restore_mode: bool) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError("torch only: Keras' fit/train_on_batch pass training=True on every call, there is no "
                         "sticky train/eval flag for a validation pass to leave behind")
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    (x_train, y_train), (x_val, y_val) = _data()
    torch.manual_seed(1337)
    model = _fcn32s()
    model.train()  # Trainer.train_epoch(): self.model.train()

    def cross_entropy2d(input, target, weight=None, size_average=False):  # torchfcn/trainer.py
        # input: (n, c, h, w), target: (n, h, w)
        n, c, h, w = input.size()
        # log_p: (n, c, h, w)
        log_p = F.log_softmax(input, dim=1)
        # log_p: (n*h*w, c)
        log_p = log_p.transpose(1, 2).transpose(2, 3).contiguous().view(-1, c)
        log_p = log_p[target.view(n * h * w, 1).repeat(1, c) >= 0]  # the program's (n, h, w, c) mask, as torch 2 needs it
        log_p = log_p.view(-1, c)
        # target: (n*h*w,)
        mask = target >= 0
        target = target[mask]
        loss = F.nll_loss(log_p, target, weight=weight, reduction='sum')
        if size_average:
            loss /= mask.data.sum()
        return loss

    def loss_fn(score, target):  # train_epoch(): cross_entropy2d(size_average=self.size_average=False) / len(data)
        loss = cross_entropy2d(score, target, size_average=False)
        loss /= len(score)
        return loss

    upscore_weight = model.upscore.weight

    def make_optimizer(params):  # train_fcn32s.py: get_parameters(model, bias=False/True), SGD
        params = [p for p in params if p is not upscore_weight]  # upscore: frozen bilinear upsampling
        weights = [p for p in params if p.ndim > 1]
        biases = [p for p in params if p.ndim <= 1]
        optim = torch.optim.SGD(
            [
                {'params': weights},
                {'params': biases, 'lr': lr * 2, 'weight_decay': 0},
            ],
            lr=lr,
            momentum=momentum,
            weight_decay=weight_decay)
        optim.iteration = 0
        return optim

    x_val_t = torch.from_numpy(x_val[:16])
    y_val_t = torch.from_numpy(y_val[:16])

    def validate(model):  # Trainer.validate(), without the metrics, images and checkpoint it writes
        training = model.training
        model.eval()
        with torch.no_grad():
            for i in range(len(x_val_t)):
                cross_entropy2d(model(x_val_t[i:i + 1]), y_val_t[i:i + 1], size_average=False)
        if restore_mode and training:  # fix d10dd30
            model.train()

    def train_step(model, optimizer, loss, x, y):  # Trainer.train_epoch(), one iteration
        iteration = getattr(optimizer, "iteration", 0)
        if iteration % EPOCH_LEN == 0:
            model.train()  # train_epoch() starts: self.model.train()
        if iteration % interval_validate == 0:
            validate(model)  # buggy: leaves the model in eval mode until the next epoch starts
        optimizer.zero_grad()
        score = model(x)
        l = loss(score, y)
        l.backward()
        optimizer.step()
        optimizer.iteration = iteration + 1
        return l

    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    batches = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, len(xt), batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.from_numpy(x_val),
            "loss_fn": loss_fn, "optimizer": make_optimizer, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, restore_mode=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, restore_mode=True)
