"""keras-gat (danielegrattarola/keras-gat), the Keras implementation of Graph Attention Networks
(Velickovic et al., 2018): ``examples/gat.py`` trains a two-layer GAT for transductive node
classification on the Planetoid citation graphs loaded by ``keras_gat/utils.py``'s ``load_data``
(``'cora'`` in the example; ``'citeseer'`` and ``'pubmed'`` ship in ``keras_gat/data``). The whole graph is
one batch (``batch_size=N``, ``shuffle=False``): ``GraphAttention(8, attn_heads=8, 'concat', elu)`` ->
``GraphAttention(n_classes, attn_heads=1, 'average', softmax)``, ``Dropout(0.6)`` before each,
``l2(5e-4)`` on the kernels, ``categorical_crossentropy`` on the 120 labelled training nodes
(``sample_weight=idx_train``), ``Adam(lr=5e-3)``. The features are preprocessed by one line::

    X /= X.sum(1).reshape(-1, 1)

The fault: Citeseer has isolated documents that are missing from its feature files; ``load_data``
("Fix citeseer dataset (there are some isolated nodes in the graph)") inserts them as zero rows. The
row normalisation divides those rows by 0, so they become 0/0 = NaN. The GAT's attention is computed
densely over all N nodes (``K.dot(softmax, linear_transf_X)`` multiplies every node's features, masked
neighbours included, by their attention weight, and 0 * NaN = NaN; the NaN logits of the bad nodes also
enter every row's softmax), so *every* node's output is NaN from the first forward pass and the loss is
NaN from the first step. Issue #14 "citeseer dataset loss is nan" ("when i use citeseer dataset, the
training loss is nan"; a commenter: ``X[np.isnan(X)] = 0`` after ``load_data`` "then it works!").

Source: github.com/danielegrattarola/keras-gat issue #14, fixed by commit
ee456328c284ead17385778ed2446c8c43340df6 ("Fixed some differences w.r.t. reference implementation"; the
maintainer closed the issue as "fixed now" four days later), which replaces the line with
``X = preprocess_features(X)`` (new in ``keras_gat/utils.py``: ``r_inv = np.power(rowsum, -1)``,
``r_inv[np.isinf(r_inv)] = 0.``, ``X = diag(r_inv) @ X``: zero rows stay zero). Program at ee456328^:
``examples/gat.py`` (hyper-parameters, model, compile, fit), ``keras_gat/graph_attention_layer.py``
(``GraphAttention``), ``keras_gat/utils.py`` (``load_data``).
Program lines kept: the buggy and the fixed preprocessing lines (run as written, in numpy),
``A = A + np.eye(N)``, the ``GraphAttention`` layer of ee456328^ (per head: kernel ``W`` (F, F'),
attention kernels ``a_self``/``a_neighs`` (F', 1), all glorot-uniform, no bias; ``dense = X W a_self +
(X W a_neighs)^T``, ``LeakyReLU(0.2)``, the mask ``exp(A * -10e9) * -10e9``, softmax over the row, dropout
0.5 on the attention, ``softmax @ X W``; 'concat' applies the activation per head, 'average' after the
mean), the two-layer model with its dropouts, ``l2(5e-4)`` on the kernels only, the loss on the training
nodes and ``Adam(5e-3)``.
Fix ported minimally: only the preprocessing line changes (``preprocess_features``). The fix commit also
added attention-internal dropout on the features, biases and ``l2`` on the attention kernels and a new
mask formula; those are improvements unrelated to the NaN and are left out, so the buggy and fixed
programs differ in the one line.
Ported minimally: the adjacency matrix, a second model input in the program (``Input(shape=(N,))`` fed
the whole ``A`` with ``batch_size=N``), is a constant of the layers, so the model takes the node
features alone (a batch of the first n rows uses the subgraph the first n nodes induce: with the whole
feature matrix, as the program always feeds it, that is the full graph; the rows must come whole and in
node order: a sub-batch of the first 64 rows gives finite outputs in both versions, since the
featureless nodes sit in the test range, and Keras ``fit`` chunks of 32 rows would pair rows with the
wrong subgraph). Keras 2's
``sample_weight=idx_train`` average (the loss summed over the weighted nodes and divided by their
number) is a custom loss over one-hot targets that are zero rows outside the training nodes, as
``load_data``'s ``y_train`` is. Keras 2 -> Keras 3 (``K.*`` -> ``keras.ops``; the attention dropout is a
layer built in ``__init__``). PyTorch twin: the same layer and model in ``torch``, the loss
``categorical_crossentropy`` on the probabilities (clipped at 1e-7 like Keras') of the training nodes
(targets -100 elsewhere, ``ignore_index``), and ``l2(5e-4)`` on the kernels as ``Adam``'s coupled
``weight_decay=1e-3`` on the kernel group (the gradient of 5e-4 * ||W||^2), none on the attention
kernels; the fault is in the numpy preprocessing, so it is the same in both frameworks.
Data stand-in (the repository ships Citeseer as Planetoid pickles; not read here): a seeded
Citeseer-like graph shrunk from 3,327 nodes x 3,703 words to N = 600 nodes x F = 500 words so the dense
N x N attention stays cheap; 6 classes with Citeseer's class shares, the first 120 nodes the training
nodes (20 per class, as ``idx_train = range(len(y))`` in Citeseer), binary bag-of-words rows of 20-43
word draws (29 distinct words on average; Citeseer: 31.6), half of them from a 60-word vocabulary of
the node's class; 822 undirected edges (mean degree 2.7 as Citeseer's), 78 % of them inside a class
(Citeseer's edge homophily: 74 %), no self-loops in the graph (``A + I`` adds them). 3 nodes in the
test range (the last 180 rows) are the isolated, featureless documents: zero feature rows, no label, no edges (Citeseer at
ee456328^: 15 zero rows of 3,327 after ``load_data``, 15 NaN rows after the buggy line; I loaded the
repository's pickles once to count them).
Fault label: inputs_not_finite (the preprocessed feature matrix holds NaN rows).
Fix (ee456328): ``X = preprocess_features(X)`` (zero rows stay zero).

Symptom in a short loop (my own loop, the full graph each step as the program trains, seed 0,
OMP_NUM_THREADS=1, model in training mode, 200 steps; loss on the 120 training nodes):
torch (``opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()``): buggy: 3 of the 600 input rows
are NaN, all 3,600 outputs of the first forward pass are NaN, every gradient is NaN, every parameter is NaN
after the first Adam step, the loss is NaN at steps 1, 10, 50, 100, 200 (train accuracy 1/6 = argmax of
NaN); fixed: 1.793 (step 1) -> 1.705 (10) -> 1.218 (50) -> 0.826 (100) -> 0.615 (200), 0.632 at 300 and
0.511 at 500 in training mode (0.252 / 0.211 in eval mode, dropout 0.6 off), train accuracy 100 % and
93 % on the 477 labelled non-training nodes after 200 steps, outputs in [0.005, 0.94].
Keras (``train_on_batch``; its loss includes the l2 terms): buggy NaN at steps 1 to 200, all 3,600
outputs NaN; fixed 1.859 -> 1.763 (10) -> 1.238 (50) -> 1.079 (100) -> 0.944 (200), train accuracy
100 %, 93 % elsewhere. About 65 ms a torch step and 45 ms a Keras step on one thread (eight 600 x 600
attention heads).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "inputs_not_finite"
SOURCE = ("github:danielegrattarola/keras-gat issue #14 (examples/gat.py 'X /= X.sum(1).reshape(-1, 1)' with "
          "load_data('citeseer') @ee456328^, keras_gat/graph_attention_layer.py, keras_gat/utils.py; "
          "fix ee456328c284ead17385778ed2446c8c43340df6 preprocess_features)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "probabilities"})]

# examples/gat.py (ee456328^)
F_ = 8                        # Output dimension of first GraphAttention layer
n_attn_heads = 8              # Number of attention heads in first GAT layer
dropout_rate = 0.6            # Dropout rate applied to the input of GAT layers
l2_reg = 5e-4                 # Regularization rate for l2
learning_rate = 5e-3          # Learning rate for SGD
attn_dropout = 0.5            # GraphAttention default

# stand-in sizes (Citeseer: 3327 nodes, 3703 words, 120 training nodes, 15 featureless isolated nodes)
N_NODES = 600
N_WORDS = 500
N_CLASSES = 6
N_TRAIN = 120
N_TEST_RANGE = 180
N_FEATURELESS = 3
CITESEER_CLASS_SHARE = np.array([249, 590, 668, 701, 596, 508], dtype="float64") / 3312.0


def _citeseer_like(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(A, X, labels): dense adjacency without self-loops, binary bag-of-words rows, labels (-1 = none)."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(N_CLASSES, N_NODES, p=CITESEER_CLASS_SHARE)
    labels[:N_TRAIN] = rng.permutation(np.repeat(np.arange(N_CLASSES), N_TRAIN // N_CLASSES))
    featureless = rng.choice(np.arange(N_NODES - N_TEST_RANGE, N_NODES), N_FEATURELESS, replace=False)
    labels[featureless] = -1
    topic = rng.choice(N_WORDS, (N_CLASSES, 60), replace=False)
    x = np.zeros((N_NODES, N_WORDS), dtype="float32")
    for i, c in enumerate(labels):
        if c < 0:
            continue  # load_data's zero row for an isolated document
        k = rng.integers(20, 44)
        from_topic = rng.random(k) < 0.5
        words = np.where(from_topic, topic[c, rng.integers(0, 60, k)], rng.integers(0, N_WORDS, k))
        x[i, words] = 1.0
    a = np.zeros((N_NODES, N_NODES), dtype="float32")
    nodes = np.flatnonzero(labels >= 0)
    by_class = [nodes[labels[nodes] == c] for c in range(N_CLASSES)]
    n_edges = 0
    while n_edges < int(1.37 * N_NODES):
        u = rng.choice(nodes)
        pool = by_class[labels[u]] if rng.random() < 0.74 else nodes
        v = rng.choice(pool)
        if u == v or a[u, v]:
            continue
        a[u, v] = a[v, u] = 1.0
        n_edges += 1
    return a, x, labels


def _preprocess(x: np.ndarray, fixed: bool) -> np.ndarray:
    x = x.copy()
    with np.errstate(divide="ignore", invalid="ignore"):
        if not fixed:
            x /= x.sum(1).reshape(-1, 1)  # examples/gat.py @ee456328^: zero rows -> 0/0 = NaN
        else:  # keras_gat/utils.py preprocess_features (ee456328)
            rowsum = np.array(x.sum(1))
            r_inv = np.power(rowsum, -1).flatten()
            r_inv[np.isinf(r_inv)] = 0.
            x = r_inv[:, None] * x
    return x.astype("float32")


def _data(fixed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a, x, labels = _citeseer_like(0)
    x = _preprocess(x, fixed)
    a = a + np.eye(a.shape[0], dtype="float32")  # Add self-loops
    return a, x, labels


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    a, x, labels = _data(fixed)
    train = np.arange(N_NODES) < N_TRAIN
    if framework == "torch":
        import torch
        from torch import nn
        import torch.nn.functional as F

        torch.manual_seed(0)
        adj = torch.from_numpy(a)

        def glorot(shape):
            w = torch.empty(shape)
            nn.init.xavier_uniform_(w)  # glorot_uniform on the (fan_in, fan_out) matrix
            return nn.Parameter(w)

        class GraphAttention(nn.Module):  # keras_gat/graph_attention_layer.py @ee456328^
            def __init__(self, f_in, f_out, attn_heads=1, attn_heads_reduction="concat", activation=None):
                super().__init__()
                self.F_ = f_out
                self.attn_heads = attn_heads
                self.attn_heads_reduction = attn_heads_reduction
                self.activation = activation
                self.kernels = nn.ParameterList([glorot((f_in, f_out)) for _ in range(attn_heads)])
                self.attn_kernels_self = nn.ParameterList([glorot((f_out, 1)) for _ in range(attn_heads)])
                self.attn_kernels_neighs = nn.ParameterList([glorot((f_out, 1)) for _ in range(attn_heads)])

            def forward(self, X):
                n = X.shape[0]
                A = adj[:n, :n]
                outputs = []
                for head in range(self.attn_heads):
                    linear_transf_X = X @ self.kernels[head]
                    attn_for_self = linear_transf_X @ self.attn_kernels_self[head]
                    attn_for_neighs = linear_transf_X @ self.attn_kernels_neighs[head]
                    dense = attn_for_self + attn_for_neighs.T
                    dense = F.leaky_relu(dense, negative_slope=0.2)
                    mask = torch.exp(A * -10e9) * -10e9
                    masked = dense + mask
                    softmax = torch.softmax(masked, dim=-1)
                    dropout = F.dropout(softmax, attn_dropout, training=self.training)
                    node_features = dropout @ linear_transf_X
                    if self.attn_heads_reduction == "concat" and self.activation is not None:
                        node_features = self.activation(node_features)
                    outputs.append(node_features)
                if self.attn_heads_reduction == "concat":
                    return torch.cat(outputs, dim=1)
                output = torch.stack(outputs).mean(0)
                return self.activation(output) if self.activation is not None else output

        class GAT(nn.Module):  # examples/gat.py model definition
            def __init__(self):
                super().__init__()
                self.graph_attention_1 = GraphAttention(N_WORDS, F_, n_attn_heads, "concat", F.elu)
                self.graph_attention_2 = GraphAttention(F_ * n_attn_heads, N_CLASSES, 1, "average",
                                                        lambda t: torch.softmax(t, dim=-1))

            def forward(self, X):
                h = F.dropout(X, dropout_rate, training=self.training)
                h = self.graph_attention_1(h)
                h = F.dropout(h, dropout_rate, training=self.training)
                return self.graph_attention_2(h)

        model = GAT()
        place = {id(p): i for i, p in enumerate(model.parameters())}
        kernel_at = [place[id(p)] for layer in (model.graph_attention_1, model.graph_attention_2)
                     for p in layer.kernels]
        other_at = [i for i in range(len(place)) if i not in kernel_at]

        def optimizer(params):  # Adam(lr=5e-3); kernel_regularizer=l2(5e-4) == coupled L2 of 2 * 5e-4
            params = list(params)
            return torch.optim.Adam([{"params": [params[i] for i in kernel_at], "weight_decay": 2 * l2_reg},
                                     {"params": [params[i] for i in other_at]}], lr=learning_rate)

        def loss_fn(probs, target):  # categorical_crossentropy on the training nodes (sample_weight)
            return F.nll_loss(torch.log(probs.clamp(1e-7, 1 - 1e-7)), target, ignore_index=-100)

        y = torch.from_numpy(np.where(train, labels, -100).astype("int64"))
        xt = torch.from_numpy(x)
        batch = (xt, y)
        return {"model": model, "batch": batch, "batches": [batch], "inputs": xt,
                "loss_fn": loss_fn, "optimizer": optimizer}

    import keras
    from keras import ops
    from keras.regularizers import l2

    keras.utils.set_random_seed(0)

    class GraphAttention(keras.layers.Layer):  # keras_gat/graph_attention_layer.py @ee456328^
        def __init__(self, F_, attn_heads=1, attn_heads_reduction="concat", activation="relu",
                     kernel_regularizer=None, **kwargs):
            super().__init__(**kwargs)
            self.F_ = F_
            self.attn_heads = attn_heads
            self.attn_heads_reduction = attn_heads_reduction
            self.activation = keras.activations.get(activation)
            self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
            self.attn_dropout_layer = keras.layers.Dropout(attn_dropout)
            self.kernels = []
            self.attn_kernels = []

        def build(self, input_shape):
            f_in = input_shape[-1]
            for head in range(self.attn_heads):
                self.kernels.append(self.add_weight(shape=(f_in, self.F_), initializer="glorot_uniform",
                                                    regularizer=self.kernel_regularizer,
                                                    name="kernel_%s" % head))
                self.attn_kernels.append([
                    self.add_weight(shape=(self.F_, 1), initializer="glorot_uniform",
                                    name="att_kernel_self_{}".format(head)),
                    self.add_weight(shape=(self.F_, 1), initializer="glorot_uniform",
                                    name="att_kernel_neighs_{}".format(head))])

        def call(self, X, training=None):
            n = ops.shape(X)[0]
            A = ops.convert_to_tensor(a)[:n, :n]
            outputs = []
            for head in range(self.attn_heads):
                kernel = self.kernels[head]
                attention_kernel = self.attn_kernels[head]
                linear_transf_X = ops.matmul(X, kernel)
                attn_for_self = ops.matmul(linear_transf_X, attention_kernel[0])
                attn_for_neighs = ops.matmul(linear_transf_X, attention_kernel[1])
                dense = attn_for_self + ops.transpose(attn_for_neighs)
                dense = ops.leaky_relu(dense, negative_slope=0.2)
                mask = ops.exp(A * -10e9) * -10e9
                masked = dense + mask
                softmax = ops.softmax(masked, axis=-1)
                dropout = self.attn_dropout_layer(softmax, training=training)
                node_features = ops.matmul(dropout, linear_transf_X)
                if self.attn_heads_reduction == "concat" and self.activation is not None:
                    node_features = self.activation(node_features)
                outputs.append(node_features)
            if self.attn_heads_reduction == "concat":
                return ops.concatenate(outputs, axis=-1)
            output = ops.mean(ops.stack(outputs), axis=0)
            return self.activation(output) if self.activation is not None else output

    X_in = keras.Input(shape=(N_WORDS,))
    dropout1 = keras.layers.Dropout(dropout_rate)(X_in)
    graph_attention_1 = GraphAttention(F_, attn_heads=n_attn_heads, attn_heads_reduction="concat",
                                       activation="elu", kernel_regularizer=l2(l2_reg))(dropout1)
    dropout2 = keras.layers.Dropout(dropout_rate)(graph_attention_1)
    graph_attention_2 = GraphAttention(N_CLASSES, attn_heads=1, attn_heads_reduction="average",
                                       activation="softmax", kernel_regularizer=l2(l2_reg))(dropout2)
    model = keras.Model(inputs=X_in, outputs=graph_attention_2)

    def categorical_crossentropy_on_train_nodes(y_true, y_pred):
        # Keras 2 'categorical_crossentropy' with sample_weight=idx_train: the mean over the weighted rows
        w = ops.sum(y_true, axis=-1)
        per_node = keras.losses.categorical_crossentropy(y_true, y_pred)
        return ops.sum(per_node * w) / ops.maximum(ops.sum(w), 1.0)

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
                  loss=categorical_crossentropy_on_train_nodes)
    y_train = np.zeros((N_NODES, N_CLASSES), dtype="float32")  # load_data's y_train: zero rows off train
    y_train[np.flatnonzero(train), labels[train]] = 1.0
    batch = (x, y_train)
    return {"model": model, "batch": batch, "batches": [batch], "inputs": x}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
