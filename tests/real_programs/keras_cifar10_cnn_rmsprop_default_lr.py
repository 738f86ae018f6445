"""Keras's ``examples/cifar10_cnn.py`` before PR #6182: a small VGG-style convnet (Conv 32-32, pool,
Conv 64-64, pool, Dense 512, softmax over 10 classes, dropout between) compiled with
``optimizer='rmsprop'``, i.e. RMSprop at its default learning rate 1e-3. Users reported (#4897, #5239,
#4066, #4587) that the example does not converge: the loss falls for a few steps, then rises back to
ln(10) = 2.30 and accuracy sits at 0.10 with every image given the same class; switching to Adam, or to
a 10x smaller RMSprop step, trains fine.

Source: github.com/keras-team/keras PR #6182 "fix rmsprop learning rate for convergence" (merged
2017-04-07; issues #5239 and #4897; earlier identical PR #6154), which replaces ``optimizer='rmsprop'``
with ``opt = keras.optimizers.rmsprop(lr=0.0001, decay=1e-6)`` ("Rmsprop with default learning rate
(0.001) cannot converge in this example ... the loss will decrease at the beginning but start increasing
after few epochs due to too large learning rate"). Program lines kept: ``batch_size = 32``,
``num_classes = 10``, the Sequential model layer for layer (pre-fix file read as the post-fix
``examples/cifar10_cnn.py`` with the PR's one change undone), ``categorical_crossentropy`` on
``to_categorical`` labels, ``x_train.astype('float32') / 255``. Ported minimally: Keras 3 RMSprop has no
``decay``; the old per-step decay ``lr / (1 + decay * iterations)`` is
``InverseTimeDecay(1e-4, decay_steps=1, decay_rate=1e-6)``. The example's real-time augmentation
(``ImageDataGenerator`` shifts of 0.1 and horizontal flips) is not applied to the check batches.
Data: CIFAR-10 is downloaded; stand-in ``_data.cifar_like`` (32x32x3 uint8, 10 classes), 128 images.
Fault label: lr_too_high (symptom: collapse onto one class). Fix (PR #6182): RMSprop(lr=1e-4, decay=1e-6).
Torch twin: the same network (Keras initialisers), ``nn.CrossEntropyLoss`` on its logits, RMSprop with
Keras's defaults (lr 1e-3, rho 0.9, eps 1e-7); fixed lr 1e-4 (the 1e-6 decay, under 0.1% over a few
hundred steps, is left out).
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "lr_too_high"
SOURCE = "github:keras-team/keras PR #6182 (examples/cifar10_cnn.py; issues #5239, #4897)"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {})]

batch_size = 32  # program lines
num_classes = 10


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    imgs, labels = _data.cifar_like(4 * batch_size)
    x_train = imgs.astype("float32") / 255
    if framework == "keras":
        import keras
        from keras.layers import Activation, Conv2D, Dense, Dropout, Flatten, Input, MaxPooling2D
        from keras.models import Sequential

        y_train = keras.utils.to_categorical(labels, num_classes)
        model = Sequential()
        model.add(Input(x_train.shape[1:]))
        model.add(Conv2D(32, (3, 3), padding="same"))
        model.add(Activation("relu"))
        model.add(Conv2D(32, (3, 3)))
        model.add(Activation("relu"))
        model.add(MaxPooling2D(pool_size=(2, 2)))
        model.add(Dropout(0.25))
        model.add(Conv2D(64, (3, 3), padding="same"))
        model.add(Activation("relu"))
        model.add(Conv2D(64, (3, 3)))
        model.add(Activation("relu"))
        model.add(MaxPooling2D(pool_size=(2, 2)))
        model.add(Dropout(0.25))
        model.add(Flatten())
        model.add(Dense(512))
        model.add(Activation("relu"))
        model.add(Dropout(0.5))
        model.add(Dense(num_classes))
        model.add(Activation("softmax"))
        if fixed:
            lr = keras.optimizers.schedules.InverseTimeDecay(0.0001, decay_steps=1, decay_rate=1e-6)
            opt: Any = keras.optimizers.RMSprop(learning_rate=lr)
        else:
            opt = "rmsprop"
        model.compile(loss="categorical_crossentropy", optimizer=opt, metrics=["accuracy"])
        return {"model": model, "batch": (x_train[:batch_size], y_train[:batch_size]),
                "batches": _data.batches(x_train, y_train, batch_size)}

    import torch
    from torch import nn

    from tests.real_programs import _nets

    def conv(c_in: int, c_out: int, padding: int) -> nn.Conv2d:
        layer = nn.Conv2d(c_in, c_out, 3, padding=padding)
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    model = nn.Sequential(
        conv(3, 32, 1), nn.ReLU(), conv(32, 32, 0), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        conv(32, 64, 1), nn.ReLU(), conv(64, 64, 0), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), _nets.torch_dense(64 * 6 * 6, 512), nn.ReLU(), nn.Dropout(0.5),
        _nets.torch_dense(512, num_classes))
    xt = torch.tensor(x_train).permute(0, 3, 1, 2).contiguous()
    yt = torch.tensor(labels)
    lr = 1e-4 if fixed else 1e-3
    return {"model": model, "batch": (xt[:batch_size], yt[:batch_size]),
            "batches": _data.batches(xt, yt, batch_size), "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.RMSprop(p, lr=lr, alpha=0.9, eps=1e-7)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
