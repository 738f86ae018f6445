"""PyTorch tutorial "Language Modeling with nn.Transformer and torchtext"
(``beginner_source/transformer_tutorial.py``): a ``TransformerModel`` (Embedding * sqrt(d_model),
sinusoidal ``PositionalEncoding``, a 2-layer ``nn.TransformerEncoder``, a Linear decoder) trained to predict
the next WikiText-2 token at every position of a ``bptt = 35`` chunk. In the version ported, ``train``
calls ``output = model(data)`` with no mask and ``forward`` passes ``src_mask=None`` to the encoder: the self-attention is not causal, so the output at position ``t`` sees
the input at ``t + 1`` -- the very token it is scored on. The model learns to copy the next input token, the
loss falls far below what a language model can reach, and it cannot predict a token it has not been shown
(issue: "it was never able to give a prediction for the next word that made any sense, despite reaching a
perplexity of 2.9").

Source: github.com/pytorch/tutorials issue #2478 ("TransformerEncoder is not causal": "for language
modeling, src_mask should be mask future words"; labelled bug, confirmed in the thread), fixed by PR #2662
("Patch 2478", merged: ``forward`` builds ``nn.Transformer.generate_square_subsequent_mask(len(src))`` when
``src_mask is None``). Program: ``beginner_source/transformer_tutorial.py`` at
00109f5abe4d664833ae7cde8b694b41356adb2b. Program lines kept: ``TransformerModel`` and
``PositionalEncoding`` (``emsize = 200``, ``d_hid = 200``, ``nlayers = 2``, ``nhead = 2``,
``dropout = 0.2``, ``init_weights`` uniform(-0.1, 0.1)), ``batchify`` (``batch_size = 20``), ``get_batch``
(``bptt = 35``), ``nn.CrossEntropyLoss()``, ``SGD(lr=5.0)``, the training step (``zero_grad``, ``backward``,
``clip_grad_norm_(model.parameters(), 0.5)``, ``step``; given as ``train_step``). Not kept: the per-epoch
``StepLR(gamma=0.95)`` (the checks run within one epoch).
Ported minimally: ``get_batch`` returns the target as ``[seq_len, batch_size]`` (the tutorial flattens it
to ``[seq_len * batch_size]``); ``loss_fn`` does ``criterion(output.view(-1, ntokens),
targets.reshape(-1))`` as the loop does.
Data: WikiText-2 (a 28 782-word vocabulary, downloaded by torchtext) is replaced by a seeded token stream
over 500 ids from a sparse Markov chain (each token is followed by one of 3 successors, 0.6/0.3/0.1: an
honest next-token cross-entropy cannot go below the chain's entropy, 0.90 nats); 22 401 tokens,
``batchify(..., 20)`` to ``[1120, 20]``, 31 chunks of ``[35, 20]`` (the last, shorter one dropped).
Keras twin: the same model in Keras 3 on ``(batch, seq)`` ids (``MultiHeadAttention(2, key_dim=100,
dropout=0.2)`` in a post-norm encoder block like ``nn.TransformerEncoderLayer``: residual + LayerNorm,
ReLU feed-forward 200, dropout 0.2), compiled with ``SparseCategoricalCrossentropy(from_logits=True)`` and
``SGD(5.0, global_clipnorm=0.5)``; the bug: ``MultiHeadAttention`` called without
``use_causal_mask=True`` (the fix sets it).
Fault label: target_leakage (labelled other:no_causal_mask until the plugin had that cause; the target
token leaks into the input the model attends to). Fix (PR
#2662): a square causal mask (``-inf`` above the diagonal) for the encoder.
Observed (own loop: 240 steps in order over the 31 chunks; ~115-145 ms per step on one thread of a loaded
2-core machine, both frameworks; "held-out" = the tutorial's loss on 31 chunks of a new path of the same
chain, in eval mode; "next-token" = cross-entropy of the prediction at the last position of each held-out
chunk, the only one with no future input): torch buggy train loss 6.52 -> 0.07, held-out 0.23 (below the
chain's entropy: it reads the answer), next-token 2.07; fixed 6.52 -> 0.60, held-out 1.39, next-token 1.40.
Keras buggy 6.59 -> 0.12, held-out 0.27, next-token 1.88; fixed 6.59 -> 0.76, held-out 1.42, next-token
1.49.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "target_leakage"  # ported as other:no_causal_mask, before the plugin had a cause for it
SOURCE = ("github:pytorch/tutorials issue #2478, PR #2662 "
          "(beginner_source/transformer_tutorial.py@00109f5abe4d664833ae7cde8b694b41356adb2b)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {})]

ntokens = 500  # stand-in vocabulary (WikiText-2: 28 782)
emsize = 200  # program lines
d_hid = 200
nlayers = 2
nhead = 2
dropout = 0.2
batch_size = 20
bptt = 35
lr = 5.0
n_chunks = 32


def _stream(n: int = batch_size * bptt * n_chunks + 1, seed: int = 0) -> np.ndarray:
    """A path of a sparse Markov chain over ``ntokens`` ids: 3 successors per token with probabilities
    0.6/0.3/0.1 (the chain is fixed, ``seed`` draws the path)."""
    succ = np.random.default_rng(0).integers(0, ntokens, (ntokens, 3))  # the chain
    rng = np.random.default_rng(seed + 1)  # the path
    out = np.empty(n, dtype="int64")
    out[0] = rng.integers(ntokens)
    choice = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])
    for i in range(1, n):
        out[i] = succ[out[i - 1], choice[i]]
    return out


def _chunks(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``batchify`` to ``[seq_len, batch_size]`` columns, then ``get_batch`` over ``range(0, len - 1, bptt)``
    (the last, shorter chunk dropped): (data, target) pairs of shape ``[35, 20]``."""
    data = _stream(seed=seed)
    seq_len = data.shape[0] // batch_size
    source = data[:seq_len * batch_size].reshape(batch_size, seq_len).T  # batchify
    out = []
    for i in range(0, source.shape[0] - 1, bptt):
        n = min(bptt, len(source) - 1 - i)
        if n == bptt:
            out.append((source[i:i + n], source[i + 1:i + 1 + n]))
    return out


def _torch(causal: bool) -> dict[str, Any]:
    import math

    import torch
    from torch import Tensor, nn
    from torch.nn import TransformerEncoder, TransformerEncoderLayer

    torch.manual_seed(0)

    class TransformerModel(nn.Module):  # program lines
        def __init__(self, ntoken: int, d_model: int, nhead: int, d_hid: int, nlayers: int, dropout: float = 0.5):
            super().__init__()
            self.model_type = 'Transformer'
            self.pos_encoder = PositionalEncoding(d_model, dropout)
            encoder_layers = TransformerEncoderLayer(d_model, nhead, d_hid, dropout)
            self.transformer_encoder = TransformerEncoder(encoder_layers, nlayers)
            self.embedding = nn.Embedding(ntoken, d_model)
            self.d_model = d_model
            self.linear = nn.Linear(d_model, ntoken)
            self.init_weights()

        def init_weights(self) -> None:
            initrange = 0.1
            self.embedding.weight.data.uniform_(-initrange, initrange)
            self.linear.bias.data.zero_()
            self.linear.weight.data.uniform_(-initrange, initrange)

        def forward(self, src: Tensor, src_mask: Tensor = None) -> Tensor:
            src = self.embedding(src) * math.sqrt(self.d_model)
            src = self.pos_encoder(src)
            if causal and src_mask is None:  # the fix (PR #2662)
                src_mask = nn.Transformer.generate_square_subsequent_mask(len(src)).to(src.device)
            output = self.transformer_encoder(src, src_mask)
            output = self.linear(output)
            return output

    class PositionalEncoding(nn.Module):  # program lines
        def __init__(self, d_model: int, dropout: float = 0.1, max_len: int = 5000):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            position = torch.arange(max_len).unsqueeze(1)
            div_term = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
            pe = torch.zeros(max_len, 1, d_model)
            pe[:, 0, 0::2] = torch.sin(position * div_term)
            pe[:, 0, 1::2] = torch.cos(position * div_term)
            self.register_buffer('pe', pe)

        def forward(self, x: Tensor) -> Tensor:
            x = x + self.pe[:x.size(0)]
            return self.dropout(x)

    model = TransformerModel(ntokens, emsize, nhead, d_hid, nlayers, dropout)
    criterion = nn.CrossEntropyLoss()

    def loss_fn(output, targets):
        return criterion(output.view(-1, ntokens), targets.reshape(-1))

    def train_step(model, optimizer, loss_fn, data, targets):  # program lines: the body of train()
        output = model(data)
        loss = loss_fn(output, targets)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        optimizer.step()
        return loss

    batches = [(torch.tensor(d), torch.tensor(t)) for d, t in _chunks()]
    return {"model": model, "batch": batches[0], "batches": batches, "loss_fn": loss_fn,
            "train_step": train_step, "optimizer": lambda p: torch.optim.SGD(p, lr=lr)}


def _keras(causal: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)
    init = keras.initializers.RandomUniform(-0.1, 0.1)  # init_weights

    class PositionalEncoding(layers.Layer):
        def __init__(self, d_model, dropout_rate, max_len=5000, **kw):
            super().__init__(**kw)
            position = np.arange(max_len)[:, None]
            div_term = np.exp(np.arange(0, d_model, 2) * (-np.log(10000.0) / d_model))
            pe = np.zeros((max_len, d_model), dtype="float32")
            pe[:, 0::2] = np.sin(position * div_term)
            pe[:, 1::2] = np.cos(position * div_term)
            self.pe = pe
            self.dropout = layers.Dropout(dropout_rate)

        def call(self, x, training=None):
            x = x + ops.convert_to_tensor(self.pe)[None, :ops.shape(x)[1]]
            return self.dropout(x, training=training)

    inp = keras.Input((None,), dtype="int32")
    h = layers.Embedding(ntokens, emsize, embeddings_initializer=init)(inp)
    h = layers.Rescaling(float(np.sqrt(emsize)))(h)
    h = PositionalEncoding(emsize, dropout)(h)
    for _ in range(nlayers):  # nn.TransformerEncoderLayer (post-norm, ReLU)
        a = layers.MultiHeadAttention(nhead, emsize // nhead, dropout=dropout)(h, h, use_causal_mask=causal)
        h = layers.LayerNormalization(epsilon=1e-5)(h + layers.Dropout(dropout)(a))
        f = layers.Dense(d_hid, activation="relu")(h)
        f = layers.Dense(emsize)(layers.Dropout(dropout)(f))
        h = layers.LayerNormalization(epsilon=1e-5)(h + layers.Dropout(dropout)(f))
    out = layers.Dense(ntokens, kernel_initializer=init, bias_initializer="zeros")(h)
    model = keras.Model(inp, out)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr, global_clipnorm=0.5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    batches = [(d.T.astype("int32"), t.T.astype("int32")) for d, t in _chunks()]  # (batch, seq)
    return {"model": model, "batch": batches[0], "batches": batches}


def buggy(framework: str) -> dict[str, Any]:
    return _keras(False) if framework == "keras" else _torch(False)


def fixed(framework: str) -> dict[str, Any]:
    return _keras(True) if framework == "keras" else _torch(True)
