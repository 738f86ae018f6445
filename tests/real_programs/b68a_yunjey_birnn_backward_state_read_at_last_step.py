"""yunjey/pytorch-tutorial, ``tutorials/02-intermediate/bidirectional_recurrent_neural_network/main.py``: a
many-to-one bidirectional LSTM classifier that reads each MNIST image as a sequence of 28 rows of 28 pixels
(``nn.LSTM(28, 128, 2, batch_first=True, bidirectional=True)`` -> ``nn.Linear(256, 10)``), zero initial states,
``nn.CrossEntropyLoss()``, ``Adam(lr=0.003)``, ``batch_size = 100``, pixels from ``transforms.ToTensor()`` (0..1).

The fault (a sequence model reading the wrong time step for one direction): ``forward`` classifies from
``out[:, -1, :]``, the output of the LAST time step for both directions. For the forward direction that is the
state after all 28 rows, but the backward direction starts at the last row, so its half of ``out[:, -1, :]`` has
seen one row only (row 27, nearly always blank in MNIST): half of the 256 features the head reads carry no
information about the image, and the backward LSTM's layers get their gradient through that one step only. The
many-to-one summary of a bidirectional RNN is the forward direction's last output joined with the backward
direction's FIRST output (equivalently ``h_n``). Issue #149 ("Bidirectional RNN ... the last hidden state") and
PR #174 ("Bidirection RNN issue", JiahaoYao: "concatenate the last hidden state of forward LSTM and first hidden
state of reverse LSTM"); the same fix was merged into the tutorial's C++ port, prabhuomkar/pytorch-cpp PR #13
("Fix forward pass of BiRNN ... according to a PR from the python tutorial").

Source: github.com/yunjey/pytorch-tutorial ``tutorials/02-intermediate/bidirectional_recurrent_neural_network/
main.py`` @0500d3df5a2a8080ccfccbc00aca0eacc21818db (last changed 78c6afe), issue #149, PR #174 (open upstream:
the fix is the PR's ``torch.cat((out[:, -1, :self.hidden_size], out[:, 0, self.hidden_size:]), dim=1)``).
Fault label: context_ignored (half of the summary the head reads comes from a state that read only the last
position), or other:birnn_backward_state_read_at_last_step.

Program lines kept: ``BiRNN`` as written (zero h0 / c0, the LSTM, the head, the buggy ``out[:, -1, :]``), the
hyper-parameters (sequence_length = input_size = 28, hidden_size (128 in the program, 32 here for speed),
num_layers = 2, num_classes = 10, batch_size = 100, learning_rate = 0.003),
``images.reshape(-1, 28, 28)``, CrossEntropyLoss and Adam.
Ported: no torchvision; ``.to(device)`` dropped (CPU). Keras twin: ``Bidirectional(LSTM(HIDDEN_SIZE,
return_sequences=True))`` x 2 then ``out[:, -1, :]`` (buggy) / the second layer with ``return_sequences=False``
(fixed: Keras' Bidirectional then joins the forward last output with the backward first one, the PR's fix), a
Dense(10) head on logits, ``SparseCategoricalCrossentropy(from_logits=True)``, Adam(0.003). Keras' LSTM init
(glorot / orthogonal, forget bias 1) differs from torch's U(+-1/sqrt(hidden)); kept as Keras' defaults.
Data stand-in (no MNIST download): ``_data.mnist_like`` (scikit-learn's 8x8 digits blown up to 28x28 uint8,
blank border rows like MNIST) divided by 255 as ToTensor does: float32 in [0, 1], (n, 28, 28), labels 0..9.
``batch``: the first 100 images; ``batches``: 6 batches of 100; ``inputs``: 200 further images.

Measured (my own plain loops, /tmp/s47/h68_a/measure.py, OMP_NUM_THREADS=1, cycling the module's 6 batches;
mean loss of the 6 steps before step k; train accuracy on the 600 training images afterwards):
  torch, hidden 32, 120 steps: buggy 2.304 -> k=30/60/90/120: 1.774 / 0.872 / 0.437 / 0.251, acc 0.950;
    fixed 2.301 -> 1.339 / 0.483 / 0.208 / 0.092, acc 0.987. ~72 ms/step.
  torch, hidden 128 (the program's width), buggy only: 0.851 / 0.130 / 0.215 / 0.043, acc 0.992, 378 ms/step.
  keras, hidden 32, 60 steps: buggy 2.252 -> k=30/60: 1.154 / 0.507, acc 0.892; fixed 2.234 -> 0.871 / 0.324,
    acc 0.945 (~170-250 ms/step with train_on_batch's first trace included).
  So the fault shows as slower learning, not a failure: the forward half still summarises the whole image, so
  the buggy model does learn; the fixed one reaches a given loss in roughly 2/3 of the steps. Uncertain: how big
  the gap is on real MNIST at the full width over 2 epochs (the tutorial reports ~97-98 % test accuracy either way).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "context_ignored|other:birnn_backward_state_read_at_last_step"
SOURCE = ("github:yunjey/pytorch-tutorial issue #149, PR #174 (tutorials/02-intermediate/"
          "bidirectional_recurrent_neural_network/main.py@0500d3df5a2a8080ccfccbc00aca0eacc21818db, "
          "'out = self.fc(out[:, -1, :])'; fix: cat(out[:, -1, :H], out[:, 0, H:]); same fix merged in "
          "prabhuomkar/pytorch-cpp PR #13)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {})]

SEQUENCE_LENGTH = 28
INPUT_SIZE = 28
HIDDEN_SIZE = 32  # the program: 128; shrunk for one-thread CPU speed (torch step 0.38 s -> 0.07 s)
NUM_LAYERS = 2
NUM_CLASSES = 10
BATCH_SIZE = 100
LEARNING_RATE = 0.003
N_BATCHES = 6
N_INPUTS = 200
SEED = 0


def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    from tests.real_programs._data import mnist_like

    n = BATCH_SIZE * N_BATCHES + N_INPUTS
    imgs, labels = mnist_like(n)
    x = (imgs.astype("float32") / 255.0).reshape(-1, SEQUENCE_LENGTH, INPUT_SIZE)  # ToTensor, then reshape
    r = np.random.RandomState(SEED)
    order = r.permutation(n)  # DataLoader(shuffle=True)
    x, y = x[order], labels[order]
    batches = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE])
               for i in range(0, BATCH_SIZE * N_BATCHES, BATCH_SIZE)]
    return batches, x[BATCH_SIZE * N_BATCHES:]


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    class BiRNN(nn.Module):
        def __init__(self, input_size, hidden_size, num_layers, num_classes):
            super().__init__()
            self.hidden_size = hidden_size
            self.num_layers = num_layers
            self.lstm = nn.LSTM(input_size, hidden_size, num_layers, batch_first=True, bidirectional=True)
            self.fc = nn.Linear(hidden_size * 2, num_classes)  # 2 for bidirection

        def forward(self, x):
            h0 = torch.zeros(self.num_layers * 2, x.size(0), self.hidden_size)
            c0 = torch.zeros(self.num_layers * 2, x.size(0), self.hidden_size)
            out, _ = self.lstm(x, (h0, c0))  # (batch_size, seq_length, hidden_size*2)
            if fixed:  # PR #174
                out = torch.cat((out[:, -1, :self.hidden_size], out[:, 0, self.hidden_size:]), dim=1)
                return self.fc(out)
            return self.fc(out[:, -1, :])

    torch.manual_seed(SEED)
    model = BiRNN(INPUT_SIZE, HIDDEN_SIZE, NUM_LAYERS, NUM_CLASSES)
    batches, inputs = _data()
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(inputs),
            "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)
    inp = keras.Input((SEQUENCE_LENGTH, INPUT_SIZE))
    h = layers.Bidirectional(layers.LSTM(HIDDEN_SIZE, return_sequences=True))(inp)
    if fixed:  # forward last output joined with backward first output (PR #174)
        h = layers.Bidirectional(layers.LSTM(HIDDEN_SIZE))(h)
    else:
        h = layers.Bidirectional(layers.LSTM(HIDDEN_SIZE, return_sequences=True))(h)
        h = layers.Lambda(lambda t: t[:, -1, :])(h)  # out[:, -1, :]
    model = keras.Model(inp, layers.Dense(NUM_CLASSES)(h), name="BiRNN")
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    batches, inputs = _data()
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs}


buggy, fixed = versions(_torch, _keras)
