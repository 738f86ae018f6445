"""pytorch/benchmark (TorchBench), model ``dlrm``: ``torchbenchmark/models/dlrm/__init__.py`` builds Facebook's
DLRM (``dlrm_s_pytorch.py`` ``DLRM_Net``, copied from facebookresearch/dlrm) with the paper's architecture
(8 embedding tables of 1,000,000 rows x 64, ``arch_mlp_bot = "512-512-64"``, ``arch_mlp_top = "1024-1024-1024-1"``,
dot interaction without self-interaction, ``sigmoid_bot = -1``, ``sigmoid_top = -1``), random uniform dense inputs
and sparse lookups (``data_generation = "random"``, 100 indices per lookup), batch size 2048, and trains it with
``torch.nn.MSELoss(reduction="mean")`` and ``torch.optim.SGD(dlrm.parameters(), lr=0.01)`` (the LR policy has no
warmup and no decay, so the rate stays 0.01): ``gen = model(X, lS_o, lS_i); zero_grad; loss_fn(gen, targets);
backward; step``.

The fault (``DLRM_Net.create_mlp``): every ``nn.Linear`` gets a numpy-drawn Xavier-like weight and a bias drawn
from ``N(0, 1/m)`` with ``m`` the layer's output width: ``std_dev = np.sqrt(1 / m)`` / ``bt = np.random.normal(mean,
std_dev, size=m)``. For the hidden layers (m = 512, 1024, ...) this is a small bias, but the last top-MLP layer has
m = 1 output, so its single bias is drawn from N(0, 1): a bias of the order of one, while the weighted sum it is added
to is of the order of 0.1. And with ``sigmoid_top = -1`` (TorchBench's setting; upstream DLRM puts a sigmoid there)
``create_mlp`` follows EVERY layer with ``nn.ReLU()``, the output layer included. Whenever the drawn output bias is
more negative than the largest weighted sum over the inputs, the output ReLU is zero for every sample: the model
predicts 0 for everything, and since ReLU's derivative is 0 there, NO parameter (output bias, MLPs, embeddings)
receives any gradient; SGD never moves, the loss stays where it started for ever. The output unit is dead from
initialisation. With TorchBench's seed (``set_random_seed``: numpy seed 1337, then the model's draws in order) the
output bias comes out at -0.695 while the weighted sums lie in [-0.11, 0.12] (my replay of the draws on a
batch of 2048 uniform inputs, the tiny embedding interactions set to 0, /tmp/s58/p/b99b/orig_draw.py), so every
output is 0, as the PR shows.

Source: github.com/pytorch/benchmark ``torchbenchmark/models/dlrm/dlrm_s_pytorch.py`` (and ``__init__.py``,
``dlrm_data_pytorch.py``) at 3f11b81e277f56e04751d609a626adba4ece48d1 (= 827f90b9^), fixed by PR #1927 (commit
827f90b9e003ac770f98b9eb49b94ebab78b267f, merged 2023-09-29) "changed to proper Xavier initialization, existing
implementation was resulting in a large negative bias, which was killing all gradients through the following
relu". The PR author's printout before the fix: ``gen`` all 0 (``grad_fn=<ReluBackward0>``), "derivative with
respect to first linear layer: tensor([[0., 0., 0., ...]])"; after it: some outputs positive and non-zero first-layer
gradients. The same change was proposed upstream as facebookresearch/dlrm PR #358 ("the bias may be initialized to
a large negative value, leading to a negative input to Relu. This prevents any training, as all derivatives are
zero afterward"). The fix replaces the two bias lines by ``bt = np.zeros(m).astype(np.float32)``.
Fault label: dead_units (the single output ReLU is dead from initialisation because of the N(0, 1) bias draw, so
no gradient reaches any parameter).

Program lines kept verbatim: ``create_mlp`` (weights ``np.random.normal(mean, sqrt(2 / (m + n)))``, the buggy
bias lines / the fixed ``np.zeros(m)``, ReLU after every layer since ``sigmoid_top = sigmoid_bot = -1``, the
``approach 1`` ``.data`` assignment), ``create_emb`` (``nn.EmbeddingBag(n, m, mode="sum", sparse=True)`` with
uniform +-sqrt(1/n) numpy init), ``apply_mlp``, ``apply_emb``, the ``dot`` branch of ``interact_features``,
``sequential_forward`` (loss_threshold 0, no clamp), ``MSELoss(reduction="mean")``, ``SGD(lr=0.01)``, batch size
2048, dense inputs uniform in [0, 1) as ``ra.rand``.
Shrunk / replaced, for one CPU core: the embedding tables 1,000,000 -> 1,000 rows (their init range follows n,
+-0.032 instead of +-0.001); 100 -> 10 indices per lookup (uniform row ids as the program's ``ra.random`` draw, but
repeats are kept rather than removed by ``np.unique``, so every lookup has exactly 10 and the offsets are fixed);
bottom MLP 512-512-64 -> 512-128-64, top MLP 100-1024-1024-1024-1 -> 100-128-128-128-1 (the interaction width
100 = 64 + 36 is unchanged; the output layer still has m = 1, so its bias is still drawn from N(0, 1), the faulty
line is untouched). The full size holds 2 GB of embedding tables and about 20x the MLP arithmetic per step (my
estimate, not run), too much for one core. The model takes three inputs; here ``model(x)`` takes one float
tensor (n, 512 + 8 x 10): the 512 dense features, then each table's 10 row ids, which a thin wrapper splits into
``dense_x``, ``lS_i`` (flat ids) and ``lS_o`` (offsets 0, 10, 20, ...) as the program's ``collate_wrapper_random``
hands them to ``DLRM_Net``. ``parallel_forward`` / QR / MD tricks (off in the program) are left out. numpy is seeded
with SEED = 0 before ``DLRM_Net`` draws its parameters (TorchBench:
1337); with SEED = 0 the shrunk model's output bias is drawn at -1.600 (its weighted sums on ``batch`` lie in
[-0.49, 0.04] at init), so the output is dead for every sample as in the report. As in the fix, the fixed build draws
no biases, so its weights after the first layer come from a later point of the numpy stream than the buggy ones.
Data stand-in: TorchBench's targets are ``ra.rand`` noise, unrelated to the inputs; here the dense inputs are
uniform [0, 1) as in the program and the click probability is ``sigmoid(1.5 * d + 1.2 * s)`` with ``d`` a fixed
random projection of 16 of the 512 centred dense features (std 1) and ``s`` the sum over the 8 tables of the mean
of a fixed random per-row score over the lookup's 10 rows, so the inputs determine the targets (float32 (n, 1) in
(0, 1), mean about 0.5, std about 0.3). ``batches``: 10 distinct batches of 2048; ``batch``: the first;
``inputs``: 256 held-out rows.

Measured (my own plain loop, /tmp/s58/p/b99b/measure.py, on the module's builds: zero_grad / forward / MSE /
backward / step over the 10 ``batches`` cycled, 1200 steps; seed 0; OMP_NUM_THREADS=1; output in
/tmp/s58/p/b99b/measure_1200.txt):
  buggy: at step 0 all 20 parameter tensors get a gradient of norm exactly 0 (first-layer |grad| max 0.0); the
    output is 0 for every sample; the loss is the mean of the squared targets, 0.3452 at step 0, and the 30-step block
    means are 0.3472 from the first block to the last (40 blocks; the per-step loss only changes with the batch);
    after 1200 steps no parameter has moved at all (max |change| 0), held-out MSE 0.302 (all predictions 0).
  fixed: all 20 tensors get gradient at step 0 (largest norm 0.41, first-layer |grad| max 0.0057); loss 0.333 at
    step 0, 0.109 at step 10 (the output bias rises to the target mean), then keeps falling slowly at lr 0.01:
    30-step block means 0.1355 0.0967 0.0959 ... 0.0905 (steps 450-479) ... 0.0829 (steps 1170-1199); held-out MSE
    0.0856 against 0.0910 for predicting the mean (the variance of the held-out targets), prediction/target
    correlation 0.27, all outputs > 0.
  So the fault shows from step 0: zero gradient everywhere and a frozen, constant-zero model, against a model that
    fits the mean in ten steps and then learns the inputs (slowly, as the program's SGD lr 0.01 on MSE allows).
  Time (batch 2048, one thread): ~0.1 s a step (both); build: first ~3 s (imports, data), later ~0.1 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

LABEL = "dead_units"
SOURCE = ("github:pytorch/benchmark PR #1927, fix 827f90b9e003ac770f98b9eb49b94ebab78b267f 'changed to proper Xavier "
          "initialization, existing implementation was resulting in a large negative bias, which was killing all "
          "gradients through the following relu' (torchbenchmark/models/dlrm/dlrm_s_pytorch.py DLRM_Net.create_mlp "
          "'std_dev = np.sqrt(1 / m)' / 'bt = np.random.normal(mean, std_dev, size=m)' and __init__.py "
          "sigmoid_top=-1, MSELoss, SGD lr 0.01 @3f11b81e277f56e04751d609a626adba4ece48d1 = 827f90b9^; upstream "
          "proposal facebookresearch/dlrm PR #358)")
FRAMEWORKS = ("torch",)
CHECKS = [("gradients_flow", {}), ("loss_decreases", {"task": "regression"}),
          ("overfit_one_batch", {"task": "regression"}), ("input_independent_baseline", {"task": "regression"})]

BATCH_SIZE = 2048  # DEFAULT_TRAIN_BSIZE
LR = 0.01
M_DEN = 512  # arch_mlp_bot's first width: the dense features
M_SPA = 64  # arch_sparse_feature_size
N_TABLES = 8
N_ROWS = 1000  # 1000000 in the program
N_IDX = 10  # num_indices_per_lookup: 100 in the program
ARCH_MLP_BOT = "512-128-64"  # "512-512-64" in the program
ARCH_MLP_TOP = "128-128-128-1"  # "1024-1024-1024-1" in the program
N_BATCHES = 10
N_INPUTS = 256
SEED = 0


@functools.lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray]:
    """Packed rows [dense (512) | table 0 ids (10) | ... | table 7 ids (10)] and click probabilities (n, 1)."""
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + N_INPUTS
    dense = r.random((n, M_DEN)).astype(np.float32)  # as ra.rand(n, m_den)
    ids = r.integers(0, N_ROWS, (n, N_TABLES, N_IDX))  # as np.round(ra.random(10) * (size - 1)), repeats kept
    v = np.zeros(M_DEN)
    v[r.choice(M_DEN, 16, replace=False)] = r.standard_normal(16)
    d = (dense - 0.5) @ v / np.sqrt((v ** 2).sum() / 12.0)
    row_score = r.standard_normal((N_TABLES, N_ROWS))
    s = sum(row_score[k][ids[:, k]].mean(1) for k in range(N_TABLES))
    t = 1.0 / (1.0 + np.exp(-(1.5 * d + 1.2 * s)))
    x = np.concatenate([dense, ids.reshape(n, -1).astype(np.float32)], 1)
    return x, t.astype(np.float32)[:, None]


def _build(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    class DLRM_Net(nn.Module):
        def create_mlp(self, ln, sigmoid_layer):
            # build MLP layer by layer
            layers = nn.ModuleList()
            for i in range(0, ln.size - 1):
                n = ln[i]
                m = ln[i + 1]

                # construct fully connected operator
                LL = nn.Linear(int(n), int(m), bias=True)

                # initialize the weights
                # with torch.no_grad():
                # custom Xavier input, output or two-sided fill
                mean = 0.0  # std_dev = np.sqrt(variance)
                std_dev = np.sqrt(2 / (m + n))  # np.sqrt(1 / m) # np.sqrt(1 / n)
                W = np.random.normal(mean, std_dev, size=(m, n)).astype(np.float32)
                if fixed:  # PR #1927
                    bt = np.zeros(m).astype(np.float32)  # see upstream PR at .../facebookresearch/dlrm/pull/358
                else:
                    std_dev = np.sqrt(1 / m)  # np.sqrt(2 / (m + 1))
                    bt = np.random.normal(mean, std_dev, size=m).astype(np.float32)
                # approach 1
                LL.weight.data = torch.tensor(W, requires_grad=True)
                LL.bias.data = torch.tensor(bt, requires_grad=True)
                layers.append(LL)

                # construct sigmoid or relu operator
                if i == sigmoid_layer:
                    layers.append(nn.Sigmoid())
                else:
                    layers.append(nn.ReLU())

            # approach 2: use Sequential container to wrap all layers
            return torch.nn.Sequential(*layers)

        def create_emb(self, m, ln):
            emb_l = nn.ModuleList()
            for i in range(0, ln.size):
                n = ln[i]
                EE = nn.EmbeddingBag(n, m, mode="sum", sparse=True)

                # initialize embeddings
                # nn.init.uniform_(EE.weight, a=-np.sqrt(1 / n), b=np.sqrt(1 / n))
                W = np.random.uniform(
                    low=-np.sqrt(1 / n), high=np.sqrt(1 / n), size=(n, m)
                ).astype(np.float32)
                # approach 1
                EE.weight.data = torch.tensor(W, requires_grad=True)
                emb_l.append(EE)

            return emb_l

        def __init__(self, m_spa, ln_emb, ln_bot, ln_top, arch_interaction_op, arch_interaction_itself=False,
                     sigmoid_bot=-1, sigmoid_top=-1, loss_threshold=0.0):
            super(DLRM_Net, self).__init__()
            self.arch_interaction_op = arch_interaction_op
            self.arch_interaction_itself = arch_interaction_itself
            self.loss_threshold = loss_threshold
            self.emb_l = self.create_emb(m_spa, ln_emb)
            self.bot_l = self.create_mlp(ln_bot, sigmoid_bot)
            self.top_l = self.create_mlp(ln_top, sigmoid_top)

        def apply_mlp(self, x, layers):
            return layers(x)

        def apply_emb(self, lS_o, lS_i, emb_l):
            ly = []
            for k in range(len(lS_i)):
                sparse_index_group_batch = lS_i[k]
                sparse_offset_group_batch = lS_o[k]

                # embedding lookup
                E = emb_l[k]
                V = E(sparse_index_group_batch, sparse_offset_group_batch)

                ly.append(V)
            return ly

        def interact_features(self, x, ly):
            # arch_interaction_op == "dot"
            # concatenate dense and sparse features
            (batch_size, d) = x.shape
            T = torch.cat([x] + ly, dim=1).view((batch_size, -1, d))
            # perform a dot product
            Z = torch.bmm(T, torch.transpose(T, 1, 2))
            _, ni, nj = Z.shape
            # approach 2: custom
            offset = 1 if self.arch_interaction_itself else 0
            li = torch.tensor([i for i in range(ni) for j in range(i + offset)], device=x.device)
            lj = torch.tensor([j for i in range(nj) for j in range(i + offset)], device=x.device)
            Zflat = Z[:, li, lj]
            # concatenate dense features and interactions
            R = torch.cat([x] + [Zflat], dim=1)
            return R

        def forward(self, dense_x, lS_o, lS_i):
            # process dense features (using bottom mlp), resulting in a row vector
            x = self.apply_mlp(dense_x, self.bot_l)
            # process sparse features(using embeddings), resulting in a list of row vectors
            ly = self.apply_emb(lS_o, lS_i, self.emb_l)
            # interact features (dense and sparse)
            z = self.interact_features(x, ly)
            # obtain probability of a click (using top mlp)
            p = self.apply_mlp(z, self.top_l)

            # clamp output if needed
            if 0.0 < self.loss_threshold and self.loss_threshold < 1.0:
                z = torch.clamp(p, min=self.loss_threshold, max=(1.0 - self.loss_threshold))
            else:
                z = p

            return z

    class PackedDLRM(nn.Module):
        """model(x) with x = [dense | ids of table 0 | ... | ids of table 7]: hands DLRM_Net (X, lS_o, lS_i)."""

        def __init__(self, dlrm):
            super().__init__()
            self.dlrm = dlrm

        def forward(self, x):
            n = x.shape[0]
            dense_x = x[:, :M_DEN]
            ids = x[:, M_DEN:].round().long().view(n, N_TABLES, N_IDX)
            lS_i = [ids[:, k].reshape(-1) for k in range(N_TABLES)]
            lS_o = torch.stack([torch.arange(n, device=x.device) * N_IDX for _ in range(N_TABLES)])
            return self.dlrm(dense_x, lS_o, lS_i)

    torch.manual_seed(SEED)
    np.random.seed(SEED)
    ln_bot = np.fromstring(ARCH_MLP_BOT, dtype=int, sep="-")
    ln_emb = np.array([N_ROWS] * N_TABLES)
    num_fea = ln_emb.size + 1  # num sparse + num dense features
    m_den_out = ln_bot[ln_bot.size - 1]
    num_int = (num_fea * (num_fea - 1)) // 2 + m_den_out
    arch_mlp_top_adjusted = str(num_int) + "-" + ARCH_MLP_TOP
    ln_top = np.fromstring(arch_mlp_top_adjusted, dtype=int, sep="-")
    dlrm = DLRM_Net(M_SPA, ln_emb, ln_bot, ln_top, arch_interaction_op="dot", arch_interaction_itself=False,
                    sigmoid_bot=-1, sigmoid_top=-1, loss_threshold=0.0)
    model = PackedDLRM(dlrm)
    model.train()
    loss_fn = torch.nn.MSELoss(reduction="mean")
    optimizer = torch.optim.SGD(dlrm.parameters(), lr=LR)

    x, t = _data()
    xt, tt = torch.tensor(x), torch.tensor(t)
    n_tr = N_BATCHES * BATCH_SIZE
    batches = [(xt[i:i + BATCH_SIZE], tt[i:i + BATCH_SIZE]) for i in range(0, n_tr, BATCH_SIZE)]
    return {"model": model, "batch": batches[0], "batches": batches, "inputs": xt[n_tr:],
            "loss_fn": loss_fn, "optimizer": optimizer}


def buggy(framework: str) -> dict[str, Any]:
    return _build(fixed=False)


def fixed(framework: str) -> dict[str, Any]:
    return _build(fixed=True)
