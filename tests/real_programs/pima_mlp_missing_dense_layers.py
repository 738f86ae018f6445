"""kerasma: the Pima-diabetes MLP (8 raw features -> Dense 12 ReLU -> Dense 8 ReLU -> 1 sigmoid,
binary cross-entropy, Adam, batch 10, 150 epochs) that under-fits: its accuracy stays below the
expected level until three more hidden layers are added.

Source: defects4ML bug 027 (github.com/mohmehmo/defects4ml, bugs/027: "Missing dense layer ...
accuracy of the model stays at a lower level than expected"), i.e. eangelou/kerasma commit 2a2a46f,
kerasma.py: the fix inserts Dense(16, relu), Dense(24, relu), Dense(8, relu) before the output.
Keras defaults of the time (glorot-uniform kernels, zero biases; Adam lr 0.001). Data: the
pima-indians-diabetes.data file (768 rows, 8 unscaled float features: pregnancies 0..17, glucose
0..199, blood pressure 0..122, skin 0..99, insulin 0..846, BMI 0..67, pedigree 0.08..2.42, age
21..81, zeros for missing values; ~35 % positive) replaced offline by seeded numpy rows with those
ranges, zero rates and an outcome drawn from a logistic model of glucose, BMI, pregnancies,
pedigree, age, blood pressure and insulin (inputs left unscaled, as the program does).
Fault label: other:missing_hidden_layers (too little capacity for the raw inputs).
Fix (2a2a46f): the three extra ReLU layers. Torch twin: the same layers, Keras-style init.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "other:missing_hidden_layers"
SOURCE = "github:mohmehmo/defects4ml bugs/027 (eangelou/kerasma kerasma.py, fix 2a2a46f)"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]

_BATCH = 10


def _pima_like(n: int = 768, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)

    def with_zeros(col, rate):
        col[rng.random(n) < rate] = 0
        return col

    preg = np.clip(np.round(rng.gamma(1.3, 2.9, n)), 0, 17)
    glu = with_zeros(np.clip(rng.normal(121, 31, n), 44, 199), 0.007)
    bp = with_zeros(np.clip(rng.normal(72, 12, n), 24, 122), 0.046)
    skin = with_zeros(np.clip(rng.normal(29, 10, n), 7, 99), 0.3)
    ins = with_zeros(np.clip(rng.gamma(2.0, 78, n), 14, 846), 0.49)
    bmi = with_zeros(np.clip(rng.normal(32.5, 6.9, n), 18, 67), 0.014)
    dpf = np.clip(rng.gamma(2.3, 0.2, n), 0.078, 2.42)
    age = np.round(np.clip(21 + rng.gamma(1.4, 8.7, n), 21, 81))
    x = np.stack([preg, glu, bp, skin, ins, bmi, dpf, age], 1)
    z = (-0.85 + 0.4 * (preg - 3.8) / 3.4 + 1.1 * (glu - 121) / 32 + 0.7 * (bmi - 32) / 7.9
         + 0.3 * (dpf - 0.47) / 0.33 + 0.2 * (age - 33) / 11.8 - 0.25 * (bp - 69) / 19 - 0.1 * (ins - 80) / 115)
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype("float32")
    return x.astype("float32"), y[:, None]


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = _pima_like()
    hidden = [12, 8, 16, 24, 8] if fixed else [12, 8]  # program lines: kerasma.py (model.add ...)
    if framework == "keras":
        import keras
        from keras import layers

        model = keras.Sequential([keras.Input((8,))] + [layers.Dense(h, activation="relu") for h in hidden]
                                 + [layers.Dense(1, activation="sigmoid")])
        model.compile(loss="binary_crossentropy", optimizer="adam")
        return {"model": model, "batch": (x[:_BATCH], y[:_BATCH]), "batches": _data.batches(x, y, _BATCH)[:8]}

    import torch
    import torch.nn as nn

    from tests.real_programs import _nets

    mods: list[Any] = []
    n_in = 8
    for h in hidden:
        mods += [_nets.torch_dense(n_in, h), nn.ReLU()]
        n_in = h
    model = nn.Sequential(*mods, _nets.torch_dense(n_in, 1), nn.Sigmoid())
    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": model, "batch": (xt[:_BATCH], yt[:_BATCH]), "batches": _data.batches(xt, yt, _BATCH)[:8],
            "loss_fn": nn.BCELoss(), "optimizer": lambda p: torch.optim.Adam(p, lr=0.001)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, True)
