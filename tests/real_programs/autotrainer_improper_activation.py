"""AUTOTRAINER demo "Improper_Activation_case": a ReLU on the 3-unit output layer of a blob classifier.

Source: github.com/shiningrain/AUTOTRAINER, commit 03a463ea05691a73403d7cff99a368fb4b6720cf,
AutoTrainer/demo_case/Improper_Activation_case/demo_activation.py (model and training config) and
config_acti.pkl ({'optimizer': 'Adam', 'opt_kwargs': {'lr': 0.0001}, 'batchsize': 256, 'epoch': 300,
'dataset': 'simplednn_blob', 'loss': 'categorical_crossentropy'}); data: AutoTrainer/data/simplednn.py
('blob': make_blobs(1000, centers=3, n_features=2, cluster_std=2, random_state=2), x*100 then /100).
Fault label: output_activation (ReLU where the head needs softmax / raw logits).
Fix: softmax head (Keras, with categorical cross-entropy) / no activation before CrossEntropyLoss (torch).
The torch twin is the same model written the torch way (CrossEntropyLoss on the last layer).
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "output_activation"
SOURCE = "github:shiningrain/AUTOTRAINER@03a463ea AutoTrainer/demo_case/Improper_Activation_case/demo_activation.py"
FRAMEWORKS = ("keras", "torch")
CHECKS = {
    "keras": [("overfit_one_batch", {}), ("loss_decreases", {}), ("output_range", {"kind": "probabilities"})],
    "torch": [("overfit_one_batch", {}), ("loss_decreases", {}), ("output_range", {"kind": "logits"})],
}


def _build(framework: str, head: str) -> dict[str, Any]:
    x, y = _data.autotrainer_blobs(256)
    if framework == "keras":
        import keras
        from keras.layers import Dense

        # program lines (demo_activation.py): 4 x Dense(50, relu, he_uniform), Dense(3, activation=head)
        model = keras.Sequential([keras.Input((2,))] + [Dense(50, activation="relu", kernel_initializer="he_uniform")
                                                        for _ in range(4)] + [Dense(3, activation=head)])
        model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=0.0001))
        yk = _data.one_hot(y, 3)
        return {"model": model, "batch": (x, yk), "batches": _data.batches(x, yk, 256)}
    import torch

    from tests.real_programs._nets import torch_dense

    layers: list[Any] = []
    for i in range(4):
        layers += [torch_dense(2 if i == 0 else 50, 50, "he_uniform"), torch.nn.ReLU()]
    layers.append(torch_dense(50, 3))
    if head == "relu":
        layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": model, "batch": (xt, yt), "batches": [(xt, yt)], "loss_fn": torch.nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=0.0001)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, "relu")


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, "softmax" if framework == "keras" else "linear")
