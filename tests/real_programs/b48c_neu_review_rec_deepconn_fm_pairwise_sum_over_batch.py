"""ShomyLiu/Neu-Review-Rec (NRRec, "a toolkit for neural review-based recommendation models with PyTorch"):
DeepCoNN (WSDM'17) rating prediction on Amazon Digital Music 5-core, as the README trains it with
``python3 main.py train --model=DeepCoNN --num_fea=1 --output=fm``. ``models/deepconn.py`` ``DeepCoNN``: the
user document and the item document (all of a user's / an item's training reviews as one word-id sequence,
``DOC_LEN = 500``, padded with 0) each go through their own ``nn.Embedding(vocab_size, word_dim=300)`` (copied
from ``w2v.npy``), ``nn.Conv2d(1, filters_num=100, (kernel_size=3, word_dim))`` + ReLU, max-pool over time,
``nn.Linear(100, fc_dim=32)`` and ``Dropout(0.5)``; ``framework/fusion.py`` ``FusionLayer`` (``r_id_merge='cat'``,
``ui_merge='cat'``) concatenates user and item features into a 64-vector; ``framework/models.py`` ``Model``
applies ``Dropout(0.5)`` and the prediction layer and ``.squeeze(1)``; ``framework/prediction.py`` ``FM`` (with
``--output=fm``) predicts the rating as ``w0 + <w, x> + sum_{i<j} <v_i, v_j> x_i x_j + b_user + b_item``
(``fm_V`` 64 x 10). ``main.py train``: ``nn.MSELoss()`` on the 1..5 star ratings, ``optim.Adam(model.parameters(),
lr=2e-3, weight_decay=1e-3)``, ``StepLR(step_size=5, gamma=0.8)`` per epoch, ``batch_size = 128``, shuffled.

The fault is in the forward pass of the FM layer, ``FM.build_fm``:

    fm_output = 0.5 * torch.sum(fm_interactions_1 - fm_interactions_2) + fm_linear_part

``torch.sum`` without a dimension reduces over the batch axis as well as over the 10 factors: the pairwise
interaction term of every sample in the batch is added up into one scalar, and that batch total is broadcast onto
every sample's prediction. A rating then depends on which other user-item pairs share its batch and on how many
there are (128 in training, 71 in the program's last validation/test batch, 1 when one pair is scored), and the
per-pair interaction, the part of FM that models user x item taste, is never learned: the gradient that reaches
each sample through it is the batch's mean residual, not its own. The model learns to use the batch total as a
global offset calibrated for exactly 128 pairs.

Source: github.com/ShomyLiu/Neu-Review-Rec issue #9 ("FM的一个小BUG": "framework/prediciton.py line 136
应该指定sum的dim=1", JarenceSJ, 2020-07-26; the maintainer: "谢谢指出，已经修正"), fixed by commit
efe94441b2f0bd458f4d9447c6183f5f00bf23af ("fixed FM", 2020-07-26):

    fm_output = 0.5 * torch.sum(fm_interactions_1 - fm_interactions_2, 1, keepdim=True) + fm_linear_part

Buggy program: ``framework/prediction.py``, ``framework/models.py``, ``framework/fusion.py``,
``models/deepconn.py``, ``main.py``, ``config/config.py``, ``pro_data/data_pro.py`` at efe9444^ =
f1630b2259ea84ebe6de2339c05452ad2e1c6242 (the line dates from the first framework commit 639ae5f, 2019-12-30).
Fault label: batch_mixing (a reduction over the batch axis inside the model's forward pass).

Program lines kept: ``DeepCoNN`` (``__init__``, ``forward``, ``reset_para`` with ``use_word_embedding = True``),
``FusionLayer.forward`` for ``'cat'``/``'cat'`` without self-attention, ``PredictionLayer`` with ``output='fm'``,
``FM`` (``__init__``, ``init_weight``, ``build_fm``, ``forward``), ``Model.__init__``/``forward``
(``feature_dim = id_emb_size * num_fea * 2 = 64``), ``DefaultConfig`` values (``drop_out=0.5``, ``fc_dim=32``,
``id_emb_size=32``, ``filters_num=100``, ``kernel_size=3``, ``lr=2e-3``, ``weight_decay=1e-3``, ``batch_size=128``,
``loss_method='mse'``), the ``train()`` step (``zero_grad``, ``mse_func(output, scores)``, ``backward``, ``step``).
Ported: the model takes one int64 tensor per batch, ``[uid, iid, user_doc (64 ids), item_doc (64 ids)]``, which
``Model.forward`` splits back into the program's ``datas`` list (``unpack_input`` gathered the documents by uid/iid
from the ``.npy`` files; DeepCoNN does not read the review lists, so they are left out). ``StepLR`` (first decay
after 5 epochs) and GPU handling are left out, and so are ``FusionLayer``'s ``self.linear`` / ``self.drop_out``,
built but never used by its forward (their use is commented out), which would only add parameters without
gradients to both versions. ``PredictionLayer.forward``'s ``if self.output == "lfm" or "fm" or "nfm"`` is always
true and calls ``FM`` for ``--output=fm`` as intended (the config's default is ``output = 'lfm'``; the FM path
is the README's DeepCoNN command). ``w2v.npy``: ``data_pro.py``'s default ``PRE_W2V_BIN_PATH = ""``
fills every row with ``np.random.uniform(-1.0, 1.0, (300,))``, which the stand-in does too (seeded).
Shrunk for CPU speed (a step at the full size, vocabulary 50,002, word_dim 300, DOC_LEN 500, costs several seconds
on one thread): vocabulary 2,000, word_dim 32, document length 64, 400 users and 300 items (``user_num`` /
``item_num`` = n + 2 as in the config). Layer widths, dropout, FM factors, batch size and optimizer are the
program's.
Keras twin (the same FM written with ``keras.ops.sum(i1 - i2)`` without ``axis``; fixed ``axis=1,
keepdims=True``): a subclassed ``keras.Model`` with the same layers (``Conv2D(100, (3, word_dim))`` on
``[B, L, word_dim, 1]``, max over time), torch's initialisers as ``reset_para`` / ``init_weight`` set them
(xavier-normal conv kernels, 0.1 conv and fc biases, uniform(-0.1, 0.1) fc weights, the FM's uniform(-0.05,
0.05) ``fc`` weight and ``fm_V``, zero ``fc`` bias, uniform(0, 0.1) user / item biases, the w2v copy), compiled
with ``loss="mse"`` and ``Adam(learning_rate=2e-3, weight_decay=1e-3)`` (Keras' decoupled weight decay standing
for torch Adam's coupled ``weight_decay``; an L2 penalty would put ~20 of embedding norm into the reported loss).

Data stand-in (the Amazon Digital_Music_5.json reviews are not shipped): 400 users, 300 items, 6,000 ratings
(5-core-like: ~15 per user, ~20 per item), 1..5 stars from a seeded latent model ``b_u + b_i + 0.6 p_u . q_i /
sqrt(6) + noise`` cut at quantiles to Digital Music's star mix (1: 4 %, 2: 5 %, 3: 11 %, 4: 25 %, 5: 55 %; mean
4.22, variance 1.17); 80 % train / 20 % validation. Each user's / item's document is 64 word ids (some shorter
and 0-padded): ~60 % Zipf-distributed filler words (ids 1..999) and ~40 % content words (ids 1000..1999) drawn
with probability ~ exp(1.5 a_w . p_u / sqrt(6) + 2 s_w b_u / sd) (resp. q_i, b_i), so the documents reveal the
user's taste and leniency and the item's aspects and quality, and a rating needs the user x item interaction.
``batches``: 8 shuffled training batches of 128; ``inputs``: 256 validation pairs.

Symptom, measured with my own plain loop (/tmp/h48c/measure.py: the module's model, loss and optimizer, 600 steps
on random training batches of 128 as the shuffled DataLoader gives them, model in train mode; torch
``zero_grad/backward/step`` after ``torch.manual_seed(0)``, Keras ``train_on_batch``; validation in eval mode
scored the way ``predict`` does it, in batches of 128 whose last batch here holds 48 pairs, and one pair at a
time on the first 128 validation pairs; the validation ratings' variance is 1.12). Validation MSE after 200 / 400
/ 600 steps:
  torch buggy: all (as predict scores it) 1.56 / 1.56 / 1.29; full batches of 128 only 1.23 / 1.36 / 1.02; the
               48-pair last batch 9.5 / 6.5 / 7.8; one pair at a time 16.5 / 14.9 / 13.5.
  torch fixed: 0.88 / 0.84 / 0.85, and the same for the last batch (0.72) and one pair at a time (0.83).
  keras buggy: all 1.87 / 1.57 / 1.11; full batches 1.54 / 1.27 / 0.87; last batch 9.7 / 8.6 / 6.9; one pair
               at a time 15.9 / 14.4 / 13.0.   keras fixed: 0.91 / 0.87 / 0.88 (last batch 0.74, one pair 0.86).
  After 600 torch steps the buggy model's batch-total pairwise term is 3.89 on a validation batch of 128 (0.030
  per pair), 1.49 on 48 pairs and 0.03 on one pair: the model carries ~3.9 of the ~4.2-star mean in a term that
  only exists at batch size 128, so a pair scored alone is predicted ~3.9 stars too low. Scoring the same 16
  pairs with two different sets of 112 batch-mates changes their predictions by up to 0.01-0.06 (buggy) and by
  exactly 0 (fixed). The training curve hides it: the buggy model's training loss falls faster (17.9 -> 1.5 in
  ONE step, as the batch total jumps to the mean rating, then oscillates: 2.8 at step 5, 4.2 at step 10) and
  ends lower than the fixed one's (mean of the last 50 steps, train mode with dropout: torch 1.18 vs 1.33,
  keras 1.16 vs 1.33).
  One batch, 200 torch steps: buggy train-mode loss 16.0 -> 2.5 (step 50) -> 0.79, eval-mode MSE on that batch
  1.02; fixed 17.1 -> 1.7 -> 0.56, eval-mode MSE 0.12 (the per-pair interaction is what fits the batch).
A step takes ~35 ms (torch) / ~35-50 ms (Keras) on one CPU thread, up to ~95 ms (torch) while the machine's other
core was busy.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "batch_mixing"
SOURCE = ("github:ShomyLiu/Neu-Review-Rec issue #9 (framework/prediction.py FM.build_fm "
          "'torch.sum(fm_interactions_1 - fm_interactions_2)' @f1630b2259ea84ebe6de2339c05452ad2e1c6242 = efe9444^, "
          "models/deepconn.py, framework/models.py, framework/fusion.py, main.py, config/config.py, "
          "README 'main.py train --model=DeepCoNN --num_fea=1 --output=fm'; fix "
          "efe94441b2f0bd458f4d9447c6183f5f00bf23af 'fixed FM')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}), ("batch_independence", {})]

# config/config.py DefaultConfig / Digital_Music_data_Config
lr = 2e-3
weight_decay = 1e-3
drop_out = 0.5
id_emb_size = 32
fc_dim = 32
filters_num = 100
kernel_size = 3
num_fea = 1
batch_size = 128
fm_factors = 10  # FM.fm_V = nn.Parameter(torch.randn(dim, 10))
# shrunk (see the docstring): vocab_size 50002, word_dim 300, DOC_LEN 500, user_num 5541 + 2, item_num 3568 + 2
vocab_size = 2000
word_dim = 32
doc_len = 64
n_users, n_items = 400, 300
user_num, item_num = n_users + 2, n_items + 2
feature_dim = id_emb_size * num_fea * 2  # ui_merge == 'cat', r_id_merge == 'cat'
N_RATINGS = 6000
N_BATCHES, N_INPUTS = 8, 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _music_like() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Packed int64 rows ``[uid, iid, user_doc(64), item_doc(64)]`` and float32 ratings: train (x, y), val (x, y),
    and the w2v stand-in (vocab_size, word_dim) float64."""
    rng = np.random.default_rng(SEED)
    k = 6
    p, q = rng.normal(0, 1, (n_users, k)), rng.normal(0, 1, (n_items, k))
    bu, bi = rng.normal(0, 0.35, n_users), rng.normal(0, 0.45, n_items)
    users, items = rng.integers(0, n_users, N_RATINGS), rng.integers(0, n_items, N_RATINGS)
    score = (bu[users] + bi[items] + 0.6 * (p[users] * q[items]).sum(1) / np.sqrt(k)
             + rng.normal(0, 0.3, N_RATINGS))
    cuts = np.quantile(score, [0.04, 0.09, 0.20, 0.45])  # Digital Music: 1: 4 %, 2: 5 %, 3: 11 %, 4: 25 %, 5: 55 %
    ratings = (1 + np.searchsorted(cuts, score)).astype(np.float32)
    n_content = vocab_size - 1000
    a, s = rng.normal(0, 1, (n_content, k)), rng.normal(0, 1, n_content)
    filler_p = 1.0 / np.arange(1, 1000)
    filler_p /= filler_p.sum()

    def doc(vec: np.ndarray, bias: float) -> np.ndarray:
        logits = 1.5 * a @ vec / np.sqrt(k) + 2.0 * s * bias
        pw = np.exp(logits - logits.max())
        pw /= pw.sum()
        length = min(doc_len, int(rng.lognormal(np.log(doc_len * 1.2), 0.5)))
        content = rng.random(length) < 0.4
        words = np.where(content, 1000 + rng.choice(n_content, length, p=pw),
                         1 + rng.choice(999, length, p=filler_p))
        out = np.zeros(doc_len, np.int64)  # padding_doc: 0-padded to DOC_LEN
        out[:length] = words
        return out

    user_doc = np.stack([doc(p[u], bu[u] / 0.35) for u in range(n_users)])
    item_doc = np.stack([doc(q[i], bi[i] / 0.45) for i in range(n_items)])
    x = np.concatenate([users[:, None], items[:, None], user_doc[users], item_doc[items]], 1).astype(np.int64)
    n_train = int(0.8 * N_RATINGS)
    w2v = rng.uniform(-1.0, 1.0, (vocab_size, word_dim))  # data_pro.py without PRE_W2V_BIN_PATH
    return x[:n_train], ratings[:n_train], x[n_train:], ratings[n_train:], w2v


def _batches() -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    x_tr, y_tr, x_val, _, _ = _music_like()
    order = np.random.default_rng(SEED + 1).permutation(len(x_tr))  # DataLoader(shuffle=True)
    batches = [(x_tr[order[j * batch_size:(j + 1) * batch_size]], y_tr[order[j * batch_size:(j + 1) * batch_size]])
               for j in range(N_BATCHES)]
    return batches, x_val[:N_INPUTS]


def _torch(fix: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(2019)  # opt.seed
    w2v_np = _music_like()[4]

    class DeepCoNN(nn.Module):  # models/deepconn.py
        '''
        deep conn 2017
        '''
        def __init__(self, opt_dropout=drop_out):
            super(DeepCoNN, self).__init__()
            self.num_fea = 1  # DOC

            self.user_word_embs = nn.Embedding(vocab_size, word_dim)  # vocab_size * 300
            self.item_word_embs = nn.Embedding(vocab_size, word_dim)  # vocab_size * 300

            self.user_cnn = nn.Conv2d(1, filters_num, (kernel_size, word_dim))
            self.item_cnn = nn.Conv2d(1, filters_num, (kernel_size, word_dim))

            self.user_fc_linear = nn.Linear(filters_num, fc_dim)
            self.item_fc_linear = nn.Linear(filters_num, fc_dim)
            self.dropout = nn.Dropout(opt_dropout)

            self.reset_para()

        def forward(self, datas):
            _, _, uids, iids, _, _, user_doc, item_doc = datas

            user_doc = self.user_word_embs(user_doc)
            item_doc = self.item_word_embs(item_doc)

            u_fea = F.relu(self.user_cnn(user_doc.unsqueeze(1))).squeeze(3)  # .permute(0, 2, 1)
            i_fea = F.relu(self.item_cnn(item_doc.unsqueeze(1))).squeeze(3)  # .permute(0, 2, 1)
            u_fea = F.max_pool1d(u_fea, u_fea.size(2)).squeeze(2)
            i_fea = F.max_pool1d(i_fea, i_fea.size(2)).squeeze(2)
            u_fea = self.dropout(self.user_fc_linear(u_fea))
            i_fea = self.dropout(self.item_fc_linear(i_fea))

            return torch.stack([u_fea], 1), torch.stack([i_fea], 1)

        def reset_para(self):
            for cnn in [self.user_cnn, self.item_cnn]:
                nn.init.xavier_normal_(cnn.weight)
                nn.init.constant_(cnn.bias, 0.1)

            for fc in [self.user_fc_linear, self.item_fc_linear]:
                nn.init.uniform_(fc.weight, -0.1, 0.1)
                nn.init.constant_(fc.bias, 0.1)

            w2v = torch.from_numpy(w2v_np)  # use_word_embedding = True
            self.user_word_embs.weight.data.copy_(w2v)
            self.item_word_embs.weight.data.copy_(w2v)

    class FusionLayer(nn.Module):  # framework/fusion.py (self_att = False)
        def __init__(self):
            super(FusionLayer, self).__init__()
            # port: the program also builds self.linear = nn.Linear(feature_dim, feature_dim) and a Dropout here,
            # which forward never uses (its use is commented out); left out (see the docstring)

        def forward(self, u_out, i_out):
            u_out = u_out.reshape(u_out.size(0), -1)  # r_id_merge == 'cat'
            i_out = i_out.reshape(i_out.size(0), -1)
            out = torch.cat([u_out, i_out], 1)  # ui_merge == 'cat'
            return out

    class FM(nn.Module):  # framework/prediction.py
        def __init__(self, dim, user_num, item_num):
            super(FM, self).__init__()
            self.dim = dim
            # ---------------------------fc_linear------------------------------
            self.fc = nn.Linear(dim, 1)
            # ------------------------------FM----------------------------------
            self.fm_V = nn.Parameter(torch.randn(dim, fm_factors))
            self.b_users = nn.Parameter(torch.randn(user_num, 1))
            self.b_items = nn.Parameter(torch.randn(item_num, 1))

            self.init_weight()

        def init_weight(self):
            nn.init.uniform_(self.fc.weight, -0.05, 0.05)
            nn.init.constant_(self.fc.bias, 0.0)
            nn.init.uniform_(self.b_users, a=0, b=0.1)
            nn.init.uniform_(self.b_items, a=0, b=0.1)
            nn.init.uniform_(self.fm_V, -0.05, 0.05)

        def build_fm(self, input_vec):
            # linear part: first two items
            fm_linear_part = self.fc(input_vec)

            fm_interactions_1 = torch.mm(input_vec, self.fm_V)
            fm_interactions_1 = torch.pow(fm_interactions_1, 2)

            fm_interactions_2 = torch.mm(torch.pow(input_vec, 2),
                                         torch.pow(self.fm_V, 2))
            if fix:  # efe9444
                fm_output = 0.5 * torch.sum(fm_interactions_1 - fm_interactions_2, 1, keepdim=True) + fm_linear_part
            else:
                fm_output = 0.5 * torch.sum(fm_interactions_1 - fm_interactions_2) + fm_linear_part
            return fm_output

        def forward(self, feature, uids, iids):
            fm_out = self.build_fm(feature)
            return fm_out + self.b_users[uids] + self.b_items[iids]

    class PredictionLayer(nn.Module):  # output == "fm"
        def __init__(self):
            super(PredictionLayer, self).__init__()
            self.model = FM(feature_dim, user_num, item_num)

        def forward(self, feature, uid, iid):
            return self.model(feature, uid, iid)

    class Model(nn.Module):  # framework/models.py
        def __init__(self):
            super(Model, self).__init__()
            self.net = DeepCoNN()
            self.fusion_net = FusionLayer()
            self.predict_net = PredictionLayer()
            self.dropout = nn.Dropout(drop_out)

        def forward(self, x):
            # port: one packed tensor -> the program's datas list (unpack_input)
            uids, iids = x[:, 0], x[:, 1]
            user_doc, item_doc = x[:, 2:2 + doc_len], x[:, 2 + doc_len:]
            datas = [None, None, uids, iids, None, None, user_doc, item_doc]

            user_reviews, item_reviews, uids, iids, user_item2id, item_user2id, user_doc, item_doc = datas
            user_feature, item_feature = self.net(datas)

            ui_feature = self.fusion_net(user_feature, item_feature)
            ui_feature = self.dropout(ui_feature)
            output = self.predict_net(ui_feature, uids, iids).squeeze(1)
            return output

    model = Model()
    batches, inputs = _batches()
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(inputs),
            "loss_fn": nn.MSELoss(),
            "optimizer": lambda params: torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)}


def _keras(fix: bool) -> dict[str, Any]:
    import keras
    from keras import initializers, layers, ops

    keras.utils.set_random_seed(2019)
    w2v_np = _music_like()[4]

    class DeepCoNN(layers.Layer):
        def __init__(self):
            super().__init__()
            self.user_word_embs = layers.Embedding(vocab_size, word_dim)
            self.item_word_embs = layers.Embedding(vocab_size, word_dim)
            conv = dict(kernel_initializer=initializers.GlorotNormal(), bias_initializer=initializers.Constant(0.1))
            self.user_cnn = layers.Conv2D(filters_num, (kernel_size, word_dim), **conv)
            self.item_cnn = layers.Conv2D(filters_num, (kernel_size, word_dim), **conv)
            fc = dict(kernel_initializer=initializers.RandomUniform(-0.1, 0.1),
                      bias_initializer=initializers.Constant(0.1))
            self.user_fc_linear = layers.Dense(fc_dim, **fc)
            self.item_fc_linear = layers.Dense(fc_dim, **fc)
            self.dropout = layers.Dropout(drop_out)

        def call(self, user_doc, item_doc, training=False):
            user_doc = self.user_word_embs(user_doc)
            item_doc = self.item_word_embs(item_doc)
            u_fea = ops.squeeze(ops.relu(self.user_cnn(ops.expand_dims(user_doc, -1))), 2)  # [B, L - 2, 100]
            i_fea = ops.squeeze(ops.relu(self.item_cnn(ops.expand_dims(item_doc, -1))), 2)
            u_fea = ops.max(u_fea, axis=1)
            i_fea = ops.max(i_fea, axis=1)
            u_fea = self.dropout(self.user_fc_linear(u_fea), training=training)
            i_fea = self.dropout(self.item_fc_linear(i_fea), training=training)
            return u_fea, i_fea

    class FM(layers.Layer):
        def __init__(self, dim, user_num, item_num):
            super().__init__()
            self.fc = layers.Dense(1, kernel_initializer=initializers.RandomUniform(-0.05, 0.05),
                                   bias_initializer="zeros")
            self.fm_V = self.add_weight(shape=(dim, fm_factors), name="fm_V",
                                        initializer=initializers.RandomUniform(-0.05, 0.05))
            self.b_users = self.add_weight(shape=(user_num, 1), name="b_users",
                                           initializer=initializers.RandomUniform(0.0, 0.1))
            self.b_items = self.add_weight(shape=(item_num, 1), name="b_items",
                                           initializer=initializers.RandomUniform(0.0, 0.1))

        def build_fm(self, input_vec):
            fm_linear_part = self.fc(input_vec)
            fm_interactions_1 = ops.square(ops.matmul(input_vec, self.fm_V))
            fm_interactions_2 = ops.matmul(ops.square(input_vec), ops.square(self.fm_V))
            if fix:
                return 0.5 * ops.sum(fm_interactions_1 - fm_interactions_2, axis=1, keepdims=True) + fm_linear_part
            return 0.5 * ops.sum(fm_interactions_1 - fm_interactions_2) + fm_linear_part

        def call(self, feature, uids, iids):
            fm_out = self.build_fm(feature)
            return fm_out + ops.take(self.b_users, uids, axis=0) + ops.take(self.b_items, iids, axis=0)

    class Model(keras.Model):
        def __init__(self):
            super().__init__()
            self.net = DeepCoNN()
            self.predict_net = FM(feature_dim, user_num, item_num)
            self.dropout = layers.Dropout(drop_out)

        def call(self, x, training=False):
            x = ops.cast(x, "int32")
            uids, iids = x[:, 0], x[:, 1]
            user_doc, item_doc = x[:, 2:2 + doc_len], x[:, 2 + doc_len:]
            u_fea, i_fea = self.net(user_doc, item_doc, training=training)
            ui_feature = ops.concatenate([u_fea, i_fea], axis=1)
            ui_feature = self.dropout(ui_feature, training=training)
            return ops.squeeze(self.predict_net(ui_feature, uids, iids), 1)

    batches, inputs = _batches()
    model = Model()
    model(batches[0][0])  # build
    model.net.user_word_embs.embeddings.assign(w2v_np.astype("float32"))  # reset_para: copy w2v
    model.net.item_word_embs.embeddings.assign(w2v_np.astype("float32"))
    model.compile(loss="mse", optimizer=keras.optimizers.Adam(learning_rate=lr, weight_decay=weight_decay))
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": inputs}


def buggy(framework: str) -> dict[str, Any]:
    if framework == "torch":
        return _torch(fix=False)
    if framework == "keras":
        return _keras(fix=False)
    raise ValueError(framework)


def fixed(framework: str) -> dict[str, Any]:
    if framework == "torch":
        return _torch(fix=True)
    if framework == "keras":
        return _keras(fix=True)
    raise ValueError(framework)
