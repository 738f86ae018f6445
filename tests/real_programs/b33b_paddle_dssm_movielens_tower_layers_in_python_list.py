"""PaddlePaddle awesome-DeepLearning, chapter 7 (recommendation systems), the MovieLens-1M two-tower
("DSSM") rating model ``chapter-7-Recommendation_System/code/nets/DSSM.py`` trained by ``code/train.py``:
user features (id, gender, age, job embeddings, each through a Linear + ReLU, concatenated, ``Linear(80,
200)`` + tanh) and movie features (id embedding + Linear + ReLU, summed category embeddings + Linear, title
embeddings through two (3, 1) convolutions, concatenated, ``Linear(96, 200)`` + tanh) each go through a tower
of fully connected layers (``fc_sizes = [128, 64, 32]``, ReLU after each), and the predicted rating is
``paddle.scale(cosine_similarity(user, movie), scale=5)``; ``F.square_error_cost`` averaged over the batch,
``paddle.optimizer.Adam(learning_rate=0.001, parameters=model.parameters())``, ``BATCHSIZE = 256``.

The fault: the two towers are built into plain Python lists::

    self._user_layers = []
    for i in range(len(self.fc_sizes)):
        linear = paddle.nn.Linear(in_features=user_sizes[i], out_features=user_sizes[i + 1],
                                  weight_attr=paddle.ParamAttr(initializer=paddle.nn.initializer.Normal(
                                      std=1.0 / math.sqrt(user_sizes[i]))))
        self._user_layers.append(linear)
        if acts[i] == 'relu':
            act = paddle.nn.ReLU()
            self._user_layers.append(act)
    (the same for self._movie_layers)

``paddle.nn.Layer`` (like ``torch.nn.Module``) registers sublayers only when a Layer is assigned to an
attribute (or put in a ``LayerList``), so these six Linear layers (200->128->64->32 in each tower, 72,128
parameters with their biases) are missing from ``model.parameters()`` and from ``model.state_dict()``.
forward() still runs them, so the model trains, but the optimizer never updates them (they stay at their random
initial values), and the checkpoint that ``train()`` saves every epoch lacks them: ``evaluation()`` builds a
fresh ``Model``, loads the checkpoint and predicts through *new* random tower layers -- the "prediction and
training mismatch" of the commit message.

Source: github.com/PaddlePaddle/awesome-DeepLearning, ``chapter-7-Recommendation_System/code/nets/DSSM.py``
(and ``code/train.py``, ``code/movielens_dataset.py``) at 8136753d9^; fixed by commit
8136753d96816c53f0da9c00abb11984116e8416 "fix the prediction and training mismatch bug", which registers
every tower layer: ``self.add_sublayer('linear_user_%d' % i, linear)``, ``self.add_sublayer('user_act_%d' % i,
act)`` (and ``linear_movie_%d`` / ``movie_act_%d``).
Fault label: params_not_updated (the tower weights are used in forward but never trained, and never saved).

Ported (Paddle -> PyTorch, whose ``nn.Module`` has the same registration rule): the model's own lines --
embedding/Linear/conv sizes, the towers built into Python lists (buggy) or also registered with
``self.add_module(...)`` (fixed, the torch spelling of ``add_sublayer``), the tanh / ReLU placement, the
cosine similarity times 5 -- and train.py's configuration (``use_poster, use_mov_title, use_mov_cat,
use_age_job = False, True, True, True``, ``fc_sizes = [128, 64, 32]``, Adam 1e-3, batches of 256, mean squared
error). Paddle's initialisers are kept: Xavier-uniform weights and zero biases for the Embedding and Linear
layers without a ``weight_attr``, Normal(0, 1/sqrt(fan_in)) for the tower layers (as written), Normal(0,
sqrt(2/fan_in)) for the convolutions; the ``paddle.nn.Linear`` weight layout (in, out) is torch's transposed,
which does not matter here. The program feeds the model two lists of tensors (``usr_v``, ``mov_v``); here the
eight fields are packed into one int64 tensor of 26 columns (user id, gender, age, job, movie id, 6 category
ids, 15 title word ids) that forward() slices back, and the title keeps its ``[B, 1, 15]`` shape before the
embedding, so the convolutions see the program's NCHW ``[B, 1, 15, 32]``. The poster branch is off in the
program (``use_poster=False``) and left out.
Keras: not ported -- Keras 3 tracks layers held in a list attribute of a Layer / Model, so the fault cannot
occur there.
Data stand-in (no MovieLens-1M download): the program's field layout and ranges -- 6,040 users (28 % women;
ages 1/18/25/35/45/50/56 with ML-1M's mix; 21 jobs), 3,952 movies (1-6 of 18 genres padded with 0 to 6;
1-7 title words of a 5,215-word vocabulary padded with 0 to 15; Zipf-like popularity), integer ratings 1..5
(ML-1M mean 3.58) from a seeded model: 3.58 + movie quality + user bias + a (gender, age) x genre taste +
noise, rounded and clipped (ratings over the 4,096 generated rows: 1 %, 8 %, 32 %, 41 %, 19 %; mean 3.68,
variance 0.82); 8 batches of 256 rows, drawn in random order as ``load_data`` shuffles them (fixed seed).

Symptom in a plain loop (measured by the porting helper, OMP_NUM_THREADS=1, the dicts returned here --
torch.manual_seed(0) --, Adam 1e-3 cycling over the 8 batches, MSE over all 2,048 rows): after 100 steps the
first user-tower Linear's weights changed by max |dW| = 0.0 (buggy) vs 0.054 (fixed); ``model.parameters()``
holds 463,624 values (buggy) vs 535,752 (fixed), ``state_dict()`` 27 vs 39 tensors. The training loss itself
falls in both (the layers below the towers compensate): step 0 4.70 / 4.70, step 10 0.81 / 0.82, step 30
0.71 / 0.74, step 60 0.24 / 0.26, step 100 0.18 / 0.50 (buggy / fixed; the fixed run is on an Adam bump
there); one batch, 200 steps: 5.15 -> 0.001 vs 5.15 -> 0.0002. The program's own symptom, the save / reload
mismatch: the state_dict after 60 steps loaded into a freshly built Model (torch.manual_seed(1), as
``evaluation()`` builds one) gives MSE 8.83 (buggy; predictions moved by up to 4.2 rating points) vs 0.257
(fixed; identical predictions) against 0.236 / 0.257 for the trained models. About 8 ms a training step on one
CPU thread.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

LABEL = "params_not_updated"
SOURCE = ("github:PaddlePaddle/awesome-DeepLearning chapter-7-Recommendation_System/code/nets/DSSM.py@8136753d9^ "
          "(code/train.py, code/movielens_dataset.py; fix 8136753d96816c53f0da9c00abb11984116e8416 'fix the "
          "prediction and training mismatch bug': add_sublayer for the tower layers)")
FRAMEWORKS = ("torch",)
CHECKS = [("gradients_flow", {}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("not_constant_predictions", {})]

# train.py
fc_sizes = [128, 64, 32]
BATCHSIZE = 256
lr = 0.001
n_batches = 8
# MovieLens-1M ranges (movielens_dataset.py: max ids, len(movie_cat) = 18 genres, 5,215 title words)
N_USR, N_MOV, N_CAT, N_TIT = 6040, 3952, 18, 5215
AGES = np.array([1, 18, 25, 35, 45, 50, 56])
AGE_P = np.array([0.037, 0.183, 0.347, 0.197, 0.083, 0.082, 0.071])


@functools.lru_cache(maxsize=1)
def _movielens_like(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 26) int64 rows [usr_id, gender, age, job, mov_id, cat x6, title x15] and (n, 1) float32 scores."""
    rng = np.random.default_rng(seed)
    gender = (rng.random(N_USR + 1) < 0.28).astype(int)  # gender2num: F -> 1
    age_i = rng.choice(7, N_USR + 1, p=AGE_P / AGE_P.sum())
    age = AGES[age_i]
    job = rng.integers(0, 21, N_USR + 1)
    b_u = rng.normal(0, 0.35, N_USR + 1)
    n_g = rng.choice([1, 2, 3, 4, 5, 6], N_MOV + 1, p=[0.45, 0.3, 0.15, 0.06, 0.03, 0.01])
    cat = np.zeros((N_MOV + 1, 6), int)  # padded with 0 to 6
    for m in range(N_MOV + 1):
        cat[m, :n_g[m]] = rng.choice(np.arange(1, N_CAT + 1), n_g[m], replace=False)
    tit = np.zeros((N_MOV + 1, 15), int)  # padded with 0 to 15
    n_w = rng.integers(1, 8, N_MOV + 1)
    for m in range(N_MOV + 1):
        tit[m, :n_w[m]] = rng.integers(1, N_TIT + 1, n_w[m])
    q_m = rng.normal(0, 0.5, N_MOV + 1)
    taste = rng.normal(0, 0.6, (2, 7, N_CAT + 1))
    taste[:, :, 0] = 0
    pop = 1.0 / np.arange(1, N_MOV + 1) ** 0.9
    pop = rng.permutation(pop / pop.sum())
    n = 2 * n_batches * BATCHSIZE  # 16 batches are drawn; the first 8 are returned
    u = rng.integers(1, N_USR + 1, n)
    m = 1 + rng.choice(N_MOV, n, p=pop)
    t = taste[gender[u][:, None], age_i[u][:, None], cat[m]].sum(1) / np.maximum((cat[m] > 0).sum(1), 1)
    score = np.clip(np.rint(3.58 + q_m[m] + b_u[u] + t + rng.normal(0, 0.5, n)), 1, 5)
    x = np.concatenate([u[:, None], gender[u][:, None], age[u][:, None], job[u][:, None], m[:, None],
                        cat[m], tit[m]], 1).astype("int64")
    return x, score.astype("float32")[:, None]


def _build(fix: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.manual_seed(0)

    def xavier(layer):  # Paddle's default for Embedding / Linear without weight_attr
        nn.init.xavier_uniform_(layer.weight)
        if getattr(layer, "bias", None) is not None:
            nn.init.zeros_(layer.bias)
        return layer

    def conv(*args, **kwargs):  # Paddle's Conv2D default: Normal(0, sqrt(2 / fan_in)), zero bias
        layer = nn.Conv2d(*args, **kwargs)
        nn.init.normal_(layer.weight, 0.0, math.sqrt(2.0 / layer.weight[0].numel()))
        nn.init.zeros_(layer.bias)
        return layer

    class Model(nn.Module):  # DSSM.py, use_poster=False, use_mov_title=True, use_mov_cat=True, use_age_job=True
        def __init__(self, fc_sizes):
            super(Model, self).__init__()
            self.fc_sizes = fc_sizes
            usr_embedding_dim = 32
            gender_embeding_dim = 16
            age_embedding_dim = 16
            job_embedding_dim = 16
            mov_embedding_dim = 16
            category_embedding_dim = 16
            title_embedding_dim = 32

            USR_ID_NUM = N_USR + 1
            self.usr_emb = xavier(nn.Embedding(USR_ID_NUM, usr_embedding_dim))
            self.usr_fc = xavier(nn.Linear(usr_embedding_dim, 32))
            USR_GENDER_DICT_SIZE = 2
            self.usr_gender_emb = xavier(nn.Embedding(USR_GENDER_DICT_SIZE, gender_embeding_dim))
            self.usr_gender_fc = xavier(nn.Linear(gender_embeding_dim, 16))
            USR_AGE_DICT_SIZE = int(AGES.max()) + 1
            self.usr_age_emb = xavier(nn.Embedding(USR_AGE_DICT_SIZE, age_embedding_dim))
            self.usr_age_fc = xavier(nn.Linear(age_embedding_dim, 16))
            USR_JOB_DICT_SIZE = 20 + 1
            self.usr_job_emb = xavier(nn.Embedding(USR_JOB_DICT_SIZE, job_embedding_dim))
            self.usr_job_fc = xavier(nn.Linear(job_embedding_dim, 16))
            self.usr_combined = xavier(nn.Linear(80, 200))

            MOV_DICT_SIZE = N_MOV + 1
            self.mov_emb = xavier(nn.Embedding(MOV_DICT_SIZE, mov_embedding_dim))
            self.mov_fc = xavier(nn.Linear(mov_embedding_dim, 32))
            CATEGORY_DICT_SIZE = N_CAT + 1
            self.mov_cat_emb = xavier(nn.Embedding(CATEGORY_DICT_SIZE, category_embedding_dim))
            self.mov_cat_fc = xavier(nn.Linear(category_embedding_dim, 32))
            MOV_TITLE_DICT_SIZE = N_TIT + 1
            self.mov_title_emb = xavier(nn.Embedding(MOV_TITLE_DICT_SIZE, title_embedding_dim))
            self.mov_title_conv = conv(1, 1, kernel_size=(3, 1), stride=(2, 1), padding=0)
            self.mov_title_conv2 = conv(1, 1, kernel_size=(3, 1), stride=1, padding=0)
            self.mov_concat_embed = xavier(nn.Linear(96, 200))

            user_sizes = [200] + self.fc_sizes
            acts = ["relu" for _ in range(len(self.fc_sizes))]
            self._user_layers = []
            for i in range(len(self.fc_sizes)):
                linear = nn.Linear(user_sizes[i], user_sizes[i + 1])
                nn.init.normal_(linear.weight, 0.0, 1.0 / math.sqrt(user_sizes[i]))
                nn.init.zeros_(linear.bias)
                self._user_layers.append(linear)
                if fix:  # 8136753d9
                    self.add_module('linear_user_%d' % i, linear)
                if acts[i] == 'relu':
                    act = nn.ReLU()
                    self._user_layers.append(act)
                    if fix:
                        self.add_module('user_act_%d' % i, act)

            movie_sizes = [200] + self.fc_sizes
            acts = ["relu" for _ in range(len(self.fc_sizes))]
            self._movie_layers = []
            for i in range(len(self.fc_sizes)):
                linear = nn.Linear(movie_sizes[i], movie_sizes[i + 1])
                nn.init.normal_(linear.weight, 0.0, 1.0 / math.sqrt(movie_sizes[i]))
                nn.init.zeros_(linear.bias)
                self._movie_layers.append(linear)
                if fix:  # 8136753d9
                    self.add_module('linear_movie_%d' % i, linear)
                if acts[i] == 'relu':
                    act = nn.ReLU()
                    self._movie_layers.append(act)
                    if fix:
                        self.add_module('movie_act_%d' % i, act)

        def get_usr_feat(self, usr_var):
            usr_id, usr_gender, usr_age, usr_job = usr_var
            feats_collect = []
            feats_collect.append(F.relu(self.usr_fc(self.usr_emb(usr_id))))
            feats_collect.append(F.relu(self.usr_gender_fc(self.usr_gender_emb(usr_gender))))
            feats_collect.append(F.relu(self.usr_age_fc(self.usr_age_emb(usr_age))))
            feats_collect.append(F.relu(self.usr_job_fc(self.usr_job_emb(usr_job))))
            usr_feat = torch.cat(feats_collect, dim=1)
            user_features = torch.tanh(self.usr_combined(usr_feat))
            for n_layer in self._user_layers:
                user_features = n_layer(user_features)
            return user_features

        def get_mov_feat(self, mov_var):
            mov_id, mov_cat, mov_title = mov_var
            feats_collect = []
            batch_size = mov_id.shape[0]
            feats_collect.append(F.relu(self.mov_fc(self.mov_emb(mov_id))))
            mov_cat = torch.sum(self.mov_cat_emb(mov_cat), dim=1)
            feats_collect.append(self.mov_cat_fc(mov_cat))
            mov_title = self.mov_title_emb(mov_title)  # [B, 1, 15, 32]
            mov_title = F.relu(self.mov_title_conv2(F.relu(self.mov_title_conv(mov_title))))
            mov_title = torch.sum(mov_title, dim=2)
            mov_title = F.relu(mov_title)
            feats_collect.append(torch.reshape(mov_title, [batch_size, -1]))
            mov_feat = torch.cat(feats_collect, dim=1)
            mov_features = torch.tanh(self.mov_concat_embed(mov_feat))
            for n_layer in self._movie_layers:
                mov_features = n_layer(mov_features)
            return mov_features

        def forward(self, x):  # forward(usr_var, mov_var) with the fields packed in one int64 tensor
            usr_var = [x[:, 0], x[:, 1], x[:, 2], x[:, 3]]
            mov_var = [x[:, 4], x[:, 5:11], x[:, 11:26].reshape(-1, 1, 15)]
            user_features = self.get_usr_feat(usr_var)
            mov_features = self.get_mov_feat(mov_var)
            sim = F.cosine_similarity(user_features, mov_features, dim=1).reshape([-1, 1])
            return sim * 5  # paddle.scale(sim, scale=5); the program also returns both feature vectors

    x, y = _movielens_like()
    n = n_batches * BATCHSIZE
    xt, yt = torch.tensor(x[:n]), torch.tensor(y[:n])
    batches = [(xt[i:i + BATCHSIZE], yt[i:i + BATCHSIZE]) for i in range(0, n, BATCHSIZE)]

    def loss_fn(scores_predict, scores_label):  # paddle.mean(F.square_error_cost(pred, label))
        return torch.mean((scores_predict - scores_label) ** 2)

    return {"model": Model(fc_sizes), "batch": batches[0], "batches": batches, "inputs": xt,
            "loss_fn": loss_fn, "optimizer": lambda params: torch.optim.Adam(params, lr=lr)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fix=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fix=True)
