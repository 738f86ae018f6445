"""keras-team/keras issue #508, "Keras model not converging on IRIS dataset" (napsternxg, 2015-08-08): a script that
loads scikit-learn's iris table (``load_iris()``: 4 raw measurements in cm, sepal length 4.3-7.9, sepal width
2.0-4.4, petal length 1.0-6.9, petal width 0.1-2.5), one-hot encodes the 3 species with ``OneHotEncoder``, splits
``train_test_split(X, y, test_size=0.20, random_state=42)`` (120 / 30 rows) and trains the multilayer perceptron of
the Keras README of the time: ``Dense(4, 10, init='uniform', activation='tanh')``, ``Dropout(0.5)``, ``Dense(10, 10,
init='uniform', activation='tanh')``, ``Dropout(0.5)``, ``Dense(10, 3, init='uniform', activation='softmax')``,
``SGD(lr=0.1, decay=1e-6, momentum=0.9, nesterov=True)``, ``loss='categorical_crossentropy'``.

The fault: the four raw measurements go into the network as they are, in centimetres, with means 1.2-5.8 and very
different spreads (petal width std 0.76, petal length std 1.77); nothing centres or scales them. Every tanh unit of
the first layer therefore sees a large common offset that mostly shifts all samples together, the weights of the
different features would need very different step sizes, and with SGD at lr 0.1 and Nesterov momentum 0.9 (plus
dropout 0.5 on 10-unit layers) the first layer saturates and swings instead of separating the species; the
network stalls at a poor loss. The reporter: "I figured out that the error was because of not doing feature
scaling. When I scaled my features properly, then I started getting close to 95% accuracy ... I used sklearn
feature scaling class for my code." (fchollet closed the accompanying request that Keras scale features by itself.)
The fix: standardise the features with scikit-learn's ``StandardScaler`` fitted on the training rows and applied to
the training and the test rows.

Source: github.com/keras-team/keras issue #508 (code in the issue's description, fix in the reporter's own comment
of 2015-08-08; closed). The model, optimiser and loss look copied from the MLP example of the Keras README of
mid-2015, with iris' input and output widths.
Fault label: inputs_not_normalized (raw iris measurements in cm, uncentred and of unequal spread, fed to a tanh MLP
trained with SGD + Nesterov momentum; fixed by StandardScaler).

Program lines kept: the three Dense layers (widths 10, 10, 3; tanh, tanh, softmax), both ``Dropout(0.5)``,
``init='uniform'`` (Keras 0.x: U(-0.05, 0.05) kernels, zero biases), ``SGD(lr=0.1, decay=1e-6, momentum=0.9,
nesterov=True)``, ``categorical_crossentropy``, the one-hot targets, ``train_test_split(..., test_size=0.20,
random_state=42)``; buggy and fixed differ only by the StandardScaler (fitted on the 120 training rows).
Ported: Keras 0.x -> Keras 3: ``Dense(n_in, n_out, init='uniform')`` -> ``Dense(n_out,
kernel_initializer=RandomUniform(-0.05, 0.05))`` after ``Input((4,))``; the old ``decay=1e-6`` (lr / (1 + decay x
iterations)) -> ``InverseTimeDecay(0.1, decay_steps=1, decay_rate=1e-6)``. The issue's ``fit`` call is not in the
part of the thread I could read; I used ``batch_size=16`` of the README example the model was copied from (Keras'
default then, 128, would make one full batch of the 120 rows; there the fault also hurts but less, see below).
Torch twin: ``nn.Linear`` layers with U(-0.05, 0.05) weights and zero biases, ``nn.Tanh``, ``nn.Dropout(0.5)``,
softmax output; the loss is Keras' categorical cross-entropy of those probabilities (clipped to [1e-7, 1 - 1e-7])
with one-hot targets, averaged over the batch; ``torch.optim.SGD(lr=0.1, momentum=0.9, nesterov=True)``. The
``decay=1e-6`` is left out in torch (over 1000 steps it lowers lr by 0.1 %).
Data: the real iris table (scikit-learn's bundled copy, the program's own source), float32. ``batches``: 28
batches of 16 training rows (4 passes over the 120 rows, each reshuffled with numpy seed 0, the last 8 rows of each
pass dropped); ``batch``: the first. ``inputs``: 128 held-out rows: the 30 test rows and 98 copies of them with
N(0, 0.1 cm) jitter (clipped to >= 0.1), since iris holds only 30 test rows; in the fixed version scaled with the
training StandardScaler. No width was shrunk.

Measured (my own plain loops, /tmp/s58/p/b100a/measure.py on the module's builds, OMP_NUM_THREADS=1; seeds 0, 1, 2
of the frameworks' RNGs for init and dropout; the module's 28 batches cycled in order, 7 steps = one pass):
  Keras (``train_on_batch``, training mode, dropout on), 350 steps (50 passes), mean training loss of the 7 steps
  of pass 1 / 10 / 20 / 30 / 40 / 50, then accuracy and loss (dropout off) on the 30 test rows:
    buggy seed 0: 1.10 0.64 0.52 0.65 0.60 0.56 -> test acc 0.63, loss 0.47
    fixed seed 0: 1.10 0.52 0.34 0.23 0.18 0.23 -> test acc 1.00, loss 0.05
    (seeds 1 / 2: buggy test acc 0.63 / 0.70, last-pass loss 0.63 / 0.69; fixed 0.97 / 1.00, 0.22 / 0.31;
    all runs in measure_out.txt)
  torch twin, same schedule: buggy seed 0: 1.10 0.67 0.58 0.57 0.60 0.56 -> test acc 0.63 (loss 0.49); fixed:
    1.10 0.42 0.38 0.25 0.23 0.25 -> 0.97 (0.04);
    seeds 1 / 2 buggy 0.63 / 0.63, fixed 1.00 / 1.00.
  So the unscaled program stalls near 0.55-0.7 training loss with a test accuracy of 63-70 %, while the
  standardised one reaches 0.2-0.3 and 97-100 %, as the reporter found ("close to 95%" after scaling).
  With one full batch of the 120 rows (Keras' old default batch_size=128), 200 epochs, Keras ``fit``
  (/tmp/s58/p/b100a/probe.py): buggy test acc 1.00 / 0.87 / 0.80, loss 0.10 / 0.32 / 0.33 (seeds 0 / 1 / 2),
  fixed 0.97 / 1.00 / 1.00, loss 0.05 / 0.02 / 0.02: slower and less reliable, not always stuck.
  Time per step (batch 16, one thread): Keras ``train_on_batch`` ~2-3 ms, torch ~0.3 ms; first Keras build with the
  TensorFlow import ~5 s, later builds ~0.05 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "inputs_not_normalized"
SOURCE = ("github:keras-team/keras issue #508 'Keras model not converging on IRIS dataset' (iris MLP: Dense 10 tanh / "
          "Dropout 0.5 / Dense 10 tanh / Dropout 0.5 / Dense 3 softmax, init='uniform', SGD(lr=0.1, decay=1e-6, "
          "momentum=0.9, nesterov=True), categorical_crossentropy, raw load_iris() features; fix in the reporter's "
          "comment: 'not doing feature scaling ... I used sklearn feature scaling class', StandardScaler)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("inputs_normalized", {}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("not_constant_predictions", {})]

BATCH_SIZE = 16
LR = 0.1
DECAY = 1e-6
MOMENTUM = 0.9
N_PASSES = 4
N_INPUTS = 128
SEED = 0


@functools.lru_cache(maxsize=2)
def _data(scaled: bool) -> dict[str, Any]:
    """Iris split as in the program; batches of 16 from 4 reshuffled passes; 128 held-out rows (30 test + jitter)."""
    from sklearn.datasets import load_iris
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    iris = load_iris()
    X, y = iris.data, iris.target
    y = np.eye(3)[y]  # OneHotEncoder().fit_transform(y[:, np.newaxis]).toarray()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.20, random_state=42)
    r = np.random.default_rng(SEED)
    extra = X_test[r.integers(0, len(X_test), N_INPUTS - len(X_test))]
    held = np.concatenate([X_test, np.clip(extra + r.normal(0, 0.1, extra.shape), 0.1, None)])
    if scaled:  # the fix: StandardScaler fitted on the training rows
        scaler = StandardScaler().fit(X_train)
        X_train, X_test, held = scaler.transform(X_train), scaler.transform(X_test), scaler.transform(held)
    bs = []
    for _ in range(N_PASSES):
        order = r.permutation(len(X_train))
        for i in range(0, len(order) - BATCH_SIZE + 1, BATCH_SIZE):
            idx = order[i:i + BATCH_SIZE]
            bs.append((X_train[idx].astype("float32"), y_train[idx].astype("float32")))
    return {"batch": bs[0], "batches": bs, "inputs": held.astype("float32"),
            "test": (X_test.astype("float32"), y_test.astype("float32"))}


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)

    def dense(n_in: int, n_out: int) -> nn.Linear:  # init='uniform': U(-0.05, 0.05) kernel, zero bias
        layer = nn.Linear(n_in, n_out)
        nn.init.uniform_(layer.weight, -0.05, 0.05)
        nn.init.zeros_(layer.bias)
        return layer

    model = nn.Sequential(dense(4, 10), nn.Tanh(), nn.Dropout(0.5), dense(10, 10), nn.Tanh(), nn.Dropout(0.5),
                          dense(10, 3), nn.Softmax(dim=-1))

    def loss_fn(probs: Any, y: Any) -> Any:  # categorical_crossentropy on the softmax output
        return -(y * torch.log(probs.clamp(1e-7, 1 - 1e-7))).sum(-1).mean()

    d = _data(fixed)
    t = torch.from_numpy
    bs = [(t(x), t(y)) for x, y in d["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(d["inputs"]), "loss_fn": loss_fn,
            "optimizer": torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM, nesterov=True)}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras.layers import Dense, Dropout, Input
    from keras.models import Sequential

    keras.utils.set_random_seed(SEED)

    def uniform() -> Any:
        return keras.initializers.RandomUniform(-0.05, 0.05)

    model = Sequential()
    model.add(Input((4,)))
    model.add(Dense(10, kernel_initializer=uniform(), activation='tanh'))
    model.add(Dropout(0.5))
    model.add(Dense(10, kernel_initializer=uniform(), activation='tanh'))
    model.add(Dropout(0.5))
    model.add(Dense(3, kernel_initializer=uniform(), activation='softmax'))

    lr = keras.optimizers.schedules.InverseTimeDecay(LR, decay_steps=1, decay_rate=DECAY)  # decay=1e-6
    sgd = keras.optimizers.SGD(learning_rate=lr, momentum=MOMENTUM, nesterov=True)
    model.compile(loss='categorical_crossentropy', optimizer=sgd)
    d = _data(fixed)
    return {"model": model, "batch": d["batch"], "batches": d["batches"], "inputs": d["inputs"]}


buggy, fixed = versions(_torch, _keras)
