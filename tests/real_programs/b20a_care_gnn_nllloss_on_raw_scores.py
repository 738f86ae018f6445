"""CARE-GNN (Dou et al., CIKM 2020, "Enhancing Graph Neural Network-based Fraud Detectors against
Camouflaged Fraudsters"), the authors' PyTorch code: ``train.py --data yelp --model CARE --inter GNN``.
Each review node of the YelpChi multi-relation graph (R-U-R, R-T-R, R-S-R adjacency lists, self loops
included) has 32 row-normalised features; ``InterAgg`` computes label-aware scores of the batch nodes and
their neighbours with ``label_clf = nn.Linear(32, 2)``, each ``IntraAgg`` keeps the top-p neighbours
closest in that score (``filter_neighs_ada_threshold``, p = the relation's threshold) and mean-pools their
features, ``threshold_inter_agg`` adds ``self_feats @ W`` and the threshold-weighted ``neigh_feats @ W``
(``W``: 32 x 64) and applies relu, and ``OneLayerCARE`` maps the 64-d embedding to 2 scores with its own
``weight`` (64 x 2). The loss (Eq. 11) is ``xent(gnn_scores, labels) + lambda_1 * xent(label_scores,
labels)`` with ``lambda_1 = 2``; ``Adam(lr=0.01, weight_decay=1e-3)`` over the parameters that require
grad; every epoch the negatives are under-sampled to the number of positives, shuffled, and cut into
batches of 1024.
The fault: PR #7 ("remove sigmoid and modified loss function", 46a514b) took the sigmoid off the two score
heads and, in the same change, replaced ``self.xent = nn.CrossEntropyLoss()`` by ``nn.NLLLoss()``. Both
heads return raw linear scores, and ``NLLLoss`` expects log-probabilities: it just returns
``-mean(score[i, y_i])``, which has no minimum. The optimiser drives the true-class score up without any
pull on the other class, the loss falls without bound (negative from the first step) and the scores grow,
so the loss says nothing about fraud detection; the issue's reporter got "little classification
performance".

Source: github.com/YingtongDou/CARE-GNN issue #8 (after patching a shape error: "the training results had
little classification performance. looks like the code needs to be fixed"; the maintainer: "The problems
are fixed in the last update #9"), PR #9 "Fix inconsistent dimension and improperly used loss function":
commit dd11871de2e657fa55a3fbc87bea9d00c1abece7 (layers.py dimension fix, ``model.py`` still
``nn.NLLLoss()``) is the buggy program; commit 40e4452fca2fd974cd8de75b13d12a68cf0f969e "Fix #8 revised
loss function" (``self.xent = nn.CrossEntropyLoss()``, the only change) is the fix, merged as 9129cbc.
Program lines kept: ``OneLayerCARE`` (``__init__``/``forward``/``loss``), ``InterAgg.forward`` (label-aware
scores, id mapping, sample counts ``ceil(len(neighs) * threshold)``, the three intra aggregations, the
'GNN' inter aggregator), ``IntraAgg.forward``, ``filter_neighs_ada_threshold``, ``threshold_inter_agg``,
``utils.normalize``, ``pos_neg_split``/``undersample``, the split ``train_test_split(stratify=labels,
test_size=0.60, random_state=2)``, the argparse defaults (emb_size 64, lr 0.01, lambda_1 2, lambda_2
1e-3, batch size 1024, thresholds 0.5).
Ported minimally: ``Variable``/``.cuda`` branches dropped. The model's two outputs are returned as one
(n, 4) tensor by a thin wrapper ``forward(node_ids)`` (columns 0-1: the GNN scores, 2-3: the label-aware
scores) and ``loss_fn`` applies ``OneLayerCARE.loss``'s formula to the two halves, so the loss is the
program's. The RL module (which only moves the thresholds by +-0.02 at epoch boundaries from the third
epoch on, without gradients) is left out: the thresholds stay at their initial 0.5, as in the program's
first two epochs. ``InterAgg.alpha`` and ``InterAgg.a`` (used only by the 'Weight'/'Att' aggregators) are
kept as the program has them: unused parameters under ``--inter GNN``.
Data stand-in (YelpChi.mat, 45,954 reviews, 14.5 % fraud, is not shipped): a seeded YelpChi-like graph of
800 reviews, each a fraud with probability 0.145 (101 frauds drawn), 32 non-negative hand-crafted-looking
features (lognormal, 8 of them scaled by 1.6 for fraud) row-normalised by ``normalize``; R-U-R links the
1-4 reviews of one user (a user is all fraud or all benign: high homophily, as in YelpChi's R-U-R; mean
degree 2.0), R-T-R groups of 6 reviews of one product-month and R-S-R groups of 15 reviews of one
product-star drawn at random (low homophily: the camouflage; degrees 5 and 14), self loops added as
``sparse_to_adjlist`` does. Shrunk from a first 2,000-review version whose one step took ~140 ms (the
per-node Python loops of ``filter_neighs_ada_threshold``): now the 40 % train split has 320 reviews (40
frauds), so one under-sampled epoch is 80 nodes = one batch (below 1024, as on YelpChi's 1024-node
batches the epoch is cut), ``batch`` = the first epoch's batch, ``batches`` = 4 epochs' batches (fresh
negatives each), ``inputs`` = the 480 test reviews.
Fault label: loss_mismatch (NLLLoss on raw scores instead of log-probabilities).
Fix (40e4452): ``self.xent = nn.CrossEntropyLoss()``.
Symptom in a short loop (my own loop: ``opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()``,
31 steps = the program's 31 epochs of one batch, cycling the 4 batches): buggy loss -0.08 -> -1.05 (step 5)
-> -6.7 (step 20) -> -13.9 (step 30) and falling without bound (one batch, 100 steps: -204), the GNN
scores all positive (0.6 .. 13.9), test AUC of the GNN head 0.516 (label-aware head 0.644), one-batch
train accuracy after 100 steps 50 % (one class for every node); fixed 2.079 -> 2.031 -> 1.771 -> 1.606
(one batch, 100 steps: 1.300, train accuracy 97.5 %), test AUC 0.949 (GNN) and 0.939 (label-aware).
A step takes 55-70 ms on one thread.
Keras: not ported; the repository is PyTorch only and Keras has no loss that reads raw scores as
log-probabilities the way ``NLLLoss`` does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_mismatch"
SOURCE = ("github:YingtongDou/CARE-GNN issue #8, PR #9 (model.py@dd11871de2e657fa55a3fbc87bea9d00c1abece7, "
          "layers.py, train.py, utils.py; fix 40e4452fca2fd974cd8de75b13d12a68cf0f969e)")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("not_constant_predictions", {})]

# train.py argparse defaults (yelp)
batch_size = 1024
lr = 0.01
lambda_1 = 2
lambda_2 = 1e-3
emb_size = 64
seed = 72
n_reviews, fraud_rate, n_feat = 800, 0.145, 32


def _yelp_like(seed_: int = 0) -> tuple[list[dict[int, set]], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed_)
    labels = (rng.random(n_reviews) < fraud_rate).astype(np.int64)
    feat = rng.lognormal(0.0, 0.5, (n_reviews, n_feat))
    feat[labels == 1, :8] *= 1.6
    rur, rtr, rsr = ({i: {i} for i in range(n_reviews)} for _ in range(3))  # self loops

    def link(adj, group):
        for a in group:
            adj[int(a)].update(int(b) for b in group)

    for cls in (0, 1):  # one user's reviews share its label
        pool = rng.permutation(np.flatnonzero(labels == cls))
        i = 0
        while i < len(pool):
            k = int(rng.integers(1, 5))
            link(rur, pool[i:i + k])
            i += k
    for adj, size in ((rtr, 6), (rsr, 15)):
        pool = rng.permutation(n_reviews)
        for i in range(0, n_reviews, size):
            link(adj, pool[i:i + size])
    return [rur, rtr, rsr], feat, labels


def normalize(mx):  # utils.normalize (row-normalise)
    rowsum = np.array(mx.sum(1)) + 0.01
    r_inv = np.power(rowsum, -1).flatten()
    r_inv[np.isinf(r_inv)] = 0.
    return mx * r_inv[:, None]


def pos_neg_split(nodes, labels):  # utils.pos_neg_split
    pos_nodes, neg_nodes = [], list(nodes)
    for idx, label in enumerate(labels):
        if label == 1:
            pos_nodes.append(nodes[idx])
            neg_nodes.remove(nodes[idx])
    return pos_nodes, neg_nodes


def undersample(rd, pos_nodes, neg_nodes, scale=1):  # utils.undersample
    aux_nodes = rd.sample(list(neg_nodes), k=int(len(pos_nodes) * scale))
    return pos_nodes + aux_nodes


def _build(framework: str, cross_entropy: bool) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError("torch only")
    import math
    import random
    from operator import itemgetter

    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    from torch.nn import init
    from sklearn.model_selection import train_test_split

    torch.manual_seed(0)
    adj_lists, feat_data, labels = _yelp_like()
    np.random.seed(seed)
    rd = random.Random(seed)
    index = list(range(len(labels)))
    idx_train, idx_test, y_train, y_test = train_test_split(index, labels, stratify=labels, test_size=0.60,
                                                            random_state=2, shuffle=True)
    train_pos, train_neg = pos_neg_split(idx_train, y_train)
    features = nn.Embedding(feat_data.shape[0], feat_data.shape[1])
    feat_data = normalize(feat_data)
    features.weight = nn.Parameter(torch.FloatTensor(feat_data), requires_grad=False)

    def filter_neighs_ada_threshold(center_scores, neigh_scores, neighs_list, sample_list):
        samp_neighs, samp_scores = [], []
        for idx, center_score in enumerate(center_scores):
            center_score = center_scores[idx][0]
            neigh_score = neigh_scores[idx][:, 0].view(-1, 1)
            center_score = center_score.repeat(neigh_score.size()[0], 1)
            neighs_indices = neighs_list[idx]
            num_sample = sample_list[idx]
            score_diff = torch.abs(center_score - neigh_score).squeeze()
            sorted_scores, sorted_indices = torch.sort(score_diff, dim=0, descending=False)
            selected_indices = sorted_indices.tolist()
            if len(neigh_scores[idx]) > num_sample + 1:
                selected_neighs = [neighs_indices[n] for n in selected_indices[:num_sample]]
                selected_scores = sorted_scores.tolist()[:num_sample]
            else:
                selected_neighs = neighs_indices
                selected_scores = score_diff.tolist()
                if isinstance(selected_scores, float):
                    selected_scores = [selected_scores]
            samp_neighs.append(set(selected_neighs))
            samp_scores.append(selected_scores)
        return samp_neighs, samp_scores

    def threshold_inter_agg(num_relations, self_feats, neigh_feats, embed_dim, weight, threshold, n):
        center_h = torch.mm(self_feats, weight)
        neigh_h = torch.mm(neigh_feats, weight)
        aggregated = torch.zeros(size=(n, embed_dim))
        for r in range(num_relations):
            aggregated += neigh_h[r * n:(r + 1) * n, :] * threshold[r]
        return F.relu(center_h + aggregated)

    class IntraAgg(nn.Module):
        def __init__(self, features, feat_dim):
            super().__init__()
            self.features = features
            self.feat_dim = feat_dim

        def forward(self, nodes, to_neighs_list, batch_scores, neigh_scores, sample_list):
            samp_neighs, samp_scores = filter_neighs_ada_threshold(batch_scores, neigh_scores, to_neighs_list,
                                                                   sample_list)
            unique_nodes_list = list(set.union(*samp_neighs))
            unique_nodes = {n: i for i, n in enumerate(unique_nodes_list)}
            mask = torch.zeros(len(samp_neighs), len(unique_nodes))
            column_indices = [unique_nodes[n] for samp_neigh in samp_neighs for n in samp_neigh]
            row_indices = [i for i in range(len(samp_neighs)) for _ in range(len(samp_neighs[i]))]
            mask[row_indices, column_indices] = 1
            num_neigh = mask.sum(1, keepdim=True)
            mask = mask.div(num_neigh)
            embed_matrix = self.features(torch.LongTensor(unique_nodes_list))
            to_feats = mask.mm(embed_matrix)
            to_feats = F.relu(to_feats)
            return to_feats, samp_scores

    class InterAgg(nn.Module):
        def __init__(self, features, feature_dim, embed_dim, adj_lists, intraggs, inter='GNN', step_size=0.02):
            super().__init__()
            self.features = features
            self.dropout = 0.6
            self.adj_lists = adj_lists
            self.intra_agg1, self.intra_agg2, self.intra_agg3 = intraggs
            self.embed_dim = embed_dim
            self.feat_dim = feature_dim
            self.inter = inter
            self.step_size = step_size
            self.thresholds = [0.5, 0.5, 0.5]
            self.leakyrelu = nn.LeakyReLU(0.2)
            self.weight = nn.Parameter(torch.FloatTensor(self.feat_dim, self.embed_dim))
            init.xavier_uniform_(self.weight)
            self.alpha = nn.Parameter(torch.FloatTensor(self.embed_dim, 3))  # CARE-Weight only
            init.xavier_uniform_(self.alpha)
            self.a = nn.Parameter(torch.FloatTensor(2 * self.embed_dim, 1))  # CARE-Att only
            init.xavier_uniform_(self.a)
            self.label_clf = nn.Linear(self.feat_dim, 2)

        def forward(self, nodes, labels, train_flag=True):
            to_neighs = []
            for adj_list in self.adj_lists:
                to_neighs.append([set(adj_list[int(node)]) for node in nodes])
            unique_nodes = set.union(set.union(*to_neighs[0]), set.union(*to_neighs[1]),
                                     set.union(*to_neighs[2], set(nodes)))
            batch_features = self.features(torch.LongTensor(list(unique_nodes)))
            batch_scores = self.label_clf(batch_features)
            id_mapping = {node_id: index for node_id, index in zip(unique_nodes, range(len(unique_nodes)))}
            center_scores = batch_scores[itemgetter(*nodes)(id_mapping), :]
            r1_list = [list(to_neigh) for to_neigh in to_neighs[0]]
            r2_list = [list(to_neigh) for to_neigh in to_neighs[1]]
            r3_list = [list(to_neigh) for to_neigh in to_neighs[2]]
            r1_scores = [batch_scores[itemgetter(*to_neigh)(id_mapping), :].view(-1, 2) for to_neigh in r1_list]
            r2_scores = [batch_scores[itemgetter(*to_neigh)(id_mapping), :].view(-1, 2) for to_neigh in r2_list]
            r3_scores = [batch_scores[itemgetter(*to_neigh)(id_mapping), :].view(-1, 2) for to_neigh in r3_list]
            r1_sample_num_list = [math.ceil(len(neighs) * self.thresholds[0]) for neighs in r1_list]
            r2_sample_num_list = [math.ceil(len(neighs) * self.thresholds[1]) for neighs in r2_list]
            r3_sample_num_list = [math.ceil(len(neighs) * self.thresholds[2]) for neighs in r3_list]
            r1_feats, r1_scores = self.intra_agg1.forward(nodes, r1_list, center_scores, r1_scores, r1_sample_num_list)
            r2_feats, r2_scores = self.intra_agg2.forward(nodes, r2_list, center_scores, r2_scores, r2_sample_num_list)
            r3_feats, r3_scores = self.intra_agg3.forward(nodes, r3_list, center_scores, r3_scores, r3_sample_num_list)
            neigh_feats = torch.cat((r1_feats, r2_feats, r3_feats), dim=0)
            self_feats = self.features(torch.LongTensor(nodes))
            n = len(nodes)
            combined = threshold_inter_agg(len(self.adj_lists), self_feats, neigh_feats, self.embed_dim,
                                           self.weight, self.thresholds, n)
            # (RL module left out: see the docstring)
            return combined, center_scores

    class OneLayerCARE(nn.Module):
        def __init__(self, num_classes, inter1, lambda_1):
            super().__init__()
            self.inter1 = inter1
            # buggy (46a514b .. dd11871): nn.NLLLoss(); fix (40e4452): nn.CrossEntropyLoss()
            self.xent = nn.CrossEntropyLoss() if cross_entropy else nn.NLLLoss()
            self.weight = nn.Parameter(torch.FloatTensor(inter1.embed_dim, num_classes))
            init.xavier_uniform_(self.weight)
            self.lambda_1 = lambda_1

        def forward(self, nodes, labels, train_flag=True):
            embeds1, label_scores = self.inter1(nodes, labels, train_flag)
            scores = torch.mm(embeds1, self.weight)
            return scores, label_scores

        def loss(self, nodes, labels, train_flag=True):  # the program's loss, on forward's two outputs
            gnn_scores, label_scores = self.forward(nodes, labels, train_flag)
            return self.loss_from_scores(gnn_scores, label_scores, labels)

        def loss_from_scores(self, gnn_scores, label_scores, labels):
            label_loss = self.xent(label_scores, labels.squeeze())  # Simi loss, Eq. (4)
            gnn_loss = self.xent(gnn_scores, labels.squeeze())  # GNN loss, Eq. (10)
            return gnn_loss + self.lambda_1 * label_loss  # Eq. (11)

    class Program(nn.Module):
        """Port wrapper: node ids -> cat(gnn_scores, label_scores) of OneLayerCARE.forward."""

        def __init__(self, gnn_model):
            super().__init__()
            self.gnn_model = gnn_model

        def forward(self, nodes):
            gnn_scores, label_scores = self.gnn_model(nodes.tolist(), None, train_flag=False)
            return torch.cat([gnn_scores, label_scores], dim=1)

    intra1 = IntraAgg(features, feat_data.shape[1])
    intra2 = IntraAgg(features, feat_data.shape[1])
    intra3 = IntraAgg(features, feat_data.shape[1])
    inter1 = InterAgg(features, feat_data.shape[1], emb_size, adj_lists, [intra1, intra2, intra3], inter='GNN')
    gnn_model = OneLayerCARE(2, inter1, lambda_1)

    def loss_fn(out, target):
        return gnn_model.loss_from_scores(out[:, :2], out[:, 2:], target)

    labels_t = torch.LongTensor(labels)
    batches = []
    for epoch in range(4):
        sampled_idx_train = undersample(rd, train_pos, train_neg, scale=1)
        rd.shuffle(sampled_idx_train)
        num_batches = int(len(sampled_idx_train) / batch_size) + 1
        for batch in range(num_batches):
            i_start, i_end = batch * batch_size, min((batch + 1) * batch_size, len(sampled_idx_train))
            batch_nodes = torch.LongTensor(sampled_idx_train[i_start:i_end])
            batches.append((batch_nodes, labels_t[batch_nodes]))
    return {"model": Program(gnn_model), "batch": batches[0], "batches": batches,
            "inputs": torch.LongTensor(idx_test), "loss_fn": loss_fn,
            "optimizer": lambda params: torch.optim.Adam(filter(lambda p: p.requires_grad, params), lr=lr,
                                                         weight_decay=lambda_2)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, cross_entropy=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, cross_entropy=True)
