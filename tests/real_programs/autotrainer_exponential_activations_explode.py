"""AUTOTRAINER's gradient-explosion case 26: a 2-feature circles classifier built from four
``Dense(5, activation='exponential')`` layers (he_uniform) and a sigmoid unit. Stacked exponentials
multiply every layer's gradient by its (already exponentiated) activations, so activations and
gradients grow by orders of magnitude from layer to layer and training blows up.

Source: github.com/shiningrain/AUTOTRAINER ``DL_tools/code/GradientExplode/case26.py`` (commit
27df1ce0ee0e6eca93ffee88871786871aeee8fa), data ``DL_tools/data/simplednn.py`` ``load_data('circle')``;
the case is filed by the authors under GradientExplode (``issue_list=['explode']``). Program lines
kept::

    init='he_uniform'
    x=Dense(5,activation='exponential', kernel_initializer=init)(input)
    #x=BatchNormalization()(x)
    ... (four such Dense layers, each followed by the commented-out BatchNormalization)
    x=Dense(1,activation='sigmoid', kernel_initializer=init)(x)
    opt=Adam(); loss='binary_crossentropy'; batch_size=128

Data (the program's own generator, offline): ``make_circles(n_samples=1000, noise=0.1,
random_state=1)``, ``MinMaxScaler(feature_range=(-1, 1))``, first 700 rows for training, batches of 128.
Fix (no human commit; this is a benchmark case): AUTOTRAINER's ``bn`` repair for 'explode', which is
also what the program's own commented-out lines do -- ``BatchNormalization()`` after every exponential
layer. Torch twin: the same net with ``torch.exp`` activations, Kaiming-uniform (= he_uniform) weights,
zero biases, ``BCELoss`` on the sigmoid output, ``Adam(lr=1e-3)``; fixed with ``BatchNorm1d(5)``
(momentum 0.01, eps 1e-3 as Keras).
Fault label: exploding_gradients|loss_not_finite|outputs_not_finite (the exploding activations and
gradients overflow to inf/NaN outputs and loss).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "exploding_gradients|loss_not_finite|outputs_not_finite"
SOURCE = ("github:shiningrain/AUTOTRAINER@27df1ce DL_tools/code/GradientExplode/case26.py "
          "(data DL_tools/data/simplednn.py load_data('circle'))")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("gradients_flow", {}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("output_range", {"kind": "sigmoid"})]

batch_size = 128
n_train = 700


def _data() -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.datasets import make_circles
    from sklearn.preprocessing import MinMaxScaler

    X, y = make_circles(n_samples=1000, noise=0.1, random_state=1)
    X = MinMaxScaler(feature_range=(-1, 1)).fit_transform(X)
    x, y = X[:n_train].astype("float32"), y[:n_train].astype("float32").reshape(-1, 1)
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n_train - batch_size + 1, batch_size)]


def _build(framework: str, bn: bool) -> dict[str, Any]:
    data = _data()
    if framework == "keras":
        import keras
        from keras.layers import BatchNormalization, Dense, Input

        keras.utils.set_random_seed(0)
        init = "he_uniform"
        inp = Input(shape=(2,))
        x = inp
        for _ in range(4):
            x = Dense(5, activation="exponential", kernel_initializer=init)(x)
            if bn:
                x = BatchNormalization()(x)
        x = Dense(1, activation="sigmoid", kernel_initializer=init)(x)
        model = keras.Model(inp, x)
        model.compile(optimizer=keras.optimizers.Adam(), loss="binary_crossentropy")
        return {"model": model, "batch": data[0], "batches": data}

    import torch
    from torch import nn

    torch.manual_seed(0)

    class Exp(nn.Module):
        def forward(self, x):
            return torch.exp(x)

    def dense(n_in, n_out):
        layer = nn.Linear(n_in, n_out)
        nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")  # he_uniform
        nn.init.zeros_(layer.bias)
        return layer

    mods: list[nn.Module] = []
    n_in = 2
    for _ in range(4):
        mods += [dense(n_in, 5), Exp()]
        if bn:
            mods.append(nn.BatchNorm1d(5, eps=1e-3, momentum=0.01))
        n_in = 5
    mods += [dense(5, 1), nn.Sigmoid()]
    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in data]
    return {"model": nn.Sequential(*mods), "batch": tb[0], "batches": tb, "loss_fn": nn.BCELoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=1e-3)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, bn=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, bn=True)
