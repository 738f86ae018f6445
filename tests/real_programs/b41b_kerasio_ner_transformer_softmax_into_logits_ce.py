"""keras-io example "Named Entity Recognition using Transformers" (``examples/nlp/ner_transformers.py``, by
Varun Singh): a one-block Transformer token tagger on CoNLL-2003. ``NERModel``: ``TokenAndPositionEmbedding(maxlen=128,
vocab_size=20000, embed_dim=32)`` (token ``Embedding`` + position ``Embedding``, summed), ``TransformerBlock(32,
num_heads=4, ff_dim=64)`` (``MultiHeadAttention(num_heads, key_dim=embed_dim)``, dropout 0.1, residual + ``LayerNorm
(eps 1e-6)``, FFN ``Dense(ff_dim, relu) -> Dense(embed_dim)``, dropout 0.1, residual + ``LayerNorm``), ``Dropout(0.1)``,
``Dense(ff_dim, relu)``, ``Dropout(0.1)``, ``ff_final = Dense(num_tags, activation="softmax")`` with ``num_tags = 10``
(``[PAD]``, ``O`` and B-/I- of PER, ORG, LOC, MISC; the CoNLL tag ids are shifted by ``tags += 1`` so that 0 is the
padding tag). Loss ``CustomNonPaddingTokenLoss``: per-token ``SparseCategoricalCrossentropy(from_logits=True,
reduction=NONE)`` times the mask ``y_true > 0``, summed and divided by the number of real tokens; ``compile(optimizer=
"adam")`` (lr 1e-3), ``batch_size = 32``, ``padded_batch`` (tokens and tags padded with 0 to the longest sentence of
the batch).

The fault: the head already applies a softmax, and the loss is told that its input is logits, so it applies a second
softmax to the probabilities. Every probability lies in [0, 1], so the second softmax can only spread its mass between
e^0 and e^1: the loss starts at log(10) and can never go below -log(e / (e + 9)) = 1.46 however confident and right
the model is, and the gradient reaching the logits is squashed by the first softmax's Jacobian. Here the tagger
saturates its softmax on the majority tag O within ~60 steps and stays there: loss stuck at 1.685, every token O.

Source: github.com/keras-team/keras-io, ``examples/nlp/ner_transformers.py`` (stored version a72c25d44070de47f97dda
830d0fc7668489be92 and the original of Jun 2021 both have ``Dense(num_tags, activation="softmax")`` with
``from_logits=True``), fixed by PR #1610 "Keras 3 ner_transformers" (mattdangerw, merged 2023-11-11; merge commit not in the stored index: "I believe there
was a bad bug in this example, where it computed a loss of softmax outputs with from_logits=True. Fixed."): the
softmax head is kept and the loss becomes ``SparseCategoricalCrossentropy(from_logits=False, reduction=None)``.
Fault label: loss_mismatch|output_activation (softmax probabilities into a logits cross-entropy); its visible
symptom here is class_collapse (every token tagged O).

Program lines kept: ``NERModel``, ``TransformerBlock`` and ``TokenAndPositionEmbedding`` with the example's sizes
(``NERModel(num_tags, vocab_size, embed_dim=32, num_heads=4, ff_dim=64)``, ``maxlen=128``, ``vocab_size = 20000``),
dropout 0.1 (active in training), the masked token loss, Adam at Keras' default lr 1e-3, batches of 32, padding with
0 for tokens and tags. Keras' default initialisers (glorot-uniform kernels, zero biases, uniform(-0.05, 0.05)
embeddings, LayerNorm 1/0).
Ported minimally. Keras 3: the same layers and loss; ``tf.reduce_sum`` -> ``keras.ops.sum``. The buggy loss is written
as ``tf.nn.sparse_softmax_cross_entropy_with_logits`` on the model's outputs, which is what ``from_logits=True``
computes on them, because Keras 3's TensorFlow backend (and, as far as I know, tf.keras 2.x in its later releases) notices a tensor that came
out of a softmax activation (``_keras_logits``), warns, and silently uses the pre-softmax logits instead, which would
train the buggy program exactly like a logits head (the fault would then only bite on backends or code paths that do
not carry the hidden logits, e.g. the torch twin, a ``Lambda`` softmax or ``tf.nn.softmax`` in ``call``). Torch twin:
the same modules written in torch with Keras' attention layout (4 heads of key_dim 32 each, output projection back
to 32) and Keras' initialisers; buggy loss ``F.cross_entropy(probs, tags, reduction="none")`` (a logits loss on the
probabilities), fixed loss ``-log(clip(p_y, 1e-7, 1 - 1e-7))`` (Keras' probability cross-entropy), both masked as in
the program; Adam(lr=1e-3, eps=1e-7) as Keras'. The ``datasets``/CoNLL download, the ``StringLookup`` vocabulary,
``predict`` and the conlleval metrics are left out.
Data stand-in (no CoNLL-2003 download): 6 batches of 32 seeded synthetic sentences of 4..30 token ids in 1..19998
(``StringLookup`` ids under the 20,000 vocabulary) padded with 0 to length 30 (what ``padded_batch`` gives for 32
sentences of that length spread), tags 1..9 after ``tags += 1`` and 0 on padding. About 78% of the real tokens are ``O`` words
(Zipf-distributed ids 1..2999, as in CoNLL where ~83% are O); entities are spans of 1..3 tokens whose ids come from a
range per type (PER, ORG, LOC, MISC), B- on the first token and I- on the rest, so a tagger can learn the type from
the token and B/I from its left neighbour.
Measured (my own loop, /tmp/h41b/measure.py, seed 0, OMP_NUM_THREADS=1; torch ``opt.zero_grad(); loss_fn(model(x),
y).backward(); opt.step()`` in train mode, Keras ``train_on_batch``; cycling over the 6 batches; masked loss on all 6
batches in eval mode, chance level log(10) = 2.30; 78% of the real tokens are O):
  torch  buggy: 2.30 at init, 1.685 after 60 steps, 1.685 after 150, 1.685 after 300 (stuck);
         fixed: 2.37 at init, 0.70 after 60, 0.018 after 150, 0.001 after 300 (token accuracy 1.00).
  keras  buggy: 2.28, 1.685, 1.685, 1.685 (stuck); fixed: 2.31, 0.53, 0.015, 0.001.
  After 150 steps the buggy model tags every one of the 5,760 positions O with probability ~0.9998 in both
  frameworks (token accuracy 0.776 = the share of O): the doubled softmax rewards saturating the first softmax on
  the majority tag, and once saturated its Jacobian passes no gradient (class collapse). The fixed models predict
  all nine tags (torch: 5,006 O and 754 entity tags).
  One batch, 200 steps: buggy 1.659 (both), fixed 0.002 (torch) / 0.001 (keras).
  The program's own Keras loss class with from_logits=True, in Keras 3.15 / TF 2.21, warns and trains like the fix
  (0.03 after 150 steps), hence the written-out buggy loss above.
About 16-24 ms (torch) and 23-27 ms (keras) per step on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_mismatch|output_activation|class_collapse"
SOURCE = ("github:keras-team/keras-io PR #1610 (examples/nlp/ner_transformers.py@a72c25d44070de47f97dda830d0fc7668489be92 "
          "NERModel ff_final Dense(num_tags, activation='softmax') with CustomNonPaddingTokenLoss "
          "SparseCategoricalCrossentropy(from_logits=True); fixed in PR #1610 'Keras 3 ner_transformers': "
          "from_logits=False)")
FRAMEWORKS = ("torch", "keras")
# output_range is left out: the fix keeps the softmax head, so both programs output probabilities
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("not_constant_predictions", {})]

num_tags = 10  # len(mapping): [PAD], O, B-/I- x PER, ORG, LOC, MISC
vocab_size = 20000
maxlen = 128
embed_dim, num_heads, ff_dim = 32, 4, 64  # NERModel(num_tags, vocab_size, embed_dim=32, num_heads=4, ff_dim=64)
batch_size = 32
lr = 1e-3  # optimizer="adam"
n_batches = 6
max_tokens = 30  # port: longest sentence of the stand-in (padded_batch pads to the batch's longest)
SEED = 0


def _conll_like() -> tuple[np.ndarray, np.ndarray]:
    """Token ids (N, 30) int64 and tags (N, 30) int64 in 0..9 (0 = padding), after map_record's ``tags += 1``."""
    rng = np.random.default_rng(SEED)
    n = batch_size * n_batches
    x = np.zeros((n, max_tokens), "int64")
    y = np.zeros((n, max_tokens), "int64")
    o_ids = np.arange(1, 3000)
    o_p = 1.0 / o_ids
    o_p /= o_p.sum()
    ranges = {0: (3000, 6000), 1: (6000, 9000), 2: (9000, 12000), 3: (12000, 15000)}  # PER, ORG, LOC, MISC
    for i in range(n):
        length = int(rng.integers(4, max_tokens + 1))
        t = 0
        while t < length:
            if rng.random() < 0.12:
                kind = int(rng.integers(0, 4))
                span = min(int(rng.integers(1, 4)), length - t)
                lo, hi = ranges[kind]
                for j in range(span):
                    x[i, t] = rng.integers(lo, hi)
                    y[i, t] = 1 + 2 * kind + (0 if j == 0 else 1)  # CoNLL B-/I- ids 1..8 (O = 0)
                    t += 1
            else:
                x[i, t] = rng.choice(o_ids, p=o_p)
                y[i, t] = 0  # O
                t += 1
        y[i, :length] += 1  # tags += 1: 0 is reserved for padding
    return x, y


def _torch(softmax_ce_on_probs: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(SEED)

    def dense(n_in: int, n_out: int) -> nn.Linear:  # Keras Dense defaults
        layer = nn.Linear(n_in, n_out)
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    def embedding(n: int, d: int) -> nn.Embedding:  # Keras Embedding default uniform(-0.05, 0.05)
        layer = nn.Embedding(n, d)
        nn.init.uniform_(layer.weight, -0.05, 0.05)
        return layer

    class MultiHeadAttention(nn.Module):  # keras.layers.MultiHeadAttention(num_heads, key_dim)
        def __init__(self, num_heads: int, key_dim: int, d_model: int):
            super().__init__()
            self.h, self.k = num_heads, key_dim
            self.q, self.kp, self.v = (dense(d_model, num_heads * key_dim) for _ in range(3))
            self.o = dense(num_heads * key_dim, d_model)

        def forward(self, query, value):
            b, t, _ = query.shape
            q = self.q(query).view(b, t, self.h, self.k).transpose(1, 2)
            k = self.kp(value).view(b, t, self.h, self.k).transpose(1, 2)
            v = self.v(value).view(b, t, self.h, self.k).transpose(1, 2)
            att = torch.softmax(q @ k.transpose(-1, -2) / self.k ** 0.5, dim=-1)
            return self.o((att @ v).transpose(1, 2).reshape(b, t, self.h * self.k))

    class TransformerBlock(nn.Module):  # program lines
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = MultiHeadAttention(num_heads, embed_dim, embed_dim)
            self.ffn = nn.Sequential(dense(embed_dim, ff_dim), nn.ReLU(), dense(ff_dim, embed_dim))
            self.layernorm1 = nn.LayerNorm(embed_dim, eps=1e-6)
            self.layernorm2 = nn.LayerNorm(embed_dim, eps=1e-6)
            self.dropout1 = nn.Dropout(rate)
            self.dropout2 = nn.Dropout(rate)

        def forward(self, inputs):
            attn_output = self.dropout1(self.att(inputs, inputs))
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.dropout2(self.ffn(out1))
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(nn.Module):  # program lines
        def __init__(self, maxlen, vocab_size, embed_dim):
            super().__init__()
            self.token_emb = embedding(vocab_size, embed_dim)
            self.pos_emb = embedding(maxlen, embed_dim)

        def forward(self, inputs):
            positions = torch.arange(inputs.shape[-1], device=inputs.device)
            return self.token_emb(inputs) + self.pos_emb(positions)

    class NERModel(nn.Module):  # program lines
        def __init__(self, num_tags, vocab_size, maxlen=128, embed_dim=32, num_heads=2, ff_dim=32):
            super().__init__()
            self.embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
            self.transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
            self.dropout1 = nn.Dropout(0.1)
            self.ff = nn.Sequential(dense(embed_dim, ff_dim), nn.ReLU())
            self.dropout2 = nn.Dropout(0.1)
            self.ff_final = nn.Sequential(dense(ff_dim, num_tags), nn.Softmax(dim=-1))  # activation="softmax"

        def forward(self, inputs):
            x = self.embedding_layer(inputs)
            x = self.transformer_block(x)
            x = self.dropout1(x)
            x = self.ff(x)
            x = self.dropout2(x)
            return self.ff_final(x)

    def loss_fn(y_pred, y_true):  # CustomNonPaddingTokenLoss.call(y_true, y_pred)
        if softmax_ce_on_probs:  # SparseCategoricalCrossentropy(from_logits=True, reduction=NONE)
            loss = F.cross_entropy(y_pred.reshape(-1, y_pred.shape[-1]), y_true.reshape(-1), reduction="none")
        else:  # fix: from_logits=False (Keras clips the probabilities to [1e-7, 1 - 1e-7])
            p = y_pred.clamp(1e-7, 1 - 1e-7).reshape(-1, y_pred.shape[-1])
            loss = -torch.log(p.gather(1, y_true.reshape(-1, 1))).squeeze(1)
        mask = (y_true.reshape(-1) > 0).float()
        loss = loss * mask
        return loss.sum() / mask.sum()

    model = NERModel(num_tags, vocab_size, maxlen=maxlen, embed_dim=embed_dim, num_heads=num_heads, ff_dim=ff_dim)
    x, y = _conll_like()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batches = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, len(xt), batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt, "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr, eps=1e-7)}


def _keras(softmax_ce_on_probs: bool) -> dict[str, Any]:
    import keras
    import tensorflow as tf
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    class TransformerBlock(layers.Layer):  # program lines
        def __init__(self, embed_dim, num_heads, ff_dim, rate=0.1):
            super().__init__()
            self.att = keras.layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.ffn = keras.Sequential([keras.layers.Dense(ff_dim, activation="relu"),
                                         keras.layers.Dense(embed_dim)])
            self.layernorm1 = keras.layers.LayerNormalization(epsilon=1e-6)
            self.layernorm2 = keras.layers.LayerNormalization(epsilon=1e-6)
            self.dropout1 = keras.layers.Dropout(rate)
            self.dropout2 = keras.layers.Dropout(rate)

        def call(self, inputs, training=False):
            attn_output = self.att(inputs, inputs)
            attn_output = self.dropout1(attn_output, training=training)
            out1 = self.layernorm1(inputs + attn_output)
            ffn_output = self.ffn(out1)
            ffn_output = self.dropout2(ffn_output, training=training)
            return self.layernorm2(out1 + ffn_output)

    class TokenAndPositionEmbedding(layers.Layer):  # program lines
        def __init__(self, maxlen, vocab_size, embed_dim):
            super().__init__()
            self.token_emb = keras.layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.pos_emb = keras.layers.Embedding(input_dim=maxlen, output_dim=embed_dim)

        def call(self, inputs):
            maxlen = ops.shape(inputs)[-1]
            positions = ops.arange(0, maxlen, 1)
            position_embeddings = self.pos_emb(positions)
            token_embeddings = self.token_emb(inputs)
            return token_embeddings + position_embeddings

    class NERModel(keras.Model):  # program lines
        def __init__(self, num_tags, vocab_size, maxlen=128, embed_dim=32, num_heads=2, ff_dim=32):
            super().__init__()
            self.embedding_layer = TokenAndPositionEmbedding(maxlen, vocab_size, embed_dim)
            self.transformer_block = TransformerBlock(embed_dim, num_heads, ff_dim)
            self.dropout1 = layers.Dropout(0.1)
            self.ff = layers.Dense(ff_dim, activation="relu")
            self.dropout2 = layers.Dropout(0.1)
            self.ff_final = layers.Dense(num_tags, activation="softmax")

        def call(self, inputs, training=False):
            x = self.embedding_layer(inputs)
            x = self.transformer_block(x, training=training)
            x = self.dropout1(x, training=training)
            x = self.ff(x)
            x = self.dropout2(x, training=training)
            x = self.ff_final(x)
            return x

    class CustomNonPaddingTokenLoss(keras.losses.Loss):  # program lines
        def __init__(self, name="custom_ner_loss"):
            super().__init__(name=name)

        def call(self, y_true, y_pred):
            if softmax_ce_on_probs:
                # SparseCategoricalCrossentropy(from_logits=True, reduction=NONE) as it reads y_pred (logits); the
                # Keras class itself would swap in the hidden pre-softmax logits (see the module docstring)
                loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ops.cast(y_true, "int32"),
                                                                      logits=y_pred)
            else:  # fix (PR #1610)
                loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=False, reduction=None)
                loss = loss_fn(y_true, y_pred)
            mask = ops.cast((y_true > 0), dtype="float32")
            loss = loss * mask
            return ops.sum(loss) / ops.sum(mask)

    x, y = _conll_like()
    ner_model = NERModel(num_tags, vocab_size, maxlen=maxlen, embed_dim=embed_dim, num_heads=num_heads,
                         ff_dim=ff_dim)
    ner_model(x[:batch_size])  # build
    ner_model.compile(optimizer="adam", loss=CustomNonPaddingTokenLoss())
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    return {"model": ner_model, "batch": batches[0], "batches": batches, "inputs": x}


def _build(framework: str, softmax_ce_on_probs: bool) -> dict[str, Any]:
    if framework == "torch":
        return _torch(softmax_ce_on_probs)
    if framework == "keras":
        return _keras(softmax_ce_on_probs)
    raise ValueError(framework)


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, softmax_ce_on_probs=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, softmax_ce_on_probs=False)
