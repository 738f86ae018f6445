"""TensorFlow's "Basic text classification" tutorial, multi-class exercise: the IMDB model (Embedding,
Dropout, GlobalAveragePooling1D, Dropout, Dense) is turned into a 4-way question-tag classifier by
following the exercise's instructions: last layer ``Dense(4)`` (raw logits, as in the tutorial) and
loss ``tf.keras.losses.SparseCategoricalCrossentropy`` -- with its default ``from_logits=False``. The
loss then treats the unbounded logits as probabilities (Keras renormalises and clips them), which
gives a meaningless objective with mostly vanishing gradients: the reporter's accuracy stayed "around
0.3, not far away from the random-guess 0.25".

Source: github.com/tensorflow/docs PR #2102 ("tutorials/keras/text_classification.ipynb: Refine
exercise instruction", commits 184f3cb0c and 0e157483b, the latter "change according to
@MarkDaoust"): the maintainer asked for the instruction to read
``tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)`` instead of adding a softmax.
Program lines from site/en/tutorials/keras/text_classification.ipynb at 184f3cb0c^ with the
exercise's modifications: ``batch_size = 32``; ``max_features = 10000``, ``sequence_length = 250``,
``TextVectorization(output_mode='int', output_sequence_length=sequence_length)`` applied in the
input pipeline (``vectorize_text``); ``embedding_dim = 16``; ``Embedding(max_features + 1,
embedding_dim)``, ``Dropout(0.2)``, ``GlobalAveragePooling1D()``, ``Dropout(0.2)``, ``Dense(4)``;
``optimizer='adam'``, ``metrics=['accuracy']``; integer labels 0..3 from
``text_dataset_from_directory``.
Data: the exercise's question dataset (stack_overflow_16k.tar.gz) is downloaded; stand-in: seeded
token-id sequences as ``vectorize_layer`` returns them, (n, 250) int64 in 0..10000 (0 = padding
after each question, lengths 40..250), about half of each question's words drawn from a Zipf-like
shared vocabulary and half from 8 keyword ids of its language, labels int64 0..3 balanced; 256 rows
in batches of 32.
Fault label: loss_mismatch (a probability-space loss applied to logits; equivalently a missing output
softmax).
Fix (PR #2102): ``loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)``.
No torch twin: torch's CrossEntropyLoss always takes logits.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs import _data

LABEL = "loss_mismatch|output_activation"
SOURCE = "github:tensorflow/docs PR #2102 (site/en/tutorials/keras/text_classification.ipynb@184f3cb0c^, fix 0e157483b)"
FRAMEWORKS = ("keras",)
CHECKS = [("init_loss", {}), ("overfit_one_batch", {}), ("loss_decreases", {})]

batch_size = 32  # program lines
max_features = 10000
sequence_length = 250
embedding_dim = 16
NUM_CLASSES = 4  # exercise: "Modify the last layer of your model to Dense(4)"


def _vectorized_questions(n: int = 8 * batch_size, seed: int = 42) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % NUM_CLASSES
    rng.shuffle(y)
    ranks = np.arange(2, max_features + 1)  # ids 0 (padding) and 1 (OOV) are reserved
    zipf = 1.0 / (ranks - 1.0) ** 1.1
    zipf /= zipf.sum()
    keywords = rng.choice(np.arange(50, 3000), (NUM_CLASSES, 8), replace=False)
    x = np.zeros((n, sequence_length), dtype="int64")
    for i, c in enumerate(y):
        length = int(rng.integers(40, sequence_length + 1))
        words = rng.choice(ranks, length, p=zipf)
        is_kw = rng.random(length) < 0.5
        words[is_kw] = rng.choice(keywords[c], int(is_kw.sum()))
        x[i, :length] = words
    return x, y.astype("int64")


def _build(framework: str, from_logits: bool) -> dict[str, Any]:
    if framework != "keras":
        raise ValueError(framework)
    import tensorflow as tf
    from tensorflow.keras import layers

    x, y = _vectorized_questions()
    # program lines (text_classification.ipynb, with the exercise's changes)
    model = tf.keras.Sequential([
        tf.keras.Input((sequence_length,), dtype="int64"),
        layers.Embedding(max_features + 1, embedding_dim),
        layers.Dropout(0.2),
        layers.GlobalAveragePooling1D(),
        layers.Dropout(0.2),
        layers.Dense(NUM_CLASSES)])
    loss = (tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True) if from_logits
            else tf.keras.losses.SparseCategoricalCrossentropy())
    model.compile(loss=loss, optimizer='adam', metrics=['accuracy'])
    return {"model": model, "batch": (x[:batch_size], y[:batch_size]),
            "batches": _data.batches(x, y, batch_size)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, from_logits=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, from_logits=True)
