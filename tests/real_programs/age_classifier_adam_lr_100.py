"""learning-deeplearning's "super basic" Keras model (the deeplizard age/side-effect toy): one
min-max-scaled age in, Dense 16 ReLU -> Dense 32 ReLU -> Dense 2 softmax, sparse categorical
cross-entropy, compiled with ``Adam(lr=100)`` — a learning rate six orders of magnitude too high.

Source: defects4ML bug 038 (github.com/mohmehmo/defects4ml, bugs/038: "Suboptimal learning rate"),
i.e. NikhilM98/learning-deeplearning super_basic_1.py at 517fe70, fixed by eb24906
(``Adam(lr=0.0001)``; the fix also swaps the order of the two generator loops and adds
``validation_split=0.1``, which leave the training distribution as it was). The program's own
data: 1000 x (age 13..64 -> 0, age 65..100 -> 1) plus 50 x the opposite labels (2100 rows),
``MinMaxScaler(feature_range=(0, 1))``; ``fit(batch_size=10, epochs=20, shuffle=True)``. Made
offline with a seeded numpy generator (the program used unseeded ``random.randint``) and shuffled
once with a seeded permutation.
Fault label: lr_too_high. Fix (eb24906): Adam learning rate 0.0001. Torch twin: the same layers
(Keras-style init), softmax output and Keras' sparse categorical cross-entropy on probabilities
(clipped to [1e-7, 1 - 1e-7]).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "lr_too_high"
SOURCE = "github:mohmehmo/defects4ml bugs/038 (NikhilM98/learning-deeplearning super_basic_1.py@517fe70, fix eb24906)"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {})]

_BATCH = 10


def _ages(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.preprocessing import MinMaxScaler

    rng = np.random.default_rng(seed)
    samples, labels = [], []
    for n, young_label in ((1000, 0), (50, 1)):  # program lines: the two generator loops
        for _ in range(n):
            samples += [rng.integers(13, 65), rng.integers(65, 101)]
            labels += [young_label, 1 - young_label]
    x = MinMaxScaler(feature_range=(0, 1)).fit_transform(np.array(samples, "float64").reshape(-1, 1))
    perm = rng.permutation(len(x))
    return x[perm].astype("float32"), np.array(labels, "int64")[perm]


def _build(framework: str, lr: float) -> dict[str, Any]:
    x, y = _ages()
    if framework == "keras":
        import keras
        from keras import layers

        model = keras.Sequential([keras.Input((1,)), layers.Dense(16, activation="relu"),
                                  layers.Dense(32, activation="relu"), layers.Dense(2, activation="softmax")])
        model.compile(keras.optimizers.Adam(learning_rate=lr), loss="sparse_categorical_crossentropy")
        return {"model": model, "batch": (x[:_BATCH], y[:_BATCH]), "batches": _data.batches(x, y, _BATCH)[:8]}

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from tests.real_programs import _nets

    model = nn.Sequential(_nets.torch_dense(1, 16), nn.ReLU(), _nets.torch_dense(16, 32), nn.ReLU(),
                          _nets.torch_dense(32, 2), nn.Softmax(dim=1))

    def loss_fn(probs, target):
        return F.nll_loss(torch.log(probs.clamp(1e-7, 1 - 1e-7)), target)

    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": model, "batch": (xt[:_BATCH], yt[:_BATCH]), "batches": _data.batches(xt, yt, _BATCH)[:8],
            "loss_fn": loss_fn, "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, 100.0)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, 0.0001)
