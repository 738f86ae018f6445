"""AUTOTRAINER's Dying-ReLU case 14: a 2-feature circles classifier built from eight ``Dense(5,
activation='relu')`` layers whose kernels are drawn from Keras' default ``RandomUniform`` (U(-0.05, 0.05))
with zero biases, then ``Dense(1, activation='sigmoid')``; Adam, binary cross-entropy, batches of 128.
With weights of at most 0.05 over fan-ins of 5, every ReLU layer shrinks the scale of its input about
20-fold, so after eight layers the hidden signal is ~1e-10 of the input: the sigmoid unit sees a constant, the ReLU units
sit at or below zero (dead) and the gradients that reach the early layers are vanishingly small. The
authors' own training log of this case (``DL_tools/log/case14/case14.csv``) stays at loss 0.6931 /
accuracy 0.50 for the whole run.

Source: github.com/shiningrain/AUTOTRAINER ``DL_tools/code/DyingReLU/case14.py`` (commit
27df1ce0ee0e6eca93ffee88871786871aeee8fa, "Draft Code"), filed by the authors under DyingReLU; data
``DL_tools/data/simplednn.py`` ``load_data('circle')``. Program lines kept::

    init ='RandomUniform'#keras.initializers.RandomUniform(minval=-1,maxval=1,seed=None)#'he_uniform'#...
    init1 ='Zeros'
    inp=Input(shape=(2,))
    x=Dense(5,activation='relu', kernel_initializer=init,bias_initializer=init1)(inp)
    ... (eight such Dense layers)
    x=Dense(1,activation='sigmoid')(x)
    opt='Adam'; loss='binary_crossentropy'; batch_size=128

Data (the program's own generator, offline): ``make_circles(n_samples=1000, noise=0.1, random_state=1)``,
``MinMaxScaler(feature_range=(-1, 1))``, the first 700 rows for training, cut into the five full batches
of 128 (the program trains on all 700 with ``batch_size=128``).
Ported minimally to Keras 3 (``keras.Model``, same layer arguments, ``keras.optimizers.Adam()``). Torch
twin: the same net, kernels ``uniform_(-0.05, 0.05)`` and zero biases in the hidden layers, the sigmoid
layer Glorot-uniform (the Keras default), ``nn.BCELoss`` on the sigmoid output, ``Adam(lr=1e-3)``.
Fault label: dead_units|vanishing_gradients (the tiny uniform initialisation leaves the deep ReLU stack
dead / without signal, so nothing upstream of the output unit learns).
Fix (no human commit; this is a benchmark case): ``kernel_initializer='he_uniform'`` for the ReLU layers,
the alternative the case lists in its own ``init`` comment and the initialiser AUTOTRAINER's repairs
install for ReLU networks (``op_relu``: he_uniform kernels, zero biases).
Symptom measured in a short loop of my own (the five batches, 150 epochs = 750 Adam steps): torch: buggy
loss 0.6931 -> 0.6931, accuracy 0.50, outputs constant (std 6e-8), first-layer gradient exactly 0;
fixed 0.72 -> 0.48, accuracy 0.76, output std 0.30, first-layer gradient norm 2.6e-2. Keras
(``model.fit`` on the 640 rows, 150 epochs): buggy 0.6931 -> 0.6931, accuracy 0.50, output std 6e-8;
fixed 0.693 -> 0.620, accuracy 0.62 (the 5-unit-wide, 8-deep stack learns slowly even when healthy; the
authors' own run of the circles variant, ``log/case14_circle``, needed 300 epochs to reach 0.53).
One Adam step takes ~3 ms (torch) on one CPU thread; building < 1 s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "dead_units|vanishing_gradients"
SOURCE = ("github:shiningrain/AUTOTRAINER@27df1ce DL_tools/code/DyingReLU/case14.py "
          "(data DL_tools/data/simplednn.py load_data('circle'); log DL_tools/log/case14/case14.csv)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("gradients_flow", {}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("not_constant_predictions", {})]

batch_size = 128
n_train = 700
n_hidden_layers = 8
width = 5


def _data() -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.datasets import make_circles
    from sklearn.preprocessing import MinMaxScaler

    X, y = make_circles(n_samples=1000, noise=0.1, random_state=1)
    X = MinMaxScaler(feature_range=(-1, 1)).fit_transform(X)
    x, y = X[:n_train].astype("float32"), y[:n_train].astype("float32").reshape(-1, 1)
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n_train - batch_size + 1, batch_size)]


def _build(framework: str, init: str) -> dict[str, Any]:
    data = _data()
    if framework == "keras":
        import keras
        from keras.layers import Dense, Input

        keras.utils.set_random_seed(0)
        init1 = "Zeros"
        inp = Input(shape=(2,))
        x = inp
        for _ in range(n_hidden_layers):
            x = Dense(width, activation="relu", kernel_initializer=init, bias_initializer=init1)(x)
        x = Dense(1, activation="sigmoid")(x)
        model = keras.Model(inp, x)
        model.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy", metrics=["accuracy"])
        return {"model": model, "batch": data[0], "batches": data}

    import torch
    from torch import nn

    torch.manual_seed(0)

    def dense(n_in: int, n_out: int) -> nn.Linear:
        layer = nn.Linear(n_in, n_out)
        if init == "RandomUniform":
            nn.init.uniform_(layer.weight, -0.05, 0.05)  # keras RandomUniform() default range
        else:
            nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")  # he_uniform
        nn.init.zeros_(layer.bias)
        return layer

    mods: list[nn.Module] = []
    n_in = 2
    for _ in range(n_hidden_layers):
        mods += [dense(n_in, width), nn.ReLU()]
        n_in = width
    out = nn.Linear(width, 1)
    nn.init.xavier_uniform_(out.weight)  # Dense(1, 'sigmoid') keeps Keras' glorot_uniform default
    nn.init.zeros_(out.bias)
    mods += [out, nn.Sigmoid()]
    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in data]
    return {"model": nn.Sequential(*mods), "batch": tb[0], "batches": tb, "loss_fn": nn.BCELoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=1e-3)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, init="RandomUniform")


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, init="he_uniform")
