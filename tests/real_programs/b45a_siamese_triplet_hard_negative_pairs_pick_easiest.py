"""adambielski/siamese-triplet ("Siamese and triplet learning with online pair/triplet mining", PyTorch),
the online pair selection experiment of ``Experiments_MNIST.ipynb``: an ``EmbeddingNet`` (conv 1->32 5x5,
PReLU, max-pool 2, conv 32->64 5x5, PReLU, max-pool 2, Linear 1024->256, PReLU, Linear 256->256, PReLU,
Linear 256->2: a 2-D embedding of an MNIST digit) is trained on mini-batches from ``BalancedBatchSampler(
train_dataset, n_classes=10, n_samples=25)`` (250 images, 25 of each digit) with
``OnlineContrastiveLoss(margin=1., pair_selector)`` and ``optim.Adam(model.parameters(), lr=1e-3)``
(``StepLR(optimizer, 8, gamma=0.1)``, 20 epochs, ``trainer.fit``). The loss takes the batch's embeddings and
labels; the pair selector picks the pairs inside the batch: the squared distance of every positive pair
(same digit) plus ``relu(margin - distance) ** 2`` of the selected negative pairs, averaged. The notebook
imports ``AllPositivePairSelector, HardNegativePairSelector`` ("Strategies for selecting pairs within a
minibatch"; the README lists both as the ``PairSelector`` implementations for ``OnlineContrastiveLoss``);
this port is that cell with ``HardNegativePairSelector()``, the negative-mining strategy the section is about.

The fault is in ``utils.py``'s ``HardNegativePairSelector.get_pairs``, which is meant to take, besides all
positive pairs, as many *hardest* negative pairs (closest embeddings of different digits) as there are positive
pairs. It took the farthest::

    top_negatives = np.argpartition(negative_distances, -len(positive_pairs))[-len(positive_pairs):]

(and its docstring said "pairs with greatest distance are taken"). The farthest negative pairs are the ones
already beyond the margin, whose hinge ``relu(1 - d) ** 2`` is zero: the loss trains almost only the positive
term, pulling each digit's embeddings together, and keeps just enough far-apart negative pairs (3,000 of the
28,125 in a batch) to hold the loss at zero, so most digits are free to pile onto one another.

Source: github.com/adambielski/siamese-triplet issue #3 ("the hard negative pairs should be the pairs with
closest distances"; the author: "you're absolutely right, that's a stupid bug. Will fix it now."), fixed by
PR #4, commit 9512643d9d42d775ae223c84f35e5a3c81edcec9 "HardNegativePairSelector bugfix" (merge db89db4f)::

    top_negatives = np.argpartition(negative_distances, len(positive_pairs))[:len(positive_pairs)]

The fix also changed the default ``cpu=False`` to ``cpu=True`` (where the distance matrix is computed; the
same on a CPU). Program at 9512643^ = 296164d920749618c5c8e0ea442ddf2df8a30766: ``utils.py`` (``pdist``,
``HardNegativePairSelector``), ``losses.py`` (``OnlineContrastiveLoss``), ``networks.py`` (``EmbeddingNet``),
``datasets.py`` (``BalancedBatchSampler``), ``trainer.py`` (``train_epoch``: ``optimizer.zero_grad()``,
``outputs = model(*data)``, ``loss_fn(*outputs, target)``, ``backward``, ``step``), ``Experiments_MNIST.ipynb``
(normalisation ``(0.1307,), (0.3081,)``, cell 21: sampler, margin, loss, optimiser).
Program lines kept: ``pdist``, ``get_pairs`` as written (``combinations`` of the batch indices, the label
masks, the numpy ``argpartition`` with the buggy or the fixed line), ``OnlineContrastiveLoss.forward``
(positive squared distances, ``F.relu(margin - dist.sqrt()).pow(2)`` for the negatives, ``torch.cat(...).mean()``),
the ``EmbeddingNet`` layer sequence with PyTorch's default initialisation and ``nn.PReLU()`` (one slope,
0.25), margin 1.0, Adam(lr 1e-3), balanced batches of 10 digits x 25, the notebook's normalisation.
Ported minimally: the convolution widths are divided by 4 (32 -> 8, 64 -> 16; the first Linear then takes
16*4*4 = 256 inputs) so a torch step on the 250-image batch costs ~60-75 ms on one CPU thread (the full widths
take ~140-250 ms, measured); the fully connected part and the 2-D embedding are as written. ``StepLR`` (a
step every 8 epochs) never fires within the short runs the checks make and is left out; ``Variable`` and
``.cuda()`` are dropped.
Keras twin (written as equivalently as possible): ``Conv2D``/``Dense`` with Keras' default initialisers and
``PReLU(alpha_initializer=Constant(0.25))`` with one shared slope per layer as ``nn.PReLU()``, NHWC inputs;
the loss is the same online contrastive loss in ``keras.ops`` over (labels, embeddings): the ``pdist``
matrix, the positive pairs (i < j, same label), the negative pairs ranked by their ``pdist`` distance
(ascending for the fixed, descending for the buggy selector) and the first ``number of positive pairs`` of
them kept (ranks via a double ``argsort``, so the count follows the batch as ``len(positive_pairs)`` does),
positive squared distances plus ``relu(margin - sqrt(d)) ** 2`` of the kept negatives, averaged over all
kept pairs; Adam(1e-3).
Data stand-in (no MNIST download): ``_data.mnist_like`` (scikit-learn's 1,797 bundled 8x8 digits blown up to
28x28, 0..255: real signal), ``ToTensor`` (/255) and ``Normalize((0.1307,), (0.3081,))`` as in the notebook;
150 images of each digit make 6 balanced batches of 10 x 25 (like ``BalancedBatchSampler``: per batch the
10 classes, 25 shuffled images of each; the images of a batch are then mixed, which the loss does not see,
so that any slice of a batch holds several digits), the other 297 images are held out.
Fault label: other:hard_negative_mining_picks_easiest (the loss is computed on the wrong, easiest negative
pairs: it reads near zero while the embedding does not separate the classes).
Fix (9512643): ``np.argpartition(negative_distances, len(positive_pairs))[:len(positive_pairs)]``.

Symptom in a short loop (my own plain loop, seed 0, OMP_NUM_THREADS=1, 300 Adam steps cycling over the 6
batches; "loss" is the step's batch loss before its update, "kNN" the 5-nearest-neighbour accuracy of the 297
held-out digits against the 1,500 training embeddings). Torch (~70 ms a step on a busy machine): buggy loss
0.454 (step 1) -> 0.063 (10) -> 0.0062 (50) -> 0.0043 (100) -> 0.0005 (200) -> 0.0002 (300), kNN 0.29 / 0.46 /
0.50 / 0.44 / 0.39 / 0.39; fixed 0.494 -> 0.386 -> 0.103 -> 0.028 -> 0.0052 -> 0.0031, kNN 0.32 / 0.62 / 0.96 /
0.98 / 0.98 / 0.98. After 300 steps 90 % of the held-out different-digit pairs lie within the margin in the
buggy run (10 % in the fixed one), and none of the 3,000 negative pairs the buggy selector picks from the
first batch has a non-zero hinge (fixed: 551 of 3,000). Keras (train_on_batch, ~90-130 ms a step, mostly the
convolutions): buggy 0.108 -> 0.035 -> 0.0084 -> 0.0043 -> 0.0010 -> 0.0012, kNN 0.39 / 0.35 / 0.50 / 0.57 /
0.62 / 0.66; fixed 0.452 -> 0.287 -> 0.082 -> 0.034 -> 0.0074 -> 0.0084, kNN 0.47 / 0.80 / 0.96 / 0.97 / 0.98 /
0.98 (Keras' Glorot initialisation starts the embedding wider, std 0.57 / 0.16, so its buggy loss starts
low: most of the farthest negative pairs are beyond the margin from step 1). With the full conv widths (32,
64; torch, an earlier split of the same data) the same picture: buggy loss 0.0001 with kNN 0.31 after 300
steps, fixed 0.0014 with kNN 0.91. The buggy loss falls faster and lower than the fixed one, since the
negatives it trains on cost nothing, while the held-out embedding separates only a few of the digits.
I checked that the Keras loss equals the torch ``OnlineContrastiveLoss`` on the same embeddings and labels
(batches of 250, 64 and 16 samples, both selectors: equal to 1e-7).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "other:hard_negative_mining_picks_easiest"
SOURCE = ("github:adambielski/siamese-triplet issue #3, PR #4 (utils.py HardNegativePairSelector.get_pairs "
          "@296164d9, losses.py OnlineContrastiveLoss, networks.py EmbeddingNet, datasets.py BalancedBatchSampler, "
          "Experiments_MNIST.ipynb online pair selection; fix 9512643d9d42d775ae223c84f35e5a3c81edcec9 "
          "'HardNegativePairSelector bugfix')")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("loss_decreases", {}), ("overfit_one_batch", {}), ("gradients_flow", {}),
          ("not_constant_predictions", {}), ("input_independent_baseline", {})]

mean, std = 0.1307, 0.3081   # Experiments_MNIST.ipynb
n_classes = 10               # BalancedBatchSampler(train_dataset, n_classes=10, n_samples=25)
n_samples = 25
margin = 1.
lr = 1e-3
n_batches = 6
WIDTH_DIV = 4                # port: conv widths 32, 64 divided by 4 to keep a CPU step near 60-75 ms
c1, c2 = 32 // WIDTH_DIV, 64 // WIDTH_DIV


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train) in balanced batches of 10 x 25 (NCHW), and the held-out (x, y)."""
    from tests.real_programs._data import mnist_like

    imgs, y = mnist_like(1797)
    x = ((imgs / 255.0 - mean) / std).astype("float32").reshape(-1, 1, 28, 28)  # ToTensor, Normalize
    rng = np.random.default_rng(0)
    per_class = {c: rng.permutation(np.flatnonzero(y == c)) for c in range(n_classes)}
    order = []
    for b in range(n_batches):
        batch = []
        for c in rng.permutation(n_classes):  # np.random.choice(labels_set, n_classes, replace=False)
            batch.extend(per_class[c][b * n_samples:(b + 1) * n_samples])
        order.extend(rng.permutation(batch))  # the loss ignores the order; mixed so any slice holds several digits
    order = np.array(order)
    held = np.setdiff1d(np.arange(len(y)), order)
    def c(a):  # plain C-order strides (a size-1 channel axis may otherwise read as channels_last to torch)
        return np.ascontiguousarray(a).reshape(a.shape).copy(order="C")

    return c(x[order]), y[order], c(x[held]), y[held]


def _build(framework: str, fixed: bool) -> dict[str, Any]:
    from tests.real_programs._data import batches

    x, y, _, _ = _data()
    bs = n_classes * n_samples
    if framework == "torch":
        from itertools import combinations

        import torch
        import torch.nn as nn
        import torch.nn.functional as F

        def pdist(vectors):
            distance_matrix = -2 * vectors.mm(torch.t(vectors)) + vectors.pow(2).sum(dim=1).view(1, -1) + \
                vectors.pow(2).sum(dim=1).view(-1, 1)
            return distance_matrix

        class HardNegativePairSelector:
            def __init__(self, cpu=not fixed):  # the fix also made cpu=True the default (same on a CPU)
                self.cpu = cpu

            def get_pairs(self, embeddings, labels):
                if self.cpu:
                    embeddings = embeddings.cpu()
                distance_matrix = pdist(embeddings)

                labels = labels.cpu().data.numpy()
                all_pairs = np.array(list(combinations(range(len(labels)), 2)))
                all_pairs = torch.LongTensor(all_pairs)
                positive_pairs = all_pairs[(labels[all_pairs[:, 0]] == labels[all_pairs[:, 1]]).nonzero()]
                negative_pairs = all_pairs[(labels[all_pairs[:, 0]] != labels[all_pairs[:, 1]]).nonzero()]

                negative_distances = distance_matrix[negative_pairs[:, 0], negative_pairs[:, 1]]
                negative_distances = negative_distances.cpu().data.numpy()
                if fixed:  # 9512643: the closest negative pairs
                    top_negatives = np.argpartition(negative_distances, len(positive_pairs))[:len(positive_pairs)]
                else:  # buggy: the farthest negative pairs
                    top_negatives = np.argpartition(negative_distances, -len(positive_pairs))[-len(positive_pairs):]
                top_negative_pairs = negative_pairs[torch.LongTensor(top_negatives)]

                return positive_pairs, top_negative_pairs

        class OnlineContrastiveLoss(nn.Module):
            def __init__(self, margin, pair_selector):
                super().__init__()
                self.margin = margin
                self.pair_selector = pair_selector

            def forward(self, embeddings, target):
                positive_pairs, negative_pairs = self.pair_selector.get_pairs(embeddings, target)
                positive_loss = (embeddings[positive_pairs[:, 0]] - embeddings[positive_pairs[:, 1]]).pow(2).sum(1)
                negative_loss = F.relu(
                    self.margin - (embeddings[negative_pairs[:, 0]] - embeddings[negative_pairs[:, 1]]).pow(2).sum(
                        1).sqrt()).pow(2)
                loss = torch.cat([positive_loss, negative_loss], dim=0)
                return loss.mean()

        class EmbeddingNet(nn.Module):
            def __init__(self):
                super().__init__()
                self.convnet = nn.Sequential(nn.Conv2d(1, c1, 5), nn.PReLU(),
                                             nn.MaxPool2d(2, stride=2),
                                             nn.Conv2d(c1, c2, 5), nn.PReLU(),
                                             nn.MaxPool2d(2, stride=2))
                self.fc = nn.Sequential(nn.Linear(c2 * 4 * 4, 256),
                                        nn.PReLU(),
                                        nn.Linear(256, 256),
                                        nn.PReLU(),
                                        nn.Linear(256, 2))

            def forward(self, x):
                output = self.convnet(x)
                output = output.view(output.size()[0], -1)
                output = self.fc(output)
                return output

        torch.manual_seed(0)
        model = EmbeddingNet()
        loss_fn = OnlineContrastiveLoss(margin, HardNegativePairSelector())

        def optimizer(params):
            return torch.optim.Adam(params, lr=lr)

        tb = [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in batches(x, y, bs)]
        return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(x[:300]),
                "loss_fn": loss_fn, "optimizer": optimizer}

    import keras
    from keras import ops

    keras.utils.set_random_seed(0)

    def prelu(shared):
        return keras.layers.PReLU(alpha_initializer=keras.initializers.Constant(0.25), shared_axes=shared)

    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(c1, 5), prelu([1, 2, 3]),
        keras.layers.MaxPooling2D(2, strides=2),
        keras.layers.Conv2D(c2, 5), prelu([1, 2, 3]),
        keras.layers.MaxPooling2D(2, strides=2),
        keras.layers.Flatten(),
        keras.layers.Dense(256), prelu([1]),
        keras.layers.Dense(256), prelu([1]),
        keras.layers.Dense(2),
    ])

    def online_contrastive_loss(y_true, y_pred):
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1,))
        emb = y_pred
        sq = ops.sum(ops.square(emb), axis=1)
        distance_matrix = -2 * ops.matmul(emb, ops.transpose(emb)) + sq[None, :] + sq[:, None]  # pdist
        diff = emb[:, None, :] - emb[None, :, :]
        d2 = ops.sum(ops.square(diff), axis=-1)  # (e_i - e_j).pow(2).sum(1) for every pair
        idx = ops.arange(ops.shape(emb)[0])
        upper = idx[:, None] < idx[None, :]  # combinations(range(n), 2)
        same = labels[:, None] == labels[None, :]
        pos = ops.logical_and(upper, same)
        neg = ops.logical_and(upper, ops.logical_not(same))
        n_pos = ops.sum(ops.cast(pos, "int32"))
        nd = ops.reshape(ops.stop_gradient(distance_matrix), (-1,))
        big = ops.cast(1e30, nd.dtype)
        if fixed:  # 9512643: the len(positive_pairs) closest negative pairs
            key = ops.where(ops.reshape(neg, (-1,)), nd, big)
        else:  # buggy: the len(positive_pairs) farthest negative pairs
            key = ops.where(ops.reshape(neg, (-1,)), -nd, big)
        rank = ops.argsort(ops.argsort(key))
        sel = ops.logical_and(ops.reshape(neg, (-1,)), rank < n_pos)
        sel = ops.reshape(sel, ops.shape(d2))
        d2_neg = ops.where(sel, d2, ops.ones_like(d2))
        positive_loss = ops.sum(ops.where(pos, d2, ops.zeros_like(d2)))
        negative_loss = ops.sum(ops.where(sel, ops.square(ops.relu(margin - ops.sqrt(d2_neg))), ops.zeros_like(d2)))
        count = ops.cast(n_pos, d2.dtype) + ops.sum(ops.cast(sel, d2.dtype))
        return (positive_loss + negative_loss) / count

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss=online_contrastive_loss)
    xk = np.ascontiguousarray(x.transpose(0, 2, 3, 1))  # NHWC
    kb = batches(xk, y, bs)
    return {"model": model, "batch": kb[0], "batches": kb, "inputs": xk[:300]}


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, fixed=True)
