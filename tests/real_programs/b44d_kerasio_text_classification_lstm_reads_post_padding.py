"""keras-io example "Text classification from scratch" (``examples/nlp/text_classification_from_scratch.py``, by
Mark Omernick and Francois Chollet), with its 1D convnet swapped for an LSTM, as a user reported in keras-io issue
#2044 (and keras-team/keras issue #20898): IMDB sentiment from raw text files. ``text_dataset_from_directory``
(``batch_size = 32``, ``class_names=["pos", "neg"]``, int32 labels 0/1), ``TextVectorization(standardize=
custom_standardization, max_tokens=max_features, output_mode="int", output_sequence_length=sequence_length)`` with
``max_features = 20000``, ``sequence_length = 500``, applied in the input pipeline (``vectorize_text``); the model
``Input(shape=(None,), dtype="int64")`` -> ``Embedding(max_features, embedding_dim)`` (``embedding_dim = 128``) ->
``Dropout(0.5)`` -> [the example's ``Conv1D(128, 7, strides=3)`` x 2 + ``GlobalMaxPooling1D()``, replaced by the
reporter with "a LSTM layer"] -> ``Dense(128, relu)`` -> ``Dropout(0.5)`` -> ``Dense(1, sigmoid)``;
``compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])``.

The fault: ``TextVectorization`` pads every review with zeros *after* its last word, up to 500 tokens, and the
Embedding is built without ``mask_zero=True``, so the LSTM does not skip the padding: it runs on through the
padding and its last state, the only thing the head sees, is what is left after tens to hundreds of steps of the
same padding vector. The forget gate (sigmoid(1) = 0.73 at Keras' init, unit_forget_bias) erases the words long
before the end, so the prediction carries next to nothing of the review and no gradient reaches the words (a
sequence model that reads only padding). The reporter: "the model doesn't learn, the accuracy stays around .50"
(train and validation), whereas the convnet (max-pooled over time) learns, and ``LSTM(go_backwards=True)`` (which
reads the padding first and the words last) learns too.

Source: github.com/keras-team/keras-io issue #2044 "Can't reproduce 'Text classification from scratch' example
with LSTM" (ttrouill, Feb 2025, Keras 3.8), also filed as keras-team/keras issue #20898 "LSTM layer doesn't learn
with TextVectorization output (padding ?)"; the example as stored at keras-io commit 01ae2db402523e96f804c6fc3b0a
59582e6a671e (a later version than the reporter's; the lines used here are unchanged in substance). Fix: the
answer in #2044 (by kharshith-k) to build the Embedding with ``mask_zero=True`` so that the LSTM skips the padded
steps, which the reporter confirmed: "It does work indeed" (and asked for it to be
documented, since none of the keras.io LSTM examples sets ``mask_zero``). The issue's own code is not in the
stored thread, so the LSTM line is mine: ``layers.LSTM(64)`` (the width of keras-io's "Bidirectional LSTM on
IMDB" example, which the reporter cites as the one that works; the reporter's width is not given).
Fault label: no_input_signal|context_ignored (the classifier's only view of the text is the post-padding tail).
Fix: ``layers.Embedding(max_features, embedding_dim, mask_zero=True)``.

Program lines kept: the model above with Keras' default initialisers (uniform(-0.05, 0.05) embeddings, glorot
kernels, orthogonal recurrent kernel, zero biases and forget bias 1), dropout 0.5 (active in training), binary
cross-entropy, Adam at Keras' default lr 1e-3, batches of 32, post-padding with 0 (padding id) and [UNK] = 1.
Shrunk for CPU time: ``sequence_length`` 500 -> 100, and every review length scaled by the same 1/5, so the share
of padding (about 58%, as in IMDB at 500 tokens) and the share of reviews cut at the limit (about 8%) are as in the
program; at 500 tokens a training step of this model with LSTM(128) took 0.4-0.6 s on one CPU thread.
Torch twin: ``nn.Embedding`` with Keras' uniform(-0.05, 0.05), ``nn.LSTM(128, 64, batch_first=True)`` with Keras'
LSTM initialisers (gate order i, f, g, o is Keras' i, f, c, o; glorot-uniform input kernel, orthogonal recurrent
kernel per Keras' whole-matrix draw, bias zeros except forget = 1, the second torch bias zero), the last hidden
state into ``Linear(64, 128)`` + ReLU + ``Dropout(0.5)`` + ``Linear(128, 1)`` + sigmoid, ``nn.BCELoss``,
``Adam(lr=1e-3, eps=1e-7)`` as Keras'. Buggy twin: the LSTM runs over all 100 steps, padding included; fixed twin:
what ``mask_zero=True`` does for a post-padded batch, ``pack_padded_sequence`` with the lengths ``(x != 0).sum(1)``,
so the last state is the one after the last word. The dataset download, ``text_dataset_from_directory``, the
vocabulary ``adapt``, the evaluation and the end-to-end string model are left out.
Data stand-in (no aclImdb download): seeded reviews as ``vectorize_layer`` returns them, (N, 100) int64 in
0..19999: lengths log-normal (median 174/5 words, sigma 0.75, at least 2; 8% longer than 100 and cut), words from a
Zipf(1) vocabulary over ids 2..19999 (ids are frequency ranks, as TextVectorization's), 2% [UNK] (id 1), and 10%
sentiment words: 85% of them from 40 ids of the review's own class ("pos" = 0, "neg" = 1, ranks 150..6000), 15%
from the other class's 40; labels balanced, int32. A bag-of-words model can learn it (the fixed program reaches
~0.85 held-out accuracy), a model that ignores the words cannot beat 0.5.
Measured (my own loop, /tmp/h44d/measure.py, seed 0, OMP_NUM_THREADS=1, 2,048 training reviews cycled in batches
of 32 - 64 batches an epoch - with Keras ``train_on_batch`` / torch ``zero_grad; BCE(model(x), y).backward();
step`` in train mode; held-out loss / accuracy on 512 other reviews in eval mode; a constant prediction scores
0.46-0.54 there, chance loss 0.693):
  keras buggy: 0.693/0.48 at init, 0.694/0.47 after 100 steps (prediction std over the 512 reviews 0.002),
         0.692/0.54 after 200, 0.695/0.48 after 300, 0.697/0.47 after 400, 0.712/0.48 after 500; only then does
         it start to fit something, erratically (0.971/0.64 after 600, 0.679/0.54 after 800);
        fixed: 0.693/0.53 at init, 0.668/0.54 after 50, 0.370/0.85 after 100, 0.363/0.86 after 150 (then it
         overfits the 2,048 reviews: 0.921/0.81 after 400).
  torch buggy: 0.693/0.46, 0.693/0.48 after 100 (prediction std 0.002), 0.681/0.50 after 200, 0.709/0.47 after
         300; from ~350 steps it begins to learn to carry the state through the padding (0.505/0.79 after 400,
         0.481/0.81 after 600, 0.658/0.58 after 800, unstable);
        fixed: 0.693/0.52, 0.699/0.46 after 50, 0.315/0.86 after 100, 0.375/0.85 after 150, 0.679/0.82 after 400.
  One batch of 32 (the module's ``batch``), 200 steps, loss on it at 0/50/100/200 steps: keras buggy 0.694, 0.563,
  0.629, 0.628 (batch accuracy 0.56: it cannot memorise 32 reviews, it sees little but their padding tails)
  vs fixed 0.694, 0.014, 0.001, 0.000 (accuracy 1.0); torch buggy 0.693, 0.635, 0.620, 0.628 (0.56) vs fixed
  0.694, 0.001, 0.001, 0.000 (1.0).
  So within the first ~300 steps (about 5 epochs of this stand-in; the example trains 3 epochs of 625 steps at 500
  tokens, where the padding tail is 5x longer) the buggy model's output does not depend on the review, while the
  fix learns in 100 steps. The shrink to 100 tokens makes the bug softer than at 500: with ~58 padding steps
  instead of ~290 the LSTM can, after a few hundred steps, learn to hold its state through the padding.
About 55-75 ms per training step (keras and torch alike) on one CPU thread, measured with two runs sharing two
busy cores.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "no_input_signal|context_ignored"
SOURCE = ("github:keras-team/keras-io issue #2044 (examples/nlp/text_classification_from_scratch.py"
          "@01ae2db402523e96f804c6fc3b0a59582e6a671e with Conv1D x2 + GlobalMaxPooling1D replaced by an LSTM; "
          "keras-team/keras issue #20898): "
          "TextVectorization post-pads, Embedding(max_features, embedding_dim) without mask_zero; fix confirmed in "
          "#2044: Embedding(..., mask_zero=True)")
FRAMEWORKS = ("keras", "torch")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {}),
          ("input_independent_baseline", {})]

batch_size = 32  # program lines
max_features = 20000
embedding_dim = 128
sequence_length = 100  # port: the program's 500, shrunk with the review lengths (see the docstring)
lstm_units = 64  # the reporter's "a LSTM layer" (width not given; keras-io's bidirectional_lstm_imdb uses 64)
lr = 1e-3  # optimizer="adam"
n_batches = 8
SEED = 0
# the lead's: input_independent_baseline holds samples out of one batch and asks for at least 64; a user given
# its usage error passes 128 samples of the training data (4 of the program's batches), added before measuring it
BASELINE = 128


def imdb_like(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    """(n, sequence_length) int64 token ids, post-padded with 0 as TextVectorization does, and int32 labels 0/1."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    rng.shuffle(y)
    ranks = np.arange(2, max_features)  # 0 = padding, 1 = [UNK]
    zipf = 1.0 / (ranks - 1.0)
    zipf /= zipf.sum()
    lexicon = np.random.default_rng(1234).choice(np.arange(150, 6000), (2, 40), replace=False)  # pos, neg words
    scale = sequence_length / 500.0
    lengths = np.exp(rng.normal(np.log(174 * scale), 0.75, n))
    lengths = np.clip(np.round(lengths), 2, None).astype(int)
    x = np.zeros((n, sequence_length), "int64")
    for i, c in enumerate(y):
        m = min(int(lengths[i]), sequence_length)  # output_sequence_length cuts longer reviews
        words = rng.choice(ranks, m, p=zipf)
        words[rng.random(m) < 0.02] = 1
        sentiment = rng.random(m) < 0.10
        own = rng.random(m) < 0.85
        words[sentiment & own] = rng.choice(lexicon[c], int((sentiment & own).sum()))
        words[sentiment & ~own] = rng.choice(lexicon[1 - c], int((sentiment & ~own).sum()))
        x[i, :m] = words
    return x, y.astype("int32")


def _keras(mask_zero: bool) -> dict[str, Any]:
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)
    # program lines (text_classification_from_scratch.py, convnet block replaced by the LSTM)
    inputs = keras.Input(shape=(None,), dtype="int64")
    if mask_zero:  # fix (#2044)
        x = layers.Embedding(max_features, embedding_dim, mask_zero=True)(inputs)
    else:
        x = layers.Embedding(max_features, embedding_dim)(inputs)
    x = layers.Dropout(0.5)(x)
    x = layers.LSTM(lstm_units)(x)
    x = layers.Dense(128, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    predictions = layers.Dense(1, activation="sigmoid", name="predictions")(x)
    model = keras.Model(inputs, predictions)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])

    xs, ys = imdb_like(n_batches * batch_size)
    batches = [(xs[i:i + batch_size], ys[i:i + batch_size]) for i in range(0, len(xs), batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xs,
            "baseline_batch": (xs[:BASELINE], ys[:BASELINE])}


def _torch_model(mask_zero: bool) -> Any:
    import torch
    from torch import nn

    from tests.real_programs._nets import torch_dense

    class TextLSTM(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(max_features, embedding_dim)
            nn.init.uniform_(self.embedding.weight, -0.05, 0.05)  # Keras Embedding default
            self.dropout1 = nn.Dropout(0.5)
            self.lstm = nn.LSTM(embedding_dim, lstm_units, batch_first=True)
            u = lstm_units
            with torch.no_grad():  # Keras LSTM defaults
                w = torch.empty(embedding_dim, 4 * u)
                nn.init.xavier_uniform_(w)  # glorot_uniform over the whole (input, 4 * units) kernel
                self.lstm.weight_ih_l0.copy_(w.t())
                r = torch.empty(u, 4 * u)
                nn.init.orthogonal_(r)  # orthogonal over the whole (units, 4 * units) recurrent kernel
                self.lstm.weight_hh_l0.copy_(r.t())
                self.lstm.bias_ih_l0.zero_()
                self.lstm.bias_ih_l0[u:2 * u] = 1.0  # unit_forget_bias
                self.lstm.bias_hh_l0.zero_()
            self.dense = torch_dense(lstm_units, 128)
            self.dropout2 = nn.Dropout(0.5)
            self.predictions = torch_dense(128, 1)

        def forward(self, tokens):
            x = self.dropout1(self.embedding(tokens))
            if mask_zero:  # fix: the LSTM stops at each review's last word (what Keras' mask does here)
                lengths = (tokens != 0).sum(1).clamp(min=1).cpu()
                x = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            _, (h, _) = self.lstm(x)  # buggy: the state after the last of the 100 steps, padding included
            x = torch.relu(self.dense(h[-1]))
            x = self.dropout2(x)
            return torch.sigmoid(self.predictions(x))

    return TextLSTM()


def _torch(mask_zero: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    model = _torch_model(mask_zero)
    xs, ys = imdb_like(n_batches * batch_size)
    xt = torch.from_numpy(xs)
    yt = torch.from_numpy(ys.astype("float32")).reshape(-1, 1)
    batches = [(xt[i:i + batch_size], yt[i:i + batch_size]) for i in range(0, len(xt), batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt, "loss_fn": nn.BCELoss(),
            "baseline_batch": (xt[:BASELINE], yt[:BASELINE]),
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr, eps=1e-7)}


def _build(framework: str, mask_zero: bool) -> dict[str, Any]:
    if framework == "keras":
        return _keras(mask_zero)
    if framework == "torch":
        return _torch(mask_zero)
    raise ValueError(framework)


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, mask_zero=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, mask_zero=True)
