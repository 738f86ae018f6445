"""The Keras ``pretrained_word_embeddings.py`` example (20 Newsgroups, frozen GloVe embeddings) with
its convolutions replaced by an LSTM, and a head of ``Dense(1)`` + sigmoid in front of the 20-way
softmax, compiled with ``binary_crossentropy``: "for every batch processed, I got the same acc"
(0.95, which is what predicting all-zero one-hot rows scores under binary accuracy).

Source: github.com/keras-team/keras issue #4994 ("acc never change after every batch of
learning(20 newsgroup dataset)"); the answer that closed it: "you are using a binary_crossentropy
loss yet you are trying to do a multiclass classification. Also, having the output dimension of your
first Dense layer as 1 is probably not a good idea. Try changing model.add(Dense(1)) to
model.add(Dense(20)) ... and changing model.compile(loss='binary_crossentropy' ...". Program lines:
``Sequential()``, the example's ``embedding_layer`` (``Embedding(len(word_index) + 1,
EMBEDDING_DIM, weights=[embedding_matrix], trainable=False)``), ``LSTM(128, dropout_W=0.2,
dropout_U=0.2)`` (Keras 3: ``dropout`` / ``recurrent_dropout``), ``Dense(1)``,
``Activation('sigmoid')``, ``Dense(len(labels_index), activation='softmax')``,
``compile(loss='binary_crossentropy', optimizer='adam')``; the example's labels are
``to_categorical`` one-hot rows and its batch size 128. Approximated: the texts are stand-in token
sequences (20 classes, each drawing its words mostly from its own 30-word vocabulary; 40 tokens
instead of 1000; a 600-word vocabulary) and the GloVe matrix a fixed seeded normal matrix of the
same width (100) and a similar scale.
Fault label: loss_mismatch|other:one_unit_bottleneck (the answer names both).
Fix (the answer's): ``Dense(20)`` and ``categorical_crossentropy``. Keras only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "loss_mismatch|other:one_unit_bottleneck"
SOURCE = "github:keras-team/keras issue #4994 (examples/pretrained_word_embeddings.py with an LSTM)"
FRAMEWORKS = ("keras",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

MAX_SEQUENCE_LENGTH, EMBEDDING_DIM, NUM_WORDS, N_CLASSES = 40, 100, 600, 20


def _texts(n: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % N_CLASSES
    rng.shuffle(y)
    own = np.stack([rng.choice(np.arange(1, NUM_WORDS), 30, replace=False) for _ in range(N_CLASSES)])
    common = rng.integers(1, NUM_WORDS, (n, MAX_SEQUENCE_LENGTH))
    topical = own[y[:, None], rng.integers(0, 30, (n, MAX_SEQUENCE_LENGTH))]
    x = np.where(rng.random((n, MAX_SEQUENCE_LENGTH)) < 0.6, topical, common)
    return x.astype("int32"), y.astype("int64")


def _build(framework: str, fixed_head: bool) -> dict[str, Any]:
    import keras
    from keras.layers import LSTM, Activation, Dense, Embedding

    x, y = _texts()
    labels = _data.one_hot(y, N_CLASSES)  # to_categorical
    embedding_matrix = np.random.default_rng(1).normal(0, 0.4, (NUM_WORDS + 1, EMBEDDING_DIM)).astype("float32")
    embedding_layer = Embedding(NUM_WORDS + 1, EMBEDDING_DIM,
                                embeddings_initializer=keras.initializers.Constant(embedding_matrix),
                                trainable=False)
    model = keras.Sequential([keras.Input((MAX_SEQUENCE_LENGTH,), dtype="int32")])
    model.add(embedding_layer)
    model.add(LSTM(128, dropout=0.2, recurrent_dropout=0.2))
    model.add(Dense(20 if fixed_head else 1))
    model.add(Activation("sigmoid"))
    model.add(Dense(N_CLASSES, activation="softmax"))
    model.compile(loss="categorical_crossentropy" if fixed_head else "binary_crossentropy",
                  optimizer="adam", metrics=["accuracy"])
    return {"model": model, "batch": (x[:128], labels[:128]), "batches": _data.batches(x, labels, 128)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, True)
