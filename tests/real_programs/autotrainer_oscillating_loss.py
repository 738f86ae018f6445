"""AUTOTRAINER demo "Oscillating_Loss_Case": SGD(lr 0.01, momentum 0.9) at batch size 1 on blobs.

Source: github.com/shiningrain/AUTOTRAINER, commit 03a463ea05691a73403d7cff99a368fb4b6720cf,
AutoTrainer/demo_case/Oscillating_Loss_Case/model.h5 (model_config: Dense(50, relu, he_uniform,
input 2), Dense(3, softmax, glorot_uniform)) and config.pkl ({'batchsize': 1, 'epoch': 200,
'dataset': 'simplednn_blob', 'loss': 'categorical_crossentropy', 'opt_kwargs': {'lr': 0.01,
'momentum': 0.9}, 'optimizer': 'SGD'}); data: AutoTrainer/data/simplednn.py ('blob').
Fault label: lr_too_high (AUTOTRAINER's "unstable training": the step is too large for batch size 1
on inputs of scale ~10). Fix: AUTOTRAINER's 'unstable_adam' repair (Adam, default lr 0.001).
The torch twin writes the softmax head the torch way (logits into CrossEntropyLoss).
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "lr_too_high"
SOURCE = "github:shiningrain/AUTOTRAINER@03a463ea AutoTrainer/demo_case/Oscillating_Loss_Case/model.h5+config.pkl"
FRAMEWORKS = ("keras", "torch")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {})]


def _build(framework: str, adam: bool) -> dict[str, Any]:
    x, y = _data.autotrainer_blobs(128)
    if framework == "keras":
        import keras
        from keras.layers import Dense

        model = keras.Sequential([keras.Input((2,)), Dense(50, activation="relu", kernel_initializer="he_uniform"),
                                  Dense(3, activation="softmax")])
        opt = keras.optimizers.Adam() if adam else keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
        model.compile(loss="categorical_crossentropy", optimizer=opt)
        yk = _data.one_hot(y, 3)
        return {"model": model, "batch": (x[:32], yk[:32]), "batches": _data.batches(x, yk, 1)}
    import torch

    from tests.real_programs._nets import torch_dense

    model = torch.nn.Sequential(torch_dense(2, 50, "he_uniform"), torch.nn.ReLU(), torch_dense(50, 3))
    xt, yt = torch.tensor(x), torch.tensor(y)
    opt = (lambda p: torch.optim.Adam(p)) if adam else (lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9))
    return {"model": model, "batch": (xt[:32], yt[:32]), "batches": _data.batches(xt, yt, 1),
            "loss_fn": torch.nn.CrossEntropyLoss(), "optimizer": opt}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, adam=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, adam=True)
