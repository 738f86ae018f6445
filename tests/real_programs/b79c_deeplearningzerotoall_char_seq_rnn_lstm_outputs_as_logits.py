"""hunkim/DeepLearningZeroToAll (the code of Sung Kim's "Deep Learning Zero To All" lectures), Lab 12
``lab-12-2-char-seq-rnn.py``: a character-level LSTM that learns to continue the sentence ``" if you want you"``. The
script builds ``idx2char = list(set(sample))`` (10 characters), feeds the first 15 character ids (``x_data``) through
``tf.one_hot`` into ``tf.contrib.rnn.BasicLSTMCell(num_units=rnn_hidden_size)`` unrolled by ``tf.nn.dynamic_rnn``
(``rnn_hidden_size = num_classes = 10``, zero initial state, ``batch_size = 1``), scores the 15 next characters
(``y_data``) with ``tf.contrib.seq2seq.sequence_loss`` (softmax cross-entropy averaged over the positions), and trains
with ``tf.train.AdamOptimizer(learning_rate=0.1)``, one step per iteration on the one sentence.

The fault (the RNN's hidden output used as the logits): there is no output layer. ``sequence_loss(logits=outputs,
...)`` and ``prediction = tf.argmax(outputs, axis=2)`` read the LSTM's outputs directly, and an LSTM's output is
``h = o * tanh(c)``, confined to (-1, 1). Fed to a softmax over 10 characters, logits in (-1, 1) can give the right
character at most e / (e + 9 / e) = 0.45 probability, so the cross-entropy can never fall below -ln 0.45 = 0.80 per
character however well the sequence is learnt, and near that floor the gradient keeps pushing the gates into
saturation, so learning crawls. The script's own printed log shows it: loss 2.299 at step 0, still 1.373 at step
1419 of 3000 (with the right argmax string "if you want you"). Reported as issue #73 "Need FC after RNN outputs"
(hunkim, relaying @imcomking: "Since the ``tf.contrib.seq2seq.sequence_loss`` requires ``logit``, we need a FC, since
the ``outputs`` had an activation function"); the fix adds a linear layer between the LSTM and the loss, and the
fixed script's printed log reaches loss 0.209 at step 12 (its iteration count cut from 3000 to 50).

Source: github.com/hunkim/DeepLearningZeroToAll ``lab-12-2-char-seq-rnn.py`` at
4333e7fa9c68b99c9a987b5f935ef929ae56889e (= b7bd714^; the file as of cc0d0c3 "Use Adam"); issue #73; fixed by
b7bd714c626e7864b5ad6bb16963d43002882873 "Added FC after LSTM" (``fc_w`` / ``fc_b`` on the reshaped outputs; the same
fix in ``lab-12-1-hello-rnn.py``), then 293a77a6ff94cfc80bc976a539fe974b2766a646 "FC layers" (the final form:
``outputs = tf.contrib.layers.fully_connected(outputs, num_classes, activation_fn=None)``, then reshaped to
``[batch_size, sequence_length, num_classes]`` for ``sequence_loss``).
Fault label: output_activation (the scores the softmax cross-entropy reads are the LSTM's tanh-bounded outputs, not
unbounded logits of a linear output layer).

Program lines kept: ``sample``, ``char2idx``, the hyper-parameters (``dic_size = rnn_hidden_size = num_classes = 10``,
``batch_size = 1``, ``sequence_length = len(sample) - 1 = 15``), ``x_data = [sample_idx[:-1]]``, ``y_data =
[sample_idx[1:]]``, one-hot inputs, one LSTM layer of 10 units with a zero initial state, softmax cross-entropy
averaged over the 15 positions, Adam(0.1); buggy: the LSTM outputs are the logits; fixed: 293a77a's
``fully_connected(outputs, num_classes, activation_fn=None)`` (Glorot-uniform weights, zero bias) after the LSTM.
Nothing shrunk (the program is tiny).
Ported (the program is TensorFlow 1 graph code; both twins rebuild it): ``idx2char = sorted(set(sample))`` instead of
``list(set(sample))`` (set order follows Python's string hashing and changes from run to run; any order is the
same program). The one-hot happens inside the model as ``tf.one_hot(X, num_classes)`` did, so a batch is (ids,
next ids), int64 (torch) / int32 (Keras), shape (1, 15). ``BasicLSTMCell``'s initialisation is copied: its single
(input + hidden, 4 x hidden) = (20, 40) kernel comes from ``tf.get_variable``'s default Glorot-uniform, i.e.
U(+-sqrt(6 / 60)) = U(+-0.316), for the input and the recurrent weights alike; zero biases plus the cell's constant
``forget_bias=1.0`` (the same as a trainable forget bias started at 1). Torch: ``nn.LSTM(10, 10, batch_first=True)``
with that init, outputs (batch, 15, 10), ``loss_fn`` = ``CrossEntropyLoss`` on the flattened positions
(``sequence_loss`` with unit weights), ``Adam(lr=0.1)``; the fixed head is ``nn.Linear(10, 10)`` with Glorot
weights and zero bias. Keras: ``keras.ops.one_hot`` -> ``LSTM(10, return_sequences=True)`` with the same uniform
init and ``unit_forget_bias=True`` -> (fixed) ``Dense(10)``, compiled with ``SparseCategoricalCrossentropy(
from_logits=True)`` and ``Adam(learning_rate=0.1, epsilon=1e-8)`` (``tf.train.AdamOptimizer``'s epsilon). The
repository's own later PyTorch port (``pytorch/lab-12-2-char-seq-rnn.py``, 2017-08) is the fixed program
(``nn.LSTM`` -> ``nn.Linear(hidden_size, num_classes)``, ``CrossEntropyLoss``, ``Adam(lr=0.1)``).
Data: the program's own sentence, no download. ``batch`` is exactly the program's ``(x_data, y_data)``. The program
trains on that one sentence only, so for ``batches`` and ``inputs`` more 16-character lines over the same 10
characters are made up (seeded): " " + words drawn from a small lexicon spelled with those letters ("if", "you",
"want" most often, plus "to", "now", "wait", "aunt", "town", "tiny", "yawn", ...), cut to 16 characters, split
into 15 input ids and the 15 next ids as the program does. ``batches``: the program's sentence and 31 further
distinct lines, each a batch of 1 (the program's batch size); ``inputs``: 128 other lines (ids, (128, 15)).

Measured (my own plain loops on the module's builds, /tmp/s51/h79_c/measure.py and seeds.py, OMP_NUM_THREADS=1):
  The program's run (Adam 0.1, the program's sentence only, 3001 steps), loss at steps 0 / 10 / 20 / 50 / 100 /
  300 / 1000 / 3000, SEED 0:
    torch buggy  2.301 1.511 1.292 1.177 1.130 1.085 1.073 1.064 (argmax string never right: "if you  ant you")
    torch fixed  2.297 0.342 0.014 0.001 0.000 0.000 0.000 0.000 ("if you want you" from step 13)
    keras buggy  2.286 1.505 1.203 1.091 1.071 1.057 1.048 1.055 ("if you want you" from step 16)
    keras fixed  2.316 0.426 0.016 0.001 0.000 0.000 0.000 0.000 ("if you want you" from step 12)
  After 3000 steps the buggy models give the right character a mean probability of 0.35 (max 0.44, below the 0.45
  bound), every output inside (-1, 1) (max |logit| 1.000); the fixed ones give it 1.000 (max |logit| 19-20).
  torch, seeds 0-4, loss at step 3000: buggy 1.064 / 1.043 / 1.085 / 1.056 / 0.967 (right string from step
  never / 33 / 73 / 14 / 18), fixed 0.000 in all five (right string from step 10-13). So the buggy program stalls at
  a loss near 1.0 that no further step lowers, while the fixed one memorises the sentence in ~20 steps; the two
  printed logs of the TF 1 script tell the same (buggy 1.373 at step 1419, fixed 0.209 at step 12).
  The module's 32 batches cycled for 10 passes (320 steps), mean loss of each pass, SEED 0:
    torch buggy 2.14 1.90 1.79 1.75 1.71 1.67 1.67 1.63 1.61 1.61, held-out CE on ``inputs`` 2.304 -> 1.667;
    torch fixed 1.90 1.41 1.28 1.20 1.10 1.05 1.05 1.02 0.97 0.93, held-out CE 2.316 -> 1.236;
    keras buggy 2.09 1.84 1.71 1.65 1.62 1.61 1.59 1.58 1.57 1.56, held-out CE 2.297 -> 1.637;
    keras fixed 1.93 1.39 1.19 1.12 1.04 1.01 0.96 0.95 0.95 1.00, held-out CE 2.303 -> 1.345.
  The buggy loss does fall (the argmax can still be learnt), but it flattens far above the fixed one's. Loss at
  initialisation is ln 10 = 2.30 in all four builds (outputs near 0 either way, max |output| 0.23-0.26 on
  ``inputs``).
  Time per step (batch 1, one thread): torch ~2 ms, Keras ``train_on_batch`` ~5 ms; Keras build after the first
  (TensorFlow import ~15-25 s) 0.05 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "output_activation"
SOURCE = ("github:hunkim/DeepLearningZeroToAll issue #73 'Need FC after RNN outputs' (lab-12-2-char-seq-rnn.py@"
          "4333e7fa9c68b99c9a987b5f935ef929ae56889e = b7bd714^: sequence_loss(logits=outputs) on the BasicLSTMCell "
          "outputs; fix b7bd714c626e7864b5ad6bb16963d43002882873 'Added FC after LSTM' + "
          "293a77a6ff94cfc80bc976a539fe974b2766a646 'FC layers')")
FRAMEWORKS = ("torch", "keras")

# lab-12-2-char-seq-rnn.py
sample = " if you want you"
idx2char = sorted(set(sample))  # index -> char (the program: list(set(sample)), whose order varies run to run)
char2idx = {c: i for i, c in enumerate(idx2char)}  # char -> idex
dic_size = len(char2idx)  # RNN input size (one hot size)
rnn_hidden_size = len(char2idx)  # RNN output size
num_classes = len(char2idx)  # final output size (RNN or softmax, etc.)
batch_size = 1  # one sample data, one batch
sequence_length = len(sample) - 1  # number of lstm rollings (unit #)
learning_rate = 0.1
# tf.get_variable's default Glorot-uniform on BasicLSTMCell's (dic_size + hidden, 4 * hidden) kernel
LSTM_INIT_LIMIT = float(np.sqrt(6.0 / ((dic_size + rnn_hidden_size) + 4 * rnn_hidden_size)))
# stand-in lines for batches / inputs
LEXICON = ["if", "you", "want", "a", "an", "at", "it", "in", "on", "to", "too", "two", "now", "not", "nut", "won",
           "wait", "aunt", "town", "toy", "tiny", "fit", "fat", "fan", "fun", "yawn", "unit", "into", "onto", "out",
           "way", "any", "tuna", "twin", "win", "tin"]
N_BATCHES = 32
N_INPUTS = 128
SEED = 0

CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {"num_classes": num_classes}),
          ("gradients_flow", {}), ("output_range", {"kind": "logits", "num_classes": num_classes})]


# ------------------------------------------------------------------------------------------------------------ data

def _encode(line: str) -> tuple[list[int], list[int]]:
    sample_idx = [char2idx[c] for c in line]  # char to index
    return sample_idx[:-1], sample_idx[1:]  # X data sample (0 ~ n-1), Y label sample (1 ~ n)


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    """(n, 15) input ids and (n, 15) next ids: the program's sentence first, then distinct made-up lines."""
    r = np.random.default_rng(SEED)
    p = np.ones(len(LEXICON))
    p[:3] = 6.0  # "if", "you", "want" most often
    p /= p.sum()
    lines, seen = [sample], {sample[:-1]}
    while len(lines) < N_BATCHES + N_INPUTS:
        words = r.choice(LEXICON, size=8, p=p)
        line = (" " + " ".join(words))[:len(sample)]
        if line[:-1] not in seen:  # distinct inputs
            seen.add(line[:-1])
            lines.append(line)
    xy = [_encode(line) for line in lines]
    return np.array([a for a, _ in xy], "int64"), np.array([b for _, b in xy], "int64")


def _common(int_dtype: str) -> dict[str, Any]:
    x, y = _data()
    x, y = x.astype(int_dtype), y.astype(int_dtype)
    bs = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(N_BATCHES)]
    return {"batch": bs[0], "batches": bs, "inputs": x[N_BATCHES:]}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from tests.real_programs._nets import torch_dense

    torch.manual_seed(SEED)

    class CharSeqRNN(nn.Module):  # the TF graph: one_hot -> BasicLSTMCell via dynamic_rnn (-> FC in the fix)
        def __init__(self) -> None:
            super().__init__()
            self.cell = nn.LSTM(dic_size, rnn_hidden_size, batch_first=True)
            nn.init.uniform_(self.cell.weight_ih_l0, -LSTM_INIT_LIMIT, LSTM_INIT_LIMIT)
            nn.init.uniform_(self.cell.weight_hh_l0, -LSTM_INIT_LIMIT, LSTM_INIT_LIMIT)
            nn.init.zeros_(self.cell.bias_ih_l0)
            nn.init.zeros_(self.cell.bias_hh_l0)
            with torch.no_grad():  # BasicLSTMCell(forget_bias=1.0); torch gate order i, f, g, o
                self.cell.bias_ih_l0[rnn_hidden_size:2 * rnn_hidden_size] = 1.0
            self.fc = torch_dense(rnn_hidden_size, num_classes) if fixed else None

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            x_one_hot = F.one_hot(X.long(), num_classes).float()  # one hot: 1 -> 0 1 0 0 0 0 0 0 0 0
            outputs, _states = self.cell(x_one_hot)  # zero initial state
            if self.fc is not None:  # the fix: fully_connected(outputs, num_classes, activation_fn=None)
                outputs = self.fc(outputs)
            return outputs  # (batch, sequence_length, num_classes): the logits of sequence_loss

    model = CharSeqRNN()
    criterion = nn.CrossEntropyLoss()

    def loss_fn(outputs: torch.Tensor, Y: torch.Tensor) -> torch.Tensor:  # sequence_loss, all weights 1
        return criterion(outputs.reshape(-1, num_classes), Y.reshape(-1).long())

    common = _common("int64")
    to_t = torch.as_tensor
    return {"model": model, "batch": tuple(map(to_t, common["batch"])),
            "batches": [(to_t(a), to_t(b)) for a, b in common["batches"]], "inputs": to_t(common["inputs"]),
            "loss_fn": loss_fn, "optimizer": torch.optim.Adam(model.parameters(), lr=learning_rate)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)

    def _uniform() -> Any:  # one initializer per variable
        return keras.initializers.RandomUniform(-LSTM_INIT_LIMIT, LSTM_INIT_LIMIT)

    X = keras.Input(shape=(sequence_length,), dtype="int32")  # X data
    x_one_hot = keras.ops.one_hot(X, num_classes)  # one hot: 1 -> 0 1 0 0 0 0 0 0 0 0
    outputs = layers.LSTM(rnn_hidden_size, return_sequences=True, kernel_initializer=_uniform(),
                          recurrent_initializer=_uniform(), unit_forget_bias=True)(x_one_hot)
    if fixed:  # the fix: fully_connected(outputs, num_classes, activation_fn=None)
        outputs = layers.Dense(num_classes)(outputs)
    model = keras.Model(X, outputs)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate, epsilon=1e-8),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return {"model": model, **_common("int32")}


buggy, fixed = versions(_torch, _keras)
