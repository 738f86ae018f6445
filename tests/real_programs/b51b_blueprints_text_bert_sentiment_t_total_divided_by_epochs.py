"""Blueprints for Text Analytics Using Python (Albrecht, Ramachandran, Winkler; O'Reilly), chapter 11 notebook
``ch11/Sentiment_Analysis.ipynb``, section "Transfer learning with BERT": fine-tunes ``BertForSequenceClassification
.from_pretrained('bert-base-uncased')`` (2 labels) on Amazon product reviews (``reviews_5_balanced.json.gz``, 40 %
sample) labelled ``df['sentiment'] = 0; df.loc[df['overall'] > 3, 'sentiment'] = 1; df.loc[df['overall'] < 3,
'sentiment'] = 0`` (so 3-star reviews are 0). ``get_tokens`` encodes each review with ``max_length=50`` and
``pad_to_max_length=True`` and builds ``attention_mask = [int(id > 0) for id in input_ids]``; 93,643 training
reviews, ``train_batch_size = 64`` (1,464 batches an epoch), ``num_train_epochs = 2``; ``AdamW(model.parameters(),
lr=1e-4, eps=1e-8)`` with ``get_linear_schedule_with_warmup(optimizer, num_warmup_steps=0,
num_training_steps=t_total)``; the loop does ``model.zero_grad()``, ``loss = outputs[0]`` (the model's
CrossEntropyLoss), ``loss.backward()``, ``clip_grad_norm_(model.parameters(), 1.0)``, ``optimizer.step()``,
``scheduler.step()`` every batch.

The fault (cell "Total optimization steps"):

    t_total = len(train_dataloader) // num_train_epochs      # buggy: 1464 // 2 = 732
    t_total = len(train_dataloader) * num_train_epochs       # fixed: 1464 * 2 = 2928

The linear schedule brings the rate to 0 at step ``t_total`` and clamps it there (``max(0.0, ...)``), so the rate
falls four times too fast, hits 0 half-way through the first epoch, and the remaining 2,196 of the 2,928 optimizer
steps (75 %) change nothing: AdamW with lr 0 leaves every weight as it is. The run looks normal (the loss is printed,
no error), it just stops learning early.

Source: github.com/blueprints-for-text-analytics-python/blueprints-text issue #7 ("num_training_steps problem",
2022-01-16: "shouldn't it be ``t_total = len(train_dataloader) * num_train_epochs``? when i use '//' on other
dataset, the loss just doesn't decrease like i want, when change into '*', it works pretty fine"; the author
sidhusmart: "Thanks for spotting this error and I've now made the necessary edits in the notebook"). Buggy notebook:
``ch11/Sentiment_Analysis.ipynb`` at 698be811d8deac4435e53e2642aaa1a6428e575c (= 6577a57^; the notebook last
changed in fc9615d8c897d4fff37412e2f51330d5cc10614b, its saved output "Total optimization steps =  732"). Fix:
6577a577bea1ff28619656ce05eeb597309b37fc "Correction - training steps" (then d0f91c00 and 8f03eb5f, output cleanup),
2022-01-26: ``t_total = len(train_dataloader) * num_train_epochs`` (saved output "Total num training steps =  2928").

Program lines kept: the settings (``max_seq_length`` 50, batch 64, 2 epochs, lr 1e-4, eps 1e-8, warmup 0) and the
program's ``len(train_dataloader) = 1464``; ``t_total`` as each version computes it; AdamW (``transformers.AdamW``,
weight_decay 0.0 by default, is ``torch.optim.AdamW(..., weight_decay=0.0)``) and the schedule
(``get_linear_schedule_with_warmup``'s LambdaLR multiplier, written out here so that ``transformers`` is not needed);
the loop body as ``train_step`` (zero_grad, forward, CrossEntropyLoss, backward, ``clip_grad_norm_(..., 1.0)``,
``optimizer.step()``, ``scheduler.step()``). The scheduler is created by the ``optimizer`` factory next to the AdamW it
drives (kept as ``optimizer.lr_schedule``), so every fresh optimizer starts a fresh schedule. ``model`` is
``BertForSequenceClassification`` written out (BertEmbeddings: word + position + token-type embeddings, LayerNorm eps
1e-12, dropout 0.1; post-LN encoder layers with masked softmax attention (additive -10000 mask from
``attention_mask``), GELU feed-forward, dropout 0.1; tanh pooler on [CLS]; dropout 0.1; linear classifier to 2
logits; BERT's normal(0, 0.02) initialisation with the [PAD] row zeroed); its ``forward(input_ids)`` computes the
program's ``attention_mask = (input_ids > 0)`` and returns the logits (``outputs[1]``); ``loss_fn`` is
``nn.CrossEntropyLoss()`` (what the model computes as ``outputs[0]`` from ``labels``).
Ported / shrunk, and why: no pretrained weights can be downloaded, so the model is trained from its initialisation,
not fine-tuned; bert-base-uncased (12 layers, hidden 768, 12 heads, intermediate 3072, vocabulary 30,522) is shrunk
below Google's BERT-Tiny shape to 2 layers, hidden 64, 2 heads, intermediate 256, vocabulary 8,192 (one step of
BERT-Tiny with the full vocabulary took ~300 ms on the loaded CPU; this one takes ~60 ms); max positions 512,
sequence length 50 and batch 64 are the program's. From scratch the model needs ~250 steps at lr 1e-4 before it
leaves the majority-class plateau, where the pretrained BERT would improve from the first steps.
Keras twin (the same mistake in Keras: the schedule's length computed as ``len(train_dataloader) // epochs``): the
same encoder as a functional Keras 3 model (``MultiHeadAttention(2, key_dim=32, dropout=0.1)`` with the
``input_ids > 0`` key mask, LayerNormalization eps 1e-12, GELU, tanh pooler on position 0, RandomNormal(0.02)
kernels), compiled with ``SparseCategoricalCrossentropy(from_logits=True)`` and ``AdamW(learning_rate=
PolynomialDecay(1e-4, decay_steps=t_total, end_learning_rate=0.0, power=1.0), epsilon=1e-8, weight_decay=0.0,
global_clipnorm=1.0)`` -- PolynomialDecay with power 1 and ``cycle=False`` is get_linear_schedule_with_warmup with 0
warmup steps, 0 after ``decay_steps``; ``global_clipnorm`` is ``clip_grad_norm_``.
Data stand-in (no Amazon review download, no tokenizer): reviews as ``get_tokens`` returns them, (n, 50) int64 ids
``[CLS]=101 ... [SEP]=102`` then ``[PAD]=0``, with the notebook's labels. Each review gets a star rating 1..5 (the
balanced file: equally often), a length of ~55 words (lognormal, 6..400; most are truncated at 48 word pieces, as
Amazon reviews are under max_length 50), Zipf-distributed neutral word ids (5,000 ids in 1996..8191) and about 12 %
opinion words from a positive or a negative lexicon (300 ids each, Zipf within each) whose positive share follows the
rating (12, 28, 50, 74, 88 % for 1..5 stars); 15 % of the opinion words come as "not" (2025) + a word of the
opposite polarity. Label 1 iff rating > 3 (40 % ones; the 3-star reviews are 0 although half their opinion words are
positive, as in the program). ``batches`` are 8 batches of 64 training reviews (seed 0), ``inputs`` 256 other
reviews (seed 1).
Fault label: lr_too_low (the schedule drives the rate to 0 after a quarter of the run; the rest of training updates
nothing). Fix (6577a57): ``t_total = len(train_dataloader) * num_train_epochs``.

Symptom, measured with my own plain loop (/tmp/h51b/measure_torch.py, measure_keras.py): the program's 93,643
training reviews (seed 10) in shuffled batches of 64 (``train_step`` as given here, train mode), 2,000 held-out
reviews (seed 11) evaluated in eval mode (predicting all 0 gives accuracy 0.607, loss 0.67); torch seed 0,
OMP_NUM_THREADS=1, 60-70 ms a step on the loaded two-core machine. Held-out loss / accuracy (lr):
  torch buggy: step 300 0.659 / 0.607 (5.9e-5); 500 0.583 / 0.697 (3.2e-5); 700 0.572 / 0.703 (4.4e-6); 732 0.572 /
        0.703 (0); 1,000 and 1,500 0.572 / 0.703 (0) -- the classifier weight changes by exactly 0 per step from step
        733 on and the training loss stays at ~0.58.
  torch fixed: step 300 0.614 / 0.668 (9.0e-5); 500 0.546 / 0.723; 732 0.508 / 0.754 (7.5e-5); 1,000 0.503 / 0.765;
        1,500 0.488 / 0.774 (4.9e-5), training loss 0.53 at 732 -> 0.49 at 1,500, still falling.
  One batch repeated 200 steps: buggy 0.694 -> 0.612 (step 100) -> 0.063, fixed 0.694 -> 0.567 -> 0.046 (the rate is
        still 73 % of its start in the buggy run, so short checks see a nearly healthy run).
  Keras (``train_on_batch`` on the same shuffled stream, ``keras.utils.set_random_seed(0)``, ~110 ms a step), 800
        steps: buggy step 500 0.620 / 0.631 (3.2e-5); 700 0.607 / 0.668; 732 0.606 / 0.669 (0); 800 0.606 / 0.669 (0),
        classifier change exactly 0 per step from step 733. Fixed: 500 0.565 / 0.731; 732 0.499 / 0.769 (7.5e-5); 800
        0.495 / 0.773.
  The fault shows late: for the first ~250 steps both versions sit on the majority-class plateau and are nearly
  identical; the difference is that the buggy run learns at a shrinking rate and then stops moving at step 732.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "lr_too_low"
SOURCE = ("github:blueprints-for-text-analytics-python/blueprints-text issue #7 (ch11/Sentiment_Analysis.ipynb "
          "'t_total = len(train_dataloader) // num_train_epochs' into get_linear_schedule_with_warmup("
          "num_training_steps=t_total) @698be811d8deac4435e53e2642aaa1a6428e575c (= 6577a57^, notebook last changed in "
          "fc9615d8c897d4fff37412e2f51330d5cc10614b); "
          "fix 6577a577bea1ff28619656ce05eeb597309b37fc 'Correction - training steps' (+ d0f91c00, 8f03eb5f): "
          "t_total = len(train_dataloader) * num_train_epochs)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("init_loss", {"num_classes": 2}), ("not_constant_predictions", {})]

# the notebook's settings
max_seq_length = 50          # X_train.apply(get_tokens, args=(tokenizer, 50))
train_batch_size = 64
num_train_epochs = 2
learning_rate = 1e-4
adam_epsilon = 1e-8
warmup_steps = 0
LEN_TRAIN_DATALOADER = 1464  # the notebook's output: 93,643 training reviews / 64 (ceil)
# bert-base-uncased (L=12, H=768, A=12, I=3072) shrunk to Google's BERT-Tiny shape, see the docstring
VOCAB, HIDDEN, LAYERS, HEADS, INTERMEDIATE, MAX_POS = 8192, 64, 2, 2, 256, 512
PAD, CLS, SEP = 0, 101, 102  # bert-base-uncased's [PAD], [CLS], [SEP]
N_BATCHES, N_INPUTS = 8, 256


def t_total_for(buggy_version: bool) -> int:
    if buggy_version:
        return LEN_TRAIN_DATALOADER // num_train_epochs  # the program's line: 732
    return LEN_TRAIN_DATALOADER * num_train_epochs  # the fix: 2928


def get_linear_schedule_with_warmup_lambda(num_warmup_steps: int, num_training_steps: int):
    """transformers.get_linear_schedule_with_warmup's multiplier (the LambdaLR it returns)."""

    def lr_lambda(current_step: int) -> float:
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - current_step) / float(max(1, num_training_steps - num_warmup_steps)))

    return lr_lambda


def reviews(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Amazon-review stand-in, as ``get_tokens`` gives them: (n, 50) int64 bert-base-uncased-range token ids
    ([CLS] text [SEP], truncated to 50, [PAD]=0 after) and the notebook's label (1 if overall > 3 else 0)."""
    rng = np.random.default_rng(seed)
    word_ids = np.arange(1996, VOCAB)  # whole-word pieces (bert-base-uncased's start at 1996)
    perm = np.random.default_rng(1234).permutation(word_ids[word_ids != 2025])  # lexicon independent of ``seed``
    neutral, positive, negative = perm[:5000], perm[5000:5300], perm[5300:5600]
    negator = 2025  # "not"

    def zipf(k: int) -> np.ndarray:
        w = 1.0 / np.arange(1, k + 1) ** 1.07
        return w / w.sum()

    p_neutral, p_opinion = zipf(len(neutral)), zipf(len(positive))
    p_positive = {1: 0.12, 2: 0.28, 3: 0.5, 4: 0.74, 5: 0.88}  # share of opinion words that are positive
    x = np.full((n, max_seq_length), PAD, dtype=np.int64)
    overall = rng.integers(1, 6, n)  # reviews_5_balanced: the five ratings equally often
    for i in range(n):
        n_words = int(np.clip(rng.lognormal(4.0, 0.6), 6, 400))  # ~55 words median
        words = rng.choice(neutral, n_words, p=p_neutral).tolist()
        n_opinion = max(1, rng.poisson(0.12 * n_words))
        slots = np.sort(rng.choice(n_words, min(n_opinion, n_words), replace=False))
        for s in slots[::-1]:
            pos = rng.random() < p_positive[int(overall[i])]
            if rng.random() < 0.15:  # "not good" is negative
                words[s] = int(rng.choice(negative if pos else positive, p=p_opinion))
                words.insert(s, negator)
            else:
                words[s] = int(rng.choice(positive if pos else negative, p=p_opinion))
        ids = [CLS] + words[: max_seq_length - 2] + [SEP]
        x[i, : len(ids)] = ids
    y = (overall > 3).astype(np.int64)  # df['sentiment'] = 0; df.loc[df['overall'] > 3, 'sentiment'] = 1
    return x, y


def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    x, y = reviews(N_BATCHES * train_batch_size, seed=0)
    batches = [(x[k * train_batch_size:(k + 1) * train_batch_size], y[k * train_batch_size:(k + 1) * train_batch_size])
               for k in range(N_BATCHES)]
    x_test, _ = reviews(N_INPUTS, seed=1)
    return batches, x_test


def torch_model():
    """BertForSequenceClassification(num_labels=2) at BERT-Tiny size, forward(input_ids) -> logits."""
    import math

    import torch
    import torch.nn as nn

    class BertEmbeddings(nn.Module):
        def __init__(self):
            super().__init__()
            self.word_embeddings = nn.Embedding(VOCAB, HIDDEN, padding_idx=PAD)
            self.position_embeddings = nn.Embedding(MAX_POS, HIDDEN)
            self.token_type_embeddings = nn.Embedding(2, HIDDEN)
            self.LayerNorm = nn.LayerNorm(HIDDEN, eps=1e-12)
            self.dropout = nn.Dropout(0.1)

        def forward(self, input_ids):
            positions = torch.arange(input_ids.shape[1], device=input_ids.device)[None]
            token_type_ids = torch.zeros_like(input_ids)
            emb = (self.word_embeddings(input_ids) + self.position_embeddings(positions)
                   + self.token_type_embeddings(token_type_ids))
            return self.dropout(self.LayerNorm(emb))

    class BertLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.head_size = HIDDEN // HEADS
            self.query, self.key, self.value = (nn.Linear(HIDDEN, HIDDEN) for _ in range(3))
            self.attn_dropout = nn.Dropout(0.1)
            self.attn_out = nn.Linear(HIDDEN, HIDDEN)
            self.attn_out_dropout = nn.Dropout(0.1)
            self.attn_LayerNorm = nn.LayerNorm(HIDDEN, eps=1e-12)
            self.intermediate = nn.Linear(HIDDEN, INTERMEDIATE)
            self.output = nn.Linear(INTERMEDIATE, HIDDEN)
            self.out_dropout = nn.Dropout(0.1)
            self.out_LayerNorm = nn.LayerNorm(HIDDEN, eps=1e-12)

        def split(self, t):
            b, s, _ = t.shape
            return t.view(b, s, HEADS, self.head_size).transpose(1, 2)

        def forward(self, hidden, extended_mask):
            q, k, v = self.split(self.query(hidden)), self.split(self.key(hidden)), self.split(self.value(hidden))
            scores = q @ k.transpose(-1, -2) / math.sqrt(self.head_size) + extended_mask
            probs = self.attn_dropout(torch.softmax(scores, dim=-1))
            ctx = (probs @ v).transpose(1, 2).reshape(hidden.shape)
            attn = self.attn_LayerNorm(self.attn_out_dropout(self.attn_out(ctx)) + hidden)
            inter = nn.functional.gelu(self.intermediate(attn))
            return self.out_LayerNorm(self.out_dropout(self.output(inter)) + attn)

    class BertForSequenceClassification(nn.Module):
        def __init__(self, num_labels=2):
            super().__init__()
            self.embeddings = BertEmbeddings()
            self.layers = nn.ModuleList(BertLayer() for _ in range(LAYERS))
            self.pooler = nn.Linear(HIDDEN, HIDDEN)
            self.dropout = nn.Dropout(0.1)
            self.classifier = nn.Linear(HIDDEN, num_labels)
            self.apply(self._init_weights)

        @staticmethod
        def _init_weights(module):  # BertPreTrainedModel._init_weights (initializer_range 0.02)
            if isinstance(module, nn.Linear):
                module.weight.data.normal_(mean=0.0, std=0.02)
                module.bias.data.zero_()
            elif isinstance(module, nn.Embedding):
                module.weight.data.normal_(mean=0.0, std=0.02)
                if module.padding_idx is not None:
                    module.weight.data[module.padding_idx].zero_()
            elif isinstance(module, nn.LayerNorm):
                module.bias.data.zero_()
                module.weight.data.fill_(1.0)

        def forward(self, input_ids):
            attention_mask = (input_ids > 0).long()  # get_tokens: attention_mask = [int(id > 0) for id in input_ids]
            extended_mask = (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
            hidden = self.embeddings(input_ids)
            for layer in self.layers:
                hidden = layer(hidden, extended_mask)
            pooled = torch.tanh(self.pooler(hidden[:, 0]))
            return self.classifier(self.dropout(pooled))  # outputs[1]; outputs[0] is CrossEntropyLoss of these

    return BertForSequenceClassification(num_labels=2)


def keras_model(t_total: int):
    import keras
    from keras import layers, ops

    init = keras.initializers.RandomNormal(stddev=0.02)

    def dense(units, **kw):
        return layers.Dense(units, kernel_initializer=init, **kw)

    class PadMaskedEmbedding(layers.Layer):  # word + position + token_type(0) embeddings
        def build(self, input_shape):
            self.word = self.add_weight(shape=(VOCAB, HIDDEN), initializer=init, name="word_embeddings")
            self.pos = self.add_weight(shape=(MAX_POS, HIDDEN), initializer=init, name="position_embeddings")
            self.tok = self.add_weight(shape=(2, HIDDEN), initializer=init, name="token_type_embeddings")

        def call(self, input_ids):
            seq = ops.shape(input_ids)[1]
            return ops.take(self.word, input_ids, axis=0) + self.pos[None, :seq] + self.tok[0][None, None]

    inp = keras.Input((max_seq_length,), dtype="int32")
    attention_mask = ops.greater(inp, 0)
    pair_mask = ops.logical_and(attention_mask[:, None, :], ops.ones_like(attention_mask)[:, :, None])
    h = PadMaskedEmbedding()(inp)
    h = layers.Dropout(0.1)(layers.LayerNormalization(epsilon=1e-12)(h))
    for _ in range(LAYERS):
        a = layers.MultiHeadAttention(HEADS, HIDDEN // HEADS, dropout=0.1, kernel_initializer=init)(
            h, h, attention_mask=pair_mask)
        h = layers.LayerNormalization(epsilon=1e-12)(layers.Dropout(0.1)(a) + h)
        f = dense(HIDDEN)(dense(INTERMEDIATE, activation=keras.activations.gelu)(h))
        h = layers.LayerNormalization(epsilon=1e-12)(layers.Dropout(0.1)(f) + h)
    pooled = dense(HIDDEN, activation="tanh")(h[:, 0])
    logits = dense(2)(layers.Dropout(0.1)(pooled))
    model = keras.Model(inp, logits)
    # get_linear_schedule_with_warmup(warmup 0, t_total) == linear decay to 0 at t_total, then 0
    schedule = keras.optimizers.schedules.PolynomialDecay(learning_rate, decay_steps=t_total, end_learning_rate=0.0,
                                                          power=1.0)
    optimizer = keras.optimizers.AdamW(learning_rate=schedule, epsilon=adam_epsilon, weight_decay=0.0,
                                       global_clipnorm=1.0)
    model.compile(optimizer=optimizer, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _build(framework: str, buggy_version: bool) -> dict[str, Any]:
    batches, inputs = _data()
    t_total = t_total_for(buggy_version)
    if framework == "keras":
        import keras

        keras.utils.set_random_seed(0)
        model = keras_model(t_total)
        kb = [(a.astype("int32"), b) for a, b in batches]
        return {"model": model, "batch": kb[0], "batches": kb, "inputs": inputs.astype("int32")}

    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    model = torch_model()
    model.train()

    def make_optimizer(params):
        optimizer = torch.optim.AdamW(params, lr=learning_rate, eps=adam_epsilon, weight_decay=0.0)
        optimizer.lr_schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, get_linear_schedule_with_warmup_lambda(warmup_steps, t_total))
        return optimizer

    def train_step(model, optimizer, loss_fn, x, y):  # the notebook's loop body
        model.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler = getattr(optimizer, "lr_schedule", None)
        if scheduler is not None:
            scheduler.step()
        return loss

    tb = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(inputs),
            "loss_fn": nn.CrossEntropyLoss(), "optimizer": make_optimizer, "train_step": train_step}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, buggy_version=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, buggy_version=False)
