"""Dive into Deep Learning (d2l-ai/d2l-en), section "Text Sentiment Classification: Using Convolutional
Neural Networks (textCNN)" (``chapter_natural-language-processing/sentiment-analysis-cnn.md``, MXNet
version of July 2019): IMDb reviews (``load_data_imdb(batch_size=64)``, 500 tokens each) classified by a
two-channel textCNN: a trainable ``embedding`` and a ``constant_embedding`` (100-d each, "The embedding
layer does not participate in training"), concatenated, three ``Conv1D`` (kernel widths 3, 4, 5, 100
channels each, ReLU), max-over-time pooling, ``Dropout(0.5)``, ``Dense(2)``; ``init.Xavier()``,
``SoftmaxCrossEntropyLoss``, Adam with lr 0.001. The text says both channels start from the 100-d GloVe
vectors, "the former participates in training while the latter has a fixed weight". The code instead
loads GloVe into ``embedding`` only and freezes *that* layer (``net.embedding.collect_params()
.setattr('grad_req', 'null')``): the channel meant to be fine-tuned is frozen, and the channel meant to be
a fixed copy of GloVe keeps its random Xavier weights and is trained.

Source: github.com/d2l-ai/d2l-en PR #400, commit 7b8c0857db4133218b4ade821943f93005e55545 "Fix textCNN
multichannel initialization" (Leonard Lausen, 2019-07-09). Program: ``sentiment-analysis-cnn.md`` at
7b8c0857^ (= e0d7fc45): ``class TextCNN``, ``embed_size, kernel_sizes, nums_channels = 100, [3, 4, 5],
[100, 100, 100]``, ``net.initialize(init.Xavier())``, the GloVe cell, ``lr, num_epochs = 0.001, 5``,
``gluon.Trainer(net.collect_params(), 'adam', {'learning_rate': lr})``, ``SoftmaxCrossEntropyLoss()``.
Ported minimally from Gluon: torch: ``nn.Embedding`` x 2, ``torch.cat(..., dim=2).permute(0, 2, 1)``,
``nn.Conv1d(200, c, k)`` + ReLU, ``AdaptiveMaxPool1d(1)`` (GlobalMaxPool1D), ``nn.Dropout(0.5)``,
``nn.Linear(300, 2)``; Xavier-uniform weights (MXNet's ``init.Xavier()`` default, embeddings included),
zero biases; ``grad_req = 'null'`` is ``weight.requires_grad_(False)``; ``nn.CrossEntropyLoss()``,
``Adam(net.parameters(), lr=0.001)``. Keras: the same graph with ``Embedding(..., embeddings_initializer=
'glorot_uniform')`` x 2, ``Concatenate``, ``Conv1D(c, k, activation='relu')``, ``GlobalMaxPooling1D``,
``Dropout(0.5)``, ``Dense(2)``, ``layer.trainable = False`` for the frozen layer, compiled with
``SparseCategoricalCrossentropy(from_logits=True)`` and ``Adam(0.001)``.
Data stand-in (no download of aclImdb or glove.6B.100d): a seeded 1,000-word vocabulary ('<unk>' = 0,
'<pad>' = 1, as d2l's Vocab with reserved_tokens=['<pad>']), 20 % of the words carrying a sentiment
(half positive, half negative); "GloVe" vectors N(0, 0.4) per component (the scale of glove.6B.100d) plus
+/- a shared sentiment direction for the sentiment words, zero vectors for '<unk>' and '<pad>' (as
``get_vecs_by_tokens`` gives for tokens GloVe lacks); reviews of 8-20 words (30 % of them sentiment words
of the review's label, 5 % of the other polarity, 5 % '<unk>'), padded with '<pad>' to ``num_steps`` = 20
(500 in the book; shortened so that a step stays under 50 ms on one thread), balanced labels. Four
batches of 64 (the program's batch size).
Fault label: frozen_params_changed|params_not_updated (the layer meant to stay fixed is trained, the
layer meant to be fine-tuned is frozen).
Fix (7b8c0857): ``net.constant_embedding.weight.set_data(embeds)`` and
``net.constant_embedding.collect_params().setattr('grad_req', 'null')``; ``embedding`` keeps the GloVe
vectors and is trained.
Symptom in a short loop (300 Adam steps over the four batches, one thread): torch: the buggy
``constant_embedding`` (meant to be fixed) moves by up to 0.074 while ``embedding`` (meant to be
fine-tuned) stays bit-identical; fixed: ``embedding`` moves by up to 0.086, ``constant_embedding`` stays
bit-identical. Keras: the same (buggy: constant_embedding moves by up to 0.063, embedding unchanged; fixed:
the reverse, 0.061). Training itself looks normal in both versions: the loss falls from 1.1-1.5 to below
0.001 and the accuracy on 512 fresh reviews is 95.7 % buggy vs 95.9 % fixed (Keras 95.5 % both), because
the frozen layer still carries the GloVe vectors. A step takes about 30-40 ms (torch) / 30 ms (Keras).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "frozen_params_changed|params_not_updated"
SOURCE = ("github:d2l-ai/d2l-en PR #400 (chapter_natural-language-processing/sentiment-analysis-cnn.md"
          "@e0d7fc45, fix 7b8c0857db4133218b4ade821943f93005e55545)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {})]

batch_size = 64  # program lines
embed_size, kernel_sizes, nums_channels = 100, [3, 4, 5], [100, 100, 100]
lr, num_epochs = 0.001, 5
VOCAB_SIZE = 1000
NUM_STEPS = 20  # load_data_imdb(num_steps=500) in the book
UNK, PAD = 0, 1


def _glove_and_polarity(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in for ``glove_embedding.get_vecs_by_tokens(vocab.idx_to_token)``: (VOCAB_SIZE, 100) float32."""
    rng = np.random.default_rng(seed)
    polarity = np.zeros(VOCAB_SIZE)
    words = rng.permutation(np.arange(2, VOCAB_SIZE))
    n_sent = VOCAB_SIZE // 10
    polarity[words[:n_sent]] = 1.0
    polarity[words[n_sent:2 * n_sent]] = -1.0
    direction = rng.normal(0, 0.4, embed_size)
    embeds = rng.normal(0, 0.4, (VOCAB_SIZE, embed_size)) + polarity[:, None] * direction
    embeds[[UNK, PAD]] = 0.0
    return embeds.astype("float32"), polarity


def reviews(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Token ids (n, NUM_STEPS) int64 padded with '<pad>' (``truncate_pad``), labels (n,) int64."""
    _, polarity = _glove_and_polarity()
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(polarity > 0), np.flatnonzero(polarity < 0)
    neutral = np.flatnonzero(polarity == 0)[2:]
    y = rng.permutation(np.arange(n) % 2)
    x = np.full((n, NUM_STEPS), PAD, dtype="int64")
    for i, label in enumerate(y):
        length = rng.integers(8, NUM_STEPS + 1)
        kind = rng.choice(4, length, p=[0.30, 0.05, 0.60, 0.05])  # own polarity, other, neutral, unk
        same, other = (pos, neg) if label == 1 else (neg, pos)
        toks = np.where(kind == 0, rng.choice(same, length),
                        np.where(kind == 1, rng.choice(other, length),
                                 np.where(kind == 2, rng.choice(neutral, length), UNK)))
        x[i, :length] = toks
    return x, y.astype("int64")


def _build(framework: str, freeze_constant: bool) -> dict[str, Any]:
    embeds, _ = _glove_and_polarity()
    x, y = reviews(4 * batch_size, seed=1)
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    if framework == "keras":
        import keras
        from keras import layers

        keras.utils.set_random_seed(0)
        inputs = keras.Input((NUM_STEPS,), dtype="int32")
        embedding = layers.Embedding(VOCAB_SIZE, embed_size, embeddings_initializer="glorot_uniform",
                                     name="embedding")
        constant_embedding = layers.Embedding(VOCAB_SIZE, embed_size, embeddings_initializer="glorot_uniform",
                                              name="constant_embedding")
        h = layers.Concatenate(axis=2)([embedding(inputs), constant_embedding(inputs)])
        encoding = layers.Concatenate(axis=1)([
            layers.GlobalMaxPooling1D()(layers.Conv1D(c, k, activation="relu")(h))
            for c, k in zip(nums_channels, kernel_sizes)])
        outputs = layers.Dense(2)(layers.Dropout(0.5)(encoding))
        net = keras.Model(inputs, outputs)
        embedding.set_weights([embeds])  # net.embedding.weight.set_data(embeds)
        if freeze_constant:  # the fix
            constant_embedding.set_weights([embeds])
            constant_embedding.trainable = False
        else:  # net.embedding.collect_params().setattr('grad_req', 'null')
            embedding.trainable = False
        net.compile(optimizer=keras.optimizers.Adam(lr),
                    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return {"model": net, "batch": batches[0], "batches": batches}

    import torch
    from torch import nn

    torch.manual_seed(0)

    class TextCNN(nn.Module):  # program lines, Gluon -> torch
        def __init__(self, vocab_size, embed_size, kernel_sizes, num_channels):
            super().__init__()
            self.embedding = nn.Embedding(vocab_size, embed_size)
            # The embedding layer does not participate in training
            self.constant_embedding = nn.Embedding(vocab_size, embed_size)
            self.dropout = nn.Dropout(0.5)
            self.decoder = nn.Linear(sum(num_channels), 2)
            # The max-over-time pooling layer has no weight, so it can share an instance
            self.pool = nn.AdaptiveMaxPool1d(1)
            self.relu = nn.ReLU()
            self.convs = nn.ModuleList()
            for c, k in zip(num_channels, kernel_sizes):
                self.convs.append(nn.Conv1d(2 * embed_size, c, k))

        def forward(self, inputs):
            embeddings = torch.cat((self.embedding(inputs), self.constant_embedding(inputs)), dim=2)
            embeddings = embeddings.permute(0, 2, 1)
            encoding = torch.cat([torch.squeeze(self.pool(self.relu(conv(embeddings))), dim=-1)
                                  for conv in self.convs], dim=1)
            return self.decoder(self.dropout(encoding))

    net = TextCNN(VOCAB_SIZE, embed_size, kernel_sizes, nums_channels)
    for name, p in net.named_parameters():  # net.initialize(init.Xavier())
        if name.endswith("weight"):
            nn.init.xavier_uniform_(p)
        else:
            nn.init.zeros_(p)
    with torch.no_grad():
        net.embedding.weight.copy_(torch.tensor(embeds))  # net.embedding.weight.set_data(embeds)
        if freeze_constant:  # the fix
            net.constant_embedding.weight.copy_(torch.tensor(embeds))
    if freeze_constant:
        net.constant_embedding.weight.requires_grad_(False)
    else:  # net.embedding.collect_params().setattr('grad_req', 'null')
        net.embedding.weight.requires_grad_(False)

    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": net, "batch": tb[0], "batches": tb, "loss_fn": nn.CrossEntropyLoss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, freeze_constant=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, freeze_constant=True)
