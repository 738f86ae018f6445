"""lazyprogrammer/machine_learning_examples (the code of the Udemy course "Data Science: Practical Deep Learning
Concepts in Theano and TensorFlow"), ``ann_class2/dropout_tensorflow.py``: an MLP with dropout on the Kaggle
digit-recognizer MNIST table. ``util.get_normalized_data`` reads ``train.csv`` (42,000 rows, 784 raw pixels 0..255),
z-scores every pixel column (std 0 replaced by 1); ``ANN([500, 300], [0.8, 0.5, 0.5])`` builds raw TensorFlow
variables from numpy arrays: ``HiddenLayer`` (relu) 784 -> 500 -> 300, a linear output layer 300 -> 10, and
``forward`` applies ``tf.nn.dropout`` with keep probabilities 0.8 on the input and 0.5 after each hidden layer; the
loss is ``reduce_mean(sparse_softmax_cross_entropy_with_logits)``, trained with ``tf.train.RMSPropOptimizer(1e-4,
decay=0.9, momentum=0.9)``, batches of 100, 8 epochs (1000 rows held out for validation).

The fault (weight initialisation): ``HiddenLayer.__init__`` draws ``W = np.random.randn(M1, M2) / np.sqrt(2.0 / M1)``,
DIVIDING the standard normal draw by the He scale sqrt(2 / fan_in) instead of multiplying by it. The hidden weights
get standard deviation sqrt(M1 / 2) (19.8 for the first layer, 15.8 for the second) instead of sqrt(2 / M1) (0.05,
0.063): 400x and 250x too large. On z-scored inputs the pre-activations grow by that factor at each layer, so the
logits at initialisation are of order 1e5 and the softmax cross-entropy starts near 1e5 instead of ln 10 = 2.3; the
gradients are as large, and RMSProp at lr 1e-4 moves each weight by roughly 1e-4 a step, so it takes tens of
thousands of steps to shrink weights of size ~20 back to a useful scale: the loss stays in the thousands and the
accuracy far below what the same network reaches when initialised correctly. Fixed in the course author's commit
cd73081 "dropout update" (no issue thread; the same change made in ``dropout_theano.py``): ``W =
np.random.randn(M1, M2) * np.sqrt(2.0 / M1)`` for the hidden layers, and the output layer's ``W =
np.random.randn(M1, K) / np.sqrt(M1)`` rescaled to ``* np.sqrt(2.0 / M1)`` as well.

Source: github.com/lazyprogrammer/machine_learning_examples ``ann_class2/dropout_tensorflow.py`` (with
``ann_class2/util.py`` ``get_normalized_data``) at 713c3dc00e7cb97fa577e54530412a4276599057 = cd73081^ (the file as
added in 300903503a3918d61d40f8f99ce2490b3e2214a7), fixed by cd73081d6e888725fe83f29f963d9c279125c9d5 "dropout
update" (2017-09-21).
Fault label: init_loss_off (hidden weights initialised ~250-400x too large: initial loss ~1e5 instead of ln 10, and
training cannot recover the scale at the program's learning rate).

Program lines kept: the two init lines verbatim (buggy) and as the fixing commit wrote them (fixed), drawn with
numpy's global generator (``np.random.seed(0)`` first) in the program's order W1, b1, W2, b2, W, b, zero biases; layer
sizes [500, 300], keep probabilities [0.8, 0.5, 0.5] in the same places, relu hidden layers, linear logits, mean
sparse softmax cross-entropy, RMSProp lr 1e-4 / decay 0.9 / momentum 0.9 / epsilon 1e-10, batch 100, the
per-column z-scoring of ``get_normalized_data``. Nothing was shrunk.
Ported: the TF1 graph program (Python 2, sessions and placeholders) is not a TF2 / Keras program; it is ported to
Keras 3 (``Input(784)`` -> ``Dropout(0.2)`` -> ``Dense(500, relu)`` -> ``Dropout(0.5)`` -> ``Dense(300, relu)`` ->
``Dropout(0.5)`` -> ``Dense(10)``, the numpy arrays loaded with ``set_weights``, compiled with
``SparseCategoricalCrossentropy(from_logits=True)`` and ``RMSprop(1e-4, rho=0.9, momentum=0.9, epsilon=1e-10)``)
and to a torch twin (``nn.Linear`` layers holding the same arrays, ``nn.Dropout(1 - keep)``, ``F.cross_entropy``,
``torch.optim.RMSprop(lr=1e-4, alpha=0.9, momentum=0.9, eps=1e-10)``). ``tf.nn.dropout(Z, keep_prob)`` drops with
probability 1 - keep_prob and scales by 1 / keep_prob, as Keras' and torch's dropout with rate 1 - keep_prob do.
Differences: TF1's RMSProp starts its mean-square slot at ONES, Keras and torch at zeros (and torch adds epsilon
outside the square root); the buggy program also ran its validation ``predict`` through the dropout ``forward``
(the fixing commit added a ``forward_test`` for that), which does not touch training and is not ported (Keras
predicts without dropout, the torch model does so in ``eval()`` mode). The commit also raised ``epochs`` 8 -> 15.
Data stand-in (no Kaggle download): 28x28 digits from ``_data.mnist_like`` (scikit-learn's 8x8 digits blown up 3x3
and padded, 0..255), each drawn copy shifted by -2..2 pixels, scaled by 0.7..1.0, given N(0, 10) noise, rounded and
clipped to 0..255, flattened to 784 columns like the csv rows, then z-scored column by column over the whole set as
``get_normalized_data`` does (columns of near-constant border pixels reach |x| ~ 27, as rare MNIST pixels do).
Training rows come from the first 1500 digits, held-out rows from the last 297. ``batches``: 60 batches of 100
(the program has ~410 an epoch); ``batch``: the first; ``inputs``: 256 held-out rows. Labels 0..9 int64, about
balanced.

Measured (my own plain loops, /tmp/s56/p/b93c/measure.py and measure2.py on the module's builds; seeds as built
(numpy 0, torch / Keras 0), OMP_NUM_THREADS=1; train-mode loss of each step, batches cycled in order):
  at initialisation (no dropout), loss on ``batch``: buggy 1.87e5, fixed 3.50 (ln 10 = 2.30); max |logit| on
    ``inputs`` 4.1e5 vs 5.95; step-0 gradient norms buggy 1.6e3 / 2.5e3 / 9.6e5 (W1 / W2 / output W), fixed 8.2 /
    7.7 / 8.1. No hidden unit is dead at initialisation in either version (every unit fires on some row of
    ``batch``), so the fault is the scale, not dying ReLUs.
  600 steps (10 passes over the 60 batches), training-loss means of 60-step blocks:
    torch buggy 2.8e5 1.9e5 1.3e5 9.1e4 6.6e4 4.8e4 3.5e4 2.6e4 2.0e4 1.5e4; fixed 2.25 0.83 0.60 0.45 0.37 0.30
      0.28 0.26 0.23 0.20; held-out accuracy buggy 0.48 / fixed 0.86, held-out cross-entropy 4498 / 0.60.
    Keras buggy 2.8e5 1.9e5 1.3e5 9.3e4 6.7e4 4.7e4 3.4e4 2.5e4 1.9e4 1.4e4; fixed 2.16 0.82 0.61 0.46 0.36 0.32
      0.28 0.24 0.23 0.20; held-out accuracy 0.54 / 0.86, cross-entropy 3553 / 0.63.
  torch, 3000 steps (about the program's 8 epochs of 410 batches): training-loss means of 600-step blocks buggy
    9.0e4 9946 9068 8666 8394, fixed 0.58 0.14 0.10 0.084 0.082; held-out accuracy after 600 / 1200 / ... / 3000
    steps buggy 0.48 0.52 0.50 0.50 0.60, fixed 0.86 0.85 0.88 0.89 0.86 (held-out cross-entropy buggy 2000-4500,
    fixed 0.6-0.95).
  ``batch`` repeated 200 times (torch): train-mode loss at steps 1 / 10 / 50 / 100 / 200 buggy 3.5e5 2.8e5 2.2e5
    1.5e5 7.2e4 (then eval loss 1444, accuracy 0.93), fixed 5.58 2.00 0.12 0.014 8e-5 (eval loss 6e-8, 1.00).
  So the buggy loss does fall steadily in relative terms (about 20x over 600 steps) while staying 4-5 orders of
  magnitude above the fixed one; the argmax accuracy it reaches is ~0.5-0.6 against ~0.86-0.89.
  Time per step (batch 100, one thread): torch ~6 ms, Keras ``train_on_batch`` ~9 ms. Build: first ~8 s (torch) /
  ~11 s (Keras, with the TensorFlow import), later 0.03 s / 0.16 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "init_loss_off"
SOURCE = ("github:lazyprogrammer/machine_learning_examples ann_class2/dropout_tensorflow.py + ann_class2/util.py "
          "@713c3dc00e7cb97fa577e54530412a4276599057 = cd73081^ (HiddenLayer 'W = np.random.randn(M1, M2) / "
          "np.sqrt(2.0 / M1)'); fix cd73081d6e888725fe83f29f963d9c279125c9d5 'dropout update': "
          "'W = np.random.randn(M1, M2) * np.sqrt(2.0 / M1)'")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("init_loss", {"num_classes": 10}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("gradients_flow", {})]

# dropout_tensorflow.py main() / ANN.fit defaults
HIDDEN_LAYER_SIZES = [500, 300]
P_KEEP = [0.8, 0.5, 0.5]
LR = 1e-4
MU = 0.9
DECAY = 0.9
BATCH_SZ = 100
D = 784
K = 10
# stand-in
N_BATCHES = 60
N_INPUTS = 256
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kaggle digit-recognizer rows (784 raw pixels 0..255) as util.get_normalized_data returns them: every pixel
    column z-scored over the whole set (std 0 -> 1). Train rows from the first 1500 digits, held-out rows from the
    last 297, each a randomly shifted, rescaled, noisy copy."""
    from tests.real_programs._data import mnist_like

    x0, y0 = mnist_like(1797)
    r = np.random.default_rng(SEED)
    n_tr = N_BATCHES * BATCH_SZ
    src = np.concatenate([r.integers(0, 1500, n_tr), r.integers(1500, 1797, N_INPUTS)])
    xs = np.zeros((len(src), 28, 28), "float32")
    for i, s in enumerate(src):
        dy, dx = r.integers(-2, 3, 2)
        xs[i] = np.roll(np.roll(x0[s].astype("float32"), dy, 0), dx, 1)
    xs = np.clip(xs * r.uniform(0.7, 1.0, (len(src), 1, 1)) + r.normal(0, 10, xs.shape), 0, 255)
    X = np.round(xs).reshape(len(src), D).astype(np.float32)
    # util.get_normalized_data
    mu = X.mean(axis=0)
    std = X.std(axis=0)
    np.place(std, std == 0, 1)
    X = (X - mu) / std  # normalize the data
    Y = y0[src].astype(np.int64)
    return X[:n_tr], Y[:n_tr], X[n_tr:]


def _weights(fixed: bool) -> list[np.ndarray]:
    """The program's numpy initialisation of [W1, b1, W2, b2, W, b] (ANN.fit and HiddenLayer.__init__)."""
    np.random.seed(SEED)
    params = []
    M1 = D
    for M2 in HIDDEN_LAYER_SIZES:
        if fixed:  # cd73081
            W = np.random.randn(M1, M2) * np.sqrt(2.0 / M1)
        else:
            W = np.random.randn(M1, M2) / np.sqrt(2.0 / M1)
        b = np.zeros(M2)
        params += [W.astype(np.float32), b.astype(np.float32)]
        M1 = M2
    if fixed:  # cd73081 rescaled the output layer too
        W = np.random.randn(M1, K) * np.sqrt(2.0 / M1)
    else:
        W = np.random.randn(M1, K) / np.sqrt(M1)
    b = np.zeros(K)
    return params + [W.astype(np.float32), b.astype(np.float32)]


def _common() -> dict[str, Any]:
    x, y, xh = _data()
    bs = [(x[i:i + BATCH_SZ], y[i:i + BATCH_SZ]) for i in range(0, len(x), BATCH_SZ)]
    return {"batch": bs[0], "batches": bs, "inputs": xh}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(SEED)

    class ANN(nn.Module):  # ANN.forward: dropout on the input, relu layers each followed by dropout, linear logits
        def __init__(self) -> None:
            super().__init__()
            sizes = [D] + HIDDEN_LAYER_SIZES
            self.hidden_layers = nn.ModuleList(nn.Linear(m1, m2) for m1, m2 in zip(sizes[:-1], sizes[1:]))
            self.out = nn.Linear(sizes[-1], K)
            self.drops = nn.ModuleList(nn.Dropout(1 - p) for p in P_KEEP)  # tf.nn.dropout(Z, keep_prob)
            ws = _weights(fixed)
            with torch.no_grad():
                for lin, W, b in zip([*self.hidden_layers, self.out], ws[0::2], ws[1::2]):
                    lin.weight.copy_(torch.from_numpy(W.T))
                    lin.bias.copy_(torch.from_numpy(b))

        def forward(self, X: Any) -> Any:
            Z = self.drops[0](X)
            for h, drop in zip(self.hidden_layers, self.drops[1:]):
                Z = drop(F.relu(h(Z)))
            return self.out(Z)

    model = ANN()

    def loss_fn(logits: Any, labels: Any) -> Any:  # reduce_mean(sparse_softmax_cross_entropy_with_logits)
        return F.cross_entropy(logits, labels)

    # tf.train.RMSPropOptimizer(lr, decay=decay, momentum=mu) (epsilon 1e-10)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=LR, alpha=DECAY, momentum=MU, eps=1e-10)
    c = _common()
    t = torch.from_numpy
    bs = [(t(x), t(y)) for x, y in c["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(c["inputs"]), "loss_fn": loss_fn,
            "optimizer": optimizer}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)
    inputs = keras.Input(shape=(D,))
    Z = layers.Dropout(1 - P_KEEP[0])(inputs)
    for M2, p in zip(HIDDEN_LAYER_SIZES, P_KEEP[1:]):
        Z = layers.Dense(M2, activation="relu")(Z)
        Z = layers.Dropout(1 - p)(Z)
    logits = layers.Dense(K)(Z)
    model = keras.Model(inputs, logits)
    model.set_weights(_weights(fixed))
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=LR, rho=DECAY, momentum=MU, epsilon=1e-10),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return {"model": model, **_common()}


buggy, fixed = versions(_torch, _keras)
