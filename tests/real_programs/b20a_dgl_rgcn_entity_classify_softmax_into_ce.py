"""DGL's PyTorch R-GCN entity-classification example (``examples/pytorch/rgcn/entity_classify.py`` with
``model.py``'s ``BaseRGCN`` and ``dgl.nn.pytorch.RelGraphConv``), the "Modeling Relational Data with Graph
Convolutional Networks" node classifier on the AIFB knowledge graph (the README's first run:
``python3 entity_classify.py -d aifb --testing``). The nodes are featureless, so the input feature is the
node id (``feats = torch.arange(num_nodes)``, read by ``RelGraphConv`` as a one-hot row); two
``RelGraphConv`` layers with basis regularisation (``n_bases=-1`` -> one basis per relation), ``n_hidden=16``,
``relu`` on the input layer, full-graph forward every epoch, ``loss = F.cross_entropy(logits[train_idx],
labels[train_idx])``, ``Adam(lr=0.01, weight_decay=l2norm=0)``, 50 epochs.
The fault is in ``EntityClassify.build_output_layer``: the output ``RelGraphConv`` is built with
``activation=partial(F.softmax, dim=1)``, so ``model(...)`` returns class probabilities, and
``F.cross_entropy`` (log_softmax + nll) applies a second softmax on them. The loss then works on values in
[0, 1]: for 4 classes the best it can reach is -log(e / (e + 3)) = 0.744 even with a perfect classifier,
and its gradient through the two softmaxes is small, so training is slowed and the loss plateaus high.

Source: github.com/dmlc/dgl issue #1204 ("RGCN entity classification, incorrect loss function?": the model
has a softmax activation but F.cross_entropy expects raw logits; confirmed by the maintainer "You are
correct. Will fix it."), fixed by PR #1217 "[Bugfix] Correct the loss function in RGCN model", commit
7a80faf12082105ef19bdffe78ec649763d58d3a (``activation=None`` on the output layer of the PyTorch, PyTorch
hetero and MXNet examples). Program: ``examples/pytorch/rgcn/entity_classify.py`` and ``model.py`` at
7a80faf120^, ``python/dgl/nn/pytorch/conv/relgraphconv.py`` and ``utils.bmm_maybe_select`` at the same
commit, argparse defaults (``n_hidden=16``, ``n_layers=2`` -> no hidden layer, ``n_bases=-1``, ``lr=1e-2``,
``l2norm=0``, ``dropout=0``, ``use_self_loop=False``, ``validation=True``: the first fifth of train_idx
is held out).
Program lines kept: ``BaseRGCN`` (``build_model``/``forward``), ``EntityClassify`` (its three builders,
the buggy ``partial(F.softmax, dim=1)`` on the output layer), ``RelGraphConv`` basis branch (weight
``(num_bases, in, out)`` xavier-uniform with relu gain, zero ``h_bias``, the message
``weight[etype, src_id]`` for integer input / ``h_src @ weight[etype]`` otherwise, times ``edge_norm``,
summed at the destination, + bias, activation, dropout), the loss and the optimizer.
Ported minimally: DGL's ``g.update_all(message, fn.sum)`` is written as ``index_add_`` over the edge list
(same sums); the graph (edge src/dst/type/norm) and ``feats`` are buffers of a small wrapper whose
``forward(node_ids)`` runs the program's full-graph ``model(g, feats, edge_type, edge_norm)`` and returns
the rows of the requested nodes, i.e. ``logits[train_idx]`` (the program's only use of the output).
``batch`` = the 112 training nodes (full batch, as the program trains); ``batches`` = those nodes in 4
chunks of 28; ``inputs`` = all 176 labelled nodes.
Data stand-in (AIFB is downloaded by ``dgl.contrib.data.load_data``; not possible offline): a seeded
AIFB-like RDF graph, built the way ``RGCNEntityDataset`` builds AIFB's: relation 0 = a self-loop on every
node, each RDF relation r stored as 2r+1 (s -> o) and its inverse 2r+2 (o -> s), ``edge_norm`` = 1 /
(number of edges of that type into the destination). 176 labelled persons in 4 research groups (the
affiliation edge itself removed, as in AIFB), 300 publications, 40 projects, 4 organisations, 60
topics (580 nodes, 5 relations -> 11 relation types, 4,180 edges with the self-loops and inverses); a person authors 3-6
publications and works on 1-2 projects, 80 % / 75 % of them of its own group, publications are about
projects and topics, projects carried out by organisations. 140 train / 36 test persons (AIFB's split
sizes), 28 of the train ones held out for validation as the program does. AIFB itself has 8,285 nodes and
91 relation types: shrunk so the one-hot input layer (num_rels x num_nodes x 16 weights) stays small.
Fault label: output_activation|loss_mismatch (softmax on the output layer fed to F.cross_entropy, which
expects logits).
Fix (7a80faf1): ``activation=None`` on the output ``RelGraphConv``.
Symptom in a short loop (my own full-batch loop, Adam 0.01, on the 112 train nodes; 50 steps = the
program's 50 epochs): buggy loss 1.388 -> 1.087 (step 10) -> 0.806 (step 20) -> 0.744 (step 50), stuck on
the 0.744 floor (0.7438 after 300 steps); fixed 1.393 -> 0.591 -> 0.087 -> 0.002 (2.3e-4 after 300 steps).
50 epochs over the 4 chunks of 28 nodes: buggy 0.744, fixed 9e-4 on the full train batch. The buggy
outputs lie in (0, 1) (2e-6 .. 0.99998), the fixed logits in about [-5.5, 8.1]. Both reach 100 % train and
86.1 % test accuracy on the 36 held-out persons after 50 steps: as the issue's reporter saw on AIFB, the
arg-max survives the double softmax; the loss value and its gradient do not. A step takes about 5 ms on
one thread.
Keras: not ported. The repository's TensorFlow twin (``examples/tensorflow/rgcn/entity_classify.py``, added
in #1191) pairs the same softmax output with ``SparseCategoricalCrossentropy(from_logits=False)``, which
is correct, so the fault exists only in the PyTorch (and MXNet) examples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:dmlc/dgl issue #1204, PR #1217 (examples/pytorch/rgcn/entity_classify.py@7a80faf120^, "
          "model.py, python/dgl/nn/pytorch/conv/relgraphconv.py; fix 7a80faf12082105ef19bdffe78ec649763d58d3a)")
FRAMEWORKS = ("torch",)
CHECKS = [("init_loss", {"num_classes": 4}), ("output_range", {"kind": "logits", "num_classes": 4}),
          ("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {})]

# argparse defaults of entity_classify.py
dropout = 0.0
n_hidden = 16
lr = 1e-2
n_bases = -1
n_layers = 2
l2norm = 0.0
use_self_loop = False
num_classes = 4  # AIFB: 4 research groups


def _aifb_like(seed: int = 0) -> dict[str, np.ndarray]:
    """AIFB-like RDF graph in RGCNEntityDataset's encoding (see the docstring)."""
    rng = np.random.default_rng(seed)
    n_person, n_pub, n_proj, n_org, n_topic = 176, 300, 40, 4, 60
    person = np.arange(n_person)
    pub = n_person + np.arange(n_pub)
    proj = pub[-1] + 1 + np.arange(n_proj)
    org = proj[-1] + 1 + np.arange(n_org)
    topic = org[-1] + 1 + np.arange(n_topic)
    num_nodes = int(topic[-1] + 1)
    y_person = rng.choice(num_classes, n_person, p=[0.35, 0.3, 0.2, 0.15])
    y_proj = np.arange(n_proj) % num_classes
    y_pub = rng.integers(0, num_classes, n_pub)
    y_topic = rng.integers(0, num_classes, n_topic)

    def pick(pool, labels, c, p_own):
        own = pool[labels == c] if rng.random() < p_own else pool[labels != c]
        return int(rng.choice(own))

    triples = []  # (s, rel, o); rel 0 author, 1 worksAtProject, 2 isAbout, 3 publicationOf, 4 carriedOutBy
    for i in person:
        c = y_person[i]
        for _ in range(rng.integers(3, 7)):
            triples.append((pick(pub, y_pub, c, 0.8), 0, i))
        for _ in range(rng.integers(1, 3)):
            triples.append((i, 1, pick(proj, y_proj, c, 0.75)))
    for k, p in enumerate(pub):
        triples.append((p, 3, pick(proj, y_proj, y_pub[k], 0.9)))
        for _ in range(rng.integers(1, 3)):
            triples.append((p, 2, pick(topic, y_topic, y_pub[k], 0.7)))
    for k, p in enumerate(proj):
        triples.append((p, 4, int(org[y_proj[k]])))
    triples = sorted(set(triples))
    edge_list = [(i, i, 0) for i in range(num_nodes)]  # self relation
    for s, r, o in triples:
        edge_list.append((s, o, 2 * r + 1))
        edge_list.append((o, s, 2 * r + 2))  # reverse relation
    edge_list = np.array(sorted(edge_list, key=lambda x: (x[1], x[0], x[2])), dtype=np.int64)
    src, dst, etype = edge_list.T
    # normalize by dst degree (per relation type)
    _, inverse_index, count = np.unique(np.stack([dst, etype]), axis=1, return_inverse=True,
                                        return_counts=True)
    edge_norm = (1.0 / count[np.ravel(inverse_index)]).astype(np.float32)
    order = rng.permutation(n_person)
    train_idx, test_idx = np.sort(order[:140]), np.sort(order[140:])
    labels = np.zeros(num_nodes, dtype=np.int64)
    labels[person] = y_person
    return {"num_nodes": num_nodes, "num_rels": 2 * 5 + 1, "src": src, "dst": dst, "etype": etype,
            "norm": edge_norm, "labels": labels, "train_idx": train_idx, "test_idx": test_idx}


def _build(framework: str, softmax_output: bool) -> dict[str, Any]:
    if framework != "torch":
        raise ValueError("torch only (the repository's TensorFlow twin has no such fault)")
    import functools

    import torch as th
    import torch.nn as nn
    import torch.nn.functional as F

    th.manual_seed(0)
    data = _aifb_like()
    num_nodes, num_rels = data["num_nodes"], data["num_rels"]

    def bmm_maybe_select(A, B, index):  # dgl.nn.pytorch.utils
        if A.dtype == th.int64 and len(A.shape) == 1:
            B = B.view(-1, B.shape[2])
            flatidx = index * B.shape[1] + A
            return B.index_select(0, flatidx)
        BB = B.index_select(0, index)
        return th.bmm(A.unsqueeze(1), BB).squeeze()

    class RelGraphConv(nn.Module):  # dgl.nn.pytorch.RelGraphConv, "basis" regularizer
        def __init__(self, in_feat, out_feat, num_rels, regularizer="basis", num_bases=None, bias=True,
                     activation=None, self_loop=False, dropout=0.0):
            super().__init__()
            self.in_feat, self.out_feat, self.num_rels = in_feat, out_feat, num_rels
            self.num_bases = num_bases
            if self.num_bases is None or self.num_bases > self.num_rels or self.num_bases < 0:
                self.num_bases = self.num_rels
            self.bias, self.activation, self.self_loop = bias, activation, self_loop
            self.weight = nn.Parameter(th.Tensor(self.num_bases, self.in_feat, self.out_feat))
            if self.num_bases < self.num_rels:
                self.w_comp = nn.Parameter(th.Tensor(self.num_rels, self.num_bases))
            nn.init.xavier_uniform_(self.weight, gain=nn.init.calculate_gain('relu'))
            if self.num_bases < self.num_rels:
                nn.init.xavier_uniform_(self.w_comp, gain=nn.init.calculate_gain('relu'))
            if self.bias:
                self.h_bias = nn.Parameter(th.Tensor(out_feat))
                nn.init.zeros_(self.h_bias)
            if self.self_loop:
                self.loop_weight = nn.Parameter(th.Tensor(in_feat, out_feat))
                nn.init.xavier_uniform_(self.loop_weight, gain=nn.init.calculate_gain('relu'))
            self.dropout = nn.Dropout(dropout)

        def basis_message_func(self, h_src, etypes, norm):
            if self.num_bases < self.num_rels:
                weight = self.weight.view(self.num_bases, self.in_feat * self.out_feat)
                weight = th.matmul(self.w_comp, weight).view(self.num_rels, self.in_feat, self.out_feat)
            else:
                weight = self.weight
            msg = bmm_maybe_select(h_src, weight, etypes)
            if norm is not None:
                msg = msg * norm
            return msg

        def forward(self, g, x, etypes, norm=None):
            src, dst = g
            if self.self_loop:
                loop_message = x @ self.loop_weight
            msg = self.basis_message_func(x[src], etypes, norm)
            # g.update_all(message_func, fn.sum(msg='msg', out='h'))
            node_repr = th.zeros(x.shape[0], self.out_feat, dtype=msg.dtype).index_add_(0, dst, msg)
            if self.bias:
                node_repr = node_repr + self.h_bias
            if self.self_loop:
                node_repr = node_repr + loop_message
            if self.activation:
                node_repr = self.activation(node_repr)
            node_repr = self.dropout(node_repr)
            return node_repr

    class BaseRGCN(nn.Module):  # examples/pytorch/rgcn/model.py
        def __init__(self, num_nodes, h_dim, out_dim, num_rels, num_bases, num_hidden_layers=1, dropout=0,
                     use_self_loop=False, use_cuda=False):
            super().__init__()
            self.num_nodes, self.h_dim, self.out_dim, self.num_rels = num_nodes, h_dim, out_dim, num_rels
            self.num_bases = None if num_bases < 0 else num_bases
            self.num_hidden_layers, self.dropout = num_hidden_layers, dropout
            self.use_self_loop, self.use_cuda = use_self_loop, use_cuda
            self.build_model()

        def build_model(self):
            self.layers = nn.ModuleList()
            i2h = self.build_input_layer()
            if i2h is not None:
                self.layers.append(i2h)
            for idx in range(self.num_hidden_layers):
                self.layers.append(self.build_hidden_layer(idx))
            h2o = self.build_output_layer()
            if h2o is not None:
                self.layers.append(h2o)

        def forward(self, g, h, r, norm):
            for layer in self.layers:
                h = layer(g, h, r, norm)
            return h

    class EntityClassify(BaseRGCN):  # entity_classify.py
        def build_input_layer(self):
            return RelGraphConv(self.num_nodes, self.h_dim, self.num_rels, "basis", self.num_bases,
                                activation=F.relu, self_loop=self.use_self_loop, dropout=self.dropout)

        def build_hidden_layer(self, idx):
            return RelGraphConv(self.h_dim, self.h_dim, self.num_rels, "basis", self.num_bases,
                                activation=F.relu, self_loop=self.use_self_loop, dropout=self.dropout)

        def build_output_layer(self):
            # buggy: activation=partial(F.softmax, dim=1); fix (7a80faf1): activation=None
            return RelGraphConv(self.h_dim, self.out_dim, self.num_rels, "basis", self.num_bases,
                                activation=functools.partial(F.softmax, dim=1) if softmax_output else None,
                                self_loop=self.use_self_loop)

    class FullGraph(nn.Module):
        """Port wrapper: holds g, feats, edge_type, edge_norm; returns model(...)[node_ids]."""

        def __init__(self, model):
            super().__init__()
            self.model = model
            self.register_buffer("src", th.from_numpy(data["src"]))
            self.register_buffer("dst", th.from_numpy(data["dst"]))
            self.register_buffer("edge_type", th.from_numpy(data["etype"]))
            self.register_buffer("edge_norm", th.from_numpy(data["norm"]).unsqueeze(1))
            self.register_buffer("feats", th.arange(num_nodes))

        def forward(self, node_ids):
            logits = self.model((self.src, self.dst), self.feats, self.edge_type, self.edge_norm)
            return logits[node_ids]

    model = EntityClassify(num_nodes, n_hidden, num_classes, num_rels, num_bases=n_bases,
                           num_hidden_layers=n_layers - 2, dropout=dropout, use_self_loop=use_self_loop)
    labels = th.from_numpy(data["labels"])
    train_idx = th.from_numpy(data["train_idx"])
    val_idx, train_idx = train_idx[:len(train_idx) // 5], train_idx[len(train_idx) // 5:]  # validation=True
    batch = (train_idx, labels[train_idx])
    chunks = [(c, labels[c]) for c in th.chunk(train_idx, 4)]
    inputs = th.cat([train_idx, val_idx, th.from_numpy(data["test_idx"])])
    return {"model": FullGraph(model), "batch": batch, "batches": chunks, "inputs": inputs,
            "loss_fn": lambda logits, target: F.cross_entropy(logits, target),
            "optimizer": lambda p: th.optim.Adam(p, lr=lr, weight_decay=l2norm)}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, softmax_output=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, softmax_output=False)
