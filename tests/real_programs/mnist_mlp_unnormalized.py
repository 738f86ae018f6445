"""The Keras mnist_mlp example run on Kaggle's MNIST CSV without dividing the pixels by 255:
"it doesn't go past 30% accuracy ... It turns out I didn't normalize the input
(x_train /= 255)".

Source: github.com/keras-team/keras issue #6914 ("MNIST not learning"), model from the issue's
examples/mnist_mlp.py: Dense(512, relu, input_shape=(784,)), Dropout(0.2), Dense(512, relu),
Dropout(0.2), Dense(10, softmax); 'categorical_crossentropy'; RMSprop(); batch_size 128.
Data: MNIST stand-in flattened to 784 as float32 0..255 (buggy) or / 255 (fixed), one-hot labels.
Fault label: inputs_not_normalized. Torch twin: the same layers, logits into CrossEntropyLoss,
RMSprop(lr 0.001 as Keras's default).
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "inputs_not_normalized"
SOURCE = "github:keras-team/keras issue #6914 (examples/mnist_mlp.py)"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("inputs_normalized", {}), ("overfit_one_batch", {}), ("loss_decreases", {})]


def _build(framework: str, normalise: bool) -> dict[str, Any]:
    imgs, y = _data.mnist_like(256)
    x = imgs.reshape(-1, 784).astype("float32")
    if normalise:
        x /= 255
    if framework == "keras":
        import keras
        from keras.layers import Dense, Dropout

        model = keras.Sequential([keras.Input((784,)), Dense(512, activation="relu"), Dropout(0.2),
                                  Dense(512, activation="relu"), Dropout(0.2), Dense(10, activation="softmax")])
        model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.RMSprop())
        yh = _data.one_hot(y, 10)
        return {"model": model, "batch": (x[:128], yh[:128]), "batches": _data.batches(x, yh, 128)}
    import torch
    import torch.nn as nn

    model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 512), nn.ReLU(),
                          nn.Dropout(0.2), nn.Linear(512, 10))
    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": model, "batch": (xt[:128], yt[:128]), "batches": _data.batches(xt, yt, 128),
            "loss_fn": nn.CrossEntropyLoss(), "optimizer": lambda p: torch.optim.RMSprop(p, lr=0.001)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, True)
