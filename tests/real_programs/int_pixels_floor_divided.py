"""A small VGG-style convnet on two classes of game screenshots whose loss "has the exact same
value at every step": the images were normalised to [0, 1] while the array was still integer, so
the division was an integer division and "each pixel became 0" — every input is blank.

Source: github.com/keras-team/keras issue #255 ("model doesn't learn/weights don't get updated";
the reporter's diagnosis: "When normalizing each pixel to [0, 1], the array was still int, and each
pixel became 0. Now that I properly normalize the images, the model is learning."). The reporter
describes the program (no code posted): "a smaller version of the VGG example" of the Keras README
of the time, RMSprop, one batch of 32 images fed again and again, two classes as one-hot rows
``[[1, 0], [0, 1], ...]``, about 1000 screenshots. Approximated here: the README's VGG-like block
(two 3x3 ReLU convolutions of 32 filters, 2x2 max-pooling, Dropout 0.25, Dense 256 ReLU,
Dropout 0.5, a 2-way softmax), categorical cross-entropy, RMSprop with Keras 0.x's defaults (lr
0.001, rho 0.9, epsilon 1e-6). Python 2's ``/`` on an integer array is written ``//``. Data: 32x32
RGB uint8 stand-ins (``_data.cifar_like``, capped at 254 so that, as reported, every pixel floors to
0), the class the digit's parity, alternating one-hot labels, batches of 32.
Fault label: no_input_signal|input_dtype (integer arithmetic blanked every input).
Fix: ``x.astype('float32') / 255``.
The torch twin is the same network written the torch way (NCHW, CrossEntropyLoss on logits,
``torch.optim.RMSprop(lr=0.001, alpha=0.9, eps=1e-6)``) fed the same arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "no_input_signal|input_dtype"
SOURCE = "github:keras-team/keras issue #255"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("inputs_normalized", {})]


def _images(normalize: bool) -> tuple[np.ndarray, np.ndarray]:
    imgs, digit = _data.cifar_like(128)
    imgs = np.minimum(imgs, 254)  # no pure-white pixel: every one floors to 0, as reported
    y = (digit % 2).astype("int64")
    if normalize:
        x = imgs.astype("float32") / 255
    else:
        x = imgs // 255  # the program: x /= 255 on an int array (Python 2 integer division)
    return x, y


def _build(framework: str, normalize: bool) -> dict[str, Any]:
    x, y = _images(normalize)
    if framework == "keras":
        import keras
        from keras import layers

        model = keras.Sequential([
            keras.Input((32, 32, 3)),
            layers.Conv2D(32, (3, 3), padding="same"), layers.Activation("relu"),
            layers.Conv2D(32, (3, 3)), layers.Activation("relu"),
            layers.MaxPooling2D(pool_size=(2, 2)), layers.Dropout(0.25),
            layers.Flatten(),
            layers.Dense(256), layers.Activation("relu"), layers.Dropout(0.5),
            layers.Dense(2), layers.Activation("softmax")])
        model.compile(loss="categorical_crossentropy",
                      optimizer=keras.optimizers.RMSprop(learning_rate=0.001, rho=0.9, epsilon=1e-6))
        yk = _data.one_hot(y, 2)
        return {"model": model, "batch": (x[:32], yk[:32]), "batches": _data.batches(x, yk, 32)}
    import torch
    import torch.nn as nn

    model = nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 3), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(),
        nn.Linear(32 * 15 * 15, 256), nn.ReLU(), nn.Dropout(0.5),
        nn.Linear(256, 2))
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).float()
    yt = torch.from_numpy(y)
    return {"model": model, "batch": (xt[:32], yt[:32]), "batches": _data.batches(xt, yt, 32),
            "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.RMSprop(p, lr=0.001, alpha=0.9, eps=1e-6)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, True)
