"""GDE (tanatosuu/GDE, code of "Less is More: Reweighting Important Spectral Graph Features for Recommendation",
SIGIR '22): a collaborative-filtering recommender whose user / item representations are
``L_u[user] @ user_embed`` and ``L_i[item] @ item_embed``, where ``L_u = V_u diag(exp(beta * lambda)) V_u^T`` (and
``L_i`` likewise) are built from the top ("smoothed") and bottom ("rough") eigenpairs of the user-user /
item-item products of the degree-normalised interaction matrix (``preprocess_gde.py``). ``GDE.py`` trains it with
the pairwise BPR loss on (user, positive item, sampled negative item) triples: ``out = sigmoid(x_up - x_un)``,
``loss = (-log(out).sum() + reg * (|e_u|^2 + |e_p|^2 + |e_n|^2)) / batch_size``, plain ``SGD(lr=learning_rate)``,
batches of 256 users drawn uniformly with one positive and one negative item each.
The fault is in the ``loss_type='bpr'`` branch of ``GDE.forward`` (the loss that ``datasets/parameter_settings.txt``
prescribes for MovieLens-100K, with ``learning_rate=2.0, drop_out=0.2, smooth_ratio=0.2, rough_ratio=0.002,
beta=4.0``): the negative item's score is written ``(final_pos*final_nega).sum(1)`` -- the dot product of the
positive and the negative ITEM -- instead of ``(final_user*final_nega).sum(1)``. The loss then rewards making the
two items' (strongly correlated, low-pass filtered) representations anti-aligned, a term quadratic in the one
``item_embed`` table; at the prescribed lr 2.0 the first SGD steps overshoot, the pair logits reach -25 after one
step and -2.5e3 after two, ``sigmoid`` underflows to 0, ``-log(0) = inf`` and every later step is NaN. The PR:
"otherwise, loss will be nan when using the bpr loss function".

Source: github.com/tanatosuu/GDE PR #2 (chenjiyan2001, ":bug:Modify the error in the bpr loss function"; issue
#3, maintainer: "Shame on me. Thanks for correcting this bug"). Buggy ``GDE.py`` at 8a2c5bf^ (e4dcb6a), fixed by
8a2c5bff85a30a2365c3ac2a2ea6428fa083b533 (one line: ``final_pos*final_nega`` -> ``final_user*final_nega``), merged
as 1c9b85f. Settings from ``datasets/parameter_settings.txt`` (ml-100k block), sizes ``user_size, item_size =
943, 1682`` from ``GDE.py``'s ml_100k comment, ``batch_size=256``. ``GDE.py`` builds ``GDE(user_size, item_size)``
with its defaults (beta 5.0, 'smoothed', drop_out 0.1) and leaves the per-dataset values to the user; the port
passes the ml-100k values of the settings file (beta 4.0, smoothed + rough features = 'both', drop_out 0.2).
Program lines kept: ``GDE.__init__`` (two ``nn.Embedding(size, 64)`` with ``xavier_normal_``, ``weight_feature =
exp(beta * value)``, the 'both' feature concatenation, ``L_u = (V * filter) @ V^T``), the dropout branch of
``forward`` (``self.m(self.L_u[u]) * (1 - drop_out)`` then ``.mm(embed.weight)``), the bpr branch's ``out`` and
``reg_term`` lines and the returned loss, ``torch.optim.SGD(model.parameters(), lr=2.0)``, the sampling of a batch
(256 uniform users, one positive from the user's row of the rate matrix, one negative from its complement), and
``preprocess_gde.py``'s matrix construction (``D_u^-1/2 R D_i^-1/2``, ``L_u = R R^T``, ``L_i = R^T R``).
Ported minimally: ``forward`` takes the triple as one ``(N, 3)`` int64 tensor (user, positive, negative) and returns
the three final representations stacked as ``(N, 3, 64)``; the loss lines of the bpr branch (the bug site) are
``loss_fn(outputs, y)`` (``y``, all ones -- "u prefers p over n" -- is not used by the program's loss). The
program's dropout branch reads the module-level globals ``u, p, nega`` of the training loop instead of its own
arguments (they coincide there); the port uses the arguments. The 'adaptive' loss branch (other datasets) is left
out. The eigenpairs come from ``numpy.linalg.eigh`` (exact) instead of ``torch.lobpcg(niter=5)``; the matrices are
built once from the stand-in data, as ``preprocess_gde.py`` does, and kept as buffers. Sizes are the program's (a
torch step takes ~12-17 ms on one CPU thread).
Keras twin, written as equivalently as possible: a ``keras.Model`` with the same two embedding tables (normal,
std sqrt(2 / (fan_in + fan_out)) as ``xavier_normal_``), the same fixed ``L_u`` / ``L_i`` constants and
``Dropout(0.2)`` scaled by 0.8, returning the same ``(N, 3, 64)`` stack, compiled with ``SGD(2.0)`` and a loss that
returns the program's per-triple terms ``-log(out_i) + reg * (|e_u|^2 + |e_p|^2 + |e_n|^2)_i`` (Keras averages
them over the 256 rows, which is the program's division by ``batch_size``); the bug and fix are the same line.
Data stand-in (no copy of the repository's ``datasets/ml_100k`` files): 943 users x 1,682 items, 19,460 implicit
training interactions (the repository's ml_100k ``train_sparse.csv`` has 19,633), each user's items drawn without
replacement with probability proportional to Zipf-like popularity times exp(1.5 * user-item affinity) from 8 latent
taste dimensions, user degrees log-normal (3..400); 8 batches of 256 triples sampled as ``GDE.py`` does (seeded).
x: int64 ``(256, 3)``, y: float32 ones ``(256,)``.
Fault label: loss_not_finite|exploding_gradients (a wrong term in a hand-written pairwise loss makes the loss blow
up to inf / NaN within three steps at the program's learning rate).
Fix (8a2c5bf): ``out = ((final_user*final_pos).sum(1) - (final_user*final_nega).sum(1)).sigmoid()``.
Symptom in a short loop (plain loop ``loss = loss_fn(model(x), y)``, ``backward``, ``step``, ``zero_grad``; SGD
2.0, OMP_NUM_THREADS=1, seed 0): torch, 200 steps over the 8 batches: buggy 0.767, 4.90, inf, then NaN at every
step; fixed 0.705, 0.548, 0.417, 0.397, ..., mean of each 25 steps 0.407 -> 0.355. One batch repeated 200 times:
buggy 0.767, 5.50, inf, NaN ...; fixed 0.705 -> 0.218. On the first batch the buggy gradient norm goes 0.89 ->
8.3 -> NaN while the pair logits go from (-0.68, 0.12) to (-25, -0.45) to (-2482, -54) (fixed: grad norm 0.44,
0.52, 0.22; logits within (-4.9, 17.5) after two steps). In the program's own loop (fresh random triples every step,
76 steps an epoch) the buggy epoch-mean loss is NaN from the first epoch, the fixed one 0.394, 0.382. Keras twin
(``train_on_batch``, same batches, 200 steps): buggy 0.815, 8.71, inf, NaN ... (one batch: 0.815, 9.97, inf,
NaN); fixed 0.724, 0.528, 0.423, ..., 25-step means 0.407 -> 0.355 (one batch 0.724 -> 0.22). In an earlier
prototype on similar data at lr 0.2 instead of 2.0 the buggy loss stayed finite and held-out recall@20 was close to
the fixed model's (0.175 vs 0.178), so the visible failure is the blow-up at the prescribed learning rate. A step
takes ~17 ms (torch) / ~11 ms (Keras) here.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "loss_not_finite|exploding_gradients"
SOURCE = ("github:tanatosuu/GDE PR #2, issue #3 (GDE.py@8a2c5bf^ loss_type='bpr' branch, preprocess_gde.py, "
          "datasets/parameter_settings.txt ml-100k; fix 8a2c5bff85a30a2365c3ac2a2ea6428fa083b533)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {})]

# GDE.py (ml_100k) and datasets/parameter_settings.txt (ml-100k block)
user_size, item_size = 943, 1682
batch_size = 256
learning_rate = 2.0
drop_out = 0.2
smooth_ratio, rough_ratio = 0.2, 0.002
beta = 4.0
latent_size = 64
reg = 0.01
n_batches = 8


@functools.lru_cache(maxsize=1)
def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """Interaction matrix stand-in, the GDE filter matrices L_u / L_i and 8 sampled (u, p, n) batches."""
    rng = np.random.default_rng(seed)
    k = 8
    pu, qi = rng.normal(0, 1, (user_size, k)), rng.normal(0, 1, (item_size, k))
    log_pop = np.log(np.minimum(rng.zipf(1.6, item_size), 200).astype(float))
    deg = np.clip(rng.lognormal(np.log(15.5), 0.8, user_size).astype(int), 3, 400)
    rate = np.zeros((user_size, item_size), np.float32)
    for u in range(user_size):
        s = 1.5 * pu[u] @ qi.T / np.sqrt(k) + log_pop
        p = np.exp(s - s.max())
        rate[u, rng.choice(item_size, deg[u], replace=False, p=p / p.sum())] = 1.0

    # preprocess_gde.py: D_u^-1/2 R D_i^-1/2, L_u = R R^T, L_i = R^T R, eigenpairs (eigh instead of lobpcg)
    d_u, d_i = rate.sum(1), rate.sum(0)
    d_u = np.where(d_u > 0, 1.0 / np.sqrt(np.maximum(d_u, 1e-12)), 0.0)
    d_i = np.where(d_i > 0, 1.0 / np.sqrt(np.maximum(d_i, 1e-12)), 0.0)
    r = d_u[:, None] * rate * d_i[None, :]

    def filtered(adj: np.ndarray, size: int) -> np.ndarray:  # GDE.__init__, feature_type='both'
        value, vector = np.linalg.eigh(adj)
        n_s, n_r = int(smooth_ratio * size), int(rough_ratio * size)
        filt = np.concatenate([np.exp(beta * value[-n_s:]), np.exp(beta * value[:n_r])])  # weight_feature
        vec = np.concatenate([vector[:, -n_s:], vector[:, :n_r]], 1)
        return ((vec * filt) @ vec.T).astype(np.float32)

    l_u, l_i = filtered(r @ r.T, user_size), filtered(r.T @ r, item_size)

    batches = []  # GDE.py: u uniform, p ~ multinomial(rate[u]), nega ~ multinomial(1 - rate[u])
    for _ in range(n_batches):
        users = rng.integers(0, user_size, batch_size)
        pos = np.array([rng.choice(np.flatnonzero(rate[u])) for u in users])
        neg = np.array([rng.choice(np.flatnonzero(rate[u] == 0)) for u in users])
        batches.append((np.stack([users, pos, neg], 1).astype("int64"), np.ones(batch_size, "float32")))
    return rate, l_u, l_i, batches


def _torch(fix: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(0)
    _, l_u, l_i, batches = _data()

    class GDE(nn.Module):  # program lines (GDE.py), L_u / L_i passed in instead of loaded from .npy files
        def __init__(self, user_size, item_size, L_u, L_i, drop_out=0.1, latent_size=64):
            super(GDE, self).__init__()
            self.user_embed = torch.nn.Embedding(user_size, latent_size)
            self.item_embed = torch.nn.Embedding(item_size, latent_size)
            nn.init.xavier_normal_(self.user_embed.weight)
            nn.init.xavier_normal_(self.item_embed.weight)
            self.drop_out = drop_out
            if drop_out != 0:
                self.m = torch.nn.Dropout(drop_out)
            self.register_buffer("L_u", torch.tensor(L_u))
            self.register_buffer("L_i", torch.tensor(L_i))

        def forward(self, x):  # forward(user, pos_item, nega_item) with the triple as one tensor
            u, p, nega = x[:, 0], x[:, 1], x[:, 2]
            final_user, final_pos, final_nega = (
                (self.m(self.L_u[u]) * (1 - self.drop_out)).mm(self.user_embed.weight),
                (self.m(self.L_i[p]) * (1 - self.drop_out)).mm(self.item_embed.weight),
                (self.m(self.L_i[nega]) * (1 - self.drop_out)).mm(self.item_embed.weight))
            return torch.stack([final_user, final_pos, final_nega], 1)

    def loss_fn(outputs, y):  # the loss lines of GDE.forward, loss_type='bpr'
        final_user, final_pos, final_nega = outputs.unbind(1)
        if fix:  # 8a2c5bf
            out = ((final_user * final_pos).sum(1) - (final_user * final_nega).sum(1)).sigmoid()
        else:
            out = ((final_user * final_pos).sum(1) - (final_pos * final_nega).sum(1)).sigmoid()
        reg_term = reg * (final_user ** 2 + final_pos ** 2 + final_nega ** 2).sum()
        return (-torch.log(out).sum() + reg_term) / batch_size

    model = GDE(user_size, item_size, l_u, l_i, drop_out=drop_out, latent_size=latent_size)
    tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.cat([a for a, _ in tb]),
            "loss_fn": loss_fn, "optimizer": lambda params: torch.optim.SGD(params, lr=learning_rate)}


def _keras(fix: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)
    _, l_u, l_i, batches = _data()

    class GDE(keras.Model):
        def __init__(self):
            super().__init__()
            self.L_u, self.L_i = ops.convert_to_tensor(l_u), ops.convert_to_tensor(l_i)
            self.user_embed = self.add_weight(
                shape=(user_size, latent_size), name="user_embed",
                initializer=keras.initializers.RandomNormal(0.0, (2.0 / (user_size + latent_size)) ** 0.5))
            self.item_embed = self.add_weight(
                shape=(item_size, latent_size), name="item_embed",
                initializer=keras.initializers.RandomNormal(0.0, (2.0 / (item_size + latent_size)) ** 0.5))
            self.m = layers.Dropout(drop_out)

        def call(self, x, training=False):
            x = ops.cast(x, "int32")
            u, p, nega = x[:, 0], x[:, 1], x[:, 2]
            final_user = ops.matmul(self.m(ops.take(self.L_u, u, axis=0), training=training) * (1 - drop_out),
                                    self.user_embed)
            final_pos = ops.matmul(self.m(ops.take(self.L_i, p, axis=0), training=training) * (1 - drop_out),
                                   self.item_embed)
            final_nega = ops.matmul(self.m(ops.take(self.L_i, nega, axis=0), training=training) * (1 - drop_out),
                                    self.item_embed)
            return ops.stack([final_user, final_pos, final_nega], axis=1)

    def bpr_loss(y_true, y_pred):  # per-triple terms; Keras' mean over the batch = the program's / batch_size
        final_user, final_pos, final_nega = y_pred[:, 0], y_pred[:, 1], y_pred[:, 2]
        if fix:
            out = ops.sigmoid(ops.sum(final_user * final_pos, 1) - ops.sum(final_user * final_nega, 1))
        else:
            out = ops.sigmoid(ops.sum(final_user * final_pos, 1) - ops.sum(final_pos * final_nega, 1))
        reg_rows = reg * ops.sum(final_user ** 2 + final_pos ** 2 + final_nega ** 2, axis=1)
        return -ops.log(out) + reg_rows

    model = GDE()
    model(batches[0][0])
    model.compile(loss=bpr_loss, optimizer=keras.optimizers.SGD(learning_rate=learning_rate))
    return {"model": model, "batch": batches[0], "batches": batches,
            "inputs": np.concatenate([a for a, _ in batches])}


def buggy(framework: str) -> dict[str, Any]:
    return _torch(fix=False) if framework == "torch" else _keras(fix=False)


def fixed(framework: str) -> dict[str, Any]:
    return _torch(fix=True) if framework == "torch" else _keras(fix=True)
