"""Deep-Learning-TensorFlow (gabrieleangeletti, March 2016), the denoising autoencoder
``models/autoencoder_models/denoising_autoencoder.py`` run by ``command_line/run_autoencoder.py`` with its
``cross_entropy`` loss: tied weights, ``encode = tanh(x W + bh)`` (default ``enc_act_func='tanh'``),
``decode = sigmoid(encode W^T + bv)`` (``--dec_act_func sigmoid``, the decoder this loss needs: with the
default linear decoder its log is NaN), ``W`` xavier-uniform (const 1), ``bh = bv = 0``, 256 hidden units,
``GradientDescentOptimizer(0.01)``, batches of 10, no corruption (the other flags at their
run_autoencoder.py defaults), cost
``- tf.reduce_sum(self.input_data * tf.log(self.decode))`` plus ``5e-4 * (l2_loss(W) + l2_loss(bh))``.
The cross-entropy has only its positive term: nothing penalises a bright output where the input pixel is 0,
and every pixel's gradient pushes its output up (d cost / d z = -x (1 - p) <= 0), so the decoder learns to
light up every pixel any digit uses, whatever the input (the cost -> 0 while reconstructions turn into
blobs); the sum over batch and pixels also makes the step 7840x larger than a mean would.

Source: github.com/gabrieleangeletti/Deep-Learning-TensorFlow models/autoencoder_models/
denoising_autoencoder.py@1c52997^, fixed by 1c52997 "fixed cross_entropy cost function eq. in denoising
autoencoder" (``- tf.reduce_mean(x * tf.log(decode) + (1 - x) * tf.log(1 - decode))``). Same project as the
TensorFlow-Program-Bugs / defects4ml subjects IPS-5..8 and defects4ml 002-005, a different (earlier) bug.
Ported: the model (a tied-weight torch module / Keras layer with the program's initialisers), the two costs
as written (unclipped logs), GD lr 0.01, batch size 10; the l2 term as SGD ``weight_decay=5e-4`` on W and bh
only in torch (same gradient as ``5e-4 * l2_loss``), ``L2(5e-4 / 2)`` regularisers on W and bh in Keras.
The Keras loss returns the program's scalar, which Keras does not rescale.
Data stand-in (no MNIST download): 200 MNIST-shaped digits from ``_data.mnist_like`` scaled to [0, 1] and
flattened to 784 (``input_data.read_data_sets`` images); 20 batches of 10, input = reference (corr_type
'none').
Fault label: other:cross_entropy_missing_negative_term (the loss lacks the (1 - x) log(1 - p) term, and is
summed instead of averaged). Fix (1c52997): the full binary cross-entropy, averaged.
Symptom in a short loop (300 epochs over the 20 batches of 10, plain GD): torch: the buggy cost falls
from 974 to 0.03 on a batch, but the reconstructions are wrong: mean output 1.00 on the digits' bright pixels
and 0.68 on background pixels (input 0), full cross-entropy against the images 3.9, MSE 0.44; the fixed cost
falls from 0.68 to 0.38, background output 0.19, bright pixels 0.73, cross-entropy 0.37, MSE 0.061. Keras:
the same, buggy background 0.69 / cross-entropy 3.9 / MSE 0.45 vs fixed 0.19 / 0.37 / 0.061. One step takes
~1.5 ms (torch) / ~5 ms (Keras fit) on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "other:cross_entropy_missing_negative_term"
SOURCE = ("github:gabrieleangeletti/Deep-Learning-TensorFlow models/autoencoder_models/"
          "denoising_autoencoder.py@1c52997^ (command_line/run_autoencoder.py; fix 1c52997 "
          "'fixed cross_entropy cost function eq. in denoising autoencoder')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("output_range", {"kind": "sigmoid"}),
          ("not_constant_predictions", {})]

n_components = 256  # run_autoencoder.py default
batch_size = 10  # default
learning_rate = 0.01  # default, opt 'gradient_descent'
l2reg = 5e-4  # default
n_features = 784


def _data(n: int = 200) -> np.ndarray:
    from tests.real_programs import _data as data_mod

    x, _ = data_mod.mnist_like(n)
    return (x.astype("float32") / 255.0).reshape(n, n_features)


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x = _data()
    batches = [(x[i:i + batch_size], x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    limit = float(np.sqrt(6.0 / (n_features + n_components)))  # utilities.xavier_init(const=1)

    if framework == "torch":
        import torch
        from torch import nn

        torch.manual_seed(0)

        class DenoisingAutoencoder(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.W_ = nn.Parameter(torch.empty(n_features, n_components).uniform_(-limit, limit))
                self.bh_ = nn.Parameter(torch.zeros(n_components))
                self.bv_ = nn.Parameter(torch.zeros(n_features))

            def forward(self, x_in):
                encode = torch.tanh(x_in @ self.W_ + self.bh_)
                return torch.sigmoid(encode @ self.W_.t() + self.bv_)

        model = DenoisingAutoencoder()

        if fixed:
            def loss_fn(decode, target):  # 1c52997
                return -torch.mean(target * torch.log(decode) + (1 - target) * torch.log(1 - decode))
        else:
            def loss_fn(decode, target):  # program line
                return -torch.sum(target * torch.log(decode))

        def optimizer(params):
            params = list(params)
            decayed = [p for p in params if p is not model.bv_]  # l2reg * (l2_loss(W) + l2_loss(bh))
            rest = [p for p in params if p is model.bv_]
            return torch.optim.SGD([{"params": decayed, "weight_decay": l2reg},
                                    {"params": rest, "weight_decay": 0.0}], lr=learning_rate)

        tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
        return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.tensor(x),
                "loss_fn": loss_fn, "optimizer": optimizer}

    import keras
    from keras import ops

    keras.utils.set_random_seed(0)

    class TiedDAE(keras.layers.Layer):
        def build(self, input_shape):
            reg = keras.regularizers.L2(l2reg / 2)  # l2reg * tf.nn.l2_loss(v) = l2reg * sum(v^2) / 2
            self.W_ = self.add_weight(shape=(n_features, n_components), name="enc-w", regularizer=reg,
                                      initializer=keras.initializers.RandomUniform(-limit, limit))
            self.bh_ = self.add_weight(shape=(n_components,), name="hidden-bias", regularizer=reg,
                                       initializer="zeros")
            self.bv_ = self.add_weight(shape=(n_features,), name="visible-bias", initializer="zeros")

        def call(self, x_in):
            encode = ops.tanh(ops.matmul(x_in, self.W_) + self.bh_)
            return ops.sigmoid(ops.matmul(encode, ops.transpose(self.W_)) + self.bv_)

    if fixed:
        def cross_entropy(input_data, decode):
            return -ops.mean(input_data * ops.log(decode) + (1 - input_data) * ops.log(1 - decode))
    else:
        def cross_entropy(input_data, decode):
            return -ops.sum(input_data * ops.log(decode))

    model = keras.Sequential([keras.Input((n_features,)), TiedDAE()])
    model.compile(loss=cross_entropy, optimizer=keras.optimizers.SGD(learning_rate=learning_rate))
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
