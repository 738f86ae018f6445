"""lisa-lab/DeepLearningTutorials (the deeplearning.net Theano tutorials of Yoshua Bengio's lab), ``code/mlp.py``: the
tutorial multilayer perceptron on MNIST, ``f(x) = softmax(b2 + W2 tanh(b1 + W1 x))`` with ``n_in=28*28``,
``n_hidden=100``, ``n_out=10``, trained by ``sgd_optimization_mnist(learning_rate=0.01, L1_reg=0.0, L2_reg=0.0)``:
minibatches of ``batch_size = 20`` taken in order from ``mnist.pkl.gz`` (pixels as floats in [0, 1]), cost
``negative_log_likelihood`` = ``-T.mean(T.log(p_y_given_x)[T.arange(y.shape[0]), y])``, plain SGD updates
``W - learning_rate * T.grad(cost, W)`` for W1, b1, W2, b2.

The fault (weights initialised to zero): commit df26db2 ("initialization in sqrt(6/(fan_in+fan_out)) instead of
sqrt(1/fan_in)") wrote the Glorot bounds as ``numpy.sqrt(6/(n_in+n_hidden))`` and ``numpy.sqrt(6/(n_hidden+n_out))``.
Under Python 2 these are integer divisions, 6/884 = 0 and 6/110 = 0, so ``numpy.random.uniform(low=-0, high=0)`` gives
W1 = 0 and W2 = 0 (and the biases start at 0). Every hidden unit is then tanh(0) = 0, the gradient of W2 is
hidden^T delta = 0, and the gradients of W1 and b1 pass through W2 = 0 and are 0 too: only b2 ever moves. The
network is stuck at the symmetric saddle and can only learn the class priors; its prediction is the same class for
every image. (The same commit also dropped the minus sign of W2's ``low``; see Fix.)

Source: github.com/lisa-lab/DeepLearningTutorials ``code/mlp.py`` at a8926d3f1d28d87d965803d331f6921d74c4d681 (=
ff4bd33^, two commits after the fault came in with df26db2275a5a6b171d10d209d200703be08bb16, Yoshua Bengio,
2010-01-15). Fix: ff4bd33283635cbd0cb15bd373efeaf5f5ed2b72 (Razvan Pascanu, same day): "Second bug fixed was when
initializing the weights, we need 6./(n_in+n_out) instead of 6/(n_in_n_out) [ this does division by ints]", then
42568775afbff5baf301cae7a6676fc5aca49aaf "Fixed signed bug in weight initialization" (``low =
-numpy.sqrt(6./(n_hidden+n_out))``; with only the first fix W2 would start as the constant 0.2335 everywhere).
Fault label: other:zero_weight_init (trainable weights that never change follow from it: params_not_updated).

Program lines kept: the MLP (tanh hidden layer of 100, softmax output), the initialisation lines (numpy uniform,
zero biases), the mean negative log-likelihood, SGD at 0.01, minibatches of 20 taken in order, no regularisation.
Ported: Theano -> torch / Keras. Python 2's ``6/(n_in+n_hidden)`` on ints is written ``6 // (n_in + n_hidden)`` (what
it computed); the fix's ``6./(...)`` stays. The numpy draws (seeded RandomState, for the program's global
``numpy.random``) are loaded into the layers: torch ``nn.Linear`` weights = W.T, Keras ``Dense`` via
``set_weights``. Torch: ``Linear(784, 100) -> Tanh -> Linear(100, 10) -> Softmax(dim=1)`` with
``loss_fn = -mean(log p[range, y])`` and ``torch.optim.SGD(lr=0.01)``; Keras: the same Dense layers (tanh, softmax),
compiled with ``sparse_categorical_crossentropy`` (the same mean NLL on probabilities) and ``SGD(0.01)``.
ff4bd33 also switched the cost from ``T.mean`` to ``T.sum`` ("though T.mean should also be supported"); that is not
part of the initialisation fix and both builds keep the program's ``T.mean``.
Data stand-in (no mnist.pkl.gz): ``_data.mnist_like`` (scikit-learn's 8x8 digits blown up to 28x28), divided by
255 and flattened to (n, 784) float32 in [0, 1] as in mnist.pkl.gz; int64 labels. The first 1400 images are the
training set (``batches``: the first 16 minibatches of 20 in order, ``batch``: the first), the other 397 are
``inputs``.

Measured (my own plain loops, /tmp/s46/h65c/measure.py, OMP_NUM_THREADS=1, the module's builds; torch and Keras gave
the same numbers to 4 digits, so one set is shown):
  init: loss 2.3026 (= ln 10, every probability 0.1) buggy, 2.3075 fixed. Gradient norms on the first batch: buggy 0
    for W1, b1, W2 and b2 (that batch holds each digit twice, so even b2's is 0), fixed W1 2.41, b1 0.17, W2 0.76,
    b2 0.13.
  program loop (SGD 0.01, the 70 training minibatches of 20 in order, 10 epochs = 700 steps), epoch mean loss:
    buggy 2.3027 2.3027 ... 2.3026 (flat), fixed 1.664 0.920 0.627 0.481 0.396 0.341 0.301 0.271 0.248 0.229.
    Held-out accuracy (397 images): buggy 0.098 with one class predicted for 100 % of them (probabilities vary
    across images by 2e-7), fixed 0.884 with the most common class at 11.6 %. Largest parameter change after the 700
    steps: buggy W1 0, b1 0, W2 0, b2 0.018; fixed W1 0.059, b1 0.015, W2 0.141, b2 0.014.
  module batches (16 x 20, cycled 10 times = 160 steps), mean loss of the first / last 16 steps: buggy 2.3027 /
    2.3024, fixed 2.080 / 0.527.
  one batch of 20 repeated, loss at steps 1 / 50 / 100 / 300: buggy 2.3026 at all four (train accuracy 0.10), fixed
    2.3075 / 0.967 / 0.502 / 0.132 (train accuracy 1.00).
  For information (not a build): ff4bd33's state alone (W1 fixed, W2 the constant 0.2335) learns, more slowly: module
    batches 2.281 / 1.693 (torch).
  Time per step (batch 20, one thread): torch ~0.4 ms, Keras ``train_on_batch`` ~1.5 ms. Builds: first (imports,
    digits) torch 3.5 s, Keras 4.4 s; later builds 0.03 s / 0.06 s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:zero_weight_init|params_not_updated"
SOURCE = ("github:lisa-lab/DeepLearningTutorials (code/mlp.py@a8926d3 = ff4bd33^, fault from df26db2; fix "
          "ff4bd33283635cbd0cb15bd373efeaf5f5ed2b72 '6./(n_in+n_out) instead of 6/(n_in_n_out) [ this does division "
          "by ints]' + 42568775afbff5baf301cae7a6676fc5aca49aaf 'Fixed signed bug in weight initialization')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {}), ("init_loss", {"num_classes": 10})]

N_IN = 28 * 28
N_HIDDEN = 100
N_OUT = 10
LEARNING_RATE = 0.01
BATCH_SIZE = 20
N_TRAIN = 1400
N_BATCHES = 16
SEED = 0


def _init(fixed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``MLP.__init__``'s parameter lines; ``rng`` stands for the program's global ``numpy.random``."""
    rng = np.random.RandomState(SEED)
    n_in, n_hidden, n_out = N_IN, N_HIDDEN, N_OUT
    if fixed:  # ff4bd33 (6. instead of 6) + 4256877 (minus sign on W2's low)
        W1_values = np.asarray(rng.uniform(low=-np.sqrt(6. / (n_in + n_hidden)), high=np.sqrt(6. / (n_in + n_hidden)),
                                           size=(n_in, n_hidden)), dtype="float32")
        W2_values = np.asarray(rng.uniform(low=-np.sqrt(6. / (n_hidden + n_out)), high=np.sqrt(6. / (n_hidden + n_out)),
                                           size=(n_hidden, n_out)), dtype="float32")
    else:  # as written at a8926d3; Python 2 '/' on ints -> '//'
        W1_values = np.asarray(rng.uniform(low=-np.sqrt(6 // (n_in + n_hidden)), high=np.sqrt(6 // (n_in + n_hidden)),
                                           size=(n_in, n_hidden)), dtype="float32")
        W2_values = np.asarray(rng.uniform(low=np.sqrt(6 // (n_hidden + n_out)), high=np.sqrt(6 // (n_hidden + n_out)),
                                           size=(n_hidden, n_out)), dtype="float32")
    b1 = np.zeros((n_hidden,), dtype="float32")
    b2 = np.zeros((n_out,), dtype="float32")
    return W1_values, b1, W2_values, b2


def _data_np() -> dict[str, Any]:
    from tests.real_programs import _data

    imgs, y = _data.mnist_like(1797)
    x = (imgs.reshape(len(imgs), N_IN).astype("float32") / 255.0).astype("float32")
    train_batches = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE])
                     for i in range(0, N_BATCHES * BATCH_SIZE, BATCH_SIZE)]
    return {"batches": train_batches, "inputs": x[N_TRAIN:]}


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    W1, b1, W2, b2 = _init(fixed)
    model = nn.Sequential(nn.Linear(N_IN, N_HIDDEN), nn.Tanh(), nn.Linear(N_HIDDEN, N_OUT), nn.Softmax(dim=1))
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(W1.T.copy()))
        model[0].bias.copy_(torch.from_numpy(b1))
        model[2].weight.copy_(torch.from_numpy(W2.T.copy()))
        model[2].bias.copy_(torch.from_numpy(b2))

    def loss_fn(p_y_given_x: Any, y: Any) -> Any:
        """negative_log_likelihood: -T.mean(T.log(self.p_y_given_x)[T.arange(y.shape[0]), y])"""
        return -torch.mean(torch.log(p_y_given_x)[torch.arange(y.shape[0]), y])

    d = _data_np()
    bs = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in d["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": torch.from_numpy(d["inputs"]),
            "loss_fn": loss_fn, "optimizer": torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras

    keras.utils.set_random_seed(SEED)
    W1, b1, W2, b2 = _init(fixed)
    model = keras.models.Sequential([
        keras.Input(shape=(N_IN,)),
        keras.layers.Dense(N_HIDDEN, activation="tanh"),
        keras.layers.Dense(N_OUT, activation="softmax"),
    ])
    model.layers[0].set_weights([W1, b1])
    model.layers[1].set_weights([W2, b2])
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=LEARNING_RATE))
    d = _data_np()
    return {"model": model, "batch": d["batches"][0], "batches": d["batches"], "inputs": d["inputs"]}


buggy, fixed = versions(_torch, _keras)
