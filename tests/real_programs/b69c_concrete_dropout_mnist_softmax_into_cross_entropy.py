"""danielkelshaw/ConcreteDropout, ``mnist_example.py``: a PyTorch implementation of Concrete Dropout (Gal, Hron &
Kendall 2017) with an MNIST classification example. ``MLPConcreteDropout`` is an MLP 784 -> 512 -> 512 -> 512 -> 10
(``fc1``..``fc4``, ReLU after the first three) where each layer's input first goes through a ``ConcreteDropout``
module (``condrop/concrete_dropout.py``) that learns its own dropout rate ``p = sigmoid(p_logit)`` (initialised at
0.1) by a relaxed-Bernoulli mask (temperature 0.1, inputs scaled by 1 / (1 - p)) and stores a regulariser per layer,
``weight_regulariser * sum(W ** 2) / (1 - p) + dropout_regulariser * in_features * (p log p + (1 - p) log(1 - p))``
(w = 1e-6, d = 1e-3), which ``model.regularisation()`` (``condrop/utils/concrete_regulariser.py``) sums. Training:
MNIST through ``ToTensor()`` + ``Normalize((0.1307,), (0.3081,))``, ``DataLoader(batch_size=64)`` (no shuffle),
``torch.optim.Adam(model.parameters(), lr=0.1)`` (the ``--lr`` default), 15 epochs of ``loss =
F.cross_entropy(outputs, labels) + model.regularisation()``.

The fault (softmax fed to a loss that applies its own log-softmax): the last layer is ``self.cd4(x,
nn.Sequential(self.fc4, self.softmax))`` with ``nn.Softmax(dim=1)``, so the model outputs probabilities, and
``F.cross_entropy`` treats them as logits: it takes log_softmax of values in [0, 1]. The per-sample CE can then
only move between log(9 + e) - 1 ~ 1.46 (a one-hot output) and log(10) ~ 2.30, its gradient through the
saturating softmax is tiny for confident outputs and the training signal is squashed (the classic double softmax).
Issue #11 ("is softmax required?", as595): "The model passes the logits through softmax in the output layer, but
then the F.cross_entropy() function is used which combines log_softmax and nll. I think maybe the softmax in the
output layer is not necessary?"; the author labelled it bug, "In the train() function, this is effectively
getting used twice", and fixed it in PR #12.

Source: github.com/danielkelshaw/ConcreteDropout ``mnist_example.py`` and ``condrop/concrete_dropout.py``,
``condrop/utils/concrete_regulariser.py`` at 7c0fdd79d13d88e61ee68b4d15269cfdf5d64043 (= 0b8ecad^); issue #11,
PR #12, fix 0b8ecad05342d8b8feedadff3c0b7e8a7e3eb0ec ("Fixed Softmax Issue"): ``x = self.cd4(x, self.fc4)``
(logits out; ``test()`` now takes ``F.softmax`` before the argmax).
Fault label: loss_mismatch|output_activation (the head's softmax gives probabilities to a loss that wants logits).

Program lines kept: ``MLPConcreteDropout`` as written (n_hidden 512, w = 1e-6, d = 1e-3, torch default init), the
buggy / fixed ``forward``; ``ConcreteDropout`` (init_min = init_max = 0.1, eps 1e-7, temperature 0.1, its
regulariser, which also runs in eval mode as in the program: there is no training flag) and the
``concrete_regulariser`` sum; the step ``F.cross_entropy(outputs, labels) + model.regularisation()``; Adam(lr=0.1);
batch size 64; the Normalize constants.
Ported: ``loss_fn(outputs, y)`` closes over the model built with it and adds ``model.regularisation()`` (the values
the forward just stored), so the checks' loss is the program's loss. Keras twin: the same four ConcreteDropout
layers, each a custom layer holding ``p_logit`` and wrapping a Dense (kernels VarianceScaling(1/3, fan_in, uniform)
and U(+-1/sqrt(fan_in)) biases, torch's Linear init; activation relu / softmax (buggy) / none (fixed)) and adding
its regulariser with ``add_loss``; compiled with Adam(0.1) and a loss written as ``F.cross_entropy`` is,
``-mean(take_along_axis(ops.log_softmax(outputs), labels))``: ``SparseCategoricalCrossentropy(from_logits=True)``
would be Keras' form of the same slip, but Keras 3's TensorFlow backend spots a tensor that came out of a softmax
activation (``_keras_logits``), warns and silently uses the pre-softmax logits, so the buggy twin trained exactly
like the fixed one (measured: identical loss curves); the explicit log_softmax keeps the double softmax.
Data stand-in (no MNIST download): ``_data.mnist_like`` (scikit-learn's 8x8 digits blown up to 28x28 uint8,
0..255), then ToTensor (/255) and the program's Normalize; the first 1280 images are the training set (20 batches
of 64 in order, ``batches`` the first 8), the other 517 held out (``inputs``: 256 of them).

Measured (my own plain loops, /tmp/s48/h69_c/measure.py and one.py, OMP_NUM_THREADS=1, the module's builds; a
"total" loss is the program's CE + regularisation, "CE" the cross-entropy part alone; held-out accuracy on the 517
held-out digits; the model stays in train mode, as the program's concrete dropout ignores the mode anyway):
  At init: buggy outputs are probabilities in [0.077, 0.119] (rows sum to 1), fixed logits in [-0.26, 0.19]; the
    total loss is 1.55 in both (CE 2.30 plus the regulariser, about -0.75 from the p log p terms at p = 0.1).
  As written (Adam lr = 0.1) the fault does NOT separate the two on this stand-in, because lr 0.1 wrecks the fixed
    program too. torch, 1200 steps (60 passes over the 20 batches): buggy epoch-mean total loss 1.26 -> 0.76 -> 0.85,
    held-out accuracy 0.104, predicting class 6 for 405 of 517, every p driven to ~0.5 (the dropout regulariser's
    minimum: the data term no longer resists); fixed 1316 in the first pass (Adam at 0.1 blows the weights up), then
    2.0 -> 1.27, accuracy 0.103, one class for all 517 (CE of the held-out outputs 2.303 = log 10). Keras, 60 steps:
    buggy 1.44 -> 1.93, accuracy 0.103; fixed 1524 -> 4.6, accuracy 0.180 (mostly one class). One batch of 64
    repeated 100 steps (torch): buggy CE 2.302 -> 2.336 (never below 2.302), fixed CE 2.304 -> 2.285 (min 2.251),
    train accuracy 0.12 both; the buggy total loss still falls 1.55 -> 0.79 through the regulariser alone.
  Diagnostic only (NOT the program's setting): at Adam lr = 1e-3, 300 steps, the double softmax shows as the
    textbook symptom: torch buggy total 1.55 -> 0.58 with held-out CE (outputs read as logits) stuck at 1.56, fixed
    1.55 -> -0.87 with held-out CE 0.31; held-out accuracy 0.907 vs 0.909 (the argmax survives the squashing);
    Keras buggy 0.592 / CE 1.61 / accuracy 0.849, fixed -0.861 / CE 0.37 / accuracy 0.909.
  Time per step (batch 64, one thread, shared machine): torch 15-35 ms, Keras ``train_on_batch`` ~40 ms (300-step
    average). Builds: first (imports, digits) torch ~12 s and Keras ~13 s under load, later builds 0.01 s / 0.33 s.
  The README's plot (test error 40 % after epoch 1, ~3 % after 100 epochs, p rising slowly to 0.18-0.37) was made
  with the buggy head; its slow p curves look unlike lr 0.1 here, so it may have been run with another --lr.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs import _data
from tests.real_programs._versions import versions

LABEL = "loss_mismatch|output_activation"
SOURCE = ("github:danielkelshaw/ConcreteDropout issue #11, PR #12 (mnist_example.py MLPConcreteDropout.forward "
          "'self.cd4(x, nn.Sequential(self.fc4, self.softmax))' @7c0fdd79d13d88e61ee68b4d15269cfdf5d64043 = 0b8ecad^; "
          "condrop/concrete_dropout.py, condrop/utils/concrete_regulariser.py; fix "
          "0b8ecad05342d8b8feedadff3c0b7e8a7e3eb0ec 'self.cd4(x, self.fc4)')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("output_range", {"kind": "logits"}), ("init_loss", {"num_classes": 10}), ("overfit_one_batch", {}),
          ("loss_decreases", {}), ("gradients_flow", {})]

# mnist_example.py
BATCH_SIZE = 64
LR = 0.1
N_HIDDEN = 512
W_REG, D_REG = 1e-6, 1e-3
MEAN, STD = 0.1307, 0.3081
NUM_CLASSES = 10
# condrop/concrete_dropout.py
INIT_P = 0.1
EPS = 1e-7
TEMP = 0.1
# port
N_TRAIN = 1280
N_BATCHES = 8
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ToTensor() + Normalize((0.1307,), (0.3081,)) on MNIST-shaped digits: (n, 1, 28, 28) float32."""
    imgs, y = _data.mnist_like(1797)
    x = ((imgs.astype("float32") / 255.0 - MEAN) / STD)[:, None]
    return x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


def data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray, np.ndarray]:
    """All training batches in order (DataLoader without shuffle) and the held-out images / labels."""
    xt, yt, xh, yh = _digits()
    return _data.batches(xt, yt, BATCH_SIZE), xh, yh


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class ConcreteDropout(nn.Module):  # condrop/concrete_dropout.py
        def __init__(self, weight_regulariser: float, dropout_regulariser: float,
                     init_min: float = INIT_P, init_max: float = INIT_P) -> None:
            super().__init__()
            self.weight_regulariser = weight_regulariser
            self.dropout_regulariser = dropout_regulariser
            init_min = np.log(init_min) - np.log(1.0 - init_min)
            init_max = np.log(init_max) - np.log(1.0 - init_max)
            self.p_logit = nn.Parameter(torch.empty(1).uniform_(init_min, init_max))
            self.p = torch.sigmoid(self.p_logit)
            self.regularisation = 0.0

        def forward(self, x, layer):
            output = layer(self._concrete_dropout(x))
            sum_of_squares = 0
            for param in layer.parameters():
                sum_of_squares += torch.sum(torch.pow(param, 2))
            weights_reg = self.weight_regulariser * sum_of_squares / (1.0 - self.p)
            dropout_reg = self.p * torch.log(self.p)
            dropout_reg += (1.0 - self.p) * torch.log(1.0 - self.p)
            dropout_reg *= self.dropout_regulariser * x[0].numel()
            self.regularisation = weights_reg + dropout_reg
            return output

        def _concrete_dropout(self, x):
            self.p = torch.sigmoid(self.p_logit)
            u_noise = torch.rand_like(x)
            drop_prob = (torch.log(self.p + EPS) - torch.log(1 - self.p + EPS) + torch.log(u_noise + EPS)
                         - torch.log(1 - u_noise + EPS))
            drop_prob = torch.sigmoid(drop_prob / TEMP)
            random_tensor = 1 - drop_prob
            retain_prob = 1 - self.p
            return torch.mul(x, random_tensor) / retain_prob

    class MLPConcreteDropout(nn.Module):  # mnist_example.py
        def __init__(self, n_hidden: int = N_HIDDEN) -> None:
            super().__init__()
            self.fc1 = nn.Linear(784, n_hidden)
            self.fc2 = nn.Linear(n_hidden, n_hidden)
            self.fc3 = nn.Linear(n_hidden, n_hidden)
            self.fc4 = nn.Linear(n_hidden, NUM_CLASSES)
            w, d = W_REG, D_REG
            self.cd1 = ConcreteDropout(weight_regulariser=w, dropout_regulariser=d)
            self.cd2 = ConcreteDropout(weight_regulariser=w, dropout_regulariser=d)
            self.cd3 = ConcreteDropout(weight_regulariser=w, dropout_regulariser=d)
            self.cd4 = ConcreteDropout(weight_regulariser=w, dropout_regulariser=d)
            self.relu = nn.ReLU()
            self.softmax = nn.Softmax(dim=1)

        def forward(self, x):
            x = x.view(-1, 784)
            x = self.cd1(x, nn.Sequential(self.fc1, self.relu))
            x = self.cd2(x, nn.Sequential(self.fc2, self.relu))
            x = self.cd3(x, nn.Sequential(self.fc3, self.relu))
            if fixed:  # fix 0b8ecad
                return self.cd4(x, self.fc4)
            return self.cd4(x, nn.Sequential(self.fc4, self.softmax))

        def regularisation(self):  # condrop.concrete_regulariser
            total_regularisation = 0
            for module in filter(lambda m: isinstance(m, ConcreteDropout), self.modules()):
                total_regularisation += module.regularisation
            return total_regularisation

    torch.manual_seed(SEED)
    model = MLPConcreteDropout()

    def loss_fn(outputs, labels):  # train(): F.cross_entropy(outputs, labels) + model.regularisation()
        return F.cross_entropy(outputs, labels) + model.regularisation()

    batches, xh, _ = data()
    t = torch.from_numpy
    tb = [(t(x), t(y)) for x, y in batches[:N_BATCHES]]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": t(xh[:N_INPUTS]), "loss_fn": loss_fn,
            "optimizer": torch.optim.Adam(model.parameters(), lr=LR)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    class ConcreteDropout(layers.Layer):
        """condrop.ConcreteDropout wrapping one Dense; its regulariser goes to add_loss (model.regularisation())."""

        def __init__(self, layer: Any, in_features: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.layer = layer
            self.in_features = in_features
            self.weight_regulariser, self.dropout_regulariser = W_REG, D_REG
            logit = float(np.log(INIT_P) - np.log(1.0 - INIT_P))
            self.p_logit = self.add_weight(shape=(1,), initializer=keras.initializers.Constant(logit), name="p_logit")
            self.seed = keras.random.SeedGenerator(SEED)

        def build(self, input_shape: Any) -> None:
            self.layer.build(input_shape)

        def call(self, x):
            p = ops.sigmoid(self.p_logit)
            u_noise = keras.random.uniform(ops.shape(x), seed=self.seed)
            drop_prob = (ops.log(p + EPS) - ops.log(1 - p + EPS) + ops.log(u_noise + EPS)
                         - ops.log(1 - u_noise + EPS))
            drop_prob = ops.sigmoid(drop_prob / TEMP)
            output = self.layer(x * (1 - drop_prob) / (1 - p))
            sum_of_squares = sum(ops.sum(ops.square(w)) for w in self.layer.trainable_weights)
            weights_reg = self.weight_regulariser * sum_of_squares / (1.0 - p)
            dropout_reg = (p * ops.log(p) + (1.0 - p) * ops.log(1.0 - p)) * self.dropout_regulariser * self.in_features
            self.add_loss(ops.sum(weights_reg + dropout_reg))
            return output

    def linear(n_in: int, n_out: int, activation: str | None) -> Any:
        bound = 1.0 / np.sqrt(n_in)  # nn.Linear's default init
        return layers.Dense(n_out, activation=activation,
                            kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3, "fan_in", "uniform"),
                            bias_initializer=keras.initializers.RandomUniform(-bound, bound))

    inp = keras.Input((1, 28, 28))
    x = layers.Reshape((784,))(inp)
    x = ConcreteDropout(linear(784, N_HIDDEN, "relu"), 784, name="cd1")(x)
    x = ConcreteDropout(linear(N_HIDDEN, N_HIDDEN, "relu"), N_HIDDEN, name="cd2")(x)
    x = ConcreteDropout(linear(N_HIDDEN, N_HIDDEN, "relu"), N_HIDDEN, name="cd3")(x)
    out = ConcreteDropout(linear(N_HIDDEN, NUM_CLASSES, None if fixed else "softmax"), N_HIDDEN, name="cd4")(x)
    model = keras.Model(inp, out, name="MLPConcreteDropout")

    def cross_entropy(labels, outputs):  # F.cross_entropy: log_softmax of the outputs, NLL of the labels
        logp = ops.log_softmax(outputs, axis=-1)
        labels = ops.cast(ops.reshape(labels, (-1, 1)), "int32")
        return -ops.mean(ops.take_along_axis(logp, labels, axis=1))

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LR), loss=cross_entropy)
    batches, xh, _ = data()
    b = batches[:N_BATCHES]
    return {"model": model, "batch": b[0], "batches": b, "inputs": xh[:N_INPUTS]}


buggy, fixed = versions(_torch, _keras)
