"""The end-to-end example of Packt's "What's New in TensorFlow 2.0" (Chapter02/end_to_end_sequential.py): an
MNIST MLP (Flatten, Dense(100, relu), Dense(100, relu), Dense(10, softmax)) compiled with
``keras.losses.categorical_crossentropy`` and ``keras.optimizers.SGD()`` (learning rate 0.01), trained with
``batch_size=32``. The images go in as ``tf.convert_to_tensor(x_train, dtype='float')``: raw pixel values
0..255, never scaled. With inputs of that size the first Dense layer's pre-activations are in the hundreds, the
softmax saturates after the first SGD steps, ReLU units die, and the model stays at chance accuracy (the
issue reports about 11% that never improves).

Source: github.com/PacktPublishing/What-s-New-in-TensorFlow-2.0 issue #1 ("Ch2 end-to-end example does not
improve in accuracy"); the script as committed in de546c9 ("Code files added", unchanged up to aec9262).
Fix: the resolution given in the issue, "For accuracy to improve the values in x_train and x_test need to be
divided by 255"; the reporter confirms that "scaling the values fixes it entirely" on TF 2.0.0rc0/rc1 (the
maintainer answered that scaling had been left out of the book for conciseness and did not commit it).
Program lines kept: the model (Flatten, two ``Dense(100, activation='relu')``, ``Dense(10,
activation='softmax')``), ``loss=keras.losses.categorical_crossentropy``, ``optimizer=keras.optimizers.SGD()``,
``tf.one_hot(y_train, depth=10)`` targets, ``batch_size=32``, float pixels 0..255.
Ported minimally: Keras 3 ``keras.Sequential`` with an ``Input((28, 28))`` so the model is built; the
``tf.convert_to_tensor``/``tf.one_hot`` calls become numpy ``float32`` arrays (same values);
``steps_per_epoch=5, epochs=10`` is left to the caller's loop.
Data: ``keras.datasets.mnist.load_data()`` is replaced by ``_data.mnist_like`` (uint8 28x28 digits, 0..255,
labels 0..9), 256 images cut into eight batches of 32.
Fault label: inputs_not_normalized. Torch twin: the same MLP (Glorot-uniform kernels, zero biases as Keras
Dense) ending in ``softmax``, scored by the categorical cross-entropy of the clipped probabilities (Keras clips
to [1e-7, 1 - 1e-7]), ``torch.optim.SGD(lr=0.01)``; the fix divides the pixels by 255 in both.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "inputs_not_normalized"
SOURCE = ("github:PacktPublishing/What-s-New-in-TensorFlow-2.0 issue #1 "
          "(Chapter02/end_to_end_sequential.py@de546c9; fix: x / 255 per the issue)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("inputs_normalized", {}),
          ("not_constant_predictions", {})]

batch_size = 32  # program lines
num_classes = 10
learning_rate = 0.01  # keras.optimizers.SGD() default


def _mnist(scaled: bool) -> tuple[np.ndarray, np.ndarray]:
    x, y = _data.mnist_like(256)
    x = x.astype("float32")  # tf.convert_to_tensor(x_train, dtype='float')
    if scaled:  # the fix
        x = x / 255.0
    return x, _data.one_hot(y, num_classes)  # tf.one_hot(y_train, depth=10)


def _build(framework: str, scaled: bool) -> dict[str, Any]:
    x, y = _mnist(scaled)
    if framework == "keras":
        import keras

        model = keras.Sequential([keras.Input((28, 28))])
        model.add(keras.layers.Flatten())
        model.add(keras.layers.Dense(100, activation="relu"))
        model.add(keras.layers.Dense(100, activation="relu"))
        model.add(keras.layers.Dense(10, activation="softmax"))
        model.compile(loss=keras.losses.categorical_crossentropy, optimizer=keras.optimizers.SGD(),
                      metrics=["accuracy"])
        return {"model": model, "batch": (x[:batch_size], y[:batch_size]),
                "batches": _data.batches(x, y, batch_size)}
    if framework != "torch":
        raise ValueError(framework)
    import torch
    from torch import nn

    from tests.real_programs import _nets

    class SoftmaxMLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.flatten = nn.Flatten()
            self.dense_1 = _nets.torch_dense(28 * 28, 100)
            self.dense_2 = _nets.torch_dense(100, 100)
            self.dense_3 = _nets.torch_dense(100, num_classes)

        def forward(self, x):
            h = torch.relu(self.dense_1(self.flatten(x)))
            h = torch.relu(self.dense_2(h))
            return torch.softmax(self.dense_3(h), dim=1)

    class CategoricalCrossentropy(nn.Module):
        """Keras ``categorical_crossentropy`` on probabilities (clipped to [1e-7, 1 - 1e-7]), one-hot targets."""

        def forward(self, probs, target):
            return -(target * torch.log(probs.clamp(1e-7, 1 - 1e-7))).sum(dim=1).mean()

    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": SoftmaxMLP(), "batch": (xt[:batch_size], yt[:batch_size]),
            "batches": _data.batches(xt, yt, batch_size), "loss_fn": CategoricalCrossentropy(),
            "optimizer": lambda p: torch.optim.SGD(p, lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, scaled=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, scaled=True)
