"""shyamupa/snli-entailment: a Keras implementation of Rocktäschel et al.'s "Reasoning about Entailment with Neural
Attention" (arXiv 1509.06664) on SNLI. ``amodel.py`` reads premise / hypothesis / gold label triples (labels
neutral 0, entailment 1, contradiction 2, one-hot), pads the premise to ``xmaxlen = 20`` ('pre', with the ``unk`` id
0) and the hypothesis to 20 ('post'), and joins them with the ``delimiter`` id 1 into one sequence of N = 41 ids. The
(Keras 0.3 ``Graph``) model: ``Embedding(max_features, emb=100)`` -> ``Dropout(0.1)`` -> a forward and a
``go_backwards`` ``GRU(150, return_sequences=True)``, concatenated (k = 300) -> ``Dropout(0.1)``; ``h_n`` = the last
step, ``Y`` = the first L = 20 steps (the premise); ``M = tanh(RepeatVector(L)(Dense(k)(h_n)) +
TimeDistributedDense(k)(Y))``; attention ``alpha`` over the premise; ``r = Y^T alpha``; ``h* = tanh(Dense(k)(r) +
Dense(k)(h_n))``; ``Dense(3, softmax)``. The four k x k Dense layers carry ``W_regularizer=l2(0.01)``. Compiled with
``categorical_crossentropy`` and ``Adam(lr=0.001)``, ``fit`` with ``batch_size=32``.

The fault (a softmax over an axis of size one): the attention weights are made by
``TimeDistributedDense(1, activation='softmax')`` on M, shape (batch, L, 1). The softmax normalises over the last
axis, which holds a single unit, so every weight is exp(s) / exp(s) = 1 whatever the score: ``alpha`` is all ones,
``r`` is the plain sum of the premise states, and the model has no attention at all. Since the softmax of one unit
is a constant, no gradient reaches the score: the alpha layer's kernel and bias get exactly zero gradient and never
change, and the two layers that only feed the scores (``Wh_n`` and ``WY``, 2 x (k x k + k) parameters) get only their
l2 penalty's gradient, so training merely shrinks them towards zero. Reported in the Keras issue where the author
announced the model (keras-team/keras #2067, "Attention Model Available!"): ymcui, 2016-03-25: "``TimeDistributedDense``
layer will produce a 3D tensor shape of (batch_size,L,1), and when you apply the ``softmax`` activation, the output
maybe not correct. because in the last dimension there is only one unit, causing a constant output of 1. I think you
can try to use ``TimeDistributedDense`` with ``linear`` activation, then ``Flatten`` it (to get 2D tensor), and apply
``softmax`` afterwards." The author: "Good catch! I tried your modification and am noticing some improvements."

Source: github.com/shyamupa/snli-entailment ``amodel.py`` ``build_model`` at d4fe0a90f8d34cc2d72aa76291e98fbfe61bf158
("snli for git", the first commit; with ``reader.py`` ``load_data`` / ``get_vocab``); keras-team/keras issue #2067;
fixed in 43927fe ("migrate to keras 1.0.3", 2016-07-17), which rewrote the model in the functional API and made the
attention ``TimeDistributed(Dense(1, activation='linear'))`` -> ``Flatten()`` -> ``Dense(L, activation='softmax')``.
Fault label: no_gradient (the attention scores get no gradient: the score layer's parameters are never updated and
the layers that feed only the scores are only decayed by their l2 penalty; the attention itself is a constant sum).

Program lines kept: the Graph model of d4fe0a9 node for node (Embedding, Dropout(0.1), forward / go_backwards GRUs
concatenated, Dropout(0.1), ``get_H_n``, ``get_Y``, the four l2(0.01) Dense layers, RepeatVector, sum + tanh,
``get_R``'s batched dot, Reshape, the softmax head), ``categorical_crossentropy``, ``Adam(lr=0.001)``, batch 32, the
padding / delimiter layout and label ids. Fixed: only the alpha lines, as in 43927fe (linear score -> Flatten ->
``Dense(L, softmax)``); 43927fe's other changes (GRU -> LSTM, API migration) are left out.
Shrunk for CPU speed: emb 100 -> 32, GRU 150 -> 32 units (k = 64), max_features 35000 -> the stand-in's vocabulary
(402 ids); the lengths (20 + 1 + 20) are the program's.
Ported: Keras 0.3 ``Graph`` -> the functional API (``add_node(..., inputs=[...])``'s default concat / ``merge_mode=
'sum'`` -> Concatenate / Add; ``TimeDistributedDense`` -> ``TimeDistributed(Dense)``; ``K.T.batched_dot`` ->
``ops.matmul``; ``W_regularizer`` -> ``kernel_regularizer``). Torch twin: the same graph (``nn.GRU`` run on the
flipped sequence and left in that order for ``go_backwards``, Keras' uniform(+-0.05) embedding init, Glorot-uniform
kernels and zero biases for the Dense layers), buggy ``torch.softmax(score, dim=-1)`` on the (batch, L, 1) scores,
the loss = categorical cross-entropy of the softmax output (clipped at 1e-7 as Keras does) plus 0.01 x the squared
kernels of the four regularised layers (what Keras adds to the compiled loss), ``Adam(lr=0.001)``; the penalty is
added in a ``train_step`` that reads the model it is given (the lead's edit: the port had read the built model's
weights inside ``loss_fn``, which the checks refuse as a loss reaching the model around its outputs).
Data stand-in (no SNLI download): seeded synthetic entailment triples in the program's layout. Word ids 2..401 come in
antonym pairs (2j, 2j + 1); a premise is 6-14 distinct words; the hypothesis (3-6 words) is a subsequence of the
premise (entailment), the same with one word swapped for its antonym (contradiction), or with one word swapped for a
word absent from the premise (neutral); classes balanced. So the label depends on comparing hypothesis words with
premise words, what the attention is for. ``batches``: 8 batches of 32; ``inputs``: 256 held-out samples.

Measured (my own plain loops, /tmp/s48/h76_b/measure.py, measure2.py, alpha.py; OMP_NUM_THREADS=1):
  attention weights on 64 held-out samples at init: buggy all 1.0 (each row sums to 20 = L; Keras 0.99999994),
    torch and Keras; fixed 0.045..0.055, rows summing to 1.
  gradient norms on the module's batch (torch): cross-entropy only, buggy alpha kernel / bias 0.0 / 0.0, Wh_n 0.0,
    WY 0.0 (Wr 8.77); fixed alpha 0.0025 / 0.0018, Wh_n 0.0024, WY 0.0019. With the l2 terms, buggy Wh_n 0.158 and WY
    0.160 (= 0.02 x their norm), alpha still 0.0. Keras (GradientTape on the compiled loss + model.losses): the same
    zeros for the alpha kernel / bias and for the cross-entropy part of Wh_n / WY.
  30 epochs over the module's 8 batches (240 Adam steps): buggy alpha kernel unchanged (torch relative change 0.0;
    Keras 4e-4 and its bias 0 -> 0.005: ``train_on_batch``'s round-off gradients of the 0.99999994 softmax, which Adam
    normalises into steps), Wh_n / WY kernels only decayed, norm 7.9 -> 0.97; fixed alpha kernel moved 42 % (torch),
    46 % (Keras). But the fixed model's Wh_n / WY decay just the same (7.9 -> 0.97): their cross-entropy gradient is
    ~100x smaller than the l2 one, so with the program's l2(0.01) the repaired attention learns little either.
    Training loss torch buggy 3.72 -> 0.32, fixed 3.55 -> 0.155; Keras buggy 3.61 -> 0.18, fixed 3.56 -> 0.079; both
    reach train accuracy 1.0 and stay at chance on the 256 held-out samples (0.36-0.38).
  Larger loop (torch, 4096 fresh stand-in samples, 10 epochs, 1280 steps): buggy loss 2.45 -> 1.047, train acc 0.55,
    held-out 0.34; fixed 2.36 -> 0.971, 0.59, 0.35. With a 40-word vocabulary both stay at ln 3 (the fixed one
    predicts one class).
  So what reproduces is the fault itself: constant attention and zero gradient to the attention scorer (and none but
    the l2 one to the layers feeding it); on this stand-in it costs a little training loss (0.97 vs 1.05 above) and
    no held-out accuracy, since neither version generalises here. The issue thread's "some improvements" on SNLI is
    not measured.
  Time per step (batch 32, one thread): torch ~13 ms, Keras ``train_on_batch`` ~20-25 ms; the four builds with the
    imports ~8.5 s (torch and Keras), later builds well under a second.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "no_gradient"
SOURCE = ("github:shyamupa/snli-entailment amodel.py build_model \"TimeDistributedDense(1,activation='softmax')\" "
          "@d4fe0a90f8d34cc2d72aa76291e98fbfe61bf158; reported in keras-team/keras issue #2067; fix 43927fe "
          "(TimeDistributed(Dense(1, 'linear')) -> Flatten -> Dense(L, softmax))")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("gradients_flow", {}), ("overfit_one_batch", {}), ("loss_decreases", {}),
          ("output_range", {"kind": "probabilities"})]

# amodel.py get_params() (emb / lstm_units shrunk)
XMAXLEN = 20
YMAXLEN = 20
N = XMAXLEN + YMAXLEN + 1  # for delim
EMB = 32  # program: 100
UNITS = 32  # program: 150
K = 2 * UNITS
BATCH_SIZE = 32
LR = 0.001
L2 = 0.01
# stand-in
N_WORDS = 400  # word ids 2..401 (0 = unk / padding, 1 = delimiter)
MAX_FEATURES = N_WORDS + 2
N_TRAIN = 8 * BATCH_SIZE
N_INPUTS = 256
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

def _pair(r: np.random.Generator) -> tuple[list[int], list[int], int]:
    """One (premise, hypothesis, label) with labels as in reader.load_data: neutral 0, entailment 1, contradiction 2."""
    pairs = r.choice(N_WORDS // 2, size=int(r.integers(6, 15)), replace=False)
    words = [2 + 2 * int(q) + int(r.integers(0, 2)) for q in pairs]  # either member of each antonym pair
    keep = np.sort(r.choice(len(words), size=min(len(words), int(r.integers(3, 7))), replace=False))
    hyp = [words[i] for i in keep]
    label = int(r.integers(0, 3))
    j = int(r.integers(0, len(hyp)))
    if label == 2:  # contradiction: one word replaced by its antonym
        hyp[j] = hyp[j] ^ 1
    elif label == 0:  # neutral: one word replaced by one the premise does not hold (nor its antonym)
        w = int(r.integers(2, MAX_FEATURES))
        while (w - 2) // 2 in pairs:
            w = int(r.integers(2, MAX_FEATURES))
        hyp[j] = w
    return words, hyp, label


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    """concat_in_out(pad_sequences(X, 20, 'pre'), pad_sequences(Y, 20, 'post')) and to_categorical(Z, 3)."""
    r = np.random.default_rng(SEED)
    n = N_TRAIN + N_INPUTS
    x = np.zeros((n, N), dtype="int32")
    z = np.zeros(n, dtype="int64")
    for i in range(n):
        p, h, z[i] = _pair(r)
        x[i, XMAXLEN - len(p):XMAXLEN] = p  # padding='pre', value=vocab["unk"]
        x[i, XMAXLEN] = 1  # vocab["delimiter"]
        x[i, XMAXLEN + 1:XMAXLEN + 1 + len(h)] = h  # padding='post'
    return x, np.eye(3, dtype="float32")[z]


def _common() -> dict[str, Any]:
    x, y = _data()
    bs = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, N_TRAIN, BATCH_SIZE)]
    return {"batch": bs[0], "batches": bs, "inputs": x[N_TRAIN:]}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    def dense(n_in: int, n_out: int) -> nn.Linear:  # Keras Dense: glorot_uniform kernel, zero bias
        lin = nn.Linear(n_in, n_out)
        nn.init.xavier_uniform_(lin.weight)
        nn.init.zeros_(lin.bias)
        return lin

    class AttentionEntailment(nn.Module):  # amodel.py build_model (d4fe0a9)
        def __init__(self) -> None:
            super().__init__()
            self.emb = nn.Embedding(MAX_FEATURES, EMB)
            nn.init.uniform_(self.emb.weight, -0.05, 0.05)
            self.d_emb = nn.Dropout(0.1)
            self.forward_gru = nn.GRU(EMB, UNITS, batch_first=True)
            self.backward_gru = nn.GRU(EMB, UNITS, batch_first=True)
            self.dropout = nn.Dropout(0.1)
            self.Wh_n = dense(K, K)
            self.WY = dense(K, K)
            self.alpha = dense(K, 1)
            if fixed:  # 43927fe: Flatten -> Dense(L, activation='softmax')
                self.alpha_dense = dense(XMAXLEN, XMAXLEN)
            self.Wr = dense(K, K)
            self.Wh = dense(K, K)
            self.out = dense(K, 3)

        def forward(self, x):
            e = self.d_emb(self.emb(x.long()))
            fwd, _ = self.forward_gru(e)
            bwd, _ = self.backward_gru(e.flip(1))  # go_backwards=True: outputs in reversed order
            d = self.dropout(torch.cat([fwd, bwd], dim=-1))
            h_n = d[:, -1, :]  # get_H_n
            Y = d[:, :XMAXLEN, :]  # get_Y
            M = torch.tanh(self.Wh_n(h_n).unsqueeze(1).repeat(1, XMAXLEN, 1) + self.WY(Y))
            if fixed:
                alpha = torch.softmax(self.alpha_dense(self.alpha(M).flatten(1)), dim=-1).unsqueeze(-1)
            else:  # TimeDistributedDense(1, activation='softmax'): softmax over the one-unit axis
                alpha = torch.softmax(self.alpha(M), dim=-1)
            r = torch.bmm(Y.transpose(1, 2), alpha).reshape(-1, K)  # get_R, Reshape((k,))
            h_star = torch.tanh(self.Wr(r) + self.Wh(h_n))
            return torch.softmax(self.out(h_star), dim=-1)

    torch.manual_seed(SEED)
    model = AttentionEntailment()

    def loss_fn(probs, y):  # 'categorical_crossentropy' on the softmax output
        return -(y * torch.log(probs.clamp(1e-7, 1 - 1e-7))).sum(-1).mean()

    def train_step(model, optimizer, loss_fn, x, y):  # Keras' fit: the loss + the W_regularizer=l2(0.01) terms
        optimizer.zero_grad()
        penalty = L2 * sum((m.weight ** 2).sum() for m in (model.Wh_n, model.WY, model.Wr, model.Wh))
        loss = loss_fn(model(x), y) + penalty
        loss.backward()
        optimizer.step()
        return loss

    c = _common()
    t = torch.from_numpy
    bs = [(t(x), t(y)) for x, y in c["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(c["inputs"]), "loss_fn": loss_fn,
            "optimizer": torch.optim.Adam(model.parameters(), lr=LR), "train_step": train_step}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops
    from keras.regularizers import L2 as l2

    keras.utils.set_random_seed(SEED)
    inp = keras.Input((N,), dtype="int32", name="input")
    emb = layers.Embedding(MAX_FEATURES, EMB, name="emb")(inp)
    d_emb = layers.Dropout(0.1, name="d_emb")(emb)
    forward = layers.GRU(UNITS, return_sequences=True, name="forward")(d_emb)
    backward = layers.GRU(UNITS, return_sequences=True, go_backwards=True, name="backward")(d_emb)
    dropout = layers.Dropout(0.1, name="dropout")(layers.Concatenate()([forward, backward]))
    h_n = layers.Lambda(lambda X: X[:, -1, :], output_shape=(K,), name="h_n")(dropout)  # get_H_n
    Y = layers.Lambda(lambda X: X[:, :XMAXLEN, :], output_shape=(XMAXLEN, K), name="Y")(dropout)  # get_Y
    Wh_n = layers.Dense(K, kernel_regularizer=l2(L2), name="Wh_n")(h_n)
    Wh_n_cross_e = layers.RepeatVector(XMAXLEN, name="Wh_n_cross_e")(Wh_n)
    WY = layers.TimeDistributed(layers.Dense(K, kernel_regularizer=l2(L2)), name="WY")(Y)
    M = layers.Activation("tanh", name="M")(layers.Add()([Wh_n_cross_e, WY]))
    if fixed:  # 43927fe
        alpha_ = layers.TimeDistributed(layers.Dense(1, activation="linear"), name="alpha_")(M)
        flat_alpha = layers.Flatten(name="flat_alpha")(alpha_)
        alpha = layers.Dense(XMAXLEN, activation="softmax", name="alpha")(flat_alpha)
        alpha = layers.Reshape((XMAXLEN, 1))(alpha)
    else:
        alpha = layers.TimeDistributed(layers.Dense(1, activation="softmax"), name="alpha")(M)
    _r = layers.Lambda(lambda X: ops.matmul(ops.transpose(X[0], (0, 2, 1)), X[1]), output_shape=(K, 1),
                       name="_r")([Y, alpha])  # get_R: batched_dot(Y^T, alpha)
    r = layers.Reshape((K,), name="r")(_r)
    Wr = layers.Dense(K, kernel_regularizer=l2(L2), name="Wr")(r)
    Wh = layers.Dense(K, kernel_regularizer=l2(L2), name="Wh")(h_n)
    h_star = layers.Activation("tanh", name="h_star")(layers.Add()([Wr, Wh]))
    out = layers.Dense(3, activation="softmax", name="out")(h_star)
    model = keras.Model(inp, out)
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(learning_rate=LR))
    return {"model": model, **_common()}


buggy, fixed = versions(_torch, _keras)
