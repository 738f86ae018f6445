"""kuangliu/pytorch-cifar, the first VGG training script (``main.py`` + ``model/vgg.py``, January 2017):
``VGG('VGG16')`` built by ``_make_layers`` (Conv2d 3x3 pad 1 -> BatchNorm2d -> ReLU per number, MaxPool2d(2)
per 'M'), trained on CIFAR-10 with ``nn.CrossEntropyLoss()`` and ``optim.SGD(lr=0.001, momentum=0.9)``,
batches of 128, inputs ``ToTensor()`` + ``Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010))``.
The fault is the head: ``self.classifier = nn.AvgPool2d(kernel_size=1, stride=1)`` and ``forward`` is
``features -> classifier -> view(N, -1)``. After five max-pools a 32x32 image is 1x1x512, a 1x1 average
pool changes nothing, so the "logits" are the 512 post-ReLU features of the last conv block: a head 512
wide for 10 classes, with no linear layer at all. ``CrossEntropyLoss`` raises nothing because the targets
0..9 are valid indices into 512 columns; the loss starts near log(512) instead of log(10), 502 of the
outputs are classes that do not exist, and every output is >= 0 (ReLU), so the model can only lower the
wrong columns to 0 and has to raise the target column far above them.

Source: github.com/kuangliu/pytorch-cifar commit 470d4687972376b1cd3067e047ec9e919c9b4b67 "Fix VGG model bug"
(2017-01-22; the buggy model was added in 7743d8d "Add VGG model" the same day). Buggy files at 470d468^:
``model/vgg.py`` (``VGG``, ``cfg``), ``main.py`` (data, loss, optimizer, training loop).
Fix (470d468): ``self.classifier = nn.Linear(512, 10)`` applied after the ``view`` (the 1x1 ``AvgPool2d``
moved to the end of ``features``), plus, in the same commit, ``msr_init(net.features)`` (conv weights
N(0, sqrt(2 / (k*k*out_channels))), conv biases 0, BatchNorm weight 1 / bias 0; new in ``utils.py``) and
``weight_decay=1e-4`` in the SGD optimizer. The fixed twin carries all three.
Program lines kept: ``cfg['VGG16']`` layout, ``_make_layers``, the buggy / fixed ``classifier`` and
``forward``, ``msr_init``, ``CrossEntropyLoss``, SGD(lr 0.001, momentum 0.9[, weight_decay 1e-4]), batch 128,
the ToTensor + Normalize constants.
Ported minimally / shrunk: every VGG16 width divided by 8 (64..512 -> 8..64 channels; same 13 conv layers
and 5 pools) so a step of 128 images takes ~0.06 s (torch) / ~0.12 s (Keras) on one CPU thread; the buggy
head is therefore 64 wide instead of 512 (still not 10; the fix is ``nn.Linear(64, 10)``). ``DataParallel``,
CUDA, the progress bar and the test loop are left out. Modern PyTorch's BatchNorm weight init is 1 (in early
2017 it was uniform(0, 1), one reason for msr_init).
Data stand-in (no CIFAR-10 download): ``_data.cifar_like`` (CIFAR-10-shaped uint8 32x32x3 images made from
scikit-learn's digits, a class tint and noise; real class signal), 512 images as 4 batches of 128, put
through ToTensor (/255, CHW) and the program's Normalize.
Keras twin (same fault): the same shrunk VGG16 channels-last (Conv2D 'same' -> BatchNormalization(momentum
0.9, epsilon 1e-5, torch's values) -> ReLU, MaxPooling2D), the buggy head ``AveragePooling2D(1, 1)`` +
``Flatten`` (64 outputs), the fixed ``Flatten`` + ``Dense(10)`` with He-normal (fan-out) conv kernels;
``SparseCategoricalCrossentropy(from_logits=True)`` (what CrossEntropyLoss is), SGD(0.001, momentum 0.9,
fixed: weight_decay 1e-4).
Fault label: head_width (64 here / 512 in the program outputs for 10 classes).

Measured (my own plain loop, seed 0, OMP_NUM_THREADS=1, model in train mode; loss of the batch being stepped
on). torch, cycling the 4 batches: buggy 4.40 (step 1) -> 0.38 (50) -> 0.15 (100) -> 0.083 (200) -> 0.059
(300); fixed 2.46 -> 1.38 -> 0.80 -> 0.21 -> 0.090. One batch: buggy 4.40 -> 0.20 (50) -> 0.079 (200), fixed
2.46 -> 0.62 -> 0.072. Keras (train_on_batch), cycling: buggy 4.27 -> 1.32 (50) -> 0.26 (100) -> 0.10 (200)
-> 0.066 (300); fixed 3.29 -> 0.40 -> 0.12 -> 0.049 -> 0.030; one batch: buggy 4.27 -> 0.084 (200), fixed
3.29 -> 0.017. So the loss curve does NOT show the fault on this easy stand-in (the buggy torch model even
drops faster, the buggy Keras one is slower only over the first ~100 steps; the last block's BatchNorm
gamma/beta can act as a per-class scale and offset): it shows in the model itself and at initialisation. The
output is (128, 64) for 10 classes, every "logit" is >= 0 (min 0.0, mean ~1.05), the initial loss is 4.40 /
4.27 (about log 64 = 4.16, not log 10 = 2.30; the program's 512-wide head starts near log 512 = 6.2), and at
initialisation 84% (torch) / 87% (Keras) of the argmax predictions are class ids 10..63 that do not exist.
About 60 ms a step for torch and 120 ms for Keras (batch 128) on one thread. Keras' SGD ``weight_decay`` is
decoupled (applied to the variables), torch's is an L2 term in the gradient; both only in the fixed twin.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "head_width"
SOURCE = ("github:kuangliu/pytorch-cifar model/vgg.py + main.py@470d468^ (VGG classifier "
          "nn.AvgPool2d(kernel_size=1, stride=1); "
          "fix 470d4687972376b1cd3067e047ec9e919c9b4b67 'Fix VGG model bug')")
FRAMEWORKS = ("torch", "keras")
CHECKS = {fw: [
    ("init_loss", {"num_classes": 10}),
    ("output_range", {"kind": "logits", "num_classes": 10}),
    ("loss_decreases", {}),
    ("overfit_one_batch", {}),
] for fw in FRAMEWORKS}

WIDTH_DIV = 8  # port: VGG16 widths / 8 (CPU budget)
cfg = {
    'VGG16': [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M'],
}
BATCH_SIZE = 128  # main.py trainloader
N_BATCHES = 4
MEAN, STD = (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)  # main.py Normalize


def _cfg() -> list:
    return [x if x == 'M' else x // WIDTH_DIV for x in cfg['VGG16']]


def _data() -> tuple[np.ndarray, np.ndarray]:
    """CHW float32 after ToTensor + Normalize, labels int64."""
    from tests.real_programs._data import cifar_like

    raw, y = cifar_like(BATCH_SIZE * N_BATCHES, seed=0)
    x = raw.transpose(0, 3, 1, 2).astype("float32") / 255.0
    x = (x - np.array(MEAN, "float32")[None, :, None, None]) / np.array(STD, "float32")[None, :, None, None]
    return np.ascontiguousarray(x, dtype="float32"), y.astype("int64")


def _torch(fixed: bool) -> dict[str, Any]:
    import math

    import torch
    import torch.nn as nn
    import torch.optim as optim

    torch.manual_seed(0)
    last = _cfg()[-2]

    class VGG(nn.Module):  # model/vgg.py
        def __init__(self):
            super(VGG, self).__init__()
            self.features = self._make_layers(_cfg())
            if fixed:  # 470d468
                self.classifier = nn.Linear(last, 10)
            else:
                self.classifier = nn.AvgPool2d(kernel_size=1, stride=1)

        def forward(self, x):
            x = self.features(x)
            if fixed:
                x = x.view(x.size(0), -1)
                x = self.classifier(x)
            else:
                x = self.classifier(x)
                x = x.view(x.size(0), -1)
            return x

        def _make_layers(self, cfg):
            layers = []
            in_channels = 3
            for x in cfg:
                if x == 'M':
                    layers += [nn.MaxPool2d(kernel_size=2, stride=2)]
                else:
                    layers += [nn.Conv2d(in_channels, x, kernel_size=3, padding=1),
                               nn.BatchNorm2d(x),
                               nn.ReLU(inplace=True)]
                    in_channels = x
            if fixed:
                layers += [nn.AvgPool2d(kernel_size=1, stride=1)]
            return nn.Sequential(*layers)

    def msr_init(net):  # utils.py at 470d468
        for layer in net:
            if type(layer) == nn.Conv2d:
                n = layer.kernel_size[0] * layer.kernel_size[1] * layer.out_channels
                layer.weight.data.normal_(0, math.sqrt(2. / n))
                layer.bias.data.zero_()
            elif type(layer) == nn.BatchNorm2d:
                layer.weight.data.fill_(1)
                layer.bias.data.zero_()
            elif type(layer) == nn.Linear:
                layer.bias.data.zero_()

    net = VGG()
    if fixed:
        msr_init(net.features)
    x, y = _data()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    if fixed:
        def optimizer(p):
            return optim.SGD(p, lr=0.001, momentum=0.9, weight_decay=1e-4)
    else:
        def optimizer(p):
            return optim.SGD(p, lr=0.001, momentum=0.9)
    return {"model": net, "batch": batches[0], "batches": batches, "inputs": xt[:BATCH_SIZE],
            "loss_fn": nn.CrossEntropyLoss(), "optimizer": optimizer}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    init = (keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal") if fixed  # msr_init
            else "glorot_uniform")
    stack: list[Any] = [keras.Input((32, 32, 3))]
    for v in _cfg():
        if v == 'M':
            stack.append(layers.MaxPooling2D(2, 2))
        else:
            stack += [layers.Conv2D(v, 3, padding="same", kernel_initializer=init),
                      layers.BatchNormalization(momentum=0.9, epsilon=1e-5), layers.ReLU()]
    if fixed:
        stack += [layers.AveragePooling2D(1, 1), layers.Flatten(), layers.Dense(10)]
    else:
        stack += [layers.AveragePooling2D(1, 1), layers.Flatten()]
    model = keras.Sequential(stack)
    opt = (keras.optimizers.SGD(learning_rate=0.001, momentum=0.9, weight_decay=1e-4) if fixed
           else keras.optimizers.SGD(learning_rate=0.001, momentum=0.9))
    model.compile(optimizer=opt, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = _data()
    xk = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    batches = [(xk[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, len(xk), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xk[:BATCH_SIZE]}


def buggy(framework: str) -> dict[str, Any]:
    return _keras(False) if framework == "keras" else _torch(False)


def fixed(framework: str) -> dict[str, Any]:
    return _keras(True) if framework == "keras" else _torch(True)
