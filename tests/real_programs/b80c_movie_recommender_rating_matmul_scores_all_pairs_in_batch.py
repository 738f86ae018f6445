"""chengstone/movie_recommender (a MovieLens-1M rating predictor in TensorFlow 1.x, with a CSDN blog post and a Zhihu
column). ``movie_recommender.ipynb`` builds two towers. The user tower looks up UserID, Gender, Age and JobID in
``tf.random_uniform(..., -1, 1)`` embedding matrices (widths 32 / 16 / 16 / 16), passes each through its own
``tf.layers.dense(embed_dim=32, relu)``, concatenates them to (?, 1, 128) and applies
``tf.contrib.layers.fully_connected(200, tf.tanh)`` -> ``user_combine_layer_flat`` (?, 200). The movie tower embeds
MovieID, sums the embeddings of the 18 padded genre ids (``combiner = "sum"``), and runs a text CNN over the 15
padded title-word ids (window sizes {2, 3, 4, 5}, 8 filters each, ``truncated_normal(stddev=0.1)`` kernels, bias 0.1,
max-pool over time, ``tf.nn.dropout`` with keep 0.5). A dense relu is applied to the id and genre parts, everything is
concatenated and ``fully_connected(200, tf.tanh)`` gives ``movie_combine_layer_flat`` (?, 200). The rating is then
``inference`` under ``cost = tf.losses.mean_squared_error(targets, inference)``, ``loss = tf.reduce_mean(cost)``,
``tf.train.AdamOptimizer(0.0001)``, batch 256, 5 epochs over an 80 % split of the 1M ratings.

The fault (the inference head): ``inference = tf.matmul(user_combine_layer_flat,
tf.transpose(movie_combine_layer_flat))``. For a batch of B (user, movie) pairs this is the (B, B) matrix of every
user of the batch against every movie of the batch, not one score per pair. ``mean_squared_error`` does not reject it:
the targets are (B, 1), the shapes [?, 1] and [?, ?] count as compatible, and the targets broadcast along the
columns. The loss becomes the mean over i, j of (r_i - u_i . m_j)^2: user i's rating has to be predicted from
user i together with every movie in the batch. The minimiser gives each user one score, the same for whatever movie
(the movie vectors are pushed towards a common direction and carry no movie information). So the model learns only
per-user average ratings, and it is exactly the movie-dependent part of a rating (what a recommender exists to
predict) that is never learnt. The training loss still falls, to roughly the variance left once the user means are
removed (the notebook's saved output, from the buggy run: train loss 12.3 at the first step, 3.6 at step 20,
then mostly 0.9-1.4 from epoch 1 to 4; test loss 0.9-1.5). At prediction time ``rating_movie`` feeds one pair, and
the 1 x 1 matmul then reads u . m, a number the training never fitted per pair. Issue #2 (labelled bug; a reader,
translated: "this gives a matrix, it cannot be compared with Y directly; it should be an element-wise product"; the
author: "Yes, you are right, it should be the element-wise product summed; the code is changed").

Source: github.com/chengstone/movie_recommender ``movie_recommender.ipynb`` at
dc378faa6fb1851bce9067898797ce80e4382007 (= c1803ff^; the head as first committed in 6a434ae), issue #2, fixed by
c1803fff3d86c97e6c4e59e1c75f1e7ae652faed (message, translated: "inference wrongly used a matrix product whose shape
differs from targets: the matmul gives [batch_size, batch_size], not targets' [batch_size, 1], a wrong MSE; the
element-wise product summed gives one user's rating of one movie instead of a rating matrix of many users x many
movies"): ``inference = tf.reduce_sum(user_combine_layer_flat * movie_combine_layer_flat, axis=1)``;
``inference = tf.expand_dims(inference, axis=1)``. The follow-up 429188b renames the tensor that prediction reads
(``inference/MatMul:0`` -> ``inference/ExpandDims:0``).
Fault label: target_shape|batch_mixing (a (B, B) prediction silently broadcast against (B, 1) targets, each row
made from the other samples' movies).

Program lines kept: every layer of ``get_user_embedding`` / ``get_user_feature_layer`` / ``get_movie_id_embed_layer``
/ ``get_movie_categories_layers`` / ``get_movie_cnn_layer`` / ``get_movie_feature_layer`` with the notebook's widths
(embed_dim 32, 16-wide gender / age / job embeddings, 200-unit tanh towers, 4 x 8 title filters) and initialisers
(uniform(-1, 1) embeddings, Glorot-uniform dense kernels with zero bias, truncated-normal(0.1) conv kernels with 0.1
bias), dropout keep 0.5 on the title features in training, the matmul head (buggy) vs the sum-of-products head
(fixed), the mean-over-all-elements MSE, Adam(lr 1e-4, epsilon 1e-8 as in TF 1.x), batch 256. Nothing shrunk.
Ported: TF 1.x graph -> Keras 3 functional model (``keras.ops.matmul`` / ``ops.transpose`` for ``tf.matmul`` /
``tf.transpose``; Conv2D (window, 32) on the (15, 32, 1) title image + MaxPooling2D as the notebook's conv2d /
max_pool; Keras' ``mean_squared_error`` means over the last axis then over the batch, i.e. over all B x B elements as
TF 1.x did), and a torch twin with the same layers and initialisers (NCHW conv, ``torch.matmul(u, m.T)``; the loss
``mean((targets - inference) ** 2)`` over the broadcast (B, B), what ``tf.losses.mean_squared_error`` computes). The
seven placeholders (uid, movie_id, gender, age, job, 18 genre ids, 15 title ids) are passed as one (batch, 38) int32
array sliced inside the model, so a batch is a plain (x, y) pair; y is the (batch, 1) rating (the program feeds int32,
cast to float by the loss).
Data stand-in (no ml-1m.zip download): a seeded MovieLens-1M-like table after ``load_data``: 600 users (gender 72 %
M, 7 age groups with ML-1M's proportions, 21 jobs), 400 movies with 1-3 of 18 genres padded to 18 with a '<PAD>' id,
titles of 1-6 words (half from a word pool of the first genre) padded to 15 from a 951-word vocabulary; IDs start at
1 and the table sizes follow the notebook's ``max(...) + 1`` rule. Ratings 1..5 (rounded, clipped): 3.6 + a user
bias + a genre-driven movie bias + 0.55 x (taste from gender / age / job) . (genre profile) + noise (N(0, 0.45));
mean 3.47, variance 1.19, shares 5 / 13 / 31 / 32 / 19 % (ML-1M: 3.58, 1.25, 6 / 11 / 26 / 35 / 23 %). The world is
smaller than ML-1M (6040 users, 3883 movies) so that each id recurs in 100 batches (~43 ratings per user, ~64 per
movie), as it does over the program's 3125 batches an epoch. ``batches``: 100 distinct batches of 256 ratings;
``batch``: the first; ``inputs``: 256 held-out rows.

Measured (my own plain loops, OMP_NUM_THREADS=1, SEED 0, the module's builds; /tmp/s51/h80_c/measure.py: the 100
batches in order for 20 epochs = 2000 steps; "per-pair MSE" = the squared error of the score of each (user, movie)
pair, i.e. the diagonal of the buggy (B, B) output, in eval mode; held-out = the 256 ``inputs``; predicting the
training mean gives held-out MSE 1.135, each user's training mean 1.071):
  loss at step 1: torch 23.5 / 24.0 (buggy / fixed), Keras 14.6 / 14.7 (the notebook's first printed loss: 12.3).
  torch, at steps 300 / 500 / 1000 / 1500 / 2000:
    training loss (mean of the last 100 steps) buggy 1.46 1.27 1.16 1.12 1.09, fixed 1.40 1.15 0.97 0.86 0.77
    held-out per-pair MSE                      buggy 1.16 1.13 1.10 1.09 1.09, fixed 1.10 1.01 0.93 0.86 0.79
    held-out correlation with the rating       buggy 0.20 0.21 0.22 0.23 0.24, fixed 0.29 0.35 0.43 0.49 0.55
  Keras, same steps:
    training loss   buggy 1.34 1.22 1.13 1.09 1.07, fixed 1.28 1.12 0.91 0.79 0.70
    held-out MSE    buggy 1.27 1.19 1.13 1.11 1.10, fixed 1.22 1.10 0.90 0.77 0.70
    held-out corr.  buggy 0.08 0.13 0.19 0.21 0.23, fixed 0.18 0.28 0.46 0.56 0.63
  So the buggy program stalls near the user-mean level (held-out MSE ~1.1, no better than each user's mean rating),
  while the fixed one keeps improving; over the first ~200 steps (both shrinking the large random initial scores)
  the two are alike. The buggy (B, B) output on the held-out rows after 1000 steps: within-row std (one user, 256
  movies) 0.16 torch / 0.10 Keras against within-column std (one movie, 256 users) 0.39 / 0.38: the score hardly
  depends on the movie.
  Other seeds (data and init, 1000 steps, /tmp/s51/h80_c/measure2.py), held-out per-pair MSE buggy / fixed
  (training-mean baseline): seed 1 torch 1.66 / 0.76, Keras 1.66 / 0.72 (1.80); seed 2 torch 1.48 / 0.96 (1.45).
  One batch repeated 300 steps (/tmp/s51/h80_c/measure3.py), the program's loss at steps 1 / 10 / 50 / 100 / 300:
    torch buggy 23.5 7.66 2.56 1.55 0.77, fixed 24.0 7.65 2.60 1.32 0.43; Keras buggy 14.6 6.52 1.88 1.27 0.63,
    fixed 14.7 6.82 1.66 1.05 0.31: the buggy broadcast loss also falls on one batch (each user can be given its
    own constant), only more slowly.
  Time per step (batch 256, one thread): torch ~24 ms, Keras ``train_on_batch`` ~20 ms; first build (imports, data)
  torch ~5 s, Keras ~11 s; later builds < 0.1 s torch, ~0.4 s Keras; rebuilding gives identical weights, data and
  outputs.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "target_shape|batch_mixing"
SOURCE = ("github:chengstone/movie_recommender issue #2 (movie_recommender.ipynb"
          "@dc378faa6fb1851bce9067898797ce80e4382007 = c1803ff^: "
          "'inference = tf.matmul(user_combine_layer_flat, tf.transpose(movie_combine_layer_flat))' "
          "with tf.losses.mean_squared_error(targets, inference); fix c1803fff3d86c97e6c4e59e1c75f1e7ae652faed: "
          "reduce_sum(user_combine_layer_flat * movie_combine_layer_flat, axis=1) + expand_dims)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("input_independent_baseline", {}), ("batch_independence", {})]

# the notebook's hyper-parameters
embed_dim = 32
combiner = "sum"
window_sizes = {2, 3, 4, 5}
filter_num = 8
batch_size = 256
dropout_keep = 0.5
learning_rate = 0.0001
GENRES_LEN = 18  # movie_categories placeholder [None, 18]
title_count = 15  # movie_titles placeholder [None, 15]; sentences_size = title_count
sentences_size = title_count
# stand-in world (MovieLens-1M has 6040 users, 3883 movies, 18 genres, 5215 title words)
N_USERS = 600
N_MOVIES = 400
N_TITLE_WORDS = 951  # 19 pools of 50 words + <PAD>
N_BATCHES = 100
N_INPUTS = 256
SEED = 0
# packed input row: uid, movie_id, gender, age, job, 18 genre ids, 15 title word ids (the order of load_data's
# feature columns: UserID, MovieID, Gender, Age, JobID, Title, Genres, with Title and Genres expanded)
N_COLS = 5 + GENRES_LEN + title_count


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """A MovieLens-1M-like table after load_data(): x (n, 38) int32 packed ids, y (n, 1) float32 ratings 1..5."""
    r = np.random.default_rng(SEED)
    n_genres = 18
    # users.dat: Gender F/M -> 0/1, Age in 7 groups -> 0..6 (set order), OccupationID 0..20
    gender = (r.random(N_USERS) < 0.72).astype(int)
    age = r.choice(7, N_USERS, p=[0.04, 0.18, 0.35, 0.20, 0.09, 0.08, 0.06])
    job = r.integers(0, 21, N_USERS)
    # movies.dat: 1-3 genres each; genres2int over the 18 genres + '<PAD>' in set order
    gp = r.dirichlet(np.full(n_genres, 1.5))
    genre_lists = [sorted(set(r.choice(n_genres, int(r.integers(1, 4)), p=gp).tolist())) for _ in range(N_MOVIES)]
    genres2int = {g: i for i, g in enumerate(r.permutation(n_genres + 1))}  # key n_genres = '<PAD>'
    pad_genre = genres2int[n_genres]
    # titles: 1-6 words, half of them from a pool tied to the movie's first genre; title2int with '<PAD>'
    pools = r.permutation(N_TITLE_WORDS - 1).reshape(n_genres + 1, -1)  # 18 genre pools + a generic pool
    title2int = {w: i for i, w in enumerate(r.permutation(N_TITLE_WORDS))}  # word N_TITLE_WORDS - 1 = '<PAD>'
    pad_word = title2int[N_TITLE_WORDS - 1]
    genres = np.full((N_MOVIES, GENRES_LEN), pad_genre)
    titles = np.full((N_MOVIES, title_count), pad_word)
    for k, gl in enumerate(genre_lists):
        genres[k, :len(gl)] = [genres2int[g] for g in gl]
        n_words = int(r.integers(1, 7))
        words = [r.choice(pools[gl[0]] if r.random() < 0.5 else pools[n_genres]) for _ in range(n_words)]
        titles[k, :n_words] = [title2int[w] for w in words]
    # ratings: a user bias + a genre-driven movie bias + a taste (gender, age, job) x genre-profile interaction,
    # small per-user / per-movie parts and noise, rounded to 1..5
    gvec, gbias = r.normal(0, 1, (n_genres, 4)), r.normal(0, 0.6, n_genres)
    a_g, a_a, a_j = r.normal(0, .7, (2, 4)), r.normal(0, .7, (7, 4)), r.normal(0, .7, (21, 4))
    taste = a_g[gender] + a_a[age] + a_j[job] + r.normal(0, .3, (N_USERS, 4))
    profile = np.stack([gvec[gl].mean(0) for gl in genre_lists]) + r.normal(0, .2, (N_MOVIES, 4))
    b_user = r.normal(0, .35, N_USERS)
    b_movie = np.array([gbias[gl].mean() for gl in genre_lists]) + r.normal(0, .2, N_MOVIES)
    ua = np.minimum(r.zipf(1.6, N_USERS), 50).astype(float)
    ma = np.minimum(r.zipf(1.4, N_MOVIES), 80).astype(float)
    n = N_BATCHES * batch_size + N_INPUTS
    u = r.choice(N_USERS, n, p=0.5 * ua / ua.sum() + 0.5 / N_USERS)
    m = r.choice(N_MOVIES, n, p=0.5 * ma / ma.sum() + 0.5 / N_MOVIES)
    score = 3.6 + b_user[u] + b_movie[m] + 0.55 * (taste[u] * profile[m]).sum(1) + r.normal(0, .45, n)
    y = np.clip(np.round(score), 1, 5).astype("float32").reshape(-1, 1)
    x = np.concatenate([(u + 1)[:, None], (m + 1)[:, None], gender[u][:, None], age[u][:, None], job[u][:, None],
                        genres[m], titles[m]], axis=1).astype("int32")
    # the notebook's maxima: uid_max = max(UserID) + 1, movie_id_max = max(MovieID) + 1, ...
    sizes = {"uid_max": N_USERS + 1, "gender_max": 2, "age_max": 7, "job_max": 21, "movie_id_max": N_MOVIES + 1,
             "movie_categories_max": n_genres + 1, "movie_title_max": N_TITLE_WORDS}
    return x, y, sizes


def _common() -> dict[str, Any]:
    x, y, _ = _data()
    n = N_BATCHES * batch_size
    bs = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, n, batch_size)]
    return {"batch": bs[0], "batches": bs, "inputs": x[n:]}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    from tests.real_programs._nets import torch_dense

    _, _, s = _data()
    torch.manual_seed(SEED)

    def embed_matrix(n: int, d: int) -> nn.Embedding:  # tf.Variable(tf.random_uniform([n, d], -1, 1))
        e = nn.Embedding(n, d)
        nn.init.uniform_(e.weight, -1, 1)
        return e

    class MovieRecommender(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            # get_user_embedding
            self.uid_embed_matrix = embed_matrix(s["uid_max"], embed_dim)
            self.gender_embed_matrix = embed_matrix(s["gender_max"], embed_dim // 2)
            self.age_embed_matrix = embed_matrix(s["age_max"], embed_dim // 2)
            self.job_embed_matrix = embed_matrix(s["job_max"], embed_dim // 2)
            # get_user_feature_layer: tf.layers.dense / fully_connected (Glorot-uniform kernel, zero bias)
            self.uid_fc_layer = torch_dense(embed_dim, embed_dim)
            self.gender_fc_layer = torch_dense(embed_dim // 2, embed_dim)
            self.age_fc_layer = torch_dense(embed_dim // 2, embed_dim)
            self.job_fc_layer = torch_dense(embed_dim // 2, embed_dim)
            self.user_combine = torch_dense(4 * embed_dim, 200)
            # get_movie_id_embed_layer, get_movie_categories_layers, get_movie_cnn_layer
            self.movie_id_embed_matrix = embed_matrix(s["movie_id_max"], embed_dim)
            self.movie_categories_embed_matrix = embed_matrix(s["movie_categories_max"], embed_dim)
            self.movie_title_embed_matrix = embed_matrix(s["movie_title_max"], embed_dim)
            self.convs = nn.ModuleList()
            for window_size in window_sizes:
                conv = nn.Conv2d(1, filter_num, (window_size, embed_dim))  # padding="VALID"
                nn.init.trunc_normal_(conv.weight, std=0.1, a=-0.2, b=0.2)  # tf.truncated_normal(stddev=0.1)
                nn.init.constant_(conv.bias, 0.1)  # tf.constant(0.1, shape=[filter_num])
                self.convs.append(conv)
            self.dropout = nn.Dropout(1 - dropout_keep)  # tf.nn.dropout(pool_layer_flat, dropout_keep_prob)
            # get_movie_feature_layer
            self.movie_id_fc_layer = torch_dense(embed_dim, embed_dim)
            self.movie_categories_fc_layer = torch_dense(embed_dim, embed_dim)
            self.movie_combine = torch_dense(2 * embed_dim + len(window_sizes) * filter_num, 200)

        def forward(self, x: Any) -> Any:
            x = x.long()
            uid, movie_id = x[:, 0:1], x[:, 1:2]
            user_gender, user_age, user_job = x[:, 2:3], x[:, 3:4], x[:, 4:5]
            movie_categories, movie_titles = x[:, 5:5 + GENRES_LEN], x[:, 5 + GENRES_LEN:]
            relu = torch.relu
            # user tower: (?, 1, 32) x 4 -> (?, 1, 128) -> (?, 1, 200) -> (?, 200)
            uid_fc_layer = relu(self.uid_fc_layer(self.uid_embed_matrix(uid)))
            gender_fc_layer = relu(self.gender_fc_layer(self.gender_embed_matrix(user_gender)))
            age_fc_layer = relu(self.age_fc_layer(self.age_embed_matrix(user_age)))
            job_fc_layer = relu(self.job_fc_layer(self.job_embed_matrix(user_job)))
            user_combine_layer = torch.cat([uid_fc_layer, gender_fc_layer, age_fc_layer, job_fc_layer], 2)
            user_combine_layer = torch.tanh(self.user_combine(user_combine_layer))
            user_combine_layer_flat = torch.reshape(user_combine_layer, [-1, 200])
            # movie tower
            movie_id_embed_layer = self.movie_id_embed_matrix(movie_id)
            movie_categories_embed_layer = self.movie_categories_embed_matrix(movie_categories)
            if combiner == "sum":
                movie_categories_embed_layer = torch.sum(movie_categories_embed_layer, dim=1, keepdim=True)
            movie_title_embed_layer_expand = self.movie_title_embed_matrix(movie_titles).unsqueeze(1)  # NCHW
            pool_layer_lst = []
            for window_size, conv in zip(window_sizes, self.convs):
                relu_layer = relu(conv(movie_title_embed_layer_expand))
                maxpool_layer = nn.functional.max_pool2d(relu_layer, (sentences_size - window_size + 1, 1), 1)
                pool_layer_lst.append(maxpool_layer)
            pool_layer = torch.cat(pool_layer_lst, 1)
            pool_layer_flat = torch.reshape(pool_layer, [-1, 1, len(window_sizes) * filter_num])
            dropout_layer = self.dropout(pool_layer_flat)
            movie_id_fc_layer = relu(self.movie_id_fc_layer(movie_id_embed_layer))
            movie_categories_fc_layer = relu(self.movie_categories_fc_layer(movie_categories_embed_layer))
            movie_combine_layer = torch.cat([movie_id_fc_layer, movie_categories_fc_layer, dropout_layer], 2)
            movie_combine_layer = torch.tanh(self.movie_combine(movie_combine_layer))
            movie_combine_layer_flat = torch.reshape(movie_combine_layer, [-1, 200])
            # inference
            if fixed:  # c1803ff: one rating per (user, movie) row
                inference = torch.sum(user_combine_layer_flat * movie_combine_layer_flat, dim=1)
                inference = torch.unsqueeze(inference, dim=1)
            else:  # every user of the batch against every movie of the batch: (?, ?)
                inference = torch.matmul(user_combine_layer_flat, torch.transpose(movie_combine_layer_flat, 0, 1))
            return inference

    model = MovieRecommender()

    def loss_fn(inference: Any, targets: Any) -> Any:
        # tf.losses.mean_squared_error(targets, inference): (targets - inference)^2 broadcast, mean over all
        # elements; loss = tf.reduce_mean(cost)
        cost = torch.mean(torch.square(targets.float() - inference))
        return torch.mean(cost)

    c = _common()
    t = torch.from_numpy
    bs = [(t(x), t(y)) for x, y in c["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(c["inputs"]), "loss_fn": loss_fn,
            "optimizer": torch.optim.Adam(model.parameters(), lr=learning_rate, eps=1e-8)}  # tf.train.AdamOptimizer


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    _, _, s = _data()
    keras.utils.set_random_seed(SEED)
    uniform = keras.initializers.RandomUniform(-1, 1)  # tf.random_uniform([n, d], -1, 1)

    inp = keras.Input(shape=(N_COLS,), dtype="int32")
    uid, movie_id = inp[:, 0:1], inp[:, 1:2]
    user_gender, user_age, user_job = inp[:, 2:3], inp[:, 3:4], inp[:, 4:5]
    movie_categories, movie_titles = inp[:, 5:5 + GENRES_LEN], inp[:, 5 + GENRES_LEN:]

    # get_user_embedding
    uid_embed_layer = layers.Embedding(s["uid_max"], embed_dim, embeddings_initializer=uniform)(uid)
    gender_embed_layer = layers.Embedding(s["gender_max"], embed_dim // 2, embeddings_initializer=uniform)(
        user_gender)
    age_embed_layer = layers.Embedding(s["age_max"], embed_dim // 2, embeddings_initializer=uniform)(user_age)
    job_embed_layer = layers.Embedding(s["job_max"], embed_dim // 2, embeddings_initializer=uniform)(user_job)
    # get_user_feature_layer
    uid_fc_layer = layers.Dense(embed_dim, name="uid_fc_layer", activation="relu")(uid_embed_layer)
    gender_fc_layer = layers.Dense(embed_dim, name="gender_fc_layer", activation="relu")(gender_embed_layer)
    age_fc_layer = layers.Dense(embed_dim, name="age_fc_layer", activation="relu")(age_embed_layer)
    job_fc_layer = layers.Dense(embed_dim, name="job_fc_layer", activation="relu")(job_embed_layer)
    user_combine_layer = layers.Concatenate(axis=2)([uid_fc_layer, gender_fc_layer, age_fc_layer, job_fc_layer])
    user_combine_layer = layers.Dense(200, activation="tanh")(user_combine_layer)  # (?, 1, 200)
    user_combine_layer_flat = layers.Reshape((200,))(user_combine_layer)

    # get_movie_id_embed_layer, get_movie_categories_layers
    movie_id_embed_layer = layers.Embedding(s["movie_id_max"], embed_dim, embeddings_initializer=uniform)(movie_id)
    movie_categories_embed_layer = layers.Embedding(s["movie_categories_max"], embed_dim,
                                                    embeddings_initializer=uniform)(movie_categories)
    if combiner == "sum":
        movie_categories_embed_layer = ops.sum(movie_categories_embed_layer, axis=1, keepdims=True)
    # get_movie_cnn_layer
    movie_title_embed_layer = layers.Embedding(s["movie_title_max"], embed_dim, embeddings_initializer=uniform)(
        movie_titles)
    movie_title_embed_layer_expand = ops.expand_dims(movie_title_embed_layer, -1)
    pool_layer_lst = []
    for window_size in window_sizes:
        relu_layer = layers.Conv2D(filter_num, (window_size, embed_dim), padding="valid", activation="relu",
                                   kernel_initializer=keras.initializers.TruncatedNormal(stddev=0.1),
                                   bias_initializer=keras.initializers.Constant(0.1))(movie_title_embed_layer_expand)
        maxpool_layer = layers.MaxPooling2D((sentences_size - window_size + 1, 1), strides=1, padding="valid")(
            relu_layer)
        pool_layer_lst.append(maxpool_layer)
    pool_layer = layers.Concatenate(axis=3)(pool_layer_lst)
    max_num = len(window_sizes) * filter_num
    pool_layer_flat = layers.Reshape((1, max_num))(pool_layer)
    dropout_layer = layers.Dropout(1 - dropout_keep)(pool_layer_flat)
    # get_movie_feature_layer
    movie_id_fc_layer = layers.Dense(embed_dim, name="movie_id_fc_layer", activation="relu")(movie_id_embed_layer)
    movie_categories_fc_layer = layers.Dense(embed_dim, name="movie_categories_fc_layer", activation="relu")(
        movie_categories_embed_layer)
    movie_combine_layer = layers.Concatenate(axis=2)([movie_id_fc_layer, movie_categories_fc_layer, dropout_layer])
    movie_combine_layer = layers.Dense(200, activation="tanh")(movie_combine_layer)  # (?, 1, 200)
    movie_combine_layer_flat = layers.Reshape((200,))(movie_combine_layer)

    # inference
    if fixed:  # c1803ff
        inference = ops.sum(user_combine_layer_flat * movie_combine_layer_flat, axis=1)
        inference = ops.expand_dims(inference, axis=1)
    else:
        inference = ops.matmul(user_combine_layer_flat, ops.transpose(movie_combine_layer_flat))

    model = keras.Model(inp, inference)
    # tf.losses.mean_squared_error + tf.train.AdamOptimizer(lr) (epsilon 1e-8)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate, epsilon=1e-8),
                  loss="mean_squared_error")
    return {"model": model, **_common()}


buggy, fixed = versions(_torch, _keras)
