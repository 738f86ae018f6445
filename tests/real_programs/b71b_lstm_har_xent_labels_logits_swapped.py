"""guillaume-chevalier/LSTM-Human-Activity-Recognition ``lstm.py`` (Zhao Yu's script version of the LSTM.ipynb
notebook, edited by the author): a two-layer LSTM classifies UCI HAR smartphone windows (128 time steps at 50 Hz of
9 inertial signals: body_acc x/y/z, body_gyro x/y/z, total_acc x/y/z) into 6 activities (WALKING,
WALKING_UPSTAIRS, WALKING_DOWNSTAIRS, SITTING, STANDING, LAYING). ``LSTM_Network``: the (batch, 128, 9) input is
transposed to time-major, projected by a linear layer ``W['hidden']`` (9 x 32) + ``biases['hidden']`` at every
step, run through ``MultiRNNCell([BasicLSTMCell(32, forget_bias=1.0)] * 2)`` and the last step's output goes
through ``W['output']`` (32 x 6) + ``biases['output']`` (logits); the four ``W`` / ``biases`` are
``tf.random_normal`` (std 1). Labels are ``one_hot`` rows; ``cost = reduce_mean(softmax_cross_entropy_with_logits
(...)) + l2`` with ``l2 = 0.0015 * sum(tf.nn.l2_loss(v) for v in trainable_variables())``; ``AdamOptimizer(0.0025)``,
``batch_size = 1500``, 300 epochs over the 7352 training windows in order.

The fault (the loss's arguments swapped): the script called ``tf.nn.softmax_cross_entropy_with_logits(pred_Y, Y)``,
positional, in the TensorFlow r0.11 order (logits, labels). A user running it on TensorFlow r1.0, where the
function takes ``labels=`` / ``logits=`` by name, wrote ``softmax_cross_entropy_with_logits(labels=pred_Y,
logits=Y)``: the network's logits became the "labels" and the one-hot targets the "logits". The loss is then
``-sum_k pred_k * log_softmax(Y)_k`` = 1.05 * pred_true + 2.05 * (sum of the other logits): linear in the logits,
unbounded below, so training drives every logit to minus infinity, the loss goes negative without end and the
predictions collapse onto one class. Issue #8 ("Different Performance Using the Current Version of lstm.py with
TensorFlow r1.0": test accuracy 0.1805 every epoch, loss falling through 0 to negative values); the author: "The
loss should not be negative for the cross entropy function ... The bug sits where you redefined the loss:
... softmax_cross_entropy_with_logits(labels=pred_Y,logits= Y) ... You inverted things: logits are predictions";
the user: "Yes, modified and works! Thanks!". The repository's own TF 1.0 port (53132c8, "Updated to Python3 and
TensorFlow 1.0.0") writes ``softmax_cross_entropy_with_logits(labels=Y, logits=pred_Y)``.

Source: github.com/guillaume-chevalier/LSTM-Human-Activity-Recognition ``lstm.py`` @
c889e1830eb18ddc2677052392e81981134b838c (the "current version of lstm.py" of the issue), issue #8 (the user's
swapped call and the author's diagnosis), fix 53132c8708990bef2ee46c05d7d5054718eea73e (``labels=Y,
logits=pred_Y``).
Fault label: loss_mismatch (the cross-entropy reads the logits as targets and the one-hot targets as logits).

Program lines kept: ``Config`` (n_hidden 32, n_classes 6, learning_rate 0.0025, lambda_loss_amount 0.0015),
``LSTM_Network`` (time-major transpose, the per-step linear projection with std-1 normal ``W['hidden']`` /
``biases['hidden']``, two stacked 32-unit LSTMs, last step's output, std-1 normal ``W['output']`` /
``biases['output']``), ``one_hot`` targets, the cost (cross-entropy batch mean plus 0.0015 * sum of l2_loss =
0.0015 * sum(v^2) / 2 over every trainable variable, LSTM kernels and biases included), Adam(0.0025), batches taken
in order from the training set, the buggy call (labels=pred_Y, logits=Y) and the fixed one (labels=Y, logits=pred_Y).
Ported / shrunk: batches of 100 instead of 1500 (a 1500-window step takes ~0.85 s in torch on one CPU thread; 100
windows ~0.05 s torch, ~0.10 s Keras); the fault is per-sample and does not depend on the batch size. TF1 graph code
(``tf.split`` / ``tf.nn.rnn`` / ``MultiRNNCell``) becomes a Keras / torch two-layer LSTM. ``BasicLSTMCell`` weights
are TF1's default glorot-uniform over the concatenated [input, state] x 4*units matrix (limit sqrt(6 / (64 + 128)))
with zero biases and a constant +1.0 on the forget gate; the ports use the same uniform range for the input and
recurrent kernels and start the forget-gate bias at 1.0 (Keras ``unit_forget_bias``; torch's ``bias_ih`` forget
chunk), a trainable bias instead of a constant. Torch twin: ``nn.LSTM(32, 32, num_layers=2)`` time-major, the loss
``nn.CrossEntropyLoss()(pred, y)`` with the one-hot float targets (fixed) / ``nn.CrossEntropyLoss()(y, pred)``
(buggy: the same -sum(pred * log_softmax(y)), torch's form of the slip, since it accepts soft targets), plus the
L2 term over ``model.parameters()``. Keras twin: ``Dense(32)`` on the (batch, 128, 9) input (applied per step),
``LSTM(32, return_sequences=True)``, ``LSTM(32)``, ``Dense(6)``, the L2 term as ``L2(0.0015 / 2)`` regularizers on
every kernel, recurrent kernel and bias, compiled with ``categorical_crossentropy(y, pred, from_logits=True)``
(fixed) / ``categorical_crossentropy(pred, y, from_logits=True)`` (buggy; on TensorFlow this is
``softmax_cross_entropy_with_logits(labels=pred, logits=y)``, the issue's call) and Adam(0.0025).
Data stand-in (no download of the UCI HAR zip): seeded synthetic windows of the same shape (n, 128, 9) float32 and
range (the script prints the test set's mean / std, 0.10 / 0.40 on the real data; the stand-in 0.12 / 0.36):
walking classes a ~2 Hz gait (class-dependent cadence and amplitude, random phase) in body_acc and body_gyro,
static postures (sitting / standing / laying) no motion but a different gravity direction; total_acc = body_acc +
gravity; sensor noise. Classes drawn uniformly. ``batches``: the first 4 training batches of 100 (in order, as the
script feeds them); ``batch``: the first; ``inputs``: 200 held-out windows (a separate seed, like X_test).

Measured (my own plain loops, /tmp/s48/h71_b/measure.py and mb.py, OMP_NUM_THREADS=1, the module's builds; 150
steps over 1500 stand-in training windows in order, batches of 100, evaluated on 600 held-out windows):
  torch buggy: loss 2.90 (step 1) -> -77.5 (15) -> -163.0 (60) -> -255.5 (150), still falling; held-out accuracy
    0.162 at step 1, then 0.167 from step 15 on with all 600 windows predicted WALKING; max |logit| 2.5 -> 34.4.
  torch fixed: loss 2.63 -> 1.19 (15) -> 0.57 (30) -> 0.45 (150); held-out accuracy 0.25 -> 0.81 -> 0.99 -> 0.995,
    all six classes predicted (95..109 each).
  Keras buggy: loss 4.99 -> -58.2 (15) -> -143.5 (60) -> -239.0 (150); accuracy 0.167 from step 15 on, every window
    one class; max |logit| 3.2 -> 28.0. Keras fixed: 2.65 -> 0.81 (15) -> 0.50 (150); accuracy 0.45 -> 0.94 -> 0.99.
  The module's first batch repeated 50 steps: torch buggy 2.98 -> -56.4 (10) -> -151.9, train accuracy 0.17 (one
    class for all 100); fixed 2.67 -> 1.40 -> 0.49, accuracy 1.00. Keras buggy 4.97 -> -38.6 -> -133.0, 0.17 (one
    class); fixed 2.51 -> 1.02 -> 0.63, 0.98. Initial loss (with the L2 term, ~0.5 of it): torch buggy 2.98 / fixed
    2.67, Keras 4.97 / 2.51 (ln 6 = 1.79; the std-1 output weights give large initial logits in both versions).
  So the issue's symptom reproduces in both frameworks: a negative, unbounded loss and constant one-class
  predictions (accuracy 1/6; the issue's 0.1805 is one class's share of the real test set: STANDING, 532 of 2947). The
  stand-in is easier than the real data (the fixed model reaches 0.99; the repository's notebook reports 0.908
  on the real test set).
  Time per step (one thread, batch 100): torch ~0.05 s, Keras ``train_on_batch`` ~0.10 s (batch 1500: torch
  0.85 s). Builds (first, with imports and data): torch 3.0 s, Keras 4.8 s; later builds < 0.1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "loss_mismatch"
SOURCE = ("github:guillaume-chevalier/LSTM-Human-Activity-Recognition issue #8 (lstm.py@"
          "c889e1830eb18ddc2677052392e81981134b838c run on TensorFlow r1.0 as "
          "'softmax_cross_entropy_with_logits(labels=pred_Y, logits=Y)'; fix "
          "53132c8708990bef2ee46c05d7d5054718eea73e 'labels=Y, logits=pred_Y')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("init_loss", {"num_classes": 6}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("not_constant_predictions", {})]

LABELS = ("WALKING", "WALKING_UPSTAIRS", "WALKING_DOWNSTAIRS", "SITTING", "STANDING", "LAYING")
N_STEPS = 128  # time steps per window (2.56 s at 50 Hz)
N_INPUTS = 9  # body_acc xyz, body_gyro xyz, total_acc xyz
N_HIDDEN = 32
N_CLASSES = 6
LEARNING_RATE = 0.0025
LAMBDA_LOSS_AMOUNT = 0.0015
LSTM_LIMIT = (6.0 / (2 * N_HIDDEN + 4 * N_HIDDEN)) ** 0.5  # glorot-uniform of BasicLSTMCell's [in+h, 4h] kernel
# port: batches of 100 (program: batch_size = 1500)
BATCH_SIZE = 100
N_BATCHES = 4
N_HELD_OUT = 200
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def _har(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """UCI-HAR-like windows (n, 128, 9) float32 and activity ids 0..5 (load_y's 1..6 minus 1)."""
    r = np.random.default_rng(seed)
    y = r.integers(0, N_CLASSES, n)
    t = np.arange(N_STEPS) / 50.0
    x = np.empty((n, N_STEPS, N_INPUTS), np.float32)
    gravity = {3: (0.85, 0.2, 0.45), 4: (0.98, -0.1, 0.1), 5: (0.1, 0.6, 0.78)}  # sitting, standing, laying
    for i, c in enumerate(y):
        if c < 3:  # walking, upstairs, downstairs: a gait of class-dependent cadence and amplitude
            f = r.uniform(1.7, 2.1) * (0.9, 0.8, 1.1)[c]
            amp = (0.25, 0.2, 0.35)[c] * r.uniform(0.8, 1.2)
            ph = r.uniform(0, 2 * np.pi)
            body = np.stack([amp * (1.0, 0.6, 0.8)[k] * np.sin(2 * np.pi * f * t + ph + k)
                             + 0.3 * amp * np.sin(4 * np.pi * f * t + 2 * ph + k) for k in range(3)], 1)
            gyro = np.stack([(0.5, 0.4, 0.6)[c] * r.uniform(0.8, 1.2) * np.sin(2 * np.pi * f * t + ph + 1.3 * k)
                             for k in range(3)], 1)
            g = np.array((1.0, -0.15, 0.05)) + (0.0, 0.1 * (c == 1) - 0.1 * (c == 2), 0.15 * (c == 1) - 0.15 * (c == 2))
            g = g + r.normal(0, 0.05, 3)
        else:  # static postures: no motion, a different gravity direction
            body, gyro = np.zeros((N_STEPS, 3)), np.zeros((N_STEPS, 3))
            g = np.array(gravity[int(c)]) + r.normal(0, 0.08, 3)
        body = body + r.normal(0, 0.02, (N_STEPS, 3))
        x[i, :, 0:3] = body
        x[i, :, 3:6] = gyro + r.normal(0, 0.03, (N_STEPS, 3))
        x[i, :, 6:9] = body + g
    return x, y.astype("int64")


def _one_hot(y_: np.ndarray) -> np.ndarray:
    """lstm.py one_hot: np.eye(max + 1)[labels] (floats)."""
    n_values = int(np.max(y_)) + 1
    return np.eye(n_values, dtype="float32")[np.array(y_, dtype=np.int32)]


@functools.lru_cache(maxsize=1)
def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    x_train, y_train = _har(BATCH_SIZE * N_BATCHES, SEED + 1)
    x_test, _ = _har(N_HELD_OUT, SEED + 2)
    y_train = _one_hot(y_train)
    batches = [(x_train[s:s + BATCH_SIZE], y_train[s:s + BATCH_SIZE])
               for s in range(0, len(x_train), BATCH_SIZE)]  # in order, as the script's loop
    return batches, x_test


def _out(model: Any, batches: list, inputs: Any) -> dict[str, Any]:
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)

    class LSTMNetwork(nn.Module):  # lstm.py LSTM_Network + Config.W / Config.biases
        def __init__(self) -> None:
            super().__init__()
            self.w_hidden = nn.Parameter(torch.randn(N_INPUTS, N_HIDDEN))  # tf.random_normal
            self.b_hidden = nn.Parameter(torch.randn(N_HIDDEN))
            self.lstm = nn.LSTM(N_HIDDEN, N_HIDDEN, num_layers=2)  # MultiRNNCell([BasicLSTMCell(32)] * 2)
            with torch.no_grad():
                for name, p in self.lstm.named_parameters():
                    if "weight" in name:
                        p.uniform_(-LSTM_LIMIT, LSTM_LIMIT)
                    else:
                        p.zero_()
                        if "bias_ih" in name:
                            p[N_HIDDEN:2 * N_HIDDEN] = 1.0  # forget_bias=1.0 (torch gate order i, f, g, o)
            self.w_output = nn.Parameter(torch.randn(N_HIDDEN, N_CLASSES))
            self.b_output = nn.Parameter(torch.randn(N_CLASSES))

        def forward(self, feature_mat: torch.Tensor) -> torch.Tensor:
            feature_mat = feature_mat.transpose(0, 1)  # [time_steps, batch_size, n_inputs]
            feature_mat = feature_mat @ self.w_hidden + self.b_hidden  # linear, per step
            outputs, _ = self.lstm(feature_mat)
            return outputs[-1] @ self.w_output + self.b_output  # last step, linear

    model = LSTMNetwork()
    xent = nn.CrossEntropyLoss()  # softmax_cross_entropy_with_logits + reduce_mean (one-hot float targets)

    def loss_fn(pred_y: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        l2 = LAMBDA_LOSS_AMOUNT * sum((v ** 2).sum() / 2 for v in model.parameters())  # tf.nn.l2_loss
        if fixed:  # fix 53132c8: labels=Y, logits=pred_Y
            return xent(pred_y, y) + l2
        return xent(y, pred_y) + l2  # issue #8: labels=pred_Y, logits=Y

    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    batches, inputs = _data()
    batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]  # tensors, as a torch loop feeds
    out = _out(model, batches, torch.from_numpy(inputs))
    out.update(loss_fn=loss_fn, optimizer=optimizer)
    return out


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)
    reg = keras.regularizers.L2(LAMBDA_LOSS_AMOUNT / 2)  # 0.0015 * l2_loss = 0.0015 * sum(v^2) / 2
    normal = keras.initializers.RandomNormal(stddev=1.0)  # tf.random_normal
    glorot = keras.initializers.RandomUniform(-LSTM_LIMIT, LSTM_LIMIT)

    inp = keras.Input((N_STEPS, N_INPUTS))
    h = layers.Dense(N_HIDDEN, kernel_initializer=normal, bias_initializer=normal, kernel_regularizer=reg,
                     bias_regularizer=reg, name="hidden")(inp)  # W['hidden'] at every time step
    for return_sequences in (True, False):
        h = layers.LSTM(N_HIDDEN, return_sequences=return_sequences, kernel_initializer=glorot,
                        recurrent_initializer=glorot, unit_forget_bias=True, kernel_regularizer=reg,
                        recurrent_regularizer=reg, bias_regularizer=reg)(h)
    out = layers.Dense(N_CLASSES, kernel_initializer=normal, bias_initializer=normal, kernel_regularizer=reg,
                       bias_regularizer=reg, name="output")(h)
    model = keras.Model(inp, out, name="LSTM_Network")

    def cost(y, pred_y):
        if fixed:  # fix 53132c8: labels=Y, logits=pred_Y
            return keras.losses.categorical_crossentropy(y, pred_y, from_logits=True)
        return keras.losses.categorical_crossentropy(pred_y, y, from_logits=True)  # labels=pred_Y, logits=Y

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE), loss=cost)
    batches, inputs = _data()
    return _out(model, batches, inputs)


buggy, fixed = versions(_torch, _keras)
