"""AUTOTRAINER demo "Gradient_Vanish_Case": eight 5-unit sigmoid layers on the circles data.

Source: github.com/shiningrain/AUTOTRAINER, commit 03a463ea05691a73403d7cff99a368fb4b6720cf,
AutoTrainer/demo_case/Gradient_Vanish_Case/model.h5 (its model_config: Input(2), 8 x Dense(5,
'sigmoid', he_uniform), Dense(1, 'sigmoid', he_uniform)) and config.pkl ({'batchsize': 128,
'dataset': 'simplednn_circle', 'epoch': 300, 'loss': 'binary_crossentropy', 'opt_kwargs':
{'lr': 0.001}, 'optimizer': 'Adam'}); data: AutoTrainer/data/simplednn.py ('circle':
make_circles(1000, noise=0.1, random_state=1), x*100 then /100).
Fault label: vanishing_gradients. Fix: AUTOTRAINER's 'vanish_relu' repair (ReLU hidden activations).
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "vanishing_gradients"
SOURCE = "github:shiningrain/AUTOTRAINER@03a463ea AutoTrainer/demo_case/Gradient_Vanish_Case/model.h5+config.pkl"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("gradients_flow", {}), ("overfit_one_batch", {}), ("loss_decreases", {})]


def _build(framework: str, act: str) -> dict[str, Any]:
    x, y = _data.autotrainer_circles(256)
    if framework == "keras":
        import keras
        from keras.layers import Dense

        model = keras.Sequential([keras.Input((2,))] + [Dense(5, activation=act, kernel_initializer="he_uniform")
                                                        for _ in range(8)]
                                 + [Dense(1, activation="sigmoid", kernel_initializer="he_uniform")])
        model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=0.001))
        return {"model": model, "batch": (x[:128], y[:128]), "batches": _data.batches(x, y, 128)}
    import torch

    from tests.real_programs._nets import torch_dense

    layers: list[Any] = []
    for i in range(8):
        layers += [torch_dense(2 if i == 0 else 5, 5, "he_uniform"), torch.nn.Sigmoid() if act == "sigmoid" else torch.nn.ReLU()]
    layers += [torch_dense(5, 1, "he_uniform"), torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers)
    xt, yt = torch.tensor(x), torch.tensor(y).unsqueeze(1)
    return {"model": model, "batch": (xt[:128], yt[:128]), "batches": _data.batches(xt, yt, 128),
            "loss_fn": torch.nn.BCELoss(), "optimizer": lambda p: torch.optim.Adam(p, lr=0.001)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, "sigmoid")


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, "relu")
