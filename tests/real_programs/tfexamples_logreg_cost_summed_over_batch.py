"""TensorFlow-Examples' MNIST softmax (logistic) regression whose cross-entropy cost is summed over
the batch instead of averaged: ``cost = -tf.reduce_sum(y*tf.log(activation))``. The gradient is
``batch_size`` (100) times the mean's, so plain gradient descent at ``learning_rate = 0.01`` takes
steps of an effective rate 1.0: after the first update the logits of the zero-initialised model are
in the hundreds, the softmax saturates to exact 0/1, ``log(0) = -inf`` and the cost becomes ``inf``
and then NaN (``0 * -inf``); the weights turn NaN and the accuracy falls to chance. The maintainer
(issue #10): "I forgot to compute the mean loss over a batch. It is not a problem with small batch
size, but it could lead to issues with large batch size, as it leads to unrepresentative cost (NaN)".

Source: github.com/aymericdamien/TensorFlow-Examples issue #10 ("Issue in logistic regression"),
fixed by commit 742675db9e3085579b1325b21743fb3a4bc804ab ("fix #10"), file
``examples/2 - Basic Classifiers/logistic_regression.py`` at 742675db^ (also gDefects4DL
``tensorflow-examples10``, buggy 844bbfce, fix 742675db). Program lines kept: ``W =
tf.Variable(tf.zeros([784, 10]))``, ``b = tf.Variable(tf.zeros([10]))``, ``activation =
tf.nn.softmax(tf.matmul(x, W) + b)``, the cost, ``GradientDescentOptimizer(learning_rate=0.01)``,
``batch_size = 100``.
Ported minimally: TF1 graph/session to a torch module (Linear with zero init + Softmax) with the
program's hand-written cost as ``loss_fn`` and ``torch.optim.SGD(lr=0.01)``; Keras 3 twin: a
``Dense(10, activation="softmax", kernel/bias zeros)`` compiled with the same hand-written cost as a
custom loss (buggy: a scalar sum over the batch; fixed: per-sample sums, which Keras averages) and
``SGD(0.01)``.
Data: ``input_data.read_data_sets(one_hot=True)`` (784 float pixels in [0, 1], one-hot labels) is
replaced by ``_data.mnist_like`` (scikit-learn digits blown up to 28x28) divided by 255, flattened,
one-hot: 5 batches of 100.
Fault label: lr_too_high|loss_not_finite (the fix rescales the cost, i.e. the step, by 1/batch_size;
the visible failure is the non-finite cost). Fix (742675db): ``cost =
tf.reduce_mean(-tf.reduce_sum(y*tf.log(activation), reduction_indices=1))``.
Observed (own loop, SGD 0.01 over the 5 batches): buggy Keras (TensorFlow backend, which flushes
denormal probabilities to 0 like the original TF1 program) -- per-sample cost 2.30, 1.86, 7.3, 8.3,
6.7, 7.5, 10.5, 11.9, then NaN from step 8 on and NaN outputs; buggy torch -- the same rise to ~12
per sample in the first 8 steps, but torch keeps denormal probabilities, so the cost stays finite and
later settles (the NaN needs the flush to zero). Fixed: 2.30 falling steadily to ~0.5-0.9 in both.
Note: the fixed version keeps the hand-written ``log(softmax)`` cross-entropy (no clipping, no
logits loss), which is finite and trains normally at this learning rate.
"""

from __future__ import annotations

from typing import Any

LABEL = "lr_too_high|loss_not_finite"
SOURCE = ("github:aymericdamien/TensorFlow-Examples issue #10 "
          "(examples/2 - Basic Classifiers/logistic_regression.py@742675db^, fix 742675db)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [
    ("init_loss", {"num_classes": 10}),
    ("output_range", {"kind": "probabilities", "num_classes": 10}),
    ("overfit_one_batch", {}),
    ("loss_decreases", {}),
]

learning_rate = 0.01  # program parameters
batch_size = 100
n_samples = 500


def _data():
    from tests.real_programs import _data

    x, y = _data.mnist_like(n_samples)
    x = (x.reshape(len(x), 784) / 255.0).astype("float32")  # read_data_sets: floats in [0, 1]
    y = _data.one_hot(y, 10)  # one_hot=True
    return _data.batches(x, y, batch_size)


def _build(framework: str, mean_cost: bool) -> dict[str, Any]:
    batches = _data()
    if framework == "keras":
        import keras
        from keras import ops

        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.Input((784,)),
            # W = tf.Variable(tf.zeros([784, 10])); b = tf.Variable(tf.zeros([10])); softmax
            keras.layers.Dense(10, activation="softmax", kernel_initializer="zeros", bias_initializer="zeros"),
        ])

        if mean_cost:
            def cost(y, activation):  # per-sample -sum(y*log(p)); Keras takes the batch mean
                return -ops.sum(y * ops.log(activation), axis=1)
        else:
            def cost(y, activation):  # -tf.reduce_sum(y*tf.log(activation)): one sum over the batch
                return -ops.sum(y * ops.log(activation))

        model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate), loss=cost)
        return {"model": model, "batch": batches[0], "batches": batches}

    import torch
    from torch import nn

    torch.manual_seed(0)

    class LogisticRegression(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(784, 10)
            nn.init.zeros_(self.linear.weight)  # tf.zeros([784, 10])
            nn.init.zeros_(self.linear.bias)  # tf.zeros([10])

        def forward(self, x):
            return torch.softmax(self.linear(x), dim=1)  # activation = tf.nn.softmax(...)

    def cost(activation, y):
        if mean_cost:  # the fix
            return torch.mean(-torch.sum(y * torch.log(activation), dim=1))
        return -torch.sum(y * torch.log(activation))  # the bug: summed over the batch too

    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": LogisticRegression(), "batch": tb[0], "batches": tb, "loss_fn": cost,
            "optimizer": lambda p: torch.optim.SGD(p, lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, mean_cost=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, mean_cost=True)
