"""AttentionWalk (benedekrozemberczki/AttentionWalk, a PyTorch implementation of "Watch Your Step: Learning Node
Embeddings via Graph Attention", NeurIPS 2018): node embeddings by factorising an attention-weighted sum of the
graph's transition-matrix powers. ``utils.feature_calculator`` builds the target tensor -- the ``window_size``
powers of a normalised adjacency matrix -- and ``utils.adjacency_opposite_calculator`` the no-edge indicator
``1 - A``; ``AttentionWalkLayer`` holds ``left_factors`` (n x dimensions/2), ``right_factors`` (dimensions/2 x n)
and ``attention`` (window_size x 1), all ``uniform_(-0.01, 0.01)``; its ``forward`` weights the target powers with
``softmax(attention, dim=0)``, sums them to ``weighted_tar_mat``, and returns the loss
``mean(|num_of_walks * n * (-weighted_tar_mat * log(sigmoid(L R))) - (1 - A) * log(1 - sigmoid(L R))|)
+ beta * ||attention||^2 + gamma * (mean|L| + mean|R|)``. ``AttentionWalkTrainer.fit`` runs full-batch
``Adam(lr=0.01)`` for ``epochs`` steps. Defaults (``param_parser.py``): dimensions 128, epochs 200, window_size 5,
num_of_walks 80, beta 0.5, gamma 0.5, learning_rate 0.01, the Wikipedia chameleon graph (``input/chameleon_edges.csv``).

The fault is the "normalisation" of the adjacency matrix in ``feature_calculator``:
    buggy (src/utils.py@e21d246^):
        ``degrees = adjacency_matrix.sum(axis=0)[0].tolist()``; ``degs = sparse.diags(degrees, [0])``
        ``normalized_adjacency_matrix = degs.dot(adjacency_matrix)``
    fixed (e21d246):
        ``normalized_adjacency_matrix = degs.power(-1/2).dot(adjacency_matrix).dot(degs.power(-1/2))``
The buggy matrix multiplies each row by the node's degree instead of dividing by it, so the k-th power grows like
degree^k: on the repository's chameleon graph (994 nodes, 8,378 edges, degrees 1..293) the five target matrices have
maxima 293, 1.0e6, 3.2e9, 1.6e13, 8.0e16 (means 0.94 .. 2.8e14), against 0.4 .. 0.75 (means ~8e-4) after the fix.
The regression / co-occurrence targets of the factorisation are off by up to 17 orders of magnitude, the target term
swamps the no-edge term, and the factorisation fits degree products instead of the graph's neighbourhoods.
Source: issue #9 "miscalculations of normalized adjacency matrix" (neilctwu: "``loss_on_target`` will become
extreme big while training ... the matrix hasn't been normalize but simply multiple by degree of nodes"; the author
asked for a PR), fixed by PR #10 (commit e21d2469d4976f1f7485bdac3f206fc029c8e9df "modified
normalized_adjacency_matrix calculation", merge 87e7aeb). Buggy ``src/utils.py`` at e21d246^ (0754e4e).
Fault label: targets_not_normalized (the targets the factorisation is fitted to are the degree-multiplied adjacency
powers, values up to 1e13-1e17, instead of a normalised adjacency's powers in [0, 1]).

Program lines kept: ``feature_calculator`` (the edge index lists, ``sparse.coo_matrix``, the degree lines, the buggy
and fixed normalisation lines, the powers loop, ``np.array(target_matrices)``) and ``adjacency_opposite_calculator``
(``np.ones(shape) - adjacency_matrix``) verbatim apart from taking the edge list instead of a networkx graph;
``AttentionWalkLayer``'s parameters, shapes and ``uniform_(-0.01, 0.01)`` init, the softmax attention, the weighted
target sum, the ``loss_on_target`` / ``loss_opposite`` / ``num_of_walks * n`` / ``abs`` / ``mean`` lines and both
regularisers (beta, gamma); ``Adam(lr=0.01)``, full-batch training; all ``param_parser`` defaults (dimensions 128,
window 5, 80 walks, beta 0.5, gamma 0.5).
Ported: the program's ``forward(target_tensor, adjacency_opposite)`` returns the loss of the whole matrix at once;
here ``forward(x)`` takes node-indicator rows ``x`` (one-hot rows of the n x n identity; the full batch is the
identity itself, so ``x @ left_factors`` is ``left_factors``) and returns the rows of the estimate ``L R`` (logits,
n columns) followed by the attention probabilities ``softmax(attention, dim=0)`` (window_size columns, the same in
every row). ``y`` holds each node's rows of the five target matrices and of ``1 - A``, flattened to
``(window_size + 1) * n`` columns. ``loss_fn`` is the data part of the program's loss (the mean over the batch's
entries; ``num_of_walks * n`` uses the graph's n, so a full batch gives exactly the program's value); the two
regularisers depend on the parameters, not on the outputs, so the torch ``train_step`` adds
``model.regularization()`` as the program's loss does (Keras: ``add_loss`` in the layer). Torch ``train_step`` is
``AttentionWalkTrainer.fit``'s step. Keras twin: a ``keras.layers.Layer`` with the same three weights
(``RandomUniform(-0.01, 0.01)``), the same outputs, ``add_loss`` of the regularisers, compiled with ``Adam(0.01)``
and the same loss function (per-row means; Keras' mean over rows is the program's mean). Left out: tqdm, the
Texttable printing, saving the embedding / attention CSVs.
Data stand-in (the repository's ``input/chameleon_edges.csv`` is not shipped): a seeded Holme-Kim power-law graph with
triad closure (numpy; ``networkx.powerlaw_cluster_graph``'s process, m = 8, p = 0.9) on 500 nodes (the chameleon
file has 994): 3,936 edges, degrees 8..137 (mean 15.7, median 11; chameleon: 1..293, mean 16.9, median 8), average
clustering 0.27 (chameleon 0.56). Node ids 0..499 in edge-list order, so the target tensor (index order) and
``1 - A`` (the program takes it from ``nx.adjacency_matrix``, graph order) line up. The graph is shrunk to 500
nodes to keep a step short (the fault does not depend on the size; see the chameleon numbers above). x: float32
identity (500, 500); y: float32 (500, 3000). On the stand-in the buggy target matrices have maxima 137, 4.1e5,
2.8e8, 4.3e11, 4.8e14 (means 0.87, 1.2e3, 1.5e6, 1.9e9, 2.5e12); fixed: maxima 0.12 .. 0.02, means 0.0018.

Measured (my own plain loops, /tmp/s38/h52c/measure.py and proto2.py, OMP_NUM_THREADS=1, seed 0; the program's
full-batch step with the regularisers (torch ``train_step``, Keras ``train_on_batch``), 200 epochs = the program's
default; "AUC" = link prediction on 10% of the edges held out from the training graph against as many random
non-edges, score ``e_ij + e_ji`` of the estimate ``L R`` (the paper's evaluation task); "spread" = std of the 250,000
estimate logits):
  torch, the module's batch, loss at epochs 1/2/5/10/50/100/200:
    buggy 1.36e16, 1.34e16, 1.24e16, 9.8e15, 1.4e13, 5.1e12, 2.9e12; estimate mean 8.37, spread 0.01 (min 8.32,
          max 8.41): one value for every pair; attention (0.219, 0.218, 0.219, 0.220, 0.124).
    fixed 50.75, 50.74, 49.77, 42.4, 5.91, 5.30, 5.25; estimate mean 4.13, spread 0.49 (2.44 .. 7.79); attention
          (0.206, 0.200, 0.199, 0.198, 0.197).
    held-out edges (trained on the other 90%): AUC buggy 0.551, fixed 0.742.
  Keras twin, the same: buggy 1.37e16, 1.35e16, 1.25e16, 9.9e15, 1.4e13, 5.1e12, 2.8e12, spread 0.01 (8.34 .. 8.43),
    attention (0.219, 0.218, 0.220, 0.217, 0.125); fixed 50.75, 50.74, 49.77, 42.5, 5.92, 5.31, 5.26, spread 0.46
    (2.39 .. 7.76); held-out AUC buggy 0.577, fixed 0.745.
  The program's lines on the repository's own chameleon graph (994 nodes; torch, 200 epochs, 10% of edges held out):
    buggy loss 1.10e18 -> 2.76e14, estimate mean 6.0, held-out AUC 0.774; fixed loss 45.9 -> 2.49, AUC 0.976.
  In both versions the loss falls by orders of magnitude (the buggy one from 1e16) and nothing is NaN within 200
  epochs; on the stand-in every logit ends positive in both (the ``num_of_walks * n`` weight on the target term is
  the program's, in both);
  what the fault does is make the targets so large that the fit stops following the graph: held-out link prediction
  falls to near chance on the stand-in (0.55 / 0.58 vs 0.74) and from 0.976 to 0.774 on chameleon; on the stand-in
  the logits also collapse to one near-constant score for every pair (spread 0.01 vs 0.5; on chameleon they do not:
  std 3.1 buggy vs 2.4 fixed), and the attention is pulled off the largest (5th) power. One step takes ~11-23 ms
  (torch) and ~19-23 ms (Keras ``train_on_batch``, after the first traced call) on one CPU thread;
  building one version ~0.1-0.6 s after the framework import.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np

LABEL = "targets_not_normalized"
SOURCE = ("github:benedekrozemberczki/AttentionWalk issue #9, PR #10 (src/utils.py feature_calculator "
          "'normalized_adjacency_matrix = degs.dot(adjacency_matrix)' @e21d246^ = 0754e4e, src/attentionwalk.py "
          "AttentionWalkLayer, src/param_parser.py; fix e21d2469d4976f1f7485bdac3f206fc029c8e9df 'modified "
          "normalized_adjacency_matrix calculation', merge 87e7aeb)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {})]

# src/param_parser.py defaults
dimensions = 128
epochs = 200
window_size = 5
num_of_walks = 80
beta = 0.5
gamma = 0.5
learning_rate = 0.01
# stand-in graph
N_NODES, HK_M, HK_P = 500, 8, 0.9
SEED = 0


# ---------------------------------------------------------------- data stand-in
@functools.lru_cache(maxsize=None)
def powerlaw_cluster_edges(n: int = N_NODES, m: int = HK_M, p: float = HK_P,
                           seed: int = SEED) -> tuple[tuple[int, int], ...]:
    """Holme-Kim growth (preferential attachment with triad formation, as networkx.powerlaw_cluster_graph): each
    new node links to m existing ones, the first by degree, each further one with probability p to a neighbour of
    the last (a triangle) and otherwise again by degree. Edges (i, j), i < j, sorted."""
    rng = np.random.default_rng(seed)
    adj: list[set[int]] = [set() for _ in range(n)]
    repeated: list[int] = []
    for src in range(m, n):
        def by_degree() -> int:
            return int(repeated[int(rng.integers(len(repeated)))]) if repeated else int(rng.integers(0, src))

        target = by_degree()
        chosen = {target}
        while len(chosen) < m:
            nbrs = sorted(v for v in adj[target] if v not in chosen and v != src)
            if nbrs and rng.random() < p:
                target = nbrs[int(rng.integers(len(nbrs)))]
            else:
                target = by_degree()
                if target in chosen:
                    continue
            chosen.add(target)
        for v in sorted(chosen):
            adj[src].add(v)
            adj[v].add(src)
            repeated += [src, v]
    return tuple(sorted((i, j) for i in range(n) for j in adj[i] if i < j))


# ---------------------------------------------------------------- src/utils.py
def feature_calculator(edges: Sequence[tuple[int, int]], fix: bool, window: int = window_size) -> np.ndarray:
    """utils.feature_calculator (graph.edges() -> edges)."""
    from scipy import sparse

    index_1 = [edge[0] for edge in edges] + [edge[1] for edge in edges]
    index_2 = [edge[1] for edge in edges] + [edge[0] for edge in edges]
    values = [1 for edge in index_1]
    node_count = max(max(index_1) + 1, max(index_2) + 1)
    adjacency_matrix = sparse.coo_matrix((values, (index_1, index_2)),
                                         shape=(node_count, node_count),
                                         dtype=np.float32)

    degrees = adjacency_matrix.sum(axis=0)[0].tolist()
    degs = sparse.diags(degrees, [0])
    if fix:  # e21d246
        normalized_adjacency_matrix = degs.power(-1 / 2).dot(adjacency_matrix).dot(degs.power(-1 / 2))
    else:  # e21d246^
        normalized_adjacency_matrix = degs.dot(adjacency_matrix)
    target_matrices = [normalized_adjacency_matrix.todense()]
    powered_A = normalized_adjacency_matrix
    if window > 1:
        for power in range(window - 1):
            powered_A = powered_A.dot(normalized_adjacency_matrix)
            to_add = powered_A.todense()
            target_matrices.append(to_add)
    target_matrices = np.array(target_matrices)
    return target_matrices


def adjacency_opposite_calculator(edges: Sequence[tuple[int, int]], n: int) -> np.ndarray:
    """utils.adjacency_opposite_calculator (nx.adjacency_matrix(graph) -> the same 0/1 matrix from the edges)."""
    adjacency_matrix = np.zeros((n, n), dtype=np.float32)
    for i, j in edges:
        adjacency_matrix[i, j] = adjacency_matrix[j, i] = 1.0
    adjacency_matrix_opposite = np.ones(adjacency_matrix.shape) - adjacency_matrix
    return adjacency_matrix_opposite


def _data(fix: bool, edges: Sequence[tuple[int, int]] | None = None, n: int = N_NODES) -> tuple[np.ndarray, np.ndarray]:
    """x: node-indicator rows (identity); y: per node its rows of the window_size target matrices and of 1 - A."""
    edges = powerlaw_cluster_edges() if edges is None else edges
    target_tensor = feature_calculator(edges, fix)  # (window, n, n)
    adjacency_opposite = adjacency_opposite_calculator(edges, n)  # (n, n)
    y = np.concatenate([target_tensor.transpose(1, 0, 2).reshape(n, -1), adjacency_opposite], axis=1)
    return np.eye(n, dtype="float32"), y.astype("float32")


# ---------------------------------------------------------------- torch
def _torch(fix: bool) -> dict[str, Any]:
    import torch

    n = N_NODES
    x, y = _data(fix)

    class AttentionWalkLayer(torch.nn.Module):
        def __init__(self, shapes):
            super().__init__()
            self.shapes = shapes
            half_dim = int(dimensions / 2)
            self.left_factors = torch.nn.Parameter(torch.Tensor(self.shapes[1], half_dim))
            self.right_factors = torch.nn.Parameter(torch.Tensor(half_dim, self.shapes[1]))
            self.attention = torch.nn.Parameter(torch.Tensor(self.shapes[0], 1))
            torch.nn.init.uniform_(self.left_factors, -0.01, 0.01)
            torch.nn.init.uniform_(self.right_factors, -0.01, 0.01)
            torch.nn.init.uniform_(self.attention, -0.01, 0.01)

        def forward(self, x):  # port: node-indicator rows in, [estimate rows | attention probs] out
            attention_probs = torch.nn.functional.softmax(self.attention, dim=0)
            estimate = torch.mm(torch.mm(x, self.left_factors), self.right_factors)
            return torch.cat([estimate, attention_probs.view(1, -1).expand(x.shape[0], -1)], dim=1)

        def regularization(self):
            norms = torch.mean(torch.abs(self.left_factors)) + torch.mean(torch.abs(self.right_factors))
            loss_on_regularization = beta * (self.attention.norm(2) ** 2)
            return loss_on_regularization + gamma * norms

    torch.manual_seed(SEED)
    model = AttentionWalkLayer((window_size, n, n))

    def loss_fn(outputs, targets):  # the data part of AttentionWalkLayer.forward's loss
        estimate, probs = outputs[:, :n], outputs[:, n:]
        weighted_target_tensor = targets[:, :window_size * n].reshape(-1, window_size, n) * probs.unsqueeze(2)
        weighted_tar_mat = torch.sum(weighted_target_tensor, dim=1)
        adjacency_opposite = targets[:, window_size * n:]
        loss_on_target = - weighted_tar_mat * torch.log(torch.sigmoid(estimate))
        loss_opposite = -adjacency_opposite * torch.log(1 - torch.sigmoid(estimate))
        loss_on_mat = num_of_walks * n * loss_on_target + loss_opposite
        abs_loss_on_mat = torch.abs(loss_on_mat)
        return torch.mean(abs_loss_on_mat)

    def train_step(model, optimizer, loss_fn, x, y):  # AttentionWalkTrainer.fit, one epoch
        model.train()
        optimizer.zero_grad()
        loss = loss_fn(model(x), y) + model.regularization()
        loss.backward()
        optimizer.step()
        return loss

    xt, yt = torch.tensor(x), torch.tensor(y)
    return {"model": model, "batch": (xt, yt), "inputs": xt, "loss_fn": loss_fn, "train_step": train_step,
            "optimizer": lambda params: torch.optim.Adam(params, lr=learning_rate)}


# ---------------------------------------------------------------- keras
def _keras(fix: bool) -> dict[str, Any]:
    import keras
    from keras import ops

    n = N_NODES
    x, y = _data(fix)
    keras.utils.set_random_seed(SEED)

    class AttentionWalkLayer(keras.layers.Layer):
        def __init__(self, shapes, **kwargs):
            super().__init__(**kwargs)
            half_dim = int(dimensions / 2)
            init = keras.initializers.RandomUniform(-0.01, 0.01)
            self.left_factors = self.add_weight(shape=(shapes[1], half_dim), initializer=init, name="left_factors")
            self.right_factors = self.add_weight(shape=(half_dim, shapes[1]), initializer=init, name="right_factors")
            self.attention = self.add_weight(shape=(shapes[0], 1), initializer=init, name="attention")

        def call(self, x):
            attention_probs = ops.softmax(self.attention, axis=0)
            estimate = ops.matmul(ops.matmul(x, self.left_factors), self.right_factors)
            norms = ops.mean(ops.abs(self.left_factors)) + ops.mean(ops.abs(self.right_factors))
            self.add_loss(beta * ops.sum(ops.square(self.attention)) + gamma * norms)
            probs = ops.broadcast_to(ops.reshape(attention_probs, (1, -1)), (ops.shape(x)[0], window_size))
            return ops.concatenate([estimate, probs], axis=1)

    inp = keras.Input((n,))
    model = keras.Model(inp, AttentionWalkLayer((window_size, n, n))(inp))

    def attention_walk_loss(targets, outputs):  # per-row means; Keras' mean over rows = the program's mean
        estimate, probs = outputs[:, :n], outputs[:, n:]
        weighted_tar_mat = ops.sum(ops.reshape(targets[:, :window_size * n], (-1, window_size, n))
                                   * ops.expand_dims(probs, 2), axis=1)
        adjacency_opposite = targets[:, window_size * n:]
        loss_on_target = - weighted_tar_mat * ops.log(ops.sigmoid(estimate))
        loss_opposite = -adjacency_opposite * ops.log(1 - ops.sigmoid(estimate))
        loss_on_mat = num_of_walks * n * loss_on_target + loss_opposite
        return ops.mean(ops.abs(loss_on_mat), axis=1)

    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=attention_walk_loss)
    return {"model": model, "batch": (x, y), "inputs": x}


def buggy(framework: str) -> dict[str, Any]:
    return _torch(fix=False) if framework == "torch" else _keras(fix=False)


def fixed(framework: str) -> dict[str, Any]:
    return _torch(fix=True) if framework == "torch" else _keras(fix=True)
