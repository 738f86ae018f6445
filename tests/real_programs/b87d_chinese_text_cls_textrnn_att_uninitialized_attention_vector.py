"""TextRNN_Att (bi-LSTM + attention) for Chinese news-title classification, with its attention vector
``self.w`` created by ``torch.Tensor(n)`` and so never initialised.

Source
  github:649453932/Chinese-Text-Classification-Pytorch, models/TextRNN_Att.py at
  366c432aa731fb6b34f6046d011eba18fd29ed50 (= 6cb2681^; the ``self.w`` line dates from the file's first
  commit e205535), trained by run.py and train_eval.py of the same tree
  (``python run.py --model TextRNN_Att``).
  Report: issue #8 '貌似TextRNN_Att有问题！' ('TextRNN_Att seems to have a problem'): the loss turns into NaN.
  The maintainer reran it five times and saw NaN once ('应该是代码里有bug'); another user traced it
  to the line ``self.w = nn.Parameter(torch.Tensor(config.hidden_size * 2))``; the thread also links
  PR #19 as a proposed fix (its diff not checked here).
  Fix: commit 6cb26819af7b646275aff8a4693676f2849e67f6 'solved null problem in TextRNN_Att', which
  changes that one line to ``self.w = nn.Parameter(torch.zeros(config.hidden_size * 2))``.

Fault label
  ``torch.Tensor(hidden_size * 2)`` (256 in the program, 64 in this port) allocates the attention
  query vector without writing to it: its values are
  whatever bytes the allocator hands back. run.py then calls ``init_network(model)``, which only
  re-initialises parameters whose names contain 'weight' or 'bias' (and skips the embedding), so the
  parameter named ``w`` keeps that garbage. When the memory happens to hold NaN, Inf or huge numbers,
  ``softmax(M @ w)`` is NaN, the logits and the cross-entropy are NaN from the first batch, Adam
  writes NaN into every parameter the loss reaches, and the classifier never learns. When the memory
  happens to hold tiny numbers (denormal pointer bits, the common case) the program trains normally,
  which is why the bug showed up in only some runs.
  Cause: an uninitialised parameter feeding the forward pass, so the model's outputs (and the loss)
  are not finite.

Kept verbatim
  The Config values the model uses (num_layers 2, hidden_size2 64, dropout 0.5, pad_size 32,
  batch_size 128, learning_rate 1e-3; embed and hidden_size shrunk, below), the
  Model class body (embedding with padding_idx=n_vocab - 1, 2-layer bidirectional LSTM with dropout,
  tanh, ``self.w`` line, softmax over time, weighted sum, relu, fc1, fc), run.py's
  ``torch.manual_seed(1)`` before building and ``init_network`` (xavier_normal_ for 'weight',
  zero for 'bias', embedding excluded), and train_eval.py's Adam(model.parameters(), lr=1e-3) with
  ``F.cross_entropy(outputs, labels)``.

Changed
  - ``forward`` takes the token-id tensor itself. The original takes the iterator's ``(x, seq_len)``
    pair and throws ``seq_len`` away at once (``x, _ = x``), so nothing the model computes changes.
  - Uninitialised memory is not reproducible, so the buggy builder creates the model with
    ``torch.use_deterministic_algorithms(True)`` switched on (and the previous setting restored
    afterwards): PyTorch then fills uninitialised tensors with NaN
    (``torch.utils.deterministic.fill_uninitialized_memory``). This stands for the failing runs of
    the issue; the line ``torch.Tensor(config.hidden_size * 2)`` itself is unchanged. Without that
    switch this machine returned values like 3.8e-27 and 4.6e-41 for a fresh ``torch.Tensor(256)``
    (the lucky runs, which train like the fixed program). The fixed builder uses the same switch, so
    both differ only by ``torch.Tensor`` -> ``torch.zeros``.
  - Embedding: ``--embedding random`` (a supported option of run.py) instead of the Sogou News
    pre-trained vectors, which are not available offline: nn.Embedding(n_vocab, 300,
    padding_idx=n_vocab - 1) with PyTorch's N(0, 1) init, left untouched by init_network.
  - Shrunk: embed 300 -> 64 and hidden_size 128 -> 32 (so ``w`` has 64 entries instead of 256).
    At full size one training step took ~650 ms on one CPU core (over a minute per hundred steps);
    shrunk it takes 60-90 ms. Depth, batch size, sequence length and everything else are as in the
    program; the shape comments kept in ``forward`` are the original's.

Data stand-in (THUCNews titles, char level, 10 classes, pad_size 32)
  Seeded synthetic titles over a vocabulary of 4800 characters plus <UNK> and <PAD> (ids 4800, 4801;
  build_vocab appends them last, so PAD = n_vocab - 1 as in the model). Each title has 12-32
  characters, padded with <PAD> to 32 as utils.load_dataset does; each character is drawn with
  probability 0.35 from its class's own 40 topic characters, otherwise from a Zipf-like distribution
  over the whole vocabulary. Labels 0..9 balanced. 100 training batches of 128 and 256 held-out titles.

Measured (plain loop in this folder: the module's builds, the program's step
  ``outputs = model(x); model.zero_grad(); loss = F.cross_entropy(outputs, y); loss.backward();
  optimizer.step()``, model in train mode, 100 batches once, OMP_NUM_THREADS=1, torch 2.13 CPU)
  buggy: loss NaN at step 0 and at all 100 steps; after the first Adam step every LSTM, fc1, fc
    parameter and ``w`` is NaN, and after 100 steps only 29 of the 4802 embedding rows are still
    finite (ids never seen in a batch); held-out accuracy 0.086 = the share of class 0, since the
    argmax of all-NaN logits is 0 for every title.
  fixed: loss 2.303 / 2.292 / 2.278 / 2.129 / 1.570 / 1.081 / 0.637 at steps 0 / 10 / 20 / 40 / 60 /
    80 / 99 (slow start while the attention is uniform, then it learns); ``w`` moves off zero (max
    |w| 0.11 after 100 steps); held-out accuracy 0.820 (chance 0.10).
  Time per step: ~60-90 ms (batch 128, one thread). Build: first ~5 s (import torch, data), later
    0.01 s. Both builds are identical across calls (same initial parameters; NaN where NaN).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "outputs_not_finite|loss_not_finite"
SOURCE = ("github:649453932/Chinese-Text-Classification-Pytorch issue #8 (models/TextRNN_Att.py@366c432 "
          "'self.w = nn.Parameter(torch.Tensor(config.hidden_size * 2))', run.py init_network, train_eval.py; "
          "fix 6cb26819af7b646275aff8a4693676f2849e67f6 'solved null problem in TextRNN_Att', PR #19)")
FRAMEWORKS = ("torch",)
CHECKS = [("init_loss", {"num_classes": 10}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("gradients_flow", {})]

N_CHARS = 4800  # characters in the vocabulary, before <UNK> and <PAD>
N_VOCAB = N_CHARS + 2
NUM_CLASSES = 10
PAD_SIZE = 32
BATCH_SIZE = 128
N_BATCHES = 100
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Synthetic char-level news titles: (ids int64 (n, 32), labels int64 (n,)) for training and held out."""
    r = np.random.default_rng(SEED)
    topic = np.stack([r.choice(N_CHARS, 40, replace=False) for _ in range(NUM_CLASSES)])
    zipf = 1.0 / np.arange(1, N_CHARS + 1) ** 1.05
    zipf /= zipf.sum()
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    y = np.arange(n) % NUM_CLASSES
    r.shuffle(y)
    x = np.full((n, PAD_SIZE), N_VOCAB - 1, dtype="int64")  # <PAD>
    lengths = r.integers(12, PAD_SIZE + 1, n)
    for i in range(n):
        k = lengths[i]
        common = r.choice(N_CHARS, k, p=zipf)
        own = topic[y[i], r.integers(0, 40, k)]
        x[i, :k] = np.where(r.random(k) < 0.35, own, common)
    n_tr = N_BATCHES * BATCH_SIZE
    return x[:n_tr], y[:n_tr].astype("int64"), x[n_tr:], y[n_tr:].astype("int64")


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Config(object):
        def __init__(self):
            self.dropout = 0.5
            self.num_classes = NUM_CLASSES
            self.n_vocab = N_VOCAB
            self.batch_size = BATCH_SIZE
            self.pad_size = PAD_SIZE
            self.learning_rate = 1e-3
            self.embed = 64  # --embedding random: 300 in the program (shrunk, see docstring)
            self.hidden_size = 32  # 128 in the program (shrunk, see docstring)
            self.num_layers = 2
            self.hidden_size2 = 64
            self.embedding_pretrained = None

    class Model(nn.Module):
        def __init__(self, config):
            super(Model, self).__init__()
            if config.embedding_pretrained is not None:
                self.embedding = nn.Embedding.from_pretrained(config.embedding_pretrained, freeze=False)
            else:
                self.embedding = nn.Embedding(config.n_vocab, config.embed, padding_idx=config.n_vocab - 1)
            self.lstm = nn.LSTM(config.embed, config.hidden_size, config.num_layers,
                                bidirectional=True, batch_first=True, dropout=config.dropout)
            self.tanh1 = nn.Tanh()
            # self.u = nn.Parameter(torch.Tensor(config.hidden_size * 2, config.hidden_size * 2))
            if fixed:  # 6cb2681
                self.w = nn.Parameter(torch.zeros(config.hidden_size * 2))
            else:
                self.w = nn.Parameter(torch.Tensor(config.hidden_size * 2))
            self.tanh2 = nn.Tanh()
            self.fc1 = nn.Linear(config.hidden_size * 2, config.hidden_size2)
            self.fc = nn.Linear(config.hidden_size2, config.num_classes)

        def forward(self, x):  # the original: def forward(self, x): x, _ = x  (drops seq_len)
            emb = self.embedding(x)  # [batch_size, seq_len, embeding]=[128, 32, 300]
            H, _ = self.lstm(emb)  # [batch_size, seq_len, hidden_size * num_direction]=[128, 32, 256]

            M = self.tanh1(H)  # [128, 32, 256]
            # M = torch.tanh(torch.matmul(H, self.u))
            alpha = F.softmax(torch.matmul(M, self.w), dim=1).unsqueeze(-1)  # [128, 32, 1]
            out = H * alpha  # [128, 32, 256]
            out = torch.sum(out, 1)  # [128, 256]
            out = F.relu(out)
            out = self.fc1(out)
            out = self.fc(out)  # [128, 64]
            return out

    def init_network(model, method='xavier', exclude='embedding', seed=123):  # train_eval.py
        for name, w in model.named_parameters():
            if exclude not in name:
                if 'weight' in name:
                    if method == 'xavier':
                        nn.init.xavier_normal_(w)
                    elif method == 'kaiming':
                        nn.init.kaiming_normal_(w)
                    else:
                        nn.init.normal_(w)
                elif 'bias' in name:
                    nn.init.constant_(w, 0)
                else:
                    pass

    config = Config()
    np.random.seed(1)
    torch.manual_seed(1)  # run.py
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)  # uninitialised memory -> NaN, reproducibly (see docstring)
    try:
        model = Model(config)
    finally:
        torch.use_deterministic_algorithms(was_deterministic)
    init_network(model)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate)

    def loss_fn(outputs, labels):
        return F.cross_entropy(outputs, labels)

    x, y, xh, _ = _data()
    xt, yt = torch.tensor(x), torch.tensor(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, len(xt), BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(xh),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
