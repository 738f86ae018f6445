"""Sebastian Raschka's deeplearning-models, ``pytorch_ipynb/rnn/rnn_bi_multilayer_lstm_own_csv_agnews.ipynb``:
"Bidirectional Multi-layer RNN with LSTM with Own Dataset in CSV Format (AG News)", 4-class news topic
classification. ``RNN``: ``nn.Embedding(INPUT_DIM, 128, padding_idx=PAD_IDX)`` -> dropout 0.5 ->
packed ``nn.LSTM(128, 256, num_layers=2, bidirectional=True, dropout=0.5)`` -> the last layer's two final
hidden states concatenated -> dropout -> ``fc1 = nn.Linear(hidden_dim * num_layers, 64)`` ->
``fc2 = nn.Linear(64, output_dim=4)``; ``F.cross_entropy(logits, classlabel.long())``, ``Adam(lr=1e-3)``,
``BATCH_SIZE = 128``, torchtext vocabulary of 5000 words (+ ``<unk>``, ``<pad>``), ``BucketIterator`` with
``sort_within_batch=True``. The notebook's ``forward`` stops after ``fc1``::

    hidden = self.dropout(torch.cat((hidden[-2,:,:], hidden[-1,:,:]), dim=1))
    hidden = self.fc1(hidden)
    return hidden

so the "logits" are the 64 linear outputs of ``fc1`` (``fc2`` is built but never used): cross-entropy over 64
scores for 4 classes (60 classes that do not exist), which trains without an error because the labels 0..3
are valid indices (the notebook's own log starts at "Cost: 4.1667" = ln 64, and still reached ~84 % after
an epoch on 114k articles).

Source: github.com/rasbt/deeplearning-models commit c8b7edf "fix ag news rnn" (2020-04-29), notebook at
c8b7edf^ (added in de451b9 "more rnn models"); the fix adds ``hidden = self.dropout(hidden); hidden =
self.fc2(hidden)`` before the return (and drops the then-pointless ``.squeeze(1)`` on the logits).
Program lines kept: ``RANDOM_SEED = 123``, ``LEARNING_RATE = 1e-3``, ``BATCH_SIZE = 128``, ``DROPOUT = 0.5``,
``BIDIRECTIONAL = True``, ``NUM_LAYERS = 2``, ``OUTPUT_DIM = 4``, vocabulary 5000 + 2 (``<unk>`` = 0,
``<pad>`` = 1 as in torchtext), the ``RNN`` class, ``F.cross_entropy`` and Adam.
Ported minimally / shrunk for CPU: ``EMBEDDING_DIM`` 128 -> 64 and ``HIDDEN_DIM`` 256 -> 32 (``fc1`` still
takes ``hidden_dim * num_layers`` = 2 * hidden_dim features), articles cut to at most 16 tokens (the full
sizes take ~0.5 s a step on one thread). The model takes batch-first ``(N, T)`` token ids padded with
``<pad>`` (torchtext gives ``(T, N)``; the forward transposes) and computes ``text_length`` as the number of
non-pad tokens, packing with ``enforce_sorted=False`` (the notebook's batches are sorted, so this is the
same). Keras twin: ``Embedding(5002, 64, mask_zero=True)`` (pad id 0 there) -> ``Dropout(0.5)`` ->
``Bidirectional(LSTM(32, return_sequences=True))`` -> ``Dropout(0.5)`` (the LSTM's inter-layer dropout) ->
``Bidirectional(LSTM(32))`` -> ``Dropout(0.5)`` -> ``Dense(64)`` [buggy: the output] -> ``Dropout(0.5)`` ->
``Dense(4)`` [fixed], ``SparseCategoricalCrossentropy(from_logits=True)``, ``Adam(1e-3)``.
Data stand-in (no download of ag_news_csv.tar.gz): seeded AG-News-like token sequences, 4 balanced classes,
6 to 16 tokens each; a token is one of its class's 40 topic words with probability 0.35, otherwise a
Zipf-distributed common word of the 5000-word vocabulary; 4 batches of 128, sorted by length within each
batch as ``sort_within_batch`` does.
Fault label: head_width (the model's output is fc1's 64 units instead of fc2's 4 classes).
Fix (c8b7edf): ``forward`` goes on through ``self.dropout`` and ``self.fc2`` and returns 4 logits.
Symptom in a short loop of my own (Adam 1e-3): torch: initial loss 4.15 (ln 64, as the notebook's 4.1667)
buggy vs 1.39 (ln 4) fixed; 150 steps on one batch of 128: loss 1.07 vs 0.17 in train mode (eval mode 0.88,
81 % accuracy vs 0.001, 100 %); 25 epochs over 3 batches: loss 1.38 vs 1.12 and 29 % vs 60 % accuracy on the
held-out fourth batch. Keras (``train_on_batch``, one batch): 4.16 vs 1.39 at the start, 0.41 vs 9e-4 after
150 steps. One training step: about 35 ms in torch and in Keras on one thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "head_width"
SOURCE = ("github:rasbt/deeplearning-models pytorch_ipynb/rnn/rnn_bi_multilayer_lstm_own_csv_agnews.ipynb@c8b7edf^ "
          "(fix c8b7edf 'fix ag news rnn')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("init_loss", {"num_classes": 4}), ("output_range", {"kind": "logits", "num_classes": 4}),
          ("loss_decreases", {}), ("overfit_one_batch", {})]

RANDOM_SEED = 123  # program lines
VOCABULARY_SIZE = 5000
LEARNING_RATE = 1e-3
BATCH_SIZE = 128
DROPOUT = 0.5
EMBEDDING_DIM = 64  # program: 128 (shrunk for CPU)
BIDIRECTIONAL = True
HIDDEN_DIM = 32  # program: 256 (shrunk for CPU)
NUM_LAYERS = 2
OUTPUT_DIM = 4
INPUT_DIM = VOCABULARY_SIZE + 2  # len(TEXT.vocab): <unk>, <pad> + 5000 words
UNK_IDX, PAD_IDX = 0, 1
MAX_LEN = 16
N_BATCHES = 4


def _agnews_like(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Batches of (BATCH_SIZE, MAX_LEN) token ids padded with PAD_IDX (longest first) and class ids."""
    rng = np.random.default_rng(seed)
    topic = rng.choice(np.arange(2, INPUT_DIM), (OUTPUT_DIM, 40), replace=False)
    ranks = np.arange(1, VOCABULARY_SIZE + 1)
    zipf = 1.0 / ranks
    zipf /= zipf.sum()
    out = []
    for _ in range(N_BATCHES):
        y = rng.permutation(np.arange(BATCH_SIZE) % OUTPUT_DIM).astype("int64")
        lengths = rng.integers(6, MAX_LEN + 1, BATCH_SIZE)
        order = np.argsort(-lengths, kind="stable")  # sort_within_batch=True
        y, lengths = y[order], lengths[order]
        x = np.full((BATCH_SIZE, MAX_LEN), PAD_IDX, dtype="int64")
        for i, (c, n) in enumerate(zip(y, lengths)):
            common = 2 + rng.choice(VOCABULARY_SIZE, n, p=zipf)
            words = np.where(rng.random(n) < 0.35, topic[c, rng.integers(0, 40, n)], common)
            x[i, :n] = words
        out.append((x, y))
    return out


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    data = _agnews_like()
    if framework == "torch":
        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        torch.manual_seed(RANDOM_SEED)

        class RNN(nn.Module):  # program lines
            def __init__(self, input_dim, embedding_dim, bidirectional, hidden_dim, num_layers, output_dim, dropout,
                         pad_idx):
                super().__init__()
                self.embedding = nn.Embedding(input_dim, embedding_dim, padding_idx=pad_idx)
                self.rnn = nn.LSTM(embedding_dim,
                                   hidden_dim,
                                   num_layers=num_layers,
                                   bidirectional=bidirectional,
                                   dropout=dropout)
                self.fc1 = nn.Linear(hidden_dim * num_layers, 64)
                self.fc2 = nn.Linear(64, output_dim)
                self.dropout = nn.Dropout(dropout)

            def forward(self, text_batch_first):
                text = text_batch_first.t()  # torchtext batches are (T, N)
                text_length = (text != PAD_IDX).sum(0).cpu()
                embedded = self.dropout(self.embedding(text))
                packed_embedded = nn.utils.rnn.pack_padded_sequence(embedded, text_length, enforce_sorted=False)
                packed_output, (hidden, cell) = self.rnn(packed_embedded)
                hidden = self.dropout(torch.cat((hidden[-2, :, :], hidden[-1, :, :]), dim=1))
                hidden = self.fc1(hidden)
                if fixed:  # the fix (c8b7edf)
                    hidden = self.dropout(hidden)
                    hidden = self.fc2(hidden)
                return hidden

        model = RNN(INPUT_DIM, EMBEDDING_DIM, BIDIRECTIONAL, HIDDEN_DIM, NUM_LAYERS, OUTPUT_DIM, DROPOUT, PAD_IDX)
        batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
        return {"model": model, "batch": batches[0], "batches": batches,
                "loss_fn": lambda logits, target: F.cross_entropy(logits, target.long()),
                "optimizer": lambda p: torch.optim.Adam(p, lr=LEARNING_RATE)}

    import keras
    from keras import layers

    keras.utils.set_random_seed(RANDOM_SEED)
    kdata = [(np.where(x == PAD_IDX, 0, x), y) for x, y in data]  # Keras masks id 0
    inp = keras.Input((MAX_LEN,), dtype="int64")
    h = layers.Embedding(INPUT_DIM, EMBEDDING_DIM, mask_zero=True)(inp)
    h = layers.Dropout(DROPOUT)(h)
    h = layers.Bidirectional(layers.LSTM(HIDDEN_DIM, return_sequences=True))(h)
    h = layers.Dropout(DROPOUT)(h)
    h = layers.Bidirectional(layers.LSTM(HIDDEN_DIM))(h)
    h = layers.Dropout(DROPOUT)(h)
    h = layers.Dense(64)(h)  # fc1
    if fixed:
        h = layers.Dropout(DROPOUT)(h)
        h = layers.Dense(OUTPUT_DIM)(h)  # fc2
    model = keras.Model(inp, h)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.Adam(LEARNING_RATE), metrics=["accuracy"])
    return {"model": model, "batch": kdata[0], "batches": kdata}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
