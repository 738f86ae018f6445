"""RecBole LINE: the negative-sampling loss averages sigmoid(sign * score) instead of its logarithm.

Source
  Repository github:RUCAIBox/RecBole, file recbole/model/general_recommender/line.py (LINE, a graph-embedding model
  trained on user-item interactions with sampled negative items and negative users), buggy version at
  4e5630cfa86cab575596ee4a23cd2d06fc4829d2 (= 62a14f32^), config recbole/properties/model/LINE.yaml
  (embedding_size 64, order 2, second_order_loss_weight 1.0) and recbole/properties/overall.yaml (adam,
  learning_rate 0.001, train_batch_size 2048, one uniform negative item per interaction, split RS 0.8/0.1/0.1,
  MRR@10 for validation), recbole/model/init.py xavier_normal_initialization.
  Reported in issue #1505 ('[BUG] 关于LINE的损失计算问题', the loss takes no logarithm before the mean): on
  ml-100k the reporter measured test MRR@10 0.3305 / recall@10 0.1146 with the shipped loss and 0.4284 / 0.2139
  after replacing torch.sigmoid by F.logsigmoid. Fixed by PR #1507, commit
  62a14f32d997e77b92d6ef2d00b234c1d698772d 'FIX: fix the loss function in LINE':
      -    def forward(self, score, sign):
      -        return -torch.mean(torch.sigmoid(sign * score))
      +    def forward(self, sign, score):
      +        return -torch.mean(torch.log(torch.sigmoid(sign * score)))
  (the argument names swap too; the call sites pass (sign, score), and the product is symmetric, so only the
  missing log changes what is computed).

The fault
  LINE's objective is the negative-sampling log-likelihood: -log sigma(s) for an observed user-item (or context)
  pair and -log sigma(-s) for a sampled one. The shipped loss drops the log and maximises the mean of sigma(sign*s)
  itself. That loss is bounded (each term lies in (-1, 0)), its gradient sigma'(x) is half the logistic one at the
  start and vanishes at both ends, so pairs that are ranked badly wrong (sign*s very negative) stop contributing,
  exactly the pairs the log-likelihood pushes hardest on. The embeddings still move, the reported loss still falls
  towards -4, but the ranking is learned more slowly and ends worse (much worse in the report).

Kept verbatim
  NegSamplingLoss (buggy: the shipped body; fixed: the body of 62a14f32), LINE's embedding tables and
  xavier_normal init, its pair and context scores (forward / context_forward, here pair_forward /
  context_forward), the random choice between the user-side and the item-side negative branch
  ('if random.random() < 0.5:'), and the loss sum of calculate_loss (first-order plus second-order terms with
  weight 1.0), Adam lr 0.001, batch 2048, embedding size 64, order 2.

What was replaced, and why
  - RecBole's Interaction/DataLoader machinery: the model here takes one int64 tensor x of shape (B, 4) with the
    columns [user, pos_item, neg_item, neg_user] and returns the four scores calculate_loss feeds the loss,
    stacked as (B, 4) = [score_pos, score_neg, score_pos_con, score_neg_con]. The negative item is drawn as
    RecBole's uniform sampler does (1..n_items-1, not among the user's training items); the negative user is drawn
    the way LINE.sampler does (1..n_users-1, not among the item's training users), but in the data step rather
    than inside calculate_loss, so a batch is a plain tensor and the build is deterministic.
  - The labels calculate_loss makes internally ('ones' and '-1 * ones') are passed as targets y of shape (B, 4)
    holding 1 for the observed pairs and 0 for the sampled ones; loss_fn turns them back into the signs
    (sign = 2 * y - 1) and sums the four NegSamplingLoss terms as calculate_loss does.
  - Python's random module is seeded with SEED in the builder (RecBole's init_seed seeds it too), so the branch
    choice is reproducible. Each call of the model runs one branch, so one of the two context tables gets no
    gradient in that call (as in every RecBole step).
  Nothing was shrunk: 943 users, 1682 items and embedding size 64 are the ml-100k sizes of the report.

Data stand-in
  ml-100k-shaped implicit feedback made offline: 943 users (ids 1..943, 0 is RecBole's padding id) and 1682 items
  (1..1682); each user has 20..600 interactions (log-normal, 95 on average, 89,576 in all; ml-100k has 100,000),
  drawn without replacement from a softmax over a rank-8 user-item affinity (scale 0.9) plus an item popularity
  term, so who interacts with what follows from latent tastes as in real ratings. Each user's interactions are
  split at random 80/10/10 (RecBole RS, group_by user): 71,325 training rows, 9,681 test rows (the middle 10 % is
  the unused validation part). batches: the 34 full batches of 2048 of one shuffled epoch (seed 0) with negatives
  drawn with seed 0; inputs: 256 test rows with their negatives.

Measured (measure.py in this folder on the module's own builds, torch CPU one thread, SEED 0; every later epoch
reshuffles the training rows and redraws both negatives, as RecBole does; evaluation ranks all items outside the
user's training set by user_embedding . item_embedding, as LINE.full_sort_predict does, for the 943 test users)
  epochs        :   1      5      10     20     40     60     80     100
  buggy MRR@10  : 0.019  0.094  0.373  0.458  0.484  0.496  0.500  0.501
  fixed MRR@10  : 0.019  0.094  0.379  0.478  0.519  0.513  0.506  0.492
  buggy Rec@10  : 0.006  0.024  0.149  0.188  0.207  0.223  0.226  0.226
  fixed Rec@10  : 0.006  0.024  0.150  0.209  0.238  0.236  0.230  0.220
  (popularity ranking on the same split: MRR@10 0.112, recall@10 0.043.) With RecBole's early stopping on MRR the
  fixed model stops near epoch 40 at 0.519 / 0.238; the buggy one needs about twice the epochs to get to 0.50 and
  never reaches the fixed peak. Training loss (each version's own, epoch means): buggy -2.00 at init, -2.13 after
  10 epochs, -3.07 after 40, -3.43 after 100; fixed 2.77 at init, 2.57, 1.42, 0.96. The logistic (fixed) loss of
  the buggy model's scores over one epoch of rows: 1.75 after 40 epochs vs 1.39 for the fixed model; 5.1 % of the
  buggy model's training pairs sit at sign*score < -2 after 40 epochs (fixed: 0.6 %) and stay there (5.1 % after
  100 epochs), the pairs whose gradient the sigmoid-without-log loss has switched off.
  The harm on this stand-in is smaller than in the report (issue #1505 on real ml-100k: test MRR@10 0.33 buggy vs
  0.43 fixed): for the first ~10 epochs both versions move alike (under Adam the halved gradient scale at init
  does not matter); the loss of ranking quality comes from the saturated, badly ranked pairs later on. Noisier
  stand-ins (affinity scale 0.5 or 0.3) gave no larger MRR gap, and at 1.5 the buggy model caught up after ~60
  epochs (0.64 both), so the clearest symptoms here are the slower rise and the stuck share of misranked pairs.
  Time per step (batch 2048, one thread): about 12 ms for both; build: first about 3 s (data), later 0.02 s.

Fault label
  loss_mismatch: the loss is not the model's likelihood (a probability, not its log, is maximised), so the scores
  are trained on a saturating surrogate that ignores badly ranked pairs.

Lead's edit: the port also listed ``input_independent_baseline``, whose question (do held-out predictions fit
their own targets better than re-paired ones?) has no answer here: every sample's targets are the same row
[1, 0, 1, 0], the signs of its observed and sampled pairs, so the check refuses the batch as a usage error. It is
left out of ``CHECKS``; the measured table first ran it (both versions then failed it naming ``labels_imbalanced``).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "loss_mismatch"
SOURCE = ("github:RUCAIBox/RecBole issue #1505, PR #1507 (recbole/model/general_recommender/line.py NegSamplingLoss "
          "'return -torch.mean(torch.sigmoid(sign * score))' @4e5630cfa86cab575596ee4a23cd2d06fc4829d2 = 62a14f32^, "
          "properties/model/LINE.yaml, properties/overall.yaml; fix 62a14f32d997e77b92d6ef2d00b234c1d698772d "
          "'FIX: fix the loss function in LINE')")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {"task": "binary"}), ("overfit_one_batch", {"task": "binary"})]

N_USERS = 944  # ml-100k: 943 users + RecBole's padding id 0
N_ITEMS = 1683  # 1682 items + padding id 0
EMBEDDING_SIZE = 64
SECOND_ORDER_LOSS_WEIGHT = 1.0
BATCH_SIZE = 2048
LR = 0.001
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _interactions() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ml-100k-like implicit feedback, split per user 80/10/10: train (user, item), test (user, item)."""
    r = np.random.default_rng(SEED)
    nu, ni, k = N_USERS - 1, N_ITEMS - 1, 8
    u_f = r.normal(0, 1, (nu, k))
    i_f = r.normal(0, 1, (ni, k))
    pop = r.normal(0, 1.0, ni)
    counts = np.clip(np.exp(r.normal(4.2, 0.9, nu)), 20, 600).astype(int)
    tr_u, tr_i, te_u, te_i = [], [], [], []
    for u in range(nu):
        logits = 0.9 * u_f[u] @ i_f.T + pop
        items = np.argsort(-(logits + r.gumbel(size=ni)))[:counts[u]] + 1  # without replacement, softmax weights
        r.shuffle(items)
        n_tr, n_va = int(0.8 * len(items)), int(0.1 * len(items))
        tr_i.append(items[:n_tr])
        te_i.append(items[n_tr + n_va:])
        tr_u.append(np.full(n_tr, u + 1))
        te_u.append(np.full(len(items) - n_tr - n_va, u + 1))
    return np.concatenate(tr_u), np.concatenate(tr_i), np.concatenate(te_u), np.concatenate(te_i)


def _sample_rows(users: np.ndarray, items: np.ndarray, seed: int) -> np.ndarray:
    """(user, pos_item, neg_item, neg_user) rows: negatives drawn uniformly, rejecting the training positives."""
    tr_u, tr_i, _, _ = _interactions()
    r = np.random.default_rng(seed)
    pos = np.zeros((N_USERS, N_ITEMS), bool)
    pos[tr_u, tr_i] = True
    neg_i = r.integers(1, N_ITEMS, len(users))
    bad = pos[users, neg_i]
    while bad.any():
        neg_i[bad] = r.integers(1, N_ITEMS, int(bad.sum()))
        bad = pos[users, neg_i]
    neg_u = r.integers(1, N_USERS, len(users))
    bad = pos[neg_u, items]
    while bad.any():
        neg_u[bad] = r.integers(1, N_USERS, int(bad.sum()))
        bad = pos[neg_u, items]
    return np.stack([users, items, neg_i, neg_u], 1).astype("int64")


def _epoch(seed: int) -> np.ndarray:
    """One shuffled epoch of training rows with fresh negatives (RecBole shuffles and resamples every epoch)."""
    tr_u, tr_i, _, _ = _interactions()
    order = np.random.default_rng(seed).permutation(len(tr_u))
    return _sample_rows(tr_u[order], tr_i[order], seed)


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    _, _, te_u, te_i = _interactions()
    pick = np.random.default_rng(SEED + 1).choice(len(te_u), N_INPUTS, replace=False)
    return _epoch(SEED), _sample_rows(te_u[pick], te_i[pick], SEED + 1)


def _build(fixed_loss: bool) -> dict[str, Any]:
    import random

    import torch
    import torch.nn as nn
    from torch.nn.init import constant_, xavier_normal_

    def xavier_normal_initialization(module):
        if isinstance(module, nn.Embedding):
            xavier_normal_(module.weight.data)
        elif isinstance(module, nn.Linear):
            xavier_normal_(module.weight.data)
            if module.bias is not None:
                constant_(module.bias.data, 0)

    if fixed_loss:
        class NegSamplingLoss(nn.Module):  # 62a14f32
            def __init__(self):
                super(NegSamplingLoss, self).__init__()

            def forward(self, sign, score):
                return -torch.mean(torch.log(torch.sigmoid(sign * score)))
    else:
        class NegSamplingLoss(nn.Module):  # 4e5630cf, the shipped loss
            def __init__(self):
                super(NegSamplingLoss, self).__init__()

            def forward(self, score, sign):
                return -torch.mean(torch.sigmoid(sign * score))

    class LINE(nn.Module):
        def __init__(self):
            super(LINE, self).__init__()
            self.n_users, self.n_items = N_USERS, N_ITEMS
            self.embedding_size = EMBEDDING_SIZE
            self.order = 2
            self.second_order_loss_weight = SECOND_ORDER_LOSS_WEIGHT

            self.user_embedding = nn.Embedding(self.n_users, self.embedding_size)
            self.item_embedding = nn.Embedding(self.n_items, self.embedding_size)

            if self.order == 2:
                self.user_context_embedding = nn.Embedding(
                    self.n_users, self.embedding_size
                )
                self.item_context_embedding = nn.Embedding(
                    self.n_items, self.embedding_size
                )

            self.loss_fct = NegSamplingLoss()
            self.apply(xavier_normal_initialization)

        def pair_forward(self, h, t):  # LINE.forward
            h_embedding = self.user_embedding(h)
            t_embedding = self.item_embedding(t)

            return torch.sum(h_embedding.mul(t_embedding), dim=1)

        def context_forward(self, h, t, field):
            if field == "uu":
                h_embedding = self.user_embedding(h)
                t_embedding = self.item_context_embedding(t)
            else:
                h_embedding = self.item_embedding(h)
                t_embedding = self.user_context_embedding(t)

            return torch.sum(h_embedding.mul(t_embedding), dim=1)

        def forward(self, x):  # the scoring half of LINE.calculate_loss (order 2)
            user, pos_item, neg_item, neg_user = x[:, 0], x[:, 1], x[:, 2], x[:, 3]
            score_pos = self.pair_forward(user, pos_item)
            # randomly train i-i relation and u-u relation with u-i relation
            if random.random() < 0.5:
                score_neg = self.pair_forward(user, neg_item)
                score_pos_con = self.context_forward(user, pos_item, "uu")
                score_neg_con = self.context_forward(user, neg_item, "uu")
            else:
                # sample negative user for item
                score_neg = self.pair_forward(neg_user, pos_item)
                score_pos_con = self.context_forward(pos_item, user, "ii")
                score_neg_con = self.context_forward(pos_item, neg_user, "ii")
            return torch.stack([score_pos, score_neg, score_pos_con, score_neg_con], 1)

        def full_sort_predict(self, user):
            u_embeddings = self.user_embedding(user)
            i_embedding = self.item_embedding.weight
            return torch.matmul(u_embeddings, i_embedding.transpose(0, 1))

    random.seed(SEED)
    torch.manual_seed(SEED)
    model = LINE()
    loss_fct = model.loss_fct
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)

    def loss_fn(scores, y):  # the loss half of LINE.calculate_loss; y: 1 observed pair, 0 sampled pair
        sign = 2 * y - 1
        score_pos, score_neg, score_pos_con, score_neg_con = scores.unbind(1)
        return (
            loss_fct(sign[:, 0], score_pos)
            + loss_fct(sign[:, 1], score_neg)
            + loss_fct(sign[:, 2], score_pos_con) * model.second_order_loss_weight
            + loss_fct(sign[:, 3], score_neg_con)
            * model.second_order_loss_weight
        )

    rows, held = _data()
    x = torch.tensor(rows)
    y = torch.tensor([1.0, 0.0, 1.0, 0.0]).expand(len(rows), 4).contiguous()
    n = len(rows) // BATCH_SIZE * BATCH_SIZE
    batches = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, n, BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": torch.tensor(held),
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed_loss=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed_loss=True)
