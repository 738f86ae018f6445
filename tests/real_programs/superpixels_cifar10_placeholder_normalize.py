"""abheesht17/super-pixels, the CNN baseline for CIFAR-10 (``configs/hf_trainer/simple_cnn_hf_cifar10``):
``SimpleCnn`` (three Conv2d(3x3, 32)-BatchNorm2d-ReLU-MaxPool2d(2) blocks, then ``Linear(32*4*4, 10)``,
``CrossEntropyLoss``) trained with the Hugging Face ``Trainer`` (``learning_rate: 1e-5``,
``weight_decay: 0.01``, ``per_device_train_batch_size: 32``, ``seed: 42``). The dataset config's
transform chain is ``ToPILImage`` -> ``ToTensor`` -> ``Normalize(mean=[0.0, 0.0, 0.0], std=[1.0, 1.0,
1.0])``: placeholder constants, so ``Normalize`` is the identity and the network sees ToTensor's raw
[0, 1] pixels (channel means ~0.47, std ~0.25) instead of standardised ones. The same placeholders sat in
the MNIST, Fashion-MNIST and CIFAR-100 configs.

Source: github.com/abheesht17/super-pixels PR #19 "Fix mean/std in normalization" (closes issue #15),
commit 13f4f2edd5ac6785bb1cf8201f8e9111a8efc27f, which replaces the placeholders with the datasets' own
statistics (CIFAR-10: mean [0.49139968, 0.48215827, 0.44653124], std [0.24703233, 0.24348505,
0.26158768]). Program at 13f4f2e^: ``src/models/simple_cnn.py`` (model lines kept),
``src/datasets/hf_image_classification.py`` (HWC images permuted to CHW, then the transform chain),
``configs/hf_trainer/simple_cnn_hf_cifar10/{dataset,model,train}.yaml``.
Ported minimally: ``forward(image, labels=None)`` returns the logits (the Trainer's loss is the model's own
``CrossEntropyLoss``, given as ``loss_fn``); the Trainer's default optimizer is AdamW(lr 1e-5,
weight_decay 0.01; the Trainer exempts biases and norm weights from decay, applied to all parameters
here) with a linear decay schedule (not reproduced). ToPILImage + ToTensor is ``uint8 / 255`` in CHW.
Data: ``_data.cifar_like`` (CIFAR-10-shaped uint8 HWC images with real class signal, no download), 128
images as 4 batches of 32.
Fault label: inputs_not_normalized. Fix (13f4f2e): ``Normalize`` with the CIFAR-10 mean/std above, so the
inputs are standardised (mean ~0, std ~1 per channel on real CIFAR-10; on the stand-in, whose colours
are not CIFAR's, mean 0.11 and std 0.81 against the buggy mean 0.50 and std 0.20).
Measured (plain loop, 200 steps cycling the 4 batches, one CPU thread): torch buggy loss 2.42 -> 1.99,
fixed 2.41 -> 2.00; Keras buggy 3.42 -> 2.26, fixed 3.36 -> 2.22. At lr 1e-5 the BatchNorm after the
first conv absorbs the input scale, so both train alike in this budget: the fault shows in the input
statistics, not in the loss curve. About 50 ms per step (torch, one thread, shared machine).
Keras twin: the same network channels-last (Conv2D/BatchNormalization/ReLU/MaxPooling2D, Dense(10)
logits), ``SparseCategoricalCrossentropy(from_logits=True)``, ``AdamW(1e-5, weight_decay=0.01)``, the
same [0, 1] / standardised inputs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "inputs_not_normalized"
SOURCE = ("github:abheesht17/super-pixels PR #19, issue #15 (configs/hf_trainer/simple_cnn_hf_cifar10/"
          "dataset.yaml@13f4f2e^, src/models/simple_cnn.py; fix 13f4f2edd5ac6785bb1cf8201f8e9111a8efc27f)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("inputs_normalized", {}), ("loss_decreases", {}), ("overfit_one_batch", {})]

learning_rate = 1e-5  # train.yaml
weight_decay = 0.01
per_device_train_batch_size = 32
seed = 42
num_input_channels, num_classes, input_dim = 3, 10, 32  # model.yaml
BUGGY_MEAN, BUGGY_STD = [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]  # dataset.yaml at 13f4f2e^
FIXED_MEAN = [0.49139968, 0.48215827, 0.44653124]  # dataset.yaml at 13f4f2e
FIXED_STD = [0.24703233, 0.24348505, 0.26158768]


def _images(fixed: bool) -> tuple[np.ndarray, np.ndarray]:
    """ToPILImage -> ToTensor -> Normalize(mean, std) on HWC uint8 images; returns CHW float32."""
    from tests.real_programs._data import cifar_like

    raw, y = cifar_like(128)
    x = raw.transpose(0, 3, 1, 2).astype("float32") / 255.0  # ToTensor
    mean, std = (FIXED_MEAN, FIXED_STD) if fixed else (BUGGY_MEAN, BUGGY_STD)
    x = (x - np.array(mean, "float32")[None, :, None, None]) / np.array(std, "float32")[None, :, None, None]
    return np.ascontiguousarray(x, dtype="float32"), y


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = _images(fixed)
    bs = per_device_train_batch_size
    if framework == "keras":
        import keras
        from keras import layers

        keras.utils.set_random_seed(seed)
        xk = x.transpose(0, 2, 3, 1).copy()
        blocks: list[Any] = [keras.Input((input_dim, input_dim, num_input_channels))]
        for _ in range(3):
            blocks += [layers.Conv2D(32, 3, strides=1, padding="same"), layers.BatchNormalization(),
                       layers.ReLU(), layers.MaxPooling2D(2, 2)]
        model = keras.Sequential(blocks + [layers.Flatten(), layers.Dense(num_classes)])
        model.compile(optimizer=keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        batches = [(xk[i:i + bs], y[i:i + bs]) for i in range(0, len(xk), bs)]
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": xk[:bs]}

    import torch
    from torch.nn import (BatchNorm2d, Conv2d, CrossEntropyLoss, Linear, MaxPool2d, Module, ReLU,
                          Sequential)

    torch.manual_seed(seed)

    class SimpleCnn(Module):  # program lines (src/models/simple_cnn.py)
        def __init__(self):
            super(SimpleCnn, self).__init__()
            self.cnn_layers = Sequential(
                Conv2d(num_input_channels, 32, kernel_size=3, stride=1, padding=1),
                BatchNorm2d(32),
                ReLU(),
                MaxPool2d(kernel_size=2, stride=2),
                Conv2d(32, 32, kernel_size=3, stride=1, padding=1),
                BatchNorm2d(32),
                ReLU(),
                MaxPool2d(kernel_size=2, stride=2),
                Conv2d(32, 32, kernel_size=3, stride=1, padding=1),
                BatchNorm2d(32),
                ReLU(),
                MaxPool2d(kernel_size=2, stride=2),
            )
            self.linear_layers = Linear(32 * (input_dim // 8) * (input_dim // 8), num_classes)
            self.loss_fn = CrossEntropyLoss()

        def forward(self, image, labels=None):
            out = self.cnn_layers(image)
            out = out.view(out.size(0), -1)
            out = self.linear_layers(out)
            if labels is not None:
                loss = self.loss_fn(out, labels)
                return loss, out
            return out

    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + bs], yt[i:i + bs]) for i in range(0, len(xt), bs)]
    return {"model": SimpleCnn(), "batch": batches[0], "batches": batches, "inputs": xt[:bs],
            "loss_fn": CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.AdamW(p, lr=learning_rate, weight_decay=weight_decay)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
