"""JeasunLok/ResNet-pytorch (the ResNet part of an open "starting deep learning" course of IMARS, Sun
Yat-Sen University: scene classification, CIFAR-10 or SIRI-WHU): ``resnet34`` (``model/ResNet.py``:
7x7/2 conv 64 + BatchNorm + ReLU + 3x3/2 max-pool, BasicBlock stages [3, 4, 6, 3] of 64/128/256/512
channels, adaptive average pool, ``Linear(512, num_classes)``), the Conv2d and Linear weights re-drawn
with ``kaiming_normal_(mode='fan_in')`` in ``main.py``, ``CrossEntropyLoss``, ``SGD(lr=0.001,
momentum=0.9, weight_decay=5e-4)``, batch size 32.
The fault is in ``main.py``'s datasets: only the training set gets the transform,
``get_transform(input_shape, IsTotensor=True, IsRandomRotation=True)`` (``RandomRotation(10)`` then
``ToTensor()``: CHW floats in [0, 1]); ``val_dataset = MyDataset(val_lines, input_shape=input_shape)`` and
``test_dataset = MyDataset(test_lines, ...)`` get ``transform=None``, for which
``MyDataset.__getitem__`` returns ``torch.from_numpy(np.transpose(np.array(image), [2, 0, 1]))``, the raw
uint8 pixels, which ``valid_epoch`` / ``test_epoch`` turn into floats with ``.float()``. So the network
is trained on [0, 1] images and validated and tested on the same kind of images in 0..255, 255 times
larger: the BatchNorm running statistics learnt on [0, 1] inputs do not fit them, and the evaluation
accuracy is poor although training looks fine (issue #1: "Why is the training accuracy okay, but the
testing accuracy is very low?").

Source: github.com/JeasunLok/ResNet-pytorch issue #1 (the author: "The testing accuracy is low because
the normalization has been used in training set but not used in testing set ... I have revised my code in
main.py to make sure the same transformation of the train set and val/test set"); fix commit
ecc4991dd9e40f5aeee9b968adeae25caaa3b337 ("fix: transform bugs"): ``val_dataset`` and ``test_dataset``
are built with ``transform=image_transform`` too. Buggy files at ecc4991^: ``main.py``,
``utils/dataloader.py`` (``MyDataset``), ``utils/utils.py`` (``get_transform``), ``model/ResNet.py``,
``train.py`` / ``test.py`` (``batch_data.to(device).float()``).
Fault label: preprocessing_mismatch (training and evaluation preprocess a sample differently: ToTensor's
/255 on the training images only).
Program lines kept: ``BasicBlock``, ``ResNet``, ``resnet34`` of ``model/ResNet.py`` (the Bottleneck
variant unused), ``main.py``'s kaiming re-initialisation, loss, optimizer and hyper-parameters,
``MyDataset``'s two paths (transform / raw transposed uint8) and the ``.float()`` of the loops.
Ported minimally: the CIFAR-10 set-up of the repository (its ``images/cls_*.txt`` lists at ecc4991 are
CIFAR-10's 50000/10000 images, ``dataset/cifar-10/cls_classes.txt`` its 10 classes; ``get_transform``
has ``IsResize=False``, so the 32x32 images go in as they are); ``RandomRotation(10)`` is left out of the
training transform (an augmentation that does not change the value range); the StepLR scheduler is not
reproduced. ``inputs`` are the validation/test images as the program feeds them to the network (buggy:
raw 0..255 floats; fixed: through the same transform, [0, 1]); ``batch``/``batches`` are the training
batches, the same in both.
Data stand-in (no download): ``_data.cifar_like`` (CIFAR-10-shaped uint8 HWC images with class signal),
the first 128 images for training (4 batches of 32), the next 64 for validation/test.
Keras twin: the same ResNet-34 channels-last (ZeroPadding2D + valid convolutions, so the padding is
PyTorch's; He-normal fan_in kernels; BatchNormalization(momentum=0.9, epsilon=1e-5)), Dense(10) logits,
``SparseCategoricalCrossentropy(from_logits=True)``, ``SGD(0.001, momentum=0.9, weight_decay=5e-4)``
(Keras's weight decay is decoupled), the same /255 on the training images only.

Measured (my own plain loop, seed 0, OMP_NUM_THREADS=1: torch ``zero_grad; CE(model(x), y).backward();
step`` / Keras ``train_on_batch``, cycling the 8 training batches of 16 in train mode, then the model in
eval mode / ``predict`` on the 64 evaluation images). The training loss is the same in both, as the fault
is not in training: torch 3.55 (step 1) -> 3.94 (10) -> 1.97 (20) -> 0.22 (40) -> 0.012 (80); Keras 3.79
-> 2.79 -> 3.20 -> 0.37 -> 0.0045. Evaluation inputs: buggy mean 125.8, std 49.3, max 255; fixed mean
0.49, std 0.19, max 1.0. After the 80 steps, evaluation: torch buggy predicts ONE class for all 64 images
(accuracy 0.109, mean |logit| 20464, CE 33958), fixed 10 distinct classes (accuracy 0.44, |logit| 2.6, CE
1.73); Keras buggy one class (accuracy 0.109, |logit| 16141), fixed 10 classes (accuracy 0.52, |logit|
2.4). The untrained model already gives |logit| 3829 (torch) / 2308 (Keras) on the buggy evaluation
inputs against 15 / 9 on the fixed ones, but its predictions are nearly constant in both (torch 2
distinct classes in both, Keras 1 in both: He-initialised ResNet-34 before any step), so the collapse to
one class is a symptom of the trained model. Step time on a loaded 2-core machine, one thread: torch
0.12-0.18 s, Keras ~0.5 s (batch already halved from the program's 32; ResNet-34 kept as it is).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "preprocessing_mismatch"
SOURCE = ("github:JeasunLok/ResNet-pytorch issue #1 (main.py val_dataset/test_dataset without transform, "
          "utils/dataloader.py MyDataset, model/ResNet.py @ecc4991^; fix "
          "ecc4991dd9e40f5aeee9b968adeae25caaa3b337 'fix: transform bugs')")
FRAMEWORKS = ("torch", "keras")
# The lead replaced the port's training checks (not_constant_predictions, loss_decreases, overfit_one_batch:
# the training batches are alike in both versions, and a ResNet-34 step costs 0.1-0.5 s here) with the
# check written for this fault: both datasets' per-sample preprocessing, compared on the raw images.
CHECKS = [("preprocessing_parity", {}), ("inputs_normalized", {})]

lr = 0.001  # main.py
momentum = 0.9
weight_decay = 5e-4
batch_size = 16  # main.py: 32 (halved so a CPU step stays near 0.1 s)
num_classes = 10  # dataset/cifar-10/cls_classes.txt
N_TRAIN, N_EVAL = 128, 64


def _to_tensor(raw: np.ndarray) -> np.ndarray:
    """transforms.ToTensor on HWC uint8 images: CHW float32 in [0, 1]."""
    return np.ascontiguousarray(raw.transpose(0, 3, 1, 2).astype("float32") / 255.0)


def _raw_float(raw: np.ndarray) -> np.ndarray:
    """MyDataset with transform=None: torch.from_numpy(np.transpose(np.array(image), [2, 0, 1])), then the
    loops' .float(): CHW float32 in 0..255."""
    return np.ascontiguousarray(raw.transpose(0, 3, 1, 2).astype("float32"))


def _pipelines(fixed: bool, channels_first: bool) -> dict[str, Any]:
    """Each dataset's preprocessing of one raw HWC uint8 image (``MyDataset.__getitem__``): the
    training set's ToTensor, and the evaluation sets' raw floats (buggy) or the same ToTensor (fixed);
    in the model's layout. ``raw_samples``: the evaluation images as read."""
    from tests.real_programs._data import cifar_like

    raw, _ = cifar_like(N_TRAIN + N_EVAL)
    layout = (lambda a: a) if channels_first else (lambda a: np.ascontiguousarray(a.transpose(1, 2, 0)))
    train = lambda img: layout(_to_tensor(img[None])[0])  # noqa: E731
    evaluate = train if fixed else (lambda img: layout(_raw_float(img[None])[0]))
    return {"train_pipeline": train, "eval_pipeline": evaluate, "raw_samples": list(raw[N_TRAIN:N_TRAIN + 16])}


def _data(fixed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from tests.real_programs._data import cifar_like

    raw, y = cifar_like(N_TRAIN + N_EVAL)
    x_train = _to_tensor(raw[:N_TRAIN])  # train_dataset = MyDataset(..., transform=image_transform)
    x_eval = _to_tensor(raw[N_TRAIN:]) if fixed else _raw_float(raw[N_TRAIN:])  # val/test datasets
    return x_train, y[:N_TRAIN], x_eval, y[N_TRAIN:]


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(0)

    class BasicBlock(nn.Module):  # model/ResNet.py
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

    class ResNet(nn.Module):  # model/ResNet.py (groups=1, width_per_group=64, include_top=True)
        def __init__(self, block, blocks_num, num_classes=1000):
            super(ResNet, self).__init__()
            self.in_channel = 64
            self.conv1 = nn.Conv2d(3, self.in_channel, kernel_size=7, stride=2, padding=3, bias=False)
            self.bn1 = nn.BatchNorm2d(self.in_channel)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            self.layer1 = self._make_layer(block, 64, blocks_num[0])
            self.layer2 = self._make_layer(block, 128, blocks_num[1], stride=2)
            self.layer3 = self._make_layer(block, 256, blocks_num[2], stride=2)
            self.layer4 = self._make_layer(block, 512, blocks_num[3], stride=2)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512 * block.expansion, num_classes)
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode='fan_out', nonlinearity='relu')

        def _make_layer(self, block, channel, block_num, stride=1):
            downsample = None
            if stride != 1 or self.in_channel != channel * block.expansion:
                downsample = nn.Sequential(
                    nn.Conv2d(self.in_channel, channel * block.expansion, kernel_size=1, stride=stride,
                              bias=False),
                    nn.BatchNorm2d(channel * block.expansion))
            layers = [block(self.in_channel, channel, downsample=downsample, stride=stride)]
            self.in_channel = channel * block.expansion
            for _ in range(1, block_num):
                layers.append(block(self.in_channel, channel))
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
            x = self.avgpool(x)
            x = torch.flatten(x, 1)
            x = self.fc(x)
            return x

    def resnet34(num_classes=1000):
        return ResNet(BasicBlock, [3, 4, 6, 3], num_classes=num_classes)

    model = resnet34(num_classes=num_classes)
    for m in model.modules():  # main.py: kaiming initialization (pretrained = False)
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            nn.init.kaiming_normal_(m.weight, mode='fan_in')

    x_train, y_train, x_eval, _ = _data(fixed)
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    batches = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, len(xt), batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.from_numpy(x_eval),
            **_pipelines(fixed, channels_first=True), "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.SGD(p, lr=lr, momentum=momentum, weight_decay=weight_decay)}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    he = lambda: keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")  # noqa: E731

    def conv(x, filters, k, stride):  # nn.Conv2d(k, stride, padding=k // 2, bias=False)
        if k // 2:
            x = layers.ZeroPadding2D(k // 2)(x)
        return layers.Conv2D(filters, k, strides=stride, use_bias=False, kernel_initializer=he())(x)

    def bn(x):  # nn.BatchNorm2d defaults
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5)(x)

    def basic_block(x, channel, stride, downsample):
        identity = bn(conv(x, channel, 1, stride)) if downsample else x
        out = layers.ReLU()(bn(conv(x, channel, 3, stride)))
        out = bn(conv(out, channel, 3, 1))
        return layers.ReLU()(layers.Add()([out, identity]))

    inp = keras.Input((32, 32, 3))
    x = layers.ReLU()(bn(conv(inp, 64, 7, 2)))
    x = layers.MaxPooling2D(3, 2)(layers.ZeroPadding2D(1)(x))  # after ReLU, zero padding == -inf padding
    in_channel = 64
    for channel, n, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for i in range(n):
            s = stride if i == 0 else 1
            x = basic_block(x, channel, s, downsample=(s != 1 or in_channel != channel))
            in_channel = channel
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(num_classes, kernel_initializer=he())(x)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=momentum, weight_decay=weight_decay),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    x_train, y_train, x_eval, _ = _data(fixed)
    xk = x_train.transpose(0, 2, 3, 1).copy()
    batches = [(xk[i:i + batch_size], y_train[i:i + batch_size]) for i in range(0, len(xk), batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches,
            "inputs": x_eval.transpose(0, 2, 3, 1).copy(), **_pipelines(fixed, channels_first=False)}


def buggy(framework: str) -> dict[str, Any]:
    return _keras(False) if framework == "keras" else _torch(False)


def fixed(framework: str) -> dict[str, Any]:
    return _keras(True) if framework == "keras" else _torch(True)
