"""Dive-into-DL-TensorFlow2.0 (TrickyGo), section 6.4 "RNN from scratch": a character-level RNN
language model (one-hot inputs over a 1027-character vocabulary, 256 tanh hidden units, a linear
output layer ``Y = H @ W_hq + b_q``) trained on the Jay Chou lyrics corpus with random sampling
(batch 32, 35 steps), SGD(lr=1e2) and global-norm gradient clipping at theta=1e-2. The loss was
``tf.reduce_mean(tf.losses.sparse_categorical_crossentropy(y, outputs))`` -- ``from_logits`` left at
its default ``False`` although ``outputs`` are raw logits. Keras then clips the logits into
``[1e-7, 1 - 1e-7]`` and takes their log as if they were probabilities: every negative logit becomes
the same constant (no gradient), the loss is not the model's cross-entropy, and training goes wrong
-- the issue's log shows the perplexity falling to ~27 by epoch 100 and then jumping to ~1020 (the
vocabulary size, i.e. chance) where it stays, with the generated text a single repeated character.

Source: github.com/TrickyGo/Dive-into-DL-TensorFlow2.0 issue #64 ("6.4 和 6.5 小结中，损失函数缺少一个参数，
导致训练结果不正确": the loss lacks ``from_logits=True``; maintainer archersama: "已修正" (fixed)),
fixed by commit 86eb8ba9c4418395e42da1f22eba223e592bb77e "Update 6.4_rnn-scratch.md" (adds
``from_logits=True``). Program: ``docs/chapter06_RNN/6.4_rnn-scratch.md`` at 86eb8ba^ (same code in
``code/chapter06_RNN/6.4_rnn-scratch.ipynb``): ``get_params`` (``tf.random.normal(stddev=0.01)``
weights, zero biases), ``rnn`` (``H = tanh(X W_xh + H W_hh + b_h)``, ``Y = H W_hq + b_q``),
``init_rnn_state`` (zeros, re-initialised before every minibatch with random sampling),
``grad_clipping`` (global L2 norm clipped to theta), ``train_and_predict_rnn`` and
``num_epochs, num_steps, batch_size, lr, clipping_theta = 250, 35, 32, 1e2, 1e-2``.
Ported minimally: the five ``tf.Variable`` parameters live in one Keras 3 layer whose ``call`` is the
program's ``rnn`` loop over the 35 one-hot time steps from a zero state; the model takes the index
batch ``X`` (batch, 35) and returns the logits (batch, 35, 1027) -- the program concatenates the
steps time-major and transposes ``Y`` to match, the mean loss is the same. ``grad_clipping`` +
``SGD(learning_rate=lr)`` is ``SGD(learning_rate=1e2, global_clipnorm=1e-2)`` (the same global-norm
rescaling). The loss is compiled as ``SparseCategoricalCrossentropy()`` (buggy: ``from_logits=False``,
the default the program used) and ``SparseCategoricalCrossentropy(from_logits=True)`` (fixed).
Data stand-in: ``d2l.load_data_jay_lyrics`` (first 10000 characters, vocab 1027) is replaced by a
seeded synthetic "lyrics" corpus of 10000 indices over the same 1027-symbol vocabulary: 150 lines of
4-10 Zipf-distributed characters, drawn with repeats and separated by a space symbol, so the next
character is predictable from the previous ones; ``d2l.data_iter_random`` (random non-overlapping
35-step windows, ``Y`` = ``X`` shifted by one) cuts the batches.
Fault label: loss_mismatch (a probability loss applied to logits). Fix (86eb8ba):
``from_logits=True``. Keras only: the bug is Keras's ``from_logits`` flag; PyTorch's cross-entropy
always takes logits.
Validation (own loop, ``train_on_batch`` over the 8 batches for 25 epochs = 200 steps, ~25 s on CPU):
buggy -- the compiled loss starts at 11.05 (uniform prediction: ln 1027 = 6.93) and the model's true
cross-entropy (from logits) only goes 6.93 -> ~6.4 (perplexity ~600, flat from epoch 5 on); fixed --
6.93 -> 4.20 (perplexity ~67) and still falling. The issue's later blow-up to perplexity ~1020 needs
the full 250 epochs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_mismatch"
SOURCE = ("github:TrickyGo/Dive-into-DL-TensorFlow2.0 issue #64 "
          "(docs/chapter06_RNN/6.4_rnn-scratch.md@86eb8ba^, fix 86eb8ba)")
FRAMEWORKS = ("keras",)
CHECKS = [
    ("init_loss", {"num_classes": 1027}),
    ("output_range", {"kind": "logits", "num_classes": 1027}),
    ("overfit_one_batch", {}),
    ("loss_decreases", {}),
    ("gradients_flow", {}),
]

vocab_size = 1027  # Jay Chou lyrics, first 10000 characters
num_hiddens = 256
num_epochs, num_steps, batch_size, lr, clipping_theta = 250, 35, 32, 1e2, 1e-2


def _corpus(n_chars: int = 10000, seed: int = 0) -> np.ndarray:
    """Synthetic stand-in for ``corpus_indices``: repeated 'lyric lines' of Zipf-distributed characters."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocab_size) ** 1.1
    p /= p.sum()
    lines = [1 + rng.choice(vocab_size - 1, rng.integers(4, 11), p=p) for _ in range(150)]
    out: list[int] = []
    while len(out) < n_chars:
        out.extend(lines[rng.integers(0, len(lines))].tolist())
        out.append(0)  # the space between lines
    return np.array(out[:n_chars], dtype="int64")


def _data_iter_random(corpus_indices: np.ndarray, n_batches: int, seed: int = 0):
    """``d2l.data_iter_random``: random non-overlapping windows; Y is X shifted by one."""
    num_examples = (len(corpus_indices) - 1) // num_steps
    example_indices = np.arange(num_examples)
    np.random.RandomState(seed).shuffle(example_indices)
    out = []
    for i in range(n_batches):
        idx = example_indices[i * batch_size:(i + 1) * batch_size]
        x = np.stack([corpus_indices[j * num_steps:j * num_steps + num_steps] for j in idx])
        y = np.stack([corpus_indices[j * num_steps + 1:j * num_steps + 1 + num_steps] for j in idx])
        out.append((x.astype("int32"), y.astype("int32")))
    return out


def _build(from_logits: bool) -> dict[str, Any]:
    import keras
    from keras import ops

    keras.utils.set_random_seed(0)

    class ScratchRNN(keras.layers.Layer):
        """The program's ``get_params`` + ``init_rnn_state`` + ``rnn``."""

        def build(self, input_shape):
            def _one(shape, name):
                return self.add_weight(shape=shape, name=name,
                                       initializer=keras.initializers.RandomNormal(mean=0.0, stddev=0.01))

            self.W_xh = _one((vocab_size, num_hiddens), "W_xh")
            self.W_hh = _one((num_hiddens, num_hiddens), "W_hh")
            self.b_h = self.add_weight(shape=(num_hiddens,), initializer="zeros", name="b_h")
            self.W_hq = _one((num_hiddens, vocab_size), "W_hq")
            self.b_q = self.add_weight(shape=(vocab_size,), initializer="zeros", name="b_q")

        def call(self, X):
            inputs = ops.one_hot(X, vocab_size)  # to_onehot
            H = ops.zeros((ops.shape(X)[0], num_hiddens))  # init_rnn_state (random sampling)
            outputs = []
            for t in range(num_steps):
                H = ops.tanh(ops.matmul(inputs[:, t], self.W_xh) + ops.matmul(H, self.W_hh) + self.b_h)
                Y = ops.matmul(H, self.W_hq) + self.b_q
                outputs.append(Y)
            return ops.stack(outputs, axis=1)

    inp = keras.Input((num_steps,), dtype="int32")
    model = keras.Model(inp, ScratchRNN()(inp))
    # grad_clipping(grads, clipping_theta) + SGD(learning_rate=lr)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr, global_clipnorm=clipping_theta),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    batches = _data_iter_random(_corpus(), 8)
    return {"model": model, "batch": batches[0], "batches": batches}


def buggy(framework: str) -> dict[str, Any]:
    assert framework == "keras"
    return _build(from_logits=False)


def fixed(framework: str) -> dict[str, Any]:
    assert framework == "keras"
    return _build(from_logits=True)
