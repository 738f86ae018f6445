"""aymericdamien/TensorFlow-Examples, ``examples/4_Utils/tensorboard_advanced.py`` ("Graph and Loss visualization
using Tensorboard"): an MNIST multilayer perceptron 784 -> 256 (ReLU) -> 256 (ReLU) -> 10 logits, every weight
and bias drawn from ``tf.random_normal`` (mean 0, std 1), trained with ``GradientDescentOptimizer(0.01)`` on
batches of 100 one-hot labelled images (``input_data.read_data_sets(one_hot=True)``: 784 floats in [0, 1]).
The faulty version computes the cost as ``tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits(...))``:
the cross-entropy is *summed* over the 100 samples of the batch instead of averaged, so every gradient, and
with plain SGD every update, is 100 times larger than intended (an effective learning rate of 1.0 on the
mean loss). With the std-1 initialisation the logits start in the hundreds (initial cross-entropy of the
order of 10^2-10^3 per sample), and the 100x step makes the weights jump around: the summed loss swings by
orders of magnitude from step to step, most hidden ReLUs die, and the network ends up far worse than the
same network trained on the mean loss.

Source: github.com/aymericdamien/TensorFlow-Examples, ``examples/4_Utils/tensorboard_advanced.py`` at
bc09f959c0b67765b956e4a9b4372c2ae520f399^ (c7925ee blob), fixed by commit
bc09f959c0b67765b956e4a9b4372c2ae520f399 "reduce mean instead of sum" (``tf.reduce_sum`` ->
``tf.reduce_mean``). Listed in TheDeepChecker's GitHub bug set (github.com/thedeepchecker/thedeepchecker
``GH_buggy_examples/TFE_bc09f95``).
Program lines kept: ``multilayer_perceptron`` (two ReLU hidden layers of 256, linear output of 10), the
``tf.random_normal`` weights and biases (std 1), ``learning_rate = 0.01``, ``batch_size = 100``,
``GradientDescentOptimizer`` on the softmax cross-entropy of the logits, the sum (buggy) / mean (fixed) over the
batch.
Ported minimally: the TF1 graph/session and summaries are dropped (they only log). Torch: ``nn.Linear`` layers
with weight and bias re-drawn from N(0, 1), ``F.cross_entropy(..., reduction='sum')`` (buggy) /
``reduction='mean'`` (fixed) on class ids (identical to the one-hot softmax cross-entropy), ``SGD(lr=0.01)``.
Keras: ``Dense`` layers with ``RandomNormal(stddev=1)`` kernel and bias initialisers,
``CategoricalCrossentropy(from_logits=True, reduction='sum')`` (buggy) / ``'sum_over_batch_size'`` (fixed,
the Keras default) on the one-hot labels, ``SGD(learning_rate=0.01)``. Sizes are the program's own (a step
takes ~1 ms in torch on one thread).
Data stand-in (no MNIST download): ``_data.mnist_like`` digits (real signal, 28x28, 0..255), flattened to
784 and divided by 255 like ``input_data`` does, labels one-hot for Keras (class ids for torch); 6 batches
of 100.
Fault label: lr_too_high|exploding_gradients (the summed batch loss multiplies the SGD step by the batch size,
100; the fix's own description is "reduce mean instead of sum").
Fix (bc09f95): ``loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=pred, labels=y))``.
Symptom in a short loop (plain loops, 300 SGD steps cycling over the 6 batches; "mean CE" is the per-sample
cross-entropy over all 600 images, so both versions are on one scale). Torch: buggy mean CE 4.97e7 after 1
step, 5.1e16 after 5, then the ReLUs die (99.6 % of the first and 95 % of the second hidden layer never fire
on the 600 images) and it sits at 2.303 = ln 10 from step ~50 on (2.295 after 300 steps, accuracy 0.108,
the summed batch loss 230); fixed 3464 after 1 step, 7.0 after 20, 0.55 after 50, 0.0 after 100 (accuracy
1.000; 3 % dead units). Keras (train_on_batch): buggy summed batch loss 7.2e4 at the start, 230.3 after 300
steps, mean CE 2.302, accuracy 0.105; fixed 2335 -> 0.0, mean CE 1.6e-7, accuracy 1.000. ~2.4 ms per torch
step, ~9 ms per Keras step on one thread. (Both versions start with a huge loss: that is the program's std-1
initialisation, unchanged by the fix.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "lr_too_high|exploding_gradients"
SOURCE = ("github:aymericdamien/TensorFlow-Examples examples/4_Utils/tensorboard_advanced.py@bc09f95^ "
          "(fix bc09f959c0b67765b956e4a9b4372c2ae520f399 'reduce mean instead of sum'; "
          "TheDeepChecker GH_buggy_examples/TFE_bc09f95)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "logits"}), ("not_constant_predictions", {})]

learning_rate = 0.01
batch_size = 100
n_hidden_1 = 256  # 1st layer number of features
n_hidden_2 = 256  # 2nd layer number of features
n_input = 784  # MNIST data input (img shape: 28*28)
n_classes = 10  # MNIST total classes (0-9 digits)
n_batches = 6


def _data() -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs._data import mnist_like

    x, y = mnist_like(batch_size * n_batches)
    x = x.reshape(len(x), n_input).astype("float32") / 255.0  # input_data: float32 in [0, 1]
    return x, y


def _build(framework: str, summed: bool) -> dict[str, Any]:
    from tests.real_programs._data import batches, one_hot

    x, y = _data()
    if framework == "torch":
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        torch.manual_seed(0)

        class MultilayerPerceptron(nn.Module):
            def __init__(self):
                super().__init__()
                self.h1 = nn.Linear(n_input, n_hidden_1)
                self.h2 = nn.Linear(n_hidden_1, n_hidden_2)
                self.out = nn.Linear(n_hidden_2, n_classes)
                for layer in (self.h1, self.h2, self.out):  # tf.random_normal weights and biases
                    nn.init.normal_(layer.weight, 0.0, 1.0)
                    nn.init.normal_(layer.bias, 0.0, 1.0)

            def forward(self, x):
                layer_1 = F.relu(self.h1(x))  # Hidden layer with RELU activation
                layer_2 = F.relu(self.h2(layer_1))  # Hidden layer with RELU activation
                return self.out(layer_2)  # Output layer

        def loss_fn(pred, target):
            # buggy: tf.reduce_sum(softmax_cross_entropy_with_logits); fix: tf.reduce_mean
            return F.cross_entropy(pred, target, reduction="sum" if summed else "mean")

        tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches(x, y, batch_size)]
        return {"model": MultilayerPerceptron(), "batch": tb[0], "batches": tb, "inputs": torch.tensor(x),
                "loss_fn": loss_fn, "optimizer": lambda p: torch.optim.SGD(p, lr=learning_rate)}

    import keras

    keras.utils.set_random_seed(0)
    init = keras.initializers.RandomNormal(mean=0.0, stddev=1.0)
    model = keras.Sequential([
        keras.Input((n_input,)),
        keras.layers.Dense(n_hidden_1, activation="relu", kernel_initializer=init, bias_initializer=init),
        keras.layers.Dense(n_hidden_2, activation="relu", kernel_initializer=init, bias_initializer=init),
        keras.layers.Dense(n_classes, kernel_initializer=init, bias_initializer=init),
    ])
    loss = keras.losses.CategoricalCrossentropy(from_logits=True,
                                                reduction="sum" if summed else "sum_over_batch_size")
    model.compile(loss=loss, optimizer=keras.optimizers.SGD(learning_rate=learning_rate))
    yk = one_hot(y, n_classes)
    kb = batches(x, yk, batch_size)
    return {"model": model, "batch": kb[0], "batches": kb, "inputs": x}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, summed=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, summed=False)
