"""keras-team/keras, ``examples/addition_rnn.py`` (Stephen Merity's "sequence to sequence learning for performing
addition", added in 588ce7a / d545515, August 2015): questions such as ``"535+61 "`` (3-digit operands, padded with
spaces to ``MAXLEN = 7``, reversed since ``INVERT = True``) one-hot over the 12 characters ``'0123456789+ '``, answers
``"596 "`` (``DIGITS + 1 = 4`` characters); 50,000 distinct questions (a+b and b+a counted once); an encoder
``JZS1(len(chars), 128)`` (the MUT1 recurrent unit of Jozefowicz et al. 2015, Keras' default ``RNN`` here), its last
state ``RepeatVector(4)``, a decoder ``JZS1(128, 128, return_sequences=True)``, ``Dense(128, 12)`` per step and a
softmax, ``categorical_crossentropy``, ``adam`` (lr 0.001), ``BATCH_SIZE = 128``, one epoch per "iteration".

The fault (train on the validation rows too): the script shuffles the questions and sets the last 10 % apart,

    # Explicitly set apart 10% for validation data that we never train over
    split_at = len(X) - len(X) / 10
    (X_train, X_val) = (slice_X(X, 0, split_at), slice_X(X, split_at))
    (y_train, y_val) = (y[:split_at], y[split_at:])
    ...
    model.fit(X, y, batch_size=BATCH_SIZE, nb_epoch=1, validation_data=(X_val, y_val), show_accuracy=True)

but fits on ``X, y`` -- all 50,000 questions, the 5,000 validation ones included -- so the validation loss and
accuracy printed every iteration (and the "☑/☒" samples drawn from ``X_val``) are measured on questions the model
has been trained on. Issue #782 ("error in addition_rnn example", wolet, 2015-10-04): "I think ... should be
``model.fit(X_train, y_train, ..., validation_data=(X_val, y_val), ...)`` because X already contains X_val, y_val";
fchollet: "Yes, you're right"; the author (Smerity): "Can't believe I screwed that up ... Fix pushed as part of
2bd4c295" ("Update all examples with new API", 2015-10-04), which fits on ``X_train, y_train``; he adds that with the
fix the two-digit setting "now takes ~100 epochs instead of ~55 to get 99% accuracy".

Source: github.com/keras-team/keras, examples/addition_rnn.py at 2bd4c295^ (= d5455154 "Touch-ups to addition RNN
example", fchollet, 2015-08-17), ``JZS1`` in keras/layers/recurrent.py at the same commit; issue #782; fix
2bd4c295d6cae124f2cffce0e7343dc2c18d7eee.
Program lines kept: ``CharacterTable`` (encode / decode), the question generator (``f``, ``seen`` with sorted keys,
space padding, inversion), the vectorisation, the shuffle of X and y in unison, ``split_at`` and the two slices,
the architecture (JZS1 encoder, RepeatVector(DIGITS + 1), one JZS1 decoder layer with return_sequences, a Dense
of 12 per step, softmax), categorical cross-entropy, Adam(lr=0.001), batches of 128, the buggy ``fit(X, y)`` and
fixed ``fit(X_train, y_train)`` data.
Ported: Python 2 to 3 (``xrange`` -> ``range``, ``len(X) / 10`` -> ``len(X) // 10``); ``sklearn.utils.shuffle``
replaced by a seeded numpy permutation (the same in-unison shuffle); ``JZS1`` (gone from Keras since 1.0 and never
in PyTorch) written out in both frameworks as the 2015 layer computes it:
``z = sigmoid(x W_z + b_z)``, ``r = sigmoid(x W_r + b_r + h U_r)``, ``hh = tanh(tanh(x P) + b_h + (r * h) U_h)``,
``h = hh * z + h * (1 - z)``, zero initial state, ``W`` Glorot-uniform, ``U`` orthogonal, zero biases, and the
projection ``P`` (a trainable parameter there too) initialised as in the layer: a sparse random +-1/sqrt(input_dim)
matrix in the encoder (12 -> 128), the identity in the decoder (128 -> 128); the old ``Dense(128, 12)`` on the 3-D
decoder output (Theano's ``dot`` over the last axis) -> ``Dense(12)`` / ``nn.Linear(128, 12)`` applied per step
(Glorot-uniform, zero bias, as 2015 Keras initialised Dense). The loss is Keras' categorical cross-entropy on the
softmax probabilities, mean over samples and the 4 answer positions (torch: the same formula, probabilities clipped
at 1e-7 as Keras clips them).
Data: the program builds its own data (no download); ``TRAINING_SIZE`` is cut from 50,000 to 10,000 questions
(split 9,000 / 1,000) to keep the module light; generator seeded (``np.random.seed(1337)``; the script has no seed).
``batch``/``batches`` are the first 128-row cuts of what ``fit`` gets (``X`` buggy, ``X_train`` fixed -- as X is
shuffled before the split, these are the same rows in both versions: the fault does not change what a training
batch looks like); ``inputs`` are 512 validation questions (the ``X_val`` rows the script predicts on);
``train_split`` is the data ``fit`` trains on and ``test_split`` ``X_val``.

Fault label: split_leakage (every validation question is in the training data; the reported validation metrics
measure memorised questions).
Fix (2bd4c295): ``model.fit(X_train, y_train, ..., validation_data=(X_val, y_val))``.

Measured (my own plain loops, /tmp/s39/h53b/measure.py, OMP_NUM_THREADS=1, the module's builds and data; one epoch
per iteration as the script (shuffled batches of 128); "val" = accuracy on ``X_val`` as the script reports it,
"fresh" = accuracy on 1,000 new questions that are in neither split (the generalisation the val number is meant
to estimate); char = per answer character, seq = whole answer right):
  overlap: buggy 1,000 / 1,000 validation rows are among the 10,000 training rows, fixed 0 / 1,000.
  torch (epochs 5 / 10 / 20 / 30):
    buggy train loss 1.572 / 1.371 / 0.950 / 0.612; val char 0.425 / 0.507 / 0.660 / 0.800;
          fresh char 0.393 / 0.471 / 0.604 / 0.720; val seq 0.007 / 0.022 / 0.140 / 0.413;
          fresh seq 0.007 / 0.011 / 0.057 / 0.241
    fixed train loss 1.587 / 1.418 / 1.015 / 0.693; val char 0.417 / 0.481 / 0.603 / 0.706;
          fresh char 0.395 / 0.458 / 0.589 / 0.686; val seq 0.011 / 0.015 / 0.071 / 0.251;
          fresh seq 0.003 / 0.011 / 0.056 / 0.198
  keras (model.fit, epochs 5 / 10 / 20 / 30):
    buggy train loss 1.575 / 1.367 / 0.945 / 0.602; val char 0.431 / 0.511 / 0.674 / 0.794;
          fresh char 0.405 / 0.482 / 0.611 / 0.690; val seq 0.008 / 0.027 / 0.156 / 0.415;
          fresh seq 0.007 / 0.014 / 0.056 / 0.198
    fixed train loss 1.589 / 1.418 / 1.003 / 0.654; val char 0.412 / 0.476 / 0.608 / 0.696;
          fresh char 0.387 / 0.461 / 0.589 / 0.686; val seq 0.010 / 0.012 / 0.079 / 0.229;
          fresh seq 0.006 / 0.015 / 0.054 / 0.186
  What the fault does: training itself is barely touched (the same shuffled rows, 11 % more of them: the loss
  curves above stay within 0.09 of each other), but the numbers the script prints as validation are inflated. After
  30 epochs the buggy run's validation whole-answer accuracy is 0.413 (torch) / 0.415 (keras) against 0.241 / 0.198
  on fresh questions -- 17 / 22 points of memorised validation questions -- while the fixed run's 0.251 / 0.229 is
  within 5 / 4 points of its fresh 0.198 / 0.186 (the fresh questions are drawn after removing the 10,000 seen ones,
  so they hold fewer small-operand sums and are a little harder). The gap grows with training (epoch 20: buggy
  val - fresh 0.083 / 0.100, fixed 0.015 / 0.025).
  About 16 ms a torch step, 32 - 35 ms a Keras ``fit`` step and 34 - 85 ms a Keras ``train_on_batch`` step (batch
  128) on one CPU thread of a shared, loaded machine (load average about 5 on 2 cores).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "split_leakage"
SOURCE = ("github:keras-team/keras issue #782 (examples/addition_rnn.py@2bd4c295^ = d5455154, "
          "'model.fit(X, y, ..., validation_data=(X_val, y_val))' with X_val sliced from X, JZS1 in "
          "keras/layers/recurrent.py; fix 2bd4c295d6cae124f2cffce0e7343dc2c18d7eee 'Update all examples with new API': "
          "model.fit(X_train, y_train, ...))")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("no_split_leakage", {}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("output_range", {"kind": "probabilities"}), ("gradients_flow", {})]

# Parameters for the model and dataset (addition_rnn.py)
TRAINING_SIZE = 10000  # the script: 50000
DIGITS = 3
INVERT = True
HIDDEN_SIZE = 128
BATCH_SIZE = 128
LAYERS = 1
MAXLEN = DIGITS + 1 + DIGITS
chars = '0123456789+ '
learning_rate = 0.001  # optimizer='adam' (Keras 0.x Adam default)
DATA_SEED = 1337
WEIGHT_SEED = 0
N_BATCHES = 6
N_INPUTS = 512
_CACHE: dict[str, Any] = {}


class CharacterTable(object):
    """
    Given a set of characters:
    + Encode them to a one hot integer representation
    + Decode the one hot integer representation to their character output
    + Decode a vector of probabilties to their character output
    """
    def __init__(self, chars: str, maxlen: int) -> None:
        self.chars = sorted(set(chars))
        self.char_indices = dict((c, i) for i, c in enumerate(self.chars))
        self.indices_char = dict((i, c) for i, c in enumerate(self.chars))
        self.maxlen = maxlen

    def encode(self, C: str, maxlen: int | None = None) -> np.ndarray:
        maxlen = maxlen if maxlen else self.maxlen
        X = np.zeros((maxlen, len(self.chars)))
        for i, c in enumerate(C):
            X[i, self.char_indices[c]] = 1
        return X

    def decode(self, X: np.ndarray, calc_argmax: bool = True) -> str:
        if calc_argmax:
            X = X.argmax(axis=-1)
        return ''.join(self.indices_char[x] for x in X)


ctable = CharacterTable(chars, MAXLEN)


def generate(n: int, rng: np.random.RandomState, seen: set) -> tuple[list[str], list[str]]:
    """The script's question loop (``np.random`` calls on ``rng``); ``seen`` is updated in place."""
    questions: list[str] = []
    expected: list[str] = []
    while len(questions) < n:
        f = lambda: int(''.join(rng.choice(list('0123456789'))  # noqa: E731
                                for i in range(rng.randint(1, DIGITS + 1))))
        a, b = f(), f()
        # Skip any addition questions we've already seen
        # Also skip any such that X+Y == Y+X (hence the sorting)
        key = tuple(sorted((a, b)))
        if key in seen:
            continue
        seen.add(key)
        # Pad the data with spaces such that it is always MAXLEN
        q = '{}+{}'.format(a, b)
        query = q + ' ' * (MAXLEN - len(q))
        ans = str(a + b)
        # Answers can be of maximum size DIGITS + 1
        ans += ' ' * (DIGITS + 1 - len(ans))
        if INVERT:
            query = query[::-1]
        questions.append(query)
        expected.append(ans)
    return questions, expected


def vectorize(questions: list[str], expected: list[str]) -> tuple[np.ndarray, np.ndarray]:
    X = np.zeros((len(questions), MAXLEN, len(chars)), dtype=bool)
    y = np.zeros((len(questions), DIGITS + 1, len(chars)), dtype=bool)
    for i, sentence in enumerate(questions):
        X[i] = ctable.encode(sentence, maxlen=MAXLEN)
    for i, sentence in enumerate(expected):
        y[i] = ctable.encode(sentence, maxlen=DIGITS + 1)
    return X, y


def _data() -> dict[str, np.ndarray]:
    """X, y shuffled in unison, the 90/10 split, and (for measurements) 1,000 fresh questions seen in neither."""
    if "X" in _CACHE:
        return _CACHE
    rng = np.random.RandomState(DATA_SEED)
    seen: set = set()
    questions, expected = generate(TRAINING_SIZE, rng, seen)
    X, y = vectorize(questions, expected)
    # Shuffle (X, y) in unison as the later parts of X will almost all be larger digits
    indices = rng.permutation(len(X))
    X, y = X[indices], y[indices]
    # Explicitly set apart 10% for validation data that we never train over
    split_at = len(X) - len(X) // 10
    (X_train, X_val) = (X[0:split_at], X[split_at:])
    (y_train, y_val) = (y[:split_at], y[split_at:])
    fq, fe = generate(1000, rng, seen)
    X_fresh, y_fresh = vectorize(fq, fe)
    _CACHE.update(X=X.astype("float32"), y=y.astype("float32"), X_train=X_train.astype("float32"),
                  y_train=y_train.astype("float32"), X_val=X_val.astype("float32"), y_val=y_val.astype("float32"),
                  X_fresh=X_fresh.astype("float32"), y_fresh=y_fresh.astype("float32"))
    return _CACHE


def fit_data(bug: bool) -> tuple[np.ndarray, np.ndarray]:
    """What ``model.fit`` trains on."""
    d = _data()
    if bug:  # d5455154: model.fit(X, y, ...)
        return d["X"], d["y"]
    return d["X_train"], d["y_train"]  # 2bd4c295: model.fit(X_train, y_train, ...)


def _init_weights(input_dim: int, output_dim: int, rng: np.random.RandomState) -> dict[str, np.ndarray]:
    """JZS1.build: W glorot_uniform, U orthogonal, zero biases, Pmat sparse random projection (identity if square)."""
    def glorot(shape: tuple[int, int]) -> np.ndarray:
        s = np.sqrt(6.0 / (shape[0] + shape[1]))
        return rng.uniform(-s, s, shape)

    def orthogonal(shape: tuple[int, int]) -> np.ndarray:
        a = rng.normal(0.0, 1.0, shape)
        u, _, v = np.linalg.svd(a, full_matrices=False)
        return u if u.shape == shape else v

    if input_dim == output_dim:
        P = np.identity(output_dim)
    else:
        P = rng.binomial(1, 0.5, size=(input_dim, output_dim)) * 2 - 1
        P = 1 / np.sqrt(input_dim) * P
    w = {"W_z": glorot((input_dim, output_dim)), "b_z": np.zeros(output_dim),
         "W_r": glorot((input_dim, output_dim)), "U_r": orthogonal((output_dim, output_dim)),
         "b_r": np.zeros(output_dim),
         "U_h": orthogonal((output_dim, output_dim)), "b_h": np.zeros(output_dim), "Pmat": P}
    return {k: v.astype("float32") for k, v in w.items()}


def _all_weights() -> dict[str, Any]:
    rng = np.random.RandomState(WEIGHT_SEED)
    enc = _init_weights(len(chars), HIDDEN_SIZE, rng)
    dec = _init_weights(HIDDEN_SIZE, HIDDEN_SIZE, rng)
    s = np.sqrt(6.0 / (HIDDEN_SIZE + len(chars)))
    dense_w = rng.uniform(-s, s, (HIDDEN_SIZE, len(chars))).astype("float32")
    return {"enc": enc, "dec": dec, "dense_w": dense_w, "dense_b": np.zeros(len(chars), "float32")}


def _torch(bug: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(WEIGHT_SEED)

    class JZS1(nn.Module):
        """MUT1 (Keras 0.1 ``recurrent.JZS1``), zero initial state."""

        def __init__(self, w: dict[str, np.ndarray], return_sequences: bool = False) -> None:
            super().__init__()
            for k, v in w.items():
                setattr(self, k, nn.Parameter(torch.from_numpy(v.copy())))
            self.return_sequences = return_sequences

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            x_z = X @ self.W_z + self.b_z
            x_r = X @ self.W_r + self.b_r
            x_h = torch.tanh(X @ self.Pmat) + self.b_h
            h = X.new_zeros(X.shape[0], self.U_r.shape[0])
            outputs = []
            for t in range(X.shape[1]):
                z = torch.sigmoid(x_z[:, t])
                r = torch.sigmoid(x_r[:, t] + h @ self.U_r)
                hh = torch.tanh(x_h[:, t] + (r * h) @ self.U_h)
                h = hh * z + h * (1 - z)
                outputs.append(h)
            if self.return_sequences:
                return torch.stack(outputs, 1)
            return outputs[-1]

    class AdditionRNN(nn.Module):
        def __init__(self, w: dict[str, Any]) -> None:
            super().__init__()
            # "Encode" the input sequence using an RNN, producing an output of HIDDEN_SIZE
            self.encoder = JZS1(w["enc"])
            # The decoder RNN could be multiple layers stacked or a single layer
            self.decoder = nn.ModuleList([JZS1(w["dec"], return_sequences=True) for _ in range(LAYERS)])
            # For each of step of the output sequence, decide which character should be chosen
            self.dense = nn.Linear(HIDDEN_SIZE, len(chars))
            with torch.no_grad():
                self.dense.weight.copy_(torch.from_numpy(w["dense_w"].T.copy()))
                self.dense.bias.copy_(torch.from_numpy(w["dense_b"]))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.encoder(x)
            # For the decoder's input, we repeat the encoded input for each time step
            h = h.unsqueeze(1).repeat(1, DIGITS + 1, 1)  # RepeatVector(DIGITS + 1)
            for layer in self.decoder:
                h = layer(h)
            return torch.softmax(self.dense(h), dim=-1)  # Activation('softmax')

    def categorical_crossentropy(probs: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return -(target * torch.log(probs.clamp(1e-7, 1 - 1e-7))).sum(-1).mean()

    model = AdditionRNN(_all_weights())
    x, y = fit_data(bug)
    d = _data()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    batches = [(xt[i:i + BATCH_SIZE], yt[i:i + BATCH_SIZE]) for i in range(0, N_BATCHES * BATCH_SIZE, BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches,
            "inputs": torch.from_numpy(d["X_val"][:N_INPUTS]),
            "loss_fn": categorical_crossentropy,
            "optimizer": lambda params: torch.optim.Adam(params, lr=learning_rate),
            "train_split": xt, "test_split": torch.from_numpy(d["X_val"])}


def _keras(bug: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(WEIGHT_SEED)

    class JZS1(layers.Layer):
        """MUT1 (Keras 0.1 ``recurrent.JZS1``), zero initial state."""

        def __init__(self, w: dict[str, np.ndarray], return_sequences: bool = False, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self._w0 = w
            self.return_sequences = return_sequences
            self.output_dim = w["U_r"].shape[0]

        def build(self, input_shape: Any) -> None:
            for k, v in self._w0.items():
                setattr(self, k, self.add_weight(shape=v.shape, name=k,
                                                 initializer=keras.initializers.Constant(v)))

        def call(self, X: Any) -> Any:
            x_z = ops.matmul(X, self.W_z) + self.b_z
            x_r = ops.matmul(X, self.W_r) + self.b_r
            x_h = ops.tanh(ops.matmul(X, self.Pmat)) + self.b_h
            h = ops.zeros((ops.shape(X)[0], self.output_dim), dtype=X.dtype)
            outputs = []
            for t in range(X.shape[1]):
                z = ops.sigmoid(x_z[:, t])
                r = ops.sigmoid(x_r[:, t] + ops.matmul(h, self.U_r))
                hh = ops.tanh(x_h[:, t] + ops.matmul(r * h, self.U_h))
                h = hh * z + h * (1 - z)
                outputs.append(h)
            if self.return_sequences:
                return ops.stack(outputs, axis=1)
            return outputs[-1]

    w = _all_weights()
    model = keras.Sequential([keras.Input((MAXLEN, len(chars)))])
    # "Encode" the input sequence using an RNN, producing an output of HIDDEN_SIZE
    model.add(JZS1(w["enc"]))
    # For the decoder's input, we repeat the encoded input for each time step
    model.add(layers.RepeatVector(DIGITS + 1))
    # The decoder RNN could be multiple layers stacked or a single layer
    for _ in range(LAYERS):
        model.add(JZS1(w["dec"], return_sequences=True))
    # For each of step of the output sequence, decide which character should be chosen
    model.add(layers.Dense(len(chars), kernel_initializer=keras.initializers.Constant(w["dense_w"]),
                           bias_initializer="zeros"))
    model.add(layers.Activation('softmax'))
    model.compile(loss='categorical_crossentropy', optimizer=keras.optimizers.Adam(learning_rate=learning_rate))
    x, y = fit_data(bug)
    d = _data()
    batches = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, N_BATCHES * BATCH_SIZE, BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": d["X_val"][:N_INPUTS],
            "train_split": x, "test_split": d["X_val"]}


buggy, fixed = versions(_torch, _keras, flag="bug")
