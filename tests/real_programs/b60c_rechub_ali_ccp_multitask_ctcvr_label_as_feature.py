"""torch-rechub (``datawhalechina/torch-rechub``, a PyTorch library of recommender models), ``examples/ranking/
run_ali_ccp_multi_task.py``: the library's multi-task ranking example on Ali-CCP (Alibaba's click and conversion
prediction impressions). ``get_ali_ccp_data_dict`` reads the train / val / test CSVs, concatenates them, renames
``purchase`` -> ``cvr_label`` (task 1, "main task, purchase prediction") and ``click`` -> ``ctr_label`` (task 2,
"auxiliary task, click prediction"), adds ``data["ctcvr_label"] = data['cvr_label'] * data['ctr_label']`` (used as
a third label by ESMM), and builds the model inputs from the remaining columns: 8 min-max scaled dense columns
``D109_14 .. D853`` as ``DenseFeature`` and every other column as ``SparseFeature(col, data[col].max() + 1,
embed_dim=4)``. The default model (``--model_name SharedBottom``) is ``SharedBottom(features, task_types,
bottom_params={"dims": [117]}, tower_params_list=[{"dims": [8]}, {"dims": [8]}])`` -- the sparse embeddings
flattened and concatenated with the dense values, a shared ``MLP`` (Linear -> BatchNorm1d -> ReLU -> Dropout(0)) of
117 units, one tower per task (Linear(117, 8) -> BatchNorm1d -> ReLU -> Dropout(0) -> Linear(8, 1)) and a sigmoid
``PredictionLayer`` each -- trained by ``MTLTrainer`` (Adam, ``lr=1e-3``, ``weight_decay=1e-4``, ``BCELoss`` per
task, ``loss = sum(loss_list) / n_task``) on shuffled batches of 1024, with test AUC per task as the result.

The fault (target leakage): the sparse columns are picked as ``[col for col in col_names if col not in dense_cols
and col not in ['cvr_label', 'ctr_label']]`` -- ``ctcvr_label``, built from the two labels one line earlier, is not
excluded, so it becomes a 2-valued ``SparseFeature`` of every model's input. Ali-CCP's preprocessing
(``preprocess_ali_ccp.py``) drops the impressions with ``click == 0 and purchase == 1``, so ``ctcvr_label`` equals
``cvr_label`` on every row: the model reads the main task's target among its inputs (and, for click, ``ctcvr == 1``
implies ``ctr_label == 1``). Training fits the purchase target through that one embedding, the reported test AUC is
inflated (the test rows carry their labels too), and a model served without the label column has learned little
from the real features. The same line was in ``run_census.py`` (there ``ctcvr_label`` = income x never-married).
Fix: commit 6687be326551a544bf0a8a578b7e9c553c921007 "Fix bugs that ctcvr_label exists in training features, and
some other little problems." (PR #28, merge c246a82): ``... and col not in ['cvr_label', 'ctr_label',
'ctcvr_label']`` in both examples; 30f55851ef0448527131cf67458c0e3a1e074f82 later made the same fix in
``tutorials/Multi_Task.ipynb``.

Source: github.com/datawhalechina/torch-rechub ``examples/ranking/run_ali_ccp_multi_task.py`` at d6b7c0a9 (= 6687be3^)
(``get_ali_ccp_data_dict``, ``main``, argparse defaults ``model_name='SharedBottom'``, ``learning_rate=1e-3``,
``batch_size=1024``, ``weight_decay=1e-4``, ``seed=2022``), ``torch_rechub/models/multi_task/shared_bottom.py``
SharedBottom, ``torch_rechub/basic/layers.py`` MLP / EmbeddingLayer / PredictionLayer, ``torch_rechub/basic/
features.py`` SparseFeature (initializer ``RandomNormal(0, 0.0001)``) / DenseFeature, ``torch_rechub/trainers/
mtl_trainer.py`` MTLTrainer.train_one_epoch, ``torch_rechub/utils/data.py`` DataGenerator (``shuffle=True``) /
get_loss_func (``BCELoss``), ``examples/ranking/data/ali-ccp/preprocess_ali_ccp.py``; fix 6687be3 (PR #28).
Fault label: target_leakage (an input feature is a copy of the target the model is trained to predict).

Program lines kept: the label renaming and ``ctcvr_label = cvr_label * ctr_label``; the buggy / fixed
``sparse_cols`` list; ``dense_cols``; ``label_cols = ['cvr_label', 'ctr_label']``; ``SparseFeature(col,
data[col].max() + 1, embed_dim=4)`` with torch-rechub's N(0, 1e-4) embedding init; SharedBottom's layout (bottom
[117], towers [8] + Linear(8, 1), BatchNorm1d + ReLU after each hidden Linear, dropout 0, sigmoid heads) and the
sparse-then-dense concatenation order of ``EmbeddingLayer(squeeze_dim=True)``; Adam(lr 1e-3, weight_decay 1e-4);
BCELoss per task averaged over the two tasks; batch size 1024, shuffled.
Ported: the library's feature dicts -> one float32 matrix per batch whose columns are the model's features in
order (23 sparse codes, buggy also ``ctcvr_label``, then the 8 dense values); the model casts the sparse columns to
integers for the embedding lookups like ``x[fea.name].long()``. ``sum(BCELoss(task)) / 2`` is the plain
``nn.BCELoss()`` mean over the (batch, 2) outputs (identical value), given as ``loss_fn``. Keras: the same network
as a ``keras.Model`` subclass (torch's default Linear init as ``VarianceScaling(1/3, fan_in, uniform)`` and
U(+-1/sqrt(fan_in)) biases, ``BatchNormalization(momentum=0.9, epsilon=1e-5)`` = torch's BN), binary
cross-entropy, and torch Adam's coupled ``weight_decay=1e-4`` as L2 regularisers of 5e-5 on every weight (gradient
1e-4 * w, the same update direction; Keras' own ``Adam(weight_decay=)`` is decoupled). Shrunk: the vocabularies
(Ali-CCP's filtered id fields have up to ~10^5-10^6 values; here at most 4,000), and the data (8,192 training
rows, 8 batches, and 2,048 held-out rows instead of ~42 M impressions). The fault is in the data handling, so it
exists in both frameworks.
Data stand-in (no download): ``ali_ccp_like(n)`` -- seeded synthetic impressions with Ali-CCP's column layout:
user-side fields 101 (user id), 121-129 (profile), 109_14 / 110_14 / 127_14 / 150_14 (behaviour categories), a
scenario field 301, item-side fields 205 (item id), 206 (category), 207 (shop), 210 (intention node), 216 (brand),
user x item cross fields 508 / 509 / 702 / 853 (0 = no history) with their min-max scaled dense values
D508 / D509 / D702 / D853, and user dense values D109_14 .. D150_14; code 0 is the "filtered rare value" id as in
the preprocessing. Clicks come from user / item biases, a user-item taste dot product and the cross-field
history (~6 % positives, the bundled ``ali_ccp_*_sample.csv`` have 6.0 %); purchases only among clicks, from item
quality and the history values (~1.5 % of impressions, the samples have 1.5 %; the full Ali-CCP has ~3.9 % / ~0.02
%). ``batch`` / ``batches``: the first shuffled training batches of 1024 (x, y = [cvr_label, ctr_label]);
``inputs``: the 2,048 held-out rows (buggy: with their ``ctcvr_label`` column, as the program's test split has).

Measured (my own plain loops, /tmp/s42/h_b60c_rechub/measure.py; OMP_NUM_THREADS=1; the module's builds and data; 8
batches x 8 epochs = 64 steps, torch ``optimizer`` / Keras ``train_on_batch``; held-out AUC in eval mode; "served"
= the same held-out rows with the label column set to 0, as a request without the label would carry):
  torch, held-out AUC (cvr / ctr) at init and after epochs 1 / 2 / 4 / 8 (steps 8 / 16 / 32 / 64):
    buggy: 0.50 / 0.49, 0.66 / 0.55, 0.78 / 0.58, 0.991 / 0.72, 1.000 / 0.67; served: cvr 0.60 / 0.63 / 0.54 /
      0.60 after epochs 1 / 2 / 4 / 8 (ctr 0.54 / 0.56 / 0.62 / 0.55).
    fixed: 0.47 / 0.43, 0.54 / 0.48, 0.56 / 0.54, 0.60 / 0.58, 0.60 / 0.60.
    Training loss at steps 1 / 8 / 16 / 32 / 64: buggy 0.824 / 0.783 / 0.747 / 0.678 / 0.544, fixed 0.715 / 0.675 /
    0.638 / 0.579 / 0.482 (the sigmoid heads start far from the base rates; the leak lowers only the small cvr
    term, so the curves look alike). One batch of 1024 repeated, loss at steps 1 / 25 / 50 / 100 / 200: buggy 0.824 /
    0.624 / 0.541 / 0.456 / 0.307, fixed 0.715 / 0.536 / 0.457 / 0.365 / 0.234 (both fit it).
  Keras: held-out AUC (cvr / ctr) init, epochs 1 / 2 / 4 / 8: buggy 0.60 / 0.56, 0.55 / 0.53, 0.76 / 0.56, 0.976 /
    0.67, 1.000 / 0.66, served cvr 0.52 / 0.57 / 0.61 / 0.57; fixed 0.50 / 0.52, 0.56 / 0.49, 0.59 / 0.50, 0.59 /
    0.54, 0.60 / 0.59. Training loss steps 1 / 8 / 16 / 32 / 64: buggy 0.780 / 0.730 / 0.693 / 0.619 / 0.481, fixed
    0.790 / 0.759 / 0.725 / 0.668 / 0.575; one batch repeated: buggy 0.780 -> 0.250, fixed 0.790 -> 0.297 at step 200.
  So the symptom is the leak itself: the purchase task's held-out AUC goes to 1.000 within 32-64 steps in both
    frameworks (the fixed model, reading only the real features, reaches 0.60), and the same buggy model scored
    without the label column falls back to 0.54-0.61 -- what it learned about purchases sits in the
    ``ctcvr_label`` embedding. Losses, gradients and output ranges look normal in both versions.
  Time per step (batch 1024, one thread, loaded machine): torch 15-23 ms, Keras ``train_on_batch`` 11-16 ms;
    building the data once ~0.2 s.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from tests.real_programs._versions import versions

LABEL = "target_leakage"
SOURCE = ("github:datawhalechina/torch-rechub examples/ranking/run_ali_ccp_multi_task.py get_ali_ccp_data_dict "
          "'sparse_cols = [col for col in col_names if col not in dense_cols and col not in [\"cvr_label\", "
          "\"ctr_label\"]]' after 'data[\"ctcvr_label\"] = data[\"cvr_label\"] * data[\"ctr_label\"]' "
          "@d6b7c0a935e472dff5811e216fe9cbf2bb52763c (= 6687be3^ = c246a82^1; same in examples/ranking/run_census.py), "
          "torch_rechub/models/multi_task/shared_bottom.py, basic/layers.py MLP/EmbeddingLayer, "
          "trainers/mtl_trainer.py, examples/ranking/data/ali-ccp/preprocess_ali_ccp.py; fix "
          "6687be326551a544bf0a8a578b7e9c553c921007 'Fix bugs that ctcvr_label exists in training features' "
          "(PR #28; tutorial fixed in 30f55851)")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("overfit_one_batch", {}), ("loss_decreases", {}), ("gradients_flow", {}),
          ("output_range", {"kind": "sigmoid"}), ("init_loss", {})]

# run_ali_ccp_multi_task.py argparse defaults
LEARNING_RATE = 1e-3
BATCH_SIZE = 1024
WEIGHT_DECAY = 1e-4
SEED = 2022
EMBED_DIM = 4  # SparseFeature(col, data[col].max() + 1, embed_dim=4)
BOTTOM_DIMS = [117]  # bottom_params={"dims": [117]}
TOWER_DIMS = [8]  # tower_params_list=[{"dims": [8]}, {"dims": [8]}]
N_TASKS = 2

# preprocess_ali_ccp.py column layout (sparse ids, then 'D' + dense column)
SPARSE_COLUMNS = ("101", "121", "122", "124", "125", "126", "127", "128", "129", "205", "206", "207", "210", "216",
                  "508", "509", "702", "853", "301", "109_14", "110_14", "127_14", "150_14")
DENSE_COLS = ("D109_14", "D110_14", "D127_14", "D150_14", "D508", "D509", "D702", "D853")
# stand-in vocabularies (ids 1..n, 0 = filtered rare value); shrunk from Ali-CCP's
VOCAB = {"101": 2000, "121": 97, "122": 13, "124": 2, "125": 7, "126": 3, "127": 3, "128": 2, "129": 4,
         "205": 4000, "206": 300, "207": 1500, "210": 1500, "216": 800, "508": 600, "509": 600, "702": 600,
         "853": 600, "301": 3, "109_14": 800, "110_14": 800, "127_14": 800, "150_14": 800}
N_USERS, N_ITEMS = VOCAB["101"], VOCAB["205"]
N_TRAIN_BATCHES = 8
N_TRAIN = N_TRAIN_BATCHES * BATCH_SIZE
N_TEST = 2048
N_BATCHES = 4  # batches handed to the checks


# ------------------------------------------------------------------------------------------------------------ data

def ali_ccp_like(n: int, seed: int) -> dict[str, np.ndarray]:
    """Stand-in for rows of ``ali_ccp_{train,val,test}.csv`` after ``preprocess_ali_ccp.py``: columns ``click``,
    ``purchase`` (purchase only after a click), the 23 sparse id columns and the 8 dense columns in [0, 1]."""
    world = np.random.default_rng(7)  # the fixed users and items
    u_prof = {c: world.integers(1, VOCAB[c] + 1, N_USERS) for c in ("121", "122", "124", "125", "126", "127",
                                                                      "128", "129")}
    u_beh = {c: world.integers(0, VOCAB[c] + 1, N_USERS) for c in ("109_14", "110_14", "127_14", "150_14")}
    u_dense = world.beta(2.0, 5.0, (N_USERS, 4))
    i_cat = world.integers(1, VOCAB["206"] + 1, N_ITEMS)
    i_shop = world.integers(1, VOCAB["207"] + 1, N_ITEMS)
    i_node = world.integers(1, VOCAB["210"] + 1, N_ITEMS)
    i_brand = world.integers(1, VOCAB["216"] + 1, N_ITEMS)
    u_bias, i_bias = world.normal(0, 0.7, N_USERS), world.normal(0, 0.7, N_ITEMS)
    u_vec, i_vec = world.normal(0, 0.5, (N_USERS, 4)), world.normal(0, 0.5, (N_ITEMS, 4))
    i_quality = world.normal(0, 1.0, N_ITEMS)
    age_pref = world.normal(0, 0.5, (VOCAB["122"] + 1,))
    pop = 1.0 / np.arange(1, N_ITEMS + 1) ** 0.7
    pop /= pop.sum()

    r = np.random.default_rng(seed)
    u = r.integers(0, N_USERS, n)
    i = r.choice(N_ITEMS, n, p=pop)
    cols: dict[str, np.ndarray] = {"101": u + 1}
    for c, v in u_prof.items():
        cols[c] = v[u]
    cols["205"], cols["206"], cols["207"], cols["210"], cols["216"] = i + 1, i_cat[i], i_shop[i], i_node[i], i_brand[i]
    hist = {}
    for c, item_field in (("508", i_cat), ("509", i_shop), ("702", i_brand), ("853", i_node)):
        has = r.random(n) < 0.35 + 0.1 * np.tanh(u_bias[u])  # the user has a history with this category / shop ...
        cols[c] = np.where(has, 1 + (u * 31 + item_field[i]) % VOCAB[c], 0)
        hist[c] = np.where(has, r.beta(1.5, 6.0, n), 0.0)
    cols["301"] = r.integers(1, VOCAB["301"] + 1, n)
    for c, v in u_beh.items():
        cols[c] = v[u]
    for k, c in enumerate(("D109_14", "D110_14", "D127_14", "D150_14")):
        cols[c] = np.round(u_dense[u, k], 4)
    for c in ("508", "509", "702", "853"):
        cols["D" + c] = np.round(hist[c], 4)
    click_logit = (-4.1 + u_bias[u] + i_bias[i] + (u_vec[u] * i_vec[i]).sum(1) * 2.0 + age_pref[cols["122"]]
                   + 2.5 * hist["508"] + 1.5 * hist["509"] + 0.3 * (cols["301"] == 1) + r.normal(0, 0.5, n))
    click = (r.random(n) < 1 / (1 + np.exp(-click_logit))).astype(np.int64)
    buy_logit = -2.6 + 1.2 * i_quality[i] + 4.0 * hist["702"] + 3.0 * u_dense[u, 0] + r.normal(0, 0.5, n)
    purchase = click * (r.random(n) < 1 / (1 + np.exp(-buy_logit))).astype(np.int64)
    out = {"click": click, "purchase": purchase}
    out.update({c: cols[c].astype(np.int64) for c in SPARSE_COLUMNS})
    out.update({c: cols[c].astype(np.float64) for c in DENSE_COLS})
    return out


@functools.lru_cache(maxsize=2)
def get_ali_ccp_data_dict(fixed: bool) -> tuple[tuple[str, ...], dict[str, int], np.ndarray, np.ndarray,
                                                 np.ndarray, np.ndarray]:
    """``get_ali_ccp_data_dict`` for the non-ESMM models: the sparse column names, their vocabulary sizes
    (``data[col].max() + 1``), and x (rows: the sparse codes then the dense values, float32) / y ([cvr, ctr])
    for the training and held-out rows."""
    train, test = ali_ccp_like(N_TRAIN, seed=1), ali_ccp_like(N_TEST, seed=2)
    data = {k: np.concatenate([train[k], test[k]]) for k in train}
    # task 1 (as cvr): main task, purchase prediction / task 2 (as ctr): auxiliary task, click prediction
    data["cvr_label"], data["ctr_label"] = data.pop("purchase"), data.pop("click")
    data["ctcvr_label"] = data["cvr_label"] * data["ctr_label"]
    col_names = [*SPARSE_COLUMNS, *DENSE_COLS, "cvr_label", "ctr_label", "ctcvr_label"]
    dense_cols = list(DENSE_COLS)
    if fixed:  # 6687be3
        sparse_cols = [col for col in col_names if col not in dense_cols and col not in ['cvr_label', 'ctr_label',
                                                                                        'ctcvr_label']]
    else:
        sparse_cols = [col for col in col_names if col not in dense_cols and col not in ['cvr_label', 'ctr_label']]
    label_cols = ['cvr_label', 'ctr_label']
    vocab = {col: int(data[col].max()) + 1 for col in sparse_cols}
    used_cols = sparse_cols + dense_cols
    x = np.stack([data[c] for c in used_cols], 1).astype("float32")
    y = np.stack([data[c] for c in label_cols], 1).astype("float32")
    return tuple(sparse_cols), vocab, x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:]


def _batches(fixed: bool) -> list[tuple[np.ndarray, np.ndarray]]:
    """DataLoader(shuffle=True, batch_size=1024): the first epoch's batches."""
    _, _, x, y, _, _ = get_ali_ccp_data_dict(fixed)
    perm = np.random.default_rng(SEED).permutation(len(x))
    x, y = x[perm], y[perm]
    return [(x[k:k + BATCH_SIZE], y[k:k + BATCH_SIZE]) for k in range(0, N_BATCHES * BATCH_SIZE, BATCH_SIZE)]


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    from torch import nn

    torch.manual_seed(SEED)
    sparse_cols, vocab, _, _, x_test, _ = get_ali_ccp_data_dict(fixed)
    n_sparse, n_dense = len(sparse_cols), len(DENSE_COLS)

    def mlp(input_dim: int, output_layer: bool, dims: list[int]) -> nn.Module:  # basic/layers.py MLP, dropout=0
        layers: list[nn.Module] = []
        for i_dim in dims:
            layers += [nn.Linear(input_dim, i_dim), nn.BatchNorm1d(i_dim), nn.ReLU(inplace=True), nn.Dropout(p=0)]
            input_dim = i_dim
        if output_layer:
            layers.append(nn.Linear(input_dim, 1))
        return nn.Sequential(*layers)

    class SharedBottom(nn.Module):

        def __init__(self):
            super().__init__()
            self.embed_dict = nn.ModuleDict()
            for col in sparse_cols:  # SparseFeature(..., initializer=RandomNormal(0, 0.0001))
                embed = nn.Embedding(vocab[col], EMBED_DIM)
                nn.init.normal_(embed.weight, 0.0, 0.0001)
                self.embed_dict[col] = embed
            self.bottom_dims = n_sparse * EMBED_DIM + n_dense
            self.bottom_mlp = mlp(self.bottom_dims, False, BOTTOM_DIMS)
            self.towers = nn.ModuleList(mlp(BOTTOM_DIMS[-1], True, TOWER_DIMS) for _ in range(N_TASKS))

        def forward(self, x):
            # EmbeddingLayer(x, features, squeeze_dim=True): sparse embeddings flattened, then the dense values
            sparse_emb = [self.embed_dict[c](x[:, k].long()).unsqueeze(1) for k, c in enumerate(sparse_cols)]
            input_bottom = torch.cat((torch.cat(sparse_emb, dim=1).flatten(start_dim=1), x[:, n_sparse:]), dim=1)
            x = self.bottom_mlp(input_bottom)
            ys = [torch.sigmoid(tower(x)) for tower in self.towers]  # PredictionLayer('classification')
            return torch.cat(ys, dim=1)

    model = SharedBottom()
    tb = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in _batches(fixed)]
    return {"model": model, "batch": tb[0], "batches": tb, "inputs": torch.from_numpy(x_test),
            "loss_fn": nn.BCELoss(),  # sum(BCELoss per task) / n_task
            "optimizer": lambda params: torch.optim.Adam(params, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(SEED)
    sparse_cols, vocab, _, _, x_test, _ = get_ali_ccp_data_dict(fixed)
    n_sparse = len(sparse_cols)
    reg = keras.regularizers.L2(WEIGHT_DECAY / 2)  # torch Adam's coupled weight_decay: grad += 1e-4 * w
    seeds = iter(range(1000))

    def dense(units: int, fan_in: int, activation: str | None = None) -> Any:  # torch nn.Linear default init
        b = 1.0 / np.sqrt(fan_in)
        return layers.Dense(units, activation=activation,
                            kernel_initializer=keras.initializers.VarianceScaling(1.0 / 3, "fan_in", "uniform",
                                                                                  seed=next(seeds)),
                            bias_initializer=keras.initializers.RandomUniform(-b, b, seed=next(seeds)),
                            kernel_regularizer=reg, bias_regularizer=reg)

    def bn() -> Any:  # torch BatchNorm1d
        return layers.BatchNormalization(momentum=0.9, epsilon=1e-5, gamma_regularizer=reg, beta_regularizer=reg)

    class SharedBottom(keras.Model):

        def __init__(self):
            super().__init__()
            self.embeds = [layers.Embedding(vocab[c], EMBED_DIM, embeddings_regularizer=reg,
                                            embeddings_initializer=keras.initializers.RandomNormal(
                                                0.0, 0.0001, seed=next(seeds)))
                           for c in sparse_cols]
            in_dim = n_sparse * EMBED_DIM + len(DENSE_COLS)
            self.bottom = [dense(BOTTOM_DIMS[0], in_dim), bn(), layers.ReLU()]
            self.towers = [[dense(TOWER_DIMS[0], BOTTOM_DIMS[0]), bn(), layers.ReLU(),
                            dense(1, TOWER_DIMS[0], activation="sigmoid")] for _ in range(N_TASKS)]

        def call(self, x, training=None):
            codes = ops.cast(x[:, :n_sparse], "int32")
            emb = [e(codes[:, k]) for k, e in enumerate(self.embeds)]
            h = ops.concatenate([*emb, x[:, n_sparse:]], axis=1)
            for layer in self.bottom:
                h = layer(h, training=training) if isinstance(layer, layers.BatchNormalization) else layer(h)
            ys = []
            for tower in self.towers:
                t = h
                for layer in tower:
                    t = layer(t, training=training) if isinstance(layer, layers.BatchNormalization) else layer(t)
                ys.append(t)
            return ops.concatenate(ys, axis=1)

    model = SharedBottom()
    bs = _batches(fixed)
    model(bs[0][0][:2])  # build
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, epsilon=1e-8),
                  loss=keras.losses.BinaryCrossentropy())
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": x_test}


buggy, fixed = versions(_torch, _keras)
