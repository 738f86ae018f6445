"""min-LSTM-torch (YecanLee/min-LSTM-torch, a minimal PyTorch minLSTM -- "Were RNNs All We Needed?" -- trained as a
sarcasm classifier on the News Headlines Sarcasm dataset): ``train.py`` ``train(batch_size=64, epochs=100)`` reads
``./data/sarcasm.json``, keeps the first 80 % of the headlines for training (file order), builds a ``WordLevel``
tokenizer (``<OOV>`` id 0, ``<PAD>`` id 1, ``vocab_size = len(train_sentence)``, whitespace pre-tokenizer),
``collate_fn`` pads each batch with ``pad_sequence(batch_first=True)`` (value 0) to its longest headline, and trains
``MinRNN(units=128, embedding_size=100, vocab_size, input_length=25)`` -- ``nn.Embedding``, a ``MinLSTMCell`` run
over the time steps from a zero state (f_t = sigmoid(W_f x), i_t = sigmoid(W_i x), h~ = W_h x, h_t = f'/(f'+i') h
+ i'/(f'+i') h~), then ``Sequential(Linear(128, 64), Linear(64, 1), Sigmoid())`` on the last hidden state -- with
``Adam(lr=0.0001)`` and ``nn.BCELoss()`` on ``outputs.squeeze()``; accuracy (train and test) is computed as
``prediction = torch.sigmoid(outputs.squeeze()); prediction = (prediction >= 0.5).float()``.

The fault (minRNN.py / train.py at b0048d8 "[Add]model and training pytorch codes"): the model already ends in
``nn.Sigmoid()`` (its output is a probability, trained with ``BCELoss``), but the program treats that output as a
logit when it predicts: ``torch.sigmoid`` of a probability in (0, 1) lies in (0.5, 0.73), so ``>= 0.5`` holds for
every headline -- every prediction is "sarcastic" whatever the model learnt, and the reported train / test accuracy
is the share of sarcastic headlines (~0.44) for all 100 epochs. Fix: PR #1 "Fix: Replace BCELoss with
BCEWithLogitsLoss and remove redundant Sigmoid" (commit fb8219d4, merged as f5b4534f): ``nn.Sigmoid()`` removed
from ``classification_model`` and ``criterion = nn.BCEWithLogitsLoss()``, so the model emits logits and the
program's ``sigmoid(...) >= 0.5`` is the intended decision rule.

Source: github.com/YecanLee/min-LSTM-torch, minRNN.py, minLSTMcell.py, train.py at
b0048d8deb3a65cd848f291244e8f6870c7dc592; fix fb8219d4694f61e80a4e4bb093f8601d34edf9ac (PR #1 by shonczinner,
merge f5b4534f38b0828166be5eb93f700fa979d16869, 2025-03-20).
Fault label: output_activation (the model's output activation does not match what the program does with the output:
a sigmoid output is passed through another sigmoid, so the prediction is constant).

Program lines kept: ``MinLSTMCell`` and ``MinRNN`` as the two commits have them (128 units, embedding 100, the
64-unit linear layer with no activation, the zero initial state, the last hidden state after the padded steps --
the 0 padding being the ``<OOV>`` id, as in the program), PyTorch default initialisation, Adam lr 1e-4, BCELoss on
the sigmoid output (buggy) / BCEWithLogitsLoss on the logit (fixed), ``outputs.squeeze()`` against float labels,
batches of 64, train mode.
Ported: the json reading / tokenizers / DataLoader plumbing replaced by token-id batches of the same form; vocabulary
kept at the program's size (``vocab_size = len(train_sentence)`` = 21,367 for the 26,709 headlines; the trained
tokenizer ends at that cap); no width shrunk. Keras twin (the same program written with Keras 3, as the fault is a
framework-independent pairing): ``Embedding(V, 100)``, the min-LSTM cell as a layer looping over the steps,
``Dense(64)``, ``Dense(1, activation="sigmoid")`` with ``BinaryCrossentropy()`` (buggy) / ``Dense(1)`` with
``BinaryCrossentropy(from_logits=True)`` (fixed), ``Adam(1e-4)``; Keras' default initialisers (glorot uniform,
embedding uniform +-0.05) instead of PyTorch's.
Data stand-in (no sarcasm.json): ``headlines(n)`` -- int64 token ids, headlines of 4..22 words (mean ~10, as the
dataset's), word ids 2..21366 drawn Zipf-like (frequent words get small ids, as a WordLevel tokenizer orders them),
~44 % sarcastic (the dataset: 11,724 of 26,709); each headline carries 1-3 words from a class-specific set of 300
frequent "cue" words among otherwise class-independent words, so a bag-of-words reaches ~0.85-0.9; right-padded with
0 per batch of 64 to its longest headline, labels float32 0/1.

Measured (my own loop, /tmp/s39/h56c/measure.py; OMP_NUM_THREADS=1; seed 0; 2,048 training headlines in batches of
64 (shuffled each epoch), 1,024 held-out; accuracy as the program computes it, sigmoid(output) >= 0.5):
  torch, 640 steps (20 epochs): the two versions train identically -- BCELoss on sigmoid(z) equals
        BCEWithLogitsLoss on z -- held-out loss 0.704 at init, 0.691 after 32 steps, 0.690 after 320, 0.688 after
        576 in both (training loss per batch 0.67-0.73; at lr 1e-4 the learning is slow: the program runs 100
        epochs of ~334 steps, and the right padding with id 0 dilutes the last hidden state). Accuracy as the
        program computes it: buggy 0.462 at every evaluation (1.0 of the headlines predicted sarcastic = the
        held-out share of positives); fixed 0.538 after 32 steps, 0.545 after 576 (1-4 % predicted sarcastic).
        Reading the buggy model's output as the probability it is (>= 0.5) gives 0.538 / 0.545 as the fixed one.
  keras, 96 steps (3 epochs): loss 0.692 at init, 0.690-0.691 after 32-96 steps in both versions; program's
        accuracy buggy 0.462 (every headline sarcastic), fixed 0.537-0.538 (0-0.4 % predicted sarcastic).
About 40-60 ms per training step (torch, batch 64, ~19 steps) and 30-90 ms (keras train_on_batch) on one CPU
thread of the loaded two-core machine (up to ~140 ms when two runs shared it); building both versions: torch
0.1 s, keras ~1 s (plus the first TensorFlow import).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "output_activation"
SOURCE = ("github:YecanLee/min-LSTM-torch PR #1 (minRNN.py MinRNN classification_model "
          "Sequential(Linear(units, 64), Linear(64, 1), Sigmoid()) with train.py nn.BCELoss() and "
          "'prediction = torch.sigmoid(outputs.squeeze()); (prediction >= 0.5)', minLSTMcell.py MinLSTMCell "
          "@b0048d8deb3a65cd848f291244e8f6870c7dc592; fix fb8219d4694f61e80a4e4bb093f8601d34edf9ac "
          "'Fix: Replace BCELoss with BCEWithLogitsLoss and remove redundant Sigmoid', merge f5b4534f)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("init_loss", {"num_classes": 2}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("gradients_flow", {}), ("not_constant_predictions", {})]

# train.py settings
units = 128
embedding_size = 100
vocab_size = 21367  # len(train_sentence): 80 % of the 26,709 headlines
max_length = 25  # MinRNN's input_length (stored, unused)
batch_size = 64
learning_rate = 0.0001
SEED = 0
N_BATCHES = 4
SARCASTIC_SHARE = 11724 / 26709
N_CUES = 300


def headlines(n: int, seed: int = SEED) -> tuple[list[np.ndarray], np.ndarray]:
    """Sarcasm-headline stand-in: n token-id sequences (int64, ids 2..vocab_size-1, 4..22 words) and float32 0/1
    labels. Word ids are Zipf-like; each headline holds 1-3 cue words of its class (two disjoint sets of 300 ids
    among the frequent words, fixed for every seed) placed at random positions."""
    cue_rng = np.random.default_rng(12345)
    cue_ids = cue_rng.choice(np.arange(2, 3000), 2 * N_CUES, replace=False)
    cues = (cue_ids[:N_CUES], cue_ids[N_CUES:])
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < SARCASTIC_SHARE).astype("float32")
    ranks = np.arange(1, vocab_size - 1)
    p = 1.0 / ranks ** 1.05
    p /= p.sum()
    seqs = []
    for c in y:
        length = int(np.clip(rng.normal(10, 3.5), 4, 22))
        words = rng.choice(vocab_size - 2, length, p=p) + 2
        k = int(rng.integers(1, 4))
        pos = rng.choice(length, min(k, length), replace=False)
        words[pos] = rng.choice(cues[int(c)], len(pos))
        seqs.append(words.astype("int64"))
    return seqs, y


def pad(seqs: list[np.ndarray]) -> np.ndarray:
    """``pad_sequence(sequences, batch_first=True)``: right-pad with 0 to the longest sequence of the batch."""
    out = np.zeros((len(seqs), max(len(s) for s in seqs)), "int64")
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out


def _data() -> list[tuple[np.ndarray, np.ndarray]]:
    seqs, y = headlines(N_BATCHES * batch_size, SEED)
    return [(pad(seqs[i:i + batch_size]), y[i:i + batch_size]) for i in range(0, len(seqs), batch_size)]


def _torch_model(fixed: bool) -> Any:
    import torch
    import torch.nn as nn

    class MinLSTMCell(nn.Module):
        def __init__(self, units, input_shape):
            super(MinLSTMCell, self).__init__()
            self.units = units
            self.input_shape = input_shape
            self.linear_f = nn.Linear(self.input_shape, self.units)
            self.linear_i = nn.Linear(self.input_shape, self.units)
            self.linear_h = nn.Linear(self.input_shape, self.units)

        def forward(self, pre_h, x_t):
            f_t = torch.sigmoid(self.linear_f(x_t))
            i_t = torch.sigmoid(self.linear_i(x_t))
            tilde_h_t = self.linear_h(x_t)
            sum_f_i = f_t + i_t
            f_prime_t = f_t / sum_f_i
            i_prime_t = i_t / sum_f_i
            h_t = f_prime_t * pre_h + i_prime_t * tilde_h_t
            return h_t

    class MinRNN(nn.Module):
        def __init__(self, units, embedding_size, vocab_size, input_length):
            super(MinRNN, self).__init__()
            self.input_length = input_length
            self.units = units
            self.embedding = nn.Embedding(vocab_size, embedding_size)
            self.lstm = MinLSTMCell(units, embedding_size)
            if fixed:  # fb8219d
                self.classification_model = nn.Sequential(nn.Linear(units, 64), nn.Linear(64, 1))
            else:  # b0048d8
                self.classification_model = nn.Sequential(nn.Linear(units, 64), nn.Linear(64, 1), nn.Sigmoid())

        def forward(self, sentence):
            batch_size = sentence.shape[0]
            pre_h = torch.zeros(batch_size, self.units, device=sentence.device)
            embedded_sentence = self.embedding(sentence)
            sequence_length = embedded_sentence.shape[1]
            for i in range(sequence_length):
                word = embedded_sentence[:, i, :]
                pre_h = self.lstm(pre_h, word)
            return self.classification_model(pre_h)

    return MinRNN(units=units, embedding_size=embedding_size, vocab_size=vocab_size, input_length=max_length)


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)
    model = _torch_model(fixed)
    model.train()
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in _data()]
    criterion = nn.BCEWithLogitsLoss() if fixed else nn.BCELoss()

    def loss_fn(outputs: Any, labels: Any) -> Any:  # train.py: criterion(outputs.squeeze(), labels)
        return criterion(outputs.squeeze(), labels)

    return {"model": model, "batch": tb[0], "batches": tb, "inputs": tb[0][0], "loss_fn": loss_fn,
            "optimizer": lambda params: torch.optim.Adam(params, lr=learning_rate)}


def _keras(fixed: bool, steps: int) -> Any:
    import keras
    from keras import layers, ops

    class MinLSTM(layers.Layer):
        """MinLSTMCell run over the steps from a zero state, returning the last hidden state (MinRNN.forward)."""

        def __init__(self, units: int, **kw: Any) -> None:
            super().__init__(**kw)
            self.units = units
            self.linear_f = layers.Dense(units)
            self.linear_i = layers.Dense(units)
            self.linear_h = layers.Dense(units)

        def call(self, x: Any) -> Any:
            f = ops.sigmoid(self.linear_f(x))  # (batch, steps, units): the gates depend on x_t only
            i = ops.sigmoid(self.linear_i(x))
            ht = self.linear_h(x)
            s = f + i
            f, i = f / s, i / s
            h = ops.zeros_like(ht[:, 0, :])
            for t in range(steps):
                h = f[:, t, :] * h + i[:, t, :] * ht[:, t, :]
            return h

    keras.utils.set_random_seed(SEED)
    inp = keras.Input((steps,), dtype="int32")
    h = layers.Embedding(vocab_size, embedding_size)(inp)
    h = MinLSTM(units)(h)
    h = layers.Dense(64)(h)
    out = layers.Dense(1)(h) if fixed else layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss=keras.losses.BinaryCrossentropy(from_logits=fixed))
    return model


def _keras_build(fixed: bool) -> dict[str, Any]:
    data = _data()
    steps = max(x.shape[1] for x, _ in data)
    # keras graphs want one width: pad all batches to the longest of them (the padding value 0 as collate_fn's)
    kb = []
    for x, y in data:
        xp = np.zeros((len(x), steps), "int32")
        xp[:, :x.shape[1]] = x
        kb.append((xp, y.reshape(-1, 1)))
    model = _keras(fixed, steps)
    return {"model": model, "batch": kb[0], "batches": kb, "inputs": kb[0][0]}


def buggy(framework: str) -> dict[str, Any]:
    if framework == "torch":
        return _torch(fixed=False)
    if framework == "keras":
        return _keras_build(fixed=False)
    raise ValueError(framework)


def fixed(framework: str) -> dict[str, Any]:
    if framework == "torch":
        return _torch(fixed=True)
    if framework == "keras":
        return _keras_build(fixed=True)
    raise ValueError(framework)
