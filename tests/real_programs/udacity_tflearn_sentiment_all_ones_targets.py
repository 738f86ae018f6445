"""Udacity deep-learning nanodegree, "Sentiment Analysis with TFLearn" solution notebook: IMDB-style
movie reviews as 10000-word bag-of-words count vectors, a 10000-200-25-2 MLP (ReLU, ReLU, softmax;
TFLearn ``fully_connected`` default ``truncated_normal`` init, stddev 0.02), categorical
cross-entropy, SGD(lr=0.1), batch 128. The labels come from ``pd.read_csv('labels.txt',
header=None)``, so ``Y = (labels=='positive').astype(np.int_)`` is a DataFrame and
``Y.values[train_split]`` has shape (n, 1). TFLearn's ``to_categorical`` of that time did
``Y[np.arange(len(y)), y] = 1.`` on the unflattened (n, 1) array, which broadcasts to an (n, n) index
and sets *both* columns of *every* row: all targets are ``[1, 1]``. Categorical cross-entropy with
such targets (-log p0 - log p1) is minimised by predicting 0.5/0.5 for every review, so the network
learns nothing from the inputs and the accuracy stays at 50% (PR #155: "At the moment the accuracy
comes to 50%").

Source: github.com/udacity/deep-learning PR #152 "tflearn intro - Fix `trainY` and `testY`" (merged,
commit 3065d99749e46eb5ff27a48d6a18d887d1f2b2cb; the duplicate PR #155 was closed in its favour; the
same fix for the project notebook in caa692c). Program:
``intro-to-tflearn/TFLearn_Sentiment_Analysis_Solution.ipynb`` at 3065d99^ (``text_to_vector``,
``trainY = to_categorical(Y.values[train_split], 2)``, ``build_model``, ``model.fit(...,
batch_size=128, n_epoch=100)``); ``to_categorical`` as in tflearn ``tflearn/data_utils.py`` at
7249cf3 (Feb-Jul 2017; tflearn fixed it with a reshape in 644ecd4, #816).
Ported minimally: TFLearn's ``input_data`` / ``fully_connected`` / ``regression(optimizer='sgd',
learning_rate=0.1, loss='categorical_crossentropy')`` become Keras 3 ``Dense`` layers with
``TruncatedNormal(stddev=0.02)`` kernels and zero biases compiled with ``SGD(0.1)`` and TFLearn's own
``categorical_crossentropy`` (tflearn/objectives.py@7249cf3: renormalise, clip to [1e-10, 1 - 1e-10],
``-sum(y_true * log(y_pred))``, mean) written with ``keras.ops``. Keras's built-in
``categorical_crossentropy`` is not used on purpose: on a softmax output it takes the TF
``softmax_cross_entropy_with_logits`` shortcut, whose gradient (``softmax - labels``) assumes rows
summing to one and, with [1, 1] targets, drives both logits up until the loss is NaN -- a different
symptom from the program's.
Data stand-in: ``reviews.txt`` / ``labels.txt`` (25000 reviews) are replaced by 1024 seeded synthetic
reviews: 80-400 words drawn from a Zipf (1/rank) distribution over the notebook's 74074 distinct
words, of which only the 10000 most frequent are counted (as ``text_to_vector`` does), with 300
"positive" and 300 "negative" mid-frequency words made 8x likelier in reviews of their class; the
inputs are the raw word-count vectors (int counts as float32, unnormalised as in the program).
Fault label: labels_invalid (every target row is [1, 1]). Fix (3065d99):
``to_categorical(Y.values[train_split, 0], 2)`` -- a 1-D label vector, proper one-hot rows.
PyTorch twin: the same MLP (``nn.Linear`` with truncated-normal(0.02) weights, zero biases), SGD(0.1),
``nn.CrossEntropyLoss`` on the logits with the (buggy) all-ones / (fixed) one-hot probability
targets, built by the same ``to_categorical`` (seeded with ``torch.manual_seed(1)``; at lr 0.1 on raw
counts the early SGD steps are noisy and some seeds need more epochs).
Validation (own loop: the 7 batches for 30 epochs = 210 SGD steps, ~5 s per framework): buggy --
loss flat at 1.3863 (= 2 ln 2), P(positive) 0.5 +- 0.001 for every review, accuracy against the true
labels 0.55 (Keras) / 0.50 (torch); fixed -- loss 0.69 -> 0.007 (Keras) / 0.003 (torch), accuracy 1.0.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "labels_invalid"
SOURCE = ("github:udacity/deep-learning PR #152 "
          "(intro-to-tflearn/TFLearn_Sentiment_Analysis_Solution.ipynb@3065d99^, fix 3065d99)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [
    ("overfit_one_batch", {}),
    ("loss_decreases", {}),
    ("not_constant_predictions", {}),
    ("init_loss", {"num_classes": 2}),
]

n_words = 10000
total_words = 74074  # 'Total words in data set' printed by the notebook
batch_size = 128
learning_rate = 0.1


def to_categorical(y, nb_classes):
    """tflearn/data_utils.py@7249cf3 (the version the notebook ran with)."""
    y = np.asarray(y, dtype='int32')
    if not nb_classes:
        nb_classes = np.max(y) + 1
    Y = np.zeros((len(y), nb_classes))
    Y[np.arange(len(y)), y] = 1.
    return Y


def _reviews(n: int = 1024, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Synthetic stand-in for ``word_vectors`` and ``labels`` (as a one-column table of 0/1)."""
    rng = np.random.default_rng(seed)
    base = 1.0 / np.arange(1, total_words + 1)  # Zipf over the 74074 distinct words
    mid = rng.permutation(np.arange(100, 3000))
    pos_words, neg_words = mid[:300], mid[300:600]
    p_pos, p_neg = base.copy(), base.copy()
    p_pos[pos_words] *= 8
    p_neg[neg_words] *= 8
    p_pos /= p_pos.sum()
    p_neg /= p_neg.sum()
    labels = rng.integers(0, 2, n)
    word_vectors = np.zeros((n, n_words), dtype=np.int_)
    for i, lab in enumerate(labels):
        words = rng.choice(total_words, rng.integers(80, 401), p=p_pos if lab else p_neg)
        words = words[words < n_words]  # text_to_vector skips words outside the 10000-word vocab
        np.add.at(word_vectors[i], words, 1)  # text_to_vector: counts
    return word_vectors, labels.reshape(-1, 1)  # labels.txt read with header=None: one column


def _data(fixed: bool):
    word_vectors, Y_values = _reviews()
    records = len(Y_values)
    shuffle = np.arange(records)
    np.random.RandomState(0).shuffle(shuffle)
    train_split = shuffle[:int(records * 0.9)]
    if fixed:
        trainY = to_categorical(Y_values[train_split, 0], 2)
    else:
        trainY = to_categorical(Y_values[train_split], 2)  # (n, 1) labels -> every row [1, 1]
    trainX = word_vectors[train_split, :].astype("float32")
    trainY = trainY.astype("float32")
    return [(trainX[i:i + batch_size], trainY[i:i + batch_size])
            for i in range(0, len(trainX) - batch_size + 1, batch_size)]


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    batches = _data(fixed)
    if framework == "keras":
        import keras
        from keras import layers

        keras.utils.set_random_seed(0)
        init = keras.initializers.TruncatedNormal(stddev=0.02)  # tflearn 'truncated_normal'
        model = keras.Sequential([
            keras.Input((n_words,)),
            layers.Dense(200, activation="relu", kernel_initializer=init),
            layers.Dense(25, activation="relu", kernel_initializer=init),
            layers.Dense(2, activation="softmax", kernel_initializer=init),
        ])
        from keras import ops

        def categorical_crossentropy(y_true, y_pred):
            """tflearn/objectives.py@7249cf3 (manual computation, the loss ``regression`` used)."""
            y_pred = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
            y_pred = ops.clip(y_pred, 1e-10, 1. - 1e-10)  # tflearn _EPSILON = 1e-10
            return -ops.sum(y_true * ops.log(y_pred), axis=-1)

        model.compile(optimizer=keras.optimizers.SGD(learning_rate=learning_rate),
                      loss=categorical_crossentropy)
        return {"model": model, "batch": batches[0], "batches": batches}

    import torch
    from torch import nn

    torch.manual_seed(1)

    def fully_connected(n_in, n_out):
        lin = nn.Linear(n_in, n_out)
        nn.init.trunc_normal_(lin.weight, std=0.02, a=-0.04, b=0.04)
        nn.init.zeros_(lin.bias)
        return lin

    model = nn.Sequential(
        fully_connected(n_words, 200), nn.ReLU(),
        fully_connected(200, 25), nn.ReLU(),
        fully_connected(25, 2),  # logits; CrossEntropyLoss applies the softmax
    )
    tb = [(torch.tensor(x), torch.tensor(y)) for x, y in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.SGD(p, lr=learning_rate)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
