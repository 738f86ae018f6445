"""AUTOTRAINER demo "Loss_Issue_Case": a blob classifier whose softmax head is followed by a second
Softmax layer and trained with mean squared error against the one-hot labels.

Source: github.com/shiningrain/AUTOTRAINER, commit 48f8fd67063f6e2215fc903057c2de9eacc14c33,
AutoTrainer/demo_case/Loss_Issue_Case/demo.py: 4 x Dense(50, relu, he_uniform; input_dim 2),
Dense(3, activation='softmax'), Softmax(); config {'optimizer': 'Adam', 'opt_kwargs': {'lr': 0.0001},
'batchsize': 256, 'epoch': 300, 'dataset': 'simplednn_blob', 'loss': 'mean_squared_error'}; its
readme.md: a loss-problem demo ("using the wrong loss in a classification problem does not always
make the results abnormal"). Data: AutoTrainer/data/simplednn.py ('blob': make_blobs(1000, centers=3,
n_features=2, cluster_std=2, random_state=2), to_categorical(y); preprocess is the identity).
Fault label: loss_mismatch (MSE on class probabilities), with output_activation (a softmax over
softmax outputs, squeezed towards uniform) as the alternative.
Fix: one softmax head and categorical_crossentropy (Keras) / logits into CrossEntropyLoss (torch).
The torch twin is the same model written the torch way (two nn.Softmax(dim=1), MSELoss on one-hot).
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "loss_mismatch|output_activation"
SOURCE = "github:shiningrain/AUTOTRAINER@48f8fd67 AutoTrainer/demo_case/Loss_Issue_Case/demo.py"
FRAMEWORKS = ("keras", "torch")
CHECKS = {
    "keras": [("overfit_one_batch", {}), ("loss_decreases", {}), ("output_range", {"kind": "probabilities"})],
    "torch": [("overfit_one_batch", {}), ("loss_decreases", {}), ("output_range", {"kind": "logits"})],
}


def _build(framework: str, buggy: bool) -> dict[str, Any]:
    x, y = _data.autotrainer_blobs(256)
    if framework == "keras":
        import keras
        from keras.layers import Dense, Softmax

        layers = [keras.Input((2,))] + [Dense(50, activation="relu", kernel_initializer="he_uniform") for _ in range(4)]
        layers.append(Dense(3, activation="softmax"))
        if buggy:
            layers.append(Softmax())
        model = keras.Sequential(layers)
        model.compile(loss="mean_squared_error" if buggy else "categorical_crossentropy",
                      optimizer=keras.optimizers.Adam(learning_rate=0.0001))
        yk = _data.one_hot(y, 3)
        return {"model": model, "batch": (x, yk), "batches": _data.batches(x, yk, 256)}
    import torch

    from tests.real_programs._nets import torch_dense

    mods: list[Any] = []
    for i in range(4):
        mods += [torch_dense(2 if i == 0 else 50, 50, "he_uniform"), torch.nn.ReLU()]
    mods.append(torch_dense(50, 3))
    if buggy:
        mods += [torch.nn.Softmax(dim=1), torch.nn.Softmax(dim=1)]
    model = torch.nn.Sequential(*mods)
    xt = torch.tensor(x)
    yt = torch.tensor(_data.one_hot(y, 3)) if buggy else torch.tensor(y)
    loss = torch.nn.MSELoss() if buggy else torch.nn.CrossEntropyLoss()
    return {"model": model, "batch": (xt, yt), "batches": [(xt, yt)], "loss_fn": loss,
            "optimizer": lambda p: torch.optim.Adam(p, lr=0.0001)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, False)
