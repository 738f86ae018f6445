"""Binary MLP whose single output unit has a softmax activation: the output is always exactly 1.0,
so the loss never moves ("y-hat is always just all zeros ... predict_proba gives all ones").

Source: github.com/keras-team/keras issue #126 ("MLP example doesn't make progress"): the eight
2-D points and labels ``y = (X[:,0] + X[:,1] > 0.5)`` are the report's own; model Dense(2, 64,
init='uniform', tanh), Dropout(0.5), Dense(64, 64, uniform, tanh), Dropout(0.5), Dense(64, 1,
uniform, softmax); loss 'mean_squared_error'; SGD(lr=0.1, decay=1e-6, momentum=0.9, nesterov=True).
Keras 3 port: 'uniform' is RandomUniform(-0.05, 0.05); decay dropped (no effect over a check).
Fault label: output_activation. Fix: sigmoid on the one unit (the answer in the thread).
Torch twin: the same layers with nn.Softmax(dim=1) on the (N, 1) output.
"""

from __future__ import annotations

from typing import Any

LABEL = "output_activation"
SOURCE = "github:keras-team/keras issue #126"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("output_range", {"kind": "sigmoid"})]


def _xy() -> tuple[Any, Any]:
    import numpy as np

    X = np.array([[0.0, 0.1], [0.6, 0.8], [0.1, 0.2], [0.9, 0.8], [0.9, 0.7], [0.3, 0.0], [0.2, 0.2], [0.5, 0.9]],
                 dtype="float32")
    y = (X[:, 0] + X[:, 1] > 0.5).astype("float32")[:, None]
    return X, y


def _build(framework: str, head: str) -> dict[str, Any]:
    X, y = _xy()
    if framework == "keras":
        import keras
        from keras.layers import Dense, Dropout

        init = keras.initializers.RandomUniform(-0.05, 0.05)
        model = keras.Sequential([keras.Input((2,)), Dense(64, kernel_initializer=init, activation="tanh"), Dropout(0.5),
                                  Dense(64, kernel_initializer=init, activation="tanh"), Dropout(0.5),
                                  Dense(1, kernel_initializer=init, activation=head)])
        model.compile(loss="mean_squared_error",
                      optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True))
        return {"model": model, "batch": (X, y)}
    import torch
    import torch.nn as nn

    lins = [nn.Linear(2, 64), nn.Linear(64, 64), nn.Linear(64, 1)]
    for lin in lins:
        nn.init.uniform_(lin.weight, -0.05, 0.05)
        nn.init.zeros_(lin.bias)
    model = nn.Sequential(lins[0], nn.Tanh(), nn.Dropout(0.5), lins[1], nn.Tanh(), nn.Dropout(0.5), lins[2],
                          nn.Softmax(dim=1) if head == "softmax" else nn.Sigmoid())
    return {"model": model, "batch": (torch.tensor(X), torch.tensor(y)), "loss_fn": nn.MSELoss(),
            "optimizer": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, "softmax")


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, "sigmoid")
