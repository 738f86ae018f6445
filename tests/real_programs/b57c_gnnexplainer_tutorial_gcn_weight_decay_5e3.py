"""OpenXAIProject's GNNExplainer tutorial (``OpenXAIProject/GNNExplainer-Tutorial``, ``gnnexplainer_cora.ipynb``,
"based on the example provided by Pytorch-Geometric", ``examples/gnn_explainer.py``): a two-layer GCN (Kipf &
Welling) node classifier on Cora, trained full-graph before GNNExplainer explains one of its predictions.
``Planetoid(path, 'cora', transform=T.NormalizeFeatures())`` (2,708 papers, 1,433 binary bag-of-words features,
row-normalised, 7 classes, 5,278 citation edges); the notebook's own split: the first ``num_nodes - 1000`` nodes
train, the last 500 test. ``Net``: ``GCNConv(1433, 16)`` -> ReLU -> ``F.dropout(training=self.training)`` (p 0.5)
-> ``GCNConv(16, 7)`` -> ``log_softmax``; ``loss = F.nll_loss(log_logits[data.train_mask], data.y[data.train_mask])``
on the whole graph each epoch, ``epochs = 200``.

The fault (``gnnexplainer_cora.ipynb`` at e07571385670462b27ca3274522f46939ea5daa2, the repository's last
commit): ``optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-3)`` -- ten times the
``weight_decay=5e-4`` of the PyG example it copies (Kipf & Welling also use 5e-4). Torch's Adam adds
``weight_decay * w`` to every parameter's gradient (an L2 penalty, not decoupled), and with row-normalised
bag-of-words inputs (each non-zero feature about 1/18) the loss gradient on the first layer's 1433 x 16 weights
is small: at 5e-3 the pull to zero wins, the first layer stays near zero, the hidden units carry almost no signal,
and the network predicts the majority class for all of the notebook's 200 epochs (in this port) and barely
gets past it after that. The
notebook's own saved output (1,000 epochs) reads "Train_loss:1.505047 Train_acc: 0.4403, Test_acc: 0.4480"; a GCN
on Cora reaches about 0.8. Nothing crashes and the loss does go down a little. Fix: issue #1 "Small typo on
optimizer" ("you wrongly copy-pasted the ``weight_decay`` for the optimizer. Indeed ``weight_decay=5e-3`` is very
big and should be reduced to ``weight_decay=5e-4`` which doubles the accuracy of the model") -- ``weight_decay=5e-4``
as in ``pyg-team/pytorch_geometric`` ``examples/gnn_explainer.py``. The issue is open (no fixing commit in the
repository); the fix is the one-number change it gives, which is the PyG example's value.

Source: github.com/OpenXAIProject/GNNExplainer-Tutorial gnnexplainer_cora.ipynb@e0757138 (cells "Dataset",
"Network", "Training": ``epochs = 200``, ``dim = 16``, the Adam line, the training loop), issue #1; PyG
``GCNConv`` (glorot weight, zero bias, self-loops with weight 1, symmetric ``D^-1/2 (A + I) D^-1/2``
normalisation, ``x @ weight`` then the normalised sum over neighbours, then the bias) as in PyG 1.6 (2020).
Fault label: over_regularized (Adam's L2 weight decay 5e-3, ten times the intended 5e-4, holds the weights near
zero so the GCN underfits and predicts the majority class).

Program lines kept: ``Net`` (two GCNConv, ReLU, ``F.dropout(x, training=self.training)``, ``log_softmax``),
``dim = 16``, ``Adam(lr=0.01, weight_decay=5e-3)`` (fixed ``5e-4``), ``F.nll_loss`` on the train-mask rows,
full-graph training (one step = one epoch), the split (first N - 1000 train, last 500 test), ``torch`` seed 0.
Ported: PyG's ``GCNConv`` written out (``index_add_`` of ``norm * (x @ W)[src]`` at ``dst`` over the edge list
with self-loops; same sums); the graph and the normalised features are buffers of a wrapper whose
``forward(node_ids)`` runs the program's full-graph ``model(data.x, data.edge_index)`` and returns the requested
rows, i.e. ``log_logits[data.train_mask]`` (the program's only use of the output) -- so ``batch`` = the 1,708
training node ids (float32, cast to long) and their labels, the program's full batch; ``batches`` = those nodes
in 4 chunks of 427; ``inputs`` = the 500 test nodes. Keras twin: the same model as a ``keras.Model`` (the
features, edge list and edge norms as constants, ``ops.segment_sum`` for the propagation, ``Dropout(0.5)``,
``log_softmax`` output, a ``take`` of the requested rows), compiled with ``SparseCategoricalCrossentropy(
from_logits=True)`` (on log-probabilities this is exactly ``nll_loss``: log_softmax is idempotent) and
``Adam(0.01, epsilon=1e-8)``; torch's coupled weight decay is written as an L2 regularizer of ``weight_decay / 2``
on every kernel and bias (gradient ``weight_decay * w``, the same as torch adds; Keras' own
``Adam(weight_decay=...)`` is decoupled, AdamW-style). Keras' reported loss includes the penalty, torch's does
not. The fault is a hyper-parameter, not framework code: it can exist in both.
Data stand-in (no Planetoid download): ``_cora_like`` -- 2,708 nodes with Cora's class sizes (351, 217, 418,
818, 426, 298, 180, majority 30.2 %) in shuffled order; each node has Poisson(18) distinct words of a
1,433-word vocabulary, 30 % drawn from a 150-word topic of its class and the rest from a Zipf background, then
row-normalised (``T.NormalizeFeatures``); 5,278 undirected edges drawn with Pareto-weighted endpoints and
81 % within a class (Cora's edge homophily), every node on at least one edge, stored both ways as PyG's
``edge_index``.

Measured (my own plain loops, /tmp/s40/h57c/work/measure.py, OMP_NUM_THREADS=1 on the shared 2-core machine; the
module's builds; full-batch steps on the 1,708 training nodes, accuracy in eval mode; "W1" = Frobenius norm of
the first GCNConv weight):
  torch (seed 0), steps 1 / 10 / 50 / 100 / 150 / 200 (= the notebook's epochs) / 500 / 1000:
    buggy (5e-3): loss 1.947 / 1.896 / 1.822 / 1.797 / 1.753 / 1.718 / 1.669 / 1.668; train acc 0.300 (= the
      majority class) up to step 200, 0.319 at 500, 0.333 at 1000; test acc 0.298 -> 0.298 (200) -> 0.318 (1000);
      share of test nodes put in the majority class 1.000 up to step 200, 0.970 at 1000; W1 4.41 -> 1.77 (step
      50) -> 4.43 (200) -> 5.37; log-probabilities within [-5.3, -0.1] throughout.
    fixed (5e-4): loss 1.947 / 1.878 / 1.624 / 1.308 / 1.043 / 0.889 / 0.497 / 0.369; train acc 0.300 / 0.300 /
      0.381 / 0.669 / 0.772 / 0.857 / 0.968 / 0.976; test acc 0.298 -> 0.636 (100) -> 0.804 (200) -> 0.926
      (1000); majority share 0.430 at 200, 0.334 at 1000; W1 4.83 -> 16.1 (50) -> 29.6 (200) -> 29.0.
  Keras (train_on_batch, the reported loss includes the L2 penalty), steps 1 / 10 / 50 / 100 / 150 / 200 / 500:
    buggy: loss 2.048 / 1.919 / 1.837 / 1.832 / 1.818 / 1.815 / 1.813; train acc 0.151 / 0.300 / 0.300 / 0.300 /
      0.300 / 0.310 / 0.325; test acc 0.300 at 200, 0.308 at 500; majority share 1.000 from step 10 to 150, 0.986
      at 500; W1 4.41 -> 1.62 (50) -> 4.97 (200) -> 5.30.
    fixed: loss 1.956 / 1.879 / 1.709 / 1.491 / 1.294 / 1.196 / 0.930; train acc 0.153 / 0.300 / 0.300 / 0.535 /
      0.813 / 0.872 / 0.959; test acc 0.828 at 200, 0.924 at 500; majority share 0.440 at 200; W1 30.1 at 200.
  Before training both versions are the same model (initial loss 1.947 = ln 7 + 0.001 in torch). The buggy GCN
    does train -- its loss falls from 1.95 to about 1.67-1.72, the log-prior of the class sizes -- but it
    learns the class prior and little else: after the notebook's 200 epochs it predicts the majority class for
    every node in both frameworks, and even at 1,000 epochs it is at 0.33 train accuracy (the notebook's own
    output at 1,000 epochs on real Cora: 0.44; this stand-in's features are somewhat weaker than Cora's, so the
    stall is harsher here), against 0.86-0.87 at 200 epochs and 0.98 at 1,000 when fixed.
  Time per training step (full graph, one thread, loaded machine): torch 6 ms, Keras train_on_batch 8-10 ms;
    builds: torch < 0.01 s, Keras 0.1 s after the first (first build with the imports and the 0.4 s stand-in:
    1.3 s torch, 3.9 s Keras).
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "over_regularized"
SOURCE = ("github:OpenXAIProject/GNNExplainer-Tutorial issue #1 (gnnexplainer_cora.ipynb@"
          "e07571385670462b27ca3274522f46939ea5daa2 'optimizer = torch.optim.Adam(model.parameters(), lr=0.01, "
          "weight_decay=5e-3)', Net = GCNConv(1433, 16) / ReLU / dropout / GCNConv(16, 7) / log_softmax on "
          "Planetoid Cora with NormalizeFeatures; fix per the issue: weight_decay=5e-4 as in "
          "pyg-team/pytorch_geometric examples/gnn_explainer.py)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("init_loss", {"num_classes": 7}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("gradients_flow", {}), ("not_constant_predictions", {})]

# the notebook's settings
epochs = 200
dim = 16
lr = 0.01
WEIGHT_DECAY_BUGGY = 5e-3  # gnnexplainer_cora.ipynb
WEIGHT_DECAY_FIXED = 5e-4  # issue #1 / PyG examples/gnn_explainer.py
dropout_p = 0.5  # F.dropout default
seed = 0

# Cora (Planetoid)
NUM_NODES, NUM_FEATURES, NUM_CLASSES, NUM_EDGES = 2708, 1433, 7, 5278
CLASS_SIZES = (351, 217, 418, 818, 426, 298, 180)
N_CHUNKS = 4


@functools.lru_cache(maxsize=1)
def _cora_like(data_seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cora-shaped stand-in: row-normalised float32 bag-of-words features (2708, 1433), int64 labels (2708,) with
    Cora's class sizes, and a PyG-style int64 edge_index (2, 10556) holding each of 5,278 undirected edges both
    ways (81 % of them within a class, Pareto-weighted endpoints, every node on at least one edge)."""
    rng = np.random.default_rng(data_seed)
    y = np.repeat(np.arange(NUM_CLASSES), CLASS_SIZES)
    rng.shuffle(y)
    zipf = 1.0 / np.arange(1, NUM_FEATURES + 1) ** 0.9
    background = np.empty(NUM_FEATURES)
    background[rng.permutation(NUM_FEATURES)] = zipf
    background /= background.sum()
    topics = [rng.choice(NUM_FEATURES, 150, replace=False) for _ in range(NUM_CLASSES)]
    topic_p = 1.0 / np.arange(1, 151) ** 0.7
    topic_p /= topic_p.sum()
    x = np.zeros((NUM_NODES, NUM_FEATURES), np.float32)
    n_words = np.clip(rng.poisson(18, NUM_NODES), 5, 30)
    for i in range(NUM_NODES):
        k = n_words[i]
        k_topic = rng.binomial(k, 0.3)
        words = np.concatenate([rng.choice(topics[y[i]], k_topic, p=topic_p),
                                rng.choice(NUM_FEATURES, k - k_topic, p=background)])
        x[i, words] = 1.0
    x /= x.sum(1, keepdims=True)  # T.NormalizeFeatures()
    weight = rng.pareto(2.0, NUM_NODES) + 1.0
    by_class = [np.where(y == c)[0] for c in range(NUM_CLASSES)]
    not_class = [np.where(y != c)[0] for c in range(NUM_CLASSES)]
    edges: set[tuple[int, int]] = set()
    p_all = weight / weight.sum()
    first = list(rng.permutation(NUM_NODES))  # every node cites or is cited at least once (Cora has no isolated node)
    while len(edges) < NUM_EDGES:
        u = int(first.pop()) if first else int(rng.choice(NUM_NODES, p=p_all))
        pool = by_class[y[u]] if rng.random() < 0.81 else not_class[y[u]]
        pw = weight[pool] / weight[pool].sum()
        v = int(rng.choice(pool, p=pw))
        if u != v:
            edges.add((min(u, v), max(u, v)))
    e = np.array(sorted(edges), dtype=np.int64).T
    edge_index = np.concatenate([e, e[::-1]], axis=1)
    return x, y.astype(np.int64), edge_index


def _gcn_norm(edge_index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PyG gcn_norm: add self-loops (weight 1), deg at the target, norm = deg^-1/2[src] * deg^-1/2[dst]."""
    loops = np.arange(NUM_NODES, dtype=np.int64)
    src = np.concatenate([edge_index[0], loops])
    dst = np.concatenate([edge_index[1], loops])
    deg = np.bincount(dst, minlength=NUM_NODES).astype(np.float32)
    dis = deg ** -0.5
    return src, dst, (dis[src] * dis[dst]).astype(np.float32)


def _splits() -> dict[str, np.ndarray]:
    x, y, _ = _cora_like()
    train_idx = np.arange(0, NUM_NODES - 1000)  # data.train_mask[:data.num_nodes - 1000] = 1
    test_idx = np.arange(NUM_NODES - 500, NUM_NODES)  # data.test_mask[data.num_nodes - 500:] = 1
    chunks = np.array_split(train_idx, N_CHUNKS)
    return {"train": train_idx, "test": test_idx, "chunks": chunks, "y": y}


def _batches() -> tuple[tuple[np.ndarray, np.ndarray], list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    s = _splits()
    y = s["y"]
    batch = (s["train"].astype(np.float32), y[s["train"]])
    batches = [(c.astype(np.float32), y[c]) for c in s["chunks"]]
    return batch, batches, s["test"].astype(np.float32)


def _torch(weight_decay: float) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F
    from torch.nn import Parameter

    torch.manual_seed(seed)
    x_np, _, edge_index_np = _cora_like()
    src_np, dst_np, norm_np = _gcn_norm(edge_index_np)

    class GCNConv(torch.nn.Module):  # torch_geometric.nn.GCNConv (cached=False, bias=True, normalize=True)
        def __init__(self, in_channels: int, out_channels: int) -> None:
            super().__init__()
            self.weight = Parameter(torch.Tensor(in_channels, out_channels))
            self.bias = Parameter(torch.Tensor(out_channels))
            torch.nn.init.xavier_uniform_(self.weight)  # glorot
            torch.nn.init.zeros_(self.bias)  # zeros

        def forward(self, x, edge_index, norm):
            x = torch.matmul(x, self.weight)
            src, dst = edge_index
            out = torch.zeros_like(x).index_add_(0, dst, norm.view(-1, 1) * x[src])  # propagate, aggr='add'
            return out + self.bias

    class Net(torch.nn.Module):  # gnnexplainer_cora.ipynb
        def __init__(self, num_features, dim=16, num_classes=1):
            super(Net, self).__init__()
            self.conv1 = GCNConv(num_features, dim)
            self.conv2 = GCNConv(dim, num_classes)

        def forward(self, x, edge_index, norm):
            x = F.relu(self.conv1(x, edge_index, norm))
            x = F.dropout(x, training=self.training)
            x = self.conv2(x, edge_index, norm)
            return F.log_softmax(x, dim=1)

    class FullGraph(torch.nn.Module):
        """Port wrapper: holds data.x and the (self-looped, normalised) edge_index; returns the program's
        full-graph ``model(data.x, data.edge_index)`` at the requested node ids (``log_logits[data.train_mask]``)."""

        def __init__(self, model):
            super().__init__()
            self.model = model
            self.register_buffer("x", torch.from_numpy(x_np))
            self.register_buffer("edge_index", torch.from_numpy(np.stack([src_np, dst_np])))
            self.register_buffer("norm", torch.from_numpy(norm_np))

        def forward(self, node_ids):
            log_logits = self.model(self.x, self.edge_index, self.norm)
            return log_logits[node_ids.long()]

    model = FullGraph(Net(num_features=NUM_FEATURES, dim=dim, num_classes=NUM_CLASSES))
    model.train()
    (bx, by), batches, test = _batches()
    tb = (torch.from_numpy(bx), torch.from_numpy(by))
    tbs = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in batches]

    def loss_fn(log_logits, target):  # F.nll_loss(log_logits[data.train_mask], data.y[data.train_mask])
        return F.nll_loss(log_logits, target)

    return {"model": model, "batch": tb, "batches": tbs, "inputs": torch.from_numpy(test), "loss_fn": loss_fn,
            "optimizer": lambda params: torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)}


def _keras(weight_decay: float) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(seed)
    x_np, _, edge_index_np = _cora_like()
    src_np, dst_np, norm_np = _gcn_norm(edge_index_np)
    l2 = keras.regularizers.L2(weight_decay / 2.0)  # torch Adam(weight_decay): grad += weight_decay * w

    class GCNConv(layers.Layer):
        def __init__(self, out_channels: int, **kw: Any) -> None:
            super().__init__(**kw)
            self.out_channels = out_channels

        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1], self.out_channels), initializer="glorot_uniform",
                                          regularizer=l2, name="weight")
            self.bias = self.add_weight(shape=(self.out_channels,), initializer="zeros", regularizer=l2,
                                        name="bias")

        def call(self, x, src, dst, norm):
            x = ops.matmul(x, self.kernel)
            msg = ops.take(x, src, axis=0) * norm[:, None]
            return ops.segment_sum(msg, dst, num_segments=NUM_NODES) + self.bias

    class Net(keras.Model):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = GCNConv(dim)
            self.conv2 = GCNConv(NUM_CLASSES)
            self.drop = layers.Dropout(dropout_p)
            self.x_all = ops.convert_to_tensor(x_np)
            self.src = ops.convert_to_tensor(src_np.astype("int32"))
            self.dst = ops.convert_to_tensor(dst_np.astype("int32"))
            self.norm = ops.convert_to_tensor(norm_np)

        def call(self, node_ids, training=None):
            h = ops.relu(self.conv1(self.x_all, self.src, self.dst, self.norm))
            h = self.drop(h, training=training)
            h = self.conv2(h, self.src, self.dst, self.norm)
            log_logits = ops.log_softmax(h, axis=1)
            return ops.take(log_logits, ops.cast(node_ids, "int32"), axis=0)

    model = Net()
    (bx, by), batches, test = _batches()
    model(bx[:2])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr, epsilon=1e-8),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return {"model": model, "batch": (bx, by), "batches": batches, "inputs": test}


def _build(framework: str, weight_decay: float) -> dict[str, Any]:
    if framework == "torch":
        return _torch(weight_decay)
    if framework == "keras":
        return _keras(weight_decay)
    raise ValueError(framework)


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, WEIGHT_DECAY_BUGGY)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, WEIGHT_DECAY_FIXED)
