"""deepchem/deepchem ``examples/kaggle``: a TensorFlow multitask regressor on the Merck Molecular Activity Challenge
(Kaggle) table, 15 assays of raw activity values (each in its own units), molecules described by 14293 integer
atom-pair / donor-acceptor descriptor counts. ``kaggle_datasets.py`` ``load_kaggle`` featurizes the train / valid /
test csv files, drops empty rows, then builds ``transformers = [dc.trans.LogTransformer(transform_X=True),
dc.trans.NormalizationTransformer(transform_y=True, dataset=train_dataset)]`` (log(X + 1) on the counts; every task
standardised with the training set's mean and std) and applies them; ``KAGGLE_tf_model.py`` trains
``dc.models.TensorflowMultiTaskRegressor(15, n_features, layer_sizes=[1000]*3, dropouts=[.25]*3,
weight_init_stddevs=[.02]*3, bias_init_consts=[1.]*3, learning_rate=.0003, penalty=.0001, penalty_type="l2",
optimizer="adam", batch_size=100)`` for 300 epochs and reports the task-averaged Pearson r2 after undoing the
transformers on the predictions.

The fault (the preprocessing is computed and thrown away): ``Transformer.transform(dataset)`` returns a NEW dataset
(``DiskDataset.transform`` writes the transformed shards to a fresh directory and leaves the input untouched), but
the loader ran

    for transformer in transformers:
      ...
      for dataset in [train_dataset, valid_dataset, test_dataset]:
        print("Transforming dataset")
        transformer.transform(dataset)

and discarded every result. The network therefore trains on the raw targets, whose scales differ by two orders of
magnitude between assays (potencies in -log10 units with a std near 1, a percentage with a std near 30), and on the
raw, long-tailed counts instead of log(1 + count). With the summed squared error over the 15 tasks, the
percent-scale assay and the offsets of the others (targets 5-8 against outputs that start near 0.9 +- 0.7) dominate
the loss and the shared layers: the other 14 tasks are barely learnt. Evaluation then "undoes" a normalisation that
was never applied. The author had flagged it in the code ("# TODO(rbharath): Is this a bug in the Kaggle data
transformation?"); fixed in e7d46be406a606048940133a8e58062d746cdb96 ("Fixed transformations on chembl and kaggle
datasets"), which keeps the returned datasets: ``train_dataset = transformer.transform(train_dataset)`` (same for
valid and test) and drops the TODO.

Source: github.com/deepchem/deepchem ``examples/kaggle/kaggle_datasets.py`` and ``examples/kaggle/KAGGLE_tf_model.py``
at 0922508388c77a57995e990ac96d8d3e73646748 (= e7d46be^), with ``deepchem/models/tensorflow_models/fcnet.py``
(TensorflowMultiTaskRegressor.build), ``deepchem/models/tensorflow_models/__init__.py`` (TensorflowRegressor.cost,
add_training_cost, get_training_op), ``deepchem/nn/model_ops.py`` (fully_connected_layer, dropout, weight_decay,
optimizer), ``deepchem/trans/transformers.py`` and ``deepchem/data/datasets.py`` of that commit; fix
e7d46be406a606048940133a8e58062d746cdb96 (the same commit fixed the chembl loader's copy of the loop).
Fault label: targets_not_normalized|inputs_not_normalized (the y standardisation and the log of the descriptor
counts are computed but never applied; the target scale is what hurts most, see the ablation below).

Program lines kept: the transformer list and both loops verbatim (buggy: the loop that drops ``transform``'s
result; fixed: the three assignments of e7d46be), over minimal stand-ins of ``LogTransformer``,
``NormalizationTransformer`` (statistics of the raw training y, population std, zero std -> 1, ``nan_to_num``) and a
dataset whose ``transform`` returns a new object, as deepchem's does; the model as fcnet.py builds it: 3 x
[fully_connected_layer(1000) with a tf.truncated_normal(stddev=.02) kernel (cut at 2 std) and constant 1.0 bias,
ReLU, dropout .25], then one (1000 -> 1) layer per task with the same init (the loop's last ``i`` indexes the init
lists), here the 15 side by side as one (1000 -> 15) layer; the loss of TensorflowRegressor / add_training_cost:
sum over tasks of reduce_sum(0.5 * (output - label) ** 2 * weight) / batch_size, plus penalty * sum over the 2-D
weight matrices of tf.nn.l2_loss (sum(w ** 2) / 2; biases excluded); tf.train.AdamOptimizer(.0003) (beta .9 / .999,
epsilon 1e-8); batch 100. Buggy and fixed differ only in the transformer loop.
Shrunk / replaced: the descriptor width 14293 -> 1024 (the first layer alone would be 14.3 M weights, far past a few
seconds per hundred steps on one core); hidden widths kept at 1000. TF1 graph code -> a torch module and a Keras 3
Sequential (Dense with TruncatedNormal(stddev=.02) / Constant(1.) and kernel_regularizer L2(penalty / 2) = penalty *
l2_loss; loss ``weighted_l2_cost`` = per molecule sum over tasks of 0.5 * squared error, which Keras averages over
the batch = the program's reduce_sum / batch_size for full batches). In the Kaggle table most (molecule, assay) cells
are empty and carry weight 0; the stand-in measures every molecule on every assay, so all weights are 1 and the
labels are the plain (batch, 15) targets (torch's loss_fn keeps the all-ones weight). The test split is built and
transformed (to keep the loop as written) but not returned; ``sparse_shuffle`` is left out (the stand-in rows are
i.i.d.).
Data stand-in (no download of the three KAGGLE_*_disguised_combined_full.csv.gz files): seeded synthetic Merck-like
rows. Each molecule has a latent 8-d chemotype; descriptor j is present with a logistic probability of it (19 % of
cells non-zero), and a present descriptor counts 1 + Poisson(mean exp(N(0.2, 1))) -> float64 integer counts 0..60,
row sums about 590. Targets: a fixed random 32-unit tanh layer of the standardised log(1 + counts), a random
mixing per assay, standardised, plus noise (signal r2 about 0.8), then put on each assay's raw scale (assumed, the
challenge does not publish units per file): 3A4 4.8 +- 0.6, CB1 7.0 +- 1.2, DPP4 6.3 +- 1.3, HIVINT 6.6 +- 0.9,
HIV_PROT 7.6 +- 1.5, LOGD 2.2 +- 1.2, METAB 45 +- 30 (percent remaining, clipped to 0..100), NK1 8.3 +- 0.8,
OX1 6.4 +- 1.2, OX2 7.0 +- 1.2, PGP 0.4 +- 0.6, PPB 1.6 +- 1.0, RAT_F 1.2 +- 0.6, TDI 0.3 +- 0.4, THROMBIN
6.0 +- 1.3. ``batches``: the 40 training batches of 100 (4,000 molecules) in order; ``batch`` the first;
``inputs``: the 256 validation molecules (x only), transformed or not as the version does. Buggy inputs are the raw
counts (0..60, mean 0.57, std 1.74), targets raw (-1.7..100); fixed inputs 0..4.1 (mean 0.23, std 0.53), targets
standardised (-4.1..4.0, std 1 per task).

Measured (my own plain loops, OMP_NUM_THREADS=1, the module's builds, seed 0, every epoch = the 40 batches in order,
dropout on; valid r2 = the program's metric, Pearson r2 per task on the 256 validation molecules averaged over the
15 tasks, invariant to each task's scale; /tmp/s56/p/b93b/measure.py):
  loss at init on batch 0: buggy 1622 (torch) / 1564 (Keras), fixed 18.0 / 18.1 (initial outputs
    0.9 +- 0.7 in both versions: about 15 tasks x 0.5 x (0.9^2 + 0.7^2 + 1) against standardised targets).
  valid r2 after epochs 1 / 2 / 5 / 10 / 20 (steps 40 ... 800):
    torch buggy  0.035 0.042 0.095 0.127 0.149   (METAB 0.51 at 20; the other 14 tasks 0.124)
    torch fixed  0.190 0.237 0.465 0.589 0.610   (METAB 0.62; the other 14 0.609)
    Keras buggy  0.038 0.043 0.101 0.091 0.153   (METAB 0.52; the other 14 0.127)
    Keras fixed  0.193 0.234 0.460 0.589 0.611   (METAB 0.64; the other 14 0.608)
  torch, 60 epochs (2,400 steps): buggy 0.150 at 40 and 0.153 at 60 (train loss still 17-32 and jumping), fixed
    0.604 / 0.595 (train loss 1.25 / 0.99; it starts to overfit the 4,000 molecules): the buggy run does not catch
    up, and of its 15 tasks only the large-scale METAB is learnt (r2 ~0.5).
  Mean train loss of the 20th epoch: torch buggy 29.0 (from 486 in epoch 1), fixed 1.89 (from 8.57); Keras 30.2 /
    1.91 (each in its own target units, so not comparable across versions).
  Ablation (torch, 20 epochs, /tmp/s56/p/b93b/ablation.py): only the log on X applied -> valid r2 0.138 (METAB
    0.61, others 0.104); only the y normalisation applied -> 0.539 (others 0.536); both (the fix) 0.610. The
    dropped target standardisation accounts for most of the damage, the raw counts for the rest.
  Time per step (batch 100, one thread, CPU time on a shared 2-core machine): ~40 ms torch, ~45 ms Keras
    (wall 75-95 ms there); first Keras build with the TensorFlow import ~10 s.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from tests.real_programs._versions import versions

LABEL = "targets_not_normalized|inputs_not_normalized"
SOURCE = ("github:deepchem/deepchem examples/kaggle/kaggle_datasets.py load_kaggle + "
          "examples/kaggle/KAGGLE_tf_model.py @0922508388c77a57995e990ac96d8d3e73646748 (= e7d46be^; loop "
          "'transformer.transform(dataset)' with the result dropped, under '# TODO(rbharath): Is this a bug in the "
          "Kaggle data transformation?'; deepchem/models/tensorflow_models/fcnet.py TensorflowMultiTaskRegressor, "
          "tensorflow_models/__init__.py, nn/model_ops.py, trans/transformers.py, data/datasets.py at the same "
          "commit); fix e7d46be406a606048940133a8e58062d746cdb96 'Fixed transformations on chembl and kaggle "
          "datasets': train_dataset = transformer.transform(train_dataset), ...")
FRAMEWORKS = ("torch", "keras")
CHECKS = [("inputs_normalized", {}), ("loss_decreases", {}), ("overfit_one_batch", {}),
          ("input_independent_baseline", {})]

# examples/kaggle/kaggle_datasets.py
KAGGLE_TASKS = ['3A4', 'CB1', 'DPP4', 'HIVINT', 'HIV_PROT', 'LOGD', 'METAB',
                'NK1', 'OX1', 'OX2', 'PGP', 'PPB', 'RAT_F', 'TDI',
                'THROMBIN']
# examples/kaggle/KAGGLE_tf_model.py
N_LAYERS = 3
LAYER_SIZES = [1000] * N_LAYERS
DROPOUTS = [.25] * N_LAYERS
WEIGHT_INIT_STDDEVS = [.02] * N_LAYERS
BIAS_INIT_CONSTS = [1.] * N_LAYERS
LEARNING_RATE = .0003
PENALTY = .0001  # penalty_type="l2": penalty * sum over weight matrices of tf.nn.l2_loss (= sum(w ** 2) / 2)
BATCH_SIZE = 100
# stand-in
N_FEATURES = 1024  # the program's table has 14293 descriptor columns
# assumed raw scale (mean, sd) of each assay: potencies in -log10 units, LOGD / PGP / PPB / RAT_F / TDI as log ratios,
# METAB as percent remaining (the challenge ships raw activities, 'measured in different units')
TASK_SCALES = {'3A4': (4.8, 0.6), 'CB1': (7.0, 1.2), 'DPP4': (6.3, 1.3), 'HIVINT': (6.6, 0.9),
               'HIV_PROT': (7.6, 1.5), 'LOGD': (2.2, 1.2), 'METAB': (45.0, 30.0), 'NK1': (8.3, 0.8),
               'OX1': (6.4, 1.2), 'OX2': (7.0, 1.2), 'PGP': (0.4, 0.6), 'PPB': (1.6, 1.0), 'RAT_F': (1.2, 0.6),
               'TDI': (0.3, 0.4), 'THROMBIN': (6.0, 1.3)}
N_BATCHES = 40
N_INPUTS = 256
SEED = 0


# ------------------------------------------------------------------------------------------- deepchem, trimmed

class _Dataset:
    """deepchem.data.Dataset as far as the loader uses it: ``transform`` builds a NEW dataset (datasets.py)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        self.X, self.y, self.w = X, y, w

    def transform(self, fn: Callable[..., Any]) -> "_Dataset":
        newx, newy, neww = fn(self.X, self.y, self.w)
        return _Dataset(newx, newy, neww)

    def get_statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """y means and (population) stds over every row, as Dataset.get_statistics(X_stats=False)."""
        return self.y.mean(0), self.y.std(0)


class _LogTransformer:
    """dc.trans.LogTransformer(transform_X=True): X -> log(X + 1)."""

    def transform(self, dataset: _Dataset) -> _Dataset:
        return dataset.transform(lambda X, y, w: (np.log(X + 1), y, w))


class _NormalizationTransformer:
    """dc.trans.NormalizationTransformer(transform_y=True, dataset=train_dataset)."""

    def __init__(self, dataset: _Dataset) -> None:
        y_means, y_stds = dataset.get_statistics()
        self.y_means = y_means
        y_stds = np.array(y_stds)
        y_stds[y_stds == 0] = 1.
        self.y_stds = y_stds

    def transform(self, dataset: _Dataset) -> _Dataset:
        return dataset.transform(lambda X, y, w: (X, np.nan_to_num((y - self.y_means) / self.y_stds), w))


# -------------------------------------------------------------------------------------------------------- data

@functools.lru_cache(maxsize=1)
def _raw() -> tuple[np.ndarray, np.ndarray]:
    """Merck-descriptor-like table: X (n, N_FEATURES) float64 non-negative integer counts of atom-pair descriptors
    (sparse, long-tailed), y (n, 15) raw activities in each assay's own units, determined by the descriptors."""
    r = np.random.default_rng(SEED)
    n = N_BATCHES * BATCH_SIZE + 2 * N_INPUTS
    z = r.normal(size=(n, 8))  # latent chemotype of each molecule
    logits = r.normal(-2.6, 0.9, N_FEATURES) + z @ r.normal(0, 0.8, (8, N_FEATURES))
    present = r.random((n, N_FEATURES)) < 1 / (1 + np.exp(-logits))
    lam = np.exp(r.normal(0.2, 1.0, N_FEATURES))
    X = present * (1 + r.poisson(lam * np.exp(0.25 * z[:, :1]), (n, N_FEATURES)))
    f = np.log1p(X)
    f = (f - f.mean(0)) / (f.std(0) + 1e-8)
    h = np.tanh(1.5 * f @ r.normal(0, 1, (N_FEATURES, 32)) / np.sqrt(N_FEATURES))
    s = h @ r.normal(0, 1, (32, len(KAGGLE_TASKS)))
    s = (s - s.mean(0)) / s.std(0)
    s = (s + 0.5 * r.normal(size=s.shape)) / np.sqrt(1.25)  # assay noise: best achievable r2 about 0.8
    mu = np.array([TASK_SCALES[t][0] for t in KAGGLE_TASKS])
    sd = np.array([TASK_SCALES[t][1] for t in KAGGLE_TASKS])
    y = mu + sd * s
    y[:, KAGGLE_TASKS.index('METAB')] = np.clip(y[:, KAGGLE_TASKS.index('METAB')], 0.0, 100.0)
    return X.astype("float64"), y


@functools.lru_cache(maxsize=2)
def _loaded(fixed: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """load_kaggle: the train / valid / test datasets, then the transformers."""
    X, y = _raw()
    n, m = N_BATCHES * BATCH_SIZE, N_BATCHES * BATCH_SIZE + N_INPUTS
    train_dataset = _Dataset(X[:n], y[:n], np.ones_like(y[:n]))
    valid_dataset = _Dataset(X[n:m], y[n:m], np.ones_like(y[n:m]))
    test_dataset = _Dataset(X[m:], y[m:], np.ones_like(y[m:]))
    transformers = [
        _LogTransformer(),
        _NormalizationTransformer(dataset=train_dataset)]
    if fixed:  # e7d46be: keep what transform returns
        for transformer in transformers:
            train_dataset = transformer.transform(train_dataset)
            valid_dataset = transformer.transform(valid_dataset)
            test_dataset = transformer.transform(test_dataset)
    else:  # the program: what transform returns is dropped
        for transformer in transformers:
            for dataset in [train_dataset, valid_dataset, test_dataset]:
                transformer.transform(dataset)
    return (train_dataset.X.astype("float32"), train_dataset.y.astype("float32"),
            valid_dataset.X.astype("float32"))


def _common(fixed: bool) -> dict[str, Any]:
    x, y, xv = _loaded(fixed)
    bs = [(x[i:i + BATCH_SIZE], y[i:i + BATCH_SIZE]) for i in range(0, len(x), BATCH_SIZE)]
    return {"batch": bs[0], "batches": bs, "inputs": xv}


# ----------------------------------------------------------------------------------------------------------- torch

def _torch(fixed: bool) -> dict[str, Any]:
    import torch
    import torch.nn as nn

    torch.manual_seed(SEED)

    def fully_connected_layer(n_in: int, n_out: int, stddev: float, bias: float) -> nn.Linear:
        layer = nn.Linear(n_in, n_out)  # tf.truncated_normal(stddev) kernel, tf.constant(bias) bias
        nn.init.trunc_normal_(layer.weight, std=stddev, a=-2 * stddev, b=2 * stddev)
        nn.init.constant_(layer.bias, bias)
        return layer

    class TensorflowMultiTaskRegressor(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            layers: list[nn.Module] = []
            prev_layer_size = N_FEATURES
            for i in range(N_LAYERS):
                layers += [fully_connected_layer(prev_layer_size, LAYER_SIZES[i], WEIGHT_INIT_STDDEVS[i],
                                                 BIAS_INIT_CONSTS[i]), nn.ReLU(), nn.Dropout(DROPOUTS[i])]
                prev_layer_size = LAYER_SIZES[i]
            self.body = nn.Sequential(*layers)
            # one (1000 -> 1) layer per task, side by side; i is the last hidden layer's index, as in fcnet.py
            self.output = fully_connected_layer(prev_layer_size, len(KAGGLE_TASKS), WEIGHT_INIT_STDDEVS[i],
                                                BIAS_INIT_CONSTS[i])

        def forward(self, x: Any) -> Any:
            return self.output(self.body(x))

    model = TensorflowMultiTaskRegressor()

    def loss_fn(output: Any, labels: Any) -> Any:
        weights = torch.ones_like(labels)  # every stand-in molecule is measured on every assay
        weighted_cost = 0.5 * (output - labels) ** 2 * weights
        loss = weighted_cost.sum() / BATCH_SIZE  # add_n over tasks of reduce_sum(cost) / batch_size
        penalty = sum((p ** 2).sum() / 2 for p in model.parameters() if p.dim() == 2)  # tf.nn.l2_loss
        return loss + PENALTY * penalty

    c = _common(fixed)
    t = torch.from_numpy
    bs = [(t(x), t(y)) for x, y in c["batches"]]
    return {"model": model, "batch": bs[0], "batches": bs, "inputs": t(c["inputs"]), "loss_fn": loss_fn,
            "optimizer": torch.optim.Adam(model.parameters(), lr=LEARNING_RATE, eps=1e-8)}


# ----------------------------------------------------------------------------------------------------------- keras

def _keras(fixed: bool) -> dict[str, Any]:
    import keras
    from keras import initializers, layers, ops, regularizers

    keras.utils.set_random_seed(SEED)

    def dense(size: int, stddev: float, bias: float, activation: str | None) -> Any:
        return layers.Dense(size, activation=activation,
                            kernel_initializer=initializers.TruncatedNormal(stddev=stddev),
                            bias_initializer=initializers.Constant(bias),
                            kernel_regularizer=regularizers.L2(PENALTY / 2))  # penalty * l2_loss(w)

    stack: list[Any] = [keras.Input(shape=(N_FEATURES,))]
    for i in range(N_LAYERS):
        stack += [dense(LAYER_SIZES[i], WEIGHT_INIT_STDDEVS[i], BIAS_INIT_CONSTS[i], "relu"),
                  layers.Dropout(DROPOUTS[i])]
    stack.append(dense(len(KAGGLE_TASKS), WEIGHT_INIT_STDDEVS[i], BIAS_INIT_CONSTS[i], None))
    model = keras.Sequential(stack)

    def weighted_l2_cost(labels: Any, output: Any) -> Any:
        # per molecule: sum over tasks of 0.5 * (output - label) ** 2; Keras averages it over the batch
        return ops.sum(0.5 * ops.square(output - labels), axis=-1)

    model.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE, epsilon=1e-8), loss=weighted_l2_cost)
    return {"model": model, **_common(fixed)}


buggy, fixed = versions(_torch, _keras)
