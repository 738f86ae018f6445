"""NTMC-Community/MatchZoo-py, ``tutorials/ranking/match_pyramid.ipynb``: MatchPyramid trained for answer selection on
WikiQA with the library's pairwise ``RankHingeLoss(num_neg=4, margin=0.1)``. The model
(``matchzoo/models/match_pyramid.py``): a trainable embedding initialised from L2-normalised 300-d GloVe
(``nn.Embedding.from_pretrained(..., freeze=False, padding_idx=0)``), a ``Matching(matching_type='dot')`` word-by-word
dot-product matrix with the padding rows/columns zeroed (``mask_value=0``), two conv blocks (``ConstantPad2d`` "same"
padding, ``Conv2d`` 1->16 and 16->32 with 3x3 kernels, ReLU), ``AdaptiveAvgPool2d([3, 10])``, ``Dropout(0.2)`` and one
linear output (the ranking score). Data: ``Dataset(mode='pair', num_dup=1, num_neg=4, batch_size=100, resample=True,
shuffle=True)`` -- every batch is 100 groups of 5 rows, the positive answer followed by 4 negatives sampled with
replacement from the question's other candidates; ``Trainer`` does zero_grad / backward / step with
``torch.optim.Adam(model.parameters())`` (lr 1e-3), no clipping, 5 epochs.

The fault is in ``matchzoo/losses/rank_hinge_loss.py`` (``RankHingeLoss.forward``): the scores of the 4 negatives are
averaged first and the hinge is taken on the averaged score,
    y_neg = torch.cat(y_neg, dim=-1)
    y_neg = torch.mean(y_neg, dim=-1, keepdim=True)
    return F.margin_ranking_loss(y_pos, y_neg, torch.ones_like(y_pos), margin=self.margin, ...)
i.e. max(0, margin - pos + mean_i neg_i) instead of mean_i max(0, margin - pos + neg_i). A group stops contributing as
soon as the positive beats the *average* negative by the margin, so a hard negative that outscores the positive costs
nothing while the other sampled negatives are easy: the loss is satisfied by pushing easy negatives far down, not by
separating the answer from near misses. Issue #159 ("RankHingeLoss代码逻辑不合理", wenjunyang, 2021-03-29): (translated)
"the margin_ranking_loss of the mean is not the mean of the margin_ranking_loss; after I changed it the model's
results improved a lot"; a maintainer asked for a PR. Fixed by 94a89c11c0b41bfd35fa5bdf476fb2b691d46d6a ("fix
margin ranking loss"), merged into dev as 988a084bc90d2042c96d8e6207538b83e5fdc295 ("Fix margin ranking loss
(#160)"): one ``F.margin_ranking_loss(y_pos, neg, ...)`` per negative, then ``torch.mean(torch.stack(losses))``.
(With num_neg=1 the two agree; the tutorials with num_neg=4 -- match_pyramid, dynamic_clip, hcrn, diin -- are the
ones affected.)
The Keras MatchZoo (NTMC-Community/MatchZoo 2.2, ``matchzoo/losses/rank_hinge_loss.py``) has the same formula
(``tf.reduce_mean`` of the negatives, then ``tf.maximum(0., margin + y_neg - y_pos)``), unchanged at its last
commit 8a487ee.

Source: github.com/NTMC-Community/MatchZoo-py at 988a084^ (= 75ea74f, "Updata trainer's early stopping (#156)", on
the dev branch; the loss file unchanged since 3f88ace "Add Tuner (#35)"; master, 0e5c04e, still has
it), issue #159, PR #160, fix 94a89c1 (PR branch, on 0e5c04e) merged into dev as 988a084.
Program lines kept: ``RankHingeLoss.forward`` buggy and fixed bodies verbatim (``num_neg=4``, ``margin=0.1``,
reduction 'mean'); ``Matching.forward`` ('dot', masks); ``MatchPyramid.build`` / ``forward`` /
``_make_conv_pool_block`` (kernel_count [16, 32], kernel_size [[3, 3], [3, 3]], dpool_size [3, 10], dropout_rate
0.2, mask_value 0, embedding from a row-normalised matrix, trainable, padding_idx 0, Ranking task -> one linear
output, no out activation); the pair-mode batch layout (positive then 4 negatives per group, negatives sampled with
replacement, groups shuffled, resampled each epoch); Adam with the default lr 1e-3; the Trainer's step.
Ported: the ``inputs`` dict (``text_left``, ``text_right``) is packed into one (rows, 10 + 30) int64 array that
``forward`` splits; ``BasicPadding`` pads 'pre' to the batch's longest text -- here fixed to 10 and 30, the longest
texts of the stand-in (nearly every batch of the stand-in has them); batches of 20 groups (100 rows) instead of 100
groups (500 rows), to keep a step near 25 ms on one CPU thread (500 rows: ~5x); vocabulary 4,001 instead of 30,058.
The embedding matrix is copied before ``from_pretrained`` (``torch.Tensor(ndarray)`` shares memory, and the
module caches the matrix across builds). Keras twin: a ``keras.Model`` with the same layers (``Embedding`` with the
matrix, trainable; einsum matching with the pad positions zeroed; ``ZeroPadding2D(((0, 2), (0, 2)))`` + ``Conv2D``
ReLU blocks with PyTorch's default init; ``AdaptiveAveragePooling2D((3, 10))`` (checked equal to torch's to 1e-7);
``Dropout(0.2)``; ``Dense(1)``), compiled with ``Adam(1e-3)`` and a ``keras.losses.Loss`` that is MatchZoo 2.2's
``RankHingeLoss.call`` (buggy) or the PR's per-negative mean (fixed), same group layout.
Data stand-in (no WikiQA / GloVe download): ``wikiqa_like`` -- questions of 5-10 content words of one of 40 topics,
9 candidate sentences (12-30 words, topic words and 80 function words) per question: the answer contains a phrase of
the question (three consecutive question words, in order), two near misses contain three question words scattered
and out of order, six others share at most a chance word; the embedding stand-in gives each topic's words a common
direction (cosine ~0.25) and unit-norm rows, as the normalised GloVe matrix has. 2,000 training questions
(WikiQA has 873 with an answer; with 400 both versions memorised the training questions through the trainable
embedding and ranked held-out answers first only 30-34 % of the time), 200 held-out questions for the measurements.
``batches``: 4 consecutive pair-mode batches (seed 0), ``batch`` the first, ``inputs`` its 100 rows; y = the 0/1
labels (rows, 1) float32 (the loss ignores them, as MatchZoo's does).

Fault label: other:hinge_on_mean_negative_score (the pairwise hinge is taken against the mean of the sampled
negatives' scores, so hard negatives that outrank the positive go unpenalised once the easy ones are low enough).

Measured (my own plain loops, /tmp/s39/h55a/work/measure_t.py and measure_k.py, OMP_NUM_THREADS=1, the module's
builds, 4 epochs of 100 pair-mode batches (20 groups) over the 2,000 training questions, negatives resampled every
epoch; "P@1" = share of the 200 held-out questions whose answer scores above all 8 other candidates (ties count
against), MAP = MRR here (one answer per question), "near>=ans" = share of near misses scored >= the answer):
  torch, torch/batch-order seeds 0 / 1 / 2, P@1 after epochs 1 / 2 / 4:
    buggy 0.585 / 0.690 / 0.890, 0.560 / 0.795 / 0.855, 0.605 / 0.745 / 0.925 (MAP at epoch 4: 0.945, 0.923, 0.962;
      near>=ans 0.052, 0.075, 0.037)
    fixed 0.755 / 0.955 / 0.975, 0.815 / 0.970 / 0.985, 0.760 / 0.960 / 0.980 (MAP at epoch 4: 0.988, 0.993, 0.990;
      near>=ans 0.013, 0.007, 0.010)
    easy negatives scored >= the answer: <= 0.5 % for both from epoch 2 on. Untrained: P@1 0.105, MAP 0.281.
    Training loss (seed 0) at steps 1 / 10 / 50: buggy 0.1066 / 0.0921 / 0.0354, fixed 0.1066 / 0.0921 / 0.0403 (equal
    while every negative is inside the margin); epoch means 0.0427, 0.0024, 0.0006, 0.0003 buggy vs 0.0480, 0.0024,
    0.0003, 0.0001 fixed -- both losses go to ~0, the buggy one without ranking the near misses below the answer.
  Keras, train_on_batch, seeds 0 / 1 (the model's init from the module, seed for dropout / batch order), P@1 after
    epochs 1 / 2 / 4: buggy 0.675 / 0.650 / 0.845, 0.615 / 0.705 / 0.880 (near>=ans at epoch 4 0.090, 0.062); fixed
    0.885 / 0.965 / 0.975, 0.860 / 0.975 / 0.985 (near>=ans 0.015, 0.007). Untrained P@1 0.21. Loss at steps 1 / 10
    / 50 (seed 0): buggy 0.0986 / 0.0774 / 0.0214, fixed 0.0986 / 0.0774 / 0.0291.
  Time per step (100 rows, one thread, shared machine): torch 25 ms unloaded (38-58 ms under load), Keras
  train_on_batch 40-45 ms; builds: torch < 0.1 s after the first (0.5 s of stand-in data once), Keras 0.2 s
  (4.6 s the first, with the TensorFlow import).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "other:hinge_on_mean_negative_score"
SOURCE = ("github:NTMC-Community/MatchZoo-py issue #159, PR #160 (matchzoo/losses/rank_hinge_loss.py "
          "RankHingeLoss.forward 'y_neg = torch.mean(y_neg, dim=-1, keepdim=True)' then one "
          "F.margin_ranking_loss(y_pos, y_neg, ...) @988a084^ = 75ea74f (dev; also master 0e5c04e), "
          "tutorials/ranking/match_pyramid.ipynb RankHingeLoss(num_neg=4, margin=0.1), "
          "matchzoo/models/match_pyramid.py, matchzoo/modules/matching.py, matchzoo/dataloader/dataset.py "
          "mode='pair'; fix 94a89c11c0b41bfd35fa5bdf476fb2b691d46d6a 'fix margin ranking loss', merged into dev as "
          "988a084bc90d2042c96d8e6207538b83e5fdc295 'Fix margin ranking loss (#160)': mean over negatives of "
          "F.margin_ranking_loss(y_pos, neg, ...); same formula in the Keras NTMC-Community/MatchZoo "
          "matchzoo/losses/rank_hinge_loss.py@8a487ee, its last commit)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {}), ("batch_independence", {})]

# tutorials/ranking/match_pyramid.ipynb
num_neg = 4  # RankHingeLoss(num_neg=4, margin=0.1); Dataset(mode='pair', num_dup=1, num_neg=4, ...)
margin = 0.1
num_dup = 1
kernel_count = [16, 32]
kernel_size = [[3, 3], [3, 3]]
dpool_size = [3, 10]
dropout_rate = 0.2
mask_value = 0
learning_rate = 1e-3  # torch.optim.Adam(model.parameters()) -- Adam's default lr
EMBED_DIM = 300  # load_glove_embedding(dimension=300), rows L2-normalised
GROUPS_PER_BATCH = 20  # the notebook: batch_size=100 groups (500 rows); see "Ported"
GROUP = num_neg + 1
batch_size = GROUPS_PER_BATCH * GROUP

# WikiQA stand-in
VOCAB = 4001  # index 0 = '<PAD>'
N_TOPICS = 40
N_COMMON = 80
LEN_LEFT = 10  # questions of 5..10 words, padded 'pre' to the longest (10)
LEN_RIGHT = 30  # answers of 12..30 words, padded 'pre' to the longest (30)
N_CAND = 9  # candidates per question: 1 answer, 2 near misses, 6 other sentences of the page
N_TRAIN_Q = 2000
N_BATCHES = 4
SEED = 0


@functools.lru_cache(maxsize=1)
def embedding_matrix() -> np.ndarray:
    """Stand-in for ``glove_embedding.build_matrix(term_index)`` / its row norms: (VOCAB, 300) float32, unit rows.
    Content words of one topic share a direction (cosine ~0.25 within a topic, ~0 across), as related GloVe words
    do; the 80 function words and the pad row are unrelated directions."""
    rng = np.random.default_rng(1)
    topic = rng.standard_normal((N_TOPICS, EMBED_DIM))
    m = rng.standard_normal((VOCAB, EMBED_DIM))
    words = np.arange(1 + N_COMMON, VOCAB)
    m[words] += 0.6 * topic[(words - 1 - N_COMMON) % N_TOPICS]
    return (m / np.linalg.norm(m, axis=1, keepdims=True)).astype("float32")


def _topic_words(t: int) -> np.ndarray:
    return np.arange(1 + N_COMMON + t, VOCAB, N_TOPICS)


def wikiqa_like(n_q: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stand-in for WikiQA after ``BasicPreprocessor`` (term ids, 0 = pad): for each question (5..10 content words
    of one topic) ``N_CAND`` candidate sentences of 12..30 words from the same page (topic words and function
    words). The answer contains three consecutive question words in the question's order (a phrase of the
    question); two near-miss sentences contain three question words too, scattered and out of order; the six
    others share at most what chance gives. Returns left (n_q, N_CAND, LEN_LEFT), right (n_q, N_CAND, LEN_RIGHT)
    int64 padded 'pre' as ``BasicPadding``, labels (n_q, N_CAND) (1 for the answer, candidate 0)."""
    rng = np.random.default_rng(seed)
    left = np.zeros((n_q, N_CAND, LEN_LEFT), "int64")
    right = np.zeros((n_q, N_CAND, LEN_RIGHT), "int64")
    labels = np.zeros((n_q, N_CAND), "float32")
    labels[:, 0] = 1.0
    for i in range(n_q):
        words = _topic_words(int(rng.integers(N_TOPICS)))
        lq = int(rng.integers(5, LEN_LEFT + 1))
        q = rng.choice(words, lq, replace=False)
        others = np.setdiff1d(words, q)
        for c in range(N_CAND):
            la = int(rng.integers(12, LEN_RIGHT + 1))
            sent = np.where(rng.random(la) < 0.55, rng.choice(others, la), 1 + rng.integers(N_COMMON, size=la))
            if rng.random() < 0.5:  # an occasional chance overlap with the question
                sent[rng.integers(la)] = rng.choice(q)
            if c == 0:  # the answer: a phrase of the question
                j = int(rng.integers(lq - 2))
                p = int(rng.integers(la - 2))
                sent[p:p + 3] = q[j:j + 3]
            elif c <= 2:  # near misses: three question words, apart and shuffled
                pos = np.sort(rng.choice(np.arange(0, la, 3), 3, replace=False))
                sent[pos] = rng.permutation(rng.choice(q, 3, replace=False))
            left[i, c, -lq:] = q
            right[i, c, -la:] = sent
    return left, right, labels


@functools.lru_cache(maxsize=4)
def _train_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return wikiqa_like(N_TRAIN_Q, seed=SEED)


def pair_batches(left: np.ndarray, right: np.ndarray, labels: np.ndarray, n_batches: int,
                 seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``Dataset(mode='pair', num_dup=1, num_neg=4, resample=True, shuffle=True)``: per question the positive
    followed by ``num_neg`` negatives sampled with replacement (``neg_samples.sample(num_neg, replace=True)``),
    groups shuffled, ``GROUPS_PER_BATCH`` groups a batch. x packs ``text_left`` and ``text_right`` side by side,
    (rows, LEN_LEFT + LEN_RIGHT) int64; y the labels (rows, 1) float32."""
    rng = np.random.default_rng(seed)
    n_q = len(left)
    out = []
    order = np.array([], "int64")
    while len(out) < n_batches:
        if len(order) < GROUPS_PER_BATCH:
            order = rng.permutation(n_q)
        qs, order = order[:GROUPS_PER_BATCH], order[GROUPS_PER_BATCH:]
        cand = np.concatenate([np.zeros((len(qs), 1), "int64"), rng.integers(1, N_CAND, (len(qs), num_neg))], 1)
        rows_q = np.repeat(qs, GROUP)
        rows_c = cand.reshape(-1)
        x = np.concatenate([left[rows_q, rows_c], right[rows_q, rows_c]], axis=1)
        out.append((x, labels[rows_q, rows_c][:, None].astype("float32")))
    return out


def _batches() -> list[tuple[np.ndarray, np.ndarray]]:
    return pair_batches(*_train_data(), n_batches=N_BATCHES, seed=SEED)


def _torch(bug: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(SEED)

    class RankHingeLoss(nn.Module):  # matchzoo/losses/rank_hinge_loss.py
        def __init__(self, num_neg: int = 1, margin: float = 1., reduction: str = 'mean'):
            super().__init__()
            self.num_neg = num_neg
            self.margin = margin
            self.reduction = reduction

        def forward(self, y_pred: torch.Tensor, y_true: torch.Tensor):
            if bug:  # 988a084^
                y_pos = y_pred[::(self.num_neg + 1), :]
                y_neg = []
                for neg_idx in range(self.num_neg):
                    neg = y_pred[(neg_idx + 1)::(self.num_neg + 1), :]
                    y_neg.append(neg)
                y_neg = torch.cat(y_neg, dim=-1)
                y_neg = torch.mean(y_neg, dim=-1, keepdim=True)
                y_true = torch.ones_like(y_pos)
                return F.margin_ranking_loss(
                    y_pos, y_neg, y_true,
                    margin=self.margin,
                    reduction=self.reduction
                )
            # 94a89c1 / 988a084
            y_pos = y_pred[::(self.num_neg + 1), :]
            y_negs = []
            for neg_idx in range(self.num_neg):
                neg = y_pred[(neg_idx + 1)::(self.num_neg + 1), :]
                y_negs.append(neg)
            losses = [F.margin_ranking_loss(y_pos, neg, torch.ones_like(y_pos), margin=self.margin)
                      for neg in y_negs]
            return torch.mean(torch.stack(losses))

    class Matching(nn.Module):  # matchzoo/modules/matching.py, matching_type='dot'
        def __init__(self, normalize: bool = False, matching_type: str = 'dot'):
            super().__init__()
            self._normalize = normalize
            self._matching_type = matching_type

        def forward(self, x, y, x_mask=None, y_mask=None):
            if self._normalize:
                x = F.normalize(x, p=2, dim=-1)
                y = F.normalize(y, p=2, dim=-1)
            matching_matrix = torch.einsum('bld,brd->blr', x, y)
            if x_mask is not None:
                matching_matrix.masked_fill_(x_mask.unsqueeze(-1), 0)
            if y_mask is not None:
                matching_matrix.masked_fill_(y_mask.unsqueeze(1), 0)
            return matching_matrix

    class MatchPyramid(nn.Module):  # matchzoo/models/match_pyramid.py (build / forward)
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding.from_pretrained(
                embeddings=torch.Tensor(embedding_matrix().copy()),  # copy: torch.Tensor shares the cached array
                freeze=False, padding_idx=0)
            self.matching = Matching(matching_type='dot')
            activation = nn.ReLU()
            in_channel_2d = [1, *kernel_count[:-1]]
            conv2d = [self._make_conv_pool_block(ic, oc, ks, activation)
                      for ic, oc, ks, in zip(in_channel_2d, kernel_count, kernel_size)]
            self.conv2d = nn.Sequential(*conv2d)
            self.dpool_layer = nn.AdaptiveAvgPool2d(dpool_size)
            self.dropout = nn.Dropout(p=dropout_rate)
            left_length = dpool_size[0]
            right_length = dpool_size[1]
            self.out = nn.Linear(left_length * right_length * kernel_count[-1], 1)  # Ranking: 1 output, linear

        def forward(self, inputs):
            # inputs['text_left'], inputs['text_right'] packed side by side
            input_left, input_right = inputs[:, :LEN_LEFT], inputs[:, LEN_LEFT:]
            embed_left = self.embedding(input_left.long())
            embed_right = self.embedding(input_right.long())
            left_mask = (input_left == mask_value)
            right_mask = (input_right == mask_value)
            embed_cross = self.matching(embed_left, embed_right, left_mask, right_mask).unsqueeze(dim=1)
            conv = self.conv2d(embed_cross)
            embed_pool = self.dpool_layer(conv)
            embed_flat = self.dropout(torch.flatten(embed_pool, start_dim=1))
            out = self.out(embed_flat)
            return out

        @classmethod
        def _make_conv_pool_block(cls, in_channels, out_channels, kernel_size, activation):
            return nn.Sequential(
                nn.ConstantPad2d((0, kernel_size[1] - 1, 0, kernel_size[0] - 1), 0),  # Same padding
                nn.Conv2d(in_channels=in_channels, out_channels=out_channels, kernel_size=kernel_size),
                activation
            )

    model = MatchPyramid()
    batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in _batches()]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": batches[0][0],
            "loss_fn": RankHingeLoss(num_neg=num_neg, margin=margin),
            "optimizer": lambda params: torch.optim.Adam(params)}


def _keras(bug: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)

    def torch_init(fan_in: int) -> dict[str, Any]:  # PyTorch's default Conv2d / Linear init
        return {"kernel_initializer": keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
                "bias_initializer": keras.initializers.RandomUniform(-fan_in ** -0.5, fan_in ** -0.5)}

    class RankHingeLoss(keras.losses.Loss):  # NTMC-Community/MatchZoo matchzoo/losses/rank_hinge_loss.py
        def __init__(self, num_neg: int = 1, margin: float = 1.0):
            super().__init__(reduction="sum_over_batch_size", name="rank_hinge")
            self._num_neg = num_neg
            self._margin = margin

        def call(self, y_true, y_pred):
            y_pos = y_pred[::(self._num_neg + 1), :]
            y_neg = [y_pred[(neg_idx + 1)::(self._num_neg + 1), :] for neg_idx in range(self._num_neg)]
            if bug:  # MatchZoo 2.2 / MatchZoo-py 988a084^
                y_neg = ops.concatenate(y_neg, axis=-1)
                y_neg = ops.mean(y_neg, axis=-1, keepdims=True)
                return ops.maximum(0., self._margin + y_neg - y_pos)
            # MatchZoo-py 988a084: the mean of the per-negative hinge losses
            return ops.mean(ops.stack([ops.maximum(0., self._margin + neg - y_pos) for neg in y_neg]), axis=0)

    class MatchPyramid(keras.Model):
        def __init__(self):
            super().__init__()
            self.embedding = layers.Embedding(VOCAB, EMBED_DIM,
                                              embeddings_initializer=keras.initializers.Constant(embedding_matrix()))
            self.blocks = []
            in_ch = 1
            for oc, ks in zip(kernel_count, kernel_size):
                self.blocks.append((layers.ZeroPadding2D(((0, ks[0] - 1), (0, ks[1] - 1))),
                                    layers.Conv2D(oc, ks, activation="relu", **torch_init(in_ch * ks[0] * ks[1]))))
                in_ch = oc
            self.dpool_layer = layers.AdaptiveAveragePooling2D(dpool_size)
            self.dropout = layers.Dropout(dropout_rate)
            self.flatten = layers.Flatten()
            self.out = layers.Dense(1, **torch_init(dpool_size[0] * dpool_size[1] * kernel_count[-1]))

        def call(self, inputs, training=None):
            input_left, input_right = inputs[:, :LEN_LEFT], inputs[:, LEN_LEFT:]
            embed_left = self.embedding(input_left)
            embed_right = self.embedding(input_right)
            keep_left = ops.cast(ops.not_equal(input_left, mask_value), "float32")
            keep_right = ops.cast(ops.not_equal(input_right, mask_value), "float32")
            cross = ops.einsum('bld,brd->blr', embed_left, embed_right)
            cross = cross * keep_left[:, :, None] * keep_right[:, None, :]
            h = cross[..., None]
            for pad, conv in self.blocks:
                h = conv(pad(h))
            h = self.dropout(self.flatten(self.dpool_layer(h)), training=training)
            return self.out(h)

    model = MatchPyramid()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss=RankHingeLoss(num_neg=num_neg, margin=margin))
    batches = _batches()
    model(batches[0][0][:2])
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": batches[0][0]}


buggy, fixed = versions(_torch, _keras, flag="bug")
