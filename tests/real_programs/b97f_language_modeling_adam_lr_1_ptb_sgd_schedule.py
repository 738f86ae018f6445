"""rajveermalviya/language-modeling: a next-word predictor in ``tf.keras`` (trained on Penn Treebank, exported to
TensorFlow.js for a web demo). ``CONFIG.py`` holds ``number_of_words = 3``, ``batch_size = 200``, ``hidden_size =
1500``, ``num_epochs = 80``, ``learning_rate = 1.0``, ``learning_rate_decay = 1 / 1.15``; ``train.py`` builds
``optimizer = Adam(lr=CONFIG.learning_rate, decay=CONFIG.learning_rate_decay)``, ``create_model(total_words,
hidden_size, num_steps, optimizer)`` and fits it on ``utils.BatchGenerator`` batches; ``keras_model.py``
``create_model``: ``Embedding(total_words, hidden_size)`` -> four ``LSTM(hidden_size, return_sequences=True)`` ->
``TimeDistributed(Dense(1024))`` -> relu -> ``Dropout(0.3)`` -> ``TimeDistributed(Dense(512))`` -> relu ->
``TimeDistributed(Dense(total_words))`` -> softmax, ``loss='categorical_crossentropy'``. The generator cuts the
word-id stream into windows of 3 ids (``x[i] = data[idx:idx + 3]``), the targets are the next 3 ids one-hot
(``to_categorical(data[idx + 1:idx + 4], total_words)``), and the window moves by ``skip_step = 3``.

The fault (optimizer configuration): the learning-rate settings are those of the classic SGD recipe for PTB
language models (Zaremba et al.: lr 1.0, later divided by 1.15 each epoch), but they are handed to Adam. Adam's step is
about lr in every coordinate whatever the gradient's scale, so lr = 1.0 moves every weight by ~1 per step, about
1000x Adam's usual 1e-3. Keras' legacy ``decay`` argument is not a per-epoch factor either: it is inverse-time decay
per iteration, lr_t = lr / (1 + decay * t), so the rate is 0.53 after one step, ~0.1 after 10 and ~0.011 after 100:
the first steps throw the weights around (embeddings and LSTM gates saturate, the relu units of the dense head die)
and the rate then falls too fast for Adam to repair that. Issue #3 (a user): the training loss "didn't really went
down even after many epochs ... because you use learning rate of 1.0 in the config file. After I use Adam optimizer
with it's default learning rate (which is 0.001), the training get much better"; the author: "Thanks for addressing
this issue ... I have now updated the config file."

Source: github.com/rajveermalviya/language-modeling ``CONFIG.py``, ``train.py``, ``keras_model.py``, ``utils.py`` at
1afcc0b77eb860f1f24a94c7c356c3dca8623c88 (= e214bf6^); issue #3 "Adam's learning rate"; fixed in
e214bf6187bb36b741d38475fa837c8268382acc "#3 fixed the learning rate issue.": ``learning_rate = 1.0`` -> ``0.001``,
``learning_rate_decay = 1 / 1.15`` -> ``0``.
Fault label: lr_too_high (Adam at lr 1.0, an SGD learning rate ~1000x Adam's, with a per-iteration decay that does
not bring it down before the damage is done).

Program lines kept: ``learning_rate = 1.0`` / ``learning_rate_decay = 1 / 1.15`` (buggy) and ``0.001`` / ``0``
(fixed) as the only difference; ``Adam(lr=CONFIG.learning_rate, decay=CONFIG.learning_rate_decay)``, written in Keras
3 as ``Adam(learning_rate=InverseTimeDecay(learning_rate, decay_steps=1, decay_rate=learning_rate_decay))`` (the
legacy ``decay``'s lr / (1 + decay * iterations); with decay 0 the rate is constant, as in the fix), Keras' default
betas and epsilon 1e-7; ``create_model`` layer for layer; ``categorical_crossentropy`` on the softmax output with
one-hot targets; ``number_of_words = 3``, ``batch_size = 200``, the generator's windows and ``skip_step``.
Shrunk (CPU budget; the widths are not part of the fault): ``hidden_size`` 1500 -> 128, the head's ``Dense(1024)`` /
``Dense(512)`` -> 256 / 128, vocabulary 10,000 PTB words -> 500 (at the original widths one step takes ~12 s on one
core). ``Dropout(0.3, seed=0.2)``: the float seed is dropped (Keras 3 takes an int; the builders seed globally).
Torch twin: ``nn.Embedding`` with Keras' uniform(+-0.05) init, four ``nn.LSTM`` layers with Keras' LSTM init (Glorot-
uniform kernel, orthogonal recurrent kernel, zero bias with forget-gate bias 1), ``nn.Linear`` with Glorot kernel and
zero bias, ReLU, ``Dropout(0.3)``, softmax over the words; ``loss_fn`` is Keras' categorical cross-entropy of the
probabilities (clipped to [1e-7, 1 - 1e-7]) averaged over the 3 positions and the batch; the optimizer is
``torch.optim.Adam(lr=learning_rate, eps=1e-7)`` that sets its rate to lr / (1 + decay * iterations) before each
step, as Keras' Adam with ``decay`` does (a plain Adam at lr 0.001 in the fixed version).
Data stand-in (no PTB download): a seeded word stream from a first-order Markov chain over 500 word ids. Sentences
start with a Zipf-distributed word, each word has 4 possible successors (drawn with Zipf weights, probabilities from
Dirichlet(1)), and a sentence ends with ``<eos>`` with probability 1/12 after each word; the ids are then renumbered
by frequency as ``build_vocab`` does (id 0 the most frequent, here ``<eos>``). The next word follows from the last
one, so the windows carry the signal. ``batches``: the generator's first 60 batches of 200 windows (36,000 tokens of
the stream); ``batch``: the first; ``inputs``: 256 windows from a held-out stretch of the stream. x: (n, 3) int ids
(int32 for Keras, int64 for torch), y: (n, 3, 500) float32 one-hot.

Measured (my own plain loop, /tmp/s57/p/b97f/measure.py: the module's builds, the 60 ``batches`` cycled in order,
``train_on_batch`` / zero_grad-forward-loss-backward-step, seed 0, OMP_NUM_THREADS=1; held-out loss = categorical
cross-entropy on 2,000 windows of the held-out stretch in inference mode; ln 500 = 6.21, unigram entropy of
the stream 4.15 nats, the chain's next-word entropy given the previous word 1.53 nats):
  The buggy rate at steps 0 / 1 / 10 / 100 / 299: 1.0 / 0.53 / 0.10 / 0.011 / 0.0038 (fixed: 0.001 throughout).
  torch, 300 steps (5 passes over the 60 batches): buggy losses at steps 0-5 6.215 14.53 14.88 14.56 14.48 14.56,
    means of 30-step blocks 14.29 14.59 14.57 14.59 ... 14.59 (flat); fixed 6.215 6.212 6.209 ..., blocks 5.57 4.38
    4.15 4.02 3.89 3.63 3.39 3.14 2.96 2.87. Held-out after 300 steps: buggy CE 14.57, accuracy 0.096 (it puts
    probability 1.000 on one word, ``<eos>``, for every input: the softmax saturates in float32, the gradient
    vanishes and the loss never moves again; 29 % of the first dense layer's relu units are dead on the held-out
    windows), fixed CE 2.83, accuracy 0.281, mean top probability 0.27. After 900 steps: buggy unchanged (14.57 /
    0.096), and the block means still 14.57-14.58.
  Keras, 300 steps: buggy losses at steps 0-5 6.215 75.16 14.42 7.30 5.53 5.11, blocks 7.52 4.40 4.32 4.28 4.26
    4.24 4.23 4.22 4.21 4.20; fixed 6.215 6.213 6.210 ..., blocks 5.84 4.45 4.09 3.98 3.82 3.58 3.37 3.15 2.99
    2.87. Held-out after 300 steps: buggy CE 4.26, accuracy 0.075 (it has only learnt the word frequencies: CE at
    the unigram entropy, accuracy under the 0.096 of always saying ``<eos>``), fixed CE 2.83, accuracy 0.296.
    After 900 steps: buggy CE 4.22 / accuracy 0.075 (blocks of 90 steps 5.42 4.26 4.22 4.20 4.18 4.17 4.17 4.16
    4.16 4.16), fixed 2.33 / 0.358 (blocks 4.79 3.79 3.17 2.79 2.60 2.50 2.41 2.37 2.31 2.28). Keras computes the
    cross-entropy of a softmax layer from its logits, so the buggy model keeps a gradient and settles on the
    unigram distribution instead of the torch twin's dead one-hot output; in both frameworks it stops learning
    within ~10 steps, as issue #3 describes.
  One batch repeated 100 times (``batch``): torch buggy loss at steps 1 / 10 / 50 / 100 6.215 / 14.48 / 14.48 /
    14.48, fixed 6.215 / 6.13 / 3.97 / 3.48; Keras buggy 6.215 / 4.68 / 4.19 / 4.08, fixed 6.215 / 6.17 / 3.97 /
    3.51.
  Time per step (batch 200, one thread, shared machine): torch ~85 ms fixed, 180-300 ms buggy; Keras
    ``train_on_batch`` ~95-120 ms; first build with the TensorFlow import ~15-25 s, stream generation ~1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "lr_too_high"
SOURCE = ("github:rajveermalviya/language-modeling issue #3 (CONFIG.py learning_rate = 1.0, learning_rate_decay = "
          "1 / 1.15 -> train.py Adam(lr=CONFIG.learning_rate, decay=CONFIG.learning_rate_decay), keras_model.py "
          "create_model, utils.py BatchGenerator @1afcc0b77eb860f1f24a94c7c356c3dca8623c88 = e214bf6^; fix "
          "e214bf6187bb36b741d38475fa837c8268382acc '#3 fixed the learning rate issue.': learning_rate = 0.001, "
          "learning_rate_decay = 0)")
FRAMEWORKS = ("torch", "keras")

# CONFIG.py
number_of_words = 3
batch_size = 200
hidden_size = 128  # 1500 in CONFIG.py (shrunk for CPU)
DENSE1, DENSE2 = 256, 128  # Dense(1024), Dense(512) in keras_model.py (shrunk)
TOTAL_WORDS = 500  # PTB's 10,000 (shrunk)
BUGGY_CONFIG = {"learning_rate": 1.0, "learning_rate_decay": 1 / 1.15}
FIXED_CONFIG = {"learning_rate": 0.001, "learning_rate_decay": 0}  # e214bf6
# stand-in
N_BATCHES = 60
N_INPUTS = 256
SUCCESSORS = 4
P_EOS = 1 / 12
SEED = 0

CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("init_loss", {"num_classes": TOTAL_WORDS}),
          ("output_range", {"kind": "probabilities"})]


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _stream() -> np.ndarray:
    """Word ids of a seeded first-order Markov 'corpus', renumbered by frequency (build_vocab), <eos> included."""
    r = np.random.default_rng(SEED)
    n_words = TOTAL_WORDS - 1  # raw ids 1..499, raw 0 = <eos>
    zipf = 1.0 / np.arange(1, n_words + 1)
    zipf /= zipf.sum()
    succ = np.stack([r.choice(n_words, SUCCESSORS, replace=False, p=zipf) + 1 for _ in range(n_words + 1)])
    probs = r.dirichlet(np.ones(SUCCESSORS), n_words + 1)
    n_tokens = N_BATCHES * batch_size * number_of_words + 20000
    out = np.empty(n_tokens, "int64")
    w = 0
    for i in range(n_tokens):
        if w == 0:
            w = int(r.choice(n_words, p=zipf)) + 1
        elif r.random() < P_EOS:
            w = 0
        else:
            w = int(succ[w][r.choice(SUCCESSORS, p=probs[w])])
        out[i] = w
    counts = np.bincount(out, minlength=TOTAL_WORDS)
    order = sorted(range(TOTAL_WORDS), key=lambda k: (-counts[k], k))  # build_vocab: by count, then by word
    rank = np.empty(TOTAL_WORDS, "int64")
    rank[order] = np.arange(TOTAL_WORDS)
    return rank[out]


def _generate(data: np.ndarray, n_batches: int) -> tuple[np.ndarray, np.ndarray]:
    """utils.BatchGenerator.generate with skip_step = number_of_words: x ids (n, 3), y one-hot (n, 3, V)."""
    xs, ys = [], []
    current_idx = 0
    for _ in range(n_batches):
        x = np.zeros((batch_size, number_of_words))
        y = np.zeros((batch_size, number_of_words), "int64")
        for i in range(batch_size):
            if current_idx + number_of_words >= len(data):
                current_idx = 0
            x[i, :] = data[current_idx:current_idx + number_of_words]
            y[i, :] = data[current_idx + 1:current_idx + number_of_words + 1]
            current_idx += number_of_words
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training windows (ids, next ids) of N_BATCHES batches, and held-out windows (ids, next ids)."""
    s = _stream()
    n_train = N_BATCHES * batch_size * number_of_words
    x, y = _generate(s[:n_train + 1], N_BATCHES)
    xh, yh = _generate(s[n_train + 1000:], 10)  # 2,000 held-out windows, 1,000 tokens after the training stretch
    return x.astype("int64"), y, xh.astype("int64"), yh


def _common(int_dtype: str) -> dict[str, Any]:
    x, y, xh, _ = _data()
    onehot = np.eye(TOTAL_WORDS, dtype="float32")
    bs = [(x[i:i + batch_size].astype(int_dtype), onehot[y[i:i + batch_size]])
          for i in range(0, len(x), batch_size)]
    return {"batch": bs[0], "batches": bs, "inputs": xh[:N_INPUTS].astype(int_dtype)}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    config = FIXED_CONFIG if fixed else BUGGY_CONFIG
    torch.manual_seed(SEED)

    def lstm(n_in: int) -> nn.LSTM:  # Keras' LSTM init: Glorot kernel, orthogonal recurrent kernel, forget bias 1
        cell = nn.LSTM(n_in, hidden_size, batch_first=True)
        nn.init.xavier_uniform_(cell.weight_ih_l0.T)
        nn.init.orthogonal_(cell.weight_hh_l0.T)
        nn.init.zeros_(cell.bias_ih_l0)
        nn.init.zeros_(cell.bias_hh_l0)
        with torch.no_grad():
            cell.bias_ih_l0[hidden_size:2 * hidden_size] = 1.0
        return cell

    def dense(n_in: int, n_out: int) -> nn.Linear:
        layer = nn.Linear(n_in, n_out)
        nn.init.xavier_uniform_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer

    class LanguageModel(nn.Module):  # keras_model.create_model
        def __init__(self, total_words: int) -> None:
            super().__init__()
            self.embedding = nn.Embedding(total_words, hidden_size)
            nn.init.uniform_(self.embedding.weight, -0.05, 0.05)
            self.lstms = nn.ModuleList([lstm(hidden_size) for _ in range(4)])  # 4 LSTM layers
            self.fc1 = dense(hidden_size, DENSE1)
            self.drop = nn.Dropout(0.3)
            self.fc2 = dense(DENSE1, DENSE2)
            self.out = dense(DENSE2, total_words)

        def forward(self, x: Any) -> Any:
            h = self.embedding(x)
            for layer in self.lstms:
                h, _ = layer(h)
            h = self.drop(torch.relu(self.fc1(h)))
            h = torch.relu(self.fc2(h))
            return torch.softmax(self.out(h), dim=-1)

    class Adam(torch.optim.Adam):
        """Keras' Adam(lr=..., decay=...): the rate at step t is lr / (1 + decay * t), t counted from 0."""

        def __init__(self, params: Any, lr: float, decay: float) -> None:
            super().__init__(params, lr=lr, betas=(0.9, 0.999), eps=1e-7)
            self.initial_lr, self.decay, self.iterations = lr, decay, 0

        def step(self, closure: Any = None) -> Any:
            for group in self.param_groups:
                group["lr"] = self.initial_lr / (1.0 + self.decay * self.iterations)
            self.iterations += 1
            return super().step(closure)

    def categorical_crossentropy(y_pred: Any, y_true: Any) -> Any:  # Keras on probabilities, mean over positions
        y_pred = y_pred / y_pred.sum(-1, keepdim=True)
        y_pred = y_pred.clamp(1e-7, 1 - 1e-7)
        return -(y_true * torch.log(y_pred)).sum(-1).mean()

    model = LanguageModel(TOTAL_WORDS)
    optimizer = Adam(model.parameters(), lr=config["learning_rate"], decay=config["learning_rate_decay"])
    c = _common("int64")
    tb = [(torch.tensor(x), torch.tensor(y)) for x, y in c["batches"]]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.tensor(c["inputs"]),
            "loss_fn": categorical_crossentropy, "optimizer": optimizer}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, metrics
    from keras.models import Sequential

    config = FIXED_CONFIG if fixed else BUGGY_CONFIG
    keras.utils.set_random_seed(SEED)

    # train.py: optimizer = Adam(lr=CONFIG.learning_rate, decay=CONFIG.learning_rate_decay)
    schedule = keras.optimizers.schedules.InverseTimeDecay(
        config["learning_rate"], decay_steps=1, decay_rate=config["learning_rate_decay"])
    optimizer = keras.optimizers.Adam(learning_rate=schedule)

    def create_model(total_words: int, hidden_size: int, num_steps: int, optimizer: Any = "adam") -> Any:
        model = Sequential()
        model.add(keras.Input((num_steps,), dtype="int32"))
        # Embedding layer / Input layer
        model.add(layers.Embedding(total_words, hidden_size))
        # 4 LSTM layers
        model.add(layers.LSTM(units=hidden_size, return_sequences=True))
        model.add(layers.LSTM(units=hidden_size, return_sequences=True))
        model.add(layers.LSTM(units=hidden_size, return_sequences=True))
        model.add(layers.LSTM(units=hidden_size, return_sequences=True))
        # Fully Connected layer
        model.add(layers.TimeDistributed(layers.Dense(DENSE1)))
        model.add(layers.Activation("relu"))
        model.add(layers.Dropout(0.3))
        model.add(layers.TimeDistributed(layers.Dense(DENSE2)))
        model.add(layers.Activation("relu"))
        # Output Layer
        model.add(layers.TimeDistributed(layers.Dense(total_words)))
        model.add(layers.Activation("softmax"))
        model.compile(loss="categorical_crossentropy", optimizer=optimizer,
                      metrics=[metrics.CategoricalAccuracy()])
        return model

    model = create_model(total_words=TOTAL_WORDS, hidden_size=hidden_size, num_steps=number_of_words,
                         optimizer=optimizer)
    c = _common("int32")
    return {"model": model, **c}


buggy, fixed = versions(_torch, _keras)
