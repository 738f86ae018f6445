"""pytorch/examples ``language_translation`` (German -> English on Multi30k with an ``nn.Transformer``
``Translator``): ``src/data.py`` builds the two vocabularies with
``build_vocab_from_iterator(_yield_tokens(train_iterator, tokenizer, src_lang), ...)`` and
``_yield_tokens(train_iterator, tgt_tokenizer, tgt_lang)``, where ``_yield_tokens(iterable, tokenizer, src)``
picks column ``0 if src else 1`` of each (de, en) pair. Both language codes ("de", "en") are non-empty
strings, so *both* vocabularies are built from the German column: the English targets are numericalised
with a German vocabulary (``set_default_index(<unk>)``), and every English word that is not also a German
token becomes ``<unk>``. The decoder is trained (with ``CrossEntropyLoss(ignore_index=<pad>)``) to emit
``<unk>`` for most target positions: the loss falls fast, but the targets carry almost no information.

Source: github.com/pytorch/examples PR #1356 "fix typo which make tgt tensor data wrong", commit 3ddcc89
(``_yield_tokens(train_iterator, src_tokenizer, True)`` / ``(..., tgt_tokenizer, False)``). Program:
``language_translation/src/data.py``, ``src/model.py`` and ``main.py`` at 3ddcc89^. Program lines kept:
``special_symbols`` (<unk> 0, <pad> 1, <bos> 2, <eos> 3), the vocabulary construction (specials first, then
tokens by descending frequency, ``min_freq=1``) and ``_tensor_transform`` (<bos> ... <eos>), ``pad_sequence``
with <pad>, ``create_mask`` / ``generate_square_subsequent_mask``, ``PositionalEncoding``, ``Translator``
(``nn.Transformer`` on sequence-first tensors, xavier init of every matrix, ``ff`` Linear head),
``CrossEntropyLoss(ignore_index=<pad>)``, ``Adam(lr=1e-4, betas=(0.9, 0.98), eps=1e-9)``, batch 128,
``attn_heads=8``, ``dropout=0.1``, ``tgt_input = tgt[:-1]``, ``tgt_out = tgt[1:]``.
Ported minimally: the model is smaller than the defaults (``embed_size`` 512 -> 32, ``dim_feedforward``
512 -> 64, 5+5 -> 2+2 layers; 8 heads kept) so that a step runs on one CPU thread; the (S, N) / (T, N)
sequence-first tensors and the masks of ``train`` are built inside a wrapper's ``forward`` from a batch-first
``(N, S + T)`` id tensor (source ids padded to 10, then target-input ids padded to 9), which returns the
``(N, T, V)`` logits; ``loss_fn`` is the loop's ``loss_fn(logits.reshape(-1, V), tgt_out.reshape(-1))``.
Whitespace tokenisation stands for spaCy.
Data stand-in (Multi30k is downloaded): 1024 seeded (de, en) sentence pairs of 3-7 words + "." from a
word-for-word dictionary (160 German / 160 English content words, Zipf-like frequencies) plus 12 tokens
spelled the same in both languages (names, numbers, "," -- as Multi30k shares punctuation and names);
8 batches of 128. With the bug 73 % of the English word targets (63 % of all non-pad targets, <eos>
included) are <unk>; with the fix none are.
Keras twin: the same Translator in Keras 3 on batch-first ids (post-norm encoder/decoder blocks like
``nn.TransformerEncoderLayer`` / ``DecoderLayer``: ``MultiHeadAttention(8, key_dim=4, dropout=0.1)``,
residual + LayerNorm, ReLU feed-forward 64, a final LayerNorm after each stack, padding masks and a causal
decoder mask), compiled with ``SparseCategoricalCrossentropy(from_logits=True, ignore_class=1)`` and
``Adam(1e-4, beta_2=0.98, epsilon=1e-9)``; the data pipeline, and so the bug, is the same.
Fault label: label_mapping_mismatch|labels_imbalanced (the targets are encoded with the wrong vocabulary and
collapse onto <unk>). Fix (3ddcc89): build ``tgt_vocab`` from the English column.
Observed (own loop, 400 steps in order over the 8 batches, train mode; ~55 ms per step for torch and
~85-105 ms for Keras on one thread of a loaded 2-core machine; "unk share" = share of the non-pad target
positions the model then predicts as <unk>, eval mode): torch buggy loss 5.41 -> 1.70, unk share 0.98
(token accuracy 0.65, nearly all of it from writing <unk>), fixed 5.26 -> 3.91, unk share 0.00 (accuracy
0.29 on real words). Keras buggy 5.67 -> 1.57, unk share 0.86 (accuracy 0.77), fixed 5.59 -> 3.81, unk
share 0.00 (accuracy 0.34).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

LABEL = "label_mapping_mismatch|labels_imbalanced"
SOURCE = ("github:pytorch/examples PR #1356 (language_translation/src/data.py@3ddcc89^, "
          "src/model.py, main.py; fix 3ddcc89)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {})]

special_symbols = {"<unk>": 0, "<pad>": 1, "<bos>": 2, "<eos>": 3}  # program lines
batch_size = 128  # --batch
lr = 1e-4  # --lr
attn_heads = 8
dropout = 0.1
embed_size = 32  # program: 512 (shrunk for CPU)
dim_feedforward = 64  # program: 512
enc_layers = dec_layers = 2  # program: 5 and 5
n_pairs = 1024
src_len = 10  # <bos> + up to 8 tokens + <eos>
tgt_len = 9  # tgt[:-1]


def _corpus(seed: int = 0) -> list[tuple[str, str]]:
    """Seeded (de, en) pairs: word-for-word translations over a Zipf-like dictionary, a few tokens
    spelled the same in both languages, each sentence ending in "."."""
    rng = np.random.default_rng(seed)
    n_words = 160
    de_words = [f"de{i}" for i in range(n_words)]
    en_words = [f"en{i}" for i in range(n_words)]
    shared = [",", "anna", "ben", "carla", "david", "1", "2", "3", "4", "5", "6", "7"]  # same in both
    p = 1.0 / np.arange(1, n_words + 1) ** 0.9
    p /= p.sum()
    pairs = []
    for _ in range(n_pairs):
        n = int(rng.integers(3, 8))
        de, en = [], []
        for _ in range(n):
            if rng.random() < 0.12:
                w = shared[int(rng.integers(len(shared)))]
                de.append(w)
                en.append(w)
            else:
                k = int(rng.choice(n_words, p=p))
                de.append(de_words[k])
                en.append(en_words[k])
        pairs.append((" ".join(de + ["."]), " ".join(en + ["."])))
    return pairs


def _build_vocab(token_lists) -> dict[str, int]:
    """``build_vocab_from_iterator(..., min_freq=1, specials=list(special_symbols), special_first=True)``:
    specials, then tokens by descending frequency (ties alphabetical)."""
    counter: Counter = Counter()
    for toks in token_lists:
        counter.update(toks)
    vocab = dict(special_symbols)
    for tok, _ in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])):
        vocab.setdefault(tok, len(vocab))
    return vocab


def _data(bug: bool) -> tuple[list[tuple[np.ndarray, np.ndarray]], int, int]:
    train_iterator = _corpus()
    tokenizer = str.split  # spaCy in the program

    def _yield_tokens(iterable_data, tokenizer, src):  # program lines
        index = 0 if src else 1
        for data in iterable_data:
            yield tokenizer(data[index])

    src_lang, tgt_lang = "de", "en"  # --src / --tgt
    src_vocab = _build_vocab(_yield_tokens(train_iterator, tokenizer, src_lang if bug else True))
    tgt_vocab = _build_vocab(_yield_tokens(train_iterator, tokenizer, tgt_lang if bug else False))

    def _transform(sentence, vocab, length):  # tokenizer, vocab (default <unk>), _tensor_transform, padding
        ids = [special_symbols["<bos>"]] + [vocab.get(t, special_symbols["<unk>"]) for t in tokenizer(sentence)]
        ids.append(special_symbols["<eos>"])
        return ids + [special_symbols["<pad>"]] * (length - len(ids))

    src = np.array([_transform(s, src_vocab, src_len) for s, _ in train_iterator], dtype="int64")
    tgt = np.array([_transform(t, tgt_vocab, tgt_len + 1) for _, t in train_iterator], dtype="int64")
    x = np.concatenate([src, tgt[:, :-1]], axis=1)  # source ids, then tgt_input = tgt[:-1]
    y = tgt[:, 1:]  # tgt_out = tgt[1:]
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n_pairs, batch_size)]
    return batches, len(src_vocab), len(tgt_vocab)


def _torch(bug: bool) -> dict[str, Any]:
    import math

    import torch
    from torch import nn

    torch.manual_seed(0)
    batches, src_vocab_size, tgt_vocab_size = _data(bug)

    class PositionalEncoding(nn.Module):  # program lines
        def __init__(self, emb_size, dropout, maxlen=5000):
            super().__init__()
            den = torch.exp(- torch.arange(0, emb_size, 2) * math.log(10000) / emb_size)
            pos = torch.arange(0, maxlen).reshape(maxlen, 1)
            pos_embedding = torch.zeros((maxlen, emb_size))
            pos_embedding[:, 0::2] = torch.sin(pos * den)
            pos_embedding[:, 1::2] = torch.cos(pos * den)
            pos_embedding = pos_embedding.unsqueeze(-2)
            self.dropout = nn.Dropout(dropout)
            self.register_buffer('pos_embedding', pos_embedding)

        def forward(self, token_embedding):
            return self.dropout(token_embedding + self.pos_embedding[:token_embedding.size(0), :])

    class Translator(nn.Module):  # program lines
        def __init__(self, num_encoder_layers, num_decoder_layers, embed_size, num_heads, src_vocab_size,
                     tgt_vocab_size, dim_feedforward, dropout):
            super().__init__()
            self.src_embedding = nn.Embedding(src_vocab_size, embed_size)
            self.tgt_embedding = nn.Embedding(tgt_vocab_size, embed_size)
            self.pos_enc = PositionalEncoding(embed_size, dropout)
            self.transformer = nn.Transformer(d_model=embed_size, nhead=num_heads,
                                              num_encoder_layers=num_encoder_layers,
                                              num_decoder_layers=num_decoder_layers,
                                              dim_feedforward=dim_feedforward, dropout=dropout)
            self.ff = nn.Linear(embed_size, tgt_vocab_size)
            self._init_weights()

        def _init_weights(self):
            for p in self.parameters():
                if p.dim() > 1:
                    nn.init.xavier_uniform_(p)

        def forward(self, src, trg, src_mask, tgt_mask, src_padding_mask, tgt_padding_mask,
                    memory_key_padding_mask):
            src_emb = self.pos_enc(self.src_embedding(src))
            tgt_emb = self.pos_enc(self.tgt_embedding(trg))
            outs = self.transformer(src_emb, tgt_emb, src_mask, tgt_mask, None, src_padding_mask,
                                    tgt_padding_mask, memory_key_padding_mask)
            return self.ff(outs)

    def generate_square_subsequent_mask(size, device):  # program lines
        mask = (torch.triu(torch.ones((size, size), device=device)) == 1).transpose(0, 1)
        mask = mask.float().masked_fill(mask == 0, float('-inf')).masked_fill(mask == 1, float(0.0))
        return mask

    def create_mask(src, tgt, pad_idx, device):  # program lines
        src_seq_len = src.shape[0]
        tgt_seq_len = tgt.shape[0]
        tgt_mask = generate_square_subsequent_mask(tgt_seq_len, device)
        src_mask = torch.zeros((src_seq_len, src_seq_len), device=device).type(torch.bool)
        src_padding_mask = (src == pad_idx).transpose(0, 1)
        tgt_padding_mask = (tgt == pad_idx).transpose(0, 1)
        return src_mask, tgt_mask, src_padding_mask, tgt_padding_mask

    class TrainForward(nn.Module):
        """The body of ``train`` up to the logits, on a batch-first (N, S + T) id tensor."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            src = x[:, :src_len].transpose(0, 1)
            tgt_input = x[:, src_len:].transpose(0, 1)
            src_mask, tgt_mask, src_padding_mask, tgt_padding_mask = create_mask(
                src, tgt_input, special_symbols["<pad>"], x.device)
            logits = self.model(src, tgt_input, src_mask, tgt_mask, src_padding_mask, tgt_padding_mask,
                                src_padding_mask)
            return logits.transpose(0, 1)  # (N, T, V)

    model = TrainForward(Translator(enc_layers, dec_layers, embed_size, attn_heads, src_vocab_size,
                                    tgt_vocab_size, dim_feedforward, dropout))
    criterion = torch.nn.CrossEntropyLoss(ignore_index=special_symbols["<pad>"])

    def loss_fn(logits, tgt_out):
        return criterion(logits.reshape(-1, logits.shape[-1]), tgt_out.reshape(-1))

    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "loss_fn": loss_fn,
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr, betas=(0.9, 0.98), eps=1e-9)}


def _keras(bug: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)
    batches, src_vocab_size, tgt_vocab_size = _data(bug)
    pad = special_symbols["<pad>"]

    def _pos_table(maxlen=64, emb_size=embed_size):
        den = np.exp(-np.arange(0, emb_size, 2) * np.log(10000) / emb_size)
        pos = np.arange(maxlen)[:, None]
        table = np.zeros((maxlen, emb_size), dtype="float32")
        table[:, 0::2] = np.sin(pos * den)
        table[:, 1::2] = np.cos(pos * den)
        return table

    pos_table = _pos_table()
    init = "glorot_uniform"  # xavier_uniform_ on every matrix

    class Translator(keras.Model):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.src_embedding = layers.Embedding(src_vocab_size, embed_size, embeddings_initializer=init)
            self.tgt_embedding = layers.Embedding(tgt_vocab_size, embed_size, embeddings_initializer=init)
            self.drop = layers.Dropout(dropout)

            def mha():
                return layers.MultiHeadAttention(attn_heads, key_dim=embed_size // attn_heads, dropout=dropout,
                                                 kernel_initializer=init)

            def ffn():
                return [layers.Dense(dim_feedforward, activation="relu", kernel_initializer=init),
                        layers.Dropout(dropout), layers.Dense(embed_size, kernel_initializer=init)]

            self.enc = [dict(att=mha(), ff=ffn(), n1=layers.LayerNormalization(epsilon=1e-5),
                             n2=layers.LayerNormalization(epsilon=1e-5), d1=layers.Dropout(dropout),
                             d2=layers.Dropout(dropout)) for _ in range(enc_layers)]
            self.dec = [dict(att=mha(), cross=mha(), ff=ffn(), n1=layers.LayerNormalization(epsilon=1e-5),
                             n2=layers.LayerNormalization(epsilon=1e-5), n3=layers.LayerNormalization(epsilon=1e-5),
                             d1=layers.Dropout(dropout), d2=layers.Dropout(dropout), d3=layers.Dropout(dropout))
                        for _ in range(dec_layers)]
            self.enc_norm = layers.LayerNormalization(epsilon=1e-5)
            self.dec_norm = layers.LayerNormalization(epsilon=1e-5)
            self.ff = layers.Dense(tgt_vocab_size, kernel_initializer=init)

        @staticmethod
        def _ffn(block, x, training):
            for layer in block:
                x = layer(x, training=training)
            return x

        def call(self, x, training=False):
            x = ops.cast(x, "int32")
            src, tgt = x[:, :src_len], x[:, src_len:]
            src_keep = ops.not_equal(src, pad)  # src_padding_mask (True = attend)
            tgt_keep = ops.not_equal(tgt, pad)
            causal = ops.tril(ops.ones((tgt_len, tgt_len), dtype="bool"))
            enc_mask = ops.logical_and(src_keep[:, None, :], ops.ones_like(src_keep)[:, :, None])
            self_mask = ops.logical_and(ops.logical_and(causal[None], tgt_keep[:, None, :]),
                                        ops.ones_like(tgt_keep)[:, :, None])
            cross_mask = ops.logical_and(src_keep[:, None, :], ops.ones_like(tgt_keep)[:, :, None])
            h = self.drop(self.src_embedding(src) + pos_table[:src_len], training=training)
            for b in self.enc:  # post-norm nn.TransformerEncoderLayer
                h = b["n1"](h + b["d1"](b["att"](h, h, attention_mask=enc_mask, training=training),
                                        training=training))
                h = b["n2"](h + b["d2"](self._ffn(b["ff"], h, training), training=training))
            memory = self.enc_norm(h)
            t = self.drop(self.tgt_embedding(tgt) + pos_table[:tgt_len], training=training)
            for b in self.dec:  # post-norm nn.TransformerDecoderLayer
                t = b["n1"](t + b["d1"](b["att"](t, t, attention_mask=self_mask, training=training),
                                        training=training))
                t = b["n2"](t + b["d2"](b["cross"](t, memory, attention_mask=cross_mask, training=training),
                                        training=training))
                t = b["n3"](t + b["d3"](self._ffn(b["ff"], t, training), training=training))
            return self.ff(self.dec_norm(t))

    model = Translator()
    model(batches[0][0][:2])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=pad),
                  optimizer=keras.optimizers.Adam(lr, beta_1=0.9, beta_2=0.98, epsilon=1e-9))
    return {"model": model, "batch": batches[0], "batches": batches}


def buggy(framework: str) -> dict[str, Any]:
    return _torch(True) if framework == "torch" else _keras(True)


def fixed(framework: str) -> dict[str, Any]:
    return _torch(False) if framework == "torch" else _keras(False)
