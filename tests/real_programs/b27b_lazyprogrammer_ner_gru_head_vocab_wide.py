"""lazyprogrammer/machine_learning_examples, ``nlp_class2/ner_rnn.py`` + ``nlp_class2/pos_rnn.py`` (course "Natural
Language Processing with Deep Learning in Python"): a GRU tagger for named-entity recognition on the Twitter NER
corpus (``ner.txt``, from aritter/twitter_nlp; one token and its BIO tag per line, tweets separated by blank lines).
``ner_rnn.main`` loads it with ``ner_baseline.get_data(split_sequences=True)`` (words lower-cased and numbered in
order of appearance, ``word2idx``; tags numbered likewise, ``tag2idx``), then::

    V = len(word2idx)
    rnn = RNN(10, [10], V)
    rnn.fit(Xtrain, Ytrain, epochs=70)

and ``pos_rnn.RNN.fit`` builds an embedding ``We = init_weight(V, D)``, one ``rnn_class/gru.py`` ``GRU(D, 10,
T.nnet.relu)`` (ReLU candidate state, reset gate applied before ``Whh``, learned initial state ``h0``), and the
output layer ``Wo = init_weight(Mi, V)``, ``bo = np.zeros(V)``, ``py_x = T.nnet.softmax(Z.dot(Wo) + bo)``, with the
cost ``-T.mean(T.log(py_x[T.arange(thY.shape[0]), thY]))`` and momentum SGD (``learning_rate=1e-4``, ``mu=0.99``,
the same update for ``We``), one tweet per step (``thX``/``thY`` are int vectors: the tweet's tokens are the rows).

The fault: the output layer is as wide as the vocabulary (``V``), not the tag set. The tagger's softmax runs over
9,068 "classes" (every word id) although the targets are the 21 tag ids: 9,047 output units stand for no class, the
initial cross-entropy is log 9068 = 9.1 instead of log 21 = 3.0, and the first phase of training is spent pushing
probability mass off the unused units. ``RNN.__init__`` had no argument for the number of tags at all; POS tagging
(``pos_rnn.main``, ``V = len(word2idx) + 1``) has the same head.

Source: github.com/lazyprogrammer/machine_learning_examples, ``nlp_class2/ner_rnn.py`` and ``nlp_class2/pos_rnn.py``
at 945295e^ (with ``nlp_class2/ner_baseline.py``, ``rnn_class/gru.py``, ``nlp_class2/util.py`` ``init_weight``),
fixed by commit 945295e1504f16e1d6256a6e63e73ef4f1e1fcae "fix output size": ``RNN(D, hidden_layer_sizes, V, K)``,
``Wo = init_weight(Mi, self.K)``, ``bo = np.zeros(self.K)``, and ``ner_rnn.main`` passes ``K = len(tag2idx)``.
Fault label: head_width (the head has the vocabulary's width, 9,068, instead of the 21 tags).

Program lines kept: ``D = 10``, ``hidden_layer_sizes = [10]``, the embedding lookup ``We[thX]``, the GRU's
equations, weights and ``init_weight`` (``randn(Mi, Mo) / sqrt(Mi + Mo)``; zero biases and ``h0``), the ReLU
candidate activation, the output layer and its softmax cross-entropy averaged over the tweet's tokens, momentum SGD
lr 1e-4 / momentum 0.99 on every parameter (Theano's ``p + mu*dp - lr*g`` is ``SGD(momentum=0.99)`` in both
frameworks), one tweet per step with the tokens as the rows (so a "batch" here is one tweet: ``x`` (T,) word ids,
``y`` (T,) tag ids, output (T, width)). Ported minimally: Theano -> torch (``forward`` returns the logits
``Z @ Wo + bo`` and the loss is ``F.cross_entropy``, i.e. the program's softmax and ``-mean(log p[y])`` in one) and
Keras 3 (same GRU as a custom layer scanning over the rows, ``Dense(width, activation="softmax")`` with
``sparse_categorical_crossentropy``, the program's own pair). ``theano.scan`` -> a Python loop (torch) /
``keras.ops.scan`` (Keras). Figures, f1 scores, epochs loop and the train/test split are left out.
Data stand-in (``ner.txt`` is 2,394 tweets, 46,469 tokens, 9,068 lower-cased words, 21 tags, 94.7 % ``O``; tweet
lengths 1-39, median 20; all counted from the file at 945295e): 64 seeded tweets with lengths drawn around the same
median (5-39), words 0..9067, 21 tags numbered in the file's order of first appearance (``O`` = 0). ``O`` tokens are
drawn from a Zipf law over 7,500 words; entity spans start with the file's per-type ``B-`` frequency, last 1 +
Poisson(the file's ``I-``/``B-`` count ratio for the type) tokens, and draw their words from a per-type pool
(1,568 words in all), so a tag follows from the word and whether the previous token opened the same span:
learnable signal, with the same class imbalance as the real corpus.

Symptom, measured in a plain loop of my own (seeded, OMP_NUM_THREADS=1; the program's momentum SGD, one tweet a
step, cycling over the 64 tweets; mean token cross-entropy over all 64 tweets (1,335 tokens, 92.9 % ``O``; 94.7 %
over 2,000 seeded tweets) after the given number of steps; torch and Keras agree to 3 decimals, same initial
weights): buggy 9.112 -> 100 steps 8.789, 300 steps 7.325, 640 steps 4.209, 1280 steps 0.906; fixed 3.046 -> 100
steps 2.717, 300 steps 1.329, 640 steps 0.482, 1280 steps 0.472 (the entropy of these tweets' tag frequencies, the
loss of the class prior alone, is 0.445). The share of the first tweet's probability on the ids 21..9067, which are
no tag, is 0.998 at steps 0, 100 and 300, 0.976 at 640 and 0.092 at 1280 in the buggy run: the first several
hundred steps go to learning that those units are never the answer. On the first tweet alone (21 tokens), 200 steps of
the program's lr 1e-4 take buggy 9.11 -> 8.43 and fixed 3.05 -> 2.39: neither fits one tweet in a short run at
this learning rate, so overfit_one_batch is not listed. About 3-5 ms (torch) / 5-12 ms (Keras) per step on one CPU
thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "head_width"
SOURCE = ("github:lazyprogrammer/machine_learning_examples nlp_class2/ner_rnn.py + nlp_class2/pos_rnn.py@945295e^ "
          "(ner_baseline.py get_data, rnn_class/gru.py GRU; fix 945295e1504f16e1d6256a6e63e73ef4f1e1fcae "
          "'fix output size')")
FRAMEWORKS = ("torch", "keras")
CHECKS = {fw: [
    ("init_loss", {"num_classes": 21}),
    ("output_range", {"kind": kind, "num_classes": 21}),
    ("loss_decreases", {}),
] for fw, kind in (("torch", "logits"), ("keras", "probabilities"))}

V = 9068  # len(word2idx) of ner.txt (lower-cased)
K = 21  # len(tag2idx)
D = 10  # RNN(10, [10], V)
hidden_layer_sizes = [10]
learning_rate = 1e-4  # RNN.fit defaults
mu = 0.99
n_tweets = 64

# tags in ner.txt's order of first appearance (tag2idx), and their token counts in the file
TAGS = ['O', 'B-facility', 'I-facility', 'B-other', 'I-other', 'B-company', 'B-person', 'B-tvshow', 'B-sportsteam',
        'I-person', 'B-geo-loc', 'B-movie', 'I-movie', 'I-tvshow', 'B-product', 'I-company', 'B-musicartist',
        'I-musicartist', 'I-geo-loc', 'I-product', 'I-sportsteam']
COUNTS = {'O': 44007, 'B-person': 449, 'I-other': 320, 'B-geo-loc': 276, 'B-other': 225, 'I-person': 215,
          'B-company': 171, 'I-facility': 105, 'B-facility': 104, 'B-product': 97, 'I-product': 80,
          'I-musicartist': 61, 'B-musicartist': 55, 'B-sportsteam': 51, 'I-geo-loc': 49, 'I-movie': 46,
          'I-company': 36, 'B-tvshow': 34, 'B-movie': 34, 'I-tvshow': 31, 'I-sportsteam': 23}


def _ner_like(n: int = n_tweets, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded stand-in for get_data(split_sequences=True): a list of (word ids (T,), tag ids (T,)) tweets."""
    rng = np.random.default_rng(seed)
    tag2idx = {t: i for i, t in enumerate(TAGS)}
    types = sorted({t[2:] for t in TAGS if t != 'O'})
    b_freq = np.array([COUNTS['B-' + t] for t in types], dtype=float)
    span_extra = {t: COUNTS['I-' + t] / COUNTS['B-' + t] for t in types}  # mean I- tokens per span
    n_o_words = 7500
    pool_sizes = np.maximum(20, np.round((V - n_o_words) * b_freq / b_freq.sum())).astype(int)
    pool_sizes[-1] += (V - n_o_words) - pool_sizes.sum()
    starts = n_o_words + np.concatenate([[0], np.cumsum(pool_sizes)[:-1]])
    zipf = 1.0 / np.arange(1, n_o_words + 1)
    zipf /= zipf.sum()
    p_start = b_freq.sum() / COUNTS['O'] * 1.02
    tweets = []
    for _ in range(n):
        length = int(np.clip(np.round(rng.normal(20.0, 7.5)), 5, 39))
        words, tags = [], []
        while len(words) < length:
            if rng.random() < p_start:
                ti = rng.choice(len(types), p=b_freq / b_freq.sum())
                t = types[ti]
                span = 1 + rng.poisson(span_extra[t])
                for j in range(min(span, length - len(words))):
                    words.append(starts[ti] + rng.integers(pool_sizes[ti]))
                    tags.append(tag2idx[('B-' if j == 0 else 'I-') + t])
            else:
                words.append(rng.choice(n_o_words, p=zipf))
                tags.append(tag2idx['O'])
        tweets.append((np.array(words, dtype="int64"), np.array(tags, dtype="int64")))
    return tweets


def _init_weight(rng: np.random.Generator, mi: int, mo: int) -> np.ndarray:  # nlp_class2/util.py
    return (rng.standard_normal((mi, mo)) / np.sqrt(mi + mo)).astype("float32")


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    tweets = _ner_like()
    out_width = K if fixed else V  # fix 945295e: Wo = init_weight(Mi, self.K); bug: init_weight(Mi, V)
    rng = np.random.default_rng(1)
    We = _init_weight(rng, V, D)
    gru = []
    Mi = D
    for Mo in hidden_layer_sizes:  # rnn_class/gru.py GRU.__init__
        gru.append({"Wxr": _init_weight(rng, Mi, Mo), "Whr": _init_weight(rng, Mo, Mo), "br": np.zeros(Mo, "float32"),
                    "Wxz": _init_weight(rng, Mi, Mo), "Whz": _init_weight(rng, Mo, Mo), "bz": np.zeros(Mo, "float32"),
                    "Wxh": _init_weight(rng, Mi, Mo), "Whh": _init_weight(rng, Mo, Mo), "bh": np.zeros(Mo, "float32"),
                    "h0": np.zeros(Mo, "float32")})
        Mi = Mo
    Wo = _init_weight(rng, Mi, out_width)
    bo = np.zeros(out_width, "float32")

    if framework == "torch":
        import torch
        import torch.nn.functional as F
        from torch import nn

        torch.manual_seed(0)

        class GRU(nn.Module):
            def __init__(self, w: dict[str, np.ndarray]) -> None:
                super().__init__()
                for name, value in w.items():
                    setattr(self, name, nn.Parameter(torch.tensor(value)))

            def recurrence(self, x_t, h_t1):
                r = torch.sigmoid(x_t @ self.Wxr + h_t1 @ self.Whr + self.br)
                z = torch.sigmoid(x_t @ self.Wxz + h_t1 @ self.Whz + self.bz)
                hhat = torch.relu(x_t @ self.Wxh + (r * h_t1) @ self.Whh + self.bh)  # activation=T.nnet.relu
                h = (1 - z) * h_t1 + z * hhat
                return h

            def forward(self, x):  # rows index time (theano.scan over x, outputs_info=[h0])
                h, hs = self.h0, []
                for x_t in x:
                    h = self.recurrence(x_t, h)
                    hs.append(h)
                return torch.stack(hs)

        class RNN(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.We = nn.Parameter(torch.tensor(We))
                self.hidden_layers = nn.ModuleList([GRU(w) for w in gru])
                self.Wo = nn.Parameter(torch.tensor(Wo))
                self.bo = nn.Parameter(torch.tensor(bo))

            def forward(self, thX):
                Z = self.We[thX]
                for ru in self.hidden_layers:
                    Z = ru(Z)
                return Z @ self.Wo + self.bo  # logits of py_x = softmax(Z.dot(Wo) + bo)

        tb = [(torch.tensor(x), torch.tensor(y)) for x, y in tweets]
        return {"model": RNN(), "batch": tb[0], "batches": tb,
                "loss_fn": lambda logits, y: F.cross_entropy(logits, y),  # -mean(log(py_x[arange(T), thY]))
                "optimizer": lambda p: torch.optim.SGD(p, lr=learning_rate, momentum=mu)}

    import keras
    from keras import ops

    keras.utils.set_random_seed(0)

    class GRU(keras.layers.Layer):  # rnn_class/gru.py, the tweet's tokens along axis 0
        def __init__(self, w: dict[str, np.ndarray], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._w0 = w

        def build(self, input_shape):
            for name, value in self._w0.items():
                setattr(self, name, self.add_weight(shape=value.shape, name=name,
                                                    initializer=keras.initializers.Constant(value)))

        def recurrence(self, h_t1, x_t):
            r = ops.sigmoid(ops.matmul(x_t, self.Wxr) + ops.matmul(h_t1, self.Whr) + self.br)
            z = ops.sigmoid(ops.matmul(x_t, self.Wxz) + ops.matmul(h_t1, self.Whz) + self.bz)
            hhat = ops.relu(ops.matmul(x_t, self.Wxh) + ops.matmul(r * h_t1, self.Whh) + self.bh)
            h = (1 - z) * h_t1 + z * hhat
            return h, h

        def call(self, x):
            _, h = ops.scan(self.recurrence, ops.convert_to_tensor(self.h0), x)
            return h

        def compute_output_shape(self, input_shape):
            return (input_shape[0], self._w0["h0"].shape[0])

    thX = keras.Input(shape=(), dtype="int32")  # one tweet: T word ids, the rows
    Z = keras.layers.Embedding(V, D, embeddings_initializer=keras.initializers.Constant(We))(thX)
    for w in gru:
        Z = GRU(w)(Z)
    py_x = keras.layers.Dense(out_width, activation="softmax", kernel_initializer=keras.initializers.Constant(Wo),
                              bias_initializer="zeros")(Z)
    model = keras.Model(thX, py_x)
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=keras.optimizers.SGD(learning_rate=learning_rate, momentum=mu))
    return {"model": model, "batch": tweets[0], "batches": tweets}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
