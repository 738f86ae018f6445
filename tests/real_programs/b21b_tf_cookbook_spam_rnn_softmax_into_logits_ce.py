"""nfmcclure/tensorflow_cookbook (the code of the book "TensorFlow Machine Learning Cookbook"), Chapter 9
recipe "Implementing RNN for Spam Prediction" (``09_Recurrent_Neural_Networks/02_Implementing_RNN_for_Spam_
Prediction/02_implementing_rnn.py``): SMS Spam Collection texts cleaned and turned into word ids by
``VocabularyProcessor(max_sequence_length=25, min_frequency=10)`` (0 = padding / rare word, padded at the
end), labels ``1 if x == 'ham' else 0``; an embedding ``tf.random_uniform([vocab_size, 50], -1.0, 1.0)``,
``BasicRNNCell(num_units=10)`` run by ``tf.nn.dynamic_rnn``, ``tf.nn.dropout(output, 0.5)``, the output of
the last time step, then ``weight = truncated_normal([10, 2], stddev=0.1)``, ``bias = constant(0.1)`` and
``logits_out = tf.nn.softmax(tf.matmul(last, weight) + bias)``, trained with
``tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits_out, labels=y_output)`` and
``RMSPropOptimizer(0.0005)``, batches of 250, 20 epochs.
The fault: the "logits" handed to the softmax cross-entropy are already softmax probabilities, so the loss
applies a second softmax. With two classes the probabilities live in [0, 1], the second softmax can never
give the true class more than e / (1 + e) = 0.73, so the loss cannot fall below log(1 + 1/e) = 0.313, and
its gradient is squashed by the first softmax's Jacobian (at most 1/4), most strongly on exactly the
confident, correct samples.

Source: github.com/nfmcclure/tensorflow_cookbook, ``09_Recurrent_Neural_Networks/02_Implementing_RNN_for_
Spam_Prediction/02_implementing_rnn.py`` at 18db046^ (1bbb373), fixed by commit
18db046cb7b5b4e0cf26b1e79fcd6bf08bd19bbe "fixed loss functions" (``logits_out = tf.matmul(last, weight) +
bias``; the same fix in ``10_Taking_TensorFlow_to_Production/05_Production_Example/05_production_ex_
train.py``, which had copied the line).
Program lines kept: the hyper-parameters (max_sequence_length 25, rnn_size 10, embedding_size 50,
batch_size 250, learning_rate 0.0005, dropout keep 0.5 in training), the embedding and its uniform(-1, 1)
init, a tanh RNN cell of 10 units (TF1 ``BasicRNNCell``: glorot-uniform kernel over [input, state], zero
bias), dropout on the RNN outputs, the last time step, the output layer's init, the softmax (buggy), the
sparse softmax cross-entropy, RMSProp(0.0005).
Ported minimally: torch: ``nn.Embedding`` + ``nn.RNN(tanh, batch_first=True)`` with the TF1 init (the
glorot kernel split into ``weight_ih``/``weight_hh``, biases zero), ``nn.Dropout(0.5)``, ``nn.Linear`` with
truncated-normal(0.1) weights and bias 0.1, ``F.cross_entropy`` (= ``sparse_softmax_cross_entropy_with_
logits`` + ``reduce_mean``), ``torch.optim.RMSprop(lr=0.0005, alpha=0.9, eps=1e-10)`` (TF1's decay and
epsilon; TF1 also starts its mean-square accumulator at 1 where torch and Keras start at 0). Keras twin:
``Embedding`` (uniform(-1, 1)) -> ``SimpleRNN(10, return_sequences=True)`` -> ``Dropout(0.5)`` -> last step ->
``Dense(2)`` (truncated normal 0.1, bias 0.1) -> ``Activation("softmax")`` (buggy), with the program's own
``tf.nn.sparse_softmax_cross_entropy_with_logits`` as the compiled loss (Keras' built-in
``SparseCategoricalCrossentropy(from_logits=True)`` would strip a softmax layer's output back to its
logits, so it would not reproduce the program) and ``RMSprop(0.0005, rho=0.9, epsilon=1e-10)``.
Data stand-in (no download of smsspamcollection.zip): 1,500 seeded word-id sequences of 25 over a
vocabulary of 933 ids (the recipe reports a vocabulary of ~930 with min_frequency 10), 13.4 % spam as in the
SMS collection (747 of 5,574), labels ham = 1 / spam = 0; ham messages 3..20 words (mean ~11), spam 15..25
words, word ids Zipf-distributed with about 15 % rare words mapped to 0, and about a third of the words of a
spam message drawn from 60 "spam words"; zero-padded at the end as VocabularyProcessor does. 6 batches of 250.
Fault label: output_activation|loss_mismatch (softmax applied before a loss that applies softmax itself).
Fix (18db046): ``logits_out = tf.matmul(last, weight) + bias``.
Symptom in a short loop (plain loop cycling over the 6 batches, dropout on in training, loss and accuracy
on all 1,500 sequences with dropout off; majority-class accuracy 0.868): torch, 360 steps (the recipe's 20
epochs x 18 batches): buggy 0.648 -> 0.442, accuracy 0.873; fixed 0.607 -> 0.234, accuracy 0.921. 1,000
steps: buggy 0.379 (floor 0.313), accuracy 0.933; fixed 0.009, accuracy 0.999. Keras (train_on_batch, same
schedule): 360 steps buggy 0.577 -> 0.408, accuracy 0.911; fixed 0.483 -> 0.145, accuracy 0.949; 1,000 steps
buggy 0.362, fixed 0.016 (accuracy 0.952 vs 0.998). One batch, 300 steps: torch buggy 0.448 vs fixed 0.219,
Keras 0.419 vs 0.107. About 7 ms per torch step on one CPU thread.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:nfmcclure/tensorflow_cookbook 09_Recurrent_Neural_Networks/02_Implementing_RNN_for_Spam_"
          "Prediction/02_implementing_rnn.py@18db046^ (fix 18db046cb7b5b4e0cf26b1e79fcd6bf08bd19bbe)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("output_range", {"kind": "logits"}),
          ("not_constant_predictions", {})]

batch_size = 250
max_sequence_length = 25
rnn_size = 10
embedding_size = 50
learning_rate = 0.0005
dropout_keep_prob = 0.5
vocab_size = 933
n_batches = 6


def _sms_like(n: int = batch_size * n_batches, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    spam = rng.random(n) < 747 / 5574
    ranks = np.arange(1, vocab_size)
    zipf = 1.0 / ranks ** 1.1
    zipf /= zipf.sum()
    spam_words = rng.choice(np.arange(1, vocab_size), 60, replace=False)
    x = np.zeros((n, max_sequence_length), dtype="int64")
    for i in range(n):
        length = rng.integers(15, 26) if spam[i] else min(20, max(3, int(rng.gamma(4.0, 2.8))))
        words = rng.choice(np.arange(1, vocab_size), length, p=zipf)
        if spam[i]:
            pick = rng.random(length) < 0.33
            words[pick] = rng.choice(spam_words, pick.sum())
        words[rng.random(length) < 0.15] = 0  # rare words -> 0 (min_frequency=10)
        x[i, :length] = words  # VocabularyProcessor pads at the end
    y = np.where(spam, 0, 1).astype("int64")  # 1 if x == 'ham' else 0
    return x, y


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    x, y = _sms_like()
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    if framework == "torch":
        import torch
        import torch.nn.functional as F
        from torch import nn

        torch.manual_seed(0)

        class SpamRNN(nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.embedding_mat = nn.Embedding(vocab_size, embedding_size)
                nn.init.uniform_(self.embedding_mat.weight, -1.0, 1.0)
                self.cell = nn.RNN(embedding_size, rnn_size, nonlinearity="tanh", batch_first=True)
                kernel = torch.empty(embedding_size + rnn_size, rnn_size)
                nn.init.xavier_uniform_(kernel)  # TF1 BasicRNNCell kernel over [inputs, state]
                with torch.no_grad():
                    self.cell.weight_ih_l0.copy_(kernel[:embedding_size].T)
                    self.cell.weight_hh_l0.copy_(kernel[embedding_size:].T)
                    self.cell.bias_ih_l0.zero_()
                    self.cell.bias_hh_l0.zero_()
                self.dropout = nn.Dropout(1 - dropout_keep_prob)
                self.out = nn.Linear(rnn_size, 2)
                nn.init.trunc_normal_(self.out.weight, std=0.1, a=-0.2, b=0.2)
                nn.init.constant_(self.out.bias, 0.1)

            def forward(self, x_data):
                embedding_output = self.embedding_mat(x_data)
                output, state = self.cell(embedding_output)
                output = self.dropout(output)
                last = output[:, -1]
                logits_out = self.out(last)
                if not fixed:
                    logits_out = torch.softmax(logits_out, dim=1)  # buggy: tf.nn.softmax(...)
                return logits_out

        tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
        return {"model": SpamRNN(), "batch": tb[0], "batches": tb, "inputs": torch.tensor(x),
                "loss_fn": lambda logits, labels: F.cross_entropy(logits, labels),
                "optimizer": lambda p: torch.optim.RMSprop(p, lr=learning_rate, alpha=0.9, eps=1e-10)}

    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    inp = keras.Input(shape=(max_sequence_length,), dtype="int32")
    h = keras.layers.Embedding(vocab_size, embedding_size,
                               embeddings_initializer=keras.initializers.RandomUniform(-1.0, 1.0))(inp)
    h = keras.layers.SimpleRNN(rnn_size, return_sequences=True, recurrent_initializer="glorot_uniform")(h)
    h = keras.layers.Dropout(1 - dropout_keep_prob)(h)
    last = h[:, -1]
    logits_out = keras.layers.Dense(2, kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.1),
                                    bias_initializer=keras.initializers.Constant(0.1))(last)
    if not fixed:
        logits_out = keras.layers.Activation("softmax")(logits_out)
    model = keras.Model(inp, logits_out)

    def loss(y_output, logits):  # the program's loss line, as a Keras loss
        labels = tf.cast(tf.reshape(y_output, [-1]), tf.int32)
        return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(logits=logits, labels=labels))

    model.compile(loss=loss, optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate, rho=0.9,
                                                                epsilon=1e-10))
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
