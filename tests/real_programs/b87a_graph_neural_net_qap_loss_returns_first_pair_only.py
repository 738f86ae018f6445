"""mlelarge/graph_neural_net (Lelarge & Azizian: "provably powerful" 2-order graph networks for graph matching),
early 2020: a siamese network learns the quadratic assignment problem (QAP) between a random graph and a noisy copy
of it. ``commander.py`` draws pairs with ``loaders/data_generator.py`` (Erdos-Renyi graph G(50, 0.2); the copy
loses each edge with probability ``noise`` = 0.05 and gains each non-edge with probability 0.2 * 0.05 / 0.8; each
graph is fed as an (n, n, 2) tensor: channel 1 the adjacency, channel 0 the degrees on the diagonal), embeds both
graphs with ``Simple_Node_Embedding`` (two ``RegularBlock`` s of 1x1-conv MLPs and a matrix product, then max over
columns), scores every node pair with ``raw_scores = x1 @ x2^T`` and returns ``F.log_softmax(raw_scores, dim=2)``:
row i is a distribution over the nodes of graph 2 that node i of graph 1 is matched to; the target is the identity
(the noisy copy keeps the node order). ``toolbox/losses.py``'s ``triplet_loss`` takes ``nn.NLLLoss()`` of each row
against ``torch.arange(n_vertices)``; ``Adam(lr=1e-3)``, batch size 32, 20,000 training pairs, StepLR(5, 0.9) per
epoch.

The fault (``triplet_loss.forward``): the loop over the batch returns inside its first iteration,

    for out in outputs:
        n_vertices = out.shape[0]
        ide = torch.arange(n_vertices)
        target = ide.to(self.device)
        return self.loss(out, target)

so the loss (and every gradient) comes from the first pair of the batch alone; the other 31 pairs are computed and
thrown away. Training runs without any error and the printed loss looks like a loss, but each step learns from one
example: the gradient is a batch-of-1 estimate (32x the variance) and an epoch uses 1/32 of the data.

Source: github.com/mlelarge/graph_neural_net ``toolbox/losses.py`` at 4b46e02fd21c257ddb7f620f8ba0e1d51da91770^
(= d2c49ed, merge of PR #13; models/siamese_net.py, models/base_model.py, models/layers.py, trainer.py,
commander.py and loaders/data_generator.py of that tree), fixed by 4b46e02fd21c257ddb7f620f8ba0e1d51da91770
"Fix error in loss computation" (PR #14 "mixed_batches", merged as 30a8ce5, "Small fix"): ``nn.NLLLoss(reduction=
'sum')``, the loss summed over all pairs of the batch and divided by the total number of vertices, i.e. the mean
NLL over every node of every pair (equal to the mean of the per-pair ``NLLLoss()`` when all graphs have n vertices).
(A later, different fault of this repository, a softmax before a cross-entropy fixed in PR #37, is not this one.)
Fault label: other:loss_computed_on_first_sample_of_batch_only (a ``return`` inside the loop over the batch: one
example of 32 drives training).

Program lines kept: ``RegularBlock``, ``MlpBlock`` (xavier_uniform weights, default bias), ``_init_weights``,
``ColumnMaxPooling``, ``BaseModel``, ``Simple_Node_Embedding``, ``Siamese_Model`` (log_softmax over dim 2), the
buggy ``triplet_loss`` verbatim and the fixed one as in 4b46e02, ``Adam(model.parameters(), lr=1e-3,
amsgrad=False)``, batch size 32, the data generator's equations (ER graph, noise edges, degree / adjacency channels).
Adapted / shrunk: n_vertices 50 -> 16 and in_features = out_features 64 -> 16 (the 2-order network works on
(bs, features, n, n) tensors; a step of batch 32 took 181 ms at n 20 / 64->32 features, seconds at 50 / 64, and
65 ms at 16 / 16 on one CPU core), ``num_blocks=2``,
``depth_of_mlp=3``, ``original_features_num=2`` kept; ``dispatch_cat`` (a masked-tensor workaround) is ``torch.cat``
for the plain tensors of constant-size graphs used here. The checks call ``model(x)`` with one tensor, so a thin
``QAPPairs`` wrapper takes x of shape (bs, 2, n, n, 2) (the graph and its noisy copy stacked on axis 1) and calls
``Siamese_Model(x[:, 0], x[:, 1])``. The program builds its target inside the loss; ``loss_fn(outputs, targets)``
calls the program's criterion on the outputs and ignores ``targets``, which hold that same identity
(``arange(n)`` per pair, int64 (bs, n)) for whoever reads them. The StepLR schedule (per epoch of 625 steps) never
fires within the runs measured here and is left out. Data stand-in: the program's own generator (networkx
``erdos_renyi_graph``), seeded; 40 distinct batches of 32 pairs, ``inputs`` 128 further pairs.

Measured (my own plain loop, /tmp/s54/p/h87_a/measure.py: the module's builds, Adam 1e-3, the 40 batches cycled in
order, zero_grad / forward / loss / backward / step; torch seed 0, OMP_NUM_THREADS=1):
  mean NLL over all nodes of all pairs (the fixed loss; 256 training pairs / the 128 held-out ``inputs``) and the
  fraction of nodes whose argmax is the right match, steps 0 / 50 / 100 / 150 / 200 / 300 / 400:
    buggy train NLL 2.77 2.29 2.19 1.96 1.98 1.94 1.93, held-out acc 0.063 0.135 0.195 0.243 0.268 0.259 0.269
    fixed train NLL 2.77 2.24 1.94 1.88 1.88 1.86 1.85, held-out acc 0.063 0.144 0.270 0.287 0.282 0.288 0.283
  (held-out NLL after 400 steps: buggy 1.90, fixed 1.82). The fixed run reaches its plateau by step ~100-150; the
  buggy run needs 2-3x as many steps to get near it, its curve is not monotone (it rises again at steps 200 and 300)
  and it stays below the fixed one throughout (step 100: NLL 2.19 vs 1.94, accuracy 0.195 vs 0.270). No NaN, no
  error, both losses fall: the fault slows and noisens learning rather than stopping it. On this shrunk model both
  versions plateau at ~28 % matching accuracy (chance 6 %), so the gap is modest; the program's 20,000 pairs and
  5 epochs at full width were not reproduced. Time: ~60-66 ms per step at batch 32 (one thread), so ~6.5 s per
  hundred steps; first build ~3.2 s (networkx data), later builds 0.01 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "other:loss_computed_on_first_sample_of_batch_only"
SOURCE = ("github:mlelarge/graph_neural_net PR #14 (toolbox/losses.py triplet_loss@4b46e02^, models/siamese_net.py, "
          "models/base_model.py, models/layers.py, loaders/data_generator.py, commander.py; "
          "fix 4b46e02fd21c257ddb7f620f8ba0e1d51da91770 'Fix error in loss computation')")
FRAMEWORKS = ("torch",)
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}), ("batch_independence", {})]

BATCH_SIZE = 32
LR = 1e-3
N_VERTICES = 16  # program: 50
FEATURES = 16  # program: in_features = out_features = 64
EDGE_DENSITY = 0.2
NOISE = 0.05
N_BATCHES = 40
N_INPUTS = 128
SEED = 0


def _er(p: float, n: int, seed: int) -> np.ndarray:
    import networkx

    g = networkx.erdos_renyi_graph(n, p, seed=seed)
    return np.asarray(networkx.to_numpy_array(g, nodelist=range(n)), dtype="float32")


def _tensor_repr(w: np.ndarray) -> np.ndarray:
    """adjacency_matrix_to_tensor_representation: B[:, :, 1] = W and B[i, i, 0] = deg(i)."""
    degrees = w.sum(1)
    b = np.zeros((len(w), len(w), 2), "float32")
    b[:, :, 1] = w
    idx = np.arange(len(w))
    b[idx, idx, 0] = degrees
    return b


@functools.lru_cache(maxsize=1)
def _data() -> np.ndarray:
    """(N_BATCHES * BATCH_SIZE + N_INPUTS, 2, n, n, 2) float32 (graph, noisy copy) pairs: compute_example."""
    r = np.random.default_rng(SEED)
    n_tot = N_BATCHES * BATCH_SIZE + N_INPUTS
    out = np.zeros((n_tot, 2, N_VERTICES, N_VERTICES, 2), "float32")
    pe1 = NOISE
    pe2 = (EDGE_DENSITY * NOISE) / (1 - EDGE_DENSITY)
    for i in range(n_tot):
        s = r.integers(0, 2 ** 31 - 1, 3)
        w = _er(EDGE_DENSITY, N_VERTICES, int(s[0]))
        noise1 = _er(pe1, N_VERTICES, int(s[1]))
        noise2 = _er(pe2, N_VERTICES, int(s[2]))
        w_noise = w * (1 - noise1) + (1 - w) * noise2
        out[i, 0] = _tensor_repr(w)
        out[i, 1] = _tensor_repr(w_noise)
    return out


def _build(fixed_loss: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def dispatch_cat(tensors, dim):  # toolbox.maskedtensor workaround; plain tensors here
        return torch.cat(tensors, dim=dim)

    class RegularBlock(nn.Module):
        def __init__(self, in_features, out_features, depth_of_mlp):
            super().__init__()

            self.mlp1 = MlpBlock(in_features, out_features, depth_of_mlp)
            self.mlp2 = MlpBlock(in_features, out_features, depth_of_mlp)
            self.mlp3 = MlpBlock(in_features+out_features, out_features,depth_of_mlp)
            self.last_layer = nn.Conv2d(out_features,out_features,kernel_size=1, padding=0, bias=True)

        def forward(self, inputs):
            mlp1 = self.mlp1(inputs)
            mlp2 = self.mlp2(inputs)
            mult = torch.matmul(mlp1, mlp2)
            # Temporary workaround to pytorch issue
            out = dispatch_cat((inputs, mult), dim=1)
            out = self.mlp3(out)
            out = self.last_layer(out)
            return out

    class MlpBlock(nn.Module):
        def __init__(self, in_features, out_features, depth_of_mlp, activation_fn = F.relu):
            super().__init__()
            self.activation = activation_fn
            self.depth_mlp = depth_of_mlp
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

    def _init_weights(layer):
        nn.init.xavier_uniform_(layer.weight)

    class ColumnMaxPooling(nn.Module):
        def __init__(self):
            super().__init__()

        def forward(self, x):
            return torch.max(x, 2)[0]

    class BaseModel(nn.Module):
        def __init__(self, original_features_num, num_blocks, in_features,out_features, depth_of_mlp):
            super().__init__()

            self.original_features_num = original_features_num
            self.num_blocks = num_blocks
            self.in_features = in_features
            self.out_features = out_features
            self.depth_of_mlp =depth_of_mlp

            # First part - sequential mlp blocks
            last_layer_features = self.original_features_num
            self.reg_blocks = nn.ModuleList()
            for _ in range(self.num_blocks-1):
                mlp_block = RegularBlock(last_layer_features, in_features, self.depth_of_mlp)
                self.reg_blocks.append(mlp_block)
                last_layer_features = in_features
            mlp_block = RegularBlock(in_features,out_features,depth_of_mlp)
            self.reg_blocks.append(mlp_block)

        def forward(self, x):
            #here x.shape = (bs, n_vertices, n_vertices, n_features)
            if x.size(3) != self.original_features_num:
                print("expected input feature {} and got {}".format(self.original_features_num,x.shape[3]))
                return
            x = x.permute(0, 3, 1, 2)
            #expects x.shape = (bs, n_features, n_vertices, n_vertices)
            for block in self.reg_blocks:
                x = block(x)
            # return (bs, n_vertices, n_vertices, n_features)
            return x.permute(0,2,3,1)

    class Simple_Node_Embedding(nn.Module):
        def __init__(self, original_features_num, num_blocks, in_features,out_features, depth_of_mlp):
            super().__init__()

            self.original_features_num = original_features_num
            self.num_blocks = num_blocks
            self.in_features = in_features
            self.out_features = out_features
            self.depth_of_mlp =depth_of_mlp
            self.base_model = BaseModel(original_features_num, num_blocks, in_features,out_features, depth_of_mlp)
            self.suffix = ColumnMaxPooling()

        def forward(self, x):
            x = self.base_model(x)
            x = self.suffix(x)
            return  x

    class Siamese_Model(nn.Module):
        def __init__(self, original_features_num, num_blocks, in_features,out_features, depth_of_mlp):
            super().__init__()

            self.original_features_num = original_features_num
            self.num_blocks = num_blocks
            self.in_features = in_features
            self.out_features = out_features
            self.depth_of_mlp =depth_of_mlp
            self.node_embedder = Simple_Node_Embedding(original_features_num, num_blocks, in_features,out_features,
                                                       depth_of_mlp)

        def forward(self, x1, x2):
            x1 = self.node_embedder(x1)
            x2 = self.node_embedder(x2)
            raw_scores = torch.matmul(x1,torch.transpose(x2, 1, 2))
            return F.log_softmax(raw_scores, dim = 2)

    class QAPPairs(nn.Module):  # port: one input tensor (bs, 2, n, n, 2) -> the program's model(input1, input2)
        def __init__(self, net):
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(x[:, 0], x[:, 1])

    class triplet_loss(nn.Module):  # the program's loss at 4b46e02^ (buggy)
        def __init__(self, device='cpu', loss = nn.NLLLoss()):
            super(triplet_loss, self).__init__()
            self.device = device
            self.loss = loss

        def forward(self, outputs):
            """
            outputs is the output of siamese network (bs,n_vertices,n_vertices)
            """
            for out in outputs:
                n_vertices = out.shape[0]
                ide = torch.arange(n_vertices)
                target = ide.to(self.device)
                return self.loss(out, target)

    class triplet_loss_fixed(nn.Module):  # the fix, 4b46e02
        def __init__(self, device='cpu', loss = nn.NLLLoss(reduction='sum')):
            super(triplet_loss_fixed, self).__init__()
            self.device = device
            self.loss = loss

        def forward(self, outputs):
            """
            outputs is the output of siamese network (bs,n_vertices,n_vertices)
            """
            loss = 0
            total_n_vertices = 0
            for out in outputs:
                n_vertices = out.shape[0]
                ide = torch.arange(n_vertices)
                target = ide.to(self.device)
                loss += self.loss(out, target)
                total_n_vertices += n_vertices
            return loss/total_n_vertices

    torch.manual_seed(SEED)
    net = Siamese_Model(original_features_num=2, num_blocks=2, in_features=FEATURES, out_features=FEATURES,
                        depth_of_mlp=3)
    model = QAPPairs(net)
    optimizer = torch.optim.Adam(model.parameters(), lr=LR, amsgrad=False)
    criterion = triplet_loss_fixed('cpu') if fixed_loss else triplet_loss('cpu')

    def loss_fn(outputs, targets):  # the program builds its identity target itself
        return criterion(outputs)

    x = torch.tensor(_data())
    n_tr = N_BATCHES * BATCH_SIZE
    ident = torch.arange(N_VERTICES).repeat(len(x), 1)
    batches = [(x[i:i + BATCH_SIZE], ident[i:i + BATCH_SIZE]) for i in range(0, n_tr, BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": x[n_tr:],
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed_loss=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed_loss=True)
