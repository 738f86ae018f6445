"""L1aoXingyu/pytorch-beginner (formerly SherlockLiao/pytorch-beginner, a PyTorch beginner tutorial), the MNIST LSTM
classifier ``04-Recurrent Neural Network/recurrent_network.py`` as its author ran it in pytorch/pytorch issue #1538
"different result on LSTM whether using batch_first" (2017-05-11, the day the file was committed): ``Rnn(28, 128, 2,
10)`` = ``nn.LSTM(in_dim, hidden_dim, n_layer)`` + ``nn.Linear(hidden_dim, n_class)``, forward ``out, _ =
self.lstm(x); out = out[:, -1, :]; out = self.classifier(out)``, ``nn.CrossEntropyLoss()``, ``optim.Adam(
model.parameters(), lr=1e-2)``, batch_size 100, MNIST with ``ToTensor()`` only, each batch fed as ``img.view(b, w, h)``
(the 28 image rows as 28 time steps of 28 pixels), 20 epochs.

The fault (architecture wiring): the images arrive batch-major, (batch, rows, pixels), but the LSTM was built with
``batch_first=True)`` commented out, so it reads them as (time, batch, features): the 100 SAMPLES become 100 time
steps and the 28 ROWS become 28 independent sequences. ``out[:, -1, :]`` then takes, for every "time step" b, the
state of the last row-sequence: the logits of sample b are a function of row 27 (the bottom row) of samples 0..b
of the batch and of nothing else. Each sample's prediction mixes in the samples before it, and the 27 rows that hold
the digit never reach the classifier; MNIST's bottom row is blank, so the network gets no image signal at all and
can only learn which class to guess at each position of the batch. The issue reports the two settings giving
different results (the sibling report yunjey/pytorch-tutorial #89 on the same change: accuracy ~11 %).

Source: github.com/pytorch/pytorch issue #1538 (author SherlockLiao; the program quoted there is the file at
L1aoXingyu/pytorch-beginner 2ad066b184be64607e81cb8f91272b2a941d0b5f "update rnn" with the ``batch_first=True)``
argument commented out). The fix is the file as committed, ``self.lstm = nn.LSTM(in_dim, hidden_dim, n_layer,
batch_first=True)``, which makes the LSTM run over the 28 rows of each image (the later commit 12e46ec only swaps
``img.view(b, w, h)`` for the equivalent ``img.squeeze(1)``). I could read only the first part of the issue thread
(the program), not the replies; the fix is taken from the repository's own file, and the diagnosis is mine.
Fault label: batch_mixing|no_input_signal (the LSTM recurs across the samples of the batch, and the only input it
passes to the classifier, the last image row, carries no signal).

Program lines kept: ``class Rnn`` (its ``__init__`` and ``forward``, the commented-out h0/c0 lines dropped, the two
``nn.LSTM`` lines of the buggy and the fixed file side by side), ``Rnn(28, 128, 2, 10)``, ``nn.CrossEntropyLoss()``,
``optim.Adam(model.parameters(), lr=learning_rate)`` with ``learning_rate = 1e-2`` (the issue's value; the repository
moved to 1e-3 in fecab98 ten days later), batch_size 100, torch's default init; the loop is the plain zero_grad /
forward / loss / backward / step. Nothing shrunk. Torch only: ``batch_first`` is a PyTorch RNN argument; a Keras
LSTM is always batch-major, so there is no faithful Keras twin.
Data stand-in (no MNIST download): ``_data.mnist_like`` (scikit-learn's 8x8 digits blown up 3x3 and padded to 28x28,
uint8), ToTensor's /255, shaped (n, 28, 28) as ``img.view(b, w, h)`` leaves them. As in MNIST the digit sits in the
middle and the bottom row is blank (row 27 is 0 in every stand-in image). ``batches``: the first 1500 digits in 15
batches of 100; ``batch``: the first; ``inputs``: 256 held-out digits (1500..1755).

Measured (my own plain loop, /tmp/s57/p/b98d/measure.py on the module's builds: 300 Adam steps = 20 passes over the
15 batches in order, torch seed 0, OMP_NUM_THREADS=1):
  training loss, means of 30-step blocks:
    buggy 2.304 2.303 2.310 2.311 2.303 2.300 2.297 2.294 2.291 2.288 (stays at ln 10 = 2.303);
    fixed 1.747 1.074 0.636 0.489 0.341 0.212 0.203 0.165 0.100 0.065.
  after 300 steps: training loss / accuracy buggy 2.284 / 0.119, fixed 0.027 / 0.994; held-out (100 digits) loss /
    accuracy buggy 2.360 / 0.05 (59 of 100 predicted '3', 31 '7'), fixed 0.175 / 0.93 (every class predicted 8-12
    times). The buggy logits on zeroed images equal those on the real ones (loss 2.360 both: no input signal);
    the fixed model's loss on zeroed images is 3.92.
  one batch repeated (/tmp/s57/p/b98d/measure_one.py): loss at steps 1 / 10 / 50 / 100 / 200 / 400 buggy 2.305 /
    2.288 / 2.280 / 2.227 / 2.029 / 2.150 (accuracy 0.20 on it after 400: it memorises a little by batch position
    only), fixed 2.305 / 1.708 / 0.017 / 0.001 / 0.000 / 0.000 (accuracy 1.0).
  batch dependence: permuting the 100 samples of a batch changes the buggy logits of a sample by up to 9.1 (after
    400 one-batch steps; 3.8 after 100), the fixed ones by 0.0. Replacing sample 50 with another digit moved no
    other sample's logits in either version (the swapped-in row 27 is blank too): in the buggy model a sample's
    output depends on its POSITION in the batch, not on the other samples' pixels, on this stand-in as on MNIST.
  Time per step (batch 100, one thread): ~75 ms both. Build: first ~3.5-5 s (imports, data), later <0.01 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "batch_mixing|no_input_signal"
SOURCE = ("github:pytorch/pytorch issue #1538 'different result on LSTM whether using batch_first' (the program of "
          "github:L1aoXingyu/pytorch-beginner, formerly SherlockLiao/pytorch-beginner, 04-Recurrent Neural Network/"
          "recurrent_network.py@2ad066b184be64607e81cb8f91272b2a941d0b5f with 'batch_first=True)' commented out; "
          "the file as committed, with batch_first=True, is the fix)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("batch_independence", {}),
          ("input_independent_baseline", {}), ("init_loss", {"num_classes": 10})]

BATCH_SIZE = 100  # batch_size = 100
LR = 1e-2  # learning_rate = 1e-2 (the version; the repository lowered it to 1e-3 ten days later)
N_TRAIN = 1500
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """MNIST-like digits after ToTensor (/255, no Normalize), as the loop's img.view(b, w, h): (n, 28, 28) float32."""
    from tests.real_programs._data import mnist_like

    x0, y0 = mnist_like(1797)
    x = (x0.astype("float32") / 255.0).reshape(-1, 28, 28)  # ToTensor(); (b, 1, h, w).view(b, w, h)
    return x[:N_TRAIN], y0[:N_TRAIN], x[N_TRAIN:N_TRAIN + N_INPUTS], y0[N_TRAIN:N_TRAIN + N_INPUTS]


def _build(batch_first: bool) -> dict[str, Any]:
    import torch
    from torch import nn, optim

    class Rnn(nn.Module):
        def __init__(self, in_dim, hidden_dim, n_layer, n_class):
            super(Rnn, self).__init__()
            self.n_layer = n_layer
            self.hidden_dim = hidden_dim
            if batch_first:  # the fix: the repository's file (2ad066b) as committed
                self.lstm = nn.LSTM(in_dim, hidden_dim, n_layer,
                                    batch_first=True)
            else:  # the program
                self.lstm = nn.LSTM(in_dim, hidden_dim, n_layer)
                # batch_first=True)
            self.classifier = nn.Linear(hidden_dim, n_class)

        def forward(self, x):
            out, _ = self.lstm(x)
            out = out[:, -1, :]
            out = self.classifier(out)
            return out

    torch.manual_seed(SEED)
    model = Rnn(28, 128, 2, 10)  # 28x28 images
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.Adam(model.parameters(), lr=LR)

    x, y, xh, _ = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": criterion, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(batch_first=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(batch_first=True)
