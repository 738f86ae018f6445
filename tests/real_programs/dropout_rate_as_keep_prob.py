"""MNIST CNN whose tf.layers.dropout gets ``rate=0.7`` — the keep probability of the earlier labs —
so 70 % of the activations are dropped after every block.

Source: github.com/hunkim/DeepLearningZeroToAll issue #204 ("tf.layers.dropout()'s rate is not
keep_prob ... So dropout_rate should be 0.3 not 0.7", fixed by #205/#206) on lab-11-4
mnist_cnn_layers.py: conv 32/64/128 (3x3, SAME, ReLU) each followed by 2x2 max-pool (stride 2) and
dropout, dense 625 ReLU + dropout, dense 10 logits; softmax cross-entropy on logits; Adam(0.001);
batch_size 100. Data: MNIST stand-in (28x28x1, 0..255 / 255).
Fault label: over_regularized. Fix: rate 0.3. Torch twin: nn.Dropout(p=0.7) where 0.3 was meant.
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "over_regularized"
SOURCE = "github:hunkim/DeepLearningZeroToAll issue #204 (lab-11-4-mnist_cnn_layers.py)"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]


def _build(framework: str, rate: float) -> dict[str, Any]:
    imgs, y = _data.mnist_like(200)
    x = (imgs.astype("float32") / 255.0)[..., None]
    if framework == "keras":
        import keras
        from keras import layers

        blocks: list[Any] = []
        for filters in (32, 64, 128):
            blocks += [layers.Conv2D(filters, (3, 3), padding="same", activation="relu"),
                       layers.MaxPooling2D((2, 2), padding="same", strides=2), layers.Dropout(rate)]
        model = keras.Sequential([keras.Input((28, 28, 1))] + blocks + [
            layers.Flatten(), layers.Dense(625, activation="relu"), layers.Dropout(rate), layers.Dense(10)])
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                      optimizer=keras.optimizers.Adam(learning_rate=0.001))
        return {"model": model, "batch": (x[:100], y[:100]), "batches": _data.batches(x, y, 100)}
    import torch
    import torch.nn as nn

    mods: list[Any] = []
    c_in = 1
    for filters in (32, 64, 128):
        mods += [nn.Conv2d(c_in, filters, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2, 2, ceil_mode=True), nn.Dropout(p=rate)]
        c_in = filters
    model = nn.Sequential(*mods, nn.Flatten(), nn.Linear(128 * 4 * 4, 625), nn.ReLU(), nn.Dropout(p=rate), nn.Linear(625, 10))
    xt, yt = torch.tensor(x).permute(0, 3, 1, 2).contiguous(), torch.tensor(y)
    return {"model": model, "batch": (xt[:100], yt[:100]), "batches": _data.batches(xt, yt, 100),
            "loss_fn": nn.CrossEntropyLoss(), "optimizer": lambda p: torch.optim.Adam(p, lr=0.001)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, 0.7)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, 0.3)
