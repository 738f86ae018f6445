"""caicloud/tensorflow-tutorial, the companion code of the book "TensorFlow实战Google深度学习框架"
(Deep_Learning_with_TensorFlow), Chapter 3 notebook "3. 完整神经网络样例程序" ("a complete neural network
example program"): a 2-3-1 network without biases or hidden activation (``a = tf.matmul(x, w1)``,
``y = tf.matmul(a, w2)``, ``w1``/``w2`` drawn by ``tf.random_normal(stddev=1, seed=1)``), trained for
5,000 steps of ``tf.train.AdamOptimizer(0.001)`` on 128 points ``X = RandomState(1).rand(128, 2)`` with
labels ``Y = [[int(x1 + x2 < 1)] ...]``, batches of 8 taken in order (``start = (i * 8) % 128``).
The faulty loss is ``cross_entropy = -tf.reduce_mean(y_ * tf.log(tf.clip_by_value(y, 1e-10, 1.0)))``:
only the positive-class term of a cross-entropy, applied to the raw linear output. Samples labelled 0
contribute nothing, and for samples labelled 1 the loss is zero as soon as the output reaches 1 (the clip
cuts the gradient above 1 and below 1e-10). The loss therefore falls to ~0 (the notebook printed 0.067 ->
0.0058) while the network learns nothing that separates the two classes: it only has to push every output
of a positive point to >= 1, and it is free to do the same for the negative points.

Source: github.com/caicloud/tensorflow-tutorial, ``Deep_Learning_with_TensorFlow/1.0.0/Chapter03/3.
完整神经网络样例程序.ipynb`` (same cell in ``1.4.0/Chapter03``) at 38fba9b^ (81527d8^1), fixed by commit
38fba9b7c273f5c60736e2b6a630483eea6bea60 "fix bug" (merged as PR #95, 81527d8): ``y = tf.sigmoid(y)`` and
``cross_entropy = -tf.reduce_mean(y_ * tf.log(tf.clip_by_value(y, 1e-10, 1.0)) + (1 - y_) *
tf.log(tf.clip_by_value(1 - y, 1e-10, 1.0)))``; the fixed notebook's printed loss goes 1.898 -> 0.610.
Program lines kept: ``w1``/``w2`` shapes and their initial values (the values the notebook printed for
``tf.random_normal([2, 3] / [3, 1], stddev=1, seed=1)``, hard-coded here because TF1's seeded generator is
not available), the two matmuls, both loss lines, ``AdamOptimizer(0.001)`` (epsilon 1e-8 as in TF1),
batch_size 8 and the ``RandomState(1)`` data with its labelling rule.
Ported minimally: the TF1 graph/session as a torch ``nn.Module`` with the two weight matrices (no bias)
and the loss as a torch function; Keras twin: two ``Dense(use_bias=False)`` layers holding the same
initial weights (the fixed version's ``tf.sigmoid`` as ``Activation("sigmoid")``) compiled with the same
loss written in ``keras.ops`` and ``Adam(0.001, epsilon=1e-8)``.
Data: the program's own generator (``numpy.random.RandomState(1).rand(128, 2)``), no stand-in needed; the
16 batches of 8 in the program's order, ``inputs`` = all 128 points; 61 of the 128 labels are 1.
Fault label: loss_mismatch|output_activation (a one-sided cross-entropy on an unbounded linear output;
the fix adds the sigmoid and the negative-class term).
Fix (38fba9b): ``y = tf.sigmoid(y)`` and the full binary cross-entropy.
Symptom in a short loop (plain loop in the program's own batch order, loss on all 128 points): torch,
2,000 Adam steps: buggy 0.068 -> 0.0091 (0.0043 after the program's 5,000 steps), outputs 0.34..13.6 (not
probabilities; 127 of 128 >= 0.5), and the outputs rank the classes backwards (ROC AUC of the output for
label 1: 0.005 at the start, 0.000 after training: the no-bias linear map gives the points far from the
origin, the 0-labels, the larger outputs and nothing in the loss ever penalises that); fixed 1.901 -> 0.626
(0.609 after 5,000 steps; the notebook printed 0.610 at step 4,000), outputs 0.22..0.49, AUC 0.957 (best
threshold accuracy 0.89). Neither version can reach accuracy above the 0.52 majority share at the 0.5
threshold (no biases: the boundary x1 + x2 = 1 does not pass through the origin), which is the program's own
limitation, not the fault. After 5,000 steps both torch versions reproduce the weights the buggy and the fixed
notebooks printed to 4 decimals. Keras (train_on_batch, same order): the same numbers (buggy 0.068 -> 0.0091,
fixed 1.901 -> 0.626 at 2,000 steps). A step takes well under 1 ms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_mismatch|output_activation"
SOURCE = ("github:caicloud/tensorflow-tutorial Deep_Learning_with_TensorFlow/1.0.0/Chapter03/"
          "3. 完整神经网络样例程序.ipynb@38fba9b^ (PR #95; fix 38fba9b7c273f5c60736e2b6a630483eea6bea60)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("output_range", {"kind": "sigmoid"}),
          ("not_constant_predictions", {})]

batch_size = 8
learning_rate = 0.001  # tf.train.AdamOptimizer(0.001)
adam_eps = 1e-8  # TF1 AdamOptimizer default
# tf.random_normal([2, 3], stddev=1, seed=1) and tf.random_normal([3, 1], stddev=1, seed=1), as printed
W1_INIT = np.array([[-0.81131822, 1.48459876, 0.06532937],
                    [-2.44270396, 0.0992484, 0.59122431]], dtype="float32")
W2_INIT = np.array([[-0.81131822], [1.48459876], [0.06532937]], dtype="float32")


def _data() -> tuple[np.ndarray, np.ndarray]:
    rdm = np.random.RandomState(1)
    X = rdm.rand(128, 2)
    Y = [[int(x1 + x2 < 1)] for (x1, x2) in X]
    return X.astype("float32"), np.array(Y, dtype="float32")


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    X, Y = _data()
    batches = [(X[s:s + batch_size], Y[s:s + batch_size]) for s in range(0, 128, batch_size)]
    if framework == "torch":
        import torch
        from torch import nn

        torch.manual_seed(1)

        class Net(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.w1 = nn.Parameter(torch.tensor(W1_INIT))
                self.w2 = nn.Parameter(torch.tensor(W2_INIT))

            def forward(self, x):
                a = torch.matmul(x, self.w1)
                y = torch.matmul(a, self.w2)
                if fixed:
                    y = torch.sigmoid(y)  # fix: y = tf.sigmoid(y)
                return y

        def cross_entropy(y, y_):
            if not fixed:  # buggy: positive term only, on the linear output
                return -torch.mean(y_ * torch.log(torch.clamp(y, 1e-10, 1.0)))
            return -torch.mean(y_ * torch.log(torch.clamp(y, 1e-10, 1.0))
                               + (1 - y_) * torch.log(torch.clamp(1 - y, 1e-10, 1.0)))

        tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
        return {"model": Net(), "batch": tb[0], "batches": tb, "inputs": torch.tensor(X),
                "loss_fn": cross_entropy,
                "optimizer": lambda p: torch.optim.Adam(p, lr=learning_rate, eps=adam_eps)}

    import keras
    from keras import ops

    keras.utils.set_random_seed(1)
    x = keras.Input(shape=(2,))
    a = keras.layers.Dense(3, use_bias=False, name="w1")(x)
    y = keras.layers.Dense(1, use_bias=False, name="w2")(a)
    if fixed:
        y = keras.layers.Activation("sigmoid")(y)
    model = keras.Model(x, y)
    model.get_layer("w1").set_weights([W1_INIT])
    model.get_layer("w2").set_weights([W2_INIT])

    def cross_entropy(y_, y):
        if not fixed:
            return -ops.mean(y_ * ops.log(ops.clip(y, 1e-10, 1.0)))
        return -ops.mean(y_ * ops.log(ops.clip(y, 1e-10, 1.0))
                         + (1 - y_) * ops.log(ops.clip(1 - y, 1e-10, 1.0)))

    model.compile(loss=cross_entropy, optimizer=keras.optimizers.Adam(learning_rate=learning_rate,
                                                                      epsilon=adam_eps))
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": X}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
