"""yihong-chen's PyTorch NCF (``yihong-chen/neural-collaborative-filtering``): the GMF (generalized matrix
factorisation) model of He et al.'s Neural Collaborative Filtering on MovieLens-1M, trained pointwise.

``gmf.py``: user and item ``nn.Embedding(..., latent_dim=8)`` (torch default init N(0, 1)), their element-wise
product, ``Linear(8, 1)``, ``Sigmoid``; ``engine.py``: ``MSELoss`` between the sigmoid output (``.view(-1)``) and
the normalised rating (rating / 5 for a rated item, 0 for each of 4 sampled unrated items per rating),
``use_optimizer``: ``torch.optim.Adam(network.parameters(), lr=1e-3, weight_decay=params['l2_regularization'])``,
batches of 1024, a fresh negative sample every epoch, leave-one-out evaluation (HR@10 / NDCG@10 of each user's
latest item among 99 sampled unrated items).

The fault: commit 9cdee38 ("Add: l2 reg for MLP model") gave ``gmf_config`` ``'l2_regularization': 0.01`` as well,
and it reaches Adam as coupled L2 weight decay on every parameter. Adam adds ``0.01 * w`` to every gradient --
including every row of the 6040 x 8 user and 3706 x 8 item tables that is not in the batch, whose data gradient is
zero -- and then normalises per element, so each embedding entry is pulled to zero by about ``lr`` per step while
a row's own data gradient (an MSE mean over 1024 pairs) is far smaller. Within a few thousand steps all
embeddings and the affine weights are ~0, the model outputs one constant for every (user, item) pair, and since
``MetronAtK`` ranks ties with ``method='first'`` (the 99 negatives are listed before the test item) the evaluation
reads exactly HR = 0.0, NDCG = 0.0. Issue #5 ("my training results are too bad, The evaluating HR and NDCG of
some epochs are 0.0000"; another user: "I got the same issue ... on dataset ml-1m"); the author: "I reproduced the
bug in pytorch 1.0 as well. I am working on it now." Fix 9311f08 (2019-03-21, "Add: more optimizers"):
``'l2_regularization': 0, # 0.01`` (alias ``gmf_factor8neg4-adam-nodecay-torch1``), and the README commit 0b92f65
("Fix: readme #5"): "L2 regularization for GMF model: Large l2 regularization might lead to the bug of
``HR=0.0 NDCG=0.0``".

Source: github.com/yihong-chen/neural-collaborative-filtering, src/gmf.py, src/engine.py, src/data.py,
src/utils.py, src/train.py at acd7f92deeeb90b8bcdc168a772e52661dc2fa9d ("Fix: migrate to torch0.4", still with
0.01), fix 9311f0857fa3c4c16fab8fd0f2e225dbebe824bd, issue #5. Fault label: over_regularized (Adam's coupled
weight decay 0.01 on sparse embedding tables shrinks every weight to zero, so GMF collapses to a constant output).

Program lines kept: the ``GMF`` class verbatim, ``gmf_config`` (batch_size 1024, adam_lr 1e-3, num_users 6040,
num_items 3706, latent_dim 8, num_negative 4, l2_regularization 0.01 / fixed 0), ``use_optimizer``'s Adam line,
``MSELoss`` on ``ratings_pred.view(-1)``, ``_normalize`` (rating / max rating), ``_split_loo`` (latest item per user
held out), ``instance_a_train_loader`` (4 fresh negatives per training rating, shuffled batches), the 99 evaluation
negatives and MetronAtK's tie-breaking (in my measuring loop). Ported: a thin ``PairInput`` wrapper takes one
float32 (n, 2) [userId, itemId] tensor (what the checks pass) and calls ``GMF(users, items)`` (ids cast to long);
``model.train()`` as ``train_an_epoch``; no CUDA, no tensorboard. Keras twin: the same functional model (cast to
int32, two ``Embedding(..., 8)`` with ``RandomNormal(0, 1)`` like torch's init, ``Multiply``, ``Dense(1)`` with torch's
``Linear`` uniform(+-1/sqrt(8)) init, sigmoid), ``loss='mse'``, ``Adam(1e-3, epsilon=1e-8)``; torch's coupled
weight decay is written as ``L2(0.01 / 2)`` regularizers on both embedding tables and the Dense kernel and bias
(gradient ``0.01 * w``, exactly what torch's Adam adds; Keras' own ``Adam(weight_decay=...)`` is decoupled,
AdamW-style), none when fixed. Keras' reported loss includes the penalty (about 388 at the start), torch's does
not; Keras ``y`` is (n, 1). The fault is a hyper-parameter of the optimiser: it can exist in both frameworks.
Data stand-in (no ratings.dat download): ``_ml1m_like`` -- MovieLens-1M's 6040 users and 3706 items (the config's
table sizes), each user with at least 20 distinct items (ML-1M's rule) plus a geometric number (mean 33 per
user, 198,861 ratings; ML-1M: mean 166, 1,000,209) drawn without replacement by Zipf item popularity times a
latent 8-d user-item affinity (Gumbel top-k), ratings 1..5 from the affinity plus noise (shares 3 / 14 / 32 / 31 /
21 %; ML-1M 6 / 11 / 26 / 35 / 23 %), random timestamp order. Shrunk: ratings per user about 5x fewer, so an epoch
is 942 steps instead of ~4,900; the tables, batch size and per-step sampling rate of a user row (1024 / 6040) are
the program's. ``batches``: the first 4 batches of the epoch-0 loader; ``batch``: the first; ``inputs``: the
evaluation pairs of the first 10 users (held-out item + 99 negatives, 1,000 rows).

Measured (my own plain loops, /tmp/s46/h_c/measure.py and one_batch.py, OMP_NUM_THREADS=1, the module's builds;
one epoch = 942 steps of 1024 over a fresh negative sample; HR / NDCG @10 over all 6040 users with the program's
tie rule; "std" = mean over users of the score spread among their 100 candidates; random ranking gives HR 0.10,
item popularity HR 0.49 on this stand-in):
  torch buggy (0.01): loss step 1 / 100 / 500: 0.243 / 0.216 / 0.160; epoch-mean loss after epochs 1 / 3 / 5 /
    30: 0.168 / 0.095 / 0.091 / 0.091 (target variance 0.089: a constant); HR@10 0.108 (init) / 0.101 / 0.079 /
    0.008 (epoch 4) / 0.0000 from epoch 5 to 30, NDCG 0.0000 likewise; std 1.1e-1 -> 4.7e-7 (epoch 3) -> ~2e-8,
    all 100 candidates tied for 99.7-100 % of users, every output 0.189; mean embedding row norm 2.74 -> 0.50
    (epoch 2) -> 0.010 (epoch 5) -> 0.000, affine weight norm 0.48 -> 0.000.
  torch fixed (0): loss step 1 / 100 / 500: 0.243 / 0.217 / 0.159 (the same as buggy at first); epoch-mean loss
    0.168 / 0.093 / 0.089 / 0.070 (epoch 30); HR@10 ~0.10 for the first 5 epochs, then 0.129 / 0.223 / 0.309 /
    0.405 after epochs 9 / 15 / 21 / 30 (NDCG 0.243 at 30) and still rising; outputs 0.0003..0.99; embedding row
    norms stay ~2.7, affine weight norm 0.48 -> 0.005 (epoch 1) -> 0.88.
  torch, one batch 500 steps (``batch``): buggy loss 0.243 -> 0.155, fixed 0.243 -> 0.008.
  Keras buggy (train_on_batch; loss with the penalty): 388 -> 178 (step 500) -> 0.33 (epoch 5) -> 0.10 (epoch 8);
    HR@10 0.106 / 0.110 / 0.080 (epoch 3) / 0.011 / 0.0000 from epoch 5, NDCG 0.0000, all candidates tied for 100 %
    of users, output 0.189; embedding norms 2.73 -> 0.009 (epoch 5) -> 0.000.
  Keras fixed: loss 0.204 -> 0.134 (step 500), epoch-mean 0.138 / 0.091 / 0.089 / 0.084 (epoch 16); HR@10 ~0.10
    for 8 epochs, then 0.138 / 0.221 / 0.236 after epochs 11 / 15 / 16, rising; embedding norms ~2.7.
  So the issue's symptom reproduces in both frameworks: under the 0.01 decay GMF collapses to one constant output
    and HR = NDCG = 0.0 exactly, while the fixed model learns (slowly: with N(0, 1) embeddings and lr 1e-3 it needs
    a few thousand steps before it ranks better than chance). The first few hundred steps' losses barely differ
    (both fit the global mean first); the difference shows in the weights' norms, the spread of the outputs and
    fitting one batch.
  Time per step (batch 1024, one thread, shared machine): torch 1.2-2.9 ms, Keras train_on_batch 4-6 ms; builds:
    stand-in 2 s (once), then torch < 0.01 s, Keras ~0.1 s (first Keras build with imports ~4 s).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "over_regularized"
SOURCE = ("github:yihong-chen/neural-collaborative-filtering issue #5 (src/train.py gmf_config "
          "'l2_regularization': 0.01 -> src/utils.py use_optimizer torch.optim.Adam(network.parameters(), "
          "lr=params['adam_lr'], weight_decay=params['l2_regularization']), src/gmf.py, src/engine.py, src/data.py"
          "@acd7f92deeeb90b8bcdc168a772e52661dc2fa9d; fix 9311f0857fa3c4c16fab8fd0f2e225dbebe824bd "
          "'l2_regularization': 0, # 0.01 and README 0b92f6503e959faa8f210d1c5b8c343f1950aebf 'Large l2 "
          "regularization might lead to the bug of HR=0.0 NDCG=0.0')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {}),
          ("output_range", {"kind": "sigmoid"}), ("gradients_flow", {})]

# gmf_config (src/train.py)
num_epoch = 200
batch_size = 1024
adam_lr = 1e-3
num_users = 6040
num_items = 3706
latent_dim = 8
num_negative = 4
L2_BUGGY = 0.01  # 'l2_regularization': 0.01
L2_FIXED = 0.0  # fix: 'l2_regularization': 0, # 0.01
SEED = 0

# MovieLens-1M stand-in (port: ratings per user cut about 5x, see the docstring)
MIN_PER_USER = 20  # ML-1M: every user has at least 20 ratings
MEAN_EXTRA = 13.0
FACTOR_DIM = 8
N_BATCHES = 4
N_EVAL_USERS = 10  # inputs: 10 users x (1 held-out item + 99 negatives)


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _ml1m_like() -> dict[str, np.ndarray]:
    """MovieLens-1M-shaped implicit/explicit feedback: 6040 users x 3706 items, each user at least 20 distinct
    rated items drawn by item popularity (Zipf) times a latent user-item affinity, ratings 1..5 from the
    affinity, a random timestamp order per user. Returns the leave-one-out split of ``SampleGenerator``:
    train (user, item, rating / 5), the latest item per user as test, 99 sampled negatives per user, and the
    interaction matrix (for ``negative_items``)."""
    r = np.random.default_rng(SEED)
    u_f = r.standard_normal((num_users, FACTOR_DIM)).astype(np.float32)
    v_f = r.standard_normal((num_items, FACTOR_DIM)).astype(np.float32)
    log_pop = (-0.8 * np.log(np.arange(1, num_items + 1)))[r.permutation(num_items)].astype(np.float32)
    n_per = MIN_PER_USER + r.geometric(1.0 / (MEAN_EXTRA + 1.0), num_users) - 1
    n_per = np.minimum(n_per, 400)
    users, items, ratings = [], [], []
    for lo in range(0, num_users, 1000):
        aff = (u_f[lo:lo + 1000] @ v_f.T) / np.sqrt(FACTOR_DIM)
        keys = log_pop[None, :] + 1.5 * aff + r.gumbel(size=aff.shape).astype(np.float32)
        order = np.argsort(-keys, axis=1)
        for k in range(aff.shape[0]):
            u = lo + k
            its = order[k, :n_per[u]]
            perm = r.permutation(len(its))  # timestamp order: the last one is the latest
            users.append(np.full(len(its), u))
            items.append(its[perm])
            ratings.append(aff[k, its[perm]])
    users_a, items_a = np.concatenate(users), np.concatenate(items)
    aff_a = np.concatenate(ratings)
    z = (aff_a - aff_a.mean()) / aff_a.std()  # ML-1M ratings: mean 3.58, 1..5
    ratings_a = np.clip(np.round(3.6 + 0.8 * z + r.normal(0, 0.8, len(z))), 1, 5).astype(np.float32)
    last = np.zeros(len(users_a), bool)
    last[np.cumsum(n_per) - 1] = True  # rank_latest == 1
    interacted = np.zeros((num_users, num_items), bool)
    interacted[users_a, items_a] = True
    max_rating = ratings_a.max()  # _normalize: rating * 1.0 / max_rating
    neg_samples = np.empty((num_users, 99), np.int64)  # random.sample(negative_items, 99)
    for u in range(num_users):
        neg_samples[u] = r.choice(np.flatnonzero(~interacted[u]), 99, replace=False)
    return {"train_u": users_a[~last], "train_i": items_a[~last], "train_r": ratings_a[~last] / max_rating,
            "test_u": users_a[last], "test_i": items_a[last], "neg_samples": neg_samples, "interacted": interacted}


def train_loader(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``instance_a_train_loader(num_negative, batch_size)``: each training rating plus 4 fresh negatives
    (items the user never rated, target 0), ``DataLoader(shuffle=True)`` batches of 1024. x = float32
    (n, 2) [userId, itemId], y = float32 (n,) normalised rating."""
    d = _ml1m_like()
    r = np.random.default_rng(seed)
    n = len(d["train_u"])
    neg = r.integers(0, num_items, (n, num_negative))
    bad = d["interacted"][d["train_u"][:, None], neg]
    while bad.any():
        neg[bad] = r.integers(0, num_items, int(bad.sum()))
        bad = d["interacted"][d["train_u"][:, None], neg]
    users = np.repeat(d["train_u"], 1 + num_negative)
    items = np.concatenate([d["train_i"][:, None], neg], axis=1).reshape(-1)
    rats = np.concatenate([d["train_r"][:, None], np.zeros((n, num_negative), np.float32)], axis=1).reshape(-1)
    perm = r.permutation(len(users))
    x = np.stack([users[perm], items[perm]], axis=1).astype(np.float32)
    y = rats[perm].astype(np.float32)
    return [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]


def evaluate_data(users: np.ndarray | None = None) -> np.ndarray:
    """``evaluate_data``: per user the held-out item then its 99 negatives, float32 (n_users * 100, 2)."""
    d = _ml1m_like()
    users = np.arange(num_users) if users is None else users
    it = np.concatenate([d["test_i"][users][:, None], d["neg_samples"][users]], axis=1)
    return np.stack([np.repeat(users, 100), it.reshape(-1)], axis=1).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _common() -> dict[str, Any]:
    bs = train_loader(SEED)[:N_BATCHES]
    return {"batches": bs, "inputs": evaluate_data(np.arange(N_EVAL_USERS))}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(l2_regularization: float) -> dict[str, Any]:
    import torch

    torch.manual_seed(SEED)

    class GMF(torch.nn.Module):  # src/gmf.py
        def __init__(self, config):
            super(GMF, self).__init__()
            self.num_users = config['num_users']
            self.num_items = config['num_items']
            self.latent_dim = config['latent_dim']

            self.embedding_user = torch.nn.Embedding(num_embeddings=self.num_users, embedding_dim=self.latent_dim)
            self.embedding_item = torch.nn.Embedding(num_embeddings=self.num_items, embedding_dim=self.latent_dim)

            self.affine_output = torch.nn.Linear(in_features=self.latent_dim, out_features=1)
            self.logistic = torch.nn.Sigmoid()

        def forward(self, user_indices, item_indices):
            user_embedding = self.embedding_user(user_indices)
            item_embedding = self.embedding_item(item_indices)
            element_product = torch.mul(user_embedding, item_embedding)
            logits = self.affine_output(element_product)
            rating = self.logistic(logits)
            return rating

    class PairInput(torch.nn.Module):
        """Port wrapper: one float (n, 2) [userId, itemId] tensor -> ``model(users, items)``."""

        def __init__(self, gmf):
            super().__init__()
            self.gmf = gmf

        def forward(self, x):
            x = x.long()
            return self.gmf(x[:, 0], x[:, 1])

    config = {'num_users': num_users, 'num_items': num_items, 'latent_dim': latent_dim}
    model = PairInput(GMF(config))
    model.train()
    crit = torch.nn.MSELoss()

    def loss_fn(ratings_pred, ratings):  # engine.train_single_batch
        return crit(ratings_pred.view(-1), ratings)

    def optimizer(params):  # utils.use_optimizer, 'optimizer': 'adam'
        return torch.optim.Adam(params, lr=adam_lr, weight_decay=l2_regularization)

    c = _common()
    bs = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in c["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": torch.from_numpy(c["inputs"]),
            "loss_fn": loss_fn, "optimizer": optimizer}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(l2_regularization: float) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)
    # torch Adam(weight_decay=wd) adds wd * w to every gradient = an L2 penalty (wd / 2) * sum(w ** 2) in the loss
    reg = keras.regularizers.L2(l2_regularization / 2.0) if l2_regularization else None
    bound = 1.0 / np.sqrt(latent_dim)  # torch nn.Linear default init
    lin_init = keras.initializers.RandomUniform(-bound, bound, seed=SEED)

    inp = keras.Input(shape=(2,), dtype="float32")
    idx = ops.cast(inp, "int32")
    user_embedding = layers.Embedding(num_users, latent_dim, embeddings_regularizer=reg, name="embedding_user",
                                      embeddings_initializer=keras.initializers.RandomNormal(0.0, 1.0, seed=SEED))(
        idx[:, 0])
    item_embedding = layers.Embedding(num_items, latent_dim, embeddings_regularizer=reg, name="embedding_item",
                                      embeddings_initializer=keras.initializers.RandomNormal(0.0, 1.0,
                                                                                             seed=SEED + 1))(idx[:, 1])
    element_product = layers.Multiply()([user_embedding, item_embedding])
    logits = layers.Dense(1, kernel_initializer=lin_init, bias_initializer=lin_init, kernel_regularizer=reg,
                          bias_regularizer=reg, name="affine_output")(element_product)
    rating = layers.Activation("sigmoid", name="logistic")(logits)
    model = keras.Model(inp, rating)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=adam_lr, epsilon=1e-8), loss="mse")
    c = _common()
    bs = [(x, y[:, None]) for x, y in c["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": c["inputs"]}


def _build(framework: str, l2_regularization: float) -> dict[str, Any]:
    if framework == "torch":
        return _torch(l2_regularization)
    if framework == "keras":
        return _keras(l2_regularization)
    raise ValueError(framework)


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, L2_BUGGY)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, L2_FIXED)
