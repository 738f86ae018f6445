"""datawhalechina/torch-rechub (a PyTorch recommender library), the multi-interest retrieval model MIND
(``torch_rechub/models/matching/mind.py``, "Multi-Interest Network with Dynamic Routing") trained list-wise by
``examples/matching/run_ml_mind.py`` on MovieLens-1M: user features ``user_id, gender, age, occupation, zip``
(``SparseFeature``, ``embed_dim=16``), the history ``hist_movie_id`` (``SequenceFeature``, ``pooling="concat"``,
``shared_with="movie_id"``, ``seq_max_len=50``, padded / truncated 'post' with 0), the target ``movie_id`` and 3
negatives ``neg_items`` (``generate_seq_feature_match(..., sample_method=1, mode=2, neg_ratio=3)``: every prefix of
a user's time-ordered ratings predicts the next movie, the last one is the test sample; negatives drawn by
popularity ``count ** 0.75``), ``y_train = 0`` for every sample (the positive is candidate 0).
``MIND(..., max_length=50, temperature=0.02)`` (``interest_num=4``): the history goes through
``CapsuleNetwork(16, 50, bilinear_type=0, interest_num=4)`` (shared bias-free Linear, 3 rounds of dynamic routing
from a ``torch.randn`` logit start, the first two on detached inputs, squash), each of the 4 interest capsules is
concatenated with the 80 user-feature values and mapped by ``convert_user_weight = torch.rand(96, 16)``, then
L2-normalised; item embeddings are L2-normalised too. ``forward`` picks per sample the interest closest to the
positive item and scores the candidates. ``MatchTrainer(model, mode=2, optimizer_params={"lr": 1e-3,
"weight_decay": 1e-6})``: ``torch.nn.CrossEntropyLoss()`` on ``model(x_dict)`` against ``y``, Adam,
``batch_size=256``, ``epoch=10``. Embeddings are ``nn.Embedding`` drawn from ``RandomNormal(0, 0.0001)``.

The fault (a reduction over the wrong axis): the scores are
``y = torch.mul(best_interest_emb, item_embedding).sum(dim=1)`` with ``best_interest_emb`` (B, 1, 16) and
``item_embedding`` (B, 1 + 3, 16). Summing over dim 1 adds up the *candidates* and leaves the 16 embedding
dimensions, so the model returns a (B, 16) tensor instead of the (B, 4) candidate scores; ``CrossEntropyLoss``
takes it as 16 "classes" and target 0 as "embedding dimension 0". No error is raised; training pushes
coordinate 0 of the chosen interest and of the (positive + negative) item sum up, which says nothing about
which candidate the user picked, so the retrieval embeddings learn nothing useful. Issue
datawhalechina/torch-rechub #221 ("Bug in forward function of mind model ... it will not calculate correct
sample softmax loss in list-wise model ... ``y = torch.mul(best_interest_emb, item_embedding).sum(dim=1)``
(batch_size, embed_dim) is wrong, it should be ``.sum(dim=-1)`` (batch_size, 1+n_neg_items)"; maintainer: "Thank
you for pointing out the bug. The relevant modifications have been updated").

Source: github.com/datawhalechina/torch-rechub ``torch_rechub/models/matching/mind.py`` at
ca2f2b139432382055f2eafbcadaa2230431a940 (= f5228f3^), with ``torch_rechub/basic/layers.py`` (``CapsuleNetwork``,
``EmbeddingLayer``), ``basic/features.py`` / ``basic/initializers.py``, ``trainers/match_trainer.py``,
``utils/match.py`` (``generate_seq_feature_match``, ``negative_sample``) and ``examples/matching/run_ml_mind.py``;
issue #221, fix f5228f3b9cd624bdaa5079d612228458aa332a5c ("Vectorize best-interest selection and sum fix"):
``.sum(dim=-1)`` and the best interest gathered by ``user_embedding[batch_index, k_index, :]`` instead of the
per-sample loop (the same two changes in ``comirec.py``).
Fault label: head_width|loss_mismatch (the "logits" the loss gets are 16 wide, one per embedding dimension, not
one per candidate: the 4-way list-wise softmax is computed over the wrong axis).

Program lines kept: ``MIND.__init__`` / ``forward`` / ``user_tower`` / ``item_tower`` / ``gen_mask`` as written
(buggy: the loop filling a ``torch.rand`` tensor and ``.sum(dim=1)``; fixed: the fix commit's lines),
``CapsuleNetwork`` for ``bilinear_type=0`` (routing loop verbatim, ``stop_grad=True``, ``relu_layer=False``), the
embedding lookups of ``EmbeddingLayer`` (user features flattened to (B, 80), the concat-pooled history and the
negatives through the ``movie_id`` table), ``RandomNormal(0, 1e-4)`` embedding init, the sample generation
(prefixes, popularity ** 0.75 negatives, 'post' padding / truncation to 50, label 0), CrossEntropyLoss,
Adam(lr=1e-3, weight_decay=1e-6), batch 256. ``RegularizationLoss`` is all zeros by default and left out.
Ported: the feature dict is packed into one int64 tensor per sample (59 columns: user_id, gender, age,
occupation, zip, movie_id, hist_movie_id[50], neg_items[3]) that ``forward`` slices back into the dict, so the
model takes a plain (x, y) batch; ``y`` is the program's all-zero label vector. Keras twin: the same model as a
``keras.Model`` subclass (embeddings RandomNormal(0, 1e-4), the bias-free Dense with torch's Linear init
VarianceScaling(1/3, fan_in, uniform), ``convert_user_weight`` RandomUniform(0, 1), the routing with
``keras.random.normal`` logits and ``ops.stop_gradient`` for ``.detach()``, the best interest selected by a
one-hot mask of the argmax), scores ``ops.sum(..., axis=1)`` (buggy) / ``axis=-1`` (fixed), compiled with
``SparseCategoricalCrossentropy(from_logits=True)`` and ``Adam(1e-3, weight_decay=1e-6)`` (Keras' decay is
decoupled, torch's is L2 in the gradient: negligible at 1e-6 either way).
Data stand-in (no ml-1m csv; the repository ships a 100-row sample of 2 users): a seeded MovieLens-like log,
shrunk for CPU speed to 400 users and 500 movies (ml-1m: 6,040 / 3,706) in 18 genres with Zipf popularity; each
user has 2-3 favourite genres (85 % of ratings, the rest from any genre, no repeats), 20-60 ratings (ml-1m's
minimum is 20), and label-encoded gender (2) / age (7) / occupation (21) / zip (200) values. The next movie
follows the user's interests, so a working model can rank it above popularity-drawn negatives. 15,475 training
samples; ``batches``: the first 8 of 256, ``inputs``: 512 training samples.
Note: as in the program, the routing logits start from ``torch.randn`` in every forward (``keras.random.normal``
in the twin), so two forward passes of the same input differ slightly (builds are seeded and reproducible).

Measured (my own plain loops, OMP_NUM_THREADS=1; "first" = share of 2,000 training samples whose positive gets the
top score of its 4 candidates when the trained weights are scored with the fixed forward, chance 25 %):
  /tmp/s48/h71_c/measure.py, the module's builds, the program's 10 epochs of 61 batches of 256, torch: buggy output
    (256, 16), initial loss 2.79 (= ln 16), epoch loss 1.06 (1) -> 0.256 (3) -> 0.243 (5) -> 0.243 (10): the loss
    *falls*, it is easy to make embedding coordinate 0 large, while "first" stays 25.3 % -> 25.7 / 24.0 / 26.8 /
    26.5 %. Fixed output (256, 4), initial loss 1.39 (= ln 4), 1.48 -> 1.33 -> 1.22 -> 1.06, "first" 25.3 % ->
    32.1 / 42.1 / 54.4 / 70.4 %. Keras twin, 4 epochs: buggy loss 2.48 -> 0.626 -> 0.275 -> 0.249, "first" 27.7 %
    -> 25.9 / 25.6 / 26.1 / 24.5 %; fixed 1.49 -> 1.40 -> 1.34 -> 1.28, "first" 27.7 % -> 34.0 / 36.8 / 42.8 / 49.1 %.
  /tmp/s48/h71_c/mind.py (the same model and data written out by hand), hit-rate@10 over all 500 movies for each
    user's held-out last rating (max over the 4 interests, as the program's faiss evaluation): buggy 2.0 % -> 2.25 %
    after 10 epochs (chance 2 %), fixed 1.75 % -> 7.5 %.
  Time per step (torch, one thread): buggy ~37 ms (the per-sample Python loop of the buggy forward), fixed ~15 ms;
  Keras ~20-30 ms. Build of both frameworks' four variants ~17 s in one process, most of it importing TensorFlow.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "head_width|loss_mismatch"
SOURCE = ("github:datawhalechina/torch-rechub issue #221 (torch_rechub/models/matching/mind.py@"
          "ca2f2b139432382055f2eafbcadaa2230431a940 = f5228f3^, basic/layers.py CapsuleNetwork, "
          "trainers/match_trainer.py, utils/match.py, examples/matching/run_ml_mind.py; "
          "fix f5228f3b9cd624bdaa5079d612228458aa332a5c '.sum(dim=-1)')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("init_loss", {"num_classes": 4})]

# examples/matching/run_ml_mind.py
SEQ_MAX_LEN = 50
EMBED_DIM = 16
NEG_RATIO = 3
INTEREST_NUM = 4
LEARNING_RATE = 1e-3
WEIGHT_DECAY = 1e-6
BATCH_SIZE = 256
SEED = 2022
# port (MovieLens-1M stand-in, shrunk)
N_USERS, N_ITEMS, N_GENRES = 400, 500, 18
USER_VOCAB = (N_USERS + 1, 3, 8, 22, 201)  # user_id, gender, age, occupation, zip (LabelEncoder + 1, max + 1)
N_BATCHES = 8
N_INPUTS = 512
COL_ITEM = 5
COL_HIST = 6
COL_NEG = COL_HIST + SEQ_MAX_LEN


# ------------------------------------------------------------------------------------------------------------ data

@functools.lru_cache(maxsize=1)
def _samples() -> np.ndarray:
    """generate_seq_feature_match(mode=2, neg_ratio=3, sample_method=1) + gen_model_input(padding/truncating 'post')
    on a seeded MovieLens-like log; rows [user_id, gender, age, occupation, zip, movie_id, hist[50], neg[3]]."""
    r = np.random.default_rng(0)
    genre = r.integers(0, N_GENRES, N_ITEMS)
    pop = r.zipf(1.6, N_ITEMS).clip(1, 200).astype(float)
    users, logs = [], []
    for u in range(N_USERS):
        fav = r.choice(N_GENRES, r.integers(2, 4), replace=False)
        n = int(r.integers(20, 61))
        seen: list[int] = []
        while len(seen) < n:
            g = r.choice(fav) if r.random() < 0.85 else r.integers(N_GENRES)
            cand = [c for c in np.flatnonzero(genre == g) if c not in seen]
            if not cand:
                continue
            p = pop[cand] / pop[cand].sum()
            seen.append(int(r.choice(cand, p=p)))
        logs.append([i + 1 for i in seen])  # LabelEncoder + 1: 0 is the padding id
        users.append([u + 1, r.integers(2) + 1, r.integers(7) + 1, r.integers(21) + 1, r.integers(200) + 1])
    cnt = np.zeros(N_ITEMS + 1)
    for s in logs:
        for i in s:
            cnt[i] += 1
    items = np.flatnonzero(cnt)
    p_sel = cnt[items] ** 0.75  # negative_sample(method_id=1): count ** 0.75
    neg_list = r.choice(items, size=sum(len(s) for s in logs) * NEG_RATIO, replace=True, p=p_sel / p_sel.sum())
    train, neg_idx = [], 0
    for feat, pos_list in zip(users, logs):
        for i in range(1, len(pos_list) - 1):  # the last prefix is the test sample
            hist = pos_list[:i][:SEQ_MAX_LEN]
            hist = hist + [0] * (SEQ_MAX_LEN - len(hist))
            train.append(feat + [pos_list[i]] + hist + list(neg_list[neg_idx:neg_idx + NEG_RATIO]))
            neg_idx += NEG_RATIO
    out = np.array(train, dtype=np.int64)
    r.shuffle(out)
    return out


def _data() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    x = _samples()
    y = np.zeros(len(x), dtype=np.int64)  # y_train = np.array([0] * df_train.shape[0])
    batches = [(x[i * BATCH_SIZE:(i + 1) * BATCH_SIZE], y[i * BATCH_SIZE:(i + 1) * BATCH_SIZE])
               for i in range(N_BATCHES)]
    return batches, x[:N_INPUTS]


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    def random_normal(vocab_size: int, embed_dim: int) -> nn.Embedding:  # initializers.RandomNormal(0, 0.0001)
        embed = nn.Embedding(vocab_size, embed_dim)
        nn.init.normal_(embed.weight, 0.0, 0.0001)
        return embed

    class CapsuleNetwork(nn.Module):  # basic/layers.py, bilinear_type=0 (MIND)
        def __init__(self, embedding_dim, seq_len, bilinear_type=0, interest_num=4, routing_times=3):
            super().__init__()
            self.embedding_dim, self.seq_len = embedding_dim, seq_len
            self.bilinear_type, self.interest_num, self.routing_times = bilinear_type, interest_num, routing_times
            self.stop_grad = True
            self.linear = nn.Linear(self.embedding_dim, self.embedding_dim, bias=False)

        def forward(self, item_eb, mask):
            item_eb_hat = self.linear(item_eb)
            item_eb_hat = item_eb_hat.repeat(1, 1, self.interest_num)
            item_eb_hat = torch.reshape(item_eb_hat, (-1, self.seq_len, self.interest_num, self.embedding_dim))
            item_eb_hat = torch.transpose(item_eb_hat, 1, 2).contiguous()
            item_eb_hat = torch.reshape(item_eb_hat, (-1, self.interest_num, self.seq_len, self.embedding_dim))
            item_eb_hat_iter = item_eb_hat.detach() if self.stop_grad else item_eb_hat
            capsule_weight = torch.randn(item_eb_hat.shape[0], self.interest_num, self.seq_len,
                                         device=item_eb.device, requires_grad=False)
            for i in range(self.routing_times):
                atten_mask = torch.unsqueeze(mask, 1).repeat(1, self.interest_num, 1)
                paddings = torch.zeros_like(atten_mask, dtype=torch.float)
                capsule_softmax_weight = F.softmax(capsule_weight, dim=-1)
                capsule_softmax_weight = torch.where(torch.eq(atten_mask, 0), paddings, capsule_softmax_weight)
                capsule_softmax_weight = torch.unsqueeze(capsule_softmax_weight, 2)
                if i < 2:
                    interest_capsule = torch.matmul(capsule_softmax_weight, item_eb_hat_iter)
                    cap_norm = torch.sum(torch.square(interest_capsule), -1, True)
                    scalar_factor = cap_norm / (1 + cap_norm) / torch.sqrt(cap_norm + 1e-9)
                    interest_capsule = scalar_factor * interest_capsule
                    delta_weight = torch.matmul(item_eb_hat_iter, torch.transpose(interest_capsule, 2, 3).contiguous())
                    delta_weight = torch.reshape(delta_weight, (-1, self.interest_num, self.seq_len))
                    capsule_weight = capsule_weight + delta_weight
                else:
                    interest_capsule = torch.matmul(capsule_softmax_weight, item_eb_hat)
                    cap_norm = torch.sum(torch.square(interest_capsule), -1, True)
                    scalar_factor = cap_norm / (1 + cap_norm) / torch.sqrt(cap_norm + 1e-9)
                    interest_capsule = scalar_factor * interest_capsule
            return torch.reshape(interest_capsule, (-1, self.interest_num, self.embedding_dim))

    class MIND(nn.Module):  # models/matching/mind.py
        def __init__(self, max_length, temperature=1.0, interest_num=4):
            super().__init__()
            self.temperature, self.interest_num, self.max_length = temperature, interest_num, max_length
            self.user_dims = EMBED_DIM * (len(USER_VOCAB) + 1)  # user features + history
            # EmbeddingLayer(user_features + item_features + history_features): hist / neg share movie_id's table
            self.user_embed = nn.ModuleList([random_normal(v, EMBED_DIM) for v in USER_VOCAB])
            self.movie_embed = random_normal(N_ITEMS + 1, EMBED_DIM)
            self.capsule = CapsuleNetwork(EMBED_DIM, self.max_length, bilinear_type=0, interest_num=self.interest_num)
            self.convert_user_weight = nn.Parameter(torch.rand(self.user_dims, EMBED_DIM), requires_grad=True)

        def forward(self, x):
            user_embedding = self.user_tower(x)
            item_embedding = self.item_tower(x)
            pos_item_embedding = item_embedding[:, 0, :]
            dot_res = torch.bmm(user_embedding, pos_item_embedding.squeeze(1).unsqueeze(-1))
            if fixed:  # fix f5228f3
                k_index = torch.argmax(dot_res, dim=1).squeeze(-1)
                batch_index = torch.arange(user_embedding.shape[0], device=user_embedding.device)
                best_interest_emb = user_embedding[batch_index, k_index, :].unsqueeze(1)
                return torch.mul(best_interest_emb, item_embedding).sum(dim=-1)
            k_index = torch.argmax(dot_res, dim=1)
            best_interest_emb = torch.rand(user_embedding.shape[0], user_embedding.shape[2]).to(user_embedding.device)
            for k in range(user_embedding.shape[0]):
                best_interest_emb[k, :] = user_embedding[k, k_index[k], :]
            best_interest_emb = best_interest_emb.unsqueeze(1)
            return torch.mul(best_interest_emb, item_embedding).sum(dim=1)

        def user_tower(self, x):
            input_user = torch.cat([e(x[:, j]) for j, e in enumerate(self.user_embed)], dim=1).unsqueeze(1)
            input_user = input_user.expand([input_user.shape[0], self.interest_num, input_user.shape[-1]])
            history_emb = self.movie_embed(x[:, COL_HIST:COL_NEG])  # ConcatPooling: (B, 50, 16)
            mask = self.gen_mask(x)
            multi_interest_emb = self.capsule(history_emb, mask)
            input_user = torch.cat([input_user, multi_interest_emb], dim=-1)
            user_embedding = torch.matmul(input_user, self.convert_user_weight)
            return F.normalize(user_embedding, p=2, dim=-1)

        def item_tower(self, x):
            pos_embedding = F.normalize(self.movie_embed(x[:, COL_ITEM:COL_ITEM + 1]), p=2, dim=-1)
            neg_embeddings = F.normalize(self.movie_embed(x[:, COL_NEG:]), p=2, dim=-1)
            return torch.cat((pos_embedding, neg_embeddings), dim=1)

        def gen_mask(self, x):
            return (x[:, COL_HIST:COL_NEG] > 0).long()

    batches, inputs = _data()
    torch.manual_seed(SEED)
    model = MIND(max_length=SEQ_MAX_LEN, temperature=0.02, interest_num=INTEREST_NUM)
    t = torch.from_numpy
    tb = [(t(x), t(y)) for x, y in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": t(inputs),
            "loss_fn": torch.nn.CrossEntropyLoss(),
            "optimizer": torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)
    k_num, seq, dim = INTEREST_NUM, SEQ_MAX_LEN, EMBED_DIM

    def l2n(v):  # F.normalize(p=2, dim=-1)
        return v / ops.maximum(ops.sqrt(ops.sum(ops.square(v), axis=-1, keepdims=True)), 1e-12)

    class MIND(keras.Model):
        def __init__(self) -> None:
            super().__init__(name="MIND")
            emb_init = keras.initializers.RandomNormal(0.0, 0.0001)
            self.user_embed = [layers.Embedding(v, dim, embeddings_initializer=emb_init) for v in USER_VOCAB]
            self.movie_embed = layers.Embedding(N_ITEMS + 1, dim, embeddings_initializer=emb_init)
            self.capsule_linear = layers.Dense(dim, use_bias=False, kernel_initializer=keras.initializers
                                               .VarianceScaling(1.0 / 3, "fan_in", "uniform"))
            self.convert_user_weight = self.add_weight(shape=(dim * (len(USER_VOCAB) + 1), dim),
                                                       initializer=keras.initializers.RandomUniform(0.0, 1.0),
                                                       name="convert_user_weight")
            self.seed_gen = keras.random.SeedGenerator(SEED)

        def capsule(self, item_eb, mask):
            item_eb_hat = ops.tile(self.capsule_linear(item_eb), (1, 1, k_num))
            item_eb_hat = ops.reshape(item_eb_hat, (-1, seq, k_num, dim))
            item_eb_hat = ops.transpose(item_eb_hat, (0, 2, 1, 3))
            item_eb_hat_iter = ops.stop_gradient(item_eb_hat)
            capsule_weight = keras.random.normal((ops.shape(item_eb)[0], k_num, seq), seed=self.seed_gen)
            atten_mask = ops.repeat(ops.expand_dims(mask, 1), k_num, axis=1)
            for i in range(3):
                w = ops.where(ops.equal(atten_mask, 0), 0.0, ops.softmax(capsule_weight, axis=-1))
                w = ops.expand_dims(w, 2)
                cap = ops.matmul(w, item_eb_hat_iter if i < 2 else item_eb_hat)
                cap_norm = ops.sum(ops.square(cap), -1, keepdims=True)
                cap = cap_norm / (1 + cap_norm) / ops.sqrt(cap_norm + 1e-9) * cap
                if i < 2:
                    delta = ops.matmul(item_eb_hat_iter, ops.transpose(cap, (0, 1, 3, 2)))
                    capsule_weight = capsule_weight + ops.reshape(delta, (-1, k_num, seq))
            return ops.reshape(cap, (-1, k_num, dim))

        def call(self, x):
            x = ops.cast(x, "int32")
            input_user = ops.concatenate([e(x[:, j]) for j, e in enumerate(self.user_embed)], axis=1)
            input_user = ops.repeat(ops.expand_dims(input_user, 1), k_num, axis=1)
            hist = x[:, COL_HIST:COL_NEG]
            multi_interest_emb = self.capsule(self.movie_embed(hist), ops.cast(hist > 0, "float32"))
            user_embedding = l2n(ops.matmul(ops.concatenate([input_user, multi_interest_emb], -1),
                                            self.convert_user_weight))
            item_embedding = l2n(self.movie_embed(ops.concatenate([x[:, COL_ITEM:COL_ITEM + 1], x[:, COL_NEG:]], 1)))
            dot_res = ops.sum(user_embedding * item_embedding[:, :1, :], axis=-1)  # (B, 4)
            pick = ops.one_hot(ops.argmax(dot_res, axis=1), k_num)
            best_interest_emb = ops.sum(ops.expand_dims(pick, -1) * user_embedding, axis=1, keepdims=True)
            return ops.sum(best_interest_emb * item_embedding, axis=-1 if fixed else 1)

    batches, inputs = _data()
    model = MIND()
    model(inputs[:2])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, weight_decay=WEIGHT_DECAY),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs}


buggy, fixed = versions(_torch, _keras)
