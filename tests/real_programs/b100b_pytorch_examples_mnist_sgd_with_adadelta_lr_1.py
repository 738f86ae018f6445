"""pytorch/examples ``mnist/main.py`` (the version of March 2020, dce9319f73b13cb8d5df27e21934efce327c7eaa): the
Keras ``mnist_cnn`` net rewritten in PyTorch (``Net``: ``Conv2d(1, 32, 3, 1)`` -> ReLU -> ``Conv2d(32, 64, 3, 1)``
-> ReLU -> ``max_pool2d(2)`` -> ``Dropout2d(0.25)`` -> flatten -> ``Linear(9216, 128)`` -> ReLU -> ``Dropout2d(0.5)``
-> ``Linear(128, 10)`` -> ``log_softmax``), ``F.nll_loss``, batch size 64, MNIST with ``ToTensor()`` +
``Normalize((0.1307,), (0.3081,))``, ``torch.manual_seed(args.seed)``, and
``optimizer = optim.Adadelta(model.parameters(), lr=args.lr)`` with ``--lr`` defaulting to 1.0 (plus
``StepLR(step_size=1, gamma=0.7)`` once an epoch). Since PR #658 (0634306968ed7f28e2b11b69d3b2df348b8ec53c) the
``--lr`` default of 1.0 is an Adadelta learning rate; before it the example used
``optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)`` with ``--lr`` defaulting to 0.01.

The fault (issue #736 "MNIST Optimizer", 2020-03-17): a user swapped the optimizer on line 116 for plain SGD,
``optimizer = optim.SGD(model.parameters(), lr=args.lr)``, and kept the script's learning rate of 1.0 - a value
that suits Adadelta (whose step is a ratio of running RMS values, so ``lr`` only scales an already normalised
update) but is about a hundred times too large for SGD, whose step is lr x the raw gradient. Reported: "Changing
the optimizer to optim.SGD produces all nan for the loss." Answer (bentrevett, endorsed by the maintainer soumith,
"what @bentrevett said", issue closed): "If you want to switch to SGD then you should also use a lower learning
rate." The very first SGD steps throw the weights far off (loss jumps from 2.30 to 2.5-7.6 at step 1), after
which the net either blows up to inf / NaN or ends with all its ReLUs dead and outputs the same distribution for
every image (loss pinned at ln 10 = 2.303, chance accuracy) - which of the two depends on the seed.
Fault label: lr_too_high (SGD run with the learning rate meant for Adadelta, 1.0).

Source: github.com/pytorch/examples issue #736 (https://github.com/pytorch/examples/issues/736), program
``mnist/main.py`` at dce9319f73b13cb8d5df27e21934efce327c7eaa (line 116 is the optimizer line the issue links to).
The fix is the maintainers' answer (lower the learning rate with SGD); the value used here, ``lr=0.01``, is the
example's own SGD learning rate before PR #658 replaced SGD by Adadelta (its momentum 0.5 is NOT added back, so
buggy and fixed differ only in the learning rate).

Program lines kept: ``Net`` layer for layer with torch's default init except the widths (below), ``F.nll_loss`` on
the ``log_softmax`` output, batch size 64, the Normalize constants, ``model.train()`` (dropout on while training),
the plain zero_grad / forward / loss / backward / step loop, and the user's
``optimizer = optim.SGD(model.parameters(), lr=args.lr)`` with ``args.lr`` = 1.0 (buggy) or 0.01 (fixed).
Shrunk / replaced: the conv widths are halved (32 -> 16, 64 -> 32, so ``fc1`` takes 32 x 12 x 12 = 4608 inputs
instead of 9216; ``fc1``'s 128 units kept): the full net takes 70-130 ms a step on one core (7-13 s per hundred
steps), the halved one ~20-30 ms. The fault shows the same way at full width (own runs, 200 steps, lr 1.0: seed 0
loss pinned at 2.30 from step ~40 on; seeds 1 / 2 / 3 NaN at steps 79 / 35 / 52; lr 0.01 and 0.1 learn).
``dropout2`` is ``nn.Dropout(0.5)``: ``nn.Dropout2d`` on the flattened (N, 128) activations is what recent torch
warns about as deprecated ("please use dropout instead", same element-wise behaviour), and the example itself
made that change later (0f0c9131ca5c79d1332dce1f4c06fe942fbdc665). The once-an-epoch ``StepLR`` is left out (an
epoch of MNIST is 938 steps, more than any run here). Test loop not ported.
Keras twin: the net the PyTorch example copies (keras ``examples/mnist_cnn.py``) with the same halved widths:
``Conv2D(16, 3, relu)`` -> ``Conv2D(32, 3, relu)`` -> ``MaxPooling2D(2)`` -> ``SpatialDropout2D(0.25)`` (torch's
channel-wise ``Dropout2d``) -> ``Flatten`` -> ``Dense(128, relu)`` -> ``Dropout(0.5)`` -> ``Dense(10, softmax)``,
Keras default init, ``sparse_categorical_crossentropy`` on the integer labels, ``SGD(learning_rate=1.0)`` (buggy) /
``SGD(learning_rate=0.01)`` (fixed), channels-last inputs.
Data stand-in (no MNIST download): 28x28 uint8 digits from ``_data.mnist_like`` (scikit-learn's 8x8 digits blown up
3x3 and padded), each drawn image shifted by -2..2 pixels in x and y, scaled by 0.7..1.0 and given N(0, 10) pixel
noise (clipped to 0..255), training images from the first 1500 digits, held-out ones from the last 297; then
ToTensor (/255) and Normalize((0.1307,), (0.3081,)). ``batches``: 100 distinct batches of 64; ``batch``: the first;
``inputs``: 256 held-out images. Labels int64 class ids 0..9 (torch) / int (Keras).

Measured (my own plain loop, /tmp/s58/p/b100b/measure.py, on the module's builds: 400 steps over the 100
``batches`` in order (4 passes), one step = zero_grad / forward / ``F.nll_loss`` / backward / step in torch,
``train_on_batch`` in Keras; SEED = 0, OMP_NUM_THREADS=1; held-out = the 256 ``inputs``, eval mode):
  torch, training loss, means of 40-step blocks:
    buggy 2.313 2.269 2.332 2.306 2.306 2.307 2.306 2.307 2.305 2.306 (steps 0-5: 2.302 2.721 2.296 2.327 2.304
      2.296): never below chance after the first block; held-out accuracy 0.094, loss 2.303, every held-out
      image gets the same class (1 distinct argmax); no NaN with seed 0 (NaN at step 93 with seed 4, step 61 with
      seed 2 in the exploratory runs);
    fixed 2.288 2.229 2.014 1.467 1.073 0.896 0.802 0.720 0.645 0.602; held-out accuracy 0.816, loss 0.586.
  Keras, training loss (``train_on_batch``), means of 40-step blocks:
    buggy: 2.463 3.466 9.788 4.417 67.3 4.7e5 2.6e14 1.7e35 at steps 0-7, NaN from step 8 on (every later loss
      NaN); held-out predictions NaN, accuracy 0.090;
    fixed 2.193 1.695 1.220 1.032 0.881 0.757 0.703 0.675 0.612 0.604; held-out accuracy 0.832, loss 0.601.
  Time per step (batch 64, one thread): ~20-30 ms torch, ~30-40 ms Keras. Build: first ~6.6 s for both frameworks
  (imports, data), later 0.05 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "lr_too_high"
SOURCE = ("github:pytorch/examples issue #736 'MNIST Optimizer' "
          "(mnist/main.py@dce9319f73b13cb8d5df27e21934efce327c7eaa line 116 "
          "optim.Adadelta(model.parameters(), lr=args.lr) swapped for optim.SGD with --lr default 1.0; "
          "maintainers' answer: lower the learning rate with SGD; lr 0.01 = the example's SGD lr before PR #658 "
          "0634306968ed7f28e2b11b69d3b2df348b8ec53c)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {}),
          ("init_loss", {"num_classes": 10})]

BATCH_SIZE = 64  # --batch-size default
LR_BUGGY = 1.0  # --lr default (meant for Adadelta) handed to optim.SGD
LR_FIXED = 0.01  # the example's SGD --lr default before PR #658
MEAN, STD = 0.1307, 0.3081  # transforms.Normalize((0.1307,), (0.3081,))
C1, C2 = 16, 32  # conv widths, halved from the program's 32, 64 (see the docstring)
N_BATCHES = 100
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shifted, scaled, noisy MNIST-like digits after ToTensor + Normalize, shape (n, 1, 28, 28) float32."""
    from tests.real_programs._data import mnist_like

    x0, y0 = mnist_like(1797)
    r = np.random.default_rng(SEED)
    n_tr = N_BATCHES * BATCH_SIZE
    src = np.concatenate([r.integers(0, 1500, n_tr), r.integers(1500, 1797, N_INPUTS)])
    xs = np.zeros((len(src), 28, 28), "float32")
    for i, s in enumerate(src):
        dy, dx = r.integers(-2, 3, 2)
        xs[i] = np.roll(np.roll(x0[s].astype("float32"), dy, 0), dx, 1)
    xs = np.clip(xs * r.uniform(0.7, 1.0, (len(src), 1, 1)) + r.normal(0, 10, xs.shape), 0, 255).astype("uint8")
    x = ((xs.astype("float32") / 255.0 - MEAN) / STD)[:, None]  # ToTensor, Normalize
    return x[:n_tr], y0[src[:n_tr]].astype("int64"), x[n_tr:]


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim

    class Net(nn.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.conv1 = nn.Conv2d(1, C1, 3, 1)
            self.conv2 = nn.Conv2d(C1, C2, 3, 1)
            self.dropout1 = nn.Dropout2d(0.25)
            self.dropout2 = nn.Dropout(0.5)  # program: nn.Dropout2d(0.5) on a 2-D input (same behaviour)
            self.fc1 = nn.Linear(C2 * 12 * 12, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.conv1(x)
            x = F.relu(x)
            x = self.conv2(x)
            x = F.relu(x)
            x = F.max_pool2d(x, 2)
            x = self.dropout1(x)
            x = torch.flatten(x, 1)
            x = self.fc1(x)
            x = F.relu(x)
            x = self.dropout2(x)
            x = self.fc2(x)
            output = F.log_softmax(x, dim=1)
            return output

    torch.manual_seed(SEED)
    model = Net()
    model.train()
    lr = LR_FIXED if fixed else LR_BUGGY  # args.lr
    optimizer = optim.SGD(model.parameters(), lr=lr)

    def loss_fn(output, target):
        return F.nll_loss(output, target)

    x, y, xh = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_fn, "optimizer": optimizer}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)
    model = keras.Sequential([
        keras.Input(shape=(28, 28, 1)),
        layers.Conv2D(C1, kernel_size=(3, 3), activation="relu"),
        layers.Conv2D(C2, (3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.SpatialDropout2D(0.25),
        layers.Flatten(),
        layers.Dense(128, activation="relu"),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ])
    lr = LR_FIXED if fixed else LR_BUGGY
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=lr))
    x, y, xh = _data()
    x, xh = x.transpose(0, 2, 3, 1), xh.transpose(0, 2, 3, 1)  # channels-last
    batches = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xh}


buggy, fixed = versions(_torch, _keras)
