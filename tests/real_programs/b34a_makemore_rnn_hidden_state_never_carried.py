"""karpathy/makemore (character-level language models that "make more" of the names in ``names.txt``),
``--type rnn`` (and ``--type gru``): ``RNN.forward`` embeds the word (``wte``), starts from the learned
``start`` state, steps a ``RNNCell`` (``h_t = tanh(xh_to_h(cat[x_t, h_{t-1}]))``) over the 16 positions
and reads every hidden state out through ``lm_head``; loss ``F.cross_entropy(..., ignore_index=-1)``,
``AdamW(lr=5e-4, weight_decay=0.01, betas=(0.9, 0.99), eps=1e-8)``, batch size 32, n_embd = n_embd2 = 64.
The fault is in the time loop of ``RNN.forward``::

    hprev = self.start.expand((b, -1))
    for i in range(t):
        xt = emb[:, i, :]
        ht = self.cell(xt, hprev)
        hiddens.append(ht)          # hprev is never set to ht

so every step's cell is fed the learned start state, never the previous step's hidden state: the
"recurrent" network is a per-character MLP and its prediction of the next character sees the current
character only (a bigram model with extra steps). Nothing crashes, every parameter gets a gradient, the
loss goes down; it just stalls at the bigram loss and no batch can be fitted beyond it.

Source: github.com/karpathy/makemore PR #3 ("Fix bug in RNN where hprev always referred to start"), fix
commit bf386250141f18f61321bc4b9a56c7b67c0b1668 (Norman Yu, "Fix bug in RNN where hprev always referred
to start. Change so that hprev refers to output of previous cell"), merged as f61811b. Buggy file:
``makemore.py`` at bf38625^ (``RNNCell``, ``RNN``, ``CharDataset``, training loop, argparse defaults).
Fix: ``hprev = ht`` after ``ht = self.cell(xt, hprev)``.
Fault label: other:recurrent_state_not_carried (none of the listed causes: the recurrence is cut, the
model's outputs at position t do not depend on positions < t).

Program lines kept: ``RNNCell`` and ``RNN`` (``start`` parameter, ``wte`` over vocab_size tokens,
``lm_head``; the buggy and the fixed time loop), the loss line of ``RNN.forward`` as ``loss_fn``,
``CharDataset.__getitem__`` (x = <START>=0 then the letters, zero padded; y = the letters, 0 as the end
token, then -1 to mask the loss), the default ``ModelConfig`` sizes and the argparse defaults for the
optimizer (AdamW lr 5e-4, weight decay 0.01, betas (0.9, 0.99), eps 1e-8) and batch size 32.
Ported minimally: the model returns the logits and ``loss_fn`` computes the program's loss line (the
program's ``forward`` returns ``(logits, loss)``); ``F.tanh`` is ``torch.tanh``; the infinite random
sampler is a fixed list of 8 seeded batches. Keras twin (Keras 3): a subclassed model with the same
``start`` weight, Embedding, Dense(tanh) cell over the concatenation and Dense head, looping over the 16
positions the same way (the buggy loop never reassigns ``hprev``); loss
``SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1)``; optimizer
``AdamW(5e-4, weight_decay=0.01, beta_1=0.9, beta_2=0.99, epsilon=1e-8)``.
Data stand-in (``names.txt``, 32k names, 26 letters, longest 15, is not shipped here): 2000 seeded
synthetic names over the same 26 lower-case letters, 3..14 long (mean 6.1, as names.txt), drawn from
a sparse order-2 Markov chain (each pair of previous characters allows 2-3 next letters, the chance to
end grows with length), so the next character depends on more than the current one, as in real names.
Same vocabulary (27 with the 0 token) and block size (16) as the program.

Measured (my own loop: ``opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()``, seed 0,
OMP_NUM_THREADS=1, torch, ~2 ms a step): cycling over the 8 batches, buggy 3.327 (step 1) -> 2.719 (100)
-> 2.375 (300) -> 2.167 (600) -> 2.138 (1000), fixed 3.336 -> 2.522 -> 1.895 -> 1.363 -> 1.142 (the buggy
model stalls near the bigram entropy of the data). One batch of 32 names repeated: buggy 3.327 -> 2.369
(100) -> 1.896 (300) -> 1.825 (600) -> 1.815 (1000), fixed 3.336 -> 2.001 -> 0.673 -> 0.459 -> 0.437 (the
fixed floor is the unpredictable first letter). Keras (``train_on_batch``, ~4 ms a step), one batch:
buggy 3.296 -> 2.661 (100) -> 2.005 (300) -> 1.839 (600), fixed 3.299 -> 2.315 -> 0.856 -> 0.471; cycling:
buggy 3.296 -> 2.879 -> 2.469 -> 2.216, fixed 3.299 -> 2.733 -> 2.143 -> 1.594. Changing input positions
1..3 leaves the logits at positions >= 5 unchanged in the buggy model (max abs difference 0.0, both
frameworks, untrained and trained) and moves them in the fixed one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "other:recurrent_state_not_carried"
SOURCE = ("github:karpathy/makemore PR #3 (makemore.py RNN.forward@bf38625^, RNNCell, CharDataset; "
          "fix bf386250141f18f61321bc4b9a56c7b67c0b1668, merge f61811b)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("init_loss", {})]

# makemore.py defaults (ModelConfig, argparse)
n_embd = 64
n_embd2 = 64
batch_size = 32
learning_rate = 5e-4
weight_decay = 0.01
CHARS = "abcdefghijklmnopqrstuvwxyz"
vocab_size = len(CHARS) + 1  # CharDataset.get_vocab_size: all the characters and the special 0 token
max_word_length = 15
block_size = max_word_length + 1  # CharDataset.get_output_length: <START> token followed by words


def _words() -> list[str]:
    """Stand-in for names.txt (``_data.markov_names``)."""
    from tests.real_programs._data import markov_names

    return markov_names(2000, 8, max_length=max_word_length)


def _xy(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    stoi = {ch: i + 1 for i, ch in enumerate(CHARS)}
    xs, ys = [], []
    for word in words:  # CharDataset.__getitem__ (program lines)
        ix = [stoi[w] for w in word]
        x = np.zeros(max_word_length + 1, dtype=np.int64)
        y = np.zeros(max_word_length + 1, dtype=np.int64)
        x[1:1 + len(ix)] = ix
        y[:len(ix)] = ix
        y[len(ix) + 1:] = -1  # index -1 will mask the loss at the inactive locations
        xs.append(x)
        ys.append(y)
    return np.stack(xs), np.stack(ys)


def _batches(n_batches: int = 8, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    x, y = _xy(_words())
    rng = np.random.default_rng(seed + 1)
    out = []
    for _ in range(n_batches):
        idx = rng.choice(len(x), batch_size, replace=False)
        out.append((x[idx], y[idx]))
    return out


def _build(framework: str, carry_state: bool) -> dict[str, Any]:
    data = _batches()
    if framework == "keras":
        import keras
        from keras import layers, ops

        keras.utils.set_random_seed(0)

        class RNN(keras.Model):  # RNN / RNNCell of makemore.py in Keras 3
            def __init__(self):
                super().__init__()
                self.start = self.add_weight(shape=(1, n_embd2), initializer="zeros", name="start")
                self.wte = layers.Embedding(vocab_size, n_embd)
                self.xh_to_h = layers.Dense(n_embd2, activation="tanh")
                self.lm_head = layers.Dense(vocab_size)

            def call(self, idx):
                emb = self.wte(idx)
                b = ops.shape(idx)[0]
                hprev = ops.broadcast_to(self.start, (b, n_embd2))
                hiddens = []
                for i in range(block_size):
                    xt = emb[:, i, :]
                    ht = self.xh_to_h(ops.concatenate([xt, hprev], axis=1))
                    if carry_state:  # the fix
                        hprev = ht
                    hiddens.append(ht)
                return self.lm_head(ops.stack(hiddens, axis=1))

        model = RNN()
        model.build((None, block_size))
        model.compile(optimizer=keras.optimizers.AdamW(learning_rate, weight_decay=weight_decay, beta_1=0.9,
                                                       beta_2=0.99, epsilon=1e-8),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1))
        bs = [(x.astype("int32"), y.astype("int32")) for x, y in data]
        return {"model": model, "batch": bs[0], "batches": bs, "inputs": np.concatenate([x for x, _ in bs[:4]])}

    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(0)

    class RNNCell(nn.Module):  # program lines
        def __init__(self):
            super().__init__()
            self.xh_to_h = nn.Linear(n_embd + n_embd2, n_embd2)

        def forward(self, xt, hprev):
            xh = torch.cat([xt, hprev], dim=1)
            ht = torch.tanh(self.xh_to_h(xh))
            return ht

    class RNN(nn.Module):  # program lines; returns the logits, the loss line is loss_fn
        def __init__(self):
            super().__init__()
            self.block_size = block_size
            self.vocab_size = vocab_size
            self.start = nn.Parameter(torch.zeros(1, n_embd2))  # the starting hidden state
            self.wte = nn.Embedding(vocab_size, n_embd)  # token embeddings table
            self.cell = RNNCell()
            self.lm_head = nn.Linear(n_embd2, self.vocab_size)

        def forward(self, idx):
            b, t = idx.size()
            emb = self.wte(idx)  # (b, t, n_embd)
            hprev = self.start.expand((b, -1))  # expand out the batch dimension
            hiddens = []
            for i in range(t):
                xt = emb[:, i, :]  # (b, n_embd)
                ht = self.cell(xt, hprev)  # (b, n_embd2)
                if carry_state:  # the fix (bf38625)
                    hprev = ht
                hiddens.append(ht)
            hidden = torch.stack(hiddens, 1)  # (b, t, n_embd2)
            logits = self.lm_head(hidden)
            return logits

    def loss_fn(logits, targets):  # RNN.forward's loss line
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-1)

    def optimizer(params):
        return torch.optim.AdamW(params, lr=learning_rate, weight_decay=weight_decay, betas=(0.9, 0.99), eps=1e-8)

    bs = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
    return {"model": RNN(), "batch": bs[0], "batches": bs, "inputs": torch.cat([x for x, _ in bs[:4]]),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, carry_state=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, carry_state=True)
