"""Diego999/pyGAT (now diegoantognini/pyGAT), the PyTorch Graph Attention Network on Cora forked from
tkipf/pygcn. ``utils.load_data`` reads ``cora.content`` with ``np.genfromtxt(..., dtype=str)`` (paper id, 1433
binary word flags, subject name), turns the subject column into one-hot rows with ``encode_onehot`` and then into
class ids (``np.where(labels)[1]``), builds the symmetric citation adjacency, row-normalises the features and
symmetrically normalises ``adj + I``; ``idx_train = range(140)``, ``idx_val = range(200, 500)``, ``idx_test =
range(500, 1500)``. ``train.py``: dense ``GAT(nfeat, nhid=8, nclass=labels.max() + 1, dropout=0.6, nheads=8,
alpha=0.2)`` (8 ``GraphAttentionLayer`` heads concatenated, an output attention layer, ELU, ``log_softmax``),
``optim.Adam(lr=0.005, weight_decay=5e-4)``, full-graph steps with ``F.nll_loss(output[idx_train],
labels[idx_train])``, a ``{epoch}.pkl`` state dict saved every epoch, the best validation-loss epoch kept.

The fault (utils.py ``encode_onehot``): ``classes = set(labels)`` and the class index of a subject is its position
in the iteration order of that set. A set of strings iterates in hash order, and CPython salts string hashes per
process (hash randomisation, PYTHONHASHSEED), so every run of the program numbers the seven subjects differently.
Within one run training and ``compute_test`` agree, but a model saved by ``train.py`` and evaluated by a later
process (or fine-tuned / used for prediction there) is scored against another numbering: its outputs are read
through a permuted class index, the predictions land on the wrong subjects, and the accuracy falls to roughly the
share of nodes whose subject happens to keep its index. Issue #46 ("model load successfully but not working"): a
``test.py`` copied from the end of ``train.py`` loads the saved ``.pkl`` and gets test accuracy 0.4530, sometimes
0.02, instead of ~0.84. PR #51 (PanYicheng, merged by the maintainer): the labels from ``load_data`` change when
the code is restarted, so loss and accuracy of a saved model are wrong; sorting the classes fixes the numbering.
Fix 33850ab: ``classes = sorted(list(set(labels)))`` (the first subject in sorted order is always index 0).
Fault label: label_mapping_mismatch (the class-index mapping of the evaluation run disagrees with the training
run's).

Source: github.com/Diego999/pyGAT ``utils.py`` / ``train.py`` / ``models.py`` / ``layers.py`` at
3aa66135c7c326b6a06a58dea53ae62c03da58a3 (= 33850ab^), issue #46, PR #51, fixed by
33850ab120ceb343eb2aa36609bf1a4de65c9fc1 "Change encode_onehot function to enable static class label encoding",
merged in b7b68866739fb5ae6b51ddb041e16f8cef07ba87. (The same line is in tkipf/pygcn ``utils.py``, where issue
#41 / PR #62 report it as non-reproducible runs.)

Program lines kept: ``encode_onehot`` (buggy: ``set(labels)``; fixed: 33850ab's ``sorted(list(set(labels)))``
with its comment), ``load_data``'s graph building and normalisation (``normalize_adj``, ``normalize_features``) up
to the dense arrays, ``GAT`` as in models.py, ``GraphAttentionLayer`` as in layers.py, the hyper-parameters
(hidden 8, 8 heads, dropout 0.6, alpha 0.2, Adam lr 0.005, weight decay 5e-4), the loss
``F.nll_loss(output[idx_train], labels[idx_train])`` (``loss_fn``), ``nclass = int(labels.max()) + 1``.
Replaced / shrunk, and why:
- ``_prepare_attentional_mechanism_input`` is taken from the same repository's later commit
  1aab3d06c5aebd8558251b5356b85431b2caaf82 ("Reduce memory usage", the broadcast sum ``Wh1 + Wh2.T``), the same
  attention scores as the (N*N, 2F) concatenation at 3aa6613 without building it (the old form: ~180 ms a step
  here against ~40 ms).
- 256 nodes instead of 2708 (the dense GAT holds N x N attention maps per head), splits scaled to
  ``range(70)`` / ``range(70, 120)`` / ``range(120, 256)``. The word vocabulary keeps Cora's 1433 columns.
- The two runs: the subject strings are ``_ProcessStr`` objects whose hash is a crc32 salted with a process
  number, standing in for CPython's per-process string-hash salt; ``TRAIN_PROCESS`` is the run of ``train.py``
  whose labels train the model (``batch``), ``EVAL_PROCESS`` the later run of issue #46's ``test.py``. The order of
  ``set(labels)`` then differs between the two as it does between two real runs, but every build is
  deterministic. With these salts the buggy numberings are (training run) Case_Based 0, Reinforcement_Learning 1,
  Neural_Networks 2, Genetic_Algorithms 3, Probabilistic_Methods 4, Theory 5, Rule_Learning 6 and (evaluation
  run) Rule_Learning 0, Reinforcement_Learning 1, Genetic_Algorithms 2, Neural_Networks 3, Probabilistic_Methods
  4, Case_Based 5, Theory 6: two subjects (23 % of the nodes) keep their index. Fixed: alphabetical in both.
- ``encode`` / ``decode`` / ``labels`` (for label_roundtrip): ``encode`` maps subject names to the class ids the
  training run's ``load_data`` gave them, ``decode`` maps a class id back to a name with the evaluation run's
  numbering, i.e. how ``test.py`` reads the saved model's outputs; ``labels`` is the raw subject column.
- ``model(features)``: a thin wrapper holding the normalised adjacency as a buffer and calling
  ``gat(features, adj)`` (the checks call ``model(x)``); ``batch`` = (features, labels) of the whole graph, the
  program's one batch; ``inputs`` the same 256-node feature matrix (a transductive GAT needs all nodes, so no
  smaller held-out set exists). No ``batches``: the program trains on the one full graph every step.
- Keras twin: the same data code (numpy, framework-free) and the same GAT in Keras 3: per head a layer with
  ``W`` (1433 x 8) and ``a`` (16 x 1) drawn like ``xavier_uniform_(gain=1.414)``, the broadcast attention score,
  LeakyReLU(0.2), the -9e15 mask outside ``adj``, softmax over neighbours, Dropout(0.6) on the attention, ELU for
  the concatenated heads, output layer of 7, ELU, ``log_softmax``; dropout 0.6 on the inputs and between layers;
  ``Adam(learning_rate=0.005)`` with torch's coupled weight decay as an L2 penalty of 2.5e-4 x ||w||^2 on every
  weight (so Keras' reported loss carries that term, ~0.08 at initialisation); the loss is the NLL of the
  ``idx_train`` rows. The model takes the whole graph (batch of 256) as its one input.
Data stand-in (no Cora download): 256 papers with Cora's seven subjects drawn in Cora's proportions (29 / 30 / 72
/ 39 / 20 / 21 / 45 nodes), each paper 12-24 words, about 20 % of them from a 60-word vocabulary of its subject and
the rest uniform over the 1433 words (binary flags, as in ``cora.content``); 512 citations, 70 % between papers of
the same subject; random paper ids, the nodes in random subject order as in the file.

Measured (my own plain loop, /tmp/s56/p/b93d/measure.py: train.py's loop on the module's builds, full-graph Adam
steps, validation loss in eval mode each epoch, the best-validation state restored, then ``compute_test``; torch
seed 0, OMP_NUM_THREADS=1, 300 epochs):
  torch buggy: train loss 1.950 -> 0.603 (epochs 0 -> 299), train acc 1.00, val acc 0.72; test accuracy with the
    training run's labels (train.py's own compute_test) 0.875 (NLL 0.638); the same saved model scored against the
    evaluation run's labels (issue #46's test.py) 0.154 (NLL 2.616); over all 256 nodes 0.184.
  torch fixed: train loss 1.949 -> 0.643, val acc 0.74; test accuracy 0.875 (NLL 0.652) in both runs.
  Keras (/tmp/s56/p/b93d/measure_keras.py, ``train_on_batch`` on the full graph, same protocol): buggy test
    accuracy 0.868 with the training run's labels, 0.147 (NLL 2.615) with the evaluation run's; fixed 0.860 in both.
  decode(encode(subject)) returns the subject for 23 % of the nodes in the buggy build, for all of them fixed.
  Training itself is the same in both versions (initial loss 1.946 = ln 7 in torch; the curves above differ only
  by the permuted class ids the heads are trained on): the fault is invisible while the training run lasts and
  only shows when its model meets another run's numbering, as in the issue.
  Time per step (256 nodes, one thread): torch ~40 ms, Keras ``train_on_batch`` ~40 ms; building all four
  versions the first time ~10.5 s (the torch and TensorFlow imports, the data), later builds 2 ms (torch) /
  0.27 s (Keras).
"""

from __future__ import annotations

import functools
import zlib
from typing import Any, Callable

import numpy as np

from tests.real_programs._versions import versions

LABEL = "label_mapping_mismatch"
SOURCE = ("github:Diego999/pyGAT (now diegoantognini/pyGAT) issue #46, PR #51 (utils.py encode_onehot "
          "'classes = set(labels)' @3aa66135c7c326b6a06a58dea53ae62c03da58a3, train.py, models.py GAT, layers.py "
          "GraphAttentionLayer; fix 33850ab120ceb343eb2aa36609bf1a4de65c9fc1 'classes = sorted(list(set(labels)))', "
          "merged b7b68866739fb5ae6b51ddb041e16f8cef07ba87)")
FRAMEWORKS = ("torch", "keras")

# train.py defaults
LR = 0.005
WEIGHT_DECAY = 5e-4
HIDDEN = 8
NB_HEADS = 8
DROPOUT = 0.6
ALPHA = 0.2
# Cora's seven subjects and their node counts (2708 nodes in all)
CORA_CLASSES = ("Case_Based", "Genetic_Algorithms", "Neural_Networks", "Probabilistic_Methods",
                "Reinforcement_Learning", "Rule_Learning", "Theory")
CORA_COUNTS = (298, 418, 818, 426, 217, 180, 351)
N_CLASSES = len(CORA_CLASSES)
N_WORDS = 1433  # Cora's binary bag-of-words width
# stand-in (shrunk from 2708 nodes, see the docstring)
N_NODES = 256
TOPIC_SHARE = 0.2
HOMOPHILY = 0.7
IDX_TRAIN = range(70)  # load_data: range(140)
IDX_VAL = range(70, 120)  # load_data: range(200, 500)
IDX_TEST = range(120, 256)  # load_data: range(500, 1500)
TRAIN_PROCESS = 1  # the Python process that runs train.py
EVAL_PROCESS = 2  # the later process that loads the saved .pkl and evaluates (issue #46's test.py)
SEED = 0

CHECKS = [("label_roundtrip", {"num_classes": 7}), ("overfit_one_batch", {}),
          ("init_loss", {"num_classes": 7}), ("gradients_flow", {})]


# ------------------------------------------------------------------------------------------------------------ data

class _ProcessStr(str):
    """A label string as one Python process hashes it. CPython salts str hashes per process (PYTHONHASHSEED is
    random by default), so the iteration order of ``set(labels)`` changes from one run of the program to the next.
    Here the salt is the process number, so each 'process' has its own fixed order and every build is
    deterministic; equality stays plain string equality."""

    salt: int

    def __new__(cls, s: str, salt: int) -> _ProcessStr:
        obj = super().__new__(cls, s)
        obj.salt = salt
        return obj

    def __hash__(self) -> int:
        return zlib.crc32(f"{self.salt}|{str(self)}".encode())


@functools.lru_cache(maxsize=1)
def _cora_like() -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Paper ids, binary word features (N, 1433), subject names, citation pairs (cited, citing) of paper ids."""
    r = np.random.default_rng(SEED)
    share = np.array(CORA_COUNTS, float) / sum(CORA_COUNTS)
    y = r.choice(N_CLASSES, N_NODES, p=share)
    topics = [r.choice(N_WORDS, 60, replace=False) for _ in range(N_CLASSES)]
    feats = np.zeros((N_NODES, N_WORDS), np.int8)
    for i, c in enumerate(y):  # ~18 words a paper: ~40 % from its subject's vocabulary, the rest anywhere
        n = int(r.integers(12, 25))
        k = int(r.binomial(n, TOPIC_SHARE))
        feats[i, r.choice(topics[c], k, replace=False)] = 1
        feats[i, r.choice(N_WORDS, n - k, replace=False)] = 1
    edges = set()
    while len(edges) < 2 * N_NODES:  # ~2 citations a paper (Cora: 5429 for 2708), 80 % within the subject
        a = int(r.integers(N_NODES))
        same = np.flatnonzero(y == y[a]) if r.random() < HOMOPHILY else np.arange(N_NODES)
        b = int(r.choice(same))
        if a != b and (b, a) not in edges:
            edges.add((a, b))
    paper_ids = r.choice(np.arange(30, 1_200_000), N_NODES, replace=False)
    pairs = np.array(sorted(edges))
    return paper_ids, feats, [CORA_CLASSES[c] for c in y], paper_ids[pairs]


def _genfromtxt_content(process: int) -> np.ndarray:
    """cora.content as ``np.genfromtxt(..., dtype=np.dtype(str))`` gives it in one process: paper id, 1433 word
    flags, subject; the subjects are strings hashed with that process's salt."""
    paper_ids, feats, names, _ = _cora_like()
    table = np.empty((N_NODES, N_WORDS + 2), dtype=object)
    table[:, 0] = paper_ids
    table[:, 1:-1] = feats
    table[:, -1] = [_ProcessStr(s, process) for s in names]
    return table


def _encode_onehot(fixed: bool) -> Callable[[Any], np.ndarray]:
    def encode_onehot(labels):  # utils.py @3aa6613
        classes = set(labels)
        classes_dict = {c: np.identity(len(classes))[i, :] for i, c in enumerate(classes)}
        labels_onehot = np.array(list(map(classes_dict.get, labels)), dtype=np.int32)
        return labels_onehot

    def encode_onehot_fixed(labels):  # utils.py @33850ab
        # The classes must be sorted before encoding to enable static class encoding.
        # In other words, make sure the first class always maps to index 0.
        classes = sorted(list(set(labels)))
        classes_dict = {c: np.identity(len(classes))[i, :] for i, c in enumerate(classes)}
        labels_onehot = np.array(list(map(classes_dict.get, labels)), dtype=np.int32)
        return labels_onehot

    return encode_onehot_fixed if fixed else encode_onehot


def normalize_adj(mx: Any) -> Any:
    """Row-normalize sparse matrix"""
    import scipy.sparse as sp

    rowsum = np.array(mx.sum(1))
    r_inv_sqrt = np.power(rowsum, -0.5).flatten()
    r_inv_sqrt[np.isinf(r_inv_sqrt)] = 0.
    r_mat_inv_sqrt = sp.diags(r_inv_sqrt)
    return mx.dot(r_mat_inv_sqrt).transpose().dot(r_mat_inv_sqrt)


def normalize_features(mx: Any) -> Any:
    """Row-normalize sparse matrix"""
    import scipy.sparse as sp

    rowsum = np.array(mx.sum(1))
    r_inv = np.power(rowsum, -1).flatten()
    r_inv[np.isinf(r_inv)] = 0.
    r_mat_inv = sp.diags(r_inv)
    mx = r_mat_inv.dot(mx)
    return mx


@functools.lru_cache(maxsize=None)
def load_data(process: int, fixed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """utils.load_data as one process runs it (numpy up to the final tensors): adj (N, N), features (N, 1433)
    float32, labels (N,) int64."""
    import scipy.sparse as sp

    encode_onehot = _encode_onehot(fixed)
    idx_features_labels = _genfromtxt_content(process)
    features = sp.csr_matrix(idx_features_labels[:, 1:-1], dtype=np.float32)
    labels = encode_onehot(idx_features_labels[:, -1])

    # build graph
    idx = np.array(idx_features_labels[:, 0], dtype=np.int32)
    idx_map = {j: i for i, j in enumerate(idx)}
    edges_unordered = _cora_like()[3].astype(np.int32)
    edges = np.array(list(map(idx_map.get, edges_unordered.flatten())),
                     dtype=np.int32).reshape(edges_unordered.shape)
    adj = sp.coo_matrix((np.ones(edges.shape[0]), (edges[:, 0], edges[:, 1])),
                        shape=(labels.shape[0], labels.shape[0]), dtype=np.float32)

    # build symmetric adjacency matrix
    adj = adj + adj.T.multiply(adj.T > adj) - adj.multiply(adj.T > adj)

    features = normalize_features(features)
    adj = normalize_adj(adj + sp.eye(adj.shape[0]))

    adj = np.array(adj.todense(), dtype=np.float32)
    features = np.array(features.todense(), dtype=np.float32)
    labels = np.where(labels)[1].astype(np.int64)
    return adj, features, labels


def _class_index(process: int, fixed: bool) -> dict[str, int]:
    """Subject -> class index, as load_data in ``process`` encodes the label column."""
    _, _, labels = load_data(process, fixed)
    names = _cora_like()[2]
    return {name: int(labels[names.index(name)]) for name in CORA_CLASSES}


def _common(fixed: bool) -> dict[str, Any]:
    adj, features, labels = load_data(TRAIN_PROCESS, fixed)  # train.py
    to_index = _class_index(TRAIN_PROCESS, fixed)  # the encoding the saved model was trained with
    to_name = {i: name for name, i in _class_index(EVAL_PROCESS, fixed).items()}  # the encoding test.py reads with

    def encode(raw: Any) -> Any:
        if isinstance(raw, str):
            return to_index[raw]
        return np.array([to_index[str(s)] for s in raw], dtype=np.int64)

    def decode(index: Any) -> Any:
        if np.ndim(index) == 0:
            return to_name[int(index)]
        return np.array([to_name[int(i)] for i in np.asarray(index).ravel()], dtype=object)

    return {"adj": adj.copy(), "features": features.copy(), "labels": labels.copy(), "encode": encode, "decode": decode,
            "raw_labels": list(_cora_like()[2])}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torch.optim as optim

    class GraphAttentionLayer(nn.Module):  # layers.py @1aab3d0 (= @3aa6613 with the broadcast-add attention)
        """
        Simple GAT layer, similar to https://arxiv.org/abs/1710.10903
        """
        def __init__(self, in_features, out_features, dropout, alpha, concat=True):
            super(GraphAttentionLayer, self).__init__()
            self.dropout = dropout
            self.in_features = in_features
            self.out_features = out_features
            self.alpha = alpha
            self.concat = concat

            self.W = nn.Parameter(torch.empty(size=(in_features, out_features)))
            nn.init.xavier_uniform_(self.W.data, gain=1.414)
            self.a = nn.Parameter(torch.empty(size=(2*out_features, 1)))
            nn.init.xavier_uniform_(self.a.data, gain=1.414)

            self.leakyrelu = nn.LeakyReLU(self.alpha)

        def forward(self, h, adj):
            Wh = torch.mm(h, self.W)  # h.shape: (N, in_features), Wh.shape: (N, out_features)
            e = self._prepare_attentional_mechanism_input(Wh)

            zero_vec = -9e15*torch.ones_like(e)
            attention = torch.where(adj > 0, e, zero_vec)
            attention = F.softmax(attention, dim=1)
            attention = F.dropout(attention, self.dropout, training=self.training)
            h_prime = torch.matmul(attention, Wh)

            if self.concat:
                return F.elu(h_prime)
            else:
                return h_prime

        def _prepare_attentional_mechanism_input(self, Wh):
            # Wh.shape (N, out_feature)
            # self.a.shape (2 * out_feature, 1)
            # Wh1&2.shape (N, 1)
            # e.shape (N, N)
            Wh1 = torch.matmul(Wh, self.a[:self.out_features, :])
            Wh2 = torch.matmul(Wh, self.a[self.out_features:, :])
            # broadcast add
            e = Wh1 + Wh2.T
            return self.leakyrelu(e)

    class GAT(nn.Module):  # models.py @3aa6613
        def __init__(self, nfeat, nhid, nclass, dropout, alpha, nheads):
            """Dense version of GAT."""
            super(GAT, self).__init__()
            self.dropout = dropout

            self.attentions = [GraphAttentionLayer(nfeat, nhid, dropout=dropout, alpha=alpha, concat=True)
                               for _ in range(nheads)]
            for i, attention in enumerate(self.attentions):
                self.add_module('attention_{}'.format(i), attention)

            self.out_att = GraphAttentionLayer(nhid * nheads, nclass, dropout=dropout, alpha=alpha, concat=False)

        def forward(self, x, adj):
            x = F.dropout(x, self.dropout, training=self.training)
            x = torch.cat([att(x, adj) for att in self.attentions], dim=1)
            x = F.dropout(x, self.dropout, training=self.training)
            x = F.elu(self.out_att(x, adj))
            return F.log_softmax(x, dim=1)

    class GATOnGraph(nn.Module):
        """``model(features, adj)`` with the (fixed) normalised adjacency kept on the module: model(features)."""

        def __init__(self, gat: nn.Module, adj: Any) -> None:
            super().__init__()
            self.gat = gat
            self.register_buffer("adj", adj)

        def forward(self, x: Any) -> Any:
            return self.gat(x, self.adj)

    c = _common(fixed)
    torch.manual_seed(SEED)
    adj = torch.FloatTensor(c["adj"])
    features = torch.FloatTensor(c["features"])
    labels = torch.LongTensor(c["labels"])
    idx_train = torch.LongTensor(IDX_TRAIN)
    gat = GAT(nfeat=features.shape[1],
              nhid=HIDDEN,
              nclass=int(labels.max()) + 1,
              dropout=DROPOUT,
              nheads=NB_HEADS,
              alpha=ALPHA)
    model = GATOnGraph(gat, adj)
    optimizer = optim.Adam(model.parameters(),
                           lr=LR,
                           weight_decay=WEIGHT_DECAY)

    def loss_fn(output: Any, labels: Any) -> Any:  # train(): the loss over the training nodes only
        return F.nll_loss(output[idx_train], labels[idx_train])

    return {"model": model, "batch": (features, labels), "inputs": features, "loss_fn": loss_fn,
            "optimizer": optimizer, "encode": c["encode"], "decode": c["decode"], "labels": c["raw_labels"]}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import ops

    keras.utils.set_random_seed(SEED)
    c = _common(fixed)
    l2 = keras.regularizers.L2(WEIGHT_DECAY / 2)  # torch Adam's weight_decay adds wd * w to each gradient

    class GraphAttentionLayer(keras.layers.Layer):
        def __init__(self, in_features: int, out_features: int, dropout: float, alpha: float, adj: Any,
                     concat: bool = True, **kw: Any) -> None:
            super().__init__(**kw)
            self.out_features, self.concat, self.alpha = out_features, concat, alpha
            init = keras.initializers.VarianceScaling(1.414 ** 2, "fan_avg", "uniform")  # xavier_uniform_(gain)
            self.W = self.add_weight(shape=(in_features, out_features), initializer=init, regularizer=l2, name="W")
            self.a = self.add_weight(shape=(2 * out_features, 1), initializer=init, regularizer=l2, name="a")
            self.adj = adj
            self.drop = keras.layers.Dropout(dropout)

        def call(self, h: Any, training: Any = None) -> Any:
            Wh = ops.matmul(h, self.W)
            # [Wh_i || Wh_j] . a == Wh_i . a[:F] + Wh_j . a[F:]
            e = ops.leaky_relu(ops.matmul(Wh, self.a[:self.out_features])
                               + ops.transpose(ops.matmul(Wh, self.a[self.out_features:])), self.alpha)
            attention = ops.where(self.adj > 0, e, -9e15 * ops.ones_like(e))
            attention = ops.softmax(attention, axis=1)
            attention = self.drop(attention, training=training)
            h_prime = ops.matmul(attention, Wh)
            return ops.elu(h_prime) if self.concat else h_prime

    adj = ops.convert_to_tensor(c["adj"])
    x_in = keras.Input(shape=(N_WORDS,), batch_size=N_NODES)
    x = keras.layers.Dropout(DROPOUT)(x_in)
    x = keras.layers.Concatenate(axis=1)(
        [GraphAttentionLayer(N_WORDS, HIDDEN, DROPOUT, ALPHA, adj)(x) for _ in range(NB_HEADS)])
    x = keras.layers.Dropout(DROPOUT)(x)
    x = GraphAttentionLayer(HIDDEN * NB_HEADS, N_CLASSES, DROPOUT, ALPHA, adj, concat=False)(x)
    out = keras.layers.Activation("log_softmax")(keras.layers.Activation("elu")(x))
    model = keras.Model(x_in, out)
    idx_train = np.array(IDX_TRAIN)

    def nll_loss(labels: Any, output: Any) -> Any:  # F.nll_loss(output[idx_train], labels[idx_train])
        lab = ops.cast(ops.take(ops.reshape(labels, (-1,)), idx_train, axis=0), "int32")
        out = ops.take(output, idx_train, axis=0)
        return -ops.mean(ops.take_along_axis(out, lab[:, None], axis=1))

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LR), loss=nll_loss)
    return {"model": model, "batch": (c["features"], c["labels"]), "inputs": c["features"],
            "encode": c["encode"], "decode": c["decode"], "labels": c["raw_labels"]}


buggy, fixed = versions(_torch, _keras)
