"""Character-level RNN language model over names (yandexdataschool/Practical_DL, week 6 seminar
``week06_rnn/seminar_pytorch.ipynb``, ``CharRNNLoop``: Embedding(num_tokens, 16), ``nn.RNN(16, 64,
batch_first=True)``, Linear(64, num_tokens), ``log_softmax``) whose loss pairs the outputs and the tokens
with the shift the wrong way round: ``F.nll_loss(logp_seq[:, 1:]..., batch_ix[:, :-1]...)``. The output at
step t+1 is scored against token t, which the RNN read one step earlier, so the model is trained to echo
the PREVIOUS character instead of predicting the next one: the loss falls far below a real language
model's (copying is easy) while the model learns nothing it can generate names with.

Source: github.com/yandexdataschool/Practical_DL, ``week06_rnn/seminar_pytorch.ipynb``: PR #50 ("fix
loss", commit 1f68c684ecfcf3c0b2ccad522824470392b47c8d, merged by the maintainer in 529af9f) fixed the
same two lines in the LSTM cell, and the maintainer's commit 7db0ced99225a6fbdfe9cdaf3f993ae0efd8f48a
("predict next, not previous token in demo") fixed them in the ``CharRNNLoop`` cell ported here
(notebook at 7db0ced^). Program lines kept: ``CharRNNLoop`` (emb_size=16, rnn_num_units=64), the loss
(``F.nll_loss`` on ``log_softmax`` outputs "with some duct tape"), the seminar's training loop settings
(``torch.optim.Adam(...)`` with its default lr 1e-3, ``to_matrix(sample(lines, 32), max_len=MAX_LENGTH)``:
batches of 32 names padded with the start/pad token " " to MAX_LENGTH, int64 token ids).
Data stand-in (no download of the ``names`` file): seeded synthetic names, each " " + a capitalised
name of 3-10 letters built from consonant-vowel syllables, padded with " " to MAX_LENGTH = 16; the token
list is " '-" + A-Z + a-z (55 tokens; the seminar asserts 50 < num_tokens < 60).
Fault label: other:targets_shifted_backwards|target_leakage (the model is scored on the previous token, not the
next: a token it has already read, which is what target_leakage names; the alternative was added on
2026-12-04, when a check first named it).
Fix (7db0ced / 1f68c68): ``F.nll_loss(logp_seq[:, :-1]..., batch_ix[:, 1:]...)``.
Keras twin: the same network in Keras 3 (Embedding(55, 16), SimpleRNN(64, return_sequences=True),
Dense(55) logits) compiled with ``SparseCategoricalCrossentropy(from_logits=True)`` and ``Adam(1e-3)``;
the shift sits in the model as ``Cropping1D`` over its outputs: buggy ``Cropping1D((1, 0))`` (outputs
1..T-1) with targets ``batch_ix[:, :-1]``, fixed ``Cropping1D((0, 1))`` (outputs 0..T-2) with targets
``batch_ix[:, 1:]``.
Symptom (300 steps of 32 names): the buggy training loss falls to 0.3 (torch) / 0.56 (Keras), below the
fixed 1.33, while the buggy model's next-token NLL on held-out names stays at 3.4 / 3.1 (uniform: 4.0)
against 1.38 / 1.37 for the fixed one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "other:targets_shifted_backwards|target_leakage"
SOURCE = ("github:yandexdataschool/Practical_DL week06_rnn/seminar_pytorch.ipynb@7db0ced^ "
          "(CharRNNLoop; fix 7db0ced, same fix for the LSTM cell in PR #50, 1f68c68)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("init_loss", {}), ("gradients_flow", {}), ("loss_decreases", {}), ("overfit_one_batch", {})]

start_token = " "
tokens = list(" '-ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
num_tokens = len(tokens)
token_to_id = {t: i for i, t in enumerate(tokens)}
MAX_LENGTH = 16
batch_size = 32
emb_size = 16
rnn_num_units = 64
lr = 1e-3  # torch.optim.Adam default


def _lines(n: int = 2000, seed: int = 0) -> list[str]:
    """Stand-in for the ``names`` file: " " + synthetic names of consonant-vowel syllables."""
    rng = np.random.default_rng(seed)
    cons, vows = "bcdfghjklmnprstvwz", "aeiouy"
    out = []
    for _ in range(n):
        k = rng.integers(2, 6)
        s = "".join(cons[rng.integers(len(cons))] + vows[rng.integers(len(vows))] for _ in range(k))
        if rng.random() < 0.5:
            s += cons[rng.integers(len(cons))]
        out.append(start_token + s[:10].capitalize())
    return out


def to_matrix(lines, max_len=None, pad=token_to_id[' '], dtype='int32', batch_first=True):  # program lines
    """Casts a list of names into rnn-digestable matrix"""
    max_len = max_len or max(map(len, lines))
    lines_ix = np.zeros([len(lines), max_len], dtype) + pad
    for i in range(len(lines)):
        line_ix = [token_to_id[c] for c in lines[i]]
        lines_ix[i, :len(line_ix)] = line_ix
    if not batch_first:  # convert [batch, time] into [time, batch]
        lines_ix = np.transpose(lines_ix)
    return lines_ix


def _batches(n_batches: int = 4, seed: int = 0) -> list[np.ndarray]:
    lines = _lines()
    rng = np.random.default_rng(seed)
    return [to_matrix([lines[i] for i in rng.choice(len(lines), batch_size, replace=False)],
                      max_len=MAX_LENGTH).astype("int64") for _ in range(n_batches)]


def _build(framework: str, next_token: bool) -> dict[str, Any]:
    mats = _batches()
    if framework == "keras":
        import keras
        from keras import layers

        keras.utils.set_random_seed(0)
        crop = (0, 1) if next_token else (1, 0)
        model = keras.Sequential([
            keras.Input((MAX_LENGTH,), dtype="int32"),
            layers.Embedding(num_tokens, emb_size),
            layers.SimpleRNN(rnn_num_units, return_sequences=True),
            layers.Dense(num_tokens),
            layers.Cropping1D(crop),
        ])
        model.compile(optimizer=keras.optimizers.Adam(lr),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        bs = [(m, m[:, 1:] if next_token else m[:, :-1]) for m in mats]
        return {"model": model, "batch": bs[0], "batches": bs}

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(0)

    class CharRNNLoop(nn.Module):  # program lines
        def __init__(self, num_tokens=num_tokens, emb_size=16, rnn_num_units=64):
            super(self.__class__, self).__init__()
            self.emb = nn.Embedding(num_tokens, emb_size)
            self.rnn = nn.RNN(emb_size, rnn_num_units, batch_first=True)
            self.hid_to_logits = nn.Linear(rnn_num_units, num_tokens)

        def forward(self, x):
            h_seq, _ = self.rnn(self.emb(x))
            next_logits = self.hid_to_logits(h_seq)
            next_logp = F.log_softmax(next_logits, dim=-1)
            return next_logp

    def loss_fn(logp_seq, batch_ix):
        # compute loss. This time we use nll_loss with some duct tape
        if next_token:  # the fix
            return F.nll_loss(logp_seq[:, :-1].contiguous().view(-1, num_tokens),
                              batch_ix[:, 1:].contiguous().view(-1))
        return F.nll_loss(logp_seq[:, 1:].contiguous().view(-1, num_tokens),
                          batch_ix[:, :-1].contiguous().view(-1))

    bs = [(torch.tensor(m), torch.tensor(m)) for m in mats]
    return {"model": CharRNNLoop(), "batch": bs[0], "batches": bs, "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, next_token=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, next_token=True)
