"""IndicoDataSolutions/finetune (a scikit-learn-style library for fine-tuning OpenAI's GPT transformer on TensorFlow
1.x), ``finetune.Classifier`` with ``class_weights='log'``: the config's "auto-scales gradient updates based on class
frequency" option for imbalanced classification. ``compute_class_weights`` (finetune/imbalance.py) counts the
training labels and gives each class the weight ``np.log(max_count / count)``; ``class_weight_tensor`` puts the
weights in label-encoder order and ``network_modules._apply_class_weight`` multiplies every sample's softmax
cross-entropy by the weight of its true class (``losses *= reduce_sum(class_weights * targets, 1)``), then the model
takes ``reduce_mean`` of the weighted losses. The classifier is the GPT featurizer (token + learned position
embeddings from one table, 12 post-LayerNorm causal blocks, gelu MLP, hidden state read at the ``_classify_`` token
at the end of the sequence), then ``dropout(clf_p_drop=0.1)`` and a linear ``perceptron`` (N(0, 0.02) weights, zero
bias), trained with AdamW (lr 6.25e-5, b1 0.9, b2 0.999, eps 1e-8, weight decay l2_reg * lr with l2_reg 0.01),
gradients clipped to global norm 1, warmup_linear schedule, batch_size 2.

The fault (class-weight / target weighting construction): for the most frequent class ``max_count / count`` is 1 and
``log(1) = 0``, so every sample of the majority class is multiplied by 0: it adds nothing to the loss and no
gradient, the model never learns to predict it (each minority-class sample pushes its logit down through the softmax,
nothing pushes it up) and the largest class is lost from the predictions. With two balanced classes every weight is
0 and the loss is identically zero. Issue IndicoDataSolutions/finetune #181 "class_weight of type log produces 0.0
weight on most frequent class" (Guillermogsjc: "This makes that training ignores the most frequent class", with the
reproduction ``y = np.random.choice([0, 1, 2], 1000, p=[0.3, 0.6, 0.1])``); the maintainer (madisonmay): "I've opted
to go for the adding 1 option in PR #183". Fix 29c7c3d99f86fc611ff997ac66854406d386e492 ("FIX: compute class
weights", merged as 9a62687d964a6ac79e95587aad3a8de824969bb4): ``np.log(ratio) + 1`` (the majority class gets 1.0,
the regression test asserts ``weights[1] == 1.0``).

Source: github.com/IndicoDataSolutions/finetune finetune/imbalance.py, network_modules.py (featurizer, classifier,
_apply_class_weight), transformer.py (block, attn, mlp, norm, embed), model.py (loss reduction, AdamW, clipping),
config.py (defaults) @6ee2f58ecc1f5428667ec584ac41a31b14213776 (= 29c7c3d^); fix 29c7c3d (PR #183, issue #181).
Fault label: other:majority_class_weight_zero (a data-derived class weight of exactly 0 for the largest class).

Program lines kept: ``compute_class_weights('log', Y)`` (buggy ``np.log(ratio)``, fixed ``np.log(ratio) + 1``) on the
training labels, the per-sample weight ``sum(class_weights * one_hot_targets)`` times the softmax cross-entropy on
the logits, ``reduce_mean`` over the batch; the classifier head (dropout 0.1 + linear, N(0, 0.02) / zero init);
the GPT block structure (fused qkv projection, scaled causal attention with -1e9 masking, attention / residual
dropout 0.1, ``norm(x + a)``, gelu MLP of width 4 * n_embed, ``norm(n + m)``, LayerNorm eps 1e-5), the shared
token / position embedding table (N(0, 0.02)) with ``embed_p_drop=0.1`` dropout on the table, pooling at the
``_classify_`` token, sequences ``_start_ tokens _classify_`` zero-padded to max_length, one-hot targets, AdamW(6.25e-5,
0.9, 0.999, 1e-8, decoupled weight decay 0.01 * lr), clipping to global norm 1, batch_size 2 (config default).
Ported / shrunk: TF1 estimator graph -> torch ``nn.Module`` / Keras 3 ``Model``; n_layer 12 -> 2, n_embed 768 -> 64,
n_heads 12 -> 4, max_length 512 -> 32, BPE vocabulary 40,478 -> 203 (200 words + 3 special tokens), so that a step
takes milliseconds on one CPU thread; no pretrained Base_model.jl (weights are drawn with the program's own
initialisers; the program fine-tunes from OpenAI's GPT). The warmup_linear schedule (0 at step 0, peak after 0.2 % of
the steps, linear decay to 0 at the end of n_epochs) is left out of ``optimizer`` (a constant 6.25e-5, the
schedule's value for most of a short run); the measurement loop below applies it. Decoupled weight decay: torch
``AdamW(weight_decay=0.01)`` / Keras ``AdamW(weight_decay=0.01)`` (both subtract lr * 0.01 * p, as finetune's
``weight_decay=l2_reg * lr``); clipping: torch ``train_step`` with ``clip_grad_norm_(.., 1)``, Keras
``global_clipnorm=1``. The fault is numpy preprocessing of the labels plus the weighted loss, so it exists in both
frameworks.
Data stand-in (no text corpus download): seeded synthetic documents of 8..24 words over a 200-word vocabulary, three
classes drawn with p = [0.3, 0.6, 0.1] (the issue's reproduction), each document mostly common words with 2..4
keywords of its class (10 keywords per class; other classes' keywords appear as noise); 1,000 training and 300
held-out documents. ``batches``: the first 8 shuffled training batches of 2 (batch_size=2); ``inputs``: 256 held-out
documents; ``baseline_batch``: 64 training documents. Class weights are computed on the 1,000 training labels
(counts 277 / 627 / 96): buggy [0.817, 0.0, 1.877], fixed [1.817, 1.0, 2.877]. Labels of the 8 ``batches``:
[0, 1], [1, 1], [1, 0], [0, 2], [1, 2], [1, 1], [1, 0], [1, 1] (three of them all-majority: weighted loss exactly 0 in
the buggy version).

Measured (my own plain loops, /tmp/s46/h_a/measure.py, OMP_NUM_THREADS=1, the module's builds and data;
n_epochs=3 over the 1,000 training documents in shuffled batches of 2 = 1,500 steps with the warmup_linear schedule
and clipping; held-out 300 documents, true counts 95 / 181 / 24):
  program default lr 6.25e-5 (from scratch, so the shrunk GPT learns little beyond the class prior in 1,500 steps):
    torch buggy: mean weighted loss per epoch 0.376 / 0.422 / 0.446; predicts class 0 for all 300 (recall 1.0 / 0.0 /
      0.0), accuracy 0.317, unweighted CE 1.81 -> 2.35. fixed: 1.507 / 1.571 / 1.543; predicts the majority class 1
      for all 300, accuracy 0.603, unweighted CE 0.87 -> 0.85.
    Keras buggy: 0.369 / 0.430 / 0.452; all class 0, accuracy 0.317, unweighted CE 2.05 -> 2.56. fixed: 1.509 / 1.507
      / 1.342; accuracy 0.603 -> 0.693 (29 predicted class 0 by epoch 3, recall 0.28 / 1.0 / 0.0), CE 0.87 -> 0.71.
  the config's other grid value lr 6.25e-4 (GridSearchable [6.25e-4, 6.25e-5, 6.25e-6]), where the model does learn
  the keywords:
    torch buggy: weighted loss 0.420 / 0.030 / 0.007 (looks solved); held-out accuracy 0.367 / 0.380 / 0.383, the
      majority class is NEVER predicted (recall 0.99 / 0.0 / 0.88, predictions 218 / 0 / 82), unweighted CE 3.2 ->
      4.4. fixed: 1.458 / 1.140 / 0.335; accuracy 0.837 / 0.883 / 0.927, recall 0.89 / 0.96 / 0.83, CE 0.24.
    Keras buggy: 0.433 / 0.050 / 0.021; accuracy 0.367 / 0.373 / 0.373, recall 0.97 / 0.0 / 0.83. fixed: 1.429 /
      1.186 / 0.760; accuracy 0.857 / 0.883 / 0.897, recall 0.89 / 0.96 / 0.46.
  module objects, torch, constant lr 6.25e-5 with the module's ``train_step``: one batch ([0, 1]) repeated, loss at
    steps 1 / 50 / 200: buggy 0.517 / 0.308 / 0.080, fixed 1.815 / 1.212 / 0.329 (both fit it; the buggy one only
    fits the class-0 sample); cycling the 8 batches 200 steps, mean of the first / last 16: buggy 0.487 / 0.334, fixed
    1.625 / 1.295. Initial loss: buggy ~0.52 on batch 0 (mean weight 0.41 x ln 3 on the 1,000 labels), fixed ~1.8
    (the fixed weights average 1.41, so the fixed initial loss is also above ln 3 = 1.10).
  So the fault shows as a training loss that falls (even to ~0) while the largest class (60 % of the data) is never
  predicted and held-out accuracy stays at 0.32..0.38 against 0.60..0.93 fixed, in both frameworks.
  Time per step (batch 2, one thread, shared machine): torch ~10-15 ms, Keras ``train_on_batch`` ~15-20 ms; builds:
  torch 1.7 s first (imports), Keras 7 s first, later builds 0.0 s / 1.0 s.
"""

from __future__ import annotations

import functools
from collections import Counter
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:majority_class_weight_zero"
SOURCE = ("github:IndicoDataSolutions/finetune issue #181, PR #183 (finetune/imbalance.py compute_class_weights "
          "'computed_weights[class_name] = np.log(ratio)' @6ee2f58ecc1f5428667ec584ac41a31b14213776 = 29c7c3d^; "
          "network_modules.py _apply_class_weight / classifier / featurizer, transformer.py, model.py, config.py; "
          "fix 29c7c3d99f86fc611ff997ac66854406d386e492 'np.log(ratio) + 1')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {}),
          ("init_loss", {"num_classes": 3}), ("gradients_flow", {})]

# config.get_default_config()
BATCH_SIZE = 2
WEIGHT_STDDEV = 0.02
EMBED_P_DROP = 0.1
ATTN_P_DROP = 0.1
RESID_P_DROP = 0.1
CLF_P_DROP = 0.1
L2_REG = 0.01
B1, B2, EPSILON = 0.9, 0.999, 1e-8
LR = 6.25e-5
LR_WARMUP = 0.002
MAX_GRAD_NORM = 1.0
N_EPOCHS = 3
# port: shrunk GPT (program: n_layer 12, n_embed 768, n_heads 12, max_length 512, BPE vocab 40478)
N_LAYER = 2
N_EMBED = 64
N_HEADS = 4
MAX_LENGTH = 32
N_WORDS = 200
START, DELIMITER, CLASSIFY = N_WORDS, N_WORDS + 1, N_WORDS + 2  # encoder['_start_'], ['_delimiter_'], ['_classify_']
VOCAB_SIZE = N_WORDS + 3
# data stand-in
CLASS_P = (0.3, 0.6, 0.1)  # issue #181: np.random.choice(a=[0, 1, 2], size=1000, p=[0.3, 0.6, 0.1])
NUM_CLASSES = 3
N_KEYWORDS = 10
N_TRAIN = 1000
N_TEST = 300
N_BATCHES = 8
N_INPUTS = 256
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _dataset() -> tuple[np.ndarray, np.ndarray]:
    """Token ids (n, MAX_LENGTH) int64 as the input pipeline builds them (``_start_`` words ``_classify_``, zero
    padded) and integer labels (n,); the last N_TEST held out."""
    r = np.random.default_rng(SEED)
    n = N_TRAIN + N_TEST
    y = r.choice(NUM_CLASSES, size=n, p=CLASS_P)
    keywords = r.permutation(N_WORDS)[:NUM_CLASSES * N_KEYWORDS].reshape(NUM_CLASSES, N_KEYWORDS)
    x = np.zeros((n, MAX_LENGTH), dtype=np.int64)
    for i in range(n):
        length = int(r.integers(8, 25))
        words = r.integers(0, N_WORDS, size=length)  # common words (other classes' keywords included, as noise)
        n_kw = int(r.integers(2, 5))
        pos = r.choice(length, size=n_kw, replace=False)
        words[pos] = r.choice(keywords[y[i]], size=n_kw)
        seq = [START, *words.tolist(), CLASSIFY]
        x[i, :len(seq)] = seq
    return x, y.astype(np.int64)


def compute_class_weights(class_weights: str, Y: Any, fixed: bool) -> dict[int, float]:
    """finetune/imbalance.py compute_class_weights (the 'log' option)."""
    if isinstance(Y, np.ndarray):
        Y = Y.tolist()
    counts = Counter(Y)
    max_count = max(counts.values())
    computed_weights = {}
    for class_name, count in counts.items():
        ratio = max_count / count
        if class_weights == 'linear':
            computed_weights[class_name] = ratio
        elif class_weights == 'sqrt':
            computed_weights[class_name] = np.sqrt(ratio)
        elif class_weights == 'log':
            if fixed:  # fix 29c7c3d
                computed_weights[class_name] = np.log(ratio) + 1
            else:
                computed_weights[class_name] = np.log(ratio)
    return computed_weights


def class_weight_array(fixed: bool) -> np.ndarray:
    """class_weight_tensor: the weights in label-encoder order (sorted class names), ones for unseen classes."""
    _, y = _dataset()
    weights = compute_class_weights('log', y[:N_TRAIN], fixed)
    arr = np.ones(NUM_CLASSES, dtype=np.float32)
    for class_name, w in weights.items():
        arr[class_name] = w
    return arr


def _common() -> dict[str, Any]:
    x, y = _dataset()
    onehot = np.eye(NUM_CLASSES, dtype=np.float32)[y]  # OneHotLabelEncoder
    order = np.random.default_rng(SEED + 1).permutation(N_TRAIN)  # shuffled training input
    batches = [(x[order[i:i + BATCH_SIZE]], onehot[order[i:i + BATCH_SIZE]])
               for i in range(0, N_BATCHES * BATCH_SIZE, BATCH_SIZE)]
    base = order[N_BATCHES * BATCH_SIZE:N_BATCHES * BATCH_SIZE + 64]
    return {"batches": batches, "baseline_batch": (x[base], onehot[base]), "inputs": x[N_TRAIN:N_TRAIN + N_INPUTS]}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import math

    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(SEED)

    def gelu(x):
        return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * torch.pow(x, 3))))

    class Conv1D(nn.Module):  # transformer.conv1d with rf=1: x @ w + b, w ~ N(0, 0.02), b = 0
        def __init__(self, nx: int, nf: int) -> None:
            super().__init__()
            self.w = nn.Parameter(torch.randn(nx, nf) * WEIGHT_STDDEV)
            self.b = nn.Parameter(torch.zeros(nf))

        def forward(self, x):
            return x @ self.w + self.b

    class Norm(nn.Module):  # transformer.norm, e=1e-5
        def __init__(self, n: int) -> None:
            super().__init__()
            self.g = nn.Parameter(torch.ones(n))
            self.b = nn.Parameter(torch.zeros(n))

        def forward(self, x):
            u = x.mean(-1, keepdim=True)
            s = ((x - u) ** 2).mean(-1, keepdim=True)
            return (x - u) * torch.rsqrt(s + 1e-5) * self.g + self.b

    class Block(nn.Module):  # transformer.block(scale=True)
        def __init__(self) -> None:
            super().__init__()
            self.c_attn, self.a_proj = Conv1D(N_EMBED, 3 * N_EMBED), Conv1D(N_EMBED, N_EMBED)
            self.ln_1, self.ln_2 = Norm(N_EMBED), Norm(N_EMBED)
            self.c_fc, self.m_proj = Conv1D(N_EMBED, 4 * N_EMBED), Conv1D(4 * N_EMBED, N_EMBED)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.c_attn(x).split(N_EMBED, dim=2)
            q, k, v = (z.reshape(b, t, N_HEADS, N_EMBED // N_HEADS).transpose(1, 2) for z in (q, k, v))
            w = q @ k.transpose(2, 3) * (N_EMBED // N_HEADS) ** -0.5
            band = torch.tril(torch.ones(t, t))
            w = torch.softmax(w * band + -1e9 * (1 - band), dim=-1)  # mask_attn_weights
            w = F.dropout(w, ATTN_P_DROP, self.training)
            a = (w @ v).transpose(1, 2).reshape(b, t, N_EMBED)
            a = F.dropout(self.a_proj(a), RESID_P_DROP, self.training)
            n = self.ln_1(x + a)
            m = F.dropout(self.m_proj(gelu(self.c_fc(n))), RESID_P_DROP, self.training)
            return self.ln_2(n + m)

    class Classifier(nn.Module):  # featurizer + classifier
        def __init__(self) -> None:
            super().__init__()
            self.we = nn.Parameter(torch.randn(VOCAB_SIZE + MAX_LENGTH, N_EMBED) * WEIGHT_STDDEV)
            self.blocks = nn.ModuleList([Block() for _ in range(N_LAYER)])
            self.perceptron = Conv1D(N_EMBED, NUM_CLASSES)

        def forward(self, X):
            we = F.dropout(self.we, EMBED_P_DROP, self.training)
            pos = torch.arange(VOCAB_SIZE, VOCAB_SIZE + X.shape[1])
            h = we[X] + we[pos][None]  # embed: tokens and positions gathered from one table and summed
            for block in self.blocks:
                h = block(h)
            pool_idx = (X == CLASSIFY).float().argmax(1)
            clf_h = h[torch.arange(X.shape[0]), pool_idx]
            return self.perceptron(F.dropout(clf_h, CLF_P_DROP, self.training))

    model = Classifier()
    class_weights = torch.from_numpy(class_weight_array(fixed))

    def loss_fn(clf_logits, targets):
        """softmax_cross_entropy_with_logits_v2, _apply_class_weight, reduce_mean."""
        clf_losses = -(targets * torch.log_softmax(clf_logits, dim=1)).sum(1)
        weights = (class_weights * targets.float()).sum(1)
        return (clf_losses * weights).mean()

    def optimizer(params):
        return torch.optim.AdamW(params, lr=LR, betas=(B1, B2), eps=EPSILON, weight_decay=L2_REG)

    def train_step(model, optimizer, loss_fn, x, y):  # tf.contrib.layers.optimize_loss(clip_gradients=1)
        model.train()
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
        optimizer.step()
        return loss

    d = _common()
    t = torch.from_numpy
    bs = [(t(x), t(y)) for x, y in d["batches"]]
    bx, by = d["baseline_batch"]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(d["inputs"]),
            "baseline_batch": (t(bx), t(by)), "loss_fn": loss_fn, "optimizer": optimizer, "train_step": train_step}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import math

    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)
    init = keras.initializers.RandomNormal(stddev=WEIGHT_STDDEV)

    def gelu(x):
        return 0.5 * x * (1 + ops.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * ops.power(x, 3))))

    def conv1d(nf: int) -> Any:
        return layers.Dense(nf, kernel_initializer=init, bias_initializer="zeros")

    class Block(layers.Layer):  # transformer.block(scale=True)
        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            self.c_attn, self.a_proj = conv1d(3 * N_EMBED), conv1d(N_EMBED)
            self.ln_1 = layers.LayerNormalization(epsilon=1e-5)
            self.ln_2 = layers.LayerNormalization(epsilon=1e-5)
            self.c_fc, self.m_proj = conv1d(4 * N_EMBED), conv1d(N_EMBED)
            self.attn_drop, self.resid_drop1 = layers.Dropout(ATTN_P_DROP), layers.Dropout(RESID_P_DROP)
            self.resid_drop2 = layers.Dropout(RESID_P_DROP)

        def call(self, x, training=None):
            t = ops.shape(x)[1]
            c = self.c_attn(x)
            q, k, v = c[..., :N_EMBED], c[..., N_EMBED:2 * N_EMBED], c[..., 2 * N_EMBED:]

            def heads(z):
                return ops.transpose(ops.reshape(z, (-1, t, N_HEADS, N_EMBED // N_HEADS)), (0, 2, 1, 3))

            q, k, v = heads(q), heads(k), heads(v)
            w = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) * (N_EMBED // N_HEADS) ** -0.5
            band = ops.tril(ops.ones((t, t)))
            w = ops.softmax(w * band + -1e9 * (1 - band), axis=-1)  # mask_attn_weights
            w = self.attn_drop(w, training=training)
            a = ops.reshape(ops.transpose(ops.matmul(w, v), (0, 2, 1, 3)), (-1, t, N_EMBED))
            a = self.resid_drop1(self.a_proj(a), training=training)
            n = self.ln_1(x + a)
            m = self.resid_drop2(self.m_proj(gelu(self.c_fc(n))), training=training)
            return self.ln_2(n + m)

    class Featurizer(layers.Layer):
        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            self.we = self.add_weight(shape=(VOCAB_SIZE + MAX_LENGTH, N_EMBED), initializer=init, name="we")
            self.embed_drop = layers.Dropout(EMBED_P_DROP)
            self.blocks = [Block() for _ in range(N_LAYER)]

        def call(self, X, training=None):
            X = ops.cast(X, "int32")
            we = self.embed_drop(self.we, training=training)
            pos = ops.arange(VOCAB_SIZE, VOCAB_SIZE + ops.shape(X)[1])
            h = ops.take(we, X, axis=0) + ops.take(we, pos, axis=0)[None]
            for block in self.blocks:
                h = block(h, training=training)
            pool_idx = ops.argmax(ops.cast(ops.equal(X, CLASSIFY), "float32"), axis=1)
            return ops.take_along_axis(h, pool_idx[:, None, None], axis=1)[:, 0]

    inp = keras.Input((MAX_LENGTH,), dtype="int32")
    h = layers.Dropout(CLF_P_DROP)(Featurizer()(inp))
    model = keras.Model(inp, conv1d(NUM_CLASSES)(h), name="finetune_classifier")
    class_weights = ops.convert_to_tensor(class_weight_array(fixed))

    def weighted_ce(targets, clf_logits):
        """softmax_cross_entropy_with_logits_v2, _apply_class_weight, reduce_mean."""
        clf_losses = -ops.sum(targets * ops.log_softmax(clf_logits, axis=1), axis=1)
        weights = ops.sum(class_weights * ops.cast(targets, "float32"), axis=1)
        return ops.mean(clf_losses * weights)

    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=LR, weight_decay=L2_REG, beta_1=B1, beta_2=B2,
                                                   epsilon=EPSILON, global_clipnorm=MAX_GRAD_NORM),
                  loss=weighted_ce)
    d = _common()
    return {"model": model, "batch": d["batches"][0], "batches": d["batches"], "inputs": d["inputs"],
            "baseline_batch": d["baseline_batch"]}


buggy, fixed = versions(_torch, _keras)
