"""dongjun-Lee/text-classification-models-tf (TensorFlow implementations of text classifiers on DBpedia),
``rnn_models/attention_rnn.py`` ``AttentionRNN`` run by ``train.py --model att_rnn``: word ids (``build_word_dict``:
<pad> 0, <unk> 1, <eos> 2, then words by frequency; each document tokenised, <eos> appended, cut / padded to
``WORD_MAX_LEN = 100``), 14 DBpedia classes (``class - 1``), ``BATCH_SIZE = 64``, ``NUM_EPOCHS = 10``. The model:
``x_len = reduce_sum(sign(x), 1)``; embeddings 256-wide initialised ``random_uniform`` [0, 1); two stacked
bidirectional ``BasicLSTMCell(256)`` layers with ``DropoutWrapper(output_keep_prob=0.5)`` in training
(``stack_bidirectional_dynamic_rnn(..., sequence_length=x_len)``: zero outputs past each document's length);
attention ``score = softmax(dense(rnn_outputs, 1, tanh))``, ``attention_out = squeeze(matmul(transpose(rnn_outputs,
[0, 2, 1]), score))``; ``logits = dense(attention_out, 14)``; mean ``sparse_softmax_cross_entropy_with_logits``;
``AdamOptimizer(1e-3)``.

The fault (softmax over the wrong, size-1 axis): the attention scores have shape (batch, time, 1) and
``tf.nn.softmax`` normalises over the LAST axis by default, which holds one element, so every attention weight is
exactly 1.0. The "attention" is a plain sum of the BiLSTM outputs over time (padded steps are zero, so a sum over
each document's length, growing with it), and the attention layer ``dense(rnn_outputs, 1, tanh)`` receives an
exactly zero gradient (softmax of a single value is constant): its kernel and bias are never trained. PR #1
("`tf.nn.softmax` should be calculated in the dimension of `axis=1`", merged by the author: "Thanks for your pr!"),
commit 9dcd569: ``tf.nn.softmax(..., axis=1)``, a softmax over the time steps.

Source: github.com/dongjun-Lee/text-classification-models-tf ``rnn_models/attention_rnn.py``
@dfac613b5ce1f9608383a4706378426519e650f0 (= 9dcd569^, initial commit), with ``train.py`` and ``data_utils.py``;
PR #1, fix 9dcd569de307b89bed194c1a979406af32266b04 (merged in 9569b2a).
Fault label: no_gradient|params_not_updated (the attention layer gets no gradient through the softmax over a size-1
axis and keeps its initial weights; the model degenerates into sum pooling of the BiLSTM outputs).

Program lines kept: the architecture above (random-uniform [0, 1) embeddings, two stacked bidirectional LSTM layers
with dropout 0.5 on every layer's outputs in training, zero outputs past the document length, the tanh score layer,
the softmax without / with ``axis=1``, the weighted sum over time, the linear 14-way head), the mean sparse softmax
cross-entropy on the logits, Adam(1e-3, TF1's epsilon 1e-8), batch size 64, the word-id encoding (pad 0, unk 1,
eos 2 appended, cut / padded to the maximum length).
Ported / shrunk: TF1 graph code (placeholders, ``tf.contrib.rnn``, ``tf.layers``) becomes a Keras 3 model and a
torch module. Embedding and LSTM widths 256 -> 16, ``WORD_MAX_LEN`` 100 -> 24, vocabulary 2,000 words (width 32 and
40 words already took ~150-190 ms a torch step on one CPU thread; the program's sizes far more). Keras:
``Bidirectional(LSTM(16, return_sequences=True))`` twice, given the length mask (the backward LSTM starts at each
document's last token, as ``sequence_length`` makes it in TF1) and multiplied by it (zero outputs past the length),
``Dropout(0.5)`` after each layer, ``Dense(1, tanh)``, ``ops.softmax(score, axis=-1)`` (buggy: TF's default axis) /
``axis=1`` (fixed); Keras' LSTM init (glorot-uniform input kernel, orthogonal recurrent kernel, forget-gate bias 1)
stands for BasicLSTMCell's glorot-uniform kernel with ``forget_bias=1.0``. Torch twin: ``nn.Embedding`` with U[0, 1)
weights, ``nn.LSTM(16, 16, num_layers=2, bidirectional=True, dropout=0.5, batch_first=True)`` over
``pack_padded_sequence(x_len)`` (zeros past the length after ``pad_packed_sequence``), ``nn.Dropout(0.5)`` on its
output (DropoutWrapper also drops the last layer's outputs), ``nn.Linear(32, 1)`` + tanh, ``torch.softmax(score,
dim=-1)`` (buggy) / ``dim=1`` (fixed), ``nn.Linear(32, 14)``, ``nn.CrossEntropyLoss()``, ``Adam(lr=1e-3,
eps=1e-8)``; torch's default LSTM / Linear init. The fault is one softmax axis, so it exists in both frameworks.
Data stand-in (no dbpedia_csv download): seeded synthetic documents, 14 balanced classes; each document is 8..23
words drawn from a Zipf-like distribution over the 2,000-word vocabulary (ids 3..1999), a quarter of them from its
class's own 20 topic words (at random positions), then <eos> (2) and <pad> (0) up to 24, int32 like the program's
feed. ``batches``: 8 batches of 64 training documents; ``inputs``: 256 held-out documents.

Measured (my own plain loops, /tmp/s48/h74_b/measure.py, OMP_NUM_THREADS=1, the module's builds; 400 Adam steps
cycling the 8 batches in training mode, then 512 fresh held-out documents in eval mode):
  attention layer (``dense(rnn_outputs, 1, tanh)``), max |gradient| on batch 0 at init: torch buggy exactly 0.0,
    fixed 7.8e-4; Keras buggy 3.8e-7 (float32 rounding of a softmax that should be exactly 1.0), fixed 4.8e-3. Its
    weights after 400 steps moved by at most: torch buggy 0.0 (never trained), fixed 0.52; Keras buggy 0.051 (Adam
    rescales the rounding-noise gradient into lr-sized random steps), fixed 0.51.
  loss at steps 1 / 8 / 50 / 100 / 400: torch buggy 2.890 / 2.698 / 2.650 / 2.534 / 0.108, fixed 2.624 / 2.658 /
    2.642 / 2.619 / 0.506; Keras (``train_on_batch``) buggy 6.436 / 3.160 / 2.486 / 2.001 / 0.081, fixed 2.656 /
    2.645 / 2.593 / 2.101 / 0.297 (ln 14 = 2.639: the buggy sum over up to 24 steps starts off-scale, max |logit|
    after training 35-40 vs 7-9 fixed). Held-out accuracy: torch buggy 0.500, fixed 0.447; Keras buggy 0.504, fixed
    0.490; all 14 classes predicted in all four runs.
  With the earlier, larger port (width 32, 40 / 30 words) the picture was the same: torch held-out 0.562 buggy vs
    0.297 fixed after 200 steps, 0.646 vs 0.504 after 300.
  So on this stand-in the fault does NOT make the classifier learn worse: sum pooling of the BiLSTM outputs is a
    strong bag-of-topic-words baseline and learns as fast or faster. What reproduces is the fault itself: the
    attention layer gets no gradient (torch exactly none, Keras only float32 noise) and keeps its initial weights
    (torch) or drifts on noise (Keras), the attention weights are all 1.0, and the initial loss is off (2.89 / 6.44
    against ln 14). The issue's DBpedia accuracy effect is not measured here.
  Time per step (batch 64, one thread, loaded machine): torch ~50 ms, Keras ``train_on_batch`` ~55-70 ms. Builds
    (first, with imports): torch 5-6 s, Keras 9-12 s; later builds 0.1 s / 1.3-1.7 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "no_gradient|params_not_updated"
SOURCE = ("github:dongjun-Lee/text-classification-models-tf PR #1 (rnn_models/attention_rnn.py AttentionRNN "
          "'tf.nn.softmax(tf.layers.dense(self.rnn_outputs, 1, activation=tf.nn.tanh))' "
          "@dfac613b5ce1f9608383a4706378426519e650f0 = 9dcd569^, train.py, data_utils.py; fix "
          "9dcd569de307b89bed194c1a979406af32266b04 'axis=1')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("gradients_flow", {}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("init_loss", {"num_classes": 14}), ("not_constant_predictions", {})]

# train.py / attention_rnn.py
NUM_CLASS = 14
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
KEEP_PROB = 0.5
NUM_LAYERS = 2
PAD, UNK, EOS = 0, 1, 2
# port: program 256 / 256 / 100 (WORD_MAX_LEN), DBpedia vocabulary
EMBEDDING_SIZE = 16
NUM_HIDDEN = 16
WORD_MAX_LEN = 24
VOCAB = 2000
TOPIC_WORDS = 20
N_TRAIN_BATCHES = 8
N_INPUTS = 256
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _topics() -> np.ndarray:
    r = np.random.default_rng(SEED)
    return np.stack([r.choice(np.arange(3, VOCAB), TOPIC_WORDS, replace=False) for _ in range(NUM_CLASS)])


def documents(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` word-id documents (n, WORD_MAX_LEN) int32 as ``build_word_dataset`` encodes them, labels (n,) int32."""
    r = np.random.default_rng(seed)
    topics = _topics()
    ranks = np.arange(1, VOCAB - 2)
    zipf = (1.0 / ranks) / np.sum(1.0 / ranks)
    y = np.arange(n) % NUM_CLASS
    r.shuffle(y)
    x = np.full((n, WORD_MAX_LEN), PAD, dtype=np.int32)
    for i, c in enumerate(y):
        length = int(r.integers(8, WORD_MAX_LEN))  # words before <eos>; <eos> makes it at most WORD_MAX_LEN
        words = 3 + r.choice(len(ranks), length, p=zipf)
        topical = r.random(length) < 0.25
        words[topical] = r.choice(topics[c], int(topical.sum()))
        doc = list(words) + [EOS]
        doc = doc[:WORD_MAX_LEN]
        x[i, :len(doc)] = doc
    return x, y.astype(np.int32)


def _data() -> dict[str, Any]:
    x, y = documents(N_TRAIN_BATCHES * BATCH_SIZE, SEED + 1)
    xi, _ = documents(N_INPUTS, SEED + 2)
    bs = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)]
    return {"batches": bs, "inputs": xi}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)

    class AttentionRNN(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embeddings = nn.Embedding(VOCAB, EMBEDDING_SIZE)
            nn.init.uniform_(self.embeddings.weight, 0.0, 1.0)  # tf.random_uniform([vocabulary_size, 256])
            self.birnn = nn.LSTM(EMBEDDING_SIZE, NUM_HIDDEN, num_layers=NUM_LAYERS, bidirectional=True,
                                 dropout=1 - KEEP_PROB, batch_first=True)
            self.drop = nn.Dropout(1 - KEEP_PROB)  # DropoutWrapper on the last layer's outputs too
            self.attention = nn.Linear(2 * NUM_HIDDEN, 1)
            self.output = nn.Linear(2 * NUM_HIDDEN, NUM_CLASS)

        def forward(self, x: Any) -> Any:
            x = x.long()
            x_len = torch.sign(x).sum(1)
            emb = self.embeddings(x)
            packed = nn.utils.rnn.pack_padded_sequence(emb, x_len.cpu(), batch_first=True, enforce_sorted=False)
            out, _ = self.birnn(packed)
            rnn_outputs, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            rnn_outputs = self.drop(rnn_outputs)
            score = torch.tanh(self.attention(rnn_outputs))  # (batch, time, 1)
            attention_score = torch.softmax(score, dim=1 if fixed else -1)
            attention_out = torch.matmul(rnn_outputs.transpose(1, 2), attention_score).squeeze(-1)
            return self.output(attention_out)

    model = AttentionRNN()
    d = _data()
    bs = [(torch.from_numpy(x), torch.from_numpy(y).long()) for x, y in d["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": torch.from_numpy(d["inputs"]),
            "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=1e-8)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import ops

    keras.utils.set_random_seed(SEED)

    class AttentionRNN(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.embeddings = keras.layers.Embedding(
                VOCAB, EMBEDDING_SIZE, embeddings_initializer=keras.initializers.RandomUniform(0.0, 1.0))
            self.birnn = [keras.layers.Bidirectional(keras.layers.LSTM(NUM_HIDDEN, return_sequences=True))
                          for _ in range(NUM_LAYERS)]
            self.drops = [keras.layers.Dropout(1 - KEEP_PROB) for _ in range(NUM_LAYERS)]
            self.attention = keras.layers.Dense(1, activation="tanh")
            self.output_layer = keras.layers.Dense(NUM_CLASS)

        def call(self, x: Any, training: bool = False) -> Any:
            x_len = ops.sum(ops.sign(x), axis=1)
            mask = ops.arange(ops.shape(x)[1])[None, :] < ops.cast(x_len, "int32")[:, None]
            h = self.embeddings(x)
            for rnn, drop in zip(self.birnn, self.drops):
                h = rnn(h, mask=mask, training=training) * ops.cast(mask, "float32")[:, :, None]
                h = drop(h, training=training)
            score = self.attention(h)  # (batch, time, 1)
            attention_score = ops.softmax(score, axis=1 if fixed else -1)
            attention_out = ops.squeeze(ops.matmul(ops.transpose(h, (0, 2, 1)), attention_score), axis=-1)
            return self.output_layer(attention_out)

    model = AttentionRNN()
    d = _data()
    model(d["batches"][0][0][:2])  # build
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, epsilon=1e-8),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return {"model": model, "batch": d["batches"][0], "batches": d["batches"], "inputs": d["inputs"],
            "loss_fn": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "optimizer": model.optimizer}


buggy, fixed = versions(_torch, _keras)
