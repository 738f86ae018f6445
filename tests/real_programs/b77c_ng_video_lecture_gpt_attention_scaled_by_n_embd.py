"""karpathy/ng-video-lecture ``gpt.py``: the character-level GPT of Andrej Karpathy's lecture "Let's build GPT: from
scratch, in code, spelled out", trained on Tiny Shakespeare. ``BigramLanguageModel``: token + position embeddings
(``n_embd = 384``), ``n_layer = 6`` pre-LayerNorm ``Block``s of ``MultiHeadAttention`` (``n_head = 6`` ``Head``s of
``head_size = n_embd // n_head = 64``, each a causal (``tril``-masked) softmax attention with bias-free key / query
/ value Linears and attention dropout, concatenated and projected) and a ``FeedFoward`` (Linear(C, 4C) -> ReLU ->
Linear(4C, C) -> Dropout), ``ln_f`` and a linear ``lm_head`` over the 65 characters; ``F.cross_entropy`` on the
logits viewed as (B*T, vocab) against the next characters; ``AdamW(lr=3e-4)``, ``batch_size = 64``, ``block_size =
256``, ``dropout = 0.2``, random windows of the first 90 % of the text (``get_batch``), 5000 iterations.

The fault (attention scaled by the wrong width): ``Head.forward`` takes ``B,T,C = x.shape`` of its input, the
residual stream of width ``n_embd``, and computes ``wei = q @ k.transpose(-2,-1) * C**-0.5``. Scaled dot-product
attention divides by the square root of the key / query width, ``head_size`` (64), not of ``n_embd`` (384), so every
attention score is ``sqrt(n_head) = 2.45`` times too small: the softmax over the context is flatter than intended,
each position averages over more of its past, and the key / query weights must grow 2.45x (1.57x each) before a
head can attend as sharply as the fixed one, which AdamW at 3e-4 (and its weight decay) does only slowly.

Source: github.com/karpathy/ng-video-lecture ``gpt.py`` at 988848a^ (= e8585d4, ``wei = q @ k.transpose(-2,-1) *
C**-0.5``), PR #6 "We should scale attention by head size" (vineetm: "We are scaling it by number of channels in
input at present..."; karpathy: "you're right :( ty"), fix commit 988848a5f7613d33a6f7f12eed96c2d093759866
("scale by head size": ``* k.shape[-1]**-0.5``), merged as 17115f7.
Fault label: other:attention_scaled_by_model_width (the attention logits are divided by sqrt(n_embd) instead of
sqrt(head_size), so the attention is too flat and learns to focus slowly).

Program lines kept: ``Head`` / ``MultiHeadAttention`` / ``FeedFoward`` / ``Block`` / ``BigramLanguageModel`` as
written (torch default init, dropout 0.2 after the attention softmax, after the projection and in the feed-forward),
the buggy / fixed scale, ``get_batch`` (random windows of ``block_size`` and the next characters as targets),
``F.cross_entropy`` on the (B*T, vocab) view, ``AdamW(lr=3e-4)`` (weight decay 0.01, torch's default),
``torch.manual_seed(1337)``, the 90 / 10 split.
Ported / shrunk (for a ~0.1 s step on one CPU thread): ``n_embd`` 384 -> 96, ``n_layer`` 6 -> 3, ``block_size``
256 -> 64, ``batch_size`` 64 -> 32; ``n_head = 6`` is kept, so ``head_size`` is 16 and the scale is off by the same
factor sqrt(C / head_size) = sqrt(6). ``forward(idx)`` returns only the logits (the program's ``forward(idx,
targets)`` also computes the loss): that loss, the same view + ``F.cross_entropy``, is ``loss_fn``. ``generate`` and
``estimate_loss`` are not used. Keras twin: the same classes as Keras layers (``Dense(use_bias=False)`` key / query /
value with torch's Linear init, VarianceScaling(1/3, fan_in, uniform) kernels and U(+-1/sqrt(fan_in)) biases;
``Embedding`` N(0, 1) as torch's; ``LayerNormalization(epsilon=1e-5)``; the ``tril`` mask applied with
``ops.where(..., -inf)``), the buggy ``* C ** -0.5`` / fixed ``* head_size ** -0.5``, compiled with
``SparseCategoricalCrossentropy(from_logits=True)`` and ``AdamW(3e-4, weight_decay=0.01, epsilon=1e-8)``.
Data stand-in (no download of Tiny Shakespeare's input.txt, 1.1M characters, 65 symbols): 179,000 characters of
English prose, the docstrings of the classes and functions of 36 Python standard-library modules (printable ASCII
and newlines, 96 symbols), encoded with the program's sorted-set ``stoi``; real character-level structure (words,
spelling, punctuation, indentation). ``batches``: 8 ``get_batch('train')`` batches of 32 windows of 64 characters,
``inputs``: one batch of windows from the validation tenth.

Measured (my own plain loops, /tmp/s48/h77_c/{meas,mt,mk}.py, OMP_NUM_THREADS=1, the machine shared by 2-3 jobs):
  the program's loop (random get_batch windows, AdamW 3e-4, dropout on), mean cross-entropy of 20 fixed train /
    val batches in eval mode, at a larger shrink (n_embd 96, n_layer 4, block 64, batch 32, torch), steps 0 / 300
    / 600 / 900 / 1200 / 1500: buggy train 4.737 / 2.718 / 2.614 / 2.517 / 2.350 / 2.219, val 4.754 / 2.749 /
    2.657 / 2.571 / 2.430 / 2.318; fixed train 4.737 / 2.712 / 2.595 / 2.447 / 2.273 / 2.147, val 4.754 / 2.744 /
    2.641 / 2.507 / 2.359 / 2.255 (the fixed model is ~100-200 steps ahead from step 600 on, 0.06-0.07 nats).
  the module's builds (3 layers), val loss of 10 fixed batches, steps 0 / 200 / 400 / 600 / 800: torch buggy
    4.707 / 2.864 / 2.727 / 2.684 / 2.633, fixed 4.707 / 2.859 / 2.718 / 2.670 / 2.608. One batch repeated (the
    module's ``batch``, dropout on), loss at steps 0 / 50 / 100 / 200: buggy 4.700 / 3.069 / 2.579 / 1.399, fixed
    4.699 / 3.060 / 2.547 / 1.118. Keras, ``train_on_batch`` on the same windows, val loss at 0 / 100 / 200 / 300 /
    400: buggy 4.751 / 3.090 / 2.866 / 2.768 / 2.720, fixed 4.750 / 3.087 / 2.861 / 2.761 / 2.712.
  Initial loss 4.70-4.75 in both versions (ln 96 = 4.56; the torch N(0, 1) embeddings make the initial logits a
    little uneven). So the fault shows as slower learning, not a failure: small at first, growing with training
    (clearest when memorising one batch: 1.40 vs 1.12 after 200 steps); the Keras gap at 400 steps is small.
  Time per step (batch 32 x 64 characters, one thread, loaded machine): torch ~0.28-0.34 s (module), Keras ~0.3 s;
    builds: torch 4 s the first time (stdlib imports for the corpus), Keras ~10-20 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:attention_scaled_by_model_width"
SOURCE = ("github:karpathy/ng-video-lecture PR #6 (gpt.py Head.forward 'wei = q @ k.transpose(-2,-1) * C**-0.5' "
          "@e8585d4 = 988848a^; fix 988848a5f7613d33a6f7f12eed96c2d093759866 '* k.shape[-1]**-0.5', merged 17115f7)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("init_loss", {"num_classes": 96}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("gradients_flow", {})]

# gpt.py hyperparameters (shrunk where marked)
BATCH_SIZE = 32  # 64
BLOCK_SIZE = 64  # 256
LEARNING_RATE = 3e-4
N_EMBD = 96  # 384
N_HEAD = 6
N_LAYER = 3  # 6
DROPOUT = 0.2
SEED = 1337
N_BATCHES = 8

_MODULES = ("textwrap", "json", "collections", "argparse", "string", "random", "statistics", "fractions",
            "decimal", "heapq", "bisect", "functools", "itertools", "pathlib", "shutil", "subprocess", "logging",
            "email", "http.client", "urllib.parse", "csv", "calendar", "datetime", "difflib", "pprint",
            "unittest", "doctest", "pickle", "copy", "os", "re", "threading", "queue", "socket", "zipfile", "tarfile")


@functools.lru_cache(maxsize=1)
def _text() -> tuple[np.ndarray, int]:
    """The stand-in corpus encoded as in gpt.py (chars = sorted(list(set(text))), stoi), and vocab_size."""
    import importlib
    import inspect

    parts = []
    for name in _MODULES:
        mod = importlib.import_module(name)
        for _, obj in sorted(vars(mod).items()):
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and getattr(obj, "__module__", "") == name:
                doc = obj.__doc__
                if isinstance(doc, str):
                    parts.append(inspect.cleandoc(doc))
    text = "".join(c for c in "\n\n".join(parts) if 32 <= ord(c) < 127 or c == "\n")
    chars = sorted(list(set(text)))
    stoi = {ch: i for i, ch in enumerate(chars)}
    return np.array([stoi[c] for c in text], dtype="int64"), len(chars)


@functools.lru_cache(maxsize=1)
def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    data, _ = _text()
    n = int(0.9 * len(data))  # first 90% will be train, rest val
    train_data, val_data = data[:n], data[n:]
    rng = np.random.default_rng(SEED)

    def get_batch(d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ix = rng.integers(0, len(d) - BLOCK_SIZE, BATCH_SIZE)
        x = np.stack([d[i:i + BLOCK_SIZE] for i in ix])
        y = np.stack([d[i + 1:i + BLOCK_SIZE + 1] for i in ix])
        return x, y

    batches = [get_batch(train_data) for _ in range(N_BATCHES)]
    return batches, get_batch(val_data)[0]


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    from torch.nn import functional as F

    _, vocab_size = _text()
    n_embd, n_head, n_layer, block_size, dropout = N_EMBD, N_HEAD, N_LAYER, BLOCK_SIZE, DROPOUT

    class Head(nn.Module):
        """ one head of self-attention """

        def __init__(self, head_size):
            super().__init__()
            self.key = nn.Linear(n_embd, head_size, bias=False)
            self.query = nn.Linear(n_embd, head_size, bias=False)
            self.value = nn.Linear(n_embd, head_size, bias=False)
            self.register_buffer('tril', torch.tril(torch.ones(block_size, block_size)))
            self.dropout = nn.Dropout(dropout)

        def forward(self, x):
            B, T, C = x.shape
            k = self.key(x)
            q = self.query(x)
            if fixed:  # fix 988848a
                wei = q @ k.transpose(-2, -1) * k.shape[-1] ** -0.5
            else:
                wei = q @ k.transpose(-2, -1) * C ** -0.5
            wei = wei.masked_fill(self.tril[:T, :T] == 0, float('-inf'))
            wei = F.softmax(wei, dim=-1)
            wei = self.dropout(wei)
            v = self.value(x)
            return wei @ v

    class MultiHeadAttention(nn.Module):
        def __init__(self, num_heads, head_size):
            super().__init__()
            self.heads = nn.ModuleList([Head(head_size) for _ in range(num_heads)])
            self.proj = nn.Linear(n_embd, n_embd)
            self.dropout = nn.Dropout(dropout)

        def forward(self, x):
            out = torch.cat([h(x) for h in self.heads], dim=-1)
            return self.dropout(self.proj(out))

    class FeedFoward(nn.Module):
        def __init__(self, n_embd):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.ReLU(), nn.Linear(4 * n_embd, n_embd),
                                     nn.Dropout(dropout))

        def forward(self, x):
            return self.net(x)

    class Block(nn.Module):
        def __init__(self, n_embd, n_head):
            super().__init__()
            head_size = n_embd // n_head
            self.sa = MultiHeadAttention(n_head, head_size)
            self.ffwd = FeedFoward(n_embd)
            self.ln1 = nn.LayerNorm(n_embd)
            self.ln2 = nn.LayerNorm(n_embd)

        def forward(self, x):
            x = x + self.sa(self.ln1(x))
            x = x + self.ffwd(self.ln2(x))
            return x

    class BigramLanguageModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.token_embedding_table = nn.Embedding(vocab_size, n_embd)
            self.position_embedding_table = nn.Embedding(block_size, n_embd)
            self.blocks = nn.Sequential(*[Block(n_embd, n_head=n_head) for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd)
            self.lm_head = nn.Linear(n_embd, vocab_size)

        def forward(self, idx):  # the program's forward(idx, targets) without the loss (loss_fn below)
            B, T = idx.shape
            tok_emb = self.token_embedding_table(idx)
            pos_emb = self.position_embedding_table(torch.arange(T, device=idx.device))
            x = tok_emb + pos_emb
            x = self.blocks(x)
            x = self.ln_f(x)
            return self.lm_head(x)

    torch.manual_seed(SEED)
    model = BigramLanguageModel()

    def loss_fn(logits, targets):  # BigramLanguageModel.forward's loss lines
        B, T, C = logits.shape
        return F.cross_entropy(logits.view(B * T, C), targets.reshape(B * T))

    batches, held_out = _data()
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(held_out),
            "loss_fn": loss_fn, "optimizer": lambda p: torch.optim.AdamW(p, lr=LEARNING_RATE)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    _, vocab_size = _text()
    n_embd, n_head, n_layer, block_size, dropout = N_EMBD, N_HEAD, N_LAYER, BLOCK_SIZE, DROPOUT
    keras.utils.set_random_seed(SEED)

    def linear(n_in: int, n_out: int, bias: bool = True, activation: str | None = None) -> Any:
        bound = 1.0 / np.sqrt(n_in)  # nn.Linear's default init
        return layers.Dense(n_out, activation=activation, use_bias=bias,
                            kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3, "fan_in", "uniform"),
                            bias_initializer=keras.initializers.RandomUniform(-bound, bound))

    class Head(layers.Layer):
        def __init__(self, head_size, **kw):
            super().__init__(**kw)
            self.key = linear(n_embd, head_size, bias=False)
            self.query = linear(n_embd, head_size, bias=False)
            self.value = linear(n_embd, head_size, bias=False)
            self.tril = np.tril(np.ones((block_size, block_size), dtype="float32"))
            self.dropout = layers.Dropout(dropout)

        def call(self, x, training=False):
            T, C = x.shape[1], x.shape[2]
            k = self.key(x)
            q = self.query(x)
            if fixed:  # fix 988848a
                wei = ops.matmul(q, ops.transpose(k, (0, 2, 1))) * k.shape[-1] ** -0.5
            else:
                wei = ops.matmul(q, ops.transpose(k, (0, 2, 1))) * C ** -0.5
            wei = ops.where(self.tril[:T, :T] == 0, float("-inf"), wei)
            wei = ops.softmax(wei, axis=-1)
            wei = self.dropout(wei, training=training)
            return ops.matmul(wei, self.value(x))

    class Block(layers.Layer):
        def __init__(self, **kw):
            super().__init__(**kw)
            head_size = n_embd // n_head
            self.heads = [Head(head_size) for _ in range(n_head)]
            self.proj = linear(n_embd, n_embd)
            self.drop_sa = layers.Dropout(dropout)
            self.ff1 = linear(n_embd, 4 * n_embd, activation="relu")
            self.ff2 = linear(4 * n_embd, n_embd)
            self.drop_ff = layers.Dropout(dropout)
            self.ln1 = layers.LayerNormalization(epsilon=1e-5)
            self.ln2 = layers.LayerNormalization(epsilon=1e-5)

        def call(self, x, training=False):
            h = self.ln1(x)
            sa = ops.concatenate([hd(h, training=training) for hd in self.heads], axis=-1)
            x = x + self.drop_sa(self.proj(sa), training=training)
            return x + self.drop_ff(self.ff2(self.ff1(self.ln2(x))), training=training)

    class PosEmbedding(layers.Layer):
        def build(self, input_shape):
            self.table = self.add_weight(shape=(block_size, n_embd),
                                         initializer=keras.initializers.RandomNormal(stddev=1.0), name="table")

        def call(self, tok_emb):
            return tok_emb + self.table[: tok_emb.shape[1]]

    idx = keras.Input((BLOCK_SIZE,), dtype="int64")
    x = layers.Embedding(vocab_size, n_embd, embeddings_initializer=keras.initializers.RandomNormal(stddev=1.0))(idx)
    x = PosEmbedding()(x)
    for _ in range(n_layer):
        x = Block()(x)
    x = layers.LayerNormalization(epsilon=1e-5)(x)
    logits = linear(n_embd, vocab_size)(x)
    model = keras.Model(idx, logits, name="BigramLanguageModel")
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=LEARNING_RATE, weight_decay=0.01, epsilon=1e-8),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    batches, held_out = _data()
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": held_out}


buggy, fixed = versions(_torch, _keras)
