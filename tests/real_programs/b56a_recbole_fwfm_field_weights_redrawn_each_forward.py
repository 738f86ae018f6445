"""RecBole (RUCAIBox/RecBole, a PyTorch recommender library), its context-aware (CTR) model FwFM -- Field-weighted
Factorization Machines (Pan et al., WWW 2018) -- as run by ``run_recbole.py --model=FwFM --dataset=ml-100k`` with the
context-aware ml-100k setup (token fields user_id, item_id, age, gender, occupation, release_year; label rating >= 4
via ``threshold: {rating: 4}``). ``FwFM(ContextRecommender)``: an ``FMEmbedding`` table (one ``nn.Embedding`` over
all fields with per-field offsets, embedding_size 10), ``FMFirstOrderLinear`` (the same kind of table with width 1,
summed, plus a zero-initialised bias), and ``fwfm_layer``: sum over feature pairs i < j of
``infeature[:, i] * infeature[:, j] * r[:, F(i), F(j)]``, dropout (0.0), summed over the embedding axis; ``forward``
= sigmoid(first order + fwfm), squeezed to (B,); ``calculate_loss`` = ``nn.BCELoss()``; all embeddings
``xavier_normal_``. Trainer: Adam(lr=1e-3), train_batch_size 2048, seed 2020 (overall.yaml), loss.backward(),
optimizer.step().

The fault (``recbole/model/context_aware_recommender/fwfm.py`` at 07d80fe86e0e2d29c2a2369b1d1d15c6b54dfa85 =
958382d8^, and every release before it): the field-pair weights r(F_i, F_j) -- the one thing FwFM adds to an FM --
are made inside ``fwfm_layer`` on every forward call:
    para = torch.randn(self.num_fields * self.num_fields * self.embedding_size).expand(batch_size, ...)
    r = nn.Parameter(para, requires_grad=True)
A fresh N(0, 1) draw each call, wrapped in an ``nn.Parameter`` that is never registered with the module, so it is
not in ``model.parameters()``, the optimizer never sees it, and it is thrown away after the call. The second-order
term is multiplied by random signs every step: its expected gradient on the embeddings is zero (Adam only shrinks
the noise it makes), so the model learns no feature interactions and is in effect a first-order (logistic
regression) model with noisy outputs; predictions for the same input also change from call to call (in eval too).
Nothing crashes and the loss does go down (through the first-order part). Fix: 958382d87b7b78cca19cae0250dee88794704133
"bug fix" (PR #1414 "FwFMs Bug fix", merge 4625878d): ``self.weight = torch.randn(self.num_fields, self.num_fields,
1, requires_grad=True, device=self.device)`` drawn once in ``__init__`` and ``weight = self.weight.expand(batch_size,
-1, -1, -1)`` in ``fwfm_layer`` (kept in the later 223797af / 629b9158 "FIX: fix fwfm bug", which also moved the
sigmoid out of forward for BCEWithLogitsLoss). Note the fixed weight is still a plain tensor, not an
``nn.Parameter`` -- fixed random field weights, not learned -- but constant, so the embeddings learn the pairwise
interactions around it; this port keeps the fix exactly as committed.

Source: github.com/RUCAIBox/RecBole recbole/model/context_aware_recommender/fwfm.py (FwFM), recbole/model/
abstract_recommender.py (ContextRecommender: token embedding table, concat_embed_input_fields), recbole/model/
layers.py (FMEmbedding, FMFirstOrderLinear), recbole/properties/model/FwFM.yaml (embedding_size 10, dropout_prob
0.0, fields ~), recbole/properties/overall.yaml (adam, learning_rate 0.001, train_batch_size 2048, seed 2020), all
at 07d80fe8; fix 958382d8.
Fault label: params_not_updated|other:weights_redrawn_each_forward (the field-pair weights are an unregistered
"parameter" redrawn from N(0, 1) on every call: never trained, so the interaction term is noise and the model
reduces to its first-order part, with non-deterministic predictions).

Program lines kept: FMEmbedding, FMFirstOrderLinear (token branch), FwFM.__init__ / _init_weights / fwfm_layer /
forward as in the file (buggy r lines and fixed self.weight lines verbatim), sigmoid + BCELoss, Adam(1e-3), batch
2048, embedding_size 10, dropout 0.0, fields None (each feature its own field), seed 2020 (torch.manual_seed).
Ported: RecBole feeds an ``Interaction`` dict; here the six token fields are packed into one float32 row of codes
(B, 6) that ``forward`` casts to long (float and token_seq fields dropped: the ml-100k ``class`` genre
token_seq field is left out, so 6 fields / 15 pairs instead of 7 / 21); the dataset/config plumbing,
``_get_feature2field``'s dict lookups and the device handling reduced to what these fields need; ``loss_fn`` is
``nn.BCELoss()`` on the squeezed outputs (what calculate_loss does). Keras twin: the same model as a
``keras.Model`` (two ``Embedding`` tables over the offset codes with torch's xavier_normal std, a zero bias
weight, the same pair loop); buggy ``call`` draws ``keras.random.normal((F, F, 10), seed=SeedGenerator)`` on every
call (fresh values each call, not a weight), fixed draws ``(F, F, 1)`` once in ``__init__`` as a constant tensor;
compiled with BinaryCrossentropy and Adam(1e-3). The fault is in how the model is written, not in the framework.
Data stand-in (no ml-100k download): ``ml100k_like(n)`` -- 943 users (age code 1..61, gender 1..2, occupation
1..21), 1682 items (release-year code, Zipf-like popularity), codes 1-based with 0 = [PAD] as RecBole remaps them
(vocab sizes 944 / 1683 / 62 / 3 / 22 / 72); label = 1 when a latent rating (user bias + item quality + occupation
bias + 4-d taste dot product - age x release-year + gender x item term + noise) is positive: 56.5 % positives
(ml-100k: 55.4 % of ratings >= 4). ``batches``: 4 shuffled batches of 2048 from 8,192 rows, ``batch`` the first,
``inputs`` the first 512 rows; y float32 (B,).

Measured (my own plain loops, /tmp/s39/h56a/work/measure.py; OMP_NUM_THREADS=1 on the shared 2-core machine; the
module's builds; 40,960 training rows (seed 10) in shuffled batches of 2048, 10 epochs = 200 steps; 8,192
held-out rows (seed 11) scored in eval mode; "repeat" = max |difference| between two predictions of the same
held-out rows):
  torch, steps 1 / 20 / 60 / 100 / 200:
    buggy: train loss 0.693 / 0.685 / 0.671 / 0.659 / 0.635; held-out logloss 0.693 / 0.685 / 0.673 / 0.663 /
      0.644; AUC 0.519 / 0.604 / 0.686 / 0.709 / 0.727; repeat 0.016 / 0.014 / 0.015 / 0.019 / 0.017.
    fixed: train loss 0.693 / 0.684 / 0.655 / 0.616 / 0.509; held-out logloss 0.693 / 0.683 / 0.658 / 0.621 /
      0.544; AUC 0.520 / 0.626 / 0.749 / 0.779 / 0.809; repeat 0.
  Keras, train_on_batch, steps 1 / 20 / 60 / 100 / 200:
    buggy: train loss 0.694 / 0.676 / 0.655 / 0.642 / 0.614; held-out logloss 0.693 / 0.678 / 0.659 / 0.646 /
      0.625; AUC 0.511 / 0.655 / 0.697 / 0.709 / 0.726; repeat 0.013-0.018.
    fixed: train loss 0.694 / 0.671 / 0.590 / 0.527 / 0.446; held-out logloss 0.693 / 0.670 / 0.596 / 0.544 /
      0.509; AUC 0.514 / 0.694 / 0.766 / 0.799 / 0.824; repeat 0.
  One batch of 2048 repeated, loss at steps 0 / 50 / 100 / 200 / 300: torch buggy 0.695, 0.651, 0.614, 0.560,
    0.516; fixed 0.696, 0.604, 0.445, 0.195, 0.094. Keras buggy 0.695, 0.628, 0.587, 0.527, 0.483; fixed 0.694,
    0.406, 0.163, 0.053, 0.025.
  Before training: outputs in [0.45, 0.55] in both versions and frameworks (initial loss ln 2); every registered
    parameter gets a gradient in both versions (r is not a registered parameter). The buggy model trains
    and its loss falls -- slowly, and it stalls at about AUC 0.73 (the first-order part), against 0.81-0.82.
  Time per training step (batch 2048, one thread, loaded machine): torch 24 ms buggy / 14 ms fixed, Keras
    train_on_batch 38 / 30 ms; builds: torch < 0.01 s, Keras 0.2 s (first build 1.4 s torch / 8.6 s Keras with
    the imports).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "params_not_updated|other:weights_redrawn_each_forward"
SOURCE = ("github:RUCAIBox/RecBole PR #1414 (recbole/model/context_aware_recommender/fwfm.py FwFM.fwfm_layer "
          "'para = torch.randn(self.num_fields * self.num_fields * self.embedding_size).expand(batch_size, ...)' / "
          "'r = nn.Parameter(para, requires_grad=True)' @07d80fe86e0e2d29c2a2369b1d1d15c6b54dfa85 = 958382d8^, "
          "recbole/model/abstract_recommender.py ContextRecommender, recbole/model/layers.py FMEmbedding/"
          "FMFirstOrderLinear, recbole/properties/model/FwFM.yaml, recbole/properties/overall.yaml; fix "
          "958382d87b7b78cca19cae0250dee88794704133 'bug fix' (merge 4625878d127176e89c327ab72842b966a768080b): "
          "self.weight = torch.randn(num_fields, num_fields, 1, ...) drawn once in __init__; later 223797af/629b9158 "
          "'FIX: fix fwfm bug')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "sigmoid"}), ("init_loss", {})]

# recbole/properties/overall.yaml and model/FwFM.yaml
learning_rate = 1e-3  # learner: adam
train_batch_size = 2048
seed = 2020
embedding_size = 10
dropout_prob = 0.0
fields = None  # every feature its own field

# ml-100k context-aware fields (token features, dataset.num(field) counts include the [PAD] token 0)
FIELD_DIMS = {"user_id": 944, "item_id": 1683, "age": 62, "gender": 3, "occupation": 22, "release_year": 72}
NUM_FIELDS = len(FIELD_DIMS)
N_BATCHES = 4
N_ROWS = N_BATCHES * train_batch_size


def ml100k_like(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stand-in for RecBole's ml-100k atomic files in the context-aware setting (threshold {rating: 4}): (n, 6)
    float32 rows of token codes [user_id, item_id, age, gender, occupation, release_year] (1-based, 0 = [PAD]) and
    (n,) float32 labels (rating >= 4). 943 users with age / gender / occupation, 1682 items with a release year and a
    Zipf-like popularity; the rating comes from a user bias, an item quality, a 4-d taste dot product and an
    age-by-release-year and gender-by-item term, plus noise; ~55 % positives (ml-100k: 55.4 % of ratings >= 4)."""
    rng = np.random.default_rng(1234)  # the "dataset": fixed users and items
    n_users, n_items = FIELD_DIMS["user_id"] - 1, FIELD_DIMS["item_id"] - 1
    u_age = rng.integers(1, FIELD_DIMS["age"], n_users)
    u_gender = rng.integers(1, 3, n_users)
    u_occ = rng.integers(1, FIELD_DIMS["occupation"], n_users)
    i_year = np.clip(FIELD_DIMS["release_year"] - 1 - rng.geometric(0.12, n_items), 1, FIELD_DIMS["release_year"] - 1)
    u_bias, i_bias = rng.normal(0, 0.6, n_users), rng.normal(0, 0.8, n_items)
    occ_bias = rng.normal(0, 0.3, FIELD_DIMS["occupation"])
    u_vec, i_vec = rng.normal(0, 0.6, (n_users, 4)), rng.normal(0, 0.6, (n_items, 4))
    i_gender = rng.normal(0, 0.5, n_items)
    pop = 1.0 / np.arange(1, n_items + 1) ** 0.8
    pop /= pop.sum()
    r = np.random.default_rng(seed)
    u = r.integers(0, n_users, n)
    i = r.choice(n_items, n, p=pop)
    age_c = (u_age[u] - 31.0) / 15.0
    year_c = (i_year[i] - 60.0) / 10.0
    score = (0.25 + u_bias[u] + i_bias[i] + occ_bias[u_occ[u]] + (u_vec[u] * i_vec[i]).sum(1)
             - 0.4 * age_c * year_c + np.where(u_gender[u] == 1, 1.0, -1.0) * i_gender[i] + r.normal(0, 0.7, n))
    x = np.stack([u + 1, i + 1, u_age[u], u_gender[u], u_occ[u], i_year[i]], 1).astype("float32")
    return x, (score > 0).astype("float32")


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    return ml100k_like(N_ROWS, seed=0)


def _batches() -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffled training batches of train_batch_size (RecBole's TrainDataLoader shuffles every epoch)."""
    x, y = _data()
    perm = np.random.default_rng(seed).permutation(len(x))
    x, y = x[perm], y[perm]
    return [(x[k:k + train_batch_size], y[k:k + train_batch_size]) for k in range(0, N_ROWS, train_batch_size)]


def _offsets() -> np.ndarray:
    dims = list(FIELD_DIMS.values())
    return np.array((0, *np.cumsum(dims)[:-1]), dtype=np.int64)


def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    from torch.nn.init import constant_, xavier_normal_

    torch.manual_seed(seed)

    class FMEmbedding(nn.Module):  # recbole/model/layers.py
        def __init__(self, field_dims, offsets, embed_dim):
            super().__init__()
            self.embedding = nn.Embedding(sum(field_dims), embed_dim)
            self.offsets = offsets

        def forward(self, input_x):
            input_x = input_x + input_x.new_tensor(self.offsets).unsqueeze(0)
            return self.embedding(input_x)

    class FMFirstOrderLinear(nn.Module):  # recbole/model/layers.py, token fields only
        def __init__(self, field_dims, offsets, output_dim=1):
            super().__init__()
            self.token_embedding_table = FMEmbedding(field_dims, offsets, output_dim)
            self.bias = nn.Parameter(torch.zeros((output_dim,)), requires_grad=True)

        def forward(self, token_fields):
            token_embedding = torch.sum(self.token_embedding_table(token_fields), dim=1, keepdim=True)
            return torch.sum(token_embedding, dim=1) + self.bias  # [batch_size, output_dim]

    class FwFM(nn.Module):  # recbole/model/context_aware_recommender/fwfm.py (+ ContextRecommender's embeddings)
        def __init__(self):
            super().__init__()
            self.device = torch.device("cpu")
            self.embedding_size = embedding_size
            self.dropout_prob = dropout_prob
            self.fields = fields
            dims = list(FIELD_DIMS.values())
            self.token_embedding_table = FMEmbedding(dims, _offsets(), self.embedding_size)
            self.first_order_linear = FMFirstOrderLinear(dims, _offsets())
            self.num_features = len(dims)  # self.num_feature_field
            self.dropout_layer = nn.Dropout(p=self.dropout_prob)
            self.sigmoid = nn.Sigmoid()
            self.feature2field = {i: i for i in range(self.num_features)}  # _get_feature2field with fields None
            self.num_fields = len(set(self.feature2field.values()))
            self.num_pair = self.num_fields * self.num_fields
            if fixed:  # 958382d8
                self.weight = torch.randn(self.num_fields, self.num_fields, 1, requires_grad=True, device=self.device)
            self.loss = nn.BCELoss()
            self.apply(self._init_weights)

        def _init_weights(self, module):
            if isinstance(module, nn.Embedding):
                xavier_normal_(module.weight.data)
            elif isinstance(module, nn.Linear):
                xavier_normal_(module.weight.data)
                if module.bias is not None:
                    constant_(module.bias.data, 0)

        def fwfm_layer(self, infeature):
            batch_size = infeature.shape[0]
            if fixed:  # 958382d8
                r = self.weight.expand(batch_size, -1, -1, -1)
            else:  # 07d80fe8
                para = torch.randn(self.num_fields * self.num_fields * self.embedding_size).\
                    expand(batch_size, self.num_fields * self.num_fields * self.embedding_size).\
                    to(self.device)  # [batch_size*num_pairs*emb_dim]
                para = para.reshape(batch_size, self.num_fields, self.num_fields, self.embedding_size)
                r = nn.Parameter(para, requires_grad=True)  # [batch_size, num_fields, num_fields, emb_dim]
            fwfm_inter = list()
            for i in range(self.num_features - 1):
                for j in range(i + 1, self.num_features):
                    Fi, Fj = self.feature2field[i], self.feature2field[j]
                    fwfm_inter.append(infeature[:, i] * infeature[:, j] * r[:, Fi, Fj])
            fwfm_inter = torch.stack(fwfm_inter, dim=1)
            fwfm_inter = torch.sum(fwfm_inter, dim=1)  # [batch_size, emb_dim]
            fwfm_inter = self.dropout_layer(fwfm_inter)
            return torch.sum(fwfm_inter, dim=1, keepdim=True)  # [batch_size, 1]

        def forward(self, x):
            token_fields = x.long()  # port: the packed (B, 6) row of token codes
            fwfm_all_embeddings = self.token_embedding_table(token_fields)  # concat_embed_input_fields
            output = self.sigmoid(self.first_order_linear(token_fields) + self.fwfm_layer(fwfm_all_embeddings))
            return output.squeeze(-1)

    model = FwFM()
    model.train()
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in _batches()]
    xs, _ = _data()
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(xs[:512]),
            "loss_fn": torch.nn.BCELoss(),
            "optimizer": lambda params: torch.optim.Adam(params, lr=learning_rate)}


def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(seed)
    dims = list(FIELD_DIMS.values())
    offsets = _offsets()

    def xavier_normal(n: int, d: int) -> Any:  # torch xavier_normal_ on an (n, d) embedding table
        return keras.initializers.RandomNormal(0.0, float(np.sqrt(2.0 / (n + d))))

    class FwFM(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.num_fields = NUM_FIELDS
            self.embed = layers.Embedding(sum(dims), embedding_size,
                                          embeddings_initializer=xavier_normal(sum(dims), embedding_size))
            self.first = layers.Embedding(sum(dims), 1, embeddings_initializer=xavier_normal(sum(dims), 1))
            self.bias = self.add_weight(shape=(1,), initializer="zeros", name="bias")
            self.seed_gen = keras.random.SeedGenerator(seed)
            if fixed:  # 958382d8: drawn once, a constant tensor (not a trainable weight, as in the torch fix)
                self.r_fixed = keras.random.normal((self.num_fields, self.num_fields, 1), seed=self.seed_gen)

        def call(self, x: Any, training: bool | None = None) -> Any:
            codes = ops.cast(x, "int32") + ops.convert_to_tensor(offsets.astype("int32"))[None, :]
            emb = self.embed(codes)  # [B, F, E]
            first = ops.sum(self.first(codes), axis=1) + self.bias  # [B, 1]
            if fixed:
                r = self.r_fixed
            else:  # 07d80fe8: a fresh N(0, 1) draw of r every call
                r = keras.random.normal((self.num_fields, self.num_fields, embedding_size), seed=self.seed_gen)
            inter = []
            for i in range(self.num_fields - 1):
                for j in range(i + 1, self.num_fields):
                    inter.append(emb[:, i] * emb[:, j] * r[i, j][None, :])
            fwfm = ops.sum(ops.sum(ops.stack(inter, axis=1), axis=1), axis=1, keepdims=True)
            return ops.squeeze(ops.sigmoid(first + fwfm), -1)

    model = FwFM()
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate, epsilon=1e-8),
                  loss=keras.losses.BinaryCrossentropy())
    xs, _ = _data()
    model(xs[:2])
    kb = _batches()
    return {"model": model, "batch": kb[0], "batches": kb, "inputs": xs[:512]}


buggy, fixed = versions(_torch, _keras)
