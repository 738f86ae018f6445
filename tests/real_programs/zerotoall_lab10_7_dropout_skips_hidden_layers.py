"""DeepLearningZeroToAll's ``lab-10-7-mnist_nn_higher_level_API.py`` (hunkim/DeepLearningZeroToAll): an MNIST
MLP built with ``tf.contrib.layers`` under one ``arg_scope`` (``fully_connected`` with ReLU, Xavier weights,
no biases, ``batch_norm`` with decay 0.9 as normalizer), four hidden layers of 512 units each followed by
``dropout(keep_prob=0.7)``, a 10-unit ``hypothesis`` layer (batch-normalised, no activation),
``softmax_cross_entropy_with_logits`` and ``AdamOptimizer(0.01)``, batches of 100. Every dropout after the
first is applied to ``hidden_layer1`` instead of the layer just above it (``h2_drop = dropout(hidden_layer1,
...)``, likewise ``h3_drop``, ``h4_drop``), so the outputs of ``h2``, ``h3`` and ``h4`` feed nothing that
reaches the loss: the logits are ``hypothesis(dropout(h1(X)))``, and the weights and batch-norm offsets of
three of the four hidden layers get no gradient and never change during training (``minimize`` skips
variables without gradients silently). The network still learns as a one-hidden-layer net (the output the
script records with the bug is a cost of 0.35 and test accuracy 0.9826 after 15 epochs), so the fault shows
in parameters that never get a gradient rather than in the loss curve.

Source: github.com/hunkim/DeepLearningZeroToAll PR #170, commit 3825615 ("fix: dropout layers in
lab-10-7-mnist_nn_higher_level_API.py (#170) - Layers were not connected correctly"); the script at
3825615^ (added in f933240, #93). The fix changes the three lines to ``h2_drop = dropout(hidden_layer2, ...)``,
``h3_drop = dropout(hidden_layer3, ...)``, ``h4_drop = dropout(hidden_layer4, ...)``.
Program lines kept: ``learning_rate = 0.01``, ``batch_size = 100``, ``keep_prob = 0.7``,
``hidden_output_size = 512``, ``final_output_size = 10``, the arg_scope settings (ReLU, Xavier-uniform
weights, ``biases_initializer=None``, ``batch_norm`` with ``decay=0.9``; contrib ``batch_norm`` defaults
``center=True, scale=False, epsilon=0.001``), the layer wiring, the loss and ``AdamOptimizer``.
Ported minimally: Keras 3 has no contrib layers, so each ``fully_connected`` is ``Dense(use_bias=False,
kernel_initializer="glorot_uniform")`` + ``BatchNormalization(momentum=0.9, epsilon=1e-3, scale=False)`` +
ReLU, and ``dropout(x, keep_prob)`` is ``Dropout(1 - keep_prob)``; the graph is a subclassed ``keras.Model``
whose ``call`` wires the layers exactly as the script (a functional model would drop the dangling layers);
the loss is ``CategoricalCrossentropy(from_logits=True)`` on the one-hot labels, the optimizer
``keras.optimizers.Adam(0.01)`` (TF1 Adam's epsilon 1e-8 kept). The script's separate eval-mode cost
evaluation after each step (for printing) is dropped.
Data: ``input_data.read_data_sets(..., one_hot=True)`` (784 floats in [0, 1], one-hot labels) is replaced by
``_data.mnist_like`` scaled to [0, 1] and flattened, 800 images cut into eight batches of 100.
Fault label: no_gradient|params_not_updated. Torch twin: the same network (``nn.Linear(bias=False)`` with
Xavier-uniform weights, ``BatchNorm1d(eps=1e-3, momentum=0.1)`` without scale, plus a learned offset),
``CrossEntropyLoss`` on one-hot targets, ``Adam(lr=0.01, eps=1e-8)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "no_gradient|params_not_updated"
SOURCE = ("github:hunkim/DeepLearningZeroToAll PR #170 (lab-10-7-mnist_nn_higher_level_API.py@3825615^, "
          "fix 3825615)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

learning_rate = 0.01  # program lines
batch_size = 100
keep_prob = 0.7
hidden_output_size = 512
final_output_size = 10


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    x, y = _data.mnist_like(8 * batch_size)
    x = (x.astype("float32") / 255.0).reshape(len(x), 784)  # read_data_sets: flattened floats in [0, 1]
    return x, _data.one_hot(y, final_output_size)


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = _mnist()
    if framework == "keras":
        import keras
        from keras import layers

        class FullyConnected(layers.Layer):
            """``fully_connected`` under the arg_scope: Xavier weights, no bias, batch_norm, ReLU (or none)."""

            def __init__(self, units: int, relu: bool = True, **kwargs) -> None:
                super().__init__(**kwargs)
                self.dense = layers.Dense(units, use_bias=False, kernel_initializer="glorot_uniform")
                self.bn = layers.BatchNormalization(momentum=0.9, epsilon=1e-3, scale=False)
                self.relu = relu

            def call(self, inputs, training=None):
                h = self.bn(self.dense(inputs), training=training)
                return keras.ops.relu(h) if self.relu else h

        class HigherLevelAPINet(keras.Model):
            def __init__(self) -> None:
                super().__init__()
                self.h1 = FullyConnected(hidden_output_size, name="h1")
                self.h2 = FullyConnected(hidden_output_size, name="h2")
                self.h3 = FullyConnected(hidden_output_size, name="h3")
                self.h4 = FullyConnected(hidden_output_size, name="h4")
                self.hypothesis = FullyConnected(final_output_size, relu=False, name="hypothesis")
                self.drops = [layers.Dropout(1 - keep_prob) for _ in range(4)]

            def call(self, X, training=None):
                hidden_layer1 = self.h1(X, training=training)
                h1_drop = self.drops[0](hidden_layer1, training=training)
                hidden_layer2 = self.h2(h1_drop, training=training)
                h2_drop = self.drops[1](hidden_layer2 if fixed else hidden_layer1, training=training)
                hidden_layer3 = self.h3(h2_drop, training=training)
                h3_drop = self.drops[2](hidden_layer3 if fixed else hidden_layer1, training=training)
                hidden_layer4 = self.h4(h3_drop, training=training)
                h4_drop = self.drops[3](hidden_layer4 if fixed else hidden_layer1, training=training)
                return self.hypothesis(h4_drop, training=training)

        model = HigherLevelAPINet()
        model(x[:2])  # build every layer, the dangling ones included (the TF1 graph creates them all)
        model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True),
                      optimizer=keras.optimizers.Adam(learning_rate=learning_rate, epsilon=1e-8))
        return {"model": model, "batch": (x[:batch_size], y[:batch_size]),
                "batches": _data.batches(x, y, batch_size)}
    if framework != "torch":
        raise ValueError(framework)
    import torch
    from torch import nn

    class FullyConnected(nn.Module):
        def __init__(self, n_in: int, n_out: int, relu: bool = True) -> None:
            super().__init__()
            self.weights = nn.Linear(n_in, n_out, bias=False)
            nn.init.xavier_uniform_(self.weights.weight)
            self.bn = nn.BatchNorm1d(n_out, eps=1e-3, momentum=0.1, affine=False)  # decay 0.9, scale=False
            self.beta = nn.Parameter(torch.zeros(n_out))  # center=True
            self.relu = relu

        def forward(self, inputs):
            h = self.bn(self.weights(inputs)) + self.beta
            return torch.relu(h) if self.relu else h

    class HigherLevelAPINet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.h1 = FullyConnected(784, hidden_output_size)
            self.h2 = FullyConnected(hidden_output_size, hidden_output_size)
            self.h3 = FullyConnected(hidden_output_size, hidden_output_size)
            self.h4 = FullyConnected(hidden_output_size, hidden_output_size)
            self.hypothesis = FullyConnected(hidden_output_size, final_output_size, relu=False)
            self.drop = nn.Dropout(1 - keep_prob)

        def forward(self, X):
            hidden_layer1 = self.h1(X)
            h1_drop = self.drop(hidden_layer1)
            hidden_layer2 = self.h2(h1_drop)
            h2_drop = self.drop(hidden_layer2 if fixed else hidden_layer1)
            hidden_layer3 = self.h3(h2_drop)
            h3_drop = self.drop(hidden_layer3 if fixed else hidden_layer1)
            hidden_layer4 = self.h4(h3_drop)
            h4_drop = self.drop(hidden_layer4 if fixed else hidden_layer1)
            return self.hypothesis(h4_drop)

    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": HigherLevelAPINet(), "batch": (xt[:batch_size], yt[:batch_size]),
            "batches": _data.batches(xt, yt, batch_size), "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=learning_rate, eps=1e-8)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
