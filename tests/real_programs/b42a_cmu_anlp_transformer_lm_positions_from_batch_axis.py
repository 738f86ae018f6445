"""CMU CS11-711 Advanced NLP (Fall 2025), lecture 5 notebook ``05_transformers/transformer.ipynb`` (Sean Welleck):
a small decoder-only Transformer language model over the characters of ``names.txt`` (32k first names). Tokens: the 26
lower-case letters (0..25), ``[S]`` = 26 (start and stop), ``[PAD]`` = 27; ``build_dataset``: X = [S] + letters,
Y = letters + [S]. ``TransformerLM(vocab_size=28, d_model=64, nhead=2, num_layers=2, dim_ff=64)``: token
``nn.Embedding`` plus a learned position ``nn.Embedding(max_len=128, d_model)``, two pre-norm ``Block``s
(``nn.MultiheadAttention(batch_first=True)`` with a causal mask, ReLU feed-forward 64 -> 64 -> 64), ``fc`` to the 28
tokens. ``pad_batch`` pads X and Y with ``[PAD]`` to the longest name of the batch; loss
``nn.CrossEntropyLoss(ignore_index=[PAD])`` on ``outputs.view(-1, 28)`` / ``Y_batch.view(-1)``;
``optim.Adam(lr=0.001)``, ``batch_size = 16``, 10 epochs, data reshuffled each epoch.

The fault is in ``TransformerLM.forward``, which builds the position ids from the wrong axis of the (batch, time)
token tensor::

    pos = torch.arange(x.size(0), device=x.device).unsqueeze(1)     # buggy: (B, 1), the index in the batch
    pos = torch.arange(x.size(1), device=x.device).unsqueeze(0)     # fixed: (1, T), the index in the sequence

so every token of the b-th name of a batch gets the same "position" embedding, row b of ``pos_encoder``, and no
token gets its position in the name. Nothing crashes (the (B, 1, 64) embedding broadcasts over time for batches of
up to 128 names), the loss goes down; the model just has no order information beyond what the causal mask implies,
and its output for a name depends on where the name sits in the batch (a name sampled alone is always "sample 0").

Source: github.com/cmu-l3/anlp-fall2025-code, ``05_transformers/transformer.ipynb`` at
7aa39dfad7a6480987afa5a922ab25a714c4dc10^ (= 2bbf0db), issue #1 "positional encoding fix for 05_transformers?"
("after broadcasting, all tokens in the same sequence get the SAME positional encoding"; author: "Oops, good
catch. I updated the code."), fix commit 7aa39dfad7a6480987afa5a922ab25a714c4dc10 "Update transformer" (Jan 18
2026): ``x.size(0) ... unsqueeze(1)`` -> ``x.size(1) ... unsqueeze(0)``. The notebook's own outputs: buggy validation
loss 2.0927 after 10 epochs, fixed 2.0653 (train 2.0561 vs 2.0109).
Fault label: batch_mixing|other:position_ids_from_batch_axis (the per-sample output depends on the sample's slot in the
batch, and the positional signal is lost).

Program lines kept: ``Block`` (pre-norm as written: the residual is added to the normalised x; ``is_causal=True`` with
the ``triu`` boolean mask buffer of max_len 128), ``TransformerLM`` with the notebook's sizes (28, 64, 2, 2, 64), the
buggy and the fixed ``pos`` line, ``build_dataset`` and ``pad_batch``, the loss lines of the training loop as
``loss_fn`` (``CrossEntropyLoss(ignore_index=27)`` on the flattened logits and targets), ``Adam(lr=0.001)`` and
batches of 16 names padded to the longest name of the batch.
Ported: the epoch loop over the shuffled list becomes 8 fixed seeded batches; the dev-loss and sampling cells are left
out. ``inputs`` holds 128 names padded to a common length, not a few hundred: the buggy ``forward`` indexes the
128-row position table with the batch index, so a forward pass over more than 128 names at once raises an IndexError
(the program itself never sees a batch larger than 16), and I did not want a crash to stand in for the symptom.
Keras twin (Keras 3): the same layers (``MultiHeadAttention(num_heads=2, key_dim=32)`` with ``use_causal_mask=True``,
``LayerNormalization(epsilon=1e-5)``, ``Embedding`` x2, ``Dense``), the position ids built from ``ops.shape(x)[0]``
(buggy) or ``ops.shape(x)[1]`` (fixed), ``SparseCategoricalCrossentropy(from_logits=True, ignore_class=27)``,
``Adam(0.001)``.
Data stand-in (names.txt is not shipped): 4000 seeded synthetic names over the same 26 letters, 3..15 long (mean 6.1,
longest drawn 13; names.txt: mean 6.1, longest 15), drawn from a sparse order-2 Markov chain whose chance to end
grows with the length, so the next letter depends on the two previous letters in order and the end on the position,
as in real names; same vocabulary (28), same token ids and the notebook's [S]/[PAD] layout.
Checks: what a user of a small Transformer LM would write: the initial loss near ln 28, the loss going down, one batch
fitted, gradients reaching every layer, and batch independence (padding and attention masks over a padded batch are
the usual place where a Transformer lets samples leak into each other).

Measured (my own loops, /tmp/h42a/measure*.py: torch ``opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()``,
Keras ``train_on_batch``; seed 0 as built here, OMP_NUM_THREADS=1; torch 4-12 ms a step, Keras ~17 ms):
  Program-like training (fresh shuffled batches of 16 from 3000 stand-in names, loss on 1000 held-out names in
  batches of 16, as the notebook's dev loss): torch buggy 2.222 (200 steps) -> 1.906 (500) -> 1.747 (1000) -> 1.667
  (1500) -> 1.563 (3000), fixed 2.012 -> 1.753 -> 1.631 -> 1.572 -> 1.519; held-out names scored one at a time after
  3000 steps (as sampling sees them): buggy 1.512, fixed 1.477. Keras buggy 1.776 (500) -> 1.672 (1000) -> 1.606
  (1500), fixed 1.723 -> 1.618 -> 1.577. The buggy model generalises worse throughout, as in the notebook's own log.
  The 8 fixed batches cycled (mean loss over them; init ln 28 = 3.33): torch buggy 3.585 (init) -> 1.792 (100) -> 0.473
  (300) -> 0.329 (600) -> 0.313 (1000), fixed 3.499 -> 1.634 -> 0.763 -> 0.696 -> 0.687; Keras buggy 4.114 -> 0.951 ->
  0.381 -> 0.322 (600), fixed 3.918 -> 1.019 -> 0.714 -> 0.691. One batch repeated: torch buggy 3.585 -> 0.023 (100)
  -> 0.001 (300), fixed 3.499 -> 0.414 -> 0.405; Keras buggy 0.005 (100) -> 0.001 (300), fixed 0.408 -> 0.404. On a
  fixed set of batches the buggy model fits *lower* than the fixed one: the batch-slot embedding tells it which name it
  is reading, so it memorises even the unpredictable first letter (the fixed model's floor ~0.40); training loss and
  overfitting look better, not worse.
  Batch-slot dependence: reversing the order of 16 names in a batch changes their logits by up to 2.56 (torch) / 6.57
  (Keras) untrained and 24.5 / 12.6 after the 8-batch run in the buggy model (scoring each name alone: up to 22.5),
  exactly 0.0 in the fixed one.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "batch_mixing|other:position_ids_from_batch_axis"
SOURCE = ("github:cmu-l3/anlp-fall2025-code issue #1 (05_transformers/transformer.ipynb "
          "TransformerLM.forward@7aa39df^, Block, build_dataset, pad_batch; "
          "fix 7aa39dfad7a6480987afa5a922ab25a714c4dc10 'Update transformer')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("init_loss", {}), ("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("batch_independence", {})]

# notebook hyperparameters
CHARS = "abcdefghijklmnopqrstuvwxyz"
token_to_index = {tok: i for i, tok in enumerate(CHARS)}
token_to_index["[S]"] = 26  # Start/stop token
token_to_index["[PAD]"] = 27  # Padding token
vocab_size = len(token_to_index)  # 28
d_model, nhead, num_layers, dim_ff, max_len = 64, 2, 2, 64, 128
learning_rate = 0.001
batch_size = 16
PAD = token_to_index["[PAD]"]


def _words() -> list[str]:
    """Stand-in for names.txt (``_data.markov_names``)."""
    from tests.real_programs._data import markov_names

    return markov_names(4000, 10)


def build_dataset(data: list[str]) -> tuple[list[list[int]], list[list[int]]]:  # program lines
    X, Y = [], []
    for item in data:
        tokens = ["[S]"] + list(item) + ["[S]"]
        indices = [token_to_index[token] for token in tokens]
        X.append(indices[:-1])
        Y.append(indices[1:])
    return X, Y


def pad_batch(X_batch, Y_batch, pad_index):  # program lines, numpy instead of torch tensors
    max_len_ = max(len(x) for x in X_batch)
    X_padded = np.zeros((len(X_batch), max_len_), dtype=np.int64) + pad_index
    Y_padded = np.zeros((len(Y_batch), max_len_), dtype=np.int64) + pad_index
    for i, (x, y) in enumerate(zip(X_batch, Y_batch)):
        X_padded[i, :len(x)] = x
        Y_padded[i, :len(y)] = y
    return X_padded, Y_padded


def _data(n_batches: int = 8, seed: int = 0):
    X, Y = build_dataset(_words())
    rng = np.random.default_rng(seed + 1)
    perm = rng.permutation(len(X))
    bs = []
    for k in range(n_batches):
        idx = perm[k * batch_size:(k + 1) * batch_size]
        bs.append(pad_batch([X[i] for i in idx], [Y[i] for i in idx], PAD))
    idx = perm[n_batches * batch_size:n_batches * batch_size + 128]
    inputs, _ = pad_batch([X[i] for i in idx], [Y[i] for i in idx], PAD)
    return bs, inputs


def _build(framework: str, positions_from_time: bool) -> dict[str, Any]:
    data, inputs = _data()
    if framework == "keras":
        import keras
        from keras import layers, ops

        keras.utils.set_random_seed(0)

        class Block(layers.Layer):
            def __init__(self, d_model, nhead, dim_ff=64, **kw):
                super().__init__(**kw)
                self.attn = layers.MultiHeadAttention(nhead, key_dim=d_model // nhead, dropout=0.0)
                self.ff1 = layers.Dense(dim_ff)
                self.ff2 = layers.Dense(d_model)
                self.ln1 = layers.LayerNormalization(epsilon=1e-5)
                self.ln2 = layers.LayerNormalization(epsilon=1e-5)

            def call(self, x):
                x = self.ln1(x)  # Pre-normalization
                x2 = self.attn(x, x, x, use_causal_mask=True)  # Self-attention
                x = x + x2  # Residual connection
                x = self.ln2(x)
                x2 = self.ff2(ops.relu(self.ff1(x)))  # Feed-forward
                return x + x2

        class TransformerLM(keras.Model):
            def __init__(self):
                super().__init__()
                self.embedding = layers.Embedding(vocab_size, d_model)
                self.pos_encoder = layers.Embedding(max_len, d_model)
                self.blocks = [Block(d_model, nhead, dim_ff) for _ in range(num_layers)]
                self.fc = layers.Dense(vocab_size)

            def call(self, x):
                if positions_from_time:  # the fix
                    pos = ops.expand_dims(ops.arange(ops.shape(x)[1]), 0)
                else:  # the notebook before 7aa39df
                    pos = ops.expand_dims(ops.arange(ops.shape(x)[0]), 1)
                h = self.embedding(x) + self.pos_encoder(pos)
                for block in self.blocks:
                    h = block(h)
                return self.fc(h)

        bs = [(x.astype("int32"), y.astype("int32")) for x, y in data]
        model = TransformerLM()
        model(bs[0][0])  # build the weights
        model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=PAD))
        return {"model": model, "batch": bs[0], "batches": bs, "inputs": inputs.astype("int32")}

    import torch
    import torch.nn as nn
    import torch.optim as optim

    torch.manual_seed(0)

    class Block(nn.Module):  # program lines
        def __init__(self, d_model, nhead, dim_ff=64, max_len=128):
            super(Block, self).__init__()
            self.attn = nn.MultiheadAttention(d_model, nhead, dropout=0.0, batch_first=True)
            self.ff1 = nn.Linear(d_model, dim_ff)
            self.ff2 = nn.Linear(dim_ff, d_model)
            self.ln1 = nn.LayerNorm(d_model)
            self.ln2 = nn.LayerNorm(d_model)
            self.act = nn.ReLU()
            self.register_buffer('mask', torch.triu(torch.ones(max_len, max_len), diagonal=1).bool())

        def forward(self, x):
            B, T, D = x.size()
            # Pre-normalization
            x = self.ln1(x)
            # Self-attention
            x2 = self.attn(x, x, x, is_causal=True, attn_mask=self.mask[:T, :T])[0]
            # Residual connection
            x = x + x2
            # Pre-normalization
            x = self.ln2(x)
            # Feed-forward
            x2 = self.ff2(self.act(self.ff1(x)))
            # Residual connection
            x = x + x2
            return x

    class TransformerLM(nn.Module):  # program lines
        def __init__(self, vocab_size, d_model, nhead, num_layers, dim_ff, max_len=128):
            super(TransformerLM, self).__init__()
            self.embedding = nn.Embedding(vocab_size, d_model)
            self.pos_encoder = nn.Embedding(max_len, d_model)
            self.blocks = nn.ModuleList([
                Block(d_model, nhead, dim_ff) for _ in range(num_layers)
            ])
            self.fc = nn.Linear(d_model, vocab_size)
            self.d_model = d_model

        def forward(self, x):
            if positions_from_time:  # the fix (7aa39df)
                pos = torch.arange(x.size(1), device=x.device).unsqueeze(0)
            else:  # the notebook before 7aa39df
                pos = torch.arange(x.size(0), device=x.device).unsqueeze(1)
            x = self.embedding(x) + self.pos_encoder(pos)
            for block in self.blocks:
                x = block(x)
            logits = self.fc(x)
            return logits

    # NOTE: We ignore the loss whenever the target token is a padding token
    criterion = nn.CrossEntropyLoss(ignore_index=token_to_index['[PAD]'])

    def loss_fn(outputs, Y_batch):  # the training loop's loss lines
        outputs = outputs.reshape(-1, len(token_to_index))  # [batch_size * seq_len, vocab_size]
        Y_batch = Y_batch.reshape(-1)  # [batch_size * seq_len]
        return criterion(outputs, Y_batch)

    def optimizer(params):
        return optim.Adam(params, lr=learning_rate)

    model = TransformerLM(len(token_to_index), d_model, nhead, num_layers, dim_ff)
    bs = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": torch.from_numpy(inputs),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, positions_from_time=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, positions_from_time=True)
