"""DaisyRec (AmazingDD/daisyRec, a recommender-systems benchmarking library), its Item2Vec recommender
(``daisy/model/Item2VecRecommender.py``, Barkan & Koenigstein 2016): skip-gram with negative sampling over each
user's item sequence. ``SkipGramNegativeSampler`` (``daisy/utils/sampler.py``, ``context_window=2``) turns every
item of a user's sequence into ``[target, context, 1]`` rows for the items within two positions of it and as many
``[target, negative, 0]`` rows with negatives drawn uniformly from the items the user never interacted with; the
model scores a pair as the dot product of the two items' rows of one ``shared_embedding`` (``nn.Embedding(item_num,
factors=100)``, ``normal(0, 0.01)`` initialisation; an unused ``user_embedding`` is only filled after training), and
``GeneralRecommender.fit`` trains it with ``nn.BCEWithLogitsLoss(reduction='sum')`` (loss type ``'CL'``),
``optim.Adam(lr=0.001)``, batches of 256 (``item2vec.yaml`` + ``basic.yaml``).
The fault: ``forward`` passes the dot product through ``self.out_act = nn.Sigmoid()`` before returning it, and the
criterion is ``BCEWithLogitsLoss``, which applies a sigmoid again. The "logits" the loss sees are confined to (0, 1),
so every pair gets a predicted probability in (0.5, 0.73): a negative pair can never score below 0.5 (loss >=
ln 2 each) and a positive one never above 0.73 (loss >= 0.31 each), and the gradient reaching the embeddings is
damped by the extra sigmoid's slope. The PR: "Do not need sigmoid because there is sigmoid in BCEWithLogitsLoss.
Otherwise loss does not converge."

Source: github.com/AmazingDD/daisyRec (formerly yudi-mars/daisyRec) PR #15 (mike-fzy), buggy
``daisy/model/Item2VecRecommender.py`` at 5cce37e^ (the model, ``AbstractRecommender._build_criterion`` /
``_init_weight`` / ``GeneralRecommender.fit`` in ``daisy/model/AbstractRecommender.py``), fixed by
5cce37e09537925f68f9721602cf4e1a3f7e39d8 (removes ``self.out_act`` and its call), merged as a2cb8ef.
Program lines kept: ``Item2Vec.__init__`` (both embeddings, ``out_act``) and ``forward``, ``calc_loss``
(``label.float()``), the normal(0, 0.01) init, ``BCEWithLogitsLoss(reduction='sum')``, Adam(0.001), batch 256,
the skip-gram sampling (window 2, one uniform negative per positive).
Ported minimally: ``forward(target_i, context_j)`` takes the pair as one ``(N, 2)`` int64 tensor (column 0 the
target, column 1 the context) so the model has a single input; the DataLoader's shuffle is a seeded permutation.
Sizes are the program's (a step takes ~2 ms).
Torch only. The Keras twin (a functional model over the pair with one shared ``Embedding(item_num, 100,
RandomNormal(0, 0.01))``, the row-wise dot product as an ``(N, 1)`` column, ``Activation("sigmoid")``, compiled
with ``BinaryCrossentropy(from_logits=True, reduction="sum")`` and ``Adam(0.001)``) does not show the fault in
Keras 3 (checked with 3.15 on the TensorFlow backend): the loss finds the logits behind the ``Sigmoid`` op, warns
"received `from_logits=True`, but the `output` argument was produced by a Sigmoid activation and thus does not
represent logits. Was this intended?" and uses them, so the buggy and fixed twins train identically
(``train_on_batch``, one batch, 300 steps: both 177.4 -> 2.1; 300 steps over the 8 batches: both 26.9).
Data stand-in (no download of MovieLens-100K): the ``ml-100k``/``10filter`` shapes, 943 users x 1,150 items
(the 10-filter keeps roughly that many of the 1,682 films); 120 users' time-ordered sequences of 20-80 distinct
items, items split into 19 genre clusters with Zipf popularity, each user drawing 80 % of the items from two
favourite genres; the program's skip-gram sampling on them, shuffled, the first 8 batches of 256 (x: int64
``(256, 2)`` item ids, y: float32 0/1, 53 % positives).
Fault label: output_activation|loss_mismatch (a sigmoid on the output fed to a loss that expects logits).
Fix (5cce37e): drop ``out_act`` from ``forward``: the dot product is the logit.
Symptom in a short loop (plain loop: ``model.zero_grad()``, loss, ``backward``, ``step``; OMP_NUM_THREADS=1, seed 0;
losses are sums over the 256 rows of a batch): one batch, 300 steps: buggy 178.4 -> 124.3 (that batch's floor,
114 negatives x ln 2 + 142 positives x softplus(-1) = 123.5), fixed 177.5 -> 2.8. 800 steps over the 8 batches,
mean of 8 steps every 80: buggy 182.0, 177.7, 160.7, 143.0, 134.4, 130.8, 129.1, 128.2, 127.7, 127.4 (the
batches' mean floor is 126.3; its outputs span (0.001, 0.9996) while the loss needs logits), fixed 177.4, 160.5,
103.0, 51.5, 26.2, 15.0, 9.5, 6.6, 4.8, 3.7 (outputs -6.4 .. 7.8).
"""

from __future__ import annotations

from typing import Any

import numpy as np

LABEL = "output_activation|loss_mismatch"
SOURCE = ("github:AmazingDD/daisyRec PR #15 (daisy/model/Item2VecRecommender.py@5cce37e^, "
          "daisy/model/AbstractRecommender.py, daisy/utils/sampler.py SkipGramNegativeSampler; "
          "fix 5cce37e09537925f68f9721602cf4e1a3f7e39d8)")
FRAMEWORKS = ("torch",)
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("output_range", {"kind": "logits"})]

user_num = 943
item_num = 1150
factors = 100  # item2vec.yaml: factors: 100
lr = 0.001  # item2vec.yaml: lr: 0.001; optimizer 'default' -> adam
batch_size = 256  # basic.yaml: batch_size: 256
context_window = 2  # item2vec.yaml: context_window: 2
n_batches = 8


def _skipgram_samples(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_genres, n_users = 19, 120
    genre = rng.integers(0, n_genres, item_num)
    pop = 1.0 / np.arange(1, item_num + 1) ** 0.8
    pop = pop[rng.permutation(item_num)]
    train_seqs = {}
    for u in range(n_users):
        fav = rng.choice(n_genres, 2, replace=False)
        length = int(rng.integers(20, 81))
        liked = np.isin(genre, fav)
        w = pop * np.where(liked, 0.8 / pop[liked].sum(), 0.2 / pop[~liked].sum())
        train_seqs[u] = list(rng.choice(item_num, length, replace=False, p=w / w.sum()))
    # SkipGramNegativeSampler.sampling (program lines, np.random -> seeded rng)
    sgns_samples = []
    for u, seq in train_seqs.items():
        past_inter = list(set(seq))
        cands = np.setdiff1d(np.arange(item_num), past_inter)
        for i in range(len(seq)):
            target = seq[i]
            context_list = []
            j = i - context_window
            while j <= i + context_window and j < len(seq):
                if j >= 0 and j != i:
                    context_list.append(seq[j])
                    sgns_samples.append([target, seq[j], 1])
                j += 1
            num_ng = len(context_list)
            for neg_item in rng.choice(cands, size=num_ng):
                sgns_samples.append([target, neg_item, 0])
    samples = np.array(sgns_samples)
    samples = samples[rng.permutation(len(samples))][:batch_size * n_batches]  # DataLoader(shuffle=True)
    return samples[:, :2].astype("int64"), samples[:, 2].astype("float32")


def _build(framework: str, sigmoid: bool) -> dict[str, Any]:
    x, y = _skipgram_samples()
    batches = [(x[i:i + batch_size], y[i:i + batch_size]) for i in range(0, len(x), batch_size)]
    if framework == "torch":
        import torch
        import torch.nn as nn

        torch.manual_seed(0)

        class Item2Vec(nn.Module):  # daisy/model/Item2VecRecommender.py (training part)
            def __init__(self):
                super().__init__()
                self.user_embedding = nn.Embedding(user_num, factors)  # filled after fit, never trained
                self.shared_embedding = nn.Embedding(item_num, factors)
                self.out_act = nn.Sigmoid()
                self.apply(self._init_weight)

            def _init_weight(self, m):  # AbstractRecommender._init_weight, initializer 'normal'
                if isinstance(m, nn.Embedding):
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)

            def forward(self, pairs):  # forward(target_i, context_j) with the pair as one tensor
                target_i, context_j = pairs[:, 0], pairs[:, 1]
                target_emb = self.shared_embedding(target_i)  # batch_size * embedding_size
                context_emb = self.shared_embedding(context_j)  # batch_size * embedding_size
                output = torch.sum(target_emb * context_emb, dim=1)
                if sigmoid:  # removed by the fix (5cce37e)
                    output = self.out_act(output)
                return output.view(-1)

        tb = [(torch.tensor(a), torch.tensor(b)) for a, b in batches]
        return {"model": Item2Vec(), "batch": tb[0], "batches": tb, "inputs": torch.tensor(x),
                "loss_fn": nn.BCEWithLogitsLoss(reduction='sum'),  # _build_criterion('CL')
                "optimizer": lambda p: torch.optim.Adam(p, lr=lr)}

    raise ValueError(framework)


def buggy(framework: str) -> dict[str, Any]:
    return _build(framework, sigmoid=True)


def fixed(framework: str) -> dict[str, Any]:
    return _build(framework, sigmoid=False)
