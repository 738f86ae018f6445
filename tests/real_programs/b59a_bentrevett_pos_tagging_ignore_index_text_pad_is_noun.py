"""bentrevett/pytorch-pos-tagging, notebook "1 - Simple RNN PoS Tagger": a BiLSTM part-of-speech tagger on the
Universal Dependencies English Web Treebank (``torchtext.datasets.UDPOS``, 12,543 training sentences, the 17
universal tags). ``TEXT = data.Field()``, ``UD_TAGS = data.Field(unk_token=None)``; ``TEXT.build_vocab(train_data,
min_freq=2, vectors="glove.6B.100d", unk_init=torch.Tensor.normal_)`` (itos ``['<unk>', '<pad>', '.', 'the', ...]``,
9,875 words), ``UD_TAGS.build_vocab(train_data)`` (itos ``['<pad>', 'NOUN', 'PUNCT', 'VERB', ...]``, 18 entries);
``BucketIterator.splits(..., batch_size=64)``. ``RNNPOSTagger``: ``Embedding(9875, 100, padding_idx=PAD_IDX)`` ->
``F.relu(dropout(.))`` -> ``LSTM(100, 128, num_layers=2, bidirectional=True)`` (time-major) -> ``dropout`` ->
``Linear(256, 18)``; every parameter ``normal_(0, 0.1)``, then the GloVe vectors copied into the embedding and the
``<unk>`` and ``<pad>`` rows zeroed; ``optim.Adam(model.parameters())``; 10 epochs; the loss on
``predictions.view(-1, 18)`` against ``tags.view(-1)``.

The fault (loss masking with the wrong vocabulary's pad index): the notebook builds
``PAD_IDX = TEXT.vocab.stoi[TEXT.pad_token]`` for the word embedding and reuses it in
``criterion = nn.CrossEntropyLoss(ignore_index = PAD_IDX)``, whose targets are TAG ids. ``PAD_IDX`` is 1 (the word
vocabulary puts ``<unk>`` at 0, ``<pad>`` at 1), and tag id 1 is ``NOUN``, the most frequent tag (17 % of the
tokens), while the tag padding is id 0. So every NOUN token is dropped from the loss (the NOUN logit is only ever
pushed down, as the wrong class for the other tokens) and the padded positions are trained towards the ``<pad>``
tag instead: the tagger never predicts NOUN and gets every noun wrong. Fixed by the author in commit 12d9aae
"fixed huge bug where i was ignoring losses from the most common token. accuracy on both models jumped 10-15%."
(``criterion = nn.CrossEntropyLoss()``; the notebook's validation accuracy went from 74.6 % to 86.1 %), then
be306a9 "accuracy no longer counted over the pad tokens" (``TAG_PAD_IDX = UD_TAGS.vocab.stoi[UD_TAGS.pad_token]``,
``criterion = nn.CrossEntropyLoss(ignore_index = TAG_PAD_IDX)``), the form every later version keeps and the one
ported as "fixed" here.

Source: github.com/bentrevett/pytorch-pos-tagging, "1 - Simple RNN PoS Tagger.ipynb" at
12d9aae^ = 858603351401ebd3bf45d7228fe4db3eff5646b5 ("fixed up 1st notebook, ..."); fix
12d9aaecaf3690e478babc082b0369fa8ffc217b (+ the tag-pad ignore_index of be306a9c52db640f037d5940dcae0087e83d4042).
The line is there from the first commit (af52b71) and also in notebook 2 (NestedField, CharCNN), fixed in the same
commits.
Fault label: other:loss_mask_ignores_real_class (the loss's ignore index, taken from the input vocabulary, is a
real target class, the most frequent one; the padding targets are trained instead).

Program lines kept: ``RNNPOSTagger`` line by line (time-major ``nn.LSTM``, ``F.relu(self.dropout(embedding))``,
dropout 0.25 on the embeddings and the LSTM outputs, no dropout between the LSTM layers), ``init_weights``
(``normal_(0, 0.1)`` on every parameter), the pretrained embedding copy with the ``<unk>``/``<pad>`` rows zeroed,
``padding_idx = PAD_IDX = 1``, ``Adam`` with its defaults (lr 1e-3), batch 64, the flattened loss, the tag
vocabulary order (``<pad>`` 0, then the 17 tags by frequency: NOUN 1, PUNCT 2, ...), the buggy
``CrossEntropyLoss(ignore_index=PAD_IDX)`` / fixed ``CrossEntropyLoss(ignore_index=TAG_PAD_IDX)``.
Ported: the model takes batch-first (B, L) word ids and returns batch-first (B, L, 18) logits (it transposes to
the program's time-major layout around the tagger); ``loss_fn`` flattens them as the program does (the mean over
the non-ignored tokens does not depend on the order). Vocabulary 9,875 -> 4,000 word types (stand-in data).
From be306a9 only the criterion line is taken (its lower-casing of TEXT and the accuracy over non-pad tokens
are left out); the notebook's accuracy/evaluate/torch.save code is not part of the port.
Keras twin (Keras 3): ``Embedding(4000, 100)`` with the same stand-in GloVe matrix (``<unk>``/``<pad>`` rows 0) and
its output multiplied by ``(x != PAD_IDX)`` (what ``padding_idx`` does: the pad row stays 0 and gets no
gradient), ``Dropout(0.25)``, ``ReLU``, two ``Bidirectional(LSTM(128, return_sequences=True))`` (concatenated
directions, as torch), ``Dropout(0.25)``, ``Dense(18)``; ``RandomNormal(0, 0.1)`` kernels and recurrent kernels,
``unit_forget_bias=False``, the LSTM bias ``RandomNormal(0, 0.1 * sqrt(2))`` (torch's b_ih + b_hh), the Dense bias
``RandomNormal(0, 0.1)``; ``Adam(1e-3, epsilon=1e-8)``; the loss
``SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD_IDX)`` (buggy) / ``ignore_class=TAG_PAD_IDX``
(fixed), which averages over the non-ignored tokens exactly as torch's ``ignore_index`` (checked).
Data stand-in (no UDPOS / GloVe download): ``udpos_like``: sentences from a first-order Markov chain over the 17
UD tags, started from the EWT tag frequencies the notebook prints (NOUN 17.0 %, PUNCT 11.6 %, ... SYM 0.3 %) with 3
likely successors per tag (the chain's own mix: NOUN 20 %, VERB 14.5 %, PROPN 8.4 %, DET 8.2 %, PUNCT 7.8 %, ...),
words from tag-specific vocabularies (Zipf within a tag; 20 % of the word types also used by a second tag, so
context matters), 3 % of tokens '<unk>' (words under min_freq), sentence lengths gamma-distributed like EWT's
(mean ~16, 1..80); a 100-d "GloVe" matrix (per-dimension sd 0.44, row norm ~4.4, like glove.6B.100d) carrying some
tag information (a tag centroid plus noise). Batches as ``BucketIterator`` makes them for training: the sentences
shuffled, sorted by length within the pool, cut into batches of 64 (each padded with word id 1 / tag id 0 to its
longest sentence; 13 % of the positions are padding), the batch order shuffled. 20 training batches (1,280
sentences, 20,440 tokens). ``batch`` / ``batches``: 4 consecutive batches of that order (the 13th to 16th, padded
lengths 12 / 6 / 24 / 21; NOUN 17-21 % of their tokens, padding 3-12 %), chosen for step time (the longest batch,
77 wide, costs ~0.25 s a step on one loaded CPU thread); ``inputs``: 256 held-out sentences (3,976 tokens, 21.1 %
NOUN), padded to their longest (70).

Measured (my own plain loops, /tmp/s41/h59a/work/measure.py; OMP_NUM_THREADS=1; the module's builds and data;
training in train mode cycling over the 20 batches in their order, evaluation in eval mode on the 256 held-out
sentences over their real (non-pad) tokens, 21.1 % of them NOUN; seeds as in the module):
  First step's loss (the epoch's first batch, 64 x 7, train mode): torch 2.881 buggy / 2.918 fixed, Keras 2.887 /
    2.894 (ln 18 = 2.890 for both: the bug does not show there). Gradient at init on the output layer's NOUN row
    (torch, same batch): buggy weight-row norm 0.066 and bias gradient +0.051 (the NOUN logit only pushed down),
    fixed 0.168 and -0.129.
  torch, 10 epochs x 20 batches (the notebook's N_EPOCHS), after epochs 1 / 3 / 5 / 10: training loss buggy
    2.437 / 1.401 / 0.616 / 0.294, fixed 2.451 / 1.369 / 0.643 / 0.327 (the buggy loss is as low: it just leaves
    out the nouns); held-out token accuracy buggy 0.143 / 0.588 / 0.686 / 0.723, fixed 0.320 / 0.784 / 0.873 /
    0.908; held-out NOUN recall buggy 0.000 at every epoch (no token is ever predicted NOUN; the nouns go to ADJ
    226, PUNCT 110, PROPN 106, ... of 838), fixed 0.90 / 0.93 / 0.95 / 0.96 (804 of 838 right); held-out
    cross-entropy over the real tokens buggy 2.02 at the end (it rose to 3.23 after epoch 1), fixed 0.289.
    Accuracy with every noun wrong and everything else right would be 0.789.
  Keras, same loop (``train_on_batch``): training loss buggy 2.466 / 1.456 / 0.634 / 0.278, fixed 2.426 / 1.301 /
    0.612 / 0.311; held-out accuracy buggy 0.174 / 0.575 / 0.688 / 0.724, fixed 0.313 / 0.792 / 0.875 / 0.907;
    NOUN recall buggy 0.000 throughout (nouns -> ADP 149, PRON 112, PUNCT 102, ...), fixed 0.81 / 0.97 / 0.95 /
    0.95; held-out cross-entropy buggy 1.99, fixed 0.287.
  One batch (64 x 12) repeated, loss at steps 0 / 25 / 50 / 100 / 200: torch buggy 2.906 / 1.695 / 0.726 / 0.092 /
    0.018, fixed 2.930 / 1.832 / 0.724 / 0.104 / 0.017; Keras buggy 2.891 / 1.699 / 0.675 / 0.092 / 0.013, fixed
    2.904 / 1.732 / 0.673 / 0.081 / 0.016 -- both "overfit"; after 200 steps the buggy model tags that batch with
    accuracy 0.825 (NOUN recall 0.0), the fixed one 1.000.
  Time per step (batch of 64, one thread, on a 2-core machine under load 6-8): torch median 56-94 ms over the
    epoch (27-40 ms at 7 tokens wide, ~0.24 s at 41), Keras ``train_on_batch`` 110-116 ms median (36-41 ms at 7,
    ~0.49 s at 41); building the data 1.2 s once (cached); builds 0.04-0.08 s torch, 0.1-1.0 s Keras
    (the first build with the imports 2.8-4.3 s torch, 10-12 s Keras + TensorFlow under that load).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:loss_mask_ignores_real_class"
SOURCE = ("github:bentrevett/pytorch-pos-tagging '1 - Simple RNN PoS Tagger.ipynb' "
          "'criterion = nn.CrossEntropyLoss(ignore_index = PAD_IDX)' with PAD_IDX = TEXT.vocab.stoi[TEXT.pad_token] "
          "(= 1 = UD_TAGS 'NOUN') @12d9aae^ = 858603351401ebd3bf45d7228fe4db3eff5646b5; "
          "fix 12d9aaecaf3690e478babc082b0369fa8ffc217b 'fixed huge bug where i was ignoring losses from the "
          "most common token. accuracy on both models jumped 10-15%.' (CrossEntropyLoss()), then "
          "be306a9c52db640f037d5940dcae0087e83d4042 "
          "(CrossEntropyLoss(ignore_index = TAG_PAD_IDX))")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("init_loss", {"num_classes": 18})]

# the notebook's settings
BATCH_SIZE = 64
EMBEDDING_DIM = 100
HIDDEN_DIM = 128
N_LAYERS = 2
BIDIRECTIONAL = True
DROPOUT = 0.25
UD_TAG_ITOS = ("<pad>", "NOUN", "PUNCT", "VERB", "PRON", "ADP", "DET", "PROPN", "ADJ", "AUX", "ADV", "CCONJ", "PART",
               "NUM", "SCONJ", "X", "INTJ", "SYM")
UD_TAG_COUNTS = (34781, 23679, 23081, 18577, 17638, 16285, 12946, 12477, 12343, 10548, 6707, 5567, 3999, 3843, 847,
                 688, 599)  # UD_TAGS.vocab.freqs.most_common() in the notebook
OUTPUT_DIM = len(UD_TAG_ITOS)  # 18
UNK_IDX = 0  # TEXT.vocab.itos = ['<unk>', '<pad>', ...]
PAD_IDX = 1  # TEXT.vocab.stoi[TEXT.pad_token]
TAG_PAD_IDX = 0  # UD_TAGS.vocab.stoi[UD_TAGS.pad_token] (be306a9)
# port: stand-in sizes
VOCAB_SIZE = 4000  # 9,875 in the notebook
N_TRAIN_BATCHES = 20
N_HELD_OUT = 256
CHECK_BATCHES = slice(12, 16)  # 4 consecutive batches of the epoch (padded lengths 12, 6, 24, 21)
MAX_LEN = 80
SEED = 1234  # the notebook's SEED


@functools.lru_cache(maxsize=1)
def _language() -> dict[str, Any]:
    """The stand-in language: tag transitions, tag-specific word emitters and the 'GloVe' matrix."""
    g = np.random.default_rng(2019)
    n_tags = OUTPUT_DIM - 1
    tag_p = np.array(UD_TAG_COUNTS, float)
    tag_p /= tag_p.sum()
    trans = np.empty((n_tags, n_tags))
    for t in range(n_tags):
        succ = g.choice(n_tags, 3, replace=False, p=tag_p)
        row = 0.35 * tag_p.copy()
        row[succ] += 0.65 * g.dirichlet(np.ones(3))
        trans[t] = row / row.sum()
    words = np.arange(2, VOCAB_SIZE)
    main = g.choice(n_tags, len(words), p=np.sqrt(tag_p) / np.sqrt(tag_p).sum())
    second = np.where(g.random(len(words)) < 0.2, g.choice(n_tags, len(words), p=tag_p), -1)
    second[second == main] = -1
    emitters = []
    for t in range(n_tags):
        ws = words[(main == t) | (second == t)]
        p = 1.0 / np.arange(1, len(ws) + 1) ** 1.1
        emitters.append((ws, p / p.sum()))
    centroid = g.standard_normal((n_tags, EMBEDDING_DIM))
    emb = np.empty((VOCAB_SIZE, EMBEDDING_DIM))
    for i, w in enumerate(words):
        v = centroid[main[i]] + (0.7 * centroid[second[i]] if second[i] >= 0 else 0.0)
        emb[w] = 0.4 * (0.45 * v / np.linalg.norm(v) * np.sqrt(EMBEDDING_DIM) + g.standard_normal(EMBEDDING_DIM))
    emb[:2] = g.standard_normal((2, EMBEDDING_DIM))  # unk_init = normal_ (zeroed by the program afterwards)
    return {"tag_p": tag_p, "trans": trans, "emitters": emitters, "emb": emb.astype("float32")}


def udpos_like(n: int, seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``n`` stand-in UDPOS sentences: word ids (2.. words, 0 '<unk>') and tag ids (1..17, UD_TAGS order)."""
    lang = _language()
    rng = np.random.default_rng(seed)
    n_tags = OUTPUT_DIM - 1
    lengths = np.clip(np.round(rng.gamma(1.8, 9.0, n)), 1, MAX_LEN).astype(int)
    xs, ys = [], []
    for m in lengths:
        x, y = np.empty(m, "int64"), np.empty(m, "int64")
        t = rng.choice(n_tags, p=lang["tag_p"])
        for j in range(m):
            ws, p = lang["emitters"][t]
            x[j] = rng.choice(ws, p=p)
            y[j] = t + 1
            t = rng.choice(n_tags, p=lang["trans"][t])
        x[rng.random(m) < 0.03] = UNK_IDX
        xs.append(x)
        ys.append(y)
    return xs, ys


def _pad(xs: list[np.ndarray], ys: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """torchtext Field padding (batch-first here): words with '<pad>' = 1, tags with '<pad>' = 0."""
    m = max(len(x) for x in xs)
    xb = np.full((len(xs), m), PAD_IDX, "int64")
    yb = np.full((len(xs), m), TAG_PAD_IDX, "int64")
    for i, (x, y) in enumerate(zip(xs, ys)):
        xb[i, :len(x)] = x
        yb[i, :len(y)] = y
    return xb, yb


@functools.lru_cache(maxsize=1)
def _data() -> dict[str, Any]:
    """Training batches as BucketIterator (train: shuffle, pool of 100 batches sorted by length, batches shuffled),
    and the held-out sentences."""
    n = N_TRAIN_BATCHES * BATCH_SIZE
    xs, ys = udpos_like(n, seed=SEED)
    rng = np.random.default_rng(SEED)
    order = rng.permutation(n)
    order = sorted(order, key=lambda i: len(xs[i]))
    batches = [_pad([xs[i] for i in order[k:k + BATCH_SIZE]], [ys[i] for i in order[k:k + BATCH_SIZE]])
               for k in range(0, n, BATCH_SIZE)]
    batches = [batches[i] for i in rng.permutation(len(batches))]
    hx, hy = _pad(*udpos_like(N_HELD_OUT, seed=SEED + 1))
    return {"batches": batches, "held_out": (hx, hy), "emb": _language()["emb"]}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(SEED)

    class RNNPOSTagger(nn.Module):  # program lines
        def __init__(self, vocab_size, embedding_dim, hidden_dim, output_dim, n_layers, bidirectional, dropout,
                     pad_idx):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_idx)
            self.rnn = nn.LSTM(embedding_dim, hidden_dim, num_layers=n_layers, bidirectional=bidirectional)
            self.fc = nn.Linear(hidden_dim * 2 if bidirectional else hidden_dim, output_dim)
            self.dropout = nn.Dropout(dropout)

        def forward(self, text):
            # text = [sent len, batch size]
            embedded = F.relu(self.dropout(self.embedding(text)))
            outputs, (hidden, cell) = self.rnn(embedded)
            predictions = self.fc(self.dropout(outputs))
            # predictions = [sent len, batch size, output dim]
            return predictions

    class BatchFirst(RNNPOSTagger):  # port: (B, L) ids in, (B, L, 18) logits out
        def forward(self, text):
            return super().forward(text.t()).transpose(0, 1)

    model = BatchFirst(VOCAB_SIZE, EMBEDDING_DIM, HIDDEN_DIM, OUTPUT_DIM, N_LAYERS, BIDIRECTIONAL, DROPOUT, PAD_IDX)

    def init_weights(m):
        for name, param in m.named_parameters():
            nn.init.normal_(param.data, mean=0, std=0.1)

    model.apply(init_weights)
    d = _data()
    model.embedding.weight.data.copy_(torch.from_numpy(d["emb"]))
    model.embedding.weight.data[UNK_IDX] = torch.zeros(EMBEDDING_DIM)
    model.embedding.weight.data[PAD_IDX] = torch.zeros(EMBEDDING_DIM)

    if fixed:  # be306a9
        criterion = nn.CrossEntropyLoss(ignore_index=TAG_PAD_IDX)
    else:  # the notebook at 12d9aae^
        criterion = nn.CrossEntropyLoss(ignore_index=PAD_IDX)

    def loss_fn(predictions: Any, tags: Any) -> Any:  # train(): predictions.view(-1, C), tags.view(-1)
        return criterion(predictions.reshape(-1, predictions.shape[-1]), tags.reshape(-1))

    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in d["batches"][CHECK_BATCHES]]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(d["held_out"][0]),
            "loss_fn": loss_fn, "optimizer": lambda params: torch.optim.Adam(params)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)
    d = _data()
    emb = d["emb"].copy()
    emb[UNK_IDX] = 0.0
    emb[PAD_IDX] = 0.0
    normal = keras.initializers.RandomNormal(0.0, 0.1)

    def lstm() -> Any:
        return layers.Bidirectional(layers.LSTM(
            HIDDEN_DIM, return_sequences=True, kernel_initializer=normal, recurrent_initializer=normal,
            bias_initializer=keras.initializers.RandomNormal(0.0, 0.1 * np.sqrt(2.0)), unit_forget_bias=False),
            merge_mode="concat")

    text = keras.Input(shape=(None,), dtype="int64")
    embedded = layers.Embedding(VOCAB_SIZE, EMBEDDING_DIM, embeddings_initializer=keras.initializers.Constant(emb))(
        text)
    not_pad = layers.Lambda(lambda t: ops.expand_dims(ops.cast(ops.not_equal(t, PAD_IDX), "float32"), -1))(text)
    embedded = layers.Multiply()([embedded, not_pad])  # padding_idx: the pad row stays 0, no gradient
    h = layers.ReLU()(layers.Dropout(DROPOUT)(embedded))
    for _ in range(N_LAYERS):
        h = lstm()(h)
    predictions = layers.Dense(OUTPUT_DIM, kernel_initializer=normal, bias_initializer=normal)(
        layers.Dropout(DROPOUT)(h))
    model = keras.Model(text, predictions)
    ignore = TAG_PAD_IDX if fixed else PAD_IDX
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3, epsilon=1e-8),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=ignore))
    bs = d["batches"][CHECK_BATCHES]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": d["held_out"][0]}


buggy, fixed = versions(_torch, _keras)
