"""aymericdamien/TensorFlow-Examples, TF2 notebook ``tensorflow_v2/notebooks/3_NeuralNetworks/neural_network.ipynb``:
an MNIST multilayer perceptron written as a subclassed ``tf.keras.Model`` (``fc1 = Dense(128, relu)``, ``fc2 =
Dense(256, relu)``, ``out``) trained by a ``tf.GradientTape`` loop with ``tf.optimizers.SGD(0.1)``, batches of 256,
on ``tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=x)``. The notebook's own comment says "tf cross
entropy expect logits without softmax, so only apply softmax when not training", yet the output layer was
``layers.Dense(num_classes, activation=tf.nn.softmax)``: the loss applies a second softmax to probabilities in [0,
1], so with 10 classes it cannot fall below -log(e / (e + 9)) ~ 1.46, and the extra softmax's Jacobian damps the
gradients as the predictions sharpen. The notebook's saved output shows the plateau: "step: 2000, loss: 1.569637,
accuracy: 0.902344".

Source: github.com/aymericdamien/TensorFlow-Examples,
``tensorflow_v2/notebooks/3_NeuralNetworks/neural_network.ipynb`` at 2cf9bfd (PR #361, which had just added the
missing ``x = self.fc2(x)`` to ``call``; the softmax output is there since the notebook was added in 26cc883), fixed
by e7353b7 (PR #358, "output layer aactivation, add fc2 in call": "softmax applied during training phase to output
layer"), ``self.out = layers.Dense(num_classes)``. Program lines kept: ``learning_rate = 0.1``, ``batch_size =
256``, ``n_hidden_1 = 128``, ``n_hidden_2 = 256``, the ``NeuralNet`` layers and training-time ``call`` (fc1 -> fc2
-> out), ``cross_entropy_loss`` (mean of ``sparse_softmax_cross_entropy_with_logits``),
``tf.optimizers.SGD(learning_rate)``, the ``x / 255.`` and flattening to 784 features. Ported minimally: the
``is_training=False`` branch (an extra ``tf.nn.softmax`` applied only for evaluation) is left out, the models are
the training-time forward. Keras twin: the same functional stack compiled with ``SGD(0.1)`` and the notebook's
``cross_entropy_loss`` written with ``keras.ops`` (mean of ``-sum(one_hot(y) * log_softmax(x))``, what
``sparse_softmax_cross_entropy_with_logits`` computes): Keras 3's own
``SparseCategoricalCrossentropy(from_logits=True)`` looks through a softmax output's ``_keras_logits`` and would
silently undo the fault (measured: identical to the fixed run). Torch twin: ``Linear`` layers with Keras'
glorot-uniform kernels and zero biases, a ``Softmax(dim=1)`` after the last one in the buggy version,
``nn.CrossEntropyLoss()`` (log-softmax + NLL on class ids, the same loss) and ``SGD(lr=0.1)``. Data stand-in (no
MNIST download): ``_data.mnist_like(1024)`` (sklearn digits blown up to 28x28 uint8), cast to float32, flattened to
784 and divided by 255 as the notebook does; 4 batches of 256. Fault label: output_activation|loss_mismatch (softmax
output fed to a from-logits cross-entropy). Fix (e7353b7): ``self.out = layers.Dense(num_classes)``, the output
layer returns logits. Symptom in a short loop (plain loop cycling over the 4 batches, the notebook's 2,000 steps;
full-data loss / accuracy on the 1,024 images at steps 0 / 100 / 300 / 1,000 / 2,000): torch buggy 2.302 / 1.801 /
1.589 / 1.563 / 1.469 (accuracy 0.05 / 0.76 / 0.89 / 0.90 / 1.00), fixed 2.329 / 0.118 / 0.031 / 0.006 / 0.002 (0.98
at step 100); Keras (train_on_batch) buggy 2.301 / 1.853 / 1.600 / 1.569 / 1.564 (accuracy 0.12 / 0.68 / 0.89 / 0.90
/ 0.90, the notebook's own "step: 2000, loss: 1.569637, accuracy: 0.902344"), fixed 2.307 / 0.121 / 0.029 / 0.005 /
0.002. Overfitting one batch of 256 for 200 steps: torch buggy 2.301 -> 1.587, fixed 2.321 -> 0.017; Keras buggy
2.298 -> 1.501, fixed 2.275 -> 0.016. About 4 ms (torch) / 10 ms (Keras) per step on one CPU thread; nothing shrunk.
"""

from __future__ import annotations

from typing import Any

from tests.real_programs import _data

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:aymericdamien/TensorFlow-Examples tensorflow_v2/notebooks/3_NeuralNetworks/neural_network.ipynb"
          "@2cf9bfd (PR #361) / 26cc883; fix e7353b7 (PR #358)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("init_loss", {"num_classes": 10}), ("output_range", {"kind": "logits", "num_classes": 10}),
          ("not_constant_predictions", {})]

num_classes = 10  # total classes (0-9 digits).
num_features = 784  # data features (img shape: 28*28).
learning_rate = 0.1
batch_size = 256
n_hidden_1 = 128  # 1st layer number of neurons.
n_hidden_2 = 256  # 2nd layer number of neurons.
n_images = 1024  # 4 batches of the stand-in


def _mnist() -> tuple[Any, Any]:
    imgs, y = _data.mnist_like(n_images)
    x = imgs.astype("float32").reshape([-1, num_features]) / 255.0  # Normalize to [0, 1].
    return x, y


def _keras(softmax_out: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)
    x, y = _mnist()
    inp = keras.Input((num_features,))
    h = layers.Dense(n_hidden_1, activation="relu")(inp)  # fc1
    h = layers.Dense(n_hidden_2, activation="relu")(h)  # fc2
    out = layers.Dense(num_classes, activation="softmax" if softmax_out else None)(h)  # out
    model = keras.Model(inp, out)

    def cross_entropy_loss(y, x):  # the notebook's loss, as written (see docstring)
        y = ops.cast(ops.reshape(y, (-1,)), "int32")
        loss = -ops.sum(ops.one_hot(y, num_classes) * ops.log_softmax(x, axis=-1), axis=-1)
        return ops.mean(loss)  # Average loss across the batch.

    model.compile(optimizer=keras.optimizers.SGD(learning_rate), loss=cross_entropy_loss, metrics=["accuracy"])
    batches = _data.batches(x, y, batch_size)
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[:256]}


def _torch(softmax_out: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    from tests.real_programs import _nets

    torch.manual_seed(0)
    layers_ = [_nets.torch_dense(num_features, n_hidden_1), nn.ReLU(),
               _nets.torch_dense(n_hidden_1, n_hidden_2), nn.ReLU(),
               _nets.torch_dense(n_hidden_2, num_classes)]
    if softmax_out:
        layers_.append(nn.Softmax(dim=1))
    model = nn.Sequential(*layers_)
    x, y = _mnist()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = _data.batches(xt, yt, batch_size)
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt[:256],
            "loss_fn": nn.CrossEntropyLoss(), "optimizer": lambda p: torch.optim.SGD(p, lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _keras(True) if framework == "keras" else _torch(True)


def fixed(framework: str) -> dict[str, Any]:
    return _keras(False) if framework == "keras" else _torch(False)
