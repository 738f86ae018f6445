"""huggingface/pytorch-pretrained-BERT (now huggingface/transformers), ``pytorch_pretrained_bert/modeling_gpt2.py``
``GPT2LMHeadModel``: GPT-2 (token + position embeddings, ``n_layer`` pre-LayerNorm blocks of causal multi-head
self-attention with the ``bias`` lower-triangular mask written as ``w * b - 1e4 * (1 - b)`` and a GELU MLP 4 x wide,
dropout 0.1 after the embeddings, the attention weights and each residual branch, final ``ln_f``, an ``lm_head``
tied to ``wte``, weights N(0, 0.02), biases 0). ``forward(input_ids, ..., lm_labels)`` returns the language
modelling loss when ``lm_labels`` is given; PR #404's author fine-tuned it with ``loss = model(torch_batch,
lm_labels=torch_batch)``, the labels being the input ids.

The fault (targets not shifted): the loss was ``CrossEntropyLoss(ignore_index=-1)(lm_logits.view(-1,
lm_logits.size(-1)), lm_labels.view(-1))``, so the logits at position i are scored against token i itself. The causal
mask lets position i read token i, so the cheapest way down is to copy the input token (with the tied embedding the
untrained model already nearly does); the model is never asked to predict the next token and unlearns it. PR #404
("Fix Language Modeling Loss", Catalin Voss): "Minimizing the loss would previously destroy the language model within
a few steps ... they computed the cross-entropy without shifting the logits. Given the masking setup here, we want
the ith logits to act as predictors of the (i+1)st token label (not the ith)." Merged by Thomas Wolf; the same fix
went into ``GPT2DoubleHeadsModel`` and both OpenAI GPT heads (``modeling_openai.py``). (The repository's own
``examples/run_openai_gpt.py`` shifted its ``lm_labels`` by hand, and was changed after the fix by PR #562; the
program ported here is the one of the PR, labels = input ids.)

Source: github.com/huggingface/pytorch-pretrained-BERT (= huggingface/transformers) PR #404,
``pytorch_pretrained_bert/modeling_gpt2.py`` ``GPT2LMHeadModel.forward`` at 7797d21^ (blob c381b28), fix commits
7797d21 .. 01520d5, merge 94980b529fad34f55c5d34c94bae2814db6773a6: ``shift_logits = lm_logits[:, :-1].contiguous()``,
``shift_labels = lm_labels[:, 1:].contiguous()``, the same CrossEntropyLoss on the flattened shifted tensors.
Fault label: target_leakage (the output scored against token i reads token i through the causal attention).

Program lines kept: the GPT-2 block structure and init above (``Attention._attn`` with the ``-1e4`` mask and
``scale=True``, ``gelu`` in its tanh form, ``LayerNorm`` eps 1e-5, tied ``lm_head``), the buggy / fixed loss lines,
``lm_labels = input_ids``; the repository's fine-tuning optimiser of the time (``examples/run_openai_gpt.py``):
``OpenAIAdam`` lr 6.25e-5, b1 0.9, b2 0.999, eps 1e-8, weight decay 0.01 (decoupled, matrices only),
``max_grad_norm`` 1 (each parameter's gradient clipped on its own), train batch size 8.
Ported: sizes shrunk for CPU (GPT2Config: vocab 50257, n_ctx 1024, n_embd 768, n_layer 12, n_head 12 -> vocab 28,
context 32, width 64, 2 layers, 4 heads); no pretrained weights (``from_pretrained('gpt2')`` -> random init, the
program fine-tuned the released model); the model returns ``lm_logits`` (the ``lm_labels=None`` path) and the loss
lines sit in ``loss_fn(lm_logits, lm_labels)``; ``OpenAIAdam`` -> ``torch.optim.AdamW`` with the same decay groups and
a per-parameter ``clip_grad_norm_`` before each step (its ``warmup_linear`` schedule, warmup 0.002, left out: constant
lr). Keras twin: the same network written with Keras layers (Dense / Embedding / LayerNormalization / Dropout, the
same mask arithmetic and tied head via ``ops.matmul(h, ops.transpose(wte))``), compiled with
``SparseCategoricalCrossentropy(from_logits=True)`` on all positions (buggy) / on ``y_pred[:, :-1]`` vs
``y_true[:, 1:]`` (fixed), AdamW(6.25e-5, weight_decay 0.01, clipnorm 1.0: Keras clips each variable's gradient).
Data stand-in (no WebText / BPE): a character stream, 26 letters + space (ids 0..25, 27; 26 unused), of words from
``_data.markov_names`` (a sparse order-2 Markov chain, 4000 words) cut into rows of 32 tokens: 891 rows, 827 for
training, the last 64 held out as ``inputs``. ``batch``: the first 8 rows, ``batches``: 8 consecutive batches of 8;
``baseline_batch``: 64 training rows. x = y = the int64 token ids (the program's ``lm_labels = input_ids``).

Measured (my own plain loops, /tmp/s48/h70_a/measure.py on the module's builds, OMP_NUM_THREADS=1: 200 steps over
consecutive training batches of 8 with the module's loss and optimiser; Keras ``train_on_batch``; the 64 held-out rows
scored in inference mode every 50 steps; ln 28 = 3.33). Steps 0 / 50 / 100 / 199:
  torch buggy: train loss 2.905 / 2.309 / 2.051 / 1.709; held-out NEXT-token CE 3.349 / 3.390 / 3.423 / 3.482
    (rises), next-token accuracy 0.026 -> 0.023; same-position ("copy") accuracy 0.885 -> 1.000.
  torch fixed: train loss 3.339 / 3.174 / 3.063 / 3.039; next-token CE 3.343 / 3.166 / 3.068 / 2.937, next-token
    accuracy 0.026 -> 0.206; copy accuracy 0.860 -> 0.023.
  Keras buggy: train loss 2.951 / 2.422 / 2.131 / 1.743; next-token CE 3.333 -> 3.503, next-token accuracy 0.032 ->
    0.023, copy accuracy 0.479 -> 1.000.  Keras fixed: train loss 3.326 -> 3.041; next-token CE 3.327 -> 2.974,
    next-token accuracy 0.034 -> 0.195.
  So the buggy loss starts below ln V (the tied head already leans to echoing the input) and falls fast, far below
  the fixed one, while the model gets worse at the task: it learns to echo its input. (A scratch run of 300 steps:
  buggy next-token CE 3.35 -> 3.58, fixed 3.34 -> 2.86.)
  Time per step (batch 8 x 32 tokens, one thread, loaded machine): torch 8-28 ms, Keras 35-74 ms. Builds: torch
  1.0 s first / 0.0 s later; Keras 20.9 s first (TensorFlow import included) / 1.9 s later.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

# GPT2Config, shrunk (see the docstring)
VOCAB = 28
N_CTX = 32
N_EMBD = 64
N_LAYER = 2
N_HEAD = 4
PDROP = 0.1  # resid_pdrop, embd_pdrop, attn_pdrop
LN_EPS = 1e-5
INIT_RANGE = 0.02
# examples/run_openai_gpt.py
LEARNING_RATE = 6.25e-5
WEIGHT_DECAY = 0.01
MAX_GRAD_NORM = 1.0
BATCH_SIZE = 8
# port
N_WORDS = 4000
N_HELD = 64
N_BATCHES = 8
SEED = 0


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _rows() -> tuple[np.ndarray, np.ndarray]:
    from tests.real_programs._data import markov_names

    text = " ".join(markov_names(N_WORDS, 8, seed=SEED))
    ids = np.array([27 if ch == " " else ord(ch) - 97 for ch in text], dtype="int64")
    rows = ids[: (len(ids) // N_CTX) * N_CTX].reshape(-1, N_CTX)
    return rows[:-N_HELD], rows[-N_HELD:]


def _data() -> dict[str, Any]:
    train, held = _rows()
    batches = [(train[i:i + BATCH_SIZE], train[i:i + BATCH_SIZE])
               for i in range(0, N_BATCHES * BATCH_SIZE, BATCH_SIZE)]
    return {"batch": batches[0], "batches": batches, "inputs": held, "baseline_batch": (train[:64], train[:64])}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("bias", torch.tril(torch.ones(N_CTX, N_CTX)).view(1, 1, N_CTX, N_CTX))
            self.c_attn = nn.Linear(N_EMBD, 3 * N_EMBD)
            self.c_proj = nn.Linear(N_EMBD, N_EMBD)
            self.attn_dropout = nn.Dropout(PDROP)
            self.resid_dropout = nn.Dropout(PDROP)

        def forward(self, x):
            b_, t, _ = x.shape
            q, k, v = self.c_attn(x).split(N_EMBD, dim=2)
            q, k, v = (z.view(b_, t, N_HEAD, N_EMBD // N_HEAD).transpose(1, 2) for z in (q, k, v))
            w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(v.size(-1))  # scale=True
            b = self.bias[:, :, :t, :t]
            w = w * b - 1e4 * (1 - b)
            a = torch.matmul(self.attn_dropout(nn.functional.softmax(w, dim=-1)), v)
            return self.resid_dropout(self.c_proj(a.transpose(1, 2).reshape(b_, t, N_EMBD)))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln_1 = nn.LayerNorm(N_EMBD, eps=LN_EPS)
            self.attn = Attention()
            self.ln_2 = nn.LayerNorm(N_EMBD, eps=LN_EPS)
            self.c_fc = nn.Linear(N_EMBD, 4 * N_EMBD)
            self.mlp_proj = nn.Linear(4 * N_EMBD, N_EMBD)
            self.dropout = nn.Dropout(PDROP)

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            h = nn.functional.gelu(self.c_fc(self.ln_2(x)), approximate="tanh")
            return x + self.dropout(self.mlp_proj(h))

    class GPT2LMHeadModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(VOCAB, N_EMBD)
            self.wpe = nn.Embedding(N_CTX, N_EMBD)
            self.drop = nn.Dropout(PDROP)
            self.h = nn.ModuleList([Block() for _ in range(N_LAYER)])
            self.ln_f = nn.LayerNorm(N_EMBD, eps=LN_EPS)
            for m in self.modules():  # init_weights
                if isinstance(m, (nn.Linear, nn.Embedding)):
                    m.weight.data.normal_(mean=0.0, std=INIT_RANGE)
                if isinstance(m, nn.Linear):
                    m.bias.data.zero_()

        def forward(self, input_ids):
            position_ids = torch.arange(input_ids.size(-1), device=input_ids.device).unsqueeze(0).expand_as(input_ids)
            hidden_states = self.drop(self.wte(input_ids) + self.wpe(position_ids))
            for block in self.h:
                hidden_states = block(hidden_states)
            return torch.matmul(self.ln_f(hidden_states), self.wte.weight.t())  # GPT2LMHead, tied: lm_logits

    def loss_fn(lm_logits, lm_labels):
        loss_fct = nn.CrossEntropyLoss(ignore_index=-1)
        if fixed:  # PR #404
            shift_logits = lm_logits[:, :-1].contiguous()
            shift_labels = lm_labels[:, 1:].contiguous()
            return loss_fct(shift_logits.view(-1, shift_logits.size(-1)), shift_labels.view(-1))
        return loss_fct(lm_logits.reshape(-1, lm_logits.size(-1)), lm_labels.reshape(-1))

    class OpenAIAdamLike(torch.optim.AdamW):
        """OpenAIAdam without its schedule: each parameter's gradient clipped to norm 1, then (decoupled) AdamW."""

        def step(self, closure=None):
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        nn.utils.clip_grad_norm_(p, MAX_GRAD_NORM)
            return super().step(closure)

    def optimizer(params):
        params = list(params)
        return OpenAIAdamLike([{"params": [p for p in params if p.dim() > 1], "weight_decay": WEIGHT_DECAY},
                               {"params": [p for p in params if p.dim() <= 1], "weight_decay": 0.0}],
                              lr=LEARNING_RATE, betas=(0.9, 0.999), eps=1e-8)

    torch.manual_seed(SEED)
    model = GPT2LMHeadModel()
    d = _data()
    t = torch.from_numpy
    return {"model": model, "batch": (t(d["batch"][0]), t(d["batch"][1])),
            "batches": [(t(x), t(y)) for x, y in d["batches"]], "inputs": t(d["inputs"]),
            "baseline_batch": (t(d["baseline_batch"][0]), t(d["baseline_batch"][1])),
            "loss_fn": loss_fn, "optimizer": optimizer}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)
    init = keras.initializers.RandomNormal(mean=0.0, stddev=INIT_RANGE)

    def dense(n: int) -> Any:
        return layers.Dense(n, kernel_initializer=init, bias_initializer="zeros")

    class Block(layers.Layer):
        def __init__(self, **kw: Any) -> None:
            super().__init__(**kw)
            self.ln_1 = layers.LayerNormalization(epsilon=LN_EPS)
            self.c_attn = dense(3 * N_EMBD)
            self.c_proj = dense(N_EMBD)
            self.attn_dropout = layers.Dropout(PDROP)
            self.resid_dropout = layers.Dropout(PDROP)
            self.ln_2 = layers.LayerNormalization(epsilon=LN_EPS)
            self.c_fc = dense(4 * N_EMBD)
            self.mlp_proj = dense(N_EMBD)
            self.dropout = layers.Dropout(PDROP)

        def call(self, x, training=None):
            t = ops.shape(x)[1]
            q, k, v = ops.split(self.c_attn(self.ln_1(x)), 3, axis=-1)
            q, k, v = (ops.transpose(ops.reshape(z, (-1, t, N_HEAD, N_EMBD // N_HEAD)), (0, 2, 1, 3))
                       for z in (q, k, v))
            w = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / math.sqrt(N_EMBD // N_HEAD)
            b = ops.tril(ops.ones((t, t)))[None, None]
            w = w * b - 1e4 * (1 - b)
            a = ops.matmul(self.attn_dropout(ops.softmax(w, axis=-1), training=training), v)
            a = ops.reshape(ops.transpose(a, (0, 2, 1, 3)), (-1, t, N_EMBD))
            x = x + self.resid_dropout(self.c_proj(a), training=training)
            h = ops.gelu(self.c_fc(self.ln_2(x)), approximate=True)
            return x + self.dropout(self.mlp_proj(h), training=training)

    class GPT2LMHeadModel(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="GPT2LMHeadModel")
            self.wte = layers.Embedding(VOCAB, N_EMBD, embeddings_initializer=init)
            self.wpe = layers.Embedding(N_CTX, N_EMBD, embeddings_initializer=init)
            self.drop = layers.Dropout(PDROP)
            self.h = [Block(name=f"h{i}") for i in range(N_LAYER)]
            self.ln_f = layers.LayerNormalization(epsilon=LN_EPS)

        def call(self, input_ids, training=None):
            pos = ops.arange(ops.shape(input_ids)[1])[None]
            h = self.drop(self.wte(input_ids) + self.wpe(pos), training=training)
            for block in self.h:
                h = block(h, training=training)
            return ops.matmul(self.ln_f(h), ops.transpose(self.wte.embeddings))

    scce = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def lm_loss(y_true, y_pred):
        if fixed:  # PR #404
            return scce(y_true[:, 1:], y_pred[:, :-1])
        return scce(y_true, y_pred)

    model = GPT2LMHeadModel()
    d = _data()
    model(d["batch"][0][:1])  # build
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=LEARNING_RATE, weight_decay=WEIGHT_DECAY,
                                                   beta_1=0.9, beta_2=0.999, epsilon=1e-8, clipnorm=MAX_GRAD_NORM),
                  loss=lm_loss)
    return {"model": model, **d}


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    if framework == "torch":
        return _torch(fixed)
    if framework == "keras":
        return _keras(fixed)
    raise ValueError(framework)


LABEL = "target_leakage"
SOURCE = ("github:huggingface/pytorch-pretrained-BERT (now huggingface/transformers) PR #404 "
          "(pytorch_pretrained_bert/modeling_gpt2.py GPT2LMHeadModel.forward@7797d21^, fix 7797d21..01520d5, "
          "merge 94980b5)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [
    ("init_loss", {"num_classes": VOCAB}),
    ("loss_decreases", {}),
    ("overfit_one_batch", {}),
    ("input_independent_baseline", {}),
    ("gradients_flow", {}),
]


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
