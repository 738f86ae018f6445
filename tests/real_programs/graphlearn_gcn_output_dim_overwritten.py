"""Alibaba graph-learn (GraphLearn) PyTorch example ``graphlearn/examples/pytorch/gcn``: sampling-based
node classification on Cora with a two-layer PyG ``GCN``. Each training batch is 140 seed nodes (the
140-node train table, ``train_batch_size=140``), each induced with its full 1-hop neighbourhood into a star
subgraph (``induce_func``: edges seed <-> neighbour, the neighbours' labels kept too), merged by
``PyGDataLoader`` into one PyG ``Batch``; ``GCN(input_dim=1433, hidden_dim=128, output_dim=7, depth=2)``
is ``GCNConv(1433, 128) -> relu -> GCNConv(128, 7)``, the loss is ``F.nll_loss(F.log_softmax(x, dim=1),
data.y)`` over every node of the batch, ``Adam(lr=0.01)``, 60 epochs. The features are Cora's bag-of-words
rows normalised to sum 1 (``examples/data/cora.py`` ``feature_normalize``).
The bug is in ``GCN.__init__``::

    for i in range(depth):
      input_dim = input_dim if i == 0 else hidden_dim
      output_dim = output_dim if i == depth - 1 else hidden_dim
      self.layers.append(GCNConv(input_dim, output_dim))

the loop overwrites the ``output_dim`` argument with ``hidden_dim`` on its first pass, so the last layer is
``GCNConv(128, 128)``: the network emits 128 scores per node for a 7-class problem (121 of them for classes
that do not exist), trained silently by ``nll_loss`` because the labels 0..6 are valid indices.

Source: github.com/alibaba/graph-learn issue #230 ("GCN模型Pytorch样例代码bug": after the first iteration
output_dim is overwritten by hidden_dim, so the model's output dim is wrong; no error, but poor training),
fixed by PR #231 (commit 18c4d6ed "fix out_dim in pytorch GCN example", which keeps the arguments in
``self.input_dim/hidden_dim/output_dim`` and reads those in the loop). Program: gcn.py and train.py at
18c4d6ed^ (``GCN``, ``induce_func``, ``train``, argparse defaults ``class_num=7``, ``features_num=1433``,
``hidden_dim=128``, ``depth=2``, ``drop_rate=0.0``, ``learning_rate=0.01``, ``train_batch_size=140``).
Ported minimally: PyG's ``GCNConv`` (glorot weight, zero bias, self-loops, symmetric normalisation
D^-1/2 (A + I) D^-1/2) is written out densely for the batch's star subgraphs. The merged ``Batch.x`` is
kept as the model input (nodes of subgraph after subgraph, each seed first), with every seed given 4
sampled neighbours (Cora's mean degree is 3.9), so the model rebuilds ``edge_index`` from the node
positions (rows 5k..5k+4 form a star around row 5k; a trailing partial group is a smaller star). Keras
twin: the same two dense-adjacency GCN layers as a Keras layer, ``SparseCategoricalCrossentropy(
from_logits=True)`` (log_softmax + nll_loss) and ``Adam(0.01)``; the buggy twin's last layer has 128 units
as the same loop would build in any framework.
Data stand-in (no download of cora.zip): seeded Cora-like stars: the seed's class drawn with Cora's class
frequencies, each neighbour sharing it with probability 0.81 (Cora's edge homophily), 1433 binary words per
node (about 18 on, half of them from a 120-word vocabulary of the node's class), rows normalised to sum 1.
One batch of 140 stars = 700 nodes, (700, 1433) float32 and (700,) int64 labels; a second batch of 140
stars is added for the checks that want several batches.
Fault label: head_width (the output layer has hidden_dim = 128 units instead of class_num = 7).
Fix (PR #231): the last layer is ``GCNConv(hidden_dim, output_dim)`` = ``GCNConv(128, 7)``.
Symptom in a short loop of my own (Adam 0.01 on the train batch, 60 steps = the program's 60 epochs):
torch: initial loss 4.85 (ln 128) buggy vs 1.95 (ln 7) fixed; after 60 steps 0.156 vs 0.036, train accuracy
92.3 % vs 100 % (the second batch of stars: 90.9 % vs 91.1 %); after 300 steps 3.3e-3 vs 1.3e-3, so the extra
121 logits only slow the fit down and are never the arg-max once pushed down. Keras (``fit``, one batch of
700 nodes): 4.85 vs 1.94 at the start, 0.173 vs 0.038 after 60 epochs (train accuracy 91.3 % vs 100 %).
One training step: about 20-25 ms in torch and about 0.1 s in Keras ``fit`` on one thread.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "head_width"
SOURCE = ("github:alibaba/graph-learn issue #230, PR #231 (graphlearn/examples/pytorch/gcn/gcn.py@18c4d6ed^, "
          "train.py; fix 18c4d6ed)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("init_loss", {"num_classes": 7}), ("output_range", {"kind": "logits", "num_classes": 7}),
          ("loss_decreases", {}), ("overfit_one_batch", {})]

class_num = 7  # argparse defaults
features_num = 1433
hidden_dim = 128
depth = 2
learning_rate = 0.01
train_batch_size = 140
n_nbrs = 4  # neighbours per seed in the stand-in (Cora mean degree 3.9)
STAR = n_nbrs + 1
CORA_CLASS_FREQ = np.array([351, 217, 418, 818, 426, 298, 180], dtype="float64") / 2708.0


def _cora_like_stars(n_stars: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``induce_func`` + ``PyGDataLoader``: node rows of star after star (seed first), row-normalised
    bag-of-words features, labels of every node."""
    rng = np.random.default_rng(seed)
    topic = np.random.default_rng(1234).choice(features_num, (class_num, 120), replace=True)
    seeds = rng.choice(class_num, n_stars, p=CORA_CLASS_FREQ)
    y = np.empty((n_stars, STAR), dtype="int64")
    y[:, 0] = seeds
    same = rng.random((n_stars, n_nbrs)) < 0.81
    other = rng.choice(class_num, (n_stars, n_nbrs), p=CORA_CLASS_FREQ)
    y[:, 1:] = np.where(same, seeds[:, None], other)
    y = y.reshape(-1)
    x = np.zeros((len(y), features_num), dtype="float32")
    for i, c in enumerate(y):
        k = rng.integers(10, 27)
        from_topic = rng.random(k) < 0.5
        words = np.where(from_topic, topic[c, rng.integers(0, 120, k)], rng.integers(0, features_num, k))
        x[i, words] = 1.0
    x /= x.sum(1, keepdims=True)  # feature_normalize
    return x, y


@functools.lru_cache(maxsize=8)
def _star_adjacency_np(n: int) -> np.ndarray:
    idx = np.arange(n)
    group = idx // STAR
    seed = idx % STAR == 0
    a = (group[:, None] == group[None, :]) & (seed[:, None] ^ seed[None, :])
    a = a.astype("float32") + np.eye(n, dtype="float32")  # add_self_loops
    d = a.sum(1) ** -0.5
    return a * d[:, None] * d[None, :]


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    data = [_cora_like_stars(train_batch_size, seed) for seed in (0, 1)]
    out_last = class_num if fixed else hidden_dim  # the bug: output_dim overwritten by hidden_dim
    dims = [(features_num, hidden_dim), (hidden_dim, out_last)]
    if framework == "torch":
        import torch
        from torch import nn
        import torch.nn.functional as F

        torch.manual_seed(0)

        class GCNConv(nn.Module):
            """PyG GCNConv on the batch's star subgraphs (dense normalised adjacency)."""

            def __init__(self, in_channels: int, out_channels: int) -> None:
                super().__init__()
                self.lin = nn.Linear(in_channels, out_channels, bias=False)
                self.bias = nn.Parameter(torch.zeros(out_channels))
                self.reset_parameters()

            def reset_parameters(self) -> None:
                nn.init.xavier_uniform_(self.lin.weight)
                nn.init.zeros_(self.bias)

            def forward(self, x):
                adj = torch.from_numpy(_star_adjacency_np(x.shape[0]))
                return adj @ self.lin(x) + self.bias

        class GCN(nn.Module):  # program lines (gcn.py), bug or fix in the layer sizes
            def __init__(self) -> None:
                super().__init__()
                self.depth = depth
                self.drop_rate = 0.0
                self.layers = nn.ModuleList([GCNConv(i, o) for i, o in dims])

            def forward(self, x):
                h = x
                for l, layer in enumerate(self.layers):
                    h = layer(h)
                    if l != self.depth - 1:
                        h = F.relu(h)
                        if self.drop_rate:
                            h = F.dropout(h, p=self.drop_rate, training=self.training)
                return h

        def loss_fn(out, target):  # train(): x = F.log_softmax(x, dim=1); loss = F.nll_loss(x, data.y)
            return F.nll_loss(F.log_softmax(out, dim=1), target)

        batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in data]
        return {"model": GCN(), "batch": batches[0], "batches": batches, "loss_fn": loss_fn,
                "optimizer": lambda p: torch.optim.Adam(p, lr=learning_rate)}

    import keras
    from keras import ops

    keras.utils.set_random_seed(0)

    class GCNConv(keras.layers.Layer):
        def __init__(self, units: int, **kw: Any) -> None:
            super().__init__(**kw)
            self.dense = keras.layers.Dense(units, use_bias=False, kernel_initializer="glorot_uniform")
            self.units = units

        def build(self, input_shape):
            self.dense.build(input_shape)
            self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

        def call(self, x):
            n = ops.shape(x)[0]
            idx = ops.arange(n)
            group = idx // STAR
            seed = ops.equal(idx % STAR, 0)
            same = ops.equal(group[:, None], group[None, :])
            star = ops.logical_and(same, ops.not_equal(seed[:, None], seed[None, :]))
            a = ops.cast(star, x.dtype) + ops.eye(n, dtype=x.dtype)
            d = ops.power(ops.sum(a, axis=1), -0.5)
            adj = a * d[:, None] * d[None, :]
            return ops.matmul(adj, self.dense(x)) + self.bias

    inp = keras.Input((features_num,))
    h = keras.layers.Activation("relu")(GCNConv(hidden_dim)(inp))
    out = GCNConv(out_last)(h)
    model = keras.Model(inp, out)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.Adam(learning_rate), metrics=["accuracy"])
    return {"model": model, "batch": data[0], "batches": data}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
