"""Deep Learning with TensorFlow 2 and Keras (2nd ed., Packt; Gulli, Kapoor, Pal), Chapter 8
``seq2seq_wo_attn.py``: an English -> French GRU encoder-decoder (no attention) trained on the first 30,000
pairs of the manythings.org ``fra-eng`` corpus with a custom ``tf.GradientTape`` step, a padding-masked
``SparseCategoricalCrossentropy(from_logits=True)`` and ``Adam()``.

The fault: the ``Encoder`` class declared its arguments as ``(vocab_size, num_timesteps, embedding_dim,
encoder_dim)`` while the script builds it as ``Encoder(vocab_size_en+1, embedding_dim, maxlen_en, encoder_dim)``
(the order the ``Decoder`` uses). The two middle arguments swap silently: the encoder's ``Embedding`` gets
``output_dim = maxlen_en`` (the longest English sentence, 8 tokens) instead of ``EMBEDDING_DIM = 256``, and
``input_length = 256`` (unused). Nothing crashes; every English word is squeezed into an 8-wide vector before
the GRU that has to summarise the whole sentence for the decoder.

Source: github:PacktPublishing/Deep-Learning-with-TensorFlow-2-and-Keras issue #2 ("Wrong function parameter
order in seq2seq", huikang: "The definition is ``Encoder(vocab_size, num_timesteps, embedding_dim,
encoder_dim)``. However, the encoder is create by ``Encoder(vocab_size_en+1, embedding_dim, maxlen_en,
encoder_dim)``"), file ``Chapter 8/seq2seq_wo_attn.py`` @ 6b1a7c4^ (= b2639479d3e487005ba9098ed8eb37a1242226e8
tree); fixed by the author (sujitpal: "I have fixed the ordering in the class definition, to keep it in line with
the ordering in the Decoder class definition") in commit 6b1a7c462df1886bce4c15e95ac4864f90c9dffe, merged as
PR #6 (327d015).

Program lines kept: the ``Encoder`` / ``Decoder`` classes (Embedding -> GRU(return_state) -> initial state of the
decoder GRU(return_sequences) -> Dense(vocab_fr) logits), ``loss_fn`` (SCCE from logits, ``sample_weight`` = the
int64 mask of non-zero targets, Keras' default sum-over-batch-size reduction), ``Adam()`` defaults,
``BATCH_SIZE = 64``, ``EMBEDDING_DIM = 256``, post padding, ``BOS``/``EOS`` framing of the French side, teacher
forcing (``decoder_in`` = BOS + sentence, ``decoder_out`` = sentence + EOS), the zero initial encoder state.

Ported: TF2 ``tf.keras`` -> Keras 3; ``input_length`` (dropped by Keras 3, it has no effect in either version)
left out. The program calls ``encoder(encoder_in, state)`` and ``decoder(decoder_in, state)`` from its own step;
here one model takes ``x = concat([encoder_in, decoder_in], axis=1)`` (B, 8 + 16) ints and splits it, so the
standard (x, y) step with ``y = decoder_out`` is the program's step (loss on the decoder logits, gradients into
encoder and decoder). Shrunk for CPU: ``ENCODER_DIM = DECODER_DIM = 128`` (program 1024) and vocabularies of
1,000 English / 1,600 French words (program ~4,500 / 7,658); ``maxlen_en = 8`` and ``maxlen_fr = 16`` are the
program's (its own shape comment). Torch twin: ``nn.Embedding`` / ``nn.GRU(batch_first=True)`` (Keras' GRU
default ``reset_after=True`` is torch's GRU cell) / ``nn.Linear``, Keras initialisers (uniform(-0.05, 0.05)
embeddings, glorot kernels, orthogonal recurrent kernels, zero biases), the same masked mean, ``Adam(lr=1e-3,
eps=1e-7)``; the same argument swap (``nn.Embedding(vocab_en, maxlen_en)``).

Data stand-in (no download): seeded synthetic "translation" pairs of the corpus' shape: English sentences of
1-7 Zipf-distributed words plus a punctuation token, post-padded to 8; the French side is a fixed word-by-word
dictionary translation (30 % of English words become two French tokens, like article + noun), framed with BOS /
EOS and post-padded to 16; id 0 is padding. Real signal: the French tokens are a function of the English ones.

Fault label: ``other:encoder_embedding_width_is_sequence_length`` (a layer-width fault from swapped positional
arguments; no listed cause fits). Fix: declare ``Encoder(vocab_size, embedding_dim, num_timesteps, encoder_dim)``
so the encoder embeds into 256 dimensions.

Measured (own plain loops, one thread, batches of 64, masked-mean loss averaged over 25-step windows; buggy vs
fixed from the same seed):
  Keras, 30,000 stand-in pairs, 1,000 / 1,600 vocabularies, 300 steps: buggy 4.41 -> 1.70, fixed 4.33 -> 1.69;
    held-out token accuracy (2,000 new pairs, teacher forcing) 0.533 vs 0.544.
  Keras, the program's vocabulary sizes (4,500 / 7,000), 800 steps: buggy 5.55 -> 1.93, fixed 5.45 -> 1.89;
    held-out token accuracy 0.532 vs 0.555.
  torch (this module's data: 1,920 training pairs, 128 held out), 400 steps: buggy 4.36 -> 1.56, fixed
    4.29 -> 1.49; held-out token accuracy 0.538 vs 0.547.
  The fault shows only as a consistently slower descent and a 1-2 point lower token accuracy in the step budget a
  CPU allows: an 8-wide embedding still separates the words and the GRU state still carries the sentence; the
  program's 30 epochs (~10,000 steps) on the real corpus were not reproduced. Time per step (batch 64): torch
  ~45 ms, Keras ``train_on_batch`` ~110-135 ms (the 1,601-way output over 16 steps dominates); builds: torch 1.1 s,
  Keras 5.6 s (first, with imports).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:encoder_embedding_width_is_sequence_length"
SOURCE = ("github:PacktPublishing/Deep-Learning-with-TensorFlow-2-and-Keras issue #2, PR #6 (Chapter 8/"
          "seq2seq_wo_attn.py@6b1a7c4^, fix 6b1a7c462df1886bce4c15e95ac4864f90c9dffe)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {})]

EMBEDDING_DIM = 256
ENCODER_DIM = DECODER_DIM = 128  # program: 1024, 1024
BATCH_SIZE = 64
MAXLEN_EN, MAXLEN_FR = 8, 16
VOCAB_EN, VOCAB_FR = 1000, 1600  # words; +1 for the padding id 0 (program: vocab_size + 1)
BOS, EOS = 1, 2
N_PAIRS = 2048
N_BATCHES = 4
N_INPUTS = 128
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _pairs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(encoder_in, decoder_in, decoder_out) int32 arrays of N_PAIRS post-padded sentence pairs."""
    r = np.random.default_rng(1234)
    perm = r.permutation(np.arange(3, VOCAB_FR + 1))
    n_two = int(0.3 * VOCAB_EN)
    dic: dict[int, list[int]] = {}
    k = 0
    for w in range(1, VOCAB_EN + 1):
        m = 2 if w <= n_two else 1
        dic[w] = [int(t) for t in perm[k:k + m]]
        k += m
    r = np.random.default_rng(SEED)
    zipf = 1.0 / np.arange(1, VOCAB_EN - 3 + 1)
    zipf /= zipf.sum()
    en = np.zeros((N_PAIRS, MAXLEN_EN), "int32")
    fr_in = np.zeros((N_PAIRS, MAXLEN_FR), "int32")
    fr_out = np.zeros((N_PAIRS, MAXLEN_FR), "int32")
    for i in range(N_PAIRS):
        n_words = int(r.integers(1, MAXLEN_EN))
        words = [int(w) for w in r.choice(np.arange(4, VOCAB_EN + 1), size=n_words, p=zipf)]
        words.append(int(r.integers(1, 4)))  # ". ! ?"
        fr = [t for w in words for t in dic[w]][:MAXLEN_FR - 1]
        en[i, :len(words)] = words
        fr_in[i, :len(fr) + 1] = [BOS] + fr
        fr_out[i, :len(fr) + 1] = fr + [EOS]
    return en, fr_in, fr_out


def _batches() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    en, fr_in, fr_out = _pairs()
    x = np.concatenate([en, fr_in], axis=1)
    r = np.random.default_rng(SEED + 1)
    order = r.permutation(N_PAIRS)
    bs = [(x[order[i * BATCH_SIZE:(i + 1) * BATCH_SIZE]], fr_out[order[i * BATCH_SIZE:(i + 1) * BATCH_SIZE]])
          for i in range(N_BATCHES)]
    return bs, x[order[-N_INPUTS:]]


def _encoder_args(fixed: bool) -> tuple[int, int]:
    """What the Encoder's Embedding receives as (output_dim, input_length): the script passes
    ``Encoder(vocab_size_en+1, embedding_dim, maxlen_en, encoder_dim)``; the buggy signature reads the 2nd and 3rd
    positional arguments as (num_timesteps, embedding_dim)."""
    vocab_size, a2, a3 = VOCAB_EN + 1, EMBEDDING_DIM, MAXLEN_EN
    del vocab_size
    if fixed:  # def __init__(self, vocab_size, embedding_dim, num_timesteps, encoder_dim)
        embedding_dim, num_timesteps = a2, a3
    else:  # def __init__(self, vocab_size, num_timesteps, embedding_dim, encoder_dim)
        num_timesteps, embedding_dim = a2, a3
    return embedding_dim, num_timesteps


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)

    def gru(n_in: int, units: int) -> nn.GRU:
        g = nn.GRU(n_in, units, batch_first=True)
        for i in range(3):  # per gate: glorot kernel, orthogonal recurrent kernel, zero biases (Keras defaults)
            nn.init.xavier_uniform_(g.weight_ih_l0.data[i * units:(i + 1) * units])
            nn.init.orthogonal_(g.weight_hh_l0.data[i * units:(i + 1) * units])
        nn.init.zeros_(g.bias_ih_l0)
        nn.init.zeros_(g.bias_hh_l0)
        return g

    def embedding(n: int, dim: int) -> nn.Embedding:
        e = nn.Embedding(n, dim)
        nn.init.uniform_(e.weight, -0.05, 0.05)
        return e

    class Encoder(nn.Module):
        def __init__(self, vocab_size: int, embedding_dim: int, encoder_dim: int) -> None:
            super().__init__()
            self.encoder_dim = encoder_dim
            self.embedding = embedding(vocab_size, embedding_dim)
            self.rnn = gru(embedding_dim, encoder_dim)

        def forward(self, x: Any, state: Any) -> Any:
            x = self.embedding(x)
            x, state = self.rnn(x, state)
            return x[:, -1], state

    class Decoder(nn.Module):
        def __init__(self, vocab_size: int, embedding_dim: int, decoder_dim: int) -> None:
            super().__init__()
            self.embedding = embedding(vocab_size, embedding_dim)
            self.rnn = gru(embedding_dim, decoder_dim)
            self.dense = nn.Linear(decoder_dim, vocab_size)
            nn.init.xavier_uniform_(self.dense.weight)
            nn.init.zeros_(self.dense.bias)

        def forward(self, x: Any, state: Any) -> Any:
            x = self.embedding(x)
            x, state = self.rnn(x, state)
            return self.dense(x), state

    class Seq2Seq(nn.Module):
        """x = concat([encoder_in, decoder_in], 1); returns the decoder's logits (B, MAXLEN_FR, VOCAB_FR + 1)."""

        def __init__(self, enc_embedding_dim: int) -> None:
            super().__init__()
            self.encoder = Encoder(VOCAB_EN + 1, enc_embedding_dim, ENCODER_DIM)
            self.decoder = Decoder(VOCAB_FR + 1, EMBEDDING_DIM, DECODER_DIM)

        def forward(self, x: Any) -> Any:
            encoder_in, decoder_in = x[:, :MAXLEN_EN], x[:, MAXLEN_EN:]
            state = torch.zeros(1, x.shape[0], ENCODER_DIM)  # encoder.init_state(batch_size)
            _, encoder_state = self.encoder(encoder_in, state)
            decoder_pred, _ = self.decoder(decoder_in, encoder_state)
            return decoder_pred

    embedding_dim, _ = _encoder_args(fixed)
    model = Seq2Seq(embedding_dim)

    def loss_fn(ypred: Any, ytrue: Any) -> Any:
        """SparseCategoricalCrossentropy(from_logits=True)(ytrue, ypred, sample_weight=mask): the masked per-token
        losses summed and divided by the number of tokens (pads included)."""
        ce = nn.functional.cross_entropy(ypred.reshape(-1, ypred.shape[-1]), ytrue.reshape(-1).long(),
                                         reduction="none")
        mask = (ytrue.reshape(-1) != 0).to(ce.dtype)
        return (ce * mask).sum() / ce.numel()

    bs, inputs = _batches()
    tb = [(torch.from_numpy(x.astype("int64")), torch.from_numpy(y.astype("int64"))) for x, y in bs]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(inputs.astype("int64")),
            "loss_fn": loss_fn,
            "optimizer": lambda params: torch.optim.Adam(params, lr=1e-3, eps=1e-7)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import ops

    keras.utils.set_random_seed(SEED)

    class Encoder(keras.Model):
        def __init__(self, vocab_size: int, embedding_dim: int, encoder_dim: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.encoder_dim = encoder_dim
            self.embedding = keras.layers.Embedding(vocab_size, embedding_dim)  # input_length=num_timesteps
            self.rnn = keras.layers.GRU(encoder_dim, return_sequences=False, return_state=True)

        def call(self, x: Any, state: Any = None) -> Any:
            x = self.embedding(x)
            x, state = self.rnn(x, initial_state=state)  # state None: the GRU's zero state = init_state()
            return x, state

    class Decoder(keras.Model):
        def __init__(self, vocab_size: int, embedding_dim: int, decoder_dim: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.decoder_dim = decoder_dim
            self.embedding = keras.layers.Embedding(vocab_size, embedding_dim)  # input_length=num_timesteps
            self.rnn = keras.layers.GRU(decoder_dim, return_sequences=True, return_state=True)
            self.dense = keras.layers.Dense(vocab_size)

        def call(self, x: Any, state: Any) -> Any:
            x = self.embedding(x)
            x, state = self.rnn(x, state)
            x = self.dense(x)
            return x, state

    embedding_dim, _ = _encoder_args(fixed)
    encoder = Encoder(VOCAB_EN + 1, embedding_dim, ENCODER_DIM)
    decoder = Decoder(VOCAB_FR + 1, EMBEDDING_DIM, DECODER_DIM)
    inp = keras.Input((MAXLEN_EN + MAXLEN_FR,), dtype="int32")
    encoder_in, decoder_in = inp[:, :MAXLEN_EN], inp[:, MAXLEN_EN:]
    _, encoder_state = encoder(encoder_in)  # initial state: zeros, as encoder.init_state(batch_size)
    decoder_pred, _ = decoder(decoder_in, encoder_state)
    model = keras.Model(inp, decoder_pred)

    def loss_fn(ytrue: Any, ypred: Any) -> Any:
        scce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        mask = ops.logical_not(ops.equal(ytrue, 0))
        mask = ops.cast(mask, dtype="int64")
        loss = scce(ytrue, ypred, sample_weight=mask)
        return loss

    model.compile(optimizer=keras.optimizers.Adam(), loss=loss_fn)
    bs, inputs = _batches()
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": inputs}


buggy, fixed = versions(_torch, _keras)
