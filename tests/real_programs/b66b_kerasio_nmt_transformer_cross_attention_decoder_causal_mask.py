"""keras-io ``examples/nlp/neural_machine_translation_with_transformer.py`` (fchollet, "English-to-Spanish translation
with a sequence-to-sequence Transformer", adapted from Deep Learning with Python 2nd ed., ch. 11): two
``TextVectorization`` layers (``vocab_size = 15000``, ``sequence_length = 20``, the Spanish one ``sequence_length +
1`` long with ``"[start] " + spa + " [end]"``), ``format_dataset`` feeding ``{"encoder_inputs": eng,
"decoder_inputs": spa[:, :-1]}`` against ``spa[:, 1:]`` in batches of 64; ``PositionalEmbedding`` (token + learned
position embeddings, ``compute_mask``: token != 0), one ``TransformerEncoder`` and one ``TransformerDecoder``
(``MultiHeadAttention(num_heads=8, key_dim=embed_dim)``, a relu ``latent_dim`` / ``dense_dim`` projection, post-norm
``LayerNormalization``), ``Dropout(0.5)``, ``Dense(vocab_size, activation="softmax")``, ``embed_dim = 256``,
``latent_dim = 2048``, compiled with ``"rmsprop"`` and ``"sparse_categorical_crossentropy"``.

The fault (a mask on the wrong axis, wrongly combined): ``TransformerDecoder.call`` builds the mask of its
*cross*-attention over the encoder outputs from the decoder's own padding mask and the causal mask::

    causal_mask = self.get_causal_attention_mask(inputs)
    padding_mask = tf.cast(mask[:, tf.newaxis, :], dtype="int32")      # mask = decoder tokens != 0
    padding_mask = tf.minimum(padding_mask, causal_mask)
    ...
    attention_output_2 = self.attention_2(query=out_1, value=encoder_outputs, key=encoder_outputs,
                                          attention_mask=padding_mask)

The decoder never receives the English padding mask; the (B, T_dec, T_dec) mask is read as (B, T_dec, S_enc), so
decoder position i may attend only to the encoder outputs at English positions j <= i (and only where the *Spanish*
token j is not padding). Predicting Spanish word i + 1 often needs a later English word: "the red car" -> "el coche
rojo" needs the noun two ahead to choose "el" / "la" and then "coche", a dropped subject pronoun ("I see" -> "veo")
needs the verb one ahead. The encoder's own (bidirectional) self-attention still mixes the whole sentence into
every encoder output, so the later words are not hidden outright: they only reach decoder position i squeezed
through the first i + 1 encoder states (position 0 through one). The decoder is causal over the *target*; nothing
in translation is causal over the *source*.
keras-io PR #1046 (nikoladze, "Fix masks in English-to-Spanish translation example": "The decoder has to be aware of
the input sequence mask, but currently only receives the target sequence mask ... there we want each element of the
output sequence to be able to look at *all* the elements of the input sequence"); reported again as issue #1964
("attention_mask should be set to padding_mask of encoder_inputs, not padding_mask of decoder_inputs"); fixed in PR
#1997 (tomjelen: "Updated the decoder to handle multiple masks, accommodating padding in both Spanish and English
sequences"), where the cross-attention takes the English padding mask as its key mask and no causal mask.

Source: github.com/keras-team/keras-io ``examples/nlp/neural_machine_translation_with_transformer.py`` at
035d541043bd29938cc78a20f19d998ffaa4a05a (TF2 version, "Last modified: 2022/02/25"; the same decoder at
501fb4cbe62e5b5c434393f512a452ef833640a1); PR #1046, issue #1964, PR #1997 (the fix commit's SHA was not
available offline; the fixed decoder is the file's current ``TransformerDecoder.call``).
Fault label: other:cross_attention_mask_from_target_causal_mask (decoder position i reads only source positions
<= i; no cause id fits: it is not batch mixing, not target leakage, and the decoder does read other positions).

Program lines kept: ``format_dataset`` (encoder input, ``spa[:, :-1]`` in, ``spa[:, 1:]`` out), ``PositionalEmbedding``,
``TransformerEncoder`` (its padding mask ``mask[:, tf.newaxis, :]``), ``TransformerDecoder`` with the buggy mask lines
(buggy) / the English key mask on the cross-attention and the causal mask combined with the Spanish padding on the
self-attention (fixed, PR #1046 / #1997), ``get_causal_attention_mask``, ``Dropout(0.5)``, the softmax head, RMSprop
(Keras defaults: lr 1e-3, rho 0.9, eps 1e-7), sparse categorical cross-entropy on the probabilities, batch 64, the
70 / 15 / 15 split of shuffled pairs, the "[start] ... [end]" wrapping, lower-casing and punctuation stripping.
Ported / shrunk (CPU, one thread): vocab_size 15000 -> 160 (the stand-in's vocabularies hold 59 and 90 words),
embed_dim 256 -> 32, latent_dim 2048 -> 128, key_dim = embed_dim kept (32 per head, 8 heads); sequence_length 20 kept.
The two inputs are packed into one int32 array (B, 40): English tokens, then the Spanish decoder input; the model
splits it. Masks are computed from the token ids and passed explicitly (TF2 Keras propagated ``compute_mask``; the
values are the same). The TF2 loss used the output's Keras mask (decoder input != 0): ``loss_fn`` rebuilds it from
the targets (position 0 always, position t where target t - 1 != 0) and averages over it. The torch twin is the
same network (Keras' ``MultiHeadAttention`` written out: per-head q / k / v projections with bias, scores / sqrt(32),
disallowed scores + (-1e9), softmax, output projection; Keras initialisers: glorot-uniform kernels with Keras'
fans for the (32, 8, 32) / (8, 32, 32) einsum kernels, zero biases, U(-0.05, 0.05) embeddings; LayerNorm eps 1e-3;
RMSprop(lr=1e-3, alpha=0.9, eps=1e-7)); the mask lines are framework-free, so the slip exists in both.
Data stand-in (no spa-eng.zip): 6000 seeded English -> Spanish pairs from a small grammar with the real pair's
traits: subject (i / you / we dropped in Spanish, he / she / they / tom / mary kept), optional "do / does not" ->
"no", 8 verbs conjugated by person, determiner (the / a / this / my) agreeing in gender with the noun, optional
adjective placed *after* the noun in Spanish and agreeing with it, 16 nouns, optional adverb. Vocabularies in
``TextVectorization``'s order (0 = padding, 1 = [UNK], then by frequency in the training texts). ``batches``: the
first 4 training batches of 64; ``inputs``: 256 validation pairs packed.

Measured (my own plain loops, /tmp/s47/h_b/measure.py and overfit.py, OMP_NUM_THREADS=1, the module's builds; 700
RMSprop steps = 10.7 epochs of the 4200 training pairs in shuffled batches of 64, the same batches for buggy and
fixed; validation = the 900 validation pairs, teacher-forced argmax accuracy over the real target tokens;
"lookahead" tokens (57 % of them, [end] included) are those whose choice depends on an English word after the
decoder position):
  torch: masked loss at steps 1 / 100 / 300 / 700: buggy 5.43 / 1.97 / 0.81 / 0.30, fixed 5.43 / 1.63 / 0.32 / 0.041.
    Validation token accuracy buggy 0.963 (lookahead tokens 0.936, others 1.000), fixed 1.000 (1.000); whole
    sentences right buggy 0.81, fixed 1.00.
  Keras (``train_on_batch``): steps 1 / 100 / 300 / 700: buggy 5.42 / 1.89 / 0.68 / 0.25, fixed 5.40 / 1.69 / 0.30 /
    0.046. Token accuracy buggy 0.960 (lookahead 0.931, others 0.998), fixed 1.000; sentences 0.78 / 1.00.
  One batch repeated (200 steps, steps 1 / 50 / 200): torch buggy 5.42 / 2.08 / 0.41, fixed 5.40 / 2.12 / 0.34; Keras
    buggy 5.38 / 2.15 / 0.41, fixed 5.38 / 2.26 / 0.36: the fault barely shows when fitting one batch.
  Changing the English words at positions >= 3 moves the buggy decoder's outputs at positions 0..2 as much as the
    fixed one's (max |diff| in probability 0.998 vs 1.000 torch, 0.997 vs 1.000 Keras): the later words do reach
    it, through the encoder's self-attention. Outputs are softmax rows (sums 1 +- 5e-7) in all four builds.
  Loss of the module's batch at initialisation (no dropout): buggy 5.24, fixed 5.23 in both frameworks (ln 160 =
    5.08); builds are deterministic (two builds give identical outputs).
  So on this stand-in the fault slows and caps learning (training loss ~6x the fixed one after 700 steps, 4 % of
    tokens and ~20 % of sentences wrong, concentrated on words that need later English words) rather than
    stopping it; the example's own reported translations were produced with the buggy decoder too.
  Time per step (batch 64, one thread, machine shared with other jobs, load ~3 on 2 cores): torch ~55 ms, Keras
    ``train_on_batch`` ~110-150 ms; builds (first, with imports and data) torch ~3 s, Keras ~6 s.
"""

from __future__ import annotations

import functools
import re
import string
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:cross_attention_mask_from_target_causal_mask"
SOURCE = ("github:keras-team/keras-io PR #1046, issue #1964, fixed in PR #1997 (examples/nlp/"
          "neural_machine_translation_with_transformer.py TransformerDecoder.call: cross-attention attention_mask = "
          "tf.minimum(decoder padding_mask, causal_mask) @035d541043bd29938cc78a20f19d998ffaa4a05a, also "
          "@501fb4cbe62e5b5c434393f512a452ef833640a1; fix: encoder padding mask as key mask, no causal mask)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("output_range", {"kind": "probabilities"}),
          ("input_independent_baseline", {}), ("batch_independence", {})]

# program: vocab_size = 15000, sequence_length = 20, batch_size = 64, embed_dim = 256, latent_dim = 2048, heads 8
VOCAB_SIZE = 160  # port: the stand-in's vocabularies hold 62 (English) and 111 (Spanish) words
SEQUENCE_LENGTH = 20
BATCH_SIZE = 64
EMBED_DIM = 32  # port: 256
LATENT_DIM = 128  # port: 2048
NUM_HEADS = 8
LEARNING_RATE = 0.001  # "rmsprop": Keras defaults
RHO = 0.9
N_PAIRS = 6000
N_BATCHES = 4
N_INPUTS = 256
SEED = 0

# ------------------------------------------------------------------------------------------------------------ data

_SUBJECTS = {  # English subject -> (Spanish subject or None if dropped, person 0..4 = yo, tú, él, nosotros, ellos)
    "i": (None, 0), "you": (None, 1), "he": ("él", 2), "she": ("ella", 2), "tom": ("tom", 2),
    "mary": ("mary", 2), "we": (None, 3), "they": ("ellos", 4)}
_VERBS = {  # English base, third person -> Spanish yo, tú, él, nosotros, ellos
    ("see", "sees"): ("veo", "ves", "ve", "vemos", "ven"),
    ("want", "wants"): ("quiero", "quieres", "quiere", "queremos", "quieren"),
    ("have", "has"): ("tengo", "tienes", "tiene", "tenemos", "tienen"),
    ("buy", "buys"): ("compro", "compras", "compra", "compramos", "compran"),
    ("need", "needs"): ("necesito", "necesitas", "necesita", "necesitamos", "necesitan"),
    ("read", "reads"): ("leo", "lees", "lee", "leemos", "leen"),
    ("find", "finds"): ("encuentro", "encuentras", "encuentra", "encontramos", "encuentran"),
    ("sell", "sells"): ("vendo", "vendes", "vende", "vendemos", "venden")}
_NOUNS = {"house": ("casa", 1), "car": ("coche", 0), "book": ("libro", 0), "dog": ("perro", 0), "cat": ("gato", 0),
          "table": ("mesa", 1), "apple": ("manzana", 1), "chair": ("silla", 1), "door": ("puerta", 1),
          "letter": ("carta", 1), "bike": ("bicicleta", 1), "phone": ("teléfono", 0), "window": ("ventana", 1),
          "bag": ("bolso", 0), "key": ("llave", 1), "hat": ("sombrero", 0)}
_DETS = {"the": ("el", "la"), "a": ("un", "una"), "this": ("este", "esta"), "my": ("mi", "mi")}
_ADJS = {"red": ("rojo", "roja"), "big": ("grande", "grande"), "old": ("viejo", "vieja"), "new": ("nuevo", "nueva"),
         "small": ("pequeño", "pequeña"), "white": ("blanco", "blanca"), "black": ("negro", "negra"),
         "cheap": ("barato", "barata")}
_ADVS = {"today": "hoy", "now": "ahora", "tomorrow": "mañana", "here": "aquí"}

_STRIP = string.punctuation + "¿"
_STRIP = _STRIP.replace("[", "").replace("]", "")


def _pair(r: np.random.Generator) -> tuple[str, str, list[int]]:
    """One English sentence, its Spanish translation wrapped as in the program, and for each Spanish word
    (after [start]) whether predicting it needs an English word that comes later than its own position."""
    subj = list(_SUBJECTS)[r.integers(len(_SUBJECTS))]
    es_subj, person = _SUBJECTS[subj]
    (base, third), conj = list(_VERBS.items())[r.integers(len(_VERBS))]
    noun = list(_NOUNS)[r.integers(len(_NOUNS))]
    es_noun, gender = _NOUNS[noun]
    det = list(_DETS)[r.integers(len(_DETS))]
    adj = list(_ADJS)[r.integers(len(_ADJS))] if r.random() < 0.6 else None
    adv = list(_ADVS)[r.integers(len(_ADVS))] if r.random() < 0.4 else None
    neg = r.random() < 0.3
    en: list[str] = [subj]
    if neg:
        en += ["does" if person == 2 else "do", "not", base]
    else:
        en += [third if person == 2 else base]
    en += [det] + ([adj] if adj else []) + [noun] + ([adv] if adv else [])
    es: list[str] = ([es_subj] if es_subj else []) + (["no"] if neg else []) + [conj[person], _DETS[det][gender],
                                                                                 es_noun]
    es += ([_ADJS[adj][gender]] if adj else []) + ([_ADVS[adv]] if adv else [])
    # English position of the last word each Spanish word depends on
    i_verb = 3 if neg else 1
    i_det = i_verb + 1
    i_noun = i_det + (2 if adj else 1)
    need: list[int] = ([0] if es_subj else []) + ([2] if neg else []) + [i_verb, i_noun, i_noun]
    need += ([i_noun] if adj else []) + ([i_noun + 1] if adv else []) + [len(en) - 1]  # [end]: the last word
    # decoder position t predicts Spanish word t (after [start]); the buggy mask lets it read English 0..t
    late = [int(n > t) for t, n in enumerate(need)]
    en_s = " ".join(en).capitalize() + "."
    es_s = "[start] " + " ".join(es).capitalize() + ". [end]"
    return en_s, es_s, late


def _standardize(s: str) -> list[str]:
    s = s.lower()
    return re.sub(f"[{re.escape(_STRIP)}]", "", s).split()


def _vocab(texts: list[str]) -> dict[str, int]:
    """TextVectorization.adapt: '' = 0, [UNK] = 1, then by frequency (max_tokens = VOCAB_SIZE)."""
    counts: dict[str, int] = {}
    for t in texts:
        for w in _standardize(t):
            counts[w] = counts.get(w, 0) + 1
    words = sorted(counts, key=lambda w: (-counts[w], w))[:VOCAB_SIZE - 2]
    return {w: i + 2 for i, w in enumerate(words)}


def _vectorize(texts: list[str], vocab: dict[str, int], length: int) -> np.ndarray:
    out = np.zeros((len(texts), length), dtype="int32")
    for i, t in enumerate(texts):
        ids = [vocab.get(w, 1) for w in _standardize(t)][:length]
        out[i, :len(ids)] = ids
    return out


@functools.lru_cache(maxsize=1)
def dataset() -> dict[str, np.ndarray]:
    """Shuffled pairs split 70 / 15 / 15 as in the program; packed x = [eng | spa[:, :-1]] (n, 40), y = spa[:, 1:]
    (n, 20) and ``late`` (n, 20): 1 where the target word needs an English word after its position."""
    r = np.random.default_rng(SEED)
    pairs = [_pair(r) for _ in range(N_PAIRS)]
    order = r.permutation(N_PAIRS)  # random.shuffle(text_pairs)
    pairs = [pairs[i] for i in order]
    num_val = int(0.15 * N_PAIRS)
    num_train = N_PAIRS - 2 * num_val
    eng_vocab = _vocab([p[0] for p in pairs[:num_train]])
    spa_vocab = _vocab([p[1] for p in pairs[:num_train]])
    eng = _vectorize([p[0] for p in pairs], eng_vocab, SEQUENCE_LENGTH)
    spa = _vectorize([p[1] for p in pairs], spa_vocab, SEQUENCE_LENGTH + 1)
    late = np.zeros((N_PAIRS, SEQUENCE_LENGTH), dtype="int32")
    for i, p in enumerate(pairs):
        late[i, :len(p[2])] = p[2]
    x = np.concatenate([eng, spa[:, :-1]], axis=1)  # format_dataset: encoder_inputs, decoder_inputs
    y = spa[:, 1:].astype("int64")
    return {"x": x, "y": y, "late": late, "num_train": np.array(num_train), "num_val": np.array(num_val)}


def train_batches(n: int, seed: int = SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled epochs of the training pairs, BATCH_SIZE per batch."""
    d = dataset()
    nt = int(d["num_train"])
    r = np.random.default_rng(seed + 1)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    while len(out) < n:
        perm = r.permutation(nt)
        for k in range(0, nt - BATCH_SIZE + 1, BATCH_SIZE):
            idx = perm[k:k + BATCH_SIZE]
            out.append((d["x"][idx], d["y"][idx]))
            if len(out) == n:
                break
    return out


def loss_mask(y: np.ndarray) -> np.ndarray:
    """The decoder output's Keras mask (decoder input != 0) rebuilt from the targets: decoder input t is target t-1
    for t >= 1 and [start] at t = 0."""
    m = np.ones_like(y, dtype="float32")
    m[:, 1:] = (y[:, :-1] != 0)
    return m


def _common() -> dict[str, Any]:
    d = dataset()
    nt = int(d["num_train"])
    return {"batches": train_batches(N_BATCHES), "inputs": d["x"][nt:nt + N_INPUTS]}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import math

    import torch
    from torch import nn

    torch.manual_seed(SEED)

    def glorot_(w: Any, fan_in: int, fan_out: int) -> None:
        lim = math.sqrt(6.0 / (fan_in + fan_out))
        nn.init.uniform_(w, -lim, lim)

    class Dense(nn.Linear):
        def __init__(self, n_in: int, n_out: int) -> None:
            super().__init__(n_in, n_out)
            glorot_(self.weight, n_in, n_out)
            nn.init.zeros_(self.bias)

    class MultiHeadAttention(nn.Module):
        """keras.layers.MultiHeadAttention(num_heads, key_dim) with attention_mask (B, T, S), 1 = attend."""

        def __init__(self, num_heads: int, key_dim: int, dim: int) -> None:
            super().__init__()
            self.h, self.k = num_heads, key_dim
            self.q, self.kk, self.v = (nn.Parameter(torch.empty(dim, num_heads * key_dim)) for _ in range(3))
            for w in (self.q, self.kk, self.v):  # einsum kernel (dim, heads, key_dim): Keras fans
                glorot_(w, num_heads * dim, key_dim * dim)
            self.qb, self.kb, self.vb = (nn.Parameter(torch.zeros(num_heads * key_dim)) for _ in range(3))
            self.o = nn.Parameter(torch.empty(num_heads * key_dim, dim))
            glorot_(self.o, key_dim * num_heads, dim * num_heads)  # kernel (heads, key_dim, dim)
            self.ob = nn.Parameter(torch.zeros(dim))

        def forward(self, query: Any, value: Any, key: Any, attention_mask: Any = None) -> Any:
            b, t, s = query.shape[0], query.shape[1], value.shape[1]
            q = (query @ self.q + self.qb).view(b, t, self.h, self.k).transpose(1, 2) / math.sqrt(self.k)
            k = (key @ self.kk + self.kb).view(b, s, self.h, self.k).transpose(1, 2)
            v = (value @ self.v + self.vb).view(b, s, self.h, self.k).transpose(1, 2)
            scores = q @ k.transpose(-1, -2)
            if attention_mask is not None:
                scores = scores + (1.0 - attention_mask[:, None].float()) * -1e9
            out = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, t, self.h * self.k)
            return out @ self.o + self.ob

    def dense_proj(dim: int, hidden: int) -> nn.Module:
        return nn.Sequential(Dense(dim, hidden), nn.ReLU(), Dense(hidden, dim))

    class TransformerEncoder(nn.Module):
        def __init__(self, embed_dim: int, dense_dim: int, num_heads: int) -> None:
            super().__init__()
            self.attention = MultiHeadAttention(num_heads, embed_dim, embed_dim)
            self.dense_proj = dense_proj(embed_dim, dense_dim)
            self.layernorm_1 = nn.LayerNorm(embed_dim, eps=1e-3)
            self.layernorm_2 = nn.LayerNorm(embed_dim, eps=1e-3)

        def forward(self, inputs: Any, mask: Any) -> Any:
            padding_mask = mask[:, None, :].int()
            attention_output = self.attention(inputs, inputs, inputs, attention_mask=padding_mask)
            proj_input = self.layernorm_1(inputs + attention_output)
            proj_output = self.dense_proj(proj_input)
            return self.layernorm_2(proj_input + proj_output)

    class PositionalEmbedding(nn.Module):
        def __init__(self, sequence_length: int, vocab_size: int, embed_dim: int) -> None:
            super().__init__()
            self.token_embeddings = nn.Embedding(vocab_size, embed_dim)
            self.position_embeddings = nn.Embedding(sequence_length, embed_dim)
            for e in (self.token_embeddings, self.position_embeddings):
                nn.init.uniform_(e.weight, -0.05, 0.05)

        def forward(self, inputs: Any) -> Any:
            positions = torch.arange(inputs.shape[-1])
            return self.token_embeddings(inputs) + self.position_embeddings(positions)

    class TransformerDecoder(nn.Module):
        def __init__(self, embed_dim: int, latent_dim: int, num_heads: int) -> None:
            super().__init__()
            self.attention_1 = MultiHeadAttention(num_heads, embed_dim, embed_dim)
            self.attention_2 = MultiHeadAttention(num_heads, embed_dim, embed_dim)
            self.dense_proj = dense_proj(embed_dim, latent_dim)
            self.layernorm_1 = nn.LayerNorm(embed_dim, eps=1e-3)
            self.layernorm_2 = nn.LayerNorm(embed_dim, eps=1e-3)
            self.layernorm_3 = nn.LayerNorm(embed_dim, eps=1e-3)

        def forward(self, inputs: Any, encoder_outputs: Any, mask: Any, encoder_mask: Any) -> Any:
            causal_mask = self.get_causal_attention_mask(inputs)
            if fixed:  # PR #1046 / #1997: the English padding mask on the cross-attention, no causal mask there
                self_mask = torch.minimum(mask[:, None, :].int(), causal_mask)
                cross_mask = encoder_mask[:, None, :].int().expand(-1, inputs.shape[1], -1)
            else:
                padding_mask = mask[:, None, :].int()
                padding_mask = torch.minimum(padding_mask, causal_mask)
                self_mask, cross_mask = causal_mask, padding_mask
            attention_output_1 = self.attention_1(inputs, inputs, inputs, attention_mask=self_mask)
            out_1 = self.layernorm_1(inputs + attention_output_1)
            attention_output_2 = self.attention_2(out_1, encoder_outputs, encoder_outputs, attention_mask=cross_mask)
            out_2 = self.layernorm_2(out_1 + attention_output_2)
            proj_output = self.dense_proj(out_2)
            return self.layernorm_3(out_2 + proj_output)

        @staticmethod
        def get_causal_attention_mask(inputs: Any) -> Any:
            n = inputs.shape[1]
            i = torch.arange(n)[:, None]
            j = torch.arange(n)
            return (i >= j).int()[None].expand(inputs.shape[0], -1, -1)

    class Transformer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.enc_embedding = PositionalEmbedding(SEQUENCE_LENGTH, VOCAB_SIZE, EMBED_DIM)
            self.encoder = TransformerEncoder(EMBED_DIM, LATENT_DIM, NUM_HEADS)
            self.dec_embedding = PositionalEmbedding(SEQUENCE_LENGTH, VOCAB_SIZE, EMBED_DIM)
            self.decoder = TransformerDecoder(EMBED_DIM, LATENT_DIM, NUM_HEADS)
            self.dropout = nn.Dropout(0.5)
            self.head = Dense(EMBED_DIM, VOCAB_SIZE)

        def forward(self, packed: Any) -> Any:
            packed = packed.long()
            encoder_inputs, decoder_inputs = packed[:, :SEQUENCE_LENGTH], packed[:, SEQUENCE_LENGTH:]
            enc_mask, dec_mask = encoder_inputs != 0, decoder_inputs != 0  # PositionalEmbedding.compute_mask
            encoder_outputs = self.encoder(self.enc_embedding(encoder_inputs), enc_mask)
            x = self.decoder(self.dec_embedding(decoder_inputs), encoder_outputs, dec_mask, enc_mask)
            return torch.softmax(self.head(self.dropout(x)), dim=-1)

    model = Transformer()

    def loss_fn(probs: Any, y: Any) -> Any:
        """sparse_categorical_crossentropy on the softmax output (clip 1e-7), averaged over the output mask."""
        y = y.long()
        p = torch.clamp(probs, 1e-7, 1 - 1e-7)
        ce = -torch.log(torch.gather(p, -1, y[..., None]))[..., 0]
        m = torch.ones_like(ce)
        m[:, 1:] = (y[:, :-1] != 0).float()
        return (ce * m).sum() / m.sum()

    d = _common()
    bs = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in d["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": torch.from_numpy(d["inputs"]),
            "loss_fn": loss_fn,
            "optimizer": lambda params: torch.optim.RMSprop(params, lr=LEARNING_RATE, alpha=RHO, eps=1e-7)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    class TransformerEncoder(layers.Layer):
        def __init__(self, embed_dim: int, dense_dim: int, num_heads: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.attention = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.dense_proj = keras.Sequential([layers.Dense(dense_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm_1 = layers.LayerNormalization()
            self.layernorm_2 = layers.LayerNormalization()

        def call(self, inputs: Any, padding: Any) -> Any:
            padding_mask = ops.cast(padding[:, None, :], dtype="int32")
            attention_output = self.attention(query=inputs, value=inputs, key=inputs, attention_mask=padding_mask)
            proj_input = self.layernorm_1(inputs + attention_output)
            proj_output = self.dense_proj(proj_input)
            return self.layernorm_2(proj_input + proj_output)

    class PositionalEmbedding(layers.Layer):
        def __init__(self, sequence_length: int, vocab_size: int, embed_dim: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.token_embeddings = layers.Embedding(input_dim=vocab_size, output_dim=embed_dim)
            self.position_embeddings = layers.Embedding(input_dim=sequence_length, output_dim=embed_dim)

        def call(self, inputs: Any) -> Any:
            length = ops.shape(inputs)[-1]
            positions = ops.arange(0, length, 1)
            return self.token_embeddings(inputs) + self.position_embeddings(positions)

    class TransformerDecoder(layers.Layer):
        def __init__(self, embed_dim: int, latent_dim: int, num_heads: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.attention_1 = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.attention_2 = layers.MultiHeadAttention(num_heads=num_heads, key_dim=embed_dim)
            self.dense_proj = keras.Sequential([layers.Dense(latent_dim, activation="relu"), layers.Dense(embed_dim)])
            self.layernorm_1 = layers.LayerNormalization()
            self.layernorm_2 = layers.LayerNormalization()
            self.layernorm_3 = layers.LayerNormalization()

        def call(self, inputs: Any, encoder_outputs: Any, padding: Any, encoder_padding: Any) -> Any:
            causal_mask = self.get_causal_attention_mask(inputs)
            if fixed:  # PR #1046 / #1997: the English padding mask on the cross-attention, no causal mask there
                self_mask = ops.minimum(ops.cast(padding[:, None, :], "int32"), causal_mask)
                cross_mask = ops.cast(encoder_padding[:, None, :], "int32")
            else:
                padding_mask = ops.cast(padding[:, None, :], dtype="int32")
                padding_mask = ops.minimum(padding_mask, causal_mask)
                self_mask, cross_mask = causal_mask, padding_mask
            attention_output_1 = self.attention_1(query=inputs, value=inputs, key=inputs, attention_mask=self_mask)
            out_1 = self.layernorm_1(inputs + attention_output_1)
            attention_output_2 = self.attention_2(query=out_1, value=encoder_outputs, key=encoder_outputs,
                                                  attention_mask=cross_mask)
            out_2 = self.layernorm_2(out_1 + attention_output_2)
            proj_output = self.dense_proj(out_2)
            return self.layernorm_3(out_2 + proj_output)

        def get_causal_attention_mask(self, inputs: Any) -> Any:
            input_shape = ops.shape(inputs)
            batch_size, sequence_length = input_shape[0], input_shape[1]
            i = ops.arange(sequence_length)[:, None]
            j = ops.arange(sequence_length)
            mask = ops.cast(i >= j, dtype="int32")
            mask = ops.reshape(mask, (1, input_shape[1], input_shape[1]))
            return ops.tile(mask, (batch_size, 1, 1))

    packed = keras.Input(shape=(2 * SEQUENCE_LENGTH,), dtype="int32", name="encoder_and_decoder_inputs")
    encoder_inputs = packed[:, :SEQUENCE_LENGTH]
    decoder_inputs = packed[:, SEQUENCE_LENGTH:]
    enc_padding = ops.not_equal(encoder_inputs, 0)  # PositionalEmbedding.compute_mask
    dec_padding = ops.not_equal(decoder_inputs, 0)
    x = PositionalEmbedding(SEQUENCE_LENGTH, VOCAB_SIZE, EMBED_DIM)(encoder_inputs)
    encoder_outputs = TransformerEncoder(EMBED_DIM, LATENT_DIM, NUM_HEADS)(x, enc_padding)
    x = PositionalEmbedding(SEQUENCE_LENGTH, VOCAB_SIZE, EMBED_DIM)(decoder_inputs)
    x = TransformerDecoder(EMBED_DIM, LATENT_DIM, NUM_HEADS)(x, encoder_outputs, dec_padding, enc_padding)
    x = layers.Dropout(0.5)(x)
    decoder_outputs = layers.Dense(VOCAB_SIZE, activation="softmax")(x)
    transformer = keras.Model(packed, decoder_outputs, name="transformer")

    def masked_sparse_ce(y_true: Any, y_pred: Any) -> Any:
        """sparse_categorical_crossentropy averaged over the decoder output's mask (decoder input != 0)."""
        y_true = ops.cast(y_true, "int32")
        ce = keras.losses.sparse_categorical_crossentropy(y_true, y_pred)
        m = ops.concatenate([ops.ones_like(y_true[:, :1]), ops.cast(ops.not_equal(y_true[:, :-1], 0), "int32")],
                            axis=1)
        m = ops.cast(m, ce.dtype)
        return ops.sum(ce * m) / ops.sum(m)

    transformer.compile(keras.optimizers.RMSprop(learning_rate=LEARNING_RATE, rho=RHO), loss=masked_sparse_ce)
    d = _common()
    return {"model": transformer, "batch": d["batches"][0], "batches": d["batches"], "inputs": d["inputs"]}


buggy, fixed = versions(_torch, _keras)
