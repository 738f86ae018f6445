"""wanasit/katakana: "English to Katakana using Sequence-to-Sequence learning in Keras" (the code of the blog post
and notebook of the same name). ``train.py`` reads English / katakana title pairs (``data/joined_titles.csv``),
lower-cases the English, builds character encodings (``katakana/encoding.py``: 0 = padding, 1 = START, the
characters from 2 on), encodes both sides post-padded to 20 ids, makes the decoder input the target shifted right
with START in front, and the target one-hot: ``np.eye(output_dict_size)[encoded_training_output]``.
``katakana/model.py`` ``create_keras_model``: encoder ``Embedding(input_dict_size, 64, mask_zero=True)`` ->
``LSTM(64)`` (last state); decoder ``Embedding(output_dict_size, 64, mask_zero=True)`` -> ``LSTM(64,
return_sequences=True)(decoder, initial_state=[encoder, encoder])`` -> ``TimeDistributed(Dense(output_dict_size,
activation="softmax"))``; ``model.compile(optimizer='adam', loss='binary_crossentropy')``; ``fit(batch_size=64,
epochs=100)``.

The fault (a binary loss on a multi-class softmax output): each target position is one of ``output_dict_size``
mutually exclusive characters and the head is a softmax over them, but the model was compiled with
``binary_crossentropy``. Keras then scores every one of the ~100 output units as an independent yes / no problem and
averages over them: the loss is (1/V) x (-log p_target - sum over the other V - 1 units of log(1 - p_j)), a value
near 0.04 at initialisation instead of ln V ~ 4.9, whose gradient on the true character is divided by V and mixed
with V - 1 terms that merely push already-small probabilities further down. The softmax head already enforces what
those terms ask for, so the signal that has to be learnt (which character) is diluted and training is slower; the
loss reported during ``fit`` is meaningless as a per-character likelihood. Reported in issue #3 ("Loss function ...
It should be 'categorical_crossentropy'? Right?"); the author: "Thank you. You are right. I should have used the
'categorical_crossentropy', instead of binary_crossentropy. I will fix this soon."

Source: github.com/wanasit/katakana ``katakana/model.py`` ``create_keras_model`` at
094ba494fdad3cf488ed708fb880de7520eb9dc1 (= 906defa^, with ``train.py`` and ``katakana/encoding.py``); issue #3;
fixed in 906defa5cd91ba66c11a2fc0bffac355241838e1 ("Fix loss function in the model": ``loss='binary_crossentropy'``
-> ``loss='categorical_crossentropy'``; the notebooks were fixed the same day in 094ba49).
Fault label: loss_mismatch (a per-unit binary cross-entropy on a one-of-V softmax output with one-hot targets).

Program lines kept: ``create_keras_model`` layer for layer (widths 64 and lengths 20 unchanged, not shrunk),
``initial_state=[encoder, encoder]`` (the encoder's output h used as both h and c), the one-hot targets, the
shifted decoder input with START = 1 and padding 0, Adam defaults, batch 64; only the loss string differs between
buggy and fixed.
Ported: Keras 2 -> Keras 3 (``Embedding(input_length=...)`` dropped). The two model inputs ``[encoder_input,
decoder_input]`` are passed as one (batch, 40) array (the 20 encoder ids then the 20 decoder ids) and split by two
slices inside the model, so a batch is a plain (x, y) pair; the masks still come from ``mask_zero`` on each half.
Torch twin: ``nn.Embedding`` (Keras' uniform(+-0.05) init) -> ``nn.LSTM(64, batch_first=True)`` (Keras' LSTM
init: Glorot-uniform kernel, orthogonal recurrent kernel, forget-gate bias 1) whose state at each
word's last non-padded step is taken (what Keras' masked LSTM returns), the decoder ``nn.LSTM`` started from
(h, h) as in the program, ``nn.Linear`` (Glorot kernel, zero bias) + softmax over the characters; the loss works on
those probabilities and the one-hot targets: buggy ``nn.BCELoss``-style mean over the V units of the clipped binary
cross-entropy, fixed the categorical cross-entropy summed over V, each averaged over the non-padded target
positions (the positions whose one-hot target is not the padding id 0: Keras drops the masked positions from the
loss). ``Adam(lr=1e-3, eps=1e-7)`` (Keras' defaults).
Data stand-in (no joined_titles.csv download): seeded synthetic "English -> katakana" pairs with a deterministic
syllabic transliteration. A word is 3-12 lower-case letters (vowels a, e, i, o, u 40 % of them); it is read left to
right, a consonant followed by a vowel becomes one output character for that syllable, any other letter one
character of its own (as katakana writes CV syllables with one sign and lone consonants / vowels with another).
Input vocabulary 28 ids (26 letters + padding + START), output 133 ids (131 syllable / letter signs + 2); targets
one-hot float32 (64, 20, 133), as ``np.eye`` makes them. ``batches``: 8 batches of 64; ``inputs``: 256 held-out
pairs (x only).

Measured (my own plain loops, OMP_NUM_THREADS=1, buggy vs fixed, same seed and data):
  loss at initialisation on the module's batch: buggy 0.0443 (torch and Keras alike, so Keras computes the binary
    cross-entropy of the softmax probabilities as Keras 2 did; see the note below), fixed 4.891 (torch) / 4.889
    (Keras) = ln 133. Outputs are probabilities summing to 1 in both versions.
  /tmp/s48/h78_b/long.py: the module's builds with N_BATCHES = 56 (3,584 pairs) for 16 epochs (896 Adam steps),
  held-out masked per-character accuracy (teacher forcing) / categorical cross-entropy of the softmax output on 512
  pairs, after epochs 2, 4, 8, 12, 16:
    Keras fixed  acc 0.036 0.047 0.082 0.098 0.118   CE 4.28 4.13 3.96 3.76 3.63
    Keras buggy  acc 0.029 0.041 0.062 0.071 0.077   CE 4.27 4.16 4.07 3.96 3.78
    torch fixed  acc 0.052 0.060 0.066 0.072 0.077   CE 4.13 4.03 3.82 3.65 3.50
    torch buggy  acc 0.050 0.060 0.057 0.065 0.067   CE 4.14 4.04 3.86 3.67 3.57
    (torch with its default LSTM init instead of Keras' showed no gap at all: CE 3.46 vs 3.50, acc 0.072 vs 0.070.)
  /tmp/s48/h78_b/t.py (the same Keras model, another draw of the stand-in, ``fit`` one epoch at a time): after 16
    epochs fixed acc 0.129 / CE 3.55, buggy 0.086 / 3.87; the buggy model is where the fixed one was after ~6-7.
  The module's 8 batches, 30 epochs (240 steps, /tmp/s48/h78_b/m.py): train loss torch buggy 0.0443 -> 0.0371,
    fixed 4.89 -> 3.88; Keras buggy 0.0443 -> 0.034, fixed 4.89 -> 3.55; train per-character accuracy buggy /
    fixed torch 0.093 / 0.112, Keras 0.061 / 0.071 (train CE torch 3.94 / 3.87, Keras 4.15 / 4.08).
  So the binary loss does train the softmax head, only more slowly: a clear slowdown in Keras (the program's
  framework), a small one in the torch twin; the buggy training loss sits near 0.03-0.04 throughout and says nothing
  about how well characters are predicted. The stand-in is hard for a 64-unit encoder state (8-13 % held-out
  character accuracy after 896 steps); the program's 100 epochs on the real titles were not reproduced.
  Note (Keras 3): a bare ``Dense(V, activation="softmax")`` output carries its logits, and Keras 3's
  ``binary_crossentropy`` would then take the sigmoid cross-entropy of those logits, a different loss than Keras
  2's; behind ``TimeDistributed`` (the program's head) the reshape drops them, and the loss is Keras 2's, as the
  0.0443 initial loss shows.
  Time per step (batch 64, one thread): Keras ``train_on_batch`` ~50-65 ms, torch ~10-35 ms (shared machine);
  first Keras build with the TensorFlow import ~15 s, later builds < 0.2 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "loss_mismatch"
SOURCE = ("github:wanasit/katakana issue #3 (katakana/model.py create_keras_model + train.py "
          "@094ba494fdad3cf488ed708fb880de7520eb9dc1 = 906defa^; fix 906defa5cd91ba66c11a2fc0bffac355241838e1: "
          "loss='binary_crossentropy' -> 'categorical_crossentropy')")
FRAMEWORKS = ("torch", "keras")

# train.py / model.py
MAX_ENGLISH_INPUT_LENGTH = 20
MAX_KATAKANA_OUTPUT_LENGTH = 20
EMB = 64
UNITS = 64
BATCH_SIZE = 64
CHAR_CODE_START = 1
CHAR_CODE_PADDING = 0
# stand-in
VOWELS = "aeiou"
CONSONANTS = "bcdfghjklmnpqrstvwxyz"
N_BATCHES = 8
N_INPUTS = 256
SEED = 0

INPUT_DICT_SIZE = len(VOWELS) + len(CONSONANTS) + 2
OUTPUT_DICT_SIZE = len(CONSONANTS) * len(VOWELS) + len(VOWELS) + len(CONSONANTS) + 2

CHECKS = [("init_loss", {"num_classes": OUTPUT_DICT_SIZE}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("output_range", {"kind": "probabilities"})]


# ------------------------------------------------------------------------------------------------------------ data

def _transliterate(word: str) -> list[str]:
    """Syllabic 'katakana': consonant + vowel -> one sign, any other letter -> one sign."""
    out, i = [], 0
    while i < len(word):
        if word[i] in CONSONANTS and i + 1 < len(word) and word[i + 1] in VOWELS:
            out.append(word[i:i + 2])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def _transform(encoding: dict[str, int], data: list[Any], vector_size: int = 20) -> np.ndarray:
    """encoding.transform: post-padded ids."""
    transformed = np.zeros(shape=(len(data), vector_size))
    for i in range(len(data)):
        for j in range(min(len(data[i]), vector_size)):
            transformed[i][j] = encoding[data[i][j]]
    return transformed


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    """x = [encoder ids | decoder ids] (n, 40) int32, y = one-hot targets (n, 20, OUTPUT_DICT_SIZE) float32."""
    letters = list(VOWELS + CONSONANTS)
    p = [0.4 / len(VOWELS)] * len(VOWELS) + [0.6 / len(CONSONANTS)] * len(CONSONANTS)
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    words = ["".join(r.choice(letters, size=int(r.integers(3, 13)), p=p)) for _ in range(n)]
    signs = [c + v for c in CONSONANTS for v in VOWELS] + letters
    input_encoding = {c: k + 2 for k, c in enumerate(sorted(letters))}
    output_encoding = {s: k + 2 for k, s in enumerate(sorted(signs))}
    enc_in = _transform(input_encoding, words, MAX_ENGLISH_INPUT_LENGTH)
    enc_out = _transform(output_encoding, [_transliterate(w) for w in words], MAX_KATAKANA_OUTPUT_LENGTH)
    dec_in = np.zeros_like(enc_out)
    dec_in[:, 1:] = enc_out[:, :-1]
    dec_in[:, 0] = CHAR_CODE_START
    y = np.eye(OUTPUT_DICT_SIZE, dtype="float32")[enc_out.astype("int")]
    return np.concatenate([enc_in, dec_in], axis=1).astype("int32"), y


def _common() -> dict[str, Any]:
    x, y = _data()
    n = N_BATCHES * BATCH_SIZE
    bs = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, n, BATCH_SIZE)]
    return {"batch": bs[0], "batches": bs, "inputs": x[n:]}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)

    def embedding(n: int) -> nn.Embedding:
        e = nn.Embedding(n, EMB)
        nn.init.uniform_(e.weight, -0.05, 0.05)
        return e

    def lstm() -> nn.LSTM:  # Keras' LSTM init: Glorot-uniform kernel, orthogonal recurrent kernel, unit forget bias
        cell = nn.LSTM(EMB, UNITS, batch_first=True)
        nn.init.xavier_uniform_(cell.weight_ih_l0.T)  # as one (EMB, 4 x UNITS) kernel
        nn.init.orthogonal_(cell.weight_hh_l0.T)  # as one (UNITS, 4 x UNITS) kernel
        nn.init.zeros_(cell.bias_ih_l0)
        nn.init.zeros_(cell.bias_hh_l0)
        with torch.no_grad():
            cell.bias_ih_l0[UNITS:2 * UNITS] = 1.0  # gate order i, f, g, o in both frameworks
        return cell

    class Seq2Seq(nn.Module):  # create_keras_model
        def __init__(self) -> None:
            super().__init__()
            self.enc_emb = embedding(INPUT_DICT_SIZE)
            self.encoder = lstm()
            self.dec_emb = embedding(OUTPUT_DICT_SIZE)
            self.decoder = lstm()
            self.out = nn.Linear(UNITS, OUTPUT_DICT_SIZE)
            nn.init.xavier_uniform_(self.out.weight)
            nn.init.zeros_(self.out.bias)

        def forward(self, x: Any) -> Any:
            x = x.long()
            enc_in, dec_in = x[:, :MAX_ENGLISH_INPUT_LENGTH], x[:, MAX_ENGLISH_INPUT_LENGTH:]
            h, _ = self.encoder(self.enc_emb(enc_in))
            last = (enc_in != CHAR_CODE_PADDING).sum(1).clamp(min=1) - 1  # mask_zero: state at the last word id
            encoder = h[torch.arange(x.shape[0]), last].unsqueeze(0)
            d, _ = self.decoder(self.dec_emb(dec_in), (encoder, encoder))  # initial_state=[encoder, encoder]
            return torch.softmax(self.out(d), dim=-1)  # TimeDistributed(Dense(V, activation="softmax"))

    model = Seq2Seq()
    eps = 1e-7

    def loss_fn(probs: Any, y: Any) -> Any:
        mask = (y[..., CHAR_CODE_PADDING] == 0).to(probs.dtype)  # the decoder's mask_zero: pads leave the loss
        p = probs.clamp(eps, 1 - eps)
        if fixed:  # loss='categorical_crossentropy'
            per_pos = -(y * torch.log(p)).sum(-1)
        else:  # loss='binary_crossentropy': every unit a yes / no problem, averaged over the V units
            per_pos = -(y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean(-1)
        return (per_pos * mask).sum() / mask.sum().clamp(min=1)

    c = _common()
    t = torch.from_numpy
    bs = [(t(x).long(), t(y)) for x, y in c["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(c["inputs"]).long(), "loss_fn": loss_fn,
            "optimizer": torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras.layers import LSTM, Dense, Embedding, Input, TimeDistributed
    from keras.models import Model

    keras.utils.set_random_seed(SEED)
    inp = Input(shape=(MAX_ENGLISH_INPUT_LENGTH + MAX_KATAKANA_OUTPUT_LENGTH,), dtype="int32")
    encoder_input = inp[:, :MAX_ENGLISH_INPUT_LENGTH]
    decoder_input = inp[:, MAX_ENGLISH_INPUT_LENGTH:]

    encoder = Embedding(INPUT_DICT_SIZE, EMB, mask_zero=True)(encoder_input)
    encoder = LSTM(UNITS, return_sequences=False)(encoder)

    decoder = Embedding(OUTPUT_DICT_SIZE, EMB, mask_zero=True)(decoder_input)
    decoder = LSTM(UNITS, return_sequences=True)(decoder, initial_state=[encoder, encoder])
    decoder = TimeDistributed(Dense(OUTPUT_DICT_SIZE, activation="softmax"))(decoder)

    model = Model(inputs=inp, outputs=decoder)
    model.compile(optimizer="adam", loss="categorical_crossentropy" if fixed else "binary_crossentropy")
    return {"model": model, **_common()}


buggy, fixed = versions(_torch, _keras)
