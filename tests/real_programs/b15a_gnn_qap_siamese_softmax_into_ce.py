"""mlelarge/graph_neural_net (Lelarge et al., graph alignment / quadratic assignment with a siamese
"provably powerful" FGNN): pairs of an Erdos-Renyi graph and a noisy copy of it (``QAP_Generator``: each
graph as an (n, n, 2) tensor, degrees on the diagonal of channel 0, adjacency in channel 1), a
``Siamese_Model`` with the ``Simple_Node_Embedding`` (``nn.Embedding(2, 64)`` of the adjacency, two
``RegularBlock`` s of depth-3 1x1-conv MLPs with a matrix product of two MLP routes, ``BatchNorm2d``,
concatenation with the block input, a third MLP and a 1x1 conv, then ``ColumnMaxPooling``) applied to both
graphs, the node similarities ``raw_scores = x1 @ x2^T`` (bs, n, n), and the ``triplet_loss``: for each pair,
``nn.CrossEntropyLoss(reduction='sum')`` of the rows of the score matrix against the identity matching
(node i of the graph is node i of its noisy copy), summed and divided by the number of vertices. Adam(lr
1e-3), batches of 32 (16 here). The loss took ``outputs = torch.softmax(raw_scores, -1)`` before the cross-entropy,
which applies its own log-softmax: each row's loss cannot go below log(1 + (n - 1)/e) (1.28 for n = 8,
against log n = 2.08 at chance) and its gradients are squashed, so the network barely learns the matching.

Source: github.com/mlelarge/graph_neural_net PR #37 "Fix bug softmax" ("There was a softmax before a
crossentropyloss... I removed the softmax"), ``toolbox/losses.py`` ``triplet_loss`` at 62c6240^ (with
``models/siamese_net.py``, ``models/base_model.py``, ``models/layers.py``, ``loaders/data_generator.py``,
``trainer.py`` ``train_triplet``, ``toolbox/optimizer.py``, ``default_config.yaml``), fixed by 62c62401 and
3c88a433 "correcting a bug by removing softmax" (``for out in raw_scores:``), merged as 8a280ce.
Program lines kept: the model classes (``Siamese_Model``, ``Simple_Node_Embedding``, ``BaseModel``,
``RegularBlock``, ``MlpBlock`` with xavier-uniform conv weights, ``ColumnMaxPooling``), ``triplet_loss``
(``loss_reduction='mean'``), ``torch.optim.Adam(model.parameters(), lr=1e-3, amsgrad=False)``,
``default_config.yaml``'s arch (num_blocks 2, in/out features 64, depth_of_mlp 3) and QAP data
(ErdosRenyi graphs, ErdosRenyi noise, edge_density 0.5, noise 0.1), ``noise_erdos_renyi`` and
``adjacency_matrix_to_tensor_representation``; the loader's dummy target ``torch.empty(0)`` per pair.
Ported minimally: ``n_vertices`` 100 -> 8 and batch size 32 -> 16 (the repository's other config,
``default_qap.yaml``, trains with 16) so a step stays fast on a CPU (the same generator, smaller
graphs); the networkx ``erdos_renyi_graph`` draws are replayed with a seeded numpy G(n, p) (same
distribution); ``dispatch_cat`` is ``torch.cat`` for plain tensors. Keras twin: the same network
channels-last (``Embedding(2, 64)``, ``Dense`` layers for the 1x1 convs, an einsum for the matrix product,
``BatchNormalization``, max over the second vertex axis, scores ``einsum('bif,bjf->bij')``), Adam(1e-3),
and the loss as sparse categorical cross-entropy from logits against the identity ids (Keras needs a
target: y is ``arange(n)`` per pair), buggy with the softmax written out (``exp / sum``) on the scores
first, so Keras 3 cannot recognise and undo it.
Data: the program's own generator (offline), 8 batches of 16 pairs of 8-vertex graphs, x float32
(16, 2, 8, 8, 2).
Fault label: loss_mismatch|output_activation (softmax fed to a loss that applies log-softmax).
Fix (62c62401): the cross-entropy on the raw scores.
Symptom in a short loop (Adam, 200 steps): torch: one batch, buggy loss 2.06 -> 1.62 (floor 1.28), fixed
23.4 (large raw scores at init) -> 0.26 with 81 % of the nodes matched vs 65 % buggy; over the 8 batches,
mean of the last 8 steps buggy 1.69, fixed 1.18. Keras (fit, 200 epochs of one batch): buggy 2.08 -> 1.62,
fixed 2.08 -> 0.26. A torch step takes ~30-60 ms on one (shared) thread, a Keras fit step ~170 ms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "loss_mismatch|output_activation"
SOURCE = ("github:mlelarge/graph_neural_net PR #37 (toolbox/losses.py triplet_loss@62c6240^, models/, "
          "loaders/data_generator.py QAP_Generator; fix 62c62401 + 3c88a433)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {})]

batch_size = 16  # default_config.yaml: 32; default_qap.yaml: 16
lr = 1e-3  # train: lr: 1e-3 (Adam)
n_vertices = 8  # default_config.yaml: 100, default_qap.yaml: 25 (smaller stand-in)
edge_density = 0.5
noise = 0.1
num_blocks, in_features, out_features, depth_of_mlp = 2, 64, 64, 3
n_batches = 8


def _erdos_renyi(rng: np.random.Generator, p: float, n: int) -> np.ndarray:
    """networkx.erdos_renyi_graph(n, p) as a dense symmetric 0/1 adjacency matrix."""
    upper = np.triu(rng.random((n, n)) < p, 1)
    return (upper | upper.T).astype("float32")


def _tensor_repr(w: np.ndarray) -> np.ndarray:
    """adjacency_matrix_to_tensor_representation: B[:, :, 1] = W and B[i, i, 0] = deg(i)."""
    b = np.zeros((len(w), len(w), 2), dtype="float32")
    b[:, :, 1] = w
    b[np.arange(len(w)), np.arange(len(w)), 0] = w.sum(1)
    return b


def _pairs(n_pairs: int = batch_size * n_batches, seed: int = 41) -> np.ndarray:
    """QAP_Generator.compute_example: (graph, ErdosRenyi-noised graph) pairs, (n_pairs, 2, n, n, 2)."""
    rng = np.random.default_rng(seed)
    out = np.empty((n_pairs, 2, n_vertices, n_vertices, 2), dtype="float32")
    for k in range(n_pairs):
        w = _erdos_renyi(rng, edge_density, n_vertices)
        pe1 = noise
        pe2 = (edge_density * noise) / (1 - edge_density)
        noise1 = _erdos_renyi(rng, pe1, n_vertices)
        noise2 = _erdos_renyi(rng, pe2, n_vertices)
        w_noise = w * (1 - noise1) + (1 - w) * noise2  # noise_erdos_renyi
        out[k, 0] = _tensor_repr(w)
        out[k, 1] = _tensor_repr(w_noise)
    return out


def _torch(softmax_first: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.manual_seed(0)

    def _init_weights(layer):
        nn.init.xavier_uniform_(layer.weight)

    class MlpBlock(nn.Module):  # program lines (models/layers.py)
        def __init__(self, in_features, out_features, depth_of_mlp, activation_fn=F.relu):
            super().__init__()
            self.activation = activation_fn
            self.convs = nn.ModuleList()
            for _ in range(depth_of_mlp):
                self.convs.append(nn.Conv2d(in_features, out_features, kernel_size=1, padding=0, bias=True))
                _init_weights(self.convs[-1])
                in_features = out_features

        def forward(self, inputs):
            out = inputs
            for conv_layer in self.convs:
                out = self.activation(conv_layer(out))
            return out

    class RegularBlock(nn.Module):
        def __init__(self, in_features, out_features, depth_of_mlp):
            super().__init__()
            self.mlp1 = MlpBlock(in_features, out_features, depth_of_mlp)
            self.mlp2 = MlpBlock(in_features, out_features, depth_of_mlp)
            self.mlp3 = MlpBlock(in_features + out_features, out_features, depth_of_mlp)
            self.last_layer = nn.Conv2d(out_features, out_features, kernel_size=1, padding=0, bias=True)
            self.bn_mult = nn.BatchNorm2d(out_features)
            self.bn_out = nn.BatchNorm2d(out_features)

        def forward(self, inputs):
            mlp1 = self.mlp1(inputs)
            mlp2 = self.mlp2(inputs)
            mult = torch.matmul(mlp1, mlp2)
            mult = self.bn_mult(mult)
            out = torch.cat((inputs, mult), dim=1)  # dispatch_cat on plain tensors
            out = self.mlp3(out)
            out = self.last_layer(out)
            return self.bn_out(out)

    class BaseModel(nn.Module):  # models/base_model.py
        def __init__(self, original_features_num, num_blocks, in_features, out_features, depth_of_mlp):
            super().__init__()
            self.embedding = nn.Embedding(2, in_features)
            self.reg_blocks = nn.ModuleList()
            for i in range(num_blocks - 1):
                self.reg_blocks.append(RegularBlock(in_features, in_features, depth_of_mlp))
            self.reg_blocks.append(RegularBlock(in_features, out_features, depth_of_mlp))

        def forward(self, x):
            x = self.embedding(x[:, :, :, 1].long())
            x = x.permute(0, 3, 1, 2)
            for block in self.reg_blocks:
                x = block(x)
            return x.permute(0, 2, 3, 1)

    class Simple_Node_Embedding(nn.Module):
        def __init__(self, *args):
            super().__init__()
            self.base_model = BaseModel(*args)

        def forward(self, x):
            x = self.base_model(x)
            return torch.max(x, 2)[0]  # ColumnMaxPooling

    class Siamese_Model(nn.Module):  # models/siamese_net.py
        def __init__(self, *args):
            super().__init__()
            self.node_embedder = Simple_Node_Embedding(*args)

        def forward(self, x):
            x = x.permute(1, 0, 2, 3, 4)
            x1 = self.node_embedder(x[0])
            x2 = self.node_embedder(x[1])
            return torch.matmul(x1, torch.transpose(x2, 1, 2))

    class triplet_loss(nn.Module):  # toolbox/losses.py, loss_reduction='mean'
        def __init__(self, loss=nn.CrossEntropyLoss(reduction='sum')):
            super().__init__()
            self.loss = loss

        def forward(self, raw_scores, target_dummy):
            loss = 0
            total = 0
            # buggy: outputs = torch.softmax(raw_scores, -1); fix: the raw scores
            outputs = torch.softmax(raw_scores, -1) if softmax_first else raw_scores
            for out in outputs:
                n = out.shape[0]
                target = torch.arange(n)
                loss += self.loss(out, target)
                total += n
            return loss / total

    model = Siamese_Model(2, num_blocks, in_features, out_features, depth_of_mlp)
    x = _pairs()
    tb = [(torch.tensor(x[i:i + batch_size]), torch.empty(batch_size, 0))  # (data, torch.empty(0)) per pair
          for i in range(0, len(x), batch_size)]
    return {"model": model, "batch": tb[0], "batches": tb, "loss_fn": triplet_loss(),
            "optimizer": lambda p: torch.optim.Adam(p, lr=lr, amsgrad=False)}


def _keras(softmax_first: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)

    def mlp_block(x, out_f):
        for _ in range(depth_of_mlp):
            x = layers.Dense(out_f, activation="relu", kernel_initializer="glorot_uniform")(x)
        return x

    def regular_block(x, out_f):
        m1 = mlp_block(x, out_f)
        m2 = mlp_block(x, out_f)
        mult = layers.Lambda(lambda t: ops.einsum("bijf,bjkf->bikf", t[0], t[1]))([m1, m2])
        mult = layers.BatchNormalization(epsilon=1e-5, momentum=0.9)(mult)
        out = layers.Concatenate(axis=-1)([x, mult])
        out = mlp_block(out, out_f)
        out = layers.Dense(out_f)(out)
        return layers.BatchNormalization(epsilon=1e-5, momentum=0.9)(out)

    g = keras.Input((n_vertices, n_vertices, 2))
    h = layers.Embedding(2, in_features)(layers.Lambda(lambda t: ops.cast(t[..., 1], "int32"))(g))
    h = regular_block(h, in_features)
    h = regular_block(h, out_features)
    h = layers.Lambda(lambda t: ops.max(t, axis=2))(h)  # ColumnMaxPooling
    embedder = keras.Model(g, h)

    pair = keras.Input((2, n_vertices, n_vertices, 2))
    e1 = embedder(layers.Lambda(lambda t: t[:, 0])(pair))
    e2 = embedder(layers.Lambda(lambda t: t[:, 1])(pair))
    scores = layers.Lambda(lambda t: ops.einsum("bif,bjf->bij", t[0], t[1]))([e1, e2])
    model = keras.Model(pair, scores)

    def triplet_loss(y_true, y_pred):
        if softmax_first:  # torch.softmax(raw_scores, -1), written out
            z = ops.exp(y_pred - ops.max(y_pred, axis=-1, keepdims=True))
            y_pred = z / ops.sum(z, axis=-1, keepdims=True)
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)

    model.compile(loss=triplet_loss, optimizer=keras.optimizers.Adam(learning_rate=lr))
    x = _pairs()
    ids = np.tile(np.arange(n_vertices, dtype="int32"), (batch_size, 1))
    batches = [(x[i:i + batch_size], ids) for i in range(0, len(x), batch_size)]
    return {"model": model, "batch": batches[0], "batches": batches}


def buggy(framework: str) -> dict[str, Any]:
    return _torch(True) if framework == "torch" else _keras(True)


def fixed(framework: str) -> dict[str, Any]:
    return _torch(False) if framework == "torch" else _keras(False)
