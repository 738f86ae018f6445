"""Dive into Deep Learning (d2l-ai/d2l-en), section "Dropout" (``chapter_multilayer-perceptrons/dropout.md``),
concise implementation, TensorFlow tab, June 2020: Fashion-MNIST MLP ``Flatten`` -> ``Dense(256, relu)`` ->
``Dropout(0.2)`` -> ``Dense(256, relu)`` -> ``Dropout(0.5)`` -> ``Dense(10, activation=tf.nn.relu)``,
compiled with ``SGD(learning_rate=0.5)`` and ``SparseCategoricalCrossentropy()`` (``from_logits=False``:
the outputs are taken as class probabilities), batches of 256. The output layer has a ReLU instead of a
softmax: the loss clips the ten ReLU outputs to [1e-7, 1 - 1e-7] and takes ``-log(p_y / sum(p))`` of
them, so every output at 0 (or above 1) sits on a clipped, gradient-free plateau; the "probabilities" are
neither normalised nor bounded, and the classes whose output is dead cannot be learned.

Source: github.com/d2l-ai/d2l-en PR #1009 "[TF] Fix accuracy issues in a couple of notebooks" (commit
1ab988a8a5dd04a0283e88f4168ab20e23999c7d, "Fix accuracy in dropout concise implementation"), which
changes the last layer to ``tf.keras.layers.Dense(10, activation=tf.nn.softmax)`` (and trains with
``d2l.train_ch3`` and the same loss instead of ``compile``/``fit``).
Program: ``chapter_multilayer-perceptrons/dropout.md`` at 1ab988a8^ (TensorFlow tab: ``dropout1, dropout2 =
0.2, 0.5``, ``num_epochs, lr, batch_size = 10, 0.5, 256``, the ``Sequential`` above, ``trainer =
tf.keras.optimizers.SGD(learning_rate=lr)``, ``net.compile(optimizer=trainer,
loss=tf.keras.losses.SparseCategoricalCrossentropy(), metrics=['accuracy'])``) and ``d2l/tensorflow.py``
``load_data_fashion_mnist`` (``tf.expand_dims(X, axis=3) / 255``, labels int32).
Ported minimally to Keras 3: ``tf.keras`` written ``keras``, ``Flatten(input_shape=(28, 28))`` written as
``keras.Input((28, 28, 1))`` + ``Flatten()`` (the loader adds the channel axis). Keras 3, like TF 2.2,
only swaps a probability loss to logits for a Softmax output, so the ReLU output goes through the same
clip-and-log path as in 2020.
Torch twin: the PyTorch tab of the same section (``nn.Flatten``, ``nn.Linear(784, 256)``, ReLU,
``nn.Dropout(0.2)``, ``nn.Linear(256, 256)``, ReLU, ``nn.Dropout(0.5)``, ``nn.Linear(256, 10)``,
``init_weights``: ``normal_(std=0.01)`` on the Linear weights, ``nn.CrossEntropyLoss()``,
``SGD(lr=0.5)``) with the TensorFlow tab's ReLU on the output layer (buggy) or without it (fixed, the
PyTorch tab as written: ``CrossEntropyLoss`` takes logits, so its fix is no activation).
Data stand-in (Fashion-MNIST is a download): ``_data.mnist_like`` (scikit-learn's digits, 28x28 grey
images, uint8) divided by 255 as the loader does; 4 batches of 256, labels 0..9 (int32 in Keras, int64 in
torch).
Fault label: output_activation|loss_mismatch (ReLU outputs fed as probabilities). Fix (1ab988a8):
``Dense(10, activation=tf.nn.softmax)``; torch twin: no activation after the last Linear.
Symptom in a short loop (plain ``train_on_batch`` / torch loop, one thread, ~6-15 ms a step): Keras: initial
loss buggy 11.6 (most ReLU outputs at 0, clipped to 1e-7) vs fixed 2.38 (ln 10 = 2.30); 300 SGD steps on
one batch of 256: buggy 10.7 -> 9.7, fixed 2.44 -> 0.0023; 40 epochs over the 4 batches: buggy rises from
9.2 to 14.5 (the outputs die one after the other), fixed falls from 2.19 to 0.052. Torch twin (weak
effect: the std-0.01 init keeps both at 2.303 at first, and CrossEntropyLoss on ReLU'd logits only loses
the negative scores): one batch, 300 steps: buggy 0.46 vs fixed 0.015; 40 epochs over the 4 batches:
buggy 0.19 vs fixed 0.21 (no clear difference).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:d2l-ai/d2l-en PR #1009 (chapter_multilayer-perceptrons/dropout.md@1ab988a8^, "
          "fix 1ab988a8)")
FRAMEWORKS = ("keras", "torch")
CHECKS = {
    "keras": [("output_range", {"kind": "probabilities", "num_classes": 10}), ("init_loss", {"num_classes": 10}),
              ("overfit_one_batch", {}), ("loss_decreases", {})],
    "torch": [("output_range", {"kind": "logits", "num_classes": 10}), ("init_loss", {"num_classes": 10}),
              ("overfit_one_batch", {}), ("loss_decreases", {})],
}

dropout1, dropout2 = 0.2, 0.5  # program lines
num_epochs, lr, batch_size = 10, 0.5, 256
n_batches = 4
seed = 0


def _data() -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs._data import mnist_like

    x, y = mnist_like(batch_size * n_batches)
    return (x.astype("float32") / 255)[..., None], y  # tf.expand_dims(X, axis=3) / 255


def _build(framework: str, bug: bool) -> dict[str, Any]:
    x, y = _data()
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(seed)
        net = keras.models.Sequential([  # program lines
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(256, activation=keras.activations.relu),
            # Add a dropout layer after the first fully connected layer
            keras.layers.Dropout(dropout1),
            keras.layers.Dense(256, activation=keras.activations.relu),
            # Add a dropout layer after the second fully connected layer
            keras.layers.Dropout(dropout2),
            keras.layers.Dense(10, activation=keras.activations.relu if bug else keras.activations.softmax),
        ])
        trainer = keras.optimizers.SGD(learning_rate=lr)
        net.compile(optimizer=trainer,
                    loss=keras.losses.SparseCategoricalCrossentropy(),
                    metrics=['accuracy'])
        yk = y.astype("int32")
        batches = [(x[i:i + batch_size], yk[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        return {"model": net, "batch": batches[0], "batches": batches, "inputs": x}

    import torch
    from torch import nn

    torch.manual_seed(seed)
    layers = [nn.Flatten(),  # program lines (PyTorch tab)
              nn.Linear(784, 256),
              nn.ReLU(),
              # Add a dropout layer after the first fully connected layer
              nn.Dropout(dropout1),
              nn.Linear(256, 256),
              nn.ReLU(),
              # Add a dropout layer after the second fully connected layer
              nn.Dropout(dropout2),
              nn.Linear(256, 10)]
    if bug:
        layers.append(nn.ReLU())  # the TensorFlow tab's Dense(10, activation=tf.nn.relu)
    net = nn.Sequential(*layers)

    def init_weights(m):
        if type(m) == nn.Linear:
            torch.nn.init.normal_(m.weight, std=0.01)

    net.apply(init_weights)
    xt = torch.tensor(x).permute(0, 3, 1, 2).contiguous()
    yt = torch.tensor(y)
    batches = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, len(xt), batch_size)]
    return {"model": net, "batch": batches[0], "batches": batches, "inputs": xt,
            "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.SGD(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, bug=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, bug=False)
