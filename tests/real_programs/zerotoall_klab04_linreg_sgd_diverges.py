"""hunkim/DeepLearningZeroToAll's Keras lab 4-1 (multi-input linear regression): one ``Dense(1)`` with a
linear activation predicting a final exam score (142..196) from three quiz scores (66..100), MSE loss,
``optimizer='sgd'``. The ``lr=1e-10`` the author passed to ``compile`` is silently ignored by Keras, so
plain SGD runs at its default 0.01 on raw inputs near 90: the first gradient is of order 2 * 90 * 150,
every step overshoots, and the loss blows up to inf/NaN within a few steps.

Source: github.com/hunkim/DeepLearningZeroToAll, klab-04-1-multi_input_linear_regression.py at
52f9349a2edc14a20ea3360b7e97279343224899^; fixed by PR #11 (commit 52f9349, "change optimizer from sgd
to rmsprop for keras linear regression", citing "NaN when training regression net using Keras"), which
changes ``optimizer='sgd'`` to ``optimizer='rmsprop'`` (default lr 1e-3, whose per-step move is bounded)
in this lab and in labs 4-2 and 4-3. Program lines: the five ``x_data`` rows and ``y_data``,
``Dense(output_dim=1, input_dim=3)``, ``Activation('linear')``, ``loss='mse'``, ``nb_epoch=1000`` with
the default batch size (one full batch of 5). Ported minimally: ``output_dim`` -> units, ``Input``
layer for ``input_dim``; the ignored ``lr=1e-10`` compile argument is dropped (Keras 3 rejects it), which
leaves exactly the optimizer the program ran with. Data: the program's own five rows (no download).
Fault label: lr_too_high|inputs_not_normalized. Fix (PR #11): RMSprop at its default rate.
Torch twin: ``Linear(3, 1)`` (Glorot init), ``nn.MSELoss``, SGD(lr=0.01); fixed RMSprop with Keras's
defaults (lr 1e-3, rho 0.9, eps 1e-7).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "lr_too_high|inputs_not_normalized"
SOURCE = ("github:hunkim/DeepLearningZeroToAll PR #11 (klab-04-1-multi_input_linear_regression.py@52f9349^, "
          "fix 52f9349)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

x_data = [[73., 80., 75.], [93., 88., 93.], [89., 91., 90.], [96., 98., 100.], [73., 66., 70.]]  # program lines
y_data = [[152.], [185.], [180.], [196.], [142.]]


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x = np.array(x_data, dtype="float32")
    y = np.array(y_data, dtype="float32")
    if framework == "keras":
        import keras
        from keras.layers import Activation, Dense, Input
        from keras.models import Sequential

        model = Sequential()
        model.add(Input((3,)))
        model.add(Dense(1))
        model.add(Activation("linear"))
        model.compile(loss="mse", optimizer="rmsprop" if fixed else "sgd")
        return {"model": model, "batch": (x, y), "batches": [(x, y)]}

    import torch
    from torch import nn

    from tests.real_programs import _nets

    xt, yt = torch.tensor(x), torch.tensor(y)
    if fixed:
        def opt(p):
            return torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-7)
    else:
        def opt(p):
            return torch.optim.SGD(p, lr=0.01)
    return {"model": nn.Sequential(_nets.torch_dense(3, 1)), "batch": (xt, yt), "batches": [(xt, yt)],
            "loss_fn": nn.MSELoss(), "optimizer": opt}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
