"""shaoxiongji/federated-learning (a widely used from-scratch FedAvg implementation in PyTorch), the MNIST
``MLP`` trained by each client's ``LocalUpdate.train``: ``x.view(-1, 784)`` -> ``nn.Linear(784, 200)`` ->
``nn.Dropout()`` -> ``nn.ReLU()`` -> ``nn.Linear(200, 10)`` -> ``nn.Softmax(dim=1)``, loss
``nn.CrossEntropyLoss()`` on that output, ``torch.optim.SGD(lr=0.01, momentum=0.5)``, local batches of 10
(``--local_bs 10``), images ``ToTensor()`` + ``Normalize((0.1307,), (0.3081,))``. CrossEntropyLoss applies its
own log-softmax, so the loss sees ``log_softmax(softmax(z))``: the probabilities in [0, 1] are squashed a
second time, the loss cannot fall below ``-log(e / (e + 9))`` = 1.46 and its gradient is damped by the softmax
Jacobian, so training is slow and stalls (the issue reports 90 % test accuracy, 95 % once fixed).

Source: github.com/shaoxiongji/federated-learning issue #9 "Pytorch CrossEntropy function contains softmax"
(youkaichao, 2019-12-24: "After removing the softmax activation, I'm able to improve the MLP from 90% to
95%"; maintainer: "fixed"). Program: models/Nets.py (``MLP``), models/Update.py (``LocalUpdate``),
utils/options.py (defaults lr 0.01, momentum 0.5, local_bs 10), main_fed.py (``MLP(dim_in=len_in,
dim_hidden=200, dim_out=args.num_classes)``, the MNIST transform) at 5ffe3e3^ (after 3142750 "fix: MLP
dim_hidden=200"); fixed by 5ffe3e31cbd52ca3042d6af012b0d5fd55352e4f "fix: remove softmax" (the MLP returns
``x``; the same commit drops a harmless ``log_softmax`` from the CNNs).
Ported: one client's local training (the federated averaging around it does not touch the fault). The
program's MLP, loss, optimiser, batch size and normalisation are kept. Keras twin: ``Flatten`` ->
``Dense(200)`` -> ``Dropout(0.5)`` -> ``ReLU`` -> ``Dense(10)`` -> softmax, compiled with
``SparseCategoricalCrossentropy(from_logits=True)`` (the PyTorch loss's meaning) and ``SGD(0.01,
momentum=0.5)``; torch-style uniform init (kaiming_uniform a=sqrt(5) kernels, uniform biases) so both twins
start alike. Keras 3 (TF backend) recognises a ``'softmax'`` activation fed to ``from_logits=True`` and uses
the pre-softmax logits, which would hide the bug, so the buggy twin writes the softmax out with
``keras.ops`` (as the corpus's other from-logits ports do).
Data stand-in (no MNIST download): ``_data.mnist_like`` (scikit-learn's digits blown up to 28x28 uint8),
scaled to [0, 1] and normalised with MNIST's (0.1307, 0.3081); torch (N, 1, 28, 28), Keras (N, 28, 28, 1);
12 batches of 10. One step takes about 1 ms on one CPU thread (torch) / 6-12 ms (Keras ``train_on_batch``).
Fault label: loss_mismatch|output_activation (softmax probabilities into a loss that expects logits).
Fix (5ffe3e3): drop the ``nn.Softmax`` so the MLP returns logits.
Symptom in a short loop (seed 1, SGD lr 0.01 momentum 0.5; losses measured in eval mode): 300 steps on one
batch of 10: torch buggy 2.30 -> 1.47 (at the 1.46 floor), fixed 2.28 -> 0.004; 10 epochs over the 12
batches (120 steps): buggy 2.30 -> 1.85 with 88 % training accuracy, fixed 2.28 -> 0.08 with 99 %. Keras twin:
one batch 2.31 -> 1.56 vs 2.43 -> 0.005; over the batches 2.31 -> 1.88 (75 %) vs 2.43 -> 0.08 (99 %).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_mismatch|output_activation"
SOURCE = ("github:shaoxiongji/federated-learning issue #9 (models/Nets.py MLP, models/Update.py, main_fed.py "
          "@5ffe3e3^, fix 5ffe3e3)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {}),
          ("output_range", {"kind": "logits", "num_classes": 10})]

local_bs = 10  # utils/options.py defaults
lr = 0.01
momentum = 0.5
dim_hidden = 200  # main_fed.py
num_classes = 10
n_batches = 12


def _data() -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs import _data as d

    imgs, y = d.mnist_like(local_bs * n_batches)
    x = ((imgs.astype("float32") / 255.0) - 0.1307) / 0.3081  # ToTensor() + Normalize((0.1307,), (0.3081,))
    return x.astype("float32"), y


def _build(framework: str, softmax_out: bool) -> dict[str, Any]:
    x, y = _data()
    dim_in = 28 * 28
    if framework == "torch":
        import torch
        from torch import nn

        torch.manual_seed(1)  # --seed 1

        class MLP(nn.Module):  # program lines (models/Nets.py)
            def __init__(self, dim_in, dim_hidden, dim_out):
                super().__init__()
                self.layer_input = nn.Linear(dim_in, dim_hidden)
                self.relu = nn.ReLU()
                self.dropout = nn.Dropout()
                self.layer_hidden = nn.Linear(dim_hidden, dim_out)
                self.softmax = nn.Softmax(dim=1)

            def forward(self, x):
                x = x.view(-1, x.shape[1] * x.shape[-2] * x.shape[-1])
                x = self.layer_input(x)
                x = self.dropout(x)
                x = self.relu(x)
                x = self.layer_hidden(x)
                return self.softmax(x) if softmax_out else x  # fix 5ffe3e3: return x

        model = MLP(dim_in=dim_in, dim_hidden=dim_hidden, dim_out=num_classes)
        xt = torch.tensor(x[:, None, :, :])
        yt = torch.tensor(y)
        batches = [(xt[i:i + local_bs], yt[i:i + local_bs]) for i in range(0, len(xt), local_bs)]
        return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt,
                "loss_fn": nn.CrossEntropyLoss(),
                "optimizer": lambda p: torch.optim.SGD(p, lr=lr, momentum=momentum)}

    if framework != "keras":
        raise ValueError(framework)
    import keras

    keras.utils.set_random_seed(1)

    def torch_like_dense(n_in: int, n_out: int) -> keras.layers.Dense:
        bound = 1.0 / np.sqrt(n_in)  # nn.Linear's default init
        return keras.layers.Dense(n_out,
                                  kernel_initializer=keras.initializers.RandomUniform(-bound, bound),
                                  bias_initializer=keras.initializers.RandomUniform(-bound, bound))

    def softmax_written_out(z):  # nn.Softmax(dim=1), not recognised by Keras' from_logits shortcut
        e = keras.ops.exp(z - keras.ops.max(z, axis=1, keepdims=True))
        return e / keras.ops.sum(e, axis=1, keepdims=True)

    layers = [keras.Input((28, 28, 1)), keras.layers.Flatten(), torch_like_dense(dim_in, dim_hidden),
              keras.layers.Dropout(0.5), keras.layers.ReLU(), torch_like_dense(dim_hidden, num_classes)]
    if softmax_out:
        layers.append(keras.layers.Lambda(softmax_written_out))
    model = keras.Sequential(layers)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.SGD(learning_rate=lr, momentum=momentum), metrics=["accuracy"])
    xk = x[..., None]
    batches = [(xk[i:i + local_bs], y[i:i + local_bs]) for i in range(0, len(xk), local_bs)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xk}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, softmax_out=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, softmax_out=False)
