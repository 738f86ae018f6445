"""Hands-On Machine Learning (2nd edition), chapter 15 notebook ``15_processing_sequences_using_rnns_and_cnns.ipynb``
(ageron/handson-ml2), section "Creating a Custom RNN Class": a hand-written recurrent layer ``MyRNN(cell,
return_sequences)`` that loops ``for step in tf.range(n_steps): outputs, states = self.cell(inputs[:, step],
states)`` inside ``@tf.function`` and writes each step's output to a ``tf.TensorArray``, wrapped around the
notebook's layer-normalised cell ``LNSimpleRNNCell(20)`` (``SimpleRNNCell(units, activation=None)`` ->
``LayerNormalization()`` -> tanh, with its own ``get_initial_state`` of zeros ``[tf.shape(inputs)[0], units]``).
The model is ``Sequential([MyRNN(LNSimpleRNNCell(20), return_sequences=True, input_shape=[None, 1]),
MyRNN(LNSimpleRNNCell(20), return_sequences=True), TimeDistributed(Dense(10))])`` compiled with ``loss="mse"``
and ``optimizer="adam"``, fitted on the notebook's synthetic series (``generate_time_series``: two sines of
random frequency and phase plus uniform noise, 50 input steps) to forecast the next 10 values at every time step
(``Y[..., step_ahead - 1] = series[..., step_ahead:step_ahead + n_steps, 0]``, shape (N, 50, 10)).
The fault: with ``return_sequences=True`` the layer returns ``sequences.stack()``, which is time-major
(n_steps, batch, units), while the next layer reads batch-major (batch, n_steps, features). So the second
``MyRNN`` takes the 50 time steps as its batch (its cell's initial state is ``[50, 20]``) and runs its recurrence
*over the samples of the mini-batch*: at each time step the hidden state is carried from sample 0 to sample 1 to
sample 2 ... and its own ``stack()`` swaps the two axes back, so the output has the expected (batch, 50, 10)
shape and nothing raises. Each sample's forecast therefore depends on the samples before it in the batch
(cross-sample leakage, predictions change with batch order and composition), and the second layer's
recurrence never sees the past of its own series. The loss still goes down; the author's reply to the issue:
"the MyRNN class actually contained no less than 4 errors (!!!), I'm surprised it produced no exception ... I
just ran the model, saw that it didn't throw any exception and the loss was going down".

Source: github.com/ageron/handson-ml2 issue #457 ("[BUG] [Chapter 15] Wrong dimension for returned sequence in
MyRNN class"), notebook at a2ce4ec^ (6ecaaa91; the cell's stored output: final loss 0.0282,
val_last_time_step_mse 0.0150 after 20 epochs), fixed in a2ce4ecc4b8aeb8e5bac33838dcfe17f2cc37159 ("Fix MyRNN
shape issues, fixes #457", 2021-08-19: ``return tf.transpose(sequences.stack(), [1, 0, 2])``; the same cell
afterwards 0.0252 / 0.0121). The
other three errors the fix lists (fallback initial state of shape ``[state_size]``, initial ``outputs`` of
shape ``[n_steps, output_size]``, ``sequences`` undefined when ``return_sequences=False``) are not reached by
this model: ``LNSimpleRNNCell`` has its own ``get_initial_state`` and both layers return sequences, and the
initial ``outputs`` is overwritten at the first step; both versions here carry the fixed forms of those lines.
Program lines kept: ``generate_time_series`` and the 10-step-ahead target construction, ``LNSimpleRNNCell``,
``MyRNN`` (buggy/fixed ``return``), the model, ``loss="mse"``, ``optimizer="adam"`` (lr 1e-3, eps 1e-7) and
Keras's default batch size 32. Nothing shrunk but the number of series (256 instead of 7,000 training series).
Ported minimally (Keras 3.15 on TensorFlow): ``LNSimpleRNNCell``/``MyRNN`` get a ``build`` that builds their
sublayers up front (Keras 3 must not create variables inside the ``tf.range`` loop), the model gets an explicit
``keras.Input(shape=(None, 1))`` instead of ``input_shape=``, and ``TimeDistributed(Dense(10))`` is written as
``Dense(10)``, which Keras applies to the last axis of a 3-D input, the same computation: Keras 3.15's
``TimeDistributed`` maps over ``arange(ops.shape(inputs)[0])`` taken *before* its batch/time transpose whenever
the time axis is not static (as after a ``TensorArray.stack()``), i.e. over the batch size instead of the number of
time steps, and returns (32, 32, 10) for a (32, 50, 20) input inside ``fit`` in both versions.
Torch twin: the same cell written out (``Linear(in, 20)`` with glorot-uniform weight and zero bias as the
``SimpleRNNCell`` kernel, ``Linear(20, 20, bias=False)`` with an orthogonal weight as its recurrent kernel,
``LayerNorm(20, eps=1e-3)`` as Keras's ``LayerNormalization``, tanh) and the same ``MyRNN`` loop over
``inputs[:, step]``, returning ``torch.stack(sequences)`` (buggy, time-major) or
``torch.stack(sequences).transpose(0, 1)`` (fixed), a glorot-initialised ``Linear(20, 10)`` on the last axis
for ``TimeDistributed(Dense(10))``, ``nn.MSELoss()`` and ``Adam(lr=1e-3, eps=1e-7)``.
Data: the notebook's own generator (no download), ``np.random.seed(42)``, 256 series of 60 steps, float32
in about [-0.75, 0.75]; x (256, 50, 1), y (256, 50, 10); 8 batches of 32 in order.
Fault label: batch_mixing (the recurrence of the second layer runs across the samples of the batch).
Fix (a2ce4ec): ``return tf.transpose(sequences.stack(), [1, 0, 2])`` (torch: ``.transpose(0, 1)``).
Symptom in a short loop (one CPU thread; torch: zero_grad/backward/step; Keras: ``train_on_batch``): at
initialisation, replacing sample 0 of the first batch of 32 by another series changes the buggy model's
predictions for all 31 other samples (max abs change torch 3.43, Keras 2.71, against a mean |prediction| of
~0.6), replacing sample 31 changes none of them; the fixed model's other predictions do not move (0.0 both
times) in either framework. Training only shows it as a somewhat higher loss, as in the notebook: 400 steps
cycling over the 8 batches, first-pass mean / last-pass mean MSE torch buggy 0.741 / 0.0607, fixed 0.543 /
0.0556; Keras buggy 0.704 / 0.0643, fixed 0.676 / 0.0532; one batch of 32 for 300 steps torch buggy 0.824 ->
0.0629 (0.458 after 20 steps), fixed 0.680 -> 0.0563 (0.222); Keras buggy 0.727 -> 0.0702 (0.491), fixed
0.755 -> 0.0512 (0.417). A step takes 25-55 ms in torch and 55-80 ms in Keras on this (busy) machine with one
thread: the 50-step Python/``tf.range`` loop is the program's; sizes were kept.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "batch_mixing"
SOURCE = ("github:ageron/handson-ml2 issue #457 (15_processing_sequences_using_rnns_and_cnns.ipynb MyRNN "
          "@a2ce4ec^, fix a2ce4ecc 'Fix MyRNN shape issues')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("batch_independence", {}),
          ("not_constant_predictions", {})]

n_steps = 50  # program lines
units = 20  # LNSimpleRNNCell(20)
batch_size = 32  # Keras's default in model.fit
n_series = 256


def generate_time_series(batch_size, n_steps):  # program lines
    freq1, freq2, offsets1, offsets2 = np.random.rand(4, batch_size, 1)
    time = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((time - offsets1) * (freq1 * 10 + 10))  # wave 1
    series += 0.2 * np.sin((time - offsets2) * (freq2 * 20 + 20))  # + wave 2
    series += 0.1 * (np.random.rand(batch_size, n_steps) - 0.5)  # + noise
    return series[..., np.newaxis].astype(np.float32)


def _data() -> tuple[np.ndarray, np.ndarray]:
    np.random.seed(42)
    series = generate_time_series(n_series, n_steps + 10)
    x = series[:, :n_steps]
    y = np.empty((n_series, n_steps, 10))
    for step_ahead in range(1, 10 + 1):
        y[..., step_ahead - 1] = series[..., step_ahead:step_ahead + n_steps, 0]
    return x, y.astype(np.float32)


def _build(framework: str, transpose: bool) -> dict[str, Any]:
    x, y = _data()
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n_series, batch_size)]
    if framework == "torch":
        import torch
        from torch import nn

        torch.manual_seed(42)

        class LNSimpleRNNCell(nn.Module):
            def __init__(self, input_size, units):
                super().__init__()
                self.state_size = units
                self.output_size = units
                # SimpleRNNCell(units, activation=None): inputs @ kernel + bias + prev @ recurrent_kernel
                self.kernel = nn.Linear(input_size, units)
                self.recurrent_kernel = nn.Linear(units, units, bias=False)
                nn.init.xavier_uniform_(self.kernel.weight)
                nn.init.zeros_(self.kernel.bias)
                nn.init.orthogonal_(self.recurrent_kernel.weight)
                self.layer_norm = nn.LayerNorm(units, eps=1e-3)  # Keras LayerNormalization()
                self.activation = torch.tanh

            def get_initial_state(self, inputs):
                return [torch.zeros(inputs.shape[0], self.state_size, dtype=inputs.dtype)]

            def forward(self, inputs, states):
                outputs = self.kernel(inputs) + self.recurrent_kernel(states[0])
                norm_outputs = self.activation(self.layer_norm(outputs))
                return norm_outputs, [norm_outputs]

        class MyRNN(nn.Module):
            def __init__(self, cell, return_sequences=False):
                super().__init__()
                self.cell = cell
                self.return_sequences = return_sequences

            def forward(self, inputs):
                states = self.cell.get_initial_state(inputs)
                batch_size, n_steps = inputs.shape[0], inputs.shape[1]
                sequences = []
                outputs = torch.zeros(batch_size, self.cell.output_size, dtype=inputs.dtype)
                for step in range(n_steps):
                    outputs, states = self.cell(inputs[:, step], states)
                    if self.return_sequences:
                        sequences.append(outputs)
                if self.return_sequences:
                    if transpose:  # fix: tf.transpose(sequences.stack(), [1, 0, 2])
                        return torch.stack(sequences).transpose(0, 1)
                    return torch.stack(sequences)  # buggy: (n_steps, batch, units)
                return outputs

        head = nn.Linear(units, 10)  # TimeDistributed(Dense(10))
        nn.init.xavier_uniform_(head.weight)
        nn.init.zeros_(head.bias)
        model = nn.Sequential(MyRNN(LNSimpleRNNCell(1, units), return_sequences=True),
                              MyRNN(LNSimpleRNNCell(units, units), return_sequences=True),
                              head)
        tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
        return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.tensor(x[:64]),
                "loss_fn": nn.MSELoss(),
                "optimizer": lambda p: torch.optim.Adam(p, lr=1e-3, eps=1e-7)}

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(42)

    class LNSimpleRNNCell(keras.layers.Layer):  # program lines
        def __init__(self, units, activation="tanh", **kwargs):
            super().__init__(**kwargs)
            self.state_size = units
            self.output_size = units
            self.simple_rnn_cell = keras.layers.SimpleRNNCell(units, activation=None)
            self.layer_norm = keras.layers.LayerNormalization()
            self.activation = keras.activations.get(activation)

        def build(self, input_shape):  # port: build the sublayers outside the tf.range loop
            self.simple_rnn_cell.build(input_shape)
            self.layer_norm.build((input_shape[0], self.state_size))

        def get_initial_state(self, inputs=None, batch_size=None, dtype=None):
            if inputs is not None:
                batch_size = tf.shape(inputs)[0]
                dtype = inputs.dtype
            return [tf.zeros([batch_size, self.state_size], dtype=dtype)]

        def call(self, inputs, states):
            outputs, new_states = self.simple_rnn_cell(inputs, states)
            norm_outputs = self.activation(self.layer_norm(outputs))
            return norm_outputs, [norm_outputs]

    class MyRNN(keras.layers.Layer):  # program lines (a2ce4ec^ / a2ce4ec)
        def __init__(self, cell, return_sequences=False, **kwargs):
            super().__init__(**kwargs)
            self.cell = cell
            self.return_sequences = return_sequences
            self.get_initial_state = getattr(self.cell, "get_initial_state", self.fallback_initial_state)

        def build(self, input_shape):  # port: build the cell up front
            self.cell.build((input_shape[0], input_shape[-1]))

        def fallback_initial_state(self, inputs):
            batch_size = tf.shape(inputs)[0]
            return [tf.zeros([batch_size, self.cell.state_size], dtype=inputs.dtype)]

        @tf.function
        def call(self, inputs):
            states = self.get_initial_state(inputs)
            shape = tf.shape(inputs)
            batch_size = shape[0]
            n_steps = shape[1]
            sequences = tf.TensorArray(inputs.dtype, size=(n_steps if self.return_sequences else 0))
            outputs = tf.zeros(shape=[batch_size, self.cell.output_size], dtype=inputs.dtype)
            for step in tf.range(n_steps):
                outputs, states = self.cell(inputs[:, step], states)
                if self.return_sequences:
                    sequences = sequences.write(step, outputs)
            if self.return_sequences:
                if transpose:  # fix (a2ce4ec)
                    return tf.transpose(sequences.stack(), [1, 0, 2])
                return sequences.stack()  # buggy: time-major (n_steps, batch, units)
            return outputs

        def compute_output_shape(self, input_shape):
            return (input_shape[0], input_shape[1], self.cell.output_size)

    model = keras.models.Sequential([
        keras.Input(shape=(None, 1)),
        MyRNN(LNSimpleRNNCell(units), return_sequences=True),
        MyRNN(LNSimpleRNNCell(units), return_sequences=True),
        keras.layers.Dense(10),  # TimeDistributed(Dense(10)); see the docstring
    ])
    model.compile(loss="mse", optimizer="adam")
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[:64]}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, transpose=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, transpose=True)
