"""AUTOTRAINER demo "Data_Issue_case": a CIFAR-10 CNN trained on the raw 0..255 pixels, the
dataset's preprocessing commented out ("# data issue, 2 bugs": training and validation images).

Source: github.com/shiningrain/AUTOTRAINER, commit 48f8fd67063f6e2215fc903057c2de9eacc14c33,
AutoTrainer/demo_case/Data_Issue_case/demo_data.py: ``get_dataset`` keeps
``# dataset['x']=preprocess_func(x)`` commented out and passes cifar10.load_data()'s uint8 images;
model: Conv2D(16, 3x3, valid, relu, he_uniform, input (32, 32, 3)), MaxPooling2D(2), Dropout(0.25),
Conv2D(36, 3x3, valid, relu, he_uniform), MaxPooling2D(2), Dropout(0.25), Flatten,
Dense(256, relu, he_uniform), Dense(128, relu, he_uniform), Dropout(0.25), Dense(10, softmax);
config: Adam(lr 0.001), batch size 32, categorical_crossentropy on to_categorical(y, 10).
AutoTrainer/data/cifar10.py ``preprocess``: per-channel (x - mean) / std with mean [125.307,
122.95, 113.865], std [62.9932, 62.0887, 66.7048] — the fix.
Data: CIFAR-10 stand-in (uint8 32x32x3, channel means near 125, 10 classes).
Fault label: inputs_not_normalized. The torch twin is the same network channels-first, its logits
into CrossEntropyLoss, the raw pixels as float32 (a torch conv needs floats) or the preprocessed ones.
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "inputs_not_normalized"
SOURCE = "github:shiningrain/AUTOTRAINER@48f8fd67 AutoTrainer/demo_case/Data_Issue_case/demo_data.py"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("inputs_normalized", {}), ("overfit_one_batch", {}), ("loss_decreases", {})]

MEAN = (125.307, 122.95, 113.865)
STD = (62.9932, 62.0887, 66.7048)


def _preprocess(x: Any) -> Any:
    """AutoTrainer/data/cifar10.py ``preprocess`` (channels-last branch)."""
    x = x.astype("float32")
    for i in range(3):
        x[:, :, :, i] = (x[:, :, :, i] - MEAN[i]) / STD[i]
    return x


def _build(framework: str, preprocess: bool) -> dict[str, Any]:
    x8, y = _data.cifar_like(128)
    x = _preprocess(x8) if preprocess else x8
    if framework == "keras":
        import keras
        from keras.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D

        init = "he_uniform"
        model = keras.Sequential([
            keras.Input((32, 32, 3)),
            Conv2D(filters=16, kernel_size=(3, 3), padding="valid", activation="relu", kernel_initializer=init),
            MaxPooling2D(pool_size=(2, 2)), Dropout(0.25),
            Conv2D(filters=36, kernel_size=(3, 3), padding="valid", activation="relu", kernel_initializer=init),
            MaxPooling2D(pool_size=(2, 2)), Dropout(0.25), Flatten(),
            Dense(256, activation="relu", kernel_initializer=init), Dense(128, activation="relu", kernel_initializer=init),
            Dropout(0.25), Dense(10, activation="softmax")])
        model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=0.001))
        yk = _data.one_hot(y, 10)
        return {"model": model, "batch": (x[:32], yk[:32]), "batches": _data.batches(x, yk, 32)}
    import torch
    import torch.nn as nn

    def conv(c_in: int, c_out: int) -> nn.Conv2d:
        layer = nn.Conv2d(c_in, c_out, 3)
        nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
        nn.init.zeros_(layer.bias)
        return layer

    from tests.real_programs._nets import torch_dense

    model = nn.Sequential(conv(3, 16), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
                          conv(16, 36), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(),
                          torch_dense(36 * 6 * 6, 256, "he_uniform"), nn.ReLU(), torch_dense(256, 128, "he_uniform"),
                          nn.ReLU(), nn.Dropout(0.25), torch_dense(128, 10))
    xt = torch.tensor(x.astype("float32").transpose(0, 3, 1, 2).copy())
    yt = torch.tensor(y)
    return {"model": model, "batch": (xt[:32], yt[:32]), "batches": _data.batches(xt, yt, 32),
            "loss_fn": nn.CrossEntropyLoss(), "optimizer": lambda p: torch.optim.Adam(p, lr=0.001)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, True)
