"""AUTOTRAINER's training-unstable case 17 (the "L-code" set): a one-hidden-layer regression MLP on
scikit-learn's ``make_regression`` data -- ``Dense(25, activation='relu', kernel_initializer='he_uniform')``
-> ``Dense(1, activation='linear')``, ``loss='mean_squared_error'``, ``SGD()`` (Keras' default lr=0.01),
``batch_size=32``. The 20 inputs are standard normal, but the targets are used raw: they span about
-440..+575 with a standard deviation of ~153, so the initial MSE is ~2e4 and its gradients are hundreds of
times larger than for unit-scale targets. Plain SGD at lr=0.01 overshoots, the weights blow up and the
loss turns into inf/NaN within the first few epochs.

Source: github.com/shiningrain/AUTOTRAINER ``DL_tools/code/L-code/unstable/case-17-unstable/case_17.py``
(commit 27df1ce0ee0e6eca93ffee88871786871aeee8fa, "Draft Code"), filed by the authors under
``unstable``. Program lines kept::

    X, y = make_regression(n_samples=1000, n_features=20, noise=0.1, random_state=1)
    n_train = 500
    trainX, testX = X[:n_train, :], X[n_train:, :]
    trainy, testy = y[:n_train], y[n_train:]
    model.add(Dense(25, input_dim=20, activation='relu', kernel_initializer='he_uniform'))
    model.add(Dense(1, activation='linear'))
    opt = SGD()
    model.compile(loss='mean_squared_error', optimizer=opt)
    model.fit(trainX, trainy, ..., epochs=500, verbose=1, batch_size=32)

Data: the program's own generator (offline), the 500 training rows cut into their 15 full batches of 32;
targets reshaped to (n, 1) float32. Ported minimally to Keras 3 (``keras.Input((20,))`` instead of
``input_dim``, ``keras.optimizers.SGD()`` whose default lr is still 0.01). Torch twin: the same MLP
(Kaiming-uniform = he_uniform hidden kernel, Glorot-uniform output kernel, zero biases), ``nn.MSELoss()``,
``torch.optim.SGD(lr=0.01)``.
Fault label: targets_not_normalized|exploding_gradients|loss_not_finite (raw, large-scale regression
targets under plain SGD: the updates explode and the loss becomes NaN).
Fix (no human commit; this is a benchmark case): standardise the targets with the training mean and
standard deviation (``StandardScaler`` on ``trainy``), everything else unchanged.
Symptom measured in a short loop of my own (the 15 batches in order, 20 epochs = 300 steps):
torch: buggy MSE 2.0e4 on the first batch, 6.5e3 at step 4, then 2e5, 1.7e8, 1.5e17, inf at step 9 and
NaN from step 11 on (seeds 0..2 all end in NaN); fixed (scaled targets) 2.6 on the first batch, epoch-mean
loss 2.06 -> 0.16. Keras (``model.fit``, 20 epochs): buggy loss NaN from the first epoch on; fixed
epoch-mean loss 2.09 -> 0.14. One SGD step takes ~0.7 ms (torch) on one CPU thread; building < 1 s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "targets_not_normalized|exploding_gradients|loss_not_finite"
SOURCE = ("github:shiningrain/AUTOTRAINER@27df1ce "
          "DL_tools/code/L-code/unstable/case-17-unstable/case_17.py")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {})]

batch_size = 32
n_train = 500
lr = 0.01  # SGD() default


def _data(scale_targets: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    from sklearn.datasets import make_regression

    X, y = make_regression(n_samples=1000, n_features=20, noise=0.1, random_state=1)
    trainX, trainy = X[:n_train], y[:n_train]
    if scale_targets:  # the fix
        trainy = (trainy - trainy.mean()) / trainy.std()
    x, t = trainX.astype("float32"), trainy.astype("float32").reshape(-1, 1)
    return [(x[i:i + batch_size], t[i:i + batch_size]) for i in range(0, n_train - batch_size + 1, batch_size)]


def _build(framework: str, scale_targets: bool) -> dict[str, Any]:
    data = _data(scale_targets)
    if framework == "keras":
        import keras
        from keras.layers import Dense

        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.Input((20,)),
            Dense(25, activation='relu', kernel_initializer='he_uniform'),
            Dense(1, activation='linear'),
        ])
        model.compile(loss='mean_squared_error', optimizer=keras.optimizers.SGD())
        return {"model": model, "batch": data[0], "batches": data}

    import torch
    from torch import nn

    from tests.real_programs import _nets

    torch.manual_seed(0)
    model = nn.Sequential(_nets.torch_dense(20, 25, init="he_uniform"), nn.ReLU(), _nets.torch_dense(25, 1))
    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in data]
    return {"model": model, "batch": tb[0], "batches": tb, "loss_fn": nn.MSELoss(),
            "optimizer": lambda p: torch.optim.SGD(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, scale_targets=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, scale_targets=True)
